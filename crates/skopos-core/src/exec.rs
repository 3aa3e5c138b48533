//! Finding programs skopos runs, as Go's `exec.LookPath` does (the peers skopos mirrors
//! are Go programs, so a program is found, or not, in the same places).

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

/// The first executable regular file named `program` in the directories of `search_path`
/// (a `PATH` value); empty entries are skipped.
pub fn look_path(program: &str, search_path: Option<&OsStr>) -> Option<PathBuf> {
    let search_path = search_path?;
    std::env::split_paths(search_path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}
