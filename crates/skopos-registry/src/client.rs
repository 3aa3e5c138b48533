//! The client itself: one HTTP client per registry host, the `/v2/` ping that picks
//! the scheme and the authentication method, and the request loop that adds
//! authorization, re-authenticates on 401 and waits out 429/502/503/504.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use http::header::{
    HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER, USER_AGENT, WWW_AUTHENTICATE,
};
use http::{Method, StatusCode};
use skopos_core::retry::Transient;
use skopos_core::Credentials;
use url::Url;

use crate::auth::{basic_header, AuthScheme, Scope, TokenCache};
use crate::challenge;
use crate::config::ClientConfig;
use crate::errors::status_message;
use crate::http_client::{Body, HttpClient, Response};
use crate::timeouts::Timeouts;
use crate::Result;

/// Attempts for a body-less request that keeps getting 429/502/503/504 (containers/image).
const MAX_ATTEMPTS: u32 = 5;
/// The longest wait between those attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// A client for one registry host. Cheap to clone; clones share the connection pool,
/// the ping result and the token cache.
#[derive(Clone)]
pub struct RegistryClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) registry: String,
    http: HttpClient,
    credentials: Credentials,
    insecure_http_allowed: bool,
    retry_base_delay: Duration,
    endpoint: tokio::sync::OnceCell<Endpoint>,
    /// Held while a ping is under way, with the last ping's failure: the callers that waited
    /// for that ping share its failure instead of each trying again in turn (a sync's dozen
    /// images in flight would otherwise wait out a silent registry's timeouts a dozen times).
    ping: tokio::sync::Mutex<Option<PingFailure>>,
    /// Failed pings so far: a caller that saw this number change while it waited shares the
    /// failure; one that comes later (a retry) pings again.
    ping_failures: AtomicU64,
    tokens: TokenCache,
}

/// What callers that waited for a failed ping are told.
struct PingFailure {
    /// The failure, as one line.
    message: String,
    /// Whether `--retry-times` may try again ([`skopos_core::retry::is_retryable`]).
    retryable: bool,
}

impl PingFailure {
    fn to_error(&self) -> anyhow::Error {
        if self.retryable {
            anyhow::Error::new(Transient(self.message.clone()))
        } else {
            anyhow::anyhow!("{}", self.message)
        }
    }
}

/// Where and how to talk to the registry, as learnt from the ping.
struct Endpoint {
    /// `https://host[:port]` or `http://host[:port]`.
    base: String,
    auth: AuthScheme,
}

/// One request to the registry.
pub(crate) struct Request {
    pub(crate) method: Method,
    /// Either a path below the registry (`/v2/…`) or an absolute URL (upload locations).
    pub(crate) target: String,
    pub(crate) scopes: Vec<Scope>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
}

impl Request {
    pub(crate) fn new(method: Method, target: impl Into<String>, scopes: Vec<Scope>) -> Request {
        Request {
            method,
            target: target.into(),
            scopes,
            headers: HeaderMap::new(),
            body: Body::Empty,
        }
    }

    pub(crate) fn header(mut self, name: http::header::HeaderName, value: &str) -> Result<Request> {
        let value = HeaderValue::from_str(value)
            .with_context(|| format!("invalid value for HTTP header {name}"))?;
        self.headers.insert(name, value);
        Ok(self)
    }

    pub(crate) fn body(mut self, body: Body) -> Request {
        self.body = body;
        self
    }
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("registry", &self.inner.registry)
            .finish_non_exhaustive()
    }
}

impl RegistryClient {
    /// A client for `config.registry`. Nothing is sent until the first operation.
    pub fn new(config: ClientConfig) -> Result<RegistryClient> {
        let registry = config.registry.clone();
        let mut headers = HeaderMap::new();
        headers.insert(
            "Docker-Distribution-API-Version",
            HeaderValue::from_static("registry/2.0"),
        );
        headers.insert(
            USER_AGENT,
            HeaderValue::from_str(&config.user_agent).context("invalid User-Agent")?,
        );
        let http = HttpClient::new(
            crate::tls::client_config(&config)?,
            headers,
            Timeouts::from_env()?,
        );
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                registry,
                http,
                credentials: config.credentials,
                insecure_http_allowed: config.insecure_http_allowed,
                retry_base_delay: config.retry_base_delay,
                endpoint: tokio::sync::OnceCell::new(),
                ping: tokio::sync::Mutex::new(None),
                ping_failures: AtomicU64::new(0),
                tokens: TokenCache::default(),
            }),
        })
    }

    /// The registry host this client talks to (`host[:port]`).
    pub fn registry(&self) -> &str {
        &self.inner.registry
    }

    /// Check that the registry answers (`GET /v2/`); every operation does this once anyway.
    pub async fn ping(&self) -> Result<()> {
        self.endpoint().await.map(|_| ())
    }

    /// Check that the configured credentials are accepted, as `login` must before storing
    /// them (containers/image `CheckAuth`): an authorized `GET /v2/` has to answer 200.
    pub async fn check_credentials(&self) -> Result<()> {
        let response = self
            .send(Request::new(Method::GET, "/v2/", Vec::new()))
            .await?;
        if response.status() == StatusCode::OK {
            return Ok(());
        }
        Err(crate::errors::response_error(response, crate::errors::NotFound::IsPlainError).await)
    }

    async fn endpoint(&self) -> Result<&Endpoint> {
        if let Some(endpoint) = self.inner.endpoint.get() {
            return Ok(endpoint);
        }
        let failures_before = self.inner.ping_failures.load(Ordering::SeqCst);
        let mut last_failure = self.inner.ping.lock().await;
        if self.inner.ping_failures.load(Ordering::SeqCst) != failures_before {
            if let Some(failure) = &*last_failure {
                return Err(failure.to_error());
            }
        }
        let pinged = self
            .inner
            .endpoint
            .get_or_try_init(|| async {
                let result = if self.inner.insecure_http_allowed {
                    self.ping_https_or_http().await
                } else {
                    self.ping_scheme("https").await
                };
                result
                    .with_context(|| format!("pinging container registry {}", self.inner.registry))
            })
            .await;
        if let Err(err) = &pinged {
            *last_failure = Some(PingFailure {
                message: format!("{err:#}"),
                retryable: skopos_core::retry::is_retryable(err),
            });
            self.inner.ping_failures.fetch_add(1, Ordering::SeqCst);
        }
        pinged
    }

    /// HTTPS if the registry answers it, else plain HTTP: containers/image's choice when
    /// plain HTTP is allowed. It tries one after the other; here both pings go out at once,
    /// so that the plain one does not wait for the HTTPS attempt to fail first (a refused
    /// TLS handshake, a round trip or a timeout). An HTTPS answer wins even when the plain
    /// ping answered first; the plain ping is dropped once HTTPS has answered.
    async fn ping_https_or_http(&self) -> Result<Endpoint> {
        let https = self.ping_scheme("https");
        let http = self.ping_scheme("http");
        tokio::pin!(https, http);
        let mut plain = None;
        let secure = loop {
            tokio::select! {
                biased;
                secure = &mut https => break secure,
                answered = &mut http, if plain.is_none() => plain = Some(answered),
            }
        };
        match secure {
            Err(err) => {
                tracing::debug!("HTTPS ping failed ({err:#}), using plain HTTP");
                match plain {
                    Some(answered) => answered,
                    None => http.await,
                }
            }
            secure => secure,
        }
    }

    async fn ping_scheme(&self, scheme: &str) -> Result<Endpoint> {
        let base = format!("{scheme}://{}", self.inner.registry);
        let url = format!("{base}/v2/");
        tracing::debug!("GET {url}");
        let url = Url::parse(&url).with_context(|| format!("invalid registry URL {url:?}"))?;
        let response = self
            .inner
            .http
            .send(Method::GET, url, HeaderMap::new(), Body::Empty)
            .await?;
        let status = response.status();
        if status != StatusCode::OK && status != StatusCode::UNAUTHORIZED {
            anyhow::bail!(status_message(status));
        }
        let challenges: Vec<_> = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(challenge::parse)
            .collect();
        let auth = AuthScheme::from_challenges(&challenges)?;
        Ok(Endpoint { base, auth })
    }

    /// The `Authorization` value for a request needing `scopes`, if any.
    async fn authorization(
        &self,
        endpoint: &Endpoint,
        scopes: &[Scope],
        refresh: bool,
    ) -> Result<Option<String>> {
        let credentials = &self.inner.credentials;
        match (&endpoint.auth, credentials) {
            (AuthScheme::None, _) => Ok(None),
            (AuthScheme::Basic, Credentials::Basic { username, password }) => {
                Ok(Some(basic_header(username, password.expose())))
            }
            (AuthScheme::Basic, _) => Ok(None),
            (AuthScheme::Bearer { .. }, Credentials::BearerToken(token)) => {
                Ok(Some(format!("Bearer {}", token.expose())))
            }
            (AuthScheme::Bearer { realm, service }, _) => {
                let token = self
                    .inner
                    .tokens
                    .token(
                        &self.inner.http,
                        credentials,
                        realm,
                        service.as_deref(),
                        scopes,
                        refresh,
                    )
                    .await?;
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    /// Send `request`, authorized. A 401 from a token-authenticated registry is retried once
    /// with a fresh token (including any scope the challenge asks for); 429/502/503/504 on a
    /// body-less request is retried up to [`MAX_ATTEMPTS`] times. Any other status is the
    /// caller's to judge.
    pub(crate) async fn send(&self, mut request: Request) -> Result<Response> {
        let endpoint = self.endpoint().await?;
        let url = if request.target.starts_with('/') {
            format!("{}{}", endpoint.base, request.target)
        } else {
            request.target.clone()
        };
        let url = Url::parse(&url).with_context(|| format!("invalid registry URL {url:?}"))?;
        let replayable = request.body.can_be_sent_again();
        let bodyless = matches!(request.body, Body::Empty);
        let mut attempt = 1;
        let mut refresh_token = false;
        loop {
            let authorization = self
                .authorization(endpoint, &request.scopes, refresh_token)
                .await?;
            let mut headers = request.headers.clone();
            if let Some(authorization) = authorization {
                headers.insert(
                    AUTHORIZATION,
                    HeaderValue::from_str(&authorization)
                        .context("invalid characters in the registry credentials")?,
                );
            }
            let body = request.body.take_for_attempt();
            tracing::debug!("{} {url}", request.method);
            let response = self
                .inner
                .http
                .send(request.method.clone(), url.clone(), headers, body)
                .await?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED
                && replayable
                && !refresh_token
                && matches!(endpoint.auth, AuthScheme::Bearer { .. })
                && !matches!(self.inner.credentials, Credentials::BearerToken(_))
            {
                // The token may have expired, or lack a scope the registry names.
                request.scopes.extend(insufficient_scopes(&response));
                refresh_token = true;
                continue;
            }
            if crate::errors::is_transient_status(status) && bodyless && attempt < MAX_ATTEMPTS {
                let delay = retry_after(&response).unwrap_or_else(|| {
                    self.inner.retry_base_delay * 2u32.saturating_pow(attempt - 1)
                });
                let delay = delay.min(MAX_RETRY_DELAY);
                tracing::debug!(
                    "{} {url}: {status}, attempt {attempt} of {MAX_ATTEMPTS}, waiting {delay:?}",
                    request.method
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
                continue;
            }
            return Ok(response);
        }
    }
}

/// The scopes a `Bearer … error="insufficient_scope",scope="…"` challenge asks for.
fn insufficient_scopes(response: &Response) -> Vec<Scope> {
    response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(challenge::parse)
        .filter(|c| c.scheme == "bearer")
        .filter(|c| c.params.get("error").map(String::as_str) == Some("insufficient_scope"))
        .filter_map(|c| c.params.get("scope").cloned())
        .flat_map(|scopes| {
            scopes
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(|s| Scope(s.to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A `Retry-After` given in seconds (the HTTP-date form is rare from registries and is
/// treated as absent).
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl RegistryClient {
    /// GET `url`, a location outside the registry API (a signature lookaside server), with
    /// this client's TLS and proxy settings but never its registry credentials. `None`
    /// for 404; bodies longer than `limit` bytes are an error.
    pub async fn get_outside_registry(&self, url: &str, limit: usize) -> Result<Option<Vec<u8>>> {
        let parsed = Url::parse(url).with_context(|| format!("invalid URL {url:?}"))?;
        tracing::debug!("GET {url}");
        let mut response = self
            .inner
            .http
            .send(Method::GET, parsed, HeaderMap::new(), Body::Empty)
            .await?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status != StatusCode::OK {
            anyhow::bail!(
                "received unexpected HTTP status: {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or_default()
            );
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > limit {
                anyhow::bail!("exceeded maximum allowed size of {limit} bytes");
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    }
}
