//! `skopos experimental-image-proxy`: the flags become the proxy library's settings.

use skopos_core::SystemContext;
use skopos_proxy::ProxySettings;

use crate::cli::RegistryFlags as _;
use crate::cli::{GlobalArgs, ProxyArgs};

/// Serve the image proxy on `--sockfd` (stdin by default) until the client is done.
pub async fn run(global: &GlobalArgs, args: &ProxyArgs) -> anyhow::Result<()> {
    let image = args.image.clone();
    let context_global = global.clone();
    let settings = ProxySettings {
        policy_path: global.policy.clone(),
        insecure_policy: global.insecure_policy,
        system_context: Box::new(move || {
            let mut ctx = SystemContext {
                oci_shared_blob_dir: image.shared_blob_dir.clone(),
                docker_daemon_host: image.daemon_host.clone(),
                auth_file: image.authfile.clone(),
                ..crate::copy::base_context(&context_global)
            };
            image.apply_registry_settings(&mut ctx)?;
            Ok(ctx)
        }),
    };
    // A number that is no descriptor at all fails like a closed one (EBADF), as in skopeo.
    let fd = i32::try_from(args.sockfd).unwrap_or(-1);
    skopos_proxy::serve_fd(fd, settings).await
}
