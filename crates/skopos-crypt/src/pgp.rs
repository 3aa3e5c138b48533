//! The `pgp` key wrapper (ocicrypt's `keywrap/pgp`): the layer's private options in an
//! OpenPGP message encrypted to every recipient (integrity-protected, AES-256, not
//! compressed).
//!
//! As in skopeo, `pgp:` recipients are GnuPG user IDs, matched by name or e-mail address
//! against the public keyring `gpg --batch --export` prints (GnuPG's own home directory,
//! `$GNUPGHOME` included). Decryption keys are OpenPGP keyrings in binary form
//! (`gpg --export-secret-keys`) given as `--decryption-key FILE[:PASSWORD]`.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::process::Command;

use anyhow::{anyhow, bail, Result};
use pgp::composed::{
    Message, MessageBuilder, PublicOrSecret, SignedPublicKey, SignedPublicSubKey, SignedSecretKey,
};
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::{KeyFlags, Signature, SignatureType};
use pgp::types::{KeyDetails, Password, Timestamp};
use rand_core::OsRng;

/// A wrapped key is the private options JSON, a few hundred bytes: anything much larger
/// is refused rather than decompressed into memory.
const MAX_UNWRAPPED: u64 = 1 << 20;

/// `pgp:` recipients and their public keys.
#[derive(Debug, Clone)]
pub struct Recipients {
    /// The keys to encrypt to, or why not all recipients have one: ocicrypt reports that
    /// when it wraps a layer's key, so skopos does too.
    keys: std::result::Result<Vec<SignedPublicKey>, String>,
}

impl Recipients {
    /// Looks `recipients` up in the keyring `gpg2` (else `gpg`) exports, as ocicrypt does;
    /// `None` when neither is installed (ocicrypt then leaves `pgp:` recipients out).
    pub fn from_gpg_keyring(recipients: &[String]) -> Result<Option<Recipients>> {
        let search_path = std::env::var_os("PATH");
        let Some(gpg) = ["gpg2", "gpg"]
            .into_iter()
            .find_map(|name| skopos_core::exec::look_path(name, search_path.as_deref()))
        else {
            return Ok(None);
        };
        let output = Command::new(&gpg)
            .args(["--batch", "--export"])
            .output()
            .map_err(|e| anyhow!("error from {}: {e}", gpg.display()))?;
        if !output.status.success() {
            bail!(
                "error from {}: {}",
                gpg.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(Some(Recipients::from_keyring(&output.stdout, recipients)))
    }

    /// The keys in binary `keyring` with a user ID naming one of `recipients`.
    pub fn from_keyring(keyring: &[u8], recipients: &[String]) -> Recipients {
        Recipients {
            keys: select_recipients(keyring, recipients),
        }
    }
}

/// ocicrypt's `createEntityList`: every key with a user ID whose name or address is a
/// recipient; every recipient must be found.
fn select_recipients(
    keyring: &[u8],
    recipients: &[String],
) -> std::result::Result<Vec<SignedPublicKey>, String> {
    let mut found: BTreeMap<&str, usize> = recipients.iter().map(|r| (r.as_str(), 0)).collect();
    let mut selected = Vec::new();
    for key in public_keys(keyring) {
        for user in &key.details.users {
            let user_id = String::from_utf8_lossy(user.id.id());
            let (name, address) = parse_address(&user_id)?;
            for recipient in recipients {
                if name == recipient.as_str() || address == recipient.as_str() {
                    selected.push(key.clone());
                    *found.entry(recipient.as_str()).or_default() += 1;
                }
            }
        }
    }
    let missing: Vec<&str> = found
        .into_iter()
        .filter_map(|(recipient, count)| (count == 0).then_some(recipient))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "PGP: No key found for the following recipients: {}",
            missing.join(", ")
        ));
    }
    Ok(selected)
}

/// The public keys of a binary keyring; keys rPGP cannot parse are skipped, as go-crypto
/// skips unsupported ones.
fn public_keys(keyring: &[u8]) -> Vec<SignedPublicKey> {
    let Ok(keys) = PublicOrSecret::from_bytes_many(keyring) else {
        return Vec::new();
    };
    keys.filter_map(|key| match key.ok()? {
        PublicOrSecret::Public(key) => Some(key),
        PublicOrSecret::Secret(key) => Some(key.to_public_key()),
    })
    .collect()
}

/// A user ID as Go's `mail.ParseAddress` reads it, for the forms GnuPG writes:
/// `Name <address>`, `"Name" <address>` or a bare address; (name, address).
fn parse_address(user_id: &str) -> std::result::Result<(String, String), String> {
    let trimmed = user_id.trim();
    if let Some(open) = trimmed.rfind('<').filter(|_| trimmed.ends_with('>')) {
        let name = trimmed[..open].trim().trim_matches('"').to_string();
        let address = trimmed[open + 1..trimmed.len() - 1].to_string();
        if !address.contains('@') {
            return Err("mail: missing @ in addr-spec".to_string());
        }
        return Ok((name, address));
    }
    if trimmed.contains('@') && !trimmed.contains(char::is_whitespace) {
        return Ok((String::new(), trimmed.to_string()));
    }
    if trimmed.is_empty() {
        return Err("mail: no address".to_string());
    }
    // Go tells a lone word (maybe a truncated address) from a phrase (a name).
    if trimmed.contains(char::is_whitespace) {
        Err("mail: no angle-addr".to_string())
    } else {
        Err("mail: missing '@' or angle-addr".to_string())
    }
}

/// Encrypt `plaintext` to `recipients` (`WrapKeys`).
pub fn wrap(recipients: &Recipients, plaintext: &[u8]) -> Result<Vec<u8>> {
    let keys = recipients
        .keys
        .as_ref()
        .map_err(|e| anyhow!("unable to create entity list: {e}"))?;
    let mut builder = MessageBuilder::from_bytes("", plaintext.to_vec())
        .seipd_v1(OsRng, SymmetricKeyAlgorithm::AES256);
    let now = Timestamp::now().as_secs();
    for key in keys {
        if let Some(subkey) = encryption_subkey(key, now) {
            builder.encrypt_to_key(OsRng, &subkey.key)?;
        } else if primary_encrypts(key) {
            builder.encrypt_to_key(OsRng, &key.primary_key)?;
        } else {
            let id: [u8; 8] = key
                .primary_key
                .legacy_key_id()
                .as_ref()
                .try_into()
                .map_err(|_| anyhow!("openpgp: invalid key id"))?;
            bail!(
                "openpgp: invalid argument: cannot encrypt a message to key id {:x} because it has no valid encryption keys",
                u64::from_be_bytes(id)
            );
        }
    }
    Ok(builder.to_vec(OsRng)?)
}

/// The newest subkey validly bound for encryption, unexpired and not revoked, as
/// go-crypto's `Entity.EncryptionKey` picks it.
fn encryption_subkey(key: &SignedPublicKey, now: u32) -> Option<&SignedPublicSubKey> {
    let bound = |subkey: &SignedPublicSubKey, signature: &Signature| {
        signature
            .verify_subkey_binding(&key.primary_key, &subkey.key)
            .is_ok()
    };
    key.public_subkeys
        .iter()
        .filter(|subkey| subkey.key.algorithm().can_encrypt())
        .filter(|subkey| {
            let created = subkey.key.created_at().as_secs();
            subkey.signatures.iter().any(|signature| {
                signature.typ() == Some(SignatureType::SubkeyBinding)
                    && encrypts(&signature.key_flags())
                    && !expired(signature, created, now)
                    && bound(subkey, signature)
            }) && !subkey.signatures.iter().any(|signature| {
                signature.typ() == Some(SignatureType::SubkeyRevocation) && bound(subkey, signature)
            })
        })
        .max_by_key(|subkey| subkey.key.created_at().as_secs())
}

fn encrypts(flags: &KeyFlags) -> bool {
    flags.encrypt_comms() || flags.encrypt_storage()
}

fn expired(signature: &Signature, created: u32, now: u32) -> bool {
    let lifetime = signature
        .key_expiration_time()
        .map_or(0, |d| std::time::Duration::from(d).as_secs());
    lifetime != 0 && u64::from(created) + lifetime <= u64::from(now)
}

/// Whether the primary key itself may encrypt: an encryption algorithm, and its newest
/// self-signature allows it or (as go-crypto reads it) says nothing about usage.
fn primary_encrypts(key: &SignedPublicKey) -> bool {
    if !key.primary_key.algorithm().can_encrypt() {
        return false;
    }
    let newest = key
        .details
        .users
        .iter()
        .flat_map(|user| &user.signatures)
        .max_by_key(|signature| signature.created().map(|t| t.as_secs()));
    newest.is_none_or(|signature| {
        let flags = signature.key_flags();
        encrypts(&flags) || flags == KeyFlags::default()
    })
}

/// One `--decryption-key` file that is an OpenPGP keyring, with the password given for it.
#[derive(Clone)]
pub struct SecretKeyring {
    keys: Vec<SignedSecretKey>,
    password: Option<Vec<u8>>,
}

impl std::fmt::Debug for SecretKeyring {
    // Never shows key material or the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKeyring({} secret keys)", self.keys.len())
    }
}

impl SecretKeyring {
    /// `data` as a keyring where ocicrypt takes one (go-crypto's `ReadKeyRing` on the
    /// file): binary OpenPGP with at least one key, or nothing at all. ASCII-armored keys
    /// are not. Public keys make a keyring too, one that decrypts nothing.
    pub fn parse(data: &[u8], password: Option<Vec<u8>>) -> Option<SecretKeyring> {
        let mut keys = Vec::new();
        if let Some(first) = data.first() {
            // A packet tag always has its top bit set.
            if first & 0x80 == 0 {
                return None;
            }
            let mut any_key = false;
            for key in PublicOrSecret::from_bytes_many(data).ok()?.flatten() {
                any_key = true;
                if let PublicOrSecret::Secret(key) = key {
                    keys.push(key);
                }
            }
            if !any_key {
                return None;
            }
        }
        Some(SecretKeyring { keys, password })
    }
}

/// Decrypt an OpenPGP message with the first keyring that opens it (`UnwrapKey`).
pub fn unwrap(message: &[u8], keyrings: &[SecretKeyring]) -> Result<Vec<u8>> {
    keyrings
        .iter()
        .find_map(|keyring| open(message, keyring))
        .ok_or_else(|| anyhow!("PGP: No suitable key found to unwrap key"))
}

fn open(message: &[u8], keyring: &SecretKeyring) -> Option<Vec<u8>> {
    if keyring.keys.is_empty() {
        return None;
    }
    let password = keyring
        .password
        .as_deref()
        .map_or_else(Password::empty, Password::from);
    let message = Message::from_bytes(message).ok()?;
    let mut message = message
        .decrypt_with_keys(
            vec![&password; keyring.keys.len()],
            keyring.keys.iter().collect(),
        )
        .ok()?;
    if message.is_compressed() {
        message = message.decompress().ok()?;
    }
    let mut plaintext = Vec::new();
    // Reading to the end checks the message's integrity (MDC) too.
    (&mut message)
        .take(MAX_UNWRAPPED + 1)
        .read_to_end(&mut plaintext)
        .ok()?;
    (plaintext.len() as u64 <= MAX_UNWRAPPED).then_some(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_read_as_go_mail_addresses() {
        let parsed = |id: &str| parse_address(id);
        assert_eq!(
            parsed("Alice Example <alice@example.com>"),
            Ok(("Alice Example".into(), "alice@example.com".into()))
        );
        assert_eq!(
            parsed("\"Alice\" <alice@example.com>"),
            Ok(("Alice".into(), "alice@example.com".into()))
        );
        assert_eq!(
            parsed("alice@example.com"),
            Ok((String::new(), "alice@example.com".into()))
        );
        assert_eq!(
            parsed("Alice"),
            Err("mail: missing '@' or angle-addr".into())
        );
        assert_eq!(parsed("Alice Example"), Err("mail: no angle-addr".into()));
    }

    #[test]
    fn keyrings_are_what_go_crypto_reads_as_one() {
        // Text (armored keys included) is not a keyring; an empty file is an empty one.
        assert!(SecretKeyring::parse(b"just text\n", None).is_none());
        assert!(SecretKeyring::parse(b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n", None).is_none());
        let empty = SecretKeyring::parse(b"", None).unwrap();
        assert_eq!(
            unwrap(b"", &[empty]).unwrap_err().to_string(),
            "PGP: No suitable key found to unwrap key"
        );
    }

    #[test]
    fn every_recipient_must_be_found() {
        let recipients = Recipients::from_keyring(b"", &["b@x".into(), "a@x".into()]);
        assert_eq!(
            wrap(&recipients, b"{}").unwrap_err().to_string(),
            "unable to create entity list: PGP: No key found for the following recipients: a@x, b@x"
        );
    }
}
