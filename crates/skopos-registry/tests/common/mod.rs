//! Test harness: runs the CNCF distribution registry (Debian package `docker-registry`)
//! on a free loopback port, with storage in a temporary directory.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

pub mod fake;

use std::time::Duration;

use skopos_core::{BlobInfo, BlobReader, Credentials, Digest};
use skopos_registry::{ClientConfig, RegistryClient};

use skopos_testimage::registry::{TestRegistry, TestTls};

/// Clients for a [`TestRegistry`], with short retry delays.
pub trait TestRegistryClients {
    /// A client config for this registry with short retry delays.
    fn config(&self) -> ClientConfig;
    /// A client for a plain-HTTP registry.
    fn http_client(&self) -> RegistryClient;
    /// A client trusting `tls`'s CA, with `credentials`.
    fn tls_client(&self, tls: &TestTls, credentials: Credentials) -> RegistryClient;
}

impl TestRegistryClients for TestRegistry {
    fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new(self.host.clone());
        config.retry_base_delay = Duration::from_millis(10);
        config
    }

    fn http_client(&self) -> RegistryClient {
        let mut config = self.config();
        config.insecure_http_allowed = true;
        RegistryClient::new(config).unwrap()
    }

    fn tls_client(&self, tls: &TestTls, credentials: Credentials) -> RegistryClient {
        let mut config = self.config();
        config.ca_certs_pem = vec![tls.ca_pem.as_bytes().to_vec()];
        config.credentials = credentials;
        RegistryClient::new(config).unwrap()
    }
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
