//! Keyless sigstore signatures made offline for tests: a Fulcio-like CA issuing short-lived
//! code-signing certificates with the OIDC issuer extensions, a Rekor-like log key signing
//! SETs, and the stored signature blob (`\0sigstore-json\n…`) carrying the certificate,
//! chain and bundle annotations cosign and containers/image use.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, SanType,
};
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use sha2::{Digest as _, Sha256};

/// Fulcio's OIDC issuer extension v1 (raw URL) and v2 (DER UTF8String).
const OID_ISSUER_V1: &[u64] = &[1, 3, 6, 1, 4, 1, 57264, 1, 1];
const OID_ISSUER_V2: &[u64] = &[1, 3, 6, 1, 4, 1, 57264, 1, 8];

/// Midnight UTC of 2024-01-01, the day test certificates are valid by default.
pub const VALID_DAY: i64 = 1_704_067_200;
/// Noon of [`VALID_DAY`]: a Rekor integration time inside the certificates' validity.
pub const INSIDE_VALIDITY: i64 = VALID_DAY + 12 * 3600;
/// Two days later: after the certificates expired.
pub const AFTER_VALIDITY: i64 = INSIDE_VALIDITY + 2 * 86_400;

/// A certificate authority (a stand-in for Fulcio's).
pub struct TestCa {
    key: KeyPair,
    certificate: rcgen::Certificate,
}

/// A code-signing certificate and its private key.
pub struct SignerCertificate {
    /// The certificate, PEM.
    pub pem: String,
    key: KeyPair,
}

impl TestCa {
    /// A new self-signed CA named `name`, valid 2020–2040.
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().expect("generating a CA key");
        let certificate = ca_params(name)
            .self_signed(&key)
            .expect("signing the CA certificate");
        TestCa { key, certificate }
    }

    /// An intermediate CA named `name`, issued by this one (as Fulcio's intermediate is
    /// by its root).
    pub fn intermediate(&self, name: &str) -> TestCa {
        let key = KeyPair::generate().expect("generating an intermediate CA key");
        let certificate = ca_params(name)
            .signed_by(&key, &self.certificate, &self.key)
            .expect("signing the intermediate CA certificate");
        TestCa { key, certificate }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.certificate.pem()
    }

    /// A Fulcio-like leaf: no subject, `email` as its only (critical) SAN, the OIDC
    /// `issuer` in both Fulcio extensions, code signing, valid on 2024-01-01 only.
    pub fn issue(&self, email: &str, issuer: &str) -> SignerCertificate {
        self.issue_valid(email, issuer, (2024, 1, 1), (2024, 1, 2))
    }

    /// [`TestCa::issue`], valid from `not_before` to `not_after` (year, month, day).
    pub fn issue_valid(
        &self,
        email: &str,
        issuer: &str,
        not_before: (i32, u8, u8),
        not_after: (i32, u8, u8),
    ) -> SignerCertificate {
        let key = KeyPair::generate().expect("generating a signer key");
        let mut params =
            CertificateParams::new(Vec::<String>::new()).expect("leaf certificate parameters");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.subject_alt_names = vec![SanType::Rfc822Name(
            email.try_into().expect("an ASCII e-mail address"),
        )];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let mut v2 = vec![
            0x0c,
            u8::try_from(issuer.len()).expect("a short issuer URL"),
        ];
        v2.extend_from_slice(issuer.as_bytes());
        params.custom_extensions = vec![
            CustomExtension::from_oid_content(OID_ISSUER_V1, issuer.as_bytes().to_vec()),
            CustomExtension::from_oid_content(OID_ISSUER_V2, v2),
        ];
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .expect("signing the leaf certificate");
        SignerCertificate {
            pem: certificate.pem(),
            key,
        }
    }
}

/// A CA certificate named `name`, valid 2020–2040.
fn ca_params(name: &str) -> CertificateParams {
    let mut params =
        CertificateParams::new(Vec::<String>::new()).expect("CA certificate parameters");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2040, 1, 1);
    params
}

/// A transparency log's signing key (a stand-in for Rekor's).
pub struct RekorLog {
    key: KeyPair,
}

impl Default for RekorLog {
    fn default() -> Self {
        RekorLog {
            key: KeyPair::generate().expect("generating a Rekor key"),
        }
    }
}

impl RekorLog {
    /// The log's public key, PEM (what `rekorPublicKeyPath` names).
    pub fn public_key_pem(&self) -> String {
        self.key.public_key_pem()
    }

    /// The `dev.sigstore.cosign/bundle` annotation of a `hashedrekord` entry for
    /// `signature` (DER) of `payload` by `key_or_cert_pem`, integrated at
    /// `integrated_time`: the entry and the log's signature over its canonical JSON.
    pub fn bundle(
        &self,
        key_or_cert_pem: &str,
        signature: &[u8],
        payload: &[u8],
        integrated_time: i64,
    ) -> String {
        let body = serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex(&Sha256::digest(payload))}},
                "signature": {
                    "content": STANDARD.encode(signature),
                    "publicKey": {"content": STANDARD.encode(key_or_cert_pem)},
                },
            },
        });
        self.bundle_of_body(&body, integrated_time)
    }

    /// The bundle annotation of a log entry whose body is `body` (any JSON, to test how
    /// odd entries are handled), integrated at `integrated_time`.
    pub fn bundle_of_body(&self, body: &serde_json::Value, integrated_time: i64) -> String {
        let entry = serde_json::json!({
            "body": STANDARD.encode(body.to_string()),
            "integratedTime": integrated_time,
            "logIndex": 42,
            "logID": hex(&Sha256::digest(self.key.public_key_der())),
        });
        // serde_json sorts object members and writes no whitespace: with only ASCII keys,
        // strings and small integers that is the canonical form Rekor signs.
        let set = sign(&self.key, entry.to_string().as_bytes());
        serde_json::json!({"SignedEntryTimestamp": STANDARD.encode(set), "Payload": entry})
            .to_string()
    }
}

impl SignerCertificate {
    /// The certificate's public key, PKIX PEM (to trust it as a plain sigstore key).
    pub fn public_key_pem(&self) -> String {
        self.key.public_key_pem()
    }

    /// An ECDSA signature (DER) of `data` with the certificate's key.
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        sign(&self.key, data)
    }
}

/// An ECDSA P-256 SHA-256 signature (DER) of `data` by `key`.
fn sign(key: &KeyPair, data: &[u8]) -> Vec<u8> {
    let rng = ring::rand::SystemRandom::new();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &key.serialize_der(), &rng)
            .expect("a P-256 key");
    pair.sign(&rng, data).expect("signing").as_ref().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The sigstore payload containers/image signs for `manifest_digest` claiming
/// `docker_reference`.
pub fn payload(manifest_digest: &str, docker_reference: &str) -> Vec<u8> {
    serde_json::json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": manifest_digest},
            "type": "cosign container image signature",
        },
        "optional": null,
    })
    .to_string()
    .into_bytes()
}

/// A stored sigstore signature (`\0sigstore-json\n…`, as in `dir:` `signature-N` files)
/// of `payload` with `annotations`.
pub fn signature_blob(payload: &[u8], annotations: &BTreeMap<String, String>) -> Vec<u8> {
    let json = serde_json::json!({
        "mimeType": "application/vnd.dev.cosign.simplesigning.v1+json",
        "payload": STANDARD.encode(payload),
        "annotations": annotations,
    });
    [
        b"\x00sigstore-json\n".as_slice(),
        json.to_string().as_bytes(),
    ]
    .concat()
}

/// The annotations of a keyless signature: the base64 `signature`, the certificate, the
/// chain (the CA) and the Rekor bundle.
pub fn keyless_annotations(
    signature: &[u8],
    certificate_pem: &str,
    chain_pem: &str,
    bundle: Option<String>,
) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::from([
        (
            "dev.cosignproject.cosign/signature".to_string(),
            STANDARD.encode(signature),
        ),
        (
            "dev.sigstore.cosign/certificate".to_string(),
            certificate_pem.to_string(),
        ),
        (
            "dev.sigstore.cosign/chain".to_string(),
            chain_pem.to_string(),
        ),
    ]);
    if let Some(bundle) = bundle {
        annotations.insert("dev.sigstore.cosign/bundle".to_string(), bundle);
    }
    annotations
}
