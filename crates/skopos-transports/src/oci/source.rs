//! Reading an image from an OCI layout.

use std::path::Path;

use async_trait::async_trait;
use skopos_core::reference::OciImage;
use skopos_core::{BlobInfo, BlobReader, Digest, FileBlob, ImageSource, Result, SystemContext};

use super::index::{Descriptor, Index};
use super::{index_path, BlobStore};
use crate::fsutil;

/// One image of an OCI layout, opened for reading.
#[derive(Debug)]
pub struct OciSource {
    index: Index,
    /// The `index.json` entry of the image: a manifest, or an index of several.
    descriptor: Descriptor,
    blobs: BlobStore,
}

impl OciSource {
    /// Find `image` in the layout at `path`. A name that matches nothing is an
    /// [`skopos_core::ImageNotFound`] error.
    pub async fn open(path: &Path, image: &OciImage, ctx: &SystemContext) -> Result<Self> {
        let index_file = index_path(path);
        let index = Index::parse(&fsutil::read_index_file(&index_file).await?, &index_file)?;
        let descriptor = index.find(image)?;
        Ok(OciSource {
            index,
            descriptor,
            blobs: BlobStore::new(path, ctx.oci_shared_blob_dir.as_deref()),
        })
    }

    /// The manifest `digest` of the layout at `path`, whether or not `index.json` lists it
    /// (a referrer); its MIME type is the one `index.json` gives that digest, if any.
    pub(crate) async fn open_digest(
        path: &Path,
        digest: &Digest,
        ctx: &SystemContext,
    ) -> Result<Self> {
        let index_file = index_path(path);
        let index = Index::parse(&fsutil::read_index_file(&index_file).await?, &index_file)?;
        let descriptor = Descriptor {
            media_type: index.media_type_of(digest).to_string(),
            digest: digest.to_string(),
            ..Descriptor::default()
        };
        Ok(OciSource {
            index,
            descriptor,
            blobs: BlobStore::new(path, ctx.oci_shared_blob_dir.as_deref()),
        })
    }

    /// A manifest blob, refused unread when it is larger than a manifest may be.
    async fn read_manifest_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        fsutil::read_manifest_file(&self.blobs.path(digest)).await
    }
}

#[async_trait]
impl ImageSource for OciSource {
    /// The top-level manifest's MIME type is its `index.json` media type; an instance's
    /// is the media type `index.json` gives its digest, if any, else `""`.
    async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        let (digest, mime_type) = self.index.manifest_location(&self.descriptor, instance)?;
        Ok((self.read_manifest_blob(&digest).await?, mime_type))
    }

    /// The digest `index.json` gives the image.
    fn expected_manifest_digest(&self) -> Option<Digest> {
        self.descriptor.parsed_digest().ok()
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobReader, Option<u64>)> {
        fsutil::open_blob(&self.blobs.path(&info.digest)).await
    }

    async fn blob_with_file(
        &self,
        info: &BlobInfo,
    ) -> Result<(BlobReader, Option<u64>, Option<FileBlob>)> {
        let (reader, file) = fsutil::open_blob_with_file(&self.blobs.path(&info.digest)).await?;
        Ok((reader, Some(file.length), Some(file)))
    }
}
