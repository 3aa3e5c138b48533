//! A minimal token issuer for the test registry's `auth: token` mode: ES256 JWTs carrying the
//! signing certificate in `x5c`, which the registry checks against its root bundle
//! ([`TokenIssuer`]), and a tiny HTTP token endpoint on a thread that hands them out to one
//! user ([`TokenServer`]).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

/// The `service` the registry is configured with and the tokens are issued for.
pub const SERVICE: &str = "skopos-test-registry";
/// The `issuer` the registry is configured to accept.
pub const ISSUER: &str = "skopos-test-issuer";

/// Signs registry tokens with a fresh P-256 key and a self-signed certificate for it.
pub struct TokenIssuer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    cert_der_base64: String,
    /// The certificate the registry must trust (`rootcertbundle`).
    pub cert_pem: String,
}

impl TokenIssuer {
    /// A new key and certificate.
    pub fn new() -> TokenIssuer {
        let key_pair = rcgen::KeyPair::generate().expect("generating a token signing key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .expect("token certificate parameters");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "skopos test token issuer");
        let cert = params
            .self_signed(&key_pair)
            .expect("signing the token certificate");
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key_pair.serialize_der(),
            &rng,
        )
        .expect("loading the token signing key");
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
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or_default();
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
        let signature = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .expect("signing a token");
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        )
    }
}

impl Default for TokenIssuer {
    fn default() -> TokenIssuer {
        TokenIssuer::new()
    }
}

/// A plain-HTTP token endpoint (`GET /token?service=…&scope=…`) on a loopback port, served by a
/// thread for the life of the process. With `user`'s Basic credentials it grants every
/// requested scope; without credentials it grants none (as public registries do for
/// anonymous clients); with other credentials it answers 401.
pub struct TokenServer {
    /// Signs the tokens; its `cert_pem` goes into the registry's configuration.
    pub issuer: Arc<TokenIssuer>,
    /// `http://127.0.0.1:<port>/token`, the registry's `realm`.
    pub realm: String,
    /// Body bytes the clients accepted so far (written into their connections).
    sent: Arc<AtomicU64>,
}

/// What the endpoint answers.
#[derive(Clone)]
enum Answers {
    /// Tokens, as described on [`TokenServer`].
    Tokens { username: String, expected: String },
    /// To every request: `200 OK` and a JSON body this long, its token taking nearly all of
    /// it, without `Content-Length` (it ends when the connection closes), so that a client
    /// must bound its read while reading.
    Oversized(u64),
}

impl TokenServer {
    /// Starts serving tokens for `username` / `password`.
    pub fn start(username: &str, password: &str) -> TokenServer {
        TokenServer::serve(Answers::Tokens {
            username: username.to_string(),
            expected: format!(
                "Basic {}",
                STANDARD.encode(format!("{username}:{password}"))
            ),
        })
    }

    /// Starts an endpoint that answers every request with a `body_size`-byte token response,
    /// as a hostile or broken token server might; [`TokenServer::bytes_sent`] tells how
    /// much of it clients took.
    pub fn start_oversized(body_size: u64) -> TokenServer {
        TokenServer::serve(Answers::Oversized(body_size))
    }

    /// How many response body bytes clients have accepted so far: an upper bound on what
    /// they read.
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    fn serve(answers: Answers) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the token server");
        let port = listener
            .local_addr()
            .expect("the token server's address")
            .port();
        let issuer = Arc::new(TokenIssuer::new());
        let signer = issuer.clone();
        let sent = Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                // One request per connection; a broken client only loses its own answer.
                let _ = match &answers {
                    Answers::Tokens { username, expected } => {
                        answer(stream, &signer, username, expected)
                    }
                    Answers::Oversized(size) => answer_oversized(stream, *size, &counter),
                };
            }
        });
        TokenServer {
            issuer,
            realm: format!("http://127.0.0.1:{port}/token"),
            sent,
        }
    }
}

/// Reads a request head and answers with a `size`-byte token response, counting the body
/// bytes the client's connection accepts in `sent`; stops when the client goes away.
fn answer_oversized(stream: TcpStream, size: u64, sent: &AtomicU64) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
    }
    let mut stream = stream;
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
    )?;
    let (opening, closing) = (br#"{"token":""#, br#""}"#);
    let filler = vec![b'a'; 64 * 1024];
    let mut remaining = size.saturating_sub((opening.len() + closing.len()) as u64);
    stream.write_all(opening)?;
    sent.fetch_add(opening.len() as u64, Ordering::SeqCst);
    while remaining > 0 {
        let piece = &filler[..remaining.min(filler.len() as u64) as usize];
        stream.write_all(piece)?;
        sent.fetch_add(piece.len() as u64, Ordering::SeqCst);
        remaining -= piece.len() as u64;
    }
    stream.write_all(closing)?;
    sent.fetch_add(closing.len() as u64, Ordering::SeqCst);
    stream.flush()
}

fn answer(
    stream: TcpStream,
    issuer: &TokenIssuer,
    username: &str,
    expected_authorization: &str,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_string());
            }
        }
    }
    let target = request_line.split(' ').nth(1).unwrap_or_default();
    let scopes: Vec<String> = target
        .split_once('?')
        .map(|(_, query)| query)
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.strip_prefix("scope="))
        .map(percent_decode)
        .collect();
    let (status, body) = match authorization.as_deref() {
        None => ("200 OK", token_body(&issuer.issue("", &[]))),
        Some(given) if given == expected_authorization => {
            ("200 OK", token_body(&issuer.issue(username, &scopes)))
        }
        Some(_) => (
            "401 Unauthorized",
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"invalid login"}]}"#.to_string(),
        ),
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

fn token_body(token: &str) -> String {
    format!(r#"{{"token":"{token}","expires_in":300}}"#)
}

/// Undoes URL query encoding (`%XX` and `+`).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[index + 1..index + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                {
                    Some(byte) => {
                        decoded.push(byte);
                        index += 2;
                    }
                    None => decoded.push(b'%'),
                }
            }
            byte => decoded.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}
