//! Which policy scope names an image: each transport's `PolicyConfigurationIdentity` and
//! `PolicyConfigurationNamespaces` in containers/image v5.23.

use anyhow::{bail, Result};
use skopos_core::reference::{
    docker_policy_identity, docker_policy_namespaces, resolve_path_to_fully_explicit, DaemonImage,
};
use skopos_core::ImageName;

/// The scopes to look up for one image, most specific first (the empty scope and the
/// policy default come after them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageScopes {
    /// The image's own scope; `""` when the transport has none.
    pub identity: String,
    /// Its enclosing namespaces, most specific first.
    pub namespaces: Vec<String>,
}

impl ImageScopes {
    /// The scopes of `name`. Paths are resolved to their absolute, symlink-free form now,
    /// so the path's parent must exist. Transports whose scopes skopos does not compute
    /// (containers-storage) are an error when the policy gives them any
    /// specific scope, rather than silently falling back to a broader one: the caller
    /// passes `has_specific_scopes` for that.
    pub fn of(name: &ImageName, has_specific_scopes: bool) -> Result<ImageScopes> {
        Ok(match name {
            ImageName::Docker(reference)
            | ImageName::DockerDaemon(DaemonImage::Named(reference)) => ImageScopes {
                identity: docker_policy_identity(reference)?,
                namespaces: docker_policy_namespaces(reference),
            },
            ImageName::Atomic(reference) => ImageScopes {
                identity: docker_policy_identity(reference.docker_reference())?,
                namespaces: docker_policy_namespaces(reference.docker_reference()),
            },
            ImageName::DockerDaemon(DaemonImage::Id(_))
            | ImageName::DockerArchive { .. }
            | ImageName::Tarball(_) => ImageScopes::none(),
            ImageName::Dir(path) | ImageName::Sif(path) => {
                let resolved = resolved(path)?;
                ImageScopes {
                    namespaces: parent_directories(&resolved),
                    identity: resolved,
                }
            }
            ImageName::Oci { path, .. } | ImageName::OciArchive { path, .. } => {
                let resolved = resolved(path)?;
                let mut namespaces = vec![resolved.clone()];
                namespaces.extend(parent_directories(&resolved));
                ImageScopes {
                    identity: resolved,
                    namespaces,
                }
            }
            ImageName::Ostree(reference) => ImageScopes {
                identity: reference.policy_identity(),
                namespaces: reference.policy_namespaces(),
            },
            ImageName::ContainersStorage(_) => {
                if has_specific_scopes {
                    bail!(
                        "policy scopes for the {} transport are not supported by skopos yet: only its \"\" scope can be used",
                        name.transport()
                    );
                }
                ImageScopes::none()
            }
        })
    }

    fn none() -> ImageScopes {
        ImageScopes {
            identity: String::new(),
            namespaces: Vec::new(),
        }
    }
}

fn resolved(path: &std::path::Path) -> Result<String> {
    let Some(text) = path.to_str() else {
        bail!("the path {} is not valid UTF-8", path.display());
    };
    let resolved = resolve_path_to_fully_explicit(text)?;
    match resolved.to_str() {
        Some(text) => Ok(text.to_string()),
        None => bail!("the path {} is not valid UTF-8", resolved.display()),
    }
}

/// Every parent directory of an absolute path, nearest first, without `/` itself.
fn parent_directories(path: &str) -> Vec<String> {
    let mut parents = Vec::new();
    let mut current = path;
    while let Some(slash) = current.rfind('/') {
        if slash == 0 {
            break;
        }
        current = &current[..slash];
        parents.push(current.to_string());
    }
    parents
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker(input: &str) -> ImageScopes {
        ImageScopes::of(&ImageName::parse(input).unwrap(), false).unwrap()
    }

    #[test]
    fn docker_scopes_expand_the_name_and_wildcard_the_host() {
        let scopes = docker("docker://busybox");
        assert_eq!(scopes.identity, "docker.io/library/busybox:latest");
        assert_eq!(
            scopes.namespaces,
            [
                "docker.io/library/busybox",
                "docker.io/library",
                "docker.io",
                "*.io"
            ]
        );
        let scopes = docker("docker://registry.example.com:5000/ns/app@sha256:0123456789012345678901234567890123456789012345678901234567890123");
        assert_eq!(
            scopes.identity,
            "registry.example.com:5000/ns/app@sha256:0123456789012345678901234567890123456789012345678901234567890123"
        );
        assert_eq!(
            scopes.namespaces,
            [
                "registry.example.com:5000/ns/app",
                "registry.example.com:5000/ns",
                "registry.example.com:5000",
                "*.example.com",
                "*.com"
            ]
        );
    }

    #[test]
    fn path_scopes_are_resolved_with_their_parents() {
        let root = tempfile::tempdir().unwrap();
        let real = root.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, root.path().join("link")).unwrap();
        let real_text = real.canonicalize().unwrap().to_str().unwrap().to_string();
        let through_link = format!("{}/link/image", root.path().display());

        let dir = ImageScopes::of(
            &ImageName::parse(&format!("dir:{through_link}")).unwrap(),
            false,
        )
        .unwrap();
        assert_eq!(dir.identity, format!("{real_text}/image"));
        assert_eq!(dir.namespaces[0], real_text);
        assert!(!dir.namespaces.contains(&"/".to_string()));

        let oci = ImageScopes::of(
            &ImageName::parse(&format!("oci:{through_link}:tag")).unwrap(),
            false,
        )
        .unwrap();
        assert_eq!(oci.identity, format!("{real_text}/image"));
        assert_eq!(oci.namespaces[0], oci.identity);
        assert_eq!(oci.namespaces[1], real_text);
    }

    #[test]
    fn archives_only_have_the_transport_scope() {
        let root = tempfile::tempdir().unwrap();
        let archive = root.path().join("a.tar");
        let scopes = ImageScopes::of(
            &ImageName::parse(&format!("docker-archive:{}", archive.display())).unwrap(),
            true,
        )
        .unwrap();
        assert_eq!(scopes, ImageScopes::none());
    }

    #[test]
    fn storage_with_specific_scopes_fails_closed() {
        let name = ImageName::parse("containers-storage:busybox").unwrap();
        assert!(ImageScopes::of(&name, true).is_err());
        assert_eq!(ImageScopes::of(&name, false).unwrap(), ImageScopes::none());
    }

    #[test]
    fn ostree_scopes_are_repo_and_image_prefixes() {
        let scopes = ImageScopes::of(&ImageName::parse("ostree:a/b:1").unwrap(), true).unwrap();
        assert_eq!(scopes.identity, "/ostree/repo:a/b:1");
        assert_eq!(scopes.namespaces, ["/ostree/repo:a/b", "/ostree/repo:a"]);
    }
}
