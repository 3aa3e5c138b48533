//! containers/image's blob-info cache as skopeo and podman keep it: the SQLite file
//! `blob-info-cache-v1.sqlite` (same tables, same rows), in the same place, so that what
//! one tool learned about blobs (compressed ↔ uncompressed digests, compressors, the
//! registry repositories holding each blob) serves the others.
//!
//! [`default_cache`] opens it where containers/image would (its `location` module); when that is not
//! possible (a read-only home, no `$HOME`), it falls back to a cache in memory with the same
//! schema, silently, as containers/image does.
//!
//! Where it fits: the command line opens the cache and hands it to the copy engine
//! (`CopyOptions::blob_info_cache` in skopos-copy), which asks it, through
//! [`skopos_core::blob_info_cache::BlobInfoCache`], whether a destination may already hold a
//! blob or its other compression, and records what each copy learns.

#![deny(missing_docs)]

mod location;
mod sqlite;

use std::path::Path;
use std::sync::Arc;

use skopos_core::blob_info_cache::BlobInfoCache;

pub use location::{cache_dir, CACHE_FILE_NAME};
pub use sqlite::SqliteCache;

/// The cache a copy should use: the shared file in `dir_override` (containers/image's
/// `SystemContext.BlobInfoCacheDir`) or in containers/image's default directory, else an
/// in-memory cache.
pub fn default_cache(dir_override: Option<&Path>) -> Arc<dyn BlobInfoCache> {
    let dir = match dir_override {
        Some(dir) => dir.to_path_buf(),
        None => match cache_dir(skopos_core::rootless::rootless_uid()) {
            Some(dir) => dir,
            None => {
                tracing::debug!(
                    "Error determining a location for {CACHE_FILE_NAME}, using a memory-only cache"
                );
                return memory_cache();
            }
        },
    };
    let path = dir.join(CACHE_FILE_NAME);
    if let Err(err) = create_private_dir(&dir) {
        tracing::debug!(
            "Error creating parent directories for {}, using a memory-only cache: {err}",
            path.display()
        );
        return memory_cache();
    }
    match SqliteCache::open(&path) {
        Ok(cache) => {
            tracing::debug!("Using SQLite blob info cache at {}", path.display());
            Arc::new(cache)
        }
        Err(err) => {
            tracing::debug!(
                "Error creating a SQLite blob info cache at {}, using a memory-only cache: {err:#}",
                path.display()
            );
            memory_cache()
        }
    }
}

/// A cache in memory; when SQLite cannot even give that, one that knows nothing and keeps
/// nothing (copies work the same, without reuse).
fn memory_cache() -> Arc<dyn BlobInfoCache> {
    match SqliteCache::in_memory() {
        Ok(cache) => Arc::new(cache),
        Err(err) => {
            tracing::debug!("Error creating an in-memory blob info cache, using none: {err}");
            Arc::new(NoCache)
        }
    }
}

/// The cache of last resort: nothing is known, nothing recorded.
#[derive(Debug)]
struct NoCache;

impl BlobInfoCache for NoCache {
    fn uncompressed_digest(&self, _any: &skopos_core::Digest) -> Option<skopos_core::Digest> {
        None
    }

    fn record(&self, _facts: &[skopos_core::blob_info_cache::BlobFact]) {}

    fn flush(&self) {}

    fn candidates(
        &self,
        _location: &skopos_core::blob_info_cache::BlobLocation,
        _digest: &skopos_core::Digest,
        _can_substitute: bool,
    ) -> Vec<skopos_core::blob_info_cache::ReuseCandidate> {
        Vec::new()
    }
}

/// `os.MkdirAll(dir, 0o700)`.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}
