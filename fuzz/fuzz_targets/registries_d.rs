//! A registries.d YAML file (lookaside and sigstore-attachment settings).
#![no_main]

use libfuzzer_sys::fuzz_target;
use skopos_config::registries_d::RegistriesD;
use skopos_core::reference::DockerReference;

fuzz_target!(|bytes: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    if std::fs::write(dir.path().join("fuzz.yaml"), bytes).is_err() {
        return;
    }
    if let (Ok(config), Ok(reference)) = (
        RegistriesD::load(dir.path()),
        DockerReference::parse_normalized("registry.example/ns/image:tag"),
    ) {
        let _ = config.use_sigstore_attachments(&reference);
    }
});
