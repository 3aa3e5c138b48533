//! Writing one image as a `docker save` archive, into a file or any other byte sink.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use async_trait::async_trait;
use skopos_core::go::text::go_quote;
use skopos_core::manifest::schema2::Schema2Descriptor;
use skopos_core::reference::{ArchiveImage, DockerReference};
use skopos_core::{
    media_type, BlobInfo, BlobReader, Digest, ImageDestination, LayerCompression, Result,
    SystemContext, WrittenBlob,
};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::reader::{parent_dir, read_at_most, MAX_CONFIG_SIZE};
use super::writer::{ArchiveSink, ArchiveWriter};
use crate::fsutil::{self, go_error_text, SpoolError, Spooled};

const SIGNATURES_NOT_SUPPORTED: &str = "Storing signatures for docker tar files is not supported";

/// What happens once the archive is complete: the step that makes it visible. The file
/// destination renames its temporary file into place; `docker-daemon:` closes the
/// request body and waits for the daemon's answer.
#[async_trait]
pub trait ArchiveFinisher: Send + Sync {
    /// Called by `commit` with the sink, after the last byte of the archive was written
    /// and flushed.
    async fn finish(self: Box<Self>, sink: ArchiveSink) -> Result<()>;
}

/// An image being written as a docker-archive (containers/image's `tarfile.Destination`):
/// schema 2 manifests only, uncompressed layers, one blob at a time.
pub struct DockerArchiveDestination {
    state: Mutex<State>,
    /// The names the image gets in `manifest.json` and `repositories`.
    repo_tags: Vec<DockerReference>,
    /// Where blobs of unknown size are spooled to learn their size.
    tmpdir: PathBuf,
}

struct State {
    /// `None` once committed.
    writer: Option<ArchiveWriter>,
    finisher: Option<Box<dyn ArchiveFinisher>>,
    /// The config blob, for the legacy metadata written with the manifest.
    config: Option<Vec<u8>>,
}

impl std::fmt::Debug for DockerArchiveDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerArchiveDestination")
            .field("repo_tags", &self.repo_tags)
            .finish_non_exhaustive()
    }
}

impl DockerArchiveDestination {
    /// Write the archive into `sink`; `commit` finishes the tar and hands the sink to
    /// `finisher`. `repo_tags` are the image's names (may be empty; each must have a
    /// tag); big temporary files go to `ctx`'s tmpdir. `ctx.docker_archive_additional_tags`
    /// is not used here: containers/image applies `--additional-tag` to `docker-archive:`
    /// files only, not to `docker-daemon:`.
    pub fn with_sink(
        sink: ArchiveSink,
        repo_tags: Vec<DockerReference>,
        ctx: &SystemContext,
        finisher: Box<dyn ArchiveFinisher>,
    ) -> DockerArchiveDestination {
        DockerArchiveDestination {
            state: Mutex::new(State {
                writer: Some(ArchiveWriter::new(sink)),
                finisher: Some(finisher),
                config: None,
            }),
            repo_tags,
            tmpdir: ctx.tmpdir(),
        }
    }

    /// `docker-archive:PATH[:NAME:TAG]` for writing, with `--additional-tag`'s names
    /// (`ctx.docker_archive_additional_tags`) too. A regular file is written under a
    /// temporary name next to PATH and renamed into place on commit (so a failed copy
    /// leaves nothing); an existing non-empty file is refused, as skopeo refuses it; a
    /// pipe or device is written directly.
    pub async fn open(
        path: &Path,
        image: &ArchiveImage,
        ctx: &SystemContext,
    ) -> Result<DockerArchiveDestination> {
        let repo_tags = match image {
            ArchiveImage::Index(index) => {
                return Err(anyhow!(
                    "Destination reference must not contain a manifest index @{index}"
                ))
            }
            ArchiveImage::Only => Vec::new(),
            ArchiveImage::Named(reference) => vec![reference.clone()],
        };
        let mut repo_tags = repo_tags;
        repo_tags.extend(ctx.docker_archive_additional_tags.iter().cloned());
        let opening_error = |err: &io::Error| {
            anyhow!(
                "opening file {}: open {}: {}",
                go_quote(&path.to_string_lossy()),
                path.display(),
                go_error_text(err)
            )
        };
        // Only a plain regular file (or a new one) is replaced by a rename: a symlink
        // (`/dev/stdout`), pipe or device is written through, as skopeo does.
        let replaceable = match tokio::fs::symlink_metadata(path).await {
            Ok(metadata) => metadata.is_file(),
            Err(err) if err.kind() == io::ErrorKind::NotFound => true,
            Err(err) => return Err(opening_error(&err)),
        };
        let (sink, finisher): (ArchiveSink, Box<dyn ArchiveFinisher>) = if replaceable {
            if tokio::fs::metadata(path)
                .await
                .is_ok_and(|metadata| metadata.len() != 0)
            {
                return Err(not_empty());
            }
            // Checked first: the temporary file's error would name the temporary file.
            let dir = parent_dir(path);
            tokio::fs::metadata(&dir)
                .await
                .map_err(|err| opening_error(&err))?;
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let temp = tempfile::Builder::new()
                .prefix(&format!(".{name}."))
                .suffix(".tmp")
                .permissions(std::fs::Permissions::from_mode(0o644))
                .tempfile_in(&dir)
                .map_err(|err| opening_error(&err))?;
            let (file, temp_path) = temp.into_parts();
            let for_sync = file.try_clone().map_err(|err| opening_error(&err))?;
            (
                Box::new(tokio::fs::File::from_std(file)),
                Box::new(RenameIntoPlace {
                    temp: temp_path,
                    file: for_sync,
                    target: path.to_path_buf(),
                }),
            )
        } else {
            let file = tokio::fs::OpenOptions::new()
                .write(true)
                .create(true)
                // A non-empty regular file is refused below, untouched.
                .truncate(false)
                .mode(0o644)
                .open(path)
                .await
                .map_err(|err| opening_error(&err))?;
            let metadata = file.metadata().await.map_err(|err| opening_error(&err))?;
            if metadata.is_file() && metadata.len() != 0 {
                return Err(not_empty());
            }
            (Box::new(file), Box::new(CloseSink))
        };
        Ok(Self::with_sink(sink, repo_tags, ctx, finisher))
    }
}

/// Finishing a pipe or device: close it.
struct CloseSink;

#[async_trait]
impl ArchiveFinisher for CloseSink {
    async fn finish(self: Box<Self>, mut sink: ArchiveSink) -> Result<()> {
        sink.shutdown().await.context("closing the archive")?;
        Ok(())
    }
}

/// Finishing a regular file: flush it to disk and rename it over the target.
struct RenameIntoPlace {
    temp: tempfile::TempPath,
    file: std::fs::File,
    target: PathBuf,
}

#[async_trait]
impl ArchiveFinisher for RenameIntoPlace {
    async fn finish(self: Box<Self>, mut sink: ArchiveSink) -> Result<()> {
        sink.shutdown().await.context("closing the archive")?;
        drop(sink);
        let RenameIntoPlace { temp, file, target } = *self;
        crate::fsutil::blocking(move || {
            file.sync_all()
                .map_err(|err| anyhow!("writing {}: {}", temp.display(), go_error_text(&err)))?;
            temp.persist(&target).map_err(|err| {
                anyhow!(
                    "renaming the archive to {}: {}",
                    target.display(),
                    go_error_text(&err.error)
                )
            })
        })
        .await
    }
}

/// Spool `stream` to a temporary file in `dir` to learn its size and, when `hashed`, its
/// digest, with the messages of containers/image's tarfile destination.
async fn spool_blob(stream: BlobReader, dir: &Path, hashed: bool) -> Result<Spooled> {
    let temp = tempfile::Builder::new()
        .prefix("docker-tarfile-blob")
        .tempfile_in(dir)
        .map_err(|err| {
            anyhow!(
                "creating temporary file in {}: {}",
                dir.display(),
                go_error_text(&err)
            )
        })?;
    fsutil::spool(stream, temp, hashed)
        .await
        .map_err(|err| match err {
            SpoolError::Read(error) => anyhow::Error::new(error),
            SpoolError::Write { path, error } => {
                anyhow!("writing {}: {}", path.display(), go_error_text(&error))
            }
            SpoolError::Thread(error) => error,
        })
}

#[async_trait]
impl ImageDestination for DockerArchiveDestination {
    fn partial_blob_dir(&self) -> Option<PathBuf> {
        Some(fsutil::partial_blob_dir(&self.tmpdir))
    }

    fn supported_manifest_types(&self) -> Option<Vec<&'static str>> {
        Some(vec![media_type::DOCKER_V2_SCHEMA2])
    }

    fn desired_layer_compression(&self) -> LayerCompression {
        LayerCompression::Decompress
    }

    fn supports_signatures(&self) -> std::result::Result<(), String> {
        Err(SIGNATURES_NOT_SUPPORTED.to_string())
    }

    /// The tar is written sequentially.
    fn has_thread_safe_put_blob(&self) -> bool {
        false
    }

    async fn try_reuse_blob(&self, info: &BlobInfo) -> Result<Option<WrittenBlob>> {
        let state = self.state.lock().await;
        let writer = state.writer.as_ref().ok_or_else(committed)?;
        Ok(writer
            .blob_size(&info.digest)
            .map(|size| WrittenBlob::new(info.digest.clone(), size)))
    }

    async fn put_blob(
        &self,
        stream: BlobReader,
        expected: Option<&BlobInfo>,
        is_config: bool,
    ) -> Result<WrittenBlob> {
        // A tar header needs the size before the data: spool a blob of unknown size (a
        // layer decompressed on the way) to a temporary file first, as c/image does.
        let (stream, digest, size, _spooled): (BlobReader, Digest, u64, Option<Spooled>) =
            match expected.and_then(|info| info.size.map(|size| (info.digest.clone(), size))) {
                Some((digest, size)) => (stream, digest, size, None),
                None => {
                    let spooled = spool_blob(stream, &self.tmpdir, expected.is_none()).await?;
                    let digest = match (expected, &spooled.digest) {
                        (Some(info), _) => info.digest.clone(),
                        (None, Some(digest)) => digest.clone(),
                        (None, None) => {
                            return Err(anyhow!("internal error: a spooled blob was not hashed"))
                        }
                    };
                    (
                        Box::pin(spooled.reader()?),
                        digest,
                        spooled.size,
                        Some(spooled),
                    )
                }
            };
        let mut state = self.state.lock().await;
        let writer = state.writer.as_mut().ok_or_else(committed)?;
        if let Some(size) = writer.blob_size(&digest) {
            return Ok(WrittenBlob::new(digest, size));
        }
        if is_config {
            let mut stream = stream;
            let config = read_at_most(&mut stream, MAX_CONFIG_SIZE)
                .await
                .context("reading Config file stream")?;
            writer.put_config(&digest, &config).await?;
            state.config = Some(config);
        } else {
            writer.put_layer(&digest, size, stream).await?;
        }
        Ok(WrittenBlob::new(digest, size))
    }

    async fn put_manifest(
        &self,
        manifest: &[u8],
        _mime_type: &str,
        instance: Option<&Digest>,
    ) -> Result<()> {
        if instance.is_some() {
            return Err(anyhow!(
                "Manifest lists are not supported for docker tar files"
            ));
        }
        let parsed: ParsedSchema2 =
            serde_json::from_slice(manifest).map_err(|err| anyhow!("parsing manifest: {err}"))?;
        if parsed.schema_version != 2 || parsed.media_type != media_type::DOCKER_V2_SCHEMA2 {
            return Err(anyhow!(
                "Unsupported manifest type, need a Docker schema 2 manifest"
            ));
        }
        let layers: Vec<Digest> = parsed
            .layers
            .unwrap_or_default()
            .into_iter()
            .map(|layer| layer.digest)
            .collect();
        let mut state = self.state.lock().await;
        let config = state.config.clone().unwrap_or_default();
        let writer = state.writer.as_mut().ok_or_else(committed)?;
        writer
            .add_image(&layers, &parsed.config.digest, &config, &self.repo_tags)
            .await
    }

    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        _instance: Option<&Digest>,
    ) -> Result<()> {
        if signatures.is_empty() {
            return Ok(());
        }
        Err(anyhow!(SIGNATURES_NOT_SUPPORTED))
    }

    async fn commit(&self) -> Result<()> {
        let mut state = self.state.lock().await;
        let writer = state.writer.take().ok_or_else(committed)?;
        let finisher = state.finisher.take().ok_or_else(committed)?;
        let sink = writer.finish().await?;
        finisher.finish(sink).await
    }
}

/// The fields of a schema 2 manifest the archive needs.
#[derive(serde::Deserialize)]
struct ParsedSchema2 {
    #[serde(rename = "schemaVersion", default)]
    schema_version: i64,
    #[serde(rename = "mediaType", default)]
    media_type: String,
    config: Schema2Descriptor,
    #[serde(default)]
    layers: Option<Vec<Schema2Descriptor>>,
}

fn not_empty() -> anyhow::Error {
    anyhow!("docker-archive doesn't support modifying existing images")
}

fn committed() -> anyhow::Error {
    anyhow!("internal error: the docker-archive destination was already committed")
}
