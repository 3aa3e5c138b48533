//! What copies learn about blobs and keep for later ones (containers/image's
//! `BlobInfoCache`): which compressed blob holds which uncompressed content, how each blob
//! is compressed, and where blobs were seen, so that a later copy can mount a blob from
//! another repository or reuse a recompressed layer the destination already has.
//!
//! The copy engine and transports use the [`BlobInfoCache`] trait; the SQLite file that
//! skopeo and podman share lives in the `skopos-blobinfocache` crate.

use crate::compression::Compression;
use crate::digest::Digest;

/// The compressor name containers/image records for a blob known to be uncompressed.
pub const UNCOMPRESSED: &str = "uncompressed";

/// The compressor name recorded for `compression` (`None`: uncompressed). zstd:chunked is
/// recorded as its base variant, zstd, as containers/image records it.
pub fn compressor_name(compression: Option<Compression>) -> &'static str {
    match compression {
        None => UNCOMPRESSED,
        Some(Compression::ZstdChunked) => Compression::Zstd.name(),
        Some(other) => other.name(),
    }
}

/// Where a transport keeps blobs, in containers/image's terms: the transport's name
/// (`docker`), the scope within which blobs can be reused (a registry host) and the
/// location of one image's blobs within it (a repository, `host/path`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobLocation {
    /// The transport's name, as containers/image records it.
    pub transport: String,
    /// Blobs may be reused across this scope.
    pub scope: String,
    /// Opaque to the cache: the transport knows how to read a blob from it.
    pub location: String,
}

/// A blob that may stand in for a wanted one: the blob itself elsewhere, or another
/// compression of the same content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReuseCandidate {
    /// The candidate blob (the wanted digest, or another compression of its content).
    pub digest: Digest,
    /// The recorded compressor name ([`UNCOMPRESSED`], `gzip`, `zstd`, …); `None` when
    /// nothing was recorded.
    pub compressor: Option<String>,
    /// Where it was seen ([`BlobLocation::location`]).
    pub location: String,
}

/// One thing learned about a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobFact {
    /// `any`'s content, decompressed, has digest `uncompressed` (may equal `any`).
    UncompressedPair {
        /// A blob's digest, compressed or not.
        any: Digest,
        /// The digest of its uncompressed content.
        uncompressed: Digest,
    },
    /// How `digest`'s blob is compressed (a name from [`compressor_name`]).
    Compressor {
        /// The blob's digest.
        digest: Digest,
        /// Its compression's name, or [`UNCOMPRESSED`].
        compressor: &'static str,
    },
    /// The blob `digest` exists at `location`.
    KnownLocation {
        /// Where it was seen (for a registry: the repository).
        location: BlobLocation,
        /// The blob's digest.
        digest: Digest,
    },
}

/// A store of facts about blobs, shared by every copy of a run (and, on disk, by every
/// process). Lookups never fail: a cache that cannot answer knows nothing; recording is
/// best effort, as containers/image's caches are.
///
/// Only facts verified locally may be recorded (a digest pair the engine hashed itself),
/// never what a manifest merely claims: the cache decides which blobs stand in for which.
pub trait BlobInfoCache: Send + Sync + std::fmt::Debug {
    /// The uncompressed digest of `any`, `any` itself when it is known to be
    /// uncompressed, `None` when nothing is known.
    fn uncompressed_digest(&self, any: &Digest) -> Option<Digest>;
    /// Record `facts`. A cache may hold them back until [`BlobInfoCache::flush`], so that a
    /// copy writes its file once, not once per blob; its own lookups see them all the same.
    fn record(&self, facts: &[BlobFact]);
    /// Write what [`BlobInfoCache::record`] held back (the copy engine calls this when an
    /// image is done).
    fn flush(&self);
    /// Blobs in `location`'s transport and scope that hold `digest`, or, when
    /// `can_substitute`, the same content in another compression; best candidates first
    /// (the exact digest, then the most recently seen).
    fn candidates(
        &self,
        location: &BlobLocation,
        digest: &Digest,
        can_substitute: bool,
    ) -> Vec<ReuseCandidate>;
}
