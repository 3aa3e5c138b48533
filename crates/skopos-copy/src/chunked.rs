//! The zstd:chunked encoder as a stream: skopos-chunked's writer is synchronous (it walks
//! the tar once, writing frames as it goes), so it runs on a blocking thread that reads the
//! uncompressed layer through a bridge and hands the blob out in bounded pieces through a
//! channel, as containers/image runs its compressor in a goroutine behind a pipe. The
//! layer's annotations exist only once the whole blob has been written.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use skopos_core::BlobReader;
use tokio::io::AsyncRead;
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};

/// Compressed bytes handed on at a time.
const PIECE: usize = 128 << 10;
/// Pieces in flight between the encoder and the destination: with [`PIECE`], the bound on
/// buffered output.
const PIECES_IN_FLIGHT: usize = 4;

/// The annotations of a layer being encoded, set when its last byte has been handed out.
#[derive(Clone, Default)]
pub(crate) struct ChunkedAnnotations(Arc<Mutex<Option<BTreeMap<String, String>>>>);

impl ChunkedAnnotations {
    /// The annotations, once the encoder has finished (`None` before, or after a failure).
    pub(crate) fn get(&self) -> Option<BTreeMap<String, String>> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }
}

/// Hands written bytes to the channel in pieces of [`PIECE`] bytes.
struct ChannelWriter {
    sender: mpsc::Sender<io::Result<Bytes>>,
    piece: Vec<u8>,
}

impl ChannelWriter {
    fn send_piece(&mut self) -> io::Result<()> {
        if self.piece.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.piece, Vec::with_capacity(PIECE));
        self.sender
            .blocking_send(Ok(Bytes::from(piece)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the layer's reader is gone"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let taken = data.len().min(PIECE - self.piece.len());
        self.piece.extend_from_slice(&data[..taken]);
        if self.piece.len() == PIECE {
            self.send_piece()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_piece()
    }
}

/// `tar` (an uncompressed layer) compressed as zstd:chunked at `level`, and where its
/// annotations will be.
pub(crate) fn encode<R: AsyncRead + Send + Unpin + 'static>(
    tar: R,
    level: i32,
) -> (BlobReader, ChunkedAnnotations) {
    let (sender, mut receiver) = mpsc::channel::<io::Result<Bytes>>(PIECES_IN_FLIGHT);
    let annotations = ChunkedAnnotations::default();
    let slot = annotations.clone();
    let input = SyncIoBridge::new(tar);
    tokio::task::spawn_blocking(move || {
        let output = ChannelWriter {
            sender: sender.clone(),
            piece: Vec::with_capacity(PIECE),
        };
        let input = io::BufReader::with_capacity(PIECE, input);
        match skopos_chunked::write_chunked(input, output, level) {
            Ok((_, layer)) => {
                if let Ok(mut slot) = slot.0.lock() {
                    *slot = Some(layer.annotations());
                }
            }
            // The reader sees the failure as the stream's error; if the reader is gone,
            // nobody is left to tell.
            Err(error) => {
                let _ = sender.blocking_send(Err(error));
            }
        }
    });
    let pieces = futures_util::stream::poll_fn(move |context| receiver.poll_recv(context));
    (Box::pin(StreamReader::new(pieces)), annotations)
}
