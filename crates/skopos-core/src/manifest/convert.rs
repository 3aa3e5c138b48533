//! Conversions between single-image manifest formats, as containers/image 5.23's
//! `internal/image` does them (`convertToManifestOCI1`, `convertToManifestSchema2`,
//! `convertToManifestSchema1`).

use anyhow::{anyhow, bail, Context as _};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::digest::Digest;
use crate::go::time::GoTime;
use crate::image_config::OciImage;
use crate::media_type as mt;
use crate::Result;

use super::oci::{OciDescriptor, OciManifest};
use super::schema1::{
    marshal_raw_map, to_raw, FsLayer, HistoryEntry, Schema1, Schema1Manifest, V1Compatibility,
    V1ContainerConfig,
};
use super::schema2::{Schema2, Schema2Descriptor};
use super::{CompressionUpdate, CryptoUpdate, LayerUpdate, NonImageArtifact, GZIPPED_EMPTY_LAYER};
use crate::go::json::{is_empty_str, null_default};
use crate::go::text::go_quote;

/// The error containers/image gives for zstd layers headed for a Docker manifest.
fn zstd_refusal(media_type: &str) -> anyhow::Error {
    anyhow!(
        "Error during manifest conversion: {}: zstd compression is not supported for docker images",
        go_quote(media_type)
    )
}

/// OCI → Docker schema 2. The config blob is reused as is (only its media type changes).
pub(crate) fn oci_to_schema2(oci: &OciManifest) -> Result<Schema2> {
    if !oci.is_image() {
        return Err(NonImageArtifact(oci.config.media_type.clone()).into());
    }
    let descriptor = |d: &OciDescriptor| Schema2Descriptor {
        media_type: d.media_type.clone(),
        size: d.size,
        digest: d.digest.clone(),
        urls: d.urls.clone(),
    };
    let mut config = descriptor(&oci.config);
    config.media_type = mt::DOCKER_V2_CONFIG.to_string();
    let layers = oci
        .layers()
        .iter()
        .map(|layer| {
            let media_type = match layer.media_type.as_str() {
                mt::OCI_LAYER_NONDISTRIBUTABLE => super::DOCKER_FOREIGN_LAYER,
                mt::OCI_LAYER_NONDISTRIBUTABLE_GZIP => mt::DOCKER_FOREIGN_LAYER_GZIP,
                mt::OCI_LAYER => mt::DOCKER_LAYER,
                mt::OCI_LAYER_GZIP => mt::DOCKER_LAYER_GZIP,
                zstd @ (mt::OCI_LAYER_NONDISTRIBUTABLE_ZSTD | mt::OCI_LAYER_ZSTD) => {
                    return Err(zstd_refusal(zstd))
                }
                other => bail!(
                    "Unknown media type during manifest conversion: {}",
                    go_quote(other)
                ),
            };
            let mut converted = descriptor(layer);
            converted.media_type = media_type.to_string();
            Ok(converted)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Schema2::from_components(config, Some(layers)))
}

/// A config blob re-encoded as an OCI image config, as containers/image's
/// `OCIConfig()` + `json.Marshal` produce it when converting a Docker image to OCI: fields
/// OCI does not know are dropped and the rest is written in `v1.Image` order.
fn docker_config_to_oci(config: &[u8]) -> Result<Vec<u8>> {
    let image: OciImage = serde_json::from_slice(config)
        .map_err(|e| anyhow!("parsing image config as an OCI config: {e}"))?;
    Ok(crate::go::json::to_vec(&image)?)
}

/// Docker schema 2 → OCI, given the source config blob. Returns the manifest and the new
/// config blob (the Docker config re-encoded as an OCI config).
pub(crate) fn schema2_to_oci(s2: &Schema2, config: &[u8]) -> Result<(OciManifest, Vec<u8>)> {
    let oci_config = docker_config_to_oci(config)?;
    let config_descriptor = OciDescriptor::new(
        mt::OCI_CONFIG,
        Digest::sha256_of(&oci_config),
        i64::try_from(oci_config.len()).context("config size out of range")?,
    );
    let layers = s2
        .layers()
        .iter()
        .map(|layer| {
            let media_type = match layer.media_type.as_str() {
                super::DOCKER_FOREIGN_LAYER => mt::OCI_LAYER_NONDISTRIBUTABLE,
                mt::DOCKER_FOREIGN_LAYER_GZIP => mt::OCI_LAYER_NONDISTRIBUTABLE_GZIP,
                mt::DOCKER_LAYER => mt::OCI_LAYER,
                mt::DOCKER_LAYER_GZIP => mt::OCI_LAYER_GZIP,
                other => bail!(
                    "Unknown media type during manifest conversion: {}",
                    go_quote(other)
                ),
            };
            let mut converted = OciDescriptor::new(media_type, layer.digest.clone(), layer.size);
            converted.urls = layer.urls.clone();
            Ok(converted)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((
        OciManifest::from_components(config_descriptor, layers),
        oci_config,
    ))
}

/// The parts of a schema 2 config the schema 1 conversion reads.
#[derive(Debug, Deserialize)]
struct Schema2ImageHistory {
    #[serde(default, deserialize_with = "null_default")]
    architecture: String,
    #[serde(default, deserialize_with = "null_default")]
    history: Vec<Schema2HistoryIn>,
}

#[derive(Debug, Deserialize)]
struct Schema2HistoryIn {
    #[serde(default)]
    created: GoTime,
    #[serde(default, deserialize_with = "null_default")]
    author: String,
    #[serde(default, deserialize_with = "null_default")]
    created_by: String,
    #[serde(default, deserialize_with = "null_default")]
    comment: String,
    #[serde(default, deserialize_with = "null_default")]
    empty_layer: bool,
}

/// A v1 image ID derived from a blob digest and other strings, as containers/image makes
/// them up for schema 1 conversions.
fn v1_id(blob: &Digest, others: &[&str]) -> String {
    let mut parts = vec![blob.hex()];
    parts.extend_from_slice(others);
    hex::encode(Sha256::digest(parts.join(" ").as_bytes()))
}

/// Docker schema 2 → schema 1, given the config blob, the copied layers (`None` when no
/// layer changed) and the destination's repository name and tag. Empty layers in the
/// history become references to [`GZIPPED_EMPTY_LAYER`], which the destination must have.
pub(crate) fn schema2_to_schema1(
    s2: &Schema2,
    config: &[u8],
    updates: Option<&[LayerUpdate]>,
    name: &str,
    tag: &str,
) -> Result<Schema1Manifest> {
    let layers = s2.layers();
    if let Some(updates) = updates {
        if updates.len() != layers.len() {
            bail!(
                "Error converting image: layer edits for {} layers vs {} existing layers",
                updates.len(),
                layers.len()
            );
        }
    }
    let image: Schema2ImageHistory =
        serde_json::from_slice(config).context("parsing image config")?;
    let count = image.history.len();
    if count == 0 {
        bail!(
            "Cannot convert an image with 0 history entries to {}",
            mt::DOCKER_V2_SCHEMA1_SIGNED
        );
    }
    let empty_digest = Digest::sha256_of(GZIPPED_EMPTY_LAYER);
    let mut fs_layers: Vec<Option<FsLayer>> = vec![None; count];
    let mut history: Vec<String> = vec![String::new(); count];
    let mut converted_updates = Vec::with_capacity(count);
    let mut nonempty_index = 0;
    let mut parent_id = String::new();
    let mut id = String::new();
    for (v2_index, entry) in image.history.iter().enumerate() {
        parent_id = id.clone();
        let v1_index = count - 1 - v2_index;
        let blob = if entry.empty_layer {
            converted_updates.push(LayerUpdate {
                digest: empty_digest.clone(),
                size: GZIPPED_EMPTY_LAYER.len() as u64,
                compression: CompressionUpdate::Unchanged,
                crypto: CryptoUpdate::Unchanged,
                annotations: Default::default(),
            });
            empty_digest.clone()
        } else {
            let layer = layers.get(nonempty_index).ok_or_else(|| {
                anyhow!(
                    "Invalid image configuration, needs more than the {} distributed layers",
                    layers.len()
                )
            })?;
            if let Some(updates) = updates {
                converted_updates.push(updates[nonempty_index].clone());
            }
            nonempty_index += 1;
            layer.digest.clone()
        };
        id = v1_id(&blob, &[&parent_id]);
        let fake = V1Compatibility {
            id: id.clone(),
            parent: parent_id.clone(),
            comment: entry.comment.clone(),
            created: entry.created,
            container_config: V1ContainerConfig {
                cmd: Some(vec![entry.created_by.clone()]),
            },
            author: entry.author.clone(),
            throwaway: entry.empty_layer,
        };
        fs_layers[v1_index] = Some(FsLayer { blob_sum: blob });
        history[v1_index] = String::from_utf8(crate::go::json::to_vec(&fake)?)?;
    }
    let fs_layers: Vec<FsLayer> = fs_layers.into_iter().flatten().collect();
    let top_blob = fs_layers
        .first()
        .map(|l| l.blob_sum.clone())
        .ok_or_else(|| anyhow!("schema 1 conversion produced no layers"))?;
    let config_text = String::from_utf8_lossy(config);
    let top_id = v1_id(&top_blob, &[&parent_id, &config_text]);
    let throwaway = image.history.last().is_some_and(|h| h.empty_layer);
    history[0] = v1_config_from_config_json(config, &top_id, &parent_id, throwaway)?;
    let manifest = Schema1 {
        name: name.to_string(),
        tag: tag.to_string(),
        architecture: image.architecture,
        fs_layers,
        history: history
            .into_iter()
            .map(|v1_compatibility| HistoryEntry { v1_compatibility })
            .collect(),
        schema_version: 1,
    };
    let mut s1 = Schema1Manifest::from_manifest(manifest)?;
    if updates.is_some() {
        s1.update_layers(&converted_updates)?;
    }
    Ok(s1)
}

/// The newest v1Compatibility entry: the config with `rootfs` and `history` removed and
/// the v1 IDs added (containers/image `v1ConfigFromConfigJSON`).
fn v1_config_from_config_json(
    config: &[u8],
    id: &str,
    parent_id: &str,
    throwaway: bool,
) -> Result<String> {
    let mut raw: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_slice(config).context("parsing image config")?;
    raw.remove("rootfs");
    raw.remove("history");
    raw.insert("id".to_string(), to_raw(id)?);
    if !is_empty_str(parent_id) {
        raw.insert("parent".to_string(), to_raw(parent_id)?);
    }
    if throwaway {
        raw.insert("throwaway".to_string(), to_raw(&true)?);
    }
    Ok(String::from_utf8(marshal_raw_map(raw)?)?)
}

/// Docker schema 1 → schema 2. `layers` are the copied layers (base first, one per
/// `fsLayers` entry; their sizes are needed because schema 1 has none) and `diff_ids`
/// the layers' uncompressed digests. Returns the manifest (with the source's layer
/// digests), the generated config blob, and the layer updates that apply to the new
/// manifest's layers (throwaway layers dropped).
pub(crate) fn schema1_to_schema2(
    s1: &Schema1Manifest,
    layers: &[LayerUpdate],
    diff_ids: &[Digest],
) -> Result<(Schema2, Vec<u8>, Vec<LayerUpdate>)> {
    let count = s1.compat.len();
    if count == 0 {
        bail!(
            "Cannot convert an image with 0 history entries to {}",
            mt::DOCKER_V2_SCHEMA2
        );
    }
    if layers.len() != count {
        bail!(
            "Internal error: uploaded {} blobs, but schema1 manifest has {count} fsLayers",
            layers.len()
        );
    }
    if diff_ids.len() != count {
        bail!(
            "Internal error: collected {} DiffID values, but schema1 manifest has {count} fsLayers",
            diff_ids.len()
        );
    }
    let mut descriptors = Vec::new();
    let mut converted_updates = Vec::new();
    let mut kept_diff_ids = Vec::new();
    for v1_index in (0..count).rev() {
        let v2_index = count - 1 - v1_index;
        if s1.compat[v1_index].throwaway {
            continue;
        }
        descriptors.push(Schema2Descriptor {
            media_type: mt::DOCKER_LAYER_GZIP.to_string(),
            size: i64::try_from(layers[v2_index].size).context("layer size out of range")?,
            digest: s1.manifest.fs_layers[v1_index].blob_sum.clone(),
            urls: Vec::new(),
        });
        converted_updates.push(layers[v2_index].clone());
        kept_diff_ids.push(diff_ids[v2_index].clone());
    }
    let config = s1.to_schema2_config(&kept_diff_ids)?;
    let config_descriptor = Schema2Descriptor {
        media_type: mt::DOCKER_V2_CONFIG.to_string(),
        size: i64::try_from(config.len()).context("config size out of range")?,
        digest: Digest::sha256_of(&config),
        urls: Vec::new(),
    };
    // Go appends to a nil slice: no layers at all is written as `null`.
    let layers_field = (!descriptors.is_empty()).then_some(descriptors);
    Ok((
        Schema2::from_components(config_descriptor, layers_field),
        config,
        converted_updates,
    ))
}
