//! Copying one image: signatures, manifest format, layers in parallel, config, manifest.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _};
use skopos_core::blob_info_cache::{BlobFact, BlobInfoCache};
use skopos_core::compression::Compression;
use skopos_core::error::ManifestTypeRejected;
use skopos_core::manifest::{
    self, AnyManifest, CompressionUpdate, ConversionInputs, CryptoUpdate, LayerInfo, LayerUpdate,
    Manifest,
};
use skopos_core::media_type::{self, is_list, is_schema1};
use skopos_core::{BlobInfo, Digest, ImageDestination, ImageSource, Result};
use skopos_crypt::is_encrypted_media_type;
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

use crate::blob::{
    copy_blob, is_tried_after_the_destination, CopiedBlob, LayerCrypto, LayerPlan, SharedState,
    SourceLayer, TransferSlot,
};
use crate::events::{BlobKind, CopyEvent, ProgressSink};
use crate::{CopyOptions, CopyOutcome};

/// A config blob larger than this is refused rather than read into memory.
const MAX_CONFIG_SIZE: u64 = skopos_core::limits::MAX_CONFIG_BODY;

/// Everything one copy works with; cheap to clone into parallel tasks.
#[derive(Clone)]
pub(crate) struct Copier {
    pub source: Arc<dyn ImageSource>,
    pub destination: Arc<dyn ImageDestination>,
    pub options: Arc<CopyOptions>,
    pub progress: Arc<dyn ProgressSink>,
}

/// Where the copied manifest goes at the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// It is the destination's top-level manifest.
    TopLevel,
    /// It is one image of a list being copied.
    ListInstance,
}

impl Copier {
    /// Copy the list instance `digest` as if it were the whole image (`--multi-arch system`).
    pub async fn copy_instance_as_top_level(&self, digest: &Digest) -> Result<CopyOutcome> {
        let (bytes, mime, image) = self.read_instance(digest).await?;
        self.copy_single(bytes, mime, image, Some(digest), Placement::TopLevel)
            .await
    }

    /// Read and parse the manifest of list instance `digest` (the source checks it
    /// against `digest`).
    pub async fn read_instance(&self, digest: &Digest) -> Result<(Vec<u8>, String, Manifest)> {
        // containers/image's words: reading and checking the instance is part of
        // determining its MIME type, parsing it part of initializing the image.
        let source_name = &self.options.source_name;
        let (bytes, mime) = self
            .source
            .manifest(Some(digest))
            .await
            .with_context(|| crate::determining_manifest_type(&self.options))?;
        let mime = if mime.is_empty() {
            manifest::guess_mime_type(&bytes)
        } else {
            mime
        };
        match manifest::parse(&bytes, &mime)
            .with_context(|| format!("initializing image from source {source_name}"))?
        {
            AnyManifest::Image(image) => Ok((bytes, mime, image)),
            AnyManifest::List(_) => bail!(
                "Unexpectedly received a manifest list instead of a manifest for a single image"
            ),
        }
    }

    /// Copy one image whose manifest is `bytes` (of type `mime`). `source_instance` is its
    /// digest when it is an instance of a source list.
    pub async fn copy_single(
        &self,
        bytes: Vec<u8>,
        mime: String,
        image: Manifest,
        source_instance: Option<&Digest>,
        placement: Placement,
    ) -> Result<CopyOutcome> {
        let options = &self.options;
        // As containers/image: before anything else about the image is read or written.
        if let Some(policy) = &options.source_policy {
            policy
                .check(self.source.as_ref(), source_instance, &bytes)
                .await
                .context("Source image rejected")?;
        }
        // As containers/image, "Getting image source signatures" only when they are read.
        let signatures = if options.remove_signatures {
            Vec::new()
        } else {
            self.progress
                .event(CopyEvent::GettingSignatures { list: false });
            self.source
                .signatures(source_instance)
                .await
                .context("reading signatures")?
        };
        if !signatures.is_empty() {
            self.progress
                .event(CopyEvent::CheckingDestinationSignatures { list: false });
            if let Err(reason) = self.destination.supports_signatures() {
                bail!(
                    "Can not copy signatures to {}: {reason}",
                    options.destination_name
                );
            }
        }
        let can_modify = signatures.is_empty() && !options.preserve_digests;
        let layers = image.layers();
        let source_encrypted = layers
            .iter()
            .any(|l| is_encrypted_media_type(&l.media_type));
        // Encrypted layers, written or kept, need a manifest format that can describe them.
        let requires_encryption =
            options.encryption.is_some() || (source_encrypted && options.decryption.is_none());
        let candidates = manifest_candidates(
            &mime,
            self.destination.supported_manifest_types(),
            options.force_manifest_type,
            can_modify,
            options.compression_format,
            requires_encryption,
        )?;
        tracing::debug!(
            "Manifest has MIME type {mime}, ordered candidate list [{}]",
            candidates.join(", ")
        );
        let need_diff_ids =
            is_schema1(&mime) && candidates.iter().any(|candidate| !is_schema1(candidate));

        // A source may hand out other blobs than the manifest names (containers-storage:
        // keeps layers uncompressed); the manifest then follows what was copied.
        let copy_infos: Vec<BlobInfo> = match self
            .source
            .layer_infos_for_copy(source_instance)
            .await
            .context("reading the source's layers")?
        {
            Some(infos) if infos.len() == layers.len() => {
                let differs = infos.iter().zip(&layers).any(|(i, l)| i.digest != l.digest);
                if differs && !can_modify {
                    bail!("Copying this image would require changing layer representation, which we cannot do: {}",
                        if options.preserve_digests { "--preserve-digests was given" } else { "the image is signed" });
                }
                infos
            }
            Some(infos) => bail!(
                "the source has {} layers, its manifest {}",
                infos.len(),
                layers.len()
            ),
            None => layers.iter().map(|l| l.blob_info()).collect(),
        };
        let plan = LayerPlan {
            can_modify,
            desired: self.destination.desired_layer_compression(),
            explicit_format: options.compression_format,
            level: options.compression_level,
            need_diff_id: need_diff_ids,
            force_format: options.force_compression_format,
        };
        // Layers whose compression may not change (an artifact's, unknown types) go as they are.
        let fixed: std::collections::HashSet<Digest> = copy_infos
            .iter()
            .filter(|info| !image.can_change_layer_compression(&info.media_type))
            .map(|info| info.digest.clone())
            .collect();
        let cannot_modify_reason = if options.preserve_digests {
            "Instructed to preserve digests"
        } else {
            "Would invalidate signatures"
        };
        let to_encrypt = match &options.encryption {
            Some(encryption) => layers_to_encrypt(&encryption.layers, layers.len())?,
            None => Vec::new(),
        };
        let mut crypto = Vec::with_capacity(layers.len());
        for (index, (layer, info)) in layers.iter().zip(&copy_infos).enumerate() {
            let mut step = LayerCrypto::default();
            if is_encrypted_media_type(&info.media_type) {
                if let Some(keys) = &options.decryption {
                    if !can_modify {
                        bail!("layer {} should be decrypted, but we can’t modify the manifest: {cannot_modify_reason}", info.digest);
                    }
                    step.decrypt =
                        Some((keys.clone(), layer.annotations.clone().unwrap_or_default()));
                }
            } else if let Some(encryption) = &options.encryption {
                if to_encrypt.contains(&index) {
                    if !can_modify {
                        bail!("layer {} should be encrypted, but we can’t modify the manifest: {cannot_modify_reason}", info.digest);
                    }
                    step.encrypt = Some(encryption.recipients.clone());
                }
            }
            crypto.push(step);
        }
        let sources = copy_infos
            .iter()
            .zip(&layers)
            .map(|(info, layer)| SourceLayer {
                info: info.clone(),
                chunked: info.digest == layer.digest
                    && layer
                        .annotations
                        .as_ref()
                        .is_some_and(skopos_chunked::has_toc_digest),
            })
            .collect();
        // A config that will go as it is (no other manifest type is tried first) can be
        // readied at the destination while the layers are copied.
        let config_ahead = image.config().filter(|_| candidates.first() == Some(&mime));
        let copied = self
            .copy_layers(sources, crypto, plan, fixed, config_ahead)
            .await?;
        let updates: Vec<LayerUpdate> = layers
            .iter()
            .zip(&copy_infos)
            .map(|(l, source)| {
                let c = &copied[&source.digest];
                // A compressed manifest layer handed out uncompressed and kept so.
                let compression = if c.compression == CompressionUpdate::Unchanged
                    && source.digest != l.digest
                    && l.declared_compression().is_some()
                    && (LayerInfo {
                        media_type: source.media_type.clone(),
                        ..l.clone()
                    })
                    .declared_compression()
                    .is_none()
                {
                    CompressionUpdate::Decompressed
                } else {
                    c.compression
                };
                LayerUpdate {
                    digest: c.written.digest.clone(),
                    size: c.written.size,
                    compression,
                    crypto: c.crypto.clone(),
                    annotations: c.annotations.clone(),
                }
            })
            .collect();
        let layers_changed = updates.iter().zip(&layers).any(|(u, l)| {
            u.digest != l.digest
                || u.compression != CompressionUpdate::Unchanged
                || u.crypto != CryptoUpdate::Unchanged
        });
        let diff_ids: Option<Vec<Digest>> = if need_diff_ids {
            copy_infos
                .iter()
                .map(|source| copied[&source.digest].diff_id.clone())
                .collect()
        } else {
            None
        };

        let source_config = match image.config() {
            Some(info) => Some(self.read_config(&info).await?),
            None => None,
        };

        let inputs = ConversionInputs {
            layers: layers_changed.then_some(updates.as_slice()),
            config: source_config.as_deref(),
            diff_ids: diff_ids.as_deref(),
            docker_reference: options.destination_reference.as_ref(),
        };
        let (written, written_mime) = self
            .write_manifest(&bytes, &mime, &image, &candidates, &inputs, placement)
            .await?;
        let digest = manifest::manifest_digest(&written)?;
        let mut signatures = signatures;
        signatures.extend(self.create_signatures(&written).await?);
        // Since containers/image 5.26 (skopeo 1.13) an image without signatures neither
        // announces nor stores any.
        if !signatures.is_empty() {
            self.progress
                .event(CopyEvent::StoringSignatures { list: false });
            let instance = match placement {
                Placement::TopLevel => None,
                Placement::ListInstance => Some(&digest),
            };
            self.destination
                .put_signatures(&signatures, instance)
                .await
                .context("storing signatures")?;
        }
        Ok(CopyOutcome {
            manifest: written,
            mime_type: written_mime,
            digest,
        })
    }

    /// New signatures of `manifest`, one per signer (containers/image's
    /// `createSignatures`).
    pub(crate) async fn create_signatures(&self, manifest: &[u8]) -> Result<Vec<Vec<u8>>> {
        let signers = &self.options.signers;
        let mut signatures = Vec::with_capacity(signers.len());
        for (i, signer) in signers.iter().enumerate() {
            self.progress.event(CopyEvent::CreatingSignature {
                message: signer.progress_message(),
                index: i + 1,
                count: signers.len(),
            });
            let signature = signer.sign(manifest).await.with_context(|| {
                if signers.len() == 1 {
                    "creating signature".to_string()
                } else {
                    format!("creating signature {}", i + 1)
                }
            })?;
            signatures.push(signature);
        }
        Ok(signatures)
    }

    /// Copy every distinct layer, several at once, keyed by source digest; `config`, stored
    /// after them, is readied at the destination meanwhile.
    async fn copy_layers(
        &self,
        layers: Vec<SourceLayer>,
        crypto: Vec<LayerCrypto>,
        plan: LayerPlan,
        fixed: std::collections::HashSet<Digest>,
        config: Option<BlobInfo>,
    ) -> Result<HashMap<Digest, CopiedBlob>> {
        let parallel = if self.source.has_thread_safe_get_blob()
            && self.destination.has_thread_safe_put_blob()
        {
            self.options.max_parallel_blobs.max(1)
        } else {
            1
        };
        let semaphore = Arc::new(Semaphore::new(parallel));
        // A layer that gave its slot back (its bytes read, the destination still committing
        // it) is still in flight: at most twice as many layers as slots are.
        let in_flight = Arc::new(Semaphore::new(2 * parallel));
        let mut seen = std::collections::HashSet::new();
        let distinct: Vec<(SourceLayer, LayerCrypto)> = layers
            .into_iter()
            .zip(crypto)
            .filter(|(layer, _)| seen.insert(layer.info.digest.clone()))
            .collect();
        let mut ahead = PreparedAhead::new(
            &self.destination,
            self.options.blob_info_cache.clone(),
            distinct
                .iter()
                .map(|(layer, _)| layer.info.clone())
                .collect(),
            parallel,
        );
        if let Some(config) = config {
            ahead.prepare_now(config);
        }
        let mut tasks = Vec::new();
        // Set by a failed layer, so that no more layers are started.
        let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        for (index, (layer, crypto)) in distinct.into_iter().enumerate() {
            if semaphore.available_permits() == 0 {
                ahead.prepare_from(index);
            }
            let copier = self.clone();
            let cancelled = |_| anyhow!("the copy was cancelled");
            let in_flight = in_flight.clone().acquire_owned().await.map_err(cancelled)?;
            // Taken here, in manifest order, as containers/image does: with one permit (a
            // destination that writes sequentially, like a tar) the layers are then
            // written in manifest order, not in whatever order the tasks start. Such a
            // layer keeps its slot until it is stored; with several slots, a layer gives
            // its slot back once its bytes are read.
            let permit = semaphore.clone().acquire_owned().await.map_err(cancelled)?;
            let (slot, kept_permit) = if parallel > 1 {
                (Some(TransferSlot::holding(permit)), None)
            } else {
                (None, Some(permit))
            };
            if failed.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            let failed = failed.clone();
            let plan = LayerPlan {
                can_modify: plan.can_modify && !fixed.contains(&layer.info.digest),
                ..plan
            };
            // Spawned, not joined in place: each layer's hashing and (de)compression
            // then runs on its own worker thread.
            tasks.push(tokio::spawn(async move {
                let _held = (in_flight, kept_permit);
                let shared = SharedState::of(&copier.options, &copier.progress);
                let shared = match slot {
                    Some(slot) => shared.holding(slot),
                    None => shared,
                };
                let copied = copy_blob(
                    copier.source.as_ref(),
                    copier.destination.as_ref(),
                    shared,
                    &layer,
                    BlobKind::Layer,
                    plan,
                    &crypto,
                )
                .await
                .inspect_err(|_| failed.store(true, std::sync::atomic::Ordering::SeqCst))?;
                Ok::<_, anyhow::Error>((layer.info.digest, copied))
            }));
        }
        let mut copied = HashMap::new();
        let mut pending = tasks.into_iter();
        while let Some(task) = pending.next() {
            let failure = match task.await {
                Ok(Ok((digest, blob))) => {
                    copied.insert(digest, blob);
                    continue;
                }
                Ok(Err(e)) => e,
                Err(join) => anyhow!("a layer copy failed: {join}"),
            };
            ahead.stop();
            // One failed layer fails the image: stop the others instead of finishing them,
            // and wait until they are gone, so that the destination is dropped (and cleans
            // up) only once nothing writes into it any more.
            let rest: Vec<_> = pending.collect();
            for task in &rest {
                task.abort();
            }
            for task in rest {
                let _ = task.await;
            }
            return Err(failure);
        }
        // Finished before the image is committed, which cancels the sessions no upload took.
        ahead.finish().await;
        Ok(copied)
    }

    /// Read the source's config blob, checking its size and digest.
    async fn read_config(&self, info: &BlobInfo) -> Result<Vec<u8>> {
        let context = || format!("reading config blob {}", info.digest);
        if info.size.is_some_and(|s| s > MAX_CONFIG_SIZE) {
            bail!(
                "config blob {} is larger than {MAX_CONFIG_SIZE} bytes",
                info.digest
            );
        }
        let (stream, _) = self.source.blob(info).await.with_context(context)?;
        let mut bytes = Vec::new();
        stream
            .take(MAX_CONFIG_SIZE + 1)
            .read_to_end(&mut bytes)
            .await
            .with_context(context)?;
        if info.size.is_some_and(|s| s != bytes.len() as u64) {
            bail!(
                "config blob {} has {} bytes, the manifest says {}",
                info.digest,
                bytes.len(),
                info.size.unwrap_or_default()
            );
        }
        if !info.digest.matches(&bytes) {
            bail!("config blob {} does not match its digest", info.digest);
        }
        Ok(bytes)
    }

    /// Store a small blob the engine holds in memory (a config, or schema 1's empty
    /// layer), unless the destination has it already.
    async fn store_blob_bytes(&self, bytes: &[u8], media_type: &str, kind: BlobKind) -> Result<()> {
        let info = BlobInfo {
            digest: Digest::sha256_of(bytes),
            size: Some(bytes.len() as u64),
            media_type: media_type.to_string(),
        };
        self.progress.event(CopyEvent::BlobStarted {
            digest: info.digest.clone(),
            size: info.size,
            kind,
        });
        let _claim = match (&self.options.blob_claims, self.destination.blob_location()) {
            (Some(claims), Some(location)) => {
                Some(claims.claim(&location.scope, &info.digest).await)
            }
            _ => None,
        };
        let mut present = self
            .destination
            .try_reuse_blob(&info)
            .await
            .with_context(|| {
                format!("checking whether the destination has blob {}", info.digest)
            })?;
        let cache = self.options.blob_info_cache.as_deref();
        if let (None, Some(cache)) = (&present, cache) {
            present =
                crate::blob::reuse_known_blob(cache, self.destination.as_ref(), &info, kind, None)
                    .await
                    .map(|(written, _)| written);
        }
        let written = match present {
            Some(written) => {
                self.progress.event(CopyEvent::BlobSkipped {
                    digest: info.digest.clone(),
                    kind,
                    size: written.size,
                    mounted: written.mounted,
                });
                None
            }
            None => Some(
                self.destination
                    .put_blob(
                        Box::pin(std::io::Cursor::new(bytes.to_vec())),
                        Some(&info),
                        kind == BlobKind::Config,
                    )
                    .await
                    .with_context(|| format!("writing blob {}", info.digest))?,
            ),
        };
        if let (Some(cache), Some(location)) = (cache, self.destination.blob_location()) {
            cache.record(&[BlobFact::KnownLocation {
                location,
                digest: info.digest.clone(),
            }]);
        }
        let Some(written) = written else {
            return Ok(());
        };
        self.progress.event(CopyEvent::BlobDone {
            digest: info.digest.clone(),
            kind,
            read: bytes.len() as u64,
            resumed: 0,
            stored_digest: written.digest,
            size: written.size,
        });
        Ok(())
    }

    /// Write the manifest in the first candidate format the destination accepts.
    async fn write_manifest(
        &self,
        original: &[u8],
        original_mime: &str,
        image: &Manifest,
        candidates: &[String],
        inputs: &ConversionInputs<'_>,
        placement: Placement,
    ) -> Result<(Vec<u8>, String)> {
        let mut rejected = Vec::new();
        for candidate in candidates {
            // skopeo's wording, which does not name the candidate type.
            let converting = || "creating an updated image manifest".to_string();
            let bytes = if candidate == original_mime && inputs.layers.is_none() {
                original.to_vec()
            } else {
                image.convert(candidate, inputs).with_context(converting)?
            };
            // The config goes in before the manifest that names it: the source's, or the
            // one the conversion generated.
            if let Some(config) = image
                .converted_config(candidate, inputs)
                .with_context(converting)?
                .or_else(|| inputs.config.map(<[u8]>::to_vec))
            {
                let config_type = image.config().map(|c| c.media_type).unwrap_or_default();
                self.store_blob_bytes(&config, &config_type, BlobKind::Config)
                    .await?;
            }
            if is_schema1(candidate) && !is_schema1(original_mime) {
                self.store_blob_bytes(
                    manifest::GZIPPED_EMPTY_LAYER,
                    media_type::DOCKER_LAYER_GZIP,
                    BlobKind::Layer,
                )
                .await?;
            }
            self.progress
                .event(CopyEvent::WritingManifest { list: false });
            let digest = manifest::manifest_digest(&bytes)?;
            let instance = match placement {
                Placement::TopLevel => None,
                Placement::ListInstance => Some(&digest),
            };
            match self
                .destination
                .put_manifest(&bytes, candidate, instance)
                .await
            {
                Ok(()) => {
                    self.progress.event(CopyEvent::ManifestWritten {
                        digest,
                        media_type: candidate.clone(),
                        list: false,
                    });
                    return Ok((bytes, candidate.clone()));
                }
                Err(e) if e.chain().any(|c| c.is::<ManifestTypeRejected>()) => {
                    tracing::debug!("destination rejected manifest type {candidate}: {e:#}");
                    rejected.push(candidate.clone());
                }
                Err(e) => return Err(e.context("writing manifest")),
            }
        }
        bail!(
            "Uploading manifest failed, attempted the following formats: {}",
            rejected.join(", ")
        )
    }
}

/// Manifest types a destination that accepts anything may get (containers/image's
/// `allManifestMIMETypes`).
const ANY_MANIFEST_TYPE: &[&str] = &[
    media_type::OCI_MANIFEST,
    media_type::DOCKER_V2_SCHEMA2,
    media_type::DOCKER_V2_SCHEMA1_SIGNED,
    media_type::DOCKER_V2_SCHEMA1,
];

/// Whether manifests of type `mime` can describe layers compressed with `compression`
/// (containers/image's `MIMETypeSupportsCompressionAlgorithm`): gzip everywhere, zstd and
/// zstd:chunked only in OCI manifests, bzip2 and xz nowhere.
fn supports_compression(mime: &str, compression: Compression) -> bool {
    match compression {
        Compression::Gzip => true,
        Compression::Zstd | Compression::ZstdChunked => mime == media_type::OCI_MANIFEST,
        Compression::Bzip2 | Compression::Xz => false,
    }
}

/// The manifest types to try, best first (containers/image's
/// `determineManifestConversion`): the source's own type when the destination takes it,
/// then Docker schema 2, then signed schema 1, then whatever else the destination lists.
/// `--format` replaces the destination's list. A requested `compression` that not every
/// format can describe (anything but gzip) leaves only the types that can: zstd forces an
/// OCI manifest.
pub(crate) fn manifest_candidates(
    source_mime: &str,
    destination_types: Option<Vec<&'static str>>,
    forced: Option<&'static str>,
    can_modify: bool,
    compression: Option<Compression>,
    requires_encryption: bool,
) -> Result<Vec<String>> {
    let restrictive = compression.filter(|c| *c != Compression::Gzip);
    let declared: Option<Vec<&str>> = match forced {
        Some(f) => Some(vec![f]),
        None => destination_types,
    };
    let accepts_anything = declared.is_none();
    let declared = match (declared, restrictive, requires_encryption) {
        (Some(declared), _, _) => declared,
        (None, None, false) => return Ok(vec![source_mime.to_string()]),
        (None, _, _) => ANY_MANIFEST_TYPE.to_vec(),
    };
    // Only OCI manifests describe encrypted layers.
    let declared = if requires_encryption {
        if !declared.contains(&media_type::OCI_MANIFEST) {
            if let Some(forced) = forced {
                bail!("encryption required together with format {forced}, which does not support encryption");
            }
            bail!(
                "encryption required but the destination only supports MIME types [{}], none of which support encryption",
                declared.join(", ")
            );
        }
        vec![media_type::OCI_MANIFEST]
    } else {
        declared
    };
    let supported: Vec<&str> = declared
        .iter()
        .copied()
        .filter(|t| restrictive.is_none_or(|c| supports_compression(t, c)))
        .collect();
    if let (true, Some(compression)) = (supported.is_empty(), restrictive) {
        match forced {
            Some(forced) => bail!(
                "compression using {compression} required together with format {forced}, which does not support it"
            ),
            None if accepts_anything => bail!(
                "compression using {compression} required, but none of the known manifest formats support it"
            ),
            None => bail!(
                "compression using {compression} required but the destination only supports MIME types [{}], none of which support it",
                declared.join(", ")
            ),
        }
    }
    if !can_modify {
        // As containers/image: no conversion is possible, so the manifest goes as it is and
        // the destination takes it or says why not.
        return Ok(vec![source_mime.to_string()]);
    }
    let single: Vec<&str> = supported.into_iter().filter(|t| !is_list(t)).collect();
    let mut ordered: Vec<String> = Vec::new();
    let mut push = |t: &str| {
        if single.contains(&t) && !ordered.iter().any(|o| o == t) {
            ordered.push(t.to_string());
        }
    };
    push(source_mime);
    push(media_type::DOCKER_V2_SCHEMA2);
    push(media_type::DOCKER_V2_SCHEMA1_SIGNED);
    for t in &single {
        push(t);
    }
    if ordered.is_empty() {
        bail!("the destination does not support any manifest type skopos can write");
    }
    Ok(ordered)
}

/// The layer indices `--encrypt-layer` selects among `count` layers (all when empty);
/// negative indices count from the end, as containers/image reads them.
fn layers_to_encrypt(wanted: &[i64], count: usize) -> Result<Vec<usize>> {
    if wanted.is_empty() {
        return Ok((0..count).collect());
    }
    let total = count as i64;
    wanted
        .iter()
        .map(|&index| {
            let resolved = if index < 0 { index + total } else { index };
            if (0..total).contains(&resolved) {
                Ok(resolved as usize)
            } else {
                Err(anyhow!("when choosing layers to encrypt, layer index {index} out of range ({count} layers exist)"))
            }
        })
        .collect()
}

/// Blobs readied at the destination ahead of their copy ([`ImageDestination::prepare_blob`]):
/// while every transfer slot is taken, the layers next in line, as many as there are slots,
/// are checked (and their uploads opened) so that each starts sending when it gets a slot;
/// the config, stored after the layers, from the start.
struct PreparedAhead {
    destination: Arc<dyn ImageDestination>,
    /// Blobs it knows elsewhere at the destination's registry are left to be mounted.
    cache: Option<Arc<dyn BlobInfoCache>>,
    layers: Vec<BlobInfo>,
    /// How far ahead of the layer waiting for a slot to prepare; 0 prepares nothing (one
    /// slot: the destination writes layers one by one, in order).
    reach: usize,
    /// Layers before this one were prepared, or got a slot unprepared.
    next: usize,
    tasks: tokio::task::JoinSet<()>,
}

impl PreparedAhead {
    fn new(
        destination: &Arc<dyn ImageDestination>,
        cache: Option<Arc<dyn BlobInfoCache>>,
        layers: Vec<BlobInfo>,
        slots: usize,
    ) -> Self {
        PreparedAhead {
            destination: destination.clone(),
            cache,
            layers,
            reach: if slots > 1 { slots } else { 0 },
            next: 0,
            tasks: tokio::task::JoinSet::new(),
        }
    }

    /// Layer `waiting` waits for a slot: prepare it and those after it, within reach.
    fn prepare_from(&mut self, waiting: usize) {
        let until = (waiting + self.reach).min(self.layers.len());
        for index in self.next.max(waiting)..until {
            self.prepare_now(self.layers[index].clone());
        }
        self.next = self.next.max(until);
    }

    /// Prepare blob `info` now; not with one slot, nor a blob the cache knows elsewhere at
    /// the destination's registry (its copy will mount it, and a session opened for it
    /// ahead would only be cancelled). A blob the cache knows only in the destination's own
    /// repository is prepared: its copy asks the repository and nothing else, and the
    /// repository may have lost it since (deleted, collected, a registry started afresh).
    fn prepare_now(&mut self, info: BlobInfo) {
        if self.reach == 0 {
            return;
        }
        if let (Some(cache), Some(location)) = (&self.cache, self.destination.blob_location()) {
            if cache
                .candidates(&location, &info.digest, true)
                .iter()
                .any(|candidate| is_tried_after_the_destination(candidate, &info.digest, &location))
            {
                return;
            }
        }
        let destination = self.destination.clone();
        self.tasks
            .spawn(async move { destination.prepare_blob(&info).await });
    }

    /// Stop preparing: the copy failed.
    fn stop(&mut self) {
        self.tasks.abort_all();
    }

    /// Wait for the preparations still under way.
    async fn finish(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skopos_core::media_type::*;

    #[test]
    fn keeps_the_source_type_when_possible() {
        let c = manifest_candidates(
            OCI_MANIFEST,
            Some(vec![OCI_MANIFEST, OCI_INDEX]),
            None,
            true,
            None,
            false,
        )
        .unwrap();
        assert_eq!(c, vec![OCI_MANIFEST]);
        let c = manifest_candidates(DOCKER_V2_SCHEMA2, None, None, true, None, false).unwrap();
        assert_eq!(c, vec![DOCKER_V2_SCHEMA2]);
    }

    #[test]
    fn converts_to_what_the_destination_takes() {
        let c = manifest_candidates(
            DOCKER_V2_SCHEMA2,
            Some(vec![OCI_MANIFEST, OCI_INDEX]),
            None,
            true,
            None,
            false,
        )
        .unwrap();
        assert_eq!(c, vec![OCI_MANIFEST]);
        let dest = vec![
            OCI_MANIFEST,
            DOCKER_V2_SCHEMA2,
            DOCKER_V2_SCHEMA1_SIGNED,
            DOCKER_V2_LIST,
        ];
        let c =
            manifest_candidates(DOCKER_V2_SCHEMA1, Some(dest), None, true, None, false).unwrap();
        assert_eq!(
            c,
            vec![DOCKER_V2_SCHEMA2, DOCKER_V2_SCHEMA1_SIGNED, OCI_MANIFEST]
        );
    }

    #[test]
    fn format_overrides_the_destination() {
        let c = manifest_candidates(
            OCI_MANIFEST,
            Some(vec![OCI_MANIFEST, OCI_INDEX]),
            Some(DOCKER_V2_SCHEMA2),
            true,
            None,
            false,
        )
        .unwrap();
        assert_eq!(c, vec![DOCKER_V2_SCHEMA2]);
    }

    #[test]
    fn zstd_takes_an_oci_manifest_and_bzip2_none() {
        let oci_dest = || Some(vec![OCI_MANIFEST, OCI_INDEX]);
        for zstd in [Compression::Zstd, Compression::ZstdChunked] {
            let c = manifest_candidates(DOCKER_V2_SCHEMA2, None, None, true, Some(zstd), false)
                .unwrap();
            assert_eq!(c, vec![OCI_MANIFEST]);
            let c =
                manifest_candidates(DOCKER_V2_SCHEMA2, oci_dest(), None, true, Some(zstd), false)
                    .unwrap();
            assert_eq!(c, vec![OCI_MANIFEST]);
        }
        let refused = |dest, forced, compression| {
            manifest_candidates(OCI_MANIFEST, dest, forced, true, Some(compression), false)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            refused(Some(vec![DOCKER_V2_SCHEMA2]), None, Compression::ZstdChunked),
            "compression using zstd:chunked required but the destination only supports MIME types [application/vnd.docker.distribution.manifest.v2+json], none of which support it"
        );
        assert_eq!(
            refused(None, Some(DOCKER_V2_SCHEMA2), Compression::Zstd),
            "compression using zstd required together with format application/vnd.docker.distribution.manifest.v2+json, which does not support it"
        );
        assert_eq!(
            refused(None, None, Compression::Bzip2),
            "compression using bzip2 required, but none of the known manifest formats support it"
        );
        assert_eq!(
            refused(oci_dest(), None, Compression::Bzip2),
            "compression using bzip2 required but the destination only supports MIME types [application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json], none of which support it"
        );
        let gzip = manifest_candidates(
            DOCKER_V2_SCHEMA2,
            None,
            None,
            true,
            Some(Compression::Gzip),
            false,
        );
        assert_eq!(gzip.unwrap(), vec![DOCKER_V2_SCHEMA2]);
    }

    #[test]
    fn keeps_the_source_type_when_digests_must_stay() {
        let c = manifest_candidates(
            DOCKER_V2_SCHEMA2,
            Some(vec![OCI_MANIFEST, OCI_INDEX]),
            Some(OCI_MANIFEST),
            false,
            None,
            false,
        )
        .unwrap();
        assert_eq!(c, vec![DOCKER_V2_SCHEMA2]);
    }

    #[test]
    fn zstd_keeps_only_oci_and_bzip2_fits_no_manifest() {
        let zstd = Some(Compression::Zstd);
        // A destination that takes anything gets an OCI manifest for zstd layers.
        let c = manifest_candidates(DOCKER_V2_SCHEMA2, None, None, true, zstd, false).unwrap();
        assert_eq!(c, vec![OCI_MANIFEST]);
        let c = manifest_candidates(
            DOCKER_V2_SCHEMA2,
            None,
            None,
            true,
            Some(Compression::Gzip),
            false,
        )
        .unwrap();
        assert_eq!(c, vec![DOCKER_V2_SCHEMA2]);
        let message = |r: Result<Vec<String>>| format!("{:#}", r.unwrap_err());
        assert_eq!(
            message(manifest_candidates(OCI_MANIFEST, Some(vec![DOCKER_V2_SCHEMA2]), None, true, zstd, false)),
            "compression using zstd required but the destination only supports MIME types [application/vnd.docker.distribution.manifest.v2+json], none of which support it"
        );
        assert_eq!(
            message(manifest_candidates(
                OCI_MANIFEST,
                None,
                None,
                true,
                Some(Compression::Bzip2),
                false
            )),
            "compression using bzip2 required, but none of the known manifest formats support it"
        );
        assert_eq!(
            message(manifest_candidates(OCI_MANIFEST, None, Some(DOCKER_V2_SCHEMA2), true, zstd, false)),
            "compression using zstd required together with format application/vnd.docker.distribution.manifest.v2+json, which does not support it"
        );
    }
}
