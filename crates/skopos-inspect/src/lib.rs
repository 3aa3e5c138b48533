//! What `skopos inspect` reports about an image, as skopeo reports it: the `Inspect`
//! output (skopeo's `inspect.Output`: keys, order and nulls as Go marshals them), the
//! image's configuration as OCI `v1.Image`, the raw configuration blob, and the image a
//! manifest list stands for on a platform. Every read goes through an [`Inspector`], which
//! retries as `--retry-times` asks and words its errors as skopeo does, so that a program
//! gets skopeo's answers without running it.
//!
//! Printing (JSON indentation, Go templates) is the caller's; the output types serialize
//! with serde in Go's field order and naming.

#![deny(missing_docs)]

use std::collections::BTreeMap;

use anyhow::{anyhow, Context as _};
use serde::Serialize;

use skopos_core::digest::Algorithm;
use skopos_core::go::time::GoTime;
use skopos_core::image_config::OciImage;
use skopos_core::image_read::{self, image_config_blob, parse_schema1, ChosenImage};
use skopos_core::manifest::docker_v1_image::V1Image;
use skopos_core::manifest::{self, LayerInfo, Manifest};
use skopos_core::platform::Platform;
use skopos_core::retry::{with_retry, RetryOptions};
use skopos_core::verified::ManifestDigestMismatch;
use skopos_core::{Digest, ImageName, ImageSource};

/// The default `inspect` output (skopeo's `inspect.Output`), in Go field order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectOutput {
    /// The repository (`docker.io/library/busybox`); empty for transports without one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The tag a schema 1 manifest carries; empty otherwise.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tag: String,
    /// The top-level manifest's digest (the list's, for a list).
    pub digest: Digest,
    /// The repository's tags (empty when not asked for or not listable).
    pub repo_tags: Vec<String>,
    /// The image's creation time; `None` is Go's nil.
    pub created: Option<GoTime>,
    /// The Docker version that built the image, when the config says.
    pub docker_version: String,
    /// The config's labels; `None` is Go's nil map.
    pub labels: Option<BTreeMap<String, String>>,
    /// The image's CPU architecture.
    pub architecture: String,
    /// The image's operating system.
    pub os: String,
    /// The layers' digests, base first.
    pub layers: Vec<String>,
    /// The layers as the manifest describes them, base first.
    pub layers_data: Vec<InspectLayer>,
    /// The config's environment; `None` is Go's nil slice.
    pub env: Option<Vec<String>>,
}

/// One layer as containers/image's `types.ImageInspectLayer` describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectLayer {
    /// The layer's media type in the manifest; empty for schema 1.
    #[serde(rename = "MIMEType")]
    pub mime_type: String,
    /// The layer's (compressed) digest.
    pub digest: Digest,
    /// The size the manifest gives; -1 when it gives none (schema 1).
    pub size: i64,
    /// The layer's annotations (OCI only); `None` is Go's nil map.
    pub annotations: Option<BTreeMap<String, String>>,
}

/// containers/image's `imgInspectLayersFromLayerInfos(m.LayerInfos())`: every layer of
/// the manifest, base first, schema 1 throwaway layers included.
pub fn inspect_layers(layers: &[LayerInfo]) -> Vec<InspectLayer> {
    layers
        .iter()
        .map(|layer| InspectLayer {
            mime_type: layer.media_type.clone(),
            digest: layer.digest.clone(),
            size: layer
                .size
                .and_then(|size| i64::try_from(size).ok())
                .unwrap_or(-1),
            annotations: layer.annotations.clone(),
        })
        .collect()
}

/// What containers/image's `Inspect()` reports about one (single-platform) image: the
/// fields of [`InspectOutput`] that the image itself decides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageFacts {
    /// See [`InspectOutput::tag`].
    pub tag: String,
    /// See [`InspectOutput::created`].
    pub created: Option<GoTime>,
    /// See [`InspectOutput::docker_version`].
    pub docker_version: String,
    /// See [`InspectOutput::labels`].
    pub labels: Option<BTreeMap<String, String>>,
    /// See [`InspectOutput::architecture`].
    pub architecture: String,
    /// See [`InspectOutput::os`].
    pub os: String,
    /// See [`InspectOutput::layers`].
    pub layers: Vec<String>,
    /// See [`InspectOutput::layers_data`].
    pub layers_data: Vec<InspectLayer>,
    /// See [`InspectOutput::env`].
    pub env: Option<Vec<String>>,
}

impl ImageFacts {
    /// `Layers` and `LayersData` of the manifest's `layers`.
    fn with_layers(self, layers: &[LayerInfo]) -> Self {
        ImageFacts {
            layers: layers.iter().map(|l| l.digest.to_string()).collect(),
            layers_data: inspect_layers(layers),
            ..self
        }
    }
}

impl InspectOutput {
    /// Combine an image's facts with what only the top level knows.
    pub fn new(name: String, digest: Digest, repo_tags: Vec<String>, facts: ImageFacts) -> Self {
        InspectOutput {
            name,
            tag: facts.tag,
            digest,
            repo_tags,
            created: facts.created,
            docker_version: facts.docker_version,
            labels: facts.labels,
            architecture: facts.architecture,
            os: facts.os,
            layers: facts.layers,
            layers_data: facts.layers_data,
            env: facts.env,
        }
    }
}

/// The facts of an OCI image: everything from `v1.Image`, and `docker_version` from the
/// Docker fields the config may carry too.
pub fn facts_from_oci_config(blob: &[u8], layers: &[LayerInfo]) -> anyhow::Result<ImageFacts> {
    let oci: OciImage = serde_json::from_slice(blob).context("decoding the image configuration")?;
    let docker: V1Image =
        serde_json::from_slice(blob).context("decoding the image configuration")?;
    let facts = ImageFacts {
        tag: String::new(),
        created: oci.created,
        docker_version: docker.docker_version,
        labels: oci.config.labels,
        architecture: oci.architecture,
        os: oci.os,
        env: oci.config.env,
        ..ImageFacts::default()
    };
    Ok(facts.with_layers(layers))
}

/// The facts of a Docker schema 2 image: `created` is not optional (Go's zero time when
/// missing), and labels and environment come from `config` when there is one.
pub fn facts_from_docker_config(blob: &[u8], layers: &[LayerInfo]) -> anyhow::Result<ImageFacts> {
    let docker: V1Image =
        serde_json::from_slice(blob).context("decoding the image configuration")?;
    Ok(docker_facts(docker, String::new()).with_layers(layers))
}

fn docker_facts(docker: V1Image, tag: String) -> ImageFacts {
    let created = Some(docker.created);
    let (labels, env) = docker.config.map(|c| (c.labels, c.env)).unwrap_or_default();
    ImageFacts {
        tag,
        created,
        docker_version: docker.docker_version,
        labels,
        architecture: docker.architecture,
        os: docker.os,
        env,
        ..ImageFacts::default()
    }
}

/// The facts of a schema 1 manifest: the newest `v1Compatibility` entry holds the config,
/// and the manifest carries the tag.
pub fn facts_from_schema1(
    manifest_bytes: &[u8],
    layers: &[LayerInfo],
) -> anyhow::Result<ImageFacts> {
    let schema1 = parse_schema1(manifest_bytes)?;
    let newest = schema1
        .history
        .first()
        .ok_or_else(|| anyhow!("schema 1 manifest has no history entries"))?;
    let docker: V1Image = serde_json::from_str(&newest.v1_compatibility)
        .context("decoding the schema 1 v1Compatibility entry")?;
    Ok(docker_facts(docker, schema1.tag).with_layers(layers))
}

/// containers/image's `Inspect()` for each manifest type: `image` (whose stored bytes are
/// `image_bytes`) and, except for schema 1, its config blob read from `source` (bounded
/// and checked against its digest).
pub async fn image_facts(
    source: &dyn ImageSource,
    image: &Manifest,
    image_bytes: &[u8],
) -> anyhow::Result<ImageFacts> {
    let layers = image.layers();
    match image {
        Manifest::Oci(_) => {
            let blob = image_config_blob(source, image).await?;
            facts_from_oci_config(&blob, &layers)
        }
        Manifest::Schema2(_) => {
            let blob = image_config_blob(source, image).await?;
            facts_from_docker_config(&blob, &layers)
        }
        Manifest::Schema1(_) => facts_from_schema1(image_bytes, &layers),
    }
}

/// The images a top-level manifest (`bytes`, of type `mime`, empty when unknown) stands
/// for: its own digest first, then, for a list, every instance's.
pub fn manifest_subjects(bytes: &[u8], mime: &str) -> anyhow::Result<Vec<Digest>> {
    let mime = image_read::effective_mime(bytes, mime);
    let mut subjects = vec![manifest::manifest_digest(bytes)?];
    if let manifest::AnyManifest::List(list) = manifest::parse(bytes, &mime)? {
        subjects.extend(list.instances().into_iter().map(|i| i.digest));
    }
    Ok(subjects)
}

/// Reads what `inspect` reports from one open image, each step retried as `retry` says and
/// its errors prefixed with skopeo's wording (`Error parsing manifest for image: …`).
/// The image's own markers (not found, retryable) stay in the error chains.
pub struct Inspector<'a> {
    source: &'a dyn ImageSource,
    retry: RetryOptions,
}

/// `prefix: err` when printed with `{:#}`; `err` stays in the chain, so that the
/// not-found marker is still found.
fn prefixed(prefix: &str, err: anyhow::Error) -> anyhow::Error {
    err.context(prefix.to_string())
}

impl<'a> Inspector<'a> {
    /// An inspector of `source` (best wrapped in a
    /// [`skopos_core::verified::VerifiedSource`], so that manifests are checked against the
    /// digests the name gives).
    pub fn new(source: &'a dyn ImageSource, retry: RetryOptions) -> Self {
        Inspector { source, retry }
    }

    /// The top-level manifest's bytes and media type (empty when the transport does not
    /// say). A manifest that does not match its digest is reported as skopeo reports it,
    /// when parsing it.
    pub async fn top_manifest(&self) -> anyhow::Result<(Vec<u8>, String)> {
        with_retry(self.retry, || self.source.manifest(None))
            .await
            .map_err(|err| {
                if err.is::<ManifestDigestMismatch>() {
                    prefixed("Error parsing manifest for image", err)
                } else {
                    prefixed("Error retrieving manifest for image", err)
                }
            })
    }

    /// The single image the top-level manifest (`top`, of type `mime`) stands for on
    /// `platform`: itself, or a list's instance, read and checked against the list.
    pub async fn choose(
        &self,
        top: &[u8],
        mime: &str,
        platform: &Platform,
    ) -> anyhow::Result<ChosenImage> {
        with_retry(self.retry, || {
            image_read::choose_image(self.source, top, mime, platform)
        })
        .await
        .map_err(|err| prefixed("Error parsing manifest for image", err))
    }

    /// `--config --raw`: the config blob as stored, bounded and checked against its
    /// digest; empty for schema 1, which has none.
    pub async fn raw_config(&self, image: &Manifest) -> anyhow::Result<Vec<u8>> {
        match image.config() {
            Some(info) => with_retry(self.retry, || image_read::read_config(self.source, &info))
                .await
                .map_err(|err| prefixed("Error reading configuration blob", err)),
            None => Ok(Vec::new()),
        }
    }

    /// `--config`: the image's configuration as OCI `v1.Image` (converted from Docker and
    /// schema 1 configurations as containers/image converts them).
    pub async fn oci_config(&self, image: &Manifest) -> anyhow::Result<OciImage> {
        with_retry(self.retry, || image_read::oci_config(self.source, image))
            .await
            .map_err(|err| prefixed("Error reading OCI-formatted configuration data", err))
    }

    /// The default output for the image `name` whose top-level manifest is `top` and whose
    /// chosen image is `chosen`: the facts of the image, the repository's tags (unless
    /// `with_tags` is false; they are read while the config is), and the top-level digest
    /// in `algorithm`.
    pub async fn output(
        &self,
        name: &ImageName,
        top: &[u8],
        chosen: &ChosenImage,
        algorithm: Algorithm,
        with_tags: bool,
    ) -> anyhow::Result<InspectOutput> {
        let repo_tags = async {
            if !with_tags {
                return Ok(Vec::new());
            }
            self.source
                .repository_tags()
                .await
                .map(Option::unwrap_or_default)
                .map_err(|err| prefixed("Error determining repository tags", err))
        };
        let (facts, repo_tags) = tokio::join!(
            with_retry(self.retry, || image_facts(
                self.source,
                &chosen.manifest,
                &chosen.bytes
            )),
            repo_tags
        );
        // The image's own errors come first, as in skopeo, which reads them first.
        let facts = facts?;
        let repo_tags = repo_tags?;
        let digest = if algorithm == Algorithm::Sha256 {
            manifest::manifest_digest(top)
                .map_err(|err| prefixed("Error computing manifest digest", err))?
        } else {
            Digest::of(algorithm, top)
        };
        let name_field = name
            .docker_reference()
            .map(|r| r.name())
            .unwrap_or_default();
        Ok(InspectOutput::new(name_field, digest, repo_tags, facts))
    }
}

#[cfg(test)]
mod tests;
