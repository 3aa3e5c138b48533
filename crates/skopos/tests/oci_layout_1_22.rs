//! What skopeo 1.22.2 writes and reads differently from 1.9.3 in `oci:` layouts and
//! `oci-archive:` files: a new `index.json` carries the index `mediaType`, `oci-layout` has no
//! space after the colon, archive headers hold permission bits only and no owner names,
//! `oci:PATH:@N` picks the N-th image, `delete oci:` works, and copy progress says
//! `Storing signatures` only for signed images and `Copying N images generated from M images
//! in list`. Each fact is asserted literally; with `$SKOPEO_1_22` set, the same command lines
//! run through skopeo 1.22.2 and the bytes are compared.

mod common;

use std::path::Path;

use common::{read, skopeo_message, snapshot, tree_differences, Outcome, Workspace, WHO};

const NEW_INDEX_PREFIX: &str =
    r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":["#;

/// Runs `--insecure-policy ARGS` (with [`WHO`] replaced) through skopos and, when available,
/// skopeo 1.22.2; returns skopos's outcome and skopeo's.
fn run_both_1_22(workspace: &Workspace, args: &[&str]) -> (Outcome, Option<Outcome>) {
    let for_tool = |tool: &str| -> Vec<String> {
        std::iter::once("--insecure-policy".to_string())
            .chain(args.iter().map(|arg| arg.replace(WHO, tool)))
            .collect()
    };
    let skopos_args = for_tool("skopos");
    let skopos_args: Vec<&str> = skopos_args.iter().map(String::as_str).collect();
    let skopeo_args = for_tool("skopeo");
    let skopeo_args: Vec<&str> = skopeo_args.iter().map(String::as_str).collect();
    let skopeo = workspace.skopeo_1_22(
        &format!("comparing `{}` with skopeo 1.22.2", args.join(" ")),
        &[],
        &skopeo_args,
    );
    (workspace.skopos(&skopos_args), skopeo)
}

/// Asserts that the trees `skopos` and `skopeo` (workspace names) hold the same bytes.
fn assert_same_tree_as_1_22(workspace: &Workspace, skopos: &str, skopeo: &str) {
    let differences = tree_differences(
        &snapshot(&workspace.path(skopos)),
        &snapshot(&workspace.path(skopeo)),
        "skopos",
        "skopeo 1.22.2",
    );
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn a_new_layout_has_the_index_media_type_and_a_compact_oci_layout_file() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 1);
    let (skopos, skopeo) = run_both_1_22(&workspace, &["copy", "oci:src:t", "oci:out-@WHO:v1"]);
    skopos.assert_success();
    let out = workspace.path("out-skopos");
    assert_eq!(
        read(&out.join("oci-layout")),
        br#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let index = String::from_utf8(read(&out.join("index.json"))).expect("UTF-8 index.json");
    assert_eq!(
        index,
        format!(
            r#"{NEW_INDEX_PREFIX}{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"v1"}}}}]}}"#,
            image.manifest.digest, image.manifest.size
        )
    );
    // Progress without signatures has no `Storing signatures` (skopeo 1.9.3 always had it).
    assert!(
        skopos
            .stdout
            .ends_with("Writing manifest to image destination\n"),
        "{}",
        skopos.stdout
    );
    if let Some(skopeo) = skopeo {
        skopeo.assert_success();
        assert_same_tree_as_1_22(&workspace, "out-skopos", "out-skopeo");
    }
    // A second image keeps the index as it is, mediaType included.
    let (skopos, skopeo) = run_both_1_22(&workspace, &["copy", "oci:src:t", "oci:out-@WHO:v2"]);
    skopos.assert_success();
    let index = String::from_utf8(read(&out.join("index.json"))).expect("UTF-8 index.json");
    assert!(index.starts_with(NEW_INDEX_PREFIX), "{index}");
    if let Some(skopeo) = skopeo {
        skopeo.assert_success();
        assert_same_tree_as_1_22(&workspace, "out-skopos", "out-skopeo");
    }
}

/// The members of a ustar archive: name, mode field, owner names and data.
fn archive_members(path: &Path) -> Vec<(String, u32, String, String, Vec<u8>)> {
    let bytes = read(path);
    let text = |field: &[u8]| {
        let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        String::from_utf8_lossy(&field[..end]).trim().to_string()
    };
    let mut members = Vec::new();
    let mut offset = 0;
    while offset + 512 <= bytes.len() && bytes[offset..offset + 512].iter().any(|&b| b != 0) {
        let header = &bytes[offset..offset + 512];
        let size = usize::from_str_radix(&text(&header[124..136]), 8).expect("octal size");
        let mode = u32::from_str_radix(&text(&header[100..108]), 8).expect("octal mode");
        let data = bytes[offset + 512..offset + 512 + size].to_vec();
        members.push((
            text(&header[0..100]),
            mode,
            text(&header[265..297]),
            text(&header[297..329]),
            data,
        ));
        offset = (offset + 512 + size).next_multiple_of(512);
    }
    members
}

#[test]
fn oci_archive_headers_hold_permissions_only_and_no_owner_names() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 1);
    let tmp = workspace.path("tmp");
    common::create_dir(&tmp);
    let (skopos, skopeo) = run_both_1_22(
        &workspace,
        &[
            "--tmpdir",
            "tmp",
            "copy",
            "-q",
            "oci:src:t",
            "oci-archive:@WHO.tar:v1",
        ],
    );
    skopos.assert_success();
    let ours = archive_members(&workspace.path("skopos.tar"));
    assert!(!ours.is_empty());
    for (name, mode, user, group, _) in &ours {
        assert_eq!(*mode & !0o7777, 0, "{name}: mode {mode:o} has type bits");
        assert_eq!((user.as_str(), group.as_str()), ("", ""), "{name}");
    }
    let oci_layout = ours
        .iter()
        .find(|member| member.0 == "oci-layout")
        .expect("oci-layout");
    assert_eq!(oci_layout.4, br#"{"imageLayoutVersion":"1.0.0"}"#);
    if let Some(skopeo) = skopeo {
        skopeo.assert_success();
        assert_eq!(ours, archive_members(&workspace.path("skopeo.tar")));
    }
}

#[test]
fn an_index_position_selects_an_image_and_is_checked_like_skopeo_1_22() {
    let workspace = Workspace::new();
    let first = workspace.image("src", "a", 1);
    let second = workspace.image("src", "b", 2);
    for (reference, image) in [
        ("oci:src:@0", &first),
        ("oci:src:@1", &second),
        ("oci:src:@+1", &second),
    ] {
        let (skopos, skopeo) = run_both_1_22(&workspace, &["inspect", "--raw", reference]);
        skopos.assert_success();
        assert_eq!(
            skopos.stdout_bytes,
            read(
                &workspace
                    .path("src/blobs/sha256")
                    .join(image.manifest.digest.trim_start_matches("sha256:"))
            )
        );
        if let Some(skopeo) = skopeo {
            assert_eq!(skopeo.stdout_bytes, skopos.stdout_bytes);
        }
        let (skopos, skopeo) = run_both_1_22(&workspace, &["inspect", reference]);
        skopos.assert_success();
        if let Some(skopeo) = skopeo {
            assert_eq!(skopeo.stdout, skopos.stdout);
        }
    }
    let (skopos, skopeo) = run_both_1_22(&workspace, &["copy", "oci:src:@1", "oci:out-@WHO:x"]);
    skopos.assert_success();
    if let Some(skopeo) = skopeo {
        skopeo.assert_success();
        assert_same_tree_as_1_22(&workspace, "out-skopos", "out-skopeo");
    }
    let failures: &[(&[&str], &str)] = &[
        (
            &["inspect", "oci:src:@2"],
            r#"Error parsing image name "oci:src:@2": index 2 is too large, only 2 entries available"#,
        ),
        (
            &["inspect", "oci:src:@x"],
            r#"Error parsing image name "oci:src:@x": Invalid source index @x: not an integer: strconv.Atoi: parsing "x": invalid syntax"#,
        ),
        (
            &["inspect", "oci:src:@-1"],
            r#"Error parsing image name "oci:src:@-1": Invalid source index @-1: must not be negative"#,
        ),
        (
            &["copy", "oci:src:a", "oci:out-@WHO:@0"],
            "initializing destination oci:out-@WHO:@0: Destination reference must not contain a manifest index @0",
        ),
        (
            &["inspect", "oci-archive:src.tar:@0"],
            r#"Error parsing image name "oci-archive:src.tar:@0": Invalid image @0"#,
        ),
    ];
    for (args, message) in failures {
        let (skopos, skopeo) = run_both_1_22(&workspace, args);
        common::assert_one_line_failure(&skopos, Some(1));
        assert_eq!(
            skopeo_message(&skopos.stderr),
            message.replace(WHO, "skopos")
        );
        if let Some(skopeo) = skopeo {
            assert_eq!(skopeo.code, Some(1));
            assert_eq!(
                skopeo_message(&skopeo.stderr),
                message.replace(WHO, "skopeo")
            );
        }
    }
}

#[test]
fn delete_oci_removes_the_entry_and_only_the_blobs_no_other_image_uses() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 1);
    let other = workspace.image("src", "o", 2);
    for tag in ["a", "b"] {
        let (skopos, skopeo) = run_both_1_22(
            &workspace,
            &["copy", "-q", "oci:src:t", &format!("oci:out-@WHO:{tag}")],
        );
        skopos.assert_success();
        if let Some(skopeo) = skopeo {
            skopeo.assert_success();
        }
    }
    let (skopos, skopeo) =
        run_both_1_22(&workspace, &["copy", "-q", "oci:src:o", "oci:out-@WHO:c"]);
    skopos.assert_success();
    if let Some(skopeo) = skopeo {
        skopeo.assert_success();
    }
    let blob = |digest: &str| {
        workspace
            .path("out-skopos/blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };

    // `a` shares every blob with `b`: only its entry goes.
    let (skopos, skopeo) = run_both_1_22(&workspace, &["delete", "oci:out-@WHO:a"]);
    skopos.assert_success();
    assert!(blob(&image.manifest.digest).exists());
    // `@0` is now `b`: its manifest, config and layers go; `c`'s stay.
    let (skopos_second, skopeo_second) = run_both_1_22(&workspace, &["delete", "oci:out-@WHO:@0"]);
    skopos_second.assert_success();
    for gone in std::iter::once(&image.manifest)
        .chain(std::iter::once(&image.config))
        .chain(&image.layers)
    {
        assert!(!blob(&gone.digest).exists(), "{} is left", gone.digest);
    }
    for kept in std::iter::once(&other.manifest).chain(&other.layers) {
        assert!(blob(&kept.digest).exists(), "{} was removed", kept.digest);
    }
    let index = String::from_utf8(read(&workspace.path("out-skopos/index.json"))).expect("UTF-8");
    assert!(
        index.starts_with(NEW_INDEX_PREFIX) && index.ends_with("]}\n"),
        "{index:?}"
    );
    assert!(
        index.contains(r#""org.opencontainers.image.ref.name":"c""#),
        "{index}"
    );
    assert!(
        !index.contains(r#""org.opencontainers.image.ref.name":"b""#),
        "{index}"
    );

    // A missing name is "not found" (exit 2).
    let (missing, skopeo_missing) = run_both_1_22(&workspace, &["delete", "oci:out-@WHO:nope"]);
    common::assert_one_line_failure(&missing, Some(2));
    assert_eq!(
        skopeo_message(&missing.stderr),
        r#"no descriptor found for reference "nope""#
    );

    if let (Some(first), Some(second), Some(not_found)) = (skopeo, skopeo_second, skopeo_missing) {
        first.assert_success();
        second.assert_success();
        assert_eq!(not_found.code, Some(2));
        assert_eq!(
            skopeo_message(&not_found.stderr),
            skopeo_message(&missing.stderr)
        );
        assert_same_tree_as_1_22(&workspace, "out-skopos", "out-skopeo");
    }
    // The last image: the index keeps an empty list, every blob is gone.
    let (skopos, skopeo) = run_both_1_22(&workspace, &["delete", "oci:out-@WHO:c"]);
    skopos.assert_success();
    assert_eq!(
        String::from_utf8(read(&workspace.path("out-skopos/index.json"))).expect("UTF-8"),
        format!("{NEW_INDEX_PREFIX}]}}\n")
    );
    assert_eq!(
        std::fs::read_dir(workspace.path("out-skopos/blobs/sha256"))
            .expect("blobs dir")
            .count(),
        0
    );
    if let Some(skopeo) = skopeo {
        skopeo.assert_success();
        assert_same_tree_as_1_22(&workspace, "out-skopos", "out-skopeo");
    }
}

#[test]
fn list_copies_say_how_many_images_were_generated_from_how_many() {
    let workspace = Workspace::new();
    workspace.multi_arch("multi", "m");
    let (skopos, skopeo) = run_both_1_22(
        &workspace,
        &["copy", "--all", "oci:multi:m", "oci:out-@WHO:m"],
    );
    skopos.assert_success();
    assert!(
        skopos
            .stdout
            .contains("\nCopying 3 images generated from 3 images in list\n"),
        "{}",
        skopos.stdout
    );
    assert!(
        !skopos.stdout.contains("Storing signatures\n"),
        "{}",
        skopos.stdout
    );
    assert!(
        skopos.stdout.ends_with("Storing list signatures\n"),
        "{}",
        skopos.stdout
    );
    let lines = |stdout: &str| {
        let mut lines: Vec<String> = stdout.lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    if let Some(skopeo) = skopeo {
        skopeo.assert_success();
        assert_eq!(lines(&skopos.stdout), lines(&skopeo.stdout));
        assert_same_tree_as_1_22(&workspace, "out-skopos", "out-skopeo");
    }
}
