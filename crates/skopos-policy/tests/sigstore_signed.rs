//! `sigstoreSigned` evaluated on real sigstore signatures (keys made by skopos-trust):
//! every public-key source, Rekor SETs, and Fulcio certificates (a CA, log key and
//! signatures made by the test, checked offline).

use std::collections::BTreeMap;

use base64::Engine as _;
use skopos_core::ImageName;
use skopos_policy::Policy;
use skopos_testimage::sigstore::{self, RekorLog, SignerCertificate, TestCa};
use skopos_trust::sigstore::{generate_key_pair, SigstoreSigner};

const MANIFEST: &[u8] =
    br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;
const IMAGE: &str = "docker://example.com/app:1";

async fn verdict(requirement: &str, signatures: Vec<Vec<u8>>) -> Result<(), String> {
    let policy = Policy::from_bytes(format!(r#"{{"default": [{requirement}]}}"#).as_bytes())
        .map_err(|err| format!("{err:#}"))?;
    policy
        .check_image(&ImageName::parse(IMAGE).unwrap(), MANIFEST, || async {
            Ok(signatures)
        })
        .await
        .map_err(|err| format!("{err:#}"))
}

#[tokio::test]
async fn sigstore_signed_evaluates_real_signatures() {
    let mine = generate_key_pair(b"").unwrap();
    let other = generate_key_pair(b"").unwrap();
    let signature = SigstoreSigner::from_private_key(&mine.private_pem, b"")
        .unwrap()
        .sign_manifest(MANIFEST, "example.com/app:1")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mine_path, other_path) = (dir.path().join("mine.pub"), dir.path().join("other.pub"));
    std::fs::write(&mine_path, &mine.public_pem).unwrap();
    std::fs::write(&other_path, &other.public_pem).unwrap();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);

    for keys in [
        format!(r#""keyPath": "{}""#, mine_path.display()),
        format!(
            r#""keyPaths": ["{}", "{}"]"#,
            other_path.display(),
            mine_path.display()
        ),
        format!(r#""keyData": "{}""#, b64(&mine.public_pem)),
        format!(
            r#""keyDatas": ["{}", "{}"]"#,
            b64(&other.public_pem),
            b64(&mine.public_pem)
        ),
    ] {
        let requirement = format!(r#"{{"type": "sigstoreSigned", {keys}}}"#);
        assert_eq!(
            verdict(&requirement, vec![signature.clone()]).await,
            Ok(()),
            "{keys}"
        );
    }

    let only_other = format!(
        r#"{{"type": "sigstoreSigned", "keyPath": "{}"}}"#,
        other_path.display()
    );
    assert_eq!(
        verdict(&only_other, vec![signature.clone()]).await,
        Err("cryptographic signature verification failed: invalid signature when validating ASN.1 encoded signature".into())
    );
    assert_eq!(
        verdict(&only_other, vec![b"\xa3\x01gpg".to_vec()]).await,
        Err("A signature was required, but no signature exists (1 non-sigstore signatures, 0 sigstore non-signature attachments)".into())
    );
    // With a Rekor key, the SET is required too.
    let with_rekor = format!(
        r#"{{"type": "sigstoreSigned", "keyPath": "{}", "rekorPublicKeyData": "{}"}}"#,
        mine_path.display(),
        b64(RekorLog::default().public_key_pem().as_bytes())
    );
    assert_eq!(
        verdict(&with_rekor, vec![signature]).await,
        Err("missing dev.sigstore.cosign/bundle annotation".into())
    );
}

const EMAIL: &str = "dev@example.com";
const ISSUER: &str = "https://issuer.example.com";

/// What a keyless signature is made of; each test case varies one part.
#[derive(Clone, Copy)]
struct Keyless<'a> {
    certificate: &'a SignerCertificate,
    chain: &'a str,
    log: &'a RekorLog,
    integrated_time: i64,
    with_bundle: bool,
    /// The certificate the SET records, when not the signer's.
    recorded_certificate: Option<&'a SignerCertificate>,
}

impl Keyless<'_> {
    /// The stored signature of the test manifest.
    fn signature(&self) -> Vec<u8> {
        let payload = sigstore::payload(&manifest_digest(), "example.com/app:1");
        let signed = self.certificate.sign(&payload);
        let bundle = self.with_bundle.then(|| {
            self.log.bundle(
                &self.recorded_certificate.unwrap_or(self.certificate).pem,
                &signed,
                &payload,
                self.integrated_time,
            )
        });
        sigstore::signature_blob(
            &payload,
            &sigstore::keyless_annotations(&signed, &self.certificate.pem, self.chain, bundle),
        )
    }
}

fn manifest_digest() -> String {
    skopos_core::Digest::sha256_of(MANIFEST).to_string()
}

fn fulcio_requirement(ca: &TestCa, log: &RekorLog, email: &str, issuer: &str) -> String {
    let b64 = |text: String| base64::engine::general_purpose::STANDARD.encode(text);
    format!(
        r#"{{"type": "sigstoreSigned", "fulcio": {{"caData": "{}", "oidcIssuer": "{issuer}", "subjectEmail": "{email}"}}, "rekorPublicKeyData": "{}"}}"#,
        b64(ca.pem()),
        b64(log.public_key_pem())
    )
}

#[tokio::test]
async fn fulcio_certificates_need_a_trusted_ca_and_a_rekor_set() {
    let ca = TestCa::new("test fulcio");
    let other_ca = TestCa::new("another fulcio");
    let log = RekorLog::default();
    let other_log = RekorLog::default();
    let certificate = ca.issue(EMAIL, ISSUER);
    let (ca_pem, other_ca_pem) = (ca.pem(), other_ca.pem());
    let good = Keyless {
        certificate: &certificate,
        chain: &ca_pem,
        log: &log,
        integrated_time: sigstore::INSIDE_VALIDITY,
        with_bundle: true,
        recorded_certificate: None,
    };
    let requirement = fulcio_requirement(&ca, &log, EMAIL, ISSUER);
    assert_eq!(verdict(&requirement, vec![good.signature()]).await, Ok(()));

    let from_other_ca = other_ca.issue(EMAIL, ISSUER);
    let wrong_email = ca.issue("mallory@example.com", ISSUER);
    let wrong_issuer = ca.issue(EMAIL, "https://other.example.com");
    let rejections = [
        (
            Keyless {
                certificate: &from_other_ca,
                chain: &other_ca_pem,
                ..good
            },
            "veryfing leaf certificate failed: x509: certificate signed by unknown authority",
        ),
        (
            Keyless {
                certificate: &wrong_email,
                ..good
            },
            r#"Required email "dev@example.com" not found (got ["mallory@example.com"])"#,
        ),
        (
            Keyless {
                certificate: &wrong_issuer,
                ..good
            },
            r#"Unexpected Fulcio OIDC issuer "https://other.example.com""#,
        ),
        (
            Keyless {
                with_bundle: false,
                ..good
            },
            "missing dev.sigstore.cosign/bundle annotation",
        ),
        (
            Keyless {
                log: &other_log,
                ..good
            },
            "cryptographic signature verification of Rekor SET failed",
        ),
        (
            Keyless {
                recorded_certificate: Some(&wrong_email),
                ..good
            },
            "publicKey in Rekor SET does not match",
        ),
    ];
    for (keyless, message) in rejections {
        assert_eq!(
            verdict(&requirement, vec![keyless.signature()]).await,
            Err(message.into())
        );
    }

    // A certificate expired at the SET's time (printed in the local zone, as Go does).
    let expired = Keyless {
        integrated_time: sigstore::AFTER_VALIDITY,
        ..good
    };
    let rejection = verdict(&requirement, vec![expired.signature()])
        .await
        .unwrap_err();
    assert!(
        rejection.starts_with("veryfing leaf certificate failed: x509: certificate has expired or is not yet valid: current time 2024-01-0")
            && rejection.ends_with(" is after 2024-01-02T00:00:00Z"),
        "{rejection}"
    );
    // A SET whose entry was edited after Rekor signed it.
    let blob = good.signature();
    let tampered = String::from_utf8(blob)
        .unwrap()
        .replace(
            &format!(r#"\"integratedTime\":{}"#, sigstore::INSIDE_VALIDITY),
            &format!(r#"\"integratedTime\":{}"#, sigstore::INSIDE_VALIDITY + 1),
        )
        .into_bytes();
    assert_ne!(tampered, good.signature());
    assert_eq!(
        verdict(&requirement, vec![tampered]).await,
        Err("cryptographic signature verification of Rekor SET failed".into())
    );
    // Through an intermediate CA, which the chain annotation carries (its last
    // certificate, the root, is not trusted for being there).
    let intermediate = ca.intermediate("test fulcio intermediate");
    let issued_by_intermediate = intermediate.issue(EMAIL, ISSUER);
    let full_chain = format!("{}{}", intermediate.pem(), ca.pem());
    let intermediate_only = intermediate.pem();
    let through_intermediate = Keyless {
        certificate: &issued_by_intermediate,
        chain: &full_chain,
        ..good
    };
    assert_eq!(
        verdict(&requirement, vec![through_intermediate.signature()]).await,
        Ok(())
    );
    for chain in [ca_pem.as_str(), intermediate_only.as_str()] {
        assert_eq!(
            verdict(
                &requirement,
                vec![Keyless {
                    chain,
                    ..through_intermediate
                }
                .signature()]
            )
            .await,
            Err(
                "veryfing leaf certificate failed: x509: certificate signed by unknown authority"
                    .into()
            )
        );
    }
    // The identity rules still apply to keyless signatures.
    let other_identity = format!(
        r#"{}, "signedIdentity": {{"type": "exactReference", "dockerReference": "example.com/app:2"}}}}"#,
        requirement.trim_end_matches('}')
    );
    assert_eq!(
        verdict(&other_identity, vec![good.signature()]).await,
        Err(r#"Signature for identity "example.com/app:1" is not accepted"#.into())
    );
}

#[tokio::test]
async fn public_keys_with_rekor_need_a_set_recording_the_key() {
    let ca = TestCa::new("unused");
    let log = RekorLog::default();
    // A certificate's key, used as a plain public key.
    let signer = ca.issue(EMAIL, ISSUER);
    let public_key = signer.public_key_pem();
    let payload = sigstore::payload(&manifest_digest(), "example.com/app:1");
    let signed = signer.sign(&payload);
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let requirement = format!(
        r#"{{"type": "sigstoreSigned", "keyData": "{}", "rekorPublicKeyData": "{}"}}"#,
        b64(&public_key),
        b64(&log.public_key_pem())
    );
    let with_bundle = |bundle: String| {
        let mut annotations = BTreeMap::from([(
            "dev.cosignproject.cosign/signature".to_string(),
            base64::engine::general_purpose::STANDARD.encode(&signed),
        )]);
        annotations.insert("dev.sigstore.cosign/bundle".into(), bundle);
        sigstore::signature_blob(&payload, &annotations)
    };
    let recorded = log.bundle(&public_key, &signed, &payload, sigstore::INSIDE_VALIDITY);
    assert_eq!(
        verdict(&requirement, vec![with_bundle(recorded)]).await,
        Ok(())
    );
    let for_certificate = log.bundle(&signer.pem, &signed, &payload, sigstore::INSIDE_VALIDITY);
    assert_eq!(
        verdict(&requirement, vec![with_bundle(for_certificate)]).await,
        Err(
            "No public key verified against the RekorSET: publicKey in Rekor SET does not match"
                .into()
        )
    );
    let by_other_log =
        RekorLog::default().bundle(&public_key, &signed, &payload, sigstore::INSIDE_VALIDITY);
    assert_eq!(
        verdict(&requirement, vec![with_bundle(by_other_log)]).await,
        Err("No public key verified against the RekorSET: cryptographic signature verification of Rekor SET failed".into())
    );
}

#[tokio::test]
async fn pki_certificates_chain_to_the_roots_and_name_the_subject() {
    let root = TestCa::new("test pki root");
    let other_root = TestCa::new("another pki root");
    let payload = sigstore::payload(&manifest_digest(), "example.com/app:1");
    // PKI certificates are checked now, not at a Rekor time.
    let current =
        |ca: &TestCa, email: &str| ca.issue_valid(email, ISSUER, (2020, 1, 1), (2040, 1, 1));
    let signature_by = |certificate: &SignerCertificate, chain: &str| {
        let signed = certificate.sign(&payload);
        sigstore::signature_blob(
            &payload,
            &sigstore::keyless_annotations(&signed, &certificate.pem, chain, None),
        )
    };
    let b64 = |text: String| base64::engine::general_purpose::STANDARD.encode(text);
    let requirement = |subject: &str| {
        format!(
            r#"{{"type": "sigstoreSigned", "pki": {{"caRootsData": "{}", {subject}}}}}"#,
            b64(root.pem())
        )
    };
    let by_email = requirement(&format!(r#""subjectEmail": "{EMAIL}""#));
    let good = signature_by(&current(&root, EMAIL), &root.pem());
    assert_eq!(verdict(&by_email, vec![good.clone()]).await, Ok(()));
    assert_eq!(
        verdict(
            &by_email,
            vec![signature_by(
                &current(&other_root, EMAIL),
                &other_root.pem()
            )]
        )
        .await,
        Err(
            "veryfing leaf certificate failed: x509: certificate signed by unknown authority"
                .into()
        )
    );
    assert_eq!(
        verdict(
            &by_email,
            vec![signature_by(
                &current(&root, "mallory@example.com"),
                &root.pem()
            )]
        )
        .await,
        Err(r#"Required email "dev@example.com" not found (got ["mallory@example.com"])"#.into())
    );
    // Valid only in 2024.
    assert_eq!(
        verdict(
            &by_email,
            vec![signature_by(&root.issue(EMAIL, ISSUER), &root.pem())]
        )
        .await
        .map_err(|err| err
            .split(": current time")
            .next()
            .unwrap_or_default()
            .to_string()),
        Err(
            "veryfing leaf certificate failed: x509: certificate has expired or is not yet valid"
                .into()
        )
    );
    let by_host = requirement(r#""subjectHostname": "registry.example.com""#);
    assert_eq!(
        verdict(&by_host, vec![good]).await,
        Err("Unexpected subject hostname: x509: certificate is not valid for any names, but wanted to match registry.example.com".into())
    );
}
