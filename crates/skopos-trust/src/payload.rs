//! The simple-signing payload ("atomic container signature", containers/image's
//! `signature/simple.go`): the JSON document an OpenPGP signature covers, binding a
//! manifest digest to a Docker reference. Written exactly as containers/image writes it
//! (Go's sorted map keys and escaping) and parsed as strictly as it parses it.

use anyhow::{anyhow, bail, Result};
use serde::Serialize;
use skopos_core::reference::go_digest::parse_go_digest;
use skopos_core::strict_json::{exact_fields, for_each_member, Json};
use skopos_core::Digest;

/// The `critical.type` every simple signature carries.
pub const SIGNATURE_TYPE: &str = "atomic container signature";

/// The `critical.type` of sigstore (cosign) payloads, which are otherwise the same.
pub const SIGSTORE_SIGNATURE_TYPE: &str = "cosign container image signature";

/// A payload as read from a signature whose OpenPGP signature may not have been checked:
/// nothing in it is trusted until the signature and the rules of the caller say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UntrustedPayload {
    /// `critical.image.docker-manifest-digest`.
    pub manifest_digest: Digest,
    /// `critical.identity.docker-reference`, as written (not normalized).
    pub docker_reference: String,
    /// `optional.creator`.
    pub creator: Option<String>,
    /// `optional.timestamp`, seconds since the Unix epoch.
    pub timestamp: Option<i64>,
}

impl UntrustedPayload {
    /// A new payload for signing: created by this program, now.
    pub fn new(manifest_digest: Digest, docker_reference: String) -> UntrustedPayload {
        UntrustedPayload {
            manifest_digest,
            docker_reference,
            creator: Some(format!("skopos {}", env!("CARGO_PKG_VERSION"))),
            timestamp: Some(chrono::Utc::now().timestamp()),
        }
    }

    /// The JSON bytes to sign, as Go's `json.Marshal` of containers/image's maps writes
    /// them (keys sorted, HTML characters escaped).
    pub fn to_json(&self) -> Result<Vec<u8>> {
        self.to_json_of_type(SIGNATURE_TYPE)
    }

    /// [`UntrustedPayload::to_json`] with `kind` as `critical.type`.
    pub fn to_json_of_type(&self, kind: &str) -> Result<Vec<u8>> {
        if self.docker_reference.is_empty() {
            bail!("Unexpected empty signature content");
        }
        #[derive(Serialize)]
        struct Document<'a> {
            critical: Critical<'a>,
            optional: Optional<'a>,
        }
        #[derive(Serialize)]
        struct Critical<'a> {
            identity: Identity<'a>,
            image: Image,
            #[serde(rename = "type")]
            kind: &'a str,
        }
        #[derive(Serialize)]
        struct Identity<'a> {
            #[serde(rename = "docker-reference")]
            docker_reference: &'a str,
        }
        #[derive(Serialize)]
        struct Image {
            #[serde(rename = "docker-manifest-digest")]
            manifest_digest: String,
        }
        #[derive(Serialize)]
        struct Optional<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            creator: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            timestamp: Option<i64>,
        }
        let document = Document {
            critical: Critical {
                identity: Identity {
                    docker_reference: &self.docker_reference,
                },
                image: Image {
                    manifest_digest: self.manifest_digest.to_string(),
                },
                kind,
            },
            optional: Optional {
                creator: self.creator.as_deref(),
                timestamp: self.timestamp,
            },
        };
        Ok(skopos_core::go::json::to_vec(&document)?)
    }

    /// Parse signed contents with containers/image's checks and messages: exactly the
    /// `critical` and `optional` members, exactly `type`/`image`/`identity` in
    /// `critical`, the right type, a valid digest; unknown `optional` members are
    /// ignored.
    pub fn parse(bytes: &[u8]) -> Result<UntrustedPayload> {
        UntrustedPayload::parse_of_type(bytes, SIGNATURE_TYPE)
    }

    /// [`UntrustedPayload::parse`] requiring `kind` as `critical.type`. Sigstore payloads
    /// may have `"optional": null`; the check on the type comes after that on `optional`.
    pub fn parse_of_type(bytes: &[u8], kind: &str) -> Result<UntrustedPayload> {
        let document = Json::parse(bytes)?;
        let top = exact_fields(&document, &["critical", "optional"])?;
        let (critical, optional) = (top[0], top[1]);

        let (mut creator, mut timestamp) = (None, None);
        if !(kind == SIGSTORE_SIGNATURE_TYPE && *optional == Json::Null) {
            for_each_member(optional, |key, value| {
                match key {
                    "creator" => creator = Some(go_string(value)?),
                    "timestamp" => timestamp = Some(integer_timestamp(value)?),
                    _ => {}
                }
                Ok(true)
            })?;
        }

        let critical = exact_fields(critical, &["type", "image", "identity"])?;
        let found = go_string(critical[0])?;
        if found != kind {
            bail!("Unrecognized signature type {found}");
        }
        let digest_text = go_string(exact_fields(critical[1], &["docker-manifest-digest"])?[0])?;
        let manifest_digest = parse_go_digest(&digest_text).map_err(|err| {
            anyhow!(
                "invalid docker-manifest-digest value {}: {err}",
                skopos_core::go::text::go_quote(&digest_text)
            )
        })?;
        let docker_reference = go_string(exact_fields(critical[2], &["docker-reference"])?[0])?;
        Ok(UntrustedPayload {
            manifest_digest,
            docker_reference,
            creator,
            timestamp,
        })
    }
}

/// A JSON string decoded into a Go `string` (`null` leaves it empty).
fn go_string(value: &Json) -> Result<String> {
    match value {
        Json::String(text) => Ok(text.clone()),
        Json::Null => Ok(String::new()),
        other => bail!(
            "json: cannot unmarshal {} into Go value of type string",
            other.go_kind()
        ),
    }
}

/// `optional.timestamp`: decoded as a float, and it must be a whole number.
fn integer_timestamp(value: &Json) -> Result<i64> {
    let number: f64 = match value {
        Json::Number(text) => text.parse().map_err(|_| {
            anyhow!("json: cannot unmarshal number {text} into Go value of type float64")
        })?,
        Json::Null => 0.0,
        other => bail!(
            "json: cannot unmarshal {} into Go value of type float64",
            other.go_kind()
        ),
    };
    let whole = number as i64;
    if whole as f64 != number {
        bail!("Field optional.timestamp is not an integer");
    }
    Ok(whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest() -> Digest {
        Digest::sha256_of(b"manifest")
    }

    #[test]
    fn writes_go_json_with_sorted_keys() {
        let payload = UntrustedPayload {
            manifest_digest: digest(),
            docker_reference: "example.com/a<b>:t".to_string(),
            creator: Some("atomic 5.23.1".to_string()),
            timestamp: Some(1_700_000_000),
        };
        let json = String::from_utf8(payload.to_json().unwrap()).unwrap();
        assert_eq!(
            json,
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"example.com/a\u003cb\u003e:t"}},"image":{{"docker-manifest-digest":"{}"}},"type":"atomic container signature"}},"optional":{{"creator":"atomic 5.23.1","timestamp":1700000000}}}}"#,
                digest()
            )
        );
        assert_eq!(UntrustedPayload::parse(json.as_bytes()).unwrap(), payload);
    }

    #[test]
    fn parses_strictly_with_containers_image_messages() {
        let d = digest();
        let cases: Vec<(String, &str)> = vec![
            (r#"{"critical":{}}"#.into(), "Key \"optional\" missing in a JSON object"),
            (
                format!(r#"{{"critical":{{"type":"atomic container signature","image":{{"docker-manifest-digest":"{d}"}},"identity":{{"docker-reference":"a"}},"extra":1}},"optional":{{}}}}"#),
                "Unknown key \"extra\"",
            ),
            (
                format!(r#"{{"critical":{{"type":"other","image":{{"docker-manifest-digest":"{d}"}},"identity":{{"docker-reference":"a"}}}},"optional":{{}}}}"#),
                "Unrecognized signature type other",
            ),
            (
                r#"{"critical":{"type":"atomic container signature","image":{"docker-manifest-digest":"sha256:12"},"identity":{"docker-reference":"a"}},"optional":{}}"#.into(),
                "invalid docker-manifest-digest value \"sha256:12\": invalid checksum digest length",
            ),
            (
                format!(r#"{{"critical":{{"type":"atomic container signature","image":{{"docker-manifest-digest":"{d}"}},"identity":{{"docker-reference":"a"}}}},"optional":{{"timestamp":1.5}}}}"#),
                "Field optional.timestamp is not an integer",
            ),
            (
                format!(r#"{{"critical":{{"type":"atomic container signature","image":{{"docker-manifest-digest":"{d}"}},"identity":{{"docker-reference":"a"}}}},"optional":{{}},"optional":{{}}}}"#),
                "Duplicate key \"optional\"",
            ),
        ];
        for (json, message) in cases {
            let err = UntrustedPayload::parse(json.as_bytes()).unwrap_err();
            assert_eq!(err.to_string(), message, "{json}");
        }
        // Unknown optional members are ignored, missing ones stay unset.
        let json = format!(
            r#"{{"critical":{{"type":"atomic container signature","image":{{"docker-manifest-digest":"{d}"}},"identity":{{"docker-reference":"a"}}}},"optional":{{"x":[1]}}}}"#
        );
        let parsed = UntrustedPayload::parse(json.as_bytes()).unwrap();
        assert_eq!((parsed.creator, parsed.timestamp), (None, None));
    }
}
