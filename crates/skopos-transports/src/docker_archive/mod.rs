//! `docker-archive:PATH[:NAME:TAG|:@N]`: the `docker save` tar format.
//!
//! ```text
//! <diffid-hex>.tar               uncompressed layers, named by their DiffID
//! <config-hex>.json              the image config
//! <legacy-id>/layer.tar          -> ../<diffid-hex>.tar (one directory per layer, for old
//! <legacy-id>/VERSION, json          docker versions)
//! manifest.json                  [{"Config":…,"RepoTags":[…],"Layers":[…]}, …]
//! repositories                   {"name":{"tag":"<top legacy-id>"}}
//! ```
//!
//! The API `docker-daemon:` builds on (it moves the same tar through the Docker Engine
//! API: `GET /images/get` gives one, `POST /images/load` takes one):
//!
//! - Reading a stream: [`spool_to_temp_file`]`(stream, ctx)` copies a tar (gzip, bzip2,
//!   xz or zstd-compressed ones are decompressed) into a temporary file under
//!   `ctx.tmpdir()`, deleted when the returned [`SpooledArchive`] (or the source built on
//!   it) is dropped; [`DockerArchiveSource::from_spooled`]`(spooled, &selection)` opens one
//!   image of it, where `selection` is an [`ArchiveImage`]: `Named(reference)` matched
//!   against `manifest.json`'s `RepoTags`, `Index(n)`, or `Only` (the archive's only
//!   image). Selection errors surface from `manifest()`, as in containers/image.
//! - Writing into any byte sink: [`DockerArchiveDestination::with_sink`]`(sink, repo_tags,
//!   ctx, finisher)` over an [`ArchiveSink`] (`Box<dyn AsyncWrite + Send + Unpin>`). Its
//!   `commit` writes `manifest.json`, `repositories` and the end of the tar, flushes, then
//!   passes the sink to the [`ArchiveFinisher`] (close the request body and wait for the
//!   daemon's reply, for instance). Dropping the destination without `commit` just drops
//!   the sink. The tags are exactly `repo_tags` (`--additional-tag` is for files only, as
//!   in containers/image, whose daemon source also always reads "the only image"). [`ArchiveWriter`] is the tar writer underneath, usable on its own.
//!
//! The file transport: [`DockerArchiveSource::open`] reads an uncompressed regular file
//! in place (indexed once, then positioned reads: several layers at once) and spools
//! anything else; [`DockerArchiveDestination::open`] writes a temporary file next to the
//! target and renames it into place on commit.

mod destination;
mod reader;
mod source;
mod writer;

use std::path::Path;

use anyhow::anyhow;
use skopos_core::go::text::go_quote;
use skopos_core::reference::DockerReference;
use skopos_core::{Result, SystemContext};

pub use destination::{ArchiveFinisher, DockerArchiveDestination};
pub use reader::{spool_to_temp_file, SpooledArchive};
pub use skopos_core::reference::ArchiveImage;
pub use source::DockerArchiveSource;
pub use writer::{ArchiveSink, ArchiveWriter};

/// What `skopeo list-tags docker-archive:PATH` lists: for each image of the archive each
/// of its `RepoTags` (as the first image with that tag spells it), or `@N` for an
/// untagged image. `None` (printed as `null`) when the archive has no images.
pub async fn list_tags(path: &Path, ctx: &SystemContext) -> Result<Option<Vec<String>>> {
    let archive = reader::ArchiveFile::open(path, ctx).await?;
    let manifest = &archive.manifest;
    let mut listing: Option<Vec<String>> = None;
    for (position, item) in manifest.iter().enumerate() {
        let mut tags = Vec::new();
        for tag in item.repo_tags() {
            let parsed = DockerReference::parse_normalized(tag).map_err(|err| {
                anyhow!(
                    "Invalid tag {} in manifest item @{position}: {err:#}",
                    go_quote(tag)
                )
            })?;
            if parsed.tag().is_none() {
                return Err(anyhow!(
                    "Invalid tag {tag} ({parsed}): does not contain a tag"
                ));
            }
            let selection = ArchiveImage::Named(parsed);
            let (found, tag_index) = source::choose_item(manifest, &selection)?;
            match tag_index {
                Some(index) => tags.push(found.repo_tags()[index].clone()),
                None => tags.extend(found.repo_tags().iter().cloned()),
            }
        }
        if item.repo_tags().is_empty() {
            tags.push(format!("@{position}"));
        }
        listing.get_or_insert_with(Vec::new).extend(tags);
    }
    Ok(listing)
}

#[cfg(test)]
mod tests;
