use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{json, Value};

use super::*;
use skopos_core::{Credentials, Secret};

/// A sandbox: a home directory, an existing `$XDG_RUNTIME_DIR` and a `bin/` for helpers,
/// all inside one temporary directory.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        Sandbox { dir }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn env(&self) -> Environment {
        Environment {
            home: Some(self.path("home")),
            xdg_runtime_dir: Some(self.path("run")),
            // The helper scripts need the usual tools next to their own directory.
            path: Some(
                std::env::join_paths([self.path("bin"), "/usr/bin".into(), "/bin".into()]).unwrap(),
            ),
            uid: 4242,
            ..Environment::default()
        }
    }

    fn files(&self) -> AuthFiles {
        AuthFiles {
            env: self.env(),
            ..AuthFiles::default()
        }
    }

    fn write(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn write_json(&self, relative: &str, value: Value) -> PathBuf {
        self.write(relative, &value.to_string())
    }

    /// Installs `bin/docker-credential-test`: `get` answers for `known.example` and
    /// `https://index.docker.io/v1/`, `store` saves its input, `erase` appends the server to
    /// `bin/erased`, `list` names `known.example`.
    fn install_test_helper(&self) {
        let script = r#"#!/bin/sh
dir=$(dirname "$0")
case "$1" in
get)
    read -r server || true
    case "$server" in
    known.example) echo '{"ServerURL":"known.example","Username":"helper-user","Secret":"helper-pass"}' ;;
    token.example) echo '{"ServerURL":"token.example","Username":"<token>","Secret":"refresh"}' ;;
    https://index.docker.io/v1/) echo '{"ServerURL":"x","Username":"hub-user","Secret":"hub-pass"}' ;;
    broken.example) echo 'helper exploded'; exit 3 ;;
    *) echo 'credentials not found in native keychain'; exit 1 ;;
    esac ;;
store) cat > "$dir/stored.json" ;;
erase)
    read -r server || true
    case "$server" in
    known.example|other.example) echo "$server" >> "$dir/erased" ;;
    *) echo 'credentials not found in native keychain'; exit 1 ;;
    esac ;;
list) echo '{"known.example":"helper-user","other.example":"u"}' ;;
esac
"#;
        let path = self.write("bin/docker-credential-test", script);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn basic_auth(username: &str, password: &str) -> Value {
    json!({ "auth": base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}")) })
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn read_paths_follow_skopeo_order() {
    let sandbox = Sandbox::new();
    let paths = sandbox.files().read_paths().unwrap();
    let expected = vec![
        AuthFilePath::new(sandbox.path("run/containers/auth.json")),
        AuthFilePath::new(sandbox.path("home/.config/containers/auth.json")),
        AuthFilePath::new(sandbox.path("home/.docker/config.json")),
        AuthFilePath {
            path: sandbox.path("home/.dockercfg"),
            legacy_format: true,
        },
    ];
    assert_eq!(paths, expected);
}

#[test]
fn xdg_config_home_and_docker_config_replace_their_defaults() {
    let sandbox = Sandbox::new();
    let mut files = sandbox.files();
    files.env.xdg_config_home = Some(sandbox.path("xdg"));
    files.env.docker_config = Some(sandbox.path("dockercfg-dir"));
    let paths: Vec<PathBuf> = files
        .read_paths()
        .unwrap()
        .into_iter()
        .map(|p| p.path)
        .collect();
    assert_eq!(
        paths,
        vec![
            sandbox.path("run/containers/auth.json"),
            sandbox.path("xdg/containers/auth.json"),
            sandbox.path("dockercfg-dir/config.json"),
            sandbox.path("home/.dockercfg"),
        ]
    );
}

#[test]
fn explicit_auth_file_comes_first_and_defaults_still_follow() {
    let sandbox = Sandbox::new();
    let mut env = sandbox.env();
    env.registry_auth_file = Some(sandbox.path("from-env.json"));
    let from_env = AuthFiles::for_image_access(env.clone(), None, vec![]);
    assert_eq!(
        from_env.read_paths().unwrap()[0].path,
        sandbox.path("from-env.json")
    );
    let from_flag = AuthFiles::for_image_access(env, Some(sandbox.path("flag.json")), vec![]);
    let paths = from_flag.read_paths().unwrap();
    assert_eq!(paths[0].path, sandbox.path("flag.json"));
    // skopeo 1.9.3 still searches the default files after an explicit one.
    assert_eq!(
        paths[1].path,
        sandbox.path("home/.config/containers/auth.json")
    );
}

#[test]
fn login_defaults_to_docker_config_after_registry_auth_file() {
    let sandbox = Sandbox::new();
    let mut env = sandbox.env();
    env.docker_config = Some(sandbox.path("dc"));
    let files = AuthFiles::for_login(env.clone(), None, None, vec![]);
    assert_eq!(files.auth_file, Some(sandbox.path("dc/config.json")));
    env.registry_auth_file = Some(sandbox.path("raf.json"));
    let files = AuthFiles::for_login(env.clone(), None, None, vec![]);
    assert_eq!(files.auth_file, Some(sandbox.path("raf.json")));
    let files = AuthFiles::for_login(env, None, Some(sandbox.path("compat.json")), vec![]);
    assert_eq!(files.auth_file, None);
    assert_eq!(
        files.primary_path().unwrap().path,
        sandbox.path("compat.json")
    );
}

#[test]
fn without_runtime_dir_the_primary_file_is_per_uid() {
    let sandbox = Sandbox::new();
    let mut files = sandbox.files();
    files.env.xdg_runtime_dir = None;
    assert_eq!(
        files.primary_path().unwrap().path,
        PathBuf::from("/run/containers/4242/auth.json")
    );
}

#[test]
fn missing_runtime_dir_is_an_error_for_writes_and_skipped_for_reads() {
    let sandbox = Sandbox::new();
    let mut files = sandbox.files();
    let missing = sandbox.path("no-such-run");
    files.env.xdg_runtime_dir = Some(missing.clone());
    let err = files.primary_path().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "\"{0}\" directory set by $XDG_RUNTIME_DIR does not exist. Either create the directory or unset $XDG_RUNTIME_DIR.: stat {0}: no such file or directory",
            missing.display()
        )
    );
    let paths = files.read_paths().unwrap();
    assert_eq!(
        paths[0].path,
        sandbox.path("home/.config/containers/auth.json")
    );
    assert!(set_credentials(&files, "example.com", "u", "p").is_err());
}

#[test]
fn earlier_files_win() {
    let sandbox = Sandbox::new();
    sandbox.write_json(
        "home/.docker/config.json",
        json!({"auths": {"example.com": basic_auth("docker", "d")}}),
    );
    sandbox.write_json(
        "home/.config/containers/auth.json",
        json!({"auths": {"example.com": basic_auth("config", "c")}}),
    );
    let files = sandbox.files();
    assert_eq!(
        get_credentials(&files, "example.com").unwrap(),
        Credentials::basic("config", "c")
    );
    sandbox.write_json(
        "run/containers/auth.json",
        json!({"auths": {"example.com": basic_auth("runtime", "r")}}),
    );
    assert_eq!(
        get_credentials(&files, "example.com").unwrap(),
        Credentials::basic("runtime", "r")
    );
    assert_eq!(
        get_credentials(&files, "other.com").unwrap(),
        Credentials::Anonymous
    );
}

#[test]
fn docker_config_and_legacy_dockercfg_are_read() {
    let sandbox = Sandbox::new();
    sandbox.write_json(
        "home/.dockercfg",
        json!({"https://legacy.example/v1/": basic_auth("legacy", "l")}),
    );
    let files = sandbox.files();
    assert_eq!(
        get_credentials(&files, "legacy.example/ns/repo").unwrap(),
        Credentials::basic("legacy", "l")
    );
    let mut files = sandbox.files();
    files.env.docker_config = Some(sandbox.path("dc"));
    sandbox.write_json(
        "dc/config.json",
        json!({"auths": {"legacy.example": basic_auth("dc", "d")}}),
    );
    assert_eq!(
        get_credentials(&files, "legacy.example").unwrap(),
        Credentials::basic("dc", "d")
    );
}

#[test]
fn most_specific_key_wins_within_a_file() {
    let sandbox = Sandbox::new();
    sandbox.write_json(
        "run/containers/auth.json",
        json!({"auths": {
            "example.com": basic_auth("host", "h"),
            "example.com/ns": basic_auth("ns", "n"),
            "example.com/ns/repo": basic_auth("repo", "r"),
        }}),
    );
    let files = sandbox.files();
    assert_eq!(
        get_credentials(&files, "example.com/ns/repo").unwrap(),
        Credentials::basic("repo", "r")
    );
    assert_eq!(
        get_credentials(&files, "example.com/ns/other").unwrap(),
        Credentials::basic("ns", "n")
    );
    assert_eq!(
        get_credentials(&files, "example.com/elsewhere/x").unwrap(),
        Credentials::basic("host", "h")
    );
    assert_eq!(
        get_credentials(&files, "example.com").unwrap(),
        Credentials::basic("host", "h")
    );
    // Keys only match whole path components.
    assert_eq!(
        get_credentials(&files, "example.com/nsx/repo").unwrap(),
        Credentials::basic("host", "h")
    );
}

#[test]
fn url_and_docker_hub_keys_are_normalized() {
    let sandbox = Sandbox::new();
    sandbox.write_json(
        "run/containers/auth.json",
        json!({"auths": {
            "https://index.docker.io/v1/": basic_auth("hub", "h"),
            "http://plain.example": basic_auth("plain", "p"),
            "https://secure.example:5000/v2/": basic_auth("secure", "s"),
        }}),
    );
    let files = sandbox.files();
    assert_eq!(
        get_credentials(&files, "docker.io/library/busybox").unwrap(),
        Credentials::basic("hub", "h")
    );
    assert_eq!(
        get_credentials(&files, "plain.example").unwrap(),
        Credentials::basic("plain", "p")
    );
    assert_eq!(
        get_credentials(&files, "secure.example:5000/a/b").unwrap(),
        Credentials::basic("secure", "s")
    );
    // A path without a scheme is a namespaced key, not a URL.
    sandbox.write_json(
        "run/containers/auth.json",
        json!({"auths": {"registry-1.docker.io": basic_auth("r1", "x"), "bare.example/ns": basic_auth("ns", "n")}}),
    );
    assert_eq!(
        get_credentials(&files, "docker.io").unwrap(),
        Credentials::basic("r1", "x")
    );
    assert_eq!(
        get_credentials(&files, "bare.example").unwrap(),
        Credentials::Anonymous
    );
}

#[test]
fn empty_and_incomplete_entries_fall_through_to_later_files() {
    let sandbox = Sandbox::new();
    sandbox.write_json(
        "run/containers/auth.json",
        json!({"auths": {"example.com": {}, "nopass.example": basic_auth("user", "")}}),
    );
    sandbox.write_json(
        "home/.config/containers/auth.json",
        json!({"auths": {"example.com": basic_auth("later", "l"), "nopass.example": basic_auth("later", "l")}}),
    );
    let files = sandbox.files();
    assert_eq!(
        get_credentials(&files, "example.com").unwrap(),
        Credentials::basic("later", "l")
    );
    assert_eq!(
        get_credentials(&files, "nopass.example").unwrap(),
        Credentials::basic("later", "l")
    );
}

#[test]
fn identity_tokens_and_trailing_nuls() {
    let sandbox = Sandbox::new();
    sandbox.write_json(
        "run/containers/auth.json",
        json!({"auths": {
            "token.example": {"auth": base64::engine::general_purpose::STANDARD.encode("tokenuser:"), "identitytoken": "refresh-me"},
            "nul.example": {"auth": base64::engine::general_purpose::STANDARD.encode("u:p\0\0")},
        }}),
    );
    let files = sandbox.files();
    assert_eq!(
        get_credentials(&files, "token.example").unwrap(),
        Credentials::IdentityToken {
            username: Some("tokenuser".to_string()),
            token: Secret::new("refresh-me")
        }
    );
    assert_eq!(
        get_credentials(&files, "nul.example").unwrap(),
        Credentials::basic("u", "p")
    );
}

#[test]
fn cred_helpers_entry_runs_the_helper_before_auths() {
    let sandbox = Sandbox::new();
    sandbox.install_test_helper();
    sandbox.write_json(
        "run/containers/auth.json",
        json!({
            "auths": {"known.example": basic_auth("file", "f")},
            "credHelpers": {"known.example": "test", "token.example": "test", "absent.example": "test", "missing.example": "nonexistent"}
        }),
    );
    sandbox.write_json(
        "home/.config/containers/auth.json",
        json!({"auths": {"absent.example": basic_auth("fallback", "f")}}),
    );
    let files = sandbox.files();
    assert_eq!(
        get_credentials(&files, "known.example/ns/repo").unwrap(),
        Credentials::basic("helper-user", "helper-pass")
    );
    assert_eq!(
        get_credentials(&files, "token.example").unwrap(),
        Credentials::IdentityToken {
            username: None,
            token: Secret::new("refresh")
        }
    );
    // "credentials not found" from the helper means: look further.
    assert_eq!(
        get_credentials(&files, "absent.example").unwrap(),
        Credentials::basic("fallback", "f")
    );
    let err = get_credentials(&files, "missing.example").unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 error occurred:\n\t* error getting credentials - err: exec: \"docker-credential-nonexistent\": executable file not found in $PATH, out: ``\n\n"
    );
}

#[test]
fn failing_helper_reports_status_and_output() {
    let sandbox = Sandbox::new();
    sandbox.install_test_helper();
    sandbox.write_json(
        "run/containers/auth.json",
        json!({"credHelpers": {"broken.example": "test"}}),
    );
    let err = get_credentials(&sandbox.files(), "broken.example").unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 error occurred:\n\t* error getting credentials - err: exit status 3, out: `helper exploded`\n\n"
    );
}

#[test]
fn helper_is_looked_up_only_on_the_given_path() {
    let sandbox = Sandbox::new();
    sandbox.install_test_helper();
    let outcome = run_credential_helper("test", HelperAction::Get, b"known.example", None);
    assert!(outcome.is_err());
    let bin = sandbox.path("bin").into_os_string();
    let outcome =
        run_credential_helper("test", HelperAction::Get, b"known.example", Some(&bin)).unwrap();
    assert!(matches!(outcome, HelperOutcome::Success(out) if out.starts_with(b"{\"ServerURL\"")));
    let outcome =
        run_credential_helper("test", HelperAction::Get, b"nothing.example", Some(&bin)).unwrap();
    assert_eq!(outcome, HelperOutcome::CredentialsNotFound);
}

#[test]
fn creds_store_is_used_when_the_file_has_nothing_usable() {
    let sandbox = Sandbox::new();
    sandbox.install_test_helper();
    sandbox.write_json(
        "home/.docker/config.json",
        json!({
            "auths": {"known.example": {}, "direct.example": basic_auth("direct", "d")},
            "credsStore": "test"
        }),
    );
    let files = sandbox.files();
    assert_eq!(
        get_credentials(&files, "known.example").unwrap(),
        Credentials::basic("helper-user", "helper-pass")
    );
    assert_eq!(
        get_credentials(&files, "direct.example").unwrap(),
        Credentials::basic("direct", "d")
    );
    // Docker keeps Docker Hub under its v1 URL in the store.
    assert_eq!(
        get_credentials(&files, "docker.io/library/busybox").unwrap(),
        Credentials::basic("hub-user", "hub-pass")
    );
    assert_eq!(
        get_credentials(&files, "unknown.example").unwrap(),
        Credentials::Anonymous
    );
}

#[test]
fn registries_conf_helpers_are_consulted_in_order() {
    let sandbox = Sandbox::new();
    sandbox.install_test_helper();
    sandbox.write_json(
        "run/containers/auth.json",
        json!({"auths": {"known.example": basic_auth("file", "f"), "fileonly.example": basic_auth("file", "f")}}),
    );
    let mut files = sandbox.files();
    files.credential_helpers = vec!["test".to_string(), AUTH_FILE_HELPER.to_string()];
    assert_eq!(
        get_credentials(&files, "known.example").unwrap(),
        Credentials::basic("helper-user", "helper-pass")
    );
    assert_eq!(
        get_credentials(&files, "fileonly.example").unwrap(),
        Credentials::basic("file", "f")
    );
    files.credential_helpers = vec!["test".to_string()];
    assert_eq!(
        get_credentials(&files, "fileonly.example").unwrap(),
        Credentials::Anonymous
    );
}

#[test]
fn invalid_keys_are_rejected() {
    let files = Sandbox::new().files();
    for (key, message) in [
        (
            "https://example.com",
            "key https://example.com contains http[s]:// prefix",
        ),
        (
            "example.com/repo@sha256:abc",
            "key example.com/repo@sha256:abc contains a '@' character",
        ),
        (
            "example.com/repo:tag",
            "key example.com/repo:tag contains a ':' character after host[:port]",
        ),
    ] {
        assert_eq!(
            get_credentials(&files, key).unwrap_err().to_string(),
            message
        );
    }
    assert!(validate_key("localhost:5000/ns").unwrap());
    assert!(!validate_key("localhost:5000").unwrap());
}

#[test]
fn malformed_files_name_the_file() {
    let sandbox = Sandbox::new();
    let path = sandbox.write("run/containers/auth.json", "{not json");
    let err = get_credentials(&sandbox.files(), "example.com").unwrap_err();
    let message = err.to_string();
    let quoted = format!("\"{}\"", path.display());
    assert!(
        message.starts_with(&format!(
            "1 error occurred:\n\t* reading JSON file {quoted}: unmarshaling JSON at {quoted}: "
        )),
        "{message}"
    );
    sandbox.write_json(
        "run/containers/auth.json",
        json!({"auths": {"example.com": {"auth": "%%%"}}}),
    );
    let message = get_credentials(&sandbox.files(), "example.com")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("credential entry \"example.com\""),
        "{message}"
    );
}

#[test]
fn set_credentials_creates_private_file_and_keeps_unknown_keys() {
    let sandbox = Sandbox::new();
    let mut files = sandbox.files();
    files.auth_file = Some(sandbox.path("new/dir/auth.json"));
    let description = set_credentials(&files, "example.com/ns", "user", "pass").unwrap();
    let path = sandbox.path("new/dir/auth.json");
    assert_eq!(description, path.display().to_string());
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&sandbox.path("new/dir")), 0o700);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\n\t\"auths\": {\n\t\t\"example.com/ns\": {\n\t\t\t\"auth\": \"dXNlcjpwYXNz\"\n\t\t}\n\t}\n}"
    );

    sandbox.write_json(
        "new/dir/auth.json",
        json!({"auths": {"old.example": {"auth": "b2xkOm9sZA==", "email": "x@y"}}, "HttpHeaders": {"X": "y"}}),
    );
    set_credentials(&files, "example.com", "u2", "p2").unwrap();
    let written = read_json(&path);
    assert_eq!(written["HttpHeaders"], json!({"X": "y"}));
    assert_eq!(written["auths"]["old.example"]["email"], json!("x@y"));
    assert_eq!(written["auths"]["example.com"], basic_auth("u2", "p2"));
    assert_eq!(
        get_credentials(&files, "example.com").unwrap(),
        Credentials::basic("u2", "p2")
    );
    // No temporary files are left next to the result.
    assert_eq!(
        std::fs::read_dir(sandbox.path("new/dir")).unwrap().count(),
        1
    );
}

#[test]
fn set_credentials_defaults_to_the_runtime_dir_file() {
    let sandbox = Sandbox::new();
    let files = sandbox.files();
    let description = set_credentials(&files, "example.com", "u", "p").unwrap();
    assert_eq!(
        description,
        sandbox
            .path("run/containers/auth.json")
            .display()
            .to_string()
    );
    assert_eq!(
        get_credentials(&files, "example.com").unwrap(),
        Credentials::basic("u", "p")
    );
}

#[test]
fn set_credentials_uses_a_cred_helpers_entry() {
    let sandbox = Sandbox::new();
    sandbox.install_test_helper();
    let path = sandbox.write_json(
        "run/containers/auth.json",
        json!({"auths": {}, "credHelpers": {"known.example": "test"}}),
    );
    let before = std::fs::read(&path).unwrap();
    let files = sandbox.files();
    let description = set_credentials(&files, "known.example", "new-user", "new-pass").unwrap();
    assert_eq!(description, "credential helper: test");
    assert_eq!(
        read_json(&sandbox.path("bin/stored.json")),
        json!({"ServerURL": "known.example", "Username": "new-user", "Secret": "new-pass"})
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // credHelpers entries name registries only: a namespaced key goes to the file.
    set_credentials(&files, "known.example/ns", "u", "p").unwrap();
    assert_eq!(
        read_json(&path)["auths"]["known.example/ns"],
        basic_auth("u", "p")
    );
    // External helpers from registries.conf cannot hold namespaced keys at all.
    let mut files = files;
    files.credential_helpers = vec!["test".to_string()];
    let err = set_credentials(&files, "known.example/ns", "u", "p").unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 error occurred:\n\t* namespaced key is not supported for credential helper test\n\n"
    );
    assert_eq!(
        set_credentials(&files, "known.example", "u", "p").unwrap(),
        "credential helper: test"
    );
}

#[test]
fn compat_file_uses_docker_keys() {
    let sandbox = Sandbox::new();
    let mut files = sandbox.files();
    files.compat_auth_file = Some(sandbox.path("docker/config.json"));
    sandbox.write_json(
        "docker/config.json",
        json!({"auths": {}, "credHelpers": {"gcr.io": "gcloud"}, "psFormat": "table"}),
    );
    set_credentials(&files, "docker.io", "u", "p").unwrap();
    let written = read_json(&sandbox.path("docker/config.json"));
    assert_eq!(
        written["auths"][DOCKER_HUB_LEGACY_KEY],
        basic_auth("u", "p")
    );
    assert_eq!(written["psFormat"], json!("table"));
    assert_eq!(written["credHelpers"], json!({"gcr.io": "gcloud"}));
    let err = set_credentials(&files, "docker.io/library", "u", "p").unwrap_err();
    assert_eq!(
        err.to_string(),
        "Credentials cannot be recorded in Docker-compatible format with namespaced key \"docker.io/library\""
    );
    remove_credentials(&files, "docker.io").unwrap();
    assert_eq!(
        read_json(&sandbox.path("docker/config.json"))["auths"],
        json!({})
    );
    files.auth_file = Some(sandbox.path("a.json"));
    assert!(matches!(
        set_credentials(&files, "x.example", "u", "p"),
        Err(AuthError::ConflictingAuthFiles)
    ));
}

#[test]
fn remove_credentials_removes_exact_key_only() {
    let sandbox = Sandbox::new();
    let path = sandbox.write_json(
        "run/containers/auth.json",
        json!({"auths": {"example.com": basic_auth("h", "h"), "example.com/ns": basic_auth("n", "n")}, "extra": 1}),
    );
    let files = sandbox.files();
    remove_credentials(&files, "example.com/ns").unwrap();
    let written = read_json(&path);
    assert_eq!(
        written["auths"],
        json!({"example.com": basic_auth("h", "h")})
    );
    assert_eq!(written["extra"], json!(1));
    let err = remove_credentials(&files, "example.com/ns").unwrap_err();
    assert!(matches!(err, AuthError::NotLoggedIn(ref key) if key == "example.com/ns"));
    assert_eq!(err.to_string(), "not logged into example.com/ns");
}

#[test]
fn remove_credentials_erases_from_the_helper() {
    let sandbox = Sandbox::new();
    sandbox.install_test_helper();
    sandbox.write_json(
        "run/containers/auth.json",
        json!({"credHelpers": {"known.example": "test", "nothing.example": "test"}}),
    );
    let files = sandbox.files();
    remove_credentials(&files, "known.example").unwrap();
    assert_eq!(
        std::fs::read_to_string(sandbox.path("bin/erased")).unwrap(),
        "known.example\n"
    );
    assert!(matches!(
        remove_credentials(&files, "nothing.example"),
        Err(AuthError::NotLoggedIn(_))
    ));
}

#[test]
fn remove_all_clears_files_and_helpers() {
    let sandbox = Sandbox::new();
    sandbox.install_test_helper();
    let path = sandbox.write_json(
        "run/containers/auth.json",
        json!({"auths": {"a.example": basic_auth("a", "a")}, "credHelpers": {"known.example": "test"}, "keep": true}),
    );
    let mut files = sandbox.files();
    remove_all_credentials(&files).unwrap();
    assert_eq!(read_json(&path), json!({"auths": {}, "keep": true}));
    assert_eq!(
        std::fs::read_to_string(sandbox.path("bin/erased")).unwrap(),
        "known.example\n"
    );

    // External helpers are emptied through list + erase; absent ones are skipped.
    files.credential_helpers = vec!["test".to_string(), "not-installed".to_string()];
    remove_all_credentials(&files).unwrap();
    assert_eq!(
        std::fs::read_to_string(sandbox.path("bin/erased")).unwrap(),
        "known.example\nknown.example\nother.example\n"
    );
}

#[test]
fn helper_failures_inside_a_file_edit_name_the_file() {
    let sandbox = Sandbox::new();
    let path = sandbox.write_json(
        "run/containers/auth.json",
        json!({"credHelpers": {"gone.example": "nonexistent"}}),
    );
    let err = set_credentials(&sandbox.files(), "gone.example", "u", "p").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "1 error occurred:\n\t* updating \"{}\": error storing credentials - err: exec: \"docker-credential-nonexistent\": executable file not found in $PATH, out: ``\n\n",
            path.display()
        )
    );
}

#[test]
fn logout_erases_from_the_creds_store() {
    let sandbox = Sandbox::new();
    sandbox.install_test_helper();
    let mut files = sandbox.files();
    files.compat_auth_file = Some(sandbox.path("docker/config.json"));
    sandbox.write_json(
        "docker/config.json",
        json!({"auths": {"known.example": {}}, "credsStore": "test"}),
    );
    remove_credentials(&files, "known.example").unwrap();
    assert_eq!(
        std::fs::read_to_string(sandbox.path("bin/erased")).unwrap(),
        "known.example\n"
    );
    assert_eq!(
        read_json(&sandbox.path("docker/config.json")),
        json!({"auths": {}, "credsStore": "test"})
    );
    assert!(matches!(
        remove_credentials(&files, "unknown.example"),
        Err(AuthError::NotLoggedIn(_))
    ));
}
