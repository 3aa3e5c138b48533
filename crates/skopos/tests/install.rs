//! `make install` into a temporary DESTDIR lays out the binary, its `ostree:` helper, the man
//! pages and the bash, zsh and fish completions where skopeo's Makefile puts its own, and `make uninstall` takes
//! them away again. The Makefile is given this test build's binary (SKOPOS_BINARY), so no
//! release build runs.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Workspace;

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `make TARGET VARIABLES…` in the repository, failing the test on error.
fn make(target: &str, variables: &[String]) {
    let output = Command::new("make")
        .arg("-C")
        .arg(repository_root())
        .arg(target)
        .args(variables)
        .output()
        .unwrap_or_else(|error| panic!("running make: {error} (make must be installed)"));
    assert!(
        output.status.success(),
        "make {target} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn make_install_lays_out_binary_pages_and_completions() {
    let workspace = Workspace::new();
    let destdir = workspace.path("destdir");
    let variables = vec![
        format!("DESTDIR={}", destdir.display()),
        "PREFIX=/usr".to_string(),
        format!("SKOPOS_BINARY={}", env!("CARGO_BIN_EXE_skopos")),
        format!("GENERATED_DIR={}", workspace.path("generated").display()),
    ];
    make("install", &variables);

    let binary = destdir.join("usr/bin/skopos");
    let mode = std::fs::metadata(&binary)
        .unwrap_or_else(|error| panic!("{}: {error}", binary.display()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755, "{}", binary.display());
    let version = Command::new(&binary).arg("--version").output().unwrap();
    assert!(
        String::from_utf8_lossy(&version.stdout).starts_with("skopos version "),
        "{version:?}"
    );

    // The ostree: transport's helper goes where the installed binary looks for it.
    let helper = destdir.join("usr/libexec/skopos/skopos-ostree");
    let helper_mode = std::fs::metadata(&helper)
        .unwrap_or_else(|error| panic!("{}: {error}", helper.display()))
        .permissions()
        .mode();
    assert_eq!(helper_mode & 0o777, 0o755, "{}", helper.display());
    let repo = workspace.path("ostree-repo");
    let init = Command::new("ostree")
        .args(["init", "--mode=bare-user"])
        .arg(format!("--repo={}", repo.display()))
        .output()
        .unwrap_or_else(|error| panic!("running ostree (apt-get install ostree): {error}"));
    assert!(init.status.success(), "{init:?}");
    let missing = format!("ostree:missing@{}", repo.display());
    let inspect = workspace.skopos_at_with_env(&binary, &[], &["inspect", &missing]);
    common::assert_one_line_failure(&inspect, Some(2));
    assert_eq!(
        common::skopeo_message(&inspect.stderr),
        "Error retrieving manifest for image: manifest not found"
    );

    let man1 = destdir.join("usr/share/man/man1");
    for page in [
        "skopos.1",
        "skopos-copy.1",
        "skopos-inspect.1",
        "skopos-sync.1",
    ] {
        let text = String::from_utf8(common::read(&man1.join(page))).unwrap();
        assert!(text.contains(".TH "), "{page}");
    }
    let pages = std::fs::read_dir(&man1).unwrap().count();
    assert!(pages >= 12, "{pages} pages in {}", man1.display());

    for (path, marker) in [
        (
            "usr/share/bash-completion/completions/skopos",
            "complete -F _skopos",
        ),
        ("usr/share/zsh/site-functions/_skopos", "#compdef skopos"),
        (
            "usr/share/fish/vendor_completions.d/skopos.fish",
            "complete -c skopos",
        ),
    ] {
        let text = String::from_utf8(common::read(&destdir.join(path))).unwrap();
        assert!(text.contains(marker), "{path} lacks {marker:?}");
    }

    make("uninstall", &variables);
    let mut left = Vec::new();
    for entry in walk(&destdir) {
        if entry.is_file() {
            left.push(entry);
        }
    }
    assert!(left.is_empty(), "left after uninstall: {left:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found
}
