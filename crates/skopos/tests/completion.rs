//! The hidden `completion` command: skopeo 1.22.2's (cobra's) help texts and argument
//! handling, and scripts that complete skopos's commands and flags.

mod common;

use std::process::Command;

use common::{Outcome, Workspace};

const SHELLS: [&str; 4] = ["bash", "zsh", "fish", "powershell"];

/// The description part of a cobra or clap help text: everything before its usage line.
fn description(help: &str) -> &str {
    let end = help.find("\nUsage:").unwrap_or(help.len());
    &help[..end]
}

#[test]
fn help_texts_are_skopeo_1_22s() {
    let workspace = Workspace::new();
    let mut commands = vec![vec!["completion", "--help"]];
    commands.extend(
        SHELLS
            .iter()
            .map(|shell| vec!["completion", shell, "--help"]),
    );
    for args in commands {
        let skopos = workspace.skopos(&args);
        skopos.assert_success();
        let text = description(&skopos.stdout);
        assert!(
            text.starts_with("Generate the autocompletion script for "),
            "{text}"
        );
        if args.len() == 3 {
            let shell = args[1];
            assert!(
                text.contains(&format!("skopos completion {shell}")),
                "{args:?}: {text}"
            );
        }
        let what = format!("skopos {} against skopeo 1.22.2", args.join(" "));
        if let Some(skopeo) = workspace.skopeo_1_22(&what, &[], &args) {
            skopeo.assert_success();
            let expected = description(&skopeo.stdout).replace("skopeo", "skopos");
            assert_eq!(text, expected, "{what}");
        }
    }
}

#[test]
fn no_shell_shows_the_help_and_extra_words_are_refused() {
    let workspace = Workspace::new();
    for args in [vec!["completion"], vec!["completion", "tcsh"]] {
        let outcome = workspace.skopos(&args);
        outcome.assert_success();
        assert!(
            outcome.stdout.starts_with(
                "Generate the autocompletion script for skopos for the specified shell.\n"
            ),
            "{args:?}: {}",
            outcome.stdout
        );
    }
    let extra = workspace.skopos(&["completion", "bash", "extra"]);
    common::assert_one_line_failure(&extra, Some(1));
    assert!(
        extra
            .stderr
            .contains(r#"unknown command \"extra\" for \"skopos completion bash\""#),
        "{}",
        extra.stderr
    );
    if let Some(skopeo) = workspace.skopeo_1_22(
        "completion with an extra word against skopeo 1.22.2",
        &[],
        &["completion", "bash", "extra"],
    ) {
        assert_eq!(skopeo.code, extra.code);
        assert_eq!(
            common::skopeo_message(&skopeo.stderr).replace("skopeo", "skopos"),
            common::skopeo_message(&extra.stderr)
        );
    }
}

fn script(workspace: &Workspace, args: &[&str]) -> String {
    let outcome: Outcome = workspace.skopos(args);
    outcome.assert_success();
    assert!(outcome.stderr.is_empty(), "{}", outcome.stderr);
    outcome.stdout
}

/// What the bash script offers for the command line `words` (the last one being completed).
fn bash_offers(script_path: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let current = words.last().copied().unwrap_or_default();
    let previous = words[words.len().saturating_sub(2)];
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\n_skopos skopos '{current}' '{previous}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script_path.display(),
        quoted.join(" "),
        words.len() - 1
    );
    let output = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .unwrap_or_else(|error| panic!("running bash: {error}"));
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_script_completes_commands_and_flags() {
    let workspace = Workspace::new();
    let path = workspace.path("skopos.bash");
    std::fs::write(&path, script(&workspace, &["completion", "bash"])).unwrap();
    assert_eq!(bash_offers(&path, &["skopos", "co"]), ["copy"]);
    let flags = bash_offers(&path, &["skopos", "copy", "--dest-compress-f"]);
    assert_eq!(flags, ["--dest-compress-format"]);
    let globals = bash_offers(&path, &["skopos", "inspect", "--insecure-p"]);
    assert_eq!(globals, ["--insecure-policy"]);
}

#[test]
fn every_shell_gets_a_script_and_no_descriptions_drops_the_descriptions() {
    let workspace = Workspace::new();
    let zsh = script(&workspace, &["completion", "zsh"]);
    assert!(zsh.starts_with("#compdef skopos\n"), "{zsh}");
    let fish = script(&workspace, &["completion", "fish"]);
    assert!(fish.contains("complete -c skopos "), "{fish}");
    let powershell = script(&workspace, &["completion", "powershell"]);
    assert!(
        powershell.contains("Register-ArgumentCompleter -Native -CommandName 'skopos'"),
        "{powershell}"
    );
    for (shell, full) in [("zsh", &zsh), ("fish", &fish), ("powershell", &powershell)] {
        assert!(full.contains("enable debug output"), "{shell}: {full}");
        let bare = script(&workspace, &["completion", shell, "--no-descriptions"]);
        assert!(!bare.contains("enable debug output"), "{shell}: {bare}");
        assert!(bare.contains("debug"), "{shell}: {bare}");
    }
}
