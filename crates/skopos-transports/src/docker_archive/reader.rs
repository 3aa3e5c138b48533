//! Reading a `docker save` tar: an uncompressed tar file indexed once (entry name ->
//! offset and size), whose components are then read in place with positioned reads, so
//! that several layers can stream at once. Compressed archives and streams are first
//! spooled, decompressed, into a temporary file ([`spool_to_temp_file`]).
//!
//! Entry names are compared after Go's `path.Clean`, as containers/image does; nothing is
//! ever extracted, and names that would point outside the archive (absolute, or leading
//! `..`) are refused rather than looked up.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Seek};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _};
use serde::Deserialize;
use skopos_core::compression::Compression;
use skopos_core::go::text::{go_path_clean, go_quote};
use skopos_core::tar_headers::{tar_read_failure, TarHeaderGuard, TarReadFailure};
use skopos_core::{BlobReader, Result, SystemContext};
use tokio::io::AsyncReadExt;

use crate::fsutil::{self, go_error_text, FileRange, SpoolError};

/// The archive's table of contents.
pub(crate) const MANIFEST_FILE: &str = "manifest.json";

/// Buffer in front of a decompressor.
const DECODER_BUFFER: usize = 256 * 1024;

/// containers/image's limits on what it reads into memory.
const MAX_MANIFEST_SIZE: u64 = skopos_core::limits::MAX_TAR_MANIFEST;
pub(crate) const MAX_CONFIG_SIZE: u64 = skopos_core::limits::MAX_CONFIG_BODY;

/// One element of `manifest.json`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ManifestItem {
    #[serde(rename = "Config", default)]
    pub config: String,
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    pub layers: Option<Vec<String>>,
}

impl ManifestItem {
    pub(crate) fn repo_tags(&self) -> &[String] {
        self.repo_tags.as_deref().unwrap_or_default()
    }

    pub(crate) fn layers(&self) -> &[String] {
        self.layers.as_deref().unwrap_or_default()
    }
}

/// A decompressed archive in a temporary file (under the `--tmpdir` directory), removed
/// when this is dropped. What [`spool_to_temp_file`] returns; a source is built on it
/// with [`super::DockerArchiveSource::from_spooled`].
#[derive(Debug)]
pub struct SpooledArchive {
    file: File,
    path: tempfile::TempPath,
}

impl SpooledArchive {
    /// Where the temporary copy is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Copy `stream` (a tar, possibly gzip/bzip2/xz/zstd-compressed) into a temporary file
/// under `ctx.tmpdir()`, decompressing it on the way, as containers/image does for
/// archives that cannot be read in place (pipes, compressed files, daemon replies).
pub async fn spool_to_temp_file(stream: BlobReader, ctx: &SystemContext) -> Result<SpooledArchive> {
    let dir = ctx.tmpdir();
    let temp = tempfile::Builder::new()
        .prefix("docker-tar")
        .tempfile_in(&dir)
        .map_err(|err| {
            anyhow!(
                "creating temporary file: open {}/docker-tar: {}",
                dir.display(),
                go_error_text(&err)
            )
        })?;
    let (compression, rejoined) = Compression::detect_in(stream)
        .await
        .map_err(|err| anyhow!("auto-decompressing input: {}", go_error_text(&err)))?;
    let input: BlobReader = match compression {
        Some(compression) => compression.decompressing(rejoined, DECODER_BUFFER),
        None => Box::pin(rejoined),
    };
    let quoted_path = go_quote(&temp.path().to_string_lossy());
    let spooled = fsutil::spool(input, temp, false).await.map_err(|err| {
        let reason = match err {
            SpoolError::Read(error) | SpoolError::Write { error, .. } => go_error_text(&error),
            SpoolError::Thread(error) => format!("{error:#}"),
        };
        anyhow!("copying contents to temporary file {quoted_path}: {reason}")
    })?;
    let (file, path) = spooled.temp.into_parts();
    Ok(SpooledArchive { file, path })
}

/// What a tar entry is.
#[derive(Debug, Clone)]
enum EntryKind {
    Regular,
    Symlink(String),
    Other,
}

/// Where one entry's data is in the archive file.
#[derive(Debug, Clone)]
struct Entry {
    /// The name as stored (for messages).
    name: String,
    kind: EntryKind,
    offset: u64,
    size: u64,
}

/// A regular file inside the archive, found by [`ArchiveFile::lookup`].
#[derive(Debug, Clone)]
pub(crate) struct Component {
    pub offset: u64,
    pub size: u64,
}

/// An indexed, uncompressed `docker save` tar with its parsed `manifest.json`. Cheap to
/// share between concurrent readers: every read is positioned.
#[derive(Debug)]
pub(crate) struct ArchiveFile {
    file: Arc<File>,
    /// Entries by cleaned name; the first of several with one name wins, as in
    /// containers/image's linear search.
    entries: HashMap<String, Entry>,
    pub manifest: Vec<ManifestItem>,
    /// The temporary copy, removed with the archive.
    _spooled: Option<tempfile::TempPath>,
}

impl ArchiveFile {
    /// Open the archive at `path`: read in place when it is an uncompressed regular file,
    /// otherwise spooled (and decompressed) into a temporary file first.
    pub(crate) async fn open(path: &Path, ctx: &SystemContext) -> Result<ArchiveFile> {
        let opening_error = |err: &io::Error| {
            anyhow!(
                "opening file {}: open {}: {}",
                go_quote(&path.to_string_lossy()),
                path.display(),
                go_error_text(err)
            )
        };
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|err| opening_error(&err))?;
        let metadata = file.metadata().await.map_err(|err| opening_error(&err))?;
        if metadata.is_file() {
            let std_file = file.into_std().await;
            let mut prefix = [0u8; Compression::DETECT_LEN];
            let read = read_prefix(&std_file, &mut prefix).map_err(|err| {
                anyhow!(
                    "detecting compression for file {}: {}",
                    go_quote(&path.to_string_lossy()),
                    go_error_text(&err)
                )
            })?;
            if Compression::detect(&prefix[..read]).is_none() {
                return Self::index(std_file, None).await;
            }
            let stream = tokio::fs::File::from_std(std_file);
            let spooled = spool_to_temp_file(Box::pin(stream), ctx).await?;
            return Self::from_spooled(spooled).await;
        }
        // Pipes, FIFOs, /dev/stdin: read once, into a file that can be read at random.
        let spooled = spool_to_temp_file(Box::pin(file), ctx).await?;
        Self::from_spooled(spooled).await
    }

    /// Index a spooled archive; the temporary file lives as long as the result.
    pub(crate) async fn from_spooled(spooled: SpooledArchive) -> Result<ArchiveFile> {
        Self::index(spooled.file, Some(spooled.path)).await
    }

    async fn index(file: File, spooled: Option<tempfile::TempPath>) -> Result<ArchiveFile> {
        let file = Arc::new(file);
        let indexed = file.clone();
        let entries = crate::fsutil::blocking(move || index_entries(&indexed)).await?;
        let mut archive = ArchiveFile {
            file,
            entries,
            manifest: Vec::new(),
            _spooled: spooled,
        };
        let bytes = archive
            .read_component(MANIFEST_FILE, MAX_MANIFEST_SIZE)
            .await?;
        // Go decodes `null` as an empty list.
        let manifest: Option<Vec<ManifestItem>> = serde_json::from_slice(&bytes)
            .map_err(|err| anyhow!("decoding tar manifest.json: {err}"))?;
        archive.manifest = manifest.unwrap_or_default();
        Ok(archive)
    }

    /// The regular file `name` stands for, following one symlink as containers/image
    /// does (`docker save` links repeated layers); `None` when there is no such entry.
    pub(crate) fn lookup(&self, name: &str) -> Result<Option<Component>> {
        let cleaned = inside_archive(name)?;
        let Some(entry) = self.entries.get(&cleaned) else {
            return Ok(None);
        };
        let entry = match &entry.kind {
            EntryKind::Symlink(target) => {
                let parent = match cleaned.rfind('/') {
                    Some(slash) => &cleaned[..slash],
                    None => "",
                };
                if target.starts_with('/') {
                    bail!(
                        "symbolic link {} points outside the archive (to {target})",
                        entry.name
                    );
                }
                let joined = if parent.is_empty() {
                    target.clone()
                } else {
                    format!("{parent}/{target}")
                };
                let resolved = inside_archive(&joined).map_err(|_| {
                    anyhow!(
                        "symbolic link {} points outside the archive (to {target})",
                        entry.name
                    )
                })?;
                match self.entries.get(&resolved) {
                    Some(target) => target,
                    None => return Ok(None),
                }
            }
            _ => entry,
        };
        match entry.kind {
            EntryKind::Regular => Ok(Some(Component {
                offset: entry.offset,
                size: entry.size,
            })),
            _ => bail!(
                "Error reading tar archive component {}: not a regular file",
                go_quote(&entry.name)
            ),
        }
    }

    /// The whole of component `name` (at most `limit` bytes).
    pub(crate) async fn read_component(&self, name: &str, limit: u64) -> Result<Vec<u8>> {
        let context = || format!("loading tar component {}", go_quote(name));
        let component = self
            .lookup(name)
            .and_then(|found| found.ok_or_else(|| anyhow!("file does not exist")))
            .with_context(context)?;
        if component.size > limit {
            bail!("exceeded maximum allowed size of {limit} bytes");
        }
        let file = self.file.clone();
        let bytes = crate::fsutil::blocking(move || {
            let mut bytes = vec![0; usize::try_from(component.size)?];
            file.read_exact_at(&mut bytes, component.offset)
                .map_err(|err| anyhow!("{}", go_error_text(&err)))?;
            Ok(bytes)
        })
        .await
        .with_context(context)?;
        Ok(bytes)
    }

    /// Stream a component's raw bytes.
    pub(crate) fn stream(&self, component: &Component) -> BlobReader {
        let range = FileRange::new(Arc::clone(&self.file), component.offset, component.size);
        Box::pin(range)
    }

    /// The compression of a component, from its first bytes.
    pub(crate) async fn compression_of(
        &self,
        component: &Component,
    ) -> Result<Option<Compression>> {
        let file = self.file.clone();
        let range = component.clone();
        crate::fsutil::blocking(move || {
            let length = range.size.min(Compression::DETECT_LEN as u64) as usize;
            let mut prefix = vec![0; length];
            file.read_exact_at(&mut prefix, range.offset)
                .map_err(|err| anyhow!("{}", go_error_text(&err)))?;
            Ok(Compression::detect(&prefix))
        })
        .await
    }

    /// A component's content, decompressed if it is compressed.
    pub(crate) async fn uncompressed_stream(&self, component: &Component) -> Result<BlobReader> {
        let raw = self.stream(component);
        Ok(match self.compression_of(component).await? {
            Some(compression) => compression.decompressing(raw, DECODER_BUFFER),
            None => raw,
        })
    }

    /// The size of a component once decompressed (its own size when not compressed).
    pub(crate) async fn uncompressed_size(&self, component: &Component) -> Result<u64> {
        if self.compression_of(component).await?.is_none() {
            return Ok(component.size);
        }
        let mut stream = self.uncompressed_stream(component).await?;
        let mut sink = tokio::io::sink();
        Ok(tokio::io::copy(&mut stream, &mut sink).await?)
    }
}

fn read_prefix(file: &File, prefix: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < prefix.len() {
        match file.read_at(&mut prefix[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

/// Every entry of the tar: name, kind, data offset and size. Data is skipped by seeking.
fn index_entries(mut file: &File) -> Result<HashMap<String, Entry>> {
    // A spooled file's offset is at its end, where its writer left it.
    file.seek(io::SeekFrom::Start(0))
        .map_err(|err| index_error(&err))?;
    let file_size = file.metadata().map_err(|err| index_error(&err))?.len();
    let mut archive = tar::Archive::new(TarHeaderGuard::new(file));
    let mut entries = HashMap::new();
    for entry in archive
        .entries_with_seek()
        .map_err(|err| index_error(&err))?
    {
        let entry = entry.map_err(|err| index_error(&err))?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::Regular,
            tar::EntryType::Symlink => EntryKind::Symlink(
                entry
                    .link_name_bytes()
                    .map(|target| String::from_utf8_lossy(&target).into_owned())
                    .unwrap_or_default(),
            ),
            _ => EntryKind::Other,
        };
        let size = entry.size();
        let offset = entry.raw_file_position();
        let end = offset.checked_add(size);
        if end.is_none_or(|end| end > file_size) {
            return Err(index_error(&io::ErrorKind::UnexpectedEof.into()));
        }
        entries.entry(go_path_clean(&name)).or_insert(Entry {
            name,
            kind,
            offset,
            size,
        });
    }
    Ok(entries)
}

/// An error met while indexing. containers/image meets a broken archive while it looks
/// for `manifest.json` (which `docker save` writes last), and says so.
fn index_error(err: &io::Error) -> anyhow::Error {
    let reason = match tar_read_failure(err) {
        TarReadFailure::Truncated => "unexpected EOF".to_string(),
        TarReadFailure::Other(why) => why,
    };
    anyhow!(
        "loading tar component {}: {reason}",
        go_quote(MANIFEST_FILE)
    )
}

/// `name` cleaned, or an error when it does not name something inside the archive.
fn inside_archive(name: &str) -> Result<String> {
    let cleaned = go_path_clean(name);
    if cleaned.starts_with('/') || cleaned == ".." || cleaned.starts_with("../") {
        bail!(
            "invalid path {}: it points outside the archive",
            go_quote(name)
        );
    }
    Ok(cleaned)
}

/// Send the bytes of `range` to `sender` in chunks, until the end, an error, or the
/// reader going away.
/// Read a whole stream into memory, up to `limit` bytes.
pub(crate) async fn read_at_most(stream: &mut BlobReader, limit: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    stream.take(limit + 1).read_to_end(&mut bytes).await?;
    if bytes.len() as u64 > limit {
        bail!("exceeded maximum allowed size of {limit} bytes");
    }
    Ok(bytes)
}

/// Where a path's temporary sibling goes: its directory (`.` for a bare name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_outside_the_archive_are_refused() {
        assert!(inside_archive("../etc/passwd").is_err());
        assert!(inside_archive("/etc/passwd").is_err());
        assert!(inside_archive("a/../../b").is_err());
        assert_eq!(inside_archive("a/./b.tar").unwrap(), "a/b.tar");
    }
}
