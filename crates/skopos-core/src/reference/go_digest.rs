//! Digest validation with the rules and messages of `github.com/opencontainers/go-digest`
//! v1.0.0 (`digest.Parse`), which skopeo applies to the digests inside references.

use crate::digest::Digest;

/// Why go-digest rejects a string, with go-digest's own wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GoDigestError {
    /// No `algorithm:encoded` shape, or an encoded part that is not lowercase hex.
    #[error("invalid checksum digest format")]
    InvalidFormat,
    /// A known algorithm with an encoded part of the wrong length.
    #[error("invalid checksum digest length")]
    InvalidLength,
    /// A well-formed digest of an algorithm go-digest does not know.
    #[error("unsupported digest algorithm")]
    Unsupported,
    /// Valid for skopeo (go-digest knows sha384) but [`Digest`] cannot hold it.
    #[error("sha384 digests are not supported by skopos")]
    Sha384NotSupported,
}

/// go-digest's `DigestRegexpAnchored`, the shape of any `algorithm:encoded` string:
/// algorithm = `[a-z0-9]+` (`[.+_-]` `[a-z0-9]+`)*, encoded = `[a-zA-Z0-9=_-]+`.
/// Matched by hand rather than by a regex engine, as the docker reference grammar is.
pub(super) fn is_any_digest(s: &str) -> bool {
    let Some((algorithm, encoded)) = s.split_once(':') else {
        return false;
    };
    let is_algorithm_component = |component: &str| {
        !component.is_empty()
            && component
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    algorithm
        .split(['.', '+', '_', '-'])
        .all(is_algorithm_component)
        && !encoded.is_empty()
        && encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
}

/// `digest.Parse(s)`: split at the first `:`, then check the algorithm, the encoded
/// length and the lowercase hex, in go-digest's order (so the first failing check
/// decides the message).
pub fn parse_go_digest(s: &str) -> Result<Digest, GoDigestError> {
    let Some(colon) = s.find(':').filter(|&i| i > 0 && i + 1 < s.len()) else {
        return Err(GoDigestError::InvalidFormat);
    };
    let (algorithm, encoded) = (&s[..colon], &s[colon + 1..]);
    let hex_len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ if is_any_digest(s) => return Err(GoDigestError::Unsupported),
        _ => return Err(GoDigestError::InvalidFormat),
    };
    if encoded.len() != hex_len {
        return Err(GoDigestError::InvalidLength);
    }
    if !encoded
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(GoDigestError::InvalidFormat);
    }
    if algorithm == "sha384" {
        return Err(GoDigestError::Sha384NotSupported);
    }
    // The checks above are a superset of Digest's own, so this only fails if they drift.
    s.parse().map_err(|_| GoDigestError::InvalidFormat)
}

/// Whether go-digest accepts `s` as a digest (sha384 included, as in skopeo).
pub fn is_go_digest(s: &str) -> bool {
    matches!(
        parse_go_digest(s),
        Ok(_) | Err(GoDigestError::Sha384NotSupported)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn accepts_sha256_and_sha512() {
        let d = parse_go_digest(&format!("sha256:{HEX}")).unwrap();
        assert_eq!(d.to_string(), format!("sha256:{HEX}"));
        assert!(parse_go_digest(&format!("sha512:{HEX}{HEX}")).is_ok());
    }

    #[test]
    fn sha384_is_valid_but_not_representable() {
        let s = format!("sha384:{HEX}{}", &HEX[..32]);
        assert_eq!(parse_go_digest(&s), Err(GoDigestError::Sha384NotSupported));
        assert!(is_go_digest(&s));
    }

    #[test]
    fn rejections_use_go_digest_messages() {
        let cases = [
            ("sha256", "invalid checksum digest format"),
            (":abc", "invalid checksum digest format"),
            ("sha256:", "invalid checksum digest format"),
            ("sha256:abc", "invalid checksum digest length"),
            (&format!("sha512:{HEX}"), "invalid checksum digest length"),
            (
                &format!("sha256:{}", HEX.to_uppercase()),
                "invalid checksum digest format",
            ),
            (&format!("foo:{HEX}"), "unsupported digest algorithm"),
            (&format!("a.b+c:{HEX}"), "unsupported digest algorithm"),
            (&format!("Foo:{HEX}"), "invalid checksum digest format"),
            ("foo:a:b", "invalid checksum digest format"),
        ];
        for (input, message) in cases {
            let err = parse_go_digest(input).unwrap_err();
            assert_eq!(err.to_string(), message, "{input}");
            assert!(!is_go_digest(input), "{input}");
        }
    }
}
