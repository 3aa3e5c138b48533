//! A `docker save` archive: the tar walk and its `manifest.json`, as `list-tags
//! docker-archive:` and every `docker-archive:` source read them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skopos_core::SystemContext;

fuzz_target!(|bytes: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let archive = dir.path().join("archive.tar");
    if std::fs::write(&archive, bytes).is_err() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else { return };
    let ctx = SystemContext {
        tmpdir: Some(dir.path().to_path_buf()),
        ..SystemContext::default()
    };
    let _ = runtime.block_on(skopos_transports::docker_archive::list_tags(&archive, &ctx));
});
