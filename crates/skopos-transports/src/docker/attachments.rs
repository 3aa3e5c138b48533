//! Sigstore signatures as OCI attachments in the registry (cosign's layout, as
//! containers/image reads and writes it): the manifest tagged `sha256-<hex>.sig` in the
//! image's repository, one layer per signature (its payload, with the signature in the
//! layer's annotations), and a config listing the layers as diff IDs.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context as _};
use serde::{Deserialize, Serialize};
use skopos_core::error::is_image_not_found;
use skopos_core::media_type as mt;
use skopos_core::signature_blob::SigstoreBlob;
use skopos_core::{BlobInfo, BlobReader, Digest, Result};
use skopos_registry::{RegistryClient, UploadSessions};

/// The largest attachment payload read (containers/image's `MaxSignatureBodySize`).
const MAX_PAYLOAD_SIZE: u64 = 4 << 20;
/// The largest attachment config read.
const MAX_CONFIG_SIZE: u64 = 4 << 20;

/// The tag of the attachments of the manifest `digest`: `sha256-<hex>.sig`.
pub(crate) fn attachment_tag(digest: &Digest) -> String {
    format!("{}-{}.sig", digest.algorithm().name(), digest.hex())
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: Digest,
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
}

/// A new attachment config, as Go marshals containers/image's empty `v1.Image`.
#[derive(Serialize)]
struct NewConfig {
    architecture: &'static str,
    os: &'static str,
    config: BTreeMap<String, String>,
    rootfs: RootFs,
}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<Digest>,
}

/// The attachment manifest of `digest`, if the registry has one.
async fn attachment_manifest(
    client: &RegistryClient,
    repository: &str,
    digest: &Digest,
) -> Result<Option<Manifest>> {
    let tag = attachment_tag(digest);
    tracing::debug!("Looking for sigstore attachments in {repository}:{tag}");
    let (bytes, mime) = match client.get_manifest(repository, &tag).await {
        Ok(found) => found,
        Err(err) if is_image_not_found(&err) => {
            tracing::debug!(
                "Fetching sigstore attachment manifest failed, assuming it does not exist: {err:#}"
            );
            return Ok(None);
        }
        Err(err) => return Err(err),
    };
    if mime != mt::OCI_MANIFEST {
        bail!("unexpected MIME type for sigstore attachment manifest {repository}:{tag}: {mime:?}");
    }
    let manifest = serde_json::from_slice(&bytes)
        .with_context(|| format!("parsing manifest {repository}:{tag}"))?;
    Ok(Some(manifest))
}

/// A blob of at most `limit` bytes, checked against its digest.
async fn read_blob(
    client: &RegistryClient,
    repository: &str,
    descriptor: &Descriptor,
    limit: u64,
) -> Result<Vec<u8>> {
    let (reader, _) = client.get_blob(repository, &descriptor.digest).await?;
    let bytes = skopos_core::limits::read_at_most(reader, limit)
        .await
        .with_context(|| format!("reading blob {} in {repository}", descriptor.digest))?;
    if !descriptor.digest.matches(&bytes) {
        bail!(
            "digest mismatch, expected {:?}",
            descriptor.digest.to_string()
        );
    }
    Ok(bytes)
}

/// Every attachment of the manifest `digest`, as stored signature blobs (signatures and
/// anything else attached: consumers decide by MIME type).
pub(crate) async fn read_attachments(
    client: &RegistryClient,
    repository: &str,
    digest: &Digest,
) -> Result<Vec<Vec<u8>>> {
    let Some(manifest) = attachment_manifest(client, repository, digest).await? else {
        return Ok(Vec::new());
    };
    tracing::debug!(
        "Found a sigstore attachment manifest with {} layers",
        manifest.layers.len()
    );
    let mut blobs = Vec::new();
    for layer in &manifest.layers {
        let payload = read_blob(client, repository, layer, MAX_PAYLOAD_SIZE).await?;
        let blob = SigstoreBlob {
            mime_type: layer.media_type.clone(),
            payload,
            annotations: layer.annotations.clone().unwrap_or_default(),
        };
        blobs.push(blob.to_blob()?);
    }
    Ok(blobs)
}

async fn put_bytes(
    client: &RegistryClient,
    repository: &str,
    bytes: Vec<u8>,
    media_type: &str,
) -> Result<Descriptor> {
    let info = BlobInfo {
        digest: Digest::sha256_of(&bytes),
        size: Some(bytes.len() as u64),
        media_type: media_type.to_string(),
    };
    let reader: BlobReader = Box::pin(std::io::Cursor::new(bytes));
    let written = client
        .put_blob(repository, reader, Some(&info), &UploadSessions::default())
        .await
        .with_context(|| format!("writing blob {}", info.digest))?;
    Ok(Descriptor {
        media_type: media_type.to_string(),
        digest: written.digest,
        size: written.size,
        annotations: None,
    })
}

/// Add `signatures` to the attachments of the manifest `digest` (those already there are
/// not added twice), then write the attachment manifest.
pub(crate) async fn write_attachments(
    client: &RegistryClient,
    repository: &str,
    digest: &Digest,
    signatures: &[SigstoreBlob],
) -> Result<()> {
    let existing = attachment_manifest(client, repository, digest).await?;
    // An existing config is kept as it is, with new layers added to its diff IDs; a new
    // one is the empty image config containers/image writes.
    let (mut manifest, mut existing_config) = match existing {
        Some(manifest) => {
            let bytes = read_blob(client, repository, &manifest.config, MAX_CONFIG_SIZE).await?;
            let config: serde_json::Value = serde_json::from_slice(&bytes).map_err(|err| {
                anyhow!(
                    "parsing sigstore attachment config {} in {repository}: {err}",
                    manifest.config.digest
                )
            })?;
            (manifest, Some(config))
        }
        None => {
            let placeholder = Descriptor {
                media_type: mt::OCI_CONFIG.to_string(),
                digest: Digest::sha256_of(b""),
                size: 0,
                annotations: None,
            };
            let manifest = Manifest {
                schema_version: 2,
                media_type: Some(mt::OCI_MANIFEST.to_string()),
                config: placeholder,
                layers: Vec::new(),
                annotations: None,
            };
            (manifest, None)
        }
    };
    let mut new_diff_ids = Vec::new();
    for signature in signatures {
        let payload_digest = Digest::sha256_of(&signature.payload);
        let present = manifest.layers.iter().any(|layer| {
            layer.media_type == signature.mime_type
                && layer.digest == payload_digest
                && layer.annotations.clone().unwrap_or_default() == signature.annotations
        });
        if present {
            tracing::debug!(
                "Signature with digest {payload_digest} already exists on the registry"
            );
            continue;
        }
        let mut layer = put_bytes(
            client,
            repository,
            signature.payload.clone(),
            &signature.mime_type,
        )
        .await?;
        layer.annotations = Some(signature.annotations.clone());
        new_diff_ids.push(layer.digest.clone());
        manifest.layers.push(layer);
    }
    let config_bytes = match existing_config.as_mut() {
        Some(config) => {
            let Some(ids) = config
                .pointer_mut("/rootfs/diff_ids")
                .and_then(|ids| ids.as_array_mut())
            else {
                bail!("the sigstore attachment config of {digest} has no rootfs.diff_ids");
            };
            ids.extend(
                new_diff_ids
                    .iter()
                    .map(|id| serde_json::Value::String(id.to_string())),
            );
            skopos_core::go::json::to_vec(config)?
        }
        None => skopos_core::go::json::to_vec(&NewConfig {
            architecture: "",
            os: "",
            config: BTreeMap::new(),
            rootfs: RootFs {
                kind: "layers",
                diff_ids: new_diff_ids,
            },
        })?,
    };
    manifest.config = put_bytes(client, repository, config_bytes, mt::OCI_CONFIG).await?;
    let manifest_bytes = skopos_core::go::json::to_vec(&manifest)?;
    tracing::debug!("Uploading sigstore attachment manifest");
    client
        .put_manifest(
            repository,
            &attachment_tag(digest),
            &manifest_bytes,
            mt::OCI_MANIFEST,
        )
        .await?;
    Ok(())
}
