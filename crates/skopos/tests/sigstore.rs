//! Sigstore signing with keys: `generate-sigstore-key`, `copy
//! --sign-by-sigstore-private-key` into `dir:`, `sigstoreSigned` policies with public keys,
//! and interop with skopeo 1.22.2 (`$SKOPEO_1_22`; Debian's 1.9.3 has no sigstore support):
//! keys made by either tool sign in the other, and signatures made by either are accepted
//! by the other's policy. Keyless (Fulcio and Rekor) signatures are made by the tests'
//! own CA and log key, and verified offline. Keys of every other type containers/image
//! accepts (ECDSA P-224, P-384 and P-521, RSA, Ed25519) are made and used by openssl.

mod common;

use std::path::PathBuf;

use common::{assert_one_line_failure, read, skopeo_message, Outcome, Workspace};
use skopos_testimage::registry::{RegistryOptions, TestRegistry};
use skopos_testimage::sigstore::{self, KeyType, OpensslKey, RekorLog, SignerCertificate, TestCa};

const PASSPHRASE: &str = "sigstore key passphrase";
const IDENTITY: &str = "example.com/sigstore/app:1";

fn skopeo_1_22(what: &str) -> Option<PathBuf> {
    match std::env::var_os("SKOPEO_1_22").filter(|path| !path.is_empty()) {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            eprintln!("SKIPPED: {what} against skopeo 1.22.2 (set SKOPEO_1_22)");
            None
        }
    }
}

/// A `sigstoreSigned` policy for `dir:` images trusting the public key `key_file`.
fn policy(workspace: &Workspace, name: &str, key_file: &str, identity: &str) -> String {
    let path = workspace.path(name);
    std::fs::write(
        &path,
        format!(
            r#"{{"default": [{{"type": "reject"}}], "transports": {{"dir": {{"": [{{"type": "sigstoreSigned", "keyPath": "{}", "signedIdentity": {{"type": "exactReference", "dockerReference": "{identity}"}}}}]}}}}}}"#,
            workspace.path(key_file).display()
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

fn generate(workspace: &Workspace, prefix: &str) -> Outcome {
    workspace.skopos(&[
        "generate-sigstore-key",
        "--output-prefix",
        prefix,
        "--passphrase-file",
        "passphrase",
    ])
}

/// `copy --sign-by-sigstore-private-key KEY` of the test image into `dir:DESTINATION`.
fn sign_args<'a>(key: &'a str, destination: &'a str) -> Vec<&'a str> {
    vec![
        "--insecure-policy",
        "copy",
        "-q",
        "--sign-by-sigstore-private-key",
        key,
        "--sign-passphrase-file",
        "passphrase",
        "--sign-identity",
        IDENTITY,
        "oci:src:t",
        destination,
    ]
}

fn assert_rejected(outcome: &Outcome, message: &str) {
    assert_one_line_failure(outcome, Some(1));
    assert_eq!(
        skopeo_message(&outcome.stderr),
        format!("Source image rejected: {message}")
    );
}

#[test]
fn generate_sigstore_key_writes_a_key_pair_once() {
    let workspace = Workspace::new();
    std::fs::write(workspace.path("passphrase"), format!("{PASSPHRASE}\n")).unwrap();
    let made = generate(&workspace, "mine");
    made.assert_success();
    assert_eq!(
        made.stdout,
        "Key written to \"mine.private\" and \"mine.pub\"\n"
    );
    let mode = |name: &str| {
        let metadata = std::fs::metadata(workspace.path(name)).unwrap();
        std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o777
    };
    assert_eq!((mode("mine.private"), mode("mine.pub")), (0o600, 0o644));
    let private = String::from_utf8(read(&workspace.path("mine.private"))).unwrap();
    assert!(private.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n"));
    assert!(!private.contains(PASSPHRASE));

    let again = generate(&workspace, "mine");
    assert_one_line_failure(&again, Some(1));
    assert_eq!(
        skopeo_message(&again.stderr),
        "Refusing to overwrite existing \"mine.pub\""
    );
    assert_eq!(read(&workspace.path("mine.private")), private.as_bytes());

    // Without a passphrase file, the passphrase is asked on a terminal only.
    let no_tty = workspace.skopos(&["generate-sigstore-key", "--output-prefix", "other"]);
    assert_one_line_failure(&no_tty, Some(1));
    assert_eq!(
        skopeo_message(&no_tty.stderr),
        "Cannot prompt for a passphrase for key other.private, standard input is not a TTY"
    );
    assert!(!workspace.path("other.pub").exists());
    let usage = workspace.skopos(&["generate-sigstore-key"]);
    assert_eq!(
        skopeo_message(&usage.stderr),
        "Usage: generate-sigstore-key --output-prefix PREFIX"
    );

    if let Some(peer) = skopeo_1_22("generate-sigstore-key refusals") {
        let theirs = workspace.skopeo_at_with_env(
            &peer,
            &[],
            &[
                "generate-sigstore-key",
                "--output-prefix",
                "mine",
                "--passphrase-file",
                "passphrase",
            ],
        );
        assert_eq!(
            skopeo_message(&theirs.stderr),
            skopeo_message(&again.stderr)
        );
    }
}

#[test]
fn sigstore_signatures_are_made_and_verified() {
    let workspace = Workspace::new();
    std::fs::write(workspace.path("passphrase"), format!("{PASSPHRASE}\n")).unwrap();
    workspace.image("src", "t", 96);
    generate(&workspace, "mine").assert_success();
    generate(&workspace, "other").assert_success();

    let signed = workspace.skopos(&sign_args("mine.private", "dir:signed"));
    signed.assert_success();
    let blob = read(&workspace.path("signed/signature-1"));
    assert!(blob.starts_with(b"\x00sigstore-json\n"));

    let trusting_mine = policy(&workspace, "mine.json", "mine.pub", IDENTITY);
    workspace
        .skopos(&[
            "--policy",
            &trusting_mine,
            "copy",
            "-q",
            "dir:signed",
            "dir:accepted",
        ])
        .assert_success();
    assert_eq!(read(&workspace.path("accepted/signature-1")), blob);

    let trusting_other = policy(&workspace, "other.json", "other.pub", IDENTITY);
    assert_rejected(
        &workspace.skopos(&["--policy", &trusting_other, "copy", "dir:signed", "dir:never"]),
        "cryptographic signature verification failed: invalid signature when validating ASN.1 encoded signature",
    );
    let other_identity = policy(
        &workspace,
        "identity.json",
        "mine.pub",
        "example.com/sigstore/app:2",
    );
    assert_rejected(
        &workspace.skopos(&[
            "--policy",
            &other_identity,
            "copy",
            "dir:signed",
            "dir:never",
        ]),
        &format!("Signature for identity \"{IDENTITY}\" is not accepted"),
    );
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "oci:src:t",
            "dir:unsigned",
        ])
        .assert_success();
    assert_rejected(
        &workspace.skopos(&[
            "--policy",
            &trusting_mine,
            "copy",
            "dir:unsigned",
            "dir:never",
        ]),
        "A signature was required, but no signature exists",
    );
    assert!(!workspace.path("never").exists());

    // A wrong passphrase cannot open the key, and is not shown.
    std::fs::write(workspace.path("wrong"), "wrong passphrase\n").unwrap();
    let wrong = workspace.skopos(&[
        "--debug",
        "--insecure-policy",
        "copy",
        "--sign-by-sigstore-private-key",
        "mine.private",
        "--sign-passphrase-file",
        "wrong",
        "--sign-identity",
        IDENTITY,
        "oci:src:t",
        "dir:wrong",
    ]);
    assert_eq!(wrong.code, Some(1));
    assert!(
        wrong
            .stderr
            .contains("initializing private key: decrypt: encrypted: decryption failed"),
        "{}",
        wrong.stderr
    );
    // No passphrase or key material in any output, at --debug.
    let debug = workspace.skopos(&{
        let mut args = vec!["--debug"];
        args.extend(sign_args("mine.private", "dir:debug"));
        args
    });
    debug.assert_success();
    let private = String::from_utf8(read(&workspace.path("mine.private"))).unwrap();
    for run in [&wrong, &debug] {
        let output = format!("{}{}", run.stdout, run.stderr);
        assert!(output.contains("level=debug"));
        assert!(!output.contains(PASSPHRASE) && !output.contains("wrong passphrase"));
        for line in private.lines().filter(|line| !line.starts_with("-----")) {
            assert!(!output.contains(line), "key material in {}", run.command);
        }
    }

    let Some(peer) = skopeo_1_22("sigstore interop") else {
        return;
    };
    let skopeo = |args: &[&str]| workspace.skopeo_at_with_env(&peer, &[], args);
    // skopeo 1.22 accepts what skopos signed, and refuses it under another key as skopos does.
    skopeo(&[
        "--policy",
        &trusting_mine,
        "copy",
        "-q",
        "dir:signed",
        "dir:skopeo-accepted",
    ])
    .assert_success();
    let refused = skopeo(&[
        "--policy",
        &trusting_other,
        "copy",
        "dir:signed",
        "dir:never2",
    ]);
    let ours = workspace.skopos(&[
        "--policy",
        &trusting_other,
        "copy",
        "dir:signed",
        "dir:never",
    ]);
    assert_eq!(
        skopeo_message(&refused.stderr),
        skopeo_message(&ours.stderr)
    );
    // skopeo signs with a key skopos made; skopos accepts the signature.
    skopeo(&sign_args("mine.private", "dir:by-skopeo")).assert_success();
    workspace
        .skopos(&[
            "--policy",
            &trusting_mine,
            "copy",
            "-q",
            "dir:by-skopeo",
            "dir:ours",
        ])
        .assert_success();
    // skopos signs with a key skopeo made; skopeo accepts the signature.
    skopeo(&[
        "generate-sigstore-key",
        "--output-prefix",
        "theirs",
        "--passphrase-file",
        "passphrase",
    ])
    .assert_success();
    workspace
        .skopos(&sign_args("theirs.private", "dir:with-their-key"))
        .assert_success();
    let trusting_theirs = policy(&workspace, "theirs.json", "theirs.pub", IDENTITY);
    skopeo(&[
        "--policy",
        &trusting_theirs,
        "copy",
        "-q",
        "dir:with-their-key",
        "dir:theirs-accepted",
    ])
    .assert_success();
}

/// A `sigstoreSigned` policy for `docker:` images trusting `key_file` (default identity).
fn docker_policy(workspace: &Workspace, name: &str, key_file: &str) -> String {
    let path = workspace.path(name);
    std::fs::write(
        &path,
        format!(
            r#"{{"default": [{{"type": "reject"}}], "transports": {{"docker": {{"": [{{"type": "sigstoreSigned", "keyPath": "{}"}}]}}}}}}"#,
            workspace.path(key_file).display()
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn sigstore_signatures_are_registry_attachments() {
    let workspace = Workspace::new();
    std::fs::write(workspace.path("passphrase"), format!("{PASSPHRASE}\n")).unwrap();
    workspace.image("src", "t", 97);
    generate(&workspace, "mine").assert_success();
    let registry = TestRegistry::start(RegistryOptions::default());
    let host = &registry.host;
    let config = workspace.path("registries.d");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(
        config.join("attachments.yaml"),
        format!(
            "default-docker:\n  lookaside: file://{}\n  use-sigstore-attachments: true\n",
            workspace.path("lookaside").display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let push = |key: &str, repository: &str| -> Vec<String> {
        [
            "--insecure-policy",
            "--registries.d",
            config,
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--sign-by-sigstore-private-key",
            key,
            "--sign-passphrase-file",
            "passphrase",
            "oci:src:t",
            &format!("docker://{host}/{repository}:1"),
        ]
        .iter()
        .map(|arg| arg.to_string())
        .collect()
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        workspace.skopos(&args)
    };
    run(push("mine.private", "by-skopos/app")).assert_success();
    let trusting_mine = docker_policy(&workspace, "mine.json", "mine.pub");
    let pull = |policy: &str, repository: &str, destination: &str| -> Vec<String> {
        vec![
            "--policy".to_string(),
            policy.to_string(),
            "--registries.d".to_string(),
            config.to_string(),
            "copy".to_string(),
            "-q".to_string(),
            "--src-tls-verify=false".to_string(),
            format!("docker://{host}/{repository}:1"),
            format!("dir:{destination}"),
        ]
    };
    run(pull(&trusting_mine, "by-skopos/app", "pulled")).assert_success();
    let blob = read(&workspace.path("pulled/signature-1"));
    assert!(blob.starts_with(b"\x00sigstore-json\n"));
    assert!(!workspace.path("pulled/signature-2").exists());
    // The signature is an attachment, not a lookaside file.
    assert!(!workspace.path("lookaside").exists());

    generate(&workspace, "other").assert_success();
    let trusting_other = docker_policy(&workspace, "other.json", "other.pub");
    let rejected = run(pull(&trusting_other, "by-skopos/app", "never"));
    assert_one_line_failure(&rejected, Some(1));
    assert!(skopeo_message(&rejected.stderr).starts_with("Source image rejected: "));
    assert!(!workspace.path("never").exists());

    let Some(peer) = skopeo_1_22("sigstore attachments interop") else {
        return;
    };
    let skopeo = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        workspace.skopeo_at_with_env(&peer, &[], &args)
    };
    skopeo(pull(&trusting_mine, "by-skopos/app", "skopeo-pulled")).assert_success();
    skopeo(push("mine.private", "by-skopeo/app")).assert_success();
    run(pull(&trusting_mine, "by-skopeo/app", "skopos-pulled")).assert_success();
}

/// One way to sign the test image without a key: which certificate signs, which log
/// vouches for it and when.
struct KeylessCase<'a> {
    /// The repository it is pushed to, and the case's name.
    repository: &'a str,
    certificate: &'a SignerCertificate,
    chain: &'a str,
    log: &'a RekorLog,
    integrated_time: i64,
    with_bundle: bool,
    /// Edits the stored signature after signing (a tampered SET).
    tamper: fn(Vec<u8>) -> Vec<u8>,
    /// `None` when accepted, else skopeo's rejection.
    rejection: Option<&'a str>,
}

const SIGNER_EMAIL: &str = "dev@example.com";
/// A time zone without daylight saving time, nine hours from UTC.
const ZONE: &str = "Asia/Tokyo";
const OIDC_ISSUER: &str = "https://issuer.example.com";

/// Keyless (Fulcio) signatures stored as registry attachments are verified offline: the
/// certificate against the policy's CA at the Rekor SET's time, the SET against the
/// policy's Rekor key. Every rejection leaves nothing behind, and skopeo 1.22.2 gives the
/// same verdicts and messages on the same images and policy.
#[test]
fn fulcio_signatures_in_a_registry_are_verified_offline() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 98);
    workspace
        .skopos(&["--insecure-policy", "copy", "-q", "oci:src:t", "dir:plain"])
        .assert_success();
    let digest = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(read(
            &workspace.path("plain/manifest.json")
        )))
    );
    let registry = TestRegistry::start(RegistryOptions::default());
    let host = &registry.host;
    let config = workspace.path("registries.d");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(
        config.join("attachments.yaml"),
        "default-docker:\n  use-sigstore-attachments: true\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();

    let ca = TestCa::new("test fulcio");
    let other_ca = TestCa::new("another fulcio");
    let (log, other_log) = (RekorLog::default(), RekorLog::default());
    let (ca_pem, other_ca_pem) = (ca.pem(), other_ca.pem());
    std::fs::write(workspace.path("fulcio.pem"), &ca_pem).unwrap();
    std::fs::write(workspace.path("rekor.pub"), log.public_key_pem()).unwrap();
    let policy = workspace.path("fulcio.json");
    std::fs::write(
        &policy,
        format!(
            r#"{{"default": [{{"type": "reject"}}], "transports": {{"docker": {{"": [{{"type": "sigstoreSigned", "fulcio": {{"caPath": "{}", "oidcIssuer": "{OIDC_ISSUER}", "subjectEmail": "{SIGNER_EMAIL}"}}, "rekorPublicKeyPath": "{}"}}]}}}}}}"#,
            workspace.path("fulcio.pem").display(),
            workspace.path("rekor.pub").display()
        ),
    )
    .unwrap();
    let policy = policy.to_str().unwrap();

    let certificate = ca.issue(SIGNER_EMAIL, OIDC_ISSUER);
    let from_other_ca = other_ca.issue(SIGNER_EMAIL, OIDC_ISSUER);
    let wrong_email = ca.issue("mallory@example.com", OIDC_ISSUER);
    let wrong_issuer = ca.issue(SIGNER_EMAIL, "https://other.example.com");
    let unchanged: fn(Vec<u8>) -> Vec<u8> = |blob| blob;
    let good = KeylessCase {
        repository: "accepted",
        certificate: &certificate,
        chain: &ca_pem,
        log: &log,
        integrated_time: sigstore::INSIDE_VALIDITY,
        with_bundle: true,
        tamper: unchanged,
        rejection: None,
    };
    let cases = [
        KeylessCase { ..good },
        KeylessCase {
            repository: "other-ca",
            certificate: &from_other_ca,
            chain: &other_ca_pem,
            rejection: Some("veryfing leaf certificate failed: x509: certificate signed by unknown authority"),
            ..good
        },
        KeylessCase {
            repository: "wrong-email",
            certificate: &wrong_email,
            rejection: Some(r#"Required email "dev@example.com" not found (got ["mallory@example.com"])"#),
            ..good
        },
        KeylessCase {
            repository: "wrong-issuer",
            certificate: &wrong_issuer,
            rejection: Some(r#"Unexpected Fulcio OIDC issuer "https://other.example.com""#),
            ..good
        },
        KeylessCase {
            repository: "no-set",
            with_bundle: false,
            rejection: Some("missing dev.sigstore.cosign/bundle annotation"),
            ..good
        },
        KeylessCase {
            repository: "other-log",
            log: &other_log,
            rejection: Some("cryptographic signature verification of Rekor SET failed"),
            ..good
        },
        KeylessCase {
            repository: "tampered-set",
            // The log index, inside the signed entry, changed.
            tamper: |blob| {
                String::from_utf8(blob)
                    .unwrap()
                    .replace(r#"\"logIndex\":42"#, r#"\"logIndex\":43"#)
                    .into_bytes()
            },
            rejection: Some("cryptographic signature verification of Rekor SET failed"),
            ..good
        },
        KeylessCase {
            repository: "expired",
            integrated_time: sigstore::AFTER_VALIDITY,
            rejection: Some("veryfing leaf certificate failed: x509: certificate has expired or is not yet valid: current time 2024-01-03T21:00:00+09:00 is after 2024-01-02T00:00:00Z"),
            ..good
        },
    ];

    let pull = |repository: &str, destination: &str| -> Vec<String> {
        [
            "--policy",
            policy,
            "--registries.d",
            config,
            "copy",
            "-q",
            "--src-tls-verify=false",
            &format!("docker://{host}/{repository}:1"),
            &format!("dir:{destination}"),
        ]
        .iter()
        .map(|arg| arg.to_string())
        .collect()
    };
    for case in &cases {
        // The signed image as a dir: copy, pushed with its signature as an attachment.
        let source = workspace.path(&format!("signed-{}", case.repository));
        std::fs::create_dir(&source).unwrap();
        for entry in std::fs::read_dir(workspace.path("plain")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), source.join(entry.file_name())).unwrap();
        }
        let payload = sigstore::payload(&digest, &format!("{host}/{}:1", case.repository));
        let signed = case.certificate.sign(&payload);
        let bundle = case.with_bundle.then(|| {
            case.log.bundle(
                &case.certificate.pem,
                &signed,
                &payload,
                case.integrated_time,
            )
        });
        let annotations =
            sigstore::keyless_annotations(&signed, &case.certificate.pem, case.chain, bundle);
        let blob = (case.tamper)(sigstore::signature_blob(&payload, &annotations));
        std::fs::write(source.join("signature-1"), blob).unwrap();
        workspace
            .skopos(&[
                "--insecure-policy",
                "--registries.d",
                config,
                "copy",
                "-q",
                "--dest-tls-verify=false",
                &format!("dir:{}", source.display()),
                &format!("docker://{host}/{}:1", case.repository),
            ])
            .assert_success();

        let destination = format!("pulled-{}", case.repository);
        let args = pull(case.repository, &destination);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // Go prints the SET's time in the local zone: both tools run in one far from UTC.
        let ours = workspace.skopos_with_env(&[("TZ", ZONE)], &args);
        match case.rejection {
            None => {
                ours.assert_success();
                assert!(workspace.path(&destination).join("signature-1").exists());
            }
            Some(message) => {
                assert_rejected(&ours, message);
                assert!(
                    !workspace.path(&destination).exists(),
                    "{} wrote its destination",
                    case.repository
                );
            }
        }
        let skopeo_destination = format!("skopeo-{}", case.repository);
        let args = pull(case.repository, &skopeo_destination);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if let Some(theirs) = workspace.skopeo_1_22(
            &format!("the {} keyless verdict", case.repository),
            &[("TZ", ZONE)],
            &args,
        ) {
            assert_eq!(
                (theirs.code, skopeo_message(&theirs.stderr)),
                (ours.code, skopeo_message(&ours.stderr)),
                "{}",
                case.repository
            );
        }
    }
}

/// The other certificate and Rekor checks, on `dir:` images: skopeo 1.22's `pki` roots,
/// Fulcio certificates issued by an intermediate CA, and public keys whose signatures
/// must be in a Rekor log. skopeo 1.22.2 gives the same verdicts and messages.
#[test]
fn pki_intermediates_and_rekor_with_keys_match_skopeo_1_22() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 99);
    workspace
        .skopos(&["--insecure-policy", "copy", "-q", "oci:src:t", "dir:plain"])
        .assert_success();
    let digest = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(read(
            &workspace.path("plain/manifest.json")
        )))
    );
    let payload = sigstore::payload(&digest, IDENTITY);
    let b64 = |text: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, text);

    let root = TestCa::new("test root");
    let other_root = TestCa::new("another root");
    let intermediate = root.intermediate("test intermediate");
    let log = RekorLog::default();
    let current =
        |ca: &TestCa, email: &str| ca.issue_valid(email, OIDC_ISSUER, (2020, 1, 1), (2040, 1, 1));
    let (by_root, by_other_root) = (
        current(&root, SIGNER_EMAIL),
        current(&other_root, SIGNER_EMAIL),
    );
    let wrong_email = current(&root, "mallory@example.com");
    let by_intermediate = intermediate.issue(SIGNER_EMAIL, OIDC_ISSUER);
    let full_chain = format!("{}{}", intermediate.pem(), root.pem());

    // A signature by `certificate` with `chain`, and a SET by `log` when given.
    let keyless = |certificate: &SignerCertificate, chain: &str, log: Option<&RekorLog>| {
        let signed = certificate.sign(&payload);
        let bundle = log.map(|log| {
            log.bundle(
                &certificate.pem,
                &signed,
                &payload,
                sigstore::INSIDE_VALIDITY,
            )
        });
        sigstore::signature_blob(
            &payload,
            &sigstore::keyless_annotations(&signed, &certificate.pem, chain, bundle),
        )
    };
    // A signature by `certificate`'s key used as a plain key, with a SET by `log`.
    let key_based = |log: Option<&RekorLog>| {
        let signed = by_root.sign(&payload);
        let mut annotations = std::collections::BTreeMap::from([(
            "dev.cosignproject.cosign/signature".to_string(),
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &signed),
        )]);
        if let Some(log) = log {
            annotations.insert(
                "dev.sigstore.cosign/bundle".to_string(),
                log.bundle(
                    &by_root.public_key_pem(),
                    &signed,
                    &payload,
                    sigstore::INSIDE_VALIDITY,
                ),
            );
        }
        sigstore::signature_blob(&payload, &annotations)
    };
    let pki = |subject: &str| {
        format!(
            r#""pki": {{"caRootsData": "{}", {subject}}}"#,
            b64(&root.pem())
        )
    };
    let pki_email = pki(&format!(r#""subjectEmail": "{SIGNER_EMAIL}""#));
    let pki_host = pki(r#""subjectHostname": "registry.example.com""#);
    let fulcio = format!(
        r#""fulcio": {{"caData": "{}", "oidcIssuer": "{OIDC_ISSUER}", "subjectEmail": "{SIGNER_EMAIL}"}}, "rekorPublicKeyData": "{}""#,
        b64(&root.pem()),
        b64(&log.public_key_pem())
    );
    let key_with_rekor = format!(
        r#""keyData": "{}", "rekorPublicKeyData": "{}""#,
        b64(&by_root.public_key_pem()),
        b64(&log.public_key_pem())
    );
    let unknown_authority =
        "veryfing leaf certificate failed: x509: certificate signed by unknown authority";
    let cases: Vec<(&str, &str, Vec<u8>, Option<&str>)> = vec![
        ("pki", &pki_email, keyless(&by_root, &root.pem(), None), None),
        ("pki-other-root", &pki_email, keyless(&by_other_root, &other_root.pem(), None), Some(unknown_authority)),
        (
            "pki-wrong-email",
            &pki_email,
            keyless(&wrong_email, &root.pem(), None),
            Some(r#"Required email "dev@example.com" not found (got ["mallory@example.com"])"#),
        ),
        (
            "pki-hostname",
            &pki_host,
            keyless(&by_root, &root.pem(), None),
            Some("Unexpected subject hostname: x509: certificate is not valid for any names, but wanted to match registry.example.com"),
        ),
        ("fulcio-intermediate", &fulcio, keyless(&by_intermediate, &full_chain, Some(&log)), None),
        (
            "fulcio-no-intermediate",
            &fulcio,
            keyless(&by_intermediate, &root.pem(), Some(&log)),
            Some(unknown_authority),
        ),
        ("key-in-rekor", &key_with_rekor, key_based(Some(&log)), None),
        (
            "key-other-rekor",
            &key_with_rekor,
            key_based(Some(&RekorLog::default())),
            Some("No public key verified against the RekorSET: cryptographic signature verification of Rekor SET failed"),
        ),
        (
            "key-without-set",
            &key_with_rekor,
            key_based(None),
            Some("missing dev.sigstore.cosign/bundle annotation"),
        ),
    ];
    for (name, trust_root, blob, rejection) in cases {
        let source = workspace.path(&format!("signed-{name}"));
        std::fs::create_dir(&source).unwrap();
        for entry in std::fs::read_dir(workspace.path("plain")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), source.join(entry.file_name())).unwrap();
        }
        std::fs::write(source.join("signature-1"), blob).unwrap();
        let policy = workspace.path(&format!("{name}.json"));
        std::fs::write(
            &policy,
            format!(
                r#"{{"default": [{{"type": "reject"}}], "transports": {{"dir": {{"": [{{"type": "sigstoreSigned", {trust_root}, "signedIdentity": {{"type": "exactReference", "dockerReference": "{IDENTITY}"}}}}]}}}}}}"#
            ),
        )
        .unwrap();
        let policy = policy.to_str().unwrap();
        let source = format!("dir:{}", source.display());
        let destination = format!("pulled-{name}");
        let ours = workspace.skopos(&[
            "--policy",
            policy,
            "copy",
            "-q",
            &source,
            &format!("dir:{destination}"),
        ]);
        match rejection {
            None => ours.assert_success(),
            Some(message) => {
                assert_rejected(&ours, message);
                assert!(!workspace.path(&destination).exists(), "{name}");
                &ours
            }
        };
        if let Some(theirs) = workspace.skopeo_1_22(
            &format!("the {name} verdict"),
            &[],
            &[
                "--policy",
                policy,
                "copy",
                "-q",
                &source,
                &format!("dir:skopeo-{name}"),
            ],
        ) {
            assert_eq!(
                (theirs.code, skopeo_message(&theirs.stderr)),
                (ours.code, skopeo_message(&ours.stderr)),
                "{name}"
            );
        }
    }
}

/// One signature of the key-type test: how it is signed, which trust root the policy
/// names, and skopeo 1.22.2's verdict.
struct KeyTypeCase {
    /// The repository it is pushed to, and the case's name.
    repository: String,
    /// The policy requirement's trust root fields.
    trust_root: String,
    /// The stored signature of the image's payload for the repository.
    blob: Vec<u8>,
    /// `None` when accepted, else skopeo's rejection.
    rejection: Option<String>,
}

/// Sigstore signatures by keys of every type containers/image verifies with — public keys
/// (PKIX and PKCS#1 RSA PEM), Fulcio leaves and Rekor keys — stored as attachments in a
/// registry, are accepted by `sigstoreSigned` policies trusting them and rejected by those
/// trusting another key of the same type, with skopeo 1.22.2's verdicts and messages.
#[test]
fn sigstore_signatures_by_every_key_type_go_accepts() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 100);
    workspace
        .skopos(&["--insecure-policy", "copy", "-q", "oci:src:t", "dir:plain"])
        .assert_success();
    let digest = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(read(
            &workspace.path("plain/manifest.json")
        )))
    );
    let registry = TestRegistry::start(RegistryOptions::default());
    let host = &registry.host;
    let config = workspace.path("registries.d");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(
        config.join("attachments.yaml"),
        "default-docker:\n  use-sigstore-attachments: true\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let b64 = |text: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, text);
    let payload_for =
        |repository: &str| sigstore::payload(&digest, &format!("{host}/{repository}:1"));
    let mut cases = Vec::new();

    // Plain public keys: accepted when trusted, rejected with another key of the type.
    for (name, key_type, failure) in [
        (
            "p224",
            KeyType::P224,
            "invalid signature when validating ASN.1 encoded signature",
        ),
        (
            "p384",
            KeyType::P384,
            "invalid signature when validating ASN.1 encoded signature",
        ),
        (
            "p521",
            KeyType::P521,
            "invalid signature when validating ASN.1 encoded signature",
        ),
        (
            "rsa2048",
            KeyType::Rsa(2048),
            "crypto/rsa: verification error",
        ),
        (
            "rsa4096",
            KeyType::Rsa(4096),
            "crypto/rsa: verification error",
        ),
        ("ed25519", KeyType::Ed25519, "failed to verify signature"),
    ] {
        let signer = OpensslKey::generate(key_type);
        let other = OpensslKey::generate(key_type);
        let mut trusted = vec![("", signer.public_pem.clone(), None)];
        if matches!(key_type, KeyType::Rsa(_)) {
            trusted.push(("-pkcs1", signer.rsa_public_key_pem(), None));
        }
        trusted.push((
            "-other-key",
            other.public_pem.clone(),
            Some(format!(
                "cryptographic signature verification failed: {failure}"
            )),
        ));
        // Only the first key of a key file is trusted: the signer's after another's is not.
        trusted.push((
            "-second-in-file",
            format!("{}{}", other.public_pem, signer.public_pem),
            Some(format!(
                "cryptographic signature verification failed: {failure}"
            )),
        ));
        for (suffix, public_pem, rejection) in trusted {
            let repository = format!("{name}{suffix}");
            let payload = payload_for(&repository);
            let annotations = std::collections::BTreeMap::from([(
                "dev.cosignproject.cosign/signature".to_string(),
                base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    signer.sign(&payload),
                ),
            )]);
            cases.push(KeyTypeCase {
                trust_root: format!(r#""keyData": "{}""#, b64(&public_pem)),
                blob: sigstore::signature_blob(&payload, &annotations),
                repository,
                rejection,
            });
        }
    }

    // Fulcio leaves with other key types, and Rekor logs with other ECDSA curves; a Rekor
    // key that is not ECDSA is refused as containers/image refuses it.
    let ca = TestCa::new("test fulcio");
    let keyless = |repository: &str, leaf: KeyType, log: &RekorLog, rejection: Option<&str>| {
        let certificate = ca.issue_with_key(SIGNER_EMAIL, OIDC_ISSUER, OpensslKey::generate(leaf));
        let payload = payload_for(repository);
        let signed = certificate.sign(&payload);
        let bundle = log.bundle(
            &certificate.pem,
            &signed,
            &payload,
            sigstore::INSIDE_VALIDITY,
        );
        KeyTypeCase {
            repository: repository.to_string(),
            trust_root: format!(
                r#""fulcio": {{"caData": "{}", "oidcIssuer": "{OIDC_ISSUER}", "subjectEmail": "{SIGNER_EMAIL}"}}, "rekorPublicKeyData": "{}""#,
                b64(&ca.pem()),
                b64(&log.public_key_pem())
            ),
            blob: sigstore::signature_blob(
                &payload,
                &sigstore::keyless_annotations(&signed, &certificate.pem, &ca.pem(), Some(bundle)),
            ),
            rejection: rejection.map(str::to_string),
        }
    };
    let p384_log = RekorLog::with_key(OpensslKey::generate(KeyType::P384));
    let p521_log = RekorLog::with_key(OpensslKey::generate(KeyType::P521));
    let ed25519_log = RekorLog::with_key(OpensslKey::generate(KeyType::Ed25519));
    cases.push(keyless("fulcio-p384-leaf", KeyType::P384, &p384_log, None));
    cases.push(keyless(
        "fulcio-ed25519-leaf",
        KeyType::Ed25519,
        &p521_log,
        None,
    ));
    cases.push(keyless(
        "fulcio-rsa-leaf",
        KeyType::Rsa(2048),
        &RekorLog::default(),
        None,
    ));
    cases.push(keyless(
        "fulcio-ed25519-rekor",
        KeyType::P384,
        &ed25519_log,
        Some("Rekor public key 1 is not using ECDSA"),
    ));

    for case in &cases {
        let source = workspace.path(&format!("signed-{}", case.repository));
        std::fs::create_dir(&source).unwrap();
        for entry in std::fs::read_dir(workspace.path("plain")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), source.join(entry.file_name())).unwrap();
        }
        std::fs::write(source.join("signature-1"), &case.blob).unwrap();
        workspace
            .skopos(&[
                "--insecure-policy",
                "--registries.d",
                config,
                "copy",
                "-q",
                "--dest-tls-verify=false",
                &format!("dir:{}", source.display()),
                &format!("docker://{host}/{}:1", case.repository),
            ])
            .assert_success();
        let policy = workspace.path(&format!("{}.json", case.repository));
        std::fs::write(
            &policy,
            format!(
                r#"{{"default": [{{"type": "reject"}}], "transports": {{"docker": {{"": [{{"type": "sigstoreSigned", {}}}]}}}}}}"#,
                case.trust_root
            ),
        )
        .unwrap();
        let policy = policy.to_str().unwrap();
        let pull = |destination: &str| -> Vec<String> {
            [
                "--policy",
                policy,
                "--registries.d",
                config,
                "copy",
                "-q",
                "--src-tls-verify=false",
                &format!("docker://{host}/{}:1", case.repository),
                &format!("dir:{destination}"),
            ]
            .iter()
            .map(|arg| arg.to_string())
            .collect()
        };
        let destination = format!("pulled-{}", case.repository);
        let args = pull(&destination);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ours = workspace.skopos(&args);
        match &case.rejection {
            None => {
                ours.assert_success();
                assert!(workspace.path(&destination).join("signature-1").exists());
            }
            Some(message) => {
                assert_rejected(&ours, message);
                assert!(
                    !workspace.path(&destination).exists(),
                    "{} wrote its destination",
                    case.repository
                );
            }
        }
        let args = pull(&format!("skopeo-{}", case.repository));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if let Some(theirs) = workspace.skopeo_1_22(
            &format!("the {} key type verdict", case.repository),
            &[],
            &args,
        ) {
            assert_eq!(
                (theirs.code, skopeo_message(&theirs.stderr)),
                (ours.code, skopeo_message(&ours.stderr)),
                "{}",
                case.repository
            );
        }
    }
}
