//! zstd:chunked layers, written as skopeo 1.22 writes them (containers/storage's
//! `pkg/chunked/compressor`): every tar header and every chunk of file contents is its own
//! zstd frame, so that a puller can fetch single files; a table of contents (TOC) lists
//! every entry with the offsets of its frames and the digests of its contents and chunks;
//! the tar-split keeps the archive's raw bytes so the tar can be rebuilt exactly; the TOC,
//! the tar-split and a footer follow the data as zstd skippable frames, which a plain zstd
//! decoder skips, so the blob stays an ordinary zstd stream of the layer tar.
//!
//! Chunk boundaries (content-defined, by a rolling checksum, and runs of zeros) are the same
//! as upstream's for the same tar; the compressed bytes differ because the zstd encoder does
//! (libzstd here, klauspost/compress in skopeo).
//!
//! Where it fits: the copy engine (skopos-copy) streams a layer through [`write_chunked`] on
//! its way from source to destination when the destination is to get zstd:chunked layers
//! (`--dest-compress-format zstd:chunked`).

#![deny(missing_docs)]

mod chunker;
mod frames;
mod rollsum;
mod tar;
mod tarsplit;
mod toc;
mod writer;

use std::collections::BTreeMap;

pub use writer::write_chunked;

/// The layer annotation with the digest of the compressed TOC (what partial pulls trust).
pub const TOC_CHECKSUM_ANNOTATION: &str = "io.github.containers.zstd-chunked.manifest-checksum";
/// The layer annotation `offset:compressed:uncompressed:type` of the TOC.
pub const TOC_POSITION_ANNOTATION: &str = "io.github.containers.zstd-chunked.manifest-position";
/// The layer annotation `offset:compressed:uncompressed` of the tar-split.
pub const TAR_SPLIT_POSITION_ANNOTATION: &str =
    "io.github.containers.zstd-chunked.tarsplit-position";
/// The eStargz TOC digest annotation (another chunked format containers/image knows).
pub const ESTARGZ_TOC_ANNOTATION: &str = "containerd.io/snapshot/stargz/toc.digest";
/// The zstd level containers/storage compresses zstd:chunked layers with by default.
pub const DEFAULT_LEVEL: i32 = 10;

/// Where a written layer's metadata is, for its annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedLayer {
    /// `sha256:…` of the compressed TOC.
    pub toc_digest: String,
    /// `offset:compressed:uncompressed:1`.
    pub toc_position: String,
    /// `offset:compressed:uncompressed`.
    pub tar_split_position: String,
}

impl ChunkedLayer {
    /// The three layer annotations skopeo 1.22 writes.
    pub fn annotations(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (TOC_CHECKSUM_ANNOTATION.to_string(), self.toc_digest.clone()),
            (
                TOC_POSITION_ANNOTATION.to_string(),
                self.toc_position.clone(),
            ),
            (
                TAR_SPLIT_POSITION_ANNOTATION.to_string(),
                self.tar_split_position.clone(),
            ),
        ])
    }
}

/// Whether layer annotations declare a chunked format (a TOC digest), as containers/image's
/// `toc.GetTOCDigest` finds one: then a zstd blob is zstd:chunked.
pub fn has_toc_digest(annotations: &BTreeMap<String, String>) -> bool {
    annotations.contains_key(TOC_CHECKSUM_ANNOTATION)
        || annotations.contains_key(ESTARGZ_TOC_ANNOTATION)
}
