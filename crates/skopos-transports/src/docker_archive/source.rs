//! One image of a `docker save` archive, presented as a docker schema 2 image.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;
use async_trait::async_trait;
use serde::Deserialize;
use skopos_core::go::text::{go_path_clean, go_quote};
use skopos_core::manifest::schema2::{Schema2, Schema2Descriptor};
use skopos_core::reference::{ArchiveImage, DockerReference};
use skopos_core::{media_type, BlobInfo, BlobReader, Digest, ImageSource, Result, SystemContext};

use super::reader::MAX_CONFIG_SIZE;
use super::reader::{ArchiveFile, Component, ManifestItem, SpooledArchive};

/// An image of a docker-archive (or of a `docker save` stream a daemon sent).
#[derive(Debug)]
pub struct DockerArchiveSource {
    archive: Arc<ArchiveFile>,
    /// The image, or why it could not be prepared: containers/image reports that when the
    /// manifest is asked for, not when the archive is opened.
    image: std::result::Result<PreparedImage, String>,
}

/// What the manifest and blobs of the chosen image come from.
#[derive(Debug)]
struct PreparedImage {
    config: Vec<u8>,
    config_digest: Digest,
    /// Layers by DiffID (their uncompressed digest), with their uncompressed sizes.
    layers: HashMap<Digest, (Component, u64)>,
    manifest: Vec<u8>,
}

/// The part of an image config that matters here.
#[derive(Deserialize)]
struct ConfigRootFs {
    #[serde(default)]
    rootfs: Option<RootFs>,
}

#[derive(Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Option<Vec<Digest>>,
}

impl DockerArchiveSource {
    /// Open `image` of the archive at `path` (a tar, possibly compressed, or a stream).
    pub async fn open(path: &Path, image: &ArchiveImage, ctx: &SystemContext) -> Result<Self> {
        let archive = ArchiveFile::open(path, ctx).await?;
        Ok(Self::from_archive(Arc::new(archive), image).await)
    }

    /// `image` of an archive already spooled by [`super::spool_to_temp_file`] (for
    /// `docker-daemon:`, which receives the archive over HTTP). `ArchiveImage::Only`
    /// picks the archive's only image.
    pub async fn from_spooled(spooled: SpooledArchive, image: &ArchiveImage) -> Result<Self> {
        let archive = ArchiveFile::from_spooled(spooled).await?;
        Ok(Self::from_archive(Arc::new(archive), image).await)
    }

    async fn from_archive(archive: Arc<ArchiveFile>, image: &ArchiveImage) -> Self {
        let image = prepare(&archive, image)
            .await
            .map_err(|err| format!("{err:#}"));
        DockerArchiveSource { archive, image }
    }

    fn image(&self) -> Result<&PreparedImage> {
        self.image.as_ref().map_err(|message| anyhow!("{message}"))
    }
}

/// containers/image's `ChooseManifestItem`.
pub(crate) fn choose_item<'a>(
    manifest: &'a [ManifestItem],
    image: &ArchiveImage,
) -> Result<(&'a ManifestItem, Option<usize>)> {
    match image {
        ArchiveImage::Named(wanted) => {
            let wanted = wanted.to_string();
            for (position, item) in manifest.iter().enumerate() {
                for (tag_index, tag) in item.repo_tags().iter().enumerate() {
                    let parsed = DockerReference::parse_normalized(tag).map_err(|err| {
                        anyhow!(
                            "Invalid tag {} in manifest.json item @{position}: {err:#}",
                            go_quote(tag)
                        )
                    })?;
                    if parsed.to_string() == wanted {
                        return Ok((item, Some(tag_index)));
                    }
                }
            }
            Err(anyhow!("Tag {} not found", go_quote(&wanted)))
        }
        ArchiveImage::Index(index) => {
            manifest
                .get(*index)
                .map(|item| (item, None))
                .ok_or_else(|| {
                    anyhow!(
                        "Invalid source index @{index}, only {} manifest items available",
                        manifest.len()
                    )
                })
        }
        ArchiveImage::Only => match manifest {
            [only] => Ok((only, None)),
            _ => Err(anyhow!(
                "Unexpected tar manifest.json: expected 1 item, got {}",
                manifest.len()
            )),
        },
    }
}

/// Choose the image, read its config and find its layers, as containers/image's
/// `ensureCachedDataIsPresent` does; the manifest is generated from them.
async fn prepare(archive: &ArchiveFile, image: &ArchiveImage) -> Result<PreparedImage> {
    let (item, _) = choose_item(&archive.manifest, image)?;
    let config = archive
        .read_component(&item.config, MAX_CONFIG_SIZE)
        .await?;
    let parsed: ConfigRootFs = serde_json::from_slice(&config)
        .map_err(|err| anyhow!("decoding tar config {}: {err}", item.config))?;
    let diff_ids = match parsed.rootfs {
        Some(rootfs) => rootfs.diff_ids.unwrap_or_default(),
        None => {
            return Err(anyhow!(
                "Invalid image config (rootFS is not set): {}",
                item.config
            ))
        }
    };
    if item.layers().len() != diff_ids.len() {
        return Err(anyhow!(
            "Inconsistent layer count: {} in manifest, {} in config",
            item.layers().len(),
            diff_ids.len()
        ));
    }
    let mut layers: HashMap<Digest, (Component, u64)> = HashMap::new();
    let mut paths_used: HashMap<String, Digest> = HashMap::new();
    for (diff_id, layer_path) in diff_ids.iter().zip(item.layers()) {
        if layers.contains_key(diff_id) {
            // The same layer twice in one image: docker save links the copies.
            continue;
        }
        let cleaned = go_path_clean(layer_path);
        if paths_used
            .insert(cleaned.clone(), diff_id.clone())
            .is_some()
        {
            return Err(anyhow!(
                "Layer tarfile {cleaned} used for two different DiffID values"
            ));
        }
        let component = archive
            .lookup(layer_path)?
            .ok_or_else(|| anyhow!("Some layer tarfiles are missing in the tarball"))?;
        let size = archive.uncompressed_size(&component).await.map_err(|err| {
            anyhow!("auto-decompressing {cleaned} to determine its size: {err:#}")
        })?;
        layers.insert(diff_id.clone(), (component, size));
    }
    // The config goes by the digest its name gives, when it has one, so that the copy
    // engine's check of every blob against its digest refuses a config that is not the one
    // named.
    let config_digest =
        digest_in_config_name(&item.config).unwrap_or_else(|| Digest::sha256_of(&config));
    let mut descriptors = Vec::with_capacity(diff_ids.len());
    for diff_id in &diff_ids {
        let (_, size) = layers.get(diff_id).ok_or_else(|| {
            anyhow!("Internal inconsistency: Information about layer {diff_id} missing")
        })?;
        descriptors.push(Schema2Descriptor {
            // What containers/image writes, although the layers are not compressed.
            media_type: media_type::DOCKER_LAYER_GZIP.to_string(),
            size: i64::try_from(*size)?,
            digest: diff_id.clone(),
            urls: Vec::new(),
        });
    }
    let manifest = Schema2::from_components(
        Schema2Descriptor {
            media_type: media_type::DOCKER_V2_CONFIG.to_string(),
            size: i64::try_from(config.len())?,
            digest: config_digest.clone(),
            urls: Vec::new(),
        },
        Some(descriptors),
    )
    .to_bytes()?;
    Ok(PreparedImage {
        config,
        config_digest,
        layers,
        manifest,
    })
}

/// The digest a config's path in `manifest.json` names: `<hex>.json` as `docker save` and
/// containers/image write it, or `blobs/<algorithm>/<hex>` in an OCI-layout archive.
fn digest_in_config_name(path: &str) -> Option<Digest> {
    let cleaned = go_path_clean(path);
    if let Some(hex) = cleaned.strip_suffix(".json") {
        if !hex.contains('/') {
            return format!("sha256:{hex}").parse().ok();
        }
    }
    let (algorithm, hex) = cleaned.strip_prefix("blobs/")?.split_once('/')?;
    format!("{algorithm}:{hex}").parse().ok()
}

#[async_trait]
impl ImageSource for DockerArchiveSource {
    async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        if instance.is_some() {
            return Err(anyhow!(
                "Manifest lists are not supported by \"docker-daemon:\""
            ));
        }
        let image = self.image()?;
        Ok((
            image.manifest.clone(),
            media_type::DOCKER_V2_SCHEMA2.to_string(),
        ))
    }

    /// The config from memory; a layer decompressed, as its digest is its DiffID.
    async fn blob(&self, info: &BlobInfo) -> Result<(BlobReader, Option<u64>)> {
        let image = self.image()?;
        if info.digest == image.config_digest {
            let size = image.config.len() as u64;
            return Ok((
                Box::pin(std::io::Cursor::new(image.config.clone())),
                Some(size),
            ));
        }
        let Some((component, size)) = image.layers.get(&info.digest) else {
            return Err(anyhow!("Unknown blob {}", info.digest));
        };
        let stream = self
            .archive
            .uncompressed_stream(component)
            .await
            .map_err(|err| anyhow!("auto-decompressing blob {}: {err:#}", info.digest))?;
        Ok((stream, Some(*size)))
    }
}

#[cfg(test)]
mod config_name_tests {
    use super::digest_in_config_name;

    #[test]
    fn reads_the_digest_a_config_name_gives() {
        let hex = "a".repeat(64);
        let expected = format!("sha256:{hex}");
        assert_eq!(
            digest_in_config_name(&format!("{hex}.json")).map(|d| d.to_string()),
            Some(expected.clone())
        );
        assert_eq!(
            digest_in_config_name(&format!("./blobs/sha256/{hex}")).map(|d| d.to_string()),
            Some(expected)
        );
        assert_eq!(digest_in_config_name("config.json"), None);
        assert_eq!(digest_in_config_name(&format!("dir/{hex}.json")), None);
    }
}
