//! Copying a manifest list / image index with all (`--all`) or none (`--multi-arch
//! index-only`) of its images.

use anyhow::{bail, Context as _};
use skopos_core::go::text::go_quote;
use skopos_core::manifest::{self, ListInstance, ManifestList};
use skopos_core::media_type::{self, is_list, is_schema1};
use skopos_core::Result;

use crate::events::CopyEvent;
use crate::options::ImageListSelection;
use crate::single::{Copier, Placement};
use crate::CopyOutcome;

pub(crate) async fn copy_list(
    copier: &Copier,
    bytes: &[u8],
    mime: &str,
    list: &ManifestList,
) -> Result<CopyOutcome> {
    let options = &copier.options;
    let destination = &copier.destination;
    // Checked before anything is read or printed, as containers/image does.
    if !destination.supports_lists() {
        let transport = options
            .destination_name
            .split_once(':')
            .map_or(options.destination_name.as_str(), |(transport, _)| {
                transport
            });
        bail!(
            "copying multiple images: destination transport {} does not support copying multiple images as a group",
            go_quote(transport)
        );
    }
    let signatures = if options.remove_signatures {
        Vec::new()
    } else {
        copier
            .progress
            .event(CopyEvent::GettingSignatures { list: true });
        copier
            .source
            .signatures(None)
            .await
            .context("reading list signatures")?
    };
    if !signatures.is_empty() {
        copier
            .progress
            .event(CopyEvent::CheckingDestinationSignatures { list: true });
        if let Err(reason) = destination.supports_signatures() {
            bail!(
                "Can not copy signatures to {}: {reason}",
                options.destination_name
            );
        }
    }
    let target_mime = list_target_type(
        mime,
        destination.supported_manifest_types(),
        options.force_manifest_type,
    )?;
    let cannot_modify_reason = if options.preserve_digests {
        Some("Instructed to preserve digests")
    } else if !signatures.is_empty() {
        Some("Would invalidate signatures")
    } else {
        None
    };
    if let Some(reason) = cannot_modify_reason {
        if target_mime != mime {
            bail!(
                "Manifest list must be converted to type {} to be written to destination, but we cannot modify it: {}",
                go_quote(target_mime),
                go_quote(reason)
            );
        }
    }

    let instances = list.instances();
    let to_copy: Vec<&ListInstance> = match options.image_list_selection {
        ImageListSelection::IndexOnly => Vec::new(),
        _ => instances.iter().collect(),
    };
    copier.progress.event(CopyEvent::CopyingImages {
        copying: to_copy.len(),
        total: instances.len(),
    });
    let mut updates = Vec::new();
    for (i, instance) in to_copy.iter().enumerate() {
        copier.progress.event(CopyEvent::CopyingImage {
            digest: instance.digest.clone(),
            index: i + 1,
            count: to_copy.len(),
        });
        let copied = async {
            let (bytes, instance_mime, image) = copier.read_instance(&instance.digest).await?;
            copier
                .copy_single(
                    bytes,
                    instance_mime,
                    image,
                    Some(&instance.digest),
                    Placement::ListInstance,
                )
                .await
        }
        .await
        .with_context(|| {
            format!(
                "copying image {}/{} from manifest list",
                i + 1,
                to_copy.len()
            )
        })?;
        if copied.digest != instance.digest || copied.mime_type != instance.media_type {
            updates.push((
                instance.digest.clone(),
                ListInstance {
                    digest: copied.digest,
                    size: copied.manifest.len() as u64,
                    media_type: copied.mime_type,
                    platform: instance.platform.clone(),
                },
            ));
        }
    }

    let written = if updates.is_empty() && target_mime == mime {
        bytes.to_vec()
    } else {
        list.convert(target_mime, &updates, None).with_context(|| {
            format!(
                "converting manifest list to list with MIME type {}",
                go_quote(target_mime)
            )
        })?
    };
    copier
        .progress
        .event(CopyEvent::WritingManifest { list: true });
    destination
        .put_manifest(&written, target_mime, None)
        .await
        .map_err(|err| {
            anyhow::anyhow!(
                "Uploading manifest list failed, attempted the following formats: {target_mime}({err:#})"
            )
        })?;
    let digest = manifest::manifest_digest(&written)?;
    copier.progress.event(CopyEvent::ManifestWritten {
        digest: digest.clone(),
        media_type: target_mime.to_string(),
        list: true,
    });
    let mut signatures = signatures;
    signatures.extend(copier.create_signatures(&written).await?);
    copier
        .progress
        .event(CopyEvent::StoringSignatures { list: true });
    destination
        .put_signatures(&signatures, None)
        .await
        .context("storing list signatures")?;
    Ok(CopyOutcome {
        manifest: written,
        mime_type: target_mime.to_string(),
        digest,
    })
}

/// The list type to write: `--format` decides the family (schema 1 and 2 → Docker list,
/// OCI → OCI index); otherwise the source's type when the destination takes it, else the
/// first list type the destination takes.
fn list_target_type(
    source_mime: &str,
    destination_types: Option<Vec<&'static str>>,
    forced: Option<&'static str>,
) -> Result<&'static str> {
    if let Some(forced) = forced {
        return Ok(if forced == media_type::OCI_MANIFEST {
            media_type::OCI_INDEX
        } else if forced == media_type::DOCKER_V2_SCHEMA2 || is_schema1(forced) {
            media_type::DOCKER_V2_LIST
        } else {
            return Err(no_list_type());
        });
    }
    let source_type = if source_mime == media_type::OCI_INDEX {
        media_type::OCI_INDEX
    } else {
        media_type::DOCKER_V2_LIST
    };
    let Some(types) = destination_types else {
        return Ok(source_type);
    };
    if types.contains(&source_type) {
        return Ok(source_type);
    }
    types
        .into_iter()
        .find(|t| is_list(t))
        .ok_or_else(no_list_type)
}

/// containers/image's error when the destination takes no list type.
fn no_list_type() -> anyhow::Error {
    anyhow::anyhow!(
        "determining manifest list type to write to destination: destination does not support any supported manifest list types ([{} {}])",
        media_type::DOCKER_V2_LIST,
        media_type::OCI_INDEX
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use skopos_core::media_type::*;

    #[test]
    fn chooses_list_types() {
        assert_eq!(list_target_type(OCI_INDEX, None, None).unwrap(), OCI_INDEX);
        assert_eq!(
            list_target_type(DOCKER_V2_LIST, Some(vec![OCI_MANIFEST, OCI_INDEX]), None).unwrap(),
            OCI_INDEX
        );
        assert_eq!(
            list_target_type(OCI_INDEX, None, Some(DOCKER_V2_SCHEMA2)).unwrap(),
            DOCKER_V2_LIST
        );
        assert!(list_target_type(OCI_INDEX, Some(vec![DOCKER_V2_SCHEMA2]), None).is_err());
    }
}
