//! `tarball:FILE[:FILE…]` (read only): an image made up on the spot from layer files, as
//! containers/image's tarball transport makes it.
//!
//! Each file is one layer, gzip-compressed or not (`-` is standard input). Opening the
//! source reads every file once for its digest and, when it is gzip, the digest of what it
//! decompresses to (the DiffID). The config is an OCI config holding only what the files
//! give: the DiffIDs, one history entry per layer dated with the file's modification time,
//! the newest of those times as the creation time, and the platform skopos was built for;
//! the manifest is an OCI manifest over that config and the files as they are.

mod source;

pub use source::TarballSource;
