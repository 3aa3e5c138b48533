//! What sits beside an image in its repository: OCI 1.1 referrers (manifests whose
//! `subject` is the image: signatures, SBOMs, attestations) and cosign's tag-attached
//! artifacts (`sha256-<hex>.sig`, `.att`, `.sbom`).
//!
//! Transports that have repositories (`docker://`, `oci:`) implement
//! [`ReferrersSource`] and [`ReferrersDestination`]; the copy engine moves referrers
//! between them as it moves images, knowing neither.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::image::{ImageDestination, ImageSource};
use crate::{media_type, Result};

/// The tag under which the referrers tag schema keeps the referrers of `subject`:
/// `<alg>-<hex>` (OCI distribution-spec 1.1, "Referrers Tag Schema").
pub fn fallback_tag(subject: &Digest) -> String {
    format!("{}-{}", subject.algorithm().name(), subject.hex())
}

/// cosign's tags for what it attaches to `subject`: signatures, attestations, SBOMs.
pub fn cosign_tags(subject: &Digest) -> [String; 3] {
    let base = fallback_tag(subject);
    [
        format!("{base}.sig"),
        format!("{base}.att"),
        format!("{base}.sbom"),
    ]
}

/// The media type of the empty config blob of artifacts (image-spec 1.1).
pub const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";

/// One referrer, as the referrers API and the tag-schema index list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referrer {
    /// The referrer manifest's media type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// The referrer manifest's digest.
    pub digest: Digest,
    /// The referrer manifest's size in bytes.
    pub size: u64,
    /// Its `artifactType`, else its config's media type (distribution-spec 1.1).
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    /// The referrer manifest's annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// The fields of a manifest or index that say what it refers to and what it is.
#[derive(Deserialize)]
struct ReferrerFields {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(rename = "artifactType", default)]
    artifact_type: Option<String>,
    #[serde(default)]
    config: Option<ConfigField>,
    #[serde(default)]
    subject: Option<SubjectField>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct ConfigField {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
}

#[derive(Deserialize)]
struct SubjectField {
    digest: Digest,
}

impl Referrer {
    /// The descriptor listing `manifest` (of MIME type `mime`, `""` when unknown) among
    /// its subject's referrers, with the subject it names; `None` when the manifest has
    /// no `subject` (it is not a referrer).
    pub fn from_manifest(manifest: &[u8], mime: &str) -> Result<Option<(Digest, Referrer)>> {
        let fields: ReferrerFields = serde_json::from_slice(manifest)
            .map_err(|err| anyhow::anyhow!("parsing a referrer manifest: {err}"))?;
        let Some(subject) = fields.subject else {
            return Ok(None);
        };
        let media_type = match (mime, fields.media_type) {
            ("", Some(declared)) => declared,
            ("", None) => media_type::OCI_MANIFEST.to_string(),
            (given, _) => given.to_string(),
        };
        let artifact_type = fields
            .artifact_type
            .filter(|t| !t.is_empty())
            .or_else(|| fields.config.and_then(|c| c.media_type));
        Ok(Some((
            subject.digest,
            Referrer {
                media_type,
                digest: Digest::sha256_of(manifest),
                size: manifest.len() as u64,
                artifact_type,
                annotations: fields.annotations.filter(|a| !a.is_empty()),
            },
        )))
    }

    /// Whether this referrer passes an artifact-type filter (empty: everything passes).
    pub fn matches(&self, artifact_types: &[String]) -> bool {
        artifact_types.is_empty()
            || self
                .artifact_type
                .as_ref()
                .is_some_and(|t| artifact_types.contains(t))
    }
}

/// An OCI image index listing referrers: the referrers API's answer and the tag
/// schema's index, which have the same shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReferrersIndex {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// Always the OCI index type.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// The referrers.
    #[serde(default)]
    pub manifests: Vec<Referrer>,
}

impl ReferrersIndex {
    /// An index of `referrers`.
    pub fn new(referrers: Vec<Referrer>) -> ReferrersIndex {
        ReferrersIndex {
            schema_version: 2,
            media_type: media_type::OCI_INDEX.to_string(),
            manifests: referrers,
        }
    }

    /// Parse an index as a registry or a layout stores it.
    pub fn parse(bytes: &[u8]) -> Result<ReferrersIndex> {
        serde_json::from_slice(bytes)
            .map_err(|err| anyhow::anyhow!("parsing a referrers index: {err}"))
    }

    /// Add `referrer` unless a descriptor of the same digest is there; whether it was added.
    pub fn merge(&mut self, referrer: &Referrer) -> bool {
        if self.contains(&referrer.digest) {
            return false;
        }
        self.manifests.push(referrer.clone());
        true
    }

    /// Whether the index lists the referrer `digest`.
    pub fn contains(&self, digest: &Digest) -> bool {
        self.manifests.iter().any(|r| &r.digest == digest)
    }

    /// The bytes stored: compact JSON.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(self)?)
    }
}

/// Reading the referrers and tag-attached artifacts of images in one repository.
#[async_trait]
pub trait ReferrersSource: Send + Sync {
    /// The referrers of `subject` whose artifact type is one of `artifact_types` (all of
    /// them when empty). Where the repository cannot list referrers any other way, the
    /// referrers tag schema's index is read.
    async fn referrers(&self, subject: &Digest, artifact_types: &[String])
        -> Result<Vec<Referrer>>;

    /// Whether the repository holds the manifest `digest`.
    async fn has_manifest(&self, digest: &Digest) -> Result<bool>;

    /// The digest the tag `tag` points to, `None` when there is no such tag.
    async fn tag_digest(&self, tag: &str) -> Result<Option<Digest>>;

    /// The manifest `digest` of this repository, opened as an image source.
    async fn open_manifest(&self, digest: &Digest) -> Result<Box<dyn ImageSource>>;
}

/// Writing referrers and tag-attached artifacts into one repository.
#[async_trait]
pub trait ReferrersDestination: Send + Sync {
    /// A destination for one manifest of this repository: under `tag`, or known by its
    /// digest only (`None`).
    async fn open_manifest(&self, tag: Option<&str>) -> Result<Box<dyn ImageDestination>>;

    /// Make `referrer` (already written through [`Self::open_manifest`]) findable among
    /// `subject`'s referrers: nothing to do where the repository indexes subjects itself,
    /// otherwise merge it into the tag schema's index without losing what concurrent
    /// writers add.
    async fn add_referrer(&self, subject: &Digest, referrer: &Referrer) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_with_a_subject_is_a_referrer() {
        let subject = Digest::sha256_of(b"image");
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","artifactType":"application/spdx+json","config":{{"mediaType":"{EMPTY_CONFIG}","digest":"{}","size":2}},"layers":[],"subject":{{"mediaType":"{}","digest":"{subject}","size":1}},"annotations":{{"a":"b"}}}}"#,
            media_type::OCI_MANIFEST,
            Digest::sha256_of(b"{}"),
            media_type::OCI_MANIFEST
        );
        let (named, referrer) = Referrer::from_manifest(manifest.as_bytes(), "")
            .unwrap()
            .unwrap();
        assert_eq!(named, subject);
        assert_eq!(referrer.media_type, media_type::OCI_MANIFEST);
        assert_eq!(referrer.digest, Digest::sha256_of(manifest.as_bytes()));
        assert_eq!(
            referrer.artifact_type.as_deref(),
            Some("application/spdx+json")
        );
        assert!(referrer.matches(&[]));
        assert!(referrer.matches(&["application/spdx+json".to_string()]));
        assert!(!referrer.matches(&["application/other".to_string()]));
    }

    #[test]
    fn the_config_type_stands_in_for_a_missing_artifact_type() {
        let manifest = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"application/x-sig","digest":"{d}","size":2}},"subject":{{"digest":"{d}","size":1}}}}"#,
            d = Digest::sha256_of(b"x")
        );
        let (_, referrer) = Referrer::from_manifest(manifest.as_bytes(), "")
            .unwrap()
            .unwrap();
        assert_eq!(referrer.artifact_type.as_deref(), Some("application/x-sig"));
        assert_eq!(referrer.annotations, None);
        assert!(Referrer::from_manifest(br#"{"schemaVersion":2}"#, "")
            .unwrap()
            .is_none());
        assert!(Referrer::from_manifest(b"not json", "").is_err());
    }

    #[test]
    fn merging_keeps_one_entry_per_digest() {
        let referrer = |seed: &[u8]| Referrer {
            media_type: media_type::OCI_MANIFEST.to_string(),
            digest: Digest::sha256_of(seed),
            size: 3,
            artifact_type: None,
            annotations: None,
        };
        let mut index = ReferrersIndex::new(vec![referrer(b"a")]);
        assert!(!index.merge(&referrer(b"a")));
        assert!(index.merge(&referrer(b"b")));
        let again = ReferrersIndex::parse(&index.to_bytes().unwrap()).unwrap();
        assert_eq!(again.manifests.len(), 2);
        assert!(again.contains(&Digest::sha256_of(b"b")));
        assert_eq!(
            fallback_tag(&Digest::sha256_of(b"a")),
            format!("sha256-{}", Digest::sha256_of(b"a").hex())
        );
        assert!(cosign_tags(&Digest::sha256_of(b"a"))[2].ends_with(".sbom"));
    }
}
