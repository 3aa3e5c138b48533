//! `completion bash|zsh|fish|powershell`: the hidden command skopeo gets from cobra, printing
//! a shell completion script. The scripts are clap_complete's, made from the same command
//! definition as `--help`, so they offer exactly the commands and flags the program parses;
//! the help texts are cobra's, naming the program as it was started (skopos or skopeo).

use std::io::Write as _;

use anyhow::{bail, Context as _};
use clap::{ArgAction, Args, Subcommand};
use clap_complete::Shell;

use crate::program;
use skopos_core::go::text::go_parse_bool;
use skopos_core::go::text::go_quote;

/// `completion [SHELL]`.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CompletionArgs {
    /// Words that name no shell: cobra shows the command's help for them, as for none.
    #[arg(value_name = "ARGS", hide = true)]
    pub args: Vec<String>,
    /// The shell to write a script for.
    #[command(subcommand)]
    pub shell: Option<ShellCommand>,
}

/// The shells cobra writes scripts for.
#[derive(Debug, Clone, Subcommand)]
pub enum ShellCommand {
    /// Generate the autocompletion script for bash
    Bash(ShellArgs),
    /// Generate the autocompletion script for fish
    Fish(ShellArgs),
    /// Generate the autocompletion script for powershell
    Powershell(ShellArgs),
    /// Generate the autocompletion script for zsh
    Zsh(ShellArgs),
}

/// The flags of `completion SHELL`.
#[derive(Debug, Clone, Args)]
pub struct ShellArgs {
    /// Unexpected words after the shell (refused, as cobra refuses them).
    #[arg(value_name = "ARGS", hide = true)]
    pub args: Vec<String>,
    /// disable completion descriptions
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        default_value = "false",
        hide_default_value = true,
        action = ArgAction::Set,
        value_parser = go_parse_bool
    )]
    pub no_descriptions: bool,
}

impl ShellCommand {
    /// The shell, its subcommand's name and its flags.
    fn parts(&self) -> (Shell, &'static str, &ShellArgs) {
        match self {
            ShellCommand::Bash(args) => (Shell::Bash, "bash", args),
            ShellCommand::Fish(args) => (Shell::Fish, "fish", args),
            ShellCommand::Powershell(args) => (Shell::PowerShell, "powershell", args),
            ShellCommand::Zsh(args) => (Shell::Zsh, "zsh", args),
        }
    }
}

/// What a run of `completion` prints.
pub(crate) enum CompletionOutput {
    /// The completion command's own long help (no shell named).
    Help,
    /// A completion script.
    Script(Vec<u8>),
}

/// The script `args` asks for, or the command's help when it names no shell.
pub(crate) fn run(args: &CompletionArgs) -> anyhow::Result<CompletionOutput> {
    let Some(shell_command) = &args.shell else {
        return Ok(CompletionOutput::Help);
    };
    let (shell, shell_name, shell_args) = shell_command.parts();
    let program = program::name();
    if let Some(extra) = shell_args.args.first() {
        bail!(
            "unknown command {} for {}",
            go_quote(extra),
            go_quote(&format!("{program} completion {shell_name}"))
        );
    }
    let mut command = without_hidden_commands(program::command(), program);
    if shell_args.no_descriptions {
        command = without_descriptions(command);
    }
    // clap_complete panics when its writer fails; it writes to memory, and the caller reports
    // a failing stdout (a closed pipe) as an error.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, program, &mut script);
    Ok(CompletionOutput::Script(script))
}

/// Prints the completion command's long help (cobra prints it when no shell is named).
pub(crate) fn print_help() -> anyhow::Result<()> {
    let mut root = program::command();
    root.build();
    let help = root
        .find_subcommand_mut("completion")
        .map(|completion| completion.render_long_help().to_string())
        .unwrap_or_default();
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(help.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing the help text")
}

/// The program's command line as completion offers it: without the hidden commands (as
/// cobra's completion leaves them out), which clap_complete would otherwise offer.
fn without_hidden_commands(root: clap::Command, program: &'static str) -> clap::Command {
    let visible: Vec<clap::Command> = root
        .get_subcommands()
        .filter(|command| !command.is_hide_set())
        .cloned()
        .collect();
    // `--version` needs a version text to be valid; completion never prints it.
    let mut completable = clap::Command::new(program)
        .version(crate::cli::VERSION_TEXT)
        .disable_version_flag(true)
        // The root's own `-h/--help` and `help` command come with its arguments and commands.
        .disable_help_flag(true)
        .disable_help_subcommand(true)
        .args(root.get_arguments().cloned())
        .subcommands(visible);
    if let Some(about) = root.get_about() {
        completable = completable.about(about.clone());
    }
    completable
}

/// `command` and all its subcommands without help texts: what `--no-descriptions` asks for,
/// since the zsh, fish and PowerShell scripts show each flag's and command's help text.
fn without_descriptions(command: clap::Command) -> clap::Command {
    command
        .about(None)
        .long_about(None)
        .mut_args(|arg| arg.help(None).long_help(None))
        .mut_subcommands(without_descriptions)
}

/// Gives the completion command and its shells cobra's long help texts, naming `program`.
pub(crate) fn with_help_texts(command: clap::Command, program: &str) -> clap::Command {
    command.mut_subcommand("completion", |completion| {
        completion
            .long_about(format!(
                "Generate the autocompletion script for {program} for the specified shell.\n\
                 See each sub-command's help for details on how to use the generated script.\n"
            ))
            .mut_subcommand("bash", |bash| bash.long_about(bash_help(program)))
            .mut_subcommand("zsh", |zsh| zsh.long_about(zsh_help(program)))
            .mut_subcommand("fish", |fish| fish.long_about(fish_help(program)))
            .mut_subcommand("powershell", |powershell| {
                powershell.long_about(powershell_help(program))
            })
    })
}

fn bash_help(program: &str) -> String {
    format!(
        "Generate the autocompletion script for the bash shell.\n\
         \n\
         This script depends on the 'bash-completion' package.\n\
         If it is not installed already, you can install it via your OS's package manager.\n\
         \n\
         To load completions in your current shell session:\n\
         \n\
         \tsource <({program} completion bash)\n\
         \n\
         To load completions for every new session, execute once:\n\
         \n\
         #### Linux:\n\
         \n\
         \t{program} completion bash > /etc/bash_completion.d/{program}\n\
         \n\
         #### macOS:\n\
         \n\
         \t{program} completion bash > $(brew --prefix)/etc/bash_completion.d/{program}\n\
         \n\
         You will need to start a new shell for this setup to take effect.\n"
    )
}

fn zsh_help(program: &str) -> String {
    format!(
        "Generate the autocompletion script for the zsh shell.\n\
         \n\
         If shell completion is not already enabled in your environment you will need\n\
         to enable it.  You can execute the following once:\n\
         \n\
         \techo \"autoload -U compinit; compinit\" >> ~/.zshrc\n\
         \n\
         To load completions in your current shell session:\n\
         \n\
         \tsource <({program} completion zsh)\n\
         \n\
         To load completions for every new session, execute once:\n\
         \n\
         #### Linux:\n\
         \n\
         \t{program} completion zsh > \"${{fpath[1]}}/_{program}\"\n\
         \n\
         #### macOS:\n\
         \n\
         \t{program} completion zsh > $(brew --prefix)/share/zsh/site-functions/_{program}\n\
         \n\
         You will need to start a new shell for this setup to take effect.\n"
    )
}

fn fish_help(program: &str) -> String {
    format!(
        "Generate the autocompletion script for the fish shell.\n\
         \n\
         To load completions in your current shell session:\n\
         \n\
         \t{program} completion fish | source\n\
         \n\
         To load completions for every new session, execute once:\n\
         \n\
         \t{program} completion fish > ~/.config/fish/completions/{program}.fish\n\
         \n\
         You will need to start a new shell for this setup to take effect.\n"
    )
}

fn powershell_help(program: &str) -> String {
    format!(
        "Generate the autocompletion script for powershell.\n\
         \n\
         To load completions in your current shell session:\n\
         \n\
         \t{program} completion powershell | Out-String | Invoke-Expression\n\
         \n\
         To load completions for every new session, add the output of the above command\n\
         to your powershell profile.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(shell: Shell, command: clap::Command) -> String {
        let mut command = command;
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut command, "skopos", &mut script);
        String::from_utf8(script).unwrap()
    }

    #[test]
    fn no_descriptions_drops_every_help_text() {
        let full = script(Shell::Fish, program::command_named("skopos"));
        assert!(full.contains("enable debug output"), "{full}");
        assert!(full.contains("Copy an IMAGE-NAME"), "{full}");
        let bare = script(
            Shell::Fish,
            without_descriptions(program::command_named("skopos")),
        );
        assert!(!bare.contains("enable debug output"), "{bare}");
        assert!(!bare.contains("Copy an IMAGE-NAME"), "{bare}");
        // The flags and commands themselves stay.
        assert!(bare.contains("-l debug") && bare.contains("copy"), "{bare}");
    }

    #[test]
    fn hidden_commands_are_not_offered() {
        let bash = script(
            Shell::Bash,
            without_hidden_commands(program::command_named("skopos"), "skopos"),
        );
        assert!(bash.contains("copy") && bash.contains("--dest-compress-format"));
        for hidden in [
            "completion",
            "generate-man-pages",
            "experimental-image-proxy",
        ] {
            assert!(!bash.contains(hidden), "{hidden} offered:\n{bash}");
        }
    }

    #[test]
    fn help_texts_name_the_program() {
        let mut command = program::command_named("skopeo");
        command.build();
        let completion = command.find_subcommand("completion").unwrap();
        assert!(completion.is_hide_set());
        let bash = completion.find_subcommand("bash").unwrap();
        assert!(bash
            .get_long_about()
            .unwrap()
            .to_string()
            .contains("\tskopeo completion bash > /etc/bash_completion.d/skopeo\n"));
    }
}
