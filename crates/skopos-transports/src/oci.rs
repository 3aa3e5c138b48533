//! `oci:` (placeholder; the dir/oci work replaces this file with an `oci/` module).
use std::path::Path;

use skopos_core::reference::OciImage;
use skopos_core::{Result, SystemContext};

pub struct OciSource;
pub struct OciDestination;

impl OciSource {
    pub async fn open(path: &Path, image: &OciImage, ctx: &SystemContext) -> Result<Self> {
        let _ = (path, image, ctx);
        todo!("dir/oci work")
    }
}

impl OciDestination {
    pub fn open(path: &Path, image: &OciImage, ctx: &SystemContext) -> Result<Self> {
        let _ = (path, image, ctx);
        todo!("dir/oci work")
    }
}
