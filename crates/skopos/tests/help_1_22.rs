//! skopeo 1.22.2's command-line surface, byte for byte: the `--help` text of every command
//! (cobra's layout), `help COMMAND`, and what a wrong argument count prints (for `copy`,
//! `sync` and `list-tags` the command's help on stderr, then a fatal line, exit 1).
//!
//! The expected help texts are fixtures generated from skopeo 1.22.2
//! (`tests/fixtures/help-1.22.2/`, `skopeo CMD --help > CMD.txt`), so a run without the peer
//! still checks them; with `$SKOPEO_1_22` set, the live binary is compared too (which also
//! catches a stale fixture). skopos runs through a symlink named `skopeo`, as a drop-in is
//! installed, so that it names itself skopeo.

mod common;

use std::path::PathBuf;

use common::{skopeo_message, Outcome, Workspace};

/// Every subcommand with a help text of its own (hidden ones included).
const COMMANDS: &[&str] = &[
    "copy",
    "delete",
    "experimental-image-proxy",
    "generate-sigstore-key",
    "inspect",
    "layers",
    "list-tags",
    "login",
    "logout",
    "manifest-digest",
    "standalone-sign",
    "standalone-verify",
    "sync",
    "untrusted-signature-dump-without-verification",
];

/// The fixture `name.txt`: skopeo 1.22.2's help text.
fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/help-1.22.2")
        .join(format!("{name}.txt"));
    String::from_utf8(common::read(&path))
        .unwrap_or_else(|error| panic!("{} is not UTF-8: {error}", path.display()))
}

/// stderr with logrus's timestamps blanked, for comparing two runs.
fn without_timestamps(stderr: &str) -> String {
    stderr
        .lines()
        .map(|line| match line.strip_prefix("time=\"") {
            Some(rest) => match rest.split_once("\" ") {
                Some((_, after)) => format!("time=T {after}"),
                None => line.to_string(),
            },
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that `outcome` exited 0 and printed exactly `expected` on stdout and nothing on
/// stderr.
fn assert_prints(outcome: &Outcome, expected: &str) {
    assert_eq!(
        outcome.code,
        Some(0),
        "{}: {}",
        outcome.command,
        outcome.stderr
    );
    assert_eq!(
        outcome.stdout, expected,
        "stdout of `{}` differs from skopeo 1.22.2's",
        outcome.command
    );
    assert_eq!(outcome.stderr, "", "{}", outcome.command);
}

/// Runs `args` through skopeo 1.22.2, if it is there, and returns its outcome.
fn reference(workspace: &Workspace, args: &[&str]) -> Option<Outcome> {
    workspace.skopeo_1_22(
        &format!("comparing `skopeo {}` with skopeo 1.22.2", args.join(" ")),
        &[],
        args,
    )
}

#[test]
fn every_command_help_is_skopeo_1_22s_byte_for_byte() {
    let workspace = Workspace::new();
    let mut cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["--help"], fixture("root")),
        (vec!["-h"], fixture("root")),
        (vec!["help"], fixture("root")),
        (vec!["help", "--help"], fixture("help")),
        (vec!["help", "help"], fixture("help")),
    ];
    for command in COMMANDS {
        let text = fixture(command);
        cases.push((vec![command, "--help"], text.clone()));
        cases.push((vec![command, "-h"], text.clone()));
        cases.push((vec!["help", command], text.clone()));
        // cobra shows the help even with arguments that would otherwise be wrong.
        cases.push((vec![command, "--help", "x", "y", "z"], text));
    }
    for (args, expected) in &cases {
        assert_prints(&workspace.skopos_as_skopeo(args), expected);
        if let Some(skopeo) = reference(&workspace, args) {
            assert_prints(&skopeo, expected);
        }
    }
}

#[test]
fn help_texts_name_the_program_they_were_started_as() {
    let workspace = Workspace::new();
    let outcome = workspace.skopos(&["copy", "--help"]);
    let expected = fixture("copy")
        .replace(
            "\nskopeo copy [command options]",
            "\nskopos copy [command options]",
        )
        .replace("\nskopeo copy docker://", "\nskopos copy docker://");
    assert_prints(&outcome, &expected);
    let root = workspace.skopos(&["--help"]);
    assert_prints(
        &root,
        &fixture("root")
            .replace("skopeo [", "skopos [")
            .replace("help for skopeo", "help for skopos")
            .replace("Version for Skopeo", "Version for skopos"),
    );
}

#[test]
fn help_of_an_unknown_command_goes_to_stderr_with_the_root_usage() {
    let workspace = Workspace::new();
    let args = ["help", "nosuch"];
    let outcome = workspace.skopos_as_skopeo(&args);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "");
    // The root's usage without its description and, as cobra prints it here, without `-h`.
    let root = fixture("root");
    let usage = root
        .split_once("\n\n")
        .map(|(_, usage)| usage)
        .unwrap_or_default()
        .replace("  -h, --help                       help for skopeo\n", "");
    assert_eq!(
        outcome.stderr,
        format!("Unknown help topic [`nosuch`]\n{usage}")
    );
    if let Some(skopeo) = reference(&workspace, &args) {
        assert_eq!(skopeo.code, Some(0));
        assert_eq!(skopeo.stderr, outcome.stderr);
    }
}

#[test]
fn wrong_argument_counts_print_the_help_on_stderr_and_exit_1() {
    let workspace = Workspace::new();
    let cases: &[(&[&str], &str, &str)] = &[
        (&["copy"], "copy", "Exactly two arguments expected"),
        (&["copy", "a"], "copy", "Exactly two arguments expected"),
        (
            &["copy", "a", "b", "c"],
            "copy",
            "Exactly two arguments expected",
        ),
        (&["sync", "a"], "sync", "Exactly two arguments expected"),
        (
            &["sync", "--src", "dir", "--dest", "dir", "a", "b", "c"],
            "sync",
            "Exactly two arguments expected",
        ),
        (
            &["list-tags"],
            "list-tags",
            "Exactly one non-option argument expected",
        ),
        (
            &["list-tags", "docker://a", "docker://b"],
            "list-tags",
            "Exactly one non-option argument expected",
        ),
    ];
    for (args, command, message) in cases {
        let outcome = workspace.skopos_as_skopeo(args);
        assert_eq!(outcome.code, Some(1), "{}", outcome.command);
        assert_eq!(outcome.stdout, "", "{}", outcome.command);
        let help = fixture(command);
        let fatal = outcome
            .stderr
            .strip_prefix(help.as_str())
            .unwrap_or_else(|| {
                panic!(
                    "`{}` should print {command}'s help first on stderr:\n{}",
                    outcome.command, outcome.stderr
                )
            });
        assert_eq!(skopeo_message(fatal), *message, "{}", outcome.command);
        assert_eq!(fatal.lines().count(), 1, "{fatal}");
        if let Some(skopeo) = reference(&workspace, args) {
            assert_eq!(skopeo.code, Some(1));
            assert_eq!(skopeo.stdout, "");
            assert_eq!(
                without_timestamps(&skopeo.stderr),
                without_timestamps(&outcome.stderr)
            );
        }
    }
}

#[test]
fn other_wrong_argument_counts_are_one_fatal_line() {
    let workspace = Workspace::new();
    let cases: &[(&[&str], &str)] = &[
        (&["inspect"], "Exactly one argument expected"),
        (&["inspect", "a", "b"], "Exactly one argument expected"),
        (&["delete"], "Usage: delete imageReference"),
        (
            &["manifest-digest"],
            "Usage: skopeo manifest-digest manifest",
        ),
        (
            &["standalone-sign", "a"],
            "Usage: skopeo standalone-sign manifest docker-reference key-fingerprint -o signature",
        ),
        (
            &["standalone-verify", "a"],
            "Usage: skopeo standalone-verify manifest docker-reference key-fingerprint signature",
        ),
        (
            &["untrusted-signature-dump-without-verification"],
            "Usage: skopeo untrusted-signature-dump-without-verification signature",
        ),
        (
            &["generate-sigstore-key", "x"],
            "Usage: generate-sigstore-key --output-prefix PREFIX",
        ),
        (&["login"], "please provide a registry to log in to"),
        (
            &["login", "a", "b"],
            "login accepts only one registry to log in to",
        ),
        (&["logout"], "please provide a registry to log out from"),
        (
            &["logout", "a", "b"],
            "logout accepts only one registry to log out from",
        ),
        (
            &["experimental-image-proxy", "x"],
            "accepts 0 arg(s), received 1",
        ),
    ];
    for (args, message) in cases {
        let outcome = workspace.skopos_as_skopeo(args);
        common::assert_one_line_failure(&outcome, Some(1));
        assert_eq!(
            skopeo_message(&outcome.stderr),
            *message,
            "{}",
            outcome.command
        );
        if let Some(skopeo) = reference(&workspace, args) {
            assert_eq!(skopeo.code, Some(1));
            assert_eq!(
                without_timestamps(&skopeo.stderr),
                without_timestamps(&outcome.stderr)
            );
        }
    }
}

/// pflag gives a flag that takes a value the next word even when it starts with `-`, and
/// `--retry-times` takes any int (a negative count means no retry).
#[test]
fn flag_values_starting_with_a_dash_are_values_like_pflag() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 3);
    for (args, expected) in [
        (&["inspect", "--format", "-x", "oci:src:t"][..], "-x\n"),
        (
            &[
                "inspect",
                "--retry-times",
                "-1",
                "--format",
                "{{.Os}}",
                "oci:src:t",
            ][..],
            "linux\n",
        ),
    ] {
        let outcome = workspace.skopos_as_skopeo(args);
        assert_prints(&outcome, expected);
        if let Some(skopeo) = reference(&workspace, args) {
            assert_prints(&skopeo, expected);
        }
    }
}
