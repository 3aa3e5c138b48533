//! registries.conf applied to `docker://` images (`--registries-conf`): pulls served by a
//! mirror, `insecure` allowing plain HTTP, and `blocked` registries refused, as skopeo does.

mod common;

use common::{assert_one_line_failure, Workspace};
use skopos_testimage::registry::{RegistryOptions, TestRegistry};

#[test]
fn a_mirror_serves_pulls_and_a_blocked_prefix_is_refused_like_skopeo() {
    let primary = TestRegistry::start(RegistryOptions::default());
    let mirror = TestRegistry::start(RegistryOptions::default());
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 41);
    // Only the mirror has the image.
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "oci:src:t",
            &format!("docker://{}/lib/app:v1", mirror.host),
        ])
        .assert_success();
    let conf = workspace.path("registries.conf");
    std::fs::write(
        &conf,
        format!(
            "[[registry]]\nprefix = \"{p}/lib\"\nlocation = \"{p}/lib\"\ninsecure = true\n\n\
             [[registry.mirror]]\nlocation = \"{m}/lib\"\ninsecure = true\n\n\
             [[registry]]\nprefix = \"{p}/blocked\"\nlocation = \"{p}/blocked\"\nblocked = true\n",
            p = primary.host,
            m = mirror.host
        ),
    )
    .unwrap();
    let conf = conf.to_str().unwrap();

    // No --tls-verify: registries.conf's `insecure` allows plain HTTP.
    let pulled = workspace.run_both(&[
        "--registries-conf",
        conf,
        "inspect",
        "--raw",
        &format!("docker://{}/lib/app:v1", primary.host),
    ]);
    pulled.assert_same_stdout();
    assert_eq!(
        skopos_core::Digest::sha256_of(&pulled.skopos.stdout_bytes).to_string(),
        image.manifest.digest
    );

    let blocked = workspace.run_both(&[
        "--registries-conf",
        conf,
        "inspect",
        &format!("docker://{}/blocked/app:v1", primary.host),
    ]);
    assert_eq!(blocked.skopeo.code, Some(1), "{}", blocked.skopeo.stderr);
    assert_one_line_failure(&blocked.skopos, Some(1));
    // The message names each tool's own (private) home directory.
    assert_eq!(
        common::skopeo_message(&blocked.skopos.stderr).replace("home-skopos", "home-skopeo"),
        common::skopeo_message(&blocked.skopeo.stderr)
    );
}
