//! Which keys to encrypt to and decrypt with, from skopeo's `--encryption-key` and
//! `--decryption-key` values (ocicrypt's `helpers.CreateCryptoConfig`), with its messages.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use skopos_core::go::text::go_errno_text;

use x509_cert::Certificate;

use crate::keys::{JweRecipient, PrivateKey};
use crate::legacy_pem::EncryptedPem;
use crate::pgp;
use crate::provider::{self, ProviderAttrs};

/// The recipients every encrypted layer's key is wrapped for.
#[derive(Debug, Clone, Default)]
pub struct EncryptConfig {
    /// `jwe:` recipients.
    pub jwe: Vec<JweRecipient>,
    /// `pkcs7:` certificates.
    pub pkcs7: Vec<Certificate>,
    /// `pgp:` recipients (none without `pgp:` values or without GnuPG installed).
    pub pgp: Option<pgp::Recipients>,
    /// `provider:NAME[:VALUE]` parameters by provider name.
    pub provider_parameters: BTreeMap<String, Vec<Vec<u8>>>,
    /// The key providers `$OCICRYPT_KEYPROVIDER_CONFIG` configures.
    pub providers: BTreeMap<String, ProviderAttrs>,
}

/// The keys tried on every encrypted layer.
#[derive(Debug, Clone, Default)]
pub struct DecryptConfig {
    /// Private keys (JWE, and PKCS #7 with `certificates`).
    pub private_keys: Vec<PrivateKey>,
    /// Certificates given as decryption keys: PKCS #7 recipients are found by them.
    pub certificates: Vec<Certificate>,
    /// OpenPGP keyrings given as decryption keys, with their passwords.
    pub pgp_keyrings: Vec<pgp::SecretKeyring>,
    /// `provider:NAME[:VALUE]` parameters by provider name.
    pub provider_parameters: BTreeMap<String, Vec<Vec<u8>>>,
    /// The key providers `$OCICRYPT_KEYPROVIDER_CONFIG` configures.
    pub providers: BTreeMap<String, ProviderAttrs>,
}

/// A key, certificate or provider configuration file, bounded as every configuration file is.
fn read_file(path: &str) -> std::io::Result<Vec<u8>> {
    skopos_core::limits::read_file_at_most_blocking(
        std::path::Path::new(path),
        skopos_core::limits::MAX_CONFIG_FILE,
    )
}

fn open_error(path: &str, err: &std::io::Error) -> String {
    format!("open {path}: {}", go_errno_text(err))
}

impl EncryptConfig {
    /// Parse `--encryption-key` values (`PROTOCOL:VALUE`); errors read as ocicrypt's.
    pub fn from_recipients(recipients: &[String]) -> Result<EncryptConfig> {
        let mut config = EncryptConfig::default();
        let mut pgp_recipients = Vec::new();
        for recipient in recipients {
            let Some((protocol, value)) = recipient.split_once(':') else {
                bail!("Invalid recipient format");
            };
            match protocol {
                "jwe" => {
                    let data = read_file(value)
                        .map_err(|e| anyhow!("Unable to read file: {}", open_error(value, &e)))?;
                    let key = JweRecipient::parse(&data)
                        .ok_or_else(|| anyhow!("File provided is not a public key"))?;
                    config.jwe.push(key);
                }
                "provider" => provider::add_parameter(&mut config.provider_parameters, value),
                "pkcs7" => {
                    let data = read_file(value)
                        .map_err(|e| anyhow!("Unable to read file: {}", open_error(value, &e)))?;
                    let certificate = crate::pkcs7::parse_certificate(&data)
                        .ok_or_else(|| anyhow!("File provided is not an x509 cert"))?;
                    config.pkcs7.push(certificate);
                }
                "pgp" => pgp_recipients.push(value.to_string()),
                "pkcs11" => bail!("pkcs11 encryption keys are not supported by skopos yet"),
                _ => bail!("Provided protocol not recognized"),
            }
        }
        if !pgp_recipients.is_empty() {
            config.pgp = pgp::Recipients::from_gpg_keyring(&pgp_recipients)?;
        }
        if !config.provider_parameters.is_empty() {
            config.providers = provider::configured_providers()?;
        }
        Ok(config)
    }
}

impl DecryptConfig {
    /// Parse `--decryption-key` values (`FILE[:PASSWORD]`); files that are not keys are
    /// ignored, as ocicrypt does.
    pub fn from_key_files(keys: &[String]) -> Result<DecryptConfig> {
        let mut config = DecryptConfig::default();
        for key in keys {
            if let Some(spec) = key.strip_prefix("provider:") {
                provider::add_parameter(&mut config.provider_parameters, spec);
                continue;
            }
            let parts: Vec<&str> = key.split(':').collect();
            let password = if parts.len() == 2 {
                Some(password_bytes(parts[1])?)
            } else {
                None
            };
            let path = parts[0];
            let data = read_file(path).map_err(|e| anyhow!("{}", open_error(path, &e)))?;
            if let Some(certificate) = crate::pkcs7::parse_certificate(&data) {
                config.certificates.push(certificate);
            }
            if let Some(block) = EncryptedPem::find(&data) {
                // ocicrypt's ParsePrivateKey: a key it cannot decrypt stops the command, one
                // it decrypts but cannot read is ignored as any other file that is no key.
                let Some(password) = &password else {
                    bail!(": Missing password for encrypted private key");
                };
                let der = block
                    .decrypt(password)
                    .map_err(|_| anyhow!(": Wrong password: could not decrypt private key"))?;
                if let Some(private) = PrivateKey::from_pem_contents(&der) {
                    config.private_keys.push(private);
                }
                continue;
            }
            if let Some(private) = PrivateKey::parse(&data) {
                config.private_keys.push(private);
            } else if let Some(keyring) = pgp::SecretKeyring::parse(&data, password) {
                config.pgp_keyrings.push(keyring);
            }
        }
        // ocicrypt asks every configured provider whose keys a layer carries, named on the
        // command line or not.
        config.providers = provider::configured_providers()?;
        Ok(config)
    }
}

/// A password in ocicrypt's forms: `file=PATH`, `pass=TEXT`, `fd=N` or the text itself.
fn password_bytes(spec: &str) -> Result<Vec<u8>> {
    if let Some(path) = spec.strip_prefix("file=") {
        return read_file(path).map_err(|e| anyhow!("{}", open_error(path, &e)));
    }
    if let Some(text) = spec.strip_prefix("pass=") {
        return Ok(text.as_bytes().to_vec());
    }
    if let Some(fd) = spec.strip_prefix("fd=") {
        let fd: i32 = fd
            .parse()
            .map_err(|_| anyhow!("could not parse file descriptor {fd}"))?;
        let path = format!("/proc/self/fd/{fd}");
        let mut bytes =
            read_file(&path).map_err(|_| anyhow!("{fd} is not a valid file descriptor"))?;
        // ocicrypt reads at most 64 bytes.
        bytes.truncate(64);
        return Ok(bytes);
    }
    Ok(spec.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_errors_read_as_ocicrypt() {
        let err = |v: &str| {
            EncryptConfig::from_recipients(&[v.to_string()])
                .unwrap_err()
                .to_string()
        };
        assert_eq!(err("nocolon"), "Invalid recipient format");
        assert_eq!(err("xyz:abc"), "Provided protocol not recognized");
        assert_eq!(
            err("jwe:/nonexistent-skopos"),
            "Unable to read file: open /nonexistent-skopos: no such file or directory"
        );
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk");
        std::fs::write(&junk, "not a key").unwrap();
        assert_eq!(
            err(&format!("jwe:{}", junk.display())),
            "File provided is not a public key"
        );
        // A file that is no key is ignored when decrypting.
        let config = DecryptConfig::from_key_files(&[junk.display().to_string()]).unwrap();
        assert!(config.private_keys.is_empty());
    }
}
