//! The copy engine: moves one image, or a list of images, from an
//! [`ImageSource`](skopos_core::ImageSource) to an
//! [`ImageDestination`](skopos_core::ImageDestination).
//!
//! It chooses which instances and which manifest format to write, streams every blob
//! from source to destination (verifying digests on the way, changing compression when
//! asked, several layers at once), writes the manifest(s) last and commits. It knows no
//! transport: both ends come in as trait objects. What it does is reported as
//! [`CopyEvent`]s; the caller decides how they look.

mod blob;
mod events;
mod gzip;
mod list;
mod options;
mod single;

pub use events::{BlobKind, CopyEvent, NoProgress, ProgressSink};
pub use options::{
    CopyOptions, ImageListSelection, ManifestSigner, SourcePolicy, DEFAULT_PARALLEL_BLOBS,
};

use std::sync::Arc;

use anyhow::Context as _;
use skopos_core::manifest::{self, AnyManifest};
use skopos_core::{Digest, ImageDestination, ImageSource, Result};

/// What a finished copy wrote.
#[derive(Debug, Clone)]
pub struct CopyOutcome {
    /// The top-level manifest as written to the destination.
    pub manifest: Vec<u8>,
    pub mime_type: String,
    /// Its digest (what `--digestfile` records).
    pub digest: Digest,
}

/// Copy the image that `source` offers to `destination`, then commit the destination.
pub async fn copy_image(
    source: Arc<dyn ImageSource>,
    destination: Arc<dyn ImageDestination>,
    options: CopyOptions,
    progress: Arc<dyn ProgressSink>,
) -> Result<CopyOutcome> {
    let (bytes, mime) = source.manifest(None).await?;
    let mime = if mime.is_empty() {
        manifest::guess_mime_type(&bytes)
    } else {
        mime
    };
    let parsed = manifest::parse(&bytes, &mime).context("parsing the source image's manifest")?;
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
                    .context("choosing an image from the manifest list")?;
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
    Ok(outcome)
}
