//! The JSON records containers/storage keeps: `<driver>-layers/layers.json` and
//! `<driver>-images/images.json`, with c/storage's field names and omission rules. Fields
//! skopos does not use are kept (`other`) so that rewriting a file never drops what a newer
//! podman put there.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One entry of `layers.json` (c/storage's `Layer`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LayerRecord {
    /// The layer ID (64 hex digits).
    pub id: String,
    /// Names of the layer (rarely used).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// The ID of the layer below; empty for a base layer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub parent: String,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metadata: String,
    /// SELinux mount label.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mountlabel: String,
    /// When the layer was created (RFC 3339 with nanoseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The digest of the blob the layer was applied from.
    #[serde(
        rename = "compressed-diff-digest",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub compressed_digest: String,
    /// The size of that blob.
    #[serde(rename = "compressed-size", default, skip_serializing_if = "is_zero")]
    pub compressed_size: u64,
    /// The digest of the uncompressed tar (the DiffID).
    #[serde(
        rename = "diff-digest",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub uncompressed_digest: String,
    /// The digest of a zstd:chunked / eStargz table of contents, for partial pulls.
    #[serde(
        rename = "toc-digest",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub toc_digest: String,
    /// The size of the uncompressed tar.
    #[serde(rename = "diff-size", default, skip_serializing_if = "is_zero")]
    pub uncompressed_size: u64,
    /// c/storage's `archive.Compression` of the blob (0 none, 1 bzip2, 2 gzip, 3 xz, 4 zstd).
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub compression: u8,
    /// The UIDs that own files in the layer.
    #[serde(rename = "uidset", default, skip_serializing_if = "Vec::is_empty")]
    pub uids: Vec<u32>,
    /// The GIDs that own files in the layer.
    #[serde(rename = "gidset", default, skip_serializing_if = "Vec::is_empty")]
    pub gids: Vec<u32>,
    /// Flags; c/storage marks a layer still being written with `incomplete: true`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub flags: Map<String, Value>,
    /// Everything else c/storage may have written.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl LayerRecord {
    /// Whether c/storage would treat the layer as unfinished (and delete it on next load).
    pub fn is_incomplete(&self) -> bool {
        self.flags.get("incomplete").and_then(Value::as_bool) == Some(true)
    }
}

/// One entry of `images.json` (c/storage's `Image`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ImageRecord {
    /// The image ID (64 hex digits).
    pub id: String,
    /// The digest of the image's main manifest.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// The names (`docker.io/library/busybox:latest`, `…@sha256:…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Every name the image ever had, newest first.
    #[serde(
        rename = "names-history",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub names_history: Vec<String>,
    /// The top layer's ID; empty for an image without layers.
    #[serde(rename = "layer", default, skip_serializing_if = "String::is_empty")]
    pub top_layer: String,
    /// Top layers of ID-mapped copies.
    #[serde(
        rename = "mapped-layers",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mapped_top_layers: Vec<String>,
    /// Free-form metadata; containers/image stores signature sizes here as JSON.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metadata: String,
    /// The keys of the image's big-data items, in the order they were added.
    #[serde(
        rename = "big-data-names",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub big_data_names: Vec<String>,
    /// Each big-data item's size.
    #[serde(
        rename = "big-data-sizes",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub big_data_sizes: BTreeMap<String, u64>,
    /// Each big-data item's digest.
    #[serde(
        rename = "big-data-digests",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub big_data_digests: BTreeMap<String, String>,
    /// When the image was created (from its config), RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Flags.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub flags: Map<String, Value>,
    /// Everything else c/storage may have written.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

fn is_zero_u8(value: &u8) -> bool {
    *value == 0
}

/// The big-data key of the manifest with this digest (containers/image's
/// `manifestBigDataKey`).
pub fn manifest_key(digest: &str) -> String {
    format!("manifest-{digest}")
}

/// The key every image's main manifest is also stored under, for older readers.
pub const MANIFEST_KEY: &str = "manifest";

/// The key of the signatures of the main manifest.
pub const SIGNATURES_KEY: &str = "signatures";

/// The key of the signatures of one instance (containers/image's `signatureBigDataKey`).
pub fn signatures_key(digest_hex: &str) -> String {
    format!("signature-{digest_hex}")
}

/// The file name c/storage stores a big-data item under: the key itself when it has only
/// `[0-9a-z.]`, else `=` and the key in standard base64.
pub fn big_data_file_name(key: &str) -> String {
    let plain = key
        .bytes()
        .all(|b| b == b'.' || b.is_ascii_digit() || b.is_ascii_lowercase());
    if plain && !key.is_empty() {
        key.to_string()
    } else {
        format!("={}", base64::engine::general_purpose::STANDARD.encode(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_data_names_are_encoded_as_c_storage_does() {
        assert_eq!(big_data_file_name("manifest"), "manifest");
        assert_eq!(
            big_data_file_name("sha256:109ed1402d5d4226cca7471882f55dd7efb6621db29af48a36c3fee1be19e464"),
            "=c2hhMjU2OjEwOWVkMTQwMmQ1ZDQyMjZjY2E3NDcxODgyZjU1ZGQ3ZWZiNjYyMWRiMjlhZjQ4YTM2YzNmZWUxYmUxOWU0NjQ="
        );
    }

    #[test]
    fn records_round_trip_with_c_storage_field_names_and_unknown_fields() {
        let text = r#"[{"id":"0a58","created":"2026-12-02T13:05:36.314828055Z","compressed-diff-digest":"sha256:b3","compressed-size":744,"diff-digest":"sha256:0a","diff-size":3584,"compression":2,"uidset":[0],"gidset":[0],"future-field":true}]"#;
        let layers: Vec<LayerRecord> = serde_json::from_str(text).unwrap();
        assert_eq!(layers[0].compressed_size, 744);
        assert_eq!(serde_json::to_string(&layers).unwrap(), text);
    }
}
