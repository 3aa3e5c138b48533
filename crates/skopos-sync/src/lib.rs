//! Planning a `sync` as skopeo does: which images a source names ([`images_to_copy`]:
//! a registry repository, a tree of `dir:` images, an OCI layout, a YAML list of
//! registries), where each goes ([`destination_target`], [`destination_reference`]), how
//! many are copied at once ([`parallel_images`]) and looked at once ([`images_in_flight`]),
//! and whether the destination already holds an image ([`MirrorCheck`]). The copies
//! themselves are the copy engine's; the command line prints what this crate reports
//! through [`SyncLog`].

#![deny(missing_docs)]

mod destinations;
mod mirrored;
mod oci;
mod sources;

pub use destinations::{destination_reference, destination_target};
pub use mirrored::{MirrorCheck, Mirrored};
pub use sources::{images_to_copy, SourceRepository, SyncYaml};

/// How serious a log line is (logrus's levels that sync uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Progress (`level=info`).
    Info,
    /// Something skipped or ignored (`level=warning`).
    Warning,
    /// An entry that cannot be used (`level=error`); planning goes on.
    Error,
}

/// Where planning writes skopeo's log lines ("Getting tags", "Processing repo", an entry
/// skipped and why, …).
pub trait SyncLog: Sync {
    /// One line with fields (logrus's `WithFields`).
    fn log(&self, level: Level, message: &str, fields: &[(&str, String)]);

    /// One line without fields.
    fn message(&self, level: Level, message: &str) {
        self.log(level, message, &[]);
    }
}

/// Images copied at once when the destination is a registry and the output is not a
/// terminal: enough to keep a registry busy while one image waits on small requests
/// (manifests, configs), few enough that each image's layers still get most connections.
const IMAGE_PARALLEL_COPIES: usize = 4;

/// Blob transfers at once to one registry, over all the images being copied: twice
/// containers/image's per-image default, so that several images overlap without each
/// opening its own six connections.
pub const TRANSFERS_PER_REGISTRY: usize = 12;

/// Images looked at at once when several are copied at once. Looking at an image already
/// mirrored costs a manifest `HEAD` at each registry and nothing else, so a re-sync of a mirror
/// mostly up to date is a row of round trips: with as many in flight as a registry gets
/// transfers, a network's latency is paid about once per dozen images instead of once per four,
/// while copies still start no more than [`parallel_images`] at a time.
pub fn images_in_flight(parallel_images: usize) -> usize {
    if parallel_images > 1 {
        parallel_images.max(TRANSFERS_PER_REGISTRY)
    } else {
        1
    }
}

/// How many images to copy at once. Directories are written one image at a time: after a
/// failure skopeo leaves no directory for the images after it, and one left behind would
/// make the next run refuse to overwrite it. An OCI layout too: its `index.json` lists the
/// images in the order they were written, which is then skopeo's order (and `oci:PATH:@N`
/// numbers them). Progress bars (`live_progress`) belong to one image at a time.
pub fn parallel_images(destination_transport: &str, live_progress: bool) -> usize {
    if live_progress || destination_transport == "dir" || destination_transport == "oci" {
        1
    } else {
        IMAGE_PARALLEL_COPIES
    }
}
