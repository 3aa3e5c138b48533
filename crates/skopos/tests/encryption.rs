//! Layer encryption (`--encryption-key`, `--encrypt-layer`, `--decryption-key`) in ocicrypt's
//! format: images skopos encrypts are decrypted by skopeo 1.22.2 and the other way round,
//! giving back the very layers (so the same DiffIDs); wrong or missing keys and tampered
//! layers fail with skopeo's messages and write nothing. OpenPGP recipients come from a
//! private GNUPGHOME, as skopeo finds them with `gpg --export`.

mod common;

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use common::gnupg::{Keys, BOB_PASSPHRASE};
use common::{assert_one_line_failure, parse_json, read, skopeo_message, Workspace};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use skopos_testimage::{ImageSpec, WrittenImage};

const KEYS_JWE: &str = "org.opencontainers.image.enc.keys.jwe";
const KEYS_PGP: &str = "org.opencontainers.image.enc.keys.pgp";
const PUBOPTS: &str = "org.opencontainers.image.enc.pubopts";

/// Runs openssl with `args` in the work area.
fn openssl(workspace: &Workspace, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(workspace.path(""))
        .output()
        .unwrap_or_else(|e| panic!("running openssl: {e}"));
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A key pair `NAME.pem` (private, PKCS#8 or PKCS#1 PEM) and `NAME.pub` (SPKI PEM):
/// `kind` is "rsa" or an EC curve name.
fn key_pair(workspace: &Workspace, name: &str, kind: &str) {
    let private = format!("{name}.pem");
    let public = format!("{name}.pub");
    if kind == "rsa" {
        openssl(workspace, &["genrsa", "-out", &private, "2048"]);
    } else {
        let curve = format!("ec_paramgen_curve:{kind}");
        openssl(
            workspace,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                &curve,
                "-out",
                &private,
            ],
        );
    }
    openssl(
        workspace,
        &["pkey", "-in", &private, "-pubout", "-out", &public],
    );
}

/// The manifest of the only image in OCI layout `dir`.
fn layout_manifest(dir: &Path) -> Value {
    let index = parse_json(&read(&dir.join("index.json")));
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    parse_json(&read(&blob_path(dir, &digest)))
}

fn blob_path(dir: &Path, digest: &str) -> std::path::PathBuf {
    dir.join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn layer_digests(manifest: &Value) -> Vec<String> {
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

/// Asserts that `dir` holds `image` with exactly its layers and config again.
fn assert_decrypted(dir: &Path, image: &WrittenImage, who: &str) {
    let manifest = layout_manifest(dir);
    let expected: Vec<String> = image.layers.iter().map(|l| l.digest.clone()).collect();
    assert_eq!(
        layer_digests(&manifest),
        expected,
        "{who}: decrypted layers"
    );
    for (layer, source) in manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&image.layers)
    {
        assert_eq!(layer["mediaType"], source.media_type.as_str(), "{who}");
        let annotations = layer["annotations"].as_object();
        assert!(
            annotations.is_none_or(|a| !a
                .keys()
                .any(|k| k.starts_with("org.opencontainers.image.enc"))),
            "{who}: encryption annotations left: {layer}"
        );
    }
    // The same config, so the same DiffIDs.
    assert_eq!(
        manifest["config"]["digest"],
        image.config.digest.as_str(),
        "{who}"
    );
}

/// Asserts that the layers at `indices` of the image in `dir` are encrypted (and the others
/// are `image`'s own), as ocicrypt writes them.
fn assert_encrypted(dir: &Path, image: &WrittenImage, indices: &[usize]) {
    let manifest = layout_manifest(dir);
    assert_eq!(
        manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json",
        "encrypted layers need an OCI manifest"
    );
    assert_eq!(manifest["config"]["digest"], image.config.digest.as_str());
    for (i, (layer, source)) in manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&image.layers)
        .enumerate()
    {
        if !indices.contains(&i) {
            assert_eq!(
                layer["digest"],
                source.digest.as_str(),
                "layer {i} stays plain"
            );
            continue;
        }
        assert_eq!(
            layer["mediaType"],
            format!("{}+encrypted", source.media_type).as_str(),
            "layer {i}"
        );
        assert_ne!(layer["digest"], source.digest.as_str(), "layer {i}");
        // AES-CTR: the ciphertext is as long as the plaintext.
        assert_eq!(layer["size"], source.size, "layer {i}");
        let annotations = &layer["annotations"];
        assert!(
            annotations
                .as_object()
                .unwrap()
                .keys()
                .any(|k| k.starts_with("org.opencontainers.image.enc.keys.")),
            "layer {i} carries no wrapped keys"
        );
        if let Some(jwe) = annotations[KEYS_JWE].as_str() {
            let jwe = base64_decode(jwe);
            assert!(parse_json(&jwe)["ciphertext"].is_string(), "a JWE: {jwe:?}");
        }
        let pubopts = parse_json(&base64_decode(annotations[PUBOPTS].as_str().unwrap()));
        assert_eq!(pubopts["cipher"], "AES_256_CTR_HMAC_SHA256");
        assert_eq!(base64_decode(pubopts["hmac"].as_str().unwrap()).len(), 32);
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap_or_else(|e| panic!("base64 {text:?}: {e}"))
}

/// Nothing of an image was written at `dir` (skopeo, too, leaves at most an empty `blobs`).
fn assert_nothing_written(dir: &Path) {
    assert!(
        !dir.join("index.json").exists(),
        "{} has an index",
        dir.display()
    );
    let blobs = dir.join("blobs/sha256");
    let count = std::fs::read_dir(&blobs).map_or(0, |d| d.count());
    assert_eq!(count, 0, "{} has blobs", blobs.display());
}

fn copy_args<'a>(flags: &[&'a str], from: &'a str, to: &'a str) -> Vec<&'a str> {
    let mut args = vec!["--insecure-policy", "copy", "-q"];
    args.extend(flags);
    args.extend([from, to]);
    args
}

#[test]
fn jwe_encryption_round_trips_with_skopeo_1_22() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 31);
    for (name, kind) in [
        ("rsa", "rsa"),
        ("p256", "P-256"),
        ("p384", "P-384"),
        ("p521", "P-521"),
    ] {
        key_pair(&workspace, name, kind);
        let public = format!("jwe:{name}.pub");
        let private = format!("{name}.pem");
        let encrypted = format!("oci:enc-{name}:t");
        workspace
            .skopos(&copy_args(
                &["--encryption-key", &public],
                "oci:src:t",
                &encrypted,
            ))
            .assert_success();
        assert_encrypted(&workspace.path(&format!("enc-{name}")), &image, &[0, 1, 2]);

        let ours = format!("oci:dec-{name}:t");
        workspace
            .skopos(&copy_args(
                &["--decryption-key", &private],
                &encrypted,
                &ours,
            ))
            .assert_success();
        assert_decrypted(&workspace.path(&format!("dec-{name}")), &image, "skopos");

        let what = format!("decrypting skopos's {kind} JWE encryption with skopeo 1.22.2");
        let theirs = format!("oci:skopeo-dec-{name}:t");
        let Some(outcome) = workspace.skopeo_1_22(
            &what,
            &[],
            &copy_args(&["--decryption-key", &private], &encrypted, &theirs),
        ) else {
            continue;
        };
        outcome.assert_success();
        assert_decrypted(
            &workspace.path(&format!("skopeo-dec-{name}")),
            &image,
            "skopeo",
        );

        // And the other way round.
        let by_skopeo = format!("oci:skopeo-enc-{name}:t");
        workspace
            .skopeo_1_22(
                &what,
                &[],
                &copy_args(&["--encryption-key", &public], "oci:src:t", &by_skopeo),
            )
            .unwrap()
            .assert_success();
        assert_encrypted(
            &workspace.path(&format!("skopeo-enc-{name}")),
            &image,
            &[0, 1, 2],
        );
        let back = format!("oci:back-{name}:t");
        workspace
            .skopos(&copy_args(
                &["--decryption-key", &private],
                &by_skopeo,
                &back,
            ))
            .assert_success();
        assert_decrypted(&workspace.path(&format!("back-{name}")), &image, "skopos");
    }
}

#[test]
fn several_recipients_each_decrypt() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 32);
    key_pair(&workspace, "rsa", "rsa");
    key_pair(&workspace, "ec", "P-256");
    workspace
        .skopos(&copy_args(
            &[
                "--encryption-key",
                "jwe:rsa.pub",
                "--encryption-key",
                "jwe:ec.pub",
            ],
            "oci:src:t",
            "oci:enc:t",
        ))
        .assert_success();
    assert_encrypted(&workspace.path("enc"), &image, &[0, 1, 2]);
    for key in ["rsa.pem", "ec.pem"] {
        let out = format!("dec-{key}");
        workspace
            .skopos(&copy_args(
                &["--decryption-key", key],
                "oci:enc:t",
                &format!("oci:{out}:t"),
            ))
            .assert_success();
        assert_decrypted(&workspace.path(&out), &image, key);
        if let Some(outcome) = workspace.skopeo_1_22(
            "decrypting a JWE for several recipients with skopeo 1.22.2",
            &[],
            &copy_args(
                &["--decryption-key", key],
                "oci:enc:t",
                &format!("oci:skopeo-{out}:t"),
            ),
        ) {
            outcome.assert_success();
            assert_decrypted(&workspace.path(&format!("skopeo-{out}")), &image, "skopeo");
        }
    }
}

#[test]
fn encrypt_layer_selects_layers_as_skopeo() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 33);
    key_pair(&workspace, "rsa", "rsa");
    let flags = [
        "--encryption-key",
        "jwe:rsa.pub",
        "--encrypt-layer",
        "0",
        "--encrypt-layer=-1",
    ];
    workspace
        .skopos(&copy_args(&flags, "oci:src:t", "oci:some:t"))
        .assert_success();
    assert_encrypted(&workspace.path("some"), &image, &[0, 2]);
    workspace
        .skopos(&copy_args(
            &["--decryption-key", "rsa.pem"],
            "oci:some:t",
            "oci:plain:t",
        ))
        .assert_success();
    assert_decrypted(&workspace.path("plain"), &image, "skopos");

    for index in ["3", "-4"] {
        let flags = ["--encryption-key", "jwe:rsa.pub", "--encrypt-layer", index];
        let args = copy_args(&flags, "oci:src:t", "oci:out:t");
        let ours = workspace.skopos(&args);
        assert_one_line_failure(&ours, Some(1));
        let expected = format!(
            "when choosing layers to encrypt, layer index {index} out of range (3 layers exist)"
        );
        assert_eq!(skopeo_message(&ours.stderr), expected);
        assert_nothing_written(&workspace.path("out"));
        if let Some(theirs) = workspace.skopeo_1_22(
            "comparing --encrypt-layer out of range with skopeo 1.22.2",
            &[],
            &args,
        ) {
            assert_eq!(skopeo_message(&theirs.stderr), expected);
        }
    }
}

/// Rewrites the only image of layout `dir` so that the first layer's ciphertext has one bit
/// flipped, with the manifest and index following the new digest: only the layer's HMAC can
/// tell.
fn tamper_first_layer(dir: &Path) {
    let index_path = dir.join("index.json");
    let mut index = parse_json(&read(&index_path));
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let mut manifest = parse_json(&read(&blob_path(dir, &manifest_digest)));
    let layer_digest = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let mut layer = read(&blob_path(dir, &layer_digest));
    let middle = layer.len() / 2;
    layer[middle] ^= 1;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&layer)));
    std::fs::write(blob_path(dir, &digest), &layer).unwrap();
    manifest["layers"][0]["digest"] = Value::String(digest);
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&manifest_bytes)));
    std::fs::write(blob_path(dir, &digest), &manifest_bytes).unwrap();
    index["manifests"][0]["digest"] = Value::String(digest);
    index["manifests"][0]["size"] = Value::from(manifest_bytes.len());
    std::fs::write(index_path, serde_json::to_vec(&index).unwrap()).unwrap();
}

#[test]
fn wrong_missing_keys_and_tampered_layers_fail_as_in_skopeo() {
    let workspace = Workspace::new();
    // Layers under ocicrypt's 10 KiB read-ahead: skopeo notices a bad HMAC while it looks at
    // the first bytes of the layer, and says so as "reading blob".
    workspace.image_from("src", "t", &ImageSpec::new(34).with_layers(2, 3000));
    key_pair(&workspace, "rsa", "rsa");
    key_pair(&workspace, "other", "rsa");
    std::fs::write(workspace.path("not-a-key"), "just text\n").unwrap();
    workspace
        .skopos(&copy_args(
            &["--encryption-key", "jwe:rsa.pub"],
            "oci:src:t",
            "oci:enc:t",
        ))
        .assert_success();
    let layer = layout_manifest(&workspace.path("enc"))["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    std::process::Command::new("cp")
        .args(["-r", "enc", "tampered"])
        .current_dir(workspace.path(""))
        .status()
        .unwrap();
    tamper_first_layer(&workspace.path("tampered"));
    let tampered_layer = layout_manifest(&workspace.path("tampered"))["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();

    let cases = [
        (
            "a wrong key",
            "other.pem",
            "oci:enc:t",
            format!("decrypting layer {layer}: no suitable key unwrapper found or none of the private keys could be used for decryption:\\nno suitable key found for decrypting layer key:\\n- JWE: No suitable private key found for decryption\\n\\n"),
        ),
        (
            "a file that is no key",
            "not-a-key",
            "oci:enc:t",
            format!("decrypting layer {layer}: missing private key needed for decryption:\\n"),
        ),
        (
            "a missing key file",
            "missing.pem",
            "oci:enc:t",
            "Invalid decryption keys: open missing.pem: no such file or directory".to_string(),
        ),
        (
            "a tampered layer",
            "rsa.pem",
            "oci:tampered:t",
            format!("reading blob {tampered_layer}: could not properly decrypt byte stream; exp hmac: '"),
        ),
    ];
    for (what, key, source, expected) in cases {
        let out = format!("out-{}", what.replace(' ', "-"));
        let destination = format!("oci:{out}:t");
        let args = copy_args(&["--decryption-key", key], source, &destination);
        let ours = workspace.skopos(&args);
        assert_one_line_failure(&ours, Some(1));
        let message = skopeo_message(&ours.stderr);
        assert!(
            message.starts_with(&expected),
            "{what}: {message:?}, expected {expected:?}"
        );
        assert_nothing_written(&workspace.path(&out));
        let skopeo_out = format!("skopeo-{out}");
        let skopeo_destination = format!("oci:{skopeo_out}:t");
        let args = copy_args(&["--decryption-key", key], source, &skopeo_destination);
        if let Some(theirs) = workspace.skopeo_1_22(
            &format!("decrypting with {what} with skopeo 1.22.2"),
            &[],
            &args,
        ) {
            assert_eq!(theirs.code, Some(1), "{what}: {}", theirs.stderr);
            let their_message = skopeo_message(&theirs.stderr);
            if what == "a tampered layer" {
                // skopeo goes on with the actual HMAC as raw bytes; skopos leaves them out.
                assert!(
                    their_message.starts_with(&message),
                    "{their_message:?} vs {message:?}"
                );
            } else {
                assert_eq!(their_message, message, "{what}");
            }
            // skopeo may have stored the other, intact layer before it failed; skopos stops
            // every layer copy at the first failure.
        }
    }
}

#[test]
fn encryption_needs_an_oci_manifest_as_in_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 35);
    key_pair(&workspace, "rsa", "rsa");
    workspace
        .skopos(&copy_args(
            &["--encryption-key", "jwe:rsa.pub"],
            "oci:src:t",
            "oci:enc:t",
        ))
        .assert_success();
    let cases: [(&[&str], &str, &str, &str); 4] = [
        (
            &["--encryption-key", "jwe:rsa.pub", "--format", "v2s2"],
            "oci:src:t",
            "oci:out:t",
            "encryption required together with format application/vnd.docker.distribution.manifest.v2+json, which does not support encryption",
        ),
        (
            &["--encryption-key", "jwe:rsa.pub"],
            "oci:src:t",
            "docker-archive:out",
            "encryption required but the destination only supports MIME types [application/vnd.docker.distribution.manifest.v2+json], none of which support encryption",
        ),
        // Encrypted layers kept encrypted need an OCI manifest too.
        (
            &[],
            "oci:enc:t",
            "docker-archive:out",
            "encryption required but the destination only supports MIME types [application/vnd.docker.distribution.manifest.v2+json], none of which support encryption",
        ),
        (
            &["--encryption-key", "jwe:rsa.pub", "--decryption-key", "rsa.pem"],
            "oci:enc:t",
            "oci:out:t",
            "--encryption-key and --decryption-key cannot be specified together",
        ),
    ];
    for (flags, from, to, expected) in cases {
        let args = copy_args(flags, from, to);
        let ours = workspace.skopos(&args);
        assert_one_line_failure(&ours, Some(1));
        assert_eq!(skopeo_message(&ours.stderr), expected, "{flags:?} {to}");
        assert_nothing_written(&workspace.path("out"));
        if let Some(theirs) = workspace.skopeo_1_22(
            &format!("comparing {flags:?} to {to} with skopeo 1.22.2"),
            &[],
            &args,
        ) {
            assert_eq!(skopeo_message(&theirs.stderr), expected, "{flags:?} {to}");
        }
        // Both tools leave an empty `out/blobs` behind; the next case starts without it,
        // with or without the peer.
        let _ = std::fs::remove_dir_all(workspace.path("out"));
        let _ = std::fs::remove_file(workspace.path("out"));
    }
}

/// The fixed password-protected key of `tests/fixtures/password-protected-key`, copied into
/// the work area as `fixed.pem` (password "secret") with its public key `fixed.pub`.
fn fixed_password_protected_key(workspace: &Workspace) {
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/password-protected-key");
    for (from, to) in [("rsa-aes256.pem", "fixed.pem"), ("rsa.pub", "fixed.pub")] {
        std::fs::copy(fixtures.join(from), workspace.path(to))
            .unwrap_or_else(|e| panic!("copying fixture {from}: {e}"));
    }
}

#[test]
fn password_protected_private_keys_decrypt_as_in_skopeo() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 37);
    fixed_password_protected_key(&workspace);
    // OpenSSL's traditional encrypted PEM in every cipher Go's x509 reads, made from one key.
    key_pair(&workspace, "rsa", "rsa");
    // OpenSSL 3 writes single DES only with its legacy provider loaded.
    for (cipher, providers) in [
        ("aes128", &[][..]),
        ("aes192", &[]),
        ("aes256", &[]),
        ("des3", &[]),
        ("des", &["-provider", "legacy", "-provider", "default"]),
    ] {
        let out = format!("rsa-{cipher}.pem");
        let cipher_flag = format!("-{cipher}");
        let mut args = vec!["rsa"];
        args.extend(providers);
        args.extend([
            "-in",
            "rsa.pem",
            &cipher_flag,
            "-traditional",
            "-passout",
            "pass:pw",
            "-out",
            &out,
        ]);
        openssl(&workspace, &args);
        let text = String::from_utf8_lossy(&read(&workspace.path(&out))).into_owned();
        assert!(text.contains("Proc-Type: 4,ENCRYPTED"), "{cipher}: {text}");
    }
    std::fs::write(workspace.path("password"), "pw").unwrap();
    workspace
        .skopos(&copy_args(
            &["--encryption-key", "jwe:rsa.pub"],
            "oci:src:t",
            "oci:enc:t",
        ))
        .assert_success();
    // Every cipher, and the password forms `TEXT`, `pass=TEXT` and `file=PATH`.
    for (n, key) in [
        "rsa-aes128.pem:pw",
        "rsa-aes192.pem:pass=pw",
        "rsa-aes256.pem:file=password",
        "rsa-des3.pem:pw",
        "rsa-des.pem:pw",
    ]
    .iter()
    .enumerate()
    {
        let out = format!("dec-{n}");
        workspace
            .skopos(&copy_args(
                &["--decryption-key", key],
                "oci:enc:t",
                &format!("oci:{out}:t"),
            ))
            .assert_success();
        assert_decrypted(&workspace.path(&out), &image, &format!("skopos with {key}"));
    }
    if let Some(theirs) = workspace.skopeo_1_22(
        "decrypting with a password-protected key with skopeo 1.22.2",
        &[],
        &copy_args(
            &["--decryption-key", "rsa-aes256.pem:pw"],
            "oci:enc:t",
            "oci:skopeo-dec:t",
        ),
    ) {
        theirs.assert_success();
        assert_decrypted(&workspace.path("skopeo-dec"), &image, "skopeo");
    }

    // A missing or wrong password stops the command before anything is read; an EC key in
    // this format decrypts but Go's x509 reads only PKCS#8 or PKCS#1 from it, so skopeo
    // ignores the file as any other that is no key.
    openssl(
        &workspace,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ec.pem",
        ],
    );
    openssl(
        &workspace,
        &[
            "ec",
            "-in",
            "ec.pem",
            "-aes128",
            "-passout",
            "pass:pw",
            "-out",
            "ec-aes128.pem",
        ],
    );
    workspace
        .skopos(&copy_args(
            &["--encryption-key", "jwe:fixed.pub"],
            "oci:src:t",
            "oci:enc-fixed:t",
        ))
        .assert_success();
    let layer = layout_manifest(&workspace.path("enc-fixed"))["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    for (what, key, expected) in [
        (
            "no password",
            "fixed.pem",
            "Invalid decryption keys: : Missing password for encrypted private key".to_string(),
        ),
        (
            "a wrong password",
            "fixed.pem:pass=wrong",
            "Invalid decryption keys: : Wrong password: could not decrypt private key".to_string(),
        ),
        (
            "an EC key",
            "ec-aes128.pem:pw",
            format!("decrypting layer {layer}: missing private key needed for decryption:\\n"),
        ),
    ] {
        let out = format!("out-{}", what.replace(' ', "-"));
        let destination = format!("oci:{out}:t");
        let args = copy_args(&["--decryption-key", key], "oci:enc-fixed:t", &destination);
        let ours = workspace.skopos(&args);
        assert_one_line_failure(&ours, Some(1));
        assert_eq!(skopeo_message(&ours.stderr), expected, "{what}");
        assert_nothing_written(&workspace.path(&out));
        let skopeo_destination = format!("oci:skopeo-{out}:t");
        let args = copy_args(
            &["--decryption-key", key],
            "oci:enc-fixed:t",
            &skopeo_destination,
        );
        if let Some(theirs) = workspace.skopeo_1_22(
            &format!("decrypting with {what} with skopeo 1.22.2"),
            &[],
            &args,
        ) {
            assert_eq!(theirs.code, Some(1), "{what}: {}", theirs.stderr);
            assert_eq!(skopeo_message(&theirs.stderr), expected, "{what}");
        }
    }
    // And the right password of the fixed key.
    workspace
        .skopos(&copy_args(
            &["--decryption-key", "fixed.pem:secret"],
            "oci:enc-fixed:t",
            "oci:dec-fixed:t",
        ))
        .assert_success();
    assert_decrypted(
        &workspace.path("dec-fixed"),
        &image,
        "skopos with the fixed key",
    );
}

/// The named hex fields of `openssl pkey -text -noout` for private key `pem`, as bytes
/// (`publicExponent`, on one line, as its decimal value's big-endian bytes).
fn openssl_key_fields(
    workspace: &Workspace,
    pem: &str,
) -> std::collections::HashMap<String, Vec<u8>> {
    let output = Command::new("openssl")
        .args(["pkey", "-in", pem, "-text", "-noout"])
        .current_dir(workspace.path(""))
        .output()
        .unwrap_or_else(|e| panic!("running openssl: {e}"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut fields = std::collections::HashMap::new();
    let mut current: Option<String> = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if let Some(hex_line) = line.strip_prefix("    ") {
            if let Some(name) = &current {
                let bytes: Vec<u8> = hex_line
                    .split(':')
                    .filter(|b| !b.trim().is_empty())
                    .map(|b| u8::from_str_radix(b.trim(), 16).unwrap())
                    .collect();
                fields
                    .entry(name.clone())
                    .or_insert_with(Vec::new)
                    .extend(bytes);
            }
        } else if let Some(rest) = line.strip_prefix("publicExponent: ") {
            let value: u64 = rest.split(' ').next().unwrap().parse().unwrap();
            let bytes = value.to_be_bytes();
            let first = bytes.iter().position(|&b| b != 0).unwrap();
            fields.insert("publicExponent".into(), bytes[first..].to_vec());
            current = None;
        } else {
            current = line.strip_suffix(':').map(str::to_string);
        }
    }
    fields
}

/// A private key's JWKs, made from what openssl prints of `NAME.pem` (not by skopos):
/// `NAME.jwk` (private) and `NAME.pub.jwk` (public, with `extra` members such as `alg`).
fn jwks(workspace: &Workspace, name: &str, curve: Option<(&str, usize)>, extra: &str) {
    let fields = openssl_key_fields(workspace, &format!("{name}.pem"));
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    // openssl prints a leading zero byte on values whose top bit is set; a JWK has none,
    // and EC values have exactly the curve's length.
    let unsigned = |name: &str| {
        let bytes = &fields[name];
        let first = bytes.iter().position(|&b| b != 0).unwrap_or(0);
        bytes[first..].to_vec()
    };
    let (public, private) = match curve {
        None => {
            let public = format!(
                r#"{{"kty":"RSA","n":"{}","e":"{}"{extra}}}"#,
                b64(&unsigned("modulus")),
                b64(&fields["publicExponent"])
            );
            let private = format!(
                r#"{{"kty":"RSA","n":"{}","e":"{}","d":"{}","p":"{}","q":"{}"}}"#,
                b64(&unsigned("modulus")),
                b64(&fields["publicExponent"]),
                b64(&unsigned("privateExponent")),
                b64(&unsigned("prime1")),
                b64(&unsigned("prime2"))
            );
            (public, private)
        }
        Some((crv, len)) => {
            let point = &fields["pub"];
            assert_eq!(point.len(), 1 + 2 * len, "an uncompressed point");
            let (x, y) = (&point[1..1 + len], &point[1 + len..]);
            let d = unsigned("priv");
            let mut padded = vec![0u8; len - d.len()];
            padded.extend(d);
            let public = format!(
                r#"{{"kty":"EC","crv":"{crv}","x":"{}","y":"{}"{extra}}}"#,
                b64(x),
                b64(y)
            );
            let private = format!(
                r#"{{"kty":"EC","crv":"{crv}","x":"{}","y":"{}","d":"{}"}}"#,
                b64(x),
                b64(y),
                b64(&padded)
            );
            (public, private)
        }
    };
    std::fs::write(workspace.path(&format!("{name}.pub.jwk")), public).unwrap();
    std::fs::write(workspace.path(&format!("{name}.jwk")), private).unwrap();
}

#[test]
fn jwk_keys_encrypt_and_decrypt_with_skopeo() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 38);
    key_pair(&workspace, "rsa", "rsa");
    jwks(&workspace, "rsa", None, "");
    key_pair(&workspace, "rsa256", "rsa");
    jwks(
        &workspace,
        "rsa256",
        None,
        r#","alg":"RSA-OAEP-256","kid":"key-1""#,
    );
    key_pair(&workspace, "p256", "P-256");
    jwks(
        &workspace,
        "p256",
        Some(("P-256", 32)),
        r#","alg":"ECDH-ES+A128KW""#,
    );
    key_pair(&workspace, "p521", "P-521");
    jwks(
        &workspace,
        "p521",
        Some(("P-521", 66)),
        r#","alg":"ECDH-ES+A256KW""#,
    );
    for (name, alg) in [
        ("rsa", "RSA-OAEP"),
        ("rsa256", "RSA-OAEP-256"),
        ("p256", "ECDH-ES+A128KW"),
        ("p521", "ECDH-ES+A256KW"),
    ] {
        // skopos encrypts to the public JWK with its algorithm; skopeo decrypts with the PEM
        // key, skopos with the private JWK.
        let public = format!("jwe:{name}.pub.jwk");
        let encrypted = format!("oci:enc-{name}:t");
        workspace
            .skopos(&copy_args(
                &["--encryption-key", &public],
                "oci:src:t",
                &encrypted,
            ))
            .assert_success();
        assert_encrypted(&workspace.path(&format!("enc-{name}")), &image, &[0, 1, 2]);
        let manifest = layout_manifest(&workspace.path(&format!("enc-{name}")));
        let wrapped = base64_decode(
            manifest["layers"][0]["annotations"][KEYS_JWE]
                .as_str()
                .unwrap(),
        );
        let jwe = parse_json(&wrapped);
        let protected = parse_json(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jwe["protected"].as_str().unwrap())
                .unwrap(),
        );
        assert_eq!(protected["alg"], alg, "{name}");
        if name == "rsa256" {
            assert_eq!(protected["kid"], "key-1");
        }
        let private_jwk = format!("{name}.jwk");
        let private_pem = format!("{name}.pem");
        let ours = format!("oci:dec-{name}:t");
        workspace
            .skopos(&copy_args(
                &["--decryption-key", &private_jwk],
                &encrypted,
                &ours,
            ))
            .assert_success();
        assert_decrypted(&workspace.path(&format!("dec-{name}")), &image, "skopos");
        let theirs = format!("oci:skopeo-dec-{name}:t");
        workspace
            .skopeo(&copy_args(
                &["--decryption-key", &private_pem],
                &encrypted,
                &theirs,
            ))
            .assert_success();
        assert_decrypted(
            &workspace.path(&format!("skopeo-dec-{name}")),
            &image,
            "skopeo",
        );

        // skopeo encrypts to the public JWK; skopos decrypts with the private JWK. skopeo
        // 1.9.3 (ocicrypt 1.1) ignores a JWK's `alg`, so it takes only the plain RSA one.
        let by_skopeo = format!("oci:skopeo-enc-{name}:t");
        let args = copy_args(&["--encryption-key", &public], "oci:src:t", &by_skopeo);
        let outcome = if name == "rsa" {
            workspace.skopeo(&args)
        } else {
            match workspace.skopeo_1_22(
                &format!("encrypting to a {alg} JWK with skopeo 1.22.2"),
                &[],
                &args,
            ) {
                Some(outcome) => outcome,
                None => continue,
            }
        };
        outcome.assert_success();
        let back = format!("oci:back-{name}:t");
        workspace
            .skopos(&copy_args(
                &["--decryption-key", &private_jwk],
                &by_skopeo,
                &back,
            ))
            .assert_success();
        assert_decrypted(&workspace.path(&format!("back-{name}")), &image, "skopos");
    }

    // An EC JWK without `alg` gets ocicrypt's RSA-OAEP, which go-jose refuses for an EC
    // key; a private JWK is no recipient.
    jwks(&workspace, "p256", Some(("P-256", 32)), "");
    for (key, expected) in [
        (
            "jwe:p256.pub.jwk",
            "Unable to finalize encryption: jose.NewMultiEncrypter failed: go-jose/go-jose: unknown/unsupported algorithm",
        ),
        ("jwe:rsa.jwk", "Invalid encryption keys: File provided is not a public key"),
    ] {
        let args = copy_args(&["--encryption-key", key], "oci:src:t", "oci:out:t");
        let ours = workspace.skopos(&args);
        assert_one_line_failure(&ours, Some(1));
        assert_eq!(skopeo_message(&ours.stderr), expected, "{key}");
        assert_nothing_written(&workspace.path("out"));
        let skopeo_args = copy_args(&["--encryption-key", key], "oci:src:t", "oci:skopeo-out:t");
        if let Some(theirs) = workspace.skopeo_1_22(
            &format!("encrypting to {key} with skopeo 1.22.2"),
            &[],
            &skopeo_args,
        ) {
            assert_eq!(skopeo_message(&theirs.stderr), expected, "{key}");
        }
    }
}

#[test]
fn recipient_errors_read_as_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 36);
    std::fs::write(workspace.path("not-a-key"), "just text\n").unwrap();
    for (key, expected) in [
        ("nocolon", "Invalid encryption keys: Invalid recipient format"),
        ("foo:bar", "Invalid encryption keys: Provided protocol not recognized"),
        ("jwe:not-a-key", "Invalid encryption keys: File provided is not a public key"),
        (
            "jwe:missing.pub",
            "Invalid encryption keys: Unable to read file: open missing.pub: no such file or directory",
        ),
    ] {
        let args = copy_args(&["--encryption-key", key], "oci:src:t", "oci:out:t");
        let ours = workspace.skopos(&args);
        assert_one_line_failure(&ours, Some(1));
        assert_eq!(skopeo_message(&ours.stderr), expected);
        assert!(!workspace.path("out").exists());
        if let Some(theirs) =
            workspace.skopeo_1_22(&format!("comparing --encryption-key {key} with skopeo 1.22.2"), &[], &args)
        {
            assert_eq!(skopeo_message(&theirs.stderr), expected);
        }
    }
}

/// A command key provider (ocicrypt's key provider protocol on stdin/stdout) that "wraps" by
/// prefixing `kms-v1:` and logs every request to `kms.log`; and one that always fails.
fn key_providers(workspace: &Workspace) -> String {
    let script = workspace.path("kms.sh");
    let log = workspace.path("kms.log");
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
input=$(cat)
printf '%s\n' "$input" >> '{log}'
field() {{ printf '%s' "$input" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }}
case "$input" in
*'"op":"keywrap"'*)
  printf '{{"keywrapresults":{{"annotation":"%s"}}}}' "$(printf 'kms-v1:%s' "$(field optsdata)" | base64 -w0)";;
*)
  wrapped=$(field annotation | base64 -d)
  case "$wrapped" in kms-v1:*) ;; *) echo "not a kms key" >&2; exit 3;; esac
  printf '{{"keyunwrapresults":{{"optsdata":"%s"}}}}' "${{wrapped#kms-v1:}}";;
esac
"#,
            log = log.display()
        ),
    )
    .unwrap();
    let failing = workspace.path("down.sh");
    std::fs::write(
        &failing,
        "#!/bin/sh\ncat >/dev/null\necho 'kms is down' >&2\nexit 3\n",
    )
    .unwrap();
    for path in [&script, &failing] {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let config = workspace.path("keyproviders.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"key-providers":{{"kms":{{"cmd":{{"path":"{}","args":[]}}}},"down":{{"cmd":{{"path":"{}"}}}}}}}}"#,
            script.display(),
            failing.display()
        ),
    )
    .unwrap();
    config.display().to_string()
}

#[test]
fn command_key_providers_wrap_and_unwrap_as_in_skopeo() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 37);
    let config = key_providers(&workspace);
    let env = [("OCICRYPT_KEYPROVIDER_CONFIG", config.as_str())];
    workspace
        .skopos_with_env(
            &env,
            &copy_args(
                &["--encryption-key", "provider:kms:key=1"],
                "oci:src:t",
                "oci:enc:t",
            ),
        )
        .assert_success();
    let manifest = layout_manifest(&workspace.path("enc"));
    for layer in manifest["layers"].as_array().unwrap() {
        let wrapped = base64_decode(
            layer["annotations"]["org.opencontainers.image.enc.keys.provider.kms"]
                .as_str()
                .unwrap(),
        );
        assert!(wrapped.starts_with(b"kms-v1:"), "{wrapped:?}");
        assert!(layer["annotations"][PUBOPTS].is_string());
    }
    // The provider saw its parameter (`key=1`, base64) and the private options.
    let log = String::from_utf8(read(&workspace.path("kms.log"))).unwrap();
    assert!(
        log.contains(r#""Parameters":{"kms":["a2V5PTE="]}"#),
        "{log}"
    );
    workspace
        .skopos_with_env(
            &env,
            &copy_args(
                &["--decryption-key", "provider:kms"],
                "oci:enc:t",
                "oci:dec:t",
            ),
        )
        .assert_success();
    assert_decrypted(&workspace.path("dec"), &image, "skopos");

    let failures = [
        (
            vec!["--decryption-key", "provider:kms"],
            "oci:enc:t",
            "Error while running command: ",
        ),
        (
            vec!["--encryption-key", "provider:down"],
            "oci:src:t",
            "Unable to finalize encryption: error while retrieving keyprovider protocol command output: Error while running command: ",
        ),
        (
            vec!["--encryption-key", "provider:unconfigured"],
            "oci:src:t",
            "Unable to finalize encryption: no wrapped keys produced by encryption",
        ),
    ];
    // Decrypting with a provider that fails: point "kms" at the failing script.
    let failing_config = workspace.path("failing.json");
    std::fs::write(
        &failing_config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("kms.sh", "down.sh"),
    )
    .unwrap();
    let failing_config = failing_config.display().to_string();
    for (flags, source, expected) in failures {
        let env = if flags[1] == "provider:kms" {
            [("OCICRYPT_KEYPROVIDER_CONFIG", failing_config.as_str())]
        } else {
            env
        };
        let ours = workspace.skopos_with_env(&env, &copy_args(&flags, source, "oci:out:t"));
        assert_one_line_failure(&ours, Some(1));
        let message = skopeo_message(&ours.stderr);
        assert!(message.contains(expected), "{flags:?}: {message}");
        assert!(
            message.ends_with("kms is down\\n: exit status 3\\n\\n")
                || !expected.starts_with("Error"),
            "{message}"
        );
        assert_nothing_written(&workspace.path("out"));
        let _ = std::fs::remove_dir_all(workspace.path("out"));
        if let Some(theirs) = workspace.skopeo_1_22(
            &format!("comparing a key provider failure ({flags:?}) with skopeo 1.22.2"),
            &env,
            &copy_args(&flags, source, "oci:out:t"),
        ) {
            assert_eq!(skopeo_message(&theirs.stderr), message, "{flags:?}");
            let _ = std::fs::remove_dir_all(workspace.path("out"));
        }
    }

    // Encrypted by skopeo 1.22.2 through the same provider, decrypted by skopos, and back.
    let what = "key provider encryption with skopeo 1.22.2";
    if let Some(outcome) = workspace.skopeo_1_22(
        what,
        &env,
        &copy_args(
            &["--encryption-key", "provider:kms"],
            "oci:src:t",
            "oci:skopeo-enc:t",
        ),
    ) {
        outcome.assert_success();
        workspace
            .skopos_with_env(
                &env,
                &copy_args(
                    &["--decryption-key", "provider:kms"],
                    "oci:skopeo-enc:t",
                    "oci:dec2:t",
                ),
            )
            .assert_success();
        assert_decrypted(&workspace.path("dec2"), &image, "skopos");
        workspace
            .skopeo_1_22(
                what,
                &env,
                &copy_args(
                    &["--decryption-key", "provider:kms"],
                    "oci:enc:t",
                    "oci:skopeo-dec:t",
                ),
            )
            .unwrap()
            .assert_success();
        assert_decrypted(&workspace.path("skopeo-dec"), &image, "skopeo");
    }
}

#[test]
fn pkcs7_encryption_round_trips_with_skopeo_1_22() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 38);
    openssl(
        &workspace,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "p7.pem",
            "-out",
            "p7.crt",
            "-subj",
            "/CN=skopos-test",
            "-days",
            "2",
        ],
    );
    let encrypt = ["--encryption-key", "pkcs7:p7.crt"];
    // PKCS #7 recipients are found by their certificate, given as a decryption key too.
    let decrypt = ["--decryption-key", "p7.pem", "--decryption-key", "p7.crt"];
    workspace
        .skopos(&copy_args(&encrypt, "oci:src:t", "oci:enc:t"))
        .assert_success();
    let manifest = layout_manifest(&workspace.path("enc"));
    for layer in manifest["layers"].as_array().unwrap() {
        assert!(layer["annotations"]["org.opencontainers.image.enc.keys.pkcs7"].is_string());
    }
    workspace
        .skopos(&copy_args(&decrypt, "oci:enc:t", "oci:dec:t"))
        .assert_success();
    assert_decrypted(&workspace.path("dec"), &image, "skopos");

    let args = copy_args(&["--decryption-key", "p7.pem"], "oci:enc:t", "oci:out:t");
    let ours = workspace.skopos(&args);
    assert_one_line_failure(&ours, Some(1));
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    assert_eq!(
        skopeo_message(&ours.stderr),
        format!("decrypting layer {layer}: no suitable key unwrapper found or none of the private keys could be used for decryption:\\nno suitable key found for decrypting layer key:\\n- no x509 certificates found needed for PKCS7 decryption\\n\\n")
    );
    assert_nothing_written(&workspace.path("out"));

    let what = "PKCS #7 encryption with skopeo 1.22.2";
    let Some(outcome) = workspace.skopeo_1_22(
        what,
        &[],
        &copy_args(&decrypt, "oci:enc:t", "oci:skopeo-dec:t"),
    ) else {
        return;
    };
    outcome.assert_success();
    assert_decrypted(&workspace.path("skopeo-dec"), &image, "skopeo");
    workspace
        .skopeo_1_22(
            what,
            &[],
            &copy_args(&encrypt, "oci:src:t", "oci:skopeo-enc:t"),
        )
        .unwrap()
        .assert_success();
    assert_encrypted(&workspace.path("skopeo-enc"), &image, &[0, 1, 2]);
    workspace
        .skopos(&copy_args(&decrypt, "oci:skopeo-enc:t", "oci:back:t"))
        .assert_success();
    assert_decrypted(&workspace.path("back"), &image, "skopos");
}

/// Alice's and Bob's secret keys as `gpg --export-secret-keys` writes them: `alice.sec`
/// and `bob.sec` (binary, what ocicrypt reads) and `alice.asc` (ASCII-armored, which it
/// does not take).
fn export_secret_keys(workspace: &Workspace, keys: &Keys) {
    let export = |fingerprint: &str, passphrase: &str, armor: bool| {
        let mut args = vec!["--pinentry-mode", "loopback", "--passphrase", passphrase];
        if armor {
            args.push("--armor");
        }
        args.extend(["--export-secret-keys", fingerprint]);
        keys.gpg(&args)
    };
    std::fs::write(workspace.path("alice.sec"), export(&keys.alice, "", false)).unwrap();
    std::fs::write(workspace.path("alice.asc"), export(&keys.alice, "", true)).unwrap();
    std::fs::write(
        workspace.path("bob.sec"),
        export(&keys.bob, BOB_PASSPHRASE, false),
    )
    .unwrap();
}

#[test]
fn pgp_encryption_round_trips_with_skopeo_1_22() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 39);
    let keys = Keys::new(&workspace);
    export_secret_keys(&workspace, &keys);
    let env = keys.env();
    let bob_key = format!("bob.sec:{BOB_PASSPHRASE}");
    // Recipients are GnuPG user IDs, found in the keyring `gpg --export` prints.
    let encrypt = [
        "--encryption-key",
        "pgp:alice@example.com",
        "--encryption-key",
        "pgp:bob@example.com",
    ];
    workspace
        .skopos_with_env(&env, &copy_args(&encrypt, "oci:src:t", "oci:enc:t"))
        .assert_success();
    assert_encrypted(&workspace.path("enc"), &image, &[0, 1, 2]);

    // One OpenPGP message per layer, as go-crypto writes it: a session key for each
    // recipient's encryption subkey, then integrity-protected (MDC) data, uncompressed;
    // inside, exactly the layer cipher's private options.
    let manifest = layout_manifest(&workspace.path("enc"));
    let annotation = manifest["layers"][0]["annotations"][KEYS_PGP]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!annotation.contains(','), "one message: {annotation}");
    let wrapped = workspace.path("wrapped.pgp");
    std::fs::write(&wrapped, base64_decode(&annotation)).unwrap();
    let wrapped = wrapped.to_str().unwrap();
    let listing = String::from_utf8(keys.gpg(&["--list-packets", wrapped])).unwrap();
    let packets: Vec<&str> = listing
        .lines()
        .filter_map(|line| line.strip_prefix(':'))
        .map(|line| line.split(':').next().unwrap_or_default())
        .collect();
    assert_eq!(
        packets,
        [
            "pubkey enc packet",
            "pubkey enc packet",
            "encrypted data packet",
            "literal data packet"
        ],
        "{listing}"
    );
    assert!(listing.contains("mdc_method: 2"), "{listing}");
    let options = parse_json(&keys.gpg(&["--decrypt", wrapped]));
    assert_eq!(
        options.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["cipheroptions", "digest", "symkey"]
    );
    assert_eq!(options["digest"], image.layers[0].digest.as_str());
    assert_eq!(base64_decode(options["symkey"].as_str().unwrap()).len(), 32);

    for (key, out) in [("alice.sec", "dec-alice"), (bob_key.as_str(), "dec-bob")] {
        workspace
            .skopos(&copy_args(
                &["--decryption-key", key],
                "oci:enc:t",
                &format!("oci:{out}:t"),
            ))
            .assert_success();
        assert_decrypted(&workspace.path(out), &image, key);
    }

    let what = "OpenPGP encryption with skopeo 1.22.2";
    for (key, out) in [
        ("alice.sec", "skopeo-dec-alice"),
        (bob_key.as_str(), "skopeo-dec-bob"),
    ] {
        let Some(outcome) = workspace.skopeo_1_22(
            what,
            &[],
            &copy_args(
                &["--decryption-key", key],
                "oci:enc:t",
                &format!("oci:{out}:t"),
            ),
        ) else {
            return;
        };
        outcome.assert_success();
        assert_decrypted(&workspace.path(out), &image, "skopeo");
    }
    workspace
        .skopeo_1_22(
            what,
            &env,
            &copy_args(&encrypt, "oci:src:t", "oci:skopeo-enc:t"),
        )
        .unwrap()
        .assert_success();
    assert_encrypted(&workspace.path("skopeo-enc"), &image, &[0, 1, 2]);
    for (key, out) in [("alice.sec", "back-alice"), (bob_key.as_str(), "back-bob")] {
        workspace
            .skopos(&copy_args(
                &["--decryption-key", key],
                "oci:skopeo-enc:t",
                &format!("oci:{out}:t"),
            ))
            .assert_success();
        assert_decrypted(&workspace.path(out), &image, "skopos");
    }
}

#[test]
fn pgp_wrong_and_missing_keys_fail_as_in_skopeo() {
    let workspace = Workspace::new();
    workspace.image_from("src", "t", &ImageSpec::new(40).with_layers(2, 3000));
    let keys = Keys::new(&workspace);
    export_secret_keys(&workspace, &keys);
    let env = keys.env();
    for (recipient, layout) in [("alice@example.com", "enc"), ("bob@example.com", "enc-bob")] {
        workspace
            .skopos_with_env(
                &env,
                &copy_args(
                    &["--encryption-key", &format!("pgp:{recipient}")],
                    "oci:src:t",
                    &format!("oci:{layout}:t"),
                ),
            )
            .assert_success();
    }
    let layer = |layout: &str| {
        layout_manifest(&workspace.path(layout))["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let no_key = |layout: &str| {
        format!("decrypting layer {}: no suitable key unwrapper found or none of the private keys could be used for decryption:\\nno suitable key found for decrypting layer key:\\n- PGP: No suitable key found to unwrap key\\n\\n", layer(layout))
    };
    let wrong_password = format!("bob.sec:not {BOB_PASSPHRASE}");
    let cases = [
        ("another's key", "bob.sec", "enc", no_key("enc")),
        ("a public key", "alice.gpg", "enc", no_key("enc")),
        ("no password", "bob.sec", "enc-bob", no_key("enc-bob")),
        (
            "a wrong password",
            wrong_password.as_str(),
            "enc-bob",
            no_key("enc-bob"),
        ),
        (
            "an armored key",
            "alice.asc",
            "enc",
            format!(
                "decrypting layer {}: missing private key needed for decryption:\\n",
                layer("enc")
            ),
        ),
    ];
    for (what, key, layout, expected) in cases {
        let out = format!("out-{}", what.replace(' ', "-"));
        let source = format!("oci:{layout}:t");
        let destination = format!("oci:{out}:t");
        let args = copy_args(&["--decryption-key", key], &source, &destination);
        let ours = workspace.skopos(&args);
        assert_one_line_failure(&ours, Some(1));
        assert_eq!(skopeo_message(&ours.stderr), expected, "{what}");
        assert_nothing_written(&workspace.path(&out));
        let skopeo_destination = format!("oci:skopeo-{out}:t");
        let args = copy_args(&["--decryption-key", key], &source, &skopeo_destination);
        if let Some(theirs) = workspace.skopeo_1_22(
            &format!("decrypting with {what} with skopeo 1.22.2"),
            &[],
            &args,
        ) {
            assert_eq!(theirs.code, Some(1), "{what}: {}", theirs.stderr);
            assert_eq!(skopeo_message(&theirs.stderr), expected, "{what}");
        }
    }

    // A recipient not in the keyring; and without any gpg to ask, ocicrypt leaves `pgp:`
    // recipients out, so there is nothing to wrap the key for.
    let without_gpg = [env[0], ("PATH", "/nonexistent")];
    /// What is tried, the environment, the recipient and skopeo's message.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 2] = [
        (
            "an unknown recipient",
            &env,
            "pgp:carol@example.com",
            "Unable to finalize encryption: unable to create entity list: PGP: No key found for the following recipients: carol@example.com",
        ),
        (
            "no gpg",
            &without_gpg,
            "pgp:alice@example.com",
            "Unable to finalize encryption: no wrapped keys produced by encryption",
        ),
    ];
    for (what, env, recipient, expected) in cases {
        let args = copy_args(&["--encryption-key", recipient], "oci:src:t", "oci:out:t");
        let ours = workspace.skopos_with_env(env, &args);
        assert_one_line_failure(&ours, Some(1));
        assert_eq!(skopeo_message(&ours.stderr), expected, "{what}");
        assert_nothing_written(&workspace.path("out"));
        let args = copy_args(
            &["--encryption-key", recipient],
            "oci:src:t",
            "oci:skopeo-out:t",
        );
        if let Some(theirs) = workspace.skopeo_1_22(
            &format!("encrypting for {what} with skopeo 1.22.2"),
            env,
            &args,
        ) {
            assert_eq!(skopeo_message(&theirs.stderr), expected, "{what}");
        }
    }
}
