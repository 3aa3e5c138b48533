//! `atomic:[HOST/]NAMESPACE/STREAM:TAG` — an image in an OpenShift image stream, as
//! containers/image's (deprecated, still shipped) `openshift` transport handles it: the
//! OpenShift API says which image a tag names and keeps its signatures, and the cluster's
//! registry (the reference's host) holds the manifest and blobs, reached through the
//! `docker://` transport's code.

mod client;
mod kubeconfig;

use std::sync::OnceLock;

use anyhow::anyhow;
use async_trait::async_trait;
use skopos_core::reference::{AtomicReference, DockerReference};
use skopos_core::{
    BlobInfo, BlobReader, Digest, ImageDestination, ImageSource, LayerCompression, Result,
    SystemContext, WrittenBlob,
};
use tokio::sync::OnceCell;

use crate::docker::{DockerDestination, DockerSource};
use client::OpenShiftClient;

/// An image stream tag, opened for reading. The tag is resolved on first use, as in
/// containers/image, so that `inspect` reports an unreachable API while reading the manifest.
pub struct AtomicSource {
    client: OpenShiftClient,
    ctx: SystemContext,
    resolved: OnceCell<(DockerSource, String)>,
}

impl AtomicSource {
    /// Prepare to read `reference` (reads the kubeconfig; no request yet).
    pub fn open(reference: &AtomicReference, ctx: &SystemContext) -> Result<AtomicSource> {
        Ok(AtomicSource {
            client: OpenShiftClient::new(reference, ctx)?,
            ctx: ctx.clone(),
            resolved: OnceCell::new(),
        })
    }

    /// The registry image the tag names, and the image's API name.
    async fn resolved(&self) -> Result<&(DockerSource, String)> {
        self.resolved
            .get_or_try_init(|| async {
                let tagged = self.client.resolve_tag().await?;
                tracing::debug!("Resolved reference {:?}", tagged.docker_reference);
                let reference = DockerReference::parse_normalized(&tagged.docker_reference)?;
                let source = DockerSource::open(&reference, &self.ctx).await?;
                Ok((source, tagged.image_name))
            })
            .await
    }
}

#[async_trait]
impl ImageSource for AtomicSource {
    async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        self.resolved().await?.0.manifest(instance).await
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobReader, Option<u64>)> {
        self.resolved().await?.0.blob(info).await
    }

    async fn blob_chunks(
        &self,
        info: &BlobInfo,
    ) -> Result<Option<(skopos_core::BlobChunks, Option<u64>)>> {
        self.resolved().await?.0.blob_chunks(info).await
    }

    /// The image is read from the cluster's registry, which serves ranges.
    fn resumes_blob_reads(&self) -> bool {
        true
    }

    async fn blob_from(&self, info: &BlobInfo, offset: u64) -> Result<skopos_core::BlobTail> {
        self.resolved().await?.0.blob_from(info, offset).await
    }

    async fn signatures(&self, instance: Option<&Digest>) -> Result<Vec<Vec<u8>>> {
        let image_name = match instance {
            Some(digest) => digest.to_string(),
            None => self.resolved().await?.1.clone(),
        };
        self.client.signatures(&image_name).await
    }

    fn has_thread_safe_get_blob(&self) -> bool {
        false
    }
}

/// An image being pushed into an image stream: blobs and manifest go to the cluster's
/// registry as `HOST/NAMESPACE/STREAM:TAG`, signatures to the OpenShift API.
pub struct AtomicDestination {
    client: OpenShiftClient,
    docker: DockerDestination,
    /// The digest of the top-level manifest once written: signatures are attached to it.
    image_name: OnceLock<String>,
}

impl AtomicDestination {
    /// Prepare to push to `reference`.
    pub async fn open(
        reference: &AtomicReference,
        ctx: &SystemContext,
    ) -> Result<AtomicDestination> {
        let client = OpenShiftClient::new(reference, ctx)?;
        let docker = DockerDestination::open(reference.docker_reference(), ctx).await?;
        Ok(AtomicDestination {
            client,
            docker,
            image_name: OnceLock::new(),
        })
    }
}

#[async_trait]
impl ImageDestination for AtomicDestination {
    fn supported_manifest_types(&self) -> Option<Vec<&'static str>> {
        self.docker.supported_manifest_types()
    }

    fn desired_layer_compression(&self) -> LayerCompression {
        LayerCompression::Compress
    }

    fn has_thread_safe_put_blob(&self) -> bool {
        false
    }

    async fn try_reuse_blob(&self, info: &BlobInfo) -> Result<Option<WrittenBlob>> {
        self.docker.try_reuse_blob(info).await
    }

    async fn put_blob(
        &self,
        stream: BlobReader,
        expected: Option<&BlobInfo>,
        is_config: bool,
    ) -> Result<WrittenBlob> {
        self.docker.put_blob(stream, expected, is_config).await
    }

    async fn put_manifest(
        &self,
        manifest: &[u8],
        mime_type: &str,
        instance: Option<&Digest>,
    ) -> Result<()> {
        if instance.is_none() {
            let _ = self
                .image_name
                .set(skopos_core::manifest::manifest_digest(manifest)?.to_string());
        }
        self.docker
            .put_manifest(manifest, mime_type, instance)
            .await
    }

    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        instance: Option<&Digest>,
    ) -> Result<()> {
        let image_name = match instance {
            Some(digest) => digest.to_string(),
            None => self.image_name.get().cloned().ok_or_else(|| {
                anyhow!("Internal error: Unknown manifest digest, can't add signatures")
            })?,
        };
        self.client.add_signatures(&image_name, signatures).await
    }

    async fn commit(&self) -> Result<()> {
        self.docker.commit().await
    }
}
