//! The copy engine end to end, on real `oci:` and `dir:` layouts generated per test.

use std::sync::{Arc, Mutex};

use skopos_copy::{copy_image, CopyEvent, CopyOptions, ImageListSelection, ProgressSink};
use skopos_core::compression::Compression;
use skopos_core::manifest::{self, AnyManifest};
use skopos_core::reference::OciImage;
use skopos_core::{ImageName, SystemContext};
use skopos_testimage::{ImageSpec, OciLayout, Platform};
use tokio::io::AsyncReadExt;

#[derive(Default)]
struct Recorder(Mutex<Vec<CopyEvent>>);

impl ProgressSink for Recorder {
    fn event(&self, event: CopyEvent) {
        self.0.lock().unwrap().push(event);
    }
}

fn oci(path: &std::path::Path, tag: &str) -> ImageName {
    ImageName::Oci {
        path: path.to_path_buf(),
        image: OciImage::Named(tag.to_string()),
    }
}

async fn copy(
    src: &ImageName,
    dest: &ImageName,
    options: CopyOptions,
) -> anyhow::Result<(skopos_copy::CopyOutcome, Vec<CopyEvent>)> {
    let ctx = SystemContext::default();
    let source = skopos_transports::open_source(src, &ctx).await?;
    let destination = skopos_transports::open_destination(dest, &ctx).await?;
    let recorder = Arc::new(Recorder::default());
    let outcome = copy_image(
        Arc::from(source),
        Arc::from(destination),
        options,
        recorder.clone(),
    )
    .await?;
    let events = recorder.0.lock().unwrap().clone();
    Ok((outcome, events))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_to_oci_without_changes_keeps_every_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("src")).unwrap();
    let image = layout
        .add_image(&ImageSpec::new(1).with_layers(3, 4096), Some("t"))
        .unwrap();
    let (outcome, events) = copy(
        &oci(layout.root(), "t"),
        &oci(&tmp.path().join("dst"), "t"),
        CopyOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.digest.to_string(), image.manifest.digest);
    for blob in image.layers.iter().chain([&image.config]) {
        let copied = tmp.path().join("dst/blobs/sha256").join(blob.hex());
        assert!(copied.exists(), "{} was not copied", blob.digest);
    }
    let started = events
        .iter()
        .filter(|e| matches!(e, CopyEvent::BlobStarted { .. }))
        .count();
    assert_eq!(started, 4, "three layers and a config: {events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_recompression_keeps_the_uncompressed_content() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("src")).unwrap();
    let image = layout
        .add_image(&ImageSpec::new(2).with_layers(2, 64 * 1024), Some("t"))
        .unwrap();
    let dest = oci(&tmp.path().join("dst"), "t");
    let options = CopyOptions {
        compression_format: Some(Compression::Zstd),
        ..CopyOptions::default()
    };
    let (outcome, _) = copy(&oci(layout.root(), "t"), &dest, options)
        .await
        .unwrap();
    let AnyManifest::Image(written) = manifest::parse(&outcome.manifest, "").unwrap() else {
        panic!("a single image was expected");
    };
    let source = skopos_transports::open_source(&dest, &SystemContext::default())
        .await
        .unwrap();
    for (layer, diff_id) in written.layers().iter().zip(&image.diff_ids) {
        assert_eq!(
            layer.media_type,
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
        let (mut stream, _) = source.blob(&layer.blob_info()).await.unwrap();
        let mut compressed = Vec::new();
        stream.read_to_end(&mut compressed).await.unwrap();
        assert_eq!(Compression::detect(&compressed), Some(Compression::Zstd));
        let mut plain = Vec::new();
        async_compression::tokio::bufread::ZstdDecoder::new(&compressed[..])
            .read_to_end(&mut plain)
            .await
            .unwrap();
        assert_eq!(skopos_core::Digest::sha256_of(&plain).to_string(), *diff_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_copies_every_instance_and_keeps_the_index_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("src")).unwrap();
    let index = layout
        .add_index(
            &ImageSpec::new(3).with_layers(1, 1024),
            &Platform::three(),
            Some("m"),
        )
        .unwrap();
    let options = CopyOptions {
        image_list_selection: ImageListSelection::All,
        ..CopyOptions::default()
    };
    let (outcome, events) = copy(
        &oci(layout.root(), "m"),
        &oci(&tmp.path().join("dst"), "m"),
        options,
    )
    .await
    .unwrap();
    assert_eq!(outcome.digest.to_string(), index.index.digest);
    assert!(events.contains(&CopyEvent::CopyingImages {
        copying: 3,
        total: 3
    }));
    for instance in &index.instances {
        assert!(tmp
            .path()
            .join("dst/blobs/sha256")
            .join(instance.manifest.hex())
            .exists());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_selection_picks_the_wanted_platform() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("src")).unwrap();
    let index = layout
        .add_index(
            &ImageSpec::new(4).with_layers(1, 1024),
            &Platform::three(),
            Some("m"),
        )
        .unwrap();
    let options = CopyOptions {
        platform: skopos_core::platform::Platform::wanted(None, Some("arm64"), Some("v8")),
        ..CopyOptions::default()
    };
    let (outcome, _) = copy(
        &oci(layout.root(), "m"),
        &ImageName::Dir(tmp.path().join("d")),
        options,
    )
    .await
    .unwrap();
    let arm = index
        .instances
        .iter()
        .find(|i| i.platform.architecture == "arm64")
        .unwrap();
    assert_eq!(outcome.digest.to_string(), arm.manifest.digest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_layer_fails_the_copy_and_leaves_the_destination_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("src")).unwrap();
    layout
        .add_image(&ImageSpec::new(5).with_layers(1, 4096), Some("good"))
        .unwrap();
    let bad = layout
        .add_image(&ImageSpec::new(6).with_layers(2, 4096), Some("bad"))
        .unwrap();
    let dest_path = tmp.path().join("dst");
    copy(
        &oci(layout.root(), "good"),
        &oci(&dest_path, "t"),
        CopyOptions::default(),
    )
    .await
    .unwrap();
    let index_before = std::fs::read(dest_path.join("index.json")).unwrap();

    layout.flip_byte(&bad.layers[1].digest, 100).unwrap();
    let err = copy(
        &oci(layout.root(), "bad"),
        &oci(&dest_path, "t"),
        CopyOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("digest mismatch"), "{err:#}");
    assert_eq!(
        std::fs::read(dest_path.join("index.json")).unwrap(),
        index_before
    );
    assert!(!dest_path
        .join("blobs/sha256")
        .join(bad.layers[1].hex())
        .exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequential_destination_gets_the_layers_in_manifest_order() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("src")).unwrap();
    let image = layout
        .add_image(&ImageSpec::new(7).with_layers(8, 1024), Some("t"))
        .unwrap();
    let expected: Vec<String> = image.layers.iter().map(|l| l.digest.clone()).collect();
    // docker-archive: writes one blob at a time; its tar must list layers in order, as
    // skopeo's does. Several runs, since task start order varies from run to run.
    for run in 0..4 {
        let dest = ImageName::DockerArchive {
            path: tmp.path().join(format!("archive-{run}.tar")),
            image: skopos_core::reference::ArchiveImage::Only,
        };
        let (_, events) = copy(&oci(layout.root(), "t"), &dest, CopyOptions::default())
            .await
            .unwrap();
        let started: Vec<String> = events
            .iter()
            .filter_map(|event| match event {
                CopyEvent::BlobStarted {
                    digest,
                    kind: skopos_copy::BlobKind::Layer,
                    ..
                } => Some(digest.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(started, expected, "run {run}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_to_a_destination_without_lists_fails_as_skopeo_does() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("src")).unwrap();
    layout
        .add_index(
            &ImageSpec::new(3).with_layers(1, 1024),
            &Platform::three(),
            Some("m"),
        )
        .unwrap();
    let archive = tmp.path().join("archive.tar");
    let options = CopyOptions {
        image_list_selection: ImageListSelection::All,
        destination_name: format!("docker-archive:{}", archive.display()),
        ..CopyOptions::default()
    };
    let dest = ImageName::DockerArchive {
        path: archive.clone(),
        image: skopos_core::reference::ArchiveImage::Only,
    };
    let err = copy(&oci(layout.root(), "m"), &dest, options)
        .await
        .unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "copying multiple images: destination transport \"docker-archive\" does not support copying multiple images as a group"
    );
    assert!(!archive.exists());
}
