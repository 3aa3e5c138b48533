//! A registry's `WWW-Authenticate` header.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|header: &str| {
    let _ = skopos_registry::challenge::parse(header);
});
