//! Public keys that verify sigstore signatures, of every type containers/image accepts:
//! sigstore's `cryptoutils.UnmarshalPEMToPublicKey` reads them (PKIX `PUBLIC KEY` or
//! PKCS#1 `RSA PUBLIC KEY` PEM), and `signature.LoadVerifier` with SHA-256 verifies with
//! them — ECDSA on P-224, P-256, P-384 and P-521 (always over a SHA-256 digest, whatever the
//! curve; ASN.1 or IEEE P1363 signatures), RSA PKCS#1 v1.5 with SHA-256, and plain
//! Ed25519 over the message itself. The same keys are Fulcio and PKI certificates' keys;
//! Rekor's must be ECDSA.
//!
//! All the arithmetic is RustCrypto's (p224, p256, p384, p521, rsa, ed25519-dalek).

use anyhow::{anyhow, bail, Result};
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use p256::ecdsa::signature::Verifier as _;
use p256::pkcs8::der::Decode as _;
use p256::pkcs8::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};
use p256::pkcs8::{DecodePublicKey as _, EncodePublicKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use sha2::{Digest as _, Sha256};

/// The PEM type of PKIX public keys.
const PKIX_PEM_TYPE: &str = "PUBLIC KEY";
/// The PEM type of PKCS#1 RSA public keys (sigstore's `PKCS1PublicKeyPEMType`).
const PKCS1_PEM_TYPE: &str = "RSA PUBLIC KEY";

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P224: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.33");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// Go's crypto/rsa refuses keys below this size, at verification time.
const RSA_MIN_BITS: usize = 1024;
/// The largest RSA modulus read: Go's crypto/rsa limit (the rsa crate's default is 4096).
const RSA_MAX_BITS: usize = 16384;
/// The largest IEEE P1363 signature sigstore tries (two P-521 scalars).
const P1363_MAX_LEN: usize = 132;

/// A trusted public key of a sigstore signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// ECDSA on NIST P-224 (Go still verifies with it).
    EcdsaP224(p224::ecdsa::VerifyingKey),
    /// ECDSA on NIST P-256.
    EcdsaP256(p256::ecdsa::VerifyingKey),
    /// ECDSA on NIST P-384.
    EcdsaP384(p384::ecdsa::VerifyingKey),
    /// ECDSA on NIST P-521.
    EcdsaP521(Box<p521::PublicKey>),
    /// RSA, PKCS#1 v1.5 signatures.
    Rsa(rsa::RsaPublicKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    /// The key in a PKIX `SubjectPublicKeyInfo` (DER), as Go's `x509.ParsePKIXPublicKey`
    /// reads it; key types sigstore cannot verify with are an error.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|err| anyhow!("x509: malformed public key: {err}"))?;
        let algorithm = spki.algorithm.oid;
        let invalid = |err: &dyn std::fmt::Display| anyhow!("x509: invalid public key: {err}");
        if algorithm == OID_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters_oid()
                .map_err(|_| anyhow!("x509: invalid ECDSA parameters"))?;
            return if curve == OID_P224 {
                p224::ecdsa::VerifyingKey::from_public_key_der(der)
                    .map(PublicKey::EcdsaP224)
                    .map_err(|err| invalid(&err))
            } else if curve == OID_P256 {
                p256::ecdsa::VerifyingKey::from_public_key_der(der)
                    .map(PublicKey::EcdsaP256)
                    .map_err(|err| invalid(&err))
            } else if curve == OID_P384 {
                p384::ecdsa::VerifyingKey::from_public_key_der(der)
                    .map(PublicKey::EcdsaP384)
                    .map_err(|err| invalid(&err))
            } else if curve == OID_P521 {
                p521::PublicKey::from_public_key_der(der)
                    .map(|key| PublicKey::EcdsaP521(Box::new(key)))
                    .map_err(|err| invalid(&err))
            } else {
                bail!("x509: unsupported elliptic curve {curve}")
            };
        }
        if algorithm == OID_RSA_ENCRYPTION {
            return rsa_key(spki.subject_public_key.raw_bytes());
        }
        if algorithm == OID_ED25519 {
            let bytes: &[u8; 32] = spki
                .subject_public_key
                .raw_bytes()
                .try_into()
                .map_err(|_| anyhow!("x509: wrong Ed25519 public key size"))?;
            return ed25519_dalek::VerifyingKey::from_bytes(bytes)
                .map(PublicKey::Ed25519)
                .map_err(|err| invalid(&err));
        }
        bail!("unsupported public key algorithm {algorithm}")
    }

    /// The key of one PEM block: `label` is its type, `der` its contents
    /// (`cryptoutils.UnmarshalPEMToPublicKey`).
    pub fn from_pem_block(label: &str, der: &[u8]) -> Result<PublicKey> {
        match label {
            PKIX_PEM_TYPE => PublicKey::from_spki_der(der),
            PKCS1_PEM_TYPE => rsa_key(der),
            other => bail!(
                "unknown Public key PEM file type: {other}. Are you passing the correct public key?"
            ),
        }
    }

    /// Whether this is an ECDSA key (the only kind containers/image trusts for Rekor).
    pub fn is_ecdsa(&self) -> bool {
        matches!(
            self,
            PublicKey::EcdsaP224(_)
                | PublicKey::EcdsaP256(_)
                | PublicKey::EcdsaP384(_)
                | PublicKey::EcdsaP521(_)
        )
    }

    /// The key as a PKIX `PUBLIC KEY` PEM block, as Go's `x509.MarshalPKIXPublicKey`
    /// writes it (uncompressed EC points, RSA with NULL parameters).
    pub fn to_pkix_pem(&self) -> Result<String> {
        let pem = match self {
            PublicKey::EcdsaP224(key) => key.to_public_key_pem(LineEnding::LF),
            PublicKey::EcdsaP256(key) => key.to_public_key_pem(LineEnding::LF),
            PublicKey::EcdsaP384(key) => key.to_public_key_pem(LineEnding::LF),
            PublicKey::EcdsaP521(key) => key.to_public_key_pem(LineEnding::LF),
            PublicKey::Rsa(key) => key.to_public_key_pem(LineEnding::LF),
            PublicKey::Ed25519(key) => key.to_public_key_pem(LineEnding::LF),
        };
        pem.map_err(|err| anyhow!("re-marshaling public key to PEM: {err}"))
    }

    /// Verifies `signature` of `message` as sigstore's verifier for this key does with
    /// SHA-256; a failure is sigstore's message for it.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), String> {
        let digest = Sha256::digest(message);
        match self {
            PublicKey::EcdsaP224(_)
            | PublicKey::EcdsaP256(_)
            | PublicKey::EcdsaP384(_)
            | PublicKey::EcdsaP521(_) => {
                // sigstore takes what parses as ASN.1 for ASN.1, anything else for an
                // IEEE P1363 `r || s` pair.
                if is_der_sequence(signature) {
                    if self.ecdsa_holds(&digest, signature, Encoding::Asn1) {
                        return Ok(());
                    }
                    return Err("invalid signature when validating ASN.1 encoded signature".into());
                }
                if signature.is_empty()
                    || signature.len() > P1363_MAX_LEN
                    || !signature.len().is_multiple_of(2)
                {
                    return Err("ecdsa: Invalid IEEE_P1363 encoded bytes".into());
                }
                if self.ecdsa_holds(&digest, signature, Encoding::P1363) {
                    return Ok(());
                }
                Err("invalid signature when validating IEEE_P1363 encoded signature".into())
            }
            PublicKey::Rsa(key) => {
                let bits = key.n().bits();
                if bits < RSA_MIN_BITS {
                    return Err(format!(
                        "crypto/rsa: {bits}-bit keys are insecure (see https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)"
                    ));
                }
                key.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest, signature)
                    .map_err(|_| "crypto/rsa: verification error".to_string())
            }
            PublicKey::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .ok()
                .filter(|parsed| key.verify(message, parsed).is_ok())
                .map(|_| ())
                .ok_or_else(|| "failed to verify signature".to_string()),
        }
    }

    /// Whether `signature` is an ASN.1 ECDSA signature by this key of `message`'s SHA-256
    /// digest (Go's `ecdsa.VerifyASN1`, as Rekor SETs are checked); never for other keys.
    pub fn verify_ecdsa_asn1(&self, message: &[u8], signature: &[u8]) -> bool {
        self.ecdsa_holds(&Sha256::digest(message), signature, Encoding::Asn1)
    }

    /// Whether `signature`, encoded as `encoding`, is this ECDSA key's signature of the
    /// SHA-256 `digest`; false for keys of other types.
    fn ecdsa_holds(&self, digest: &[u8], signature: &[u8], encoding: Encoding) -> bool {
        match self {
            // Longer than P-224's scalars, the digest is cut to its leftmost 224 bits, by
            // RustCrypto as by Go.
            PublicKey::EcdsaP224(key) => parse_ecdsa(
                signature,
                encoding,
                28,
                p224::ecdsa::Signature::from_der,
                p224::ecdsa::Signature::from_slice,
            )
            .is_some_and(|parsed| key.verify_prehash(digest, &parsed).is_ok()),
            PublicKey::EcdsaP256(key) => parse_ecdsa(
                signature,
                encoding,
                32,
                p256::ecdsa::Signature::from_der,
                p256::ecdsa::Signature::from_slice,
            )
            .is_some_and(|parsed| key.verify_prehash(digest, &parsed).is_ok()),
            PublicKey::EcdsaP384(key) => parse_ecdsa(
                signature,
                encoding,
                48,
                p384::ecdsa::Signature::from_der,
                p384::ecdsa::Signature::from_slice,
            )
            .is_some_and(|parsed| key.verify_prehash(digest, &parsed).is_ok()),
            PublicKey::EcdsaP521(key) => {
                let Ok(key) = p521::ecdsa::VerifyingKey::from_affine(*key.as_affine()) else {
                    return false;
                };
                // RustCrypto wants a P-521 digest of at least half the field size; Go
                // takes the 32-byte digest as the integer it is, which zeros on the left keep.
                let mut prehash = [0u8; 66];
                prehash[66 - digest.len()..].copy_from_slice(digest);
                parse_ecdsa(
                    signature,
                    encoding,
                    66,
                    p521::ecdsa::Signature::from_der,
                    p521::ecdsa::Signature::from_slice,
                )
                .is_some_and(|parsed| key.verify_prehash(&prehash, &parsed).is_ok())
            }
            PublicKey::Rsa(_) | PublicKey::Ed25519(_) => false,
        }
    }
}

/// How an ECDSA signature is encoded.
#[derive(Clone, Copy)]
enum Encoding {
    /// A DER `SEQUENCE { r INTEGER, s INTEGER }`.
    Asn1,
    /// `r || s`, two big-endian integers of equal length (IEEE P1363).
    P1363,
}

/// An ECDSA signature for a curve whose scalars are `size` bytes: parsed by `from_der`,
/// or, for P1363, its halves left-padded to `size` and read by `from_slice`.
fn parse_ecdsa<Signature, Error>(
    signature: &[u8],
    encoding: Encoding,
    size: usize,
    from_der: fn(&[u8]) -> Result<Signature, Error>,
    from_slice: fn(&[u8]) -> Result<Signature, Error>,
) -> Option<Signature> {
    match encoding {
        Encoding::Asn1 => from_der(signature).ok(),
        Encoding::P1363 => {
            let (r, s) = signature.split_at(signature.len() / 2);
            let mut padded = vec![0u8; 2 * size];
            let (padded_r, padded_s) = padded.split_at_mut(size);
            for (half, out) in [(r, padded_r), (s, padded_s)] {
                let start = half
                    .iter()
                    .position(|byte| *byte != 0)
                    .unwrap_or(half.len());
                let significant = &half[start..];
                if significant.len() > size {
                    return None;
                }
                out[size - significant.len()..].copy_from_slice(significant);
            }
            from_slice(&padded).ok()
        }
    }
}

/// An RSA key from its PKCS#1 `RSAPublicKey` DER.
fn rsa_key(der: &[u8]) -> Result<PublicKey> {
    let parsed = rsa::pkcs1::RsaPublicKey::from_der(der)
        .map_err(|err| anyhow!("x509: invalid RSA public key: {err}"))?;
    let integer = |value: rsa::pkcs1::UintRef<'_>| rsa::BigUint::from_bytes_be(value.as_bytes());
    rsa::RsaPublicKey::new_with_max_size(
        integer(parsed.modulus),
        integer(parsed.public_exponent),
        RSA_MAX_BITS,
    )
    .map(PublicKey::Rsa)
    .map_err(|err| anyhow!("x509: invalid RSA public key: {err}"))
}

/// Whether `bytes` begin with a well-formed DER SEQUENCE of two INTEGERs (Go's
/// `asn1.Unmarshal` into `struct{ R, S *big.Int }`, which allows trailing data).
fn is_der_sequence(bytes: &[u8]) -> bool {
    use p256::pkcs8::der::{asn1::IntRef, Reader as _, SliceReader};
    let Ok(mut reader) = SliceReader::new(bytes) else {
        return false;
    };
    reader
        .sequence(|inner| {
            inner.decode::<IntRef<'_>>()?;
            inner.decode::<IntRef<'_>>()?;
            Ok(())
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use skopos_testimage::sigstore::{KeyType, OpensslKey};

    use super::*;

    fn key(pem: &str) -> PublicKey {
        let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes()).unwrap();
        PublicKey::from_pem_block(label, &der).unwrap()
    }

    /// Each key type: its own signature (made by openssl as sigstore makes it) verifies,
    /// another key's of the same type and a changed message fail with sigstore's message,
    /// and the key re-marshals to the PKIX PEM openssl wrote (what Rekor SETs record).
    #[test]
    fn every_key_type_verifies_as_sigstore_does() {
        let message = b"{\"critical\":{}}";
        for (key_type, failure) in [
            (
                KeyType::P224,
                "invalid signature when validating ASN.1 encoded signature",
            ),
            (
                KeyType::P256,
                "invalid signature when validating ASN.1 encoded signature",
            ),
            (
                KeyType::P384,
                "invalid signature when validating ASN.1 encoded signature",
            ),
            (
                KeyType::P521,
                "invalid signature when validating ASN.1 encoded signature",
            ),
            (KeyType::Rsa(2048), "crypto/rsa: verification error"),
            (KeyType::Rsa(3072), "crypto/rsa: verification error"),
            (KeyType::Ed25519, "failed to verify signature"),
        ] {
            let signer = OpensslKey::generate(key_type);
            let other = OpensslKey::generate(key_type);
            let trusted = key(&signer.public_pem);
            assert_eq!(trusted.to_pkix_pem().unwrap(), signer.public_pem);
            let signature = signer.sign(message);
            assert_eq!(trusted.verify(message, &signature), Ok(()), "{key_type:?}");
            assert_eq!(
                key(&other.public_pem).verify(message, &signature),
                Err(failure.to_string()),
                "{key_type:?}"
            );
            assert_eq!(
                trusted.verify(b"{\"critical\":{} }", &signature),
                Err(failure.to_string()),
                "{key_type:?}"
            );
            assert_eq!(trusted.is_ecdsa(), failure.contains("ASN.1"));
            // Rekor SETs: ECDSA keys only.
            assert_eq!(
                trusted.verify_ecdsa_asn1(message, &signature),
                trusted.is_ecdsa()
            );
        }
    }

    #[test]
    fn rsa_keys_can_be_pkcs1_and_not_too_small() {
        let message = b"payload";
        let signer = OpensslKey::generate(KeyType::Rsa(2048));
        let pkcs1 = signer.rsa_public_key_pem();
        assert!(pkcs1.starts_with("-----BEGIN RSA PUBLIC KEY-----\n"));
        let trusted = key(&pkcs1);
        assert_eq!(trusted, key(&signer.public_pem));
        assert_eq!(trusted.verify(message, &signer.sign(message)), Ok(()));
        assert_eq!(trusted.to_pkix_pem().unwrap(), signer.public_pem);

        // Go's crypto/rsa refuses keys below 1024 bits when verifying.
        let small = OpensslKey::generate(KeyType::Rsa(1008));
        assert_eq!(
            key(&small.public_pem).verify(message, &small.sign(message)),
            Err("crypto/rsa: 1008-bit keys are insecure (see https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)".into())
        );
    }

    /// ECDSA signatures may also be IEEE P1363 `r || s` pairs (sigstore tries them when
    /// the bytes are not ASN.1), but Rekor SETs must be ASN.1.
    #[test]
    fn ecdsa_signatures_may_be_p1363() {
        let message = b"payload";
        let signer = OpensslKey::generate(KeyType::P384);
        let trusted = key(&signer.public_pem);
        let der = signer.sign(message);
        let p1363 = p384::ecdsa::Signature::from_der(&der).unwrap().to_bytes();
        assert_eq!(trusted.verify(message, &p1363), Ok(()));
        assert!(!trusted.verify_ecdsa_asn1(message, &p1363));
        let mut wrong = p1363.to_vec();
        wrong[10] ^= 1;
        assert_eq!(
            trusted.verify(message, &wrong),
            Err("invalid signature when validating IEEE_P1363 encoded signature".into())
        );
        assert_eq!(
            trusted.verify(message, &p1363[1..]),
            Err("ecdsa: Invalid IEEE_P1363 encoded bytes".into())
        );
        assert_eq!(
            trusted.verify(message, &[]),
            Err("ecdsa: Invalid IEEE_P1363 encoded bytes".into())
        );

        let p521 = OpensslKey::generate(KeyType::P521);
        let der = p521.sign(message);
        let p1363 = p521::ecdsa::Signature::from_der(&der).unwrap().to_bytes();
        assert_eq!(key(&p521.public_pem).verify(message, &p1363), Ok(()));
    }

    #[test]
    fn other_keys_are_refused_when_read() {
        let x25519 = std::process::Command::new("openssl")
            .args(["genpkey", "-algorithm", "X25519"])
            .output()
            .unwrap()
            .stdout;
        let public = std::process::Command::new("sh")
            .args(["-c", "printf '%s' \"$0\" | openssl pkey -pubout"])
            .arg(String::from_utf8(x25519).unwrap())
            .output()
            .unwrap()
            .stdout;
        let (label, der) = pem_rfc7468::decode_vec(&public).unwrap();
        assert_eq!(
            PublicKey::from_pem_block(label, &der)
                .unwrap_err()
                .to_string(),
            "unsupported public key algorithm 1.3.101.110"
        );
        assert_eq!(
            PublicKey::from_pem_block("CERTIFICATE", &der)
                .unwrap_err()
                .to_string(),
            "unknown Public key PEM file type: CERTIFICATE. Are you passing the correct public key?"
        );
    }
}
