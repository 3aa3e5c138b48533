//! `tarball:FILE[:FILE…]`: for gzip and uncompressed layer files, and several at once, skopos
//! makes the same manifest and config as skopeo (both date the image with the files'
//! modification times, so the outputs are byte for byte equal), copies them into the same
//! trees, reads a layer from standard input for `-`, and refuses to write.

mod common;

use std::fs::{self, File};
use std::process::Command;

use common::{
    assert_one_line_failure, assert_same_tree, parse_json, skopeo_message, Workspace, WHO,
};
use skopos_testimage::{Compression, ImageSpec};

/// A workspace with `layer.tar.gz` and `layer.tar`: real gzip and plain tar layers taken from
/// generated images.
fn workspace_with_layer_files() -> Workspace {
    let workspace = Workspace::new();
    for (layout, compression, file) in [
        ("gz", Compression::Gzip, "layer.tar.gz"),
        ("plain", Compression::Uncompressed, "layer.tar"),
    ] {
        let image = workspace.image_from(
            layout,
            "t",
            &ImageSpec::new(4)
                .with_layers(1, 6_000)
                .with_compression(compression),
        );
        let blob = workspace.layout(layout).blob_path(&image.layers[0].digest);
        fs::copy(&blob, workspace.path(file))
            .unwrap_or_else(|error| panic!("copying a layer to {file}: {error}"));
    }
    workspace
}

#[test]
fn inspect_gives_skopeos_manifest_config_and_summary() {
    let workspace = workspace_with_layer_files();
    for name in [
        "tarball:layer.tar.gz",
        "tarball:layer.tar",
        "tarball:layer.tar:layer.tar.gz",
    ] {
        workspace
            .run_both(&["inspect", "--raw", name])
            .assert_same_stdout();
        workspace
            .run_both(&["inspect", "--config", "--raw", name])
            .assert_same_stdout();
        workspace
            .run_both(&["inspect", "--config", name])
            .assert_same_stdout();
        workspace
            .run_both(&["inspect", name])
            .assert_same_inspect_json();
    }
}

#[test]
fn copies_give_the_same_trees_as_skopeo() {
    let workspace = workspace_with_layer_files();
    workspace
        .run_both(&[
            "copy",
            "-q",
            "tarball:layer.tar.gz",
            &format!("oci:oci-{WHO}:t"),
        ])
        .assert_both_succeed();
    assert_same_tree(&workspace.path("oci-skopos"), &workspace.path("oci-skopeo"));
    // dir: keeps the uncompressed layer as it is, so its bytes can be compared too.
    workspace
        .run_both(&[
            "copy",
            "-q",
            "tarball:layer.tar:layer.tar.gz",
            &format!("dir:dir-{WHO}"),
        ])
        .assert_both_succeed();
    assert_same_tree(&workspace.path("dir-skopos"), &workspace.path("dir-skopeo"));
}

#[test]
fn tarball_is_read_only_and_a_corrupt_gzip_file_is_one_error() {
    let workspace = workspace_with_layer_files();
    workspace.image("src", "t", 1);
    let pair = workspace.run_both(&["copy", "-q", "oci:src:t", "tarball:layer.tar"]);
    assert_one_line_failure(&pair.skopos, Some(1));
    assert_eq!(
        skopeo_message(&pair.skopos.stderr),
        skopeo_message(&pair.skopeo.stderr)
    );

    let mut gzip = fs::read(workspace.path("layer.tar.gz")).unwrap();
    gzip.truncate(gzip.len() / 2);
    fs::write(workspace.path("cut.tar.gz"), gzip).unwrap();
    let pair = workspace.run_both(&["inspect", "--raw", "tarball:cut.tar.gz"]);
    assert_one_line_failure(&pair.skopos, Some(1));
    assert_eq!(pair.skopeo.code, Some(1));
    assert_eq!(
        skopeo_message(&pair.skopos.stderr),
        skopeo_message(&pair.skopeo.stderr)
    );
}

#[test]
fn a_dash_reads_the_layer_from_standard_input() {
    let workspace = workspace_with_layer_files();
    let home = workspace.path("home-skopos");
    let output = Command::new(env!("CARGO_BIN_EXE_skopos"))
        .args(["--insecure-policy", "inspect", "--raw", "tarball:-"])
        .current_dir(workspace.path(""))
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .stdin(File::open(workspace.path("layer.tar.gz")).expect("opening layer.tar.gz"))
        .output()
        .expect("running skopos");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The same layer as when the file is named: the manifest differs only in the config
    // (dated now instead of with the file's time).
    let named = workspace.skopos(&["inspect", "--raw", "tarball:layer.tar.gz"]);
    named.assert_success();
    let from_stdin = parse_json(&output.stdout);
    assert_eq!(
        from_stdin["layers"],
        parse_json(&named.stdout_bytes)["layers"]
    );
}
