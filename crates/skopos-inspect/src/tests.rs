//! The facts and output of single images, from manifests and configs alone, and the
//! [`Inspector`] on OCI layouts made by the tests.

use super::*;
use skopos_core::go;
use skopos_core::manifest::AnyManifest;
use skopos_core::media_type;

fn digest() -> Digest {
    Digest::sha256_of(b"m")
}

fn layer(content: &[u8], size: Option<u64>, media_type: &str) -> LayerInfo {
    LayerInfo {
        digest: Digest::sha256_of(content),
        size,
        media_type: media_type.to_string(),
        urls: None,
        annotations: None,
        empty_layer: false,
    }
}

#[test]
fn default_output_has_layers_data_after_layers() {
    let blob = br#"{"created":"2024-01-01T00:00:00Z","architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin:/bin"],"Cmd":["/bin/sh"],"Labels":{"bench.seed":"1"}},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let mut first = layer(b"a", Some(10), media_type::OCI_LAYER_GZIP);
    first.annotations = Some(BTreeMap::from([("k".to_string(), "v".to_string())]));
    let second = layer(b"b", Some(20), media_type::OCI_LAYER);
    let facts = facts_from_oci_config(blob, &[first.clone(), second.clone()]).unwrap();
    let output = InspectOutput::new(String::new(), digest(), Vec::new(), facts);
    let text = String::from_utf8(go::json::to_vec_indent(&output, "    ").unwrap()).unwrap() + "\n";
    let (a, b) = (first.digest, second.digest);
    let expected = format!(
            "{{\n    \"Digest\": \"{}\",\n    \"RepoTags\": [],\n    \"Created\": \"2024-01-01T00:00:00Z\",\n    \"DockerVersion\": \"\",\n    \"Labels\": {{\n        \"bench.seed\": \"1\"\n    }},\n    \"Architecture\": \"amd64\",\n    \"Os\": \"linux\",\n    \"Layers\": [\n        \"{a}\",\n        \"{b}\"\n    ],\n    \"LayersData\": [\n        {{\n            \"MIMEType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n            \"Digest\": \"{a}\",\n            \"Size\": 10,\n            \"Annotations\": {{\n                \"k\": \"v\"\n            }}\n        }},\n        {{\n            \"MIMEType\": \"application/vnd.oci.image.layer.v1.tar\",\n            \"Digest\": \"{b}\",\n            \"Size\": 20,\n            \"Annotations\": null\n        }}\n    ],\n    \"Env\": [\n        \"PATH=/usr/bin:/bin\"\n    ]\n}}\n",
            digest()
        );
    assert_eq!(text, expected);
}

#[test]
fn missing_oci_fields_are_null_and_an_image_without_layers_has_empty_layers_data() {
    let facts = facts_from_oci_config(b"{\"docker_version\":\"1.2\"}", &[]).unwrap();
    let output = InspectOutput::new(
        "docker.io/library/x".into(),
        digest(),
        vec!["t".into()],
        facts,
    );
    let text = String::from_utf8(go::json::to_vec(&output).unwrap()).unwrap();
    assert_eq!(
        text,
        format!(
            r#"{{"Name":"docker.io/library/x","Digest":"{}","RepoTags":["t"],"Created":null,"DockerVersion":"1.2","Labels":null,"Architecture":"","Os":"","Layers":[],"LayersData":[],"Env":null}}"#,
            digest()
        )
    );
}

#[test]
fn docker_configs_have_a_zero_time_and_escaped_labels() {
    let facts = facts_from_docker_config(
        br#"{"architecture":"arm64","os":"linux","config":{"Labels":{"k":"<a&b>"}}}"#,
        &[layer(b"a", Some(3), media_type::DOCKER_LAYER_GZIP)],
    )
    .unwrap();
    assert_eq!(facts.created, Some(GoTime::ZERO));
    let output = InspectOutput::new(String::new(), digest(), Vec::new(), facts);
    let text = String::from_utf8(go::json::to_vec(&output).unwrap()).unwrap();
    assert!(
        text.contains(r#""Created":"0001-01-01T00:00:00Z""#),
        "{text}"
    );
    assert!(
        text.contains(r#""Labels":{"k":"\u003ca\u0026b\u003e"}"#),
        "{text}"
    );
    assert!(text.contains(r#""Env":null"#), "{text}");
    assert!(
            text.contains(&format!(
                r#""LayersData":[{{"MIMEType":"application/vnd.docker.image.rootfs.diff.tar.gzip","Digest":"{}","Size":3,"Annotations":null}}]"#,
                Digest::sha256_of(b"a")
            )),
            "{text}"
        );
}

#[test]
fn schema1_facts_come_from_the_newest_history_entry() {
    let manifest = br#"{"schemaVersion":1,"name":"x","tag":"v1","history":[{"v1Compatibility":"{\"created\":\"2020-01-02T03:04:05.6+01:00\",\"os\":\"linux\",\"docker_version\":\"1.13\",\"config\":{\"Env\":[\"A=1\"]}}"},{"v1Compatibility":"{}"}]}"#;
    let facts = facts_from_schema1(manifest, &[layer(b"a", None, "")]).unwrap();
    assert_eq!(facts.tag, "v1");
    assert_eq!(facts.docker_version, "1.13");
    assert_eq!(facts.env, Some(vec!["A=1".to_string()]));
    assert_eq!(facts.layers, vec![Digest::sha256_of(b"a").to_string()]);
    assert_eq!(
        facts.created.map(|t| t.to_rfc3339_nano()).as_deref(),
        Some("2020-01-02T03:04:05.6+01:00")
    );
}

#[test]
fn schema1_layers_data_has_every_layer_with_unknown_size_and_no_type() {
    let (newest, base) = (Digest::sha256_of(b"newest"), Digest::sha256_of(b"base"));
    let manifest = format!(
        r#"{{"schemaVersion":1,"name":"x","tag":"v1","architecture":"amd64","fsLayers":[{{"blobSum":"{newest}"}},{{"blobSum":"{base}"}}],"history":[{{"v1Compatibility":"{{\"id\":\"{}\",\"parent\":\"{}\",\"throwaway\":true}}"}},{{"v1Compatibility":"{{\"id\":\"{}\"}}"}}]}}"#,
        "b".repeat(64),
        "a".repeat(64),
        "a".repeat(64)
    );
    let AnyManifest::Image(image) =
        manifest::parse(manifest.as_bytes(), media_type::DOCKER_V2_SCHEMA1).unwrap()
    else {
        panic!("a schema 1 manifest parsed as a list");
    };
    let layers_data = inspect_layers(&image.layers());
    // Base first, and the throwaway layer is listed too, as containers/image does.
    assert_eq!(
        layers_data,
        vec![
            InspectLayer {
                mime_type: String::new(),
                digest: base,
                size: -1,
                annotations: None,
            },
            InspectLayer {
                mime_type: String::new(),
                digest: newest,
                size: -1,
                annotations: None,
            },
        ]
    );
    let text = String::from_utf8(go::json::to_vec(&layers_data[0]).unwrap()).unwrap();
    assert_eq!(
        text,
        format!(
            r#"{{"MIMEType":"","Digest":"{}","Size":-1,"Annotations":null}}"#,
            Digest::sha256_of(b"base")
        )
    );
}
