//! Broken source layouts: every failure is one line on stderr, a non-zero exit, no panic, and
//! an existing destination keeps its bytes.

mod common;

use common::{assert_one_line_failure, snapshot, tree_differences, Workspace};
use skopos_testimage::{OciLayout, WrittenImage};

/// How a test breaks the source layout.
type Breakage = fn(&OciLayout, &WrittenImage) -> std::io::Result<()>;

fn truncate_a_layer(layout: &OciLayout, image: &WrittenImage) -> std::io::Result<()> {
    layout.truncate_blob(&image.layers[1].digest, image.layers[1].size / 2)
}

fn flip_a_byte_of_a_layer(layout: &OciLayout, image: &WrittenImage) -> std::io::Result<()> {
    layout.flip_byte(&image.layers[1].digest, 100)
}

fn break_index_json(layout: &OciLayout, _image: &WrittenImage) -> std::io::Result<()> {
    layout.break_index_json()
}

fn delete_a_layer(layout: &OciLayout, image: &WrittenImage) -> std::io::Result<()> {
    layout.delete_blob(&image.layers[2].digest)
}

fn truncate_the_config(layout: &OciLayout, image: &WrittenImage) -> std::io::Result<()> {
    layout.truncate_blob(&image.config.digest, 10)
}

fn delete_the_manifest(layout: &OciLayout, image: &WrittenImage) -> std::io::Result<()> {
    layout.delete_blob(&image.manifest.digest)
}

const BREAKAGES: [(&str, Breakage); 6] = [
    ("truncated layer blob", truncate_a_layer),
    (
        "layer blob whose digest does not match",
        flip_a_byte_of_a_layer,
    ),
    ("index.json that is not JSON", break_index_json),
    ("manifest naming a missing layer blob", delete_a_layer),
    ("truncated config blob", truncate_the_config),
    (
        "index.json naming a missing manifest blob",
        delete_the_manifest,
    ),
];

/// A workspace with a broken source `oci:bad:t` and a valid image at `oci:good:t`.
fn broken_source(breakage: Breakage) -> Workspace {
    let workspace = Workspace::new();
    workspace.image("good", "t", 2);
    let image = workspace.image("bad", "t", 1);
    breakage(&workspace.layout("bad"), &image)
        .unwrap_or_else(|error| panic!("breaking the source layout: {error}"));
    workspace
}

/// Copies `oci:bad:t` into `dest` (first filled from `oci:good:t` by skopeo, so the setup does
/// not depend on the code under test) and checks the failure shape and that the destination
/// directory did not change.
fn assert_failed_copy_leaves_destination_alone(what: &str, breakage: Breakage, dest: &str) {
    let workspace = broken_source(breakage);
    let dest_dir = dest
        .split(':')
        .nth(1)
        .unwrap_or_else(|| panic!("destination {dest} has no path"));
    workspace
        .skopeo(&["--insecure-policy", "copy", "-q", "oci:good:t", dest])
        .assert_success();
    let before = snapshot(&workspace.path(dest_dir));
    let outcome = workspace.skopos(&["--insecure-policy", "copy", "-q", "oci:bad:t", dest]);
    assert_one_line_failure(&outcome, None);
    let changes = tree_differences(
        &snapshot(&workspace.path(dest_dir)),
        &before,
        "after",
        "before",
    );
    assert!(
        changes.is_empty(),
        "copying a source with a {what} changed the existing destination {dest}:\n{}",
        changes.join("\n")
    );
}

#[test]
fn broken_sources_fail_cleanly_and_leave_an_existing_oci_destination_unchanged() {
    for (what, breakage) in BREAKAGES {
        assert_failed_copy_leaves_destination_alone(what, breakage, "oci:dest:t");
    }
}

#[test]
fn broken_sources_fail_cleanly_and_leave_another_tag_in_the_oci_destination_unchanged() {
    for (what, breakage) in BREAKAGES {
        assert_failed_copy_leaves_destination_alone(what, breakage, "oci:dest:other");
    }
}

#[test]
fn broken_sources_fail_cleanly_and_leave_an_existing_dir_destination_unchanged() {
    for (what, breakage) in BREAKAGES {
        assert_failed_copy_leaves_destination_alone(what, breakage, "dir:dest");
    }
}

#[test]
fn broken_sources_fail_cleanly_without_creating_a_new_oci_destination_tag() {
    for (what, breakage) in BREAKAGES {
        let workspace = broken_source(breakage);
        let outcome = workspace.skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "oci:bad:t",
            "oci:fresh:t",
        ]);
        assert_one_line_failure(&outcome, None);
        let index = workspace.path("fresh/index.json");
        if index.exists() {
            let entries = common::parse_json(&common::read(&index));
            assert_eq!(
                entries["manifests"].as_array().map(Vec::len).unwrap_or(0),
                0,
                "a failed copy of a source with a {what} still tagged the destination"
            );
        }
    }
}

#[test]
fn broken_sources_fail_in_skopeo_too() {
    // Guards the test data: each breakage must really be an error for the reference tool.
    for (what, breakage) in BREAKAGES {
        let workspace = broken_source(breakage);
        let outcome =
            workspace.skopeo(&["--insecure-policy", "copy", "-q", "oci:bad:t", "dir:out"]);
        assert_eq!(
            outcome.code,
            Some(1),
            "skopeo copied a source with a {what}"
        );
    }
}

#[test]
fn inspect_of_a_layout_whose_index_json_is_not_json_fails_cleanly() {
    let workspace = broken_source(break_index_json);
    for args in [
        &["--insecure-policy", "inspect", "oci:bad:t"][..],
        &["--insecure-policy", "inspect", "--raw", "oci:bad:t"][..],
    ] {
        let outcome = workspace.skopos(args);
        assert_one_line_failure(&outcome, Some(1));
        assert!(
            outcome.stderr.contains("index.json") || outcome.stderr.contains("oci:bad:t"),
            "the error should say what could not be read: {}",
            outcome.stderr
        );
    }
}

#[test]
fn inspect_config_of_an_image_whose_config_blob_is_missing_fails_cleanly() {
    let workspace = Workspace::new();
    let image = workspace.image("bad", "t", 1);
    workspace
        .layout("bad")
        .delete_blob(&image.config.digest)
        .unwrap_or_else(|error| panic!("deleting the config blob: {error}"));
    let outcome = workspace.skopos(&["--insecure-policy", "inspect", "--config", "oci:bad:t"]);
    assert_one_line_failure(&outcome, None);
    let reference = workspace.skopeo(&["--insecure-policy", "inspect", "--config", "oci:bad:t"]);
    assert_eq!(reference.code, outcome.code, "skopeo: {}", reference.stderr);
}

#[test]
fn inspect_of_a_layout_without_index_json_fails_cleanly() {
    let workspace = Workspace::new();
    common::create_dir(&workspace.path("empty"));
    let outcome = workspace.skopos(&["--insecure-policy", "inspect", "oci:empty:t"]);
    assert_one_line_failure(&outcome, None);
}
