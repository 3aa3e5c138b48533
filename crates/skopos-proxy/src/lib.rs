//! skopeo's `experimental-image-proxy`: the server side of protocol 0.2.8, which
//! bootc, rpm-ostree and ostree-rs-ext speak through the `containers-image-proxy` crate.
//!
//! The client passes one end of a `SOCK_SEQPACKET` socket pair (as stdin, or another
//! descriptor). Each packet is one JSON request `{"method", "args"}`; each reply is
//! `{"success", "value", "pipeid", "error_code", "error"}`. Manifests, configs and blobs
//! travel in pipes whose read ends ride along as `SCM_RIGHTS`. Images are opened by name
//! through [`skopos_transports::open_source`] (every transport skopos reads), judged by the
//! trust policy as `copy` judges them, and presented as OCI: a Docker schema 2 manifest is
//! converted, and its config re-encoded, as containers/image does.
//!
//! skopeo's `cmd/skopeo/proxy.go` (1.22.2) is the specification for the methods, their
//! argument checks and their error texts.

#![deny(missing_docs)]

mod handler;
mod pipes;
mod socket;
mod wire;

use std::os::fd::{AsFd as _, BorrowedFd, OwnedFd, RawFd};
use std::path::PathBuf;

use anyhow::anyhow;
use skopos_core::go::text::go_errno_text;
use skopos_core::SystemContext;

use handler::{Handler, Outcome};
use wire::{ErrorCode, WireReply};

pub use socket::{adopt_socket_fd, MAX_MESSAGE_SIZE};

/// The protocol version `Initialize` reports (skopeo 1.22.2's).
pub const PROTOCOL_VERSION: &str = "0.2.8";

/// How the proxy opens images: what `Initialize` sets up from the command line.
pub struct ProxySettings {
    /// `--policy`; `None` uses the user's or the system's policy file.
    pub policy_path: Option<PathBuf>,
    /// `--insecure-policy`: accept every image.
    pub insecure_policy: bool,
    /// Builds the context images are opened with; called by `Initialize`, whose reply
    /// carries its error (conflicting credential flags, for example), as in skopeo.
    pub system_context: Box<dyn Fn() -> anyhow::Result<SystemContext> + Send + Sync>,
}

/// Answer requests on `socket` until the client sends `Shutdown` or closes its end.
/// Errors are those of the socket itself; a failed request is reported to the client.
pub async fn serve(socket: OwnedFd, settings: ProxySettings) -> anyhow::Result<()> {
    let socket = socket::PacketSocket::new(socket)?;
    let mut handler = Handler::new(settings);
    loop {
        let packet = socket
            .receive()
            .await
            .map_err(|err| anyhow!("reading socket: {}", go_errno_text(&err)))?;
        let Some(packet) = packet else {
            return Ok(());
        };
        let result = match handler.process(&packet).await {
            Outcome::Shutdown => {
                tracing::debug!("terminating");
                return Ok(());
            }
            Outcome::Reply(result) => result,
        };
        let (bytes, fds) = encode_reply(result)?;
        let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(|fd| fd.as_fd()).collect();
        socket
            .send(&bytes, &borrowed)
            .await
            .map_err(|err| anyhow!("writing to socket: {}", go_errno_text(&err)))?;
        // `fds` is dropped here: the client has its own copies of the read ends now.
    }
}

/// The reply packet for a call's result, and the descriptors to send with it.
fn encode_reply(result: anyhow::Result<handler::Reply>) -> anyhow::Result<(Vec<u8>, Vec<OwnedFd>)> {
    match result {
        Ok(reply) => {
            let wire = WireReply {
                success: true,
                value: &reply.value,
                pipeid: reply.pipe_id,
                error_code: "",
                error: String::new(),
            };
            Ok((skopos_core::go::json::to_vec(&wire)?, reply.fds))
        }
        Err(err) => {
            tracing::debug!("Sending reply: err={err:#}");
            let null = handler::encode_value(&serde_json::Value::Null)?;
            let wire = WireReply {
                success: false,
                value: &null,
                pipeid: 0,
                error_code: ErrorCode::of(&err).as_str(),
                error: format!("{err:#}"),
            };
            Ok((skopos_core::go::json::to_vec(&wire)?, Vec::new()))
        }
    }
}

/// Serve on the inherited descriptor `fd` (0, stdin, unless `--sockfd` says otherwise).
pub async fn serve_fd(fd: RawFd, settings: ProxySettings) -> anyhow::Result<()> {
    serve(adopt_socket_fd(fd)?, settings).await
}
