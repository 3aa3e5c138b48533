//! containers/storage's lock files: POSIX record locks (`fcntl(F_SETLKW)`) over the whole
//! file, shared for readers and exclusive for writers, and, after a write, a 64-byte
//! "last writer" token written at the start of the file so that other processes know to
//! reload (c/storage's `pkg/lockfile`: little-endian nanoseconds, a per-process counter and
//! the PID, then random bytes).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use rustix::fs::{fcntl_lock, FlockOperation};
use skopos_core::Result;

/// The length of the last-writer token.
const TOKEN_LENGTH: usize = 64;

static WRITE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A held lock; released when dropped (closing the file releases a record lock).
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
    exclusive: bool,
}

impl Lock {
    /// Take the lock file at `path` (created, mode 0644, as c/storage creates it), waiting
    /// while another process holds it in a conflicting mode.
    pub fn acquire(path: &Path, exclusive: bool) -> Result<Lock> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .with_context(|| format!("opening lock file {}", path.display()))?;
        let operation = if exclusive {
            FlockOperation::LockExclusive
        } else {
            FlockOperation::LockShared
        };
        fcntl_lock(&file, operation).with_context(|| format!("locking {}", path.display()))?;
        Ok(Lock {
            file,
            path: path.to_path_buf(),
            exclusive,
        })
    }

    /// Record that this process changed what the lock protects (c/storage's
    /// `RecordWrite`).
    pub fn record_write(&self) -> Result<()> {
        debug_assert!(self.exclusive, "a write recorded under a shared lock");
        let mut token = [0u8; TOKEN_LENGTH];
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos() as u64)
            .unwrap_or_default();
        token[0..8].copy_from_slice(&nanos.to_le_bytes());
        let counter = WRITE_COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
        token[8..16].copy_from_slice(&counter.to_le_bytes());
        token[16..20].copy_from_slice(&std::process::id().to_le_bytes());
        getrandom::fill(&mut token[20..])
            .map_err(|error| anyhow::anyhow!("generating a lock token: {error}"))?;
        self.file
            .write_all_at(&token, 0)
            .with_context(|| format!("writing lock file {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_write_leaves_c_storage_s_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/layers.lock");
        let lock = Lock::acquire(&path, true).unwrap();
        lock.record_write().unwrap();
        let token = std::fs::read(&path).unwrap();
        assert_eq!(token.len(), TOKEN_LENGTH);
        assert_eq!(&token[16..20], &std::process::id().to_le_bytes());
        drop(lock);
        Lock::acquire(&path, false).unwrap();
    }
}
