//! The `sigstoreSigned` requirement (containers/image's `policy_eval_sigstore.go`): some
//! sigstore signature of the image must be made by a trusted key, or by a certificate a
//! trusted Fulcio CA (with a Rekor SET) or PKI issued, for this manifest, claiming an
//! acceptable identity. Everything is checked offline.

use anyhow::{anyhow, bail, Result};
use skopos_trust::fulcio::{
    FulcioTrustRoot, PkiTrustRoot, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION,
};
use skopos_trust::rekor::{verify_rekor_set, verify_rekor_set_for_key, SET_ANNOTATION};
use skopos_trust::sigstore::{
    parse_public_key, verify_sigstore_signature, PublicKey, SigstoreBlob, SigstoreRules,
    SIGNATURE_ANNOTATION, SIGNATURE_MIME_TYPE,
};

use crate::config::{Fulcio, KeySource, Pki, SigstoreSigned};
use crate::read_file_like_go;
use crate::signed_by::EvaluatedImage;

impl SigstoreSigned {
    /// `Ok` when at least one sigstore signature among `signatures` is accepted.
    pub(crate) fn accepts(&self, image: &EvaluatedImage<'_>, signatures: &[Vec<u8>]) -> Result<()> {
        let mut rejections = Vec::new();
        let (mut not_sigstore, mut not_signatures) = (0, 0);
        for blob in signatures {
            let signature = match SigstoreBlob::from_blob(blob) {
                None => {
                    not_sigstore += 1;
                    continue;
                }
                Some(Err(err)) => {
                    rejections.push(format!("{err:#}"));
                    continue;
                }
                Some(Ok(signature)) => signature,
            };
            if signature.mime_type != SIGNATURE_MIME_TYPE {
                not_signatures += 1;
                continue;
            }
            match self.accepts_signature(image, &signature) {
                Ok(()) => return Ok(()),
                Err(reason) => rejections.push(format!("{reason:#}")),
            }
        }
        match rejections.len() {
            0 if not_sigstore == 0 && not_signatures == 0 => {
                bail!("A signature was required, but no signature exists")
            }
            0 => bail!(
                "A signature was required, but no signature exists ({not_sigstore} non-sigstore signatures, {not_signatures} sigstore non-signature attachments)"
            ),
            1 => bail!("{}", rejections[0]),
            _ => bail!(
                "None of the signatures were accepted, reasons: {}",
                rejections.join("; ")
            ),
        }
    }

    fn accepts_signature(
        &self,
        image: &EvaluatedImage<'_>,
        signature: &SigstoreBlob,
    ) -> Result<()> {
        // The whole trust root first, as containers/image's prepareTrustRoot.
        let keys = self.keys.as_ref().map(public_keys).transpose()?;
        let fulcio = self.fulcio.as_ref().map(fulcio_trust_root).transpose()?;
        let rekor_keys = self
            .rekor_keys
            .as_ref()
            .map(rekor_public_keys)
            .transpose()?;
        let pki = self.pki.as_ref().map(pki_trust_root).transpose()?;
        let annotation = |name: &str| signature.annotations.get(name).map(String::as_str);
        let required =
            |name: &str| annotation(name).ok_or_else(|| anyhow!("missing {name} annotation"));
        let base64_signature = required(SIGNATURE_ANNOTATION)?;
        let keys = if let Some(keys) = keys {
            match &rekor_keys {
                None => keys,
                Some(rekor_keys) => {
                    let set = required(SET_ANNOTATION)?;
                    vec![key_in_rekor_set(
                        keys,
                        rekor_keys,
                        set,
                        base64_signature,
                        &signature.payload,
                    )?]
                }
            }
        } else if let Some(fulcio) = &fulcio {
            let Some(rekor_keys) = &rekor_keys else {
                bail!("Internal inconsistency: Fulcio CA specified without a Rekor public key");
            };
            let set = required(SET_ANNOTATION)?;
            let certificate = required(CERTIFICATE_ANNOTATION)?;
            let integrated_time = verify_rekor_set(
                rekor_keys,
                set.as_bytes(),
                certificate.as_bytes(),
                base64_signature,
                &signature.payload,
            )?;
            vec![fulcio.verify_certificate_at(
                integrated_time,
                certificate.as_bytes(),
                annotation(CHAIN_ANNOTATION).map(str::as_bytes),
            )?]
        } else if let Some(pki) = &pki {
            let certificate = required(CERTIFICATE_ANNOTATION)?;
            vec![pki.verify_certificate(
                certificate.as_bytes(),
                annotation(CHAIN_ANNOTATION).map(str::as_bytes),
            )?]
        } else {
            bail!("Internal inconsistency: A public key, Fulcio, or PKI must be specified.");
        };
        let check_reference = |signed: &str| {
            if self.signed_identity.matches(image.reference, signed) {
                Ok(())
            } else {
                Err(anyhow!(
                    "Signature for identity {} is not accepted",
                    skopos_core::go::text::go_quote(signed)
                ))
            }
        };
        let check_digest = |digest: &skopos_core::Digest| {
            if skopos_trust::manifest_matches_digest(image.manifest, digest)? {
                Ok(())
            } else {
                Err(anyhow!("Signature for digest {digest} does not match"))
            }
        };
        verify_sigstore_signature(
            signature,
            &keys,
            &SigstoreRules {
                check_reference: &check_reference,
                check_digest: &check_digest,
            },
        )?;
        Ok(())
    }
}

/// The PEM files or data of `source`.
fn pem_blobs(source: &KeySource) -> Result<Vec<Vec<u8>>> {
    match source {
        KeySource::Path(path) => Ok(vec![read_file_like_go(path.as_ref())?]),
        KeySource::Paths(paths) => paths
            .iter()
            .map(|path| read_file_like_go(path.as_ref()))
            .collect(),
        KeySource::Data(data) => Ok(vec![data.clone()]),
        KeySource::Datas(datas) => Ok(datas.clone()),
    }
}

/// The trusted signing keys of `keyPath`/`keyPaths`/`keyData`/`keyDatas`: the first key
/// of each, numbered from 1 in errors as containers/image does.
fn public_keys(source: &KeySource) -> Result<Vec<PublicKey>> {
    pem_blobs(source)?
        .iter()
        .enumerate()
        .map(|(index, pem)| {
            parse_public_key(pem)
                .map_err(|err| anyhow!("parsing public key {}: {err:#}", index + 1))
        })
        .collect()
}

/// The Rekor keys of `rekorPublicKey…`, numbered from 1 in errors as containers/image does;
/// like containers/image, only ECDSA keys are trusted to sign SETs.
fn rekor_public_keys(source: &KeySource) -> Result<Vec<PublicKey>> {
    let mut keys = Vec::new();
    for (index, pem) in pem_blobs(source)?.iter().enumerate() {
        let key = parse_public_key(pem)
            .map_err(|err| anyhow!("parsing Rekor public key {}: {err:#}", index + 1))?;
        if !key.is_ecdsa() {
            bail!("Rekor public key {} is not using ECDSA", index + 1);
        }
        keys.push(key);
    }
    Ok(keys)
}

/// With a key-based requirement and Rekor keys, the trusted key the SET records: each
/// trusted key is tried until the SET matches one.
fn key_in_rekor_set(
    keys: Vec<PublicKey>,
    rekor_keys: &[PublicKey],
    set: &str,
    base64_signature: &str,
    payload: &[u8],
) -> Result<PublicKey> {
    let mut failures = Vec::new();
    for key in keys {
        match verify_rekor_set_for_key(rekor_keys, set.as_bytes(), &key, base64_signature, payload)
        {
            Ok(_) => return Ok(key),
            Err(err) => failures.push(format!("{err:#}")),
        }
    }
    bail!(
        "No public key verified against the RekorSET: {}",
        failures.join(", ")
    )
}

/// The `fulcio` trust root, its CA certificates read.
fn fulcio_trust_root(fulcio: &Fulcio) -> Result<FulcioTrustRoot> {
    let ca = pem_blobs(&fulcio.ca)?.concat();
    FulcioTrustRoot::new(&ca, &fulcio.oidc_issuer, &fulcio.subject_email)
}

/// The `pki` trust root, its certificates read.
fn pki_trust_root(pki: &Pki) -> Result<PkiTrustRoot> {
    let roots = pem_blobs(&pki.ca_roots)?.concat();
    let intermediates = match &pki.ca_intermediates {
        None => None,
        Some(source) => Some(pem_blobs(source)?.concat()),
    };
    PkiTrustRoot::new(
        &roots,
        intermediates.as_deref(),
        &pki.subject_email,
        &pki.subject_hostname,
    )
}
