//! Reading an image from an OSTree repository. As containers/image's ostree source, it
//! hands out each layer as its uncompressed tar, rebuilt byte for byte from the layer
//! commit's files and its tar-split metadata, and tells the copy engine so (the layers'
//! DiffIDs), so that the engine compresses them as the destination wants.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::PathBuf;

use anyhow::Context;
use async_trait::async_trait;
use base64::Engine;
use bytes::Bytes;
use skopos_core::error::ImageNotFound;
use skopos_core::manifest::{self, AnyManifest};
use skopos_core::media_type as mt;
use skopos_core::reference::OstreeReference;
use skopos_core::{BlobInfo, BlobReader, Digest, ImageSource, Result};
use skopos_storage::tarsplit::TarRebuilder;
use tokio::sync::{mpsc, OnceCell};

use super::files::CommitFiles;
use super::{
    commit_metadata, open_repo, parse_number, MANIFEST_KEY, NO_LISTS, SIGNATURES_KEY,
    TAR_SPLIT_KEY, UNCOMPRESSED_DIGEST_KEY, UNCOMPRESSED_SIZE_KEY,
};
use crate::fsutil::{blocking, IO_CHUNK_SIZE};

/// Rebuilt chunks in flight between the rebuilding thread and the reader.
const CHUNKS_IN_FLIGHT: usize = 4;

/// An `ostree:` source.
pub struct OstreeSource {
    reference: OstreeReference,
    /// Each layer's compressed digest by its DiffID, read on first use.
    compressed_by_diff_id: OnceCell<HashMap<Digest, Digest>>,
}

impl OstreeSource {
    /// A source for `reference`; the repository is opened when something is read.
    pub fn open(reference: &OstreeReference) -> OstreeSource {
        OstreeSource {
            reference: reference.clone(),
            compressed_by_diff_id: OnceCell::new(),
        }
    }

    fn repo_path(&self) -> PathBuf {
        self.reference.repo().to_path_buf()
    }

    /// The manifest's layers as stored: DiffID, uncompressed size and compressed digest.
    async fn stored_layers(&self) -> Result<Vec<(Digest, u64, Digest)>> {
        let (bytes, _) = self.manifest(None).await?;
        let AnyManifest::Image(image) = manifest::parse(&bytes, "")? else {
            anyhow::bail!(NO_LISTS);
        };
        let compressed: Vec<Digest> = image.layers().into_iter().map(|l| l.digest).collect();
        let repo_path = self.repo_path();
        blocking(move || {
            let repo = open_repo(&repo_path)?;
            compressed
                .into_iter()
                .map(|digest| {
                    let branch = OstreeReference::blob_branch(digest.hex());
                    let missing = |key: &str| anyhow::anyhow!("{branch}: no {key} metadata");
                    let diff_id = commit_metadata(&repo, &branch, UNCOMPRESSED_DIGEST_KEY)?
                        .ok_or_else(|| missing(UNCOMPRESSED_DIGEST_KEY))?;
                    let diff_id: Digest = diff_id
                        .parse()
                        .with_context(|| format!("{branch}: bad {UNCOMPRESSED_DIGEST_KEY}"))?;
                    let size = commit_metadata(&repo, &branch, UNCOMPRESSED_SIZE_KEY)?
                        .ok_or_else(|| missing(UNCOMPRESSED_SIZE_KEY))?;
                    let size = parse_number(&branch, UNCOMPRESSED_SIZE_KEY, &size)?;
                    Ok((diff_id, size, digest))
                })
                .collect()
        })
        .await
    }
}

#[async_trait]
impl ImageSource for OstreeSource {
    async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        if instance.is_some() {
            anyhow::bail!(NO_LISTS);
        }
        let repo_path = self.repo_path();
        let branch = self.reference.branch();
        let text = blocking(move || {
            let repo = open_repo(&repo_path)?;
            commit_metadata(&repo, &branch, MANIFEST_KEY)
        })
        .await?
        .ok_or_else(|| ImageNotFound("manifest not found".to_string()))?;
        Ok((text.into_bytes(), String::new()))
    }

    fn has_thread_safe_get_blob(&self) -> bool {
        false
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobReader, Option<u64>)> {
        let compressed_by_diff_id = self
            .compressed_by_diff_id
            .get_or_try_init(|| async {
                let layers = self.stored_layers().await?;
                Ok::<_, anyhow::Error>(
                    layers
                        .into_iter()
                        .map(|(diff_id, _, compressed)| (diff_id, compressed))
                        .collect(),
                )
            })
            .await?;
        let repo_path = self.repo_path();
        let Some(compressed) = compressed_by_diff_id.get(&info.digest) else {
            // Not a layer: a config, stored whole as `/content`.
            let branch = OstreeReference::blob_branch(info.digest.hex());
            let bytes = blocking(move || {
                let repo = open_repo(&repo_path)?;
                CommitFiles::open(&repo, &branch)?.read_all("content")
            })
            .await?;
            let size = bytes.len() as u64;
            return Ok((Box::pin(std::io::Cursor::new(bytes)), Some(size)));
        };
        let branch = OstreeReference::blob_branch(compressed.hex());
        let (size, tar_split) = {
            let branch = branch.clone();
            let repo_path = repo_path.clone();
            blocking(move || {
                let repo = open_repo(&repo_path)?;
                let size = commit_metadata(&repo, &branch, UNCOMPRESSED_SIZE_KEY)?
                    .map(|size| parse_number(&branch, UNCOMPRESSED_SIZE_KEY, &size))
                    .transpose()?;
                let tar_split = commit_metadata(&repo, &branch, TAR_SPLIT_KEY)?
                    .ok_or_else(|| anyhow::anyhow!("{branch}: no {TAR_SPLIT_KEY} metadata"))?;
                let tar_split = base64::engine::general_purpose::STANDARD
                    .decode(tar_split)
                    .with_context(|| format!("{branch}: bad {TAR_SPLIT_KEY}"))?;
                Ok((size, tar_split))
            })
            .await?
        };
        Ok((rebuild_layer(repo_path, branch, tar_split), size))
    }

    async fn signatures(&self, instance: Option<&Digest>) -> Result<Vec<Vec<u8>>> {
        if instance.is_some() {
            anyhow::bail!(NO_LISTS);
        }
        let repo_path = self.repo_path();
        let branch = self.reference.branch();
        blocking(move || {
            let repo = open_repo(&repo_path)?;
            let count = match commit_metadata(&repo, &branch, SIGNATURES_KEY)? {
                Some(count) => parse_number(&branch, SIGNATURES_KEY, &count)?,
                None => 0,
            };
            if count == 0 {
                return Ok(Vec::new());
            }
            let mut files = CommitFiles::open(&repo, &branch)?;
            (1..=count)
                .map(|index| files.read_all(&format!("signature-{index}")))
                .collect()
        })
        .await
    }

    async fn layer_infos_for_copy(
        &self,
        instance: Option<&Digest>,
    ) -> Result<Option<Vec<BlobInfo>>> {
        if instance.is_some() {
            anyhow::bail!(NO_LISTS);
        }
        let layers = self.stored_layers().await?;
        Ok(Some(
            layers
                .into_iter()
                .map(|(diff_id, size, _)| BlobInfo {
                    digest: diff_id,
                    size: Some(size),
                    media_type: mt::DOCKER_LAYER.to_string(),
                })
                .collect(),
        ))
    }
}

/// The layer's tar, rebuilt on a blocking thread (libostree's objects stay on the thread
/// that made them) and streamed; a failure reaches the reader as an error.
fn rebuild_layer(repo_path: PathBuf, branch: String, tar_split: Vec<u8>) -> BlobReader {
    let (sender, receiver) = mpsc::channel::<std::io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let rebuild = || -> Result<()> {
            let repo = open_repo(&repo_path)?;
            let files = CommitFiles::open(&repo, &branch)?;
            let lines = BufReader::new(flate2::read::GzDecoder::new(tar_split.as_slice()));
            let mut tar = TarRebuilder::with_files(lines, files);
            let mut chunk = vec![0u8; IO_CHUNK_SIZE];
            loop {
                let read = tar
                    .read(&mut chunk)
                    .with_context(|| format!("rebuilding the layer of {branch}"))?;
                if read == 0 {
                    return Ok(());
                }
                if sender
                    .blocking_send(Ok(Bytes::copy_from_slice(&chunk[..read])))
                    .is_err()
                {
                    // The reader is gone: nobody wants the rest.
                    return Ok(());
                }
            }
        };
        if let Err(err) = rebuild() {
            let _ = sender.blocking_send(Err(std::io::Error::other(format!("{err:#}"))));
        }
    });
    let chunks = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    Box::pin(tokio_util::io::StreamReader::new(chunks))
}
