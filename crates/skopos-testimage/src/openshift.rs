//! A loopback stand-in for the few OpenShift API endpoints that containers/image's `atomic:`
//! transport calls, in front of a real registry: no OpenShift server can run here.
//!
//! Written from OpenShift's API documentation (the `image.openshift.io/v1` `ImageStream`,
//! `ImageStreamImage` and `ImageSignature` objects, served under the legacy `/oapi/v1`
//! prefix, and Kubernetes `Status` objects for errors) and from the fields containers/image
//! reads. Image streams are not stored: each `GET` of one is answered from the registry
//! behind it (the repository `NAMESPACE/STREAM`: its tags and their manifest digests), so
//! an image pushed into the registry is in the stream. Signatures are kept in memory.
//!
//! - `GET /oapi/v1/namespaces/NS/imagestreams/STREAM`: `status.tags[].items[0]` with
//!   `dockerImageReference` naming the registry by a cluster-internal host, as OpenShift
//!   does (clients must replace it); 403 for a namespace with no repository, 404 for a
//!   stream without one.
//! - `GET /oapi/v1/namespaces/NS/imagestreamimages/STREAM@DIGEST`: the image with its
//!   signatures.
//! - `POST /oapi/v1/imagesignatures`: stores a signature; its name must be `DIGEST@…`.
//!
//! Plain HTTP, one thread per connection, `Connection: close`.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use serde_json::{json, Value};

/// The registry address OpenShift reports in image streams (cluster-internal).
pub const INTERNAL_REGISTRY: &str = "image-registry.openshift-image-registry.svc:5000";

/// Largest request accepted (head plus body).
const MAX_REQUEST: usize = 1 << 20;

/// One request the stand-in answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRequest {
    /// e.g. `GET`.
    pub method: String,
    /// The path.
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The status answered.
    pub status: u16,
}

#[derive(Default)]
struct State {
    /// Signature objects by the image digest they belong to.
    signatures: BTreeMap<String, Vec<Value>>,
    requests: Vec<ApiRequest>,
}

/// A running stand-in; it stops accepting when dropped.
pub struct OpenShiftStandIn {
    /// `127.0.0.1:<port>`.
    pub address: String,
    state: Arc<Mutex<State>>,
    stopping: Arc<AtomicBool>,
}

impl OpenShiftStandIn {
    /// Serve on a free loopback port, resolving image streams in the registry at
    /// `registry` (`host:port`, plain HTTP).
    pub fn start(registry: &str) -> io::Result<OpenShiftStandIn> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let stopping = Arc::new(AtomicBool::new(false));
        let shared = state.clone();
        let stop = stopping.clone();
        let registry = registry.to_string();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let state = shared.clone();
                let registry = registry.clone();
                thread::spawn(move || {
                    let _ = serve(stream, &registry, &state);
                });
            }
        });
        Ok(OpenShiftStandIn {
            address,
            state,
            stopping,
        })
    }

    /// The requests answered so far.
    pub fn requests(&self) -> Vec<ApiRequest> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .requests
            .clone()
    }

    /// The signature contents (decoded) stored for the image `digest`.
    pub fn signatures(&self, digest: &str) -> Vec<Vec<u8>> {
        use base64::Engine as _;
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state
            .signatures
            .get(digest)
            .into_iter()
            .flatten()
            .filter_map(|sig| sig["content"].as_str())
            .filter_map(|content| {
                base64::engine::general_purpose::STANDARD
                    .decode(content)
                    .ok()
            })
            .collect()
    }
}

impl Drop for OpenShiftStandIn {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees it is to stop.
        let _ = TcpStream::connect(&self.address);
    }
}

/// Answer one request.
fn serve(mut stream: TcpStream, registry: &str, state: &Mutex<State>) -> io::Result<()> {
    let (method, path, headers, body) = read_request(&mut stream)?;
    let (status, answer) = route(&method, &path, &body, registry, state);
    state
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .requests
        .push(ApiRequest {
            method,
            path,
            authorization: headers.get("authorization").cloned(),
            status,
        });
    let body = answer.to_string();
    write!(
        stream,
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        reason(status),
        body.len()
    )?;
    stream.flush()?;
    stream.shutdown(Shutdown::Both)
}

fn route(
    method: &str,
    path: &str,
    body: &[u8],
    registry: &str,
    state: &Mutex<State>,
) -> (u16, Value) {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["oapi", "v1", "namespaces", namespace, "imagestreams", stream]) => {
            image_stream(registry, namespace, stream)
        }
        ("GET", ["oapi", "v1", "namespaces", namespace, "imagestreamimages", name]) => {
            let Some((stream, digest)) = name.split_once('@') else {
                return not_found("imagestreamimages", name);
            };
            let signatures = state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .signatures
                .get(digest)
                .cloned()
                .unwrap_or_default();
            (
                200,
                json!({
                    "kind": "ImageStreamImage",
                    "apiVersion": "v1",
                    "metadata": {"name": name, "namespace": namespace},
                    "image": {
                        "metadata": {"name": digest},
                        "dockerImageReference": format!("{INTERNAL_REGISTRY}/{namespace}/{stream}@{digest}"),
                        "signatures": signatures,
                    }
                }),
            )
        }
        ("POST", ["oapi", "v1", "imagesignatures"]) => {
            let Ok(object) = serde_json::from_slice::<Value>(body) else {
                return status(400, "BadRequest", "the body is not a JSON object");
            };
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            let Some((digest, _)) = name.split_once('@') else {
                return status(400, "BadRequest", "signature name must be DIGEST@NAME");
            };
            if object["type"] != "atomic" || !object["content"].is_string() {
                return status(
                    400,
                    "BadRequest",
                    "signature type must be atomic with content",
                );
            }
            state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .signatures
                .entry(digest.to_string())
                .or_default()
                .push(object.clone());
            (201, object)
        }
        _ => status(
            404,
            "NotFound",
            &format!("the server could not find the requested resource ({method} {path})"),
        ),
    }
}

/// An image stream made from the registry's repository `namespace/stream`.
fn image_stream(registry: &str, namespace: &str, stream: &str) -> (u16, Value) {
    let repository = format!("{namespace}/{stream}");
    let catalog = match registry_get(registry, "GET", "/v2/_catalog?n=1000") {
        Ok((200, body)) => serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
        _ => return status(500, "InternalError", "the registry is unreachable"),
    };
    let repositories: Vec<&str> = catalog["repositories"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !repositories
        .iter()
        .any(|r| r.starts_with(&format!("{namespace}/")))
    {
        return status(
            403,
            "Forbidden",
            &format!("imagestreams.image.openshift.io \"{stream}\" is forbidden: User \"system:anonymous\" cannot get resource \"imagestreams\" in API group \"image.openshift.io\" in the namespace \"{namespace}\""),
        );
    }
    if !repositories.contains(&repository.as_str()) {
        return not_found("imagestreams.image.openshift.io", stream);
    }
    let tags = match registry_get(registry, "GET", &format!("/v2/{repository}/tags/list")) {
        Ok((200, body)) => serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
        _ => return status(500, "InternalError", "listing the repository's tags failed"),
    };
    let mut tag_lists = Vec::new();
    for tag in tags["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let Ok((200, digest)) = registry_get(
            registry,
            "HEAD",
            &format!("/v2/{repository}/manifests/{tag}"),
        ) else {
            continue;
        };
        let digest = String::from_utf8_lossy(&digest).into_owned();
        tag_lists.push(json!({
            "tag": tag,
            "items": [{
                "created": "2024-01-01T00:00:00Z",
                "dockerImageReference": format!("{INTERNAL_REGISTRY}/{repository}@{digest}"),
                "image": digest,
                "generation": 1
            }]
        }));
    }
    (
        200,
        json!({
            "kind": "ImageStream",
            "apiVersion": "v1",
            "metadata": {"name": stream, "namespace": namespace},
            "status": {
                "dockerImageRepository": format!("{INTERNAL_REGISTRY}/{repository}"),
                "tags": tag_lists
            }
        }),
    )
}

/// A request to the registry; for `HEAD` the "body" is the `Docker-Content-Digest` header.
fn registry_get(registry: &str, method: &str, path: &str) -> io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(registry)?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {registry}\r\nAccept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json\r\nConnection: close\r\n\r\n"
    )?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::other("bad status line"))?;
    let mut digest = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("docker-content-digest") {
                digest = value.trim().as_bytes().to_vec();
            }
        }
    }
    if method == "HEAD" {
        return Ok((status, digest));
    }
    let mut body = Vec::new();
    reader.take(MAX_REQUEST as u64).read_to_end(&mut body)?;
    Ok((status, body))
}

type Request = (String, String, BTreeMap<String, String>, Vec<u8>);

fn read_request(stream: &mut TcpStream) -> io::Result<Request> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut words = request_line.split_whitespace();
    let method = words.next().unwrap_or_default().to_string();
    let path = words.next().unwrap_or_default().to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok((method, path, headers, body))
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code
        }),
    )
}

fn not_found(resource: &str, name: &str) -> (u16, Value) {
    status(404, "NotFound", &format!("{resource} \"{name}\" not found"))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Internal Server Error",
    }
}
