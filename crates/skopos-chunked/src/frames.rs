//! The blob being written: zstd frames that start and end where the layout needs them, zstd
//! skippable frames for metadata, and a count of the bytes written so far (the offsets the
//! TOC records).

use std::io::{self, Write};

use zstd::stream::raw::{Encoder, InBuffer, Operation, OutBuffer};

/// The magic number of the skippable frames containers/storage writes (0x184D2A50).
const SKIPPABLE_FRAME_MAGIC: [u8; 4] = [0x50, 0x2a, 0x4d, 0x18];
/// Compressed output collected before it is written on.
const OUTPUT_BUFFER: usize = 128 << 10;

/// Writes frames into `output`, counting bytes.
pub(crate) struct FrameWriter<W> {
    output: W,
    written: u64,
    encoder: Encoder<'static>,
    buffer: Box<[u8]>,
    /// Whether a frame has taken input and not ended yet.
    in_frame: bool,
}

impl<W: Write> FrameWriter<W> {
    /// Frames compressed at zstd `level`, each with its checksum (as containers/storage's
    /// encoder writes them).
    pub(crate) fn new(output: W, level: i32) -> io::Result<Self> {
        let mut encoder = Encoder::new(level)?;
        encoder.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
        Ok(FrameWriter {
            output,
            written: 0,
            encoder,
            buffer: vec![0; OUTPUT_BUFFER].into_boxed_slice(),
            in_frame: false,
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
    pub(crate) fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.in_frame = true;
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
        if self.in_frame {
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
            self.in_frame = false;
        }
        Ok(self.written)
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
}
