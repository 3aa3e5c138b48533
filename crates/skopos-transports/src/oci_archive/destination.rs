//! Writing an image into an OCI archive.
//!
//! The image is written as an OCI layout into a fresh temporary directory (under the
//! temporary directory for big files, as skopeo does) by the `oci:` transport's
//! destination; `commit` then tars that layout into a temporary file beside the target
//! and renames it over the target only once it is complete. The archive holds this one
//! image: an existing archive is replaced, as skopeo replaces it. A failed or abandoned
//! copy leaves the target as it was.
//!
//! The tar is laid out as skopeo's: entries in file-system walk order (names sorted,
//! parents first, no `./` entry), directories named with a trailing `/`, modes with the
//! file-type bits, the files' modification times, ustar headers, uncompressed. Owners
//! are uid/gid 0 with no user or group names, as newer containers/image writes them
//! (skopeo 1.9.3 recorded the local account).

use std::fs::{self, File, Permissions};
use std::io::{self, BufWriter, Write as _};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use async_trait::async_trait;
use skopos_core::go::text::go_quote;
use skopos_core::reference::{resolve_path_to_fully_explicit, OciImage};
use skopos_core::{
    BlobInfo, BlobReader, Digest, ImageDestination, LayerCompression, Result, SystemContext,
    WrittenBlob,
};

use crate::fsutil::{self, go_error_text, path_error, IO_CHUNK_SIZE};
use crate::oci::OciDestination;

/// Mode a new archive gets before the umask, as Go's `os.Create`.
const NEW_ARCHIVE_MODE: u32 = 0o666;

/// An image being written into an OCI archive.
#[derive(Debug)]
pub struct OciArchiveDestination {
    /// Declared before `layout_dir` so that it is dropped first: its staged files live
    /// in that directory.
    layout: OciDestination,
    /// The temporary OCI layout; removed when the destination is dropped.
    layout_dir: tempfile::TempDir,
    /// The archive to write.
    target: PathBuf,
    /// `target` made absolute, for messages.
    resolved_target: PathBuf,
    /// The `:REF` part, `""` when none, for messages.
    image_name: String,
    /// Where blobs partly downloaded by a killed copy wait for the next run: not in the
    /// temporary layout, which goes with the copy.
    partial_blob_dir: PathBuf,
}

impl OciArchiveDestination {
    /// Prepare to write `image` into the archive at `path`: create the temporary layout.
    pub fn open(path: &Path, image: &OciImage, ctx: &SystemContext) -> Result<Self> {
        let resolved_target = resolve_path_to_fully_explicit(&path.to_string_lossy())?;
        let tmpdir = ctx.tmpdir();
        let creating =
            |err: anyhow::Error| anyhow!("creating oci reference: creating temp directory: {err}");
        fs::metadata(&tmpdir).map_err(|err| creating(path_error("stat", &tmpdir, &err)))?;
        let layout_dir = tempfile::Builder::new()
            .prefix("oci")
            .tempdir_in(&tmpdir)
            .map_err(|err| creating(path_error("mkdir in", &tmpdir, &err)))?;
        // The layout is private to this archive: a shared blob directory would leave the
        // blobs out of it.
        let layout_ctx = SystemContext {
            oci_shared_blob_dir: None,
            ..ctx.clone()
        };
        let layout = OciDestination::open_temporary(layout_dir.path(), image, &layout_ctx)?;
        let image_name = match image {
            OciImage::Named(name) => name.clone(),
            OciImage::Only | OciImage::Index(_) => String::new(),
        };
        Ok(OciArchiveDestination {
            layout,
            layout_dir,
            target: path.to_path_buf(),
            resolved_target,
            image_name,
            partial_blob_dir: fsutil::partial_blob_dir(&tmpdir),
        })
    }
}

#[async_trait]
impl ImageDestination for OciArchiveDestination {
    fn partial_blob_dir(&self) -> Option<PathBuf> {
        Some(self.partial_blob_dir.clone())
    }

    fn supported_manifest_types(&self) -> Option<Vec<&'static str>> {
        self.layout.supported_manifest_types()
    }

    fn desired_layer_compression(&self) -> LayerCompression {
        self.layout.desired_layer_compression()
    }

    fn supports_signatures(&self) -> std::result::Result<(), String> {
        self.layout.supports_signatures()
    }

    async fn try_reuse_blob(&self, info: &BlobInfo) -> Result<Option<WrittenBlob>> {
        self.layout.try_reuse_blob(info).await
    }

    async fn put_blob(
        &self,
        stream: BlobReader,
        expected: Option<&BlobInfo>,
        is_config: bool,
    ) -> Result<WrittenBlob> {
        self.layout.put_blob(stream, expected, is_config).await
    }

    async fn put_manifest(
        &self,
        manifest: &[u8],
        mime_type: &str,
        instance: Option<&Digest>,
    ) -> Result<()> {
        self.layout
            .put_manifest(manifest, mime_type, instance)
            .await
    }

    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        instance: Option<&Digest>,
    ) -> Result<()> {
        self.layout.put_signatures(signatures, instance).await
    }

    async fn commit(&self) -> Result<()> {
        self.layout
            .commit()
            .await
            .with_context(|| format!("storing image {}", go_quote(&self.image_name)))?;
        let layout = self.layout_dir.path().to_path_buf();
        let target = self.target.clone();
        let resolved = self.resolved_target.clone();
        fsutil::blocking(move || write_archive(&layout, &target, &resolved)).await
    }
}

/// Tar the layout at `layout` into a temporary file beside `target`, then rename it over
/// `target`. Errors read `creating tar file "RESOLVED": why`, as skopeo's. Blocks.
fn write_archive(layout: &Path, target: &Path, resolved: &Path) -> Result<()> {
    let fail = |why: String| {
        anyhow!(
            "creating tar file {}: {why}",
            go_quote(&resolved.to_string_lossy())
        )
    };
    // An existing archive keeps its mode, as rewriting it in place would.
    let existing_mode = match fs::metadata(target) {
        Ok(meta) if meta.is_dir() => {
            return Err(fail(format!("open {}: is a directory", resolved.display())))
        }
        Ok(meta) => Some(meta.permissions().mode() & 0o7777),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) => return Err(fail(path_error("stat", resolved, &err).to_string())),
    };
    let dir = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".oci-archive-")
        .permissions(Permissions::from_mode(NEW_ARCHIVE_MODE))
        .tempfile_in(dir)
        .map_err(|err| fail(path_error("create a temporary file in", dir, &err).to_string()))?;
    if let Some(mode) = existing_mode {
        temp.as_file()
            .set_permissions(Permissions::from_mode(mode))
            .map_err(|err| fail(path_error("chmod", temp.path(), &err).to_string()))?;
    }
    let write_failed = |err: io::Error| {
        fail(format!(
            "write {}: {}",
            temp.path().display(),
            go_error_text(&err)
        ))
    };
    let mut builder = tar::Builder::new(BufWriter::with_capacity(IO_CHUNK_SIZE, temp.as_file()));
    append_tree(&mut builder, layout, "").map_err(|err| fail(format!("{err:#}")))?;
    let mut writer = builder.into_inner().map_err(write_failed)?;
    writer.flush().map_err(write_failed)?;
    drop(writer);
    temp.as_file().sync_all().map_err(write_failed)?;
    temp.persist(target)
        .map_err(|err| fail(path_error("rename to", resolved, &err.error).to_string()))?;
    Ok(())
}

/// Append the entries under `root/relative` in walk order.
fn append_tree<W: io::Write>(
    builder: &mut tar::Builder<W>,
    root: &Path,
    relative: &str,
) -> Result<()> {
    let dir = root.join(relative);
    let mut names: Vec<_> = fs::read_dir(&dir)
        .map_err(|err| path_error("open", &dir, &err))?
        .map(|item| item.map(|item| item.file_name()))
        .collect::<io::Result<_>>()
        .map_err(|err| path_error("read", &dir, &err))?;
    names.sort();
    for name in names {
        let name = name
            .to_str()
            .ok_or_else(|| anyhow!("{} holds a file with a non-UTF-8 name", dir.display()))?;
        let entry_name = if relative.is_empty() {
            name.to_string()
        } else {
            format!("{relative}/{name}")
        };
        let path = root.join(&entry_name);
        let meta = fs::symlink_metadata(&path).map_err(|err| path_error("lstat", &path, &err))?;
        let mut header = tar::Header::new_ustar();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
        header
            .set_device_major(0)
            .and_then(|()| header.set_device_minor(0))
            .map_err(|err| anyhow!("tar header for {entry_name}: {err}"))?;
        // Permission bits only, no file-type bits and no user or group names, as
        // containers/image writes headers since 5.30 (skopeo 1.15; 1.9.3 set both).
        let permissions = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(permissions);
            header.set_size(0);
            set_entry_name(&mut header, &format!("{entry_name}/"))?;
            set_go_checksum(&mut header);
            builder
                .append(&header, io::empty())
                .map_err(|err| anyhow!("write {entry_name}: {}", go_error_text(&err)))?;
            append_tree(builder, root, &entry_name)?;
        } else if meta.is_file() {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(permissions);
            header.set_size(meta.len());
            set_entry_name(&mut header, &entry_name)?;
            set_go_checksum(&mut header);
            let file = File::open(&path).map_err(|err| path_error("open", &path, &err))?;
            builder
                .append(&header, file)
                .map_err(|err| anyhow!("write {entry_name}: {}", go_error_text(&err)))?;
        } else {
            return Err(anyhow!(
                "{} is neither a file nor a directory",
                path.display()
            ));
        }
    }
    Ok(())
}

/// Fill the checksum field as Go's archive/tar does: six octal digits, NUL, space (the tar
/// crate writes seven digits and a NUL; readers accept both, but the bytes differ).
fn set_go_checksum(header: &mut tar::Header) {
    let bytes = header.as_mut_bytes();
    bytes[148..156].fill(b' ');
    let sum: u32 = bytes.iter().map(|&byte| u32::from(byte)).sum();
    let field = format!("{:06o}\0 ", sum & 0o777_777);
    bytes[148..156].copy_from_slice(field.as_bytes());
}

/// Put `name` in the header as Go does: in the name field when it fits (keeping a
/// directory's trailing `/`), else split into the ustar prefix and name.
fn set_entry_name(header: &mut tar::Header, name: &str) -> Result<()> {
    let bytes = name.as_bytes();
    match header.as_ustar_mut() {
        Some(ustar) if bytes.len() <= ustar.name.len() => {
            ustar.name[..bytes.len()].copy_from_slice(bytes);
            Ok(())
        }
        _ => header
            .set_path(name)
            .map_err(|err| anyhow!("tar header for {name}: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_lists_the_layout_in_walk_order_with_root_owners() {
        let work = tempfile::tempdir().unwrap();
        let layout = work.path().join("layout");
        fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
        fs::write(layout.join("oci-layout"), b"{}").unwrap();
        fs::write(layout.join("index.json"), b"[]").unwrap();
        fs::write(layout.join("blobs/sha256/ab"), b"blob").unwrap();
        let target = work.path().join("out.tar");
        fs::write(&target, b"old").unwrap();
        fs::set_permissions(&target, Permissions::from_mode(0o600)).unwrap();
        write_archive(&layout, &target, &target).unwrap();

        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the existing archive's mode is kept");
        let mut archive = tar::Archive::new(File::open(&target).unwrap());
        let listed: Vec<(String, u32, String, u64, u64)> = archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                (
                    String::from_utf8(header.path_bytes().into_owned()).unwrap(),
                    header.mode().unwrap() & !0o777,
                    String::from_utf8_lossy(header.username_bytes().unwrap_or_default())
                        .into_owned(),
                    header.uid().unwrap(),
                    header.gid().unwrap(),
                )
            })
            .collect();
        // No file-type bits in the mode and no owner names, as skopeo 1.22.2 writes them.
        let expected = [
            "blobs/",
            "blobs/sha256/",
            "blobs/sha256/ab",
            "index.json",
            "oci-layout",
        ];
        let expected: Vec<(String, u32, String, u64, u64)> = expected
            .iter()
            .map(|name| (name.to_string(), 0, String::new(), 0, 0))
            .collect();
        assert_eq!(listed, expected);
        // Nothing but the archive is left beside it.
        let names: Vec<_> = fs::read_dir(work.path())
            .unwrap()
            .map(|item| item.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn a_directory_target_fails_and_stays() {
        let work = tempfile::tempdir().unwrap();
        let layout = work.path().join("layout");
        fs::create_dir_all(&layout).unwrap();
        let target = work.path().join("dir");
        fs::create_dir_all(&target).unwrap();
        let err = write_archive(&layout, &target, &target).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "creating tar file \"{0}\": open {0}: is a directory",
                target.display()
            )
        );
        assert!(target.is_dir());
    }
}
