//! An OCI layout's `index.json`, as opening an `oci:` image reads it (parsed, searched by
//! reference name and by `@N`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use skopos_core::{ImageName, SystemContext};

fuzz_target!(|bytes: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let layout = dir.path();
    let written = std::fs::write(layout.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .and_then(|()| std::fs::write(layout.join("index.json"), bytes));
    if written.is_err() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else { return };
    let ctx = SystemContext::default();
    for suffix in ["latest", "@0", ""] {
        let reference = match suffix {
            "" => format!("oci:{}", layout.display()),
            s => format!("oci:{}:{s}", layout.display()),
        };
        if let Ok(name) = ImageName::parse(&reference) {
            let _ = runtime.block_on(skopos_transports::open_source(&name, &ctx));
        }
    }
});
