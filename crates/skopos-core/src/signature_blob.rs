//! How signatures are stored as bytes (containers/image's `internal/signature`): a
//! simple-signing signature is its raw OpenPGP message; newer formats are a NUL byte, the
//! format's name, a newline, then the data. Transports store and read these blobs as
//! they are; this module only tells which kind a blob is, refusing what is neither.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};

/// How stored sigstore blobs start.
const SIGSTORE_BLOB_PREFIX: &[u8] = b"\x00sigstore-json\n";

/// What kind of signature a stored blob holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureKind {
    /// A GPG simple-signing signature (an OpenPGP message).
    SimpleSigning,
    /// A sigstore signature (`sigstore-json`).
    Sigstore,
}

/// The kind of `blob`, with containers/image's `FromBlob` messages for blobs it refuses.
pub fn classify(blob: &[u8]) -> Result<SignatureKind> {
    let Some(first) = blob.first() else {
        bail!("empty signature blob");
    };
    match first {
        // OpenPGP packets a signed message can start with, in the old and new packet
        // formats: compressed data, one-pass signature, signature.
        0xA0..=0xA3 | 0xC8 | 0x90..=0x92 | 0x3d | 0xC4 | 0x88..=0x8B | 0xC2 => {
            Ok(SignatureKind::SimpleSigning)
        }
        0x00 => {
            let Some(newline) = blob[1..].iter().position(|b| *b == b'\n') else {
                bail!("invalid signature format, missing newline");
            };
            let format = &blob[1..1 + newline];
            if let Some(b) = format.iter().find(|b| **b < 32 || **b >= 0x7F) {
                bail!("invalid signature format, non-ASCII byte {b:#x}");
            }
            match format {
                b"simple-signing" => Ok(SignatureKind::SimpleSigning),
                b"sigstore-json" => Ok(SignatureKind::Sigstore),
                other => bail!(
                    "unrecognized signature format {}",
                    crate::go::text::go_quote(&String::from_utf8_lossy(other))
                ),
            }
        }
        other => bail!("unrecognized signature format, starting with binary {other:#x}"),
    }
}

/// The OpenPGP message of a simple-signing blob (raw, or in the `\0simple-signing\n`
/// envelope); `None` for any other blob.
pub fn simple_signing_message(blob: &[u8]) -> Option<&[u8]> {
    match classify(blob) {
        Ok(SignatureKind::SimpleSigning) => {
            Some(blob.strip_prefix(b"\x00simple-signing\n").unwrap_or(blob))
        }
        _ => None,
    }
}

/// A stored sigstore signature (or other cosign attachment): its MIME type, payload and
/// annotations, all untrusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigstoreBlob {
    /// The attachment's MIME type.
    pub mime_type: String,
    /// The signed payload.
    pub payload: Vec<u8>,
    /// Annotations (the signature, and certificates or Rekor data when present).
    pub annotations: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct SigstoreJson {
    #[serde(rename = "mimeType")]
    mime_type: String,
    payload: String,
    annotations: Option<BTreeMap<String, String>>,
}

impl SigstoreBlob {
    /// Parse a stored blob (`\0sigstore-json\n{…}`); `None` when it is another format.
    pub fn from_blob(blob: &[u8]) -> Option<Result<SigstoreBlob>> {
        use base64::Engine as _;
        let json = blob.strip_prefix(SIGSTORE_BLOB_PREFIX)?;
        let parse = || -> Result<SigstoreBlob> {
            let parsed: SigstoreJson = serde_json::from_slice(json)?;
            let payload = base64::engine::general_purpose::STANDARD
                .decode(parsed.payload)
                .map_err(|err| anyhow!("{err}"))?;
            Ok(SigstoreBlob {
                mime_type: parsed.mime_type,
                payload,
                annotations: parsed.annotations.unwrap_or_default(),
            })
        };
        Some(parse())
    }

    /// The stored form (Go's JSON of containers/image's representation).
    pub fn to_blob(&self) -> Result<Vec<u8>> {
        use base64::Engine as _;
        let json = crate::go::json::to_vec(&SigstoreJson {
            mime_type: self.mime_type.clone(),
            payload: base64::engine::general_purpose::STANDARD.encode(&self.payload),
            annotations: Some(self.annotations.clone()),
        })?;
        Ok([SIGSTORE_BLOB_PREFIX, &json].concat())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_simple_signing_messages() {
        assert_eq!(
            simple_signing_message(b"\xa3\x01x"),
            Some(&b"\xa3\x01x"[..])
        );
        assert_eq!(
            simple_signing_message(b"\x00simple-signing\n\xa3\x01x"),
            Some(&b"\xa3\x01x"[..])
        );
        assert_eq!(simple_signing_message(b"\x00sigstore-json\n{}"), None);
        assert_eq!(simple_signing_message(b"junk"), None);
    }

    #[test]
    fn classifies_like_containers_image() {
        assert_eq!(
            classify(b"\xa3\x01x").unwrap(),
            SignatureKind::SimpleSigning
        );
        assert_eq!(
            classify(b"\x89\x02x").unwrap(),
            SignatureKind::SimpleSigning
        );
        assert_eq!(
            classify(b"\x00sigstore-json\n{}").unwrap(),
            SignatureKind::Sigstore
        );
        for (blob, message) in [
            (&b""[..], "empty signature blob"),
            (
                b"not a signature",
                "unrecognized signature format, starting with binary 0x6e",
            ),
            (
                b"\x00sigstore-json",
                "invalid signature format, missing newline",
            ),
            (b"\x00other\n", "unrecognized signature format \"other\""),
            (
                b"\x00a\x01\n",
                "invalid signature format, non-ASCII byte 0x1",
            ),
        ] {
            assert_eq!(classify(blob).unwrap_err().to_string(), message);
        }
    }
}
