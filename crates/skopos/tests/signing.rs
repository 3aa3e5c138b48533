//! Simple signing end to end, against skopeo: GPG keys made here in a private GNUPGHOME
//! (one without a passphrase, one with), signatures made by each tool accepted by the
//! other (`standalone-verify`, and `signedBy` policies on copy), and every rejection with
//! skopeo 1.22's message, exit status 1 and nothing written. skopeo 1.22.2 (`$SKOPEO_1_22`)
//! is built with Go's OpenPGP code, as skopos's messages follow; Debian's 1.9.3 uses gpgme,
//! whose wording for some rejections differs, so against it only the verdict is compared.

mod common;

use std::path::{Path, PathBuf};

use common::gnupg::{stop_agents, Keys, BOB_PASSPHRASE};
use common::{assert_one_line_failure, read, skopeo_binary, skopeo_message, Outcome, Workspace};
use skopos_testimage::files::FileServer;
use skopos_testimage::registry::{RegistryOptions, TestRegistry};

const IDENTITY: &str = "example.com/signed/app:1";

fn skopos(workspace: &Workspace, keys: &Keys, args: &[&str]) -> Outcome {
    workspace.skopos_with_env(&keys.env(), args)
}

fn skopeo(workspace: &Workspace, keys: &Keys, args: &[&str]) -> Outcome {
    workspace.skopeo_at_with_env(skopeo_binary(), &keys.env(), args)
}

/// skopeo 1.22.2 when `$SKOPEO_1_22` names it; otherwise says visibly what is skipped.
fn skopeo_1_22(what: &str) -> Option<PathBuf> {
    match std::env::var_os("SKOPEO_1_22").filter(|path| !path.is_empty()) {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            eprintln!("SKIPPED: {what} against skopeo 1.22.2 (set SKOPEO_1_22)");
            None
        }
    }
}

/// A `signedBy` policy for `dir:` images trusting the keys in `key_file`, with `identity`
/// as the `signedIdentity` rule (JSON).
fn policy(workspace: &Workspace, name: &str, key_file: &str, identity: &str) -> String {
    let path = workspace.path(name);
    let key_path = workspace.path(key_file);
    std::fs::write(
        &path,
        format!(
            r#"{{"default": [{{"type": "reject"}}], "transports": {{"dir": {{"": [{{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "{}", "signedIdentity": {identity}}}]}}}}}}"#,
            key_path.display()
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

fn exact_identity() -> String {
    format!(r#"{{"type": "exactReference", "dockerReference": "{IDENTITY}"}}"#)
}

/// A generated image as an unsigned `dir:` layout named `name`.
fn unsigned_dir(workspace: &Workspace, keys: &Keys, name: &str) {
    workspace.image("src", "t", 91);
    skopos(
        workspace,
        keys,
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "oci:src:t",
            &format!("dir:{name}"),
        ],
    )
    .assert_success();
}

#[test]
fn signatures_made_by_skopos_verify_with_skopeo() {
    let workspace = Workspace::new();
    let keys = Keys::new(&workspace);
    workspace.image("src", "t", 92);

    // copy --sign-by into dir:, without and with a passphrase.
    let copied = skopos(
        &workspace,
        &keys,
        &[
            "--insecure-policy",
            "copy",
            "--sign-by",
            &keys.alice,
            "--sign-identity",
            IDENTITY,
            "oci:src:t",
            "dir:by-alice",
        ],
    );
    copied.assert_success();
    assert!(
        copied
            .stdout
            .contains("Writing manifest to image destination\nCreating signature: Signing image using simple signing\nStoring signatures\n"),
        "{}",
        copied.stdout
    );
    skopos(
        &workspace,
        &keys,
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "--sign-by",
            &keys.bob,
            "--sign-passphrase-file",
            "passphrase",
            "--sign-identity",
            IDENTITY,
            "oci:src:t",
            "dir:by-bob",
        ],
    )
    .assert_success();

    // skopeo accepts both under signedBy policies on copy.
    for (image, key_file) in [("by-alice", "alice.gpg"), ("by-bob", "bob.gpg")] {
        let policy = policy(
            &workspace,
            &format!("{image}.json"),
            key_file,
            &exact_identity(),
        );
        skopeo(
            &workspace,
            &keys,
            &[
                "--policy",
                &policy,
                "copy",
                "-q",
                &format!("dir:{image}"),
                &format!("dir:{image}-by-skopeo"),
            ],
        )
        .assert_success();
    }

    // standalone-sign, verified by skopeo's standalone-verify (gpgme, the local keyring).
    let manifest = workspace.path("by-alice/manifest.json");
    let manifest = manifest.to_str().unwrap();
    for (fingerprint, extra) in [
        (&keys.alice, vec![]),
        (&keys.bob, vec!["--passphrase-file", "passphrase"]),
    ] {
        let mut args = vec!["standalone-sign", "-o", "standalone.sig"];
        args.extend(extra);
        args.extend([manifest, IDENTITY, fingerprint.as_str()]);
        skopos(&workspace, &keys, &args).assert_success();
        let verified = skopeo(
            &workspace,
            &keys,
            &[
                "standalone-verify",
                manifest,
                IDENTITY,
                fingerprint,
                "standalone.sig",
            ],
        );
        verified.assert_success();
        let digest = std::fs::read_to_string(workspace.path("by-alice/manifest.json"))
            .map(|text| manifest_digest(text.as_bytes()))
            .unwrap();
        assert_eq!(
            verified.stdout,
            format!("Signature verified, digest {digest}\n")
        );
    }
    let mode = std::fs::metadata(workspace.path("standalone.sig")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o644
    );

    if let Some(peer) = skopeo_1_22("standalone-verify of a skopos signature") {
        let verified = workspace.skopeo_at_with_env(
            &peer,
            &keys.env(),
            &[
                "standalone-verify",
                "--public-key-file",
                "bob.gpg",
                manifest,
                IDENTITY,
                "any",
                "standalone.sig",
            ],
        );
        verified.assert_success();
        let ours = skopos(
            &workspace,
            &keys,
            &[
                "standalone-verify",
                "--public-key-file",
                "bob.gpg",
                manifest,
                IDENTITY,
                "any",
                "standalone.sig",
            ],
        );
        assert_eq!(ours.stdout, verified.stdout);
    }
}

/// The digest of a manifest as `skopeo manifest-digest` prints it.
fn manifest_digest(manifest: &[u8]) -> String {
    skopos_core::manifest::manifest_digest(manifest)
        .unwrap()
        .to_string()
}

#[test]
fn signatures_made_by_skopeo_pass_skopos_policies() {
    let workspace = Workspace::new();
    let keys = Keys::new(&workspace);
    workspace.image("src", "t", 93);
    skopeo(
        &workspace,
        &keys,
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "--sign-by",
            &keys.bob,
            "--sign-passphrase-file",
            "passphrase",
            "--sign-identity",
            IDENTITY,
            "oci:src:t",
            "dir:by-skopeo",
        ],
    )
    .assert_success();
    let policy = policy(&workspace, "policy.json", "bob.gpg", &exact_identity());
    let copied = skopos(
        &workspace,
        &keys,
        &["--policy", &policy, "copy", "dir:by-skopeo", "dir:copied"],
    );
    copied.assert_success();
    assert!(copied.stdout.starts_with(
        "Getting image source signatures\nChecking if image destination supports signatures\n"
    ));
    assert_eq!(
        read(&workspace.path("copied/signature-1")),
        read(&workspace.path("by-skopeo/signature-1"))
    );

    // standalone-sign by skopeo, standalone-verify by skopos: with the local keyring and
    // with a key file and `any`.
    let manifest = workspace.path("by-skopeo/manifest.json");
    let manifest = manifest.to_str().unwrap();
    skopeo(
        &workspace,
        &keys,
        &[
            "standalone-sign",
            "-o",
            "skopeo.sig",
            manifest,
            IDENTITY,
            &keys.alice,
        ],
    )
    .assert_success();
    let digest = manifest_digest(&read(Path::new(manifest)));
    let expected = format!(
        "Signature verified using fingerprint {}, digest {digest}\n",
        keys.alice
    );
    for args in [
        vec![
            "standalone-verify",
            manifest,
            IDENTITY,
            &keys.alice,
            "skopeo.sig",
        ],
        vec![
            "standalone-verify",
            "--public-key-file",
            "alice.gpg",
            manifest,
            IDENTITY,
            "any",
            "skopeo.sig",
        ],
    ] {
        let verified = skopos(&workspace, &keys, &args);
        verified.assert_success();
        assert_eq!(verified.stdout, expected);
    }
    let dumped = skopos(
        &workspace,
        &keys,
        &[
            "untrusted-signature-dump-without-verification",
            "skopeo.sig",
        ],
    );
    dumped.assert_success();
    let reference = skopeo(
        &workspace,
        &keys,
        &[
            "untrusted-signature-dump-without-verification",
            "skopeo.sig",
        ],
    );
    assert_eq!(dumped.stdout, reference.stdout);
}

/// One rejection: both tools refuse, skopos with `message` (skopeo 1.22's words) after
/// "Source image rejected: ", and nothing reaches skopos's destination.
fn assert_rejected(workspace: &Workspace, keys: &Keys, policy: &str, image: &str, message: &str) {
    let args = |destination: &str| {
        vec![
            "--policy".to_string(),
            policy.to_string(),
            "copy".to_string(),
            format!("dir:{image}"),
            format!("dir:{destination}"),
        ]
    };
    let strs = |args: &[String]| args.iter().map(String::clone).collect::<Vec<_>>();
    let skopos_args = strs(&args("rejected-skopos"));
    let ours = skopos(
        workspace,
        keys,
        &skopos_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_one_line_failure(&ours, Some(1));
    assert_eq!(
        skopeo_message(&ours.stderr),
        format!("Source image rejected: {message}"),
        "{image}"
    );
    assert!(
        !workspace.path("rejected-skopos").exists(),
        "{image}: written"
    );

    let skopeo_args = strs(&args("rejected-skopeo"));
    let theirs = skopeo(
        workspace,
        keys,
        &skopeo_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_one_line_failure(&theirs, Some(1));
    assert!(
        skopeo_message(&theirs.stderr).starts_with("Source image rejected: "),
        "{}",
        theirs.stderr
    );
    if let Some(peer) = skopeo_1_22(&format!("the rejection of {image}")) {
        let peer_args = strs(&args("rejected-skopeo-1-22"));
        let peer_outcome = workspace.skopeo_at_with_env(
            &peer,
            &keys.env(),
            &peer_args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert_eq!(
            skopeo_message(&peer_outcome.stderr),
            skopeo_message(&ours.stderr),
            "{image}"
        );
    }
}

#[test]
fn rejections_have_skopeos_messages_and_write_nothing() {
    let workspace = Workspace::new();
    let keys = Keys::new(&workspace);
    unsigned_dir(&workspace, &keys, "unsigned");
    skopos(
        &workspace,
        &keys,
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "--sign-by",
            &keys.alice,
            "--sign-identity",
            IDENTITY,
            "dir:unsigned",
            "dir:signed",
        ],
    )
    .assert_success();
    let by_alice = policy(&workspace, "alice.json", "alice.gpg", &exact_identity());

    assert_rejected(
        &workspace,
        &keys,
        &by_alice,
        "unsigned",
        "A signature was required, but no signature exists",
    );

    let by_bob = policy(&workspace, "bob.json", "bob.gpg", &exact_identity());
    let alice_key_id = u64::from_str_radix(&keys.alice[keys.alice.len() - 16..], 16).unwrap();
    assert_rejected(
        &workspace,
        &keys,
        &by_bob,
        "signed",
        &format!("Key not found for key ID {alice_key_id:x} in signature"),
    );

    let other_identity = policy(
        &workspace,
        "other.json",
        "alice.gpg",
        r#"{"type": "exactReference", "dockerReference": "example.com/signed/app:2"}"#,
    );
    assert_rejected(
        &workspace,
        &keys,
        &other_identity,
        "signed",
        &format!("Signature for identity \"{IDENTITY}\" is not accepted"),
    );

    // A manifest changed after signing.
    copy_dir(
        &workspace.path("signed"),
        &workspace.path("tampered-manifest"),
    );
    let manifest_path = workspace.path("tampered-manifest/manifest.json");
    let signed_digest = manifest_digest(&read(&manifest_path));
    let mut manifest = read(&manifest_path);
    manifest.push(b'\n');
    std::fs::write(&manifest_path, manifest).unwrap();
    assert_rejected(
        &workspace,
        &keys,
        &by_alice,
        "tampered-manifest",
        &format!("Signature for digest {signed_digest} does not match"),
    );

    // A signature changed after signing: the OpenPGP layer refuses it (its wording is the
    // OpenPGP library's, so only the verdict is compared).
    copy_dir(
        &workspace.path("signed"),
        &workspace.path("tampered-signature"),
    );
    let signature_path = workspace.path("tampered-signature/signature-1");
    let mut signature = read(&signature_path);
    // A byte in the middle, inside the (compressed) signed data: the file's last bytes may
    // be the ZLIB trailer, which GnuPG does not always read before it has its packets, so
    // skopeo sometimes accepted a signature whose last byte was changed.
    let middle = signature.len() / 2;
    signature[middle] ^= 0x01;
    std::fs::write(&signature_path, signature).unwrap();
    let ours = skopos(
        &workspace,
        &keys,
        &[
            "--policy",
            &by_alice,
            "copy",
            "dir:tampered-signature",
            "dir:never",
        ],
    );
    assert_one_line_failure(&ours, Some(1));
    assert!(skopeo_message(&ours.stderr).starts_with("Source image rejected: "));
    assert!(!workspace.path("never").exists());
    let theirs = skopeo(
        &workspace,
        &keys,
        &[
            "--policy",
            &by_alice,
            "copy",
            "dir:tampered-signature",
            "dir:never-skopeo",
        ],
    );
    assert_eq!(theirs.code, Some(1));
}

#[test]
fn no_passphrase_or_key_material_in_debug_output() {
    let workspace = Workspace::new();
    let keys = Keys::new(&workspace);
    workspace.image("src", "t", 94);
    let secret_key = keys.gpg(&[
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        BOB_PASSPHRASE,
        "--export-secret-keys",
        "--armor",
        &keys.bob,
    ]);
    let secret_key = String::from_utf8(secret_key).unwrap();
    let key_lines: Vec<&str> = secret_key
        .lines()
        .filter(|line| line.len() > 40 && !line.starts_with("-----"))
        .collect();
    assert!(!key_lines.is_empty());
    std::fs::write(
        workspace.path("wrong-passphrase"),
        "not the right passphrase\n",
    )
    .unwrap();
    let runs = [
        skopos(
            &workspace,
            &keys,
            &[
                "--debug",
                "--insecure-policy",
                "copy",
                "--sign-by",
                &keys.bob,
                "--sign-passphrase-file",
                "passphrase",
                "--sign-identity",
                IDENTITY,
                "oci:src:t",
                "dir:signed",
            ],
        ),
        skopos(
            &workspace,
            &keys,
            &[
                "--debug",
                "standalone-sign",
                "--passphrase-file",
                "passphrase",
                "-o",
                "sig",
                "signed/manifest.json",
                IDENTITY,
                &keys.bob,
            ],
        ),
    ];
    for run in &runs {
        run.assert_success();
    }
    // A wrong passphrase fails without echoing it (after the agent forgets the right one).
    stop_agents(&keys.home);
    let failed = skopos(
        &workspace,
        &keys,
        &[
            "--debug",
            "standalone-sign",
            "--passphrase-file",
            "wrong-passphrase",
            "-o",
            "sig2",
            "signed/manifest.json",
            IDENTITY,
            &keys.bob,
        ],
    );
    assert_eq!(failed.code, Some(1), "{}", failed.stderr);
    assert!(
        failed.stderr.contains("Bad passphrase"),
        "{}",
        failed.stderr
    );
    for run in runs.iter().chain([&failed]) {
        let output = format!("{}{}", run.stdout, run.stderr);
        assert!(output.contains("level=debug"), "not a debug run: {output}");
        for secret in [BOB_PASSPHRASE, "not the right passphrase"]
            .into_iter()
            .chain(key_lines.iter().copied())
        {
            assert!(
                !output.contains(secret),
                "{secret:?} in the output of {}",
                run.command
            );
        }
    }
}

/// Copies a flat directory (a `dir:` layout).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// A `signedBy` policy for `docker:` images trusting `key_file` (the default identity
/// rule, matchRepoDigestOrExact).
fn docker_policy(workspace: &Workspace, name: &str, key_file: &str) -> String {
    let path = workspace.path(name);
    std::fs::write(
        &path,
        format!(
            r#"{{"default": [{{"type": "reject"}}], "transports": {{"docker": {{"": [{{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "{}"}}]}}}}}}"#,
            workspace.path(key_file).display()
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// A registries.d directory `name` whose `default-docker` section is `section` (YAML).
fn registries_d(workspace: &Workspace, name: &str, section: &str) -> String {
    let dir = workspace.path(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("default.yaml"),
        format!("default-docker:\n{section}"),
    )
    .unwrap();
    dir.to_str().unwrap().to_string()
}

/// The single `REPOSITORY@sha256=HEX` directory of `repository` in a lookaside.
fn lookaside_entry(lookaside: &Path, repository: &str) -> PathBuf {
    let parent = lookaside.join(repository);
    let (parent_dir, name) = (parent.parent().unwrap(), parent.file_name().unwrap());
    let prefix = format!("{}@sha256=", name.to_str().unwrap());
    let entries: Vec<PathBuf> = std::fs::read_dir(parent_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(&prefix)
        })
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0].clone()
}

#[test]
fn registry_signatures_live_in_the_lookaside_both_ways() {
    let workspace = Workspace::new();
    let keys = Keys::new(&workspace);
    let registry = TestRegistry::start(RegistryOptions::default());
    let host = &registry.host;
    workspace.image("src", "t", 95);
    let lookaside = workspace.path("lookaside");
    let file_config = registries_d(
        &workspace,
        "registries.d",
        &format!("  lookaside: file://{}\n", lookaside.display()),
    );
    let by_alice = docker_policy(&workspace, "alice-docker.json", "alice.gpg");
    let by_bob = docker_policy(&workspace, "bob-docker.json", "bob.gpg");

    // skopos signs while pushing; the signature lands in the file lookaside, where skopeo
    // finds and accepts it.
    let pushed = skopos(
        &workspace,
        &keys,
        &[
            "--insecure-policy",
            "--registries.d",
            &file_config,
            "copy",
            "--dest-tls-verify=false",
            "--sign-by",
            &keys.alice,
            "oci:src:t",
            &format!("docker://{host}/by-skopos/app:1"),
        ],
    );
    pushed.assert_success();
    let entry = lookaside_entry(&lookaside, "by-skopos/app");
    assert!(entry.join("signature-1").exists());
    assert!(!entry.join("signature-2").exists());
    skopeo(
        &workspace,
        &keys,
        &[
            "--policy",
            &by_alice,
            "--registries.d",
            &file_config,
            "copy",
            "-q",
            "--src-tls-verify=false",
            &format!("docker://{host}/by-skopos/app:1"),
            "dir:pulled-by-skopeo",
        ],
    )
    .assert_success();

    // skopeo signs (with a passphrase) while pushing; skopos accepts its signature.
    skopeo(
        &workspace,
        &keys,
        &[
            "--insecure-policy",
            "--registries.d",
            &file_config,
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--sign-by",
            &keys.bob,
            "--sign-passphrase-file",
            "passphrase",
            "oci:src:t",
            &format!("docker://{host}/by-skopeo/app:1"),
        ],
    )
    .assert_success();
    let skopeo_signature = read(&lookaside_entry(&lookaside, "by-skopeo/app").join("signature-1"));
    skopos(
        &workspace,
        &keys,
        &[
            "--policy",
            &by_bob,
            "--registries.d",
            &file_config,
            "copy",
            "-q",
            "--src-tls-verify=false",
            &format!("docker://{host}/by-skopeo/app:1"),
            "dir:pulled-by-skopos",
        ],
    )
    .assert_success();
    assert_eq!(
        read(&workspace.path("pulled-by-skopos/signature-1")),
        skopeo_signature
    );

    // The same signature read from an http lookaside.
    let server = FileServer::start(&lookaside);
    let http_config = registries_d(
        &workspace,
        "registries-http.d",
        &format!("  lookaside: {}\n", server.url),
    );
    skopos(
        &workspace,
        &keys,
        &[
            "--policy",
            &by_bob,
            "--registries.d",
            &http_config,
            "copy",
            "-q",
            "--src-tls-verify=false",
            &format!("docker://{host}/by-skopeo/app:1"),
            "dir:pulled-over-http",
        ],
    )
    .assert_success();
    let requests = server.requests();
    assert!(
        requests.iter().any(
            |path| path.starts_with("/by-skopeo/app@sha256=") && path.ends_with("/signature-1")
        ),
        "{requests:?}"
    );
    // An http lookaside cannot be written to.
    let refused = skopos(
        &workspace,
        &keys,
        &[
            "--insecure-policy",
            "--registries.d",
            &http_config,
            "copy",
            "--dest-tls-verify=false",
            "--sign-by",
            &keys.alice,
            "oci:src:t",
            &format!("docker://{host}/over-http/app:1"),
        ],
    );
    assert_one_line_failure(&refused, Some(1));
    assert!(
        refused.stderr.contains(&format!(
            "Writing directly to a http lookaside {}/over-http/app@sha256=",
            server.url
        )) && refused
            .stderr
            .contains("Configure a lookaside-staging: location"),
        "{}",
        refused.stderr
    );

    // An unsigned image is refused, and nothing is written.
    skopos(
        &workspace,
        &keys,
        &[
            "--insecure-policy",
            "--registries.d",
            &file_config,
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "oci:src:t",
            &format!("docker://{host}/unsigned/app:1"),
        ],
    )
    .assert_success();
    let rejected = skopos(
        &workspace,
        &keys,
        &[
            "--policy",
            &by_alice,
            "--registries.d",
            &file_config,
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{host}/unsigned/app:1"),
            "dir:never",
        ],
    );
    assert_one_line_failure(&rejected, Some(1));
    assert_eq!(
        skopeo_message(&rejected.stderr),
        "Source image rejected: A signature was required, but no signature exists"
    );
    assert!(!workspace.path("never").exists());
}

/// A rootless user's process runs as uid 0 in its user namespace, with its own ID in
/// `_CONTAINERS_ROOTLESS_UID` (the harness sets 1000): with no lookaside configured, its
/// signatures go to the user's `~/.local/share/containers/sigstore`, as containers/image
/// chooses by `GetRootlessEUID`, not to root's `/var/lib/containers/sigstore`.
#[test]
fn a_rootless_users_signatures_go_to_the_lookaside_in_its_home() {
    let workspace = Workspace::new();
    let keys = Keys::new(&workspace);
    let registry = TestRegistry::start(RegistryOptions::default());
    workspace.image("src", "t", 96);
    let unconfigured = workspace.path("registries.d");
    std::fs::create_dir(&unconfigured).unwrap();
    skopos(
        &workspace,
        &keys,
        &[
            "--insecure-policy",
            "--registries.d",
            unconfigured.to_str().unwrap(),
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--sign-by",
            &keys.alice,
            "oci:src:t",
            &format!("docker://{}/rootless/app:1", registry.host),
        ],
    )
    .assert_success();
    let lookaside = workspace.path("home-skopos/.local/share/containers/sigstore");
    let entry = lookaside_entry(&lookaside, "rootless/app");
    assert!(entry.join("signature-1").exists());
}

#[test]
fn all_instances_are_signed_and_delete_removes_the_signatures() {
    let workspace = Workspace::new();
    let keys = Keys::new(&workspace);
    let registry = TestRegistry::start(RegistryOptions {
        delete_enabled: true,
        ..RegistryOptions::default()
    });
    let host = &registry.host;
    workspace.multi_arch("multi", "t");
    let lookaside = workspace.path("lookaside");
    let config = registries_d(
        &workspace,
        "registries.d",
        &format!("  lookaside: file://{}\n", lookaside.display()),
    );
    let image = format!("docker://{host}/multi/app:1");
    skopos(
        &workspace,
        &keys,
        &[
            "--insecure-policy",
            "--registries.d",
            &config,
            "copy",
            "-q",
            "--all",
            "--dest-tls-verify=false",
            "--sign-by",
            &keys.alice,
            "oci:multi:t",
            &image,
        ],
    )
    .assert_success();
    // The list and each of its three images got a signature.
    let signed: Vec<PathBuf> = std::fs::read_dir(lookaside.join("multi"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(signed.len(), 4, "{signed:?}");
    assert!(signed.iter().all(|dir| dir.join("signature-1").exists()));

    // Both tools verify every instance under a signedBy policy.
    let by_alice = docker_policy(&workspace, "alice-docker.json", "alice.gpg");
    for (tool, destination) in [
        ("skopeo", "dir:all-by-skopeo"),
        ("skopos", "dir:all-by-skopos"),
    ] {
        let args = [
            "--policy",
            &by_alice,
            "--registries.d",
            &config,
            "copy",
            "-q",
            "--all",
            "--src-tls-verify=false",
            &image,
            destination,
        ];
        let outcome = match tool {
            "skopeo" => skopeo(&workspace, &keys, &args),
            _ => skopos(&workspace, &keys, &args),
        };
        outcome.assert_success();
    }

    // delete removes the list's signatures from the lookaside.
    let list_entry = lookaside_entry_of(
        &lookaside,
        "multi/app",
        &registry_digest(&workspace, &image),
    );
    assert!(list_entry.join("signature-1").exists());
    skopos(
        &workspace,
        &keys,
        &[
            "--registries.d",
            &config,
            "delete",
            "--tls-verify=false",
            &image,
        ],
    )
    .assert_success();
    assert!(!list_entry.join("signature-1").exists());
}

/// The digest of the manifest `image` names in the registry.
fn registry_digest(workspace: &Workspace, image: &str) -> String {
    let outcome = workspace.skopos(&["inspect", "--raw", "--tls-verify=false", image]);
    outcome.assert_success();
    manifest_digest(&outcome.stdout_bytes)
}

/// `REPOSITORY@sha256=HEX` of the manifest `digest` in a lookaside.
fn lookaside_entry_of(lookaside: &Path, repository: &str, digest: &str) -> PathBuf {
    lookaside.join(format!("{repository}@{}", digest.replacen(':', "=", 1)))
}

#[test]
fn sync_signs_every_image_for_its_destination() {
    let workspace = Workspace::new();
    let keys = Keys::new(&workspace);
    let registry = TestRegistry::start(RegistryOptions::default());
    let host = &registry.host;
    workspace.image("src", "t", 98);
    std::fs::create_dir(workspace.path("tree")).unwrap();
    skopos(
        &workspace,
        &keys,
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "oci:src:t",
            "dir:tree/one",
        ],
    )
    .assert_success();
    let lookaside = workspace.path("lookaside");
    let config = registries_d(
        &workspace,
        "registries.d",
        &format!("  lookaside: file://{}\n", lookaside.display()),
    );
    skopos(
        &workspace,
        &keys,
        &[
            "--insecure-policy",
            "--registries.d",
            &config,
            "sync",
            "--src",
            "dir",
            "--dest",
            "docker",
            "--dest-tls-verify=false",
            "--sign-by",
            &keys.alice,
            "tree/one",
            &format!("{host}/synced"),
        ],
    )
    .assert_success();
    // The signature claims the image's destination and verifies with skopeo.
    let by_alice = docker_policy(&workspace, "alice-docker.json", "alice.gpg");
    skopeo(
        &workspace,
        &keys,
        &[
            "--policy",
            &by_alice,
            "--registries.d",
            &config,
            "copy",
            "-q",
            "--src-tls-verify=false",
            &format!("docker://{host}/synced/one:latest"),
            "dir:pulled",
        ],
    )
    .assert_success();
}

/// A signature by a key that was revoked, or that expired, after it signed: skopos refuses
/// it under a `signedBy` policy with exit status 1 and writes nothing, as skopeo 1.9.3
/// (GnuPG's verdict, through gpgme) does. 1.9.3 words both rejections as a dump of gpgme's
/// signature structure (with the signature's local time), so only its verdict and the
/// "Source image rejected: Invalid GPG signature: " prefix are compared. skopeo 1.22.2's
/// Go OpenPGP code treats a revoked key as missing and checks expiry at signing time, so
/// it says "Key not found" for the first and accepts the second.
#[test]
fn revoked_and_expired_keys_are_rejected_as_skopeo_1_9_does() {
    let workspace = Workspace::new();
    let keys = Keys::new(&workspace);
    unsigned_dir(&workspace, &keys, "unsigned");
    // Alice's signature by skopeo 1.9.3, Bob's by skopos.
    skopeo(
        &workspace,
        &keys,
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "--sign-by",
            &keys.alice,
            "--sign-identity",
            IDENTITY,
            "dir:unsigned",
            "dir:by-alice",
        ],
    )
    .assert_success();
    skopos(
        &workspace,
        &keys,
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "--sign-by",
            &keys.bob,
            "--sign-passphrase-file",
            "passphrase",
            "--sign-identity",
            IDENTITY,
            "dir:unsigned",
            "dir:by-bob",
        ],
    )
    .assert_success();

    // Alice revokes her key with the certificate `gpg --quick-gen-key` left for that.
    let certificate = std::fs::read_to_string(
        keys.home
            .join("openpgp-revocs.d")
            .join(format!("{}.rev", keys.alice)),
    )
    .unwrap()
    // gpg writes it with a colon in front of the armor, so it cannot be imported by mistake.
    .replace(
        ":-----BEGIN PGP PUBLIC KEY BLOCK-----",
        "-----BEGIN PGP PUBLIC KEY BLOCK-----",
    );
    std::fs::write(workspace.path("alice.rev"), certificate).unwrap();
    keys.gpg(&["--import", workspace.path("alice.rev").to_str().unwrap()]);
    // Bob's key expires a second from now.
    keys.gpg(&[
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        BOB_PASSPHRASE,
        "--quick-set-expire",
        &keys.bob,
        "seconds=1",
    ]);
    for (name, fingerprint) in [
        ("alice-revoked.gpg", &keys.alice),
        ("bob-expired.gpg", &keys.bob),
    ] {
        std::fs::write(workspace.path(name), keys.gpg(&["--export", fingerprint])).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_secs(2));

    let alice_key_id = &keys.alice[keys.alice.len() - 16..].to_lowercase();
    for (image, key_file, message, skopeo_1_22_message) in [
        (
            "by-alice",
            "alice-revoked.gpg",
            format!("key {} has been revoked", keys.alice),
            Some(format!(
                "Key not found for key ID {alice_key_id} in signature"
            )),
        ),
        (
            "by-bob",
            "bob-expired.gpg",
            format!("key {} expired on ", keys.bob),
            None,
        ),
    ] {
        let policy = policy(
            &workspace,
            &format!("{image}.json"),
            key_file,
            &exact_identity(),
        );
        let destination = format!("never-{image}");
        let ours = skopos(
            &workspace,
            &keys,
            &[
                "--policy",
                &policy,
                "copy",
                &format!("dir:{image}"),
                &format!("dir:{destination}"),
            ],
        );
        assert_one_line_failure(&ours, Some(1));
        let ours_message = skopeo_message(&ours.stderr);
        assert!(
            ours_message.starts_with(&format!("Source image rejected: {message}")),
            "{ours_message}"
        );
        assert!(!workspace.path(&destination).exists(), "{image}: written");

        let theirs = skopeo(
            &workspace,
            &keys,
            &[
                "--policy",
                &policy,
                "copy",
                &format!("dir:{image}"),
                &format!("dir:skopeo-{image}"),
            ],
        );
        assert_one_line_failure(&theirs, Some(1));
        assert!(
            skopeo_message(&theirs.stderr)
                .starts_with("Source image rejected: Invalid GPG signature: "),
            "{}",
            theirs.stderr
        );

        if let Some(peer) = skopeo_1_22(&format!("skopeo 1.22's verdict on {image}")) {
            let peer_outcome = workspace.skopeo_at_with_env(
                &peer,
                &keys.env(),
                &[
                    "--policy",
                    &policy,
                    "copy",
                    "-q",
                    &format!("dir:{image}"),
                    &format!("dir:skopeo-1-22-{image}"),
                ],
            );
            match skopeo_1_22_message {
                Some(message) => assert_eq!(
                    skopeo_message(&peer_outcome.stderr),
                    format!("Source image rejected: {message}")
                ),
                None => {
                    peer_outcome.assert_success();
                }
            }
        }
    }
}
