//! Path handling for layer contents: names from a tar are cleaned lexically (as Go's
//! `filepath.Clean`) and refused when they leave the layer; names are resolved inside the
//! layer's root the way a `chroot` would resolve them (symlinks included), so that no
//! entry, symlink or hard link can write outside the layer.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use skopos_core::Result;

/// How many symlinks one resolution may follow (Linux's limit).
const MAX_SYMLINKS: usize = 40;

/// `name` (from a tar header) as a relative path inside the layer; empty for the root.
/// Fails when `..` components climb above the root.
pub fn clean_relative(name: &[u8]) -> Result<PathBuf> {
    let mut parts: Vec<&OsStr> = Vec::new();
    for component in Path::new(OsStr::from_bytes(name)).components() {
        match component {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    anyhow::bail!(
                        "invalid layer entry {:?}: it is outside of the layer",
                        String::from_utf8_lossy(name)
                    );
                }
            }
            Component::Normal(part) => parts.push(part),
        }
    }
    Ok(parts.iter().collect())
}

/// The real location of `relative` inside `root`, following symlinks of every component
/// but the last as if `root` were `/` (an absolute link target restarts at `root`, `..`
/// stops at it).
pub fn resolve_parent_in_root(root: &Path, relative: &Path) -> Result<PathBuf> {
    let Some(last) = relative.file_name() else {
        return Ok(root.to_path_buf());
    };
    let parent = relative.parent().unwrap_or(Path::new(""));
    let resolved = resolve_in_root(root, parent)?;
    Ok(resolved.join(last))
}

/// The real location of `relative` inside `root`, every component's symlinks followed
/// within `root`.
pub fn resolve_in_root(root: &Path, relative: &Path) -> Result<PathBuf> {
    let mut pending: Vec<PathBuf> = relative
        .components()
        .rev()
        .map(|component| PathBuf::from(component.as_os_str()))
        .collect();
    let mut resolved: Vec<PathBuf> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        let text = part.as_os_str();
        if text == "/" || text == "." || text.is_empty() {
            if text == "/" {
                resolved.clear();
            }
            continue;
        }
        if text == ".." {
            resolved.pop();
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&resolved);
        candidate.push(&part);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    anyhow::bail!(
                        "too many levels of symbolic links in {}",
                        relative.display()
                    );
                }
                let target = std::fs::read_link(&candidate)?;
                if target.is_absolute() {
                    resolved.clear();
                }
                for component in target.components().rev() {
                    pending.push(PathBuf::from(component.as_os_str()));
                }
            }
            _ => resolved.push(part),
        }
    }
    let mut path = root.to_path_buf();
    path.extend(&resolved);
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_and_escapes_refused() {
        assert_eq!(
            clean_relative(b"./a/b/../c/").unwrap(),
            PathBuf::from("a/c")
        );
        assert_eq!(
            clean_relative(b"/etc/passwd").unwrap(),
            PathBuf::from("etc/passwd")
        );
        assert_eq!(clean_relative(b"./").unwrap(), PathBuf::new());
        assert!(clean_relative(b"../x").is_err());
        assert!(clean_relative(b"a/../../x").is_err());
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::os::unix::fs::symlink("/usr/lib", root.join("lib")).unwrap();
        std::os::unix::fs::symlink("../../../../..", root.join("up")).unwrap();
        assert_eq!(
            resolve_parent_in_root(root, Path::new("lib/x.so")).unwrap(),
            root.join("usr/lib/x.so")
        );
        assert_eq!(
            resolve_parent_in_root(root, Path::new("up/etc/passwd")).unwrap(),
            root.join("etc/passwd")
        );
    }
}
