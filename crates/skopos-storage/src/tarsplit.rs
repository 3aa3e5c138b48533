//! tar-split metadata (`<layer-id>.tar-split.gz`): the gzip'd JSON-lines stream that
//! vbatts/tar-split writes and containers/storage keeps next to each layer, so that the
//! layer's tar can be rebuilt byte for byte from the extracted files. Each line is a
//! segment (raw header and padding bytes, base64) or a file entry (name, size and the
//! CRC-64/ISO of its contents, whose bytes come from the layer's directory).

use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use serde::{Deserialize, Serialize};
use skopos_core::Result;

pub(crate) use skopos_core::tar_split_crc::{Crc64Digest, CRC64_ISO};

const FILE_TYPE: u8 = 1;
const SEGMENT_TYPE: u8 = 2;

/// One line of the stream, with tar-split's field names.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name_raw: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    size: u64,
    /// Base64; `null` for a file without contents.
    payload: Option<String>,
    position: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Writes the JSON lines (the caller wraps the output in gzip).
pub struct TarSplitWriter<W: Write> {
    output: W,
    position: u64,
}

impl<W: Write> TarSplitWriter<W> {
    /// A writer into `output`.
    pub fn new(output: W) -> Self {
        TarSplitWriter {
            output,
            position: 0,
        }
    }

    /// Raw tar bytes (headers, padding, the end of the archive); nothing for no bytes.
    pub fn segment(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.write(Entry {
            kind: SEGMENT_TYPE,
            name: None,
            name_raw: None,
            size: 0,
            payload: Some(encode(bytes)),
            position: 0,
        })
    }

    /// A file entry: its name as in the tar header, its size and, for a non-empty file,
    /// the CRC-64 of its contents.
    pub fn file(&mut self, name: &[u8], size: u64, crc64: Option<u64>) -> io::Result<()> {
        let (name, name_raw) = match std::str::from_utf8(name) {
            Ok(text) => (Some(text.to_string()), None),
            Err(_) => (None, Some(encode(name))),
        };
        self.write(Entry {
            kind: FILE_TYPE,
            name,
            name_raw,
            size,
            payload: crc64.map(|sum| encode(&sum.to_be_bytes())),
            position: 0,
        })
    }

    fn write(&mut self, mut entry: Entry) -> io::Result<()> {
        entry.position = self.position;
        self.position += 1;
        serde_json::to_writer(&mut self.output, &entry)?;
        self.output.write_all(b"\n")
    }

    /// The underlying output.
    pub fn into_inner(self) -> W {
        self.output
    }
}

/// Where a rebuilt tar's file contents come from.
pub trait LayerFiles {
    /// An open file.
    type File: Read;
    /// The contents of the layer's file at `relative` (a clean path inside the layer).
    fn open(&mut self, relative: &Path) -> Result<Self::File>;
}

/// A layer's files in a directory of the file system.
pub struct LayerDir(pub PathBuf);

impl LayerFiles for LayerDir {
    type File = File;

    fn open(&mut self, relative: &Path) -> Result<File> {
        let path = self.0.join(relative);
        File::open(&path).with_context(|| format!("opening layer file {}", path.display()))
    }
}

/// Rebuilds a layer's tar from its tar-split lines and the layer's files.
pub struct TarRebuilder<R: BufRead, F: LayerFiles = LayerDir> {
    lines: io::Lines<R>,
    files: F,
    current: Chunk<F::File>,
}

enum Chunk<File> {
    None,
    Bytes(io::Cursor<Vec<u8>>),
    File {
        file: io::Take<File>,
        name: String,
        expected_crc: Option<u64>,
        digest: Crc64Digest,
    },
}

impl<R: BufRead> TarRebuilder<R> {
    /// Read `lines` (decompressed tar-split), taking file contents from `root`.
    pub fn new(lines: R, root: &Path) -> Self {
        TarRebuilder::with_files(lines, LayerDir(root.to_path_buf()))
    }
}

impl<R: BufRead, F: LayerFiles> TarRebuilder<R, F> {
    /// Read `lines` (decompressed tar-split), taking file contents from `files`.
    pub fn with_files(lines: R, files: F) -> Self {
        TarRebuilder {
            lines: lines.lines(),
            files,
            current: Chunk::None,
        }
    }

    /// The next chunk, or `false` at the end of the stream.
    fn advance(&mut self) -> Result<bool> {
        loop {
            let Some(line) = self.lines.next() else {
                return Ok(false);
            };
            let line = line.context("reading tar-split metadata")?;
            if line.trim().is_empty() {
                continue;
            }
            let entry: Entry = serde_json::from_str(&line).context("parsing tar-split metadata")?;
            let payload = entry
                .payload
                .as_deref()
                .map(|text| base64::engine::general_purpose::STANDARD.decode(text))
                .transpose()
                .context("parsing tar-split metadata: bad payload")?;
            match entry.kind {
                SEGMENT_TYPE => {
                    self.current = Chunk::Bytes(io::Cursor::new(payload.unwrap_or_default()));
                    return Ok(true);
                }
                FILE_TYPE if entry.size == 0 => continue,
                FILE_TYPE => {
                    let name = match (entry.name, entry.name_raw) {
                        (Some(name), _) => name.into_bytes(),
                        (None, Some(raw)) => base64::engine::general_purpose::STANDARD
                            .decode(raw)
                            .context("parsing tar-split metadata: bad name")?,
                        (None, None) => anyhow::bail!("tar-split file entry without a name"),
                    };
                    let relative = crate::paths::clean_relative(&name)?;
                    let file = self.files.open(&relative)?;
                    let expected_crc = match payload {
                        Some(bytes) if bytes.len() == 8 => {
                            let mut sum = [0u8; 8];
                            sum.copy_from_slice(&bytes);
                            Some(u64::from_be_bytes(sum))
                        }
                        _ => None,
                    };
                    self.current = Chunk::File {
                        file: file.take(entry.size),
                        name: relative.display().to_string(),
                        expected_crc,
                        digest: CRC64_ISO.digest(),
                    };
                    return Ok(true);
                }
                other => anyhow::bail!("unknown tar-split entry type {other}"),
            }
        }
    }
}

impl<R: BufRead, F: LayerFiles> Read for TarRebuilder<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let read = match &mut self.current {
                Chunk::None => 0,
                Chunk::Bytes(cursor) => cursor.read(buf)?,
                Chunk::File { file, digest, .. } => {
                    let read = file.read(buf)?;
                    digest.update(&buf[..read]);
                    read
                }
            };
            if read > 0 {
                return Ok(read);
            }
            if let Chunk::File {
                file,
                name,
                expected_crc,
                digest,
            } = std::mem::replace(&mut self.current, Chunk::None)
            {
                if file.limit() > 0 {
                    return Err(io::Error::other(format!(
                        "layer file {name} is shorter than its tar-split entry"
                    )));
                }
                if expected_crc.is_some_and(|sum| sum != digest.finalize()) {
                    return Err(io::Error::other(format!(
                        "layer file {name} does not match its tar-split checksum"
                    )));
                }
            }
            if !self
                .advance()
                .map_err(|error| io::Error::other(format!("{error:#}")))?
            {
                return Ok(0);
            }
        }
    }
}
