//! Go's built-in `index`, `len`, `slice`, `print`, `println`, `html`, `js` and `urlquery`
//! as Go runs them over `inspect`'s data: they see the Go types gotmpl's values hide (a
//! `*time.Time` is no string to them), fail with Go's messages, and print values as Go
//! does; the escapers take any number of values.

use gotmpl::{TemplateError, Value};

use crate::functions::{arg_count, calling, string_value};
use crate::go_forms::BasicKind;
use crate::GoForms;

/// Go's `index`, where a missing key yields the map's zero value rather than no value: every
/// map in `inspect`'s output is a `map[string]string` (labels, annotations), so that is `""`,
/// also for a map that is absent (nil in Go), as `{{index .Labels "x"}}` prints in skopeo.
/// Indexing a string yields its byte, a `uint8` in Go.
pub(crate) fn index(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    let [item, indices @ ..] = args else {
        return Err(arg_count("index", 1, args));
    };
    let failed = |message: String| calling("index", message);
    let mut item = item.clone();
    for key in indices {
        if let Some(go_struct) = forms.struct_type(&item) {
            return Err(failed(format!("can't index item of type {go_struct}")));
        }
        item = match (&item, key) {
            (Value::Map(map), Value::String(key)) => map
                .get(key.as_ref())
                .cloned()
                .unwrap_or_else(|| string_value(String::new())),
            (Value::Map(_), other) => {
                return Err(failed(format!(
                    "value has type {}; should be string",
                    forms.go_type(other)
                )))
            }
            (Value::Nil, Value::String(_)) => string_value(String::new()),
            (Value::Nil, _) => return Err(failed("index of untyped nil".to_string())),
            (Value::List(items), key) => {
                items[element_position(forms, key, items.len(), "slice").map_err(failed)?].clone()
            }
            (Value::String(text), key) => {
                let at = element_position(forms, key, text.len(), "string").map_err(failed)?;
                Value::Uint(u64::from(text.as_bytes()[at]))
            }
            (other, _) => {
                return Err(failed(format!(
                    "can't index item of type {}",
                    forms.go_type(other)
                )))
            }
        };
    }
    Ok(item)
}

/// Go's `indexArg`: `key` as a position in something `cap` long, which may be `cap`
/// itself (the end of a slice expression).
fn position(forms: &GoForms, key: &Value, cap: usize) -> Result<usize, String> {
    let wanted = match key {
        Value::Int(n) => *n,
        Value::Uint(n) => i64::try_from(*n).unwrap_or(i64::MAX),
        Value::Nil => return Err("cannot index slice/array with nil".to_string()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                forms.go_type(other)
            ))
        }
    };
    usize::try_from(wanted)
        .ok()
        .filter(|&at| at <= cap)
        .ok_or_else(|| format!("index out of range: {wanted}"))
}

/// `key` as the position of an element of a `kind` (`slice`, `string`) `len` long. Go
/// checks the position as for a slice expression, so one just past the end reaches
/// reflection, which refuses it in its own words.
fn element_position(forms: &GoForms, key: &Value, len: usize, kind: &str) -> Result<usize, String> {
    let at = position(forms, key, len)?;
    if at == len {
        return Err(format!("reflect: {kind} index out of range"));
    }
    Ok(at)
}

/// Go's `len`: of strings (in bytes), slices and maps; a struct (or a pointer to one) has
/// none.
pub(crate) fn len(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    let [value] = args else {
        return Err(arg_count("len", 1, args));
    };
    if let Some(go_struct) = forms.struct_type(value) {
        return Err(calling("len", format!("len of type {go_struct}")));
    }
    let length = match value {
        Value::String(text) => text.len(),
        Value::List(items) => items.len(),
        Value::Map(entries) => entries.len(),
        // Where this came from tells Go's message (see `go_exec`).
        other => {
            return Err(TemplateError::Exec(format!(
                "len: cannot take length of {}",
                other.type_name()
            )))
        }
    };
    Ok(Value::Int(i64::try_from(length).unwrap_or(i64::MAX)))
}

/// Go's `slice`: `slice x 1 2` is `x[1:2]`, of a string (by bytes) or a slice.
pub(crate) fn slice(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    let [item, indices @ ..] = args else {
        return Err(arg_count("slice", 1, args));
    };
    let failed = |message: String| calling("slice", message);
    if matches!(item, Value::Nil) {
        return Err(failed("slice of untyped nil".to_string()));
    }
    if indices.len() > 3 {
        return Err(failed(format!("too many slice indexes: {}", indices.len())));
    }
    let not_sliceable = || {
        let go_type = forms
            .struct_type(item)
            .map_or_else(|| forms.go_type(item), str::to_string);
        failed(format!("can't slice item of type {go_type}"))
    };
    if forms.struct_type(item).is_some() {
        return Err(not_sliceable());
    }
    let len = match item {
        Value::String(_) if indices.len() == 3 => {
            return Err(failed("cannot 3-index slice a string".to_string()))
        }
        Value::String(text) => text.len(),
        Value::List(items) => items.len(),
        _ => return Err(not_sliceable()),
    };
    let mut bounds = [0, len, len];
    for (bound, index) in bounds.iter_mut().zip(indices) {
        *bound = position(forms, index, len).map_err(failed)?;
    }
    for pair in bounds[..indices.len().max(2)].windows(2) {
        if pair[0] > pair[1] {
            return Err(failed(format!(
                "invalid slice index: {} > {}",
                pair[0], pair[1]
            )));
        }
    }
    let [start, end, _] = bounds;
    Ok(match item {
        // Go may cut a character in two; its bytes cannot be kept in a string here.
        Value::String(text) => {
            string_value(String::from_utf8_lossy(&text.as_bytes()[start..end]).into_owned())
        }
        Value::List(items) => Value::List(items[start..end].to_vec().into()),
        _ => return Err(not_sliceable()),
    })
}

/// Go's `fmt.Sprint` of template values: spaces only between operands that are not
/// strings; `nil` prints as `nil_text`.
fn sprint(forms: &GoForms, args: &[Value], nil_text: &str) -> String {
    let is_string = |value: &Value| forms.basic_kind(value) == Some(BasicKind::String);
    let mut out = String::new();
    for (at, value) in args.iter().enumerate() {
        if at > 0 && !is_string(&args[at - 1]) && !is_string(value) {
            out.push(' ');
        }
        match value {
            Value::Nil => out.push_str(nil_text),
            other => out.push_str(&forms.print(other)),
        }
    }
    out
}

/// Go's `evalArgs` for the escapers: one string as it is, anything else as `fmt.Sprint`
/// prints it (a missing value as `<no value>`).
fn escaped_text(forms: &GoForms, args: &[Value]) -> String {
    if let [value @ Value::String(text)] = args {
        if forms.is_plain_string(value) {
            return text.to_string();
        }
    }
    sprint(forms, args, "<no value>")
}

/// Go's `print`: `fmt.Sprint` of the values.
pub(crate) fn print(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    Ok(string_value(sprint(forms, args, "<nil>")))
}

/// Go's `println`: `fmt.Sprintln` of the values, spaces between all of them.
pub(crate) fn println(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    let printed: Vec<String> = args
        .iter()
        .map(|value| sprint(forms, std::slice::from_ref(value), "<nil>"))
        .collect();
    Ok(string_value(format!("{}\n", printed.join(" "))))
}

/// Go's `html`: the values as `fmt.Sprint` prints them, HTML-escaped.
pub(crate) fn html(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    Ok(string_value(gotmpl::html_escape(&escaped_text(
        forms, args,
    ))))
}

/// Go's `js`: the values as `fmt.Sprint` prints them, escaped for JavaScript.
pub(crate) fn js(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    Ok(string_value(gotmpl::js_escape(&escaped_text(forms, args))))
}

/// Go's `urlquery`: the values as `fmt.Sprint` prints them, escaped for a URL query.
pub(crate) fn urlquery(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    Ok(string_value(gotmpl::url_encode(&escaped_text(forms, args))))
}

#[cfg(test)]
mod tests {
    use crate::test_support::render_typed;

    /// Go's message for `format` failing at column `column` in node `node`.
    fn go_error(column: usize, node: &str, message: &str) -> Result<String, String> {
        Err(format!(
            "template: skopeo inspect:1:{column}: executing \"skopeo inspect\" at <{node}>: {message}"
        ))
    }

    #[test]
    fn a_time_is_no_string_to_go_functions() {
        let wrong_type = "wrong type for value; expected string; got *time.Time";
        assert_eq!(
            render_typed("{{upper .Created}}"),
            go_error(19, ".Created", wrong_type)
        );
        assert_eq!(
            render_typed("{{.Created | lower}}"),
            go_error(24, "lower", wrong_type)
        );
        assert_eq!(
            render_typed("{{upper .Digest}}"),
            go_error(
                19,
                ".Digest",
                "wrong type for value; expected string; got digest.Digest"
            )
        );
        assert_eq!(
            render_typed("{{len .Created}}"),
            go_error(
                13,
                "len .Created",
                "error calling len: len of type time.Time"
            )
        );
        assert_eq!(
            render_typed("{{.Created | len}}"),
            go_error(24, "len", "error calling len: len of type time.Time")
        );
        assert_eq!(
            render_typed("{{index .Created 0}}"),
            go_error(
                13,
                "index .Created 0",
                "error calling index: can't index item of type time.Time"
            )
        );
        // What Go takes as it is: a digest is a string to `len`, `index` and `slice`.
        assert_eq!(
            render_typed(
                "{{len .Digest}} {{index .Digest 0}} {{slice .Digest 0 3}} {{html .Created}}"
            ),
            Ok("10 115 sha 2024-01-02 03:04:05 +0000 UTC\n".to_string())
        );
    }

    #[test]
    fn one_past_the_end_reaches_reflection() {
        assert_eq!(
            render_typed("{{index .Layers 1}}"),
            go_error(
                13,
                "index .Layers 1",
                "error calling index: reflect: slice index out of range"
            )
        );
        assert_eq!(
            render_typed("{{index .Os 5}}"),
            go_error(
                13,
                "index .Os 5",
                "error calling index: reflect: string index out of range"
            )
        );
        assert_eq!(
            render_typed("{{index .Os 6}}"),
            go_error(
                13,
                "index .Os 6",
                "error calling index: index out of range: 6"
            )
        );
    }

    #[test]
    fn slice_fails_as_go_does() {
        let slice_error = |format: &str, message: &str| {
            let node = format.trim_start_matches("{{").trim_end_matches("}}");
            go_error(13, node, &format!("error calling slice: {message}"))
        };
        for (format, message) in [
            ("{{slice .Created}}", "can't slice item of type time.Time"),
            (
                "{{slice .Labels}}",
                "can't slice item of type map[string]string",
            ),
            ("{{slice 3}}", "can't slice item of type int"),
            ("{{slice nil}}", "slice of untyped nil"),
            (
                "{{slice .Os \"a\"}}",
                "cannot index slice/array with type string",
            ),
            ("{{slice .Os nil}}", "cannot index slice/array with nil"),
            ("{{slice .Os 1 2 3 4}}", "too many slice indexes: 4"),
            ("{{slice .Os 1 2 3}}", "cannot 3-index slice a string"),
            ("{{slice .Os 0 6}}", "index out of range: 6"),
            ("{{slice .Os 3 2}}", "invalid slice index: 3 > 2"),
            ("{{slice .Layers 0 1 0}}", "invalid slice index: 1 > 0"),
        ] {
            assert_eq!(
                render_typed(format),
                slice_error(format, message),
                "{format}"
            );
        }
        assert_eq!(
            render_typed("{{slice .Os 1 3}}|{{slice .Os 5}}|{{slice .Layers 0 1 1}}"),
            Ok("in||[x]\n".to_string())
        );
    }

    #[test]
    fn print_spaces_and_prints_values_as_go_does() {
        assert_eq!(
            render_typed("{{print .Created 1}}|{{print .Digest 1}}|{{print nil 1 \"a\" nil}}|{{println .Os .Layers nil}}"),
            Ok("2024-01-02 03:04:05 +0000 UTC 1|sha256:abc1|<nil> 1a<nil>|linux [x] <nil>\n\n".to_string())
        );
    }

    #[test]
    fn escapers_print_any_number_of_values_as_sprint_does() {
        assert_eq!(
            render_typed("[{{html}}{{js}}{{urlquery}}]"),
            Ok("[]\n".to_string())
        );
        assert_eq!(
            render_typed("{{html .Os .Os}} {{html 1 2}} {{html .Os 1}} {{js \"<a>\" 1}} {{urlquery .Os \"a b\"}}"),
            Ok("linuxlinux 1 2 linux1 \\u003Ca\\u003E1 linuxa+b\n".to_string())
        );
    }
}
