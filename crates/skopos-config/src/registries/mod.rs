//! containers-registries.conf(5): which registry entries apply to an image reference, how
//! pulls are redirected to mirrors and rewritten locations, and which registries are
//! insecure or blocked, as containers/image `pkg/sysregistriesv2` does.
//!
//! [`RegistriesConfSearch`] decides which files are read; [`load`] parses, validates and
//! merges them (main file, then `registries.conf.d/*.conf` drop-ins in name order); the
//! resulting [`RegistriesConf`] answers lookups ([`RegistriesConf::resolve`]).

mod parse;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use skopos_core::go::text::go_quote;
use skopos_core::reference::DockerReference;

pub use parse::load;

/// The built-in system-wide file.
pub const SYSTEM_REGISTRIES_CONF: &str = "/etc/containers/registries.conf";
/// The built-in system-wide drop-in directory.
pub const SYSTEM_REGISTRIES_CONF_DIR: &str = "/etc/containers/registries.conf.d";

/// The inputs that decide which registries.conf files are read, all injectable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistriesConfSearch {
    /// `--registries-conf` (containers/image `SystemRegistriesConfPath`): used instead of the
    /// default main file and must exist; drop-ins are still read.
    pub explicit: Option<PathBuf>,
    /// `$CONTAINERS_REGISTRIES_CONF`: used instead of the default main file, without
    /// drop-ins. (skopeo 1.9.3 ignores this variable; callers decide whether to pass it.)
    pub env_override: Option<PathBuf>,
    /// `$HOME`: the per-user file is `~/.config/containers/registries.conf`, with its
    /// drop-ins in `~/.config/containers/registries.conf.d`.
    pub home: Option<PathBuf>,
    /// The system file, normally [`SYSTEM_REGISTRIES_CONF`].
    pub system_file: PathBuf,
    /// The system drop-in directory, normally [`SYSTEM_REGISTRIES_CONF_DIR`].
    pub system_drop_in_dir: PathBuf,
}

impl RegistriesConfSearch {
    /// The standard locations for this home directory and overrides.
    pub fn new(
        home: Option<PathBuf>,
        explicit: Option<PathBuf>,
        env_override: Option<PathBuf>,
    ) -> RegistriesConfSearch {
        RegistriesConfSearch {
            explicit,
            env_override,
            home,
            system_file: PathBuf::from(SYSTEM_REGISTRIES_CONF),
            system_drop_in_dir: PathBuf::from(SYSTEM_REGISTRIES_CONF_DIR),
        }
    }

    fn user_file(&self) -> Option<PathBuf> {
        self.home
            .as_ref()
            .map(|home| home.join(".config/containers/registries.conf"))
    }

    fn user_drop_in_dir(&self) -> Option<PathBuf> {
        self.home
            .as_ref()
            .map(|home| home.join(".config/containers/registries.conf.d"))
    }

    /// The files to read: an explicit file (drop-ins from the system and user directories
    /// still apply); else the override variable (no drop-ins); else the per-user file if it
    /// exists (only user drop-ins); else the system file (system, then user drop-ins).
    pub fn sources(&self) -> RegistriesConfSources {
        let user_dir = self.user_drop_in_dir();
        if let Some(explicit) = &self.explicit {
            return RegistriesConfSources {
                main_file: explicit.clone(),
                main_file_required: true,
                drop_in_dirs: [Some(self.system_drop_in_dir.clone()), user_dir.clone()]
                    .into_iter()
                    .flatten()
                    .collect(),
                message_dir: user_dir.unwrap_or_else(|| self.system_drop_in_dir.clone()),
            };
        }
        if let Some(env_override) = &self.env_override {
            return RegistriesConfSources {
                main_file: env_override.clone(),
                main_file_required: true,
                drop_in_dirs: Vec::new(),
                message_dir: PathBuf::new(),
            };
        }
        if let (Some(user_file), Some(user_dir)) = (self.user_file(), user_dir.clone()) {
            if user_file.exists() {
                return RegistriesConfSources {
                    main_file: user_file,
                    main_file_required: false,
                    drop_in_dirs: vec![user_dir.clone()],
                    message_dir: user_dir,
                };
            }
        }
        RegistriesConfSources {
            main_file: self.system_file.clone(),
            main_file_required: false,
            drop_in_dirs: [Some(self.system_drop_in_dir.clone()), user_dir.clone()]
                .into_iter()
                .flatten()
                .collect(),
            message_dir: user_dir.unwrap_or_else(|| self.system_drop_in_dir.clone()),
        }
    }
}

/// The files one configuration is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistriesConfSources {
    /// The main file.
    pub main_file: PathBuf,
    /// Whether a missing main file is an error (explicitly chosen) or an empty configuration.
    pub main_file_required: bool,
    /// Directories whose `*.conf` files are merged over the main file, in this order.
    pub drop_in_dirs: Vec<PathBuf>,
    /// The directory named in messages (containers/image `ConfigDirPath`).
    pub message_dir: PathBuf,
}

/// When a mirror may be used (`pull-from-mirror`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullFromMirror {
    /// For pulls by tag and by digest (`all`, or unset).
    #[default]
    All,
    /// Only for pulls by digest.
    DigestOnly,
    /// Only for pulls by tag.
    TagOnly,
}

/// A `[[registry.mirror]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// Where to pull from instead (`host[:port][/namespace…]`).
    pub location: String,
    /// Plain HTTP and unverified TLS allowed.
    pub insecure: bool,
    /// `pull-from-mirror`: which pulls may use this mirror.
    pub pull_from_mirror: PullFromMirror,
}

/// A `[[registry]]` entry, after validation (prefix defaulted to the location).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// What the entry matches: `host[:port][/namespace…]` or `*.domain`.
    pub prefix: String,
    /// What the matched prefix is rewritten to; empty only for a wildcard prefix (no rewrite).
    pub location: String,
    /// `insecure`: plain HTTP and unverified TLS allowed for the location.
    pub insecure: bool,
    /// `blocked`: pulling from this registry is refused.
    pub blocked: bool,
    /// `mirror-by-digest-only`: the mirrors serve pulls by digest only (a mirror may then
    /// not set its own `pull-from-mirror`).
    pub mirror_by_digest_only: bool,
    /// The `[[registry.mirror]]` entries, tried in order before the location.
    pub mirrors: Vec<Mirror>,
}

/// The merged configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistriesConf {
    /// Registry entries, one per prefix, sorted by prefix.
    pub registries: Vec<Registry>,
    /// `unqualified-search-registries` (skopeo never uses it: docker references are always
    /// qualified, but `login` without an argument would).
    pub unqualified_search_registries: Vec<String>,
    /// `credential-helpers`, defaulting to `["containers-auth.json"]`.
    pub credential_helpers: Vec<String>,
    /// `short-name-mode`, if set (validated: `disabled`, `enforcing` or `permissive`).
    pub short_name_mode: Option<String>,
    /// The files it came from, for messages.
    pub sources: RegistriesConfSources,
}

/// One place to try when pulling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSource {
    /// The reference to pull there (prefix rewritten to the endpoint's location).
    pub reference: DockerReference,
    /// Whether plain HTTP / unverified TLS is allowed: the endpoint's own `insecure`, or
    /// that of the registry entry the rewritten reference falls under.
    pub insecure: bool,
    /// Whether this is a mirror (rather than the registry's primary location).
    pub is_mirror: bool,
}

/// Everything registries.conf says about one image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedReference {
    /// The prefix of the registry entry that applies, if any.
    pub prefix: Option<String>,
    /// Where to pull from, in order: the usable mirrors, then the primary location.
    pub pull_sources: Vec<PullSource>,
    /// Where to push: the reference itself (mirrors and rewrites apply to pulls only).
    pub push_reference: DockerReference,
    /// Whether the reference's own registry is insecure (for pushes and the primary).
    pub insecure: bool,
    /// Whether the entry is `blocked` ([`RegistriesConf::blocked_message`] says so).
    pub blocked: bool,
}

/// A registries.conf problem, or a reference the configuration cannot rewrite.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistriesError {
    /// A file that cannot be read or is invalid; the message names the file.
    #[error("{0}")]
    InvalidFile(String),
    /// The configuration rewrites a reference into something that is not a reference.
    #[error("rewriting reference: {0}")]
    Rewrite(String),
    /// The input is not a docker reference.
    #[error("{0}")]
    InvalidReference(String),
}

/// The length of the part of `reference` (a name or full reference string) that `prefix`
/// matches, as containers/image `refMatchingPrefix`: a plain prefix must end at a `:`, `/`
/// or `@`; `*.domain` matches any subdomain within the host part.
fn matching_prefix_len(reference: &str, prefix: &str) -> Option<usize> {
    if let Some(suffix) = prefix.strip_prefix('*') {
        if !suffix.starts_with('.') {
            return plain_prefix_len(reference, prefix);
        }
        let index = reference.find(suffix)?;
        if reference[..index].contains('/') {
            return None;
        }
        let end = index + suffix.len();
        return match reference.as_bytes().get(end) {
            None => Some(end),
            Some(b':' | b'/' | b'@') => Some(end),
            Some(_) => None,
        };
    }
    plain_prefix_len(reference, prefix)
}

fn plain_prefix_len(reference: &str, prefix: &str) -> Option<usize> {
    let rest = reference.strip_prefix(prefix)?;
    // As containers/image, "example.com:5000" matches the prefix "example.com".
    match rest.as_bytes().first() {
        None | Some(b':' | b'/' | b'@') => Some(prefix.len()),
        Some(_) => None,
    }
}

impl RegistriesConf {
    /// An empty configuration (no files), as when none exist.
    pub fn empty(sources: RegistriesConfSources) -> RegistriesConf {
        RegistriesConf {
            registries: Vec::new(),
            unqualified_search_registries: Vec::new(),
            credential_helpers: vec![crate::auth::AUTH_FILE_HELPER.to_string()],
            short_name_mode: None,
            sources,
        }
    }

    /// The entry with the longest prefix matching `name` (`host[:port]/path`, or a full
    /// reference string), as containers/image `FindRegistry`.
    pub fn find_registry(&self, name: &str) -> Option<&Registry> {
        let mut best: Option<&Registry> = None;
        for registry in &self.registries {
            if matching_prefix_len(name, &registry.prefix).is_some()
                && best.is_none_or(|current| registry.prefix.len() > current.prefix.len())
            {
                best = Some(registry);
            }
        }
        best
    }

    /// The error text for a pull or push through a blocked entry.
    pub fn blocked_message(&self, prefix: &str) -> String {
        format!(
            "registry {prefix} is blocked in {} or {}",
            self.sources.main_file.display(),
            self.sources.message_dir.display()
        )
    }

    /// Parses `reference` (`domain/path[:tag][@digest]`, normalized as docker does) and
    /// resolves it.
    pub fn resolve_str(&self, reference: &str) -> Result<ResolvedReference, RegistriesError> {
        let parsed = DockerReference::parse_normalized(reference)
            .map_err(|err| RegistriesError::InvalidReference(err.to_string()))?;
        self.resolve(&parsed)
    }

    /// The pull sources, push reference and flags for `reference`.
    pub fn resolve(
        &self,
        reference: &DockerReference,
    ) -> Result<ResolvedReference, RegistriesError> {
        let Some(registry) = self.find_registry(&reference.name()) else {
            return Ok(ResolvedReference {
                prefix: None,
                pull_sources: vec![PullSource {
                    reference: reference.clone(),
                    insecure: false,
                    is_mirror: false,
                }],
                push_reference: reference.clone(),
                insecure: false,
                blocked: false,
            });
        };
        let is_digested = reference.digest().is_some();
        let mirrors = registry.mirrors.iter().filter(|mirror| {
            if registry.mirror_by_digest_only {
                return is_digested;
            }
            match mirror.pull_from_mirror {
                PullFromMirror::All => true,
                PullFromMirror::DigestOnly => is_digested,
                PullFromMirror::TagOnly => !is_digested,
            }
        });
        let mut pull_sources = Vec::new();
        for mirror in mirrors {
            pull_sources.push(self.pull_source(
                registry,
                reference,
                &mirror.location,
                mirror.insecure,
                true,
            )?);
        }
        pull_sources.push(self.pull_source(
            registry,
            reference,
            &registry.location,
            registry.insecure,
            false,
        )?);
        Ok(ResolvedReference {
            prefix: Some(registry.prefix.clone()),
            pull_sources,
            push_reference: reference.clone(),
            insecure: registry.insecure,
            blocked: registry.blocked,
        })
    }

    fn pull_source(
        &self,
        registry: &Registry,
        reference: &DockerReference,
        location: &str,
        endpoint_insecure: bool,
        is_mirror: bool,
    ) -> Result<PullSource, RegistriesError> {
        let rewritten = rewrite_reference(reference, &registry.prefix, location)?;
        let insecure = endpoint_insecure
            || self
                .find_registry(&rewritten.name())
                .is_some_and(|entry| entry.insecure);
        Ok(PullSource {
            reference: rewritten,
            insecure,
            is_mirror,
        })
    }
}

/// `reference` with the part matched by `prefix` replaced by `location` (unchanged for an
/// empty location, which only wildcard entries have).
fn rewrite_reference(
    reference: &DockerReference,
    prefix: &str,
    location: &str,
) -> Result<DockerReference, RegistriesError> {
    let full = reference.to_string();
    let matched = matching_prefix_len(&full, prefix).ok_or_else(|| {
        RegistriesError::Rewrite(format!("invalid prefix '{prefix}' for reference '{full}'"))
    })?;
    if location.is_empty() {
        return Ok(reference.clone());
    }
    let rewritten = format!("{location}{}", &full[matched..]);
    let parsed = DockerReference::parse_normalized(&rewritten)
        .map_err(|err| RegistriesError::Rewrite(err.to_string()))?;
    // Like Go's reference.ParseNamed, the result must already be in canonical form.
    if parsed.to_string() != rewritten {
        return Err(RegistriesError::Rewrite(format!(
            "repository name must be canonical: {}",
            go_quote(&rewritten)
        )));
    }
    Ok(parsed)
}

/// A path for messages, quoted as Go's `%q`.
fn quoted(path: &Path) -> String {
    go_quote(&path.display().to_string())
}
