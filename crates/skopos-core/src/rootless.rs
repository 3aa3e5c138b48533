//! Which user's files a process works with, as containers/image's `rootless.GetRootlessEUID`
//! and containers/storage's `unshare.GetRootlessUID` decide it.
//!
//! podman, buildah and skopeo run an ordinary user's work in a user namespace where the
//! user is uid 0, and record the real ID in `_CONTAINERS_ROOTLESS_UID`; the effective ID
//! alone would send such a process to root's system-wide paths (`/var/lib/containers/…`).

/// The variable holding the user's ID outside the user namespace.
pub const ROOTLESS_UID_ENV: &str = "_CONTAINERS_ROOTLESS_UID";

/// `$_CONTAINERS_ROOTLESS_UID` when set and not empty, else the effective uid. A value that
/// is not a number counts as 0, as Go's `strconv.Atoi` error leaves it.
pub fn rootless_uid() -> u32 {
    match std::env::var(ROOTLESS_UID_ENV) {
        Ok(value) if !value.is_empty() => value.parse().unwrap_or(0),
        _ => rustix::process::geteuid().as_raw(),
    }
}
