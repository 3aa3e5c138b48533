//! `login` and `logout`: check credentials against a registry, then store or remove them
//! in auth.json (or a credential helper), with skopeo's messages.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{anyhow, bail, Context as _};
use skopos_config::auth::{self, AuthFiles, Credentials, Environment};
use skopos_core::{DockerCredentials, Secret, SystemContext};

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
        bail!("login accepts only one registry to login to");
    };
    let key = login_key(argument)?;
    let host = key.split('/').next().unwrap_or(&key).to_string();
    let files = auth_files(args.authfile.clone(), args.compat_auth_file.clone());
    if args.get_login {
        return match auth::get_credentials(&files, &key)? {
            Credentials::Anonymous => Err(anyhow!("not logged into {key}")),
            stored => {
                writeln!(out, "{}", stored.username().unwrap_or_default())?;
                Ok(())
            }
        };
    }
    if args.password_stdin && args.password.is_some() {
        bail!("--password and --password-stdin are mutually exclusive");
    }
    if args.password_stdin && args.username.is_none() {
        bail!("Must provide --username with --password-stdin");
    }
    let username = match &args.username {
        Some(username) => username.clone(),
        None => prompt("Username: ", out)?,
    };
    let password = if args.password_stdin {
        let mut lines = Vec::new();
        for line in std::io::stdin().lock().lines() {
            lines.push(line.context("reading the password from stdin")?);
        }
        lines.concat()
    } else {
        match &args.password {
            Some(password) => password.clone(),
            None => rpassword::prompt_password("Password: ")
                .context("reading the password from the terminal")?,
        }
    };
    if username.is_empty() || password.is_empty() {
        bail!("username and password must not be empty");
    }
    let mut ctx = SystemContext {
        docker_cert_dir: args.cert_dir.clone(),
        docker_tls_verify: args.tls_verify,
        docker_credentials: Some(DockerCredentials::Basic {
            username: username.clone(),
            password: Secret::new(password.clone()),
        }),
        ..crate::copy::base_context(global)
    };
    ctx.auth_file = args.authfile.clone();
    skopos_transports::docker::check_credentials(&host, &ctx)
        .await
        .map_err(|err| {
            if is_unauthorized(&err) {
                anyhow!(
                    "logging into {}: invalid username/password",
                    crate::logging::go_quote(&key)
                )
            } else {
                err.context(format!(
                    "authenticating creds for {}",
                    crate::logging::go_quote(&key)
                ))
            }
        })?;
    let used = auth::set_credentials(&files, &key, &username, &password)?;
    if args.verbose {
        writeln!(out, "Used: {used}")?;
    }
    writeln!(out, "Login Succeeded!")?;
    Ok(())
}

/// Whether the registry refused the credentials.
fn is_unauthorized(err: &anyhow::Error) -> bool {
    let text = format!("{err:#}").to_lowercase();
    text.contains("unauthorized") || text.contains("authentication required")
}

/// Ask for a line on the terminal.
fn prompt(question: &str, out: &mut dyn Write) -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!("no username given (use --username) and stdin is not a terminal to ask for one");
    }
    write!(out, "{question}")?;
    out.flush()?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the username")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
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
        bail!("logout accepts only one registry to logout from");
    };
    let key = login_key(argument)?;
    auth::remove_credentials(&files, &key)?;
    writeln!(out, "Removed login credentials for {key}")?;
    Ok(())
}
