//! Signing and signature commands: `standalone-sign`, `standalone-verify`,
//! `untrusted-signature-dump-without-verification`, and the signers `copy --sign-by`
//! hands to the copy engine. The signature logic is skopos-trust's; this module reads
//! files and flags and prints skopeo's messages.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _};
use skopos_copy::ManifestSigner;
use skopos_core::go::text::go_quote;
use skopos_core::reference::DockerReference;
use skopos_core::{ImageName, Secret};
use skopos_trust::standalone::{verify_image_manifest_signature, UntrustedSignatureInformation};
use skopos_trust::{GpgSigner, Keyring};

use crate::cli::{
    GenerateSigstoreKeyArgs, SharedCopyArgs, StandaloneSignArgs, StandaloneVerifyArgs,
};
use skopos_trust::sigstore::SigstoreSigner;

/// containers/image's `cli.ReadPassphraseFile`: the first line, without its line break.
pub(crate) fn read_passphrase_file(path: &Path) -> anyhow::Result<Secret> {
    use std::io::BufRead as _;
    tracing::debug!(
        "Reading user-specified passphrase for signing from {}",
        path.display()
    );
    let file = std::fs::File::open(path).map_err(|err| {
        anyhow!(
            "open {}: {}",
            path.display(),
            skopos_core::go::text::go_errno_text(&err)
        )
    })?;
    let mut line = Vec::new();
    std::io::BufReader::new(file)
        .read_until(b'\n', &mut line)
        .map_err(|err| anyhow!("reading passphrase file: {err}"))?;
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    Ok(Secret::new(String::from_utf8_lossy(&line)))
}

/// skopeo's `promptForPassphrase`: asked on the terminal, without echo.
fn prompt_for_passphrase(private_key: &str) -> anyhow::Result<Secret> {
    use std::io::IsTerminal as _;
    if !std::io::stdin().is_terminal() {
        bail!("Cannot prompt for a passphrase for key {private_key}, standard input is not a TTY");
    }
    let mut stdout = std::io::stdout();
    write!(stdout, "Passphrase for key {private_key}: ")?;
    stdout.flush()?;
    let passphrase =
        rpassword::read_password().map_err(|err| anyhow!("Error reading password: {err}"))?;
    writeln!(stdout)?;
    Ok(Secret::new(passphrase))
}

/// `generate-sigstore-key --output-prefix PREFIX [--passphrase-file PATH]`: a new key
/// pair in PREFIX.private (0600) and PREFIX.pub (0644); existing files are never
/// overwritten. Returns the line to print.
pub(crate) fn generate_sigstore_key(args: &GenerateSigstoreKeyArgs) -> anyhow::Result<String> {
    let prefix = args.output_prefix.as_deref().unwrap_or_default();
    if !args.args.is_empty() || prefix.is_empty() {
        bail!("Usage: generate-sigstore-key --output-prefix PREFIX");
    }
    let public_path = format!("{prefix}.pub");
    let private_path = format!("{prefix}.private");
    for path in [&public_path, &private_path] {
        match std::fs::symlink_metadata(path) {
            Ok(_) => bail!("Refusing to overwrite existing {}", go_quote(path)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => bail!(
                "Error checking existence of {}: stat {path}: {}",
                go_quote(path),
                skopos_core::go::text::go_errno_text(&err)
            ),
        }
    }
    let passphrase = match &args.passphrase_file {
        Some(file) => read_passphrase_file(file)?,
        None => prompt_for_passphrase(&private_path)?,
    };
    let keys = skopos_trust::sigstore::generate_key_pair(passphrase.expose().as_bytes())
        .context("Error generating key pair")?;
    write_new_file(Path::new(&private_path), &keys.private_pem, 0o600)
        .with_context(|| format!("Error writing private key to {}", go_quote(&private_path)))?;
    write_new_file(Path::new(&public_path), &keys.public_pem, 0o644)
        .with_context(|| format!("Error writing private key to {}", go_quote(&public_path)))?;
    Ok(format!(
        "Key written to {} and {}\n",
        go_quote(&private_path),
        go_quote(&public_path)
    ))
}

/// Create `path` (which must not exist) with `mode` and `bytes`.
fn write_new_file(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|err| {
            anyhow!(
                "open {}: {}",
                path.display(),
                skopos_core::go::text::go_errno_text(&err)
            )
        })?;
    file.write_all(bytes)
        .map_err(|err| anyhow!("write {}: {err}", path.display()))
}

/// `standalone-sign MANIFEST DOCKER-REFERENCE KEY-FINGERPRINT -o SIGNATURE`.
pub(crate) fn standalone_sign(args: &StandaloneSignArgs) -> anyhow::Result<()> {
    let (Some(output), [manifest_path, reference, fingerprint]) =
        (args.output.as_ref(), args.args.as_slice())
    else {
        bail!(
            "Usage: {} standalone-sign manifest docker-reference key-fingerprint -o signature",
            crate::program::name()
        );
    };
    let manifest = crate::read_file_like_go(manifest_path)
        .with_context(|| format!("Error reading {manifest_path}"))?;
    let passphrase = args
        .passphrase_file
        .as_deref()
        .map(read_passphrase_file)
        .transpose()?;
    let signature = GpgSigner::new(fingerprint, passphrase)
        .and_then(|signer| skopos_trust::sign_manifest(&manifest, reference, &signer))
        .context("Error creating signature")?;
    write_file_0644(output, &signature)
        .with_context(|| format!("Error writing signature to {}", output.display()))
}

/// `os.WriteFile(path, bytes, 0o644)`.
fn write_file_0644(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(path)
        .map_err(|err| {
            anyhow!(
                "open {}: {}",
                path.display(),
                skopos_core::go::text::go_errno_text(&err)
            )
        })?;
    file.write_all(bytes)
        .map_err(|err| anyhow!("write {}: {err}", path.display()))
}

/// `standalone-verify MANIFEST DOCKER-REFERENCE KEY-FINGERPRINTS SIGNATURE` (skopeo
/// 1.22's form: `--public-key-file`, and `any` for every key in it).
pub(crate) fn standalone_verify(args: &StandaloneVerifyArgs) -> anyhow::Result<String> {
    let [manifest_path, expected_reference, fingerprints, signature_path] = args.args.as_slice()
    else {
        bail!(
            "Usage: {} standalone-verify manifest docker-reference key-fingerprint signature",
            crate::program::name()
        );
    };
    let mut accepted: Vec<String> = fingerprints.split(',').map(str::to_string).collect();
    let any = accepted == ["any"];
    if args.public_key_file.is_none() && any {
        bail!("Cannot use any fingerprint without a public key file");
    }
    let manifest = crate::read_file_like_go(manifest_path)
        .with_context(|| format!("Error reading manifest from {manifest_path}"))?;
    let signature = crate::read_file_like_go(signature_path)
        .with_context(|| format!("Error reading signature from {signature_path}"))?;
    let keys = match &args.public_key_file {
        Some(path) => crate::read_file_like_go(&path.to_string_lossy())
            .with_context(|| format!("Error reading public keys from {}", path.display()))?,
        None => skopos_trust::gpg::export_public_keys().context("Error initializing GPG")?,
    };
    let (keyring, in_file) = Keyring::import(&[keys]).context("Error initializing GPG")?;
    if any {
        accepted = in_file;
    }
    let verified = verify_image_manifest_signature(
        &keyring,
        &signature,
        &manifest,
        expected_reference,
        &accepted,
    )
    .context("Error verifying signature")?;
    Ok(format!(
        "Signature verified using fingerprint {}, digest {}\n",
        verified.key_fingerprint, verified.manifest_digest
    ))
}

/// `untrusted-signature-dump-without-verification SIGNATURE`: what the signature claims,
/// as containers/image's `UntrustedSignatureInformation` JSON (4-space indent).
pub(crate) fn untrusted_signature_dump(path: &str) -> anyhow::Result<String> {
    let signature = crate::read_file_like_go(path)
        .with_context(|| format!("Error reading untrusted signature from {path}"))?;
    let information = UntrustedSignatureInformation::decode(&signature)
        .map_err(|err| anyhow!("Error decoding untrusted signature: {err:#}"))?;
    let json = skopos_core::go::json::to_vec_indent(&information, "    ")?;
    Ok(format!("{}\n", String::from_utf8_lossy(&json)))
}

/// The keys the signing flags of `copy` and `sync` name, opened once (skopeo's
/// `copyOptions` checks and passphrase handling).
#[derive(Debug)]
pub(crate) struct SigningKeys {
    gpg: Option<GpgSigner>,
    sigstore: Option<Arc<SigstoreSigner>>,
}

impl SigningKeys {
    /// The keys the flags ask for; `None` when no signing is asked for.
    pub(crate) fn from_flags(shared: &SharedCopyArgs) -> anyhow::Result<Option<SigningKeys>> {
        if shared.sign_passphrase_file.is_some() {
            let count = [
                shared.sign_by.is_some(),
                shared.sign_by_sq_fingerprint.is_some(),
                shared.sign_by_sigstore_private_key.is_some(),
            ]
            .into_iter()
            .filter(|given| *given)
            .count();
            if count > 1 {
                bail!("Only one of --sign-by, --sign-by-sq-fingerprint and --sign-by-sigstore-private-key can be used with --sign-passphrase-file");
            }
        }
        if shared.sign_by_sq_fingerprint.is_some() {
            // What skopeo 1.22.2 says when built without Sequoia-PGP, as its static build is.
            bail!("Error using --sign-by-sq-fingerprint: Sequoia-PGP support is not enabled in this build");
        }
        if shared.sign_by_sigstore.is_some() {
            bail!("--sign-by-sigstore is not supported by skopos yet");
        }
        let gpg_key = shared.sign_by.as_deref().filter(|f| !f.is_empty());
        let sigstore_key = shared
            .sign_by_sigstore_private_key
            .as_deref()
            .filter(|path| !path.as_os_str().is_empty());
        if gpg_key.is_none() && sigstore_key.is_none() {
            return Ok(None);
        }
        let passphrase = match (&shared.sign_passphrase_file, sigstore_key) {
            (Some(file), _) => Some(read_passphrase_file(file)?),
            // A GPG key's passphrase is gpg-agent's to ask for; a sigstore key's is ours.
            (None, Some(key)) => Some(prompt_for_passphrase(&key.to_string_lossy())?),
            (None, None) => None,
        };
        let gpg = gpg_key
            .map(|fingerprint| GpgSigner::new(fingerprint, passphrase.clone()))
            .transpose()?;
        let sigstore = match sigstore_key {
            None => None,
            Some(key_file) => {
                let pem = std::fs::read(key_file).map_err(|err| {
                    anyhow!(
                        "reading private key from {}: open {}: {}",
                        key_file.display(),
                        key_file.display(),
                        skopos_core::go::text::go_errno_text(&err)
                    )
                })?;
                let passphrase = passphrase.as_ref().map_or("", |p| p.expose());
                let signer = SigstoreSigner::from_private_key(&pem, passphrase.as_bytes())
                    .map_err(|err| anyhow!("initializing private key: {err:#}"))?;
                Some(Arc::new(signer))
            }
        };
        Ok(Some(SigningKeys { gpg, sigstore }))
    }

    /// Signers for images written to `destination`, claiming `sign_identity` or else the
    /// destination's reference (containers/image's identity rules, checked before
    /// anything is copied rather than after the manifest is written).
    pub(crate) fn signers(
        &self,
        sign_identity: Option<&DockerReference>,
        destination: &ImageName,
    ) -> anyhow::Result<Vec<Arc<dyn ManifestSigner>>> {
        let identity = match sign_identity {
            Some(identity) if identity.is_name_only() => {
                bail!("Sign identity must be a fully specified reference {identity}")
            }
            Some(identity) => identity.clone(),
            None => destination.docker_reference().cloned().ok_or_else(|| {
                anyhow!("Cannot determine canonical Docker reference for destination {destination}")
            })?,
        };
        if identity.is_name_only() {
            bail!("reference {identity} can’t be signed, it has neither a tag nor a digest");
        }
        let mut signers: Vec<Arc<dyn ManifestSigner>> = Vec::new();
        if let Some(signer) = &self.gpg {
            signers.push(Arc::new(SimpleSigner {
                signer: signer.clone(),
                identity: identity.to_string(),
            }));
        }
        if let Some(signer) = &self.sigstore {
            signers.push(Arc::new(SigstoreKeySigner {
                signer: signer.clone(),
                identity: identity.to_string(),
            }));
        }
        Ok(signers)
    }
}

/// Sigstore signing with a private key, for one identity.
#[derive(Debug)]
struct SigstoreKeySigner {
    signer: Arc<SigstoreSigner>,
    identity: String,
}

#[async_trait::async_trait]
impl ManifestSigner for SigstoreKeySigner {
    fn progress_message(&self) -> String {
        skopos_trust::sigstore::SIGSTORE_SIGNING_PROGRESS.to_string()
    }

    async fn sign(&self, manifest: &[u8]) -> skopos_core::Result<Vec<u8>> {
        self.signer.sign_manifest(manifest, &self.identity)
    }
}

/// `--sign-identity REF`: Go's `reference.ParseNamed`, which takes only canonical names.
pub(crate) fn parse_sign_identity(text: &str) -> anyhow::Result<DockerReference> {
    let parsed = DockerReference::parse_normalized(text)
        .map_err(|err| anyhow!("Could not parse --sign-identity: {err:#}"))?;
    if parsed.to_string() != text {
        bail!("Could not parse --sign-identity: repository name must be canonical");
    }
    Ok(parsed)
}

/// Simple signing with a GnuPG key, for one identity.
#[derive(Debug)]
struct SimpleSigner {
    signer: GpgSigner,
    identity: String,
}

#[async_trait::async_trait]
impl ManifestSigner for SimpleSigner {
    fn progress_message(&self) -> String {
        skopos_trust::SIMPLE_SIGNING_PROGRESS.to_string()
    }

    async fn sign(&self, manifest: &[u8]) -> skopos_core::Result<Vec<u8>> {
        let (signer, identity, manifest) = (
            self.signer.clone(),
            self.identity.clone(),
            manifest.to_vec(),
        );
        // gpg runs as a child process; wait for it off the async threads.
        tokio::task::spawn_blocking(move || {
            skopos_trust::sign_manifest(&manifest, &identity, &signer)
        })
        .await
        .map_err(|err| anyhow!("signing task failed: {err}"))?
    }
}
