//! A copy killed with SIGKILL at any moment leaves every destination (`dir:`, `oci:`,
//! `oci-archive:`, `docker-archive:`, `docker://`, `containers-storage:`) either as it was or
//! holding the complete new image; an image already in the same layout, repository or store
//! stays intact; the same copy run again succeeds. Two copies writing different tags into one
//! `oci:` layout at once both land.
//!
//! The kill points are spread over the length of an unkilled copy of the same image (it
//! recompresses gzip layers to zstd, or decompresses them for docker-archive:, so the blob phase is long enough to land several kills
//! in it, and the last ones fall around the manifest and commit).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{parse_json, read, snapshot, Entry, Workspace};
use skopos_testimage::podman::PodmanStore;
use skopos_testimage::registry::{RegistryOptions, TestRegistry};
use skopos_testimage::ImageSpec;

/// How many times each destination is killed.
const KILLS: u32 = 10;

fn skopos_command(workspace: &Workspace, args: &[&str]) -> Command {
    let binary = std::env::var_os("SKOPOS_UNDER_TEST")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_skopos").into());
    let mut command = Command::new(binary);
    command
        .args(args)
        .current_dir(workspace.path(""))
        .env("HOME", workspace.path("home-skopos"))
        // The blob-info cache in the temp dir, not in /var/lib/containers (see common).
        .env("_CONTAINERS_ROOTLESS_UID", "1000")
        .env("XDG_DATA_HOME", workspace.path("home-skopos/data"))
        .env("TMPDIR", workspace.path(""))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// The copy's arguments, with the destination. docker-archive: stores layers uncompressed
/// and, as skopeo 1.22.2, refuses a zstd request (Docker manifests cannot describe zstd).
fn copy_args(destination: &str) -> Vec<String> {
    let mut args = vec!["--insecure-policy", "copy", "-q"];
    if destination.starts_with("docker://") {
        args.push("--dest-tls-verify=false");
    }
    // skopeo 1.22.2 refuses zstd into docker-archive: (its manifests cannot describe it).
    if !destination.starts_with("docker-archive:") {
        args.extend(["--dest-compress-format", "zstd"]);
    }
    args.extend(["oci:src:new", destination]);
    args.iter().map(|s| s.to_string()).collect()
}

/// `copy SOURCE DESTINATION`, which must succeed (setting a destination up, reading it back).
fn copy_quietly(workspace: &Workspace, source: &str, destination: &str) {
    let output = skopos_command(
        workspace,
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            source,
            destination,
        ],
    )
    .stderr(Stdio::piped())
    .output()
    .expect("running skopos");
    assert!(
        output.status.success(),
        "copy {source} {destination} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn run_to_end(workspace: &Workspace, destination: &str) -> Duration {
    let args = copy_args(destination);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let output = skopos_command(workspace, &args)
        .stderr(Stdio::piped())
        .output()
        .expect("running skopos");
    assert!(
        output.status.success(),
        "copy to {destination} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    started.elapsed()
}

/// Start the copy, kill it after `delay`; whether it had finished first.
fn run_and_kill(workspace: &Workspace, destination: &str, delay: Duration) -> bool {
    let args = copy_args(destination);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = skopos_command(workspace, &args)
        .spawn()
        .expect("starting skopos");
    std::thread::sleep(delay);
    let finished = matches!(child.try_wait(), Ok(Some(_)));
    let _ = child.kill();
    let _ = child.wait();
    finished
}

/// What a destination holds, as far as a reader of it can tell: the image files, without
/// skopos's staging entries (names starting with `.skopos` or `.tmp`) that a killed process
/// could not remove, and which the next writer removes or ignores.
fn visible(root: &Path) -> BTreeMap<String, Entry> {
    snapshot(root)
        .into_iter()
        .filter(|(name, _)| {
            !name
                .split('/')
                .any(|part| part.starts_with(".skopos") || part.starts_with(".tmp"))
        })
        .collect()
}

/// A dir: image's state as a reader sees it: `manifest.json`, `version`, the signatures,
/// and the files the manifest names (and those name), not files no manifest names (a
/// killed copy may leave some, which the next copy into the directory removes). A named
/// file that is missing shows as such.
fn dir_image(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "version" || name.starts_with("signature-") || name.contains(".signature-") {
            out.insert(name, std::fs::read(entry.path()).ok());
        }
    }
    let mut pending = vec![("manifest.json".to_string(), true)];
    while let Some((name, is_manifest)) = pending.pop() {
        let bytes = std::fs::read(dir.join(&name)).ok();
        if is_manifest {
            if let Some(json) = bytes
                .as_deref()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            {
                let hex = |d: &serde_json::Value| {
                    d["digest"]
                        .as_str()
                        .map(|d| d.trim_start_matches("sha256:").to_string())
                };
                for d in json["manifests"].as_array().into_iter().flatten() {
                    pending.extend(hex(d).map(|h| (format!("{h}.manifest.json"), true)));
                }
                for d in json["layers"].as_array().into_iter().flatten() {
                    pending.extend(hex(d).map(|h| (h, false)));
                }
                pending.extend(hex(&json["config"]).map(|h| (h, false)));
            }
        }
        out.insert(name, bytes);
    }
    out
}

/// An oci: layout's state as a reader sees it: index.json and the blobs it references
/// (and those reference), not blobs no index names yet.
fn referenced(layout: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let index = read(&layout.join("index.json"));
    let mut pending: Vec<String> = parse_json(&index)["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["digest"].as_str().map(str::to_string))
        .collect();
    out.insert("index.json".to_string(), index);
    while let Some(digest) = pending.pop() {
        let path = layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"));
        let bytes = read(&path);
        if let Ok(json) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            for key in ["layers", "manifests"] {
                for d in json[key].as_array().into_iter().flatten() {
                    pending.extend(d["digest"].as_str().map(str::to_string));
                }
            }
            pending.extend(json["config"]["digest"].as_str().map(str::to_string));
        }
        out.insert(digest, bytes);
    }
    out
}

/// `inspect --raw` of `reference`: the manifest a reader gets, or `None` when there is none.
fn raw_manifest(workspace: &Workspace, reference: &str) -> Option<Vec<u8>> {
    let output = skopos_command(
        workspace,
        &["inspect", "--raw", "--tls-verify=false", reference],
    )
    .stdout(Stdio::piped())
    .output()
    .expect("running skopos");
    output.status.success().then_some(output.stdout)
}

/// An archive's members and their contents (tar headers carry the time of writing, which
/// differs between two runs of the same copy).
fn archive_members(archive: &Path) -> BTreeMap<String, Vec<u8>> {
    let bytes = read(archive);
    let mut members = BTreeMap::new();
    let mut tar = tar::Archive::new(bytes.as_slice());
    for entry in tar.entries().expect("reading the archive") {
        let mut entry = entry.expect("reading an archive member");
        let name = entry
            .path()
            .expect("a member name")
            .to_string_lossy()
            .into_owned();
        let mut contents = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut contents).expect("reading a member");
        members.insert(name, contents);
    }
    members
}

/// The states a destination may be in after a kill: before, or with the new image.
struct Outcomes<T> {
    before: T,
    after: T,
}

fn check_kills<T: PartialEq + std::fmt::Debug>(
    workspace: &Workspace,
    destination: &str,
    reset: &dyn Fn(),
    state: &dyn Fn() -> T,
    outcomes: &Outcomes<T>,
    full_copy: Duration,
) {
    let mut landed_before_end = 0;
    for kill in 1..=KILLS {
        reset();
        assert_eq!(&state(), &outcomes.before, "reset of {destination}");
        let delay = full_copy * kill / (KILLS + 1);
        let finished = run_and_kill(workspace, destination, delay);
        let now = state();
        assert!(
            now == outcomes.before || now == outcomes.after,
            "{destination} killed after {delay:?} (kill {kill}) is neither as before nor the new image"
        );
        if !finished {
            landed_before_end += 1;
        }
        // The same copy, run again, completes (into a docker-archive that a finished copy
        // already wrote, only after the file is removed: it refuses to modify archives).
        if destination.starts_with("docker-archive:") {
            reset();
        }
        run_to_end(workspace, destination);
        assert_eq!(
            state(),
            outcomes.after,
            "{destination}: rerun after kill {kill}"
        );
    }
    assert!(
        landed_before_end > 0,
        "every copy to {destination} ended before its kill: the kills tested nothing"
    );
}

fn workspace_with_source() -> Workspace {
    let workspace = Workspace::new();
    workspace.image_from("src", "new", &ImageSpec::new(41).with_layers(4, 2_000_000));
    workspace.image_from("src", "old", &ImageSpec::new(42).with_layers(2, 50_000));
    common::create_dir(&workspace.path("home-skopos"));
    workspace
}

#[test]
fn dir_destination_is_old_or_new_after_a_kill() {
    let workspace = workspace_with_source();
    let full = run_to_end(&workspace, "dir:expected");
    let reset = || {
        let _ = std::fs::remove_dir_all(workspace.path("dest"));
        copy_quietly(&workspace, "oci:src:old", "dir:dest");
    };
    reset();
    let before = dir_image(&workspace.path("dest"));
    let after = dir_image(&workspace.path("expected"));
    let state = || dir_image(&workspace.path("dest"));
    check_kills(
        &workspace,
        "dir:dest",
        &reset,
        &state,
        &Outcomes { before, after },
        full,
    );
    // The rerun after the last kill removed whatever that copy left that no manifest names.
    assert_eq!(
        visible(&workspace.path("dest")),
        visible(&workspace.path("expected"))
    );
}

#[test]
fn oci_layout_keeps_its_other_image_and_gets_the_new_one_whole() {
    let workspace = workspace_with_source();
    let layout = workspace.path("layout");
    let reset = || {
        let _ = std::fs::remove_dir_all(&layout);
        copy_quietly(&workspace, "oci:src:old", "oci:layout:old");
    };
    reset();
    let before = referenced(&layout);
    let full = run_to_end(&workspace, "oci:layout:new");
    let after = referenced(&layout);
    assert_ne!(before, after);
    let state = || referenced(&layout);
    check_kills(
        &workspace,
        "oci:layout:new",
        &reset,
        &state,
        &Outcomes { before, after },
        full,
    );
    // The other image reads back whole.
    copy_quietly(&workspace, "oci:layout:old", "dir:old-back");
}

#[test]
fn oci_archive_is_old_or_new_after_a_kill() {
    let workspace = workspace_with_source();
    let archive = workspace.path("image.oci.tar");
    copy_quietly(&workspace, "oci:src:old", "oci-archive:old.tar:old");
    let reset = || {
        std::fs::copy(workspace.path("old.tar"), &archive).unwrap();
    };
    reset();
    let before = archive_members(&archive);
    let destination = "oci-archive:image.oci.tar:new";
    let full = run_to_end(&workspace, destination);
    let after = archive_members(&archive);
    let state = || archive_members(&archive);
    check_kills(
        &workspace,
        destination,
        &reset,
        &state,
        &Outcomes { before, after },
        full,
    );
}

#[test]
fn docker_archive_is_missing_or_whole_after_a_kill() {
    let workspace = workspace_with_source();
    let archive = workspace.path("image.docker.tar");
    // docker-archive refuses to add to an existing archive, as skopeo does: each copy starts
    // without the file.
    let reset = || {
        let _ = std::fs::remove_file(&archive);
    };
    let state = || archive.exists().then(|| archive_members(&archive));
    let destination = "docker-archive:image.docker.tar:example.com/new:v1";
    let full = run_to_end(&workspace, destination);
    let after = state();
    assert!(after.is_some());
    reset();
    check_kills(
        &workspace,
        destination,
        &reset,
        &state,
        &Outcomes {
            before: None,
            after,
        },
        full,
    );
}

#[test]
fn two_copies_into_one_layout_both_land() {
    let workspace = workspace_with_source();
    for round in 0..3 {
        let layout = format!("shared-{round}");
        let mut children: Vec<_> = ["new", "old"]
            .iter()
            .map(|tag| {
                skopos_command(
                    &workspace,
                    &[
                        "--insecure-policy",
                        "copy",
                        "-q",
                        &format!("oci:src:{tag}"),
                        &format!("oci:{layout}:{tag}"),
                    ],
                )
                .spawn()
                .unwrap()
            })
            .collect();
        for child in &mut children {
            assert!(child.wait().unwrap().success(), "round {round}");
        }
        let index = parse_json(&read(&workspace.path(&format!("{layout}/index.json"))));
        let mut tags: Vec<&str> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d["annotations"]["org.opencontainers.image.ref.name"].as_str())
            .collect();
        tags.sort();
        assert_eq!(tags, ["new", "old"], "round {round}");
        let _ = referenced(&workspace.path(&layout));
    }
}

/// A registry has no staging area of its own: a killed push must leave the tag on the old
/// manifest or on the whole new image (the registry refuses a manifest whose blobs it lacks),
/// and the repository's other tag untouched. Each kill gets a fresh registry, so that every
/// run uploads all blobs (a registry that already holds them would make the copy all but
/// instant).
#[test]
fn registry_tag_is_old_or_new_after_a_kill() {
    let workspace = workspace_with_source();
    let seeded = |registry: &TestRegistry| {
        let repository = format!("docker://{}/repo", registry.host);
        copy_quietly(&workspace, "oci:src:old", &format!("{repository}:old"));
        copy_quietly(&workspace, "oci:src:old", &format!("{repository}:new"));
        repository
    };
    let state = |repository: &str| {
        (
            raw_manifest(&workspace, &format!("{repository}:new")),
            raw_manifest(&workspace, &format!("{repository}:old")),
        )
    };

    let registry = TestRegistry::start(RegistryOptions::default());
    let repository = seeded(&registry);
    let before = state(&repository);
    let full = run_to_end(&workspace, &format!("{repository}:new"));
    let after = state(&repository);
    assert_ne!(before, after);
    drop(registry);

    let mut landed_before_end = 0;
    for kill in 1..=KILLS {
        let registry = TestRegistry::start(RegistryOptions::default());
        let repository = seeded(&registry);
        let destination = format!("{repository}:new");
        let delay = full * kill / (KILLS + 1);
        if !run_and_kill(&workspace, &destination, delay) {
            landed_before_end += 1;
        }
        let now = state(&repository);
        assert!(
            now == before || now == after,
            "{destination} killed after {delay:?} (kill {kill}) is neither as before nor the new image"
        );
        if now == after {
            // The whole image is there: every blob the manifest names reads back.
            copy_quietly(&workspace, &destination, &format!("dir:check-{kill}"));
        }
        run_to_end(&workspace, &destination);
        assert_eq!(
            state(&repository),
            after,
            "{destination}: rerun after kill {kill}"
        );
    }
    assert!(
        landed_before_end > 0,
        "every push ended before its kill: the kills tested nothing"
    );
}

/// containers-storage: commits an image under the store's locks in one step; a kill before
/// that leaves only staging data, which neither podman nor the next copy sees, and no lock
/// held (the rerun would hang otherwise).
#[test]
fn containers_storage_is_old_or_new_after_a_kill() {
    let workspace = workspace_with_source();
    let store = PodmanStore::new("vfs");
    let new = store.reference("localhost/img:new");
    let old = store.reference("localhost/img:old");
    let reset = || {
        // Deleting the image of the tag removes its layers too, so every copy writes them all.
        let _ = skopos_command(&workspace, &["delete", &new]).status();
        copy_quietly(&workspace, "oci:src:old", &old);
        copy_quietly(&workspace, "oci:src:old", &new);
    };
    let state = || {
        (
            raw_manifest(&workspace, &new),
            raw_manifest(&workspace, &old),
        )
    };
    reset();
    let before = state();
    let full = run_to_end(&workspace, &new);
    let after = state();
    assert_ne!(before, after);
    check_kills(
        &workspace,
        &new,
        &reset,
        &state,
        &Outcomes { before, after },
        full,
    );
    // podman reads the store the kills left: both images, the new one whole.
    let images = store.image_list();
    assert!(
        images.iter().any(|name| name.contains("img:new"))
            && images.iter().any(|name| name.contains("img:old")),
        "podman lists {images:?}"
    );
    copy_quietly(&workspace, &new, "dir:from-store");
}
