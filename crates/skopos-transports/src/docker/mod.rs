//! `docker://`: images in a container registry, through the `skopos-registry` client.
//! Which endpoint, credentials and TLS settings apply comes from the command line and
//! the configuration files (registries.conf, auth.json, certs.d), resolved in
//! its `settings` module.

mod attachments;
mod destination;
mod lookaside;
mod referrers;
mod settings;
mod source;

pub use destination::DockerDestination;
pub use referrers::DockerReferrers;
pub use settings::sharing_registry_clients;
pub use source::DockerSource;

use skopos_config::auth::Environment;
use skopos_core::blob_info_cache::BlobLocation;
use skopos_core::reference::DockerReference;
use skopos_core::{Digest, Result, SystemContext};

/// Where the blob-info cache records blobs of `reference`'s repository, as containers/image
/// records them: transport `docker`, the registry host as scope (blobs can be mounted
/// across it), the repository's full name as location.
pub fn blob_location(reference: &DockerReference) -> BlobLocation {
    BlobLocation {
        transport: "docker".to_string(),
        scope: reference.domain().to_string(),
        location: reference.name(),
    }
}

/// What a `HEAD` of a source image's manifest tells, for deciding that a copy has nothing
/// to do without reading the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceHead {
    /// The manifest's digest (`Docker-Content-Digest`).
    pub digest: Digest,
    /// Its MIME type.
    pub media_type: String,
    /// Whether the lookaside holds signatures of it.
    pub signed: bool,
}

/// The manifest `reference` names at the registry a pull reads from, by one `HEAD`, and
/// whether it has signatures in the lookaside. `None` when that cannot be told without
/// more requests or a `GET`: registries.conf names mirrors, sigstore attachments are
/// enabled, the registry sends no digest or does not have the manifest.
pub async fn head_source(
    reference: &DockerReference,
    ctx: &SystemContext,
) -> Result<Option<SourceHead>> {
    let env = Environment::from_process();
    let conf = settings::registries_conf(&env, ctx)?;
    let candidates = settings::pull_candidates(reference, &conf)?;
    let [candidate] = candidates.as_slice() else {
        return Ok(None);
    };
    let endpoint = settings::connect(candidate, &env, &conf, ctx)?;
    let storage = lookaside::storage_for(&endpoint.reference, ctx, &env, false)?;
    if storage.sigstore_attachments {
        return Ok(None);
    }
    let head = endpoint
        .client
        .head_manifest(
            &endpoint.repository,
            &settings::tag_or_digest(&endpoint.reference),
        )
        .await?;
    let Some((digest, media_type)) = head.and_then(|head| Some((head.digest?, head.media_type)))
    else {
        return Ok(None);
    };
    let signatures =
        lookaside::read_signatures(&storage.lookaside, &endpoint.client, &digest).await?;
    Ok(Some(SourceHead {
        digest,
        media_type,
        signed: !signatures.is_empty(),
    }))
}

/// The digest of the manifest `reference` names at the registry a push writes to, by one
/// `HEAD`; `None` when the registry does not have it, an error when it does not say the
/// digest.
pub async fn head_destination(
    reference: &DockerReference,
    ctx: &SystemContext,
) -> Result<Option<Digest>> {
    let endpoint = settings::connect_primary(reference, ctx)?;
    let head = endpoint
        .client
        .head_manifest(
            &endpoint.repository,
            &settings::tag_or_digest(&endpoint.reference),
        )
        .await?;
    match head {
        None => Ok(None),
        Some(head) => head.digest.map(Some).ok_or_else(|| {
            anyhow::anyhow!("the registry did not send the digest of manifest {reference}")
        }),
    }
}

/// Settle how the registry a push to `reference` writes to is reached (its scheme and
/// `/v2/` answer) before the first request needs it: a sync does this while it lists its
/// source, so the first images' checks do not each wait for it. Inside
/// [`sharing_registry_clients`] only; elsewhere the answer would be thrown away.
pub async fn ping_destination(reference: &DockerReference, ctx: &SystemContext) -> Result<()> {
    settings::connect_primary(reference, ctx)?
        .client
        .ping()
        .await
}

/// The tags of `reference`'s repository (`skopos list-tags docker://…`), following the
/// registry's pagination.
pub async fn repository_tags(
    reference: &DockerReference,
    ctx: &SystemContext,
) -> Result<Vec<String>> {
    let endpoint = settings::connect_primary(reference, ctx)?;
    endpoint.client.list_tags(&endpoint.repository).await
}

/// Delete the manifest `reference` names (`skopos delete docker://…`): a tag is resolved
/// to its digest first, so every tag pointing at that manifest goes with it, as in skopeo;
/// then its signatures in the write lookaside.
pub async fn delete_image(reference: &DockerReference, ctx: &SystemContext) -> Result<()> {
    let endpoint = settings::connect_primary(reference, ctx)?;
    let env = skopos_config::auth::Environment::from_process();
    let storage = lookaside::storage_for(&endpoint.reference, ctx, &env, true)?;
    let found = endpoint
        .client
        .get_manifest(&endpoint.repository, &settings::tag_or_digest(reference))
        .await;
    let (manifest, _) = match found {
        // containers/image's words for a manifest the registry does not have (exit status
        // 1: nothing was found to delete, which is no image lookup failing).
        Err(err) if skopos_core::error::is_image_not_found(&err) => anyhow::bail!(
            "Unable to delete {}. Image may not exist or is not stored with a v2 Schema in a v2 registry",
            endpoint.reference
        ),
        found => found?,
    };
    let digest = skopos_core::manifest::manifest_digest(&manifest)?;
    endpoint
        .client
        .delete_manifest(&endpoint.repository, &digest)
        .await?;
    // The manifest's simple signatures go with it, as containers/image removes them.
    lookaside::delete_signatures(&storage.lookaside, &digest, 0)
}

/// Check that the credentials in `ctx` are accepted by registry `host` (what `login` does
/// before storing them).
pub async fn check_credentials(host: &str, ctx: &SystemContext) -> Result<()> {
    let env = Environment::from_process();
    let conf = settings::registries_conf(&env, ctx)?;
    let insecure = conf
        .find_registry(host)
        .is_some_and(|registry| registry.insecure);
    let client = settings::client_for(host, host, insecure, &env, &conf, ctx)?;
    client.check_credentials().await
}
