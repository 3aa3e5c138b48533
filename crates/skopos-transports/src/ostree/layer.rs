//! A layer's tar unpacked into a staging directory the way containers/image's ostree
//! destination left it for committing, with the tar-split metadata and DiffID recorded on
//! the way.
//!
//! As root, the tar is extracted as containers/storage's `Untar` does (owners, modes,
//! setuid bits and xattrs kept; whiteout files are ordinary files here). As an ordinary
//! user (containers/image ran `tar --no-same-owner --no-same-permissions`), files belong to
//! the caller, keep none of the tar's xattrs (an ordinary user can only have set `user.*`
//! ones), special mode bits are dropped and every directory gets at least 0700 and every
//! regular file 0600, so that the caller can read them back.
//! Either way device nodes, FIFOs and sockets are removed: OSTree does not store them.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use flate2::write::GzEncoder;
use skopos_core::{Digest, Result};
use skopos_storage::apply::{apply_layer, Whiteouts};
use skopos_storage::tarsplit::TarSplitWriter;

/// The staging directory's tree root mode (containers/image created it with 0755).
const ROOT_MODE: u32 = 0o755;

/// What unpacking a layer produced.
pub(super) struct UnpackedLayer {
    /// Holds `root/`, the tree to commit; removed when dropped.
    pub dir: tempfile::TempDir,
    /// The uncompressed tar's digest (the DiffID) and length.
    pub diff_id: Digest,
    pub diff_size: u64,
    /// `tarsplit.output`: base64 of the gzipped tar-split lines.
    pub tar_split: String,
}

impl UnpackedLayer {
    /// The tree to commit.
    pub fn root(&self) -> std::path::PathBuf {
        self.dir.path().join("root")
    }
}

/// Unpack the uncompressed `tar` into a new directory under `staging`.
pub(super) fn unpack_layer(tar: impl Read, staging: &Path, as_root: bool) -> Result<UnpackedLayer> {
    let dir = tempfile::Builder::new()
        .prefix("layer")
        .tempdir_in(staging)
        .with_context(|| format!("creating a staging directory in {}", staging.display()))?;
    let root = dir.path().join("root");
    fs::create_dir(&root).with_context(|| format!("creating {}", root.display()))?;
    fs::set_permissions(&root, fs::Permissions::from_mode(ROOT_MODE))
        .with_context(|| format!("setting the mode of {}", root.display()))?;
    let mut tar_split =
        TarSplitWriter::new(GzEncoder::new(Vec::new(), flate2::Compression::default()));
    let applied = apply_layer(tar, &root, Whiteouts::Keep, &mut tar_split)?;
    let mut gzip = tar_split.into_inner();
    gzip.flush().context("compressing the tar-split metadata")?;
    let gzipped = gzip
        .finish()
        .context("compressing the tar-split metadata")?;
    fix_files(&root, as_root)?;
    Ok(UnpackedLayer {
        dir,
        diff_id: applied.diff_digest,
        diff_size: applied.diff_size,
        tar_split: base64::engine::general_purpose::STANDARD.encode(gzipped),
    })
}

/// Remove what OSTree cannot store and, for an ordinary user, make the tree readable.
fn fix_files(dir: &Path, as_root: bool) -> Result<()> {
    let entries = fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("inspecting {}", path.display()))?;
        if kind.is_fifo() || kind.is_socket() || kind.is_block_device() || kind.is_char_device() {
            fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            continue;
        }
        let forced_bits = if kind.is_dir() {
            0o700
        } else if kind.is_file() {
            0o600
        } else {
            0
        };
        if !as_root {
            remove_user_xattrs(&path)?;
        }
        if !as_root && forced_bits != 0 {
            let mode = entry
                .metadata()
                .with_context(|| format!("inspecting {}", path.display()))?
                .permissions()
                .mode();
            fs::set_permissions(
                &path,
                fs::Permissions::from_mode(mode & 0o777 | forced_bits),
            )
            .with_context(|| format!("setting the mode of {}", path.display()))?;
        }
        if kind.is_dir() {
            fix_files(&path, as_root)?;
        }
    }
    Ok(())
}

/// Remove the `user.*` extended attributes of `path` (not following a symlink).
fn remove_user_xattrs(path: &Path) -> Result<()> {
    let failed = |err: rustix::io::Errno| anyhow::anyhow!("xattrs of {}: {err}", path.display());
    let mut names = vec![0u8; 1024];
    let length = loop {
        match rustix::fs::llistxattr(path, &mut names) {
            Ok(length) => break length,
            // The file system keeps none.
            Err(rustix::io::Errno::NOTSUP) => return Ok(()),
            Err(rustix::io::Errno::RANGE) => names.resize(names.len() * 2, 0),
            Err(err) => return Err(failed(err)),
        }
    };
    for name in names[..length].split(|&byte| byte == 0) {
        if name.starts_with(b"user.") {
            let name = std::ffi::OsStr::from_bytes(name);
            rustix::fs::lremovexattr(path, name).map_err(failed)?;
        }
    }
    Ok(())
}
