//! Writing an image into containers-storage. Each layer is decompressed as it streams in
//! (the engine verifies its digest) and, for overlay, applied at once into its own staging
//! directory; vfs layers are copies of their parents, so their tars wait in the store's
//! temporary directory until the parents exist. Nothing is visible to podman until
//! [`commit`](ImageDestination::commit) moves the layers into place and writes the records
//! under the store's locks. Layer and image IDs are computed as containers/image computes
//! them: the layer ID is the chain ID (`diffID` of a base layer, else
//! `sha256(parentID + "+" + diffID)`), the image ID the config digest.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use async_trait::async_trait;
use skopos_core::compression::Compression;
use skopos_core::digest::{Algorithm, DigestingReader};
use skopos_core::manifest::{self, AnyManifest};
use skopos_core::media_type as mt;
use skopos_core::reference::StorageReference;
use skopos_core::{
    BlobInfo, BlobReader, Digest, ImageDestination, LayerCompression, Result, SystemContext,
    WrittenBlob,
};
use skopos_storage::records::{manifest_key, signatures_key, MANIFEST_KEY, SIGNATURES_KEY};
use skopos_storage::{NewImage, NewLayer, StagedLayer, Store};
use tokio_util::io::SyncIoBridge;

use super::open_store;
use crate::fsutil::{self, SpoolError};

/// A layer blob received, waiting for the commit.
enum PendingLayer {
    /// Applied into a staging directory (overlay).
    Staged(StagedLayer),
    /// Its uncompressed tar in a temporary file, with its DiffID (vfs).
    Tar {
        file: tempfile::NamedTempFile,
        diff_id: Digest,
    },
    /// The store has a layer with these contents already.
    InStore { layer_id: String, diff_id: Digest },
}

/// One received layer blob.
struct ReceivedLayer {
    pending: PendingLayer,
    compressed_size: u64,
    compression: u8,
}

/// A `containers-storage:` destination.
pub struct StorageDestination {
    store: Arc<Store>,
    reference: StorageReference,
    layers: Mutex<HashMap<Digest, ReceivedLayer>>,
    config: Mutex<Option<(Digest, Vec<u8>)>>,
    manifest: Mutex<Option<Vec<u8>>>,
    /// The list the image was chosen from, stored along with it.
    source_list: Mutex<Option<Vec<u8>>>,
    signatures: Mutex<Vec<Vec<u8>>>,
    /// Where blobs partly downloaded by a killed copy wait for the next run.
    partial_blob_dir: PathBuf,
}

impl StorageDestination {
    /// Open the store a reference names for writing; `ctx` says where partly downloaded
    /// blobs wait (`--tmpdir`).
    pub async fn open(
        reference: &StorageReference,
        ctx: &SystemContext,
    ) -> Result<StorageDestination> {
        let owned = reference.clone();
        let store = tokio::task::spawn_blocking(move || open_store(&owned))
            .await
            .context("opening the store")??;
        Ok(StorageDestination {
            store,
            reference: reference.clone(),
            layers: Mutex::new(HashMap::new()),
            config: Mutex::new(None),
            manifest: Mutex::new(None),
            source_list: Mutex::new(None),
            signatures: Mutex::new(Vec::new()),
            partial_blob_dir: fsutil::partial_blob_dir(&ctx.tmpdir()),
        })
    }

    fn lock<'a, T>(mutex: &'a Mutex<T>) -> std::sync::MutexGuard<'a, T> {
        mutex
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// c/storage's `archive.Compression` code.
fn compression_code(compression: Option<Compression>) -> u8 {
    match compression {
        None => 0,
        Some(Compression::Bzip2) => 1,
        Some(Compression::Gzip) => 2,
        Some(Compression::Xz) => 3,
        Some(Compression::Zstd | Compression::ZstdChunked) => 4,
    }
}
#[async_trait]
impl ImageDestination for StorageDestination {
    fn partial_blob_dir(&self) -> Option<PathBuf> {
        Some(self.partial_blob_dir.clone())
    }

    fn supported_manifest_types(&self) -> Option<Vec<&'static str>> {
        Some(vec![
            mt::OCI_MANIFEST,
            mt::DOCKER_V2_SCHEMA2,
            mt::DOCKER_V2_SCHEMA1_SIGNED,
            mt::DOCKER_V2_SCHEMA1,
        ])
    }

    fn desired_layer_compression(&self) -> LayerCompression {
        LayerCompression::Preserve
    }

    async fn try_reuse_blob(&self, info: &BlobInfo) -> Result<Option<WrittenBlob>> {
        if Self::lock(&self.layers).contains_key(&info.digest) {
            return Ok(Some(WrittenBlob::new(
                info.digest.clone(),
                info.size.unwrap_or_default(),
            )));
        }
        let store = self.store.clone();
        let state = tokio::task::spawn_blocking(move || store.read_state())
            .await
            .context("reading the store")??;
        let wanted = info.digest.to_string();
        let Some(layer) = state
            .layers
            .iter()
            .find(|layer| layer.uncompressed_digest == wanted || layer.compressed_digest == wanted)
        else {
            return Ok(None);
        };
        let diff_id: Digest = layer
            .uncompressed_digest
            .parse()
            .context("a layer record of the store has a bad diff-digest")?;
        let size = if layer.compressed_digest == wanted {
            layer.compressed_size
        } else {
            layer.uncompressed_size
        };
        Self::lock(&self.layers).insert(
            info.digest.clone(),
            ReceivedLayer {
                pending: PendingLayer::InStore {
                    layer_id: layer.id.clone(),
                    diff_id,
                },
                compressed_size: size,
                compression: layer.compression,
            },
        );
        Ok(Some(WrittenBlob::new(
            info.digest.clone(),
            info.size.unwrap_or(size),
        )))
    }

    async fn put_blob(
        &self,
        stream: BlobReader,
        expected: Option<&BlobInfo>,
        is_config: bool,
    ) -> Result<WrittenBlob> {
        if is_config {
            let mut bytes = Vec::new();
            let mut stream = stream;
            tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut bytes).await?;
            let digest = match expected {
                Some(info) => info.digest.clone(),
                None => Digest::sha256_of(&bytes),
            };
            let size = bytes.len() as u64;
            *Self::lock(&self.config) = Some((digest.clone(), bytes));
            return Ok(WrittenBlob::new(digest, size));
        }
        // The engine verifies a digest it knows; only a blob changed on the way (recompressed)
        // needs hashing here.
        let (stream, summary): (BlobReader, _) = if expected.is_some() {
            (stream, None)
        } else {
            let (hashed, summary) = DigestingReader::new(stream, Algorithm::Sha256, None, None);
            (Box::pin(hashed), Some(summary))
        };
        let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = crate::fsutil::CountingReader {
            inner: stream,
            count: count.clone(),
        };
        let (compression, stream) = Compression::detect_in(counted)
            .await
            .context("reading the layer")?;
        let uncompressed: BlobReader = match compression {
            Some(format) => format.decompressing(stream, 128 << 10),
            None => Box::pin(stream),
        };
        let store = self.store.clone();
        let pending = if store.driver().needs_parent_contents() {
            let temp = fsutil::blocking(move || store.temp_file()).await?;
            let spooled =
                fsutil::spool(uncompressed, temp, true)
                    .await
                    .map_err(|err| match err {
                        SpoolError::Read(error) | SpoolError::Write { error, .. } => {
                            anyhow::Error::new(error)
                        }
                        SpoolError::Thread(error) => error,
                    })?;
            PendingLayer::Tar {
                file: spooled.temp,
                diff_id: spooled.digest.ok_or_else(|| {
                    anyhow::anyhow!("internal error: a spooled layer was not hashed")
                })?,
            }
        } else {
            tokio::task::spawn_blocking(move || -> Result<PendingLayer> {
                let mut reader = SyncIoBridge::new(uncompressed);
                Ok(PendingLayer::Staged(store.stage_layer(&mut reader, None)?))
            })
            .await
            .context("applying the layer")??
        };
        let digest = match expected {
            Some(info) => info.digest.clone(),
            None => summary
                .and_then(|summary| summary.get())
                .map(|s| s.digest)
                .ok_or_else(|| anyhow::anyhow!("the layer stream ended early"))?,
        };
        let size = count.load(std::sync::atomic::Ordering::Relaxed);
        Self::lock(&self.layers).insert(
            digest.clone(),
            ReceivedLayer {
                pending,
                compressed_size: size,
                compression: compression_code(compression),
            },
        );
        Ok(WrittenBlob::new(digest, size))
    }

    async fn put_manifest(
        &self,
        manifest: &[u8],
        _mime_type: &str,
        instance: Option<&Digest>,
    ) -> Result<()> {
        if instance.is_some() {
            anyhow::bail!("containers-storage: cannot store a manifest list with its instances");
        }
        *Self::lock(&self.manifest) = Some(manifest.to_vec());
        Ok(())
    }

    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        _instance: Option<&Digest>,
    ) -> Result<()> {
        *Self::lock(&self.signatures) = signatures.to_vec();
        Ok(())
    }

    async fn note_source_list(&self, list: &[u8]) -> Result<()> {
        *Self::lock(&self.source_list) = Some(list.to_vec());
        Ok(())
    }

    async fn commit(&self) -> Result<()> {
        let manifest = Self::lock(&self.manifest)
            .clone()
            .ok_or_else(|| anyhow::anyhow!("internal error: commit without a manifest"))?;
        let image = match manifest::parse(&manifest, "")? {
            AnyManifest::Image(image) => image,
            AnyManifest::List(_) => {
                anyhow::bail!("containers-storage: cannot store a manifest list as an image")
            }
        };
        let manifest_digest = manifest::manifest_digest(&manifest)?;
        let config = Self::lock(&self.config).clone();
        let layer_digests: Vec<Digest> = image
            .layers()
            .into_iter()
            .filter(|layer| !layer.empty_layer)
            .map(|layer| layer.digest)
            .collect();
        let mut received = std::mem::take(&mut *Self::lock(&self.layers));
        let mut plan = Vec::new();
        for digest in &layer_digests {
            let layer = received
                .remove(digest)
                .or_else(|| {
                    // The same blob twice in one image: the later use is rebuilt from the
                    // first one's contents at commit.
                    plan.iter().find_map(|(d, l): &(Digest, ReceivedLayer)| {
                        (d == digest).then(|| ReceivedLayer {
                            pending: PendingLayer::InStore {
                                layer_id: String::new(),
                                diff_id: diff_id_of(&l.pending),
                            },
                            compressed_size: l.compressed_size,
                            compression: l.compression,
                        })
                    })
                })
                .ok_or_else(|| {
                    anyhow::anyhow!("internal error: layer {digest} was not received")
                })?;
            plan.push((digest.clone(), layer));
        }
        let signatures = Self::lock(&self.signatures).clone();
        let names = self
            .reference
            .named
            .iter()
            .map(|named| named.to_string())
            .collect();
        let explicit_id = self.reference.id.clone();
        let source_list = Self::lock(&self.source_list).clone();
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            commit_image(
                &store,
                plan,
                config,
                source_list,
                manifest,
                manifest_digest,
                signatures,
                names,
                explicit_id,
            )
        })
        .await
        .context("committing the image")?
    }
}

fn diff_id_of(pending: &PendingLayer) -> Digest {
    match pending {
        PendingLayer::Staged(staged) => staged.applied.diff_digest.clone(),
        PendingLayer::Tar { diff_id, .. } | PendingLayer::InStore { diff_id, .. } => {
            diff_id.clone()
        }
    }
}

/// containers/image's layer ID: the chain ID.
fn layer_id(parent: &str, diff_id: &Digest) -> String {
    if parent.is_empty() {
        diff_id.hex().to_string()
    } else {
        Digest::sha256_of(format!("{parent}+{}", diff_id.hex()).as_bytes())
            .hex()
            .to_string()
    }
}

#[allow(clippy::too_many_arguments)]
fn commit_image(
    store: &Store,
    plan: Vec<(Digest, ReceivedLayer)>,
    config: Option<(Digest, Vec<u8>)>,
    source_list: Option<Vec<u8>>,
    manifest: Vec<u8>,
    manifest_digest: Digest,
    signatures: Vec<Vec<u8>>,
    names: Vec<String>,
    explicit_id: Option<String>,
) -> Result<()> {
    let state = store.read_state()?;
    let mut layers: Vec<NewLayer> = Vec::new();
    let mut parent = String::new();
    for (digest, received) in plan {
        let diff_id = diff_id_of(&received.pending);
        let id = layer_id(&parent, &diff_id);
        let mut compressed_size = received.compressed_size;
        let mut compression = received.compression;
        let staged = if state.layer(&id).is_some() {
            None
        } else {
            // vfs: a layer starts as a copy of its parent, staged just before or committed.
            let parent_contents = match layers.last() {
                Some(NewLayer {
                    staged: Some(staged),
                    ..
                }) => Some(store.staged_contents(staged)),
                _ if !parent.is_empty() => Some(store.layer_contents(&parent)),
                _ => None,
            };
            let staged = match received.pending {
                PendingLayer::Staged(staged) => staged,
                PendingLayer::Tar { file, .. } => {
                    let tar = std::fs::File::open(file.path())?;
                    store.stage_layer(std::io::BufReader::new(tar), parent_contents.as_deref())?
                }
                PendingLayer::InStore { layer_id, .. } => {
                    // The same contents under another parent: rebuilt from the stored layer,
                    // or (the same blob twice in this image) from its first use.
                    let (tar, from_store) = if layer_id.is_empty() {
                        let first = layers
                            .iter()
                            .find(|layer| layer.compressed_digest.as_ref() == Some(&digest))
                            .ok_or_else(|| {
                                anyhow::anyhow!("internal error: layer {digest} has no first use")
                            })?;
                        match &first.staged {
                            Some(staged) => (store.staged_layer_tar(staged)?, false),
                            None => (store.layer_tar(&first.id)?, true),
                        }
                    } else {
                        (store.layer_tar(&layer_id)?, true)
                    };
                    let staged = store.stage_layer(tar, parent_contents.as_deref())?;
                    if from_store {
                        // As c/storage records a layer created from a stored layer's diff:
                        // the "compressed" size is what was read, with no compression.
                        compressed_size = staged.applied.diff_size;
                        compression = 0;
                    }
                    staged
                }
            };
            if staged.applied.diff_digest != diff_id {
                anyhow::bail!(
                    "layer {digest}: the uncompressed contents changed from {diff_id} to {}",
                    staged.applied.diff_digest
                );
            }
            Some(staged)
        };
        layers.push(NewLayer {
            id: id.clone(),
            staged,
            compressed_digest: Some(digest),
            compressed_size,
            compression,
        });
        parent = id;
    }

    let mut big_data = Vec::new();
    let mut created = None;
    let image_id = match (&explicit_id, &config) {
        (Some(id), _) => id.clone(),
        (None, Some((digest, _))) => digest.hex().to_string(),
        (None, None) => Digest::sha256_of(&manifest).hex().to_string(),
    };
    if let Some((digest, bytes)) = config {
        created = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|value| value.get("created")?.as_str().map(str::to_string))
            .and_then(|text| skopos_core::go::time::GoTime::parse_rfc3339(&text).ok())
            .map(|time| time.to_rfc3339_nano());
        big_data.push((digest.to_string(), bytes));
    }
    if let Some(list) = source_list.filter(|list| *list != manifest) {
        let list_digest = manifest::manifest_digest(&list)?;
        big_data.push((manifest_key(&list_digest.to_string()), list));
    }
    big_data.push((manifest_key(&manifest_digest.to_string()), manifest.clone()));
    big_data.push((MANIFEST_KEY.to_string(), manifest));
    let mut metadata = serde_json::Map::new();
    if !signatures.is_empty() {
        let sizes: Vec<usize> = signatures.iter().map(Vec::len).collect();
        let blob: Vec<u8> = signatures.concat();
        big_data.push((SIGNATURES_KEY.to_string(), blob.clone()));
        big_data.push((signatures_key(manifest_digest.hex()), blob));
        metadata.insert("signature-sizes".into(), serde_json::json!(sizes));
        metadata.insert(
            "signatures-sizes".into(),
            serde_json::json!({ manifest_digest.to_string(): sizes }),
        );
    }
    store.commit_image(NewImage {
        id: image_id,
        layers,
        names,
        created,
        big_data,
        metadata: serde_json::Value::Object(metadata).to_string(),
    })?;
    Ok(())
}
