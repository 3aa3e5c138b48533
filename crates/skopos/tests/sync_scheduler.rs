//! What a `sync` costs at the registries, counted through the counting proxy: images of
//! several repositories copied at once upload each blob they share once, and a re-sync of
//! an already mirrored repository (and `--dry-run`) reads no manifest, only the tag list
//! and one manifest `HEAD` per tag, and each registry is pinged once per run, not once per
//! image; those `HEAD`s go out a dozen at once, not one copy slot's worth at a time.

mod common;

use common::Workspace;
use skopos_testimage::proxy::{Exchange, Gathering, RegistryProxy};
use skopos_testimage::registry::{RegistryOptions, TestRegistry};
use skopos_testimage::{ImageSpec, WrittenImage};

/// A plain-HTTP registry with a counting proxy in front of it.
fn registry_behind_proxy() -> (TestRegistry, RegistryProxy) {
    let registry = TestRegistry::start(RegistryOptions::default());
    let proxy = RegistryProxy::start(&registry.host)
        .unwrap_or_else(|error| panic!("starting the registry proxy: {error}"));
    (registry, proxy)
}

fn listing(exchanges: &[Exchange]) -> String {
    exchanges
        .iter()
        .map(|e| format!("  {} {} -> {:?}", e.method, e.target, e.status))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `/v2/` pings among `exchanges`.
fn pings(exchanges: &[Exchange]) -> usize {
    exchanges.iter().filter(|e| e.target == "/v2/").count()
}

/// The requests after the `/v2/` pings (one per registry: not per image or tag).
fn after_pings(exchanges: Vec<Exchange>) -> Vec<Exchange> {
    exchanges
        .into_iter()
        .filter(|e| e.target != "/v2/")
        .collect()
}

fn sync(workspace: &Workspace, extra: &[&str], source: &str, destination: &str) -> String {
    let mut args = vec![
        "--insecure-policy",
        "sync",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
    ];
    args.extend_from_slice(extra);
    args.extend([source, destination]);
    let outcome = workspace.skopos(&args);
    outcome.assert_success();
    outcome.stdout
}

#[test]
fn two_repositories_sharing_layers_upload_each_shared_blob_once() {
    let source = TestRegistry::start(RegistryOptions::default());
    let (_destination, proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    // The same seed gives the same layers; the labels make the configs differ.
    let images: Vec<WrittenImage> = ["a", "b"]
        .iter()
        .map(|repo| {
            let spec = ImageSpec::new(90)
                .with_layers(3, 20_000)
                .with_label("repo", repo);
            let image = workspace.image_from(&format!("src-{repo}"), "v1", &spec);
            workspace.push(
                &format!("oci:src-{repo}:v1"),
                &format!("docker://{}/{repo}:v1", source.host),
            );
            image
        })
        .collect();
    assert_eq!(
        images[0].layers, images[1].layers,
        "the images share layers"
    );
    let yaml = format!(
        "{}:\n  tls-verify: false\n  images:\n    a: []\n    b: []\n",
        source.host
    );
    std::fs::write(workspace.path("sync.yaml"), yaml).expect("writing the YAML file");
    let destination = format!("{}/mirror", proxy.host);
    sync(
        &workspace,
        &["--src", "yaml", "--dest", "docker"],
        "sync.yaml",
        &destination,
    );

    let exchanges = proxy.exchanges();
    let log = listing(&exchanges);
    for layer in &images[0].layers {
        let hex = layer.digest.trim_start_matches("sha256:");
        let uploaded = exchanges
            .iter()
            .filter(|e| e.method == "PUT" && e.target.contains("/blobs/uploads/"))
            .filter(|e| e.target.contains(hex))
            .count();
        assert_eq!(uploaded, 1, "layer {hex} uploaded once:\n{log}");
        let mounted = exchanges
            .iter()
            .filter(|e| e.method == "POST" && e.target.contains("mount=") && e.target.contains(hex))
            .filter(|e| e.status == Some(201))
            .count();
        assert_eq!(
            mounted, 1,
            "layer {hex} mounted into the other repository:\n{log}"
        );
    }
    // Both images arrived whole.
    for repo in ["a", "b"] {
        workspace
            .skopos(&[
                "--insecure-policy",
                "copy",
                "-q",
                "--src-tls-verify=false",
                &format!("docker://{destination}/{repo}:v1"),
                &format!("oci:check-{repo}:v1"),
            ])
            .assert_success();
    }
}

#[test]
fn a_no_op_re_sync_costs_the_tag_list_and_one_head_per_tag_and_dry_run_no_more() {
    let (_source, source_proxy) = registry_behind_proxy();
    let (_destination, destination_proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    let tags = workspace.push_tags(&source_proxy.host, 3, 100);
    let source = format!("{}/app", source_proxy.host);
    let destination = format!("{}/mirror", destination_proxy.host);
    let docker = ["--src", "docker", "--dest", "docker"];
    // The first sync: the destination lacks every tag, so nothing asks the source whether
    // it changed; each image's manifest is fetched once by its copy.
    source_proxy.clear_exchanges();
    sync(&workspace, &docker, &source, &destination);
    let first = after_pings(source_proxy.exchanges());
    assert!(
        !first
            .iter()
            .any(|e| e.method == "HEAD" && e.target.starts_with("/v2/app/manifests/")),
        "no manifest HEAD at the source on a first sync:\n{}",
        listing(&first)
    );

    source_proxy.clear_exchanges();
    destination_proxy.clear_exchanges();
    let stdout = sync(&workspace, &docker, &source, &destination);
    assert_eq!(
        stdout
            .matches("Skipping: image already present at destination\n")
            .count(),
        tags.len(),
        "{stdout}"
    );
    let at_source = after_pings(source_proxy.exchanges());
    let log = listing(&at_source);
    assert_eq!(at_source.len(), 1 + tags.len(), "source requests:\n{log}");
    assert_eq!(
        at_source
            .iter()
            .filter(|e| e.method == "GET" && e.target.starts_with("/v2/app/tags/list"))
            .count(),
        1,
        "{log}"
    );
    for tag in &tags {
        let heads = at_source
            .iter()
            .filter(|e| e.method == "HEAD" && e.target == format!("/v2/app/manifests/{tag}"))
            .count();
        assert_eq!(heads, 1, "one HEAD of {tag}:\n{log}");
    }
    let at_destination = after_pings(destination_proxy.exchanges());
    let log = listing(&at_destination);
    assert_eq!(
        at_destination.len(),
        tags.len(),
        "destination requests:\n{log}"
    );
    assert!(
        at_destination.iter().all(|e| e.method == "HEAD"),
        "only HEADs at the destination:\n{log}"
    );

    // --dry-run lists the tags and touches nothing else.
    source_proxy.clear_exchanges();
    destination_proxy.clear_exchanges();
    let dry = [docker.as_slice(), &["--dry-run"]].concat();
    sync(&workspace, &dry, &source, &destination);
    let at_source = after_pings(source_proxy.exchanges());
    assert_eq!(at_source.len(), 1, "{}", listing(&at_source));
    assert!(destination_proxy.exchanges().is_empty());
}

#[test]
fn a_sync_of_several_images_pings_each_registry_once() {
    let (_source, source_proxy) = registry_behind_proxy();
    let (_destination, destination_proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    let tags = workspace.push_tags(&source_proxy.host, 3, 200);
    source_proxy.clear_exchanges();
    let source = format!("{}/app", source_proxy.host);
    let destination = format!("{}/mirror", destination_proxy.host);
    let stdout = sync(
        &workspace,
        &["--src", "docker", "--dest", "docker"],
        &source,
        &destination,
    );
    assert_eq!(
        stdout
            .matches("Writing manifest to image destination")
            .count(),
        tags.len(),
        "{stdout}"
    );
    let at_source = source_proxy.exchanges();
    assert_eq!(
        pings(&at_source),
        1,
        "source requests:\n{}",
        listing(&at_source)
    );
    let at_destination = destination_proxy.exchanges();
    assert_eq!(
        pings(&at_destination),
        1,
        "destination requests:\n{}",
        listing(&at_destination)
    );
}

#[test]
fn a_re_sync_looks_at_a_dozen_images_at_once_while_copying_four() {
    // As many as a registry gets transfers at once (skopos_sync::TRANSFERS_PER_REGISTRY):
    // more than the four images a registry destination copies at once.
    const AT_ONCE: usize = 12;
    let source = TestRegistry::start(RegistryOptions::default());
    let (_destination, destination_proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    workspace.push_tags(&source.host, AT_ONCE, 300);
    let source = format!("{}/app", source.host);
    let destination = format!("{}/mirror", destination_proxy.host);
    let docker = ["--src", "docker", "--dest", "docker"];
    // The first sync copies every image, but no more than four at once: their manifest PUTs
    // are held back for a second, and never more than four wait together.
    destination_proxy.set_gathering(Gathering::new(
        "PUT",
        "^/v2/mirror/app/manifests/",
        AT_ONCE,
        std::time::Duration::from_secs(1),
    ));
    sync(&workspace, &docker, &source, &destination);
    let most = destination_proxy.most_gathered();
    assert!(
        (1..=4).contains(&most),
        "{most} manifest PUTs in flight at once at the destination:\n{}",
        listing(&destination_proxy.exchanges())
    );

    // The destination's manifest HEADs wait until all twelve are there together (or, with a
    // client that sends fewer at once, for the most a test should wait, after which each
    // goes on: the sync still succeeds, only slowly).
    destination_proxy.set_gathering(Gathering::new(
        "HEAD",
        "^/v2/mirror/app/manifests/",
        AT_ONCE,
        std::time::Duration::from_secs(3),
    ));
    let stdout = sync(&workspace, &docker, &source, &destination);
    assert_eq!(
        stdout
            .matches("Skipping: image already present at destination\n")
            .count(),
        AT_ONCE,
        "{stdout}"
    );
    assert_eq!(
        destination_proxy.most_gathered(),
        AT_ONCE,
        "manifest HEADs in flight at once at the destination:\n{}",
        listing(&destination_proxy.exchanges())
    );
}

#[test]
fn the_destination_registry_is_pinged_while_the_source_is_listed() {
    let (_source, source_proxy) = registry_behind_proxy();
    let (_destination, destination_proxy) = registry_behind_proxy();
    let workspace = Workspace::new();
    workspace.image_from("src", "t1", &ImageSpec::new(400).with_layers(1, 1_000));
    workspace.push(
        "oci:src:t1",
        &format!("docker://{}/app:t1", source_proxy.host),
    );
    // The tag list is held back for a second (a gathering of two that its one request never
    // completes): a ping sent only after the listing would arrive after it.
    source_proxy.set_gathering(Gathering::new(
        "GET",
        "^/v2/app/tags/list",
        2,
        std::time::Duration::from_secs(1),
    ));
    source_proxy.clear_exchanges();
    sync(
        &workspace,
        &["--src", "docker", "--dest", "docker"],
        &format!("{}/app", source_proxy.host),
        &format!("{}/mirror", destination_proxy.host),
    );
    let at_source = source_proxy.exchanges();
    let listed = at_source
        .iter()
        .find(|e| e.target.starts_with("/v2/app/tags/list"))
        .unwrap_or_else(|| panic!("no tag list read:\n{}", listing(&at_source)));
    let at_destination = destination_proxy.exchanges();
    let pinged = at_destination
        .iter()
        .find(|e| e.target == "/v2/")
        .unwrap_or_else(|| panic!("no destination ping:\n{}", listing(&at_destination)));
    assert!(
        pinged.arrived < listed.finished,
        "the destination was pinged only after the source's tags were listed"
    );
    assert_eq!(pings(&at_destination), 1, "{}", listing(&at_destination));
}
