//! The API `docker-daemon:` builds on, end to end in memory: an image written through
//! [`DockerArchiveDestination::with_sink`] comes back through [`spool_to_temp_file`] and
//! [`DockerArchiveSource::from_spooled`].

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_trait::async_trait;
use skopos_core::{
    media_type, BlobInfo, Digest, ImageDestination, ImageSource, Result, SystemContext,
};
use tokio::io::{AsyncReadExt, AsyncWrite};

use super::*;

/// A sink whose bytes the test can read afterwards.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl AsyncWrite for SharedBuffer {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.lock().expect("buffer lock").extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Records that the archive was finished, and with how many bytes.
struct RecordFinish(Arc<Mutex<Option<usize>>>, SharedBuffer);

#[async_trait]
impl ArchiveFinisher for RecordFinish {
    async fn finish(self: Box<Self>, _sink: ArchiveSink) -> Result<()> {
        let length = self.1 .0.lock().expect("buffer lock").len();
        *self.0.lock().expect("finish lock") = Some(length);
        Ok(())
    }
}

fn blob_info(bytes: &[u8], media_type: &str) -> BlobInfo {
    BlobInfo {
        digest: Digest::sha256_of(bytes),
        size: Some(bytes.len() as u64),
        media_type: media_type.to_string(),
    }
}

async fn read_all(source: &DockerArchiveSource, info: &BlobInfo) -> Vec<u8> {
    let (mut stream, size) = source.blob(info).await.expect("blob");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.expect("reading blob");
    assert_eq!(size, Some(bytes.len() as u64));
    bytes
}

#[tokio::test]
async fn an_image_written_to_a_sink_reads_back_from_a_spooled_stream() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let ctx = SystemContext {
        tmpdir: Some(tmp.path().to_path_buf()),
        ..SystemContext::default()
    };
    let layer = vec![7u8; 3000];
    let layer_info = blob_info(&layer, media_type::DOCKER_LAYER);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        layer_info.digest
    )
    .into_bytes();
    let config_info = blob_info(&config, media_type::DOCKER_V2_CONFIG);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","size":{},"digest":"{}"}},"layers":[{{"mediaType":"{}","size":{},"digest":"{}"}}]}}"#,
        media_type::DOCKER_V2_SCHEMA2,
        media_type::DOCKER_V2_CONFIG,
        config.len(),
        config_info.digest,
        media_type::DOCKER_LAYER,
        layer.len(),
        layer_info.digest
    );

    let buffer = SharedBuffer::default();
    let finished = Arc::new(Mutex::new(None));
    let tag = DockerReference::parse_normalized("example.com/a/b:c").expect("tag");
    let destination = DockerArchiveDestination::with_sink(
        Box::new(buffer.clone()),
        vec![tag],
        &ctx,
        Box::new(RecordFinish(finished.clone(), buffer.clone())),
    );
    // A layer of unknown size (as after decompression) is spooled, then written.
    destination
        .put_blob(Box::pin(io::Cursor::new(layer.clone())), None, false)
        .await
        .expect("layer");
    destination
        .put_blob(
            Box::pin(io::Cursor::new(config.clone())),
            Some(&config_info),
            true,
        )
        .await
        .expect("config");
    destination
        .put_manifest(manifest.as_bytes(), media_type::DOCKER_V2_SCHEMA2, None)
        .await
        .expect("manifest");
    assert!(finished.lock().expect("finish lock").is_none());
    destination.commit().await.expect("commit");
    let archive = buffer.0.lock().expect("buffer lock").clone();
    assert_eq!(*finished.lock().expect("finish lock"), Some(archive.len()));

    let spooled = spool_to_temp_file(Box::pin(io::Cursor::new(archive.clone())), &ctx)
        .await
        .expect("spooling");
    let spooled_path = spooled.path().to_path_buf();
    for selection in [
        ArchiveImage::Only,
        ArchiveImage::Index(0),
        ArchiveImage::Named(DockerReference::parse_normalized("example.com/a/b:c").expect("tag")),
    ] {
        let spooled = spool_to_temp_file(Box::pin(io::Cursor::new(archive.clone())), &ctx)
            .await
            .expect("spooling");
        let source = DockerArchiveSource::from_spooled(spooled, &selection)
            .await
            .expect("opening");
        let (generated, mime) = source.manifest(None).await.expect("manifest");
        assert_eq!(mime, media_type::DOCKER_V2_SCHEMA2);
        let generated: serde_json::Value =
            serde_json::from_slice(&generated).expect("manifest JSON");
        assert_eq!(
            generated["config"]["digest"],
            config_info.digest.to_string()
        );
        assert_eq!(generated["layers"][0]["size"], layer.len());
        assert_eq!(read_all(&source, &layer_info).await, layer);
        assert_eq!(read_all(&source, &config_info).await, config);
    }
    let source = DockerArchiveSource::from_spooled(spooled, &ArchiveImage::Index(1))
        .await
        .expect("opening");
    let err = source.manifest(None).await.expect_err("no image @1");
    assert_eq!(
        err.to_string(),
        "Invalid source index @1, only 1 manifest items available"
    );
    drop(source);
    assert!(
        !spooled_path.exists(),
        "the spooled archive was not removed"
    );
}
