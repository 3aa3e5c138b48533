//! `containers-storage:`: images copied in by skopos are what podman sees when skopeo copies
//! the same image in (same image ID, digest, repo digests, DiffIDs; `podman save` gives the
//! original layer tars), and images skopeo put into a store are read back by skopos with
//! their manifest digest and original layers. Each test makes its own stores in temp dirs
//! (podman with `--root`/`--runroot`, the tools with `[driver@root+runroot]`); the machine's
//! store is never touched.

mod common;

use std::io::Read;
use std::path::Path;

use common::{assert_one_line_failure, parse_json, read, Workspace};
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
