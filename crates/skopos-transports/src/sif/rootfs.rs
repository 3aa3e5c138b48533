//! The image's one layer: the SIF's squashfs root file system written out as a tar stream,
//! read in place from the SIF file (backhand) instead of copied out, unpacked and re-packed
//! under `fakeroot` as containers/image does. Owners, modes and times are the squashfs's own,
//! which is what `fakeroot unsquashfs` + `tar -p` record.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, Context as _};
use backhand::{FilesystemReader, InnerNode, Node, SquashfsFileReader};
use skopos_core::digest::{Algorithm, DigestingWriter, StreamSummary};
use skopos_core::Result;

use super::container::{Descriptor, FS_SQUASH};

/// Where containers/image puts the script it makes from the definition file.
pub(crate) const INJECTED_SCRIPT_PATH: &str = "/podman/runscript";

/// The layer, written to a temporary file in `--tmpdir` (its digest must be known before the
/// manifest is), removed when dropped.
pub(crate) struct LayerFile {
    pub(crate) file: tempfile::NamedTempFile,
    pub(crate) summary: StreamSummary,
}

/// A file added on top of the squashfs's files.
pub(crate) struct Injected<'a> {
    pub(crate) contents: &'a [u8],
    /// Time given to the file and to a directory made for it.
    pub(crate) mtime: u64,
}

/// What one tar entry is made from.
enum Source<'n> {
    Squashfs(&'n Node<SquashfsFileReader>),
    InjectedDir,
    InjectedFile,
}

/// Write the tar of `partition`'s squashfs, plus `injected` at [`INJECTED_SCRIPT_PATH`],
/// into a new file under `tmpdir`, hashing it on the way.
pub(crate) fn write_layer(
    sif: &File,
    partition: &Descriptor,
    injected: Option<Injected<'_>>,
    tmpdir: &Path,
) -> Result<LayerFile> {
    if partition.fs_type != FS_SQUASH {
        return Err(anyhow!(
            "the primary system partition is not a squashfs file system"
        ));
    }
    let reader = BufReader::new(sif.try_clone().context("reading the SIF file")?);
    let filesystem = FilesystemReader::from_reader_with_offset(reader, partition.offset)
        .map_err(|err| anyhow!("reading the squashfs file system: {err}"))?;

    let mut entries = BTreeMap::new();
    for node in filesystem.files() {
        entries.insert(checked_path(&node.fullpath)?, Source::Squashfs(node));
    }
    if injected.is_some() {
        let script = PathBuf::from(INJECTED_SCRIPT_PATH);
        if let Some(parent) = script.parent() {
            match entries.get(parent) {
                None => {
                    entries.insert(parent.to_path_buf(), Source::InjectedDir);
                }
                Some(Source::Squashfs(node)) if !matches!(node.inner, InnerNode::Dir(_)) => {
                    return Err(anyhow!("creating {}: not a directory", parent.display()));
                }
                Some(_) => {}
            }
        }
        entries.insert(script, Source::InjectedFile);
    }

    let spool = tempfile::Builder::new()
        .prefix("sif")
        .tempfile_in(tmpdir)
        .with_context(|| format!("creating a temporary file in {}", tmpdir.display()))?;
    let writer = DigestingWriter::new(
        io::BufWriter::with_capacity(crate::fsutil::IO_CHUNK_SIZE, spool.as_file()),
        Algorithm::Sha256,
    );
    let mut tar = tar::Builder::new(writer);
    for (path, source) in &entries {
        append(&mut tar, &filesystem, path, source, injected.as_ref())
            .with_context(|| format!("adding {} to the layer", path.display()))?;
    }
    let writer = tar.into_inner().context("writing the layer")?;
    let (summary, mut buffered) = writer.finish();
    buffered.flush().context("writing the layer")?;
    drop(buffered);
    Ok(LayerFile {
        file: spool,
        summary,
    })
}

/// The squashfs path, refused when a name would leave the root (`..`, `.`, empty names that
/// a damaged or hostile image can carry).
fn checked_path(path: &Path) -> Result<PathBuf> {
    let mut components = path.components();
    if components.next() != Some(Component::RootDir)
        || !components.all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(anyhow!(
            "squashfs entry {:?} is not a path inside the file system",
            path.display().to_string()
        ));
    }
    Ok(path.to_path_buf())
}

/// The entry's name in the tar: relative, as `tar -C rootfs ./` names them, with the root
/// itself as `.`.
fn tar_name(path: &Path) -> PathBuf {
    match path.strip_prefix("/") {
        Ok(relative) if !relative.as_os_str().is_empty() => relative.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    filesystem: &FilesystemReader<'_>,
    path: &Path,
    source: &Source<'_>,
    injected: Option<&Injected<'_>>,
) -> Result<()> {
    let name = tar_name(path);
    let mut header = tar::Header::new_gnu();
    let node = match source {
        Source::Squashfs(node) => node,
        Source::InjectedDir | Source::InjectedFile => {
            let Some(injected) = injected else {
                return Err(anyhow!(
                    "internal error: an injected entry without contents"
                ));
            };
            header.set_mtime(injected.mtime);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mode(0o755);
            if matches!(source, Source::InjectedDir) {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                tar.append_data(&mut header, &name, io::empty())?;
            } else {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(injected.contents.len() as u64);
                tar.append_data(&mut header, &name, injected.contents)?;
            }
            return Ok(());
        }
    };
    header.set_mode(u32::from(node.header.permissions) & 0o7777);
    header.set_uid(u64::from(node.header.uid));
    header.set_gid(u64::from(node.header.gid));
    header.set_mtime(u64::from(node.header.mtime));
    match &node.inner {
        InnerNode::File(file) => {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(file.file_len() as u64);
            let reader = filesystem.file(file).reader();
            tar.append_data(&mut header, &name, reader)?;
        }
        InnerNode::Dir(_) => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            tar.append_data(&mut header, &name, io::empty())?;
        }
        InnerNode::Symlink(link) => {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            tar.append_link(&mut header, &name, &link.link)?;
        }
        InnerNode::CharacterDevice(device) => {
            append_device(
                tar,
                header,
                &name,
                tar::EntryType::Char,
                device.device_number,
            )?;
        }
        InnerNode::BlockDevice(device) => {
            append_device(
                tar,
                header,
                &name,
                tar::EntryType::Block,
                device.device_number,
            )?;
        }
        InnerNode::NamedPipe => {
            header.set_entry_type(tar::EntryType::Fifo);
            header.set_size(0);
            tar.append_data(&mut header, &name, io::empty())?;
        }
        // Sockets cannot be archived: GNU tar skips them ("socket ignored"), and so does this.
        InnerNode::Socket => {}
    }
    Ok(())
}

fn append_device<W: Write>(
    tar: &mut tar::Builder<W>,
    mut header: tar::Header,
    name: &Path,
    kind: tar::EntryType,
    device_number: u32,
) -> Result<()> {
    // Linux's encoding of dev_t in 32 bits (new_encode_dev), which squashfs stores.
    let major = (device_number & 0xfff00) >> 8;
    let minor = (device_number & 0xff) | ((device_number >> 12) & 0xfff00);
    header.set_entry_type(kind);
    header.set_size(0);
    header.set_device_major(major)?;
    header.set_device_minor(minor)?;
    tar.append_data(&mut header, name, io::empty())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_root_are_refused() {
        assert!(checked_path(Path::new("/bin/sh")).is_ok());
        assert!(checked_path(Path::new("/")).is_ok());
        for bad in ["/../etc/passwd", "/bin/../../x", "relative"] {
            let err = checked_path(Path::new(bad)).unwrap_err().to_string();
            assert!(
                err.contains("is not a path inside the file system"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn tar_names_are_relative_with_the_root_as_dot() {
        assert_eq!(tar_name(Path::new("/")), PathBuf::from("."));
        assert_eq!(tar_name(Path::new("/bin/sh")), PathBuf::from("bin/sh"));
    }
}
