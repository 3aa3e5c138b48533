//! A gzip compressor that does not spend time on data deflate cannot shrink.
//!
//! Layers often hold already-compressed files (archives, images, compressed binaries).
//! zlib's deflate searches them for matches as hard as anything else, which makes it several
//! times slower than the Go compressor skopeo uses on such content (klauspost/compress
//! skips ahead when it finds no matches). Here the input is read in fixed blocks and judged
//! in pieces of 2 KiB: runs of pieces whose bytes look random are written as stored deflate
//! blocks (a copy), everything else is deflated at the requested level by zlib-rs. Pieces are
//! judged by sampling a quarter of the input, and piece by piece only where random bytes start
//! or end (see [`BlockEncoder::judge`]), so a file boundary inside a block costs at most one
//! piece deflated for nothing. The output is one ordinary gzip member; the verdicts depend only
//! on the bytes, at fixed offsets, so the output is the same for the same input and level
//! however the input arrives.

use std::io;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};

use flate2::{Compress, Compression, FlushCompress, Status};
use tokio::io::{AsyncRead, ReadBuf};

/// Input is read and compressed in blocks of this size (twice deflate's window).
const BLOCK: usize = 64 * 1024;

/// Blocks are judged in segments of this size, so that a block holding the end of one file
/// and the start of the next stores the random part and deflates only the rest.
const SEGMENT: usize = 8 * 1024;

/// A segment is judged by its last `SAMPLE` bytes: a quarter of it, so judging costs about a
/// quarter of a pass over the input. Where random bytes start or end, the segment is judged
/// again in pieces of this size. 2 KiB is the smallest sample on which random bytes measure
/// reliably above the threshold (7.91 bits per byte on average, standard deviation 0.008),
/// while anything deflate can shrink measures far below.
const SAMPLE: usize = 2 * 1024;

/// Bytes carrying at least this many bits of information per byte are stored: deflate would
/// save well under 1 % on them. Text and code sit far below (2–6 bits), compressed or
/// encrypted data right at 8.
const STORED_ENTROPY_BITS: f64 = 7.95;

/// [`STORED_ENTROPY_BITS`] as measured on a [`SAMPLE`]: the entropy of a sample's byte counts
/// underestimates that of the data by about (256 - 1) / (2 · SAMPLE · ln 2) bits (the
/// Miller–Madow bias), 0.09 bits for 2 KiB.
const SAMPLE_STORED_ENTROPY_BITS: f64 =
    STORED_ENTROPY_BITS - 255.0 / (2.0 * SAMPLE as f64 * std::f64::consts::LN_2);

/// Neighbouring random bytes share their high four bits one time in 16: 128 times in a
/// sample on average, standard deviation 11. Half as often again is far out of chance, and
/// flags tables whose byte values are evenly spread overall but alike locally (libcrypt has
/// 34 KiB of them, which deflate shrinks by 27 %), which the byte counts alone call random.
const MAX_RANDOM_NEIGHBOURS_SHARING_HIGH_BITS: usize = SAMPLE * 3 / 32;

/// Once some output is handed to a read, at most this many blocks are compressed to fill the
/// rest of its buffer: compressible blocks yield a few hundred bytes each, and a read must not
/// hold the thread for many of them.
const MAX_BLOCKS_PER_READ: usize = 4;

/// Gzip-compresses the bytes of `inner` as they are read.
pub(crate) struct AdaptiveGzipEncoder<R> {
    inner: R,
    /// The block being filled from `inner`; `filled` bytes of it are valid.
    input: Box<[u8]>,
    filled: usize,
    /// Compressed bytes not yet handed to the reader; `handed` of them already were.
    output: Vec<u8>,
    handed: usize,
    encoder: BlockEncoder,
    input_ended: bool,
    finished: bool,
}

impl<R: AsyncRead + Unpin> AdaptiveGzipEncoder<R> {
    /// `level` is gzip's 1–9.
    pub(crate) fn new(inner: R, level: u32) -> Self {
        AdaptiveGzipEncoder {
            inner,
            input: vec![0; BLOCK].into_boxed_slice(),
            filled: 0,
            output: Vec::with_capacity(BLOCK),
            handed: 0,
            encoder: BlockEncoder::new(level),
            input_ended: false,
            finished: false,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for AdaptiveGzipEncoder<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let start = buf.filled().len();
        let mut blocks_compressed = 0;
        loop {
            if this.handed < this.output.len() {
                let n = buf.remaining().min(this.output.len() - this.handed);
                buf.put_slice(&this.output[this.handed..this.handed + n]);
                this.handed += n;
                if this.handed == this.output.len() {
                    this.output.clear();
                    this.handed = 0;
                }
            }
            // The caller's buffer is filled as far as blocks at hand allow, so that a stored
            // block (a few bytes longer than a 64 KiB buffer) does not come out as one full
            // read and one of a few bytes, each an upload frame and a write.
            let handed_some = buf.filled().len() > start;
            if buf.remaining() == 0
                || this.finished
                || (handed_some && blocks_compressed >= MAX_BLOCKS_PER_READ)
            {
                return Poll::Ready(Ok(()));
            }
            if this.input_ended {
                this.encoder.finish(&mut this.output)?;
                this.finished = true;
                continue;
            }
            while this.filled < BLOCK {
                let mut read = ReadBuf::new(&mut this.input[this.filled..]);
                match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                    Poll::Ready(result) => result?,
                    // Hand out what is ready rather than hold it back until more input comes.
                    Poll::Pending if handed_some => return Poll::Ready(Ok(())),
                    Poll::Pending => return Poll::Pending,
                }
                let n = read.filled().len();
                if n == 0 {
                    this.input_ended = true;
                    break;
                }
                this.filled += n;
            }
            if this.filled > 0 {
                this.encoder
                    .compress_block(&this.input[..this.filled], &mut this.output)?;
                this.filled = 0;
                blocks_compressed += 1;
            }
        }
    }
}

/// The synchronous part: header, deflated or stored blocks, trailer.
struct BlockEncoder {
    deflate: Compress,
    level: u32,
    /// Whether `deflate` has taken input since it was last reset.
    deflate_used: bool,
    /// Whether the sample of the previous segment looked random. True at the start: no
    /// bytes precede the first segment.
    previous_sample_random: bool,
    /// Input bytes given to deflate (the rest were stored).
    deflated: u64,
    crc: flate2::Crc,
    header_written: bool,
}

impl BlockEncoder {
    fn new(level: u32) -> Self {
        BlockEncoder {
            deflate: Compress::new(Compression::new(level), false),
            level,
            deflate_used: false,
            previous_sample_random: true,
            deflated: 0,
            crc: flate2::Crc::new(),
            header_written: false,
        }
    }

    /// Compress one block: [`BLOCK`] bytes, or fewer at the end of the input.
    fn compress_block(&mut self, block: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        self.write_header(out);
        self.crc.update(block);
        let pieces = block.len().div_ceil(SAMPLE);
        let verdicts = self.judge(block);
        // Consecutive pieces with the same verdict go out together.
        let mut start = 0;
        for run in verdicts[..pieces].chunk_by(|a, b| a == b) {
            let end = block.len().min(start + run.len() * SAMPLE);
            self.emit(&block[start..end], run[0], out)?;
            start = end;
        }
        Ok(())
    }

    /// Whether each [`SAMPLE`]-sized piece of `block` is to be stored.
    ///
    /// A segment is judged by its sample, at its end, and the previous segment's. When both
    /// look random, so does what lies between them and the segment is stored; when neither
    /// does, it is deflated. When they disagree, random bytes start or end somewhere between
    /// them: then each piece of the segment is judged on its own, so that only the piece
    /// holding the change is deflated for nothing or stored with compressible bytes in it.
    /// Compressible bytes are otherwise stored only when a short run of them hides between
    /// two samples that both look random.
    fn judge(&mut self, block: &[u8]) -> [bool; BLOCK / SAMPLE] {
        let mut verdicts = [false; BLOCK / SAMPLE];
        let segment_verdicts = verdicts.chunks_mut(SEGMENT / SAMPLE);
        for (segment, verdicts) in block.chunks(SEGMENT).zip(segment_verdicts) {
            let random = segment.last_chunk::<SAMPLE>().is_some_and(looks_random);
            if random && self.previous_sample_random {
                verdicts.fill(true);
            } else if random != self.previous_sample_random {
                for (verdict, piece) in verdicts.iter_mut().zip(segment.chunks(SAMPLE)) {
                    *verdict = <&[u8; SAMPLE]>::try_from(piece).is_ok_and(looks_random);
                }
            }
            self.previous_sample_random = random;
        }
        verdicts
    }

    fn emit(&mut self, run: &[u8], stored: bool, out: &mut Vec<u8>) -> io::Result<()> {
        if run.is_empty() {
            return Ok(());
        }
        if !stored {
            self.deflate_used = true;
            self.deflated += run.len() as u64;
            return self.run(run, out, FlushCompress::None);
        }
        if self.deflate_used {
            // End the deflated run on a byte boundary, and start the compressor afresh
            // afterwards: its matches must not reach back across bytes it did not see.
            self.run(&[], out, FlushCompress::Sync)?;
            self.deflate.reset();
            self.deflate_used = false;
        }
        write_stored_blocks(run, out);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        self.write_header(out);
        // The last deflate block (possibly empty) carries the end-of-stream mark.
        self.run(&[], out, FlushCompress::Finish)?;
        out.extend_from_slice(&self.crc.sum().to_le_bytes());
        // ISIZE is the input size modulo 2^32.
        out.extend_from_slice(&self.crc.amount().to_le_bytes());
        tracing::debug!(
            "gzip: deflated {} of {} bytes, stored the rest",
            self.deflated,
            self.crc.amount()
        );
        Ok(())
    }

    /// The fixed 10-byte header Go's gzip writer emits: no name, no time, OS unknown.
    fn write_header(&mut self, out: &mut Vec<u8>) {
        if self.header_written {
            return;
        }
        let extra_flags = match self.level {
            9 => 2,
            1 => 4,
            _ => 0,
        };
        out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, extra_flags, 255]);
        self.header_written = true;
    }

    /// Feed `input` to deflate with `flush`, growing `out` until deflate is done with it.
    fn run(&mut self, mut input: &[u8], out: &mut Vec<u8>, flush: FlushCompress) -> io::Result<()> {
        loop {
            out.reserve(input.len() / 2 + 4096);
            let before = self.deflate.total_in();
            let status = self
                .deflate
                .compress_vec(input, out, flush)
                .map_err(io::Error::other)?;
            let consumed =
                usize::try_from(self.deflate.total_in() - before).map_err(io::Error::other)?;
            input = &input[consumed..];
            let done = match flush {
                FlushCompress::Finish => status == Status::StreamEnd,
                // Deflate is done when it took all input and left output room unused.
                _ => input.is_empty() && out.len() < out.capacity(),
            };
            if done {
                return Ok(());
            }
        }
    }
}

/// `data` as non-final stored deflate blocks (RFC 1951 3.2.4), starting on a byte boundary:
/// a zero header byte (not final, type 0, padding), then LEN and its complement, then the bytes.
fn write_stored_blocks(data: &[u8], out: &mut Vec<u8>) {
    for piece in data.chunks(usize::from(u16::MAX)) {
        let len = u16::try_from(piece.len()).unwrap_or(u16::MAX);
        out.push(0);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(piece);
    }
}

/// Whether `sample` looks like random bytes: its byte values are evenly spread, and a byte is
/// no more often like the one before it than chance makes it.
fn looks_random(sample: &[u8; SAMPLE]) -> bool {
    entropy_bits_per_byte(sample) >= SAMPLE_STORED_ENTROPY_BITS
        && neighbours_sharing_high_bits(sample) <= MAX_RANDOM_NEIGHBOURS_SHARING_HIGH_BITS
}

/// How many pairs of neighbouring bytes in `sample` share their high four bits.
fn neighbours_sharing_high_bits(sample: &[u8; SAMPLE]) -> usize {
    // Summed as u16 (at most SAMPLE - 1), which lets the loop run 8 or 16 bytes at a time.
    let count: u16 = sample
        .iter()
        .zip(&sample[1..])
        .map(|(a, b)| u16::from((a ^ b) < 16))
        .sum();
    usize::from(count)
}

/// Shannon entropy of the byte distribution of `sample`, in bits per byte: with c the count
/// of each byte value, log2(SAMPLE) − Σ c·log2(c) / SAMPLE.
fn entropy_bits_per_byte(sample: &[u8; SAMPLE]) -> f64 {
    // Four tables, so that consecutive increments proceed independently.
    let mut tables = [[0u16; 256]; 4];
    for quad in sample.chunks_exact(4) {
        tables[0][usize::from(quad[0])] += 1;
        tables[1][usize::from(quad[1])] += 1;
        tables[2][usize::from(quad[2])] += 1;
        tables[3][usize::from(quad[3])] += 1;
    }
    let count_log2_count = &*COUNT_LOG2_COUNT;
    let sum: f32 = (0..256)
        .map(|byte| {
            let count = tables.iter().map(|table| table[byte]).sum::<u16>();
            count_log2_count[usize::from(count)]
        })
        .sum();
    f64::from(SAMPLE.ilog2()) - f64::from(sum) / SAMPLE as f64
}

/// c·log2(c) for every count c a sample's histogram can hold (0 for 0): looked up rather
/// than computed, because the logarithms would cost as much as counting the bytes.
static COUNT_LOG2_COUNT: LazyLock<Box<[f32]>> = LazyLock::new(|| {
    (0..=SAMPLE)
        .map(|count| {
            let count = count as f64;
            if count == 0.0 {
                0.0
            } else {
                (count * count.log2()) as f32
            }
        })
        .collect()
});

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use tokio::io::AsyncReadExt;

    /// Deterministic bytes that look random (xorshift).
    fn noise(len: usize, mut state: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    fn text(len: usize) -> Vec<u8> {
        (0..)
            .flat_map(|i: u32| format!("the quick brown fox {i}\n").into_bytes())
            .take(len)
            .collect()
    }

    async fn compress(data: &[u8], level: u32, read_size: usize) -> Vec<u8> {
        // A reader that hands out at most `read_size` bytes per call.
        let (mut client, server) = tokio::io::duplex(read_size);
        let input = data.to_vec();
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            client.write_all(&input).await.expect("writing the input");
        });
        let mut encoder = AdaptiveGzipEncoder::new(server, level);
        let mut out = Vec::new();
        encoder.read_to_end(&mut out).await.expect("compressing");
        writer.await.expect("the writer task");
        out
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .expect("a valid gzip stream");
        out
    }

    /// Compresses `data` block by block, as the reader does; returns the output and how many
    /// bytes were deflated.
    fn compress_blocks(data: &[u8]) -> (Vec<u8>, u64) {
        let mut encoder = BlockEncoder::new(6);
        let mut out = Vec::new();
        for block in data.chunks(BLOCK) {
            encoder
                .compress_block(block, &mut out)
                .expect("compressing");
        }
        encoder.finish(&mut out).expect("finishing");
        (out, encoder.deflated)
    }

    fn sample(data: &[u8]) -> &[u8; SAMPLE] {
        data[..SAMPLE]
            .try_into()
            .expect("a sample's worth of bytes")
    }

    #[test]
    fn random_bytes_measure_near_eight_bits_and_text_far_below() {
        for seed in 1..100 {
            let random = noise(SAMPLE, seed);
            assert!(entropy_bits_per_byte(sample(&random)) > SAMPLE_STORED_ENTROPY_BITS);
            assert!(looks_random(sample(&random)), "seed {seed}");
        }
        assert!(entropy_bits_per_byte(sample(&text(SAMPLE))) < 5.0);
        assert!(!looks_random(sample(&text(SAMPLE))));
        // Half text, half noise: deflate still gains, so the sample must not count as random.
        let mut mixed = text(SAMPLE / 2);
        mixed.extend(noise(SAMPLE / 2, 9));
        assert!(!looks_random(sample(&mixed)));
    }

    #[test]
    fn evenly_spread_bytes_alike_to_their_neighbours_are_not_random() {
        // Every byte value equally often, but runs of 64 bytes share their high four bits,
        // as in libcrypt's tables: deflate shrinks such data, the byte counts do not show it.
        let low_bits = noise(SAMPLE, 5);
        let table: Vec<u8> = (0..SAMPLE)
            .map(|i| ((i / 64 % 16) as u8) << 4 | (low_bits[i] & 15))
            .collect();
        assert!(entropy_bits_per_byte(sample(&table)) > SAMPLE_STORED_ENTROPY_BITS);
        assert!(!looks_random(sample(&table)));
    }

    #[test]
    fn a_block_half_random_half_text_stores_the_random_half() {
        // The change lies 1000 bytes into the 17th piece: that piece is deflated with the text.
        let random = BLOCK / 2 + 1000;
        let mut block = noise(random, 11);
        block.extend(text(BLOCK - random));
        let mut encoder = BlockEncoder::new(6);
        let mut expected = [false; BLOCK / SAMPLE];
        expected[..BLOCK / 2 / SAMPLE].fill(true);
        assert_eq!(encoder.judge(&block), expected);

        let (out, deflated) = compress_blocks(&block);
        assert_eq!(deflated, (BLOCK / 2) as u64);
        assert_eq!(gunzip(&out), block);
    }

    #[test]
    fn random_runs_are_stored_to_within_a_piece_wherever_they_start_and_end() {
        // Changes at offsets unrelated to blocks, segments and pieces.
        let mut data = noise(30_000, 1);
        let mut text_total = 0;
        for (text_len, noise_len) in [(70_000, 60_000), (20_000, 150_001), (9_000, 5_000)] {
            data.extend(text(text_len));
            data.extend(noise(noise_len, text_len as u64));
            text_total += text_len;
        }
        let changes = 6;
        let (out, deflated) = compress_blocks(&data);
        assert!(deflated >= text_total as u64, "deflated {deflated}");
        assert!(
            deflated <= (text_total + changes * SAMPLE) as u64,
            "deflated {deflated} of which text {text_total}"
        );
        assert_eq!(gunzip(&out), data);
    }

    #[test]
    fn noise_blocks_are_stored_and_only_the_rest_is_deflated() {
        let mut data = Vec::new();
        let mut text_total = 0;
        for round in 0..4 {
            data.extend(noise(3 * BLOCK, round + 1));
            let text = text(2 * BLOCK);
            text_total += text.len();
            data.extend(text);
        }
        // A short tail is always deflated.
        data.extend(noise(100, 99));
        let (out, deflated) = compress_blocks(&data);
        assert_eq!(deflated, text_total as u64 + 100);
        assert_eq!(gunzip(&out), data);
    }

    #[tokio::test]
    async fn output_does_not_depend_on_how_the_input_arrives() {
        let mut data = noise(BLOCK + 5000, 3);
        data.extend(text(3 * BLOCK + 777));
        data.extend(noise(BLOCK / 3, 4));
        data.extend(text(BLOCK / 5));
        let small_reads = compress(&data, 6, 1000).await;
        let odd_reads = compress(&data, 6, 4097).await;
        let large_reads = compress(&data, 6, 1 << 20).await;
        assert_eq!(small_reads, large_reads);
        assert_eq!(odd_reads, large_reads);
        assert_eq!(gunzip(&large_reads), data);
    }

    #[tokio::test]
    async fn reads_are_filled_when_the_input_is_at_hand() {
        // Each stored block comes out a few bytes longer than the buffer: the rest must go
        // out with the next block's bytes, not as a read of its own.
        let data = noise(8 * BLOCK, 21);
        let mut encoder = AdaptiveGzipEncoder::new(&data[..], 6);
        let mut out = Vec::new();
        let mut buffer = vec![0; BLOCK];
        let mut read_sizes = Vec::new();
        loop {
            let n = encoder.read(&mut buffer).await.expect("compressing");
            if n == 0 {
                break;
            }
            read_sizes.push(n);
            out.extend_from_slice(&buffer[..n]);
        }
        let (last, full) = read_sizes.split_last().expect("some output");
        assert!(
            full.iter().all(|&n| n == BLOCK),
            "read sizes {read_sizes:?}"
        );
        assert!(*last <= BLOCK);
        assert_eq!(gunzip(&out), data);
    }

    #[tokio::test]
    async fn empty_input_is_a_valid_empty_gzip_stream() {
        let compressed = compress(&[], 6, 4096).await;
        assert_eq!(&compressed[..2], &[0x1f, 0x8b]);
        assert!(gunzip(&compressed).is_empty());
    }

    #[tokio::test]
    async fn the_header_marks_the_fastest_and_best_levels_as_go_does() {
        assert_eq!(compress(b"x", 1, 64).await[8], 4);
        assert_eq!(compress(b"x", 9, 64).await[8], 2);
        assert_eq!(compress(b"x", 6, 64).await[8], 0);
    }
}
