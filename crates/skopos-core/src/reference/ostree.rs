//! `ostree:IMAGE[@/absolute/repo/path]`: an image in a local OSTree repository, parsed as
//! containers/image's `ostree` transport (last shipped in skopeo 1.17) parsed it.
//!
//! The image part is not really a docker reference: it is checked with the docker grammar
//! (so that a name without a tag gets `:latest`) but kept as written, and it names the
//! repository branch `ociimage/<escaped image>`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::reference::{resolve_path_to_fully_explicit, DockerReference};
use crate::Result;

/// The repository an `ostree:` reference without `@/path` uses.
pub const DEFAULT_OSTREE_REPO: &str = "/ostree/repo";

/// The namespace of every branch the transport writes.
const BRANCH_PREFIX: &str = "ociimage/";

/// An image in an OSTree repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OstreeReference {
    /// The image as written, with `:latest` added when it had neither tag nor digest.
    image: String,
    /// The repository: absolute and symlink-free.
    repo: PathBuf,
}

impl OstreeReference {
    /// Parse the part after `ostree:`, with containers/image's rules and messages. The
    /// repository path is resolved now, so its parent must exist (the default repository
    /// excepted).
    pub fn parse(within: &str) -> Result<OstreeReference> {
        let (image, repo) = match within.split_once("@/") {
            Some((image, repo)) => (image, format!("/{repo}")),
            None => (within, DEFAULT_OSTREE_REPO.to_string()),
        };
        let parsed = DockerReference::parse_normalized(image)?;
        let image = if parsed.is_name_only() {
            format!("{image}:latest")
        } else {
            image.to_string()
        };
        let resolved = match resolve_path_to_fully_explicit(&repo) {
            Ok(resolved) => resolved,
            // A missing default repository is not a parse error: opening it says what is wrong.
            Err(_) if repo == DEFAULT_OSTREE_REPO && !parent_exists(Path::new(&repo)) => {
                PathBuf::from(DEFAULT_OSTREE_REPO)
            }
            Err(err) => return Err(err),
        };
        // A colon would make the policy scopes `REPO:IMAGE` ambiguous.
        if resolved.to_string_lossy().contains(':') {
            anyhow::bail!(
                "Invalid OSTree reference {image}@{repo}: path {} contains a colon",
                resolved.display()
            );
        }
        Ok(OstreeReference {
            image,
            repo: resolved,
        })
    }

    /// The image name as the reference gives it (always with a tag or digest).
    pub fn image(&self) -> &str {
        &self.image
    }

    /// The repository directory.
    pub fn repo(&self) -> &Path {
        &self.repo
    }

    /// The branch that holds the image's manifest: `ociimage/` and the image name with
    /// every byte outside `[A-Za-z0-9.-]` written as `_%02X`.
    pub fn branch(&self) -> String {
        let mut branch = String::from(BRANCH_PREFIX);
        for byte in self.image.bytes() {
            if byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'-' {
                branch.push(char::from(byte));
            } else {
                branch.push_str(&format!("_{byte:02X}"));
            }
        }
        branch
    }

    /// The branch that holds the blob with this hex digest (a layer's files or a config).
    pub fn blob_branch(hex: &str) -> String {
        format!("{BRANCH_PREFIX}{hex}")
    }

    /// The signature-policy identity: `REPO:IMAGE`.
    pub fn policy_identity(&self) -> String {
        format!("{}:{}", self.repo.display(), self.image)
    }

    /// The enclosing policy scopes, most specific first: `REPO:` and the image's
    /// repository name, then each of its `/`-separated parents.
    pub fn policy_namespaces(&self) -> Vec<String> {
        let repo = self.repo.display();
        let mut name = self
            .image
            .split_once(':')
            .map_or(self.image.as_str(), |(name, _)| name);
        let mut namespaces = vec![format!("{repo}:{name}")];
        while let Some((parent, _)) = name.rsplit_once('/') {
            name = parent;
            namespaces.push(format!("{repo}:{name}"));
        }
        namespaces
    }
}

fn parent_exists(path: &Path) -> bool {
    path.parent()
        .is_some_and(|parent| std::fs::symlink_metadata(parent).is_ok())
}

impl fmt::Display for OstreeReference {
    /// containers/image's `StringWithinTransport`: `IMAGE@REPO`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.image, self.repo.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_get_latest_and_escaped_branches() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let reference =
            OstreeReference::parse(&format!("docker.io/lib/busy_box@{}", repo.display())).unwrap();
        assert_eq!(reference.image(), "docker.io/lib/busy_box:latest");
        assert_eq!(
            reference.branch(),
            "ociimage/docker.io_2Flib_2Fbusy_5Fbox_3Alatest"
        );
        assert_eq!(
            reference.repo(),
            dir.path().canonicalize().unwrap().join("repo")
        );
        let resolved = reference.repo().display().to_string();
        assert_eq!(
            reference.policy_namespaces(),
            [
                format!("{resolved}:docker.io/lib/busy_box"),
                format!("{resolved}:docker.io/lib"),
                format!("{resolved}:docker.io"),
            ]
        );
        assert_eq!(
            reference.policy_identity(),
            format!("{resolved}:docker.io/lib/busy_box:latest")
        );
    }

    #[test]
    fn the_default_repository_need_not_exist() {
        let reference = OstreeReference::parse("busybox:1").unwrap();
        assert_eq!(reference.to_string(), "busybox:1@/ostree/repo");
    }

    #[test]
    fn bad_names_and_missing_parents_are_refused() {
        let err = OstreeReference::parse("Busybox").unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid reference format: repository name must be lowercase"
        );
        let err = OstreeReference::parse("busybox@/nonexistent-skopos/x")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "lstat /nonexistent-skopos: no such file or directory");
    }
}
