//! A `skopeo sync --src yaml` file, decoded as sync decodes it (the per-registry entries are
//! then references, which the `reference` target covers; resolving them needs a registry).
#![no_main]

use libfuzzer_sys::fuzz_target;
use skopos_sync::SyncYaml;

fuzz_target!(|bytes: &[u8]| {
    let _ = SyncYaml::parse("fuzz.yaml", bytes);
});
