//! JSON Web Key files (RFC 7517), which ocicrypt takes wherever it takes a PEM or DER key:
//! a public JWK as a `jwe:` recipient, a private one as a `--decryption-key`. RSA keys and
//! EC keys on P-256, P-384 and P-521, as go-jose reads them: an RSA private key needs its
//! two primes, EC coordinates and private values their curve's exact length. A recipient
//! JWK's `alg` picks the key management algorithm and its `kid` goes into the JWE header.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde::Deserialize;

use crate::keys::{JweRecipient, PrivateKey, PublicKey};

/// The key management algorithm go-jose is asked for when a JWK names none (ocicrypt's
/// default, whatever the key type: an EC JWK without `alg` cannot be encrypted to).
const DEFAULT_ALGORITHM: &str = "RSA-OAEP";

/// The members of a JWK this reads; the others are ignored, as go-jose ignores them.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    d: Option<String>,
    p: Option<String>,
    q: Option<String>,
    x: Option<String>,
    y: Option<String>,
    alg: Option<String>,
    kid: Option<String>,
}

impl Jwk {
    fn parse(data: &[u8]) -> Option<Jwk> {
        serde_json::from_slice(data).ok()
    }

    fn bytes(member: &Option<String>) -> Option<Vec<u8>> {
        B64URL.decode(member.as_deref()?).ok()
    }

    fn big(member: &Option<String>) -> Option<rsa::BigUint> {
        Some(rsa::BigUint::from_bytes_be(&Self::bytes(member)?))
    }

    /// The uncompressed SEC1 point of `x` and `y`, each exactly `len` bytes.
    fn point(&self, len: usize) -> Option<Vec<u8>> {
        let (x, y) = (Self::bytes(&self.x)?, Self::bytes(&self.y)?);
        if x.len() != len || y.len() != len {
            return None;
        }
        let mut point = vec![4u8];
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        Some(point)
    }

    /// The private value `d` of an EC key, exactly `len` bytes.
    fn scalar(&self, len: usize) -> Option<Vec<u8>> {
        Self::bytes(&self.d).filter(|d| d.len() == len)
    }

    fn public_key(&self) -> Option<PublicKey> {
        match (self.kty.as_str(), self.crv.as_deref()) {
            ("RSA", _) => rsa::RsaPublicKey::new(Self::big(&self.n)?, Self::big(&self.e)?)
                .ok()
                .map(PublicKey::Rsa),
            ("EC", Some("P-256")) => p256::PublicKey::from_sec1_bytes(&self.point(32)?)
                .ok()
                .map(PublicKey::P256),
            ("EC", Some("P-384")) => p384::PublicKey::from_sec1_bytes(&self.point(48)?)
                .ok()
                .map(PublicKey::P384),
            ("EC", Some("P-521")) => p521::PublicKey::from_sec1_bytes(&self.point(66)?)
                .ok()
                .map(PublicKey::P521),
            _ => None,
        }
    }

    fn private_key(&self) -> Option<PrivateKey> {
        // go-jose checks the public coordinates of an EC private key too.
        self.public_key()?;
        match (self.kty.as_str(), self.crv.as_deref()) {
            ("RSA", _) => rsa::RsaPrivateKey::from_components(
                Self::big(&self.n)?,
                Self::big(&self.e)?,
                Self::big(&self.d)?,
                vec![Self::big(&self.p)?, Self::big(&self.q)?],
            )
            .ok()
            .map(|key| PrivateKey::Rsa(Box::new(key))),
            ("EC", Some("P-256")) => p256::SecretKey::from_slice(&self.scalar(32)?)
                .ok()
                .map(PrivateKey::P256),
            ("EC", Some("P-384")) => p384::SecretKey::from_slice(&self.scalar(48)?)
                .ok()
                .map(PrivateKey::P384),
            ("EC", Some("P-521")) => p521::SecretKey::from_slice(&self.scalar(66)?)
                .ok()
                .map(PrivateKey::P521),
            _ => None,
        }
    }
}

/// A `jwe:` recipient from a public JWK; `None` for anything else, a private JWK included
/// (ocicrypt: "File provided is not a public key").
pub fn recipient(data: &[u8]) -> Option<JweRecipient> {
    let jwk = Jwk::parse(data)?;
    if jwk.d.is_some() {
        return None;
    }
    Some(JweRecipient {
        key: jwk.public_key()?,
        algorithm: jwk
            .alg
            .clone()
            .unwrap_or_else(|| DEFAULT_ALGORITHM.to_string()),
        key_id: jwk.kid.clone(),
    })
}

/// A decryption key from a private JWK; `None` for anything else, a public JWK included
/// (ocicrypt then ignores the file).
pub fn private_key(data: &[u8]) -> Option<PrivateKey> {
    let jwk = Jwk::parse(data)?;
    jwk.d.as_ref()?;
    jwk.private_key()
}

#[cfg(test)]
mod tests {
    use super::*;
    use elliptic_curve::sec1::ToEncodedPoint;
    use rand_core::OsRng;
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};

    fn b64(bytes: &[u8]) -> String {
        B64URL.encode(bytes)
    }

    fn rsa_jwks(extra: &str) -> (String, String) {
        let key = rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
        let public = format!(
            r#"{{"kty":"RSA","n":"{}","e":"{}"{extra}}}"#,
            b64(&key.n().to_bytes_be()),
            b64(&key.e().to_bytes_be())
        );
        let private = format!(
            r#"{}, "d":"{}","p":"{}","q":"{}"}}"#,
            public.trim_end_matches('}'),
            b64(&key.d().to_bytes_be()),
            b64(&key.primes()[0].to_bytes_be()),
            b64(&key.primes()[1].to_bytes_be())
        );
        (public, private)
    }

    fn p384_jwks(extra: &str) -> (String, String) {
        let key = p384::SecretKey::random(&mut OsRng);
        let point = key.public_key().to_encoded_point(false);
        let public = format!(
            r#"{{"kty":"EC","crv":"P-384","x":"{}","y":"{}"{extra}}}"#,
            b64(point.x().unwrap()),
            b64(point.y().unwrap())
        );
        let private = format!(
            r#"{},"d":"{}"}}"#,
            public.trim_end_matches('}'),
            b64(&key.to_bytes())
        );
        (public, private)
    }

    #[test]
    fn public_and_private_jwks_round_trip_with_their_algorithms() {
        let cases = [
            (rsa_jwks(""), "RSA-OAEP"),
            (
                rsa_jwks(r#","alg":"RSA-OAEP-256","kid":"k1""#),
                "RSA-OAEP-256",
            ),
            (p384_jwks(r#","alg":"ECDH-ES+A128KW""#), "ECDH-ES+A128KW"),
            (p384_jwks(r#","alg":"ECDH-ES+A192KW""#), "ECDH-ES+A192KW"),
            (p384_jwks(r#","alg":"ECDH-ES+A256KW""#), "ECDH-ES+A256KW"),
        ];
        for ((public, private), algorithm) in cases {
            let recipient = recipient(public.as_bytes()).expect("a public JWK");
            assert_eq!(recipient.algorithm, algorithm);
            let key = private_key(private.as_bytes()).expect("a private JWK");
            // A private JWK is no recipient, a public one no decryption key.
            assert!(super::recipient(private.as_bytes()).is_none());
            assert!(super::private_key(public.as_bytes()).is_none());
            let jwe = crate::jwe::wrap(std::slice::from_ref(&recipient), b"options")
                .unwrap()
                .unwrap();
            let text = String::from_utf8(jwe.clone()).unwrap();
            let protected: serde_json::Value = serde_json::from_slice(
                &B64URL
                    .decode(
                        serde_json::from_str::<serde_json::Value>(&text).unwrap()["protected"]
                            .as_str()
                            .unwrap(),
                    )
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(protected["alg"], algorithm);
            assert_eq!(protected["kid"].as_str(), recipient.key_id.as_deref());
            assert_eq!(crate::jwe::unwrap(&jwe, &[key]).unwrap(), b"options");
        }
    }

    #[test]
    fn an_ec_jwk_without_alg_fails_as_go_jose() {
        let (public, _) = p384_jwks("");
        let recipient = recipient(public.as_bytes()).unwrap();
        let error = crate::jwe::wrap(&[recipient], b"options").unwrap_err();
        assert_eq!(
            error.to_string(),
            "jose.NewMultiEncrypter failed: go-jose/go-jose: unknown/unsupported algorithm"
        );
    }

    #[test]
    fn malformed_jwks_are_no_keys() {
        let (public, private) = p384_jwks("");
        let short_x = public.replacen("\"x\":\"", "\"x\":\"AA", 1);
        for bad in [
            "{}",
            "not json",
            r#"{"kty":"oct","k":"AAAA"}"#,
            r#"{"kty":"EC","crv":"P-999","x":"AA","y":"AA"}"#,
            r#"{"kty":"RSA","n":"AQAB"}"#,
            short_x.as_str(),
        ] {
            assert!(recipient(bad.as_bytes()).is_none(), "{bad}");
            assert!(private_key(bad.as_bytes()).is_none(), "{bad}");
        }
        // An RSA private key without its primes, as go-jose refuses it.
        let (_, rsa_private) = rsa_jwks("");
        let value: serde_json::Value = serde_json::from_str(&rsa_private).unwrap();
        let mut without_primes = value.as_object().unwrap().clone();
        without_primes.remove("p");
        let text = serde_json::to_string(&without_primes).unwrap();
        assert!(private_key(text.as_bytes()).is_none());
        assert!(private_key(private.as_bytes()).is_some());
    }
}
