//! tar-split metadata, as a containers-storage layer is rebuilt into its original tar.
//! File contents come from an empty directory, so every file entry must fail cleanly or be
//! empty; none may reach outside it.
#![no_main]

use std::io::Read as _;

use libfuzzer_sys::fuzz_target;
use skopos_storage::tarsplit::TarRebuilder;

fuzz_target!(|bytes: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let root = dir.path().join("diff");
    if std::fs::create_dir(&root).is_err() {
        return;
    }
    let mut rebuilt = Vec::new();
    let _ = TarRebuilder::new(bytes, &root)
        .take(64 << 20)
        .read_to_end(&mut rebuilt);
});
