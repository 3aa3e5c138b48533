//! Helpers that make serde read and write manifest JSON the way Go's `encoding/json` does
//! for the containers/image structs: `null` read as the zero value, `time.Time` written
//! as RFC 3339 with nanoseconds, raw JSON values re-emitted compacted and HTML-escaped,
//! and Go's `%q` quoting for error messages.

use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde::de::{self, Deserialize, Deserializer};
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

/// A Go `time.Time`: keeps the instant and the UTC offset it was written with, and is
/// written back as `time.RFC3339Nano` (trailing zeros of the fraction dropped, `Z` for
/// a zero offset). The default is Go's zero time, `0001-01-01T00:00:00Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoTime(pub DateTime<FixedOffset>);

impl Default for GoTime {
    fn default() -> Self {
        // Year 1 is inside chrono's range, so this parse cannot fail; fall back to the epoch
        // only to avoid a panic path.
        let zero = DateTime::parse_from_rfc3339("0001-01-01T00:00:00Z")
            .unwrap_or_else(|_| DateTime::<FixedOffset>::default());
        GoTime(zero)
    }
}

impl GoTime {
    /// Parse an RFC 3339 timestamp as Go's `time.Time.UnmarshalJSON` accepts it.
    pub fn parse(s: &str) -> Result<GoTime, String> {
        DateTime::parse_from_rfc3339(s)
            .map(GoTime)
            .map_err(|e| format!("parsing time {s:?} as RFC 3339: {e}"))
    }

    /// The text Go's `MarshalJSON` writes (without the quotes).
    pub fn to_go_string(&self) -> String {
        let use_z = self.0.offset().local_minus_utc() == 0;
        let full = self.0.to_rfc3339_opts(SecondsFormat::Nanos, use_z);
        // Layout: YYYY-MM-DDTHH:MM:SS.nnnnnnnnn(Z|±hh:mm); Go's `.999999999` drops
        // trailing zeros of the fraction, and the dot with them when nothing is left.
        let (Some(head), Some(rest)) = (full.get(..19), full.get(19..)) else {
            return full;
        };
        let Some(fraction_and_zone) = rest.strip_prefix('.') else {
            return full;
        };
        let zone_start = fraction_and_zone
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction_and_zone.len());
        let fraction = fraction_and_zone[..zone_start].trim_end_matches('0');
        let mut out = head.to_string();
        if !fraction.is_empty() {
            out.push('.');
            out.push_str(fraction);
        }
        out.push_str(&fraction_and_zone[zone_start..]);
        out
    }
}

impl Serialize for GoTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_go_string())
    }
}

impl<'de> Deserialize<'de> for GoTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Go ignores `null` for a time.Time, leaving the zero value.
        match Option::<String>::deserialize(deserializer)? {
            None => Ok(GoTime::default()),
            Some(s) => GoTime::parse(&s).map_err(de::Error::custom),
        }
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
    fn time_round_trips_like_go() {
        for (input, output) in [
            ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
            ("2024-01-01T00:00:00.500Z", "2024-01-01T00:00:00.5Z"),
            (
                "2024-01-02T03:04:05.123456789+01:00",
                "2024-01-02T03:04:05.123456789+01:00",
            ),
            ("2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00Z"),
            ("2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00Z"),
        ] {
            assert_eq!(GoTime::parse(input).unwrap().to_go_string(), output);
        }
        assert_eq!(GoTime::default().to_go_string(), "0001-01-01T00:00:00Z");
        assert!(GoTime::parse("yesterday").is_err());
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
