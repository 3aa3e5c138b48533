//! [`MirrorCheck`] on OCI layouts the test writes: an image the destination holds as it
//! would be written is found there; anything else, or a copy that must write, is not.

use skopos_core::platform::Platform;
use skopos_core::reference::OciImage;
use skopos_core::{ImageName, SystemContext};
use skopos_policy::Policy;
use skopos_sync::{MirrorCheck, Mirrored};
use skopos_testimage::{ImageSpec, OciLayout};

fn oci(layout: &OciLayout, tag: &str) -> ImageName {
    ImageName::Oci {
        path: layout.root().to_path_buf(),
        image: OciImage::Named(tag.to_string()),
    }
}

/// A copy of `source_name` to `destination_name` that writes the manifest as it is.
fn plain_copy<'a>(
    source_name: &'a ImageName,
    destination_name: &'a ImageName,
    ctx: &'a SystemContext,
    policy: &'a Policy,
    platform: &'a Platform,
) -> MirrorCheck<'a> {
    MirrorCheck {
        source_name,
        source_ctx: ctx,
        destination_name,
        destination_ctx: ctx,
        policy,
        platform,
        force_manifest_type: None,
        remove_signatures: false,
        signs: false,
        whole_lists: false,
    }
}

#[tokio::test]
async fn an_image_the_destination_holds_is_found_there() {
    let tmp = tempfile::tempdir().unwrap();
    let source_layout = OciLayout::create(tmp.path().join("source")).unwrap();
    let spec = ImageSpec::new(1).with_layers(1, 256);
    let written = source_layout.add_image(&spec, Some("v1")).unwrap();
    // The generator is deterministic: the same spec gives the same manifest.
    let mirror = OciLayout::create(tmp.path().join("mirror")).unwrap();
    mirror.add_image(&spec, Some("v1")).unwrap();
    let other = OciLayout::create(tmp.path().join("other")).unwrap();
    other
        .add_image(&ImageSpec::new(2).with_layers(1, 256), Some("v1"))
        .unwrap();
    let empty = OciLayout::create(tmp.path().join("empty")).unwrap();

    let ctx = SystemContext::default();
    let policy = Policy::insecure_accept_anything();
    let platform = Platform::wanted(Some("linux"), Some("amd64"), None);
    let source_name = oci(&source_layout, "v1");
    let source = skopos_transports::open_source(&source_name, &ctx)
        .await
        .unwrap();
    let check =
        |destination_name| plain_copy(&source_name, destination_name, &ctx, &policy, &platform);
    let (mirror_name, other_name, empty_name) =
        (oci(&mirror, "v1"), oci(&other, "v1"), oci(&empty, "v1"));

    let mirrored = check(&mirror_name);
    let found = mirrored.by_manifests(source.as_ref()).await.unwrap();
    assert_eq!(
        found.map(|d| d.to_string()),
        Some(written.manifest.digest.clone())
    );
    // Only registries answer HEADs.
    assert_eq!(mirrored.by_heads().await, Mirrored::Unknown);

    for destination in [&other_name, &empty_name] {
        let found = check(destination)
            .by_manifests(source.as_ref())
            .await
            .unwrap();
        assert_eq!(found, None, "{destination}");
    }

    // A copy that signs, or converts the manifest, writes in any case.
    let signing = MirrorCheck {
        signs: true,
        ..check(&mirror_name)
    };
    assert_eq!(signing.by_manifests(source.as_ref()).await.unwrap(), None);
    let converting = MirrorCheck {
        force_manifest_type: Some(skopos_core::media_type::DOCKER_V2_SCHEMA2),
        ..check(&mirror_name)
    };
    assert_eq!(
        converting.by_manifests(source.as_ref()).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_policy_rejection_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("source")).unwrap();
    layout
        .add_image(&ImageSpec::new(3).with_layers(1, 64), Some("v1"))
        .unwrap();
    let policy = Policy::from_bytes(br#"{"default":[{"type":"reject"}]}"#).unwrap();
    let ctx = SystemContext::default();
    let platform = Platform::wanted(Some("linux"), Some("amd64"), None);
    let name = oci(&layout, "v1");
    let source = skopos_transports::open_source(&name, &ctx).await.unwrap();
    let err = plain_copy(&name, &name, &ctx, &policy, &platform)
        .by_manifests(source.as_ref())
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").starts_with("Source image rejected: "),
        "{err:#}"
    );
}
