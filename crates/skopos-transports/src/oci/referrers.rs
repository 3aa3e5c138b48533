//! Referrers and cosign tags in an OCI layout. A layout has no referrers API; as oras and
//! regctl do, a subject's referrers are listed by an image index named after it by the
//! referrers tag schema (`org.opencontainers.image.ref.name` = `sha256-<hex>`). Reading
//! also finds referrers that `index.json` lists directly (oras keeps untagged manifests
//! there). Updates happen under the layout's lock, so concurrent writers keep each
//! other's referrers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use async_trait::async_trait;
use skopos_core::limits::MAX_MANIFEST_BODY;
use skopos_core::media_type;
use skopos_core::reference::OciImage;
use skopos_core::referrers::{
    fallback_tag, Referrer, ReferrersDestination, ReferrersIndex, ReferrersSource,
};
use skopos_core::{Digest, ImageDestination, ImageSource, Result, SystemContext};

use super::index::{Descriptor, Index, REF_NAME_ANNOTATION};
use super::{
    index_path, oci_layout_path, BlobStore, OciDestination, OciSource, OCI_LAYOUT_CONTENT,
};
use crate::fsutil::{self, DirLock};

/// An OCI layout, for the referrers of the images in it.
pub struct OciReferrers {
    dir: PathBuf,
    blobs: BlobStore,
    ctx: SystemContext,
}

impl OciReferrers {
    /// The layout at `path`, with the settings of `ctx` (a shared blob directory).
    pub fn open(path: &Path, ctx: &SystemContext) -> OciReferrers {
        OciReferrers {
            dir: path.to_path_buf(),
            blobs: BlobStore::new(path, ctx.oci_shared_blob_dir.as_deref()),
            ctx: ctx.clone(),
        }
    }

    async fn index(&self) -> Result<Index> {
        let path = index_path(&self.dir);
        Index::parse(&fsutil::read_index_file(&path).await?, &path)
    }
}

/// The tag schema's index of `subject` in `index`, read from `blobs`. Blocking: it is
/// also read under the layout lock.
fn fallback_index(
    index: &Index,
    blobs: &BlobStore,
    subject: &Digest,
) -> Result<Option<ReferrersIndex>> {
    let tag = fallback_tag(subject);
    let Some(entry) = index.manifests().iter().rev().find(|d| d.ref_name() == tag) else {
        return Ok(None);
    };
    let path = blobs.path(&entry.parsed_digest()?);
    let size = std::fs::metadata(&path)
        .map_err(|err| fsutil::path_error("stat", &path, &err))?
        .len();
    if size > MAX_MANIFEST_BODY {
        anyhow::bail!(
            "reading manifest {}: exceeded maximum allowed size of {MAX_MANIFEST_BODY} bytes",
            path.display()
        );
    }
    let bytes = std::fs::read(&path).map_err(|err| fsutil::path_error("open", &path, &err))?;
    ReferrersIndex::parse(&bytes)
        .with_context(|| format!("reading referrers index {tag}"))
        .map(Some)
}

#[async_trait]
impl ReferrersSource for OciReferrers {
    async fn referrers(
        &self,
        subject: &Digest,
        artifact_types: &[String],
    ) -> Result<Vec<Referrer>> {
        let index = self.index().await?;
        let (in_index, blobs, wanted) = (index.clone(), self.blobs.clone(), subject.clone());
        let mut found = fsutil::blocking(move || fallback_index(&in_index, &blobs, &wanted))
            .await?
            .unwrap_or_else(|| ReferrersIndex::new(Vec::new()));
        // Manifests listed directly whose `subject` is this image (oras's way).
        for entry in index.manifests() {
            if entry.media_type != media_type::OCI_MANIFEST
                && entry.media_type != media_type::OCI_INDEX
            {
                continue;
            }
            let digest = entry.parsed_digest()?;
            if found.contains(&digest) {
                continue;
            }
            // Another image's unreadable manifest is that image's problem, not this one's.
            let bytes = match fsutil::read_manifest_file(&self.blobs.path(&digest)).await {
                Ok(bytes) => bytes,
                Err(err) => {
                    tracing::debug!("not looking for referrers in {digest}: {err:#}");
                    continue;
                }
            };
            if let Ok(Some((named, referrer))) = Referrer::from_manifest(&bytes, &entry.media_type)
            {
                if &named == subject {
                    found.merge(&referrer);
                }
            }
        }
        Ok(found
            .manifests
            .into_iter()
            .filter(|r| r.matches(artifact_types))
            .collect())
    }

    async fn has_manifest(&self, digest: &Digest) -> Result<bool> {
        let path = self.blobs.path(digest);
        tokio::fs::try_exists(&path)
            .await
            .map_err(|err| fsutil::path_error("stat", &path, &err))
    }

    async fn tag_digest(&self, tag: &str) -> Result<Option<Digest>> {
        let index = self.index().await?;
        index
            .manifests()
            .iter()
            .rev()
            .find(|d| d.ref_name() == tag)
            .map(Descriptor::parsed_digest)
            .transpose()
    }

    async fn open_manifest(&self, digest: &Digest) -> Result<Box<dyn ImageSource>> {
        Ok(Box::new(
            OciSource::open_digest(&self.dir, digest, &self.ctx).await?,
        ))
    }
}

#[async_trait]
impl ReferrersDestination for OciReferrers {
    async fn open_manifest(&self, tag: Option<&str>) -> Result<Box<dyn ImageDestination>> {
        Ok(Box::new(match tag {
            Some(tag) => {
                OciDestination::open(&self.dir, &OciImage::Named(tag.to_string()), &self.ctx)?
            }
            None => OciDestination::open_unlisted(&self.dir, &self.ctx)?,
        }))
    }

    async fn add_referrer(&self, subject: &Digest, referrer: &Referrer) -> Result<()> {
        let dir = self.dir.clone();
        let blobs = self.blobs.clone();
        let subject = subject.clone();
        let referrer = referrer.clone();
        let context = format!(
            "adding referrer {} to {}",
            referrer.digest,
            self.dir.display()
        );
        fsutil::blocking(move || {
            let _lock = DirLock::exclusive(&dir)?;
            let path = index_path(&dir);
            let mut index = Index::parse(
                &std::fs::read(&path).map_err(|err| fsutil::path_error("open", &path, &err))?,
                &path,
            )?;
            let mut referrers = fallback_index(&index, &blobs, &subject)?
                .unwrap_or_else(|| ReferrersIndex::new(Vec::new()));
            if !referrers.merge(&referrer) {
                return Ok(());
            }
            let bytes = referrers.to_bytes()?;
            let digest = Digest::sha256_of(&bytes);
            let blob = blobs.path(&digest);
            fsutil::create_dir_all(blob_dir(&blob))?;
            fsutil::write_file_atomic(&blob, &bytes)?;
            let tag = fallback_tag(&subject);
            let manifests = index.manifests.get_or_insert_with(Vec::new);
            // The previous referrers index goes: the new one lists all it listed.
            manifests.retain(|d| d.ref_name() != tag);
            manifests.push(Descriptor {
                media_type: media_type::OCI_INDEX.to_string(),
                digest: digest.to_string(),
                size: i64::try_from(bytes.len()).context("the referrers index is too large")?,
                annotations: BTreeMap::from([(REF_NAME_ANNOTATION.to_string(), tag)]),
                ..Descriptor::default()
            });
            let layout_file = oci_layout_path(&dir);
            if std::fs::read(&layout_file).ok().as_deref() != Some(OCI_LAYOUT_CONTENT) {
                fsutil::write_file_atomic(&layout_file, OCI_LAYOUT_CONTENT)?;
            }
            fsutil::write_file_atomic(&path, &index.to_bytes()?)
        })
        .await
        .context(context)
    }
}

/// The directory a blob file goes in.
fn blob_dir(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}
