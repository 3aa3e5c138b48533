//! `docker://` against real registries (the distribution registry from Debian, started per
//! test on a free loopback port): images pushed by one tool read back by the other with the
//! same digests, `inspect` / `list-tags` output equal to skopeo's, `delete`, TLS with a
//! generated CA, htpasswd credentials, `login` / `logout`.

mod common;

use common::{assert_one_line_failure, assert_same_tree, parse_json, Workspace, WHO};
use skopos_testimage::registry::{RegistryOptions, TestRegistry, TestTls};

/// A plain-HTTP registry with deletes enabled.
fn plain_registry() -> TestRegistry {
    TestRegistry::start(RegistryOptions {
        delete_enabled: true,
        ..RegistryOptions::default()
    })
}

#[test]
fn push_by_skopos_reads_back_in_skopeo_with_the_same_digest() {
    let registry = plain_registry();
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 21);
    let target = format!("docker://{}/skopos/push:v1", registry.host);
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "oci:src:t",
            &target,
        ])
        .assert_success();
    assert_eq!(
        common::registry_manifest_digest(&workspace, &target),
        image.manifest.digest
    );
    // skopeo pulls it back: the same blobs as the source.
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--src-tls-verify=false",
            &target,
            "oci:back:t",
        ])
        .assert_success();
    assert_same_tree(&workspace.path("back/blobs"), &workspace.path("src/blobs"));
}

/// What `--debug` says for an upload sent from its file with `sendfile`, ending with its size.
fn sent_with_sendfile(size: u64) -> String {
    format!(": {size} bytes sent from their file with sendfile")
}

/// Over plain HTTP a push hands each layer of a layout to the kernel with `sendfile` (no byte
/// through user space; the config, read to be parsed anyway, goes from memory), and every
/// blob arrives intact: skopeo reads back the same files.
#[test]
fn a_push_over_plain_http_sends_each_blob_from_its_file_and_it_arrives_intact() {
    let registry = plain_registry();
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 23);
    let target = format!("docker://{}/skopos/sendfile:v1", registry.host);
    let push = workspace.skopos(&[
        "--debug",
        "--insecure-policy",
        "copy",
        "--dest-tls-verify=false",
        "oci:src:t",
        &target,
    ]);
    push.assert_success();
    for layer in &image.layers {
        assert!(
            push.stderr.contains(&sent_with_sendfile(layer.size)),
            "layer {} ({} bytes) was not sent with sendfile:\n{}",
            layer.digest,
            layer.size,
            push.stderr
        );
    }
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--src-tls-verify=false",
            &target,
            "oci:back:t",
        ])
        .assert_success();
    assert_same_tree(&workspace.path("back/blobs"), &workspace.path("src/blobs"));
}

/// The layers of an `oci-archive:` are members of one tar file: each goes to a plain-HTTP
/// registry with `sendfile` from its place in the archive, and arrives intact.
#[test]
fn a_push_from_an_oci_archive_sends_each_layer_from_the_archive_and_it_arrives_intact() {
    let registry = plain_registry();
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 24);
    let archive = format!("oci-archive:{}", workspace.path("src.tar").display());
    workspace
        .skopeo(&["--insecure-policy", "copy", "-q", "oci:src:t", &archive])
        .assert_success();
    let target = format!("docker://{}/skopos/archive:v1", registry.host);
    let push = workspace.skopos(&[
        "--debug",
        "--insecure-policy",
        "copy",
        "--dest-tls-verify=false",
        &archive,
        &target,
    ]);
    push.assert_success();
    for layer in &image.layers {
        assert!(
            push.stderr.contains(&sent_with_sendfile(layer.size)),
            "layer {} ({} bytes) was not sent with sendfile:\n{}",
            layer.digest,
            layer.size,
            push.stderr
        );
    }
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--src-tls-verify=false",
            &target,
            "oci:back:t",
        ])
        .assert_success();
    assert_same_tree(&workspace.path("back/blobs"), &workspace.path("src/blobs"));
}

/// A push sends a layout's blobs without hashing them: the registry checks each upload's
/// digest. A corrupted layer is refused there, named in the one error line, and no
/// manifest is written. The layer goes out with `sendfile`, as every blob of a layout does
/// over plain HTTP.
#[test]
fn a_corrupted_layer_fails_the_push_at_the_registry_and_tags_nothing() {
    let registry = plain_registry();
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 22);
    let layer = &image.layers[image.layers.len() - 1];
    workspace
        .layout("src")
        .flip_byte(&layer.digest, 100)
        .expect("corrupting a layer");
    let target = format!("docker://{}/skopos/corrupt:v1", registry.host);
    let outcome = workspace.skopos(&[
        "--insecure-policy",
        "copy",
        "-q",
        "--dest-tls-verify=false",
        "oci:src:t",
        &target,
    ]);
    assert_one_line_failure(&outcome, Some(1));
    // The registry's DIGEST_INVALID (its default message, as skopeo 1.22 shows it), not a
    // mismatch found while reading the layout.
    let refusal = format!(
        "blob {} does not match its digest: provided digest did not match uploaded content",
        layer.digest
    );
    assert!(outcome.stderr.contains(&refusal), "{}", outcome.stderr);
    let debug = workspace.skopos(&[
        "--debug",
        "--insecure-policy",
        "copy",
        "--dest-tls-verify=false",
        "oci:src:t",
        &target,
    ]);
    assert!(
        debug.stderr.contains(&sent_with_sendfile(layer.size)) && debug.stderr.contains(&refusal),
        "the corrupted layer was not sent with sendfile and refused:\n{}",
        debug.stderr
    );
    let inspect = workspace.skopeo(&[
        "--insecure-policy",
        "inspect",
        "--raw",
        "--tls-verify=false",
        &target,
    ]);
    assert_ne!(inspect.code, Some(0), "{}", inspect.stdout);
    assert!(
        inspect.stderr.contains("manifest unknown"),
        "{}",
        inspect.stderr
    );
}

#[test]
fn pull_by_skopos_of_an_image_pushed_by_skopeo_matches_skopeos_pull() {
    let registry = plain_registry();
    let workspace = Workspace::new();
    workspace.image("src", "t", 22);
    let target = format!("docker://{}/skopeo/push:v1", registry.host);
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "oci:src:t",
            &target,
        ])
        .assert_success();
    workspace
        .run_both(&[
            "copy",
            "-q",
            "--src-tls-verify=false",
            &target,
            &format!("oci:pulled-{WHO}:t"),
        ])
        .assert_both_succeed();
    assert_same_tree(
        &workspace.path("pulled-skopos"),
        &workspace.path("pulled-skopeo"),
    );
}

#[test]
fn inspect_and_list_tags_print_what_skopeo_prints() {
    let registry = plain_registry();
    let workspace = Workspace::new();
    workspace.image("src", "t", 23);
    for tag in ["one", "two", "three"] {
        let target = format!("docker://{}/lib/tagged:{tag}", registry.host);
        workspace
            .skopeo(&[
                "--insecure-policy",
                "copy",
                "-q",
                "--dest-tls-verify=false",
                "oci:src:t",
                &target,
            ])
            .assert_success();
    }
    let image = format!("docker://{}/lib/tagged:two", registry.host);
    let json = workspace
        .run_both(&["inspect", "--tls-verify=false", &image])
        .assert_same_inspect_json();
    assert_eq!(json["RepoTags"].as_array().map(Vec::len), Some(3));
    workspace
        .run_both(&["inspect", "--tls-verify=false", "--raw", &image])
        .assert_same_stdout();
    workspace
        .run_both(&["inspect", "--tls-verify=false", "--config", &image])
        .assert_same_stdout();
    workspace
        .run_both(&[
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{}/lib/tagged", registry.host),
        ])
        .assert_same_stdout();
}

#[test]
fn a_missing_image_exits_2_with_skopeos_message() {
    let registry = plain_registry();
    let workspace = Workspace::new();
    let image = format!("docker://{}/none/here:v1", registry.host);
    let pair = workspace.run_both(&["inspect", "--tls-verify=false", &image]);
    // skopeo 1.9.3 exits 1 here; exit 2 for a missing image came in skopeo 1.16. 1.9.3 also
    // repeats the code before its default message, which 1.22 drops.
    assert_eq!(pair.skopeo.code, Some(1), "{}", pair.skopeo.stderr);
    assert_one_line_failure(&pair.skopos, Some(2));
    assert_eq!(
        common::skopeo_message(&pair.skopos.stderr),
        common::skopeo_message(&pair.skopeo.stderr)
            .replace("manifest unknown: manifest unknown", "manifest unknown")
    );
}

#[test]
fn delete_removes_the_manifest_so_inspect_then_exits_2() {
    let registry = plain_registry();
    let workspace = Workspace::new();
    workspace.image("src", "t", 24);
    let image = format!("docker://{}/del/me:v1", registry.host);
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "oci:src:t",
            &image,
        ])
        .assert_success();
    workspace
        .skopos(&["--insecure-policy", "delete", "--tls-verify=false", &image])
        .assert_success();
    let gone = workspace.skopos(&["--insecure-policy", "inspect", "--tls-verify=false", &image]);
    assert_one_line_failure(&gone, Some(2));
    assert!(gone.stderr.contains("manifest unknown"), "{}", gone.stderr);
}

#[test]
fn copy_within_one_registry_and_a_whole_index_keep_their_digests() {
    let registry = plain_registry();
    let workspace = Workspace::new();
    let index = workspace.multi_arch("src", "m");
    let first = format!("docker://{}/multi/a:v1", registry.host);
    let second = format!("docker://{}/multi/b:v1", registry.host);
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--all",
            "--dest-tls-verify=false",
            "oci:src:m",
            &first,
        ])
        .assert_success();
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--all",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &first,
            &second,
        ])
        .assert_success();
    assert_eq!(
        common::registry_manifest_digest(&workspace, &first),
        index.index.digest
    );
    assert_eq!(
        common::registry_manifest_digest(&workspace, &second),
        index.index.digest
    );
}

/// A TLS registry with a generated CA that accepts `user`/`pass`.
fn private_registry(tls: &TestTls) -> TestRegistry {
    TestRegistry::start(RegistryOptions {
        tls: Some(tls),
        htpasswd_user: Some(("user", "pass")),
        delete_enabled: true,
        ..RegistryOptions::default()
    })
}

#[test]
fn tls_and_credentials_are_checked_like_skopeo() {
    let tls = TestTls::generate();
    let registry = private_registry(&tls);
    let workspace = Workspace::new();
    workspace.image("src", "t", 25);
    let certs = tls.write_cert_dir(&workspace.path("certs"));
    let certs = certs.to_str().unwrap();
    let image = format!("docker://{}/private/img:v1", registry.host);
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-cert-dir",
            certs,
            "--dest-creds",
            "user:pass",
            "oci:src:t",
            &image,
        ])
        .assert_success();
    // Good credentials: the same output as skopeo.
    workspace
        .run_both(&[
            "inspect",
            "--cert-dir",
            certs,
            "--creds",
            "user:pass",
            "--raw",
            &image,
        ])
        .assert_same_stdout();
    // And for list-tags and a pull.
    let repository = format!("docker://{}/private/img", registry.host);
    workspace
        .run_both(&[
            "list-tags",
            "--cert-dir",
            certs,
            "--creds",
            "user:pass",
            &repository,
        ])
        .assert_same_stdout();
    workspace
        .run_both(&[
            "copy",
            "-q",
            "--src-cert-dir",
            certs,
            "--src-creds",
            "user:pass",
            &image,
            &format!("oci:pulled-{WHO}:t"),
        ])
        .assert_both_succeed();
    assert_same_tree(
        &workspace.path("pulled-skopos"),
        &workspace.path("pulled-skopeo"),
    );
    // No credentials, wrong password, unknown CA: one line, exit 1, no secret in it.
    for args in [
        vec!["inspect", "--cert-dir", certs, &image],
        vec![
            "inspect",
            "--cert-dir",
            certs,
            "--creds",
            "user:wrong-secret",
            &image,
        ],
        vec!["inspect", "--creds", "user:pass", &image],
    ] {
        let mut full = vec!["--insecure-policy"];
        full.extend(args.iter().copied());
        let failed = workspace.skopos(&full);
        assert_one_line_failure(&failed, Some(1));
        assert!(!failed.stderr.contains("wrong-secret"), "{}", failed.stderr);
        let reference = workspace.skopeo(&full);
        assert_eq!(reference.code, Some(1), "{}", reference.stderr);
    }
    // Deleting needs the credentials too.
    workspace
        .skopos(&[
            "--insecure-policy",
            "delete",
            "--cert-dir",
            certs,
            "--creds",
            "user:pass",
            &image,
        ])
        .assert_success();
    let gone = workspace.skopos(&[
        "--insecure-policy",
        "inspect",
        "--cert-dir",
        certs,
        "--creds",
        "user:pass",
        &image,
    ]);
    assert_one_line_failure(&gone, Some(2));
}

#[test]
fn login_writes_credentials_skopeo_can_use_and_logout_removes_them() {
    let tls = TestTls::generate();
    let registry = private_registry(&tls);
    let workspace = Workspace::new();
    workspace.image("src", "t", 26);
    let certs = tls.write_cert_dir(&workspace.path("certs"));
    let certs = certs.to_str().unwrap();
    let auth_file = workspace.path("auth.json");
    let auth_file = auth_file.to_str().unwrap();
    let image = format!("docker://{}/private/img:v1", registry.host);

    let refused = workspace.skopos(&[
        "login",
        "--authfile",
        auth_file,
        "--cert-dir",
        certs,
        "-u",
        "user",
        "-p",
        "wrong",
        &registry.host,
    ]);
    assert_one_line_failure(&refused, Some(1));
    assert!(
        refused.stderr.contains("invalid username/password"),
        "{}",
        refused.stderr
    );
    assert!(!std::path::Path::new(auth_file).exists());

    let login = workspace.skopos(&[
        "login",
        "--authfile",
        auth_file,
        "--cert-dir",
        certs,
        "-u",
        "user",
        "-p",
        "pass",
        &registry.host,
    ]);
    login.assert_success();
    assert_eq!(login.stdout, "Login Succeeded!\n");
    let stored = parse_json(&std::fs::read(auth_file).unwrap());
    assert!(stored["auths"][registry.host.as_str()]["auth"].is_string());

    // The stored credentials work for pushing with skopos and reading with skopeo.
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--authfile",
            auth_file,
            "--dest-cert-dir",
            certs,
            "oci:src:t",
            &image,
        ])
        .assert_success();
    workspace
        .skopeo(&[
            "--insecure-policy",
            "inspect",
            "--authfile",
            auth_file,
            "--cert-dir",
            certs,
            &image,
        ])
        .assert_success();

    let logout = workspace.skopos(&["logout", "--authfile", auth_file, &registry.host]);
    logout.assert_success();
    assert_eq!(
        logout.stdout,
        format!("Removed login credentials for {}\n", registry.host)
    );
    let denied = workspace.skopos(&[
        "--insecure-policy",
        "inspect",
        "--authfile",
        auth_file,
        "--cert-dir",
        certs,
        &image,
    ]);
    assert_one_line_failure(&denied, Some(1));
}

/// A repository or tag the registry lacks fails `list-tags`, `sync`, `delete` and `inspect`
/// with skopeo 1.22's words and exit statuses: 2 only for a manifest the registry does not
/// know; a repository it does not know is an ordinary failure (1).
#[test]
fn missing_repositories_and_tags_fail_as_in_skopeo_1_22() {
    let registry = plain_registry();
    let workspace = Workspace::new();
    workspace.image("src", "t", 31);
    let host = &registry.host;
    workspace.push("oci:src:t", &format!("docker://{host}/present:v1"));
    let absent = format!("{host}/absent");
    let untagged = format!("{host}/present:nosuch");
    let unknown_repository = "fetching tags list: repository name not known to registry";
    let cases: [(Vec<String>, i32, String); 4] = [
        (
            vec!["list-tags".into(), format!("docker://{absent}")],
            1,
            format!("Error listing repository tags: {unknown_repository}"),
        ),
        (
            vec![
                "sync".into(),
                "--src".into(),
                "docker".into(),
                "--dest".into(),
                "dir".into(),
                "--src-tls-verify=false".into(),
                absent.clone(),
                "synced".into(),
            ],
            1,
            format!("Error determining repository tags for repo {absent}: {unknown_repository}"),
        ),
        (
            vec!["delete".into(), format!("docker://{untagged}")],
            1,
            format!("Unable to delete {untagged}. Image may not exist or is not stored with a v2 Schema in a v2 registry"),
        ),
        (
            vec!["inspect".into(), format!("docker://{untagged}")],
            2,
            format!("Error parsing image name \"docker://{untagged}\": reading manifest nosuch in {host}/present: manifest unknown"),
        ),
    ];
    let compare_with_newest =
        common::skopeo_1_22_binary("registry errors compared with skopeo 1.22.2").is_some();
    for (command, status, message) in cases {
        let mut args = vec!["--insecure-policy".to_string(), command[0].clone()];
        if command[0] != "sync" {
            args.push("--tls-verify=false".into());
        }
        args.extend(command[1..].iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let outcome = workspace.skopos(&args);
        let last_line = |stderr: &str| {
            common::skopeo_message(stderr.trim_end().lines().last().unwrap_or_default())
        };
        if command[0] == "sync" {
            // sync logs its progress before the failure, as skopeo does.
            assert_eq!(outcome.code, Some(status), "{}", outcome.stderr);
        } else {
            assert_one_line_failure(&outcome, Some(status));
        }
        assert_eq!(last_line(&outcome.stderr), message);
        // skopeo 1.9.3 fails too, with status 1 (status 2 came in 1.16; its words differ).
        assert_eq!(workspace.skopeo(&args).code, Some(1), "{args:?}");
        if compare_with_newest {
            let newest = workspace
                .skopeo_1_22("", &[], &args)
                .expect("skopeo 1.22.2");
            assert_eq!(newest.code, Some(status), "{args:?}");
            assert_eq!(last_line(&newest.stderr), message);
        }
    }
}
