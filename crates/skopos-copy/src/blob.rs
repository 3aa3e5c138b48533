//! One blob from source to destination: reuse check, streaming read, digest verification,
//! compression changes, write.

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::Context as _;
use async_compression::tokio::bufread::{XzEncoder, ZstdEncoder};
use async_compression::Level;
use futures_util::StreamExt as _;
use skopos_core::blob_info_cache::{
    compressor_name, BlobFact, BlobInfoCache, BlobLocation, ReuseCandidate,
};
use skopos_core::compression::Compression;
use skopos_core::digest::{Algorithm, DigestingReader};
use skopos_core::manifest::{CompressionUpdate, CryptoUpdate};
use skopos_core::{
    BlobChunks, BlobInfo, BlobReader, Digest, FileBlob, ImageDestination, ImageSource,
    LayerCompression, Result, WrittenBlob,
};
use skopos_crypt::{
    decrypt_layer, encrypt_layer, is_encrypted_media_type, DecryptConfig, EncryptConfig,
};
use tokio::io::{AsyncRead, AsyncReadExt as _, BufReader, ReadBuf};

use crate::chunked::{self, ChunkedAnnotations};
use crate::events::{BlobKind, CopyEvent, ProgressSink};
use crate::gzip::AdaptiveGzipEncoder;
use crate::partial::{KeepingReader, KeepingState, PartialFile, MIN_KEPT_SIZE};

/// gzip's own default, which Go's `gzip.DefaultCompression` also means.
const DEFAULT_GZIP_LEVEL: u32 = 6;

/// Read buffers in front of (de)compressors: large enough that per-call overhead vanishes
/// next to the codec's work. Each is filled whole now that file sources read straight into
/// it, so every blob copied in parallel holds one: 1 MiB cost a zstd recompression of eight
/// layers 9 MiB of peak memory for no measurable speed.
const STREAM_BUFFER: usize = 128 << 10;

/// How a layer should be treated on its way to the destination.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LayerPlan {
    /// False when the manifest must stay byte-identical (signatures, `--preserve-digests`).
    pub can_modify: bool,
    pub desired: LayerCompression,
    /// `--dest-compress-format`, when given.
    pub explicit_format: Option<Compression>,
    pub level: Option<i32>,
    /// The uncompressed digest is needed (conversion from schema 1).
    pub need_diff_id: bool,
    /// `--dest-force-compress-format`: a blob the destination has already is reused only
    /// when it is in `explicit_format` (by name or base variant).
    pub force_format: bool,
}

/// The source layer being copied, with what its manifest says about it.
#[derive(Debug, Clone)]
pub(crate) struct SourceLayer {
    pub info: BlobInfo,
    /// The manifest's annotations declare a table of contents: a zstd blob is zstd:chunked.
    pub chunked: bool,
}

/// What happened to one blob.
#[derive(Debug, Clone)]
pub(crate) struct CopiedBlob {
    pub written: WrittenBlob,
    pub compression: CompressionUpdate,
    pub crypto: CryptoUpdate,
    /// The digest of the uncompressed content, when it was asked for.
    pub diff_id: Option<Digest>,
    /// Annotations of the new compression (zstd:chunked's), for a changed blob.
    pub annotations: BTreeMap<String, String>,
}

/// What to do to a stream, decided once its first bytes are seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transform {
    Keep,
    Decompress(Compression),
    Compress(Compression),
    Recompress { from: Compression, to: Compression },
}

fn decide(plan: &LayerPlan, detected: Option<Compression>) -> Transform {
    if !plan.can_modify {
        return Transform::Keep;
    }
    match (plan.desired, detected) {
        (LayerCompression::Compress, None) => {
            Transform::Compress(plan.explicit_format.unwrap_or(Compression::Gzip))
        }
        // As containers/image: only when the wanted format is neither the detected one
        // nor its base (a zstd:chunked blob is kept when zstd is asked for).
        (LayerCompression::Compress, Some(from)) => match plan.explicit_format {
            Some(to) if to != from && to != from.base_variant() => {
                Transform::Recompress { from, to }
            }
            _ => Transform::Keep,
        },
        (LayerCompression::Decompress, Some(from)) => Transform::Decompress(from),
        _ => Transform::Keep,
    }
}

/// Encryption work for one layer (containers/image's decryption and encryption steps).
#[derive(Debug, Clone, Default)]
pub(crate) struct LayerCrypto {
    /// Decrypt the layer with these keys; the map is its descriptor's annotations, which
    /// carry its wrapped keys.
    pub decrypt: Option<(Arc<DecryptConfig>, BTreeMap<String, String>)>,
    /// Encrypt the layer for these recipients.
    pub encrypt: Option<Arc<EncryptConfig>>,
}

impl LayerCrypto {
    fn is_active(&self) -> bool {
        self.decrypt.is_some() || self.encrypt.is_some()
    }
}

/// What a blob copy shares with other copies: the blob-info cache, the claims of copies
/// running at the same time, and where the image's progress events go.
#[derive(Clone)]
pub(crate) struct SharedState<'a> {
    pub cache: Option<&'a dyn BlobInfoCache>,
    pub claims: Option<&'a crate::BlobClaims>,
    pub progress: &'a Arc<dyn ProgressSink>,
    /// The transfer slot this blob holds, if it may give it back before the destination
    /// has answered.
    pub slot: Option<TransferSlot>,
}

impl<'a> SharedState<'a> {
    /// What `options` shares, with events to `progress`.
    pub fn of(
        options: &'a crate::CopyOptions,
        progress: &'a Arc<dyn ProgressSink>,
    ) -> SharedState<'a> {
        SharedState {
            cache: options.blob_info_cache.as_deref(),
            claims: options.blob_claims.as_deref(),
            progress,
            slot: None,
        }
    }

    /// This state for a blob holding transfer slot `slot`.
    pub fn holding(self, slot: TransferSlot) -> SharedState<'a> {
        SharedState {
            slot: Some(slot),
            ..self
        }
    }
}

/// A layer's hold on one of its copy's transfer slots, given back as soon as the layer's
/// bytes have all been read from the source: what is left, the destination committing the
/// blob (a registry syncing it to disk took 100–250 ms), need not keep the next layer from
/// starting.
#[derive(Clone)]
pub(crate) struct TransferSlot(Arc<std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>>);

impl TransferSlot {
    pub fn holding(permit: tokio::sync::OwnedSemaphorePermit) -> TransferSlot {
        TransferSlot(Arc::new(std::sync::Mutex::new(Some(permit))))
    }

    /// Give the slot back (once; later calls do nothing).
    fn release(&self) {
        let mut held = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        held.take();
    }
}

/// Copy a layer (or, with `kind == Config`, a config blob, which is never transformed).
/// With a `cache`, a blob the destination's registry holds elsewhere is mounted instead of
/// copied, a layer to be recompressed is replaced by a recompressed copy the destination
/// already has, and what the copy verified is recorded for later copies.
pub(crate) async fn copy_blob(
    source: &dyn ImageSource,
    destination: &dyn ImageDestination,
    shared: SharedState<'_>,
    layer: &SourceLayer,
    kind: BlobKind,
    plan: LayerPlan,
    crypto: &LayerCrypto,
) -> Result<CopiedBlob> {
    let SharedState {
        cache,
        claims,
        progress,
        slot,
    } = shared;
    let info = &layer.info;
    progress.event(CopyEvent::BlobStarted {
        digest: info.digest.clone(),
        size: info.size,
        kind,
    });
    // As containers/image: an encrypted or decrypted layer is always read and written, never
    // taken from what the destination has; with `--dest-force-compress-format`, only a blob
    // in the asked-for compression is.
    // Copies running at once that share this blob wait for the first to write it.
    let _claim = match (claims, destination.blob_location()) {
        (Some(claims), Some(location)) => Some(claims.claim(&location.scope, &info.digest).await),
        _ => None,
    };
    let reusable = !crypto.is_active()
        && (!plan.force_format
            || reuse_allowed(
                plan.explicit_format,
                skopos_core::manifest::declared_compression(&info.media_type),
            ));
    let reused = if reusable {
        match destination
            .try_reuse_blob(info)
            .await
            .with_context(|| format!("checking whether the destination has blob {}", info.digest))?
        {
            Some(written) => Some((written, CompressionUpdate::Unchanged)),
            None => match cache {
                Some(cache) => reuse_known_blob(cache, destination, info, kind, Some(&plan)).await,
                None => None,
            },
        }
    } else {
        None
    };
    if let Some((written, compression)) = reused {
        tracing::debug!("Skipping blob {} (already present)", info.digest);
        if let (Some(cache), Some(location)) = (cache, destination.blob_location()) {
            cache.record(&[BlobFact::KnownLocation {
                location,
                digest: written.digest.clone(),
            }]);
        }
        progress.event(CopyEvent::BlobSkipped {
            digest: info.digest.clone(),
            kind,
            size: written.size,
            mounted: written.mounted,
        });
        let diff_id = match (plan.need_diff_id, cache) {
            (false, _) => None,
            (true, Some(cache)) => match cache.uncompressed_digest(&info.digest) {
                Some(known) => Some(known),
                None => Some(diff_id_from_source(source, info).await?),
            },
            (true, None) => Some(diff_id_from_source(source, info).await?),
        };
        return Ok(CopiedBlob {
            written,
            compression,
            crypto: CryptoUpdate::Unchanged,
            diff_id,
            annotations: BTreeMap::new(),
        });
    }

    let copy = BlobCopy {
        source,
        destination,
        info,
        chunked: layer.chunked,
        kind,
        plan,
        crypto,
        cache,
        progress,
        slot,
    };
    let reading = || format!("reading blob {}", info.digest);
    let Some(kept) = keep_partial(source, destination, info) else {
        // Bytes that go out unchanged and unhashed need not pass through buffers of ours.
        if destination.checks_blob_digests() && !crypto.is_active() {
            if let Some((chunks, size)) = source.blob_chunks(info).await.with_context(reading)? {
                return copy.store_chunks(chunks, size).await;
            }
        }
        let (stream, size, file) = source.blob_with_file(info).await.with_context(reading)?;
        return copy
            .store(stream, size, 0, None, file)
            .await
            .map(|stored| stored.copied)
            .map_err(|(error, _)| error);
    };
    let partial = &kept.file;
    let opened = copy.open_kept(partial).await.with_context(reading)?;
    let in_place = kept.in_place.then_some(&opened.state);
    match copy
        .store(opened.stream, opened.size, opened.resumed, in_place, None)
        .await
    {
        Ok(stored) => {
            // A file handed over is the destination's now, under another name: its old
            // name may already be another copy's file.
            if !stored.handed_over {
                partial.remove();
            }
            Ok(stored.copied)
        }
        Err((error, verified)) => {
            // The source's bytes, kept as they came, did not match the digest: nothing to
            // resume from. Any other failure (a kill, a cut, the destination) keeps them
            // for the next run.
            if opened.resumed == 0 && opened.state.reached_end() && !verified {
                partial.remove();
            }
            Err(error)
        }
    }
}

/// A blob's stream as [`BlobCopy::open_kept`] prepared it.
struct KeptStream {
    stream: BlobReader,
    size: Option<u64>,
    /// Bytes that came from a partial download kept by an earlier copy; 0 when the
    /// stream is the source's, kept as it passes.
    resumed: u64,
    /// Whether the stream ended, and whether the file took all of it.
    state: KeepingState,
}

/// The partial file of a blob and what it is.
struct Kept {
    file: Arc<PartialFile>,
    /// The file is the destination's staging file of the blob
    /// ([`ImageDestination::staging_file`]), not a file apart.
    in_place: bool,
}

/// The file to keep a partial download of `info` in, when worth it: the source can
/// resume reads, the destination stages the blob in a file of its own or names a place,
/// and the blob is big enough.
fn keep_partial(
    source: &dyn ImageSource,
    destination: &dyn ImageDestination,
    info: &BlobInfo,
) -> Option<Kept> {
    if !source.resumes_blob_reads() || info.size.is_none_or(|size| size < MIN_KEPT_SIZE) {
        return None;
    }
    if let Some(path) = destination.staging_file(&info.digest) {
        return PartialFile::open_at(path).map(|file| Kept {
            file: Arc::new(file),
            in_place: true,
        });
    }
    let dir = destination.partial_blob_dir()?;
    PartialFile::open(&dir, &info.digest).map(|file| Kept {
        file: Arc::new(file),
        in_place: false,
    })
}

/// A blob stored by [`BlobCopy::store`].
struct Stored {
    copied: CopiedBlob,
    /// The partial file became the stored blob.
    handed_over: bool,
}

/// One blob to move from source to destination.
struct BlobCopy<'a> {
    source: &'a dyn ImageSource,
    destination: &'a dyn ImageDestination,
    info: &'a BlobInfo,
    /// The source manifest names a table of contents: a zstd blob is zstd:chunked.
    chunked: bool,
    kind: BlobKind,
    plan: LayerPlan,
    crypto: &'a LayerCrypto,
    /// Where what this copy learns about the blob is recorded.
    cache: Option<&'a dyn BlobInfoCache>,
    progress: &'a Arc<dyn ProgressSink>,
    slot: Option<TransferSlot>,
}

impl BlobCopy<'_> {
    /// The blob's stream, using and feeding `partial`. With nothing kept, the source's
    /// stream, kept as it passes. With a part kept, the rest is read from the source
    /// into `partial` first and the whole file is checked against the digest before any
    /// of it goes to the destination (a destination that writes in sequence, like a tar,
    /// could not take the blob again after bad bytes); a file that does not match, or a
    /// source that sends the whole blob instead of the rest, starts the blob over.
    async fn open_kept(&self, partial: &Arc<PartialFile>) -> Result<KeptStream> {
        let info = self.info;
        let size = info.size.unwrap_or_default();
        let mut kept = partial.len();
        if kept > size {
            partial.clear();
            kept = 0;
        }
        if kept == 0 {
            let (stream, size) = self.source.blob(info).await?;
            return Ok(self.teeing(partial, stream, size));
        }
        let tail = if kept < size {
            let tail = self.source.blob_from(info, kept).await?;
            if tail.offset != kept {
                tracing::debug!(
                    "The source sent all of blob {} instead of the rest from byte {kept}",
                    info.digest
                );
                partial.clear();
                return Ok(self.teeing(partial, tail.reader, tail.size));
            }
            Some(tail.reader)
        } else {
            None
        };
        tracing::debug!("Resuming blob {} at byte {kept}", info.digest);
        self.progress.event(CopyEvent::BlobResumed {
            digest: info.digest.clone(),
            offset: kept,
        });
        let progress = self.progress.clone();
        let digest = info.digest.clone();
        let report = move |read| {
            progress.event(CopyEvent::BlobProgress {
                digest: digest.clone(),
                read,
            })
        };
        if partial
            .complete(kept, tail, &info.digest, size, report)
            .await?
        {
            let (stream, state) =
                KeepingReader::new(partial.clone(), size, Box::pin(tokio::io::empty()));
            return Ok(KeptStream {
                stream: Box::pin(stream),
                size: Some(size),
                resumed: kept,
                state,
            });
        }
        tracing::debug!(
            "Blob {} kept from an earlier copy does not match its digest; reading it again",
            info.digest
        );
        partial.clear();
        let (stream, size) = self.source.blob(info).await?;
        Ok(self.teeing(partial, stream, size))
    }

    /// `stream` (the whole blob from the source), kept in `partial` as it passes.
    fn teeing(
        &self,
        partial: &Arc<PartialFile>,
        stream: BlobReader,
        size: Option<u64>,
    ) -> KeptStream {
        let (reader, state) = KeepingReader::new(partial.clone(), 0, stream);
        KeptStream {
            stream: Box::pin(reader),
            size,
            resumed: 0,
            state,
        }
    }

    /// Verify, transform and store `stream`. With `in_place`, the stream's bytes land
    /// in the destination's staging file as they pass: when they go to the destination
    /// unchanged, that file is handed over instead of writing them again. With `file`, the
    /// local file the stream reads, a destination that checks digests may send the file
    /// itself. On failure, whether the stream was verified whole comes with the error.
    async fn store(
        &self,
        stream: BlobReader,
        size: Option<u64>,
        resumed: u64,
        in_place: Option<&KeepingState>,
        file: Option<FileBlob>,
    ) -> std::result::Result<Stored, (anyhow::Error, bool)> {
        let (destination, info, kind, plan, crypto) = (
            self.destination,
            self.info,
            self.kind,
            self.plan,
            self.crypto,
        );
        let size = size.or(info.size);
        let counted: BlobReader = Box::pin(ProgressReader {
            inner: stream,
            // A resumed blob's progress was reported while its rest was read: replaying
            // the kept file only reports its end.
            counter: ProgressCounter::new(
                info.digest.clone(),
                self.progress.clone(),
                if resumed > 0 { size.unwrap_or(0) } else { 0 },
            )
            .releasing(self.slot.clone(), size),
        });
        let verify = |stream: BlobReader| {
            let (verified, summary) = DigestingReader::new(
                stream,
                info.digest.algorithm(),
                Some(info.digest.clone()),
                size,
            );
            (Box::pin(verified) as BlobReader, summary)
        };
        let reading = || format!("reading blob {}", info.digest);
        let decrypting = crypto.decrypt.is_some();
        // Encrypted bytes are verified before they are decrypted; plain ones once what
        // happens to them is known (below).
        let (detected, stream, summary) = match &crypto.decrypt {
            Some((keys, annotations)) => {
                let (verified, summary) = verify(counted);
                let plain = decrypt_layer(verified, annotations, keys)
                    .with_context(|| format!("decrypting layer {}", info.digest))
                    .map_err(|error| (error, false))?;
                let (detected, stream) = Compression::detect_in(plain)
                    .await
                    .with_context(reading)
                    .map_err(|error| (error, summary.get().is_some()))?;
                (detected, Box::pin(stream) as BlobReader, Some(summary))
            }
            None => {
                let (detected, stream) = Compression::detect_in(counted)
                    .await
                    .with_context(reading)
                    .map_err(|error| (error, false))?;
                (detected, Box::pin(stream) as BlobReader, None)
            }
        };
        let (detected, transform) = self.transform_for(detected, decrypting);
        tracing::debug!(
            "Copying blob {}: detected compression {}, {transform:?}",
            info.digest,
            detected.map_or("none", Compression::name)
        );

        // The bytes go out exactly as the source has them: the destination may check them
        // against the source digest.
        let unchanged_bytes = transform == Transform::Keep && !crypto.is_active();
        // A destination that checks the digest itself refuses bad bytes: hashing them here
        // too was most of a push's CPU. Anything else is verified here, every byte.
        let (stream, summary) = match summary {
            None if !(unchanged_bytes && destination.checks_blob_digests()) => {
                let (verified, summary) = verify(stream);
                (verified, Some(summary))
            }
            summary => (stream, summary),
        };
        let failed = |error: anyhow::Error| {
            let verified = summary
                .as_ref()
                .is_some_and(|summary| summary.get().is_some());
            (error, verified)
        };
        let mut diff_id = None;
        let mut uncompressed_summary = None;
        let mut annotations = ChunkedAnnotations::default();
        let (output, compression): (BlobReader, _) = match transform {
            Transform::Keep => {
                if plan.need_diff_id && detected.is_none() && !decrypting {
                    diff_id = Some(info.digest.clone());
                }
                (Box::pin(stream), CompressionUpdate::Unchanged)
            }
            Transform::Decompress(from) => (decoder(from, stream), CompressionUpdate::Decompressed),
            Transform::Compress(to) => {
                if !decrypting {
                    diff_id = Some(info.digest.clone());
                }
                let (encoded, chunked) = encoder(to, plan.level, stream).map_err(failed)?;
                annotations = chunked;
                (encoded, CompressionUpdate::Compressed(to))
            }
            Transform::Recompress { from, to } => {
                let (decoded, uncompressed) =
                    DigestingReader::new(decoder(from, stream), Algorithm::Sha256, None, None);
                uncompressed_summary = Some(uncompressed);
                let (encoded, chunked) = encoder(to, plan.level, decoded).map_err(failed)?;
                annotations = chunked;
                (encoded, CompressionUpdate::Compressed(to))
            }
        };
        let (output, encryption) = match &crypto.encrypt {
            Some(recipients) => {
                let (encrypted, encryption) = encrypt_layer(output, recipients.clone());
                (encrypted, Some(encryption))
            }
            None => (output, None),
        };
        let handed_over = unchanged_bytes && in_place.is_some();
        // Nothing of ours reads the bytes on their way: the file may go as it is.
        let file = file.filter(|_| unchanged_bytes && summary.is_none());
        let written = match (in_place, file) {
            (Some(kept), _) if unchanged_bytes => {
                async {
                    drain(output).await?;
                    if let Some(error) = kept.write_error() {
                        anyhow::bail!(error);
                    }
                    destination.put_staged_blob(info).await
                }
                .await
            }
            (_, Some(file)) => {
                let progress = self.progress.clone();
                let digest = info.digest.clone();
                let (slot, length) = (self.slot.clone(), file.length);
                let sent = Arc::new(move |read| {
                    if read >= length {
                        if let Some(slot) = &slot {
                            slot.release();
                        }
                    }
                    progress.event(CopyEvent::BlobProgress {
                        digest: digest.clone(),
                        read,
                    })
                });
                destination
                    .put_file_blob(output, file, info, kind == BlobKind::Config, sent)
                    .await
            }
            _ => {
                destination
                    .put_blob(
                        output,
                        unchanged_bytes.then_some(info),
                        unchanged_bytes && kind == BlobKind::Config,
                    )
                    .await
            }
        }
        .with_context(|| format!("copying blob {}", info.digest))
        .map_err(failed)?;
        let crypto_update = match encryption {
            Some(encryption) => CryptoUpdate::Encrypted(
                encryption
                    .annotations()
                    .context("Unable to finalize encryption")
                    .map_err(failed)?,
            ),
            None if decrypting => CryptoUpdate::Decrypted,
            None => CryptoUpdate::Unchanged,
        };
        if let Some(summary) = uncompressed_summary {
            diff_id = summary.get().map(|s| s.digest);
        } else if crypto.encrypt.is_none()
            && (transform == Transform::Keep && detected.is_none()
                || matches!(transform, Transform::Decompress(_)))
            && diff_id.is_none()
        {
            // What was written is the uncompressed layer itself.
            diff_id = Some(written.digest.clone());
        }
        let read = summary
            .as_ref()
            .map_or(Some(written.size), |summary| summary.get().map(|s| s.size))
            .unwrap_or(0);
        let diff_id = self
            .conclude(&written, detected, transform, diff_id, read, resumed)
            .await
            .map_err(failed)?;
        Ok(Stored {
            copied: CopiedBlob {
                written,
                compression,
                crypto: crypto_update,
                diff_id,
                annotations: annotations.get().unwrap_or_default(),
            },
            handed_over,
        })
    }

    /// Pass on the blob `chunks` (the source's buffers, not verified) to a destination that
    /// checks digests, in those buffers when it keeps the blob as it is; a blob whose
    /// compression changes goes through [`Self::store`].
    async fn store_chunks(&self, chunks: BlobChunks, size: Option<u64>) -> Result<CopiedBlob> {
        let info = self.info;
        let (head, chunks) = peek_chunks(chunks, Compression::DETECT_LEN)
            .await
            .with_context(|| format!("reading blob {}", info.digest))?;
        let (detected, transform) = self.transform_for(Compression::detect(&head), false);
        if transform != Transform::Keep {
            let stream = Box::pin(tokio_util::io::StreamReader::new(chunks));
            return self
                .store(stream, size, 0, None, None)
                .await
                .map(|stored| stored.copied)
                .map_err(|(error, _)| error);
        }
        let mut counter = ProgressCounter::new(info.digest.clone(), self.progress.clone(), 0)
            .releasing(self.slot.clone(), size.or(info.size));
        let mut chunks = chunks;
        let counted = Box::pin(futures_util::stream::poll_fn(move |cx| {
            let next = chunks.poll_next_unpin(cx);
            match &next {
                Poll::Ready(Some(Ok(bytes))) => counter.count(bytes.len() as u64),
                Poll::Ready(None) => counter.count(0),
                _ => {}
            }
            next
        }));
        let written = self
            .destination
            .put_blob_chunks(counted, info, self.kind == BlobKind::Config)
            .await
            .with_context(|| format!("copying blob {}", info.digest))?;
        // Kept as it is, an uncompressed layer is its own uncompressed digest.
        let diff_id = detected.is_none().then(|| written.digest.clone());
        let diff_id = self
            .conclude(&written, detected, transform, diff_id, written.size, 0)
            .await?;
        Ok(CopiedBlob {
            written,
            compression: CompressionUpdate::Unchanged,
            crypto: CryptoUpdate::Unchanged,
            diff_id,
            annotations: BTreeMap::new(),
        })
    }

    /// The compression the blob is in, given what its first bytes show, and what to do
    /// to it.
    fn transform_for(
        &self,
        detected: Option<Compression>,
        decrypting: bool,
    ) -> (Option<Compression>, Transform) {
        // containers/image: a zstd blob whose annotations name a TOC is zstd:chunked.
        let detected = match detected {
            Some(Compression::Zstd) if self.chunked => Some(Compression::ZstdChunked),
            other => other,
        };
        let transform = if self.kind == BlobKind::Config
            || is_encrypted_media_type(&self.info.media_type) && !decrypting
        {
            // An encrypted layer kept encrypted is opaque: its compression cannot change.
            Transform::Keep
        } else {
            decide(&self.plan, detected)
        };
        (detected, transform)
    }

    /// After a blob is written: teach the cache, find the uncompressed digest when the plan
    /// needs it and it is not known yet (`diff_id`), and report the blob done (`read` bytes
    /// of the source, `resumed` of them from an earlier copy). The uncompressed digest.
    async fn conclude(
        &self,
        written: &WrittenBlob,
        detected: Option<Compression>,
        transform: Transform,
        diff_id: Option<Digest>,
        read: u64,
        resumed: u64,
    ) -> Result<Option<Digest>> {
        let info = self.info;
        // What an encrypted or decrypted copy wrote says nothing about the source blob's
        // compression variants, so only plain copies teach the cache.
        if let (Some(cache), false) = (self.cache, self.crypto.is_active()) {
            cache.record(&learned_facts(
                self.source,
                self.destination,
                info,
                detected,
                transform,
                written,
                diff_id.as_ref(),
            ));
        }
        let diff_id = match diff_id {
            None if self.plan.need_diff_id => Some(diff_id_from_source(self.source, info).await?),
            known => known,
        };
        self.progress.event(CopyEvent::BlobDone {
            digest: info.digest.clone(),
            kind: self.kind,
            read,
            resumed,
            stored_digest: written.digest.clone(),
            size: written.size,
        });
        Ok(diff_id)
    }
}

/// The first `len` bytes of `chunks` (fewer when it is shorter), and the whole of
/// `chunks` again, none of its buffers copied.
async fn peek_chunks(mut chunks: BlobChunks, len: usize) -> io::Result<(Vec<u8>, BlobChunks)> {
    let mut head = Vec::with_capacity(len);
    let mut taken = Vec::new();
    while head.len() < len {
        match chunks.next().await {
            Some(chunk) => {
                let chunk = chunk?;
                let wanted = (len - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..wanted]);
                taken.push(Ok(chunk));
            }
            None => break,
        }
    }
    Ok((
        head,
        Box::pin(futures_util::stream::iter(taken).chain(chunks)),
    ))
}

/// Read `stream` to its end (and with it, every check and copy on its way), dropping
/// the bytes.
async fn drain(mut stream: BlobReader) -> Result<()> {
    let mut buffer = vec![0u8; STREAM_BUFFER];
    while stream
        .read(&mut buffer)
        .await
        .context("reading the blob stream")?
        > 0
    {}
    Ok(())
}

/// Whether a blob in `original` compression (as its media type declares it) may be reused
/// when `--dest-force-compress-format` asks for `required` (containers/image's
/// `CandidateCompressionMatchesReuseConditions`: by name or base variant; an uncompressed
/// blob never matches).
fn reuse_allowed(required: Option<Compression>, original: Option<Compression>) -> bool {
    match (required, original) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(required), Some(original)) => {
            required == original || required == original.base_variant()
        }
    }
}

/// A blob the cache knows at the destination's registry that can stand in for `info`:
/// the same blob in another repository (mounted), or, for a layer the copy would compress
/// or recompress, the same content already compressed that way. What the destination then
/// holds and how the manifest must describe it.
/// `plan` is `None` for a blob the copy writes as it is.
pub(crate) async fn reuse_known_blob(
    cache: &dyn BlobInfoCache,
    destination: &dyn ImageDestination,
    info: &BlobInfo,
    kind: BlobKind,
    plan: Option<&LayerPlan>,
) -> Option<(WrittenBlob, CompressionUpdate)> {
    let location = destination.blob_location()?;
    let compress_to = match (kind, plan) {
        (BlobKind::Layer, Some(plan)) => planned_compression(cache, info, plan),
        _ => None,
    };
    for candidate in cache.candidates(&location, &info.digest, compress_to.is_some()) {
        if !is_tried_after_the_destination(&candidate, &info.digest, &location) {
            continue;
        }
        let (compression, size) = match compress_to {
            // The copy would write something else than this blob: only a substitute
            // compressed the planned way will do.
            Some(to)
                if candidate.digest != info.digest
                    && candidate.compressor.as_deref() == Some(compressor_name(Some(to))) =>
            {
                (CompressionUpdate::Compressed(to), None)
            }
            Some(_) => continue,
            None if candidate.digest == info.digest => (CompressionUpdate::Unchanged, info.size),
            None => continue,
        };
        let wanted = BlobInfo {
            digest: candidate.digest.clone(),
            size,
            media_type: info.media_type.clone(),
        };
        match destination
            .try_reuse_blob_from(&wanted, &candidate.location)
            .await
        {
            Ok(Some(written)) => {
                tracing::debug!(
                    "Reusing blob {} from {} for {}",
                    candidate.digest,
                    candidate.location,
                    info.digest
                );
                return Some((written, compression));
            }
            Ok(None) => {}
            // A candidate is only a hint: one that fails is skipped, as containers/image does.
            Err(err) => tracing::debug!(
                "Reusing blob {} from {} failed: {err:#}",
                candidate.digest,
                candidate.location
            ),
        }
    }
    None
}

/// Whether a copy of `digest` tries `candidate` once the destination itself has said it
/// lacks the blob: every candidate but the blob itself at the destination's own location.
/// Asking again for that one (one more `HEAD` per blob on every warm-cache push) would only
/// repeat the answer; containers/image skips it the same way.
pub(crate) fn is_tried_after_the_destination(
    candidate: &ReuseCandidate,
    digest: &Digest,
    destination: &BlobLocation,
) -> bool {
    candidate.digest != *digest || candidate.location != destination.location
}

/// The compression a layer will be written with when the copy compresses or recompresses
/// it, judged before reading it: from the cache when it knows the layer is uncompressed,
/// else from its media type.
fn planned_compression(
    cache: &dyn BlobInfoCache,
    info: &BlobInfo,
    plan: &LayerPlan,
) -> Option<Compression> {
    let current = if cache.uncompressed_digest(&info.digest).as_ref() == Some(&info.digest) {
        None
    } else {
        compression_of_media_type(&info.media_type)
    };
    match decide(plan, current) {
        Transform::Compress(to) | Transform::Recompress { to, .. } => Some(to),
        Transform::Keep | Transform::Decompress(_) => None,
    }
}

/// The compression a layer media type names (`…tar+gzip`, `…tar.gzip`, `…+zstd`).
fn compression_of_media_type(media_type: &str) -> Option<Compression> {
    let suffix = media_type.rsplit(['+', '.']).next()?;
    match suffix {
        "gzip" => Some(Compression::Gzip),
        "zstd" => Some(Compression::Zstd),
        _ => None,
    }
}

/// What a finished copy of `info` verified: how the source blob is compressed, the
/// uncompressed digests the copy computed, where the blob now is at both ends.
fn learned_facts(
    source: &dyn ImageSource,
    destination: &dyn ImageDestination,
    info: &BlobInfo,
    detected: Option<Compression>,
    transform: Transform,
    written: &WrittenBlob,
    diff_id: Option<&Digest>,
) -> Vec<BlobFact> {
    let pair = |any: &Digest, uncompressed: &Digest| BlobFact::UncompressedPair {
        any: any.clone(),
        uncompressed: uncompressed.clone(),
    };
    let compressor = |digest: &Digest, compression: Option<Compression>| BlobFact::Compressor {
        digest: digest.clone(),
        compressor: compressor_name(compression),
    };
    let mut facts = vec![compressor(&info.digest, detected)];
    match transform {
        Transform::Keep if detected.is_none() => facts.push(pair(&info.digest, &info.digest)),
        Transform::Keep => {}
        Transform::Decompress(_) => {
            facts.push(pair(&info.digest, &written.digest));
            facts.push(compressor(&written.digest, None));
        }
        Transform::Compress(to) => {
            facts.push(pair(&written.digest, &info.digest));
            facts.push(compressor(&written.digest, Some(to)));
        }
        Transform::Recompress { to, .. } => {
            if let Some(uncompressed) = diff_id {
                facts.push(pair(&info.digest, uncompressed));
                facts.push(pair(&written.digest, uncompressed));
            }
            facts.push(compressor(&written.digest, Some(to)));
        }
    }
    if let Some(location) = source.blob_location() {
        facts.push(BlobFact::KnownLocation {
            location,
            digest: info.digest.clone(),
        });
    }
    if let Some(location) = destination.blob_location() {
        facts.push(BlobFact::KnownLocation {
            location,
            digest: written.digest.clone(),
        });
    }
    facts
}

/// The uncompressed digest of a source blob, by reading it again. Only schema 1 sources
/// need this, and only for blobs that went through unchanged.
async fn diff_id_from_source(source: &dyn ImageSource, info: &BlobInfo) -> Result<Digest> {
    let (stream, size) = source
        .blob(info)
        .await
        .with_context(|| format!("reading blob {}", info.digest))?;
    let verified = DigestingReader::verifying(stream, info.digest.clone(), size.or(info.size));
    let (detected, stream) = Compression::detect_in(verified).await?;
    let plain: BlobReader = match detected {
        Some(c) => decoder(c, stream),
        None => Box::pin(stream),
    };
    let (mut hashing, summary) = DigestingReader::new(plain, Algorithm::Sha256, None, None);
    tokio::io::copy(&mut hashing, &mut tokio::io::sink())
        .await
        .with_context(|| format!("computing the uncompressed digest of {}", info.digest))?;
    summary
        .get()
        .map(|s| s.digest)
        .ok_or_else(|| anyhow::anyhow!("computing the uncompressed digest of {}", info.digest))
}

fn decoder<R: AsyncRead + Send + Unpin + 'static>(from: Compression, stream: R) -> BlobReader {
    from.decompressing(stream, STREAM_BUFFER)
}

/// `stream` compressed with `to`, and where the annotations of that compression will be
/// (only zstd:chunked has any).
fn encoder<R: AsyncRead + Send + Unpin + 'static>(
    to: Compression,
    level: Option<i32>,
    stream: R,
) -> Result<(BlobReader, ChunkedAnnotations)> {
    let encoded: BlobReader = match to {
        // Reads whole 64 KiB blocks itself: no buffer in front.
        Compression::Gzip => Box::pin(AdaptiveGzipEncoder::new(stream, gzip_level(level)?)),
        Compression::Zstd => Box::pin(ZstdEncoder::with_quality(
            BufReader::with_capacity(STREAM_BUFFER, stream),
            level.map_or(Level::Default, |level| Level::Precise(zstd_level(level))),
        )),
        // containers/image compresses xz at its one level, whatever level is asked for.
        Compression::Xz => Box::pin(XzEncoder::with_quality(
            BufReader::with_capacity(STREAM_BUFFER, stream),
            Level::Default,
        )),
        Compression::ZstdChunked => {
            return Ok(chunked::encode(
                stream,
                zstd_level(level.unwrap_or(skopos_chunked::DEFAULT_LEVEL)),
            ))
        }
        Compression::Bzip2 => {
            anyhow::bail!("compressing layers with {to} is not supported")
        }
    };
    Ok((encoded, ChunkedAnnotations::default()))
}

/// The deflate level for `--dest-compress-level` `level`, taken as Go's gzip writer takes it
/// (skopeo checks the level only when it compresses a layer, so this does too): 0 to 9, -1
/// for the default, -2 for Huffman-only coding, which has no deflate level here (the fastest
/// stands in for it); any other level is refused in Go's words.
fn gzip_level(level: Option<i32>) -> Result<u32> {
    match level {
        None | Some(-1) => Ok(DEFAULT_GZIP_LEVEL),
        Some(-2) => Ok(1),
        Some(level @ 0..=9) => Ok(level.unsigned_abs()),
        Some(level) => anyhow::bail!("gzip: invalid compression level: {level}"),
    }
}

/// The zstd level for `--dest-compress-level` `level`. containers/image's zstd encoder has
/// four speeds, picked from the level as `EncoderLevelFromZstd` picks them (below 3, below 6,
/// below 10, the rest) and documented as about zstd's levels 1, 3, 7 and 11; so any integer
/// is a level there, and a high one costs no more than level 11. The same speeds here.
fn zstd_level(level: i32) -> i32 {
    match level {
        ..=2 => 1,
        3..=5 => 3,
        6..=9 => 7,
        _ => 11,
    }
}

/// Counts bytes read from the source and reports them, at most every 256 KiB.
struct ProgressReader {
    inner: BlobReader,
    counter: ProgressCounter,
}

const PROGRESS_STEP: u64 = 256 * 1024;

impl AsyncRead for ProgressReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let poll = this.inner.as_mut().poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            this.counter.count((buf.filled().len() - before) as u64);
        }
        poll
    }
}

/// The bytes of one blob read so far, reported at most every 256 KiB and at the end.
struct ProgressCounter {
    digest: Digest,
    read: u64,
    reported: u64,
    progress: Arc<dyn ProgressSink>,
    /// The transfer slot to give back once the blob is read, and its size if known.
    slot: Option<(TransferSlot, Option<u64>)>,
}

impl ProgressCounter {
    /// A counter that takes the first `reported` bytes as reported already.
    fn new(digest: Digest, progress: Arc<dyn ProgressSink>, reported: u64) -> ProgressCounter {
        ProgressCounter {
            digest,
            read: 0,
            reported,
            progress,
            slot: None,
        }
    }

    /// This counter, giving `slot` back once the blob is read: at its end, or once `size`
    /// bytes are (a destination sending a sized body reads no further).
    fn releasing(self, slot: Option<TransferSlot>, size: Option<u64>) -> ProgressCounter {
        ProgressCounter {
            slot: slot.map(|slot| (slot, size)),
            ..self
        }
    }

    /// `n` more bytes read; 0 means the end of the blob.
    fn count(&mut self, n: u64) {
        self.read += n;
        if let Some((slot, size)) = &self.slot {
            if n == 0 || size.is_some_and(|size| self.read >= size) {
                slot.release();
            }
        }
        if n == 0 || self.read.saturating_sub(self.reported) >= PROGRESS_STEP {
            self.reported = self.read;
            self.progress.event(CopyEvent::BlobProgress {
                digest: self.digest.clone(),
                read: self.read,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(desired: LayerCompression, explicit: Option<Compression>) -> LayerPlan {
        LayerPlan {
            can_modify: true,
            desired,
            explicit_format: explicit,
            level: None,
            need_diff_id: false,
            force_format: false,
        }
    }

    #[test]
    fn decides_like_containers_image() {
        use Compression::*;
        use LayerCompression::*;
        assert_eq!(
            decide(&plan(Compress, None), None),
            Transform::Compress(Gzip)
        );
        assert_eq!(
            decide(&plan(Compress, Some(Zstd)), None),
            Transform::Compress(Zstd)
        );
        assert_eq!(decide(&plan(Compress, None), Some(Gzip)), Transform::Keep);
        assert_eq!(
            decide(&plan(Compress, Some(Zstd)), Some(Gzip)),
            Transform::Recompress {
                from: Gzip,
                to: Zstd
            }
        );
        assert_eq!(
            decide(&plan(Compress, Some(Gzip)), Some(Gzip)),
            Transform::Keep
        );
        assert_eq!(
            decide(&plan(Decompress, None), Some(Zstd)),
            Transform::Decompress(Zstd)
        );
        assert_eq!(decide(&plan(Decompress, None), None), Transform::Keep);
        // dir: keeps what it gets unless told otherwise, even with a format given.
        assert_eq!(
            decide(&plan(Preserve, Some(Zstd)), Some(Gzip)),
            Transform::Keep
        );
        let frozen = LayerPlan {
            can_modify: false,
            ..plan(Compress, Some(Zstd))
        };
        assert_eq!(decide(&frozen, None), Transform::Keep);
        // zstd:chunked: made from plain zstd, kept when zstd (its base) or itself is asked.
        assert_eq!(
            decide(&plan(Compress, Some(ZstdChunked)), Some(Zstd)),
            Transform::Recompress {
                from: Zstd,
                to: ZstdChunked
            }
        );
        assert_eq!(
            decide(&plan(Compress, Some(Zstd)), Some(ZstdChunked)),
            Transform::Keep
        );
        assert_eq!(
            decide(&plan(Compress, Some(ZstdChunked)), Some(ZstdChunked)),
            Transform::Keep
        );
    }

    #[test]
    fn forced_formats_reuse_only_blobs_in_that_format() {
        use Compression::*;
        assert!(reuse_allowed(None, None));
        assert!(reuse_allowed(Some(Zstd), Some(Zstd)));
        assert!(reuse_allowed(Some(Zstd), Some(ZstdChunked)));
        // A zstd media type does not say the blob has a TOC.
        assert!(!reuse_allowed(Some(ZstdChunked), Some(Zstd)));
        assert!(!reuse_allowed(Some(Gzip), Some(Zstd)));
        assert!(!reuse_allowed(Some(Gzip), None));
    }
}
