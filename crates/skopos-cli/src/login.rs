//! `login` and `logout`: check credentials against a registry, then store or remove them
//! in auth.json (or a credential helper), with skopeo's messages.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{anyhow, bail, Context as _};
use skopos_config::auth::{self, AuthFiles, Environment};
use skopos_core::{Credentials, SystemContext};

use crate::cli::{GlobalArgs, LoginArgs, LogoutArgs};

/// The registry (or `registry/namespace…`) a login applies to: an `http(s)://` prefix and a
/// trailing slash are dropped; tags and digests are refused.
fn login_key(argument: &str) -> anyhow::Result<String> {
    let key = argument
        .strip_prefix("https://")
        .or_else(|| argument.strip_prefix("http://"))
        .unwrap_or(argument)
        .trim_end_matches('/')
        .to_string();
    auth::validate_key(&key)?;
    Ok(key)
}

fn auth_files(
    authfile: Option<std::path::PathBuf>,
    compat: Option<std::path::PathBuf>,
) -> AuthFiles {
    AuthFiles::for_login(Environment::from_process(), authfile, compat, Vec::new())
}

/// `login REGISTRY`.
pub async fn login(
    global: &GlobalArgs,
    args: &LoginArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if args.authfile.is_some() && args.compat_auth_file.is_some() {
        bail!("options for paths to the credential file and to the Docker-compatible credential file can not be set simultaneously");
    }
    let [argument] = args.args.as_slice() else {
        bail!("login accepts only one registry to log in to");
    };
    let key = login_key(argument)?;
    let host = key.split('/').next().unwrap_or(&key).to_string();
    let files = auth_files(args.authfile.clone(), args.compat_auth_file.clone());
    let stored = auth::get_credentials(&files, &key)?;
    if args.get_login {
        return match stored.username() {
            Some(username) if !username.is_empty() => {
                writeln!(out, "{username}")?;
                Ok(())
            }
            _ => Err(anyhow!("not logged into {key}")),
        };
    }
    if matches!(stored, Credentials::IdentityToken { .. }) {
        bail!("currently logged in, auth file contains an Identity token");
    }
    if args.password_stdin && args.password.is_some() {
        bail!("--password and --password-stdin are mutually exclusive");
    }
    if args.password_stdin && args.username.is_none() {
        bail!("Must provide --username with --password-stdin");
    }
    let given_password = if args.password_stdin {
        let mut lines = Vec::new();
        for line in std::io::stdin().lock().lines() {
            lines.push(line.context("reading the password from stdin")?);
        }
        lines.concat()
    } else {
        args.password.clone().unwrap_or_default()
    };
    // Like skopeo: with neither a username nor a password given, stored credentials that
    // still work make the login a no-op; stored ones that fail lead to the prompts.
    if args.username.is_none() && given_password.is_empty() {
        if let Credentials::Basic { username, password } = &stored {
            if !username.is_empty() && !password.expose().is_empty() {
                writeln!(out, "Authenticating with existing credentials for {key}")?;
                if check_credentials(global, args, &host, username, password.expose())
                    .await
                    .is_ok()
                {
                    writeln!(
                        out,
                        "Existing credentials are valid. Already logged in to {host}"
                    )?;
                    return Ok(());
                }
                writeln!(
                    out,
                    "Existing credentials are invalid, please enter valid username and password"
                )?;
            }
        }
    }
    let username = match &args.username {
        Some(username) => username.clone(),
        None => prompt_username(stored.username(), out).context("getting username and password")?,
    };
    let password = if given_password.is_empty() {
        prompt_password(out).context("getting username and password")?
    } else {
        given_password
    };
    if username.is_empty() || password.is_empty() {
        bail!("username and password must not be empty");
    }
    check_credentials(global, args, &host, &username, &password)
        .await
        .map_err(|err| {
            if skopos_registry::RegistryError::unauthorized_in(&err).is_some() {
                anyhow!(
                    "logging into {}: invalid username/password",
                    skopos_core::go::text::go_quote(&key)
                )
            } else {
                err.context(format!(
                    "authenticating creds for {}",
                    skopos_core::go::text::go_quote(&key)
                ))
            }
        })?;
    let used = auth::set_credentials(&files, &key, &username, &password)?;
    if args.verbose {
        // skopeo prints this with Println("Used: ", file): two spaces.
        writeln!(out, "Used:  {used}")?;
    }
    writeln!(out, "Login Succeeded!")?;
    Ok(())
}

/// Whether registry `host` accepts `username` / `password`, with the login's TLS settings.
async fn check_credentials(
    global: &GlobalArgs,
    args: &LoginArgs,
    host: &str,
    username: &str,
    password: &str,
) -> anyhow::Result<()> {
    let mut ctx = SystemContext {
        docker_cert_dir: args.cert_dir.clone(),
        docker_tls_verify: args.tls_verify,
        docker_credentials: Some(Credentials::basic(username, password)),
        ..crate::copy::base_context(global)
    };
    ctx.auth_file = args.authfile.clone();
    skopos_transports::docker::check_credentials(host, &ctx).await
}

/// Ask for the username on stdin (a terminal or not, as skopeo does), offering the stored
/// one as the default for an empty answer.
fn prompt_username(stored: Option<&str>, out: &mut dyn Write) -> anyhow::Result<String> {
    match stored.filter(|username| !username.is_empty()) {
        Some(stored) => write!(out, "Username ({stored}): ")?,
        None => write!(out, "Username: ")?,
    }
    out.flush()?;
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading username")?;
    if read == 0 {
        bail!("reading username: EOF");
    }
    let answer = line.trim();
    Ok(match (answer.is_empty(), stored) {
        (true, Some(stored)) => stored.to_string(),
        _ => answer.to_string(),
    })
}

/// Ask for the password on the terminal without echo.
fn prompt_password(out: &mut dyn Write) -> anyhow::Result<String> {
    write!(out, "Password: ")?;
    out.flush()?;
    if !std::io::stdin().is_terminal() {
        // skopeo reads the password from stdin with terminal echo off, which fails this way.
        bail!("reading password: inappropriate ioctl for device");
    }
    rpassword::read_password().context("reading password")
}

/// `logout REGISTRY` / `logout --all`.
pub fn logout(args: &LogoutArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if args.authfile.is_some() && args.compat_auth_file.is_some() {
        bail!("options for paths to the credential file and to the Docker-compatible credential file can not be set simultaneously");
    }
    let files = auth_files(args.authfile.clone(), args.compat_auth_file.clone());
    if args.all {
        auth::remove_all_credentials(&files)?;
        writeln!(out, "Removed login credentials for all registries")?;
        return Ok(());
    }
    let [argument] = args.args.as_slice() else {
        bail!("logout accepts only one registry to log out from");
    };
    let key = login_key(argument)?;
    auth::remove_credentials(&files, &key)?;
    writeln!(out, "Removed login credentials for {key}")?;
    Ok(())
}
