//! What a sync copies: the images of a registry repository, of a tree of `dir:` images, of
//! an OCI layout, or of the repositories a YAML file lists (skopeo's `imagesToCopy`), with the log lines
//! skopeo writes while finding them.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context as _};
use indexmap::IndexMap;
use skopos_core::go::text::{go_errno_text, go_path_clean, go_path_join, go_quote};
use skopos_core::reference::DockerReference;
use skopos_core::{Credentials, Digest, ImageName, Secret, SystemContext};

use crate::{Level, SyncLog};

/// The images of one sync source and how to reach them (skopeo's `repoDescriptor`).
pub struct SourceRepository {
    /// Its images, in the order skopeo copies them.
    pub images: Vec<ImageName>,
    /// How to reach them (the YAML file's per-registry settings applied).
    pub context: SystemContext,
    /// For a `dir` source: SOURCE as given, which destination suffixes are relative to.
    pub dir_base: Option<String>,
}

/// One registry's entry in a `--src yaml` file (skopeo's `registrySyncConfig`). Unknown
/// keys are ignored, as Go's YAML decoder ignores them.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct RegistrySyncConfig {
    /// repository -> tags and/or digests; an empty (or null) list means every tag.
    images: IndexMap<String, Option<Vec<String>>>,
    /// repository -> regular expression the copied tags must match.
    #[serde(rename = "images-by-tag-regex")]
    images_by_tag_regex: IndexMap<String, Option<String>>,
    credentials: Option<YamlCredentials>,
    /// `None` (omitted) verifies TLS in skopeo 1.9.3, whatever `--src-tls-verify` says.
    #[serde(rename = "tls-verify")]
    tls_verify: Option<bool>,
    #[serde(rename = "cert-dir")]
    cert_dir: Option<PathBuf>,
}

/// `credentials:` of a registry in the YAML file (the password a [`Secret`], so that the
/// derived `Debug` of the configuration does not show it).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct YamlCredentials {
    username: String,
    password: Secret,
}

/// The images `source` names for `transport` (skopeo's `imagesToCopy`).
pub async fn images_to_copy(
    log: &dyn SyncLog,
    source: &str,
    transport: &str,
    source_ctx: &SystemContext,
) -> anyhow::Result<Vec<SourceRepository>> {
    match transport {
        "docker" => {
            let reference = DockerReference::parse_normalized(source).map_err(|err| {
                err.context(format!(
                    "Cannot obtain a valid image reference for transport \"docker\" and reference {}",
                    go_quote(source)
                ))
            })?;
            let tagged = !reference.is_name_only();
            log.log(
                Level::Info,
                "Tag presence check",
                &[
                    ("imagename", source.to_string()),
                    ("tagged", tagged.to_string()),
                ],
            );
            let images = if tagged {
                let shown = reference.to_string();
                vec![ImageName::docker(reference).map_err(|err| {
                    err.context(format!(
                        "Cannot obtain a valid image reference for transport \"docker\" and reference {}",
                        go_quote(&shown)
                    ))
                })?]
            } else {
                let images = images_in_repository(log, &reference, source_ctx).await?;
                if images.is_empty() {
                    bail!("No images to sync found in {}", go_quote(source));
                }
                images
            };
            Ok(vec![SourceRepository {
                images,
                context: source_ctx.clone(),
                dir_base: None,
            }])
        }
        "dir" => {
            std::fs::metadata(source).map_err(|err| {
                anyhow!(
                    "Invalid source directory specified: stat {source}: {}",
                    skopos_core::go::text::go_errno_text(&err)
                )
            })?;
            let mut images = Vec::new();
            walk_for_images(source, &mut images).map_err(|err| {
                err.context(format!("Error walking the path {}", go_quote(source)))
            })?;
            if images.is_empty() {
                bail!("No images to sync found in {}", go_quote(source));
            }
            Ok(vec![SourceRepository {
                images,
                context: source_ctx.clone(),
                dir_base: Some(source.to_string()),
            }])
        }
        "oci" => Ok(vec![SourceRepository {
            images: crate::oci::images_in_layout(source)?,
            context: source_ctx.clone(),
            dir_base: None,
        }]),
        _ => images_from_yaml(log, source, source_ctx).await,
    }
}

/// Every tag of `repository` as an image (skopeo's `imagesToCopyFromRepo`).
async fn images_in_repository(
    log: &dyn SyncLog,
    repository: &DockerReference,
    ctx: &SystemContext,
) -> anyhow::Result<Vec<ImageName>> {
    let name = repository.name();
    log.log(Level::Info, "Getting tags", &[("image", name.clone())]);
    // Any failure, a refusal of the credentials too, ends the sync: skopeo 1.11 dropped the
    // warning (and empty list) 1.9.3 gave a registry that refused the tag list.
    let tags = skopos_transports::docker::repository_tags(repository, ctx)
        .await
        .with_context(|| format!("Error determining repository tags for repo {name}"))?;
    tags.iter()
        .map(|tag| {
            let tagged = repository.with_tag(tag).map_err(|err| {
                err.context(format!(
                    "Error creating a reference for repository {name} and tag {}",
                    go_quote(tag)
                ))
            })?;
            ImageName::docker(tagged)
        })
        .collect()
}

/// Go's `filepath.WalkDir` as skopeo uses it: entries in lexical order, and a directory
/// holding a `manifest.json` file is one image, whose remaining entries are not visited.
/// Paths are kept as the walk builds them (SOURCE joined with entry names, cleaned), since
/// skopeo shows them and derives destination names from them.
fn walk_for_images(path: &str, found: &mut Vec<ImageName>) -> anyhow::Result<()> {
    let metadata = std::fs::symlink_metadata(path)
        .map_err(|err| anyhow!("lstat {path}: {}", go_errno_text(&err)))?;
    if !metadata.is_dir() {
        return Ok(());
    }
    let mut entries = std::fs::read_dir(path)
        .map_err(|err| anyhow!("open {path}: {}", go_errno_text(&err)))?
        .map(|entry| entry.map(|entry| (entry.file_name(), entry.file_type())))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| anyhow!("readdirent {path}: {}", go_errno_text(&err)))?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, file_type) in entries {
        let file_type =
            file_type.map_err(|err| anyhow!("lstat {path}: {}", go_errno_text(&err)))?;
        if file_type.is_dir() {
            walk_for_images(&go_path_join(path, &name.to_string_lossy()), found)?;
        } else if name == "manifest.json" {
            found.push(ImageName::Dir(PathBuf::from(go_path_clean(path))));
            return Ok(());
        }
    }
    Ok(())
}

/// A `--src yaml` file: each registry's settings, in file order.
pub struct SyncYaml {
    registries: IndexMap<String, Option<RegistrySyncConfig>>,
}

impl SyncYaml {
    /// The file at `path` (named in errors) whose contents are `text`, decoded as skopeo
    /// decodes it (`Failed to unmarshal "PATH": why` when it cannot be).
    pub fn parse(path: &str, text: &[u8]) -> anyhow::Result<SyncYaml> {
        let registries: Option<IndexMap<String, Option<RegistrySyncConfig>>> =
            serde_norway::from_slice(text)
                .map_err(|err| anyhow!("Failed to unmarshal {}: {err}", go_quote(path)))?;
        // An empty file is an empty map to Go's decoder.
        Ok(SyncYaml {
            registries: registries.unwrap_or_default(),
        })
    }
}

/// The images a `--src yaml` file lists, one repository per entry, registries in file
/// order (skopeo iterates a Go map, in no fixed order).
async fn images_from_yaml(
    log: &dyn SyncLog,
    path: &str,
    source_ctx: &SystemContext,
) -> anyhow::Result<Vec<SourceRepository>> {
    let text = skopos_core::limits::read_file_like_go(
        std::path::Path::new(path),
        skopos_core::limits::MAX_CONFIG_FILE,
    )?;
    let config = SyncYaml::parse(path, &text)?;
    let mut repositories = Vec::new();
    for (registry, registry_config) in config.registries {
        let registry_config = registry_config.unwrap_or_default();
        if registry_config.images.is_empty() && registry_config.images_by_tag_regex.is_empty() {
            log.log(
                Level::Warning,
                "No images specified for registry",
                &[("registry", registry.clone())],
            );
            continue;
        }
        repositories
            .extend(images_from_registry(log, &registry, &registry_config, source_ctx).await);
    }
    Ok(repositories)
}

/// The repositories of one registry of the YAML file (skopeo's `imagesToCopyFromRegistry`):
/// an entry that cannot be used is logged and skipped.
async fn images_from_registry(
    log: &dyn SyncLog,
    registry: &str,
    config: &RegistrySyncConfig,
    source_ctx: &SystemContext,
) -> Vec<SourceRepository> {
    // The file's settings replace the command line's for this registry, as in 1.9.3.
    let mut context = SystemContext {
        docker_cert_dir: config.cert_dir.clone(),
        docker_tls_verify: config.tls_verify,
        ..source_ctx.clone()
    };
    if let Some(credentials) = &config.credentials {
        if !credentials.username.is_empty() || !credentials.password.expose().is_empty() {
            context.docker_credentials = Some(Credentials::Basic {
                username: credentials.username.clone(),
                password: credentials.password.clone(),
            });
        }
    }
    let mut repositories = Vec::new();
    for (repo, refs) in &config.images {
        let fields = repo_fields(registry, repo);
        let Some(repository) = parse_repository(log, registry, repo, &fields) else {
            continue;
        };
        log.log(Level::Info, "Processing repo", &fields);
        let refs = refs.as_deref().unwrap_or_default();
        let images = if refs.is_empty() {
            log.log(Level::Info, "Querying registry for image tags", &fields);
            match images_in_repository(log, &repository, &context).await {
                Ok(images) => images,
                Err(err) => {
                    log.log(Level::Error, "Error processing repo, skipping", &fields);
                    log.message(Level::Error, &format!("{err:#}"));
                    continue;
                }
            }
        } else {
            refs.iter()
                .filter_map(|reference| tagged_or_digested(log, &repository, reference))
                .collect()
        };
        add_repository(log, &mut repositories, images, &context, &fields);
    }
    for (repo, pattern) in &config.images_by_tag_regex {
        // Go decodes a null into the empty pattern, which matches every tag.
        let pattern = pattern.clone().unwrap_or_default();
        let fields = repo_fields(registry, repo);
        let Some(repository) = parse_repository(log, registry, repo, &fields) else {
            continue;
        };
        log.log(Level::Info, "Processing repo", &fields);
        let regex = match regex_lite::Regex::new(&pattern) {
            Ok(regex) => regex,
            Err(err) => {
                let mut with_regex = fields.to_vec();
                with_regex.push(("regex", pattern.clone()));
                log.log(Level::Error, "Error parsing regex, skipping", &with_regex);
                log.message(Level::Error, &err.to_string());
                continue;
            }
        };
        log.log(Level::Info, "Querying registry for image tags", &fields);
        let all = match images_in_repository(log, &repository, &context).await {
            Ok(images) => images,
            Err(err) => {
                log.log(Level::Error, "Error processing repo, skipping", &fields);
                log.message(Level::Error, &format!("{err:#}"));
                continue;
            }
        };
        log.log(
            Level::Info,
            &format!("Start filtering using the regular expression: {pattern}"),
            &fields,
        );
        let images: Vec<ImageName> = all
            .into_iter()
            .filter(|image| {
                image
                    .docker_reference()
                    .and_then(DockerReference::tag)
                    .is_some_and(|tag| regex.is_match(tag))
            })
            .collect();
        add_repository(log, &mut repositories, images, &context, &fields);
    }
    repositories
}

/// Add a repository's images to the sync, or warn as skopeo does when none were found.
fn add_repository(
    log: &dyn SyncLog,
    repositories: &mut Vec<SourceRepository>,
    images: Vec<ImageName>,
    context: &SystemContext,
    fields: &[(&'static str, String)],
) {
    if images.is_empty() {
        log.log(Level::Warning, "No refs to sync found", fields);
        return;
    }
    repositories.push(SourceRepository {
        images,
        context: context.clone(),
        dir_base: None,
    });
}

fn repo_fields(registry: &str, repo: &str) -> [(&'static str, String); 2] {
    [
        ("registry", registry.to_string()),
        ("repo", repo.to_string()),
    ]
}

/// `REGISTRY/REPO` as a repository (no tag or digest), or `None` after logging why not.
fn parse_repository(
    log: &dyn SyncLog,
    registry: &str,
    repo: &str,
    fields: &[(&str, String)],
) -> Option<DockerReference> {
    let parsed =
        DockerReference::parse_normalized(&format!("{registry}/{repo}")).and_then(|reference| {
            if reference.is_name_only() {
                Ok(reference)
            } else {
                bail!("input names a reference, not a repository")
            }
        });
    match parsed {
        Ok(reference) => Some(reference),
        Err(err) => {
            log.log(
                Level::Error,
                "Error parsing repository name, skipping",
                fields,
            );
            log.message(Level::Error, &format!("{err:#}"));
            None
        }
    }
}

/// One `images:` entry: a digest if it parses as one, else a tag; `None` after logging
/// why it cannot be used.
fn tagged_or_digested(
    log: &dyn SyncLog,
    repository: &DockerReference,
    reference: &str,
) -> Option<ImageName> {
    let fields = [("ref", reference.to_string())];
    let named = match reference.parse::<Digest>() {
        Ok(digest) => repository.clone().with_digest(digest),
        Err(_) => match repository.with_tag(reference) {
            Ok(tagged) => tagged,
            Err(err) => {
                log.log(Level::Error, "Error parsing ref, skipping", &fields);
                log.message(Level::Error, &format!("{err:#}"));
                return None;
            }
        },
    };
    match ImageName::docker(named) {
        Ok(image) => Some(image),
        Err(err) => {
            log.log(Level::Error, "Error processing ref, skipping", &fields);
            log.message(
                Level::Error,
                &format!("Error getting image reference: {err:#}"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_entries_decode_as_skopeo_reads_them() {
        let text = "r.example:\n  images:\n    busybox: []\n    redis: [\"1.0\"]\n  images-by-tag-regex:\n    nginx: ^1\\.13$\n  credentials: {username: u, password: p}\n  tls-verify: false\n  unknown: 1\nempty.example:\n";
        let config = SyncYaml::parse("f", text.as_bytes())
            .expect("valid YAML")
            .registries;
        let registry = config["r.example"].as_ref().expect("an entry");
        assert_eq!(
            registry.images.keys().collect::<Vec<_>>(),
            ["busybox", "redis"]
        );
        assert_eq!(
            registry.images["redis"].as_deref(),
            Some(&["1.0".to_string()][..])
        );
        assert_eq!(
            registry.images_by_tag_regex["nginx"].as_deref(),
            Some("^1\\.13$")
        );
        assert_eq!(
            registry.credentials.as_ref().map(|c| c.username.as_str()),
            Some("u")
        );
        assert_eq!(registry.tls_verify, Some(false));
        assert!(config["empty.example"].is_none());
        // Nulls decode as Go's zero values, an empty file as no registries.
        let nulls = SyncYaml::parse(
            "f",
            b"r:\n  images:\n    busybox:\n  images-by-tag-regex:\n    x:\n  credentials:\n  tls-verify:\n",
        )
        .expect("valid YAML")
        .registries;
        let registry = nulls["r"].as_ref().expect("an entry");
        assert_eq!(registry.images["busybox"], None);
        assert_eq!(registry.images_by_tag_regex["x"], None);
        assert_eq!(registry.tls_verify, None);
        let empty = SyncYaml::parse("f", b"").expect("an empty document");
        assert!(empty.registries.is_empty());
        let err = SyncYaml::parse("f", b"[1").err().expect("invalid YAML");
        assert!(
            err.to_string().starts_with("Failed to unmarshal \"f\": "),
            "{err}"
        );
    }
}
