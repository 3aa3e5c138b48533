//! A minimal token issuer for the registry's `auth: token` mode: ES256 JWTs carrying the
//! signing certificate in `x5c`, which the registry checks against its root bundle.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

pub const SERVICE: &str = "skopos-test-registry";
pub const ISSUER: &str = "skopos-test-issuer";

pub struct TokenIssuer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    cert_der_base64: String,
    /// The certificate the registry must trust (`rootcertbundle`).
    pub cert_pem: String,
}

impl TokenIssuer {
    pub fn new() -> TokenIssuer {
        let key_pair = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "skopos test token issuer");
        let cert = params.self_signed(&key_pair).unwrap();
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key_pair.serialize_der(),
            &rng,
        )
        .unwrap();
        TokenIssuer {
            key,
            rng,
            cert_der_base64: STANDARD.encode(cert.der()),
            cert_pem: cert.pem(),
        }
    }

    /// A token for `subject` granting every `repository:<name>:<actions>` in `scopes`.
    pub fn issue(&self, subject: &str, scopes: &[String]) -> String {
        let access: Vec<_> = scopes
            .iter()
            .filter_map(|scope| {
                let mut parts = scope.splitn(3, ':');
                let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
                Some(serde_json::json!({
                    "type": kind,
                    "name": name,
                    "actions": actions.split(',').collect::<Vec<_>>(),
                }))
            })
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header =
            serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [self.cert_der_base64]});
        let claims = serde_json::json!({
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now - 10,
            "jti": format!("{now}-{}", scopes.len()),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.key.sign(&self.rng, signing_input.as_bytes()).unwrap();
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        )
    }
}
