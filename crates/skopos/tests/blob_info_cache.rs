//! The blob-info cache (`blob-info-cache-v1.sqlite`, containers/image's format and place):
//! a warm cache spares uploads (a recompressed layer the registry has is not recompressed
//! again, a blob in another repository is mounted), several processes use one file at once,
//! and skopeo's file and skopos's are one and the same (with `SKOPEO_1_17_OSTREE`, a skopeo
//! built with SQLite; skopeo 1.22.2's static build keeps its cache in memory only).

mod common;

use std::path::{Path, PathBuf};

use common::{report_skipped, Workspace};
use skopos_core::blob_info_cache::BlobInfoCache as _;
use skopos_core::Digest;
use skopos_testimage::proxy::{Exchange, RegistryProxy};
use skopos_testimage::registry::{RegistryOptions, TestRegistry};
use skopos_testimage::{Compression, ImageSpec};

/// A plain-HTTP registry and a counting proxy in front of it.
fn registry_behind_proxy() -> (TestRegistry, RegistryProxy) {
    let registry = TestRegistry::start(RegistryOptions::default());
    let proxy = RegistryProxy::start(&registry.host)
        .unwrap_or_else(|error| panic!("starting the registry proxy: {error}"));
    (registry, proxy)
}

/// The cache file of a tool whose `$XDG_DATA_HOME` is `home/data`.
fn cache_file(workspace: &Workspace, home: &str) -> PathBuf {
    workspace.path(&format!(
        "{home}/data/containers/cache/blob-info-cache-v1.sqlite"
    ))
}

/// One line per exchange, for failure messages.
fn listing(exchanges: &[Exchange]) -> String {
    exchanges
        .iter()
        .map(|e| format!("  {} {} -> {:?}", e.method, e.target, e.status))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Requests that send blob data: an upload started without a mount, or its PATCH / PUT.
fn uploads(exchanges: &[Exchange]) -> Vec<&Exchange> {
    exchanges
        .iter()
        .filter(|e| e.target.contains("/blobs/uploads/"))
        .filter(|e| !(e.method == "POST" && e.target.contains("mount=")))
        .collect()
}

fn manifest_digest(workspace: &Workspace, image: &str) -> String {
    let inspected = workspace.skopos(&["inspect", "--tls-verify=false", image]);
    inspected.assert_success();
    common::parse_json(&inspected.stdout_bytes)["Digest"]
        .as_str()
        .expect("a Digest")
        .to_string()
}

fn push(workspace: &Workspace, args: &[&str]) {
    let mut all = vec!["--insecure-policy", "copy", "-q", "--dest-tls-verify=false"];
    all.extend_from_slice(args);
    workspace.skopos(&all).assert_success();
}

#[test]
fn a_re_push_of_a_recompressed_image_with_a_warm_cache_uploads_nothing() {
    let (_registry, proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    workspace.image_from("src", "t", &ImageSpec::new(71).with_layers(3, 30_000));
    let first = format!("docker://{}/zstd:v1", proxy.host);
    push(
        &workspace,
        &["--dest-compress-format", "zstd", "oci:src:t", &first],
    );
    assert!(cache_file(&workspace, "home-skopos").exists());
    let written = manifest_digest(&workspace, &first);

    // The same push again: each zstd layer is found by the cache, not recompressed and sent.
    proxy.clear_exchanges();
    push(
        &workspace,
        &["--dest-compress-format", "zstd", "oci:src:t", &first],
    );
    let exchanges = proxy.exchanges();
    assert!(
        uploads(&exchanges).is_empty(),
        "no uploads:\n{}",
        listing(&exchanges)
    );
    assert_eq!(manifest_digest(&workspace, &first), written);

    // To another repository of the registry: the zstd layers and the config are mounted.
    proxy.clear_exchanges();
    let second = format!("docker://{}/elsewhere:v1", proxy.host);
    push(
        &workspace,
        &["--dest-compress-format", "zstd", "oci:src:t", &second],
    );
    let exchanges = proxy.exchanges();
    let log = listing(&exchanges);
    assert!(uploads(&exchanges).is_empty(), "no uploads:\n{log}");
    let mounts = exchanges
        .iter()
        .filter(|e| e.method == "POST" && e.target.contains("from=zstd"))
        .count();
    assert_eq!(mounts, 4, "three layers and the config mounted:\n{log}");
    assert_eq!(manifest_digest(&workspace, &second), written);

    // Without the cache the layers are recompressed and uploaded again.
    std::fs::remove_file(cache_file(&workspace, "home-skopos")).expect("removing the cache");
    proxy.clear_exchanges();
    let third = format!("docker://{}/cold:v1", proxy.host);
    push(
        &workspace,
        &["--dest-compress-format", "zstd", "oci:src:t", &third],
    );
    assert!(!uploads(&proxy.exchanges()).is_empty());
}

/// Send `DELETE path` to a plain-HTTP registry and return the response's status line.
fn delete_on_registry(host: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(host).expect("connecting to the registry");
    write!(
        stream,
        "DELETE {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("sending DELETE");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("reading the DELETE response");
    response.lines().next().unwrap_or_default().to_string()
}

/// A registry that deletes, behind a counting proxy, where image `seed` was pushed to
/// `repo` (so the workspace's cache remembers its blobs there) and then lost those blobs.
/// Returns the `HEAD` targets of the three blobs (two layers and the config).
fn registry_that_lost_a_pushed_image(
    workspace: &Workspace,
    seed: u64,
    repo: &str,
) -> (TestRegistry, RegistryProxy, Vec<String>) {
    let registry = TestRegistry::start(RegistryOptions {
        delete_enabled: true,
        ..RegistryOptions::default()
    });
    let proxy = RegistryProxy::start(&registry.host)
        .unwrap_or_else(|error| panic!("starting the registry proxy: {error}"));
    workspace.image_from("src", "t", &ImageSpec::new(seed).with_layers(2, 20_000));
    push(
        workspace,
        &["oci:src:t", &format!("docker://{}/{repo}:v1", proxy.host)],
    );
    let prefix = format!("/v2/{repo}/blobs/");
    let blobs: Vec<String> = proxy
        .exchanges()
        .iter()
        .filter(|e| e.method == "HEAD" && e.target.starts_with(&prefix))
        .map(|e| e.target.clone())
        .collect();
    assert_eq!(
        blobs.len(),
        3,
        "two layers and the config:\n{}",
        listing(&proxy.exchanges())
    );
    for blob in &blobs {
        let status = delete_on_registry(&registry.host, blob);
        assert!(status.contains(" 202 "), "DELETE {blob}: {status}");
    }
    proxy.clear_exchanges();
    (registry, proxy, blobs)
}

#[test]
fn a_warm_cache_does_not_ask_the_destination_twice_for_a_blob_it_lacks() {
    // The cache remembers each blob in this very repository; the registry then loses them.
    // The next push asks the repository once per blob (as containers/image does), not once
    // for the copy and once more for the cache's candidate naming the same place.
    let workspace = Workspace::new();
    let (_registry, proxy, blobs) = registry_that_lost_a_pushed_image(&workspace, 72, "gone");
    push(
        &workspace,
        &["oci:src:t", &format!("docker://{}/gone:v1", proxy.host)],
    );
    let exchanges = proxy.exchanges();
    let log = listing(&exchanges);
    for blob in &blobs {
        let asked = exchanges
            .iter()
            .filter(|e| e.method == "HEAD" && &e.target == blob)
            .count();
        assert_eq!(asked, 1, "one HEAD for {blob}:\n{log}");
    }
    assert_eq!(
        uploads(&exchanges).len(),
        6,
        "each blob uploaded again:\n{log}"
    );
}

#[test]
fn a_failed_mount_s_upload_session_carries_the_blob() {
    // The cache remembers each blob in repository `gone`, which then loses them: a push to
    // another repository asks `gone` for a mount, the registry starts an upload instead
    // (202), and the blob goes up through that upload: no DELETE of it, no second POST.
    let workspace = Workspace::new();
    let (_registry, proxy, _) = registry_that_lost_a_pushed_image(&workspace, 73, "gone");
    let target = format!("docker://{}/fresh:v1", proxy.host);
    push(&workspace, &["oci:src:t", &target]);
    let exchanges = proxy.exchanges();
    let log = listing(&exchanges);
    let count = |method: &str, mount: bool, status: u16| {
        exchanges
            .iter()
            .filter(|e| e.method == method && e.target.starts_with("/v2/fresh/blobs/uploads/"))
            .filter(|e| e.target.contains("mount=") == mount && e.status == Some(status))
            .count()
    };
    assert_eq!(
        count("POST", true, 202),
        3,
        "a mount tried per blob:\n{log}"
    );
    assert_eq!(count("POST", false, 202), 0, "no other upload:\n{log}");
    assert_eq!(count("PUT", false, 201), 3, "each blob uploaded:\n{log}");
    assert!(
        !exchanges.iter().any(|e| e.method == "DELETE"),
        "no upload cancelled:\n{log}"
    );
    // Whole and readable: a pull verifies every blob against its digest.
    workspace
        .skopos(&[
            "--insecure-policy",
            "copy",
            "-q",
            "--src-tls-verify=false",
            &target,
            "oci:back:t",
        ])
        .assert_success();
    assert_eq!(
        manifest_digest(&workspace, &target),
        manifest_digest(&workspace, "oci:src:t")
    );
}

#[test]
fn processes_sharing_the_cache_file_at_once_all_succeed_and_all_record() {
    let registry = TestRegistry::start(RegistryOptions::default());
    let workspace = Workspace::new();
    let spec = |seed| {
        ImageSpec::new(seed)
            .with_layers(4, 10_000)
            .with_compression(Compression::Uncompressed)
    };
    let images: Vec<_> = (0..4)
        .map(|n| workspace.image_from(&format!("src{n}"), "t", &spec(80 + n)))
        .collect();
    // Each push gzips uncompressed layers, so each records digest pairs and locations.
    std::thread::scope(|scope| {
        for n in 0..images.len() {
            let workspace = &workspace;
            let host = &registry.host;
            scope.spawn(move || {
                let source = format!("oci:src{n}:t");
                let target = format!("docker://{host}/concurrent{n}:v1");
                push(workspace, &[&source, &target]);
            });
        }
    });
    let cache = skopos_blobinfocache::SqliteCache::open(&cache_file(&workspace, "home-skopos"))
        .expect("opening the cache file the pushes wrote");
    for image in &images {
        for layer in &image.layers {
            let digest: Digest = layer.digest.parse().expect("a digest");
            assert_eq!(
                cache.uncompressed_digest(&digest),
                Some(digest.clone()),
                "layer {digest} recorded as some gzip blob's content"
            );
        }
    }
}

#[test]
fn a_cache_file_without_write_access_leaves_copies_working() {
    let workspace = Workspace::new();
    workspace.image_from("src", "t", &ImageSpec::new(73).with_layers(1, 1_000));
    // A file where the cache directory should be: the cache cannot be created there.
    let data = workspace.path("home-skopos/data");
    std::fs::create_dir_all(&data).expect("creating the data dir");
    std::fs::write(data.join("containers"), b"not a directory").expect("writing a file");
    let copied = workspace.skopos(&["--insecure-policy", "copy", "-q", "oci:src:t", "oci:out:t"]);
    copied.assert_success();
    assert_eq!(copied.stderr, "", "the fallback to memory is silent");
}

/// skopeo 1.17.0 (`$SKOPEO_1_17_OSTREE`, built with cgo and SQLite) as the other tool; skopeo
/// 1.22.2's static build (`$SKOPEO_1_22`) cannot open SQLite and keeps its cache in memory.
fn sqlite_skopeo(what: &str) -> Option<PathBuf> {
    match std::env::var_os("SKOPEO_1_17_OSTREE") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            report_skipped(&format!(
                "{what} (set SKOPEO_1_17_OSTREE to a skopeo built with SQLite; SKOPEO_1_22's static build has no SQLite)"
            ));
            None
        }
    }
}

fn copy_file(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().expect("a parent")).expect("creating the cache dir");
    std::fs::copy(from, to)
        .unwrap_or_else(|error| panic!("copying {} to {}: {error}", from.display(), to.display()));
}

/// One tool pushes uncompressed layers (gzipped on the way) to repository `first`; the other
/// tool, given the first one's cache file, pushes the same image to `second` and mounts every
/// layer (the gzip variant the cache names) instead of compressing and uploading it.
fn one_tool_mounts_what_the_other_recorded(skopeo_writes: bool) {
    let what = if skopeo_writes {
        "skopos reading skopeo's blob-info cache"
    } else {
        "skopeo reading skopos's blob-info cache"
    };
    let Some(skopeo) = sqlite_skopeo(what) else {
        return;
    };
    let (_registry, proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    let spec = ImageSpec::new(75)
        .with_layers(2, 20_000)
        .with_compression(Compression::Uncompressed);
    let image = workspace.image_from("src", "t", &spec);
    let first = format!("docker://{}/first:v1", proxy.host);
    let second = format!("docker://{}/second:v1", proxy.host);
    let args = |target: &str| {
        [
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "oci:src:t",
        ]
        .into_iter()
        .chain(std::iter::once(target))
        .map(str::to_string)
        .collect::<Vec<_>>()
    };
    let run_skopeo = |target: &str| {
        let args = args(target);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        workspace
            .skopeo_at_with_env(&skopeo, &[], &args)
            .assert_success();
    };
    let run_skopos = |target: &str| {
        let args = args(target);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        workspace.skopos(&args).assert_success();
    };
    let (skopeo_file, skopos_file) = (
        cache_file(&workspace, "home-skopeo"),
        cache_file(&workspace, "home-skopos"),
    );
    if skopeo_writes {
        run_skopeo(&first);
        copy_file(&skopeo_file, &skopos_file);
    } else {
        run_skopos(&first);
        copy_file(&skopos_file, &skopeo_file);
    }
    proxy.clear_exchanges();
    if skopeo_writes {
        run_skopos(&second);
    } else {
        run_skopeo(&second);
    }
    let exchanges = proxy.exchanges();
    let log = listing(&exchanges);
    let mounts = |from: &str| {
        exchanges
            .iter()
            .filter(|e| e.method == "POST" && e.target.contains(from))
            .count()
    };
    if skopeo_writes {
        assert!(uploads(&exchanges).is_empty(), "{what}: no uploads:\n{log}");
        assert_eq!(
            mounts("from=first"),
            3,
            "{what}: two layers and the config mounted:\n{log}"
        );
    } else {
        // containers/image looks for the config in the destination repository only, and
        // uploads it; the layers are mounted.
        let config_hex = image.config.digest.trim_start_matches("sha256:");
        let sent: Vec<_> = uploads(&exchanges)
            .into_iter()
            .filter(|e| e.method == "PUT" || e.method == "PATCH")
            .collect();
        assert!(
            sent.iter()
                .all(|e| e.method == "PATCH" || e.target.contains(config_hex)),
            "{what}: only the config uploaded:\n{log}"
        );
        assert_eq!(
            mounts("from=first"),
            2,
            "{what}: both layers mounted:\n{log}"
        );
    }
}

#[test]
fn skopos_mounts_what_skopeo_recorded_in_its_cache_file() {
    one_tool_mounts_what_the_other_recorded(true);
}

#[test]
fn skopeo_mounts_what_skopos_recorded_in_its_cache_file() {
    one_tool_mounts_what_the_other_recorded(false);
}
