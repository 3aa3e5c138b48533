//! Reading one image from an [`ImageSource`] as containers/image's `image.FromUnparsedImage`
//! does: the per-platform instance of a manifest list (read through a
//! [`crate::verified::VerifiedSource`], which checks it against the list's digest),
//! the config blob with containers/image's size limit and digest check, and the config as
//! OCI `v1.Image`. `inspect` and the image proxy share these.

use anyhow::{anyhow, bail, Context as _};
use tokio::io::AsyncReadExt;

use crate::go::text::go_quote;
use crate::image_config::{OciHistory, OciImage, OciRootFs};
use crate::manifest::schema1::{Schema1, V1Compatibility};
use crate::manifest::{self, AnyManifest, Manifest, ManifestList};
use crate::platform::Platform;
use crate::verified::ManifestDigestMismatch;
use crate::{media_type, BlobInfo, Digest, ImageSource, Result};

/// containers/image refuses config blobs larger than this (`iolimits.MaxConfigBodySize`).
const MAX_CONFIG_SIZE: u64 = crate::limits::MAX_CONFIG_BODY;

/// `mime`, or the type guessed from `bytes` when the transport did not say.
pub fn effective_mime(bytes: &[u8], mime: &str) -> String {
    if mime.is_empty() {
        manifest::guess_mime_type(bytes)
    } else {
        mime.to_string()
    }
}

/// One image chosen from a top-level manifest.
#[derive(Debug, Clone)]
pub struct ChosenImage {
    /// The image's manifest bytes, as stored.
    pub bytes: Vec<u8>,
    /// The parsed manifest.
    pub manifest: Manifest,
    /// The instance's digest when the top level is a list; `None` when it is the image.
    pub instance: Option<Digest>,
}

/// The per-platform image of a top-level manifest (`bytes`, of type `mime`, empty when
/// unknown): the manifest itself, or the instance of a list chosen for `platform`
/// (fetched from `source` and checked against the list's digest).
pub async fn choose_image(
    source: &dyn ImageSource,
    bytes: &[u8],
    mime: &str,
    platform: &Platform,
) -> Result<ChosenImage> {
    let mime = effective_mime(bytes, mime);
    let parsed = manifest::parse(bytes, &mime).map_err(|err| {
        // containers/image names the list type it failed to parse.
        match manifest::normalized_mime_type(&mime) {
            media_type::DOCKER_V2_LIST => err.context("parsing schema2 manifest list"),
            media_type::OCI_INDEX => err.context("parsing OCI1 index"),
            _ => err,
        }
    })?;
    match parsed {
        AnyManifest::Image(image) => Ok(ChosenImage {
            bytes: bytes.to_vec(),
            manifest: image,
            instance: None,
        }),
        AnyManifest::List(list) => {
            let kind = match list {
                ManifestList::Docker(_) => "manifest list",
                ManifestList::Oci(_) => "image index",
            };
            let chosen = list
                .choose_instance(platform)
                .context("choosing image instance")?;
            let (instance_bytes, instance_mime) = match source.manifest(Some(&chosen)).await {
                Ok(read) => read,
                // A VerifiedSource checked it; this is containers/image's wording here.
                Err(err) if err.is::<ManifestDigestMismatch>() => {
                    bail!("Image manifest does not match selected manifest digest {chosen}")
                }
                Err(err) => {
                    return Err(err.context(format!(
                        "fetching target platform image selected from {kind}"
                    )))
                }
            };
            let instance_mime = effective_mime(&instance_bytes, &instance_mime);
            match manifest::parse(&instance_bytes, &instance_mime)? {
                AnyManifest::Image(image) => Ok(ChosenImage {
                    bytes: instance_bytes,
                    manifest: image,
                    instance: Some(chosen),
                }),
                AnyManifest::List(_) => {
                    bail!("manifest list instance {chosen} is itself a manifest list")
                }
            }
        }
    }
}

/// Read a config blob whole and check its digest, as containers/image's `ConfigBlob` does.
pub async fn read_config(source: &dyn ImageSource, info: &BlobInfo) -> Result<Vec<u8>> {
    let (reader, _) = source.blob(info).await?;
    let mut blob = Vec::new();
    reader
        .take(MAX_CONFIG_SIZE + 1)
        .read_to_end(&mut blob)
        .await
        .with_context(|| format!("reading config blob {}", info.digest))?;
    if blob.len() as u64 > MAX_CONFIG_SIZE {
        bail!("exceeded maximum allowed size of {MAX_CONFIG_SIZE} bytes");
    }
    let computed = Digest::of(info.digest.algorithm(), &blob);
    if computed != info.digest {
        bail!(
            "Download config.json digest {computed} does not match expected {}",
            info.digest
        );
    }
    Ok(blob)
}

/// The config blob of an OCI or schema 2 image; OCI artifacts (other config types) are
/// refused with containers/image's message.
pub async fn image_config_blob(source: &dyn ImageSource, image: &Manifest) -> Result<Vec<u8>> {
    let info = image.config().ok_or_else(|| {
        anyhow!("converting schema 1 images to an OCI configuration is not supported yet")
    })?;
    if matches!(image, Manifest::Oci(_)) && info.media_type != media_type::OCI_CONFIG {
        bail!(
            "unsupported image-specific operation on artifact with type {}",
            go_quote(&info.media_type)
        );
    }
    read_config(source, &info).await
}

/// containers/image's `OCIConfig()`: the image's config as OCI `v1.Image`, read from the
/// config blob, or built from the history of a schema 1 manifest.
pub async fn oci_config(source: &dyn ImageSource, image: &Manifest) -> Result<OciImage> {
    if let Manifest::Schema1(_) = image {
        return oci_config_from_schema1(image.bytes());
    }
    let blob = image_config_blob(source, image).await?;
    serde_json::from_slice(&blob).context("decoding the image configuration")
}

/// A schema 1 manifest with at least one history entry (the newest holds the config).
pub fn parse_schema1(manifest_bytes: &[u8]) -> Result<Schema1> {
    let schema1: Schema1 =
        serde_json::from_slice(manifest_bytes).context("decoding the schema 1 manifest")?;
    if schema1.history.is_empty() {
        bail!("schema 1 manifest has no history entries");
    }
    Ok(schema1)
}

/// containers/image's schema 1 → schema 2 config conversion (with unknown diff IDs, as
/// `OCIConfig` does it), read as `v1.Image`: the newest `v1Compatibility` entry, a rootfs
/// with one empty diff ID per non-throwaway layer, and a history built oldest first.
pub fn oci_config_from_schema1(manifest_bytes: &[u8]) -> Result<OciImage> {
    let schema1 = parse_schema1(manifest_bytes)?;
    let mut image: OciImage = match schema1.history.first() {
        Some(newest) => serde_json::from_str(&newest.v1_compatibility)
            .context("decoding the schema 1 v1Compatibility entry")?,
        None => OciImage::default(),
    };
    let mut diff_ids = Vec::new();
    let mut history = Vec::new();
    for entry in schema1.history.iter().rev() {
        let v1: V1Compatibility = serde_json::from_str(&entry.v1_compatibility)
            .context("decoding the schema 1 v1Compatibility entry")?;
        if !v1.throwaway {
            diff_ids.push(String::new());
        }
        history.push(OciHistory {
            created: Some(v1.created),
            created_by: v1.container_config.cmd.unwrap_or_default().join(" "),
            author: v1.author,
            comment: v1.comment,
            empty_layer: v1.throwaway,
        });
    }
    image.rootfs = OciRootFs {
        fs_type: "layers".to_string(),
        diff_ids: Some(diff_ids),
    };
    image.history = Some(history);
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::go;

    #[test]
    fn schema1_config_is_converted_like_containers_image() {
        let manifest = br#"{"schemaVersion":1,"tag":"v1","history":[{"v1Compatibility":"{\"id\":\"x\",\"os\":\"linux\",\"architecture\":\"amd64\",\"author\":\"me\",\"created\":\"2023-06-30T23:59:58.120000000+02:00\",\"config\":{\"Cmd\":[\"/bin/sh\"]}}"},{"v1Compatibility":"{\"created\":\"2023-01-01T01:02:03.000000001-05:00\",\"container_config\":{\"Cmd\":[\"layer\",\"0\"]},\"throwaway\":true}"}]}"#;
        let image = oci_config_from_schema1(manifest).unwrap();
        let text = String::from_utf8(go::json::to_vec(&image).unwrap()).unwrap();
        assert_eq!(
            text,
            r#"{"created":"2023-06-30T23:59:58.12+02:00","author":"me","architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[""]},"history":[{"created":"2023-01-01T01:02:03.000000001-05:00","created_by":"layer 0","empty_layer":true},{"created":"2023-06-30T23:59:58.12+02:00","author":"me"}]}"#
        );
    }

    #[test]
    fn schema1_without_history_is_refused() {
        let err = parse_schema1(br#"{"schemaVersion":1,"history":[]}"#).unwrap_err();
        assert_eq!(err.to_string(), "schema 1 manifest has no history entries");
    }
}
