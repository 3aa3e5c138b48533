//! A client for the Docker Registry HTTP API V2 (the OCI distribution API), the
//! foundation of skopos's `docker://` transport. It takes already-resolved settings
//! ([`ClientConfig`]); reading auth.json, registries.conf and certs.d happens elsewhere.
//!
//! Modules:
//! - `config`: [`ClientConfig`] (whose `Debug` never shows secrets; the credentials in it
//!   are skopos-core's [`skopos_core::Credentials`]).
//! - `client`: [`RegistryClient`], the `/v2/` ping (HTTPS, then plain HTTP only when
//!   allowed), and the request loop (authorization, 401 re-authentication, 429/5xx waits).
//! - `challenge`: the `WWW-Authenticate` parser.
//! - `auth`: Basic headers, bearer token requests (GET with Basic credentials, or the
//!   OAuth2 refresh-token POST) and the per-scope-set token cache.
//! - `errors`: registry JSON error bodies to skopeo-like messages, [`RegistryError`],
//!   and the `ImageNotFound` / `Transient` markers of skopos-core.
//! - `manifest`, `blob`, `tags`: the operations, as methods of [`RegistryClient`];
//!   `referrers`: OCI 1.1 referrers, by the API or the tag schema.
//! - `http_client`: the HTTP/1.1 client under all of it (bounded read buffers, proxies from
//!   the environment, redirects); `tls`: its TLS settings; `server_cert`: Go's server
//!   certificate checks (a trusted self-signed certificate as the server's own) and wording;
//!   `file_upload`: an upload of a local file over plain HTTP, sent with `sendfile`.
//! - `api`: a small JSON API client on the same stack, for services beside registries (the
//!   OpenShift API of `atomic:`).
//!
//! Dependencies, and why:
//! - `hyper` + `hyper-util` (HTTP/1.1 client, connection pool, proxy matching and `CONNECT`
//!   tunnels): used directly rather than through reqwest so that a connection's read buffer
//!   can be capped (see `http_client`); `http`, `http-body-util`, `tower-service` are their
//!   vocabulary; `url` parses and joins URLs (`Location`, `Link`, token realms).
//! - `rustls` (ring), `hyper-rustls`, `rustls-native-certs`: TLS without OpenSSL, the system's
//!   CA roots plus certs.d; ring builds faster than aws-lc.
//! - `x509-cert` (RustCrypto, already in the tree's `der` family): reads the validity period
//!   and extended key usages of a trusted self-signed server certificate, which webpki
//!   does not expose.
//! - `tokio`, `tokio-util`, `futures-util`, `bytes`: async runtime and the adapters
//!   between `AsyncRead` blob streams and HTTP body streams.
//! - `httparse` (hyper's own parser): the answer to an upload sent with `sendfile`, which
//!   hyper cannot send; `rustix`: `sendfile` itself.
//! - `serde`, `serde_json`: registry error bodies, token responses and tag lists.
//! - `base64`: Basic credentials.
//! - `anyhow`, `thiserror`: error chains with context, and the typed [`RegistryError`].
//! - `tracing`: debug logs of requests (never of credentials or tokens).
//! - `skopos-core`: `Digest`, `DigestingReader`, blob types, error markers, media types.
//!
//! Test-only: `rcgen` makes the CA, server and client certificates of the TLS tests,
//! `ring` signs the JWTs of the in-test token issuer (it is already in the tree through
//! rustls), `tempfile` holds each test registry's storage.
//! The tests run Debian's `docker-registry` (`apt-get install docker-registry apache2-utils`).

#![deny(missing_docs)]

pub mod api;
mod auth;
mod blob;
pub mod challenge;
mod client;
mod config;
mod errors;
mod file_upload;
mod http_client;
mod manifest;
mod paging;
mod referrers;
mod server_cert;
mod tags;
pub mod timeouts;
pub mod tls;

pub use blob::UploadSessions;
pub use client::RegistryClient;
pub use config::ClientConfig;
pub use errors::RegistryError;
pub use manifest::ManifestHead;
pub use paging::next_link;
pub use skopos_core::Result;
