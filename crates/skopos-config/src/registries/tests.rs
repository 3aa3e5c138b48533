use std::path::PathBuf;

use super::*;

/// A temporary home and system directory; nothing outside it is read.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn search(&self) -> RegistriesConfSearch {
        RegistriesConfSearch {
            explicit: None,
            env_override: None,
            home: Some(self.path("home")),
            system_file: self.path("etc/registries.conf"),
            system_drop_in_dir: self.path("etc/registries.conf.d"),
        }
    }

    fn load(&self) -> RegistriesConf {
        load(&self.search()).unwrap()
    }

    /// A configuration from one main-file text.
    fn config(text: &str) -> RegistriesConf {
        let sandbox = Sandbox::new();
        sandbox.write("etc/registries.conf", text);
        sandbox.load()
    }

    fn error(&self) -> String {
        load(&self.search()).unwrap_err().to_string()
    }
}

fn sources(config: &RegistriesConf, reference: &str) -> Vec<(String, bool)> {
    config
        .resolve_str(reference)
        .unwrap()
        .pull_sources
        .into_iter()
        .map(|source| (source.reference.to_string(), source.insecure))
        .collect()
}

fn strings(values: &[(&str, bool)]) -> Vec<(String, bool)> {
    values.iter().map(|(s, b)| (s.to_string(), *b)).collect()
}

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn no_files_means_an_empty_configuration() {
    let sandbox = Sandbox::new();
    let config = sandbox.load();
    assert!(config.registries.is_empty());
    assert_eq!(
        config.credential_helpers,
        vec!["containers-auth.json".to_string()]
    );
    let resolved = config.resolve_str("example.com/repo:tag").unwrap();
    assert_eq!(resolved.pull_sources.len(), 1);
    assert_eq!(
        resolved.pull_sources[0].reference.to_string(),
        "example.com/repo:tag"
    );
    assert!(!resolved.insecure && !resolved.blocked && resolved.prefix.is_none());
}

#[test]
fn search_order_prefers_explicit_then_user_then_system() {
    let sandbox = Sandbox::new();
    let mut search = sandbox.search();
    let system = search.sources();
    assert_eq!(system.main_file, sandbox.path("etc/registries.conf"));
    assert_eq!(
        system.drop_in_dirs,
        vec![
            sandbox.path("etc/registries.conf.d"),
            sandbox.path("home/.config/containers/registries.conf.d")
        ]
    );
    sandbox.write("home/.config/containers/registries.conf", "");
    let user = search.sources();
    assert_eq!(
        user.main_file,
        sandbox.path("home/.config/containers/registries.conf")
    );
    assert_eq!(
        user.drop_in_dirs,
        vec![sandbox.path("home/.config/containers/registries.conf.d")]
    );
    search.env_override = Some(sandbox.path("env.conf"));
    let from_env = search.sources();
    assert_eq!(from_env.main_file, sandbox.path("env.conf"));
    assert!(from_env.drop_in_dirs.is_empty());
    search.explicit = Some(sandbox.path("flag.conf"));
    let explicit = search.sources();
    assert_eq!(explicit.main_file, sandbox.path("flag.conf"));
    assert!(explicit.main_file_required);
    assert_eq!(explicit.drop_in_dirs.len(), 2);
}

#[test]
fn missing_explicit_file_is_an_error() {
    let sandbox = Sandbox::new();
    let mut search = sandbox.search();
    search.explicit = Some(sandbox.path("nope.conf"));
    let path = sandbox.path("nope.conf");
    assert_eq!(
        load(&search).unwrap_err().to_string(),
        format!(
            "loading registries configuration \"{0}\": open {0}: no such file or directory",
            path.display()
        )
    );
}

#[test]
fn longest_prefix_wins_and_matches_whole_components() {
    let config = Sandbox::config(
        r#"
[[registry]]
location = "example.com"
insecure = true

[[registry]]
prefix = "example.com/team"
location = "internal.example.com/team"
"#,
    );
    assert_eq!(
        config.find_registry("example.com/team/app").unwrap().prefix,
        "example.com/team"
    );
    assert_eq!(
        config
            .find_registry("example.com/teamx/app")
            .unwrap()
            .prefix,
        "example.com"
    );
    assert_eq!(
        config.find_registry("example.com:5000/x").unwrap().prefix,
        "example.com"
    );
    assert!(config.find_registry("example.community/x").is_none());
    let resolved = config.resolve_str("example.com/team/app:1").unwrap();
    assert_eq!(resolved.prefix.as_deref(), Some("example.com/team"));
    assert_eq!(
        sources(&config, "example.com/team/app:1"),
        strings(&[("internal.example.com/team/app:1", false)])
    );
    assert!(config.resolve_str("example.com/other:1").unwrap().insecure);
}

#[test]
fn location_rewrite_applies_to_pulls_not_pushes() {
    let config = Sandbox::config(
        r#"
[[registry]]
prefix = "docker.io/library"
location = "quay.io/libpod"
"#,
    );
    let resolved = config.resolve_str("busybox:latest").unwrap();
    assert_eq!(
        resolved.pull_sources[0].reference.to_string(),
        "quay.io/libpod/busybox:latest"
    );
    assert_eq!(
        resolved.push_reference.to_string(),
        "docker.io/library/busybox:latest"
    );
}

#[test]
fn wildcard_prefixes_match_subdomains() {
    let config = Sandbox::config(
        r#"
[[registry]]
prefix = "*.example.com"
blocked = true

[[registry]]
prefix = "*.sub.example.com"
location = "mirror.sub.example.com"
"#,
    );
    let blocked = config.resolve_str("a.example.com/repo:1").unwrap();
    assert!(blocked.blocked);
    assert_eq!(blocked.prefix.as_deref(), Some("*.example.com"));
    assert_eq!(
        blocked.pull_sources[0].reference.to_string(),
        "a.example.com/repo:1"
    );
    assert_eq!(
        config.blocked_message("*.example.com"),
        format!(
            "registry *.example.com is blocked in {} or {}",
            config.sources.main_file.display(),
            config.sources.message_dir.display()
        )
    );
    assert!(config.find_registry("example.com/repo").is_none());
    assert!(config.find_registry("other.com/x.example.com").is_none());
    assert_eq!(
        config.find_registry("a.example.com:5000/x").unwrap().prefix,
        "*.example.com"
    );
    assert_eq!(
        config.find_registry("x.sub.example.com/r").unwrap().prefix,
        "*.sub.example.com"
    );
    assert_eq!(
        sources(&config, "x.sub.example.com/r:t"),
        strings(&[("mirror.sub.example.com/r:t", false)])
    );
}

#[test]
fn mirrors_come_first_according_to_their_rules() {
    let config = Sandbox::config(
        r#"
[[registry]]
location = "registry.example.com"

[[registry.mirror]]
location = "any.mirror"
insecure = true

[[registry.mirror]]
location = "digest.mirror/ns"
pull-from-mirror = "digest-only"

[[registry.mirror]]
location = "tag.mirror"
pull-from-mirror = "tag-only"
"#,
    );
    assert_eq!(
        sources(&config, "registry.example.com/app:1"),
        strings(&[
            ("any.mirror/app:1", true),
            ("tag.mirror/app:1", false),
            ("registry.example.com/app:1", false)
        ])
    );
    let by_digest = format!("registry.example.com/app@{DIGEST}");
    assert_eq!(
        sources(&config, &by_digest),
        strings(&[
            (&format!("any.mirror/app@{DIGEST}"), true),
            (&format!("digest.mirror/ns/app@{DIGEST}"), false),
            (&by_digest, false)
        ])
    );
    let resolved = config.resolve_str("registry.example.com/app:1").unwrap();
    assert!(resolved.pull_sources[0].is_mirror && !resolved.pull_sources[2].is_mirror);
}

#[test]
fn mirror_by_digest_only_limits_mirrors_to_digests() {
    let config = Sandbox::config(
        r#"
[[registry]]
location = "registry.example.com"
mirror-by-digest-only = true
mirror = [{ location = "m.example" }]

[[registry]]
location = "m.example"
insecure = true
"#,
    );
    assert_eq!(
        sources(&config, "registry.example.com/app:1"),
        strings(&[("registry.example.com/app:1", false)])
    );
    // The mirror is insecure through its own registry entry.
    assert_eq!(
        sources(&config, &format!("registry.example.com/app@{DIGEST}")),
        strings(&[
            (&format!("m.example/app@{DIGEST}"), true),
            (&format!("registry.example.com/app@{DIGEST}"), false)
        ])
    );
}

#[test]
fn drop_ins_merge_in_name_order_by_prefix() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "etc/registries.conf",
        r#"
unqualified-search-registries = ["main.example"]
credential-helpers = ["main-helper"]
[[registry]]
location = "a.example"
[[registry]]
location = "b.example"
"#,
    );
    sandbox.write(
        "etc/registries.conf.d/20-second.conf",
        "[[registry]]\nlocation = \"a.example\"\nblocked = true\n",
    );
    sandbox.write(
        "etc/registries.conf.d/10-first.conf",
        "[[registry]]\nlocation = \"a.example\"\ninsecure = true\n",
    );
    sandbox.write("etc/registries.conf.d/ignored.txt", "not toml [");
    sandbox.write(
        "home/.config/containers/registries.conf.d/user.conf",
        "unqualified-search-registries = [\"user.example\"]\n",
    );
    let config = sandbox.load();
    let a = config.find_registry("a.example/x").unwrap();
    // The later drop-in replaces the whole entry.
    assert!(a.blocked && !a.insecure);
    assert!(config.find_registry("b.example/x").is_some());
    assert_eq!(
        config.unqualified_search_registries,
        vec!["user.example".to_string()]
    );
    assert_eq!(config.credential_helpers, vec!["main-helper".to_string()]);
}

#[test]
fn user_file_limits_drop_ins_to_the_user_directory() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "etc/registries.conf",
        "[[registry]]\nlocation = \"system.example\"\n",
    );
    sandbox.write(
        "etc/registries.conf.d/x.conf",
        "[[registry]]\nlocation = \"sysdrop.example\"\n",
    );
    sandbox.write(
        "home/.config/containers/registries.conf",
        "[[registry]]\nlocation = \"user.example\"\n",
    );
    let config = sandbox.load();
    let prefixes: Vec<&str> = config
        .registries
        .iter()
        .map(|r| r.prefix.as_str())
        .collect();
    assert_eq!(prefixes, vec!["user.example"]);
}

#[test]
fn v1_format_is_converted() {
    let config = Sandbox::config(
        r#"
[registries.search]
registries = ["search.example"]
[registries.insecure]
registries = ["insecure.example", "both.example"]
[registries.block]
registries = ["blocked.example/", "both.example"]
"#,
    );
    assert!(config.resolve_str("insecure.example/x:1").unwrap().insecure);
    assert!(config.resolve_str("blocked.example/x:1").unwrap().blocked);
    let both = config.find_registry("both.example/x").unwrap();
    assert!(both.blocked && both.insecure);
    assert_eq!(
        config.unqualified_search_registries,
        vec!["search.example".to_string()]
    );
}

#[test]
fn invalid_files_fail_with_one_line_naming_the_file() {
    let cases: &[(&str, &str)] = &[
        ("bad = [", "toml: line 1: "),
        ("[[registry]]\nlocation = \"https://x\"\n", "invalid location 'https://x': URI schemes are not supported"),
        ("[[registry]]\ninsecure = true\n", "invalid condition: both location and prefix are unset"),
        ("[[registry]]\nprefix = \"example.com\"\n", "invalid condition: location is unset and prefix is not in the format: *.example.com"),
        ("[[registry]]\nprefix = \"*.example.com/ns\"\n", "Wildcarded prefix should be in the format: *.example.com. Current prefix \"*.example.com/ns\" is incorrectly formatted"),
        ("[[registry]]\nlocation = \"r.example\"\n[[registry.mirror]]\ninsecure = true\n", "invalid condition: mirror location is unset"),
        ("[[registry]]\nlocation = \"r.example\"\npull-from-mirror = \"all\"\n", "pull-from-mirror must not be set for a non-mirror registry \"r.example\""),
        ("[[registry]]\nlocation = \"r.example\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"all\"\n", "cannot set mirror usage mirror-by-digest-only for the registry (\"r.example\") and pull-from-mirror for per-mirror (\"m\") at the same time"),
        ("[[registry]]\nlocation = \"r.example\"\n[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"sometimes\"\n", "unsupported pull-from-mirror value \"sometimes\" for mirror \"m\""),
        ("[[registry]]\nlocation = \"r.example\"\n[[registry]]\nprefix = \"r.example/ns\"\nlocation = \"r.example\"\ninsecure = true\n", "registry 'r.example' is defined multiple times with conflicting 'insecure' setting"),
        ("[[registry]]\nlocation = \"r.example\"\nblocked = true\n[[registry]]\nprefix = \"r.example/ns\"\nlocation = \"r.example\"\n", "registry 'r.example' is defined multiple times with conflicting 'blocked' setting"),
        ("[registries.block]\nregistries = [\"x\"]\n[[registry]]\nlocation = \"y\"\n", "mixing sysregistry v1/v2 is not supported"),
        ("unqualified-search-registries = [\"bad_host!\"]\n", "Invalid unqualified-search-registries entry \"bad_host!\""),
        ("short-name-mode = \"loud\"\n", "invalid short-name mode: \"loud\""),
        ("[[registry]]\nlocation = 5\n", "toml: line 2: "),
    ];
    for (text, expected) in cases {
        let sandbox = Sandbox::new();
        let path = sandbox.write("etc/registries.conf", text);
        let message = sandbox.error();
        let prefix = format!("loading registries configuration \"{}\": ", path.display());
        assert!(message.starts_with(&prefix), "{message}");
        assert!(
            message[prefix.len()..].starts_with(expected),
            "{text:?}: {message}"
        );
        assert!(!message.contains('\n'), "{message}");
    }
}

#[test]
fn drop_ins_must_be_v2_and_errors_name_them() {
    let sandbox = Sandbox::new();
    let path = sandbox.write(
        "etc/registries.conf.d/old.conf",
        "[registries.insecure]\nregistries = [\"x\"]\n",
    );
    assert_eq!(
        sandbox.error(),
        format!(
            "loading drop-in registries configuration \"{}\": registry must be in v2 format but is in v1",
            path.display()
        )
    );
}

#[test]
fn same_prefix_in_one_file_keeps_the_first_entry() {
    let config = Sandbox::config(
        "[[registry]]\nprefix = \"p.example\"\nlocation = \"first.example\"\n[[registry]]\nprefix = \"p.example\"\nlocation = \"second.example\"\n",
    );
    assert_eq!(config.registries.len(), 1);
    assert_eq!(config.registries[0].location, "first.example");
}

#[test]
fn rewrites_into_invalid_references_fail() {
    let config = Sandbox::config(
        "[[registry]]\nprefix = \"example.com/ns\"\nlocation = \"Upper.example/NS\"\n",
    );
    let err = config.resolve_str("example.com/ns/app:1").unwrap_err();
    assert!(
        err.to_string().starts_with("rewriting reference: "),
        "{err}"
    );
}

#[test]
fn blocked_message_names_the_main_file_and_drop_in_directory() {
    let sandbox = Sandbox::new();
    let path = sandbox.write(
        "flag.conf",
        "[[registry]]\nlocation = \"blocked.example\"\nblocked = true\n",
    );
    let mut search = sandbox.search();
    search.explicit = Some(path.clone());
    let config = load(&search).unwrap();
    let resolved = config.resolve_str("blocked.example/x").unwrap();
    assert!(resolved.blocked);
    assert_eq!(
        config.blocked_message(resolved.prefix.as_deref().unwrap()),
        format!(
            "registry blocked.example is blocked in {} or {}",
            path.display(),
            sandbox
                .path("home/.config/containers/registries.conf.d")
                .display()
        )
    );
}
