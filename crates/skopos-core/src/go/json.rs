//! Go's `encoding/json`, as containers/image and skopeo's structs meet it, so that the JSON
//! skopos writes has the digests skopeo's has and `inspect` prints what skopeo prints.
//!
//! Writing ([`to_vec`], [`to_vec_indent`], [`GoFormatter`]): differences from serde_json's
//! defaults are that `<`, `>`, `&`, U+2028 and U+2029 are escaped as `\u003c`-style
//! sequences ([`write_string_fragment`]). Backspace and form feed are `\b` / `\f`, as in the
//! Go skopeo 1.22.2 is built with (Go before 1.22, skopeo 1.9.3's, wrote `\u0008` /
//! `\u000c`). Field order is the struct's declaration
//! order in both languages; maps must be `BTreeMap`s, because Go sorts map keys.
//!
//! Field semantics for serde attributes: `null` read as the zero value ([`null_default`]),
//! `omitempty` tests, Go's `struct{}` ([`Empty`]), `[]byte` as base64 ([`base64_bytes`]), and
//! raw JSON values re-emitted compacted and HTML-escaped ([`compact_go`]). Go's `time.Time`
//! is [`super::time::GoTime`].

use std::collections::BTreeMap;
use std::io;

use serde::de::{Deserialize, Deserializer, IgnoredAny};
use serde::ser::Serializer;
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// Serialize compactly, as `json.Marshal` does.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter(CompactFormatter));
    value.serialize(&mut ser)?;
    Ok(out)
}

/// Serialize with `indent` per level, as `json.MarshalIndent(v, "", indent)` does.
pub fn to_vec_indent<T: Serialize + ?Sized>(
    value: &T,
    indent: &str,
) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::new();
    let formatter = GoFormatter(PrettyFormatter::with_indent(indent.as_bytes()));
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut ser)?;
    Ok(out)
}

/// A formatter that lays out like `F` and escapes strings like Go.
pub struct GoFormatter<F>(pub F);

impl<F: Formatter> Formatter for GoFormatter<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_string_fragment(writer, fragment, true)
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

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

/// Write `fragment` (string contents without quotes or characters JSON must escape) as
/// Go's `encoding/json` does: U+2028 and U+2029 always as `\u2028` / `\u2029` (JavaScript
/// line terminators), and `<`, `>`, `&` as `\u003c`-style sequences when `escape_html`
/// (`json.Marshal`; an `Encoder` with `SetEscapeHTML(false)` leaves them).
pub fn write_string_fragment<W: ?Sized + io::Write>(
    writer: &mut W,
    fragment: &str,
    escape_html: bool,
) -> io::Result<()> {
    let mut start = 0;
    for (index, c) in fragment.char_indices() {
        let escape = match c {
            '<' if escape_html => "\\u003c",
            '>' if escape_html => "\\u003e",
            '&' if escape_html => "\\u0026",
            '\u{2028}' => "\\u2028",
            '\u{2029}' => "\\u2029",
            _ => continue,
        };
        writer.write_all(&fragment.as_bytes()[start..index])?;
        writer.write_all(escape.as_bytes())?;
        start = index + c.len_utf8();
    }
    writer.write_all(&fragment.as_bytes()[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        let v = serde_json::json!({"a": "<b>&c\u{2028}\u{8}\u{c}\n\"é"});
        assert_eq!(
            String::from_utf8(to_vec(&v).unwrap()).unwrap(),
            r#"{"a":"\u003cb\u003e\u0026c\u2028\b\f\n\"é"}"#
        );
    }

    #[test]
    fn indents_like_marshal_indent() {
        let mut m = BTreeMap::new();
        m.insert("b", vec![1, 2]);
        m.insert("a", vec![]);
        assert_eq!(
            String::from_utf8(to_vec_indent(&m, "    ").unwrap()).unwrap(),
            "{\n    \"a\": [],\n    \"b\": [\n        1,\n        2\n    ]\n}"
        );
    }

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
}
