//! `inspect` on generated OCI layouts: every output mode must be byte-identical to skopeo's.

mod common;

use common::Workspace;

/// A workspace with a single-platform image at `oci:single:t` and a three-platform index at
/// `oci:multi:m`.
fn workspace_with_images() -> Workspace {
    let workspace = Workspace::new();
    workspace.image("single", "t", 1);
    workspace.multi_arch("multi", "m");
    workspace
}

#[test]
fn inspect_default_json_matches_skopeo() {
    let workspace = workspace_with_images();
    workspace
        .run_both(&["inspect", "oci:single:t"])
        .assert_same_stdout();
}

#[test]
fn inspect_default_json_of_multi_arch_index_matches_skopeo_and_shows_the_index_digest() {
    let workspace = Workspace::new();
    let index = workspace.multi_arch("multi", "m");
    let pair = workspace.run_both(&[
        "--override-arch",
        "arm64",
        "--override-variant",
        "v8",
        "inspect",
        "oci:multi:m",
    ]);
    pair.assert_same_stdout();
    let inspected = common::parse_json(&pair.skopos.stdout_bytes);
    assert_eq!(inspected["Digest"], index.index.digest.as_str());
    assert_eq!(inspected["Architecture"], "arm64");
}

#[test]
fn inspect_raw_matches_skopeo_for_a_manifest_and_an_index() {
    let workspace = workspace_with_images();
    for reference in ["oci:single:t", "oci:multi:m"] {
        let pair = workspace.run_both(&["inspect", "--raw", reference]);
        pair.assert_same_stdout();
    }
}

#[test]
fn inspect_raw_prints_the_manifest_bytes_verbatim() {
    let workspace = Workspace::new();
    let image = workspace.image("single", "t", 1);
    let outcome = workspace.skopos(&["--insecure-policy", "inspect", "--raw", "oci:single:t"]);
    outcome.assert_success();
    let manifest = common::read(&workspace.layout("single").blob_path(&image.manifest.digest));
    assert!(
        outcome.stdout_bytes == manifest,
        "`inspect --raw` printed {:?}, not the manifest blob {:?}",
        outcome.stdout,
        String::from_utf8_lossy(&manifest)
    );
}

#[test]
fn inspect_config_matches_skopeo() {
    let workspace = workspace_with_images();
    workspace
        .run_both(&["inspect", "--config", "oci:single:t"])
        .assert_same_stdout();
    workspace
        .run_both(&[
            "--override-arch",
            "s390x",
            "inspect",
            "--config",
            "oci:multi:m",
        ])
        .assert_same_stdout();
}

#[test]
fn inspect_config_raw_matches_skopeo() {
    let workspace = workspace_with_images();
    workspace
        .run_both(&["inspect", "--config", "--raw", "oci:single:t"])
        .assert_same_stdout();
    workspace
        .run_both(&[
            "--override-arch",
            "arm64",
            "--override-variant",
            "v8",
            "inspect",
            "--config",
            "--raw",
            "oci:multi:m",
        ])
        .assert_same_stdout();
}

// skopeo 1.9.3 has no `json` template function (newer releases do), so templates stick to
// what both understand; the bare `json` format is special-cased by both.
#[test]
fn inspect_format_templates_match_skopeo() {
    let workspace = workspace_with_images();
    for template in [
        "{{.Digest}}",
        "{{.Architecture}}/{{.Os}} has {{len .Layers}} layers",
        "{{range .Env}}{{.}}\\n{{end}}",
        "{{index .Labels \"org.example.markup\"}}",
        "json",
    ] {
        workspace
            .run_both(&["inspect", "--format", template, "oci:single:t"])
            .assert_same_stdout();
    }
}

#[test]
fn inspect_config_format_template_matches_skopeo() {
    let workspace = workspace_with_images();
    workspace
        .run_both(&[
            "inspect",
            "--config",
            "--format",
            "{{.Architecture}} {{.RootFS.Type}} {{len .RootFS.DiffIDs}}",
            "oci:single:t",
        ])
        .assert_same_stdout();
}

#[test]
fn inspect_format_created_time_matches_go_time_formatting() {
    let workspace = workspace_with_images();
    workspace
        .run_both(&["inspect", "--format", "{{.Created}}", "oci:single:t"])
        .assert_same_stdout();
}

#[test]
fn inspect_of_uncompressed_and_label_free_image_matches_skopeo() {
    let workspace = Workspace::new();
    let spec = skopos_testimage::ImageSpec::new(5)
        .with_compression(skopos_testimage::Compression::Uncompressed)
        .with_created("2021-12-31T23:59:59Z")
        .without_history()
        .with_env(&[]);
    let mut spec = spec;
    spec.labels.clear();
    workspace.image_from("plain", "p", &spec);
    for mode in [&["inspect"][..], &["inspect", "--config"][..]] {
        let mut args = mode.to_vec();
        args.push("oci:plain:p");
        workspace.run_both(&args).assert_same_stdout();
    }
}

/// The committed example layout the README's first commands use.
fn example_layout() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
    format!("oci:{}:latest", path.display())
}

#[test]
fn readme_example_inspects_and_copies_to_dir_like_skopeo() {
    let workspace = Workspace::new();
    let example = example_layout();
    workspace
        .run_both(&["inspect", &example])
        .assert_same_stdout();
    workspace
        .run_both(&["copy", "-q", &example, "dir:example-@WHO"])
        .assert_both_succeed();
    common::assert_same_tree(
        &workspace.path("example-skopos"),
        &workspace.path("example-skopeo"),
    );
}

#[test]
fn inspect_of_an_untagged_reference_to_a_one_image_layout_matches_skopeo() {
    let workspace = Workspace::new();
    workspace.image("single", "t", 1);
    workspace
        .run_both(&["inspect", "oci:single"])
        .assert_same_stdout();
}

#[test]
fn inspect_of_an_untagged_reference_to_a_two_image_layout_fails_like_skopeo() {
    let workspace = Workspace::new();
    workspace.image("two", "a", 1);
    workspace.image("two", "b", 2);
    let pair = workspace.run_both(&["inspect", "oci:two"]);
    assert_eq!(pair.skopeo.code, Some(1), "skopeo: {:?}", pair.skopeo);
    common::assert_one_line_failure(&pair.skopos, Some(1));
    let expected = "more than one image in oci, choose an image";
    assert!(
        common::skopeo_message(&pair.skopeo.stderr).contains(expected),
        "skopeo's message changed: {}",
        pair.skopeo.stderr
    );
    assert!(
        common::skopeo_message(&pair.skopos.stderr).contains(expected),
        "skopos should say {expected:?}; said: {}",
        pair.skopos.stderr
    );
}
