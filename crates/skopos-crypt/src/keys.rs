//! Asymmetric key files as ocicrypt reads them: public keys as DER or PEM
//! SubjectPublicKeyInfo (any PEM label), private keys as DER PKCS#8, PKCS#1 or SEC1, or PEM
//! PKCS#8 or PKCS#1, and both as JWKs ([`crate::jwk`]). RSA and the NIST curves P-256,
//! P-384 and P-521 are the key types JWE can wrap to.

use pkcs8::DecodePrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use spki::DecodePublicKey;

/// A recipient's public key.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// An RSA key: JWE wraps to it with RSA-OAEP.
    Rsa(rsa::RsaPublicKey),
    /// A NIST P-256 key: JWE wraps to it with ECDH-ES+A256KW, as for the two curves below.
    P256(p256::PublicKey),
    /// A NIST P-384 key.
    P384(p384::PublicKey),
    /// A NIST P-521 key.
    P521(p521::PublicKey),
}

/// A `jwe:` recipient: its public key and the key management algorithm go-jose is asked
/// for, as ocicrypt picks it: RSA-OAEP for an RSA key file, ECDH-ES+A256KW for an EC key
/// file, and a JWK's own `alg` (RSA-OAEP without one); a JWK's `kid` goes into the header.
#[derive(Debug, Clone)]
pub struct JweRecipient {
    /// The key the content key is wrapped to.
    pub key: PublicKey,
    /// The JWE `alg`.
    pub algorithm: String,
    /// The JWE `kid`, from a JWK.
    pub key_id: Option<String>,
}

impl JweRecipient {
    /// Parse a `jwe:` key file: DER or PEM SubjectPublicKeyInfo, else a public JWK.
    pub fn parse(data: &[u8]) -> Option<JweRecipient> {
        match PublicKey::parse(data) {
            Some(key) => Some(key.into()),
            None => crate::jwk::recipient(data),
        }
    }
}

impl From<PublicKey> for JweRecipient {
    /// The recipient a key file of this key would be.
    fn from(key: PublicKey) -> JweRecipient {
        let algorithm = match key {
            PublicKey::Rsa(_) => "RSA-OAEP",
            PublicKey::P256(_) | PublicKey::P384(_) | PublicKey::P521(_) => "ECDH-ES+A256KW",
        };
        JweRecipient {
            key,
            algorithm: algorithm.to_string(),
            key_id: None,
        }
    }
}

/// A private key able to unwrap layer keys.
#[derive(Clone)]
pub enum PrivateKey {
    /// An RSA key, for JWE (RSA-OAEP) and PKCS#7 recipients; boxed because it is much larger
    /// than the curve keys.
    Rsa(Box<rsa::RsaPrivateKey>),
    /// A NIST P-256 key, for JWE (ECDH-ES) recipients, as for the two curves below.
    P256(p256::SecretKey),
    /// A NIST P-384 key.
    P384(p384::SecretKey),
    /// A NIST P-521 key.
    P521(p521::SecretKey),
}

impl std::fmt::Debug for PrivateKey {
    // Never shows key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            PrivateKey::Rsa(_) => "RSA",
            PrivateKey::P256(_) => "P-256",
            PrivateKey::P384(_) => "P-384",
            PrivateKey::P521(_) => "P-521",
        };
        write!(f, "PrivateKey({kind})")
    }
}

/// The DER inside `data` when it is PEM (of any label), else `data` itself.
fn pem_or_der(data: &[u8]) -> Option<Vec<u8>> {
    // Go's pem.Decode skips text before the first block, as this does.
    let text = std::str::from_utf8(data).ok()?;
    let start = text.find("-----BEGIN ")?;
    let (_, der) = pem_rfc7468::decode_vec(&text.as_bytes()[start..]).ok()?;
    Some(der)
}

impl PublicKey {
    /// Parse a public key file (`ParsePublicKey`); `None` when it is not one skopos can use.
    pub fn parse(data: &[u8]) -> Option<PublicKey> {
        if let Some(key) = Self::from_spki_der(data) {
            return Some(key);
        }
        Self::from_spki_der(&pem_or_der(data)?)
    }

    fn from_spki_der(der: &[u8]) -> Option<PublicKey> {
        if let Ok(key) = rsa::RsaPublicKey::from_public_key_der(der) {
            return Some(PublicKey::Rsa(key));
        }
        if let Ok(key) = p256::PublicKey::from_public_key_der(der) {
            return Some(PublicKey::P256(key));
        }
        if let Ok(key) = p384::PublicKey::from_public_key_der(der) {
            return Some(PublicKey::P384(key));
        }
        p521::PublicKey::from_public_key_der(der)
            .ok()
            .map(PublicKey::P521)
    }
}

impl PrivateKey {
    /// Parse a private key file (`ParsePrivateKey`); `None` when it is not one skopos can
    /// use (ocicrypt then ignores the file).
    pub fn parse(data: &[u8]) -> Option<PrivateKey> {
        if let Some(key) = Self::from_pkcs8_der(data).or_else(|| Self::from_pkcs1_der(data)) {
            return Some(key);
        }
        if let Ok(key) = p256::SecretKey::from_sec1_der(data) {
            return Some(PrivateKey::P256(key));
        }
        if let Ok(key) = p384::SecretKey::from_sec1_der(data) {
            return Some(PrivateKey::P384(key));
        }
        if let Ok(key) = p521::SecretKey::from_sec1_der(data) {
            return Some(PrivateKey::P521(key));
        }
        // As ocicrypt: what is not PEM may be a JWK.
        match pem_or_der(data) {
            Some(der) => Self::from_pem_contents(&der),
            None => crate::jwk::private_key(data),
        }
    }

    /// A key from the DER a PEM block holds (decrypted, for a password-protected block): in
    /// PEM, as Go's x509 reads it, PKCS#8 or PKCS#1 only.
    pub fn from_pem_contents(der: &[u8]) -> Option<PrivateKey> {
        Self::from_pkcs8_der(der).or_else(|| Self::from_pkcs1_der(der))
    }

    fn from_pkcs8_der(der: &[u8]) -> Option<PrivateKey> {
        if let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_der(der) {
            return Some(PrivateKey::Rsa(Box::new(key)));
        }
        if let Ok(key) = p256::SecretKey::from_pkcs8_der(der) {
            return Some(PrivateKey::P256(key));
        }
        if let Ok(key) = p384::SecretKey::from_pkcs8_der(der) {
            return Some(PrivateKey::P384(key));
        }
        p521::SecretKey::from_pkcs8_der(der)
            .ok()
            .map(PrivateKey::P521)
    }

    fn from_pkcs1_der(der: &[u8]) -> Option<PrivateKey> {
        rsa::RsaPrivateKey::from_pkcs1_der(der)
            .ok()
            .map(|key| PrivateKey::Rsa(Box::new(key)))
    }
}
