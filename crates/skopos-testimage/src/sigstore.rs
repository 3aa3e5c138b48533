//! Keyless sigstore signatures made offline for tests: a Fulcio-like CA issuing short-lived
//! code-signing certificates with the OIDC issuer extensions, a Rekor-like log key signing
//! SETs, and the stored signature blob (`\0sigstore-json\n…`) carrying the certificate,
//! chain and bundle annotations cosign and containers/image use. Keys of the other types
//! sigstore verifies with (P-224, P-384, P-521, RSA, Ed25519) are made and used by the `openssl`
//! program ([`OpensslKey`]), an implementation independent of the one under test.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

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
    key: SigningKey,
}

/// A private key the test signs with: a P-256 key signed with by ring, or any key type
/// signed with by openssl.
enum SigningKey {
    P256(Box<KeyPair>),
    Openssl(OpensslKey),
}

impl SigningKey {
    /// A signature of `data` (ECDSA DER over its SHA-256 digest for P-256).
    fn sign(&self, data: &[u8]) -> Vec<u8> {
        match self {
            SigningKey::P256(key) => sign(key, data),
            SigningKey::Openssl(key) => key.sign(data),
        }
    }

    fn public_key_pem(&self) -> String {
        match self {
            SigningKey::P256(key) => key.public_key_pem(),
            SigningKey::Openssl(key) => key.public_pem.clone(),
        }
    }
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
        self.issue_for_key(
            email,
            issuer,
            not_before,
            not_after,
            SigningKey::P256(Box::new(key)),
        )
    }

    /// [`TestCa::issue`] for an openssl-made `key` (rcgen reads P-256, P-384, Ed25519 and
    /// RSA keys).
    pub fn issue_with_key(&self, email: &str, issuer: &str, key: OpensslKey) -> SignerCertificate {
        self.issue_for_key(
            email,
            issuer,
            (2024, 1, 1),
            (2024, 1, 2),
            SigningKey::Openssl(key),
        )
    }

    fn issue_for_key(
        &self,
        email: &str,
        issuer: &str,
        not_before: (i32, u8, u8),
        not_after: (i32, u8, u8),
        key: SigningKey,
    ) -> SignerCertificate {
        let read_key;
        let subject_key = match &key {
            SigningKey::P256(key) => key,
            SigningKey::Openssl(key) => {
                read_key = KeyPair::from_pem(&key.private_pem).expect("a private key rcgen reads");
                &read_key
            }
        };
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
            .signed_by(subject_key, &self.certificate, &self.key)
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
    key: SigningKey,
}

impl Default for RekorLog {
    fn default() -> Self {
        RekorLog {
            key: SigningKey::P256(Box::new(
                KeyPair::generate().expect("generating a Rekor key"),
            )),
        }
    }
}

impl RekorLog {
    /// A log signing with an openssl-made `key` (ECDSA signatures over SHA-256 for an
    /// ECDSA key, as Rekor makes them).
    pub fn with_key(key: OpensslKey) -> RekorLog {
        RekorLog {
            key: SigningKey::Openssl(key),
        }
    }

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
            "logID": hex(&Sha256::digest(self.key.public_key_pem())),
        });
        // serde_json sorts object members and writes no whitespace: with only ASCII keys,
        // strings and small integers that is the canonical form Rekor signs.
        let set = self.key.sign(entry.to_string().as_bytes());
        serde_json::json!({"SignedEntryTimestamp": STANDARD.encode(set), "Payload": entry})
            .to_string()
    }
}

impl SignerCertificate {
    /// The certificate's public key, PKIX PEM (to trust it as a plain sigstore key).
    pub fn public_key_pem(&self) -> String {
        self.key.public_key_pem()
    }

    /// A signature of `data` with the certificate's key, as sigstore makes it (ECDSA DER
    /// over the SHA-256 digest for ECDSA keys; see [`OpensslKey::sign`]).
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        self.key.sign(data)
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

/// A type of key sigstore signatures are verified with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// ECDSA on NIST P-224.
    P224,
    /// ECDSA on NIST P-256.
    P256,
    /// ECDSA on NIST P-384.
    P384,
    /// ECDSA on NIST P-521.
    P521,
    /// RSA with a modulus of this many bits.
    Rsa(u32),
    /// Ed25519.
    Ed25519,
}

/// A private key made by the `openssl` program, which also signs with it.
pub struct OpensslKey {
    /// Its type.
    pub key_type: KeyType,
    /// The private key, PKCS#8 PEM.
    pub private_pem: String,
    /// The public key, PKIX `PUBLIC KEY` PEM.
    pub public_pem: String,
}

impl OpensslKey {
    /// A new key of `key_type` (`openssl genpkey`).
    pub fn generate(key_type: KeyType) -> OpensslKey {
        let options: Vec<String> = match key_type {
            KeyType::P224 | KeyType::P256 | KeyType::P384 | KeyType::P521 => {
                let curve = match key_type {
                    KeyType::P224 => "P-224",
                    KeyType::P256 => "P-256",
                    KeyType::P384 => "P-384",
                    _ => "P-521",
                };
                vec![
                    "-algorithm".into(),
                    "EC".into(),
                    "-pkeyopt".into(),
                    format!("ec_paramgen_curve:{curve}"),
                    "-pkeyopt".into(),
                    "ec_param_enc:named_curve".into(),
                ]
            }
            KeyType::Rsa(bits) => vec![
                "-algorithm".into(),
                "RSA".into(),
                "-pkeyopt".into(),
                format!("rsa_keygen_bits:{bits}"),
            ],
            KeyType::Ed25519 => vec!["-algorithm".into(), "ED25519".into()],
        };
        let mut arguments = vec!["genpkey".to_string()];
        arguments.extend(options);
        let private_pem = openssl(&arguments);
        let public_pem = openssl_with_key(&private_pem, &["pkey", "-pubout", "-in"], None);
        OpensslKey {
            key_type,
            private_pem: String::from_utf8(private_pem).expect("PEM is text"),
            public_pem: String::from_utf8(public_pem).expect("PEM is text"),
        }
    }

    /// A signature of `data` as sigstore makes and containers/image verifies it: ECDSA
    /// (DER) and RSA PKCS#1 v1.5 over the SHA-256 digest, whatever the curve or size;
    /// plain Ed25519 over `data` itself.
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        let arguments: &[&str] = match self.key_type {
            KeyType::Ed25519 => &["pkeyutl", "-sign", "-rawin", "-inkey"],
            _ => &["dgst", "-sha256", "-sign"],
        };
        openssl_with_key(self.private_pem.as_bytes(), arguments, Some(data))
    }

    /// The public key as a PKCS#1 `RSA PUBLIC KEY` PEM block (RSA keys only).
    pub fn rsa_public_key_pem(&self) -> String {
        let pem = openssl_with_key(
            self.private_pem.as_bytes(),
            &["rsa", "-RSAPublicKey_out", "-in"],
            None,
        );
        String::from_utf8(pem).expect("PEM is text")
    }
}

/// What `openssl ARGUMENTS KEY_FILE` prints, given `input` in a file (after `-in`, or as
/// the last argument for `dgst`).
fn openssl_with_key(key_pem: &[u8], arguments: &[&str], input: Option<&[u8]>) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&key_file, key_pem).expect("writing the key");
    let mut all: Vec<String> = arguments.iter().map(|arg| arg.to_string()).collect();
    all.push(path_text(&key_file));
    if let Some(input) = input {
        let input_file = dir.path().join("input");
        std::fs::write(&input_file, input).expect("writing the input");
        if arguments[0] == "dgst" {
            all.push(path_text(&input_file));
        } else {
            all.extend(["-in".to_string(), path_text(&input_file)]);
        }
    }
    openssl(&all)
}

fn path_text(path: &Path) -> String {
    path.to_str().expect("a UTF-8 temporary path").to_string()
}

/// What `openssl ARGUMENTS` prints; it must succeed.
fn openssl(arguments: &[String]) -> Vec<u8> {
    let output = Command::new("openssl")
        .args(arguments)
        .output()
        .expect("running openssl");
    assert!(
        output.status.success(),
        "openssl {arguments:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}
