//! The [`Inspector`] on OCI layouts the test writes, opened through skopos-transports: what
//! `skopos inspect` would print, without the binary.

use skopos_core::digest::Algorithm;
use skopos_core::platform::Platform;
use skopos_core::reference::OciImage;
use skopos_core::retry::RetryOptions;
use skopos_core::verified::VerifiedSource;
use skopos_core::{Digest, ImageName, SystemContext};
use skopos_inspect::{manifest_subjects, Inspector};
use skopos_testimage::{ImageSpec, OciLayout};

fn oci(path: &std::path::Path, tag: &str) -> ImageName {
    ImageName::Oci {
        path: path.to_path_buf(),
        image: OciImage::Named(tag.to_string()),
    }
}

fn no_retry() -> RetryOptions {
    RetryOptions {
        max_retries: 0,
        delay: None,
    }
}

#[tokio::test]
async fn output_of_a_single_image_has_its_config_and_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("layout")).unwrap();
    let spec = ImageSpec::new(3)
        .with_layers(2, 512)
        .with_label("org.example", "yes")
        .with_env(&["A=1"]);
    let written = layout.add_image(&spec, Some("v1")).unwrap();
    let name = oci(layout.root(), "v1");
    let source = skopos_transports::open_source(&name, &SystemContext::default())
        .await
        .unwrap();
    let source = VerifiedSource::wrap(source.into());
    let inspector = Inspector::new(source.as_ref(), no_retry());

    let (top, mime) = inspector.top_manifest().await.unwrap();
    assert_eq!(Digest::sha256_of(&top).to_string(), written.manifest.digest);
    let platform = Platform::wanted(Some("linux"), Some("amd64"), None);
    let chosen = inspector.choose(&top, &mime, &platform).await.unwrap();
    assert_eq!(chosen.instance, None);

    let output = inspector
        .output(&name, &top, &chosen, Algorithm::Sha256, true)
        .await
        .unwrap();
    assert_eq!(output.digest.to_string(), written.manifest.digest);
    assert_eq!(output.name, "", "an OCI layout has no repository");
    let layers: Vec<&str> = written.layers.iter().map(|b| b.digest.as_str()).collect();
    assert_eq!(output.layers, layers);
    assert_eq!(output.layers_data.len(), 2);
    assert_eq!(output.layers_data[0].size, written.layers[0].size as i64);
    assert_eq!(
        output.labels.as_ref().and_then(|l| l.get("org.example")),
        Some(&"yes".to_string())
    );
    assert_eq!(output.env, Some(vec!["A=1".to_string()]));
    assert_eq!(output.os, written.platform.os);

    let sha512 = inspector
        .output(&name, &top, &chosen, Algorithm::Sha512, false)
        .await
        .unwrap();
    assert_eq!(sha512.digest, Digest::of(Algorithm::Sha512, &top));
    assert!(sha512.repo_tags.is_empty());

    let raw = inspector.raw_config(&chosen.manifest).await.unwrap();
    assert_eq!(Digest::sha256_of(&raw).to_string(), written.config.digest);
    let config = inspector.oci_config(&chosen.manifest).await.unwrap();
    assert_eq!(config.config.env, Some(vec!["A=1".to_string()]));
}

#[tokio::test]
async fn a_list_stands_for_its_instances_and_the_platform_picks_one() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("layout")).unwrap();
    let platforms = skopos_testimage::Platform::three();
    let written = layout
        .add_index(
            &ImageSpec::new(4).with_layers(1, 256),
            &platforms,
            Some("multi"),
        )
        .unwrap();
    let name = oci(layout.root(), "multi");
    let source = skopos_transports::open_source(&name, &SystemContext::default())
        .await
        .unwrap();
    let source = VerifiedSource::wrap(source.into());
    let inspector = Inspector::new(source.as_ref(), no_retry());
    let (top, mime) = inspector.top_manifest().await.unwrap();

    let subjects: Vec<String> = manifest_subjects(&top, &mime)
        .unwrap()
        .iter()
        .map(Digest::to_string)
        .collect();
    let mut expected = vec![written.index.digest.clone()];
    expected.extend(written.instances.iter().map(|i| i.manifest.digest.clone()));
    assert_eq!(subjects, expected);

    let arm = Platform::wanted(Some("linux"), Some("arm64"), Some("v8"));
    let chosen = inspector.choose(&top, &mime, &arm).await.unwrap();
    let arm_instance = &written.instances[1];
    assert_eq!(
        chosen.instance.as_ref().map(Digest::to_string).as_deref(),
        Some(arm_instance.manifest.digest.as_str())
    );
    let output = inspector
        .output(&name, &top, &chosen, Algorithm::Sha256, true)
        .await
        .unwrap();
    // The digest is the list's; the facts are the instance's.
    assert_eq!(output.digest.to_string(), written.index.digest);
    assert_eq!(output.architecture, "arm64");

    let missing = Platform::wanted(Some("linux"), Some("riscv64"), None);
    let err = inspector.choose(&top, &mime, &missing).await.unwrap_err();
    assert!(
        format!("{err:#}").starts_with("Error parsing manifest for image: "),
        "{err:#}"
    );
}

#[tokio::test]
async fn a_tampered_manifest_is_reported_when_parsed() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("layout")).unwrap();
    let written = layout
        .add_image(&ImageSpec::new(5).with_layers(1, 128), Some("v1"))
        .unwrap();
    let path = layout.blob_path(&written.manifest.digest);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.push(b'\n');
    std::fs::write(&path, bytes).unwrap();
    let source =
        skopos_transports::open_source(&oci(layout.root(), "v1"), &SystemContext::default())
            .await
            .unwrap();
    let source = VerifiedSource::wrap(source.into());
    let err = Inspector::new(source.as_ref(), no_retry())
        .top_manifest()
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").starts_with("Error parsing manifest for image: "),
        "{err:#}"
    );
}
