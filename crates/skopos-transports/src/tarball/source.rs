//! The tarball image source.

use std::fs::File;
use std::io::{self, BufRead as _, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{anyhow, Context as _};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Local};
use skopos_core::compression::Compression;
use skopos_core::digest::{Algorithm, DigestingWriter, Hasher};
use skopos_core::go::text::go_quote;
use skopos_core::go::time::GoTime;
use skopos_core::image_config::{OciHistory, OciImage, OciRootFs};
use skopos_core::manifest::oci::{OciDescriptor, OciManifest};
use skopos_core::platform::go_arch;
use skopos_core::{go, media_type, BlobInfo, BlobReader, Digest, ImageSource, Result};

use crate::fsutil::{self, IO_CHUNK_SIZE};

/// The file name that stands for standard input.
const STDIN: &str = "-";

/// The history comment of every layer.
const HISTORY_COMMENT: &str = "imported from tarball";

/// An image made of layer files.
#[derive(Debug)]
pub struct TarballSource {
    layers: Vec<Layer>,
    /// Standard input's bytes, read once, when a file is `-`.
    stdin: Bytes,
    config: Bytes,
    config_digest: Digest,
    manifest: Vec<u8>,
}

/// One layer file, as examined.
#[derive(Debug)]
struct Layer {
    file: PathBuf,
    digest: Digest,
    size: u64,
    media_type: &'static str,
    diff_id: Digest,
    modified: DateTime<Local>,
}

impl TarballSource {
    /// Read every file (and standard input for `-`), and make the config and manifest.
    pub async fn open(files: &[PathBuf]) -> Result<Self> {
        let files = files.to_vec();
        fsutil::blocking(move || {
            let stdin = if files.iter().any(|file| file.as_os_str() == STDIN) {
                let mut bytes = Vec::new();
                io::stdin()
                    .read_to_end(&mut bytes)
                    .map_err(|err| anyhow!("error buffering stdin: {err}"))?;
                Bytes::from(bytes)
            } else {
                Bytes::new()
            };
            let layers = files
                .iter()
                .map(|file| examine(file, &stdin))
                .collect::<Result<Vec<_>>>()?;
            let config = Bytes::from(config_bytes(&layers)?);
            let config_digest = Digest::sha256_of(&config);
            let manifest = manifest_bytes(&layers, &config, &config_digest)?;
            Ok(TarballSource {
                layers,
                stdin,
                config,
                config_digest,
                manifest,
            })
        })
        .await
    }
}

/// Digest a layer file: as it is, and (for gzip) decompressed.
fn examine(file: &Path, stdin: &Bytes) -> Result<Layer> {
    let name = file.to_string_lossy();
    let (reader, size, modified): (Box<dyn Read>, u64, DateTime<Local>) =
        if file.as_os_str() == STDIN {
            let reader = Box::new(io::Cursor::new(stdin.clone()));
            (reader, stdin.len() as u64, Local::now())
        } else {
            let opened = File::open(file).map_err(|err| {
                anyhow!(
                    "error opening {} for reading: {}",
                    go_quote(&name),
                    fsutil::path_error("open", file, &err)
                )
            })?;
            let meta = opened.metadata().map_err(|err| {
                anyhow!(
                    "error reading size of {}: {}",
                    go_quote(&name),
                    fsutil::path_error("stat", file, &err)
                )
            })?;
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            (
                Box::new(opened),
                meta.len(),
                DateTime::<Local>::from(modified),
            )
        };
    // Worded as Go's: `read FILE: is a directory`, `unexpected EOF`.
    let read_failed = |err: io::Error| {
        let why = if err.raw_os_error().is_some() {
            fsutil::path_error("read", file, &err).to_string()
        } else if err.kind() == io::ErrorKind::UnexpectedEof {
            "unexpected EOF".to_string()
        } else {
            err.to_string()
        };
        anyhow!("error reading {}: {why}", go_quote(&name))
    };
    let mut raw = BufReader::with_capacity(
        IO_CHUNK_SIZE,
        HashingReader {
            inner: reader,
            hasher: Algorithm::Sha256.hasher(),
        },
    );
    // containers/image takes a file for gzip when a gzip reader accepts its header.
    let is_gzip =
        Compression::detect(raw.fill_buf().map_err(read_failed)?) == Some(Compression::Gzip);
    let diff_id = if is_gzip {
        let mut decompressed = flate2::bufread::MultiGzDecoder::new(raw);
        let mut diff_hasher = DigestingWriter::new(io::sink(), Algorithm::Sha256);
        io::copy(&mut decompressed, &mut diff_hasher).map_err(read_failed)?;
        raw = decompressed.into_inner();
        Some(diff_hasher.finish().0.digest)
    } else {
        None
    };
    // Whatever the decompressor left (nothing, normally) still counts for the digest.
    io::copy(&mut raw, &mut io::sink()).map_err(read_failed)?;
    let digest = raw.into_inner().hasher.finish();
    Ok(Layer {
        file: file.to_path_buf(),
        diff_id: diff_id.unwrap_or_else(|| digest.clone()),
        digest,
        size,
        media_type: if is_gzip {
            media_type::OCI_LAYER_GZIP
        } else {
            media_type::OCI_LAYER
        },
        modified,
    })
}

/// The config blob: containers/image's, field for field.
fn config_bytes(layers: &[Layer]) -> Result<Vec<u8>> {
    let created = layers.iter().map(|layer| layer.modified).max();
    let history = layers
        .iter()
        .map(|layer| {
            Ok(OciHistory {
                created: Some(go_time(&layer.modified)?),
                created_by: format!("/bin/sh -c #(nop) ADD file:{} in /", layer.diff_id.hex()),
                comment: HISTORY_COMMENT.to_string(),
                ..OciHistory::default()
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let config = OciImage {
        created: Some(match created {
            Some(time) => go_time(&time)?,
            None => GoTime::ZERO,
        }),
        architecture: go_arch(std::env::consts::ARCH).to_string(),
        os: std::env::consts::OS.to_string(),
        rootfs: OciRootFs {
            fs_type: "layers".to_string(),
            diff_ids: Some(layers.iter().map(|l| l.diff_id.to_string()).collect()),
        },
        history: Some(history),
        ..OciImage::default()
    };
    go::json::to_vec(&config).context("encoding the tarball image's config")
}

/// The manifest: an OCI manifest of the config and the files as they are.
fn manifest_bytes(layers: &[Layer], config: &[u8], config_digest: &Digest) -> Result<Vec<u8>> {
    let size = |n: u64| i64::try_from(n).context("a layer file is too large");
    let manifest = OciManifest {
        schema_version: 2,
        media_type: String::new(),
        config: OciDescriptor::new(
            media_type::OCI_CONFIG,
            config_digest.clone(),
            size(config.len() as u64)?,
        ),
        layers: Some(
            layers
                .iter()
                .map(|layer| {
                    Ok(OciDescriptor::new(
                        layer.media_type,
                        layer.digest.clone(),
                        size(layer.size)?,
                    ))
                })
                .collect::<Result<Vec<_>>>()?,
        ),
        subject: None,
        annotations: Default::default(),
    };
    go::json::to_vec(&manifest).context("encoding the tarball image's manifest")
}

/// A file's modification time as Go's `time.Time` holds it (in the local zone).
fn go_time(time: &DateTime<Local>) -> Result<GoTime> {
    GoTime::from_datetime(time).map_err(|err| anyhow!("a file time out of range: {err}"))
}

/// Hashes everything read through it.
struct HashingReader {
    inner: Box<dyn Read>,
    hasher: Hasher,
}

impl Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[async_trait]
impl ImageSource for TarballSource {
    async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        if instance.is_some() {
            return Err(anyhow!(
                "manifest lists are not supported by the \"tarball\" transport"
            ));
        }
        Ok((self.manifest.clone(), media_type::OCI_MANIFEST.to_string()))
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobReader, Option<u64>)> {
        if info.digest == self.config_digest {
            let size = self.config.len() as u64;
            return Ok((Box::pin(io::Cursor::new(self.config.clone())), Some(size)));
        }
        let Some(layer) = self.layers.iter().find(|layer| layer.digest == info.digest) else {
            return Err(anyhow!(
                "no blob with digest {} found",
                go_quote(&info.digest.to_string())
            ));
        };
        if layer.file.as_os_str() == STDIN {
            let size = self.stdin.len() as u64;
            return Ok((Box::pin(io::Cursor::new(self.stdin.clone())), Some(size)));
        }
        fsutil::open_blob(&layer.file).await.map_err(|err| {
            anyhow!(
                "error opening {}: {err}",
                go_quote(&layer.file.to_string_lossy())
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut encoder, data).unwrap();
        encoder.finish().unwrap()
    }

    #[tokio::test]
    async fn layers_config_and_manifest_follow_containers_image() {
        let work = tempfile::tempdir().unwrap();
        let plain_bytes = b"pretend this is a tar".to_vec();
        let gzip_bytes = gzip(b"and this one too");
        let plain = work.path().join("plain.tar");
        let compressed = work.path().join("layer.tar.gz");
        std::fs::write(&plain, &plain_bytes).unwrap();
        std::fs::write(&compressed, &gzip_bytes).unwrap();
        let source = TarballSource::open(&[compressed.clone(), plain.clone()])
            .await
            .unwrap();

        let (manifest, mime) = source.manifest(None).await.unwrap();
        assert_eq!(mime, media_type::OCI_MANIFEST);
        let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers[0]["mediaType"], media_type::OCI_LAYER_GZIP);
        assert_eq!(
            layers[0]["digest"],
            Digest::sha256_of(&gzip_bytes).to_string()
        );
        assert_eq!(layers[0]["size"], gzip_bytes.len());
        assert_eq!(layers[1]["mediaType"], media_type::OCI_LAYER);

        let config: serde_json::Value = serde_json::from_slice(&source.config).unwrap();
        let diff_ids = &config["rootfs"]["diff_ids"];
        assert_eq!(
            diff_ids[0],
            Digest::sha256_of(b"and this one too").to_string()
        );
        assert_eq!(diff_ids[1], Digest::sha256_of(&plain_bytes).to_string());
        assert_eq!(
            config["history"][1]["created_by"],
            format!(
                "/bin/sh -c #(nop) ADD file:{} in /",
                Digest::sha256_of(&plain_bytes).hex()
            )
        );
        assert_eq!(config["history"][0]["comment"], HISTORY_COMMENT);
        assert_eq!(config["config"], serde_json::json!({}));

        let info = BlobInfo {
            digest: Digest::sha256_of(&plain_bytes),
            size: None,
            media_type: String::new(),
        };
        let (mut reader, size) = source.blob(&info).await.unwrap();
        assert_eq!(size, Some(plain_bytes.len() as u64));
        let mut read = Vec::new();
        reader.read_to_end(&mut read).await.unwrap();
        assert_eq!(read, plain_bytes);

        let unknown = BlobInfo {
            digest: Digest::sha256_of(b"nothing"),
            ..info
        };
        let err = source.blob(&unknown).await.err().unwrap();
        assert_eq!(
            err.to_string(),
            format!("no blob with digest \"{}\" found", unknown.digest)
        );
        let err = source.manifest(Some(&unknown.digest)).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "manifest lists are not supported by the \"tarball\" transport"
        );
    }

    #[tokio::test]
    async fn the_newest_file_dates_the_image() {
        let work = tempfile::tempdir().unwrap();
        let old = work.path().join("old");
        let new = work.path().join("new");
        std::fs::write(&old, b"a").unwrap();
        std::fs::write(&new, b"b").unwrap();
        let old_time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        let new_time = old_time + std::time::Duration::from_millis(1_500);
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(old_time)
            .unwrap();
        File::options()
            .write(true)
            .open(&new)
            .unwrap()
            .set_modified(new_time)
            .unwrap();
        let source = TarballSource::open(&[new, old]).await.unwrap();
        let config: OciImage = serde_json::from_slice(&source.config).unwrap();
        let expected = go_time(&DateTime::<Local>::from(new_time)).unwrap();
        assert_eq!(config.created, Some(expected));
        let history = config.history.unwrap();
        assert_eq!(history[0].created, Some(expected));
        assert_eq!(
            history[1].created,
            Some(go_time(&DateTime::<Local>::from(old_time)).unwrap())
        );
    }

    #[tokio::test]
    async fn corrupt_gzip_and_missing_files_are_clear_errors() {
        let work = tempfile::tempdir().unwrap();
        let broken = work.path().join("broken.gz");
        let mut bytes = gzip(&[7u8; 5000]);
        bytes.truncate(bytes.len() / 2);
        std::fs::write(&broken, &bytes).unwrap();
        let err = TarballSource::open(std::slice::from_ref(&broken))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("error reading \"{}\": unexpected EOF", broken.display())
        );
        let err = TarballSource::open(&[work.path().to_path_buf()])
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "error reading \"{0}\": read {0}: is a directory",
                work.path().display()
            )
        );
        let missing = work.path().join("missing");
        let err = TarballSource::open(std::slice::from_ref(&missing))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "error opening \"{0}\" for reading: open {0}: no such file or directory",
                missing.display()
            )
        );
    }
}
