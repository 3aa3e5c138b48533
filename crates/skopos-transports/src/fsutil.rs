//! File-system plumbing shared by the file-based transports: error messages worded like
//! Go's (skopeo prints `open PATH: no such file or directory`), streaming blobs to and from
//! files (from the async task while the page cache takes the I/O, on a blocking thread once
//! it would wait for the disk), atomic small-file writes, and advisory directory locks.

use std::fs::{self, File, OpenOptions, Permissions};
use std::future::Future;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::{anyhow, Context as _};
use rustix::fs::FlockOperation;
use skopos_core::digest::{Algorithm, Hasher};
use skopos_core::go::text::go_errno_text;
use skopos_core::read::read_full;
use skopos_core::writeback::Writeback;
use skopos_core::{BlobInfo, BlobReader, Digest, FileBlob, Result, WrittenBlob};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

/// Size of every read and write of blob data: 64 KiB keeps system calls cheap next to
/// hashing (256 KiB was no faster) while six blobs in flight hold about 1.5 MiB of chunks
/// instead of 6.
pub(crate) const IO_CHUNK_SIZE: usize = 64 * 1024;

/// How many chunks may wait between the async side and the blocking thread of one blob. One
/// is enough for the disk and the network to overlap (the thread works on the next chunk
/// meanwhile); each more costs 64 KiB per blob copied in parallel.
const CHUNKS_IN_FLIGHT: usize = 1;

/// Mode of files written whole (manifests, `index.json`, `version`), before the umask,
/// as Go's `os.WriteFile(path, data, 0644)`.
pub(crate) const FILE_MODE: u32 = 0o644;

/// Mode of stored blobs: set explicitly (not subject to the umask), as skopeo does with
/// `Chmod(0644)` on its temporary blob file.
const BLOB_MODE: u32 = 0o644;

/// Mode of created directories, before the umask (Go's `os.MkdirAll(path, 0755)`).
const DIR_MODE: u32 = 0o755;

/// The text Go gives an I/O error: `no such file or directory` rather than Rust's
/// `No such file or directory (os error 2)`, also when tempfile has wrapped the error to add
/// the path (which callers print themselves).
pub(crate) fn go_error_text(err: &io::Error) -> String {
    if err.raw_os_error().is_some() {
        return go_errno_text(err);
    }
    let wrapped = err
        .get_ref()
        .and_then(|inner| inner.source())
        .and_then(|source| source.downcast_ref::<io::Error>());
    match wrapped {
        Some(original) => go_error_text(original),
        None => err.to_string(),
    }
}

/// An error for `op` on `path`, worded like Go's `*PathError` (`open PATH: reason`).
pub(crate) fn path_error(op: &str, path: &Path, err: &io::Error) -> anyhow::Error {
    anyhow!("{op} {}: {}", path.display(), go_error_text(err))
}

/// Read an OCI layout's `index.json`, refused unread when it is larger than
/// [`skopos_core::limits::MAX_OCI_INDEX`].
pub(crate) async fn read_index_file(path: &Path) -> Result<Vec<u8>> {
    skopos_core::limits::read_file_at_most(path, skopos_core::limits::MAX_OCI_INDEX)
        .await
        .map_err(|err| path_error("open", path, &err))
}

/// Read a manifest file, refused unread when it is larger than
/// [`skopos_core::limits::MAX_MANIFEST_BODY`].
pub(crate) async fn read_manifest_file(path: &Path) -> Result<Vec<u8>> {
    skopos_core::limits::read_file_at_most(path, skopos_core::limits::MAX_MANIFEST_BODY)
        .await
        .map_err(|err| {
            if err
                .get_ref()
                .is_some_and(|inner| inner.is::<skopos_core::limits::LimitExceeded>())
            {
                anyhow!("reading manifest {}: {err}", path.display())
            } else {
                path_error("open", path, &err)
            }
        })
}

/// Create `path` and its missing parents with mode 0755 (less the umask).
/// Where a local destination keeps blobs partly downloaded by a killed copy (see
/// [`skopos_core::ImageDestination::partial_blob_dir`]): in `tmpdir` (`--tmpdir`), one directory per
/// user, since the default `/var/tmp` is shared.
pub(crate) fn partial_blob_dir(tmpdir: &Path) -> PathBuf {
    tmpdir.join(format!(
        "skopos-partial-blobs-{}",
        rustix::process::getuid().as_raw()
    ))
}

pub(crate) fn create_dir_all(path: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
        .map_err(|err| path_error("mkdir", path, &err))
}

/// Write `bytes` to `path` atomically: a temporary file in the same directory, flushed to
/// disk, then renamed over `path`. A new file gets mode 0644 less the umask; an existing
/// file's mode is kept, as it is when Go's `os.WriteFile` rewrites a file.
pub(crate) fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent_dir(path);
    let existing_mode = match fs::metadata(path) {
        Ok(meta) => Some(meta.permissions().mode() & 0o7777),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) => return Err(path_error("stat", path, &err)),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(Permissions::from_mode(FILE_MODE))
        .tempfile_in(dir)
        .map_err(|err| path_error("create a temporary file in", dir, &err))?;
    if let Some(mode) = existing_mode {
        temp.as_file()
            .set_permissions(Permissions::from_mode(mode))
            .map_err(|err| path_error("chmod", temp.path(), &err))?;
    }
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|err| path_error("write", temp.path(), &err))?;
    temp.persist(path)
        .map_err(|err| path_error("rename to", path, &err.error))?;
    Ok(())
}

/// Write `bytes` to a new file `path` (mode 0644 less the umask), replacing any old one.
/// For files in a private staging directory, where atomicity does not matter.
pub(crate) fn write_new_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(|err| path_error("open", path, &err))?;
    file.write_all(bytes)
        .map_err(|err| path_error("write", path, &err))
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// If a blob file exists at `path` (with `info`'s size, when known), what it holds.
pub(crate) fn existing_blob(path: &Path, info: &BlobInfo) -> Result<Option<WrittenBlob>> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() && info.size.is_none_or(|size| size == meta.len()) => {
            Ok(Some(WrittenBlob::new(info.digest.clone(), meta.len())))
        }
        Ok(_) => Ok(None),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(path_error("stat", path, &err)),
    }
}

/// Open a blob file for streaming ([`FileRange`] over the whole file).
pub(crate) async fn open_blob(path: &Path) -> Result<(BlobReader, Option<u64>)> {
    let (reader, file) = open_blob_with_file(path).await?;
    Ok((reader, Some(file.length)))
}

/// [`open_blob`], and the whole file the stream reads, for a destination that sends it
/// without reading it ([`skopos_core::ImageSource::blob_with_file`]).
pub(crate) async fn open_blob_with_file(path: &Path) -> Result<(BlobReader, FileBlob)> {
    let owned = path.to_path_buf();
    let (file, size) = blocking(move || {
        let file = File::open(&owned).map_err(|err| path_error("open", &owned, &err))?;
        let size = file
            .metadata()
            .map_err(|err| path_error("stat", &owned, &err))?
            .len();
        Ok((file, size))
    })
    .await?;
    let file = Arc::new(file);
    let reader = FileRange::new(Arc::clone(&file), 0, size);
    let whole = FileBlob {
        file,
        offset: 0,
        length: size,
    };
    Ok((Box::pin(reader), whole))
}

/// How a [`FileRange`] words a read error; by default it passes the error on unchanged.
type ReadErrorText = Box<dyn Fn(io::Error) -> io::Error + Send + Sync>;

/// A stream of `length` bytes of a file from `offset`: blobs in `dir:` and `oci:` layouts,
/// members of archives. Bytes in the page cache are read straight into the caller's buffer
/// from the async task (`preadv2` with `RWF_NOWAIT`: a memory copy, which costs less than
/// the two context switches of handing each chunk over from a reading thread; a push spent
/// a tenth of its CPU on them). Only a read that would wait for the disk runs on a blocking
/// thread, one chunk at a time, while the kernel's read-ahead fetches what follows. A file
/// that ends before `length` bytes is an `UnexpectedEof` error.
pub(crate) struct FileRange {
    file: Arc<File>,
    offset: u64,
    remaining: u64,
    /// False once the file system has said it cannot read without waiting (`EOPNOTSUPP`):
    /// every read then goes to a blocking thread.
    nowait_supported: bool,
    /// A read that has to wait for the disk, running on a blocking thread.
    waiting: Option<tokio::task::JoinHandle<io::Result<Vec<u8>>>>,
    /// What that read brought in, not yet handed out past `position`.
    chunk: Vec<u8>,
    position: usize,
    error_text: ReadErrorText,
}

impl FileRange {
    pub(crate) fn new(file: Arc<File>, offset: u64, length: u64) -> FileRange {
        FileRange {
            file,
            offset,
            remaining: length,
            nowait_supported: true,
            waiting: None,
            chunk: Vec::new(),
            position: 0,
            error_text: Box::new(|err| err),
        }
    }

    /// Word read errors with `error_text` (which names the file or archive member).
    pub(crate) fn with_error_text(
        mut self,
        error_text: impl Fn(io::Error) -> io::Error + Send + Sync + 'static,
    ) -> FileRange {
        self.error_text = Box::new(error_text);
        self
    }

    /// Read into `buf` what the page cache holds, without waiting. `Ok(false)` means the
    /// bytes are not there yet (or cannot be read this way).
    fn read_cached(&mut self, buf: &mut ReadBuf<'_>) -> io::Result<bool> {
        let want = usize::try_from(self.remaining)
            .map_or(buf.remaining(), |remaining| remaining.min(buf.remaining()));
        let unfilled = &mut buf.initialize_unfilled_to(want)[..want];
        loop {
            let flags = rustix::io::ReadWriteFlags::NOWAIT;
            match rustix::io::preadv2(
                &*self.file,
                &mut [io::IoSliceMut::new(unfilled)],
                self.offset,
                flags,
            ) {
                Ok(0) => return Err(truncated()),
                Ok(n) => {
                    buf.advance(n);
                    self.offset += n as u64;
                    self.remaining -= n as u64;
                    return Ok(true);
                }
                Err(rustix::io::Errno::AGAIN) => return Ok(false),
                Err(rustix::io::Errno::INTR) => {}
                // No RWF_NOWAIT for this file (or kernel): read on threads from now on.
                Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::NOSYS) => {
                    self.nowait_supported = false;
                    return Ok(false);
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Start reading the next chunk on a blocking thread.
    fn start_waiting_read(&mut self) {
        let file = Arc::clone(&self.file);
        let offset = self.offset;
        let length = usize::try_from(self.remaining)
            .map_or(IO_CHUNK_SIZE, |remaining| remaining.min(IO_CHUNK_SIZE));
        self.waiting = Some(tokio::task::spawn_blocking(move || {
            let mut chunk = vec![0; length];
            file.read_exact_at(&mut chunk, offset).map_err(|err| {
                if err.kind() == io::ErrorKind::UnexpectedEof {
                    truncated()
                } else {
                    err
                }
            })?;
            Ok(chunk)
        }));
    }
}

fn truncated() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "unexpected EOF")
}

impl AsyncRead for FileRange {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.position < this.chunk.len() {
            let available = &this.chunk[this.position..];
            let n = available.len().min(buf.remaining());
            buf.put_slice(&available[..n]);
            this.position += n;
            return Poll::Ready(Ok(()));
        }
        if let Some(waiting) = this.waiting.as_mut() {
            let result = match Pin::new(waiting).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(joined) => joined.unwrap_or_else(|err| Err(io::Error::other(err))),
            };
            this.waiting = None;
            let chunk = result.map_err(&this.error_text)?;
            this.offset += chunk.len() as u64;
            this.remaining -= chunk.len() as u64;
            let n = chunk.len().min(buf.remaining());
            buf.put_slice(&chunk[..n]);
            this.chunk = chunk;
            this.position = n;
            return Poll::Ready(Ok(()));
        }
        if this.remaining == 0 || buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if this.nowait_supported && this.read_cached(buf).map_err(&this.error_text)? {
            return Poll::Ready(Ok(()));
        }
        this.start_waiting_read();
        // Poll the new read at once, so that it registers this task for its wake-up.
        Pin::new(this).poll_read(cx, buf)
    }
}

/// Where [`store_blob`] puts a blob.
pub(crate) struct BlobPlacement {
    /// Directory for the temporary file; on the same file system as the final path.
    pub temp_dir: PathBuf,
    /// Name prefix of the temporary file (skopeo's `dir-put-blob` / `oci-put-blob`).
    pub temp_prefix: &'static str,
    /// The final path of the blob with this digest.
    pub final_path: Box<dyn FnOnce(&Digest) -> PathBuf + Send>,
    /// Whether the blob must be on disk before it is published. Not for a layout that
    /// lives only until it is archived: the archive is flushed instead, and the layout's
    /// files are deleted before the kernel would write them out.
    pub durable: bool,
    /// Whether `temp_dir` is created when missing (a shared blob directory may not exist
    /// yet). Not a destination's own staging directory, which exists as long as the
    /// destination does: a blocking thread still running after an abandoned copy removed
    /// it would make it again and leave it behind.
    pub make_temp_dir: bool,
}

impl BlobPlacement {
    /// A new temporary file in `temp_dir`. Blocks: call from a blocking thread.
    fn create_temp_file(&self) -> Result<tempfile::NamedTempFile> {
        if self.make_temp_dir {
            return create_temp_file(&self.temp_dir, self.temp_prefix);
        }
        tempfile::Builder::new()
            .prefix(self.temp_prefix)
            .tempfile_in(&self.temp_dir)
            .map_err(|err| path_error("create a temporary file in", &self.temp_dir, &err))
    }
}

enum Piece {
    Data(Vec<u8>),
    /// The stream ended cleanly: the blob may be published.
    End,
}

/// A blob in its temporary file, complete, not yet under its digest's name. Dropping it
/// removes the file.
#[derive(Debug)]
pub(crate) struct StagedBlob {
    temp: tempfile::TempPath,
    final_path: PathBuf,
    /// The open file while its content still has to be flushed to disk.
    unflushed: Option<File>,
}

impl StagedBlob {
    /// Where the blob goes when published.
    pub(crate) fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Hand the flush of the blob to disk to `flushes`, which starts it at once on a
    /// blocking thread; the destination waits for them all before its commit makes
    /// anything visible. The copy goes on with its next blob meanwhile instead of holding
    /// one of its parallel transfers while the disk catches up.
    pub(crate) fn flush_in_background(&mut self, flushes: &BackgroundFlushes) -> Result<()> {
        match self.unflushed.take() {
            Some(file) => flushes.start(file, self.temp.to_path_buf()),
            None => Ok(()),
        }
    }

    /// Rename the blob to its final name, flushing it to disk first unless that was
    /// handed to [`BackgroundFlushes`]. Blocks: call from a blocking thread.
    pub(crate) fn publish(self) -> Result<()> {
        if let Some(file) = &self.unflushed {
            file.sync_all()
                .map_err(|err| path_error("sync", &self.temp, &err))?;
        }
        // The blob's directory may not exist yet (an OCI layout's `blobs/sha256`). The
        // temporary file's own directory does, unless an abandoned copy removed it: that
        // must stay undone.
        let parent = parent_dir(&self.final_path);
        if Some(parent) != self.temp.parent() {
            create_dir_all(parent)?;
        }
        let final_path = self.final_path;
        self.temp
            .persist(&final_path)
            .map_err(|err| path_error("rename to", &final_path, &err.error))?;
        Ok(())
    }
}

/// Flushes of staged blobs to disk, each running on a blocking thread since it was
/// started, all waited for at once before a commit.
#[derive(Debug, Default)]
pub(crate) struct BackgroundFlushes {
    running: std::sync::Mutex<Vec<(PathBuf, tokio::task::JoinHandle<io::Result<()>>)>>,
}

impl BackgroundFlushes {
    /// Start flushing `file` (at `path`, for the error message). Needs a Tokio runtime.
    fn start(&self, file: File, path: PathBuf) -> Result<()> {
        let flushing = tokio::task::spawn_blocking(move || file.sync_all());
        self.running
            .lock()
            .map_err(|_| anyhow!("internal error: a poisoned lock"))?
            .push((path, flushing));
        Ok(())
    }

    /// Wait until every flush started so far has ended; the first failure, if any.
    pub(crate) async fn wait(&self) -> Result<()> {
        let running = std::mem::take(
            &mut *self
                .running
                .lock()
                .map_err(|_| anyhow!("internal error: a poisoned lock"))?,
        );
        for (path, flushing) in running {
            flushing
                .await
                .context("a file-system thread failed")?
                .map_err(|err| path_error("sync", &path, &err))?;
        }
        Ok(())
    }
}

/// Write `bytes` (a manifest with digest `digest`) into a staged blob, as [`stage_blob`]
/// stages a stream. Blocks: call from a blocking thread.
pub(crate) fn stage_bytes(
    bytes: &[u8],
    digest: &Digest,
    placement: BlobPlacement,
) -> Result<StagedBlob> {
    let mut temp = placement.create_temp_file()?;
    temp.write_all(bytes)
        .map_err(|err| path_error("write", temp.path(), &err))?;
    let (file, temp) = temp.into_parts();
    file.set_permissions(Permissions::from_mode(BLOB_MODE))
        .map_err(|err| path_error("chmod", &temp, &err))?;
    Ok(StagedBlob {
        temp,
        final_path: (placement.final_path)(digest),
        unflushed: placement.durable.then_some(file),
    })
}

/// Stream `stream` into a temporary file, make it mode 0644, hand its flush to disk to
/// `flushes` and rename it to its digest's path, but only once the stream has ended
/// without error; on any failure the temporary file is removed and nothing appears under
/// the blob's name. For a destination whose blobs are out of sight until a commit that
/// first waits for `flushes`. The digest is `expected`'s (the copy engine verifies the
/// stream) or, without one, computed here.
pub(crate) async fn store_blob(
    stream: BlobReader,
    expected: Option<&BlobInfo>,
    placement: BlobPlacement,
    flushes: &BackgroundFlushes,
) -> Result<WrittenBlob> {
    let (written, mut staged) = stage_blob(stream, expected, placement).await?;
    staged.flush_in_background(flushes)?;
    blocking(move || staged.publish()).await?;
    Ok(written)
}

/// Like [`store_blob`], but leave the complete blob in its temporary file, not yet
/// flushed, for the caller to publish (or drop) later: a destination that must not
/// change anything visible before its commit uses this.
pub(crate) async fn stage_blob(
    stream: BlobReader,
    expected: Option<&BlobInfo>,
    placement: BlobPlacement,
) -> Result<(WrittenBlob, StagedBlob)> {
    stage_blob_with(stream, expected, placement, thread_sleeps).await
}

/// A write into the page cache costs about what hashing the same bytes does, far less
/// than handing the bytes to another thread (two context switches per chunk: a pull spent
/// a fifth of its CPU on them). So a blob's chunks are written from the copy task itself,
/// until a write has to sleep: then the page cache has stopped absorbing them (dirty-page
/// throttling, a slow or network file system) and a blocking thread writes the rest, so
/// that the async threads keep serving the network meanwhile. `sleeps` counts the times
/// the calling thread has slept ([`thread_sleeps`]; tests pass their own).
async fn stage_blob_with(
    mut stream: BlobReader,
    expected: Option<&BlobInfo>,
    placement: BlobPlacement,
    sleeps: fn() -> u64,
) -> Result<(WrittenBlob, StagedBlob)> {
    let expected = expected.cloned();
    let hashed = expected.is_none();
    let (file, placement) = blocking(move || {
        let file = BlobFile::staged(placement.create_temp_file()?, hashed, placement.durable);
        Ok((file, placement))
    })
    .await?;
    let file = write_stream(&mut stream, file, sleeps).await?;
    blocking(move || file.finish(expected.as_ref(), placement.final_path)).await
}

/// The name of the file in which a destination stages blob `digest` for a copy that
/// writes it in place (see [`skopos_core::ImageDestination::staging_file`]): `prefix`
/// (hidden, and telling the destination's own entries apart) and the digest.
pub(crate) fn staging_file_name(prefix: &str, digest: &Digest) -> String {
    format!("{prefix}{}-{}", digest.algorithm().name(), digest.hex())
}

/// Stage the complete blob `info` that a copy wrote into `file` (a destination's
/// [`skopos_core::ImageDestination::staging_file`]) as [`stage_blob`] stages a stream:
/// mode 0644, flushed before it is published, under a fresh temporary name in
/// `placement.temp_dir` (renamed, not copied: the fixed name is free again at once, for
/// the next copy of the same blob). Blocks: call from a blocking thread.
pub(crate) fn stage_file(
    file: &Path,
    info: &BlobInfo,
    placement: BlobPlacement,
) -> Result<(WrittenBlob, StagedBlob)> {
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(file)
        .map_err(|err| path_error("open", file, &err))?;
    let size = opened
        .metadata()
        .map_err(|err| path_error("stat", file, &err))?
        .len();
    if let Some(expected) = info.size.filter(|expected| *expected != size) {
        return Err(anyhow!(
            "Size mismatch when copying {}, expected {expected}, got {size}",
            info.digest
        ));
    }
    opened
        .set_permissions(Permissions::from_mode(BLOB_MODE))
        .map_err(|err| path_error("chmod", file, &err))?;
    let temp = placement.create_temp_file()?.into_temp_path();
    fs::rename(file, &temp).map_err(|err| path_error("rename to", &temp, &err))?;
    let staged = StagedBlob {
        temp,
        final_path: (placement.final_path)(&info.digest),
        unflushed: placement.durable.then_some(opened),
    };
    Ok((WrittenBlob::new(info.digest.clone(), size), staged))
}

/// A stream written into a temporary file by [`spool`]; the file is removed when this is
/// dropped.
pub(crate) struct Spooled {
    /// The file, complete but not flushed to disk: a spooled copy does not outlive the
    /// process.
    pub(crate) temp: tempfile::NamedTempFile,
    /// How many bytes the stream had.
    pub(crate) size: u64,
    /// Their sha256 digest, when [`spool`] was asked for it.
    pub(crate) digest: Option<Digest>,
}

impl Spooled {
    /// The spooled bytes from the start, through a handle of their own; `self` must live
    /// until they are read.
    pub(crate) fn reader(&self) -> Result<FileRange> {
        let reopened = self
            .temp
            .reopen()
            .map_err(|err| path_error("open", self.temp.path(), &err))?;
        Ok(FileRange::new(Arc::new(reopened), 0, self.size))
    }
}

/// Why [`spool`] failed. Callers word it as the Go code they follow words it; the
/// conversion into an error gives the wording of skopos's own blob stores.
#[derive(Debug)]
pub(crate) enum SpoolError {
    /// Reading the stream failed.
    Read(io::Error),
    /// Writing the file at `path` failed.
    Write { path: PathBuf, error: io::Error },
    /// The thread writing the file failed or was cut off.
    Thread(anyhow::Error),
}

impl From<SpoolError> for anyhow::Error {
    fn from(err: SpoolError) -> anyhow::Error {
        match err {
            SpoolError::Read(error) => anyhow::Error::new(error).context("reading the blob stream"),
            SpoolError::Write { path, error } => path_error("write", &path, &error),
            SpoolError::Thread(error) => error,
        }
    }
}

/// Write all of `stream` into `temp`, hashing it (sha256) when `hashed`: how a destination
/// learns a blob's size and digest before it sends the blob anywhere, and how a source
/// turns a stream into a file it can read at any offset. The caller creates `temp` where
/// its policy says (`--tmpdir`, a store's own directory, …) and words the errors. Chunks
/// are written as [`stage_blob`] writes them: from this task while the page cache takes
/// them, then from a blocking thread.
pub(crate) async fn spool(
    mut stream: BlobReader,
    temp: tempfile::NamedTempFile,
    hashed: bool,
) -> std::result::Result<Spooled, SpoolError> {
    let file = BlobFile::new(temp, hashed);
    let BlobFile {
        temp, hasher, size, ..
    } = write_stream(&mut stream, file, thread_sleeps).await?;
    Ok(Spooled {
        temp,
        size,
        digest: hasher.map(Hasher::finish),
    })
}

/// Create a temporary file named `prefix…` in `dir`, and `dir` first if it is missing.
/// Blocks: call from a blocking thread.
pub(crate) fn create_temp_file(dir: &Path, prefix: &str) -> Result<tempfile::NamedTempFile> {
    // A shared blob directory may not exist yet.
    create_dir_all(dir)?;
    tempfile::Builder::new()
        .prefix(prefix)
        .tempfile_in(dir)
        .map_err(|err| path_error("create a temporary file in", dir, &err))
}

/// Write all of `stream` into `file`, from this task while writes do not sleep (see
/// [`stage_blob_with`]).
async fn write_stream(
    stream: &mut BlobReader,
    mut file: BlobFile,
    sleeps: fn() -> u64,
) -> std::result::Result<BlobFile, SpoolError> {
    let mut chunk = vec![0; IO_CHUNK_SIZE];
    loop {
        let filled = fill(stream, &mut chunk).await?;
        let sleeps_before = sleeps();
        file.write(&chunk[..filled])?;
        if filled < chunk.len() {
            return Ok(file);
        }
        if sleeps() != sleeps_before {
            return write_on_thread(stream, file).await;
        }
    }
}

/// How many times the calling thread has given up the CPU to wait (its voluntary context
/// switches; being preempted does not count).
fn thread_sleeps() -> u64 {
    // SAFETY: `rusage` is plain integers, for which all zeroes is a valid value, and
    // getrusage only writes into the one it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        // Cannot fail with these arguments; were it to, nothing would look like a sleep.
        libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
        usage
    };
    u64::try_from(usage.ru_nvcsw).unwrap_or(0)
}

/// Read from `stream` until `chunk` is full or the stream ends; how much was read.
async fn fill(stream: &mut BlobReader, chunk: &mut [u8]) -> std::result::Result<usize, SpoolError> {
    read_full(stream, chunk).await.map_err(SpoolError::Read)
}

/// Write the rest of `stream` into `file` from a blocking thread.
async fn write_on_thread(
    stream: &mut BlobReader,
    file: BlobFile,
) -> std::result::Result<BlobFile, SpoolError> {
    let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let writer = tokio::task::spawn_blocking(move || file.write_from(receiver));
    let read_result = pump(stream, &sender).await;
    drop(sender);
    let written = writer.await.map_err(|err| {
        SpoolError::Thread(anyhow::Error::new(err).context("the blob-writing thread failed"))
    })?;
    // A stream error explains an aborted write better than the writer's own complaint.
    read_result?;
    written
}

/// Move the stream into `sender` in large pieces, ending with [`Piece::End`] only when
/// the stream ended cleanly. Stops quietly when the writer has gone (it holds the error).
async fn pump(
    stream: &mut BlobReader,
    sender: &mpsc::Sender<Piece>,
) -> std::result::Result<(), SpoolError> {
    loop {
        let mut chunk = vec![0; IO_CHUNK_SIZE];
        let filled = fill(stream, &mut chunk).await?;
        let at_end = filled < chunk.len();
        chunk.truncate(filled);
        if !chunk.is_empty() && sender.send(Piece::Data(chunk)).await.is_err() {
            return Ok(());
        }
        if at_end {
            // If the writer has already failed, its error is what the caller reports.
            let _ = sender.send(Piece::End).await;
            return Ok(());
        }
    }
}

/// A blob's temporary file while it is written: removed when dropped unfinished.
struct BlobFile {
    temp: tempfile::NamedTempFile,
    /// Hashes the content when nobody has said what its digest is.
    hasher: Option<Hasher>,
    size: u64,
    /// For a file flushed to disk when finished (a staged blob, not a spooled one): its
    /// writeout starts as it grows.
    writeback: Option<Writeback>,
}

impl BlobFile {
    /// `temp` as the file of a staged blob, flushed to disk when finished if `durable`.
    fn staged(temp: tempfile::NamedTempFile, hashed: bool, durable: bool) -> BlobFile {
        BlobFile {
            writeback: durable.then(Writeback::default),
            ..BlobFile::new(temp, hashed)
        }
    }

    fn new(temp: tempfile::NamedTempFile, hashed: bool) -> BlobFile {
        BlobFile {
            temp,
            hasher: hashed.then(|| Algorithm::Sha256.hasher()),
            size: 0,
            writeback: None,
        }
    }

    fn write(&mut self, bytes: &[u8]) -> std::result::Result<(), SpoolError> {
        self.temp
            .write_all(bytes)
            .map_err(|error| SpoolError::Write {
                path: self.temp.path().to_path_buf(),
                error,
            })?;
        if let Some(hasher) = self.hasher.as_mut() {
            hasher.update(bytes);
        }
        self.size += bytes.len() as u64;
        if let Some(writeback) = self.writeback.as_mut() {
            writeback.wrote(self.temp.as_file(), self.size);
        }
        Ok(())
    }

    /// Write what arrives on `receiver` until [`Piece::End`]. Blocks: call from a blocking
    /// thread.
    fn write_from(
        mut self,
        mut receiver: mpsc::Receiver<Piece>,
    ) -> std::result::Result<BlobFile, SpoolError> {
        loop {
            match receiver.blocking_recv() {
                Some(Piece::Data(chunk)) => self.write(&chunk)?,
                Some(Piece::End) => return Ok(self),
                // Dropping `self` removes the partial file.
                None => {
                    return Err(SpoolError::Thread(anyhow!(
                        "the blob stream ended with an error"
                    )))
                }
            }
        }
    }

    /// Check the size and make the file mode 0644, ready to be flushed and published.
    /// Blocks: call from a blocking thread.
    fn finish(
        self,
        expected: Option<&BlobInfo>,
        final_path: Box<dyn FnOnce(&Digest) -> PathBuf + Send>,
    ) -> Result<(WrittenBlob, StagedBlob)> {
        let size = self.size;
        let digest = match (self.hasher, expected) {
            (Some(hasher), _) => hasher.finish(),
            (None, Some(info)) => info.digest.clone(),
            (None, None) => return Err(anyhow!("internal error: a blob with no digest")),
        };
        if let Some(expected_size) = expected.and_then(|info| info.size) {
            if expected_size != size {
                return Err(anyhow!(
                    "Size mismatch when copying {digest}, expected {expected_size}, got {size}"
                ));
            }
        }
        let (file, temp) = self.temp.into_parts();
        file.set_permissions(Permissions::from_mode(BLOB_MODE))
            .map_err(|err| path_error("chmod", &temp, &err))?;
        let staged = StagedBlob {
            temp,
            final_path: final_path(&digest),
            // A file whose writeout started as it grew is one to flush.
            unflushed: self.writeback.is_some().then_some(file),
        };
        Ok((WrittenBlob::new(digest, size), staged))
    }
}

/// An advisory lock (`flock`) on a directory, released when dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    _handle: File,
}

impl DirLock {
    /// Wait for an exclusive lock on `dir`. Blocks: call from a blocking thread.
    pub(crate) fn exclusive(dir: &Path) -> Result<DirLock> {
        let handle = File::open(dir).map_err(|err| path_error("open", dir, &err))?;
        rustix::fs::flock(&handle, FlockOperation::LockExclusive)
            .map_err(|err| path_error("lock", dir, &io::Error::from(err)))?;
        Ok(DirLock { _handle: handle })
    }

    /// An exclusive lock on `dir` if nobody else holds one.
    pub(crate) fn try_exclusive(dir: &Path) -> Result<Option<DirLock>> {
        let handle = File::open(dir).map_err(|err| path_error("open", dir, &err))?;
        match rustix::fs::flock(&handle, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(DirLock { _handle: handle })),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(err) => Err(path_error("lock", dir, &io::Error::from(err))),
        }
    }
}

/// Counts the bytes that pass.
pub(crate) struct CountingReader<R> {
    /// The stream being counted.
    pub(crate) inner: R,
    /// Bytes read so far.
    pub(crate) count: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for CountingReader<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        self.count
            .fetch_add(read as u64, std::sync::atomic::Ordering::Relaxed);
        result
    }
}

/// Run blocking file-system work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .context("a file-system thread failed")?
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn io_errors_read_like_go() {
        let err = io::Error::from_raw_os_error(2);
        assert_eq!(go_error_text(&err), "no such file or directory");
        let missing = Path::new("/nonexistent-skopos-test-dir");
        let wrapped = tempfile::tempfile_in(missing).unwrap_err();
        assert_eq!(go_error_text(&wrapped), "no such file or directory");
        assert_eq!(
            path_error("open", Path::new("x/index.json"), &err).to_string(),
            "open x/index.json: no such file or directory"
        );
    }

    #[tokio::test]
    async fn blob_reader_returns_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        // More than two chunks, not a multiple of the chunk size.
        let data: Vec<u8> = (0..(2 * IO_CHUNK_SIZE + 12345))
            .map(|i| (i % 251) as u8)
            .collect();
        fs::write(&path, &data).unwrap();
        let (mut reader, size) = open_blob(&path).await.unwrap();
        assert_eq!(size, Some(data.len() as u64));
        let mut read = Vec::new();
        reader.read_to_end(&mut read).await.unwrap();
        assert!(read == data);
    }

    fn patterned(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    /// Everything `reader` yields, or its error, read with a small buffer so that reads
    /// end inside chunks.
    async fn read_all(mut reader: FileRange) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0; 10_000];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[tokio::test]
    async fn a_file_range_reads_the_range_from_the_cache_or_from_a_thread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive");
        let data = patterned(3 * IO_CHUNK_SIZE + 999);
        fs::write(&path, &data).unwrap();
        let file = Arc::new(File::open(&path).unwrap());
        let (offset, length) = (12_345, 2 * IO_CHUNK_SIZE + 500);
        let wanted = &data[offset..offset + length];

        let cached = FileRange::new(Arc::clone(&file), offset as u64, length as u64);
        assert!(read_all(cached).await.unwrap() == wanted);

        // As on a file system without RWF_NOWAIT (or with nothing cached): chunks come from
        // blocking reads.
        let mut threaded = FileRange::new(Arc::clone(&file), offset as u64, length as u64);
        threaded.nowait_supported = false;
        let mut first = [0; 100];
        threaded.read_exact(&mut first).await.unwrap();
        assert_eq!(threaded.chunk.len(), IO_CHUNK_SIZE, "read by a thread");
        let mut read = first.to_vec();
        read.extend(read_all(threaded).await.unwrap());
        assert!(read == wanted);
    }

    #[tokio::test]
    async fn a_file_range_past_the_end_of_the_file_is_an_unexpected_eof() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short");
        fs::write(&path, patterned(IO_CHUNK_SIZE + 10)).unwrap();
        let file = Arc::new(File::open(&path).unwrap());
        for nowait_supported in [true, false] {
            let mut range = FileRange::new(Arc::clone(&file), 5, 2 * IO_CHUNK_SIZE as u64)
                .with_error_text(|err| io::Error::new(err.kind(), format!("reading x: {err}")));
            range.nowait_supported = nowait_supported;
            let err = read_all(range).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
            assert_eq!(err.to_string(), "reading x: unexpected EOF");
        }
    }

    /// A `sleeps` for [`stage_blob_with`] by which every write slept; counts its calls.
    fn every_write_sleeps() -> u64 {
        SLEEPS_ASKED.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
    static SLEEPS_ASKED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

    fn placement_in(dir: &Path) -> BlobPlacement {
        let final_path = dir.join("blob");
        BlobPlacement {
            temp_dir: dir.join("tmp"),
            temp_prefix: "test-put-blob",
            final_path: Box::new(move |_| final_path),
            durable: true,
            make_temp_dir: true,
        }
    }

    struct FailingReader;

    impl AsyncRead for FailingReader {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Ready(Err(io::Error::other("connection reset")))
        }
    }

    #[tokio::test]
    async fn a_blob_whose_write_slept_is_finished_by_a_blocking_thread() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..(3 * IO_CHUNK_SIZE + 777))
            .map(|i| (i % 253) as u8)
            .collect();
        let stream: BlobReader = Box::pin(io::Cursor::new(data.clone()));
        let (written, staged) =
            stage_blob_with(stream, None, placement_in(dir.path()), every_write_sleeps)
                .await
                .unwrap();
        // Asked around the first write only: the thread wrote the other three chunks.
        assert_eq!(SLEEPS_ASKED.load(std::sync::atomic::Ordering::Relaxed), 2);
        let mut hasher = Algorithm::Sha256.hasher();
        hasher.update(&data);
        assert_eq!(written.digest, hasher.finish());
        assert_eq!(written.size, data.len() as u64);
        staged.publish().unwrap();
        assert!(fs::read(dir.path().join("blob")).unwrap() == data);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_stored_blob_s_flush_runs_on_until_the_commit_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let data = patterned(IO_CHUNK_SIZE + 11);
        let stream: BlobReader = Box::pin(io::Cursor::new(data.clone()));
        let flushes = BackgroundFlushes::default();
        let written = store_blob(stream, None, placement_in(dir.path()), &flushes)
            .await
            .unwrap();
        assert_eq!(written.size, data.len() as u64);
        // Stored under its name while its flush was handed on, not waited for.
        assert!(fs::read(dir.path().join("blob")).unwrap() == data);
        let mode = fs::metadata(dir.path().join("blob"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, BLOB_MODE);
        assert_eq!(flushes.running.lock().unwrap().len(), 1);
        flushes.wait().await.unwrap();
        assert!(flushes.running.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_staged_blob_not_handed_to_background_flushes_is_flushed_when_published() {
        let dir = tempfile::tempdir().unwrap();
        let data = patterned(100);
        let stream: BlobReader = Box::pin(io::Cursor::new(data.clone()));
        let (_, staged) = stage_blob(stream, None, placement_in(dir.path()))
            .await
            .unwrap();
        assert!(staged.unflushed.is_some());
        blocking(move || staged.publish()).await.unwrap();
        assert!(fs::read(dir.path().join("blob")).unwrap() == data);
    }

    #[tokio::test]
    async fn a_blob_of_a_layout_that_is_only_archived_is_not_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let data = patterned(IO_CHUNK_SIZE + 3);
        let stream: BlobReader = Box::pin(io::Cursor::new(data.clone()));
        let placement = BlobPlacement {
            durable: false,
            ..placement_in(dir.path())
        };
        let flushes = BackgroundFlushes::default();
        store_blob(stream, None, placement, &flushes).await.unwrap();
        assert!(fs::read(dir.path().join("blob")).unwrap() == data);
        assert!(flushes.running.lock().unwrap().is_empty());
        let placement = BlobPlacement {
            durable: false,
            ..placement_in(dir.path())
        };
        let manifest = b"{}";
        let staged = stage_bytes(manifest, &Digest::sha256_of(manifest), placement).unwrap();
        assert!(staged.unflushed.is_none());
    }

    /// A destination's own staging directory, where blobs are staged and published.
    fn staging_placement(staging: &Path) -> BlobPlacement {
        let final_path = staging.join("blob");
        BlobPlacement {
            temp_dir: staging.to_path_buf(),
            temp_prefix: "test-put-blob",
            final_path: Box::new(move |_| final_path),
            durable: true,
            make_temp_dir: false,
        }
    }

    #[tokio::test]
    async fn blob_threads_outliving_an_abandoned_copy_do_not_make_its_staging_dir_again() {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("staging");
        fs::create_dir(&staging).unwrap();
        let stream: BlobReader = Box::pin(io::Cursor::new(patterned(10)));
        let (_, staged) = stage_blob(stream, None, staging_placement(&staging))
            .await
            .unwrap();
        // The copy is abandoned: its destination removes the staging directory while
        // a blocking thread has yet to publish the blob, and another to start one.
        fs::remove_dir_all(&staging).unwrap();
        assert!(staged.publish().is_err());
        let stream: BlobReader = Box::pin(io::Cursor::new(patterned(10)));
        assert!(stage_blob(stream, None, staging_placement(&staging))
            .await
            .is_err());
        assert!(!staging.exists());
    }

    #[tokio::test]
    async fn a_stream_error_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let data = vec![7u8; 2 * IO_CHUNK_SIZE + 5];
        let stream: BlobReader =
            Box::pin(AsyncReadExt::chain(io::Cursor::new(data), FailingReader));
        let err = stage_blob(stream, None, placement_in(dir.path()))
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("connection reset"), "{err:#}");
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert!(!dir.path().join("blob").exists());
    }

    #[tokio::test]
    async fn a_spool_hashes_when_asked_and_reads_back_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let data = patterned(2 * IO_CHUNK_SIZE + 3);
        for hashed in [true, false] {
            let temp = create_temp_file(&dir.path().join("spool"), "test-spool").unwrap();
            let stream: BlobReader = Box::pin(io::Cursor::new(data.clone()));
            let spooled = spool(stream, temp, hashed).await.unwrap();
            assert_eq!(spooled.size, data.len() as u64);
            let expected = hashed.then(|| {
                let mut hasher = Algorithm::Sha256.hasher();
                hasher.update(&data);
                hasher.finish()
            });
            assert_eq!(spooled.digest, expected);
            assert!(read_all(spooled.reader().unwrap()).await.unwrap() == data);
            drop(spooled);
            assert_eq!(fs::read_dir(dir.path().join("spool")).unwrap().count(), 0);
        }
    }

    #[tokio::test]
    async fn a_spool_says_whether_the_stream_or_the_file_failed() {
        let dir = tempfile::tempdir().unwrap();
        let stream: BlobReader = Box::pin(FailingReader);
        let temp = create_temp_file(dir.path(), "test-spool").unwrap();
        match spool(stream, temp, true).await {
            Err(SpoolError::Read(err)) => assert_eq!(err.to_string(), "connection reset"),
            other => panic!("not a read error: {:?}", other.map(|spooled| spooled.size)),
        }
        // A handle that cannot write stands for a full or failing disk.
        let temp = create_temp_file(dir.path(), "test-spool").unwrap();
        let read_only = File::open(temp.path()).unwrap();
        let temp = tempfile::NamedTempFile::from_parts(read_only, temp.into_temp_path());
        let path = temp.path().to_path_buf();
        let stream: BlobReader = Box::pin(io::Cursor::new(vec![1u8; 10]));
        match spool(stream, temp, true).await {
            Err(SpoolError::Write { path: failed, .. }) => assert_eq!(failed, path),
            other => panic!("not a write error: {:?}", other.map(|spooled| spooled.size)),
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn atomic_write_keeps_an_existing_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.json");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        write_file_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Only the file itself is left: no temporary file.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
