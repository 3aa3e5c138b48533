//! Copying what is attached to an image along with it: its OCI 1.1 referrers (and their
//! referrers, e.g. a signature on an SBOM) and cosign's `sha256-<hex>.sig/.att/.sbom`
//! tags, for the copied image and, when a list was copied, each of its instances.
//!
//! Attachments name their subject by digest, so they only follow an image whose digest
//! the copy kept; each one is copied byte for byte (digests preserved, whatever its
//! config type) and is not judged by the trust policy: it belongs to an image that was.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use skopos_core::manifest::{self, AnyManifest};
use skopos_core::referrers::{cosign_tags, Referrer, ReferrersDestination, ReferrersSource};
use skopos_core::{Digest, Result};

use crate::{copy_image, CopyOptions, CopyOutcome, ImageListSelection, ProgressSink};

/// The most attachments one copy follows, against a source that never stops listing.
const MAX_ATTACHMENTS: usize = 10_000;

/// What to copy besides the image.
#[derive(Debug, Clone, Default)]
pub struct ReferrersOptions {
    /// Only referrers of the image with one of these artifact types (all when empty);
    /// their own referrers all follow, since they are what verifies them.
    pub artifact_types: Vec<String>,
}

/// What [`copy_referrers`] copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopiedAttachments {
    /// The referrers copied, in the order they were.
    pub referrers: Vec<Digest>,
    /// The cosign tags copied.
    pub cosign_tags: Vec<String>,
}

/// The digests of the images a copy wrote: the top-level manifest and, for a list, each
/// of its instances.
pub fn written_images(outcome: &CopyOutcome) -> Result<Vec<Digest>> {
    let mut subjects = vec![outcome.digest.clone()];
    if let AnyManifest::List(list) = manifest::parse(&outcome.manifest, &outcome.mime_type)? {
        subjects.extend(list.instances().into_iter().map(|i| i.digest));
    }
    Ok(subjects)
}

/// What is attached to some images: their referrers (with the subject each refers to,
/// referrers of referrers included) and their cosign tags, in discovery order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovered {
    /// `(subject, referrer)`: a referrer comes after its subject's own entry.
    pub referrers: Vec<(Digest, Referrer)>,
    /// `(subject, tag, digest)` of each cosign tag found.
    pub cosign_tags: Vec<(Digest, String, Digest)>,
}

/// Find what is attached to the images `subjects` in the repository `source`: their
/// referrers passing the filter, all referrers of those, and the cosign tags of every one.
pub async fn discover_attachments(
    source: &dyn ReferrersSource,
    subjects: Vec<Digest>,
    options: &ReferrersOptions,
) -> Result<Discovered> {
    let mut found = Discovered::default();
    let mut seen: HashSet<Digest> = subjects.iter().cloned().collect();
    let mut queue: VecDeque<(Digest, bool)> = subjects.into_iter().map(|s| (s, true)).collect();
    while let Some((subject, is_image)) = queue.pop_front() {
        for tag in cosign_tags(&subject) {
            if let Some(digest) = source.tag_digest(&tag).await? {
                found.cosign_tags.push((subject.clone(), tag, digest));
            }
        }
        let filter: &[String] = if is_image {
            &options.artifact_types
        } else {
            &[]
        };
        for referrer in source.referrers(&subject, filter).await? {
            if !seen.insert(referrer.digest.clone()) {
                continue;
            }
            if seen.len() > MAX_ATTACHMENTS {
                bail!("listing referrers: more than {MAX_ATTACHMENTS} attachments");
            }
            queue.push_back((referrer.digest.clone(), false));
            found.referrers.push((subject.clone(), referrer));
        }
    }
    Ok(found)
}

/// After the images `subjects` were copied from the repository `source` to
/// `destination` (see [`written_images`]), copy their referrers and cosign tags.
pub async fn copy_referrers(
    source: &dyn ReferrersSource,
    destination: &dyn ReferrersDestination,
    subjects: Vec<Digest>,
    options: &ReferrersOptions,
    progress: Arc<dyn ProgressSink>,
) -> Result<CopiedAttachments> {
    for subject in &subjects {
        if !source.has_manifest(subject).await? {
            bail!(
                "copying referrers: the copy wrote {subject}, which the source does not have; \
                 referrers can only follow an image copied unchanged (see --preserve-digests)"
            );
        }
    }
    let found = discover_attachments(source, subjects, options).await?;
    let mut copied = CopiedAttachments::default();
    // In discovery order, so that every subject is at the destination before its referrers.
    for (subject, referrer) in &found.referrers {
        let outcome = copy_manifest(
            source,
            destination,
            &referrer.digest,
            None,
            progress.clone(),
        )
        .await
        .with_context(|| format!("copying referrer {}", referrer.digest))?;
        // The destination lists it as the manifest itself describes it (a tag-schema
        // index written by another tool may lack its annotations).
        let listed = match Referrer::from_manifest(&outcome.manifest, &outcome.mime_type) {
            Ok(Some((_, described))) => described,
            _ => referrer.clone(),
        };
        destination
            .add_referrer(subject, &listed)
            .await
            .with_context(|| format!("listing referrer {} of {subject}", referrer.digest))?;
        copied.referrers.push(referrer.digest.clone());
    }
    for (_, tag, digest) in &found.cosign_tags {
        copy_manifest(source, destination, digest, Some(tag), progress.clone())
            .await
            .with_context(|| format!("copying {tag}"))?;
        copied.cosign_tags.push(tag.clone());
    }
    Ok(copied)
}

/// Copy the manifest `digest` (and everything it references) byte for byte, under `tag`
/// or by digest only.
async fn copy_manifest(
    source: &dyn ReferrersSource,
    destination: &dyn ReferrersDestination,
    digest: &Digest,
    tag: Option<&str>,
    progress: Arc<dyn ProgressSink>,
) -> Result<CopyOutcome> {
    let from = source.open_manifest(digest).await?;
    let to = destination.open_manifest(tag).await?;
    let options = CopyOptions {
        image_list_selection: ImageListSelection::All,
        preserve_digests: true,
        // Attachments are copied as they are, not signed or re-signed.
        remove_signatures: true,
        source_name: digest.to_string(),
        destination_name: tag.unwrap_or("the destination").to_string(),
        ..CopyOptions::default()
    };
    let outcome = copy_image(Arc::from(from), Arc::from(to), options, progress).await?;
    if &outcome.digest != digest {
        bail!("the copy of {digest} was written as {}", outcome.digest);
    }
    Ok(outcome)
}
