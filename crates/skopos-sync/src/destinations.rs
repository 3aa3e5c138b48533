//! Where a sync puts each image: the destination name skopeo derives from the source's
//! (`--scoped`, `--append-suffix`), and for a directory destination, its creation.
//!
//! An `oci` destination (upstream skopeo's pull request #2804) is one layout, DESTINATION,
//! holding every image under the name the other transports would give its path below
//! DESTINATION: `oci:DESTINATION:NAME`. The pull request gets there by turning the first
//! `/` of the joined path into `:`, which is the same thing when DESTINATION is a single
//! relative path element, as in its examples; for a longer DESTINATION (`/media/usb/`, as
//! its manual page suggests) that would put the layout elsewhere (at its first element,
//! or the working directory), so the layout here is DESTINATION as the manual describes.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use skopos_core::go::text::{go_errno_text, go_path_clean, go_path_join, go_quote};
use skopos_core::reference::DockerReference;
use skopos_core::ImageName;

use crate::sources::SourceRepository;

/// The destination `source_name` (an image of `repository`) gets under DESTINATION: its
/// name, or with `scoped` its full path, joined to DESTINATION, with `append_suffix`; for
/// an `oci` destination `transport`, the layout and that name as `LAYOUT:NAME`.
pub fn destination_target(
    source_name: &ImageName,
    repository: &SourceRepository,
    (destination, transport): (&str, &str),
    scoped: bool,
    append_suffix: &str,
) -> String {
    let mut suffix = destination_suffix(source_name, repository.dir_base.as_deref());
    if !scoped {
        suffix = go_path_base(&suffix);
    }
    let mut target = go_path_join(destination, &suffix);
    target.push_str(append_suffix);
    if transport == "oci" {
        let layout = go_path_clean(destination);
        let name = match target.strip_prefix(&layout) {
            Some("") => "",
            Some(rest) if layout == "/" => rest,
            Some(rest) => rest.strip_prefix('/').unwrap_or(rest),
            None => &target,
        };
        return format!("{layout}:{name}");
    }
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
        // `oci:PATH:NAME` (a layout's image): NAME.
        (ImageName::Oci { .. }, _) => {
            let within = source.to_string();
            let within = within.strip_prefix("oci:").unwrap_or(&within);
            within
                .split_once(':')
                .map_or(String::new(), |(_, name)| name.to_string())
        }
        (other, _) => other.to_string(),
    }
}

/// The destination image at `target` (skopeo's `destinationReference`): a `dir`
/// destination directory is created here and must not exist yet; an `oci` layout may
/// exist and is created by the copy.
pub fn destination_reference(target: &str, transport: &str) -> anyhow::Result<ImageName> {
    if transport == "oci" {
        return ImageName::parse(&format!("oci:{target}")).map_err(|err| {
            err.context(format!(
                "Cannot obtain a valid image reference for transport \"oci\" and reference {}",
                go_quote(target)
            ))
        });
    }
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

    #[test]
    fn oci_destinations_name_images_inside_one_layout() {
        let repository = SourceRepository {
            images: Vec::new(),
            context: skopos_core::SystemContext::default(),
            dir_base: None,
        };
        let source = ImageName::parse("docker://host:5000/a/busybox:1").expect("a reference");
        let target = |destination: &str, scoped: bool, append: &str| {
            destination_target(&source, &repository, (destination, "oci"), scoped, append)
        };
        // The pull request's own example, and what its manual's paths become.
        assert_eq!(
            target("sync-oci", true, ""),
            "sync-oci:host:5000/a/busybox:1"
        );
        assert_eq!(target("sync-oci", false, "-m"), "sync-oci:busybox:1-m");
        assert_eq!(target("/media/usb/", false, ""), "/media/usb:busybox:1");
        assert_eq!(target("/", false, ""), "/:busybox:1");
        // An image of a layout goes by its name.
        let layout_image = ImageName::Oci {
            path: "src".into(),
            image: skopos_core::reference::OciImage::Named("x/app:v1".into()),
        };
        assert_eq!(
            destination_target(&layout_image, &repository, ("out", "dir"), true, ""),
            "out/x/app:v1"
        );
    }
}
