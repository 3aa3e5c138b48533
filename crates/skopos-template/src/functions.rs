//! The functions of a `report` template: Go's `index` as `inspect`'s data needs it, and the
//! ones `report` adds (`join, json, lower, pad, split, title, truncate, upper`), checking
//! their arguments and failing with Go's messages.

use std::sync::Arc;

use gotmpl::{Template, TemplateError, Value};

use crate::go_case::{go_lower, go_title, go_upper};
use crate::go_print::PRINT_FUNCTION;
use crate::render::TEMPLATE_NAME;
use crate::GoForms;

/// The functions `report` adds to Go's built-in ones.
pub(crate) const REPORT_FUNCTIONS: &[&str] = &[
    "join", "json", "lower", "pad", "split", "title", "truncate", "upper",
];

/// A template with `report`'s functions.
pub(crate) fn new_template(json: &Arc<GoForms>) -> Template {
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

/// A template string.
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

/// A failure of `index`, as Go words it.
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

/// `value` where Go wants a string.
fn string_arg(value: &Value) -> Result<&str, TemplateError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(wrong_type("string", other)),
    }
}

/// `value` where Go wants an int.
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

/// The one string argument of `name`.
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

#[cfg(test)]
mod tests {
    use crate::test_support::{render_err, render_ok};

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
}
