//! A small client for JSON APIs that sit next to registries — the OpenShift API that the
//! `atomic:` transport resolves image streams through — on the registry client's HTTP stack,
//! so that TLS (system roots plus extra CAs, a client identity, or no verification), proxies
//! from the environment, the network timeouts (`$SKOPOS_NETWORK_TIMEOUTS`) and Go-worded
//! connection errors (`Get "http://…": dial tcp …`) are the same as for registries.

use anyhow::Context as _;
use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, Method, StatusCode};
use url::Url;

use crate::http_client::{Body, HttpClient};
use crate::{ClientConfig, Result};

/// How the client proves who it is.
#[derive(Clone, Default)]
pub enum ApiAuthorization {
    /// Nothing.
    #[default]
    None,
    /// `Authorization: Bearer TOKEN`.
    Bearer(String),
    /// HTTP Basic.
    Basic {
        /// The user name, sent with the password in the `Authorization` header.
        username: String,
        /// The password; never shown by `Debug`.
        password: String,
    },
}

impl std::fmt::Debug for ApiAuthorization {
    // Secrets never reach logs or error messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiAuthorization::None => f.write_str("None"),
            ApiAuthorization::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            ApiAuthorization::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

/// An answer: status and body.
#[derive(Debug)]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body, at most the limit given to [`ApiClient::request`].
    pub body: Bytes,
}

/// A client for one API server.
pub struct ApiClient {
    http: HttpClient,
    base: Url,
    authorization: Option<HeaderValue>,
}

impl ApiClient {
    /// A client for the server at `base` (`https://host:port`, `http://host:port`). `tls`
    /// carries the TLS settings as for a registry: `tls_verify`, `ca_certs_pem`,
    /// `client_identity_pem` and `user_agent` are used, the rest is ignored.
    pub fn new(
        base: &str,
        tls: &ClientConfig,
        authorization: ApiAuthorization,
    ) -> Result<ApiClient> {
        let base = Url::parse(base).with_context(|| format!("parsing the server URL {base:?}"))?;
        let mut headers = HeaderMap::new();
        headers.insert(
            USER_AGENT,
            HeaderValue::from_str(&tls.user_agent)
                .context("the User-Agent is not a valid header")?,
        );
        headers.insert(ACCEPT, HeaderValue::from_static("application/json, */*"));
        let authorization = match authorization {
            ApiAuthorization::None => None,
            ApiAuthorization::Bearer(token) => Some(format!("Bearer {token}")),
            ApiAuthorization::Basic { username, password } => {
                Some(crate::auth::basic_header(&username, &password))
            }
        }
        .map(|value| {
            let mut value =
                HeaderValue::from_str(&value).context("the credentials are not a valid header")?;
            value.set_sensitive(true);
            Ok::<_, anyhow::Error>(value)
        })
        .transpose()?;
        Ok(ApiClient {
            http: HttpClient::new(
                crate::tls::client_config(tls)?,
                headers,
                crate::timeouts::Timeouts::from_env()?,
            ),
            base,
            authorization,
        })
    }

    /// `METHOD base+path` with an optional JSON body; the answer's body is read up to `limit`
    /// bytes (a longer one is an error naming the limit).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        json_body: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<ApiResponse> {
        let mut url = self.base.clone();
        url.set_path(path);
        let mut headers = HeaderMap::new();
        if let Some(authorization) = &self.authorization {
            headers.insert(AUTHORIZATION, authorization.clone());
        }
        let body = match json_body {
            Some(bytes) => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                Body::Bytes(Bytes::from(bytes))
            }
            None => Body::Empty,
        };
        tracing::debug!("{method} {url}");
        let mut response = self.http.send(method, url.clone(), headers, body).await?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > limit {
                anyhow::bail!("response from {url} is larger than the {limit} bytes allowed");
            }
            body.extend_from_slice(&chunk);
        }
        Ok(ApiResponse {
            status,
            body: Bytes::from(body),
        })
    }
}
