//! Shared harness of the integration tests: a temp work area per test, runners for skopos and
//! for skopeo (the reference), tree comparison and error-output checks.
//!
//! Every command runs with its working directory in the test's temp dir and HOME / XDG dirs
//! pointing inside it, so neither tool touches the machine's own stores or caches.
#![allow(dead_code)] // each test binary uses a different subset of the harness

pub mod gnupg;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use skopos_testimage::{ImageSpec, OciLayout, Platform, WrittenImage, WrittenIndex};

/// The placeholder that [`Workspace::run_both`] replaces with `skopos` or `skopeo` in every
/// argument, so the two tools write to different destinations from the same command line.
pub const WHO: &str = "@WHO";

/// A test's private temp directory.
pub struct Workspace {
    dir: tempfile::TempDir,
}

/// What one command did.
#[derive(Debug)]
pub struct Outcome {
    /// The command line, for failure messages.
    pub command: String,
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
    /// Standard output bytes, for byte-exact comparisons.
    pub stdout_bytes: Vec<u8>,
}

impl Outcome {
    fn from_output(command: String, output: Output) -> Outcome {
        Outcome {
            command,
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            stdout_bytes: output.stdout,
        }
    }

    /// Panics (failing the test) unless the command exited 0.
    pub fn assert_success(&self) -> &Outcome {
        assert_eq!(
            self.code,
            Some(0),
            "`{}` failed\nstdout:\n{}\nstderr:\n{}",
            self.command,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Both tools' outcomes for the same command line.
#[derive(Debug)]
pub struct Pair {
    /// The tool under test.
    pub skopos: Outcome,
    /// The reference.
    pub skopeo: Outcome,
}

impl Pair {
    /// Asserts that both succeeded (skopeo first: if it fails, the test's expectation is wrong).
    pub fn assert_both_succeed(&self) -> &Pair {
        self.skopeo.assert_success();
        self.skopos.assert_success();
        self
    }

    /// Asserts that both succeeded and printed the same stdout bytes (skopeo 1.9.3's copy
    /// progress read in 1.22.2's words, see [`progress_as_skopeo_1_22`]).
    pub fn assert_same_stdout(&self) {
        self.assert_both_succeed();
        let expected = match std::str::from_utf8(&self.skopeo.stdout_bytes) {
            Ok(text) => progress_as_skopeo_1_22(text).into_bytes(),
            Err(_) => self.skopeo.stdout_bytes.clone(),
        };
        assert_eq!(
            self.skopos.stdout,
            String::from_utf8_lossy(&expected),
            "stdout of `{}` differs from skopeo's",
            self.skopos.command
        );
        assert_eq!(self.skopos.stdout_bytes, expected);
    }

    /// For the default `inspect` output: asserts that both succeeded and that skopos printed
    /// skopeo 1.9.3's JSON plus the `LayersData` member newer skopeo has, between `Layers`
    /// and `Env`. Returns skopos's output, parsed.
    pub fn assert_same_inspect_json(&self) -> serde_json::Value {
        self.assert_both_succeed();
        let stdout = &self.skopos.stdout;
        assert_eq!(
            without_layers_data(stdout),
            self.skopeo.stdout,
            "stdout of `{}` (LayersData removed) differs from skopeo's",
            self.skopos.command
        );
        let position = |key: &str| {
            stdout
                .find(&format!("\n    \"{key}\": "))
                .unwrap_or_else(|| panic!("no {key} in skopos's output:\n{stdout}"))
        };
        assert!(
            position("Layers") < position("LayersData") && position("LayersData") < position("Env"),
            "LayersData must come after Layers and before Env:\n{stdout}"
        );
        parse_json(&self.skopos.stdout_bytes)
    }
}

/// skopos's default `inspect` output without the `LayersData` member, which skopeo 1.9.3
/// does not print.
pub fn without_layers_data(stdout: &str) -> String {
    const KEY: &str = "\n    \"LayersData\": ";
    const CLOSE: &str = "\n    ],";
    let start = stdout
        .find(KEY)
        .unwrap_or_else(|| panic!("no LayersData in skopos's output:\n{stdout}"));
    let value = &stdout[start + KEY.len()..];
    let length = if value.starts_with("[],") {
        "[],".len()
    } else {
        value
            .find(CLOSE)
            .map(|close| close + CLOSE.len())
            .unwrap_or_else(|| panic!("unterminated LayersData in skopos's output:\n{stdout}"))
    };
    format!("{}{}", &stdout[..start], &value[length..])
}

impl Workspace {
    /// A fresh temp dir with private HOME and XDG dirs for both tools.
    pub fn new() -> Workspace {
        let dir = tempfile::Builder::new()
            .prefix("skopos-test-")
            .tempdir()
            .unwrap_or_else(|error| panic!("creating a temp dir for the test: {error}"));
        let workspace = Workspace { dir };
        for home in ["home-skopos", "home-skopeo"] {
            create_dir(&workspace.path(home));
        }
        workspace
    }

    /// `name` inside the work area (relative names in command lines resolve against it too).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// An OCI layout (created if needed) at `name`.
    pub fn layout(&self, name: &str) -> OciLayout {
        OciLayout::create(self.path(name))
            .unwrap_or_else(|error| panic!("creating OCI layout {name}: {error}"))
    }

    /// A three-layer gzip image (20 KB of content per layer) tagged `tag` in layout `name`.
    pub fn image(&self, name: &str, tag: &str, seed: u64) -> WrittenImage {
        self.image_from(name, tag, &ImageSpec::new(seed).with_layers(3, 20_000))
    }

    /// An image from `spec` tagged `tag` in layout `name`.
    pub fn image_from(&self, name: &str, tag: &str, spec: &ImageSpec) -> WrittenImage {
        self.layout(name)
            .add_image(spec, Some(tag))
            .unwrap_or_else(|error| panic!("writing test image {name}:{tag}: {error}"))
    }

    /// Copies `source` to the plain-HTTP registry image `target` with skopos.
    pub fn push(&self, source: &str, target: &str) {
        self.skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            source,
            target,
        ])
        .assert_success();
    }

    /// Pushes tags `t1`..`t<count>` of repository `app` to the plain-HTTP `registry`: one
    /// small image each, made from seeds `seed + 1`, `seed + 2`, …. The tags.
    pub fn push_tags(&self, registry: &str, count: usize, seed: u64) -> Vec<String> {
        (1..=count)
            .map(|n| {
                let tag = format!("t{n}");
                self.image_from(
                    "src",
                    &tag,
                    &ImageSpec::new(seed + n as u64).with_layers(1, 2_000),
                );
                self.push(
                    &format!("oci:src:{tag}"),
                    &format!("docker://{registry}/app:{tag}"),
                );
                tag
            })
            .collect()
    }

    /// A linux/amd64 + linux/arm64/v8 + linux/s390x index tagged `tag` in layout `name`.
    pub fn multi_arch(&self, name: &str, tag: &str) -> WrittenIndex {
        self.layout(name)
            .add_index(
                &ImageSpec::new(11).with_layers(2, 12_000),
                &Platform::three(),
                Some(tag),
            )
            .unwrap_or_else(|error| panic!("writing test index {name}:{tag}: {error}"))
    }

    /// Runs skopos with exactly `args`. `$SKOPOS_UNDER_TEST` replaces the binary: pointing it
    /// at a skopeo wrapper checks the tests' expectations against the reference itself.
    pub fn skopos(&self, args: &[&str]) -> Outcome {
        self.skopos_with_env(&[], args)
    }

    /// [`Workspace::skopos`] with `env` added to the environment.
    pub fn skopos_with_env(&self, env: &[(&str, &str)], args: &[&str]) -> Outcome {
        self.skopos_at_with_env(&skopos_binary(), env, args)
    }

    /// [`Workspace::skopos_with_env`] with the skopos binary at `binary` (a copy, an
    /// installed one).
    pub fn skopos_at_with_env(
        &self,
        binary: &Path,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Outcome {
        let mut outcome = self.run(
            skopos_command(binary, args),
            "home-skopos",
            "skopos",
            args,
            env,
        );
        if !env.is_empty() {
            outcome.command = format!("{env:?} {}", outcome.command);
        }
        outcome
    }

    /// [`Workspace::skopos`], also returning the most memory the process held (its peak
    /// resident set, in bytes: the kernel's `ru_maxrss` for that one child, from `wait4`).
    // The child is reaped by `wait4`, which std's `wait` cannot stand in for: it gives no
    // resource usage.
    #[allow(clippy::zombie_processes)]
    pub fn skopos_peak_memory(&self, args: &[&str]) -> (Outcome, u64) {
        use std::io::Read as _;
        use std::os::unix::process::ExitStatusExt as _;
        use std::process::Stdio;
        let line = format!("skopos {}", args.join(" "));
        let mut command = skopos_command(&skopos_binary(), args);
        self.isolate(&mut command, "home-skopos");
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("starting `{line}`: {error}"));
        let mut stderr = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stderr.read_to_end(&mut bytes);
            bytes
        });
        let mut stdout = Vec::new();
        let _ = child
            .stdout
            .take()
            .expect("piped stdout")
            .read_to_end(&mut stdout);
        let stderr = stderr.join().expect("the stderr reader panicked");
        let pid = libc::pid_t::try_from(child.id()).expect("a pid");
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value of that plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is this process's child, not waited for yet (std's `Child` only
        // waits when asked); both pointers are valid for writes.
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
        let output = Output {
            status: std::process::ExitStatus::from_raw(status),
            stdout,
            stderr,
        };
        // Linux counts ru_maxrss in KiB.
        let peak = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
        (Outcome::from_output(line, output), peak)
    }

    /// Runs the binary under test through a symlink named `skopeo` (as a drop-in is installed),
    /// so that it names itself skopeo in help and usage texts, with exactly `args`.
    pub fn skopos_as_skopeo(&self, args: &[&str]) -> Outcome {
        let binary = skopos_binary();
        let dir = self.path("skopos-as-skopeo");
        let link = dir.join("skopeo");
        if !link.exists() {
            create_dir(&dir);
            std::os::unix::fs::symlink(&binary, &link)
                .unwrap_or_else(|error| panic!("symlinking {}: {error}", link.display()));
        }
        let mut command = Command::new(&link);
        command.args(args);
        self.run(command, "home-skopos", "skopos-as-skopeo", args, &[])
    }

    /// Runs skopeo with exactly `args`.
    pub fn skopeo(&self, args: &[&str]) -> Outcome {
        self.skopeo_at_with_env(skopeo_binary(), &[], args)
    }

    /// Runs the skopeo binary at `binary` (the reference, or another version) with `env`
    /// added to the environment.
    pub fn skopeo_at_with_env(
        &self,
        binary: &Path,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Outcome {
        let mut command = if user_namespace_available() {
            // As root, skopeo keeps its blob-info cache in /var/lib/containers; as an ordinary
            // user inside a user namespace it uses $XDG_DATA_HOME, which is in the temp dir.
            let mut command = Command::new("unshare");
            command.args(["--user", "--map-user=1000", "--map-group=1000"]);
            command.arg(binary);
            command
        } else {
            Command::new(binary)
        };
        command.args(args);
        self.run(command, "home-skopeo", "skopeo", args, env)
    }

    /// Runs skopeo 1.22.2 (`$SKOPEO_1_22`) with exactly `args` and `env` added, as the test's own user: that
    /// build keeps its blob-info cache in memory (no cgo, no SQLite), so it writes nothing
    /// outside the temp dir even as root. `None` when the variable is unset, after printing
    /// that `what` was skipped, so that a run without the peer binaries says what it left out.
    pub fn skopeo_1_22(&self, what: &str, env: &[(&str, &str)], args: &[&str]) -> Option<Outcome> {
        let binary = skopeo_1_22_binary(what)?;
        let mut command = Command::new(binary);
        command.args(args);
        Some(self.run(command, "home-skopeo", "skopeo-1.22", args, env))
    }

    /// Runs skopeo with exactly `args` as root, for `containers-storage:` (which skopeo,
    /// as an ordinary user, reaches only by re-executing itself in a new user namespace).
    /// It runs in a private mount namespace with an empty directory of the work area over
    /// /var/lib, so that its blob-info cache (/var/lib/containers/cache for root) stays in
    /// the test's temp dir.
    pub fn skopeo_as_root(&self, args: &[&str]) -> Outcome {
        self.skopeo_binary_as_root(skopeo_binary(), args)
    }

    /// [`Workspace::skopeo_as_root`] with another skopeo binary (such as `$SKOPEO_1_22`).
    pub fn skopeo_binary_as_root(&self, binary: &Path, args: &[&str]) -> Outcome {
        let scratch = self.path("skopeo-var-lib");
        create_dir(&scratch);
        let mut command = Command::new("unshare");
        command
            .args([
                "--mount",
                "sh",
                "-c",
                "mount --bind \"$0\" /var/lib && exec \"$@\"",
            ])
            .arg(&scratch)
            .arg(binary)
            .args(args);
        self.run(command, "home-skopeo", "skopeo", args, &[])
    }

    /// Runs `--insecure-policy ARGS` through skopeo, then through skopos, with [`WHO`] in each
    /// argument replaced by the tool's name.
    pub fn run_both(&self, args: &[&str]) -> Pair {
        let for_tool = |tool: &str| -> Vec<String> {
            std::iter::once("--insecure-policy".to_string())
                .chain(args.iter().map(|arg| arg.replace(WHO, tool)))
                .collect()
        };
        let skopeo_args = for_tool("skopeo");
        let skopos_args = for_tool("skopos");
        let skopeo = self.skopeo(&as_strs(&skopeo_args));
        let skopos = self.skopos(&as_strs(&skopos_args));
        Pair { skopos, skopeo }
    }

    /// Runs `command` in the work area with the private HOME / XDG dirs under `home`
    /// (`home-skopos` or `home-skopeo`) and without the proxy or auth-file variables of the
    /// machine running the tests.
    pub fn isolate(&self, command: &mut Command, home: &str) {
        let home = self.path(home);
        // Both tools warn on every run when $XDG_RUNTIME_DIR names a missing directory.
        std::fs::create_dir_all(home.join("run")).expect("creating the runtime dir");
        command
            .current_dir(self.dir.path())
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_RUNTIME_DIR", home.join("run"))
            .env("TMPDIR", self.dir.path())
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("DOCKER_CONFIG");
        // The registries of the tests are on loopback: a proxy of the machine running them
        // must not come between.
        for proxy in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "NO_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
            "no_proxy",
        ] {
            command.env_remove(proxy);
        }
    }

    fn run(
        &self,
        mut command: Command,
        home: &str,
        tool: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Outcome {
        self.isolate(&mut command, home);
        command.envs(env.iter().copied());
        let line = format!("{tool} {}", args.join(" "));
        let output = command
            .output()
            .unwrap_or_else(|error| panic!("starting `{line}`: {error}"));
        Outcome::from_output(line, output)
    }
}

/// The binary under test: `$SKOPOS_UNDER_TEST`, else this build's skopos.
fn skopos_binary() -> PathBuf {
    std::env::var_os("SKOPOS_UNDER_TEST")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_skopos").into())
        .into()
}

/// The command line running the skopos at `binary` with `args`.
fn skopos_command(binary: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(binary);
    command.args(args);
    // As root, skopos (like containers/image) keeps its blob-info cache in
    // /var/lib/containers/cache; as the user containers/image's own variable names, in
    // $XDG_DATA_HOME, which is in the temp dir. The variable also makes a store rootless
    // (as for c/storage), so a command opening one runs as the root it is, like the
    // skopeo and podman it is compared with.
    if !args
        .iter()
        .any(|arg| arg.starts_with("containers-storage:"))
    {
        command.env("_CONTAINERS_ROOTLESS_UID", "1000");
    }
    command
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Prints `SKIPPED: what` where the person running the tests sees it: straight to the process's
/// stderr, which the test harness's output capture (it only takes `eprintln!`) does not hide.
pub fn report_skipped(what: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {what}");
}

/// Creates a directory and its parents, failing the test on error.
pub fn create_dir(path: &Path) {
    fs::create_dir_all(path).unwrap_or_else(|error| panic!("creating {}: {error}", path.display()));
}

/// Reads a file, failing the test on error.
pub fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// Parses JSON text, failing the test with the text when it is not JSON.
pub fn parse_json(text: &[u8]) -> serde_json::Value {
    serde_json::from_slice(text)
        .unwrap_or_else(|error| panic!("not JSON ({error}):\n{}", String::from_utf8_lossy(text)))
}

/// The skopeo binary: `$SKOPEO` if set, else `skopeo` on PATH (Debian: /usr/bin/skopeo).
/// Fails the test with instructions when it is not installed.
pub fn skopeo_binary() -> &'static Path {
    static BINARY: OnceLock<Option<PathBuf>> = OnceLock::new();
    let found = BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("SKOPEO") {
            return Some(PathBuf::from(path));
        }
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("skopeo"))
                .find(|candidate| candidate.is_file())
        })
    });
    match found {
        Some(path) => path,
        None => panic!(
            "skopeo is not installed: these tests compare skopos with the reference skopeo \
             (Debian's 1.9.3). Install it with `sudo apt-get install -y skopeo` (CI's .ci/run \
             does), or point $SKOPEO at a skopeo binary."
        ),
    }
}

/// skopeo 1.22.2, the reference where it differs from Debian's 1.9.3: `$SKOPEO_1_22`, or
/// `None` after a visible SKIPPED line naming the comparison `what` when it is not set.
pub fn skopeo_1_22_binary(what: &str) -> Option<PathBuf> {
    match std::env::var_os("SKOPEO_1_22") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            report_skipped(&format!(
                "{what} (set SKOPEO_1_22 to a skopeo 1.22.2 binary)"
            ));
            None
        }
    }
}

/// Whether `unshare --user --map-user=1000` works here (util-linux >= 2.38 and user namespaces
/// allowed); only then can skopeo run as root without writing /var/lib/containers/cache.
pub fn user_namespace_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new("unshare")
            .args(["--user", "--map-user=1000", "--map-group=1000", "true"])
            .output()
            .map(|output| output.status.success())
            .unwrap_or(false)
    })
}

/// Runs `binary ARGS` as uid and gid `user` (through `setpriv`, from root) with private HOME
/// and XDG dirs under `home` and `$TMPDIR` the work area's `user-tmp`, which that user must be
/// able to write (see [`give_to_user`]).
pub fn run_as_user(
    user: u32,
    workspace: &Workspace,
    binary: &Path,
    home: &str,
    args: &[&str],
) -> Outcome {
    let mut command = Command::new("setpriv");
    command
        .args([
            &format!("--reuid={user}"),
            &format!("--regid={user}"),
            "--clear-groups",
        ])
        .arg(binary)
        .args(args);
    workspace.isolate(&mut command, home);
    command.env("TMPDIR", workspace.path("user-tmp"));
    let output = command.output().expect("running setpriv");
    Outcome {
        command: format!("{} {}", binary.display(), args.join(" ")),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout_bytes: output.stdout,
    }
}

/// Gives `path` and everything under it to uid and gid `user`.
pub fn give_to_user(user: u32, path: &Path) {
    let status = Command::new("chown")
        .args(["-R", &format!("{user}:{user}")])
        .arg(path)
        .status()
        .expect("running chown");
    assert!(status.success(), "chown {}", path.display());
}

/// The name of the user that [`rootless_test_user`] makes.
const ROOTLESS_TEST_USER: &str = "skopos-rootless";

/// The uid, also its gid, of a local user with `/etc/subuid` and `/etc/subgid` ranges, as a
/// rootless podman user has, made on first use (`useradd` gives a new user its ranges; they
/// are added when the user has none). `None`, after a visible SKIPPED line naming `what`, when
/// this process is not root or cannot make the user, or user namespaces are not available.
pub fn rootless_test_user(what: &str) -> Option<u32> {
    static USER: OnceLock<Result<u32, String>> = OnceLock::new();
    let user = USER.get_or_init(|| {
        if !rustix::process::geteuid().is_root() {
            return Err("the test switches to a test user, which needs root".into());
        }
        if !user_namespace_available() {
            return Err("user namespaces are not available here".into());
        }
        let id = |which: &str| {
            Command::new("id")
                .args([which, ROOTLESS_TEST_USER])
                .output()
                .ok()
                .filter(|output| output.status.success())
                .and_then(|output| String::from_utf8_lossy(&output.stdout).trim().parse().ok())
        };
        if id("-u").is_none() {
            // Another test binary may be making it at the same time: `id` decides.
            let _ = Command::new("useradd")
                .args([
                    "--user-group",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                ])
                .arg(ROOTLESS_TEST_USER)
                .output();
        }
        let uid: u32 = id("-u").ok_or_else(|| format!("useradd {ROOTLESS_TEST_USER} failed"))?;
        // run_as_user switches to one number for both, and newgidmap maps only the user's own.
        if id("-g") != Some(uid) {
            return Err(format!("{ROOTLESS_TEST_USER}'s gid is not its uid {uid}"));
        }
        let has_ranges = |file: &str| {
            fs::read_to_string(file)
                .unwrap_or_default()
                .lines()
                .any(|line| {
                    line.split(':').next() == Some(ROOTLESS_TEST_USER)
                        || line.split(':').next() == Some(uid.to_string().as_str())
                })
        };
        if !has_ranges("/etc/subuid") || !has_ranges("/etc/subgid") {
            let added = Command::new("usermod")
                .args([
                    "--add-subuids",
                    "300000-365535",
                    "--add-subgids",
                    "300000-365535",
                ])
                .arg(ROOTLESS_TEST_USER)
                .status()
                .is_ok_and(|status| status.success());
            if !added {
                return Err(format!(
                    "usermod could not give {ROOTLESS_TEST_USER} subuid ranges"
                ));
            }
        }
        Ok(uid)
    });
    match user {
        Ok(uid) => Some(*uid),
        Err(why) => {
            report_skipped(&format!("{what}: {why}"));
            None
        }
    }
}

/// One entry of a directory tree snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A directory (listed so empty directories count).
    Directory,
    /// A regular file's bytes.
    File(Vec<u8>),
    /// A symlink's target.
    Symlink(PathBuf),
}

/// Every entry under `root`, keyed by its path relative to `root` (`/`-separated).
pub fn snapshot(root: &Path) -> BTreeMap<String, Entry> {
    let mut entries = BTreeMap::new();
    snapshot_into(root, root, &mut entries);
    entries
}

fn snapshot_into(root: &Path, dir: &Path, entries: &mut BTreeMap<String, Entry>) {
    let listing =
        fs::read_dir(dir).unwrap_or_else(|error| panic!("listing {}: {error}", dir.display()));
    for item in listing {
        let item = item.unwrap_or_else(|error| panic!("listing {}: {error}", dir.display()));
        let path = item.path();
        let relative = path
            .strip_prefix(root)
            .map(|relative| relative.to_string_lossy().into_owned())
            .unwrap_or_else(|_| path.to_string_lossy().into_owned());
        let kind = item
            .file_type()
            .unwrap_or_else(|error| panic!("stat {}: {error}", path.display()));
        if kind.is_dir() {
            entries.insert(relative, Entry::Directory);
            snapshot_into(root, &path, entries);
        } else if kind.is_symlink() {
            let target = fs::read_link(&path)
                .unwrap_or_else(|error| panic!("readlink {}: {error}", path.display()));
            entries.insert(relative, Entry::Symlink(target));
        } else {
            entries.insert(relative, Entry::File(read(&path)));
        }
    }
}

/// The index `mediaType` skopeo 1.22.2 writes into a new `index.json`, right after
/// `schemaVersion` (1.9.3 wrote none).
const NEW_INDEX_MEDIA_TYPE: &str = r#""mediaType":"application/vnd.oci.image.index.v1+json","#;

/// `tree` with the two `oci:` layout bytes that changed between skopeo 1.9.3 and 1.22.2 put
/// in 1.9.3's form: a new `index.json` without the index `mediaType`, `oci-layout` with a space
/// after the colon. Comparisons with 1.9.3 use it on both sides; the 1.22.2 forms themselves
/// are checked literally and against skopeo 1.22.2 in `oci_layout_1_22.rs`.
pub fn without_layout_format_changes(mut tree: BTreeMap<String, Entry>) -> BTreeMap<String, Entry> {
    for (name, entry) in tree.iter_mut() {
        if let Entry::File(bytes) = entry {
            *bytes = layout_file_as_skopeo_1_9(name, std::mem::take(bytes));
        }
    }
    tree
}

/// The bytes of the file at `path` (`/`-separated) in skopeo 1.9.3's layout format: see
/// [`without_layout_format_changes`].
pub fn layout_file_as_skopeo_1_9(path: &str, bytes: Vec<u8>) -> Vec<u8> {
    let file = path.rsplit('/').next().unwrap_or(path);
    if file == "oci-layout" && bytes.as_slice() == br#"{"imageLayoutVersion":"1.0.0"}"# {
        return br#"{"imageLayoutVersion": "1.0.0"}"#.to_vec();
    }
    if file == "index.json" {
        let prefix = format!(r#"{{"schemaVersion":2,{NEW_INDEX_MEDIA_TYPE}"#);
        if let Some(rest) = bytes.strip_prefix(prefix.as_bytes()) {
            return [br#"{"schemaVersion":2,"#.as_slice(), rest].concat();
        }
    }
    bytes
}

/// skopeo 1.9.3's copy progress in skopeo 1.22.2's words: `Storing signatures` only for an
/// image that has signatures (the source's, announced by `Checking if image destination
/// supports signatures`, or new ones, `Creating signature…`), and
/// `Copying N images generated from M images in list`.
pub fn progress_as_skopeo_1_22(stdout: &str) -> String {
    let mut out = String::new();
    let mut has_signatures = false;
    for line in stdout.split_inclusive('\n') {
        let (text, end) = match line.strip_suffix('\n') {
            Some(text) => (text, "\n"),
            None => (line, ""),
        };
        if text.starts_with("Checking if image destination supports signatures")
            || text.starts_with("Creating signature")
        {
            has_signatures = true;
        }
        if text == "Storing signatures" && !std::mem::take(&mut has_signatures) {
            continue;
        }
        let renamed = text
            .strip_prefix("Copying ")
            .and_then(|rest| rest.strip_suffix(" images in list"))
            .and_then(|counts| counts.split_once(" of "))
            .map(|(copying, total)| {
                format!("Copying {copying} images generated from {total} images in list")
            });
        out.push_str(renamed.as_deref().unwrap_or(text));
        out.push_str(end);
    }
    out
}

/// Asserts that two trees hold the same names with the same bytes (apart from the layout
/// format changes [`without_layout_format_changes`] undoes); the message lists what differs
/// and shows small text files in full.
pub fn assert_same_tree(actual: &Path, expected: &Path) {
    for (tree, tool) in [(expected, "skopeo"), (actual, "skopos")] {
        assert!(
            tree.is_dir(),
            "{} does not exist: {tool} did not write it",
            tree.display()
        );
    }
    let differences = tree_differences(
        &without_layout_format_changes(snapshot(actual)),
        &without_layout_format_changes(snapshot(expected)),
        "skopos",
        "skopeo",
    );
    assert!(
        differences.is_empty(),
        "tree {} (skopos) differs from {} (skopeo):\n{}",
        actual.display(),
        expected.display(),
        differences.join("\n")
    );
}

/// One line per entry that is missing from, extra in, or different in `actual` compared with
/// `expected`; the labels name the two sides in the lines.
pub fn tree_differences(
    actual: &BTreeMap<String, Entry>,
    expected: &BTreeMap<String, Entry>,
    actual_label: &str,
    expected_label: &str,
) -> Vec<String> {
    let mut differences = Vec::new();
    for (name, entry) in expected {
        match actual.get(name) {
            None => differences.push(format!("  missing: {name}")),
            Some(other) if other != entry => differences.push(format!(
                "  differs: {name}\n    {actual_label}: {}\n    {expected_label}: {}",
                describe(other),
                describe(entry)
            )),
            Some(_) => {}
        }
    }
    for name in actual.keys() {
        if !expected.contains_key(name) {
            differences.push(format!("  extra:   {name}"));
        }
    }
    differences
}

fn describe(entry: &Entry) -> String {
    match entry {
        Entry::Directory => "directory".into(),
        Entry::Symlink(target) => format!("symlink to {}", target.display()),
        Entry::File(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) if bytes.len() <= 2000 => format!("{text:?}"),
            _ => format!("{} binary bytes", bytes.len()),
        },
    }
}

/// Asserts the failure shape every error must have: a non-zero exit (`expected_code` when
/// given), no panic, and exactly one non-empty line on stderr.
pub fn assert_one_line_failure(outcome: &Outcome, expected_code: Option<i32>) {
    assert!(
        !outcome.stderr.contains("panicked"),
        "`{}` panicked:\n{}",
        outcome.command,
        outcome.stderr
    );
    match expected_code {
        Some(code) => assert_eq!(
            outcome.code,
            Some(code),
            "exit code of `{}` (stderr: {})",
            outcome.command,
            outcome.stderr
        ),
        None => assert!(
            matches!(outcome.code, Some(code) if code != 0),
            "`{}` should fail with a non-zero exit code, got {:?} (stdout: {})",
            outcome.command,
            outcome.code,
            outcome.stdout
        ),
    }
    let lines: Vec<&str> = outcome.stderr.trim_end_matches('\n').lines().collect();
    assert!(
        lines.len() == 1 && !lines[0].trim().is_empty(),
        "`{}` should print exactly one error line on stderr, got {} lines:\n{}",
        outcome.command,
        lines.len(),
        outcome.stderr
    );
}

/// The arguments of `sync` from the plain-HTTP registry repository `repository` into the
/// directory `destination` (without `--insecure-policy`, which callers add or not).
pub fn sync_registry_to_dir(repository: &str, destination: &str) -> Vec<String> {
    [
        "sync",
        "--src",
        "docker",
        "--dest",
        "dir",
        "--src-tls-verify=false",
        repository,
        destination,
    ]
    .map(str::to_string)
    .to_vec()
}

/// The text of an error line without logrus's `time=… level=fatal msg="…"` wrapping and with its
/// quoting undone; a line without that wrapping is returned as it is. Lets messages be compared
/// whichever way each tool frames them.
pub fn skopeo_message(stderr: &str) -> String {
    let line = stderr.trim_end();
    let quoted = line
        .split_once("msg=\"")
        .map(|(_, rest)| rest.strip_suffix('"').unwrap_or(rest))
        .unwrap_or(line);
    quoted.replace("\\\"", "\"").replace("\\\\", "\\")
}

/// The digest of the manifest a registry image has, as skopeo reads it (plain HTTP or an
/// unverified certificate).
pub fn registry_manifest_digest(workspace: &Workspace, image: &str) -> String {
    let raw = workspace.skopeo(&[
        "--insecure-policy",
        "inspect",
        "--raw",
        "--tls-verify=false",
        image,
    ]);
    raw.assert_success();
    skopos_core::Digest::sha256_of(&raw.stdout_bytes).to_string()
}
