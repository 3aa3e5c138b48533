//! Image references of every transport (`docker://…`, `oci:…`, `containers-storage:…`, …)
//! and bare docker references, as typed on a command line or read from a sync YAML.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skopos_core::reference::DockerReference;
use skopos_core::ImageName;

fuzz_target!(|input: &str| {
    if let Ok(name) = ImageName::parse(input) {
        // What a parse accepts must print and parse again.
        let _ = ImageName::parse(&name.to_string());
    }
    if let Ok(reference) = DockerReference::parse_normalized(input) {
        let _ = DockerReference::parse_normalized(&reference.to_string());
    }
});
