//! Where the OpenShift API is and how to authenticate to it: the kubeconfig files
//! (`$KUBECONFIG`, a `:`-separated list, else `~/.kube/config`) read as containers/image's
//! trimmed copy of Kubernetes' `clientcmd` reads them — the first file to name a cluster, user
//! or context wins, the current context picks them, the server defaults to
//! `$KUBERNETES_MASTER` and then `http://localhost:8080`, and credentials and TLS settings
//! are only used for an `https` server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use base64::Engine as _;
use serde::Deserialize;
use skopos_core::Result;
use skopos_registry::api::ApiAuthorization;

/// The API server's address and the settings to reach it.
#[derive(Debug, Default)]
pub(crate) struct RestConfig {
    /// `scheme://host[:port]`.
    pub(crate) server: String,
    pub(crate) authorization: ApiAuthorization,
    /// `insecure-skip-tls-verify`.
    pub(crate) insecure: bool,
    /// The cluster's CA certificates (PEM).
    pub(crate) ca_pem: Option<Vec<u8>>,
    /// The client certificate and key (PEM, concatenated).
    pub(crate) client_identity_pem: Option<Vec<u8>>,
}

#[derive(Debug, Default, Deserialize)]
struct KubeConfig {
    #[serde(rename = "current-context", default)]
    current_context: String,
    #[serde(default)]
    clusters: Vec<Named<Cluster>>,
    #[serde(default)]
    users: Vec<NamedUser>,
    #[serde(default)]
    contexts: Vec<Named<Context>>,
}

#[derive(Debug, Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "context")]
    value: T,
}

#[derive(Debug, Deserialize)]
struct NamedUser {
    name: String,
    user: User,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster {
    #[serde(default)]
    server: String,
    #[serde(default)]
    certificate_authority: String,
    #[serde(default)]
    certificate_authority_data: String,
    #[serde(default)]
    insecure_skip_tls_verify: bool,
    /// The file this came from, for relative paths.
    #[serde(skip)]
    origin: PathBuf,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct User {
    #[serde(default)]
    token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    client_certificate: String,
    #[serde(default)]
    client_certificate_data: String,
    #[serde(default)]
    client_key: String,
    #[serde(default)]
    client_key_data: String,
    #[serde(skip)]
    origin: PathBuf,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Context {
    #[serde(default)]
    cluster: String,
    #[serde(default)]
    user: String,
}

/// The kubeconfig files to read, most important first.
fn config_files() -> Vec<PathBuf> {
    match std::env::var_os("KUBECONFIG").filter(|value| !value.is_empty()) {
        Some(list) => std::env::split_paths(&list).collect(),
        None => std::env::var_os("HOME")
            .map(|home| vec![Path::new(&home).join(".kube/config")])
            .unwrap_or_default(),
    }
}

/// Read the kubeconfig files and work out the API server and credentials.
pub(crate) fn load() -> Result<RestConfig> {
    let mut merged = Merged::default();
    for file in config_files() {
        if file.as_os_str().is_empty() {
            continue;
        }
        let bytes = match read_bounded(&file) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => bail!(
                "loading config file {:?}: {}",
                file.display().to_string(),
                crate::fsutil::path_error("read", &file, &err)
            ),
        };
        let config: KubeConfig = if bytes.iter().all(u8::is_ascii_whitespace) {
            KubeConfig::default()
        } else {
            serde_norway::from_slice(&bytes).map_err(|err| {
                anyhow!(
                    "loading config file {:?}: {err}",
                    file.display().to_string()
                )
            })?
        };
        merged.add(config, &file);
    }
    merged.rest_config()
}

/// A kubeconfig file or a certificate it names, bounded as every configuration file is.
fn read_bounded(file: &Path) -> std::io::Result<Vec<u8>> {
    skopos_core::limits::read_file_at_most_blocking(file, skopos_core::limits::MAX_CONFIG_FILE)
}

/// Several files merged: the first to set a value wins.
#[derive(Default)]
struct Merged {
    current_context: String,
    clusters: BTreeMap<String, Cluster>,
    users: BTreeMap<String, User>,
    contexts: BTreeMap<String, Context>,
}

impl Merged {
    fn add(&mut self, config: KubeConfig, file: &Path) {
        if self.current_context.is_empty() {
            self.current_context = config.current_context;
        }
        for Named { name, mut value } in config.clusters {
            value.origin = file.to_path_buf();
            self.clusters.entry(name).or_insert(value);
        }
        for NamedUser { name, mut user } in config.users {
            user.origin = file.to_path_buf();
            self.users.entry(name).or_insert(user);
        }
        for Named { name, value } in config.contexts {
            self.contexts.entry(name).or_insert(value);
        }
    }

    fn rest_config(&self) -> Result<RestConfig> {
        let context = self
            .contexts
            .get(&self.current_context)
            .cloned()
            .unwrap_or_default();
        let mut cluster = Cluster {
            server: "http://localhost:8080".to_string(),
            ..Cluster::default()
        };
        if let Some(master) = std::env::var("KUBERNETES_MASTER")
            .ok()
            .filter(|m| !m.is_empty())
        {
            cluster.server = master;
        }
        if let Some(configured) = self.clusters.get(&context.cluster) {
            overwrite(&mut cluster.server, &configured.server);
            cluster.certificate_authority = configured.certificate_authority.clone();
            cluster.certificate_authority_data = configured.certificate_authority_data.clone();
            cluster.insecure_skip_tls_verify = configured.insecure_skip_tls_verify;
            cluster.origin = configured.origin.clone();
        }
        if cluster.server.is_empty() {
            bail!("invalid configuration: no configuration has been provided");
        }
        let user = self.users.get(&context.user).cloned().unwrap_or_default();
        // Credentials and TLS settings are only read for a server reached over TLS.
        if !cluster.server.starts_with("https://") {
            return Ok(RestConfig {
                server: with_scheme(&cluster.server, false),
                ..RestConfig::default()
            });
        }
        let ca_pem = data_or_file(
            &cluster.certificate_authority_data,
            &cluster.certificate_authority,
            &cluster.origin,
        )
        .map_err(|err| {
            anyhow!(
                "invalid configuration: unable to read certificate-authority {} for {} due to {err}",
                cluster.certificate_authority,
                context.cluster
            )
        })?;
        if cluster.insecure_skip_tls_verify && ca_pem.is_some() {
            bail!("specifying a root certificates file with the insecure flag is not allowed");
        }
        let certificate = data_or_file(
            &user.client_certificate_data,
            &user.client_certificate,
            &user.origin,
        )?;
        let key = data_or_file(&user.client_key_data, &user.client_key, &user.origin)?;
        let client_identity_pem = match (certificate, key) {
            (Some(mut certificate), Some(key)) => {
                certificate.push(b'\n');
                certificate.extend_from_slice(&key);
                Some(certificate)
            }
            (None, None) => None,
            _ => bail!(
                "invalid configuration: client-key-data or client-key must be specified for {} to use the clientCert authentication method",
                context.user
            ),
        };
        let authorization = match (
            user.token.is_empty(),
            user.username.is_empty() && user.password.is_empty(),
        ) {
            (true, true) => ApiAuthorization::None,
            (false, true) => ApiAuthorization::Bearer(user.token.clone()),
            (true, false) => ApiAuthorization::Basic {
                username: user.username.clone(),
                password: user.password.clone(),
            },
            (false, false) => {
                bail!("username/password or bearer token may be set, but not both")
            }
        };
        Ok(RestConfig {
            server: with_scheme(&cluster.server, true),
            authorization,
            insecure: cluster.insecure_skip_tls_verify,
            ca_pem,
            client_identity_pem,
        })
    }
}

fn overwrite(target: &mut String, value: &str) {
    if !value.is_empty() {
        *target = value.to_string();
    }
}

/// A server given as `host:port` gets the scheme its TLS settings imply.
fn with_scheme(server: &str, tls: bool) -> String {
    if server.contains("://") {
        server.trim_end_matches('/').to_string()
    } else if tls {
        format!("https://{server}")
    } else {
        format!("http://{server}")
    }
}

/// Inline base64 data, else the file (relative to the kubeconfig that named it), else none.
fn data_or_file(data: &str, file: &str, origin: &Path) -> Result<Option<Vec<u8>>> {
    if !data.is_empty() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|err| anyhow!("illegal base64 data: {err}"))?;
        return Ok(Some(decoded));
    }
    if file.is_empty() {
        return Ok(None);
    }
    let path = match origin.parent() {
        Some(dir) if Path::new(file).is_relative() => dir.join(file),
        _ => PathBuf::from(file),
    };
    read_bounded(&path)
        .map(Some)
        .map_err(|err| crate::fsutil::path_error("open", &path, &err))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(files: &[&str]) -> Result<RestConfig> {
        let dir = tempfile::tempdir().unwrap();
        let mut merged = Merged::default();
        for (i, text) in files.iter().enumerate() {
            let path = dir.path().join(format!("config{i}"));
            std::fs::write(&path, text).unwrap();
            merged.add(serde_norway::from_str(text).unwrap(), &path);
        }
        std::fs::write(dir.path().join("ca.pem"), "CA").unwrap();
        merged.rest_config()
    }

    const TLS_CLUSTER: &str = "
current-context: prod
contexts:
- name: prod
  context: {cluster: c1, user: u1}
clusters:
- name: c1
  cluster: {server: 'https://api.example:6443', certificate-authority: ca.pem}
users:
- name: u1
  user: {token: secret-token}
";

    #[test]
    fn the_current_context_picks_server_credentials_and_ca() {
        let config = merged(&[TLS_CLUSTER]).unwrap();
        assert_eq!(config.server, "https://api.example:6443");
        assert!(
            matches!(config.authorization, ApiAuthorization::Bearer(ref t) if t == "secret-token")
        );
        assert_eq!(config.ca_pem.as_deref(), Some(&b"CA"[..]));
        assert!(!format!("{config:?}").contains("secret-token"));
    }

    #[test]
    fn the_first_file_wins() {
        let second = "
current-context: other
clusters:
- name: c1
  cluster: {server: 'https://elsewhere:1'}
";
        let config = merged(&[TLS_CLUSTER, second]).unwrap();
        assert_eq!(config.server, "https://api.example:6443");
    }

    #[test]
    fn plain_http_servers_get_no_credentials_and_the_default_is_localhost() {
        let plain = "
current-context: dev
contexts:
- name: dev
  context: {cluster: c, user: u}
clusters:
- name: c
  cluster: {server: 'http://127.0.0.1:8443'}
users:
- name: u
  user: {token: not-sent}
";
        let config = merged(&[plain]).unwrap();
        assert_eq!(config.server, "http://127.0.0.1:8443");
        assert!(matches!(config.authorization, ApiAuthorization::None));
        assert_eq!(merged(&[]).unwrap().server, "http://localhost:8080");
    }

    #[test]
    fn conflicting_settings_are_refused() {
        let both = TLS_CLUSTER.replace(
            "{token: secret-token}",
            "{token: t, username: u, password: p}",
        );
        assert_eq!(
            merged(&[&both]).unwrap_err().to_string(),
            "username/password or bearer token may be set, but not both"
        );
        let insecure_with_ca = TLS_CLUSTER.replace(
            "certificate-authority: ca.pem}",
            "certificate-authority: ca.pem, insecure-skip-tls-verify: true}",
        );
        assert_eq!(
            merged(&[&insecure_with_ca]).unwrap_err().to_string(),
            "specifying a root certificates file with the insecure flag is not allowed"
        );
    }
}
