//! The docker reference grammar (github.com/distribution/reference, as forked into
//! containers/image v5.23 `docker/reference`), with docker.io normalization.
//!
//! This is the grammar of skopeo 1.9.3: a path-component separator is `.`, `_`, `__` or
//! any run of `-` (including none); domains are host names with an optional port, with
//! no IPv6 literals; tags are `[\w][\w.-]{0,127}`; a reference may carry both a tag and
//! a digest.

use std::fmt;

use super::go_digest::parse_go_digest;
use crate::digest::Digest;
use crate::Result;

/// The longest `domain/path` name accepted.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";

// The grammar of distribution/reference's regexp.go, matched by hand: the patterns are
// constants, and a regex engine for them cost start-up time on every run and hundreds of
// KB of code in the binary. Every matcher works on bytes and accepts ASCII only, as Go's classes (`\w`,
// `[a-z]`) do; `grammar_equivalence` tests them against the regexes they replace.

/// Whether `s` is a full (64 lowercase hex) image ID.
pub fn is_full_image_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The parts of a reference that `ReferenceRegexp` captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ReferenceParts<'a> {
    pub(super) name: &'a str,
    pub(super) tag: Option<&'a str>,
    pub(super) digest: Option<&'a str>,
}

/// `ReferenceRegexp` = name (`:` tag)? (`@` digest)?, anchored at both ends.
pub(super) fn match_reference(s: &str) -> Option<ReferenceParts<'_>> {
    // Neither the name, the tag nor the digest holds an '@': the first one starts the digest.
    let (before_digest, digest) = match s.split_once('@') {
        Some((before, digest)) => (before, Some(digest)),
        None => (s, None),
    };
    // A tag holds neither ':' nor '/', while the only ':' a name may hold (a port) is
    // followed by a '/': so a last ':' with no '/' after it is where the tag starts.
    let (name, tag) = match before_digest.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (before_digest, None),
    };
    let valid = split_docker_name(name).is_some()
        && tag.is_none_or(is_tag)
        && digest.is_none_or(is_reference_digest);
    valid.then_some(ReferenceParts { name, tag, digest })
}

/// `anchoredNameRegexp` = (domain `/`)? path: `Some((domain, path))` when `name` is a
/// repository name, with an empty domain when the first component cannot be one. Like
/// the regex's greedy `?`, a first component that is a valid domain is taken as one.
pub fn split_docker_name(name: &str) -> Option<(&str, &str)> {
    if let Some((domain, path)) = name.split_once('/') {
        if is_docker_domain(domain) && is_path(path) {
            return Some((domain, path));
        }
    }
    is_path(name).then_some(("", name))
}

/// `domain` = domain-component (`.` domain-component)* (`:` `[0-9]+`)?: a host name with
/// an optional port (containers/image v5.23 has no IPv6 literals).
pub fn is_docker_domain(domain: &str) -> bool {
    let (host, port) = match domain.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    host.split('.').all(is_domain_component)
        && port.is_none_or(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
}

/// `domain-component` = `[a-zA-Z0-9]` | `[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
fn is_domain_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    first != b'-'
        && last != b'-'
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `path` = path-component (`/` path-component)*.
fn is_path(path: &str) -> bool {
    path.split('/').all(is_path_component)
}

/// `path-component` = alpha-numeric (separator alpha-numeric)*, where alpha-numeric is
/// `[a-z0-9]+` and separator is `.`, `_`, `__` or any run of `-` (`[-]*`, so none too).
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let is_alphanumeric = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    bytes.first().is_some_and(is_alphanumeric)
        && bytes.last().is_some_and(is_alphanumeric)
        && bytes.split(is_alphanumeric).all(|separator| {
            matches!(separator, b"." | b"_" | b"__") || separator.iter().all(|&b| b == b'-')
        })
}

/// `tag` = `[\w][\w.-]{0,127}`, with Go's ASCII-only `\w`.
pub(super) fn is_tag(tag: &str) -> bool {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    bytes.len() <= 128
        && bytes.first().is_some_and(|&b| is_word(b))
        && bytes.iter().all(|&b| is_word(b) || b == b'.' || b == b'-')
}

/// `digest` = algorithm `:` `[[:xdigit:]]{32,}`, where algorithm is
/// algorithm-component (`[-_+.]` algorithm-component)* and an algorithm-component is
/// `[A-Za-z][A-Za-z0-9]*`.
fn is_reference_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let is_algorithm_component = |component: &str| {
        component
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphabetic)
            && component.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    algorithm
        .split(['-', '_', '+', '.'])
        .all(is_algorithm_component)
        && hex.len() >= 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A normalized docker reference: `domain/path[:tag][@digest]`.
///
/// The domain is empty only in the corner case that distribution/reference also allows:
/// a first component with a `.` that is a valid path component but not a valid host
/// name (`foo_bar.com/x`), which then stays part of the path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DockerReference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl DockerReference {
    /// Parse and normalize (`busybox` → `docker.io/library/busybox`), as Go's
    /// `reference.ParseNormalizedNamed`. No default tag is added. Errors carry Go's text,
    /// e.g. `invalid reference format: repository name must be lowercase`.
    pub fn parse_normalized(input: &str) -> Result<DockerReference> {
        if is_full_image_id(input) {
            anyhow::bail!(
                "invalid repository name ({input}), cannot specify 64-byte hexadecimal strings"
            );
        }
        let (domain, remainder) = split_docker_domain(input);
        let remote_name = remainder.split(':').next().unwrap_or_default();
        if remote_name.to_lowercase() != remote_name {
            anyhow::bail!("invalid reference format: repository name must be lowercase");
        }
        parse_reference(&format!("{domain}/{remainder}"))
    }

    /// The registry host (with port), e.g. `docker.io`, `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the registry, e.g. `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `domain/path` (Go's `Name()`).
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The tag (`latest` in `busybox:latest`), if the reference has one.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest (`busybox@sha256:…`), if the reference has one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// Whether there is neither a tag nor a digest (Go's `IsNameOnly`).
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// With `latest` added when there is neither a tag nor a digest (docker's `TagNameOnly`).
    pub fn with_default_tag(mut self) -> DockerReference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some("latest".to_string());
        }
        self
    }

    /// The name alone, without tag or digest (Go's `TrimNamed`).
    pub fn name_only(&self) -> DockerReference {
        DockerReference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: None,
        }
    }

    /// With `tag` set, keeping any digest (Go's `WithTag`); fails with Go's
    /// `invalid tag format` when `tag` is not `[\w][\w.-]{0,127}`.
    pub fn with_tag(&self, tag: &str) -> Result<DockerReference> {
        if !is_tag(tag) {
            anyhow::bail!("invalid tag format");
        }
        Ok(DockerReference {
            tag: Some(tag.to_string()),
            ..self.clone()
        })
    }

    /// With `digest` set, keeping any tag (Go's `WithDigest`).
    pub fn with_digest(&self, digest: Digest) -> DockerReference {
        DockerReference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The name as docker users write it (Go's `FamiliarName`): `docker.io/` dropped, and
    /// `library/` too for official images, e.g. `busybox`, `foo/bar`, `quay.io/x/y`.
    pub fn familiar_name(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return self.name();
        }
        match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(image) if !image.contains('/') => image.to_string(),
            _ => self.path.clone(),
        }
    }

    /// The familiar name with tag and digest (Go's `FamiliarString`), e.g. `busybox:latest`:
    /// what skopeo prints for `docker://` and `docker-daemon:` references.
    pub fn familiar_string(&self) -> String {
        let mut out = self.familiar_name();
        self.push_tag_and_digest(&mut out);
        out
    }

    fn push_tag_and_digest(&self, out: &mut String) {
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(&digest.to_string());
        }
    }
}

impl fmt::Display for DockerReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = self.name();
        self.push_tag_and_digest(&mut out);
        f.write_str(&out)
    }
}

/// Go's `splitDockerDomain`: the first component is a domain only if it contains `.` or
/// `:` or is `localhost`; `index.docker.io` becomes `docker.io`; single-component
/// docker.io names get `library/`.
fn split_docker_domain(name: &str) -> (&str, String) {
    let (mut domain, remainder) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first, rest),
        _ => (DEFAULT_DOMAIN, name),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN;
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        return (domain, format!("{OFFICIAL_REPO_PREFIX}{remainder}"));
    }
    (domain, remainder.to_string())
}

/// Go's `reference.Parse` for a string that always has a name.
pub(super) fn parse_reference(s: &str) -> Result<DockerReference> {
    let Some(parts) = match_reference(s) else {
        if match_reference(&s.to_lowercase()).is_some() {
            anyhow::bail!("repository name must be lowercase");
        }
        anyhow::bail!("invalid reference format");
    };
    if parts.name.len() > NAME_TOTAL_LENGTH_MAX {
        anyhow::bail!("repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters");
    }
    let (domain, path) = split_docker_name(parts.name).unwrap_or(("", parts.name));
    let digest = match parts.digest {
        Some(digest) => Some(parse_go_digest(digest).map_err(anyhow::Error::new)?),
        None => None,
    };
    Ok(DockerReference {
        domain: domain.to_string(),
        path: path.to_string(),
        tag: parts.tag.map(str::to_string),
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn parse(s: &str) -> DockerReference {
        DockerReference::parse_normalized(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn parse_err(s: &str) -> String {
        match DockerReference::parse_normalized(s) {
            Ok(r) => panic!("{s} parsed as {r}"),
            Err(e) => e.to_string(),
        }
    }

    /// (input, domain, path, tag, digest hex)
    #[test]
    fn normalizes_like_docker() {
        let cases: &[(&str, &str, &str, Option<&str>)] = &[
            ("busybox", "docker.io", "library/busybox", None),
            ("library/busybox", "docker.io", "library/busybox", None),
            ("docker.io/busybox", "docker.io", "library/busybox", None),
            (
                "index.docker.io/busybox",
                "docker.io",
                "library/busybox",
                None,
            ),
            ("index.docker.io/foo/bar", "docker.io", "foo/bar", None),
            ("foo/bar", "docker.io", "foo/bar", None),
            (
                "foo/bar/baz/qux:t",
                "docker.io",
                "foo/bar/baz/qux",
                Some("t"),
            ),
            ("Foo.com/bar", "Foo.com", "bar", None),
            ("foo.com:5000/bar:tag", "foo.com:5000", "bar", Some("tag")),
            ("localhost/x", "localhost", "x", None),
            ("localhost:5000/x", "localhost:5000", "x", None),
            ("localhos/x", "docker.io", "localhos/x", None),
            (
                "registry-1.docker.io/foo",
                "registry-1.docker.io",
                "foo",
                None,
            ),
            ("a_b/c", "docker.io", "a_b/c", None),
            ("a__b", "docker.io", "library/a__b", None),
            ("a--b", "docker.io", "library/a--b", None),
            ("a-b/c", "docker.io", "a-b/c", None),
            ("a.b", "docker.io", "library/a.b", None),
            ("localhost", "docker.io", "library/localhost", None),
            (
                "localhost:5000",
                "docker.io",
                "library/localhost",
                Some("5000"),
            ),
            ("docker.io", "docker.io", "library/docker.io", None),
            ("docker.io/library", "docker.io", "library/library", None),
            ("busybox:Tag", "docker.io", "library/busybox", Some("Tag")),
            ("busybox:_tag", "docker.io", "library/busybox", Some("_tag")),
        ];
        for &(input, domain, path, tag) in cases {
            let r = parse(input);
            assert_eq!(r.domain(), domain, "{input}");
            assert_eq!(r.path(), path, "{input}");
            assert_eq!(r.tag(), tag, "{input}");
            assert_eq!(r.digest(), None, "{input}");
        }
    }

    #[test]
    fn a_first_component_that_is_no_host_name_stays_in_the_path() {
        let r = parse("foo_bar.com/x");
        assert_eq!(r.domain(), "");
        assert_eq!(r.path(), "foo_bar.com/x");
        assert_eq!(r.name(), "foo_bar.com/x");
        assert_eq!(r.to_string(), "foo_bar.com/x");
        assert_eq!(r.familiar_string(), "foo_bar.com/x");
    }

    #[test]
    fn digests_and_tags() {
        let r = parse(&format!("busybox@sha256:{HEX}"));
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest().map(|d| d.hex()), Some(HEX));
        assert_eq!(
            r.to_string(),
            format!("docker.io/library/busybox@sha256:{HEX}")
        );

        let both = parse(&format!("foo.com/bar:Tag@sha256:{HEX}"));
        assert_eq!(both.tag(), Some("Tag"));
        assert!(both.digest().is_some());
        assert_eq!(both.to_string(), format!("foo.com/bar:Tag@sha256:{HEX}"));

        let long_tag = "a".repeat(128);
        assert_eq!(
            parse(&format!("busybox:{long_tag}")).tag(),
            Some(&*long_tag)
        );
        // A 64-hex component is only refused as a whole name.
        assert_eq!(parse(&format!("x/{HEX}")).path(), format!("x/{HEX}"));
    }

    #[test]
    fn name_length_limit_counts_the_normalized_name() {
        // docker.io/library/ is 18 characters.
        assert_eq!(parse(&"a".repeat(237)).name().len(), 255);
        assert_eq!(
            parse_err(&"a".repeat(238)),
            "repository name must not be more than 255 characters"
        );
        assert_eq!(
            parse_err(&format!("docker.io/library/{}", "a".repeat(238))),
            "repository name must not be more than 255 characters"
        );
    }

    /// Errors as skopeo 1.9.3 printed them for `docker://<input>`.
    #[test]
    fn rejections_carry_go_messages() {
        let upper_hex = HEX.to_uppercase();
        let cases: Vec<(String, &str)> = vec![
            ("".into(), "invalid reference format"),
            ("a___b".into(), "invalid reference format"),
            ("a-b-".into(), "invalid reference format"),
            ("a..b".into(), "invalid reference format"),
            ("busybox:.tag".into(), "invalid reference format"),
            ("busybox:-tag".into(), "invalid reference format"),
            ("busybox:".into(), "invalid reference format"),
            ("busybox@".into(), "invalid reference format"),
            ("busybox::".into(), "invalid reference format"),
            ("ba@r".into(), "invalid reference format"),
            (format!("busybox:{}", "a".repeat(129)), "invalid reference format"),
            ("foo:bar:baz".into(), "invalid reference format"),
            ("-foo/bar".into(), "invalid reference format"),
            ("foo-/bar".into(), "invalid reference format"),
            ("/foo".into(), "invalid reference format"),
            ("foo/".into(), "invalid reference format"),
            ("foo//bar".into(), "invalid reference format"),
            ("//x".into(), "invalid reference format"),
            ("foo.com:/x".into(), "invalid reference format"),
            ("foo.com:5000:6000/x".into(), "invalid reference format"),
            ("foo_bar:5000/x".into(), "invalid reference format"),
            ("[::1]:5000/foo".into(), "invalid reference format"),
            ("ünï".into(), "invalid reference format"),
            ("busybox@sha256:abc".into(), "invalid reference format"),
            (format!("busybox@sha256:{HEX}:x"), "invalid reference format"),
            (
                "Busybox".into(),
                "invalid reference format: repository name must be lowercase",
            ),
            (
                "FOO/bar".into(),
                "invalid reference format: repository name must be lowercase",
            ),
            (
                "foo/Bar:tag".into(),
                "invalid reference format: repository name must be lowercase",
            ),
            (
                "localhost:5000/Foo".into(),
                "invalid reference format: repository name must be lowercase",
            ),
            (
                "foo.com/Bar".into(),
                "invalid reference format: repository name must be lowercase",
            ),
            (
                format!("busybox@SHA256:{HEX}"),
                "invalid reference format: repository name must be lowercase",
            ),
            (
                format!("busybox@sha256:{}", &HEX[..32]),
                "invalid checksum digest length",
            ),
            (
                format!("busybox@sha512:{HEX}"),
                "invalid checksum digest length",
            ),
            (
                format!("busybox@sha256:{HEX}0"),
                "invalid checksum digest length",
            ),
            (
                format!("busybox@sha256:{upper_hex}"),
                "invalid checksum digest format",
            ),
            (
                format!("busybox@foo:{}", &HEX[..32]),
                "unsupported digest algorithm",
            ),
            (format!("busybox@a.b+c:{HEX}"), "unsupported digest algorithm"),
            (
                HEX.into(),
                "invalid repository name (0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef), cannot specify 64-byte hexadecimal strings",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(parse_err(&input), message, "{input}");
        }
    }

    #[test]
    fn uppercase_outside_the_repository_name_is_reported_by_the_grammar() {
        // A first component with a '.' is taken as the domain, so the remote-name check
        // passes; the grammar then refuses it as a host name and as a lowercase path.
        assert_eq!(
            parse_err("Foo_bar.com/x"),
            "repository name must be lowercase"
        );
        // The algorithm part of a digest after a tag escapes the remote-name check too.
        assert_eq!(
            parse_err(&format!("busybox:tag@SHA256:{HEX}")),
            "invalid checksum digest format"
        );
    }

    #[test]
    fn familiar_forms_drop_the_default_domain() {
        assert_eq!(parse("busybox").familiar_name(), "busybox");
        assert_eq!(
            parse("docker.io/library/busybox:1").familiar_string(),
            "busybox:1"
        );
        assert_eq!(parse("foo/bar").familiar_name(), "foo/bar");
        assert_eq!(parse("library/a/b").familiar_name(), "library/a/b");
        assert_eq!(
            parse("localhost:5000/a/b:t").familiar_string(),
            "localhost:5000/a/b:t"
        );
        assert_eq!(
            parse(&format!("busybox@sha256:{HEX}")).familiar_string(),
            format!("busybox@sha256:{HEX}")
        );
    }

    #[test]
    fn tags_and_digests_can_be_replaced() {
        let digest: Digest = format!("sha256:{HEX}").parse().unwrap();
        let tagged = parse("quay.io/a/b:1");
        assert_eq!(tagged.name_only().to_string(), "quay.io/a/b");
        assert_eq!(tagged.with_tag("v2").unwrap().to_string(), "quay.io/a/b:v2");
        assert_eq!(
            tagged.with_digest(digest.clone()).to_string(),
            format!("quay.io/a/b:1@sha256:{HEX}")
        );
        assert_eq!(
            tagged
                .name_only()
                .with_digest(digest)
                .with_tag("t")
                .unwrap()
                .to_string(),
            format!("quay.io/a/b:t@sha256:{HEX}")
        );
        for bad in ["", ".x", "-x", "a/b", &"a".repeat(129)] {
            assert_eq!(
                tagged.with_tag(bad).unwrap_err().to_string(),
                "invalid tag format",
                "{bad}"
            );
        }
    }

    #[test]
    fn default_tag_only_when_name_only() {
        let r = parse("busybox");
        assert!(r.is_name_only());
        assert_eq!(r.with_default_tag().tag(), Some("latest"));
        let digested = parse(&format!("busybox@sha256:{HEX}")).with_default_tag();
        assert_eq!(digested.tag(), None);
        assert_eq!(parse("busybox:1").with_default_tag().tag(), Some("1"));
    }
}
