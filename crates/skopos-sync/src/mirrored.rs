//! "Image already at destination": skopeo's sync sets containers/image's
//! `OptimizeDestinationImageAlreadyExists`, so an image whose manifest the destination
//! already holds, as it would be written, is not copied again. Two ways to tell: manifest
//! `HEAD`s at both registries ([`MirrorCheck::by_heads`], nothing read, no pull counted),
//! and reading the source's manifest ([`MirrorCheck::by_manifests`], as containers/image
//! does, for any destination that can hold it).

use anyhow::Context as _;
use skopos_core::manifest::{self, AnyManifest};
use skopos_core::platform::Platform;
use skopos_core::{Digest, ImageName, ImageSource, SystemContext};
use skopos_policy::{Policy, Requirement};

/// What the `HEAD`s of [`MirrorCheck::by_heads`] tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mirrored {
    /// The destination holds the image, as this manifest.
    Yes(Digest),
    /// It holds nothing or another manifest under that name.
    No,
    /// Cannot be told without reading the image.
    Unknown,
}

/// One image of a sync, and how it would be copied: enough to tell whether the copy would
/// write anything.
#[derive(Clone, Copy)]
pub struct MirrorCheck<'a> {
    /// The image read.
    pub source_name: &'a ImageName,
    /// Its settings.
    pub source_ctx: &'a SystemContext,
    /// Where it goes.
    pub destination_name: &'a ImageName,
    /// The destination's settings.
    pub destination_ctx: &'a SystemContext,
    /// The trust policy the copy applies to the source.
    pub policy: &'a Policy,
    /// The platform whose instance of a list is copied.
    pub platform: &'a Platform,
    /// The manifest type the copy converts to (`--format`), if any.
    pub force_manifest_type: Option<&'a str>,
    /// `--remove-signatures`: the source's signatures are not copied.
    pub remove_signatures: bool,
    /// The copy signs what it writes, so it always writes.
    pub signs: bool,
    /// Lists are copied whole (`--all`), so they are always written.
    pub whole_lists: bool,
}

impl MirrorCheck<'_> {
    /// The cheap check, for registry to registry: one manifest `HEAD` at the destination and,
    /// when it has the tag, one at the source; no `GET`
    /// (which registries count against pull quotas). It applies when nothing about the image
    /// needs reading: the policy accepts anything for it, no signatures are made or copied,
    /// the manifest is written as it is (a single image, no forced format). Any doubt or
    /// failure answers [`Mirrored::Unknown`]; the copy then goes on the ordinary way, which
    /// reports errors as skopeo does.
    pub async fn by_heads(&self) -> Mirrored {
        self.mirrored_by_heads().await.unwrap_or(Mirrored::Unknown)
    }

    /// [`MirrorCheck::by_heads`]; `None` for "cannot tell".
    async fn mirrored_by_heads(&self) -> Option<Mirrored> {
        let (ImageName::Docker(source), ImageName::Docker(destination)) =
            (self.source_name, self.destination_name)
        else {
            return None;
        };
        if self.signs || self.whole_lists {
            return None;
        }
        let requirements = self.policy.requirements_for(self.source_name).ok()?;
        if requirements.is_empty()
            || !requirements
                .iter()
                .all(|requirement| matches!(requirement, Requirement::InsecureAcceptAnything))
        {
            return None;
        }
        // The destination first: a tag it lacks needs copying whatever the source holds,
        // so a first sync spends no HEAD on the source (the copy GETs its manifest anyway).
        let Some(at_destination) =
            skopos_transports::docker::head_destination(destination, self.destination_ctx)
                .await
                .ok()?
        else {
            return Some(Mirrored::No);
        };
        let head = skopos_transports::docker::head_source(source, self.source_ctx)
            .await
            .ok()??;
        let mime = manifest::normalized_mime_type(&head.media_type);
        if skopos_core::media_type::is_list(mime)
            || self
                .force_manifest_type
                .is_some_and(|forced| forced != mime)
            || (head.signed && !self.remove_signatures)
        {
            return None;
        }
        if at_destination != head.digest {
            return Some(Mirrored::No);
        }
        Some(Mirrored::Yes(head.digest))
    }

    /// containers/image's check: when the destination already holds the very manifest the
    /// copy would write from `source` (no conversion, no signatures to copy or make), that
    /// manifest's digest. The source's manifest is read (and the policy checked on it, as
    /// the copy would); any failure to read the destination's means "not there yet".
    pub async fn by_manifests(&self, source: &dyn ImageSource) -> anyhow::Result<Option<Digest>> {
        // A `dir` destination is always new (sync refuses existing directories), and a
        // list copied whole is written again in any case. An OCI layout may already hold
        // the image, as a registry may (containers/image compares any destination).
        if self.signs
            || !matches!(
                self.destination_name,
                ImageName::Docker(_) | ImageName::Oci { .. }
            )
            || self.whole_lists
        {
            return Ok(None);
        }
        let (mut bytes, mut mime) = source.manifest(None).await?;
        if mime.is_empty() {
            mime = manifest::guess_mime_type(&bytes);
        }
        let mut instance = None;
        if let AnyManifest::List(list) = manifest::parse(&bytes, &mime).with_context(|| {
            if skopos_core::media_type::is_list(manifest::normalized_mime_type(&mime)) {
                format!("parsing primary manifest as list for {}", self.source_name)
            } else {
                format!("initializing image from source {}", self.source_name)
            }
        })? {
            let chosen = list.choose_instance(self.platform).with_context(|| {
                format!("choosing an image from manifest list {}", self.source_name)
            })?;
            (bytes, mime) = source.manifest(Some(&chosen)).await?;
            instance = Some(chosen);
        }
        if self
            .force_manifest_type
            .is_some_and(|forced| forced != mime)
        {
            return Ok(None);
        }
        // The policy is checked before anything else is read about the image.
        self.policy
            .check_image(self.source_name, &bytes, || {
                source.signatures(instance.as_ref())
            })
            .await
            .context("Source image rejected")?;
        if !self.remove_signatures && !source.signatures(instance.as_ref()).await?.is_empty() {
            return Ok(None);
        }
        let source_digest = manifest::manifest_digest(&bytes)?;
        let Ok(destination) =
            skopos_transports::open_source(self.destination_name, self.destination_ctx).await
        else {
            return Ok(None);
        };
        let Ok((destination_bytes, _)) = destination.manifest(None).await else {
            return Ok(None);
        };
        if manifest::manifest_digest(&destination_bytes)? != source_digest {
            return Ok(None);
        }
        Ok(Some(source_digest))
    }
}
