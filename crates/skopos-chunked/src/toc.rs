//! The table of contents (containers/storage's `minimal.TOC`), as Go marshals it: one entry
//! per tar entry, in archive order, plus one `chunk` entry per further chunk of a file.

use std::collections::BTreeMap;
use std::io;

use base64::Engine as _;
use chrono::{Local, TimeZone as _};
use serde::Serialize;
use skopos_core::go::time::GoTime;

use crate::tar::{Header, UnixTime};

/// `minimal.TOC`.
#[derive(Serialize)]
pub(crate) struct Toc<'a> {
    pub(crate) version: u32,
    /// `null` for an archive without entries, as Go writes a nil slice.
    pub(crate) entries: Option<&'a [FileMetadata]>,
    #[serde(rename = "tarSplitDigest")]
    pub(crate) tar_split_digest: String,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

/// `minimal.FileMetadata`, with Go's field order and `omitempty`s.
#[derive(Serialize, Default, Debug, Clone)]
pub(crate) struct FileMetadata {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) name: String,
    #[serde(rename = "linkName", skip_serializing_if = "String::is_empty")]
    pub(crate) link_name: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) mode: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) size: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) uid: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) gid: i64,
    #[serde(rename = "modtime", skip_serializing_if = "Option::is_none")]
    pub(crate) modified: Option<String>,
    #[serde(rename = "accesstime", skip_serializing_if = "Option::is_none")]
    pub(crate) accessed: Option<String>,
    #[serde(rename = "changetime", skip_serializing_if = "Option::is_none")]
    pub(crate) changed: Option<String>,
    #[serde(rename = "devMajor", skip_serializing_if = "is_zero")]
    pub(crate) devmajor: i64,
    #[serde(rename = "devMinor", skip_serializing_if = "is_zero")]
    pub(crate) devminor: i64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) xattrs: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) digest: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) offset: i64,
    #[serde(rename = "endOffset", skip_serializing_if = "is_zero")]
    pub(crate) end_offset: i64,
    #[serde(rename = "chunkSize", skip_serializing_if = "is_zero")]
    pub(crate) chunk_size: i64,
    #[serde(rename = "chunkOffset", skip_serializing_if = "is_zero")]
    pub(crate) chunk_offset: i64,
    #[serde(rename = "chunkDigest", skip_serializing_if = "String::is_empty")]
    pub(crate) chunk_digest: String,
    #[serde(rename = "chunkType", skip_serializing_if = "String::is_empty")]
    pub(crate) chunk_type: String,
}

/// The TOC type of a tar type flag (`minimal.GetType`).
fn entry_type(typeflag: u8) -> io::Result<&'static str> {
    Ok(match typeflag {
        b'0' => "reg",
        b'1' => "hardlink",
        b'2' => "symlink",
        b'3' => "char",
        b'4' => "block",
        b'5' => "dir",
        b'6' => "fifo",
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unknown tarball type: {other}"),
            ))
        }
    })
}

/// The PAX prefix of extended attributes (`archive.PaxSchilyXattr`).
const XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";

impl FileMetadata {
    /// The entry for `header` (`minimal.NewFileMetadata`); offsets, digests and chunks are
    /// filled in by the caller.
    pub(crate) fn new(header: &Header) -> io::Result<FileMetadata> {
        let xattrs = header
            .pax_records
            .iter()
            .filter_map(|(key, value)| {
                let name = key.strip_prefix(XATTR_PREFIX)?;
                Some((
                    go_string(name),
                    base64::engine::general_purpose::STANDARD.encode(value),
                ))
            })
            .collect();
        Ok(FileMetadata {
            kind: entry_type(header.typeflag)?,
            name: go_string(&header.name),
            link_name: go_string(&header.linkname),
            mode: header.mode,
            size: header.size,
            uid: header.uid,
            gid: header.gid,
            modified: go_time(header.modified)?,
            accessed: header.accessed.map(go_time).transpose()?.flatten(),
            changed: header.changed.map(go_time).transpose()?.flatten(),
            devmajor: header.devmajor,
            devminor: header.devminor,
            xattrs,
            ..FileMetadata::default()
        })
    }
}

/// Bytes as Go's JSON encoder writes a string of them: each byte that is not part of valid
/// UTF-8 becomes U+FFFD.
pub(crate) fn go_string(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                text.push_str(valid);
                return text;
            }
            Err(error) => {
                let (valid, after) = rest.split_at(error.valid_up_to());
                text.push_str(std::str::from_utf8(valid).unwrap_or_default());
                let invalid = error.error_len().unwrap_or(after.len());
                text.extend(std::iter::repeat_n('\u{FFFD}', invalid));
                rest = &after[invalid..];
            }
        }
    }
}

/// Go's zero `time.Time` (January 1, year 1, UTC) in Unix seconds: such times are omitted.
const GO_ZERO_TIME: i64 = -62_135_596_800;

/// A time as Go's `time.Time.MarshalJSON` writes `time.Unix(…)` (local zone, RFC 3339 with
/// nanoseconds, trailing zeros trimmed); `None` for Go's zero time.
fn go_time(time: UnixTime) -> io::Result<Option<String>> {
    if time.seconds == GO_ZERO_TIME && time.nanoseconds == 0 {
        return Ok(None);
    }
    let out_of_range = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "Time.MarshalJSON: year outside of range [0,9999]",
        )
    };
    let local = Local
        .timestamp_opt(time.seconds, time.nanoseconds)
        .single()
        .ok_or_else(out_of_range)?;
    let go_time = GoTime::from_datetime(&local).map_err(|_| out_of_range())?;
    Ok(Some(go_time.to_rfc3339_nano()))
}

/// `minimal.ZstdChunkedFooterData` as `footerDataToBlob` lays it out: seven little-endian
/// u64s and the magic `GNUlInUx`.
pub(crate) fn footer(toc: Position, manifest_type: u64, tar_split: Position) -> [u8; 64] {
    let mut footer = [0u8; 64];
    let values = [
        toc.offset,
        toc.compressed,
        toc.uncompressed,
        manifest_type,
        tar_split.offset,
        tar_split.compressed,
        tar_split.uncompressed,
    ];
    for (index, value) in values.iter().enumerate() {
        footer[index * 8..index * 8 + 8].copy_from_slice(&value.to_le_bytes());
    }
    footer[56..].copy_from_slice(b"GNUlInUx");
    footer
}

/// Where a metadata frame's data is in the blob.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Position {
    pub(crate) offset: u64,
    pub(crate) compressed: u64,
    pub(crate) uncompressed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_times_are_written_as_go_writes_them() {
        assert_eq!(go_string(b"a\xffb\xe2\x82"), "a\u{FFFD}b\u{FFFD}\u{FFFD}");
        assert_eq!(
            go_time(UnixTime {
                seconds: GO_ZERO_TIME,
                nanoseconds: 0
            })
            .unwrap(),
            None
        );
        let far = UnixTime {
            seconds: 400_000_000_000,
            nanoseconds: 0,
        };
        assert!(go_time(far).is_err());
        let entry = FileMetadata {
            kind: "reg",
            name: "a<b".into(),
            size: 3,
            ..FileMetadata::default()
        };
        let json = skopos_core::go::json::to_vec(&entry).unwrap();
        assert_eq!(json, br#"{"type":"reg","name":"a\u003cb","size":3}"#);
    }
}
