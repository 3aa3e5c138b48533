//! policy.json, every requirement type and identity rule.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skopos_policy::Policy;

fuzz_target!(|bytes: &[u8]| {
    let _ = Policy::from_bytes(bytes);
});
