//! Content digests (`sha256:<hex>`, `sha512:<hex>`), hashing, a reader adapter that hashes a
//! stream as it passes and fails at its end when the digest is not the expected one, and a
//! writer adapter that hashes what a transport generates.

use std::fmt;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};

use sha2::{Digest as _, Sha256, Sha512};
use tokio::io::{AsyncRead, ReadBuf};

/// A digest algorithm that images may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256 (`sha256:` and 64 hex digits): what images use by default.
    Sha256,
    /// SHA-512 (`sha512:` and 128 hex digits).
    Sha512,
}

impl Algorithm {
    /// The name used in `algorithm:hex` strings.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// A fresh hasher for this algorithm.
    pub fn hasher(self) -> Hasher {
        match self {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }
}

/// A validated content digest. Comparison and hashing are by value.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

/// Why a string is not a digest.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid digest {input:?}: {reason}")]
pub struct DigestParseError {
    input: String,
    reason: &'static str,
}

impl DigestParseError {
    /// go-digest's `Parse` error for the same input (`invalid checksum digest format`,
    /// `unsupported digest algorithm`, `invalid checksum digest length`), for protocols
    /// that report its text.
    pub fn go_text(&self) -> &'static str {
        match self.reason {
            "missing ':'" => "invalid checksum digest format",
            reason => reason,
        }
    }
}

impl Digest {
    /// The sha256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        Digest::of(Algorithm::Sha256, bytes)
    }

    /// The digest of `bytes` with `algorithm`.
    pub fn of(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        let mut hasher = algorithm.hasher();
        hasher.update(bytes);
        hasher.finish()
    }

    /// Which algorithm made the digest.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex part, without the algorithm prefix.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Whether `bytes` hash to this digest.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        Digest::of(self.algorithm, bytes) == *self
    }
}

impl FromStr for Digest {
    type Err = DigestParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason| DigestParseError {
            input: s.to_string(),
            reason,
        };
        let (alg, hex) = s.split_once(':').ok_or_else(|| fail("missing ':'"))?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => return Err(fail("unsupported digest algorithm")),
        };
        if hex.len() != algorithm.hex_len() {
            return Err(fail("invalid checksum digest length"));
        }
        if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(fail("invalid checksum digest format"));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An incremental hasher producing a [`Digest`].
#[derive(Clone)]
pub enum Hasher {
    /// Hashing with SHA-256.
    Sha256(Sha256),
    /// Hashing with SHA-512.
    Sha512(Sha512),
}

impl Hasher {
    /// Hash `bytes`, appended to everything hashed so far.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything hashed.
    pub fn finish(self) -> Digest {
        let (algorithm, hex) = match self {
            Hasher::Sha256(h) => (Algorithm::Sha256, hex::encode(h.finalize())),
            Hasher::Sha512(h) => (Algorithm::Sha512, hex::encode(h.finalize())),
        };
        Digest { algorithm, hex }
    }
}

/// The outcome of a stream that went through a [`DigestingReader`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    /// The digest of the bytes read.
    pub digest: Digest,
    /// How many bytes were read.
    pub size: u64,
}

/// Hashes everything read through it. When `expected` is set, the end of the stream is
/// turned into an `InvalidData` error if the content does not match, so that a consumer
/// that only commits on a clean end of stream never commits corrupt data.
pub struct DigestingReader<R> {
    inner: R,
    hasher: Option<Hasher>,
    expected: Option<Digest>,
    expected_size: Option<u64>,
    size: u64,
    summary: std::sync::Arc<std::sync::Mutex<Option<StreamSummary>>>,
}

/// A handle that yields the digest and size once the stream has been read to its end.
#[derive(Clone, Default)]
pub struct SummaryHandle(std::sync::Arc<std::sync::Mutex<Option<StreamSummary>>>);

impl SummaryHandle {
    /// The summary, if the stream has been read to its end.
    pub fn get(&self) -> Option<StreamSummary> {
        self.0.lock().ok().and_then(|s| s.clone())
    }
}

impl<R> DigestingReader<R> {
    /// Hash `inner` with `algorithm`, checking against `expected` (and `expected_size`) if given.
    pub fn new(
        inner: R,
        algorithm: Algorithm,
        expected: Option<Digest>,
        expected_size: Option<u64>,
    ) -> (Self, SummaryHandle) {
        let handle = SummaryHandle::default();
        let reader = DigestingReader {
            inner,
            hasher: Some(algorithm.hasher()),
            expected,
            expected_size,
            size: 0,
            summary: handle.0.clone(),
        };
        (reader, handle)
    }

    /// Verify the stream against `expected` (its algorithm is used).
    pub fn verifying(inner: R, expected: Digest, expected_size: Option<u64>) -> Self {
        let algorithm = expected.algorithm();
        Self::new(inner, algorithm, Some(expected), expected_size).0
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for DigestingReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let new = &buf.filled()[before..];
                if !new.is_empty() {
                    this.size += new.len() as u64;
                    if let Some(h) = this.hasher.as_mut() {
                        h.update(new);
                    }
                    if let Some(limit) = this.expected_size {
                        if this.size > limit {
                            return Poll::Ready(Err(std::io::Error::new(
                                std::io::ErrorKind::InvalidData,
                                format!("blob is larger than the expected {limit} bytes"),
                            )));
                        }
                    }
                    return Poll::Ready(Ok(()));
                }
                // End of stream: settle the digest once.
                let Some(hasher) = this.hasher.take() else {
                    return Poll::Ready(Ok(()));
                };
                let digest = hasher.finish();
                if let Some(limit) = this.expected_size {
                    if this.size != limit {
                        return Poll::Ready(Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            format!(
                                "blob is truncated: got {} bytes, expected {limit}",
                                this.size
                            ),
                        )));
                    }
                }
                if let Some(expected) = &this.expected {
                    if *expected != digest {
                        return Poll::Ready(Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("digest mismatch: expected {expected}, got {digest}"),
                        )));
                    }
                }
                if let Ok(mut slot) = this.summary.lock() {
                    *slot = Some(StreamSummary {
                        digest,
                        size: this.size,
                    });
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

/// Hashes and counts everything written through it to `inner` (a file being made, or
/// [`std::io::sink`] to only hash): the synchronous counterpart of [`DigestingReader`], for
/// blobs that a transport generates (a layer tar it builds, a decompressed stream it digests).
pub struct DigestingWriter<W> {
    inner: W,
    hasher: Hasher,
    size: u64,
}

impl<W: std::io::Write> DigestingWriter<W> {
    /// Hash with `algorithm` what is written to `inner`.
    pub fn new(inner: W, algorithm: Algorithm) -> Self {
        DigestingWriter {
            inner,
            hasher: algorithm.hasher(),
            size: 0,
        }
    }

    /// The digest and size of everything written, and the inner writer.
    pub fn finish(self) -> (StreamSummary, W) {
        let summary = StreamSummary {
            digest: self.hasher.finish(),
            size: self.size,
        };
        (summary, self.inner)
    }
}

impl<W: std::io::Write> std::io::Write for DigestingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_prints() {
        let d: Digest = EMPTY.parse().unwrap();
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(d, Digest::sha256_of(b""));
    }

    #[test]
    fn rejects_bad_digests() {
        for bad in [
            "sha256",
            "md5:abc",
            "sha256:abc",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn verifying_reader_accepts_and_rejects() {
        let data = b"hello".to_vec();
        let good = Digest::sha256_of(&data);
        let mut r = DigestingReader::verifying(&data[..], good, Some(5));
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, data);

        let wrong = Digest::sha256_of(b"other");
        let mut r = DigestingReader::verifying(&data[..], wrong, None);
        let err = r.read_to_end(&mut Vec::new()).await.unwrap_err();
        assert!(err.to_string().contains("digest mismatch"));

        let mut r = DigestingReader::verifying(&data[..], Digest::sha256_of(&data), Some(9));
        let err = r.read_to_end(&mut Vec::new()).await.unwrap_err();
        assert!(err.to_string().contains("truncated"));
    }

    #[tokio::test]
    async fn summary_is_available_at_end() {
        let (mut r, handle) = DigestingReader::new(&b"abc"[..], Algorithm::Sha256, None, None);
        assert!(handle.get().is_none());
        r.read_to_end(&mut Vec::new()).await.unwrap();
        let s = handle.get().unwrap();
        assert_eq!(s.size, 3);
        assert_eq!(s.digest, Digest::sha256_of(b"abc"));
    }

    #[test]
    fn writer_hashes_counts_and_forwards() {
        let mut writer = DigestingWriter::new(Vec::new(), Algorithm::Sha256);
        std::io::Write::write_all(&mut writer, b"hello ").unwrap();
        std::io::Write::write_all(&mut writer, b"world").unwrap();
        let (summary, written) = writer.finish();
        assert_eq!(written, b"hello world");
        assert_eq!(summary.size, 11);
        assert_eq!(summary.digest, Digest::sha256_of(b"hello world"));
    }
}
