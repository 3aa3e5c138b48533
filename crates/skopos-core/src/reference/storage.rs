//! `containers-storage:` references, parsed as containers/image v5.23's storage transport
//! does (`ParseReference` + `ParseStoreReference`), minus its look-ups in the store.
//!
//! skopeo opens the store while parsing, to expand a truncated image ID into the full
//! one. skopos parses without a store: a possible truncated ID is kept as written (in
//! [`StorageReference::id`] or [`StorageReference::bare_id_prefix`]) for the storage
//! transport to resolve when it opens the store.

use std::fmt;
use std::path::PathBuf;

use super::docker::{is_full_image_id, DockerReference};
use super::go_digest::is_go_digest;
use super::StorageReference;
use crate::go::text::go_quote;
use crate::Result;

/// The shortest prefix skopeo accepts as a truncated image ID.
pub const MINIMUM_TRUNCATED_ID_LENGTH: usize = 3;

/// containers/image's `ErrInvalidReference` text.
const INVALID_REFERENCE: &str = "invalid reference";

/// Parse what follows `containers-storage:`.
pub(super) fn parse_storage_reference(within: &str) -> Result<StorageReference> {
    let mut result = StorageReference::default();
    let mut rest = within;
    if let Some(spec_and_rest) = rest.strip_prefix('[') {
        let Some((spec, after)) = spec_and_rest.split_once(']') else {
            anyhow::bail!(INVALID_REFERENCE);
        };
        parse_store_spec(spec, &mut result)?;
        rest = after;
    }
    parse_image_part(rest, &mut result)?;
    Ok(result)
}

/// `[[driver@]graphroot[+runroot][:options]]`, without the brackets.
fn parse_store_spec(spec: &str, result: &mut StorageReference) -> Result<()> {
    // The driver is split off first, so an '@' anywhere in the spec ends the driver name.
    let location = match spec.split_once('@') {
        None if spec.is_empty() => anyhow::bail!(INVALID_REFERENCE),
        None => spec,
        Some(("", _)) | Some((_, "")) => anyhow::bail!(INVALID_REFERENCE),
        Some((driver, location)) => {
            result.driver = Some(driver.to_string());
            location
        }
    };
    let roots = match location.split_once(':') {
        Some((roots, options)) => {
            result.options = options.split(',').map(str::to_string).collect();
            roots
        }
        None => location,
    };
    let (graph_root, run_root) = roots.split_once('+').unwrap_or((roots, ""));
    for root in [graph_root, run_root] {
        if !root.is_empty() && !root.starts_with('/') {
            anyhow::bail!("path name is not absolute");
        }
    }
    result.graph_root = non_empty_path(graph_root);
    result.run_root = non_empty_path(run_root);
    Ok(())
}

fn non_empty_path(path: &str) -> Option<PathBuf> {
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// `{ID|NAME[:TAG][@DIGEST][@ID]}` (containers/image's `ParseStoreReference`).
fn parse_image_part(image: &str, result: &mut StorageReference) -> Result<()> {
    if image.is_empty() {
        anyhow::bail!(
            "{} is an empty reference: {INVALID_REFERENCE}",
            go_quote(image)
        );
    }
    let mut name = image;
    // skopeo accepts, and ignores, a second store specifier here.
    if let Some(spec_and_rest) = name.strip_prefix('[') {
        let Some((_, after)) = spec_and_rest.split_once(']') else {
            anyhow::bail!(
                "store specifier in {} did not end: {INVALID_REFERENCE}",
                go_quote(name)
            );
        };
        name = after;
    }

    if let Some((before, possible_id)) = name.rsplit_once('@') {
        if possible_id.is_empty() {
            anyhow::bail!(
                "empty trailing digest or ID in {}: {INVALID_REFERENCE}",
                go_quote(name)
            );
        }
        // A digest stays part of the name; anything else after the last '@' is an ID.
        if !is_go_digest(possible_id) {
            if !is_full_image_id(possible_id) && !could_be_truncated_id(possible_id) {
                anyhow::bail!(
                    "{} does not look like an image ID or digest: {INVALID_REFERENCE}",
                    go_quote(possible_id)
                );
            }
            result.id = Some(possible_id.to_string());
            name = before;
        }
    }

    if result.id.is_none() && !name.contains(['@', ':']) {
        if is_full_image_id(name) {
            // Not a valid repository name, so skopeo can only have meant the image ID.
            result.id = Some(name.to_string());
            return Ok(());
        }
        if could_be_truncated_id(name) {
            result.bare_id_prefix = Some(name.to_string());
        }
    }

    if !name.is_empty() {
        let named = DockerReference::parse_normalized(name)
            .map_err(|err| anyhow::anyhow!("parsing named reference {}: {err}", go_quote(name)))?;
        result.named = Some(named.with_default_tag());
    }
    Ok(())
}

/// Whether `s` can be the start of an image ID that a store may hold.
fn could_be_truncated_id(s: &str) -> bool {
    (MINIMUM_TRUNCATED_ID_LENGTH..64).contains(&s.len())
        && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl fmt::Display for StorageReference {
    /// skopeo's `StringWithinTransport`: `[driver@graphroot+runroot:options]` then the
    /// name and `@ID`. skopeo fills the store part from the opened store's defaults; here
    /// it is printed only when the reference names a store, with the parts it names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names_a_store = self.driver.is_some()
            || self.graph_root.is_some()
            || self.run_root.is_some()
            || !self.options.is_empty();
        if names_a_store {
            let show = |p: &Option<PathBuf>| {
                p.as_ref()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            write!(
                f,
                "[{}@{}+{}",
                self.driver.as_deref().unwrap_or_default(),
                show(&self.graph_root),
                show(&self.run_root)
            )?;
            if !self.options.is_empty() {
                write!(f, ":{}", self.options.join(","))?;
            }
            f.write_str("]")?;
        }
        if let Some(named) = &self.named {
            write!(f, "{named}")?;
        }
        if let Some(id) = &self.id {
            write!(f, "@{id}")?;
        }
        Ok(())
    }
}
