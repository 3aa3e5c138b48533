//! OCI layer encryption in ocicrypt's format, as skopeo's `--encryption-key`,
//! `--encrypt-layer` and `--decryption-key` use it.
//!
//! A layer is encrypted with a fresh AES-256 key in CTR mode, authenticated by an HMAC-SHA256
//! over the ciphertext ([`layer_cipher`]). The key and nonce (the "private options", JSON) are
//! wrapped for every recipient by key wrappers ([`jwe`], [`pkcs7`], [`pgp`], [`provider`]) into
//! `org.opencontainers.image.enc.keys.<scheme>` annotations; the HMAC goes into
//! `org.opencontainers.image.enc.pubopts`. The layer's media type gains `+encrypted`.
//! Both directions are stream transforms: nothing holds a whole layer in memory.
//!
//! Where it fits: the copy engine (skopos-copy) applies [`encrypt_layer`] or
//! [`decrypt_layer`] to each layer stream between source and destination; the command line
//! builds the [`EncryptConfig`] / [`DecryptConfig`] from the key files it is given.

#![deny(missing_docs)]

pub mod config;
pub mod jwe;
pub mod jwk;
pub mod keys;
pub mod layer;
pub mod layer_cipher;
pub mod legacy_pem;
pub mod options;
pub mod pgp;
pub mod pkcs7;
pub mod provider;

pub use config::{DecryptConfig, EncryptConfig};
pub use layer::{decrypt_layer, encrypt_layer, is_encrypted_media_type, LayerEncryption};
