//! `dir:` read/write behaviour.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use skopos_core::digest::Algorithm;
use skopos_core::reference::OciImage;
use skopos_core::{
    BlobInfo, Digest, ImageDestination, ImageName, ImageSource, LayerCompression, SystemContext,
};
use skopos_transports::dir::{DirDestination, DirSource};
use skopos_transports::oci::OciSource;
use skopos_transports::{open_destination, open_source};

const NOT_AN_IMAGE: &str =
    "not a containers image directory, don't want to overwrite important data";

async fn oci_source(dir: &Path, name: &str) -> OciSource {
    OciSource::open(
        dir,
        &OciImage::Named(name.to_string()),
        &SystemContext::default(),
    )
    .await
    .unwrap()
}

/// Copy fixture image `name` from a fresh source layout into `dest`.
async fn copy_into(tmp: &Path, name: &str, dest: &Path) {
    let src = tmp.join("src");
    if !src.exists() {
        write_source_layout(&src);
    }
    let source = oci_source(&src, name).await;
    let destination = DirDestination::open(dest, &SystemContext::default()).unwrap();
    copy(&source, &destination, true).await;
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    names(dir)
        .into_iter()
        .map(|name| {
            let bytes = fs::read(dir.join(&name)).unwrap();
            (name, bytes)
        })
        .collect()
}

#[tokio::test]
async fn a_dir_image_reads_back_with_signatures() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("img");
    let src = tmp.path().join("src");
    write_source_layout(&src);
    let source = oci_source(&src, "multi").await;
    let destination = DirDestination::open(&out, &SystemContext::default()).unwrap();
    let arm: Digest = ARM64_MANIFEST_DIGEST.parse().unwrap();
    // Signatures are stored and read back as they are; what is read must look like one
    // (an OpenPGP message here), as containers/image checks.
    destination
        .put_signatures(
            &[b"\xa3\x01top-1".to_vec(), b"\x00sigstore-json\n{}".to_vec()],
            None,
        )
        .await
        .unwrap();
    destination
        .put_signatures(&[b"\xa3\x01arm-1".to_vec()], Some(&arm))
        .await
        .unwrap();
    copy(&source, &destination, true).await;

    for name in [
        "signature-1".to_string(),
        "signature-2".to_string(),
        format!("{}.signature-1", arm.hex()),
    ] {
        assert!(out.join(&name).is_file(), "{name}");
    }
    let name = ImageName::Dir(out.clone());
    let back = open_source(&name, &SystemContext::default()).await.unwrap();
    assert_eq!(back.manifest(None).await.unwrap().0, index());
    let (arm_manifest, _) = back.manifest(Some(&arm)).await.unwrap();
    assert_eq!(arm_manifest, arm64().manifest);
    let blobs = referenced_blobs(&arm_manifest);
    assert_eq!(read_blob(back.as_ref(), &blobs[0]).await, arm64().config);
    assert_eq!(read_blob(back.as_ref(), &blobs[1]).await, arm64().layer);
    assert_eq!(
        back.signatures(None).await.unwrap(),
        vec![b"\xa3\x01top-1".to_vec(), b"\x00sigstore-json\n{}".to_vec()]
    );
    assert_eq!(
        back.signatures(Some(&arm)).await.unwrap(),
        vec![b"\xa3\x01arm-1".to_vec()]
    );
    let amd: Digest = AMD64_MANIFEST_DIGEST.parse().unwrap();
    assert!(back.signatures(Some(&amd)).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_non_image_directory_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let precious = tmp.path().join("precious");
    fs::create_dir(&precious).unwrap();
    fs::write(precious.join("thesis.tex"), "years of work").unwrap();
    let err = DirDestination::open(&precious, &SystemContext::default()).unwrap_err();
    assert_eq!(err.to_string(), NOT_AN_IMAGE);
    assert_eq!(names(&precious), ["thesis.tex"]);

    // A version file that is not exactly ours does not make it an image either.
    fs::write(precious.join("version"), "Directory Transport Version: 1.1").unwrap();
    let err = DirDestination::open(&precious, &SystemContext::default()).unwrap_err();
    assert_eq!(err.to_string(), NOT_AN_IMAGE);

    // A newer layout is refused by name.
    fs::write(
        precious.join("version"),
        "Directory Transport Version: 1.3\n",
    )
    .unwrap();
    let err = DirDestination::open(&precious, &SystemContext::default()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("unsupported directory transport version"),
        "{err}"
    );
    assert_eq!(names(&precious), ["thesis.tex", "version"]);

    let file = tmp.path().join("file");
    fs::write(&file, "x").unwrap();
    let err = DirDestination::open(&file, &SystemContext::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("readdirent {}: not a directory", file.display())
    );
}

#[tokio::test]
async fn the_source_checks_the_version_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // No version file is fine (nothing to check).
    DirSource::open(dir).unwrap();
    fs::write(dir.join("version"), "Directory Transport Version: 1.2\n").unwrap();
    DirSource::open(dir).unwrap();
    fs::write(dir.join("version"), "Directory Transport Version: 2.0\n").unwrap();
    let err = DirSource::open(dir).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "unsupported directory transport version \"Directory Transport Version: 2.0\\n\" at {}",
            dir.display()
        )
    );
    fs::write(dir.join("version"), "garbage").unwrap();
    let err = DirSource::open(dir).unwrap_err();
    assert_eq!(err.to_string(), "invalid version file content: \"garbage\"");

    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let source = DirSource::open(&empty).unwrap();
    let err = source.manifest(None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "open {}/manifest.json: no such file or directory",
            empty.display()
        )
    );
}

#[tokio::test]
async fn an_image_is_replaced_only_at_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("img");
    copy_into(tmp.path(), "single", &out).await;
    let before = snapshot(&out);

    // A copy that fails midway and is abandoned leaves the old image as it was.
    let destination = DirDestination::open(&out, &SystemContext::default()).unwrap();
    destination
        .put_manifest(&arm64().manifest, "", None)
        .await
        .unwrap();
    let stream = Box::pin(FailingStream {
        remaining: vec![1; 5 << 20],
    });
    let err = destination.put_blob(stream, None, false).await.unwrap_err();
    assert!(format!("{err:#}").contains("connection reset"), "{err:#}");
    // While the copy runs, the old image is still there and readable.
    assert_eq!(
        DirSource::open(&out)
            .unwrap()
            .manifest(None)
            .await
            .unwrap()
            .0,
        amd64().manifest
    );
    drop(destination);
    assert_eq!(snapshot(&out), before);

    // A successful copy replaces everything: no file of the old image remains.
    copy_into(tmp.path(), "arm", &out).await;
    let image = arm64();
    let mut expected: Vec<String> = [&image.layer, &image.config]
        .iter()
        .map(|b| Digest::sha256_of(b).hex().to_string())
        .chain(["manifest.json".to_string(), "version".to_string()])
        .collect();
    expected.sort();
    assert_eq!(names(&out), expected);
    assert_eq!(fs::read(out.join("manifest.json")).unwrap(), image.manifest);
}

#[tokio::test]
async fn an_abandoned_copy_removes_the_directory_it_created() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("new");
    let destination = DirDestination::open(&out, &SystemContext::default()).unwrap();
    destination
        .put_blob(Box::pin(&b"data"[..]), None, false)
        .await
        .unwrap();
    drop(destination);
    assert!(!out.exists());

    // An existing empty directory stays, empty.
    fs::create_dir(&out).unwrap();
    drop(DirDestination::open(&out, &SystemContext::default()).unwrap());
    assert!(names(&out).is_empty());
}

#[tokio::test]
async fn stale_staging_directories_are_ignored_then_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("img");
    fs::create_dir(&out).unwrap();
    // What a killed skopos leaves behind.
    let stale = out.join(".skopos-dir-staging-abc123");
    fs::create_dir(&stale).unwrap();
    fs::write(stale.join("dir-put-blobXYZ"), "partial").unwrap();
    copy_into(tmp.path(), "single", &out).await;
    assert!(!stale.exists());
    assert!(names(&out).contains(&"manifest.json".to_string()));
    assert!(!names(&out).iter().any(|n| n.starts_with('.')));
}

#[tokio::test]
async fn a_live_writer_keeps_its_staging_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("img");
    let slow = DirDestination::open(&out, &SystemContext::default()).unwrap();
    let written = slow
        .put_blob(Box::pin(&b"slow"[..]), None, false)
        .await
        .unwrap();
    // Another copy to the same directory finishes first…
    copy_into(tmp.path(), "single", &out).await;
    // …without destroying the first one's work, which then wins.
    slow.put_manifest(b"{}", "", None).await.unwrap();
    slow.commit().await.unwrap();
    let mut expected = vec![
        written.digest.hex().to_string(),
        "manifest.json".to_string(),
        "version".to_string(),
    ];
    expected.sort();
    assert_eq!(names(&out), expected);
}

#[tokio::test]
async fn blobs_are_named_by_digest_and_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("img");
    let destination = DirDestination::open(&out, &SystemContext::default()).unwrap();
    let data: Vec<u8> = (0..(3usize << 20) + 5).map(|i| (i % 241) as u8).collect();
    let written = destination
        .put_blob(Box::pin(std::io::Cursor::new(data.clone())), None, false)
        .await
        .unwrap();
    assert_eq!(written.digest, Digest::sha256_of(&data));
    let info = BlobInfo {
        digest: written.digest.clone(),
        size: Some(data.len() as u64),
        media_type: String::new(),
    };
    assert_eq!(
        destination.try_reuse_blob(&info).await.unwrap(),
        Some(written.clone())
    );
    let other = BlobInfo {
        digest: Digest::sha256_of(b"x"),
        size: None,
        media_type: String::new(),
    };
    assert_eq!(destination.try_reuse_blob(&other).await.unwrap(), None);

    // A sha512 blob gets its algorithm in its name and makes the layout version 1.2.
    let sha512 = BlobInfo {
        digest: Digest::of(Algorithm::Sha512, b"five!"),
        size: Some(5),
        media_type: String::new(),
    };
    destination
        .put_blob(Box::pin(&b"five!"[..]), Some(&sha512), false)
        .await
        .unwrap();
    destination.put_manifest(b"{}", "", None).await.unwrap();
    destination.commit().await.unwrap();
    assert!(fs::read(out.join(written.digest.hex())).unwrap() == data);
    assert_eq!(
        fs::read(out.join(format!("sha512-{}", sha512.digest.hex()))).unwrap(),
        b"five!"
    );
    assert_eq!(
        fs::read(out.join("version")).unwrap(),
        b"Directory Transport Version: 1.2\n"
    );
    // The old image is gone, so reuse is judged on the new one only.
    let reopened = DirDestination::open(&out, &SystemContext::default()).unwrap();
    assert_eq!(reopened.try_reuse_blob(&info).await.unwrap(), None);
}

#[tokio::test]
async fn layer_compression_follows_the_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let name = ImageName::Dir(tmp.path().join("img"));
    let with = |compress, decompress| SystemContext {
        dir_force_compress: compress,
        dir_force_decompress: decompress,
        ..SystemContext::default()
    };
    for (ctx, expected) in [
        (with(false, false), LayerCompression::Preserve),
        (with(true, false), LayerCompression::Compress),
        (with(false, true), LayerCompression::Decompress),
    ] {
        let destination = open_destination(&name, &ctx).await.unwrap();
        assert_eq!(destination.desired_layer_compression(), expected);
        assert_eq!(destination.supported_manifest_types(), None);
        assert!(destination.supports_signatures().is_ok());
    }
    let err = open_destination(&name, &with(true, true))
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "Cannot compress and decompress at the same time"
    );
}
