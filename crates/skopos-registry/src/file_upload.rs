//! One request whose body is a local file, sent over plain TCP with `sendfile(2)`: the
//! kernel moves the file's pages to the socket, where streaming it through hyper read every
//! byte into user space and wrote it out again (the CPU of a push went there). Only the
//! head and the answer pass through here; the answer is small (a registry's `201 Created`
//! or its JSON error) and is read whole.
//!
//! The exchange runs on a blocking thread with blocking socket calls: `sendfile` waits for
//! the disk when the file is not in the page cache, which must not stop an async worker.
//! The connection is used for this one request (`Connection: close`). A caller that stops
//! waiting (the copy failed elsewhere) does not stop a send already on its thread: it ends
//! with the file, or at the stall limit.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, StatusCode};
use skopos_core::go::text::go_errno_text;
use skopos_core::{BlobReader, FileBlob, SentBytes};
use url::Url;

use crate::timeouts::{awaiting_headers, stalled, upload_stalled, Timeouts};

/// Most bytes handed to one `sendfile` call: progress is reported between calls.
const SENDFILE_CHUNK: usize = 8 << 20;
/// The longest answer head and body read back; registries answer an upload in a few
/// hundred bytes.
const ANSWER_LIMIT: usize = 1 << 20;
/// Header lines of an answer at most (hyper's default is 100).
const MAX_ANSWER_HEADERS: usize = 100;

/// A request body that is a range of a local file. It is sent once, as a stream is.
pub(crate) struct FileBody {
    /// The same bytes as a stream, for a connection `sendfile` cannot write to (TLS, a
    /// proxy).
    pub(crate) stream: BlobReader,
    pub(crate) file: FileBlob,
    /// Told how many bytes went out.
    pub(crate) sent: SentBytes,
}

/// What the server answered.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// Send `method url` with `headers` and `file` as its body to the server itself (plain
/// HTTP, no proxy), and read its answer.
pub(crate) async fn send(
    method: Method,
    url: Url,
    headers: HeaderMap,
    file: FileBlob,
    sent: SentBytes,
    timeouts: Timeouts,
) -> io::Result<Answer> {
    tokio::task::spawn_blocking(move || exchange(&method, &url, &headers, &file, &sent, &timeouts))
        .await
        .map_err(io::Error::other)?
}

fn exchange(
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
    file: &FileBlob,
    sent: &SentBytes,
    timeouts: &Timeouts,
) -> io::Result<Answer> {
    let mut socket = connect(url, timeouts.connect)?;
    socket.set_nodelay(true)?;
    // A send that the server does not take for this long fails with EAGAIN.
    socket.set_write_timeout(Some(timeouts.stall))?;
    let head = request_head(method, url, headers, file.length);
    let written = socket
        .write_all(&head)
        .and_then(|()| send_range(&socket, file, sent));
    socket.set_read_timeout(Some(timeouts.headers))?;
    match written {
        Ok(()) => read_answer(socket, timeouts.stall),
        // A server may answer (a refusal) and close before taking the whole body: its
        // answer says more than the broken pipe.
        Err(err) => read_answer(socket, timeouts.stall).or(Err(err)),
    }
}

/// A TCP connection to `url`'s host, worded as Go's dialer words a failure.
fn connect(url: &Url, limit: Duration) -> io::Result<TcpStream> {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    let dial_error = |err: io::Error| {
        io::Error::new(
            err.kind(),
            format!("dial tcp {host}:{port}: connect: {}", go_errno_text(&err)),
        )
    };
    // `host_str` keeps an IPv6 address in brackets, which the resolver does not take.
    let name = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = (name, port).to_socket_addrs()?.collect();
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address");
    for address in addresses {
        match TcpStream::connect_timeout(&address, limit) {
            Ok(socket) => return Ok(socket),
            Err(err) => last_error = err,
        }
    }
    Err(dial_error(last_error))
}

/// The request line and headers, ending with the body's length.
fn request_head(method: &Method, url: &Url, headers: &HeaderMap, length: u64) -> Vec<u8> {
    let mut target = url.path().to_string();
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n").into_bytes();
    for (name, value) in headers {
        header_line(&mut head, name, value);
    }
    head.extend_from_slice(
        format!("Content-Length: {length}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    head
}

fn header_line(head: &mut Vec<u8>, name: &HeaderName, value: &HeaderValue) {
    head.extend_from_slice(name.as_str().as_bytes());
    head.extend_from_slice(b": ");
    head.extend_from_slice(value.as_bytes());
    head.extend_from_slice(b"\r\n");
}

/// `file`'s bytes to the socket, in the kernel.
fn send_range(socket: &TcpStream, file: &FileBlob, sent: &SentBytes) -> io::Result<()> {
    let end = file.offset + file.length;
    let mut offset = file.offset;
    while offset < end {
        let count = usize::try_from(end - offset).map_or(SENDFILE_CHUNK, |n| n.min(SENDFILE_CHUNK));
        match rustix::fs::sendfile(socket, &*file.file, Some(&mut offset), count) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the file ended after {} of its {} bytes",
                        offset - file.offset,
                        file.length
                    ),
                ))
            }
            Ok(_) => sent(offset - file.offset),
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) => return Err(upload_stalled()),
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

/// The answer's head, then its body (by `Content-Length`, chunked, or up to the close).
fn read_answer(socket: TcpStream, stall: Duration) -> io::Result<Answer> {
    let mut reader = BufReader::new(&socket);
    let mut head = Vec::new();
    // The head ends with an empty line; read_until keeps each line's "\n".
    loop {
        let before = head.len();
        let read = (&mut reader)
            .take((ANSWER_LIMIT - head.len()) as u64)
            .read_until(b'\n', &mut head)
            .map_err(|err| timeout_as(err, awaiting_headers))?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection without an answer",
            ));
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if head.len() >= ANSWER_LIMIT {
            return Err(invalid("the answer's head is too long"));
        }
    }
    let mut parsed = [httparse::EMPTY_HEADER; MAX_ANSWER_HEADERS];
    let mut response = httparse::Response::new(&mut parsed);
    if !response
        .parse(&head)
        .map_err(|err| invalid(&format!("malformed HTTP answer: {err}")))?
        .is_complete()
    {
        return Err(invalid("malformed HTTP answer"));
    }
    let status = StatusCode::from_u16(response.code.unwrap_or_default())
        .map_err(|_| invalid("malformed HTTP status"))?;
    let mut headers = HeaderMap::new();
    for header in response.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes())
            .map_err(|_| invalid("malformed HTTP header name"))?;
        let value = HeaderValue::from_bytes(header.value)
            .map_err(|_| invalid("malformed HTTP header value"))?;
        headers.append(name, value);
    }
    socket.set_read_timeout(Some(stall))?;
    let body = read_body(&mut reader, status, &headers)
        .map_err(|err| timeout_as(err, || stalled(stall)))?;
    Ok(Answer {
        status,
        headers,
        body: Bytes::from(body),
    })
}

fn read_body(
    reader: &mut impl BufRead,
    status: StatusCode,
    headers: &HeaderMap,
) -> io::Result<Vec<u8>> {
    if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Vec::new());
    }
    let chunked = headers
        .get(http::header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return read_chunked(reader);
    }
    let length = headers
        .get(http::header::CONTENT_LENGTH)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| invalid("malformed Content-Length"))
        })
        .transpose()?;
    match length {
        Some(length) if length > ANSWER_LIMIT => Err(too_long()),
        Some(length) => {
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
            Ok(body)
        }
        None => {
            let mut body = Vec::new();
            reader
                .take(ANSWER_LIMIT as u64 + 1)
                .read_to_end(&mut body)?;
            if body.len() > ANSWER_LIMIT {
                return Err(too_long());
            }
            Ok(body)
        }
    }
}

/// A `Transfer-Encoding: chunked` body: hexadecimal sizes, each followed by that many
/// bytes, up to a size of 0 and the trailer lines.
fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| invalid("malformed chunk size in the answer"))?;
        if size == 0 {
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > ANSWER_LIMIT {
            return Err(too_long());
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        read_line(reader)?;
    }
}

/// One line of at most 4 KiB, without its line end.
fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    reader.take(4096).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the answer ended in the middle of its body",
        ));
    }
    let text = String::from_utf8(line).map_err(|_| invalid("malformed chunked body"))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

/// A socket read that ran past its limit (`WouldBlock` from `SO_RCVTIMEO`) as `timeout`.
fn timeout_as(err: io::Error, timeout: impl FnOnce() -> io::Error) -> io::Error {
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => timeout(),
        _ => err,
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

fn too_long() -> io::Error {
    invalid(&format!("the answer is longer than {ANSWER_LIMIT} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        let wire = b"4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\nTrailer: 1\r\n\r\n";
        let body = read_chunked(&mut &wire[..]).unwrap();
        assert_eq!(body, b"Wikipedia");
    }

    #[test]
    fn a_cut_chunked_body_is_an_error() {
        let wire = b"4\r\nWi";
        assert!(read_chunked(&mut &wire[..]).is_err());
    }

    #[test]
    fn the_head_names_host_port_query_and_length() {
        let url =
            Url::parse("http://127.0.0.1:5000/v2/a/blobs/uploads/x?_state=s&digest=d").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("user-agent", HeaderValue::from_static("skopos"));
        let head = request_head(&Method::PUT, &url, &headers, 42);
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "PUT /v2/a/blobs/uploads/x?_state=s&digest=d HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n\
             user-agent: skopos\r\nContent-Length: 42\r\nConnection: close\r\n\r\n"
        );
    }
}
