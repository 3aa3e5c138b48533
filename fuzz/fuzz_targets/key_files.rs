//! Key files as `--encryption-key jwe:` and `--decryption-key` read them: DER, PEM, JWK,
//! OpenSSL's password-protected PEM (decrypted with a fixed password), OpenPGP keyrings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skopos_crypt::keys::{JweRecipient, PrivateKey};
use skopos_crypt::legacy_pem::EncryptedPem;

fuzz_target!(|bytes: &[u8]| {
    let _ = JweRecipient::parse(bytes);
    let _ = PrivateKey::parse(bytes);
    if let Some(block) = EncryptedPem::find(bytes) {
        if let Ok(der) = block.decrypt(b"password") {
            let _ = PrivateKey::from_pem_contents(&der);
        }
    }
    let _ = skopos_crypt::pgp::SecretKeyring::parse(bytes, Some(b"password".to_vec()));
});
