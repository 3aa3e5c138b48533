//! A registry serving a self-signed certificate made the way docker/podman guides (and
//! skopeo's own system tests) make one, `openssl req -x509 …` (so `basicConstraints CA:TRUE`),
//! with that certificate in `--cert-dir`: skopeo (Go) accepts a server certificate that is
//! itself one of the trusted certificates, so push, pull, inspect, login and delete work;
//! without the certificate, or for a name the certificate does not cover, the connection is
//! refused in Go's words.

mod common;

use std::path::Path;
use std::process::Command;

use common::{assert_one_line_failure, assert_same_tree, skopeo_message, Workspace};
use skopos_testimage::registry::{RegistryOptions, TestRegistry, TestTls};

/// A key and a self-signed certificate for `subject_alt_name`, made by the openssl CLI as
/// skopeo's systemtest/helpers.bash makes its registry certificate.
fn openssl_self_signed(dir: &Path, subject_alt_name: &str) -> TestTls {
    common::create_dir(dir);
    let key = dir.join("domain.key");
    let cert = dir.join("domain.crt");
    let output = Command::new("openssl")
        .args(["req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-keyout"])
        .arg(&key)
        .args(["-x509", "-days", "2", "-out"])
        .arg(&cert)
        .args(["-subj", "/C=US/O=skopos test/CN=registry host certificate"])
        .args(["-addext", &format!("subjectAltName={subject_alt_name}")])
        .output()
        .expect("openssl is missing: run `apt-get install openssl`");
    assert!(
        output.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cert_pem = String::from_utf8(common::read(&cert)).expect("a PEM certificate");
    TestTls {
        ca_pem: cert_pem.clone(),
        server_cert_pem: cert_pem,
        server_key_pem: String::from_utf8(common::read(&key)).expect("a PEM key"),
        client_identity_pem: String::new(),
    }
}

/// A TLS registry with htpasswd user `user:pass` and deletes enabled.
fn registry_with(tls: &TestTls) -> TestRegistry {
    TestRegistry::start(RegistryOptions {
        tls: Some(tls),
        htpasswd_user: Some(("user", "pass")),
        delete_enabled: true,
        ..RegistryOptions::default()
    })
}

#[test]
fn a_self_signed_certificate_in_cert_dir_is_trusted_for_push_pull_inspect_login_delete() {
    let workspace = Workspace::new();
    let tls = openssl_self_signed(&workspace.path("openssl"), "DNS:localhost,IP:127.0.0.1");
    let registry = registry_with(&tls);
    // Only the certificate, as the guides say (a `.key` next to it would be a client key).
    let certs = tls.write_cert_dir(&workspace.path("certs"));
    let certs = certs.to_str().expect("a UTF-8 temp path");
    let auth_file = workspace.path("auth.json");
    let auth_file = auth_file.to_str().expect("a UTF-8 temp path");
    workspace.image("src", "t", 41);
    let image = format!("docker://{}/selfsigned/img:v1", registry.host);

    workspace
        .skopos(&[
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
        ])
        .assert_success();
    let with_auth = |args: &[&str]| {
        let mut full = vec!["--insecure-policy"];
        full.extend_from_slice(&args[..1]);
        full.extend_from_slice(&["--authfile", auth_file]);
        full.extend_from_slice(&args[1..]);
        workspace.skopos(&full)
    };
    with_auth(&["copy", "-q", "--dest-cert-dir", certs, "oci:src:t", &image]).assert_success();
    let inspected = with_auth(&["inspect", "--cert-dir", certs, &image]);
    inspected.assert_success();
    let name = format!("\"Name\": \"{}/selfsigned/img\"", registry.host);
    assert!(inspected.stdout.contains(&name), "{}", inspected.stdout);
    with_auth(&["copy", "-q", "--src-cert-dir", certs, &image, "oci:back:t"]).assert_success();
    assert_same_tree(&workspace.path("back/blobs"), &workspace.path("src/blobs"));
    with_auth(&["delete", "--cert-dir", certs, &image]).assert_success();
    let gone = with_auth(&["inspect", "--cert-dir", certs, &image]);
    assert_one_line_failure(&gone, Some(2));
}

#[test]
fn an_untrusted_self_signed_certificate_is_refused_in_skopeos_words() {
    let workspace = Workspace::new();
    let tls = openssl_self_signed(&workspace.path("openssl"), "DNS:localhost,IP:127.0.0.1");
    let registry = registry_with(&tls);
    let image = format!("docker://{}/selfsigned/img:v1", registry.host);
    let args = [
        "--insecure-policy",
        "inspect",
        "--creds",
        "user:pass",
        &image,
    ];
    let refused = workspace.skopos(&args);
    assert_one_line_failure(&refused, Some(1));
    let expected = format!(
        "pinging container registry {host}: Get \"https://{host}/v2/\": tls: failed to verify \
         certificate: x509: certificate signed by unknown authority",
        host = registry.host
    );
    assert!(
        skopeo_message(&refused.stderr).ends_with(&expected),
        "{}",
        refused.stderr
    );
    if let Some(reference) = workspace.skopeo_1_22(
        "comparing the untrusted certificate message with skopeo 1.22.2",
        &[],
        &args,
    ) {
        assert_eq!(reference.code, Some(1), "{}", reference.stderr);
        assert!(
            skopeo_message(&reference.stderr).ends_with(&expected),
            "{}",
            reference.stderr
        );
    }
}

#[test]
fn a_trusted_self_signed_certificate_still_has_to_name_the_host() {
    let workspace = Workspace::new();
    // The certificate names localhost only; the registry is reached as 127.0.0.1.
    let tls = openssl_self_signed(&workspace.path("openssl"), "DNS:localhost");
    let registry = registry_with(&tls);
    let certs = tls.write_cert_dir(&workspace.path("certs"));
    let certs = certs.to_str().expect("a UTF-8 temp path");
    let image = format!("docker://{}/selfsigned/img:v1", registry.host);
    let args = [
        "--insecure-policy",
        "inspect",
        "--cert-dir",
        certs,
        "--creds",
        "user:pass",
        &image,
    ];
    let refused = workspace.skopos(&args);
    assert_one_line_failure(&refused, Some(1));
    let expected = "tls: failed to verify certificate: x509: cannot validate certificate for \
                    127.0.0.1 because it doesn't contain any IP SANs";
    assert!(
        skopeo_message(&refused.stderr).ends_with(expected),
        "{}",
        refused.stderr
    );
    if let Some(reference) = workspace.skopeo_1_22(
        "comparing the certificate host name message with skopeo 1.22.2",
        &[],
        &args,
    ) {
        assert_eq!(reference.code, Some(1), "{}", reference.stderr);
        assert!(
            skopeo_message(&reference.stderr).ends_with(expected),
            "{}",
            reference.stderr
        );
    }
}
