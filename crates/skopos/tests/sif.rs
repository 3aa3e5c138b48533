//! `sif:FILE`: a Singularity image, made here with Debian's `mksquashfs` and `siftool`, is
//! read as skopeo reads it — the same config (Cmd, architecture, time, history; the layer
//! digest aside, since skopeo's GNU tar stream records unpack times), the same files in the
//! layer (names, types, modes, owners, contents, link targets), `/podman/runscript` from the
//! definition file — and damaged or hostile files are refused in one line.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_one_line_failure, parse_json, read, skopeo_message, Workspace};

/// The definition file of the test images: `%environment` with a comment and a blank line
/// (both dropped) and a `%runscript` (kept whole).
const DEFFILE: &str = "Bootstrap: scratch\n\n%environment\n    export FOO=bar\n    # dropped\n\n    export GREETING=\"hello world\"\n\n%runscript\n    echo hello from runscript \"$@\"\n\n%labels\n    org.example.test yes\n";

/// SIF files are stamped with this time (2024-01-01T00:00:00Z).
const EPOCH: &str = "1704067200";

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| {
            panic!(
            "running {program} (apt-get install siftool squashfs-tools, as .ci/run does): {error}"
        )
        });
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A small root file system: directories, an executable, a symlink, a sticky directory,
/// and a file in a nested directory.
fn make_rootfs(root: &Path) {
    for dir in ["bin", "etc/conf.d", "tmp"] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    fs::write(root.join("bin/sh"), "#!/bin/sh\necho \"sh: $*\"\n").unwrap();
    fs::set_permissions(root.join("bin/sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(root.join("etc/os-release"), "ID=sif-test\n").unwrap();
    fs::write(root.join("etc/conf.d/big"), vec![b'x'; 200_000]).unwrap();
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    symlink("bin/sh", root.join("entrypoint")).unwrap();
}

/// `mksquashfs` of `root` with root ownership and fixed times; `extra` are more options.
fn squashfs(workspace: &Workspace, root: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let image = workspace.path(name);
    let mut args = vec![
        root.to_str().unwrap(),
        image.to_str().unwrap(),
        "-noappend",
        "-all-root",
        "-no-xattrs",
        "-mkfs-time",
        EPOCH,
        "-all-time",
        EPOCH,
        "-quiet",
        "-no-progress",
    ];
    args.extend_from_slice(extra);
    run("mksquashfs", &args);
    image
}

/// A SIF file `name` with an optional definition file and `partition` as its primary system
/// partition (squashfs, amd64).
fn make_sif(workspace: &Workspace, name: &str, deffile: Option<&str>, partition: &Path) {
    let sif = workspace.path(name);
    let sif = sif.to_str().unwrap();
    run("siftool", &["new", sif]);
    if let Some(text) = deffile {
        let def = workspace.path(&format!("{name}.def"));
        fs::write(&def, text).unwrap();
        run(
            "siftool",
            &[
                "add",
                sif,
                def.to_str().unwrap(),
                "--datatype",
                "1",
                "--groupid",
                "1",
            ],
        );
    }
    run(
        "siftool",
        &[
            "add",
            sif,
            partition.to_str().unwrap(),
            "--datatype",
            "4",
            "--parttype",
            "2",
            "--partfs",
            "1",
            "--partarch",
            "2",
            "--groupid",
            "1",
        ],
    );
    // siftool stamps the current time; the image's `created` comes from it.
    let mut bytes = read(Path::new(sif));
    let epoch: i64 = EPOCH.parse().unwrap();
    for at in [64, 72] {
        bytes[at..at + 8].copy_from_slice(&epoch.to_le_bytes());
    }
    fs::write(sif, bytes).unwrap();
}

/// A workspace with `with-def.sif` and `no-def.sif` made from the same root file system.
fn workspace_with_sifs() -> Workspace {
    let workspace = Workspace::new();
    let root = workspace.path("rootfs");
    make_rootfs(&root);
    let partition = squashfs(&workspace, &root, "rootfs.squashfs", &[]);
    make_sif(&workspace, "with-def.sif", Some(DEFFILE), &partition);
    make_sif(&workspace, "no-def.sif", None, &partition);
    workspace
}

/// One layer entry, as compared: type, mode, owner, size, contents and link target.
type EntrySummary = (char, u32, u64, u64, u64, Vec<u8>, String);

/// The entries of the one layer of a `dir:` image, by path (`./a/` and `a` alike), without
/// modification times (skopeo gives the files it adds the time of the copy).
fn layer_entries(dir: &Path) -> BTreeMap<String, EntrySummary> {
    let manifest = parse_json(&read(&dir.join("manifest.json")));
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1, "a SIF image has one layer");
    let digest = layers[0]["digest"].as_str().unwrap();
    let tar_bytes = read(&dir.join(digest.trim_start_matches("sha256:")));
    let mut archive = tar::Archive::new(tar_bytes.as_slice());
    let mut entries = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        // `./`, `.` and `./a/`, `a` name the same entries.
        let name = match name.trim_end_matches('/') {
            "." => String::new(),
            other => other.trim_start_matches("./").to_string(),
        };
        let header = entry.header().clone();
        let link = entry
            .link_name()
            .unwrap()
            .map(|link| link.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut contents = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut contents).unwrap();
        let kind = match header.entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            tar::EntryType::Regular => 'f',
            other => panic!("unexpected entry type {other:?} for {name}"),
        };
        entries.insert(
            name,
            (
                kind,
                header.mode().unwrap() & 0o7777,
                header.uid().unwrap(),
                header.gid().unwrap(),
                header.size().unwrap(),
                contents,
                link,
            ),
        );
    }
    entries
}

/// The config without what depends on the layer's bytes (its digest).
fn config_without_layer_digest(dir: &Path) -> serde_json::Value {
    let manifest = parse_json(&read(&dir.join("manifest.json")));
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let mut config = parse_json(&read(
        &dir.join(config_digest.trim_start_matches("sha256:")),
    ));
    config["rootfs"]["diff_ids"] = serde_json::Value::Null;
    config["history"][0]["created_by"] = serde_json::Value::Null;
    config
}

/// The files of [`make_rootfs`] as both tools put them in the layer: (path, type, mode).
const ROOTFS_FILES: [(&str, char, u32); 9] = [
    ("", 'd', 0o755),
    ("bin", 'd', 0o755),
    ("bin/sh", 'f', 0o755),
    ("entrypoint", 'l', 0o777),
    ("etc", 'd', 0o755),
    ("etc/conf.d", 'd', 0o755),
    ("etc/conf.d/big", 'f', 0o644),
    ("etc/os-release", 'f', 0o644),
    ("tmp", 'd', 0o1777),
];

#[test]
fn copies_give_containers_images_config_and_layer_files() {
    let workspace = workspace_with_sifs();
    for (sif, command) in [
        ("with-def.sif", "/podman/runscript"),
        ("no-def.sif", "bash"),
    ] {
        let ours = workspace.path(&format!("{sif}-skopos"));
        workspace
            .skopos(&[
                "--insecure-policy",
                "copy",
                "-q",
                &format!("sif:{sif}"),
                &format!("dir:{}", ours.display()),
            ])
            .assert_success();
        let config = config_without_layer_digest(&ours);
        assert_eq!(config["config"]["Cmd"], serde_json::json!([command]));
        assert_eq!(config["architecture"], "amd64");
        assert_eq!(config["os"], "linux");
        assert_eq!(config["created"], "2024-01-01T00:00:00Z");
        assert_eq!(
            config["history"][1]["created_by"],
            "/bin/sh -c #(nop) CMD [\"bash\"]"
        );
        assert_eq!(config["history"][1]["empty_layer"], true);

        let entries = layer_entries(&ours);
        let mut expected: Vec<&str> = ROOTFS_FILES.iter().map(|(path, _, _)| *path).collect();
        if sif == "with-def.sif" {
            expected.extend(["podman", "podman/runscript"]);
        }
        expected.sort();
        assert_eq!(
            entries.keys().map(String::as_str).collect::<Vec<_>>(),
            expected,
            "{sif}"
        );
        for (path, kind, mode) in ROOTFS_FILES {
            let entry = &entries[path];
            assert_eq!(
                (entry.0, entry.1, entry.2, entry.3),
                (kind, mode, 0, 0),
                "{sif}: {path}"
            );
        }
        assert_eq!(entries["entrypoint"].6, "bin/sh");
        assert_eq!(entries["etc/conf.d/big"].5, vec![b'x'; 200_000]);

        // The layer is stored as it was made: uncompressed, its digest its DiffID.
        let manifest = parse_json(&read(&ours.join("manifest.json")));
        let layer = &manifest["layers"][0];
        assert_eq!(layer["mediaType"], "application/vnd.oci.image.layer.v1.tar");
        let config_digest = manifest["config"]["digest"].as_str().unwrap();
        let full_config = parse_json(&read(
            &ours.join(config_digest.trim_start_matches("sha256:")),
        ));
        assert_eq!(full_config["rootfs"]["diff_ids"][0], layer["digest"]);

        // skopeo unpacks the squashfs under fakeroot, which cannot give files to root inside
        // the tests' one-user namespace; skopeo 1.22.2 runs outside it (see skopeo_1_22).
        let theirs = workspace.path(&format!("{sif}-skopeo"));
        let what = format!("comparing the copy of {sif} with skopeo 1.22.2's");
        let dest = format!("dir:{}", theirs.display());
        if let Some(outcome) = workspace.skopeo_1_22(
            &what,
            &[],
            &[
                "--insecure-policy",
                "copy",
                "-q",
                &format!("sif:{sif}"),
                &dest,
            ],
        ) {
            outcome.assert_success();
            assert_eq!(config, config_without_layer_digest(&theirs), "{sif}");
            assert_eq!(entries, layer_entries(&theirs), "{sif}: layer files differ");
        }
    }
    let entries = layer_entries(&workspace.path("with-def.sif-skopos"));
    let script = &entries["podman/runscript"];
    assert_eq!(
        String::from_utf8_lossy(&script.5),
        "#!/bin/bash\nexport FOO=bar\nexport GREETING=\"hello world\"\necho hello from runscript \"$@\"\n\n"
    );
    assert_eq!((script.0, script.1, script.2, script.3), ('f', 0o755, 0, 0));
}

#[test]
fn inspect_matches_skopeo_apart_from_the_layer_digest() {
    let workspace = workspace_with_sifs();
    let ours = workspace.skopos(&["inspect", "sif:with-def.sif"]);
    ours.assert_success();
    let ours = parse_json(&ours.stdout_bytes);
    assert_eq!(ours["Created"], "2024-01-01T00:00:00Z");
    assert_eq!(ours["Architecture"], "amd64");
    assert_eq!(ours["Layers"].as_array().unwrap().len(), 1);
    if let Some(theirs) = workspace.skopeo_1_22(
        "comparing inspect of a SIF with skopeo 1.22.2",
        &[],
        &["inspect", "sif:with-def.sif"],
    ) {
        theirs.assert_success();
        let theirs = parse_json(&theirs.stdout_bytes);
        for key in [
            "RepoTags",
            "Created",
            "DockerVersion",
            "Labels",
            "Architecture",
            "Os",
            "Env",
        ] {
            assert_eq!(ours[key], theirs[key], "{key}");
        }
    }
    let config = workspace.skopos(&["inspect", "--config", "sif:no-def.sif"]);
    config.assert_success();
    let config = parse_json(&config.stdout_bytes);
    let comment = config["history"][0]["comment"].as_str().unwrap();
    let uuid = comment
        .strip_prefix("imported from SIF, uuid: ")
        .unwrap_or_else(|| panic!("{comment}"));
    let run_siftool = Command::new("siftool")
        .args(["header", workspace.path("no-def.sif").to_str().unwrap()])
        .output()
        .unwrap();
    let header = String::from_utf8_lossy(&run_siftool.stdout);
    assert!(
        header
            .lines()
            .any(|line| line.starts_with("ID:") && line.trim_end().ends_with(uuid)),
        "{uuid} not in\n{header}"
    );
}

#[test]
fn damaged_files_are_refused_in_skopeos_words() {
    let workspace = workspace_with_sifs();
    let whole = read(&workspace.path("with-def.sif"));
    fs::write(workspace.path("short.sif"), &whole[..100]).unwrap();
    fs::write(workspace.path("zeros.sif"), vec![0u8; 4096]).unwrap();
    // A SIF whose only partition is a data partition, not the primary system one.
    let sif = workspace.path("no-system.sif");
    run("siftool", &["new", sif.to_str().unwrap()]);
    run(
        "siftool",
        &[
            "add",
            sif.to_str().unwrap(),
            workspace.path("rootfs.squashfs").to_str().unwrap(),
            "--datatype",
            "4",
            "--parttype",
            "3",
            "--partfs",
            "1",
            "--partarch",
            "2",
        ],
    );
    for name in ["short.sif", "zeros.sif", "no-system.sif", "missing.sif"] {
        let pair = workspace.run_both(&["inspect", &format!("sif:{name}")]);
        assert_one_line_failure(&pair.skopos, Some(1));
        assert_eq!(
            skopeo_message(&pair.skopos.stderr),
            skopeo_message(&pair.skopeo.stderr),
            "{name}"
        );
    }
    // A squashfs cut short inside the SIF: skopeo's unsquashfs says "EOF"; skopos names the
    // squashfs reader's complaint.
    let squashfs_start = whole
        .windows(4)
        .position(|magic| magic == b"hsqs")
        .expect("the squashfs partition");
    // The superblock's bytes_used (at 40) says where the file system ends; padding follows.
    let mut bytes_used = [0u8; 8];
    bytes_used.copy_from_slice(&whole[squashfs_start + 40..squashfs_start + 48]);
    let cut_at = squashfs_start + u64::from_le_bytes(bytes_used) as usize / 2;
    fs::write(workspace.path("cut.sif"), &whole[..cut_at]).unwrap();
    let cut = workspace.skopos(&["--insecure-policy", "copy", "sif:cut.sif", "dir:cut"]);
    assert_one_line_failure(&cut, Some(1));
    assert!(
        cut.stderr.contains(
            "converting rootfs from SquashFS to Tarball: reading the squashfs file system"
        ),
        "{}",
        cut.stderr
    );
    assert!(
        !workspace.path("cut").exists(),
        "nothing is written for a failed read"
    );
}

#[test]
fn a_name_that_leaves_the_root_is_refused() {
    let workspace = Workspace::new();
    let root = workspace.path("rootfs");
    fs::create_dir_all(root.join("d")).unwrap();
    fs::write(root.join("d/QQ"), "escape").unwrap();
    // Uncompressed metadata, so that the directory entry's name can be rewritten to `..`.
    let image = squashfs(
        &workspace,
        &root,
        "plain.squashfs",
        &["-noI", "-noD", "-noF", "-noX"],
    );
    let bytes = read(&image);
    let at = bytes
        .windows(2)
        .position(|pair| pair == b"QQ")
        .expect("the file name in the directory table");
    assert_eq!(bytes.windows(2).filter(|pair| *pair == b"QQ").count(), 1);
    let mut hostile = bytes.clone();
    hostile[at..at + 2].copy_from_slice(b"..");
    fs::write(&image, &hostile).unwrap();
    make_sif(&workspace, "hostile.sif", None, &image);
    let outcome = workspace.skopos(&["--insecure-policy", "copy", "sif:hostile.sif", "oci:out:t"]);
    assert_one_line_failure(&outcome, Some(1));
    assert!(
        outcome
            .stderr
            .contains("converting rootfs from SquashFS to Tarball"),
        "{}",
        outcome.stderr
    );
    assert!(!workspace.path("out/index.json").exists());
}

#[test]
fn sif_is_read_only() {
    let workspace = workspace_with_sifs();
    workspace.image("layout", "t", 1);
    let pair = workspace.run_both(&["copy", "oci:layout:t", "sif:copy.sif"]);
    assert_one_line_failure(&pair.skopos, Some(1));
    assert_eq!(
        skopeo_message(&pair.skopos.stderr),
        skopeo_message(&pair.skopeo.stderr)
    );
    let pair = workspace.run_both(&["delete", "sif:no-def.sif"]);
    assert_one_line_failure(&pair.skopos, Some(1));
    assert_eq!(
        skopeo_message(&pair.skopos.stderr),
        skopeo_message(&pair.skopeo.stderr)
    );
    assert!(workspace.path("no-def.sif").exists());
}
