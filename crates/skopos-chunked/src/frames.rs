//! The blob being written: zstd frames that start and end where the layout needs them, zstd
//! skippable frames for metadata, and a count of the bytes written so far (the offsets the
//! TOC records).

use std::io::{self, Write};

use zstd::bulk::Compressor;
use zstd::stream::raw::{Encoder, InBuffer, Operation, OutBuffer};
use zstd::zstd_safe::CParameter;

/// The magic number of the skippable frames containers/storage writes (0x184D2A50).
const SKIPPABLE_FRAME_MAGIC: [u8; 4] = [0x50, 0x2a, 0x4d, 0x18];
/// Compressed output collected before it is written on.
const OUTPUT_BUFFER: usize = 128 << 10;
/// Frames up to this size (nearly all: chunks average 64 KiB) are collected whole and
/// compressed in one call; longer ones are streamed.
const FRAME_BUFFER: usize = 512 << 10;
/// The level a collected frame is tried at first. For bytes it cannot shrink at all
/// (compressed or random data) the level's own search finds nothing either, after spending
/// most of the compressor's time looking; the level-1 frame, of stored blocks, is as small.
const TRIAL_LEVEL: i32 = 1;

/// A zstd context writing frames with checksums (as containers/storage's encoder writes
/// them), reused from frame to frame.
fn compressor(level: i32) -> io::Result<Compressor<'static>> {
    let mut compressor = Compressor::new(level)?;
    compressor.set_parameter(CParameter::ChecksumFlag(true))?;
    Ok(compressor)
}

/// Writes frames into `output`, counting bytes.
pub(crate) struct FrameWriter<W> {
    output: W,
    written: u64,
    /// The input of the current frame while it fits in [`FRAME_BUFFER`].
    collected: Vec<u8>,
    /// Compresses collected frames at the level.
    compressor: Compressor<'static>,
    /// Compresses collected frames at [`TRIAL_LEVEL`].
    trial: Compressor<'static>,
    /// A collected frame, compressed.
    compressed: Vec<u8>,
    /// Compresses the frames that outgrew [`FRAME_BUFFER`], as they come.
    encoder: Encoder<'static>,
    /// Whether the current frame is going through `encoder`.
    streaming: bool,
    buffer: Box<[u8]>,
}

impl<W: Write> FrameWriter<W> {
    /// Frames compressed at zstd `level`, each with its checksum.
    pub(crate) fn new(output: W, level: i32) -> io::Result<Self> {
        let mut encoder = Encoder::new(level)?;
        encoder.set_parameter(CParameter::ChecksumFlag(true))?;
        Ok(FrameWriter {
            output,
            written: 0,
            collected: Vec::with_capacity(FRAME_BUFFER),
            compressor: compressor(level)?,
            trial: compressor(TRIAL_LEVEL)?,
            compressed: Vec::new(),
            encoder,
            streaming: false,
            buffer: vec![0; OUTPUT_BUFFER].into_boxed_slice(),
        })
    }

    /// Bytes written so far.
    pub(crate) fn offset(&self) -> u64 {
        self.written
    }

    fn emit(&mut self, length: usize) -> io::Result<()> {
        self.output.write_all(&self.buffer[..length])?;
        self.written += length as u64;
        Ok(())
    }

    /// Compress `data` into the current frame (starting one if none is open).
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if self.streaming {
            return self.stream(data);
        }
        if self.collected.len() + data.len() <= FRAME_BUFFER {
            self.collected.extend_from_slice(data);
            return Ok(());
        }
        self.streaming = true;
        let collected = std::mem::take(&mut self.collected);
        let streamed = self.stream(&collected);
        self.collected = collected;
        self.collected.clear();
        streamed?;
        self.stream(data)
    }

    fn stream(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let mut input = InBuffer::around(data);
            let mut output = OutBuffer::around(&mut self.buffer[..]);
            self.encoder.run(&mut input, &mut output)?;
            let (consumed, produced) = (input.pos(), output.pos());
            self.emit(produced)?;
            data = &data[consumed..];
        }
        Ok(())
    }

    /// End the current frame, if it took any input (an encoder that took none writes no
    /// frame, as upstream's does not), and return the offset after it.
    pub(crate) fn end_frame(&mut self) -> io::Result<u64> {
        if self.streaming {
            loop {
                let mut output = OutBuffer::around(&mut self.buffer[..]);
                let left = self.encoder.finish(&mut output, true)?;
                let produced = output.pos();
                self.emit(produced)?;
                if left == 0 {
                    break;
                }
            }
            self.encoder.reinit()?;
            self.streaming = false;
        } else if !self.collected.is_empty() {
            self.compress_collected()?;
            self.collected.clear();
        }
        Ok(self.written)
    }

    /// The collected frame, at the trial level when that cannot shrink it, else at the level.
    fn compress_collected(&mut self) -> io::Result<()> {
        let bound = zstd::zstd_safe::compress_bound(self.collected.len());
        self.compressed.clear();
        self.compressed.reserve(bound);
        self.trial
            .compress_to_buffer(&self.collected[..], &mut self.compressed)?;
        if self.compressed.len() <= self.collected.len() {
            self.compressed.clear();
            self.compressor
                .compress_to_buffer(&self.collected[..], &mut self.compressed)?;
        }
        self.output.write_all(&self.compressed)?;
        self.written += self.compressed.len() as u64;
        Ok(())
    }

    /// Append `data` as a skippable frame.
    pub(crate) fn skippable(&mut self, data: &[u8]) -> io::Result<()> {
        let length = u32::try_from(data.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "zstd:chunked metadata too large",
            )
        })?;
        self.output.write_all(&SKIPPABLE_FRAME_MAGIC)?;
        self.output.write_all(&length.to_le_bytes())?;
        self.output.write_all(data)?;
        self.written += 8 + data.len() as u64;
        Ok(())
    }

    /// The output, flushed.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.output.flush()?;
        Ok(self.output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_decode_as_one_stream_and_empty_frames_are_not_written() {
        let mut frames = FrameWriter::new(Vec::new(), 3).unwrap();
        assert_eq!(frames.end_frame().unwrap(), 0);
        frames.write(b"hello ").unwrap();
        let first = frames.end_frame().unwrap();
        assert!(first > 0);
        assert_eq!(frames.end_frame().unwrap(), first);
        frames.write(b"world").unwrap();
        frames.end_frame().unwrap();
        frames.skippable(b"metadata").unwrap();
        let offset = frames.offset();
        let bytes = frames.finish().unwrap();
        assert_eq!(bytes.len() as u64, offset);
        assert_eq!(zstd::decode_all(&bytes[..]).unwrap(), b"hello world");
        assert_eq!(
            zstd::decode_all(&bytes[first as usize..]).unwrap(),
            b"world"
        );
    }

    /// The descriptor byte of the frame at `offset` says it carries a checksum.
    fn has_checksum(bytes: &[u8], offset: usize) -> bool {
        bytes[offset..offset + 4] == [0x28, 0xb5, 0x2f, 0xfd] && bytes[offset + 4] & 0x04 != 0
    }

    /// Random bytes (stored at the trial level), text (compressed at the level) and a frame
    /// too long to collect (streamed) each become one frame with a checksum that decodes to
    /// its input.
    #[test]
    fn collected_and_streamed_frames_decode_with_checksums() {
        let mut state = 0x2545_f491_u64;
        let random: Vec<u8> = (0..FRAME_BUFFER + 300_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let text = b"the quick brown fox\n".repeat(5000);
        let inputs: [&[u8]; 3] = [&random[..100_000], &text, &random];
        let mut frames = FrameWriter::new(Vec::new(), 10).unwrap();
        let mut offsets = vec![0];
        for input in inputs {
            // In pieces, as the chunker hands them out.
            for piece in input.chunks(40_000) {
                frames.write(piece).unwrap();
            }
            offsets.push(frames.end_frame().unwrap() as usize);
        }
        let bytes = frames.finish().unwrap();
        for (index, input) in inputs.iter().enumerate() {
            let frame = &bytes[offsets[index]..offsets[index + 1]];
            assert!(has_checksum(&bytes, offsets[index]), "frame {index}");
            assert_eq!(zstd::decode_all(frame).unwrap(), *input, "frame {index}");
        }
        let stored = offsets[1] - offsets[0];
        assert!((100_000..100_100).contains(&stored), "{stored}");
        assert!(offsets[2] - offsets[1] < text.len() / 50);
    }
}
