//! Image names: `transport:reference` strings as skopeo accepts them, and the docker
//! reference grammar (`docker.io/library/busybox:latest`).
//!
//! API CONTRACT (filled in by the references work; signatures are fixed):
//! - `ImageName::parse("docker://busybox")` → `Ok(ImageName::Docker(..))`; errors are
//!   skopeo's messages, e.g. `Invalid image name "foo:bar", unknown transport "foo"`.
//! - `Display` prints the canonical `transport:within-transport` form.

mod docker;

use std::fmt;
use std::path::PathBuf;

pub use docker::DockerReference;

use crate::digest::Digest;
use crate::Result;

/// Which image of an `oci:` or `oci-archive:` layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciImage {
    /// Neither a name nor an index: the layout must hold exactly one image.
    Only,
    /// `org.opencontainers.image.ref.name` annotation value.
    Named(String),
    /// `:@N`, an index into `index.json`'s `manifests`.
    Index(usize),
}

/// Which image of a `docker-archive:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveImage {
    Only,
    Named(DockerReference),
    Index(usize),
}

/// A `docker-daemon:` image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonImage {
    Named(DockerReference),
    /// `docker-daemon:sha256:<hex>`, an image ID (source only).
    Id(Digest),
}

/// A `containers-storage:` reference:
/// `[[driver@]graphroot[+runroot][:options]]{ID|NAME[:TAG][@DIGEST][@ID]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StorageReference {
    pub driver: Option<String>,
    pub graph_root: Option<PathBuf>,
    pub run_root: Option<PathBuf>,
    pub options: Vec<String>,
    pub named: Option<DockerReference>,
    /// A 64-hex image ID (or unambiguous prefix for a source).
    pub id: Option<String>,
}

/// A parsed `transport:reference`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageName {
    Docker(DockerReference),
    Dir(PathBuf),
    Oci {
        path: PathBuf,
        image: OciImage,
    },
    OciArchive {
        path: PathBuf,
        image: OciImage,
    },
    DockerArchive {
        path: PathBuf,
        image: ArchiveImage,
    },
    DockerDaemon(DaemonImage),
    ContainersStorage(StorageReference),
    /// `ostree:REF[@/abs/repo]`.
    Ostree {
        image: DockerReference,
        repo: PathBuf,
    },
    Sif(PathBuf),
    /// `tarball:FILE[:FILE…]`.
    Tarball(Vec<PathBuf>),
    /// `atomic:HOST/NAMESPACE/STREAM:TAG` (deprecated OpenShift transport).
    Atomic(String),
}

impl ImageName {
    /// Parse `transport:reference` with skopeo's rules.
    pub fn parse(input: &str) -> Result<ImageName> {
        let _ = input;
        todo!("references work")
    }

    /// The transport's name as written before the first `:`.
    pub fn transport(&self) -> &'static str {
        match self {
            ImageName::Docker(_) => "docker",
            ImageName::Dir(_) => "dir",
            ImageName::Oci { .. } => "oci",
            ImageName::OciArchive { .. } => "oci-archive",
            ImageName::DockerArchive { .. } => "docker-archive",
            ImageName::DockerDaemon(_) => "docker-daemon",
            ImageName::ContainersStorage(_) => "containers-storage",
            ImageName::Ostree { .. } => "ostree",
            ImageName::Sif(_) => "sif",
            ImageName::Tarball(_) => "tarball",
            ImageName::Atomic(_) => "atomic",
        }
    }

    /// The docker reference this image is known by, if any (skopeo's
    /// `ImageReference.DockerReference()`): used for `inspect`'s `Name` and for
    /// signature identities.
    pub fn docker_reference(&self) -> Option<&DockerReference> {
        match self {
            ImageName::Docker(r) => Some(r),
            ImageName::DockerArchive {
                image: ArchiveImage::Named(r),
                ..
            } => Some(r),
            ImageName::DockerDaemon(DaemonImage::Named(r)) => Some(r),
            ImageName::ContainersStorage(StorageReference { named: Some(r), .. }) => Some(r),
            ImageName::Ostree { image, .. } => Some(image),
            _ => None,
        }
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _ = f;
        todo!("references work")
    }
}
