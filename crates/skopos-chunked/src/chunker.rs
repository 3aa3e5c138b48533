//! Splitting a file's contents into chunks as containers/storage's compressor does: runs of
//! at least [`HOLE_THRESHOLD`] zero bytes become chunks of their own ("zeros"), and the
//! rolling checksum ends a data chunk where its low [`ROLLSUM_BITS`] bits are all ones
//! (about 64 KiB on average). The chunk boundaries are part of the output (same input, same
//! boundaries), so they are exactly those of upstream's byte-at-a-time `holesFinder` and
//! `rollingChecksumReader`: every byte is rolled, those of a hole without looking for a split;
//! a maximal run of zeros is a hole when it is at least the threshold long, and a data chunk
//! ends where a hole starts. Here the contents are cut a block at a time instead: zeros are
//! found with `memchr`, and the bytes between holes are rolled in one tight loop.

use std::io;

use crate::rollsum::RollSum;

/// `RollsumBits` upstream.
const ROLLSUM_BITS: u32 = 16;
/// `holesThreshold` upstream: shorter runs of zeros stay in data chunks.
const HOLE_THRESHOLD: u64 = 1 << 10;
/// Zeros to hand out for runs of zeros that are no longer in the input block.
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

/// Receives a file's contents cut into chunks.
pub(crate) trait ChunkSink {
    /// The next bytes of the current chunk (never empty).
    fn data(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// The current chunk ends here; `zeros` when it was a hole. Also called where no bytes
    /// came since the last end (before a hole at the start of a chunk, at the end of the
    /// contents), as upstream's reader reports a split there.
    fn end_chunk(&mut self, zeros: bool) -> io::Result<()>;
}

/// Upstream's `rollingChecksumReader` over `holesFinder`, fed block by block.
pub(crate) struct Chunker {
    rollsum: RollSum,
    /// Zeros at the end of the blocks fed so far, not handed out yet: whether they are a hole
    /// depends on how far the run goes on in the next block.
    trailing_zeros: u64,
}

impl Chunker {
    /// A chunker at the start of a file's contents.
    pub(crate) fn new() -> Self {
        Chunker {
            rollsum: RollSum::new(),
            trailing_zeros: 0,
        }
    }

    /// Cut the next `block` of the contents, handing its bytes to `sink`.
    pub(crate) fn feed(&mut self, block: &[u8], sink: &mut impl ChunkSink) -> io::Result<()> {
        let mut position = 0;
        if self.trailing_zeros > 0 {
            let run = zeros_at(block);
            self.trailing_zeros += run as u64;
            if run == block.len() {
                return Ok(());
            }
            self.end_zero_run(sink)?;
            position = run;
        }
        while position < block.len() {
            let rest = &block[position..];
            let (data, run) = next_hole_or_trailing_zeros(rest);
            self.roll_data(&rest[..data], sink)?;
            if data + run == rest.len() {
                self.trailing_zeros = run as u64;
                return Ok(());
            }
            self.hole(run as u64, sink)?;
            position += data + run;
        }
        Ok(())
    }

    /// The contents have ended: hand out what is left and end the last chunk.
    pub(crate) fn finish(mut self, sink: &mut impl ChunkSink) -> io::Result<()> {
        if self.trailing_zeros > 0 {
            self.end_zero_run(sink)?;
        }
        sink.end_chunk(false)
    }

    /// The zeros carried over from earlier blocks ended (by a non-zero byte or the end of
    /// the contents).
    fn end_zero_run(&mut self, sink: &mut impl ChunkSink) -> io::Result<()> {
        let run = std::mem::take(&mut self.trailing_zeros);
        if run >= HOLE_THRESHOLD {
            self.hole(run, sink)
        } else {
            // Shorter than the threshold: less than ZEROS holds.
            self.roll_data(&ZEROS[..run as usize], sink)
        }
    }

    /// Data bytes: rolled, and cut where the checksum says.
    fn roll_data(&mut self, mut bytes: &[u8], sink: &mut impl ChunkSink) -> io::Result<()> {
        while !bytes.is_empty() {
            match self.rollsum.roll_until_split(bytes, ROLLSUM_BITS) {
                Some(length) => {
                    sink.data(&bytes[..length])?;
                    sink.end_chunk(false)?;
                    bytes = &bytes[length..];
                }
                None => {
                    sink.data(bytes)?;
                    break;
                }
            }
        }
        Ok(())
    }

    /// A hole of `length` zeros: it ends the data chunk before it and is a chunk of its own.
    fn hole(&mut self, length: u64, sink: &mut impl ChunkSink) -> io::Result<()> {
        sink.end_chunk(false)?;
        self.rollsum.roll_zeros(length);
        let mut left = length;
        while left > 0 {
            let piece = left.min(ZEROS.len() as u64);
            sink.data(&ZEROS[..piece as usize])?;
            left -= piece;
        }
        sink.end_chunk(true)
    }
}

/// How many zero bytes `bytes` starts with.
fn zeros_at(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&byte| byte != 0)
        .unwrap_or(bytes.len())
}

/// Where in `bytes` the data before the next hole ends, and the length of that hole; or,
/// when the bytes end in a run of zeros that is not known to be a hole yet, where that run
/// starts and its length (then the two add up to the length of `bytes`).
fn next_hole_or_trailing_zeros(bytes: &[u8]) -> (usize, usize) {
    let mut from = 0;
    while let Some(found) = memchr::memchr(0, &bytes[from..]) {
        let start = from + found;
        let run = zeros_at(&bytes[start..]);
        if start + run == bytes.len() || run as u64 >= HOLE_THRESHOLD {
            return (start, run);
        }
        from = start + run;
    }
    (bytes.len(), 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects chunks as (length, zeros?) and the bytes handed out.
    #[derive(Default)]
    struct Collected {
        chunks: Vec<(u64, bool)>,
        current: u64,
        bytes: Vec<u8>,
    }

    impl ChunkSink for Collected {
        fn data(&mut self, bytes: &[u8]) -> io::Result<()> {
            assert!(!bytes.is_empty());
            self.current += bytes.len() as u64;
            self.bytes.extend_from_slice(bytes);
            Ok(())
        }

        fn end_chunk(&mut self, zeros: bool) -> io::Result<()> {
            if self.current > 0 {
                self.chunks.push((std::mem::take(&mut self.current), zeros));
            }
            Ok(())
        }
    }

    /// (length, zeros?) of the chunks the chunker cuts `data` into, fed `block` bytes at a
    /// time.
    fn chunks_in_blocks(data: &[u8], block: usize) -> Vec<(u64, bool)> {
        let mut chunker = Chunker::new();
        let mut collected = Collected::default();
        for piece in data.chunks(block) {
            chunker.feed(piece, &mut collected).unwrap();
        }
        chunker.finish(&mut collected).unwrap();
        assert_eq!(
            collected.bytes, data,
            "the chunker must hand out the contents unchanged"
        );
        assert_eq!(collected.current, 0, "the last chunk must end");
        collected.chunks
    }

    fn chunks(data: &[u8]) -> Vec<(u64, bool)> {
        chunks_in_blocks(data, 4096)
    }

    /// Upstream's chunking written the simple way: a byte at a time, over the whole input.
    fn reference_chunks(data: &[u8]) -> Vec<(u64, bool)> {
        let mut sum = RollSum::new();
        let mut chunks = Vec::new();
        let mut current = 0u64;
        let mut position = 0;
        while position < data.len() {
            let run = zeros_at(&data[position..]);
            if run as u64 >= HOLE_THRESHOLD {
                if current > 0 {
                    chunks.push((std::mem::take(&mut current), false));
                }
                sum.roll_zeros(run as u64);
                chunks.push((run as u64, true));
                position += run;
                continue;
            }
            current += 1;
            if sum.roll_until_split(&data[position..position + 1], ROLLSUM_BITS) == Some(1) {
                chunks.push((std::mem::take(&mut current), false));
            }
            position += 1;
        }
        if current > 0 {
            chunks.push((current, false));
        }
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
        assert_eq!(chunks(&vec![0u8; 1023]), vec![(1023, false)]);
        assert_eq!(chunks(b""), vec![]);
    }

    /// Whatever the blocks the contents arrive in, the chunks are upstream's: random data
    /// with short and long runs of zeros, at the start, in the middle and at the end.
    #[test]
    fn blocks_of_any_size_cut_where_upstream_cuts() {
        let mut state = 0x9e37_79b9_u32;
        let mut next = move || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            state >> 8
        };
        let mut data = vec![0u8; 2000];
        for _ in 0..60 {
            let length = (next() % 40_000) as usize;
            data.extend((0..length).map(|_| next() as u8));
            let zeros = match next() % 4 {
                0 => 1023,
                1 => 1024,
                2 => (next() % 3000) as usize,
                _ => (next() % 100) as usize,
            };
            data.extend(std::iter::repeat_n(0u8, zeros));
        }
        let expected = reference_chunks(&data);
        assert!(expected.iter().filter(|(_, zeros)| *zeros).count() > 10);
        assert!(expected.iter().filter(|(_, zeros)| !zeros).count() > 20);
        for block in [1, 7, 1000, 1024, 4096, 65_536, data.len()] {
            assert_eq!(
                chunks_in_blocks(&data, block),
                expected,
                "blocks of {block}"
            );
        }
    }
}
