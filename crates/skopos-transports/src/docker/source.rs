//! Reading an image from a registry.

use anyhow::anyhow;
use async_trait::async_trait;
use skopos_config::auth::Environment;
use skopos_core::reference::DockerReference;
use skopos_core::{
    BlobChunks, BlobInfo, BlobReader, BlobTail, Digest, ImageSource, Result, SystemContext,
};

use super::attachments::read_attachments;
use super::lookaside::{read_signatures, storage_for, SignatureStorage};
use super::settings::{connect, pull_candidates, registries_conf, tag_or_digest, Endpoint};

/// An image in a registry, opened for reading.
pub struct DockerSource {
    endpoint: Endpoint,
    /// The top-level manifest, read when opening (that is how a mirror is chosen).
    top_level: (Vec<u8>, String),
    /// Where the image's signatures are (for the location actually read from).
    storage: SignatureStorage,
}

impl DockerSource {
    /// Open `reference`, trying registries.conf's mirrors first and the primary location
    /// last; the first endpoint that serves the manifest is used.
    pub async fn open(reference: &DockerReference, ctx: &SystemContext) -> Result<DockerSource> {
        let env = Environment::from_process();
        let conf = registries_conf(&env, ctx)?;
        let mut last_error = None;
        for candidate in pull_candidates(reference, &conf)? {
            let attempt = async {
                let endpoint = connect(&candidate, &env, &conf, ctx)?;
                let storage = storage_for(&endpoint.reference, ctx, &env, false)?;
                let top_level = endpoint
                    .client
                    .get_manifest(&endpoint.repository, &tag_or_digest(&endpoint.reference))
                    .await?;
                Ok::<_, anyhow::Error>(DockerSource {
                    endpoint,
                    top_level,
                    storage,
                })
            };
            match attempt.await {
                Ok(source) => return Ok(source),
                Err(err) => {
                    tracing::debug!("reading {} failed: {err:#}", candidate.reference);
                    last_error = Some(err);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow!("no location to pull {reference} from")))
    }
}

#[async_trait]
impl ImageSource for DockerSource {
    async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        match instance {
            None => Ok(self.top_level.clone()),
            Some(digest) => {
                self.endpoint
                    .client
                    .get_manifest(&self.endpoint.repository, &digest.to_string())
                    .await
            }
        }
    }

    /// The digest of a `…@sha256:…` reference.
    fn expected_manifest_digest(&self) -> Option<Digest> {
        self.endpoint.reference.digest().cloned()
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobReader, Option<u64>)> {
        self.endpoint
            .client
            // The copy engine verifies every blob; hashing here too would double the cost.
            .get_blob_unverified(&self.endpoint.repository, &info.digest)
            .await
    }

    /// The HTTP body's buffers, for a registry destination to send on as they are.
    async fn blob_chunks(&self, info: &BlobInfo) -> Result<Option<(BlobChunks, Option<u64>)>> {
        let (chunks, size) = self
            .endpoint
            .client
            .get_blob_chunks(&self.endpoint.repository, &info.digest)
            .await?;
        Ok(Some((chunks, size)))
    }

    fn resumes_blob_reads(&self) -> bool {
        true
    }

    async fn blob_from(&self, info: &BlobInfo, offset: u64) -> Result<BlobTail> {
        self.endpoint
            .client
            .get_blob_from(&self.endpoint.repository, &info.digest, offset)
            .await
    }

    /// The signatures of the top-level manifest or of instance `instance`: from the
    /// lookaside, then sigstore attachments when registries.d enables them.
    async fn signatures(&self, instance: Option<&Digest>) -> Result<Vec<Vec<u8>>> {
        let digest = match instance {
            Some(digest) => digest.clone(),
            None => skopos_core::manifest::manifest_digest(&self.top_level.0)?,
        };
        let client = &self.endpoint.client;
        let mut signatures = read_signatures(&self.storage.lookaside, client, &digest).await?;
        if self.storage.sigstore_attachments {
            signatures.extend(read_attachments(client, &self.endpoint.repository, &digest).await?);
        } else {
            tracing::debug!("Not looking for sigstore attachments: disabled by configuration");
        }
        Ok(signatures)
    }

    fn blob_location(&self) -> Option<skopos_core::blob_info_cache::BlobLocation> {
        Some(super::blob_location(&self.endpoint.reference))
    }

    async fn repository_tags(&self) -> Result<Option<Vec<String>>> {
        let tags = self
            .endpoint
            .client
            .list_tags(&self.endpoint.repository)
            .await?;
        Ok(Some(tags))
    }
}
