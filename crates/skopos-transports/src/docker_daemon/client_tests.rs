use std::sync::OnceLock;

use skopos_testimage::podman::PodmanService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

use super::*;

fn context_for(host: &str) -> SystemContext {
    SystemContext {
        docker_daemon_host: Some(host.to_string()),
        ..SystemContext::default()
    }
}

/// One podman API service for this module's tests.
fn podman() -> &'static PodmanService {
    static SERVICE: OnceLock<PodmanService> = OnceLock::new();
    SERVICE.get_or_init(PodmanService::start)
}

/// An HTTP reply: a status line and headers (without the blank line), then `body` with its
/// Content-Length.
fn http_reply(status_and_headers: &str, body: &str) -> String {
    format!(
        "{status_and_headers}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A fake daemon on a unix socket that answers one connection: it reads the request (up to
/// the end of a chunked body when there is one, or until the client hangs up) and, unless
/// the client hung up first, answers `reply`. Yields the request bytes it read and whether
/// the body ended properly with its last chunk.
async fn fake_daemon(
    reply: String,
) -> (
    tempfile::TempDir,
    String,
    tokio::task::JoinHandle<(Vec<u8>, bool)>,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("fake.sock");
    let listener = UnixListener::bind(&socket).expect("binding the fake daemon's socket");
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accepting");
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        let complete = loop {
            let head_end = request.windows(4).position(|w| w == b"\r\n\r\n");
            if let Some(end) = head_end {
                let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                if !head.contains("transfer-encoding: chunked") {
                    break true;
                }
                if request[end + 4..].ends_with(b"0\r\n\r\n") {
                    break true;
                }
            }
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break false,
                Ok(n) => request.extend_from_slice(&buffer[..n]),
            }
        };
        if complete {
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        (request, complete)
    });
    let host = format!("unix://{}", socket.display());
    (dir, host, task)
}

#[test]
fn a_host_without_a_scheme_is_refused_as_skopeo_does() {
    let err = DaemonClient::new(&context_for("/var/run/docker.sock"))
        .err()
        .expect("a host without :// must be refused");
    assert_eq!(
        format!("{err:#}"),
        "initializing docker engine client: unable to parse docker host `/var/run/docker.sock`"
    );
}

#[test]
fn hosts_pick_the_connection_kind() {
    let ctx = SystemContext::default();
    let client = DaemonClient::for_host("unix:///run/x.sock".into(), &ctx).expect("unix host");
    assert!(matches!(&client.endpoint, Endpoint::Unix(path) if path == Path::new("/run/x.sock")));
    let client = DaemonClient::for_host("http://127.0.0.1:2375".into(), &ctx).expect("http");
    assert!(matches!(&client.endpoint, Endpoint::Tcp { address } if address == "127.0.0.1:2375"));
    let client =
        DaemonClient::for_host("tcp://daemon.example:2376/base/".into(), &ctx).expect("tcp");
    assert!(
        matches!(&client.endpoint, Endpoint::Tls { address, .. } if address == "daemon.example:2376")
    );
    assert_eq!(
        client.url("/images/get?names=a"),
        "https://daemon.example:2376/base/v1.22/images/get?names=a"
    );
}

#[test]
fn a_cert_dir_without_ca_pem_is_refused_with_the_file_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ctx = SystemContext {
        docker_daemon_host: Some("tcp://127.0.0.1:2376".into()),
        docker_cert_dir: Some(dir.path().to_path_buf()),
        ..SystemContext::default()
    };
    let err = DaemonClient::new(&ctx).err().expect("ca.pem is missing");
    let ca = dir.path().join("ca.pem");
    assert_eq!(
        format!("{err:#}"),
        format!(
            "initializing docker engine client: could not read CA certificate \"{0}\": open {0}: no such file or directory",
            ca.display()
        )
    );
}

#[test]
fn names_are_query_escaped_like_go() {
    assert_eq!(
        query_escape("example.com/foo:bar"),
        "example.com%2Ffoo%3Abar"
    );
    assert_eq!(query_escape("a b~c_d-e.f@sha256"), "a+b~c_d-e.f%40sha256");
}

#[test]
fn load_replies_report_their_first_error() {
    assert!(load_reply_error(b"").is_ok());
    assert!(load_reply_error(b"{\"stream\":\"Loaded image: x:y\\n\"}\n").is_ok());
    let err = load_reply_error(
        b"{\"stream\":\"a\"}\r\n{\"errorDetail\":{\"message\":\"bad \\\"tar\\\"\"},\"error\":\"bad\"}\r\n",
    )
    .expect_err("an errorDetail is an error");
    assert_eq!(err.to_string(), r#"docker engine reported: "bad \"tar\"""#);
    let err = load_reply_error(b"{\"error\":\"only this\"}").expect_err("an error is an error");
    assert_eq!(err.to_string(), r#"docker engine reported: "only this""#);
}

#[tokio::test]
async fn a_missing_socket_cannot_be_connected_to() {
    let dir = tempfile::tempdir().expect("temp dir");
    let host = format!("unix://{}/nothing.sock", dir.path().display());
    let client = DaemonClient::new(&context_for(&host)).expect("client");
    let expected =
        format!("Cannot connect to the Docker daemon at {host}. Is the docker daemon running?");
    let err = client
        .image_save("busybox:latest")
        .await
        .err()
        .expect("no daemon");
    assert_eq!(format!("{err:#}"), expected);
    let err = client.image_load().await.err().expect("no daemon");
    assert_eq!(format!("{err:#}"), expected);
}

#[tokio::test]
async fn a_refused_tcp_connection_cannot_be_connected_to() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let host = format!("http://127.0.0.1:{port}");
    let client = DaemonClient::new(&context_for(&host)).expect("client");
    let err = client
        .image_save("busybox:latest")
        .await
        .err()
        .expect("refused");
    assert_eq!(
        format!("{err:#}"),
        format!("Cannot connect to the Docker daemon at {host}. Is the docker daemon running?")
    );
}

#[tokio::test]
async fn error_replies_carry_the_daemon_body_as_sent() {
    let (_dir, host, server) = fake_daemon(http_reply(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json",
        "{\"message\":\"x:y: image not known\"}\n    ",
    ))
    .await;
    let client = DaemonClient::new(&context_for(&host)).expect("client");
    let err = client
        .image_save("example.com/x:y")
        .await
        .err()
        .expect("a 500");
    assert_eq!(
        format!("{err:#}"),
        "Error response from daemon: {\"message\":\"x:y: image not known\"}"
    );
    let (request, _) = server.await.expect("fake daemon");
    let request = String::from_utf8_lossy(&request);
    assert!(
        request.starts_with("GET /v1.22/images/get?names=example.com%2Fx%3Ay HTTP/1.1\r\n"),
        "{request}"
    );
}

#[tokio::test]
async fn an_empty_error_reply_names_the_route() {
    let (_dir, host, server) = fake_daemon(http_reply("HTTP/1.1 404 Not Found", "")).await;
    let client = DaemonClient::new(&context_for(&host)).expect("client");
    let err = client.image_save("a:b").await.err().expect("a 404");
    let socket = host.trim_start_matches("unix://").replace('/', "%2F");
    assert_eq!(
        format!("{err:#}"),
        format!("request returned Not Found for API route and version http://{socket}/v1.22/images/get?names=a%3Ab, check if the server supports the requested API version")
    );
    server.await.expect("fake daemon");
}

#[tokio::test]
async fn a_finished_upload_ends_its_body_and_returns_the_daemon_verdict() {
    let (_dir, host, server) = fake_daemon(http_reply(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json",
        "{\"stream\":\"x\"}\r\n{\"errorDetail\":{\"message\":\"no\"},\"error\":\"no\"}\r\n",
    ))
    .await;
    let client = DaemonClient::new(&context_for(&host)).expect("client");
    let LoadUpload {
        mut writer,
        mut reply,
    } = client.image_load().await.expect("connected");
    writer.write_all(b"tar bytes").await.expect("writing");
    writer.shutdown().await.expect("finishing");
    let err = reply.wait().await.expect_err("the daemon said no");
    assert_eq!(format!("{err:#}"), "docker engine reported: \"no\"");
    let (request, complete) = server.await.expect("fake daemon");
    assert!(complete, "the body must end with its last chunk");
    let request = String::from_utf8_lossy(&request);
    assert!(
        request.starts_with("POST /v1.22/images/load?quiet=1 HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request.contains("content-type: application/x-tar\r\n"),
        "{request}"
    );
    assert!(request.contains("tar bytes"), "{request}");
}

#[tokio::test]
async fn an_upload_dropped_before_it_finished_never_completes_its_body() {
    let (_dir, host, server) = fake_daemon(http_reply("HTTP/1.1 200 OK", "")).await;
    let client = DaemonClient::new(&context_for(&host)).expect("client");
    let LoadUpload { mut writer, reply } = client.image_load().await.expect("connected");
    writer.write_all(b"half a tar").await.expect("writing");
    drop(writer);
    // The daemon sees the connection end before the body's last chunk.
    let (_request, complete) = server.await.expect("fake daemon");
    assert!(!complete, "the aborted body must not end cleanly");
    drop(reply);
}

#[tokio::test]
async fn podman_loads_what_it_saved_through_the_client() {
    let service = podman();
    let work = tempfile::tempdir().expect("temp dir");
    // An image made by podman itself: a one-layer tar imported under a name.
    let rootfs = work.path().join("rootfs.tar");
    let layer = tar_with_one_file(b"saved")
        .into_inner()
        .expect("finishing the tar");
    std::fs::write(&rootfs, layer).expect("writing the layer");
    service.podman_ok(&[
        "import",
        rootfs.to_str().expect("UTF-8 path"),
        "example.com/client/saved:1",
    ]);
    let client = DaemonClient::new(&context_for(&service.host())).expect("client");
    let mut saved = client
        .image_save("example.com/client/saved:1")
        .await
        .expect("saving");
    let mut archive = Vec::new();
    saved
        .read_to_end(&mut archive)
        .await
        .expect("reading the saved image");
    let names: Vec<String> = tar_names(&archive);
    assert!(
        names.iter().any(|name| name == "manifest.json"),
        "{names:?}"
    );

    service.remove_image("example.com/client/saved:1");
    assert!(!service.has_image("example.com/client/saved:1"));
    let LoadUpload {
        mut writer,
        mut reply,
    } = client.image_load().await.expect("connected");
    for chunk in archive.chunks(1000) {
        writer.write_all(chunk).await.expect("uploading");
    }
    writer.shutdown().await.expect("finishing");
    reply.wait().await.expect("podman loads the image");
    assert!(service.has_image("example.com/client/saved:1"));
}

#[tokio::test]
async fn podman_loads_nothing_from_an_upload_dropped_before_it_finished() {
    let service = podman();
    let work = tempfile::tempdir().expect("temp dir");
    let rootfs = work.path().join("rootfs.tar");
    let layer = tar_with_one_file(b"aborted")
        .into_inner()
        .expect("finishing the tar");
    std::fs::write(&rootfs, layer).expect("writing the layer");
    service.podman_ok(&[
        "import",
        rootfs.to_str().expect("UTF-8 path"),
        "example.com/client/aborted:1",
    ]);
    let archive = work.path().join("saved.tar");
    service.save("example.com/client/aborted:1", &archive);
    service.remove_image("example.com/client/aborted:1");
    let archive = std::fs::read(&archive).expect("reading the saved image");

    // The whole, valid archive goes up, but the body is never finished.
    let client = DaemonClient::new(&context_for(&service.host())).expect("client");
    let LoadUpload { mut writer, reply } = client.image_load().await.expect("connected");
    writer.write_all(&archive).await.expect("uploading");
    writer.flush().await.expect("uploading");
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(writer);
    drop(reply);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!service.has_image("example.com/client/aborted:1"));
}

#[tokio::test]
async fn podman_reports_a_missing_image_as_skopeo_prints_it() {
    let client = DaemonClient::new(&context_for(&podman().host())).expect("client");
    let err = client
        .image_save("example.com/client/missing:1")
        .await
        .err()
        .expect("no such image");
    let text = format!("{err:#}");
    assert!(
        text.starts_with("Error response from daemon: {")
            && text.contains("example.com/client/missing:1: image not known"),
        "{text}"
    );
}

/// A layer tar holding one file with `contents`: tests sharing the podman service use
/// different contents so that removing one test's image never removes another's layer.
fn tar_with_one_file(contents: &[u8]) -> tar::Builder<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(contents.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "hello.txt", contents)
        .expect("tar entry");
    builder
}

fn tar_names(archive: &[u8]) -> Vec<String> {
    let mut reader = tar::Archive::new(archive);
    reader
        .entries()
        .expect("a tar")
        .map(|entry| {
            entry
                .expect("a tar entry")
                .path()
                .expect("a path")
                .display()
                .to_string()
        })
        .collect()
}

/// A fake TLS daemon on a free loopback port: one connection, `reply` to whatever is asked.
/// With `client_ca`, clients must present a certificate signed by it. Yields whether the
/// handshake succeeded.
async fn fake_tls_daemon(
    tls: &skopos_testimage::registry::TestTls,
    require_client_certificate: bool,
    reply: String,
) -> (String, tokio::task::JoinHandle<bool>) {
    use tokio_rustls::rustls::server::WebPkiClientVerifier;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("TLS versions");
    let builder = if require_client_certificate {
        let mut roots = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(tls.ca_pem.as_bytes()) {
            roots.add(certificate.expect("CA PEM")).expect("CA");
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .expect("client verifier");
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let certificates = CertificateDer::pem_slice_iter(tls.server_cert_pem.as_bytes())
        .collect::<std::result::Result<Vec<_>, _>>()
        .expect("server certificate PEM");
    let key = PrivateKeyDer::from_pem_slice(tls.server_key_pem.as_bytes()).expect("server key");
    let config = builder
        .with_single_cert(certificates, key)
        .expect("server TLS config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a port");
    let port = listener.local_addr().expect("port").port();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accepting");
        let Ok(mut stream) = acceptor.accept(stream).await else {
            return false;
        };
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return true,
                Ok(n) => request.extend_from_slice(&buffer[..n]),
            }
        }
        let _ = stream.write_all(reply.as_bytes()).await;
        let _ = stream.shutdown().await;
        true
    });
    (format!("tcp://127.0.0.1:{port}"), task)
}

#[tokio::test]
async fn tls_daemons_are_verified_with_ca_pem_and_given_cert_pem() {
    let tls = skopos_testimage::registry::TestTls::generate();
    let certs = tempfile::tempdir().expect("temp dir");
    std::fs::write(certs.path().join("ca.pem"), &tls.ca_pem).expect("ca.pem");
    std::fs::write(certs.path().join("cert.pem"), &tls.client_identity_pem).expect("cert.pem");
    std::fs::write(certs.path().join("key.pem"), &tls.client_identity_pem).expect("key.pem");
    let (host, server) = fake_tls_daemon(&tls, true, http_reply("HTTP/1.1 200 OK", "tar")).await;
    let ctx = SystemContext {
        docker_daemon_host: Some(host),
        docker_cert_dir: Some(certs.path().to_path_buf()),
        ..SystemContext::default()
    };
    let mut saved = DaemonClient::new(&ctx)
        .expect("client")
        .image_save("a:b")
        .await
        .expect("the TLS daemon answers");
    let mut body = String::new();
    saved.read_to_string(&mut body).await.expect("body");
    assert_eq!(body, "tar");
    assert!(server.await.expect("fake daemon"), "handshake failed");
}

#[tokio::test]
async fn tls_daemons_with_unknown_certificates_are_refused_unless_verification_is_off() {
    let tls = skopos_testimage::registry::TestTls::generate();
    let (host, server) = fake_tls_daemon(&tls, false, http_reply("HTTP/1.1 200 OK", "")).await;
    let err = DaemonClient::new(&context_for(&host))
        .expect("client")
        .image_save("a:b")
        .await
        .err()
        .expect("the test CA is not trusted");
    let text = format!("{err:#}");
    let url = host.replace("tcp://", "https://");
    assert!(
        text.starts_with(&format!(
            "error during connect: Get \"{url}/v1.22/images/get?names=a%3Ab\": "
        )),
        "{text}"
    );
    assert!(text.contains("certificate"), "{text}");
    assert!(!server.await.expect("fake daemon"));

    let (host, server) = fake_tls_daemon(&tls, false, http_reply("HTTP/1.1 200 OK", "")).await;
    let ctx = SystemContext {
        docker_daemon_host: Some(host),
        docker_tls_verify: Some(false),
        ..SystemContext::default()
    };
    DaemonClient::new(&ctx)
        .expect("client")
        .image_save("a:b")
        .await
        .expect("--tls-verify=false accepts any certificate");
    assert!(server.await.expect("fake daemon"));
}
