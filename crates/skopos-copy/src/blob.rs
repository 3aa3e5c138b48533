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
use skopos_core::compression::Compression;
use skopos_core::digest::{Algorithm, DigestingReader};
use skopos_core::manifest::CompressionUpdate;
use skopos_core::{
    BlobInfo, BlobReader, Digest, ImageDestination, ImageSource, LayerCompression, Result,
    WrittenBlob,
};
use tokio::io::{AsyncRead, BufReader, ReadBuf};

use crate::chunked::{self, ChunkedAnnotations};
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

/// Copy a layer (or, with `kind == Config`, a config blob, which is never transformed).
pub(crate) async fn copy_blob(
    source: &dyn ImageSource,
    destination: &dyn ImageDestination,
    layer: &SourceLayer,
    kind: BlobKind,
    plan: LayerPlan,
    progress: &Arc<dyn ProgressSink>,
) -> Result<CopiedBlob> {
    let info = &layer.info;
    progress.event(CopyEvent::BlobStarted {
        digest: info.digest.clone(),
        size: info.size,
        kind,
    });
    let reusable = !plan.force_format
        || reuse_allowed(
            plan.explicit_format,
            skopos_core::manifest::declared_compression(&info.media_type),
        );
    let reused = if reusable {
        destination
            .try_reuse_blob(info)
            .await
            .with_context(|| format!("checking whether the destination has blob {}", info.digest))?
    } else {
        None
    };
    if let Some(written) = reused {
        tracing::debug!("Skipping blob {} (already present)", info.digest);
        progress.event(CopyEvent::BlobSkipped {
            digest: info.digest.clone(),
            kind,
        });
        let diff_id = if plan.need_diff_id {
            Some(diff_id_from_source(source, info).await?)
        } else {
            None
        };
        return Ok(CopiedBlob {
            written,
            compression: CompressionUpdate::Unchanged,
            diff_id,
            annotations: BTreeMap::new(),
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
    // containers/image: a zstd blob whose annotations name a TOC is zstd:chunked.
    let detected = match detected {
        Some(Compression::Zstd) if layer.chunked => Some(Compression::ZstdChunked),
        other => other,
    };
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
    let mut annotations = ChunkedAnnotations::default();
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
            let (encoded, chunked) = encoder(to, plan.level, stream)?;
            annotations = chunked;
            let w = destination.put_blob(encoded, None, false).await;
            diff_id = Some(info.digest.clone());
            (w, CompressionUpdate::Compressed(to))
        }
        Transform::Recompress { from, to } => {
            let (decoded, uncompressed) =
                DigestingReader::new(decoder(from, stream), Algorithm::Sha256, None, None);
            let (encoded, chunked) = encoder(to, plan.level, decoded)?;
            annotations = chunked;
            let w = destination.put_blob(encoded, None, false).await;
            diff_id = uncompressed.get().map(|s| s.digest);
            (w, CompressionUpdate::Compressed(to))
        }
    };
    let written = written.with_context(|| format!("copying blob {}", info.digest))?;
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
        annotations: annotations.get().unwrap_or_default(),
    })
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
    let quality = level.map(Level::Precise).unwrap_or(Level::Default);
    let encoded: BlobReader = match to {
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
        Compression::ZstdChunked => {
            return Ok(chunked::encode(
                stream,
                level.unwrap_or(skopos_chunked::DEFAULT_LEVEL),
            ))
        }
        Compression::Bzip2 => {
            anyhow::bail!("compressing layers with {to} is not supported")
        }
    };
    Ok((encoded, ChunkedAnnotations::default()))
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
