//! `dir:` (placeholder; the dir/oci work replaces this file with a `dir/` module).
use std::path::Path;

use skopos_core::{ImageDestination, ImageSource, Result, SystemContext};

pub struct DirSource;
pub struct DirDestination;

impl DirSource {
    pub fn open(path: &Path) -> Result<Self> {
        let _ = path;
        todo!("dir/oci work")
    }
}

impl DirDestination {
    pub fn open(path: &Path, ctx: &SystemContext) -> Result<Self> {
        let _ = (path, ctx);
        todo!("dir/oci work")
    }
}
