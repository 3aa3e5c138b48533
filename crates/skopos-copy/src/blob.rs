//! One blob from source to destination: reuse check, streaming read, digest verification,
//! compression changes, write.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::Context as _;
use async_compression::tokio::bufread::{XzEncoder, ZstdEncoder};
use async_compression::Level;
use skopos_core::blob_info_cache::{compressor_name, BlobFact, BlobInfoCache};
use skopos_core::compression::Compression;
use skopos_core::digest::{Algorithm, DigestingReader};
use skopos_core::manifest::CompressionUpdate;
use skopos_core::{
    BlobInfo, BlobReader, Digest, ImageDestination, ImageSource, LayerCompression, Result,
    WrittenBlob,
};
use tokio::io::{AsyncRead, BufReader, ReadBuf};

use crate::events::{BlobKind, CopyEvent, ProgressSink};
use crate::gzip::AdaptiveGzipEncoder;

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
}

/// What happened to one blob.
#[derive(Debug, Clone)]
pub(crate) struct CopiedBlob {
    pub written: WrittenBlob,
    pub compression: CompressionUpdate,
    /// The digest of the uncompressed content, when it was asked for.
    pub diff_id: Option<Digest>,
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
        (LayerCompression::Compress, Some(from)) => match plan.explicit_format {
            Some(to) if to != from => Transform::Recompress { from, to },
            _ => Transform::Keep,
        },
        (LayerCompression::Decompress, Some(from)) => Transform::Decompress(from),
        _ => Transform::Keep,
    }
}

/// What a blob copy shares with other copies: the blob-info cache, and the claims of
/// copies running at the same time.
#[derive(Clone, Copy)]
pub(crate) struct SharedState<'a> {
    pub cache: Option<&'a dyn BlobInfoCache>,
    pub claims: Option<&'a crate::BlobClaims>,
}

impl<'a> SharedState<'a> {
    /// What `options` shares.
    pub fn of(options: &'a crate::CopyOptions) -> SharedState<'a> {
        SharedState {
            cache: options.blob_info_cache.as_deref(),
            claims: options.blob_claims.as_deref(),
        }
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
    info: &BlobInfo,
    kind: BlobKind,
    plan: LayerPlan,
    progress: &Arc<dyn ProgressSink>,
) -> Result<CopiedBlob> {
    let SharedState { cache, claims } = shared;
    progress.event(CopyEvent::BlobStarted {
        digest: info.digest.clone(),
        size: info.size,
        kind,
    });
    let _claim = match (claims, destination.blob_location()) {
        (Some(claims), Some(location)) => Some(claims.claim(&location.scope, &info.digest).await),
        _ => None,
    };
    let reused = match destination
        .try_reuse_blob(info)
        .await
        .with_context(|| format!("checking whether the destination has blob {}", info.digest))?
    {
        Some(written) => Some((written, CompressionUpdate::Unchanged)),
        None => match cache {
            Some(cache) => reuse_known_blob(cache, destination, info, kind, Some(&plan)).await,
            None => None,
        },
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
            diff_id,
        });
    }

    let (stream, size) = source
        .blob(info)
        .await
        .with_context(|| format!("reading blob {}", info.digest))?;
    let size = size.or(info.size);
    let counted = ProgressReader {
        inner: stream,
        digest: info.digest.clone(),
        read: 0,
        reported: 0,
        progress: progress.clone(),
    };
    let verified = DigestingReader::verifying(counted, info.digest.clone(), size);
    let (detected, stream) = Compression::detect_in(verified)
        .await
        .with_context(|| format!("reading blob {}", info.digest))?;
    let transform = if kind == BlobKind::Config {
        Transform::Keep
    } else {
        decide(&plan, detected)
    };
    tracing::debug!(
        "Copying blob {}: detected compression {}, {transform:?}",
        info.digest,
        detected.map_or("none", Compression::name)
    );

    let mut diff_id = None;
    let (written, compression) = match transform {
        Transform::Keep => {
            let w = destination
                .put_blob(Box::pin(stream), Some(info), kind == BlobKind::Config)
                .await;
            if plan.need_diff_id && detected.is_none() {
                diff_id = Some(info.digest.clone());
            }
            (w, CompressionUpdate::Unchanged)
        }
        Transform::Decompress(from) => {
            let w = destination
                .put_blob(decoder(from, stream), None, false)
                .await;
            if let Ok(w) = &w {
                diff_id = Some(w.digest.clone());
            }
            (w, CompressionUpdate::Decompressed)
        }
        Transform::Compress(to) => {
            let w = destination
                .put_blob(encoder(to, plan.level, stream)?, None, false)
                .await;
            diff_id = Some(info.digest.clone());
            (w, CompressionUpdate::Compressed(to))
        }
        Transform::Recompress { from, to } => {
            let (decoded, uncompressed) =
                DigestingReader::new(decoder(from, stream), Algorithm::Sha256, None, None);
            let w = destination
                .put_blob(encoder(to, plan.level, decoded)?, None, false)
                .await;
            diff_id = uncompressed.get().map(|s| s.digest);
            (w, CompressionUpdate::Compressed(to))
        }
    };
    let written = written.with_context(|| format!("copying blob {}", info.digest))?;
    if let Some(cache) = cache {
        cache.record(&learned_facts(
            source,
            destination,
            info,
            detected,
            transform,
            &written,
            diff_id.as_ref(),
        ));
    }
    if plan.need_diff_id && diff_id.is_none() {
        diff_id = Some(diff_id_from_source(source, info).await?);
    }
    progress.event(CopyEvent::BlobDone {
        digest: info.digest.clone(),
        kind,
    });
    Ok(CopiedBlob {
        written,
        compression,
        diff_id,
    })
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

fn encoder<R: AsyncRead + Send + Unpin + 'static>(
    to: Compression,
    level: Option<i32>,
    stream: R,
) -> Result<BlobReader> {
    let quality = level.map(Level::Precise).unwrap_or(Level::Default);
    Ok(match to {
        // Reads whole 64 KiB blocks itself: no buffer in front.
        Compression::Gzip => Box::pin(AdaptiveGzipEncoder::new(stream, gzip_level(level)?)),
        Compression::Zstd => Box::pin(ZstdEncoder::with_quality(
            BufReader::with_capacity(STREAM_BUFFER, stream),
            quality,
        )),
        Compression::Xz => Box::pin(XzEncoder::with_quality(
            BufReader::with_capacity(STREAM_BUFFER, stream),
            quality,
        )),
        Compression::ZstdChunked | Compression::Bzip2 => {
            anyhow::bail!("compressing layers with {to} is not supported")
        }
    })
}

/// The gzip level to use: `--dest-compress-level` (checked to be 1–9 by the CLI) or gzip's
/// default.
fn gzip_level(level: Option<i32>) -> Result<u32> {
    match level {
        None => Ok(DEFAULT_GZIP_LEVEL),
        Some(level) => u32::try_from(level)
            .ok()
            .filter(|level| (1..=9).contains(level))
            .ok_or_else(|| anyhow::anyhow!("invalid gzip compression level {level}")),
    }
}

/// Counts bytes read from the source and reports them, at most every 256 KiB.
struct ProgressReader {
    inner: BlobReader,
    digest: Digest,
    read: u64,
    reported: u64,
    progress: Arc<dyn ProgressSink>,
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
            let n = (buf.filled().len() - before) as u64;
            this.read += n;
            if n == 0 || this.read - this.reported >= PROGRESS_STEP {
                this.reported = this.read;
                this.progress.event(CopyEvent::BlobProgress {
                    digest: this.digest.clone(),
                    read: this.read,
                });
            }
        }
        poll
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
    }
}
