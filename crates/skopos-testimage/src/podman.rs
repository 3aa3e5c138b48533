//! A podman API service for `docker-daemon:` tests: podman's Docker-compatible Engine API on
//! a unix socket in a temporary directory, with its image store (vfs), run state, temporary
//! files and configuration all inside that directory, so the machine's own containers
//! storage is never read or written. The `podman` CLI helpers run against the same store.
//!
//! The service stops when the [`PodmanService`] is dropped, and also when the test process
//! exits without dropping it (a service kept in a `static`): it runs under a small shell that
//! stops it as soon as the test process's end of a pipe closes.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const PODMAN_BINARY: &str = "podman";

/// How long the service may take to answer its first `/_ping`.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// `sh -c WATCHDOG_SCRIPT name DIR PODMAN ARGS…` runs `PODMAN ARGS…` with its output on the
/// script's standard output and a watcher that stops it (SIGTERM) once the script's standard
/// input reaches its end (the test process closed the pipe or exited). When the service has
/// ended, for that or any other reason, the script removes DIR, the service's temporary
/// directory, which a service kept in a `static` never gets to remove itself.
const WATCHDOG_SCRIPT: &str = r#"dir=$1; shift
exec 2>&1 3<&0 0</dev/null
"$@" 3<&- & service=$!
{ cat <&3 >/dev/null; kill $service 2>/dev/null; } >/dev/null 3<&3 &
exec 3<&-
wait $service
[ -n "$dir" ] && rm -rf -- "$dir""#;

/// containers.conf for the service and CLI: file events (no journald), cgroupfs (no
/// systemd), and image copies staged in the temp dir instead of /var/tmp (`{tmp}` is
/// replaced). Being named by `CONTAINERS_CONF`, it is the only containers.conf podman reads.
const CONTAINERS_CONF: &str = "[engine]\nevents_logger = \"file\"\ncgroup_manager = \"cgroupfs\"\nimage_copy_tmp_dir = \"{tmp}\"\n";

/// A running `podman system service`; stopped when dropped.
pub struct PodmanService {
    watchdog: Child,
    /// The watchdog's standard input: closing it stops the service.
    watchdog_input: Option<ChildStdin>,
    /// Collects the service's output, for the failure message when it does not start.
    log: Option<JoinHandle<String>>,
    dir: tempfile::TempDir,
    socket: PathBuf,
}

impl PodmanService {
    /// Start a service on a fresh store and wait until it answers `/_ping`. Panics (failing
    /// the test) with an install hint when podman is missing, or with podman's output when
    /// it does not start.
    pub fn start() -> PodmanService {
        let dir = podman_sandbox("skopos-podman-", "vfs");
        let socket = dir.path().join("podman.sock");
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(WATCHDOG_SCRIPT)
            .arg("podman-watchdog")
            .arg(dir.path())
            .arg(PODMAN_BINARY)
            .args(store_arguments(dir.path(), "vfs"))
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        isolate(&mut command, dir.path());
        let mut watchdog = command.spawn().expect("starting sh for the podman service");
        let watchdog_input = watchdog.stdin.take();
        let log = watchdog.stdout.take().map(|mut output| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = output.read_to_string(&mut text);
                text
            })
        });
        let mut service = PodmanService {
            watchdog,
            watchdog_input,
            log,
            dir,
            socket,
        };
        service.wait_until_ready();
        service
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if ping(&self.socket) {
                return;
            }
            if matches!(self.watchdog.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Stop it (if it is still starting) so that its output is complete.
        drop(self.watchdog_input.take());
        let _ = self.watchdog.wait();
        let log = self
            .log
            .take()
            .and_then(|log| log.join().ok())
            .unwrap_or_default();
        let installed = Command::new(PODMAN_BINARY)
            .arg("--version")
            .output()
            .is_ok_and(|output| output.status.success());
        assert!(
            installed,
            "podman is not installed: the docker-daemon: tests run podman's Docker API \
             service. Install it with `apt-get install podman uidmap` (CI's .ci/run does)."
        );
        panic!("the podman API service did not answer /_ping; its output:\n{log}");
    }

    /// The socket the service listens on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The service as a docker host: `unix://<socket>`, for `--daemon-host` / `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Run the `podman` CLI with `args` against the service's store.
    pub fn podman(&self, args: &[&str]) -> Output {
        let mut command = Command::new(PODMAN_BINARY);
        command
            .args(store_arguments(self.dir.path(), "vfs"))
            .args(args);
        isolate(&mut command, self.dir.path());
        command
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("running podman {}: {error}", args.join(" ")))
    }

    /// Run the `podman` CLI with `args` against the service's store; its stdout. Panics
    /// (failing the test) with podman's stderr when it fails.
    pub fn podman_ok(&self, args: &[&str]) -> String {
        successful_stdout(args, self.podman(args))
    }

    /// The `REPOSITORY:TAG` names of the store's images (`podman images`), sorted.
    pub fn image_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .podman_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .lines()
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }

    /// Whether the store has an image called `name`.
    pub fn has_image(&self, name: &str) -> bool {
        self.podman(&["image", "exists", name]).status.success()
    }

    /// `podman image inspect NAME`'s first (only) object.
    pub fn image_inspect(&self, name: &str) -> serde_json::Value {
        let text = self.podman_ok(&["image", "inspect", name]);
        let parsed: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("podman image inspect {name}: not JSON ({error})"));
        parsed[0].clone()
    }

    /// The image's layer DiffIDs (`RootFS.Layers`).
    pub fn diff_ids(&self, name: &str) -> Vec<String> {
        self.image_inspect(name)["RootFS"]["Layers"]
            .as_array()
            .map(|layers| {
                layers
                    .iter()
                    .filter_map(|layer| layer.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `podman load -i ARCHIVE` (a docker-archive or oci-archive tar).
    pub fn load(&self, archive: &Path) {
        let archive = archive.to_str().expect("archive path is UTF-8");
        self.podman_ok(&["load", "-q", "-i", archive]);
    }

    /// `podman save --format docker-archive -o ARCHIVE NAME`.
    pub fn save(&self, name: &str, archive: &Path) {
        let archive = archive.to_str().expect("archive path is UTF-8");
        self.podman_ok(&[
            "save",
            "-q",
            "--format",
            "docker-archive",
            "-o",
            archive,
            name,
        ]);
    }

    /// `podman rmi --force NAME`; succeeds when there is no such image.
    pub fn remove_image(&self, name: &str) {
        self.podman_ok(&["rmi", "--force", "--ignore", name]);
    }
}

/// The podman CLI (no service) on a private store in a temporary directory, with a driver
/// of the test's choice: for tests that put images into a containers-storage store with
/// other tools (`containers-storage:[DRIVER@ROOT+RUNROOT]NAME`) and look at them with podman.
pub struct PodmanStore {
    dir: tempfile::TempDir,
    driver: String,
    /// The uid (and gid) podman runs as, rootless, when not root.
    user: Option<u32>,
}

impl PodmanStore {
    /// A fresh, empty store for `driver` (`vfs` or `overlay`).
    pub fn new(driver: &str) -> PodmanStore {
        let dir = podman_sandbox("skopos-store-", driver);
        PodmanStore {
            dir,
            driver: driver.to_string(),
            user: None,
        }
    }

    /// A fresh, empty store for `driver` that belongs to uid and gid `user`, for whom podman
    /// runs rootless (through `setpriv`, from root): the store of a rootless podman.
    pub fn owned_by(driver: &str, user: u32) -> PodmanStore {
        let mut store = PodmanStore::new(driver);
        store.user = Some(user);
        let status = Command::new("chown")
            .args(["-R", &format!("{user}:{user}")])
            .arg(store.dir.path())
            .status()
            .expect("running chown");
        assert!(status.success(), "chown {}", store.dir.path().display());
        store
    }

    /// The store's graph root.
    pub fn graph_root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The store's run root.
    pub fn run_root(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// `containers-storage:[DRIVER@ROOT+RUNROOT]NAME` for this store.
    pub fn reference(&self, name: &str) -> String {
        format!(
            "containers-storage:[{}@{}+{}]{name}",
            self.driver,
            self.graph_root().display(),
            self.run_root().display()
        )
    }

    /// The `podman` CLI with `args` against this store, not started yet (to run it next to
    /// something else).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = match self.user {
            Some(user) => {
                let mut command = Command::new("setpriv");
                command.args([
                    &format!("--reuid={user}"),
                    &format!("--regid={user}"),
                    "--clear-groups",
                    PODMAN_BINARY,
                ]);
                command
            }
            None => Command::new(PODMAN_BINARY),
        };
        command
            .args(store_arguments(self.dir.path(), &self.driver))
            .args(args);
        isolate(&mut command, self.dir.path());
        command.stdin(Stdio::null());
        command
    }

    /// Run the `podman` CLI with `args` against this store.
    pub fn podman(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .unwrap_or_else(|error| panic!("running podman {}: {error}", args.join(" ")))
    }

    /// Run the `podman` CLI with `args`; its stdout. Panics (failing the test) with
    /// podman's stderr when it fails.
    pub fn podman_ok(&self, args: &[&str]) -> String {
        successful_stdout(args, self.podman(args))
    }

    /// `podman image inspect NAME`'s first (only) object.
    pub fn image_inspect(&self, name: &str) -> serde_json::Value {
        let text = self.podman_ok(&["image", "inspect", name]);
        let parsed: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("podman image inspect {name}: not JSON ({error})"));
        parsed[0].clone()
    }

    /// `REPOSITORY:TAG IMAGE-ID` of every image (`podman images`), sorted.
    pub fn image_list(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .podman_ok(&[
                "images",
                "--no-trunc",
                "--format",
                "{{.Repository}}:{{.Tag}} {{.ID}}",
            ])
            .lines()
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }

    /// `podman save --format docker-archive -o ARCHIVE NAME`.
    pub fn save(&self, name: &str, archive: &Path) {
        let archive = archive.to_str().expect("archive path is UTF-8");
        self.podman_ok(&[
            "save",
            "-q",
            "--format",
            "docker-archive",
            "-o",
            archive,
            name,
        ]);
    }
}

impl Drop for PodmanStore {
    fn drop(&mut self) {
        // A rootless podman leaves a pause process holding its user namespace, one per
        // temporary dir, so one per store here; it records its pid there.
        if self.user.is_some() {
            let pid_file = self.dir.path().join("tmp/pause.pid");
            if let Ok(pid) = std::fs::read_to_string(pid_file) {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
        }
        // c/storage's overlay driver bind-mounts its home onto itself (a private mount) and
        // podman does not always undo that when it exits; the temp dir cannot go otherwise.
        // A rootless podman mounts only in its own mount namespace.
        if self.driver == "overlay" && self.user.is_none() {
            let home = self.graph_root().join("overlay");
            while Command::new("umount")
                .arg(&home)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
            {}
        }
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        // Closing the pipe makes the watchdog stop the service and exit.
        drop(self.watchdog_input.take());
        let _ = self.watchdog.wait();
    }
}

/// A temp dir holding everything one podman needs of its own: the `tmp`, XDG and home dirs,
/// a containers.conf and a storage.conf for a store on `driver` inside it.
fn podman_sandbox(prefix: &str, driver: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("creating a temp dir for podman");
    for sub in ["tmp", "xdg-runtime", "xdg-config", "xdg-data", "home"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("creating a podman temp dir");
    }
    let containers_conf =
        CONTAINERS_CONF.replace("{tmp}", &dir.path().join("tmp").display().to_string());
    std::fs::write(dir.path().join("containers.conf"), containers_conf)
        .expect("writing containers.conf for podman");
    std::fs::write(
        dir.path().join("storage.conf"),
        storage_conf(dir.path(), driver),
    )
    .expect("writing storage.conf for podman");
    dir
}

/// A storage.conf naming the same store as the flags: podman insists on one.
fn storage_conf(dir: &Path, driver: &str) -> String {
    format!(
        "[storage]\ndriver = \"{driver}\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
        dir.join("root").display(),
        dir.join("run").display()
    )
}

/// The global flags that put podman's whole state under `dir`.
fn store_arguments(dir: &Path, driver: &str) -> Vec<String> {
    vec![
        "--root".into(),
        dir.join("root").display().to_string(),
        "--runroot".into(),
        dir.join("run").display().to_string(),
        "--storage-driver".into(),
        driver.into(),
        "--tmpdir".into(),
        dir.join("tmp").display().to_string(),
        "--events-backend".into(),
        "file".into(),
        "--cgroup-manager".into(),
        "cgroupfs".into(),
    ]
}

/// The environment that keeps podman's configuration and temporary files under `dir`.
fn isolate(command: &mut Command, dir: &Path) {
    command
        .env("CONTAINERS_CONF", dir.join("containers.conf"))
        .env("CONTAINERS_STORAGE_CONF", dir.join("storage.conf"))
        .env("XDG_RUNTIME_DIR", dir.join("xdg-runtime"))
        .env("XDG_CONFIG_HOME", dir.join("xdg-config"))
        .env("XDG_DATA_HOME", dir.join("xdg-data"))
        .env("HOME", dir.join("home"))
        .env("TMPDIR", dir.join("tmp"))
        .env_remove("DOCKER_HOST")
        .env_remove("CONTAINER_HOST");
}

/// Whether the service answers `GET /_ping` with `OK`.
fn ping(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"GET /_ping HTTP/1.0\r\nHost: podman\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.") && reply.contains(" 200 ") && reply.ends_with("OK")
}

/// The stdout of the podman run `args` that gave `output`; panics (failing the test) with
/// podman's stderr when it failed.
fn successful_stdout(args: &[&str], output: Output) -> String {
    assert!(
        output.status.success(),
        "podman {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_answers_on_its_own_store_and_is_gone_after_drop() {
        let service = PodmanService::start();
        assert!(service.host().starts_with("unix:///"));
        assert!(ping(service.socket()));
        assert_eq!(service.image_names(), Vec::<String>::new());
        assert!(!service.has_image("example.com/nothing:here"));
        let dir = service.dir.path().to_path_buf();
        assert!(dir.join("root").is_dir(), "the store is in the temp dir");
        let socket = service.socket().to_path_buf();
        drop(service);
        assert!(!ping(&socket), "the service still answers after drop");
        assert!(!dir.exists(), "{} was not removed", dir.display());
    }
}
