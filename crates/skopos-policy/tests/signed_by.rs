//! `signedBy` evaluated on real GPG signatures (keys and signatures made by `gpg` in a
//! private GNUPGHOME): every key source, several signatures, and each rejection with
//! containers/image's message.

use std::process::Command;

use base64::Engine as _;
use skopos_core::{Digest, ImageName};
use skopos_policy::Policy;
use skopos_trust::{sign_manifest, GpgSigner};

const MANIFEST: &[u8] =
    br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;

fn gpg(args: &[&str]) -> Vec<u8> {
    let output = Command::new("gpg")
        .args(["--batch", "--no-tty"])
        .args(args)
        .output()
        .expect("running gpg");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn make_key(email: &str) -> String {
    gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        email,
        "default",
        "default",
        "never",
    ]);
    String::from_utf8(gpg(&["--with-colons", "--list-keys", email]))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("fpr:"))
        .map(|rest| rest.trim_matches(':').to_string())
        .unwrap()
}

async fn verdict(
    policy: &str,
    image: &str,
    manifest: &[u8],
    signatures: Vec<Vec<u8>>,
) -> Result<(), String> {
    let policy = Policy::from_bytes(policy.as_bytes()).map_err(|err| format!("{err:#}"))?;
    let name = ImageName::parse(image).unwrap();
    policy
        .check_image(&name, manifest, || async { Ok(signatures) })
        .await
        .map_err(|err| format!("{err:#}"))
}

/// A policy, an image, its manifest, its signatures and the expected rejection.
type Case<'a> = (String, &'a str, &'a [u8], Vec<Vec<u8>>, String);

fn signed_by(keys: &str, identity: &str) -> String {
    format!(
        r#"{{"default": [{{"type": "signedBy", "keyType": "GPGKeys", {keys}, "signedIdentity": {identity}}}]}}"#
    )
}

// One test: GNUPGHOME is process-wide.
#[tokio::test]
async fn signed_by_evaluates_real_signatures() {
    let home = tempfile::tempdir().unwrap();
    std::env::set_var("GNUPGHOME", home.path());
    let alice = make_key("alice@example.com");
    let bob = make_key("bob@example.com");
    let files = tempfile::tempdir().unwrap();
    let alice_key = files.path().join("alice.gpg");
    let bob_key = files.path().join("bob.gpg");
    std::fs::write(&alice_key, gpg(&["--export", &alice])).unwrap();
    std::fs::write(&bob_key, gpg(&["--export", "--armor", &bob])).unwrap();
    let empty_key = files.path().join("empty.gpg");
    std::fs::write(&empty_key, b"").unwrap();

    let sign = |key: &str, identity: &str| {
        sign_manifest(MANIFEST, identity, &GpgSigner::new(key, None).unwrap()).unwrap()
    };
    let by_alice = sign(&alice, "example.com/app:1");
    let by_bob = sign(&bob, "example.com/app:1");
    let exact = r#"{"type": "matchExact"}"#;
    let image = "docker://example.com/app:1";
    let alice_path = format!(r#""keyPath": "{}""#, alice_key.display());
    let both_paths = format!(
        r#""keyPaths": ["{}", "{}"]"#,
        alice_key.display(),
        bob_key.display()
    );
    let bob_data = format!(
        r#""keyData": "{}""#,
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(&bob_key).unwrap())
    );

    // Every key source accepts a signature by one of its keys (binary and armored keys).
    assert_eq!(
        verdict(
            &signed_by(&alice_path, exact),
            image,
            MANIFEST,
            vec![by_alice.clone()]
        )
        .await,
        Ok(())
    );
    assert_eq!(
        verdict(
            &signed_by(&both_paths, exact),
            image,
            MANIFEST,
            vec![by_bob.clone()]
        )
        .await,
        Ok(())
    );
    assert_eq!(
        verdict(
            &signed_by(&bob_data, exact),
            image,
            MANIFEST,
            vec![by_bob.clone()]
        )
        .await,
        Ok(())
    );
    // One accepted signature among rejected ones is enough.
    assert_eq!(
        verdict(
            &signed_by(&alice_path, exact),
            image,
            MANIFEST,
            vec![by_bob.clone(), by_alice.clone()]
        )
        .await,
        Ok(())
    );

    let bob_id = u64::from_str_radix(&bob[bob.len() - 16..], 16).unwrap();
    let digest = Digest::sha256_of(MANIFEST);
    let cases: Vec<Case> = vec![
        (
            signed_by(&alice_path, exact),
            image,
            MANIFEST,
            vec![],
            "A signature was required, but no signature exists".into(),
        ),
        // Sigstore signatures are not simple signatures: signedBy does not see them.
        (
            signed_by(&alice_path, exact),
            image,
            MANIFEST,
            vec![b"\x00sigstore-json\n{}".to_vec()],
            "A signature was required, but no signature exists".into(),
        ),
        (
            signed_by(&alice_path, exact),
            image,
            MANIFEST,
            vec![by_bob.clone()],
            format!("Key not found for key ID {bob_id:x} in signature"),
        ),
        (
            signed_by(&alice_path, exact),
            "docker://example.com/app:2",
            MANIFEST,
            vec![by_alice.clone()],
            "Signature for identity \"example.com/app:1\" is not accepted".into(),
        ),
        (
            signed_by(&alice_path, exact),
            image,
            b"{}",
            vec![by_alice.clone()],
            format!("Signature for digest {digest} does not match"),
        ),
        (
            signed_by(&alice_path, exact),
            image,
            MANIFEST,
            vec![by_bob.clone(), by_alice[..by_alice.len() / 2].to_vec()],
            format!("None of the signatures were accepted, reasons: Key not found for key ID {bob_id:x} in signature; "),
        ),
        (
            signed_by(&format!(r#""keyPath": "{}""#, empty_key.display()), exact),
            image,
            MANIFEST,
            vec![by_alice.clone()],
            "No public keys imported".into(),
        ),
        (
            signed_by(r#""keyPath": "/nonexistent/key.gpg""#, exact),
            image,
            MANIFEST,
            vec![by_alice.clone()],
            "open /nonexistent/key.gpg: no such file or directory".into(),
        ),
        (
            signed_by(&alice_path, exact).replace("GPGKeys", "X509Certificates"),
            image,
            MANIFEST,
            vec![by_alice.clone()],
            "Unimplemented \"keyType\" value \"X509Certificates\"".into(),
        ),
        // dir: images have no Docker reference: only the exact* rules can match them.
        (
            signed_by(&alice_path, exact),
            "dir:/tmp/some-image",
            MANIFEST,
            vec![by_alice.clone()],
            "Signature for identity \"example.com/app:1\" is not accepted".into(),
        ),
    ];
    for (policy, image, manifest, signatures, expected) in cases {
        let result = verdict(&policy, image, manifest, signatures).await;
        match result {
            Err(message) if message.starts_with(&expected) => {}
            other => panic!("{image}: expected {expected:?}, got {other:?} for {policy}"),
        }
    }
    let exact_reference = r#"{"type": "exactReference", "dockerReference": "example.com/app:1"}"#;
    assert_eq!(
        verdict(
            &signed_by(&alice_path, exact_reference),
            "dir:/tmp/some-image",
            MANIFEST,
            vec![by_alice]
        )
        .await,
        Ok(())
    );
    let _ = Command::new("gpgconf")
        .args(["--kill", "gpg-agent"])
        .status();
}
