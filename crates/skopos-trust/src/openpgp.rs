//! OpenPGP signature verification in pure Rust (rPGP), with the behaviour and messages of
//! containers/image's Go OpenPGP mechanism (`mechanism_openpgp.go`), which skopeo 1.22.2
//! is built with: a keyring of trusted public keys, binary signed messages (optionally
//! compressed), the key's primary fingerprint as the signer's identity.

use std::io::Read as _;

use anyhow::{anyhow, bail, Result};
use pgp::composed::{Deserializable as _, Message, SignedPublicKey};
use pgp::packet::Signature;
use pgp::packet::SignatureType;
use pgp::types::{KeyDetails as _, KeyId, Tag};

/// Signed contents larger than this are refused: simple-signing payloads are a few
/// hundred bytes, and a hostile signature must not make us buffer gigabytes.
const MAX_SIGNED_CONTENTS: u64 = 4 << 20;

/// Trusted public keys (containers/image's ephemeral GPG mechanism).
#[derive(Debug, Default)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
}

impl Keyring {
    /// A keyring holding every public key in `blobs` (each binary or ASCII-armored, one
    /// or more keys), and the keys' fingerprints (upper-case hex), in order.
    pub fn import(blobs: &[Vec<u8>]) -> Result<(Keyring, Vec<String>)> {
        let mut keyring = Keyring::default();
        let mut fingerprints = Vec::new();
        for blob in blobs {
            if blob.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let (keys, _headers) = SignedPublicKey::from_reader_many(&blob[..])
                .map_err(|err| anyhow!("openpgp: invalid data: {err}"))?;
            for key in keys {
                let key = key.map_err(|err| anyhow!("openpgp: invalid data: {err}"))?;
                fingerprints.push(primary_fingerprint(&key));
                keyring.keys.push(key);
            }
        }
        Ok((keyring, fingerprints))
    }

    /// Verify `signature` (a signed OpenPGP message) against the keyring: the signed
    /// contents and the primary fingerprint of the key that made it.
    pub fn verify(&self, signature: &[u8]) -> Result<(Vec<u8>, String)> {
        let (mut message, contents) = read_signed_message(signature)?;
        let Message::Signed { reader, .. } = &mut message else {
            bail!("not signed");
        };
        let Some(packet) = reader.signature(0).cloned() else {
            bail!("not signed");
        };
        let issuer = issuer_key_id(&packet)?;
        let Some((key, subkey)) = self.find(&issuer) else {
            bail!(
                "Key not found for key ID {:x} in signature",
                u64::from_be_bytes(*issuer.as_ref().first_chunk::<8>().unwrap_or(&[0; 8]))
            );
        };
        let verified = match subkey {
            None => message.verify(&key.primary_key),
            Some(index) => message.verify(&key.public_subkeys[index].key),
        };
        verified.map_err(|err| anyhow!("signature error: {err}"))?;
        check_key_is_valid(key, subkey, chrono::Utc::now().timestamp())?;
        if let (Some(created), Some(lifetime)) =
            (packet.created(), packet.signature_expiration_time())
        {
            let expiry = i64::from(created.as_secs()) + lifetime.as_secs() as i64;
            if chrono::Utc::now().timestamp() > expiry {
                let expiry = chrono::DateTime::from_timestamp(expiry, 0).unwrap_or_default();
                bail!(
                    "Signature expired on {}",
                    expiry.format("%Y-%m-%d %H:%M:%S +0000 UTC")
                );
            }
        }
        Ok((contents, primary_fingerprint(key)))
    }

    /// The key (and the index of its subkey, if it is one) with `key_id`.
    fn find(&self, key_id: &KeyId) -> Option<(&SignedPublicKey, Option<usize>)> {
        self.keys.iter().find_map(|key| {
            if key.primary_key.legacy_key_id() == *key_id {
                return Some((key, None));
            }
            key.public_subkeys
                .iter()
                .position(|subkey| subkey.key.legacy_key_id() == *key_id)
                .map(|index| (key, Some(index)))
        })
    }
}

/// Refuse signatures by a revoked or expired key, or subkey, as GnuPG does. Only
/// revocations and self-signatures that verify count: anyone can append packets to a
/// public key.
fn check_key_is_valid(key: &SignedPublicKey, subkey: Option<usize>, now: i64) -> Result<()> {
    let primary = &key.primary_key;
    let fingerprint = primary_fingerprint(key);
    if key
        .details
        .revocation_signatures
        .iter()
        .any(|signature| signature.verify_key(primary).is_ok())
    {
        bail!("key {fingerprint} has been revoked");
    }
    // The newest valid self-certification says when the primary key expires.
    let newest_certification = key
        .details
        .users
        .iter()
        .flat_map(|user| {
            user.signatures.iter().filter(move |signature| {
                signature
                    .verify_certification(primary, Tag::UserId, &user.id)
                    .is_ok()
            })
        })
        .max_by_key(|signature| signature.created().map(|t| t.as_secs()));
    let primary_created = i64::from(primary.created_at().as_secs());
    if let Some(lifetime) = newest_certification.and_then(|s| s.key_expiration_time()) {
        check_not_expired(
            &fingerprint,
            primary_created,
            lifetime.as_secs().into(),
            now,
        )?;
    }
    if let Some(index) = subkey {
        let subkey = &key.public_subkeys[index];
        let bindings: Vec<_> = subkey
            .signatures
            .iter()
            // Binding and revocation signatures alike.
            .filter(|signature| {
                signature
                    .verify_subkey_binding(primary, &subkey.key)
                    .is_ok()
            })
            .collect();
        if bindings
            .iter()
            .any(|signature| signature.typ() == Some(SignatureType::SubkeyRevocation))
        {
            bail!(
                "subkey {} of key {fingerprint} has been revoked",
                hex_upper(subkey.key.fingerprint().as_bytes())
            );
        }
        let newest_binding = bindings
            .iter()
            .max_by_key(|signature| signature.created().map(|t| t.as_secs()));
        if let Some(lifetime) = newest_binding.and_then(|s| s.key_expiration_time()) {
            let created = i64::from(subkey.key.created_at().as_secs());
            check_not_expired(&fingerprint, created, lifetime.as_secs().into(), now)?;
        }
    }
    Ok(())
}

fn check_not_expired(fingerprint: &str, created: i64, lifetime: u64, now: i64) -> Result<()> {
    // A zero lifetime means the key does not expire.
    if lifetime == 0 {
        return Ok(());
    }
    let expiry = created.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
    if now > expiry {
        let when = chrono::DateTime::from_timestamp(expiry, 0).unwrap_or_default();
        bail!(
            "key {fingerprint} expired on {}",
            when.format("%Y-%m-%d %H:%M:%S +0000 UTC")
        );
    }
    Ok(())
}

/// The contents of a signed message and the ID of the key that claims to have signed it
/// (16 upper-case hex digits), without checking the signature: only for showing what a
/// signature says (`untrusted-signature-dump-without-verification`).
pub fn untrusted_contents(signature: &[u8]) -> Result<(Vec<u8>, String)> {
    let (message, contents) =
        read_signed_message(signature).map_err(|err| match err.to_string().as_str() {
            "not signed" => anyhow!("The input is not a signature"),
            _ => err,
        })?;
    let Message::Signed { reader, .. } = &message else {
        bail!("The input is not a signature");
    };
    let key_id = match reader.signature(0) {
        Some(packet) => issuer_key_id(packet)?,
        None => bail!("The input is not a signature"),
    };
    Ok((contents, hex_upper(key_id.as_ref())))
}

/// Parse a binary signed message, decompressing it as needed, and read its contents
/// (which the signature check needs read to the end).
fn read_signed_message(signature: &[u8]) -> Result<(Message<'_>, Vec<u8>)> {
    let mut message = Message::from_bytes(signature).map_err(|err| anyhow!("openpgp: {err}"))?;
    while message.is_compressed() {
        message = message
            .decompress()
            .map_err(|err| anyhow!("openpgp: {err}"))?;
    }
    if !message.is_signed() {
        bail!("not signed");
    }
    let mut contents = Vec::new();
    (&mut message)
        .take(MAX_SIGNED_CONTENTS + 1)
        .read_to_end(&mut contents)
        .map_err(|err| anyhow!("openpgp: {err}"))?;
    if contents.len() as u64 > MAX_SIGNED_CONTENTS {
        bail!("signed contents larger than {MAX_SIGNED_CONTENTS} bytes");
    }
    Ok((message, contents))
}

/// The issuer key ID a signature names (from its fingerprint subpacket if it has no ID).
fn issuer_key_id(packet: &Signature) -> Result<KeyId> {
    if let Some(id) = packet.issuer_key_id().first() {
        return Ok(**id);
    }
    if let Some(fingerprint) = packet.issuer_fingerprint().first() {
        // A v4 key ID is the last 8 bytes of its fingerprint.
        if let Some(tail) = fingerprint.as_bytes().last_chunk::<8>() {
            return Ok(KeyId::from(*tail));
        }
    }
    bail!("signature names no issuer key")
}

fn primary_fingerprint(key: &SignedPublicKey) -> String {
    hex_upper(key.primary_key.fingerprint().as_bytes())
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
