//! How signatures are stored as bytes (containers/image's `internal/signature`): a
//! simple-signing signature is its raw OpenPGP message; newer formats are a NUL byte, the
//! format's name, a newline, then the data. Transports store and read these blobs as
//! they are; this module only tells which kind a blob is, refusing what is neither.

use anyhow::{bail, Result};

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
                    crate::go_text::go_quote(&String::from_utf8_lossy(other))
                ),
            }
        }
        other => bail!("unrecognized signature format, starting with binary {other:#x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
