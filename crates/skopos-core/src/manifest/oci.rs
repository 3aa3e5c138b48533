//! OCI image manifests and descriptors as the image-spec `specs-go/v1` types of
//! v1.1.0-rc2 (the version skopeo 1.9.3 is built with) lay them out: descriptors have
//! `data`, `platform` and `artifactType`; manifests have `subject` but no `artifactType`.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context as _};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::media_type as mt;
use crate::Result;

use super::variants::{updated_media_type, OCI_VARIANTS};
use super::{
    validate_unambiguous, AllowedFields, CompressionUpdate, CryptoUpdate, LayerInfo, LayerUpdate,
};
use crate::go::json::{base64_bytes, is_empty_str, null_default};
use crate::go::text::go_quote;

/// An OCI platform (`specs-go/v1.Platform`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OciPlatform {
    /// The CPU architecture (`GOARCH` spelling: `amd64`, `arm64`, …).
    #[serde(default, deserialize_with = "null_default")]
    pub architecture: String,
    /// The operating system (`GOOS` spelling: `linux`, `windows`, …).
    #[serde(default, deserialize_with = "null_default")]
    pub os: String,
    /// The operating system's version (`os.version`; Windows images name their build).
    #[serde(
        rename = "os.version",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub os_version: String,
    /// OS features the image needs (`os.features`, Windows).
    #[serde(
        rename = "os.features",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub os_features: Vec<String>,
    /// The CPU variant (`v7` for arm, `v8` for arm64), when there is one.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub variant: String,
}

/// An OCI content descriptor (`specs-go/v1.Descriptor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciDescriptor {
    /// What the content is (`mediaType`): a manifest, config or layer type of
    /// [`crate::media_type`].
    #[serde(
        rename = "mediaType",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub media_type: String,
    /// The content's digest, which identifies and verifies it.
    pub digest: Digest,
    /// The content's size in bytes.
    #[serde(default, deserialize_with = "null_default")]
    pub size: i64,
    /// Where else the content can be downloaded (foreign and non-distributable layers).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub urls: Vec<String>,
    /// Arbitrary metadata (`org.opencontainers.image.*`, zstd:chunked's table offsets, …).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    /// The content itself, inline (base64 in JSON), for small blobs; empty when not embedded.
    #[serde(default, with = "base64_bytes", skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<u8>,
    /// In an index: the platform of the image the descriptor points to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<OciPlatform>,
    /// In an index or for a referrer: the type of the artifact the descriptor points to.
    #[serde(
        rename = "artifactType",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub artifact_type: String,
}

impl OciDescriptor {
    /// A descriptor with only media type, digest and size set.
    pub fn new(media_type: &str, digest: Digest, size: i64) -> OciDescriptor {
        OciDescriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            data: Vec::new(),
            platform: None,
            artifact_type: String::new(),
        }
    }

    pub(crate) fn layer_info(&self) -> LayerInfo {
        LayerInfo {
            digest: self.digest.clone(),
            size: u64::try_from(self.size).ok(),
            media_type: self.media_type.clone(),
            urls: (!self.urls.is_empty()).then(|| self.urls.clone()),
            annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
            empty_layer: false,
        }
    }
}

/// The fields of an OCI image manifest, in Go's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciManifest {
    /// Always 2.
    #[serde(rename = "schemaVersion", default, deserialize_with = "null_default")]
    pub schema_version: i64,
    /// `application/vnd.oci.image.manifest.v1+json`, or empty (the field is optional in OCI).
    #[serde(
        rename = "mediaType",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub media_type: String,
    /// The image's configuration blob.
    pub config: OciDescriptor,
    /// `None` is Go's nil slice (written as `null`).
    #[serde(default)]
    pub layers: Option<Vec<OciDescriptor>>,
    /// The manifest this one refers to (a signature or SBOM naming its image); makes this a
    /// referrer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<OciDescriptor>,
    /// Arbitrary metadata on the manifest (`org.opencontainers.image.*`).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
}

impl OciManifest {
    /// Parse and validate as containers/image's `OCI1FromManifest` does.
    pub fn from_bytes(bytes: &[u8]) -> Result<OciManifest> {
        let parsed: OciManifest =
            serde_json::from_slice(bytes).context("parsing OCI image manifest")?;
        validate_unambiguous(
            bytes,
            mt::OCI_INDEX,
            AllowedFields::CONFIG | AllowedFields::LAYERS,
        )?;
        Ok(parsed)
    }

    /// A new manifest from its parts (`OCI1FromComponents`).
    pub fn from_components(config: OciDescriptor, layers: Vec<OciDescriptor>) -> OciManifest {
        OciManifest {
            schema_version: 2,
            media_type: mt::OCI_MANIFEST.to_string(),
            config,
            layers: Some(layers),
            subject: None,
            annotations: BTreeMap::new(),
        }
    }

    /// The layer descriptors, base first (none for a nil `layers`).
    pub fn layers(&self) -> &[OciDescriptor] {
        self.layers.as_deref().unwrap_or_default()
    }

    /// Whether this is a container image rather than some other OCI artifact.
    pub fn is_image(&self) -> bool {
        self.config.media_type == mt::OCI_CONFIG
    }

    /// Replace the layers with their copied versions (`UpdateLayerInfos`).
    pub fn update_layers(&mut self, updates: &[LayerUpdate]) -> Result<()> {
        let layers = self.layers.get_or_insert_with(Vec::new);
        if layers.len() != updates.len() {
            bail!(
                "Error preparing updated manifest: layer count changed from {} to {}",
                layers.len(),
                updates.len()
            );
        }
        for (layer, update) in layers.iter_mut().zip(updates) {
            let source_media_type = match update.crypto {
                CryptoUpdate::Decrypted => decrypted_media_type(&layer.media_type)?,
                _ => layer.media_type.clone(),
            };
            let mut media_type =
                updated_media_type(OCI_VARIANTS, &source_media_type, update.compression).map_err(
                    |e| {
                        anyhow!(
                            "preparing updated manifest, layer {}: {e}",
                            go_quote(&update.digest.to_string())
                        )
                    },
                )?;
            if let CryptoUpdate::Encrypted(_) = update.crypto {
                media_type = encrypted_media_type(&media_type)?;
            }
            // containers/image rebuilds each descriptor from the copied blob's info, which
            // carries URLs and annotations but not `data`, `platform` or `artifactType`; a
            // blob whose bytes were transformed on the way is a new blob, without either.
            let size = i64::try_from(update.size).context("layer size out of range")?;
            let mut rebuilt = OciDescriptor::new(&media_type, update.digest.clone(), size);
            if update.compression == CompressionUpdate::Unchanged {
                rebuilt.urls = std::mem::take(&mut layer.urls);
                rebuilt.annotations = std::mem::take(&mut layer.annotations);
            } else {
                rebuilt.annotations = update.annotations.clone();
            }
            match &update.crypto {
                CryptoUpdate::Unchanged => {}
                CryptoUpdate::Encrypted(annotations) => rebuilt
                    .annotations
                    .extend(annotations.iter().map(|(k, v)| (k.clone(), v.clone()))),
                CryptoUpdate::Decrypted => rebuilt
                    .annotations
                    .retain(|k, _| !k.starts_with(ENCRYPTION_ANNOTATION_PREFIX)),
            }
            *layer = rebuilt;
        }
        Ok(())
    }

    /// Bytes as Go's `json.Marshal` writes them.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(crate::go::json::to_vec(self)?)
    }
}

/// The prefix of every layer encryption annotation (`org.opencontainers.image.enc.keys.jwe`,
/// `…enc.pubopts`, …); decryption drops them all.
pub const ENCRYPTION_ANNOTATION_PREFIX: &str = "org.opencontainers.image.enc";

/// The `+encrypted` variant of a layer media type (containers/image's
/// `getEncryptedMediaType`).
fn encrypted_media_type(media_type: &str) -> Result<String> {
    let mut parts = media_type.split('+');
    let base = parts.next().unwrap_or_default();
    if parts.any(|p| p == "encrypted") {
        bail!(
            "preparing updated manifest: encryption specified but no counterpart for mediatype {}",
            go_quote(media_type)
        );
    }
    match base {
        mt::DOCKER_LAYER | mt::OCI_LAYER | mt::OCI_LAYER_NONDISTRIBUTABLE => {
            Ok(format!("{media_type}+encrypted"))
        }
        _ => bail!(
            "preparing updated manifest: encryption specified but no counterpart for mediatype {}",
            go_quote(media_type)
        ),
    }
}

/// A layer media type without its `+encrypted` suffix (`getDecryptedMediaType`).
fn decrypted_media_type(media_type: &str) -> Result<String> {
    media_type
        .strip_suffix("+encrypted")
        .map(str::to_string)
        .ok_or_else(|| {
            anyhow!(
                "error preparing updated manifest: decryption specified but original mediatype is not encrypted: {}",
                go_quote(media_type)
            )
        })
}
