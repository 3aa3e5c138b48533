//! A guard in front of the `tar` crate that refuses an oversized PAX or GNU long-name
//! record before the crate reads it, and the crate's reading errors in the words of Go's
//! `archive/tar` (the crate's own can quote raw header bytes: binary, over several lines,
//! whatever the file handed over as a tar holds).
//!
//! The `tar` crate reads a GNU long name or long link (`L`, `K`) and a PAX extended header
//! (`x`) whole into memory, however large its header says it is, so a hostile archive can
//! make it hold gigabytes. [`TarHeaderGuard`] sits between the archive's bytes and the
//! crate, follows the stream's 512-byte blocks as they pass, and fails the read that brings
//! a header of one of those kinds (or a global PAX header, `g`) whose size is past
//! [`MAX_TAR_SPECIAL_FILE`], before any of its body is read. Every reader of a tar wraps
//! its input in it.
//!
//! To know where each header starts it must size each entry as the `tar` crate does: a PAX
//! `size` record overrides the next entry's header size, and a GNU sparse header may be
//! followed by extension blocks. Header fields are decoded by the `tar` crate itself so the
//! two never disagree.

use std::io::{self, Read, Seek, SeekFrom};

use crate::go::text::go_errno_text;
use crate::limits::MAX_TAR_SPECIAL_FILE;

const BLOCK: usize = 512;

/// A PAX or GNU long-name record longer than [`MAX_TAR_SPECIAL_FILE`]. Its text starts as
/// Go's `archive/tar` error for the same archive does.
#[derive(Debug, thiserror::Error)]
#[error(
    "archive/tar: header field too long: {kind} of {size} bytes is past the limit of {limit} bytes"
)]
pub struct TarHeaderTooLong {
    /// What the record is (`GNU long name`, `PAX extended header`, ...).
    pub kind: &'static str,
    /// The size its header claims.
    pub size: u64,
    /// The limit, in bytes.
    pub limit: u64,
}

/// Go's `archive/tar` error for a header block that is not one.
pub const INVALID_TAR_HEADER: &str = "archive/tar: invalid tar header";

/// Whether `err`, from the `tar` crate, refuses a header block: a checksum that does not
/// match, or a numeric field that is no number, which Go's `archive/tar` both calls
/// [`INVALID_TAR_HEADER`]. The crate's own words for these quote the block's raw bytes
/// (binary, over several lines, whatever the file handed over as a tar holds), so they are
/// not for showing. Errors of the reader under the crate pass through it unchanged and are
/// not these.
pub fn is_invalid_tar_header(err: &io::Error) -> bool {
    let text = err.to_string();
    text == "archive header checksum mismatch" || text.starts_with("numeric field ")
}

/// Why reading a tar's headers failed, for a reader over a file (whose own errors are OS
/// errors).
#[derive(Debug, PartialEq, Eq)]
pub enum TarReadFailure {
    /// The archive ends inside a header block (Go: `unexpected EOF`); each reader says it
    /// in its transport's words.
    Truncated,
    /// Anything else, as Go words it: a header that is not one ([`INVALID_TAR_HEADER`]), a
    /// header record past its limit, an I/O error.
    Other(String),
}

/// What `err`, from the `tar` crate's entry iterator over a file, means. A whole header block
/// that does not check out is invalid, as in Go, however long the file is; one cut short is
/// the end of a truncated archive.
pub fn tar_read_failure(err: &io::Error) -> TarReadFailure {
    let too_long = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<TarHeaderTooLong>());
    if let Some(too_long) = too_long {
        return TarReadFailure::Other(too_long.to_string());
    }
    if err.raw_os_error().is_some() {
        return TarReadFailure::Other(go_errno_text(err));
    }
    // The tar crate reports a header block cut short in words of its own.
    if err.kind() == io::ErrorKind::UnexpectedEof
        || err.to_string().contains("failed to read entire block")
    {
        TarReadFailure::Truncated
    } else {
        TarReadFailure::Other(INVALID_TAR_HEADER.to_string())
    }
}

/// What the bytes after the current header are.
#[derive(Debug, Clone, Copy)]
enum Position {
    /// Gathering a header block: this many of its bytes have passed.
    Header(usize),
    /// GNU sparse extension blocks follow the header; `body` is the size of the entry's
    /// data after them.
    SparseExtension { filled: usize, body: u64 },
    /// Inside an entry's data and padding: this many bytes are left before the next header.
    Body(u64),
    /// Past the end of the archive (a block of zeros, after which the `tar` crate reads no
    /// more headers), or past a header the `tar` crate itself will refuse: nothing after it
    /// is read as a header.
    Ended,
}

/// Reads a tar stream through to the caller while refusing oversized PAX and GNU
/// long-name records; see the module documentation.
#[derive(Debug)]
pub struct TarHeaderGuard<R> {
    inner: R,
    position: Position,
    /// The header (or sparse extension block) being gathered.
    block: [u8; BLOCK],
    /// The body of a PAX extended header being read, and how much of it is still to come;
    /// its `size` record sizes the next entry.
    pax: Option<(Vec<u8>, u64)>,
    /// The size a PAX `size` record gave the next entry.
    pax_size: Option<u64>,
}

impl<R> TarHeaderGuard<R> {
    /// A guard over `inner`, which must be at the start of an archive.
    pub fn new(inner: R) -> Self {
        TarHeaderGuard {
            inner,
            position: Position::Header(0),
            block: [0; BLOCK],
            pax: None,
            pax_size: None,
        }
    }

    /// The reader it wraps.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Follow `bytes`, which just passed, through the archive's layout.
    fn observe(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match self.position {
                Position::Ended => return Ok(()),
                Position::Header(filled) | Position::SparseExtension { filled, .. } => {
                    let taken = bytes.len().min(BLOCK - filled);
                    self.block[filled..filled + taken].copy_from_slice(&bytes[..taken]);
                    bytes = &bytes[taken..];
                    let filled = filled + taken;
                    self.position = match self.position {
                        Position::SparseExtension { body, .. } if filled == BLOCK => {
                            self.after_sparse_extension(body)
                        }
                        Position::SparseExtension { body, .. } => {
                            Position::SparseExtension { filled, body }
                        }
                        _ if filled == BLOCK => self.after_header()?,
                        _ => Position::Header(filled),
                    };
                }
                Position::Body(left) => {
                    let taken = u64::try_from(bytes.len()).unwrap_or(u64::MAX).min(left);
                    // `taken` is at most `bytes.len()`.
                    let (passed, rest) = bytes.split_at(taken as usize);
                    self.collect_pax(passed);
                    bytes = rest;
                    self.position = if taken == left {
                        self.finish_pax();
                        Position::Header(0)
                    } else {
                        Position::Body(left - taken)
                    };
                }
            }
        }
        Ok(())
    }

    /// Where the stream goes after the complete header in `block`.
    fn after_header(&mut self) -> io::Result<Position> {
        let header = tar::Header::from_byte_slice(&self.block);
        if self.block.iter().all(|byte| *byte == 0) {
            return Ok(Position::Ended);
        }
        let kind = self.block[156];
        let special = match kind {
            b'L' => Some("GNU long name"),
            b'K' => Some("GNU long link name"),
            b'x' => Some("PAX extended header"),
            b'g' => Some("PAX global header"),
            _ => None,
        };
        let Ok(header_size) = header.entry_size() else {
            // The `tar` crate fails on this header with its own words.
            return Ok(Position::Ended);
        };
        if let Some(kind) = special {
            if header_size > MAX_TAR_SPECIAL_FILE {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    TarHeaderTooLong {
                        kind,
                        size: header_size,
                        limit: MAX_TAR_SPECIAL_FILE,
                    },
                ));
            }
        }
        // As the `tar` crate does: only headers with a USTAR or GNU magic are records for
        // the next entry; any other entry, these kinds included, takes the pending PAX
        // records for itself, but only an ordinary entry is sized by them.
        let recognized = header.as_ustar().is_some() || header.as_gnu().is_some();
        let size = match (special, recognized) {
            (Some(_), true) if kind == b'x' => {
                // At most MAX_TAR_SPECIAL_FILE, checked above.
                self.pax = Some((Vec::with_capacity(header_size as usize), header_size));
                self.pax_size = None;
                header_size
            }
            (Some(_), true) if kind != b'g' => header_size,
            (Some(_), _) => {
                self.pax_size = None;
                header_size
            }
            (None, _) => self.pax_size.take().unwrap_or(header_size),
        };
        let padded = round_up(size)?;
        let sparse_extended = kind == b'S' && header.as_gnu().is_some_and(|gnu| gnu.is_extended());
        Ok(if sparse_extended {
            Position::SparseExtension {
                filled: 0,
                body: padded,
            }
        } else {
            self.body(padded)
        })
    }

    /// Where the stream goes after the complete sparse extension block in `block`.
    fn after_sparse_extension(&mut self, body: u64) -> Position {
        // The flag is the block's byte 504 (`GnuExtSparseHeader::isextended`).
        if self.block[504] == 1 {
            Position::SparseExtension { filled: 0, body }
        } else {
            self.body(body)
        }
    }

    /// A body of `padded` bytes (an empty one is no body at all).
    fn body(&mut self, padded: u64) -> Position {
        if padded == 0 {
            self.finish_pax();
            Position::Header(0)
        } else {
            Position::Body(padded)
        }
    }

    fn collect_pax(&mut self, passed: &[u8]) {
        if let Some((records, wanted)) = &mut self.pax {
            let wanted_now = passed
                .len()
                .min(usize::try_from(*wanted).unwrap_or(usize::MAX));
            records.extend_from_slice(&passed[..wanted_now]);
            *wanted -= wanted_now as u64;
        }
    }

    /// At the end of a PAX header's body: its `size` record, as the `tar` crate reads it.
    fn finish_pax(&mut self) {
        if let Some((records, _)) = self.pax.take() {
            self.pax_size = pax_size(&records);
        }
    }
}

/// The `size` record of PAX `records`, read as the `tar` crate reads it (the first `size`
/// key, nothing when a record before it or its value is malformed).
fn pax_size(records: &[u8]) -> Option<u64> {
    for record in tar::PaxExtensions::new(records) {
        let record = record.ok()?;
        if record.key() == Ok("size") {
            return record.value().ok()?.parse().ok();
        }
    }
    None
}

/// `size` rounded up to whole blocks.
fn round_up(size: u64) -> io::Result<u64> {
    size.checked_next_multiple_of(BLOCK as u64)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "tar entry size overflows"))
}

impl<R: Read> Read for TarHeaderGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.observe(&buf[..read])?;
        Ok(read)
    }
}

impl<R: Seek> Seek for TarHeaderGuard<R> {
    /// Only what skipping an entry's data needs: a forward move within the current body
    /// (the `tar` crate's `entries_with_seek`), or asking for the position. Anything else
    /// would pass headers unseen, so it is refused.
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let skipped = match to {
            SeekFrom::Current(0) => return self.inner.seek(to),
            SeekFrom::Current(forward) if forward > 0 => forward as u64,
            _ => return Err(io::Error::other("a tar stream can only be skipped forward")),
        };
        let within_body = matches!(self.position, Position::Body(left) if skipped <= left);
        let collecting = self.pax.as_ref().is_some_and(|(_, wanted)| *wanted > 0);
        if !within_body || collecting {
            return Err(io::Error::other(
                "skipping past a tar header that was not read",
            ));
        }
        let position = self.inner.seek(to)?;
        if let Position::Body(left) = self.position {
            self.position = if skipped == left {
                self.finish_pax();
                Position::Header(0)
            } else {
                Position::Body(left - skipped)
            };
        }
        Ok(position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: tar::EntryType, name: &str, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_path(name).unwrap();
        header.set_size(size);
        header.set_cksum();
        header
    }

    /// Read `archive` through the guard with the `tar` crate, returning each entry's name
    /// and contents.
    fn entries(archive: &[u8], chunk: usize) -> io::Result<Vec<(String, Vec<u8>)>> {
        /// Hands out at most `chunk` bytes a read, to cross block boundaries everywhere.
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.1).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut archive = tar::Archive::new(TarHeaderGuard::new(Trickle(archive, chunk)));
        let mut found = Vec::new();
        for entry in archive.entries()? {
            let mut entry = entry?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            found.push((name, data));
        }
        Ok(found)
    }

    fn octal(field: &mut [u8; 12], value: u64) {
        field.copy_from_slice(format!("{value:011o}\0").as_bytes());
    }

    /// A GNU sparse file whose second data block is listed in an extension block: 512
    /// bytes at 0 and 512 at 4096, so 1024 bytes stored after two header blocks.
    fn sparse_entry() -> Vec<u8> {
        let mut header = header(tar::EntryType::GNUSparse, "sparse", 1024);
        let gnu = header.as_gnu_mut().unwrap();
        octal(&mut gnu.realsize, 4608);
        octal(&mut gnu.sparse[0].offset, 0);
        octal(&mut gnu.sparse[0].numbytes, 512);
        gnu.isextended[0] = 1;
        header.set_cksum();
        let mut extension = tar::GnuExtSparseHeader::new();
        octal(&mut extension.sparse[0].offset, 4096);
        octal(&mut extension.sparse[0].numbytes, 512);
        let mut entry = header.as_bytes().to_vec();
        entry.extend_from_slice(extension.as_bytes());
        entry.extend_from_slice(&[9u8; 1024]);
        entry
    }

    #[test]
    fn passes_long_names_pax_records_and_sparse_files_through() {
        let mut builder = tar::Builder::new(Vec::new());
        let long = "d/".repeat(300) + "file";
        let mut file = header(tar::EntryType::Regular, "short", 5);
        builder
            .append_data(&mut file, &long, &b"hello"[..])
            .unwrap();
        // A PAX `size` record that overrides the header's size of 0.
        builder
            .append_pax_extensions([("size", &b"700"[..]), ("path", &b"pax-named"[..])])
            .unwrap();
        let mut sized = header(tar::EntryType::Regular, "x", 0);
        builder.append(&sized, &[7u8; 700][..]).unwrap();
        builder.get_mut().extend(sparse_entry());
        sized = header(tar::EntryType::Regular, "after", 3);
        builder.append(&sized, &b"end"[..]).unwrap();
        let archive = builder.into_inner().unwrap();
        for chunk in [1, 7, 512, 100_000] {
            let found = entries(&archive, chunk).unwrap();
            assert_eq!(found[0], (long.clone(), b"hello".to_vec()));
            assert_eq!(found[1], ("pax-named".to_string(), vec![7u8; 700]));
            assert_eq!(found[2].0, "sparse");
            assert_eq!(found[2].1.len(), 4608);
            assert_eq!(found[3], ("after".to_string(), b"end".to_vec()));
        }
    }

    #[test]
    fn refuses_an_oversized_long_name_before_reading_it() {
        for (kind, what) in [
            (tar::EntryType::GNULongName, "GNU long name"),
            (tar::EntryType::GNULongLink, "GNU long link name"),
            (tar::EntryType::XHeader, "PAX extended header"),
            (tar::EntryType::XGlobalHeader, "PAX global header"),
        ] {
            let claimed = 4u64 << 30;
            let mut archive = header(kind, "././@LongLink", claimed).as_bytes().to_vec();
            // The body that follows would be gigabytes; an endless one shows none of it is
            // wanted.
            let mut guard =
                TarHeaderGuard::new(io::Cursor::new(&mut archive).chain(io::repeat(b'a')));
            let mut sink = [0u8; 4096];
            let err = loop {
                if let Err(err) = guard.read(&mut sink) {
                    break err;
                }
            };
            assert_eq!(
                err.to_string(),
                format!(
                    "archive/tar: header field too long: {what} of {claimed} bytes is past the limit of 1048576 bytes"
                )
            );
        }
        // Found after entries sized by a sparse extension block and by a PAX `size` record,
        // which shows the guard keeps its place in the stream.
        let mut builder = tar::Builder::new(Vec::new());
        builder.get_mut().extend(sparse_entry());
        builder
            .append_pax_extensions([("size", &b"1500"[..])])
            .unwrap();
        builder
            .append(&header(tar::EntryType::Regular, "x", 0), &[3u8; 1500][..])
            .unwrap();
        let mut archive = builder.into_inner().unwrap();
        archive.truncate(archive.len() - 1024);
        archive.extend_from_slice(header(tar::EntryType::GNULongName, "L", 1 << 21).as_bytes());
        let err = entries(&archive, 4096).unwrap_err();
        assert!(
            err.to_string().contains("GNU long name of 2097152 bytes"),
            "{err}"
        );
        // At the limit, it passes.
        let mut builder = tar::Builder::new(Vec::new());
        let mut file = header(tar::EntryType::Regular, "x", 0);
        let name = "n".repeat(MAX_TAR_SPECIAL_FILE as usize - 1);
        builder.append_data(&mut file, &name, &b""[..]).unwrap();
        let archive = builder.into_inner().unwrap();
        assert_eq!(entries(&archive, 65536).unwrap()[0].0, name);
    }

    #[test]
    fn skips_bodies_by_seeking_and_refuses_to_skip_a_header() {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, size) in [("a", 1000), ("b", 0), ("c", 512)] {
            let mut file = header(tar::EntryType::Regular, name, size);
            builder
                .append_data(&mut file, name, &vec![1u8; size as usize][..])
                .unwrap();
        }
        let archive = builder.into_inner().unwrap();
        let mut reader = tar::Archive::new(TarHeaderGuard::new(io::Cursor::new(&archive)));
        let names: Vec<String> = reader
            .entries_with_seek()
            .unwrap()
            .map(|entry| entry.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);

        let mut guard = TarHeaderGuard::new(io::Cursor::new(&archive));
        guard.read_exact(&mut [0u8; 512]).unwrap();
        assert!(guard.seek(SeekFrom::Current(1024 + 1)).is_err());
        assert!(guard.seek(SeekFrom::Start(0)).is_err());
        assert_eq!(guard.seek(SeekFrom::Current(1024)).unwrap(), 1536);
    }

    /// The `tar` crate's refusals of a block, in whichever words it picks for the block at
    /// hand (the checksum field unreadable, or readable and wrong), are recognized; an error
    /// of the reader under the crate is not.
    #[test]
    fn the_tar_crate_refusing_a_block_is_an_invalid_header_and_a_read_failure_is_not() {
        let text = b"root:x:0:0:root:/root:/bin/bash\n".repeat(32);
        let mut wrong_checksum = header(tar::EntryType::Regular, "a", 0);
        wrong_checksum.as_mut_bytes()[148..156].copy_from_slice(b"0000001\0");
        for block in [text, wrong_checksum.as_bytes().to_vec()] {
            let err = first_error(io::Cursor::new(block));
            assert!(is_invalid_tar_header(&err), "{err}");
        }

        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("connection reset by peer"))
            }
        }
        let err = first_error(Failing);
        assert!(!is_invalid_tar_header(&err), "{err}");
    }

    /// Why the first entry of `reader`, read as a tar, could not be read.
    fn first_error(reader: impl Read) -> io::Error {
        let mut archive = tar::Archive::new(reader);
        let mut entries = archive.entries().expect("entries");
        entries
            .next()
            .expect("an entry or an error")
            .err()
            .expect("an error")
    }

    #[test]
    fn a_block_that_is_no_header_is_invalid_whatever_the_length() {
        for length in [512, 2000, 3072] {
            let noise: Vec<u8> = (0..length).map(|i| (i * 7919 % 251) as u8).collect();
            assert_eq!(
                tar_read_failure(&first_error(noise.as_slice())),
                TarReadFailure::Other(INVALID_TAR_HEADER.to_string()),
                "{length} bytes"
            );
        }
    }

    #[test]
    fn text_is_not_quoted_into_the_reason() {
        let text =
            b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                .repeat(10);
        assert_eq!(
            tar_read_failure(&first_error(text.as_slice())),
            TarReadFailure::Other(INVALID_TAR_HEADER.to_string())
        );
    }

    #[test]
    fn a_header_block_cut_short_is_a_truncation() {
        let block = header(tar::EntryType::Regular, "a", 0);
        assert_eq!(
            tar_read_failure(&first_error(&block.as_bytes()[..300])),
            TarReadFailure::Truncated
        );
    }
}
