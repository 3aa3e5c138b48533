//! Committing a directory to a branch, inside the caller's transaction, as
//! containers/image did through ostree-go: no parent (an all-zero parent checksum), empty
//! subject and body, the current time, and string metadata in the order given.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use ostree::gio;
use ostree::glib;
use ostree::glib::prelude::*;
use skopos_core::Result;

/// The parent every commit of the transport names: OCI blobs have no history.
const NO_PARENT: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Commit the tree at `dir` as `branch`, files as they are on disk (no commit modifier: its
/// mere presence makes libostree store bare-user-only directories as root's).
pub(super) fn commit_directory(
    repo: &ostree::Repo,
    dir: &Path,
    branch: &str,
    metadata: &[(&str, String)],
) -> Result<()> {
    let failed = |err: glib::Error| anyhow::anyhow!("committing {branch}: {err}");
    let tree = ostree::MutableTree::new();
    repo.write_directory_to_mtree(
        &gio::File::for_path(dir),
        &tree,
        None,
        gio::Cancellable::NONE,
    )
    .map_err(failed)?;
    let root = repo
        .write_mtree(&tree, gio::Cancellable::NONE)
        .map_err(failed)?
        .downcast::<ostree::RepoFile>()
        .map_err(|_| anyhow::anyhow!("committing {branch}: libostree returned no commit root"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_secs();
    let checksum = repo
        .write_commit_with_time(
            Some(NO_PARENT),
            Some(""),
            Some(""),
            Some(&metadata_variant(metadata)),
            &root,
            now,
            gio::Cancellable::NONE,
        )
        .map_err(failed)?;
    repo.transaction_set_ref(None, branch, Some(&checksum));
    Ok(())
}

/// `a{sv}` with each value a string, keys in the given order (as ostree-go built it).
fn metadata_variant(metadata: &[(&str, String)]) -> glib::Variant {
    let entries = metadata
        .iter()
        .map(|(key, value)| glib::variant::DictEntry::new(*key, value.to_variant()).to_variant());
    let entry_type = glib::variant::DictEntry::<String, glib::Variant>::static_variant_type();
    glib::Variant::array_from_iter_with_type(&entry_type, entries)
}
