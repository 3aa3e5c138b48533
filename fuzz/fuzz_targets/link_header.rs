//! A tag list page's `Link` header.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|header: &str| {
    let _ = skopos_registry::next_link(header);
});
