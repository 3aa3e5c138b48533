//! The library on its own: `serve` runs in this process on one end of a socket pair and
//! the test speaks the wire protocol on the other, checking replies byte for byte (the
//! texts are skopeo 1.22.2's, recorded from its proxy), descriptors, pipe ids, FinishPipe,
//! EPIPE and Shutdown.

use std::io::{IoSliceMut, Read as _};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::path::Path;
use std::thread::JoinHandle;

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendFlags, SocketFlags,
    SocketType,
};
use skopos_core::SystemContext;
use skopos_proxy::{serve, ProxySettings};
use skopos_testimage::{Compression, ImageSpec, OciLayout, WrittenImage};

/// The test's end of the socket, and the server running on the other end.
struct Connection {
    socket: OwnedFd,
    server: JoinHandle<anyhow::Result<()>>,
}

impl Connection {
    /// Start a server (insecure policy, default context) on a new socket pair.
    fn start() -> Connection {
        let (ours, theirs) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .expect("socketpair");
        let settings = ProxySettings {
            policy_path: None,
            insecure_policy: true,
            system_context: Box::new(|| Ok(SystemContext::default())),
        };
        let server = std::thread::spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(serve(theirs, settings))
        });
        Connection {
            socket: ours,
            server,
        }
    }

    fn send(&self, request: &str) {
        rustix::net::send(&self.socket, request.as_bytes(), SendFlags::empty()).expect("send");
    }

    /// Send `request`; the reply's text and the descriptors that came with it.
    fn call(&self, request: &str) -> (String, Vec<OwnedFd>) {
        self.send(request);
        let mut packet = vec![0u8; 32 * 1024];
        let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(2))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [IoSliceMut::new(&mut packet)];
        let received = rustix::net::recvmsg(
            &self.socket,
            &mut iov,
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )
        .expect("recvmsg");
        let fds = control
            .drain()
            .filter_map(|message| match message {
                RecvAncillaryMessage::ScmRights(fds) => Some(fds),
                _ => None,
            })
            .flatten()
            .collect();
        packet.truncate(received.bytes);
        (String::from_utf8(packet).expect("a text reply"), fds)
    }

    /// The reply's text, for calls that carry no descriptors.
    fn call_plain(&self, request: &str) -> String {
        let (reply, fds) = self.call(request);
        assert!(fds.is_empty(), "{request} returned descriptors");
        reply
    }

    /// Read a `FinishPipe` pipe to its end while `FinishPipe` is called (reading to the
    /// end first would wait forever: the write end stays open until FinishPipe).
    fn read_pipe(&self, fd: OwnedFd, pipe_id: u64) -> (Vec<u8>, String) {
        let reader = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            std::fs::File::from(fd)
                .read_to_end(&mut bytes)
                .expect("reading the pipe");
            bytes
        });
        let finish = self.call_plain(&format!(r#"{{"method":"FinishPipe","args":[{pipe_id}]}}"#));
        (reader.join().expect("the reader thread"), finish)
    }

    /// Close our end and wait for the server's result.
    fn close(self) -> anyhow::Result<()> {
        drop(self.socket);
        self.server.join().expect("the server thread")
    }
}

const OK_NULL: &str = r#"{"success":true,"value":null,"pipeid":0,"error_code":"","error":""}"#;

fn error_reply(message: &str) -> String {
    let message = serde_json::to_string(message).expect("a JSON string");
    format!(r#"{{"success":false,"value":null,"pipeid":0,"error_code":"other","error":{message}}}"#)
}

fn reply_json(reply: &str) -> serde_json::Value {
    serde_json::from_str(reply).expect("a JSON reply")
}

fn image(dir: &Path, spec: &ImageSpec) -> (OciLayout, WrittenImage) {
    let layout = OciLayout::create(dir.join("img")).expect("a layout");
    let image = layout.add_image(spec, Some("t")).expect("an image");
    (layout, image)
}

#[test]
fn argument_and_state_errors_read_like_skopeos() {
    let connection = Connection::start();
    let cases = [
        (
            r#"{"method":"OpenImage","args":["oci:x"]}"#,
            error_reply("client error: must invoke Initialize"),
        ),
        (
            r#"{"method":"Initialize","args":[1]}"#,
            error_reply("invalid request, expecting zero arguments"),
        ),
        (
            r#"{"method":"Initialize","args":[]}"#,
            r#"{"success":true,"value":"0.2.8","pipeid":0,"error_code":"","error":""}"#.into(),
        ),
        (
            r#"{"method":"Initialize","args":[]}"#,
            error_reply("already initialized"),
        ),
        (r#"{"method":"Foo"}"#, error_reply("unknown method: Foo")),
        (r#"{"args":[]}"#, error_reply("unknown method: ")),
        (
            r#"{"method":"OpenImage","args":[1]}"#,
            error_reply("expecting string imageref, not float64"),
        ),
        (
            r#"{"method":"OpenImage","args":[{}]}"#,
            error_reply("expecting string imageref, not map[string]interface {}"),
        ),
        (
            r#"{"method":"OpenImage","args":[null]}"#,
            // Go's encoder escapes < and >.
            r#"{"success":false,"value":null,"pipeid":0,"error_code":"other","error":"expecting string imageref, not \u003cnil\u003e"}"#.into(),
        ),
        (
            r#"{"method":"OpenImage","args":[]}"#,
            error_reply("invalid request, expecting one argument"),
        ),
        (
            r#"{"method":"OpenImage","args":["nope"]}"#,
            error_reply(
                "Invalid image name \"nope\", expected colon-separated transport:reference",
            ),
        ),
        (
            r#"{"method":"CloseImage","args":["x"]}"#,
            error_reply("expecting numeric, not string"),
        ),
        (
            r#"{"method":"CloseImage","args":[1e20]}"#,
            error_reply("out of range integer for numeric 100000000000000000000.000000"),
        ),
        (
            r#"{"method":"CloseImage","args":[1.5]}"#,
            error_reply("no image 1"),
        ),
        (
            r#"{"method":"CloseImage","args":[0]}"#,
            error_reply("Invalid imageid value of zero"),
        ),
        (
            r#"{"method":"GetBlob","args":[1]}"#,
            error_reply("found 1 args, expecting (imgid, digest, size)"),
        ),
        (
            r#"{"method":"GetRawBlob","args":[1]}"#,
            error_reply("found 1 args, expecting (imgid, digest)"),
        ),
        (
            r#"{"method":"GetLayerInfo","args":[]}"#,
            error_reply("found 0 args, expecting (imgid)"),
        ),
        (
            r#"{"method":"GetFullConfig","args":[]}"#,
            error_reply("invalid request, expecting: [imgid]"),
        ),
        (
            r#"{"method":"FinishPipe","args":[3]}"#,
            error_reply("finishpipe: no active pipe 3"),
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(connection.call_plain(request), expected, "{request}");
    }
    let malformed = reply_json(&connection.call_plain("xx"));
    assert_eq!(malformed["success"], false);
    assert!(
        malformed["error"]
            .as_str()
            .is_some_and(|text| text.starts_with("invalid request: ")),
        "{malformed}"
    );
    connection.close().expect("EOF ends the server cleanly");
}

#[test]
fn payloads_travel_in_pipes_and_blob_errors_wait_for_finish_pipe() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (layout, image) = image(dir.path(), &ImageSpec::new(7));
    let connection = Connection::start();
    connection.call_plain(r#"{"method":"Initialize","args":[]}"#);
    let reference = format!("oci:{}:t", layout.root().display());
    let opened = connection.call_plain(&format!(
        r#"{{"method":"OpenImage","args":[{}]}}"#,
        serde_json::to_string(&reference).expect("JSON")
    ));
    assert_eq!(
        opened,
        r#"{"success":true,"value":1,"pipeid":0,"error_code":"","error":""}"#
    );
    let missing = connection.call_plain(&format!(
        r#"{{"method":"OpenImageOptional","args":["oci:{}:missing"]}}"#,
        layout.root().display()
    ));
    assert_eq!(
        missing,
        r#"{"success":true,"value":0,"pipeid":0,"error_code":"","error":""}"#
    );

    // GetManifest: the digest as value, the bytes in a pipe, the write end kept open for
    // FinishPipe (whose descriptor number is the pipe id).
    let (reply, mut fds) = connection.call(r#"{"method":"GetManifest","args":[1]}"#);
    let reply = reply_json(&reply);
    assert_eq!(reply["value"], image.manifest.digest.as_str());
    let pipe_id = reply["pipeid"].as_u64().expect("a pipe id");
    assert_ne!(pipe_id, 0);
    assert_eq!(fds.len(), 1);
    let (bytes, finish) = connection.read_pipe(fds.remove(0), pipe_id);
    assert_eq!(
        bytes,
        std::fs::read(layout.blob_path(&image.manifest.digest)).expect("manifest")
    );
    assert_eq!(finish, OK_NULL);
    assert_eq!(
        connection.call_plain(&format!(r#"{{"method":"FinishPipe","args":[{pipe_id}]}}"#)),
        error_reply(&format!("finishpipe: no active pipe {pipe_id}"))
    );

    // GetConfig (deprecated): only the runtime part of the config.
    let (reply, mut fds) = connection.call(r#"{"method":"GetConfig","args":[1]}"#);
    let pipe_id = reply_json(&reply)["pipeid"].as_u64().expect("a pipe id");
    let (bytes, finish) = connection.read_pipe(fds.remove(0), pipe_id);
    assert_eq!(finish, OK_NULL);
    let source_config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(layout.blob_path(&image.config.digest)).expect("config"),
    )
    .expect("a JSON config");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&bytes).expect("JSON"),
        source_config["config"]
    );

    // GetLayerInfo inline, in Go's member order.
    let layer = &image.layers[0];
    let info = connection.call_plain(r#"{"method":"GetLayerInfo","args":[1]}"#);
    assert!(
        info.starts_with(&format!(
            r#"{{"success":true,"value":[{{"digest":"{}","size":{},"media_type":"{}"}}"#,
            layer.digest, layer.size, layer.media_type
        )),
        "{info}"
    );

    // GetBlob with a size larger than the blob: the data flows, the error comes at FinishPipe.
    let (reply, mut fds) = connection.call(&format!(
        r#"{{"method":"GetBlob","args":[1,"{}",{}]}}"#,
        layer.digest,
        layer.size + 1
    ));
    let reply = reply_json(&reply);
    assert_eq!(reply["value"], layer.size);
    let (bytes, finish) = connection.read_pipe(fds.remove(0), reply["pipeid"].as_u64().unwrap());
    assert_eq!(bytes.len() as u64, layer.size);
    assert_eq!(
        finish,
        error_reply(&format!(
            "expected {} bytes in blob, got {}",
            layer.size + 1,
            layer.size
        ))
    );

    // GetRawBlob: two descriptors, no pipe id, an empty error stream on success.
    let (reply, fds) = connection.call(&format!(
        r#"{{"method":"GetRawBlob","args":[1,"{}"]}}"#,
        layer.digest
    ));
    assert_eq!(
        reply,
        format!(
            r#"{{"success":true,"value":{},"pipeid":0,"error_code":"","error":""}}"#,
            layer.size
        )
    );
    let [data, errors]: [OwnedFd; 2] = fds.try_into().expect("two descriptors");
    let mut bytes = Vec::new();
    std::fs::File::from(data)
        .read_to_end(&mut bytes)
        .expect("data");
    let mut report = Vec::new();
    std::fs::File::from(errors)
        .read_to_end(&mut report)
        .expect("errors");
    assert_eq!(
        bytes,
        std::fs::read(layout.blob_path(&layer.digest)).expect("layer")
    );
    assert!(report.is_empty(), "{}", String::from_utf8_lossy(&report));

    assert_eq!(
        connection.call_plain(r#"{"method":"CloseImage","args":[1]}"#),
        OK_NULL
    );
    assert_eq!(
        connection.call_plain(r#"{"method":"GetManifest","args":[1]}"#),
        error_reply("no image 1")
    );
    connection.send(r#"{"method":"Shutdown"}"#);
    connection
        .server
        .join()
        .expect("the server thread")
        .expect("Shutdown ends the server cleanly");
}

#[test]
fn a_client_that_stops_reading_gets_epipe() {
    let dir = tempfile::tempdir().expect("a temp dir");
    // Larger than a pipe's buffer, so the writer is still writing when the client leaves.
    let spec = ImageSpec::new(8)
        .with_layers(1, 1 << 20)
        .with_compression(Compression::Uncompressed);
    let (layout, image) = image(dir.path(), &spec);
    let layer = &image.layers[0];
    let connection = Connection::start();
    connection.call_plain(r#"{"method":"Initialize","args":[]}"#);
    connection.call_plain(&format!(
        r#"{{"method":"OpenImage","args":["oci:{}:t"]}}"#,
        layout.root().display()
    ));
    let (reply, fds) = connection.call(&format!(
        r#"{{"method":"GetBlob","args":[1,"{}",{}]}}"#,
        layer.digest, layer.size
    ));
    drop(fds);
    let pipe_id = reply_json(&reply)["pipeid"].as_u64().expect("a pipe id");
    assert_eq!(
        connection.call_plain(&format!(r#"{{"method":"FinishPipe","args":[{pipe_id}]}}"#)),
        r#"{"success":false,"value":null,"pipeid":0,"error_code":"EPIPE","error":"write |1: broken pipe"}"#
    );

    let (_, fds) = connection.call(&format!(
        r#"{{"method":"GetRawBlob","args":[1,"{}"]}}"#,
        layer.digest
    ));
    let [data, errors]: [OwnedFd; 2] = fds.try_into().expect("two descriptors");
    drop(data);
    let mut report = String::new();
    std::fs::File::from(errors)
        .read_to_string(&mut report)
        .expect("the error stream");
    assert_eq!(
        report,
        r#"{"code":"EPIPE","message":"write |1: broken pipe"}"#
    );
    connection.close().expect("EOF ends the server cleanly");
}

#[test]
fn descriptors_that_are_no_sockets_are_refused_with_gos_words() {
    let file = tempfile::tempfile().expect("a temp file");
    let err = skopos_proxy::adopt_socket_fd(file.as_raw_fd()).expect_err("a file is no socket");
    assert_eq!(
        err.to_string(),
        "file file+net sock: getsockopt: socket operation on non-socket"
    );
    // The refused descriptor was left open for its owner.
    assert!(file.metadata().is_ok());
    let err = skopos_proxy::adopt_socket_fd(-1).expect_err("-1 is no descriptor");
    assert_eq!(
        err.to_string(),
        "file file+net sock: fcntl: bad file descriptor"
    );
}
