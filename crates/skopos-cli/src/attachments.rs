//! `--skopos-referrers` on `copy` and `sync`: from the flags and the two image names to
//! the engine's [`skopos_copy::copy_referrers`].

use std::sync::Arc;

use anyhow::bail;
use std::collections::BTreeMap;

use serde::Serialize;
use skopos_copy::{copy_referrers, discover_attachments, ProgressSink, ReferrersOptions};
use skopos_core::reference::OciImage;
use skopos_core::referrers::{ReferrersDestination, ReferrersSource};
use skopos_core::{Digest, ImageName, SystemContext};

use crate::cli::ReferrersArgs;

/// Where an image's attachments are read and written, when the flags ask for them.
pub(crate) struct Attachments {
    source: Box<dyn ReferrersSource>,
    destination: Box<dyn ReferrersDestination>,
    options: ReferrersOptions,
}

/// `inspect --skopos-referrers`: what is attached to `subjects` (the image, and a list's
/// instances) in `name`'s repository, as indented JSON in skopeo's style.
pub(crate) async fn list(
    name: &ImageName,
    ctx: &SystemContext,
    subjects: Vec<Digest>,
) -> anyhow::Result<Vec<u8>> {
    let Some(source) = skopos_transports::open_referrers_source(name, ctx)? else {
        bail!(
            "--skopos-referrers: the {} transport has no referrers (docker:// and oci: have)",
            name.transport()
        );
    };
    let digest = subjects.first().cloned();
    let found =
        discover_attachments(source.as_ref(), subjects, &ReferrersOptions::default()).await?;
    let listing = Listing {
        digest,
        referrers: found
            .referrers
            .into_iter()
            .map(|(subject, referrer)| ListedReferrer {
                subject,
                artifact_type: referrer.artifact_type.unwrap_or_default(),
                media_type: referrer.media_type,
                digest: referrer.digest,
                size: referrer.size,
                annotations: referrer.annotations,
            })
            .collect(),
        cosign_tags: found
            .cosign_tags
            .into_iter()
            .map(|(subject, tag, digest)| ListedTag {
                subject,
                tag,
                digest,
            })
            .collect(),
    };
    let mut out = skopos_core::go::json::to_vec_indent(&listing, "    ")?;
    out.push(b'\n');
    Ok(out)
}

/// `inspect --skopos-referrers`'s output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Listing {
    /// The inspected image's manifest digest.
    digest: Option<Digest>,
    referrers: Vec<ListedReferrer>,
    cosign_tags: Vec<ListedTag>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListedReferrer {
    /// The manifest this one refers to: the image, an instance, or another referrer.
    subject: Digest,
    artifact_type: String,
    media_type: String,
    digest: Digest,
    size: u64,
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListedTag {
    subject: Digest,
    tag: String,
    digest: Digest,
}

/// Whether `name` is a registry tag, or a layout's image name, that holds attachments
/// rather than an image: the referrers tag schema's `sha256-<hex>` or cosign's
/// `sha256-<hex>.sig/.att/.sbom`.
pub(crate) fn is_attachment_tag(name: &ImageName) -> bool {
    let tag = match name {
        ImageName::Oci {
            image: OciImage::Named(name),
            ..
        } => name.as_str(),
        _ => match name.docker_reference().and_then(|r| r.tag()) {
            Some(tag) => tag,
            None => return false,
        },
    };
    let Some(rest) = tag.strip_prefix("sha256-") else {
        return false;
    };
    let hex = [".sig", ".att", ".sbom"]
        .iter()
        .find_map(|suffix| rest.strip_suffix(suffix))
        .unwrap_or(rest);
    hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The flags checked alone, before any image is touched: a filter needs the flag.
pub(crate) fn check_flags(args: &ReferrersArgs) -> anyhow::Result<()> {
    if !args.enabled && !args.artifact_types.is_empty() {
        bail!("--skopos-referrers-filter requires --skopos-referrers");
    }
    Ok(())
}

impl Attachments {
    /// `None` without `--skopos-referrers`; an error when either side's transport has no
    /// referrers (only `docker://` and `oci:` have).
    pub(crate) fn open(
        args: &ReferrersArgs,
        source: (&ImageName, &SystemContext),
        destination: (&ImageName, &SystemContext),
    ) -> anyhow::Result<Option<Attachments>> {
        check_flags(args)?;
        if !args.enabled {
            return Ok(None);
        }
        let Some(from) = skopos_transports::open_referrers_source(source.0, source.1)? else {
            bail!(
                "--skopos-referrers: the {} transport has no referrers (docker:// and oci: have)",
                source.0.transport()
            );
        };
        let Some(to) = skopos_transports::open_referrers_destination(destination.0, destination.1)?
        else {
            bail!(
                "--skopos-referrers: the {} transport has no referrers (docker:// and oci: have)",
                destination.0.transport()
            );
        };
        Ok(Some(Attachments {
            source: from,
            destination: to,
            options: ReferrersOptions {
                artifact_types: args.artifact_types.clone(),
            },
        }))
    }

    /// Copy the attachments of the images `subjects` the copy wrote.
    pub(crate) async fn copy(
        &self,
        subjects: Vec<Digest>,
        progress: Arc<dyn ProgressSink>,
    ) -> anyhow::Result<()> {
        let copied = copy_referrers(
            self.source.as_ref(),
            self.destination.as_ref(),
            subjects,
            &self.options,
            progress,
        )
        .await?;
        tracing::debug!(
            "copied {} referrers and cosign tags {:?}",
            copied.referrers.len(),
            copied.cosign_tags
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_tags_are_recognised() {
        let hex = "a".repeat(64);
        let name =
            |tag: &str| ImageName::parse(&format!("docker://example.com/repo:{tag}")).unwrap();
        assert!(is_attachment_tag(&name(&format!("sha256-{hex}"))));
        assert!(is_attachment_tag(&name(&format!("sha256-{hex}.sig"))));
        assert!(is_attachment_tag(&name(&format!("sha256-{hex}.sbom"))));
        assert!(!is_attachment_tag(&name(&format!("sha256-{hex}.other"))));
        assert!(!is_attachment_tag(&name("sha256-abc")));
        assert!(!is_attachment_tag(&name("latest")));
        let in_layout = |image: &str| ImageName::Oci {
            path: "layout".into(),
            image: OciImage::Named(image.to_string()),
        };
        assert!(is_attachment_tag(&in_layout(&format!("sha256-{hex}.att"))));
        assert!(!is_attachment_tag(&in_layout("app:v1")));
    }
}
