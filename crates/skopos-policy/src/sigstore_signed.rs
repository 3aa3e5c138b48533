//! The `sigstoreSigned` requirement with public keys (containers/image's
//! `policy_eval_sigstore.go`): some sigstore signature of the image must be made by a
//! trusted key, for this manifest, claiming an acceptable identity. Fulcio, PKI and Rekor
//! trust roots are parsed but not implemented: they refuse every signature.

use anyhow::{anyhow, bail, Result};
use skopos_trust::sigstore::{
    parse_public_keys, verify_sigstore_signature, SigstoreBlob, SigstoreRules, SIGNATURE_MIME_TYPE,
};

use crate::config::{KeySource, SigstoreSigned};
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
        if self.rekor_keys.is_some() {
            bail!("Rekor SET verification in sigstoreSigned requirements is not supported by skopos yet");
        }
        let Some(key_source) = &self.keys else {
            bail!("fulcio and pki trust roots in sigstoreSigned requirements are not supported by skopos yet");
        };
        let pems = match key_source {
            KeySource::Path(path) => vec![read_file_like_go(path.as_ref())?],
            KeySource::Paths(paths) => paths
                .iter()
                .map(|path| read_file_like_go(path.as_ref()))
                .collect::<Result<_>>()?,
            KeySource::Data(data) => vec![data.clone()],
            KeySource::Datas(datas) => datas.clone(),
        };
        let mut keys = Vec::new();
        for pem in &pems {
            keys.extend(parse_public_keys(pem)?);
        }
        let check_reference = |signed: &str| {
            if self.signed_identity.matches(image.reference, signed) {
                Ok(())
            } else {
                Err(anyhow!(
                    "Signature for identity {} is not accepted",
                    skopos_core::go_text::go_quote(signed)
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
