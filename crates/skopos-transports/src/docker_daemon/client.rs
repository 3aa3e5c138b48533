//! A small Docker Engine API client: the two calls `docker-daemon:` needs,
//! `GET /images/get` (a `docker save` tar, streamed) and `POST /images/load` (a tar streamed
//! up as a chunked body), over a unix socket, plain TCP (`http://`) or TLS (`tcp://`).
//!
//! Behaviour follows containers/image v5.23 (skopeo 1.9.3) and the moby client it uses:
//! - the host is `--daemon-host` (`ctx.docker_daemon_host`), else `$DOCKER_HOST`, else
//!   `unix:///var/run/docker.sock` (skopeo itself does not read `$DOCKER_HOST`);
//! - the API version is pinned at 1.22, without negotiation, so every path is `/v1.22/…`;
//! - any scheme other than `unix` and `http` means TLS over TCP, verified against the system
//!   roots plus `ca.pem` from `ctx.docker_cert_dir`, with `cert.pem`/`key.pem` from that
//!   directory as the client identity; `ctx.docker_tls_verify == Some(false)` skips
//!   verification;
//! - errors are worded as skopeo prints them (`Cannot connect to the Docker daemon at …`,
//!   `Error response from daemon: …` with the body as sent, since API 1.22 predates JSON
//!   error bodies).
//!
//! One connection per request (hyper's HTTP/1 connection API, driven by a spawned task):
//! a transport makes one or two calls per copy, so pooling would buy nothing.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Frame, Incoming};
use hyper::{header, Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use skopos_core::go::text::go_quote;
use skopos_core::image::BlobReader;
use skopos_core::{Result, SystemContext};
use skopos_registry::tls::NoVerification;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::TlsConnector;
use tokio_util::io::StreamReader;
use tokio_util::sync::PollSender;

use std::future::Future as _;

use skopos_registry::timeouts::{self, Timeouts};

use crate::fsutil::path_error;

/// The daemon skopeo talks to when no host is given (moby's `DefaultDockerHost`).
pub(crate) const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// The API version containers/image v5.23 pins (`defaultAPIVersion`).
const API_VERSION: &str = "1.22";

/// How long connecting may take before the daemon counts as unreachable (moby's
/// `defaultTimeout` for socket dialing).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(32);

/// How much of an error response body is read for the message.
const MAX_ERROR_BODY: usize = skopos_core::limits::MAX_ERROR_BODY as usize;

/// How many written chunks of an upload may wait for the connection.
const UPLOAD_CHUNKS_IN_FLIGHT: usize = 4;

/// Where the daemon listens and how to speak to it.
enum Endpoint {
    Unix(PathBuf),
    /// Plain HTTP over TCP (`http://HOST:PORT`).
    Tcp {
        address: String,
    },
    /// HTTPS (`tcp://HOST:PORT` and any other scheme).
    Tls {
        address: String,
        connector: TlsConnector,
        server_name: ServerName<'static>,
    },
}

/// A client for one Docker Engine API endpoint.
pub(crate) struct DaemonClient {
    /// The host as the user gave it, for messages.
    host: String,
    endpoint: Endpoint,
    /// A `tcp://HOST:PORT/PATH` host's path, put before `/v1.22`.
    base_path: String,
    user_agent: Option<String>,
    /// The registry client's limits (`$SKOPOS_NETWORK_TIMEOUTS`): a daemon that accepts the
    /// connection and then says nothing, or stops mid-stream, fails the command instead of
    /// hanging it. Connecting keeps moby's own limit, [`CONNECT_TIMEOUT`].
    timeouts: Timeouts,
}

/// Anything a connection can run over.
trait Connection: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Connection for T {}

impl DaemonClient {
    /// A client for the daemon `ctx` names (see the module documentation). Fails, as skopeo
    /// does, on a host without `://` and on unreadable TLS files.
    pub(crate) fn new(ctx: &SystemContext) -> Result<DaemonClient> {
        let host = match &ctx.docker_daemon_host {
            Some(host) if !host.is_empty() => host.clone(),
            _ => match std::env::var("DOCKER_HOST") {
                Ok(host) if !host.is_empty() => host,
                _ => DEFAULT_DOCKER_HOST.to_string(),
            },
        };
        Self::for_host(host, ctx).context("initializing docker engine client")
    }

    fn for_host(host: String, ctx: &SystemContext) -> Result<DaemonClient> {
        let Some((scheme, address)) = host.split_once("://") else {
            anyhow::bail!("unable to parse docker host `{host}`");
        };
        let (address, base_path) = match scheme {
            // moby parses only tcp:// hosts as URLs, which splits off a path.
            "tcp" => match address.find('/') {
                Some(slash) => (&address[..slash], address[slash..].trim_end_matches('/')),
                None => (address, ""),
            },
            _ => (address, ""),
        };
        let endpoint = match scheme {
            "unix" => Endpoint::Unix(PathBuf::from(address)),
            "http" => Endpoint::Tcp {
                address: address.to_string(),
            },
            _ => Endpoint::Tls {
                address: address.to_string(),
                connector: TlsConnector::from(Arc::new(tls_config(ctx)?)),
                server_name: server_name(address)?,
            },
        };
        Ok(DaemonClient {
            timeouts: Timeouts::from_env()?,
            endpoint,
            base_path: base_path.to_string(),
            user_agent: ctx.user_agent.clone(),
            host,
        })
    }

    /// `GET /images/get?names=NAME`: the image as a `docker save` tar, streamed.
    pub(crate) async fn image_save(&self, name: &str) -> Result<BlobReader> {
        let path = format!("/images/get?names={}", query_escape(name));
        let request = self
            .request(Method::GET, &path)
            .body(Empty::<Bytes>::new())
            .context("building the image save request")?;
        let context = self.reply_context(&Method::GET, &path);
        let mut sender = self.handshake(&context).await?;
        let response = tokio::time::timeout(self.timeouts.headers, sender.send_request(request))
            .await
            .map_err(|_| context.timed_out(&timeouts::awaiting_headers()))?
            .map_err(|err| context.request_error(&err))?;
        let response = context.check_status(response).await?;
        let host = self.host.clone();
        let data = timeouts::stall_guarded(response.into_body(), self.timeouts.stall).map_err(
            move |err| {
                std::io::Error::new(err.kind(), format!("reading the image from {host}: {err}"))
            },
        );
        Ok(Box::pin(StreamReader::new(data)))
    }

    /// `POST /images/load?quiet=1`: connects now, then streams what is written to the
    /// returned [`LoadUpload`] as the request body. The body is complete only after its
    /// writer's `shutdown`; an upload dropped before that ends the request with an error,
    /// without the final chunk, so the daemon loads nothing.
    pub(crate) async fn image_load(&self) -> Result<LoadUpload> {
        let path = "/images/load?quiet=1";
        let context = self.reply_context(&Method::POST, path);
        let mut sender = self.handshake(&context).await?;
        let (chunks, received) = mpsc::channel(UPLOAD_CHUNKS_IN_FLIGHT);
        let finished = Arc::new(AtomicBool::new(false));
        let body = UploadBody {
            chunks: received,
            finished: finished.clone(),
        };
        let request = self
            .request(Method::POST, path)
            .header(header::CONTENT_TYPE, "application/x-tar")
            .body(body)
            .context("building the image load request")?;
        let reply = tokio::spawn(async move {
            let response = sender
                .send_request(request)
                .await
                .map_err(|err| context.request_error(&err))?;
            let response = context.check_status(response).await?;
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|err| anyhow!("reading the reply of {}: {err}", context.host))?
                .to_bytes();
            load_reply_error(&body)
        });
        Ok(LoadUpload {
            writer: UploadWriter {
                chunks: PollSender::new(chunks),
                finished,
                stall: self.timeouts.stall,
                stalled_since: None,
            },
            reply: LoadReply {
                task: Some(reply),
                outcome: None,
                reply_timeout: self.timeouts.headers,
            },
        })
    }

    fn reply_context(&self, method: &Method, path: &str) -> ReplyContext {
        ReplyContext {
            host: self.host.clone(),
            url: self.url(path),
            // Go's url.Error names the method this way.
            verb: if *method == Method::POST {
                "Post"
            } else {
                "Get"
            },
        }
    }

    fn url(&self, path: &str) -> String {
        let authority = match &self.endpoint {
            Endpoint::Unix(socket) => socket.display().to_string().replace('/', "%2F"),
            Endpoint::Tcp { address } | Endpoint::Tls { address, .. } => address.clone(),
        };
        let scheme = match self.endpoint {
            Endpoint::Tls { .. } => "https",
            _ => "http",
        };
        format!(
            "{scheme}://{authority}{}/v{API_VERSION}{path}",
            self.base_path
        )
    }

    fn request(&self, method: Method, path: &str) -> hyper::http::request::Builder {
        let host = match &self.endpoint {
            // moby's placeholder: any valid name does for a local socket.
            Endpoint::Unix(_) => "docker",
            Endpoint::Tcp { address } | Endpoint::Tls { address, .. } => address,
        };
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}/v{API_VERSION}{path}", self.base_path))
            .header(header::HOST, host);
        if let Some(agent) = &self.user_agent {
            builder = builder.header(header::USER_AGENT, agent);
        }
        builder
    }

    /// Connects and starts an HTTP/1 connection, whose driving task ends with it.
    async fn handshake<B>(
        &self,
        context: &ReplyContext,
    ) -> Result<hyper::client::conn::http1::SendRequest<B>>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let connection = self.connect(context).await?;
        let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(connection))
            .await
            .map_err(|err| context.request_error(&err))?;
        tokio::spawn(async move {
            if let Err(err) = driver.await {
                tracing::debug!("docker engine connection ended: {err}");
            }
        });
        Ok(sender)
    }

    async fn connect(&self, context: &ReplyContext) -> Result<Box<dyn Connection>> {
        let attempt = async {
            Ok::<Box<dyn Connection>, ConnectError>(match &self.endpoint {
                Endpoint::Unix(socket) => {
                    Box::new(UnixStream::connect(socket).await.map_err(|err| {
                        ConnectError::Dial(err, "unix", socket.display().to_string())
                    })?)
                }
                Endpoint::Tcp { address } => Box::new(
                    TcpStream::connect(address.as_str())
                        .await
                        .map_err(|err| ConnectError::Dial(err, "tcp", address.clone()))?,
                ),
                Endpoint::Tls {
                    address,
                    connector,
                    server_name,
                } => {
                    let tcp = TcpStream::connect(address.as_str())
                        .await
                        .map_err(|err| ConnectError::Dial(err, "tcp", address.clone()))?;
                    Box::new(
                        connector
                            .connect(server_name.clone(), tcp)
                            .await
                            .map_err(ConnectError::Tls)?,
                    )
                }
            })
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Err(_elapsed) => Err(self.cannot_connect()),
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(ConnectError::Dial(err, network, address))) => {
                let dial = format!(
                    "dial {network} {address}: connect: {}",
                    crate::fsutil::go_error_text(&err)
                );
                match err.kind() {
                    std::io::ErrorKind::PermissionDenied => Err(anyhow!(
                        "Got permission denied while trying to connect to the Docker daemon socket at {}: {dial}",
                        self.host
                    )),
                    // moby reports every failed unix dial, and refused TCP connections, so.
                    _ if network == "unix" => Err(self.cannot_connect()),
                    std::io::ErrorKind::ConnectionRefused => Err(self.cannot_connect()),
                    _ => Err(anyhow!(
                        "error during connect: {} {:?}: {dial}",
                        context.verb,
                        context.url
                    )),
                }
            }
            Ok(Err(ConnectError::Tls(err))) => Err(tls_error(&format!(
                "{} {:?}: {err}",
                context.verb, context.url
            ))),
        }
    }

    fn cannot_connect(&self) -> anyhow::Error {
        anyhow!(
            "Cannot connect to the Docker daemon at {}. Is the docker daemon running?",
            self.host
        )
    }
}

/// Why a connection could not be made.
enum ConnectError {
    /// The socket or TCP connection failed: the error, the network and the address.
    Dial(std::io::Error, &'static str, String),
    Tls(std::io::Error),
}

/// What a request needs to word its errors once it runs in its own task.
struct ReplyContext {
    host: String,
    url: String,
    verb: &'static str,
}

impl ReplyContext {
    fn request_error(&self, err: &hyper::Error) -> anyhow::Error {
        anyhow!("error during connect: {} {:?}: {err}", self.verb, self.url)
    }

    /// A limit of [`DaemonClient::timeouts`] ran out, worded as moby wraps Go's transport
    /// errors.
    fn timed_out(&self, err: &std::io::Error) -> anyhow::Error {
        anyhow!("error during connect: {} {:?}: {err}", self.verb, self.url)
    }

    /// moby's `checkResponseErr`: statuses from 200 to 399 pass; otherwise the body, as
    /// sent (API 1.22), is the message.
    async fn check_status(&self, response: Response<Incoming>) -> Result<Response<Incoming>> {
        let status = response.status();
        if (200..400).contains(&status.as_u16()) {
            return Ok(response);
        }
        let body = http_body_util::Limited::new(response.into_body(), MAX_ERROR_BODY)
            .collect()
            .await
            .map_err(|err| anyhow!("reading the error reply ({status}) of {}: {err}", self.host))?
            .to_bytes();
        if body.is_empty() {
            anyhow::bail!(
                "request returned {} for API route and version {}, check if the server supports the requested API version",
                status_text(status),
                self.url
            );
        }
        anyhow::bail!(
            "Error response from daemon: {}",
            String::from_utf8_lossy(&body).trim()
        )
    }
}

/// moby's hint for a TLS failure that looks like a refused client certificate.
fn tls_error(text: &str) -> anyhow::Error {
    if text.contains("BadCertificate") || text.contains("CertificateRequired") {
        anyhow!(
            "The server probably has client authentication (--tlsverify) enabled. Please check your TLS client certification settings: {text}"
        )
    } else {
        anyhow!("error during connect: {text}")
    }
}

/// Go's `http.StatusText`: the reason phrase alone.
fn status_text(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("")
}

/// The first error a `docker load` JSON message stream reports, as newer containers/image
/// words it (`docker engine reported: "…"`); `Ok` when there is none. Text that is not
/// JSON is ignored, as skopeo 1.9.3 ignores the whole reply.
fn load_reply_error(body: &[u8]) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Message {
        #[serde(rename = "errorDetail")]
        error_detail: Option<ErrorDetail>,
        error: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorDetail {
        message: Option<String>,
    }
    for message in serde_json::Deserializer::from_slice(body).into_iter::<Message>() {
        let Ok(message) = message else { break };
        let text = message
            .error_detail
            .and_then(|detail| detail.message)
            .or(message.error);
        if let Some(text) = text {
            anyhow::bail!("docker engine reported: {}", go_quote(&text));
        }
    }
    Ok(())
}

/// Go's `url.QueryEscape`.
fn query_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                escaped.push(byte as char)
            }
            b' ' => escaped.push('+'),
            _ => escaped.push_str(&format!("%{byte:02X}")),
        }
    }
    escaped
}

/// The TLS name to verify the daemon's certificate against: the host part of `HOST:PORT`.
fn server_name(address: &str) -> Result<ServerName<'static>> {
    let host = match address.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => address,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string())
        .map_err(|err| anyhow!("invalid docker daemon host name {host:?}: {err}"))
}

/// go-connections' `tlsconfig.Client`: system roots plus `ca.pem`, the `cert.pem`/`key.pem`
/// identity, or no verification at all with `--tls-verify=false`.
fn tls_config(ctx: &SystemContext) -> Result<rustls::ClientConfig> {
    let provider = skopos_registry::tls::crypto_provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?;
    let builder = if ctx.docker_tls_verify == Some(false) {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification::new(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(skopos_registry::tls::system_roots().iter().cloned());
        if let Some(dir) = &ctx.docker_cert_dir {
            let ca_file = dir.join("ca.pem");
            let pem = std::fs::read(&ca_file).map_err(|err| {
                anyhow!(
                    "could not read CA certificate {}: {:#}",
                    go_quote(&ca_file.display().to_string()),
                    path_error("open", &ca_file, &err)
                )
            })?;
            let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                .filter_map(|certificate| certificate.ok())
                .collect();
            let (added, _ignored) = roots.add_parsable_certificates(certificates);
            if added == 0 {
                anyhow::bail!(
                    "failed to append certificates from PEM file: {}",
                    go_quote(&ca_file.display().to_string())
                );
            }
        }
        builder.with_root_certificates(roots)
    };
    match &ctx.docker_cert_dir {
        None => Ok(builder.with_no_client_auth()),
        Some(dir) => {
            let (certificates, key) = client_identity(&dir.join("cert.pem"), &dir.join("key.pem"))
                .context("Could not load X509 key pair")?;
            builder
                .with_client_auth_cert(certificates, key)
                .context("Could not load X509 key pair")
        }
    }
}

fn client_identity(
    cert_file: &Path,
    key_file: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let cert_pem = std::fs::read(cert_file).map_err(|err| path_error("open", cert_file, &err))?;
    let key_pem = std::fs::read(key_file).map_err(|err| path_error("open", key_file, &err))?;
    let certificates = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|err| anyhow!("{}: {err}", cert_file.display()))?;
    if certificates.is_empty() {
        anyhow::bail!("tls: failed to find any PEM data in certificate input");
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|_| anyhow!("tls: failed to find any PEM data in key input"))?;
    Ok((certificates, key))
}

/// A running `POST /images/load`: the body's writer and the daemon's reply.
pub(crate) struct LoadUpload {
    /// Where the tar goes; its `shutdown` ends the body.
    pub(crate) writer: UploadWriter,
    /// The daemon's answer.
    pub(crate) reply: LoadReply,
}

/// The daemon's answer to an image load; dropping it abandons the request.
pub(crate) struct LoadReply {
    /// The request's task, until its outcome is known.
    task: Option<JoinHandle<Result<()>>>,
    /// The outcome, kept as text so that it can be reported more than once.
    outcome: Option<std::result::Result<(), String>>,
    /// How long the daemon may take to answer once the whole image was sent.
    reply_timeout: Duration,
}

impl LoadReply {
    /// Wait for the daemon to answer (after the body writer was shut down) and return its
    /// verdict; a daemon that does not answer within the headers limit fails it.
    pub(crate) async fn wait(&mut self) -> Result<()> {
        if !self.answered_within(self.reply_timeout).await {
            if let Some(task) = self.task.take() {
                task.abort();
            }
            self.outcome = Some(Err(format!(
                "waiting for the docker engine to load the image: {}",
                timeouts::awaiting_headers()
            )));
        }
        match &self.outcome {
            Some(Err(text)) => Err(anyhow!("{text}")),
            _ => Ok(()),
        }
    }

    /// The request's error if it ends with one within `patience`: a write into the body
    /// fails once the daemon hung up, and the reply, which follows shortly, says why.
    pub(crate) async fn failure_within(&mut self, patience: Duration) -> Option<anyhow::Error> {
        if !self.answered_within(patience).await {
            return None;
        }
        match &self.outcome {
            Some(Err(text)) => Some(anyhow!("{text}")),
            _ => None,
        }
    }

    /// Whether the request's outcome is known, waiting for it at most `limit`. The task is
    /// kept while it runs, so a later wait loses nothing.
    async fn answered_within(&mut self, limit: Duration) -> bool {
        let Some(task) = self.task.as_mut() else {
            return self.outcome.is_some();
        };
        let outcome = match tokio::time::timeout(limit, task).await {
            Err(_still_running) => return false,
            Ok(Ok(result)) => result.map_err(|err| format!("{err:#}")),
            Ok(Err(err)) => Err(format!("the image load request stopped: {err}")),
        };
        self.task = None;
        self.outcome = Some(outcome);
        true
    }
}

impl Drop for LoadReply {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The writing end of an image load's request body. Bytes written go to the daemon as they
/// come (chunked); `shutdown` marks the body complete. Dropped without a shutdown, the
/// body ends in an error so the request is aborted instead of completed.
pub(crate) struct UploadWriter {
    chunks: PollSender<Bytes>,
    finished: Arc<AtomicBool>,
    /// How long a write may wait for the daemon to take earlier chunks.
    stall: Duration,
    /// Armed when a write finds the queue full; cleared when a chunk goes in.
    stalled_since: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl UploadWriter {
    fn closed_error() -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::BrokenPipe,
            "the docker engine stopped reading the image",
        )
    }
}

impl AsyncWrite for UploadWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        match self.chunks.poll_reserve(cx) {
            Poll::Pending => {
                let stall = self.stall;
                let timer = self
                    .stalled_since
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
                match timer.as_mut().poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "the docker engine took no data of the image for {}s, giving up",
                            stall.as_secs_f64()
                        ),
                    ))),
                }
            }
            Poll::Ready(Err(_closed)) => Poll::Ready(Err(Self::closed_error())),
            Poll::Ready(Ok(())) => {
                self.stalled_since = None;
                match self.chunks.send_item(Bytes::copy_from_slice(buf)) {
                    Ok(()) => Poll::Ready(Ok(buf.len())),
                    Err(_closed) => Poll::Ready(Err(Self::closed_error())),
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.finished.store(true, Ordering::Release);
        self.chunks.close();
        Poll::Ready(Ok(()))
    }
}

/// The request body of an image load: the chunks an [`UploadWriter`] sends.
struct UploadBody {
    chunks: mpsc::Receiver<Bytes>,
    finished: Arc<AtomicBool>,
}

impl Body for UploadBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, std::io::Error>>> {
        match self.chunks.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(chunk)) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
            Poll::Ready(None) if self.finished.load(Ordering::Acquire) => Poll::Ready(None),
            Poll::Ready(None) => Poll::Ready(Some(Err(std::io::Error::other(
                "aborting the image upload: the destination was closed without a commit",
            )))),
        }
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
