//! The functions of a `report` template: the ones `report` adds (`join, json, lower, pad,
//! split, title, truncate, upper`) and Go's built-in ones that gotmpl runs differently
//! ([`crate::builtins`], [`crate::compare`]), all checking their arguments and failing with
//! Go's messages.

use std::sync::Arc;

use gotmpl::{Template, TemplateError, Value};

use crate::builtins::{html, index, js, len, print, println, slice, urlquery};
use crate::compare::{eq, ge, gt, le, lt, ne};
use crate::go_case::{go_lower, go_title, go_upper};
use crate::go_rewrite::{PRINT_FUNCTION, RANGE_FUNCTION, REFUSE_FUNCTION, TRUTH_FUNCTION};
use crate::printf::{printf, printf_typed};
use crate::render::TEMPLATE_NAME;
use crate::GoForms;

/// The functions `report` adds to Go's built-in ones.
pub(crate) const REPORT_FUNCTIONS: &[&str] = &[
    "join", "json", "lower", "pad", "split", "title", "truncate", "upper",
];

/// Go's refusal to range over a value, which it prints after this.
pub(crate) const RANGE_REFUSAL: &str = "range can't iterate over ";

/// A template function that needs to know the Go forms of the data.
pub(crate) type FormsFunction = fn(&GoForms, &[Value]) -> Result<Value, TemplateError>;

/// What a call of one of this crate's functions at a known place in the template adds
/// to its error: the command's byte offset, between this and `:`.
pub(crate) const SITE_TAG: &str = "\u{1}at ";

/// The function of this crate called `name` that a call site can be told apart by (not
/// the ones this crate inserts itself).
pub(crate) fn site_function(name: &str) -> Option<FormsFunction> {
    FUNCTIONS
        .iter()
        .find(|(function, _)| *function == name && !function.starts_with("_skopos"))
        .map(|&(_, function)| function)
}

/// `function` for the call at byte offset `site`: its errors say where they happened.
pub(crate) fn at_site(
    forms: &Arc<GoForms>,
    function: FormsFunction,
    site: usize,
) -> impl Fn(&[Value]) -> Result<Value, TemplateError> + Send + Sync + 'static {
    let forms = Arc::clone(forms);
    move |args: &[Value]| at(site, function(&forms, args))
}

/// `printf` for the call at byte offset `site`, whose operands after the format have the
/// Go types `operand_types` where known (see [`printf_typed`]).
pub(crate) fn printf_at_site(
    forms: &Arc<GoForms>,
    site: usize,
    operand_types: Vec<Option<String>>,
) -> impl Fn(&[Value]) -> Result<Value, TemplateError> + Send + Sync + 'static {
    let forms = Arc::clone(forms);
    move |args: &[Value]| at(site, printf_typed(&forms, args, &operand_types))
}

/// `result` with the call site's byte offset added to its error.
fn at(site: usize, result: Result<Value, TemplateError>) -> Result<Value, TemplateError> {
    result.map_err(|error| match error {
        TemplateError::Exec(message) => TemplateError::Exec(format!("{SITE_TAG}{site}:{message}")),
        other => other,
    })
}

/// The name a call of `function` at byte offset `site` is renamed to.
pub(crate) fn site_name(function: &str, site: usize) -> String {
    format!("{function}@{site}")
}

/// A template with `report`'s functions, and Go's built-in ones where gotmpl's differ.
pub(crate) fn new_template(forms: &Arc<GoForms>) -> Template {
    FUNCTIONS.iter().fold(
        Template::new(TEMPLATE_NAME),
        |template, &(name, function)| {
            let forms = Arc::clone(forms);
            template.func(name, move |args: &[Value]| function(&forms, args))
        },
    )
}

/// This crate's template functions.
const FUNCTIONS: &[(&str, FormsFunction)] = &[
    (PRINT_FUNCTION, |forms, args| {
        let [value] = args else {
            return Err(arg_count(PRINT_FUNCTION, 1, args));
        };
        Ok(string_value(forms.print(value)))
    }),
    (RANGE_FUNCTION, |forms, args| {
        let [value] = args else {
            return Err(arg_count(RANGE_FUNCTION, 1, args));
        };
        // Go ranges over slices, maps and integers (and finds nothing in nil); not
        // over strings, booleans, floats or structs.
        let iterable = match value {
            Value::List(_) | Value::Int(_) | Value::Uint(_) | Value::Nil => true,
            Value::Map(_) => forms.struct_type(value).is_none(),
            _ => false,
        };
        if !iterable {
            return Err(TemplateError::Exec(format!(
                "{RANGE_REFUSAL}{}",
                forms.print(value)
            )));
        }
        Ok(value.clone())
    }),
    (REFUSE_FUNCTION, |_, args| match args.first() {
        Some(Value::String(message)) => Err(TemplateError::Exec(message.to_string())),
        _ => Err(arg_count(REFUSE_FUNCTION, 1, args)),
    }),
    ("eq", eq),
    ("ge", ge),
    ("gt", gt),
    ("html", html),
    (TRUTH_FUNCTION, |forms, args| {
        let [value] = args else {
            return Err(arg_count(TRUTH_FUNCTION, 1, args));
        };
        Ok(if forms.is_nil_pointer(value) {
            Value::Bool(false)
        } else {
            value.clone()
        })
    }),
    ("index", index),
    ("join", join),
    ("js", js),
    ("json", |forms, args| {
        let [value] = args else {
            return Err(arg_count("json", 1, args));
        };
        Ok(string_value(forms.encode(value)))
    }),
    ("le", le),
    ("len", len),
    ("lower", |forms, args| {
        one_string(forms, "lower", args).map(|s| string_value(go_lower(s)))
    }),
    ("lt", lt),
    ("ne", ne),
    ("pad", pad),
    ("not", |forms, args| {
        let [value] = args else {
            return Err(arg_count("not", 1, args));
        };
        Ok(Value::Bool(
            !value.is_truthy() || forms.is_nil_pointer(value),
        ))
    }),
    ("print", print),
    ("printf", printf),
    ("println", println),
    ("slice", slice),
    ("split", split),
    ("title", |forms, args| {
        one_string(forms, "title", args).map(|s| string_value(go_title(s)))
    }),
    ("truncate", truncate),
    ("upper", |forms, args| {
        one_string(forms, "upper", args).map(|s| string_value(go_upper(s)))
    }),
    ("urlquery", urlquery),
];

/// A template string.
pub(crate) fn string_value(text: String) -> Value {
    Value::String(text.into())
}

/// Go's message for a call with the wrong number of arguments.
pub(crate) fn arg_count(name: &str, want: usize, args: &[Value]) -> TemplateError {
    TemplateError::Exec(format!(
        "wrong number of args for {name}: want {want} got {}",
        args.len()
    ))
}

/// Go's message for a function `name` that failed with `message`.
pub(crate) fn calling(name: &str, message: impl std::fmt::Display) -> TemplateError {
    TemplateError::Exec(format!("error calling {name}: {message}"))
}

/// Go's message for an argument of type `got` where `expected` goes.
fn wrong_type(expected: &str, got: &str) -> TemplateError {
    TemplateError::Exec(format!(
        "wrong type for value; expected {expected}; got {got}"
    ))
}

/// `value` where Go wants a string.
fn string_arg<'a>(forms: &GoForms, value: &'a Value) -> Result<&'a str, TemplateError> {
    match value {
        Value::String(s) if forms.is_plain_string(value) => Ok(s),
        other => Err(wrong_type("string", &forms.go_type(other))),
    }
}

/// `value` where Go wants an int.
fn int_arg(forms: &GoForms, value: &Value) -> Result<i64, TemplateError> {
    match value {
        Value::Int(n) => Ok(*n),
        // Go passes a number literal with an integer value (`2.0`) as an int; floats only
        // come from literals here (no inspect field is a float).
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(*f as i64),
        other => Err(wrong_type("int", &forms.go_type(other))),
    }
}

/// The one string argument of `name`.
fn one_string<'a>(
    forms: &GoForms,
    name: &str,
    args: &'a [Value],
) -> Result<&'a str, TemplateError> {
    match args {
        [value] => string_arg(forms, value),
        _ => Err(arg_count(name, 1, args)),
    }
}

/// `strings.Join(elems []string, sep string)`.
fn join(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    let [elements, separator] = args else {
        return Err(arg_count("join", 2, args));
    };
    let items = match elements {
        // Go passes nil as a nil slice, which joins to nothing.
        Value::Nil => &[][..],
        // Lists without a remembered Go type are split's results: `[]string` in Go.
        Value::List(items)
            if matches!(
                forms.go_type(elements).as_str(),
                "[]string" | "[]interface {}"
            ) =>
        {
            &items[..]
        }
        other => return Err(wrong_type("[]string", &forms.go_type(other))),
    };
    let items = items
        .iter()
        .map(|item| string_arg(forms, item))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(string_value(items.join(string_arg(forms, separator)?)))
}

/// `strings.Split(s, sep string)`: an empty separator splits into characters.
fn split(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    let [text, separator] = args else {
        return Err(arg_count("split", 2, args));
    };
    let (text, separator) = (string_arg(forms, text)?, string_arg(forms, separator)?);
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
fn pad(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    let [text, prefix, suffix] = args else {
        return Err(arg_count("pad", 3, args));
    };
    let text = string_arg(forms, text)?;
    let (prefix, suffix) = (int_arg(forms, prefix)?, int_arg(forms, suffix)?);
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
fn truncate(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    let [text, length] = args else {
        return Err(arg_count("truncate", 2, args));
    };
    let (text, length) = (string_arg(forms, text)?, int_arg(forms, length)?);
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
    fn nil_goes_only_where_go_takes_it() {
        assert_eq!(render_ok("[{{join nil \",\"}}]"), "[]\n");
        let error = |format: &str| render_err(format).error.to_string();
        assert_eq!(
            error("{{lower nil}}"),
            "template: skopeo inspect:1:19: executing \"skopeo inspect\" at <nil>: cannot assign nil to string"
        );
        assert_eq!(
            error("{{pad .Os nil 1}}"),
            "template: skopeo inspect:1:21: executing \"skopeo inspect\" at <nil>: cannot assign nil to int"
        );
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
