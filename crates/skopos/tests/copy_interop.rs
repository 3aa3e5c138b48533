//! `copy` between generated OCI layouts and `dir:`: skopos must write the same files (names and
//! bytes, hence digests) as skopeo for the same command line, print the same progress lines, and
//! write output skopeo can read back.

mod common;

use common::{assert_same_tree, parse_json, read, Workspace, WHO};
use skopos_testimage::{Compression, ImageSpec};

/// Runs `copy ARGS` through both tools (destinations named with [`WHO`]) and compares the trees
/// `dest-skopos` and `dest-skopeo` (plus any extra directories named in `also_compare`).
fn copy_and_compare(workspace: &Workspace, args: &[&str], also_compare: &[&str]) {
    let mut full = vec!["copy", "-q"];
    full.extend_from_slice(args);
    workspace.run_both(&full).assert_both_succeed();
    for name in std::iter::once("dest").chain(also_compare.iter().copied()) {
        assert_same_tree(
            &workspace.path(&format!("{name}-skopos")),
            &workspace.path(&format!("{name}-skopeo")),
        );
    }
}

fn dest(transport: &str, tag: Option<&str>) -> String {
    match tag {
        Some(tag) => format!("{transport}:dest-{WHO}:{tag}"),
        None => format!("{transport}:dest-{WHO}"),
    }
}

#[test]
fn copy_oci_to_dir_gives_the_same_tree_as_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 1);
    copy_and_compare(&workspace, &["oci:src:t", &dest("dir", None)], &[]);
}

#[test]
fn copy_oci_to_oci_gives_the_same_tree_as_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 1);
    copy_and_compare(
        &workspace,
        &["oci:src:t", &dest("oci", Some("copied"))],
        &[],
    );
}

#[test]
fn copy_oci_to_untagged_oci_gives_the_same_tree_as_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 1);
    copy_and_compare(&workspace, &["oci:src:t", &dest("oci", None)], &[]);
}

#[test]
fn copy_uncompressed_source_to_oci_compresses_like_skopeo_and_keeps_diff_ids() {
    let workspace = Workspace::new();
    let image = workspace.image_from(
        "src",
        "t",
        &ImageSpec::new(2)
            .with_layers(2, 20_000)
            .with_compression(Compression::Uncompressed),
    );
    workspace
        .run_both(&["copy", "-q", "oci:src:t", &dest("oci", Some("t"))])
        .assert_both_succeed();
    // gzip bytes depend on the compressor, so compare what the layers decompress to instead.
    let config = workspace.skopeo(&[
        "--insecure-policy",
        "inspect",
        "--config",
        "oci:dest-skopos:t",
    ]);
    config.assert_success();
    assert_eq!(
        parse_json(&config.stdout_bytes)["rootfs"]["diff_ids"],
        serde_json::json!(image.diff_ids)
    );
    let raw = workspace.skopeo(&["--insecure-policy", "inspect", "--raw", "oci:dest-skopos:t"]);
    raw.assert_success();
    for layer in parse_json(&raw.stdout_bytes)["layers"]
        .as_array()
        .into_iter()
        .flatten()
    {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
    }
}

#[test]
fn copy_format_v2s2_writes_the_same_manifest_bytes_as_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 1);
    copy_and_compare(
        &workspace,
        &["--format", "v2s2", "oci:src:t", &dest("dir", None)],
        &[],
    );
    let manifest = parse_json(&read(&workspace.path("dest-skopos/manifest.json")));
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
}

#[test]
fn copy_of_zstd_source_layers_gives_the_same_trees_as_skopeo() {
    let workspace = Workspace::new();
    workspace.image_from(
        "src",
        "t",
        &ImageSpec::new(6)
            .with_layers(2, 20_000)
            .with_compression(Compression::Zstd),
    );
    copy_and_compare(&workspace, &["oci:src:t", &dest("oci", Some("t"))], &[]);
    workspace
        .run_both(&[
            "copy",
            "-q",
            "--dest-decompress",
            "oci:src:t",
            "dir:plain-@WHO",
        ])
        .assert_both_succeed();
    assert_same_tree(
        &workspace.path("plain-skopos"),
        &workspace.path("plain-skopeo"),
    );
}

#[test]
fn copy_with_zstd_reads_back_in_skopeo_with_the_same_diff_ids() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 1);
    let copied = workspace.skopos(&[
        "--insecure-policy",
        "copy",
        "-q",
        "--dest-compress-format",
        "zstd",
        "oci:src:t",
        "oci:zstd:t",
    ]);
    copied.assert_success();
    let config = workspace.skopeo(&["--insecure-policy", "inspect", "--config", "oci:zstd:t"]);
    config.assert_success();
    assert_eq!(
        parse_json(&config.stdout_bytes)["rootfs"]["diff_ids"],
        serde_json::json!(image.diff_ids)
    );
    let raw = workspace.skopeo(&["--insecure-policy", "inspect", "--raw", "oci:zstd:t"]);
    raw.assert_success();
    let layers = parse_json(&raw.stdout_bytes)["layers"].clone();
    let layers = layers.as_array().cloned().unwrap_or_default();
    assert_eq!(layers.len(), image.layers.len());
    for layer in &layers {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
        let digest = layer["digest"].as_str().unwrap_or_default();
        let blob = read(&workspace.layout("zstd").blob_path(digest));
        assert_eq!(
            &blob[..4],
            &[0x28, 0xb5, 0x2f, 0xfd],
            "zstd magic in {digest}"
        );
    }
    // skopeo verifies every blob digest while copying, and decompressing must give the same
    // tree as decompressing the original.
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-decompress",
            "oci:zstd:t",
            "dir:from-zstd",
        ])
        .assert_success();
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-decompress",
            "oci:src:t",
            "dir:from-gzip",
        ])
        .assert_success();
    let zstd_manifest = parse_json(&read(&workspace.path("from-zstd/manifest.json")));
    let gzip_manifest = parse_json(&read(&workspace.path("from-gzip/manifest.json")));
    assert_eq!(zstd_manifest["layers"], gzip_manifest["layers"]);
}

#[test]
fn copy_all_copies_every_instance_and_keeps_the_index_digest() {
    let workspace = Workspace::new();
    let index = workspace.multi_arch("multi", "m");
    copy_and_compare(
        &workspace,
        &["--all", "oci:multi:m", &dest("oci", Some("m"))],
        &[],
    );
    let layout = workspace.layout("dest-skopos");
    let index_json = parse_json(&read(&workspace.path("dest-skopos/index.json")));
    assert_eq!(
        index_json["manifests"][0]["digest"],
        index.index.digest.as_str()
    );
    for instance in &index.instances {
        for blob in instance
            .layers
            .iter()
            .chain([&instance.config, &instance.manifest])
        {
            assert!(
                layout.blob_path(&blob.digest).is_file(),
                "instance {:?} blob {} was not copied",
                instance.platform,
                blob.digest
            );
        }
    }
}

#[test]
fn copy_all_into_dir_gives_the_same_tree_as_skopeo() {
    let workspace = Workspace::new();
    workspace.multi_arch("multi", "m");
    copy_and_compare(
        &workspace,
        &["--all", "oci:multi:m", &dest("dir", None)],
        &[],
    );
}

#[test]
fn copy_override_arch_and_variant_picks_the_same_instance_as_skopeo() {
    let workspace = Workspace::new();
    let index = workspace.multi_arch("multi", "m");
    let mut args = vec![
        "--insecure-policy",
        "--override-arch",
        "arm64",
        "--override-variant",
        "v8",
        "copy",
        "-q",
        "oci:multi:m",
    ];
    let skopeo_dest = "dir:dest-skopeo".to_string();
    let skopos_dest = "dir:dest-skopos".to_string();
    args.push(&skopeo_dest);
    workspace.skopeo(&args).assert_success();
    args.pop();
    args.push(&skopos_dest);
    workspace.skopos(&args).assert_success();
    assert_same_tree(
        &workspace.path("dest-skopos"),
        &workspace.path("dest-skopeo"),
    );
    let arm64 = &index.instances[1];
    let expected = read(&workspace.layout("multi").blob_path(&arm64.manifest.digest));
    assert_eq!(read(&workspace.path("dest-skopos/manifest.json")), expected);
}

#[test]
fn copy_digestfile_matches_skopeo_for_an_image_and_a_whole_index() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 1);
    let index = workspace.multi_arch("multi", "m");
    for (args, expected) in [
        (
            vec!["oci:src:t", "dir:dest-@WHO"],
            image.manifest.digest.clone(),
        ),
        (
            vec!["--all", "oci:multi:m", "oci:all-@WHO:m"],
            index.index.digest.clone(),
        ),
    ] {
        let mut full = vec!["copy", "-q", "--digestfile", "digest-@WHO"];
        full.extend(args);
        workspace.run_both(&full).assert_both_succeed();
        let skopos = read(&workspace.path("digest-skopos"));
        assert_eq!(skopos, read(&workspace.path("digest-skopeo")));
        assert_eq!(skopos, expected.as_bytes());
    }
}

#[test]
fn copy_dest_decompress_into_dir_gives_the_same_tree_as_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 1);
    copy_and_compare(
        &workspace,
        &["--dest-decompress", "oci:src:t", &dest("dir", None)],
        &[],
    );
}

#[test]
fn copy_dest_compress_of_gzip_layers_into_dir_gives_the_same_tree_as_skopeo() {
    // Already-compressed layers are kept as they are, so the trees must be identical.
    let workspace = Workspace::new();
    workspace.image("src", "t", 1);
    copy_and_compare(
        &workspace,
        &["--dest-compress", "oci:src:t", &dest("dir", None)],
        &[],
    );
}

#[test]
fn copy_dest_compress_of_uncompressed_layers_into_dir_round_trips_like_skopeo() {
    // gzip output bytes depend on the compressor, so decompress both results with skopeo and
    // compare those trees.
    let workspace = Workspace::new();
    workspace.image_from(
        "src",
        "t",
        &ImageSpec::new(4)
            .with_layers(2, 20_000)
            .with_compression(Compression::Uncompressed),
    );
    workspace
        .run_both(&["copy", "-q", "--dest-compress", "oci:src:t", "dir:gz-@WHO"])
        .assert_both_succeed();
    let raw = parse_json(&read(&workspace.path("gz-skopos/manifest.json")));
    for layer in raw["layers"].as_array().into_iter().flatten() {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
    }
    for tool in ["skopos", "skopeo"] {
        workspace
            .skopeo(&[
                "--insecure-policy",
                "copy",
                "-q",
                "--dest-decompress",
                &format!("dir:gz-{tool}"),
                &format!("dir:plain-{tool}"),
            ])
            .assert_success();
    }
    assert_same_tree(
        &workspace.path("plain-skopos"),
        &workspace.path("plain-skopeo"),
    );
}

#[test]
fn copy_with_dest_shared_blob_dir_gives_the_same_trees_as_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 1);
    copy_and_compare(
        &workspace,
        &[
            "--dest-shared-blob-dir",
            "shared-@WHO",
            "oci:src:t",
            &dest("oci", Some("t")),
        ],
        &["shared"],
    );
}

#[test]
fn copy_with_src_shared_blob_dir_gives_the_same_tree_as_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 1);
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-shared-blob-dir",
            "shared",
            "oci:src:t",
            "oci:thin:t",
        ])
        .assert_success();
    copy_and_compare(
        &workspace,
        &[
            "--src-shared-blob-dir",
            "shared",
            "oci:thin:t",
            &dest("dir", None),
        ],
        &[],
    );
}

#[test]
fn copy_two_images_to_the_same_oci_tag_replaces_the_entry_like_skopeo() {
    let workspace = Workspace::new();
    workspace.image("first", "t", 1);
    workspace.image("second", "t", 2);
    for source in ["oci:first:t", "oci:second:t"] {
        workspace
            .run_both(&["copy", "-q", source, "oci:dest-@WHO:shared"])
            .assert_both_succeed();
    }
    workspace
        .run_both(&["copy", "-q", "oci:first:t", "oci:dest-@WHO:other"])
        .assert_both_succeed();
    assert_same_tree(
        &workspace.path("dest-skopos"),
        &workspace.path("dest-skopeo"),
    );
}

#[test]
fn copy_into_existing_dir_replaces_it_like_skopeo() {
    let workspace = Workspace::new();
    workspace.image("first", "t", 1);
    workspace.image("second", "t", 2);
    for source in ["oci:first:t", "oci:second:t"] {
        workspace
            .run_both(&["copy", "-q", source, "dir:dest-@WHO"])
            .assert_both_succeed();
    }
    assert_same_tree(
        &workspace.path("dest-skopos"),
        &workspace.path("dest-skopeo"),
    );
}

/// Progress output with each run of consecutive `Copying blob` lines sorted, because blobs are
/// copied in parallel and may be reported in any order.
fn normalized_progress(stdout: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut blob_run: Vec<String> = Vec::new();
    for line in stdout.lines() {
        if line.starts_with("Copying blob ") {
            blob_run.push(line.to_string());
            continue;
        }
        blob_run.sort();
        lines.append(&mut blob_run);
        lines.push(line.to_string());
    }
    blob_run.sort();
    lines.append(&mut blob_run);
    lines
}

fn assert_same_progress(args: &[&str], workspace: &Workspace) {
    let pair = workspace.run_both(args);
    pair.assert_both_succeed();
    assert!(
        pair.skopeo.stdout.contains("Writing manifest"),
        "skopeo printed no progress: {:?}",
        pair.skopeo.stdout
    );
    assert_eq!(
        normalized_progress(&pair.skopos.stdout),
        normalized_progress(&common::progress_as_skopeo_1_22(&pair.skopeo.stdout)),
        "progress lines of `{}` differ from skopeo's",
        pair.skopos.command
    );
}

#[test]
fn copy_progress_lines_match_skopeo_when_stdout_is_not_a_terminal() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 1);
    assert_same_progress(&["copy", "oci:src:t", "oci:dest-@WHO:t"], &workspace);
    // Again into the same layout: the blobs already exist there.
    assert_same_progress(&["copy", "oci:src:t", "oci:dest-@WHO:t"], &workspace);
    assert_same_progress(&["copy", "oci:src:t", "dir:dir-@WHO"], &workspace);
}

#[test]
fn copy_progress_lines_of_a_list_copy_match_skopeo() {
    let workspace = Workspace::new();
    workspace.multi_arch("multi", "m");
    let args = ["copy", "--all", "oci:multi:m", "oci:dest-@WHO:m"];
    assert_same_progress(&args, &workspace);
    // Again: every instance and blob is already there.
    assert_same_progress(&args, &workspace);
}

#[test]
fn copy_progress_lines_of_a_single_instance_from_a_list_match_skopeo() {
    let workspace = Workspace::new();
    workspace.multi_arch("multi", "m");
    assert_same_progress(&["copy", "oci:multi:m", "dir:dest-@WHO"], &workspace);
}

#[test]
fn copy_progress_lines_of_converting_and_decompressing_copies_match_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 1);
    assert_same_progress(
        &["copy", "--format", "v2s2", "oci:src:t", "dir:dest-@WHO"],
        &workspace,
    );
    assert_same_progress(
        &["copy", "--dest-decompress", "oci:src:t", "dir:plain-@WHO"],
        &workspace,
    );
}

#[test]
fn copy_quiet_prints_nothing_on_stdout() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 1);
    let outcome = workspace.skopos(&["--insecure-policy", "copy", "-q", "oci:src:t", "dir:out"]);
    outcome.assert_success();
    assert_eq!(outcome.stdout, "");
}
