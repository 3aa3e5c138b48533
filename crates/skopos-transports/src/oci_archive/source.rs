//! Reading an image from an OCI archive, in place.

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context as _};
use async_trait::async_trait;
use skopos_core::compression::Compression;
use skopos_core::go::text::go_quote;
use skopos_core::limits::MAX_MANIFEST_BODY;
use skopos_core::reference::{resolve_path_to_fully_explicit, OciImage};
use skopos_core::{BlobInfo, BlobReader, Digest, FileBlob, ImageSource, Result, SystemContext};

use super::tar_index::TarIndex;
use crate::fsutil::{self, path_error};
use crate::oci::index::{Descriptor, Index};

/// One image of an OCI archive, opened for reading. An uncompressed archive is read in
/// place; a compressed one is first decompressed into an anonymous temporary file under
/// the temporary directory (skopeo accepts compressed archives, as its untar detects
/// compression).
#[derive(Debug)]
pub struct OciArchiveSource {
    archive: Arc<TarIndex>,
    index: Index,
    /// The `index.json` entry of the image: a manifest, or an index of several.
    descriptor: Descriptor,
}

impl OciArchiveSource {
    /// Index the archive at `path` and find `image` in its `index.json`, with the same
    /// rules (and errors) as the `oci:` transport.
    pub async fn open(path: &Path, image: &OciImage, ctx: &SystemContext) -> Result<Self> {
        let resolved = resolve_path_to_fully_explicit(&path.to_string_lossy())?;
        let tmpdir = ctx.tmpdir();
        let opened = fsutil::blocking(move || open_tar(&resolved, &tmpdir)).await?;
        let archive = Arc::new(opened.into_index().await?);
        let index_name = format!("index.json in {}", archive_name(&archive));
        let index = Index::parse(&archive.read("index.json").await?, Path::new(&index_name))?;
        let descriptor = index.find(image)?;
        Ok(OciArchiveSource {
            archive,
            index,
            descriptor,
        })
    }

    /// A manifest blob, refused unread when it is larger than a manifest may be.
    async fn read_manifest_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        self.archive
            .read_at_most(&blob_member(digest), MAX_MANIFEST_BODY)
            .await
    }
}

/// The archive's own name, for messages.
fn archive_name(archive: &TarIndex) -> String {
    archive.archive_path().display().to_string()
}

/// The member holding the blob `digest`.
fn blob_member(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm().name(), digest.hex())
}

/// What [`open_tar`] found: an index ready to use, or a compressed archive to decompress
/// first (asynchronously, hence a second step).
enum Opened {
    Ready(TarIndex),
    Compressed {
        file: File,
        compression: Compression,
        resolved: PathBuf,
        tmpdir: PathBuf,
    },
}

impl Opened {
    async fn into_index(self) -> Result<TarIndex> {
        match self {
            Opened::Ready(index) => Ok(index),
            Opened::Compressed {
                file,
                compression,
                resolved,
                tmpdir,
            } => {
                let plain = decompress_to_temp_file(file, compression, &resolved, &tmpdir).await?;
                fsutil::blocking(move || TarIndex::build(plain, &resolved)).await
            }
        }
    }
}

/// Open the archive and index it if it is a plain tar. Blocks.
fn open_tar(resolved: &Path, tmpdir: &Path) -> Result<Opened> {
    // skopeo's wording: it fails here while preparing its extraction directory, and names a
    // missing archive as such (skopeo 1.22; 1.9.3 gave the open error).
    let mut file = File::open(resolved).map_err(|err| {
        let why = if err.kind() == std::io::ErrorKind::NotFound {
            format!(
                "archive file not found: {}",
                go_quote(&resolved.to_string_lossy())
            )
        } else {
            path_error("open", resolved, &err).to_string()
        };
        anyhow!("creating temp directory: {why}")
    })?;
    let mut magic = Vec::with_capacity(Compression::DETECT_LEN);
    (&mut file)
        .take(Compression::DETECT_LEN as u64)
        .read_to_end(&mut magic)
        .map_err(|err| path_error("read", resolved, &err))?;
    match Compression::detect(&magic) {
        None => Ok(Opened::Ready(TarIndex::build(file, resolved)?)),
        Some(compression) => Ok(Opened::Compressed {
            file,
            compression,
            resolved: resolved.to_path_buf(),
            tmpdir: tmpdir.to_path_buf(),
        }),
    }
}

/// Decompress the whole of `file` into an unnamed temporary file in `tmpdir` (gone when
/// closed, even after a crash) and return that file.
async fn decompress_to_temp_file(
    file: File,
    compression: Compression,
    resolved: &Path,
    tmpdir: &Path,
) -> Result<File> {
    let plain = tempfile::tempfile_in(tmpdir)
        .map_err(|err| path_error("create a temporary file in", tmpdir, &err))?;
    let mut input = tokio::fs::File::from_std(file);
    tokio::io::AsyncSeekExt::rewind(&mut input)
        .await
        .map_err(|err| path_error("seek", resolved, &err))?;
    let mut decoder = compression.decompressing(input, fsutil::IO_CHUNK_SIZE);
    let mut output = tokio::fs::File::from_std(plain);
    tokio::io::copy(&mut decoder, &mut output)
        .await
        .map_err(|err| {
            anyhow!(
                "untarring file \"{}\": decompressing {compression}: {err}",
                resolved.display()
            )
        })?;
    tokio::io::AsyncWriteExt::flush(&mut output)
        .await
        .map_err(|err| path_error("write", tmpdir, &err))?;
    Ok(output.into_std().await)
}

#[async_trait]
impl ImageSource for OciArchiveSource {
    /// As the `oci:` transport: the top-level manifest's MIME type is its `index.json`
    /// media type; an instance's is the media type `index.json` gives its digest, if any.
    async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        let (digest, mime_type) = self.index.manifest_location(&self.descriptor, instance)?;
        Ok((self.read_manifest_blob(&digest).await?, mime_type))
    }

    /// The digest the archive's `index.json` gives the image.
    fn expected_manifest_digest(&self) -> Option<Digest> {
        self.descriptor.parsed_digest().ok()
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobReader, Option<u64>)> {
        let (reader, size) = self
            .archive
            .open(&blob_member(&info.digest))
            .with_context(|| format!("reading blob {}", info.digest))?;
        Ok((reader, Some(size)))
    }

    async fn blob_with_file(
        &self,
        info: &BlobInfo,
    ) -> Result<(BlobReader, Option<u64>, Option<FileBlob>)> {
        let (reader, member) = self
            .archive
            .open_with_file(&blob_member(&info.digest))
            .with_context(|| format!("reading blob {}", info.digest))?;
        Ok((reader, Some(member.length), Some(member)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skopos_core::media_type;
    use tokio::io::AsyncReadExt;

    /// A one-image OCI layout in a tar: `index.json`, the manifest, a config and one layer.
    fn write_archive(path: &Path, gzip: bool) -> (Digest, Vec<u8>) {
        let layer = b"layer bytes".to_vec();
        let layer_digest = Digest::sha256_of(&layer);
        let config = br#"{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;
        let config_digest = Digest::sha256_of(config);
        let manifest = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{}","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"{}","digest":"{layer_digest}","size":{}}}]}}"#,
            media_type::OCI_CONFIG,
            config.len(),
            media_type::OCI_LAYER,
            layer.len()
        );
        let manifest_digest = Digest::sha256_of(manifest.as_bytes());
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{manifest_digest}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"t"}}}}]}}"#,
            media_type::OCI_MANIFEST,
            manifest.len()
        );
        let mut builder = tar::Builder::new(Vec::new());
        let mut add = |name: &str, data: &[u8]| {
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_path(name).unwrap();
            header.set_cksum();
            builder.append(&header, data).unwrap();
        };
        add("oci-layout", br#"{"imageLayoutVersion": "1.0.0"}"#);
        add("index.json", index.as_bytes());
        for data in [manifest.as_bytes(), &config[..], &layer[..]] {
            add(&blob_member(&Digest::sha256_of(data)), data);
        }
        let bytes = builder.into_inner().unwrap();
        let bytes = if gzip {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut encoder, &bytes).unwrap();
            encoder.finish().unwrap()
        } else {
            bytes
        };
        std::fs::write(path, bytes).unwrap();
        (layer_digest, layer)
    }

    async fn read_layer(path: &Path, ctx: &SystemContext) -> (Vec<u8>, Vec<u8>) {
        let image = OciImage::Named("t".to_string());
        let source = OciArchiveSource::open(path, &image, ctx).await.unwrap();
        let (manifest, mime) = source.manifest(None).await.unwrap();
        assert_eq!(mime, media_type::OCI_MANIFEST);
        let layer_digest = serde_json::from_slice::<serde_json::Value>(&manifest).unwrap()
            ["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let info = BlobInfo {
            digest: layer_digest,
            size: None,
            media_type: String::new(),
        };
        let (mut reader, _) = source.blob(&info).await.unwrap();
        let mut layer = Vec::new();
        reader.read_to_end(&mut layer).await.unwrap();
        (manifest, layer)
    }

    #[tokio::test]
    async fn an_uncompressed_archive_is_read_in_place() {
        let work = tempfile::tempdir().unwrap();
        let tmpdir = tempfile::tempdir().unwrap();
        let archive = work.path().join("a.tar");
        let (_, layer) = write_archive(&archive, false);
        let ctx = SystemContext {
            tmpdir: Some(tmpdir.path().to_path_buf()),
            ..SystemContext::default()
        };
        let image = OciImage::Named("t".to_string());
        let source = OciArchiveSource::open(&archive, &image, &ctx)
            .await
            .unwrap();
        let (read_manifest, read) = read_layer(&archive, &ctx).await;
        assert_eq!(read, layer);
        // Nothing was extracted: neither the temporary directory nor the archive's
        // directory got anything, while a source is still open.
        assert_eq!(std::fs::read_dir(tmpdir.path()).unwrap().count(), 0);
        assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 1);
        // The source reads from the handle it opened: renaming another file over the
        // archive (as writing an archive does) changes nothing for it.
        let other = work.path().join("other");
        std::fs::write(&other, b"replaced").unwrap();
        std::fs::rename(&other, &archive).unwrap();
        assert_eq!(source.manifest(None).await.unwrap().0, read_manifest);
    }

    #[tokio::test]
    async fn a_gzip_archive_is_decompressed_into_the_temporary_directory() {
        let work = tempfile::tempdir().unwrap();
        let archive = work.path().join("a.tar.gz");
        let (_, layer) = write_archive(&archive, true);
        let ctx = SystemContext {
            tmpdir: Some(work.path().to_path_buf()),
            ..SystemContext::default()
        };
        assert_eq!(read_layer(&archive, &ctx).await.1, layer);
        // The decompressed copy is an unnamed file: nothing is left behind.
        assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 1);

        let missing_tmpdir = SystemContext {
            tmpdir: Some(work.path().join("missing")),
            ..SystemContext::default()
        };
        let image = OciImage::Named("t".to_string());
        let err = OciArchiveSource::open(&archive, &image, &missing_tmpdir)
            .await
            .unwrap_err();
        assert!(
            err.to_string().starts_with("create a temporary file in "),
            "{err}"
        );
    }

    #[tokio::test]
    async fn missing_archive_index_and_blobs_are_clear_errors() {
        let work = tempfile::tempdir().unwrap();
        let ctx = SystemContext::default();
        let image = OciImage::Only;
        let missing = work.path().join("missing.tar");
        let err = OciArchiveSource::open(&missing, &image, &ctx)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "creating temp directory: archive file not found: \"{}\"",
                missing.display()
            )
        );

        let empty = work.path().join("empty.tar");
        std::fs::write(&empty, b"").unwrap();
        let err = OciArchiveSource::open(&empty, &image, &ctx)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "open index.json in {}: no such file or directory",
                empty.display()
            )
        );

        let archive = work.path().join("a.tar");
        write_archive(&archive, false);
        let source = OciArchiveSource::open(&archive, &image, &ctx)
            .await
            .unwrap();
        let info = BlobInfo {
            digest: Digest::sha256_of(b"not there"),
            size: None,
            media_type: String::new(),
        };
        let err = source.blob(&info).await.err().unwrap();
        assert_eq!(
            format!("{err:#}"),
            format!(
                "reading blob {}: open blobs/sha256/{} in {}: no such file or directory",
                info.digest,
                info.digest.hex(),
                archive.display()
            )
        );
    }
}
