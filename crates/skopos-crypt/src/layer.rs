//! Encrypting and decrypting one layer stream, and the annotations that carry its keys
//! (ocicrypt's `EncryptLayer` / `DecryptLayer`).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use skopos_core::BlobReader;

use crate::config::{DecryptConfig, EncryptConfig};
use crate::layer_cipher::{DecryptingReader, EncryptingReader, EncryptionResult};
use crate::options::{PrivateOptions, PublicOptions};
use crate::provider;

/// The annotation holding the JWE-wrapped keys.
pub const ANNOTATION_KEYS_JWE: &str = "org.opencontainers.image.enc.keys.jwe";
/// The annotation holding the PKCS #7-wrapped keys.
pub const ANNOTATION_KEYS_PKCS7: &str = "org.opencontainers.image.enc.keys.pkcs7";
/// The annotation holding the OpenPGP-wrapped keys.
pub const ANNOTATION_KEYS_PGP: &str = "org.opencontainers.image.enc.keys.pgp";
/// The annotation holding the public cipher options.
pub const ANNOTATION_PUBOPTS: &str = "org.opencontainers.image.enc.pubopts";
/// Every encryption annotation starts with this.
pub const ANNOTATION_PREFIX: &str = "org.opencontainers.image.enc.";

/// Whether a layer media type says the layer is encrypted.
pub fn is_encrypted_media_type(media_type: &str) -> bool {
    media_type.ends_with("+encrypted")
}

/// A layer being encrypted: once its stream was read to the end, [`Self::annotations`]
/// gives what the manifest must carry for it.
pub struct LayerEncryption {
    result: EncryptionResult,
    config: Arc<EncryptConfig>,
}

/// Encrypt `plain` for the recipients in `config`.
pub fn encrypt_layer(
    plain: BlobReader,
    config: Arc<EncryptConfig>,
) -> (BlobReader, LayerEncryption) {
    let (reader, result) = EncryptingReader::new(plain);
    (Box::pin(reader), LayerEncryption { result, config })
}

impl LayerEncryption {
    /// The layer's encryption annotations: the wrapped keys of each scheme and the public
    /// options. Fails if the stream was not read to its end.
    pub fn annotations(&self) -> Result<BTreeMap<String, String>> {
        let finished = self
            .result
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| anyhow!("Read()ing not complete, unable to finalize"))?;
        let private =
            serde_json::to_vec(&finished.private).context("could not JSON marshal opts")?;
        let public = serde_json::to_vec(&finished.public).context("could not JSON marshal opts")?;
        let mut annotations = BTreeMap::new();
        let config = &self.config;
        if let Some(wrapped) = crate::jwe::wrap(&config.jwe, &private)? {
            annotations.insert(ANNOTATION_KEYS_JWE.to_string(), B64.encode(wrapped));
        }
        if let Some(wrapped) = crate::pkcs7::wrap(&config.pkcs7, &private)? {
            annotations.insert(ANNOTATION_KEYS_PKCS7.to_string(), B64.encode(wrapped));
        }
        if let Some(recipients) = &config.pgp {
            let wrapped = crate::pgp::wrap(recipients, &private)?;
            annotations.insert(ANNOTATION_KEYS_PGP.to_string(), B64.encode(wrapped));
        }
        for (name, attrs) in &config.providers {
            if !config.provider_parameters.contains_key(name) {
                continue;
            }
            let parameters = &config.provider_parameters;
            if let Some(wrapped) = provider::wrap(name, attrs, parameters, &private)? {
                annotations.insert(
                    format!("{}{name}", provider::ANNOTATION_PREFIX),
                    B64.encode(wrapped),
                );
            }
        }
        if annotations.is_empty() {
            bail!("no wrapped keys produced by encryption");
        }
        annotations.insert(ANNOTATION_PUBOPTS.to_string(), B64.encode(public));
        Ok(annotations)
    }
}

/// Decrypt the layer `encrypted` whose descriptor carries `annotations`, with the keys in
/// `config`. The returned stream fails at its end if the layer's HMAC does not match.
pub fn decrypt_layer(
    encrypted: BlobReader,
    annotations: &BTreeMap<String, String>,
    config: &DecryptConfig,
) -> Result<BlobReader> {
    let private = unwrap_private_options(annotations, config)?;
    let private: PrivateOptions = serde_json::from_slice(&private)
        .map_err(|e| anyhow!("could not JSON unmarshal privOptsData: {e}"))?;
    let public: PublicOptions = match annotations.get(ANNOTATION_PUBOPTS) {
        None => PublicOptions::default(),
        Some(text) if text.is_empty() => PublicOptions::default(),
        Some(text) => {
            let bytes = B64
                .decode(text)
                .map_err(|e| anyhow!("illegal base64 data: {e}"))?;
            serde_json::from_slice(&bytes)
                .map_err(|e| anyhow!("could not JSON unmarshal pubOptsData: {e}"))?
        }
    };
    Ok(Box::pin(DecryptingReader::new(
        encrypted, &private, &public,
    )?))
}

/// The private options, unwrapped by the first scheme whose keys open them
/// (`decryptLayerKeyOptsData`), with ocicrypt's messages when none does.
fn unwrap_private_options(
    annotations: &BTreeMap<String, String>,
    config: &DecryptConfig,
) -> Result<Vec<u8>> {
    let mut private_key_given = false;
    let mut errors = String::new();
    if let Some(wrapped) = annotations
        .get(ANNOTATION_KEYS_JWE)
        .filter(|a| !a.is_empty())
    {
        if !config.private_keys.is_empty() {
            private_key_given = true;
            match each_wrapped_key(wrapped, |blob| {
                crate::jwe::unwrap(blob, &config.private_keys)
            }) {
                Ok(options) => return Ok(options),
                Err(e) => errors.push_str(&format!("{e}\n")),
            }
        }
    }
    if let Some(wrapped) = annotations
        .get(ANNOTATION_KEYS_PKCS7)
        .filter(|a| !a.is_empty())
    {
        if !config.private_keys.is_empty() {
            private_key_given = true;
            match each_wrapped_key(wrapped, |blob| {
                crate::pkcs7::unwrap(blob, &config.private_keys, &config.certificates)
            }) {
                Ok(options) => return Ok(options),
                Err(e) => errors.push_str(&format!("{e}\n")),
            }
        }
    }
    if let Some(wrapped) = annotations
        .get(ANNOTATION_KEYS_PGP)
        .filter(|a| !a.is_empty())
    {
        if !config.pgp_keyrings.is_empty() {
            private_key_given = true;
            match each_wrapped_key(wrapped, |blob| {
                crate::pgp::unwrap(blob, &config.pgp_keyrings)
            }) {
                Ok(options) => return Ok(options),
                Err(e) => errors.push_str(&format!("{e}\n")),
            }
        }
    }
    for (key, wrapped) in annotations {
        let Some(name) = key.strip_prefix(provider::ANNOTATION_PREFIX) else {
            continue;
        };
        let Some(attrs) = config.providers.get(name).filter(|_| !wrapped.is_empty()) else {
            continue;
        };
        let parameters = &config.provider_parameters;
        match each_wrapped_key(wrapped, |blob| {
            provider::unwrap(name, attrs, parameters, blob)
        }) {
            Ok(options) => return Ok(options),
            Err(e) => errors.push_str(&format!("{e}\n")),
        }
    }
    if !private_key_given {
        bail!("missing private key needed for decryption:\n{errors}");
    }
    bail!(
        "no suitable key unwrapper found or none of the private keys could be used for decryption:\n{errors}"
    )
}

/// Try `unwrap` on each comma-separated base64 blob of one scheme's annotation
/// (`preUnwrapKey`).
fn each_wrapped_key(
    annotation: &str,
    unwrap: impl Fn(&[u8]) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    let mut errors = String::new();
    for b64 in annotation.split(',') {
        let blob = B64
            .decode(b64)
            .map_err(|_| anyhow!("could not base64 decode the annotation"))?;
        match unwrap(&blob) {
            Ok(options) => return Ok(options),
            Err(e) => errors.push_str(&format!("- {e}\n")),
        }
    }
    bail!("no suitable key found for decrypting layer key:\n{errors}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{PrivateKey, PublicKey};
    use rand_core::OsRng;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn encrypts_and_decrypts_a_layer_stream() {
        let secret = p256::SecretKey::random(&mut OsRng);
        let encrypt = Arc::new(EncryptConfig {
            jwe: vec![PublicKey::P256(secret.public_key()).into()],
            ..Default::default()
        });
        let plain = b"layer bytes".repeat(1000);
        let (mut reader, encryption) =
            encrypt_layer(Box::pin(std::io::Cursor::new(plain.clone())), encrypt);
        assert!(encryption.annotations().is_err(), "not finished yet");
        let mut encrypted = Vec::new();
        reader.read_to_end(&mut encrypted).await.unwrap();
        let annotations = encryption.annotations().unwrap();
        assert_eq!(
            annotations.keys().collect::<Vec<_>>(),
            [ANNOTATION_KEYS_JWE, ANNOTATION_PUBOPTS]
        );

        let decrypt = DecryptConfig {
            private_keys: vec![PrivateKey::P256(secret)],
            ..Default::default()
        };
        let mut reader = decrypt_layer(
            Box::pin(std::io::Cursor::new(encrypted)),
            &annotations,
            &decrypt,
        )
        .unwrap();
        let mut decrypted = Vec::new();
        reader.read_to_end(&mut decrypted).await.unwrap();
        assert_eq!(decrypted, plain);

        let none = DecryptConfig::default();
        let err = decrypt_layer(Box::pin(&b""[..]), &annotations, &none)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "missing private key needed for decryption:\n"
        );
        let other = DecryptConfig {
            private_keys: vec![PrivateKey::P256(p256::SecretKey::random(&mut OsRng))],
            ..Default::default()
        };
        let err = decrypt_layer(Box::pin(&b""[..]), &annotations, &other)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "no suitable key unwrapper found or none of the private keys could be used for decryption:\n\
             no suitable key found for decrypting layer key:\n- JWE: No suitable private key found for decryption\n\n"
        );
    }
}
