//! `docker://` through a loopback proxy in front of a real registry: how many requests a push
//! makes (per blob, for new blobs, existing blobs and cross-repository mounts, and with
//! `--dest-precompute-digests` for layers compressed on the way), how uploads are sent (with
//! their length; the layers waiting for a slot readied while the first are sent), and recovery
//! from faults — a pull whose blob download breaks, a registry-to-registry copy whose download
//! breaks or brings other bytes, a push whose upload breaks, a 429 with
//! `Retry-After`, a 500 with `--retry-times`, a connection closed without an answer.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{assert_one_line_failure, snapshot, Workspace};
use skopos_testimage::proxy::{Exchange, Fault, FaultAction, Gathering, RegistryProxy};
use skopos_testimage::registry::{RegistryOptions, TestRegistry};
use skopos_testimage::{Blob, Compression, ImageSpec, WrittenImage};

/// A plain-HTTP registry and a proxy in front of it.
fn registry_behind_proxy() -> (TestRegistry, RegistryProxy) {
    let registry = TestRegistry::start(RegistryOptions::default());
    let proxy = RegistryProxy::start(&registry.host)
        .unwrap_or_else(|error| panic!("starting the registry proxy: {error}"));
    (registry, proxy)
}

/// `skopos --insecure-policy copy -q ARGS`, with TLS verification off on both sides.
fn copy(workspace: &Workspace, args: &[&str]) -> common::Outcome {
    let mut all = vec![
        "--insecure-policy",
        "copy",
        "-q",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
    ];
    all.extend_from_slice(args);
    workspace.skopos(&all)
}

/// One line per exchange, for failure messages and the test log.
fn listing(exchanges: &[Exchange]) -> String {
    exchanges
        .iter()
        .map(|exchange| {
            let status = exchange
                .status
                .map_or_else(|| "dropped".to_string(), |status| status.to_string());
            let fault = exchange
                .fault
                .as_ref()
                .map_or_else(String::new, |fault| format!("  [fault: {fault:?}]"));
            format!(
                "  {} {} -> {status}{fault}",
                exchange.method, exchange.target
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `/v2/` pings and token requests: needed once per client, not per blob.
fn is_overhead(exchange: &Exchange) -> bool {
    exchange.target == "/v2/" || exchange.target.contains("token")
}

/// Requests per method that name blob `digest` (its hex part, so `?digest=sha256%3A…`
/// counts too).
fn per_method(exchanges: &[Exchange], digest: &str) -> BTreeMap<String, usize> {
    let hex = digest.trim_start_matches("sha256:");
    let mut counts = BTreeMap::new();
    for exchange in exchanges.iter().filter(|e| e.target.contains(hex)) {
        *counts.entry(exchange.method.clone()).or_insert(0) += 1;
    }
    counts
}

fn count(exchanges: &[Exchange], method: &str, matches: impl Fn(&str) -> bool) -> usize {
    exchanges
        .iter()
        .filter(|e| e.method == method && matches(&e.target))
        .count()
}

fn blob_digests(image: &WrittenImage) -> Vec<String> {
    std::iter::once(&image.config)
        .chain(&image.layers)
        .map(|blob| blob.digest.clone())
        .collect()
}

fn counts_of(map: &BTreeMap<String, usize>) -> String {
    map.iter()
        .map(|(method, n)| format!("{method}×{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_push_costs_at_most_three_requests_per_new_blob_one_head_per_existing_blob_and_a_mount_across_repositories(
) {
    let (_registry, proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 31);
    let blobs = blob_digests(&image);
    let repo = |path: &str| format!("docker://{}/{path}", proxy.host);

    // 1. Every blob is new.
    copy(&workspace, &["oci:src:t", &repo("a:v1")]).assert_success();
    let exchanges = proxy.exchanges();
    let log = listing(&exchanges);
    println!("first push:\n{log}");
    for digest in &blobs {
        let counts = per_method(&exchanges, digest);
        println!("  new blob {digest}: {}", counts_of(&counts));
        assert_eq!(counts.get("HEAD"), Some(&1), "HEADs of {digest}:\n{log}");
        assert_eq!(counts.get("PUT"), Some(&1), "PUTs of {digest}:\n{log}");
        assert_eq!(counts.values().sum::<usize>(), 2, "{digest}:\n{log}");
    }
    let upload_posts = count(&exchanges, "POST", |t| t == "/v2/a/blobs/uploads/");
    assert_eq!(upload_posts, blobs.len(), "one POST per new blob:\n{log}");
    let blob_requests = exchanges
        .iter()
        .filter(|e| !is_overhead(e) && e.target.contains("/blobs/"))
        .count();
    assert!(
        blob_requests <= 3 * blobs.len(),
        "{blob_requests} blob requests for {} new blobs:\n{log}",
        blobs.len()
    );
    assert_eq!(count(&exchanges, "PUT", |t| t == "/v2/a/manifests/v1"), 1);
    println!(
        "  overhead: {} pings/token requests",
        exchanges.iter().filter(|e| is_overhead(e)).count()
    );

    // 2. Every blob exists: one HEAD each, nothing uploaded.
    proxy.clear_exchanges();
    copy(&workspace, &["oci:src:t", &repo("a:v2")]).assert_success();
    let exchanges = proxy.exchanges();
    let log = listing(&exchanges);
    println!("second push, same repository:\n{log}");
    for digest in &blobs {
        let counts = per_method(&exchanges, digest);
        println!("  existing blob {digest}: {}", counts_of(&counts));
        assert_eq!(
            counts,
            BTreeMap::from([("HEAD".to_string(), 1)]),
            "requests naming {digest}:\n{log}"
        );
    }
    assert_eq!(count(&exchanges, "POST", |_| true), 0, "no uploads:\n{log}");

    // 3. Another repository of the same registry: blobs are mounted, not uploaded.
    proxy.clear_exchanges();
    copy(&workspace, &[&repo("a:v1"), &repo("b:v1")]).assert_success();
    let exchanges = proxy.exchanges();
    let log = listing(&exchanges);
    println!("copy a:v1 -> b:v1:\n{log}");
    for digest in &blobs {
        let mount = format!("/v2/b/blobs/uploads/?mount={digest}&from=a");
        let counts = per_method(&exchanges, digest);
        println!("  mounted blob {digest}: {}", counts_of(&counts));
        assert_eq!(
            count(&exchanges, "POST", |t| t == mount),
            1,
            "a mount of {digest}:\n{log}"
        );
        assert_eq!(
            count(&exchanges, "PUT", |t| t.starts_with("/v2/b/blobs/")),
            0,
            "no blob upload into b:\n{log}"
        );
    }
    assert_eq!(
        count(&exchanges, "POST", |t| t == "/v2/b/blobs/uploads/"),
        0,
        "no plain upload into b:\n{log}"
    );
    assert_eq!(count(&exchanges, "PATCH", |_| true), 0, "{log}");
}

#[test]
fn dest_precompute_digests_skips_uploading_a_layer_compressed_on_the_way_that_the_registry_has() {
    let (_registry, proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    // Uncompressed layers: a registry push gzips them, so their digests are known only once
    // compressed.
    let spec = ImageSpec::new(47).with_compression(Compression::Uncompressed);
    let image = workspace.image_from("src", "t", &spec);
    let target = format!("docker://{}/p:v1", proxy.host);
    let tmpdir = workspace.path("tmp");
    let tmpdir = tmpdir.to_str().expect("a UTF-8 path");
    let push = |precompute: bool| {
        proxy.clear_exchanges();
        let mut args = vec!["--tmpdir", tmpdir, "--insecure-policy", "copy", "-q"];
        if precompute {
            args.push("--dest-precompute-digests");
        }
        args.extend(["--dest-tls-verify=false", "oci:src:t", &target]);
        workspace.skopos(&args).assert_success();
        proxy.exchanges()
    };
    let uploads =
        |exchanges: &[Exchange]| count(exchanges, "POST", |t| t == "/v2/p/blobs/uploads/");
    let layers = image.layers.len();

    // Nothing there yet: every blob is uploaded, once, with the flag as without it.
    let first = push(true);
    assert_eq!(uploads(&first), layers + 1, "{}", listing(&first));
    let manifest = workspace.skopos(&["inspect", "--raw", "--tls-verify=false", &target]);
    manifest.assert_success();
    let manifest = common::parse_json(&manifest.stdout_bytes);
    let compressed: Vec<String> = manifest["layers"]
        .as_array()
        .expect("a layers array")
        .iter()
        .map(|layer| layer["digest"].as_str().expect("a digest").to_string())
        .collect();

    // Without the flag and without the blob-info cache (which knows the gzip variants the
    // registry has from the first push), the compressed layers go up again: their digests
    // are unknown before.
    std::fs::remove_dir_all(workspace.path("home-skopos/data/containers/cache"))
        .expect("removing the blob-info cache");
    let again = push(false);
    assert_eq!(uploads(&again), layers, "{}", listing(&again));

    // With it each is hashed first, found by one HEAD and not uploaded.
    let precomputed = push(true);
    let log = listing(&precomputed);
    assert_eq!(uploads(&precomputed), 0, "no uploads:\n{log}");
    for digest in &compressed {
        assert_eq!(
            per_method(&precomputed, digest),
            BTreeMap::from([("HEAD".to_string(), 1)]),
            "requests naming {digest}:\n{log}"
        );
    }
    // The spooled copies are gone.
    let left: Vec<_> = std::fs::read_dir(workspace.path("tmp"))
        .map(|entries| entries.flatten().map(|entry| entry.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in --tmpdir: {left:?}");
}

/// A push of four small layers through two transfer slots whose first two layers' requests
/// `method` are held for a second: the exchanges the proxy saw, when the held ones were done,
/// and the layers. With `pushed_and_lost`, the image was pushed to the repository before and
/// the registry has lost the repository since, so that the blob-info cache remembers every
/// blob there.
fn push_holding_first_two(
    method: &str,
    repository: &str,
    pushed_and_lost: bool,
) -> (Vec<Exchange>, Instant, WrittenImage) {
    let (registry, proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    let image = workspace.image_from("src", "t", &ImageSpec::new(37).with_layers(4, 4096));
    let layers = &image.layers;
    let destination = format!("docker://{}/{repository}:v1", proxy.host);
    if pushed_and_lost {
        copy(&workspace, &["oci:src:t", &destination]).assert_success();
        registry.remove_repository(repository);
        proxy.clear_exchanges();
    }
    // Matched in a HEAD's path and in a PUT's `?digest=`.
    let first_two = format!("sha256(:|%3A)({}|{})", layers[0].hex(), layers[1].hex());
    proxy.set_gathering(Gathering::new(
        method,
        &first_two,
        3,
        Duration::from_secs(1),
    ));
    copy(
        &workspace,
        &["--image-parallel-copies", "2", "oci:src:t", &destination],
    )
    .assert_success();
    let exchanges = proxy.exchanges();
    let held_done = exchanges
        .iter()
        .filter(|e| {
            e.method == method
                && (e.target.contains(layers[0].hex()) || e.target.contains(layers[1].hex()))
        })
        .map(|e| e.finished)
        .min()
        .expect("the held requests");
    (exchanges, held_done, image)
}

/// The exchanges with times relative to the first, for failure messages.
fn timed_listing(exchanges: &[Exchange]) -> String {
    let start = exchanges.iter().map(|e| e.arrived).min();
    exchanges
        .iter()
        .map(|e| {
            let since = |at: Instant| start.map_or(0, |start| (at - start).as_millis());
            format!(
                "  {:>5} ms .. {:>5} ms  {} {}",
                since(e.arrived),
                since(e.finished),
                e.method,
                e.target.split('?').next().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that a `method` request naming each of `layers` arrived before `moment`.
fn assert_each_arrived_before(
    exchanges: &[Exchange],
    method: &str,
    layers: &[Blob],
    moment: Instant,
    log: &str,
) {
    for layer in layers {
        let exchange = exchanges
            .iter()
            .find(|e| e.method == method && e.target.contains(layer.hex()))
            .unwrap_or_else(|| panic!("no {method} of {}:\n{log}", layer.digest));
        assert!(
            exchange.arrived < moment,
            "the {method} of {} came only after the first layers' were done:\n{log}",
            layer.digest
        );
    }
}

/// Layers waiting for a transfer slot, and the config stored after the layers, are checked
/// (`HEAD`) and get their upload sessions (`POST`) while the layers holding the slots are
/// still at it, so that each starts sending as soon as its turn comes.
#[test]
fn waiting_layers_and_the_config_are_checked_and_their_uploads_opened_meanwhile() {
    assert_waiting_blobs_prepared(false);
}

/// The same when the blob-info cache remembers every blob in the destination repository,
/// which the registry has lost since: the copy asks the repository and nothing else, so the
/// blobs are prepared as unknown ones are.
#[test]
fn blobs_the_cache_knows_only_in_the_destination_repository_are_prepared_too() {
    assert_waiting_blobs_prepared(true);
}

fn assert_waiting_blobs_prepared(pushed_and_lost: bool) {
    let (exchanges, held_done, image) = push_holding_first_two("HEAD", "ahead", pushed_and_lost);
    let log = timed_listing(&exchanges);
    println!("{log}");
    let mut waiting = image.layers[2..].to_vec();
    waiting.push(image.config.clone());
    assert_each_arrived_before(&exchanges, "HEAD", &waiting, held_done, &log);
    // The first two layers, held in their checks, have opened none yet.
    let opened_early = exchanges
        .iter()
        .filter(|e| e.method == "POST" && e.arrived < held_done)
        .count();
    assert_eq!(opened_early, waiting.len(), "sessions opened ahead:\n{log}");
    // Each session opened ahead went to its layer: none was left to cancel.
    assert_eq!(count(&exchanges, "DELETE", |_| true), 0, "{log}");
}

/// A layer whose bytes are all sent gives its transfer slot to the next one while the
/// registry has still to answer (a registry commits a blob, syncing it to disk, before it
/// answers).
#[test]
fn a_layer_whose_bytes_are_sent_hands_on_its_slot_before_the_registry_answers() {
    let (exchanges, held_done, image) = push_holding_first_two("PUT", "handed", false);
    let log = timed_listing(&exchanges);
    println!("{log}");
    assert_each_arrived_before(&exchanges, "PUT", &image.layers[2..], held_done, &log);
}

/// A layer passed from one registry to another goes out with its length (from the manifest),
/// not in chunks: the registry reads it in fewer, larger reads.
#[test]
fn a_registry_to_registry_copy_sends_each_layer_with_its_length() {
    let source = TestRegistry::start(RegistryOptions::default());
    let (_destination, proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    let image = workspace.image_from("src", "t", &ImageSpec::new(38).with_layers(3, 64 * 1024));
    let origin = format!("docker://{}/origin:v1", source.host);
    copy(&workspace, &["oci:src:t", &origin]).assert_success();
    copy(
        &workspace,
        &[&origin, &format!("docker://{}/copied:v1", proxy.host)],
    )
    .assert_success();
    let exchanges = proxy.exchanges();
    let log = listing(&exchanges);
    for layer in &image.layers {
        let upload = exchanges
            .iter()
            .find(|e| e.method == "PUT" && e.target.contains(layer.hex()))
            .unwrap_or_else(|| panic!("no upload of {}:\n{log}", layer.digest));
        assert!(
            !upload.request_chunked,
            "{} was sent in chunks:\n{log}",
            layer.digest
        );
    }
}

/// A source manifest that gives a layer a size other than the blob's fails a
/// registry-to-registry copy in one line, with no tag left at the destination, whether the
/// size it gives is short or long.
#[test]
fn a_layer_of_the_wrong_size_fails_a_registry_to_registry_copy_in_one_line() {
    let (registry, proxy) = registry_behind_proxy();
    let destination = TestRegistry::start(RegistryOptions::default());
    let workspace = Workspace::new();
    let image = workspace.image_from("src", "t", &ImageSpec::new(39).with_layers(1, 64 * 1024));
    copy(
        &workspace,
        &[
            "oci:src:t",
            &format!("docker://{}/origin:v1", registry.host),
        ],
    )
    .assert_success();
    let layer = &image.layers[0];
    let manifest = String::from_utf8(common::read(
        &workspace
            .path("src")
            .join("blobs/sha256")
            .join(image.manifest.hex()),
    ))
    .expect("a UTF-8 manifest");
    let size = format!("\"size\":{}", layer.size);
    assert!(manifest.contains(&size), "{manifest}");
    for (name, wrong) in [("short", layer.size - 1), ("long", layer.size + 1)] {
        let lying = manifest.replacen(&size, &format!("\"size\":{wrong}"), 1);
        proxy.add_fault(Fault::new(
            "GET",
            "^/v2/origin/manifests/v1$",
            FaultAction::ReplaceResponseBody(lying.into_bytes()),
        ));
        let target = format!("docker://{}/{name}:v1", destination.host);
        let outcome = copy(
            &workspace,
            &[&format!("docker://{}/origin:v1", proxy.host), &target],
        );
        println!("{name}: {}", outcome.stderr);
        assert_one_line_failure(&outcome, Some(1));
        assert!(
            outcome.stderr.contains(&layer.digest),
            "{name}: {}",
            outcome.stderr
        );
        if name == "long" {
            let message = format!("has {} bytes, expected {wrong}", layer.size);
            assert!(outcome.stderr.contains(&message), "{}", outcome.stderr);
        }
        let missing = workspace.skopos(&["inspect", "--tls-verify=false", &target]);
        assert_one_line_failure(&missing, Some(2));
    }
}

/// With TLS verification off, the plain-HTTP ping goes out together with the HTTPS attempt
/// instead of after it failed (containers/image tries one, then the other); HTTPS would
/// still win where it answers. Here the HTTPS attempt is refused only after a second.
#[test]
fn with_tls_verification_off_the_plain_ping_does_not_wait_for_the_https_attempt() {
    let (registry, proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    workspace.image_from("src", "t", &ImageSpec::new(40).with_layers(1, 1024));
    copy(
        &workspace,
        &["oci:src:t", &format!("docker://{}/app:v1", registry.host)],
    )
    .assert_success();
    proxy.hold_tls_attempts(Duration::from_secs(1));
    let image = format!("docker://{}/app:v1", proxy.host);
    workspace
        .skopos(&["inspect", "--tls-verify=false", &image])
        .assert_success();
    let exchanges = proxy.exchanges();
    let log = timed_listing(&exchanges);
    let attempt = exchanges
        .iter()
        .find(|e| e.method == "TLS")
        .unwrap_or_else(|| panic!("no HTTPS attempt:\n{log}"));
    let ping = exchanges
        .iter()
        .find(|e| e.method == "GET" && e.target == "/v2/")
        .unwrap_or_else(|| panic!("no plain ping:\n{log}"));
    assert!(
        ping.arrived < attempt.finished,
        "the plain ping waited for the HTTPS attempt to fail:\n{log}"
    );
}

#[test]
fn a_pull_whose_blob_download_breaks_mid_way_still_gives_the_same_bytes() {
    let (registry, proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 32);
    let direct = format!("docker://{}/pull:v1", registry.host);
    copy(&workspace, &["oci:src:t", &direct]).assert_success();
    copy(&workspace, &[&direct, "oci:clean:t"]).assert_success();

    let layer = &image.layers[0];
    assert!(layer.size > 8192, "the layer must be larger than the cut");
    proxy.add_fault(Fault::new(
        "GET",
        &format!("^/v2/pull/blobs/{}$", layer.digest),
        FaultAction::DropResponseAfter(8192),
    ));
    copy(
        &workspace,
        &[&format!("docker://{}/pull:v1", proxy.host), "oci:faulty:t"],
    )
    .assert_success();
    let exchanges = proxy.exchanges();
    let log = listing(&exchanges);
    println!("{log}");
    assert!(
        snapshot(&workspace.path("faulty")) == snapshot(&workspace.path("clean")),
        "the pull through a broken connection differs from a clean pull"
    );
    let gets: Vec<&Exchange> = exchanges
        .iter()
        .filter(|e| e.method == "GET" && e.target.contains(layer.hex()))
        .collect();
    assert!(
        gets.len() >= 2 && gets[0].fault.is_some(),
        "the broken download must be fetched again:\n{log}"
    );
}

/// A registry-to-registry copy sends each layer on in the buffers it was downloaded in,
/// without hashing it: the destination registry checks the digest. A layer served with other
/// bytes is refused by the destination, leaving no tag there; a download cut mid-way is
/// resumed on the way.
#[test]
fn a_registry_to_registry_copy_is_refused_other_bytes_and_resumes_a_cut_download() {
    let (registry, proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    let image = workspace.image_from("src", "t", &ImageSpec::new(35).with_layers(2, 64 * 1024));
    let origin = format!("docker://{}/origin:v1", registry.host);
    copy(&workspace, &["oci:src:t", &origin]).assert_success();
    let source = format!("docker://{}/origin:v1", proxy.host);
    // Another registry: the one behind the proxy would mount the layers from `origin`.
    let destination = TestRegistry::start(RegistryOptions::default());
    let layer = &image.layers[0];
    assert!(layer.size > 8192, "the layer must be larger than the cut");
    let layer_gets = format!("^/v2/origin/blobs/{}$", layer.digest);

    let mut other = common::read(&workspace.path("src").join("blobs/sha256").join(layer.hex()));
    other[100] ^= 0xff;
    proxy.add_fault(Fault::new(
        "GET",
        &layer_gets,
        FaultAction::ReplaceResponseBody(other),
    ));
    let refused = format!("docker://{}/refused:v1", destination.host);
    let outcome = copy(&workspace, &[&source, &refused]);
    println!("{}\n{}", outcome.stderr, listing(&proxy.exchanges()));
    assert_one_line_failure(&outcome, Some(1));
    let message = format!("blob {} does not match its digest", layer.digest);
    assert!(outcome.stderr.contains(&message), "{}", outcome.stderr);
    let missing = workspace.skopos(&["inspect", "--tls-verify=false", &refused]);
    assert_one_line_failure(&missing, Some(2));

    proxy.add_fault(Fault::new(
        "GET",
        &layer_gets,
        FaultAction::DropResponseAfter(8192),
    ));
    let before = proxy.exchanges().len();
    let resumed = format!("docker://{}/resumed:v1", destination.host);
    copy(&workspace, &[&source, &resumed]).assert_success();
    let exchanges = proxy.exchanges();
    let log = listing(&exchanges[before..]);
    println!("{log}");
    let gets = exchanges[before..]
        .iter()
        .filter(|e| e.method == "GET" && e.target.contains(layer.hex()))
        .count();
    assert!(gets >= 2, "the cut download must be resumed:\n{log}");
    assert_eq!(
        common::registry_manifest_digest(&workspace, &resumed),
        image.manifest.digest
    );
}

#[test]
fn a_push_whose_upload_breaks_fails_cleanly_leaves_no_tag_and_succeeds_when_retried() {
    let (registry, proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 33);
    let target = format!("docker://{}/push:v1", proxy.host);
    let layer = &image.layers[1];
    // Whichever way the layer goes up (one PUT with `?digest=`, or PATCH + PUT), its
    // upload is the one that breaks.
    proxy.add_fault(Fault::new(
        "PUT",
        &format!("^/v2/push/blobs/uploads/.*{}", layer.hex()),
        FaultAction::DropRequestAfter(4096),
    ));
    proxy.add_fault(Fault::new(
        "PATCH",
        "^/v2/push/blobs/uploads/",
        FaultAction::DropRequestAfter(4096),
    ));
    let failed = copy(&workspace, &["oci:src:t", &target]);
    println!("{}\n{}", failed.stderr, listing(&proxy.exchanges()));
    assert_one_line_failure(&failed, Some(1));
    assert!(
        proxy
            .exchanges()
            .iter()
            .any(|e| e.fault.is_some() && e.status.is_none()),
        "the fault did not fire:\n{}",
        listing(&proxy.exchanges())
    );
    let missing = workspace.skopos(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{}/push:v1", registry.host),
    ]);
    assert_one_line_failure(&missing, Some(2));

    copy(&workspace, &["oci:src:t", &target]).assert_success();
    let raw = workspace.skopos(&["inspect", "--raw", "--tls-verify=false", &target]);
    raw.assert_success();
    assert_eq!(
        skopos_core::Digest::sha256_of(&raw.stdout_bytes).to_string(),
        image.manifest.digest
    );
}

#[test]
fn a_429_with_retry_after_on_the_manifest_is_waited_out() {
    let (registry, proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    workspace.image("src", "t", 34);
    copy(
        &workspace,
        &[
            "oci:src:t",
            &format!("docker://{}/limited:v1", registry.host),
        ],
    )
    .assert_success();
    proxy.add_fault(Fault::new(
        "GET",
        "^/v2/limited/manifests/",
        FaultAction::Reply {
            status: 429,
            retry_after: Some(1),
        },
    ));
    let started = Instant::now();
    workspace
        .skopos(&[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{}/limited:v1", proxy.host),
        ])
        .assert_success();
    let elapsed = started.elapsed();
    let exchanges = proxy.exchanges();
    let log = listing(&exchanges);
    println!("{log}");
    let manifest_statuses: Vec<Option<u16>> = exchanges
        .iter()
        .filter(|e| e.method == "GET" && e.target.starts_with("/v2/limited/manifests/"))
        .map(|e| e.status)
        .collect();
    assert_eq!(
        manifest_statuses.first(),
        Some(&Some(429)),
        "first manifest GET:\n{log}"
    );
    assert!(
        manifest_statuses.contains(&Some(200)),
        "a manifest GET after the 429 succeeds:\n{log}"
    );
    assert!(
        elapsed >= Duration::from_secs(1),
        "Retry-After: 1 was not waited out ({elapsed:?})"
    );
}

#[test]
fn a_request_whose_connection_closes_without_an_answer_is_sent_once_more() {
    let (registry, proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    workspace.image("src", "t", 35);
    copy(
        &workspace,
        &[
            "oci:src:t",
            &format!("docker://{}/closing:v1", registry.host),
        ],
    )
    .assert_success();
    // What a load balancer does to a kept-alive connection it timed out: the request goes
    // out and the connection closes with no answer. No --retry-times here.
    proxy.add_fault(Fault::new(
        "GET",
        "^/v2/closing/manifests/",
        FaultAction::DropRequestAfter(0),
    ));
    workspace
        .skopos(&[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{}/closing:v1", proxy.host),
        ])
        .assert_success();
    let exchanges = proxy.exchanges();
    let log = listing(&exchanges);
    let manifest_statuses: Vec<Option<u16>> = exchanges
        .iter()
        .filter(|e| e.method == "GET" && e.target.starts_with("/v2/closing/manifests/"))
        .map(|e| e.status)
        .collect();
    assert_eq!(
        manifest_statuses.get(..2),
        Some(&[None, Some(200)][..]),
        "the dropped manifest GET is sent again at once:\n{log}"
    );
}

#[test]
fn a_500_on_a_blob_get_is_retried_with_retry_times() {
    let (registry, proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 35);
    let direct = format!("docker://{}/flaky:v1", registry.host);
    copy(&workspace, &["oci:src:t", &direct]).assert_success();
    copy(&workspace, &[&direct, "oci:clean:t"]).assert_success();
    proxy.add_fault(Fault::new(
        "GET",
        &format!("^/v2/flaky/blobs/{}$", image.layers[0].digest),
        FaultAction::Reply {
            status: 500,
            retry_after: None,
        },
    ));
    let outcome = copy(
        &workspace,
        &[
            "--retry-times",
            "1",
            &format!("docker://{}/flaky:v1", proxy.host),
            "oci:retried:t",
        ],
    );
    let log = listing(&proxy.exchanges());
    println!("{log}");
    outcome.assert_success();
    assert!(
        proxy.exchanges().iter().any(|e| e.status == Some(500)),
        "the fault did not fire:\n{log}"
    );
    assert!(
        snapshot(&workspace.path("retried")) == snapshot(&workspace.path("clean")),
        "the retried pull differs from a clean pull"
    );
}
