//! `sync --src oci`: the images of an OCI layout, as upstream skopeo's pull request
//! "Support oci source/destination for sync operation" (#2804) lists them. Every entry of
//! `index.json` with an `org.opencontainers.image.ref.name` annotation is one image,
//! `oci:SOURCE:NAME`, in the index's order; entries without the annotation (a referrer
//! oras keeps untagged) are not images of their own. An empty layout is no error there.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, bail};
use serde::Deserialize;
use skopos_core::go::text::{go_path_join, go_quote};
use skopos_core::ImageName;

/// The annotation that names an image in a layout.
const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// What listing reads of `index.json` (go-containerregistry's `IndexManifest`, which the
/// pull request decodes it with).
#[derive(Deserialize)]
struct LayoutIndex {
    #[serde(default)]
    manifests: Option<Vec<LayoutEntry>>,
}

#[derive(Deserialize)]
struct LayoutEntry {
    /// Decoded as go-containerregistry's `Hash`, which refuses what is not a sha256 digest.
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    annotations: Option<HashMap<String, String>>,
}

/// The images of the layout at `source` (the pull request's `imagesToCopyFromOCI`).
pub(crate) fn images_in_layout(source: &str) -> anyhow::Result<Vec<ImageName>> {
    images_in_layout_unwrapped(source).map_err(|err| {
        anyhow!(
            "Failed to retrieve list of images from oci {}: {err:#}",
            go_quote(source)
        )
    })
}

fn images_in_layout_unwrapped(source: &str) -> anyhow::Result<Vec<ImageName>> {
    let path = go_path_join(source, "index.json");
    let bytes = skopos_core::limits::read_file_like_go(
        Path::new(&path),
        skopos_core::limits::MAX_OCI_INDEX,
    )
    .map_err(|err| anyhow!("failed to open file: {err:#}"))?;
    // Like Go's json.Decoder, only the first JSON value counts.
    let index = match serde_json::Deserializer::from_slice(&bytes)
        .into_iter::<LayoutIndex>()
        .next()
    {
        Some(Ok(index)) => index,
        Some(Err(err)) => bail!("failed to parse manifest: {err}"),
        None => bail!("failed to parse manifest: EOF"),
    };
    let entries = index.manifests.unwrap_or_default();
    for digest in entries.iter().filter_map(|entry| entry.digest.as_deref()) {
        check_hash(digest).map_err(|err| anyhow!("failed to parse manifest: {err}"))?;
    }
    entries
        .iter()
        .filter_map(|entry| entry.annotations.as_ref()?.get(REF_NAME_ANNOTATION))
        .map(|name| {
            let within = format!("{source}:{name}");
            ImageName::parse(&format!("oci:{within}")).map_err(|err| {
                err.context(format!(
                    "Cannot obtain a valid image reference for transport \"oci\" and reference {}",
                    go_quote(&within)
                ))
            })
        })
        .collect()
}

/// go-containerregistry's digest check (`Hash.parse`): `sha256:` and 64 lowercase hex
/// digits, with its messages.
fn check_hash(digest: &str) -> anyhow::Result<()> {
    let parts: Vec<&str> = digest.split(':').collect();
    let [algorithm, hex] = parts[..] else {
        bail!("cannot parse hash: {}", go_quote(digest));
    };
    let rest = hex.trim_start_matches(|c: char| c.is_ascii_digit() || ('a'..='f').contains(&c));
    if let Some(bad) = rest.chars().next() {
        bail!("found non-hex character in hash: {bad}");
    }
    if algorithm != "sha256" {
        bail!("unsupported hash: {}", go_quote(algorithm));
    }
    if hex.len() != 64 {
        bail!("wrong number of hex digits for {algorithm}: {hex}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked_as_go_containerregistry_checks_them() {
        let hex = "a".repeat(64);
        assert!(check_hash(&format!("sha256:{hex}")).is_ok());
        let message = |digest: &str| check_hash(digest).unwrap_err().to_string();
        assert_eq!(message("sha256"), "cannot parse hash: \"sha256\"");
        assert_eq!(message("sha256:AB"), "found non-hex character in hash: A");
        assert_eq!(
            message(&format!("sha512:{hex}")),
            "unsupported hash: \"sha512\""
        );
        assert_eq!(
            message("sha256:abc"),
            "wrong number of hex digits for sha256: abc"
        );
    }
}
