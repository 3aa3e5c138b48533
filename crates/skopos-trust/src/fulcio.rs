//! Certificate trust roots of sigstore signatures, as containers/image's `fulcio_cert.go`
//! and `pki_cert.go` check them offline: the signer's certificate (the
//! `dev.sigstore.cosign/certificate` annotation, with intermediates in
//! `dev.sigstore.cosign/chain`) must chain to a trusted CA for code signing, and name the
//! expected subject; its public key then verifies the signature.
//!
//! Path building, validity times, key usage and the chain's signatures are rustls-webpki's
//! (maintained, already in the tree for TLS); reading the certificate's Fulcio extensions,
//! e-mail addresses and key is x509-cert's. Rejections read as Go's `x509` errors do, so
//! the messages match skopeo's.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use der::oid::AssociatedOid as _;
use der::{Decode as _, Encode as _};
use rustls_pki_types::{CertificateDer, UnixTime};
use skopos_core::go::text::go_quote;
use x509_cert::der;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

use crate::public_key::PublicKey;
use crate::rekor::first_pem_block;

/// The annotation holding the signer's certificate (PEM).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// The annotation holding the certificate's intermediates, then its root (PEM).
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";

/// Fulcio's OIDC issuer extension, v1: the raw issuer URL (deprecated, still accepted).
const OID_ISSUER_V1: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
/// Fulcio's OIDC issuer extension, v2: the issuer URL as a DER UTF8String.
const OID_ISSUER_V2: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// id-kp-codeSigning (1.3.6.1.5.5.7.3.3), DER contents as webpki wants them.
const CODE_SIGNING_EKU: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// The `fulcio` trust root of a `sigstoreSigned` requirement.
pub struct FulcioTrustRoot {
    ca_certificates: Vec<CertificateDer<'static>>,
    oidc_issuer: String,
    subject_email: String,
}

impl FulcioTrustRoot {
    /// The CAs in `ca_pem` (Go's `AppendCertsFromPEM`: blocks that are not usable
    /// certificates are skipped; none at all is an error).
    pub fn new(ca_pem: &[u8], oidc_issuer: &str, subject_email: &str) -> Result<Self> {
        let ca_certificates = trusted_certificates(ca_pem);
        if ca_certificates.is_empty() {
            bail!("error loading Fulcio CA certificates");
        }
        Ok(FulcioTrustRoot {
            ca_certificates,
            oidc_issuer: oidc_issuer.to_string(),
            subject_email: subject_email.to_string(),
        })
    }

    /// The public key of `untrusted_certificate` (PEM) once it is shown to be issued by
    /// a trusted CA, valid at `integrated_time` (the Rekor SET's, Unix seconds), for code
    /// signing, to the expected OIDC issuer and e-mail subject.
    pub fn verify_certificate_at(
        &self,
        integrated_time: i64,
        untrusted_certificate: &[u8],
        untrusted_chain: Option<&[u8]>,
    ) -> Result<PublicKey> {
        let intermediates = untrusted_intermediates(untrusted_chain)?;
        let (leaf_der, leaf) = parse_leaf(untrusted_certificate)?;
        let seconds = u64::try_from(integrated_time)
            .map_err(|_| anyhow!("Rekor SET integrated time {integrated_time} is before 1970"))?;
        verify_chain(
            &leaf_der,
            &self.ca_certificates,
            &intermediates,
            UnixTime::since_unix_epoch(Duration::from_secs(seconds)),
        )?;
        let issuer = fulcio_issuer(&leaf)?;
        if issuer != self.oidc_issuer {
            bail!("Unexpected Fulcio OIDC issuer {}", go_quote(&issuer));
        }
        require_email(&leaf, &self.subject_email)?;
        certificate_key(&leaf)
    }
}

/// The `pki` trust root of a `sigstoreSigned` requirement (skopeo 1.22): the signer's
/// certificate must chain to one of the roots, now, through trusted or attached
/// intermediates, and name the expected e-mail address and/or host name.
pub struct PkiTrustRoot {
    roots: Vec<CertificateDer<'static>>,
    intermediates: Vec<CertificateDer<'static>>,
    subject_email: String,
    subject_hostname: String,
}

impl PkiTrustRoot {
    /// The roots in `roots_pem`, the trusted intermediates in `intermediates_pem`; an
    /// empty `subject_…` is not checked.
    pub fn new(
        roots_pem: &[u8],
        intermediates_pem: Option<&[u8]>,
        subject_email: &str,
        subject_hostname: &str,
    ) -> Result<Self> {
        let roots = trusted_certificates(roots_pem);
        if roots.is_empty() {
            bail!("error loading PKI CA Roots certificates");
        }
        let intermediates = match intermediates_pem {
            None => Vec::new(),
            Some(pem) => certificates_from_pem(pem)
                .map_err(|err| anyhow!("loading trusted intermediate certificates: {err}"))?
                .into_iter()
                .map(|(der, _)| der)
                .collect(),
        };
        Ok(PkiTrustRoot {
            roots,
            intermediates,
            subject_email: subject_email.to_string(),
            subject_hostname: subject_hostname.to_string(),
        })
    }

    /// The public key of `untrusted_certificate` (PEM) once it is shown to be issued by
    /// a trusted root, valid now, for code signing, to the expected subject.
    pub fn verify_certificate(
        &self,
        untrusted_certificate: &[u8],
        untrusted_chain: Option<&[u8]>,
    ) -> Result<PublicKey> {
        let mut intermediates = self.intermediates.clone();
        intermediates.extend(untrusted_intermediates(untrusted_chain)?);
        let (leaf_der, leaf) = parse_leaf(untrusted_certificate)?;
        verify_chain(&leaf_der, &self.roots, &intermediates, UnixTime::now())?;
        if !self.subject_email.is_empty() {
            require_email(&leaf, &self.subject_email)?;
        }
        if !self.subject_hostname.is_empty() {
            let end_entity = webpki::EndEntityCert::try_from(&leaf_der)
                .map_err(|err| anyhow!("parsing leaf certificate: {err}"))?;
            let name = rustls_pki_types::ServerName::try_from(self.subject_hostname.as_str())
                .map_err(|err| anyhow!("Unexpected subject hostname: {err}"))?;
            if end_entity.verify_is_valid_for_subject_name(&name).is_err() {
                let names = subject_alt_names(&leaf)?
                    .into_iter()
                    .filter_map(|name| match name {
                        GeneralName::DnsName(name) => Some(name.to_string()),
                        _ => None,
                    })
                    .collect::<Vec<_>>();
                // Go's HostnameError wording.
                if names.is_empty() {
                    bail!(
                        "Unexpected subject hostname: x509: certificate is not valid for any names, but wanted to match {}",
                        self.subject_hostname
                    );
                }
                bail!(
                    "Unexpected subject hostname: x509: certificate is valid for {}, not {}",
                    names.join(", "),
                    self.subject_hostname
                );
            }
        }
        certificate_key(&leaf)
    }
}

/// The parseable certificates among the `CERTIFICATE` blocks of `pem`.
fn trusted_certificates(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    let mut certificates = Vec::new();
    let mut rest = pem;
    while let Some((der, after)) = first_pem_block(rest) {
        if webpki::anchor_from_trusted_cert(&CertificateDer::from(der.as_slice())).is_ok() {
            certificates.push(CertificateDer::from(der));
        }
        rest = after;
    }
    certificates
}

/// Every certificate in `pem` (sigstore's `UnmarshalCertificatesFromPEM`): anything that
/// is not a certificate is an error.
fn certificates_from_pem(pem: &[u8]) -> Result<Vec<(CertificateDer<'static>, Certificate)>> {
    let mut certificates = Vec::new();
    let mut rest = pem.trim_ascii();
    while !rest.is_empty() {
        let Some((der, after)) = first_pem_block(rest) else {
            bail!("error during PEM decoding");
        };
        let parsed = Certificate::from_der(&der)
            .map_err(|err| anyhow!("x509: malformed certificate: {err}"))?;
        certificates.push((CertificateDer::from(der), parsed));
        rest = after.trim_ascii();
    }
    Ok(certificates)
}

/// The attached chain's intermediates: all its certificates but the last, its root,
/// which is never trusted for being attached.
fn untrusted_intermediates(chain: Option<&[u8]>) -> Result<Vec<CertificateDer<'static>>> {
    let Some(chain) = chain.filter(|chain| !chain.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut certificates =
        certificates_from_pem(chain).map_err(|err| anyhow!("loading certificate chain: {err}"))?;
    certificates.pop();
    Ok(certificates.into_iter().map(|(der, _)| der).collect())
}

/// The single certificate of the certificate annotation.
fn parse_leaf(pem: &[u8]) -> Result<(CertificateDer<'static>, Certificate)> {
    let mut certificates =
        certificates_from_pem(pem).map_err(|err| anyhow!("parsing leaf certificate: {err}"))?;
    match certificates.len() {
        0 => bail!("no certificate found in signature certificate data"),
        1 => Ok(certificates.remove(0)),
        _ => bail!("unexpected multiple certificates present in signature certificate data"),
    }
}

/// webpki's chain verification for code signing at `time`, failures in Go's words.
fn verify_chain(
    leaf: &CertificateDer<'_>,
    roots: &[CertificateDer<'static>],
    intermediates: &[CertificateDer<'static>],
    time: UnixTime,
) -> Result<()> {
    let anchors: Vec<_> = roots
        .iter()
        .filter_map(|root| webpki::anchor_from_trusted_cert(root).ok())
        .collect();
    let verified = webpki::EndEntityCert::try_from(leaf).and_then(|end_entity| {
        end_entity
            .verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &anchors,
                intermediates,
                time,
                // Go accepts a certificate without extended key usages for any usage.
                webpki::KeyUsage::required_if_present(CODE_SIGNING_EKU),
                None,
                None,
            )
            .map(|_| ())
    });
    verified.map_err(|err| anyhow!("veryfing leaf certificate failed: {}", go_x509_error(&err)))
}

/// A webpki rejection as Go's `crypto/x509` words it.
fn go_x509_error(err: &webpki::Error) -> String {
    // RFC 3339 as Go prints it: the validation time (Go's time.Unix or time.Now) in the
    // local zone, the certificate's own times in UTC.
    let rfc3339 = |time: &UnixTime, local: bool| {
        let seconds = time.as_secs();
        let Some(utc) = i64::try_from(seconds)
            .ok()
            .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
        else {
            return seconds.to_string();
        };
        if local {
            utc.with_timezone(&chrono::Local)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        } else {
            utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        }
    };
    match err {
        webpki::Error::UnknownIssuer => "x509: certificate signed by unknown authority".into(),
        webpki::Error::CertExpired { time, not_after } => format!(
            "x509: certificate has expired or is not yet valid: current time {} is after {}",
            rfc3339(time, true),
            rfc3339(not_after, false)
        ),
        webpki::Error::CertNotValidYet { time, not_before } => format!(
            "x509: certificate has expired or is not yet valid: current time {} is before {}",
            rfc3339(time, true),
            rfc3339(not_before, false)
        ),
        #[allow(deprecated)] // Older webpki releases still report the context-free variant.
        webpki::Error::RequiredEkuNotFound | webpki::Error::RequiredEkuNotFoundContext(_) => {
            "x509: certificate specifies an incompatible key usage".into()
        }
        other => format!("x509: {other:?}"),
    }
}

/// The OIDC issuer Fulcio recorded (`fulcioIssuerInCertificate`): the v1 and v2
/// extensions must agree when both are present; one must be.
fn fulcio_issuer(certificate: &Certificate) -> Result<String> {
    let (mut v1, mut v2): (Option<String>, Option<String>) = (None, None);
    for extension in certificate.tbs_certificate.extensions.iter().flatten() {
        let value = extension.extn_value.as_bytes();
        if extension.extn_id == OID_ISSUER_V1 {
            if v1.is_some() {
                bail!("Fulcio certificate has a duplicate OIDC issuer v1 extension");
            }
            v1 = Some(String::from_utf8_lossy(value).into_owned());
        } else if extension.extn_id == OID_ISSUER_V2 {
            if v2.is_some() {
                bail!("Fulcio certificate has a duplicate OIDC issuer v2 extension");
            }
            let issuer = der::asn1::Utf8StringRef::from_der(value)
                .map_err(|err| anyhow!("invalid ASN.1 in OIDC issuer v2 extension: {err}"))?;
            v2 = Some(issuer.as_str().to_string());
        }
    }
    match (v1, v2) {
        (Some(v1), Some(v2)) if v1 != v2 => bail!(
            "inconsistent OIDC issuer extension values: v1 {}, v2 {}",
            go_quote(&v1),
            go_quote(&v2)
        ),
        (Some(issuer), _) | (None, Some(issuer)) => Ok(issuer),
        (None, None) => bail!("Fulcio certificate is missing the issuer extension"),
    }
}

/// The certificate must list `email` among its subject alternative names.
fn require_email(certificate: &Certificate, email: &str) -> Result<()> {
    let found: Vec<String> = subject_alt_names(certificate)?
        .into_iter()
        .filter_map(|name| match name {
            GeneralName::Rfc822Name(address) => Some(address.as_str().to_string()),
            _ => None,
        })
        .collect();
    if found.iter().any(|address| address == email) {
        return Ok(());
    }
    // Go's %q of a []string.
    let got: Vec<String> = found.iter().map(|address| go_quote(address)).collect();
    bail!(
        "Required email {} not found (got [{}])",
        go_quote(email),
        got.join(" ")
    )
}

/// The certificate's subject alternative names.
fn subject_alt_names(certificate: &Certificate) -> Result<Vec<GeneralName>> {
    let mut names = Vec::new();
    let extensions = certificate.tbs_certificate.extensions.iter().flatten();
    for extension in extensions.filter(|ext| ext.extn_id == SubjectAltName::OID) {
        let parsed = SubjectAltName::from_der(extension.extn_value.as_bytes())
            .map_err(|err| anyhow!("x509: cannot parse subject alternative names: {err}"))?;
        names.extend(parsed.0);
    }
    Ok(names)
}

/// The certificate's public key, of a type sigstore signatures can be verified with.
fn certificate_key(certificate: &Certificate) -> Result<PublicKey> {
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|err| anyhow!("encoding the certificate's public key: {err}"))?;
    PublicKey::from_spki_der(&spki).map_err(|err| anyhow!("public key in certificate: {err:#}"))
}
