//! The messages of platform choice and manifest-list copies, in skopeo 1.22.2's words
//! (containers/image 5.39 quotes the architecture and OS of "no image found", names the
//! source in "choosing an image from manifest list", and quotes the list type and reason
//! when a list cannot be converted). Checked literally, and against skopeo 1.22.2 itself
//! when `$SKOPEO_1_22` names it.

mod common;

use common::{assert_one_line_failure, skopeo_message, Workspace};
use skopos_testimage::{ImageSpec, Platform};

/// An OCI index whose only image is for a platform no machine runs (as skopeo's
/// `notmyarch` test image), tagged `t` in layout `idx`.
fn foreign_index(workspace: &Workspace) {
    workspace
        .layout("idx")
        .add_index(
            &ImageSpec::new(51).with_layers(1, 2_000),
            &[Platform::new("amigaos", "mc68000", Some("1000"))],
            Some("t"),
        )
        .unwrap_or_else(|error| panic!("writing the test index: {error}"));
}

/// Runs `args` through skopos and, when available, skopeo 1.22.2: both fail with exit 1
/// and one line whose message is `expected`.
fn assert_message(workspace: &Workspace, args: &[&str], expected: &str) {
    let skopos = workspace.skopos(args);
    assert_one_line_failure(&skopos, Some(1));
    assert_eq!(
        skopeo_message(&skopos.stderr),
        expected,
        "{}",
        skopos.command
    );
    if let Some(reference) = workspace.skopeo_1_22(
        &format!("comparing `{}` with skopeo 1.22.2", args.join(" ")),
        &[],
        args,
    ) {
        assert_eq!(reference.code, Some(1), "{}", reference.stderr);
        assert_eq!(skopeo_message(&reference.stderr), expected);
    }
}

#[test]
fn no_matching_platform_quotes_architecture_variant_and_os() {
    let workspace = Workspace::new();
    foreign_index(&workspace);
    assert_message(
        &workspace,
        &[
            "--override-arch",
            "amd64",
            "--override-os",
            "linux",
            "inspect",
            "oci:idx:t",
        ],
        r#"Error parsing manifest for image: choosing image instance: no image found in image index for architecture "amd64", variant "", OS "linux""#,
    );
    assert_message(
        &workspace,
        &[
            "--insecure-policy",
            "--override-arch",
            "arm",
            "--override-variant",
            "v7",
            "--override-os",
            "linux",
            "copy",
            "oci:idx:t",
            "dir:out",
        ],
        r#"choosing an image from manifest list oci:idx:t: no image found in image index for architecture "arm", variant "v7", OS "linux""#,
    );
}

#[test]
fn a_list_that_cannot_be_converted_names_the_type_and_the_reason_in_quotes() {
    let workspace = Workspace::new();
    foreign_index(&workspace);
    assert_message(
        &workspace,
        &[
            "--insecure-policy",
            "copy",
            "--all",
            "--preserve-digests",
            "--format",
            "v2s2",
            "oci:idx:t",
            "dir:out",
        ],
        r#"Manifest list must be converted to type "application/vnd.docker.distribution.manifest.list.v2+json" to be written to destination, but we cannot modify it: "Instructed to preserve digests""#,
    );
}

#[test]
fn a_missing_instance_of_an_image_index_is_reported_in_containers_images_words() {
    let workspace = Workspace::new();
    let index = workspace
        .layout("idx")
        .add_index(
            &ImageSpec::new(52).with_layers(1, 2_000),
            &[Platform::new("linux", "amd64", None)],
            Some("t"),
        )
        .unwrap_or_else(|error| panic!("writing the test index: {error}"));
    let instance = &index.instances[0].manifest;
    let blob = format!("idx/blobs/sha256/{}", instance.hex());
    std::fs::remove_file(workspace.path(&blob)).expect("removing the instance manifest");
    assert_message(
        &workspace,
        &[
            "--override-arch",
            "amd64",
            "--override-os",
            "linux",
            "inspect",
            "oci:idx:t",
        ],
        &format!(
            "Error parsing manifest for image: fetching target platform image selected from \
             image index: open {blob}: no such file or directory"
        ),
    );
    let copy = ["--insecure-policy", "copy", "-q", "oci:idx:t", "dir:out"];
    let determining = format!(
        "determining manifest MIME type for oci:idx:t: open {blob}: no such file or directory"
    );
    assert_message(
        &workspace,
        &copy,
        &format!("copying system image from manifest list: {determining}"),
    );
    let copy_all = [
        "--insecure-policy",
        "copy",
        "-q",
        "--all",
        "oci:idx:t",
        "dir:out",
    ];
    assert_message(
        &workspace,
        &copy_all,
        &format!("copying image 1/1 from manifest list: {determining}"),
    );
}

/// Like [`assert_message`], for messages that end in a JSON decoder's own words (Go's and
/// serde's differ): only the part before them, `expected_start`, must match.
fn assert_message_starts(workspace: &Workspace, args: &[&str], expected_start: &str) {
    let skopos = workspace.skopos(args);
    assert_one_line_failure(&skopos, Some(1));
    let message = skopeo_message(&skopos.stderr);
    assert!(message.starts_with(expected_start), "{message}");
    if let Some(reference) = workspace.skopeo_1_22(
        &format!("comparing `{}` with skopeo 1.22.2", args.join(" ")),
        &[],
        args,
    ) {
        assert_eq!(reference.code, Some(1), "{}", reference.stderr);
        let message = skopeo_message(&reference.stderr);
        assert!(message.starts_with(expected_start), "{message}");
    }
}

#[test]
fn an_index_that_does_not_parse_is_reported_with_what_was_being_done() {
    let workspace = Workspace::new();
    let index = workspace
        .layout("idx")
        .add_index(
            &ImageSpec::new(53).with_layers(1, 2_000),
            &[Platform::new("linux", "amd64", None)],
            Some("t"),
        )
        .unwrap_or_else(|error| panic!("writing the test index: {error}"));
    // A broken index that index.json names by its own digest (a mismatched one would be
    // refused before it is parsed).
    let broken = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":7}"#;
    let broken_digest = skopos_core::Digest::sha256_of(broken.as_bytes());
    std::fs::write(
        workspace.path(&format!("idx/blobs/sha256/{}", broken_digest.hex())),
        broken,
    )
    .expect("writing the broken index");
    let index_json = workspace.path("idx/index.json");
    let pointing = String::from_utf8(common::read(&index_json))
        .expect("index.json is text")
        .replace(
            &format!("sha256:{}", index.index.hex()),
            &broken_digest.to_string(),
        )
        .replace(
            &format!("\"size\":{}", index.index.size),
            &format!("\"size\":{}", broken.len()),
        );
    std::fs::write(&index_json, pointing).expect("pointing index.json at the broken index");
    let quoted = r#""{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":7}""#;
    let unmarshaling = format!("unmarshaling OCI1Index {quoted}: ");
    assert_message_starts(
        &workspace,
        &["inspect", "oci:idx:t"],
        &format!("Error parsing manifest for image: parsing OCI1 index: {unmarshaling}"),
    );
    assert_message_starts(
        &workspace,
        &["--insecure-policy", "copy", "-q", "oci:idx:t", "dir:out"],
        &format!("parsing primary manifest as list for oci:idx:t: {unmarshaling}"),
    );
    assert_message_starts(
        &workspace,
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "--all",
            "oci:idx:t",
            "dir:out",
        ],
        &format!("parsing manifest list {quoted}: {unmarshaling}"),
    );
}
