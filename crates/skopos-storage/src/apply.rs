//! Applying a layer tar to a directory as containers/storage does (`pkg/archive`
//! `UnpackLayer`), while recording the tar-split metadata that rebuilds the same tar later
//! and hashing the stream (the DiffID).
//!
//! Whiteouts (`.wh.NAME`, `.wh..wh..opq`) become what the driver needs: the vfs driver's
//! layers are full copies, so the named files are deleted; overlay's layers are separate
//! directories stacked by the kernel, so a whiteout becomes a 0/0 character device and an
//! opaque directory gets the `trusted.overlay.opaque=y` xattr. Ownership, modes, times and
//! xattrs are applied as c/storage applies them; names that leave the layer, and links
//! that point out of it, are refused.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashSet};
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::Context;
use rustix::fs::{AtFlags, FileType, Mode, Timespec, Timestamps, CWD};
use skopos_core::digest::{Algorithm, Hasher};
use skopos_core::tar_headers::{is_invalid_tar_header, TarHeaderGuard, INVALID_TAR_HEADER};
use skopos_core::{Digest, Result};

use crate::paths::{clean_relative, resolve_in_root, resolve_parent_in_root};
use crate::tarsplit::{TarSplitWriter, CRC64_ISO};

/// The prefix of whiteout names.
const WHITEOUT_PREFIX: &str = ".wh.";
/// The name that makes its directory opaque.
const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";
/// The prefix of whiteout-metadata names (such as `.wh..wh.plnk`), which are ignored.
const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
/// The xattr overlayfs reads to hide a lower directory's contents (as root).
const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// The same for an overlay mounted in a user namespace, which cannot set `trusted.*` xattrs
/// (c/storage's `GetOverlayXattrName` for a rootless store).
const ROOTLESS_OVERLAY_OPAQUE_XATTR: &str = "user.overlay.opaque";

/// How whiteouts are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whiteouts {
    /// Delete what they name (the layer directory holds the whole file system: vfs).
    Delete,
    /// Keep them in overlayfs's form (the layer directory holds only this layer's changes).
    Overlay,
    /// Extract them as the ordinary files they are in the tar (containers/storage's plain
    /// `Untar`, which the ostree transport used: the layer's tree is stored as it is).
    Keep,
}

/// What applying a layer found out.
#[derive(Debug, Clone)]
pub struct AppliedLayer {
    /// The sha256 of the whole tar stream: the layer's DiffID.
    pub diff_digest: Digest,
    /// The length of the tar stream.
    pub diff_size: u64,
    /// The UIDs of the entries, sorted.
    pub uids: Vec<u32>,
    /// The GIDs of the entries, sorted.
    pub gids: Vec<u32>,
}

/// The bytes read so far that tar-split keeps as a raw segment, and the stream's hash.
struct Recording {
    segment: Vec<u8>,
    recording: bool,
    hasher: Hasher,
    size: u64,
}

/// Reads the tar, hashing every byte and keeping those outside file contents.
struct RecordingReader<R> {
    inner: R,
    state: Rc<RefCell<Recording>>,
}

impl<R: Read> Read for RecordingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        let mut state = self.state.borrow_mut();
        state.hasher.update(&buf[..read]);
        state.size += read as u64;
        if state.recording {
            state.segment.extend_from_slice(&buf[..read]);
        }
        Ok(read)
    }
}

/// Apply the tar `layer` into `root` (which exists), writing the tar-split lines to
/// `tar_split`.
pub fn apply_layer<R: Read, W: Write>(
    layer: R,
    root: &Path,
    whiteouts: Whiteouts,
    tar_split: &mut TarSplitWriter<W>,
) -> Result<AppliedLayer> {
    let state = Rc::new(RefCell::new(Recording {
        segment: Vec::new(),
        recording: true,
        hasher: Algorithm::Sha256.hasher(),
        size: 0,
    }));
    let reader = RecordingReader {
        // Guarded below the recording, which would otherwise keep an oversized long name
        // in its segment as the `tar` crate reads it.
        inner: TarHeaderGuard::new(layer),
        state: state.clone(),
    };
    let mut archive = tar::Archive::new(reader);
    let mut applier = Applier {
        root,
        whiteouts,
        is_root: rustix::process::geteuid().is_root(),
        in_user_namespace: crate::userns::in_user_namespace(),
        opaque_xattr: if crate::userns::rootless() {
            ROOTLESS_OVERLAY_OPAQUE_XATTR
        } else {
            OVERLAY_OPAQUE_XATTR
        },
        unpacked: HashSet::new(),
        directories: Vec::new(),
        uids: BTreeSet::new(),
        gids: BTreeSet::new(),
    };
    let entries = archive.entries().map_err(layer_tar_error)?;
    for entry in entries {
        let mut entry = entry.map_err(layer_tar_error)?;
        let segment = std::mem::take(&mut state.borrow_mut().segment);
        tar_split.segment(&segment)?;
        applier.apply_entry(&mut entry, &state, tar_split)?;
    }
    // The end-of-archive blocks and anything after them belong to the stream too: read it
    // to its end, a bounded piece at a time.
    let mut reader = archive.into_inner();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = reader.read(&mut buffer).context("reading the layer tar")?;
        let segment_full = state.borrow().segment.len() >= 1024 * 1024;
        if read == 0 || segment_full {
            let segment = std::mem::take(&mut state.borrow_mut().segment);
            tar_split.segment(&segment)?;
        }
        if read == 0 {
            break;
        }
    }
    drop(reader); // It holds the other reference to `state`.
    let state = Rc::try_unwrap(state)
        .map_err(|_| anyhow::anyhow!("internal error: the layer reader is still shared"))?
        .into_inner();
    applier.finish_directories()?;
    Ok(AppliedLayer {
        diff_digest: state.hasher.finish(),
        diff_size: state.size,
        uids: applier.uids.into_iter().collect(),
        gids: applier.gids.into_iter().collect(),
    })
}

/// A layer's tar could not be read: a header that is none in Go's words (the `tar` crate's
/// would quote the layer's bytes), anything else as it came.
fn layer_tar_error(err: io::Error) -> anyhow::Error {
    if is_invalid_tar_header(&err) {
        anyhow::anyhow!("reading the layer tar: {INVALID_TAR_HEADER}")
    } else {
        anyhow::Error::new(err).context("reading the layer tar")
    }
}

/// Per-layer state while applying entries.
struct Applier<'a> {
    root: &'a Path,
    whiteouts: Whiteouts,
    is_root: bool,
    /// In a user namespace device nodes cannot be made; c/storage leaves them out there.
    in_user_namespace: bool,
    /// The xattr that marks an overlay directory opaque.
    opaque_xattr: &'static str,
    /// What this layer wrote (relative paths), which an opaque whiteout keeps.
    unpacked: HashSet<PathBuf>,
    /// Directories whose times are set last (adding entries changes them).
    directories: Vec<(PathBuf, Timestamps)>,
    uids: BTreeSet<u32>,
    gids: BTreeSet<u32>,
}

impl Applier<'_> {
    fn apply_entry<R: Read, W: Write>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        state: &Rc<RefCell<Recording>>,
        tar_split: &mut TarSplitWriter<W>,
    ) -> Result<()> {
        let name = entry.path_bytes().into_owned();
        let size = entry.size();
        let header = entry.header().clone();
        let kind = header.entry_type();
        let (uid, gid) = entry_owner(entry)?;
        let mode =
            numeric_field(&header.as_old().mode, || header.mode().map(u64::from))? as u32 & 0o7777;
        self.uids.insert(uid);
        self.gids.insert(gid);
        let display = String::from_utf8_lossy(&name).into_owned();
        let relative = clean_relative(&name)?;
        let times = entry_times(entry)?;
        let xattrs = entry_xattrs(entry)?;

        let base = relative
            .file_name()
            .map(|n| n.as_bytes().to_vec())
            .unwrap_or_default();
        let whiteout = base
            .strip_prefix(WHITEOUT_PREFIX.as_bytes())
            .filter(|_| self.whiteouts != Whiteouts::Keep);
        if let Some(hidden) = whiteout {
            // Any contents stay in the next raw segment.
            tar_split.file(&name, 0, None)?;
            return self.apply_whiteout(&relative, &base, hidden, uid, gid);
        }
        if matches!(kind, tar::EntryType::Regular | tar::EntryType::Continuous) {
            let path = self.prepare(&relative)?;
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("creating {display}"))?;
            state.borrow_mut().recording = false;
            let mut crc = CRC64_ISO.digest();
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                let read = entry
                    .read(&mut buffer)
                    .with_context(|| format!("reading {display} from the layer tar"))?;
                if read == 0 {
                    break;
                }
                crc.update(&buffer[..read]);
                file.write_all(&buffer[..read])
                    .with_context(|| format!("writing {display}"))?;
            }
            state.borrow_mut().recording = true;
            drop(file);
            tar_split.file(&name, size, (size > 0).then(|| crc.finalize()))?;
            self.set_attributes(&path, uid, gid, Some(mode), &xattrs, times)?;
            self.unpacked.insert(relative);
            return Ok(());
        }
        // Any contents of other entries stay in the next raw segment.
        tar_split.file(&name, 0, None)?;

        if relative.as_os_str().is_empty() {
            // The layer's root itself: c/storage leaves it as the driver made it.
            return Ok(());
        }
        match kind {
            tar::EntryType::Directory => {
                let path = resolve_parent_in_root(self.root, &relative)?;
                match fs::symlink_metadata(&path) {
                    Ok(meta) if meta.is_dir() => {}
                    Ok(_) => {
                        remove_any(&path)?;
                        fs::create_dir(&path).with_context(|| format!("creating {display}"))?;
                    }
                    Err(_) => {
                        self.make_parents(&path)?;
                        fs::create_dir(&path).with_context(|| format!("creating {display}"))?;
                    }
                }
                self.set_attributes(&path, uid, gid, Some(mode), &xattrs, None)?;
                if let Some(times) = times {
                    self.directories.push((path, times));
                }
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| anyhow::anyhow!("symlink {display} has no target"))?
                    .into_owned();
                let parent = relative.parent().unwrap_or(Path::new(""));
                let mut lexical = parent.as_os_str().as_bytes().to_vec();
                lexical.push(b'/');
                lexical.extend_from_slice(&target);
                if !target.starts_with(b"/") && clean_relative(&lexical).is_err() {
                    anyhow::bail!(
                        "invalid symlink {display} -> {}: it points outside of the layer",
                        String::from_utf8_lossy(&target)
                    );
                }
                let path = self.prepare(&relative)?;
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&target), &path)
                    .with_context(|| format!("creating symlink {display}"))?;
                self.set_attributes(&path, uid, gid, None, &xattrs, times)?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| anyhow::anyhow!("hard link {display} has no target"))?
                    .into_owned();
                let target_relative = clean_relative(&target).map_err(|_| {
                    anyhow::anyhow!(
                        "invalid hard link {display} -> {}: it points outside of the layer",
                        String::from_utf8_lossy(&target)
                    )
                })?;
                let target_path = resolve_parent_in_root(self.root, &target_relative)?;
                let path = self.prepare(&relative)?;
                fs::hard_link(&target_path, &path)
                    .with_context(|| format!("creating hard link {display}"))?;
                // As c/storage: the link's own header sets the (shared) inode's attributes.
                self.set_attributes(&path, uid, gid, Some(mode), &xattrs, times)?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                if self.in_user_namespace && kind != tar::EntryType::Fifo {
                    // As c/storage's createTarFile: no device can be made here, and the
                    // layer is stored without it (tar-split still rebuilds the entry).
                    let skipped = format!("not creating device node {display} in a user namespace");
                    tracing::debug!("{skipped}");
                    return Ok(());
                }
                if !self.is_root && kind != tar::EntryType::Fifo {
                    anyhow::bail!("cannot create device node {display}: not running as root");
                }
                let file_type = match kind {
                    tar::EntryType::Char => FileType::CharacterDevice,
                    tar::EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                let path = self.prepare(&relative)?;
                rustix::fs::mknodat(
                    CWD,
                    &path,
                    file_type,
                    Mode::from_raw_mode(mode),
                    rustix::fs::makedev(major, minor),
                )
                .with_context(|| format!("creating device node {display}"))?;
                self.set_attributes(&path, uid, gid, Some(mode), &xattrs, times)?;
            }
            tar::EntryType::XGlobalHeader => {}
            tar::EntryType::GNUSparse => {
                anyhow::bail!("sparse file {display} in a layer is not supported")
            }
            other => anyhow::bail!("unsupported tar entry type {other:?} for {display}"),
        }
        self.unpacked.insert(relative);
        Ok(())
    }

    /// Remove whatever is at `relative` and make sure its parent exists; the path to create.
    fn prepare(&self, relative: &Path) -> Result<PathBuf> {
        let path = resolve_parent_in_root(self.root, relative)?;
        if fs::symlink_metadata(&path).is_ok() {
            remove_any(&path)?;
        } else {
            self.make_parents(&path)?;
        }
        Ok(path)
    }

    fn make_parents(&self, path: &Path) -> Result<()> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        Ok(())
    }

    fn apply_whiteout(
        &mut self,
        relative: &Path,
        base: &[u8],
        hidden: &[u8],
        uid: u32,
        gid: u32,
    ) -> Result<()> {
        let parent_relative = relative.parent().unwrap_or(Path::new(""));
        let parent = resolve_in_root(self.root, parent_relative)?;
        if base == OPAQUE_WHITEOUT.as_bytes() {
            match self.whiteouts {
                Whiteouts::Overlay => {
                    fs::create_dir_all(&parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                    rustix::fs::lsetxattr(
                        &parent,
                        self.opaque_xattr,
                        b"y",
                        rustix::fs::XattrFlags::empty(),
                    )
                    .with_context(|| format!("marking {} opaque", parent_relative.display()))?;
                }
                // apply_entry extracts whiteouts as files when they are kept.
                Whiteouts::Keep => {}
                Whiteouts::Delete => {
                    let Ok(children) = fs::read_dir(&parent) else {
                        return Ok(());
                    };
                    for child in children {
                        let child = child?;
                        let child_relative = parent_relative.join(child.file_name());
                        if !self.unpacked.contains(&child_relative) {
                            remove_any(&child.path())?;
                        }
                    }
                }
            }
            return Ok(());
        }
        if base.starts_with(WHITEOUT_META_PREFIX.as_bytes()) {
            return Ok(());
        }
        let hidden_relative = parent_relative.join(std::ffi::OsStr::from_bytes(hidden));
        let path = parent.join(std::ffi::OsStr::from_bytes(hidden));
        match self.whiteouts {
            Whiteouts::Keep => {}
            Whiteouts::Delete => {
                if fs::symlink_metadata(&path).is_ok() {
                    remove_any(&path)?;
                }
            }
            Whiteouts::Overlay => {
                let path = self.prepare(&hidden_relative)?;
                rustix::fs::mknodat(
                    CWD,
                    &path,
                    FileType::CharacterDevice,
                    Mode::empty(),
                    rustix::fs::makedev(0, 0),
                )
                .with_context(|| format!("creating whiteout {}", hidden_relative.display()))?;
                if self.is_root {
                    chown(&path, uid, gid)?;
                }
            }
        }
        Ok(())
    }

    fn set_attributes(
        &self,
        path: &Path,
        uid: u32,
        gid: u32,
        mode: Option<u32>,
        xattrs: &[(String, Vec<u8>)],
        times: Option<Timestamps>,
    ) -> Result<()> {
        if self.is_root {
            chown(path, uid, gid)?;
        }
        if let Some(mode) = mode {
            fs::set_permissions(path, fs::Permissions::from_mode(mode))
                .with_context(|| format!("setting the mode of {}", path.display()))?;
        }
        for (name, value) in xattrs {
            if let Err(error) =
                rustix::fs::lsetxattr(path, name.as_str(), value, rustix::fs::XattrFlags::empty())
            {
                // c/storage, too, goes on when the file system has no xattrs of that kind.
                if error != rustix::io::Errno::NOTSUP && error != rustix::io::Errno::PERM {
                    return Err(anyhow::anyhow!(
                        "setting xattr {name} on {}: {error}",
                        path.display()
                    ));
                }
                tracing::debug!("ignoring xattr {name} on {}: {error}", path.display());
            }
        }
        if let Some(times) = times {
            set_times(path, &times)?;
        }
        Ok(())
    }

    fn finish_directories(&mut self) -> Result<()> {
        for (path, times) in self.directories.iter().rev() {
            set_times(path, times)?;
        }
        Ok(())
    }
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<()> {
    // The IDs are the tar header's, unmapped: skopos writes stores as root only.
    rustix::fs::chownat(
        CWD,
        path,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .with_context(|| format!("changing the owner of {}", path.display()))
}

fn set_times(path: &Path, times: &Timestamps) -> Result<()> {
    rustix::fs::utimensat(CWD, path, times, AtFlags::SYMLINK_NOFOLLOW)
        .with_context(|| format!("setting the times of {}", path.display()))
}

fn remove_any(path: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
    .with_context(|| format!("removing {}", path.display()))
}

/// The entry's access and modification times (PAX fractions included); the access time
/// is never before the modification time, as in c/storage.
fn entry_times<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Option<Timestamps>> {
    let mut mtime = match entry.header().mtime() {
        Ok(seconds) => timespec(seconds as f64),
        Err(_) => return Ok(None),
    };
    let mut atime = None;
    if let Some(extensions) = entry.pax_extensions().context("reading PAX headers")? {
        for extension in extensions {
            let extension = extension.context("reading PAX headers")?;
            let value = extension.value().ok().and_then(|v| v.parse::<f64>().ok());
            match (extension.key().ok(), value) {
                (Some("mtime"), Some(value)) => mtime = timespec(value),
                (Some("atime"), Some(value)) => atime = Some(timespec(value)),
                _ => {}
            }
        }
    }
    let atime = match atime {
        Some(atime) if (atime.tv_sec, atime.tv_nsec) >= (mtime.tv_sec, mtime.tv_nsec) => atime,
        _ => mtime,
    };
    Ok(Some(Timestamps {
        last_access: atime,
        last_modification: mtime,
    }))
}

fn timespec(seconds: f64) -> Timespec {
    let whole = seconds.floor();
    Timespec {
        tv_sec: whole as i64,
        tv_nsec: ((seconds - whole) * 1e9).round().min(999_999_999.0) as _,
    }
}

/// A numeric header field as Go's archive/tar reads it: one holding only NULs and spaces is
/// 0 (some tar writers leave fields empty), anything else as `parsed` reads it.
fn numeric_field(field: &[u8], parsed: impl FnOnce() -> io::Result<u64>) -> Result<u64> {
    if field.iter().all(|byte| matches!(byte, b'\0' | b' ')) {
        return Ok(0);
    }
    parsed().context("reading a tar header")
}

/// The entry's owner: the header's uid and gid, overridden by PAX `uid`/`gid` records (the
/// only place IDs above 2097151 fit), as Go's archive/tar merges them. c/storage applies
/// these numbers and ignores the user and group names.
fn entry_owner<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<(u32, u32)> {
    let header = entry.header();
    let id = |value: u64, what: &str| {
        u32::try_from(value)
            .map_err(|_| anyhow::anyhow!("invalid tar header: {what} {value} is too large"))
    };
    let mut uid = id(numeric_field(&header.as_old().uid, || header.uid())?, "uid")?;
    let mut gid = id(numeric_field(&header.as_old().gid, || header.gid())?, "gid")?;
    if let Some(extensions) = entry.pax_extensions().context("reading PAX headers")? {
        for extension in extensions {
            let extension = extension.context("reading PAX headers")?;
            let target = match extension.key() {
                Ok("uid") => &mut uid,
                Ok("gid") => &mut gid,
                _ => continue,
            };
            let text = String::from_utf8_lossy(extension.value_bytes());
            *target = text.parse::<u32>().map_err(|_| {
                anyhow::anyhow!("invalid tar header: PAX record {:?} is not an ID", text)
            })?;
        }
    }
    Ok((uid, gid))
}

/// `SCHILY.xattr.*` PAX records.
fn entry_xattrs<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Vec<(String, Vec<u8>)>> {
    let mut xattrs = Vec::new();
    if let Some(extensions) = entry.pax_extensions().context("reading PAX headers")? {
        for extension in extensions {
            let extension = extension.context("reading PAX headers")?;
            if let Ok(key) = extension.key() {
                if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                    xattrs.push((name.to_string(), extension.value_bytes().to_vec()));
                }
            }
        }
    }
    Ok(xattrs)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    /// A file whose header's uid field is all NULs and gid field all spaces, and one whose
    /// owner is in PAX records only (too large for the header's octal fields).
    fn tar_with_unusual_owners() -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_size(2);
        header.as_old_mut().uid = [0; 8];
        header.as_old_mut().gid = [b' '; 8];
        builder
            .append_data(&mut header, "empty-owner", &b"hi"[..])
            .unwrap();
        builder
            .append_pax_extensions([("uid", &b"3000000"[..]), ("gid", &b"3000001"[..])])
            .unwrap();
        let mut header = tar::Header::new_ustar();
        header.set_mode(0o644);
        header.set_uid(7);
        header.set_gid(7);
        header.set_size(2);
        builder
            .append_data(&mut header, "pax-owner", &b"ho"[..])
            .unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn empty_owner_fields_are_0_and_pax_owners_override_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let tar = tar_with_unusual_owners();
        let mut tar_split = TarSplitWriter::new(Vec::new());
        let applied = apply_layer(&tar[..], dir.path(), Whiteouts::Delete, &mut tar_split)
            .expect("applying the layer");
        assert_eq!(applied.uids, [0, 3_000_000]);
        assert_eq!(applied.gids, [0, 3_000_001]);
        if rustix::process::geteuid().is_root() {
            let meta = fs::symlink_metadata(dir.path().join("pax-owner")).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (3_000_000, 3_000_001));
            let meta = fs::symlink_metadata(dir.path().join("empty-owner")).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (0, 0));
        }
    }

    #[test]
    fn a_pax_uid_that_is_not_a_number_is_refused() {
        let mut builder = tar::Builder::new(Vec::new());
        builder
            .append_pax_extensions([("uid", &b"12x"[..])])
            .unwrap();
        let mut header = tar::Header::new_ustar();
        header.set_size(0);
        builder.append_data(&mut header, "file", &b""[..]).unwrap();
        let tar = builder.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut tar_split = TarSplitWriter::new(Vec::new());
        let error = apply_layer(&tar[..], dir.path(), Whiteouts::Delete, &mut tar_split)
            .expect_err("a bad PAX uid");
        assert!(
            format!("{error:#}").contains("PAX record \"12x\""),
            "{error:#}"
        );
    }
}
