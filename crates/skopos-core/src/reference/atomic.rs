//! `atomic:[HOST/]NAMESPACE/STREAM:TAG`: an image in an OpenShift image stream (the
//! deprecated transport skopeo 1.22 still has, hidden from its transport list), parsed as
//! containers/image's `openshift` transport parses it.

use std::fmt;

use crate::reference::DockerReference;
use crate::Result;

/// A tagged image in the image stream `NAMESPACE/STREAM` of the cluster whose registry is
/// the reference's host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtomicReference {
    docker: DockerReference,
}

impl AtomicReference {
    /// Parse the part after `atomic:`, with containers/image's messages.
    pub fn parse(within: &str) -> Result<AtomicReference> {
        let docker = DockerReference::parse_normalized(within)
            .map_err(|err| anyhow::anyhow!("failed to parse image reference {within:?}: {err}"))?;
        if docker.tag().is_none() {
            anyhow::bail!(
                "invalid image reference {within}, expected format: 'hostname/namespace/stream:tag'"
            );
        }
        if docker.path().split('/').count() != 2 {
            anyhow::bail!(
                "invalid image reference: {}, expected format: 'hostname/namespace/stream:tag'",
                docker.familiar_string()
            );
        }
        Ok(AtomicReference { docker })
    }

    /// The image as a docker reference (the cluster registry's host, `NAMESPACE/STREAM`, the
    /// tag): its policy identity, and where its blobs go.
    pub fn docker_reference(&self) -> &DockerReference {
        &self.docker
    }

    /// The image stream's namespace.
    pub fn namespace(&self) -> &str {
        self.split().0
    }

    /// The image stream's name.
    pub fn stream(&self) -> &str {
        self.split().1
    }

    /// The tag in the image stream.
    pub fn tag(&self) -> &str {
        self.docker.tag().unwrap_or_default()
    }

    fn split(&self) -> (&str, &str) {
        self.docker.path().split_once('/').unwrap_or_default()
    }
}

impl fmt::Display for AtomicReference {
    /// containers/image's `StringWithinTransport`: the familiar form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.docker.familiar_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_containers_image_does() {
        let reference = AtomicReference::parse("registry.example:5000/ns/stream:v1").unwrap();
        assert_eq!(reference.namespace(), "ns");
        assert_eq!(reference.stream(), "stream");
        assert_eq!(reference.tag(), "v1");
        assert_eq!(
            reference.docker_reference().domain(),
            "registry.example:5000"
        );
        assert_eq!(reference.to_string(), "registry.example:5000/ns/stream:v1");
        // Without a host, the docker.io normalization applies, as in containers/image.
        let short = AtomicReference::parse("foo/bar:baz").unwrap();
        assert_eq!((short.namespace(), short.stream()), ("foo", "bar"));
        assert_eq!(short.to_string(), "foo/bar:baz");
    }

    #[test]
    fn errors_are_containers_images() {
        let cases = [
            (
                "foo/bar",
                "invalid image reference foo/bar, expected format: 'hostname/namespace/stream:tag'",
            ),
            (
                "a/b/c:t",
                "invalid image reference: a/b/c:t, expected format: 'hostname/namespace/stream:tag'",
            ),
            (
                "Bad/x:y",
                "failed to parse image reference \"Bad/x:y\": invalid reference format: repository name must be lowercase",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                AtomicReference::parse(input).unwrap_err().to_string(),
                message
            );
        }
    }
}
