//! Registry authentication through the CLI: a registry in `auth: token` mode (tokens from
//! `skopos_testimage::token`) used by `inspect`, `copy`, `list-tags`, `delete`, `login` and
//! `logout`, with the auth file skopos writes read back by skopeo; and `login`'s
//! `--get-login`, `--password-stdin`, `-v` and existing-credentials behaviour against an
//! htpasswd registry, compared with skopeo. No output may ever show a password.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::{assert_one_line_failure, assert_same_tree, parse_json, skopeo_message, Outcome};
use common::{Workspace, WHO};
use skopos_testimage::registry::{RegistryOptions, TestRegistry};
use skopos_testimage::token::{TokenServer, ISSUER, SERVICE};

const USER: &str = "alice";
/// Distinctive, so a leak into any output is found by a plain substring search.
const PASSWORD: &str = "Pw-9f3kq-secret";
const WRONG_PASSWORD: &str = "Wrong-7xv2-secret";

/// A plain-HTTP registry with deletes enabled whose tokens come from `tokens`.
fn token_registry(tokens: &TokenServer) -> TestRegistry {
    TestRegistry::start(RegistryOptions {
        delete_enabled: true,
        token_auth: Some((&tokens.realm, SERVICE, ISSUER, &tokens.issuer.cert_pem)),
        ..RegistryOptions::default()
    })
}

/// Fails the test when `outcome` shows either test password anywhere.
fn assert_no_secret(outcome: &Outcome) {
    for secret in [PASSWORD, WRONG_PASSWORD] {
        assert!(
            !outcome.stdout.contains(secret) && !outcome.stderr.contains(secret),
            "`{}` printed a password:\nstdout: {}\nstderr: {}",
            outcome.command,
            outcome.stdout,
            outcome.stderr
        );
    }
}

/// Runs `tool` (skopos or skopeo) in `workspace` and checks that no password was printed.
fn run(workspace: &Workspace, tool: &str, args: &[&str]) -> Outcome {
    let outcome = if tool == "skopos" {
        workspace.skopos(args)
    } else {
        workspace.skopeo(args)
    };
    assert_no_secret(&outcome);
    outcome
}

/// Runs skopos with `stdin` fed to it, in the same private environment as
/// [`Workspace::skopos`].
fn skopos_with_stdin(workspace: &Workspace, args: &[&str], stdin: &str) -> Outcome {
    let home = workspace.path("home-skopos");
    let mut child = Command::new(env!("CARGO_BIN_EXE_skopos"))
        .args(args)
        .current_dir(workspace.path(""))
        .env("HOME", &home)
        // The blob-info cache in the temp dir, not in /var/lib/containers (see common).
        .env("_CONTAINERS_ROOTLESS_UID", "1000")
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("DOCKER_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("starting skopos: {error}"));
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.as_bytes())
            .unwrap_or_else(|error| panic!("writing skopos's stdin: {error}"));
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|error| panic!("waiting for skopos: {error}"));
    let outcome = Outcome {
        command: format!("skopos {}", args.join(" ")),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout_bytes: output.stdout,
    };
    assert_no_secret(&outcome);
    outcome
}

#[test]
fn token_registry_with_explicit_credentials_push_inspect_list_pull_delete() {
    let tokens = TokenServer::start(USER, PASSWORD);
    let registry = token_registry(&tokens);
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 31);
    let target = format!("docker://{}/team/app:v1", registry.host);
    let creds = format!("{USER}:{PASSWORD}");
    let wrong = format!("{USER}:{WRONG_PASSWORD}");

    // Anonymous clients get a token without access: the push is refused.
    let anonymous_push = run(
        &workspace,
        "skopos",
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "oci:src:t",
            &target,
        ],
    );
    assert_eq!(anonymous_push.code, Some(1), "{}", anonymous_push.stderr);

    run(
        &workspace,
        "skopos",
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--dest-creds",
            &creds,
            "oci:src:t",
            &target,
        ],
    )
    .assert_success();

    // inspect: with credentials like skopeo; anonymously and with a wrong password refused
    // like skopeo (exit 1, one line, the same message).
    for tool in ["skopos", "skopeo"] {
        let inspect = run(
            &workspace,
            tool,
            &["inspect", "--tls-verify=false", "--creds", &creds, &target],
        );
        inspect.assert_success();
        assert_eq!(
            parse_json(&inspect.stdout_bytes)["Digest"],
            image.manifest.digest.as_str()
        );
    }
    let wrong_password = ["inspect", "--tls-verify=false", "--creds", &wrong, &target];
    let skopeo = run(&workspace, "skopeo", &wrong_password);
    let skopos = run(&workspace, "skopos", &wrong_password);
    assert_one_line_failure(&skopos, skopeo.code);
    // skopeo 1.9.3 does not put "reading manifest v1 in <repo>: " before a token failure;
    // skopos does: compare the ends.
    let refusal =
        "unable to retrieve auth token: invalid username/password: unauthorized: invalid login";
    for message in [
        skopeo_message(&skopos.stderr),
        skopeo_message(&skopeo.stderr),
    ] {
        assert!(
            message.starts_with(&format!("Error parsing image name \"{target}\": "))
                && message.ends_with(refusal),
            "{message}"
        );
    }
    // The registry refuses an anonymous token with `error="insufficient_scope"` in its
    // challenge and errors in its body; skopeo 1.9.3 lists the body's after "errors:", each
    // as "unauthorized: authentication required"; skopeo 1.22 shows the challenge's
    // (DENIED) alone, without the code its default message repeats.
    let anonymous = ["inspect", "--tls-verify=false", &target];
    let skopeo = run(&workspace, "skopeo", &anonymous);
    let skopos = run(&workspace, "skopos", &anonymous);
    assert_one_line_failure(&skopos, skopeo.code);
    let expected_start = format!(
        "Error parsing image name \"{target}\": reading manifest v1 in {}/team/app: ",
        registry.host
    );
    let message = skopeo_message(&skopos.stderr);
    assert_eq!(
        message,
        format!("{expected_start}requested access to the resource is denied"),
        "{message}"
    );
    let message = skopeo_message(&skopeo.stderr);
    assert!(
        message.starts_with(&expected_start)
            && message.contains("unauthorized: authentication required"),
        "{message}"
    );
    let mut newest_args = vec!["--insecure-policy"];
    newest_args.extend(anonymous);
    if let Some(newest) = workspace.skopeo_1_22(
        "registry_auth: an anonymous token refusal compared with skopeo 1.22.2",
        &[],
        &newest_args,
    ) {
        assert_eq!(
            skopeo_message(&skopos.stderr),
            skopeo_message(&newest.stderr)
        );
    }

    let list = run(
        &workspace,
        "skopos",
        &[
            "list-tags",
            "--tls-verify=false",
            "--creds",
            &creds,
            &format!("docker://{}/team/app", registry.host),
        ],
    );
    list.assert_success();
    assert_eq!(
        parse_json(&list.stdout_bytes)["Tags"],
        serde_json::json!(["v1"])
    );

    run(
        &workspace,
        "skopos",
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "--src-tls-verify=false",
            "--src-creds",
            &creds,
            &target,
            "oci:back:t",
        ],
    )
    .assert_success();
    assert_same_tree(&workspace.path("back/blobs"), &workspace.path("src/blobs"));

    // delete asks for the `*` action on the repository.
    run(
        &workspace,
        "skopos",
        &["delete", "--tls-verify=false", "--creds", &creds, &target],
    )
    .assert_success();
    let gone = run(
        &workspace,
        "skopos",
        &["inspect", "--tls-verify=false", "--creds", &creds, &target],
    );
    assert_one_line_failure(&gone, Some(2));
}

#[test]
fn token_registry_with_stored_credentials_from_login_also_used_by_skopeo() {
    let tokens = TokenServer::start(USER, PASSWORD);
    let registry = token_registry(&tokens);
    let workspace = Workspace::new();
    let image = workspace.image("src", "t", 32);
    let host = registry.host.as_str();
    let target = format!("docker://{host}/team/app:v1");
    let authfile = workspace.path("auth.json");
    let authfile = authfile.to_str().unwrap_or_default();

    let refused = run(
        &workspace,
        "skopos",
        &[
            "login",
            "--tls-verify=false",
            "--authfile",
            authfile,
            "-u",
            USER,
            "-p",
            WRONG_PASSWORD,
            host,
        ],
    );
    assert_one_line_failure(&refused, Some(1));
    assert_eq!(
        skopeo_message(&refused.stderr),
        format!("logging into \"{host}\": invalid username/password")
    );
    let login = run(
        &workspace,
        "skopos",
        &[
            "login",
            "--tls-verify=false",
            "--authfile",
            authfile,
            "-u",
            USER,
            "-p",
            PASSWORD,
            host,
        ],
    );
    login.assert_success();
    assert_eq!(login.stdout, "Login Succeeded!\n");

    // Only the stored credentials from here on.
    run(
        &workspace,
        "skopos",
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--authfile",
            authfile,
            "oci:src:t",
            &target,
        ],
    )
    .assert_success();
    let inspect = run(
        &workspace,
        "skopos",
        &[
            "inspect",
            "--tls-verify=false",
            "--authfile",
            authfile,
            &target,
        ],
    );
    inspect.assert_success();
    assert_eq!(
        parse_json(&inspect.stdout_bytes)["Digest"],
        image.manifest.digest.as_str()
    );
    run(
        &workspace,
        "skopos",
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "--src-tls-verify=false",
            "--authfile",
            authfile,
            &target,
            "oci:back:t",
        ],
    )
    .assert_success();
    assert_same_tree(&workspace.path("back/blobs"), &workspace.path("src/blobs"));

    // skopeo reads the auth file skopos wrote and prints the same.
    let repository = format!("docker://{host}/team/app");
    for arguments in [
        vec![
            "inspect",
            "--tls-verify=false",
            "--authfile",
            authfile,
            &target,
        ],
        vec![
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--authfile",
            authfile,
            &target,
        ],
        vec![
            "list-tags",
            "--tls-verify=false",
            "--authfile",
            authfile,
            &repository,
        ],
    ] {
        let skopeo = run(&workspace, "skopeo", &arguments);
        let skopos = run(&workspace, "skopos", &arguments);
        skopeo.assert_success();
        skopos.assert_success();
        if arguments[1] == "--raw" || arguments[0] == "list-tags" {
            assert_eq!(skopos.stdout, skopeo.stdout, "`{}`", skopos.command);
        } else {
            assert_eq!(
                common::without_layers_data(&skopos.stdout),
                skopeo.stdout,
                "`{}`",
                skopos.command
            );
        }
    }

    let logout = run(
        &workspace,
        "skopos",
        &["logout", "--authfile", authfile, host],
    );
    logout.assert_success();
    assert_eq!(
        logout.stdout,
        format!("Removed login credentials for {host}\n")
    );
    let anonymous = run(
        &workspace,
        "skopos",
        &[
            "inspect",
            "--tls-verify=false",
            "--authfile",
            authfile,
            &target,
        ],
    );
    assert_one_line_failure(&anonymous, Some(1));
}

/// The htpasswd registry's user and password.
const HT_USER: &str = "bob";
const HT_PASSWORD: &str = "Pw-9f3kq-secret";

#[test]
fn login_get_login_verbose_password_stdin_and_existing_credentials_match_skopeo() {
    let registry = TestRegistry::start(RegistryOptions {
        htpasswd_user: Some((HT_USER, HT_PASSWORD)),
        ..RegistryOptions::default()
    });
    let workspace = Workspace::new();
    let host = registry.host.as_str();
    let file = |tool: &str| {
        workspace
            .path(&format!("{tool}-auth.json"))
            .to_string_lossy()
            .into_owned()
    };
    let authfile = format!("{WHO}-auth.json");
    let both = |arguments: &[&str]| {
        let for_tool = |tool: &str| -> Vec<String> {
            arguments
                .iter()
                .map(|argument| argument.replace(&authfile, &file(tool)))
                .collect()
        };
        let skopeo_args = for_tool("skopeo");
        let skopos_args = for_tool("skopos");
        let skopeo_args: Vec<&str> = skopeo_args.iter().map(String::as_str).collect();
        let skopos_args: Vec<&str> = skopos_args.iter().map(String::as_str).collect();
        let skopeo = run(&workspace, "skopeo", &skopeo_args);
        let skopos = run(&workspace, "skopos", &skopos_args);
        (skopos, skopeo)
    };

    // Not logged in yet.
    let (skopos, skopeo) = both(&["login", "--get-login", "--authfile", &authfile, host]);
    assert_one_line_failure(&skopos, skopeo.code);
    assert_eq!(
        skopeo_message(&skopos.stderr),
        format!("not logged into {host}")
    );
    assert_eq!(
        skopeo_message(&skopeo.stderr),
        format!("not logged into {host}")
    );

    // -v names the file written, with skopeo's two spaces.
    let (skopos, skopeo) = both(&[
        "login",
        "-v",
        "--tls-verify=false",
        "--authfile",
        &authfile,
        "-u",
        HT_USER,
        "-p",
        HT_PASSWORD,
        host,
    ]);
    skopeo.assert_success();
    skopos.assert_success();
    assert_eq!(
        skopos.stdout,
        format!("Used:  {}\nLogin Succeeded!\n", file("skopos"))
    );
    assert_eq!(
        skopeo.stdout,
        format!("Used:  {}\nLogin Succeeded!\n", file("skopeo"))
    );

    let (skopos, skopeo) = both(&["login", "--get-login", "--authfile", &authfile, host]);
    assert_eq!(skopos.stdout, format!("{HT_USER}\n"));
    assert_eq!(skopos.stdout, skopeo.stdout);

    // No -u/-p and valid stored credentials: checked, nothing written, no prompt.
    let before = common::read(std::path::Path::new(&file("skopos")));
    let (skopos, skopeo) = both(&[
        "login",
        "-v",
        "--tls-verify=false",
        "--authfile",
        &authfile,
        host,
    ]);
    skopeo.assert_success();
    skopos.assert_success();
    assert_eq!(
        skopos.stdout,
        format!(
            "Authenticating with existing credentials for {host}\n\
             Existing credentials are valid. Already logged in to {host}\n"
        )
    );
    assert_eq!(skopos.stdout, skopeo.stdout);
    assert_eq!(common::read(std::path::Path::new(&file("skopos"))), before);

    // Stored credentials the registry refuses: skopeo says so and prompts for a username,
    // which fails at the end of stdin.
    for tool in ["skopos", "skopeo"] {
        let stale = format!(
            r#"{{"auths":{{"{host}":{{"auth":"{}"}}}}}}"#,
            base64_of(&format!("{HT_USER}:{WRONG_PASSWORD}"))
        );
        std::fs::write(file(tool), stale)
            .unwrap_or_else(|error| panic!("writing a stale auth file: {error}"));
    }
    let (skopos, skopeo) = both(&["login", "--tls-verify=false", "--authfile", &authfile, host]);
    assert_one_line_failure(&skopos, skopeo.code);
    assert_eq!(skopos.stdout, skopeo.stdout);
    assert_eq!(
        skopos.stdout,
        format!(
            "Authenticating with existing credentials for {host}\n\
             Existing credentials are invalid, please enter valid username and password\n\
             Username ({HT_USER}): "
        )
    );
    assert_eq!(
        skopeo_message(&skopos.stderr),
        skopeo_message(&skopeo.stderr)
    );

    // --password-stdin: the password comes from stdin, all of it.
    let stdin_file = workspace.path("stdin-auth.json");
    let stdin_file = stdin_file.to_str().unwrap_or_default();
    let login = skopos_with_stdin(
        &workspace,
        &[
            "login",
            "--tls-verify=false",
            "--authfile",
            stdin_file,
            "-u",
            HT_USER,
            "--password-stdin",
            host,
        ],
        &format!("{HT_PASSWORD}\n"),
    );
    login.assert_success();
    assert_eq!(login.stdout, "Login Succeeded!\n");
    let stored = parse_json(&common::read(std::path::Path::new(stdin_file)));
    assert_eq!(
        stored["auths"][host]["auth"],
        base64_of(&format!("{HT_USER}:{HT_PASSWORD}")).as_str()
    );
    let refused = skopos_with_stdin(
        &workspace,
        &[
            "login",
            "--tls-verify=false",
            "--authfile",
            stdin_file,
            "-u",
            HT_USER,
            "--password-stdin",
            host,
        ],
        &format!("{WRONG_PASSWORD}\n"),
    );
    assert_one_line_failure(&refused, Some(1));
}

/// Standard base64 of `text`, as auth files store `user:password`.
fn base64_of(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let bits = chunk.iter().enumerate().fold(0u32, |bits, (index, byte)| {
            bits | u32::from(*byte) << (16 - 8 * index)
        });
        for position in 0..4 {
            if position <= chunk.len() {
                encoded.push(char::from(
                    ALPHABET[(bits >> (18 - 6 * position) & 63) as usize],
                ));
            } else {
                encoded.push('=');
            }
        }
    }
    encoded
}
