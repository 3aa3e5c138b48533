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
    /// A copy of the image (or list) `source` to `destination` starts (`transport:name`).
    ImageStarted { source: String, destination: String },
    /// About to read signatures of a single image (`list: false`) or of a list.
    GettingSignatures { list: bool },
    /// The source has signatures: about to check the destination can store them.
    CheckingDestinationSignatures { list: bool },
    /// A list copy will copy `copying` of the list's `total` images.
    CopyingImages { copying: usize, total: usize },
    /// Starting image `index` (1-based) of `count` in a list copy.
    CopyingImage {
        digest: Digest,
        index: usize,
        count: usize,
    },
    /// A blob copy starts; `size` is the source size when known.
    BlobStarted {
        digest: Digest,
        size: Option<u64>,
        kind: BlobKind,
    },
    /// The first `offset` bytes of the blob come from a partial download an earlier copy
    /// kept; only the rest is read from the source.
    BlobResumed { digest: Digest, offset: u64 },
    /// `read` bytes of the source blob have gone through so far (resumed bytes included).
    BlobProgress { digest: Digest, read: u64 },
    /// The destination already had the blob (`mounted`: a registry mounted it from the
    /// source's repository); `size` is what the destination holds.
    BlobSkipped {
        digest: Digest,
        kind: BlobKind,
        size: u64,
        mounted: bool,
    },
    /// The blob is stored: `read` bytes of the source blob went through (`resumed` of them
    /// from a kept partial download), and the destination holds `size` bytes with digest
    /// `stored_digest` (another one than `digest` when the layer was recompressed).
    BlobDone {
        digest: Digest,
        kind: BlobKind,
        read: u64,
        resumed: u64,
        stored_digest: Digest,
        size: u64,
    },
    /// About to write the manifest of an image (`list: false`) or of a list.
    WritingManifest { list: bool },
    /// A manifest is stored: `digest`, of type `media_type`.
    ManifestWritten {
        digest: Digest,
        media_type: String,
        list: bool,
    },
    /// About to make a new signature with signer `index` (1-based) of `count`;
    /// `message` says how (containers/image's signer progress message).
    CreatingSignature {
        message: String,
        index: usize,
        count: usize,
    },
    /// About to store signatures of an image or of a list.
    StoringSignatures { list: bool },
    /// The copy is committed: the destination's top-level manifest is `digest`.
    ImageDone { digest: Digest, media_type: String },
    /// The copy failed with `message` (the error and its causes); nothing was committed.
    ImageFailed { message: String },
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
