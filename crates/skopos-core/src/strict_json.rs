//! A JSON tree that keeps every member of every object, in document order, so the parsers
//! of security-relevant documents (policy.json, signature payloads) can refuse duplicate
//! keys (serde_json's own `Value` silently keeps the last one) and report problems in the
//! order containers/image's paranoid parser meets them.

use std::fmt;

use anyhow::{anyhow, bail, Result};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// One JSON value; objects are member lists, duplicates included.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// The number's text as written in the document.
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array's elements, in order.
    Array(Vec<Json>),
    /// An object's members in document order, duplicate keys kept (so that callers can reject
    /// them).
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parse a whole document; trailing data is an error.
    pub fn parse(bytes: &[u8]) -> anyhow::Result<Json> {
        serde_json::from_slice(bytes).map_err(|err| match err.classify() {
            // Go's wording for a truncated document.
            serde_json::error::Category::Eof => anyhow::anyhow!("unexpected end of JSON input"),
            _ => anyhow::anyhow!("{err}"),
        })
    }

    /// The kind word Go's `encoding/json` uses in "cannot unmarshal KIND into …".
    pub fn go_kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "bool",
            Json::Number(_) => "number",
            Json::String(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }

    /// How Go's `fmt` `%s` prints the first token of this value (a `json.Token`), for
    /// "JSON object expected, got …".
    pub fn go_token_text(&self) -> String {
        match self {
            Json::Null => "%!s(<nil>)".to_string(),
            Json::Bool(b) => format!("%!s(bool={b})"),
            Json::Number(n) => format!("%!s(float64={n})"),
            Json::String(s) => s.clone(),
            Json::Array(_) => "[".to_string(),
            Json::Object(_) => "{".to_string(),
        }
    }
}

/// Walk an object's members in order with `ParanoidUnmarshalJSONObject`'s checks:
/// `value` must be an object, no key twice, and `member` returns `false` for a key it does
/// not know.
pub fn for_each_member<'a>(
    value: &'a Json,
    mut member: impl FnMut(&'a str, &'a Json) -> Result<bool>,
) -> Result<()> {
    let Json::Object(members) = value else {
        bail!("JSON object expected, got \"{}\"", value.go_token_text());
    };
    let mut seen: Vec<&str> = Vec::new();
    for (key, value) in members {
        if seen.contains(&key.as_str()) {
            bail!("Duplicate key \"{key}\"");
        }
        seen.push(key);
        if !member(key, value)? {
            bail!("Unknown key \"{key}\"");
        }
    }
    Ok(())
}

/// `ParanoidUnmarshalJSONObjectExactFields`: exactly the keys in `fields`, each once.
pub fn exact_fields<'a>(value: &'a Json, fields: &[&str]) -> Result<Vec<&'a Json>> {
    let mut found: Vec<Option<&'a Json>> = vec![None; fields.len()];
    for_each_member(value, |key, member| {
        match fields.iter().position(|field| *field == key) {
            Some(i) => {
                found[i] = Some(member);
                Ok(true)
            }
            None => Ok(false),
        }
    })?;
    fields
        .iter()
        .zip(found)
        .map(|(field, value)| {
            value.ok_or_else(|| anyhow!("Key \"{field}\" missing in a JSON object"))
        })
        .collect()
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_duplicate_members_in_order() {
        let parsed = Json::parse(br#"{"a": 1, "b": [true, null], "a": "x"}"#).unwrap();
        assert_eq!(
            parsed,
            Json::Object(vec![
                ("a".into(), Json::Number("1".into())),
                ("b".into(), Json::Array(vec![Json::Bool(true), Json::Null])),
                ("a".into(), Json::String("x".into())),
            ])
        );
    }

    #[test]
    fn refuses_trailing_data() {
        assert!(Json::parse(b"{} {}").is_err());
    }
}
