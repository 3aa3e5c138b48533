//! Reading an image from containers-storage: the manifest as stored (so its digest is the
//! one it was pulled with), the config from the image's big data, and each layer rebuilt
//! from the layer's files and tar-split metadata, uncompressed. Like containers/image's
//! storage source, it tells the copy engine that its layers are those uncompressed tars
//! (their DiffIDs), so the engine compresses them as the destination wants.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use skopos_core::manifest::{self, AnyManifest};
use skopos_core::media_type as mt;
use skopos_core::reference::StorageReference;
use skopos_core::{BlobInfo, BlobReader, Digest, ImageSource, Result};
use skopos_storage::records::{
    manifest_key, ImageRecord, LayerRecord, MANIFEST_KEY, SIGNATURES_KEY,
};
use skopos_storage::Store;

use super::{open_store, resolve_image};

/// A rebuilt layer goes to the engine in pieces of this size: `std::io::copy`'s 8 KiB
/// meant a file read and a wake-up of the reading task for every 8 KiB of the layer.
const REBUILD_CHUNK: usize = 256 << 10;

/// Copy `from` to `to` in [`REBUILD_CHUNK`] pieces.
fn copy_in_chunks(
    from: &mut impl std::io::Read,
    to: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let mut buffer = vec![0u8; REBUILD_CHUNK];
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) => return to.flush(),
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        to.write_all(&buffer[..read])?;
    }
}

/// A `containers-storage:` source.
pub struct StorageSource {
    store: Arc<Store>,
    image: ImageRecord,
    /// The image's layers, base first.
    layers: Vec<LayerRecord>,
    /// The digest the reference asked for, if any.
    wanted_digest: Option<Digest>,
}

impl StorageSource {
    /// Open the image a reference names.
    pub async fn open(reference: &StorageReference) -> Result<StorageSource> {
        let reference = reference.clone();
        tokio::task::spawn_blocking(move || {
            let store = open_store(&reference)?;
            let state = store.read_state()?;
            let image = resolve_image(&store, &state, &reference)?;
            let mut layers: Vec<LayerRecord> =
                state.image_layers(&image).into_iter().cloned().collect();
            layers.reverse();
            Ok(StorageSource {
                store,
                image,
                layers,
                wanted_digest: reference.named.as_ref().and_then(|n| n.digest().cloned()),
            })
        })
        .await
        .context("opening the image")?
    }

    async fn big_data(&self, key: String) -> Result<Vec<u8>> {
        let store = self.store.clone();
        let id = self.image.id.clone();
        tokio::task::spawn_blocking(move || store.image_big_data(&id, &key))
            .await
            .context("reading the store")?
    }

    fn has_big_data(&self, key: &str) -> bool {
        self.image.big_data_names.iter().any(|name| name == key)
    }
}

#[async_trait]
impl ImageSource for StorageSource {
    async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        if let Some(instance) = instance {
            let bytes = self.big_data(manifest_key(&instance.to_string())).await?;
            return Ok((bytes, String::new()));
        }
        // As containers/image: the manifest of the digest the reference names when the
        // image has it, else the image's main manifest.
        let key = self
            .wanted_digest
            .as_ref()
            .map(|digest| manifest_key(&digest.to_string()))
            .filter(|key| self.has_big_data(key))
            .unwrap_or_else(|| MANIFEST_KEY.to_string());
        let bytes = self.big_data(key).await?;
        Ok((bytes, String::new()))
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobReader, Option<u64>)> {
        let wanted = info.digest.to_string();
        if self.has_big_data(&wanted) {
            let bytes = self.big_data(wanted).await?;
            let size = bytes.len() as u64;
            return Ok((Box::pin(std::io::Cursor::new(bytes)), Some(size)));
        }
        let layer = self
            .layers
            .iter()
            .find(|layer| layer.uncompressed_digest == wanted)
            .or_else(|| self.layers.iter().find(|l| l.compressed_digest == wanted))
            .ok_or_else(|| anyhow::anyhow!("blob {wanted} is not part of the image"))?;
        let store = self.store.clone();
        let id = layer.id.clone();
        let tar = tokio::task::spawn_blocking(move || store.layer_tar(&id))
            .await
            .context("reading the store")??;
        let (reader, writer) = tokio::io::duplex(REBUILD_CHUNK);
        tokio::task::spawn_blocking(move || {
            let mut tar = tar;
            let mut writer = tokio_util::io::SyncIoBridge::new(writer);
            // A failure ends the stream early; the engine's digest check then fails it.
            if let Err(error) = copy_in_chunks(&mut tar, &mut writer) {
                tracing::debug!("rebuilding a layer from the store: {error}");
            }
        });
        Ok((Box::pin(reader), Some(layer.uncompressed_size)))
    }

    async fn signatures(&self, _instance: Option<&Digest>) -> Result<Vec<Vec<u8>>> {
        if !self.has_big_data(SIGNATURES_KEY) {
            return Ok(Vec::new());
        }
        let blob = self.big_data(SIGNATURES_KEY.to_string()).await?;
        let metadata: serde_json::Value =
            serde_json::from_str(&self.image.metadata).unwrap_or_default();
        let sizes: Vec<usize> = metadata
            .get("signature-sizes")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        let mut signatures = Vec::new();
        let mut offset = 0;
        for size in sizes {
            let end = offset + size;
            let Some(signature) = blob.get(offset..end) else {
                anyhow::bail!("the image's signatures are shorter than its metadata says");
            };
            signatures.push(signature.to_vec());
            offset = end;
        }
        Ok(signatures)
    }

    async fn layer_infos_for_copy(
        &self,
        instance: Option<&Digest>,
    ) -> Result<Option<Vec<BlobInfo>>> {
        let (bytes, _) = self.manifest(instance).await?;
        let AnyManifest::Image(image) = manifest::parse(&bytes, "")? else {
            return Ok(None);
        };
        let uncompressed_type = match image.mime_type() {
            mt::OCI_MANIFEST => mt::OCI_LAYER,
            _ => mt::DOCKER_LAYER,
        };
        let manifest_layers: Vec<_> = image
            .layers()
            .into_iter()
            .filter(|l| !l.empty_layer)
            .collect();
        if manifest_layers.len() != self.layers.len() {
            anyhow::bail!(
                "the image has {} layers in the store but {} in its manifest",
                self.layers.len(),
                manifest_layers.len()
            );
        }
        self.layers
            .iter()
            .map(|layer| {
                Ok(BlobInfo {
                    digest: layer
                        .uncompressed_digest
                        .parse()
                        .context("a layer record of the store has a bad diff-digest")?,
                    size: Some(layer.uncompressed_size),
                    media_type: uncompressed_type.to_string(),
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }
}
