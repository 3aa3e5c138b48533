//! `index.json`: its data model, written back byte for byte as skopeo writes it, and the
//! rules for finding an image in it and adding one to it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::anyhow;
use serde::{Deserialize, Serialize};
use skopos_core::go::json::null_default;
use skopos_core::manifest::oci::OciPlatform;
use skopos_core::media_type;
use skopos_core::reference::OciImage;
use skopos_core::{Digest, ImageNotFound, Result};

/// The annotation that names an image in a layout (`oci:PATH:NAME`).
pub(crate) const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// An OCI image index as skopeo's Go structs hold it: the fields below in this order
/// (Go's field order is the output order), unknown fields dropped, empty optional fields
/// omitted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Index {
    #[serde(rename = "schemaVersion", default, deserialize_with = "null_default")]
    pub schema_version: i64,
    #[serde(
        rename = "mediaType",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub media_type: String,
    #[serde(
        rename = "artifactType",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub artifact_type: String,
    /// `None` (missing or `null`) is written back as `null`, as Go does with a nil slice.
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
}

/// An OCI content descriptor. `digest` stays a string: Go does not validate it when
/// reading, only when a blob path is made from it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Descriptor {
    #[serde(
        rename = "mediaType",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub media_type: String,
    #[serde(default, deserialize_with = "null_default")]
    pub digest: String,
    #[serde(default, deserialize_with = "null_default")]
    pub size: i64,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub urls: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    /// Base64 content (image-spec 1.1); kept as the string it was.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<OciPlatform>,
    #[serde(
        rename = "artifactType",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub artifact_type: String,
}

impl Descriptor {
    /// The value of the ref-name annotation, `""` when absent (as Go's map lookup).
    pub fn ref_name(&self) -> &str {
        self.annotations
            .get(REF_NAME_ANNOTATION)
            .map_or("", String::as_str)
    }

    /// The digest, validated: it becomes a file name.
    pub fn parsed_digest(&self) -> Result<Digest> {
        self.digest
            .parse()
            .map_err(|err| anyhow!("unexpected digest reference {}: {err}", self.digest))
    }
}

impl Index {
    /// Which blob holds the manifest a source is asked for, and its MIME type: the chosen
    /// image's own when `instance` is `None`, else the instance's, with the media type
    /// `index.json` gives its digest (if any), as c/image's OCI sources report it.
    pub fn manifest_location(
        &self,
        chosen: &Descriptor,
        instance: Option<&Digest>,
    ) -> Result<(Digest, String)> {
        match instance {
            None => Ok((chosen.parsed_digest()?, chosen.media_type.clone())),
            Some(digest) => Ok((digest.clone(), self.media_type_of(digest).to_string())),
        }
    }

    /// A fresh index, as skopeo 1.22.2 starts one: with the index `mediaType` (1.9.3 had
    /// none). An existing index keeps whatever it has.
    pub fn new() -> Index {
        Index {
            schema_version: 2,
            media_type: media_type::OCI_INDEX.to_string(),
            ..Index::default()
        }
    }

    /// Parse `index.json` (at `path`, for messages). Like Go's `json.Decoder`, only the
    /// first JSON value counts.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Index> {
        let mut values = serde_json::Deserializer::from_slice(bytes).into_iter::<Index>();
        match values.next() {
            Some(Ok(index)) => Ok(index),
            Some(Err(err)) => Err(anyhow!("parsing {}: {err}", path.display())),
            None => Err(anyhow!("parsing {}: the file is empty", path.display())),
        }
    }

    /// The bytes skopeo writes: Go's compact `json.Marshal`, no trailing newline.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(skopos_core::go::json::to_vec(self)?)
    }

    pub fn manifests(&self) -> &[Descriptor] {
        self.manifests.as_deref().unwrap_or_default()
    }

    /// The descriptor `image` designates.
    pub fn find(&self, image: &OciImage) -> Result<Descriptor> {
        let position = self.position_of(image)?;
        Ok(self.manifests()[position].clone())
    }

    /// Where in `manifests` the descriptor `image` designates is.
    pub fn position_of(&self, image: &OciImage) -> Result<usize> {
        let manifests = self.manifests();
        match image {
            OciImage::Only => match manifests {
                [_] => Ok(0),
                _ => Err(anyhow!("more than one image in oci, choose an image")),
            },
            OciImage::Index(position) if *position < manifests.len() => Ok(*position),
            OciImage::Index(position) => Err(anyhow!(
                "index {position} is too large, only {} entries available",
                manifests.len()
            )),
            OciImage::Named(name) => {
                let mut unsupported = Vec::new();
                for (position, descriptor) in manifests.iter().enumerate() {
                    if descriptor.ref_name() != name {
                        continue;
                    }
                    if is_image_type(&descriptor.media_type) {
                        return Ok(position);
                    }
                    unsupported.push(format!("{:?}", descriptor.media_type));
                }
                if unsupported.is_empty() {
                    Err(ImageNotFound(format!("no descriptor found for reference {name:?}")).into())
                } else {
                    Err(anyhow!(
                        "reference {name:?} matches unsupported manifest MIME types [{}]",
                        unsupported.join(" ")
                    ))
                }
            }
        }
    }

    /// Drop the entry at `position` (an empty list stays `[]`, not `null`, as Go's
    /// `slices.Delete` leaves it).
    pub fn remove(&mut self, position: usize) {
        if let Some(manifests) = self.manifests.as_mut() {
            if position < manifests.len() {
                manifests.remove(position);
            }
        }
    }

    /// The media type the index records for `digest`, `""` if none.
    pub fn media_type_of(&self, digest: &Digest) -> &str {
        let wanted = digest.to_string();
        self.manifests()
            .iter()
            .find(|d| d.digest == wanted)
            .map_or("", |d| d.media_type.as_str())
    }

    /// Add the descriptor of a newly written image, with skopeo's rules: a name moves
    /// off the (first) older entry that had it, which stays; an unnamed entry with the
    /// same digest is replaced; anything else is appended.
    pub fn add(&mut self, new: Descriptor) {
        let manifests = self.manifests.get_or_insert_with(Vec::new);
        let name = new.ref_name().to_string();
        if !name.is_empty() {
            if let Some(old) = manifests.iter_mut().find(|d| d.ref_name() == name) {
                old.annotations.remove(REF_NAME_ANNOTATION);
            }
        }
        match manifests
            .iter_mut()
            .find(|d| d.digest == new.digest && d.ref_name().is_empty())
        {
            Some(same) => *same = new,
            None => manifests.push(new),
        }
    }
}

/// The manifest types a name may designate.
fn is_image_type(mime: &str) -> bool {
    [
        media_type::OCI_MANIFEST,
        media_type::OCI_INDEX,
        media_type::DOCKER_V2_SCHEMA2,
        media_type::DOCKER_V2_LIST,
    ]
    .contains(&mime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use skopos_core::error::is_image_not_found;

    fn descriptor(digest_seed: &str, name: Option<&str>) -> Descriptor {
        let mut annotations = BTreeMap::new();
        if let Some(name) = name {
            annotations.insert(REF_NAME_ANNOTATION.to_string(), name.to_string());
        }
        Descriptor {
            media_type: media_type::OCI_MANIFEST.to_string(),
            digest: Digest::sha256_of(digest_seed.as_bytes()).to_string(),
            size: 10,
            annotations,
            ..Descriptor::default()
        }
    }

    fn names(index: &Index) -> Vec<(String, String)> {
        index
            .manifests()
            .iter()
            .map(|d| (d.digest.clone(), d.ref_name().to_string()))
            .collect()
    }

    #[test]
    fn a_name_moves_to_the_new_entry_and_the_old_one_stays() {
        let mut index = Index::new();
        index.add(descriptor("a", Some("v1")));
        index.add(descriptor("b", Some("v1")));
        let a = Digest::sha256_of(b"a").to_string();
        let b = Digest::sha256_of(b"b").to_string();
        assert_eq!(
            names(&index),
            vec![(a.clone(), String::new()), (b.clone(), "v1".to_string())]
        );
        // The old entry lost its only annotation: none is written for it.
        assert!(index.manifests()[0].annotations.is_empty());
        // Writing `a` again unnamed replaces the unnamed `a`.
        index.add(descriptor("a", None));
        assert_eq!(names(&index).len(), 2);
        // The same image under the same name again: still one entry per digest.
        index.add(descriptor("b", Some("v1")));
        assert_eq!(
            names(&index),
            vec![(a, String::new()), (b, "v1".to_string())]
        );
    }

    #[test]
    fn a_named_entry_with_the_same_digest_is_not_replaced() {
        let mut index = Index::new();
        index.add(descriptor("a", Some("v1")));
        index.add(descriptor("a", Some("v2")));
        let a = Digest::sha256_of(b"a").to_string();
        assert_eq!(
            names(&index),
            vec![(a.clone(), "v1".to_string()), (a, "v2".to_string())]
        );
    }

    #[test]
    fn only_the_first_holder_of_a_duplicate_name_loses_it() {
        let mut index = Index::new();
        index.manifests = Some(vec![descriptor("a", Some("x")), descriptor("b", Some("x"))]);
        index.add(descriptor("c", Some("x")));
        let got: Vec<String> = names(&index).into_iter().map(|(_, n)| n).collect();
        assert_eq!(got, vec!["", "x", "x"]);
    }

    #[test]
    fn lookups_follow_skopeo() {
        let mut index = Index::new();
        index.add(descriptor("a", Some("one")));
        index.add(descriptor("b", Some("two")));
        let mut config = descriptor("c", Some("cfg"));
        config.media_type = media_type::OCI_CONFIG.to_string();
        index.add(config);

        let err = index.find(&OciImage::Only).unwrap_err();
        assert_eq!(
            err.to_string(),
            "more than one image in oci, choose an image"
        );
        let found = index.find(&OciImage::Named("two".into())).unwrap();
        assert_eq!(found.digest, Digest::sha256_of(b"b").to_string());
        let found = index.find(&OciImage::Index(0)).unwrap();
        assert_eq!(found.digest, Digest::sha256_of(b"a").to_string());

        let err = index.find(&OciImage::Index(3)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "index 3 is too large, only 3 entries available"
        );
        let err = index.find(&OciImage::Named("nope".into())).unwrap_err();
        assert!(is_image_not_found(&err));
        assert_eq!(
            err.to_string(),
            "no descriptor found for reference \"nope\""
        );
        let err = index.find(&OciImage::Named("cfg".into())).unwrap_err();
        assert!(!is_image_not_found(&err));
        assert_eq!(
            err.to_string(),
            "reference \"cfg\" matches unsupported manifest MIME types \
             [\"application/vnd.oci.image.config.v1+json\"]"
        );
        assert!(Index::new().find(&OciImage::Only).is_err());
    }

    #[test]
    fn round_trip_keeps_go_order_and_drops_unknown_fields() {
        let input = br#"{"manifests":[{"size":3,"digest":"sha256:abc","platform":{"os":"linux","architecture":"arm64","variant":"v8"},"extra":1,"annotations":{"b":"2","a":"1<&>"}}],"schemaVersion":2,"unknown":true} trailing"#;
        let index = Index::parse(input, Path::new("index.json")).unwrap();
        assert_eq!(
            String::from_utf8(index.to_bytes().unwrap()).unwrap(),
            r#"{"schemaVersion":2,"manifests":[{"digest":"sha256:abc","size":3,"annotations":{"a":"1\u003c\u0026\u003e","b":"2"},"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}"#
        );
        let empty = Index::parse(br#"{"schemaVersion":2,"manifests":null}"#, Path::new("i"));
        assert_eq!(
            empty.unwrap().to_bytes().unwrap(),
            br#"{"schemaVersion":2,"manifests":null}"#
        );
    }

    #[test]
    fn malformed_index_is_one_clear_error() {
        let err = Index::parse(b"{bad", Path::new("x/index.json")).unwrap_err();
        assert!(
            err.to_string().starts_with("parsing x/index.json: "),
            "{err}"
        );
        let err = Index::parse(b"", Path::new("x/index.json")).unwrap_err();
        assert_eq!(err.to_string(), "parsing x/index.json: the file is empty");
        let err = Index::parse(br#"{"manifests":{}}"#, Path::new("i")).unwrap_err();
        assert!(err.to_string().starts_with("parsing i: "), "{err}");
    }
}
