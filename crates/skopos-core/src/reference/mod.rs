//! Image names: `transport:reference` strings as skopeo accepts them, and the docker
//! reference grammar (`docker.io/library/busybox:latest`).
//!
//! The rules and error messages are those of skopeo 1.9.3 as Debian builds it
//! (containers/image v5.23.1), plus the `atomic` transport that skopeo 1.22 has and the
//! `ostree` transport that skopeo 1.17 had (Debian's 1.9.3 build has neither).
//! - `ImageName::parse("docker://busybox")` → `Ok(ImageName::Docker(..))`; errors are
//!   skopeo's messages, e.g. `Invalid image name "foo:bar", unknown transport "foo"`.
//! - `Display` prints the canonical `transport:within-transport` form, as skopeo's
//!   `transports.ImageName()` does (e.g. `docker://busybox:latest`).

mod atomic;
mod docker;
mod docker_scopes;
pub mod explicit_path;
pub mod go_digest;
mod ostree;
mod storage;

use std::fmt;
use std::path::{Path, PathBuf};

pub use atomic::AtomicReference;
pub use docker::{
    is_docker_domain, is_full_image_id, split_docker_name, DockerReference, NAME_TOTAL_LENGTH_MAX,
};
pub use docker_scopes::{docker_policy_identity, docker_policy_namespaces};
pub use explicit_path::resolve_path_to_fully_explicit;
pub use ostree::{OstreeReference, DEFAULT_OSTREE_REPO};
pub use storage::MINIMUM_TRUNCATED_ID_LENGTH;

use crate::digest::{Algorithm, Digest};
use crate::go::text::{go_atoi, go_errno_text, go_quote};
use crate::Result;
use go_digest::{parse_go_digest, GoDigestError};

/// Which image of an `oci:` or `oci-archive:` layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciImage {
    /// Neither a name nor an index: the layout must hold exactly one image.
    Only,
    /// `org.opencontainers.image.ref.name` annotation value.
    Named(String),
    /// `:@N`, an index into `index.json`'s `manifests` (`oci:` only; skopeo 1.9.3 and
    /// `oci-archive:` take `@N` for an invalid image name).
    Index(usize),
}

/// Which image of a `docker-archive:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveImage {
    /// No `:REF` or `:@N`: the archive's only image (source), or an untagged one (dest).
    Only,
    /// `:NAME[:TAG]`, always with a tag (`latest` by default) and never a digest.
    Named(DockerReference),
    /// `:@N`, the N-th image of the archive's `manifest.json`.
    Index(usize),
}

/// A `docker-daemon:` image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonImage {
    /// `docker-daemon:NAME:TAG` or `NAME@DIGEST` (exactly one of the two).
    Named(DockerReference),
    /// `docker-daemon:sha256:<hex>`, an image ID (source only).
    Id(Digest),
}

/// A `containers-storage:` reference:
/// `[[driver@]graphroot[+runroot][:options]]{ID|NAME[:TAG][@DIGEST][@ID]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StorageReference {
    /// `driver@`: the storage driver (`overlay`, `vfs`, …); `None` uses storage.conf's.
    pub driver: Option<String>,
    /// The graph root (where images are stored); `None` uses storage.conf's.
    pub graph_root: Option<PathBuf>,
    /// `+runroot`: the run root (where state lives); `None` uses storage.conf's.
    pub run_root: Option<PathBuf>,
    /// `:options`: driver options (`overlay.mount_program=…`), split at commas.
    pub options: Vec<String>,
    /// The image name, with `latest` added when it has neither a tag nor a digest.
    pub named: Option<DockerReference>,
    /// A 64-hex image ID, or (after `NAME@`) 3 to 63 hex digits that skopeo expands to
    /// the ID of the stored image starting with them, failing with
    /// `"<prefix>" does not look like an image ID or digest: invalid reference` when
    /// there is none. A bare 64-hex input is taken as an ID here; skopeo takes it so
    /// only when the store has that image.
    pub id: Option<String>,
    /// The whole image part when it was written bare and is 3 to 63 hex digits (so it
    /// also parsed as `named`): skopeo uses the stored image whose ID starts with it if
    /// there is one, and `named` otherwise.
    pub bare_id_prefix: Option<String>,
}

/// A parsed `transport:reference`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageName {
    /// `docker://NAME[:TAG|@DIGEST]`: an image of a registry. The name is normalized
    /// (`docker.io/library/…`) and has a tag (`latest` when none was given) or a digest,
    /// never both.
    Docker(DockerReference),
    /// `dir:PATH`: a directory of one image's manifest and blobs.
    Dir(PathBuf),
    /// `oci:PATH[:REF]`: an OCI layout directory.
    Oci {
        /// The layout directory.
        path: PathBuf,
        /// Which of its images.
        image: OciImage,
    },
    /// `oci-archive:PATH[:REF]`: an OCI layout in a tar file.
    OciArchive {
        /// The tar file.
        path: PathBuf,
        /// Which of its images.
        image: OciImage,
    },
    /// `docker-archive:PATH[:REF]`: a `docker save` tar file.
    DockerArchive {
        /// The tar file.
        path: PathBuf,
        /// Which of its images.
        image: ArchiveImage,
    },
    /// `docker-daemon:`: an image of the local Docker engine.
    DockerDaemon(DaemonImage),
    /// `containers-storage:`: an image of the local store podman and buildah use.
    ContainersStorage(StorageReference),
    /// `ostree:IMAGE[@/abs/repo]` (the transport skopeo 1.17 had with its
    /// `containers_image_ostree` build tag).
    Ostree(OstreeReference),
    /// `sif:PATH`: a Singularity image file (source only).
    Sif(PathBuf),
    /// `tarball:FILE[:FILE…]`.
    Tarball(Vec<PathBuf>),
    /// `atomic:HOST/NAMESPACE/STREAM:TAG` (the deprecated OpenShift transport, which skopeo
    /// 1.22 still has; Debian's 1.9.3 build does not).
    Atomic(AtomicReference),
}

impl ImageName {
    /// Parse `transport:reference` with skopeo's rules (`alltransports.ParseImageName`).
    ///
    /// The error's `Display` is exactly skopeo's message for the reference. The CLI must
    /// put skopeo's prefix for the command before it:
    /// - `inspect`: `Error parsing image name "<input>": ` (the input quoted as Go's
    ///   `%q`, see [`crate::go::text::go_quote`]);
    /// - `copy` source and `delete`: `Invalid source name <input>: `;
    /// - `copy` destination: `Invalid destination name <input>: `;
    /// - `layers`, `list-tags` (docker-archive): none.
    ///
    /// `sync`'s transport-level parsing (`Transport.ParseReference(within)`) is this
    /// function on `"<transport>:<within>"`, with sync's own prefix.
    ///
    /// Like skopeo, parsing looks at the file system for some transports: `dir:`, `oci:`,
    /// `oci-archive:` and `sif:` need the parent of their path to exist
    /// (`lstat /nonexistent: no such file or directory`), and `tarball:` opens each file
    /// (reading `-`, stdin, is left to the transport).
    pub fn parse(input: &str) -> Result<ImageName> {
        let Some((transport, within)) = input.split_once(':') else {
            anyhow::bail!(
                "Invalid image name \"{input}\", expected colon-separated transport:reference"
            );
        };
        match transport {
            "docker" => parse_docker(within),
            "dir" => {
                resolve_path_to_fully_explicit(within)?;
                Ok(ImageName::Dir(PathBuf::from(within)))
            }
            "oci" => {
                let (path, image) = parse_oci_layout(within)?;
                Ok(ImageName::Oci { path, image })
            }
            "oci-archive" => {
                let (path, image) = parse_oci(within)?;
                Ok(ImageName::OciArchive { path, image })
            }
            "docker-archive" => parse_docker_archive(within),
            "docker-daemon" => parse_docker_daemon(within).map(ImageName::DockerDaemon),
            "containers-storage" => {
                storage::parse_storage_reference(within).map(ImageName::ContainersStorage)
            }
            "ostree" => OstreeReference::parse(within).map(ImageName::Ostree),
            "sif" => {
                resolve_path_to_fully_explicit(within)?;
                Ok(ImageName::Sif(PathBuf::from(within)))
            }
            "tarball" => parse_tarball(within),
            "atomic" => AtomicReference::parse(within).map(ImageName::Atomic),
            _ => anyhow::bail!("Invalid image name \"{input}\", unknown transport \"{transport}\""),
        }
    }

    /// A `docker://` image for `reference` (containers/image's `docker.NewReference`),
    /// which must have a tag or a digest, but not both.
    pub fn docker(reference: DockerReference) -> Result<ImageName> {
        if reference.is_name_only() {
            anyhow::bail!(
                "Docker reference {} has neither a tag nor a digest",
                reference.familiar_string()
            );
        }
        if reference.tag().is_some() && reference.digest().is_some() {
            anyhow::bail!(
                "Docker references with both a tag and digest are currently not supported"
            );
        }
        Ok(ImageName::Docker(reference))
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
            ImageName::Ostree(_) => "ostree",
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
            ImageName::Atomic(reference) => Some(reference.docker_reference()),
            _ => None,
        }
    }
}

/// `docker://NAME[:TAG|@DIGEST]`: like containers/image's docker transport, the name is
/// normalized, gets `latest` when it has neither tag nor digest, and may not have both.
fn parse_docker(within: &str) -> Result<ImageName> {
    let Some(name) = within.strip_prefix("//") else {
        anyhow::bail!("docker: image reference {within} does not start with //");
    };
    ImageName::docker(DockerReference::parse_normalized(name)?.with_default_tag())
}

/// containers/image `oci/internal`'s image-name grammar: component (`/` component)*,
/// where component = `[A-Za-z0-9]+` ((`[-._:@+]` | `--`) `[A-Za-z0-9]+`)*. Matched by
/// hand on ASCII bytes rather than by a regex engine (see `docker.rs`).
fn is_oci_image_name(name: &str) -> bool {
    name.split('/').all(|component| {
        let bytes = component.as_bytes();
        bytes.first().is_some_and(u8::is_ascii_alphanumeric)
            && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
            && bytes
                .split(u8::is_ascii_alphanumeric)
                .all(|separator| match separator {
                    [] | [b'-' | b'.' | b'_' | b':' | b'@' | b'+'] => true,
                    [first, second] => *first == b'-' && *second == b'-',
                    _ => false,
                })
    })
}

/// `oci:` / `oci-archive:` `PATH[:NAME]`: the path ends at the first `:` and must have an
/// existing parent; a non-empty NAME must fit the OCI image-name grammar.
fn parse_oci(within: &str) -> Result<(PathBuf, OciImage)> {
    let (path, name) = within.split_once(':').unwrap_or((within, ""));
    resolve_path_to_fully_explicit(path)?;
    let image = if name.is_empty() {
        OciImage::Only
    } else if is_oci_image_name(name) {
        OciImage::Named(name.to_string())
    } else {
        anyhow::bail!("Invalid image {name}");
    };
    Ok((PathBuf::from(path), image))
}

/// `oci:PATH[:NAME|:@N]`: `@N` picks the N-th entry of `index.json` (containers/image 5.34,
/// skopeo 1.18; 1.9.3 rejected it as an invalid name). The index is checked before the path,
/// as containers/image does.
fn parse_oci_layout(within: &str) -> Result<(PathBuf, OciImage)> {
    let (path, name) = within.split_once(':').unwrap_or((within, ""));
    let Some(number) = name.strip_prefix('@') else {
        return parse_oci(within);
    };
    let index = go_atoi(number)
        .map_err(|err| anyhow::anyhow!("Invalid source index @{number}: not an integer: {err}"))?;
    let index = usize::try_from(index)
        .map_err(|_| anyhow::anyhow!("Invalid source index @{index}: must not be negative"))?;
    resolve_path_to_fully_explicit(path)?;
    Ok((PathBuf::from(path), OciImage::Index(index)))
}

/// `docker-archive:PATH[:NAME[:TAG]|:@N]`.
fn parse_docker_archive(within: &str) -> Result<ImageName> {
    if within.is_empty() {
        anyhow::bail!("docker-archive reference {within} isn't of the form <path>[:<reference>]");
    }
    let (path, selector) = match within.split_once(':') {
        Some((path, selector)) => (path, Some(selector)),
        None => (within, None),
    };
    let image = match selector {
        None => ArchiveImage::Only,
        Some(selector) => match selector.strip_prefix('@') {
            Some(number) => {
                let index = go_atoi(number)
                    .map_err(|err| anyhow::anyhow!("Invalid source index {selector}: {err}"))?;
                let index = usize::try_from(index).map_err(|_| {
                    anyhow::anyhow!("Invalid source index @{index}: must not be negative")
                })?;
                ArchiveImage::Index(index)
            }
            None => {
                let reference = DockerReference::parse_normalized(selector)
                    .map_err(|err| anyhow::anyhow!("docker-archive parsing reference: {err}"))?
                    .with_default_tag();
                if reference.tag().is_none() {
                    anyhow::bail!("reference does not include a tag: {reference}");
                }
                if reference.digest().is_some() {
                    anyhow::bail!("docker-archive doesn't support digest references: {reference}");
                }
                ArchiveImage::Named(reference)
            }
        },
    };
    Ok(ImageName::DockerArchive {
        path: PathBuf::from(path),
        image,
    })
}

/// `docker-daemon:NAME:TAG`, `docker-daemon:NAME@DIGEST` or `docker-daemon:sha256:<hex>`.
fn parse_docker_daemon(within: &str) -> Result<DaemonImage> {
    let only_sha256 = || {
        anyhow::anyhow!(
            "Invalid docker-daemon: reference {within}: only digest algorithm sha256 accepted"
        )
    };
    match parse_go_digest(within) {
        Ok(id) if id.algorithm() == Algorithm::Sha256 => return Ok(DaemonImage::Id(id)),
        Ok(_) | Err(GoDigestError::Sha384NotSupported) => return Err(only_sha256()),
        Err(_) => {}
    }
    let reference = DockerReference::parse_normalized(within)?;
    if reference.familiar_name() == Algorithm::Sha256.name() {
        anyhow::bail!(
            "Invalid docker-daemon: reference {within}: The sha256 repository name is reserved for (non-shortened) digest references"
        );
    }
    if reference.is_name_only() {
        anyhow::bail!(
            "docker-daemon: reference {} has neither a tag nor a digest",
            reference.familiar_string()
        );
    }
    if reference.tag().is_some() && reference.digest().is_some() {
        anyhow::bail!(
            "docker-daemon: references with both a tag and digest are currently not supported"
        );
    }
    Ok(DaemonImage::Named(reference))
}

/// `tarball:FILE[:FILE…]`: skopeo opens each file while parsing, so a missing one is a
/// parse error; `-` is stdin.
fn parse_tarball(within: &str) -> Result<ImageName> {
    let files: Vec<&str> = within.split(':').collect();
    for file in files.iter().filter(|&&f| f != "-") {
        std::fs::File::open(file).map_err(|err| {
            anyhow::anyhow!(
                "error opening {}: open {file}: {}",
                go_quote(file),
                go_errno_text(&err)
            )
        })?;
    }
    Ok(ImageName::Tarball(
        files.into_iter().map(PathBuf::from).collect(),
    ))
}

fn show(path: &Path) -> std::borrow::Cow<'_, str> {
    path.to_string_lossy()
}

impl fmt::Display for ImageName {
    /// `transport:` followed by skopeo's `StringWithinTransport()` for the reference.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.transport())?;
        match self {
            ImageName::Docker(reference) => write!(f, "//{}", reference.familiar_string()),
            ImageName::Dir(path) | ImageName::Sif(path) => f.write_str(&show(path)),
            ImageName::Oci { path, image } | ImageName::OciArchive { path, image } => {
                write!(f, "{}:", show(path))?;
                match image {
                    OciImage::Only => Ok(()),
                    OciImage::Named(name) => f.write_str(name),
                    OciImage::Index(index) => write!(f, "@{index}"),
                }
            }
            ImageName::DockerArchive { path, image } => {
                f.write_str(&show(path))?;
                match image {
                    ArchiveImage::Only => Ok(()),
                    ArchiveImage::Named(reference) => write!(f, ":{reference}"),
                    ArchiveImage::Index(index) => write!(f, ":@{index}"),
                }
            }
            ImageName::DockerDaemon(DaemonImage::Id(id)) => write!(f, "{id}"),
            ImageName::DockerDaemon(DaemonImage::Named(reference)) => {
                f.write_str(&reference.familiar_string())
            }
            ImageName::ContainersStorage(reference) => write!(f, "{reference}"),
            ImageName::Ostree(reference) => write!(f, "{reference}"),
            ImageName::Tarball(files) => {
                let files: Vec<_> = files.iter().map(|p| show(p)).collect();
                f.write_str(&files.join(":"))
            }
            ImageName::Atomic(reference) => write!(f, "{reference}"),
        }
    }
}

#[cfg(test)]
mod grammar_equivalence;
#[cfg(test)]
mod tests;
