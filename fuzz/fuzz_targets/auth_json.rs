//! auth.json (and a Docker config.json), read as a credential lookup reads it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skopos_config::auth::{get_credentials, AuthFiles, Environment};

fuzz_target!(|bytes: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let file = dir.path().join("auth.json");
    if std::fs::write(&file, bytes).is_err() {
        return;
    }
    let files = AuthFiles {
        env: Environment::default(),
        auth_file: Some(file),
        compat_auth_file: None,
        credential_helpers: Vec::new(),
    };
    for key in ["docker.io/library/busybox", "registry.example:5000", "localhost"] {
        let _ = get_credentials(&files, key);
    }
});
