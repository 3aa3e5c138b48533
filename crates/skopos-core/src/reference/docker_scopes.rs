//! The policy scopes of a Docker reference (containers/image's docker transport
//! `PolicyConfigurationIdentity` and `PolicyConfigurationNamespaces`): policy.json and
//! registries.d both look configuration up by them.

use anyhow::{bail, Result};

use super::DockerReference;

/// `host[:port]/path:tag` or `host[:port]/path@digest`.
pub fn docker_policy_identity(reference: &DockerReference) -> Result<String> {
    match (reference.tag(), reference.digest()) {
        (Some(tag), None) => Ok(format!("{}:{tag}", reference.name())),
        (None, Some(digest)) => Ok(format!("{}@{digest}", reference.name())),
        (Some(_), Some(_)) => bail!(
            "Unexpected Docker reference {} with both a name and a digest",
            reference.familiar_string()
        ),
        (None, None) => bail!(
            "Internal inconsistency: Docker reference {} with neither a tag nor a digest",
            reference.familiar_string()
        ),
    }
}

/// The repository, each parent namespace up to the host, then `*.` wildcards of the host
/// name without its port (`*.example.com`, `*.com`).
pub fn docker_policy_namespaces(reference: &DockerReference) -> Vec<String> {
    let mut namespaces = Vec::new();
    let mut name = reference.name();
    loop {
        namespaces.push(name.clone());
        match name.rfind('/') {
            Some(slash) => name.truncate(slash),
            None => break,
        }
    }
    let host = name.split(':').next().unwrap_or_default();
    let mut rest = host;
    while let Some(dot) = rest.find('.') {
        rest = &rest[dot + 1..];
        namespaces.push(format!("*.{rest}"));
    }
    namespaces
}
