//! `oci-archive:PATH[:REF]`: an OCI image layout in a tar file.
//!
//! Reading does not extract the archive: it is indexed once and blobs are read from it in
//! place (a compressed archive is first decompressed into a temporary file). The image is
//! found in `index.json` with the `oci:` transport's rules. Writing builds the layout with
//! the `oci:` destination in a temporary directory and tars it on commit.

mod destination;
mod source;
mod tar_index;

pub use destination::OciArchiveDestination;
pub use source::OciArchiveSource;
