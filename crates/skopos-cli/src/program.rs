//! The name the program presents itself under. Installed or symlinked as `skopeo`, skopos
//! stands in for skopeo: scripts (and skopeo's own system tests) parse `skopeo --version`
//! and read usage texts naming `skopeo`, so it says `skopeo version 1.22.2 (skopos X.Y.Z)`
//! and names itself skopeo in help and usage texts. Under any other name it is skopos.

use std::ffi::OsStr;
use std::path::Path;
use std::sync::OnceLock;

use clap::{ArgMatches, CommandFactory as _, FromArgMatches as _};

use crate::cli::{Cli, Command};
use crate::help::HelpOutput;

/// `skopeo version 1.22.2 (skopos X.Y.Z)` after the program name: the skopeo release whose
/// behaviour skopos reproduces, then skopos's own version.
const SKOPEO_VERSION_TEXT: &str =
    concat!("version 1.22.2 (skopos ", env!("CARGO_PKG_VERSION"), ")");

/// `skopeo` when the program was started under that name, else `skopos`.
pub(crate) fn name() -> &'static str {
    static NAME: OnceLock<&'static str> = OnceLock::new();
    NAME.get_or_init(|| name_for(std::env::args_os().next().as_deref()))
}

/// The name to present for a program started as `argv0`.
fn name_for(argv0: Option<&OsStr>) -> &'static str {
    let invoked = argv0.and_then(|arg| Path::new(arg).file_name());
    if invoked == Some(OsStr::new("skopeo")) {
        "skopeo"
    } else {
        "skopos"
    }
}

/// The whole command line's definition, naming the program `program` in help, usage and
/// `--version`.
pub(crate) fn command_named(program: &'static str) -> clap::Command {
    let version = if program == "skopeo" {
        SKOPEO_VERSION_TEXT
    } else {
        crate::cli::VERSION_TEXT
    };
    let command = with_pflag_values(Cli::command())
        .name(program)
        .bin_name(program)
        .display_name(program)
        .version(version)
        .mut_arg("version", |arg| {
            // skopeo capitalises its own name here.
            let shown = if program == "skopeo" {
                "Skopeo"
            } else {
                program
            };
            arg.help(format!("Version for {shown}"))
        });
    let command = crate::completion::with_help_texts(command, program);
    skopos_only_flags_hidden(command, true)
}

/// Flags skopeo does not have (`--skopos-…`, `--progress-json-fd`). They work under either
/// name, but `--help` leaves them out so that it stays skopeo 1.22.2's byte for byte (scripts
/// and people compare it); the man pages and the README document them.
pub(crate) fn skopos_only_flags_hidden(command: clap::Command, hidden: bool) -> clap::Command {
    ["copy", "sync", "inspect"]
        .into_iter()
        .fold(command, |command, name| {
            command.mut_subcommand(name, |sub| {
                sub.mut_args(|arg| {
                    let skopos_only = arg
                        .get_long()
                        .is_some_and(|l| l.starts_with("skopos-") || l == "progress-json-fd");
                    if skopos_only {
                        arg.hide(hidden)
                    } else {
                        arg
                    }
                })
            })
        })
}

/// pflag gives a flag that takes a value the next word whatever it is (`--append-suffix -x`);
/// clap would take a word starting with `-` for a flag. Booleans, whose value is optional and
/// only given with `=`, keep clap's reading.
fn with_pflag_values(command: clap::Command) -> clap::Command {
    command
        .mut_args(|arg| {
            let optional_value = arg
                .get_num_args()
                .is_some_and(|range| range.min_values() == 0);
            if arg.get_long().is_some() && arg.get_action().takes_values() && !optional_value {
                arg.allow_hyphen_values(true)
            } else {
                arg
            }
        })
        .mut_subcommands(with_pflag_values)
}

/// The command line's definition under the name the program was started with.
pub(crate) fn command() -> clap::Command {
    command_named(name())
}

/// What the command line asks for.
pub(crate) enum Invocation {
    /// Run this command.
    Run(Box<Cli>),
    /// Print this help text on stdout (`-h`/`--help`, `help COMMAND`).
    Help(String),
    /// Print this on stderr and exit 0 (`help` of an unknown command, as cobra does).
    UnknownHelpTopic(String),
}

/// Parse the process's arguments.
pub(crate) fn parse() -> Result<Invocation, clap::Error> {
    let root = command();
    let matches: ArgMatches = root.clone().try_get_matches()?;
    let cli = Cli::from_arg_matches(&matches)?;
    if cli.global.help {
        let mut path: Vec<&str> = Vec::new();
        let mut level = &matches;
        while let Some((name, sub)) = level.subcommand() {
            path.push(name);
            level = sub;
        }
        if let Some(text) = crate::help::help_text(&root, name(), &path) {
            return Ok(Invocation::Help(text));
        }
        // Commands skopeo 1.22.2 has no usage template for (cobra's own `completion`, and
        // skopos's `generate-man-pages`): clap renders their help from their definitions.
        let mut current = root.clone();
        current.build();
        for name in &path {
            match current.find_subcommand(name) {
                // Built, so the copy keeps its full name for the usage line.
                Some(sub) => current = sub.clone(),
                None => break,
            }
        }
        return Ok(Invocation::Help(current.render_long_help().to_string()));
    }
    if let Some(Command::Help(args)) = &cli.command {
        return Ok(match crate::help::help_command(&root, name(), &args.args) {
            HelpOutput::Stdout(text) => Invocation::Help(text),
            HelpOutput::Stderr(text) => Invocation::UnknownHelpTopic(text),
        });
    }
    Ok(Invocation::Run(Box::new(cli)))
}

/// The help text of `command` (a subcommand's name) under the program's name, as a wrong
/// argument count prints it.
pub(crate) fn help_of(subcommand: &str) -> String {
    crate::help::help_text(&command(), name(), &[subcommand]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_follows_the_invoked_file_name() {
        assert_eq!(
            name_for(Some(OsStr::new("/usr/local/bin/skopeo"))),
            "skopeo"
        );
        assert_eq!(name_for(Some(OsStr::new("skopeo"))), "skopeo");
        assert_eq!(name_for(Some(OsStr::new("/usr/bin/skopos"))), "skopos");
        assert_eq!(name_for(Some(OsStr::new("skopeo-wrapper"))), "skopos");
        assert_eq!(name_for(None), "skopos");
    }

    #[test]
    fn version_and_usage_name_the_program() {
        for (program, version) in [
            (
                "skopeo",
                format!(
                    "skopeo version 1.22.2 (skopos {})\n",
                    env!("CARGO_PKG_VERSION")
                ),
            ),
            (
                "skopos",
                format!("skopos version {}\n", env!("CARGO_PKG_VERSION")),
            ),
        ] {
            let err = command_named(program)
                .try_get_matches_from([program, "--version"])
                .unwrap_err();
            assert_eq!(err.to_string(), version);
            let help = crate::help::help_text(&command_named(program), program, &["copy"])
                .expect("copy has a help text");
            assert!(
                help.contains(&format!("\nUsage:\n{program} copy ")),
                "{help}"
            );
        }
    }
}
