//! Image signatures for skopos: simple signing as containers/image does it.
//!
//! - [`payload`]: the "atomic container signature" JSON a signature covers.
//! - [`openpgp`]: verifying OpenPGP signatures in pure Rust against trusted keys.
//! - [`gpg`]: making signatures with the user's GnuPG (the `gpg` program).
//! - [`public_key`]: the public key types sigstore signatures are verified with.
//! - [`sigstore`]: sigstore keys (cosign's encrypted format), signatures and their checks.
//! - [`rekor`]: Rekor signed entry timestamps, checked offline.
//! - [`fulcio`]: Fulcio and PKI certificate trust roots of sigstore signatures.
//! - [`standalone`]: `standalone-verify`'s check and what a signature claims, unverified.
//!
//! This crate knows nothing about policies or transports: callers pass the manifest,
//! the signature bytes and the rules a signed identity and digest must satisfy
//! ([`verify_simple_signature`]), or ask for a signature ([`sign_manifest`]).
//!
//! Where it fits: skopos-policy verifies signatures through it, and the command line's
//! signers (`--sign-by`, `--sign-by-sigstore-private-key`, …), which the copy engine calls
//! for each manifest it writes, make them with it.

#![deny(missing_docs)]

pub mod fulcio;
pub mod gpg;
pub mod openpgp;
pub mod payload;
pub mod public_key;
pub mod rekor;
pub mod sigstore;
pub mod standalone;

use anyhow::{bail, Result};
use skopos_core::Digest;

pub use gpg::GpgSigner;
pub use openpgp::Keyring;
pub use payload::UntrustedPayload;

/// The message containers/image shows while it signs with a GPG key.
pub const SIMPLE_SIGNING_PROGRESS: &str = "Signing image using simple signing";

/// A signature that passed every check: what it vouches for and who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The manifest digest the signature covers.
    pub manifest_digest: Digest,
    /// The identity it claims, as written in the payload.
    pub docker_reference: String,
    /// The primary fingerprint of the signing key.
    pub key_fingerprint: String,
}

/// What a simple signature must satisfy beyond being made by a key of the keyring
/// (containers/image's `signatureAcceptanceRules`). Each check returns the rejection
/// message on failure.
pub struct AcceptanceRules<'a> {
    /// Fingerprints whose signatures are accepted.
    pub accepted_keys: &'a [String],
    /// Checks the identity the signature claims.
    pub check_reference: &'a dyn Fn(&str) -> Result<()>,
    /// Checks the manifest digest the signature claims.
    pub check_digest: &'a dyn Fn(&Digest) -> Result<()>,
}

/// containers/image's `verifyAndExtractSignature`: the OpenPGP signature, then the key,
/// then the payload's format, digest and identity, in that order (so the first failing
/// check decides the message).
pub fn verify_simple_signature(
    keyring: &Keyring,
    signature: &[u8],
    rules: &AcceptanceRules<'_>,
) -> Result<VerifiedSignature> {
    let (contents, key_fingerprint) = keyring.verify(signature)?;
    if !rules.accepted_keys.contains(&key_fingerprint) {
        bail!("signature by key {key_fingerprint} is not accepted");
    }
    let payload = UntrustedPayload::parse(&contents)?;
    (rules.check_digest)(&payload.manifest_digest)?;
    (rules.check_reference)(&payload.docker_reference)?;
    Ok(VerifiedSignature {
        manifest_digest: payload.manifest_digest,
        docker_reference: payload.docker_reference,
        key_fingerprint,
    })
}

/// Whether `manifest` has `digest` (containers/image's `manifest.MatchesDigest`: schema 1
/// signatures are not part of the digest).
pub fn manifest_matches_digest(manifest: &[u8], digest: &Digest) -> Result<bool> {
    if digest.algorithm() == skopos_core::digest::Algorithm::Sha256 {
        return Ok(skopos_core::manifest::manifest_digest(manifest)? == *digest);
    }
    Ok(digest.matches(manifest))
}

/// A simple signature of `manifest` claiming `docker_reference`, made by `signer`
/// (containers/image's `SignDockerManifestWithOptions`).
pub fn sign_manifest(
    manifest: &[u8],
    docker_reference: &str,
    signer: &GpgSigner,
) -> Result<Vec<u8>> {
    let digest = skopos_core::manifest::manifest_digest(manifest)?;
    let payload = UntrustedPayload::new(digest, docker_reference.to_string());
    signer.sign(&payload.to_json()?)
}
