//! `oci-archive:`: archives skopos writes are read by skopeo with the same digests and hold the
//! same members as skopeo's; archives skopeo writes (plain, gzip-compressed, with several
//! images) inspect and copy in skopos exactly as in skopeo; broken and hostile archives fail
//! with one line, read nothing outside the archive, and leave an existing destination alone.
//!
//! Every command gets `--tmpdir tmp` (a directory of the test's own) so that neither tool
//! touches /var/tmp, and the tests check that it is empty afterwards.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{
    assert_one_line_failure, assert_same_tree, parse_json, read, skopeo_message, Workspace, WHO,
};

/// The global flags every command here starts with.
const TMPDIR: [&str; 2] = ["--tmpdir", "tmp"];

/// A workspace with its `tmp` directory.
fn workspace() -> Workspace {
    let workspace = Workspace::new();
    common::create_dir(&workspace.path("tmp"));
    workspace
}

/// `--tmpdir tmp` followed by `args`.
fn with_tmpdir<'a>(args: &[&'a str]) -> Vec<&'a str> {
    TMPDIR.iter().copied().chain(args.iter().copied()).collect()
}

/// Runs `args` (after `--tmpdir tmp`) through skopeo alone, which must succeed.
fn skopeo_ok(workspace: &Workspace, args: &[&str]) {
    let mut full = vec!["--insecure-policy"];
    full.extend(with_tmpdir(args));
    workspace.skopeo(&full).assert_success();
}

/// Runs `args` (after `--tmpdir tmp`) through skopos alone.
fn skopos(workspace: &Workspace, args: &[&str]) -> common::Outcome {
    let mut full = vec!["--insecure-policy"];
    full.extend(with_tmpdir(args));
    workspace.skopos(&full)
}

fn assert_tmpdir_empty(workspace: &Workspace) {
    let left: Vec<_> = fs::read_dir(workspace.path("tmp"))
        .unwrap_or_else(|error| panic!("listing tmp: {error}"))
        .map(|item| item.map(|item| item.file_name()))
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

/// One member of a tar file, as the tests compare them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    name: String,
    /// The mode field, file-type bits included.
    mode: u32,
    kind: u8,
    data: Vec<u8>,
    link: String,
}

impl Member {
    fn file(name: &str, data: &[u8]) -> Member {
        Member {
            name: name.to_string(),
            mode: 0o100644,
            kind: b'0',
            data: data.to_vec(),
            link: String::new(),
        }
    }

    fn directory(name: &str) -> Member {
        Member {
            name: name.to_string(),
            mode: 0o40755,
            kind: b'5',
            data: Vec::new(),
            link: String::new(),
        }
    }

    fn symlink(name: &str, target: &str) -> Member {
        Member {
            name: name.to_string(),
            mode: 0o120777,
            kind: b'2',
            data: Vec::new(),
            link: target.to_string(),
        }
    }
}

/// A ustar file of `members` (names up to 100 bytes), owned by root, dated 1970.
fn tar_bytes(members: &[Member]) -> Vec<u8> {
    fn octal(field: &mut [u8], value: u64) {
        let text = format!("{value:0width$o}\0", width = field.len() - 1);
        field.copy_from_slice(text.as_bytes());
    }
    let mut out = Vec::new();
    for member in members {
        let mut header = [0u8; 512];
        assert!(member.name.len() <= 100 && member.link.len() <= 100);
        header[..member.name.len()].copy_from_slice(member.name.as_bytes());
        octal(&mut header[100..108], u64::from(member.mode));
        octal(&mut header[108..116], 0);
        octal(&mut header[116..124], 0);
        octal(&mut header[124..136], member.data.len() as u64);
        octal(&mut header[136..148], 0);
        header[156] = member.kind;
        header[157..157 + member.link.len()].copy_from_slice(member.link.as_bytes());
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].fill(b' ');
        let sum: u32 = header.iter().map(|&byte| u32::from(byte)).sum();
        let checksum = format!("{sum:06o}\0 ");
        header[148..156].copy_from_slice(checksum.as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&member.data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// `members` as they compare with an archive skopeo 1.9.3 wrote: modes without the file-type
/// bits 1.9.3 set (1.22.2 writes permissions only) and the layout files in 1.9.3's format
/// (see `common::layout_file_as_skopeo_1_9`). The 1.22.2 headers and bytes themselves are
/// checked in `oci_layout_1_22.rs`.
fn comparable_with_skopeo_1_9(members: Vec<Member>) -> Vec<Member> {
    members
        .into_iter()
        .map(|member| Member {
            mode: member.mode & 0o7777,
            data: common::layout_file_as_skopeo_1_9(&member.name, member.data),
            ..member
        })
        .collect()
}

/// The members of the ustar file at `path`, in order (names joined with the ustar prefix).
fn tar_members(path: &Path) -> Vec<Member> {
    let bytes = read(path);
    let field = |header: &[u8], range: std::ops::Range<usize>| -> String {
        let raw = &header[range];
        let end = raw.iter().position(|&byte| byte == 0).unwrap_or(raw.len());
        String::from_utf8_lossy(&raw[..end]).trim().to_string()
    };
    let number = |text: String| u64::from_str_radix(&text, 8).unwrap_or_else(|_| panic!("{text}"));
    let mut members = Vec::new();
    let mut offset = 0;
    while offset + 512 <= bytes.len() && bytes[offset..offset + 512].iter().any(|&b| b != 0) {
        let header = &bytes[offset..offset + 512];
        let prefix = field(header, 345..500);
        let name = field(header, 0..100);
        let name = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let size = number(field(header, 124..136)) as usize;
        let data_start = offset + 512;
        members.push(Member {
            name,
            mode: number(field(header, 100..108)) as u32,
            kind: header[156],
            data: bytes[data_start..data_start + size].to_vec(),
            link: field(header, 157..257),
        });
        offset = (data_start + size).next_multiple_of(512);
    }
    members
}

/// The members a tar of the layout directory `dir` has, in walk order, `./`-less.
fn layout_members(dir: &Path) -> Vec<Member> {
    fn walk(root: &Path, relative: &str, members: &mut Vec<Member>) {
        let mut names: Vec<String> = fs::read_dir(root.join(relative))
            .unwrap_or_else(|error| panic!("listing {relative}: {error}"))
            .map(|item| item.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let path = if relative.is_empty() {
                name
            } else {
                format!("{relative}/{name}")
            };
            if root.join(&path).is_dir() {
                members.push(Member::directory(&format!("{path}/")));
                walk(root, &path, members);
            } else {
                members.push(Member::file(&path, &read(&root.join(&path))));
            }
        }
    }
    let mut members = Vec::new();
    walk(dir, "", &mut members);
    members
}

/// Writes the layout at `layout` (a workspace name), with `extra` members, as the archive
/// `archive`.
fn pack(workspace: &Workspace, layout: &str, archive: &str, extra: &[Member]) {
    let mut members = layout_members(&workspace.path(layout));
    members.extend_from_slice(extra);
    fs::write(workspace.path(archive), tar_bytes(&members))
        .unwrap_or_else(|error| panic!("writing {archive}: {error}"));
}

#[test]
fn an_archive_skopos_writes_holds_skopeos_members_and_reads_back_in_skopeo() {
    let workspace = workspace();
    let image = workspace.image("src", "t", 1);
    workspace
        .run_both(&with_tmpdir(&[
            "copy",
            "-q",
            "oci:src:t",
            &format!("oci-archive:out-{WHO}.tar:v1"),
        ]))
        .assert_both_succeed();
    // Same names, order, modes, types and bytes (owners and times are not compared).
    let ours = comparable_with_skopeo_1_9(tar_members(&workspace.path("out-skopos.tar")));
    assert_eq!(
        ours,
        comparable_with_skopeo_1_9(tar_members(&workspace.path("out-skopeo.tar")))
    );
    assert_eq!(ours[0].name, "blobs/");

    let inspected = workspace.skopeo(&[
        "--insecure-policy",
        "--tmpdir",
        "tmp",
        "inspect",
        "oci-archive:out-skopos.tar:v1",
    ]);
    inspected.assert_success();
    assert_eq!(
        parse_json(&inspected.stdout_bytes)["Digest"],
        image.manifest.digest
    );
    for tool in ["skopos", "skopeo"] {
        skopeo_ok(
            &workspace,
            &[
                "copy",
                "-q",
                &format!("oci-archive:out-{tool}.tar:v1"),
                &format!("oci:back-{tool}:v1"),
            ],
        );
    }
    assert_same_tree(
        &workspace.path("back-skopos"),
        &workspace.path("back-skopeo"),
    );
    assert_tmpdir_empty(&workspace);
}

#[test]
fn writing_replaces_an_existing_archive_with_a_one_image_archive_like_skopeo() {
    let workspace = workspace();
    workspace.image("src", "t", 1);
    workspace.image("other", "t", 2);
    for tool in ["skopos", "skopeo"] {
        skopeo_ok(
            &workspace,
            &[
                "copy",
                "-q",
                "oci:other:t",
                &format!("oci-archive:out-{tool}.tar:old"),
            ],
        );
    }
    workspace
        .run_both(&with_tmpdir(&[
            "copy",
            "-q",
            "oci:src:t",
            &format!("oci-archive:out-{WHO}.tar:new"),
        ]))
        .assert_both_succeed();
    assert_eq!(
        comparable_with_skopeo_1_9(tar_members(&workspace.path("out-skopos.tar"))),
        comparable_with_skopeo_1_9(tar_members(&workspace.path("out-skopeo.tar")))
    );
    // Only the new image is left.
    let failed = skopos(&workspace, &["inspect", "oci-archive:out-skopos.tar:old"]);
    assert_one_line_failure(&failed, Some(2));
}

#[test]
fn archives_skopeo_writes_inspect_and_copy_the_same_in_skopos() {
    let workspace = workspace();
    workspace.image("src", "t", 1);
    skopeo_ok(
        &workspace,
        &["copy", "-q", "oci:src:t", "oci-archive:named.tar:v1"],
    );
    skopeo_ok(
        &workspace,
        &["copy", "-q", "oci:src:t", "oci-archive:plain.tar"],
    );
    for name in ["oci-archive:named.tar:v1", "oci-archive:plain.tar"] {
        workspace
            .run_both(&with_tmpdir(&["inspect", name]))
            .assert_same_inspect_json();
        workspace
            .run_both(&with_tmpdir(&["inspect", "--raw", name]))
            .assert_same_stdout();
        workspace
            .run_both(&with_tmpdir(&["inspect", "--config", "--raw", name]))
            .assert_same_stdout();
    }
    workspace
        .run_both(&with_tmpdir(&[
            "copy",
            "-q",
            "oci-archive:named.tar:v1",
            &format!("oci:dest-{WHO}:t"),
        ]))
        .assert_both_succeed();
    assert_same_tree(
        &workspace.path("dest-skopos"),
        &workspace.path("dest-skopeo"),
    );
    workspace
        .run_both(&with_tmpdir(&[
            "copy",
            "-q",
            "oci-archive:plain.tar",
            &format!("dir:dir-{WHO}"),
        ]))
        .assert_both_succeed();
    assert_same_tree(&workspace.path("dir-skopos"), &workspace.path("dir-skopeo"));
    assert_tmpdir_empty(&workspace);
}

#[test]
fn a_gzip_compressed_archive_reads_like_skopeo_and_leaves_no_temporary_file() {
    let workspace = workspace();
    workspace.image("src", "t", 1);
    skopeo_ok(
        &workspace,
        &["copy", "-q", "oci:src:t", "oci-archive:a.tar:v1"],
    );
    let compressed = Command::new("gzip")
        .args(["-c", "-n"])
        .arg(workspace.path("a.tar"))
        .output()
        .unwrap_or_else(|error| panic!("running gzip: {error}"));
    assert!(compressed.status.success(), "gzip failed");
    fs::write(workspace.path("a.tar.gz"), compressed.stdout).unwrap();
    workspace
        .run_both(&with_tmpdir(&[
            "inspect",
            "--raw",
            "oci-archive:a.tar.gz:v1",
        ]))
        .assert_same_stdout();
    workspace
        .run_both(&with_tmpdir(&[
            "copy",
            "-q",
            "oci-archive:a.tar.gz:v1",
            &format!("oci:dest-{WHO}:t"),
        ]))
        .assert_both_succeed();
    assert_same_tree(
        &workspace.path("dest-skopos"),
        &workspace.path("dest-skopeo"),
    );
    assert_tmpdir_empty(&workspace);
}

#[test]
fn an_archive_with_two_images_needs_a_reference_in_both_tools() {
    let workspace = workspace();
    workspace.image("two", "a", 1);
    workspace.image("two", "b", 2);
    pack(&workspace, "two", "two.tar", &[]);
    for name in ["oci-archive:two.tar:a", "oci-archive:two.tar:b"] {
        workspace
            .run_both(&with_tmpdir(&["inspect", name]))
            .assert_same_inspect_json();
    }
    for name in ["oci-archive:two.tar", "oci-archive:two.tar:c"] {
        let pair = workspace.run_both(&with_tmpdir(&["inspect", name]));
        assert_one_line_failure(&pair.skopos, None);
        assert_eq!(
            skopeo_message(&pair.skopos.stderr),
            skopeo_message(&pair.skopeo.stderr),
            "{name}"
        );
    }
}

#[test]
fn a_multi_platform_image_round_trips_through_an_archive_with_all() {
    let workspace = workspace();
    let index = workspace.multi_arch("multi", "t");
    workspace
        .run_both(&with_tmpdir(&[
            "copy",
            "-q",
            "--all",
            "oci:multi:t",
            &format!("oci-archive:m-{WHO}.tar:t"),
        ]))
        .assert_both_succeed();
    assert_eq!(
        comparable_with_skopeo_1_9(tar_members(&workspace.path("m-skopos.tar"))),
        comparable_with_skopeo_1_9(tar_members(&workspace.path("m-skopeo.tar")))
    );
    let raw = workspace.skopeo(&[
        "--insecure-policy",
        "--tmpdir",
        "tmp",
        "inspect",
        "--raw",
        "oci-archive:m-skopos.tar:t",
    ]);
    raw.assert_success();
    assert_eq!(
        raw.stdout_bytes,
        read(&workspace.layout("multi").blob_path(&index.index.digest))
    );
}

#[test]
fn writing_onto_a_directory_fails_like_skopeo_at_commit() {
    let workspace = workspace();
    workspace.image("src", "t", 1);
    common::create_dir(&workspace.path("target-skopos"));
    common::create_dir(&workspace.path("target-skopeo"));
    let pair = workspace.run_both(&with_tmpdir(&[
        "copy",
        "-q",
        "oci:src:t",
        &format!("oci-archive:target-{WHO}"),
    ]));
    assert_one_line_failure(&pair.skopos, Some(1));
    let expected = skopeo_message(&pair.skopeo.stderr).replace("skopeo", "skopos");
    let ours = skopeo_message(&pair.skopos.stderr);
    assert!(
        expected.ends_with(&ours),
        "skopos said {ours:?}, skopeo {expected:?}"
    );
    assert!(workspace.path("target-skopos").is_dir());
    assert_tmpdir_empty(&workspace);
}

/// Copies `source` into the existing archive `existing.tar` with skopos, which must fail with
/// one line; the archive keeps its bytes and nothing else appears beside it or in tmp.
fn assert_failed_copy_leaves_the_archive_alone(workspace: &Workspace, source: &str) -> String {
    if !workspace.path("existing.tar").exists() {
        workspace.image("good", "t", 3);
        skopeo_ok(
            workspace,
            &["copy", "-q", "oci:good:t", "oci-archive:existing.tar:t"],
        );
    }
    let before = read(&workspace.path("existing.tar"));
    let listing = |workspace: &Workspace| -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(workspace.path(""))
            .unwrap()
            .map(|item| item.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let names_before = listing(workspace);
    let outcome = skopos(
        workspace,
        &["copy", "-q", source, "oci-archive:existing.tar:t"],
    );
    assert_one_line_failure(&outcome, None);
    assert!(
        read(&workspace.path("existing.tar")) == before,
        "a failed copy from {source} changed the existing archive"
    );
    assert_eq!(listing(workspace), names_before, "copying from {source}");
    assert_tmpdir_empty(workspace);
    outcome.stderr
}

#[test]
fn a_truncated_archive_is_one_clear_error() {
    let workspace = workspace();
    workspace.image("src", "t", 1);
    skopeo_ok(
        &workspace,
        &["copy", "-q", "oci:src:t", "oci-archive:full.tar:v1"],
    );
    let bytes = read(&workspace.path("full.tar"));
    fs::write(workspace.path("cut.tar"), &bytes[..bytes.len() / 2]).unwrap();
    let inspected = skopos(&workspace, &["inspect", "oci-archive:cut.tar:v1"]);
    assert_one_line_failure(&inspected, Some(1));
    assert!(
        inspected.stderr.contains("the archive is truncated"),
        "{}",
        inspected.stderr
    );
    let stderr = assert_failed_copy_leaves_the_archive_alone(&workspace, "oci-archive:cut.tar:v1");
    assert!(stderr.contains("truncated"), "{stderr}");
}

#[test]
fn missing_blobs_are_one_clear_error_and_leave_the_destination_alone() {
    let workspace = workspace();
    let image = workspace.image("nomanifest", "t", 1);
    workspace
        .layout("nomanifest")
        .delete_blob(&image.manifest.digest)
        .unwrap();
    pack(&workspace, "nomanifest", "nomanifest.tar", &[]);
    let inspected = skopos(&workspace, &["inspect", "oci-archive:nomanifest.tar:t"]);
    assert_one_line_failure(&inspected, Some(1));
    let expected = format!(
        "open blobs/sha256/{} in {}: no such file or directory",
        image.manifest.hex(),
        workspace.path("nomanifest.tar").display()
    );
    assert!(inspected.stderr.contains(&expected), "{}", inspected.stderr);
    assert_failed_copy_leaves_the_archive_alone(&workspace, "oci-archive:nomanifest.tar:t");

    let image = workspace.image("nolayer", "t", 2);
    workspace
        .layout("nolayer")
        .delete_blob(&image.layers[1].digest)
        .unwrap();
    pack(&workspace, "nolayer", "nolayer.tar", &[]);
    let stderr =
        assert_failed_copy_leaves_the_archive_alone(&workspace, "oci-archive:nolayer.tar:t");
    assert!(stderr.contains(image.layers[1].hex()), "{stderr}");
}

#[test]
fn entries_leading_outside_the_archive_are_never_followed() {
    let workspace = workspace();
    workspace.image("src", "t", 1);
    // A valid index.json outside the archive, for links to point at.
    common::create_dir(&workspace.path("outside"));
    fs::copy(
        workspace.path("src/index.json"),
        workspace.path("outside/index.json"),
    )
    .unwrap();
    let escaped = workspace.path("escaped");
    let without_index: Vec<Member> = layout_members(&workspace.path("src"))
        .into_iter()
        .filter(|member| member.name != "index.json")
        .collect();
    let absolute_target = workspace.path("outside/index.json");
    let cases: Vec<(&str, Member, bool)> = vec![
        ("dotdot", Member::file("../escaped", b"x"), true),
        (
            "nested-dotdot",
            Member::file("blobs/../../escaped", b"x"),
            true,
        ),
        (
            "absolute",
            Member::file(&escaped.to_string_lossy(), b"x"),
            true,
        ),
        (
            "relative-symlink",
            Member::symlink("index.json", "../outside/index.json"),
            false,
        ),
        (
            "absolute-symlink",
            Member::symlink("index.json", &absolute_target.to_string_lossy()),
            false,
        ),
    ];
    for (what, member, keep_index) in cases {
        let mut members = if keep_index {
            layout_members(&workspace.path("src"))
        } else {
            without_index.clone()
        };
        members.push(member);
        let archive = format!("{what}.tar");
        fs::write(workspace.path(&archive), tar_bytes(&members)).unwrap();
        let source = format!("oci-archive:{archive}:t");
        let inspected = skopos(&workspace, &["inspect", &source]);
        assert_one_line_failure(&inspected, Some(1));
        assert_failed_copy_leaves_the_archive_alone(&workspace, &source);
        assert!(!escaped.exists(), "{what}: a file was written outside");
        assert!(
            !workspace.path("../escaped").exists(),
            "{what}: a file was written outside the workspace"
        );
    }
}

#[test]
fn links_inside_the_archive_are_followed() {
    let workspace = workspace();
    workspace.image("src", "t", 1);
    let mut members: Vec<Member> = layout_members(&workspace.path("src"))
        .into_iter()
        .map(|mut member| {
            if member.name == "index.json" {
                member.name = "real-index.json".to_string();
            }
            member
        })
        .collect();
    members.push(Member::symlink("index.json", "./blobs/../real-index.json"));
    fs::write(workspace.path("linked.tar"), tar_bytes(&members)).unwrap();
    workspace
        .run_both(&with_tmpdir(&[
            "inspect",
            "--raw",
            "oci-archive:linked.tar:t",
        ]))
        .assert_same_stdout();
}

#[test]
fn a_directory_in_the_archives_place_fails_at_commit_with_skopeos_message() {
    let workspace = workspace();
    workspace.image("src", "t", 1);
    std::fs::create_dir(workspace.path("taken")).expect("creating the directory");
    let pair = workspace.run_both(&with_tmpdir(&[
        "copy",
        "-q",
        "oci:src:t",
        "oci-archive:taken",
    ]));
    assert_one_line_failure(&pair.skopos, Some(1));
    let ours = skopeo_message(&pair.skopos.stderr);
    assert!(
        ours.starts_with("committing the finished image: "),
        "unexpected message: {ours}"
    );
    // skopeo 1.9.3 first logs a failed clean-up of its temporary layout; its fatal line is last.
    let theirs = pair
        .skopeo
        .stderr
        .trim_end()
        .lines()
        .last()
        .unwrap_or_default();
    assert_eq!(ours, skopeo_message(theirs));
    assert!(workspace.path("taken").is_dir());
}
