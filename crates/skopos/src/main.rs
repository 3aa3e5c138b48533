//! The `skopos` binary. Its command line is the `skopos-cli` crate; this crate stays one line
//! because it sets the optimisation level of the link-time pass over the whole program (see
//! the release profile in the workspace's Cargo.toml).

fn main() -> std::process::ExitCode {
    skopos_cli::main()
}
