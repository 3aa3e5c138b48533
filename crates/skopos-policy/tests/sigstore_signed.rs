//! `sigstoreSigned` evaluated on real sigstore signatures (keys made by skopos-trust):
//! every public-key source, and the trust roots skopos does not implement failing closed.

use base64::Engine as _;
use skopos_core::ImageName;
use skopos_policy::Policy;
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
    let with_rekor = format!(
        r#"{{"type": "sigstoreSigned", "keyPath": "{}", "rekorPublicKeyPath": "/rekor.pub"}}"#,
        mine_path.display()
    );
    assert_eq!(
        verdict(&with_rekor, vec![signature.clone()]).await,
        Err(
            "Rekor SET verification in sigstoreSigned requirements is not supported by skopos yet"
                .into()
        )
    );
    let fulcio = r#"{"type": "sigstoreSigned", "fulcio": {"caPath": "/ca.pem"}, "rekorPublicKeyPath": "/rekor.pub"}"#;
    assert!(verdict(fulcio, vec![signature.clone()]).await.is_err());
    let pki = r#"{"type": "sigstoreSigned", "pki": {"caRootsPath": "/roots.pem"}}"#;
    assert_eq!(
        verdict(pki, vec![signature]).await,
        Err("fulcio and pki trust roots in sigstoreSigned requirements are not supported by skopos yet".into())
    );
}
