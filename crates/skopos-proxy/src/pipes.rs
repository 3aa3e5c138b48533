//! Pipes to the client. The read end travels in the reply; a task writes the payload into
//! the write end while the server goes on answering requests. For `FinishPipe` pipes the
//! write end stays open until `FinishPipe`, which waits for the task and reports its error
//! (so a digest mismatch found at the end of a blob reaches the client there); `GetRawBlob`
//! closes its pipes itself and reports errors on a second pipe.

use std::io;
use std::os::fd::{AsRawFd as _, OwnedFd};

use anyhow::anyhow;
use rustix::pipe::PipeFlags;
use skopos_core::go::text::go_errno_text;
use skopos_core::{BlobReader, Digest};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::unix::pipe::Sender;
use tokio::task::JoinHandle;

use crate::wire::{ErrorCode, PipeErrorReport};

/// Bytes moved per read while streaming a blob.
const CHUNK_SIZE: usize = 128 * 1024;

/// Writing to a client's pipe failed; EPIPE (the client closed its end) gets its own
/// error code.
#[derive(Debug)]
pub struct PipeWriteError(io::Error);

impl PipeWriteError {
    /// Whether the client closed the read end.
    pub fn is_broken_pipe(&self) -> bool {
        self.0.kind() == io::ErrorKind::BrokenPipe
    }
}

impl std::fmt::Display for PipeWriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Go's *PathError for a pipe's write end.
        write!(f, "write |1: {}", go_errno_text(&self.0))
    }
}

impl std::error::Error for PipeWriteError {}

/// A new pipe: the read end for the client, the write end for a writer task.
fn new_pipe() -> anyhow::Result<(OwnedFd, Sender)> {
    let (read_end, write_end) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
        .map_err(|errno| anyhow!("pipe2: {}", go_errno_text(&errno.into())))?;
    Ok((read_end, Sender::from_owned_fd(write_end)?))
}

/// What a `FinishPipe` writer task ends with: the write end (closed only by `FinishPipe`)
/// and the outcome of writing.
pub struct WriterOutcome {
    write_end: Sender,
    result: anyhow::Result<()>,
}

/// A pipe whose writer task `FinishPipe` waits for.
pub struct ActivePipe {
    writer: JoinHandle<WriterOutcome>,
}

impl ActivePipe {
    /// Wait for the writer, close the write end and return the writer's error.
    pub async fn finish(self) -> anyhow::Result<()> {
        let outcome = self
            .writer
            .await
            .map_err(|err| anyhow!("pipe writer failed: {err}"))?;
        drop(outcome.write_end);
        outcome.result
    }
}

/// A pipe for the reply: the read end to send, the pipe id (the write end's descriptor
/// number, as skopeo numbers them) and the pipe to keep until `FinishPipe`.
pub struct StartedPipe {
    /// Sent to the client with the reply.
    pub read_end: OwnedFd,
    /// The reply's `pipeid`.
    pub id: u32,
    /// Kept by the server until `FinishPipe`.
    pub pipe: ActivePipe,
}

/// A pipe that delivers `bytes`.
pub fn bytes_pipe(bytes: Vec<u8>) -> anyhow::Result<StartedPipe> {
    start(move |mut write_end| async move {
        let result = write_end
            .write_all(&bytes)
            .await
            .map_err(|err| PipeWriteError(err).into());
        WriterOutcome { write_end, result }
    })
}

/// A pipe that streams a blob, checking it as skopeo's `GetBlob` does: the byte count
/// against `expected_size`, then the digest (whose error wins when both are wrong).
pub fn verified_blob_pipe(
    blob: BlobReader,
    expected: Digest,
    expected_size: u64,
) -> anyhow::Result<StartedPipe> {
    start(move |mut write_end| async move {
        let result = stream_verified(blob, &mut write_end, &expected, expected_size).await;
        WriterOutcome { write_end, result }
    })
}

fn start<F, Fut>(writer: F) -> anyhow::Result<StartedPipe>
where
    F: FnOnce(Sender) -> Fut,
    Fut: std::future::Future<Output = WriterOutcome> + Send + 'static,
{
    let (read_end, write_end) = new_pipe()?;
    let id = write_end.as_raw_fd() as u32;
    let writer = tokio::spawn(writer(write_end));
    Ok(StartedPipe {
        read_end,
        id,
        pipe: ActivePipe { writer },
    })
}

async fn stream_verified(
    mut blob: BlobReader,
    write_end: &mut Sender,
    expected: &Digest,
    expected_size: u64,
) -> anyhow::Result<()> {
    let mut hasher = expected.algorithm().hasher();
    let mut copied: u64 = 0;
    let mut chunk = vec![0u8; CHUNK_SIZE];
    loop {
        let read = blob.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        hasher.update(&chunk[..read]);
        write_end
            .write_all(&chunk[..read])
            .await
            .map_err(PipeWriteError)?;
        copied += read as u64;
    }
    let mut problem = None;
    if copied != expected_size {
        problem = Some(anyhow!(
            "expected {expected_size} bytes in blob, got {copied}"
        ));
    }
    if hasher.finish() != *expected {
        problem = Some(anyhow!("corrupted blob, expecting {expected}"));
    }
    problem.map_or(Ok(()), Err)
}

/// `GetRawBlob`'s pipes: the blob unverified on the first, and on the second either
/// nothing (success) or one JSON error report. Both close when the copy ends.
pub fn raw_blob_pipes(blob: BlobReader) -> anyhow::Result<(OwnedFd, OwnedFd)> {
    let (data_read, mut data_write) = new_pipe()?;
    let (error_read, mut error_write) = new_pipe()?;
    tokio::spawn(async move {
        let result = copy_raw(blob, &mut data_write).await;
        drop(data_write);
        if let Err(err) = result {
            tracing::debug!("Sending error to client: {err:#}");
            let report = PipeErrorReport {
                code: ErrorCode::of(&err).as_str(),
                message: format!("{err:#}"),
            };
            let written = match skopos_core::go::json::to_vec(&report) {
                Ok(bytes) => error_write.write_all(&bytes).await,
                Err(encode) => Err(io::Error::other(encode)),
            };
            if let Err(write) = written {
                tracing::debug!("Writing to client: {write}");
            }
        }
        tracing::debug!("Completed GetRawBlob operation");
    });
    Ok((data_read, error_read))
}

async fn copy_raw(mut blob: BlobReader, write_end: &mut Sender) -> anyhow::Result<()> {
    let mut chunk = vec![0u8; CHUNK_SIZE];
    loop {
        let read = blob.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        write_end
            .write_all(&chunk[..read])
            .await
            .map_err(PipeWriteError)?;
    }
}
