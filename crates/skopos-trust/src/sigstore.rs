//! Sigstore signatures with keys (cosign's and containers/image's formats): encrypted
//! ECDSA P-256 private keys (`generate-sigstore-key`), signing a manifest, the stored
//! signature blob, and verifying it against trusted public keys.
//!
//! Key files: the private key is PKCS#8 DER encrypted as go-securesystemslib does (scrypt
//! N=65536 r=8 p=1, NaCl secretbox, a JSON envelope) in an `ENCRYPTED COSIGN PRIVATE KEY`
//! PEM block; the public key is a PKIX `PUBLIC KEY` PEM block.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context as _, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use crypto_secretbox::aead::{Aead as _, KeyInit as _};
use crypto_secretbox::XSalsa20Poly1305;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use p256::pkcs8::{EncodePublicKey as _, LineEnding};
use serde::{Deserialize, Serialize};
pub use skopos_core::signature_blob::SigstoreBlob;
use skopos_core::Digest;

use crate::payload::{UntrustedPayload, SIGSTORE_SIGNATURE_TYPE};
pub use crate::public_key::PublicKey;
use crate::rekor::first_labeled_pem_block;
use crate::VerifiedSignature;

/// The PEM type of private keys this module writes (cosign's).
const COSIGN_PRIVATE_KEY_PEM_TYPE: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// The other PEM type containers/image reads.
const SIGSTORE_PRIVATE_KEY_PEM_TYPE: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";

/// The MIME type of a sigstore signature of an image.
pub const SIGNATURE_MIME_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation holding the base64 ECDSA signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The message containers/image shows while it signs with a sigstore key.
pub const SIGSTORE_SIGNING_PROGRESS: &str = "Signing image using a sigstore signature";

/// go-securesystemslib's scrypt parameters for new keys.
const SCRYPT_LOG_N: u8 = 16;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;

/// A new key pair: the encrypted private key and the public key, both PEM.
pub struct KeyPair {
    /// `ENCRYPTED COSIGN PRIVATE KEY` PEM.
    pub private_pem: Vec<u8>,
    /// `PUBLIC KEY` PEM.
    pub public_pem: Vec<u8>,
}

/// A new ECDSA P-256 key pair, the private key encrypted with `passphrase`.
pub fn generate_key_pair(passphrase: &[u8]) -> Result<KeyPair> {
    let secret = loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|err| anyhow!("reading random bytes: {err}"))?;
        // Almost every 32-byte string is a valid scalar; retry the rest.
        if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
            break secret;
        }
    };
    let pkcs8 = secret
        .to_pkcs8_der()
        .map_err(|err| anyhow!("x509 encoding private key: {err}"))?;
    let envelope = encrypt(pkcs8.as_bytes(), passphrase)?;
    let private_pem =
        pem_rfc7468::encode_string(COSIGN_PRIVATE_KEY_PEM_TYPE, LineEnding::LF, &envelope)
            .map_err(|err| anyhow!("encoding the private key: {err}"))?;
    let public_pem = secret
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|err| anyhow!("encoding the public key: {err}"))?;
    Ok(KeyPair {
        private_pem: private_pem.into_bytes(),
        public_pem: public_pem.into_bytes(),
    })
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    #[serde(with = "base64_bytes")]
    ciphertext: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    #[serde(with = "base64_bytes")]
    salt: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    #[serde(with = "base64_bytes")]
    nonce: Vec<u8>,
}

/// Go's `[]byte` JSON encoding: standard base64.
mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

fn derive_key(passphrase: &[u8], salt: &[u8], log_n: u8, r: u32, p: u32) -> Result<[u8; 32]> {
    let params = scrypt::Params::new(log_n, r, p, 32)
        .map_err(|err| anyhow!("invalid scrypt parameters: {err}"))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(passphrase, salt, &params, &mut key).map_err(|err| anyhow!("scrypt: {err}"))?;
    Ok(key)
}

fn encrypt(plaintext: &[u8], passphrase: &[u8]) -> Result<Vec<u8>> {
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut salt).map_err(|err| anyhow!("reading random bytes: {err}"))?;
    getrandom::fill(&mut nonce).map_err(|err| anyhow!("reading random bytes: {err}"))?;
    let key = derive_key(passphrase, &salt, SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P)?;
    let ciphertext = XSalsa20Poly1305::new(&key.into())
        .encrypt(&nonce.into(), plaintext)
        .map_err(|_| anyhow!("encrypted: encryption failed"))?;
    let envelope = Envelope {
        kdf: Kdf {
            name: "scrypt".into(),
            params: ScryptParams {
                n: 1 << SCRYPT_LOG_N,
                r: SCRYPT_R,
                p: SCRYPT_P,
            },
            salt: salt.to_vec(),
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce: nonce.to_vec(),
        },
        ciphertext,
    };
    Ok(serde_json::to_vec(&envelope)?)
}

fn decrypt(envelope: &[u8], passphrase: &[u8]) -> Result<Vec<u8>> {
    let envelope: Envelope = serde_json::from_slice(envelope)?;
    if envelope.kdf.name != "scrypt" {
        bail!("encrypted: unknown kdf name {:?}", envelope.kdf.name);
    }
    if envelope.cipher.name != "nacl/secretbox" {
        bail!("encrypted: unknown cipher name {:?}", envelope.cipher.name);
    }
    let n = envelope.kdf.params.n;
    if !n.is_power_of_two() || n < 2 {
        bail!("encrypted: invalid scrypt N {n}");
    }
    let key = derive_key(
        passphrase,
        &envelope.kdf.salt,
        n.trailing_zeros() as u8,
        envelope.kdf.params.r,
        envelope.kdf.params.p,
    )?;
    let nonce: [u8; 24] = envelope
        .cipher
        .nonce
        .as_slice()
        .try_into()
        .map_err(|_| anyhow!("encrypted: invalid nonce length"))?;
    XSalsa20Poly1305::new(&key.into())
        .decrypt(&nonce.into(), envelope.ciphertext.as_slice())
        .map_err(|_| anyhow!("encrypted: decryption failed"))
}

/// Signs manifests with a sigstore private key.
pub struct SigstoreSigner {
    key: SigningKey,
}

impl std::fmt::Debug for SigstoreSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        f.write_str("SigstoreSigner")
    }
}

impl SigstoreSigner {
    /// The key in `pem` (an encrypted private key file), unlocked with `passphrase`;
    /// containers/image's `loadPrivateKey` checks and messages.
    pub fn from_private_key(pem: &[u8], passphrase: &[u8]) -> Result<SigstoreSigner> {
        let text = std::str::from_utf8(pem).map_err(|_| anyhow!("invalid pem block"))?;
        let (label, envelope) = pem_rfc7468::decode_vec(text.trim().as_bytes())
            .map_err(|_| anyhow!("invalid pem block"))?;
        if label != COSIGN_PRIVATE_KEY_PEM_TYPE && label != SIGSTORE_PRIVATE_KEY_PEM_TYPE {
            bail!("unsupported pem type: {label}");
        }
        let pkcs8 = decrypt(&envelope, passphrase).context("decrypt")?;
        let secret = p256::SecretKey::from_pkcs8_der(&pkcs8)
            .map_err(|err| anyhow!("parsing private key: {err}"))?;
        Ok(SigstoreSigner {
            key: SigningKey::from(secret),
        })
    }

    /// A sigstore signature blob (as stored) of `manifest` claiming `docker_reference`.
    pub fn sign_manifest(&self, manifest: &[u8], docker_reference: &str) -> Result<Vec<u8>> {
        let digest = skopos_core::manifest::manifest_digest(manifest)?;
        let payload = UntrustedPayload::new(digest, docker_reference.to_string())
            .to_json_of_type(SIGSTORE_SIGNATURE_TYPE)?;
        let signature: Signature = self.key.sign(&payload);
        let annotations = BTreeMap::from([(
            SIGNATURE_ANNOTATION.to_string(),
            STANDARD.encode(signature.to_der().as_bytes()),
        )]);
        SigstoreBlob {
            mime_type: SIGNATURE_MIME_TYPE.to_string(),
            payload,
            annotations,
        }
        .to_blob()
    }
}

/// The public key of the first PEM block in `pem` (a `PUBLIC KEY` or `RSA PUBLIC KEY`
/// block, of a type [`PublicKey`] lists), as sigstore's `UnmarshalPEMToPublicKey` reads a
/// key file: anything after that block is ignored, so a second key in the same file is not
/// trusted — skopeo does not trust it either.
pub fn parse_public_key(pem: &[u8]) -> Result<PublicKey> {
    let Some((label, der, _)) = first_labeled_pem_block(pem) else {
        bail!("PEM decoding failed");
    };
    PublicKey::from_pem_block(&label, &der)
}

/// What a sigstore payload must satisfy beyond a valid signature by a trusted key.
pub struct SigstoreRules<'a> {
    /// Checks the identity the signature claims.
    pub check_reference: &'a dyn Fn(&str) -> Result<()>,
    /// Checks the manifest digest the signature claims.
    pub check_digest: &'a dyn Fn(&Digest) -> Result<()>,
}

/// containers/image's `VerifySigstorePayload` for a signature blob: the signature by
/// one of `keys`, then the payload's format, digest and identity.
pub fn verify_sigstore_signature(
    signature: &SigstoreBlob,
    keys: &[PublicKey],
    rules: &SigstoreRules<'_>,
) -> Result<VerifiedSignature> {
    let Some(base64_signature) = signature.annotations.get(SIGNATURE_ANNOTATION) else {
        bail!("missing {SIGNATURE_ANNOTATION} annotation");
    };
    let raw = STANDARD
        .decode(base64_signature)
        .map_err(|err| anyhow!("base64 decoding: {err}"))?;
    if keys.is_empty() {
        bail!("Need at least one public key to verify the sigstore payload, but got 0");
    }
    let mut failures = Vec::new();
    let mut verified = false;
    for key in keys {
        match key.verify(&signature.payload, &raw) {
            Ok(()) => {
                verified = true;
                break;
            }
            Err(failure) => failures.push(failure),
        }
    }
    if !verified {
        bail!(
            "cryptographic signature verification failed: {}",
            failures.join(", ")
        );
    }
    let payload = UntrustedPayload::parse_of_type(&signature.payload, SIGSTORE_SIGNATURE_TYPE)?;
    (rules.check_digest)(&payload.manifest_digest)?;
    (rules.check_reference)(&payload.docker_reference)?;
    Ok(VerifiedSignature {
        manifest_digest: payload.manifest_digest,
        docker_reference: payload.docker_reference,
        key_fingerprint: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sign_verify() {
        let pair = generate_key_pair(b"secret").unwrap();
        let private = String::from_utf8(pair.private_pem.clone()).unwrap();
        assert!(private.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n"));
        assert!(!private.contains("secret"));
        let err = SigstoreSigner::from_private_key(&pair.private_pem, b"wrong").unwrap_err();
        assert_eq!(format!("{err:#}"), "decrypt: encrypted: decryption failed");
        let signer = SigstoreSigner::from_private_key(&pair.private_pem, b"secret").unwrap();
        let manifest = br#"{"schemaVersion":2}"#;
        let blob = signer.sign_manifest(manifest, "example.com/a:1").unwrap();
        let parsed = SigstoreBlob::from_blob(&blob).unwrap().unwrap();
        assert_eq!(parsed.mime_type, SIGNATURE_MIME_TYPE);
        let keys = vec![parse_public_key(&pair.public_pem).unwrap()];
        let accept = SigstoreRules {
            check_reference: &|_| Ok(()),
            check_digest: &|_| Ok(()),
        };
        let verified = verify_sigstore_signature(&parsed, &keys, &accept).unwrap();
        assert_eq!(verified.docker_reference, "example.com/a:1");
        assert_eq!(verified.manifest_digest, Digest::sha256_of(manifest));

        let other = vec![parse_public_key(&generate_key_pair(b"").unwrap().public_pem).unwrap()];
        let err = verify_sigstore_signature(&parsed, &other, &accept).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cryptographic signature verification failed: "),
            "{err}"
        );
        let mut tampered = parsed.clone();
        tampered.payload.push(b' ');
        assert!(verify_sigstore_signature(&tampered, &keys, &accept).is_err());

        let err = SigstoreSigner::from_private_key(
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            b"",
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "unsupported pem type: PUBLIC KEY");
    }

    /// Only a key file's first block is a trusted key, as in containers/image.
    #[test]
    fn only_the_first_pem_block_is_a_key() {
        let first = generate_key_pair(b"").unwrap().public_pem;
        let second = generate_key_pair(b"").unwrap().public_pem;
        let both = [b"comment\n".as_slice(), &first, &second].concat();
        assert_eq!(
            parse_public_key(&both).unwrap(),
            parse_public_key(&first).unwrap()
        );
        assert_ne!(
            parse_public_key(&both).unwrap(),
            parse_public_key(&second).unwrap()
        );
        let err = parse_public_key(b"no key here").unwrap_err();
        assert_eq!(err.to_string(), "PEM decoding failed");
    }
}
