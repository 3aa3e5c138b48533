//! `--skopos-referrers` (skopos only): an image's OCI 1.1 referrers (and theirs) and its
//! cosign `sha256-<hex>.sig/.att` tags travel with it between registries (distribution 2.8,
//! which has no referrers API: the referrers tag schema) and OCI layouts (the tag schema in
//! index.json), with `copy` and `sync`, under `--all` per instance, filtered by artifact type;
//! concurrent writers keep each other's referrers; without the flag a copy makes exactly the
//! requests it always made. With `$ORAS` and `$REGCTL`, what they attach is mirrored and what
//! skopos writes is what they list.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use common::{assert_one_line_failure, parse_json, report_skipped, Workspace};
use skopos_testimage::proxy::{Fault, FaultAction, RegistryProxy};
use skopos_testimage::registry::{RegistryOptions, TestRegistry};
use skopos_testimage::{Blob, WrittenImage};

const SBOM: &str = "application/spdx+json";
const SIGNATURE: &str = "application/vnd.example.signature";
const COSIGN_SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const DSSE: &str = "application/vnd.dsse.envelope.v1+json";

/// An image with an SBOM and a signature referring to it, a signature on the SBOM (a
/// chain), and cosign `.sig` and `.att` tags, all in one OCI layout.
struct Attached {
    image: WrittenImage,
    sbom: Blob,
    signature: Blob,
    sbom_signature: Blob,
    cosign_sig: Blob,
    cosign_att: Blob,
}

fn attached_image(workspace: &Workspace, layout_name: &str, seed: u64) -> Attached {
    let image = workspace.image(layout_name, "v1", seed);
    let layout = workspace.layout(layout_name);
    let made = (|| -> std::io::Result<Attached> {
        let sbom = layout.add_artifact(&image.manifest, SBOM, br#"{"spdxVersion":"SPDX-2.3"}"#)?;
        let signature = layout.add_artifact(&image.manifest, SIGNATURE, b"signs the image")?;
        let sbom_signature = layout.add_artifact(&sbom, SIGNATURE, b"signs the SBOM")?;
        layout.set_referrers(&image.manifest, &[(&sbom, SBOM), (&signature, SIGNATURE)])?;
        layout.set_referrers(&sbom, &[(&sbom_signature, SIGNATURE)])?;
        let cosign_sig = layout.add_cosign_tag(
            &image.manifest,
            "sig",
            COSIGN_SIMPLE_SIGNING,
            b"{\"critical\":{}}",
        )?;
        let cosign_att = layout.add_cosign_tag(&image.manifest, "att", DSSE, b"{}")?;
        Ok(Attached {
            image: image.clone(),
            sbom,
            signature,
            sbom_signature,
            cosign_sig,
            cosign_att,
        })
    })();
    made.unwrap_or_else(|error| panic!("writing the attachments: {error}"))
}

/// `skopos --insecure-policy copy -q ARGS` with TLS verification off on both sides.
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

/// The raw manifest `image` names (`docker://…` or `oci:…`), through skopos.
fn raw(workspace: &Workspace, image: &str) -> Option<Vec<u8>> {
    let mut args = vec!["inspect", "--raw"];
    if image.starts_with("docker://") {
        args.push("--tls-verify=false");
    }
    args.push(image);
    let outcome = workspace.skopos(&args);
    (outcome.code == Some(0)).then_some(outcome.stdout_bytes)
}

/// The digests the tag schema's index of `subject` lists at `location` (`docker://host/repo`
/// or `oci:path`); empty when there is none.
fn listed_referrers(workspace: &Workspace, location: &str, subject: &Blob) -> BTreeSet<String> {
    let Some(bytes) = raw(workspace, &format!("{location}:sha256-{}", subject.hex())) else {
        return BTreeSet::new();
    };
    let index = parse_json(&bytes);
    index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("a referrers index without manifests: {index}"))
        .iter()
        .map(|entry| entry["digest"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn set(blobs: &[&Blob]) -> BTreeSet<String> {
    blobs.iter().map(|b| b.digest.clone()).collect()
}

/// Everything `attached` put beside its image is at `location`, byte for byte.
fn assert_all_attachments_at(workspace: &Workspace, location: &str, attached: &Attached) {
    let image = &attached.image.manifest;
    assert_eq!(
        listed_referrers(workspace, location, image),
        set(&[&attached.sbom, &attached.signature]),
        "referrers of the image at {location}"
    );
    assert_eq!(
        listed_referrers(workspace, location, &attached.sbom),
        set(&[&attached.sbom_signature]),
        "referrers of the SBOM at {location}"
    );
    for blob in [
        &attached.sbom,
        &attached.signature,
        &attached.sbom_signature,
    ] {
        let at = if location.starts_with("docker://") {
            format!("{location}@{}", blob.digest)
        } else {
            // A layout names images by tag only: read the blob itself.
            String::new()
        };
        if !at.is_empty() {
            let bytes = raw(workspace, &at).unwrap_or_else(|| panic!("{at} is missing"));
            assert_eq!(skopos_testimage::sha256_digest(&bytes), blob.digest);
        }
    }
    for (suffix, blob) in [("sig", &attached.cosign_sig), ("att", &attached.cosign_att)] {
        let tagged = format!("{location}:sha256-{}.{suffix}", image.hex());
        let bytes = raw(workspace, &tagged).unwrap_or_else(|| panic!("{tagged} is missing"));
        assert_eq!(
            skopos_testimage::sha256_digest(&bytes),
            blob.digest,
            "{tagged}"
        );
    }
}

#[test]
fn referrers_chains_and_cosign_tags_travel_between_layouts_and_registries() {
    let workspace = Workspace::new();
    let attached = attached_image(&workspace, "source", 31);
    let first = TestRegistry::start(RegistryOptions::default());
    let second = TestRegistry::start(RegistryOptions::default());
    let source = format!("oci:{}:v1", workspace.path("source").display());
    let at_first = format!("docker://{}/mirror", first.host);
    let at_second = format!("docker://{}/again", second.host);
    let layout = workspace.path("copied");
    let at_layout = format!("oci:{}", layout.display());

    copy(
        &workspace,
        &["--skopos-referrers", &source, &format!("{at_first}:v1")],
    )
    .assert_success();
    assert_all_attachments_at(&workspace, &at_first, &attached);

    copy(
        &workspace,
        &[
            "--skopos-referrers",
            &format!("{at_first}:v1"),
            &format!("{at_second}:v1"),
        ],
    )
    .assert_success();
    assert_all_attachments_at(&workspace, &at_second, &attached);

    copy(
        &workspace,
        &[
            "--skopos-referrers",
            &format!("{at_second}:v1"),
            &format!("{at_layout}:v1"),
        ],
    )
    .assert_success();
    assert_all_attachments_at(&workspace, &at_layout, &attached);
    for blob in [
        &attached.sbom,
        &attached.signature,
        &attached.sbom_signature,
    ] {
        let copied = std::fs::read(layout.join("blobs/sha256").join(blob.hex()))
            .unwrap_or_else(|error| panic!("referrer {} in the layout: {error}", blob.digest));
        assert_eq!(skopos_testimage::sha256_digest(&copied), blob.digest);
    }
    // Referrers have no index.json entries of their own: `oci:copied` with no name still
    // needs one.
    let index = parse_json(&std::fs::read(layout.join("index.json")).expect("index.json"));
    assert_eq!(
        index["manifests"].as_array().map(Vec::len),
        Some(5),
        "{index}"
    );
}

#[test]
fn the_artifact_type_filter_leaves_other_referrers_behind() {
    let workspace = Workspace::new();
    let attached = attached_image(&workspace, "source", 32);
    let source = format!("oci:{}:v1", workspace.path("source").display());
    let destination = format!("oci:{}", workspace.path("copied").display());
    copy(
        &workspace,
        &[
            "--skopos-referrers",
            "--skopos-referrers-filter",
            SBOM,
            &source,
            &format!("{destination}:v1"),
        ],
    )
    .assert_success();
    assert_eq!(
        listed_referrers(&workspace, &destination, &attached.image.manifest),
        set(&[&attached.sbom])
    );
    // What verifies the SBOM follows it, whatever its type.
    assert_eq!(
        listed_referrers(&workspace, &destination, &attached.sbom),
        set(&[&attached.sbom_signature])
    );
    assert!(!workspace
        .path("copied/blobs/sha256")
        .join(attached.signature.hex())
        .exists());
}

#[test]
fn without_the_flag_a_copy_makes_the_requests_it_always_made() {
    let workspace = Workspace::new();
    let attached = attached_image(&workspace, "source", 33);
    let registry = TestRegistry::start(RegistryOptions::default());
    let proxy = RegistryProxy::start(&registry.host)
        .unwrap_or_else(|error| panic!("starting the registry proxy: {error}"));
    let source = format!("oci:{}:v1", workspace.path("source").display());
    let plain = format!("docker://{}/plain:v1", proxy.host);
    let with = format!("docker://{}/with:v1", proxy.host);
    copy(&workspace, &[&source, &plain]).assert_success();
    copy(&workspace, &["--skopos-referrers", &source, &with]).assert_success();

    let pull = |from: &str, to: &str, flag: bool| {
        proxy.clear_exchanges();
        let mut args = vec![];
        if flag {
            args.push("--skopos-referrers");
        }
        let destination = format!("oci:{}", workspace.path(to).display());
        args.extend([from, &destination]);
        copy(&workspace, &args).assert_success();
        proxy.exchanges()
    };
    let without_referrers = pull(&plain, "a", false);
    let with_referrers_unasked = pull(&with, "b", false);
    assert_eq!(
        without_referrers.len(),
        with_referrers_unasked.len(),
        "{without_referrers:#?}\n{with_referrers_unasked:#?}"
    );
    assert!(
        with_referrers_unasked
            .iter()
            .all(|e| !e.target.contains("referrers") && !e.target.contains("sha256-")),
        "{with_referrers_unasked:#?}"
    );
    // The same pull asked to bring attachments does go looking for them.
    let asked = pull(&with, "c", true);
    assert!(
        asked.iter().any(|e| e.target.contains("/referrers/")),
        "{asked:#?}"
    );
    assert_eq!(
        listed_referrers(
            &workspace,
            &format!("oci:{}", workspace.path("c").display()),
            &attached.image.manifest
        ),
        set(&[&attached.sbom, &attached.signature])
    );
}

/// Several processes each add their own referrer to the same subject through the tag schema
/// at once; each layout holds the same image with one different referrer.
fn concurrent_writers(workspace: &Workspace, destination: &str) -> (Blob, BTreeSet<String>) {
    const WRITERS: usize = 4;
    let mut expected = BTreeSet::new();
    let mut subject = None;
    for writer in 0..WRITERS {
        let name = format!("writer{writer}");
        let image = workspace.image(&name, "v1", 34);
        let layout = workspace.layout(&name);
        let payload = format!("signature by writer {writer}");
        let referrer = layout
            .add_artifact(&image.manifest, SIGNATURE, payload.as_bytes())
            .and_then(|referrer| {
                layout.set_referrers(&image.manifest, &[(&referrer, SIGNATURE)])?;
                Ok(referrer)
            })
            .unwrap_or_else(|error| panic!("writing a referrer: {error}"));
        expected.insert(referrer.digest);
        subject = Some(image.manifest);
    }
    let binary = std::env::var_os("SKOPOS_UNDER_TEST")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_skopos").into());
    let children: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let source = format!(
                "oci:{}:v1",
                workspace.path(&format!("writer{writer}")).display()
            );
            Command::new(&binary)
                .env("HOME", workspace.path("home-skopos"))
                .args([
                    "--insecure-policy",
                    "copy",
                    "-q",
                    "--dest-tls-verify=false",
                    "--skopos-referrers",
                    &source,
                    destination,
                ])
                .output()
        })
        .map(|spawned| spawned.unwrap_or_else(|error| panic!("starting skopos: {error}")))
        .collect();
    for output in children {
        assert!(
            output.status.success(),
            "a writer failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    (subject.expect("one writer at least"), expected)
}

#[test]
fn concurrent_writers_to_a_registry_all_end_up_in_the_fallback_index() {
    let workspace = Workspace::new();
    let registry = TestRegistry::start(RegistryOptions::default());
    let repository = format!("docker://{}/shared", registry.host);
    let (subject, expected) = concurrent_writers(&workspace, &format!("{repository}:v1"));
    assert_eq!(
        listed_referrers(&workspace, &repository, &subject),
        expected
    );
}

#[test]
fn concurrent_writers_to_a_layout_all_end_up_in_the_fallback_index() {
    let workspace = Workspace::new();
    let layout = format!("oci:{}", workspace.path("shared").display());
    let (subject, expected) = concurrent_writers(&workspace, &format!("{layout}:v1"));
    assert_eq!(listed_referrers(&workspace, &layout, &subject), expected);
}

/// The lost update the tag schema invites, made deterministic: another writer's PUT lands
/// between this writer's PUT and its re-read (the proxy serves the re-read what that
/// writer wrote: an index without this writer's referrer). The writer must merge again.
#[test]
fn a_writer_whose_referrer_was_overwritten_merges_it_again() {
    let workspace = Workspace::new();
    let image = workspace.image("mine", "v1", 39);
    let mine = workspace.layout("mine");
    let theirs = workspace.layout("theirs");
    let made = (|| -> std::io::Result<(Blob, Blob)> {
        let my_referrer = mine.add_artifact(&image.manifest, SIGNATURE, b"mine")?;
        mine.set_referrers(&image.manifest, &[(&my_referrer, SIGNATURE)])?;
        let their_referrer = theirs.add_artifact(&image.manifest, SIGNATURE, b"theirs")?;
        theirs.set_referrers(&image.manifest, &[(&their_referrer, SIGNATURE)])?;
        Ok((my_referrer, their_referrer))
    })();
    let (my_referrer, their_referrer) =
        made.unwrap_or_else(|error| panic!("writing the referrers: {error}"));
    let registry = TestRegistry::start(RegistryOptions::default());
    let proxy = RegistryProxy::start(&registry.host)
        .unwrap_or_else(|error| panic!("starting the registry proxy: {error}"));
    // The other writer's referrer exists in the repository (pushed with its index under
    // another tag), but no tag-schema index lists it yet.
    let fallback = format!("sha256-{}", image.manifest.hex());
    copy(
        &workspace,
        &[
            "--all",
            &format!("oci:{}:{fallback}", workspace.path("theirs").display()),
            &format!("docker://{}/shared:staging", registry.host),
        ],
    )
    .assert_success();
    let their_index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"artifactType":"{SIGNATURE}"}}]}}"#,
        their_referrer.digest, their_referrer.size
    );
    proxy.add_fault(
        Fault::new(
            "GET",
            &format!("/manifests/{fallback}$"),
            FaultAction::ReplaceResponseBody(their_index.into_bytes()),
        )
        .nth(2),
    );
    copy(
        &workspace,
        &[
            "--skopos-referrers",
            &format!("oci:{}:v1", workspace.path("mine").display()),
            &format!("docker://{}/shared:v1", proxy.host),
        ],
    )
    .assert_success();
    let fired = proxy.exchanges().iter().any(|e| e.fault.is_some());
    assert!(
        fired,
        "the re-read was not answered by the other writer's index"
    );
    assert_eq!(
        listed_referrers(
            &workspace,
            &format!("docker://{}/shared", registry.host),
            &image.manifest
        ),
        set(&[&my_referrer, &their_referrer])
    );
}

#[test]
fn every_instance_brings_its_referrers_under_all() {
    let workspace = Workspace::new();
    let index = workspace.multi_arch("source", "v1");
    let layout = workspace.layout("source");
    let instance = &index.instances[1].manifest;
    let on_instance = layout
        .add_artifact(instance, SBOM, b"arm64 SBOM")
        .and_then(|sbom| {
            layout.set_referrers(instance, &[(&sbom, SBOM)])?;
            Ok(sbom)
        })
        .unwrap_or_else(|error| panic!("writing a referrer: {error}"));
    let source = format!("oci:{}:v1", workspace.path("source").display());
    let registry = TestRegistry::start(RegistryOptions::default());
    let repository = format!("docker://{}/multi", registry.host);
    copy(
        &workspace,
        &[
            "--all",
            "--skopos-referrers",
            &source,
            &format!("{repository}:v1"),
        ],
    )
    .assert_success();
    assert_eq!(
        listed_referrers(&workspace, &repository, instance),
        set(&[&on_instance])
    );
}

#[test]
fn what_cannot_carry_referrers_fails_in_one_line() {
    let workspace = Workspace::new();
    attached_image(&workspace, "source", 35);
    let source = format!("oci:{}:v1", workspace.path("source").display());
    let dir = format!("dir:{}", workspace.path("dir").display());
    let outcome = copy(&workspace, &["--skopos-referrers", &source, &dir]);
    assert_one_line_failure(&outcome, Some(1));
    assert!(
        outcome
            .stderr
            .contains("the dir transport has no referrers"),
        "{}",
        outcome.stderr
    );
    assert!(!workspace.path("dir").exists(), "nothing may be written");

    let outcome = copy(
        &workspace,
        &["--skopos-referrers-filter", SBOM, &source, &dir],
    );
    assert_one_line_failure(&outcome, Some(1));
    assert!(
        outcome
            .stderr
            .contains("--skopos-referrers-filter requires --skopos-referrers"),
        "{}",
        outcome.stderr
    );

    // Attachments name the image by digest: a converted image cannot keep them.
    let registry = TestRegistry::start(RegistryOptions::default());
    let outcome = copy(
        &workspace,
        &[
            "--skopos-referrers",
            "--format",
            "v2s2",
            &source,
            &format!("docker://{}/converted:v1", registry.host),
        ],
    );
    assert_one_line_failure(&outcome, Some(1));
    assert!(
        outcome
            .stderr
            .contains("referrers can only follow an image copied unchanged"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn sync_mirrors_referrers_and_cosign_tags() {
    let workspace = Workspace::new();
    let attached = attached_image(&workspace, "source", 36);
    let first = TestRegistry::start(RegistryOptions::default());
    let second = TestRegistry::start(RegistryOptions::default());
    let source = format!("oci:{}:v1", workspace.path("source").display());
    copy(
        &workspace,
        &[
            "--skopos-referrers",
            &source,
            &format!("docker://{}/app:v1", first.host),
        ],
    )
    .assert_success();
    let sync = |extra: &[&str]| {
        let mut args = vec![
            "--insecure-policy",
            "sync",
            "--src",
            "docker",
            "--dest",
            "docker",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ];
        args.extend_from_slice(extra);
        workspace.skopos(&args)
    };
    let synced = sync(&[
        "--skopos-referrers",
        &format!("{}/app", first.host),
        &format!("{}/mirror", second.host),
    ]);
    synced.assert_success();
    // The attachment tags are not images of their own: one image was synced.
    assert!(
        synced.stderr.contains("Synced 1 images from 1 sources"),
        "{}",
        synced.stderr
    );
    assert_all_attachments_at(
        &workspace,
        &format!("docker://{}/mirror/app", second.host),
        &attached,
    );
    // A second sync finds the image there and still brings what was attached since.
    let layout = workspace.layout("source");
    let late = layout
        .add_artifact(&attached.image.manifest, SBOM, b"a later SBOM")
        .and_then(|late| {
            layout.set_referrers(
                &attached.image.manifest,
                &[
                    (&attached.sbom, SBOM),
                    (&attached.signature, SIGNATURE),
                    (&late, SBOM),
                ],
            )?;
            Ok(late)
        })
        .unwrap_or_else(|error| panic!("writing a referrer: {error}"));
    copy(
        &workspace,
        &[
            "--skopos-referrers",
            &source,
            &format!("docker://{}/app:v1", first.host),
        ],
    )
    .assert_success();
    sync(&[
        "--skopos-referrers",
        &format!("{}/app", first.host),
        &format!("{}/mirror", second.host),
    ])
    .assert_success();
    assert_eq!(
        listed_referrers(
            &workspace,
            &format!("docker://{}/mirror/app", second.host),
            &attached.image.manifest
        ),
        set(&[&attached.sbom, &attached.signature, &late])
    );
}

/// `sync --src oci` / `--dest oci` with `--skopos-referrers`: referrers and cosign tags
/// travel with the image between a registry and a layout both ways and between layouts,
/// kept in the layout by the tag schema inside `index.json`; the source layout's
/// attachment entries are not synced as images of their own.
#[test]
fn sync_carries_referrers_to_and_from_layouts() {
    let workspace = Workspace::new();
    let attached = attached_image(&workspace, "source", 38);
    let first = TestRegistry::start(RegistryOptions::default());
    let second = TestRegistry::start(RegistryOptions::default());
    copy(
        &workspace,
        &[
            "--skopos-referrers",
            &format!("oci:{}:v1", workspace.path("source").display()),
            &format!("docker://{}/app:v1", first.host),
        ],
    )
    .assert_success();
    let sync = |from: &str, to: &str, source: &str, destination: &str| {
        let synced = workspace.skopos(&[
            "--insecure-policy",
            "sync",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--skopos-referrers",
            "--src",
            from,
            "--dest",
            to,
            source,
            destination,
        ]);
        synced.assert_success();
        assert!(
            synced.stderr.contains("Synced 1 images from 1 sources"),
            "{}",
            synced.stderr
        );
    };
    // registry -> layout: the image is `app:v1` in it, its attachments beside it.
    sync("docker", "oci", &format!("{}/app", first.host), "mirror");
    let mirror = format!("oci:{}", workspace.path("mirror").display());
    assert_all_attachments_at(&workspace, &mirror, &attached);
    assert!(raw(&workspace, &format!("{mirror}:app:v1")).is_some());
    // layout -> registry, and layout -> layout.
    sync("oci", "docker", "mirror", &format!("{}/back", second.host));
    assert_all_attachments_at(
        &workspace,
        &format!("docker://{}/back/app", second.host),
        &attached,
    );
    sync("oci", "oci", "mirror", "again");
    assert_all_attachments_at(
        &workspace,
        &format!("oci:{}", workspace.path("again").display()),
        &attached,
    );

    // oras and regctl see the same referrers at the registry the layout was synced to.
    let Some((oras, regctl)) = peers("oras/regctl reading what sync --src oci wrote") else {
        return;
    };
    let written = format!("{}/back/app:v1", second.host);
    run_peer(
        &workspace,
        &regctl,
        &["registry", "set", "--tls", "disabled", &second.host],
        None,
    );
    assert_eq!(
        regctl_list(&workspace, &regctl, &written),
        set(&[&attached.sbom, &attached.signature])
    );
    let tree = oras_tree(&run_peer(
        &workspace,
        &oras,
        &["discover", "--format", "json", "--plain-http", &written],
        None,
    ));
    let image = &attached.image.manifest.digest;
    assert!(
        tree.contains(&(image.clone(), attached.sbom.digest.clone()))
            && tree.contains(&(image.clone(), attached.signature.digest.clone()))
            && tree.contains(&(
                attached.sbom.digest.clone(),
                attached.sbom_signature.digest.clone()
            )),
        "{tree:?}"
    );
}

/// `$ORAS` and `$REGCTL`, or a visible SKIPPED line.
fn peers(what: &str) -> Option<(PathBuf, PathBuf)> {
    let oras = std::env::var_os("ORAS").map(PathBuf::from);
    let regctl = std::env::var_os("REGCTL").map(PathBuf::from);
    match (oras, regctl) {
        (Some(oras), Some(regctl)) => Some((oras, regctl)),
        _ => {
            report_skipped(&format!("{what} (set ORAS and REGCTL)"));
            None
        }
    }
}

/// Runs a peer tool with a private HOME (regctl keeps its registry settings there).
fn run_peer(
    workspace: &Workspace,
    binary: &PathBuf,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> String {
    use std::io::Write as _;
    let home = workspace.path("home-peers");
    common::create_dir(&home);
    let mut command = Command::new(binary);
    command
        .args(args)
        .env("HOME", &home)
        .current_dir(workspace.path(""))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|error| panic!("starting {}: {error}", binary.display()));
    if let Some(mut pipe) = child.stdin.take() {
        if let Some(bytes) = stdin {
            pipe.write_all(bytes).expect("writing to the peer's stdin");
        }
    }
    let output = child.wait_with_output().expect("waiting for the peer");
    assert!(
        output.status.success(),
        "{} {args:?} failed:\n{}",
        binary.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Every `(subject, referrer)` pair of `oras discover --format json`'s tree.
fn oras_tree(output: &str) -> BTreeSet<(String, String)> {
    fn walk(node: &serde_json::Value, pairs: &mut BTreeSet<(String, String)>) {
        let subject = node["digest"].as_str().unwrap_or_default().to_string();
        for child in node["referrers"].as_array().into_iter().flatten() {
            let digest = child["digest"].as_str().unwrap_or_default().to_string();
            pairs.insert((subject.clone(), digest));
            walk(child, pairs);
        }
    }
    let mut pairs = BTreeSet::new();
    walk(&parse_json(output.as_bytes()), &mut pairs);
    pairs
}

/// The digests `regctl artifact list` shows for `reference`.
fn regctl_list(workspace: &Workspace, regctl: &PathBuf, reference: &str) -> BTreeSet<String> {
    run_peer(
        workspace,
        regctl,
        &[
            "artifact",
            "list",
            "--format",
            "{{range .Descriptors}}{{.Digest}}\n{{end}}",
            reference,
        ],
        None,
    )
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn what_oras_and_regctl_attach_is_mirrored_and_they_read_the_copies() {
    let Some((oras, regctl)) = peers("mirroring oras/regctl referrers") else {
        return;
    };
    let workspace = Workspace::new();
    workspace.image("source", "v1", 37);
    let first = TestRegistry::start(RegistryOptions::default());
    let second = TestRegistry::start(RegistryOptions::default());
    for host in [&first.host, &second.host] {
        run_peer(
            &workspace,
            &regctl,
            &["registry", "set", "--tls", "disabled", host],
            None,
        );
    }
    let source = format!("oci:{}:v1", workspace.path("source").display());
    let original = format!("{}/app:v1", first.host);
    copy(&workspace, &[&source, &format!("docker://{original}")]).assert_success();
    std::fs::write(
        workspace.path("sbom.json"),
        br#"{"spdxVersion":"SPDX-2.3"}"#,
    )
    .expect("writing the SBOM");
    run_peer(
        &workspace,
        &oras,
        &[
            "attach",
            "--plain-http",
            "--artifact-type",
            SBOM,
            &original,
            "sbom.json",
        ],
        None,
    );
    run_peer(
        &workspace,
        &regctl,
        &[
            "artifact",
            "put",
            "--artifact-type",
            SIGNATURE,
            "--subject",
            &original,
        ],
        Some(b"a signature-like artifact"),
    );
    let discover = |reference: &str, layout: bool| {
        let mut args = vec!["discover", "--format", "json"];
        args.push(if layout {
            "--oci-layout"
        } else {
            "--plain-http"
        });
        args.push(reference);
        oras_tree(&run_peer(&workspace, &oras, &args, None))
    };
    // A chain: a signature on the SBOM.
    let sbom = discover(&original, false)
        .into_iter()
        .map(|(_, referrer)| referrer)
        .find(|digest| {
            let manifest = raw(&workspace, &format!("docker://{}/app@{digest}", first.host));
            manifest.is_some_and(|m| parse_json(&m)["artifactType"] == SBOM)
        })
        .expect("oras attached an SBOM");
    run_peer(
        &workspace,
        &oras,
        &[
            "attach",
            "--plain-http",
            "--artifact-type",
            SIGNATURE,
            &format!("{}/app@{sbom}", first.host),
            "sbom.json",
        ],
        None,
    );
    let at_source = discover(&original, false);
    assert_eq!(at_source.len(), 3, "{at_source:?}");
    let direct = regctl_list(&workspace, &regctl, &original);

    let mirrored = format!("{}/mirror:v1", second.host);
    copy(
        &workspace,
        &[
            "--skopos-referrers",
            &format!("docker://{original}"),
            &format!("docker://{mirrored}"),
        ],
    )
    .assert_success();
    assert_eq!(discover(&mirrored, false), at_source);
    assert_eq!(regctl_list(&workspace, &regctl, &mirrored), direct);

    let layout = workspace.path("copied");
    copy(
        &workspace,
        &[
            "--skopos-referrers",
            &format!("docker://{original}"),
            &format!("oci:{}:v1", layout.display()),
        ],
    )
    .assert_success();
    assert_eq!(discover("copied:v1", true), at_source);
    assert_eq!(
        regctl_list(
            &workspace,
            &regctl,
            &format!("ocidir://{}:v1", layout.display())
        ),
        direct
    );
}

#[test]
fn oras_and_regctl_read_what_skopos_writes_and_skopos_reads_oras_layouts() {
    let Some((oras, regctl)) = peers("oras/regctl reading skopos's referrers") else {
        return;
    };
    let workspace = Workspace::new();
    let attached = attached_image(&workspace, "source", 38);
    let registry = TestRegistry::start(RegistryOptions::default());
    run_peer(
        &workspace,
        &regctl,
        &["registry", "set", "--tls", "disabled", &registry.host],
        None,
    );
    let source = format!("oci:{}:v1", workspace.path("source").display());
    let written = format!("{}/written:v1", registry.host);
    copy(
        &workspace,
        &[
            "--skopos-referrers",
            &source,
            &format!("docker://{written}"),
        ],
    )
    .assert_success();
    let image = attached.image.manifest.digest.clone();
    let expected: BTreeSet<(String, String)> = [
        (image.clone(), attached.sbom.digest.clone()),
        (image.clone(), attached.signature.digest.clone()),
        (
            attached.sbom.digest.clone(),
            attached.sbom_signature.digest.clone(),
        ),
    ]
    .into_iter()
    .collect();
    let tree = oras_tree(&run_peer(
        &workspace,
        &oras,
        &["discover", "--format", "json", "--plain-http", &written],
        None,
    ));
    assert_eq!(tree, expected);
    assert_eq!(
        regctl_list(&workspace, &regctl, &written),
        set(&[&attached.sbom, &attached.signature])
    );

    // oras keeps what it attaches to a layout as untagged index.json entries.
    let oras_layout = workspace.path("oras-layout");
    copy(
        &workspace,
        &[&source, &format!("oci:{}:v1", oras_layout.display())],
    )
    .assert_success();
    std::fs::write(workspace.path("note.txt"), b"attached in a layout").expect("writing");
    run_peer(
        &workspace,
        &oras,
        &[
            "attach",
            "--oci-layout",
            "--artifact-type",
            SBOM,
            "oras-layout:v1",
            "note.txt",
        ],
        None,
    );
    let in_layout = oras_tree(&run_peer(
        &workspace,
        &oras,
        &[
            "discover",
            "--format",
            "json",
            "--oci-layout",
            "oras-layout:v1",
        ],
        None,
    ));
    assert_eq!(in_layout.len(), 1, "{in_layout:?}");
    let from_layout = format!("{}/from-layout:v1", registry.host);
    copy(
        &workspace,
        &[
            "--skopos-referrers",
            &format!("oci:{}:v1", oras_layout.display()),
            &format!("docker://{from_layout}"),
        ],
    )
    .assert_success();
    let mirrored = oras_tree(&run_peer(
        &workspace,
        &oras,
        &["discover", "--format", "json", "--plain-http", &from_layout],
        None,
    ));
    assert_eq!(mirrored, in_layout);
}

/// Artifacts (an empty config, an unknown layer type, `artifactType`; or an OCI config with
/// a cosign layer) are copied byte for byte to every destination that stores OCI manifests,
/// even where layers are normally compressed on the way, as containers/image does.
#[test]
fn artifacts_copy_byte_for_byte_everywhere() {
    let workspace = Workspace::new();
    let attached = attached_image(&workspace, "source", 40);
    let registry = TestRegistry::start(RegistryOptions::default());
    let source = workspace.path("source");
    let image = attached.image.manifest.hex();
    let referrers_index = format!("oci:{}:sha256-{image}", source.display());
    let cosign = format!("oci:{}:sha256-{image}.sig", source.display());
    let index_digest = skopos_testimage::sha256_digest(
        &raw(&workspace, &referrers_index).expect("the referrers index"),
    );
    for (from, all, digest) in [
        (&referrers_index, true, &index_digest),
        (&cosign, false, &attached.cosign_sig.digest),
    ] {
        for (position, destination) in [
            format!("docker://{}/artifacts:a", registry.host),
            format!("oci:{}:a", workspace.path("layout").display()),
            format!("oci-archive:{}:a", workspace.path("archive.tar").display()),
        ]
        .iter()
        .enumerate()
        {
            let digest_file = workspace.path(&format!("digest-{position}"));
            let digest_arg = format!("--digestfile={}", digest_file.display());
            let mut args = vec![digest_arg.as_str()];
            if all {
                args.push("--all");
            }
            args.extend([from.as_str(), destination.as_str()]);
            copy(&workspace, &args).assert_success();
            let written = std::fs::read_to_string(&digest_file).expect("the digest file");
            assert_eq!(&written, digest, "{from} -> {destination}");
        }
    }
}

#[test]
fn inspect_lists_referrers_chains_and_cosign_tags() {
    let workspace = Workspace::new();
    let attached = attached_image(&workspace, "source", 41);
    let registry = TestRegistry::start(RegistryOptions::default());
    let source = format!("oci:{}:v1", workspace.path("source").display());
    let pushed = format!("docker://{}/listed:v1", registry.host);
    copy(&workspace, &["--skopos-referrers", &source, &pushed]).assert_success();
    let image = &attached.image.manifest;
    for location in [source.as_str(), pushed.as_str()] {
        let mut args = vec!["inspect", "--skopos-referrers"];
        if location.starts_with("docker://") {
            args.push("--tls-verify=false");
        }
        args.push(location);
        let outcome = workspace.skopos(&args);
        outcome.assert_success();
        assert!(
            outcome.stdout.starts_with("{\n    \"Digest\": "),
            "{}",
            outcome.stdout
        );
        let listing = parse_json(&outcome.stdout_bytes);
        assert_eq!(listing["Digest"], image.digest.as_str());
        let pairs: BTreeSet<(String, String, String)> = listing["Referrers"]
            .as_array()
            .expect("a Referrers array")
            .iter()
            .map(|r| {
                (
                    r["Subject"].as_str().unwrap_or_default().to_string(),
                    r["Digest"].as_str().unwrap_or_default().to_string(),
                    r["ArtifactType"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let expected: BTreeSet<(String, String, String)> = [
            (&image.digest, &attached.sbom.digest, SBOM),
            (&image.digest, &attached.signature.digest, SIGNATURE),
            (
                &attached.sbom.digest,
                &attached.sbom_signature.digest,
                SIGNATURE,
            ),
        ]
        .into_iter()
        .map(|(s, d, t)| (s.clone(), d.clone(), t.to_string()))
        .collect();
        assert_eq!(pairs, expected, "{location}");
        let sbom_entry = listing["Referrers"]
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|r| r["Digest"] == attached.sbom.digest.as_str())
            })
            .expect("the SBOM is listed");
        assert_eq!(sbom_entry["Size"], attached.sbom.size);
        // skopos lists a referrer with its manifest's annotations; the fixture's index has none.
        if location == pushed {
            assert_eq!(sbom_entry["Annotations"]["org.example.payload-size"], "26");
        }
        let tags: BTreeSet<(String, String)> = listing["CosignTags"]
            .as_array()
            .expect("a CosignTags array")
            .iter()
            .map(|t| {
                (
                    t["Tag"].as_str().unwrap_or_default().to_string(),
                    t["Digest"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        assert_eq!(
            tags,
            [
                (
                    format!("sha256-{}.sig", image.hex()),
                    attached.cosign_sig.digest.clone()
                ),
                (
                    format!("sha256-{}.att", image.hex()),
                    attached.cosign_att.digest.clone()
                ),
            ]
            .into_iter()
            .collect()
        );
    }
    let outcome = workspace.skopos(&["inspect", "--skopos-referrers", "--raw", &source]);
    assert_one_line_failure(&outcome, Some(1));
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// A sigstore signature skopos makes (a cosign `.sig` attachment) follows the image to a
/// mirror, where a `sigstoreSigned` policy (skopos's, and skopeo 1.22.2's with `$SKOPEO_1_22`)
/// accepts the mirrored copy; mirrored without the flag, the copy is rejected.
#[test]
fn a_mirrored_sigstore_signature_still_verifies() {
    const IDENTITY: &str = "example.com/mirrored/app:1";
    let workspace = Workspace::new();
    workspace.image("src", "t", 42);
    std::fs::write(workspace.path("passphrase"), "mirrored key passphrase\n").expect("writing");
    workspace
        .skopos(&[
            "generate-sigstore-key",
            "--output-prefix",
            "key",
            "--passphrase-file",
            "passphrase",
        ])
        .assert_success();
    let config = workspace.path("registries.d");
    common::create_dir(&config);
    std::fs::write(
        config.join("attachments.yaml"),
        "default-docker:\n  use-sigstore-attachments: true\n",
    )
    .expect("writing registries.d");
    let config = config.display().to_string();
    let policy = workspace.path("policy.json");
    std::fs::write(
        &policy,
        format!(
            r#"{{"default": [{{"type": "reject"}}], "transports": {{"docker": {{"": [{{"type": "sigstoreSigned", "keyPath": "{}", "signedIdentity": {{"type": "exactReference", "dockerReference": "{IDENTITY}"}}}}]}}}}}}"#,
            workspace.path("key.pub").display()
        ),
    )
    .expect("writing the policy");
    let policy = policy.display().to_string();
    let first = TestRegistry::start(RegistryOptions::default());
    let second = TestRegistry::start(RegistryOptions::default());
    let signed = format!("docker://{}/signed:1", first.host);
    workspace
        .skopos(&[
            "--insecure-policy",
            "--registries.d",
            &config,
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--sign-by-sigstore-private-key",
            "key.private",
            "--sign-passphrase-file",
            "passphrase",
            "--sign-identity",
            IDENTITY,
            "oci:src:t",
            &signed,
        ])
        .assert_success();
    let mirrored = format!("docker://{}/mirrored:1", second.host);
    let unsigned_mirror = format!("docker://{}/without:1", second.host);
    copy(&workspace, &["--skopos-referrers", &signed, &mirrored]).assert_success();
    copy(&workspace, &[&signed, &unsigned_mirror]).assert_success();
    let pull = |from: &str, to: &str| -> Vec<String> {
        [
            "--policy",
            &policy,
            "--registries.d",
            &config,
            "copy",
            "-q",
            "--src-tls-verify=false",
            from,
            &format!("dir:{}", workspace.path(to).display()),
        ]
        .iter()
        .map(|arg| arg.to_string())
        .collect()
    };
    workspace
        .skopos(&as_strs(&pull(&mirrored, "verified")))
        .assert_success();
    let rejected = workspace.skopos(&as_strs(&pull(&unsigned_mirror, "rejected")));
    assert_one_line_failure(&rejected, Some(1));
    assert!(
        rejected.stderr.contains("Source image rejected"),
        "{}",
        rejected.stderr
    );

    if let Some(peer) = common::skopeo_1_22_binary("verifying a mirrored sigstore signature") {
        workspace
            .skopeo_at_with_env(&peer, &[], &as_strs(&pull(&mirrored, "by-skopeo")))
            .assert_success();
    }
}

/// An index as the referrers API answers, listing `referrers` (`(manifest, artifact type)`).
fn api_answer(referrers: &[(&Blob, &str)]) -> FaultAction {
    api_page(referrers, None)
}

/// One page of the referrers API's answer, with a `Link: <next>; rel="next"` header
/// when another page follows (distribution spec, "Listing Referrers").
fn api_page(referrers: &[(&Blob, &str)], next: Option<&str>) -> FaultAction {
    let manifests: Vec<serde_json::Value> = referrers
        .iter()
        .map(|(blob, artifact_type)| {
            serde_json::json!({
                "mediaType": blob.media_type,
                "digest": blob.digest,
                "size": blob.size,
                "artifactType": artifact_type,
            })
        })
        .collect();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    });
    FaultAction::Serve {
        content_type: "application/vnd.oci.image.index.v1+json".to_string(),
        body: serde_json::to_vec(&index).expect("an index"),
        headers: next
            .map(|link| format!("Link: <{link}>; rel=\"next\""))
            .into_iter()
            .collect(),
    }
}

/// A referrers API answer in pages (the proxy plays a registry that pages it): every
/// page's referrers are copied, and a next link back to a page already read stops the
/// copy with one clear line instead of looping.
#[test]
fn referrers_api_pages_are_followed() {
    let workspace = Workspace::new();
    let attached = attached_image(&workspace, "source", 47);
    let registry = TestRegistry::start(RegistryOptions::default());
    let source = format!("oci:{}:v1", workspace.path("source").display());
    copy(
        &workspace,
        &[
            "--skopos-referrers",
            &source,
            &format!("docker://{}/app:v1", registry.host),
        ],
    )
    .assert_success();
    let proxy = RegistryProxy::start(&registry.host)
        .unwrap_or_else(|error| panic!("starting the registry proxy: {error}"));
    let image = &attached.image.manifest;
    let first = format!("/v2/app/referrers/{}", image.digest);
    // A relative link on the first page, an absolute one on the second.
    let second = format!("{first}?last=1");
    let third = format!("http://{}{first}?last=2", proxy.host);
    let page = |target: &str, answer: FaultAction| {
        proxy.add_fault(Fault::new(
            "GET",
            &format!("^{}$", regex_escape(target)),
            answer,
        ));
    };
    page(
        &first,
        api_page(&[(&attached.signature, SIGNATURE)], Some(&second)),
    );
    page(&second, api_page(&[(&attached.sbom, SBOM)], Some(&third)));
    page(
        &format!("{first}?last=2"),
        api_page(&[(&attached.signature, SIGNATURE)], None),
    );
    let paged = format!("oci:{}", workspace.path("paged").display());
    copy(
        &workspace,
        &[
            "--skopos-referrers",
            &format!("docker://{}/app:v1", proxy.host),
            &format!("{paged}:v1"),
        ],
    )
    .assert_success();
    let api_requests: Vec<String> = proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.target.starts_with(&first))
        .map(|e| e.target)
        .collect();
    assert_eq!(
        api_requests,
        [first.clone(), second.clone(), format!("{first}?last=2")],
        "the pages of the image's referrers"
    );
    // Both pages' referrers, the signature (listed twice) once.
    assert_eq!(
        listed_referrers(&workspace, &paged, image),
        set(&[&attached.signature, &attached.sbom])
    );

    // The second page links back to the first.
    proxy.clear_exchanges();
    page(
        &first,
        api_page(&[(&attached.signature, SIGNATURE)], Some(&second)),
    );
    page(&second, api_page(&[(&attached.sbom, SBOM)], Some(&first)));
    let looped = copy(
        &workspace,
        &[
            "--skopos-referrers",
            &format!("docker://{}/app:v1", proxy.host),
            &format!("oci:{}:v1", workspace.path("looped").display()),
        ],
    );
    assert_one_line_failure(&looped, Some(1));
    assert!(
        looped.stderr.contains(&format!(
            "the registry's next-page link http://{}{first} leads back to a page already read",
            proxy.host
        )),
        "{}",
        looped.stderr
    );
}

/// `text` as a regex matching itself.
fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// Where a registry answers the referrers API (the proxy plays that part in front of
/// distribution 2.8), its answer is what is copied, a single artifact-type filter is passed
/// on as `artifactType=`, and a destination with the API gets no tag-schema index.
#[test]
fn the_referrers_api_is_used_where_the_registry_has_it() {
    let workspace = Workspace::new();
    let attached = attached_image(&workspace, "source", 43);
    let registry = TestRegistry::start(RegistryOptions::default());
    let source = format!("oci:{}:v1", workspace.path("source").display());
    copy(
        &workspace,
        &[
            "--skopos-referrers",
            &source,
            &format!("docker://{}/app:v1", registry.host),
        ],
    )
    .assert_success();
    let proxy = RegistryProxy::start(&registry.host)
        .unwrap_or_else(|error| panic!("starting the registry proxy: {error}"));
    let image = &attached.image.manifest;
    let image_api = format!("/v2/app/referrers/{}", image.digest);

    // The API lists only the signature (the tag schema's index lists the SBOM too).
    proxy.add_fault(Fault::new(
        "GET",
        &format!("^{image_api}$"),
        api_answer(&[(&attached.signature, SIGNATURE)]),
    ));
    let from_api = format!("oci:{}", workspace.path("from-api").display());
    copy(
        &workspace,
        &[
            "--skopos-referrers",
            &format!("docker://{}/app:v1", proxy.host),
            &format!("{from_api}:v1"),
        ],
    )
    .assert_success();
    assert_eq!(
        listed_referrers(&workspace, &from_api, image),
        set(&[&attached.signature])
    );

    proxy.clear_exchanges();
    proxy.add_fault(Fault::new(
        "GET",
        &format!("^{image_api}\\?artifactType=application%2Fspdx%2Bjson$"),
        api_answer(&[(&attached.sbom, SBOM)]),
    ));
    let filtered = format!("oci:{}", workspace.path("filtered").display());
    copy(
        &workspace,
        &[
            "--skopos-referrers",
            "--skopos-referrers-filter",
            SBOM,
            &format!("docker://{}/app:v1", proxy.host),
            &format!("{filtered}:v1"),
        ],
    )
    .assert_success();
    assert!(
        proxy.exchanges().iter().any(|e| e.fault.is_some()),
        "the filter was not sent: {:#?}",
        proxy.exchanges()
    );
    assert_eq!(
        listed_referrers(&workspace, &filtered, image),
        set(&[&attached.sbom])
    );

    // A destination with the API indexes pushed referrers itself: no tag-schema index.
    let destination = TestRegistry::start(RegistryOptions::default());
    let destination_proxy = RegistryProxy::start(&destination.host)
        .unwrap_or_else(|error| panic!("starting the registry proxy: {error}"));
    for nth in 1..=4 {
        destination_proxy
            .add_fault(Fault::new("GET", "^/v2/mirror/referrers/", api_answer(&[])).nth(nth));
    }
    copy(
        &workspace,
        &[
            "--skopos-referrers",
            &source,
            &format!("docker://{}/mirror:v1", destination_proxy.host),
        ],
    )
    .assert_success();
    let exchanges = destination_proxy.exchanges();
    assert!(
        exchanges
            .iter()
            .any(|e| e.method == "PUT" && e.target.ends_with(&attached.sbom.digest)),
        "{exchanges:#?}"
    );
    assert!(
        !exchanges.iter().any(|e| e.method == "PUT"
            && e.target
                .contains(&format!("/manifests/sha256-{}", image.hex()))
            && !e.target.contains('.')),
        "{exchanges:#?}"
    );
}
