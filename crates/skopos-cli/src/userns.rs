//! An ordinary user's command that names a `containers-storage:` image runs in a user
//! namespace in which the user is root, as skopeo's does (it re-executes itself through
//! c/storage's `unshare.MaybeReexecUsingUserNamespace`): the user's ID maps to 0 and the
//! ranges `/etc/subuid` and `/etc/subgid` give the user to IDs 1, 2, …, so that layer files
//! get the owners a rootless podman gives them and podman reads the store as its own.
//!
//! skopos enters the namespace itself, before it starts any thread (unshare(2) refuses a
//! user namespace to a threaded process), instead of re-executing: the maps of a namespace
//! must be written from outside it, so two small `newuidmap`/`newgidmap` helpers are started
//! first, wait until the namespace exists, and write them. Without ranges for the user only
//! the user's own ID is mapped (which needs no helper), as c/storage does with a warning.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};

use anyhow::Context;
use skopos_core::ImageName;
use skopos_storage::userns::USERNS_CONFIGURED_ENV;

use crate::cli::Cli;

/// Enter a user namespace when `cli` names a `containers-storage:` image, this process is
/// not root and is not in such a namespace already. Must be called before any thread starts.
pub(crate) fn enter_if_needed(cli: &Cli) -> anyhow::Result<()> {
    // Root, or already root in a namespace made for the user (`podman unshare`).
    if rustix::process::geteuid().is_root() || !names_containers_storage(cli) {
        return Ok(());
    }
    enter().context("entering a user namespace for containers-storage")
}

/// Whether `cli` opens a `containers-storage:` image.
fn names_containers_storage(cli: &Cli) -> bool {
    cli.image_arguments()
        .iter()
        .any(|name| matches!(ImageName::parse(name), Ok(ImageName::ContainersStorage(_))))
}

/// One line of `/etc/subuid` or `/etc/subgid` that applies: the first ID and how many.
#[derive(Debug, PartialEq, Eq)]
struct SubordinateRange {
    start: u64,
    count: u64,
}

fn enter() -> anyhow::Result<()> {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let user = user_name(uid);
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let uid_ranges = subordinate_ranges(&read("/etc/subuid"), user.as_deref(), uid);
    let gid_ranges = subordinate_ranges(&read("/etc/subgid"), user.as_deref(), uid);
    let pid = std::process::id().to_string();

    if uid_ranges.is_empty() || gid_ranges.is_empty() {
        tracing::warn!(
            "Using rootless single mapping into the namespace. This might break some images. \
             Check /etc/subuid and /etc/subgid for adding sub*ids if not using a network user"
        );
        unshare_user_namespace()?;
        // A process may map its own IDs into its new namespace once setgroups is denied.
        std::fs::write("/proc/self/setgroups", "deny").context("writing setgroups")?;
        std::fs::write("/proc/self/uid_map", format!("0 {uid} 1\n")).context("writing uid_map")?;
        std::fs::write("/proc/self/gid_map", format!("0 {gid} 1\n")).context("writing gid_map")?;
    } else {
        let uid_helper = start_map_helper("newuidmap", &pid, uid, &uid_ranges)?;
        let gid_helper = start_map_helper("newgidmap", &pid, gid, &gid_ranges)?;
        let unshared = unshare_user_namespace();
        // The helpers wait for a line on their input; closing it without one stops them.
        let finished = [uid_helper, gid_helper].map(|helper| release(helper, unshared.is_ok()));
        unshared?;
        for outcome in finished {
            outcome?;
        }
    }
    // What c/storage's namespace has: the store code then knows the store is the user's.
    // No other thread exists yet (the caller's contract) to read the environment meanwhile.
    std::env::set_var(USERNS_CONFIGURED_ENV, "done");
    std::env::set_var("_CONTAINERS_ROOTLESS_UID", uid.to_string());
    std::env::set_var("_CONTAINERS_ROOTLESS_GID", gid.to_string());
    Ok(())
}

fn unshare_user_namespace() -> anyhow::Result<()> {
    // SAFETY: only NEWUSER is unshared, which leaves the file descriptor table shared.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWUSER) }
        .context("unshare(CLONE_NEWUSER)")
}

/// `sh` waiting for a line on its input, then running `TOOL PID 0 ID 1 RANGE…`: started
/// before the namespace exists so that it runs outside it.
fn start_map_helper(
    tool: &str,
    pid: &str,
    own_id: u32,
    ranges: &[SubordinateRange],
) -> anyhow::Result<(String, Child)> {
    let mut args = vec![pid.to_string(), "0".into(), own_id.to_string(), "1".into()];
    let mut inside = 1;
    for range in ranges {
        args.extend([
            inside.to_string(),
            range.start.to_string(),
            range.count.to_string(),
        ]);
        inside += range.count;
    }
    let child = Command::new("sh")
        .arg("-c")
        .arg("read -r _ && exec \"$0\" \"$@\"")
        .arg(tool)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {tool}"))?;
    Ok((tool.to_string(), child))
}

/// Let a helper go on (`proceed`) or stop it, and wait for it.
fn release((tool, mut child): (String, Child), proceed: bool) -> anyhow::Result<()> {
    if let Some(mut input) = child.stdin.take() {
        if proceed {
            // A helper that already died says why below.
            let _ = input.write_all(b"go\n");
        }
    }
    let mut stderr = String::new();
    if let Some(mut output) = child.stderr.take() {
        let _ = output.read_to_string(&mut stderr);
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for {tool}"))?;
    if proceed && !status.success() {
        let reason = stderr.lines().last().unwrap_or("").trim().to_string();
        anyhow::bail!("{tool} failed ({status}): {reason}");
    }
    Ok(())
}

/// The login name of `uid` in `/etc/passwd` (subordinate ID files name users by either).
fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?;
        (id.parse::<u32>().ok()? == uid).then(|| name.to_string())
    })
}

/// The ranges of a subordinate ID file (`NAME-OR-ID:START:COUNT` lines) given to the user.
fn subordinate_ranges(text: &str, user: Option<&str>, uid: u32) -> Vec<SubordinateRange> {
    let uid = uid.to_string();
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split(':');
            let owner = fields.next()?;
            let start = fields.next()?.parse().ok()?;
            let count = fields.next()?.parse().ok()?;
            (owner == uid || Some(owner) == user).then_some(SubordinateRange { start, count })
        })
        .filter(|range| range.count > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_the_user_s_by_name_or_id_in_file_order() {
        let text = "other:100000:65536\nalice:200000:65536\n# junk\n1001:300000:10\nbob:x:1\nalice:400000:0\n";
        assert_eq!(
            subordinate_ranges(text, Some("alice"), 1001),
            vec![
                SubordinateRange {
                    start: 200000,
                    count: 65536
                },
                SubordinateRange {
                    start: 300000,
                    count: 10
                },
            ]
        );
        assert_eq!(subordinate_ranges(text, None, 42), vec![]);
    }
}
