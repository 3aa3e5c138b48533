//! TLS settings of a registry connection, as containers/image makes them: the system's CA
//! roots plus the certs.d CAs (any of which may also be the server's own certificate, see
//! `server_cert`), an optional client certificate, or no verification at all
//! (`--tls-verify=false`).

use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::config::ClientConfig;
use crate::server_cert::RegistryCertVerifier;
use crate::Result;

/// The crypto every skopos TLS connection uses: ring (builds faster than aws-lc, no C
/// toolchain surprises).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's CA certificates, read once per process: a copy between two registries, or a
/// registry and a TLS daemon, needs them for each. Unreadable ones are skipped, as Go's
/// SystemCertPool does.
pub fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// The rustls configuration for `config`'s registry.
pub(crate) fn client_config(config: &ClientConfig) -> Result<rustls::ClientConfig> {
    let registry = &config.registry;
    let provider = crypto_provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?;
    let builder = if config.tls_verify {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(system_roots().iter().cloned());
        let mut trusted = Vec::new();
        for pem in &config.ca_certs_pem {
            let certificates = CertificateDer::pem_slice_iter(pem)
                .collect::<std::result::Result<Vec<_>, _>>()
                .with_context(|| format!("reading a CA certificate for registry {registry}"))?;
            for certificate in certificates {
                roots
                    .add(certificate.clone())
                    .with_context(|| format!("reading a CA certificate for registry {registry}"))?;
                trusted.push(certificate);
            }
        }
        let chains = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .context("setting up TLS certificate verification")?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(RegistryCertVerifier::new(
                chains, trusted, provider,
            )))
    } else {
        // Loading the system's CA store reads hundreds of files; pointless when
        // certificates are not verified anyway.
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification::new(provider)))
    };
    let Some(pem) = &config.client_identity_pem else {
        return Ok(builder.with_no_client_auth());
    };
    let context = || format!("reading the client certificate and key for registry {registry}");
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .with_context(context)?;
    if certificates.is_empty() {
        return Err(anyhow::anyhow!("no certificate found").context(context()));
    }
    let key = PrivateKeyDer::from_pem_slice(pem)
        .map_err(|_| anyhow::anyhow!("no private key found"))
        .with_context(context)?;
    builder
        .with_client_auth_cert(certificates, key)
        .with_context(context)
}

/// Accepts any server certificate (`--tls-verify=false`), but still checks the handshake
/// signatures so that the session keys are sound.
#[derive(Debug)]
pub struct NoVerification(Arc<CryptoProvider>);

impl NoVerification {
    /// A verifier checking signatures with `provider`'s algorithms.
    pub fn new(provider: Arc<CryptoProvider>) -> NoVerification {
        NoVerification(provider)
    }
}

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
