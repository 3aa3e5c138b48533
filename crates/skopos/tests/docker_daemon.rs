//! `docker-daemon:` against podman's Docker-compatible API service (one per test binary, on
//! a private temporary store): skopos must load images the daemon lists with their tags and
//! DiffIDs, read what skopeo loaded exactly as skopeo reads it, and fail like skopeo when
//! the daemon cannot be reached or the reference cannot be a destination.
//!
//! Each test uses its own image names, so the tests can share the service and run in
//! parallel.

mod common;

use std::process::Command;
use std::sync::OnceLock;

use common::{assert_one_line_failure, assert_same_tree, skopeo_message, Outcome, Workspace, WHO};
use skopos_testimage::podman::PodmanService;
use skopos_testimage::{ImageSpec, WrittenImage};

fn podman() -> &'static PodmanService {
    static SERVICE: OnceLock<PodmanService> = OnceLock::new();
    SERVICE.get_or_init(PodmanService::start)
}

/// A small two-layer image (a few KiB) tagged `t` in the OCI layout `src`.
fn small_image(workspace: &Workspace, seed: u64) -> WrittenImage {
    workspace.image_from("src", "t", &ImageSpec::new(seed).with_layers(2, 3000))
}

/// `--insecure-policy copy -q SOURCE DESTINATION` through skopos, with `--dest-daemon-host`
/// pointing at the test service.
fn skopos_copy_to_daemon(workspace: &Workspace, source: &str, destination: &str) -> Outcome {
    let host = podman().host();
    workspace.skopos(&[
        "--insecure-policy",
        "copy",
        "-q",
        "--dest-daemon-host",
        &host,
        source,
        destination,
    ])
}

/// The same through skopeo.
fn skopeo_copy_to_daemon(workspace: &Workspace, source: &str, destination: &str) -> Outcome {
    let host = podman().host();
    workspace.skopeo(&[
        "--insecure-policy",
        "copy",
        "-q",
        "--dest-daemon-host",
        &host,
        source,
        destination,
    ])
}

#[test]
fn copy_to_the_daemon_loads_the_image_with_its_tag_and_diff_ids() {
    let workspace = Workspace::new();
    let image = small_image(&workspace, 41);
    skopos_copy_to_daemon(
        &workspace,
        "oci:src:t",
        "docker-daemon:example.com/dd/loaded:1",
    )
    .assert_success();
    let service = podman();
    assert!(
        service
            .image_names()
            .contains(&"example.com/dd/loaded:1".to_string()),
        "podman images: {:?}",
        service.image_names()
    );
    assert_eq!(service.diff_ids("example.com/dd/loaded:1"), image.diff_ids);
    // The image ID is the config digest, as for an image skopeo loads.
    let id = service.image_inspect("example.com/dd/loaded:1")["Id"].clone();
    assert_eq!(
        format!("sha256:{}", id.as_str().unwrap_or_default()),
        image.config.digest
    );
}

#[test]
fn what_skopos_loaded_reads_back_like_what_skopeo_loaded() {
    let workspace = Workspace::new();
    small_image(&workspace, 42);
    skopos_copy_to_daemon(
        &workspace,
        "oci:src:t",
        "docker-daemon:example.com/dd/by-skopos:1",
    )
    .assert_success();
    skopeo_copy_to_daemon(
        &workspace,
        "oci:src:t",
        "docker-daemon:example.com/dd/by-skopeo:1",
    )
    .assert_success();
    let host = podman().host();
    // Both tools read the image skopos loaded the same way…
    workspace
        .run_both(&[
            "copy",
            "-q",
            "--src-daemon-host",
            &host,
            "docker-daemon:example.com/dd/by-skopos:1",
            &format!("dir:dest-{WHO}"),
        ])
        .assert_both_succeed();
    assert_same_tree(
        &workspace.path("dest-skopos"),
        &workspace.path("dest-skopeo"),
    );
    // …and it is the image skopeo's own load gives.
    let skopeo_loaded = workspace.path("skopeo-loaded");
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--src-daemon-host",
            &host,
            "docker-daemon:example.com/dd/by-skopeo:1",
            &format!("dir:{}", skopeo_loaded.display()),
        ])
        .assert_success();
    assert_same_tree(&workspace.path("dest-skopeo"), &skopeo_loaded);
}

#[test]
fn an_image_skopeo_loaded_is_inspected_and_copied_as_skopeo_does() {
    let workspace = Workspace::new();
    let image = small_image(&workspace, 43);
    skopeo_copy_to_daemon(
        &workspace,
        "oci:src:t",
        "docker-daemon:example.com/dd/read:1",
    )
    .assert_success();
    let host = podman().host();
    let name = "docker-daemon:example.com/dd/read:1";
    workspace
        .run_both(&["inspect", "--daemon-host", &host, name])
        .assert_same_inspect_json();
    workspace
        .run_both(&["inspect", "--raw", "--daemon-host", &host, name])
        .assert_same_stdout();
    workspace
        .run_both(&["inspect", "--config", "--raw", "--daemon-host", &host, name])
        .assert_same_stdout();
    // By image ID too.
    let by_id = format!("docker-daemon:{}", image.config.digest);
    workspace
        .run_both(&["inspect", "--daemon-host", &host, &by_id])
        .assert_same_inspect_json();
    // The daemon's layers are uncompressed; kept so, they are the same bytes whoever
    // copies them (gzip output differs between Go's and Rust's compressors).
    workspace
        .run_both(&[
            "copy",
            "-q",
            "--src-daemon-host",
            &host,
            "--dest-oci-accept-uncompressed-layers",
            name,
            &format!("oci:dest-{WHO}:t"),
        ])
        .assert_both_succeed();
    assert_same_tree(
        &workspace.path("dest-skopos"),
        &workspace.path("dest-skopeo"),
    );
}

#[test]
fn docker_host_names_the_daemon_when_no_flag_does() {
    let workspace = Workspace::new();
    small_image(&workspace, 44);
    let output = Command::new(env!("CARGO_BIN_EXE_skopos"))
        .args([
            "--insecure-policy",
            "copy",
            "-q",
            "oci:src:t",
            "docker-daemon:example.com/dd/docker-host:1",
        ])
        .current_dir(workspace.path(""))
        .env("HOME", workspace.path("home-skopos"))
        // The blob-info cache in the temp dir, not in /var/lib/containers (see common).
        .env("_CONTAINERS_ROOTLESS_UID", "1000")
        .env("XDG_DATA_HOME", workspace.path("home-skopos/data"))
        .env("DOCKER_HOST", podman().host())
        .output()
        .expect("running skopos");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(podman().has_image("example.com/dd/docker-host:1"));
}

#[test]
fn a_missing_daemon_socket_is_one_error_line_as_skopeo_prints_it() {
    let workspace = Workspace::new();
    let socket = workspace.path("no-daemon.sock");
    let host = format!("unix://{}", socket.display());
    let pair = workspace.run_both(&["inspect", "--daemon-host", &host, "docker-daemon:a/b:c"]);
    for outcome in [&pair.skopos, &pair.skopeo] {
        assert_one_line_failure(outcome, Some(1));
    }
    assert_eq!(
        skopeo_message(&pair.skopos.stderr),
        skopeo_message(&pair.skopeo.stderr)
    );
    assert!(
        pair.skopos.stderr.contains(&format!(
            "Cannot connect to the Docker daemon at {host}. Is the docker daemon running?"
        )),
        "{}",
        pair.skopos.stderr
    );
}

#[test]
fn a_missing_destination_daemon_fails_before_anything_is_read() {
    let workspace = Workspace::new();
    small_image(&workspace, 45);
    let host = format!("unix://{}", workspace.path("no-daemon.sock").display());
    let outcome = workspace.skopos(&[
        "--insecure-policy",
        "copy",
        "--dest-daemon-host",
        &host,
        "oci:src:t",
        "docker-daemon:example.com/dd/nowhere:1",
    ]);
    assert_one_line_failure(&outcome, Some(1));
    // skopeo 1.9.3 says only "writing blob: io: read/write on closed pipe" here, after
    // reading the first layers: skopos connects first and names the daemon.
    assert_eq!(
        skopeo_message(&outcome.stderr),
        format!(
            "initializing destination docker-daemon:example.com/dd/nowhere:1: saving image to docker engine: Cannot connect to the Docker daemon at {host}. Is the docker daemon running?"
        )
    );
    assert!(
        !outcome.stdout.contains("Copying blob"),
        "nothing should be copied: {}",
        outcome.stdout
    );
}

#[test]
fn a_missing_image_is_reported_as_skopeo_reports_it() {
    let workspace = Workspace::new();
    let host = podman().host();
    let pair = workspace.run_both(&[
        "inspect",
        "--daemon-host",
        &host,
        "docker-daemon:example.com/dd/missing:1",
    ]);
    for outcome in [&pair.skopos, &pair.skopeo] {
        assert_one_line_failure(outcome, Some(1));
    }
    assert_eq!(
        skopeo_message(&pair.skopos.stderr),
        skopeo_message(&pair.skopeo.stderr)
    );
}

#[test]
fn a_destination_without_a_tag_is_refused_as_skopeo_refuses_it() {
    let workspace = Workspace::new();
    let image = small_image(&workspace, 46);
    let host = podman().host();
    let hex = image.config.digest.trim_start_matches("sha256:");
    for destination in [
        format!("docker-daemon:example.com/dd/digested@sha256:{hex}"),
        format!("docker-daemon:sha256:{hex}"),
    ] {
        let pair = workspace.run_both(&[
            "copy",
            "-q",
            "--dest-daemon-host",
            &host,
            "oci:src:t",
            &destination,
        ]);
        for outcome in [&pair.skopos, &pair.skopeo] {
            assert_one_line_failure(outcome, Some(1));
        }
        assert_eq!(
            skopeo_message(&pair.skopos.stderr),
            skopeo_message(&pair.skopeo.stderr)
        );
        assert!(pair
            .skopos
            .stderr
            .contains("a destination must be a name:tag"));
    }
}

#[test]
fn a_copy_that_fails_midway_loads_nothing() {
    let workspace = Workspace::new();
    let image = small_image(&workspace, 47);
    let last_layer = &image.layers[image.layers.len() - 1];
    workspace
        .layout("src")
        .flip_byte(&last_layer.digest, 100)
        .expect("corrupting a layer");
    let outcome = skopos_copy_to_daemon(
        &workspace,
        "oci:src:t",
        "docker-daemon:example.com/dd/broken:1",
    );
    assert_one_line_failure(&outcome, Some(1));
    assert!(
        outcome.stderr.contains("digest mismatch"),
        "{}",
        outcome.stderr
    );
    assert!(!podman().has_image("example.com/dd/broken:1"));
}

#[test]
fn additional_tags_are_not_given_to_daemon_images_as_skopeo_does_not() {
    let workspace = Workspace::new();
    small_image(&workspace, 48);
    let host = podman().host();
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--additional-tag",
            "example.com/dd/extra:2",
            "--dest-daemon-host",
            &host,
            "oci:src:t",
            "docker-daemon:example.com/dd/main:1",
        ])
        .assert_success();
    assert!(podman().has_image("example.com/dd/main:1"));
    assert!(!podman().has_image("example.com/dd/extra:2"));
}
