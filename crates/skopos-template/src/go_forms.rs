//! How Go prints (`{{…}}`, `%v`) and marshals (`json`) the template data, and which Go
//! types its parts have: what a plain [`Value`] cannot tell, remembered per shared
//! allocation.

use std::collections::HashMap;
use std::sync::Arc;

use gotmpl::Value;
use serde::Serialize;
use skopos_core::go::time::GoTime;

/// How Go would marshal (`json`) and print (`{{…}}`) the parts of the template data
/// that the plain value does not tell: structs (field order, `omitempty`, `{…}` when
/// printed), times, and nil slices and maps (which templates print as empty ones); and
/// the Go types of parts whose plain value hides them (`*time.Time` and `digest.Digest`
/// are strings here, but Go's functions refuse them where a `string` goes). Parts are
/// known by the address of their shared allocation, which every clone the template makes
/// of them keeps.
#[derive(Debug, Default, Clone)]
pub struct GoForms {
    json_by_address: HashMap<usize, String>,
    printed_by_address: HashMap<usize, String>,
    type_by_address: HashMap<usize, String>,
    fields_by_struct: HashMap<String, Vec<(String, String)>>,
}

/// Go's basic kinds, which `eq`, `lt` and the like compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BasicKind {
    Bool,
    Int,
    Uint,
    Float,
    String,
}

impl GoForms {
    /// Record that `value` marshals as `source` does, and hand `value` back.
    pub fn remember_json<T: Serialize + ?Sized>(&mut self, value: Value, source: &T) -> Value {
        if let (Some(address), Ok(text)) = (address_of(&value), template_json(source)) {
            self.json_by_address.insert(address, text);
        }
        value
    }

    /// Record that templates print `value` as `printed` (Go's `%v` of a struct), and hand
    /// `value` back.
    pub fn remember_printed(&mut self, value: Value, printed: String) -> Value {
        if let Some(address) = address_of(&value) {
            self.printed_by_address.insert(address, printed);
        }
        value
    }

    /// Record that `value` has the Go type `go_type` (`*time.Time`, `digest.Digest`,
    /// `[]string`), and hand `value` back. Values without a shared allocation (numbers,
    /// booleans, nil) have the Go type their kind names.
    pub fn remember_type(&mut self, value: Value, go_type: &str) -> Value {
        if let Some(address) = address_of(&value) {
            self.type_by_address.insert(address, go_type.to_string());
        }
        value
    }

    /// Record that the Go struct type `go_type` (as in [`Self::remember_type`]) has the
    /// given fields with their Go types, so that errors about them name those types
    /// (`int64` where a template value is just a number).
    pub fn remember_struct(&mut self, go_type: &str, fields: &[(&str, &str)]) {
        let fields = fields
            .iter()
            .map(|(name, field_type)| (name.to_string(), field_type.to_string()))
            .collect();
        self.fields_by_struct.insert(go_type.to_string(), fields);
    }

    /// The fields of the struct type `go_type` and their Go types, when remembered.
    pub(crate) fn struct_fields(&self, go_type: &str) -> Option<&[(String, String)]> {
        self.fields_by_struct.get(go_type).map(Vec::as_slice)
    }

    /// The Go type of field `name` of the struct type `go_type`, when remembered.
    pub(crate) fn struct_field(&self, go_type: &str, name: &str) -> Option<&str> {
        self.fields_by_struct
            .get(go_type)?
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, field_type)| field_type.as_str())
    }

    /// The Go type of `value`, as Go's messages name it: the remembered one, else that of
    /// its kind. Unsigned values only come from indexing strings (bytes); maps are those
    /// of `interface {}` values.
    pub(crate) fn go_type(&self, value: &Value) -> String {
        if let Some(go_type) = self.remembered_type(value) {
            return go_type.to_string();
        }
        match value {
            Value::Uint(_) => "uint8",
            // Lists the data does not name are split's results and the like.
            Value::List(_) => "[]string",
            Value::Map(_) => "map[string]interface {}",
            other => other.type_name(),
        }
        .to_string()
    }

    fn remembered_type(&self, value: &Value) -> Option<&str> {
        address_of(value)
            .and_then(|address| self.type_by_address.get(&address))
            .map(String::as_str)
    }

    /// Whether `value` stands for a Go pointer (to a struct, such as `*time.Time`).
    pub(crate) fn is_pointer(&self, value: &Value) -> bool {
        self.remembered_type(value)
            .is_some_and(|go_type| go_type.starts_with('*'))
    }

    /// The struct type `value` stands for, after Go follows a pointer to it (as `len`,
    /// `index` and `slice` do): `time.Time` for a `*time.Time`; `None` for strings,
    /// slices and maps.
    pub(crate) fn struct_type(&self, value: &Value) -> Option<&str> {
        let go_type = self.remembered_type(value)?;
        if let Some(pointed) = go_type.strip_prefix('*') {
            return Some(pointed);
        }
        let is_struct = matches!(value, Value::Map(_)) && !go_type.starts_with("map[");
        is_struct.then_some(go_type)
    }

    /// Whether `value` stands for a nil pointer (a `*time.Time` without a time), which Go
    /// takes as false.
    pub(crate) fn is_nil_pointer(&self, value: &Value) -> bool {
        self.is_pointer(value) && self.marshals_as_null(value)
    }

    /// Whether Go marshals `value` as `null` (a nil slice, map or pointer of the data).
    pub(crate) fn marshals_as_null(&self, value: &Value) -> bool {
        address_of(value)
            .and_then(|address| self.json_by_address.get(&address))
            .is_some_and(|json| json == "null")
    }

    /// The time `value` stands for when it is one of the data's `*time.Time`s:
    /// `Some(None)` for a nil pointer.
    pub(crate) fn time(&self, value: &Value) -> Option<Option<GoTime>> {
        if self.remembered_type(value)? != "*time.Time" {
            return None;
        }
        let json = self.json_by_address.get(&address_of(value)?)?;
        if json == "null" {
            return Some(None);
        }
        let text: String = serde_json::from_str(json).ok()?;
        GoTime::parse_rfc3339(&text).ok().map(Some)
    }

    /// Whether Go would take `value` where a parameter of type `string` goes: strings
    /// whose Go type is not a pointer or a named type of their own (`digest.Digest`).
    pub(crate) fn is_plain_string(&self, value: &Value) -> bool {
        matches!(value, Value::String(_))
            && self
                .remembered_type(value)
                .is_none_or(|go_type| go_type == "string")
    }

    /// Go's `basicKind` of `value`; `None` for the kinds it refuses to order (slices,
    /// maps, pointers, nil).
    pub(crate) fn basic_kind(&self, value: &Value) -> Option<BasicKind> {
        match value {
            Value::Bool(_) => Some(BasicKind::Bool),
            Value::Int(_) => Some(BasicKind::Int),
            Value::Uint(_) => Some(BasicKind::Uint),
            Value::Float(_) => Some(BasicKind::Float),
            Value::String(_) if !self.is_pointer(value) => Some(BasicKind::String),
            _ => None,
        }
    }

    /// Whether two values are the same Go pointer.
    pub(crate) fn same_address(&self, one: &Value, other: &Value) -> bool {
        address_of(one).is_some_and(|address| address_of(other) == Some(address))
    }

    /// What an action prints for `value`: Go's `%v`, with structs as remembered.
    pub(crate) fn print(&self, value: &Value) -> String {
        match value {
            // What Go prints for a missing value.
            Value::Nil => "<no value>".to_string(),
            other => {
                let mut out = String::new();
                self.print_into(other, &mut out);
                out
            }
        }
    }

    /// [`Self::print`] appended to `out`.
    fn print_into(&self, value: &Value, out: &mut String) {
        if let Some(text) = address_of(value).and_then(|a| self.printed_by_address.get(&a)) {
            out.push_str(text);
            return;
        }
        match value {
            Value::List(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(' ');
                    }
                    self.print_into(item, out);
                }
                out.push(']');
            }
            Value::Map(entries) => {
                out.push_str("map[");
                for (index, (key, item)) in entries.iter().enumerate() {
                    if index > 0 {
                        out.push(' ');
                    }
                    out.push_str(key);
                    out.push(':');
                    self.print_into(item, out);
                }
                out.push(']');
            }
            Value::Float(number) => out.push_str(&go_float(*number)),
            other => out.push_str(&other.to_string()),
        }
    }

    /// `json.NewEncoder` with `SetEscapeHTML(false)`, trailing newline trimmed, as
    /// `report`'s `json` does; `""` when Go could not encode the value (functions, NaN).
    pub(crate) fn encode(&self, value: &Value) -> String {
        let mut out = String::new();
        match self.encode_into(value, &mut out) {
            Ok(()) => out,
            Err(Unencodable) => String::new(),
        }
    }

    /// [`Self::encode`] appended to `out`.
    fn encode_into(&self, value: &Value, out: &mut String) -> Result<(), Unencodable> {
        if let Some(text) = address_of(value).and_then(|a| self.json_by_address.get(&a)) {
            out.push_str(text);
            return Ok(());
        }
        match value {
            Value::Nil => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(n) => out.push_str(&n.to_string()),
            Value::Uint(n) => out.push_str(&n.to_string()),
            Value::Float(number) if number.is_finite() => out.push_str(&json_float(*number)),
            Value::String(s) => out.push_str(&template_json(s.as_ref()).map_err(|_| Unencodable)?),
            Value::List(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    self.encode_into(item, out)?;
                }
                out.push(']');
            }
            Value::Map(entries) => {
                out.push('{');
                for (index, (key, item)) in entries.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    out.push_str(&template_json(key.as_ref()).map_err(|_| Unencodable)?);
                    out.push(':');
                    self.encode_into(item, out)?;
                }
                out.push('}');
            }
            _ => return Err(Unencodable),
        }
        Ok(())
    }
}

/// Go's `%v` of a float64: the shortest digits that read back the same, with an exponent
/// (`1.234567e+06`, `1e-05`) when it is below -4 or at least 6.
fn go_float(number: f64) -> String {
    let (mantissa, exponent) = shortest_scientific(number);
    if (-4..6).contains(&exponent) || number == 0.0 || !number.is_finite() {
        return number.to_string();
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

/// `encoding/json`'s float64: plain digits, but an exponent without padding (`1e-7`,
/// `1e+21`) below 1e-6 and from 1e21 on.
fn json_float(number: f64) -> String {
    let magnitude = number.abs();
    if magnitude == 0.0 || (1e-6..1e21).contains(&magnitude) {
        return number.to_string();
    }
    let (mantissa, exponent) = shortest_scientific(number);
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{}", exponent.abs())
}

/// The shortest digits of `number` as a mantissa (`-1.5`) and a power of ten.
fn shortest_scientific(number: f64) -> (String, i32) {
    let scientific = format!("{number:e}");
    match scientific.split_once('e') {
        Some((mantissa, exponent)) => (mantissa.to_string(), exponent.parse().unwrap_or(0)),
        None => (scientific, 0),
    }
}

/// A value Go's `encoding/json` refuses.
struct Unencodable;

/// The address of the allocation behind a string, list or map value.
fn address_of(value: &Value) -> Option<usize> {
    match value {
        Value::String(s) => Some(Arc::as_ptr(s).cast::<u8>() as usize),
        Value::List(items) => Some(Arc::as_ptr(items).cast::<u8>() as usize),
        Value::Map(entries) => Some(Arc::as_ptr(entries).cast::<u8>() as usize),
        _ => None,
    }
}

/// Compact JSON as the `json` template function writes it: no HTML escaping (but
/// U+2028 / U+2029 are still escaped, as Go always does).
fn template_json<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, TemplateJsonFormatter);
    value.serialize(&mut serializer)?;
    String::from_utf8(out).map_err(serde::ser::Error::custom)
}

/// serde_json's compact layout with Go's escaping of line and paragraph separators.
struct TemplateJsonFormatter;

impl serde_json::ser::Formatter for TemplateJsonFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        skopos_core::go::json::write_string_fragment(writer, fragment, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::render;
    use crate::test_support::render_ok;
    use gotmpl::tmap;

    #[test]
    fn json_marshals_plain_values_without_html_escaping() {
        assert_eq!(render_ok("{{json .Layers}}"), "[\"a\",\"b\"]\n");
        assert_eq!(
            render_ok("{{json \"<a&b>\"}}|{{json 3}}|{{json true}}"),
            "\"<a&b>\"|3|true\n"
        );
        assert_eq!(
            render_ok("{{json .}}"),
            "{\"Layers\":[\"a\",\"b\"],\"Name\":\"Hello wörld_x-y z\",\"Os\":\"linux\"}\n"
        );
        assert_eq!(render_ok("{{json \"\u{2028}\"}}"), "\"\\u2028\"\n");
    }

    #[test]
    fn floats_print_and_marshal_as_in_go() {
        assert_eq!(
            render_ok("{{1234567.0}} {{123456.0}} {{0.0001}} {{0.00001}} {{1e20}} {{12345678.5}} {{-0.0}} {{2.0}}"),
            "1.234567e+06 123456 0.0001 1e-05 1e+20 1.23456785e+07 -0 2\n"
        );
        assert_eq!(
            render_ok("{{json 1234567.0}} {{json 0.000001}} {{json 0.0000001}} {{json 1e20}} {{json 1e21}} {{json 123456789012345678901234.0}}"),
            "1234567 0.000001 1e-7 100000000000000000000 1e+21 1.2345678901234569e+23\n"
        );
    }

    #[test]
    fn remembered_go_forms_win_over_the_plain_value() {
        let mut go = GoForms::default();
        let nil_list = go.remember_json(Value::List(Vec::new().into()), &None::<Vec<String>>);
        let empty_list = Value::List(Vec::new().into());
        let record = go.remember_printed(tmap! { "A" => "x", "B" => 2i64 }, "{x 2}".to_string());
        let records = Value::List(vec![record.clone(), record].into());
        let data = tmap! { "Nil" => nil_list, "Empty" => empty_list, "Records" => records };
        let printed = render(
            "{{.Nil}}{{.Empty}} {{json .Nil}} {{json .Empty}} {{.Records}} {{index .Records 0}} {{(index .Records 1).A}}",
            data,
            go,
            &[("Nil", "[]string"), ("Empty", "[]string"), ("Records", "[]record")],
        );
        assert_eq!(printed.unwrap(), "[][] null [] [{x 2} {x 2}] {x 2} x\n");
    }
}
