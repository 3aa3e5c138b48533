//! What skopeo's `standalone-verify` and `untrusted-signature-dump-without-verification`
//! do with a signature, apart from reading files and printing: containers/image's
//! `VerifyImageManifestSignatureUsingKeyIdentityList` and `UntrustedSignatureInformation`.

use anyhow::{anyhow, bail, Result};
use serde::Serialize;
use skopos_core::go::text::go_quote;
use skopos_core::reference::DockerReference;
use skopos_core::Digest;

use crate::{manifest_matches_digest, VerifiedSignature};
use crate::{openpgp, verify_simple_signature, AcceptanceRules, Keyring, UntrustedPayload};

/// containers/image's `VerifyImageManifestSignatureUsingKeyIdentityList`: `signature`,
/// made by a key of `keyring` whose fingerprint is in `accepted`, must claim exactly
/// `expected_reference` and the digest of `manifest`.
pub fn verify_image_manifest_signature(
    keyring: &Keyring,
    signature: &[u8],
    manifest: &[u8],
    expected_reference: &str,
    accepted: &[String],
) -> Result<VerifiedSignature> {
    let expected = DockerReference::parse_normalized(expected_reference)?;
    let check_reference = |signed: &str| {
        let parsed = DockerReference::parse_normalized(signed)
            .map_err(|_| anyhow!("Invalid docker reference {} in signature", go_quote(signed)))?;
        if parsed != expected {
            bail!(
                "Docker reference {} does not match {}",
                go_quote(signed),
                go_quote(expected_reference)
            );
        }
        Ok(())
    };
    let check_digest = |digest: &Digest| {
        if manifest_matches_digest(manifest, digest)? {
            Ok(())
        } else {
            Err(anyhow!(
                "Signature for docker digest {} does not match",
                go_quote(&digest.to_string())
            ))
        }
    };
    verify_simple_signature(
        keyring,
        signature,
        &AcceptanceRules {
            accepted_keys: accepted,
            check_reference: &check_reference,
            check_digest: &check_digest,
        },
    )
}

/// What a signature claims, unverified: containers/image's `UntrustedSignatureInformation`,
/// serialized with its Go field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntrustedSignatureInformation {
    /// The manifest digest the signature claims.
    pub untrusted_docker_manifest_digest: String,
    /// The identity the signature claims.
    pub untrusted_docker_reference: String,
    /// The program that made it, if it says.
    #[serde(rename = "UntrustedCreatorID")]
    pub untrusted_creator_id: Option<String>,
    /// When it was made, as Go marshals a `time.Time` in the local zone (RFC 3339).
    pub untrusted_timestamp: Option<String>,
    /// The short (16 hex digits) identifier of the key that made it.
    pub untrusted_short_key_identifier: String,
}

impl UntrustedSignatureInformation {
    /// Decode `signature` without checking who made it.
    pub fn decode(signature: &[u8]) -> Result<Self> {
        let (contents, short_key_id) = openpgp::untrusted_contents(signature)?;
        let payload = UntrustedPayload::parse(&contents)?;
        Ok(UntrustedSignatureInformation {
            untrusted_docker_manifest_digest: payload.manifest_digest.to_string(),
            untrusted_docker_reference: payload.docker_reference,
            untrusted_creator_id: payload.creator,
            untrusted_timestamp: payload.timestamp.and_then(|seconds| {
                chrono::DateTime::from_timestamp(seconds, 0).map(|utc| {
                    utc.with_timezone(&chrono::Local)
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                })
            }),
            untrusted_short_key_identifier: short_key_id,
        })
    }
}
