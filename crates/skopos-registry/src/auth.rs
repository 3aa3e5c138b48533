//! Authorization headers: Basic, a configured bearer token, or bearer tokens obtained from
//! the challenge's realm and cached per set of scopes until they expire.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http::{Method, StatusCode};
use serde::Deserialize;
use url::Url;

use crate::challenge::Challenge;
use crate::errors::{response_error, NotFound};
use crate::http_client::{Body, HttpClient};
use crate::Result;
use skopos_core::limits::MAX_AUTH_TOKEN_BODY;
use skopos_core::Credentials;

/// Tokens without `expires_in` (or with a shorter one) are kept this long, as in the
/// token specification.
const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// An access right in a bearer token request: `repository:<repo>:<actions>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Scope(pub String);

impl Scope {
    pub(crate) fn pull(repo: &str) -> Scope {
        Scope(format!("repository:{repo}:pull"))
    }
    pub(crate) fn push(repo: &str) -> Scope {
        Scope(format!("repository:{repo}:pull,push"))
    }
    /// What deleting a manifest needs (containers/image asks for everything).
    pub(crate) fn all(repo: &str) -> Scope {
        Scope(format!("repository:{repo}:*"))
    }
}

/// How the registry wants to be authenticated, from its `/v2/` challenge.
#[derive(Debug, Clone)]
pub(crate) enum AuthScheme {
    None,
    Basic,
    Bearer { realm: Url, service: Option<String> },
}

impl AuthScheme {
    /// The first challenge skopos understands, in the server's order.
    pub(crate) fn from_challenges(challenges: &[Challenge]) -> Result<AuthScheme> {
        for challenge in challenges {
            match challenge.scheme.as_str() {
                "basic" => return Ok(AuthScheme::Basic),
                "bearer" => {
                    let realm = challenge
                        .params
                        .get("realm")
                        .context("missing realm in bearer auth challenge")?;
                    let realm = Url::parse(realm)
                        .with_context(|| format!("invalid token realm {realm:?}"))?;
                    return Ok(AuthScheme::Bearer {
                        realm,
                        service: challenge.params.get("service").cloned(),
                    });
                }
                _ => {}
            }
        }
        Ok(AuthScheme::None)
    }
}

struct CachedToken {
    value: String,
    expires: Instant,
}

/// Bearer tokens by scope set.
#[derive(Default)]
pub(crate) struct TokenCache {
    tokens: tokio::sync::Mutex<HashMap<String, CachedToken>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: u64,
}

impl TokenCache {
    /// A token for `scopes`, from the cache unless `refresh` or expired.
    pub(crate) async fn token(
        &self,
        http: &HttpClient,
        credentials: &Credentials,
        realm: &Url,
        service: Option<&str>,
        scopes: &[Scope],
        refresh: bool,
    ) -> Result<String> {
        let mut sorted: Vec<&str> = scopes.iter().map(|s| s.0.as_str()).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let key = sorted.join(" ");
        // Holding the lock while fetching keeps concurrent blob copies from asking the
        // realm for the same token many times over.
        let mut tokens = self.tokens.lock().await;
        if !refresh {
            if let Some(cached) = tokens.get(&key) {
                if Instant::now() < cached.expires {
                    return Ok(cached.value.clone());
                }
            }
        }
        let fetched = fetch_token(http, credentials, realm, service, &sorted).await?;
        let value = if fetched.token.is_empty() {
            fetched.access_token
        } else {
            fetched.token
        };
        if value.is_empty() {
            anyhow::bail!("the token server at {realm} returned no token");
        }
        let lifetime = Duration::from_secs(fetched.expires_in).max(MIN_TOKEN_LIFETIME);
        tokens.insert(
            key,
            CachedToken {
                value: value.clone(),
                expires: Instant::now() + lifetime,
            },
        );
        Ok(value)
    }
}

async fn fetch_token(
    http: &HttpClient,
    credentials: &Credentials,
    realm: &Url,
    service: Option<&str>,
    scopes: &[&str],
) -> Result<TokenResponse> {
    let mut params: Vec<(&str, &str)> = Vec::new();
    if let Some(service) = service.filter(|s| !s.is_empty()) {
        params.push(("service", service));
    }
    params.extend(scopes.iter().map(|scope| ("scope", *scope)));
    let mut url = realm.clone();
    let mut headers = HeaderMap::new();
    let (method, body) = match credentials {
        // An identity token is an OAuth2 refresh token, exchanged with a form POST.
        Credentials::IdentityToken { token, .. } => {
            params.push(("grant_type", "refresh_token"));
            params.push(("refresh_token", token.expose()));
            params.push(("client_id", "containers/image"));
            let form = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&params)
                .finish();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            (Method::POST, Body::Bytes(Bytes::from(form)))
        }
        Credentials::Basic { username, password } => {
            params.push(("account", username));
            add_query(&mut url, &params);
            headers.insert(
                AUTHORIZATION,
                HeaderValue::from_str(&basic_header(username, password.expose()))
                    .context("invalid characters in the registry credentials")?,
            );
            (Method::GET, Body::Empty)
        }
        Credentials::Anonymous | Credentials::BearerToken(_) => {
            add_query(&mut url, &params);
            (Method::GET, Body::Empty)
        }
    };
    tracing::debug!("requesting a bearer token from {realm} for {scopes:?}");
    let response = http
        .send(method, url, headers, body)
        .await
        .with_context(|| format!("requesting a bearer token from {realm}"))?;
    let status = response.status();
    if status != StatusCode::OK {
        let err = response_error(response, NotFound::IsPlainError).await;
        if status == StatusCode::UNAUTHORIZED {
            return Err(err.context("unable to retrieve auth token: invalid username/password"));
        }
        return Err(err.context(format!("requesting a bearer token from {realm}")));
    }
    let body = response
        .bytes_at_most(MAX_AUTH_TOKEN_BODY)
        .await
        .with_context(|| format!("reading the bearer token from {realm}"))?;
    serde_json::from_slice(&body)
        .with_context(|| format!("the token server at {realm} returned invalid JSON"))
}

/// `url` with `params` added to its query.
fn add_query(url: &mut Url, params: &[(&str, &str)]) {
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params);
    }
}

/// `Basic <base64(user:password)>`.
pub(crate) fn basic_header(username: &str, password: &str) -> String {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    format!("Basic {encoded}")
}
