//! Whether this process works on stores as rootless containers/storage does (`pkg/unshare`
//! `IsRootless`, `RunningInUserNS`).
//!
//! An ordinary user reaches a store only from a user namespace in which it is root (skopos
//! enters one before it starts, as skopeo re-executes itself in one). It is then root by its
//! effective ID, but the store is still the user's: the rootless defaults apply, and what the
//! namespace cannot do (device nodes, `trusted.*` xattrs) is done as c/storage does it there.

use std::sync::OnceLock;

/// The variable c/storage sets in the user namespace it makes (and `podman unshare` in its
/// own): a process that has it is rootless though its effective ID is 0.
pub const USERNS_CONFIGURED_ENV: &str = "_CONTAINERS_USERNS_CONFIGURED";

/// Whether the store belongs to an ordinary user: not root (by the ID
/// `_CONTAINERS_ROOTLESS_UID` records, as c/storage's `IsRootless`), or root only in a user
/// namespace made for the user.
pub fn rootless() -> bool {
    skopos_core::rootless::rootless_uid() != 0
        || std::env::var_os(USERNS_CONFIGURED_ENV).is_some_and(|value| !value.is_empty())
}

/// Whether this process runs in a user namespace other than the initial one (its uid map is
/// not the whole identity map).
pub fn in_user_namespace() -> bool {
    static IN_USER_NAMESPACE: OnceLock<bool> = OnceLock::new();
    *IN_USER_NAMESPACE.get_or_init(|| {
        std::fs::read_to_string("/proc/self/uid_map")
            .map(|map| !is_initial_uid_map(&map))
            .unwrap_or(false)
    })
}

/// Whether `map` (the text of `/proc/self/uid_map`) maps every ID to itself, as the initial
/// user namespace's does.
fn is_initial_uid_map(map: &str) -> bool {
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_identity_map_is_the_initial_namespace() {
        assert!(is_initial_uid_map("         0          0 4294967295\n"));
        assert!(!is_initial_uid_map("         0       1001          1\n"));
        assert!(!is_initial_uid_map(
            "0 1001 1\n         1     100000      65536\n"
        ));
        assert!(!is_initial_uid_map(""));
    }
}
