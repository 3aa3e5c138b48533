//! Reading an image from the daemon: `GET /images/get` gives a `docker save` tar, which has
//! its manifest at the end, so it is spooled to a temporary file and read from there.

use anyhow::Context as _;
use skopos_core::reference::{ArchiveImage, DaemonImage};
use skopos_core::{Result, SystemContext};

use super::client::DaemonClient;
use crate::docker_archive::{spool_to_temp_file, DockerArchiveSource};

/// Fetch `image` from the daemon `ctx` names and open it.
pub(crate) async fn open_source(
    image: &DaemonImage,
    ctx: &SystemContext,
) -> Result<DockerArchiveSource> {
    let client = DaemonClient::new(ctx)?;
    // What containers/image asks for: the image ID, or the reference in its familiar form
    // (`busybox:latest`, `example.com/a@sha256:…`).
    let name = match image {
        DaemonImage::Id(id) => id.to_string(),
        DaemonImage::Named(reference) => reference.familiar_string(),
    };
    let stream = client
        .image_save(&name)
        .await
        .context("loading image from docker engine")?;
    let spooled = spool_to_temp_file(stream, ctx).await?;
    // The daemon sends exactly the one image asked for.
    DockerArchiveSource::from_spooled(spooled, &ArchiveImage::Only).await
}
