//! Splitting a file's contents into chunks as containers/storage's compressor does: runs of
//! at least [`HOLE_THRESHOLD`] zero bytes become chunks of their own ("zeros"), and the
//! rolling checksum ends a data chunk where its low [`ROLLSUM_BITS`] bits are all ones
//! (about 64 KiB on average). The byte-at-a-time state machine follows upstream's
//! `holesFinder` and `rollingChecksumReader` exactly, because the chunk boundaries are part of
//! the output (same input, same boundaries).

use std::io::{self, Read};

use crate::rollsum::RollSum;

/// `RollsumBits` upstream.
const ROLLSUM_BITS: u32 = 16;
/// `holesThreshold` upstream: shorter runs of zeros stay in data chunks.
const HOLE_THRESHOLD: u64 = 1 << 10;
/// Bytes read from the file contents at a time.
const READ_BUFFER: usize = 64 << 10;

/// A byte reader with one byte of push-back (what `bufio.Reader` gives upstream).
struct ByteReader<R> {
    inner: R,
    buffer: Box<[u8]>,
    position: usize,
    filled: usize,
    pushed_back: Option<u8>,
}

impl<R: Read> ByteReader<R> {
    fn new(inner: R) -> Self {
        ByteReader {
            inner,
            buffer: vec![0; READ_BUFFER].into_boxed_slice(),
            position: 0,
            filled: 0,
            pushed_back: None,
        }
    }

    /// The next byte, `None` at the end.
    fn read_byte(&mut self) -> io::Result<Option<u8>> {
        if let Some(byte) = self.pushed_back.take() {
            return Ok(Some(byte));
        }
        if self.position == self.filled {
            self.filled = loop {
                match self.inner.read(&mut self.buffer) {
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
            self.position = 0;
            if self.filled == 0 {
                return Ok(None);
            }
        }
        let byte = self.buffer[self.position];
        self.position += 1;
        Ok(Some(byte))
    }

    fn unread_byte(&mut self, byte: u8) {
        self.pushed_back = Some(byte);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum HoleState {
    /// Passing bytes through (and replaying zeros that did not make a hole).
    Read,
    /// Counting zeros that may yet become a hole.
    Accumulate,
    /// Counting the zeros of a hole.
    Found,
    /// The input ended; replaying the zeros counted last.
    End,
}

/// What [`HolesFinder::next`] found.
enum Found {
    Byte(u8),
    /// A run of at least [`HOLE_THRESHOLD`] zeros, of this length.
    Hole(u64),
    End,
}

/// Upstream's `holesFinder`.
struct HolesFinder<R> {
    reader: ByteReader<R>,
    zeros: u64,
    state: HoleState,
}

impl<R: Read> HolesFinder<R> {
    fn next(&mut self) -> io::Result<Found> {
        loop {
            match self.state {
                HoleState::Read => {
                    if self.zeros > 0 {
                        self.zeros -= 1;
                        return Ok(Found::Byte(0));
                    }
                    match self.reader.read_byte()? {
                        None => return Ok(Found::End),
                        Some(byte) if byte != 0 => return Ok(Found::Byte(byte)),
                        Some(_) => {
                            self.zeros = 1;
                            self.state = if self.zeros == HOLE_THRESHOLD {
                                HoleState::Found
                            } else {
                                HoleState::Accumulate
                            };
                        }
                    }
                }
                HoleState::Accumulate => match self.reader.read_byte()? {
                    None => self.state = HoleState::End,
                    Some(0) => {
                        self.zeros += 1;
                        if self.zeros == HOLE_THRESHOLD {
                            self.state = HoleState::Found;
                        }
                    }
                    Some(byte) => {
                        self.reader.unread_byte(byte);
                        self.state = HoleState::Read;
                    }
                },
                HoleState::Found => match self.reader.read_byte()? {
                    None => {
                        self.state = HoleState::End;
                        return Ok(Found::Hole(std::mem::take(&mut self.zeros)));
                    }
                    Some(0) => self.zeros += 1,
                    Some(byte) => {
                        self.reader.unread_byte(byte);
                        self.state = HoleState::Read;
                        return Ok(Found::Hole(std::mem::take(&mut self.zeros)));
                    }
                },
                HoleState::End => {
                    if self.zeros > 0 {
                        self.zeros -= 1;
                        return Ok(Found::Byte(0));
                    }
                    return Ok(Found::End);
                }
            }
        }
    }
}

/// What one [`Chunker::read`] produced.
pub(crate) struct ChunkRead {
    /// Bytes placed at the start of the buffer.
    pub(crate) length: usize,
    /// The current chunk ends after these bytes.
    pub(crate) must_split: bool,
    /// The contents have ended (`length` is 0 then).
    pub(crate) end: bool,
}

/// Upstream's `rollingChecksumReader`: a file's contents, cut into chunks.
pub(crate) struct Chunker<R> {
    holes: HolesFinder<R>,
    rollsum: RollSum,
    pending_hole: u64,
    closed: bool,
    /// Bytes handed out so far.
    pub(crate) written_out: u64,
    /// Whether the bytes of the last read belong to a run of zeros.
    pub(crate) last_chunk_is_zeros: bool,
}

impl<R: Read> Chunker<R> {
    /// Chunks of `contents`.
    pub(crate) fn new(contents: R) -> Self {
        Chunker {
            holes: HolesFinder {
                reader: ByteReader::new(contents),
                zeros: 0,
                state: HoleState::Read,
            },
            rollsum: RollSum::new(),
            pending_hole: 0,
            closed: false,
            written_out: 0,
            last_chunk_is_zeros: false,
        }
    }

    /// Fill `buffer` with the next bytes, stopping where a chunk ends.
    pub(crate) fn read(&mut self, buffer: &mut [u8]) -> io::Result<ChunkRead> {
        self.last_chunk_is_zeros = false;
        if self.pending_hole > 0 {
            let length = self.pending_hole.min(buffer.len() as u64);
            self.pending_hole -= length;
            let length = length as usize;
            buffer[..length].fill(0);
            self.written_out += length as u64;
            self.last_chunk_is_zeros = true;
            return Ok(ChunkRead {
                length,
                must_split: self.pending_hole == 0,
                end: false,
            });
        }
        if self.closed {
            return Ok(ChunkRead {
                length: 0,
                must_split: false,
                end: true,
            });
        }
        for (index, slot) in buffer.iter_mut().enumerate() {
            match self.holes.next()? {
                Found::End => {
                    self.closed = true;
                    return Ok(ChunkRead {
                        length: index,
                        must_split: false,
                        end: index == 0,
                    });
                }
                Found::Hole(length) => {
                    for _ in 0..length {
                        self.rollsum.roll(0);
                    }
                    self.pending_hole = length;
                    return Ok(ChunkRead {
                        length: index,
                        must_split: true,
                        end: false,
                    });
                }
                Found::Byte(byte) => {
                    *slot = byte;
                    self.written_out += 1;
                    self.rollsum.roll(byte);
                    if self.rollsum.on_split_with_bits(ROLLSUM_BITS) {
                        return Ok(ChunkRead {
                            length: index + 1,
                            must_split: true,
                            end: false,
                        });
                    }
                }
            }
        }
        Ok(ChunkRead {
            length: buffer.len(),
            must_split: false,
            end: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (length, zeros?) of the chunks the chunker cuts `data` into.
    fn chunks(data: &[u8]) -> Vec<(u64, bool)> {
        let mut chunker = Chunker::new(data);
        let mut buffer = vec![0u8; 4096];
        let mut chunks = Vec::new();
        let mut start = 0;
        let mut rebuilt = Vec::new();
        loop {
            let read = chunker.read(&mut buffer).unwrap();
            rebuilt.extend_from_slice(&buffer[..read.length]);
            if read.must_split || read.end {
                let size = chunker.written_out - start;
                if size > 0 {
                    chunks.push((size, chunker.last_chunk_is_zeros));
                }
                start = chunker.written_out;
            }
            if read.end {
                break;
            }
        }
        assert_eq!(
            rebuilt, data,
            "the chunker must hand out the contents unchanged"
        );
        chunks
    }

    #[test]
    fn long_runs_of_zeros_are_chunks_of_their_own() {
        let mut data = vec![7u8; 100];
        data.extend(vec![0u8; 5000]);
        data.extend(vec![9u8; 10]);
        data.extend(vec![0u8; 1023]);
        data.extend(vec![1u8; 5]);
        assert_eq!(
            chunks(&data),
            vec![(100, false), (5000, true), (10 + 1023 + 5, false)]
        );
        assert_eq!(chunks(&vec![0u8; 3000]), vec![(3000, true)]);
        assert_eq!(chunks(b""), vec![]);
    }
}
