//! Sigstore signing with keys: `generate-sigstore-key`, `copy
//! --sign-by-sigstore-private-key` into `dir:`, `sigstoreSigned` policies with public keys,
//! and interop with skopeo 1.22.2 (`$SKOPEO_1_22`; Debian's 1.9.3 has no sigstore support):
//! keys made by either tool sign in the other, and signatures made by either are accepted
//! by the other's policy.

mod common;

use std::path::PathBuf;

use common::{assert_one_line_failure, read, skopeo_message, Outcome, Workspace};
use skopos_testimage::registry::{RegistryOptions, TestRegistry};

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
