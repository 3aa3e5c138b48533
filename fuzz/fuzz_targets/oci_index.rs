//! An OCI layout's `index.json`, parsed and searched as `oci:` sources and destinations do.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use skopos_transports::oci::index::Index;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(mut index) = Index::parse(bytes, Path::new("index.json")) {
        for descriptor in index.manifests().to_vec() {
            let _ = descriptor.parsed_digest();
            let _ = descriptor.ref_name();
            index.add(descriptor);
        }
        let _ = index.to_bytes();
    }
});
