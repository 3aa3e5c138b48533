//! The `signedBy` requirement (containers/image's `policy_eval_signedby.go`): some
//! signature of the image must be a simple signature by a trusted GPG key, for this
//! manifest, claiming an acceptable identity.

use anyhow::{anyhow, bail, Result};
use skopos_core::reference::DockerReference;
use skopos_trust::{manifest_matches_digest, verify_simple_signature, AcceptanceRules, Keyring};

use crate::config::{KeySource, SignedBy};
use crate::read_file_like_go;

/// The image a requirement is evaluated for.
pub(crate) struct EvaluatedImage<'a> {
    /// Its Docker reference, if its transport has one.
    pub reference: Option<&'a DockerReference>,
    /// Its manifest (the instance's, for an image of a list).
    pub manifest: &'a [u8],
}

impl SignedBy {
    /// `Ok` when at least one of `signatures` is accepted; otherwise the single
    /// rejection, or all of them.
    pub(crate) fn accepts(&self, image: &EvaluatedImage<'_>, signatures: &[Vec<u8>]) -> Result<()> {
        let mut rejections = Vec::new();
        // Only simple signatures count here (containers/image's `Signatures`): sigstore
        // ones are `sigstoreSigned`'s.
        let simple = signatures
            .iter()
            .filter_map(|blob| skopos_core::signature_blob::simple_signing_message(blob));
        for signature in simple {
            match self.accepts_signature(image, signature) {
                Ok(()) => return Ok(()),
                Err(reason) => rejections.push(format!("{reason:#}")),
            }
        }
        match rejections.len() {
            0 => bail!("A signature was required, but no signature exists"),
            1 => bail!("{}", rejections[0]),
            _ => bail!(
                "None of the signatures were accepted, reasons: {}",
                rejections.join("; ")
            ),
        }
    }

    fn accepts_signature(&self, image: &EvaluatedImage<'_>, signature: &[u8]) -> Result<()> {
        match self.key_type.as_str() {
            "GPGKeys" => {}
            other => bail!("Unimplemented \"keyType\" value \"{other}\""),
        }
        let blobs = match &self.keys {
            KeySource::Path(path) => vec![read_file_like_go(path.as_ref())?],
            KeySource::Paths(paths) => paths
                .iter()
                .map(|path| read_file_like_go(path.as_ref()))
                .collect::<Result<_>>()?,
            KeySource::Data(data) => vec![data.clone()],
            KeySource::Datas(datas) => datas.clone(),
        };
        let (keyring, trusted) = Keyring::import(&blobs)?;
        if trusted.is_empty() {
            bail!("No public keys imported");
        }
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
            if manifest_matches_digest(image.manifest, digest)? {
                Ok(())
            } else {
                Err(anyhow!("Signature for digest {digest} does not match"))
            }
        };
        verify_simple_signature(
            &keyring,
            signature,
            &AcceptanceRules {
                accepted_keys: &trusted,
                check_reference: &check_reference,
                check_digest: &check_digest,
            },
        )?;
        Ok(())
    }
}
