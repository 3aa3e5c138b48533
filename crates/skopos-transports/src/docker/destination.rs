//! Writing an image to a registry.

use std::collections::HashMap;
use std::path::PathBuf;

use async_trait::async_trait;
use skopos_core::media_type as mt;
use skopos_core::reference::DockerReference;
use skopos_core::{
    BlobChunks, BlobInfo, BlobReader, Digest, FileBlob, ImageDestination, LayerCompression, Result,
    SentBytes, SystemContext, WrittenBlob,
};

use skopos_core::signature_blob::SigstoreBlob;
use skopos_registry::UploadSessions;

use super::attachments::write_attachments;
use super::lookaside::{storage_for, write_signatures, SignatureStorage};
use super::settings::{connect_primary, Endpoint};
use crate::fsutil;

/// An image being pushed to a registry. The registry makes each manifest visible as it is
/// PUT; the manifest goes last, so an interrupted push leaves no tag on a partial image.
pub struct DockerDestination {
    endpoint: Endpoint,
    /// A repository on the same registry holding the source image: blobs are mounted from
    /// it instead of uploaded.
    mount_from: Option<String>,
    /// Where blobs of unknown digest are hashed before upload (`--dest-precompute-digests`);
    /// `None` uploads them as they come.
    precompute_digests_in: Option<PathBuf>,
    /// Where signatures are written (registries.d's write locations).
    storage: SignatureStorage,
    /// The digest of the top-level manifest written, which top-level signatures sign.
    top_level_digest: std::sync::Mutex<Option<Digest>>,
    /// Upload sessions that failed mounts opened or that were opened ahead, for the uploads
    /// that follow them.
    upload_sessions: UploadSessions,
    /// What the checks made ahead ([`ImageDestination::prepare_blob`]) found: the size of a
    /// blob the repository has, `None` for one it lacked. Each answers one later check.
    checked_ahead: std::sync::Mutex<HashMap<Digest, Option<u64>>>,
}

impl DockerDestination {
    /// Prepare to push to `reference`.
    pub async fn open(
        reference: &DockerReference,
        ctx: &SystemContext,
    ) -> Result<DockerDestination> {
        let endpoint = connect_primary(reference, ctx)?;
        let env = skopos_config::auth::Environment::from_process();
        let storage = storage_for(&endpoint.reference, ctx, &env, true)?;
        let mount_from = ctx
            .docker_mount_source
            .as_ref()
            .filter(|source| {
                source.domain() == endpoint.reference.domain()
                    && source.path() != endpoint.reference.path()
            })
            .map(|source| source.path().to_string());
        Ok(DockerDestination {
            endpoint,
            mount_from,
            precompute_digests_in: ctx.docker_precompute_digests.then(|| ctx.tmpdir()),
            storage,
            top_level_digest: std::sync::Mutex::new(None),
            upload_sessions: UploadSessions::default(),
            checked_ahead: std::sync::Mutex::default(),
        })
    }
}

impl DockerDestination {
    /// The answers of checks made ahead, even if a thread panicked holding them: each
    /// insert or removal leaves them consistent.
    fn checked_ahead(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, Option<u64>>> {
        self.checked_ahead
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl ImageDestination for DockerDestination {
    fn supported_manifest_types(&self) -> Option<Vec<&'static str>> {
        Some(vec![
            mt::OCI_MANIFEST,
            mt::DOCKER_V2_SCHEMA2,
            mt::DOCKER_V2_SCHEMA1_SIGNED,
            mt::DOCKER_V2_SCHEMA1,
            mt::DOCKER_V2_LIST,
            mt::OCI_INDEX,
        ])
    }

    fn desired_layer_compression(&self) -> LayerCompression {
        LayerCompression::Compress
    }

    async fn try_reuse_blob(&self, info: &BlobInfo) -> Result<Option<WrittenBlob>> {
        let client = &self.endpoint.client;
        let repository = &self.endpoint.repository;
        let checked = self.checked_ahead().remove(&info.digest);
        let found = match checked {
            Some(found) => found,
            None => client.blob_exists(repository, &info.digest).await?,
        };
        if let Some(size) = found {
            return Ok(Some(WrittenBlob::new(info.digest.clone(), size)));
        }
        let Some(from) = &self.mount_from else {
            return Ok(None);
        };
        if !client
            .mount_blob(repository, &info.digest, from, &self.upload_sessions)
            .await?
        {
            return Ok(None);
        }
        let size = match info.size {
            Some(size) => size,
            None => client
                .blob_exists(repository, &info.digest)
                .await?
                .unwrap_or_default(),
        };
        Ok(Some(WrittenBlob {
            mounted: true,
            ..WrittenBlob::new(info.digest.clone(), size)
        }))
    }

    /// The check's `HEAD` now, and for a blob the repository lacks an upload session
    /// (`POST`) that the next upload takes: a layer waiting for a slot then starts sending
    /// when it gets one. On a loopback registry busy syncing the first layers to disk, these
    /// two took 150 ms at each slot handed on. A blob mounted from another repository gets
    /// its session from the mount.
    async fn prepare_blob(&self, info: &BlobInfo) {
        let client = &self.endpoint.client;
        let repository = &self.endpoint.repository;
        let found = match client.blob_exists(repository, &info.digest).await {
            Ok(found) => found,
            Err(err) => {
                tracing::debug!("checking blob {} ahead: {err:#}", info.digest);
                return;
            }
        };
        self.checked_ahead().insert(info.digest.clone(), found);
        if found.is_none() && self.mount_from.is_none() {
            if let Err(err) = client
                .open_upload_ahead(repository, &info.digest, &self.upload_sessions)
                .await
            {
                tracing::debug!("opening an upload session ahead: {err:#}");
            }
        }
    }

    fn blob_location(&self) -> Option<skopos_core::blob_info_cache::BlobLocation> {
        Some(super::blob_location(&self.endpoint.reference))
    }

    /// The cache's `location` is a repository's full name on this registry (the cache
    /// offers only this scope's): this repository is asked for the blob, another one is
    /// mounted from.
    async fn try_reuse_blob_from(
        &self,
        info: &BlobInfo,
        location: &str,
    ) -> Result<Option<WrittenBlob>> {
        let client = &self.endpoint.client;
        let repository = &self.endpoint.repository;
        let Ok(from) = DockerReference::parse_normalized(location) else {
            return Ok(None);
        };
        if from.domain() != self.endpoint.reference.domain() {
            return Ok(None);
        }
        if from.path() != repository.as_str() {
            if !client
                .mount_blob(repository, &info.digest, from.path(), &self.upload_sessions)
                .await?
            {
                return Ok(None);
            }
            // Mounted: the registry has it in this repository now.
            if let Some(size) = info.size {
                return Ok(Some(WrittenBlob {
                    digest: info.digest.clone(),
                    size,
                    mounted: true,
                }));
            }
        }
        Ok(client
            .blob_exists(repository, &info.digest)
            .await?
            .map(|size| WrittenBlob::new(info.digest.clone(), size)))
    }

    /// An upload with a known digest ends in `PUT …?digest=`, which the registry refuses
    /// (`DIGEST_INVALID`) when what it received does not match.
    fn checks_blob_digests(&self) -> bool {
        true
    }

    async fn put_blob(
        &self,
        stream: BlobReader,
        expected: Option<&BlobInfo>,
        _is_config: bool,
    ) -> Result<WrittenBlob> {
        let client = &self.endpoint.client;
        let repository = &self.endpoint.repository;
        let (None, Some(spool_dir)) = (expected, &self.precompute_digests_in) else {
            return client
                .put_blob(repository, stream, expected, &self.upload_sessions)
                .await;
        };
        tracing::debug!("Precomputing digest layer for {repository}");
        let dir = spool_dir.clone();
        let temp = fsutil::blocking(move || fsutil::create_temp_file(&dir, "stream-blob")).await?;
        let spooled = fsutil::spool(stream, temp, true).await?;
        let digest = spooled
            .digest
            .clone()
            .ok_or_else(|| anyhow::anyhow!("internal error: a spooled blob was not hashed"))?;
        if let Some(size) = client.blob_exists(repository, &digest).await? {
            tracing::debug!("Skipping blob {digest} (already present)");
            return Ok(WrittenBlob::new(digest, size));
        }
        let content = spooled.reader()?;
        let info = BlobInfo {
            digest,
            size: Some(spooled.size),
            media_type: String::new(),
        };
        // `spooled` lives until the upload is done: dropping it removes the spooled copy.
        let written = client
            .put_blob(
                repository,
                Box::pin(content),
                Some(&info),
                &self.upload_sessions,
            )
            .await;
        drop(spooled);
        written
    }

    /// A download's buffers go into the upload's body as they are.
    async fn put_blob_chunks(
        &self,
        chunks: BlobChunks,
        info: &BlobInfo,
        _is_config: bool,
    ) -> Result<WrittenBlob> {
        self.endpoint
            .client
            .put_blob_chunks(
                &self.endpoint.repository,
                chunks,
                info,
                &self.upload_sessions,
            )
            .await
    }

    /// Over plain HTTP, without a proxy, the file goes to the socket with `sendfile`.
    async fn put_file_blob(
        &self,
        stream: BlobReader,
        file: FileBlob,
        info: &BlobInfo,
        _is_config: bool,
        sent: SentBytes,
    ) -> Result<WrittenBlob> {
        self.endpoint
            .client
            .put_file_blob(
                &self.endpoint.repository,
                stream,
                file,
                info,
                sent,
                &self.upload_sessions,
            )
            .await
    }

    async fn put_manifest(
        &self,
        manifest: &[u8],
        mime_type: &str,
        instance: Option<&Digest>,
    ) -> Result<()> {
        let reference = match (instance, self.endpoint.reference.tag()) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.to_string(),
            (None, None) => Digest::sha256_of(manifest).to_string(),
        };
        self.endpoint
            .client
            .put_manifest(&self.endpoint.repository, &reference, manifest, mime_type)
            .await?;
        if instance.is_none() {
            let digest = skopos_core::manifest::manifest_digest(manifest)?;
            if let Ok(mut top_level) = self.top_level_digest.lock() {
                *top_level = Some(digest);
            }
        }
        Ok(())
    }

    /// Sigstore signatures go to OCI attachments (when registries.d enables them), simple
    /// signatures to the lookaside (only `file://` ones can be written).
    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        instance: Option<&Digest>,
    ) -> Result<()> {
        if signatures.is_empty() {
            return Ok(());
        }
        let digest = match instance {
            Some(digest) => digest.clone(),
            None => self
                .top_level_digest
                .lock()
                .ok()
                .and_then(|digest| digest.clone())
                .ok_or_else(|| anyhow::anyhow!("Unknown manifest digest, can't add signatures"))?,
        };
        let mut sigstore = Vec::new();
        let mut simple = Vec::new();
        for blob in signatures {
            match SigstoreBlob::from_blob(blob) {
                Some(parsed) => sigstore.push(parsed?),
                None => simple.push(blob.clone()),
            }
        }
        if !sigstore.is_empty() {
            if !self.storage.sigstore_attachments {
                anyhow::bail!("writing sigstore attachments is disabled by configuration");
            }
            write_attachments(
                &self.endpoint.client,
                &self.endpoint.repository,
                &digest,
                &sigstore,
            )
            .await?;
        }
        write_signatures(&self.storage.lookaside, &digest, &simple).await
    }

    /// The registry holds everything already; only upload sessions that failed mounts
    /// opened or that were opened ahead, and that no upload took, are left to cancel.
    async fn commit(&self) -> Result<()> {
        self.endpoint
            .client
            .cancel_unused_uploads(&self.upload_sessions)
            .await;
        Ok(())
    }
}
