//! Shared test fixtures: a tiny two-platform image built from fixed bytes (the same bytes
//! were copied with skopeo 1.9.3 to obtain the expected layouts), a minimal copier
//! standing in for the copy engine, and directory-listing helpers.

#![allow(dead_code)] // Each test file uses a different part of this module.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use skopos_core::{media_type, BlobInfo, Digest, ImageDestination, ImageSource};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

/// gzip of "layer one\n" (mtime 0).
pub const LAYER_AMD64: [u8; 30] = [
    31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 203, 73, 172, 76, 45, 82, 200, 207, 75, 229, 2, 0, 219, 4,
    160, 87, 10, 0, 0, 0,
];
/// gzip of "layer two\n" (mtime 0).
pub const LAYER_ARM64: [u8; 30] = [
    31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 203, 73, 172, 76, 45, 82, 40, 41, 207, 231, 2, 0, 48, 164,
    160, 57, 10, 0, 0, 0,
];

/// Digests of the fixture, as skopeo printed them.
pub const AMD64_MANIFEST_DIGEST: &str =
    "sha256:510c21d0abf9c56d7c3fbe8eebe6d3b8abd9259330a92e1b4d9d9d4876732495";
pub const ARM64_MANIFEST_DIGEST: &str =
    "sha256:97db1a3f5052caefdc3e65876625b7d122a7d975ec434e946ddbd21e8b1c8f3f";
pub const INDEX_DIGEST: &str =
    "sha256:78edbbfbeb89eea8d9fdd9dfbd2f949a7007a6aace0e46f83202336474f87241";

/// One platform's image of the fixture.
pub struct FixtureImage {
    pub layer: Vec<u8>,
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
}

fn sha(bytes: &[u8]) -> String {
    Digest::sha256_of(bytes).to_string()
}

fn fixture_image(arch: &str, layer: &[u8], uncompressed: &[u8]) -> FixtureImage {
    let config = format!(
        r#"{{"architecture":"{arch}","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        sha(uncompressed)
    )
    .into_bytes();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}]}}"#,
        sha(&config),
        config.len(),
        sha(layer),
        layer.len()
    )
    .into_bytes();
    FixtureImage {
        layer: layer.to_vec(),
        config,
        manifest,
    }
}

pub fn amd64() -> FixtureImage {
    fixture_image("amd64", &LAYER_AMD64, b"layer one\n")
}

pub fn arm64() -> FixtureImage {
    fixture_image("arm64", &LAYER_ARM64, b"layer two\n")
}

/// The OCI index over [`amd64`] and [`arm64`].
pub fn index() -> Vec<u8> {
    let (a, b) = (amd64().manifest, arm64().manifest);
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}},{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#,
        sha(&a),
        a.len(),
        sha(&b),
        b.len()
    )
    .into_bytes()
}

/// Write, by hand, the source layout the skopeo runs copied from: `single` (amd64),
/// `arm` (arm64) and `multi` (the index).
pub fn write_source_layout(dir: &Path) {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let (a, b, idx) = (amd64(), arm64(), index());
    for bytes in [
        &a.layer,
        &a.config,
        &a.manifest,
        &b.layer,
        &b.config,
        &b.manifest,
        &idx,
    ] {
        fs::write(blobs.join(Digest::sha256_of(bytes).hex()), bytes).unwrap();
    }
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let entry = |mime: &str, bytes: &[u8], name: &str| {
        format!(
            r#"{{"mediaType":"{mime}","digest":"{}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"{name}"}}}}"#,
            sha(bytes),
            bytes.len()
        )
    };
    let index_json = format!(
        r#"{{"schemaVersion": 2, "manifests": [{}, {}, {}]}}"#,
        entry(media_type::OCI_MANIFEST, &a.manifest, "single"),
        entry(media_type::OCI_MANIFEST, &b.manifest, "arm"),
        entry(media_type::OCI_INDEX, &idx, "multi"),
    );
    fs::write(dir.join("index.json"), index_json).unwrap();
}

/// The blobs a manifest refers to: config first, then layers.
pub fn referenced_blobs(manifest: &[u8]) -> Vec<BlobInfo> {
    let value: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    let config = std::iter::once(&value["config"]);
    let layers = value["layers"].as_array().into_iter().flatten();
    config
        .chain(layers)
        .map(|d| BlobInfo {
            digest: d["digest"].as_str().unwrap().parse().unwrap(),
            size: d["size"].as_u64(),
            media_type: d["mediaType"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

fn manifest_mime(bytes: &[u8], reported: String) -> String {
    if !reported.is_empty() {
        return reported;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    value["mediaType"].as_str().unwrap().to_string()
}

/// Copy one image (and with `all`, every instance of a list), the way the copy engine
/// drives the traits, without any conversion. Blobs the destination has are skipped.
pub async fn copy(source: &dyn ImageSource, destination: &dyn ImageDestination, all: bool) {
    let (top, top_mime) = source.manifest(None).await.unwrap();
    let top_mime = manifest_mime(&top, top_mime);
    if media_type::is_list(&top_mime) {
        let list: serde_json::Value = serde_json::from_slice(&top).unwrap();
        let instances: Vec<Digest> = list["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["digest"].as_str().unwrap().parse().unwrap())
            .collect();
        if all {
            for instance in &instances {
                copy_image(source, destination, Some(instance)).await;
            }
            destination
                .put_manifest(&top, &top_mime, None)
                .await
                .unwrap();
        } else {
            // "system": the first instance stands in for platform matching.
            let (manifest, mime) = source.manifest(Some(&instances[0])).await.unwrap();
            copy_blobs(source, destination, &manifest).await;
            let mime = manifest_mime(&manifest, mime);
            destination
                .put_manifest(&manifest, &mime, None)
                .await
                .unwrap();
        }
    } else {
        copy_image(source, destination, None).await;
    }
    destination.commit().await.unwrap();
}

async fn copy_image(
    source: &dyn ImageSource,
    destination: &dyn ImageDestination,
    instance: Option<&Digest>,
) {
    let (manifest, mime) = source.manifest(instance).await.unwrap();
    let mime = manifest_mime(&manifest, mime);
    copy_blobs(source, destination, &manifest).await;
    destination
        .put_manifest(&manifest, &mime, instance)
        .await
        .unwrap();
    let signatures = source.signatures(instance).await.unwrap();
    if !signatures.is_empty() {
        destination
            .put_signatures(&signatures, instance)
            .await
            .unwrap();
    }
}

async fn copy_blobs(source: &dyn ImageSource, destination: &dyn ImageDestination, manifest: &[u8]) {
    let blobs = referenced_blobs(manifest);
    // Layers first and the config last, as skopeo does.
    for (position, info) in blobs.iter().enumerate().skip(1).chain([(0, &blobs[0])]) {
        if destination.try_reuse_blob(info).await.unwrap().is_some() {
            continue;
        }
        let (reader, _) = source.blob(info).await.unwrap();
        let written = destination
            .put_blob(reader, Some(info), position == 0)
            .await
            .unwrap();
        assert_eq!(written.digest, info.digest);
    }
}

/// Read a whole blob from a source.
pub async fn read_blob(source: &dyn ImageSource, info: &BlobInfo) -> Vec<u8> {
    let (mut reader, size) = source.blob(info).await.unwrap();
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).await.unwrap();
    assert_eq!(size, Some(bytes.len() as u64));
    bytes
}

/// The process umask, for expected file modes.
pub fn umask() -> u32 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
}

/// `mode size relative/path` for everything under `root`, sorted: what `find -printf`
/// showed for skopeo's output.
pub fn listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        let relative = entry
            .path()
            .strip_prefix(root)
            .unwrap()
            .display()
            .to_string();
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            out.push(format!("{mode:o} dir {relative}"));
            walk(root, &entry.path(), out);
        } else {
            out.push(format!("{mode:o} {} {relative}", meta.len()));
        }
    }
}

/// A stream that yields `good` bytes and then fails.
pub struct FailingStream {
    pub remaining: Vec<u8>,
}

impl AsyncRead for FailingStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.remaining.is_empty() {
            return Poll::Ready(Err(std::io::Error::other("connection reset")));
        }
        let n = self.remaining.len().min(buf.remaining());
        let chunk: Vec<u8> = self.remaining.drain(..n).collect();
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

/// Names in `dir` (not recursive), sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
