//! What the engine reports while it works.
//!
//! Events serialize (serde) to the objects of `--progress-json-fd`: the variant's name in
//! kebab case under `"event"`, its fields by name. Adding a field or a variant is
//! compatible; renaming one is not.

use serde::Serialize;
use skopos_core::Digest;

/// Whether a blob is a layer or the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobKind {
    /// A layer (or schema 1's empty layer).
    Layer,
    /// The image's config.
    Config,
}

/// One step of a copy, in the order they happen (blob events of different layers
/// interleave: layers are copied in parallel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum CopyEvent {
    /// A copy of an image or list starts.
    ImageStarted {
        /// The source as `transport:name`.
        source: String,
        /// The destination as `transport:name`.
        destination: String,
    },
    /// About to read the source's signatures.
    GettingSignatures {
        /// Whether they are a list's (`false`: a single image's).
        list: bool,
    },
    /// The source has signatures: about to check the destination can store them.
    CheckingDestinationSignatures {
        /// Whether they are a list's (`false`: a single image's).
        list: bool,
    },
    /// A list copy will copy some of the list's images
    /// ([`CopyOptions::image_list_selection`](crate::CopyOptions::image_list_selection)
    /// decides which).
    CopyingImages {
        /// How many images will be copied.
        copying: usize,
        /// How many images the list has.
        total: usize,
    },
    /// Starting one image of a list copy.
    CopyingImage {
        /// The image's manifest digest in the source list.
        digest: Digest,
        /// Its position among the images copied, 1-based.
        index: usize,
        /// How many images the copy copies.
        count: usize,
    },
    /// A blob copy starts.
    BlobStarted {
        /// The blob's digest at the source.
        digest: Digest,
        /// Its size at the source in bytes, when the manifest gives one.
        size: Option<u64>,
        /// Layer or config.
        kind: BlobKind,
    },
    /// Part of the blob comes from a partial download an earlier copy kept; only the rest
    /// is read from the source.
    BlobResumed {
        /// The blob's digest at the source.
        digest: Digest,
        /// How many bytes at the start of the blob were already downloaded.
        offset: u64,
    },
    /// Progress of a blob's copy.
    BlobProgress {
        /// The blob's digest at the source.
        digest: Digest,
        /// Bytes of the source blob gone through so far, resumed bytes included.
        read: u64,
    },
    /// The destination already had the blob; nothing was read from the source.
    BlobSkipped {
        /// The blob's digest at the source.
        digest: Digest,
        /// Layer or config.
        kind: BlobKind,
        /// The size in bytes of the blob the destination holds.
        size: u64,
        /// Whether a registry mounted it from the source's repository (else it was there).
        mounted: bool,
    },
    /// The blob is stored at the destination.
    BlobDone {
        /// The blob's digest at the source.
        digest: Digest,
        /// Layer or config.
        kind: BlobKind,
        /// Bytes of the source blob that went through, `resumed` included.
        read: u64,
        /// Of those, the bytes that came from a kept partial download.
        resumed: u64,
        /// The digest of what the destination holds: another one than `digest` when the
        /// layer was recompressed, encrypted or decrypted.
        stored_digest: Digest,
        /// The size in bytes of what the destination holds.
        size: u64,
    },
    /// About to write a manifest.
    WritingManifest {
        /// Whether it is a list's (`false`: a single image's).
        list: bool,
    },
    /// A manifest is stored.
    ManifestWritten {
        /// The digest of the manifest as stored.
        digest: Digest,
        /// Its media type.
        media_type: String,
        /// Whether it is a list (`false`: a single image's manifest).
        list: bool,
    },
    /// About to make a new signature with one of the signers the options name.
    CreatingSignature {
        /// How it is made (containers/image's signer progress message).
        message: String,
        /// Which signer, 1-based.
        index: usize,
        /// How many signers there are.
        count: usize,
    },
    /// About to store signatures.
    StoringSignatures {
        /// Whether they are a list's (`false`: a single image's).
        list: bool,
    },
    /// The copy is committed.
    ImageDone {
        /// The digest of the destination's top-level manifest (the list's, for a list).
        digest: Digest,
        /// That manifest's media type.
        media_type: String,
    },
    /// The copy failed; nothing was committed.
    ImageFailed {
        /// The error and its causes, joined by `: `.
        message: String,
    },
}

/// Receives [`CopyEvent`]s. Called from several tasks at once.
pub trait ProgressSink: Send + Sync {
    /// Take one event; must not block for long (it is called while blobs stream).
    fn event(&self, event: CopyEvent);
}

/// Discards every event (`--quiet`).
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn event(&self, _event: CopyEvent) {}
}
