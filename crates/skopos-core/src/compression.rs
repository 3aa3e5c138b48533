//! Layer compression formats: detection by magic bytes, and the names used on the
//! command line (`--dest-compress-format`).

use std::fmt;

use async_compression::tokio::bufread::{BzDecoder, GzipDecoder, XzDecoder, ZstdDecoder};
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};

use crate::BlobReader;

/// A compression algorithm a layer blob may be stored with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// gzip (DEFLATE): the one every manifest type can declare, and the default for compressed
    /// layers.
    Gzip,
    /// zstd; only OCI manifests can declare it.
    Zstd,
    /// zstd with a table of contents for partial pulls (`zstd:chunked`).
    ZstdChunked,
    /// bzip2: read only (skopos cannot write it); no manifest type can declare it.
    Bzip2,
    /// xz: no manifest type can declare it.
    Xz,
}

impl Compression {
    /// `stream` decompressed, read through a buffer of `buffer_size` bytes. Every member of
    /// a multi-member gzip or zstd stream is read, as Go's readers do (pigz and estargz
    /// write several gzip members, zstd:chunked many zstd frames).
    pub fn decompressing<R: AsyncRead + Send + Unpin + 'static>(
        self,
        stream: R,
        buffer_size: usize,
    ) -> BlobReader {
        let buffered = BufReader::with_capacity(buffer_size, stream);
        match self {
            Compression::Gzip => {
                let mut decoder = GzipDecoder::new(buffered);
                decoder.multiple_members(true);
                Box::pin(decoder)
            }
            Compression::Zstd | Compression::ZstdChunked => {
                let mut decoder = ZstdDecoder::new(buffered);
                decoder.multiple_members(true);
                Box::pin(decoder)
            }
            Compression::Bzip2 => Box::pin(BzDecoder::new(buffered)),
            Compression::Xz => Box::pin(XzDecoder::new(buffered)),
        }
    }

    /// The compression of `reader`'s content, detected from its first bytes, and the whole
    /// stream again (those bytes put back in front).
    pub async fn detect_in<R: AsyncRead + Unpin>(
        mut reader: R,
    ) -> std::io::Result<(
        Option<Compression>,
        tokio::io::Chain<std::io::Cursor<Vec<u8>>, R>,
    )> {
        let mut prefix = vec![0u8; Compression::DETECT_LEN];
        let filled = crate::read::read_full(&mut reader, &mut prefix).await?;
        prefix.truncate(filled);
        let detected = Compression::detect(&prefix);
        Ok((detected, std::io::Cursor::new(prefix).chain(reader)))
    }

    /// The name skopeo uses for this format.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::ZstdChunked => "zstd:chunked",
            Compression::Bzip2 => "bzip2",
            // containers/image's XzAlgorithmName: `--dest-compress-format xz` is unknown.
            Compression::Xz => "Xz",
        }
    }

    /// The format this one is a variant of (zstd for zstd:chunked), as containers/image's
    /// `BaseVariantName`; itself for the others.
    pub fn base_variant(self) -> Compression {
        match self {
            Compression::ZstdChunked => Compression::Zstd,
            other => other,
        }
    }

    /// Parse a `--dest-compress-format` value.
    pub fn from_name(name: &str) -> Option<Compression> {
        Some(match name {
            "gzip" => Compression::Gzip,
            "zstd" => Compression::Zstd,
            "zstd:chunked" => Compression::ZstdChunked,
            "bzip2" => Compression::Bzip2,
            "Xz" => Compression::Xz,
            _ => return None,
        })
    }

    /// Detect the compression of a stream from its first bytes; `None` means uncompressed
    /// (or unknown). A zstd:chunked blob is reported as plain zstd: it is one.
    pub fn detect(prefix: &[u8]) -> Option<Compression> {
        if prefix.starts_with(&[0x1f, 0x8b, 0x08]) {
            Some(Compression::Gzip)
        } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if prefix.starts_with(b"BZh") {
            Some(Compression::Bzip2)
        } else if prefix.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Compression::Xz)
        } else {
            None
        }
    }

    /// How many leading bytes [`Compression::detect`] needs.
    pub const DETECT_LEN: usize = 6;
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_magic() {
        assert_eq!(
            Compression::detect(&[0x1f, 0x8b, 0x08, 0]),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd]),
            Some(Compression::Zstd)
        );
        assert_eq!(Compression::detect(b"BZh91AY"), Some(Compression::Bzip2));
        assert_eq!(Compression::detect(b"\xfd7zXZ\x00"), Some(Compression::Xz));
        assert_eq!(Compression::detect(b"ustar"), None);
        assert_eq!(Compression::detect(b""), None);
    }

    #[test]
    fn names_round_trip() {
        for c in [
            Compression::Gzip,
            Compression::Zstd,
            Compression::ZstdChunked,
            Compression::Bzip2,
            Compression::Xz,
        ] {
            assert_eq!(Compression::from_name(c.name()), Some(c));
        }
        assert_eq!(Compression::from_name("lz4"), None);
    }
}
