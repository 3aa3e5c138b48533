//! `ostree:IMAGE[@/absolute/repo/path]`: images in a local OSTree repository, in the layout
//! containers/image's ostree transport wrote (skopeo 1.17.0 was the last release with it):
//!
//! - `ociimage/<escaped image name>`: `/manifest.json` (Docker schema 2) and
//!   `/signature-N`, with commit metadata `docker.manifest`, `docker.digest` and
//!   `signatures` (their count);
//! - `ociimage/<config hex>`: `/content`, with `docker.size`;
//! - `ociimage/<compressed layer hex>`: the layer's files, with `docker.size`,
//!   `docker.uncompressed_size`, `docker.uncompressed_digest` and `tarsplit.output` (base64 of
//!   the gzipped tar-split metadata that rebuilds the layer's tar byte for byte).
//!
//! libostree does the repository work (through the `ostree` crate); its objects are not
//! `Send`, so every repository access runs on a blocking thread that opens the repository
//! itself.

mod commit;
mod destination;
mod files;
mod layer;
mod source;

pub use destination::OstreeDestination;
pub use source::OstreeSource;

use std::path::Path;

use anyhow::Context;
use ostree::gio;
use skopos_core::Result;

/// Commit metadata keys.
const SIZE_KEY: &str = "docker.size";
const UNCOMPRESSED_SIZE_KEY: &str = "docker.uncompressed_size";
const UNCOMPRESSED_DIGEST_KEY: &str = "docker.uncompressed_digest";
const TAR_SPLIT_KEY: &str = "tarsplit.output";
const MANIFEST_KEY: &str = "docker.manifest";
const MANIFEST_DIGEST_KEY: &str = "docker.digest";
const SIGNATURES_KEY: &str = "signatures";

/// The error for what the transport cannot do with manifest lists.
const NO_LISTS: &str = "Manifest lists are not supported by \"ostree:\"";

/// Open the repository at `path`; libostree's message says what failed
/// (`opening repo: opendir(…): No such file or directory`).
fn open_repo(path: &Path) -> Result<ostree::Repo> {
    let repo = ostree::Repo::new_for_path(path);
    repo.open(gio::Cancellable::NONE)
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    Ok(repo)
}

/// The string value of `key` in the metadata of the commit `branch` points to; `None`
/// when the branch or the key does not exist.
fn commit_metadata(repo: &ostree::Repo, branch: &str, key: &str) -> Result<Option<String>> {
    let Some(checksum) = repo
        .resolve_rev(branch, true)
        .map_err(|err| anyhow::anyhow!("{err}"))?
    else {
        return Ok(None);
    };
    let (commit, _) = repo
        .load_commit(&checksum)
        .map_err(|err| anyhow::anyhow!("{err}"))
        .with_context(|| format!("reading commit {checksum}"))?;
    let metadata = ostree::glib::VariantDict::new(Some(&commit.child_value(0)));
    Ok(metadata
        .lookup_value(key, None)
        .and_then(|value| value.str().map(str::to_string)))
}

/// A number stored as commit metadata.
fn parse_number(branch: &str, key: &str, text: &str) -> Result<u64> {
    text.parse()
        .map_err(|_| anyhow::anyhow!("{branch}: metadata {key} is not a number: {text:?}"))
}
