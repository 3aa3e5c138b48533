//! skopeo's configuration files, as plain data and pure lookups (no network):
//!
//! - [`auth`]: containers-auth.json / Docker `config.json` credentials, credential helpers,
//!   and the edits `login` / `logout` make;
//! - [`registries`]: containers-registries.conf(5) v2 (and minimal v1): prefixes, rewrites,
//!   mirrors, `insecure`, `blocked`;
//! - [`certs`]: containers-certs.d(5) per-registry CA certificates and client identities;
//! - [`registries_d`]: containers-registries.d(5) signature storage (lookaside) locations.
//!
//! Every lookup takes its environment (home directory, XDG variables, search roots) as an
//! explicit input so that callers and tests decide what the "real" environment is.
//!
//! Where it fits: the command line and the transports read these files; what they say becomes
//! the settings a source or destination is opened with (credentials, mirrors, certificates,
//! signature locations) before the copy engine runs.

#![deny(missing_docs)]

pub mod auth;
pub mod certs;
pub mod registries;
pub mod registries_d;
