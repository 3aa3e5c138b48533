//! Referrers and cosign tags of images in a registry repository. Both sides use the
//! repository's own registry (registries.conf's push location), not its mirrors: a
//! mirror is not expected to carry what was attached to the image after it was mirrored.

use async_trait::async_trait;
use skopos_core::reference::DockerReference;
use skopos_core::referrers::{Referrer, ReferrersDestination, ReferrersSource};
use skopos_core::{Digest, ImageDestination, ImageSource, Result, SystemContext};

use super::settings::{connect_primary, Endpoint};
use super::{DockerDestination, DockerSource};

/// The repository of a `docker://` image, for its referrers.
pub struct DockerReferrers {
    endpoint: Endpoint,
    /// The repository, without tag or digest.
    repository: DockerReference,
    ctx: SystemContext,
}

impl DockerReferrers {
    /// The repository `reference` is in, with the settings of `ctx`.
    pub fn open(reference: &DockerReference, ctx: &SystemContext) -> Result<DockerReferrers> {
        Ok(DockerReferrers {
            endpoint: connect_primary(reference, ctx)?,
            repository: reference.name_only(),
            ctx: ctx.clone(),
        })
    }
}

#[async_trait]
impl ReferrersSource for DockerReferrers {
    async fn referrers(
        &self,
        subject: &Digest,
        artifact_types: &[String],
    ) -> Result<Vec<Referrer>> {
        self.endpoint
            .client
            .referrers(&self.endpoint.repository, subject, artifact_types)
            .await
    }

    async fn has_manifest(&self, digest: &Digest) -> Result<bool> {
        let head = self
            .endpoint
            .client
            .head_manifest(&self.endpoint.repository, &digest.to_string())
            .await?;
        Ok(head.is_some())
    }

    async fn tag_digest(&self, tag: &str) -> Result<Option<Digest>> {
        let client = &self.endpoint.client;
        let repository = &self.endpoint.repository;
        let Some(head) = client.head_manifest(repository, tag).await? else {
            return Ok(None);
        };
        match head.digest {
            Some(digest) => Ok(Some(digest)),
            // A registry that does not say: the digest of what it serves.
            None => {
                let (bytes, _) = client.get_manifest(repository, tag).await?;
                Ok(Some(skopos_core::manifest::manifest_digest(&bytes)?))
            }
        }
    }

    async fn open_manifest(&self, digest: &Digest) -> Result<Box<dyn ImageSource>> {
        let reference = self.repository.with_digest(digest.clone());
        Ok(Box::new(DockerSource::open(&reference, &self.ctx).await?))
    }
}

#[async_trait]
impl ReferrersDestination for DockerReferrers {
    async fn open_manifest(&self, tag: Option<&str>) -> Result<Box<dyn ImageDestination>> {
        let reference = match tag {
            Some(tag) => self.repository.with_tag(tag)?,
            None => self.repository.clone(),
        };
        Ok(Box::new(
            DockerDestination::open(&reference, &self.ctx).await?,
        ))
    }

    async fn add_referrer(&self, subject: &Digest, referrer: &Referrer) -> Result<()> {
        let client = &self.endpoint.client;
        let repository = &self.endpoint.repository;
        if client.has_referrers_api(repository, subject).await? {
            // The registry indexed the referrer by its `subject` when it was pushed.
            return Ok(());
        }
        client
            .add_fallback_referrer(repository, subject, referrer)
            .await
    }
}
