//! `make binary-static`: the statically linked binary runs `inspect` and `copy` (oci: to dir:)
//! in a chroot holding nothing but itself, a CA bundle and the test image — no C library, no
//! dynamic loader, no /proc, /dev or /tmp — and copies exactly what the ordinary build copies.
//!
//! The test builds the binary with a dev-like profile into its own target directory
//! (target/static-test; crt-static changes every crate's flags, so nothing of the ordinary
//! build is reused), which costs a few minutes of CPU once and little after. chroot needs
//! root: CI runs as root; elsewhere the test prints a SKIPPED line.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Workspace;
use skopos_testimage::{ImageSpec, OciLayout};

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the static binary (the static-test profile: dev without debug info) through the
/// Makefile and returns its path.
fn build_static_binary() -> PathBuf {
    let target_dir = repository_root().join("target/static-test");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new("make")
        .arg("-C")
        .arg(repository_root())
        .arg("binary-static")
        .arg("STATIC_PROFILE=static-test")
        .arg(format!("STATIC_TARGET_DIR={}", target_dir.display()))
        .arg(format!("CARGO={cargo}"))
        .output()
        .unwrap_or_else(|error| panic!("running make: {error} (make must be installed)"));
    assert!(
        output.status.success(),
        "make binary-static failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    target_dir.join("x86_64-unknown-linux-gnu/static-test/skopos")
}

/// Whether the ELF file at `path` asks for a program interpreter (the dynamic loader), i.e.
/// is dynamically linked.
fn has_program_interpreter(path: &Path) -> bool {
    const PT_INTERP: u32 = 3;
    let bytes = common::read(path);
    assert!(
        bytes.len() > 64 && bytes.starts_with(b"\x7fELF") && bytes[4] == 2 && bytes[5] == 1,
        "{} is not a 64-bit little-endian ELF file",
        path.display()
    );
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let mut offset = [0u8; 8];
    offset.copy_from_slice(&bytes[0x20..0x28]);
    let headers = usize::try_from(u64::from_le_bytes(offset)).unwrap();
    let (entry_size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).any(|index| {
        let at = headers + index * entry_size;
        u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) == PT_INTERP
    })
}

/// `chroot` found on this process's PATH (the command itself runs with an empty environment).
fn chroot_program() -> PathBuf {
    let paths = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&paths)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("chroot"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("chroot (coreutils) is not installed"))
}

/// Runs `args` inside the chroot `root` with an empty environment but HOME.
fn in_chroot(root: &Path, args: &[&str]) -> common::Outcome {
    let output = Command::new(chroot_program())
        .arg(root)
        .args(args)
        .env_clear()
        .env("HOME", "/")
        .output()
        .unwrap_or_else(|error| panic!("running chroot: {error}"));
    common::Outcome {
        command: format!("chroot {} {}", root.display(), args.join(" ")),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout_bytes: output.stdout,
    }
}

#[test]
fn static_binary_inspects_and_copies_in_an_empty_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        common::report_skipped(
            "the static binary in a chroot (chroot needs root; CI runs as root)",
        );
        return;
    }
    let binary = build_static_binary();
    assert!(
        !has_program_interpreter(&binary),
        "{} is dynamically linked",
        binary.display()
    );
    assert!(has_program_interpreter(Path::new(env!(
        "CARGO_BIN_EXE_skopos"
    ))));

    let workspace = Workspace::new();
    let root = workspace.path("root");
    let certificates = root.join("etc/ssl/certs");
    common::create_dir(&certificates);
    let bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
    if bundle.is_file() {
        std::fs::copy(bundle, certificates.join("ca-certificates.crt")).unwrap();
    }
    std::fs::copy(&binary, root.join("skopos")).unwrap();
    let image = OciLayout::create(root.join("images/hello"))
        .and_then(|layout| {
            layout.add_image(&ImageSpec::new(17).with_layers(2, 30_000), Some("latest"))
        })
        .unwrap_or_else(|error| panic!("writing the test image: {error}"));

    let inspect = in_chroot(&root, &["/skopos", "inspect", "oci:/images/hello:latest"]);
    inspect.assert_success();
    let summary = common::parse_json(&inspect.stdout_bytes);
    assert_eq!(
        summary["Digest"],
        image.manifest.digest.as_str(),
        "{}",
        inspect.stdout
    );
    assert_eq!(
        summary["Layers"].as_array().map(Vec::len),
        Some(2),
        "{}",
        inspect.stdout
    );

    let copy = in_chroot(
        &root,
        &[
            "/skopos",
            "--insecure-policy",
            "copy",
            "oci:/images/hello:latest",
            "dir:/copied",
        ],
    );
    copy.assert_success();
    let source = format!("oci:{}:latest", root.join("images/hello").display());
    let expected = workspace.path("expected");
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            &source,
            &format!("dir:{}", expected.display()),
        ])
        .assert_success();
    common::assert_same_tree(&root.join("copied"), &expected);
}
