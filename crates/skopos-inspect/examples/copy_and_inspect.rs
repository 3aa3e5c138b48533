//! Copy an image and inspect the copy with the skopos libraries alone, no `skopos` process:
//! what `skopos copy SOURCE DESTINATION` then `skopos inspect --no-tags DESTINATION` do.
//!
//! ```text
//! cargo run -p skopos-inspect --example copy_and_inspect -- oci:/path/to/layout:tag dir:/tmp/copy
//! ```
//!
//! Prints the `inspect` JSON of the copy, as skopeo prints it.

use std::sync::Arc;

use anyhow::{bail, Context as _};
use skopos_copy::{copy_image, CopyOptions, NoProgress};
use skopos_core::digest::Algorithm;
use skopos_core::platform::Platform;
use skopos_core::retry::RetryOptions;
use skopos_core::verified::VerifiedSource;
use skopos_core::{ImageName, SystemContext};
use skopos_inspect::{InspectOutput, Inspector};

/// Copy `source` to `destination` (image names as skopeo writes them), then inspect what
/// was written.
pub async fn copy_and_inspect(source: &str, destination: &str) -> anyhow::Result<InspectOutput> {
    let ctx = SystemContext::default();
    let source_name = ImageName::parse(source)?;
    let destination_name = ImageName::parse(destination)?;
    let from = skopos_transports::open_source(&source_name, &ctx)
        .await
        .with_context(|| format!("initializing source {source_name}"))?;
    let to = skopos_transports::open_destination(&destination_name, &ctx)
        .await
        .with_context(|| format!("initializing destination {destination_name}"))?;
    copy_image(
        Arc::from(from),
        Arc::from(to),
        CopyOptions::default(),
        Arc::new(NoProgress),
    )
    .await?;

    let copy = skopos_transports::open_source(&destination_name, &ctx).await?;
    let copy = VerifiedSource::wrap(copy.into());
    let no_retry = RetryOptions {
        max_retries: 0,
        delay: None,
    };
    let inspector = Inspector::new(copy.as_ref(), no_retry);
    let (top, mime) = inspector.top_manifest().await?;
    let chosen = inspector
        .choose(&top, &mime, &Platform::wanted(None, None, None))
        .await?;
    inspector
        .output(&destination_name, &top, &chosen, Algorithm::Sha256, false)
        .await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [source, destination] = arguments.as_slice() else {
        bail!("usage: copy_and_inspect SOURCE-IMAGE DESTINATION-IMAGE");
    };
    let output = copy_and_inspect(source, destination).await?;
    let mut json = skopos_core::go::json::to_vec_indent(&output, "    ")?;
    json.push(b'\n');
    print!("{}", String::from_utf8_lossy(&json));
    Ok(())
}
