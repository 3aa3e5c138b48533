//! How long the registry client waits on the network before giving up, so that a server that
//! accepts a connection and then says nothing (a hung registry, a black-holed port behind a
//! load balancer, a TLS port that never finishes its handshake) fails the command instead of
//! hanging it.
//!
//! Every limit ends in an `io::Error` of kind `TimedOut`, which `--retry-times` retries; a
//! stalled blob download is resumed with `Range` like a cut connection.
//!
//! `$SKOPOS_NETWORK_TIMEOUTS` changes them, as comma-separated `name=seconds` pairs
//! (fractions allowed), e.g. `connect=5,tls-handshake=2,headers=30,stall=10`; the names
//! are those of the [`Timeouts`] fields, with `-` for `_`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt as _;
use http::uri::Scheme;
use http::Uri;
use http_body_util::BodyDataStream;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use tokio::sync::Notify;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

use crate::Result;

/// The environment variable that overrides the defaults.
pub const TIMEOUTS_VARIABLE: &str = "SKOPOS_NETWORK_TIMEOUTS";

/// The network limits of one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening a TCP connection (Go's dialer in containers/image: 30 s).
    pub connect: Duration,
    /// The TLS handshake once connected (containers/image: 10 s).
    pub tls_handshake: Duration,
    /// From a request fully sent (connecting included) to the response's headers.
    pub headers: Duration,
    /// No byte of a response body received, or of an upload taken by the server, for this
    /// long.
    pub stall: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(30),
            tls_handshake: Duration::from_secs(10),
            // Generous: a registry may take a while to commit a large uploaded blob.
            headers: Duration::from_secs(300),
            stall: Duration::from_secs(60),
        }
    }
}

impl Timeouts {
    /// The defaults, with what `$SKOPOS_NETWORK_TIMEOUTS` says applied.
    pub fn from_env() -> Result<Timeouts> {
        match std::env::var(TIMEOUTS_VARIABLE) {
            Ok(text) => Timeouts::parse(&text).with_context(|| format!("${TIMEOUTS_VARIABLE}")),
            Err(std::env::VarError::NotPresent) => Ok(Timeouts::default()),
            Err(err) => Err(anyhow!("${TIMEOUTS_VARIABLE}: {err}")),
        }
    }

    /// The defaults with `name=seconds` pairs applied.
    pub fn parse(text: &str) -> Result<Timeouts> {
        let mut timeouts = Timeouts::default();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, seconds) = pair
                .split_once('=')
                .ok_or_else(|| anyhow!("{pair:?} is not name=seconds"))?;
            let seconds: f64 = seconds
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s > 0.0)
                .ok_or_else(|| anyhow!("{pair:?}: the seconds must be a positive number"))?;
            let duration = Duration::from_secs_f64(seconds);
            match name.trim() {
                "connect" => timeouts.connect = duration,
                "tls-handshake" => timeouts.tls_handshake = duration,
                "headers" => timeouts.headers = duration,
                "stall" => timeouts.stall = duration,
                other => {
                    bail!("unknown timeout {other:?} (connect, tls-handshake, headers, stall)")
                }
            }
        }
        Ok(timeouts)
    }
}

tokio::task_local! {
    /// Set while a connection is being made: told when the TCP connection (or proxy tunnel)
    /// stands, so that the TLS handshake's own limit starts then.
    static TRANSPORT_READY: Arc<Notify>;
}

/// Called by the TCP connector once the connection stands.
pub(crate) fn transport_ready() {
    let _ = TRANSPORT_READY.try_with(|ready| ready.notify_one());
}

/// A connector whose HTTPS connections must finish their TLS handshake within `limit` of
/// the TCP connection standing (the TCP connection has its own limit).
#[derive(Clone)]
pub(crate) struct HandshakeTimeout<C> {
    pub inner: C,
    pub limit: Duration,
}

impl<C> tower_service::Service<Uri> for HandshakeTimeout<C>
where
    C: tower_service::Service<Uri> + Send,
    C::Future: Send + 'static,
    C::Response: Send + 'static,
    C::Error: Into<BoxError>,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, destination: Uri) -> Self::Future {
        let https = destination.scheme() == Some(&Scheme::HTTPS);
        let ready = Arc::new(Notify::new());
        let connecting = TRANSPORT_READY.scope(ready.clone(), self.inner.call(destination));
        let limit = self.limit;
        Box::pin(async move {
            let mut connecting = std::pin::pin!(connecting);
            if https {
                tokio::select! {
                    biased;
                    done = &mut connecting => return done.map_err(Into::into),
                    () = ready.notified() => {}
                }
                return match tokio::time::timeout(limit, connecting).await {
                    Ok(done) => done.map_err(Into::into),
                    Err(_) => Err(timed_out("net/http: TLS handshake timeout").into()),
                };
            }
            connecting.await.map_err(Into::into)
        })
    }
}

/// When an upload last handed the connection a piece, and whether it has ended.
#[derive(Clone)]
pub(crate) struct UploadProgress(Arc<Mutex<(Instant, bool)>>);

impl UploadProgress {
    pub(crate) fn new() -> UploadProgress {
        UploadProgress(Arc::new(Mutex::new((Instant::now(), false))))
    }

    fn note(&self, ended: bool) {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *state = (Instant::now(), state.1 || ended);
    }

    fn state(&self) -> (Instant, bool) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A request body that reports its progress to an [`UploadProgress`].
pub(crate) struct WatchedBody<B> {
    pub inner: B,
    pub progress: UploadProgress,
}

impl<B: HttpBody<Data = Bytes> + Unpin> HttpBody for WatchedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(_))) => self.progress.note(self.inner.is_end_stream()),
            Poll::Ready(None) => self.progress.note(true),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Waits for `answer` (a request's response head). It fails with a `TimedOut` error when
/// an upload (`upload`) hands over nothing for `timeouts.stall`, or when the head has not
/// come `timeouts.headers` after the request was fully sent.
pub(crate) async fn await_head<T, E>(
    answer: impl Future<Output = std::result::Result<T, E>>,
    upload: Option<UploadProgress>,
    timeouts: &Timeouts,
) -> std::result::Result<std::result::Result<T, E>, io::Error> {
    let started = Instant::now();
    let mut answer = std::pin::pin!(answer);
    loop {
        let (deadline, what) = match upload.as_ref().map(UploadProgress::state) {
            Some((last, false)) => (last + timeouts.stall, UPLOAD_STALLED),
            Some((ended, true)) => (ended + timeouts.headers, AWAITING_HEADERS),
            None => (started + timeouts.headers, AWAITING_HEADERS),
        };
        if Instant::now() >= deadline {
            return Err(timed_out(what));
        }
        tokio::select! {
            answered = &mut answer => return Ok(answered),
            () = tokio::time::sleep_until(deadline.into()) => {}
        }
    }
}

const AWAITING_HEADERS: &str = "net/http: timeout awaiting response headers";
const UPLOAD_STALLED: &str = "the server took no data of the request body in time";

/// A response body as a stream of its data, failing with a `TimedOut` error when nothing
/// arrives for `stall`. Public for the other HTTP clients of skopos (the Docker Engine API).
pub fn stall_guarded(body: Incoming, stall: Duration) -> BoxStream<'static, io::Result<Bytes>> {
    futures_util::stream::unfold(Some(BodyDataStream::new(body)), move |data| async move {
        let mut data = data?;
        match tokio::time::timeout(stall, data.next()).await {
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(data))),
            Ok(Some(Err(err))) => Some((Err(io::Error::other(err)), None)),
            Ok(None) => None,
            Err(_) => Some((Err(stalled(stall)), None)),
        }
    })
    .boxed()
}

/// The error for a response whose headers did not come within [`Timeouts::headers`], in
/// Go's `net/http` words.
pub fn awaiting_headers() -> io::Error {
    timed_out(AWAITING_HEADERS)
}

/// The error for a limit that ran out, in Go's `net/http` words where it has them.
pub(crate) fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_string())
}

/// The error for an upload the server stopped taking.
pub(crate) fn upload_stalled() -> io::Error {
    timed_out(UPLOAD_STALLED)
}

/// The error for a body that stopped arriving.
pub(crate) fn stalled(stall: Duration) -> io::Error {
    timed_out(&format!(
        "no data received for {}s, giving up",
        stall.as_secs_f64()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_overrides_and_keeps_the_other_defaults() {
        let parsed = Timeouts::parse("connect=5, stall=0.5").unwrap();
        assert_eq!(parsed.connect, Duration::from_secs(5));
        assert_eq!(parsed.stall, Duration::from_millis(500));
        assert_eq!(parsed.tls_handshake, Timeouts::default().tls_handshake);
        assert_eq!(Timeouts::parse("").unwrap(), Timeouts::default());
    }

    fn short() -> Timeouts {
        Timeouts {
            headers: Duration::from_millis(50),
            stall: Duration::from_millis(50),
            ..Timeouts::default()
        }
    }

    #[tokio::test]
    async fn an_answer_that_never_comes_times_out_awaiting_headers() {
        let never = std::future::pending::<std::result::Result<(), ()>>();
        let err = await_head(never, None, &short()).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(err.to_string(), AWAITING_HEADERS);
    }

    #[tokio::test]
    async fn an_upload_the_server_stops_taking_times_out_as_stalled() {
        let never = std::future::pending::<std::result::Result<(), ()>>();
        let err = await_head(never, Some(UploadProgress::new()), &short())
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), UPLOAD_STALLED);
    }

    #[tokio::test]
    async fn an_upload_that_keeps_going_is_not_cut() {
        let progress = UploadProgress::new();
        let feeder = progress.clone();
        // Eight pieces, each well within the stall limit, add up to more than it.
        let answer = async move {
            for _ in 0..8 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                feeder.note(false);
            }
            feeder.note(true);
            Ok::<_, ()>("answered")
        };
        let timeouts = Timeouts {
            stall: Duration::from_millis(500),
            ..short()
        };
        let answered = await_head(answer, Some(progress), &timeouts).await;
        assert_eq!(answered.unwrap(), Ok("answered"));
    }

    #[test]
    fn refuses_unknown_names_and_bad_numbers() {
        assert!(Timeouts::parse("read=5").is_err());
        assert!(Timeouts::parse("stall=-1").is_err());
        assert!(Timeouts::parse("stall").is_err());
        assert!(Timeouts::parse("headers=soon").is_err());
    }
}
