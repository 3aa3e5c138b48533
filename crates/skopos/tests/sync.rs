//! `sync` against real registries (the distribution registry, plain HTTP, one per test) and
//! `dir:` trees: whole repositories, single tags, YAML sources, `--scoped`, `--dry-run`,
//! `--keep-going`, the already-present skip, and skopeo 1.9.3's validation messages. Where
//! both tools can run the same command, the written trees and the log lines are compared
//! with skopeo's.

mod common;

use common::{assert_one_line_failure, assert_same_tree, skopeo_message, Workspace, WHO};
use skopos_testimage::registry::{RegistryOptions, TestRegistry};
use skopos_testimage::ImageSpec;

/// A KiB-sized one-layer image.
fn small_image(workspace: &Workspace, layout: &str, tag: &str, seed: u64) -> String {
    workspace.image_from(layout, tag, &ImageSpec::new(seed).with_layers(1, 1_500));
    format!("oci:{layout}:{tag}")
}

/// Push `source` to `target` with skopeo (the reference fills the registries).
fn push(workspace: &Workspace, source: &str, target: &str) {
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            source,
            target,
        ])
        .assert_success();
}

/// A registry holding `REPO:v1` and `REPO:v2` (two different small images).
fn registry_with_two_tags(workspace: &Workspace, repo: &str) -> TestRegistry {
    let registry = TestRegistry::start(RegistryOptions::default());
    for (tag, seed) in [("v1", 61), ("v2", 62)] {
        let source = small_image(workspace, "src", tag, seed);
        push(
            workspace,
            &source,
            &format!("docker://{}/{repo}:{tag}", registry.host),
        );
    }
    registry
}

/// Whether the registry has `image` (skopeo's view).
fn registry_has(workspace: &Workspace, image: &str) -> bool {
    workspace
        .skopeo(&["inspect", "--raw", "--tls-verify=false", image])
        .code
        == Some(0)
}

/// The log lines' messages and fields without timestamps, with the tool's name (which the
/// destination paths contain) replaced by `WHO`, so both tools' logs compare equal.
fn log_lines(stderr: &str, tool: &str) -> Vec<String> {
    stderr
        .lines()
        .map(|line| {
            let without_time = match line.strip_prefix("time=\"") {
                Some(rest) => rest.split_once("\" ").map_or(rest, |(_, tail)| tail),
                None => line,
            };
            // The temp dirs are named `skopos-test-…` for both tools.
            without_time
                .replace("skopos-test-", "\0")
                .replace(tool, WHO)
                .replace('\0', "skopos-test-")
        })
        .collect()
}

#[test]
fn docker_to_docker_copies_every_tag_and_skips_them_the_second_time() {
    let workspace = Workspace::new();
    let registry = registry_with_two_tags(&workspace, "src/app");
    let host = &registry.host;
    let source = format!("{host}/src/app");
    let destination = format!("{host}/{WHO}");
    let args = [
        "sync",
        "--src",
        "docker",
        "--dest",
        "docker",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        source.as_str(),
        destination.as_str(),
    ];
    let first = workspace.run_both(&args);
    first.assert_same_stdout();
    for tag in ["v1", "v2"] {
        assert_eq!(
            common::registry_manifest_digest(
                &workspace,
                &format!("docker://{host}/skopos/app:{tag}")
            ),
            common::registry_manifest_digest(&workspace, &format!("docker://{host}/src/app:{tag}")),
            "digest of skopos/app:{tag}"
        );
    }
    let lines = log_lines(&first.skopos.stderr, "skopos");
    assert_eq!(lines, log_lines(&first.skopeo.stderr, "skopeo"));
    for expected in [
        format!("level=info msg=\"Tag presence check\" imagename=\"{host}/src/app\" tagged=false"),
        format!("level=info msg=\"Getting tags\" image=\"{host}/src/app\""),
        format!("level=info msg=\"Copying image ref 1/2\" from=\"docker://{host}/src/app:v1\" to=\"docker://{host}/@WHO/app:v1\""),
        format!("level=info msg=\"Copying image ref 2/2\" from=\"docker://{host}/src/app:v2\" to=\"docker://{host}/@WHO/app:v2\""),
        "level=info msg=\"Synced 2 images from 1 sources\"".to_string(),
    ] {
        assert!(lines.contains(&expected), "no `{expected}` in:\n{}", first.skopos.stderr);
    }
    assert!(
        !first.skopos.stdout.contains("Skipping"),
        "{}",
        first.skopos.stdout
    );
    // The second run finds both images at the destination and copies nothing.
    let second = workspace.run_both(&args);
    second.assert_same_stdout();
    assert_eq!(
        second
            .skopos
            .stdout
            .matches("Skipping: image already present at destination\n")
            .count(),
        2,
        "{}",
        second.skopos.stdout
    );
    assert!(
        !second.skopos.stdout.contains("Copying blob"),
        "{}",
        second.skopos.stdout
    );
}

#[test]
fn docker_to_dir_scoped_and_unscoped_match_skopeo() {
    let workspace = Workspace::new();
    let registry = registry_with_two_tags(&workspace, "src/app");
    let host = &registry.host;
    let repository = format!("{host}/src/app");
    for (scoped, out) in [(true, "scoped-@WHO"), (false, "flat-@WHO")] {
        let mut owned = common::sync_registry_to_dir(&repository, out);
        if scoped {
            owned.insert(1, "--scoped".to_string());
        }
        let args: Vec<&str> = owned.iter().map(String::as_str).collect();
        let pair = workspace.run_both(&args);
        pair.assert_both_succeed();
        let written = |tool: &str| workspace.path(&out.replace(WHO, tool));
        assert_same_tree(&written("skopos"), &written("skopeo"));
        let expected_image = if scoped {
            format!("{host}/src/app:v1")
        } else {
            "app:v1".to_string()
        };
        assert!(
            written("skopos")
                .join(&expected_image)
                .join("manifest.json")
                .is_file(),
            "{expected_image} missing"
        );
        assert_eq!(
            log_lines(&pair.skopos.stderr, "skopos"),
            log_lines(&pair.skopeo.stderr, "skopeo")
        );
        // A second run finds the image directories there and refuses to overwrite them.
        let again = workspace.run_both(&args);
        assert_eq!(again.skopeo.code, Some(1), "{}", again.skopeo.stderr);
        assert_eq!(again.skopos.code, Some(1), "{}", again.skopos.stderr);
        assert_eq!(
            log_lines(&again.skopos.stderr, "skopos"),
            log_lines(&again.skopeo.stderr, "skopeo")
        );
        assert!(
            again
                .skopos
                .stderr
                .contains("Refusing to overwrite destination directory"),
            "{}",
            again.skopos.stderr
        );
    }
}

/// `tree/a/one` and `tree/b/c/two` as `dir:` images (and an unrelated file).
fn dir_tree(workspace: &Workspace) -> [String; 2] {
    let mut digests = Vec::new();
    for (seed, path) in [(71, "tree/a/one"), (72, "tree/b/c/two")] {
        let source = small_image(workspace, "src", &format!("t{seed}"), seed);
        if let Some(parent) = workspace.path(path).parent() {
            common::create_dir(parent);
        }
        workspace
            .skopeo(&[
                "--insecure-policy",
                "copy",
                "-q",
                &source,
                &format!("dir:{path}"),
            ])
            .assert_success();
        digests.push(
            skopos_core::Digest::sha256_of(&common::read(
                &workspace.path(path).join("manifest.json"),
            ))
            .to_string(),
        );
    }
    std::fs::write(workspace.path("tree/README"), "not an image").expect("writing a file");
    [digests[0].clone(), digests[1].clone()]
}

#[test]
fn dir_to_docker_pushes_every_image_of_the_tree_like_skopeo() {
    let workspace = Workspace::new();
    let registry = TestRegistry::start(RegistryOptions::default());
    let host = &registry.host;
    let [one, two] = dir_tree(&workspace);
    let tree = workspace.path("tree");
    let tree = tree.to_str().expect("UTF-8 temp path");
    let pair = workspace.run_both(&[
        "sync",
        "--src",
        "dir",
        "--dest",
        "docker",
        "--dest-tls-verify=false",
        "--scoped",
        tree,
        &format!("{host}/{WHO}"),
    ]);
    pair.assert_both_succeed();
    for tool in ["skopos", "skopeo"] {
        assert_eq!(
            common::registry_manifest_digest(
                &workspace,
                &format!("docker://{host}/{tool}/a/one:latest")
            ),
            one
        );
        assert_eq!(
            common::registry_manifest_digest(
                &workspace,
                &format!("docker://{host}/{tool}/b/c/two:latest")
            ),
            two
        );
    }
    assert_eq!(
        log_lines(&pair.skopos.stderr, "skopos"),
        log_lines(&pair.skopeo.stderr, "skopeo")
    );
    // Unscoped, a relative SOURCE: the images keep only their base names.
    workspace
        .skopos(&[
            "--insecure-policy",
            "sync",
            "--src",
            "dir",
            "--dest",
            "docker",
            "--dest-tls-verify=false",
            "tree",
            &format!("{host}/flat"),
        ])
        .assert_success();
    assert_eq!(
        common::registry_manifest_digest(&workspace, &format!("docker://{host}/flat/two:latest")),
        two
    );
    // SOURCE that is itself an image: its base name.
    workspace
        .skopos(&[
            "--insecure-policy",
            "sync",
            "--src",
            "dir",
            "--dest",
            "docker",
            "--dest-tls-verify=false",
            "--scoped",
            "tree/a/one",
            &format!("{host}/single"),
        ])
        .assert_success();
    assert_eq!(
        common::registry_manifest_digest(&workspace, &format!("docker://{host}/single/one:latest")),
        one
    );
}

#[test]
fn yaml_source_with_images_and_tag_regex_matches_skopeo() {
    let workspace = Workspace::new();
    let registry = registry_with_two_tags(&workspace, "src/app");
    let host = &registry.host;
    let other = small_image(&workspace, "src", "o", 63);
    push(&workspace, &other, &format!("docker://{host}/other:x"));
    let yaml = format!(
        "{host}:\n  tls-verify: false\n  images:\n    src/app: [\"v1\"]\n    other: []\n    Bad/Name: []\n  images-by-tag-regex:\n    src/app: ^v[2-9]$\n    broken: \"(\"\nempty.example.com:\n"
    );
    std::fs::write(workspace.path("sync.yaml"), yaml).expect("writing the YAML file");
    let pair = workspace.run_both(&[
        "sync",
        "--src",
        "yaml",
        "--dest",
        "dir",
        "sync.yaml",
        "out-@WHO",
    ]);
    pair.assert_both_succeed();
    assert_same_tree(&workspace.path("out-skopos"), &workspace.path("out-skopeo"));
    for image in ["app:v1", "app:v2", "other:x"] {
        assert!(
            workspace
                .path("out-skopos")
                .join(image)
                .join("manifest.json")
                .is_file(),
            "{image} missing"
        );
    }
    // skopeo works through the file's maps in Go's random order: compare the lines as
    // sets. The two regular expression engines word a syntax error differently, so the
    // line after "Error parsing regex, skipping" (the engine's message) is left out.
    let comparable = |stderr: &str, tool: &str| {
        let mut lines = log_lines(stderr, tool);
        let mut index = 0;
        while index < lines.len() {
            if lines[index].contains("Error parsing regex, skipping") && index + 1 < lines.len() {
                lines.remove(index + 1);
            }
            index += 1;
        }
        lines.sort();
        lines
    };
    assert_eq!(
        comparable(&pair.skopos.stderr, "skopos"),
        comparable(&pair.skopeo.stderr, "skopeo")
    );
}

#[test]
fn dry_run_writes_nothing_and_logs_the_counts() {
    let workspace = Workspace::new();
    let registry = registry_with_two_tags(&workspace, "src/app");
    let host = &registry.host;
    let outcome = workspace.skopos(&[
        "--insecure-policy",
        "sync",
        "--dry-run",
        "--src",
        "docker",
        "--dest",
        "docker",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("{host}/src/app"),
        &format!("{host}/mirror"),
    ]);
    outcome.assert_success();
    let lines = log_lines(&outcome.stderr, "skopos");
    for expected in [
        "level=warning msg=\"Running in dry-run mode\"".to_string(),
        format!("level=info msg=\"Would have copied image ref 2/2\" from=\"docker://{host}/src/app:v2\" to=\"docker://{host}/mirror/app:v2\""),
        "level=info msg=\"Would have synced 2 images from 1 sources\"".to_string(),
    ] {
        assert!(lines.contains(&expected), "no `{expected}` in:\n{}", outcome.stderr);
    }
    assert!(outcome.stdout.is_empty(), "{}", outcome.stdout);
    assert!(!registry_has(
        &workspace,
        &format!("docker://{host}/mirror/app:v1")
    ));
    // To `dir`, skopeo 1.9.3 still creates the (empty) image directories in a dry run.
    let pair = workspace.run_both(&[
        "sync",
        "--dry-run",
        "--src",
        "docker",
        "--dest",
        "dir",
        "--src-tls-verify=false",
        &format!("{host}/src/app"),
        "dry-@WHO",
    ]);
    pair.assert_same_stdout();
    assert_same_tree(&workspace.path("dry-skopos"), &workspace.path("dry-skopeo"));
    assert!(!workspace.path("dry-skopos/app:v1/manifest.json").exists());
    assert_eq!(
        log_lines(&pair.skopos.stderr, "skopos"),
        log_lines(&pair.skopeo.stderr, "skopeo")
    );
}

#[test]
fn keep_going_copies_the_rest_and_fails_at_the_end() {
    let workspace = Workspace::new();
    let registry = registry_with_two_tags(&workspace, "src/app");
    let host = &registry.host;
    let yaml =
        format!("{host}:\n  tls-verify: false\n  images:\n    src/app: [\"missing\", \"v1\"]\n");
    std::fs::write(workspace.path("sync.yaml"), yaml).expect("writing the YAML file");
    // With --keep-going: the missing tag is logged, v1 still arrives, the run fails.
    let outcome = workspace.skopos(&[
        "--insecure-policy",
        "sync",
        "--keep-going",
        "--src",
        "yaml",
        "--dest",
        "dir",
        "sync.yaml",
        "kept",
    ]);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert!(workspace.path("kept/app:v1/manifest.json").is_file());
    let lines = log_lines(&outcome.stderr, "skopos");
    let error_line = format!(
        "level=error msg=\"Error copying ref \\\"docker://{host}/src/app:missing\\\"\" error="
    );
    assert!(
        lines.iter().any(|line| line.starts_with(&error_line)),
        "no `{error_line}` in:\n{}",
        outcome.stderr
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("level=fatal msg=\"Sync failed due to previous reported error(s) for one or more images\"")
    );
    // Without it: the first failure ends the run and v1 is never copied, as in skopeo.
    let pair = workspace.run_both(&[
        "sync",
        "--src",
        "yaml",
        "--dest",
        "dir",
        "sync.yaml",
        "stopped-@WHO",
    ]);
    // skopeo 1.9.3 exits 1 here; exit 2 for a missing image came in skopeo 1.16. 1.9.3 also
    // repeats the code before its default message, which 1.22 drops.
    assert_eq!(pair.skopeo.code, Some(1), "{}", pair.skopeo.stderr);
    assert_eq!(pair.skopos.code, Some(2), "{}", pair.skopos.stderr);
    let last_message = |stderr: &str| skopeo_message(stderr.lines().last().unwrap_or_default());
    assert_eq!(
        last_message(&pair.skopos.stderr),
        last_message(&pair.skopeo.stderr)
            .replace("manifest unknown: manifest unknown", "manifest unknown")
    );
    assert!(last_message(&pair.skopos.stderr).starts_with(&format!(
        "Error copying ref \"docker://{host}/src/app:missing\": "
    )));
    for tool in ["skopos", "skopeo"] {
        assert!(!workspace.path(&format!("stopped-{tool}/app:v1")).exists());
    }
}

#[test]
fn validation_errors_match_skopeo() {
    let workspace = Workspace::new();
    common::create_dir(&workspace.path("empty"));
    common::create_dir(&workspace.path("exists/one"));
    dir_tree(&workspace);
    let cases: &[&[&str]] = &[
        &["--dest", "dir", "a", "b"],
        &["--src", "bogus", "--dest", "dir", "a", "b"],
        &["--src", "docker", "a", "b"],
        // `oci` is upstream's pull request #2804 (see below); neither accepts `oci-archive`.
        &["--src", "docker", "--dest", "oci-archive", "a", "b"],
        &["--src", "dir", "--dest", "dir", "a", "b"],
        &["--src", "dir", "--dest", "docker", "missing", "x/y"],
        &["--src", "dir", "--dest", "docker", "empty", "x/y"],
        &["--src", "yaml", "--dest", "dir", "missing.yaml", "out"],
        &["--src", "docker", "--dest", "dir", "UPPER/Case", "out"],
        &["--src", "dir", "--dest", "dir", "empty", "out"],
        &[
            "--src", "docker", "--dest", "dir", "--format", "v3", "a:1", "out",
        ],
        &["--src", "dir", "--dest", "docker", "tree", "Bad/Dest"],
    ];
    for case in cases {
        let mut args = vec!["--insecure-policy", "sync"];
        args.extend_from_slice(case);
        let skopeo = workspace.skopeo(&args);
        let skopos = workspace.skopos(&args);
        assert_one_line_failure(&skopeo, Some(1));
        assert_one_line_failure(&skopos, Some(1));
        assert_eq!(
            skopeo_message(&skopos.stderr),
            skopeo_message(&skopeo.stderr),
            "sync {case:?}"
        );
    }
}

/// skopeo 1.22.2 (unlike 1.9.3, which printed the usage on stdout and exited 0) prints the
/// help on stderr and fails; `help_1_22.rs` compares the bytes.
#[test]
fn wrong_argument_count_prints_the_usage_on_stderr_and_fails_like_skopeo_1_22() {
    let workspace = Workspace::new();
    for args in [
        &["sync", "--src", "docker", "--dest", "dir", "only-one"][..],
        &["sync", "--src", "docker", "--dest", "dir", "a", "b", "c"][..],
    ] {
        let skopos = workspace.skopos(args);
        assert_eq!(skopos.code, Some(1), "{args:?}");
        assert_eq!(skopos.stdout, "");
        assert!(skopos.stderr.contains("\nUsage:\n"), "{}", skopos.stderr);
        assert_eq!(
            skopeo_message(skopos.stderr.lines().last().unwrap_or_default()),
            "Exactly two arguments expected"
        );
    }
}

#[test]
fn all_and_format_reach_the_copy_like_skopeo() {
    let workspace = Workspace::new();
    let registry = TestRegistry::start(RegistryOptions::default());
    let host = &registry.host;
    workspace.multi_arch("index", "t");
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--all",
            "--dest-tls-verify=false",
            "oci:index:t",
            &format!("docker://{host}/multi/app:t"),
        ])
        .assert_success();
    let single = small_image(&workspace, "src", "s", 64);
    push(
        &workspace,
        &single,
        &format!("docker://{host}/single/app:s"),
    );
    for (flags, repository, out) in [
        (&["--all"][..], "multi/app", "all-@WHO"),
        (&[][..], "multi/app", "system-@WHO"),
        (&["--format", "v2s2"][..], "single/app", "v2s2-@WHO"),
    ] {
        let mut owned = common::sync_registry_to_dir(&format!("{host}/{repository}"), out);
        for (position, flag) in flags.iter().enumerate() {
            owned.insert(1 + position, flag.to_string());
        }
        let args: Vec<&str> = owned.iter().map(String::as_str).collect();
        workspace.run_both(&args).assert_both_succeed();
        assert_same_tree(
            &workspace.path(&out.replace(WHO, "skopos")),
            &workspace.path(&out.replace(WHO, "skopeo")),
        );
    }
}

#[test]
fn append_suffix_and_digestfile_name_the_copied_images() {
    let workspace = Workspace::new();
    let registry = registry_with_two_tags(&workspace, "src/app");
    let host = &registry.host;
    workspace
        .skopos(&[
            "--insecure-policy",
            "sync",
            "--src",
            "docker",
            "--dest",
            "docker",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--append-suffix=-mirror",
            "--digestfile",
            "digests",
            &format!("{host}/src/app"),
            &format!("{host}/m"),
        ])
        .assert_success();
    let mut expected = String::new();
    for tag in ["v1", "v2"] {
        let digest =
            common::registry_manifest_digest(&workspace, &format!("docker://{host}/src/app:{tag}"));
        assert_eq!(
            common::registry_manifest_digest(
                &workspace,
                &format!("docker://{host}/m/app:{tag}-mirror")
            ),
            digest
        );
        expected.push_str(&format!("{digest} docker://{host}/m/app:{tag}-mirror\n"));
    }
    assert_eq!(
        String::from_utf8_lossy(&common::read(&workspace.path("digests"))),
        expected
    );
}

/// skopeo 1.9.3 went on with a warning and no tags when the registry refused the tag list;
/// skopeo 1.11 dropped that: the sync fails, naming the refusal.
#[test]
fn a_registry_refusing_the_tag_list_fails_the_sync_as_in_skopeo_1_22() {
    let workspace = Workspace::new();
    let registry = TestRegistry::start(RegistryOptions {
        htpasswd_user: Some(("user", "secret")),
        ..RegistryOptions::default()
    });
    let host = &registry.host;
    let repository = format!("{host}/private/app");
    let args = common::sync_registry_to_dir(&repository, "out-@WHO");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let pair = workspace.run_both(&args);
    assert_eq!(pair.skopeo.code, Some(1), "{}", pair.skopeo.stderr);
    assert_eq!(pair.skopos.code, Some(1), "{}", pair.skopos.stderr);
    let lines = log_lines(&pair.skopos.stderr, "skopos");
    assert_eq!(
        lines.last().map(String::as_str),
        Some(format!(
            "level=fatal msg=\"Error determining repository tags for repo {host}/private/app: fetching tags list: authentication required\""
        ).as_str()),
        "{lines:?}"
    );
    assert!(!workspace.path("out-skopos").exists());
    let mut newest_args = vec!["--insecure-policy".to_string()];
    newest_args.extend(common::sync_registry_to_dir(&repository, "out-newest"));
    let newest_args: Vec<&str> = newest_args.iter().map(String::as_str).collect();
    let newest = workspace.skopeo_1_22(
        "sync: a refused tag list compared with skopeo 1.22.2",
        &[],
        &newest_args,
    );
    if let Some(newest) = newest {
        assert_eq!(newest.code, Some(1), "{}", newest.stderr);
        assert_eq!(lines, log_lines(&newest.stderr, "skopeo"));
    }
}

#[test]
fn remove_signatures_drops_what_the_registry_cannot_store() {
    let workspace = Workspace::new();
    let registry = TestRegistry::start(RegistryOptions::default());
    let host = &registry.host;
    dir_tree(&workspace);
    // Signatures are opaque to a copy under the insecure policy.
    std::fs::write(
        workspace.path("tree/a/one/signature-1"),
        b"not really a signature",
    )
    .expect("writing a signature file");
    let sync = |flags: &[&str], destination: &str| {
        let mut args = vec![
            "sync",
            "--src",
            "dir",
            "--dest",
            "docker",
            "--dest-tls-verify=false",
        ];
        args.extend_from_slice(flags);
        let destination = format!("{host}/{destination}");
        args.extend(["tree/a/one", destination.as_str()]);
        workspace.run_both(&args)
    };
    // Without the flag both tools refuse the signature: it is not one.
    let refused = sync(&[], "signed-@WHO");
    assert_eq!(refused.skopeo.code, Some(1), "{}", refused.skopeo.stderr);
    assert_eq!(refused.skopos.code, Some(1), "{}", refused.skopos.stderr);
    let removed = sync(&["--remove-signatures"], "unsigned-@WHO");
    removed.assert_both_succeed();
    // No "Getting image source signatures" when they are removed.
    removed.assert_same_stdout();
    assert_eq!(
        common::registry_manifest_digest(
            &workspace,
            &format!("docker://{host}/unsigned-skopos/one:latest")
        ),
        common::registry_manifest_digest(
            &workspace,
            &format!("docker://{host}/unsigned-skopeo/one:latest")
        )
    );
}

/// The `org.opencontainers.image.ref.name` and digest of each entry of a layout's index.
fn layout_names(workspace: &Workspace, layout: &str) -> Vec<(String, String)> {
    let index = common::parse_json(&common::read(&workspace.path(layout).join("index.json")));
    index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("an index without manifests: {index}"))
        .iter()
        .map(|entry| {
            (
                entry["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                entry["digest"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// `--src oci` and `--dest oci`, with the interface of upstream skopeo's pull request
/// #2804 (skopeo 1.22.2 has neither): a source layout's images are its `index.json` entries
/// with a ref-name annotation, `oci:SOURCE:NAME`; a destination is one layout, each image
/// named as the other transports would name its path below DESTINATION (`--scoped`,
/// `--append-suffix`); `--all` reaches the copy; an image already in the layout is skipped.
#[test]
fn oci_layouts_sync_to_and_from_registries_and_each_other() {
    let workspace = Workspace::new();
    let registry = registry_with_two_tags(&workspace, "src/app");
    let host = &registry.host;
    let sync = |args: &[&str]| {
        let mut all = vec![
            "--insecure-policy",
            "sync",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ];
        all.extend_from_slice(args);
        workspace.skopos(&all)
    };
    let digest = |tag: &str| {
        common::registry_manifest_digest(&workspace, &format!("docker://{host}/src/app:{tag}"))
    };

    // docker -> oci, scoped: the pull request's own example, into one layout.
    let scoped = sync(&[
        "--src",
        "docker",
        "--dest",
        "oci",
        "--scoped",
        &format!("{host}/src/app"),
        "mirror",
    ]);
    scoped.assert_success();
    for expected in [
        format!("msg=\"Copying image ref 1/2\" from=\"docker://{host}/src/app:v1\" to=\"oci:mirror:{host}/src/app:v1\""),
        format!("msg=\"Copying image ref 2/2\" from=\"docker://{host}/src/app:v2\" to=\"oci:mirror:{host}/src/app:v2\""),
        "msg=\"Synced 2 images from 1 sources\"".to_string(),
    ] {
        assert!(scoped.stderr.contains(&expected), "no `{expected}` in:\n{}", scoped.stderr);
    }
    assert_eq!(
        layout_names(&workspace, "mirror"),
        [
            (format!("{host}/src/app:v1"), digest("v1")),
            (format!("{host}/src/app:v2"), digest("v2")),
        ]
    );

    // oci -> docker: every named image of the layout, by its name's last element.
    let back = sync(&[
        "--src",
        "oci",
        "--dest",
        "docker",
        "mirror",
        &format!("{host}/back"),
    ]);
    back.assert_success();
    assert!(
        back.stderr.contains(&format!(
            "msg=\"Copying image ref 1/2\" from=\"oci:mirror:{host}/src/app:v1\" to=\"docker://{host}/back/app:v1\""
        )),
        "{}",
        back.stderr
    );
    for tag in ["v1", "v2"] {
        assert_eq!(
            common::registry_manifest_digest(
                &workspace,
                &format!("docker://{host}/back/app:{tag}")
            ),
            digest(tag)
        );
    }

    // oci -> oci into a layout named by an absolute path, with a suffix; the second run
    // finds both images there.
    let again = workspace.path("again");
    let again = again.to_string_lossy();
    let args = [
        "--src",
        "oci",
        "--dest",
        "oci",
        "--append-suffix",
        "-copy",
        "mirror",
        &again,
    ];
    let first = sync(&args);
    first.assert_success();
    assert!(
        first
            .stderr
            .contains(&format!("to=\"oci:{again}:app:v2-copy\"")),
        "{}",
        first.stderr
    );
    assert_eq!(
        layout_names(&workspace, "again"),
        [
            ("app:v1-copy".to_string(), digest("v1")),
            ("app:v2-copy".to_string(), digest("v2")),
        ]
    );
    let second = sync(&args);
    second.assert_success();
    assert_eq!(
        second
            .stdout
            .matches("Skipping: image already present at destination\n")
            .count(),
        2,
        "{}",
        second.stdout
    );

    // --all copies a list whole (without it, one instance is copied).
    let list = workspace.multi_arch("multi", "list");
    sync(&["--all", "--src", "oci", "--dest", "oci", "multi", "all"]).assert_success();
    assert_eq!(
        layout_names(&workspace, "all"),
        [("list".to_string(), list.index.digest.clone())]
    );

    // A layout without named images syncs nothing; one that is missing or names an image
    // badly stops in one line with the pull request's messages.
    common::create_dir(&workspace.path("unnamed"));
    std::fs::write(
        workspace.path("unnamed/index.json"),
        r#"{"schemaVersion":2,"manifests":[]}"#,
    )
    .expect("writing an index");
    let empty = sync(&["--src", "oci", "--dest", "oci", "unnamed", "out"]);
    empty.assert_success();
    assert!(
        empty.stderr.contains("Synced 0 images from 1 sources"),
        "{}",
        empty.stderr
    );
    let missing = sync(&[
        "--src",
        "oci",
        "--dest",
        "docker",
        "nowhere",
        &format!("{host}/x"),
    ]);
    assert_one_line_failure(&missing, Some(1));
    assert_eq!(
        skopeo_message(&missing.stderr),
        "Failed to retrieve list of images from oci \"nowhere\": failed to open file: open nowhere/index.json: no such file or directory"
    );
    std::fs::write(
        workspace.path("unnamed/index.json"),
        r#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2,"annotations":{"org.opencontainers.image.ref.name":"Bad Name"}}]}"#,
    )
    .expect("writing an index");
    let bad = sync(&[
        "--src",
        "oci",
        "--dest",
        "docker",
        "unnamed",
        &format!("{host}/x"),
    ]);
    assert_one_line_failure(&bad, Some(1));
    assert_eq!(
        skopeo_message(&bad.stderr),
        "Failed to retrieve list of images from oci \"unnamed\": Cannot obtain a valid image reference for transport \"oci\" and reference \"unnamed:Bad Name\": Invalid image Bad Name"
    );
}
