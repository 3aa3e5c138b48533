//! A loopback HTTP/1.1 proxy to put in front of a [`TestRegistry`](crate::registry::TestRegistry):
//! it records every exchange (method, path + query, status) so tests can count the requests a
//! client makes, and applies scripted [`Fault`]s — a connection dropped part-way through a
//! response or request body, or a canned 429 / 500 — so tests can check how a client recovers,
//! and can answer for an endpoint the registry lacks (a `200` with a given body). A
//! [`Gathering`] holds matching requests back until several wait together, so a test can
//! see how many a client sends at once without timing it.
//!
//! Plain HTTP only, one thread per client connection, one upstream connection per request.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use regex::Regex;

/// Largest request or response head accepted (request line / status line plus headers).
const MAX_HEAD: usize = 64 * 1024;
/// Buffer size when relaying bodies.
const RELAY_BUFFER: usize = 64 * 1024;

/// One request the proxy saw, in the order the requests arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// e.g. `GET`.
    pub method: String,
    /// Path and query, as sent by the client: `/v2/a/blobs/uploads/?mount=…&from=…`.
    pub target: String,
    /// Status sent to the client; `None` when the connection was dropped before a response.
    pub status: Option<u16>,
    /// The fault applied to this exchange, if any.
    pub fault: Option<FaultAction>,
    /// The request's `Range` header, as sent by the client (before any fault removed it).
    pub range: Option<String>,
    /// Whether the request's body came in chunks (`Transfer-Encoding: chunked`) rather than
    /// with its length given.
    pub request_chunked: bool,
    /// Response body bytes relayed to the client (chunked framing included): what a
    /// download cost.
    pub response_bytes: u64,
    /// When the proxy had read the request's head (before any [`Gathering`] held it).
    pub arrived: Instant,
    /// When the exchange was over: the response relayed, or the connection dropped.
    pub finished: Instant,
}

/// What a [`Fault`] does to the request it matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Forward the request, relay the response head and this many body bytes, then close the
    /// client connection.
    DropResponseAfter(u64),
    /// Forward the request, relay the response head and this many body bytes, then send
    /// nothing more, holding the connection open until the client closes it: a stalled
    /// download.
    StallResponseAfter(u64),
    /// Forward the request head and this many request body bytes, then close both
    /// connections without a response.
    DropRequestAfter(u64),
    /// Answer without forwarding: this status with a registry-style JSON error body, and
    /// `Retry-After: <seconds>` when given.
    Reply {
        /// HTTP status code.
        status: u16,
        /// Seconds for a `Retry-After` header.
        retry_after: Option<u64>,
    },
    /// Forward the request, then answer with the registry's status and headers but this
    /// body in place of the registry's (`Content-Length` set to match): a registry that
    /// serves other bytes than it should.
    ReplaceResponseBody(Vec<u8>),
    /// Forward the request and relay the response with this header line (`Name: value`)
    /// added.
    AddResponseHeader(String),
    /// Answer `200 OK` with this `Content-Type` and body without forwarding: an endpoint
    /// the registry behind does not have (the OCI 1.1 referrers API of distribution 2.8).
    Serve {
        /// The `Content-Type` header.
        content_type: String,
        /// The body.
        body: Vec<u8>,
        /// Further header lines (`Name: value`), e.g. a page's `Link: <…>; rel="next"`.
        headers: Vec<String>,
    },
    /// Forward the request without this header (e.g. `Range`: a server that ignores
    /// ranges).
    RemoveRequestHeader(String),
}

/// A scripted fault: applied once, to the `nth` request (1-based) whose method and target
/// match.
#[derive(Debug)]
pub struct Fault {
    method: String,
    target: Regex,
    nth: usize,
    seen: usize,
    action: FaultAction,
}

impl Fault {
    /// A fault on the first `method` request whose path + query matches the regex `target`.
    ///
    /// # Panics
    /// When `target` is not a valid regex (a mistake in the test itself).
    pub fn new(method: &str, target: &str, action: FaultAction) -> Fault {
        let target = Regex::new(target)
            .unwrap_or_else(|error| panic!("invalid fault target pattern {target:?}: {error}"));
        Fault {
            method: method.to_string(),
            target,
            nth: 1,
            seen: 0,
            action,
        }
    }

    /// Apply the fault to the `nth` matching request (1-based) instead of the first.
    pub fn nth(mut self, nth: usize) -> Fault {
        self.nth = nth;
        self
    }
}

/// Requests held back before they are forwarded until `count` of them wait together, or
/// until `max_wait` passes: with a client that sends them one after another each waits the
/// whole time, with one that sends `count` at once none waits. The most that ever waited
/// together is what a client had in flight at once.
#[derive(Debug)]
pub struct Gathering {
    method: String,
    target: Regex,
    count: usize,
    max_wait: Duration,
}

impl Gathering {
    /// Hold `method` requests whose path + query matches the regex `target` until `count`
    /// wait together or `max_wait` passes.
    ///
    /// # Panics
    /// When `target` is not a valid regex (a mistake in the test itself).
    pub fn new(method: &str, target: &str, count: usize, max_wait: Duration) -> Gathering {
        let target = Regex::new(target)
            .unwrap_or_else(|error| panic!("invalid gathering target pattern {target:?}: {error}"));
        Gathering {
            method: method.to_string(),
            target,
            count,
            max_wait,
        }
    }
}

/// The requests a [`Gathering`] holds now, the most it held at once, and whether its
/// count was reached (which releases every request waiting).
#[derive(Default)]
struct Gathered {
    waiting: usize,
    most: usize,
    /// Bumped each time the count is reached, so those waiting know they were released.
    releases: u64,
}

/// What the connection threads share with the test.
#[derive(Default)]
struct State {
    exchanges: Mutex<Vec<Exchange>>,
    faults: Mutex<Vec<Fault>>,
    gathering: Mutex<Option<Gathering>>,
    gathered: Mutex<Gathered>,
    gathered_changed: Condvar,
    stopping: AtomicBool,
    /// Requests read whose exchange is not recorded yet (see [`InFlight`]).
    in_flight: AtomicUsize,
    /// How long a TLS handshake attempt is held, and recorded, before its connection is
    /// closed; `None`: closed at once, unrecorded.
    tls_hold: Mutex<Option<Duration>>,
}

/// A request the proxy has read and not yet recorded. The client may have its whole
/// response, and even have exited, before the relaying thread records the exchange;
/// [`RegistryProxy::exchanges`] waits for these so that a test never counts too few.
struct InFlight<'a>(&'a State);

impl<'a> InFlight<'a> {
    fn new(state: &'a State) -> InFlight<'a> {
        state.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl State {
    /// The action of the fault, if any, that this request triggers (each fault fires once).
    fn fault_for(&self, method: &str, target: &str) -> Option<FaultAction> {
        let mut faults = lock(&self.faults);
        let mut fired = None;
        for fault in faults.iter_mut() {
            if fault.method == method && fault.target.is_match(target) {
                fault.seen += 1;
                if fault.seen == fault.nth && fired.is_none() {
                    fired = Some(fault.action.clone());
                }
            }
        }
        fired
    }

    /// Holds the request while the [`Gathering`] it matches, if any, asks so.
    fn gather(&self, method: &str, target: &str) {
        let (count, max_wait) = match &*lock(&self.gathering) {
            Some(g) if g.method == method && g.target.is_match(target) => (g.count, g.max_wait),
            _ => return,
        };
        let deadline = Instant::now() + max_wait;
        let mut gathered = lock(&self.gathered);
        gathered.waiting += 1;
        gathered.most = gathered.most.max(gathered.waiting);
        if gathered.waiting >= count {
            gathered.releases += 1;
            gathered.waiting = 0;
            self.gathered_changed.notify_all();
            return;
        }
        let release = gathered.releases;
        while gathered.releases == release {
            let now = Instant::now();
            if now >= deadline {
                gathered.waiting -= 1;
                return;
            }
            gathered = self
                .gathered_changed
                .wait_timeout(gathered, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn record(&self, request: &RequestSeen, status: Option<u16>, response_bytes: u64) {
        lock(&self.exchanges).push(Exchange {
            method: request.method.clone(),
            target: request.target.clone(),
            status,
            fault: request.fault.clone(),
            range: request.range.clone(),
            request_chunked: request.chunked,
            response_bytes,
            arrived: request.arrived,
            finished: Instant::now(),
        });
    }
}

/// What an exchange records of its request.
struct RequestSeen {
    method: String,
    target: String,
    fault: Option<FaultAction>,
    range: Option<String>,
    chunked: bool,
    arrived: Instant,
}

/// A running proxy; stops accepting connections when dropped.
pub struct RegistryProxy {
    state: Arc<State>,
    /// `127.0.0.1:<port>`: use it in `docker://` references, with TLS verification off.
    pub host: String,
}

impl RegistryProxy {
    /// Start a proxy on a free loopback port that forwards to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> io::Result<RegistryProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let host = listener.local_addr()?.to_string();
        let state = Arc::new(State::default());
        let accept_state = state.clone();
        let upstream = upstream.to_string();
        thread::Builder::new()
            .name("registry-proxy".into())
            .spawn(move || accept_loop(listener, &upstream, accept_state))?;
        Ok(RegistryProxy { state, host })
    }

    /// Add a fault to the script.
    pub fn add_fault(&self, fault: Fault) {
        lock(&self.state.faults).push(fault);
    }

    /// Every exchange so far, in arrival order, once those being relayed are recorded (for
    /// at most two seconds: a stalled or long transfer may still be going on).
    pub fn exchanges(&self) -> Vec<Exchange> {
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.state.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        lock(&self.state.exchanges).clone()
    }

    /// Hold requests back as `gathering` says (in place of any earlier one).
    pub fn set_gathering(&self, gathering: Gathering) {
        *lock(&self.state.gathering) = Some(gathering);
        *lock(&self.state.gathered) = Gathered::default();
    }

    /// The most requests the [`Gathering`] held at once: how many the client had in flight
    /// together.
    pub fn most_gathered(&self) -> usize {
        lock(&self.state.gathered).most
    }

    /// Hold each TLS handshake attempt (a client trying HTTPS on this plain-HTTP proxy) for
    /// `hold` before closing its connection, instead of closing it at once: a registry slow
    /// to refuse HTTPS. Such an attempt is recorded as an exchange with method `TLS`.
    pub fn hold_tls_attempts(&self, hold: Duration) {
        *lock(&self.state.tls_hold) = Some(hold);
    }

    /// Forget the exchanges so far (to count one command's requests).
    pub fn clear_exchanges(&self) {
        lock(&self.state.exchanges).clear();
    }
}

impl Drop for RegistryProxy {
    fn drop(&mut self) {
        self.state.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(&self.host);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking connection thread leaves the data consistent (pushes are atomic).
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn accept_loop(listener: TcpListener, upstream: &str, state: Arc<State>) {
    for connection in listener.incoming() {
        if state.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = connection else { continue };
        let state = state.clone();
        let upstream = upstream.to_string();
        // When no thread can be made the connection is dropped: the client sees it closed.
        let _ = thread::Builder::new()
            .name("registry-proxy-connection".into())
            .spawn(move || {
                // Errors here are the client or the registry going away: the connection ends.
                let _ = serve_connection(client, &upstream, &state);
            });
    }
}

/// A request or response head: the first line and the headers, in order.
struct Head {
    start_line: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn is_chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"))
    }

    fn content_length(&self) -> io::Result<Option<u64>> {
        self.header("content-length")
            .map(|value| {
                value
                    .trim()
                    .parse()
                    .map_err(|_| invalid(format!("invalid Content-Length {value:?}")))
            })
            .transpose()
    }

    /// The head as bytes, without hop-by-hop `Connection` / `Keep-Alive` headers and with
    /// `Connection: <connection>` added.
    fn encode(&self, connection: &str) -> Vec<u8> {
        let mut text = format!("{}\r\n", self.start_line);
        for (name, value) in &self.headers {
            if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive") {
                continue;
            }
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str(&format!("Connection: {connection}\r\n\r\n"));
        text.into_bytes()
    }
}

/// How a message body is delimited.
#[derive(Clone, Copy)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    /// A response without length: it ends when the server closes the connection.
    UntilClose,
}

fn request_framing(head: &Head) -> io::Result<Framing> {
    Ok(if head.is_chunked() {
        Framing::Chunked
    } else {
        match head.content_length()? {
            Some(length) => Framing::Length(length),
            None => Framing::Empty,
        }
    })
}

fn response_framing(head: &Head, method: &str, status: u16) -> io::Result<Framing> {
    if method == "HEAD" || (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(Framing::Empty);
    }
    Ok(if head.is_chunked() {
        Framing::Chunked
    } else {
        match head.content_length()? {
            Some(length) => Framing::Length(length),
            None => Framing::UntilClose,
        }
    })
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Reads a head; `None` when the peer closed the connection before sending anything.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line)?;
        if read == 0 {
            if lines.is_empty() {
                return Ok(None);
            }
            return Err(invalid("connection closed inside a message head".into()));
        }
        total += read;
        if total > MAX_HEAD {
            return Err(invalid(format!(
                "message head longer than {MAX_HEAD} bytes"
            )));
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            if lines.is_empty() {
                continue; // Tolerated: a stray CRLF between messages.
            }
            break;
        }
        lines.push(line);
    }
    let mut lines = lines.into_iter();
    let start_line = lines.next().unwrap_or_default();
    let headers = lines
        .map(|line| match line.split_once(':') {
            Some((name, value)) => Ok((name.trim().to_string(), value.trim().to_string())),
            None => Err(invalid(format!("malformed header line {line:?}"))),
        })
        .collect::<io::Result<_>>()?;
    Ok(Some(Head {
        start_line,
        headers,
    }))
}

/// Whether a relayed body was complete or cut at the byte limit.
#[derive(PartialEq, Eq)]
enum Relayed {
    Complete,
    Cut,
}

/// Copies a body from `reader` to `writer` as it is framed (chunked bodies are copied with
/// their framing), stopping after `limit` body bytes when given.
fn relay_body(
    reader: &mut impl BufRead,
    writer: &mut impl Write,
    framing: Framing,
    limit: Option<u64>,
) -> io::Result<Relayed> {
    let mut budget = limit.unwrap_or(u64::MAX);
    let relayed = match framing {
        Framing::Empty => Relayed::Complete,
        Framing::Length(length) => copy_exact(reader, writer, length, &mut budget)?,
        Framing::UntilClose => copy_exact(reader, writer, u64::MAX, &mut budget)?,
        Framing::Chunked => loop {
            let mut size_line = String::new();
            if reader.read_line(&mut size_line)? == 0 {
                return Err(invalid("connection closed inside a chunked body".into()));
            }
            let size_text = size_line.trim_end().split(';').next().unwrap_or_default();
            let size = u64::from_str_radix(size_text.trim(), 16)
                .map_err(|_| invalid(format!("invalid chunk size line {size_line:?}")))?;
            if size == 0 {
                writer.write_all(size_line.as_bytes())?;
                // Trailers, then the final empty line.
                loop {
                    let mut trailer = String::new();
                    if reader.read_line(&mut trailer)? == 0 {
                        return Err(invalid("connection closed inside chunked trailers".into()));
                    }
                    writer.write_all(trailer.as_bytes())?;
                    if trailer.trim_end().is_empty() {
                        break;
                    }
                }
                break Relayed::Complete;
            }
            writer.write_all(size_line.as_bytes())?;
            if copy_exact(reader, writer, size, &mut budget)? == Relayed::Cut {
                break Relayed::Cut;
            }
            let mut crlf = [0; 2];
            reader.read_exact(&mut crlf)?;
            writer.write_all(&crlf)?;
        },
    };
    writer.flush()?;
    Ok(relayed)
}

/// Copies `length` bytes (`u64::MAX`: until end of input) unless `budget` runs out first.
fn copy_exact(
    reader: &mut impl BufRead,
    writer: &mut impl Write,
    length: u64,
    budget: &mut u64,
) -> io::Result<Relayed> {
    let mut remaining = length;
    let mut buffer = vec![0; RELAY_BUFFER];
    while remaining > 0 {
        if *budget == 0 {
            return Ok(Relayed::Cut);
        }
        let want = remaining.min(*budget).min(RELAY_BUFFER as u64) as usize;
        let read = reader.read(&mut buffer[..want])?;
        if read == 0 {
            if length == u64::MAX {
                break;
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a body",
            ));
        }
        writer.write_all(&buffer[..read])?;
        remaining -= read as u64;
        *budget -= read as u64;
    }
    Ok(Relayed::Complete)
}

/// Serves the requests of one client connection until it closes or a fault closes it.
fn serve_connection(client: TcpStream, upstream: &str, state: &State) -> io::Result<()> {
    let mut client_reader = BufReader::new(client.try_clone()?);
    // A TLS record starts with its content type, 22 for a handshake: a client trying HTTPS.
    if client_reader.fill_buf()?.first() == Some(&22) {
        let Some(hold) = *lock(&state.tls_hold) else {
            return Ok(());
        };
        let seen = RequestSeen {
            method: "TLS".into(),
            target: String::new(),
            fault: None,
            range: None,
            chunked: false,
            arrived: Instant::now(),
        };
        let in_flight = InFlight::new(state);
        thread::sleep(hold);
        state.record(&seen, None, 0);
        drop(in_flight);
        return Ok(());
    }
    let mut client_writer = client;
    while let Some(mut request) = read_head(&mut client_reader)? {
        let mut parts = request.start_line.split(' ');
        let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
            return Err(invalid(format!(
                "malformed request line {:?}",
                request.start_line
            )));
        };
        let (method, target) = (method.to_string(), target.to_string());
        let arrived = Instant::now();
        let in_flight = InFlight::new(state);
        let fault = state.fault_for(&method, &target);
        state.gather(&method, &target);
        let seen = RequestSeen {
            method: method.clone(),
            target: target.clone(),
            fault: fault.clone(),
            range: request.header("range").map(str::to_string),
            chunked: request.is_chunked(),
            arrived,
        };
        if let Some(FaultAction::RemoveRequestHeader(name)) = &fault {
            request
                .headers
                .retain(|(header, _)| !header.eq_ignore_ascii_case(name));
        }
        let body = request_framing(&request)?;
        if let Some(FaultAction::Reply {
            status,
            retry_after,
        }) = fault
        {
            relay_body(&mut client_reader, &mut io::sink(), body, None)?;
            client_writer.write_all(&canned_response(&method, status, retry_after))?;
            state.record(&seen, Some(status), 0);
            continue;
        }
        if let Some(FaultAction::Serve {
            content_type,
            body: served,
            headers,
        }) = &fault
        {
            relay_body(&mut client_reader, &mut io::sink(), body, None)?;
            let mut head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
                served.len()
            );
            for header in headers {
                head.push_str(header);
                head.push_str("\r\n");
            }
            head.push_str("\r\n");
            let mut response = head.into_bytes();
            if method != "HEAD" {
                response.extend_from_slice(served);
            }
            client_writer.write_all(&response)?;
            let sent = if method == "HEAD" {
                0
            } else {
                served.len() as u64
            };
            state.record(&seen, Some(200), sent);
            continue;
        }
        // One upstream connection per request, closed after it; the Host header is passed
        // on unchanged because the registry builds its Location URLs from it, and those
        // must lead back through the proxy.
        let upstream_stream = TcpStream::connect(upstream)?;
        let mut upstream_reader = BufReader::new(upstream_stream.try_clone()?);
        let mut upstream_writer = upstream_stream;
        upstream_writer.write_all(&request.encode("close"))?;
        if let Some(FaultAction::DropRequestAfter(bytes)) = fault {
            relay_body(&mut client_reader, &mut upstream_writer, body, Some(bytes))?;
            state.record(&seen, None, 0);
            let _ = upstream_writer.shutdown(Shutdown::Both);
            let _ = client_writer.shutdown(Shutdown::Both);
            return Ok(());
        }
        relay_body(&mut client_reader, &mut upstream_writer, body, None)?;
        let mut response = read_head(&mut upstream_reader)?.ok_or_else(|| {
            invalid("the registry closed the connection without a response".into())
        })?;
        let status = response
            .start_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| invalid(format!("malformed status line {:?}", response.start_line)))?;
        let response_body = response_framing(&response, &method, status)?;
        if let Some(FaultAction::AddResponseHeader(line)) = &fault {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| invalid(format!("malformed header line {line:?}")))?;
            response
                .headers
                .push((name.trim().to_string(), value.trim().to_string()));
        }
        if let Some(FaultAction::ReplaceResponseBody(body)) = &fault {
            relay_body(&mut upstream_reader, &mut io::sink(), response_body, None)?;
            response.headers.retain(|(name, _)| {
                !name.eq_ignore_ascii_case("content-length")
                    && !name.eq_ignore_ascii_case("transfer-encoding")
            });
            response
                .headers
                .push(("Content-Length".into(), body.len().to_string()));
            client_writer.write_all(&response.encode("keep-alive"))?;
            client_writer.write_all(body)?;
            client_writer.flush()?;
            state.record(&seen, Some(status), body.len() as u64);
            continue;
        }
        let until_close = matches!(response_body, Framing::UntilClose);
        let connection = if until_close { "close" } else { "keep-alive" };
        client_writer.write_all(&response.encode(connection))?;
        let limit = match fault {
            Some(
                FaultAction::DropResponseAfter(bytes) | FaultAction::StallResponseAfter(bytes),
            ) => Some(bytes),
            _ => None,
        };
        let mut counted = CountingWriter {
            inner: &mut client_writer,
            count: 0,
        };
        let relayed = relay_body(&mut upstream_reader, &mut counted, response_body, limit);
        // A client that hung up mid-body (a killed copy) still paid for what it got.
        state.record(&seen, Some(status), counted.count);
        drop(in_flight);
        let relayed = relayed?;
        let stall = matches!(fault, Some(FaultAction::StallResponseAfter(_)));
        if relayed == Relayed::Cut && stall {
            // Whatever the client still sends is ignored; it ends when the client gives up.
            let _ = io::copy(&mut client_reader, &mut io::sink());
            return Ok(());
        }
        if relayed == Relayed::Cut || until_close {
            let _ = client_writer.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
    Ok(())
}

/// Counts the bytes written through it.
struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.count += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A response made up by the proxy, with a body shaped like a registry's error.
fn canned_response(method: &str, status: u16, retry_after: Option<u64>) -> Vec<u8> {
    let (reason, code) = match status {
        429 => ("Too Many Requests", "TOOMANYREQUESTS"),
        500 => ("Internal Server Error", "UNKNOWN"),
        502 => ("Bad Gateway", "UNKNOWN"),
        503 => ("Service Unavailable", "UNAVAILABLE"),
        _ => ("Injected Fault", "UNKNOWN"),
    };
    let body = format!(
        r#"{{"errors":[{{"code":"{code}","message":"fault injected by the test proxy"}}]}}"#
    );
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(seconds) = retry_after {
        head.push_str(&format!("Retry-After: {seconds}\r\n"));
    }
    head.push_str("\r\n");
    if method != "HEAD" {
        head.push_str(&body);
    }
    head.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHUNKED: &[u8] = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nNEXT";

    #[test]
    fn a_chunked_body_is_relayed_with_its_framing_and_nothing_after_it() {
        let mut reader = CHUNKED;
        let mut relayed = Vec::new();
        let outcome = relay_body(&mut reader, &mut relayed, Framing::Chunked, None);
        assert!(matches!(outcome, Ok(Relayed::Complete)));
        assert_eq!(relayed, &CHUNKED[..CHUNKED.len() - 4]);
        assert_eq!(reader, b"NEXT");
    }

    #[test]
    fn a_limit_cuts_a_body_after_that_many_content_bytes() {
        let mut relayed = Vec::new();
        let outcome = relay_body(&mut &CHUNKED[..], &mut relayed, Framing::Chunked, Some(7));
        assert!(matches!(outcome, Ok(Relayed::Cut)));
        assert_eq!(relayed, b"5\r\nhello\r\n6;ext=1\r\n w");
        let mut relayed = Vec::new();
        let outcome = relay_body(
            &mut &b"0123456789"[..],
            &mut relayed,
            Framing::Length(10),
            Some(4),
        );
        assert!(matches!(outcome, Ok(Relayed::Cut)));
        assert_eq!(relayed, b"0123");
    }

    #[test]
    fn a_fault_fires_once_on_the_nth_matching_request() {
        let state = State::default();
        lock(&state.faults)
            .push(Fault::new("GET", "^/v2/a/blobs/", FaultAction::DropResponseAfter(1)).nth(2));
        let fired: Vec<bool> = [
            ("GET", "/v2/a/blobs/x"),
            ("HEAD", "/v2/a/blobs/x"),
            ("GET", "/v2/b/blobs/x"),
            ("GET", "/v2/a/blobs/y"),
            ("GET", "/v2/a/blobs/z"),
        ]
        .iter()
        .map(|(method, target)| state.fault_for(method, target).is_some())
        .collect();
        assert_eq!(fired, [false, false, false, true, false]);
    }
}
