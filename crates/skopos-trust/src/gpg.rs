//! The user's GnuPG, reached by running the `gpg` program (as git does) rather than by
//! reading keyrings: signing then works with every keyring format, agent and smartcard
//! setup the user has, and no secret key material ever passes through skopos.

use std::io::Write as _;
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context as _, Result};
use skopos_core::Secret;

/// The program run; `GNUPGHOME` and the user's configuration apply as for any `gpg` call.
const GPG: &str = "gpg";

/// Signs with one secret key of the user's GnuPG keyring.
#[derive(Debug, Clone)]
pub struct GpgSigner {
    key: String,
    passphrase: Option<Secret>,
}

impl GpgSigner {
    /// A signer using the key `key` (a fingerprint or anything `gpg --local-user` takes),
    /// unlocked with `passphrase` when given (otherwise gpg-agent asks the user, if it
    /// needs to). containers/image refuses passphrases with line breaks; so do we, since
    /// gpg reads the passphrase as one line.
    pub fn new(key: &str, passphrase: Option<Secret>) -> Result<GpgSigner> {
        if key.is_empty() {
            bail!("no key identity provided for simple signing");
        }
        if passphrase
            .as_ref()
            .is_some_and(|p| p.expose().contains(['\n', '\r']))
        {
            bail!("invalid passphrase: must not contain a line break");
        }
        Ok(GpgSigner {
            key: key.to_string(),
            passphrase,
        })
    }

    /// A binary OpenPGP signed message holding `contents` (`gpg --sign`, as gpgme's
    /// normal-mode signature is).
    pub fn sign(&self, contents: &[u8]) -> Result<Vec<u8>> {
        let tmp = tempfile::NamedTempFile::new().context("creating a temporary file")?;
        std::fs::write(tmp.path(), contents).context("writing the data to sign")?;
        let mut command = Command::new(GPG);
        command.args(["--batch", "--no-tty", "--yes"]);
        if self.passphrase.is_some() {
            // The passphrase goes through a pipe on stdin, never the command line.
            command.args(["--pinentry-mode", "loopback", "--passphrase-fd", "0"]);
        }
        command
            .args(["--local-user", &self.key, "--sign", "--output", "-"])
            .arg(tmp.path())
            .stdin(if self.passphrase.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|err| anyhow!("running {GPG}: {err}"))?;
        if let (Some(passphrase), Some(mut stdin)) = (&self.passphrase, child.stdin.take()) {
            // gpg may exit before reading it (an unknown key); that is reported below.
            let _ = stdin.write_all(format!("{}\n", passphrase.expose()).as_bytes());
        }
        let output = child
            .wait_with_output()
            .map_err(|err| anyhow!("running {GPG}: {err}"))?;
        if !output.status.success() || output.stdout.is_empty() {
            bail!("{}", gpg_failure(&output.stderr));
        }
        Ok(output.stdout)
    }
}

/// Every public key of the user's GnuPG keyring (`gpg --export`), for verifying with
/// "local GPG keys".
pub fn export_public_keys() -> Result<Vec<u8>> {
    let output = Command::new(GPG)
        .args(["--batch", "--no-tty", "--export"])
        .stdin(Stdio::null())
        .output()
        .map_err(|err| anyhow!("running {GPG}: {err}"))?;
    if !output.status.success() {
        bail!("{}", gpg_failure(&output.stderr));
    }
    Ok(output.stdout)
}

/// The reason gpg gives: its last `gpg: ` message line (prefix dropped), else its exit.
fn gpg_failure(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.lines()
        .rev()
        .find_map(|line| line.strip_prefix("gpg: "))
        .map(str::to_string)
        .unwrap_or_else(|| format!("{GPG} failed"))
}
