//! skopeo's command line, run by the `skopos` binary. Exit status 0 on success, 2 when the
//! image does not exist, 1 for any other failure, which is reported as one logrus-style line
//! on stderr.
//!
//! Where it fits: each command parses its flags, reads the configuration (skopos-config),
//! opens the source and destination (skopos-transports) and hands the work to the library
//! crates: copies to skopos-copy, `inspect` to skopos-inspect, `sync` planning to
//! skopos-sync, `experimental-image-proxy` to skopos-proxy.

#![deny(missing_docs)]

mod attachments;
mod cli;
mod completion;
mod copy;
mod flags;
mod help;
mod inspect;
mod logging;
mod login;
mod manual;
mod ostree_helper;
mod program;
mod progress_json;
mod proxy;
mod signing;
mod sync;
mod userns;

use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::CommandFactory;

use cli::{Cli, Command, GlobalArgs, RegistryFlags as _};
use logging::LogLevel;
use skopos_core::go::text::go_quote;

/// glibc gives every thread that allocates its own malloc arena, and each arena keeps the
/// pages it touched: with six blobs in flight on the runtime's threads that was 2–3 MiB of
/// peak memory for nothing. Blob buffers are few and large, so one shared arena costs no
/// measurable time (checked on push, pull and registry-to-registry copies).
fn use_one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator settings; it is called before any other thread
    // exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Errors are reported as one line, never with a backtrace, but `anyhow` captures one for
/// every error it makes when `RUST_BACKTRACE` is set (as it often is in a Rust developer's
/// shell, or a CI job's): an unwind of the stack for each expected failure, such as the
/// HTTPS attempt before an HTTP registry answers, and about a megabyte of unwind tables and
/// symbolization code brought into memory. `RUST_LIB_BACKTRACE=0` turns that off and leaves
/// `RUST_BACKTRACE` to panics; a `RUST_LIB_BACKTRACE` the user set is kept.
fn no_error_backtraces() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // Called before any other thread exists.
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
}

/// The `skopos-ostree` helper's entry point: [`main`] with the `ostree:` transport, whose
/// libostree link the `skopos` binary leaves out (see `ostree_helper`).
#[cfg(feature = "ostree")]
pub fn main_with_ostree() -> ExitCode {
    skopos_transports::install_ostree();
    main()
}

/// Parse the process's arguments, run the command, report the outcome.
pub fn main() -> ExitCode {
    logging::mark_start();
    use_one_malloc_arena();
    no_error_backtraces();
    let cli = match program::parse() {
        Ok(program::Invocation::Run(cli)) => *cli,
        Ok(program::Invocation::Help(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Ok(program::Invocation::UnknownHelpTopic(text)) => {
            eprint!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(err) => return report_clap_error(&err),
    };
    logging::install(cli.global.debug);
    ostree_helper::exec_if_needed(&cli);
    if let Err(err) = userns::enter_if_needed(&cli) {
        return fail(&err);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&anyhow::Error::new(err).context("starting the async runtime")),
    };
    let timeout = cli.global.command_timeout.filter(|t| !t.is_zero());
    let result = runtime.block_on(async {
        match timeout {
            Some(limit) => tokio::time::timeout(limit, run(cli))
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("context deadline exceeded"))),
            None => run(cli).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}

/// Print `err` as skopeo's fatal line and pick the exit status.
fn fail(err: &anyhow::Error) -> ExitCode {
    logging::emit(LogLevel::Fatal, &format!("{err:#}"));
    ExitCode::from(exit_status(err))
}

/// 2 when the image was not found anywhere in the chain, else 1.
fn exit_status(err: &anyhow::Error) -> u8 {
    if skopos_core::error::is_image_not_found(err) {
        2
    } else {
        1
    }
}

/// skopeo 1.22.2's answer to a wrong argument count of `copy`, `sync` and `list-tags`: the
/// command's help on stderr, then `message` as the fatal error (exit 1).
fn usage_error(command: &str, message: &str) -> anyhow::Error {
    eprint!("{}", program::help_of(command));
    anyhow::anyhow!("{message}")
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let global = cli.global;
    if cli.deprecated_tls_verify.is_some() {
        tracing::warn!("'--tls-verify' is deprecated, please set this on the specific subcommand");
    }
    let Some(command) = cli.command else {
        let program = program::name();
        bail!("Missing command '{program} COMMAND'\nTry '{program} --help' for more information");
    };
    match command {
        Command::Copy(args) => {
            if args.images.len() != 2 {
                return Err(usage_error("copy", "Exactly two arguments expected"));
            }
            copy::run(&global, &args).await?;
        }
        Command::Inspect(args) => {
            let output = inspect::run(&global, &args).await?;
            inspect::write_stdout(&output)?;
        }
        Command::ManifestDigest(args) => {
            let [path] = args.args.as_slice() else {
                bail!("Usage: {} manifest-digest manifest", program::name());
            };
            let output = manifest_digest(path)?;
            inspect::write_stdout(output.as_bytes())?;
        }
        Command::Delete(args) => {
            if args.args.len() != 1 {
                bail!("Usage: delete imageReference");
            }
            delete(&global, &args).await?;
        }
        Command::ListTags(args) => {
            if args.args.len() != 1 {
                return Err(usage_error(
                    "list-tags",
                    "Exactly one non-option argument expected",
                ));
            }
            let output = list_tags(&global, &args).await?;
            inspect::write_stdout(&output)?;
        }
        Command::Login(args) => {
            if args.args.is_empty() && !args.get_login {
                bail!("please provide a registry to log in to");
            }
            login::login(&global, &args, &mut std::io::stdout().lock()).await?;
        }
        Command::Logout(args) => {
            if args.args.is_empty() && !args.all {
                bail!("please provide a registry to log out from");
            }
            login::logout(&args, &mut std::io::stdout().lock())?;
        }
        Command::StandaloneSign(args) => signing::standalone_sign(&args)?,
        Command::StandaloneVerify(args) => {
            let report = signing::standalone_verify(&args)?;
            print!("{report}");
        }
        Command::GenerateSigstoreKey(args) => {
            print!("{}", signing::generate_sigstore_key(&args)?);
        }
        Command::Sync(args) => {
            if args.args.len() != 2 {
                return Err(usage_error("sync", "Exactly two arguments expected"));
            }
            sync::run(&global, &args).await?;
        }
        Command::Layers(args) => {
            let program = program::name();
            eprintln!("DEPRECATED: {program} layers is deprecated in favor of {program} copy");
            if args.args.is_empty() {
                bail!("Usage: layers imageReference [layer...]");
            }
            args.image.docker_auth()?;
            not_supported("layers")?;
        }
        Command::ExperimentalImageProxy(args) => {
            if !args.args.is_empty() {
                // cobra's ExactArgs(0), which skopeo declares for this command.
                bail!("accepts 0 arg(s), received {}", args.args.len());
            }
            proxy::run(&global, &args).await?;
        }
        Command::UntrustedSignatureDumpWithoutVerification(args) => {
            if args.args.len() != 1 {
                bail!(
                    "Usage: {} untrusted-signature-dump-without-verification signature",
                    program::name()
                );
            }
            print!("{}", signing::untrusted_signature_dump(&args.args[0])?);
        }
        Command::Completion(args) => match completion::run(&args)? {
            completion::CompletionOutput::Help => completion::print_help()?,
            completion::CompletionOutput::Script(script) => inspect::write_stdout(&script)?,
        },
        Command::GenerateManPages(args) => manual::run(&args)?,
        // program::parse answers `help` itself.
        Command::Help(_) => bail!("internal error: the help command reached the runner"),
    }
    Ok(())
}

fn not_supported(command: &str) -> anyhow::Result<()> {
    bail!("the {command} command is not supported yet by skopos")
}

/// `manifest-digest FILE`: `sha256:<hex>` and a newline.
fn manifest_digest(path: &str) -> anyhow::Result<String> {
    let bytes = read_file_like_go(path).context(format!("Error reading manifest from {path}"))?;
    let digest = skopos_core::manifest::manifest_digest(&bytes)
        .with_context(|| format!("Error computing digest of manifest from {path}"))?;
    Ok(format!("{digest}\n"))
}

/// A manifest, signature, key or sync file named on the command line, as Go's `os.ReadFile`
/// words its errors, bounded as every configuration file is.
pub(crate) fn read_file_like_go(path: &str) -> anyhow::Result<Vec<u8>> {
    skopos_core::limits::read_file_like_go(
        std::path::Path::new(path),
        skopos_core::limits::MAX_CONFIG_FILE,
    )
}

/// Help and version go to stdout with status 0; usage errors become one fatal line with
/// pflag's wording and status 1, as in skopeo.
fn report_clap_error(err: &clap::Error) -> ExitCode {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = err.print();
            ExitCode::SUCCESS
        }
        _ => {
            let last_arg = std::env::args_os()
                .next_back()
                .map(|arg| arg.to_string_lossy().into_owned());
            logging::emit(LogLevel::Fatal, &pflag_message(err, last_arg.as_deref()));
            ExitCode::from(1)
        }
    }
}

/// What pflag / cobra would have said about this usage error. `last_arg` is the last
/// command-line word (a flag missing its value is always the last one).
fn pflag_message(err: &clap::Error, last_arg: Option<&str>) -> String {
    let context_string = |kind: ContextKind| match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    match err.kind() {
        ErrorKind::UnknownArgument => {
            let arg = context_string(ContextKind::InvalidArg).unwrap_or_default();
            let flag = arg.split('=').next().unwrap_or_default();
            match flag.strip_prefix('-') {
                Some(short) if !short.starts_with('-') => {
                    let letter = short.chars().next().unwrap_or('-');
                    format!("unknown shorthand flag: '{letter}' in {flag}")
                }
                _ => format!("unknown flag: {flag}"),
            }
        }
        ErrorKind::InvalidSubcommand => {
            let name = context_string(ContextKind::InvalidSubcommand).unwrap_or_default();
            let program = program::name();
            format!(
                "Unrecognized command `{program} {name}`\nTry '{program} --help' for more information"
            )
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let long = context_string(ContextKind::InvalidArg)
                .map(|arg| flag_name(&arg))
                .unwrap_or_default();
            let value = context_string(ContextKind::InvalidValue).unwrap_or_default();
            if value.is_empty() && err.kind() == ErrorKind::InvalidValue {
                return match last_arg.and_then(|a| a.strip_prefix('-')) {
                    Some(short) if !short.starts_with('-') && !short.is_empty() => {
                        let letter = short.chars().last().unwrap_or('-');
                        format!("flag needs an argument: '{letter}' in -{short}")
                    }
                    _ => format!("flag needs an argument: {long}"),
                };
            }
            let flag = with_shorthand(&long);
            let reason = std::error::Error::source(err)
                .map(ToString::to_string)
                .unwrap_or_else(|| "invalid value".to_string());
            format!(
                "invalid argument {} for {} flag: {reason}",
                go_quote(&value),
                go_quote(&flag)
            )
        }
        _ => {
            let rendered = err.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            first.strip_prefix("error: ").unwrap_or(first).to_string()
        }
    }
}

/// `--tls-verify[=<TLS_VERIFY>]` or `--format <TEMPLATE>` → `--tls-verify`, `--format`.
fn flag_name(arg: &str) -> String {
    arg.split([' ', '[', '='])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// pflag names a flag with a shorthand `-n, --no-tags`.
fn with_shorthand(long_flag: &str) -> String {
    fn find_short(command: &clap::Command, long: &str) -> Option<char> {
        command
            .get_arguments()
            .find(|arg| arg.get_long() == Some(long))
            .and_then(clap::Arg::get_short)
            .or_else(|| {
                command
                    .get_subcommands()
                    .find_map(|sub| find_short(sub, long))
            })
    }
    let long = long_flag.trim_start_matches('-');
    match find_short(&Cli::command(), long) {
        Some(short) => format!("-{short}, --{long}"),
        None => long_flag.to_string(),
    }
}

/// `delete IMAGE`: registries and containers-storage can delete images.
async fn delete(global: &GlobalArgs, args: &cli::ImageCommandArgs) -> anyhow::Result<()> {
    let input = &args.args[0];
    let name = skopos_core::ImageName::parse(input)
        .map_err(|e| e.context(format!("Invalid source name {input}")))?;
    skopos_transports::check_reference(&name)
        .await
        .map_err(|e| e.context(format!("Invalid source name {input}")))?;
    let mut ctx = skopos_core::SystemContext {
        auth_file: args.image.authfile.clone(),
        ..copy::base_context(global)
    };
    args.image.apply_registry_settings(&mut ctx)?;
    ctx.oci_shared_blob_dir = args.image.shared_blob_dir.clone();
    skopos_transports::delete_image(&name, &ctx, copy::retry_options(&args.retry)?).await
}

/// The JSON `list-tags` prints, skopeo's `tagListOutput`.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct TagList {
    #[serde(skip_serializing_if = "String::is_empty")]
    repository: String,
    tags: Vec<String>,
}

/// `list-tags SOURCE`: the registry repository's or the docker-archive's tags, as skopeo
/// prints them.
async fn list_tags(global: &GlobalArgs, args: &cli::ListTagsArgs) -> anyhow::Result<Vec<u8>> {
    let mut bytes = match skopos_transports::TagSource::parse(&args.args[0])? {
        skopos_transports::TagSource::Registry(reference) => {
            let mut ctx = skopos_core::SystemContext {
                auth_file: args.image.authfile.clone(),
                ..copy::base_context(global)
            };
            args.image.apply_registry_settings(&mut ctx)?;
            let tags = skopos_core::retry::with_retry(copy::retry_options(&args.retry)?, || {
                skopos_transports::docker::repository_tags(&reference, &ctx)
            })
            .await
            .context("Error listing repository tags")?;
            let output = TagList {
                repository: reference.name(),
                tags,
            };
            skopos_core::go::json::to_vec_indent(&output, "    ")?
        }
        skopos_transports::TagSource::Archive(path) => {
            let ctx = copy::base_context(global);
            let tags = skopos_transports::docker_archive::list_tags(&path, &ctx).await?;
            skopos_core::go::json::to_vec_indent(&ArchiveTagList { tags }, "    ")?
        }
    };
    bytes.push(b'\n');
    Ok(bytes)
}

/// The JSON `list-tags docker-archive:PATH` prints: no repository, and Go's `null` for
/// an archive without images.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveTagList {
    tags: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn usage_error(args: &[&str]) -> String {
        let mut argv = vec!["skopos"];
        argv.extend_from_slice(args);
        pflag_message(
            &Cli::try_parse_from(&argv).unwrap_err(),
            argv.last().copied(),
        )
    }

    #[test]
    fn usage_errors_use_pflag_wording() {
        assert_eq!(
            usage_error(&["inspect", "--bogus", "x"]),
            "unknown flag: --bogus"
        );
        assert_eq!(
            usage_error(&["inspect", "--tls-verify=maybe", "x"]),
            "invalid argument \"maybe\" for \"--tls-verify\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
        assert_eq!(
            usage_error(&["bogus"]),
            "Unrecognized command `skopos bogus`\nTry 'skopos --help' for more information"
        );
        assert_eq!(
            usage_error(&["inspect", "--format"]),
            "flag needs an argument: --format"
        );
    }

    #[test]
    fn not_found_maps_to_exit_status_2() {
        let not_found = anyhow::Error::new(skopos_core::ImageNotFound("no image".into()))
            .context("Error parsing image name \"oci:x\"");
        assert_eq!(exit_status(&not_found), 2);
        assert_eq!(
            format!("{not_found:#}"),
            "Error parsing image name \"oci:x\": no image"
        );
        assert_eq!(exit_status(&anyhow::anyhow!("other")), 1);
    }

    #[test]
    fn manifest_digest_reports_unreadable_files_like_skopeo() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = manifest_digest(missing.to_str().unwrap()).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!(
                "Error reading manifest from {0}: open {0}: no such file or directory",
                missing.display()
            )
        );
    }
}
