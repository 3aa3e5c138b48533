//! The `docker-credential-<name>` helper protocol (docker-credential-helpers' client): the
//! action is the only argument, the request is on stdin, the answer on stdout.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Write as _;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::{AuthError, Environment};
use skopos_core::{Credentials, Secret};

/// The message helpers print when they hold nothing for a server.
const CREDENTIALS_NOT_FOUND: &str = "credentials not found in native keychain";

/// The helper user name that marks the secret as an identity token.
const TOKEN_USERNAME: &str = "<token>";

/// A helper action (its single command-line argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelperAction {
    /// Read the credentials for the server URL given on stdin.
    Get,
    /// Store the credentials given on stdin as JSON.
    Store,
    /// Delete the credentials for the server URL given on stdin.
    Erase,
    /// List every server URL with stored credentials and its user name.
    List,
}

impl HelperAction {
    fn argument(self) -> &'static str {
        match self {
            HelperAction::Get => "get",
            HelperAction::Store => "store",
            HelperAction::Erase => "erase",
            HelperAction::List => "list",
        }
    }

    /// The verb in docker-credential-helpers' error messages.
    fn verb(self) -> &'static str {
        match self {
            HelperAction::Get => "getting",
            HelperAction::Store => "storing",
            HelperAction::Erase => "erasing",
            HelperAction::List => "listing",
        }
    }
}

/// What running a helper produced.
#[derive(Debug, PartialEq, Eq)]
pub enum HelperOutcome {
    /// Exit status 0; the helper's stdout.
    Success(Vec<u8>),
    /// The helper reported that it holds no credentials for the server.
    CredentialsNotFound,
}

/// Runs `docker-credential-<helper> <action>` found on `search_path` (which is also the
/// helper's `PATH`), with `input` on stdin.
pub fn run_credential_helper(
    helper: &str,
    action: HelperAction,
    input: &[u8],
    search_path: Option<&OsStr>,
) -> Result<HelperOutcome, AuthError> {
    let program = format!("docker-credential-{helper}");
    let failure = |message: String| AuthError::Helper {
        helper: helper.to_string(),
        message,
    };
    let executable = skopos_core::exec::look_path(&program, search_path).ok_or_else(|| {
        failure(format!(
            "error {} credentials - err: exec: \"{program}\": executable file not found in $PATH, out: ``",
            action.verb()
        ))
    })?;
    let mut command = Command::new(&executable);
    command
        .arg(action.argument())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.env("PATH", search_path.unwrap_or_default());
    let mut child = command
        .spawn()
        .map_err(|err| failure(format!("running {}: {err}", executable.display())))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading its input is judged by its exit status.
        let _ = stdin.write_all(input);
    }
    let output = child
        .wait_with_output()
        .map_err(|err| failure(format!("running {}: {err}", executable.display())))?;
    if output.status.success() {
        return Ok(HelperOutcome::Success(output.stdout));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stdout = stdout.trim();
    if stdout == CREDENTIALS_NOT_FOUND {
        return Ok(HelperOutcome::CredentialsNotFound);
    }
    let status = match output.status.code() {
        Some(code) => format!("exit status {code}"),
        None => "signal: killed".to_string(),
    };
    Err(failure(format!(
        "error {} credentials - err: {status}, out: `{stdout}`",
        action.verb()
    )))
}

#[derive(Deserialize)]
struct HelperCredentials {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

#[derive(Serialize)]
struct StoreRequest<'a> {
    #[serde(rename = "ServerURL")]
    server_url: &'a str,
    #[serde(rename = "Username")]
    username: &'a str,
    #[serde(rename = "Secret")]
    secret: &'a str,
}

fn search_path(env: &Environment) -> Option<&OsStr> {
    env.path.as_deref()
}

/// The credentials `helper` holds for `server`, or `None`.
pub(super) fn get(
    helper: &str,
    server: &str,
    env: &Environment,
) -> Result<Option<Credentials>, AuthError> {
    let outcome = run_credential_helper(
        helper,
        HelperAction::Get,
        server.as_bytes(),
        search_path(env),
    )?;
    let HelperOutcome::Success(stdout) = outcome else {
        return Ok(None);
    };
    let answer: HelperCredentials =
        serde_json::from_slice(&stdout).map_err(|err| AuthError::Helper {
            helper: helper.to_string(),
            message: format!("error getting credentials - err: {err}"),
        })?;
    if answer.username == TOKEN_USERNAME {
        return Ok(
            (!answer.secret.is_empty()).then_some(Credentials::IdentityToken {
                username: None,
                token: Secret::new(answer.secret),
            }),
        );
    }
    if answer.username.is_empty() && answer.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials::basic(answer.username, answer.secret)))
}

/// Stores `username` / `secret` for `server` in `helper`.
pub(super) fn store(
    helper: &str,
    server: &str,
    username: &str,
    secret: &str,
    env: &Environment,
) -> Result<(), AuthError> {
    let request = StoreRequest {
        server_url: server,
        username,
        secret,
    };
    let input = serde_json::to_vec(&request).map_err(|err| AuthError::Helper {
        helper: helper.to_string(),
        message: format!("error storing credentials - err: {err}"),
    })?;
    match run_credential_helper(helper, HelperAction::Store, &input, search_path(env))? {
        HelperOutcome::Success(_) => Ok(()),
        HelperOutcome::CredentialsNotFound => Err(AuthError::Helper {
            helper: helper.to_string(),
            message: format!("error storing credentials - out: `{CREDENTIALS_NOT_FOUND}`"),
        }),
    }
}

/// Erases `server` from `helper`; `Ok(false)` when the helper held nothing for it.
pub(super) fn erase(helper: &str, server: &str, env: &Environment) -> Result<bool, AuthError> {
    match run_credential_helper(
        helper,
        HelperAction::Erase,
        server.as_bytes(),
        search_path(env),
    )? {
        HelperOutcome::Success(_) => Ok(true),
        HelperOutcome::CredentialsNotFound => Ok(false),
    }
}

/// The servers `helper` holds credentials for (server → username).
pub(super) fn list(helper: &str, env: &Environment) -> Result<BTreeMap<String, String>, AuthError> {
    match run_credential_helper(helper, HelperAction::List, b"", search_path(env))? {
        HelperOutcome::Success(stdout) => {
            serde_json::from_slice(&stdout).map_err(|err| AuthError::Helper {
                helper: helper.to_string(),
                message: format!("error listing credentials - err: {err}"),
            })
        }
        HelperOutcome::CredentialsNotFound => Ok(BTreeMap::new()),
    }
}

/// Whether an error says the helper program is not installed.
pub(super) fn is_not_installed(err: &AuthError) -> bool {
    matches!(err, AuthError::Helper { message, .. } if message.contains("executable file not found"))
}
