//! The trust policy (containers-policy.json(5)) as skopeo 1.9.3 applies it: loading the
//! policy file, choosing the requirements for an image by transport scope, and deciding
//! whether the image may be used: `signedBy` with OpenPGP keys, `sigstoreSigned` with
//! public keys, Fulcio certificates with Rekor SETs, or a PKI, all checked offline.
//!
//! Where it fits: the command line loads the policy; the copy engine (through
//! `CopyOptions::source_policy` in skopos-copy) and the image proxy ask it about each source
//! image before its layers are read. The signature cryptography is skopos-trust's.

#![deny(missing_docs)]

mod config;
mod identity;
mod scope;
mod signed_by;
mod sigstore_signed;

use std::future::Future;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use skopos_core::go::text::go_quote;
use skopos_core::ImageName;

pub use config::{
    Fulcio, KeySource, Pki, Policy, ReferenceMatch, Requirement, SignedBy, SigstoreSigned,
};
pub use scope::ImageScopes;

/// The policy every user shares when they have none of their own.
pub const SYSTEM_POLICY_PATH: &str = "/etc/containers/policy.json";

/// The per-user policy, relative to `$HOME`.
const USER_POLICY_PATH: &str = ".config/containers/policy.json";

impl Policy {
    /// The policy skopeo's global flags select: `--insecure-policy` accepts anything,
    /// else `--policy PATH`, else the user's policy file if it exists, else the system one.
    /// Errors read as skopeo's, without its `Error loading trust policy: ` prefix.
    pub fn load(policy_path: Option<&Path>, insecure_policy: bool) -> Result<Policy> {
        if insecure_policy {
            return Ok(Policy::insecure_accept_anything());
        }
        let path = match policy_path {
            Some(path) if !path.as_os_str().is_empty() => path.to_path_buf(),
            _ => default_policy_path(),
        };
        Policy::from_file(&path)
    }

    /// Read and parse one policy file.
    pub fn from_file(path: &Path) -> Result<Policy> {
        let bytes = read_file_like_go(path)?;
        Policy::from_bytes(&bytes).map_err(|err| {
            anyhow!(
                "invalid policy in {}: {err:#}",
                go_quote(&path.to_string_lossy())
            )
        })
    }

    /// The requirements for `name`: the transport's entry for the image's own scope, else
    /// for its nearest enclosing namespace, else the transport's `""` scope, else the
    /// policy default.
    pub fn requirements_for(&self, name: &ImageName) -> Result<&[Requirement]> {
        let transport = name.transport();
        if let Some(scopes) = self.transports.get(transport) {
            let has_specific_scopes = scopes.keys().any(|scope| !scope.is_empty());
            let image = ImageScopes::of(name, has_specific_scopes)?;
            if let Some(requirements) = scopes.get(&image.identity) {
                tracing::debug!(
                    " Using transport {transport:?} policy section {}",
                    image.identity
                );
                return Ok(requirements);
            }
            for namespace in &image.namespaces {
                if let Some(requirements) = scopes.get(namespace) {
                    tracing::debug!(
                        " Using transport {transport:?} specific policy section {namespace}"
                    );
                    return Ok(requirements);
                }
            }
            if let Some(requirements) = scopes.get("") {
                tracing::debug!(" Using transport {transport:?} policy section \"\"");
                return Ok(requirements);
            }
        }
        tracing::debug!(" Using default policy section");
        Ok(&self.default)
    }

    /// containers/image's `IsRunningImageAllowed`: `Ok` only when every requirement for
    /// `name` accepts the image whose manifest is `manifest` (an instance's manifest, for
    /// an image of a list). `signatures` fetches the image's signatures; it is called at
    /// most once, and only when a requirement looks at signatures.
    pub async fn check_image<F, Fut>(
        &self,
        name: &ImageName,
        manifest: &[u8],
        signatures: F,
    ) -> Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<Vec<u8>>>>,
    {
        let requirements = self.requirements_for(name)?;
        if requirements.is_empty() {
            bail!("List of verification policy requirements must not be empty");
        }
        let mut fetch = Some(signatures);
        let mut fetched: Option<Vec<Vec<u8>>> = None;
        let image = signed_by::EvaluatedImage {
            reference: name.docker_reference(),
            manifest,
        };
        for requirement in requirements {
            match requirement {
                Requirement::InsecureAcceptAnything => continue,
                Requirement::Reject => bail!("Running image {name} is rejected by policy."),
                Requirement::SignedBaseLayer { .. } => {
                    tracing::error!("signedBaseLayer not implemented yet!");
                    bail!("signedBaseLayer not implemented yet!")
                }
                Requirement::SignedBy(_) | Requirement::SigstoreSigned(_) => {}
            }
            let signatures = match (&fetched, fetch.take()) {
                (Some(signatures), _) => signatures,
                (None, Some(fetch)) => fetched.insert(fetch().await?),
                (None, None) => bail!("internal error: the image's signatures were not read"),
            };
            match requirement {
                Requirement::SignedBy(signed_by) => signed_by.accepts(&image, signatures)?,
                Requirement::SigstoreSigned(sigstore) => sigstore.accepts(&image, signatures)?,
                _ => bail!("internal error: {requirement:?} does not verify signatures"),
            }
        }
        Ok(())
    }
}

/// A policy or key file, as Go's `os.ReadFile` words its errors, bounded as every
/// configuration file is.
pub(crate) fn read_file_like_go(path: &Path) -> Result<Vec<u8>> {
    skopos_core::limits::read_file_like_go(path, skopos_core::limits::MAX_CONFIG_FILE)
}

/// `$HOME/.config/containers/policy.json` if it exists, else the system policy.
fn default_policy_path() -> PathBuf {
    if let Some(home) = std::env::var_os("HOME").filter(|home| !home.is_empty()) {
        let user_policy = Path::new(&home).join(USER_POLICY_PATH);
        if std::fs::metadata(&user_policy).is_ok() {
            return user_policy;
        }
    }
    PathBuf::from(SYSTEM_POLICY_PATH)
}

#[cfg(test)]
mod tests;
