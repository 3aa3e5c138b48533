//! `dir:PATH`: one image per directory, in containers/image's debugging layout.
//!
//! ```text
//! version                      "Directory Transport Version: 1.1\n" (1.2 if a digest is not sha256)
//! manifest.json                the top-level manifest (a list for `--all`)
//! <hex>.manifest.json          per-instance manifests of a list (`<alg>-<hex>…` if not sha256)
//! <hex>                        blobs: layers and configs (`<alg>-<hex>` if not sha256)
//! signature-N, <hex>.signature-N
//! ```

mod destination;
mod source;

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use skopos_core::digest::Algorithm;
use skopos_core::Digest;

pub use destination::DirDestination;
pub use source::DirSource;

/// The first line of the `version` file, before `MAJOR.MINOR\n`.
const VERSION_PREFIX: &str = "Directory Transport Version: ";

/// A `version` file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct LayoutVersion {
    major: u32,
    minor: u32,
}

/// Written when every digest is sha256 (the only version skopeo 1.9.3 knows).
const VERSION_1_1: LayoutVersion = LayoutVersion { major: 1, minor: 1 };
/// Written when some digest is not sha256 (file names then carry the algorithm).
const VERSION_1_2: LayoutVersion = LayoutVersion { major: 1, minor: 2 };
/// The newest layout this code reads and overwrites.
const MAX_SUPPORTED_VERSION: LayoutVersion = VERSION_1_2;

impl LayoutVersion {
    /// The exact `version` file bytes.
    fn file_content(self) -> String {
        format!("{VERSION_PREFIX}{}.{}\n", self.major, self.minor)
    }

    /// Parse a `version` file; it must be exactly what [`Self::file_content`] writes.
    fn parse(content: &[u8]) -> Option<LayoutVersion> {
        let text = std::str::from_utf8(content).ok()?;
        let numbers = text.strip_prefix(VERSION_PREFIX)?.strip_suffix('\n')?;
        let (major, minor) = numbers.split_once('.')?;
        let version = LayoutVersion {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        };
        (version.file_content() == text).then_some(version)
    }
}

/// The error skopeo gives for a directory that holds something other than an image.
fn not_an_image_dir() -> anyhow::Error {
    anyhow!("not a containers image directory, don't want to overwrite important data")
}

/// The error for a layout newer than this code understands.
fn unsupported_version(content: &[u8], dir: &Path) -> anyhow::Error {
    anyhow!(
        "unsupported directory transport version {:?} at {}",
        String::from_utf8_lossy(content),
        dir.display()
    )
}

/// How a digest appears in file names: the bare hex for sha256, `<alg>-<hex>` otherwise.
fn digest_file_stem(digest: &Digest) -> String {
    match digest.algorithm() {
        Algorithm::Sha256 => digest.hex().to_string(),
        other => format!("{}-{}", other.name(), digest.hex()),
    }
}

fn version_path(dir: &Path) -> PathBuf {
    dir.join("version")
}

fn manifest_path(dir: &Path, instance: Option<&Digest>) -> PathBuf {
    match instance {
        None => dir.join("manifest.json"),
        Some(digest) => dir.join(format!("{}.manifest.json", digest_file_stem(digest))),
    }
}

fn blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join(digest_file_stem(digest))
}

/// `index` counts from 0; files count from 1.
fn signature_path(dir: &Path, index: usize, instance: Option<&Digest>) -> PathBuf {
    match instance {
        None => dir.join(format!("signature-{}", index + 1)),
        Some(digest) => dir.join(format!(
            "{}.signature-{}",
            digest_file_stem(digest),
            index + 1
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_files_parse_strictly() {
        assert_eq!(
            LayoutVersion::parse(b"Directory Transport Version: 1.1\n"),
            Some(VERSION_1_1)
        );
        assert_eq!(
            LayoutVersion::parse(b"Directory Transport Version: 1.2\n"),
            Some(VERSION_1_2)
        );
        assert_eq!(
            LayoutVersion::parse(b"Directory Transport Version: 2.0\n"),
            Some(LayoutVersion { major: 2, minor: 0 })
        );
        for bad in [
            &b"Directory Transport Version: 1.1"[..],
            b"Directory Transport Version: 01.1\n",
            b"Directory Transport Version: abc\n",
            b"Invalid prefix 1.1\n",
        ] {
            assert_eq!(LayoutVersion::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            VERSION_1_1.file_content(),
            "Directory Transport Version: 1.1\n"
        );
    }

    #[test]
    fn file_names_carry_non_sha256_algorithms() {
        let sha256 = Digest::sha256_of(b"x");
        let sha512 = Digest::of(Algorithm::Sha512, b"x");
        let dir = Path::new("d");
        assert_eq!(blob_path(dir, &sha256), dir.join(sha256.hex()));
        assert_eq!(
            blob_path(dir, &sha512),
            dir.join(format!("sha512-{}", sha512.hex()))
        );
        assert_eq!(
            manifest_path(dir, Some(&sha256)),
            dir.join(format!("{}.manifest.json", sha256.hex()))
        );
        assert_eq!(signature_path(dir, 0, None), dir.join("signature-1"));
        assert_eq!(
            signature_path(dir, 1, Some(&sha256)),
            dir.join(format!("{}.signature-2", sha256.hex()))
        );
    }
}
