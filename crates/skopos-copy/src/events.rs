//! What the engine reports while it works.

use skopos_core::Digest;

/// Whether a blob is a layer or the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobKind {
    Layer,
    Config,
}

/// One step of a copy, in the order they happen (blob events of different layers
/// interleave: layers are copied in parallel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyEvent {
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
    /// `read` bytes of the source blob have gone through so far.
    BlobProgress { digest: Digest, read: u64 },
    /// The destination already had the blob.
    BlobSkipped { digest: Digest, kind: BlobKind },
    /// The blob is stored.
    BlobDone { digest: Digest, kind: BlobKind },
    /// About to write the manifest of an image (`list: false`) or of a list.
    WritingManifest { list: bool },
    /// About to make a new signature with signer `index` (1-based) of `count`;
    /// `message` says how (containers/image's signer progress message).
    CreatingSignature {
        message: String,
        index: usize,
        count: usize,
    },
    /// About to store signatures of an image or of a list.
    StoringSignatures { list: bool },
}

/// Receives [`CopyEvent`]s. Called from several tasks at once.
pub trait ProgressSink: Send + Sync {
    fn event(&self, event: CopyEvent);
}

/// Discards every event (`--quiet`).
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn event(&self, _event: CopyEvent) {}
}
