//! Test registries: the CNCF distribution registry (Debian package `docker-registry`) run
//! on a free loopback port with storage in a temporary directory, optionally with TLS
//! from a CA made per test run and htpasswd users.

use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";

/// TLS material for one test: a CA, a server certificate for 127.0.0.1/localhost signed by
/// it, and a client certificate + key signed by it.
pub struct TestTls {
    /// The CA's certificate (PEM): what a client trusts, e.g. as `ca.crt` in a `--cert-dir`.
    pub ca_pem: String,
    /// The registry's certificate (PEM), for `localhost` and `127.0.0.1`, signed by the CA.
    pub server_cert_pem: String,
    /// The private key (PEM) of `server_cert_pem`.
    pub server_key_pem: String,
    /// A client certificate signed by the CA, followed by its key.
    pub client_identity_pem: String,
}

impl TestTls {
    /// Make a new CA and certificates.
    pub fn generate() -> TestTls {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
        let ca_key = KeyPair::generate().expect("generating a CA key");
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).expect("CA certificate parameters");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "skopos test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("signing the CA");
        let server_key = KeyPair::generate().expect("generating a server key");
        let mut params = CertificateParams::new(vec!["localhost".to_string()])
            .expect("server certificate parameters");
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let server_cert = params
            .signed_by(&server_key, &ca_cert, &ca_key)
            .expect("signing the server certificate");
        let client_key = KeyPair::generate().expect("generating a client key");
        let mut params =
            CertificateParams::new(Vec::<String>::new()).expect("client certificate parameters");
        params
            .distinguished_name
            .push(DnType::CommonName, "skopos test client");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = params
            .signed_by(&client_key, &ca_cert, &ca_key)
            .expect("signing the client certificate");
        TestTls {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_identity_pem: format!("{}{}", client_cert.pem(), client_key.serialize_pem()),
        }
    }

    /// Write the CA as `DIR/ca.crt`, the layout `--cert-dir` and certs.d expect.
    pub fn write_cert_dir(&self, dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir).expect("creating a cert dir");
        write(dir, "ca.crt", &self.ca_pem);
        dir.to_path_buf()
    }
}

/// How to configure a test registry.
#[derive(Default)]
pub struct RegistryOptions<'a> {
    /// Serve HTTPS with this material's server certificate; `None` serves plain HTTP.
    pub tls: Option<&'a TestTls>,
    /// `(user, password)` accepted through htpasswd.
    pub htpasswd_user: Option<(&'a str, &'a str)>,
    /// Allow `DELETE` of manifests and blobs (the registry refuses it unless configured).
    pub delete_enabled: bool,
    /// Require TLS clients to present a certificate signed by the test CA.
    pub require_client_cert: bool,
    /// `(realm URL, service, issuer, PEM of the token signing certificate)` for `auth: token`.
    pub token_auth: Option<(&'a str, &'a str, &'a str, &'a str)>,
}

/// A running registry; stopped when dropped.
pub struct TestRegistry {
    child: Child,
    /// The config and, under `storage`, what the registry stores.
    dir: tempfile::TempDir,
    /// `127.0.0.1:<port>`.
    pub host: String,
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestRegistry {
    /// Removes repository `name` from the registry's storage, blobs' links and manifests:
    /// the registry then knows nothing of it, as after a deletion and a garbage collection,
    /// while clients may still remember what they pushed there.
    pub fn remove_repository(&self, name: &str) {
        let path = self
            .dir
            .path()
            .join("storage/docker/registry/v2/repositories")
            .join(name);
        std::fs::remove_dir_all(&path)
            .unwrap_or_else(|error| panic!("removing {}: {error}", path.display()));
    }

    /// Start a registry; panics (failing the test) with an install hint when the registry
    /// or htpasswd is missing.
    pub fn start(options: RegistryOptions<'_>) -> TestRegistry {
        assert!(
            Path::new(REGISTRY_BINARY).exists(),
            "{REGISTRY_BINARY} is missing: run `apt-get install docker-registry apache2-utils`"
        );
        let dir = tempfile::tempdir().expect("creating a registry temp dir");
        let mut extra = String::new();
        if let Some(tls) = options.tls {
            let cert = write(dir.path(), "server.crt", &tls.server_cert_pem);
            let key = write(dir.path(), "server.key", &tls.server_key_pem);
            extra.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
            if options.require_client_cert {
                let ca = write(dir.path(), "client-ca.pem", &tls.ca_pem);
                extra.push_str(&format!("    clientcas:\n      - {}\n", ca.display()));
            }
        }
        let mut auth = String::new();
        if let Some((user, password)) = options.htpasswd_user {
            let output = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd is missing: run `apt-get install docker-registry apache2-utils`");
            assert!(output.status.success(), "htpasswd failed");
            let text = String::from_utf8(output.stdout).expect("htpasswd output is text");
            let file = write(dir.path(), "htpasswd", &text);
            auth = format!(
                "auth:\n  htpasswd:\n    realm: skopos-test\n    path: {}\n",
                file.display()
            );
        }
        if let Some((realm, service, issuer, cert_pem)) = options.token_auth {
            let bundle = write(dir.path(), "token-signer.pem", cert_pem);
            auth = format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                bundle.display()
            );
        }
        // Binding port 0 finds a free port; another process may take it before the
        // registry binds it, so a registry that dies at start is retried on a new port.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("finding a free port")
                .port();
            let config = format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: {}\nhttp:\n  addr: 127.0.0.1:{port}\n{extra}{auth}",
                dir.path().join("storage").display(),
                options.delete_enabled,
            );
            let config_path = write(dir.path(), "config.yml", &config);
            let mut child = Command::new(REGISTRY_BINARY)
                .arg("serve")
                .arg(&config_path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting docker-registry");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return TestRegistry {
                        child,
                        dir,
                        host: format!("127.0.0.1:{port}"),
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("the test registry did not start");
    }
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("writing a test registry file");
    path
}
