//! Manifests: Docker schema 1 (signed and unsigned), schema 2, manifest lists, OCI image
//! manifests and indexes. A parsed manifest keeps the bytes it was read from; digests are
//! of those bytes. Conversions produce new bytes, serialized exactly as containers/image
//! 5.23 (Go's encoding/json) would, so that digests match skopeo 1.9.3's.
//!
//! How the copy engine converts a single-image manifest:
//! 1. [`Manifest::convert`] with the target MIME type and [`ConversionInputs`] gives the
//!    manifest bytes; with the same MIME type and no layer digest changed they are the
//!    source bytes.
//! 2. [`Manifest::converted_config`] with the same arguments says whether the conversion
//!    made a new config blob (schema 2 → OCI re-encodes the config; schema 1 → schema 2 or
//!    OCI generates one from the v1Compatibility history). When it returns bytes, store
//!    them as the config blob (the manifest names their digest) instead of the source's.
//! 3. Converting to schema 1 turns history entries marked `empty_layer` into references
//!    to [`GZIPPED_EMPTY_LAYER`]: when the produced manifest lists
//!    [`gzipped_empty_layer_digest`], store that blob at the destination too.
//!
//! What each conversion needs in [`ConversionInputs`]: from schema 1, `layers` (schema 1
//! has no sizes) and `diff_ids` (one per [`Manifest::layers`] entry, throwaway layers
//! included); schema 2 → OCI and anything → schema 1 need `config` (the source config
//! blob); → schema 1 embeds the name and tag of `docker_reference` (empty when `None`).
//! Schema 1 output is signed with a throwaway key, as skopeo's is: its digest (signature
//! stripped) is deterministic, its bytes are not.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail};

use crate::compression::Compression;
use crate::digest::Digest;
use crate::image::BlobInfo;
use crate::media_type as mt;
use crate::platform::Platform;
use crate::Result;

mod convert;
pub mod docker_v1_image;
pub mod list;
pub mod oci;
pub mod schema1;
pub mod schema2;
mod variants;

#[cfg(test)]
mod tests;

use list::{OciIndex, Schema2List};
use oci::OciManifest;
use schema1::Schema1Manifest;
use schema2::Schema2;

/// The media type of an uncompressed Docker foreign layer.
pub const DOCKER_FOREIGN_LAYER: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar";

/// A gzip-compressed empty tar archive: the layer containers/image references for each
/// empty history entry when it converts an image to schema 1.
pub const GZIPPED_EMPTY_LAYER: &[u8] = &[
    31, 139, 8, 0, 0, 9, 110, 136, 0, 255, 98, 24, 5, 163, 96, 20, 140, 88, 0, 8, 0, 0, 255, 255,
    46, 175, 181, 239, 0, 4, 0, 0,
];

/// The digest of [`GZIPPED_EMPTY_LAYER`].
pub fn gzipped_empty_layer_digest() -> Digest {
    Digest::sha256_of(GZIPPED_EMPTY_LAYER)
}

/// An image-only operation (such as conversion to a Docker format) was asked of an OCI
/// artifact whose config is not an image config.
#[derive(Debug, thiserror::Error)]
#[error("unsupported image-specific operation on artifact with type {}", crate::go::text::go_quote(.0))]
pub struct NonImageArtifact(pub String);

/// The compression a layer media type declares (`None` = uncompressed or unknown).
pub fn declared_compression(media_type: &str) -> Option<Compression> {
    variants::declared_compression(media_type)
}

/// A layer as a manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// The layer blob's digest, as the manifest names it (the compressed form's, for a compressed
    /// layer).
    pub digest: Digest,
    /// `None` when unknown (schema 1).
    pub size: Option<u64>,
    /// The layer's media type; empty for schema 1, which names none.
    pub media_type: String,
    /// Where else the layer can be downloaded (foreign layers); `None` when the manifest gives
    /// none.
    pub urls: Option<Vec<String>>,
    /// The descriptor's annotations; `None` when it has none (always, for Docker manifests).
    pub annotations: Option<BTreeMap<String, String>>,
    /// Schema 1 "throwaway" layers (empty, not part of the rootfs).
    pub empty_layer: bool,
}

impl LayerInfo {
    /// The blob to fetch for this layer.
    pub fn blob_info(&self) -> BlobInfo {
        BlobInfo {
            digest: self.digest.clone(),
            size: self.size,
            media_type: self.media_type.clone(),
        }
    }

    /// The compression the media type declares (`None` = uncompressed or unknown).
    pub fn declared_compression(&self) -> Option<Compression> {
        variants::declared_compression(&self.media_type)
    }
}

/// How a layer changed while it was copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerUpdate {
    /// The digest of the blob the destination now holds.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// How its compression changed.
    pub compression: CompressionUpdate,
    /// Whether the layer was encrypted or decrypted on the way.
    pub crypto: CryptoUpdate,
    /// The annotations the new compression gives a changed layer (zstd:chunked's TOC
    /// digest and positions); a layer whose bytes changed keeps none of its old ones.
    pub annotations: BTreeMap<String, String>,
}

/// The encryption state of a copied layer, relative to the source layer (containers/image's
/// `LayerCrypto`). Only OCI manifests carry encrypted layers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CryptoUpdate {
    /// As the source layer was.
    #[default]
    Unchanged,
    /// Now encrypted; the descriptor gains these `org.opencontainers.image.enc.*`
    /// annotations.
    Encrypted(BTreeMap<String, String>),
    /// Now decrypted: `+encrypted` and the encryption annotations go.
    Decrypted,
}

/// The compression state of a copied layer, relative to the source layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressionUpdate {
    /// The blob is byte-for-byte the source blob (or has the source's compression).
    Unchanged,
    /// Now stored uncompressed.
    Decompressed,
    /// Now stored with this compression.
    Compressed(Compression),
}

/// Manifest bytes as read, with their parsed form.
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    bytes: Vec<u8>,
    mime: &'static str,
    /// Boxed: the parsed formats differ much in size.
    value: Box<T>,
}

impl<T> Parsed<T> {
    /// The bytes the manifest was parsed from.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The parsed manifest.
    pub fn value(&self) -> &T {
        &self.value
    }
}

/// One image manifest (not a list).
#[derive(Debug, Clone)]
pub enum Manifest {
    /// Docker schema 1, signed or not (its MIME type says which it was read as).
    Schema1(Parsed<Schema1Manifest>),
    /// Docker schema 2.
    Schema2(Parsed<Schema2>),
    /// OCI image manifest.
    Oci(Parsed<OciManifest>),
}

/// A manifest list (Docker) or image index (OCI).
#[derive(Debug, Clone)]
pub enum ManifestList {
    /// A Docker manifest list.
    Docker(Parsed<Schema2List>),
    /// An OCI image index.
    Oci(Parsed<OciIndex>),
}

/// Either kind, as parsed from bytes.
#[derive(Debug, Clone)]
pub enum AnyManifest {
    /// A single image's manifest.
    Image(Manifest),
    /// A list of manifests.
    List(ManifestList),
}

/// One entry of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListInstance {
    /// The digest of the instance's manifest.
    pub digest: Digest,
    /// The size of that manifest in bytes.
    pub size: u64,
    /// The media type of that manifest.
    pub media_type: String,
    /// The platform it is for; `None` when the list does not say (OCI artifacts, attestations).
    pub platform: Option<Platform>,
}

/// What the conversion of a single-image manifest needs beyond the manifest itself.
#[derive(Debug, Clone, Default)]
pub struct ConversionInputs<'a> {
    /// Layers as copied (same order and count as [`Manifest::layers`]); `None` = unchanged.
    /// Applied only when some digest differs from the source's, as containers/image does.
    /// Always needed from schema 1, whose manifest has no layer sizes.
    pub layers: Option<&'a [LayerUpdate]>,
    /// The source config blob (needed to produce schema 1, and to convert schema 2 to
    /// OCI, which re-encodes it).
    pub config: Option<&'a [u8]>,
    /// The uncompressed digests of the layers (needed to convert from schema 1).
    pub diff_ids: Option<&'a [Digest]>,
    /// The destination's docker reference (schema 1 embeds name and tag).
    pub docker_reference: Option<&'a crate::reference::DockerReference>,
}

/// The MIME type of manifest bytes, from `mediaType`, `schemaVersion` and `signatures`
/// (containers/image `manifest.GuessMIMEType`); empty when not recognized.
pub fn guess_mime_type(bytes: &[u8]) -> String {
    guess(bytes).unwrap_or_default().to_string()
}

/// `guess_mime_type`, with `None` wherever Go's decoding would have failed.
fn guess(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let serde_json::Value::Object(object) = &value else {
        return None;
    };
    let media_type = optional_str(field(object, "mediaType"))?;
    let schema_version = match field(object, "schemaVersion") {
        None | Some(serde_json::Value::Null) => 0,
        Some(v) => v.as_i64()?,
    };
    let signatures = field(object, "signatures").is_some_and(|v| !v.is_null());
    match media_type {
        mt::DOCKER_V2_SCHEMA2 | mt::DOCKER_V2_LIST | mt::OCI_MANIFEST | mt::OCI_INDEX => {
            return Some(media_type.to_string())
        }
        _ => {}
    }
    match schema_version {
        1 if signatures => Some(mt::DOCKER_V2_SCHEMA1_SIGNED.to_string()),
        1 => Some(mt::DOCKER_V2_SCHEMA1.to_string()),
        2 => {
            let config_media_type = match field(object, "config") {
                None | Some(serde_json::Value::Null) => "",
                Some(serde_json::Value::Object(config)) => {
                    optional_str(field(config, "mediaType"))?
                }
                Some(_) => return None,
            };
            match config_media_type {
                mt::OCI_CONFIG => return Some(mt::OCI_MANIFEST.to_string()),
                mt::DOCKER_V2_CONFIG => return Some(mt::DOCKER_V2_SCHEMA2.to_string()),
                _ => {}
            }
            let manifests = match field(object, "manifests") {
                None | Some(serde_json::Value::Null) => 0,
                Some(serde_json::Value::Array(entries)) => entries.len(),
                Some(_) => return None,
            };
            if manifests == 0 {
                // Most likely an OCI artifact with a custom config media type.
                Some(mt::OCI_MANIFEST.to_string())
            } else if config_media_type.is_empty() {
                Some(mt::OCI_INDEX.to_string())
            } else {
                // containers/image returns the config's media type here (sic).
                Some(config_media_type.to_string())
            }
        }
        _ => Some(String::new()),
    }
}

/// An object member as Go's decoder finds it for a struct field: the exact key, else a
/// case-insensitive match.
fn field<'a>(
    object: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<&'a serde_json::Value> {
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A string member that may be absent or null (`""`); `None` for any other type.
fn optional_str(value: Option<&serde_json::Value>) -> Option<&str> {
    match value {
        None | Some(serde_json::Value::Null) => Some(""),
        Some(serde_json::Value::String(s)) => Some(s),
        Some(_) => None,
    }
}

/// The MIME type containers/image works with for a type a source reported
/// (`manifest.NormalizedMIMEType`): `application/json` and anything unknown are read as
/// signed schema 1.
pub fn normalized_mime_type(mime: &str) -> &'static str {
    mt::ALL_MANIFEST_TYPES
        .iter()
        .copied()
        .find(|known| *known == mime)
        .unwrap_or(mt::DOCKER_V2_SCHEMA1_SIGNED)
}

/// The digest of a manifest: of the bytes as read, except that a signed schema 1
/// manifest's JWS signature is stripped first.
pub fn manifest_digest(bytes: &[u8]) -> Result<Digest> {
    if guess_mime_type(bytes) == mt::DOCKER_V2_SCHEMA1_SIGNED {
        let payload = schema1::strip_jws_signature(bytes)?;
        return Ok(Digest::sha256_of(&payload));
    }
    Ok(Digest::sha256_of(bytes))
}

/// Whether `bytes` are the manifest `expected` names, hashed with `expected`'s algorithm
/// (containers/image's `manifest.MatchesDigest`: a signed schema 1 manifest's signature is
/// stripped first).
pub fn matches_digest(bytes: &[u8], expected: &Digest) -> Result<bool> {
    if guess_mime_type(bytes) == mt::DOCKER_V2_SCHEMA1_SIGNED {
        let payload = schema1::strip_jws_signature(bytes)?;
        return Ok(expected.matches(&payload));
    }
    Ok(expected.matches(bytes))
}

/// Parse manifest bytes of MIME type `mime` (empty: guess it).
pub fn parse(bytes: &[u8], mime: &str) -> Result<AnyManifest> {
    let guessed;
    let mime = if mime.is_empty() {
        guessed = guess_mime_type(bytes);
        guessed.as_str()
    } else {
        mime
    };
    let normalized = normalized_mime_type(mime);
    fn keep<T>(bytes: &[u8], mime: &'static str, value: T) -> Parsed<T> {
        Parsed {
            bytes: bytes.to_vec(),
            mime,
            value: Box::new(value),
        }
    }
    Ok(match normalized {
        mt::DOCKER_V2_SCHEMA1 | mt::DOCKER_V2_SCHEMA1_SIGNED => AnyManifest::Image(
            Manifest::Schema1(keep(bytes, normalized, Schema1Manifest::from_bytes(bytes)?)),
        ),
        mt::DOCKER_V2_SCHEMA2 => AnyManifest::Image(Manifest::Schema2(keep(
            bytes,
            normalized,
            Schema2::from_bytes(bytes)?,
        ))),
        mt::OCI_MANIFEST => AnyManifest::Image(Manifest::Oci(keep(
            bytes,
            normalized,
            OciManifest::from_bytes(bytes)?,
        ))),
        mt::DOCKER_V2_LIST => AnyManifest::List(ManifestList::Docker(keep(
            bytes,
            normalized,
            Schema2List::from_bytes(bytes)?,
        ))),
        mt::OCI_INDEX => AnyManifest::List(ManifestList::Oci(keep(
            bytes,
            normalized,
            OciIndex::from_bytes(bytes)?,
        ))),
        other => bail!("Unimplemented manifest MIME type {other}"),
    })
}

/// Bit set of the format-identifying fields a manifest may contain
/// (containers/image `allowedManifestFields`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AllowedFields(u8);

impl AllowedFields {
    pub(crate) const CONFIG: AllowedFields = AllowedFields(1);
    pub(crate) const FS_LAYERS: AllowedFields = AllowedFields(2);
    pub(crate) const HISTORY: AllowedFields = AllowedFields(4);
    pub(crate) const LAYERS: AllowedFields = AllowedFields(8);
    pub(crate) const MANIFESTS: AllowedFields = AllowedFields(16);

    fn allows(self, other: AllowedFields) -> bool {
        self.0 & other.0 != 0
    }
}

impl std::ops::BitOr for AllowedFields {
    type Output = AllowedFields;
    fn bitor(self, rhs: AllowedFields) -> AllowedFields {
        AllowedFields(self.0 | rhs.0)
    }
}

/// Reject manifests that also carry the identifying fields of another format, so that
/// one set of bytes cannot be read as two different things
/// (containers/image `validateUnambiguousManifestFormat`).
pub(crate) fn validate_unambiguous(
    bytes: &[u8],
    expected_mime: &str,
    allowed: AllowedFields,
) -> Result<()> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(bytes)?;
    let unexpected: Vec<&str> = [
        ("config", AllowedFields::CONFIG),
        ("fsLayers", AllowedFields::FS_LAYERS),
        ("history", AllowedFields::HISTORY),
        ("layers", AllowedFields::LAYERS),
        ("manifests", AllowedFields::MANIFESTS),
    ]
    .into_iter()
    .filter(|(name, bit)| {
        !allowed.allows(*bit) && field(&object, name).is_some_and(|v| !v.is_null())
    })
    .map(|(name, _)| name)
    .collect();
    if !unexpected.is_empty() {
        let listed: Vec<String> = unexpected.iter().map(|n| format!("{n:?}")).collect();
        bail!(
            "rejecting ambiguous manifest, unexpected fields []string{{{}}} in supposedly {expected_mime}",
            listed.join(", ")
        );
    }
    Ok(())
}

/// Whether the copied layers differ from the source's, as the copy engine of
/// containers/image decides whether to update a manifest: by digest.
fn layers_changed(source: &[LayerInfo], copied: Option<&[LayerUpdate]>) -> bool {
    match copied {
        None => false,
        Some(copied) => {
            copied.len() != source.len()
                || source.iter().zip(copied).any(|(s, c)| s.digest != c.digest)
        }
    }
}

/// The embedded name and tag for a schema 1 manifest at `reference`.
fn schema1_name_and_tag(reference: Option<&crate::reference::DockerReference>) -> (String, String) {
    match reference {
        Some(r) => (
            r.path().to_string(),
            r.tag().unwrap_or_default().to_string(),
        ),
        None => (String::new(), String::new()),
    }
}

/// The outcome of converting one image manifest.
struct Converted {
    manifest: Vec<u8>,
    /// A config blob the conversion generated, if any.
    config: Option<Vec<u8>>,
    /// `manifest` is a new schema 1 manifest, still to be signed.
    needs_signature: bool,
}

impl Manifest {
    /// The MIME type the manifest was parsed as (normalized as containers/image does).
    pub fn mime_type(&self) -> &'static str {
        match self {
            Manifest::Schema1(p) => p.mime,
            Manifest::Schema2(_) => mt::DOCKER_V2_SCHEMA2,
            Manifest::Oci(_) => mt::OCI_MANIFEST,
        }
    }

    /// The bytes this manifest was parsed from.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Manifest::Schema1(p) => p.bytes(),
            Manifest::Schema2(p) => p.bytes(),
            Manifest::Oci(p) => p.bytes(),
        }
    }

    /// The parsed schema 1 manifest (embedded name, tag, architecture, v1 history), for
    /// `inspect`; `None` for other formats.
    pub fn as_schema1(&self) -> Option<&Schema1Manifest> {
        match self {
            Manifest::Schema1(p) => Some(p.value()),
            _ => None,
        }
    }

    /// Whether this is a container image (schema 1 and 2 always are; an OCI manifest only
    /// with an OCI image config, otherwise it is some other artifact).
    pub fn is_image(&self) -> bool {
        match self {
            Manifest::Oci(p) => p.value().is_image(),
            _ => true,
        }
    }

    /// Whether a layer of `media_type` may be stored in another compression
    /// (containers/image's `CanChangeLayerCompression`): only known layer types, and in an
    /// OCI manifest only of an image (an artifact's layers are copied as they are).
    pub fn can_change_layer_compression(&self, media_type: &str) -> bool {
        match self {
            Manifest::Schema1(_) => true,
            Manifest::Schema2(_) => variants::recognizes(variants::SCHEMA2_VARIANTS, media_type),
            Manifest::Oci(p) => {
                p.value().config.media_type == mt::OCI_CONFIG
                    && variants::recognizes(variants::OCI_VARIANTS, media_type)
            }
        }
    }

    /// The config blob (`None` for schema 1, whose config is embedded).
    pub fn config(&self) -> Option<BlobInfo> {
        match self {
            Manifest::Schema1(_) => None,
            Manifest::Schema2(p) => {
                let c = &p.value().config;
                Some(BlobInfo {
                    digest: c.digest.clone(),
                    size: u64::try_from(c.size).ok(),
                    media_type: c.media_type.clone(),
                })
            }
            Manifest::Oci(p) => {
                let c = &p.value().config;
                Some(BlobInfo {
                    digest: c.digest.clone(),
                    size: u64::try_from(c.size).ok(),
                    media_type: c.media_type.clone(),
                })
            }
        }
    }

    /// The layers, base first. For schema 1 this includes the "throwaway" layers
    /// (marked `empty_layer`).
    pub fn layers(&self) -> Vec<LayerInfo> {
        match self {
            Manifest::Schema1(p) => p.value().layer_infos(),
            Manifest::Schema2(p) => p.value().layers().iter().map(|l| l.layer_info()).collect(),
            Manifest::Oci(p) => p.value().layers().iter().map(|l| l.layer_info()).collect(),
        }
    }

    /// Bytes for this manifest in `target_mime` with `inputs` applied. Refuses what skopeo
    /// refuses (e.g. zstd layers in a Docker schema 2 manifest). With the same MIME type
    /// and no layer digest changed, these are the source bytes.
    pub fn convert(&self, target_mime: &str, inputs: &ConversionInputs<'_>) -> Result<Vec<u8>> {
        let converted = self.convert_all(target_mime, inputs)?;
        if converted.needs_signature {
            // Signed whichever schema 1 MIME type was asked for, as containers/image does
            // (registries refuse unsigned schema 1).
            return schema1::sign_with_throwaway_key(&converted.manifest);
        }
        Ok(converted.manifest)
    }

    /// The config blob the conversion to `target_mime` generates, which the destination
    /// must store in place of the source's; `None` when the source config blob is used as
    /// is. Takes the same arguments as [`Manifest::convert`].
    pub fn converted_config(
        &self,
        target_mime: &str,
        inputs: &ConversionInputs<'_>,
    ) -> Result<Option<Vec<u8>>> {
        Ok(self.convert_all(target_mime, inputs)?.config)
    }

    fn convert_all(&self, target_mime: &str, inputs: &ConversionInputs<'_>) -> Result<Converted> {
        let changed = layers_changed(&self.layers(), inputs.layers);
        let updates = if changed { inputs.layers } else { None };
        let to_schema1 = mt::is_schema1(target_mime);
        let need_config = || {
            inputs.config.ok_or_else(|| {
                anyhow!("converting to {target_mime} needs the source image's config blob")
            })
        };
        let (name, tag) = schema1_name_and_tag(inputs.docker_reference);
        let unchanged = |bytes: &[u8]| Converted {
            manifest: bytes.to_vec(),
            config: None,
            needs_signature: false,
        };
        let manifest_only = |manifest: Vec<u8>| Converted {
            manifest,
            config: None,
            needs_signature: false,
        };
        let schema1_manifest = |manifest: &Schema1Manifest| -> Result<Converted> {
            Ok(Converted {
                manifest: manifest.to_unsigned_bytes()?,
                config: None,
                needs_signature: true,
            })
        };
        match self {
            Manifest::Oci(p) => {
                let oci = p.value();
                if target_mime == mt::OCI_MANIFEST {
                    let Some(updates) = updates else {
                        return Ok(unchanged(p.bytes()));
                    };
                    let mut updated = oci.clone();
                    updated.update_layers(updates)?;
                    return Ok(manifest_only(updated.to_bytes()?));
                }
                if target_mime == mt::DOCKER_V2_SCHEMA2 {
                    let mut s2 = convert::oci_to_schema2(oci)?;
                    if let Some(updates) = updates {
                        s2.update_layers(updates)?;
                    }
                    return Ok(manifest_only(s2.to_bytes()?));
                }
                if to_schema1 {
                    let s2 = convert::oci_to_schema2(oci)?;
                    let s1 =
                        convert::schema2_to_schema1(&s2, need_config()?, updates, &name, &tag)?;
                    return schema1_manifest(&s1);
                }
            }
            Manifest::Schema2(p) => {
                let s2 = p.value();
                if target_mime == mt::DOCKER_V2_SCHEMA2 {
                    let Some(updates) = updates else {
                        return Ok(unchanged(p.bytes()));
                    };
                    let mut updated = s2.clone();
                    updated.update_layers(updates)?;
                    return Ok(manifest_only(updated.to_bytes()?));
                }
                if target_mime == mt::OCI_MANIFEST {
                    let (mut oci, config) = convert::schema2_to_oci(s2, need_config()?)?;
                    if let Some(updates) = updates {
                        oci.update_layers(updates)?;
                    }
                    return Ok(Converted {
                        manifest: oci.to_bytes()?,
                        config: Some(config),
                        needs_signature: false,
                    });
                }
                if to_schema1 {
                    let s1 = convert::schema2_to_schema1(s2, need_config()?, updates, &name, &tag)?;
                    return schema1_manifest(&s1);
                }
            }
            Manifest::Schema1(p) => {
                let s1 = p.value();
                if to_schema1 {
                    let reference_conflicts = inputs.docker_reference.is_some()
                        && (s1.manifest.name != name || s1.manifest.tag != tag);
                    if updates.is_none() && !reference_conflicts {
                        return Ok(unchanged(p.bytes()));
                    }
                    let mut updated = s1.clone();
                    if let Some(updates) = updates {
                        updated.update_layers(updates)?;
                    }
                    if reference_conflicts {
                        updated.set_reference(&name, &tag);
                    }
                    return schema1_manifest(&updated);
                }
                if target_mime == mt::DOCKER_V2_SCHEMA2 || target_mime == mt::OCI_MANIFEST {
                    let copied = inputs.layers.ok_or_else(|| {
                        anyhow!("converting a schema 1 manifest needs the copied layers (for their sizes)")
                    })?;
                    let diff_ids = inputs.diff_ids.ok_or_else(|| {
                        anyhow!("converting a schema 1 manifest needs the layers' DiffIDs")
                    })?;
                    let (mut s2, config, converted_updates) =
                        convert::schema1_to_schema2(s1, copied, diff_ids)?;
                    if target_mime == mt::DOCKER_V2_SCHEMA2 {
                        if changed {
                            s2.update_layers(&converted_updates)?;
                        }
                        return Ok(Converted {
                            manifest: s2.to_bytes()?,
                            config: Some(config),
                            needs_signature: false,
                        });
                    }
                    let (mut oci, oci_config) = convert::schema2_to_oci(&s2, &config)?;
                    if changed {
                        oci.update_layers(&converted_updates)?;
                    }
                    return Ok(Converted {
                        manifest: oci.to_bytes()?,
                        config: Some(oci_config),
                        needs_signature: false,
                    });
                }
            }
        }
        bail!("Unsupported conversion type: {target_mime}")
    }
}

impl ManifestList {
    /// `application/vnd.docker.distribution.manifest.list.v2+json` or the OCI index type.
    pub fn mime_type(&self) -> &'static str {
        match self {
            ManifestList::Docker(_) => mt::DOCKER_V2_LIST,
            ManifestList::Oci(_) => mt::OCI_INDEX,
        }
    }

    /// The bytes this list was parsed from.
    pub fn bytes(&self) -> &[u8] {
        match self {
            ManifestList::Docker(p) => p.bytes(),
            ManifestList::Oci(p) => p.bytes(),
        }
    }

    /// The entries, in list order.
    pub fn instances(&self) -> Vec<ListInstance> {
        match self {
            ManifestList::Docker(p) => p.value().manifests().iter().map(|m| m.instance()).collect(),
            ManifestList::Oci(p) => p.value().manifests().iter().map(|m| m.instance()).collect(),
        }
    }

    /// The instance to use on `wanted`, as containers/image 5.23 chooses it: for each
    /// compatible platform in order of preference (see [`Platform::compatible_platforms`]),
    /// the first entry in list order with exactly that os/architecture/variant; an OCI index
    /// then falls back to its first entry without a platform. (5.23 does not prefer zstd
    /// instances.) Otherwise skopeo's error, e.g.
    /// `no image found in manifest list for architecture "mips", variant "", OS "linux"`
    /// (`image index` instead of `manifest list` for OCI).
    pub fn choose_instance(&self, wanted: &Platform) -> Result<Digest> {
        match self {
            ManifestList::Docker(p) => p.value().choose(wanted),
            ManifestList::Oci(p) => p.value().choose(wanted),
        }
    }

    /// Bytes for this list in `target_mime` (list ↔ index), with instances replaced per
    /// `updates` (old digest → new instance descriptor) and instances not in `keep`
    /// dropped when `keep` is given. The list is rebuilt as containers/image rebuilds it
    /// (which drops fields it does not know); when that gives the same bytes as
    /// re-encoding the source, the source bytes are returned unchanged.
    pub fn convert(
        &self,
        target_mime: &str,
        updates: &[(Digest, ListInstance)],
        keep: Option<&[Digest]>,
    ) -> Result<Vec<u8>> {
        let target = normalized_mime_type(target_mime);
        let (original, rebuilt) = match self {
            ManifestList::Docker(p) => {
                if !mt::is_list(target) {
                    bail!(
                        "Can not convert manifest list to MIME type {}, which is not a list type",
                        crate::go::text::go_quote(target_mime)
                    );
                }
                let mut updated = p.value().rebuilt();
                list::update_entries(
                    updated.manifests.get_or_insert_with(Vec::new),
                    updates,
                    keep,
                )?;
                let rebuilt = if target == mt::OCI_INDEX {
                    crate::go::json::to_vec(&updated.to_oci_index().rebuilt())?
                } else {
                    crate::go::json::to_vec(&updated)?
                };
                (crate::go::json::to_vec(p.value())?, rebuilt)
            }
            ManifestList::Oci(p) => {
                if !mt::is_list(target) {
                    bail!(
                        "Can not convert image index to MIME type {}, which is not a list type",
                        crate::go::text::go_quote(target_mime)
                    );
                }
                let mut updated = p.value().rebuilt();
                list::update_entries(
                    updated.manifests.get_or_insert_with(Vec::new),
                    updates,
                    keep,
                )?;
                let rebuilt = if target == mt::DOCKER_V2_LIST {
                    crate::go::json::to_vec(&updated.to_schema2_list().rebuilt())?
                } else {
                    crate::go::json::to_vec(&updated)?
                };
                (crate::go::json::to_vec(p.value())?, rebuilt)
            }
        };
        if rebuilt == original {
            return Ok(self.bytes().to_vec());
        }
        Ok(rebuilt)
    }
}
