//! Command-line surface: help, version, global flags, bad references and their exit codes.

mod common;

use common::{assert_one_line_failure, skopeo_message, Workspace};

/// The subcommand names listed in a help text (clap's `Commands:` or cobra's
/// `Available Commands:` section), without `help`.
fn listed_subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| !line.trim_end().ends_with("Commands:"))
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn help_exits_zero_and_lists_copy_and_inspect() {
    let workspace = Workspace::new();
    let help = workspace.skopos(&["--help"]);
    help.assert_success();
    let subcommands = listed_subcommands(&help.stdout);
    for expected in ["copy", "inspect"] {
        assert!(
            subcommands.iter().any(|name| name == expected),
            "`skopos --help` should list {expected}; it lists {subcommands:?}\n{}",
            help.stdout
        );
    }
}

#[test]
fn every_subcommand_help_exits_zero() {
    let workspace = Workspace::new();
    let help = workspace.skopos(&["--help"]);
    help.assert_success();
    let subcommands = listed_subcommands(&help.stdout);
    assert!(
        !subcommands.is_empty(),
        "no subcommands in:\n{}",
        help.stdout
    );
    for subcommand in &subcommands {
        let outcome = workspace.skopos(&[subcommand, "--help"]);
        outcome.assert_success();
        assert!(
            !outcome.stdout.trim().is_empty(),
            "`skopos {subcommand} --help` printed nothing"
        );
    }
}

#[test]
fn help_subcommand_exits_zero_like_skopeo() {
    let workspace = Workspace::new();
    for args in [
        &["help"][..],
        &["help", "copy"][..],
        &["help", "inspect"][..],
    ] {
        let pair = workspace.run_both(args);
        pair.assert_both_succeed();
        assert!(
            !pair.skopos.stdout.trim().is_empty(),
            "`{}` printed nothing",
            pair.skopos.command
        );
    }
}

#[test]
fn version_prints_skopos_version_and_semver() {
    let workspace = Workspace::new();
    for flag in ["--version", "-v"] {
        let outcome = workspace.skopos(&[flag]);
        outcome.assert_success();
        let line = outcome.stdout.trim_end_matches('\n');
        let version = line
            .strip_prefix("skopos version ")
            .unwrap_or_else(|| panic!("`skopos {flag}` printed {line:?}"));
        let number = version.split(' ').next().unwrap_or_default();
        let parts: Vec<&str> = number.split('.').collect();
        assert!(
            parts.len() == 3
                && parts
                    .iter()
                    .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit())),
            "`skopos {flag}` should print `skopos version X.Y.Z`, printed {line:?}"
        );
    }
}

#[test]
fn unknown_transport_fails_with_exit_1_naming_the_transport() {
    let workspace = Workspace::new();
    let expected = r#"Invalid image name "foo:bar", unknown transport "foo""#;
    for args in [
        &["--insecure-policy", "inspect", "foo:bar"][..],
        &["--insecure-policy", "copy", "foo:bar", "dir:out"][..],
    ] {
        let outcome = workspace.skopos(args);
        assert_one_line_failure(&outcome, Some(1));
        assert!(
            skopeo_message(&outcome.stderr).contains(expected),
            "`{}` should say {expected:?}, said: {}",
            outcome.command,
            outcome.stderr
        );
    }
}

#[test]
fn missing_image_in_oci_layout_exits_2() {
    let workspace = Workspace::new();
    workspace.image("src", "present", 1);
    for args in [
        &["--insecure-policy", "inspect", "oci:src:absent"][..],
        &["--insecure-policy", "copy", "oci:src:absent", "dir:out"][..],
    ] {
        let outcome = workspace.skopos(args);
        assert_one_line_failure(&outcome, Some(2));
        assert!(
            outcome.stderr.contains("absent"),
            "the error should name the missing reference: {}",
            outcome.stderr
        );
    }
}

#[test]
fn skopeo_global_flags_are_accepted_like_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 1);
    common::create_dir(&workspace.path("registries.d"));
    common::create_dir(&workspace.path("tmp"));
    let pair = workspace.run_both(&[
        "--debug",
        "--command-timeout",
        "60s",
        "--registries.d",
        "registries.d",
        "--tmpdir",
        "tmp",
        "--override-os",
        "linux",
        "--override-arch",
        "amd64",
        "inspect",
        "oci:src:t",
    ]);
    pair.assert_same_inspect_json();
}

#[test]
fn policy_file_accepting_anything_allows_a_copy_without_insecure_policy() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 1);
    let policy = workspace.path("policy.json");
    std::fs::write(
        &policy,
        br#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap_or_else(|error| panic!("writing {}: {error}", policy.display()));
    let runners: [fn(&Workspace, &[&str]) -> common::Outcome; 2] =
        [Workspace::skopeo, Workspace::skopos];
    for run in runners {
        run(
            &workspace,
            &[
                "--policy",
                "policy.json",
                "copy",
                "-q",
                "oci:src:t",
                "dir:out-policy",
            ],
        )
        .assert_success();
        std::fs::remove_dir_all(workspace.path("out-policy"))
            .unwrap_or_else(|error| panic!("removing out-policy: {error}"));
    }
}

#[test]
fn bad_references_fail_with_exit_1_and_skopeos_message() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 1);
    for reference in [
        "docker://UPPER/case",
        "docker:busybox",
        "docker://busybox@sha256:abc",
        "oci:src:bad tag",
    ] {
        let expected = workspace.skopeo(&["--insecure-policy", "inspect", reference]);
        assert_eq!(
            expected.code,
            Some(1),
            "skopeo on {reference}: {expected:?}"
        );
        let message = skopeo_message(&expected.stderr);
        // The part after `Error parsing image name "…": ` is the reference parser's own text.
        let reason = message.rsplit(": ").next().unwrap_or(&message);
        let outcome = workspace.skopos(&["--insecure-policy", "inspect", reference]);
        assert_one_line_failure(&outcome, Some(1));
        assert!(
            skopeo_message(&outcome.stderr).contains(reason),
            "skopos on {reference:?} should say {reason:?} like skopeo; said: {}",
            outcome.stderr
        );
    }
}

/// Runs `args` through both tools and checks that skopos fails like skopeo: exit code 1, no
/// panic, and a message containing `expected` (which skopeo's message must contain too).
fn assert_fails_like_skopeo(args: &[&str], expected: &str) {
    let workspace = Workspace::new();
    workspace.image("src", "t", 1);
    let pair = workspace.run_both(args);
    assert_eq!(pair.skopeo.code, Some(1), "skopeo: {:?}", pair.skopeo);
    assert!(
        skopeo_message(&pair.skopeo.stderr).contains(expected),
        "skopeo's message changed: {}",
        pair.skopeo.stderr
    );
    assert!(
        !pair.skopos.stderr.contains("panicked"),
        "{}",
        pair.skopos.stderr
    );
    assert_eq!(
        pair.skopos.code,
        Some(1),
        "exit code of `{}` (stderr: {})",
        pair.skopos.command,
        pair.skopos.stderr
    );
    assert!(
        skopeo_message(&pair.skopos.stderr).contains(expected),
        "`{}` should say {expected:?}; said: {}",
        pair.skopos.command,
        pair.skopos.stderr
    );
}

#[test]
fn dest_compress_with_dest_decompress_is_an_error_like_skopeo() {
    assert_fails_like_skopeo(
        &[
            "copy",
            "--dest-compress",
            "--dest-decompress",
            "oci:src:t",
            "dir:out-@WHO",
        ],
        "Cannot compress and decompress at the same time",
    );
}

#[test]
fn inspect_raw_with_format_is_an_error_like_skopeo() {
    assert_fails_like_skopeo(
        &["inspect", "--raw", "--format", "{{.Digest}}", "oci:src:t"],
        "raw output does not support format option",
    );
}

#[test]
fn inspect_without_an_image_is_an_error_like_skopeo() {
    assert_fails_like_skopeo(&["inspect"], "Exactly one argument expected");
}

#[test]
fn unknown_flag_exits_1_like_skopeo() {
    assert_fails_like_skopeo(
        &["copy", "--bogus-flag", "oci:src:t", "dir:out-@WHO"],
        "unknown flag: --bogus-flag",
    );
}

#[test]
fn unknown_subcommand_exits_1_like_skopeo() {
    assert_fails_like_skopeo(&["frobnicate"], "Unrecognized command");
}

/// Runs the skopos binary through a symlink named `name` in the workspace, with `args`.
fn run_as(workspace: &Workspace, name: &str, args: &[&str]) -> std::process::Output {
    let link = workspace.path(name);
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_skopos"), &link)
            .unwrap_or_else(|error| panic!("symlinking {}: {error}", link.display()));
    }
    std::process::Command::new(&link)
        .args(args)
        .env("HOME", workspace.path("home-skopos"))
        // The blob-info cache in the temp dir, not in /var/lib/containers (see common).
        .env("_CONTAINERS_ROOTLESS_UID", "1000")
        .env("XDG_DATA_HOME", workspace.path("home-skopos/data"))
        .output()
        .unwrap_or_else(|error| panic!("running {}: {error}", link.display()))
}

#[test]
fn invoked_as_skopeo_it_presents_itself_as_skopeo_and_as_skopos_it_stays_skopos() {
    let workspace = Workspace::new();
    let version = run_as(&workspace, "skopeo", &["--version"]);
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout),
        format!(
            "skopeo version 1.22.2 (skopos {})\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    // The pattern skopeo's systemtest/001-basic.bats checks.
    let status = std::process::Command::new("bash")
        .arg("-c")
        .arg(r#"[[ "$1" =~ skopeo\ version\ [0-9.]+ ]]"#)
        .arg("check")
        .arg(String::from_utf8_lossy(&version.stdout).as_ref())
        .status()
        .expect("bash runs");
    assert!(status.success(), "the bats pattern does not match");
    let help = run_as(&workspace, "skopeo", &["copy", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    assert!(help.contains("\nUsage:\nskopeo copy "), "{help}");
    assert!(!help.contains("skopos"), "{help}");
    let root_help =
        String::from_utf8_lossy(&run_as(&workspace, "skopeo", &["--help"]).stdout).into_owned();
    assert!(
        root_help.contains("\nUsage:\n  skopeo [flags]\n"),
        "{root_help}"
    );
    assert!(root_help.contains("Version for Skopeo"), "{root_help}");
    let unknown = run_as(&workspace, "skopeo", &["bogus"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("Unrecognized command `skopeo bogus`"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );

    let version = run_as(&workspace, "skopos", &["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&version.stdout),
        format!("skopos version {}\n", env!("CARGO_PKG_VERSION"))
    );
    let help = run_as(&workspace, "skopos", &["copy", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    assert!(help.contains("\nUsage:\nskopos copy "), "{help}");
}
