//! A gzip compressor that does not spend time on data deflate cannot shrink.
//!
//! Layers often hold already-compressed files (archives, images, compressed binaries).
//! zlib's deflate searches them for matches as hard as anything else, which makes it several
//! times slower than the Go compressor skopeo uses on such content (klauspost/compress
//! skips ahead when it finds no matches). Here the input is cut into fixed blocks; a block
//! whose byte distribution is that of random data is written as stored deflate blocks (a
//! copy), every other block is deflated at the requested level by zlib-rs. The output is one ordinary
//! gzip member; fixed block boundaries keep it the same for the same input and level, however
//! the input arrives.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use flate2::{Compress, Compression, FlushCompress, Status};
use tokio::io::{AsyncRead, ReadBuf};

/// Input is judged and compressed in blocks of this size (twice deflate's window).
const BLOCK: usize = 64 * 1024;

/// Blocks whose bytes carry at least this many bits of information per byte are stored:
/// deflate would save well under 1 % on them. Text and code sit far below (2–6 bits),
/// compressed or encrypted data right at 8.
const STORED_ENTROPY_BITS: f64 = 7.95;

/// Blocks shorter than this are always deflated: too few bytes to judge.
const MIN_JUDGED: usize = 4096;

/// A block is judged by this many evenly spaced samples of [`SAMPLE`] bytes: a quarter of
/// it, enough to tell random bytes (about 7.99 bits per byte measured over 16 KiB) from
/// anything deflate can shrink, at a quarter of the cost of counting every byte.
const SAMPLES: usize = 4;
const SAMPLE: usize = 4096;

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
        loop {
            if this.handed < this.output.len() {
                let n = buf.remaining().min(this.output.len() - this.handed);
                buf.put_slice(&this.output[this.handed..this.handed + n]);
                this.handed += n;
                if this.handed == this.output.len() {
                    this.output.clear();
                    this.handed = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.finished {
                return Poll::Ready(Ok(()));
            }
            if this.input_ended {
                this.encoder.finish(&mut this.output)?;
                this.finished = true;
                continue;
            }
            while this.filled < BLOCK {
                let mut read = ReadBuf::new(&mut this.input[this.filled..]);
                ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
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
            deflated: 0,
            crc: flate2::Crc::new(),
            header_written: false,
        }
    }

    fn compress_block(&mut self, block: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        self.write_header(out);
        self.crc.update(block);
        let store = block.len() >= MIN_JUDGED && looks_random(block);
        if !store {
            self.deflate_used = true;
            self.deflated += block.len() as u64;
            return self.run(block, out, FlushCompress::None);
        }
        if self.deflate_used {
            // End the deflated run on a byte boundary, and start the compressor afresh
            // afterwards: its matches must not reach back across bytes it did not see.
            self.run(&[], out, FlushCompress::Sync)?;
            self.deflate.reset();
            self.deflate_used = false;
        }
        write_stored_blocks(block, out);
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

/// Whether `block` (at least [`MIN_JUDGED`] bytes) has the byte distribution of random data,
/// judged on samples spread over it.
fn looks_random(block: &[u8]) -> bool {
    let bits = if block.len() <= SAMPLES * SAMPLE {
        entropy_bits_per_byte(block)
    } else {
        let stride = block.len() / SAMPLES;
        let mut histogram = Histogram::default();
        for sample in 0..SAMPLES {
            let start = sample * stride;
            histogram.count(&block[start..start + SAMPLE]);
        }
        histogram.entropy_bits_per_byte()
    };
    bits >= STORED_ENTROPY_BITS
}

/// Shannon entropy of the byte distribution of `data`, in bits per byte.
fn entropy_bits_per_byte(data: &[u8]) -> f64 {
    let mut histogram = Histogram::default();
    histogram.count(data);
    histogram.entropy_bits_per_byte()
}

/// Byte counts, in four tables so that consecutive increments proceed independently.
struct Histogram {
    tables: [[u32; 256]; 4],
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            tables: [[0; 256]; 4],
            total: 0,
        }
    }
}

impl Histogram {
    fn count(&mut self, data: &[u8]) {
        let mut quads = data.chunks_exact(4);
        for quad in &mut quads {
            self.tables[0][usize::from(quad[0])] += 1;
            self.tables[1][usize::from(quad[1])] += 1;
            self.tables[2][usize::from(quad[2])] += 1;
            self.tables[3][usize::from(quad[3])] += 1;
        }
        for &byte in quads.remainder() {
            self.tables[0][usize::from(byte)] += 1;
        }
        self.total += data.len() as u64;
    }

    fn entropy_bits_per_byte(&self) -> f64 {
        let total = self.total as f64;
        (0..256)
            .map(|byte| self.tables.iter().map(|table| table[byte]).sum::<u32>())
            .filter(|&count| count > 0)
            .map(|count| {
                let p = f64::from(count) / total;
                -p * p.log2()
            })
            .sum()
    }
}

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

    #[test]
    fn random_bytes_measure_near_eight_bits_and_text_far_below() {
        assert!(entropy_bits_per_byte(&noise(BLOCK, 7)) > STORED_ENTROPY_BITS);
        assert!(entropy_bits_per_byte(&text(BLOCK)) < 5.0);
        assert!(looks_random(&noise(BLOCK, 8)));
        assert!(!looks_random(&text(BLOCK)));
        // Half text, half noise: deflate still gains, so the samples must not call it random.
        let mut mixed = text(BLOCK / 2);
        mixed.extend(noise(BLOCK / 2, 9));
        assert!(!looks_random(&mixed));
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
        let mut encoder = BlockEncoder::new(6);
        let mut out = Vec::new();
        for block in data.chunks(BLOCK) {
            encoder
                .compress_block(block, &mut out)
                .expect("compressing");
        }
        encoder.finish(&mut out).expect("finishing");
        assert_eq!(encoder.deflated, text_total as u64 + 100);
        assert_eq!(gunzip(&out), data);
    }

    #[tokio::test]
    async fn output_does_not_depend_on_how_the_input_arrives() {
        let mut data = noise(BLOCK + 5000, 3);
        data.extend(text(3 * BLOCK));
        let small_reads = compress(&data, 6, 1000).await;
        let large_reads = compress(&data, 6, 1 << 20).await;
        assert_eq!(small_reads, large_reads);
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
