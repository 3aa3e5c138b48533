//! `oci:` read/write behaviour.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use skopos_core::error::is_image_not_found;
use skopos_core::reference::OciImage;
use skopos_core::{
    media_type, BlobInfo, Digest, ImageDestination, ImageSource, LayerCompression, SystemContext,
};
use skopos_transports::oci::{OciDestination, OciSource};
use skopos_transports::{open_destination, open_source};

fn named(name: &str) -> OciImage {
    OciImage::Named(name.to_string())
}

async fn open(dir: &Path, image: OciImage) -> anyhow::Result<OciSource> {
    OciSource::open(dir, &image, &SystemContext::default()).await
}

#[tokio::test]
async fn an_image_and_a_list_read_back_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let out = tmp.path().join("out");
    write_source_layout(&src);
    let ctx = SystemContext::default();

    let source = open(&src, named("single")).await.unwrap();
    let destination = OciDestination::open(&out, &named("one"), &ctx).unwrap();
    copy(&source, &destination, false).await;
    let source = open(&src, named("multi")).await.unwrap();
    let destination = OciDestination::open(&out, &named("many"), &ctx).unwrap();
    copy(&source, &destination, true).await;

    let single = open(&out, named("one")).await.unwrap();
    let (manifest, mime) = single.manifest(None).await.unwrap();
    assert_eq!(manifest, amd64().manifest);
    assert_eq!(mime, media_type::OCI_MANIFEST);
    let blobs = referenced_blobs(&manifest);
    assert_eq!(read_blob(&single, &blobs[0]).await, amd64().config);
    assert_eq!(read_blob(&single, &blobs[1]).await, amd64().layer);

    let list = open(&out, named("many")).await.unwrap();
    let (top, mime) = list.manifest(None).await.unwrap();
    assert_eq!(top, index());
    assert_eq!(mime, media_type::OCI_INDEX);
    let arm: Digest = ARM64_MANIFEST_DIGEST.parse().unwrap();
    let (instance, mime) = list.manifest(Some(&arm)).await.unwrap();
    assert_eq!(instance, arm64().manifest);
    assert_eq!(mime, "", "index.json does not list the instance");
    let blobs = referenced_blobs(&instance);
    assert_eq!(read_blob(&list, &blobs[1]).await, arm64().layer);

    // Through the transport table too.
    let name = skopos_core::ImageName::Oci {
        path: out.clone(),
        image: named("one"),
    };
    let (bytes, _) = open_source(&name, &ctx)
        .await
        .unwrap()
        .manifest(None)
        .await
        .unwrap();
    assert_eq!(bytes, amd64().manifest);
}

#[tokio::test]
async fn images_are_chosen_by_name_position_or_uniqueness() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write_source_layout(&src);

    let second = open(&src, OciImage::Index(1)).await.unwrap();
    assert_eq!(second.manifest(None).await.unwrap().0, arm64().manifest);
    let err = open(&src, OciImage::Index(3)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "index 3 is too large, only 3 entries available"
    );
    let err = open(&src, OciImage::Only).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "more than one image in oci, choose an image"
    );
    let err = open(&src, named("nope")).await.unwrap_err();
    assert!(is_image_not_found(&err), "{err:#}");
    assert_eq!(
        err.to_string(),
        "no descriptor found for reference \"nope\""
    );

    // A layout with one image needs no name.
    let out = tmp.path().join("one");
    let source = open(&src, named("arm")).await.unwrap();
    let destination =
        OciDestination::open(&out, &OciImage::Only, &SystemContext::default()).unwrap();
    copy(&source, &destination, false).await;
    let only = open(&out, OciImage::Only).await.unwrap();
    assert_eq!(only.manifest(None).await.unwrap().0, arm64().manifest);

    let err =
        OciDestination::open(&out, &OciImage::Index(0), &SystemContext::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Destination reference must not contain a manifest index @0"
    );
}

#[tokio::test]
async fn broken_layouts_give_one_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing");
    let err = open(&missing, named("x")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "open {}/index.json: no such file or directory",
            missing.display()
        )
    );

    let bad = tmp.path().join("bad");
    fs::create_dir(&bad).unwrap();
    fs::write(bad.join("index.json"), "{bad").unwrap();
    let err = open(&bad, OciImage::Only).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("parsing {}/index.json: ", bad.display())),
        "{err}"
    );
    let err = OciDestination::open(&bad, &named("x"), &SystemContext::default()).unwrap_err();
    assert!(err.to_string().contains("index.json"), "{err}");

    // index.json names a manifest whose blob is missing; and a blob that is missing.
    let src = tmp.path().join("src");
    write_source_layout(&src);
    let manifest_blob = src
        .join("blobs/sha256")
        .join(AMD64_MANIFEST_DIGEST.trim_start_matches("sha256:"));
    fs::remove_file(&manifest_blob).unwrap();
    let source = open(&src, named("single")).await.unwrap();
    let err = source.manifest(None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "open {}: no such file or directory",
            manifest_blob.display()
        )
    );
    let absent = BlobInfo {
        digest: Digest::sha256_of(b"absent"),
        size: None,
        media_type: String::new(),
    };
    let err = source.blob(&absent).await.err().unwrap();
    assert!(
        err.to_string().ends_with(": no such file or directory"),
        "{err}"
    );

    // A descriptor whose digest is not a digest.
    let weird = tmp.path().join("weird");
    fs::create_dir(&weird).unwrap();
    fs::write(
        weird.join("index.json"),
        r#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../etc","size":1}]}"#,
    )
    .unwrap();
    let source = open(&weird, OciImage::Only).await.unwrap();
    let err = source.manifest(None).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("unexpected digest reference sha256:../../etc"),
        "{err}"
    );
}

#[tokio::test]
async fn shared_blob_dir_holds_the_blobs() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write_source_layout(&src);
    let out = tmp.path().join("out");
    let shared = tmp.path().join("shared");
    let ctx = SystemContext {
        oci_shared_blob_dir: Some(shared.clone()),
        ..SystemContext::default()
    };
    let source = open(&src, named("single")).await.unwrap();
    let destination = OciDestination::open(&out, &named("t"), &ctx).unwrap();
    copy(&source, &destination, false).await;

    assert_eq!(names(&out), ["blobs", "index.json", "oci-layout"]);
    assert!(names(&out.join("blobs")).is_empty());
    let image = amd64();
    let mut expected: Vec<String> = [&image.layer, &image.config, &image.manifest]
        .iter()
        .map(|b| Digest::sha256_of(b).hex().to_string())
        .collect();
    expected.sort();
    assert_eq!(names(&shared.join("sha256")), expected);

    let back = OciSource::open(&out, &named("t"), &ctx).await.unwrap();
    let (manifest, _) = back.manifest(None).await.unwrap();
    assert_eq!(manifest, image.manifest);
    assert_eq!(
        read_blob(&back, &referenced_blobs(&manifest)[1]).await,
        image.layer
    );
    // Without the shared directory the blobs are not found.
    let plain = open(&out, named("t")).await.unwrap();
    assert!(plain.manifest(None).await.is_err());
}

#[tokio::test]
async fn a_failed_copy_leaves_the_layout_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write_source_layout(&src);
    let out = tmp.path().join("out");
    let ctx = SystemContext::default();
    let source = open(&src, named("single")).await.unwrap();
    copy(
        &source,
        &OciDestination::open(&out, &named("keep"), &ctx).unwrap(),
        false,
    )
    .await;
    let index_before = fs::read(out.join("index.json")).unwrap();
    let blobs_before = names(&out.join("blobs/sha256"));

    let destination = OciDestination::open(&out, &named("keep"), &ctx).unwrap();
    let good = vec![7u8; 3 << 20];
    let expected = BlobInfo {
        digest: Digest::sha256_of(&[good.clone(), b"more".to_vec()].concat()),
        size: Some(good.len() as u64 + 4),
        media_type: String::new(),
    };
    let stream = Box::pin(FailingStream { remaining: good });
    let err = destination
        .put_blob(stream, Some(&expected), false)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("connection reset"), "{err:#}");
    drop(destination);

    assert_eq!(fs::read(out.join("index.json")).unwrap(), index_before);
    assert_eq!(names(&out.join("blobs/sha256")), blobs_before);
    assert_eq!(names(&out), ["blobs", "index.json", "oci-layout"]);
    let kept = open(&out, named("keep")).await.unwrap();
    assert_eq!(kept.manifest(None).await.unwrap().0, amd64().manifest);
}

#[tokio::test]
async fn put_blob_names_blobs_by_their_digest_and_reuses_them() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let destination =
        OciDestination::open(&out, &OciImage::Only, &SystemContext::default()).unwrap();
    // Several chunks, computed digest.
    let data: Vec<u8> = (0..(2usize << 20) + 17).map(|i| (i % 253) as u8).collect();
    let written = destination
        .put_blob(Box::pin(std::io::Cursor::new(data.clone())), None, false)
        .await
        .unwrap();
    assert_eq!(written.digest, Digest::sha256_of(&data));
    assert_eq!(written.size, data.len() as u64);
    let path = out.join("blobs/sha256").join(written.digest.hex());
    // Nothing is visible in the layout before the commit.
    assert!(!path.exists());

    let mut info = BlobInfo {
        digest: written.digest.clone(),
        size: Some(data.len() as u64),
        media_type: String::new(),
    };
    assert_eq!(
        destination.try_reuse_blob(&info).await.unwrap(),
        Some(written.clone())
    );
    info.size = None;
    assert_eq!(
        destination.try_reuse_blob(&info).await.unwrap(),
        Some(written)
    );
    info.size = Some(1);
    assert_eq!(destination.try_reuse_blob(&info).await.unwrap(), None);
    info.digest = Digest::sha256_of(b"other");
    info.size = None;
    assert_eq!(destination.try_reuse_blob(&info).await.unwrap(), None);

    // A stream that is shorter than announced stores nothing.
    let short = BlobInfo {
        digest: Digest::sha256_of(b"abc"),
        size: Some(4),
        media_type: String::new(),
    };
    let err = destination
        .put_blob(Box::pin(&b"abc"[..]), Some(&short), false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Size mismatch"), "{err}");

    destination.commit().await.unwrap();
    assert!(fs::read(&path).unwrap() == data);
    assert_eq!(names(&out.join("blobs/sha256")).len(), 1);
    assert!(
        names(&out).iter().all(|n| !n.starts_with("oci-put-blob")),
        "a temporary file was left behind"
    );
}

#[tokio::test]
async fn capabilities_are_skopeos() {
    let tmp = tempfile::tempdir().unwrap();
    let destination =
        OciDestination::open(tmp.path(), &OciImage::Only, &SystemContext::default()).unwrap();
    assert_eq!(
        destination.supported_manifest_types(),
        Some(vec![media_type::OCI_MANIFEST, media_type::OCI_INDEX])
    );
    assert!(destination.supports_lists());
    assert_eq!(
        destination.desired_layer_compression(),
        LayerCompression::Compress
    );
    assert_eq!(
        destination.supports_signatures(),
        Err("Pushing signatures for OCI images is not supported".to_string())
    );
    // A manifest that may not be converted is stored as it is, as containers/image does.
    destination
        .put_manifest(b"{}", media_type::DOCKER_V2_SCHEMA2, None)
        .await
        .unwrap();

    let accepting = SystemContext {
        oci_accept_uncompressed_layers: true,
        ..SystemContext::default()
    };
    let name = skopos_core::ImageName::Oci {
        path: tmp.path().to_path_buf(),
        image: OciImage::Only,
    };
    let destination = open_destination(&name, &accepting).await.unwrap();
    assert_eq!(
        destination.desired_layer_compression(),
        LayerCompression::Preserve
    );
}

#[tokio::test]
async fn concurrent_writers_keep_each_others_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write_source_layout(&src);
    let out = tmp.path().join("out");
    let ctx = SystemContext::default();
    // Both destinations are open before either commits: skopeo would keep only the
    // tag of whichever wrote index.json last.
    let first = OciDestination::open(&out, &named("a"), &ctx).unwrap();
    let second = OciDestination::open(&out, &named("b"), &ctx).unwrap();
    let amd = open(&src, named("single")).await.unwrap();
    let arm = open(&src, named("arm")).await.unwrap();
    tokio::join!(copy(&amd, &first, false), copy(&arm, &second, false));
    assert_eq!(
        open(&out, named("a"))
            .await
            .unwrap()
            .manifest(None)
            .await
            .unwrap()
            .0,
        amd64().manifest
    );
    assert_eq!(
        open(&out, named("b"))
            .await
            .unwrap()
            .manifest(None)
            .await
            .unwrap()
            .0,
        arm64().manifest
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_parallel_writers_lose_no_tag() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write_source_layout(&src);
    let out = tmp.path().join("out");
    let tags: Vec<String> = (0..16).map(|i| format!("tag{i}")).collect();
    let mut tasks = Vec::new();
    for tag in tags.clone() {
        let (src, out) = (src.clone(), out.clone());
        tasks.push(tokio::spawn(async move {
            let ctx = SystemContext::default();
            let source = OciSource::open(&src, &named("single"), &ctx).await.unwrap();
            let destination = OciDestination::open(&out, &named(&tag), &ctx).unwrap();
            copy(&source, &destination, false).await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    for tag in &tags {
        let source = open(&out, named(tag)).await.unwrap();
        assert_eq!(source.manifest(None).await.unwrap().0, amd64().manifest);
    }
    assert_eq!(names(&out), ["blobs", "index.json", "oci-layout"]);
}

#[tokio::test]
async fn delete_image_removes_a_layout_image_and_refuses_transports_that_cannot() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = skopos_testimage::OciLayout::create(tmp.path().join("layout")).unwrap();
    layout
        .add_image(
            &skopos_testimage::ImageSpec::new(9).with_layers(1, 64),
            Some("v1"),
        )
        .unwrap();
    let ctx = SystemContext::default();
    let no_retry = skopos_core::retry::RetryOptions {
        max_retries: 0,
        delay: None,
    };
    let name = skopos_core::ImageName::Oci {
        path: layout.root().to_path_buf(),
        image: named("v1"),
    };
    skopos_transports::delete_image(&name, &ctx, no_retry)
        .await
        .unwrap();
    let err = open(layout.root(), named("v1")).await.err().unwrap();
    assert!(is_image_not_found(&err), "{err:#}");

    let dir = skopos_core::ImageName::parse(&format!("dir:{}", tmp.path().display())).unwrap();
    let err = skopos_transports::delete_image(&dir, &ctx, no_retry)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Deleting images not implemented for dir: images"
    );
}
