//! End-to-end tests against the CNCF distribution registry.

mod common;

use std::sync::Arc;

use base64::Engine as _;
use common::fake::{FakeServer, Reply};
use common::{blob_info, read_all, reader, TestImage, TestRegistryClients as _};
use skopos_core::error::is_image_not_found;
use skopos_core::media_type::OCI_MANIFEST;
use skopos_core::{Credentials, Digest};
use skopos_registry::{RegistryClient, UploadSessions};
use skopos_testimage::registry::{RegistryOptions, TestRegistry, TestTls};
use skopos_testimage::token::{TokenIssuer, ISSUER, SERVICE};

/// Push `image` to `repo:tag`: the layer with its digest known (one monolithic PUT), the
/// config without (PATCH then PUT).
async fn push(client: &RegistryClient, repo: &str, tag: &str, image: &TestImage) -> Digest {
    let layer = client
        .put_blob(
            repo,
            reader(&image.layer),
            Some(&blob_info(&image.layer)),
            &UploadSessions::default(),
        )
        .await
        .unwrap();
    assert_eq!(layer.digest, Digest::sha256_of(&image.layer));
    assert_eq!(layer.size, image.layer.len() as u64);
    let config = client
        .put_blob(
            repo,
            reader(&image.config),
            None,
            &UploadSessions::default(),
        )
        .await
        .unwrap();
    assert_eq!(config.digest, Digest::sha256_of(&image.config));
    assert_eq!(config.size, image.config.len() as u64);
    client
        .put_manifest(repo, tag, &image.manifest, OCI_MANIFEST)
        .await
        .unwrap()
}

#[tokio::test]
async fn push_pull_mount_tags_delete_over_plain_http() {
    let registry = TestRegistry::start(RegistryOptions {
        delete_enabled: true,
        ..Default::default()
    });
    let client = registry.http_client();
    let image = TestImage::new(1);
    let digest = push(&client, "ns/app", "v1", &image).await;
    assert_eq!(digest, Digest::sha256_of(&image.manifest));

    // Pull back by tag and by digest.
    let (bytes, mime) = client.get_manifest("ns/app", "v1").await.unwrap();
    assert_eq!(bytes, image.manifest);
    assert_eq!(mime, OCI_MANIFEST);
    let (bytes, _) = client
        .get_manifest("ns/app", &digest.to_string())
        .await
        .unwrap();
    assert_eq!(bytes, image.manifest);
    let head = client.head_manifest("ns/app", "v1").await.unwrap().unwrap();
    assert_eq!(head.digest.as_ref(), Some(&digest));
    assert_eq!(head.media_type, OCI_MANIFEST);
    assert_eq!(head.size, Some(image.manifest.len() as u64));
    assert_eq!(client.head_manifest("ns/app", "nope").await.unwrap(), None);

    let layer_digest = Digest::sha256_of(&image.layer);
    assert_eq!(
        client.blob_exists("ns/app", &layer_digest).await.unwrap(),
        Some(image.layer.len() as u64)
    );
    let (stream, size) = client.get_blob("ns/app", &layer_digest).await.unwrap();
    assert_eq!(size, Some(image.layer.len() as u64));
    assert_eq!(read_all(stream).await.unwrap(), image.layer);

    // Mount into another repository; a blob the source does not have is not mounted.
    assert_eq!(
        client.blob_exists("other", &layer_digest).await.unwrap(),
        None
    );
    assert!(client
        .mount_blob("other", &layer_digest, "ns/app", &UploadSessions::default())
        .await
        .unwrap());
    assert!(client
        .blob_exists("other", &layer_digest)
        .await
        .unwrap()
        .is_some());
    // A blob the source lacks is not mounted; the upload the registry starts instead
    // takes the blob.
    let unknown_blob = b"not uploaded anywhere";
    let unknown = Digest::sha256_of(unknown_blob);
    let sessions = UploadSessions::default();
    assert!(!client
        .mount_blob("other", &unknown, "ns/app", &sessions)
        .await
        .unwrap());
    let written = client
        .put_blob(
            "other",
            reader(unknown_blob),
            Some(&blob_info(unknown_blob)),
            &sessions,
        )
        .await
        .unwrap();
    assert_eq!(written.digest, unknown);
    assert_eq!(
        client.blob_exists("other", &unknown).await.unwrap(),
        Some(unknown_blob.len() as u64)
    );

    // Tags, across pages of two.
    for tag in ["v2", "v3", "v4", "latest"] {
        client
            .put_manifest("ns/app", tag, &image.manifest, OCI_MANIFEST)
            .await
            .unwrap();
    }
    let mut tags = client.list_tags_in_pages("ns/app", Some(2)).await.unwrap();
    tags.sort();
    assert_eq!(tags, ["latest", "v1", "v2", "v3", "v4"]);
    let mut tags = client.list_tags("ns/app").await.unwrap();
    tags.sort();
    assert_eq!(tags.len(), 5);

    // Delete: the manifest and all its tags are gone.
    client.delete_manifest("ns/app", &digest).await.unwrap();
    let err = client.get_manifest("ns/app", "v1").await.unwrap_err();
    assert!(is_image_not_found(&err), "{err:#}");
    let err = client.delete_manifest("ns/app", &digest).await.unwrap_err();
    assert!(is_image_not_found(&err), "{err:#}");
}

#[tokio::test]
async fn missing_images_are_image_not_found() {
    let registry = TestRegistry::start(RegistryOptions::default());
    let client = registry.http_client();
    let err = client
        .get_manifest("nothing/here", "latest")
        .await
        .unwrap_err();
    assert!(is_image_not_found(&err), "{err:#}");
    assert_eq!(
        format!("{err:#}"),
        format!(
            "reading manifest latest in {}/nothing/here: manifest unknown",
            registry.host
        )
    );
    // A repository the registry does not know is no missing image, as in skopeo (exit
    // status 1).
    let err = client.list_tags("nothing/here").await.unwrap_err();
    assert!(!is_image_not_found(&err), "{err:#}");
    assert_eq!(
        format!("{err:#}"),
        "fetching tags list: repository name not known to registry"
    );
    let missing = Digest::sha256_of(b"missing");
    assert_eq!(
        client.blob_exists("nothing/here", &missing).await.unwrap(),
        None
    );
    let err = client
        .get_blob("nothing/here", &missing)
        .await
        .err()
        .unwrap();
    assert!(!is_image_not_found(&err), "{err:#}");
    assert!(format!("{err:#}").contains("blob unknown"), "{err:#}");
}

#[tokio::test]
async fn digest_mismatches_are_refused() {
    let registry = TestRegistry::start(RegistryOptions::default());
    let client = registry.http_client();
    let image = TestImage::new(2);
    // Declaring a wrong digest for the uploaded bytes fails, and stores nothing.
    let mut wrong = blob_info(&image.layer);
    wrong.digest = Digest::sha256_of(b"something else");
    let err = client
        .put_blob(
            "repo",
            reader(&image.layer),
            Some(&wrong),
            &UploadSessions::default(),
        )
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("uploading a blob"), "{err:#}");
    assert_eq!(
        client.blob_exists("repo", &wrong.digest).await.unwrap(),
        None
    );
    // Asking for a manifest by a digest it does not have is "not found".
    let err = client
        .get_manifest("repo", &Digest::sha256_of(b"x").to_string())
        .await
        .unwrap_err();
    assert!(is_image_not_found(&err), "{err:#}");
}

#[tokio::test]
async fn invalid_manifests_are_rejected_as_a_type() {
    let registry = TestRegistry::start(RegistryOptions::default());
    let client = registry.http_client();
    let err = client
        .put_manifest(
            "repo",
            "t",
            b"{\"schemaVersion\":2,\"layers\":7}",
            OCI_MANIFEST,
        )
        .await
        .unwrap_err();
    let rejected = err
        .chain()
        .find_map(|e| e.downcast_ref::<skopos_core::error::ManifestTypeRejected>());
    assert_eq!(
        rejected.map(|r| r.mime_type.as_str()),
        Some(OCI_MANIFEST),
        "{err:#}"
    );
}

#[tokio::test]
async fn deletes_disabled_give_a_clear_error() {
    let registry = TestRegistry::start(RegistryOptions::default());
    let client = registry.http_client();
    let image = TestImage::new(3);
    let digest = push(&client, "repo", "t", &image).await;
    let err = client.delete_manifest("repo", &digest).await.unwrap_err();
    let shown = format!("{err:#}");
    assert!(shown.contains("does not allow deleting images"), "{shown}");
    assert!(shown.contains("unsupported"), "{shown}");
}

#[tokio::test]
async fn plain_http_needs_permission() {
    let registry = TestRegistry::start(RegistryOptions::default());
    let client = RegistryClient::new(registry.config()).unwrap();
    let err = client.ping().await.unwrap_err();
    let shown = format!("{err:#}");
    assert!(
        shown.starts_with(&format!("pinging container registry {}: ", registry.host)),
        "{shown}"
    );
    assert!(!shown.contains('\n'), "{shown}");
}

#[tokio::test]
async fn unreachable_registry_is_one_line_naming_the_host() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = skopos_registry::ClientConfig::new(format!("127.0.0.1:{port}"));
    config.insecure_http_allowed = true;
    let client = RegistryClient::new(config).unwrap();
    let err = client.get_manifest("a", "b").await.unwrap_err();
    let shown = format!("{err:#}");
    assert!(
        shown.contains(&format!("pinging container registry 127.0.0.1:{port}")),
        "{shown}"
    );
    // Worded as Go's dialer words it, as skopeo prints it.
    assert!(
        shown.ends_with(&format!(
            "Get \"https://127.0.0.1:{port}/v2/\": dial tcp 127.0.0.1:{port}: connect: connection refused"
        )) || shown.ends_with(&format!(
            "Get \"http://127.0.0.1:{port}/v2/\": dial tcp 127.0.0.1:{port}: connect: connection refused"
        )),
        "{shown}"
    );
    assert!(!shown.contains('\n'), "{shown}");
    assert!(skopos_core::retry::is_retryable(&err), "{shown}");
}

#[tokio::test]
async fn htpasswd_over_tls() {
    let tls = TestTls::generate();
    let registry = TestRegistry::start(RegistryOptions {
        tls: Some(&tls),
        htpasswd_user: Some(("alice", "s3cret")),
        delete_enabled: true,
        ..Default::default()
    });
    let alice = Credentials::basic("alice", "s3cret");
    let client = registry.tls_client(&tls, alice.clone());
    let image = TestImage::new(4);
    let digest = push(&client, "private/app", "v1", &image).await;
    let (bytes, _) = client
        .get_manifest("private/app", &digest.to_string())
        .await
        .unwrap();
    assert_eq!(bytes, image.manifest);

    // A wrong password, or none, is refused with skopeo's message, without the secret.
    let wrong = registry.tls_client(&tls, Credentials::basic("alice", "wrong-password"));
    // `login`'s check: the right password passes, a wrong one does not.
    client.check_credentials().await.unwrap();
    let err = wrong.check_credentials().await.unwrap_err();
    assert!(format!("{err:#}").contains("unauthorized"), "{err:#}");
    let err = wrong.get_manifest("private/app", "v1").await.unwrap_err();
    let shown = format!("{err:#}");
    assert!(shown.ends_with(": authentication required"), "{shown}");
    assert!(!shown.contains("wrong-password"), "{shown}");
    assert!(!format!("{err:?}").contains("wrong-password"));
    let anonymous = registry.tls_client(&tls, Credentials::Anonymous);
    let err = anonymous.list_tags("private/app").await.unwrap_err();
    assert!(
        format!("{err:#}").contains("authentication required"),
        "{err:#}"
    );

    // Without the CA the certificate is refused, in one line naming the host.
    let mut config = registry.config();
    config.credentials = alice.clone();
    let untrusting = RegistryClient::new(config.clone()).unwrap();
    let err = untrusting
        .get_manifest("private/app", "v1")
        .await
        .unwrap_err();
    let shown = format!("{err:#}");
    assert!(
        shown.contains(&format!("pinging container registry {}", registry.host)),
        "{shown}"
    );
    assert!(shown.contains("certificate"), "{shown}");
    assert!(!shown.contains('\n'), "{shown}");

    // With verification off, the same client works.
    config.tls_verify = false;
    let unverified = RegistryClient::new(config).unwrap();
    let (bytes, _) = unverified.get_manifest("private/app", "v1").await.unwrap();
    assert_eq!(bytes, image.manifest);
}

#[tokio::test]
async fn token_auth_push_pull_mount_delete() {
    let issuer = Arc::new(TokenIssuer::new());
    let signer = issuer.clone();
    let expected_login = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:s3cret")
    );
    let token_server = FakeServer::start(move |request| {
        if request.header("authorization") != Some(expected_login.as_str()) {
            return Reply::status(401)
                .body(r#"{"errors":[{"code":"UNAUTHORIZED","message":"invalid login"}]}"#);
        }
        let token = signer.issue("alice", &request.params("scope", false));
        Reply::status(200).body(format!(r#"{{"token":"{token}","expires_in":300}}"#))
    })
    .await;
    let realm = format!("http://{}/token", token_server.host);
    let registry = TestRegistry::start(RegistryOptions {
        delete_enabled: true,
        token_auth: Some((&realm, SERVICE, ISSUER, &issuer.cert_pem)),
        ..Default::default()
    });
    let mut config = registry.config();
    config.insecure_http_allowed = true;
    config.credentials = Credentials::basic("alice", "s3cret");
    let client = RegistryClient::new(config.clone()).unwrap();
    let image = TestImage::new(5);
    let digest = push(&client, "team/app", "v1", &image).await;
    let (bytes, _) = client
        .get_manifest("team/app", &digest.to_string())
        .await
        .unwrap();
    assert_eq!(bytes, image.manifest);
    let layer_digest = Digest::sha256_of(&image.layer);
    let (stream, _) = client.get_blob("team/app", &layer_digest).await.unwrap();
    assert_eq!(read_all(stream).await.unwrap(), image.layer);
    // One token carries push on the target and pull on the source.
    assert!(client
        .mount_blob(
            "team/copy",
            &layer_digest,
            "team/app",
            &UploadSessions::default(),
        )
        .await
        .unwrap());
    assert!(token_server
        .requests()
        .iter()
        .any(|r| r.params("scope", false)
            == ["repository:team/app:pull", "repository:team/copy:pull,push"]));
    assert_eq!(client.list_tags("team/app").await.unwrap(), ["v1"]);
    client.delete_manifest("team/app", &digest).await.unwrap();
    let err = client.get_manifest("team/app", "v1").await.unwrap_err();
    assert!(is_image_not_found(&err), "{err:#}");

    config.credentials = Credentials::basic("alice", "not-her-password");
    let wrong = RegistryClient::new(config).unwrap();
    let err = wrong.get_manifest("team/app", "v1").await.unwrap_err();
    let shown = format!("{err:#}");
    assert!(
        shown.ends_with(
            "unable to retrieve auth token: invalid username/password: unauthorized: invalid login"
        ),
        "{shown}"
    );
    assert!(!shown.contains("not-her-password"), "{shown}");
}

#[tokio::test]
async fn client_certificates() {
    let tls = TestTls::generate();
    let registry = TestRegistry::start(RegistryOptions {
        tls: Some(&tls),
        require_client_cert: true,
        ..Default::default()
    });
    let mut config = registry.config();
    config.ca_certs_pem = vec![tls.ca_pem.as_bytes().to_vec()];
    let without = RegistryClient::new(config.clone()).unwrap();
    let err = without.ping().await.unwrap_err();
    assert!(
        format!("{err:#}").starts_with(&format!("pinging container registry {}", registry.host)),
        "{err:#}"
    );
    config.client_identity_pem = Some(tls.client_identity_pem.as_bytes().to_vec());
    let with = RegistryClient::new(config.clone()).unwrap();
    with.ping().await.unwrap();
    assert_eq!(
        with.head_manifest("some/repo", "latest").await.unwrap(),
        None
    );

    config.client_identity_pem = Some(b"not a PEM".to_vec());
    let err = RegistryClient::new(config).unwrap_err();
    assert!(
        format!("{err:#}").contains("reading the client certificate and key for registry"),
        "{err:#}"
    );
}
