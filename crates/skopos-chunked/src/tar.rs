//! A streaming tar reader that reads headers as Go's `archive/tar` (in tar-split's fork, which
//! containers/storage's compressor uses) reads them, and keeps every byte that is not file
//! contents ("raw bytes": headers, PAX and GNU long-name records, padding, the end of the
//! archive), so that they can be stored as they were.
//!
//! The table of contents describes each entry as Go sees it, so the parsing follows Go's:
//! V7, USTAR, PAX, GNU and STAR headers, base-256 numbers, PAX records overriding header
//! fields, GNU long names, and the legacy regular-file type.

use std::collections::BTreeMap;
use std::io::{self, Read};

use skopos_core::limits::MAX_TAR_SPECIAL_FILE;

const BLOCK: usize = 512;

/// Go's `archive/tar: invalid tar header`.
fn invalid_header() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "archive/tar: invalid tar header",
    )
}

/// A point in time as Go's `time.Unix(seconds, nanoseconds)` normalizes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnixTime {
    /// Seconds since the epoch.
    pub seconds: i64,
    /// 0 to 999 999 999.
    pub nanoseconds: u32,
}

impl UnixTime {
    fn new(seconds: i64, nanoseconds: i64) -> UnixTime {
        let seconds = seconds.saturating_add(nanoseconds.div_euclid(1_000_000_000));
        UnixTime {
            seconds,
            nanoseconds: nanoseconds.rem_euclid(1_000_000_000) as u32,
        }
    }
}

/// One entry of the archive, with PAX records and GNU long names applied.
#[derive(Debug, Clone)]
pub struct Header {
    /// The type flag (`'0'` for a regular file; the legacy `'\0'` is already mapped).
    pub typeflag: u8,
    pub name: Vec<u8>,
    pub linkname: Vec<u8>,
    pub size: i64,
    pub mode: i64,
    pub uid: i64,
    pub gid: i64,
    pub modified: UnixTime,
    pub accessed: Option<UnixTime>,
    pub changed: Option<UnixTime>,
    pub devmajor: i64,
    pub devminor: i64,
    /// Every PAX record that applied to this entry.
    pub pax_records: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Header {
    /// Whether the entry has no contents in the archive, whatever its size says (Go's
    /// `isHeaderOnlyType`).
    fn is_header_only(&self) -> bool {
        matches!(self.typeflag, b'1'..=b'6')
    }
}

/// Where the header formats keep their fields.
mod field {
    use std::ops::Range;
    pub const NAME: Range<usize> = 0..100;
    pub const MODE: Range<usize> = 100..108;
    pub const UID: Range<usize> = 108..116;
    pub const GID: Range<usize> = 116..124;
    pub const SIZE: Range<usize> = 124..136;
    pub const MTIME: Range<usize> = 136..148;
    pub const CHECKSUM: Range<usize> = 148..156;
    pub const TYPEFLAG: usize = 156;
    pub const LINKNAME: Range<usize> = 157..257;
    pub const MAGIC: Range<usize> = 257..263;
    pub const VERSION: Range<usize> = 263..265;
    pub const DEVMAJOR: Range<usize> = 329..337;
    pub const DEVMINOR: Range<usize> = 337..345;
    pub const USTAR_PREFIX: Range<usize> = 345..500;
    pub const STAR_PREFIX: Range<usize> = 345..476;
    pub const STAR_ATIME: Range<usize> = 476..488;
    pub const STAR_CTIME: Range<usize> = 488..500;
    pub const STAR_TRAILER: Range<usize> = 508..512;
    pub const GNU_ATIME: Range<usize> = 345..357;
    pub const GNU_CTIME: Range<usize> = 357..369;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    V7,
    Ustar,
    Gnu,
    Star,
}

/// Go's numeric field parser; records a failure in `failed` as Go's parser does.
#[derive(Default)]
struct Parser {
    failed: bool,
}

impl Parser {
    fn numeric(&mut self, field: &[u8]) -> i64 {
        if field.first().is_some_and(|byte| byte & 0x80 != 0) {
            // Base-256: two's complement, big-endian, the first bit a marker.
            let inversion = if field[0] & 0x40 != 0 { 0xff } else { 0 };
            let mut value: u64 = 0;
            for (index, byte) in field.iter().enumerate() {
                let mut byte = byte ^ inversion;
                if index == 0 {
                    byte &= 0x7f;
                }
                if value >> 56 > 0 {
                    self.failed = true;
                    return 0;
                }
                value = value << 8 | u64::from(byte);
            }
            if value >> 63 > 0 {
                self.failed = true;
                return 0;
            }
            return if inversion == 0xff {
                !(value as i64)
            } else {
                value as i64
            };
        }
        self.octal(field)
    }

    fn octal(&mut self, field: &[u8]) -> i64 {
        let trimmed = trim(field, b" \0");
        if trimmed.is_empty() {
            return 0;
        }
        let digits = c_string(trimmed);
        let mut value: u64 = 0;
        if digits.is_empty() {
            self.failed = true;
            return 0;
        }
        for &digit in digits {
            let parsed = match digit {
                b'0'..=b'7' => u64::from(digit - b'0'),
                _ => {
                    self.failed = true;
                    return 0;
                }
            };
            match value.checked_mul(8).and_then(|v| v.checked_add(parsed)) {
                Some(next) => value = next,
                None => {
                    self.failed = true;
                    return u64::MAX as i64;
                }
            }
        }
        value as i64
    }
}

fn trim<'a>(bytes: &'a [u8], set: &[u8]) -> &'a [u8] {
    let start = bytes
        .iter()
        .position(|b| !set.contains(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !set.contains(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end.max(start)]
}

/// Bytes up to the first NUL (Go's `parseString`).
fn c_string(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

fn format_of(block: &[u8; BLOCK]) -> Option<Format> {
    let mut parser = Parser::default();
    let recorded = parser.octal(&block[field::CHECKSUM]);
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (index, &byte) in block.iter().enumerate() {
        let byte = if field::CHECKSUM.contains(&index) {
            b' '
        } else {
            byte
        };
        unsigned += i64::from(byte);
        signed += i64::from(byte as i8);
    }
    if parser.failed || (recorded != unsigned && recorded != signed) {
        return None;
    }
    let magic = &block[field::MAGIC];
    Some(
        if magic == b"ustar\0" && &block[field::STAR_TRAILER] == b"tar\0" {
            Format::Star
        } else if magic == b"ustar\0" {
            Format::Ustar
        } else if magic == b"ustar " && &block[field::VERSION] == b" \0" {
            Format::Gnu
        } else {
            Format::V7
        },
    )
}

/// Parse one header block (Go's `readHeader` after the end-of-archive checks).
fn parse_block(block: &[u8; BLOCK]) -> io::Result<Header> {
    let format = format_of(block).ok_or_else(invalid_header)?;
    let mut parser = Parser::default();
    let mut header = Header {
        typeflag: block[field::TYPEFLAG],
        name: c_string(&block[field::NAME]).to_vec(),
        linkname: c_string(&block[field::LINKNAME]).to_vec(),
        size: parser.numeric(&block[field::SIZE]),
        mode: parser.numeric(&block[field::MODE]),
        uid: parser.numeric(&block[field::UID]),
        gid: parser.numeric(&block[field::GID]),
        modified: UnixTime::new(parser.numeric(&block[field::MTIME]), 0),
        accessed: None,
        changed: None,
        devmajor: 0,
        devminor: 0,
        pax_records: BTreeMap::new(),
    };
    if format != Format::V7 {
        header.devmajor = parser.numeric(&block[field::DEVMAJOR]);
        header.devminor = parser.numeric(&block[field::DEVMINOR]);
        let prefix: &[u8] = match format {
            Format::Star => {
                header.accessed = Some(UnixTime::new(parser.numeric(&block[field::STAR_ATIME]), 0));
                header.changed = Some(UnixTime::new(parser.numeric(&block[field::STAR_CTIME]), 0));
                c_string(&block[field::STAR_PREFIX])
            }
            Format::Gnu => {
                let mut times = Parser::default();
                if block[field::GNU_ATIME.start] != 0 {
                    header.accessed =
                        Some(UnixTime::new(times.numeric(&block[field::GNU_ATIME]), 0));
                }
                if block[field::GNU_CTIME.start] != 0 {
                    header.changed =
                        Some(UnixTime::new(times.numeric(&block[field::GNU_CTIME]), 0));
                }
                if times.failed {
                    // Files from Go writers before 1.8 put a USTAR prefix here.
                    header.accessed = None;
                    header.changed = None;
                    let prefix = c_string(&block[field::USTAR_PREFIX]);
                    if prefix.iter().all(|&b| b != 0 && b < 0x80) {
                        prefix
                    } else {
                        b""
                    }
                } else {
                    b""
                }
            }
            _ => c_string(&block[field::USTAR_PREFIX]),
        };
        if !prefix.is_empty() {
            let mut name = prefix.to_vec();
            name.push(b'/');
            name.extend_from_slice(&header.name);
            header.name = name;
        }
    }
    if parser.failed {
        return Err(invalid_header());
    }
    Ok(header)
}

/// Parse a decimal integer as Go's `strconv.ParseInt(text, 10, 64)`.
fn parse_decimal(text: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|text| text.parse::<i64>().ok())
        .ok_or_else(invalid_header)
}

/// Go's `parsePAXTime`.
fn parse_pax_time(text: &[u8]) -> io::Result<UnixTime> {
    let (seconds_text, fraction) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &b""[..]),
    };
    let seconds = parse_decimal(seconds_text)?;
    if fraction.is_empty() {
        return Ok(UnixTime::new(seconds, 0));
    }
    if !fraction.iter().all(u8::is_ascii_digit) {
        return Err(invalid_header());
    }
    let mut nanoseconds: i64 = 0;
    for index in 0..9 {
        nanoseconds = nanoseconds * 10 + fraction.get(index).map_or(0, |d| i64::from(d - b'0'));
    }
    if seconds_text.first() == Some(&b'-') {
        nanoseconds = -nanoseconds;
    }
    Ok(UnixTime::new(seconds, nanoseconds))
}

/// Go's `parsePAX` on a record block; GNU sparse 0.0 offsets and sizes are refused with the
/// other sparse forms.
fn parse_pax(mut records: &[u8]) -> io::Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut parsed = BTreeMap::new();
    while !records.is_empty() {
        let space = records
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(invalid_header)?;
        let length = parse_decimal(&records[..space])?;
        if length < 5 || length as u64 > records.len() as u64 || (length as usize) < space + 2 {
            return Err(invalid_header());
        }
        let length = length as usize;
        if records[length - 1] != b'\n' {
            return Err(invalid_header());
        }
        let record = &records[space + 1..length - 1];
        let equals = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(invalid_header)?;
        let (key, value) = (&record[..equals], &record[equals + 1..]);
        let valid = !key.is_empty()
            && match key {
                b"path" | b"linkpath" | b"uname" | b"gname" => !value.contains(&0),
                _ => !key.contains(&0),
            };
        if !valid {
            return Err(invalid_header());
        }
        parsed.insert(key.to_vec(), value.to_vec());
        records = &records[length..];
    }
    Ok(parsed)
}

/// Go's `mergePAX`.
fn merge_pax(header: &mut Header, records: BTreeMap<Vec<u8>, Vec<u8>>) -> io::Result<()> {
    for (key, value) in &records {
        if value.is_empty() {
            continue;
        }
        match key.as_slice() {
            b"path" => header.name = value.clone(),
            b"linkpath" => header.linkname = value.clone(),
            b"uid" => header.uid = parse_decimal(value)?,
            b"gid" => header.gid = parse_decimal(value)?,
            b"atime" => header.accessed = Some(parse_pax_time(value)?),
            b"mtime" => header.modified = parse_pax_time(value)?,
            b"ctime" => header.changed = Some(parse_pax_time(value)?),
            b"size" => header.size = parse_decimal(value)?,
            _ => {}
        }
    }
    header.pax_records = records;
    Ok(())
}

/// Reads entries, keeping the raw bytes between file contents.
pub struct TarReader<R> {
    input: R,
    raw: Vec<u8>,
    /// Content bytes of the current entry not read yet.
    remaining: u64,
    /// Padding after the current entry's contents.
    padding: u64,
}

impl<R: Read> TarReader<R> {
    /// A reader of the archive `input`.
    pub fn new(input: R) -> Self {
        TarReader {
            input,
            raw: Vec::new(),
            remaining: 0,
            padding: 0,
        }
    }

    /// The raw bytes read since the last call (headers, records, padding).
    pub fn take_raw(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.raw)
    }

    /// The input after the end of the archive.
    pub fn into_rest(self) -> R {
        self.input
    }

    /// Read up to `buffer.len()` bytes into it, `Ok(0)` at the end (`UnexpectedEof` for a
    /// short read: the caller wanted them all).
    fn fill(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buffer.len() {
            match self.input.read(&mut buffer[filled..]) {
                Ok(0) => break,
                Ok(read) => filled += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(filled)
    }

    /// Read exactly `length` raw bytes into the raw record.
    fn read_raw(&mut self, length: u64) -> io::Result<()> {
        let mut taken = (&mut self.input).take(length);
        let copied = io::copy(&mut taken, &mut self.raw)?;
        if copied < length {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }

    /// The contents of a PAX or GNU long-name entry (Go's `readSpecialFile`), recorded raw.
    fn read_special(&mut self) -> io::Result<Vec<u8>> {
        if self.remaining > MAX_TAR_SPECIAL_FILE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "archive/tar: header field too long",
            ));
        }
        let start = self.raw.len();
        let length = std::mem::take(&mut self.remaining);
        self.read_raw(length)?;
        Ok(self.raw[start..].to_vec())
    }

    /// Read one 512-byte block, recording it; `None` at a clean end of input.
    fn read_block(&mut self) -> io::Result<Option<[u8; BLOCK]>> {
        let mut block = [0u8; BLOCK];
        let filled = self.fill(&mut block)?;
        match filled {
            0 => Ok(None),
            BLOCK => {
                self.raw.extend_from_slice(&block);
                Ok(Some(block))
            }
            _ => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }

    fn set_contents(&mut self, header: &Header) -> io::Result<()> {
        let length = if header.is_header_only() {
            0
        } else {
            header.size
        };
        let length = u64::try_from(length).map_err(|_| invalid_header())?;
        self.remaining = length;
        self.padding = length.wrapping_neg() & (BLOCK as u64 - 1);
        Ok(())
    }

    /// The next entry, `None` at the end of the archive. Contents the caller did not read
    /// are kept as raw bytes, as Go's reader with raw accounting keeps them.
    pub fn next_entry(&mut self) -> io::Result<Option<Header>> {
        let mut pax = None;
        let mut long_name = None;
        let mut long_link = None;
        loop {
            let (remaining, padding) = (self.remaining, self.padding);
            self.remaining = 0;
            self.padding = 0;
            self.read_raw(remaining + padding)?;
            let Some(block) = self.read_block()? else {
                return Ok(None);
            };
            if block == [0u8; BLOCK] {
                return match self.read_block()? {
                    None => Ok(None),
                    Some(second) if second == [0u8; BLOCK] => Ok(None),
                    Some(_) => Err(invalid_header()),
                };
            }
            let mut header = parse_block(&block)?;
            self.set_contents(&header)?;
            match header.typeflag {
                b'x' | b'g' => {
                    let records = parse_pax(&self.read_special()?)?;
                    if records.keys().any(|key| key.starts_with(b"GNU.sparse.")) {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "sparse files are not supported in zstd:chunked layers",
                        ));
                    }
                    if header.typeflag == b'g' {
                        merge_pax(&mut header, records)?;
                        return Ok(Some(header));
                    }
                    pax = Some(records);
                }
                b'L' | b'K' => {
                    let name = c_string(&self.read_special()?).to_vec();
                    if header.typeflag == b'L' {
                        long_name = Some(name);
                    } else {
                        long_link = Some(name);
                    }
                }
                _ => {
                    if let Some(records) = pax.take() {
                        merge_pax(&mut header, records)?;
                    }
                    if let Some(name) = long_name.filter(|name| !name.is_empty()) {
                        header.name = name;
                    }
                    if let Some(link) = long_link.filter(|link| !link.is_empty()) {
                        header.linkname = link;
                    }
                    if header.typeflag == 0 {
                        header.typeflag = if header.name.ends_with(b"/") {
                            b'5'
                        } else {
                            b'0'
                        };
                    }
                    self.set_contents(&header)?;
                    return Ok(Some(header));
                }
            }
        }
    }
}

impl<R: Read> Read for TarReader<R> {
    /// The current entry's contents.
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let wanted = buffer
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let read = self.input.read(&mut buffer[..wanted])?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.remaining -= read as u64;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        builder.into_inner().unwrap()
    }

    #[test]
    fn reads_entries_and_keeps_everything_but_contents_raw() {
        let long = "d/".repeat(80) + "file";
        let bytes = archive(|b| {
            let mut header = tar::Header::new_gnu();
            header.set_size(3);
            header.set_mode(0o640);
            header.set_mtime(1_700_000_000);
            b.append_data(&mut header, &long, &b"abc"[..]).unwrap();
            let mut link = tar::Header::new_ustar();
            link.set_entry_type(tar::EntryType::Symlink);
            link.set_size(0);
            b.append_link(&mut link, "l", "target").unwrap();
        });
        let mut reader = TarReader::new(&bytes[..]);
        let first = reader.next_entry().unwrap().unwrap();
        assert_eq!(first.name, long.as_bytes());
        assert_eq!((first.size, first.mode, first.typeflag), (3, 0o640, b'0'));
        assert_eq!(first.modified.seconds, 1_700_000_000);
        let mut raw = reader.take_raw();
        let mut contents = Vec::new();
        reader.read_to_end(&mut contents).unwrap();
        assert_eq!(contents, b"abc");
        let second = reader.next_entry().unwrap().unwrap();
        assert_eq!(
            (second.typeflag, &second.linkname[..]),
            (b'2', &b"target"[..])
        );
        raw.extend(reader.take_raw());
        assert!(reader.next_entry().unwrap().is_none());
        raw.extend(reader.take_raw());
        let mut rest = Vec::new();
        reader.into_rest().read_to_end(&mut rest).unwrap();
        raw.extend(rest);
        assert_eq!(raw.len() + 3, bytes.len());
    }

    #[test]
    fn pax_records_override_the_header() {
        let bytes = archive(|b| {
            b.append_pax_extensions([
                ("mtime", &b"1700000000.5"[..]),
                ("SCHILY.xattr.user.k", &b"v"[..]),
                ("uid", &b"4242"[..]),
            ])
            .unwrap();
            let mut header = tar::Header::new_ustar();
            header.set_size(0);
            b.append_data(&mut header, "f", &b""[..]).unwrap();
        });
        let header = TarReader::new(&bytes[..]).next_entry().unwrap().unwrap();
        assert_eq!(header.uid, 4242);
        assert_eq!(
            header.modified,
            UnixTime {
                seconds: 1_700_000_000,
                nanoseconds: 500_000_000
            }
        );
        assert_eq!(header.pax_records[&b"SCHILY.xattr.user.k".to_vec()], b"v");
    }

    #[test]
    fn broken_headers_and_truncation_fail() {
        let bytes = archive(|b| {
            let mut header = tar::Header::new_ustar();
            header.set_size(600);
            b.append_data(&mut header, "f", &[1u8; 600][..]).unwrap();
        });
        let mut flipped = bytes.clone();
        flipped[10] ^= 1;
        assert!(TarReader::new(&flipped[..]).next_entry().is_err());
        let mut truncated = TarReader::new(&bytes[..700]);
        truncated.next_entry().unwrap();
        assert!(io::copy(&mut truncated, &mut io::sink()).is_err());
        assert_eq!(
            parse_pax_time(b"-1.5").unwrap(),
            UnixTime {
                seconds: -2,
                nanoseconds: 500_000_000
            }
        );
    }
}
