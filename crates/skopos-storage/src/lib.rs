//! The containers/storage store that podman, buildah and CRI-O share, as a library: the
//! on-disk records (`layers.json`, `images.json`, big-data items), its lock files, the vfs
//! and overlay drivers' layer directories, and layer contents (applied from a tar with
//! tar-split metadata, rebuilt into the same tar). It knows nothing of image transports.
//!
//! Where it fits: the `containers-storage:` transport of skopos-transports reads and writes
//! images through it, as a source or a destination of the copy engine.

#![deny(missing_docs)]

pub mod apply;
pub mod config;
mod copytree;
pub mod driver;
pub mod lock;
pub mod paths;
pub mod records;
pub mod store;
pub mod tarsplit;
pub mod userns;

pub use driver::Driver;
pub use store::{NewImage, NewLayer, StagedLayer, Store, StoreLocation, StoreState};
