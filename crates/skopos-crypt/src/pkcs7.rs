//! The `pkcs7` key wrapper: the layer's private options in a CMS (PKCS #7) EnvelopedData
//! for X.509 certificates, as ocicrypt writes it with smallstep/pkcs7: the content key
//! wrapped to each certificate's RSA key (PKCS #1 v1.5, recipients named by issuer and
//! serial number), the content encrypted with AES-128-GCM (nonce and ICV length in the
//! algorithm parameters, the tag after the ciphertext).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use anyhow::{anyhow, bail, Result};
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::enveloped_data::{
    EncryptedContentInfo, EnvelopedData, KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo,
    RecipientInfos,
};
use der::asn1::{ObjectIdentifier, OctetString};
use der::referenced::OwnedToRef as _;
use der::{Any, Decode, DecodePem, Encode, Tagged as _};
use rand_core::{OsRng, RngCore};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use crate::keys::PrivateKey;

const ID_ENVELOPED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.3");
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const AES128_GCM: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.6");
const AES256_GCM: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.46");

/// `GCMParameters` as smallstep/pkcs7 writes and reads them: its Go struct tags the nonce
/// `[4] IMPLICIT` where RFC 5084 has a plain OCTET STRING.
#[derive(Debug, Clone, der::Sequence)]
struct GcmParameters {
    #[asn1(context_specific = "4", tag_mode = "IMPLICIT")]
    nonce: OctetString,
    icv_len: u8,
}

/// Parse an X.509 certificate, DER or PEM (`ParseCertificate`).
pub fn parse_certificate(data: &[u8]) -> Option<Certificate> {
    Certificate::from_der(data)
        .ok()
        .or_else(|| Certificate::from_pem(data).ok())
}

/// Encrypt `plaintext` for `certificates`; `None` when there are none.
pub fn wrap(certificates: &[Certificate], plaintext: &[u8]) -> Result<Option<Vec<u8>>> {
    if certificates.is_empty() {
        return Ok(None);
    }
    let mut key = [0u8; 16];
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut key);
    OsRng.fill_bytes(&mut nonce);
    let sealed = Aes128Gcm::new(&key.into())
        .encrypt((&nonce).into(), plaintext)
        .map_err(|_| anyhow!("pkcs7: encryption failed"))?;
    let mut recipients = Vec::with_capacity(certificates.len());
    for certificate in certificates {
        let spki = &certificate.tbs_certificate.subject_public_key_info;
        let public = rsa::RsaPublicKey::try_from(spki.owned_to_ref())
            .map_err(|_| anyhow!("pkcs7: only supports RSA keys"))?;
        let wrapped = public
            .encrypt(&mut OsRng, rsa::Pkcs1v15Encrypt, &key)
            .map_err(|e| anyhow!("pkcs7: {e}"))?;
        recipients.push(RecipientInfo::Ktri(KeyTransRecipientInfo {
            version: CmsVersion::V0,
            rid: RecipientIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: certificate.tbs_certificate.issuer.clone(),
                serial_number: certificate.tbs_certificate.serial_number.clone(),
            }),
            key_enc_alg: AlgorithmIdentifierOwned {
                oid: RSA_ENCRYPTION,
                parameters: Some(Any::from(der::asn1::Null)),
            },
            enc_key: OctetString::new(wrapped)?,
        }));
    }
    let parameters = GcmParameters {
        nonce: OctetString::new(nonce.to_vec())?,
        icv_len: 16,
    };
    let enveloped = EnvelopedData {
        version: CmsVersion::V0,
        originator_info: None,
        recip_infos: RecipientInfos(der::asn1::SetOfVec::try_from(recipients)?),
        encrypted_content: EncryptedContentInfo {
            content_type: ID_DATA,
            content_enc_alg: AlgorithmIdentifierOwned {
                oid: AES128_GCM,
                // Placeholder tag, see `swap_gcm_parameters_tag`.
                parameters: Some(Any::new(der::Tag::OctetString, parameters.to_der()?)?),
            },
            encrypted_content: Some(OctetString::new(sealed)?),
        },
        unprotected_attrs: None,
    };
    let info = ContentInfo {
        content_type: ID_ENVELOPED_DATA,
        content: Any::encode_from(&enveloped)?,
    };
    let mut packet = info.to_der()?;
    swap_gcm_parameters_tag(&mut packet, OCTET_STRING_TAG, GO_RAW_SEQUENCE_TAG);
    Ok(Some(packet))
}

/// The DER of the GCM algorithm OIDs, which the parameters follow.
const AES128_GCM_DER: &[u8] = &[
    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x06,
];
const AES256_GCM_DER: &[u8] = &[
    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2e,
];
const OCTET_STRING_TAG: u8 = 0x04;
/// smallstep/pkcs7 writes the GCM parameters as a Go `asn1.RawValue` with the SEQUENCE tag
/// number but not the constructed bit (0x10), holding the whole parameters SEQUENCE, and
/// reads them the same way; DER libraries refuse that tag. skopos writes and reads them as
/// an OCTET STRING of the same length and swaps the tag byte.
const GO_RAW_SEQUENCE_TAG: u8 = 0x10;

fn swap_gcm_parameters_tag(packet: &mut [u8], from: u8, to: u8) {
    for oid in [AES128_GCM_DER, AES256_GCM_DER] {
        if let Some(at) = packet.windows(oid.len()).position(|w| w == oid) {
            if let Some(tag) = packet.get_mut(at + oid.len()) {
                if *tag == from {
                    *tag = to;
                }
            }
        }
    }
}

/// Decrypt an EnvelopedData with the first private key and certificate that open it
/// (`UnwrapKey`).
pub fn unwrap(packet: &[u8], keys: &[PrivateKey], certificates: &[Certificate]) -> Result<Vec<u8>> {
    if keys.is_empty() {
        bail!("no private keys found for PKCS7 decryption");
    }
    if certificates.is_empty() {
        bail!("no x509 certificates found needed for PKCS7 decryption");
    }
    let mut packet = packet.to_vec();
    swap_gcm_parameters_tag(&mut packet, GO_RAW_SEQUENCE_TAG, OCTET_STRING_TAG);
    let enveloped = ContentInfo::from_der(&packet)
        .ok()
        .filter(|info| info.content_type == ID_ENVELOPED_DATA)
        .and_then(|info| info.content.decode_as::<EnvelopedData>().ok())
        .ok_or_else(|| anyhow!("could not parse PKCS7 packet: ber2der: Invalid BER format"))?;
    for key in keys {
        let PrivateKey::Rsa(key) = key else {
            continue;
        };
        for certificate in certificates {
            if let Some(plain) = open(&enveloped, key, certificate) {
                return Ok(plain);
            }
        }
    }
    bail!("PKCS7: No suitable private key found for decryption")
}

fn open(
    enveloped: &EnvelopedData,
    key: &rsa::RsaPrivateKey,
    certificate: &Certificate,
) -> Option<Vec<u8>> {
    let tbs = &certificate.tbs_certificate;
    let recipient = enveloped.recip_infos.0.iter().find_map(|info| match info {
        RecipientInfo::Ktri(ktri) => match &ktri.rid {
            RecipientIdentifier::IssuerAndSerialNumber(id)
                if id.issuer == tbs.issuer && id.serial_number == tbs.serial_number =>
            {
                Some(ktri)
            }
            _ => None,
        },
        _ => None,
    })?;
    let content_key = key
        .decrypt(rsa::Pkcs1v15Encrypt, recipient.enc_key.as_bytes())
        .ok()?;
    let content = &enveloped.encrypted_content;
    let sealed = content.encrypted_content.as_ref()?.as_bytes();
    let parameters = content.content_enc_alg.parameters.as_ref()?;
    let parameters: GcmParameters = if parameters.tag() == der::Tag::OctetString {
        GcmParameters::from_der(parameters.value()).ok()?
    } else {
        parameters.decode_as().ok()?
    };
    let nonce = parameters.nonce.as_bytes();
    if nonce.len() != 12 {
        return None;
    }
    let nonce = aes_gcm::Nonce::from_slice(nonce);
    match content.content_enc_alg.oid {
        AES128_GCM => Aes128Gcm::new_from_slice(&content_key)
            .ok()?
            .decrypt(nonce, sealed)
            .ok(),
        AES256_GCM => Aes256Gcm::new_from_slice(&content_key)
            .ok()?
            .decrypt(nonce, sealed)
            .ok(),
        _ => None,
    }
}
