//! `ostree:IMAGE@REPO`: images in OSTree repositories made here with the `ostree` CLI, in the
//! layout skopeo 1.17.0 (the last skopeo with the transport, `$SKOPEO_1_17_OSTREE`) writes.
//!
//! Always: a round trip through every repository mode keeps the DiffIDs, `ostree fsck` passes,
//! the branches, commit metadata and trees are what containers/image wrote (checked against
//! values measured on skopeo 1.17.0), a second copy reuses the layer commits, a failed copy
//! leaves no branch, and a missing image fails with skopeo's message and exit code 2.
//! With `$SKOPEO_1_17_OSTREE`: both tools write the same image into fresh repositories of each
//! mode and give the same branches, metadata (timestamps aside) and trees (`ostree ls -R -X`,
//! content checksums), and skopos reads what skopeo wrote (inspect, copy to `oci:`).

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use common::{assert_one_line_failure, parse_json, report_skipped, skopeo_message, Workspace};

/// The repository modes containers/image wrote into.
const MODES: [&str; 4] = ["bare", "bare-user", "bare-user-only", "archive"];

/// The image name the tests write: every kind of byte the branch name escapes.
const IMAGE: &str = "example.com/rich_image:v1.0";
/// Its branch, as skopeo 1.17.0 names it.
const IMAGE_BRANCH: &str = "ociimage/example.com_2Frich_5Fimage_3Av1.0";

/// skopeo 1.17.0 built with the ostree transport, or `None` after a visible SKIPPED line.
fn skopeo_1_17(what: &str) -> Option<PathBuf> {
    match std::env::var_os("SKOPEO_1_17_OSTREE") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            report_skipped(&format!(
                "{what} (set SKOPEO_1_17_OSTREE to a skopeo 1.17.0 built with the ostree transport)"
            ));
            None
        }
    }
}

/// Runs the `ostree` CLI on `repo`, failing the test unless it succeeds; its stdout.
fn ostree(repo: &Path, args: &[&str]) -> String {
    let output = Command::new("ostree")
        .arg(format!("--repo={}", repo.display()))
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("running ostree (apt-get install ostree): {err}"));
    assert!(
        output.status.success(),
        "ostree {args:?} on {} failed: {}",
        repo.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A fresh repository of `mode` at `name` in the work area.
fn new_repo(workspace: &Workspace, name: &str, mode: &str) -> PathBuf {
    let repo = workspace.path(name);
    ostree(&repo, &["init", &format!("--mode={mode}")]);
    repo
}

/// The branches of `repo`, sorted.
fn refs(repo: &Path) -> Vec<String> {
    let mut refs: Vec<String> = ostree(repo, &["refs"])
        .lines()
        .map(str::to_string)
        .collect();
    refs.sort();
    refs
}

/// A commit metadata value in GVariant text form (`'744'`), or `None` without that key.
fn metadata(repo: &Path, branch: &str, key: &str) -> Option<String> {
    let output = Command::new("ostree")
        .arg(format!("--repo={}", repo.display()))
        .args(["show", &format!("--print-metadata-key={key}"), branch])
        .output()
        .expect("running ostree");
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// A string metadata value without its GVariant quoting.
fn metadata_string(repo: &Path, branch: &str, key: &str) -> String {
    let text = metadata(repo, branch, key).unwrap_or_else(|| panic!("{branch} has no {key}"));
    text.trim_matches('\'').to_string()
}

/// The JSON lines of a layer commit's `tarsplit.output`.
fn tar_split_lines(repo: &Path, branch: &str) -> String {
    let encoded = metadata_string(repo, branch, "tarsplit.output");
    let gzipped = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("tarsplit.output is base64");
    let mut lines = String::new();
    flate2::read::GzDecoder::new(gzipped.as_slice())
        .read_to_string(&mut lines)
        .expect("tarsplit.output is gzipped text");
    lines
}

/// What `ostree show` says of a commit's tree: its content checksum.
fn content_checksum(repo: &Path, branch: &str) -> String {
    ostree(repo, &["show", branch])
        .lines()
        .find_map(|line| line.strip_prefix("ContentChecksum:"))
        .map(|checksum| checksum.trim().to_string())
        .unwrap_or_else(|| panic!("no ContentChecksum for {branch}"))
}

/// A gzip tar with what a layer can hold: a setuid file, a hard link to it, files of
/// another owner in a private directory, a symlink, an xattr, a whiteout, a FIFO (which
/// OSTree cannot store), an empty file and a file whose parent directories have no entries.
fn rich_layer() -> Vec<u8> {
    fn header(kind: tar::EntryType, mode: u32, owner: u64, size: usize) -> tar::Header {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(owner);
        header.set_gid(owner);
        header.set_mtime(1_700_000_000);
        header.set_size(size as u64);
        header
    }
    let mut builder = tar::Builder::new(Vec::new());
    let entries: [(&str, tar::EntryType, u32, u64, &[u8]); 8] = [
        ("bin/", tar::EntryType::Directory, 0o755, 0, b""),
        (
            "bin/su",
            tar::EntryType::Regular,
            0o4755,
            0,
            b"#!/bin/sh\necho su\n",
        ),
        ("home/user/", tar::EntryType::Directory, 0o700, 1000, b""),
        (
            "home/user/notes",
            tar::EntryType::Regular,
            0o640,
            1000,
            b"private notes\n",
        ),
        ("etc/empty", tar::EntryType::Regular, 0o600, 0, b""),
        (".wh.removed", tar::EntryType::Regular, 0o644, 0, b""),
        ("run/fifo", tar::EntryType::Fifo, 0o644, 0, b""),
        (
            "deep/nested/file",
            tar::EntryType::Regular,
            0o644,
            0,
            &[b'x'; 70_000],
        ),
    ];
    for (path, kind, mode, owner, data) in entries {
        let mut header = header(kind, mode, owner, data.len());
        builder
            .append_data(&mut header, path, data)
            .expect("building the layer");
    }
    let mut link = header(tar::EntryType::Link, 0o4755, 0, 0);
    builder
        .append_link(&mut link, "bin/su-link", "bin/su")
        .expect("building the layer");
    let mut symlink = header(tar::EntryType::Symlink, 0o777, 0, 0);
    builder
        .append_link(&mut symlink, "bin/sh", "su")
        .expect("building the layer");
    builder
        .append_pax_extensions([("SCHILY.xattr.user.skopos", b"tagged".as_slice())])
        .expect("building the layer");
    let mut tagged = header(tar::EntryType::Regular, 0o644, 0, 7);
    builder
        .append_data(&mut tagged, "etc/tagged", b"tagged\n".as_slice())
        .expect("building the layer");
    let tar = builder.into_inner().expect("building the layer");
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gzip, &tar).expect("compressing the layer");
    gzip.finish().expect("compressing the layer")
}

/// The source image: the rich layer on top of a plain generated one, in `oci:src:rich`.
struct Source {
    /// `oci:…:rich`.
    name: String,
    /// Compressed layer digests (`sha256:…`), base first.
    layers: Vec<String>,
    /// The config's DiffIDs.
    diff_ids: Vec<String>,
    /// The config digest.
    config: String,
}

fn source_image(workspace: &Workspace) -> Source {
    let plain = workspace.image("plain", "base", 7);
    let plain_layer = workspace
        .path("plain/blobs/sha256")
        .join(plain.layers[0].hex());
    let rich = workspace.path("rich.tar.gz");
    std::fs::write(&rich, rich_layer()).expect("writing the layer");
    let name = format!("oci:{}:rich", workspace.path("src").display());
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            &format!("tarball:{}:{}", plain_layer.display(), rich.display()),
            &name,
        ])
        .assert_success();
    let config = parse_json(
        &workspace
            .skopos(&["inspect", "--config", &name])
            .assert_success()
            .stdout_bytes,
    );
    let manifest = parse_json(
        &workspace
            .skopos(&["inspect", "--raw", &name])
            .assert_success()
            .stdout_bytes,
    );
    let strings = |value: &serde_json::Value| -> Vec<String> {
        value
            .as_array()
            .expect("an array")
            .iter()
            .map(|v| v.as_str().expect("a string").to_string())
            .collect()
    };
    Source {
        layers: manifest["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .map(|layer| layer["digest"].as_str().expect("a digest").to_string())
            .collect(),
        diff_ids: strings(&config["rootfs"]["diff_ids"]),
        config: manifest["config"]["digest"]
            .as_str()
            .expect("a digest")
            .to_string(),
        name,
    }
}

fn hex(digest: &str) -> &str {
    digest.trim_start_matches("sha256:")
}

fn blob_branch(digest: &str) -> String {
    format!("ociimage/{}", hex(digest))
}

/// The image's DiffIDs after copying `from` to a new `oci:` layout with skopos.
fn diff_ids_through_oci(workspace: &Workspace, from: &str, layout: &str) -> Vec<String> {
    let to = format!("oci:{}:out", workspace.path(layout).display());
    workspace
        .skopos(&["--insecure-policy", "copy", from, &to])
        .assert_success();
    let config = parse_json(
        &workspace
            .skopos(&["inspect", "--config", &to])
            .assert_success()
            .stdout_bytes,
    );
    config["rootfs"]["diff_ids"]
        .as_array()
        .expect("diff_ids")
        .iter()
        .map(|v| v.as_str().expect("a digest").to_string())
        .collect()
}

fn ostree_name(repo: &Path) -> String {
    format!("ostree:{IMAGE}@{}", repo.display())
}

#[test]
fn round_trip_in_every_mode_keeps_layout_diff_ids_and_fsck() {
    let workspace = Workspace::new();
    let source = source_image(&workspace);
    for mode in MODES {
        let repo = new_repo(&workspace, &format!("repo-{mode}"), mode);
        workspace
            .skopos(&[
                "--insecure-policy",
                "copy",
                &source.name,
                &ostree_name(&repo),
            ])
            .assert_success();
        ostree(&repo, &["fsck"]);

        let mut expected = vec![IMAGE_BRANCH.to_string(), blob_branch(&source.config)];
        expected.extend(source.layers.iter().map(|l| blob_branch(l)));
        expected.sort();
        assert_eq!(refs(&repo), expected, "{mode}");

        // The manifest commit: Docker schema 2 (converted from OCI), its digest, no signatures.
        let raw = workspace
            .skopos(&["inspect", "--raw", &ostree_name(&repo)])
            .assert_success()
            .stdout
            .clone();
        let manifest = parse_json(raw.as_bytes());
        assert_eq!(
            manifest["mediaType"],
            "application/vnd.docker.distribution.manifest.v2+json"
        );
        let stored: serde_json::Value =
            serde_json::from_str(&metadata_string(&repo, IMAGE_BRANCH, "docker.manifest"))
                .expect("docker.manifest is JSON");
        assert_eq!(stored, manifest, "{mode}");
        assert_eq!(
            metadata_string(&repo, IMAGE_BRANCH, "docker.digest"),
            skopos_core::Digest::sha256_of(raw.as_bytes()).to_string()
        );
        assert_eq!(metadata_string(&repo, IMAGE_BRANCH, "signatures"), "0");
        let manifest_tree = ostree(&repo, &["ls", "-R", IMAGE_BRANCH]);
        assert!(manifest_tree.contains("/manifest.json"), "{manifest_tree}");

        // The config commit: `/content` and its size; layer commits: sizes and DiffIDs.
        let config_tree = ostree(&repo, &["ls", "-R", &blob_branch(&source.config)]);
        assert!(
            config_tree.contains("d00700 0 0      0 /\n"),
            "{config_tree}"
        );
        assert!(config_tree.contains("/content"), "{config_tree}");
        for (layer, diff_id) in source.layers.iter().zip(&source.diff_ids) {
            let branch = blob_branch(layer);
            assert_eq!(
                metadata_string(&repo, &branch, "docker.uncompressed_digest"),
                *diff_id
            );
            let size = std::fs::metadata(workspace.path("src/blobs/sha256").join(hex(layer)))
                .expect("the source blob")
                .len();
            assert_eq!(
                metadata_string(&repo, &branch, "docker.size"),
                size.to_string()
            );
            assert!(tar_split_lines(&repo, &branch).contains("\"type\":2"));
        }

        // As root: owners, setuid bits and xattrs kept (bare-user-only repositories store
        // regular files as root's, without setuid bits or xattrs); whiteouts are files; no FIFO.
        let rich = ostree(&repo, &["ls", "-R", "-X", &blob_branch(&source.layers[1])]);
        let (setuid, owner, xattr) = match mode {
            "bare-user-only" => ("-00755", "0 0", "@a(ayay) []"),
            _ => (
                "-04755",
                "1000 1000",
                "[(b'user.skopos', [byte 0x74, 0x61, 0x67, 0x67, 0x65, 0x64])]",
            ),
        };
        for line in [
            format!("{setuid} 0 0     18 {{ @a(ayay) [] }} /bin/su\n"),
            format!("{setuid} 0 0     18 {{ @a(ayay) [] }} /bin/su-link\n"),
            "d00700 1000 1000      0 { @a(ayay) [] } /home/user\n".to_string(),
            format!("-00640 {owner}     14 {{ @a(ayay) [] }} /home/user/notes\n"),
            "-00644 0 0      0 { @a(ayay) [] } /.wh.removed\n".to_string(),
            "l00777 0 0      0 { @a(ayay) [] } /bin/sh -> su\n".to_string(),
            format!("-00644 0 0      7 {{ {xattr} }} /etc/tagged\n"),
            "d00755 0 0      0 { @a(ayay) [] } /deep/nested\n".to_string(),
        ] {
            assert!(rich.contains(&line), "{mode}: no {line:?} in\n{rich}");
        }
        assert!(!rich.contains("fifo"), "{mode}: a FIFO was stored:\n{rich}");

        let diff_ids =
            diff_ids_through_oci(&workspace, &ostree_name(&repo), &format!("out-{mode}"));
        assert_eq!(diff_ids, source.diff_ids, "{mode}");
    }
}

#[test]
fn a_second_copy_reuses_the_layer_commits() {
    let workspace = Workspace::new();
    let source = source_image(&workspace);
    let repo = new_repo(&workspace, "repo", "bare-user");
    let skipped = |log: &str| -> usize {
        source
            .layers
            .iter()
            .filter(|layer| log.contains(&format!("Skipping blob {layer}")))
            .count()
    };
    let first = workspace
        .skopos(&[
            "--debug",
            "--insecure-policy",
            "copy",
            &source.name,
            &ostree_name(&repo),
        ])
        .assert_success()
        .stderr
        .clone();
    assert_eq!(skipped(&first), 0, "{first}");
    let commits = |repo: &Path| -> BTreeMap<String, String> {
        source
            .layers
            .iter()
            .map(|layer| {
                let branch = blob_branch(layer);
                let commit = ostree(repo, &["rev-parse", &branch]).trim().to_string();
                (branch, commit)
            })
            .collect()
    };
    let before = commits(&repo);
    let other = format!("ostree:example.com/other:1@{}", repo.display());
    let second = workspace
        .skopos(&["--debug", "--insecure-policy", "copy", &source.name, &other])
        .assert_success()
        .stderr
        .clone();
    assert_eq!(
        commits(&repo),
        before,
        "the layer commits were written again"
    );
    assert_eq!(skipped(&second), source.layers.len(), "{second}");
    assert!(refs(&repo).contains(&"ociimage/example.com_2Fother_3A1".to_string()));
    ostree(&repo, &["fsck"]);
}

#[test]
fn a_failed_copy_leaves_no_branch() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "img", 3);
    let layout = workspace.layout("src");
    layout
        .flip_byte(&image.layers[2].digest, 100)
        .expect("damaging a layer");
    let repo = new_repo(&workspace, "repo", "bare");
    let name = format!("oci:{}:img", workspace.path("src").display());
    let outcome = workspace.skopos(&["--insecure-policy", "copy", &name, &ostree_name(&repo)]);
    assert_one_line_failure(&outcome, Some(1));
    assert_eq!(refs(&repo), Vec::<String>::new());
}

#[test]
fn a_missing_image_or_repository_fails_in_skopeos_words() {
    let workspace = Workspace::new();
    let repo = new_repo(&workspace, "repo", "bare-user");
    let missing = format!("ostree:missing@{}", repo.display());
    let inspect = workspace.skopos(&["inspect", &missing]);
    assert_one_line_failure(&inspect, Some(2));
    assert_eq!(
        skopeo_message(&inspect.stderr),
        "Error retrieving manifest for image: manifest not found"
    );
    let out = format!("oci:{}", workspace.path("out").display());
    let copy = workspace.skopos(&["--insecure-policy", "copy", &missing, &out]);
    assert_one_line_failure(&copy, Some(2));
    assert_eq!(
        skopeo_message(&copy.stderr),
        format!(
            "determining manifest MIME type for ostree:missing:latest@{}: manifest not found",
            repo.display()
        )
    );
    let no_repo = format!("ostree:busybox@{}", workspace.path("no-repo").display());
    let inspect = workspace.skopos(&["inspect", &no_repo]);
    assert_one_line_failure(&inspect, Some(1));
    assert_eq!(
        skopeo_message(&inspect.stderr),
        format!(
            "Error retrieving manifest for image: opening repo: opendir({}): No such file or directory",
            workspace.path("no-repo").display()
        )
    );
    let bad = workspace.skopos(&["inspect", "ostree:Busybox"]);
    assert_one_line_failure(&bad, Some(1));
    assert_eq!(
        skopeo_message(&bad.stderr),
        "Error parsing image name \"ostree:Busybox\": invalid reference format: repository name must be lowercase"
    );

    let Some(skopeo) = skopeo_1_17("ostree error messages compared with skopeo 1.17.0") else {
        return;
    };
    for args in [
        vec!["inspect", missing.as_str()],
        vec!["--insecure-policy", "copy", missing.as_str(), out.as_str()],
        vec!["inspect", no_repo.as_str()],
        vec!["inspect", "ostree:Busybox"],
    ] {
        let theirs = workspace.skopeo_binary_as_root(&skopeo, &args);
        let ours = workspace.skopos(&args);
        assert_eq!(
            skopeo_message(&ours.stderr),
            skopeo_message(&theirs.stderr),
            "{args:?}"
        );
    }
}

#[test]
fn skopeo_1_17_writes_the_same_repository_in_every_mode() {
    let Some(skopeo) = skopeo_1_17("ostree repositories compared with skopeo 1.17.0") else {
        return;
    };
    let workspace = Workspace::new();
    let source = source_image(&workspace);
    for mode in MODES {
        let ours = new_repo(&workspace, &format!("skopos-{mode}"), mode);
        let theirs = new_repo(&workspace, &format!("skopeo-{mode}"), mode);
        workspace
            .skopos(&[
                "--insecure-policy",
                "copy",
                &source.name,
                &ostree_name(&ours),
            ])
            .assert_success();
        workspace
            .skopeo_binary_as_root(
                &skopeo,
                &[
                    "--insecure-policy",
                    "copy",
                    &source.name,
                    &ostree_name(&theirs),
                ],
            )
            .assert_success();
        assert_eq!(refs(&ours), refs(&theirs), "{mode}");
        for branch in refs(&theirs) {
            assert_eq!(
                ostree(&ours, &["ls", "-R", "-X", &branch]),
                ostree(&theirs, &["ls", "-R", "-X", &branch]),
                "{mode} {branch}"
            );
            assert_eq!(
                content_checksum(&ours, &branch),
                content_checksum(&theirs, &branch),
                "{mode} {branch}"
            );
            for key in [
                "docker.size",
                "docker.uncompressed_size",
                "docker.uncompressed_digest",
                "docker.manifest",
                "docker.digest",
                "signatures",
            ] {
                assert_eq!(
                    metadata(&ours, &branch, key),
                    metadata(&theirs, &branch, key),
                    "{mode} {branch} {key}"
                );
            }
            // The gzip bytes differ between the two compressors; the tar-split lines do not.
            if metadata(&theirs, &branch, "tarsplit.output").is_some() {
                assert_eq!(
                    tar_split_lines(&ours, &branch),
                    tar_split_lines(&theirs, &branch),
                    "{mode} {branch}"
                );
            }
        }
        ostree(&ours, &["fsck"]);
    }
}

#[test]
fn skopos_reads_what_skopeo_1_17_wrote() {
    let Some(skopeo) = skopeo_1_17("reading an ostree repository written by skopeo 1.17.0") else {
        return;
    };
    let workspace = Workspace::new();
    let source = source_image(&workspace);
    let repo = new_repo(&workspace, "repo", "bare-user");
    workspace
        .skopeo_binary_as_root(
            &skopeo,
            &[
                "--insecure-policy",
                "copy",
                &source.name,
                &ostree_name(&repo),
            ],
        )
        .assert_success();
    for args in [
        vec!["inspect", "--raw"],
        vec!["inspect", "--config"],
        vec!["inspect"],
    ] {
        let mut args: Vec<String> = args.into_iter().map(str::to_string).collect();
        args.push(ostree_name(&repo));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let theirs = workspace.skopeo_binary_as_root(&skopeo, &args);
        theirs.assert_success();
        let ours = workspace.skopos(&args);
        ours.assert_success();
        assert_eq!(ours.stdout, theirs.stdout, "{args:?}");
    }
    let diff_ids = diff_ids_through_oci(&workspace, &ostree_name(&repo), "out");
    assert_eq!(diff_ids, source.diff_ids);
}

/// The uid and gid the ordinary-user tests run as.
const USER: u32 = 1000;

#[test]
fn as_an_ordinary_user_files_belong_to_the_caller() {
    if !rustix::process::geteuid().is_root() {
        report_skipped(
            "ostree writes by an ordinary user (the test switches users, so it needs root)",
        );
        return;
    }
    let workspace = Workspace::new();
    let source = source_image(&workspace);
    // The work area, its homes and temp dir are the test user's too.
    std::fs::create_dir(workspace.path("user-tmp")).expect("creating the temp dir");
    for dir in ["home-skopos", "home-skopeo", "user-tmp", "src"] {
        common::give_to_user(USER, &workspace.path(dir));
    }
    let root = workspace.path("");
    std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("opening the work area");
    let skopos = PathBuf::from(env!("CARGO_BIN_EXE_skopos"));
    let peer = skopeo_1_17("ostree writes by an ordinary user compared with skopeo 1.17.0");
    for mode in MODES {
        let ours = new_repo(&workspace, &format!("skopos-{mode}"), mode);
        common::give_to_user(USER, &ours);
        common::run_as_user(
            USER,
            &workspace,
            &skopos,
            "home-skopos",
            &[
                "--insecure-policy",
                "copy",
                &source.name,
                &ostree_name(&ours),
            ],
        )
        .assert_success();
        ostree(&ours, &["fsck"]);
        let rich = ostree(&ours, &["ls", "-R", "-X", &blob_branch(&source.layers[1])]);
        // Files belong to the caller (bare-user-only stores regular files as root's), keep no
        // setuid bits and no xattrs, and the private directory opens to its owner.
        let owner = match mode {
            "bare-user-only" => "0 0".to_string(),
            _ => format!("{USER} {USER}"),
        };
        for line in [
            format!("-00755 {owner}     18 {{ @a(ayay) [] }} /bin/su\n"),
            format!("d00700 {USER} {USER}      0 {{ @a(ayay) [] }} /home/user\n"),
            format!("-00640 {owner}     14 {{ @a(ayay) [] }} /home/user/notes\n"),
            format!("-00644 {owner}      7 {{ @a(ayay) [] }} /etc/tagged\n"),
        ] {
            assert!(rich.contains(&line), "{mode}: no {line:?} in\n{rich}");
        }
        let diff_ids =
            diff_ids_through_oci(&workspace, &ostree_name(&ours), &format!("out-{mode}"));
        assert_eq!(diff_ids, source.diff_ids, "{mode}");

        let Some(skopeo) = &peer else { continue };
        let theirs = new_repo(&workspace, &format!("skopeo-{mode}"), mode);
        common::give_to_user(USER, &theirs);
        common::run_as_user(
            USER,
            &workspace,
            skopeo,
            "home-skopeo",
            &[
                "--insecure-policy",
                "copy",
                &source.name,
                &ostree_name(&theirs),
            ],
        )
        .assert_success();
        assert_eq!(refs(&ours), refs(&theirs), "{mode}");
        for branch in refs(&theirs) {
            assert_eq!(
                ostree(&ours, &["ls", "-R", "-X", &branch]),
                ostree(&theirs, &["ls", "-R", "-X", &branch]),
                "{mode} {branch}"
            );
        }
    }
}

#[test]
fn signatures_are_stored_and_read_back() {
    let workspace = Workspace::new();
    workspace.image("src", "img", 5);
    let signed = workspace.path("signed");
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "--format",
            "v2s2",
            &format!("oci:{}:img", workspace.path("src").display()),
            &format!("dir:{}", signed.display()),
        ])
        .assert_success();
    // Stand-ins for simple-signing signatures: stored and copied as they are, not verified
    // under --insecure-policy. 0xa3 starts an OpenPGP compressed-data packet.
    let signatures = [b"\xa3first signature".to_vec(), b"\xa3second".to_vec()];
    for (index, signature) in signatures.iter().enumerate() {
        std::fs::write(signed.join(format!("signature-{}", index + 1)), signature)
            .expect("writing a signature");
    }
    let repo = new_repo(&workspace, "repo", "bare-user");
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            &format!("dir:{}", signed.display()),
            &ostree_name(&repo),
        ])
        .assert_success();
    assert_eq!(metadata_string(&repo, IMAGE_BRANCH, "signatures"), "2");
    let tree = ostree(&repo, &["ls", "-R", IMAGE_BRANCH]);
    assert!(tree.contains("/signature-2"), "{tree}");
    // Reading them back: the source hands out uncompressed layers, which a signed image
    // cannot take, so the copy refuses (as skopeo's does) unless the signatures are removed.
    let back = format!("dir:{}", workspace.path("back").display());
    let refused = workspace.skopos(&["--insecure-policy", "copy", &ostree_name(&repo), &back]);
    assert_one_line_failure(&refused, Some(1));
    assert_eq!(
        skopeo_message(&refused.stderr),
        "Copying this image would require changing layer representation, which we cannot do: the image is signed"
    );
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "--remove-signatures",
            &ostree_name(&repo),
            &back,
        ])
        .assert_success();

    let Some(skopeo) = skopeo_1_17("ostree signatures compared with skopeo 1.17.0") else {
        return;
    };
    let theirs = new_repo(&workspace, "skopeo-repo", "bare-user");
    workspace
        .skopeo_binary_as_root(
            &skopeo,
            &[
                "--insecure-policy",
                "copy",
                &format!("dir:{}", signed.display()),
                &ostree_name(&theirs),
            ],
        )
        .assert_success();
    assert_eq!(
        ostree(&repo, &["ls", "-R", IMAGE_BRANCH]),
        ostree(&theirs, &["ls", "-R", IMAGE_BRANCH])
    );
    assert_eq!(
        content_checksum(&repo, IMAGE_BRANCH),
        content_checksum(&theirs, IMAGE_BRANCH)
    );
    // skopeo 1.17.0 refuses the copy back too (its words are older: `"Would invalidate
    // signatures"` where skopeo 1.22.2 and skopos say "the image is signed").
    let theirs_refused = workspace.skopeo_binary_as_root(
        &skopeo,
        &["--insecure-policy", "copy", &ostree_name(&theirs), &back],
    );
    assert!(
        theirs_refused
            .stderr
            .contains("Copying this image would require changing layer representation"),
        "{}",
        theirs_refused.stderr
    );
}

/// The libraries `binary` names as needed (its ELF `DT_NEEDED` entries, through `readelf`).
fn needed_libraries(binary: &str) -> Vec<String> {
    let output = Command::new("readelf")
        .args(["--dynamic", binary])
        .output()
        .unwrap_or_else(|err| panic!("running readelf (binutils): {err}"));
    assert!(
        output.status.success(),
        "readelf --dynamic {binary}: {output:?}"
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains("(NEEDED)"))
        .filter_map(|line| {
            line.split('[')
                .nth(1)?
                .split(']')
                .next()
                .map(str::to_string)
        })
        .collect()
}

/// libostree and the libraries it links load before `main` in any program linked with them,
/// so the transport lives in the `skopos-ostree` helper: `skopos` links none of them and runs
/// the helper for commands that name an `ostree:` image (every other test here goes through
/// that). Without the helper beside it, such a command fails in one line that says why.
#[test]
fn the_transport_runs_in_a_helper_that_skopos_does_not_link() {
    let main_needs = needed_libraries(env!("CARGO_BIN_EXE_skopos"));
    assert!(
        !main_needs
            .iter()
            .any(|library| library.starts_with("libostree") || library.starts_with("libglib")),
        "skopos links {main_needs:?}"
    );
    let helper_needs = needed_libraries(env!("CARGO_BIN_EXE_skopos-ostree"));
    assert!(
        helper_needs
            .iter()
            .any(|library| library.starts_with("libostree")),
        "skopos-ostree links {helper_needs:?}"
    );

    let workspace = Workspace::new();
    let repo = new_repo(&workspace, "repo", "bare-user");
    let missing = format!("ostree:missing@{}", repo.display());
    let alone = workspace.path("alone");
    common::create_dir(&alone);
    let lone_binary = alone.join("skopos");
    std::fs::copy(env!("CARGO_BIN_EXE_skopos"), &lone_binary).unwrap();
    let inspect = workspace.skopos_at_with_env(&lone_binary, &[], &["inspect", &missing]);
    assert_one_line_failure(&inspect, Some(1));
    assert_eq!(
        skopeo_message(&inspect.stderr),
        format!("Error parsing image name \"{missing}\": The transport \"ostree:\" is not supported in this build (it is carried by the skopos-ostree helper, which was not found, or skopos was built without its `ostree` feature)")
    );
    // Beside it, the helper answers as the transport does (the image is missing: exit 2).
    std::fs::copy(
        env!("CARGO_BIN_EXE_skopos-ostree"),
        alone.join("skopos-ostree"),
    )
    .unwrap();
    let inspect = workspace.skopos_at_with_env(&lone_binary, &[], &["inspect", &missing]);
    assert_one_line_failure(&inspect, Some(2));
    assert_eq!(
        skopeo_message(&inspect.stderr),
        "Error retrieving manifest for image: manifest not found"
    );
}
