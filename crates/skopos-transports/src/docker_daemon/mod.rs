//! `docker-daemon:NAME:TAG|NAME@DIGEST|sha256:ID`: images in a Docker Engine (or podman's
//! compatible API service), moved as `docker save` tars through its API, as containers/image
//! does:
//!
//! - [`client`]: the Engine API client (`GET /images/get`, `POST /images/load`);
//! - [`source`]: the daemon's tar is spooled to a temporary file and read as a
//!   docker-archive;
//! - [`destination`]: a docker-archive written straight into the body of an image load
//!   request while the copy runs; the daemon's reply decides the commit.

pub(crate) mod client;
mod destination;
mod source;

pub(crate) use destination::DockerDaemonDestination;
pub(crate) use source::open_source;
