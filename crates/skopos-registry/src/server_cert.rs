//! Server certificate checks as Go's crypto/x509 makes them for a registry, and Go's
//! wording of their failures.
//!
//! webpki refuses a server certificate that is a CA (`basicConstraints CA:TRUE`), which is
//! what `openssl req -x509 …` makes; Go accepts a server certificate that is itself one of
//! the trusted certificates, and docker/podman setup guides rely on that ("generate a
//! self-signed certificate and copy it to certs.d"). [`RegistryCertVerifier`] keeps
//! webpki's chain verification for everything and, only when that fails for a certificate
//! byte-for-byte equal to one of the registry's certs.d certificates, checks what Go still
//! checks for such a certificate: host name, validity period and extended key usage.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use skopos_core::go::time::GoTime;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::Decode as _;
use x509_cert::ext::pkix::ExtendedKeyUsage;

/// `id-kp-serverAuth` (RFC 5280).
const SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
/// `anyExtendedKeyUsage` (RFC 5280).
const ANY_EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");

/// webpki's chain verification, plus Go's acceptance of a server certificate that is
/// itself one of the registry's trusted (certs.d) certificates.
#[derive(Debug)]
pub(crate) struct RegistryCertVerifier {
    chains: Arc<WebPkiServerVerifier>,
    /// The registry's certs.d / `--cert-dir` certificates, any of which the server may
    /// present as its own.
    trusted: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

impl RegistryCertVerifier {
    /// A verifier accepting chains `chains` accepts, and any of `trusted` presented as the
    /// server's own certificate; handshake signatures are checked with `provider`.
    pub(crate) fn new(
        chains: Arc<WebPkiServerVerifier>,
        trusted: Vec<CertificateDer<'static>>,
        provider: Arc<CryptoProvider>,
    ) -> RegistryCertVerifier {
        RegistryCertVerifier {
            chains,
            trusted,
            provider,
        }
    }

    /// Go's checks of a trusted certificate used as the server's own: the host name, the
    /// validity period at `now`, and, when it names usages, that server authentication is
    /// one of them.
    fn verify_trusted_leaf(
        &self,
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let parsed = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        let certificate = x509_cert::Certificate::from_der(end_entity.as_ref())
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let tbs = &certificate.tbs_certificate;
        let not_before = UnixTime::since_unix_epoch(tbs.validity.not_before.to_unix_duration());
        let not_after = UnixTime::since_unix_epoch(tbs.validity.not_after.to_unix_duration());
        if now.as_secs() < not_before.as_secs() {
            return Err(CertificateError::NotValidYetContext {
                time: now,
                not_before,
            }
            .into());
        }
        if now.as_secs() > not_after.as_secs() {
            return Err(CertificateError::ExpiredContext {
                time: now,
                not_after,
            }
            .into());
        }
        let usages = tbs
            .get::<ExtendedKeyUsage>()
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        if let Some((_, ExtendedKeyUsage(purposes))) = usages {
            if !purposes
                .iter()
                .any(|purpose| *purpose == SERVER_AUTH || *purpose == ANY_EXTENDED_KEY_USAGE)
            {
                return Err(CertificateError::InvalidPurpose.into());
            }
        }
        Ok(ServerCertVerified::assertion())
    }
}

impl ServerCertVerifier for RegistryCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.chains.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => Ok(verified),
            Err(_) if self.trusted.iter().any(|cert| cert == end_entity) => {
                self.verify_trusted_leaf(end_entity, server_name, now)
            }
            Err(err) => Err(err),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Go's text for a refused server certificate (`tls: failed to verify certificate: x509: …`),
/// which skopeo users and scripts know; `None` for other TLS errors.
pub(crate) fn go_certificate_error(err: &rustls::Error) -> Option<String> {
    let rustls::Error::InvalidCertificate(problem) = err else {
        return None;
    };
    let x509 = match problem {
        // An untrusted self-signed CA certificate fails webpki's end-entity check before
        // its issuer is looked for; Go reports it as an unknown authority.
        CertificateError::UnknownIssuer => "certificate signed by unknown authority".to_string(),
        CertificateError::Other(OtherError(other))
            if other.to_string().contains("CaUsedAsEndEntity") =>
        {
            "certificate signed by unknown authority".to_string()
        }
        CertificateError::ExpiredContext { time, not_after } => format!(
            "certificate has expired or is not yet valid: current time {} is after {}",
            rfc3339(*time),
            rfc3339(*not_after)
        ),
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "certificate has expired or is not yet valid: current time {} is before {}",
            rfc3339(*time),
            rfc3339(*not_before)
        ),
        CertificateError::Expired | CertificateError::NotValidYet => {
            "certificate has expired or is not yet valid".to_string()
        }
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => host_name_error(expected, presented),
        CertificateError::InvalidPurpose => {
            "certificate specifies an incompatible key usage".to_string()
        }
        _ => return None,
    };
    Some(format!("tls: failed to verify certificate: x509: {x509}"))
}

/// Go's `x509.HostnameError` text for a certificate presenting `presented` names.
fn host_name_error(expected: &ServerName<'_>, presented: &[String]) -> String {
    let host = match expected {
        ServerName::DnsName(name) => name.as_ref().to_string(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        _ => String::new(),
    };
    let wanted_ip = matches!(expected, ServerName::IpAddress(_));
    let valid: Vec<&str> = presented
        .iter()
        .map(String::as_str)
        .filter(|name| name.parse::<std::net::IpAddr>().is_ok() == wanted_ip)
        .collect();
    if valid.is_empty() {
        if wanted_ip {
            return format!(
                "cannot validate certificate for {host} because it doesn't contain any IP SANs"
            );
        }
        return format!("certificate is not valid for any names, but wanted to match {host}");
    }
    format!("certificate is valid for {}, not {host}", valid.join(", "))
}

/// A certificate time in Go's `time.RFC3339` layout (whole seconds, UTC).
fn rfc3339(time: UnixTime) -> String {
    GoTime::from_unix_seconds(i64::try_from(time.as_secs()).unwrap_or(i64::MAX)).to_rfc3339_nano()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worded(problem: CertificateError) -> String {
        go_certificate_error(&rustls::Error::InvalidCertificate(problem)).unwrap_or_default()
    }

    #[test]
    fn certificate_problems_are_worded_as_go_words_them() {
        assert_eq!(
            worded(CertificateError::UnknownIssuer),
            "tls: failed to verify certificate: x509: certificate signed by unknown authority"
        );
        assert_eq!(
            worded(CertificateError::ExpiredContext {
                time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_800_000_000)),
                not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                    1_700_000_000
                )),
            }),
            "tls: failed to verify certificate: x509: certificate has expired or is not yet \
             valid: current time 2027-01-15T08:00:00Z is after 2023-11-14T22:13:20Z"
        );
        let expected = ServerName::try_from("registry.example").expect("a DNS name");
        assert_eq!(
            worded(CertificateError::NotValidForNameContext {
                expected,
                presented: vec![
                    "localhost".into(),
                    "127.0.0.1".into(),
                    "other.example".into()
                ],
            }),
            "tls: failed to verify certificate: x509: certificate is valid for localhost, \
             other.example, not registry.example"
        );
        assert_eq!(
            go_certificate_error(&rustls::Error::HandshakeNotComplete),
            None
        );
    }
}
