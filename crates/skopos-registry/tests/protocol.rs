//! Protocol details checked against a scripted server: token realms and scopes, retries,
//! resumed downloads, redirects and the number of requests per upload.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use common::fake::{FakeServer, Recorded, Reply};
use common::{blob_info, read_all, reader};
use skopos_core::media_type::OCI_MANIFEST;
use skopos_core::retry::Transient;
use skopos_core::{Credentials, Digest, Secret};
use skopos_registry::{ClientConfig, RegistryClient, UploadSessions};

fn client(host: &str, credentials: Credentials) -> RegistryClient {
    let mut config = ClientConfig::new(host);
    config.insecure_http_allowed = true;
    config.retry_base_delay = Duration::from_millis(10);
    config.credentials = credentials;
    RegistryClient::new(config).unwrap()
}

fn bearer_challenge(request: &Recorded, extra: &str) -> String {
    format!(
        r#"Bearer realm="http://{}/token",service="fake-registry"{extra}"#,
        request.header("host").unwrap()
    )
}

const MANIFEST: &[u8] =
    br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;

fn alice() -> Credentials {
    Credentials::basic("alice", "pa55word")
}

#[tokio::test]
async fn bearer_tokens_per_scope_set_cached_and_widened_on_insufficient_scope() {
    let issued = AtomicUsize::new(0);
    let server = FakeServer::start(move |request| {
        let authorization = request.header("authorization").unwrap_or("");
        match (request.method.as_str(), request.path()) {
            ("GET", "/token") => {
                let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
                Reply::status(200).body(format!(r#"{{"token":"tok-{n}","expires_in":300}}"#))
            }
            (_, "/v2/") => Reply::status(401)
                .header("WWW-Authenticate", &bearer_challenge(request, "")),
            ("GET", "/v2/app/manifests/v1") if authorization.starts_with("Bearer tok-") => {
                Reply::status(200)
                    .header("Content-Type", "application/vnd.oci.image.manifest.v1+json; charset=x")
                    .body(MANIFEST)
            }
            ("GET", "/v2/app/tags/list") if authorization == "Bearer tok-1" => {
                Reply::status(401).header(
                    "WWW-Authenticate",
                    &bearer_challenge(
                        request,
                        r#",scope="repository:app:pull repository:extra:pull",error="insufficient_scope""#,
                    ),
                )
            }
            ("GET", "/v2/app/tags/list") if authorization == "Bearer tok-2" => {
                Reply::status(200).body(format!(
                    r#"{{"name":"app","tags":["a","","{}"]}}"#,
                    Digest::sha256_of(b"listed as a tag")
                ))
            }
            ("POST", "/v2/dst/blobs/uploads/") if authorization.starts_with("Bearer tok-") => {
                if request.target.contains("from=src&") || request.target.ends_with("from=src") {
                    Reply::status(201)
                } else {
                    Reply::status(202).header("Location", "/v2/dst/blobs/uploads/started")
                }
            }
            ("DELETE", "/v2/dst/blobs/uploads/started") => Reply::status(204),
            _ => Reply::status(401).header("WWW-Authenticate", &bearer_challenge(request, "")),
        }
    })
    .await;
    let client = client(&server.host, alice());
    for _ in 0..2 {
        let (bytes, mime) = client.get_manifest("app", "v1").await.unwrap();
        assert_eq!(bytes, MANIFEST);
        assert_eq!(mime, OCI_MANIFEST);
    }
    assert_eq!(client.list_tags("app").await.unwrap(), ["a"]);
    let digest = Digest::sha256_of(b"layer");
    let sessions = UploadSessions::default();
    assert!(client
        .mount_blob("dst", &digest, "src", &sessions)
        .await
        .unwrap());
    assert!(!client
        .mount_blob("dst", &digest, "src2", &sessions)
        .await
        .unwrap());
    // The upload the failed mount started is kept for an upload; unused, it is cancelled.
    assert!(!server.requests().iter().any(|r| r.method == "DELETE"));
    client.cancel_unused_uploads(&sessions).await;

    let requests = server.requests();
    let tokens: Vec<_> = requests.iter().filter(|r| r.path() == "/token").collect();
    assert_eq!(
        tokens.len(),
        4,
        "one token per scope set, reused: {tokens:#?}"
    );
    let basic = base64::engine::general_purpose::STANDARD.encode("alice:pa55word");
    for token in &tokens {
        assert_eq!(
            token.header("authorization"),
            Some(format!("Basic {basic}").as_str())
        );
        assert_eq!(token.params("service", false), ["fake-registry"]);
        assert_eq!(token.params("account", false), ["alice"]);
    }
    assert_eq!(tokens[0].params("scope", false), ["repository:app:pull"]);
    assert_eq!(
        tokens[1].params("scope", false),
        ["repository:app:pull", "repository:extra:pull"]
    );
    assert_eq!(
        tokens[2].params("scope", false),
        ["repository:dst:pull,push", "repository:src:pull"]
    );
    assert_eq!(
        tokens[3].params("scope", false),
        ["repository:dst:pull,push", "repository:src2:pull"]
    );
    assert!(requests
        .iter()
        .any(|r| r.method == "DELETE" && r.path() == "/v2/dst/blobs/uploads/started"));
}

#[tokio::test]
async fn identity_tokens_are_exchanged_with_an_oauth2_post() {
    let server = FakeServer::start(|request| match (request.method.as_str(), request.path()) {
        ("POST", "/token") if request.params("refresh_token", true) == ["good-refresh"] => {
            Reply::status(200).body(r#"{"access_token":"oauth-tok"}"#)
        }
        ("POST", "/token") => Reply::status(401)
            .body(r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad refresh token"}]}"#),
        ("GET", "/v2/app/manifests/v1")
            if request.header("authorization") == Some("Bearer oauth-tok") =>
        {
            Reply::status(200).body(MANIFEST)
        }
        _ => Reply::status(401).header("WWW-Authenticate", &bearer_challenge(request, "")),
    })
    .await;
    let good = client(
        &server.host,
        Credentials::IdentityToken {
            username: None,
            token: Secret::new("good-refresh"),
        },
    );
    let (bytes, _) = good.get_manifest("app", "v1").await.unwrap();
    assert_eq!(bytes, MANIFEST);
    let token_request = server
        .requests()
        .into_iter()
        .find(|r| r.path() == "/token")
        .unwrap();
    assert_eq!(
        token_request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(token_request.params("grant_type", true), ["refresh_token"]);
    assert_eq!(
        token_request.params("client_id", true),
        ["containers/image"]
    );
    assert_eq!(token_request.params("service", true), ["fake-registry"]);
    assert_eq!(token_request.params("scope", true), ["repository:app:pull"]);

    let bad = client(
        &server.host,
        Credentials::IdentityToken {
            username: None,
            token: Secret::new("secret-refresh"),
        },
    );
    let err = bad.get_manifest("app", "v1").await.unwrap_err();
    let shown = format!("{err:#}");
    assert!(
        shown.ends_with("unable to retrieve auth token: invalid username/password: unauthorized: bad refresh token"),
        "{shown}"
    );
    assert!(!shown.contains("secret-refresh") && !format!("{err:?}").contains("secret-refresh"));
}

#[tokio::test]
async fn a_registry_token_is_sent_as_is() {
    let server = FakeServer::start(|request| match request.path() {
        "/v2/app/manifests/v1" if request.header("authorization") == Some("Bearer given") => {
            Reply::status(200).body(MANIFEST)
        }
        _ => Reply::status(401).header("WWW-Authenticate", &bearer_challenge(request, "")),
    })
    .await;
    let client = client(&server.host, Credentials::BearerToken(Secret::new("given")));
    client.get_manifest("app", "v1").await.unwrap();
    assert!(server.requests().iter().all(|r| r.path() != "/token"));
}

#[tokio::test]
async fn too_many_requests_are_waited_out_for_bodyless_requests_only() {
    let manifest_gets = AtomicUsize::new(0);
    let server =
        FakeServer::start(
            move |request| match (request.method.as_str(), request.path()) {
                ("GET", "/v2/") => Reply::status(200),
                ("GET", "/v2/app/manifests/v1") => {
                    if manifest_gets.fetch_add(1, Ordering::SeqCst) < 2 {
                        Reply::status(429).header("Retry-After", "0")
                    } else {
                        Reply::status(200).body(MANIFEST)
                    }
                }
                ("GET", "/v2/app/manifests/busy") => Reply::status(503),
                ("PUT", _) => Reply::status(429).header("Retry-After", "0"),
                _ => Reply::status(404),
            },
        )
        .await;
    let client = client(&server.host, Credentials::Anonymous);
    let (bytes, _) = client.get_manifest("app", "v1").await.unwrap();
    assert_eq!(bytes, MANIFEST);

    let err = client.get_manifest("app", "busy").await.unwrap_err();
    assert!(err.chain().any(|e| e.is::<Transient>()), "{err:#}");
    assert!(skopos_core::retry::is_retryable(&err));
    let err = client
        .put_manifest("app", "v1", MANIFEST, OCI_MANIFEST)
        .await
        .unwrap_err();
    assert!(err.chain().any(|e| e.is::<Transient>()), "{err:#}");

    let count = |path: &str| {
        server
            .requests()
            .iter()
            .filter(|r| r.path() == path)
            .count()
    };
    assert_eq!(
        count("/v2/app/manifests/v1") - 1,
        3,
        "two 429s, then success"
    );
    assert_eq!(count("/v2/app/manifests/busy"), 5);
}

#[tokio::test]
async fn broken_downloads_resume_with_range() {
    let blob: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let digest = Digest::sha256_of(&blob);
    let served = blob.clone();
    let server = FakeServer::start(move |request| match request.path() {
        "/v2/" => Reply::status(200),
        path if path.starts_with("/v2/app/blobs/") => match request.header("range") {
            None => Reply {
                cut_after: Some(40_000),
                ..Reply::status(200).body(served.clone())
            },
            Some("bytes=40000-") => Reply::status(206)
                .header("Content-Range", "bytes 40000-99999/100000")
                .body(served[40_000..].to_vec()),
            Some(_) => Reply::status(416),
        },
        _ => Reply::status(404),
    })
    .await;
    let client = client(&server.host, Credentials::Anonymous);
    let (stream, size) = client.get_blob("app", &digest).await.unwrap();
    assert_eq!(size, Some(100_000));
    assert_eq!(read_all(stream).await.unwrap(), blob);
    let ranges: Vec<_> = server
        .requests()
        .iter()
        .filter_map(|r| r.header("range").map(str::to_string))
        .collect();
    assert_eq!(ranges, ["bytes=40000-"]);
}

#[tokio::test]
async fn downloads_fail_clearly_when_the_server_cannot_resume() {
    let blob = vec![7u8; 50_000];
    let digest = Digest::sha256_of(&blob);
    let server = FakeServer::start(move |request| match request.path() {
        "/v2/" => Reply::status(200),
        _ => Reply {
            cut_after: Some(10_000),
            ..Reply::status(200).body(blob.clone())
        },
    })
    .await;
    let client = client(&server.host, Credentials::Anonymous);
    let (stream, _) = client.get_blob("app", &digest).await.unwrap();
    let err = read_all(stream).await.unwrap_err();
    assert!(err.to_string().contains("cannot resume"), "{err}");
}

#[tokio::test]
async fn redirects_to_other_hosts_drop_the_authorization() {
    let blob = b"redirected blob".to_vec();
    let digest = Digest::sha256_of(&blob);
    let cdn = FakeServer::start(move |_| Reply::status(200).body(blob.clone())).await;
    let cdn_host = cdn.host.clone();
    let server = FakeServer::start(move |request| {
        if request.header("authorization").is_none() {
            return Reply::status(401).header("WWW-Authenticate", r#"Basic realm="fake""#);
        }
        match request.path() {
            "/v2/" => Reply::status(200),
            _ => Reply::status(307).header("Location", &format!("http://{cdn_host}/storage/blob")),
        }
    })
    .await;
    let client = client(&server.host, alice());
    let (stream, _) = client.get_blob("app", &digest).await.unwrap();
    assert_eq!(read_all(stream).await.unwrap(), b"redirected blob");
    let cdn_requests = cdn.requests();
    assert_eq!(cdn_requests.len(), 1);
    assert_eq!(cdn_requests[0].header("authorization"), None);
    assert!(server
        .requests()
        .iter()
        .any(|r| r.path().starts_with("/v2/app/blobs/") && r.header("authorization").is_some()));
}

#[tokio::test]
async fn uploads_take_two_requests_when_the_digest_is_known_and_three_otherwise() {
    let server = FakeServer::start(|request| match (request.method.as_str(), request.path()) {
        ("GET", "/v2/") => Reply::status(200),
        ("POST", "/v2/app/blobs/uploads/") => {
            Reply::status(202).header("Location", "/upload/1?_state=abc")
        }
        ("PATCH", "/upload/1") => Reply::status(202).header("Location", "/upload/1?_state=def"),
        ("PUT", "/upload/1") => Reply::status(201),
        _ => Reply::status(404),
    })
    .await;
    let client = client(&server.host, Credentials::Anonymous);
    let data = vec![42u8; 300_000];
    let digest = Digest::sha256_of(&data);

    let written = client
        .put_blob(
            "app",
            reader(&data),
            Some(&blob_info(&data)),
            &UploadSessions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        (written.digest.clone(), written.size),
        (digest.clone(), 300_000)
    );
    let requests: Vec<_> = server.requests().into_iter().skip(1).collect();
    let summary: Vec<_> = requests.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(summary, ["POST", "PUT"]);
    assert_eq!(requests[1].body, data);
    assert_eq!(requests[1].params("_state", false), ["abc"]);
    assert_eq!(requests[1].params("digest", false), [digest.to_string()]);

    let written = client
        .put_blob("app", reader(&data), None, &UploadSessions::default())
        .await
        .unwrap();
    assert_eq!(written.digest, digest);
    let requests: Vec<_> = server.requests().into_iter().skip(3).collect();
    let summary: Vec<_> = requests.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(summary, ["POST", "PATCH", "PUT"]);
    assert_eq!(requests[1].body, data);
    assert!(requests[2].body.is_empty());
    assert_eq!(requests[2].params("_state", false), ["def"]);
    assert_eq!(requests[2].params("digest", false), [digest.to_string()]);
}
