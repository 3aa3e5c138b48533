//! Deterministic OCI image layouts for skopos's tests and benchmarks.
//!
//! Tests must never download images, so this crate builds them: an [`OciLayout`] directory gets
//! single-platform images ([`OciLayout::add_image`]) or multi-platform indexes
//! ([`OciLayout::add_index`]) described by an [`ImageSpec`]. The same spec and seed always give the
//! same bytes, so digests are stable across runs and machines. Corruption helpers
//! ([`OciLayout::truncate_blob`], [`OciLayout::flip_byte`], [`OciLayout::break_index_json`],
//! [`OciLayout::delete_blob`]) make the broken inputs the error tests need.

#![deny(missing_docs)]

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};

pub mod files;
pub mod openshift;
pub mod podman;
pub mod proxy;
pub mod registry;
pub mod sigstore;
pub mod token;

/// Media type of an OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of an OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Media type of an OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Media type of the empty config of OCI 1.1 artifacts.
pub const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
/// The annotation that carries a tag in an OCI layout's index.json.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// How layer blobs are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar (`application/vnd.oci.image.layer.v1.tar`).
    Uncompressed,
    /// gzip (`…tar+gzip`), the common case.
    Gzip,
    /// zstd (`…tar+zstd`).
    #[cfg(feature = "zstd")]
    Zstd,
}

impl Compression {
    /// The OCI layer media type for this compression.
    pub fn layer_media_type(self) -> &'static str {
        match self {
            Compression::Uncompressed => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            #[cfg(feature = "zstd")]
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }

    fn compress(self, tar: Vec<u8>) -> io::Result<Vec<u8>> {
        match self {
            Compression::Uncompressed => Ok(tar),
            Compression::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(tar.len() / 2),
                    flate2::Compression::default(),
                );
                encoder.write_all(&tar)?;
                encoder.finish()
            }
            #[cfg(feature = "zstd")]
            Compression::Zstd => zstd::encode_all(tar.as_slice(), 3),
        }
    }
}

/// An OS/architecture/variant triple, as in an index's `platform` object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// e.g. `linux`.
    pub os: String,
    /// e.g. `amd64`.
    pub architecture: String,
    /// e.g. `v8`; `None` when the platform has no variant.
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`, e.g. `linux/arm64/v8`; `None` when it has too few or too many
    /// parts or an empty one.
    pub fn parse(text: &str) -> Option<Platform> {
        let parts: Vec<&str> = text.split('/').collect();
        if parts.iter().any(|part| part.is_empty()) {
            return None;
        }
        match parts.as_slice() {
            [os, architecture] => Some(Platform::new(os, architecture, None)),
            [os, architecture, variant] => Some(Platform::new(os, architecture, Some(variant))),
            _ => None,
        }
    }

    /// A platform from its parts.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.map(str::to_string),
        }
    }

    /// The three platforms the multi-arch tests use: linux/amd64, linux/arm64/v8, linux/s390x.
    pub fn three() -> Vec<Platform> {
        vec![
            Platform::new("linux", "amd64", None),
            Platform::new("linux", "arm64", Some("v8")),
            Platform::new("linux", "s390x", None),
        ]
    }

    fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("architecture".into(), json!(self.architecture));
        object.insert("os".into(), json!(self.os));
        if let Some(variant) = &self.variant {
            object.insert("variant".into(), json!(variant));
        }
        Value::Object(object)
    }
}

/// What one generated image looks like. Build it with [`ImageSpec::new`] and the `with_*` methods.
#[derive(Clone, Debug)]
pub struct ImageSpec {
    /// Seed of the pseudo-random layer content: different seeds give different blobs.
    pub seed: u64,
    /// Number of layers.
    pub layer_count: usize,
    /// Bytes of file content in each layer (before tar framing and compression).
    pub layer_size: usize,
    /// Compression of every layer blob.
    pub compression: Compression,
    /// Config labels, in order.
    pub labels: Vec<(String, String)>,
    /// Config `Env`.
    pub env: Vec<String>,
    /// Config `created` (and history `created`), written verbatim: keep an offset and fractional
    /// seconds so time formatting is exercised. Empty: left out ([`ImageSpec::without_created`]).
    pub created: String,
    /// Whether the config carries `history` (one entry per layer plus an empty-layer entry).
    pub history: bool,
    /// Platform written into the config.
    pub platform: Platform,
    /// Config `docker_version` (what `inspect` shows as `DockerVersion`); `None` leaves it out.
    pub docker_version: Option<String>,
}

impl ImageSpec {
    /// Two 4 KiB gzip layers, labels including one with HTML-special characters (`<b>&c`), two Env
    /// entries, a created time with a +02:00 offset and nanoseconds, history, linux/amd64.
    pub fn new(seed: u64) -> ImageSpec {
        ImageSpec {
            seed,
            layer_count: 2,
            layer_size: 4096,
            compression: Compression::Gzip,
            labels: vec![
                ("org.example.title".into(), "skopos test image".into()),
                ("org.example.markup".into(), "<b>&c".into()),
            ],
            env: vec![
                "PATH=/usr/local/bin:/usr/bin:/bin".into(),
                "GREETING=hello world".into(),
            ],
            created: "2023-04-05T06:07:08.123456789+02:00".into(),
            history: true,
            platform: Platform::new("linux", "amd64", None),
            docker_version: None,
        }
    }

    /// Sets the number of layers and the content bytes per layer.
    pub fn with_layers(mut self, count: usize, size: usize) -> ImageSpec {
        self.layer_count = count;
        self.layer_size = size;
        self
    }

    /// Sets the layer compression.
    pub fn with_compression(mut self, compression: Compression) -> ImageSpec {
        self.compression = compression;
        self
    }

    /// Adds (or replaces) a config label.
    pub fn with_label(mut self, key: &str, value: &str) -> ImageSpec {
        self.labels.retain(|(existing, _)| existing != key);
        self.labels.push((key.into(), value.into()));
        self
    }

    /// Replaces the config Env.
    pub fn with_env(mut self, env: &[&str]) -> ImageSpec {
        self.env = env.iter().map(|entry| entry.to_string()).collect();
        self
    }

    /// Leaves `created` out of the config and its history (a docker config without one
    /// inspects as a nil `*time.Time`).
    pub fn without_created(mut self) -> ImageSpec {
        self.created = String::new();
        self
    }

    /// Sets the created time (written verbatim).
    pub fn with_created(mut self, created: &str) -> ImageSpec {
        self.created = created.into();
        self
    }

    /// Drops the config history.
    pub fn without_history(mut self) -> ImageSpec {
        self.history = false;
        self
    }

    /// Sets the platform written into the config.
    pub fn with_platform(mut self, platform: Platform) -> ImageSpec {
        self.platform = platform;
        self
    }

    /// Sets the config's `docker_version`, as images built by Docker carry it.
    pub fn with_docker_version(mut self, version: &str) -> ImageSpec {
        self.docker_version = Some(version.into());
        self
    }
}

/// A blob written into a layout: its digest (`sha256:…`), size and media type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// The media type the referring manifest gives it.
    pub media_type: String,
}

impl Blob {
    /// The hex part of the digest (the file name under `blobs/sha256/`).
    pub fn hex(&self) -> &str {
        self.digest.trim_start_matches("sha256:")
    }
}

/// What [`OciLayout::add_image`] wrote.
#[derive(Clone, Debug)]
pub struct WrittenImage {
    /// The manifest blob.
    pub manifest: Blob,
    /// The config blob.
    pub config: Blob,
    /// The layer blobs, in manifest order.
    pub layers: Vec<Blob>,
    /// The uncompressed layer digests (config `rootfs.diff_ids`).
    pub diff_ids: Vec<String>,
    /// The platform of the config.
    pub platform: Platform,
}

/// What [`OciLayout::add_index`] wrote.
#[derive(Clone, Debug)]
pub struct WrittenIndex {
    /// The image index blob.
    pub index: Blob,
    /// Every instance, in index order.
    pub instances: Vec<WrittenImage>,
}

/// An OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/…`).
#[derive(Clone, Debug)]
pub struct OciLayout {
    root: PathBuf,
}

impl OciLayout {
    /// Creates the directory (and parents) with `oci-layout` and an empty `index.json`, or opens
    /// it when it already holds a layout.
    pub fn create(root: impl Into<PathBuf>) -> io::Result<OciLayout> {
        let layout = OciLayout { root: root.into() };
        fs::create_dir_all(layout.root.join("blobs").join("sha256"))?;
        let marker = layout.root.join("oci-layout");
        if !marker.exists() {
            fs::write(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        let index = layout.root.join("index.json");
        if !index.exists() {
            layout.write_index_json(&[])?;
        }
        Ok(layout)
    }

    /// The layout directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with this digest (`sha256:…`) lives.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let (algorithm, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
        self.root.join("blobs").join(algorithm).join(hex)
    }

    /// Writes a single-platform image and adds it to index.json, tagged `tag` when given (an
    /// existing entry with the same tag is replaced, as OCI layout writers do).
    pub fn add_image(&self, spec: &ImageSpec, tag: Option<&str>) -> io::Result<WrittenImage> {
        let image = self.write_image(spec)?;
        self.add_index_entry(&image.manifest, tag)?;
        Ok(image)
    }

    /// Writes one image per platform (each from `spec` with that platform and a seed derived from
    /// its position), an image index over them, and adds the index to index.json under `tag`.
    pub fn add_index(
        &self,
        spec: &ImageSpec,
        platforms: &[Platform],
        tag: Option<&str>,
    ) -> io::Result<WrittenIndex> {
        let mut instances = Vec::with_capacity(platforms.len());
        for (position, platform) in platforms.iter().enumerate() {
            let instance_spec = spec
                .clone()
                .with_platform(platform.clone())
                .with_seed_offset(position as u64);
            instances.push(self.write_image(&instance_spec)?);
        }
        let manifests: Vec<Value> = instances
            .iter()
            .map(|instance| {
                json!({
                    "mediaType": instance.manifest.media_type,
                    "digest": instance.manifest.digest,
                    "size": instance.manifest.size,
                    "platform": instance.platform.to_json(),
                })
            })
            .collect();
        let index_json = json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": manifests,
        });
        let index = self.write_blob(&to_json_bytes(&index_json)?, OCI_INDEX)?;
        self.add_index_entry(&index, tag)?;
        Ok(WrittenIndex { index, instances })
    }

    /// Writes an OCI 1.1 artifact manifest referring to `subject`: the empty config, one
    /// layer holding `payload`, `artifactType` = `artifact_type`. It gets no index.json entry
    /// of its own; [`OciLayout::set_referrers`] lists it (the referrers tag schema).
    pub fn add_artifact(
        &self,
        subject: &Blob,
        artifact_type: &str,
        payload: &[u8],
    ) -> io::Result<Blob> {
        let config = self.write_blob(b"{}", EMPTY_CONFIG)?;
        let layer = self.write_blob(payload, "application/octet-stream")?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": config.media_type, "digest": config.digest, "size": config.size},
            "layers": [{"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size}],
            "subject": {"mediaType": subject.media_type, "digest": subject.digest, "size": subject.size},
            "annotations": {"org.example.payload-size": payload.len().to_string()},
        });
        self.write_blob(&to_json_bytes(&manifest)?, OCI_MANIFEST)
    }

    /// Lists `referrers` (`(manifest, artifact type)`) as `subject`'s referrers: an image index
    /// tagged `sha256-<hex>` in index.json, as the referrers tag schema has it.
    pub fn set_referrers(&self, subject: &Blob, referrers: &[(&Blob, &str)]) -> io::Result<Blob> {
        let manifests: Vec<Value> = referrers
            .iter()
            .map(|(blob, artifact_type)| {
                json!({
                    "mediaType": blob.media_type,
                    "digest": blob.digest,
                    "size": blob.size,
                    "artifactType": artifact_type,
                })
            })
            .collect();
        let index_json =
            json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        let index = self.write_blob(&to_json_bytes(&index_json)?, OCI_INDEX)?;
        self.add_index_entry(&index, Some(&format!("sha256-{}", subject.hex())))?;
        Ok(index)
    }

    /// Writes a cosign-style attachment of `subject` (an OCI manifest with an OCI config and one
    /// layer of `payload` of `layer_type`) tagged `sha256-<hex>.<suffix>` (`sig`, `att`, `sbom`).
    pub fn add_cosign_tag(
        &self,
        subject: &Blob,
        suffix: &str,
        layer_type: &str,
        payload: &[u8],
    ) -> io::Result<Blob> {
        let config = self.write_blob(
            br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#,
            OCI_CONFIG,
        )?;
        let layer = self.write_blob(payload, layer_type)?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": config.media_type, "digest": config.digest, "size": config.size},
            "layers": [{"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size}],
        });
        let blob = self.write_blob(&to_json_bytes(&manifest)?, OCI_MANIFEST)?;
        self.add_index_entry(&blob, Some(&format!("sha256-{}.{suffix}", subject.hex())))?;
        Ok(blob)
    }

    /// Cuts the blob down to its first `keep` bytes (a download that stopped early).
    pub fn truncate_blob(&self, digest: &str, keep: u64) -> io::Result<()> {
        let file = fs::OpenOptions::new()
            .write(true)
            .open(self.blob_path(digest))?;
        file.set_len(keep)
    }

    /// Inverts every bit of the byte at `offset`, keeping the size: the blob no longer matches
    /// its digest.
    pub fn flip_byte(&self, digest: &str, offset: usize) -> io::Result<()> {
        let path = self.blob_path(digest);
        let mut bytes = fs::read(&path)?;
        let byte = bytes.get_mut(offset).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("offset {offset} is past the end of blob {digest}"),
            )
        })?;
        *byte = !*byte;
        fs::write(path, bytes)
    }

    /// Replaces index.json with text that is not JSON.
    pub fn break_index_json(&self) -> io::Result<()> {
        fs::write(
            self.root.join("index.json"),
            b"{\"schemaVersion\": 2, \"manifests\": [",
        )
    }

    /// Deletes a blob, so a manifest names a blob that does not exist.
    pub fn delete_blob(&self, digest: &str) -> io::Result<()> {
        fs::remove_file(self.blob_path(digest))
    }

    fn write_image(&self, spec: &ImageSpec) -> io::Result<WrittenImage> {
        let mut layers = Vec::with_capacity(spec.layer_count);
        let mut diff_ids = Vec::with_capacity(spec.layer_count);
        for layer_number in 0..spec.layer_count {
            let tar = layer_tar(spec, layer_number)?;
            diff_ids.push(sha256_digest(&tar));
            let compressed = spec.compression.compress(tar)?;
            layers.push(self.write_blob(&compressed, spec.compression.layer_media_type())?);
        }
        let config = self.write_blob(&to_json_bytes(&config_json(spec, &diff_ids))?, OCI_CONFIG)?;
        let layer_descriptors: Vec<Value> = layers
            .iter()
            .enumerate()
            .map(|(layer_number, layer)| {
                let mut descriptor = json!({
                    "mediaType": layer.media_type,
                    "digest": layer.digest,
                    "size": layer.size,
                });
                // One annotated layer, so inspect's LayersData shows both a map and null.
                if layer_number == 0 {
                    descriptor["annotations"] =
                        json!({ "org.example.layer.comment": "first layer" });
                }
                descriptor
            })
            .collect();
        let manifest_json = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": config.media_type,
                "digest": config.digest,
                "size": config.size,
            },
            "layers": layer_descriptors,
        });
        let manifest = self.write_blob(&to_json_bytes(&manifest_json)?, OCI_MANIFEST)?;
        Ok(WrittenImage {
            manifest,
            config,
            layers,
            diff_ids,
            platform: spec.platform.clone(),
        })
    }

    fn write_blob(&self, bytes: &[u8], media_type: &str) -> io::Result<Blob> {
        let digest = sha256_digest(bytes);
        let path = self.blob_path(&digest);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, bytes)?;
        Ok(Blob {
            digest,
            size: bytes.len() as u64,
            media_type: media_type.into(),
        })
    }

    fn read_index_entries(&self) -> io::Result<Vec<Value>> {
        let text = fs::read(self.root.join("index.json"))?;
        let index: Value = serde_json::from_slice(&text)?;
        Ok(index
            .get("manifests")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    fn write_index_json(&self, entries: &[Value]) -> io::Result<()> {
        let index = json!({ "schemaVersion": 2, "manifests": entries });
        fs::write(self.root.join("index.json"), to_json_bytes(&index)?)
    }

    fn add_index_entry(&self, blob: &Blob, tag: Option<&str>) -> io::Result<()> {
        let mut entries = self.read_index_entries()?;
        let mut entry = json!({
            "mediaType": blob.media_type,
            "digest": blob.digest,
            "size": blob.size,
        });
        if let Some(tag) = tag {
            entries.retain(|existing| {
                existing["annotations"][REF_NAME_ANNOTATION].as_str() != Some(tag)
            });
            entry["annotations"] = json!({ REF_NAME_ANNOTATION: tag });
        }
        entries.push(entry);
        self.write_index_json(&entries)
    }
}

impl ImageSpec {
    fn with_seed_offset(mut self, offset: u64) -> ImageSpec {
        self.seed = self
            .seed
            .wrapping_add(offset.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        self
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut text = String::with_capacity(7 + 64);
    text.push_str("sha256:");
    for byte in hash {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

fn to_json_bytes(value: &Value) -> io::Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(io::Error::other)
}

fn config_json(spec: &ImageSpec, diff_ids: &[String]) -> Value {
    let labels: Map<String, Value> = spec
        .labels
        .iter()
        .map(|(key, value)| (key.clone(), json!(value)))
        .collect();
    let mut config = json!({
        "created": spec.created,
        "author": "skopos-testimage",
        "architecture": spec.platform.architecture,
        "os": spec.platform.os,
        "config": {
            "Env": spec.env,
            "Cmd": ["/bin/sh"],
            "WorkingDir": "/",
            "Labels": labels,
        },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    if let Some(variant) = &spec.platform.variant {
        config["variant"] = json!(variant);
    }
    if let Some(version) = &spec.docker_version {
        config["docker_version"] = json!(version);
    }
    if spec.history {
        let mut history: Vec<Value> = (0..diff_ids.len())
            .map(|layer_number| {
                json!({
                    "created": spec.created,
                    "created_by": format!("/bin/sh -c #(nop) ADD file:layer{layer_number} in /"),
                })
            })
            .collect();
        history.push(json!({
            "created": spec.created,
            "created_by": "/bin/sh -c #(nop) LABEL org.example.title",
            "author": "skopos-testimage",
            "comment": "a label-only step",
            "empty_layer": true,
        }));
        config["history"] = Value::Array(history);
    }
    if spec.created.is_empty() {
        if let Some(fields) = config.as_object_mut() {
            fields.remove("created");
        }
        if let Some(entries) = config.get_mut("history").and_then(Value::as_array_mut) {
            for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
                entry.remove("created");
            }
        }
    }
    config
}

/// Modification time of every tar entry: fixed so layers are reproducible.
const TAR_MTIME: u64 = 1_680_667_628;

fn layer_tar(spec: &ImageSpec, layer_number: usize) -> io::Result<Vec<u8>> {
    let directory = format!("layer{layer_number}");
    let mut builder = tar::Builder::new(Vec::with_capacity(spec.layer_size + 4096));
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(TAR_MTIME);
    header.set_size(0);
    builder.append_data(&mut header, format!("{directory}/"), io::empty())?;

    let readme = format!(
        "Layer {layer_number} of a skopos test image (seed {}).\n",
        spec.seed
    );
    append_file(
        &mut builder,
        &format!("{directory}/README.txt"),
        readme.as_bytes(),
    )?;
    let data = layer_content(spec.seed, layer_number, spec.layer_size);
    append_file(&mut builder, &format!("{directory}/data.bin"), &data)?;
    builder.into_inner()
}

fn append_file(builder: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(TAR_MTIME);
    header.set_size(data.len() as u64);
    builder.append_data(&mut header, path, data)
}

/// Size of the chunks that are either random or repetitive text.
const CHUNK: usize = 4096;

/// `size` bytes, about half pseudo-random (incompressible) and half repetitive text
/// (compressible), so compression does real work and sizes change.
fn layer_content(seed: u64, layer_number: usize, size: usize) -> Vec<u8> {
    let mut state = seed ^ ((layer_number as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93));
    if state == 0 {
        state = 0x2545_F491_4F6C_DD1D;
    }
    let mut next = move || {
        // xorshift64*: fast, deterministic, good enough for test data.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let text: &[u8] = b"skopos copies container images; this line compresses well. ";
    let mut data = Vec::with_capacity(size);
    while data.len() < size {
        let chunk = CHUNK.min(size - data.len());
        if next() & 1 == 0 {
            for _ in 0..chunk.div_ceil(8) {
                data.extend_from_slice(&next().to_le_bytes());
            }
            data.truncate(data.len().min(size));
        } else {
            data.extend(text.iter().cycle().take(chunk));
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob_bytes(layout: &OciLayout, blob: &Blob) -> Vec<u8> {
        fs::read(layout.blob_path(&blob.digest)).unwrap_or_default()
    }

    #[test]
    fn same_spec_gives_same_digests_and_other_seed_differs() -> io::Result<()> {
        let first = tempfile::tempdir()?;
        let second = tempfile::tempdir()?;
        let spec = ImageSpec::new(7);
        let a = OciLayout::create(first.path())?.add_image(&spec, Some("t"))?;
        let b = OciLayout::create(second.path())?.add_image(&spec, Some("t"))?;
        assert_eq!(a.manifest, b.manifest);
        let other = OciLayout::create(second.path())?.add_image(&ImageSpec::new(8), None)?;
        assert_ne!(a.layers[0].digest, other.layers[0].digest);
        Ok(())
    }

    #[test]
    fn blobs_match_their_digests_and_diff_ids_match_uncompressed_layers() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let layout = OciLayout::create(dir.path())?;
        let image = layout.add_image(&ImageSpec::new(1).with_layers(3, 10_000), Some("x"))?;
        for blob in image.layers.iter().chain([&image.config, &image.manifest]) {
            let bytes = blob_bytes(&layout, blob);
            assert_eq!(sha256_digest(&bytes), blob.digest);
            assert_eq!(bytes.len() as u64, blob.size);
        }
        let compressed = blob_bytes(&layout, &image.layers[1]);
        let mut tar = Vec::new();
        io::copy(
            &mut flate2::read::GzDecoder::new(compressed.as_slice()),
            &mut tar,
        )?;
        assert_eq!(sha256_digest(&tar), image.diff_ids[1]);
        assert!(
            compressed.len() < tar.len(),
            "content should be partly compressible"
        );
        Ok(())
    }

    #[test]
    fn config_carries_labels_env_created_and_variant() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let layout = OciLayout::create(dir.path())?;
        let spec = ImageSpec::new(1).with_platform(Platform::new("linux", "arm64", Some("v8")));
        let image = layout.add_image(&spec, None)?;
        let config: Value = serde_json::from_slice(&blob_bytes(&layout, &image.config))?;
        assert_eq!(config["config"]["Labels"]["org.example.markup"], "<b>&c");
        assert_eq!(config["created"], "2023-04-05T06:07:08.123456789+02:00");
        assert_eq!(config["variant"], "v8");
        assert_eq!(config["history"].as_array().map(Vec::len), Some(3));
        Ok(())
    }

    #[test]
    fn tagging_twice_replaces_the_index_entry() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let layout = OciLayout::create(dir.path())?;
        layout.add_image(&ImageSpec::new(1), Some("same"))?;
        let second = layout.add_image(&ImageSpec::new(2), Some("same"))?;
        let entries = layout.read_index_entries()?;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["digest"], json!(second.manifest.digest));
        Ok(())
    }

    #[test]
    fn index_lists_every_platform_with_distinct_instances() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let layout = OciLayout::create(dir.path())?;
        let written = layout.add_index(&ImageSpec::new(3), &Platform::three(), Some("multi"))?;
        let index: Value = serde_json::from_slice(&blob_bytes(&layout, &written.index))?;
        assert_eq!(index["manifests"][1]["platform"]["variant"], "v8");
        assert_eq!(index["manifests"][2]["platform"]["architecture"], "s390x");
        assert_ne!(
            written.instances[0].manifest.digest,
            written.instances[1].manifest.digest
        );
        Ok(())
    }

    #[test]
    fn corruption_helpers_break_what_they_say() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let layout = OciLayout::create(dir.path())?;
        let image = layout.add_image(&ImageSpec::new(1), Some("t"))?;
        let layer = &image.layers[0];
        layout.flip_byte(&layer.digest, 20)?;
        assert_ne!(sha256_digest(&blob_bytes(&layout, layer)), layer.digest);
        layout.truncate_blob(&layer.digest, 10)?;
        assert_eq!(blob_bytes(&layout, layer).len(), 10);
        assert!(layout.flip_byte(&layer.digest, 10).is_err());
        layout.delete_blob(&image.config.digest)?;
        assert!(!layout.blob_path(&image.config.digest).exists());
        layout.break_index_json()?;
        assert!(layout.read_index_entries().is_err());
        Ok(())
    }

    #[test]
    fn platform_parse_accepts_two_or_three_parts() {
        assert_eq!(
            Platform::parse("linux/arm64/v8"),
            Some(Platform::new("linux", "arm64", Some("v8")))
        );
        assert_eq!(
            Platform::parse("linux/amd64"),
            Some(Platform::new("linux", "amd64", None))
        );
        assert_eq!(Platform::parse("linux"), None);
        assert_eq!(Platform::parse("linux//v8"), None);
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    fn files(root: &Path) -> io::Result<Vec<(PathBuf, Vec<u8>)>> {
        let mut found = Vec::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in fs::read_dir(&dir)? {
                let path = entry?.path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let relative = path.strip_prefix(root).map_err(io::Error::other)?;
                    found.push((relative.to_path_buf(), fs::read(&path)?));
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// The committed `examples/hello` layout is `mkimage examples/hello latest 1 512 --size-bytes
    /// --seed 42`; regenerating it must give the same bytes, so it never drifts from the generator.
    #[test]
    fn committed_example_layout_is_what_the_generator_makes() -> io::Result<()> {
        let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
        let dir = tempfile::tempdir()?;
        OciLayout::create(dir.path())?
            .add_image(&ImageSpec::new(42).with_layers(1, 512), Some("latest"))?;
        assert_eq!(files(dir.path())?, files(&committed)?);
        Ok(())
    }
}
