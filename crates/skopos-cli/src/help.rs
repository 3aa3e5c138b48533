//! `--help` and `help COMMAND` in skopeo's layout: cobra's help template, skopeo's own usage
//! template for its subcommands (no global flags), and pflag's flag table. Scripts and users
//! read these texts, so they follow skopeo 1.22.2 byte for byte; the flags themselves come from
//! the clap definition in [`crate::cli`], whose help strings are pflag's usage texts and whose
//! value names are what pflag prints after the flag (its type, or the usage's back-quoted word).

use clap::Command;

/// The texts skopeo declares for one command besides its flags (cobra's `Use`, `Long` and
/// `Example`); `Short` is the clap command's `about`.
struct CommandText {
    /// The subcommand's name.
    name: &'static str,
    /// cobra's `Use`: the usage line after the program name.
    usage: &'static str,
    /// cobra's `Long`, when the command has one (else the help starts with `Short`).
    long: Option<&'static str>,
    /// cobra's `Example`, each line starting with the program name.
    example: Option<&'static str>,
}

/// `transports.ListNames()`: every transport but the deprecated, hidden `atomic` and `ostree`.
macro_rules! supported_transports {
    () => {
        "containers-storage, dir, docker, docker-archive, docker-daemon, oci, oci-archive, sif, tarball"
    };
}

/// What skopeo 1.22.2 declares for each of its subcommands.
const COMMANDS: &[CommandText] = &[
    CommandText {
        name: "copy",
        usage: "copy [command options] SOURCE-IMAGE DESTINATION-IMAGE",
        long: Some(concat!(
            "Container \"IMAGE-NAME\" uses a \"transport\":\"details\" format.\n\n",
            "Supported transports:\n",
            supported_transports!(),
            "\n\nSee skopeo(1) section \"IMAGE NAMES\" for the expected format\n"
        )),
        example: Some(
            "skopeo copy docker://quay.io/skopeo/stable:latest docker://registry.example.com/skopeo:latest",
        ),
    },
    CommandText {
        name: "delete",
        usage: "delete [command options] IMAGE-NAME",
        long: Some(concat!(
            "Delete an \"IMAGE_NAME\" from a transport\n",
            "Supported transports:\n",
            supported_transports!(),
            "\nSee skopeo(1) section \"IMAGE NAMES\" for the expected format\n"
        )),
        example: Some("skopeo delete docker://registry.example.com/example/pause:latest"),
    },
    CommandText {
        name: "experimental-image-proxy",
        usage: "experimental-image-proxy [command options] IMAGE",
        long: Some(
            "Run skopeo as a proxy, supporting HTTP requests to fetch manifests and blobs.",
        ),
        example: Some("skopeo experimental-image-proxy --sockfd 3"),
    },
    CommandText {
        name: "generate-sigstore-key",
        usage: "generate-sigstore-key [command options] --output-prefix PREFIX",
        long: None,
        example: Some("skopeo generate-sigstore-key --output-prefix my-key"),
    },
    CommandText {
        name: "inspect",
        usage: "inspect [command options] IMAGE-NAME",
        long: Some(concat!(
            "Return low-level information about \"IMAGE-NAME\" in a registry/transport\n",
            "Supported transports:\n",
            supported_transports!(),
            "\n\nSee skopeo(1) section \"IMAGE NAMES\" for the expected format\n"
        )),
        example: Some(concat!(
            "skopeo inspect docker://registry.fedoraproject.org/fedora\n",
            "skopeo inspect --config docker://docker.io/alpine\n",
            "skopeo inspect --format \"Name: {{.Name}} Digest: {{.Digest}}\" ",
            "docker://registry.access.redhat.com/ubi8"
        )),
    },
    CommandText {
        name: "layers",
        usage: "layers [command options] IMAGE-NAME [LAYER...]",
        long: None,
        example: None,
    },
    CommandText {
        name: "list-tags",
        usage: "list-tags [command options] SOURCE-IMAGE",
        long: Some(concat!(
            "Return the list of tags from the transport/repository \"SOURCE-IMAGE\"\n\n",
            "Supported transports:\n",
            "docker docker-archive\n\n",
            "See skopeo-list-tags(1) section \"REPOSITORY NAMES\" for the expected format\n"
        )),
        example: Some("skopeo list-tags docker://docker.io/fedora"),
    },
    CommandText {
        name: "login",
        usage: "login [command options] REGISTRY",
        long: Some("Login to a container registry on a specified server."),
        example: Some("skopeo login quay.io"),
    },
    CommandText {
        name: "logout",
        usage: "logout [command options] REGISTRY",
        long: Some("Logout of a container registry on a specified server."),
        example: Some("skopeo logout quay.io"),
    },
    CommandText {
        name: "manifest-digest",
        usage: "manifest-digest MANIFEST-FILE",
        long: None,
        example: Some("skopeo manifest-digest manifest.json"),
    },
    CommandText {
        name: "standalone-sign",
        usage: "standalone-sign [command options] MANIFEST DOCKER-REFERENCE KEY-FINGERPRINT --output|-o SIGNATURE",
        long: None,
        example: None,
    },
    CommandText {
        name: "standalone-verify",
        usage: "standalone-verify MANIFEST DOCKER-REFERENCE KEY-FINGERPRINTS SIGNATURE",
        long: Some(concat!(
            "Verify a signature using local files\n\n",
            "KEY-FINGERPRINTS can be a comma separated list of fingerprints, or \"any\" if you ",
            "trust all the keys in the public key file."
        )),
        example: None,
    },
    CommandText {
        name: "sync",
        usage: "sync [command options] --src TRANSPORT --dest TRANSPORT SOURCE DESTINATION",
        long: Some(concat!(
            "Copy all the images from a SOURCE to a DESTINATION.\n\n",
            "Allowed SOURCE transports (specified with --src): docker, dir, yaml.\n",
            "Allowed DESTINATION transports (specified with --dest): docker, dir.\n\n",
            "See skopeo-sync(1) for details.\n"
        )),
        example: Some(
            "skopeo sync --src docker --dest dir --scoped registry.example.com/busybox /media/usb",
        ),
    },
    CommandText {
        name: "untrusted-signature-dump-without-verification",
        usage: "untrusted-signature-dump-without-verification SIGNATURE",
        long: None,
        example: None,
    },
];

/// The root command's `Long`.
const ROOT_LONG: &str = "Various operations with container images and container image registries";

/// cobra's `help` command: its `Short` and `Long` (`%s` is the program name).
const HELP_SHORT: &str = "Help about any command";
const HELP_LONG: &str = "Help provides help for any command in the application.\n\
Simply type %s help [path to command] for full details.";

/// cobra's minimum width of the command-name column.
const MIN_NAME_PADDING: usize = 11;

/// One row of pflag's flag table.
struct FlagRow {
    short: Option<char>,
    long: String,
    /// What pflag prints after the name: the type (`string`, `int`, …), the usage's
    /// back-quoted word, or nothing for booleans.
    value: String,
    usage: String,
}

/// What `PROGRAM [PATH…] --help` prints, for the command at `path` (empty: the root);
/// `None` when `path` names no command.
pub(crate) fn help_text(root: &Command, program: &str, path: &[&str]) -> Option<String> {
    match path {
        [] => Some(format!(
            "{}\n\n{}",
            ROOT_LONG,
            root_usage(root, program, true)
        )),
        ["help", ..] => Some(help_command_help(root, program)),
        [name, ..] => {
            let command = root.find_subcommand(name)?;
            let text = COMMANDS.iter().find(|text| text.name == *name)?;
            let short = command
                .get_about()
                .map(ToString::to_string)
                .unwrap_or_default();
            let lead = text.long.unwrap_or(&short).trim_end();
            Some(format!(
                "{lead}\n\n{}",
                subcommand_usage(command, text, program)
            ))
        }
    }
}

/// What `PROGRAM help ARGS…` prints: the help of the command named by `args` (extra words are
/// ignored, as cobra does), or for an unknown command cobra's complaint and the root's usage,
/// which go to stderr.
pub(crate) fn help_command(root: &Command, program: &str, args: &[String]) -> HelpOutput {
    let Some(first) = args.first() else {
        return HelpOutput::Stdout(help_text(root, program, &[]).unwrap_or_default());
    };
    match help_text(root, program, &[first.as_str()]) {
        Some(text) => HelpOutput::Stdout(text),
        None => {
            let topic = args
                .iter()
                .map(|arg| format!("`{arg}`"))
                .collect::<Vec<_>>()
                .join(" ");
            HelpOutput::Stderr(format!(
                "Unknown help topic [{topic}]\n{}",
                // cobra adds the root's `--help` flag only when it shows the root's help.
                root_usage(root, program, false)
            ))
        }
    }
}

/// Where `help ARGS…` writes its text; both exit 0.
pub(crate) enum HelpOutput {
    Stdout(String),
    Stderr(String),
}

/// The root's usage (cobra's default template): the command list and the root's flags,
/// `-h, --help` among them with `with_help_flag`.
fn root_usage(root: &Command, program: &str, with_help_flag: bool) -> String {
    let mut names: Vec<(&str, String)> = root
        .get_subcommands()
        .filter(|command| !command.is_hide_set())
        .map(|command| {
            let short = command
                .get_about()
                .map(ToString::to_string)
                .unwrap_or_default();
            (command.get_name(), short)
        })
        .collect();
    if !names.iter().any(|(name, _)| *name == "help") {
        names.push(("help", HELP_SHORT.to_string()));
    }
    names.sort_by(|a, b| a.0.cmp(b.0));
    // cobra pads to the longest name of every command added, hidden ones included.
    let padding = root
        .get_subcommands()
        .map(|command| command.get_name().len())
        .chain([MIN_NAME_PADDING])
        .max()
        .unwrap_or(MIN_NAME_PADDING);
    let mut out =
        format!("Usage:\n  {program} [flags]\n  {program} [command]\n\nAvailable Commands:");
    for (name, short) in names {
        out.push_str(&format!("\n  {name:<padding$} {short}"));
    }
    let mut rows = flag_rows(root, true);
    if with_help_flag {
        rows.push(help_row(program));
    }
    out.push_str("\n\nFlags:\n");
    out.push_str(flag_usages(rows).trim_end());
    out.push_str(&format!(
        "\n\nUse \"{program} [command] --help\" for more information about a command.\n"
    ));
    out
}

/// `help --help` (cobra's default template, with the root's flags as global flags).
fn help_command_help(root: &Command, program: &str) -> String {
    let long = HELP_LONG.replace("%s", program);
    let globals: Vec<FlagRow> = flag_rows(root, true)
        .into_iter()
        .filter(|row| row.long != "version")
        .collect();
    format!(
        "{long}\n\nUsage:\n  {program} help [command] [flags]\n\nFlags:\n{}\n\nGlobal Flags:\n{}\n",
        flag_usages(vec![help_row("help")]).trim_end(),
        flag_usages(globals).trim_end()
    )
}

/// skopeo's usage template for its subcommands: usage line, examples and the command's own
/// flags; the global flags are left out, and an empty line ends it.
fn subcommand_usage(command: &Command, text: &CommandText, program: &str) -> String {
    let mut out = format!("Usage:\n{program} {}", text.usage);
    if let Some(example) = text.example {
        out.push_str("\n\nExamples:\n");
        out.push_str(&example.replace("skopeo ", &format!("{program} ")));
    }
    let mut rows = flag_rows(command, false);
    rows.push(help_row(command.get_name()));
    out.push_str("\n\nFlags:\n");
    out.push_str(flag_usages(rows).trim_end());
    out.push_str("\n\n");
    out
}

/// `-h, --help   help for NAME`, which cobra adds to every command.
fn help_row(name: &str) -> FlagRow {
    FlagRow {
        short: Some('h'),
        long: "help".to_string(),
        value: String::new(),
        usage: format!("help for {name}"),
    }
}

/// The visible flags `command` defines; with `include_global`, also the global ones (the
/// root's persistent flags, which subcommands' texts leave out).
fn flag_rows(command: &Command, include_global: bool) -> Vec<FlagRow> {
    command
        .get_arguments()
        .filter(|arg| !arg.is_positional() && !arg.is_hide_set())
        .filter(|arg| include_global || !arg.is_global_set())
        .filter_map(|arg| {
            let long = arg.get_long()?.to_string();
            // A flag that may go without a value is a pflag boolean: no value shown.
            let is_bool = !arg.get_action().takes_values()
                || arg
                    .get_num_args()
                    .is_some_and(|range| range.min_values() == 0);
            let value = if !is_bool {
                arg.get_value_names()
                    .and_then(|names| names.first())
                    .map(ToString::to_string)
                    .unwrap_or_default()
            } else {
                String::new()
            };
            Some(FlagRow {
                short: arg.get_short(),
                long,
                value,
                usage: arg.get_help().map(ToString::to_string).unwrap_or_default(),
            })
        })
        .collect()
}

/// pflag's `FlagUsages`: the rows sorted by name, usages aligned two columns after the
/// longest `-s, --name value`.
fn flag_usages(mut rows: Vec<FlagRow>) -> String {
    rows.sort_by(|a, b| a.long.cmp(&b.long));
    let heads: Vec<String> = rows
        .iter()
        .map(|row| {
            let mut head = match row.short {
                Some(short) => format!("  -{short}, --{}", row.long),
                None => format!("      --{}", row.long),
            };
            if !row.value.is_empty() {
                head.push(' ');
                head.push_str(&row.value);
            }
            head
        })
        .collect();
    let width = heads.iter().map(String::len).max().unwrap_or(0);
    let mut out = String::new();
    for (head, row) in heads.iter().zip(&rows) {
        out.push_str(&format!("{head:<width$}   {}\n", row.usage));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_has_its_texts() {
        let root = crate::program::command_named("skopeo");
        // cobra's own `completion` and skopos's `generate-man-pages` are rendered by clap.
        for command in root
            .get_subcommands()
            .filter(|c| !["completion", "generate-man-pages"].contains(&c.get_name()))
        {
            let name = command.get_name();
            assert!(
                help_text(&root, "skopeo", &[name]).is_some(),
                "no help text for {name}"
            );
        }
    }

    #[test]
    fn flag_table_aligns_like_pflag() {
        let rows = vec![
            FlagRow {
                short: None,
                long: "zeta".into(),
                value: "string".into(),
                usage: "last".into(),
            },
            FlagRow {
                short: Some('a'),
                long: "all".into(),
                value: String::new(),
                usage: "first".into(),
            },
        ];
        assert_eq!(
            flag_usages(rows),
            "  -a, --all           first\n      --zeta string   last\n"
        );
    }
}
