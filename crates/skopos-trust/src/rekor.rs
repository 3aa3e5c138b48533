//! Rekor signed entry timestamps (SETs), checked offline as containers/image's
//! `VerifyRekorSET` does: the `dev.sigstore.cosign/bundle` annotation of a sigstore
//! signature carries Rekor's log entry and Rekor's signature over it; a trusted Rekor key
//! must have signed it, and the entry (a `hashedrekord`) must record this very signature,
//! payload and key or certificate. The entry's integration time is when the signature
//! existed, which is the time a Fulcio certificate is checked at.

use anyhow::{anyhow, bail, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use skopos_core::go::text::go_quote;
use skopos_core::strict_json::{exact_fields, Json};

use crate::public_key::PublicKey;

/// The annotation holding the Rekor bundle (SET and log entry).
pub const SET_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// The only `hashedrekord` API version containers/image understands.
const HASHEDREKORD_V001: &str = "0.0.1";

/// Checks the Rekor SET `untrusted_set` against `rekor_keys` (ECDSA keys: others never
/// verify a SET, as containers/image accepts only ECDSA Rekor keys) and the signature it must
/// record: `key_or_cert_pem` (the signer's public key or certificate, PEM), the base64
/// signature and the signed payload. Returns the entry's integration time (Unix seconds).
/// Messages are containers/image's.
pub fn verify_rekor_set(
    rekor_keys: &[PublicKey],
    untrusted_set: &[u8],
    key_or_cert_pem: &[u8],
    base64_signature: &str,
    payload: &[u8],
) -> Result<i64> {
    // == Parse the SET (strictly: no unknown, missing or repeated keys); Rekor signed the
    // canonical form of its payload.
    let set = Json::parse(untrusted_set)?;
    let set = exact_fields(&set, &["SignedEntryTimestamp", "Payload"])?;
    let set_signature = base64_field(set[0])?;
    let mut canonical = Vec::new();
    canonicalize(set[1], &mut canonical)
        .map_err(|err| anyhow!("canonicalizing Rekor SET JSON: {err}"))?;
    let signed = rekor_keys
        .iter()
        .any(|key| key.verify_ecdsa_asn1(&canonical, &set_signature));
    if !signed {
        bail!("cryptographic signature verification of Rekor SET failed");
    }

    // == The log entry, read from the verified canonical bytes.
    let parse_entry = || -> Result<(Vec<u8>, i64)> {
        let entry = Json::parse(&canonical)?;
        let entry = exact_fields(&entry, &["body", "integratedTime", "logIndex", "logID"])?;
        let body = base64_field(entry[0])?;
        let integrated_time = int64_field(entry[1])?;
        int64_field(entry[2])?;
        if !matches!(entry[3], Json::String(_)) {
            bail!(
                "json: cannot unmarshal {} into Go value of type string",
                entry[3].go_kind()
            );
        }
        Ok((body, integrated_time))
    };
    let (body, integrated_time) =
        parse_entry().map_err(|err| anyhow!("parsing Rekor SET payload: {err:#}"))?;
    let record: HashedRekord = serde_json::from_slice(&body)
        .map_err(|err| anyhow!("decoding the body of a Rekor SET payload: {err}"))?;
    if record.kind != "hashedrekord" {
        bail!(
            "decoding the body of a Rekor SET payload: invalid kind value: {}",
            go_quote(&record.kind)
        );
    }
    let Some(api_version) = record.api_version else {
        bail!("missing Rekor SET Payload API version");
    };
    if api_version != HASHEDREKORD_V001 {
        bail!("unsupported Rekor SET Payload hashedrekord version {api_version:?}");
    }
    let spec: HashedRekordV001 = serde_json::from_value(record.spec)
        .map_err(|err| anyhow!("decoding hashedrekod spec: {err}"))?;

    // == The entry must name this key or certificate…
    let Some(recorded_signature) = spec.signature else {
        bail!(r#"Missing "signature" field in hashedrekord"#);
    };
    let Some(recorded_key) = recorded_signature.public_key else {
        bail!(r#"Missing "signature.publicKey" field in hashedrekord"#);
    };
    let recorded_key = decode_base64(&recorded_key.content.unwrap_or_default())?;
    let recorded_key = match first_pem_block(&recorded_key) {
        None => bail!("publicKey in Rekor SET is not in PEM format"),
        Some((_, rest)) if !rest.is_empty() => bail!("publicKey in Rekor SET has trailing data"),
        Some((der, _)) => der,
    };
    let expected_key = match first_pem_block(key_or_cert_pem) {
        None => bail!(
            "public key or cert to be matched against publicKey in Rekor SET is not in PEM format"
        ),
        Some((_, rest)) if !rest.is_empty() => bail!(
            "public key or cert to be matched against publicKey in Rekor SET has trailing data"
        ),
        Some((der, _)) => der,
    };
    if recorded_key != expected_key {
        bail!("publicKey in Rekor SET does not match");
    }
    // == …this signature…
    let signature = STANDARD
        .decode(base64_signature)
        .map_err(|err| anyhow!("decoding signature base64: {err}"))?;
    let recorded = decode_base64(&recorded_signature.content.unwrap_or_default())?;
    if recorded != signature {
        bail!(
            "signature in Rekor SET does not match: {} vs. {}",
            go_quote(&String::from_utf8_lossy(&recorded)),
            go_quote(&String::from_utf8_lossy(&signature))
        );
    }
    // == …and this payload.
    let Some(data) = spec.data else {
        bail!(r#"Missing "data" field in hashedrekord"#);
    };
    let Some(hash) = data.hash else {
        bail!(r#"Missing "data.hash" field in hashedrekord"#);
    };
    let Some(algorithm) = hash.algorithm else {
        bail!(r#"Missing "data.hash.algorithm" field in hashedrekord"#);
    };
    if algorithm != "sha256" {
        bail!(r#"Unexpected "data.hash.algorithm" value {algorithm:?}"#);
    }
    let Some(value) = hash.value else {
        bail!(r#"Missing "data.hash.value" field in hashedrekord"#);
    };
    let recorded_hash = hex::decode(&value)
        .map_err(|err| anyhow!(r#"Invalid "data.hash.value" field in hashedrekord: {err}"#))?;
    if recorded_hash != Sha256::digest(payload).as_slice() {
        bail!("payload in Rekor SET does not match");
    }
    Ok(integrated_time)
}

/// [`verify_rekor_set`] for a signature by the trusted public `key`, which the SET must
/// record (compared in its PKIX form, as containers/image re-marshals it).
pub fn verify_rekor_set_for_key(
    rekor_keys: &[PublicKey],
    untrusted_set: &[u8],
    key: &PublicKey,
    base64_signature: &str,
    payload: &[u8],
) -> Result<i64> {
    let pem = key.to_pkix_pem()?;
    verify_rekor_set(
        rekor_keys,
        untrusted_set,
        pem.as_bytes(),
        base64_signature,
        payload,
    )
}

/// The body of a Rekor log entry, as far as its kind and version.
#[derive(Deserialize)]
struct HashedRekord {
    #[serde(default)]
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(default)]
    spec: Value,
}

/// A `hashedrekord` v0.0.1 entry: the hash of what was signed, the signature and the key.
#[derive(Deserialize)]
struct HashedRekordV001 {
    data: Option<RecordedData>,
    signature: Option<RecordedSignature>,
}

#[derive(Deserialize)]
struct RecordedData {
    hash: Option<RecordedHash>,
}

#[derive(Deserialize)]
struct RecordedHash {
    algorithm: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct RecordedSignature {
    content: Option<String>,
    #[serde(rename = "publicKey")]
    public_key: Option<RecordedKey>,
}

#[derive(Deserialize)]
struct RecordedKey {
    content: Option<String>,
}

/// A JSON string holding base64 bytes (Go's `[]byte`).
fn base64_field(value: &Json) -> Result<Vec<u8>> {
    match value {
        Json::String(text) => decode_base64(text),
        Json::Null => Ok(Vec::new()),
        other => bail!(
            "json: cannot unmarshal {} into Go value of type []uint8",
            other.go_kind()
        ),
    }
}

/// A JSON integer (Go's `int64`).
fn int64_field(value: &Json) -> Result<i64> {
    match value {
        Json::Number(text) => text.parse().map_err(|_| {
            anyhow!("json: cannot unmarshal number {text} into Go value of type int64")
        }),
        other => bail!(
            "json: cannot unmarshal {} into Go value of type int64",
            other.go_kind()
        ),
    }
}

fn decode_base64(text: &str) -> Result<Vec<u8>> {
    STANDARD
        .decode(text)
        .map_err(|err| anyhow!("illegal base64 data: {err}"))
}

/// The DER of the first PEM block in `bytes` and what follows that block's `END` line
/// (Go's `pem.Decode`), or `None` when there is no well-formed block.
pub(crate) fn first_pem_block(bytes: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    first_labeled_pem_block(bytes).map(|(_, der, rest)| (der, rest))
}

/// [`first_pem_block`] with the block's type label.
pub(crate) fn first_labeled_pem_block(bytes: &[u8]) -> Option<(String, Vec<u8>, &[u8])> {
    let text = std::str::from_utf8(bytes).ok()?;
    let start = text.find("-----BEGIN ")?;
    let end_marker = start + text[start..].find("-----END ")?;
    let after_label = end_marker + "-----END ".len();
    let end_line = after_label + text[after_label..].find("-----")? + "-----".len();
    let rest = &text[end_line..];
    let rest = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))
        .unwrap_or(rest);
    let (label, der) = pem_rfc7468::decode_vec(&text.as_bytes()[start..end_line]).ok()?;
    Some((label.to_string(), der, rest.as_bytes()))
}

/// `value` in RFC 8785 canonical form (what Rekor signs): no whitespace, object members
/// sorted by their UTF-16 code units, numbers as ECMAScript prints them.
fn canonicalize(value: &Json, out: &mut Vec<u8>) -> Result<()> {
    match value {
        Json::Null => out.extend_from_slice(b"null"),
        Json::Bool(true) => out.extend_from_slice(b"true"),
        Json::Bool(false) => out.extend_from_slice(b"false"),
        // serde_json escapes exactly what RFC 8785 escapes, in the same forms.
        Json::String(text) => serde_json::to_writer(&mut *out, text)?,
        Json::Number(text) => out.extend_from_slice(ecmascript_number(text)?.as_bytes()),
        Json::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                canonicalize(item, out)?;
            }
            out.push(b']');
        }
        Json::Object(members) => {
            let mut sorted: Vec<&(String, Json)> = members.iter().collect();
            sorted.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            if let Some(pair) = sorted.windows(2).find(|pair| pair[0].0 == pair[1].0) {
                bail!("duplicate key {}", go_quote(&pair[0].0));
            }
            out.push(b'{');
            for (index, (key, member)) in sorted.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key)?;
                out.push(b':');
                canonicalize(member, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// A JSON number as ECMAScript's `Number.prototype.toString` prints its double value.
fn ecmascript_number(number: &str) -> Result<String> {
    let Some(value) = number.parse::<f64>().ok().filter(|value| value.is_finite()) else {
        bail!("invalid number {number}");
    };
    if value == 0.0 {
        return Ok("0".into());
    }
    let magnitude = value.abs();
    if (1e-6..1e21).contains(&magnitude) {
        // Rust prints the shortest round-tripping digits without an exponent, as
        // ECMAScript does in this range.
        return Ok(format!("{value}"));
    }
    // Outside it ECMAScript uses an exponent, always signed.
    let text = format!("{value:e}");
    Ok(match text.split_once('e') {
        Some((mantissa, exponent)) if !exponent.starts_with('-') => {
            format!("{mantissa}e+{exponent}")
        }
        _ => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(json: &str) -> String {
        let mut out = Vec::new();
        canonicalize(&Json::parse(json.as_bytes()).unwrap(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn canonical_json_is_rfc_8785() {
        assert_eq!(
            canonical(
                r#"{ "logID": "ab", "body": "x\u0001\n/é", "integratedTime": 17, "a": [1.5, 1e30, 0.0000001, -0, true, null] }"#
            ),
            r#"{"a":[1.5,1e+30,1e-7,0,true,null],"body":"x\u0001\n/é","integratedTime":17,"logID":"ab"}"#
        );
        // UTF-16 order: U+1F600 (a surrogate pair) sorts before U+FB01.
        assert_eq!(
            canonical("{\"\u{fb01}\": 1, \"\u{1f600}\": 2}"),
            "{\"\u{1f600}\":2,\"\u{fb01}\":1}"
        );
    }

    #[test]
    fn pem_blocks_are_read_as_go_does() {
        let pem = b"junk\n-----BEGIN PUBLIC KEY-----\nAAEC\n-----END PUBLIC KEY-----\n";
        assert_eq!(first_pem_block(pem), Some((vec![0, 1, 2], &b""[..])));
        let (_, rest) = first_pem_block(b"-----BEGIN X-----\nAAEC\n-----END X-----\nmore").unwrap();
        assert_eq!(rest, b"more");
        assert_eq!(first_pem_block(b"no pem here"), None);
    }

    /// A log, a signer and a genuine entry for its signature of a payload.
    struct Entry {
        log: skopos_testimage::sigstore::RekorLog,
        rekor_keys: Vec<PublicKey>,
        signer_pem: String,
        signature: Vec<u8>,
        payload: Vec<u8>,
    }

    impl Entry {
        fn new() -> Entry {
            use skopos_testimage::sigstore::{RekorLog, TestCa};
            let log = RekorLog::default();
            let signer = TestCa::new("ca").issue("a@example.com", "https://issuer");
            let payload = b"payload".to_vec();
            let rekor_keys =
                vec![crate::sigstore::parse_public_key(log.public_key_pem().as_bytes()).unwrap()];
            Entry {
                signature: signer.sign(&payload),
                signer_pem: signer.pem,
                log,
                rekor_keys,
                payload,
            }
        }

        fn verify(&self, set: &str) -> Result<i64, String> {
            verify_rekor_set(
                &self.rekor_keys,
                set.as_bytes(),
                self.signer_pem.as_bytes(),
                &STANDARD.encode(&self.signature),
                &self.payload,
            )
            .map_err(|err| format!("{err:#}"))
        }

        /// A hashedrekord body for this signature, edited by `edit`.
        fn body(&self, edit: impl FnOnce(&mut Value)) -> Value {
            let mut body = serde_json::json!({
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&self.payload))}},
                    "signature": {
                        "content": STANDARD.encode(&self.signature),
                        "publicKey": {"content": STANDARD.encode(&self.signer_pem)},
                    },
                },
            });
            edit(&mut body);
            body
        }
    }

    #[test]
    fn sets_must_be_signed_by_the_log_and_record_this_signature() {
        let entry = Entry::new();
        let genuine = entry.log.bundle(
            &entry.signer_pem,
            &entry.signature,
            &entry.payload,
            1_700_000_000,
        );
        assert_eq!(entry.verify(&genuine), Ok(1_700_000_000));
        // Whitespace and member order do not matter: Rekor signed the canonical form.
        let reformatted =
            serde_json::to_string_pretty(&serde_json::from_str::<Value>(&genuine).unwrap())
                .unwrap();
        assert_eq!(entry.verify(&reformatted), Ok(1_700_000_000));

        let with_body =
            |edit: fn(&mut Value)| entry.log.bundle_of_body(&entry.body(edit), 1_700_000_000);
        for (set, message) in [
            (with_body(|_| {}), Ok(1_700_000_000)),
            (
                with_body(|body| body["kind"] = "rekord".into()),
                Err(r#"decoding the body of a Rekor SET payload: invalid kind value: "rekord""#),
            ),
            (
                with_body(|body| body["apiVersion"] = "0.0.2".into()),
                Err(r#"unsupported Rekor SET Payload hashedrekord version "0.0.2""#),
            ),
            (
                with_body(|body| {
                    body["spec"]["data"]["hash"]["value"] = hex::encode([0u8; 32]).into()
                }),
                Err("payload in Rekor SET does not match"),
            ),
            (
                with_body(|body| body["spec"]["data"]["hash"]["algorithm"] = "sha512".into()),
                Err(r#"Unexpected "data.hash.algorithm" value "sha512""#),
            ),
            (
                with_body(|body| {
                    body["spec"]["signature"]["publicKey"]["content"] =
                        STANDARD.encode("not pem").into()
                }),
                Err("publicKey in Rekor SET is not in PEM format"),
            ),
            (
                with_body(|body| {
                    body["spec"]["signature"]["content"] = STANDARD.encode("other").into()
                }),
                Err(r#"signature in Rekor SET does not match: "other" vs. "#),
            ),
            (
                with_body(|body| {
                    body["spec"].as_object_mut().unwrap().remove("data");
                }),
                Err(r#"Missing "data" field in hashedrekord"#),
            ),
        ] {
            let verdict = entry.verify(&set);
            match message {
                Ok(time) => assert_eq!(verdict, Ok(time)),
                Err(message) => assert!(
                    verdict.as_ref().is_err_and(|err| err.starts_with(message)),
                    "{verdict:?} instead of {message}"
                ),
            }
        }

        let mut extra: Value = serde_json::from_str(&genuine).unwrap();
        extra["Other"] = 1.into();
        assert_eq!(
            entry.verify(&extra.to_string()),
            Err(r#"Unknown key "Other""#.into())
        );
        // A repeated key could make two parsers disagree on what was signed.
        let repeated = genuine.replacen(r#""Payload":"#, r#""Payload":{},"Payload":"#, 1);
        assert_eq!(
            entry.verify(&repeated),
            Err(r#"Duplicate key "Payload""#.into())
        );
        let repeated = genuine.replacen(r#""logIndex":"#, r#""logIndex":1,"logIndex":"#, 1);
        assert_eq!(
            entry.verify(&repeated),
            Err(r#"canonicalizing Rekor SET JSON: duplicate key "logIndex""#.into())
        );
        let mut tampered: Value = serde_json::from_str(&genuine).unwrap();
        tampered["Payload"]["logIndex"] = 43.into();
        assert_eq!(
            entry.verify(&tampered.to_string()),
            Err("cryptographic signature verification of Rekor SET failed".into())
        );
    }
}
