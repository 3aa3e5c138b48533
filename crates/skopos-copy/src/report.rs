//! A summary of one copy, built from its events alone: what a program watching the copy
//! wants at the end (what went where, which blobs moved and which the destination had).

use std::time::Instant;

use serde::Serialize;
use skopos_core::Digest;

use crate::events::{BlobKind, CopyEvent};

/// How a blob got to the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobOutcome {
    /// Its bytes were read from the source and stored.
    Copied,
    /// The destination had it already.
    Reused,
    /// A registry destination mounted it from the source's repository.
    Mounted,
}

/// One blob of a [`CopyReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlobReport {
    /// The source's digest of the blob.
    pub digest: Digest,
    /// Layer or config.
    pub kind: BlobKind,
    /// Bytes of the blob at the destination.
    pub size: u64,
    /// Whether it was copied, or the destination had or mounted it.
    pub outcome: BlobOutcome,
    /// Bytes read from the source in this run (0 unless copied).
    pub read: u64,
    /// Bytes replayed from a partial download an earlier, killed copy kept.
    pub resumed: u64,
}

/// A manifest the copy stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestReport {
    /// The digest of the manifest as written.
    pub digest: Digest,
    /// Its MIME type.
    pub media_type: String,
    /// Whether it is a manifest list / image index.
    pub list: bool,
}

/// What one copy did, from [`CopyEvent::ImageStarted`] to its end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CopyReport {
    /// The source image, `transport:name`.
    pub source: String,
    /// The destination image, `transport:name`.
    pub destination: String,
    /// Whether the copy was committed.
    pub succeeded: bool,
    /// The destination's top-level manifest, when the copy succeeded.
    pub manifest_digest: Option<Digest>,
    /// Why the copy failed, when it did.
    pub error: Option<String>,
    /// Every blob, in the order each one finished.
    pub blobs: Vec<BlobReport>,
    /// Every manifest written, list instances before their list.
    pub manifests: Vec<ManifestReport>,
    /// Bytes read from the source in this run (kept partial downloads not counted).
    pub bytes_moved: u64,
    /// Seconds from start to end.
    pub wall_time_seconds: f64,
}

/// Collects the events of one copy at a time into a [`CopyReport`].
#[derive(Debug, Default)]
pub struct ReportBuilder {
    current: Option<(Instant, CopyReport)>,
}

impl ReportBuilder {
    /// Take the next event; returns the report when the event ends a copy.
    pub fn observe(&mut self, event: &CopyEvent) -> Option<CopyReport> {
        if let CopyEvent::ImageStarted {
            source,
            destination,
        } = event
        {
            self.current = Some((
                Instant::now(),
                CopyReport {
                    source: source.clone(),
                    destination: destination.clone(),
                    succeeded: false,
                    manifest_digest: None,
                    error: None,
                    blobs: Vec::new(),
                    manifests: Vec::new(),
                    bytes_moved: 0,
                    wall_time_seconds: 0.0,
                },
            ));
            return None;
        }
        let (_, report) = self.current.as_mut()?;
        match event {
            CopyEvent::BlobSkipped {
                digest,
                kind,
                size,
                mounted,
            } => report.blobs.push(BlobReport {
                digest: digest.clone(),
                kind: *kind,
                size: *size,
                outcome: if *mounted {
                    BlobOutcome::Mounted
                } else {
                    BlobOutcome::Reused
                },
                read: 0,
                resumed: 0,
            }),
            CopyEvent::BlobDone {
                digest,
                kind,
                read,
                resumed,
                size,
                ..
            } => {
                let moved = read.saturating_sub(*resumed);
                report.bytes_moved += moved;
                report.blobs.push(BlobReport {
                    digest: digest.clone(),
                    kind: *kind,
                    size: *size,
                    outcome: BlobOutcome::Copied,
                    read: moved,
                    resumed: *resumed,
                });
            }
            CopyEvent::ManifestWritten {
                digest,
                media_type,
                list,
            } => report.manifests.push(ManifestReport {
                digest: digest.clone(),
                media_type: media_type.clone(),
                list: *list,
            }),
            CopyEvent::ImageDone { digest, .. } => {
                report.succeeded = true;
                report.manifest_digest = Some(digest.clone());
                return self.finish();
            }
            CopyEvent::ImageFailed { message } => {
                report.error = Some(message.clone());
                return self.finish();
            }
            _ => {}
        }
        None
    }

    fn finish(&mut self) -> Option<CopyReport> {
        let (started, mut report) = self.current.take()?;
        report.wall_time_seconds = started.elapsed().as_secs_f64();
        Some(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_up_the_blobs_of_a_copy() {
        let layer = Digest::sha256_of(b"layer");
        let config = Digest::sha256_of(b"config");
        let mut builder = ReportBuilder::default();
        let events = [
            CopyEvent::ImageStarted {
                source: "docker://a/b:c".into(),
                destination: "oci:d:e".into(),
            },
            CopyEvent::BlobDone {
                digest: layer.clone(),
                kind: BlobKind::Layer,
                read: 100,
                resumed: 40,
                stored_digest: layer.clone(),
                size: 100,
            },
            CopyEvent::BlobSkipped {
                digest: config.clone(),
                kind: BlobKind::Config,
                size: 7,
                mounted: false,
            },
        ];
        for event in &events {
            assert!(builder.observe(event).is_none());
        }
        let report = builder
            .observe(&CopyEvent::ImageDone {
                digest: layer.clone(),
                media_type: "m".into(),
            })
            .unwrap();
        assert!(report.succeeded);
        assert_eq!(report.bytes_moved, 60);
        assert_eq!(report.blobs[0].outcome, BlobOutcome::Copied);
        assert_eq!(report.blobs[1].outcome, BlobOutcome::Reused);
        assert_eq!(report.manifest_digest, Some(layer));
    }
}
