//! The layer cipher's options as ocicrypt serializes them (Go's `encoding/json`: byte
//! strings in standard base64, map keys sorted): the private part is what the key wrappers
//! encrypt for each recipient, the public part goes into the
//! `org.opencontainers.image.enc.pubopts` annotation.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The only layer cipher ocicrypt has.
pub const CIPHER_AES_256_CTR_HMAC_SHA256: &str = "AES_256_CTR_HMAC_SHA256";

/// Secret per-layer options (`PrivateLayerBlockCipherOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateOptions {
    /// The symmetric key.
    #[serde(with = "go_bytes", default)]
    pub symkey: Vec<u8>,
    /// The digest of the plaintext blob.
    #[serde(default)]
    pub digest: String,
    /// Cipher parameters (`nonce`).
    #[serde(rename = "cipheroptions", with = "go_byte_map", default)]
    pub cipher_options: BTreeMap<String, Vec<u8>>,
}

/// Public per-layer options (`PublicLayerBlockCipherOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicOptions {
    /// The cipher's name.
    #[serde(default)]
    pub cipher: String,
    /// HMAC-SHA256 of the ciphertext.
    #[serde(with = "go_bytes", default)]
    pub hmac: Vec<u8>,
    /// Public cipher parameters (none for AES-CTR).
    #[serde(rename = "cipheroptions", with = "go_byte_map", default)]
    pub cipher_options: BTreeMap<String, Vec<u8>>,
}

/// Go's `[]byte` in JSON: standard base64, `null` for nil.
mod go_bytes {
    use super::*;

    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        decode(text.as_deref().unwrap_or_default())
    }

    pub(super) fn decode<E: serde::de::Error>(text: &str) -> Result<Vec<u8>, E> {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| E::custom("illegal base64 data"))
    }
}

/// Go's `map[string][]byte` in JSON.
mod go_byte_map {
    use super::*;
    use serde::ser::SerializeMap;

    pub fn serialize<S: serde::Serializer>(
        map: &BTreeMap<String, Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(map.len()))?;
        for (key, value) in map {
            out.serialize_entry(
                key,
                &base64::engine::general_purpose::STANDARD.encode(value),
            )?;
        }
        out.end()
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Vec<u8>>, D::Error> {
        let map: Option<BTreeMap<String, String>> = Option::deserialize(d)?;
        map.unwrap_or_default()
            .into_iter()
            .map(|(k, v)| Ok((k, go_bytes::decode(&v)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_ocicrypt() {
        let private = PrivateOptions {
            symkey: vec![1, 2, 3],
            digest: "sha256:00".to_string(),
            cipher_options: [("nonce".to_string(), vec![4, 5])].into(),
        };
        assert_eq!(
            serde_json::to_string(&private).unwrap(),
            r#"{"symkey":"AQID","digest":"sha256:00","cipheroptions":{"nonce":"BAU="}}"#
        );
        let public = PublicOptions {
            cipher: CIPHER_AES_256_CTR_HMAC_SHA256.to_string(),
            hmac: vec![9],
            cipher_options: BTreeMap::new(),
        };
        assert_eq!(
            serde_json::to_string(&public).unwrap(),
            r#"{"cipher":"AES_256_CTR_HMAC_SHA256","hmac":"CQ==","cipheroptions":{}}"#
        );
        let back: PrivateOptions =
            serde_json::from_str(&serde_json::to_string(&private).unwrap()).unwrap();
        assert_eq!(back, private);
    }
}
