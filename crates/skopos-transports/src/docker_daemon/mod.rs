//! `docker-daemon:`: images in a Docker Engine (or podman's compatible API service), moved as
//! `docker save` tars through its API.
//!
//! - [`client`]: the Engine API client (`GET /images/get`, `POST /images/load`).

// Until the transport that uses it lands.
#[allow(dead_code)]
pub(crate) mod client;
