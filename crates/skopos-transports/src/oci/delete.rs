//! `delete oci:PATH[:NAME|:@N]` (skopeo 1.15+, containers/image 5.29): the image's entry
//! leaves `index.json`, and every blob only it used is removed from the layout's own `blobs/`.
//! Blobs in a shared blob directory stay, since other layouts may use them; they are read,
//! though, to find what the image uses.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use anyhow::anyhow;
use skopos_core::reference::OciImage;
use skopos_core::{media_type, Digest, Result, SystemContext};

use super::index::{Descriptor, Index};
use super::{index_path, BlobStore};
use crate::fsutil::{self, path_error};

/// How many times each blob is referenced, by digest string.
type UseCounts = HashMap<String, usize>;

/// Delete `image` from the layout at `layout`.
pub async fn delete_image(layout: &Path, image: &OciImage, ctx: &SystemContext) -> Result<()> {
    let index_file = index_path(layout);
    let mut index = Index::parse(&fsutil::read_index_file(&index_file).await?, &index_file)?;
    let position = index.position_of(image)?;
    let readable = BlobStore::new(layout, ctx.oci_shared_blob_dir.as_deref());

    let mut used_by_image = UseCounts::new();
    count_blobs(&readable, &index.manifests()[position], &mut used_by_image).await?;
    let mut used_by_layout = UseCounts::new();
    for descriptor in index.manifests() {
        count_blobs(&readable, descriptor, &mut used_by_layout).await?;
    }

    let local = BlobStore::new(layout, None);
    for (digest, count) in &used_by_layout {
        if used_by_image.get(digest) == Some(count) {
            remove_blob(&local, digest).await?;
        }
    }

    index.remove(position);
    // containers/image writes this file with json.Encoder: a newline follows the JSON.
    let mut bytes = index.to_bytes()?;
    bytes.push(b'\n');
    fsutil::blocking(move || fsutil::write_file_atomic(&index_file, &bytes)).await
}

/// Add one use of `descriptor`'s blob and of every blob it references (a manifest's config
/// and layers, an index's manifests, recursively) to `counts`.
async fn count_blobs(
    blobs: &BlobStore,
    descriptor: &Descriptor,
    counts: &mut UseCounts,
) -> Result<()> {
    let mut pending = vec![descriptor.clone()];
    while let Some(descriptor) = pending.pop() {
        let path = blobs.path(&descriptor.parsed_digest()?);
        *counts.entry(descriptor.digest.clone()).or_default() += 1;
        match descriptor.media_type.as_str() {
            media_type::OCI_MANIFEST => {
                let bytes = fsutil::read_manifest_file(&path).await?;
                let manifest: ReferencedBlobs = parse_blob(&bytes, &path)?;
                let config = manifest.config.map(|config| config.digest);
                for digest in config.into_iter().chain(
                    manifest
                        .layers
                        .unwrap_or_default()
                        .into_iter()
                        .map(|layer| layer.digest),
                ) {
                    *counts.entry(digest).or_default() += 1;
                }
            }
            media_type::OCI_INDEX => {
                let bytes = fsutil::read_manifest_file(&path).await?;
                let nested = Index::parse(&bytes, &path)?;
                pending.extend(nested.manifests().iter().cloned());
            }
            other => return Err(anyhow!("unsupported mediaType in index: {other:?}")),
        }
    }
    Ok(())
}

/// The blobs an OCI manifest references; everything else in it is ignored.
#[derive(serde::Deserialize)]
struct ReferencedBlobs {
    config: Option<BlobReference>,
    layers: Option<Vec<BlobReference>>,
}

/// A descriptor's digest.
#[derive(serde::Deserialize)]
struct BlobReference {
    #[serde(default)]
    digest: String,
}

fn parse_blob<T: serde::de::DeserializeOwned>(bytes: &[u8], path: &Path) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|err| anyhow!("parsing {}: {err}", path.display()))
}

/// Remove the blob `digest` from `blobs`; one that is already gone is fine.
async fn remove_blob(blobs: &BlobStore, digest: &str) -> Result<()> {
    let digest: Digest = digest
        .parse()
        .map_err(|err| anyhow!("unexpected digest reference {digest}: {err}"))?;
    let path = blobs.path(&digest);
    tracing::debug!("Deleting blob at {:?}", path.display().to_string());
    match tokio::fs::remove_file(&path).await {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(path_error("remove", &path, &err)),
    }
}
