//! The edits `login` and `logout` make: set, remove or clear entries in the primary auth
//! file (or the Docker-format compat file) or in credential helpers.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Serialize as _;
use serde_json::{Map, Value};
use skopos_core::go::text::{go_errno_text, go_quote};

use super::DOCKER_HUB_LEGACY_KEY;
use super::{combine_errors, helper, validate_key, AuthError, AuthFiles, AUTH_FILE_HELPER};

/// An auth file opened for editing: the entries edits touch, and everything else verbatim.
struct EditableAuthFile {
    /// Top-level keys other than `auths` (and `credHelpers`), kept as they were.
    other: Map<String, Value>,
    /// `auths`, entry bodies kept verbatim so that unknown entry fields survive.
    auths: Map<String, Value>,
    cred_helpers: BTreeMap<String, String>,
    /// Whether `credHelpers` was in the file (it is written back only then, or when cleared).
    had_cred_helpers: bool,
    creds_store: Option<String>,
}

/// Which file an edit goes to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EditTarget {
    /// The primary containers auth file.
    Primary,
    /// `--compat-auth-file`: Docker's format and Docker's key for Docker Hub.
    DockerCompat,
}

/// What an edit did to the file.
struct EditResult {
    /// Whether the file must be written back.
    updated: bool,
    /// A description of where the credentials went, when not the file itself.
    description: Option<String>,
}

/// The helpers to use, the edit target, the key as stored, and whether it is namespaced.
fn prepare_for_edit(
    files: &AuthFiles,
    key: &str,
) -> Result<(Vec<String>, EditTarget, String, bool), AuthError> {
    let namespaced = validate_key(key)?;
    if files.compat_auth_file.is_some() {
        if files.auth_file.is_some() {
            return Err(AuthError::ConflictingAuthFiles);
        }
        if namespaced {
            return Err(AuthError::NamespacedCompatKey(key.to_string()));
        }
        let key = if key == "docker.io" {
            DOCKER_HUB_LEGACY_KEY.to_string()
        } else {
            key.to_string()
        };
        // Docker does not know registries.conf helpers, so the compat file stands alone.
        return Ok((
            vec![AUTH_FILE_HELPER.to_string()],
            EditTarget::DockerCompat,
            key,
            false,
        ));
    }
    Ok((
        files.helpers(),
        EditTarget::Primary,
        key.to_string(),
        namespaced,
    ))
}

/// Stores `username` / `password` for `key` and returns a human-readable description of
/// where they went (the file path, or `credential helper: NAME`), as `login --verbose` shows.
pub fn set_credentials(
    files: &AuthFiles,
    key: &str,
    username: &str,
    password: &str,
) -> Result<String, AuthError> {
    let (helpers, target, key, namespaced) = prepare_for_edit(files, key)?;
    let mut errors = Vec::new();
    for helper_name in helpers {
        let stored = if helper_name == AUTH_FILE_HELPER {
            edit_auth_file(files, target, |contents| {
                if let Some(inner) = contents.cred_helpers.get(&key) {
                    if namespaced {
                        return Err(AuthError::NamespacedHelperKey(inner.clone()));
                    }
                    helper::store(inner, &key, username, password, &files.env)?;
                    return Ok(EditResult {
                        updated: false,
                        description: Some(format!("credential helper: {inner}")),
                    });
                }
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                let mut entry = Map::new();
                entry.insert("auth".to_string(), Value::String(encoded));
                contents.auths.insert(key.clone(), Value::Object(entry));
                Ok(EditResult {
                    updated: true,
                    description: None,
                })
            })
        } else if namespaced {
            Err(AuthError::NamespacedHelperKey(helper_name.clone()))
        } else {
            helper::store(&helper_name, &key, username, password, &files.env)
                .map(|()| format!("credential helper: {helper_name}"))
        };
        match stored {
            Ok(description) => return Ok(description),
            Err(err) => errors.push(err),
        }
    }
    Err(combine_errors(errors))
}

/// Removes the credentials stored for exactly `key` from the primary file (or compat file)
/// and the helpers; [`AuthError::NotLoggedIn`] if there were none.
pub fn remove_credentials(files: &AuthFiles, key: &str) -> Result<(), AuthError> {
    let display_key = key.to_string();
    let (helpers, target, key, namespaced) = prepare_for_edit(files, key)?;
    let mut logged_in = false;
    let mut errors = Vec::new();
    let erase_from_helper = |helper_name: &str, logged_in: &mut bool| -> Result<(), AuthError> {
        if namespaced {
            // Helpers only know registries; nothing of a namespaced key can be there.
            return Ok(());
        }
        match helper::erase(helper_name, &key, &files.env) {
            Ok(erased) => {
                *logged_in |= erased;
                Ok(())
            }
            Err(err) => Err(AuthError::Helper {
                helper: helper_name.to_string(),
                message: format!(
                    "removing credentials for {key} from credential helper {helper_name}: {err}"
                ),
            }),
        }
    };
    for helper_name in helpers {
        let result = if helper_name == AUTH_FILE_HELPER {
            edit_auth_file(files, target, |contents| {
                let mut updated = false;
                if let Some(inner) = contents.cred_helpers.get(&key).cloned() {
                    erase_from_helper(&inner, &mut logged_in)?;
                } else if let Some(store) = contents.creds_store.clone() {
                    // Docker keeps everything in its credential store when one is set.
                    erase_from_helper(&store, &mut logged_in)?;
                }
                if contents.auths.remove(&key).is_some() {
                    logged_in = true;
                    updated = true;
                }
                Ok(EditResult {
                    updated,
                    description: None,
                })
            })
            .map(|_| ())
        } else {
            erase_from_helper(&helper_name, &mut logged_in)
        };
        if let Err(err) = result {
            errors.push(err);
        }
    }
    if !errors.is_empty() {
        return Err(combine_errors(errors));
    }
    if !logged_in {
        return Err(AuthError::NotLoggedIn(display_key));
    }
    Ok(())
}

/// Removes every stored credential (`logout --all`): empties the primary (or compat) file's
/// `auths`, erases what its `credHelpers` point to, and empties the other helpers.
pub fn remove_all_credentials(files: &AuthFiles) -> Result<(), AuthError> {
    let (helpers, target) = if files.compat_auth_file.is_some() {
        if files.auth_file.is_some() {
            return Err(AuthError::ConflictingAuthFiles);
        }
        (vec![AUTH_FILE_HELPER.to_string()], EditTarget::DockerCompat)
    } else {
        (files.helpers(), EditTarget::Primary)
    };
    let mut errors = Vec::new();
    for helper_name in helpers {
        let result = if helper_name == AUTH_FILE_HELPER {
            edit_auth_file(files, target, |contents| {
                for (registry, inner) in &contents.cred_helpers {
                    helper::erase(inner, registry, &files.env)?;
                }
                if target == EditTarget::Primary {
                    contents.cred_helpers.clear();
                }
                contents.auths.clear();
                Ok(EditResult {
                    updated: true,
                    description: None,
                })
            })
            .map(|_| ())
        } else {
            match helper::list(&helper_name, &files.env) {
                Ok(servers) => servers.keys().try_for_each(|server| {
                    helper::erase(&helper_name, server, &files.env).map(|_| ())
                }),
                // A helper that is not installed holds nothing.
                Err(err) if helper::is_not_installed(&err) => Ok(()),
                Err(err) => Err(err),
            }
        };
        if let Err(err) = result {
            errors.push(err);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(combine_errors(errors))
    }
}

fn file_error(path: &Path, message: String) -> AuthError {
    AuthError::File {
        path: path.to_path_buf(),
        message,
    }
}

fn quoted_path(path: &Path) -> String {
    go_quote(&path.display().to_string())
}

/// Opens the target file (creating its directory with mode 0700), applies `editor`, and
/// writes the result back atomically with mode 0600 if the editor changed it. Returns the
/// editor's description, or the file path.
fn edit_auth_file(
    files: &AuthFiles,
    target: EditTarget,
    editor: impl FnOnce(&mut EditableAuthFile) -> Result<EditResult, AuthError>,
) -> Result<String, AuthError> {
    let path: PathBuf = match target {
        EditTarget::DockerCompat => files
            .compat_auth_file
            .clone()
            .ok_or(AuthError::ConflictingAuthFiles)?,
        EditTarget::Primary => files.primary_path()?.path,
    };
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|err| {
                file_error(
                    &path,
                    format!("mkdir {}: {}", dir.display(), go_errno_text(&err)),
                )
            })?;
    }
    let mut contents = read_editable(&path)?;
    let result = editor(&mut contents)
        .map_err(|err| file_error(&path, format!("updating {}: {err}", quoted_path(&path))))?;
    if result.updated {
        write_editable(&path, contents, target)?;
    }
    Ok(result
        .description
        .unwrap_or_else(|| path.display().to_string()))
}

fn read_editable(path: &Path) -> Result<EditableAuthFile, AuthError> {
    let reading = |detail: String| {
        file_error(
            path,
            format!("reading JSON file {}: {detail}", quoted_path(path)),
        )
    };
    let mut other: Map<String, Value> = match skopos_core::limits::read_file_at_most_blocking(
        path,
        skopos_core::limits::MAX_CONFIG_FILE,
    ) {
        Ok(raw) => serde_json::from_slice(&raw)
            .map_err(|err| reading(format!("unmarshaling JSON at {}: {err}", quoted_path(path))))?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Err(err) => {
            return Err(reading(format!(
                "open {}: {}",
                path.display(),
                go_errno_text(&err)
            )))
        }
    };
    let auths = match other.remove("auths") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(auths)) => auths,
        Some(_) => {
            return Err(reading(format!(
                "unmarshaling JSON at {}: \"auths\" is not an object",
                quoted_path(path)
            )))
        }
    };
    let had_cred_helpers = other.contains_key("credHelpers");
    let cred_helpers = match other.remove("credHelpers") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => serde_json::from_value(value).map_err(|err| {
            reading(format!(
                "unmarshaling \"credHelpers\" in JSON at {}: {err}",
                quoted_path(path)
            ))
        })?,
    };
    let creds_store = other
        .get("credsStore")
        .and_then(Value::as_str)
        .filter(|store| !store.is_empty())
        .map(str::to_string);
    Ok(EditableAuthFile {
        other,
        auths,
        cred_helpers,
        had_cred_helpers,
        creds_store,
    })
}

fn write_editable(
    path: &Path,
    contents: EditableAuthFile,
    target: EditTarget,
) -> Result<(), AuthError> {
    let EditableAuthFile {
        mut other,
        auths,
        cred_helpers,
        had_cred_helpers,
        ..
    } = contents;
    other.insert("auths".to_string(), Value::Object(auths));
    // The containers format omits an empty credHelpers; Docker's file keeps what it had.
    let keep_cred_helpers = match target {
        EditTarget::Primary => !cred_helpers.is_empty(),
        EditTarget::DockerCompat => had_cred_helpers,
    };
    if keep_cred_helpers {
        let helpers = cred_helpers
            .into_iter()
            .map(|(registry, helper)| (registry, Value::String(helper)))
            .collect();
        other.insert("credHelpers".to_string(), Value::Object(helpers));
    }
    // Go's json.MarshalIndent(…, "", "\t"): sorted keys, tab indentation, no final newline.
    let mut data = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut serializer = serde_json::Serializer::with_formatter(&mut data, formatter);
    Value::Object(other)
        .serialize(&mut serializer)
        .map_err(|err| {
            file_error(
                path,
                format!("marshaling JSON {}: {err}", quoted_path(path)),
            )
        })?;
    write_atomically(path, &data).map_err(|err| {
        file_error(
            path,
            format!(
                "writing to file {}: {}",
                quoted_path(path),
                go_errno_text(&err)
            ),
        )
    })
}

/// Writes `data` to a temporary file next to `path` with mode 0600, then renames it over
/// `path`, so that readers never see a partial file.
fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".auth.json")
        .tempfile_in(dir)?;
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    temp.write_all(data)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|err| err.error)?;
    Ok(())
}
