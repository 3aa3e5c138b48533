//! containers-registries.d(5): where signatures of registry images are stored apart from
//! the registry ("lookaside" storage), as containers/image's `docker/registries_d.go`
//! reads it: every `*.yaml` file of one directory merged, a `default-docker` section and
//! per-namespace `docker` sections, `lookaside`/`lookaside-staging` and their old names
//! `sigstore`/`sigstore-staging`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use skopos_core::reference::{docker_policy_identity, docker_policy_namespaces, DockerReference};

/// The system-wide configuration directory.
pub const SYSTEM_REGISTRIES_D: &str = "/etc/containers/registries.d";

/// The per-user directory, relative to `$HOME`; used instead of the system one if it exists.
const USER_REGISTRIES_D: &str = ".config/containers/registries.d";

/// Where root's signatures go when nothing is configured.
const DEFAULT_ROOT_LOOKASIDE: &str = "/var/lib/containers/sigstore";

/// Where other users' signatures go when nothing is configured, relative to `$HOME`.
const DEFAULT_USER_LOOKASIDE: &str = ".local/share/containers/sigstore";

/// Errors reading registries.d.
#[derive(Debug, thiserror::Error)]
pub enum RegistriesDError {
    /// The directory or one of its files cannot be read (the whole message, as Go words it).
    #[error("{0}")]
    Io(String),
    /// A file that is not valid YAML for registries.d.
    #[error("parsing {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the YAML parser reported.
        message: String,
    },
    /// Two files both set `default-docker`.
    #[error("Error parsing signature storage configuration: \"default-docker\" defined both in \"{first}\" and \"{second}\"")]
    DuplicateDefault {
        /// The file read first (files are read in name order).
        first: String,
        /// The file that set it again.
        second: String,
    },
    /// Two files both configure the same `docker` namespace.
    #[error("Error parsing signature storage configuration: \"docker\" namespace \"{namespace}\" defined both in \"{first}\" and \"{second}\"")]
    DuplicateNamespace {
        /// The namespace (`host[/repository…]`) configured twice.
        namespace: String,
        /// The file read first (files are read in name order).
        first: String,
        /// The file that configured it again.
        second: String,
    },
}

/// One configuration section (`default-docker` or a `docker` namespace).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct Namespace {
    /// For reading, and for writing when `lookaside-staging` is unset.
    #[serde(default)]
    pub lookaside: Option<String>,
    /// For writing only.
    #[serde(default, rename = "lookaside-staging")]
    pub lookaside_staging: Option<String>,
    /// The old name of `lookaside`.
    #[serde(default)]
    pub sigstore: Option<String>,
    /// The old name of `lookaside-staging`.
    #[serde(default, rename = "sigstore-staging")]
    pub sigstore_staging: Option<String>,
    /// Whether sigstore signatures are OCI attachments in the registry.
    #[serde(default, rename = "use-sigstore-attachments")]
    pub use_sigstore_attachments: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default, rename = "default-docker")]
    default_docker: Option<Namespace>,
    #[serde(default)]
    docker: Option<BTreeMap<String, Namespace>>,
}

/// The merged configuration of one registries.d directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistriesD {
    /// The `default-docker` section.
    pub default_docker: Option<Namespace>,
    /// `docker` sections by scope (`host[/path][:tag|@digest]` or `*.domain`).
    pub docker: BTreeMap<String, Namespace>,
}

/// Where a lookaside is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookaside {
    /// A `file://` directory, already extended with the repository path.
    File(PathBuf),
    /// An `http://` or `https://` URL, already extended with the repository path.
    Http(String),
    /// Any other URL (which cannot be used).
    Unsupported(String),
}

impl Lookaside {
    /// The location of signature `index` (0-based) of the manifest `digest`:
    /// `BASE@ALGORITHM=HEX/signature-N`.
    pub fn signature(&self, digest: &skopos_core::Digest, index: usize) -> Lookaside {
        let tail = format!(
            "@{}={}/signature-{}",
            digest.algorithm().name(),
            digest.hex(),
            index + 1
        );
        match self {
            Lookaside::File(path) => {
                let mut text = path.clone().into_os_string();
                text.push(tail);
                Lookaside::File(PathBuf::from(text))
            }
            Lookaside::Http(url) => Lookaside::Http(format!("{url}{tail}")),
            Lookaside::Unsupported(url) => Lookaside::Unsupported(format!("{url}{tail}")),
        }
    }
}

impl std::fmt::Display for Lookaside {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lookaside::File(path) => write!(f, "file://{}", path.display()),
            Lookaside::Http(url) | Lookaside::Unsupported(url) => f.write_str(url),
        }
    }
}

/// The directory to read: `explicit` (`--registries.d`), else the user's if it exists,
/// else the system one.
pub fn registries_d_dir(explicit: Option<&Path>, home: Option<&Path>) -> PathBuf {
    if let Some(dir) = explicit.filter(|dir| !dir.as_os_str().is_empty()) {
        return dir.to_path_buf();
    }
    if let Some(user) = home.map(|home| home.join(USER_REGISTRIES_D)) {
        if user.exists() {
            return user;
        }
    }
    PathBuf::from(SYSTEM_REGISTRIES_D)
}

impl RegistriesD {
    /// Read and merge every `*.yaml` file of `dir` (a missing directory is an empty
    /// configuration). A section defined in two files is an error naming both.
    pub fn load(dir: &Path) -> Result<RegistriesD, RegistriesDError> {
        tracing::debug!("Using registries.d directory {}", dir.display());
        let mut merged = RegistriesD::default();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(merged),
            Err(err) => {
                return Err(RegistriesDError::Io(format!(
                    "open {}: {}",
                    dir.display(),
                    skopos_core::go::text::go_errno_text(&err)
                )))
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| name.ends_with(".yaml"))
            .collect();
        names.sort();
        let mut default_from = String::new();
        let mut namespace_from: BTreeMap<String, String> = BTreeMap::new();
        for name in names {
            let path = dir.join(&name);
            let text = match skopos_core::limits::read_file_at_most_blocking(
                &path,
                skopos_core::limits::MAX_CONFIG_FILE,
            ) {
                Ok(text) => text,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => {
                    return Err(RegistriesDError::Io(format!(
                        "open {}: {}",
                        path.display(),
                        skopos_core::go::text::go_errno_text(&err)
                    )))
                }
            };
            let path_text = path.display().to_string();
            let file: File = if text.iter().all(u8::is_ascii_whitespace) {
                File::default()
            } else {
                serde_norway::from_slice(&text).map_err(|err| RegistriesDError::Parse {
                    path: path_text.clone(),
                    message: err.to_string(),
                })?
            };
            if let Some(section) = file.default_docker {
                if merged.default_docker.is_some() {
                    return Err(RegistriesDError::DuplicateDefault {
                        first: default_from,
                        second: path_text,
                    });
                }
                merged.default_docker = Some(section);
                default_from = path_text.clone();
            }
            for (namespace, section) in file.docker.unwrap_or_default() {
                if let Some(first) = namespace_from.get(&namespace) {
                    return Err(RegistriesDError::DuplicateNamespace {
                        namespace,
                        first: first.clone(),
                        second: path_text,
                    });
                }
                namespace_from.insert(namespace.clone(), path_text.clone());
                merged.docker.insert(namespace, section);
            }
        }
        Ok(merged)
    }

    /// The lookaside for `reference`'s repository, for reading or (`write`) writing:
    /// the most specific section that names one, else the built-in default (for `euid`,
    /// under `home` unless root).
    pub fn lookaside(
        &self,
        reference: &DockerReference,
        write: bool,
        euid: u32,
        home: Option<&Path>,
    ) -> Lookaside {
        let base = self.configured_base(reference, write).unwrap_or_else(|| {
            let dir = if euid == 0 {
                PathBuf::from(DEFAULT_ROOT_LOOKASIDE)
            } else {
                home.unwrap_or(Path::new("")).join(DEFAULT_USER_LOOKASIDE)
            };
            tracing::debug!(
                " No signature storage configuration found for {}, using built-in default file://{}",
                docker_policy_identity(reference).unwrap_or_default(),
                dir.display()
            );
            format!("file://{}", dir.display())
        });
        let repository = reference.path();
        if let Some(path) = base.strip_prefix("file://") {
            Lookaside::File(PathBuf::from(format!("{path}/{repository}")))
        } else if base.starts_with("http://") || base.starts_with("https://") {
            Lookaside::Http(format!("{}/{repository}", base.trim_end_matches('/')))
        } else {
            Lookaside::Unsupported(format!("{base}/{repository}"))
        }
    }

    /// Whether sigstore signatures of `reference` are OCI attachments in its registry
    /// (`use-sigstore-attachments` of the most specific section that sets it; off by
    /// default).
    pub fn use_sigstore_attachments(&self, reference: &DockerReference) -> bool {
        let scopes = docker_policy_identity(reference)
            .into_iter()
            .chain(docker_policy_namespaces(reference));
        for scope in scopes {
            if let Some(enabled) = self
                .docker
                .get(&scope)
                .and_then(|section| section.use_sigstore_attachments)
            {
                return enabled;
            }
        }
        self.default_docker
            .as_ref()
            .and_then(|section| section.use_sigstore_attachments)
            .unwrap_or(false)
    }

    fn configured_base(&self, reference: &DockerReference, write: bool) -> Option<String> {
        let scopes = docker_policy_identity(reference)
            .into_iter()
            .chain(docker_policy_namespaces(reference));
        for scope in scopes {
            if let Some(section) = self.docker.get(&scope) {
                tracing::debug!(" Lookaside configuration: using \"docker\" namespace {scope}");
                if let Some(base) = section.top_level(write) {
                    return Some(base);
                }
            }
        }
        let section = self.default_docker.as_ref()?;
        tracing::debug!(" Lookaside configuration: using \"default-docker\" configuration");
        section.top_level(write)
    }
}

impl Namespace {
    /// The configured URL for reading or writing, by containers/image's precedence.
    fn top_level(&self, write: bool) -> Option<String> {
        let non_empty = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        if write {
            if let Some(url) =
                non_empty(&self.lookaside_staging).or(non_empty(&self.sigstore_staging))
            {
                return Some(url);
            }
        }
        non_empty(&self.lookaside).or(non_empty(&self.sigstore))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(text: &str) -> DockerReference {
        DockerReference::parse_normalized(text).unwrap()
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn merges_files_and_picks_the_most_specific_section() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "default.yaml",
            "default-docker:\n  lookaside: https://sigs.example.com/base/\n",
        );
        write(
            dir.path(),
            "ns.yaml",
            "docker:\n  registry.example.com/ns:\n    sigstore: file:///srv/ns\n    sigstore-staging: file:///srv/staging\n  registry.example.com:\n    lookaside: file:///srv/all\n",
        );
        write(dir.path(), "ignored.yml", "not: [valid");
        write(
            dir.path(),
            "attachments.yaml",
            "docker:\n  registry.example.com/ns/app:\n    use-sigstore-attachments: true\n",
        );
        let config = RegistriesD::load(dir.path()).unwrap();
        assert!(config.use_sigstore_attachments(&reference("registry.example.com/ns/app:1")));
        assert!(!config.use_sigstore_attachments(&reference("registry.example.com/ns/other:1")));
        let lookaside = |text: &str, write: bool| {
            config.lookaside(&reference(text), write, 1000, Some(Path::new("/home/u")))
        };
        assert_eq!(
            lookaside("registry.example.com/ns/app:1", false),
            Lookaside::File("/srv/ns/ns/app".into())
        );
        assert_eq!(
            lookaside("registry.example.com/ns/app:1", true),
            Lookaside::File("/srv/staging/ns/app".into())
        );
        assert_eq!(
            lookaside("registry.example.com/other:1", true),
            Lookaside::File("/srv/all/other".into())
        );
        assert_eq!(
            lookaside("elsewhere.example.org/x/y:1", false),
            Lookaside::Http("https://sigs.example.com/base/x/y".into())
        );
        let digest = skopos_core::Digest::sha256_of(b"m");
        assert_eq!(
            lookaside("registry.example.com/ns/app:1", false).signature(&digest, 1),
            Lookaside::File(format!("/srv/ns/ns/app@sha256={}/signature-2", digest.hex()).into())
        );
    }

    #[test]
    fn falls_back_to_the_built_in_default() {
        let config = RegistriesD::load(Path::new("/nonexistent/registries.d")).unwrap();
        let image = reference("registry.example.com/ns/app:1");
        assert_eq!(
            config.lookaside(&image, true, 0, None),
            Lookaside::File("/var/lib/containers/sigstore/ns/app".into())
        );
        assert_eq!(
            config.lookaside(&image, false, 1000, Some(Path::new("/home/u"))),
            Lookaside::File("/home/u/.local/share/containers/sigstore/ns/app".into())
        );
    }

    #[test]
    fn malformed_and_conflicting_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.yaml", "default-docker:\n  lookaside: [1\n");
        let err = RegistriesD::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "parsing {}: ",
                dir.path().join("a.yaml").display()
            )),
            "{err}"
        );

        write(
            dir.path(),
            "a.yaml",
            "default-docker:\n  lookaside: file:///a\n",
        );
        write(
            dir.path(),
            "b.yaml",
            "default-docker:\n  lookaside: file:///b\n",
        );
        assert_eq!(
            RegistriesD::load(dir.path()).unwrap_err().to_string(),
            format!(
                "Error parsing signature storage configuration: \"default-docker\" defined both in \"{}\" and \"{}\"",
                dir.path().join("a.yaml").display(),
                dir.path().join("b.yaml").display()
            )
        );

        std::fs::remove_file(dir.path().join("b.yaml")).unwrap();
        write(
            dir.path(),
            "c.yaml",
            "docker:\n  example.com:\n    lookaside: file:///c\n",
        );
        write(
            dir.path(),
            "d.yaml",
            "docker:\n  example.com:\n    lookaside: file:///d\n",
        );
        assert_eq!(
            RegistriesD::load(dir.path()).unwrap_err().to_string(),
            format!(
                "Error parsing signature storage configuration: \"docker\" namespace \"example.com\" defined both in \"{}\" and \"{}\"",
                dir.path().join("c.yaml").display(),
                dir.path().join("d.yaml").display()
            )
        );

        write(
            dir.path(),
            "d.yaml",
            "docker:\n  other.com:\n    lookaside: [a]\n",
        );
        let err = RegistriesD::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("d.yaml") && err.contains("lookaside"), "{err}");
    }
}
