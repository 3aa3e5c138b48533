//! Reading a `dir:` image.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use skopos_core::{BlobInfo, BlobReader, Digest, FileBlob, ImageSource, Result};

use super::{
    blob_path, manifest_path, signature_path, unsupported_version, version_path, LayoutVersion,
    MAX_SUPPORTED_VERSION,
};
use crate::fsutil::{self, path_error};

/// A `dir:` image opened for reading.
#[derive(Debug)]
pub struct DirSource {
    dir: PathBuf,
}

impl DirSource {
    /// Open the image in `path`. A `version` file, if present, must name a layout this
    /// code understands; nothing else is checked until it is read.
    pub fn open(path: &Path) -> Result<Self> {
        let version_file = version_path(path);
        match std::fs::read(&version_file) {
            Ok(content) => match LayoutVersion::parse(&content) {
                None => {
                    return Err(anyhow::anyhow!(
                        "invalid version file content: {:?}",
                        String::from_utf8_lossy(&content)
                    ))
                }
                Some(version) if version > MAX_SUPPORTED_VERSION => {
                    return Err(unsupported_version(&content, path))
                }
                Some(_) => {}
            },
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(path_error("open", &version_file, &err)),
        }
        Ok(DirSource {
            dir: path.to_path_buf(),
        })
    }
}

#[async_trait]
impl ImageSource for DirSource {
    /// The MIME type is left empty: the layout does not record it.
    async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        let bytes = fsutil::read_manifest_file(&manifest_path(&self.dir, instance)).await?;
        Ok((bytes, String::new()))
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobReader, Option<u64>)> {
        fsutil::open_blob(&blob_path(&self.dir, &info.digest)).await
    }

    async fn blob_with_file(
        &self,
        info: &BlobInfo,
    ) -> Result<(BlobReader, Option<u64>, Option<FileBlob>)> {
        let (reader, file) =
            fsutil::open_blob_with_file(&blob_path(&self.dir, &info.digest)).await?;
        Ok((reader, Some(file.length), Some(file)))
    }

    /// `signature-1`, `signature-2`, … up to the first missing number, as stored.
    async fn signatures(&self, instance: Option<&Digest>) -> Result<Vec<Vec<u8>>> {
        let mut signatures = Vec::new();
        loop {
            let path = signature_path(&self.dir, signatures.len(), instance);
            match tokio::fs::read(&path).await {
                Ok(bytes) => {
                    // What containers/image refuses to read as a signature, we refuse too.
                    skopos_core::signature_blob::classify(&bytes).map_err(|err| {
                        anyhow::anyhow!(
                            "parsing signature {}: {err}",
                            skopos_core::go::text::go_quote(&path.to_string_lossy())
                        )
                    })?;
                    signatures.push(bytes)
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(signatures),
                Err(err) => return Err(path_error("open", &path, &err)),
            }
        }
    }
}
