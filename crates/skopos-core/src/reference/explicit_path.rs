//! containers/image's `explicitfilepath.ResolvePathToFullyExplicit`: an absolute,
//! symlink-free form of a path that may not exist yet (its parent must). skopeo calls it
//! when parsing `dir:`, `oci:`, `oci-archive:` and `sif:` references, so a missing parent
//! directory is a parse error there (`lstat /nonexistent: no such file or directory`);
//! the resolved path is what signature-policy scopes are matched against.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::go::text::{go_errno_text, go_path_clean, go_path_join};
use crate::Result;

/// How many symlinks one resolution follows before giving up, as Go's `EvalSymlinks`.
const MAX_SYMLINKS: usize = 255;

/// The absolute, symlink-free, cleaned form of `path`, which need not exist as long as
/// its parent does. Errors read as skopeo's (Go's `*PathError` text).
pub fn resolve_path_to_fully_explicit(path: &str) -> Result<PathBuf> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => resolve_existing(path).map(PathBuf::from),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            let (parent, file) = go_split(path);
            let resolved_parent = resolve_existing(parent)?;
            if file == "." || file == ".." {
                anyhow::bail!("Unexpectedly missing special filename component in {path}");
            }
            Ok(go_path_clean(&go_path_join(&resolved_parent, file)).into())
        }
        Err(err) => Err(path_error("lstat", path, &err)),
    }
}

fn resolve_existing(path: &str) -> Result<String> {
    let absolute = go_abs(path)?;
    Ok(go_path_clean(&eval_symlinks(&absolute)?))
}

fn path_error(op: &str, path: &str, err: &io::Error) -> anyhow::Error {
    anyhow::anyhow!("{op} {path}: {}", go_errno_text(err))
}

/// Go's `filepath.Split`: everything up to and including the last `/`, and the rest.
fn go_split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => ("", path),
    }
}

/// Go's `filepath.Abs`.
fn go_abs(path: &str) -> Result<String> {
    if path.starts_with('/') {
        return Ok(go_path_clean(path));
    }
    let cwd =
        std::env::current_dir().map_err(|err| anyhow::anyhow!("getwd: {}", go_errno_text(&err)))?;
    let cwd = cwd.to_str().ok_or_else(|| {
        anyhow::anyhow!("the current directory {} is not valid UTF-8", cwd.display())
    })?;
    Ok(go_path_join(cwd, path))
}

/// Go's `filepath.EvalSymlinks` for an absolute path: walks it component by component,
/// replacing each symlink by its target, and fails on the first component that cannot be
/// examined (`lstat <path so far>: …`).
fn eval_symlinks(path: &str) -> Result<String> {
    // Work on bytes: a link target need not be UTF-8 until the end.
    let mut pending: Vec<u8> = path.as_bytes().to_vec();
    let mut resolved: Vec<u8> = b"/".to_vec();
    let mut start = 0;
    let mut links_followed = 0;
    while start < pending.len() {
        while start < pending.len() && pending[start] == b'/' {
            start += 1;
        }
        let end = pending[start..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(pending.len(), |i| start + i);
        if start == end {
            break;
        }
        let component = pending[start..end].to_vec();
        if component == b"." {
            start = end;
            continue;
        }
        if component == b".." {
            match resolved.iter().rposition(|&b| b == b'/') {
                Some(0) => resolved.truncate(1),
                Some(i) => resolved.truncate(i),
                None => resolved = b"/".to_vec(),
            }
            start = end;
            continue;
        }
        if resolved.last() != Some(&b'/') {
            resolved.push(b'/');
        }
        resolved.extend_from_slice(&component);
        let here = OsStr::from_bytes(&resolved);
        let metadata = std::fs::symlink_metadata(here)
            .map_err(|err| path_error("lstat", &here.to_string_lossy(), &err))?;
        if !metadata.file_type().is_symlink() {
            if !metadata.is_dir() && end < pending.len() {
                anyhow::bail!("{}", go_errno_text(&io::Error::from_raw_os_error(20)));
            }
            start = end;
            continue;
        }
        links_followed += 1;
        if links_followed > MAX_SYMLINKS {
            anyhow::bail!("EvalSymlinks: too many links");
        }
        let target = std::fs::read_link(here)
            .map_err(|err| path_error("readlink", &here.to_string_lossy(), &err))?;
        let target = target.as_os_str().as_bytes().to_vec();
        let mut rest = target.clone();
        rest.extend_from_slice(&pending[end..]);
        pending = rest;
        if target.first() == Some(&b'/') {
            resolved = b"/".to_vec();
        } else {
            // A relative target replaces the link's own component.
            match resolved.iter().rposition(|&b| b == b'/') {
                Some(0) | None => resolved = b"/".to_vec(),
                Some(i) => resolved.truncate(i),
            }
        }
        start = 0;
    }
    String::from_utf8(resolved)
        .map_err(|_| anyhow::anyhow!("the path {path} resolves to a path that is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory and its real (symlink-free) path, which is what resolution
    /// returns even when the system temp dir is behind a symlink.
    fn tempdir() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        (dir, real)
    }

    #[test]
    fn resolves_missing_leaf_and_symlinks() {
        let (_guard, base) = tempdir();
        let real = base.join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, base.join("link")).unwrap();
        std::os::unix::fs::symlink("real", base.join("rel-link")).unwrap();
        let b = base.to_str().unwrap();

        assert_eq!(
            resolve_path_to_fully_explicit(&format!("{b}/link/new")).unwrap(),
            real.join("new")
        );
        assert_eq!(
            resolve_path_to_fully_explicit(&format!("{b}/rel-link/")).unwrap(),
            real
        );
        assert_eq!(
            resolve_path_to_fully_explicit(&format!("{b}/real/../link")).unwrap(),
            real
        );
    }

    #[test]
    fn missing_parent_is_an_lstat_error() {
        let err = resolve_path_to_fully_explicit("/nonexistent-skopos/a/b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "lstat /nonexistent-skopos: no such file or directory"
        );
    }

    #[test]
    fn a_file_used_as_a_directory_is_not_a_directory() {
        let (_guard, base) = tempdir();
        std::fs::write(base.join("file"), b"").unwrap();
        let path = format!("{}/file/x", base.display());
        let err = resolve_path_to_fully_explicit(&path).unwrap_err();
        assert_eq!(err.to_string(), format!("lstat {path}: not a directory"));
    }

    /// Messages as skopeo 1.9.3 printed them for `dir:` with the same layout.
    #[test]
    fn symlink_failures_read_like_skopeo() {
        let (_guard, base) = tempdir();
        let b = base.to_str().unwrap();
        std::os::unix::fs::symlink("missing", base.join("dangling")).unwrap();
        std::os::unix::fs::symlink("loop2", base.join("loop1")).unwrap();
        std::os::unix::fs::symlink("loop1", base.join("loop2")).unwrap();
        let message = |path: &str| {
            resolve_path_to_fully_explicit(&format!("{b}{path}"))
                .unwrap_err()
                .to_string()
        };
        let missing = format!("lstat {b}/missing: no such file or directory");
        assert_eq!(message("/dangling"), missing);
        assert_eq!(message("/dangling/x"), missing);
        assert_eq!(message("/missing/.."), missing);
        assert_eq!(message("/missing/."), missing);
        assert_eq!(
            message("/missing/new/"),
            format!("lstat {b}/missing: no such file or directory")
        );
        assert_eq!(message("/loop1"), "EvalSymlinks: too many links");
        assert_eq!(
            message("/loop1/x"),
            format!("lstat {b}/loop1/x: too many levels of symbolic links")
        );
    }

    #[test]
    fn relative_paths_resolve_against_the_working_directory() {
        let cwd = std::fs::canonicalize(".").unwrap();
        assert_eq!(
            resolve_path_to_fully_explicit("no-such-entry-skopos").unwrap(),
            cwd.join("no-such-entry-skopos")
        );
        assert_eq!(resolve_path_to_fully_explicit("").unwrap(), cwd);
    }
}
