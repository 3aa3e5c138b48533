//! A pull killed with SIGKILL half-way through a 64 MiB blob and run again continues the
//! blob with an HTTP `Range` request: the rerun moves little more than the missing half
//! (bytes counted by the test proxy) and the result has the right digest. `dir:` and `oci:`
//! keep the partial data in a hidden staging file of their own, which becomes the stored
//! blob (each byte is written to disk once); the other destinations keep it under
//! `--tmpdir`. Either way it is never visible under the blob's name and is gone once the
//! copy is done; a stale partial file (other bytes) or a server that ignores `Range` costs
//! a full download but the copy still succeeds. Covered for `dir:`, `oci:`, `oci-archive:`,
//! `docker-archive:` and `containers-storage:` destinations.

mod common;

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{read, Workspace};
use skopos_testimage::proxy::{Exchange, Fault, FaultAction, RegistryProxy};
use skopos_testimage::registry::{RegistryOptions, TestRegistry};
use skopos_testimage::{Blob, Compression, ImageSpec};

/// The blob's size: big enough that half of it is well above any buffering on the way.
const LAYER_CONTENT: usize = 64 << 20;
/// What the rerun may read beyond the missing half: response heads aside, the bytes the
/// killed copy had received but not yet written to the partial file.
const SLACK: u64 = 4 << 20;
/// A guard against a hung test, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(300);

/// A registry holding one image with a 64 MiB uncompressed layer, a proxy in front of it,
/// and the workspace.
struct Setup {
    workspace: Workspace,
    _registry: TestRegistry,
    proxy: RegistryProxy,
    layer: Blob,
}

fn setup() -> Setup {
    let workspace = Workspace::new();
    let registry = TestRegistry::start(RegistryOptions::default());
    let proxy = RegistryProxy::start(&registry.host)
        .unwrap_or_else(|error| panic!("starting the registry proxy: {error}"));
    // Uncompressed and pushed with --preserve-digests, so that the registry serves the
    // very blob of the layout, and dir: and docker-archive: store it as it is.
    let image = workspace.image_from(
        "src",
        "t",
        &ImageSpec::new(90)
            .with_layers(1, LAYER_CONTENT)
            .with_compression(Compression::Uncompressed),
    );
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--preserve-digests",
            "oci:src:t",
            &format!("docker://{}/big/app:v1", registry.host),
        ])
        .assert_success();
    common::create_dir(&workspace.path("tmp"));
    let layer = image.layers[0].clone();
    Setup {
        workspace,
        _registry: registry,
        proxy,
        layer,
    }
}

impl Setup {
    fn source(&self) -> String {
        format!("docker://{}/big/app:v1", self.proxy.host)
    }

    /// The copy's command line to `destination`, with `extra` flags before the images.
    fn args(&self, destination: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "--insecure-policy",
            "--tmpdir",
            "tmp",
            "copy",
            "-q",
            "--src-tls-verify=false",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(self.source());
        args.push(destination.to_string());
        args
    }

    fn copy(&self, destination: &str, extra: &[&str]) -> common::Outcome {
        let args = self.args(destination, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.workspace.skopos(&args)
    }

    fn spawn(&self, destination: &str, extra: &[&str]) -> Child {
        let binary = std::env::var_os("SKOPOS_UNDER_TEST")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_skopos").into());
        let mut command = Command::new(binary);
        command
            .args(self.args(destination, extra))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.workspace.isolate(&mut command, "home-skopos");
        command.spawn().expect("starting skopos")
    }

    /// Where skopos keeps the partial download of the layer for `destination`: `dir:` and
    /// `oci:` in a hidden staging file beside their blobs; the others under `--tmpdir`, which
    /// holds one directory per user (the workspace is ours, so its owner is our uid).
    fn partial_file(&self, destination: &str) -> PathBuf {
        let hex = self.layer.hex();
        if let Some(dir) = destination.strip_prefix("dir:") {
            return self
                .workspace
                .path(dir)
                .join(format!(".skopos-dir-staging-partial-sha256-{hex}"));
        }
        if let Some(reference) = destination.strip_prefix("oci:") {
            let layout = reference.split(':').next().unwrap();
            return self
                .workspace
                .path(layout)
                .join(format!(".skopos-partial-sha256-{hex}"));
        }
        let uid = std::fs::metadata(self.workspace.path("")).unwrap().uid();
        self.workspace
            .path(&format!("tmp/skopos-partial-blobs-{uid}"))
            .join(format!("sha256-{hex}.partial"))
    }

    /// The layer's GET requests since the last `clear_exchanges`.
    fn layer_downloads(&self) -> Vec<Exchange> {
        self.proxy
            .exchanges()
            .into_iter()
            .filter(|e| e.method == "GET" && e.target.ends_with(self.layer.hex()))
            .collect()
    }

    /// Start a copy to `destination` whose layer download stalls at half the blob, wait
    /// until the partial file holds that half, and kill the copy with SIGKILL.
    fn kill_half_way(&self, destination: &str, extra: &[&str]) {
        let half = self.layer.size / 2;
        self.proxy.add_fault(Fault::new(
            "GET",
            &format!("^/v2/big/app/blobs/{}$", self.layer.digest),
            FaultAction::StallResponseAfter(half),
        ));
        let mut child = self.spawn(destination, extra);
        let partial = self.partial_file(destination);
        let started = Instant::now();
        loop {
            let kept = std::fs::metadata(&partial).map_or(0, |m| m.len());
            if kept >= half {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the copy ended ({status}) before half the layer was kept ({kept} bytes): {:?}",
                    self.proxy.exchanges()
                );
            }
            assert!(
                started.elapsed() < PATIENCE,
                "the partial file never reached half the layer ({kept} of {half} bytes)"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().expect("killing skopos");
        let status = child.wait().expect("waiting for skopos");
        assert_eq!(status.code(), None, "killed by a signal");
        assert_eq!(
            std::fs::metadata(&partial).unwrap().len(),
            half,
            "the partial file holds exactly what the proxy sent"
        );
    }

    /// Rerun the copy to `destination`: it must succeed and read only the missing half
    /// of the layer, with one `Range` request; the partial file is then gone.
    fn rerun_reads_only_the_rest(&self, destination: &str, extra: &[&str]) {
        self.proxy.clear_exchanges();
        self.copy(destination, extra).assert_success();
        let downloads = self.layer_downloads();
        let half = self.layer.size / 2;
        assert_eq!(downloads.len(), 1, "{downloads:?}");
        assert_eq!(
            downloads[0].range.as_deref(),
            Some(&*format!("bytes={half}-"))
        );
        assert_eq!(downloads[0].status, Some(206));
        let moved = downloads[0].response_bytes;
        let rest = self.layer.size - half;
        println!(
            "{destination}: rerun moved {moved} bytes of the layer's {}",
            self.layer.size
        );
        assert!(
            moved >= rest && moved <= rest + SLACK,
            "the rerun moved {moved} bytes; the missing half is {rest}"
        );
        let partial = self.partial_file(destination);
        assert!(!partial.exists(), "the partial file is removed");
        // A staging file of the destination's was its last hidden entry.
        if !partial.starts_with(self.workspace.path("tmp")) {
            let hidden: Vec<_> = std::fs::read_dir(partial.parent().unwrap())
                .unwrap()
                .map(|entry| entry.unwrap().file_name())
                .filter(|name| name.to_string_lossy().starts_with('.'))
                .collect();
            assert!(hidden.is_empty(), "{destination}: left {hidden:?}");
        }
    }

    /// Run the copy to `destination` to its end; the bytes it wrote to disk, as the kernel
    /// counts them (`write_bytes` of /proc/PID/io, which `wait4` reports in 512-byte
    /// blocks as `ru_oublock`), for this one process: files removed before they reached
    /// the disk count too.
    // wait4 reaps the child: `Child::wait` would, but cannot give its resource usage.
    #[allow(clippy::zombie_processes)]
    fn copy_counting_writes(&self, destination: &str, extra: &[&str]) -> u64 {
        let child = self.spawn(destination, extra);
        let pid = libc::pid_t::try_from(child.id()).expect("a pid");
        let mut status = 0;
        // SAFETY: all zeroes is a valid `rusage` (plain integers); wait4 writes into the two
        // values it is given and reaps our own child, which `Child` then no longer touches.
        let (waited, usage) = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            let waited = libc::wait4(pid, &mut status, 0, &mut usage);
            (waited, usage)
        };
        assert_eq!(waited, pid, "waiting for skopos");
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the copy to {destination} failed (wait status {status})"
        );
        u64::try_from(usage.ru_oublock).expect("a block count") * 512
    }

    /// The layer as the source layout has it.
    fn layer_bytes(&self) -> Vec<u8> {
        read(&self.workspace.layout("src").blob_path(&self.layer.digest))
    }
}

/// The files under `root` (recursively) whose names contain `needle`.
fn files_named(root: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_named(&path, needle));
        } else if path.to_string_lossy().contains(needle) {
            found.push(path);
        }
    }
    found
}

#[test]
fn a_killed_pull_into_dir_resumes_with_range_and_reads_only_the_rest() {
    let setup = setup();
    setup.kill_half_way("dir:dest", &[]);
    // Nothing of the partial layer is visible in the destination: it waits in the hidden
    // staging file only, not under its name, and there is no manifest.
    assert_eq!(
        files_named(&setup.workspace.path("dest"), setup.layer.hex()),
        [setup.partial_file("dir:dest")],
        "the killed copy left the layer in the destination"
    );
    assert!(!setup.workspace.path("dest/manifest.json").exists());
    setup.rerun_reads_only_the_rest("dir:dest", &[]);
    assert_eq!(
        read(&setup.workspace.path("dest").join(setup.layer.hex())),
        setup.layer_bytes()
    );
}

#[test]
fn a_killed_pull_into_each_local_destination_resumes() {
    let setup = setup();
    // oci: would gzip the layer on the way: kept as it is, to spare the test the time.
    let uncompressed = ["--dest-oci-accept-uncompressed-layers"];
    for (destination, extra) in [
        ("oci:layout:t", &uncompressed[..]),
        ("oci-archive:image.tar:t", &uncompressed[..]),
        ("docker-archive:docker.tar:example.com/app:t", &[][..]),
    ] {
        setup.kill_half_way(destination, extra);
        setup.rerun_reads_only_the_rest(destination, extra);
        // The image reads back whole (the read verifies every digest).
        let back = format!("back-{}", destination.split(':').next().unwrap());
        setup
            .workspace
            .skopos(&[
                "--insecure-policy",
                "copy",
                "-q",
                "--preserve-digests",
                destination,
                &format!("dir:{back}"),
            ])
            .assert_success();
        assert_eq!(
            read(&setup.workspace.path(&back).join(setup.layer.hex())),
            setup.layer_bytes(),
            "{destination}"
        );
    }
}

#[test]
fn a_killed_pull_into_containers_storage_resumes() {
    let setup = setup();
    let store = setup.workspace.path("store");
    let destination = format!(
        "containers-storage:[vfs@{}/root+{}/run]example.com/big:t",
        store.display(),
        store.display()
    );
    setup.kill_half_way(&destination, &[]);
    setup.rerun_reads_only_the_rest(&destination, &[]);
    setup
        .workspace
        .skopos(&["--insecure-policy", "copy", "-q", &destination, "dir:back"])
        .assert_success();
    assert_eq!(
        common::parse_json(&read(&setup.workspace.path("back/manifest.json")))["layers"][0]["size"]
            .as_u64(),
        Some(setup.layer.size),
    );
}

/// A stale partial file is found out before any of it reaches the destination: a
/// `docker-archive:`, written in sequence, could not take the layer a second time, and
/// `dir:` must not store it.
#[test]
fn a_stale_partial_file_is_discarded_and_the_copy_succeeds() {
    let setup = setup();
    for destination in ["dir:dest", "docker-archive:stale.tar:example.com/app:t"] {
        let partial = setup.partial_file(destination);
        let dir = partial.parent().unwrap();
        std::fs::create_dir_all(dir).unwrap();
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        // Other bytes than the layer's first half.
        std::fs::write(&partial, vec![0x5a; (setup.layer.size / 2) as usize]).unwrap();
        setup.proxy.clear_exchanges();
        let outcome = setup.copy(destination, &["--progress-json-fd", "2"]);
        outcome.assert_success();
        let downloads = setup.layer_downloads();
        assert_eq!(
            downloads.iter().map(|d| d.status).collect::<Vec<_>>(),
            [Some(206), Some(200)],
            "{destination}: a resumed read, then the whole blob again: {downloads:?}"
        );
        assert_eq!(downloads[1].response_bytes, setup.layer.size);
        assert!(
            !partial.exists(),
            "{destination}: the stale partial file is removed"
        );
        // The events say a resume was tried; the report, that the layer was read whole.
        let events: Vec<serde_json::Value> = outcome
            .stderr
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert!(events.iter().any(|e| e["event"] == "blob-resumed"));
        let report = events.iter().find(|e| e["event"] == "report").unwrap();
        let layer = report["blobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["digest"] == setup.layer.digest)
            .unwrap();
        assert_eq!(layer["resumed"], 0, "{layer}");
        assert_eq!(layer["read"].as_u64(), Some(setup.layer.size), "{layer}");
    }
    assert_eq!(
        read(&setup.workspace.path("dest").join(setup.layer.hex())),
        setup.layer_bytes()
    );
    setup
        .workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--preserve-digests",
            "docker-archive:stale.tar",
            "dir:back",
        ])
        .assert_success();
    assert_eq!(
        read(&setup.workspace.path("back").join(setup.layer.hex())),
        setup.layer_bytes()
    );
}

#[test]
fn a_server_that_ignores_range_costs_a_full_download() {
    let setup = setup();
    setup.kill_half_way("dir:dest", &[]);
    setup.proxy.clear_exchanges();
    setup.proxy.add_fault(Fault::new(
        "GET",
        &format!("^/v2/big/app/blobs/{}$", setup.layer.digest),
        FaultAction::RemoveRequestHeader("Range".into()),
    ));
    setup.copy("dir:dest", &[]).assert_success();
    let downloads = setup.layer_downloads();
    assert_eq!(
        downloads.iter().map(|d| d.status).collect::<Vec<_>>(),
        [Some(200)],
        "{downloads:?}"
    );
    assert_eq!(downloads[0].response_bytes, setup.layer.size);
    assert!(!setup.partial_file("dir:dest").exists());
    assert_eq!(
        read(&setup.workspace.path("dest").join(setup.layer.hex())),
        setup.layer_bytes()
    );
}

/// A pull into oci: or dir: writes the layer to disk once: the destination's own staging
/// file is what a killed copy resumes from, not a second copy under `--tmpdir`. A staging
/// file a killed copy left for another blob is removed by the commit.
#[test]
fn a_pull_into_oci_or_dir_writes_each_byte_once() {
    let setup = setup();
    let size = setup.layer.size;
    let hex = setup.layer.hex();
    for (destination, extra, stored) in [
        (
            "oci:layout:t",
            &["--dest-oci-accept-uncompressed-layers"][..],
            format!("layout/blobs/sha256/{hex}"),
        ),
        ("dir:dest", &[][..], format!("dest/{hex}")),
    ] {
        // Named as the staging file of a blob this image does not have.
        let other_hex = "5a".repeat(32);
        let stale = setup.partial_file(destination).with_file_name(
            setup
                .partial_file(destination)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace(hex, &other_hex),
        );
        std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
        std::fs::write(&stale, b"half of another blob").unwrap();
        let written = setup.copy_counting_writes(destination, extra);
        println!("{destination}: the pull wrote {written} bytes for a {size}-byte layer");
        assert!(
            written >= size && written < size + size / 4,
            "{destination}: the pull wrote {written} bytes for a {size}-byte layer"
        );
        assert!(
            files_named(&setup.workspace.path("tmp"), "").is_empty(),
            "{destination}: nothing is kept under --tmpdir"
        );
        assert!(read(&setup.workspace.path(&stored)) == setup.layer_bytes());
        assert!(
            !stale.exists(),
            "{destination}: the stale staging file is removed"
        );
    }
}
