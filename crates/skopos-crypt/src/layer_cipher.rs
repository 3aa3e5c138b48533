//! ocicrypt's layer cipher `AES_256_CTR_HMAC_SHA256`: AES-256 in CTR mode with a random
//! 16-byte initial counter ("nonce"), then HMAC-SHA256 (keyed with the same symmetric key)
//! over the ciphertext. The ciphertext is as long as the plaintext, so layers stream through
//! in constant memory; the HMAC is only known (encrypting) or checked (decrypting) at the end.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncRead, ReadBuf};

use crate::options::{PrivateOptions, PublicOptions, CIPHER_AES_256_CTR_HMAC_SHA256};

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;
type HmacSha256 = Hmac<Sha256>;

/// AES-256 key length.
const KEY_LEN: usize = 32;
/// AES block size: the CTR mode's initial counter.
const NONCE_LEN: usize = 16;

/// The options of a layer whose encryption finished (the whole plaintext was read).
#[derive(Debug, Clone)]
pub struct FinishedEncryption {
    /// The layer's key, nonce and plaintext digest: what the key wrappers wrap for each
    /// recipient.
    pub private: PrivateOptions,
    /// The cipher's name and the HMAC of the ciphertext, stored unwrapped in the
    /// `org.opencontainers.image.enc.pubopts` annotation.
    pub public: PublicOptions,
}

/// Where an [`EncryptingReader`] leaves its options once it reached the end of its input.
pub type EncryptionResult = Arc<Mutex<Option<FinishedEncryption>>>;

/// Encrypts a plaintext layer stream with a fresh random key and nonce.
pub struct EncryptingReader<R> {
    inner: R,
    cipher: Aes256Ctr,
    mac: HmacSha256,
    plain_digest: Sha256,
    key: [u8; KEY_LEN],
    nonce: [u8; NONCE_LEN],
    result: EncryptionResult,
}

impl<R: AsyncRead + Unpin> EncryptingReader<R> {
    /// A reader of `plain` encrypted; its options appear in the returned slot after EOF.
    pub fn new(plain: R) -> (Self, EncryptionResult) {
        let mut key = [0u8; KEY_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut key);
        OsRng.fill_bytes(&mut nonce);
        let result = EncryptionResult::default();
        let reader = EncryptingReader {
            inner: plain,
            cipher: Aes256Ctr::new(&key.into(), &nonce.into()),
            mac: keyed_mac(&key),
            plain_digest: Sha256::new(),
            key,
            nonce,
            result: result.clone(),
        };
        (reader, result)
    }
}

fn keyed_mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; the symmetric key always has one.
    <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

impl<R: AsyncRead + Unpin> AsyncRead for EncryptingReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let new = &mut buf.filled_mut()[before..];
        if new.is_empty() {
            if buf.remaining() > 0 {
                this.finish();
            }
            return Poll::Ready(Ok(()));
        }
        this.plain_digest.update(&*new);
        this.cipher.apply_keystream(new);
        this.mac.update(new);
        Poll::Ready(Ok(()))
    }
}

impl<R> EncryptingReader<R> {
    fn finish(&mut self) {
        let mut slot = self.result.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_some() {
            return;
        }
        let plain_digest = format!(
            "sha256:{}",
            hex_string(&self.plain_digest.clone().finalize())
        );
        *slot = Some(FinishedEncryption {
            private: PrivateOptions {
                symkey: self.key.to_vec(),
                digest: plain_digest,
                cipher_options: [("nonce".to_string(), self.nonce.to_vec())].into(),
            },
            public: PublicOptions {
                cipher: CIPHER_AES_256_CTR_HMAC_SHA256.to_string(),
                hmac: self.mac.clone().finalize().into_bytes().to_vec(),
                cipher_options: Default::default(),
            },
        });
    }
}

/// How much decrypted data is held back until more ciphertext (or its end) has been read:
/// ocicrypt's delayed reader holds back as much, so a layer this small is never handed on
/// before its HMAC was checked, and a failure shows while its first bytes are read.
const HOLD_BACK: usize = 10 * 1024;

/// Ciphertext is read in pieces of this size.
const READ_CHUNK: usize = 32 * 1024;

/// Decrypts a layer stream and checks its HMAC at the end: a mismatch is a read error
/// instead of the end of the stream, so nothing consuming it can take a tampered layer
/// as complete.
pub struct DecryptingReader<R> {
    inner: R,
    cipher: Aes256Ctr,
    mac: HmacSha256,
    expected_mac: Vec<u8>,
    /// Decrypted bytes not handed on yet, from `start`.
    pending: Vec<u8>,
    start: usize,
    scratch: Vec<u8>,
    /// The ciphertext ended and its HMAC matched.
    finished: bool,
}

impl<R: AsyncRead + Unpin> DecryptingReader<R> {
    /// A reader of `encrypted` decrypted with the unwrapped options.
    pub fn new(
        encrypted: R,
        private: &PrivateOptions,
        public: &PublicOptions,
    ) -> anyhow::Result<Self> {
        match public.cipher.as_str() {
            CIPHER_AES_256_CTR_HMAC_SHA256 => {}
            "" => anyhow::bail!("no cipher type provided"),
            other => anyhow::bail!("unsupported cipher type: {other}"),
        }
        let key: [u8; KEY_LEN] = private.symkey.as_slice().try_into().map_err(|_| {
            anyhow::anyhow!(
                "invalid key length of {} bytes; need {KEY_LEN} bytes",
                private.symkey.len()
            )
        })?;
        let nonce = public
            .cipher_options
            .get("nonce")
            .or_else(|| private.cipher_options.get("nonce"))
            .ok_or_else(|| anyhow::anyhow!("the layer's options have no nonce"))?;
        let nonce: [u8; NONCE_LEN] = nonce
            .as_slice()
            .try_into()
            .map_err(|_| anyhow::anyhow!("the layer's nonce is not {NONCE_LEN} bytes"))?;
        if public.hmac.is_empty() {
            anyhow::bail!("HMAC is not provided for decryption process");
        }
        Ok(DecryptingReader {
            inner: encrypted,
            cipher: Aes256Ctr::new(&key.into(), &nonce.into()),
            mac: keyed_mac(&key),
            expected_mac: public.hmac.clone(),
            pending: Vec::new(),
            start: 0,
            scratch: vec![0; READ_CHUNK],
            finished: false,
        })
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for DecryptingReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            let held = this.pending.len() - this.start;
            if this.finished || held > HOLD_BACK {
                let available = if this.finished {
                    held
                } else {
                    held - HOLD_BACK
                };
                let n = available.min(buf.remaining());
                buf.put_slice(&this.pending[this.start..this.start + n]);
                this.start += n;
                return Poll::Ready(Ok(()));
            }
            let mut piece = ReadBuf::new(&mut this.scratch);
            std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, &mut piece))?;
            let n = piece.filled().len();
            if n == 0 {
                if this.mac.clone().verify_slice(&this.expected_mac).is_err() {
                    // ocicrypt's words; it goes on with the actual HMAC as raw bytes,
                    // which are left out here.
                    return Poll::Ready(Err(io::Error::other(format!(
                        "could not properly decrypt byte stream; exp hmac: '{}'",
                        hex_string(&this.expected_mac)
                    ))));
                }
                this.finished = true;
                continue;
            }
            let piece = &mut this.scratch[..n];
            this.mac.update(piece);
            this.cipher.apply_keystream(piece);
            this.pending.drain(..this.start);
            this.start = 0;
            this.pending.extend_from_slice(piece);
        }
    }
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use skopos_core::Digest;
    use tokio::io::AsyncReadExt;

    async fn read_all<R: AsyncRead + Unpin>(mut r: R) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        r.read_to_end(&mut out).await?;
        Ok(out)
    }

    #[tokio::test]
    async fn round_trips_and_detects_tampering() {
        let plain: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let (encrypting, result) = EncryptingReader::new(plain.as_slice());
        let mut encrypted = read_all(encrypting).await.unwrap();
        assert_eq!(encrypted.len(), plain.len());
        assert_ne!(encrypted, plain);
        let done = result.lock().unwrap().clone().unwrap();
        assert_eq!(
            done.private.digest,
            Digest::sha256_of(&plain).to_string(),
            "the private options name the plaintext"
        );
        let decrypting =
            DecryptingReader::new(encrypted.as_slice(), &done.private, &done.public).unwrap();
        assert_eq!(read_all(decrypting).await.unwrap(), plain);

        encrypted[500] ^= 1;
        let decrypting =
            DecryptingReader::new(encrypted.as_slice(), &done.private, &done.public).unwrap();
        let err = read_all(decrypting).await.unwrap_err();
        assert!(err
            .to_string()
            .starts_with("could not properly decrypt byte stream; exp hmac: '"));
    }

    #[tokio::test]
    async fn small_tampered_layers_fail_before_any_byte_is_handed_on() {
        let plain = vec![7u8; 5000];
        let (encrypting, result) = EncryptingReader::new(plain.as_slice());
        let mut encrypted = read_all(encrypting).await.unwrap();
        let done = result.lock().unwrap().clone().unwrap();
        encrypted[4999] ^= 1;
        let mut decrypting =
            DecryptingReader::new(encrypted.as_slice(), &done.private, &done.public).unwrap();
        let mut first = [0u8; 8];
        assert!(decrypting.read(&mut first).await.is_err());
    }

    #[test]
    fn refuses_unknown_ciphers() {
        let private = PrivateOptions::default();
        let public = PublicOptions {
            cipher: "ROT13".to_string(),
            ..Default::default()
        };
        let err = DecryptingReader::new(&[][..], &private, &public)
            .err()
            .unwrap();
        assert_eq!(err.to_string(), "unsupported cipher type: ROT13");
    }
}
