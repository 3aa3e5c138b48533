//! Docker image manifest, schema 1 (`application/vnd.docker.distribution.manifest.v1+json`,
//! and `+prettyjws` when it carries a libtrust JWS signature), laid out as containers/image's
//! `manifest.Schema1`, plus the libtrust "pretty signature" handling that manifest digests
//! need.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context as _};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::digest::Digest;
use crate::go::time::GoTime;
use crate::media_type as mt;
use crate::Result;

use super::{validate_unambiguous, AllowedFields, CryptoUpdate, LayerInfo, LayerUpdate};
use crate::go::json::{compact_go, is_empty_str, is_false, null_default};

/// One `fsLayers` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsLayer {
    /// The layer's digest (`blobSum`), of its compressed form.
    #[serde(rename = "blobSum")]
    pub blob_sum: Digest,
}

/// One `history` entry: a v1 image JSON, as a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The v1 image JSON of the layer (`v1Compatibility`), kept as the exact string: its bytes are
    /// what the manifest signature covers.
    #[serde(rename = "v1Compatibility", default, deserialize_with = "null_default")]
    pub v1_compatibility: String,
}

/// The `container_config` of a v1Compatibility entry, as far as conversions use it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1ContainerConfig {
    /// Go's `Cmd []string` (no tag): written as `Cmd`, `null` when nil.
    #[serde(rename = "Cmd", default)]
    pub cmd: Option<Vec<String>>,
}

/// The parts of a v1Compatibility entry that containers/image reads
/// (`manifest.Schema1V1Compatibility`), in its field order. Kept apart from the full
/// Docker image config ([`super::docker_v1_image::V1Image`]) because Go has two types too:
/// this one is decoded from every entry (layer IDs, parents, `throwaway`, history), that one
/// only from the newest entry, and their JSON differs (`throwaway` exists only here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1Compatibility {
    /// The layer's v1 ID (64 hex digits).
    #[serde(default, deserialize_with = "null_default")]
    pub id: String,
    /// The ID of the entry below (the layer this one builds on); empty for the base.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub parent: String,
    /// A free-text comment on the step.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub comment: String,
    /// When the step ran; absent means Go's zero time.
    #[serde(default)]
    pub created: GoTime,
    /// The step's container configuration (its `Cmd`).
    #[serde(default, deserialize_with = "null_default")]
    pub container_config: V1ContainerConfig,
    /// Who made the step.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub author: String,
    /// Whether the step made no layer: its `fsLayers` entry is an empty tar, left out when
    /// converting to schema 2 or OCI.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub throwaway: bool,
}

/// The fields of a schema 1 manifest (without signatures), in Go's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema1 {
    /// The repository the manifest was pushed to (`library/busybox`).
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// The tag the manifest was pushed under.
    #[serde(default, deserialize_with = "null_default")]
    pub tag: String,
    /// The image's CPU architecture.
    #[serde(default, deserialize_with = "null_default")]
    pub architecture: String,
    /// The layers, newest first (the opposite of schema 2 and OCI), one per `history` entry.
    #[serde(rename = "fsLayers", default, deserialize_with = "null_default")]
    pub fs_layers: Vec<FsLayer>,
    /// The v1 image JSON of each layer, in the same order as `fs_layers`.
    #[serde(default, deserialize_with = "null_default")]
    pub history: Vec<HistoryEntry>,
    /// Always 1.
    #[serde(rename = "schemaVersion", default, deserialize_with = "null_default")]
    pub schema_version: i64,
}

/// What `skopeo inspect` shows for a schema 1 image, read from the manifest and its newest
/// v1Compatibility entry (containers/image `Schema1.Inspect`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema1InspectInfo {
    /// The tag embedded in the manifest.
    pub tag: String,
    /// `created`, as Go writes it (RFC 3339 with nanoseconds).
    pub created: String,
    /// The Docker version that built the image.
    pub docker_version: String,
    /// From the v1Compatibility entry, not from the manifest's `architecture`.
    pub architecture: String,
    /// The image's operating system, from the v1Compatibility entry.
    pub os: String,
    /// The image's author, from the v1Compatibility entry.
    pub author: String,
    /// `config.Labels` (`None` when absent or null).
    pub labels: Option<BTreeMap<String, String>>,
    /// `config.Env` (`None` when absent or null).
    pub env: Option<Vec<String>>,
}

/// A parsed schema 1 manifest with its v1Compatibility entries decoded (duplicates of
/// consecutive layer IDs removed, as containers/image does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema1Manifest {
    /// The manifest as parsed.
    pub manifest: Schema1,
    /// The decoded v1Compatibility entries, in the order of `manifest.history` (newest first).
    pub compat: Vec<V1Compatibility>,
}

impl Schema1Manifest {
    /// Parse and validate as containers/image's `Schema1FromManifest` does.
    pub fn from_bytes(bytes: &[u8]) -> Result<Schema1Manifest> {
        let manifest: Schema1 =
            serde_json::from_slice(bytes).context("parsing Docker schema 1 manifest")?;
        if manifest.schema_version != 1 {
            bail!("unsupported schema version {}", manifest.schema_version);
        }
        validate_unambiguous(
            bytes,
            mt::DOCKER_V2_SCHEMA1_SIGNED,
            AllowedFields::FS_LAYERS | AllowedFields::HISTORY,
        )?;
        let mut parsed = Schema1Manifest::from_manifest(manifest)?;
        parsed.fix_manifest_layers()?;
        Ok(parsed)
    }

    /// Decode the history entries (containers/image `initialize`).
    pub fn from_manifest(manifest: Schema1) -> Result<Schema1Manifest> {
        if manifest.fs_layers.len() != manifest.history.len() {
            bail!("length of history not equal to number of layers");
        }
        if manifest.fs_layers.is_empty() {
            bail!("no FSLayers in manifest");
        }
        let compat = manifest
            .history
            .iter()
            .enumerate()
            .map(|(i, h)| {
                serde_json::from_str::<V1Compatibility>(&h.v1_compatibility)
                    .with_context(|| format!("parsing v2s1 history entry {i}"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Schema1Manifest { manifest, compat })
    }

    /// Validate the layer IDs and parent links, and drop entries that repeat the ID of the
    /// entry below them (containers/image `fixManifestLayers`).
    fn fix_manifest_layers(&mut self) -> Result<()> {
        for compat in &self.compat {
            let valid = compat.id.len() == 64
                && compat
                    .id
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            if !valid {
                bail!(
                    "image ID {} is invalid",
                    crate::go::text::go_quote(&compat.id)
                );
            }
        }
        if self
            .compat
            .last()
            .is_some_and(|base| !base.parent.is_empty())
        {
            bail!("Invalid parent ID in the base layer of the image");
        }
        let mut seen = std::collections::HashSet::new();
        let mut last_id: Option<&str> = None;
        for compat in &self.compat {
            if last_id != Some(compat.id.as_str()) && seen.contains(compat.id.as_str()) {
                bail!("ID {} appears multiple times in manifest", compat.id);
            }
            last_id = Some(&compat.id);
            seen.insert(compat.id.as_str());
        }
        let mut i = self.compat.len().saturating_sub(1);
        while i > 0 {
            i -= 1;
            if self.compat[i].id == self.compat[i + 1].id {
                self.compat.remove(i);
                self.manifest.fs_layers.remove(i);
                self.manifest.history.remove(i);
            } else if self.compat[i].parent != self.compat[i + 1].id {
                bail!(
                    "Invalid parent ID. Expected {}, got {}",
                    self.compat[i + 1].id,
                    self.compat[i].parent
                );
            }
        }
        Ok(())
    }

    /// Layers, base first (the manifest lists them newest first).
    pub fn layer_infos(&self) -> Vec<LayerInfo> {
        self.manifest
            .fs_layers
            .iter()
            .zip(&self.compat)
            .rev()
            .map(|(layer, compat)| LayerInfo {
                digest: layer.blob_sum.clone(),
                size: None,
                media_type: String::new(),
                urls: None,
                annotations: None,
                empty_layer: compat.throwaway,
            })
            .collect()
    }

    /// Replace the layer digests (base first) with those of the copied layers.
    pub fn update_layers(&mut self, updates: &[LayerUpdate]) -> Result<()> {
        if let Some(update) = updates.iter().find(|u| u.crypto != CryptoUpdate::Unchanged) {
            bail!(
                "encryption change (for layer {}) is not supported in schema1 manifests",
                crate::go::text::go_quote(&update.digest.to_string())
            );
        }
        let count = self.manifest.fs_layers.len();
        if count != updates.len() {
            bail!(
                "Error preparing updated manifest: layer count changed from {count} to {}",
                updates.len()
            );
        }
        for (layer, update) in self.manifest.fs_layers.iter_mut().rev().zip(updates) {
            layer.blob_sum = update.digest.clone();
        }
        Ok(())
    }

    /// Set the embedded repository name and tag from a destination reference.
    pub fn set_reference(&mut self, name: &str, tag: &str) {
        self.manifest.name = name.to_string();
        self.manifest.tag = tag.to_string();
    }

    /// The unsigned bytes, as Go's `json.Marshal` writes them.
    pub fn to_unsigned_bytes(&self) -> Result<Vec<u8>> {
        Ok(crate::go::json::to_vec(&self.manifest)?)
    }

    /// What `inspect` shows, from the newest v1Compatibility entry.
    pub fn inspect_info(&self) -> Result<Schema1InspectInfo> {
        let newest = self
            .manifest
            .history
            .first()
            .ok_or_else(|| anyhow!("schema 1 manifest has no history"))?;
        let image: super::docker_v1_image::V1Image = serde_json::from_str(&newest.v1_compatibility)
            .context("parsing the newest v1Compatibility entry")?;
        let (labels, env) = match image.config {
            Some(config) => (config.labels, config.env),
            None => (None, None),
        };
        Ok(Schema1InspectInfo {
            tag: self.manifest.tag.clone(),
            created: image.created.to_rfc3339_nano(),
            docker_version: image.docker_version,
            architecture: image.architecture,
            os: image.os,
            author: image.author,
            labels,
            env,
        })
    }

    /// The schema 2 config containers/image builds from the v1Compatibility history
    /// (`Schema1.ToSchema2Config`): the newest entry with its v1 IDs removed, plus
    /// `history` (base first) and `rootfs` with `diff_ids`, keys sorted.
    pub fn to_schema2_config(&self, diff_ids: &[Digest]) -> Result<Vec<u8>> {
        let newest = self
            .manifest
            .history
            .first()
            .ok_or_else(|| anyhow!("image has no layers"))?;
        let image: super::docker_v1_image::V1Image =
            serde_json::from_str(&newest.v1_compatibility).context("decoding configuration")?;
        // Images created by Docker before 1.8.3 lack fields that are not "omitempty";
        // re-encoding adds them.
        let reencoded;
        let config_text = if !image.docker_version.is_empty()
            && super::docker_v1_image::docker_version_less_than(&image.docker_version, "1.8.3")
        {
            reencoded = String::from_utf8(crate::go::json::to_vec(&image)?)?;
            reencoded.as_str()
        } else {
            newest.v1_compatibility.as_str()
        };
        let history: Vec<Schema2History> = self
            .compat
            .iter()
            .rev()
            .map(|compat| Schema2History {
                created: compat.created,
                author: compat.author.clone(),
                created_by: compat
                    .container_config
                    .cmd
                    .as_deref()
                    .unwrap_or_default()
                    .join(" "),
                comment: compat.comment.clone(),
                empty_layer: compat.throwaway,
            })
            .collect();
        let rootfs = Schema2RootFs {
            fs_type: "layers".to_string(),
            diff_ids: diff_ids.iter().map(ToString::to_string).collect(),
        };
        let mut raw: BTreeMap<String, Box<RawValue>> =
            serde_json::from_str(config_text).context("re-decoding compat image config")?;
        for dropped in ["id", "parent", "parent_id", "layer_id", "throwaway", "Size"] {
            raw.remove(dropped);
        }
        raw.insert("rootfs".to_string(), to_raw(&rootfs)?);
        raw.insert("history".to_string(), to_raw(&history)?);
        marshal_raw_map(raw)
    }
}

/// `manifest.Schema2History`, in Go's field order.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Schema2History {
    pub created: GoTime,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub author: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub created_by: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub comment: String,
    #[serde(skip_serializing_if = "is_false")]
    pub empty_layer: bool,
}

/// `manifest.Schema2RootFS`.
#[derive(Debug, Clone, Serialize)]
struct Schema2RootFs {
    #[serde(rename = "type")]
    fs_type: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    diff_ids: Vec<String>,
}

/// A value as a raw JSON fragment, Go-encoded.
pub(crate) fn to_raw<T: Serialize + ?Sized>(value: &T) -> Result<Box<RawValue>> {
    let text = String::from_utf8(crate::go::json::to_vec(value)?)?;
    Ok(RawValue::from_string(text)?)
}

/// A `map[string]*json.RawMessage` marshaled by Go: keys sorted, values compacted and
/// HTML-escaped.
pub(crate) fn marshal_raw_map(raw: BTreeMap<String, Box<RawValue>>) -> Result<Vec<u8>> {
    let compacted = raw
        .into_iter()
        .map(|(k, v)| Ok((k, RawValue::from_string(compact_go(v.get()))?)))
        .collect::<Result<BTreeMap<String, Box<RawValue>>>>()?;
    Ok(crate::go::json::to_vec(&compacted)?)
}

/// The payload of a schema 1 manifest signed with libtrust's "pretty signature": the
/// manifest as it was before the `signatures` member was spliced in, reconstructed from
/// the `formatLength` and `formatTail` of the signatures' protected headers
/// (libtrust `ParsePrettySignature` + `Payload`).
pub fn strip_jws_signature(bytes: &[u8]) -> Result<Vec<u8>> {
    #[derive(Deserialize)]
    struct SignatureBlock {
        #[serde(default, deserialize_with = "null_default")]
        protected: String,
    }
    let content: BTreeMap<String, Box<RawValue>> =
        serde_json::from_slice(bytes).context("error unmarshalling content")?;
    let signatures = content
        .get("signatures")
        .ok_or_else(|| anyhow!("missing signature key"))?;
    let blocks: Option<Vec<SignatureBlock>> =
        serde_json::from_str(signatures.get()).context("error unmarshalling signatures")?;
    let mut format_length: usize = 0;
    let mut format_tail: Vec<u8> = Vec::new();
    for block in blocks.unwrap_or_default() {
        let protected = jose_base64_decode(&block.protected)
            .map_err(|e| anyhow!("base64 decode error: {e}"))?;
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&protected).context("error unmarshalling protected header")?;
        let length = header
            .get("formatLength")
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| anyhow!("missing formatted length"))?;
        let encoded_tail = header
            .get("formatTail")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| anyhow!("missing formatted tail"))?;
        let tail = jose_base64_decode(encoded_tail)
            .map_err(|e| anyhow!("base64 decode error on tail: {e}"))?;
        // Go converts the JSON number to int by truncation.
        let length = if length < 0.0 { 0 } else { length as usize };
        if format_length == 0 {
            format_length = length;
        } else if format_length != length {
            bail!("conflicting format length");
        }
        if format_tail.is_empty() {
            format_tail = tail;
        } else if format_tail != tail {
            bail!("conflicting format tail");
        }
    }
    if format_length > bytes.len() {
        bail!("invalid format length");
    }
    let mut payload = bytes[..format_length].to_vec();
    payload.extend_from_slice(&format_tail);
    Ok(payload)
}

/// Unpadded URL-safe base64 as JOSE uses it (spaces and newlines ignored).
fn jose_base64_decode(s: &str) -> std::result::Result<Vec<u8>, String> {
    let cleaned: String = s.chars().filter(|c| *c != '\n' && *c != ' ').collect();
    if cleaned.len() % 4 == 1 {
        return Err("illegal base64url string".to_string());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cleaned.trim_end_matches('='))
        .map_err(|e| e.to_string())
}

/// The DER prefix of a P-256 public key in PKIX (SubjectPublicKeyInfo) form, before the
/// uncompressed point: libtrust derives key IDs from this encoding.
pub(crate) const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A libtrust key ID: the first 30 bytes of the SHA-256 of the PKIX public key, in
/// base32 without padding, in groups of four joined by `:`.
pub(crate) fn libtrust_key_id(spki: &[u8]) -> String {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(spki);
    let encoded = base32_no_pad(&hash[..30]);
    encoded
        .as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

/// RFC 4648 base32 (upper case), padding dropped.
fn base32_no_pad(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Sign compact schema 1 manifest bytes the way containers/image's
/// `AddDummyV2S1Signature` does: a fresh ES256 key, a libtrust JWS "pretty signature"
/// spliced in as the `signatures` member. Registries require a signature on schema 1
/// manifests even though nothing verifies this one; [`strip_jws_signature`] gives back
/// `unsigned` exactly.
pub fn sign_with_throwaway_key(unsigned: &[u8]) -> Result<Vec<u8>> {
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::{Signature, SigningKey};

    // libtrust `NewJSONSignature`: the payload must be a JSON object; the signature goes
    // after its last member.
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(unsigned)
        .context("signing a schema 1 manifest: not a JSON object")?;
    let is_space = |b: &u8| b.is_ascii_whitespace();
    let close = unsigned
        .iter()
        .rposition(|b| !is_space(b))
        .filter(|i| unsigned[*i] == b'}')
        .ok_or_else(|| anyhow!("signing a schema 1 manifest: invalid json content"))?;
    let last = unsigned[..close]
        .iter()
        .rposition(|b| !is_space(b))
        .filter(|i| unsigned[*i] != b',')
        .ok_or_else(|| anyhow!("signing a schema 1 manifest: invalid json content"))?;
    let format_length = last + 1;
    let format_tail = &unsigned[format_length..];

    let key = loop {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| anyhow!("generating a signing key for a schema 1 manifest: {e}"))?;
        // A random scalar is out of range with negligible probability; then try again.
        if let Ok(key) = SigningKey::from_bytes(&secret.into()) {
            break key;
        }
    };
    let point = key.verifying_key().to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        bail!("signing a schema 1 manifest: public key has no coordinates");
    };
    let mut spki = P256_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(point.as_bytes());

    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let time = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let protected_header = serde_json::json!({
        "formatLength": format_length,
        "formatTail": b64(format_tail),
        "time": time,
    });
    let protected = b64(&crate::go::json::to_vec(&protected_header)?);
    let signing_input = format!("{protected}.{}", b64(unsigned));
    let signature: Signature = key.sign(signing_input.as_bytes());

    #[derive(Serialize)]
    struct Jwk {
        crv: &'static str,
        kid: String,
        kty: &'static str,
        x: String,
        y: String,
    }
    #[derive(Serialize)]
    struct Header {
        jwk: Jwk,
        alg: &'static str,
    }
    #[derive(Serialize)]
    struct JwsSignature {
        header: Header,
        signature: String,
        protected: String,
    }
    let signatures = [JwsSignature {
        header: Header {
            jwk: Jwk {
                crv: "P-256",
                kid: libtrust_key_id(&spki),
                kty: "EC",
                x: b64(x),
                y: b64(y),
            },
            alg: "ES256",
        },
        signature: b64(&signature.to_bytes()),
        protected,
    }];
    let mut out = unsigned[..format_length].to_vec();
    out.extend_from_slice(b",\"signatures\":");
    out.extend_from_slice(&crate::go::json::to_vec(&signatures)?);
    out.push(b'}');
    Ok(out)
}
