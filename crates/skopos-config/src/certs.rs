//! containers-certs.d(5): per-registry TLS material. A registry `host[:port]` has a
//! directory (`--cert-dir`, else the first existing `<root>/<host[:port]>`) holding `*.crt`
//! CA certificates and `*.cert` + `*.key` client identities, read as containers/image
//! `docker.dockerCertDir` and `tlsclientconfig.SetupCertificates` do.

use std::fmt;
use std::path::{Path, PathBuf};

use skopos_core::go::text::go_errno_text;

/// The system-wide roots searched after the per-user one, in order.
pub const SYSTEM_CERT_ROOTS: [&str; 2] = ["/etc/containers/certs.d", "/etc/docker/certs.d"];

/// A problem reading a certificate directory.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertsError {
    /// A `.cert` file without its `.key`.
    #[error("missing key {key} for client certificate {cert}. Note that CA certificates should use the extension .crt")]
    MissingKey {
        /// The certificate file's path.
        cert: String,
        /// The key file expected beside it (`name.key`).
        key: String,
    },
    /// A `.key` file without its `.cert`.
    #[error("missing client certificate {cert} for key {key}")]
    MissingCertificate {
        /// The certificate file expected beside the key (`name.cert`).
        cert: String,
        /// The key file's path.
        key: String,
    },
    /// A file or directory that cannot be read, or a client file that is not PEM.
    #[error("{0}")]
    Io(String),
}

/// The roots searched for `<root>/<host[:port]>` directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRoots {
    /// In search order: `~/.config/containers/certs.d`, then [`SYSTEM_CERT_ROOTS`].
    pub roots: Vec<PathBuf>,
}

impl CertRoots {
    /// The standard roots for this home directory.
    pub fn new(home: Option<&Path>) -> CertRoots {
        let user = home.map(|home| home.join(".config/containers/certs.d"));
        CertRoots {
            roots: user
                .into_iter()
                .chain(SYSTEM_CERT_ROOTS.iter().map(PathBuf::from))
                .collect(),
        }
    }

    /// The directory for `host_port` (`docker.io` for Docker Hub; the port exactly as in
    /// the reference): `cert_dir` when given, else the first root that has one. `None` when
    /// no root has one (then there is nothing to load).
    pub fn cert_dir(
        &self,
        cert_dir: Option<&Path>,
        host_port: &str,
    ) -> Result<Option<PathBuf>, CertsError> {
        if let Some(dir) = cert_dir {
            return Ok(Some(dir.to_path_buf()));
        }
        for root in &self.roots {
            let candidate = root.join(host_port);
            match std::fs::metadata(&candidate) {
                Ok(_) => return Ok(Some(candidate)),
                // Unreadable roots are skipped as missing ones are.
                Err(err)
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                    ) => {}
                Err(err) => {
                    return Err(CertsError::Io(format!(
                        "stat {}: {}",
                        candidate.display(),
                        go_errno_text(&err)
                    )))
                }
            }
        }
        Ok(None)
    }
}

/// A CA certificate file (`*.crt`): PEM data to add to the system roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaCertificate {
    /// The file it was read from, for messages.
    pub path: PathBuf,
    /// The file's contents, unparsed (one or more PEM certificates).
    pub pem: Vec<u8>,
}

/// A client identity (`name.cert` + `name.key`). `Debug` does not show the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The `name.cert` file, for messages.
    pub cert_path: PathBuf,
    /// The `name.key` file, for messages.
    pub key_path: PathBuf,
    /// The certificate chain (PEM) presented to the server.
    pub cert_pem: Vec<u8>,
    /// The certificate's private key (PEM).
    pub key_pem: Vec<u8>,
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// The TLS material of one directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA certificates, in file name order.
    pub ca_certificates: Vec<CaCertificate>,
    /// Client identities, in file name order.
    pub client_identities: Vec<ClientIdentity>,
}

/// Reads `dir`'s `*.crt`, `*.cert` and `*.key` files; a missing or unreadable directory
/// holds nothing.
pub fn load_cert_dir(dir: &Path) -> Result<TlsFiles, CertsError> {
    let mut names = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<Vec<String>, _>>()
            .map_err(|err| {
                CertsError::Io(format!("open {}: {}", dir.display(), go_errno_text(&err)))
            })?,
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            return Ok(TlsFiles::default())
        }
        Err(err) => {
            return Err(CertsError::Io(format!(
                "open {}: {}",
                dir.display(),
                go_errno_text(&err)
            )))
        }
    };
    names.sort();
    let has = |name: &str| names.iter().any(|candidate| candidate == name);
    let mut files = TlsFiles::default();
    for name in &names {
        let path = dir.join(name);
        if name.ends_with(".crt") {
            match skopos_core::limits::read_file_at_most_blocking(
                &path,
                skopos_core::limits::MAX_CONFIG_FILE,
            ) {
                Ok(pem) => files.ca_certificates.push(CaCertificate {
                    path: path.clone(),
                    pem,
                }),
                // A dangling symbolic link.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(read_error(&path, &err)),
            }
        }
        if let Some(base) = name.strip_suffix(".cert") {
            let key_name = format!("{base}.key");
            if !has(&key_name) {
                return Err(CertsError::MissingKey {
                    cert: name.clone(),
                    key: key_name,
                });
            }
            let key_path = dir.join(&key_name);
            let cert_pem = read_pem(&path, "certificate")?;
            let key_pem = read_pem(&key_path, "key")?;
            files.client_identities.push(ClientIdentity {
                cert_path: path.clone(),
                key_path,
                cert_pem,
                key_pem,
            });
        }
        if let Some(base) = name.strip_suffix(".key") {
            let cert_name = format!("{base}.cert");
            if !has(&cert_name) {
                return Err(CertsError::MissingCertificate {
                    cert: cert_name,
                    key: name.clone(),
                });
            }
        }
    }
    Ok(files)
}

fn read_error(path: &Path, err: &std::io::Error) -> CertsError {
    CertsError::Io(format!("open {}: {}", path.display(), go_errno_text(err)))
}

/// A client certificate or key file, which must hold PEM data (Go's `tls.LoadX509KeyPair`
/// refuses anything else with this message).
fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>, CertsError> {
    let data =
        skopos_core::limits::read_file_at_most_blocking(path, skopos_core::limits::MAX_CONFIG_FILE)
            .map_err(|err| read_error(path, &err))?;
    if !data.windows(11).any(|window| window == b"-----BEGIN ") {
        return Err(CertsError::Io(format!(
            "tls: failed to find any PEM data in {what} input"
        )));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const KEY: &str =
        "-----BEGIN PRIVATE KEY-----\nsecret-key-material\n-----END PRIVATE KEY-----\n";

    fn write(dir: &Path, name: &str, contents: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(name), contents).unwrap();
    }

    fn roots(base: &Path) -> CertRoots {
        CertRoots {
            roots: vec![
                base.join("user"),
                base.join("etc-containers"),
                base.join("etc-docker"),
            ],
        }
    }

    #[test]
    fn standard_roots_start_with_the_user_one() {
        let roots = CertRoots::new(Some(Path::new("/home/u")));
        assert_eq!(
            roots.roots,
            vec![
                PathBuf::from("/home/u/.config/containers/certs.d"),
                PathBuf::from("/etc/containers/certs.d"),
                PathBuf::from("/etc/docker/certs.d"),
            ]
        );
    }

    #[test]
    fn first_existing_directory_wins_and_cert_dir_overrides() {
        let base = tempfile::tempdir().unwrap();
        let roots = roots(base.path());
        assert_eq!(roots.cert_dir(None, "registry.example:5000").unwrap(), None);
        std::fs::create_dir_all(base.path().join("etc-docker/registry.example:5000")).unwrap();
        assert_eq!(
            roots.cert_dir(None, "registry.example:5000").unwrap(),
            Some(base.path().join("etc-docker/registry.example:5000"))
        );
        std::fs::create_dir_all(base.path().join("etc-containers/registry.example:5000")).unwrap();
        std::fs::create_dir_all(base.path().join("user/registry.example")).unwrap();
        // The port must match exactly.
        assert_eq!(
            roots.cert_dir(None, "registry.example:5000").unwrap(),
            Some(base.path().join("etc-containers/registry.example:5000"))
        );
        assert_eq!(
            roots.cert_dir(None, "registry.example").unwrap(),
            Some(base.path().join("user/registry.example"))
        );
        let explicit = base.path().join("explicit");
        assert_eq!(
            roots.cert_dir(Some(&explicit), "registry.example").unwrap(),
            Some(explicit)
        );
    }

    #[test]
    fn loads_cas_and_client_pairs() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("certs");
        write(&dir, "b-ca.crt", CERT);
        write(&dir, "a-ca.crt", "any data");
        write(&dir, "client.cert", CERT);
        write(&dir, "client.key", KEY);
        write(&dir, "README", "ignored");
        let files = load_cert_dir(&dir).unwrap();
        let cas: Vec<&Path> = files
            .ca_certificates
            .iter()
            .map(|ca| ca.path.as_path())
            .collect();
        assert_eq!(cas, vec![dir.join("a-ca.crt"), dir.join("b-ca.crt")]);
        assert_eq!(files.ca_certificates[1].pem, CERT.as_bytes());
        assert_eq!(files.client_identities.len(), 1);
        let identity = &files.client_identities[0];
        assert_eq!(identity.cert_path, dir.join("client.cert"));
        assert_eq!(identity.key_pem, KEY.as_bytes());
        let shown = format!("{identity:?}");
        assert!(!shown.contains("secret-key-material"), "{shown}");
    }

    #[test]
    fn missing_directory_holds_nothing() {
        let base = tempfile::tempdir().unwrap();
        assert_eq!(
            load_cert_dir(&base.path().join("none")).unwrap(),
            TlsFiles::default()
        );
    }

    #[test]
    fn unpaired_client_files_are_errors() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("cert-only");
        write(&dir, "ca.cert", CERT);
        assert_eq!(
            load_cert_dir(&dir).unwrap_err().to_string(),
            "missing key ca.key for client certificate ca.cert. Note that CA certificates should use the extension .crt"
        );
        let dir = base.path().join("key-only");
        write(&dir, "client.key", KEY);
        assert_eq!(
            load_cert_dir(&dir).unwrap_err().to_string(),
            "missing client certificate client.cert for key client.key"
        );
    }

    #[test]
    fn client_files_must_be_pem() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("certs");
        write(&dir, "client.cert", "not pem");
        write(&dir, "client.key", KEY);
        assert_eq!(
            load_cert_dir(&dir).unwrap_err().to_string(),
            "tls: failed to find any PEM data in certificate input"
        );
    }
}
