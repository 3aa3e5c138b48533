//! Registry credentials: containers-auth.json(5), Docker's `config.json` and legacy
//! `.dockercfg`, and `docker-credential-*` helpers, looked up and edited as containers/image
//! `pkg/docker/config` (v5.23, skopeo 1.9.3) does.
//!
//! Reading ([`get_credentials`]) walks the configured credential helpers (registries.conf
//! `credential-helpers`, by default only the built-in `containers-auth.json`), and for the
//! built-in one the auth files of [`AuthFiles::read_paths`]. Within a file: `credHelpers[host]`,
//! then `auths` keys from the most to the least specific (`host/ns/repo`, `host/ns`, `host`),
//! then keys that normalize to the host (`https://host/v1/`, `index.docker.io` ≡ `docker.io`).
//! As an extension skopeo lacks, a file's `credsStore` is consulted when the file itself holds
//! nothing usable for the host.
//!
//! Writing ([`set_credentials`], [`remove_credentials`], [`remove_all_credentials`]) edits the
//! primary file (or the Docker-format `--compat-auth-file`), keeping keys it does not know.

mod edit;
mod helper;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;
use skopos_core::go::text::{go_errno_text, go_quote};
use skopos_core::{Credentials, Secret};

pub use edit::{remove_all_credentials, remove_credentials, set_credentials};
pub use helper::{run_credential_helper, HelperAction, HelperOutcome};

/// The name in registries.conf `credential-helpers` that stands for the auth files
/// themselves rather than an external `docker-credential-*` program.
pub const AUTH_FILE_HELPER: &str = "containers-auth.json";

/// The key Docker uses for Docker Hub in `config.json` (and what `--compat-auth-file`
/// writes for `docker.io`).
pub const DOCKER_HUB_LEGACY_KEY: &str = "https://index.docker.io/v1/";

/// The process environment the lookups depend on, passed explicitly so that tests (and
/// callers) never depend on the real environment. Empty variables count as unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// `$XDG_RUNTIME_DIR`.
    pub xdg_runtime_dir: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME`.
    pub xdg_config_home: Option<PathBuf>,
    /// `$DOCKER_CONFIG` (a directory holding `config.json`).
    pub docker_config: Option<PathBuf>,
    /// `$REGISTRY_AUTH_FILE`.
    pub registry_auth_file: Option<PathBuf>,
    /// `$PATH`, searched for `docker-credential-*` helpers (and given to them).
    pub path: Option<OsString>,
    /// The real user id, for `/run/containers/<uid>/auth.json`.
    pub uid: u32,
}

impl Environment {
    /// The environment of this process.
    pub fn from_process() -> Environment {
        let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
        Environment {
            home: var("HOME").map(PathBuf::from),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR").map(PathBuf::from),
            xdg_config_home: var("XDG_CONFIG_HOME").map(PathBuf::from),
            docker_config: var("DOCKER_CONFIG").map(PathBuf::from),
            registry_auth_file: var("REGISTRY_AUTH_FILE").map(PathBuf::from),
            path: var("PATH"),
            // SAFETY: getuid has no preconditions and cannot fail.
            uid: unsafe { libc::getuid() },
        }
    }

    /// `${XDG_CONFIG_HOME:-$HOME/.config}`, if either is known.
    pub fn config_home(&self) -> Option<PathBuf> {
        self.xdg_config_home
            .clone()
            .or_else(|| self.home.as_ref().map(|home| home.join(".config")))
    }
}

/// One credentials file and whether it is in the legacy `.dockercfg` format (a bare map of
/// registry → entry, without the `auths` wrapper).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFilePath {
    /// The file's location; it need not exist.
    pub path: PathBuf,
    /// Whether it is a `.dockercfg` (read only, never written).
    pub legacy_format: bool,
}

impl AuthFilePath {
    fn new(path: PathBuf) -> AuthFilePath {
        AuthFilePath {
            path,
            legacy_format: false,
        }
    }
}

/// Where credentials are read from and written to: the environment, the `--authfile` /
/// `--compat-auth-file` choices and registries.conf `credential-helpers`.
#[derive(Debug, Clone, Default)]
pub struct AuthFiles {
    /// The environment the default file locations derive from.
    pub env: Environment,
    /// The explicit primary auth file (`--authfile`, or its environment default).
    pub auth_file: Option<PathBuf>,
    /// `--compat-auth-file`: a Docker-format `config.json` to read and write instead.
    pub compat_auth_file: Option<PathBuf>,
    /// registries.conf `credential-helpers`; empty means `["containers-auth.json"]`.
    pub credential_helpers: Vec<String>,
}

impl AuthFiles {
    /// For commands that access images (`copy`, `inspect`, …): `--authfile` defaults to
    /// `$REGISTRY_AUTH_FILE`.
    pub fn for_image_access(
        env: Environment,
        authfile_flag: Option<PathBuf>,
        credential_helpers: Vec<String>,
    ) -> AuthFiles {
        let auth_file = authfile_flag.or_else(|| env.registry_auth_file.clone());
        AuthFiles {
            env,
            auth_file,
            compat_auth_file: None,
            credential_helpers,
        }
    }

    /// For `login` / `logout`: `--authfile` defaults to `$REGISTRY_AUTH_FILE`, then to
    /// `$DOCKER_CONFIG/config.json` (containers/common `GetDefaultAuthFile`); with
    /// `--compat-auth-file` no default applies.
    pub fn for_login(
        env: Environment,
        authfile_flag: Option<PathBuf>,
        compat_auth_file: Option<PathBuf>,
        credential_helpers: Vec<String>,
    ) -> AuthFiles {
        let auth_file = if compat_auth_file.is_some() {
            authfile_flag
        } else {
            authfile_flag
                .or_else(|| env.registry_auth_file.clone())
                .or_else(|| {
                    env.docker_config
                        .as_ref()
                        .map(|dir| dir.join("config.json"))
                })
        };
        AuthFiles {
            env,
            auth_file,
            compat_auth_file,
            credential_helpers,
        }
    }

    /// The configured helpers, with the default applied.
    pub fn helpers(&self) -> Vec<String> {
        if self.credential_helpers.is_empty() {
            vec![AUTH_FILE_HELPER.to_string()]
        } else {
            self.credential_helpers.clone()
        }
    }

    /// The file that `login` writes and reads first: the compat file, `--authfile`,
    /// `$XDG_RUNTIME_DIR/containers/auth.json` (an error if that directory does not exist),
    /// or `/run/containers/<uid>/auth.json`.
    pub fn primary_path(&self) -> Result<AuthFilePath, AuthError> {
        if self.auth_file.is_some() && self.compat_auth_file.is_some() {
            return Err(AuthError::ConflictingAuthFiles);
        }
        if let Some(path) = self.compat_auth_file.as_ref().or(self.auth_file.as_ref()) {
            return Ok(AuthFilePath::new(path.clone()));
        }
        if let Some(runtime_dir) = &self.env.xdg_runtime_dir {
            if let Err(err) = std::fs::metadata(runtime_dir) {
                if err.kind() == std::io::ErrorKind::NotFound {
                    return Err(AuthError::MissingRuntimeDir {
                        dir: runtime_dir.clone(),
                        cause: go_errno_text(&err),
                    });
                }
            }
            return Ok(AuthFilePath::new(runtime_dir.join("containers/auth.json")));
        }
        Ok(AuthFilePath::new(PathBuf::from(format!(
            "/run/containers/{}/auth.json",
            self.env.uid
        ))))
    }

    /// The files searched for credentials, in order: the primary file (skipped with a warning
    /// when `$XDG_RUNTIME_DIR` is missing), `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`,
    /// `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, and `~/.dockercfg`.
    ///
    /// As in skopeo 1.9.3 the default files are searched even after an explicit `--authfile`.
    pub fn read_paths(&self) -> Result<Vec<AuthFilePath>, AuthError> {
        let mut paths = Vec::new();
        match self.primary_path() {
            Ok(path) => paths.push(path),
            Err(err @ AuthError::MissingRuntimeDir { .. }) => tracing::warn!(
                "{err}: Trying to pull image in the event that it is a public image."
            ),
            Err(err) => return Err(err),
        }
        if let Some(config_home) = self.env.config_home() {
            paths.push(AuthFilePath::new(config_home.join("containers/auth.json")));
        }
        if let Some(docker_config) = &self.env.docker_config {
            paths.push(AuthFilePath::new(docker_config.join("config.json")));
        } else if let Some(home) = &self.env.home {
            paths.push(AuthFilePath::new(home.join(".docker/config.json")));
        }
        if let Some(home) = &self.env.home {
            paths.push(AuthFilePath {
                path: home.join(".dockercfg"),
                legacy_format: true,
            });
        }
        Ok(paths)
    }
}

/// Why a credentials lookup or edit failed. Messages never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// `logout` of a key that has no stored credentials.
    #[error("not logged into {0}")]
    NotLoggedIn(String),
    /// A key that is not `host[:port][/namespace…]`.
    #[error("{0}")]
    InvalidKey(String),
    /// Both `--authfile` and `--compat-auth-file` were given.
    #[error("AuthFilePath and DockerCompatAuthFilePath can not be set simultaneously")]
    ConflictingAuthFiles,
    /// A key with a namespace (`host/namespace`), which a Docker-format `config.json`
    /// cannot hold, given with `--compat-auth-file`.
    #[error("Credentials cannot be recorded in Docker-compatible format with namespaced key {}", go_quote(.0))]
    NamespacedCompatKey(String),
    /// A key with a namespace, for a credential helper (named here), which stores
    /// credentials per host only.
    #[error("namespaced key is not supported for credential helper {0}")]
    NamespacedHelperKey(String),
    /// `$XDG_RUNTIME_DIR` names a directory that does not exist, so the primary auth file
    /// has no place.
    #[error("{} directory set by $XDG_RUNTIME_DIR does not exist. Either create the directory or unset $XDG_RUNTIME_DIR.: stat {}: {cause}", go_quote(&.dir.display().to_string()), .dir.display())]
    MissingRuntimeDir {
        /// The directory `$XDG_RUNTIME_DIR` names.
        dir: PathBuf,
        /// Why it could not be used, as Go words the errno.
        cause: String,
    },
    /// An auth file that cannot be read, parsed or written.
    #[error("{message}")]
    File {
        /// The file.
        path: PathBuf,
        /// The whole message, as containers/image words it (it names the path at fault).
        message: String,
    },
    /// A `docker-credential-*` helper that failed or could not be run.
    #[error("{message}")]
    Helper {
        /// The helper's name, without the `docker-credential-` prefix.
        helper: String,
        /// The whole message, as containers/image words it.
        message: String,
    },
    /// The errors of the helpers tried (registries.conf `credential-helpers`), all failed.
    #[error("{}", format_multiple(.0))]
    Multiple(Vec<AuthError>),
}

/// go-multierror's text, which containers/image v5.23 uses for errors collected from
/// several helpers: `1 error occurred:\n\t* …\n\n`.
fn format_multiple(errors: &[AuthError]) -> String {
    let points: Vec<String> = errors.iter().map(|err| format!("* {err}")).collect();
    if errors.len() == 1 {
        format!("1 error occurred:\n\t{}\n\n", points.join(""))
    } else {
        format!(
            "{} errors occurred:\n\t{}\n\n",
            errors.len(),
            points.join("\n\t")
        )
    }
}

/// Errors collected from the helpers tried, as one.
fn combine_errors(errors: Vec<AuthError>) -> AuthError {
    AuthError::Multiple(errors)
}

/// Checks a credentials key (`host[:port]`, `host/ns`, `host/ns/repo`) as containers/image
/// `validateKey` does, returning whether it is namespaced (has a path).
pub fn validate_key(key: &str) -> Result<bool, AuthError> {
    if key.starts_with("http://") || key.starts_with("https://") {
        return Err(AuthError::InvalidKey(format!(
            "key {key} contains http[s]:// prefix"
        )));
    }
    if key.contains('@') {
        return Err(AuthError::InvalidKey(format!(
            "key {key} contains a '@' character"
        )));
    }
    match key.split_once('/') {
        Some((_, path)) if path.contains(':') => Err(AuthError::InvalidKey(format!(
            "key {key} contains a ':' character after host[:port]"
        ))),
        Some(_) => Ok(true),
        None => Ok(false),
    }
}

/// The registry part (`host[:port]`) of a credentials key.
fn registry_of_key(key: &str) -> &str {
    key.split_once('/').map_or(key, |(host, _)| host)
}

/// Looks up the credentials for `key` (a registry `host[:port]`, or a repository or
/// namespace within one, as `docker.io/library/busybox`); [`Credentials::Anonymous`] when
/// nothing is configured.
pub fn get_credentials(files: &AuthFiles, key: &str) -> Result<Credentials, AuthError> {
    validate_key(key)?;
    let registry = registry_of_key(key);
    let mut errors = Vec::new();
    for helper in files.helpers() {
        let found = if helper == AUTH_FILE_HELPER {
            find_in_auth_files(files, key, registry)
        } else {
            helper::get(&helper, registry, &files.env)
        };
        match found {
            Ok(Some(credentials)) => return Ok(credentials),
            Ok(None) => {}
            Err(err) => errors.push(err),
        }
    }
    if errors.is_empty() {
        Ok(Credentials::Anonymous)
    } else {
        Err(combine_errors(errors))
    }
}

fn find_in_auth_files(
    files: &AuthFiles,
    key: &str,
    registry: &str,
) -> Result<Option<Credentials>, AuthError> {
    for path in files.read_paths()? {
        if let Some(credentials) = find_in_file(key, registry, &path, &files.env)? {
            return Ok(Some(credentials));
        }
    }
    Ok(None)
}

/// One `auths` entry as stored.
#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: String,
    #[serde(default)]
    identitytoken: String,
}

/// The parts of an auth file that lookups use.
#[derive(Debug, Default, Deserialize)]
struct AuthFileContents {
    #[serde(default)]
    auths: Option<BTreeMap<String, AuthEntry>>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: Option<BTreeMap<String, String>>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

/// Reads an auth file; a missing file is empty.
fn parse_auth_file(path: &AuthFilePath) -> Result<AuthFileContents, AuthError> {
    let file_error = |detail: String| AuthError::File {
        path: path.path.clone(),
        message: format!(
            "reading JSON file {}: {detail}",
            go_quote(&path.path.display().to_string())
        ),
    };
    let raw = match skopos_core::limits::read_file_at_most_blocking(
        &path.path,
        skopos_core::limits::MAX_CONFIG_FILE,
    ) {
        Ok(raw) => raw,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(AuthFileContents::default())
        }
        Err(err) => {
            return Err(file_error(format!(
                "open {}: {}",
                path.path.display(),
                go_errno_text(&err)
            )))
        }
    };
    let unmarshal_error = |err: serde_json::Error| {
        file_error(format!(
            "unmarshaling JSON at {}: {err}",
            go_quote(&path.path.display().to_string())
        ))
    };
    if path.legacy_format {
        let auths: BTreeMap<String, AuthEntry> =
            serde_json::from_slice(&raw).map_err(unmarshal_error)?;
        return Ok(AuthFileContents {
            auths: Some(auths),
            ..AuthFileContents::default()
        });
    }
    serde_json::from_slice(&raw).map_err(unmarshal_error)
}

/// The keys tried for `key` in a file, best match first: in the current format the key and
/// each of its parents up to the registry; in the legacy format only the registry.
fn auth_key_lookup_order<'a>(key: &'a str, registry: &'a str, legacy_format: bool) -> Vec<&'a str> {
    if legacy_format {
        return vec![registry];
    }
    let mut keys = vec![key];
    let mut rest = key;
    while let Some((parent, _)) = rest.rsplit_once('/') {
        keys.push(parent);
        rest = parent;
    }
    keys
}

/// Docker Hub's host names all mean the same registry.
fn normalize_registry(registry: &str) -> &str {
    match registry {
        "registry-1.docker.io" | "docker.io" => "index.docker.io",
        other => other,
    }
}

/// An `auths` key reduced to the registry it names: URL forms (`https://host/v1/`) lose the
/// scheme and path; legacy files only ever name registries.
fn normalize_auth_file_key(key: &str, legacy_format: bool) -> &str {
    let stripped = key
        .strip_prefix("http://")
        .or_else(|| key.strip_prefix("https://"));
    let host = match stripped {
        Some(rest) => rest.split('/').next().unwrap_or(rest),
        None if legacy_format => key.split('/').next().unwrap_or(key),
        None => key,
    };
    normalize_registry(host)
}

fn find_in_file(
    key: &str,
    registry: &str,
    path: &AuthFilePath,
    env: &Environment,
) -> Result<Option<Credentials>, AuthError> {
    let contents = parse_auth_file(path)?;
    if let Some(helper) = contents
        .cred_helpers
        .as_ref()
        .and_then(|helpers| helpers.get(registry))
    {
        return helper::get(helper, registry, env);
    }
    let auths = contents.auths.unwrap_or_default();
    let mut entry = auth_key_lookup_order(key, registry, path.legacy_format)
        .into_iter()
        .find_map(|candidate| auths.get_key_value(candidate));
    if entry.is_none() {
        let normalized = normalize_registry(registry);
        entry = auths
            .iter()
            .find(|(stored, _)| normalize_auth_file_key(stored, path.legacy_format) == normalized);
    }
    if let Some((stored_key, entry)) = entry {
        if let Some(credentials) = decode_entry(&path.path, stored_key, entry)? {
            return Ok(Some(credentials));
        }
    }
    match contents.creds_store {
        Some(store) if !store.is_empty() => {
            // Docker keeps Docker Hub credentials under its v1 index URL.
            let server = if normalize_registry(registry) == "index.docker.io" {
                DOCKER_HUB_LEGACY_KEY
            } else {
                registry
            };
            helper::get(&store, server, env)
        }
        _ => Ok(None),
    }
}

/// Decodes an `auths` entry; entries without a `user:password` pair (such as the `{}`
/// markers Docker writes next to a credential store) hold nothing.
fn decode_entry(
    path: &Path,
    stored_key: &str,
    entry: &AuthEntry,
) -> Result<Option<Credentials>, AuthError> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(entry.auth.as_bytes())
        .map_err(|err| AuthError::File {
            path: path.to_path_buf(),
            message: format!(
                "decoding the \"auth\" field of credential entry {} in {}: {err}",
                go_quote(stored_key),
                go_quote(&path.display().to_string())
            ),
        })?;
    let decoded = String::from_utf8_lossy(&decoded);
    let Some((username, password)) = decoded.split_once(':') else {
        if !decoded.is_empty() {
            tracing::warn!(
                "Error parsing the \"auth\" field of a credential entry {} in {}, missing semicolon",
                go_quote(stored_key),
                go_quote(&path.display().to_string())
            );
        }
        return Ok(None);
    };
    let password = password.trim_matches('\0');
    if !entry.identitytoken.is_empty() {
        return Ok(Some(Credentials::IdentityToken {
            username: (!username.is_empty()).then(|| username.to_string()),
            token: Secret::new(entry.identitytoken.clone()),
        }));
    }
    if username.is_empty() || password.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials::basic(username, password)))
}
