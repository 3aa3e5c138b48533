//! The already-resolved settings a [`crate::RegistryClient`] works with. Reading
//! auth.json, registries.conf and certs.d is someone else's job; this is their outcome.

use std::fmt;
use std::time::Duration;

use skopos_core::Credentials;

/// Everything needed to talk to one registry host. Equal settings can share one client.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// `host[:port]`, as in the image reference (`docker.io` is the caller's business to map).
    pub registry: String,
    /// Verify the server's TLS certificate (`--tls-verify`).
    pub tls_verify: bool,
    /// Fall back to plain HTTP when HTTPS fails (registries.conf `insecure`, `--tls-verify=false`).
    pub insecure_http_allowed: bool,
    /// Extra CA certificates (PEM, one or more per entry), e.g. certs.d `*.crt`.
    pub ca_certs_pem: Vec<Vec<u8>>,
    /// A client certificate and its private key in one PEM (certs.d `*.cert` + `*.key`).
    pub client_identity_pem: Option<Vec<u8>>,
    /// How to authenticate.
    pub credentials: Credentials,
    /// The `User-Agent` header, e.g. `skopos/0.1.0`.
    pub user_agent: String,
    /// First delay when a registry answers 429/502/503/504 without `Retry-After`; doubled
    /// at each attempt and capped at 60 s. 2 s as in containers/image; tests shorten it.
    pub retry_base_delay: Duration,
}

impl ClientConfig {
    /// Settings for `registry` with TLS verified, no credentials and the default delays.
    pub fn new(registry: impl Into<String>) -> ClientConfig {
        ClientConfig {
            registry: registry.into(),
            tls_verify: true,
            insecure_http_allowed: false,
            ca_certs_pem: Vec::new(),
            client_identity_pem: None,
            credentials: Credentials::Anonymous,
            user_agent: concat!("skopos/", env!("CARGO_PKG_VERSION")).to_string(),
            retry_base_delay: Duration::from_secs(2),
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("registry", &self.registry)
            .field("tls_verify", &self.tls_verify)
            .field("insecure_http_allowed", &self.insecure_http_allowed)
            .field("ca_certs", &self.ca_certs_pem.len())
            .field(
                "client_identity",
                &self.client_identity_pem.as_ref().map(|_| "<redacted>"),
            )
            .field("credentials", &self.credentials)
            .field("user_agent", &self.user_agent)
            .field("retry_base_delay", &self.retry_base_delay)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let mut config = ClientConfig::new("example.com");
        config.credentials = Credentials::basic("alice", "hunter2");
        config.client_identity_pem = Some(b"PRIVATE KEY".to_vec());
        let shown = format!("{config:?}");
        assert!(shown.contains("alice"));
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("PRIVATE"));
    }
}
