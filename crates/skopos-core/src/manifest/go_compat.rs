//! Helpers that make serde read and write image JSON (manifests and configs) the way Go's
//! `encoding/json` does for the containers/image and image-spec structs: `null` read as the
//! zero value, `omitempty` tests, Go's `struct{}`, raw JSON values re-emitted compacted and
//! HTML-escaped, and Go's `%q` quoting for error messages. Go's `time.Time` is
//! [`crate::go_time::GoTime`].

use std::collections::BTreeMap;

use serde::de::{Deserialize, Deserializer, IgnoredAny};
use serde::ser::{Serialize, Serializer};

/// Deserialize `null` (and, with `#[serde(default)]`, a missing field) as `T::default()`,
/// as Go leaves a field at its zero value for both.
pub fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `serde(default)` for a Go slice field that a decoder pre-fills with an empty slice:
/// a missing field stays empty (`[]` when written), an explicit `null` becomes nil.
pub fn some_empty<T>() -> Option<Vec<T>> {
    Some(Vec::new())
}

/// Whether a string field is empty (Go `omitempty`).
pub fn is_empty_str(s: &str) -> bool {
    s.is_empty()
}

/// Whether a bool field is false (Go `omitempty`).
pub fn is_false(b: &bool) -> bool {
    !*b
}

/// Whether an integer field is zero (Go `omitempty`).
pub fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Whether a map field that keeps Go's nil / empty distinction is nil or empty (Go
/// `omitempty`).
pub fn is_none_or_empty_map<K, V>(map: &Option<BTreeMap<K, V>>) -> bool {
    map.as_ref().is_none_or(BTreeMap::is_empty)
}

/// Whether a slice field that keeps Go's nil / empty distinction is nil or empty (Go
/// `omitempty`).
pub fn is_none_or_empty_vec<T>(list: &Option<Vec<T>>) -> bool {
    list.as_ref().is_none_or(Vec::is_empty)
}

/// Go's `struct{}` (the value type of port and volume sets): read from an object, whose
/// fields are ignored, or `null`; anything else is an error, as in Go. Written as `{}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Empty;

impl Serialize for Empty {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        serializer.serialize_map(Some(0))?.end()
    }
}

impl<'de> Deserialize<'de> for Empty {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<BTreeMap<String, IgnoredAny>>::deserialize(deserializer)?;
        Ok(Empty)
    }
}

/// Compact raw JSON text as Go's `json.Compact` with HTML escaping does when it re-emits a
/// `json.RawMessage`: whitespace outside strings removed, `<`, `>`, `&`, U+2028 and U+2029
/// inside strings escaped. The input must be valid JSON (it came from a parser).
pub fn compact_go(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in raw.chars() {
        if in_string {
            if escaped {
                escaped = false;
                out.push(c);
                continue;
            }
            match c {
                '\\' => {
                    escaped = true;
                    out.push(c);
                }
                '"' => {
                    in_string = false;
                    out.push(c);
                }
                '<' => out.push_str("\\u003c"),
                '>' => out.push_str("\\u003e"),
                '&' => out.push_str("\\u0026"),
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                _ => out.push(c),
            }
        } else {
            match c {
                ' ' | '\t' | '\n' | '\r' => {}
                '"' => {
                    in_string = true;
                    out.push(c);
                }
                _ => out.push(c),
            }
        }
    }
    out
}

pub use crate::go_text::go_quote;

/// Serialize a `[]byte` field as Go does: standard base64 with padding.
pub mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Standard base64 with padding.
    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// Standard base64; `null` is empty.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
        // Go's decoder ignores embedded newlines in base64 data.
        let cleaned: String = text.chars().filter(|c| *c != '\n' && *c != '\r').collect();
        base64::engine::general_purpose::STANDARD
            .decode(cleaned.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("invalid base64 data: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_struct_reads_objects_and_null_only() {
        for ok in ["{}", "{\"a\":1}", "null"] {
            assert_eq!(serde_json::from_str::<Empty>(ok).unwrap(), Empty, "{ok}");
        }
        for bad in ["\"x\"", "1", "[]", "true"] {
            assert!(
                serde_json::from_str::<Empty>(bad).is_err(),
                "{bad} accepted"
            );
        }
        assert_eq!(serde_json::to_string(&Empty).unwrap(), "{}");
    }

    #[test]
    fn compacts_and_escapes_like_go() {
        assert_eq!(
            compact_go("{ \"a\" : [1, 2.50,\n 1e3], \"b\": \"x <y> & \\\" z\" }"),
            r#"{"a":[1,2.50,1e3],"b":"x \u003cy\u003e \u0026 \" z"}"#
        );
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("v7"), "\"v7\"");
        assert_eq!(go_quote("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\x01\"");
    }
}
