//! Docker image manifest, schema 2 (`application/vnd.docker.distribution.manifest.v2+json`),
//! laid out as containers/image's `manifest.Schema2`.

use anyhow::{anyhow, bail, Context as _};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::media_type as mt;
use crate::Result;

use super::variants::{updated_media_type, SCHEMA2_VARIANTS};
use super::{
    validate_unambiguous, AllowedFields, CompressionUpdate, CryptoUpdate, LayerInfo, LayerUpdate,
};
use crate::go::json::null_default;
use crate::go::text::go_quote;

/// A descriptor in a schema 2 manifest (and, with a platform, in a Docker manifest list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema2Descriptor {
    /// What the blob is: a Docker config or layer type of [`crate::media_type`].
    #[serde(rename = "mediaType", default, deserialize_with = "null_default")]
    pub media_type: String,
    /// The blob's size in bytes.
    #[serde(default, deserialize_with = "null_default")]
    pub size: i64,
    /// The blob's digest, which identifies and verifies it.
    pub digest: Digest,
    /// Where else the blob can be downloaded (foreign layers).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub urls: Vec<String>,
}

impl Schema2Descriptor {
    pub(crate) fn layer_info(&self) -> LayerInfo {
        LayerInfo {
            digest: self.digest.clone(),
            size: u64::try_from(self.size).ok(),
            media_type: self.media_type.clone(),
            urls: (!self.urls.is_empty()).then(|| self.urls.clone()),
            annotations: None,
            empty_layer: false,
        }
    }
}

/// The fields of a schema 2 manifest, in Go's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema2 {
    /// Always 2.
    #[serde(rename = "schemaVersion", default, deserialize_with = "null_default")]
    pub schema_version: i64,
    /// `application/vnd.docker.distribution.manifest.v2+json`.
    #[serde(rename = "mediaType", default, deserialize_with = "null_default")]
    pub media_type: String,
    /// The image's configuration blob.
    pub config: Schema2Descriptor,
    /// `None` is Go's nil slice (written as `null`).
    #[serde(default)]
    pub layers: Option<Vec<Schema2Descriptor>>,
}

/// Media types containers/image accepts anywhere in a schema 2 manifest.
fn check_schema2_media_type(media_type: &str) -> Result<()> {
    match media_type {
        mt::DOCKER_V2_LIST
        | mt::DOCKER_V2_SCHEMA1
        | mt::DOCKER_V2_SCHEMA1_SIGNED
        | mt::DOCKER_V2_CONFIG
        | super::DOCKER_FOREIGN_LAYER
        | mt::DOCKER_FOREIGN_LAYER_GZIP
        | mt::DOCKER_LAYER_GZIP
        | mt::DOCKER_V2_SCHEMA2
        | mt::DOCKER_LAYER => Ok(()),
        other => bail!("unsupported docker v2s2 media type: {}", go_quote(other)),
    }
}

impl Schema2 {
    /// Parse and validate as containers/image's `Schema2FromManifest` does.
    pub fn from_bytes(bytes: &[u8]) -> Result<Schema2> {
        let parsed: Schema2 = serde_json::from_slice(bytes)
            .with_context(|| "parsing Docker schema 2 manifest".to_string())?;
        validate_unambiguous(
            bytes,
            mt::DOCKER_V2_SCHEMA2,
            AllowedFields::CONFIG | AllowedFields::LAYERS,
        )?;
        check_schema2_media_type(&parsed.media_type)?;
        for layer in parsed.layers() {
            check_schema2_media_type(&layer.media_type)?;
        }
        Ok(parsed)
    }

    /// A new manifest from its parts (`Schema2FromComponents`).
    pub fn from_components(
        config: Schema2Descriptor,
        layers: Option<Vec<Schema2Descriptor>>,
    ) -> Self {
        Schema2 {
            schema_version: 2,
            media_type: mt::DOCKER_V2_SCHEMA2.to_string(),
            config,
            layers,
        }
    }

    /// The layer descriptors, base first (none for a nil `layers`).
    pub fn layers(&self) -> &[Schema2Descriptor] {
        self.layers.as_deref().unwrap_or_default()
    }

    /// Replace the layers with their copied versions (`UpdateLayerInfos`).
    pub fn update_layers(&mut self, updates: &[LayerUpdate]) -> Result<()> {
        if let Some(update) = updates.iter().find(|u| u.crypto != CryptoUpdate::Unchanged) {
            bail!(
                "encryption change (for layer {}) is not supported in schema2 manifests",
                go_quote(&update.digest.to_string())
            );
        }
        let layers = self.layers.get_or_insert_with(Vec::new);
        if layers.len() != updates.len() {
            bail!(
                "Error preparing updated manifest: layer count changed from {} to {}",
                layers.len(),
                updates.len()
            );
        }
        for (layer, update) in layers.iter_mut().zip(updates) {
            if check_schema2_media_type(&layer.media_type).is_err() {
                bail!(
                    "Error preparing updated manifest: unknown media type of original layer {}: {}",
                    go_quote(&update.digest.to_string()),
                    go_quote(&layer.media_type)
                );
            }
            let media_type =
                updated_media_type(SCHEMA2_VARIANTS, &layer.media_type, update.compression)
                    .map_err(|e| {
                        anyhow!(
                            "preparing updated manifest, layer {}: {e}",
                            go_quote(&update.digest.to_string())
                        )
                    })?;
            layer.media_type = media_type;
            layer.digest = update.digest.clone();
            layer.size = i64::try_from(update.size).context("layer size out of range")?;
            // A blob transformed on the way is a new blob: the source's URLs don't serve it.
            if update.compression != CompressionUpdate::Unchanged {
                layer.urls.clear();
            }
        }
        Ok(())
    }

    /// Bytes as Go's `json.Marshal` writes them.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(crate::go::json::to_vec(self)?)
    }
}
