//! Writing an image into an OCI layout.
//!
//! Blobs (manifests included) are content-addressed files that appear atomically; the
//! image only becomes visible when `commit` adds it to `index.json`. That update re-reads
//! `index.json` under an advisory lock on the layout directory and replaces the file by
//! a rename, so concurrent writers do not lose each other's tags and readers never see a
//! half-written index. (skopeo instead rewrites the index it read when it started.)

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{anyhow, Context as _};
use async_trait::async_trait;
use skopos_core::reference::OciImage;
use skopos_core::{
    media_type, BlobInfo, BlobReader, Digest, ImageDestination, LayerCompression, Result,
    SystemContext, WrittenBlob,
};

use super::index::{Descriptor, Index, REF_NAME_ANNOTATION};
use super::{index_path, oci_layout_path, BlobStore, OCI_LAYOUT_CONTENT};
use crate::fsutil::{self, path_error, BackgroundFlushes, BlobPlacement, DirLock, StagedBlob};

/// An image being written into an OCI layout.
#[derive(Debug)]
pub struct OciDestination {
    dir: PathBuf,
    /// The ref name the image gets in `index.json`; `None` adds an unnamed entry.
    name: Option<String>,
    /// Whether the top-level manifest gets an `index.json` entry at all: a referrer's
    /// does not, the referrers index that lists it (named by the tag schema) does.
    listed: bool,
    blobs: BlobStore,
    /// Where temporary blob files go: beside the blobs, so that a rename publishes them.
    temp_dir: PathBuf,
    compression: LayerCompression,
    /// The `index.json` entry for the top-level manifest, once it is written.
    top_level: Mutex<Option<Descriptor>>,
    /// Blobs and manifests written so far, still under temporary names: `commit`
    /// publishes them, so a failed copy adds nothing to the layout.
    staged: Mutex<HashMap<PathBuf, (WrittenBlob, StagedBlob)>>,
    /// The staged blobs' flushes to disk, waited for before `commit` publishes them.
    flushes: BackgroundFlushes,
    /// Whether blobs are flushed to disk before `commit` publishes them: not in a
    /// temporary layout that is archived, then deleted.
    durable: bool,
}

/// Name prefix of the files in which blobs are written in place
/// ([`ImageDestination::staging_file`]): hidden, as a killed copy leaves its file there for
/// the next run to resume from.
const STAGING_FILE_PREFIX: &str = ".skopos-partial-";

impl OciDestination {
    /// Prepare to write `image` into the layout at `path`, creating the layout if
    /// needed. An existing `index.json` must be readable.
    pub fn open(path: &Path, image: &OciImage, ctx: &SystemContext) -> Result<Self> {
        let name = match image {
            OciImage::Only => None,
            OciImage::Named(name) => Some(name.clone()),
            OciImage::Index(position) => {
                return Err(anyhow!(
                    "Destination reference must not contain a manifest index @{position}"
                ))
            }
        };
        read_index_if_present(path)?;
        fsutil::create_dir_all(path)?;
        // The OCI layout spec requires `blobs/`, even when it stays empty.
        fsutil::create_dir_all(&path.join("blobs"))?;
        let shared_blob_dir = ctx.oci_shared_blob_dir.as_deref();
        let compression = if ctx.oci_accept_uncompressed_layers {
            LayerCompression::Preserve
        } else {
            LayerCompression::Compress
        };
        Ok(OciDestination {
            dir: path.to_path_buf(),
            name,
            listed: true,
            blobs: BlobStore::new(path, shared_blob_dir),
            temp_dir: shared_blob_dir.unwrap_or(path).to_path_buf(),
            compression,
            top_level: Mutex::new(None),
            staged: Mutex::new(HashMap::new()),
            flushes: BackgroundFlushes::default(),
            durable: true,
        })
    }

    /// [`OciDestination::open`] for a layout in a temporary directory that lives only
    /// until the caller archives it (`oci-archive:`): its blobs are not flushed to disk,
    /// the archive is.
    pub(crate) fn open_temporary(
        path: &Path,
        image: &OciImage,
        ctx: &SystemContext,
    ) -> Result<Self> {
        Ok(OciDestination {
            durable: false,
            ..OciDestination::open(path, image, ctx)?
        })
    }

    /// Prepare to write a manifest (and its blobs) into the layout at `path` without an
    /// `index.json` entry of its own: a referrer, reached through its subject's
    /// referrers index.
    pub(crate) fn open_unlisted(path: &Path, ctx: &SystemContext) -> Result<Self> {
        Ok(OciDestination {
            listed: false,
            ..OciDestination::open(path, &OciImage::Only, ctx)?
        })
    }
}

/// The layout's index, or `None` when it has none yet.
fn read_index_if_present(layout: &Path) -> Result<Option<Index>> {
    let path = index_path(layout);
    match skopos_core::limits::read_file_at_most_blocking(&path, skopos_core::limits::MAX_OCI_INDEX)
    {
        Ok(bytes) => Index::parse(&bytes, &path).map(Some),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(path_error("open", &path, &err)),
    }
}

/// Remove the staging files in `dir` that no copy holds (killed copies left them, for
/// blobs no copy since has taken), as a `dir:` commit removes its directory's. Only tidies
/// up: a file that cannot be removed stays.
fn remove_unused_staging_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with(STAGING_FILE_PREFIX)
        {
            continue;
        }
        let path = entry.path();
        // A copy writing the file holds its lock; removing it under the lock tells a copy
        // that opened it just now to leave it (it checks the name after locking).
        if let Ok(Some(_unused)) = DirLock::try_exclusive(&path) {
            if let Err(err) = fs::remove_file(&path) {
                tracing::debug!("removing {}: {err}", path.display());
            }
        }
    }
}

/// Add `top_level` to the layout's index, under the layout lock.
fn update_index(layout: &Path, top_level: Option<Descriptor>) -> Result<()> {
    let _lock = DirLock::exclusive(layout)?;
    let mut index = read_index_if_present(layout)?.unwrap_or_else(Index::new);
    if let Some(descriptor) = top_level {
        index.add(descriptor);
    }
    let layout_file = oci_layout_path(layout);
    if fs::read(&layout_file).ok().as_deref() != Some(OCI_LAYOUT_CONTENT) {
        fsutil::write_file_atomic(&layout_file, OCI_LAYOUT_CONTENT)?;
    }
    fsutil::write_file_atomic(&index_path(layout), &index.to_bytes()?)
}

#[async_trait]
impl ImageDestination for OciDestination {
    /// Beside the temporary blob files, so that a rename stages the blob.
    fn staging_file(&self, digest: &Digest) -> Option<PathBuf> {
        Some(self.staging_file_path(digest))
    }

    async fn put_staged_blob(&self, info: &BlobInfo) -> Result<WrittenBlob> {
        let file = self.staging_file_path(&info.digest);
        let placement = self.placement();
        let info = info.clone();
        let (written, mut staged) =
            fsutil::blocking(move || fsutil::stage_file(&file, &info, placement)).await?;
        staged.flush_in_background(&self.flushes)?;
        self.staged()?
            .insert(staged.final_path().to_path_buf(), (written.clone(), staged));
        Ok(written)
    }

    fn supported_manifest_types(&self) -> Option<Vec<&'static str>> {
        Some(vec![media_type::OCI_MANIFEST, media_type::OCI_INDEX])
    }

    fn desired_layer_compression(&self) -> LayerCompression {
        self.compression
    }

    fn supports_signatures(&self) -> std::result::Result<(), String> {
        Err("Pushing signatures for OCI images is not supported".to_string())
    }

    async fn try_reuse_blob(&self, info: &BlobInfo) -> Result<Option<WrittenBlob>> {
        let path = self.blobs.path(&info.digest);
        if let Some((written, _)) = self.staged()?.get(&path) {
            let size_matches = info.size.is_none_or(|size| size == written.size);
            return Ok(size_matches.then(|| written.clone()));
        }
        let info = info.clone();
        fsutil::blocking(move || fsutil::existing_blob(&path, &info)).await
    }

    async fn put_blob(
        &self,
        stream: BlobReader,
        expected: Option<&BlobInfo>,
        _is_config: bool,
    ) -> Result<WrittenBlob> {
        let (written, mut staged) = fsutil::stage_blob(stream, expected, self.placement()).await?;
        staged.flush_in_background(&self.flushes)?;
        self.staged()?
            .insert(staged.final_path().to_path_buf(), (written.clone(), staged));
        Ok(written)
    }

    /// Manifests are blobs too; the top-level one also becomes the `index.json` entry
    /// that `commit` adds.
    async fn put_manifest(
        &self,
        manifest: &[u8],
        mime_type: &str,
        instance: Option<&Digest>,
    ) -> Result<()> {
        let mime_type = if mime_type.is_empty() {
            skopos_core::manifest::guess_mime_type(manifest)
        } else {
            mime_type.to_string()
        };
        // Other manifest types only arrive when the copy may not convert (signatures,
        // `--preserve-digests`); containers/image then stores them as they are, and so do we.
        let digest = match instance {
            Some(digest) => digest.clone(),
            None => Digest::sha256_of(manifest),
        };
        let bytes = manifest.to_vec();
        let placement = self.placement();
        let manifest_digest = digest.clone();
        let mut staged =
            fsutil::blocking(move || fsutil::stage_bytes(&bytes, &manifest_digest, placement))
                .await?;
        staged.flush_in_background(&self.flushes)?;
        let written = WrittenBlob::new(digest.clone(), manifest.len() as u64);
        self.staged()?
            .insert(staged.final_path().to_path_buf(), (written, staged));
        if instance.is_none() && self.listed {
            let mut descriptor = Descriptor {
                media_type: mime_type,
                digest: digest.to_string(),
                size: i64::try_from(manifest.len()).context("the manifest is too large")?,
                ..Descriptor::default()
            };
            if let Some(name) = &self.name {
                descriptor
                    .annotations
                    .insert(REF_NAME_ANNOTATION.to_string(), name.clone());
            }
            *self
                .top_level
                .lock()
                .map_err(|_| anyhow!("internal error: a poisoned lock"))? = Some(descriptor);
        }
        Ok(())
    }

    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        _instance: Option<&Digest>,
    ) -> Result<()> {
        if signatures.is_empty() {
            return Ok(());
        }
        Err(anyhow!(
            "Pushing signatures for OCI images is not supported"
        ))
    }

    async fn commit(&self) -> Result<()> {
        let top_level = self
            .top_level
            .lock()
            .map_err(|_| anyhow!("internal error: a poisoned lock"))?
            .clone();
        self.flushes.wait().await?;
        let staged: Vec<StagedBlob> = self.staged()?.drain().map(|(_, (_, s))| s).collect();
        let dir = self.dir.clone();
        let temp_dir = self.temp_dir.clone();
        fsutil::blocking(move || {
            for blob in staged {
                blob.publish()?;
            }
            update_index(&dir, top_level)?;
            remove_unused_staging_files(&temp_dir);
            Ok(())
        })
        .await
        .with_context(|| format!("updating the index of {}", self.dir.display()))
    }
}

impl OciDestination {
    /// Where a blob's temporary file goes, and the blob once published.
    fn placement(&self) -> BlobPlacement {
        let blobs = self.blobs.clone();
        BlobPlacement {
            temp_dir: self.temp_dir.clone(),
            temp_prefix: "oci-put-blob",
            final_path: Box::new(move |digest| blobs.path(digest)),
            durable: self.durable,
            make_temp_dir: true,
        }
    }

    fn staging_file_path(&self, digest: &Digest) -> PathBuf {
        self.temp_dir
            .join(fsutil::staging_file_name(STAGING_FILE_PREFIX, digest))
    }

    fn staged(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, HashMap<PathBuf, (WrittenBlob, StagedBlob)>>> {
        self.staged
            .lock()
            .map_err(|_| anyhow!("internal error: a poisoned lock"))
    }
}
