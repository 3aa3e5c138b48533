//! Where a sync puts each image: the destination name skopeo derives from the source's
//! (`--scoped`, `--append-suffix`), and for a directory destination, its creation.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use skopos_core::go_text::{go_errno_text, go_path_join, go_quote};
use skopos_core::reference::DockerReference;
use skopos_core::ImageName;

use crate::sources::SourceRepository;

/// The destination `source_name` (an image of `repository`) gets under DESTINATION: its
/// name, or with `scoped` its full path, joined to DESTINATION, with `append_suffix`.
pub fn destination_target(
    source_name: &ImageName,
    repository: &SourceRepository,
    destination: &str,
    scoped: bool,
    append_suffix: &str,
) -> String {
    let mut suffix = destination_suffix(source_name, repository.dir_base.as_deref());
    if !scoped {
        suffix = go_path_base(&suffix);
    }
    let mut target = go_path_join(destination, &suffix);
    target.push_str(append_suffix);
    target
}

/// Where under DESTINATION an image goes, before `--scoped` is applied: the full docker
/// reference, or a `dir` image's path relative to SOURCE (its base name when SOURCE is
/// the image itself). Like skopeo, the prefix is removed textually from the resolved path.
fn destination_suffix(source: &ImageName, dir_base: Option<&str>) -> String {
    match (source, dir_base) {
        (ImageName::Docker(reference), _) => reference.to_string(),
        (ImageName::Dir(path), Some(base)) => {
            let full = path.to_string_lossy();
            let suffix = full.strip_prefix(base).unwrap_or(&full);
            if suffix.is_empty() {
                go_path_base(base)
            } else {
                suffix.to_string()
            }
        }
        (other, _) => other.to_string(),
    }
}

/// The destination image at `target` (skopeo's `destinationReference`): a `dir`
/// destination directory is created here and must not exist yet.
pub fn destination_reference(target: &str, transport: &str) -> anyhow::Result<ImageName> {
    if transport == "docker" {
        let invalid = |err: anyhow::Error| {
            err.context(format!(
                "Cannot obtain a valid image reference for transport \"docker\" and reference {}",
                go_quote(&format!("//{target}"))
            ))
        };
        let reference = DockerReference::parse_normalized(target).map_err(invalid)?;
        return ImageName::docker(reference.with_default_tag()).map_err(invalid);
    }
    match std::fs::metadata(target) {
        Ok(_) => bail!(
            "Refusing to overwrite destination directory {}",
            go_quote(target)
        ),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => bail!(
            "Destination directory could not be used: stat {target}: {}",
            go_errno_text(&err)
        ),
    }
    create_dir_0755(Path::new(target)).map_err(|err| {
        anyhow!(
            "Error creating directory for image {target}: mkdir {target}: {}",
            go_errno_text(&err)
        )
    })?;
    // Named as given, as containers/image shows a `dir:` reference.
    Ok(ImageName::Dir(PathBuf::from(target)))
}

/// `os.MkdirAll(path, 0755)`.
fn create_dir_0755(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
}

/// Go's `path.Base`: the last slash-separated element, `.` for an empty path.
fn go_path_base(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_helpers_match_go() {
        assert_eq!(go_path_base("host:5000/a/busybox:latest"), "busybox:latest");
        assert_eq!(go_path_base("src/"), "src");
        assert_eq!(go_path_base(""), ".");
    }
}
