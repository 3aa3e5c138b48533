//! The HTTP/1.1 client under the registry protocol, on hyper directly.
//!
//! Why not a general-purpose client: a blob download's memory is the HTTP read buffers of its
//! connection, and hyper grows those up to ~400 KiB each unless told otherwise — two of them
//! alive per connection while a chunk is being hashed and written, times six parallel layer
//! downloads, was most of a pull's heap. Here the read buffer is capped ([`READ_BUFFER_LIMIT`]);
//! everything else a registry client needs from HTTP is small and lives in this module:
//! TLS (see [`crate::tls`]), proxies from the environment (`HTTP_PROXY`, `HTTPS_PROXY`,
//! `NO_PROXY`, as Go's `ProxyFromEnvironment` reads them), and redirects that drop
//! `Authorization` when they leave the host.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use futures_util::stream::{BoxStream, Stream};
use futures_util::{StreamExt as _, TryStreamExt as _};
use http::header::{
    HeaderValue, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION,
    PROXY_AUTHORIZATION,
};
use http::uri::Scheme;
use http::{HeaderMap, Method, StatusCode, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use skopos_core::go::text::go_errno_text;
use skopos_core::limits::check_size;
use tokio::io::AsyncRead;
use tokio_util::io::ReaderStream;
use url::Url;

use crate::file_upload::{self, FileBody};
use crate::server_cert::go_certificate_error;
use crate::timeouts::{await_head, stall_guarded, HandshakeTimeout, Timeouts};
use crate::timeouts::{transport_ready, UploadProgress, WatchedBody};
use crate::Result;

/// The most a connection's read buffer grows to: the same 64 KiB as the blob I/O chunks of the
/// file transports. Larger reads saved no measurable CPU on loopback pulls.
const READ_BUFFER_LIMIT: usize = 64 * 1024;
/// Read size when streaming a request body from a reader.
const UPLOAD_CHUNK: usize = 64 * 1024;
/// Idle connections are kept this long for the next request (Go's default, 90 s).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Redirects followed in a row before giving up (Go's `http.Client` stops after 10).
const MAX_REDIRECTS: usize = 10;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type WireBody = UnsyncBoxBody<Bytes, BoxError>;
type Connector = HandshakeTimeout<hyper_rustls::HttpsConnector<ProxyConnector>>;

/// The body of a request. Only the first two can be sent again (after a redirect or a
/// fresh token).
pub(crate) enum Body {
    Empty,
    Bytes(Bytes),
    Stream(WireBody),
    /// A local file: sent with `sendfile` where the connection is plain TCP to the
    /// server, otherwise streamed.
    File(FileBody),
}

impl Body {
    /// A body streamed from `reader` in 64 KiB chunks.
    pub(crate) fn from_reader(reader: impl AsyncRead + Send + 'static) -> Body {
        Body::from_chunks(Body::reader_chunks(reader))
    }

    /// `reader` read in the 64 KiB chunks a body streamed from it is sent in.
    pub(crate) fn reader_chunks(
        reader: impl AsyncRead + Send + 'static,
    ) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        ReaderStream::with_capacity(reader, UPLOAD_CHUNK)
    }

    /// A body of the buffers `chunks`, each sent as it is.
    pub(crate) fn from_chunks(
        chunks: impl Stream<Item = io::Result<Bytes>> + Send + 'static,
    ) -> Body {
        let frames = chunks.map_ok(Frame::data).map_err(BoxError::from);
        Body::Stream(StreamBody::new(frames).boxed_unsync())
    }

    pub(crate) fn can_be_sent_again(&self) -> bool {
        matches!(self, Body::Empty | Body::Bytes(_))
    }

    /// The body for one attempt at a request: a copy of what can be sent again; a stream is
    /// taken, leaving an empty one behind (it is sent once).
    pub(crate) fn take_for_attempt(&mut self) -> Body {
        match self {
            Body::Empty => Body::Empty,
            Body::Bytes(bytes) => Body::Bytes(bytes.clone()),
            Body::Stream(stream) => Body::Stream(std::mem::replace(stream, empty_body())),
            Body::File(_) => std::mem::replace(self, Body::Stream(empty_body())),
        }
    }

    fn into_wire(self) -> WireBody {
        match self {
            Body::Empty => empty_body(),
            Body::Bytes(bytes) => Full::new(bytes).map_err(BoxError::from).boxed_unsync(),
            Body::Stream(stream) => stream,
            Body::File(file) => Body::from_reader(file.stream).into_wire(),
        }
    }
}

fn empty_body() -> WireBody {
    Empty::new().map_err(BoxError::from).boxed_unsync()
}

/// A response: status and headers, the URL that answered (after redirects), and the body,
/// not yet read.
pub(crate) struct Response {
    status: StatusCode,
    headers: HeaderMap,
    url: Url,
    body: ResponseBody,
    /// How long the body may send nothing.
    stall: Duration,
}

/// A response's body: still on hyper's connection, or already read (the answer to a
/// request sent with `sendfile`; `None` once handed out).
enum ResponseBody {
    Wire(Incoming),
    Read(Option<Bytes>),
}

impl Response {
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The URL of the request this answers, for resolving relative `Location` and `Link`s.
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// The next piece of the body, `None` at its end.
    pub(crate) async fn chunk(&mut self) -> Result<Option<Bytes>> {
        let body = match &mut self.body {
            ResponseBody::Wire(body) => body,
            ResponseBody::Read(bytes) => return Ok(bytes.take()),
        };
        loop {
            let frame = tokio::time::timeout(self.stall, body.frame())
                .await
                .map_err(|_| crate::timeouts::stalled(self.stall))
                .context("reading the response")?;
            let Some(frame) = frame else {
                return Ok(None);
            };
            if let Ok(data) = frame.context("reading the response")?.into_data() {
                return Ok(Some(data));
            }
        }
    }

    /// The whole body, refused with [`LimitExceeded`](skopos_core::limits::LimitExceeded) as soon as it is longer than `limit`
    /// (or says so in its `Content-Length`): no more than that is ever read.
    pub(crate) async fn bytes_at_most(mut self, limit: u64) -> Result<Vec<u8>> {
        let announced = self
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(size) = announced {
            check_size(size, limit)?;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            check_size((bytes.len() + chunk.len()) as u64, limit)?;
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// The body as a stream of chunks, as the connection delivers them; a stall is a
    /// `TimedOut` error.
    pub(crate) fn bytes_stream(self) -> BoxStream<'static, std::io::Result<Bytes>> {
        match self.body {
            ResponseBody::Wire(body) => stall_guarded(body, self.stall),
            ResponseBody::Read(bytes) => futures_util::stream::iter(bytes.map(Ok)).boxed(),
        }
    }
}

/// An HTTP/1.1 client with a pool of keep-alive connections per host.
pub(crate) struct HttpClient {
    client: Client<Connector, WireBody>,
    proxies: Arc<Matcher>,
    default_headers: HeaderMap,
    timeouts: Timeouts,
}

impl HttpClient {
    /// A client using `tls` for HTTPS, sending `default_headers` with every request and
    /// giving up on the network after `timeouts`.
    pub(crate) fn new(
        tls: rustls::ClientConfig,
        default_headers: HeaderMap,
        timeouts: Timeouts,
    ) -> HttpClient {
        let proxies = Arc::new(Matcher::from_env());
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(timeouts.connect));
        let connector = HandshakeTimeout {
            inner: hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_or_http()
                .enable_http1()
                .wrap_connector(ProxyConnector {
                    tcp,
                    proxies: proxies.clone(),
                }),
            limit: timeouts.tls_handshake,
        };
        let client = Client::builder(TokioExecutor::new())
            .http1_max_buf_size(READ_BUFFER_LIMIT)
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .build(connector);
        HttpClient {
            client,
            proxies,
            default_headers,
            timeouts,
        }
    }

    /// Send one request and wait for the response's head. Redirects are followed for bodies
    /// that can be sent again; a redirect to another host, port or scheme loses the
    /// `Authorization` header (the credentials are for the registry, not for its storage).
    pub(crate) async fn send(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: Body,
    ) -> Result<Response> {
        let mut method = method;
        let mut url = url;
        let mut headers = headers;
        let mut body = match body {
            Body::File(file) if self.reaches_server_in_plain_tcp(&url) => {
                return self.send_file(method, url, headers, file).await;
            }
            Body::File(file) => {
                // Sized, as `sendfile`'s request is, rather than sent in chunks.
                headers.insert(CONTENT_LENGTH, HeaderValue::from(file.file.length));
                Body::from_reader(file.stream)
            }
            other => other,
        };
        for _ in 0..=MAX_REDIRECTS {
            let mut resent = false;
            let response = loop {
                let (wire, upload) = match body.take_for_attempt() {
                    Body::Stream(stream) => {
                        let progress = UploadProgress::new();
                        let watched = WatchedBody {
                            inner: stream,
                            progress: progress.clone(),
                        };
                        (watched.boxed_unsync(), Some(progress))
                    }
                    other => (other.into_wire(), None),
                };
                let request = self.build_request(&method, &url, &headers, wire)?;
                let answered = await_head(self.client.request(request), upload, &self.timeouts)
                    .await
                    .map_err(|err| anyhow::Error::new(err).context(go_request(&method, &url)))?;
                match answered {
                    Ok(response) => break response,
                    Err(err)
                        if !resent && body.can_be_sent_again() && closed_before_answering(&err) =>
                    {
                        // A kept-alive connection the server (or a proxy, or a load balancer)
                        // had closed: the request went nowhere, so it is sent once more, on a
                        // new connection, as Go's client does.
                        tracing::debug!(
                            "{method} {}: {err}, sending it again",
                            without_query(&url)
                        );
                        resent = true;
                    }
                    Err(err) => return Err(transport_error(&method, &url, err)),
                }
            };
            let (parts, incoming) = response.into_parts();
            let response = Response {
                status: parts.status,
                headers: parts.headers,
                url: url.clone(),
                body: ResponseBody::Wire(incoming),
                stall: self.timeouts.stall,
            };
            if !body.can_be_sent_again() {
                return Ok(response);
            }
            let Some(next) = redirect_target(&response)? else {
                return Ok(response);
            };
            if !same_origin(&url, &next) {
                headers.remove(AUTHORIZATION);
            }
            // 301/302/303 turn into a body-less GET, as in Go's client.
            if matches!(response.status.as_u16(), 301..=303) && method != Method::HEAD {
                method = Method::GET;
                body = Body::Empty;
                headers.remove(CONTENT_TYPE);
            }
            tracing::debug!("redirected to {}", without_query(&next));
            url = next;
        }
        anyhow::bail!(
            "{}: stopped after {MAX_REDIRECTS} redirects",
            go_request(&method, &url)
        )
    }

    /// Whether a request to `url` goes over a plain TCP connection to the server itself:
    /// `http://`, not through a proxy.
    fn reaches_server_in_plain_tcp(&self, url: &Url) -> bool {
        url.scheme() == "http"
            && url
                .as_str()
                .parse::<Uri>()
                .is_ok_and(|uri| self.proxies.intercept(&uri).is_none())
    }

    /// Send a request whose body is `file`, with `sendfile`, on a connection of its own.
    /// Not sent again: as with a streamed body, redirects and 401s are the caller's to see.
    async fn send_file(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        file: FileBody,
    ) -> Result<Response> {
        let all_headers = self.with_default_headers(&headers);
        let length = file.file.length;
        let answer = file_upload::send(
            method.clone(),
            url.clone(),
            all_headers,
            file.file,
            file.sent,
            self.timeouts,
        )
        .await
        .map_err(|err| anyhow::Error::new(err).context(go_request(&method, &url)))?;
        tracing::debug!(
            "{method} {}: {length} bytes sent from their file with sendfile",
            without_query(&url)
        );
        Ok(Response {
            status: answer.status,
            headers: answer.headers,
            url,
            body: ResponseBody::Read(Some(answer.body)),
            stall: self.timeouts.stall,
        })
    }

    /// `headers` after the client's own (user agent and the like), as every request
    /// carries them.
    fn with_default_headers(&self, headers: &HeaderMap) -> HeaderMap {
        let mut all = self.default_headers.clone();
        for (name, value) in headers {
            all.append(name, value.clone());
        }
        all
    }

    fn build_request(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        body: WireBody,
    ) -> Result<http::Request<WireBody>> {
        let uri: Uri = url
            .as_str()
            .parse()
            .with_context(|| format!("invalid URL {:?}", without_query(url)))?;
        let proxy = match uri.scheme() {
            Some(scheme) if *scheme == Scheme::HTTP => self.proxies.intercept(&uri),
            _ => None,
        };
        let mut request = http::Request::builder()
            .method(method.clone())
            .uri(uri)
            .body(body)
            .context("building an HTTP request")?;
        let request_headers = request.headers_mut();
        *request_headers = self.with_default_headers(headers);
        if let Some(proxy) = proxy {
            // Plain HTTP through a proxy goes to the proxy in absolute form, with its
            // credentials on each request (HTTPS is tunnelled by the connector instead).
            if let Some(auth) = proxy.basic_auth() {
                request_headers.insert(PROXY_AUTHORIZATION, auth.clone());
            }
            // Proxies may drop the connection after each answer without saying so (tinyproxy
            // does); a streamed upload sent on such a connection could not be sent again.
            request_headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        Ok(request)
    }
}

/// Whether the request failed because the connection closed before any answer: a kept-alive
/// connection closed by the other side while idle.
fn closed_before_answering(err: &hyper_util::client::legacy::Error) -> bool {
    let mut cause = std::error::Error::source(err);
    while let Some(error) = cause {
        if let Some(hyper_error) = error.downcast_ref::<hyper::Error>() {
            return hyper_error.is_incomplete_message() || hyper_error.is_canceled();
        }
        cause = error.source();
    }
    false
}

/// Where `response` redirects to, if it is a redirect.
fn redirect_target(response: &Response) -> Result<Option<Url>> {
    if !matches!(response.status.as_u16(), 301 | 302 | 303 | 307 | 308) {
        return Ok(None);
    }
    let Some(location) = response.headers.get(LOCATION) else {
        return Ok(None);
    };
    let location = location
        .to_str()
        .context("the server sent an invalid redirect Location")?;
    let next = response
        .url
        .join(location)
        .with_context(|| format!("the server redirected to an invalid URL {location:?}"))?;
    Ok(Some(next))
}

/// Go's spelling of a method in error messages: `Get`, `Head`, `Put`, …
/// A request as Go's client names it in errors: `Put "http://host/v2/…"`, without the
/// query (upload URLs carry the registry's upload state there).
fn go_request(method: &Method, url: &Url) -> String {
    format!("{} {:?}", method_name(method), without_query(url))
}

fn method_name(method: &Method) -> String {
    let name = method.as_str();
    let mut shown = name[..1].to_string();
    shown.push_str(&name[1..].to_ascii_lowercase());
    shown
}

/// A request that got no response, as Go's client reports it:
/// `Get "https://host/v2/": <why>`. Upload URLs carry the registry's upload state in their
/// query — long, and nothing a user needs — so only the path is shown. hyper's outer
/// "client error (Connect)" says nothing its causes do not, so only those are kept; the
/// innermost stays an `io::Error` of the same kind, for
/// [`skopos_core::retry::is_retryable`] to judge.
fn transport_error(
    method: &Method,
    url: &Url,
    err: hyper_util::client::legacy::Error,
) -> anyhow::Error {
    let request = go_request(method, url);
    let mut causes: Vec<String> = Vec::new();
    let mut kind = std::io::ErrorKind::Other;
    let mut os_error = None;
    let mut next = std::error::Error::source(&err);
    if next.is_none() {
        causes.push(err.to_string());
    }
    while let Some(cause) = next {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            kind = io.kind();
            os_error = io.raw_os_error().or(os_error);
        }
        let text = tls_error(cause)
            .and_then(go_certificate_error)
            .unwrap_or_else(|| cause.to_string());
        // An io::Error wrapping another error shows the same text twice.
        if causes.last() != Some(&text) {
            causes.push(text);
        }
        next = cause.source();
    }
    // A refused or unreachable TCP connection, worded as Go's dialer words it
    // (`dial tcp 127.0.0.1:5000: connect: connection refused`), which skopeo users know.
    if let (Some(code), Some(host)) = (os_error, url.host_str()) {
        if causes
            .first()
            .is_some_and(|first| first == "tcp connect error")
        {
            let errno = go_errno_text(&std::io::Error::from_raw_os_error(code));
            let port = url.port_or_known_default().unwrap_or_default();
            causes = vec![format!("dial tcp {host}:{port}: connect: {errno}")];
        }
    }
    let innermost = causes.pop().unwrap_or_default();
    let mut error = anyhow::Error::new(std::io::Error::new(kind, innermost));
    for cause in causes.into_iter().rev() {
        error = error.context(cause);
    }
    error.context(request)
}

/// The TLS error `cause` is, or wraps in `io::Error`s (tokio-rustls wraps it in one,
/// hyper-rustls that in another; an `io::Error` does not list what it wraps as its source).
fn tls_error<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = cause;
    loop {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        current = current.downcast_ref::<std::io::Error>()?.get_ref()?;
    }
}

fn without_query(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.to_string()
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Opens the TCP connection for a request: straight to the server, to an HTTP proxy (plain
/// HTTP requests), or through a `CONNECT` tunnel of an HTTP proxy (HTTPS requests; TLS to the
/// server then runs inside the tunnel).
#[derive(Clone)]
struct ProxyConnector {
    tcp: HttpConnector,
    proxies: Arc<Matcher>,
}

impl tower_service::Service<Uri> for ProxyConnector {
    type Response = ProxiedStream;
    type Error = BoxError;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<ProxiedStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<std::result::Result<(), BoxError>> {
        // HttpConnector is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, destination: Uri) -> Self::Future {
        let mut tcp = self.tcp.clone();
        let proxy = self.proxies.intercept(&destination);
        Box::pin(async move {
            let Some(proxy) = proxy else {
                let stream = tcp.call(destination).await?;
                transport_ready();
                return Ok(ProxiedStream {
                    stream,
                    to_proxy: false,
                });
            };
            let proxy_name = proxy
                .uri()
                .authority()
                .map(|authority| authority.to_string())
                .unwrap_or_default();
            if proxy.uri().scheme() != Some(&Scheme::HTTP) {
                return Err(
                    format!("proxy {proxy_name}: only http:// proxies are supported").into(),
                );
            }
            let through_proxy = |source: BoxError| ProxyError {
                proxy: proxy_name.clone(),
                source,
            };
            if destination.scheme() == Some(&Scheme::HTTPS) {
                let mut tunnel = Tunnel::new(proxy.uri().clone(), tcp);
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                futures_util::future::poll_fn(|cx| tunnel.poll_ready(cx))
                    .await
                    .map_err(|err| through_proxy(err.into()))?;
                let stream = tunnel
                    .call(destination)
                    .await
                    .map_err(|err| through_proxy(err.into()))?;
                transport_ready();
                return Ok(ProxiedStream {
                    stream,
                    to_proxy: false,
                });
            }
            let stream = tcp
                .call(proxy.uri().clone())
                .await
                .map_err(|err| through_proxy(err.into()))?;
            Ok(ProxiedStream {
                stream,
                to_proxy: true,
            })
        })
    }
}

/// A connection to a proxy that failed, named so that the user knows a proxy was involved.
#[derive(Debug, thiserror::Error)]
#[error("proxy {proxy}")]
struct ProxyError {
    proxy: String,
    #[source]
    source: BoxError,
}

/// A TCP connection that tells hyper whether it leads to a proxy (then requests are sent with
/// absolute URLs).
struct ProxiedStream {
    stream: TokioIo<tokio::net::TcpStream>,
    to_proxy: bool,
}

impl Connection for ProxiedStream {
    fn connected(&self) -> Connected {
        self.stream.connected().proxy(self.to_proxy)
    }
}

impl hyper::rt::Read for ProxiedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for ProxiedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_spelled_as_go_spells_them() {
        assert_eq!(method_name(&Method::GET), "Get");
        assert_eq!(method_name(&Method::DELETE), "Delete");
    }

    #[test]
    fn origins() {
        let a = Url::parse("https://r.example/v2/x").unwrap();
        assert!(same_origin(
            &a,
            &Url::parse("https://r.example:443/y").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("http://r.example/v2/x").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("https://cdn.example/v2/x").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("https://r.example:5000/v2/x").unwrap()
        ));
    }
}
