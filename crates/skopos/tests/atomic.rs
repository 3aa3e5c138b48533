//! `atomic:HOST/NAMESPACE/STREAM:TAG` through a loopback stand-in for the OpenShift API
//! (skopos_testimage::openshift: no OpenShift server can run here) with a real registry
//! behind it: pushes land in the registry under `NAMESPACE/STREAM:TAG`, reads resolve the tag
//! through the image stream (whose registry host the client replaces with the reference's),
//! signatures travel through the API, and a missing namespace, stream or tag and an
//! unreachable API server fail in skopeo 1.22's words (compared with skopeo 1.22.2 itself
//! when `$SKOPEO_1_22` is set).

mod common;

use std::fs;

use common::{assert_one_line_failure, assert_same_tree, parse_json, skopeo_message, Workspace};
use skopos_testimage::openshift::OpenShiftStandIn;
use skopos_testimage::registry::{RegistryOptions, TestRegistry};

/// A registry, the API stand-in in front of it, and a kubeconfig naming the stand-in.
struct Cluster {
    registry: TestRegistry,
    api: OpenShiftStandIn,
    kubeconfig: String,
}

impl Cluster {
    fn start(workspace: &Workspace) -> Cluster {
        let registry = TestRegistry::start(RegistryOptions::default());
        let api = OpenShiftStandIn::start(&registry.host).expect("starting the API stand-in");
        let kubeconfig =
            write_kubeconfig(workspace, "kubeconfig", &format!("http://{}", api.address));
        Cluster {
            registry,
            api,
            kubeconfig,
        }
    }

    /// `atomic:` for `namespace/stream:tag` on this cluster's registry.
    fn image(&self, namespace_stream_tag: &str) -> String {
        format!("atomic:{}/{namespace_stream_tag}", self.registry.host)
    }

    fn env(&self) -> [(&str, &str); 1] {
        [("KUBECONFIG", self.kubeconfig.as_str())]
    }

    /// `copy SOURCE DESTINATION` with this cluster's kubeconfig and its plain-HTTP registry;
    /// it must succeed.
    fn copy(&self, workspace: &Workspace, source: &str, destination: &str) {
        workspace
            .skopos_with_env(
                &self.env(),
                &[
                    "--insecure-policy",
                    "copy",
                    "-q",
                    "--src-tls-verify=false",
                    "--dest-tls-verify=false",
                    source,
                    destination,
                ],
            )
            .assert_success();
    }
}

/// A kubeconfig whose current context uses the API server at `server`, with a token (which a
/// plain-HTTP server must not be sent).
fn write_kubeconfig(workspace: &Workspace, name: &str, server: &str) -> String {
    let path = workspace.path(name);
    fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\ncontexts:\n- name: test\n  context:\n    cluster: stand-in\n    user: tester\nclusters:\n- name: stand-in\n  cluster:\n    server: {server}\nusers:\n- name: tester\n  user:\n    token: not-for-plain-http\n"
        ),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn push_inspect_and_pull_through_the_image_stream() {
    let workspace = Workspace::new();
    let cluster = Cluster::start(&workspace);
    let image = workspace.image("src", "t", 31);
    let target = cluster.image("project/app:v1");
    cluster.copy(&workspace, "oci:src:t", &target);
    // The image is in the registry under NAMESPACE/STREAM:TAG.
    let in_registry = format!("docker://{}/project/app:v1", cluster.registry.host);
    assert_eq!(
        common::registry_manifest_digest(&workspace, &in_registry),
        image.manifest.digest
    );

    let inspect =
        workspace.skopos_with_env(&cluster.env(), &["inspect", "--tls-verify=false", &target]);
    inspect.assert_success();
    let ours = parse_json(&inspect.stdout_bytes);
    assert_eq!(ours["Digest"], image.manifest.digest.as_str());
    if let Some(theirs) = workspace.skopeo_1_22(
        "comparing inspect of an atomic: image with skopeo 1.22.2",
        &cluster.env(),
        &["inspect", "--tls-verify=false", &target],
    ) {
        theirs.assert_success();
        assert_eq!(ours, parse_json(&theirs.stdout_bytes));
    }

    // Pulling through the stream gives what pulling from the registry gives.
    for (source, out) in [
        (target.as_str(), "via-atomic"),
        (in_registry.as_str(), "via-docker"),
    ] {
        cluster.copy(&workspace, source, &format!("oci:{out}:t"));
    }
    assert_same_tree(&workspace.path("via-atomic"), &workspace.path("via-docker"));

    // The stream was read through the API, without the token (plain HTTP).
    let requests = cluster.api.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.method == "GET" && r.path == "/oapi/v1/namespaces/project/imagestreams/app"),
        "{requests:?}"
    );
    assert!(
        requests.iter().all(|r| r.authorization.is_none()),
        "{requests:?}"
    );
}

#[test]
fn signatures_go_to_and_come_from_the_api() {
    let workspace = Workspace::new();
    let cluster = Cluster::start(&workspace);
    let image = workspace.image("src", "t", 32);
    // A dir: image carrying a signature (its bytes are not checked under --insecure-policy).
    workspace
        .skopos(&["--insecure-policy", "copy", "-q", "oci:src:t", "dir:signed"])
        .assert_success();
    // Bytes that start as an OpenPGP message does (a compressed data packet), as a simple
    // signature must.
    let signature = b"\xa3pretend this is a simple signing signature".to_vec();
    fs::write(workspace.path("signed/signature-1"), &signature).unwrap();
    let target = cluster.image("project/signed:v1");
    cluster.copy(&workspace, "dir:signed", &target);
    assert_eq!(
        cluster.api.signatures(&image.manifest.digest),
        vec![signature.clone()]
    );
    // Copying again adds no second copy of the same signature.
    cluster.copy(&workspace, "dir:signed", &target);
    assert_eq!(cluster.api.signatures(&image.manifest.digest).len(), 1);

    cluster.copy(&workspace, &target, "dir:back");
    assert_eq!(
        fs::read(workspace.path("back/signature-1")).unwrap(),
        signature
    );
}

#[test]
fn missing_streams_tags_and_servers_fail_in_skopeos_words() {
    let workspace = Workspace::new();
    let cluster = Cluster::start(&workspace);
    workspace.image("src", "t", 33);
    cluster.copy(&workspace, "oci:src:t", &cluster.image("project/app:v1"));
    let unreachable = write_kubeconfig(&workspace, "unreachable", "http://127.0.0.1:1");
    let cases = [
        (
            cluster.image("nobody/app:v1"),
            cluster.kubeconfig.as_str(),
            "imagestreams.image.openshift.io \"app\" is forbidden: User \"system:anonymous\" cannot get resource \"imagestreams\" in API group \"image.openshift.io\" in the namespace \"nobody\"".to_string(),
        ),
        (
            cluster.image("project/missing:v1"),
            cluster.kubeconfig.as_str(),
            "imagestreams.image.openshift.io \"missing\" not found".to_string(),
        ),
        (
            cluster.image("project/app:v2"),
            cluster.kubeconfig.as_str(),
            "No matching tag found".to_string(),
        ),
        (
            cluster.image("project/app:v1"),
            unreachable.as_str(),
            "Get \"http://127.0.0.1:1/oapi/v1/namespaces/project/imagestreams/app\": dial tcp 127.0.0.1:1: connect: connection refused".to_string(),
        ),
    ];
    for (image, kubeconfig, why) in cases {
        let env = [("KUBECONFIG", kubeconfig)];
        let args = ["inspect", "--tls-verify=false", image.as_str()];
        let ours = workspace.skopos_with_env(&env, &args);
        assert_one_line_failure(&ours, Some(1));
        assert_eq!(
            skopeo_message(&ours.stderr),
            format!("Error retrieving manifest for image: {why}")
        );
        if let Some(theirs) = workspace.skopeo_1_22(
            &format!("comparing the error for {image} with skopeo 1.22.2"),
            &env,
            &args,
        ) {
            assert_eq!(skopeo_message(&ours.stderr), skopeo_message(&theirs.stderr));
        }
    }
    let delete = workspace.skopos_with_env(
        &cluster.env(),
        &["delete", &cluster.image("project/app:v1")],
    );
    assert_one_line_failure(&delete, Some(1));
    assert_eq!(
        skopeo_message(&delete.stderr),
        "Deleting images not implemented for atomic: images"
    );
}

#[test]
fn references_are_checked_as_skopeo_checks_them() {
    let workspace = Workspace::new();
    for (reference, message) in [
        (
            "atomic:foo/bar",
            "Error parsing image name \"atomic:foo/bar\": invalid image reference foo/bar, expected format: 'hostname/namespace/stream:tag'",
        ),
        (
            "atomic:a/b/c:t",
            "Error parsing image name \"atomic:a/b/c:t\": invalid image reference: a/b/c:t, expected format: 'hostname/namespace/stream:tag'",
        ),
    ] {
        let outcome = workspace.skopos(&["inspect", reference]);
        assert_one_line_failure(&outcome, Some(1));
        assert_eq!(skopeo_message(&outcome.stderr), message);
    }
}
