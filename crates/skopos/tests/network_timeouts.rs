//! Network timeouts (issue 12, item 1): a server that accepts connections and then says
//! nothing, over plain HTTP and over TLS, makes `inspect`, `copy`, `list-tags`, `delete`,
//! `login` and `sync` fail with one error line instead of hanging; a blob download that
//! stalls is resumed with `Range`. The limits are shortened through
//! `$SKOPOS_NETWORK_TIMEOUTS` so the tests run fast.

mod common;

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::{assert_one_line_failure, snapshot, tree_differences, Outcome, Workspace};
use skopos_testimage::proxy::{Fault, FaultAction, RegistryProxy};
use skopos_testimage::registry::{RegistryOptions, TestRegistry};
use skopos_testimage::ImageSpec;

/// Short limits: the TLS handshake's shorter than the wait for headers, so each failure
/// says which limit ran out.
const SHORT: (&str, &str) = (
    "SKOPOS_NETWORK_TIMEOUTS",
    "connect=2,tls-handshake=0.5,headers=1.5,stall=1",
);

/// A loopback listener that accepts every connection and never reads or writes; the
/// connections stay open until it is dropped.
struct SilentServer {
    host: String,
    stopping: Arc<AtomicBool>,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
}

impl SilentServer {
    fn start() -> SilentServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the silent server");
        let host = listener.local_addr().expect("its address").to_string();
        let stopping = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (stop, count) = (stopping.clone(), accepted.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for connection in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                count.fetch_add(1, Ordering::SeqCst);
                held.extend(connection.ok());
            }
        });
        SilentServer {
            host,
            stopping,
            accepted,
        }
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(&self.host);
    }
}

fn assert_timed_out(outcome: &Outcome, message: &str) {
    assert_one_line_failure(outcome, Some(1));
    assert!(
        common::skopeo_message(&outcome.stderr).contains(message),
        "`{}` should fail with {message:?}, got: {}",
        outcome.command,
        outcome.stderr
    );
}

/// `inspect`, `list-tags`, `delete`, `login`, `sync` and `copy` (into an existing destination, which must not change)
/// against the silent server with `tls` (`--tls-verify=…`), each expected to fail with
/// `message`.
fn assert_every_command_times_out(tls: &str, message: &str) {
    let workspace = Workspace::new();
    let server = SilentServer::start();
    let image = format!("docker://{}/silent/app:v1", server.host);
    let repository = format!("docker://{}/silent/app", server.host);
    let verify = format!("--tls-verify={tls}");
    let src_verify = format!("--src-tls-verify={tls}");
    let run = |args: &[&str]| workspace.skopos_with_env(&[SHORT], args);

    assert_timed_out(&run(&["inspect", &verify, &image]), message);
    assert_timed_out(&run(&["list-tags", &verify, &repository]), message);
    assert_timed_out(&run(&["delete", &verify, &image]), message);
    let login = run(&["login", &verify, "-u", "user", "-p", "secret", &server.host]);
    assert_timed_out(&login, message);
    // sync reports progress on stderr as skopeo's does; the error is its last line.
    let sync = run(&[
        "--insecure-policy",
        "sync",
        "--src",
        "docker",
        "--dest",
        "dir",
        &src_verify,
        &format!("{}/silent/app", server.host),
        "synced",
    ]);
    assert_eq!(sync.code, Some(1), "{}", sync.stderr);
    let last = sync.stderr.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.contains("level=fatal") && common::skopeo_message(last).contains(message),
        "sync should end with {message:?}, got: {}",
        sync.stderr
    );

    workspace.image("good", "t", 1);
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "oci:good:t",
            "oci:dest:t",
        ])
        .assert_success();
    let before = snapshot(&workspace.path("dest"));
    let copy = run(&[
        "--insecure-policy",
        "copy",
        "-q",
        &src_verify,
        &image,
        "oci:dest:t",
    ]);
    assert_timed_out(&copy, message);
    assert!(
        tree_differences(
            &snapshot(&workspace.path("dest")),
            &before,
            "after",
            "before"
        )
        .is_empty(),
        "the failed copy changed its destination"
    );
}

#[test]
fn a_silent_tls_server_fails_every_command_at_the_handshake_limit() {
    assert_every_command_times_out("true", "net/http: TLS handshake timeout");
}

#[test]
fn a_silent_server_fails_every_command_at_the_headers_limit_after_the_http_fallback() {
    // HTTPS first (its handshake times out), then plain HTTP, whose answer never comes.
    assert_every_command_times_out("false", "Get \"http://");
    let workspace = Workspace::new();
    let server = SilentServer::start();
    let outcome = workspace.skopos_with_env(
        &[SHORT],
        &[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{}/silent/app:v1", server.host),
        ],
    );
    assert_timed_out(&outcome, "net/http: timeout awaiting response headers");
}

#[test]
fn a_sync_to_a_silent_registry_waits_out_its_timeouts_once_per_wave_not_once_per_image() {
    // Twelve images are looked at at once; their checks wait for one ping of the destination
    // and share its failure, rather than each pinging again in turn after it.
    const TAGS: usize = 12;
    let workspace = Workspace::new();
    let source = TestRegistry::start(RegistryOptions::default());
    workspace.push_tags(&source.host, TAGS, 500);
    let server = SilentServer::start();
    let sync = workspace.skopos_with_env(
        &[SHORT],
        &[
            "--insecure-policy",
            "sync",
            "--src",
            "docker",
            "--dest",
            "docker",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &format!("{}/app", source.host),
            &server.host,
        ],
    );
    assert_eq!(sync.code, Some(1), "{}", sync.stderr);
    let last = sync.stderr.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.contains("level=fatal")
            && last.contains("net/http: timeout awaiting response headers"),
        "sync should end with the headers timeout, got: {}",
        sync.stderr
    );
    // Each ping is two connections (HTTPS, whose handshake times out, then HTTP).
    let pings = server.accepted.load(Ordering::SeqCst) / 2;
    assert!(
        pings < TAGS / 2,
        "{pings} pings of the silent registry for {TAGS} images:\n{}",
        sync.stderr
    );
}

#[test]
fn a_bad_timeouts_variable_is_a_clear_error() {
    let workspace = Workspace::new();
    let outcome = workspace.skopos_with_env(
        &[("SKOPOS_NETWORK_TIMEOUTS", "stall=never")],
        &["inspect", "docker://127.0.0.1:1/a:b"],
    );
    assert_timed_out(&outcome, "$SKOPOS_NETWORK_TIMEOUTS: \"stall=never\"");
}

#[test]
fn a_stalled_blob_download_resumes_with_range() {
    let workspace = Workspace::new();
    let registry = TestRegistry::start(RegistryOptions::default());
    let proxy = RegistryProxy::start(&registry.host)
        .unwrap_or_else(|error| panic!("starting the registry proxy: {error}"));
    let image = workspace.image_from("src", "t", &ImageSpec::new(8).with_layers(1, 400_000));
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "oci:src:t",
            &format!("docker://{}/stall/app:v1", registry.host),
        ])
        .assert_success();
    let layer = &image.layers[0];
    let blob_path = format!("^/v2/stall/app/blobs/{}$", layer.digest);
    proxy.add_fault(Fault::new(
        "GET",
        &blob_path,
        FaultAction::StallResponseAfter(layer.size / 2),
    ));
    workspace
        .skopos_with_env(
            &[SHORT],
            &[
                "--insecure-policy",
                "copy",
                "-q",
                "--src-tls-verify=false",
                &format!("docker://{}/stall/app:v1", proxy.host),
                "oci:pulled:t",
            ],
        )
        .assert_success();
    let blob_requests: Vec<_> = proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.method == "GET" && e.target.ends_with(layer.hex()))
        .collect();
    assert_eq!(
        blob_requests.iter().map(|e| e.status).collect::<Vec<_>>(),
        [Some(200), Some(206)],
        "the stalled download should be resumed once with a Range request: {blob_requests:?}"
    );
    assert_eq!(
        common::read(&workspace.layout("pulled").blob_path(&layer.digest)),
        common::read(&workspace.layout("src").blob_path(&layer.digest)),
    );
}

/// A Docker Engine API endpoint (`--daemon-host`) that accepts connections and never
/// answers: reading an image (`docker save`) fails at the headers limit, loading a small one
/// when no answer follows the upload, and loading one larger than the socket buffers when
/// the engine stops taking data.
#[test]
fn a_silent_docker_engine_fails_save_and_load_at_the_limits() {
    let workspace = Workspace::new();
    let server = SilentServer::start();
    let daemon_host = format!("http://{}", server.host);
    let outcome = workspace.skopos_with_env(
        &[SHORT],
        &[
            "inspect",
            "--daemon-host",
            &daemon_host,
            "docker-daemon:img:latest",
        ],
    );
    assert_timed_out(&outcome, "net/http: timeout awaiting response headers");

    workspace.image("small", "t", 3);
    let outcome = workspace.skopos_with_env(
        &[SHORT],
        &[
            "--insecure-policy",
            "copy",
            "--dest-daemon-host",
            &daemon_host,
            "oci:small:t",
            "docker-daemon:img:t",
        ],
    );
    assert_timed_out(
        &outcome,
        "waiting for the docker engine to load the image: net/http: timeout awaiting response headers",
    );

    // 48 MiB of incompressible layers: more than loopback's socket buffers hold.
    workspace.image_from("large", "t", &ImageSpec::new(4).with_layers(3, 16 << 20));
    let outcome = workspace.skopos_with_env(
        &[SHORT],
        &[
            "--insecure-policy",
            "copy",
            "--dest-daemon-host",
            &daemon_host,
            "oci:large:t",
            "docker-daemon:img:t",
        ],
    );
    assert_timed_out(
        &outcome,
        "the docker engine took no data of the image for 1s",
    );
}

/// A Docker Engine that starts sending an image and then stops: the read fails at the stall
/// limit instead of waiting for ever.
#[test]
fn a_docker_engine_that_stops_mid_image_fails_at_the_stall_limit() {
    use std::io::{BufRead as _, BufReader, Write as _};
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding the stalling engine");
    let host = listener.local_addr().expect("its address").to_string();
    std::thread::spawn(move || {
        let Ok((connection, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(connection.try_clone().expect("cloning the connection"));
        let mut line = String::new();
        // The request head, up to its blank line.
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
            line.clear();
        }
        let mut writer = connection;
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n";
        let _ = writer.write_all(head.as_bytes());
        let _ = writer.write_all(format!("{:x}\r\n", 512).as_bytes());
        let _ = writer.write_all(&[0u8; 512]);
        let _ = writer.write_all(b"\r\n");
        let _ = writer.flush();
        // Hold the connection open, sending nothing more, until the client gives up.
        let _ = reader.read_line(&mut line);
    });
    let workspace = Workspace::new();
    let outcome = workspace.skopos_with_env(
        &[SHORT],
        &[
            "inspect",
            "--daemon-host",
            &format!("http://{host}"),
            "docker-daemon:img:latest",
        ],
    );
    assert_timed_out(&outcome, "no data received for 1s, giving up");
}
