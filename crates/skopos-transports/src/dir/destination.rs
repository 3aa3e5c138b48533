//! Writing a `dir:` image.
//!
//! skopeo empties the directory when it opens it, so a failed copy destroys the old
//! image. Here everything is written to a staging directory inside PATH (same file
//! system, so publishing is a rename per file); `commit` then removes the old image and
//! moves the new files in. Until then the old image stays intact and readable, and a
//! destination dropped without `commit` removes its staging directory.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use anyhow::{anyhow, Context as _};
use async_trait::async_trait;
use skopos_core::digest::Algorithm;
use skopos_core::{
    BlobInfo, BlobReader, Digest, ImageDestination, LayerCompression, Result, SystemContext,
    WrittenBlob,
};
use tempfile::TempDir;

use super::{
    blob_path, manifest_path, not_an_image_dir, signature_path, unsupported_version, version_path,
    LayoutVersion, MAX_SUPPORTED_VERSION, VERSION_1_1, VERSION_1_2,
};
use crate::fsutil::{self, path_error, BackgroundFlushes, BlobPlacement, DirLock};

/// Name prefix of staging directories. Entries with this prefix are ours: they do not
/// make a directory "non-empty", and stale ones (left by a killed process) are removed.
const STAGING_PREFIX: &str = ".skopos-dir-staging-";

/// Name prefix of the files in which blobs are written in place
/// ([`ImageDestination::staging_file`]): a staging entry, so that one a killed copy left
/// does not make the directory "non-empty" and the next commit removes it if unused.
const STAGING_FILE_PREFIX: &str = ".skopos-dir-staging-partial-";

/// A `dir:` image being written.
#[derive(Debug)]
pub struct DirDestination {
    dir: PathBuf,
    /// Where new files wait for `commit`; a directory inside `dir`.
    staging_path: PathBuf,
    /// The staging directory and the lock that tells other writers it is in use; taken
    /// by `commit`.
    staging: Mutex<Option<Staging>>,
    /// Whether `open` created `dir`, so that an abandoned copy removes it again.
    created_dir: bool,
    compression: LayerCompression,
    /// Whether some file name carries a non-sha256 digest (layout version 1.2).
    uses_non_sha256: AtomicBool,
    /// The staged blobs' flushes to disk, waited for before `commit` moves them in.
    flushes: BackgroundFlushes,
    committed: AtomicBool,
}

#[derive(Debug)]
struct Staging {
    dir: TempDir,
    lock: DirLock,
}

impl DirDestination {
    /// Prepare to write an image into `path`, which must be missing, empty, or hold a
    /// `dir:` image (which `commit` replaces).
    pub fn open(path: &Path, ctx: &SystemContext) -> Result<Self> {
        let compression = match (ctx.dir_force_compress, ctx.dir_force_decompress) {
            (true, true) => return Err(anyhow!("Cannot compress and decompress at the same time")),
            (true, false) => LayerCompression::Compress,
            (false, true) => LayerCompression::Decompress,
            (false, false) => LayerCompression::Preserve,
        };
        let created_dir = match fs::metadata(path) {
            Ok(meta) if !meta.is_dir() => {
                return Err(anyhow!("readdirent {}: not a directory", path.display()))
            }
            Ok(_) => {
                if !image_entries(path)?.is_empty() {
                    check_existing_image(path)?;
                }
                false
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                fsutil::create_dir_all(path)
                    .with_context(|| format!("unable to create directory {:?}", path.display()))?;
                true
            }
            Err(err) => {
                return Err(path_error("stat", path, &err))
                    .with_context(|| format!("checking for path {:?}", path.display()))
            }
        };
        let staging = match create_staging(path) {
            Ok(staging) => staging,
            Err(err) => {
                if created_dir {
                    // Leave the file system as it was; a failure here changes nothing.
                    let _ = fs::remove_dir(path);
                }
                return Err(err);
            }
        };
        Ok(DirDestination {
            dir: path.to_path_buf(),
            staging_path: staging.dir.path().to_path_buf(),
            staging: Mutex::new(Some(staging)),
            created_dir,
            compression,
            uses_non_sha256: AtomicBool::new(false),
            flushes: BackgroundFlushes::default(),
            committed: AtomicBool::new(false),
        })
    }

    /// Where a blob's temporary file goes, and the blob once written: the staging
    /// directory.
    fn placement(&self) -> BlobPlacement {
        let staging = self.staging_path.clone();
        BlobPlacement {
            temp_dir: self.staging_path.clone(),
            temp_prefix: "dir-put-blob",
            final_path: Box::new(move |digest| blob_path(&staging, digest)),
            durable: true,
            make_temp_dir: false,
        }
    }

    fn staging_file_path(&self, digest: &Digest) -> PathBuf {
        self.dir
            .join(fsutil::staging_file_name(STAGING_FILE_PREFIX, digest))
    }

    fn note_digest(&self, digest: &Digest) {
        if digest.algorithm() != Algorithm::Sha256 {
            self.uses_non_sha256.store(true, Ordering::Relaxed);
        }
    }
}

fn create_staging(dir: &Path) -> Result<Staging> {
    let staging = tempfile::Builder::new()
        .prefix(STAGING_PREFIX)
        .tempdir_in(dir)
        .map_err(|err| path_error("create a staging directory in", dir, &err))?;
    let lock = DirLock::try_exclusive(staging.path())?
        .ok_or_else(|| anyhow!("{} is locked by another process", staging.path().display()))?;
    Ok(Staging { dir: staging, lock })
}

fn is_staging_name(name: &OsString) -> bool {
    name.to_str()
        .is_some_and(|name| name.starts_with(STAGING_PREFIX))
}

/// The names in `dir` other than staging directories.
fn image_entries(dir: &Path) -> Result<Vec<OsString>> {
    Ok(list_dir(dir)?
        .into_iter()
        .filter(|name| !is_staging_name(name))
        .collect())
}

fn list_dir(dir: &Path) -> Result<Vec<OsString>> {
    let entries = fs::read_dir(dir).map_err(|err| path_error("open", dir, &err))?;
    entries
        .map(|entry| {
            entry
                .map(|entry| entry.file_name())
                .map_err(|err| path_error("readdirent", dir, &err))
        })
        .collect()
}

/// A non-empty destination must already hold a `dir:` image of a supported version.
fn check_existing_image(dir: &Path) -> Result<()> {
    let version_file = version_path(dir);
    let content = match fs::read(&version_file) {
        Ok(content) => content,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(not_an_image_dir()),
        Err(err) => return Err(path_error("open", &version_file, &err)),
    };
    match LayoutVersion::parse(&content) {
        None => Err(not_an_image_dir()),
        Some(version) if version > MAX_SUPPORTED_VERSION => Err(unsupported_version(&content, dir)),
        Some(_) => Ok(()),
    }
}

/// Replace the contents of `dir` by those of `staging`. Commits to one directory are
/// serialized by a lock on it; live staging directories of other writers are left alone.
fn publish(dir: &Path, staging: Staging, version: LayoutVersion) -> Result<()> {
    let staging_path = staging.dir.path().to_path_buf();
    fsutil::write_new_file(
        &version_path(&staging_path),
        version.file_content().as_bytes(),
    )?;
    let _dir_lock = DirLock::exclusive(dir)?;
    // Check again: the directory may have changed since `open`.
    if !image_entries(dir)?.is_empty() {
        check_existing_image(dir)?;
    }
    let own_name = staging_path.file_name().map(OsString::from);
    let mut old_names = Vec::new();
    for name in list_dir(dir)? {
        if Some(&name) == own_name.as_ref() {
            continue;
        }
        if is_staging_name(&name) {
            // Another writer's directory: remove it only if nobody holds it any more.
            let path = dir.join(&name);
            if let Some(_stale) = DirLock::try_exclusive(&path)? {
                remove_all(&path)?;
            }
            continue;
        }
        old_names.push(name);
    }
    // The old image stays readable until `manifest.json` is replaced, the new one is whole
    // from then on: a copy killed at any point leaves one of them (with, at worst, files of
    // the other that no manifest names, which the next copy here removes).
    let mut new_names = list_dir(&staging_path)?;
    new_names.sort_by_key(PublishStep::of);
    let signatures_from =
        new_names.partition_point(|name| PublishStep::of(name) < PublishStep::Signature);
    let (content, signatures_and_manifest) = new_names.split_at(signatures_from);
    let rename_in = |name: &OsString| -> Result<()> {
        let from = staging_path.join(name);
        let to = dir.join(name);
        if fs::symlink_metadata(&to).is_ok_and(|meta| meta.is_dir()) {
            remove_all(&to)?;
        }
        fs::rename(&from, &to).map_err(|err| path_error("rename to", &to, &err))
    };
    content.iter().try_for_each(rename_in)?;
    // The old manifest's signatures must not be left beside the new manifest.
    for old in old_names
        .iter()
        .filter(|old| PublishStep::of(old) == PublishStep::Signature)
    {
        remove_all(&dir.join(old))?;
    }
    signatures_and_manifest.iter().try_for_each(rename_in)?;
    for old in old_names.iter().filter(|old| !new_names.contains(old)) {
        remove_all(&dir.join(old))?;
    }
    drop(staging.lock);
    staging
        .dir
        .close()
        .map_err(|err| path_error("remove", &staging_path, &err))
}

/// The order in which a new image's files go into the directory.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum PublishStep {
    /// Blobs and the manifests of a list's instances: named by their digests, they are
    /// the same bytes as any file of the old image of the same name.
    Content,
    Version,
    /// `signature-N` and `<digest>.signature-N`: what signs a manifest.
    Signature,
    /// `manifest.json`, last: the old image is the one a reader finds until it is
    /// replaced.
    TopLevelManifest,
}

impl PublishStep {
    fn of(name: &OsString) -> PublishStep {
        let name = name.to_string_lossy();
        if name == "manifest.json" {
            PublishStep::TopLevelManifest
        } else if name.starts_with("signature-") || name.contains(".signature-") {
            PublishStep::Signature
        } else if name == "version" {
            PublishStep::Version
        } else {
            PublishStep::Content
        }
    }
}

fn remove_all(path: &Path) -> Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    };
    result
        .map_err(|err| path_error("remove", path, &err))
        .with_context(|| "erasing the old image".to_string())
}

#[async_trait]
impl ImageDestination for DirDestination {
    /// In the image's directory, named as a staging entry: a fixed name survives the
    /// killed copy's staging directory, and the next commit into the directory removes
    /// one that nobody holds any more.
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
        fsutil::blocking(move || staged.publish()).await?;
        self.note_digest(&written.digest);
        Ok(written)
    }

    /// Any manifest type is stored as it is.
    fn supported_manifest_types(&self) -> Option<Vec<&'static str>> {
        None
    }

    fn desired_layer_compression(&self) -> LayerCompression {
        self.compression
    }

    /// Only blobs written by this copy count: the old image is going away.
    async fn try_reuse_blob(&self, info: &BlobInfo) -> Result<Option<WrittenBlob>> {
        let path = blob_path(&self.staging_path, &info.digest);
        let info = info.clone();
        fsutil::blocking(move || fsutil::existing_blob(&path, &info)).await
    }

    async fn put_blob(
        &self,
        stream: BlobReader,
        expected: Option<&BlobInfo>,
        _is_config: bool,
    ) -> Result<WrittenBlob> {
        let written = fsutil::store_blob(stream, expected, self.placement(), &self.flushes).await?;
        self.note_digest(&written.digest);
        Ok(written)
    }

    async fn put_manifest(
        &self,
        manifest: &[u8],
        _mime_type: &str,
        instance: Option<&Digest>,
    ) -> Result<()> {
        if let Some(digest) = instance {
            self.note_digest(digest);
        }
        let path = manifest_path(&self.staging_path, instance);
        let bytes = manifest.to_vec();
        fsutil::blocking(move || fsutil::write_new_file(&path, &bytes)).await
    }

    /// Signatures are stored byte for byte, one file each.
    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        instance: Option<&Digest>,
    ) -> Result<()> {
        if let Some(digest) = instance {
            self.note_digest(digest);
        }
        let files: Vec<(PathBuf, Vec<u8>)> = signatures
            .iter()
            .enumerate()
            .map(|(index, bytes)| {
                (
                    signature_path(&self.staging_path, index, instance),
                    bytes.clone(),
                )
            })
            .collect();
        fsutil::blocking(move || {
            files
                .iter()
                .try_for_each(|(path, bytes)| fsutil::write_new_file(path, bytes))
        })
        .await
    }

    async fn commit(&self) -> Result<()> {
        let staging = self
            .staging
            .lock()
            .map_err(|_| anyhow!("internal error: a poisoned lock"))?
            .take()
            .ok_or_else(|| anyhow!("internal error: dir: destination committed twice"))?;
        let version = if self.uses_non_sha256.load(Ordering::Relaxed) {
            VERSION_1_2
        } else {
            VERSION_1_1
        };
        self.flushes.wait().await?;
        let dir = self.dir.clone();
        fsutil::blocking(move || publish(&dir, staging, version))
            .await
            .with_context(|| format!("writing the image to {}", self.dir.display()))?;
        self.committed.store(true, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for DirDestination {
    fn drop(&mut self) {
        if self.committed.load(Ordering::Relaxed) {
            return;
        }
        // Remove the staging directory first, so that a directory we created is empty.
        if let Ok(mut staging) = self.staging.lock() {
            drop(staging.take());
        }
        // A blob writer thread of a cancelled copy may still be closing its temporary file
        // in there (a blocking thread cannot be aborted); give it time (up to 10 s: on a
        // loaded 2-core machine 2 s was seen to be too short) rather than leave a staging
        // directory behind. Only a failed copy waits here, and only while that thread runs.
        for _ in 0..1000 {
            if !self.staging_path.exists() || fs::remove_dir_all(&self.staging_path).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if self.created_dir {
            // Fails, harmlessly, if anything else has appeared in the meantime.
            let _ = fs::remove_dir(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_level_manifest_goes_in_last_after_its_signatures_and_blobs() {
        let mut names: Vec<OsString> = [
            "manifest.json",
            "signature-1",
            "version",
            "0123abcd",
            "0123abcd.manifest.json",
            "0123abcd.signature-1",
            "4567ef01",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        names.sort_by_key(PublishStep::of);
        let order: Vec<_> = names.iter().map(|n| n.to_string_lossy()).collect();
        assert_eq!(
            order,
            [
                "0123abcd",
                "0123abcd.manifest.json",
                "4567ef01",
                "version",
                "signature-1",
                "0123abcd.signature-1",
                "manifest.json",
            ]
        );
    }
}
