//! Docker manifest lists and OCI image indexes (containers/image `manifest.Schema2List`
//! and `manifest.OCI1Index`), their conversions into each other, and choosing the
//! instance for a platform.

use std::collections::BTreeMap;

use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::media_type as mt;
use crate::platform::Platform;
use crate::Result;

use super::oci::{OciDescriptor, OciPlatform};
use super::{validate_unambiguous, AllowedFields, ListInstance};
use crate::go::json::{is_empty_str, null_default, some_empty};
use crate::go::text::go_quote;

/// The platform of a Docker manifest list entry (`Schema2PlatformSpec`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Schema2PlatformSpec {
    /// The CPU architecture (`GOARCH` spelling: `amd64`, `arm64`, …).
    #[serde(default, deserialize_with = "null_default")]
    pub architecture: String,
    /// The operating system (`GOOS` spelling: `linux`, `windows`, …).
    #[serde(default, deserialize_with = "null_default")]
    pub os: String,
    /// The operating system's version (`os.version`; Windows images name their build).
    #[serde(
        rename = "os.version",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub os_version: String,
    /// OS features the image needs (`os.features`, Windows).
    #[serde(
        rename = "os.features",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub os_features: Vec<String>,
    /// The CPU variant (`v7` for arm, `v8` for arm64), when there is one.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub variant: String,
    /// Removed in OCI.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub features: Vec<String>,
}

/// An entry of a Docker manifest list (`Schema2ManifestDescriptor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema2ManifestDescriptor {
    /// The media type of the entry's manifest.
    #[serde(rename = "mediaType", default, deserialize_with = "null_default")]
    pub media_type: String,
    /// The size of the entry's manifest in bytes.
    #[serde(default, deserialize_with = "null_default")]
    pub size: i64,
    /// The digest of the entry's manifest.
    pub digest: Digest,
    /// Where else the manifest can be downloaded; unused in practice.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub urls: Vec<String>,
    /// The platform the image is for.
    #[serde(default, deserialize_with = "null_default")]
    pub platform: Schema2PlatformSpec,
}

/// A Docker manifest list (`Schema2List`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema2List {
    /// Always 2.
    #[serde(rename = "schemaVersion", default, deserialize_with = "null_default")]
    pub schema_version: i64,
    /// `application/vnd.docker.distribution.manifest.list.v2+json`.
    #[serde(rename = "mediaType", default, deserialize_with = "null_default")]
    pub media_type: String,
    /// `None` is Go's nil slice (an explicit `null`).
    #[serde(default = "some_empty")]
    pub manifests: Option<Vec<Schema2ManifestDescriptor>>,
}

/// An OCI image index (`specs-go/v1.Index` of image-spec v1.1.0-rc2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciIndex {
    /// Always 2.
    #[serde(rename = "schemaVersion", default, deserialize_with = "null_default")]
    pub schema_version: i64,
    /// `application/vnd.oci.image.index.v1+json`, or empty (the field is optional in OCI).
    #[serde(
        rename = "mediaType",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub media_type: String,
    /// `None` is Go's nil slice (an explicit `null`).
    #[serde(default = "some_empty")]
    pub manifests: Option<Vec<OciDescriptor>>,
    /// Arbitrary metadata on the index (`org.opencontainers.image.*`).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
}

impl Schema2List {
    /// Parse as containers/image's `Schema2ListFromManifest` does.
    pub fn from_bytes(bytes: &[u8]) -> Result<Schema2List> {
        let list: Schema2List = serde_json::from_slice(bytes)
            .with_context(|| format!("unmarshaling Schema2List {}", quoted_text(bytes)))?;
        validate_unambiguous(bytes, mt::DOCKER_V2_LIST, AllowedFields::MANIFESTS)?;
        Ok(list)
    }

    /// The entries (none for a nil `manifests`).
    pub fn manifests(&self) -> &[Schema2ManifestDescriptor] {
        self.manifests.as_deref().unwrap_or_default()
    }

    /// A copy rebuilt from its entries, as `Schema2ListClone` / `Schema2ListFromComponents`
    /// do (the list media type is set to the Docker one).
    pub fn rebuilt(&self) -> Schema2List {
        Schema2List {
            schema_version: 2,
            media_type: mt::DOCKER_V2_LIST.to_string(),
            manifests: Some(self.manifests().to_vec()),
        }
    }

    /// The equivalent OCI index (`ToOCI1Index`).
    pub fn to_oci_index(&self) -> OciIndex {
        let manifests = self
            .manifests()
            .iter()
            .map(|m| {
                let mut d = OciDescriptor::new(&m.media_type, m.digest.clone(), m.size);
                d.urls = m.urls.clone();
                d.platform = Some(OciPlatform {
                    architecture: m.platform.architecture.clone(),
                    os: m.platform.os.clone(),
                    os_version: m.platform.os_version.clone(),
                    os_features: m.platform.os_features.clone(),
                    variant: m.platform.variant.clone(),
                });
                d
            })
            .collect();
        OciIndex {
            schema_version: 2,
            media_type: mt::OCI_INDEX.to_string(),
            manifests: Some(manifests),
            annotations: BTreeMap::new(),
        }
    }
}

impl OciIndex {
    /// Parse as containers/image's `OCI1IndexFromManifest` does.
    pub fn from_bytes(bytes: &[u8]) -> Result<OciIndex> {
        let index: OciIndex = serde_json::from_slice(bytes)
            .with_context(|| format!("unmarshaling OCI1Index {}", quoted_text(bytes)))?;
        validate_unambiguous(bytes, mt::OCI_INDEX, AllowedFields::MANIFESTS)?;
        Ok(index)
    }

    /// The entries (none for a nil `manifests`).
    pub fn manifests(&self) -> &[OciDescriptor] {
        self.manifests.as_deref().unwrap_or_default()
    }

    /// A copy rebuilt from its entries, as `OCI1IndexClone` / `OCI1IndexFromComponents` do:
    /// only media type, size, digest, URLs, annotations and platform of each entry survive.
    pub fn rebuilt(&self) -> OciIndex {
        let manifests = self
            .manifests()
            .iter()
            .map(|m| {
                let mut d = OciDescriptor::new(&m.media_type, m.digest.clone(), m.size);
                d.urls = m.urls.clone();
                d.annotations = m.annotations.clone();
                d.platform = m.platform.clone();
                d
            })
            .collect();
        OciIndex {
            schema_version: 2,
            media_type: mt::OCI_INDEX.to_string(),
            manifests: Some(manifests),
            annotations: self.annotations.clone(),
        }
    }

    /// The equivalent Docker list (`ToSchema2List`); entries without a platform get the
    /// platform skopos runs on.
    pub fn to_schema2_list(&self) -> Schema2List {
        let host = Platform::wanted(None, None, None);
        let manifests = self
            .manifests()
            .iter()
            .map(|m| {
                let platform = match &m.platform {
                    Some(p) => Schema2PlatformSpec {
                        architecture: p.architecture.clone(),
                        os: p.os.clone(),
                        os_version: p.os_version.clone(),
                        os_features: p.os_features.clone(),
                        variant: p.variant.clone(),
                        features: Vec::new(),
                    },
                    None => Schema2PlatformSpec {
                        architecture: host.architecture.clone(),
                        os: host.os.clone(),
                        ..Default::default()
                    },
                };
                Schema2ManifestDescriptor {
                    media_type: m.media_type.clone(),
                    size: m.size,
                    digest: m.digest.clone(),
                    urls: m.urls.clone(),
                    platform,
                }
            })
            .collect();
        Schema2List {
            schema_version: 2,
            media_type: mt::DOCKER_V2_LIST.to_string(),
            manifests: Some(manifests),
        }
    }
}

/// The core platform of a list entry.
fn core_platform(architecture: &str, os: &str, variant: &str) -> Platform {
    Platform {
        os: os.to_string(),
        architecture: architecture.to_string(),
        variant: (!variant.is_empty()).then(|| variant.to_string()),
    }
}

impl Schema2ManifestDescriptor {
    pub(crate) fn instance(&self) -> ListInstance {
        ListInstance {
            digest: self.digest.clone(),
            // Go keeps sizes as int64; a negative one means "unknown" and reads as 0 here.
            size: u64::try_from(self.size).unwrap_or(0),
            media_type: self.media_type.clone(),
            platform: Some(core_platform(
                &self.platform.architecture,
                &self.platform.os,
                &self.platform.variant,
            )),
        }
    }
}

impl OciDescriptor {
    pub(crate) fn instance(&self) -> ListInstance {
        ListInstance {
            digest: self.digest.clone(),
            size: u64::try_from(self.size).unwrap_or(0),
            media_type: self.media_type.clone(),
            platform: self
                .platform
                .as_ref()
                .map(|p| core_platform(&p.architecture, &p.os, &p.variant)),
        }
    }
}

/// Manifest bytes as Go's `%q` of `string(manifest)` shows them in parse errors.
fn quoted_text(bytes: &[u8]) -> String {
    go_quote(&String::from_utf8_lossy(bytes))
}

/// Whether an entry's platform is exactly one of the wanted platforms.
fn matches(architecture: &str, os: &str, variant: &str, wanted: &Platform) -> bool {
    architecture == wanted.architecture
        && os == wanted.os
        && variant == wanted.variant.as_deref().unwrap_or_default()
}

/// The "no image found" error, naming the first (most preferred) wanted platform.
fn no_match(kind: &str, wanted: &[Platform]) -> anyhow::Error {
    let first = wanted.first().cloned().unwrap_or_default();
    anyhow::anyhow!(
        "no image found in {kind} for architecture {}, variant {}, OS {}",
        go_quote(&first.architecture),
        go_quote(first.variant.as_deref().unwrap_or_default()),
        go_quote(&first.os)
    )
}

impl Schema2List {
    /// The first entry matching the most preferred wanted platform (`ChooseInstance`).
    pub fn choose(&self, wanted: &Platform) -> Result<Digest> {
        let candidates = wanted.compatible_platforms();
        for candidate in &candidates {
            for m in self.manifests() {
                let p = &m.platform;
                if matches(&p.architecture, &p.os, &p.variant, candidate) {
                    return Ok(m.digest.clone());
                }
            }
        }
        Err(no_match("manifest list", &candidates))
    }
}

impl OciIndex {
    /// The first entry matching the most preferred wanted platform, else the first entry
    /// without a platform (`ChooseInstance`).
    pub fn choose(&self, wanted: &Platform) -> Result<Digest> {
        let candidates = wanted.compatible_platforms();
        for candidate in &candidates {
            for m in self.manifests() {
                let Some(p) = &m.platform else { continue };
                if matches(&p.architecture, &p.os, &p.variant, candidate) {
                    return Ok(m.digest.clone());
                }
            }
        }
        if let Some(m) = self.manifests().iter().find(|m| m.platform.is_none()) {
            return Ok(m.digest.clone());
        }
        Err(no_match("image index", &candidates))
    }
}

/// An entry of a Docker manifest list or OCI index: what an instance update changes.
pub(crate) trait ListEntry {
    fn digest(&self) -> &Digest;
    /// Point the entry at `new`: its digest, size and media type.
    fn point_at(&mut self, new: &ListInstance) -> Result<()>;
}

/// Both entry types carry the same three fields under the same names.
macro_rules! list_entry {
    ($($entry:ty),*) => {$(
        impl ListEntry for $entry {
            fn digest(&self) -> &Digest {
                &self.digest
            }

            fn point_at(&mut self, new: &ListInstance) -> Result<()> {
                self.digest = new.digest.clone();
                self.size = i64::try_from(new.size)?;
                self.media_type = new.media_type.clone();
                Ok(())
            }
        }
    )*};
}

list_entry!(Schema2ManifestDescriptor, OciDescriptor);

/// Apply instance replacements (old digest → new descriptor) and the `keep` filter to a
/// list of entries, in place.
pub(crate) fn update_entries<T: ListEntry>(
    entries: &mut Vec<T>,
    updates: &[(Digest, ListInstance)],
    keep: Option<&[Digest]>,
) -> Result<()> {
    if let Some(keep) = keep {
        entries.retain(|e| keep.contains(e.digest()));
    }
    for entry in entries.iter_mut() {
        let current = entry.digest().clone();
        if let Some((_, new)) = updates.iter().find(|(old, _)| *old == current) {
            if new.media_type.is_empty() {
                bail!("update for instance {current} passed to the list update had no media type");
            }
            entry.point_at(new)?;
        }
    }
    Ok(())
}
