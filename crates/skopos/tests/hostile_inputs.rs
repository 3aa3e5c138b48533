//! Inputs an attacker controls (issue 20): a manifest whose bytes are not the ones its digest
//! names, on every transport that names manifests by digest; a 50 MiB manifest in an OCI
//! layout; a token server that answers with 50 MiB; a tag list whose next-page link leads back
//! to itself. Each is refused with one error line and exit status 1, the destination stays as
//! it was, and for the oversized inputs a stand-in records that only about the limit was read.
//!
//! The manifests are "replaced" by the same JSON pretty-printed: still a valid image whose
//! blobs all exist, so the digest check is the only thing that can refuse it.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use common::{assert_one_line_failure, snapshot, tree_differences, Outcome, Workspace};
use skopos_testimage::proxy::{Fault, FaultAction, RegistryProxy};
use skopos_testimage::registry::{RegistryOptions, TestRegistry};
use skopos_testimage::token::{TokenServer, ISSUER, SERVICE};

const MIB: u64 = 1 << 20;

/// The same JSON document with other bytes (and so another digest).
fn pretty(json: &[u8]) -> Vec<u8> {
    let value: serde_json::Value =
        serde_json::from_slice(json).unwrap_or_else(|error| panic!("not JSON: {error}"));
    serde_json::to_vec_pretty(&value).expect("re-encoding JSON")
}

/// Rewrites the file at `path` as [`pretty`] JSON.
fn reformat_file(path: &Path) {
    let bytes = common::read(path);
    std::fs::write(path, pretty(&bytes))
        .unwrap_or_else(|error| panic!("rewriting {}: {error}", path.display()));
}

/// The expected refusal: one line, exit status 1, `message` in it.
fn assert_refused(outcome: &Outcome, message: &str) {
    assert_one_line_failure(outcome, Some(1));
    assert!(
        outcome.stderr.contains(message),
        "`{}` should fail with {message:?}, got: {}",
        outcome.command,
        outcome.stderr
    );
}

/// The mismatch message for `digest`.
fn mismatch(digest: &str) -> String {
    format!("Manifest does not match provided manifest digest {digest}")
}

/// Runs the `skopos copy` of `source` into the existing `oci:dest:t` (filled first by skopeo
/// from an unrelated good image) and checks that it is refused with `message` and leaves the
/// destination as it was.
fn assert_copy_refused_and_destination_unchanged(
    workspace: &Workspace,
    extra: &[&str],
    source: &str,
    message: &str,
) {
    if !workspace.path("dest").exists() {
        workspace.image("good", "t", 40);
        workspace
            .skopeo(&[
                "--insecure-policy",
                "copy",
                "-q",
                "oci:good:t",
                "oci:dest:t",
            ])
            .assert_success();
    }
    let before = snapshot(&workspace.path("dest"));
    let mut args = vec!["--insecure-policy", "copy", "-q"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[source, "oci:dest:t"]);
    let outcome = workspace.skopos(&args);
    assert_refused(&outcome, message);
    let changes = tree_differences(
        &snapshot(&workspace.path("dest")),
        &before,
        "after",
        "before",
    );
    assert!(
        changes.is_empty(),
        "`{}` changed the destination:\n{}",
        outcome.command,
        changes.join("\n")
    );
}

/// An `oci:` layout `bad:t` whose manifest blob holds other bytes than index.json's digest
/// names; that digest.
fn oci_with_replaced_manifest(workspace: &Workspace) -> String {
    let image = workspace.image("bad", "t", 1);
    reformat_file(&workspace.layout("bad").blob_path(&image.manifest.digest));
    image.manifest.digest
}

#[test]
fn oci_manifest_that_index_json_does_not_name_is_refused_by_copy_and_inspect() {
    let workspace = Workspace::new();
    let named = oci_with_replaced_manifest(&workspace);
    assert_copy_refused_and_destination_unchanged(
        &workspace,
        &[],
        "oci:bad:t",
        &format!(
            "determining manifest MIME type for oci:bad:t: {}",
            mismatch(&named)
        ),
    );
    let inspect = workspace.skopos(&["inspect", "oci:bad:t"]);
    assert_refused(
        &inspect,
        &format!("Error parsing manifest for image: {}", mismatch(&named)),
    );
    assert!(inspect.stdout.is_empty());
    let raw = workspace.skopos(&["inspect", "--raw", "oci:bad:t"]);
    assert_refused(&raw, &mismatch(&named));
    assert!(raw.stdout.is_empty());
}

#[test]
fn oci_archive_manifest_that_index_json_does_not_name_is_refused() {
    let workspace = Workspace::new();
    let named = oci_with_replaced_manifest(&workspace);
    let status = Command::new("tar")
        .args(["-cf", "bad.tar", "-C", "bad", "."])
        .current_dir(workspace.path(""))
        .status()
        .expect("running tar");
    assert!(status.success(), "tar failed");
    assert_copy_refused_and_destination_unchanged(
        &workspace,
        &[],
        "oci-archive:bad.tar:t",
        &mismatch(&named),
    );
    let inspect = workspace.skopos(&["inspect", "oci-archive:bad.tar:t"]);
    assert_refused(&inspect, &mismatch(&named));
}

#[test]
fn a_tag_in_dir_names_no_digest_so_any_manifest_is_taken_as_it_is() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 2);
    workspace
        .skopos(&["--insecure-policy", "copy", "-q", "oci:src:t", "dir:plain"])
        .assert_success();
    reformat_file(&workspace.path("plain/manifest.json"));
    workspace
        .skopos(&["--insecure-policy", "copy", "-q", "dir:plain", "oci:out:t"])
        .assert_success();
    workspace.skopos(&["inspect", "dir:plain"]).assert_success();
}

/// A three-platform index in `oci:multi:t` whose linux/amd64 instance's manifest blob was
/// replaced; that instance's digest.
fn index_with_replaced_instance(workspace: &Workspace) -> String {
    let index = workspace.multi_arch("multi", "t");
    let amd64 = &index.instances[0];
    assert_eq!(amd64.platform.architecture, "amd64");
    reformat_file(&workspace.layout("multi").blob_path(&amd64.manifest.digest));
    amd64.manifest.digest.clone()
}

const AMD64: [&str; 4] = ["--override-os", "linux", "--override-arch", "amd64"];

#[test]
fn list_instance_that_the_list_does_not_name_is_refused() {
    let workspace = Workspace::new();
    let instance = index_with_replaced_instance(&workspace);
    let mut system = vec!["--insecure-policy"];
    system.extend_from_slice(&AMD64);
    system.extend_from_slice(&["copy", "-q", "oci:multi:t", "oci:dest:t"]);
    assert_copy_refused_and_destination_unchanged(
        &workspace,
        &["--all"],
        "oci:multi:t",
        &format!(
            "copying image 1/3 from manifest list: determining manifest MIME type for oci:multi:t: {}",
            mismatch(&instance)
        ),
    );
    let before = snapshot(&workspace.path("dest"));
    let outcome = workspace.skopos(&system);
    assert_refused(
        &outcome,
        &format!(
            "copying system image from manifest list: determining manifest MIME type for oci:multi:t: {}",
            mismatch(&instance)
        ),
    );
    assert!(tree_differences(
        &snapshot(&workspace.path("dest")),
        &before,
        "after",
        "before"
    )
    .is_empty());

    let mut inspect: Vec<&str> = AMD64.to_vec();
    inspect.extend_from_slice(&["inspect", "oci:multi:t"]);
    let expected = format!("Image manifest does not match selected manifest digest {instance}");
    assert_refused(&workspace.skopos(&inspect), &expected);

    // skopeo checks list instances too: same refusal, same words.
    let mut all = vec![
        "--insecure-policy",
        "copy",
        "-q",
        "--all",
        "oci:multi:t",
        "oci:by-skopeo:t",
    ];
    if let Some(skopeo) = workspace.skopeo_1_22(
        "comparing the refusal of a replaced list instance with skopeo 1.22.2",
        &[],
        &all,
    ) {
        assert_one_line_failure(&skopeo, Some(1));
        assert!(
            skopeo.stderr.contains(&mismatch(&instance)),
            "{}",
            skopeo.stderr
        );
        all[5] = "oci:by-skopos:t";
        let ours = workspace.skopos(&all);
        assert_eq!(
            common::skopeo_message(&ours.stderr),
            common::skopeo_message(&skopeo.stderr),
        );
    }
    if let Some(skopeo) = workspace.skopeo_1_22(
        "comparing inspect of a replaced list instance with skopeo 1.22.2",
        &[],
        &inspect,
    ) {
        assert_refused(&skopeo, &expected);
    }
}

#[test]
fn dir_list_instance_that_the_list_does_not_name_is_refused() {
    let workspace = Workspace::new();
    let index = workspace.multi_arch("multi", "t");
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--all",
            "oci:multi:t",
            "dir:listed",
        ])
        .assert_success();
    let instance = &index.instances[1].manifest;
    reformat_file(&workspace.path(&format!("listed/{}.manifest.json", instance.hex())));
    assert_copy_refused_and_destination_unchanged(
        &workspace,
        &["--all"],
        "dir:listed",
        &format!(
            "copying image 2/3 from manifest list: determining manifest MIME type for dir:listed: {}",
            mismatch(&instance.digest)
        ),
    );
}

#[test]
fn docker_archive_config_that_its_name_does_not_name_is_refused() {
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 3);
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "oci:src:t",
            "docker-archive:good.tar",
        ])
        .assert_success();
    let unpacked = workspace.path("unpacked");
    common::create_dir(&unpacked);
    let tar = |args: &[&str]| {
        let status = Command::new("tar")
            .args(args)
            .current_dir(workspace.path(""))
            .status()
            .expect("running tar");
        assert!(status.success(), "tar {args:?} failed");
    };
    tar(&["-xf", "good.tar", "-C", "unpacked"]);
    let config_name = format!("{}.json", image.config.hex());
    reformat_file(&unpacked.join(&config_name));
    tar(&["-cf", "bad.tar", "-C", "unpacked", "."]);
    assert_copy_refused_and_destination_unchanged(
        &workspace,
        &[],
        "docker-archive:bad.tar",
        &format!(
            "config blob {} does not match its digest",
            image.config.digest
        ),
    );
    let inspect = workspace.skopos(&["inspect", "docker-archive:bad.tar"]);
    assert_refused(
        &inspect,
        &format!("does not match expected {}", image.config.digest),
    );
}

/// A plain-HTTP registry, a proxy in front of it, and the image `oci:src:t` pushed to
/// `hostile/app:v1` by skopeo; the manifest digest.
fn registry_with_image(workspace: &Workspace) -> (TestRegistry, RegistryProxy, String) {
    let registry = TestRegistry::start(RegistryOptions::default());
    let proxy = RegistryProxy::start(&registry.host)
        .unwrap_or_else(|error| panic!("starting the registry proxy: {error}"));
    let image = workspace.image("src", "t", 5);
    let target = format!("docker://{}/hostile/app:v1", registry.host);
    workspace
        .skopeo(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "oci:src:t",
            &target,
        ])
        .assert_success();
    let digest = common::registry_manifest_digest(workspace, &target);
    assert_eq!(digest, image.manifest.digest);
    (registry, proxy, digest)
}

/// Has the proxy answer the next GET of `hostile/app`'s manifest `digest` with other bytes.
fn serve_other_bytes_once(proxy: &RegistryProxy, digest: &str, original: &[u8]) {
    proxy.add_fault(Fault::new(
        "GET",
        &format!("^/v2/hostile/app/manifests/{digest}$"),
        FaultAction::ReplaceResponseBody(pretty(original)),
    ));
}

#[test]
fn docker_digest_reference_whose_manifest_is_other_bytes_is_refused() {
    let workspace = Workspace::new();
    let (registry, proxy, digest) = registry_with_image(&workspace);
    let original = workspace
        .skopos(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{}/hostile/app:v1", registry.host),
        ])
        .stdout_bytes;
    let reference = format!("docker://{}/hostile/app@{digest}", proxy.host);
    serve_other_bytes_once(&proxy, &digest, &original);
    assert_copy_refused_and_destination_unchanged(
        &workspace,
        &["--src-tls-verify=false"],
        &reference,
        &format!(
            "determining manifest MIME type for {reference}: {}",
            mismatch(&digest)
        ),
    );
    serve_other_bytes_once(&proxy, &digest, &original);
    let inspect = workspace.skopos(&["inspect", "--tls-verify=false", &reference]);
    assert_refused(
        &inspect,
        &format!("Error parsing manifest for image: {}", mismatch(&digest)),
    );
    // The proxy served the other bytes once each; unchanged bytes pass.
    workspace
        .skopos(&["inspect", "--tls-verify=false", &reference])
        .assert_success();

    serve_other_bytes_once(&proxy, &digest, &original);
    let args = [
        "--insecure-policy",
        "copy",
        "-q",
        "--src-tls-verify=false",
        &reference,
        "oci:by-skopeo:t",
    ];
    if let Some(skopeo) = workspace.skopeo_1_22(
        "comparing the refusal of a docker:// digest reference with skopeo 1.22.2",
        &[],
        &args,
    ) {
        serve_other_bytes_once(&proxy, &digest, &original);
        let ours = workspace.skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--src-tls-verify=false",
            &reference,
            "oci:by-skopos:t",
        ]);
        assert_one_line_failure(&skopeo, Some(1));
        assert_eq!(
            common::skopeo_message(&ours.stderr),
            common::skopeo_message(&skopeo.stderr)
        );
    }
}

/// A FIFO at `path` fed `size` bytes of JSON-ish text by a thread, which records how many
/// bytes the reader took; the reader's end is what is being measured.
struct FifoFeeder {
    path: std::path::PathBuf,
    fed: std::sync::Arc<std::sync::atomic::AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FifoFeeder {
    fn start(path: &Path, size: u64) -> FifoFeeder {
        let status = Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("running mkfifo");
        assert!(status.success(), "mkfifo failed");
        let fed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = fed.clone();
        let fifo = path.to_path_buf();
        let thread = std::thread::spawn(move || {
            // Blocks until a reader opens the FIFO; ends when the reader closes it.
            let Ok(mut writer) = std::fs::OpenOptions::new().write(true).open(&fifo) else {
                return;
            };
            let piece = vec![b' '; 64 * 1024];
            let mut left = size;
            while left > 0 {
                let n = left.min(piece.len() as u64) as usize;
                if writer.write_all(&piece[..n]).is_err() {
                    return;
                }
                counter.fetch_add(n as u64, std::sync::atomic::Ordering::SeqCst);
                left -= n as u64;
            }
        });
        FifoFeeder {
            path: path.to_path_buf(),
            fed,
            thread: Some(thread),
        }
    }

    /// How many bytes the reader took, once it is gone.
    fn finish(mut self) -> u64 {
        // A writer still waiting for a reader (the reader never came) is released by one
        // that opens without waiting and goes away at once.
        use std::os::unix::fs::OpenOptionsExt as _;
        let _ = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.path);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the FIFO feeder panicked");
        }
        self.fed.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn a_50_mib_oci_manifest_is_refused_past_4_mib_without_being_read_whole() {
    let workspace = Workspace::new();
    let image = workspace.image("big", "t", 6);
    let blob = workspace.layout("big").blob_path(&image.manifest.digest);
    let limit = format!("exceeded maximum allowed size of {} bytes", 4 * MIB);

    // A regular file: refused from its size, before any of it is read.
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&blob)
        .expect("opening the manifest blob");
    file.set_len(50 * MIB).expect("growing the manifest blob");
    drop(file);
    assert_copy_refused_and_destination_unchanged(&workspace, &[], "oci:big:t", &limit);
    assert_refused(
        &workspace.skopos(&["inspect", "--raw", "oci:big:t"]),
        &limit,
    );

    // A stream with no size to tell: refused once the limit is passed while reading.
    std::fs::remove_file(&blob).expect("removing the manifest blob");
    let feeder = FifoFeeder::start(&blob, 50 * MIB);
    let outcome = workspace.skopos(&["inspect", "--raw", "oci:big:t"]);
    let taken = feeder.finish();
    eprintln!("manifest bytes taken from the FIFO: {taken}");
    assert_refused(&outcome, &limit);
    // The limit plus at most what the pipe buffers: far from the 50 MiB offered.
    assert!(
        taken <= 4 * MIB + 2 * MIB,
        "skopos took {taken} bytes of a 50 MiB manifest"
    );
}

#[test]
fn a_50_mib_token_response_is_refused_past_1_mib() {
    let workspace = Workspace::new();
    let tokens = TokenServer::start_oversized(50 * MIB);
    let registry = TestRegistry::start(RegistryOptions {
        token_auth: Some((&tokens.realm, SERVICE, ISSUER, &tokens.issuer.cert_pem)),
        ..RegistryOptions::default()
    });
    let reference = format!("docker://{}/hostile/app:v1", registry.host);
    let limit = format!("exceeded maximum allowed size of {MIB} bytes");
    let inspect = workspace.skopos(&["inspect", "--tls-verify=false", &reference]);
    assert_refused(&inspect, &limit);
    assert_copy_refused_and_destination_unchanged(
        &workspace,
        &["--src-tls-verify=false"],
        &reference,
        &limit,
    );
    let list = workspace.skopos(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}/hostile/app", registry.host),
    ]);
    assert_refused(&list, &limit);
    // Three clients, each reading a little past the limit (plus what socket buffers hold):
    // nowhere near the 150 MiB offered.
    let sent = tokens.bytes_sent();
    eprintln!("token responses taken by three clients: {sent} bytes");
    assert!(
        sent < 3 * 12 * MIB,
        "clients took {sent} bytes of token responses"
    );
    if let Some(skopeo) = workspace.skopeo_1_22(
        "comparing the refusal of a 50 MiB token response with skopeo 1.22.2",
        &[],
        &["inspect", "--tls-verify=false", &reference],
    ) {
        assert_refused(&skopeo, &limit);
    }
}

#[test]
fn a_tag_list_linking_back_to_itself_stops_list_tags_and_sync() {
    let workspace = Workspace::new();
    let (_registry, proxy, _) = registry_with_image(&workspace);
    let loop_back = || {
        proxy.add_fault(Fault::new(
            "GET",
            "^/v2/hostile/app/tags/list",
            FaultAction::AddResponseHeader(
                r#"Link: </v2/hostile/app/tags/list>; rel="next""#.to_string(),
            ),
        ));
    };
    let message = "leads back to a page already read";

    loop_back();
    proxy.clear_exchanges();
    let repository = format!("docker://{}/hostile/app", proxy.host);
    let list = workspace.skopos(&["list-tags", "--tls-verify=false", &repository]);
    assert_refused(&list, message);
    let pages = proxy
        .exchanges()
        .iter()
        .filter(|e| e.target.contains("/tags/list"))
        .count();
    assert_eq!(pages, 1, "{:?}", proxy.exchanges());

    loop_back();
    common::create_dir(&workspace.path("synced"));
    let mut args = vec!["--insecure-policy".to_string()];
    args.extend(common::sync_registry_to_dir(
        &format!("{}/hostile/app", proxy.host),
        "synced",
    ));
    let outcome = workspace.skopos(&args.iter().map(String::as_str).collect::<Vec<_>>());
    // sync reports its progress on stderr as skopeo's does; the error is the last line.
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    let last = outcome.stderr.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.contains("level=fatal") && last.contains(message),
        "sync should end with the refusal, got: {}",
        outcome.stderr
    );
    assert!(
        snapshot(&workspace.path("synced")).is_empty(),
        "sync wrote into its destination"
    );
    eprintln!(
        "SKIPPED: comparing the looping tag list with skopeo 1.22.2, which follows it forever"
    );
}

/// Configuration files and an OCI layout's `index.json` are read whole, so each is bounded:
/// a wrong path (here `/dev/zero`, which never ends and reports no size, or a sparse file of
/// 65 MiB) is one error naming the limit, not a process that fills memory.
#[test]
fn endless_or_huge_configuration_files_and_index_json_are_refused_naming_the_limit() {
    let workspace = Workspace::new();
    workspace.image("img", "t", 4);
    let config_limit = format!("exceeded maximum allowed size of {} bytes", 16 * MIB);
    assert_refused(
        &workspace.skopos(&["--policy", "/dev/zero", "copy", "oci:img:t", "oci:out:t"]),
        &config_limit,
    );
    assert_refused(
        // Credentials are looked up before any connection is made.
        &workspace.skopos(&[
            "inspect",
            "--authfile",
            "/dev/zero",
            "docker://127.0.0.1:9/x",
        ]),
        &config_limit,
    );
    assert_refused(
        &workspace.skopos(&[
            "--registries-conf",
            "/dev/zero",
            "inspect",
            "docker://example/x",
        ]),
        &config_limit,
    );

    let index = workspace.path("img").join("index.json");
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&index)
        .expect("opening index.json");
    file.set_len(65 * MIB).expect("growing index.json");
    drop(file);
    let index_limit = format!("exceeded maximum allowed size of {} bytes", 64 * MIB);
    assert_refused(&workspace.skopos(&["inspect", "oci:img:t"]), &index_limit);
    workspace.image("good", "t", 4);
    assert_refused(
        &workspace.skopos(&["--insecure-policy", "copy", "oci:good:t", "oci:img:u"]),
        &index_limit,
    );
}

/// What a hostile tar header claims its GNU long name or PAX record is: 4 GiB.
const CLAIMED_RECORD: u64 = 4 << 30;

/// A tar at `path` whose first entry is a `kind` record (GNU long name, PAX header) that
/// claims [`CLAIMED_RECORD`] bytes, all of them present as the hole of a sparse file (no disk
/// used): a reader that takes the record whole would hold 4 GiB.
fn write_sparse_tar_with_huge_record(path: &Path, kind: tar::EntryType) {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_path("././@LongLink").expect("a header name");
    header.set_size(CLAIMED_RECORD);
    header.set_cksum();
    let mut file = std::fs::File::create(path).expect("creating the archive");
    file.write_all(header.as_bytes())
        .expect("writing the header");
    file.set_len(512 + CLAIMED_RECORD + 1024)
        .expect("growing the archive");
}

#[test]
fn archives_whose_long_name_or_pax_record_claims_4_gib_are_refused_naming_the_limit() {
    let workspace = Workspace::new();
    for (transport, kind, what) in [
        (
            "docker-archive",
            tar::EntryType::GNULongName,
            "GNU long name",
        ),
        (
            "oci-archive",
            tar::EntryType::XHeader,
            "PAX extended header",
        ),
    ] {
        let archive = workspace.path(&format!("{transport}.tar"));
        write_sparse_tar_with_huge_record(&archive, kind);
        let source = format!("{transport}:{}", archive.display());
        let (outcome, peak) = workspace.skopos_peak_memory(&[
            "--insecure-policy",
            "copy",
            "-q",
            &source,
            "oci:dest:t",
        ]);
        eprintln!("{transport}: peak memory {} MiB", peak / MIB);
        assert_refused(
            &outcome,
            &format!(
                "header field too long: {what} of {CLAIMED_RECORD} bytes is past the limit of {MIB} bytes"
            ),
        );
        // A debug build of skopos runs in a few tens of MiB; the record alone is 4 GiB.
        assert!(
            peak < 256 * MIB,
            "{transport}: skopos held {peak} bytes refusing the archive"
        );
    }
}
