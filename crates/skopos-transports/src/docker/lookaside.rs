//! Simple signatures of registry images, kept in "lookaside" storage beside the registry
//! (containers/image's `docker_image_src.go` / `docker_image_dest.go`): read from
//! `file://` and `http(s)://` locations, written to `file://` ones, at
//! `BASE/REPOSITORY@ALGORITHM=HEX/signature-N`.

use std::path::Path;

use anyhow::{anyhow, bail};
use skopos_config::auth::Environment;
use skopos_config::registries_d::{registries_d_dir, Lookaside, RegistriesD};
use skopos_core::go::text::{go_errno_text, go_quote};
use skopos_core::reference::DockerReference;
use skopos_core::signature_blob::{classify, SignatureKind};
use skopos_core::{Digest, Result, SystemContext};
use skopos_registry::RegistryClient;

/// More signatures than this is taken for a server error, as containers/image does.
const MAX_SIGNATURES: usize = 128;

/// The largest signature read (containers/image's `MaxSignatureBodySize`).
const MAX_SIGNATURE_SIZE: usize = 4 << 20;

/// Where registries.d says `reference`'s signatures are.
#[derive(Debug, Clone)]
pub(crate) struct SignatureStorage {
    /// Simple signatures.
    pub lookaside: Lookaside,
    /// Whether sigstore signatures are OCI attachments in the registry.
    pub sigstore_attachments: bool,
}

/// The signature storage of `reference` per registries.d, for reading or (`write`)
/// writing.
pub(crate) fn storage_for(
    reference: &DockerReference,
    ctx: &SystemContext,
    env: &Environment,
    write: bool,
) -> Result<SignatureStorage> {
    let dir = registries_d_dir(ctx.registries_d.as_deref(), env.home.as_deref());
    let config = RegistriesD::load(&dir)?;
    Ok(SignatureStorage {
        lookaside: config.lookaside(
            reference,
            write,
            skopos_core::rootless::rootless_uid(),
            env.home.as_deref(),
        ),
        sigstore_attachments: config.use_sigstore_attachments(reference),
    })
}

/// Every signature of the manifest `digest`: `signature-1`, `signature-2`, … up to the
/// first missing one.
pub(crate) async fn read_signatures(
    lookaside: &Lookaside,
    client: &RegistryClient,
    digest: &Digest,
) -> Result<Vec<Vec<u8>>> {
    let mut signatures = Vec::new();
    loop {
        if signatures.len() >= MAX_SIGNATURES {
            bail!("server provided {MAX_SIGNATURES} signatures, assuming that's unreasonable and a server error");
        }
        let location = lookaside.signature(digest, signatures.len());
        let (blob, shown) = match &location {
            Lookaside::File(path) => {
                tracing::debug!("Reading {}", path.display());
                match tokio::fs::read(path).await {
                    Ok(blob) => (blob, go_quote(&path.to_string_lossy())),
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => break,
                    Err(err) => bail!("open {}: {}", path.display(), go_errno_text(&err)),
                }
            }
            Lookaside::Http(url) => match client
                .get_outside_registry(url, MAX_SIGNATURE_SIZE)
                .await
                .map_err(|err| anyhow!("reading signature from {url}: {err:#}"))?
            {
                Some(blob) => (blob, url.clone()),
                None => break,
            },
            Lookaside::Unsupported(url) => {
                bail!("Unsupported scheme when reading signature from {url}")
            }
        };
        classify(&blob).map_err(|err| anyhow!("parsing signature {shown}: {err}"))?;
        signatures.push(blob);
    }
    Ok(signatures)
}

/// Store `signatures` of the manifest `digest` as `signature-1…N`, removing any
/// `signature-N+1…` left from before. Only `file://` lookasides can be written.
pub(crate) async fn write_signatures(
    lookaside: &Lookaside,
    digest: &Digest,
    signatures: &[Vec<u8>],
) -> Result<()> {
    if signatures.is_empty() {
        return Ok(());
    }
    for (index, blob) in signatures.iter().enumerate() {
        if classify(blob)? == SignatureKind::Sigstore {
            bail!("internal error: a sigstore signature was to be written to a lookaside");
        }
        let location = lookaside.signature(digest, index);
        let path = writable_path(&location)?;
        tracing::debug!("Writing to {}", path.display());
        if let Some(parent) = path.parent() {
            create_dir_0755(parent)?;
        }
        write_0644(path, blob)?;
    }
    delete_signatures(lookaside, digest, signatures.len())
}

/// Remove `signature-(from+1)`, `signature-(from+2)`, … of the manifest `digest` up to
/// the first missing one (the rest would never be read).
pub(crate) fn delete_signatures(lookaside: &Lookaside, digest: &Digest, from: usize) -> Result<()> {
    for index in from.. {
        let location = lookaside.signature(digest, index);
        let path = writable_path(&location)?;
        tracing::debug!("Deleting {}", path.display());
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => break,
            Err(err) => bail!("remove {}: {}", path.display(), go_errno_text(&err)),
        }
    }
    Ok(())
}

fn writable_path(location: &Lookaside) -> Result<&Path> {
    match location {
        Lookaside::File(path) => Ok(path),
        Lookaside::Http(url) => {
            let scheme = url.split(':').next().unwrap_or_default();
            bail!("Writing directly to a {scheme} lookaside {url} is not supported. Configure a lookaside-staging: location")
        }
        Lookaside::Unsupported(url) => bail!("Unsupported scheme when writing signature to {url}"),
    }
}

fn create_dir_0755(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|err| anyhow!("mkdir {}: {}", dir.display(), go_errno_text(&err)))
}

fn write_0644(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(path)
        .map_err(|err| anyhow!("open {}: {}", path.display(), go_errno_text(&err)))?;
    file.write_all(bytes)
        .map_err(|err| anyhow!("write {}: {}", path.display(), go_errno_text(&err)))
}
