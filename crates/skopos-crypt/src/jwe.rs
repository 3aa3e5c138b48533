//! The `jwe` key wrapper: the layer's private options encrypted as one JWE (RFC 7516) for
//! all recipients, in the JSON serialization go-jose's `FullSerialize` writes (flattened for
//! one recipient, general for several). Key management is RSA-OAEP for RSA keys and
//! ECDH-ES+A256KW for EC keys, or what a JWK's `alg` asks for (RSA-OAEP-256,
//! ECDH-ES+A128KW/A192KW too); content encryption A256GCM, as ocicrypt asks go-jose for.
//! Reading also takes A128GCM/A192GCM.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm};
use anyhow::{anyhow, bail, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use elliptic_curve::sec1::ToEncodedPoint;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::keys::{JweRecipient, PrivateKey, PublicKey};

type Aes192Gcm = AesGcm<aes::Aes192, aes_gcm::aead::consts::U12>;

/// ECDH-ES+AnnnKW (`$alg`) to `$public` on curve `$curve`: an ephemeral key, its public
/// half in the header as `epk`, the shared secret through the Concat KDF into an AES key
/// wrap key of `$kek_len` bytes.
macro_rules! ecdh_wrap {
    ($curve:ident, $public:expr, $crv:literal, $alg:expr, $kek_len:expr, $header:expr, $cek:expr) => {{
        let ephemeral = $curve::ecdh::EphemeralSecret::random(&mut OsRng);
        let shared = ephemeral.diffie_hellman($public);
        let point = ephemeral.public_key().to_encoded_point(false);
        let (x, y) = (
            point.x().ok_or_else(|| anyhow!("JWE Encrypt failed"))?,
            point.y().ok_or_else(|| anyhow!("JWE Encrypt failed"))?,
        );
        let mut epk = Map::new();
        epk.insert("kty".into(), "EC".into());
        epk.insert("crv".into(), $crv.into());
        epk.insert("x".into(), B64URL.encode(x).into());
        epk.insert("y".into(), B64URL.encode(y).into());
        $header.insert("epk".into(), Value::Object(epk));
        let kek = concat_kdf_key(
            shared.raw_secret_bytes().as_slice(),
            $alg,
            &[],
            &[],
            $kek_len,
        )?;
        aes_kw_wrap(&kek, $cek)?
    }};
}

/// ECDH-ES+AnnnKW with the recipient's secret key `$secret` on curve `$curve`.
macro_rules! ecdh_unwrap {
    ($curve:ident, $secret:expr, $header:expr, $alg:expr, $encrypted:expr) => {{
        let kek_len = match $alg {
            "ECDH-ES+A128KW" => 16,
            "ECDH-ES+A192KW" => 24,
            "ECDH-ES+A256KW" => 32,
            _ => return None,
        };
        let epk = $header.get("epk")?.as_object()?;
        let coordinate =
            |name: &str| -> Option<Vec<u8>> { B64URL.decode(epk.get(name)?.as_str()?).ok() };
        let (x, y) = (coordinate("x")?, coordinate("y")?);
        let mut sec1 = vec![4u8];
        sec1.extend_from_slice(&x);
        sec1.extend_from_slice(&y);
        let ephemeral = $curve::PublicKey::from_sec1_bytes(&sec1).ok()?;
        let shared =
            $curve::ecdh::diffie_hellman($secret.to_nonzero_scalar(), ephemeral.as_affine());
        let party = |name: &str| -> Option<Vec<u8>> {
            match $header.get(name) {
                None => Some(Vec::new()),
                Some(v) => B64URL.decode(v.as_str()?).ok(),
            }
        };
        let kek = concat_kdf_key(
            shared.raw_secret_bytes().as_slice(),
            $alg,
            &party("apu")?,
            &party("apv")?,
            kek_len,
        )
        .ok()?;
        aes_kw_unwrap(&kek, $encrypted)
    }};
}

const ENC_A256GCM: &str = "A256GCM";

/// go-jose's `rawJSONWebEncryption`, in its field order.
#[derive(Debug, Default, Serialize, Deserialize)]
struct JsonJwe {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    protected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unprotected: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    header: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    recipients: Vec<JsonRecipient>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aad: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encrypted_key: Option<String>,
    #[serde(default)]
    iv: String,
    #[serde(default)]
    ciphertext: String,
    #[serde(default)]
    tag: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct JsonRecipient {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    header: Option<Map<String, Value>>,
    #[serde(default)]
    encrypted_key: String,
}

/// Encrypt `plaintext` for every key in `recipients`; `None` when there are none.
pub fn wrap(recipients: &[JweRecipient], plaintext: &[u8]) -> Result<Option<Vec<u8>>> {
    if recipients.is_empty() {
        return Ok(None);
    }
    let mut cek = [0u8; 32];
    OsRng.fill_bytes(&mut cek);
    let mut wrapped = Vec::with_capacity(recipients.len());
    for key in recipients {
        wrapped.push(wrap_cek(key, &cek)?);
    }
    let mut protected = Map::new();
    protected.insert("enc".into(), ENC_A256GCM.into());
    let single = wrapped.len() == 1;
    if single {
        // go-jose puts a lone recipient's header into the protected header.
        protected.extend(wrapped[0].0.clone());
    }
    let protected = B64URL.encode(serde_json::to_vec(&protected)?);
    let mut iv = [0u8; 12];
    OsRng.fill_bytes(&mut iv);
    let sealed = Aes256Gcm::new(&cek.into())
        .encrypt(
            (&iv).into(),
            Payload {
                msg: plaintext,
                aad: protected.as_bytes(),
            },
        )
        .map_err(|_| anyhow!("JWE Encrypt failed"))?;
    let (ciphertext, tag) = sealed.split_at(sealed.len() - 16);
    let mut jwe = JsonJwe {
        protected: Some(protected),
        iv: B64URL.encode(iv),
        ciphertext: B64URL.encode(ciphertext),
        tag: B64URL.encode(tag),
        ..Default::default()
    };
    if single {
        jwe.encrypted_key = Some(B64URL.encode(&wrapped[0].1));
    } else {
        jwe.recipients = wrapped
            .into_iter()
            .map(|(header, key)| JsonRecipient {
                header: Some(header),
                encrypted_key: B64URL.encode(key),
            })
            .collect();
    }
    Ok(Some(serde_json::to_vec(&jwe)?))
}

/// The recipient header and the content key wrapped for `recipient`, with the algorithm
/// it asks for; one go-jose does not do with that key fails as go-jose's encrypter does.
fn wrap_cek(recipient: &JweRecipient, cek: &[u8; 32]) -> Result<(Map<String, Value>, Vec<u8>)> {
    let mut header = Map::new();
    let alg = recipient.algorithm.as_str();
    header.insert("alg".into(), alg.into());
    if let Some(kid) = &recipient.key_id {
        header.insert("kid".into(), kid.as_str().into());
    }
    let kek_len = match alg {
        "ECDH-ES+A128KW" => 16,
        "ECDH-ES+A192KW" => 24,
        _ => 32,
    };
    let ecdh = alg.starts_with("ECDH-ES+A") && alg.ends_with("KW");
    let encrypted = match (&recipient.key, alg) {
        (PublicKey::Rsa(rsa_key), "RSA-OAEP") => rsa_key
            .encrypt(&mut OsRng, rsa::Oaep::new::<sha1::Sha1>(), cek)
            .map_err(|e| anyhow!("JWE Encrypt failed: {e}"))?,
        (PublicKey::Rsa(rsa_key), "RSA-OAEP-256") => rsa_key
            .encrypt(&mut OsRng, rsa::Oaep::new::<sha2::Sha256>(), cek)
            .map_err(|e| anyhow!("JWE Encrypt failed: {e}"))?,
        (PublicKey::P256(p), _) if ecdh => ecdh_wrap!(p256, p, "P-256", alg, kek_len, header, cek),
        (PublicKey::P384(p), _) if ecdh => ecdh_wrap!(p384, p, "P-384", alg, kek_len, header, cek),
        (PublicKey::P521(p), _) if ecdh => ecdh_wrap!(p521, p, "P-521", alg, kek_len, header, cek),
        _ => bail!("jose.NewMultiEncrypter failed: go-jose/go-jose: unknown/unsupported algorithm"),
    };
    Ok((header, encrypted))
}

/// The Concat KDF of RFC 7518 §4.6.2 with SHA-256.
fn concat_kdf_key(z: &[u8], alg: &str, apu: &[u8], apv: &[u8], len: usize) -> Result<Vec<u8>> {
    let mut other_info = Vec::new();
    for part in [alg.as_bytes(), apu, apv] {
        other_info.extend_from_slice(&(part.len() as u32).to_be_bytes());
        other_info.extend_from_slice(part);
    }
    other_info.extend_from_slice(&((len * 8) as u32).to_be_bytes());
    let mut key = vec![0u8; len];
    concat_kdf::derive_key_into::<sha2::Sha256>(z, &other_info, &mut key)
        .map_err(|_| anyhow!("deriving the JWE key wrapping key failed"))?;
    Ok(key)
}

fn aes_kw_wrap(kek: &[u8], cek: &[u8]) -> Result<Vec<u8>> {
    let wrapped = match kek.len() {
        16 => aes_kw::KekAes128::new(kek.into()).wrap_vec(cek),
        24 => aes_kw::KekAes192::new(kek.into()).wrap_vec(cek),
        32 => aes_kw::KekAes256::new(kek.into()).wrap_vec(cek),
        _ => bail!("JWE Encrypt failed"),
    };
    wrapped.map_err(|_| anyhow!("JWE Encrypt failed"))
}

fn aes_kw_unwrap(kek: &[u8], wrapped: &[u8]) -> Option<Vec<u8>> {
    match kek.len() {
        16 => aes_kw::KekAes128::new(kek.into()).unwrap_vec(wrapped).ok(),
        24 => aes_kw::KekAes192::new(kek.into()).unwrap_vec(wrapped).ok(),
        32 => aes_kw::KekAes256::new(kek.into()).unwrap_vec(wrapped).ok(),
        _ => None,
    }
}

/// Decrypt a JWE with the first of `keys` that opens it (`UnwrapKey`).
pub fn unwrap(jwe: &[u8], keys: &[PrivateKey]) -> Result<Vec<u8>> {
    let parsed: JsonJwe =
        serde_json::from_slice(jwe).map_err(|_| anyhow!("jose.ParseEncrypted failed"))?;
    if keys.is_empty() {
        bail!("No private keys found for JWE decryption");
    }
    let protected_text = parsed.protected.clone().unwrap_or_default();
    let mut shared = match &parsed.protected {
        Some(p) => {
            let bytes = B64URL
                .decode(p)
                .map_err(|_| anyhow!("jose.ParseEncrypted failed"))?;
            serde_json::from_slice::<Map<String, Value>>(&bytes)
                .map_err(|_| anyhow!("jose.ParseEncrypted failed"))?
        }
        None => Map::new(),
    };
    if let Some(unprotected) = &parsed.unprotected {
        shared.extend(unprotected.clone());
    }
    let recipients: Vec<(Map<String, Value>, String)> = if parsed.recipients.is_empty() {
        vec![(
            parsed.header.clone().unwrap_or_default(),
            parsed.encrypted_key.clone().unwrap_or_default(),
        )]
    } else {
        parsed
            .recipients
            .iter()
            .map(|r| {
                (
                    r.header.clone().unwrap_or_default(),
                    r.encrypted_key.clone(),
                )
            })
            .collect()
    };
    let mut aad = protected_text.into_bytes();
    if let Some(extra) = &parsed.aad {
        aad.push(b'.');
        aad.extend_from_slice(extra.as_bytes());
    }
    let decode = |s: &str| B64URL.decode(s).ok();
    let (Some(iv), Some(ciphertext), Some(tag)) = (
        decode(&parsed.iv),
        decode(&parsed.ciphertext),
        decode(&parsed.tag),
    ) else {
        bail!("jose.ParseEncrypted failed");
    };
    for key in keys {
        for (header, encrypted_key) in &recipients {
            let mut header_all = shared.clone();
            header_all.extend(header.clone());
            let Some(encrypted_key) = decode(encrypted_key) else {
                continue;
            };
            let Some(cek) = unwrap_cek(key, &header_all, &encrypted_key) else {
                continue;
            };
            let enc = header_all.get("enc").and_then(Value::as_str).unwrap_or("");
            if let Some(plain) = open_content(enc, &cek, &iv, &ciphertext, &tag, &aad) {
                return Ok(plain);
            }
        }
    }
    bail!("JWE: No suitable private key found for decryption")
}

fn unwrap_cek(key: &PrivateKey, header: &Map<String, Value>, encrypted: &[u8]) -> Option<Vec<u8>> {
    let alg = header.get("alg")?.as_str()?;
    match key {
        PrivateKey::Rsa(k) => match alg {
            "RSA-OAEP" => k.decrypt(rsa::Oaep::new::<sha1::Sha1>(), encrypted).ok(),
            "RSA-OAEP-256" => k.decrypt(rsa::Oaep::new::<sha2::Sha256>(), encrypted).ok(),
            _ => None,
        },
        PrivateKey::P256(k) => ecdh_unwrap!(p256, k, header, alg, encrypted),
        PrivateKey::P384(k) => ecdh_unwrap!(p384, k, header, alg, encrypted),
        PrivateKey::P521(k) => ecdh_unwrap!(p521, k, header, alg, encrypted),
    }
}

fn open_content(
    enc: &str,
    cek: &[u8],
    iv: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
    aad: &[u8],
) -> Option<Vec<u8>> {
    if iv.len() != 12 {
        return None;
    }
    let mut sealed = ciphertext.to_vec();
    sealed.extend_from_slice(tag);
    let payload = Payload { msg: &sealed, aad };
    let nonce = aes_gcm::Nonce::from_slice(iv);
    match enc {
        "A128GCM" => Aes128Gcm::new_from_slice(cek)
            .ok()?
            .decrypt(nonce, payload)
            .ok(),
        "A192GCM" => Aes192Gcm::new_from_slice(cek)
            .ok()?
            .decrypt(nonce, payload)
            .ok(),
        "A256GCM" => Aes256Gcm::new_from_slice(cek)
            .ok()?
            .decrypt(nonce, payload)
            .ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa_pair() -> (PublicKey, PrivateKey) {
        let private = rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
        (
            PublicKey::Rsa(private.to_public_key()),
            PrivateKey::Rsa(Box::new(private)),
        )
    }

    fn p384_pair() -> (PublicKey, PrivateKey) {
        let private = p384::SecretKey::random(&mut OsRng);
        (
            PublicKey::P384(private.public_key()),
            PrivateKey::P384(private),
        )
    }

    #[test]
    fn one_and_several_recipients() {
        let (rsa_public, rsa_private) = rsa_pair();
        let (ec_public, ec_private) = p384_pair();
        let single = wrap(&[rsa_public.clone().into()], b"secret")
            .unwrap()
            .unwrap();
        let text = String::from_utf8(single.clone()).unwrap();
        assert!(text.contains("\"encrypted_key\"") && !text.contains("recipients"));
        assert_eq!(
            unwrap(&single, std::slice::from_ref(&rsa_private)).unwrap(),
            b"secret"
        );
        assert_eq!(
            unwrap(&single, std::slice::from_ref(&ec_private))
                .unwrap_err()
                .to_string(),
            "JWE: No suitable private key found for decryption"
        );

        let both = wrap(&[rsa_public.into(), ec_public.into()], b"secret")
            .unwrap()
            .unwrap();
        assert!(String::from_utf8(both.clone())
            .unwrap()
            .contains("recipients"));
        assert_eq!(unwrap(&both, &[ec_private]).unwrap(), b"secret");
        assert_eq!(unwrap(&both, &[rsa_private]).unwrap(), b"secret");
        assert!(wrap(&[], b"secret").unwrap().is_none());
    }
}
