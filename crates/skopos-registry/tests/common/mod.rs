//! Test harness: runs the CNCF distribution registry (Debian package `docker-registry`)
//! on a free loopback port, with storage in a temporary directory.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

pub mod fake;
pub mod token;

use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use skopos_core::{BlobInfo, BlobReader, Digest};
use skopos_registry::{ClientConfig, Credentials, RegistryClient};

const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";

/// TLS material made for one test: a CA and a server certificate for 127.0.0.1 signed by it.
pub struct TestTls {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    /// A client certificate signed by the CA, followed by its key.
    pub client_identity_pem: String,
}

impl TestTls {
    pub fn generate() -> TestTls {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "skopos test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let server_cert = params.signed_by(&server_key, &ca_cert, &ca_key).unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "skopos test client");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = params.signed_by(&client_key, &ca_cert, &ca_key).unwrap();
        TestTls {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_identity_pem: format!("{}{}", client_cert.pem(), client_key.serialize_pem()),
        }
    }
}

/// How to configure a test registry.
#[derive(Default)]
pub struct RegistryOptions<'a> {
    pub tls: Option<&'a TestTls>,
    /// `(user, password)` accepted through htpasswd.
    pub htpasswd_user: Option<(&'a str, &'a str)>,
    pub delete_enabled: bool,
    /// Require TLS clients to present a certificate signed by the test CA.
    pub require_client_cert: bool,
    /// `(realm URL, PEM of the token signing certificate)` for `auth: token`.
    pub token_auth: Option<(&'a str, &'a str)>,
}

/// A running registry; stopped when dropped.
pub struct TestRegistry {
    child: Child,
    _dir: tempfile::TempDir,
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
    pub fn start(options: RegistryOptions<'_>) -> TestRegistry {
        assert!(
            Path::new(REGISTRY_BINARY).exists(),
            "{REGISTRY_BINARY} is missing: run `apt-get install docker-registry apache2-utils`"
        );
        let dir = tempfile::tempdir().unwrap();
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
            let file = write(
                dir.path(),
                "htpasswd",
                &String::from_utf8(output.stdout).unwrap(),
            );
            auth = format!(
                "auth:\n  htpasswd:\n    realm: skopos-test\n    path: {}\n",
                file.display()
            );
        }
        if let Some((realm, cert_pem)) = options.token_auth {
            let bundle = write(dir.path(), "token-signer.pem", cert_pem);
            auth = format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                token::SERVICE,
                token::ISSUER,
                bundle.display()
            );
        }
        // Binding port 0 finds a free port; another process may take it before the
        // registry binds it, so a registry that dies at start is retried on a new port.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
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
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return TestRegistry {
                        child,
                        _dir: dir,
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

    /// A client config for this registry with short retry delays.
    pub fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new(self.host.clone());
        config.retry_base_delay = Duration::from_millis(10);
        config
    }

    /// A client for a plain-HTTP registry.
    pub fn http_client(&self) -> RegistryClient {
        let mut config = self.config();
        config.insecure_http_allowed = true;
        RegistryClient::new(config).unwrap()
    }

    /// A client trusting `tls`'s CA, with `credentials`.
    pub fn tls_client(&self, tls: &TestTls, credentials: Credentials) -> RegistryClient {
        let mut config = self.config();
        config.ca_certs_pem = vec![tls.ca_pem.as_bytes().to_vec()];
        config.credentials = credentials;
        RegistryClient::new(config).unwrap()
    }
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// A reader over `bytes`, as a transport would hand it over.
pub fn reader(bytes: &[u8]) -> BlobReader {
    Box::pin(std::io::Cursor::new(bytes.to_vec()))
}

pub fn blob_info(bytes: &[u8]) -> BlobInfo {
    BlobInfo {
        digest: Digest::sha256_of(bytes),
        size: Some(bytes.len() as u64),
        media_type: String::new(),
    }
}

/// Read a whole blob stream.
pub async fn read_all(mut stream: BlobReader) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt as _;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await?;
    Ok(bytes)
}

/// A small image: a layer, a config and an OCI manifest naming them.
pub struct TestImage {
    pub layer: Vec<u8>,
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
}

impl TestImage {
    pub fn new(seed: u8) -> TestImage {
        let layer: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(31) as u8) ^ seed)
            .collect();
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}},"seed":{seed}}}"#,
            Digest::sha256_of(&layer)
        )
        .into_bytes();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}}"#,
            Digest::sha256_of(&config),
            config.len(),
            Digest::sha256_of(&layer),
            layer.len()
        )
        .into_bytes();
        TestImage {
            layer,
            config,
            manifest,
        }
    }
}
