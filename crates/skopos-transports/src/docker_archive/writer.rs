//! Writing a `docker save` tar into any async byte sink, entry by entry, exactly as
//! containers/image 5.23 does: `<diffid-hex>.tar` layers, `<config-hex>.json`, one
//! legacy `<id>/{layer.tar -> ../<hex>.tar, VERSION, json}` directory per layer, and at
//! the end `manifest.json` and `repositories`. Tar headers are USTAR as Go's
//! `archive/tar` writes them (mode 0444, uid/gid 0, mtime 0), so the bytes match.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::{anyhow, bail, Context as _};
use serde::Serialize;
use serde_json::value::RawValue;
use skopos_core::go::json::compact_go;
use skopos_core::reference::DockerReference;
use skopos_core::{go, BlobReader, Digest, Result};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::reader::MANIFEST_FILE;

/// The byte sink an archive is written into.
pub type ArchiveSink = Box<dyn AsyncWrite + Send + Unpin>;

const BLOCK: usize = 512;
const COPY_CHUNK: usize = 256 * 1024;

const LEGACY_LAYER_FILE: &str = "layer.tar";
const LEGACY_CONFIG_FILE: &str = "json";
const LEGACY_VERSION_FILE: &str = "VERSION";
const REPOSITORIES_FILE: &str = "repositories";

/// The config fields copied into the top layer's legacy `json`, in this order.
const LEGACY_TOP_LAYER_FIELDS: [&str; 7] = [
    "architecture",
    "config",
    "container",
    "container_config",
    "created",
    "docker_version",
    "os",
];

/// One element of `manifest.json`, as containers/image writes it.
#[derive(Debug, Clone, Serialize)]
struct ManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags")]
    repo_tags: Vec<String>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// A `docker save` archive being written (containers/image's `tarfile.Writer`). Blobs go
/// out as they arrive; [`ArchiveWriter::add_image`] records an image once its blobs are
/// in; [`ArchiveWriter::finish`] writes the table of contents and returns the sink.
pub struct ArchiveWriter {
    sink: ArchiveSink,
    /// Blobs already in the archive, with their sizes.
    blobs: HashMap<Digest, u64>,
    /// `repositories`: name -> tag -> top legacy layer ID.
    repositories: BTreeMap<String, BTreeMap<String, String>>,
    /// Legacy layer directories already written.
    legacy_layers: HashSet<String>,
    manifest: Vec<ManifestEntry>,
    manifest_by_config: HashMap<Digest, usize>,
}

impl std::fmt::Debug for ArchiveWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveWriter")
            .field("blobs", &self.blobs.len())
            .field("images", &self.manifest.len())
            .finish_non_exhaustive()
    }
}

impl ArchiveWriter {
    /// A writer of a new archive into `sink`.
    pub fn new(sink: ArchiveSink) -> ArchiveWriter {
        ArchiveWriter {
            sink,
            blobs: HashMap::new(),
            repositories: BTreeMap::new(),
            legacy_layers: HashSet::new(),
            manifest: Vec::new(),
            manifest_by_config: HashMap::new(),
        }
    }

    /// The size of blob `digest` if it is already in the archive.
    pub fn blob_size(&self, digest: &Digest) -> Option<u64> {
        self.blobs.get(digest).copied()
    }

    /// Write a layer (uncompressed) of `size` bytes as `<hex>.tar`. A stream of any
    /// other length is an error (the archive is then unusable).
    pub async fn put_layer(
        &mut self,
        digest: &Digest,
        size: u64,
        stream: BlobReader,
    ) -> Result<()> {
        self.send_file(&layer_path(digest), size, stream).await?;
        self.blobs.insert(digest.clone(), size);
        Ok(())
    }

    /// Write an image config as `<hex>.json`.
    pub async fn put_config(&mut self, digest: &Digest, config: &[u8]) -> Result<()> {
        self.send_bytes(&config_path(digest), config)
            .await
            .context("writing Config file")?;
        self.blobs.insert(digest.clone(), config.len() as u64);
        Ok(())
    }

    /// Record an image whose config and layers are in the archive: its legacy layer
    /// directories, its `manifest.json` entry and its `repositories` tags.
    pub async fn add_image(
        &mut self,
        layers: &[Digest],
        config_digest: &Digest,
        config: &[u8],
        repo_tags: &[DockerReference],
    ) -> Result<()> {
        self.write_legacy_metadata(layers, config, repo_tags)
            .await?;
        self.add_manifest_entry(layers, config_digest, repo_tags)
    }

    /// Write `manifest.json`, `repositories` and the end of the tar, flush, and hand the
    /// sink back (still open: closing it is the caller's business).
    pub async fn finish(mut self) -> Result<ArchiveSink> {
        let manifest = if self.manifest.is_empty() {
            // Go's nil slice.
            b"null".to_vec()
        } else {
            go::json::to_vec(&self.manifest)?
        };
        self.send_bytes(MANIFEST_FILE, &manifest).await?;
        let repositories = go::json::to_vec(&self.repositories)?;
        self.send_bytes(REPOSITORIES_FILE, &repositories)
            .await
            .context("writing config json file")?;
        self.sink
            .write_all(&[0; 2 * BLOCK])
            .await
            .context("writing the end of the archive")?;
        self.sink
            .flush()
            .await
            .context("writing the end of the archive")?;
        Ok(self.sink)
    }

    /// containers/image's `writeLegacyMetadataLocked`.
    async fn write_legacy_metadata(
        &mut self,
        layers: &[Digest],
        config: &[u8],
        repo_tags: &[DockerReference],
    ) -> Result<()> {
        let mut chain_id: Option<Digest> = None;
        let mut last_layer_id: Option<String> = None;
        for (position, layer) in layers.iter().enumerate() {
            // Each value is JSON text; Go marshals the map with sorted keys.
            let mut layer_config: BTreeMap<&str, String> = BTreeMap::new();
            if let Some(parent) = &last_layer_id {
                layer_config.insert("parent", json_string(parent)?);
            }
            if position == layers.len() - 1 {
                let fields: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(config)
                    .map_err(|err| anyhow!("unmarshaling config: {err}"))?;
                for field in LEGACY_TOP_LAYER_FIELDS {
                    let value = fields
                        .get(field)
                        .map_or_else(|| "null".to_string(), |raw| compact_go(raw.get()));
                    layer_config.insert(field, value);
                }
            }
            let chain = match chain_id {
                None => layer.clone(),
                Some(previous) => Digest::sha256_of(format!("{previous} {layer}").as_bytes()),
            };
            layer_config.insert("layer_id", json_string(&chain.to_string())?);
            let layer_id = Digest::sha256_of(&json_object(&layer_config))
                .hex()
                .to_string();
            layer_config.remove("layer_id");
            layer_config.insert("id", json_string(&layer_id)?);
            let legacy_config = json_object(&layer_config);
            self.ensure_legacy_layer(&layer_id, layer, &legacy_config)
                .await?;
            chain_id = Some(chain);
            last_layer_id = Some(layer_id);
        }
        if let Some(top) = last_layer_id {
            for tag in repo_tags {
                self.repositories
                    .entry(tag.name())
                    .or_default()
                    .insert(tag_of(tag)?.to_string(), top.clone());
            }
        }
        Ok(())
    }

    async fn ensure_legacy_layer(
        &mut self,
        layer_id: &str,
        layer: &Digest,
        legacy_config: &[u8],
    ) -> Result<()> {
        if self.legacy_layers.contains(layer_id) {
            return Ok(());
        }
        self.send_symlink(
            &format!("{layer_id}/{LEGACY_LAYER_FILE}"),
            &format!("../{}", layer_path(layer)),
        )
        .await
        .context("creating layer symbolic link")?;
        self.send_bytes(&format!("{layer_id}/{LEGACY_VERSION_FILE}"), b"1.0")
            .await
            .context("writing VERSION file")?;
        self.send_bytes(&format!("{layer_id}/{LEGACY_CONFIG_FILE}"), legacy_config)
            .await
            .context("writing config json file")?;
        self.legacy_layers.insert(layer_id.to_string());
        Ok(())
    }

    /// containers/image's `ensureManifestItemLocked`.
    fn add_manifest_entry(
        &mut self,
        layers: &[Digest],
        config_digest: &Digest,
        repo_tags: &[DockerReference],
    ) -> Result<()> {
        let entry = ManifestEntry {
            config: config_path(config_digest),
            repo_tags: Vec::new(),
            layers: layers.iter().map(layer_path).collect(),
        };
        let position = match self.manifest_by_config.get(config_digest) {
            Some(&position) => {
                let existing = &self.manifest[position];
                if existing.config != entry.config || existing.layers != entry.layers {
                    bail!(
                        "Internal error: Trying to reuse ManifestItem values with configs {} vs. {}",
                        existing.config,
                        entry.config
                    );
                }
                position
            }
            None => {
                self.manifest.push(entry);
                self.manifest_by_config
                    .insert(config_digest.clone(), self.manifest.len() - 1);
                self.manifest.len() - 1
            }
        };
        let item = &mut self.manifest[position];
        for tag in repo_tags {
            let name = format!("{}:{}", tag.name(), tag_of(tag)?);
            if !item.repo_tags.contains(&name) {
                item.repo_tags.push(name);
            }
        }
        Ok(())
    }

    async fn send_bytes(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        self.send_file(
            path,
            bytes.len() as u64,
            Box::pin(std::io::Cursor::new(bytes.to_vec())),
        )
        .await
    }

    /// One regular file: header, exactly `size` bytes of `stream`, padding.
    async fn send_file(
        &mut self,
        path: &str,
        size: u64,
        mut stream: impl AsyncRead + Unpin,
    ) -> Result<()> {
        let header = ustar_header(path, HeaderKind::File { size })?;
        self.sink.write_all(&header).await?;
        let mut copied: u64 = 0;
        let mut chunk = vec![0; COPY_CHUNK];
        loop {
            let read = stream.read(&mut chunk).await?;
            if read == 0 {
                break;
            }
            copied += read as u64;
            if copied > size {
                break;
            }
            self.sink.write_all(&chunk[..read]).await?;
        }
        if copied != size {
            bail!("Size mismatch when copying {path}, expected {size}, got {copied}");
        }
        let padding = (BLOCK - (size % BLOCK as u64) as usize) % BLOCK;
        self.sink.write_all(&[0; BLOCK][..padding]).await?;
        Ok(())
    }

    async fn send_symlink(&mut self, path: &str, target: &str) -> Result<()> {
        let header = ustar_header(path, HeaderKind::Symlink { target })?;
        self.sink.write_all(&header).await?;
        Ok(())
    }
}

/// Where a layer goes: `<hex>.tar` at the top (not in a legacy directory, so that
/// `docker load` does not take the directory for an image).
fn layer_path(digest: &Digest) -> String {
    format!("{}.tar", digest.hex())
}

fn config_path(digest: &Digest) -> String {
    format!("{}.json", digest.hex())
}

fn tag_of(reference: &DockerReference) -> Result<&str> {
    reference
        .tag()
        .ok_or_else(|| anyhow!("internal error: archive tag {reference} has no tag"))
}

fn json_string(value: &str) -> Result<String> {
    Ok(String::from_utf8(go::json::to_vec(value)?)?)
}

/// `{"key":value,...}` from keys and JSON texts, keys in order.
fn json_object(fields: &BTreeMap<&str, String>) -> Vec<u8> {
    let members: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("\"{key}\":{value}"))
        .collect();
    format!("{{{}}}", members.join(",")).into_bytes()
}

enum HeaderKind<'a> {
    File { size: u64 },
    Symlink { target: &'a str },
}

/// A tar header as Go's `archive/tar` writes the USTAR headers containers/image asks for:
/// mode 0444 for files and 0 for symlinks, uid/gid 0, no user/group names, mtime 0.
fn ustar_header(path: &str, kind: HeaderKind<'_>) -> Result<[u8; BLOCK]> {
    let mut header = [0u8; BLOCK];
    let (prefix, name) = split_ustar_path(path)
        .ok_or_else(|| anyhow!("the archive entry name {path} is too long for a tar header"))?;
    put_string(&mut header[0..100], name);
    let (mode, size, type_flag, link) = match kind {
        HeaderKind::File { size } => (0o444, size, b'0', ""),
        HeaderKind::Symlink { target } => (0, 0, b'2', target),
    };
    if link.len() > 100 {
        bail!("the symbolic link target {link} is too long for a tar header");
    }
    if size >= 1 << 33 {
        bail!("the archive entry {path} is too large for a USTAR header ({size} bytes)");
    }
    put_octal(&mut header[100..108], mode);
    put_octal(&mut header[108..116], 0);
    put_octal(&mut header[116..124], 0);
    put_octal(&mut header[124..136], size);
    put_octal(&mut header[136..148], 0);
    header[156] = type_flag;
    put_string(&mut header[157..257], link);
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    put_octal(&mut header[329..337], 0);
    put_octal(&mut header[337..345], 0);
    put_string(&mut header[345..500], prefix);
    // The checksum is computed with its own field as spaces, then written as six octal
    // digits, a NUL and a space.
    header[148..156].copy_from_slice(b"        ");
    let checksum: u64 = header.iter().map(|&byte| u64::from(byte)).sum();
    put_octal(&mut header[148..155], checksum);
    header[155] = b' ';
    Ok(header)
}

/// A name that fits USTAR: as is when at most 100 bytes, else split at a `/` into a
/// prefix (at most 155 bytes) and a name (at most 100), as Go does.
fn split_ustar_path(path: &str) -> Option<(&str, &str)> {
    if path.len() <= 100 {
        return Some(("", path));
    }
    if path.len() > 256 {
        return None;
    }
    let search_end = path.len().min(156);
    let slash = path[..search_end].rfind('/')?;
    let (prefix, name) = (&path[..slash], &path[slash + 1..]);
    (!name.is_empty() && name.len() <= 100).then_some((prefix, name))
}

fn put_string(field: &mut [u8], value: &str) {
    field[..value.len()].copy_from_slice(value.as_bytes());
}

/// Zero-padded octal filling all but the last byte of `field`, which stays NUL.
fn put_octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(text.as_bytes());
    field[digits] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_go_ustar_headers() {
        let header = ustar_header("manifest.json", HeaderKind::File { size: 273 }).unwrap();
        let parsed = tar::Header::from_byte_slice(&header);
        assert_eq!(parsed.path().unwrap().to_str(), Some("manifest.json"));
        assert_eq!(parsed.size().unwrap(), 273);
        assert_eq!(parsed.mode().unwrap(), 0o444);
        assert_eq!(&header[100..108], b"0000444\0");
        assert_eq!(&header[124..136], b"00000000421\0");
        // Go's checksum layout: six digits, NUL, space.
        assert_eq!(header[154], 0);
        assert_eq!(header[155], b' ');
        let expected: u64 = header
            .iter()
            .enumerate()
            .map(|(i, &byte)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(byte)
                }
            })
            .sum();
        assert_eq!(u64::from(parsed.cksum().unwrap()), expected);
    }

    #[test]
    fn long_names_are_split_like_go() {
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        assert_eq!(split_ustar_path(&long), Some((&long[..120], &long[121..])));
        assert_eq!(split_ustar_path(&"x".repeat(130)), None);
    }
}
