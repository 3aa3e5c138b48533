//! `copy` flags beyond the basic copies: signatures, digest preservation, uncompressed OCI
//! layers, sparse index copies, compression levels and invalid values.

mod common;

use common::{assert_one_line_failure, assert_same_tree, parse_json, read, Workspace, WHO};
use skopos_testimage::{Compression, ImageSpec};

/// A `dir:` image with one (OpenPGP-looking) signature, made by skopeo.
fn signed_dir(workspace: &Workspace) {
    workspace.image("src", "t", 7);
    workspace
        .skopeo(&["--insecure-policy", "copy", "-q", "oci:src:t", "dir:signed"])
        .assert_success();
    std::fs::write(workspace.path("signed/signature-1"), b"\xa3\x01signature").unwrap();
}

#[test]
fn copy_refuses_to_drop_signatures_the_destination_cannot_store() {
    let workspace = Workspace::new();
    signed_dir(&workspace);
    let pair = workspace.run_both(&["copy", "-q", "dir:signed", &format!("oci:out-{WHO}:t")]);
    assert_eq!(pair.skopeo.code, Some(1));
    assert_one_line_failure(&pair.skopos, Some(1));
    assert!(
        pair.skopos
            .stderr
            .contains("Can not copy signatures to oci:out-skopos:t: Pushing signatures for OCI images is not supported"),
        "{}",
        pair.skopos.stderr
    );
}

#[test]
fn copy_remove_signatures_copies_without_them_like_skopeo() {
    let workspace = Workspace::new();
    signed_dir(&workspace);
    workspace
        .run_both(&[
            "copy",
            "-q",
            "--remove-signatures",
            "dir:signed",
            &format!("oci:out-{WHO}:t"),
        ])
        .assert_both_succeed();
    assert_same_tree(&workspace.path("out-skopos"), &workspace.path("out-skopeo"));
}

#[test]
fn copy_keeps_signatures_between_dir_layouts_like_skopeo() {
    let workspace = Workspace::new();
    signed_dir(&workspace);
    workspace
        .run_both(&["copy", "-q", "dir:signed", &format!("dir:out-{WHO}")])
        .assert_both_succeed();
    assert_same_tree(&workspace.path("out-skopos"), &workspace.path("out-skopeo"));
    assert!(workspace.path("out-skopos/signature-1").exists());
}

#[test]
fn copy_preserve_digests_keeps_the_manifest_unconverted_where_a_conversion_was_due_like_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 8);
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--format",
            "v2s2",
            "oci:src:t",
            "dir:v2s2",
        ])
        .assert_success();
    // An OCI layout would get an OCI manifest, and `--format v2s2` would convert an OCI one;
    // with --preserve-digests skopeo (containers/image: "hoping for the best") writes the
    // manifest as it is, and so does skopos.
    workspace
        .run_both(&[
            "copy",
            "-q",
            "--preserve-digests",
            "dir:v2s2",
            &format!("oci:out-{WHO}:t"),
        ])
        .assert_both_succeed();
    assert_same_tree(&workspace.path("out-skopos"), &workspace.path("out-skopeo"));
    workspace
        .run_both(&[
            "copy",
            "-q",
            "--preserve-digests",
            "--format",
            "v2s2",
            "oci:src:t",
            &format!("dir:kept-{WHO}"),
        ])
        .assert_both_succeed();
    assert_same_tree(
        &workspace.path("kept-skopos"),
        &workspace.path("kept-skopeo"),
    );
}

#[test]
fn copy_preserve_digests_keeps_an_unconverted_copy_identical_to_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 9);
    workspace
        .run_both(&[
            "copy",
            "-q",
            "--preserve-digests",
            "--dest-compress-format",
            "zstd",
            "oci:src:t",
            &format!("oci:out-{WHO}:t"),
        ])
        .assert_both_succeed();
    assert_same_tree(&workspace.path("out-skopos"), &workspace.path("out-skopeo"));
}

#[test]
fn copy_dest_oci_accept_uncompressed_layers_keeps_them_uncompressed_like_skopeo() {
    let workspace = Workspace::new();
    workspace.image_from(
        "src",
        "t",
        &ImageSpec::new(10)
            .with_layers(2, 10_000)
            .with_compression(Compression::Uncompressed),
    );
    workspace
        .run_both(&[
            "copy",
            "-q",
            "--dest-oci-accept-uncompressed-layers",
            "oci:src:t",
            &format!("oci:out-{WHO}:t"),
        ])
        .assert_both_succeed();
    assert_same_tree(&workspace.path("out-skopos"), &workspace.path("out-skopeo"));
}

#[test]
fn copy_multi_arch_index_only_copies_just_the_index_like_skopeo() {
    let workspace = Workspace::new();
    workspace.multi_arch("src", "m");
    workspace
        .run_both(&[
            "copy",
            "-q",
            "--multi-arch",
            "index-only",
            "oci:src:m",
            &format!("oci:out-{WHO}:m"),
        ])
        .assert_both_succeed();
    assert_same_tree(&workspace.path("out-skopos"), &workspace.path("out-skopeo"));
}

/// The sizes of the layers of the image tagged `t` in the OCI layout `dir`.
fn layer_sizes(workspace: &Workspace, dir: &str) -> Vec<u64> {
    layer_field(workspace, dir, "size", serde_json::Value::as_u64)
}

/// The digests of the layers of the image tagged `t` in the OCI layout `dir`.
fn layer_digests(workspace: &Workspace, dir: &str) -> Vec<String> {
    layer_field(workspace, dir, "digest", |digest| {
        digest.as_str().map(str::to_string)
    })
}

/// Field `field` of each layer of the image tagged `t` in the OCI layout `dir`.
fn layer_field<T>(
    workspace: &Workspace,
    dir: &str,
    field: &str,
    convert: impl Fn(&serde_json::Value) -> Option<T>,
) -> Vec<T> {
    let index = parse_json(&read(&workspace.path(&format!("{dir}/index.json"))));
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let manifest_path = format!(
        "{dir}/blobs/sha256/{}",
        digest.trim_start_matches("sha256:")
    );
    let manifest = parse_json(&read(&workspace.path(&manifest_path)));
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| convert(&layer[field]).unwrap_or_else(|| panic!("no layer {field} in {dir}")))
        .collect()
}

#[test]
fn copy_dest_compress_level_changes_how_hard_layers_are_compressed() {
    let workspace = Workspace::new();
    workspace.image_from(
        "src",
        "t",
        &ImageSpec::new(11)
            .with_layers(1, 200_000)
            .with_compression(Compression::Uncompressed),
    );
    for level in ["1", "9"] {
        workspace
            .skopos(&[
                "--insecure-policy",
                "copy",
                "-q",
                "--dest-compress-level",
                level,
                "oci:src:t",
                &format!("oci:level{level}:t"),
            ])
            .assert_success();
    }
    let fast = layer_sizes(&workspace, "level1");
    let small = layer_sizes(&workspace, "level9");
    assert!(
        fast[0] > small[0],
        "level 1 gave {fast:?}, level 9 gave {small:?}"
    );
}

/// `--dest-compress-level` is taken as skopeo takes it: any zstd level picks one of four
/// speeds (so 12 and 19 write the same bytes), gzip takes -2 to 9, and another gzip level
/// fails in Go's words only when a layer is compressed with it, not when the layers already
/// are gzip.
#[test]
fn compression_levels_are_taken_as_skopeo_takes_them() {
    let workspace = Workspace::new();
    let uncompressed = ImageSpec::new(13)
        .with_layers(1, 100_000)
        .with_compression(Compression::Uncompressed);
    workspace.image_from("plain", "t", &uncompressed);
    workspace.image("gzipped", "t", 14);
    for (source, format, level, refused) in [
        ("plain", "zstd", "99", false),
        ("plain", "zstd", "-5", false),
        ("plain", "zstd", "12", false),
        ("plain", "zstd", "19", false),
        ("plain", "gzip", "-2", false),
        ("plain", "gzip", "-1", false),
        ("plain", "gzip", "0", false),
        ("plain", "gzip", "10", true),
        ("gzipped", "gzip", "99", false),
    ] {
        let out = format!("oci:{source}-{format}{level}-{WHO}:t");
        let source = format!("oci:{source}:t");
        let args = [
            "copy",
            "-q",
            "--dest-compress-format",
            format,
            "--dest-compress-level",
            level,
            &source,
            &out,
        ];
        let pair = workspace.run_both(&args);
        if refused {
            assert_one_line_failure(&pair.skopos, Some(1));
            let reason = format!("gzip: invalid compression level: {level}");
            for outcome in [&pair.skopos, &pair.skopeo] {
                assert!(
                    outcome.stderr.contains(&reason),
                    "{args:?}: {}",
                    outcome.stderr
                );
            }
        } else {
            pair.assert_both_succeed();
        }
    }
    for tool in ["skopos", "skopeo"] {
        assert_eq!(
            layer_digests(&workspace, &format!("plain-zstd12-{tool}")),
            layer_digests(&workspace, &format!("plain-zstd19-{tool}")),
            "{tool}: zstd levels 12 and 19"
        );
    }
}

#[test]
fn copy_rejects_invalid_flag_values_like_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 12);
    for args in [
        &["--format", "v2s3"][..],
        &["--multi-arch", "some"][..],
        &["--all", "--multi-arch", "all"][..],
        &["--dest-compress-format", "lz4"][..],
    ] {
        let mut full = vec!["copy", "-q"];
        full.extend_from_slice(args);
        let out = format!("oci:out-{WHO}:t");
        full.extend_from_slice(&["oci:src:t", &out]);
        let pair = workspace.run_both(&full);
        assert_eq!(pair.skopeo.code, Some(1), "{}", pair.skopeo.stderr);
        assert_one_line_failure(&pair.skopos, Some(1));
        assert_eq!(
            common::skopeo_message(&pair.skopos.stderr),
            common::skopeo_message(&pair.skopeo.stderr),
            "for {args:?}"
        );
    }
}

/// Flags skopeo 1.22.2 checks before copying fail with its words and write nothing; flags it
/// does not have are unknown (compared with skopeo 1.22.2 itself when `$SKOPEO_1_22` is set).
#[test]
fn flags_are_checked_or_unknown_as_in_skopeo_1_22() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 9);
    for (flags, message) in [
        (
            vec!["--dest-force-compress-format"],
            "cannot use ForceCompressionFormat with undefined default compression format",
        ),
        (
            vec!["--encrypt-layer", "0"],
            "--encrypt-layer can only be used with --encryption-key",
        ),
        (
            vec!["--strip-removed-platforms"],
            "unknown flag: --strip-removed-platforms",
        ),
        (
            vec!["--tls-details", "x.yaml"],
            "unknown flag: --tls-details",
        ),
        (
            vec!["--sign-by-sq-fingerprint", "0123456789ABCDEF"],
            "Error using --sign-by-sq-fingerprint: Sequoia-PGP support is not enabled in this build",
        ),
        (
            vec!["--remove-list-signatures"],
            "unknown flag: --remove-list-signatures",
        ),
    ] {
        let mut args = vec!["--insecure-policy", "copy", "-q"];
        args.extend(&flags);
        args.extend(["oci:src:t", "dir:out"]);
        let ours = workspace.skopos(&args);
        assert_one_line_failure(&ours, Some(1));
        assert_eq!(common::skopeo_message(&ours.stderr), message, "{flags:?}");
        assert!(
            !workspace.path("out").exists(),
            "{flags:?} wrote the destination"
        );
        // skopeo creates a dir: destination before it finds the flags wrong: its own one.
        let last = args.len() - 1;
        args[last] = "dir:out-skopeo";
        if let Some(theirs) = workspace.skopeo_1_22(
            &format!("comparing {flags:?} with skopeo 1.22.2"),
            &[],
            &args,
        ) {
            assert_eq!(common::skopeo_message(&theirs.stderr), message, "{flags:?}");
        }
    }
    // With a format to force, the copy goes ahead.
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-force-compress-format",
            "--dest-compress-format",
            "zstd",
            "oci:src:t",
            "oci:forced:t",
        ])
        .assert_success();
}

/// `--dest-compress` and `--dest-decompress` only act on `dir:` destinations: elsewhere the
/// copy warns (skopeo 1.10+) and goes ahead.
#[test]
fn dir_only_flags_warn_on_other_destinations_like_skopeo_1_22() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 9);
    for flag in ["--dest-compress", "--dest-decompress"] {
        let warning = format!("{flag} can only be used if the destination transport is 'dir'");
        let destination = format!("oci:out{flag}:t");
        let args = [
            "--insecure-policy",
            "copy",
            "-q",
            flag,
            "oci:src:t",
            &destination,
        ];
        let ours = workspace.skopos(&args);
        ours.assert_success();
        assert_eq!(common::skopeo_message(&ours.stderr), warning);
        assert!(ours.stderr.contains("level=warning"), "{}", ours.stderr);
        let into_dir = workspace.skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            flag,
            "oci:src:t",
            &format!("dir:dir{flag}"),
        ]);
        into_dir.assert_success();
        assert_eq!(into_dir.stderr, "");
        let theirs_destination = format!("oci:theirs{flag}:t");
        let theirs_args = [
            "--insecure-policy",
            "copy",
            "-q",
            flag,
            "oci:src:t",
            &theirs_destination,
        ];
        if let Some(theirs) = workspace.skopeo_1_22(
            &format!("comparing {flag} into oci: with skopeo 1.22.2"),
            &[],
            &theirs_args,
        ) {
            theirs.assert_success();
            assert_eq!(common::skopeo_message(&theirs.stderr), warning);
        }
    }
}

/// A compression only some manifest types can describe picks one that can (zstd: OCI) or
/// fails before anything is written, in containers/image 5.39's words; `xz` is not a name
/// skopeo 1.22.2 knows (its algorithm is called `Xz`).
#[test]
fn compression_formats_restrict_the_manifest_type_like_skopeo_1_22() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 9);
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--format",
            "v2s2",
            "oci:src:t",
            "dir:v2s2",
        ])
        .assert_success();
    let zstd_dir = workspace.skopos(&[
        "--insecure-policy",
        "copy",
        "-q",
        "--dest-compress-format",
        "zstd",
        "dir:v2s2",
        "dir:zstd",
    ]);
    zstd_dir.assert_success();
    // dir: takes layers as they come (no --dest-compress), but the manifest must be one
    // that could describe zstd: OCI, as skopeo 1.22.2 writes it.
    let manifest = parse_json(&read(&workspace.path("zstd/manifest.json")));
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    if let Some(theirs) = workspace.skopeo_1_22(
        "comparing --dest-compress-format zstd into dir: with skopeo 1.22.2",
        &[],
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-compress-format",
            "zstd",
            "dir:v2s2",
            "dir:zstd-skopeo",
        ],
    ) {
        theirs.assert_success();
        assert_same_tree(&workspace.path("zstd"), &workspace.path("zstd-skopeo"));
    }
    for (case, (format, destination, message)) in [
        (
            "zstd",
            "docker-archive:out.tar",
            "compression using zstd required but the destination only supports MIME types [application/vnd.docker.distribution.manifest.v2+json], none of which support it",
        ),
        (
            "bzip2",
            "oci:out:t",
            "compression using bzip2 required but the destination only supports MIME types [application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json], none of which support it",
        ),
        (
            "bzip2",
            "dir:out",
            "compression using bzip2 required, but none of the known manifest formats support it",
        ),
        ("xz", "dir:out", "cannot find compressor for \"xz\""),
        (
            "Xz",
            "dir:out",
            "compression using Xz required, but none of the known manifest formats support it",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        // skopeo creates a dir: destination before it fails: each run gets its own.
        let args = |tool: &str| {
            [
                "--insecure-policy",
                "copy",
                "-q",
                "--dest-compress-format",
                format,
                "dir:v2s2",
                &destination.replace("out", &format!("out-{case}-{tool}")),
            ]
            .map(str::to_string)
        };
        let ours_args = args("skopos");
        let ours = workspace.skopos(&ours_args.each_ref().map(String::as_str));
        assert_one_line_failure(&ours, Some(1));
        assert_eq!(common::skopeo_message(&ours.stderr), message, "{format} {destination}");
        let theirs_args = args("skopeo");
        if let Some(theirs) = workspace.skopeo_1_22(
            &format!("comparing --dest-compress-format {format} into {destination} with skopeo 1.22.2"),
            &[],
            &theirs_args.each_ref().map(String::as_str),
        ) {
            assert_eq!(common::skopeo_message(&theirs.stderr), message, "{format} {destination}");
        }
    }
}
