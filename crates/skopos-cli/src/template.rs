//! `inspect --format`, as newer skopeo runs it through containers/common's `report`
//! package: the format is normalized (`table ` prefix, `\t` / `\n` escapes, final newline),
//! wrapped in `{{range .}}…{{end -}}` unless it ranges over dot itself, and executed over a
//! one-element list with `report`'s extra functions (`join, json, lower, pad, split, title,
//! truncate, upper`). Only `table` formats go through a tab writer, which is flushed at the
//! end; other formats print exactly what the template writes. gotmpl runs the template,
//! but Go decides which templates parse ([`go_syntax`]) and how a failure reads
//! ([`go_exec`]), so that errors are skopeo's byte for byte.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::anyhow;
use gotmpl::parse::{CommandNode, Expr, ListNode, Node, PipeNode};
use gotmpl::{Template, TemplateError, Value};
use serde::Serialize;

mod go_exec;
mod go_syntax;

/// Template name, as it appears in skopeo's template errors.
const TEMPLATE_NAME: &str = "skopeo inspect";

/// The functions `report` adds to Go's built-in ones.
const FUNCTIONS: &[&str] = &[
    "join", "json", "lower", "pad", "split", "title", "truncate", "upper",
];

/// What `report` wraps a format in, so that it runs once for the one inspected image.
const RANGE_OPEN: &str = "{{range .}}";
const RANGE_CLOSE: &str = "{{end -}}";

/// Go's regexp `\s`: ASCII whitespace without vertical tab.
fn is_go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

/// containers/common `report.IsJSON`: `json`, `{{json}}`, `{{ json. }}` (with spaces) mean
/// plain JSON output. `{{json .}}` is not among them: it is a template calling `json`.
pub fn is_json_format(format: &str) -> bool {
    let trimmed = format.trim_matches(is_go_space);
    if trimmed == "json" {
        return true;
    }
    let Some(inner) = trimmed
        .strip_prefix("{{")
        .and_then(|rest| rest.strip_suffix("}}"))
    else {
        return false;
    };
    matches!(
        inner.trim_matches(is_go_space).strip_prefix("json"),
        Some("" | ".")
    )
}

/// containers/common `report.NormalizeFormat`: a `table ` prefix turns spaces into tabs;
/// literal `\t` / `\n` become tab / newline; a final newline is added when missing.
pub fn normalize_format(format: &str) -> String {
    let mut normalized = if format.starts_with("table ") {
        replace_all(
            format,
            &[("table ", ""), ("\\t", "\t"), (" ", "\t"), ("\\n", "\n")],
        )
    } else {
        replace_all(format, &[("\\t", "\t"), ("\\n", "\n")])
    };
    if !normalized.ends_with('\n') {
        normalized.push('\n');
    }
    normalized
}

/// Go's `strings.NewReplacer`: at each position, the first listed pattern that matches
/// wins; replaced text is not scanned again.
fn replace_all(text: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for (from, to) in pairs {
            if let Some(after) = rest.strip_prefix(from) {
                out.push_str(to);
                rest = after;
                continue 'scan;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// `text` after optional Go whitespace and then `word`; `None` when `word` is not there.
fn after_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    text.trim_start_matches(is_go_space).strip_prefix(word)
}

/// Whether `text` matches `report`'s `(?s){{\s*range\s*\.\s*}}.*{{\s*end\s*-?\s*}}`: a
/// format that already ranges over dot is executed as it is.
fn ranges_over_dot(text: &str) -> bool {
    let mut search = text;
    while let Some(at) = search.find("{{") {
        let piece = &search[at + 2..];
        if let Some(rest) = range_dot_opening(piece) {
            // Any later opening is followed by fewer closings than this first one.
            return contains_closing(rest);
        }
        search = piece;
    }
    false
}

/// `\s*range\s*\.\s*}}` at the start of `at`: what follows it.
fn range_dot_opening(at: &str) -> Option<&str> {
    let rest = after_word(at, "range")?;
    let rest = after_word(rest, ".")?;
    after_word(rest, "}}")
}

/// `\s*end\s*-?\s*}}` at the start of `at`: what follows it.
fn end_closing(at: &str) -> Option<&str> {
    let rest = after_word(at, "end")?;
    let rest = rest.trim_start_matches(is_go_space);
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    after_word(rest, "}}")
}

/// Whether `text` contains `{{\s*end\s*-?\s*}}`.
fn contains_closing(text: &str) -> bool {
    let mut search = text;
    while let Some(at) = search.find("{{") {
        let piece = &search[at + 2..];
        if end_closing(piece).is_some() {
            return true;
        }
        search = piece;
    }
    false
}

/// How Go would marshal (`json`) and print (`{{…}}`) the parts of the template data
/// that the plain value does not tell: structs (field order, `omitempty`, `{…}` when
/// printed), times, and nil slices and maps (which templates print as empty ones). Parts
/// are known by the address of their shared allocation, which every clone the template
/// makes of them keeps.
#[derive(Debug, Default, Clone)]
pub struct GoForms {
    json_by_address: HashMap<usize, String>,
    printed_by_address: HashMap<usize, String>,
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

    /// What an action prints for `value`: Go's `%v`, with structs as remembered.
    fn print(&self, value: &Value) -> String {
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
            other => out.push_str(&other.to_string()),
        }
    }

    /// `json.NewEncoder` with `SetEscapeHTML(false)`, trailing newline trimmed, as
    /// `report`'s `json` does; `""` when Go could not encode the value (functions, NaN).
    fn encode(&self, value: &Value) -> String {
        let mut out = String::new();
        match self.encode_into(value, &mut out) {
            Ok(()) => out,
            Err(Unencodable) => String::new(),
        }
    }

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
            Value::Float(f) if f.is_finite() => out.push_str(&f.to_string()),
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
        let mut start = 0;
        for (index, c) in fragment.char_indices() {
            let escape = match c {
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
}

/// A template that could not be parsed or failed while running.
#[derive(Debug)]
pub struct RenderError {
    /// What reached standard output before the failure (Go writes as it executes).
    pub printed: String,
    /// Why it failed.
    pub error: anyhow::Error,
}

impl RenderError {
    fn before_output(error: anyhow::Error) -> Self {
        RenderError {
            printed: String::new(),
            error,
        }
    }
}

/// One way of reading the user's format: the template source to execute, and, when the
/// format was wrapped in `{{range .}}`, the wrapped body (where dot is the data).
struct Candidate {
    source: String,
    body: Option<String>,
}

impl Candidate {
    fn wrapped(body: String) -> Self {
        Candidate {
            source: format!("{RANGE_OPEN}{body}{RANGE_CLOSE}"),
            body: Some(body),
        }
    }

    /// `report.EnforceRange`.
    fn enforce_range(text: String) -> Self {
        if ranges_over_dot(&text) {
            Candidate {
                source: text,
                body: None,
            }
        } else {
            Self::wrapped(text)
        }
    }
}

/// Run `format` over `data` as newer skopeo's `writeOutput` does (`report.New(…).Parse(
/// report.OriginUser, format)`, `Execute([]any{data})`, `Flush()`) and return what reaches
/// stdout. `fields` are the names and Go types of the Go struct's fields: Go refuses any
/// other `.Field` (maps here would print `<no value>`), and its errors name the types.
/// `json` tells the `json` function about `data`.
pub fn render(
    format: &str,
    data: Value,
    json: GoForms,
    fields: &[(&str, &str)],
) -> Result<String, RenderError> {
    let table = format.strip_prefix("table ");
    // `report` first tries the normalized format, then (when that does not parse, e.g.
    // a `\n` inside a string literal) the format as written.
    let (normalized, as_written) = match table {
        Some(rest) => (
            Candidate::wrapped(normalize_format(format)),
            Candidate::wrapped(rest.to_string()),
        ),
        None => (
            Candidate::enforce_range(normalize_format(format)),
            Candidate::enforce_range(format.to_string()),
        ),
    };
    let json = Arc::new(json);
    let parsed_normalized = match go_syntax::parse(TEMPLATE_NAME, &normalized.source, FUNCTIONS) {
        Ok(tree) => new_template(&json)
            .parse(&go_syntax::without_dangling_pipes(&normalized.source))
            .ok()
            .map(|template| (template, tree)),
        Err(_) => None,
    };
    let (template, candidate, go_tree) = match parsed_normalized {
        Some((template, tree)) => (template, normalized, tree),
        None => {
            let tree = go_syntax::parse(TEMPLATE_NAME, &as_written.source, FUNCTIONS)
                .map_err(|message| RenderError::before_output(anyhow!(message)))?;
            match new_template(&json).parse(&go_syntax::without_dangling_pipes(&as_written.source))
            {
                Ok(template) => (template, as_written, tree),
                Err(err) => return Err(RenderError::before_output(anyhow!("{err}"))),
            }
        }
    };
    let template = print_like_go(template);
    let through_writer = |text: &str| {
        if table.is_some() {
            tabwriter_flushed(text)
        } else {
            text.to_string()
        }
    };
    let body = candidate
        .body
        .clone()
        .or_else(|| user_range_body(&candidate.source, &go_tree));
    if let Some(body) = &body {
        if let Some(unknown) = unknown_field(body, &candidate.source, fields, &json) {
            let printed = unknown.printed_before(&json, &data);
            return Err(RenderError {
                printed: through_writer(&printed),
                error: anyhow!(unknown.message),
            });
        }
    }
    let list = Value::List(vec![data].into());
    let mut printed = String::new();
    match template.execute_template_fmt(&mut printed, TEMPLATE_NAME, &list) {
        Ok(()) => Ok(through_writer(&printed)),
        Err(err) => Err(RenderError {
            printed: through_writer(&printed),
            error: match go_exec::message(TEMPLATE_NAME, &candidate.source, &go_tree, &err, fields)
            {
                Some(message) => anyhow!(message),
                None => anyhow!("{err}"),
            },
        }),
    }
}

/// The body of a format that itself starts with `{{range .}}` (which `report` runs as it
/// is), where dot is the data as in a wrapped format's body.
fn user_range_body(source: &str, tree: &[go_syntax::Node]) -> Option<String> {
    if !source.starts_with(RANGE_OPEN) {
        return None;
    }
    match tree.first() {
        Some(go_syntax::Node::Control(_, _, _, body_end)) => {
            source.get(RANGE_OPEN.len()..*body_end).map(str::to_string)
        }
        _ => None,
    }
}

/// The function every printing action ends in, so that values print as Go prints them.
const PRINT_FUNCTION: &str = "_skopos_print";

/// `template` with every printing action of every template in it piped into
/// [`PRINT_FUNCTION`].
fn print_like_go(template: Template) -> Template {
    let names: Vec<String> = template.templates().into_iter().map(String::from).collect();
    names.into_iter().fold(template, |template, name| {
        match template.lookup(&name).cloned() {
            Some(mut tree) => {
                pipe_actions_into_print(&mut tree.nodes);
                template.add_parse_tree(&name, tree)
            }
            None => template,
        }
    })
}

fn pipe_actions_into_print(nodes: &mut [Node]) {
    for node in nodes {
        match node {
            Node::Action(action) if action.pipe.decl.is_empty() => {
                let pos = action.pipe.pos;
                action.pipe.commands.push(CommandNode {
                    pos,
                    args: vec![Expr::Identifier(pos, PRINT_FUNCTION.into())],
                });
            }
            Node::List(list) => pipe_actions_into_print(&mut list.nodes),
            Node::If(branch) | Node::With(branch) | Node::Range(branch) => {
                pipe_actions_into_print(&mut branch.body.nodes);
                if let Some(else_body) = &mut branch.else_body {
                    pipe_actions_into_print(&mut else_body.nodes);
                }
            }
            _ => {}
        }
    }
}

/// A template with `report`'s functions.
fn new_template(json: &Arc<GoForms>) -> Template {
    let json = Arc::clone(json);
    let forms = Arc::clone(&json);
    Template::new(TEMPLATE_NAME)
        .func(PRINT_FUNCTION, move |args: &[Value]| {
            let [value] = args else {
                return Err(arg_count(PRINT_FUNCTION, 1, args));
            };
            Ok(string_value(forms.print(value)))
        })
        .func("index", index)
        .func("join", join)
        .func("json", move |args: &[Value]| {
            let [value] = args else {
                return Err(arg_count("json", 1, args));
            };
            Ok(string_value(json.encode(value)))
        })
        .func("lower", |args: &[Value]| {
            one_string("lower", args).map(|s| string_value(go_lower(s)))
        })
        .func("pad", pad)
        .func("split", split)
        .func("title", |args: &[Value]| {
            one_string("title", args).map(|s| string_value(go_title(s)))
        })
        .func("truncate", truncate)
        .func("upper", |args: &[Value]| {
            one_string("upper", args).map(|s| string_value(go_upper(s)))
        })
}

fn string_value(text: String) -> Value {
    Value::String(text.into())
}

/// Go's `index`, where a missing key yields the map's zero value rather than no value: every
/// map in `inspect`'s output is a `map[string]string` (labels, annotations), so that is `""`,
/// also for a map that is absent (nil in Go), as `{{index .Labels "x"}}` prints in skopeo.
/// Indexing a string yields its byte, a `uint8` in Go.
fn index(args: &[Value]) -> Result<Value, TemplateError> {
    let [item, indices @ ..] = args else {
        return Err(arg_count("index", 1, args));
    };
    let mut item = item.clone();
    for key in indices {
        item = match (&item, key) {
            (Value::Map(map), Value::String(key)) => map
                .get(key.as_ref())
                .cloned()
                .unwrap_or_else(|| string_value(String::new())),
            (Value::Map(_), other) => {
                return Err(index_error(format!(
                    "value has type {}; should be string",
                    go_type_name(other)
                )))
            }
            (Value::Nil, Value::String(_)) => string_value(String::new()),
            (Value::Nil, _) => return Err(index_error("index of untyped nil".to_string())),
            (Value::List(items), key) => items[position(key, items.len())?].clone(),
            (Value::String(text), key) => {
                Value::Uint(u64::from(text.as_bytes()[position(key, text.len())?]))
            }
            (other, _) => {
                return Err(index_error(format!(
                    "can't index item of type {}",
                    go_type_name(other)
                )))
            }
        };
    }
    Ok(item)
}

/// Go's `indexArg`: `key` as a position in something `len` long.
fn position(key: &Value, len: usize) -> Result<usize, TemplateError> {
    let wanted = match key {
        Value::Int(n) => *n,
        Value::Uint(n) => i64::try_from(*n).unwrap_or(i64::MAX),
        Value::Nil => return Err(index_error("cannot index slice/array with nil".to_string())),
        other => {
            return Err(index_error(format!(
                "cannot index slice/array with type {}",
                go_type_name(other)
            )))
        }
    };
    usize::try_from(wanted)
        .ok()
        .filter(|&at| at < len)
        .ok_or_else(|| index_error(format!("index out of range: {wanted}")))
}

fn index_error(message: String) -> TemplateError {
    TemplateError::Exec(format!("error calling index: {message}"))
}

/// The Go type of a template value, as Go's messages name it. Unsigned values only come
/// from indexing strings (bytes); lists and maps are those of `interface {}` values.
fn go_type_name(value: &Value) -> &'static str {
    match value {
        Value::Uint(_) => "uint8",
        Value::List(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
        other => other.type_name(),
    }
}

/// Go's message for a call with the wrong number of arguments.
fn arg_count(name: &str, want: usize, args: &[Value]) -> TemplateError {
    TemplateError::Exec(format!(
        "wrong number of args for {name}: want {want} got {}",
        args.len()
    ))
}

/// Go's message for an argument of the wrong type.
fn wrong_type(expected: &str, got: &Value) -> TemplateError {
    TemplateError::Exec(format!(
        "wrong type for value; expected {expected}; got {}",
        got.type_name()
    ))
}

fn string_arg(value: &Value) -> Result<&str, TemplateError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(wrong_type("string", other)),
    }
}

fn int_arg(value: &Value) -> Result<i64, TemplateError> {
    match value {
        Value::Int(n) => Ok(*n),
        Value::Uint(n) => i64::try_from(*n).map_err(|_| wrong_type("int", value)),
        // Go passes a number literal with an integer value (`2.0`) as an int; floats only
        // come from literals here (no inspect field is a float).
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(*f as i64),
        other => Err(wrong_type("int", other)),
    }
}

fn one_string<'a>(name: &str, args: &'a [Value]) -> Result<&'a str, TemplateError> {
    match args {
        [value] => string_arg(value),
        _ => Err(arg_count(name, 1, args)),
    }
}

/// `strings.Join(elems []string, sep string)`.
fn join(args: &[Value]) -> Result<Value, TemplateError> {
    let [elements, separator] = args else {
        return Err(arg_count("join", 2, args));
    };
    let Value::List(items) = elements else {
        return Err(wrong_type("[]string", elements));
    };
    let items = items
        .iter()
        .map(string_arg)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(string_value(items.join(string_arg(separator)?)))
}

/// `strings.Split(s, sep string)`: an empty separator splits into characters.
fn split(args: &[Value]) -> Result<Value, TemplateError> {
    let [text, separator] = args else {
        return Err(arg_count("split", 2, args));
    };
    let (text, separator) = (string_arg(text)?, string_arg(separator)?);
    let parts: Vec<Value> = if separator.is_empty() {
        text.chars().map(|c| string_value(c.to_string())).collect()
    } else {
        text.split(separator)
            .map(|part| string_value(part.to_string()))
            .collect()
    };
    Ok(Value::List(parts.into()))
}

/// `report`'s `pad(source string, prefix, suffix int)`: spaces around a non-empty string.
fn pad(args: &[Value]) -> Result<Value, TemplateError> {
    let [text, prefix, suffix] = args else {
        return Err(arg_count("pad", 3, args));
    };
    let text = string_arg(text)?;
    let (prefix, suffix) = (int_arg(prefix)?, int_arg(suffix)?);
    if text.is_empty() {
        return Ok(string_value(String::new()));
    }
    let spaces = |count: i64| {
        usize::try_from(count)
            .map(|count| " ".repeat(count))
            .map_err(|_| {
                TemplateError::Exec("error calling pad: strings: negative Repeat count".to_string())
            })
    };
    Ok(string_value(format!(
        "{}{text}{}",
        spaces(prefix)?,
        spaces(suffix)?
    )))
}

/// `report`'s `truncate(source string, length int)`: the first `length` bytes. Go can cut
/// a character in two; here the cut moves back to the character's start.
fn truncate(args: &[Value]) -> Result<Value, TemplateError> {
    let [text, length] = args else {
        return Err(arg_count("truncate", 2, args));
    };
    let (text, length) = (string_arg(text)?, int_arg(length)?);
    let Ok(length) = usize::try_from(length) else {
        return Err(TemplateError::Exec(format!(
            "error calling truncate: runtime error: slice bounds out of range [:{length}]"
        )));
    };
    if text.len() < length {
        return Ok(string_value(text.to_string()));
    }
    let mut cut = length;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Ok(string_value(text[..cut].to_string()))
}

/// Go's `strings.ToLower`: one-to-one simple case mapping per character.
fn go_lower(text: &str) -> String {
    text.chars().map(simple_lower).collect()
}

/// Go's `strings.ToUpper`.
fn go_upper(text: &str) -> String {
    text.chars().map(simple_upper).collect()
}

fn simple_lower(c: char) -> char {
    // The one character whose full lowercase mapping is longer than its simple one.
    if c == '\u{130}' {
        return 'i';
    }
    single(c.to_lowercase()).unwrap_or(c)
}

fn simple_upper(c: char) -> char {
    single(c.to_uppercase()).unwrap_or(c)
}

/// The mapping when it is one character (Go has no multi-character mappings).
fn single(mut mapped: impl Iterator<Item = char>) -> Option<char> {
    let first = mapped.next()?;
    mapped.next().is_none().then_some(first)
}

/// Go's `unicode.ToTitle`: the uppercase letter, except for the Latin digraphs, whose
/// title case is the capital-small form.
fn simple_title(c: char) -> char {
    match c {
        '\u{1C4}'..='\u{1C6}' => '\u{1C5}',
        '\u{1C7}'..='\u{1C9}' => '\u{1C8}',
        '\u{1CA}'..='\u{1CC}' => '\u{1CB}',
        '\u{1F1}'..='\u{1F3}' => '\u{1F2}',
        other => simple_upper(other),
    }
}

/// Go's deprecated `strings.Title`: title-case every letter that follows a separator
/// (ASCII other than letters, digits and `_`; beyond ASCII, white space).
fn go_title(text: &str) -> String {
    let is_separator = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            c.is_whitespace()
        }
    };
    let mut previous = ' ';
    text.chars()
        .map(|c| {
            let mapped = if is_separator(previous) {
                simple_title(c)
            } else {
                c
            };
            previous = c;
            mapped
        })
        .collect()
}

/// The first unconditionally executed `.Field` the struct does not have: Go's error
/// message, and which top-level nodes ran before it.
struct UnknownField {
    message: String,
    nodes_before: ListNode,
}

impl UnknownField {
    /// What Go printed before failing: the output of the nodes before the failing one.
    fn printed_before(&self, json: &Arc<GoForms>, data: &Value) -> String {
        const PARTIAL: &str = "skopos-before-failure";
        let mut printed = String::new();
        // The nodes parsed once already, so this template parses; an error while running
        // them would have come before the unknown field, so keep what they printed.
        if let Ok(template) = new_template(json).parse("") {
            let mut nodes_before = self.nodes_before.clone();
            pipe_actions_into_print(&mut nodes_before.nodes);
            let _ = template
                .add_parse_tree(PARTIAL, nodes_before)
                .execute_template_fmt(&mut printed, PARTIAL, data);
        }
        printed
    }
}

/// Go's error for the first unconditionally executed `.Field` that the struct does not
/// have. Only actions outside `if`/`with`/`range` bodies are checked, where dot is surely
/// the struct and the action surely runs. `body` is the wrapped format within `source`.
fn unknown_field(
    body: &str,
    source: &str,
    fields: &[(&str, &str)],
    json: &Arc<GoForms>,
) -> Option<UnknownField> {
    const DEFINE_NAME: &str = "skopos-field-check";
    let define_open = format!("{{{{define \"{DEFINE_NAME}\"}}}}");
    let checked = format!("{define_open}{body}{{{{end}}}}");
    let template = new_template(json)
        .parse(&go_syntax::without_dangling_pipes(&checked))
        .ok()?;
    let list = template.lookup(DEFINE_NAME)?;
    let (index, (offset, path)) = list.nodes.iter().enumerate().find_map(|(index, node)| {
        let found = match node {
            Node::Action(action) => unknown_in_pipe(&action.pipe, fields),
            Node::If(branch) | Node::With(branch) | Node::Range(branch) => {
                unknown_in_pipe(&branch.pipe, fields)
            }
            _ => None,
        };
        found.map(|found| (index, found))
    })?;
    // Positions in `checked` → positions in the template skopeo executes.
    let offset = (offset + RANGE_OPEN.len()).checked_sub(define_open.len())?;
    let before = source.get(..offset)?;
    let line = 1 + before.matches('\n').count();
    let column = before
        .rfind('\n')
        .map_or(offset, |newline| offset - newline - 1);
    let field = path.first()?;
    Some(UnknownField {
        message: format!(
            "template: {TEMPLATE_NAME}:{line}:{column}: executing \"{TEMPLATE_NAME}\" at <.{}>: can't evaluate field {field} in type interface {{}}",
            path.join(".")
        ),
        nodes_before: ListNode {
            pos: list.pos,
            nodes: list.nodes[..index].to_vec(),
        },
    })
}

/// The first `.Field` of `pipe` (its offset and path) whose first name is not in `fields`.
fn unknown_in_pipe(pipe: &PipeNode, fields: &[(&str, &str)]) -> Option<(usize, Vec<String>)> {
    for command in &pipe.commands {
        // Go evaluates a value given arguments (`{{.Os .Nope}}`) and refuses it before
        // looking at the arguments.
        let not_a_function =
            command.args.len() > 1 && !matches!(command.args.first(), Some(Expr::Identifier(..)));
        let evaluated = if not_a_function {
            &command.args[..1]
        } else {
            &command.args[..]
        };
        if let Some(found) = evaluated
            .iter()
            .find_map(|arg| unknown_in_expr(arg, fields))
        {
            return Some(found);
        }
        if not_a_function {
            return None;
        }
    }
    None
}

fn unknown_in_expr(expr: &Expr, fields: &[(&str, &str)]) -> Option<(usize, Vec<String>)> {
    match expr {
        Expr::Field(pos, path) => {
            let first = path.first()?;
            // Go reports a field chain at its last element (`.Nope.X` at `.X`).
            let last_offset = pos.offset
                + path[..path.len() - 1]
                    .iter()
                    .map(|name| name.len() + 1)
                    .sum::<usize>();
            (!fields.iter().any(|(name, _)| name == first))
                .then(|| (last_offset, path.iter().map(ToString::to_string).collect()))
        }
        Expr::Pipe(_, pipe) => unknown_in_pipe(pipe, fields),
        _ => None,
    }
}

/// A cell of Go's tabwriter: its text and width in characters.
struct Cell {
    text: String,
    width: usize,
}

impl Cell {
    fn new(text: String) -> Self {
        let width = text.chars().count();
        Cell { text, width }
    }
}

/// `report`'s table writer, Go's `tabwriter.NewWriter(w, 12, 2, 2, ' ', StripEscape)`,
/// fed `text` and then flushed. (StripEscape concerns 0xff bytes, which UTF-8 text never
/// holds.)
pub fn tabwriter_flushed(text: &str) -> String {
    const MIN_WIDTH: usize = 12;
    const PADDING: usize = 2;

    let mut out = String::new();
    let mut lines: Vec<Vec<Cell>> = Vec::new();
    let mut line: Vec<Cell> = Vec::new();
    let mut cell = String::new();
    for c in text.chars() {
        match c {
            '\t' | '\u{b}' | '\n' | '\u{c}' => {
                line.push(Cell::new(std::mem::take(&mut cell)));
                if c == '\n' || c == '\u{c}' {
                    let cells_in_line = line.len();
                    lines.push(std::mem::take(&mut line));
                    // A line of one cell cannot affect later columns, so Go writes out
                    // everything buffered; a form feed always does.
                    if c == '\u{c}' || cells_in_line == 1 {
                        let layout = Layout::new(&lines, MIN_WIDTH, PADDING, None);
                        layout.format(0, lines.len(), &mut Vec::new(), &mut out);
                        lines.clear();
                    }
                }
            }
            other => cell.push(other),
        }
    }
    // Flush: a pending cell ends, and the unfinished line is written without a newline.
    if !cell.is_empty() {
        line.push(Cell::new(cell));
    }
    lines.push(line);
    let last = lines.len() - 1;
    let layout = Layout::new(&lines, MIN_WIDTH, PADDING, Some(last));
    layout.format(0, lines.len(), &mut Vec::new(), &mut out);
    out
}

/// Buffered tabwriter lines and how to lay them out.
struct Layout<'a> {
    lines: &'a [Vec<Cell>],
    min_width: usize,
    padding: usize,
    /// The line written without a newline (the unfinished one at a flush).
    unterminated: Option<usize>,
}

impl<'a> Layout<'a> {
    fn new(
        lines: &'a [Vec<Cell>],
        min_width: usize,
        padding: usize,
        unterminated: Option<usize>,
    ) -> Self {
        Layout {
            lines,
            min_width,
            padding,
            unterminated,
        }
    }

    /// Go's `Writer.format`: find column blocks left to right and write lines once the
    /// widths of all their columns are known.
    fn format(&self, mut line0: usize, line1: usize, widths: &mut Vec<usize>, out: &mut String) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= self.lines[this].len() {
                this += 1;
                continue;
            }
            self.write_lines(line0, this, widths, out);
            line0 = this;
            let mut width = self.min_width;
            while this < line1 && column + 1 < self.lines[this].len() {
                width = width.max(self.lines[this][column].width + self.padding);
                this += 1;
            }
            widths.push(width);
            self.format(line0, this, widths, out);
            widths.pop();
            line0 = this;
        }
        self.write_lines(line0, line1, widths, out);
    }

    fn write_lines(&self, from: usize, to: usize, widths: &[usize], out: &mut String) {
        for (index, line) in self.lines.iter().enumerate().take(to).skip(from) {
            for (column, cell) in line.iter().enumerate() {
                out.push_str(&cell.text);
                if let Some(&column_width) = widths.get(column) {
                    out.extend(std::iter::repeat_n(
                        ' ',
                        column_width.saturating_sub(cell.width),
                    ));
                }
            }
            if self.unterminated != Some(index) {
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gotmpl::tmap;

    fn data() -> Value {
        tmap! {
            "Os" => "linux",
            "Name" => "Hello wörld_x-y z",
            "Layers" => vec!["a".to_string(), "b".to_string()],
        }
    }

    const FIELDS: &[(&str, &str)] = &[("Os", "string"), ("Name", "string"), ("Layers", "[]string")];

    fn render_ok(format: &str) -> String {
        render(format, data(), GoForms::default(), FIELDS)
            .unwrap_or_else(|failure| panic!("{format}: {:#}", failure.error))
    }

    fn render_err(format: &str) -> RenderError {
        match render(format, data(), GoForms::default(), FIELDS) {
            Ok(text) => panic!("{format} should fail, printed {text:?}"),
            Err(failure) => failure,
        }
    }

    #[test]
    fn json_formats_are_those_of_newer_containers_common() {
        for yes in [
            "json",
            " json ",
            "{{json}}",
            "{{json }}",
            "{{json.}}",
            "{{ json. }}",
        ] {
            assert!(is_json_format(yes), "{yes}");
        }
        for no in [
            "{{json .}}",
            "{{ json . }}",
            "{{json .Labels}}",
            "jsonx",
            "json .",
            "{{.Os}}",
            "",
        ] {
            assert!(!is_json_format(no), "{no}");
        }
    }

    #[test]
    fn normalizes_like_containers_common() {
        assert_eq!(normalize_format("{{.A}}\\t{{.B}}"), "{{.A}}\t{{.B}}\n");
        assert_eq!(normalize_format("table {{.A}} {{.B}}"), "{{.A}}\t{{.B}}\n");
        assert_eq!(normalize_format("x\n"), "x\n");
    }

    #[test]
    fn a_format_that_ranges_over_dot_is_not_wrapped() {
        assert!(ranges_over_dot("{{range .}}{{.Os}}{{end}}"));
        assert!(ranges_over_dot("{{ range . }}x{{ end - }}"));
        assert!(!ranges_over_dot("{{range .Layers}}{{.}}{{end}}"));
        assert!(!ranges_over_dot("{{range .}}no end"));
        assert_eq!(render_ok("{{range .}}{{.Os}}{{end}}"), "linux\n");
    }

    #[test]
    fn tabwriter_aligns_and_flushes_everything() {
        assert_eq!(
            tabwriter_flushed("x\ty\nab\tcdefghijklmnop\tz\nq\n"),
            "x           y\nab          cdefghijklmnop  z\nq\n"
        );
        // Lines with cells are written at the flush (1.9.3 lost them), and an unfinished
        // line keeps its lack of a newline.
        assert_eq!(tabwriter_flushed("linux\tamd64\n"), "linux       amd64\n");
        assert_eq!(tabwriter_flushed("a\tb"), "a           b");
        assert_eq!(tabwriter_flushed("plain\n"), "plain\n");
    }

    #[test]
    fn only_table_formats_go_through_the_tabwriter() {
        assert_eq!(
            render_ok("table {{.Os}} {{len .Layers}}"),
            "linux       2\n"
        );
        assert_eq!(render_ok("{{.Os}}\\t{{len .Layers}}"), "linux\t2\n");
        assert_eq!(render_ok("{{.Os}} {{len .Layers}}"), "linux 2\n");
        assert_eq!(render_ok("{{range .Layers}}{{.}},{{end}}"), "a,b,\n");
    }

    #[test]
    fn a_format_that_does_not_parse_normalized_is_used_as_written() {
        // Normalized, the `\n` inside the string would be a line break, which Go's lexer
        // refuses; the format as written has the escape, and no newline is appended.
        assert_eq!(render_ok("{{printf \"%s\\n\" .Os}}"), "linux\n");
        assert_eq!(render_ok("{{printf \"%s\\n\" .Os}}x"), "linux\nx");
    }

    #[test]
    fn join_split_lower_upper_title() {
        assert_eq!(render_ok("{{join .Layers \", \"}}"), "a, b\n");
        assert_eq!(render_ok("{{split \"a:b::c\" \":\"}}"), "[a b  c]\n");
        assert_eq!(render_ok("{{split \"héllo\" \"\"}}"), "[h é l l o]\n");
        assert_eq!(render_ok("{{len (split \"\" \",\")}}"), "1\n");
        assert_eq!(
            render_ok("{{join (split .Name \" \") \"+\"}}"),
            "Hello+wörld_x-y+z\n"
        );
        assert_eq!(render_ok("{{lower .Name}}"), "hello wörld_x-y z\n");
        assert_eq!(render_ok("{{upper .Name}}"), "HELLO WÖRLD_X-Y Z\n");
        // Go maps one character to one: no "SS" for ß, a plain i for İ.
        assert_eq!(
            render_ok("{{upper \"straße\"}}|{{lower \"İx\"}}"),
            "STRAßE|ix\n"
        );
        // `_` and letters continue a word; `-` and spaces start one.
        assert_eq!(render_ok("{{title .Name}}"), "Hello Wörld_x-Y Z\n");
        assert_eq!(render_ok("{{title \"ǆemal élan\"}}"), "ǅemal Élan\n");
    }

    #[test]
    fn pad_and_truncate() {
        assert_eq!(render_ok("[{{pad .Os 2 1}}]"), "[  linux ]\n");
        assert_eq!(render_ok("[{{pad \"\" 2 1}}]"), "[]\n");
        assert_eq!(
            render_ok("{{truncate .Os 3}}|{{truncate .Os 5}}|{{truncate .Os 9}}"),
            "lin|linux|linux\n"
        );
        assert_eq!(render_ok("{{truncate .Os 0}}|"), "|\n");
        // A cut inside a character moves back to its start.
        assert_eq!(render_ok("{{truncate \"wö\" 2}}"), "w\n");
        let err = render_err("{{pad .Os -1 0}}").error.to_string();
        assert!(err.contains("negative Repeat count"), "{err}");
        let err = render_err("{{truncate .Os -1}}").error.to_string();
        assert!(err.contains("slice bounds out of range [:-1]"), "{err}");
    }

    // Go's messages, at Go's positions (the format sits 11 bytes into `{{range .}}…`).
    #[test]
    fn functions_check_their_arguments_as_go_does() {
        let error = |format: &str| render_err(format).error.to_string();
        let executing = "template: skopeo inspect:1";
        assert_eq!(
            error("{{join .Layers}}"),
            format!("{executing}:13: executing \"skopeo inspect\" at <join>: wrong number of args for join: want 2 got 1")
        );
        assert_eq!(
            error("{{index}}"),
            format!("{executing}:13: executing \"skopeo inspect\" at <index>: wrong number of args for index: want at least 1 got 0")
        );
        assert_eq!(
            error("{{.Os | upper 1}}"),
            format!("{executing}:19: executing \"skopeo inspect\" at <upper>: wrong number of args for upper: want 1 got 2")
        );
        assert_eq!(
            error("{{upper .Layers}}"),
            format!("{executing}:19: executing \"skopeo inspect\" at <.Layers>: wrong type for value; expected string; got []string")
        );
        assert_eq!(
            error("{{pad .Os \"x\" 1}}"),
            format!("{executing}:21: executing \"skopeo inspect\" at <\"x\">: expected integer; found \"x\"")
        );
        assert_eq!(
            error("{{index .Layers 5}}"),
            format!("{executing}:13: executing \"skopeo inspect\" at <index .Layers 5>: error calling index: index out of range: 5")
        );
        assert_eq!(
            error("{{index .Os 0 1}}"),
            format!("{executing}:13: executing \"skopeo inspect\" at <index .Os 0 1>: error calling index: can't index item of type uint8")
        );
        assert_eq!(
            error("{{.Os.X}}"),
            format!("{executing}:16: executing \"skopeo inspect\" at <.Os.X>: can't evaluate field X in type string")
        );
        assert_eq!(
            error("{{nope .Os}}"),
            format!("{executing}: function \"nope\" not defined")
        );
        assert_eq!(
            error("{{.Os"),
            format!("{executing}: bad character U+007B '{{'")
        );
        // A literal with an integer value is an int.
        assert_eq!(
            render_ok("{{truncate .Os 2.0}}{{truncate .Os 0x1p1}}"),
            "lili\n"
        );
        // A pipeline may end in `|`.
        assert_eq!(render_ok("{{.Os | }}{{(.Os |) | upper}}"), "linuxLINUX\n");
        // Go's `index` takes one argument; a string's element is a byte.
        assert_eq!(
            render_ok("{{index .Layers}} {{index .Os 0}}"),
            "[a b] 108\n"
        );
    }

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

    #[test]
    fn unknown_fields_fail_as_in_go_after_printing_what_came_before() {
        let unknown = |format: &str| {
            let failure = render_err(format);
            (failure.printed, failure.error.to_string())
        };
        assert_eq!(
            unknown("{{.Nope}}"),
            (
                String::new(),
                "template: skopeo inspect:1:13: executing \"skopeo inspect\" at <.Nope>: can't evaluate field Nope in type interface {}".to_string()
            )
        );
        assert_eq!(
            unknown("{{.Os}}\\n {{printf \"%s\" .Nope.X}}"),
            (
                "linux\n ".to_string(),
                "template: skopeo inspect:2:20: executing \"skopeo inspect\" at <.Nope.X>: can't evaluate field Nope in type interface {}".to_string()
            )
        );
        assert_eq!(
            unknown("{{.Os}} {{.Nope}}"),
            (
                "linux ".to_string(),
                "template: skopeo inspect:1:21: executing \"skopeo inspect\" at <.Nope>: can't evaluate field Nope in type interface {}".to_string()
            )
        );
        // A format ranging over dot itself fails the same way.
        assert_eq!(
            unknown("{{range .}}{{.Os}}-{{.Nope}}{{end}}"),
            (
                "linux-".to_string(),
                "template: skopeo inspect:1:21: executing \"skopeo inspect\" at <.Nope>: can't evaluate field Nope in type interface {}".to_string()
            )
        );
        // Not checked where it may not run, or where dot is something else.
        assert_eq!(render_ok("{{if false}}{{.Nope}}{{end}}ok"), "ok\n");
    }

    #[test]
    fn failures_while_running_keep_what_was_printed() {
        let failure = render_err("{{.Os}}-{{index .Layers 5}}");
        assert_eq!(failure.printed, "linux-");
        // A table's writer is flushed after the failure: the pending line comes out
        // (a lone cell before a tab is not padded).
        let failure = render_err("table {{.Os}} {{index .Layers 5}}");
        assert_eq!(failure.printed, "linux");
    }
}
