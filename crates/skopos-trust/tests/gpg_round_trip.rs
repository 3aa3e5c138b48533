//! Signing with the real `gpg` program and verifying with rPGP, with keys made here in a
//! private GNUPGHOME: one without and one with a passphrase.

use std::process::Command;

use skopos_core::{Digest, Secret};
use skopos_trust::standalone::{verify_image_manifest_signature, UntrustedSignatureInformation};
use skopos_trust::{
    gpg, openpgp, sign_manifest, verify_simple_signature, AcceptanceRules, GpgSigner, Keyring,
};

/// Make a key for `email` (protected by `passphrase`, or not) and return its fingerprint.
fn make_key(email: &str, passphrase: &str) -> String {
    let status = Command::new("gpg")
        .args([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            passphrase,
        ])
        .args(["--quick-gen-key", email, "default", "default", "never"])
        .output()
        .expect("running gpg");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let listing = Command::new("gpg")
        .args(["--batch", "--with-colons", "--list-keys", email])
        .output()
        .expect("running gpg");
    String::from_utf8(listing.stdout)
        .unwrap()
        .lines()
        .find_map(|line| {
            line.strip_prefix("fpr:")
                .map(|rest| rest.trim_matches(':').to_string())
        })
        .expect("a fingerprint")
}

fn accept_all<'a>(keys: &'a [String]) -> AcceptanceRules<'a> {
    AcceptanceRules {
        accepted_keys: keys,
        check_reference: &|_| Ok(()),
        check_digest: &|_| Ok(()),
    }
}

// One test function: GNUPGHOME is process-wide.
#[test]
fn gpg_signatures_verify_with_rpgp() {
    let home = tempfile::tempdir().unwrap();
    std::env::set_var("GNUPGHOME", home.path());
    let alice = make_key("alice@example.com", "");
    let bob = make_key("bob@example.com", "bob's secret");
    let manifest = br#"{"schemaVersion":2}"#;

    let signature = sign_manifest(
        manifest,
        "example.com/a:t",
        &GpgSigner::new(&alice, None).unwrap(),
    )
    .unwrap();
    let (keyring, fingerprints) = Keyring::import(&[gpg::export_public_keys().unwrap()]).unwrap();
    assert_eq!(fingerprints, vec![alice.clone(), bob.clone()]);
    let verified =
        verify_simple_signature(&keyring, &signature, &accept_all(&fingerprints)).unwrap();
    assert_eq!(verified.key_fingerprint, alice);
    assert_eq!(verified.docker_reference, "example.com/a:t");
    assert_eq!(verified.manifest_digest, Digest::sha256_of(manifest));
    let (_, short_id) = openpgp::untrusted_contents(&signature).unwrap();
    assert_eq!(short_id, alice[alice.len() - 16..]);

    // standalone-verify's check: the reference and the manifest must be the signed ones.
    let verified = verify_image_manifest_signature(
        &keyring,
        &signature,
        manifest,
        "example.com/a:t",
        &fingerprints,
    )
    .unwrap();
    assert_eq!(verified.key_fingerprint, alice);
    let err = verify_image_manifest_signature(
        &keyring,
        &signature,
        manifest,
        "example.com/other:t",
        &fingerprints,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Docker reference \"example.com/a:t\" does not match \"example.com/other:t\""
    );
    let err = verify_image_manifest_signature(
        &keyring,
        &signature,
        br#"{"schemaVersion":2,"other":1}"#,
        "example.com/a:t",
        &fingerprints,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Signature for docker digest \"{}\" does not match",
            Digest::sha256_of(manifest)
        )
    );
    // What it claims, unverified.
    let claims = UntrustedSignatureInformation::decode(&signature).unwrap();
    assert_eq!(
        claims.untrusted_docker_manifest_digest,
        Digest::sha256_of(manifest).to_string()
    );
    assert_eq!(claims.untrusted_docker_reference, "example.com/a:t");
    assert_eq!(claims.untrusted_short_key_identifier, short_id);
    assert!(UntrustedSignatureInformation::decode(b"not a signature").is_err());

    // A key the rules do not accept.
    let err = verify_simple_signature(
        &keyring,
        &signature,
        &accept_all(std::slice::from_ref(&bob)),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("signature by key {alice} is not accepted")
    );

    // Passphrase-protected key: a wrong passphrase (with no passphrase cached by the
    // agent), then the right one.
    stop_agent();
    let wrong = GpgSigner::new(&bob, Some(Secret::new("not it"))).unwrap();
    let err = sign_manifest(manifest, "example.com/b:t", &wrong).unwrap_err();
    assert!(err.to_string().contains("Bad passphrase"), "{err}");
    assert!(!err.to_string().contains("not it"));
    let with_passphrase = GpgSigner::new(&bob, Some(Secret::new("bob's secret"))).unwrap();
    let signature = sign_manifest(manifest, "example.com/b:t", &with_passphrase).unwrap();
    let verified =
        verify_simple_signature(&keyring, &signature, &accept_all(&fingerprints)).unwrap();
    assert_eq!(verified.key_fingerprint, bob);

    // Only Alice's key in the keyring: Bob's signature names a key it lacks.
    let alice_only = Command::new("gpg")
        .args(["--batch", "--export", &alice])
        .output()
        .unwrap()
        .stdout;
    let (keyring, _) = Keyring::import(&[alice_only]).unwrap();
    let err =
        verify_simple_signature(&keyring, &signature, &accept_all(&fingerprints)).unwrap_err();
    let bob_id = u64::from_str_radix(&bob[bob.len() - 16..], 16).unwrap();
    assert_eq!(
        err.to_string(),
        format!("Key not found for key ID {bob_id:x} in signature")
    );

    // A flipped byte inside the signed message fails verification or parsing.
    let (keyring, _) = Keyring::import(&[gpg::export_public_keys().unwrap()]).unwrap();
    let mut tampered = signature.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x55;
    assert!(verify_simple_signature(&keyring, &tampered, &accept_all(&fingerprints)).is_err());

    // A revoked key: its signatures no longer verify.
    let carol = make_key("carol@example.com", "");
    let by_carol = sign_manifest(
        manifest,
        "example.com/c:t",
        &GpgSigner::new(&carol, None).unwrap(),
    )
    .unwrap();
    let revocation = std::fs::read_to_string(
        home.path()
            .join("openpgp-revocs.d")
            .join(format!("{carol}.rev")),
    )
    .unwrap();
    // gpg guards the stored certificate against accidental import with a leading ':'.
    let revocation = revocation.replace(":-----BEGIN", "-----BEGIN");
    let imported = Command::new("gpg")
        .args(["--batch", "--import"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(revocation.as_bytes())?;
            child.wait()
        })
        .unwrap();
    assert!(imported.success());
    let carol_key = Command::new("gpg")
        .args(["--batch", "--export", &carol])
        .output()
        .unwrap()
        .stdout;
    let (keyring, trusted) = Keyring::import(&[carol_key]).unwrap();
    let err = verify_simple_signature(&keyring, &by_carol, &accept_all(&trusted)).unwrap_err();
    assert_eq!(err.to_string(), format!("key {carol} has been revoked"));

    // An expired key (made and used in 2020, valid for a day).
    let faked = ["--faked-system-time", "20200101T120000!"];
    let made = Command::new("gpg")
        .args(["--batch", "--passphrase", ""])
        .args(faked)
        .args([
            "--quick-gen-key",
            "dave@example.com",
            "default",
            "default",
            "1d",
        ])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let payload = skopos_trust::UntrustedPayload::new(
        skopos_core::Digest::sha256_of(manifest),
        "example.com/d:t".to_string(),
    )
    .to_json()
    .unwrap();
    let payload_file = home.path().join("payload");
    std::fs::write(&payload_file, payload).unwrap();
    let by_dave = Command::new("gpg")
        .args(["--batch"])
        .args(faked)
        .args([
            "--local-user",
            "dave@example.com",
            "--sign",
            "--output",
            "-",
        ])
        .arg(&payload_file)
        .output()
        .unwrap();
    assert!(
        by_dave.status.success(),
        "{}",
        String::from_utf8_lossy(&by_dave.stderr)
    );
    let dave_key = Command::new("gpg")
        .args(["--batch", "--export", "dave@example.com"])
        .output()
        .unwrap()
        .stdout;
    let (keyring, trusted) = Keyring::import(&[dave_key]).unwrap();
    let err =
        verify_simple_signature(&keyring, &by_dave.stdout, &accept_all(&trusted)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "key {} expired on 2020-01-02 12:00:00 +0000 UTC",
            trusted[0]
        )
    );

    // Passphrases with line breaks are refused before gpg runs.
    let err = GpgSigner::new(&bob, Some(Secret::new("a\nb"))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid passphrase: must not contain a line break"
    );
    stop_agent();
}

/// gpg starts an agent for the home; stop it so that it forgets cached passphrases and
/// does not outlive the test.
fn stop_agent() {
    let _ = Command::new("gpgconf")
        .args(["--kill", "gpg-agent"])
        .status();
}
