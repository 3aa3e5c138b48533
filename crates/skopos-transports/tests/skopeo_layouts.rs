//! The layouts written here must be byte for byte those skopeo 1.22.2 writes when copying
//! the same fixture (see `common`): the expected `index.json` bytes and file listings
//! below were taken from `skopeo --insecure-policy copy` runs of 1.9.3, which differ from
//! 1.22.2's only in the new index's `mediaType` and the `oci-layout` file's space.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use skopos_core::reference::OciImage;
use skopos_core::SystemContext;
use skopos_transports::dir::{DirDestination, DirSource};
use skopos_transports::oci::{OciDestination, OciSource};

async fn oci_copy(src: &Path, src_name: &str, dest: &Path, dest_name: Option<&str>, all: bool) {
    let ctx = SystemContext::default();
    let source = OciSource::open(src, &OciImage::Named(src_name.to_string()), &ctx)
        .await
        .unwrap();
    let image = dest_name.map_or(OciImage::Only, |n| OciImage::Named(n.to_string()));
    let destination = OciDestination::open(dest, &image, &ctx).unwrap();
    copy(&source, &destination, all).await;
}

fn index_json(dir: &Path) -> String {
    String::from_utf8(fs::read(dir.join("index.json")).unwrap()).unwrap()
}

fn entry(mime: &str, digest: &str, size: u32, name: Option<&str>) -> String {
    let annotations = name.map_or(String::new(), |n| {
        format!(r#","annotations":{{"org.opencontainers.image.ref.name":"{n}"}}"#)
    });
    format!(r#"{{"mediaType":"{mime}","digest":"{digest}","size":{size}{annotations}}}"#)
}

fn skopeo_index(entries: &[String]) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        entries.join(",")
    )
}

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

#[tokio::test]
async fn oci_layout_and_index_updates_match_skopeo() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let out = tmp.path().join("o");
    write_source_layout(&src);
    let amd = |name| entry(MANIFEST, AMD64_MANIFEST_DIGEST, 400, name);
    let arm = |name| entry(MANIFEST, ARM64_MANIFEST_DIGEST, 400, name);
    let multi = entry(INDEX, INDEX_DIGEST, 506, Some("multi"));

    // skopeo copy oci:src:single oci:o:tag
    oci_copy(&src, "single", &out, Some("tag"), false).await;
    assert_eq!(index_json(&out), skopeo_index(&[amd(Some("tag"))]));
    assert_eq!(
        fs::read(out.join("oci-layout")).unwrap(),
        br#"{"imageLayoutVersion":"1.0.0"}"#
    );
    // skopeo copy --all oci:src:multi oci:o:multi
    oci_copy(&src, "multi", &out, Some("multi"), true).await;
    assert_eq!(
        index_json(&out),
        skopeo_index(&[amd(Some("tag")), multi.clone()])
    );
    // skopeo copy oci:src:arm oci:o:tag — the name moves, the old entry stays.
    oci_copy(&src, "arm", &out, Some("tag"), false).await;
    let after_move = skopeo_index(&[amd(None), multi.clone(), arm(Some("tag"))]);
    assert_eq!(index_json(&out), after_move);
    // skopeo copy oci:src:single oci:o — replaces the unnamed entry with that digest.
    oci_copy(&src, "single", &out, None, false).await;
    assert_eq!(index_json(&out), after_move);
    // skopeo copy oci:src:single oci:o:tag — the name moves back, in place.
    oci_copy(&src, "single", &out, Some("tag"), false).await;
    assert_eq!(
        index_json(&out),
        skopeo_index(&[amd(Some("tag")), multi, arm(None)])
    );

    let file = 0o644 & !umask();
    let dir = 0o755 & !umask();
    let blob = |size: u32, hex: &str| format!("644 {size} blobs/sha256/{hex}");
    let mut expected = vec![
        format!("{dir:o} dir blobs"),
        format!("{dir:o} dir blobs/sha256"),
        // Manifests are written like index.json (umask applies); other blobs are 0644.
        format!(
            "{file:o} 400 blobs/sha256/510c21d0abf9c56d7c3fbe8eebe6d3b8abd9259330a92e1b4d9d9d4876732495"
        ),
        blob(
            30,
            "5d78d068ce2f3a9e7778d9588351375b4b3ee9a07778f410fe0005c670f2fe59",
        ),
        format!(
            "{file:o} 506 blobs/sha256/78edbbfbeb89eea8d9fdd9dfbd2f949a7007a6aace0e46f83202336474f87241"
        ),
        blob(
            30,
            "86e86016c88c9b9135f2e23473575ab6f6d1d355493529043f70673068c1d24c",
        ),
        format!(
            "{file:o} 400 blobs/sha256/97db1a3f5052caefdc3e65876625b7d122a7d975ec434e946ddbd21e8b1c8f3f"
        ),
        blob(
            151,
            "acf8f3bc6c755b5b1a40e21caf1fffeac1e26341ff0aeba24e7ac24a1a068403",
        ),
        blob(
            151,
            "c2144f05ce6825b91b0b73e2addfb4cf3c8858e9e8030ceac8988075ec529dfd",
        ),
        format!("{file:o} 661 index.json"),
        format!("{file:o} 30 oci-layout"),
    ];
    expected.sort();
    assert_eq!(listing(&out), expected);
}

#[tokio::test]
async fn dir_layouts_match_skopeo() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write_source_layout(&src);
    let ctx = SystemContext::default();
    let file = 0o644 & !umask();

    // skopeo copy oci:src:single dir:d
    let single = tmp.path().join("d");
    let source = OciSource::open(&src, &OciImage::Named("single".into()), &ctx)
        .await
        .unwrap();
    let destination = DirDestination::open(&single, &ctx).unwrap();
    copy(&source, &destination, false).await;
    drop(destination);
    let mut expected = vec![
        "644 30 5d78d068ce2f3a9e7778d9588351375b4b3ee9a07778f410fe0005c670f2fe59".to_string(),
        "644 151 c2144f05ce6825b91b0b73e2addfb4cf3c8858e9e8030ceac8988075ec529dfd".to_string(),
        format!("{file:o} 400 manifest.json"),
        format!("{file:o} 33 version"),
    ];
    expected.sort();
    assert_eq!(listing(&single), expected);
    assert_eq!(
        fs::read(single.join("version")).unwrap(),
        b"Directory Transport Version: 1.1\n"
    );
    assert_eq!(
        fs::read(single.join("manifest.json")).unwrap(),
        amd64().manifest
    );

    // skopeo copy --all oci:src:multi dir:dm
    let multi = tmp.path().join("dm");
    let source = OciSource::open(&src, &OciImage::Named("multi".into()), &ctx)
        .await
        .unwrap();
    let destination = DirDestination::open(&multi, &ctx).unwrap();
    copy(&source, &destination, true).await;
    drop(destination);
    let mut expected = vec![
        format!(
            "{file:o} 400 510c21d0abf9c56d7c3fbe8eebe6d3b8abd9259330a92e1b4d9d9d4876732495.manifest.json"
        ),
        "644 30 5d78d068ce2f3a9e7778d9588351375b4b3ee9a07778f410fe0005c670f2fe59".to_string(),
        "644 30 86e86016c88c9b9135f2e23473575ab6f6d1d355493529043f70673068c1d24c".to_string(),
        format!(
            "{file:o} 400 97db1a3f5052caefdc3e65876625b7d122a7d975ec434e946ddbd21e8b1c8f3f.manifest.json"
        ),
        "644 151 acf8f3bc6c755b5b1a40e21caf1fffeac1e26341ff0aeba24e7ac24a1a068403".to_string(),
        "644 151 c2144f05ce6825b91b0b73e2addfb4cf3c8858e9e8030ceac8988075ec529dfd".to_string(),
        format!("{file:o} 506 manifest.json"),
        format!("{file:o} 33 version"),
    ];
    expected.sort();
    assert_eq!(listing(&multi), expected);
    assert_eq!(fs::read(multi.join("manifest.json")).unwrap(), index());

    // And back: the dir: image reads as the list it stores.
    let back = DirSource::open(&multi).unwrap();
    let (top, mime) = skopos_core::ImageSource::manifest(&back, None)
        .await
        .unwrap();
    assert_eq!(top, index());
    assert_eq!(mime, "", "dir: leaves MIME detection to the engine");
    let instance = ARM64_MANIFEST_DIGEST.parse().unwrap();
    let (arm, _) = skopos_core::ImageSource::manifest(&back, Some(&instance))
        .await
        .unwrap();
    assert_eq!(arm, arm64().manifest);
}
