//! The compressor (containers/storage's `writeZstdChunkedStream` and
//! `WriteZstdChunkedManifest`): reads a tar stream once and writes the zstd:chunked blob.

use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

use crate::chunker::{ChunkSink, Chunker};
use crate::frames::FrameWriter;
use crate::tar::TarReader;
use crate::tarsplit::{TarSplitPacker, CRC64_ISO};
use crate::toc::{footer, FileMetadata, Position, Toc};
use crate::ChunkedLayer;
use skopos_core::tar_split_crc::Crc64Digest;

/// `ManifestTypeCRFS`: the TOC format.
const MANIFEST_TYPE_CRFS: u64 = 1;
/// Bytes of a skippable frame's header (magic and length).
const SKIPPABLE_HEADER: u64 = 8;
/// File contents are read this much at a time (the chunk boundaries do not depend on it).
const CONTENTS_BUFFER: usize = 128 << 10;
/// Bytes after the end of the archive go into tar-split segments of at most this size.
const TRAILER_SEGMENT: usize = 1 << 20;

fn sha256_text(hasher: Sha256) -> String {
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// One chunk of a file (`chunk` upstream).
struct Chunk {
    chunk_offset: i64,
    offset: i64,
    digest: String,
    size: i64,
    zeros: bool,
}

fn to_i64(value: u64) -> io::Result<i64> {
    i64::try_from(value).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "offset too large"))
}

/// One file's contents on their way into frames: a frame per chunk, and the digests and
/// offsets its TOC entries need.
struct FileFrames<'a, W> {
    frames: &'a mut FrameWriter<W>,
    /// tar-split's checksum of the contents.
    crc: Crc64Digest,
    /// The digest of the contents, once the first chunk has ended: until then the chunk's
    /// digest is the file's, so those bytes are hashed once and the state is copied.
    whole: Option<Sha256>,
    chunk_hash: Sha256,
    /// Where the first frame of contents starts; `None` until contents come.
    start: Option<u64>,
    /// Where the current chunk's frame starts.
    last_offset: u64,
    /// Content bytes handed out so far, and where in them the current chunk starts.
    written_out: u64,
    last_chunk_offset: u64,
    chunks: Vec<Chunk>,
}

impl<W: Write> ChunkSink for FileFrames<'_, W> {
    fn data(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.start.is_none() {
            // The frame holding the header (and whatever came before it) ends here.
            let offset = self.frames.end_frame()?;
            self.start = Some(offset);
            self.last_offset = offset;
        }
        if let Some(whole) = &mut self.whole {
            whole.update(bytes);
        }
        self.crc.update(bytes);
        self.chunk_hash.update(bytes);
        self.frames.write(bytes)?;
        self.written_out += bytes.len() as u64;
        Ok(())
    }

    fn end_chunk(&mut self, zeros: bool) -> io::Result<()> {
        if self.start.is_none() {
            return Ok(());
        }
        let offset = self.frames.end_frame()?;
        let size = self.written_out - self.last_chunk_offset;
        if size > 0 {
            let chunk_hash = std::mem::take(&mut self.chunk_hash);
            if self.whole.is_none() {
                self.whole = Some(chunk_hash.clone());
            }
            self.chunks.push(Chunk {
                chunk_offset: to_i64(self.last_chunk_offset)?,
                offset: to_i64(self.last_offset)?,
                digest: sha256_text(chunk_hash),
                size: to_i64(size)?,
                zeros,
            });
        }
        self.last_offset = offset;
        self.last_chunk_offset = self.written_out;
        Ok(())
    }
}

/// Write the tar stream `input` to `output` as a zstd:chunked blob compressed at zstd
/// `level`; returns where its metadata is. Only the TOC and the compressed tar-split are kept
/// in memory; file contents stream through.
pub fn write_chunked<R: Read, W: Write>(
    input: R,
    output: W,
    level: i32,
) -> io::Result<(W, ChunkedLayer)> {
    let mut tar = TarReader::new(input);
    let mut tar_split = TarSplitPacker::new(level)?;
    let mut frames = FrameWriter::new(output, level)?;
    let mut entries: Vec<FileMetadata> = Vec::new();
    let mut buffer = vec![0u8; CONTENTS_BUFFER];

    while let Some(header) = tar.next_entry()? {
        let raw = tar.take_raw();
        tar_split.segment(&raw)?;
        frames.write(&raw)?;
        let mut metadata = FileMetadata::new(&header)?;

        let mut file = FileFrames {
            frames: &mut frames,
            crc: CRC64_ISO.digest(),
            whole: None,
            chunk_hash: Sha256::new(),
            start: None,
            last_offset: 0,
            written_out: 0,
            last_chunk_offset: 0,
            chunks: Vec::new(),
        };
        let mut chunker = Chunker::new();
        loop {
            let read = match tar.read(&mut buffer) {
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            if read == 0 {
                break;
            }
            chunker.feed(&buffer[..read], &mut file)?;
        }
        chunker.finish(&mut file)?;
        let FileFrames {
            crc,
            whole,
            start,
            last_offset,
            chunks,
            ..
        } = file;
        tar_split.file(
            &header.name,
            header.size,
            (header.size > 0).then(|| crc.finalize()),
        )?;
        if let (Some(start), Some(whole)) = (start, whole) {
            metadata.digest = sha256_text(whole);
            metadata.offset = to_i64(start)?;
        }
        metadata.end_offset = to_i64(last_offset)?;
        let many = chunks.len() > 1;
        let mut file_entries = vec![metadata];
        for chunk in chunks.iter().skip(1) {
            file_entries.push(FileMetadata {
                kind: "chunk",
                name: file_entries[0].name.clone(),
                chunk_offset: chunk.chunk_offset,
                ..FileMetadata::default()
            });
        }
        if many {
            for (entry, chunk) in file_entries.iter_mut().zip(&chunks) {
                entry.chunk_size = chunk.size;
                entry.offset = chunk.offset;
                entry.chunk_digest = chunk.digest.clone();
                entry.chunk_type = if chunk.zeros {
                    "zeros".into()
                } else {
                    String::new()
                };
            }
        }
        entries.extend(file_entries);
    }

    // The end of the archive, and whatever follows it, go into the last frame.
    let raw = tar.take_raw();
    tar_split.segment(&raw)?;
    frames.write(&raw)?;
    let mut rest = tar.into_rest();
    let mut trailer = vec![0u8; TRAILER_SEGMENT];
    loop {
        let read = read_full(&mut rest, &mut trailer)?;
        if read == 0 {
            break;
        }
        tar_split.segment(&trailer[..read])?;
        frames.write(&trailer[..read])?;
    }
    frames.end_frame()?;
    let tar_split = tar_split.finish()?;

    let toc = Toc {
        version: 1,
        entries: (!entries.is_empty()).then_some(entries.as_slice()),
        tar_split_digest: sha256_text(Sha256::new_with_prefix(&tar_split.compressed)),
    };
    let toc_json = skopos_core::go::json::to_vec(&toc).map_err(io::Error::other)?;
    let toc_compressed = compress_frame(&toc_json, level)?;
    let toc_position = Position {
        offset: frames.offset() + SKIPPABLE_HEADER,
        compressed: toc_compressed.len() as u64,
        uncompressed: toc_json.len() as u64,
    };
    frames.skippable(&toc_compressed)?;
    let tar_split_position = Position {
        offset: frames.offset() + SKIPPABLE_HEADER,
        compressed: tar_split.compressed.len() as u64,
        uncompressed: tar_split.uncompressed_size,
    };
    frames.skippable(&tar_split.compressed)?;
    frames.skippable(&footer(
        toc_position,
        MANIFEST_TYPE_CRFS,
        tar_split_position,
    ))?;
    let output = frames.finish()?;
    Ok((
        output,
        ChunkedLayer {
            toc_digest: sha256_text(Sha256::new_with_prefix(&toc_compressed)),
            toc_position: format!(
                "{}:{}:{}:{MANIFEST_TYPE_CRFS}",
                toc_position.offset, toc_position.compressed, toc_position.uncompressed
            ),
            tar_split_position: format!(
                "{}:{}:{}",
                tar_split_position.offset,
                tar_split_position.compressed,
                tar_split_position.uncompressed
            ),
        },
    ))
}

/// One zstd frame of `data`, with its checksum.
fn compress_frame(data: &[u8], level: i32) -> io::Result<Vec<u8>> {
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), level)?;
    encoder.include_checksum(true)?;
    encoder.write_all(data)?;
    encoder.finish()
}

fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = ::tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut header = ::tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            builder.append_data(&mut header, name, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn field(text: &str, index: usize) -> usize {
        text.split(':').nth(index).unwrap().parse().unwrap()
    }

    #[test]
    fn the_blob_is_the_tar_in_zstd_with_a_toc_pointing_at_each_file() {
        let tar = tar_of(&[("a", b"first"), ("empty", b""), ("b", b"second file")]);
        let (blob, layer) = write_chunked(&tar[..], Vec::new(), 3).unwrap();
        assert_eq!(zstd::decode_all(&blob[..]).unwrap(), tar);
        let annotations = layer.annotations();
        let position = &annotations[crate::TOC_POSITION_ANNOTATION];
        let (offset, length) = (field(position, 0), field(position, 1));
        let compressed = &blob[offset..offset + length];
        assert_eq!(
            layer.toc_digest,
            format!("sha256:{}", hex::encode(Sha256::digest(compressed)))
        );
        let toc: serde_json::Value =
            serde_json::from_slice(&zstd::decode_all(compressed).unwrap()).unwrap();
        let entries = toc["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 3);
        for (entry, contents) in entries.iter().zip([&b"first"[..], b"", b"second file"]) {
            if contents.is_empty() {
                assert!(entry.get("offset").is_none() && entry.get("digest").is_none());
                continue;
            }
            let start = entry["offset"].as_u64().unwrap() as usize;
            let end = entry["endOffset"].as_u64().unwrap() as usize;
            assert_eq!(zstd::decode_all(&blob[start..end]).unwrap(), contents);
            assert_eq!(
                entry["digest"],
                format!("sha256:{}", hex::encode(Sha256::digest(contents)))
            );
        }
        assert_eq!(
            entries[0]["modtime"].as_str().map(|t| t.starts_with("19")),
            Some(true)
        );
    }

    #[test]
    fn an_empty_stream_has_no_entries_and_bad_input_fails() {
        let (blob, layer) = write_chunked(&b""[..], Vec::new(), 3).unwrap();
        let position = layer.toc_position;
        let (offset, length) = (field(&position, 0), field(&position, 1));
        let toc = zstd::decode_all(&blob[offset..offset + length]).unwrap();
        assert!(toc.starts_with(br#"{"version":1,"entries":null,"tarSplitDigest":"sha256:"#));
        let error = write_chunked(&[7u8; 1024][..], Vec::new(), 3).unwrap_err();
        assert_eq!(error.to_string(), "archive/tar: invalid tar header");
        let mut duplicate = tar_of(&[("x", b"1"), ("./x", b"2")]);
        let error = write_chunked(&duplicate[..], Vec::new(), 3).unwrap_err();
        assert_eq!(error.to_string(), "duplicates of file paths not supported");
        // A global PAX header is an entry Go's reader returns, and has no TOC type.
        duplicate.truncate(0);
        let mut builder = ::tar::Builder::new(duplicate);
        let mut header = ::tar::Header::new_ustar();
        header.set_entry_type(::tar::EntryType::XGlobalHeader);
        header.set_size(0);
        builder.append_data(&mut header, "g", &b""[..]).unwrap();
        let error = write_chunked(&builder.into_inner().unwrap()[..], Vec::new(), 3).unwrap_err();
        assert_eq!(error.to_string(), "unknown tarball type: 103");
    }
}
