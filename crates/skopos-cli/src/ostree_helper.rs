//! Commands that name an `ostree:` image run in the `skopos-ostree` helper.
//!
//! libostree and the sixty libraries it links (glib, gio, gpgme, curl, ICU, …) load before
//! `main` in any program linked with them, which tripled the start-up time and doubled the
//! memory of every command. The `skopos` binary therefore does not carry the transport: when
//! a command names an `ostree:` image (or may open one at run time, as the image proxy does),
//! it replaces itself with `skopos-ostree` — the same command line with the transport
//! installed — keeping its arguments, `argv[0]`, environment and file descriptors, so the
//! outcome is the same as if the transport were built in. Without the helper the command
//! runs here and the transport's "not supported in this build" error says why.

use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;

use skopos_core::ImageName;

use crate::cli::{Cli, Command};

/// The helper's file name.
const HELPER: &str = "skopos-ostree";

/// Run `cli` in the helper instead of this process when it needs the `ostree:` transport
/// and this process lacks it. Returns only when the helper is not needed or cannot be run.
pub(crate) fn exec_if_needed(cli: &Cli) {
    if skopos_transports::ostree_installed() || !needs_ostree(cli) {
        return;
    }
    let Some(helper) = helper_path() else {
        return;
    };
    let mut args = std::env::args_os();
    let program_name = args.next().unwrap_or_else(|| OsString::from("skopos"));
    let err = std::process::Command::new(&helper)
        .arg0(program_name)
        .args(args)
        .exec();
    // exec returns only on failure; the command then runs here without the transport.
    tracing::debug!("running {}: {err}", helper.display());
}

/// Whether `cli` opens, or may open, an `ostree:` image. The proxy's client names its
/// images only after start-up.
fn needs_ostree(cli: &Cli) -> bool {
    matches!(cli.command, Some(Command::ExperimentalImageProxy(_)))
        || cli
            .image_arguments()
            .iter()
            .any(|name| matches!(ImageName::parse(name), Ok(ImageName::Ostree(_))))
}

/// `skopos-ostree` beside this executable (`cargo install`, a build tree), else in
/// `../libexec/skopos/` relative to it (`make install`).
fn helper_path() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join(HELPER), dir.join("../libexec/skopos").join(HELPER)]
        .into_iter()
        .find(|path| path.is_file())
}
