//! The man pages the binary writes (`generate-man-pages`, what `make docs` runs): one for the
//! program and one for every command its `--help` lists, each naming every flag that command's
//! `--help` lists, and each rendered by groff and man without a warning.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::Workspace;

/// The commands `skopos --help` lists (the lines under its commands heading).
fn listed_commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| !line.ends_with("ommands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// Every `--long-flag` in a help text, without `--help` (clap's own, which the pages name only
/// on skopos(1)).
fn long_flags(text: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for (start, _) in text.match_indices("--") {
        let rest = &text[start + 2..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
            .collect();
        let name = name.trim_end_matches(['-', '.']);
        if !name.is_empty() && name != "help" && !text[..start].ends_with('-') {
            flags.insert(format!("--{name}"));
        }
    }
    flags
}

/// The page's text as roff source with the escapes a flag name can carry undone.
fn page_text(path: &Path) -> String {
    String::from_utf8(common::read(path))
        .unwrap_or_else(|error| panic!("{} is not UTF-8: {error}", path.display()))
        .replace("\\-", "-")
        .replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
}

/// What `command` prints on stderr (warnings) and stdout, failing the test if it cannot run.
fn warnings_of(mut command: Command) -> String {
    let output = command.output().unwrap_or_else(|error| {
        panic!("running {command:?}: {error} (groff-base and man-db must be installed)")
    });
    assert!(output.status.success(), "{command:?} failed: {output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn every_command_has_a_page_naming_each_of_its_flags() {
    let workspace = Workspace::new();
    let pages = workspace.path("man1");
    workspace
        .skopos(&["generate-man-pages", pages.to_str().unwrap()])
        .assert_success();

    let help = workspace.skopos(&["--help"]);
    help.assert_success();
    let commands = listed_commands(&help.stdout);
    assert!(
        commands.len() >= 11 && commands.iter().any(|c| c == "copy"),
        "commands read from --help: {commands:?}\n{}",
        help.stdout
    );

    let mut expected: BTreeSet<String> = commands
        .iter()
        .map(|command| format!("skopos-{command}.1"))
        .collect();
    expected.insert("skopos.1".to_string());
    let written: BTreeSet<String> = std::fs::read_dir(&pages)
        .unwrap_or_else(|error| panic!("reading {}: {error}", pages.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written, expected, "pages written vs commands in --help");

    let root_page = page_text(&pages.join("skopos.1"));
    for flag in long_flags(&help.stdout) {
        assert!(root_page.contains(&flag), "skopos.1 does not name {flag}");
    }
    for command in &commands {
        let page = page_text(&pages.join(format!("skopos-{command}.1")));
        let help = workspace.skopos(&[command.as_str(), "--help"]);
        help.assert_success();
        let flags = long_flags(&help.stdout);
        assert!(
            !flags.is_empty() || command == "manifest-digest",
            "{command}: no flags?"
        );
        for flag in flags {
            // Global flags are listed in every command's --help, and documented on skopos(1).
            let documented = page.contains(&flag) || root_page.contains(&flag);
            assert!(documented, "skopos-{command}.1 does not name {flag}");
        }
        for section in [
            "SYNOPSIS",
            "DESCRIPTION",
            "EXAMPLES",
            "\"EXIT STATUS\"",
            "\"SEE ALSO\"",
        ] {
            assert!(
                page.contains(&format!(".SH {section}\n")),
                "skopos-{command}.1 has no {section} section"
            );
        }
    }
    let copy_page = page_text(&pages.join("skopos-copy.1"));
    for command_only_flag in ["--dest-compress-format", "--src-creds", "--multi-arch"] {
        assert!(copy_page.contains(command_only_flag), "{command_only_flag}");
    }
    assert!(copy_page.contains(".SH TRANSPORTS\n") && copy_page.contains("oci-archive:"));
}

#[test]
fn pages_render_without_warnings() {
    let workspace = Workspace::new();
    let pages = workspace.path("man1");
    workspace
        .skopos(&["generate-man-pages", pages.to_str().unwrap()])
        .assert_success();
    let mut checked = 0;
    for entry in std::fs::read_dir(&pages).unwrap() {
        let page = entry.unwrap().path();
        let mut groff = Command::new("groff");
        groff.args(["-man", "-ww", "-z"]).arg(&page);
        let groff_warnings = warnings_of(groff);
        assert_eq!(groff_warnings, "", "groff on {}", page.display());

        let mut man = Command::new("man");
        man.args(["-l", "--warnings=w"])
            .arg(&page)
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat");
        let output = man.output().unwrap_or_else(|error| {
            panic!("running man: {error} (groff-base and man-db must be installed)")
        });
        assert!(
            output.status.success(),
            "man -l {}: {output:?}",
            page.display()
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            "",
            "man -l {}",
            page.display()
        );
        let rendered = String::from_utf8_lossy(&output.stdout);
        assert!(rendered.contains("EXIT STATUS"), "{rendered}");
        checked += 1;
    }
    assert!(checked > 1, "only {checked} pages rendered");
}
