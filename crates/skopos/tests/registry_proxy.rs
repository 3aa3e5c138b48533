//! Proxies from the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`), as skopeo honours
//! them through Go's `ProxyFromEnvironment`: plain HTTP goes to the proxy with absolute URLs,
//! HTTPS through a `CONNECT` tunnel. The proxy is a real one, tinyproxy
//! (`apt-get install tinyproxy`), started per test on a free loopback port.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_one_line_failure, Workspace};
use skopos_testimage::registry::{RegistryOptions, TestRegistry, TestTls};

/// A tinyproxy in the foreground; stopped when dropped.
struct ForwardProxy {
    child: Child,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ForwardProxy {
    fn start() -> ForwardProxy {
        let dir = tempfile::tempdir().expect("creating the proxy's directory");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("picking a free port")
            .port();
        let log = dir.path().join("tinyproxy.log");
        let config = dir.path().join("tinyproxy.conf");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{}\"\nLogLevel Info\n\
                 MaxClients 50\nAllow 127.0.0.1\nDisableViaHeader Yes\n",
                log.display()
            ),
        )
        .expect("writing the proxy's configuration");
        let child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting tinyproxy (apt-get install tinyproxy)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tinyproxy did not start listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        ForwardProxy {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        }
    }

    /// The request lines the proxy received, e.g. `GET http://host/v2/ HTTP/1.1`.
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split_once("): ").map(|(_, request)| request))
            .filter(|request| request.ends_with("HTTP/1.1"))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn plain_http_goes_to_the_proxy_and_no_proxy_goes_around_it() {
    let proxy = ForwardProxy::start();
    let registry = TestRegistry::start(RegistryOptions::default());
    let workspace = Workspace::new();
    workspace.image("src", "t", 41);
    let image = format!("docker://{}/proxied/img:v1", registry.host);
    let via_proxy = [("HTTP_PROXY", proxy.url.as_str())];
    workspace
        .skopos_with_env(
            &via_proxy,
            &[
                "--insecure-policy",
                "copy",
                "-q",
                "--dest-tls-verify=false",
                "oci:src:t",
                &image,
            ],
        )
        .assert_success();
    workspace
        .skopos_with_env(
            &via_proxy,
            &[
                "--insecure-policy",
                "copy",
                "-q",
                "--src-tls-verify=false",
                &image,
                "oci:back:t",
            ],
        )
        .assert_success();
    let requests = proxy.requests();
    let origin = format!("http://{}/v2/proxied/img/", registry.host);
    for expected in [
        format!("POST {origin}blobs/uploads/"),
        format!("PUT {origin}manifests/v1"),
        format!("GET {origin}manifests/v1"),
        format!("GET {origin}blobs/sha256:"),
    ] {
        assert!(
            requests
                .iter()
                .any(|request| request.starts_with(&expected)),
            "no {expected}… among the proxy's requests: {requests:#?}"
        );
    }

    let seen = requests.len();
    workspace
        .skopos_with_env(
            &[
                ("HTTP_PROXY", proxy.url.as_str()),
                ("NO_PROXY", "127.0.0.1"),
            ],
            &["inspect", "--tls-verify=false", &image],
        )
        .assert_success();
    assert_eq!(proxy.requests().len(), seen, "NO_PROXY was not honoured");
}

#[test]
fn https_is_tunnelled_through_the_proxy() {
    let proxy = ForwardProxy::start();
    let tls = TestTls::generate();
    let registry = TestRegistry::start(RegistryOptions {
        tls: Some(&tls),
        ..RegistryOptions::default()
    });
    let workspace = Workspace::new();
    workspace.image("src", "t", 42);
    let certs = tls.write_cert_dir(&workspace.path("certs"));
    let certs = certs.to_str().unwrap();
    let image = format!("docker://{}/tunnelled/img:v1", registry.host);
    let via_proxy = [("HTTPS_PROXY", proxy.url.as_str())];
    workspace
        .skopos_with_env(
            &via_proxy,
            &[
                "--insecure-policy",
                "copy",
                "-q",
                "--dest-cert-dir",
                certs,
                "oci:src:t",
                &image,
            ],
        )
        .assert_success();
    let inspected =
        workspace.skopos_with_env(&via_proxy, &["inspect", "--cert-dir", certs, &image]);
    inspected.assert_success();
    assert!(
        inspected.stdout.contains("tunnelled/img"),
        "{}",
        inspected.stdout
    );
    let tunnel = format!("CONNECT {} HTTP/1.1", registry.host);
    let requests = proxy.requests();
    assert!(
        requests.contains(&tunnel),
        "no {tunnel} among the proxy's requests: {requests:#?}"
    );
    // Inside the tunnel the proxy sees nothing but the tunnel itself.
    assert!(requests
        .iter()
        .all(|request| request.starts_with("CONNECT ")));
}

#[test]
fn an_unreachable_proxy_is_one_line_naming_it() {
    let registry = TestRegistry::start(RegistryOptions::default());
    let workspace = Workspace::new();
    let unreachable = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("picking a free port");
        format!("http://{}", listener.local_addr().expect("its address"))
    };
    let outcome = workspace.skopos_with_env(
        &[("HTTP_PROXY", unreachable.as_str())],
        &[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{}/any/img:v1", registry.host),
        ],
    );
    assert_one_line_failure(&outcome, Some(1));
    let proxy = unreachable.trim_start_matches("http://");
    assert!(
        outcome.stderr.contains(&format!("proxy {proxy}"))
            && outcome.stderr.to_lowercase().contains("connection refused"),
        "{}",
        outcome.stderr
    );
}
