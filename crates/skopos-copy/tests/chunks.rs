//! A blob passed on unchanged from a source that has it in buffers (a registry's HTTP body)
//! to a destination that checks digests (a registry) goes out in those same buffers: no
//! byte is copied into buffers of the engine's. Real `oci:` layouts on both sides, wrapped
//! to offer and take buffers and to record which ones passed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt as _;
use skopos_copy::{copy_image, CopyEvent, CopyOptions, ProgressSink};
use skopos_core::compression::Compression;
use skopos_core::manifest::{self, AnyManifest};
use skopos_core::reference::OciImage;
use skopos_core::{
    BlobChunks, BlobInfo, BlobReader, Digest, ImageDestination, ImageName, ImageSource,
    LayerCompression, Result, SystemContext, WrittenBlob,
};
use skopos_testimage::{ImageSpec, OciLayout, WrittenImage};
use tokio::io::AsyncReadExt as _;

/// Where each buffer of a blob lives: its address and length.
type Buffers = Vec<(usize, usize)>;

/// The buffers each blob was handed out in, or taken in, by digest.
#[derive(Default)]
struct Seen(Mutex<BTreeMap<String, Buffers>>);

impl Seen {
    fn note(&self, digest: &Digest, bytes: &Bytes) {
        let mut seen = self.0.lock().unwrap();
        let buffers = seen.entry(digest.to_string()).or_default();
        buffers.push((bytes.as_ptr() as usize, bytes.len()));
    }

    fn get(&self) -> BTreeMap<String, Buffers> {
        self.0.lock().unwrap().clone()
    }
}

/// An `oci:` source that also hands its blobs out in buffers of 1000 bytes.
struct BufferingSource {
    inner: Box<dyn ImageSource>,
    handed_out: Arc<Seen>,
}

#[async_trait]
impl ImageSource for BufferingSource {
    async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        self.inner.manifest(instance).await
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobReader, Option<u64>)> {
        self.inner.blob(info).await
    }

    async fn blob_chunks(&self, info: &BlobInfo) -> Result<Option<(BlobChunks, Option<u64>)>> {
        let (mut reader, size) = self.inner.blob(info).await?;
        let mut content = Vec::new();
        reader.read_to_end(&mut content).await?;
        let chunks: Vec<std::io::Result<Bytes>> = content
            .chunks(1000)
            .map(|piece| {
                let bytes = Bytes::copy_from_slice(piece);
                self.handed_out.note(&info.digest, &bytes);
                Ok(bytes)
            })
            .collect();
        Ok(Some((Box::pin(futures_util::stream::iter(chunks)), size)))
    }
}

/// An `oci:` destination that says it checks digests, as a registry does, and records the
/// buffers it is given.
struct BufferTakingDestination {
    inner: Box<dyn ImageDestination>,
    taken: Arc<Seen>,
}

#[async_trait]
impl ImageDestination for BufferTakingDestination {
    fn supported_manifest_types(&self) -> Option<Vec<&'static str>> {
        self.inner.supported_manifest_types()
    }

    fn desired_layer_compression(&self) -> LayerCompression {
        self.inner.desired_layer_compression()
    }

    async fn try_reuse_blob(&self, info: &BlobInfo) -> Result<Option<WrittenBlob>> {
        self.inner.try_reuse_blob(info).await
    }

    fn checks_blob_digests(&self) -> bool {
        true
    }

    async fn put_blob(
        &self,
        stream: BlobReader,
        expected: Option<&BlobInfo>,
        is_config: bool,
    ) -> Result<WrittenBlob> {
        self.inner.put_blob(stream, expected, is_config).await
    }

    async fn put_blob_chunks(
        &self,
        mut chunks: BlobChunks,
        info: &BlobInfo,
        is_config: bool,
    ) -> Result<WrittenBlob> {
        let mut content = Vec::new();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            self.taken.note(&info.digest, &chunk);
            content.extend_from_slice(&chunk);
        }
        let reader = Box::pin(std::io::Cursor::new(content));
        self.inner.put_blob(reader, Some(info), is_config).await
    }

    async fn put_manifest(
        &self,
        manifest: &[u8],
        mime_type: &str,
        instance: Option<&Digest>,
    ) -> Result<()> {
        self.inner.put_manifest(manifest, mime_type, instance).await
    }

    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        instance: Option<&Digest>,
    ) -> Result<()> {
        self.inner.put_signatures(signatures, instance).await
    }

    async fn commit(&self) -> Result<()> {
        self.inner.commit().await
    }
}

fn oci(path: &std::path::Path, tag: &str) -> ImageName {
    ImageName::Oci {
        path: path.to_path_buf(),
        image: OciImage::Named(tag.to_string()),
    }
}

/// Events, recorded.
#[derive(Default)]
struct Recorder(Mutex<Vec<CopyEvent>>);

impl ProgressSink for Recorder {
    fn event(&self, event: CopyEvent) {
        self.0.lock().unwrap().push(event);
    }
}

/// A copy of the image tagged `t` in `layout` into `dest` through the wrappers: the copy's
/// manifest, its events, and the buffers the source handed out and the destination took.
async fn copy_through_buffers(
    layout: &OciLayout,
    dest: &std::path::Path,
    options: CopyOptions,
) -> (Vec<u8>, Vec<CopyEvent>, Arc<Seen>, Arc<Seen>) {
    let ctx = SystemContext::default();
    let handed_out = Arc::new(Seen::default());
    let taken = Arc::new(Seen::default());
    let source = BufferingSource {
        inner: skopos_transports::open_source(&oci(layout.root(), "t"), &ctx)
            .await
            .unwrap(),
        handed_out: handed_out.clone(),
    };
    let destination = BufferTakingDestination {
        inner: skopos_transports::open_destination(&oci(dest, "t"), &ctx)
            .await
            .unwrap(),
        taken: taken.clone(),
    };
    let recorder = Arc::new(Recorder::default());
    let outcome = copy_image(
        Arc::new(source),
        Arc::new(destination),
        options,
        recorder.clone(),
    )
    .await
    .unwrap();
    let events = recorder.0.lock().unwrap().clone();
    (outcome.manifest, events, handed_out, taken)
}

/// The layers of `image`, sorted. (The config is read whole before the layers are copied,
/// and written from memory.)
fn layers_of(image: &WrittenImage) -> Vec<String> {
    let mut layers: Vec<String> = image.layers.iter().map(|l| l.digest.clone()).collect();
    layers.sort();
    layers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_blobs_reach_the_destination_in_the_sources_own_buffers() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("src")).unwrap();
    let image = layout
        .add_image(&ImageSpec::new(11).with_layers(3, 5000), Some("t"))
        .unwrap();
    let dest = tmp.path().join("dst");
    let (written, events, handed_out, taken) =
        copy_through_buffers(&layout, &dest, CopyOptions::default()).await;

    let handed_out = handed_out.get();
    assert_eq!(
        handed_out.keys().cloned().collect::<Vec<_>>(),
        layers_of(&image)
    );
    // The very buffers, not copies of their bytes.
    assert_eq!(taken.get(), handed_out);
    assert_eq!(
        skopos_core::Digest::sha256_of(&written).to_string(),
        image.manifest.digest
    );
    for blob in &image.layers {
        let copied = std::fs::read(dest.join("blobs/sha256").join(blob.hex())).unwrap();
        assert_eq!(
            skopos_core::Digest::sha256_of(&copied).to_string(),
            blob.digest
        );
        // Progress is reported as for any other copy: to the end, then done.
        let size = copied.len() as u64;
        assert!(events.iter().any(|event| matches!(event,
            CopyEvent::BlobProgress { digest, read } if digest.to_string() == blob.digest && *read == size)));
        assert!(events.iter().any(|event| matches!(event,
            CopyEvent::BlobDone { digest, read, size: written, .. }
                if digest.to_string() == blob.digest && *read == size && *written == size)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_whose_compression_changes_are_read_as_before() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("src")).unwrap();
    let image = layout
        .add_image(&ImageSpec::new(12).with_layers(2, 5000), Some("t"))
        .unwrap();
    let dest = tmp.path().join("dst");
    let options = CopyOptions {
        compression_format: Some(Compression::Zstd),
        ..CopyOptions::default()
    };
    let (written, _, handed_out, taken) = copy_through_buffers(&layout, &dest, options).await;

    // Every layer was offered in buffers; none went on in them, all were recompressed.
    assert_eq!(
        handed_out.get().keys().cloned().collect::<Vec<_>>(),
        layers_of(&image)
    );
    assert!(taken.get().is_empty());
    let AnyManifest::Image(written) = manifest::parse(&written, "").unwrap() else {
        panic!("a single image was expected");
    };
    for layer in written.layers() {
        let path = dest.join("blobs/sha256").join(layer.digest.hex());
        let content = std::fs::read(path).unwrap();
        assert_eq!(Compression::detect(&content), Some(Compression::Zstd));
    }
}
