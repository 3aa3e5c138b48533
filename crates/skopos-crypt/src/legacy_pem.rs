//! Private keys in OpenSSL's "traditional" password-protected PEM: a block with the RFC 1421
//! headers `Proc-Type: 4,ENCRYPTED` and `DEK-Info: CIPHER,IV` (what `openssl rsa -aes256
//! -traditional` writes). ocicrypt reads them, when `--decryption-key FILE:PASSWORD` gives a
//! password, with Go's `x509.DecryptPEMBlock`, and so does this: the cipher key is OpenSSL's
//! `EVP_BytesToKey` (MD5, one round, salted with the IV's first 8 bytes), the mode CBC with
//! PKCS #7 padding, the ciphers those Go knows (DES, 3DES, AES-128/192/256).
//!
//! PKCS #8 `ENCRYPTED PRIVATE KEY` files are not read here: Go cannot read them either, so
//! skopeo ignores them as it ignores any file that is no key.

use base64::Engine as _;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockCipher, BlockDecryptMut, KeyIvInit};

/// The first PEM block of a file, when it carries a `DEK-Info` header (Go's
/// `x509.IsEncryptedPEMBlock`).
pub struct EncryptedPem {
    dek_info: String,
    ciphertext: Vec<u8>,
}

/// Why an encrypted block could not be decrypted: ocicrypt reports every such failure as a
/// wrong password.
#[derive(Debug)]
pub struct WrongPassword;

impl EncryptedPem {
    /// The first PEM block of `data` when it is encrypted; `None` for anything else (no PEM,
    /// a plain block, a block whose body is not base64).
    pub fn find(data: &[u8]) -> Option<EncryptedPem> {
        let text = std::str::from_utf8(data).ok()?;
        let begin = text.find("-----BEGIN ")?;
        let mut lines = text[begin..].lines();
        let label = lines
            .next()?
            .strip_prefix("-----BEGIN ")?
            .strip_suffix("-----")?;
        let end = format!("-----END {label}-----");
        let mut dek_info = None;
        let mut body = String::new();
        let mut in_headers = true;
        for line in lines {
            let line = line.trim_end();
            if line == end {
                let ciphertext = base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .ok()?;
                return Some(EncryptedPem {
                    dek_info: dek_info?,
                    ciphertext,
                });
            }
            if in_headers {
                if let Some((key, value)) = line.split_once(':') {
                    if key.trim() == "DEK-Info" {
                        dek_info = Some(value.trim().to_string());
                    }
                    continue;
                }
                in_headers = false;
            }
            body.extend(line.chars().filter(|c| !c.is_whitespace()));
        }
        None
    }

    /// The DER the block holds, decrypted with `password`.
    pub fn decrypt(&self, password: &[u8]) -> Result<Vec<u8>, WrongPassword> {
        let (mode, hex_iv) = self.dek_info.split_once(',').ok_or(WrongPassword)?;
        let iv = hex::decode(hex_iv.trim()).map_err(|_| WrongPassword)?;
        let data = &self.ciphertext;
        match mode.trim() {
            "DES-CBC" => cbc_decrypt::<des::Des>(8, 8, password, &iv, data),
            "DES-EDE3-CBC" => cbc_decrypt::<des::TdesEde3>(24, 8, password, &iv, data),
            "AES-128-CBC" => cbc_decrypt::<aes::Aes128>(16, 16, password, &iv, data),
            "AES-192-CBC" => cbc_decrypt::<aes::Aes192>(24, 16, password, &iv, data),
            "AES-256-CBC" => cbc_decrypt::<aes::Aes256>(32, 16, password, &iv, data),
            _ => Err(WrongPassword),
        }
    }
}

/// Decrypts `data` with cipher `C` in CBC mode: the key is `key_len` bytes of
/// `EVP_BytesToKey(MD5, password, iv[..8])`, the IV must be one block.
fn cbc_decrypt<C>(
    key_len: usize,
    block_len: usize,
    password: &[u8],
    iv: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, WrongPassword>
where
    C: BlockCipher + BlockDecryptMut,
    cbc::Decryptor<C>: KeyIvInit + BlockDecryptMut,
{
    if iv.len() != block_len {
        return Err(WrongPassword);
    }
    let mut key = vec![0u8; key_len];
    evpkdf::evpkdf::<md5::Md5>(password, &iv[..8], 1, &mut key);
    let decryptor = cbc::Decryptor::<C>::new_from_slices(&key, iv).map_err(|_| WrongPassword)?;
    decryptor
        .decrypt_padded_vec_mut::<Pkcs7>(data)
        .map_err(|_| WrongPassword)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_block_with_dek_info_is_encrypted() {
        let plain = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(EncryptedPem::find(plain).is_none());
        let encrypted = b"junk before\n-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,000102030405060708090A0B0C0D0E0F\n\nAAAAAAAAAAAAAAAAAAAAAA==\n-----END RSA PRIVATE KEY-----\n";
        let block = EncryptedPem::find(encrypted).expect("an encrypted block");
        assert_eq!(block.ciphertext.len(), 16);
        // Any password "decrypts" to something or fails the padding check, never panics.
        let _ = block.decrypt(b"secret");
        assert!(EncryptedPem::find(b"-----BEGIN X-----\nDEK-Info: x\n").is_none());
    }

    #[test]
    fn malformed_dek_info_is_a_wrong_password() {
        for dek in [
            "AES-128-CBC",
            "AES-128-CBC,00",
            "AES-128-CBC,zz0102030405060708090A0B0C0D0E0F",
            "RC2-CBC,0001020304050607",
        ] {
            let block = EncryptedPem {
                dek_info: dek.to_string(),
                ciphertext: vec![0; 16],
            };
            assert!(block.decrypt(b"pw").is_err(), "{dek}");
        }
        let ragged = EncryptedPem {
            dek_info: "AES-128-CBC,000102030405060708090A0B0C0D0E0F".into(),
            ciphertext: vec![0; 15],
        };
        assert!(ragged.decrypt(b"pw").is_err());
    }
}
