//! What `list-tags` may list: a registry repository or a docker-archive file, named as
//! skopeo names them, with skopeo's errors for anything else.

use std::path::PathBuf;

use skopos_core::reference::DockerReference;
use skopos_core::{ImageName, Result};

/// A `list-tags` argument, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagSource {
    /// `docker://REPOSITORY`: a repository without tag or digest; its tags come from
    /// [`crate::docker::repository_tags`].
    Registry(DockerReference),
    /// `docker-archive:PATH[:…]`: the archive's tags come from
    /// [`crate::docker_archive::list_tags`] (an image selector in the name is ignored, as
    /// skopeo ignores it).
    Archive(PathBuf),
}

impl TagSource {
    /// Parse a `list-tags` argument as skopeo does: only `docker` and `docker-archive`
    /// transports, and a registry reference names a repository, not an image.
    pub fn parse(input: &str) -> Result<TagSource> {
        let (transport, rest) = input.split_once(':').unwrap_or((input, ""));
        match transport {
            "docker-archive" => match ImageName::parse(input)? {
                ImageName::DockerArchive { path, .. } => Ok(TagSource::Archive(path)),
                other => anyhow::bail!("internal error: {other} is not a docker-archive: name"),
            },
            "docker" => {
                let Some(repository) = rest.strip_prefix("//") else {
                    anyhow::bail!(
                        "Invalid source name {input}: docker: image reference {rest} does not start with //"
                    );
                };
                let reference = DockerReference::parse_normalized(repository)
                    .map_err(|e| e.context(format!("Invalid source name {input}")))?;
                if reference.tag().is_some() || reference.digest().is_some() {
                    anyhow::bail!("No tag or digest allowed in reference");
                }
                Ok(TagSource::Registry(reference))
            }
            _ => anyhow::bail!(
                "Unsupported transport '{transport}' for tag listing. Only supported: docker, docker-archive"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(input: &str) -> String {
        format!("{:#}", TagSource::parse(input).unwrap_err())
    }

    #[test]
    fn registry_repositories_and_archives_are_understood() {
        match TagSource::parse("docker://localhost:5000/a/b").unwrap() {
            TagSource::Registry(reference) => assert_eq!(reference.name(), "localhost:5000/a/b"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            TagSource::parse("docker-archive:/tmp/x.tar:img:v1").unwrap(),
            TagSource::Archive(PathBuf::from("/tmp/x.tar"))
        );
    }

    #[test]
    fn other_names_fail_with_skopeos_messages() {
        assert_eq!(
            error("oci:/tmp/layout"),
            "Unsupported transport 'oci' for tag listing. Only supported: docker, docker-archive"
        );
        assert_eq!(
            error("docker:busybox"),
            "Invalid source name docker:busybox: docker: image reference busybox does not start with //"
        );
        assert_eq!(
            error("docker://busybox:latest"),
            "No tag or digest allowed in reference"
        );
    }
}
