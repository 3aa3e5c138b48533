//! registries.conf (TOML, v1 and v2 syntax), read from a file as skopos reads it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skopos_config::registries::{self, RegistriesConfSearch};

fuzz_target!(|bytes: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let file = dir.path().join("registries.conf");
    if std::fs::write(&file, bytes).is_err() {
        return;
    }
    let search = RegistriesConfSearch {
        explicit: Some(file),
        env_override: None,
        home: None,
        system_file: dir.path().join("none.conf"),
        system_drop_in_dir: dir.path().join("none.d"),
    };
    if let Ok(conf) = registries::load(&search) {
        let _ = conf.find_registry("docker.io/library/busybox:latest");
    }
});
