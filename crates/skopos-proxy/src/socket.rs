//! The client's socket: one message per packet (`SOCK_SEQPACKET`), replies carrying file
//! descriptors as `SCM_RIGHTS`, driven by tokio so that pipe writers run while the server
//! waits for the next request.

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, FromRawFd as _, OwnedFd, RawFd};

use anyhow::anyhow;
use rustix::net::{RecvFlags, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use skopos_core::go::text::go_errno_text;
use tokio::io::unix::AsyncFd;

/// The largest request read; skopeo's buffer is this size, and payloads travel in pipes.
pub const MAX_MESSAGE_SIZE: usize = 32 * 1024;

/// The most descriptors one reply carries (`GetRawBlob`'s data and error pipes).
const MAX_REPLY_FDS: usize = 2;

/// Take ownership of the inherited descriptor `fd` (stdin, or `--sockfd`), refusing with
/// Go's wording one that is not open or not a socket, as skopeo's `net.FileConn` does.
pub fn adopt_socket_fd(fd: RawFd) -> anyhow::Result<OwnedFd> {
    // SAFETY: F_GETFD only reads the descriptor flags; on a number that is not an open
    // descriptor it fails with EBADF and touches nothing.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        let err = io::Error::last_os_error();
        return Err(anyhow!(
            "file file+net sock: fcntl: {}",
            go_errno_text(&err)
        ));
    }
    // SAFETY: the descriptor is open (checked above) and was inherited for this server to
    // use; nothing else in the process owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    if let Err(errno) = rustix::net::sockopt::socket_type(&owned) {
        // Not ours to close after all: the caller's descriptor stays as it was.
        std::mem::forget(owned);
        return Err(anyhow!(
            "file file+net sock: getsockopt: {}",
            go_errno_text(&errno.into())
        ));
    }
    Ok(owned)
}

/// The server's end of the client's socket.
pub struct PacketSocket {
    fd: AsyncFd<OwnedFd>,
}

impl PacketSocket {
    /// Serve on `fd`, which must be a socket.
    pub fn new(fd: OwnedFd) -> io::Result<PacketSocket> {
        rustix::io::ioctl_fionbio(&fd, true)?;
        // SAFETY: the `OwnedFd` is a valid descriptor, owned by the `AsyncFd` from here on
        // and never replaced or closed while registered.
        let fd = unsafe { AsyncFd::register(fd)? };
        Ok(PacketSocket { fd })
    }

    /// The next request packet (truncated to [`MAX_MESSAGE_SIZE`]); `None` once the client
    /// has closed its end.
    pub async fn receive(&self) -> io::Result<Option<Vec<u8>>> {
        let mut packet = vec![0u8; MAX_MESSAGE_SIZE];
        loop {
            let mut ready = self.fd.readable().await?;
            let received = ready.try_io(|fd| {
                rustix::net::recv(fd.get_ref(), &mut packet[..], RecvFlags::empty())
                    .map_err(io::Error::from)
            });
            match received {
                Ok(result) => {
                    let (length, _) = result?;
                    if length == 0 {
                        return Ok(None);
                    }
                    packet.truncate(length);
                    return Ok(Some(packet));
                }
                Err(_would_block) => continue,
            }
        }
    }

    /// Send one reply packet with `fds` attached (all in one `SCM_RIGHTS` message: the
    /// client's receive buffer has room for one control message only).
    pub async fn send(&self, packet: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
        if fds.len() > MAX_REPLY_FDS {
            return Err(io::Error::other("too many descriptors for one reply"));
        }
        loop {
            let mut ready = self.fd.writable().await?;
            let sent = ready.try_io(|fd| {
                let mut space =
                    [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_REPLY_FDS))];
                let mut control = SendAncillaryBuffer::new(&mut space);
                if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
                    return Err(io::Error::other("no room for the reply's descriptors"));
                }
                rustix::net::sendmsg(
                    fd.get_ref(),
                    &[IoSlice::new(packet)],
                    &mut control,
                    SendFlags::NOSIGNAL,
                )
                .map_err(io::Error::from)
            });
            match sent {
                Ok(result) => {
                    if result? != packet.len() {
                        return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
                    }
                    return Ok(());
                }
                Err(_would_block) => continue,
            }
        }
    }
}
