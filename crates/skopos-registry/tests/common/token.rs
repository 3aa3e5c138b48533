//! The registry token issuer, shared with the CLI tests through `skopos-testimage`.

// Each test binary includes the harness; only registry.rs uses the issuer.
#![allow(unused_imports)]

pub use skopos_testimage::token::{TokenIssuer, ISSUER, SERVICE};
