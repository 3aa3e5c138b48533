//! The copy engine: moves one image, or a list of images, from an
//! [`ImageSource`] to an
//! [`ImageDestination`].
//!
//! It chooses which instances and which manifest format to write, streams every blob
//! from source to destination (verifying digests on the way, changing compression when
//! asked, several layers at once), writes the manifest(s) last and commits. It knows no
//! transport: both ends come in as trait objects. What it does is reported as
//! [`CopyEvent`]s; the caller decides how they look.

#![deny(missing_docs)]

mod blob;
mod chunked;
mod claims;
mod events;
mod gzip;
mod list;
mod options;
mod partial;
mod referrers;
mod report;
mod single;

pub use claims::BlobClaims;
pub use events::{BlobKind, CopyEvent, NoProgress, ProgressSink};
pub use options::{
    CopyOptions, ImageListSelection, LayerEncryptionOptions, ManifestSigner, SourcePolicy,
    DEFAULT_PARALLEL_BLOBS,
};
pub use referrers::{
    copy_referrers, discover_attachments, written_images, CopiedAttachments, Discovered,
    ReferrersOptions,
};
pub use report::{BlobOutcome, BlobReport, CopyReport, ManifestReport, ReportBuilder};

use std::sync::Arc;

use anyhow::Context as _;
use skopos_core::manifest::{self, AnyManifest};
use skopos_core::verified::VerifiedSource;
use skopos_core::{Digest, ImageDestination, ImageSource, Result};

/// What a finished copy wrote.
#[derive(Debug, Clone)]
pub struct CopyOutcome {
    /// The top-level manifest as written to the destination.
    pub manifest: Vec<u8>,
    /// Its media type (an image's or a list's).
    pub mime_type: String,
    /// Its digest (what `--digestfile` records).
    pub digest: Digest,
}

/// containers/image's context for a failure to read (or verify) a manifest of the source.
fn determining_manifest_type(options: &CopyOptions) -> String {
    format!("determining manifest MIME type for {}", options.source_name)
}

/// Copy the image that `source` offers to `destination`, then commit the destination.
/// The copy is reported to `progress` from [`CopyEvent::ImageStarted`] to
/// [`CopyEvent::ImageDone`] or [`CopyEvent::ImageFailed`].
pub async fn copy_image(
    source: Arc<dyn ImageSource>,
    destination: Arc<dyn ImageDestination>,
    options: CopyOptions,
    progress: Arc<dyn ProgressSink>,
) -> Result<CopyOutcome> {
    progress.event(CopyEvent::ImageStarted {
        source: options.source_name.clone(),
        destination: options.destination_name.clone(),
    });
    let outcome = copy_and_commit(source, destination, options, progress.clone()).await;
    progress.event(match &outcome {
        Ok(outcome) => CopyEvent::ImageDone {
            digest: outcome.digest.clone(),
            media_type: outcome.mime_type.clone(),
        },
        Err(err) => CopyEvent::ImageFailed {
            message: format!("{err:#}"),
        },
    });
    outcome
}

async fn copy_and_commit(
    source: Arc<dyn ImageSource>,
    destination: Arc<dyn ImageDestination>,
    options: CopyOptions,
    progress: Arc<dyn ProgressSink>,
) -> Result<CopyOutcome> {
    // Every manifest the copy reads, top level or list instance, goes through this check.
    let source = VerifiedSource::wrap(source);
    let (bytes, mime) = source
        .manifest(None)
        .await
        .with_context(|| determining_manifest_type(&options))?;
    let mime = if mime.is_empty() {
        manifest::guess_mime_type(&bytes)
    } else {
        mime
    };
    let parsed = manifest::parse(&bytes, &mime)
        .map_err(|err| err.context(parse_failure(&options, &bytes, &mime)))?;
    let copier = single::Copier {
        source,
        destination: destination.clone(),
        options: Arc::new(options),
        progress,
    };
    let outcome = match parsed {
        AnyManifest::Image(image) => {
            copier
                .copy_single(bytes, mime, image, None, single::Placement::TopLevel)
                .await?
        }
        AnyManifest::List(list) => match copier.options.image_list_selection {
            ImageListSelection::System => {
                let chosen = list
                    .choose_instance(&copier.options.platform)
                    .with_context(|| {
                        format!(
                            "choosing an image from manifest list {}",
                            copier.options.source_name
                        )
                    })?;
                destination.note_source_list(&bytes).await?;
                copier
                    .copy_instance_as_top_level(&chosen)
                    .await
                    .context("copying system image from manifest list")?
            }
            ImageListSelection::All | ImageListSelection::IndexOnly => {
                list::copy_list(&copier, &bytes, &mime, &list).await?
            }
        },
    };
    destination
        .commit()
        .await
        .context("committing the finished image")?;
    if let Some(cache) = &copier.options.blob_info_cache {
        cache.flush();
    }
    Ok(outcome)
}

/// What containers/image says it was doing when the source's top-level manifest of type
/// `mime` does not parse: a list is parsed as one to pick an instance (`--all` or not), a
/// single image while initializing it.
fn parse_failure(options: &CopyOptions, bytes: &[u8], mime: &str) -> String {
    let source = &options.source_name;
    if !skopos_core::media_type::is_list(manifest::normalized_mime_type(mime)) {
        return format!("initializing image from source {source}");
    }
    match options.image_list_selection {
        ImageListSelection::System => format!("parsing primary manifest as list for {source}"),
        ImageListSelection::All | ImageListSelection::IndexOnly => format!(
            "parsing manifest list {}",
            skopos_core::go::text::go_quote(&String::from_utf8_lossy(bytes))
        ),
    }
}
