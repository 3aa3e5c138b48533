//! The trust policy (`--policy`, `--insecure-policy`): copies are refused exactly as skopeo
//! 1.9.3 refuses them, with nothing copied. Every command line here names its policy file,
//! so no test depends on the machine's /etc/containers/policy.json.

mod common;

use common::{assert_one_line_failure, assert_same_tree, skopeo_message, Outcome, Workspace, WHO};
use skopos_testimage::registry::{RegistryOptions, TestRegistry};

/// A policy file with `contents` in the work area; returns its path.
fn policy_file(workspace: &Workspace, name: &str, contents: &str) -> String {
    let path = workspace.path(name);
    std::fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_string()
}

/// Runs `args` (with [`WHO`] replaced by each tool's name) through skopeo, then skopos.
fn run_both(workspace: &Workspace, args: &[&str]) -> (Outcome, Outcome) {
    let for_tool =
        |tool: &str| -> Vec<String> { args.iter().map(|arg| arg.replace(WHO, tool)).collect() };
    let skopeo_args = for_tool("skopeo");
    let skopos_args = for_tool("skopos");
    let skopeo = workspace.skopeo(&as_strs(&skopeo_args));
    let skopos = workspace.skopos(&as_strs(&skopos_args));
    (skopeo, skopos)
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Both tools fail with the same one-line message, `expected`, and exit status 1.
fn assert_same_refusal(skopeo: &Outcome, skopos: &Outcome, expected: &str) {
    assert_one_line_failure(skopeo, Some(1));
    assert_one_line_failure(skopos, Some(1));
    assert_eq!(skopeo_message(&skopeo.stderr), expected, "skopeo's message");
    assert_eq!(skopeo_message(&skopos.stderr), expected, "skopos's message");
}

const REJECT: &str = r#"{"default": [{"type": "reject"}]}"#;
const ACCEPT: &str = r#"{"default": [{"type": "insecureAcceptAnything"}]}"#;

#[test]
fn a_reject_policy_refuses_the_copy_and_copies_nothing() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 61);
    let policy = policy_file(&workspace, "policy.json", REJECT);
    let (skopeo, skopos) = run_both(
        &workspace,
        &[
            "--policy",
            &policy,
            "copy",
            "oci:src:t",
            &format!("oci:{WHO}:t"),
        ],
    );
    // The image is named as written on the command line.
    assert_same_refusal(
        &skopeo,
        &skopos,
        "Source image rejected: Running image oci:src:t is rejected by policy.",
    );
    assert!(
        skopos.stdout.is_empty(),
        "nothing is copied: {}",
        skopos.stdout
    );
    // Only the empty layout skeleton the destination creates when opened, as skopeo leaves.
    assert_same_tree(&workspace.path("skopos"), &workspace.path("skopeo"));
}

#[test]
fn an_accept_anything_policy_copies_like_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 62);
    let policy = policy_file(&workspace, "policy.json", ACCEPT);
    let (skopeo, skopos) = run_both(
        &workspace,
        &[
            "--policy",
            &policy,
            "copy",
            "-q",
            "oci:src:t",
            &format!("oci:{WHO}:t"),
        ],
    );
    skopeo.assert_success();
    skopos.assert_success();
    assert_same_tree(&workspace.path("skopos"), &workspace.path("skopeo"));
}

#[test]
fn a_path_scope_rejects_one_layout_while_the_default_accepts_others() {
    let workspace = Workspace::new();
    workspace.image("blocked", "t", 63);
    workspace.image("allowed", "t", 63);
    let blocked = workspace.path("blocked").canonicalize().unwrap();
    let policy = policy_file(
        &workspace,
        "policy.json",
        &format!(
            r#"{{"default": [{{"type": "insecureAcceptAnything"}}],
                "transports": {{"oci": {{"{}": [{{"type": "reject"}}]}}}}}}"#,
            blocked.display()
        ),
    );
    let (skopeo, skopos) = run_both(
        &workspace,
        &[
            "--policy",
            &policy,
            "copy",
            "-q",
            "oci:blocked:t",
            &format!("oci:{WHO}-1:t"),
        ],
    );
    assert_same_refusal(
        &skopeo,
        &skopos,
        "Source image rejected: Running image oci:blocked:t is rejected by policy.",
    );
    let (skopeo, skopos) = run_both(
        &workspace,
        &[
            "--policy",
            &policy,
            "copy",
            "-q",
            "oci:allowed:t",
            &format!("oci:{WHO}-2:t"),
        ],
    );
    skopeo.assert_success();
    skopos.assert_success();
    assert_same_tree(&workspace.path("skopos-2"), &workspace.path("skopeo-2"));
}

#[test]
fn lists_are_judged_per_copied_instance() {
    let workspace = Workspace::new();
    workspace.multi_arch("src", "t");
    let policy = policy_file(&workspace, "policy.json", REJECT);
    let rejected = "Running image oci:src:t is rejected by policy.";
    let (skopeo, skopos) = run_both(
        &workspace,
        &[
            "--policy",
            &policy,
            "copy",
            "-q",
            "oci:src:t",
            &format!("oci:{WHO}-system:t"),
        ],
    );
    assert_same_refusal(
        &skopeo,
        &skopos,
        &format!("copying system image from manifest list: Source image rejected: {rejected}"),
    );
    let (skopeo, skopos) = run_both(
        &workspace,
        &[
            "--policy",
            &policy,
            "copy",
            "-q",
            "--all",
            "oci:src:t",
            &format!("oci:{WHO}-all:t"),
        ],
    );
    assert_same_refusal(
        &skopeo,
        &skopos,
        &format!("copying image 1/3 from manifest list: Source image rejected: {rejected}"),
    );
    // containers/image asks only about copied images: the list alone passes.
    let (skopeo, skopos) = run_both(
        &workspace,
        &[
            "--policy",
            &policy,
            "copy",
            "-q",
            "--multi-arch",
            "index-only",
            "oci:src:t",
            &format!("oci:{WHO}-index:t"),
        ],
    );
    skopeo.assert_success();
    skopos.assert_success();
}

#[test]
fn a_docker_repository_scope_rejects_only_that_repository() {
    let registry = TestRegistry::start(RegistryOptions::default());
    let workspace = Workspace::new();
    workspace.image("src", "t", 64);
    for repository in ["blocked/app", "open/app"] {
        workspace
            .skopeo(&[
                "--insecure-policy",
                "copy",
                "-q",
                "--dest-tls-verify=false",
                "oci:src:t",
                &format!("docker://{}/{repository}:v1", registry.host),
            ])
            .assert_success();
    }
    let policy = policy_file(
        &workspace,
        "policy.json",
        &format!(
            r#"{{"default": [{{"type": "insecureAcceptAnything"}}],
                "transports": {{"docker": {{"{}/blocked": [{{"type": "reject"}}]}}}}}}"#,
            registry.host
        ),
    );
    let copy = |repository: &str, destination: &str| {
        run_both(
            &workspace,
            &[
                "--policy",
                &policy,
                "copy",
                "-q",
                "--src-tls-verify=false",
                &format!("docker://{}/{repository}:v1", registry.host),
                &format!("oci:{WHO}-{destination}:t"),
            ],
        )
    };
    let (skopeo, skopos) = copy("blocked/app", "blocked");
    assert_same_refusal(
        &skopeo,
        &skopos,
        &format!(
            "Source image rejected: Running image docker://{}/blocked/app:v1 is rejected by policy.",
            registry.host
        ),
    );
    let (skopeo, skopos) = copy("open/app", "open");
    skopeo.assert_success();
    skopos.assert_success();
    assert_same_tree(
        &workspace.path("skopos-open"),
        &workspace.path("skopeo-open"),
    );
}

#[test]
fn a_missing_or_invalid_policy_file_fails_like_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 65);
    let missing = workspace.path("missing.json");
    let (skopeo, skopos) = run_both(
        &workspace,
        &[
            "--policy",
            missing.to_str().unwrap(),
            "copy",
            "oci:src:t",
            &format!("oci:{WHO}:t"),
        ],
    );
    assert_same_refusal(
        &skopeo,
        &skopos,
        &format!(
            "Error loading trust policy: open {}: no such file or directory",
            missing.display()
        ),
    );
    assert!(!workspace.path("skopos").exists(), "nothing is opened");

    for (name, contents, reason) in [
        (
            "unknown-key.json",
            r#"{"default": [{"type": "insecureAcceptAnything"}], "defaults": []}"#,
            r#"Unknown key "defaults""#,
        ),
        (
            "duplicate-key.json",
            r#"{"default": [{"type": "reject"}], "default": [{"type": "insecureAcceptAnything"}]}"#,
            r#"Duplicate key "default""#,
        ),
        (
            "bad-requirement.json",
            r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys"}]}"#,
            "Exactly one of keyPath, keyPaths and keyData must be specified, none of them present",
        ),
    ] {
        let policy = policy_file(&workspace, name, contents);
        let (skopeo, skopos) = run_both(
            &workspace,
            &[
                "--policy",
                &policy,
                "copy",
                "oci:src:t",
                &format!("oci:{WHO}:t"),
            ],
        );
        assert_same_refusal(
            &skopeo,
            &skopos,
            &format!("Error loading trust policy: invalid policy in \"{policy}\": {reason}"),
        );
    }
}

#[test]
fn signed_by_refuses_an_unsigned_image_like_skopeo() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 66);
    let policy = policy_file(
        &workspace,
        "policy.json",
        r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/nonexistent/key.gpg"}]}"#,
    );
    let (skopeo, skopos) = run_both(
        &workspace,
        &[
            "--policy",
            &policy,
            "copy",
            "-q",
            "oci:src:t",
            &format!("oci:{WHO}:t"),
        ],
    );
    assert_same_refusal(
        &skopeo,
        &skopos,
        "Source image rejected: A signature was required, but no signature exists",
    );
}

#[test]
fn inspect_does_not_evaluate_the_policy() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 67);
    let policy = policy_file(&workspace, "policy.json", REJECT);
    let missing = workspace.path("missing.json");
    for policy in [policy.as_str(), missing.to_str().unwrap()] {
        let (skopeo, skopos) = run_both(
            &workspace,
            &["--policy", policy, "inspect", "--raw", "oci:src:t"],
        );
        skopeo.assert_success();
        skopos.assert_success();
        assert_eq!(skopos.stdout_bytes, skopeo.stdout_bytes);
    }
}

#[test]
fn without_policy_flag_the_users_policy_file_wins() {
    let workspace = Workspace::new();
    workspace.image("src", "t", 68);
    // Each tool's $HOME is its own directory in the work area.
    for home in ["home-skopeo", "home-skopos"] {
        let config = workspace.path(home).join(".config/containers");
        common::create_dir(&config);
        std::fs::write(config.join("policy.json"), REJECT).unwrap();
    }
    let (skopeo, skopos) = run_both(&workspace, &["copy", "oci:src:t", &format!("oci:{WHO}:t")]);
    assert_same_refusal(
        &skopeo,
        &skopos,
        "Source image rejected: Running image oci:src:t is rejected by policy.",
    );
}
