//! Reading, validating and merging registries.conf files.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use skopos_core::go::text::{go_errno_text, go_quote};

use super::{
    quoted, Mirror, PullFromMirror, RegistriesConf, RegistriesConfSearch, RegistriesError, Registry,
};

/// A `[[registry]]` or `[[registry.mirror]]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawEndpoint {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror_by_digest_only: bool,
    #[serde(default)]
    pull_from_mirror: String,
    #[serde(default)]
    mirror: Vec<RawEndpoint>,
}

/// `[registries.search|insecure|block]` of the v1 format.
#[derive(Debug, Default, Deserialize)]
struct RawV1Tables {
    search: Option<RawV1List>,
    insecure: Option<RawV1List>,
    block: Option<RawV1List>,
}

#[derive(Debug, Default, Deserialize)]
struct RawV1List {
    registries: Option<Vec<String>>,
}

/// One file as written; unknown keys are ignored, as containers/image does.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawFile {
    registry: Option<Vec<RawEndpoint>>,
    unqualified_search_registries: Option<Vec<String>>,
    credential_helpers: Option<Vec<String>>,
    short_name_mode: Option<String>,
    additional_layer_store_auth_helper: Option<String>,
    aliases: Option<toml::Table>,
    registries: Option<RawV1Tables>,
}

impl RawFile {
    fn has_v1_fields(&self) -> bool {
        self.registries.as_ref().is_some_and(|v1| {
            [&v1.search, &v1.insecure, &v1.block]
                .into_iter()
                .any(|table| table.as_ref().is_some_and(|t| t.registries.is_some()))
        })
    }

    fn has_v2_fields(&self) -> bool {
        self.registry.is_some()
            || self.unqualified_search_registries.is_some()
            || self.credential_helpers.is_some()
            || self.short_name_mode.is_some()
            || self.additional_layer_store_auth_helper.is_some()
            || self.aliases.is_some()
    }
}

/// One file after validation; `None` fields were not set there.
#[derive(Debug, Default)]
struct ParsedFile {
    registries: Vec<Registry>,
    unqualified_search_registries: Option<Vec<String>>,
    credential_helpers: Option<Vec<String>>,
    short_name_mode: Option<String>,
}

fn invalid(message: String) -> RegistriesError {
    RegistriesError::InvalidFile(message)
}

/// A registries.conf file's text, bounded as every configuration file is.
fn read_text(path: &Path) -> std::io::Result<String> {
    let bytes = skopos_core::limits::read_file_at_most_blocking(
        path,
        skopos_core::limits::MAX_CONFIG_FILE,
    )?;
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// Reads and merges the files `search` selects; a missing default main file is an empty
/// configuration, a missing explicit one an error.
pub fn load(search: &RegistriesConfSearch) -> Result<RegistriesConf, RegistriesError> {
    let sources = search.sources();
    let main = &sources.main_file;
    let mut config = RegistriesConf::empty(sources.clone());
    let mut credential_helpers: Option<Vec<String>> = None;
    match read_text(main) {
        Ok(text) => {
            let parsed = parse_file(&text, false).map_err(|detail| {
                invalid(format!(
                    "loading registries configuration {}: {detail}",
                    quoted(main)
                ))
            })?;
            merge(&mut config, &mut credential_helpers, parsed);
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !sources.main_file_required => {}
        Err(err) => {
            return Err(invalid(format!(
                "loading registries configuration {}: open {}: {}",
                quoted(main),
                main.display(),
                go_errno_text(&err)
            )))
        }
    }
    for dir in &sources.drop_in_dirs {
        for path in drop_in_files(dir)? {
            let text = match read_text(&path) {
                Ok(text) => text,
                // Removed since the directory was listed.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => {
                    return Err(invalid(format!(
                        "loading drop-in registries configuration {}: open {}: {}",
                        quoted(&path),
                        path.display(),
                        go_errno_text(&err)
                    )))
                }
            };
            let parsed = parse_file(&text, true).map_err(|detail| {
                invalid(format!(
                    "loading drop-in registries configuration {}: {detail}",
                    quoted(&path)
                ))
            })?;
            merge(&mut config, &mut credential_helpers, parsed);
        }
    }
    if let Some(helpers) = credential_helpers.filter(|helpers| !helpers.is_empty()) {
        config.credential_helpers = helpers;
    }
    Ok(config)
}

/// The `*.conf` files directly in `dir`, in name order; none if `dir` does not exist.
fn drop_in_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, RegistriesError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => {
            return Err(invalid(format!(
                "reading registries.conf.d: open {}: {}",
                dir.display(),
                go_errno_text(&err)
            )))
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|err| {
            invalid(format!(
                "reading registries.conf.d: {}: {}",
                dir.display(),
                go_errno_text(&err)
            ))
        })?;
        let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
        let path = entry.path();
        if !is_dir && path.extension().is_some_and(|ext| ext == "conf") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Later files replace registry entries with the same prefix and any top-level setting
/// they set.
fn merge(
    config: &mut RegistriesConf,
    credential_helpers: &mut Option<Vec<String>>,
    update: ParsedFile,
) {
    let mut by_prefix: BTreeMap<String, Registry> = config
        .registries
        .drain(..)
        .map(|registry| (registry.prefix.clone(), registry))
        .collect();
    for registry in update.registries {
        by_prefix.insert(registry.prefix.clone(), registry);
    }
    config.registries = by_prefix.into_values().collect();
    if let Some(search) = update.unqualified_search_registries {
        config.unqualified_search_registries = search;
    }
    if let Some(helpers) = update.credential_helpers {
        *credential_helpers = Some(helpers);
    }
    if let Some(mode) = update.short_name_mode {
        config.short_name_mode = Some(mode);
    }
}

/// One-line text for a TOML syntax error: the line and the parser's message.
fn toml_error_text(text: &str, err: &toml::de::Error) -> String {
    let message = err.message().lines().next().unwrap_or_default().to_string();
    match err.span() {
        Some(span) => {
            let before = &text.as_bytes()[..span.start.min(text.len())];
            let line = before.iter().filter(|byte| **byte == b'\n').count() + 1;
            format!("toml: line {line}: {message}")
        }
        None => format!("toml: {message}"),
    }
}

/// Parses and validates one file; the error is the detail after the file name.
fn parse_file(text: &str, drop_in: bool) -> Result<ParsedFile, String> {
    let raw: RawFile = toml::from_str(text).map_err(|err| toml_error_text(text, &err))?;
    let (registries, unqualified_search_registries) = if raw.has_v1_fields() {
        if drop_in {
            return Err("registry must be in v2 format but is in v1".to_string());
        }
        if raw.has_v2_fields() {
            return Err("mixing sysregistry v1/v2 is not supported".to_string());
        }
        convert_v1(raw.registries.unwrap_or_default())?
    } else {
        (
            raw.registry.unwrap_or_default(),
            raw.unqualified_search_registries,
        )
    };
    let registries = post_process_registries(registries)?;
    let unqualified_search_registries = unqualified_search_registries
        .map(|entries| {
            entries
                .into_iter()
                .map(|entry| {
                    let registry = parse_location(&entry)?;
                    if !is_valid_domain(&registry) {
                        return Err(format!(
                            "Invalid unqualified-search-registries entry {}",
                            go_quote(&registry)
                        ));
                    }
                    Ok(registry)
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    if let Some(mode) = &raw.short_name_mode {
        if !mode.is_empty() && !matches!(mode.as_str(), "disabled" | "enforcing" | "permissive") {
            return Err(format!("invalid short-name mode: {}", go_quote(mode)));
        }
    }
    Ok(ParsedFile {
        registries,
        unqualified_search_registries,
        credential_helpers: raw.credential_helpers,
        short_name_mode: raw.short_name_mode.filter(|mode| !mode.is_empty()),
    })
}

/// The v1 tables as v2 entries: blocked and insecure registries (prefix = location), and
/// the search list.
fn convert_v1(v1: RawV1Tables) -> Result<(Vec<RawEndpoint>, Option<Vec<String>>), String> {
    let mut entries: Vec<RawEndpoint> = Vec::new();
    let lists = |table: Option<RawV1List>| table.and_then(|t| t.registries).unwrap_or_default();
    for blocked in lists(v1.block) {
        let index = v1_entry(&blocked, &mut entries)?;
        entries[index].blocked = true;
    }
    for insecure in lists(v1.insecure) {
        let index = v1_entry(&insecure, &mut entries)?;
        entries[index].insecure = true;
    }
    let search = v1.search.and_then(|t| t.registries);
    Ok((entries, search))
}

/// The index of the entry for a v1 `location`, added (prefix = location) if new.
fn v1_entry(location: &str, entries: &mut Vec<RawEndpoint>) -> Result<usize, String> {
    let location = parse_location(location)?;
    if let Some(index) = entries.iter().position(|entry| entry.location == location) {
        return Ok(index);
    }
    entries.push(RawEndpoint {
        prefix: location.clone(),
        location,
        ..RawEndpoint::default()
    });
    Ok(entries.len() - 1)
}

/// containers/image `parseLocation`: trailing slashes dropped, URL schemes refused.
fn parse_location(input: &str) -> Result<String, String> {
    let trimmed = input.trim_end_matches('/');
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        return Err(format!(
            "invalid location '{input}': URI schemes are not supported"
        ));
    }
    Ok(trimmed.to_string())
}

fn parse_pull_from_mirror(value: &str, location: &str) -> Result<PullFromMirror, String> {
    match value {
        "" | "all" => Ok(PullFromMirror::All),
        "digest-only" => Ok(PullFromMirror::DigestOnly),
        "tag-only" => Ok(PullFromMirror::TagOnly),
        other => Err(format!(
            "unsupported pull-from-mirror value {} for mirror {}",
            go_quote(other),
            go_quote(location)
        )),
    }
}

/// Validates the entries of one file, defaults prefixes, and keeps the first entry of each
/// prefix, sorted by prefix.
fn post_process_registries(raw: Vec<RawEndpoint>) -> Result<Vec<Registry>, String> {
    let mut registries = Vec::new();
    for entry in raw {
        let location = parse_location(&entry.location)?;
        let prefix = if entry.prefix.is_empty() {
            if location.is_empty() {
                return Err("invalid condition: both location and prefix are unset".to_string());
            }
            location.clone()
        } else {
            let prefix = parse_location(&entry.prefix)?;
            if !prefix.starts_with("*.") && location.is_empty() {
                return Err("invalid condition: location is unset and prefix is not in the format: *.example.com".to_string());
            }
            prefix
        };
        if !entry.pull_from_mirror.is_empty() {
            return Err(format!(
                "pull-from-mirror must not be set for a non-mirror registry {}",
                go_quote(&prefix)
            ));
        }
        let mut mirrors = Vec::new();
        for mirror in entry.mirror {
            let mirror_location = parse_location(&mirror.location)?;
            if mirror_location.is_empty() {
                return Err("invalid condition: mirror location is unset".to_string());
            }
            if entry.mirror_by_digest_only && !mirror.pull_from_mirror.is_empty() {
                return Err(format!(
                    "cannot set mirror usage mirror-by-digest-only for the registry ({}) and pull-from-mirror for per-mirror ({}) at the same time",
                    go_quote(&prefix),
                    go_quote(&mirror_location)
                ));
            }
            let pull_from_mirror =
                parse_pull_from_mirror(&mirror.pull_from_mirror, &mirror_location)?;
            mirrors.push(Mirror {
                location: mirror_location,
                insecure: mirror.insecure,
                pull_from_mirror,
            });
        }
        if prefix.starts_with("*.") && prefix.contains(['/', '@', ':']) {
            return Err(format!(
                "Wildcarded prefix should be in the format: *.example.com. Current prefix {} is incorrectly formatted",
                go_quote(&prefix)
            ));
        }
        registries.push(Registry {
            prefix,
            location,
            insecure: entry.insecure,
            blocked: entry.blocked,
            mirror_by_digest_only: entry.mirror_by_digest_only,
            mirrors,
        });
    }
    // The same location (or wildcard prefix) may appear several times, with different
    // prefixes, but not with different security settings.
    for registry in &registries {
        let key = registry_identity(registry);
        for other in registries
            .iter()
            .filter(|other| registry_identity(other) == key)
        {
            if registry.insecure != other.insecure {
                return Err(format!(
                    "registry '{}' is defined multiple times with conflicting 'insecure' setting",
                    registry.location
                ));
            }
            if registry.blocked != other.blocked {
                return Err(format!(
                    "registry '{}' is defined multiple times with conflicting 'blocked' setting",
                    registry.location
                ));
            }
        }
    }
    let mut by_prefix: BTreeMap<String, Registry> = BTreeMap::new();
    for registry in registries {
        by_prefix.entry(registry.prefix.clone()).or_insert(registry);
    }
    Ok(by_prefix.into_values().collect())
}

/// What identifies "the same registry" for conflict checks: its location, or the wildcard
/// prefix when there is no location.
fn registry_identity(registry: &Registry) -> &str {
    if registry.location.is_empty() {
        &registry.prefix
    } else {
        &registry.location
    }
}

/// distribution/reference's domain grammar: dot-separated host components (or a bracketed
/// IPv6 address) and an optional numeric port.
fn is_valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port))
            if !host.ends_with(':')
                && (host.starts_with('[') == host.ends_with(']'))
                && !port.contains(']') =>
        {
            (host, Some(port))
        }
        _ => (domain, None),
    };
    if port.is_some_and(|port| port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    if let Some(address) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !address.is_empty()
            && address
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    }
    !host.is_empty()
        && host.split('.').all(|component| {
            let bytes = component.as_bytes();
            !bytes.is_empty()
                && bytes[0].is_ascii_alphanumeric()
                && bytes[bytes.len() - 1].is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        })
}
