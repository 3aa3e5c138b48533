//! `signedIdentity` rules (containers/image's `policy_reference_match.go`): whether the
//! identity a signature claims is acceptable for the image being used.

use skopos_core::reference::DockerReference;

use crate::config::ReferenceMatch;

impl ReferenceMatch {
    /// Whether a signature claiming `signed` is acceptable for an image whose own Docker
    /// reference is `image` (`None` for transports without one). Unparseable identities
    /// never match.
    pub fn matches(&self, image: Option<&DockerReference>, signed: &str) -> bool {
        let Ok(signed) = DockerReference::parse_normalized(signed) else {
            return false;
        };
        match self {
            ReferenceMatch::MatchExact => image.is_some_and(|intended| exact(intended, &signed)),
            ReferenceMatch::MatchRepoDigestOrExact => {
                image.is_some_and(|intended| repo_digest_or_exact(intended, &signed))
            }
            ReferenceMatch::MatchRepository => {
                image.is_some_and(|intended| intended.name() == signed.name())
            }
            ReferenceMatch::ExactReference(text) => DockerReference::parse_normalized(text)
                .is_ok_and(|intended| exact(&intended, &signed)),
            ReferenceMatch::ExactRepository(text) => DockerReference::parse_normalized(text)
                .is_ok_and(|intended| intended.name() == signed.name()),
            ReferenceMatch::RemapIdentity {
                prefix,
                signed_prefix,
            } => image
                .and_then(|intended| remap(intended, prefix, signed_prefix))
                .is_some_and(|intended| repo_digest_or_exact(&intended, &signed)),
        }
    }
}

/// Both carry a tag or digest and are the same reference.
fn exact(intended: &DockerReference, signed: &DockerReference) -> bool {
    !intended.is_name_only() && !signed.is_name_only() && intended == signed
}

/// A tagged image needs exactly its reference signed; an image by digest only needs
/// its repository (the digest itself is checked against the manifest).
fn repo_digest_or_exact(intended: &DockerReference, signed: &DockerReference) -> bool {
    if signed.is_name_only() {
        return false;
    }
    if intended.tag().is_some() {
        intended == signed
    } else if intended.digest().is_some() {
        intended.name() == signed.name()
    } else {
        false
    }
}

/// `intended` with `prefix` replaced by `signed_prefix` when its name is `prefix` or
/// lies under it; `None` when the result is not a canonical reference.
fn remap(intended: &DockerReference, prefix: &str, signed_prefix: &str) -> Option<DockerReference> {
    let name = intended.name();
    let under_prefix = match name.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    };
    if !under_prefix {
        return Some(intended.clone());
    }
    let rewritten = intended.to_string().replacen(prefix, signed_prefix, 1);
    // Go's `reference.ParseNamed`: only an already-canonical string is accepted.
    DockerReference::parse_normalized(&rewritten)
        .ok()
        .filter(|parsed| parsed.to_string() == rewritten)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn reference(text: &str) -> DockerReference {
        DockerReference::parse_normalized(text).unwrap()
    }

    fn check(rule: &ReferenceMatch, image: Option<&str>, cases: &[(&str, bool)]) {
        let image = image.map(reference);
        for (signed, expected) in cases {
            assert_eq!(
                rule.matches(image.as_ref(), signed),
                *expected,
                "{rule:?} image {image:?} signed {signed}"
            );
        }
    }

    #[test]
    fn match_exact() {
        let rule = ReferenceMatch::MatchExact;
        check(
            &rule,
            Some("example.com/ns/app:1"),
            &[
                ("example.com/ns/app:1", true),
                ("example.com/ns/app:2", false),
                ("example.com/ns/app", false),
                ("example.com/ns/other:1", false),
                ("Invalid!", false),
            ],
        );
        check(
            &rule,
            Some("busybox:latest"),
            &[("docker.io/library/busybox:latest", true)],
        );
        // A name-only image never matches; nor does an image without a Docker reference.
        check(
            &rule,
            Some("example.com/ns/app"),
            &[("example.com/ns/app", false)],
        );
        check(&rule, None, &[("example.com/ns/app:1", false)]);
    }

    #[test]
    fn match_repo_digest_or_exact() {
        let rule = ReferenceMatch::MatchRepoDigestOrExact;
        check(
            &rule,
            Some("example.com/ns/app:1"),
            &[
                ("example.com/ns/app:1", true),
                ("example.com/ns/app:2", false),
            ],
        );
        let by_digest = format!("example.com/ns/app@{DIGEST}");
        check(
            &rule,
            Some(&by_digest),
            &[
                ("example.com/ns/app:anything", true),
                ("example.com/ns/app", false),
                ("example.com/ns/other:1", false),
            ],
        );
        check(&rule, None, &[("example.com/ns/app:1", false)]);
    }

    #[test]
    fn match_repository() {
        let rule = ReferenceMatch::MatchRepository;
        check(
            &rule,
            Some("example.com/ns/app:1"),
            &[
                ("example.com/ns/app:2", true),
                ("example.com/ns/app", true),
                ("example.com/ns/app2:1", false),
            ],
        );
        check(&rule, None, &[("example.com/ns/app:1", false)]);
    }

    #[test]
    fn exact_reference_ignores_the_image() {
        let rule = ReferenceMatch::ExactReference("example.com/ns/app:1".into());
        for image in [None, Some("other.com/x:y")] {
            check(
                &rule,
                image,
                &[
                    ("example.com/ns/app:1", true),
                    ("example.com/ns/app:2", false),
                ],
            );
        }
    }

    #[test]
    fn exact_repository_ignores_the_image() {
        let rule = ReferenceMatch::ExactRepository("example.com/ns/app".into());
        check(
            &rule,
            None,
            &[
                ("example.com/ns/app:1", true),
                ("example.com/ns/app", true),
                ("example.com/ns/app2:1", false),
            ],
        );
    }

    #[test]
    fn remap_identity() {
        let rule = ReferenceMatch::RemapIdentity {
            prefix: "mirror.example.com/ns".into(),
            signed_prefix: "example.com/upstream".into(),
        };
        check(
            &rule,
            Some("mirror.example.com/ns/app:1"),
            &[
                ("example.com/upstream/app:1", true),
                ("mirror.example.com/ns/app:1", false),
                ("example.com/upstream/app:2", false),
            ],
        );
        // Not under the prefix (only a string prefix of a path component): unchanged.
        check(
            &rule,
            Some("mirror.example.com/nsx/app:1"),
            &[
                ("mirror.example.com/nsx/app:1", true),
                ("example.com/upstreamx/app:1", false),
            ],
        );
        // A remapped name that is not canonical matches nothing.
        let to_docker_hub = ReferenceMatch::RemapIdentity {
            prefix: "mirror.example.com/ns".into(),
            signed_prefix: "docker.io".into(),
        };
        check(
            &to_docker_hub,
            Some("mirror.example.com/ns/busybox:1"),
            &[
                ("docker.io/library/busybox:1", false),
                ("docker.io/busybox:1", false),
            ],
        );
        check(&rule, None, &[("example.com/upstream/app:1", false)]);
    }
}
