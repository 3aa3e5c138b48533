//! `skopos copy` (placeholder: the lead writes the real command on the copy engine).

use crate::cli::{CopyArgs, GlobalArgs};

/// Run `copy` (not wired to the copy engine in this branch).
pub async fn run(_: &GlobalArgs, args: &CopyArgs) -> anyhow::Result<()> {
    // skopeo checks each side's credential flags before anything else.
    args.src.docker_auth()?;
    args.dest.docker_auth()?;
    anyhow::bail!(
        "copy is not wired yet (asked to copy {} to {})",
        args.source(),
        args.destination()
    )
}
