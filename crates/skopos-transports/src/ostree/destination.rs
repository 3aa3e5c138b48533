//! Writing an image into an OSTree repository. Layers are unpacked into a staging
//! directory as they arrive (their tar-split metadata and DiffID recorded on the way);
//! [`OstreeDestination::commit`] then commits every layer, the config and the manifest in
//! one repository transaction, so a failed copy leaves no branch changed.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context;
use async_trait::async_trait;
use skopos_core::compression::Compression;
use skopos_core::digest::{Algorithm, DigestingReader};
use skopos_core::manifest::{self, AnyManifest};
use skopos_core::media_type as mt;
use skopos_core::reference::OstreeReference;
use skopos_core::{BlobInfo, BlobReader, Digest, ImageDestination, Result, WrittenBlob};
use tokio_util::io::SyncIoBridge;

use super::commit::commit_directory;
use super::layer::{unpack_layer, UnpackedLayer};
use super::{
    commit_metadata, open_repo, parse_number, MANIFEST_DIGEST_KEY, MANIFEST_KEY, NO_LISTS,
    SIGNATURES_KEY, SIZE_KEY, TAR_SPLIT_KEY, UNCOMPRESSED_DIGEST_KEY, UNCOMPRESSED_SIZE_KEY,
};
use crate::fsutil::{blocking, CountingReader};

/// Files written into the commits' trees (containers/image created them with 0644).
const FILE_MODE: u32 = 0o644;
/// A config commit's tree root (containers/image's `os.MkdirTemp` directory).
const CONFIG_DIR_MODE: u32 = 0o700;
/// The manifest commit's tree root (0755, as containers/image's `manifest/` directory).
const MANIFEST_DIR_MODE: u32 = 0o755;

/// An `ostree:` destination.
pub struct OstreeDestination {
    reference: OstreeReference,
    /// Unpacked layers and commit trees until the commit; removed when dropped.
    staging: Arc<tempfile::TempDir>,
    /// Whether files keep their owners and xattrs (only root can give files away).
    as_root: bool,
    received: Mutex<Received>,
}

/// What the copy has handed over so far.
#[derive(Default)]
struct Received {
    /// Layers by their (compressed) digest, with that blob's size.
    layers: HashMap<Digest, (UnpackedLayer, u64)>,
    configs: HashMap<Digest, Vec<u8>>,
    manifest: Option<Vec<u8>>,
    signatures: Vec<Vec<u8>>,
}

impl OstreeDestination {
    /// A destination for `reference`. The repository itself is opened when a blob is looked
    /// up and at the commit, as containers/image did.
    pub fn open(reference: &OstreeReference) -> Result<OstreeDestination> {
        // containers/image staged in the system temporary directory ($TMPDIR), not --tmpdir.
        let temp = std::env::temp_dir();
        let staging = tempfile::Builder::new()
            .prefix("skopos-ostree")
            .tempdir_in(&temp)
            .with_context(|| format!("creating a staging directory in {}", temp.display()))?;
        Ok(OstreeDestination {
            reference: reference.clone(),
            staging: Arc::new(staging),
            as_root: rustix::process::getuid().is_root(),
            received: Mutex::new(Received::default()),
        })
    }

    fn received(&self) -> MutexGuard<'_, Received> {
        self.received
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl ImageDestination for OstreeDestination {
    fn supported_manifest_types(&self) -> Option<Vec<&'static str>> {
        Some(vec![mt::DOCKER_V2_SCHEMA2])
    }

    fn has_thread_safe_put_blob(&self) -> bool {
        false
    }

    async fn try_reuse_blob(&self, info: &BlobInfo) -> Result<Option<WrittenBlob>> {
        let repo_path = self.reference.repo().to_path_buf();
        let branch = OstreeReference::blob_branch(info.digest.hex());
        let digest = info.digest.clone();
        blocking(move || {
            let repo = open_repo(&repo_path)?;
            // Only a layer commit that is complete (all three keys) is reused.
            for key in [UNCOMPRESSED_DIGEST_KEY, UNCOMPRESSED_SIZE_KEY] {
                if commit_metadata(&repo, &branch, key)?.is_none() {
                    return Ok(None);
                }
            }
            let Some(size) = commit_metadata(&repo, &branch, SIZE_KEY)? else {
                return Ok(None);
            };
            let size = parse_number(&branch, SIZE_KEY, &size)?;
            Ok(Some(WrittenBlob::new(digest, size)))
        })
        .await
    }

    async fn put_blob(
        &self,
        stream: BlobReader,
        expected: Option<&BlobInfo>,
        is_config: bool,
    ) -> Result<WrittenBlob> {
        // The engine verifies a digest it knows; only a blob changed on the way needs hashing.
        let (stream, summary): (BlobReader, _) = match expected {
            Some(_) => (stream, None),
            None => {
                let (hashed, summary) = DigestingReader::new(stream, Algorithm::Sha256, None, None);
                (Box::pin(hashed), Some(summary))
            }
        };
        let count = Arc::new(AtomicU64::new(0));
        let counted = CountingReader {
            inner: stream,
            count: count.clone(),
        };
        let digest_of = |summary: Option<skopos_core::digest::SummaryHandle>| -> Result<Digest> {
            match expected {
                Some(info) => Ok(info.digest.clone()),
                None => summary
                    .and_then(|summary| summary.get())
                    .map(|summary| summary.digest)
                    .ok_or_else(|| anyhow::anyhow!("the blob stream ended early")),
            }
        };
        if is_config {
            let mut bytes = Vec::new();
            let mut counted = counted;
            tokio::io::AsyncReadExt::read_to_end(&mut counted, &mut bytes)
                .await
                .context("reading the config")?;
            let digest = digest_of(summary)?;
            let size = bytes.len() as u64;
            self.received().configs.insert(digest.clone(), bytes);
            return Ok(WrittenBlob::new(digest, size));
        }
        let (compression, stream) = Compression::detect_in(counted)
            .await
            .context("reading the layer")?;
        let tar: BlobReader = match compression {
            Some(format) => format.decompressing(stream, 128 << 10),
            None => Box::pin(stream),
        };
        let staging = self.staging.clone();
        let as_root = self.as_root;
        // Unpacking reads the stream to its end (past the tar's end blocks), so the digest and
        // size cover the whole blob.
        let unpacked =
            blocking(move || unpack_layer(SyncIoBridge::new(tar), staging.path(), as_root)).await?;
        let digest = digest_of(summary)?;
        let size = count.load(Ordering::Relaxed);
        self.received()
            .layers
            .insert(digest.clone(), (unpacked, size));
        Ok(WrittenBlob::new(digest, size))
    }

    async fn put_manifest(
        &self,
        manifest: &[u8],
        _mime_type: &str,
        instance: Option<&Digest>,
    ) -> Result<()> {
        if instance.is_some() {
            anyhow::bail!(NO_LISTS);
        }
        self.received().manifest = Some(manifest.to_vec());
        Ok(())
    }

    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        instance: Option<&Digest>,
    ) -> Result<()> {
        if instance.is_some() {
            anyhow::bail!(NO_LISTS);
        }
        self.received().signatures = signatures.to_vec();
        Ok(())
    }

    async fn commit(&self) -> Result<()> {
        let received = std::mem::take(&mut *self.received());
        let reference = self.reference.clone();
        let staging = self.staging.clone();
        blocking(move || commit_image(&reference, received, staging.path())).await
    }
}

/// Commit everything received in one transaction: the layers not already in the
/// repository, the config, then the manifest and signatures under the image's branch.
fn commit_image(reference: &OstreeReference, mut received: Received, staging: &Path) -> Result<()> {
    let manifest_bytes = received
        .manifest
        .take()
        .ok_or_else(|| anyhow::anyhow!("internal error: no manifest was written"))?;
    let AnyManifest::Image(image) = manifest::parse(&manifest_bytes, "")? else {
        anyhow::bail!(NO_LISTS);
    };
    let repo = open_repo(reference.repo())?;
    let transaction = repo
        .auto_transaction(ostree::gio::Cancellable::NONE)
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    for layer in image.layers() {
        // A layer the repository already had was not sent again.
        let Some((unpacked, size)) = received.layers.remove(&layer.digest) else {
            continue;
        };
        let metadata = [
            (SIZE_KEY, size.to_string()),
            (UNCOMPRESSED_SIZE_KEY, unpacked.diff_size.to_string()),
            (UNCOMPRESSED_DIGEST_KEY, unpacked.diff_id.to_string()),
            (TAR_SPLIT_KEY, unpacked.tar_split.clone()),
        ];
        let branch = OstreeReference::blob_branch(layer.digest.hex());
        commit_directory(&repo, &unpacked.root(), &branch, &metadata)?;
    }
    for (digest, bytes) in &received.configs {
        // A directory holding only `content`, as containers/image staged it.
        let dir = tempfile::Builder::new()
            .prefix("blob")
            .tempdir_in(staging)
            .context("creating a staging directory")?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(CONFIG_DIR_MODE))
            .context("creating a staging directory")?;
        write_file(&dir.path().join("content"), bytes)?;
        let metadata = [(SIZE_KEY, bytes.len().to_string())];
        let branch = OstreeReference::blob_branch(digest.hex());
        commit_directory(&repo, dir.path(), &branch, &metadata)?;
    }
    let dir = tempfile::Builder::new()
        .prefix("manifest")
        .tempdir_in(staging)
        .context("creating a staging directory")?;
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(MANIFEST_DIR_MODE))
        .context("creating a staging directory")?;
    write_file(&dir.path().join("manifest.json"), &manifest_bytes)?;
    for (index, signature) in received.signatures.iter().enumerate() {
        write_file(
            &dir.path().join(format!("signature-{}", index + 1)),
            signature,
        )?;
    }
    let manifest_text = String::from_utf8(manifest_bytes.clone())
        .map_err(|_| anyhow::anyhow!("the manifest is not UTF-8 text"))?;
    let metadata = [
        (MANIFEST_KEY, manifest_text),
        (SIGNATURES_KEY, received.signatures.len().to_string()),
        (
            MANIFEST_DIGEST_KEY,
            manifest::manifest_digest(&manifest_bytes)?.to_string(),
        ),
    ];
    commit_directory(&repo, dir.path(), &reference.branch(), &metadata)?;
    transaction
        .commit(ostree::gio::Cancellable::NONE)
        .map_err(|err| anyhow::anyhow!("committing the transaction: {err}"))?;
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(FILE_MODE))
        .with_context(|| format!("setting the mode of {}", path.display()))
}
