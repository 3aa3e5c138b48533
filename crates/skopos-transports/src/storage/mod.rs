//! `containers-storage:`, the store podman, buildah and CRI-O share, on top of the
//! `skopos-storage` library: reference resolution against the store, a destination that
//! applies layers as they stream in and commits the image record at the end, a source
//! that rebuilds layers from the store, and `delete`.

mod destination;
mod source;

use std::fmt::Write as _;
use std::sync::Arc;

use skopos_core::reference::StorageReference;
use skopos_core::{ImageNotFound, Result};
use skopos_storage::config::{resolve, StoreRequest};
use skopos_storage::records::ImageRecord;
use skopos_storage::{Store, StoreState};

pub use destination::StorageDestination;
pub use source::StorageSource;

/// The store a reference names, opened.
fn open_store(reference: &StorageReference) -> Result<Arc<Store>> {
    let request = StoreRequest {
        driver: reference.driver.clone(),
        graph_root: reference.graph_root.clone(),
        run_root: reference.run_root.clone(),
        options: reference.options.clone(),
    };
    let location = resolve(&request)?;
    Ok(Arc::new(Store::open(location)?))
}

/// Open the store a reference names, as skopeo does while parsing the reference.
pub async fn check_store(reference: &StorageReference) -> Result<()> {
    let reference = reference.clone();
    tokio::task::spawn_blocking(move || open_store(&reference).map(drop))
        .await
        .map_err(|error| anyhow::anyhow!("opening the store: {error}"))?
}

/// containers/image's `StringWithinTransport` of a reference in an opened store:
/// `[driver@graphroot+runroot]name@id`.
fn reference_text(store: &Store, reference: &StorageReference) -> String {
    let location = store.location();
    let mut text = format!(
        "[{}@{}+{}",
        location.driver.name(),
        location.graph_root.display(),
        location.run_root.display()
    );
    if !reference.options.is_empty() {
        let _ = write!(text, ":{}", reference.options.join(","));
    }
    text.push(']');
    if let Some(named) = &reference.named {
        let _ = write!(text, "{named}");
    }
    if let Some(id) = &reference.id {
        let _ = write!(text, "@{id}");
    }
    text
}

/// The stored image a reference names (containers/image's `resolveImage`): by name, then
/// by a digest and the same repository, by full or truncated ID.
fn resolve_image(
    store: &Store,
    state: &StoreState,
    reference: &StorageReference,
) -> Result<ImageRecord> {
    let not_found = || {
        anyhow::Error::new(ImageNotFound(format!(
            "reference {:?} does not resolve to an image ID",
            reference_text(store, reference)
        )))
    };
    if let Some(prefix) = &reference.bare_id_prefix {
        let matches = state.images_by_id_prefix(prefix);
        match matches.as_slice() {
            [one] => return Ok((*one).clone()),
            [] => {}
            _ => anyhow::bail!(
                "{prefix:?} matches more than one image ID in the store: use more of the ID"
            ),
        }
    }
    let mut found: Option<ImageRecord> = None;
    if let Some(id) = &reference.id {
        let image = if id.len() == 64 {
            state.image_by_id(id)
        } else {
            match state.images_by_id_prefix(id).as_slice() {
                [one] => Some(*one),
                [] => None,
                _ => anyhow::bail!(
                    "{id:?} matches more than one image ID in the store: use more of the ID"
                ),
            }
        };
        found = Some(image.ok_or_else(not_found)?.clone());
    }
    if found.is_none() {
        if let Some(named) = &reference.named {
            found = state.image_by_name(&named.to_string()).cloned();
            if found.is_none() {
                if let Some(digest) = named.digest() {
                    let digest = digest.to_string();
                    found = state
                        .images
                        .iter()
                        .find(|image| {
                            (image.digest == digest
                                || image.big_data_digests.values().any(|d| *d == digest))
                                && matches_repository(image, &named.name())
                        })
                        .cloned();
                }
            }
        }
    }
    let image = found.ok_or_else(not_found)?;
    if let Some(named) = &reference.named {
        if !matches_repository(&image, &named.name()) {
            return Err(not_found());
        }
    }
    Ok(image)
}

/// Whether one of the image's names is in `repository` (containers/image's
/// `imageMatchesRepo`).
fn matches_repository(image: &ImageRecord, repository: &str) -> bool {
    image.names.iter().any(|name| {
        name.strip_prefix(repository)
            .is_some_and(|rest| rest.starts_with(':') || rest.starts_with('@'))
    })
}

/// `skopeo delete containers-storage:…`: the image and the layers nothing else uses.
pub async fn delete_image(reference: &StorageReference) -> Result<()> {
    let reference = reference.clone();
    tokio::task::spawn_blocking(move || {
        let store = open_store(&reference)?;
        let state = store.read_state()?;
        let image = resolve_image(&store, &state, &reference)?;
        store.delete_image(&image.id)
    })
    .await
    .map_err(|error| anyhow::anyhow!("deleting the image: {error}"))?
}
