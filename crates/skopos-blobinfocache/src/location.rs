//! Where containers/image keeps the cache file.

use std::path::PathBuf;

/// The file's name; containers/image changes it, rather than migrating, when the schema
/// changes incompatibly.
pub const CACHE_FILE_NAME: &str = "blob-info-cache-v1.sqlite";

/// The directory for processes running as root.
const SYSTEM_CACHE_DIR: &str = "/var/lib/containers/cache";

/// containers/image's directory for `euid`: `/var/lib/containers/cache` for root, else
/// `$XDG_DATA_HOME/containers/cache` or `$HOME/.local/share/containers/cache`; `None`
/// when neither variable is set (the cache then lives in memory).
pub fn cache_dir(euid: u32) -> Option<PathBuf> {
    if euid == 0 {
        return Some(PathBuf::from(SYSTEM_CACHE_DIR));
    }
    let data_dir = match std::env::var_os("XDG_DATA_HOME").filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").filter(|home| !home.is_empty())?)
            .join(".local/share"),
    };
    Some(data_dir.join("containers/cache"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_uses_the_system_directory() {
        assert_eq!(
            cache_dir(0),
            Some(PathBuf::from("/var/lib/containers/cache"))
        );
    }
}
