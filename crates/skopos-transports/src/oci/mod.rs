//! `oci:PATH[:NAME|:@N]`: an OCI image layout.
//!
//! ```text
//! oci-layout               {"imageLayoutVersion":"1.0.0"}
//! index.json               the images, named by the org.opencontainers.image.ref.name annotation
//! blobs/<alg>/<hex>        manifests, configs, layers (or <shared-blob-dir>/<alg>/<hex>)
//! ```

mod delete;
mod destination;
pub(crate) mod index;
mod referrers;
mod source;

use std::path::{Path, PathBuf};

use skopos_core::Digest;

pub use delete::delete_image;
pub use destination::OciDestination;
pub use referrers::OciReferrers;
pub use source::OciSource;

/// Where a layout's blobs live: its own `blobs/` or a shared directory.
#[derive(Debug, Clone)]
struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    fn new(layout: &Path, shared_blob_dir: Option<&Path>) -> BlobStore {
        BlobStore {
            root: shared_blob_dir.map_or_else(|| layout.join("blobs"), Path::to_path_buf),
        }
    }

    fn path(&self, digest: &Digest) -> PathBuf {
        self.root.join(digest.algorithm().name()).join(digest.hex())
    }
}

fn index_path(layout: &Path) -> PathBuf {
    layout.join("index.json")
}

fn oci_layout_path(layout: &Path) -> PathBuf {
    layout.join("oci-layout")
}

/// The `oci-layout` file, byte for byte as skopeo 1.22.2 writes it (1.9.3 had a space after
/// the colon).
const OCI_LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
