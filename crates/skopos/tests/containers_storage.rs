//! `containers-storage:`: images copied in by skopos are what podman sees when skopeo copies
//! the same image in (same image ID, digest, repo digests, DiffIDs; `podman save` gives the
//! original layer tars), and images skopeo put into a store are read back by skopos with
//! their manifest digest and original layers. Each test makes its own stores in temp dirs
//! (podman with `--root`/`--runroot`, the tools with `[driver@root+runroot]`); the machine's
//! store is never touched.

mod common;

use std::io::Read;
use std::path::Path;

use common::{assert_one_line_failure, parse_json, read, report_skipped, Workspace};
use skopos_testimage::podman::PodmanStore;
use skopos_testimage::{sha256_digest, WrittenImage};

const NAME: &str = "example.com/skopos/storage-test:v1";

/// What `podman image inspect` says that must not depend on which tool wrote the image.
fn podman_identity(store: &PodmanStore, name: &str) -> serde_json::Value {
    let inspect = store.image_inspect(name);
    serde_json::json!({
        "Id": inspect["Id"],
        "Digest": inspect["Digest"],
        "RepoDigests": inspect["RepoDigests"],
        "RepoTags": inspect["RepoTags"],
        "RootFS": inspect["RootFS"],
        "Created": inspect["Created"],
    })
}

/// The sha256 of each layer tar of a `podman save` archive, in manifest order.
fn saved_layer_digests(archive: &Path, workspace: &Workspace, label: &str) -> Vec<String> {
    let dir = workspace.path(label);
    common::create_dir(&dir);
    let status = std::process::Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(&dir)
        .status()
        .expect("running tar");
    assert!(status.success(), "unpacking {}", archive.display());
    let manifest = parse_json(&read(&dir.join("manifest.json")));
    manifest[0]["Layers"]
        .as_array()
        .expect("Layers in manifest.json")
        .iter()
        .map(|layer| sha256_digest(&read(&dir.join(layer.as_str().expect("layer path")))))
        .collect()
}

/// The uncompressed digests of the layers of the image in OCI layout `layout`.
fn oci_layer_diff_ids(layout: &Path) -> Vec<String> {
    let index = parse_json(&read(&layout.join("index.json")));
    let manifest_digest = index["manifests"][0]["digest"].as_str().expect("digest");
    let blob = |digest: &str| layout.join("blobs/sha256").join(&digest["sha256:".len()..]);
    let manifest = parse_json(&read(&blob(manifest_digest)));
    manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|layer| {
            let bytes = read(&blob(layer["digest"].as_str().expect("layer digest")));
            let mut tar = Vec::new();
            if bytes.starts_with(&[0x1f, 0x8b]) {
                flate2::read::MultiGzDecoder::new(&bytes[..])
                    .read_to_end(&mut tar)
                    .expect("gunzip a layer");
            } else {
                tar = bytes;
            }
            sha256_digest(&tar)
        })
        .collect()
}

fn copy_in_matches_skopeo(driver: &str) {
    let workspace = Workspace::new();
    let image: WrittenImage = workspace.image("src", "latest", 41);
    let by_skopeo = PodmanStore::new(driver);
    let by_skopos = PodmanStore::new(driver);

    workspace
        .skopeo_as_root(&[
            "--insecure-policy",
            "copy",
            "oci:src:latest",
            &by_skopeo.reference(NAME),
        ])
        .assert_success();
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "oci:src:latest",
            &by_skopos.reference(NAME),
        ])
        .assert_success();

    let expected = podman_identity(&by_skopeo, NAME);
    assert_eq!(podman_identity(&by_skopos, NAME), expected);
    assert_eq!(by_skopos.image_list(), by_skopeo.image_list());
    assert_eq!(
        expected["Id"].as_str(),
        Some(&image.config.digest["sha256:".len()..])
    );
    assert_eq!(
        expected["Digest"].as_str(),
        Some(image.manifest.digest.as_str())
    );

    let archive = workspace.path("saved.tar");
    by_skopos.save(NAME, &archive);
    assert_eq!(
        saved_layer_digests(&archive, &workspace, "saved"),
        image.diff_ids,
        "podman save of the image skopos stored must give the original layer tars"
    );
}

#[test]
fn vfs_copy_in_is_what_podman_sees_from_skopeo() {
    copy_in_matches_skopeo("vfs");
}

#[test]
fn overlay_copy_in_is_what_podman_sees_from_skopeo() {
    copy_in_matches_skopeo("overlay");
}

fn read_back_what_skopeo_stored(driver: &str) {
    let workspace = Workspace::new();
    let image = workspace.image("src", "latest", 42);
    let store = PodmanStore::new(driver);
    let reference = store.reference(NAME);
    workspace
        .skopeo_as_root(&["--insecure-policy", "copy", "oci:src:latest", &reference])
        .assert_success();

    let inspect = common::Pair {
        skopos: workspace.skopos(&["inspect", &reference]),
        skopeo: workspace.skopeo_as_root(&["inspect", &reference]),
    };
    inspect.assert_same_inspect_json();
    let raw = workspace.skopos(&["inspect", "--raw", &reference]);
    raw.assert_success();
    assert_eq!(sha256_digest(&raw.stdout_bytes), image.manifest.digest);
    let summary = workspace.skopos(&["inspect", &reference]);
    summary.assert_success();
    assert_eq!(
        parse_json(&summary.stdout_bytes)["Digest"].as_str(),
        Some(image.manifest.digest.as_str())
    );
    let config = workspace.skopos(&["inspect", "--config", "--raw", &reference]);
    config.assert_success();
    assert_eq!(sha256_digest(&config.stdout_bytes), image.config.digest);

    workspace
        .skopos(&["--insecure-policy", "copy", &reference, "oci:out:latest"])
        .assert_success();
    assert_eq!(oci_layer_diff_ids(&workspace.path("out")), image.diff_ids);
}

#[test]
fn vfs_image_stored_by_skopeo_is_read_with_its_digest_and_layers() {
    read_back_what_skopeo_stored("vfs");
}

#[test]
fn overlay_image_stored_by_skopeo_is_read_with_its_digest_and_layers() {
    read_back_what_skopeo_stored("overlay");
}

#[test]
fn delete_removes_the_image_and_a_missing_image_exits_2() {
    let workspace = Workspace::new();
    workspace.image("src", "latest", 43);
    let store = PodmanStore::new("vfs");
    let reference = store.reference(NAME);
    workspace
        .skopos(&["--insecure-policy", "copy", "oci:src:latest", &reference])
        .assert_success();
    assert_eq!(store.image_list().len(), 1);

    workspace.skopos(&["delete", &reference]).assert_success();
    assert_eq!(store.image_list(), Vec::<String>::new());
    let layers = store.graph_root().join("vfs-layers/layers.json");
    assert_eq!(
        read(&layers),
        b"[]",
        "the image's layers are deleted with it"
    );

    let missing = workspace.skopos(&["inspect", &reference]);
    assert_one_line_failure(&missing, Some(2));
    assert!(
        missing.stderr.contains("does not resolve to an image ID"),
        "{}",
        missing.stderr
    );
}

/// A small OCI image whose layers exercise what a driver must get right: a whiteout, an
/// opaque directory, symlinks, hard links, a FIFO, a device node, owners, modes, mtimes,
/// and an uncompressed layer next to a gzip one. Returns the layers' DiffIDs.
fn write_special_image(layout: &Path) -> Vec<String> {
    fn entry(
        builder: &mut tar::Builder<Vec<u8>>,
        kind: tar::EntryType,
        path: &str,
        mode: u32,
        body: &[u8],
        link: Option<&str>,
    ) {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(if path.contains("owned") { 1000 } else { 0 });
        header.set_gid(if path.contains("owned") { 1000 } else { 0 });
        header.set_mtime(1_600_000_000 + path.len() as u64);
        header.set_size(body.len() as u64);
        if kind == tar::EntryType::Char {
            header.set_device_major(1).expect("major");
            header.set_device_minor(3).expect("minor");
        }
        if let Some(link) = link {
            header.set_link_name(link).expect("link name");
        }
        header.set_path(path).expect("path");
        header.set_cksum();
        builder.append(&header, body).expect("tar entry");
    }
    use tar::EntryType::{Char, Directory as Dir, Fifo, Link, Regular as File, Symlink};
    let mut base = tar::Builder::new(Vec::new());
    entry(&mut base, Dir, "etc/", 0o755, b"", None);
    entry(&mut base, File, "etc/keep", 0o644, b"kept\n", None);
    entry(&mut base, File, "etc/gone", 0o600, b"deleted later\n", None);
    entry(&mut base, Dir, "etc/dir/", 0o750, b"", None);
    entry(
        &mut base,
        File,
        "etc/dir/old",
        0o644,
        b"hidden by an opaque dir\n",
        None,
    );
    entry(&mut base, Dir, "bin/", 0o755, b"", None);
    entry(
        &mut base,
        File,
        "bin/tool",
        0o4755,
        b"#!/bin/sh\necho tool\n",
        None,
    );
    entry(&mut base, Symlink, "bin/link", 0o777, b"", Some("tool"));
    entry(&mut base, Link, "bin/hard", 0o755, b"", Some("bin/tool"));
    entry(&mut base, Dir, "run/", 0o755, b"", None);
    entry(&mut base, Fifo, "run/fifo", 0o644, b"", None);
    entry(&mut base, Dir, "dev/", 0o755, b"", None);
    entry(&mut base, Char, "dev/null", 0o666, b"", None);
    entry(
        &mut base,
        File,
        "home/owned",
        0o640,
        b"a user's file\n",
        None,
    );
    let base = base.into_inner().expect("tar");
    let mut top = tar::Builder::new(Vec::new());
    entry(&mut top, File, "etc/.wh.gone", 0o644, b"", None);
    entry(&mut top, Dir, "etc/dir/", 0o755, b"", None);
    entry(&mut top, File, "etc/dir/.wh..wh..opq", 0o644, b"", None);
    entry(&mut top, File, "etc/dir/new", 0o644, b"only this\n", None);
    entry(
        &mut top,
        File,
        "bin/tool",
        0o755,
        b"#!/bin/sh\necho new tool\n",
        None,
    );
    let top = top.into_inner().expect("tar");

    write_layout(layout, &[(base, true), (top, false)])
}

/// An OCI layout at `layout` holding one image (tagged `latest`) with these layer tars,
/// each gzip'd or not; returns the DiffIDs.
fn write_layout(layout: &Path, layers: &[(Vec<u8>, bool)]) -> Vec<String> {
    use std::io::Write;
    let blobs = layout.join("blobs/sha256");
    common::create_dir(&blobs);
    let put = |bytes: &[u8]| -> (String, usize) {
        let digest = sha256_digest(bytes);
        std::fs::write(blobs.join(&digest["sha256:".len()..]), bytes).expect("blob");
        (digest, bytes.len())
    };
    let diff_ids: Vec<String> = layers.iter().map(|(tar, _)| sha256_digest(tar)).collect();
    let descriptors: Vec<serde_json::Value> = layers
        .iter()
        .map(|(tar, gzipped)| {
            let (bytes, media_type) = if *gzipped {
                let mut gzip =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                gzip.write_all(tar).expect("gzip");
                let compressed = gzip.finish().expect("gzip");
                (compressed, "application/vnd.oci.image.layer.v1.tar+gzip")
            } else {
                (tar.clone(), "application/vnd.oci.image.layer.v1.tar")
            };
            let (digest, size) = put(&bytes);
            serde_json::json!({"mediaType": media_type, "digest": digest, "size": size})
        })
        .collect();
    let config = serde_json::json!({
        "created": "2024-01-02T03:04:05.5Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/tool"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let (config_digest, config_size) = put(&serde_json::to_vec(&config).expect("json"));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": descriptors,
    });
    let (manifest_digest, manifest_size) = put(&serde_json::to_vec(&manifest).expect("json"));
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("oci-layout");
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": "latest"},
        }],
    });
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).expect("json"),
    )
    .expect("index");
    diff_ids
}

/// Everything about the files of a directory tree that a driver sets: type, mode, owner,
/// mtime, contents or link target, device number, the overlay opaque xattr, and which
/// names are hard links of each other.
fn layer_tree(root: &Path) -> Vec<String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut lines = Vec::new();
    let mut inodes = std::collections::HashMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut children: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("listing {}: {error}", dir.display()))
            .map(|entry| entry.expect("dir entry").path())
            .collect();
        children.sort();
        for path in children {
            let meta = std::fs::symlink_metadata(&path).expect("lstat");
            let name = path
                .strip_prefix(root)
                .expect("under root")
                .display()
                .to_string();
            let what = if meta.is_dir() {
                stack.push(path.clone());
                // Root's overlay reads the trusted.* xattr, a rootless one the user.* one.
                let opaque: Vec<String> = ["trusted.overlay.opaque", "user.overlay.opaque"]
                    .into_iter()
                    .filter_map(|name| {
                        let mut value = [0u8; 8];
                        rustix::fs::lgetxattr(&path, name, &mut value)
                            .ok()
                            .map(|n| format!("{name}={}", String::from_utf8_lossy(&value[..n])))
                    })
                    .collect();
                format!("dir opaque=[{}]", opaque.join(" "))
            } else if meta.file_type().is_symlink() {
                format!(
                    "symlink -> {}",
                    std::fs::read_link(&path).expect("readlink").display()
                )
            } else if meta.is_file() {
                let first = inodes.entry(meta.ino()).or_insert_with(|| name.clone());
                format!("file {} link-of={first}", sha256_digest(&read(&path)))
            } else {
                format!("special rdev={}", meta.rdev())
            };
            // Directories' times change as entries are added; whiteouts (0/0 character
            // devices) keep the time they were made, as in c/storage.
            let whiteout = meta.file_type().is_char_device() && meta.rdev() == 0;
            let mtime = if meta.is_dir() || whiteout {
                0
            } else {
                meta.mtime()
            };
            lines.push(format!(
                "{name}: {what} mode={:o} owner={}:{} mtime={mtime}",
                meta.mode(),
                meta.uid(),
                meta.gid()
            ));
        }
    }
    lines.sort();
    lines
}

fn special_layers_match_skopeo(driver: &str) {
    let workspace = Workspace::new();
    let diff_ids = write_special_image(&workspace.path("special"));
    let by_skopeo = PodmanStore::new(driver);
    let by_skopos = PodmanStore::new(driver);
    workspace
        .skopeo_as_root(&[
            "--insecure-policy",
            "copy",
            "oci:special:latest",
            &by_skopeo.reference(NAME),
        ])
        .assert_success();
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "oci:special:latest",
            &by_skopos.reference(NAME),
        ])
        .assert_success();

    let expected = podman_identity(&by_skopeo, NAME);
    assert_eq!(podman_identity(&by_skopos, NAME), expected);
    let layers_json = |store: &PodmanStore| {
        let mut layers = parse_json(&read(
            &store
                .graph_root()
                .join(format!("{driver}-layers/layers.json")),
        ));
        for layer in layers.as_array_mut().expect("layers") {
            layer.as_object_mut().expect("layer").remove("created");
        }
        layers
    };
    assert_eq!(layers_json(&by_skopos), layers_json(&by_skopeo));
    for layer in layers_json(&by_skopeo).as_array().expect("layers") {
        let id = layer["id"].as_str().expect("layer id");
        let contents = |store: &PodmanStore| match driver {
            "vfs" => store.graph_root().join("vfs/dir").join(id),
            _ => store.graph_root().join("overlay").join(id).join("diff"),
        };
        assert_eq!(
            layer_tree(&contents(&by_skopos)),
            layer_tree(&contents(&by_skopeo)),
            "layer {id} differs from skopeo's"
        );
    }

    let archive = workspace.path("saved.tar");
    by_skopos.save(NAME, &archive);
    assert_eq!(saved_layer_digests(&archive, &workspace, "saved"), diff_ids);
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            &by_skopos.reference(NAME),
            "oci:out:latest",
        ])
        .assert_success();
    assert_eq!(oci_layer_diff_ids(&workspace.path("out")), diff_ids);
}

#[test]
fn vfs_layers_with_whiteouts_links_and_devices_match_skopeo() {
    special_layers_match_skopeo("vfs");
}

#[test]
fn overlay_layers_with_whiteouts_links_and_devices_match_skopeo() {
    special_layers_match_skopeo("overlay");
}

/// A layer tar with one regular file whose raw header name is `name` (the tar crate
/// refuses to write `..` names itself).
fn tar_with_raw_name(name: &[u8]) -> Vec<u8> {
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_size(4);
    header.set_mtime(1_600_000_000);
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder.append(&header, &b"evil"[..]).expect("tar entry");
    builder.into_inner().expect("tar")
}

#[test]
fn a_layer_whose_long_name_claims_4_gib_is_refused_naming_the_limit() {
    const MIB: u64 = 1 << 20;
    const CLAIMED: u64 = 4 << 30;
    let workspace = Workspace::new();
    // A GNU long-name record that claims 4 GiB; 8 MiB of it follow, then the layer ends. A
    // reader that takes the record whole would hold all that there is before failing.
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::GNULongName);
    header.set_path("././@LongLink").expect("a header name");
    header.set_size(CLAIMED);
    header.set_cksum();
    let mut layer = header.as_bytes().to_vec();
    layer.resize(512 + 8 * MIB as usize, b'n');
    write_layout(&workspace.path("hostile"), &[(layer, false)]);
    let store = PodmanStore::new("vfs");
    let (outcome, peak) = workspace.skopos_peak_memory(&[
        "--insecure-policy",
        "copy",
        "oci:hostile:latest",
        &store.reference(NAME),
    ]);
    eprintln!("peak memory {} MiB", peak / MIB);
    assert_one_line_failure(&outcome, Some(1));
    let limit = format!(
        "header field too long: GNU long name of {CLAIMED} bytes is past the limit of {MIB} bytes"
    );
    assert!(outcome.stderr.contains(&limit), "{}", outcome.stderr);
    assert!(
        peak < 256 * MIB,
        "skopos held {peak} bytes refusing the layer"
    );
    assert_eq!(store.image_list(), Vec::<String>::new());
}

/// A layer that is no tar at all (here lines of text) fails the copy in one line, in Go's
/// words as skopeo's does, without quoting the layer's bytes; nothing is stored.
#[test]
fn a_layer_that_is_not_a_tar_fails_in_go_s_words_without_its_bytes() {
    let workspace = Workspace::new();
    let text = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n";
    write_layout(
        &workspace.path("text"),
        &[(text.repeat(20).into_bytes(), false)],
    );
    let store = PodmanStore::new("vfs");
    let args = [
        "--insecure-policy",
        "copy",
        "oci:text:latest",
        &store.reference(NAME),
    ];
    let outcome = workspace.skopos(&args);
    assert_one_line_failure(&outcome, Some(1));
    let reason = "archive/tar: invalid tar header";
    assert!(outcome.stderr.contains(reason), "{}", outcome.stderr);
    assert!(!outcome.stderr.contains("root:x"), "{}", outcome.stderr);
    assert_eq!(store.image_list(), Vec::<String>::new());
    // skopeo gives the same reason (after its own wrapping of the layer applier's output).
    let skopeo_store = PodmanStore::new("vfs");
    let expected = workspace.skopeo_as_root(&[
        "--insecure-policy",
        "copy",
        "oci:text:latest",
        &skopeo_store.reference(NAME),
    ]);
    assert_eq!(expected.code, Some(1));
    assert!(expected.stderr.contains(reason), "{}", expected.stderr);
}

#[test]
fn a_layer_escaping_its_directory_fails_and_leaves_nothing_podman_sees() {
    let workspace = Workspace::new();
    let good = tar_with_raw_name(b"fine");
    let evil = tar_with_raw_name(b"../../escaped-by-skopos-test");
    write_layout(&workspace.path("evil"), &[(good, true), (evil, true)]);
    for driver in ["vfs", "overlay"] {
        let store = PodmanStore::new(driver);
        let outcome = workspace.skopos(&[
            "--insecure-policy",
            "copy",
            "oci:evil:latest",
            &store.reference(NAME),
        ]);
        assert_one_line_failure(&outcome, Some(1));
        assert!(
            outcome.stderr.contains("outside of the layer"),
            "{}",
            outcome.stderr
        );
        assert_eq!(store.image_list(), Vec::<String>::new());
        let layers = std::fs::read(
            store
                .graph_root()
                .join(format!("{driver}-layers/layers.json")),
        )
        .unwrap_or_else(|_| b"[]".to_vec());
        assert_eq!(
            parse_json(&layers),
            serde_json::json!([]),
            "no layer is recorded"
        );
        for staging in ["tmp", &format!("{driver}/staging")] {
            let staging = store.graph_root().join(staging);
            assert_eq!(
                std::fs::read_dir(&staging).map(|d| d.count()).unwrap_or(0),
                0,
                "{} is not cleaned up",
                staging.display()
            );
        }
        for escaped in [
            store.graph_root().join("escaped-by-skopos-test"),
            store.graph_root().join("tmp/escaped-by-skopos-test"),
        ] {
            assert!(!escaped.exists(), "{} was written", escaped.display());
        }
    }
}

#[test]
fn unknown_driver_and_a_file_as_graph_root_fail_like_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "latest", 44);
    let root = workspace.path("store");
    let unknown = format!(
        "containers-storage:[nosuchdriver@{}+{}]{NAME}",
        root.display(),
        workspace.path("run").display()
    );
    let pair = [
        workspace.skopeo_as_root(&["--insecure-policy", "copy", "oci:src:latest", &unknown]),
        workspace.skopos(&["--insecure-policy", "copy", "oci:src:latest", &unknown]),
    ];
    // skopeo logs the driver failure once more on a line of its own before the error.
    assert_eq!(pair[0].code, Some(1));
    assert_one_line_failure(&pair[1], Some(1));
    let skopeo_error = pair[0].stderr.trim_end().lines().last().unwrap_or_default();
    assert_eq!(
        common::skopeo_message(&pair[1].stderr),
        common::skopeo_message(skopeo_error)
    );
    assert!(!root.join("nosuchdriver-layers").exists());

    let file = workspace.path("a-file");
    std::fs::write(&file, b"not a store").expect("write");
    let not_a_store = format!(
        "containers-storage:[vfs@{}+{}]{NAME}",
        file.display(),
        workspace.path("run").display()
    );
    let outcome = workspace.skopos(&["inspect", &not_a_store]);
    assert_one_line_failure(&outcome, Some(1));
    let expected = workspace.skopeo_as_root(&["inspect", &not_a_store]);
    assert_eq!(
        common::skopeo_message(&outcome.stderr),
        common::skopeo_message(&expected.stderr)
    );
}

#[test]
fn an_id_prefix_that_matches_two_images_is_refused() {
    let workspace = Workspace::new();
    workspace.image("src", "latest", 45);
    let store = PodmanStore::new("vfs");
    for (name, id) in [("example.com/a:1", "abc1"), ("example.com/b:1", "abc2")] {
        let with_id = format!("{}@{id}{}", store.reference(name), "0".repeat(60));
        workspace
            .skopos(&["--insecure-policy", "copy", "oci:src:latest", &with_id])
            .assert_success();
    }
    assert_eq!(store.image_list().len(), 2);
    let outcome = workspace.skopos(&["inspect", &store.reference("abc")]);
    assert_one_line_failure(&outcome, Some(1));
    assert!(
        outcome.stderr.contains("more than one image"),
        "{}",
        outcome.stderr
    );
    let one = workspace.skopos(&["inspect", "--raw", &store.reference("abc1")]);
    one.assert_success();
}

/// `images.json` and `layers.json` of a store, without the layers' creation times and
/// without the empty signature list skopeo 1.9.3 records for an unsigned image (a
/// zero-length `signature-<digest>` item and `signatures-sizes` metadata; skopeo 1.22, the
/// reference, and skopos record nothing).
fn store_records(store: &PodmanStore, driver: &str) -> (serde_json::Value, serde_json::Value) {
    let root = store.graph_root();
    let mut images = parse_json(&read(&root.join(format!("{driver}-images/images.json"))));
    for image in images.as_array_mut().expect("images") {
        let empty: Vec<String> = image["big-data-sizes"]
            .as_object()
            .expect("big-data-sizes")
            .iter()
            .filter(|(key, size)| key.starts_with("signature-") && size.as_u64() == Some(0))
            .map(|(key, _)| key.clone())
            .collect();
        for key in &empty {
            for field in ["big-data-sizes", "big-data-digests"] {
                image[field].as_object_mut().expect(field).remove(key);
            }
            let names = image["big-data-names"].as_array_mut().expect("names");
            names.retain(|name| name.as_str() != Some(key.as_str()));
            image["metadata"] = serde_json::json!("{}");
        }
    }
    let mut layers = parse_json(&read(&root.join(format!("{driver}-layers/layers.json"))));
    for layer in layers.as_array_mut().expect("layers") {
        layer.as_object_mut().expect("layer").remove("created");
    }
    (images, layers)
}

#[test]
fn shared_layers_moved_tags_and_repeated_copies_end_as_with_skopeo() {
    let workspace = Workspace::new();
    let base = tar_with_raw_name(b"base");
    write_layout(
        &workspace.path("first"),
        &[(base.clone(), true), (tar_with_raw_name(b"first"), true)],
    );
    write_layout(
        &workspace.path("second"),
        &[(base, true), (tar_with_raw_name(b"second"), false)],
    );
    // Its only layer is `first`'s top layer: the same blob under another parent.
    write_layout(
        &workspace.path("third"),
        &[(tar_with_raw_name(b"first"), true)],
    );
    let steps = [
        ("oci:first:latest", NAME),
        ("oci:third:latest", "example.com/skopos/third:v3"),
        ("oci:second:latest", NAME),
        ("oci:first:latest", "example.com/skopos/other:v2"),
        ("oci:first:latest", "example.com/skopos/other:v2"),
    ];
    for driver in ["vfs", "overlay"] {
        let by_skopeo = PodmanStore::new(driver);
        let by_skopos = PodmanStore::new(driver);
        for (source, name) in steps {
            workspace
                .skopeo_as_root(&[
                    "--insecure-policy",
                    "copy",
                    source,
                    &by_skopeo.reference(name),
                ])
                .assert_success();
            workspace
                .skopos(&[
                    "--insecure-policy",
                    "copy",
                    source,
                    &by_skopos.reference(name),
                ])
                .assert_success();
        }
        assert_eq!(by_skopos.image_list(), by_skopeo.image_list());
        assert_eq!(by_skopos.image_list().len(), 3);
        assert_eq!(
            store_records(&by_skopos, driver),
            store_records(&by_skopeo, driver)
        );
    }
}

#[test]
fn list_tags_refuses_containers_storage_as_skopeo_does() {
    let workspace = Workspace::new();
    let store = PodmanStore::new("vfs");
    let reference = store.reference(NAME);
    let skopeo = workspace.skopeo_as_root(&["list-tags", &reference]);
    let skopos = workspace.skopos(&["list-tags", &reference]);
    assert_one_line_failure(&skopos, Some(1));
    assert_eq!(skopeo.code, Some(1));
    assert_eq!(
        common::skopeo_message(&skopos.stderr),
        common::skopeo_message(&skopeo.stderr)
    );
}

/// skopeo 1.22 (the reference) from `$SKOPEO_1_22`; `None`, said visibly, without it.
fn skopeo_1_22(test: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("SKOPEO_1_22").map(std::path::PathBuf::from);
    if path.is_none() {
        eprintln!("SKIPPED: {test}: comparison with skopeo 1.22 (set SKOPEO_1_22)");
    }
    path
}

#[test]
fn records_are_skopeo_1_22_s_byte_for_byte() {
    let Some(reference_skopeo) = skopeo_1_22("records_are_skopeo_1_22_s_byte_for_byte") else {
        return;
    };
    let workspace = Workspace::new();
    write_special_image(&workspace.path("special"));
    for driver in ["vfs", "overlay"] {
        let by_skopeo = PodmanStore::new(driver);
        let by_skopos = PodmanStore::new(driver);
        workspace
            .skopeo_binary_as_root(
                &reference_skopeo,
                &[
                    "--insecure-policy",
                    "copy",
                    "oci:special:latest",
                    &by_skopeo.reference(NAME),
                ],
            )
            .assert_success();
        workspace
            .skopos(&[
                "--insecure-policy",
                "copy",
                "oci:special:latest",
                &by_skopos.reference(NAME),
            ])
            .assert_success();
        let images = |store: &PodmanStore| {
            read(
                &store
                    .graph_root()
                    .join(format!("{driver}-images/images.json")),
            )
        };
        assert_eq!(
            String::from_utf8_lossy(&images(&by_skopos)),
            String::from_utf8_lossy(&images(&by_skopeo))
        );
        assert_eq!(
            store_records(&by_skopos, driver).1,
            store_records(&by_skopeo, driver).1
        );
    }
}

#[test]
fn skopos_and_podman_writing_one_store_at_once_both_keep_their_images() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "latest", 46);
    workspace.image("other", "latest", 47);
    let archive = workspace.path("other.tar");
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "oci:other:latest",
            &format!("docker-archive:{}:example.com/loaded:v1", archive.display()),
        ])
        .assert_success();
    let archive = archive.to_str().expect("UTF-8 path");
    for driver in ["vfs", "overlay"] {
        let store = PodmanStore::new(driver);
        let rounds = 4;
        for round in 0..rounds {
            let load = store
                .command(&["load", "-q", "-i", archive])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("starting podman load");
            let name = format!("example.com/concurrent:{round}");
            workspace
                .skopos(&[
                    "--insecure-policy",
                    "copy",
                    "oci:src:latest",
                    &store.reference(&name),
                ])
                .assert_success();
            let loaded = load.wait_with_output().expect("podman load");
            assert!(
                loaded.status.success(),
                "podman load: {}",
                String::from_utf8_lossy(&loaded.stderr)
            );
            if round + 1 < rounds {
                store.podman_ok(&["rmi", "example.com/loaded:v1"]);
            }
        }
        let mut expected: Vec<String> = (0..rounds)
            .map(|round| format!("example.com/concurrent:{round}"))
            .collect();
        expected.push("example.com/loaded:v1".to_string());
        let mut listed: Vec<String> = store
            .image_list()
            .iter()
            .map(|line| line.split(' ').next().unwrap_or_default().to_string())
            .collect();
        listed.sort();
        assert_eq!(listed, expected);
        let archive_out = workspace.path(&format!("saved-{driver}.tar"));
        store.save("example.com/concurrent:0", &archive_out);
        assert_eq!(
            saved_layer_digests(&archive_out, &workspace, &format!("saved-{driver}")),
            image.diff_ids
        );
        store.podman_ok(&["image", "inspect", "example.com/loaded:v1"]);
    }
}

#[test]
fn an_image_chosen_from_a_list_is_stored_with_the_list_as_skopeo_does() {
    let workspace = Workspace::new();
    workspace.multi_arch("multi", "latest");
    let by_skopeo = PodmanStore::new("vfs");
    let by_skopos = PodmanStore::new("vfs");
    workspace
        .skopeo_as_root(&[
            "--insecure-policy",
            "copy",
            "oci:multi:latest",
            &by_skopeo.reference(NAME),
        ])
        .assert_success();
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "oci:multi:latest",
            &by_skopos.reference(NAME),
        ])
        .assert_success();
    assert_eq!(
        podman_identity(&by_skopos, NAME),
        podman_identity(&by_skopeo, NAME)
    );
    assert_eq!(
        store_records(&by_skopos, "vfs"),
        store_records(&by_skopeo, "vfs")
    );
    let inspect = common::Pair {
        skopos: workspace.skopos(&["inspect", &by_skopos.reference(NAME)]),
        skopeo: workspace.skopeo_as_root(&["inspect", &by_skopeo.reference(NAME)]),
    };
    inspect.assert_same_inspect_json();
}

#[test]
fn an_image_podman_pulled_is_read_with_its_digest_and_layers() {
    use skopos_testimage::registry::{RegistryOptions, TestRegistry};
    let registry = TestRegistry::start(RegistryOptions::default());
    let workspace = Workspace::new();
    let image = workspace.image("src", "latest", 48);
    let pushed = format!("{}/skopos/pulled:v1", registry.host);
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            "oci:src:latest",
            &format!("docker://{pushed}"),
        ])
        .assert_success();
    for driver in ["vfs", "overlay"] {
        let store = PodmanStore::new(driver);
        store.podman_ok(&["pull", "-q", "--tls-verify=false", &pushed]);
        let reference = store.reference(&pushed);
        let raw = workspace.skopos(&["inspect", "--raw", &reference]);
        raw.assert_success();
        assert_eq!(sha256_digest(&raw.stdout_bytes), image.manifest.digest);
        let out = format!("out-{driver}");
        workspace
            .skopos(&[
                "--insecure-policy",
                "copy",
                &reference,
                &format!("oci:{out}:latest"),
            ])
            .assert_success();
        assert_eq!(oci_layer_diff_ids(&workspace.path(&out)), image.diff_ids);
    }
}

#[test]
fn a_reference_without_a_store_uses_storage_conf_and_the_store_s_prior_driver() {
    let workspace = Workspace::new();
    workspace.image("src", "latest", 49);
    let store = PodmanStore::new("overlay");
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "oci:src:latest",
            &store.reference(NAME),
        ])
        .assert_success();
    // No driver in the file: the store already is an overlay store.
    let conf = workspace.path("storage.conf");
    std::fs::write(
        &conf,
        format!(
            "[storage]\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
            store.graph_root().display(),
            store.run_root().display()
        ),
    )
    .expect("writing storage.conf");
    let conf = conf.to_str().expect("UTF-8 path");
    let other = "example.com/skopos/from-conf:v1";
    workspace
        .skopos_with_env(
            &[("CONTAINERS_STORAGE_CONF", conf)],
            &[
                "--insecure-policy",
                "copy",
                "oci:src:latest",
                &format!("containers-storage:{other}"),
            ],
        )
        .assert_success();
    let names: Vec<String> = store
        .image_list()
        .iter()
        .map(|line| line.split(' ').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names, vec![other.to_string(), NAME.to_string()]);
    let inspect = workspace.skopos_with_env(
        &[("CONTAINERS_STORAGE_CONF", conf)],
        &["inspect", "--raw", &format!("containers-storage:{NAME}")],
    );
    inspect.assert_success();
}

#[test]
fn the_same_layer_twice_in_one_image_is_stored_as_skopeo_does() {
    let workspace = Workspace::new();
    let repeated = tar_with_raw_name(b"repeated");
    let diff_ids = write_layout(
        &workspace.path("twice"),
        &[
            (repeated.clone(), true),
            (tar_with_raw_name(b"middle"), true),
            (repeated, true),
        ],
    );
    for driver in ["vfs", "overlay"] {
        let by_skopeo = PodmanStore::new(driver);
        let by_skopos = PodmanStore::new(driver);
        workspace
            .skopeo_as_root(&[
                "--insecure-policy",
                "copy",
                "oci:twice:latest",
                &by_skopeo.reference(NAME),
            ])
            .assert_success();
        workspace
            .skopos(&[
                "--insecure-policy",
                "copy",
                "oci:twice:latest",
                &by_skopos.reference(NAME),
            ])
            .assert_success();
        assert_eq!(
            podman_identity(&by_skopos, NAME),
            podman_identity(&by_skopeo, NAME)
        );
        assert_eq!(
            store_records(&by_skopos, driver),
            store_records(&by_skopeo, driver)
        );
        let archive = workspace.path(&format!("twice-{driver}.tar"));
        by_skopos.save(NAME, &archive);
        assert_eq!(
            saved_layer_digests(&archive, &workspace, &format!("twice-{driver}")),
            diff_ids
        );
    }
}

/// A one-layer image (tagged `latest`) whose layer holds `/bin/true` and the shared libraries
/// it loads (`ldd`) at their paths: enough to run `/bin/true` in a container.
fn write_true_image(layout: &Path) {
    let mut paths = vec!["/bin/true".to_string()];
    let ldd = std::process::Command::new("ldd")
        .arg("/bin/true")
        .output()
        .expect("running ldd");
    // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)`, `/lib64/ld-linux-x86-64.so.2 (0x…)`;
    // nothing of the kind for a static binary.
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let path = line.rsplit("=>").next().unwrap_or_default().trim();
        let path = path.split(' ').next().unwrap_or_default();
        if path.starts_with('/') {
            paths.push(path.to_string());
        }
    }
    let mut builder = tar::Builder::new(Vec::new());
    for path in &paths {
        let bytes = read(Path::new(path));
        let mut header = tar::Header::new_gnu();
        header.set_path(&path[1..]).expect("path");
        header.set_size(bytes.len() as u64);
        header.set_mode(0o755);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_600_000_000);
        header.set_cksum();
        builder.append(&header, &bytes[..]).expect("tar entry");
    }
    write_layout(layout, &[(builder.into_inner().expect("tar"), true)]);
}

fn podman_runs_what_skopos_copied_in(driver: &str) {
    let workspace = Workspace::new();
    write_true_image(&workspace.path("true"));
    let by_skopeo = PodmanStore::new(driver);
    let by_skopos = PodmanStore::new(driver);
    workspace
        .skopeo_as_root(&[
            "--insecure-policy",
            "copy",
            "oci:true:latest",
            &by_skopeo.reference(NAME),
        ])
        .assert_success();
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "oci:true:latest",
            &by_skopos.reference(NAME),
        ])
        .assert_success();
    // No network: a container that runs /bin/true needs none, nor a network stack.
    let run = ["run", "--rm", "--network", "none", NAME, "/bin/true"];
    let reference = by_skopeo.podman(&run);
    if !reference.status.success() {
        let stderr = String::from_utf8_lossy(&reference.stderr);
        report_skipped(&format!(
            "podman run of the {driver} image skopos copied in: this machine cannot run \
             containers (podman run of the same image copied in by skopeo fails: {})",
            stderr.trim().lines().last().unwrap_or_default()
        ));
        return;
    }
    let ours = by_skopos.podman(&run);
    assert!(
        ours.status.success(),
        "podman run of the image skopos stored: {}",
        String::from_utf8_lossy(&ours.stderr)
    );
}

#[test]
fn vfs_podman_runs_an_image_skopos_copied_in() {
    podman_runs_what_skopos_copied_in("vfs");
}

#[test]
fn overlay_podman_runs_an_image_skopos_copied_in() {
    podman_runs_what_skopos_copied_in("overlay");
}

/// As a rootless user (a test user with subuid/subgid ranges), skopos copies an image into
/// the user's store as skopeo does there: podman, rootless too, lists it with the same
/// identity, the layers hold the same files with the same (mapped) owners, the device node
/// is left out as c/storage leaves it out in a user namespace, and the image copies back
/// out with its original DiffIDs.
fn rootless_round_trip_matches_skopeo(driver: &str) {
    let Some(user) = common::rootless_test_user(&format!("rootless {driver} round trip")) else {
        return;
    };
    let workspace = Workspace::new();
    let diff_ids = write_special_image(&workspace.path("special"));
    for dir in ["user-tmp", "out"] {
        common::create_dir(&workspace.path(dir));
    }
    for dir in ["home-skopos", "home-skopeo", "user-tmp", "out", "special"] {
        common::give_to_user(user, &workspace.path(dir));
    }
    std::fs::set_permissions(
        workspace.path(""),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("opening the work area");
    let skopos = std::path::PathBuf::from(env!("CARGO_BIN_EXE_skopos"));
    let by_skopeo = PodmanStore::owned_by(driver, user);
    let by_skopos = PodmanStore::owned_by(driver, user);
    for (binary, home, store) in [
        (common::skopeo_binary(), "home-skopeo", &by_skopeo),
        (skopos.as_path(), "home-skopos", &by_skopos),
    ] {
        common::run_as_user(
            user,
            &workspace,
            binary,
            home,
            &[
                "--insecure-policy",
                "copy",
                "oci:special:latest",
                &store.reference(NAME),
            ],
        )
        .assert_success();
    }

    assert_eq!(
        podman_identity(&by_skopos, NAME),
        podman_identity(&by_skopeo, NAME)
    );
    assert_eq!(by_skopos.image_list(), by_skopeo.image_list());
    assert_eq!(
        store_records(&by_skopos, driver),
        store_records(&by_skopeo, driver)
    );
    let (_, layers) = store_records(&by_skopeo, driver);
    for (index, layer) in layers.as_array().expect("layers").iter().enumerate() {
        let id = layer["id"].as_str().expect("layer id");
        let contents = |store: &PodmanStore| match driver {
            "vfs" => store.graph_root().join("vfs/dir").join(id),
            _ => store.graph_root().join("overlay").join(id).join("diff"),
        };
        let ours = layer_tree(&contents(&by_skopos));
        assert_eq!(
            ours,
            layer_tree(&contents(&by_skopeo)),
            "layer {id} differs"
        );
        if index == 0 {
            assert!(
                !ours.iter().any(|line| line.starts_with("dev/null:")),
                "a device node cannot be made in a user namespace: {ours:#?}"
            );
        }
    }

    common::run_as_user(
        user,
        &workspace,
        &skopos,
        "home-skopos",
        &[
            "--insecure-policy",
            "copy",
            &by_skopos.reference(NAME),
            "oci:out:latest",
        ],
    )
    .assert_success();
    assert_eq!(oci_layer_diff_ids(&workspace.path("out")), diff_ids);
    let archive = workspace.path("user-tmp/saved.tar");
    by_skopos.save(NAME, &archive);
    assert_eq!(saved_layer_digests(&archive, &workspace, "saved"), diff_ids);
}

#[test]
fn vfs_rootless_round_trip_matches_skopeo() {
    rootless_round_trip_matches_skopeo("vfs");
}

#[test]
fn overlay_rootless_round_trip_matches_skopeo() {
    rootless_round_trip_matches_skopeo("overlay");
}
