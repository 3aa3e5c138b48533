//! From a docker reference and a [`SystemContext`] to a connected registry client:
//! registries.conf (rewrites, mirrors, `insecure`, `blocked`), credentials (command line,
//! then auth files and credential helpers) and TLS material (certs.d).

use std::future::Future;
use std::sync::{Mutex, PoisonError};

use anyhow::{anyhow, Context as _};
use skopos_config::auth::{self, AuthFiles, Environment};
use skopos_config::certs::{load_cert_dir, CertRoots};
use skopos_config::registries::{self, RegistriesConf, RegistriesConfSearch, ResolvedReference};
use skopos_core::reference::DockerReference;
use skopos_core::{Result, SystemContext};
use skopos_registry::{ClientConfig, RegistryClient};

tokio::task_local! {
    /// The clients made in a [`sharing_registry_clients`] scope, with the settings each
    /// was made for.
    static SHARED_CLIENTS: Mutex<Vec<(ClientConfig, RegistryClient)>>;
}

/// Run `work` with one registry client for all the images it opens with the same
/// registry and settings (a `sync` opens several per image): each registry is pinged once,
/// and its connections and tokens are reused. Only what `work` itself opens shares them,
/// not tasks it spawns; those make clients of their own.
pub async fn sharing_registry_clients<F: Future>(work: F) -> F::Output {
    SHARED_CLIENTS.scope(Mutex::new(Vec::new()), work).await
}

/// A registry client for one repository.
pub(crate) struct Endpoint {
    pub client: RegistryClient,
    /// The repository path within the registry (`library/busybox`).
    pub repository: String,
    /// The reference as it applies at this endpoint (rewritten by registries.conf).
    pub reference: DockerReference,
}

/// One place an image can be read from, in the order to try them.
pub(crate) struct PullCandidate {
    pub reference: DockerReference,
    pub insecure: bool,
}

/// The parsed registries.conf for this context.
pub(crate) fn registries_conf(env: &Environment, ctx: &SystemContext) -> Result<RegistriesConf> {
    let search = RegistriesConfSearch::new(
        env.home.clone(),
        ctx.registries_conf.clone(),
        std::env::var_os("CONTAINERS_REGISTRIES_CONF").map(Into::into),
    );
    Ok(registries::load(&search)?)
}

/// What registries.conf says about `reference`; an error when it blocks the registry.
fn resolve_unblocked(
    reference: &DockerReference,
    conf: &RegistriesConf,
) -> Result<ResolvedReference> {
    let resolved = conf.resolve(reference)?;
    if resolved.blocked {
        let prefix = resolved.prefix.as_deref().unwrap_or(reference.domain());
        return Err(anyhow!(conf.blocked_message(prefix)));
    }
    Ok(resolved)
}

/// Where to pull `reference` from: mirrors first, the primary location last. Fails when
/// registries.conf blocks the registry.
pub(crate) fn pull_candidates(
    reference: &DockerReference,
    conf: &RegistriesConf,
) -> Result<Vec<PullCandidate>> {
    Ok(resolve_unblocked(reference, conf)?
        .pull_sources
        .into_iter()
        .map(|source| PullCandidate {
            reference: source.reference,
            insecure: source.insecure,
        })
        .collect())
}

/// A client for `reference`'s repository at its own registry (no mirrors): for pushes,
/// deletes and tag listing.
pub(crate) fn connect_primary(
    reference: &DockerReference,
    ctx: &SystemContext,
) -> Result<Endpoint> {
    let env = Environment::from_process();
    let conf = registries_conf(&env, ctx)?;
    let resolved = resolve_unblocked(reference, &conf)?;
    let target = PullCandidate {
        reference: resolved.push_reference,
        insecure: resolved.insecure,
    };
    connect(&target, &env, &conf, ctx)
}

/// The tag or digest to ask the registry for.
pub(crate) fn tag_or_digest(reference: &DockerReference) -> String {
    match (reference.digest(), reference.tag()) {
        (Some(digest), _) => digest.to_string(),
        (None, Some(tag)) => tag.to_string(),
        (None, None) => "latest".to_string(),
    }
}

/// A client for the registry of `target`, with the credentials and TLS settings that
/// apply to it.
pub(crate) fn connect(
    target: &PullCandidate,
    env: &Environment,
    conf: &RegistriesConf,
    ctx: &SystemContext,
) -> Result<Endpoint> {
    let reference = &target.reference;
    Ok(Endpoint {
        client: client_for(
            reference.domain(),
            &reference.name(),
            target.insecure,
            env,
            conf,
            ctx,
        )?,
        repository: reference.path().to_string(),
        reference: reference.clone(),
    })
}

/// A client for registry `host`; `auth_key` (`host[/namespace…]`) selects the stored
/// credentials when the command line gives none.
pub(crate) fn client_for(
    host: &str,
    auth_key: &str,
    insecure: bool,
    env: &Environment,
    conf: &RegistriesConf,
    ctx: &SystemContext,
) -> Result<RegistryClient> {
    let tls_verify = ctx.docker_tls_verify.unwrap_or(!insecure);
    let cert_dir =
        CertRoots::new(env.home.as_deref()).cert_dir(ctx.docker_cert_dir.as_deref(), host)?;
    let tls = match cert_dir {
        Some(dir) => load_cert_dir(&dir)?,
        None => Default::default(),
    };
    let credentials = match &ctx.docker_credentials {
        Some(given) => given.clone(),
        None => {
            let files = AuthFiles::for_image_access(
                env.clone(),
                ctx.auth_file.clone(),
                conf.credential_helpers.clone(),
            );
            auth::get_credentials(&files, auth_key)
                .with_context(|| format!("getting credentials for {auth_key}"))?
        }
    };
    let defaults = ClientConfig::new(host);
    let config = ClientConfig {
        // Docker Hub's API lives on another host than its name.
        registry: if host == "docker.io" {
            "registry-1.docker.io".to_string()
        } else {
            host.to_string()
        },
        tls_verify,
        insecure_http_allowed: !tls_verify,
        ca_certs_pem: tls.ca_certificates.into_iter().map(|c| c.pem).collect(),
        client_identity_pem: tls.client_identities.into_iter().next().map(|identity| {
            let mut pem = identity.cert_pem;
            pem.extend_from_slice(b"\n");
            pem.extend_from_slice(&identity.key_pem);
            pem
        }),
        credentials,
        user_agent: ctx.user_agent.clone().unwrap_or(defaults.user_agent),
        retry_base_delay: defaults.retry_base_delay,
    };
    let shared = SHARED_CLIENTS.try_with(|clients| {
        let mut clients = clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, client)) = clients.iter().find(|(made_for, _)| *made_for == config) {
            return Ok(client.clone());
        }
        let client = RegistryClient::new(config.clone())?;
        clients.push((config.clone(), client.clone()));
        Ok(client)
    });
    // Outside a sharing scope: a client of its own.
    shared.unwrap_or_else(|_| RegistryClient::new(config))
}
