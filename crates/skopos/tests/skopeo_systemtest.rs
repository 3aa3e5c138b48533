//! skopeo v1.22.2's own system tests (`systemtest/*.bats`, kept verbatim in
//! `skopeo-systemtest/upstream/`) run against the built skopos, offline: the adaptations are
//! all in `skopeo-systemtest/offline-helpers.bash` and `run-offline.sh` (listed in README.md).
//! Each test's outcome is checked against [`EXPECTED`]: tests expected to pass must pass,
//! a test where skopos words something otherwise on purpose must fail showing those words,
//! skipped ones must be skipped. With `$SKOPEO_1_22` set, the same
//! adapted suite runs against skopeo 1.22.2, which must pass every test the table expects
//! skopos to pass, so an adaptation that breaks the suite shows up.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use skopos_testimage::{ImageSpec, OciLayout, Platform};

/// What a test of the suite is expected to do against skopos.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Pass,
    /// Skipped by the suite itself, with its reason.
    Skip(&'static str),
    /// Fails because skopos says something in other words than the suite expects, on
    /// purpose: `shows` must be in its output (a failure for any other reason is a
    /// regression); `why` says why skopos words it so.
    Differs {
        shows: &'static str,
        why: &'static str,
    },
}

use Expect::{Differs, Pass, Skip};

/// Every test of the suite (file, name) and what skopos does with it.
const EXPECTED: &[(&str, &str, Expect)] = &[
    ("001-basic", "skopeo version emits reasonable output", Pass),
    (
        "001-basic",
        "skopeo release isn't a development version",
        Skip("runs only with RELEASE_TESTING=true"),
    ),
    ("010-inspect", "inspect: basic", Pass),
    ("010-inspect", "inspect: env", Pass),
    (
        "010-inspect",
        "inspect: image manifest list w/ diff platform",
        Pass,
    ),
    ("010-inspect", "inspect: don't list tags", Pass),
    ("010-inspect", "inspect: image unknown", Pass),
    ("020-copy", "copy: dir, round trip", Pass),
    ("020-copy", "copy: oci, round trip", Pass),
    ("020-copy", "copy: oci, zstd", Pass),
    ("020-copy", "copy: oci w/ and w/o tags", Pass),
    ("020-copy", "copy: registry -> storage -> oci-archive", Pass),
    (
        "020-copy",
        "copy: bug 651",
        Skip("skipped upstream until skopeo issue #651 is fixed"),
    ),
    ("020-copy", "copy: manifest format", Pass),
    ("020-copy", "copy: additional tag", Pass),
    ("020-copy", "copy: shared blob directory", Pass),
    ("020-copy", "copy: sif image", Pass),
    ("030-local-registry-tls", "local registry, with cert", Pass),
    (
        "040-local-registry-auth",
        "auth: credentials on command line",
        Pass,
    ),
    (
        "040-local-registry-auth",
        "auth: credentials via podman login",
        Pass,
    ),
    (
        "040-local-registry-auth",
        "auth: copy with --src-creds and --dest-creds",
        Pass,
    ),
    (
        "040-local-registry-auth",
        "auth: credentials via authfile",
        Pass,
    ),
    (
        "050-signing",
        "signing",
        Differs {
            shows: "Source image rejected: Key not found for key ID",
            why: "a signature by a key the policy does not trust is refused in skopeo 1.22.2's \
                  words (its OpenPGP build: `Key not found for key ID …`); the suite accepts only \
                  gpgme's `Invalid GPG signature` or Sequoia's `Missing key`",
        },
    ),
    ("050-signing", "signing: remove signature", Pass),
    ("050-signing", "signing: standalone", Pass),
    ("060-delete", "delete: remove image from registry", Pass),
    (
        "070-list-tags",
        "list-tags: remote repository on a registry",
        Pass,
    ),
    (
        "070-list-tags",
        "list-tags: from a docker-archive file",
        Pass,
    ),
    ("080-sync", "sync: --dry-run", Pass),
];

/// How one test ended, from the TAP stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    Skipped,
}

/// `skopeo-systemtest/` in the source tree.
fn suite_sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/skopeo-systemtest")
}

/// Fails the test, with an install hint, when a tool the suite needs is missing.
fn require_tools() {
    for (tool, package) in [
        ("bats", "bats"),
        ("docker-registry", "docker-registry"),
        ("htpasswd", "apache2-utils"),
        ("openssl", "openssl"),
        ("podman", "podman"),
        ("gpg", "gnupg"),
        ("jq", "jq"),
        // 020-copy skips its sif test without fakeroot.
        ("fakeroot", "fakeroot"),
        ("unshare", "util-linux"),
        ("ip", "iproute2"),
    ] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .is_ok_and(|output| output.status.success());
        assert!(
            found,
            "{tool} is missing: skopeo's system tests need it (apt-get install {package})"
        );
    }
}

/// The OCI layouts standing in for the quay.io images the suite pulls, with what the suite
/// checks in them: amd64 (on amd64 hosts) with Docker's `docker_version`, a fractional UTC
/// `created` and a `PODMAN` label (alpine_labels), fedora:31's `FGC`/`DISTTAG` variables,
/// and notmyarch's single amigaos/mc68000/1000 instance.
fn write_fixtures(dir: &Path) {
    let created = "2021-01-21T10:11:12.123456789Z";
    let host = host_platform();
    let image = |seed: u64| {
        ImageSpec::new(seed)
            .with_layers(1, 4096)
            .with_created(created)
            .with_platform(host.clone())
    };
    let add = |layout: &str, tag: &str, spec: ImageSpec| {
        OciLayout::create(dir.join(layout))
            .and_then(|layout| layout.add_image(&spec, Some(tag)))
            .unwrap_or_else(|error| panic!("writing fixture {layout}:{tag}: {error}"));
    };
    add("busybox", "latest", image(71));
    add(
        "alpine_labels",
        "latest",
        image(72).with_docker_version("20.10.7").with_label(
            "PODMAN",
            "/usr/bin/podman run -it --name NAME -e NAME=NAME -e IMAGE=IMAGE IMAGE echo podman",
        ),
    );
    add(
        "fedora",
        "31",
        image(73).with_env(&[
            "DISTTAG=f31container",
            "FGC=f31",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ]),
    );
    add("fedora", "latest", image(74));
    add("alpine", "latest", image(75));
    OciLayout::create(dir.join("notmyarch"))
        .and_then(|layout| {
            layout.add_index(
                &image(76),
                &[Platform::new("amigaos", "mc68000", Some("1000"))],
                Some("20210121"),
            )
        })
        .unwrap_or_else(|error| panic!("writing fixture notmyarch: {error}"));
}

/// This machine's platform as Go names it.
fn host_platform() -> Platform {
    let architecture = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    Platform::new("linux", architecture, None)
}

/// Copies `from` into `to` recursively.
fn copy_tree(from: &Path, to: &Path) {
    common::create_dir(to);
    let entries = std::fs::read_dir(from)
        .unwrap_or_else(|error| panic!("listing {}: {error}", from.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|error| panic!("listing {}: {error}", from.display()));
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|error| panic!("copying {}: {error}", entry.path().display()));
        }
    }
}

/// Runs the adapted suite against `binary` (started under the name `skopeo`), returning each
/// test's outcome and the whole TAP output.
fn run_suite(
    work: &Path,
    label: &str,
    binary: &Path,
    fixtures: &Path,
) -> (BTreeMap<String, Outcome>, String) {
    let sources = suite_sources();
    let suite = work.join(format!("suite-{label}"));
    copy_tree(&sources.join("upstream"), &suite);
    let mut helpers = common::read(&sources.join("upstream/helpers.bash"));
    helpers.extend_from_slice(b"\n");
    helpers.extend(common::read(&sources.join("offline-helpers.bash")));
    std::fs::write(suite.join("helpers.bash"), helpers).expect("writing the adapted helpers");
    let state = work.join(format!("state-{label}"));
    common::create_dir(&state);
    let bin = work.join(format!("bin-{label}"));
    common::create_dir(&bin);
    let skopeo = bin.join("skopeo");
    std::os::unix::fs::symlink(binary, &skopeo).expect("symlinking the binary as skopeo");

    let mut command = Command::new("timeout");
    command.args(["--kill-after=10", "900", "unshare"]);
    // /proc/self belongs to the process's effective user: not root means the namespaces
    // need a user namespace mapping it to root.
    let root = std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0);
    if !root {
        command.args(["--user", "--map-root-user"]);
    }
    command
        .args([
            "--net",
            "--mount",
            "--pid",
            "--fork",
            "--mount-proc",
            "bash",
        ])
        .arg(sources.join("run-offline.sh"))
        .arg(&suite)
        .arg(&state)
        .arg(fixtures)
        .arg(env!("CARGO_BIN_EXE_skopos"))
        .env("SKOPEO_BINARY", &skopeo)
        .env_remove("RELEASE_TESTING");
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("starting the offline suite: {error}"));
    let tap = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        tap.lines().any(|line| line.starts_with("1..")) && !tap.contains("Bail out!"),
        "the suite did not run for {label} (exit {:?}):\n{tap}\n{stderr}",
        output.status.code()
    );
    (parse_tap(&tap), tap)
}

/// Test name -> outcome, from bats's `ok N name`, `ok N name # skip (…)`, `not ok N name`.
fn parse_tap(tap: &str) -> BTreeMap<String, Outcome> {
    diagnostics_by_test(tap)
        .into_iter()
        .map(|(name, (outcome, _))| (name, outcome))
        .collect()
}

/// Test name -> (outcome, the `# …` diagnostic lines bats printed after it).
fn diagnostics_by_test(tap: &str) -> BTreeMap<String, (Outcome, String)> {
    let mut tests: BTreeMap<String, (Outcome, String)> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in tap.lines() {
        if let (Some(diagnostic), Some(name)) = (line.strip_prefix('#'), &current) {
            if let Some((_, text)) = tests.get_mut(name) {
                text.push_str(diagnostic);
                text.push('\n');
            }
            continue;
        }
        let (outcome, rest) = if let Some(rest) = line.strip_prefix("not ok ") {
            (Outcome::Failed, rest)
        } else if let Some(rest) = line.strip_prefix("ok ") {
            (Outcome::Passed, rest)
        } else {
            continue;
        };
        let Some((_, name)) = rest.split_once(' ') else {
            continue;
        };
        let (name, outcome) = match name.split_once(" # skip") {
            Some((name, _)) => (name, Outcome::Skipped),
            None => (name, outcome),
        };
        tests.insert(name.to_string(), (outcome, String::new()));
        current = Some(name.to_string());
    }
    tests
}

/// One table line per test: file, name, expectation and outcome.
fn table(outcomes: &BTreeMap<String, Outcome>) -> String {
    EXPECTED
        .iter()
        .map(|(file, name, expect)| {
            format!(
                "{file:<24} {name:<48} {:<8} expected {expect:?}\n",
                format!("{:?}", outcomes.get(*name))
            )
        })
        .collect()
}

#[test]
fn skopeos_system_tests_pass_against_skopos_as_the_table_says() {
    require_tools();
    let work = tempfile::Builder::new()
        .prefix("skopos-systemtest-")
        .tempdir()
        .expect("creating a temp dir");
    let fixtures = work.path().join("fixtures");
    write_fixtures(&fixtures);

    let (outcomes, tap) = run_suite(
        work.path(),
        "skopos",
        Path::new(env!("CARGO_BIN_EXE_skopos")),
        &fixtures,
    );
    eprintln!(
        "skopeo v1.22.2 system tests against skopos:\n{}",
        table(&outcomes)
    );
    let results = diagnostics_by_test(&tap);
    assert_eq!(
        outcomes.len(),
        EXPECTED.len(),
        "the suite ran other tests than the table lists:\n{tap}"
    );
    let mut problems = Vec::new();
    for (_, name, expect) in EXPECTED {
        let outcome = outcomes.get(*name).copied();
        match (expect, outcome) {
            (Pass, Some(Outcome::Passed)) => {}
            (Skip(_), Some(Outcome::Skipped)) => {}
            (Differs { shows, why }, Some(Outcome::Failed)) => {
                let said = results.get(*name).map(|(_, text)| text.as_str());
                if !said.is_some_and(|text| text.contains(shows)) {
                    problems.push(format!(
                        "`{name}` (known to differ: {why}) failed without showing \"{shows}\""
                    ));
                }
            }
            _ => problems.push(format!("`{name}`: expected {expect:?}, got {outcome:?}")),
        }
    }
    assert!(problems.is_empty(), "{}\n\n{tap}", problems.join("\n"));

    let Some(reference) =
        common::skopeo_1_22_binary("running skopeo's system tests against skopeo 1.22.2")
    else {
        return;
    };
    let (reference_outcomes, reference_tap) =
        run_suite(work.path(), "skopeo-1.22", &reference, &fixtures);
    eprintln!(
        "the same adapted suite against skopeo 1.22.2:\n{}",
        table(&reference_outcomes)
    );
    // The suite skips the signing tests for a skopeo that cannot sign (the static 1.22.2
    // build); a skip there is the reference's limit, not a broken adaptation.
    let broken: Vec<&str> = EXPECTED
        .iter()
        .filter(|(_, name, expect)| {
            let outcome = reference_outcomes.get(*name);
            *expect == Pass
                && outcome != Some(&Outcome::Passed)
                && !(name.starts_with("signing") && outcome == Some(&Outcome::Skipped))
        })
        .map(|(_, name, _)| *name)
        .collect();
    assert!(
        broken.is_empty(),
        "skopeo 1.22.2 fails tests the table expects skopos to pass (an adaptation broke \
         them?): {broken:?}\n\n{reference_tap}"
    );
}
