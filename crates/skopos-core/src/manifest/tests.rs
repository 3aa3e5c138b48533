//! Tests against manifests and configs that skopeo 1.9.3 itself wrote (testdata/): every
//! conversion must reproduce its bytes exactly.

use super::*;

const OCI: &[u8] = include_bytes!("testdata/oci.json");
const OCI_CONFIG: &[u8] = include_bytes!("testdata/oci-config.json");
const OCI_TO_V2S2: &[u8] = include_bytes!("testdata/oci-to-v2s2.json");
const V2S2_TO_OCI: &[u8] = include_bytes!("testdata/v2s2-to-oci.json");
const OCI_ZSTD: &[u8] = include_bytes!("testdata/oci-zstd.json");
const OCI_UNCOMPRESSED: &[u8] = include_bytes!("testdata/oci-uncompressed.json");
const OCI_TO_V2S1: &[u8] = include_bytes!("testdata/oci-to-v2s1.json");
const V2S1_TO_V2S2: &[u8] = include_bytes!("testdata/v2s1-to-v2s2.json");
const V2S1_TO_V2S2_CONFIG: &[u8] = include_bytes!("testdata/v2s1-to-v2s2-config.json");
const V2S1_TO_OCI: &[u8] = include_bytes!("testdata/v2s1-to-oci.json");
const V2S1_TO_OCI_CONFIG: &[u8] = include_bytes!("testdata/v2s1-to-oci-config.json");
const DOCKER: &[u8] = include_bytes!("testdata/docker.json");
const DOCKER_CONFIG: &[u8] = include_bytes!("testdata/docker-config.json");
const DOCKER_TO_OCI: &[u8] = include_bytes!("testdata/docker-to-oci.json");
const DOCKER_TO_OCI_CONFIG: &[u8] = include_bytes!("testdata/docker-to-oci-config.json");
const DOCKER_TO_V2S1: &[u8] = include_bytes!("testdata/docker-to-v2s1.json");
const DOCKER_V2S1_TO_V2S2: &[u8] = include_bytes!("testdata/docker-v2s1-to-v2s2.json");
const DOCKER_V2S1_TO_V2S2_CONFIG: &[u8] =
    include_bytes!("testdata/docker-v2s1-to-v2s2-config.json");
const DOCKER_V2S1_TO_OCI: &[u8] = include_bytes!("testdata/docker-v2s1-to-oci.json");
const DOCKER_V2S1_TO_OCI_CONFIG: &[u8] = include_bytes!("testdata/docker-v2s1-to-oci-config.json");
const SCHEMA1_PRETTY_SIGNED: &[u8] = include_bytes!("testdata/schema1-pretty-signed.json");
const INDEX: &[u8] = include_bytes!("testdata/index.json");
const INDEX_TO_LIST: &[u8] = include_bytes!("testdata/index-to-list.json");
const LIST_TO_INDEX: &[u8] = include_bytes!("testdata/list-to-index.json");

/// The layers of the test image: gzip as built, then zstd and uncompressed as skopeo
/// recompressed them.
const GZIP_LAYERS: [(&str, u64); 2] = [
    (
        "e696dce0b17b5ffd9cba7fe0b0e8f1b2d6f63e6e6375ffa9a4178bab1d0b96de",
        7122,
    ),
    (
        "3e4e06cd5427fb5de028a38173b813f80a2abfe0c3474936766f938beb56e985",
        7120,
    ),
];
const ZSTD_LAYERS: [(&str, u64); 2] = [
    (
        "5cfc0811ae6dfb486d8705c7500580d450547acedb877aedf6747887a08d8192",
        6354,
    ),
    (
        "fd7a9d1eb9e9817bf871bded5468f8a367d1ac722ef5313b0e819b2f05d1f7d7",
        6346,
    ),
];
const DIFF_IDS: [&str; 2] = [
    "f7a73e4f0fd1b542b027d64b86b03e1a334465a302ca39632616b8aadbbd1b3f",
    "507134f4393a73024f9fda78f59254336c8fc1e4c935207b73f8b54232ebcfdf",
];

fn digest(hex: &str) -> Digest {
    format!("sha256:{hex}").parse().unwrap()
}

fn updates(layers: &[(&str, u64)], compression: CompressionUpdate) -> Vec<LayerUpdate> {
    layers
        .iter()
        .map(|(hex, size)| LayerUpdate {
            digest: digest(hex),
            size: *size,
            compression,
            crypto: CryptoUpdate::Unchanged,
            annotations: Default::default(),
        })
        .collect()
}

fn image(bytes: &[u8]) -> Manifest {
    match parse(bytes, "").unwrap() {
        AnyManifest::Image(m) => m,
        AnyManifest::List(_) => panic!("expected an image manifest"),
    }
}

fn manifest_list(bytes: &[u8]) -> ManifestList {
    match parse(bytes, "").unwrap() {
        AnyManifest::List(l) => l,
        AnyManifest::Image(_) => panic!("expected a list"),
    }
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

/// The unsigned payload of a signed schema 1 fixture.
fn payload(signed: &[u8]) -> Vec<u8> {
    schema1::strip_jws_signature(signed).unwrap()
}

fn diff_ids() -> Vec<Digest> {
    DIFF_IDS.iter().map(|h| digest(h)).collect()
}

#[test]
fn guesses_mime_types() {
    assert_eq!(guess_mime_type(OCI), mt::OCI_MANIFEST);
    assert_eq!(guess_mime_type(OCI_TO_V2S2), mt::DOCKER_V2_SCHEMA2);
    assert_eq!(guess_mime_type(OCI_TO_V2S1), mt::DOCKER_V2_SCHEMA1_SIGNED);
    assert_eq!(
        guess_mime_type(&payload(OCI_TO_V2S1)),
        mt::DOCKER_V2_SCHEMA1
    );
    assert_eq!(guess_mime_type(INDEX), mt::OCI_INDEX);
    assert_eq!(guess_mime_type(INDEX_TO_LIST), mt::DOCKER_V2_LIST);
    // Without mediaType: decided by the config media type or the presence of manifests.
    assert_eq!(
        guess_mime_type(br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json"}}"#),
        mt::OCI_MANIFEST
    );
    assert_eq!(
        guess_mime_type(br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.docker.container.image.v1+json"}}"#),
        mt::DOCKER_V2_SCHEMA2
    );
    assert_eq!(
        guess_mime_type(br#"{"schemaVersion":2,"manifests":[{"digest":"sha256:abc"}]}"#),
        mt::OCI_INDEX
    );
    assert_eq!(
        guess_mime_type(br#"{"schemaVersion":2,"config":{"mediaType":"application/x-custom"}}"#),
        mt::OCI_MANIFEST
    );
    assert_eq!(guess_mime_type(br#"{"schemaVersion":3}"#), "");
    assert_eq!(guess_mime_type(br#"{"schemaVersion":"2"}"#), "");
    assert_eq!(guess_mime_type(b"not json"), "");
    assert_eq!(guess_mime_type(b"[1]"), "");
}

#[test]
fn digests_strip_schema1_signatures() {
    assert_eq!(manifest_digest(OCI).unwrap(), Digest::sha256_of(OCI));
    // Expected values from `skopeo manifest-digest`.
    assert_eq!(
        manifest_digest(OCI_TO_V2S1).unwrap(),
        digest("86b91a2a3e522b4a89c4b0c4f8e2b52f2198d110fb5b4bc61830f77a9226e236")
    );
    assert_eq!(
        manifest_digest(DOCKER_TO_V2S1).unwrap(),
        digest("514a103d22079ef8118606141dfab72f12d37e3a01b315b09ed1d6629f8b9bb5")
    );
    // An indented manifest with a pretty signature: the payload is rebuilt from the
    // protected header's formatLength/formatTail, keeping the original layout.
    assert_eq!(
        manifest_digest(SCHEMA1_PRETTY_SIGNED).unwrap(),
        digest("436775073d92c49dacbe2da13cf19245ebfbc94939bc9158676942f5144301a7")
    );
    let bad = br#"{"schemaVersion":1,"signatures":[{"protected":"e30"}]}"#;
    assert!(manifest_digest(bad)
        .unwrap_err()
        .to_string()
        .contains("missing formatted length"));
}

#[test]
fn parses_every_format() {
    let oci = image(OCI);
    assert_eq!(oci.mime_type(), mt::OCI_MANIFEST);
    assert_eq!(oci.bytes(), OCI);
    assert_eq!(oci.config().unwrap().digest, Digest::sha256_of(OCI_CONFIG));
    let layers = oci.layers();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0].blob_info().size, Some(7122));
    assert_eq!(layers[0].declared_compression(), Some(Compression::Gzip));
    assert_eq!(
        image(OCI_ZSTD).layers()[1].declared_compression(),
        Some(Compression::Zstd)
    );
    assert_eq!(
        image(OCI_UNCOMPRESSED).layers()[0].declared_compression(),
        None
    );

    let s2 = image(OCI_TO_V2S2);
    assert_eq!(s2.mime_type(), mt::DOCKER_V2_SCHEMA2);
    assert_eq!(s2.config().unwrap().media_type, mt::DOCKER_V2_CONFIG);
    assert_eq!(s2.layers()[1].media_type, mt::DOCKER_LAYER_GZIP);

    let s1 = image(DOCKER_TO_V2S1);
    assert_eq!(s1.mime_type(), mt::DOCKER_V2_SCHEMA1_SIGNED);
    assert!(s1.config().is_none());
    let layers = s1.layers();
    assert_eq!(layers.len(), 3);
    assert_eq!(layers[0].digest, digest(GZIP_LAYERS[0].0));
    assert!(layers[1].empty_layer);
    assert_eq!(layers[1].digest, gzipped_empty_layer_digest());
    assert_eq!(layers[2].size, None);
    let unsigned = image(&payload(OCI_TO_V2S1));
    assert_eq!(unsigned.mime_type(), mt::DOCKER_V2_SCHEMA1);

    let index = manifest_list(INDEX);
    assert_eq!(index.mime_type(), mt::OCI_INDEX);
    let instances = index.instances();
    assert_eq!(instances.len(), 3);
    assert_eq!(
        instances[1].platform.as_ref().unwrap().variant.as_deref(),
        Some("v8")
    );
    assert_eq!(instances[1].size, 557);
    let docker_list = manifest_list(INDEX_TO_LIST);
    assert_eq!(docker_list.mime_type(), mt::DOCKER_V2_LIST);
    assert_eq!(
        docker_list.instances()[2]
            .platform
            .as_ref()
            .unwrap()
            .architecture,
        "s390x"
    );
}

#[test]
fn rejects_ambiguous_and_invalid_manifests() {
    let err = parse(
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"layers":[],"manifests":[]}"#,
        mt::OCI_MANIFEST,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "rejecting ambiguous manifest, unexpected fields []string{\"manifests\"} in supposedly application/vnd.oci.image.index.v1+json"
    );
    let err = parse(br#"{"schemaVersion":2,"mediaType":"x","config":{"mediaType":"a","size":1,"digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},"layers":[]}"#, mt::DOCKER_V2_SCHEMA2).unwrap_err();
    assert_eq!(err.to_string(), "unsupported docker v2s2 media type: \"x\"");
    let err = parse(
        br#"{"schemaVersion":2,"fsLayers":[],"history":[]}"#,
        mt::DOCKER_V2_SCHEMA1,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "unsupported schema version 2");
}

#[test]
fn oci_artifacts_parse_and_round_trip() {
    let artifact = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.example.config+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="},"layers":[{"mediaType":"application/vnd.example.blob","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0,"annotations":{"org.opencontainers.image.title":"a<b>"},"artifactType":"application/x-t"}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"annotations":{"k":"v"}}"#;
    assert_eq!(guess_mime_type(artifact), mt::OCI_MANIFEST);
    let m = image(artifact);
    assert!(!m.is_image());
    assert_eq!(
        m.config().unwrap().media_type,
        "application/vnd.example.config+json"
    );
    assert_eq!(
        m.layers()[0].annotations.as_ref().unwrap()["org.opencontainers.image.title"],
        "a<b>"
    );
    // Unchanged: the very same bytes.
    assert_eq!(
        m.convert(mt::OCI_MANIFEST, &ConversionInputs::default())
            .unwrap(),
        artifact
    );
    // Re-encoded, every field survives in Go's order (with Go's HTML escaping).
    let Manifest::Oci(p) = &m else { panic!() };
    let reencoded = p.value().to_bytes().unwrap();
    assert_eq!(
        text(&reencoded),
        text(artifact).replace("a<b>", "a\\u003cb\\u003e")
    );
    // Conversion to Docker formats refuses artifacts as skopeo does.
    let err = m
        .convert(mt::DOCKER_V2_SCHEMA2, &ConversionInputs::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported image-specific operation on artifact with type \"application/vnd.example.config+json\""
    );
}

#[test]
fn same_type_without_changes_keeps_bytes() {
    // A layout that Go would not produce: kept byte for byte.
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(OCI).unwrap())
            .unwrap();
    let m = image(&pretty);
    let same = updates(&GZIP_LAYERS, CompressionUpdate::Unchanged);
    let inputs = ConversionInputs {
        layers: Some(&same),
        ..Default::default()
    };
    assert_eq!(m.convert(mt::OCI_MANIFEST, &inputs).unwrap(), pretty);
    assert_eq!(m.converted_config(mt::OCI_MANIFEST, &inputs).unwrap(), None);
    let s1 = image(OCI_TO_V2S1);
    assert_eq!(
        s1.convert(mt::DOCKER_V2_SCHEMA1_SIGNED, &ConversionInputs::default())
            .unwrap(),
        OCI_TO_V2S1
    );
}

#[test]
fn layer_updates_change_media_types() {
    let m = image(OCI);
    let zstd = updates(
        &ZSTD_LAYERS,
        CompressionUpdate::Compressed(Compression::Zstd),
    );
    let inputs = ConversionInputs {
        layers: Some(&zstd),
        ..Default::default()
    };
    assert_eq!(
        text(&m.convert(mt::OCI_MANIFEST, &inputs).unwrap()),
        text(OCI_ZSTD)
    );

    let uncompressed = [(DIFF_IDS[0], 71680), (DIFF_IDS[1], 71680)];
    let plain = updates(&uncompressed, CompressionUpdate::Decompressed);
    let inputs = ConversionInputs {
        layers: Some(&plain),
        ..Default::default()
    };
    assert_eq!(
        text(&m.convert(mt::OCI_MANIFEST, &inputs).unwrap()),
        text(OCI_UNCOMPRESSED)
    );

    // And back to gzip from the uncompressed image.
    let gzip = updates(
        &GZIP_LAYERS,
        CompressionUpdate::Compressed(Compression::Gzip),
    );
    let inputs = ConversionInputs {
        layers: Some(&gzip),
        ..Default::default()
    };
    assert_eq!(
        text(
            &image(OCI_UNCOMPRESSED)
                .convert(mt::OCI_MANIFEST, &inputs)
                .unwrap()
        ),
        text(OCI)
    );

    // Schema 2: decompression works, zstd is refused.
    let s2 = image(OCI_TO_V2S2);
    let inputs = ConversionInputs {
        layers: Some(&plain),
        ..Default::default()
    };
    let out = s2.convert(mt::DOCKER_V2_SCHEMA2, &inputs).unwrap();
    assert_eq!(image(&out).layers()[0].media_type, mt::DOCKER_LAYER);
    let inputs = ConversionInputs {
        layers: Some(&zstd),
        ..Default::default()
    };
    let err = s2.convert(mt::DOCKER_V2_SCHEMA2, &inputs).unwrap_err();
    assert_eq!(
        err.to_string(),
        "preparing updated manifest, layer \"sha256:5cfc0811ae6dfb486d8705c7500580d450547acedb877aedf6747887a08d8192\": zstd compression is not supported for type \"application/vnd.docker.image.rootfs.diff.tar.gzip\""
    );
    let err = m.convert(mt::DOCKER_V2_SCHEMA2, &inputs).unwrap_err();
    assert!(
        err.to_string()
            .contains("zstd compression is not supported"),
        "{err}"
    );
}

/// A recompressed layer carries the annotations of its new compression and none of its old
/// ones (containers/image's `updateCompressionEdits` after `bpcRecompressCompressed`).
#[test]
fn recompressed_layers_take_the_new_compression_annotations() {
    let m = image(OCI);
    let mut chunked = updates(
        &ZSTD_LAYERS,
        CompressionUpdate::Compressed(Compression::ZstdChunked),
    );
    chunked[0].annotations = BTreeMap::from([(
        "io.github.containers.zstd-chunked.manifest-checksum".to_string(),
        "sha256:00".to_string(),
    )]);
    let inputs = ConversionInputs {
        layers: Some(&chunked),
        ..Default::default()
    };
    let converted = image(&m.convert(mt::OCI_MANIFEST, &inputs).unwrap());
    let layers = converted.layers();
    assert_eq!(layers[0].media_type, mt::OCI_LAYER_ZSTD);
    assert_eq!(layers[0].annotations, Some(chunked[0].annotations.clone()));
    assert_eq!(layers[1].annotations, None);
}

#[test]
fn oci_to_schema2() {
    let m = image(OCI);
    let inputs = ConversionInputs::default();
    assert_eq!(
        text(&m.convert(mt::DOCKER_V2_SCHEMA2, &inputs).unwrap()),
        text(OCI_TO_V2S2)
    );
    assert_eq!(
        m.converted_config(mt::DOCKER_V2_SCHEMA2, &inputs).unwrap(),
        None
    );
}

#[test]
fn zstd_layers_refused_for_schema2() {
    // skopeo: `creating an updated image manifest: Error during manifest conversion: …`
    let err = image(OCI_ZSTD)
        .convert(mt::DOCKER_V2_SCHEMA2, &ConversionInputs::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Error during manifest conversion: \"application/vnd.oci.image.layer.v1.tar+zstd\": zstd compression is not supported for docker images"
    );
    let inputs = ConversionInputs {
        config: Some(OCI_CONFIG),
        ..Default::default()
    };
    assert!(image(OCI_ZSTD)
        .convert(mt::DOCKER_V2_SCHEMA1_SIGNED, &inputs)
        .is_err());
}

#[test]
fn schema2_to_oci() {
    let inputs = ConversionInputs {
        config: Some(OCI_CONFIG),
        ..Default::default()
    };
    let m = image(OCI_TO_V2S2);
    assert_eq!(
        text(&m.convert(mt::OCI_MANIFEST, &inputs).unwrap()),
        text(V2S2_TO_OCI)
    );
    assert_eq!(
        m.converted_config(mt::OCI_MANIFEST, &inputs)
            .unwrap()
            .unwrap(),
        OCI_CONFIG
    );

    // A Docker-built config is re-encoded as an OCI config.
    let inputs = ConversionInputs {
        config: Some(DOCKER_CONFIG),
        ..Default::default()
    };
    let m = image(DOCKER);
    assert_eq!(
        text(&m.convert(mt::OCI_MANIFEST, &inputs).unwrap()),
        text(DOCKER_TO_OCI)
    );
    assert_eq!(
        text(
            &m.converted_config(mt::OCI_MANIFEST, &inputs)
                .unwrap()
                .unwrap()
        ),
        text(DOCKER_TO_OCI_CONFIG)
    );
    assert!(m
        .convert(mt::OCI_MANIFEST, &ConversionInputs::default())
        .is_err());
}

#[test]
fn to_schema1() {
    let inputs = ConversionInputs {
        config: Some(OCI_CONFIG),
        ..Default::default()
    };
    let out = image(OCI)
        .convert(mt::DOCKER_V2_SCHEMA1_SIGNED, &inputs)
        .unwrap();
    assert_eq!(guess_mime_type(&out), mt::DOCKER_V2_SCHEMA1_SIGNED);
    assert_eq!(text(&payload(&out)), text(&payload(OCI_TO_V2S1)));
    assert_eq!(
        manifest_digest(&out).unwrap(),
        manifest_digest(OCI_TO_V2S1).unwrap()
    );

    // Empty history entries become the gzipped empty layer; HTML in the config is escaped.
    let inputs = ConversionInputs {
        config: Some(DOCKER_CONFIG),
        ..Default::default()
    };
    // Unsigned asked for, signed given: containers/image always signs schema 1.
    let out = image(DOCKER)
        .convert(mt::DOCKER_V2_SCHEMA1, &inputs)
        .unwrap();
    assert_eq!(guess_mime_type(&out), mt::DOCKER_V2_SCHEMA1_SIGNED);
    assert_eq!(text(&payload(&out)), text(&payload(DOCKER_TO_V2S1)));
}

#[test]
fn to_schema1_applies_layer_updates() {
    let plain = updates(
        &[(DIFF_IDS[0], 71680), (DIFF_IDS[1], 71680)],
        CompressionUpdate::Decompressed,
    );
    let inputs = ConversionInputs {
        config: Some(DOCKER_CONFIG),
        layers: Some(&plain),
        ..Default::default()
    };
    let out = image(DOCKER)
        .convert(mt::DOCKER_V2_SCHEMA1, &inputs)
        .unwrap();
    let layers = image(&out).layers();
    let sums: Vec<&Digest> = layers.iter().map(|l| &l.digest).collect();
    assert_eq!(
        sums,
        vec![
            &digest(DIFF_IDS[0]),
            &gzipped_empty_layer_digest(),
            &digest(DIFF_IDS[1])
        ]
    );
}

#[test]
fn schema1_to_schema2_and_oci() {
    let m = image(OCI_TO_V2S1);
    let copied = updates(&GZIP_LAYERS, CompressionUpdate::Unchanged);
    let ids = diff_ids();
    let inputs = ConversionInputs {
        layers: Some(&copied),
        diff_ids: Some(&ids),
        ..Default::default()
    };
    assert_eq!(
        text(&m.convert(mt::DOCKER_V2_SCHEMA2, &inputs).unwrap()),
        text(V2S1_TO_V2S2)
    );
    assert_eq!(
        text(
            &m.converted_config(mt::DOCKER_V2_SCHEMA2, &inputs)
                .unwrap()
                .unwrap()
        ),
        text(V2S1_TO_V2S2_CONFIG)
    );
    assert_eq!(
        text(&m.convert(mt::OCI_MANIFEST, &inputs).unwrap()),
        text(V2S1_TO_OCI)
    );
    assert_eq!(
        text(
            &m.converted_config(mt::OCI_MANIFEST, &inputs)
                .unwrap()
                .unwrap()
        ),
        text(V2S1_TO_OCI_CONFIG)
    );
    let missing = ConversionInputs {
        layers: Some(&copied),
        ..Default::default()
    };
    assert!(m
        .convert(mt::OCI_MANIFEST, &missing)
        .unwrap_err()
        .to_string()
        .contains("DiffIDs"));
}

#[test]
fn schema1_with_throwaway_layers_to_schema2_and_oci() {
    let m = image(DOCKER_TO_V2S1);
    let copied = updates(
        &[
            GZIP_LAYERS[0],
            (
                "a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4",
                32,
            ),
            GZIP_LAYERS[1],
        ],
        CompressionUpdate::Unchanged,
    );
    let ids = vec![
        digest(DIFF_IDS[0]),
        // The empty layer's DiffID: dropped with the throwaway layer.
        digest("5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"),
        digest(DIFF_IDS[1]),
    ];
    let inputs = ConversionInputs {
        layers: Some(&copied),
        diff_ids: Some(&ids),
        ..Default::default()
    };
    assert_eq!(
        text(&m.convert(mt::DOCKER_V2_SCHEMA2, &inputs).unwrap()),
        text(DOCKER_V2S1_TO_V2S2)
    );
    assert_eq!(
        text(
            &m.converted_config(mt::DOCKER_V2_SCHEMA2, &inputs)
                .unwrap()
                .unwrap()
        ),
        text(DOCKER_V2S1_TO_V2S2_CONFIG)
    );
    assert_eq!(
        text(&m.convert(mt::OCI_MANIFEST, &inputs).unwrap()),
        text(DOCKER_V2S1_TO_OCI)
    );
    assert_eq!(
        text(
            &m.converted_config(mt::OCI_MANIFEST, &inputs)
                .unwrap()
                .unwrap()
        ),
        text(DOCKER_V2S1_TO_OCI_CONFIG)
    );

    // Recompressed to zstd on the way to OCI: the update applies to the OCI layers.
    let zstd = updates(
        &[
            ZSTD_LAYERS[0],
            (
                "a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4",
                32,
            ),
            ZSTD_LAYERS[1],
        ],
        CompressionUpdate::Compressed(Compression::Zstd),
    );
    let inputs = ConversionInputs {
        layers: Some(&zstd),
        diff_ids: Some(&ids),
        ..Default::default()
    };
    let out = image(&m.convert(mt::OCI_MANIFEST, &inputs).unwrap());
    let layers = out.layers();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[1].digest, digest(ZSTD_LAYERS[1].0));
    assert_eq!(layers[1].media_type, mt::OCI_LAYER_ZSTD);
    assert!(m.convert(mt::DOCKER_V2_SCHEMA2, &inputs).is_err());
}

#[test]
fn schema1_inspect_info() {
    let m = image(DOCKER_TO_V2S1);
    let s1 = m.as_schema1().unwrap();
    assert_eq!(s1.manifest.architecture, "amd64");
    let info = s1.inspect_info().unwrap();
    assert_eq!(info.tag, "");
    assert_eq!(info.created, "2024-01-02T03:04:05.123456789+01:00");
    assert_eq!(info.docker_version, "20.10.7");
    assert_eq!(info.os, "linux");
    assert_eq!(info.author, "Someone");
    assert_eq!(info.labels.unwrap()["z"], "1");
    assert_eq!(info.env.unwrap()[1], "A=<b>&c");
    assert!(image(OCI).as_schema1().is_none());
}

fn list_updates(pairs: &[(&str, &str, u64, &str)]) -> Vec<(Digest, ListInstance)> {
    pairs
        .iter()
        .map(|(old, new, size, media_type)| {
            (
                digest(old),
                ListInstance {
                    digest: digest(new),
                    size: *size,
                    media_type: media_type.to_string(),
                    platform: None,
                },
            )
        })
        .collect()
}

#[test]
fn index_to_docker_list() {
    let updates = list_updates(&[
        (
            "1bb9f8ec06c9bff1d48712ff14295a43c37034b768889d7e722aa59959781b0a",
            "1f977e39fc1caf7545eb8708f9148d2655d2315edf33ca951dbfbbd71b00a54c",
            585,
            mt::DOCKER_V2_SCHEMA2,
        ),
        (
            "721c9424444a866b98b6001db8262044fff0be58bc6069753683b3ac588d02b3",
            "500ff27f162b1fe046e0d2370046f9197dabf75461b8219593d7572a50a703cc",
            585,
            mt::DOCKER_V2_SCHEMA2,
        ),
        (
            "5b099c6a9f9b7be946a8bcf1bc5cbe03f138ad8d9e678fc38216d2f575963303",
            "17d62f871a6916faad692bc996df07aa011f750ff7dfbdbb11b2bdd6226c04c5",
            585,
            mt::DOCKER_V2_SCHEMA2,
        ),
    ]);
    let out = manifest_list(INDEX)
        .convert(mt::DOCKER_V2_LIST, &updates, None)
        .unwrap();
    assert_eq!(text(&out), text(INDEX_TO_LIST));
}

#[test]
fn docker_list_to_index() {
    let updates = list_updates(&[
        (
            "1f977e39fc1caf7545eb8708f9148d2655d2315edf33ca951dbfbbd71b00a54c",
            "1bb9f8ec06c9bff1d48712ff14295a43c37034b768889d7e722aa59959781b0a",
            557,
            mt::OCI_MANIFEST,
        ),
        (
            "500ff27f162b1fe046e0d2370046f9197dabf75461b8219593d7572a50a703cc",
            "1c51d754f2121038457574ec04deacbbb521254ca4862c9c6bf3324536195a82",
            557,
            mt::OCI_MANIFEST,
        ),
        (
            "17d62f871a6916faad692bc996df07aa011f750ff7dfbdbb11b2bdd6226c04c5",
            "5b099c6a9f9b7be946a8bcf1bc5cbe03f138ad8d9e678fc38216d2f575963303",
            557,
            mt::OCI_MANIFEST,
        ),
    ]);
    let out = manifest_list(INDEX_TO_LIST)
        .convert(mt::OCI_INDEX, &updates, None)
        .unwrap();
    assert_eq!(text(&out), text(LIST_TO_INDEX));
}

#[test]
fn lists_keep_bytes_unless_changed() {
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(INDEX).unwrap())
            .unwrap();
    let index = manifest_list(&pretty);
    assert_eq!(index.convert(mt::OCI_INDEX, &[], None).unwrap(), pretty);
    // Fields containers/image does not carry over (descriptor `data`) make the rebuilt list
    // differ, so it is re-encoded.
    let with_data = text(INDEX).replacen("\"size\":557,", "\"size\":557,\"data\":\"e30=\",", 1);
    let out = manifest_list(with_data.as_bytes())
        .convert(mt::OCI_INDEX, &[], None)
        .unwrap();
    assert_eq!(text(&out), text(INDEX));
    // `keep` drops instances.
    let keep = [digest(
        "5b099c6a9f9b7be946a8bcf1bc5cbe03f138ad8d9e678fc38216d2f575963303",
    )];
    let out = manifest_list(INDEX)
        .convert(mt::OCI_INDEX, &[], Some(&keep))
        .unwrap();
    assert_eq!(manifest_list(&out).instances().len(), 1);
    let err = manifest_list(INDEX)
        .convert(mt::OCI_MANIFEST, &[], None)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Can not convert image index to MIME type \"application/vnd.oci.image.manifest.v1+json\", which is not a list type"
    );
}

fn wanted(arch: &str, variant: Option<&str>) -> Platform {
    Platform {
        os: "linux".to_string(),
        architecture: arch.to_string(),
        variant: variant.map(str::to_string),
    }
}

#[test]
fn chooses_instances_like_containers_image() {
    let index = manifest_list(INDEX);
    let amd64 = digest("1bb9f8ec06c9bff1d48712ff14295a43c37034b768889d7e722aa59959781b0a");
    let arm64 = digest("721c9424444a866b98b6001db8262044fff0be58bc6069753683b3ac588d02b3");
    assert_eq!(
        index.choose_instance(&wanted("amd64", None)).unwrap(),
        amd64
    );
    assert_eq!(
        index.choose_instance(&wanted("arm64", None)).unwrap(),
        arm64
    );
    assert_eq!(
        index.choose_instance(&wanted("arm64", Some("v8"))).unwrap(),
        arm64
    );
    // Messages as skopeo 1.9.3 prints them (`--override-arch mips inspect …`).
    assert_eq!(
        index
            .choose_instance(&wanted("mips", None))
            .unwrap_err()
            .to_string(),
        "no image found in image index for architecture \"mips\", variant \"\", OS \"linux\""
    );
    let list = manifest_list(INDEX_TO_LIST);
    assert_eq!(
        list.choose_instance(&wanted("mips", None))
            .unwrap_err()
            .to_string(),
        "no image found in manifest list for architecture \"mips\", variant \"\", OS \"linux\""
    );
    let mut windows = wanted("amd64", None);
    windows.os = "windows".to_string();
    assert!(list.choose_instance(&windows).is_err());
}

#[test]
fn chooses_compatible_variants_then_list_order() {
    let entry = |hex: char, variant: &str| {
        format!(
            r#"{{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":1,"digest":"sha256:{}","platform":{{"architecture":"arm","os":"linux"{}}}}}"#,
            hex.to_string().repeat(64),
            if variant.is_empty() {
                String::new()
            } else {
                format!(r#","variant":"{variant}""#)
            }
        )
    };
    let list = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{},{},{},{}]}}"#,
        entry('a', "v5"),
        entry('b', ""),
        entry('c', "v6"),
        entry('d', "v6"),
    );
    let list = manifest_list(list.as_bytes());
    let pick = |variant| {
        list.choose_instance(&wanted("arm", variant))
            .unwrap()
            .hex()
            .chars()
            .next()
            .unwrap()
    };
    // v7 wanted: no v7, so v6 (first in list order), before v5 and no variant.
    assert_eq!(pick(Some("v7")), 'c');
    assert_eq!(pick(Some("v5")), 'a');
    // No variant wanted: the entry without one comes first.
    assert_eq!(pick(None), 'b');
    assert_eq!(
        list.choose_instance(&wanted("arm", Some("v4"))).unwrap(),
        digest(&"b".repeat(64))
    );
    assert_eq!(
        list.choose_instance(&wanted("arm64", Some("v8")))
            .unwrap_err()
            .to_string(),
        "no image found in manifest list for architecture \"arm64\", variant \"v8\", OS \"linux\""
    );
}

#[test]
fn index_falls_back_to_entries_without_platform() {
    let index = br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":1,"platform":{"architecture":"s390x","os":"linux"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","size":1}]}"#;
    let index = manifest_list(index);
    assert_eq!(
        index.choose_instance(&wanted("amd64", None)).unwrap(),
        digest(&"b".repeat(64))
    );
    assert_eq!(
        index.choose_instance(&wanted("s390x", None)).unwrap(),
        digest(&"a".repeat(64))
    );
}

/// The parts of a libtrust signature block a verifier needs.
#[derive(serde::Deserialize)]
struct SignatureBlock {
    header: SignatureHeader,
    signature: String,
    protected: String,
}

#[derive(serde::Deserialize)]
struct SignatureHeader {
    jwk: std::collections::BTreeMap<String, String>,
    alg: String,
}

fn signature_blocks(signed: &[u8]) -> Vec<SignatureBlock> {
    let value: serde_json::Value = serde_json::from_slice(signed).unwrap();
    serde_json::from_value(value["signatures"].clone()).unwrap()
}

#[test]
fn schema1_signatures_verify_like_libtrust() {
    use base64::Engine as _;
    use p256::ecdsa::signature::Verifier as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let point = |jwk: &std::collections::BTreeMap<String, String>| {
        let mut sec1 = vec![4u8];
        sec1.extend(b64.decode(&jwk["x"]).unwrap());
        sec1.extend(b64.decode(&jwk["y"]).unwrap());
        sec1
    };

    // The key ID derivation reproduces the one skopeo wrote.
    let skopeo = &signature_blocks(OCI_TO_V2S1)[0];
    let mut spki = schema1::P256_SPKI_PREFIX.to_vec();
    spki.extend(point(&skopeo.header.jwk));
    assert_eq!(schema1::libtrust_key_id(&spki), skopeo.header.jwk["kid"]);

    // Our signature verifies over `protected.base64url(payload)`.
    let unsigned = payload(OCI_TO_V2S1);
    let signed = schema1::sign_with_throwaway_key(&unsigned).unwrap();
    assert_eq!(schema1::strip_jws_signature(&signed).unwrap(), unsigned);
    let block = &signature_blocks(&signed)[0];
    assert_eq!(block.header.alg, "ES256");
    assert_eq!(block.header.jwk["crv"], "P-256");
    let mut spki = schema1::P256_SPKI_PREFIX.to_vec();
    spki.extend(point(&block.header.jwk));
    assert_eq!(schema1::libtrust_key_id(&spki), block.header.jwk["kid"]);
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point(&block.header.jwk)).unwrap();
    let signature =
        p256::ecdsa::Signature::from_slice(&b64.decode(&block.signature).unwrap()).unwrap();
    let message = format!("{}.{}", block.protected, b64.encode(&unsigned));
    key.verify(message.as_bytes(), &signature).unwrap();
}

#[test]
fn foreign_layers_convert_with_their_urls() {
    let foreign = include_bytes!("testdata/docker-foreign.json");
    let to_oci = include_bytes!("testdata/docker-foreign-to-oci.json");
    let back = include_bytes!("testdata/docker-foreign-oci-to-v2s2.json");
    let inputs = ConversionInputs {
        config: Some(DOCKER_CONFIG),
        ..Default::default()
    };
    let m = image(foreign);
    assert_eq!(m.layers()[0].urls.as_ref().unwrap().len(), 1);
    assert_eq!(
        text(&m.convert(mt::OCI_MANIFEST, &inputs).unwrap()),
        text(to_oci)
    );
    assert_eq!(
        text(
            &image(to_oci)
                .convert(mt::DOCKER_V2_SCHEMA2, &ConversionInputs::default())
                .unwrap()
        ),
        text(back)
    );
}

#[test]
fn annotated_index_keeps_bytes_and_converts_platforms() {
    let annotated = include_bytes!("testdata/index-annotated.json");
    let expected = include_bytes!("testdata/index-annotated-to-list.json");
    let index = manifest_list(annotated);
    // skopeo `copy --all` without conversion wrote the index unchanged.
    assert_eq!(
        index.convert(mt::OCI_INDEX, &[], None).unwrap(),
        annotated.to_vec()
    );
    // To a Docker list: annotations dropped, os.version/os.features kept, the entry
    // without a platform given the host's (skopeo ran on linux/amd64).
    let updates = list_updates(&[
        (
            "1bb9f8ec06c9bff1d48712ff14295a43c37034b768889d7e722aa59959781b0a",
            "1f977e39fc1caf7545eb8708f9148d2655d2315edf33ca951dbfbbd71b00a54c",
            585,
            mt::DOCKER_V2_SCHEMA2,
        ),
        (
            "721c9424444a866b98b6001db8262044fff0be58bc6069753683b3ac588d02b3",
            "500ff27f162b1fe046e0d2370046f9197dabf75461b8219593d7572a50a703cc",
            585,
            mt::DOCKER_V2_SCHEMA2,
        ),
        (
            "5b099c6a9f9b7be946a8bcf1bc5cbe03f138ad8d9e678fc38216d2f575963303",
            "17d62f871a6916faad692bc996df07aa011f750ff7dfbdbb11b2bdd6226c04c5",
            585,
            mt::DOCKER_V2_SCHEMA2,
        ),
    ]);
    let out = index.convert(mt::DOCKER_V2_LIST, &updates, None).unwrap();
    if Platform::wanted(None, None, None).architecture == "amd64" {
        assert_eq!(text(&out), text(expected));
    } else {
        assert_eq!(manifest_list(&out).instances().len(), 3);
    }
}

#[test]
fn schema1_from_old_docker_is_reencoded() {
    // An indented, unsigned schema 1 manifest whose newest entry says docker_version 1.6.2:
    // containers/image re-encodes that entry, adding the zero-valued fields and dropping
    // unknown ones, before building the schema 2 config.
    let old = include_bytes!("testdata/schema1-docker-1.6.json");
    let expected = include_bytes!("testdata/schema1-docker-1.6-to-v2s2.json");
    let expected_config = include_bytes!("testdata/schema1-docker-1.6-to-v2s2-config.json");
    let m = image(old);
    assert_eq!(m.mime_type(), mt::DOCKER_V2_SCHEMA1);
    let copied = updates(&GZIP_LAYERS, CompressionUpdate::Unchanged);
    let ids = diff_ids();
    let inputs = ConversionInputs {
        layers: Some(&copied),
        diff_ids: Some(&ids),
        ..Default::default()
    };
    assert_eq!(
        text(&m.convert(mt::DOCKER_V2_SCHEMA2, &inputs).unwrap()),
        text(expected)
    );
    assert_eq!(
        text(
            &m.converted_config(mt::DOCKER_V2_SCHEMA2, &inputs)
                .unwrap()
                .unwrap()
        ),
        text(expected_config)
    );
}

#[test]
fn list_parse_errors_quote_the_manifest_as_containers_image_does() {
    let bytes = br#"{"schemaVersion": 2, "manifests": 7}"#;
    let err = Schema2List::from_bytes(bytes).unwrap_err();
    assert!(
        format!("{err:#}").starts_with(
            r#"unmarshaling Schema2List "{\"schemaVersion\": 2, \"manifests\": 7}": "#
        ),
        "{err:#}"
    );
    let err = OciIndex::from_bytes(bytes).unwrap_err();
    assert!(
        format!("{err:#}").starts_with(r#"unmarshaling OCI1Index "{\"schemaVersion\""#),
        "{err:#}"
    );
}
