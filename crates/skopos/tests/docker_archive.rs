//! `docker-archive:`: skopos must write the same `docker save` tar as skopeo (byte for byte),
//! read what skopeo and podman write (plain, compressed, streamed, several images) with
//! skopeo's results, and refuse broken or hostile archives with one clear line.

mod common;

use std::fs;
use std::process::{Command, Stdio};

use common::{
    assert_one_line_failure, assert_same_tree, parse_json, read, skopeo_message, Outcome,
    Workspace, WHO,
};
use skopos_testimage::ImageSpec;

/// A three-layer gzip image `oci:src:t`.
fn source_image(workspace: &Workspace) -> skopos_testimage::WrittenImage {
    workspace.image("src", "t", 1)
}

/// skopeo writes `oci:src:t` as `docker-archive:NAME[:TAG]`.
fn skopeo_archive(workspace: &Workspace, name: &str, tag: Option<&str>) {
    let destination = match tag {
        Some(tag) => format!("docker-archive:{name}:{tag}"),
        None => format!("docker-archive:{name}"),
    };
    workspace
        .skopeo(&["--insecure-policy", "copy", "-q", "oci:src:t", &destination])
        .assert_success();
}

/// Runs a helper program (tar, gzip, podman) in the work area.
fn run_tool(workspace: &Workspace, program: &str, args: &[&str]) -> Outcome {
    let output = Command::new(program)
        .args(args)
        .current_dir(workspace.path(""))
        .env("TMPDIR", workspace.path(""))
        .output()
        .unwrap_or_else(|error| panic!("starting {program}: {error}"));
    Outcome {
        command: format!("{program} {}", args.join(" ")),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout_bytes: output.stdout,
    }
}

/// Runs skopos with `input` piped into its standard input (a pipe, not a file).
fn skopos_with_stdin(workspace: &Workspace, args: &[&str], input: Vec<u8>) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_skopos"))
        .args(args)
        .current_dir(workspace.path(""))
        .env("HOME", workspace.path("home-skopos"))
        // The blob-info cache in the temp dir, not in /var/lib/containers (see common).
        .env("_CONTAINERS_ROOTLESS_UID", "1000")
        .env("XDG_DATA_HOME", workspace.path("home-skopos/data"))
        .env("TMPDIR", workspace.path(""))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting skopos");
    let mut stdin = child.stdin.take().expect("skopos's stdin");
    let writer = std::thread::spawn(move || {
        // skopos may stop reading early on a broken archive; that is not a test failure.
        let _ = std::io::Write::write_all(&mut stdin, &input);
    });
    let output = child.wait_with_output().expect("waiting for skopos");
    writer.join().expect("the stdin writer thread");
    Outcome {
        command: format!("skopos {} < pipe", args.join(" ")),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout_bytes: output.stdout,
    }
}

/// Asserts that both tools wrote byte-identical files `dest-skopos.tar` / `dest-skopeo.tar`.
fn assert_same_archive(workspace: &Workspace) {
    let ours = read(&workspace.path("dest-skopos.tar"));
    let theirs = read(&workspace.path("dest-skopeo.tar"));
    if ours != theirs {
        // Show what differs, unpacked.
        for tool in ["skopos", "skopeo"] {
            let dir = format!("unpacked-{tool}");
            common::create_dir(&workspace.path(&dir));
            run_tool(
                workspace,
                "tar",
                &["-xf", &format!("dest-{tool}.tar"), "-C", &dir],
            )
            .assert_success();
        }
        assert_same_tree(
            &workspace.path("unpacked-skopos"),
            &workspace.path("unpacked-skopeo"),
        );
        panic!("the archives unpack to the same tree but differ in their tar bytes");
    }
}

#[test]
fn a_tagged_archive_is_byte_for_byte_skopeos() {
    let workspace = Workspace::new();
    source_image(&workspace);
    workspace
        .run_both(&[
            "copy",
            "-q",
            "oci:src:t",
            &format!("docker-archive:dest-{WHO}.tar:foo/bar:v1"),
        ])
        .assert_both_succeed();
    assert_same_archive(&workspace);
}

#[test]
fn an_untagged_archive_with_additional_tags_is_byte_for_byte_skopeos() {
    let workspace = Workspace::new();
    source_image(&workspace);
    workspace
        .run_both(&[
            "copy",
            "-q",
            "--additional-tag",
            "extra/name:one",
            "--additional-tag",
            "quay.io/x/y:two",
            "oci:src:t",
            &format!("docker-archive:dest-{WHO}.tar"),
        ])
        .assert_both_succeed();
    assert_same_archive(&workspace);
    let manifest = read_member(&workspace, "dest-skopos.tar", "manifest.json");
    assert_eq!(
        parse_json(&manifest)[0]["RepoTags"],
        serde_json::json!(["docker.io/extra/name:one", "quay.io/x/y:two"])
    );
}

#[test]
fn the_platform_instance_of_a_list_is_written_like_skopeo() {
    let workspace = Workspace::new();
    workspace.multi_arch("src", "m");
    workspace
        .run_both(&[
            "--override-arch",
            "arm64",
            "copy",
            "-q",
            "oci:src:m",
            &format!("docker-archive:dest-{WHO}.tar:multi/arch:arm"),
        ])
        .assert_both_succeed();
    assert_same_archive(&workspace);
}

#[test]
fn uncompressed_layers_are_written_like_skopeo() {
    let workspace = Workspace::new();
    workspace.image_from(
        "src",
        "t",
        &ImageSpec::new(4)
            .with_layers(2, 10_000)
            .with_compression(skopos_testimage::Compression::Uncompressed),
    );
    workspace
        .run_both(&[
            "copy",
            "-q",
            "oci:src:t",
            &format!("docker-archive:dest-{WHO}.tar:c/d:e"),
        ])
        .assert_both_succeed();
    assert_same_archive(&workspace);
}

#[test]
fn zstd_layers_are_refused_as_in_skopeo() {
    let workspace = Workspace::new();
    workspace.image_from(
        "src",
        "t",
        &ImageSpec::new(4)
            .with_layers(2, 10_000)
            .with_compression(skopos_testimage::Compression::Zstd),
    );
    let pair = workspace.run_both(&[
        "copy",
        "-q",
        "oci:src:t",
        &format!("docker-archive:dest-{WHO}.tar"),
    ]);
    assert_one_line_failure(&pair.skopos, Some(1));
    assert_eq!(
        skopeo_message(&pair.skopos.stderr),
        skopeo_message(&pair.skopeo.stderr)
    );
    assert!(!workspace.path("dest-skopos.tar").exists());
}

#[test]
fn copying_all_images_of_a_list_fails_as_in_skopeo() {
    let workspace = Workspace::new();
    workspace.multi_arch("src", "m");
    let pair = workspace.run_both(&[
        "copy",
        "--all",
        "oci:src:m",
        &format!("docker-archive:dest-{WHO}.tar"),
    ]);
    assert_one_line_failure(&pair.skopos, Some(1));
    assert_eq!(
        skopeo_message(&pair.skopos.stderr),
        skopeo_message(&pair.skopeo.stderr)
    );
    assert_eq!(pair.skopos.stdout, pair.skopeo.stdout);
    assert!(!workspace.path("dest-skopos.tar").exists());
}

#[test]
fn an_existing_archive_is_refused_and_left_alone() {
    let workspace = Workspace::new();
    source_image(&workspace);
    for tool in ["skopos", "skopeo"] {
        fs::write(workspace.path(&format!("dest-{tool}.tar")), b"precious").unwrap();
    }
    let pair = workspace.run_both(&[
        "copy",
        "oci:src:t",
        &format!("docker-archive:dest-{WHO}.tar"),
    ]);
    assert_one_line_failure(&pair.skopos, Some(1));
    assert_eq!(
        skopeo_message(&pair.skopos.stderr).replace("dest-skopos", "dest-skopeo"),
        skopeo_message(&pair.skopeo.stderr)
    );
    assert_eq!(read(&workspace.path("dest-skopos.tar")), b"precious");
}

#[test]
fn an_empty_existing_file_is_written() {
    let workspace = Workspace::new();
    source_image(&workspace);
    for tool in ["skopos", "skopeo"] {
        fs::write(workspace.path(&format!("dest-{tool}.tar")), b"").unwrap();
    }
    workspace
        .run_both(&[
            "copy",
            "-q",
            "oci:src:t",
            &format!("docker-archive:dest-{WHO}.tar:a/b:c"),
        ])
        .assert_both_succeed();
    assert_same_archive(&workspace);
}

#[test]
fn a_failed_copy_leaves_no_archive_and_no_temporary_file() {
    let workspace = Workspace::new();
    let image = source_image(&workspace);
    workspace
        .layout("src")
        .flip_byte(&image.layers[2].digest, 10)
        .unwrap();
    let outcome = workspace.skopos(&[
        "--insecure-policy",
        "copy",
        "oci:src:t",
        "docker-archive:out/dest.tar",
    ]);
    // The parent directory does not exist: skopeo's open error.
    assert_one_line_failure(&outcome, Some(1));
    assert!(
        skopeo_message(&outcome.stderr).contains(
            "opening file \"out/dest.tar\": open out/dest.tar: no such file or directory"
        ),
        "{}",
        outcome.stderr
    );
    common::create_dir(&workspace.path("out"));
    let outcome = workspace.skopos(&[
        "--insecure-policy",
        "copy",
        "oci:src:t",
        "docker-archive:out/dest.tar",
    ]);
    assert_one_line_failure(&outcome, Some(1));
    assert_eq!(
        fs::read_dir(workspace.path("out")).unwrap().count(),
        0,
        "something was left in out/"
    );
}

#[test]
fn skopeo_and_podman_read_what_skopos_writes() {
    let workspace = Workspace::new();
    let image = source_image(&workspace);
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "oci:src:t",
            "docker-archive:ours.tar:example.com/ours/img:v1",
        ])
        .assert_success();
    let config = workspace.skopeo(&[
        "--insecure-policy",
        "inspect",
        "--config",
        "docker-archive:ours.tar",
    ]);
    config.assert_success();
    assert_eq!(
        parse_json(&config.stdout_bytes)["rootfs"]["diff_ids"],
        serde_json::json!(image.diff_ids)
    );
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "docker-archive:ours.tar",
            "oci:back:t",
        ])
        .assert_success();

    let podman = |args: &[&str]| {
        let root = workspace.path("podman");
        let mut full: Vec<String> = [
            "--events-backend",
            "none",
            "--storage-driver",
            "vfs",
            "--root",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        full.push(root.join("root").display().to_string());
        full.push("--runroot".into());
        full.push(root.join("run").display().to_string());
        full.push("--tmpdir".into());
        full.push(root.join("tmp").display().to_string());
        full.extend(args.iter().map(|s| s.to_string()));
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        let outcome = run_tool(&workspace, "podman", &full);
        outcome.assert_success();
        outcome
    };
    podman(&["load", "-i", "ours.tar"]);
    let images = podman(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images.stdout.trim(), "example.com/ours/img:v1");
    let inspected = podman(&["image", "inspect", "example.com/ours/img:v1"]);
    assert_eq!(
        parse_json(&inspected.stdout_bytes)[0]["RootFS"]["Layers"],
        serde_json::json!(image.diff_ids)
    );
}

/// `inspect`, `inspect --raw`, `inspect --config` and `copy` to `dir:` of `reference`
/// through both tools: the same output, the same tree.
fn assert_reads_like_skopeo(workspace: &Workspace, reference: &str) {
    workspace
        .run_both(&["inspect", reference])
        .assert_same_inspect_json();
    for flag in ["--raw", "--config"] {
        workspace
            .run_both(&["inspect", flag, reference])
            .assert_same_stdout();
    }
    let dest = format!("dir:dest-{WHO}");
    workspace
        .run_both(&["copy", "-q", reference, &dest])
        .assert_both_succeed();
    assert_same_tree(
        &workspace.path("dest-skopos"),
        &workspace.path("dest-skopeo"),
    );
    for tool in ["skopos", "skopeo"] {
        fs::remove_dir_all(workspace.path(&format!("dest-{tool}"))).unwrap();
    }
}

#[test]
fn an_archive_skopeo_wrote_reads_like_skopeo() {
    let workspace = Workspace::new();
    source_image(&workspace);
    skopeo_archive(&workspace, "theirs.tar", Some("foo/bar:v1"));
    for reference in [
        "docker-archive:theirs.tar",
        "docker-archive:theirs.tar:foo/bar:v1",
        "docker-archive:theirs.tar:@0",
    ] {
        assert_reads_like_skopeo(&workspace, reference);
    }
    workspace
        .run_both(&["list-tags", "docker-archive:theirs.tar"])
        .assert_same_stdout();
    // To oci: the layers are compressed again (the gzip bytes depend on the compressor),
    // so compare configs: the same image.
    workspace
        .run_both(&[
            "copy",
            "-q",
            "docker-archive:theirs.tar",
            &format!("oci:oci-{WHO}:t"),
        ])
        .assert_both_succeed();
    let configs: Vec<Vec<u8>> = ["skopos", "skopeo"]
        .iter()
        .map(|tool| {
            workspace
                .skopeo(&[
                    "--insecure-policy",
                    "inspect",
                    "--config",
                    &format!("oci:oci-{tool}:t"),
                ])
                .stdout_bytes
        })
        .collect();
    assert_eq!(configs[0], configs[1]);
}

#[test]
fn selection_errors_are_skopeos() {
    let workspace = Workspace::new();
    source_image(&workspace);
    skopeo_archive(&workspace, "theirs.tar", Some("foo/bar:v1"));
    for reference in [
        "docker-archive:theirs.tar:foo/bar:other",
        "docker-archive:theirs.tar:@1",
        "docker-archive:missing.tar",
    ] {
        let pair = workspace.run_both(&["inspect", reference]);
        assert_one_line_failure(&pair.skopos, pair.skopeo.code);
        assert_eq!(
            skopeo_message(&pair.skopos.stderr),
            skopeo_message(&pair.skopeo.stderr),
            "{reference}"
        );
    }
}

/// What skopeo prints for `inspect --raw` and `inspect --config` of `reference`.
fn skopeo_raw_and_config(workspace: &Workspace, reference: &str) -> Vec<Vec<u8>> {
    ["--raw", "--config"]
        .iter()
        .map(|flag| {
            let outcome = workspace.skopeo(&["--insecure-policy", "inspect", flag, reference]);
            outcome.assert_success();
            outcome.stdout_bytes
        })
        .collect()
}

#[test]
fn compressed_archives_and_streams_read_like_skopeo() {
    let workspace = Workspace::new();
    source_image(&workspace);
    skopeo_archive(&workspace, "theirs.tar", Some("foo/bar:v1"));
    for (program, suffix) in [
        ("gzip", "gz"),
        ("xz", "xz"),
        ("zstd", "zst"),
        ("bzip2", "bz2"),
    ] {
        // gzip is in every base system; the others are checked where installed.
        if program != "gzip" && Command::new(program).arg("--version").output().is_err() {
            eprintln!("{program} is not installed: {suffix} archives not checked");
            continue;
        }
        run_tool(&workspace, program, &["-k", "-q", "theirs.tar"]).assert_success();
        let compressed = format!("docker-archive:theirs.tar.{suffix}");
        if program == "gzip" {
            // skopeo 1.9.3 fails on gzip archives ("unexpected EOF"); skopos reads them as
            // it reads the others: like the uncompressed archive.
            let expected = skopeo_raw_and_config(&workspace, "docker-archive:theirs.tar");
            for (flag, expected) in ["--raw", "--config"].iter().zip(expected) {
                let outcome = workspace.skopos(&["inspect", flag, &compressed]);
                outcome.assert_success();
                assert_eq!(outcome.stdout_bytes, expected, "{flag} {compressed}");
            }
        } else {
            assert_reads_like_skopeo(&workspace, &compressed);
        }
    }

    let expected = skopeo_raw_and_config(&workspace, "docker-archive:theirs.tar");
    common::create_dir(&workspace.path("spool"));
    for file in ["theirs.tar", "theirs.tar.gz"] {
        let piped = skopos_with_stdin(
            &workspace,
            &[
                "--tmpdir",
                "spool",
                "inspect",
                "--raw",
                "docker-archive:/dev/stdin",
            ],
            read(&workspace.path(file)),
        );
        piped.assert_success();
        assert_eq!(piped.stdout_bytes, expected[0], "{file} on a pipe");
    }
    // The spooled copies went to --tmpdir (where there is none, spooling fails) and are
    // gone afterwards.
    assert_eq!(fs::read_dir(workspace.path("spool")).unwrap().count(), 0);
    let no_tmpdir = skopos_with_stdin(
        &workspace,
        &[
            "--tmpdir",
            "missing",
            "inspect",
            "--raw",
            "docker-archive:/dev/stdin",
        ],
        read(&workspace.path("theirs.tar")),
    );
    assert_one_line_failure(&no_tmpdir, Some(1));
    assert!(
        no_tmpdir.stderr.contains("creating temporary file"),
        "{}",
        no_tmpdir.stderr
    );
}

#[test]
fn a_skopos_archive_streams_through_a_pipe() {
    let workspace = Workspace::new();
    source_image(&workspace);
    let written = workspace.skopos(&[
        "--insecure-policy",
        "copy",
        "-q",
        "oci:src:t",
        "docker-archive:/dev/stdout:foo/bar:v1",
    ]);
    written.assert_success();
    skopeo_archive(&workspace, "theirs.tar", Some("foo/bar:v1"));
    assert_eq!(written.stdout_bytes, read(&workspace.path("theirs.tar")));
    let copied = skopos_with_stdin(
        &workspace,
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "docker-archive:/dev/stdin",
            "dir:piped",
        ],
        written.stdout_bytes,
    );
    copied.assert_success();
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "docker-archive:theirs.tar",
            "dir:from-file",
        ])
        .assert_success();
    assert_same_tree(&workspace.path("piped"), &workspace.path("from-file"));
}

/// Unpacks skopeo's archive of `oci:src:t` into `unpacked/`.
fn unpacked_skopeo_archive(workspace: &Workspace) -> serde_json::Value {
    source_image(workspace);
    skopeo_archive(workspace, "theirs.tar", Some("foo/bar:v1"));
    common::create_dir(&workspace.path("unpacked"));
    run_tool(workspace, "tar", &["-xf", "theirs.tar", "-C", "unpacked"]).assert_success();
    parse_json(&read(&workspace.path("unpacked/manifest.json")))
}

/// Writes `manifest` as `unpacked/manifest.json` and packs `members` of `unpacked/` (tar
/// `-P` keeps absolute and `..` names) into `name`, with `transform` applied to names.
fn repack(
    workspace: &Workspace,
    name: &str,
    manifest: &serde_json::Value,
    members: &[&str],
    transform: Option<&str>,
) {
    fs::write(
        workspace.path("unpacked/manifest.json"),
        serde_json::to_vec(manifest).unwrap(),
    )
    .unwrap();
    let output = workspace.path(name).display().to_string();
    let mut args = vec!["-cPf", &output, "-C", "unpacked"];
    let transform_arg;
    if let Some(transform) = transform {
        transform_arg = format!("--transform={transform}");
        args.push(&transform_arg);
    }
    args.extend_from_slice(members);
    run_tool(workspace, "tar", &args).assert_success();
}

fn member_names(manifest: &serde_json::Value) -> (String, Vec<String>) {
    let item = &manifest[0];
    let config = item["Config"].as_str().unwrap().to_string();
    let layers = item["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| layer.as_str().unwrap().to_string())
        .collect();
    (config, layers)
}

#[test]
fn gzip_compressed_layers_inside_an_archive_read_like_skopeo() {
    let workspace = Workspace::new();
    let mut manifest = unpacked_skopeo_archive(&workspace);
    let (config, layers) = member_names(&manifest);
    let mut members = vec![config.clone(), "manifest.json".to_string()];
    for (position, layer) in layers.iter().enumerate() {
        if position == 1 {
            run_tool(&workspace, "gzip", &["-n", &format!("unpacked/{layer}")]).assert_success();
            manifest[0]["Layers"][position] = format!("{layer}.gz").into();
            members.push(format!("{layer}.gz"));
        } else {
            members.push(layer.clone());
        }
    }
    let members: Vec<&str> = members.iter().map(String::as_str).collect();
    repack(&workspace, "gz-layer.tar", &manifest, &members, None);
    assert_reads_like_skopeo(&workspace, "docker-archive:gz-layer.tar");
}

/// A broken archive: skopos fails with one line, and nothing is written.
fn assert_refused(workspace: &Workspace, archive: &str, expected_message: &str) {
    let outcome = workspace.skopos(&[
        "--insecure-policy",
        "copy",
        &format!("docker-archive:{archive}"),
        "dir:refused",
    ]);
    assert_one_line_failure(&outcome, Some(1));
    assert!(
        skopeo_message(&outcome.stderr).contains(expected_message),
        "{archive}: expected {expected_message:?} in {}",
        outcome.stderr
    );
    assert!(
        !workspace.path("refused").exists()
            || fs::read_dir(workspace.path("refused")).unwrap().count() == 0,
        "{archive}: the destination was written"
    );
}

#[test]
fn broken_archives_fail_with_one_line_like_skopeo() {
    let workspace = Workspace::new();
    let manifest = unpacked_skopeo_archive(&workspace);
    let (config, layers) = member_names(&manifest);
    let archive = read(&workspace.path("theirs.tar"));
    fs::write(
        workspace.path("truncated.tar"),
        &archive[..archive.len() / 2],
    )
    .unwrap();

    let mut missing_config = manifest.clone();
    missing_config[0]["Config"] = "missing.json".into();
    let mut members: Vec<&str> = layers.iter().map(String::as_str).collect();
    members.push("manifest.json");
    repack(
        &workspace,
        "missing-config.tar",
        &missing_config,
        &members,
        None,
    );

    let mut missing_layer = manifest.clone();
    missing_layer[0]["Layers"][1] = "missing.tar".into();
    members.push(&config);
    repack(
        &workspace,
        "missing-layer.tar",
        &missing_layer,
        &members,
        None,
    );

    // Not a tar at all: text lines, which the reason must not quote.
    let text = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n";
    fs::write(workspace.path("not-a-tar.tar"), text.repeat(20)).unwrap();

    let archives = [
        "truncated.tar",
        "missing-config.tar",
        "missing-layer.tar",
        "not-a-tar.tar",
    ];
    let compare_with_newest =
        common::skopeo_1_22_binary("docker-archive: error messages compared with skopeo 1.22.2")
            .is_some();
    for archive in archives {
        let args = ["inspect", &format!("docker-archive:{archive}")];
        let pair = workspace.run_both(&args);
        assert_one_line_failure(&pair.skopos, Some(1));
        let message = skopeo_message(&pair.skopos.stderr);
        // skopeo 1.22 quotes the components' names, as 1.9.3 did not.
        assert_eq!(
            message.replace('"', ""),
            skopeo_message(&pair.skopeo.stderr).replace('"', ""),
            "{archive}"
        );
        if compare_with_newest {
            let newest = workspace
                .skopeo_1_22("", &[], &[&["--insecure-policy"], &args[..]].concat())
                .expect("skopeo 1.22.2");
            assert_eq!(message, skopeo_message(&newest.stderr), "{archive}");
        }
    }
    assert_refused(&workspace, "truncated.tar", "unexpected EOF");
    assert_refused(
        &workspace,
        "not-a-tar.tar",
        "loading tar component \"manifest.json\": archive/tar: invalid tar header",
    );
    assert_refused(&workspace, "missing-config.tar", "file does not exist");
    assert_refused(
        &workspace,
        "missing-layer.tar",
        "Some layer tarfiles are missing in the tarball",
    );
}

#[test]
fn names_and_links_pointing_outside_the_archive_are_refused() {
    let workspace = Workspace::new();
    let manifest = unpacked_skopeo_archive(&workspace);
    let (config, layers) = member_names(&manifest);
    let layer_members: Vec<&str> = layers.iter().map(String::as_str).collect();

    // Config named `../<config>` and `/<config>`, with entries of exactly those names.
    for (name, prefix) in [("dotdot.tar", "../"), ("absolute.tar", "/")] {
        let mut hostile = manifest.clone();
        hostile[0]["Config"] = format!("{prefix}{config}").into();
        let mut members = layer_members.clone();
        members.extend_from_slice(&["manifest.json", &config]);
        repack(
            &workspace,
            name,
            &hostile,
            &members,
            Some(&format!("s,^{config},{prefix}{config},")),
        );
        assert_refused(&workspace, name, "points outside the archive");
    }

    // A layer that is a symlink to a file outside the archive.
    let secret = workspace.path("secret");
    fs::write(&secret, b"not for the archive").unwrap();
    std::os::unix::fs::symlink("../../../secret", workspace.path("unpacked/evil.tar")).unwrap();
    let mut hostile = manifest.clone();
    hostile[0]["Layers"][1] = "evil.tar".into();
    let mut members = layer_members.clone();
    members.extend_from_slice(&["manifest.json", &config, "evil.tar"]);
    repack(&workspace, "symlink.tar", &hostile, &members, None);
    assert_refused(&workspace, "symlink.tar", "points outside the archive");
    assert_eq!(read(&secret), b"not for the archive");
}

#[test]
fn several_images_in_one_archive_read_like_skopeo() {
    let workspace = Workspace::new();
    source_image(&workspace);
    workspace.image_from("src2", "u", &ImageSpec::new(9).with_layers(1, 5_000));
    // skopeo writes one image per archive; podman's save -m writes several (through
    // containers/image's multi-image writer).
    skopeo_archive(&workspace, "one.tar", Some("foo/bar:v1"));
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "oci:src2:u",
            "docker-archive:two.tar:other/img:v2",
        ])
        .assert_success();
    let root = workspace.path("podman");
    let podman_args = |args: &[&str]| -> Vec<String> {
        let mut full = vec![
            "--events-backend".to_string(),
            "none".into(),
            "--storage-driver".into(),
            "vfs".into(),
            "--root".into(),
            root.join("root").display().to_string(),
            "--runroot".into(),
            root.join("run").display().to_string(),
            "--tmpdir".into(),
            root.join("tmp").display().to_string(),
        ];
        full.extend(args.iter().map(|s| s.to_string()));
        full
    };
    for args in [
        vec!["load", "-i", "one.tar"],
        vec!["load", "-i", "two.tar"],
        vec![
            "save",
            "-m",
            "-o",
            "multi.tar",
            "docker.io/foo/bar:v1",
            "docker.io/other/img:v2",
        ],
    ] {
        let full = podman_args(&args);
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        run_tool(&workspace, "podman", &full).assert_success();
    }
    workspace
        .run_both(&["list-tags", "docker-archive:multi.tar"])
        .assert_same_stdout();
    for reference in [
        "docker-archive:multi.tar:@1",
        "docker-archive:multi.tar:other/img:v2",
        "docker-archive:multi.tar:foo/bar:v1",
    ] {
        assert_reads_like_skopeo(&workspace, reference);
    }
    let pair = workspace.run_both(&["inspect", "docker-archive:multi.tar"]);
    assert_one_line_failure(&pair.skopos, Some(1));
    assert_eq!(
        skopeo_message(&pair.skopos.stderr),
        skopeo_message(&pair.skopeo.stderr)
    );
}

#[test]
fn list_tags_of_an_untagged_archive_is_skopeos() {
    let workspace = Workspace::new();
    source_image(&workspace);
    skopeo_archive(&workspace, "untagged.tar", None);
    workspace
        .run_both(&["list-tags", "docker-archive:untagged.tar"])
        .assert_same_stdout();
    let pair = workspace.run_both(&["list-tags", "docker-archive:missing.tar"]);
    assert_one_line_failure(&pair.skopos, Some(1));
    assert_eq!(
        skopeo_message(&pair.skopos.stderr),
        skopeo_message(&pair.skopeo.stderr)
    );
}

/// The bytes of `member` in tar file `archive`.
fn read_member(workspace: &Workspace, archive: &str, member: &str) -> Vec<u8> {
    let outcome = run_tool(workspace, "tar", &["-xOf", archive, member]);
    outcome.assert_success();
    outcome.stdout_bytes
}

#[test]
fn the_destination_writes_through_a_symlink_without_replacing_it() {
    let workspace = Workspace::new();
    source_image(&workspace);
    std::os::unix::fs::symlink("target.tar", workspace.path("link.tar")).unwrap();
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "oci:src:t",
            "docker-archive:link.tar:foo/bar:v1",
        ])
        .assert_success();
    assert!(fs::symlink_metadata(workspace.path("link.tar"))
        .unwrap()
        .file_type()
        .is_symlink());
    skopeo_archive(&workspace, "theirs.tar", Some("foo/bar:v1"));
    assert_eq!(
        read(&workspace.path("target.tar")),
        read(&workspace.path("theirs.tar"))
    );
}
