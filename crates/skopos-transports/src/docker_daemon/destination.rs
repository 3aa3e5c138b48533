//! Writing an image into the daemon: a docker-archive streamed as the body of
//! `POST /images/load` while the copy runs. Committing ends the tar and the body and waits
//! for the daemon's reply; a destination dropped without a commit aborts the request before
//! its body is complete, so the daemon loads nothing.

use std::sync::Arc;

use anyhow::{anyhow, Context as _};
use async_trait::async_trait;
use skopos_core::reference::DaemonImage;
use skopos_core::{
    BlobInfo, BlobReader, Digest, ImageDestination, LayerCompression, Result, SystemContext,
    WrittenBlob,
};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::client::{DaemonClient, LoadReply, LoadUpload};
use crate::docker_archive::{ArchiveFinisher, ArchiveSink, DockerArchiveDestination};

/// What containers/image says when loading into the daemon fails.
const SAVING: &str = "saving image to docker engine";

/// How long a failed write into the request body waits for the daemon's reply, which
/// explains the failure better than the broken connection does.
const DAEMON_REPLY_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// An image being loaded into a daemon.
pub(crate) struct DockerDaemonDestination {
    archive: DockerArchiveDestination,
    /// The load request's outcome, also awaited by the archive's finisher on commit.
    reply: Arc<Mutex<LoadReply>>,
}

impl DockerDaemonDestination {
    /// Start loading an image called `image` (which must be `NAME:TAG`) into the daemon
    /// `ctx` names. Connects right away, so an unreachable daemon fails the copy before
    /// anything is read from the source.
    pub(crate) async fn open(
        image: &DaemonImage,
        ctx: &SystemContext,
    ) -> Result<DockerDaemonDestination> {
        let reference = match image {
            DaemonImage::Named(reference) if reference.tag().is_some() => reference.clone(),
            DaemonImage::Named(reference) => {
                return Err(not_name_and_tag(&reference.familiar_string()))
            }
            DaemonImage::Id(id) => return Err(not_name_and_tag(&id.to_string())),
        };
        let client = DaemonClient::new(ctx)?;
        let LoadUpload { writer, reply } = client.image_load().await.context(SAVING)?;
        let reply = Arc::new(Mutex::new(reply));
        // Only the destination's own name: `--additional-tag` is for docker-archive: files
        // only, as in skopeo.
        let archive = DockerArchiveDestination::with_sink(
            Box::new(writer),
            vec![reference],
            ctx,
            Box::new(AwaitDaemonReply {
                reply: reply.clone(),
            }),
        );
        Ok(DockerDaemonDestination { archive, reply })
    }

    /// When writing into the request body failed, the daemon's own reason if it has
    /// already given one (it hung up with an error), else `err`.
    async fn explain(&self, err: anyhow::Error) -> anyhow::Error {
        match self
            .reply
            .lock()
            .await
            .failure_within(DAEMON_REPLY_PATIENCE)
            .await
        {
            Some(daemon) => daemon.context(SAVING),
            None => err,
        }
    }
}

fn not_name_and_tag(within_transport: &str) -> anyhow::Error {
    anyhow!(
        "Invalid destination docker-daemon:{within_transport}: a destination must be a name:tag"
    )
}

/// The commit step after the tar's last byte: end the request body, then wait for the
/// daemon's verdict.
struct AwaitDaemonReply {
    reply: Arc<Mutex<LoadReply>>,
}

#[async_trait]
impl ArchiveFinisher for AwaitDaemonReply {
    async fn finish(self: Box<Self>, mut sink: ArchiveSink) -> Result<()> {
        let ended = sink.shutdown().await;
        let mut reply = self.reply.lock().await;
        // A failed shutdown means the daemon hung up: its reply says why.
        reply.wait().await.context(SAVING)?;
        ended.context(SAVING)?;
        Ok(())
    }
}

#[async_trait]
impl ImageDestination for DockerDaemonDestination {
    fn supported_manifest_types(&self) -> Option<Vec<&'static str>> {
        self.archive.supported_manifest_types()
    }

    /// Layers go to the daemon as they are, compressed or not (containers/image's
    /// daemon destination overrides the archive's `Decompress`): the daemon decompresses
    /// them itself, and known sizes spare spooling each layer to learn its size.
    fn desired_layer_compression(&self) -> LayerCompression {
        LayerCompression::Preserve
    }

    fn supports_signatures(&self) -> std::result::Result<(), String> {
        self.archive.supports_signatures()
    }

    fn has_thread_safe_put_blob(&self) -> bool {
        self.archive.has_thread_safe_put_blob()
    }

    async fn try_reuse_blob(&self, info: &BlobInfo) -> Result<Option<WrittenBlob>> {
        self.archive.try_reuse_blob(info).await
    }

    async fn put_blob(
        &self,
        stream: BlobReader,
        expected: Option<&BlobInfo>,
        is_config: bool,
    ) -> Result<WrittenBlob> {
        match self.archive.put_blob(stream, expected, is_config).await {
            Ok(written) => Ok(written),
            Err(err) => Err(self.explain(err).await),
        }
    }

    async fn put_manifest(
        &self,
        manifest: &[u8],
        mime_type: &str,
        instance: Option<&Digest>,
    ) -> Result<()> {
        match self
            .archive
            .put_manifest(manifest, mime_type, instance)
            .await
        {
            Ok(()) => Ok(()),
            Err(err) => Err(self.explain(err).await),
        }
    }

    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        instance: Option<&Digest>,
    ) -> Result<()> {
        self.archive.put_signatures(signatures, instance).await
    }

    async fn commit(&self) -> Result<()> {
        self.archive.commit().await
    }
}

#[cfg(test)]
#[path = "destination_tests.rs"]
mod tests;
