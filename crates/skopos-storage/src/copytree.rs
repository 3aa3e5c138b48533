//! A faithful copy of a layer directory (the vfs driver starts each layer as a copy of its
//! parent, as c/storage's `dirCopy`): contents, hard links (kept as links), symlinks,
//! device nodes, ownership, modes, xattrs and times.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;
use rustix::fs::{AtFlags, FileType, Mode, Timespec, Timestamps, CWD};
use skopos_core::Result;

/// Copy the contents of `from` into the existing directory `to`.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let mut links = HashMap::new();
    let mut directories = Vec::new();
    copy_children(from, to, &mut links, &mut directories)?;
    for (path, meta) in directories.iter().rev() {
        set_times(path, meta)?;
    }
    Ok(())
}

fn copy_children(
    from: &Path,
    to: &Path,
    links: &mut HashMap<(u64, u64), std::path::PathBuf>,
    directories: &mut Vec<(std::path::PathBuf, fs::Metadata)>,
) -> Result<()> {
    let entries = fs::read_dir(from).with_context(|| format!("reading {}", from.display()))?;
    for entry in entries {
        let entry = entry?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let meta = fs::symlink_metadata(&source)?;
        let kind = meta.file_type();
        if kind.is_dir() {
            fs::create_dir(&target).with_context(|| format!("creating {}", target.display()))?;
            copy_children(&source, &target, links, directories)?;
            copy_attributes(&source, &target, &meta)?;
            directories.push((target, meta));
            continue;
        }
        if meta.nlink() > 1 && !kind.is_symlink() {
            if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                fs::hard_link(first, &target)
                    .with_context(|| format!("linking {}", target.display()))?;
                continue;
            }
            links.insert((meta.dev(), meta.ino()), target.clone());
        }
        if kind.is_symlink() {
            let link = fs::read_link(&source)?;
            std::os::unix::fs::symlink(&link, &target)
                .with_context(|| format!("creating {}", target.display()))?;
        } else if kind.is_file() {
            fs::copy(&source, &target).with_context(|| format!("copying {}", source.display()))?;
        } else {
            let file_type = FileType::from_raw_mode(meta.mode());
            rustix::fs::mknodat(
                CWD,
                &target,
                file_type,
                Mode::from_raw_mode(meta.mode() & 0o7777),
                meta.rdev(),
            )
            .with_context(|| format!("creating {}", target.display()))?;
        }
        copy_attributes(&source, &target, &meta)?;
        set_times(&target, &meta)?;
    }
    Ok(())
}

fn copy_attributes(source: &Path, target: &Path, meta: &fs::Metadata) -> Result<()> {
    if rustix::process::geteuid().is_root() {
        rustix::fs::chownat(
            CWD,
            target,
            Some(rustix::fs::Uid::from_raw(meta.uid())),
            Some(rustix::fs::Gid::from_raw(meta.gid())),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .with_context(|| format!("changing the owner of {}", target.display()))?;
    }
    if !meta.file_type().is_symlink() {
        fs::set_permissions(target, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    let mut names = vec![0u8; 64 * 1024];
    let length = match rustix::fs::llistxattr(source, &mut names[..]) {
        Ok(length) => length,
        Err(_) => return Ok(()),
    };
    for name in names[..length].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = std::ffi::OsStr::new(std::str::from_utf8(name).unwrap_or_default());
        if name.is_empty() {
            continue;
        }
        let mut value = vec![0u8; 64 * 1024];
        if let Ok(size) = rustix::fs::lgetxattr(source, name, &mut value[..]) {
            rustix::fs::lsetxattr(
                target,
                name,
                &value[..size],
                rustix::fs::XattrFlags::empty(),
            )
            .with_context(|| format!("copying xattrs of {}", source.display()))?;
        }
    }
    Ok(())
}

fn set_times(target: &Path, meta: &fs::Metadata) -> Result<()> {
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: meta.atime(),
            tv_nsec: meta.atime_nsec() as _,
        },
        last_modification: Timespec {
            tv_sec: meta.mtime(),
            tv_nsec: meta.mtime_nsec() as _,
        },
    };
    rustix::fs::utimensat(CWD, target, &times, AtFlags::SYMLINK_NOFOLLOW)
        .with_context(|| format!("setting the times of {}", target.display()))
}
