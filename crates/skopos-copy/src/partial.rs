//! Blobs partly read from a remote source, kept on disk so that a copy killed (SIGKILL,
//! power loss) and run again continues each one with an HTTP `Range` read instead of
//! starting over.
//!
//! The engine tees the source's raw bytes into a partial file while they stream on. A
//! destination that stages blobs in files of its own names one for the blob
//! ([`skopos_core::ImageDestination::staging_file`]): when the bytes reach the destination
//! unchanged, that file is the stored blob, handed over once verified, and each byte is
//! written once. Otherwise the file is `<dir>/<algorithm>-<hex>.partial` in the directory
//! the destination names (under `--tmpdir`), and the destination writes its own copy. The
//! next copy of the same blob first replays the file, then reads the rest from the source,
//! and the engine's usual check of the whole blob's digest decides: a match stores the
//! blob (and removes a file apart from the destination), a mismatch (a stale or damaged
//! file) removes it and the blob is read again from the start. An exclusive `flock` on the
//! file keeps two copies of the same blob from writing it at once (the second one reads
//! without keeping).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use rustix::fs::FlockOperation;
use skopos_core::writeback::Writeback;
use skopos_core::{BlobReader, Digest};
use tokio::io::{AsyncRead, AsyncReadExt as _, ReadBuf};

/// Blobs smaller than this are not kept: reading them again costs less than the file.
pub(crate) const MIN_KEPT_SIZE: u64 = 1 << 20;

/// An open, locked partial file of one blob.
pub(crate) struct PartialFile {
    file: File,
    path: PathBuf,
    /// The file is the destination's staging file, flushed to disk once complete (rather
    /// than a file apart, removed once the copy is over).
    staging: bool,
}

impl PartialFile {
    /// The partial file of `digest` in `dir`, created empty when there is none, or `None`
    /// when nothing can be kept: `dir` cannot be made or is not safely ours, or another
    /// copy holds the file. Never an error: keeping partial data is an optimisation.
    pub(crate) fn open(dir: &Path, digest: &Digest) -> Option<PartialFile> {
        if let Err(reason) = private_dir(dir) {
            tracing::debug!("Not keeping partial blobs in {}: {reason}", dir.display());
            return None;
        }
        let path = dir.join(format!(
            "{}-{}.partial",
            digest.algorithm().name(),
            digest.hex()
        ));
        PartialFile::open_at(path).map(|file| PartialFile {
            staging: false,
            ..file
        })
    }

    /// The partial file at `path` (a destination's staging file, in a directory the
    /// destination owns), created empty when there is none, or `None` when it cannot be
    /// opened or another copy holds it.
    pub(crate) fn open_at(path: PathBuf) -> Option<PartialFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path);
        match file {
            Ok(file) => PartialFile::locked(file, path),
            Err(err) => {
                tracing::debug!("Not keeping a partial blob in {}: {err}", path.display());
                None
            }
        }
    }

    /// `file`, just opened at `path`, once this copy holds its lock, or `None` when
    /// another copy holds it or `path` no longer names it.
    fn locked(file: File, path: PathBuf) -> Option<PartialFile> {
        if let Err(err) = rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
            tracing::debug!(
                "Not keeping a partial blob in {}: in use by another copy ({err})",
                path.display()
            );
            return None;
        }
        // Whoever removes an unused partial file (a destination's commit) takes the lock
        // first: the file opened may have been removed, or handed over, before this copy
        // locked it.
        let still_there = match (file.metadata(), fs::symlink_metadata(&path)) {
            (Ok(opened), Ok(named)) => opened.dev() == named.dev() && opened.ino() == named.ino(),
            _ => false,
        };
        if !still_there {
            tracing::debug!(
                "Not keeping a partial blob in {}: removed by another copy",
                path.display()
            );
            return None;
        }
        Some(PartialFile {
            file,
            path,
            staging: true,
        })
    }

    /// How many bytes the file holds.
    pub(crate) fn len(&self) -> u64 {
        self.file.metadata().map(|m| m.len()).unwrap_or(0)
    }

    /// Forget what the file holds (it no longer matches the blob).
    pub(crate) fn clear(&self) {
        if let Err(err) = self.file.set_len(0) {
            tracing::debug!("emptying {}: {err}", self.path.display());
        }
    }

    /// Remove the file: the blob is stored, or what the file held was wrong.
    pub(crate) fn remove(&self) {
        if let Err(err) = fs::remove_file(&self.path) {
            tracing::debug!("removing {}: {err}", self.path.display());
        }
    }
}

impl PartialFile {
    /// Append `tail` (the blob from byte `kept` on; `None` when the file holds it all) to
    /// the file's first `kept` bytes, reporting the bytes held so far to `progress`, and
    /// tell whether the file is then the whole blob: `size` bytes with `digest`.
    pub(crate) async fn complete(
        &self,
        kept: u64,
        tail: Option<BlobReader>,
        digest: &Digest,
        size: u64,
        progress: impl Fn(u64),
    ) -> io::Result<bool> {
        let mut hasher = digest.algorithm().hasher();
        let mut buffer = vec![0u8; CHUNK];
        let mut position = 0;
        while position < kept {
            let want = (kept - position).min(CHUNK as u64) as usize;
            let read = self.file.read_at(&mut buffer[..want], position)?;
            if read == 0 {
                return Ok(false);
            }
            hasher.update(&buffer[..read]);
            position += read as u64;
        }
        if let Some(mut tail) = tail {
            loop {
                let read = tail.read(&mut buffer).await?;
                if read == 0 {
                    break;
                }
                if position + read as u64 > size {
                    return Ok(false);
                }
                self.file.write_all_at(&buffer[..read], position)?;
                hasher.update(&buffer[..read]);
                position += read as u64;
                progress(position);
            }
        }
        Ok(position == size && hasher.finish() == *digest)
    }
}

/// Read and write size while completing a partial file.
const CHUNK: usize = 256 << 10;

/// Make `dir` (mode 0700) if needed and check that it is a directory of this user's that
/// nobody else can write to: in a shared `/var/tmp` another user could otherwise plant
/// files (or links) where the copy writes.
fn private_dir(dir: &Path) -> io::Result<()> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(err),
    }
    let metadata = fs::symlink_metadata(dir)?;
    let ours = metadata.uid() == rustix::process::geteuid().as_raw();
    if !metadata.is_dir() || !ours || metadata.permissions().mode() & 0o022 != 0 {
        return Err(io::Error::other(
            "not a directory that only this user can write to",
        ));
    }
    Ok(())
}

/// What a [`KeepingReader`] tells the engine once the copy is over.
#[derive(Clone, Default)]
pub(crate) struct KeepingState {
    /// The source's stream ended: everything was read, so a failed digest check means
    /// the bytes (the kept ones, or the source's) were wrong.
    reached_end: Arc<AtomicBool>,
    /// Why the file stopped growing before the end of the stream, if it did.
    write_error: Arc<Mutex<Option<String>>>,
}

impl KeepingState {
    /// Whether the whole blob went through.
    pub(crate) fn reached_end(&self) -> bool {
        self.reached_end.load(Ordering::SeqCst)
    }

    /// The error that stopped the file from growing, as one line naming the file: the
    /// file does not hold the whole stream then.
    pub(crate) fn write_error(&self) -> Option<String> {
        self.write_error.lock().ok().and_then(|error| error.clone())
    }
}

/// Replays the first `kept` bytes of a partial file, then reads `tail` (the source's
/// bytes from `kept` on) and appends them to the file as they pass.
pub(crate) struct KeepingReader {
    file: Arc<PartialFile>,
    /// Bytes of the file not replayed yet end here.
    kept: u64,
    /// The offset of the next byte, in the blob and in the file.
    position: u64,
    tail: BlobReader,
    /// False after a failed write: the file then stops growing (and is cut back to what
    /// was written whole), the stream goes on.
    appending: bool,
    /// For a staging file, flushed to disk once complete: its writeout starts as it grows.
    writeback: Option<Writeback>,
    state: KeepingState,
}

impl KeepingReader {
    /// A stream of the whole blob from the first `kept` bytes of `file` and `tail`.
    pub(crate) fn new(file: Arc<PartialFile>, kept: u64, tail: BlobReader) -> (Self, KeepingState) {
        let state = KeepingState::default();
        let writeback = file.staging.then(|| Writeback::starting_at(kept));
        let reader = KeepingReader {
            file,
            kept,
            position: 0,
            tail,
            appending: true,
            writeback,
            state: state.clone(),
        };
        (reader, state)
    }
}

impl AsyncRead for KeepingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.position < this.kept {
            // Replaying a local file (page cache, usually): read in place, as the engine
            // hashes in place.
            let want = (this.kept - this.position).min(buf.remaining() as u64) as usize;
            let slice = buf.initialize_unfilled_to(want);
            let read = this.file.file.read_at(slice, this.position)?;
            if read == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the partial blob file shrank while it was read",
                )));
            }
            buf.advance(read);
            this.position += read as u64;
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let poll = this.tail.as_mut().poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            let new = &buf.filled()[before..];
            if new.is_empty() {
                this.state.reached_end.store(true, Ordering::SeqCst);
            } else {
                if this.appending {
                    if let Err(err) = this.file.file.write_all_at(new, this.position) {
                        let error = format!("writing {}: {err}", this.file.path.display());
                        tracing::debug!("{error}; the rest is not kept");
                        if let Ok(mut first) = this.state.write_error.lock() {
                            *first = Some(error);
                        }
                        this.appending = false;
                        let _ = this.file.file.set_len(this.position);
                    } else if let Some(writeback) = this.writeback.as_mut() {
                        writeback.wrote(&this.file.file, this.position + new.len() as u64);
                    }
                }
                this.position += new.len() as u64;
            }
        }
        poll
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest() -> Digest {
        Digest::sha256_of(b"blob")
    }

    #[tokio::test]
    async fn replays_the_kept_bytes_then_appends_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let partials = dir.path().join("partials");
        let file = PartialFile::open(&partials, &digest()).unwrap();
        std::fs::write(&file.path, b"hello").unwrap();
        assert_eq!(file.len(), 5);
        let file = Arc::new(file);
        let tail: BlobReader = Box::pin(&b" world"[..]);
        let (mut reader, state) = KeepingReader::new(file.clone(), 5, tail);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"hello world");
        assert!(state.reached_end());
        assert_eq!(std::fs::read(&file.path).unwrap(), b"hello world");
        let mode = std::fs::metadata(&partials).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[tokio::test]
    async fn completing_checks_the_whole_file_against_the_digest() {
        let dir = tempfile::tempdir().unwrap();
        let whole = Digest::sha256_of(b"hello world");
        let file = PartialFile::open(dir.path(), &whole).unwrap();
        std::fs::write(&file.path, b"hello").unwrap();
        let tail: BlobReader = Box::pin(&b" world"[..]);
        let seen = std::sync::Mutex::new(Vec::new());
        let complete = file
            .complete(5, Some(tail), &whole, 11, |n| seen.lock().unwrap().push(n))
            .await
            .unwrap();
        assert!(complete);
        assert_eq!(seen.into_inner().unwrap(), [11]);
        assert_eq!(std::fs::read(&file.path).unwrap(), b"hello world");
        // Other kept bytes: the same tail no longer gives the digest.
        std::fs::write(&file.path, b"HELLO").unwrap();
        let tail: BlobReader = Box::pin(&b" world"[..]);
        assert!(!file
            .complete(5, Some(tail), &whole, 11, |_| {})
            .await
            .unwrap());
    }

    #[test]
    fn a_second_copy_of_the_same_blob_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let first = PartialFile::open(dir.path(), &digest()).unwrap();
        assert!(PartialFile::open(dir.path(), &digest()).is_none());
        first.remove();
        assert!(PartialFile::open(dir.path(), &digest()).is_some());
    }

    #[test]
    fn a_file_removed_before_it_was_locked_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("staging");
        let opened = File::create(&path).unwrap();
        // Another copy's commit removed the unused file, a third copy made a new one.
        fs::remove_file(&path).unwrap();
        File::create(&path).unwrap();
        assert!(PartialFile::locked(opened, path.clone()).is_none());
        assert!(PartialFile::open_at(path).is_some());
    }

    #[test]
    fn a_directory_others_can_write_to_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        assert!(PartialFile::open(dir.path(), &digest()).is_none());
    }
}
