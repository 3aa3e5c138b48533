//! `skopos-ostree`: the `skopos` command line with the `ostree:` transport. A separate
//! executable because linking libostree slows every command's start-up; `skopos` runs this
//! one only for commands that name an `ostree:` image (see `skopos_cli::main_with_ostree`).

fn main() -> std::process::ExitCode {
    skopos_cli::main_with_ostree()
}
