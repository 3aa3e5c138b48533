//! The tar-split stream (vbatts/tar-split's JSON packer, as containers/storage's compressor
//! feeds it): one JSON line per raw segment or file entry, zstd-compressed into one frame.

use std::collections::HashSet;
use std::io::{self, Write};

use base64::Engine as _;
use serde::Serialize;

pub(crate) use skopos_core::tar_split_crc::CRC64_ISO;

/// log2 of the tar-split encoder's window and match tables (1 MiB of history).
const TAR_SPLIT_WINDOW_LOG: u32 = 20;

/// `storage.Entry`, with its field order.
#[derive(Serialize)]
struct Entry<'a> {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name_raw: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    size: i64,
    /// Base64; `null` for a file without contents.
    payload: Option<String>,
    position: u64,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The compressed tar-split of a layer, built as the layer is read.
pub(crate) struct TarSplitPacker {
    encoder: zstd::stream::write::Encoder<'static, Vec<u8>>,
    uncompressed: u64,
    position: u64,
    /// Cleaned names of the file entries so far: tar-split refuses duplicates.
    seen: HashSet<Vec<u8>>,
}

/// The finished stream.
pub(crate) struct TarSplit {
    pub(crate) compressed: Vec<u8>,
    pub(crate) uncompressed_size: u64,
}

impl TarSplitPacker {
    /// A packer compressing at zstd `level`.
    pub(crate) fn new(level: i32) -> io::Result<Self> {
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), level)?;
        encoder.include_checksum(true)?;
        // The stream's size is unknown until the end, so libzstd would size its tables for
        // the level's largest inputs (tens of MiB at level 10) and keep them for the whole
        // layer next to the file frames' own; tar-split lines repeat within a few KiB.
        encoder.set_parameter(zstd::zstd_safe::CParameter::WindowLog(TAR_SPLIT_WINDOW_LOG))?;
        encoder.set_parameter(zstd::zstd_safe::CParameter::HashLog(TAR_SPLIT_WINDOW_LOG))?;
        encoder.set_parameter(zstd::zstd_safe::CParameter::ChainLog(TAR_SPLIT_WINDOW_LOG))?;
        Ok(TarSplitPacker {
            encoder,
            uncompressed: 0,
            position: 0,
            seen: HashSet::new(),
        })
    }

    /// Raw archive bytes; nothing for none.
    pub(crate) fn segment(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.add(Entry {
            kind: 2,
            name: None,
            name_raw: None,
            size: 0,
            payload: Some(base64(bytes)),
            position: 0,
        })
    }

    /// A file entry: its name as in the archive, the size its header gives and, when that is
    /// positive, the CRC-64 of its contents.
    pub(crate) fn file(&mut self, name: &[u8], size: i64, crc64: Option<u64>) -> io::Result<()> {
        if !self.seen.insert(clean_path(name)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "duplicates of file paths not supported",
            ));
        }
        let text = std::str::from_utf8(name).ok();
        self.add(Entry {
            kind: 1,
            name: text,
            name_raw: text.is_none().then(|| base64(name)),
            size,
            payload: crc64.map(|sum| base64(&sum.to_be_bytes())),
            position: 0,
        })
    }

    fn add(&mut self, mut entry: Entry<'_>) -> io::Result<()> {
        entry.position = self.position;
        let mut line = skopos_core::go::json::to_vec(&entry).map_err(io::Error::other)?;
        line.push(b'\n');
        self.encoder.write_all(&line)?;
        self.uncompressed += line.len() as u64;
        self.position += 1;
        Ok(())
    }

    /// End the frame.
    pub(crate) fn finish(self) -> io::Result<TarSplit> {
        Ok(TarSplit {
            compressed: self.encoder.finish()?,
            uncompressed_size: self.uncompressed,
        })
    }
}

/// Go's `filepath.Clean` on a Unix path, lexically.
fn clean_path(path: &[u8]) -> Vec<u8> {
    let rooted = path.first() == Some(&b'/');
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if parts.last().is_some_and(|last| *last != b"..") {
                    parts.pop();
                } else if !rooted {
                    parts.push(part);
                }
            }
            _ => parts.push(part),
        }
    }
    let mut cleaned = if rooted { b"/".to_vec() } else { Vec::new() };
    cleaned.extend(parts.join(&b'/'));
    if cleaned.is_empty() {
        cleaned.push(b'.');
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_paths_as_go_does() {
        for (path, clean) in [
            ("a/b/", "a/b"),
            ("./a//b/../c", "a/c"),
            ("/../x", "/x"),
            ("../../y", "../../y"),
            ("", "."),
            ("a/..", "."),
        ] {
            assert_eq!(clean_path(path.as_bytes()), clean.as_bytes(), "{path}");
        }
    }

    #[test]
    fn lines_are_tar_split_json_and_duplicates_fail() {
        let mut packer = TarSplitPacker::new(3).unwrap();
        packer.segment(b"hdr").unwrap();
        packer
            .file(b"dir/hello", 12, Some(CRC64_ISO.checksum(b"hello world\n")))
            .unwrap();
        packer.file(b"\xff", 0, None).unwrap();
        assert!(packer.file(b"./dir//hello", 0, None).is_err());
        let split = packer.finish().unwrap();
        let text = zstd::decode_all(&split.compressed[..]).unwrap();
        assert_eq!(text.len() as u64, split.uncompressed_size);
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "{\"type\":2,\"payload\":\"aGRy\",\"position\":0}\n\
             {\"type\":1,\"name\":\"dir/hello\",\"size\":12,\"payload\":\"ROnPP1cq2aw=\",\"position\":1}\n\
             {\"type\":1,\"name_raw\":\"/w==\",\"payload\":null,\"position\":2}\n"
        );
    }
}
