//! Transports: one module per transport, each implementing
//! [`skopos_core::ImageSource`] and [`skopos_core::ImageDestination`], and one table
//! ([`open_source`], [`open_destination`]) from a parsed [`ImageName`] to them.

#![deny(missing_docs)]

pub mod atomic;
pub mod dir;
pub mod docker;
pub mod docker_archive;
mod docker_daemon;
mod fsutil;
pub mod oci;
pub mod oci_archive;
#[cfg(feature = "ostree")]
pub mod ostree;
pub mod sif;
pub mod storage;
mod tag_source;
pub mod tarball;

pub use tag_source::TagSource;

use skopos_core::reference::OstreeReference;
use skopos_core::{ImageDestination, ImageName, ImageSource, Result, SystemContext};

/// What skopeo checks while it parses a reference, before any image is opened: a
/// `containers-storage:` reference opens its store (an unknown driver or a graph root that
/// cannot be a store fails here). Callers prefix failures as parse errors.
pub async fn check_reference(name: &ImageName) -> Result<()> {
    match name {
        ImageName::ContainersStorage(reference) => storage::check_store(reference).await,
        _ => Ok(()),
    }
}

/// Delete the image `name`, as skopeo's `delete` does: registries (retried as `retry`
/// says), OCI layouts and containers-storage can; other transports cannot.
pub async fn delete_image(
    name: &ImageName,
    ctx: &SystemContext,
    retry: skopos_core::retry::RetryOptions,
) -> Result<()> {
    match name {
        ImageName::ContainersStorage(reference) => storage::delete_image(reference).await,
        ImageName::Oci { path, image } => oci::delete_image(path, image, ctx).await,
        ImageName::Docker(reference) => {
            skopos_core::retry::with_retry(retry, || docker::delete_image(reference, ctx)).await
        }
        _ => anyhow::bail!(
            "Deleting images not implemented for {}: images",
            name.transport()
        ),
    }
}

/// Open `name` for reading.
pub async fn open_source(name: &ImageName, ctx: &SystemContext) -> Result<Box<dyn ImageSource>> {
    match name {
        ImageName::Dir(path) => Ok(Box::new(dir::DirSource::open(path)?)),
        ImageName::Docker(reference) => {
            Ok(Box::new(docker::DockerSource::open(reference, ctx).await?))
        }
        ImageName::Oci { path, image } => {
            Ok(Box::new(oci::OciSource::open(path, image, ctx).await?))
        }
        ImageName::OciArchive { path, image } => Ok(Box::new(
            oci_archive::OciArchiveSource::open(path, image, ctx).await?,
        )),
        ImageName::Tarball(files) => Ok(Box::new(tarball::TarballSource::open(files).await?)),
        ImageName::DockerArchive { path, image } => Ok(Box::new(
            docker_archive::DockerArchiveSource::open(path, image, ctx).await?,
        )),
        ImageName::DockerDaemon(image) => {
            Ok(Box::new(docker_daemon::open_source(image, ctx).await?))
        }
        ImageName::Sif(path) => Ok(Box::new(sif::SifSource::open(path, ctx).await?)),
        ImageName::Atomic(reference) => Ok(Box::new(atomic::AtomicSource::open(reference, ctx)?)),
        ImageName::ContainersStorage(reference) => {
            Ok(Box::new(storage::StorageSource::open(reference).await?))
        }
        ImageName::Ostree(reference) => open_ostree_source(reference),
    }
}

/// Open `name` for writing.
pub async fn open_destination(
    name: &ImageName,
    ctx: &SystemContext,
) -> Result<Box<dyn ImageDestination>> {
    match name {
        ImageName::Dir(path) => Ok(Box::new(dir::DirDestination::open(path, ctx)?)),
        ImageName::Docker(reference) => Ok(Box::new(
            docker::DockerDestination::open(reference, ctx).await?,
        )),
        ImageName::Oci { path, image } => {
            Ok(Box::new(oci::OciDestination::open(path, image, ctx)?))
        }
        ImageName::OciArchive { path, image } => Ok(Box::new(
            oci_archive::OciArchiveDestination::open(path, image, ctx)?,
        )),
        ImageName::Tarball(_) => Err(anyhow::anyhow!(
            "\"tarball:\" locations can only be read from, not written to"
        )),
        ImageName::Atomic(reference) => Ok(Box::new(
            atomic::AtomicDestination::open(reference, ctx).await?,
        )),
        ImageName::Sif(_) => Err(anyhow::anyhow!(
            "\"sif:\" locations can only be read from, not written to"
        )),
        ImageName::DockerArchive { path, image } => Ok(Box::new(
            docker_archive::DockerArchiveDestination::open(path, image, ctx).await?,
        )),
        ImageName::DockerDaemon(image) => Ok(Box::new(
            docker_daemon::DockerDaemonDestination::open(image, ctx).await?,
        )),
        ImageName::ContainersStorage(reference) => Ok(Box::new(
            storage::StorageDestination::open(reference, ctx).await?,
        )),
        ImageName::Ostree(reference) => open_ostree_destination(reference),
    }
}

/// How `ostree:` images are opened, when this program carries the transport.
///
/// Linking libostree loads some sixty shared libraries (glib, gio, gpgme, curl, ICU, …) into
/// the process before `main`, which tripled the start-up time of every command. So nothing
/// in this crate refers to the transport directly: a program that wants it calls
/// `install_ostree` first, and only that program's link pulls libostree in. The `skopos`
/// binary leaves it out and runs the `skopos-ostree` helper for commands that name an
/// `ostree:` image.
struct OstreeOpeners {
    source: fn(&OstreeReference) -> Result<Box<dyn ImageSource>>,
    destination: fn(&OstreeReference) -> Result<Box<dyn ImageDestination>>,
}

static OSTREE: std::sync::OnceLock<OstreeOpeners> = std::sync::OnceLock::new();

/// Make `ostree:` references open through libostree in this process.
#[cfg(feature = "ostree")]
pub fn install_ostree() {
    OSTREE.get_or_init(|| OstreeOpeners {
        source: |reference| Ok(Box::new(ostree::OstreeSource::open(reference))),
        destination: |reference| Ok(Box::new(ostree::OstreeDestination::open(reference)?)),
    });
}

/// Whether `install_ostree` (with the `ostree` feature) has run in this process.
pub fn ostree_installed() -> bool {
    OSTREE.get().is_some()
}

fn open_ostree_source(reference: &OstreeReference) -> Result<Box<dyn ImageSource>> {
    match OSTREE.get() {
        Some(openers) => (openers.source)(reference),
        None => Err(ostree_not_installed()),
    }
}

fn open_ostree_destination(reference: &OstreeReference) -> Result<Box<dyn ImageDestination>> {
    match OSTREE.get() {
        Some(openers) => (openers.destination)(reference),
        None => Err(ostree_not_installed()),
    }
}

/// skopeo's words for a transport this program does not carry, and how to get it.
fn ostree_not_installed() -> anyhow::Error {
    anyhow::anyhow!(
        "The transport \"ostree:\" is not supported in this build (it is carried by the skopos-ostree helper, which was not found, or skopos was built without its `ostree` feature)"
    )
}

/// Where the referrers and cosign tags of images named like `name` are read: the
/// repository of a `docker://` image or the layout of an `oci:` one. `None` for
/// transports without repositories.
pub fn open_referrers_source(
    name: &ImageName,
    ctx: &SystemContext,
) -> Result<Option<Box<dyn skopos_core::referrers::ReferrersSource>>> {
    Ok(match name {
        ImageName::Docker(reference) => {
            Some(Box::new(docker::DockerReferrers::open(reference, ctx)?))
        }
        ImageName::Oci { path, .. } => Some(Box::new(oci::OciReferrers::open(path, ctx))),
        _ => None,
    })
}

/// Where referrers and cosign tags of images written to `name` go, as
/// [`open_referrers_source`] reads them.
pub fn open_referrers_destination(
    name: &ImageName,
    ctx: &SystemContext,
) -> Result<Option<Box<dyn skopos_core::referrers::ReferrersDestination>>> {
    Ok(match name {
        ImageName::Docker(reference) => {
            Some(Box::new(docker::DockerReferrers::open(reference, ctx)?))
        }
        ImageName::Oci { path, .. } => Some(Box::new(oci::OciReferrers::open(path, ctx))),
        _ => None,
    })
}
