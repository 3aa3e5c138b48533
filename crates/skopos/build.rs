//! Release builds lay out the functions that the common jobs run side by side at the start of
//! the code, in the order `text-order.txt` lists them (written by `benches/text-order.sh`,
//! which says why): a run then touches a few contiguous megabytes of the binary, not pages
//! all over it; and they pack the binary's relocations. Both are LLD options, and rustc links
//! x86_64 GNU/Linux programs with its own LLD (since Rust 1.90) unless told to use another
//! linker; other builds are linked as they would be without this file.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let Some(manifest_dir) = env::var_os("CARGO_MANIFEST_DIR") else {
        return;
    };
    let order = PathBuf::from(manifest_dir).join("text-order.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");
    if env::var("PROFILE").as_deref() != Ok("release") || !links_with_rusts_lld() {
        return;
    }
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    // Functions renamed or gone since the file was written are simply not placed.
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    // The dynamic loader reads every relocation at start-up: packed (DT_RELR), the position-
    // independent binary's thirteen thousand pointer fixups take a few kilobytes instead of
    // 320. glibc reads them from 2.36 on (and refuses, by symbol version, a binary that has
    // them on an older one): only when this machine's glibc has them, for its own dynamic
    // binaries (a static one relocates itself).
    let static_crt = env::var("CARGO_CFG_TARGET_FEATURE")
        .is_ok_and(|features| features.split(',').any(|feature| feature == "crt-static"));
    if !static_crt && glibc_reads_packed_relocations() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether this machine's glibc is 2.36 or newer (`getconf GNU_LIBC_VERSION`: `glibc 2.36`).
fn glibc_reads_packed_relocations() -> bool {
    let Ok(output) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.trim().strip_prefix("glibc ").unwrap_or_default();
    at_least(version, 2, 36)
}

/// Whether `version` (`MAJOR.MINOR…`) is at least `major.minor`.
fn at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut numbers = version
        .split('.')
        .map(|number| number.parse::<u32>().unwrap_or(0));
    let found = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    found >= (major, minor)
}

/// Whether the binaries are linked by rustc's own LLD: the x86_64 GNU/Linux target, no
/// other linker configured, and a rustc from 1.90 on.
fn links_with_rusts_lld() -> bool {
    if env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu")
        || env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some()
    {
        return false;
    }
    let rustflags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if rustflags.contains("linker") || rustflags.contains("link-self-contained") {
        return false;
    }
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(output) = Command::new(rustc).arg("--version").output() else {
        return false;
    };
    // `rustc 1.95.0 (59807616e 2026-04-14)`
    let text = String::from_utf8_lossy(&output.stdout);
    at_least(text.split_whitespace().nth(1).unwrap_or_default(), 1, 90)
}
