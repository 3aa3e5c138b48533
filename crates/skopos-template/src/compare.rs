//! Go's comparison functions (`eq`, `ne`, `lt`, `le`, `gt`, `ge`) with Go's rules and
//! messages: basic kinds compare, integers regardless of sign; slices and maps are
//! non-comparable; pointers (a `*time.Time`) compare as pointers in `eq` but cannot be
//! ordered; errors name Go's types.

use std::cmp::Ordering;

use gotmpl::{TemplateError, Value};

use crate::functions::{arg_count, calling};
use crate::go_forms::BasicKind;
use crate::printf::format_value;
use crate::GoForms;

/// Go's `errBadComparisonType`.
const INVALID_TYPE: &str = "invalid type for comparison";

/// Go's `eq arg1 arg2…`: whether `arg1` equals any of the others.
pub(crate) fn eq(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    equal_to_any(forms, "eq", args).map(Value::Bool)
}

/// Go's `ne`: `arg1 != arg2`.
pub(crate) fn ne(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    let [_, _] = args else {
        return Err(arg_count("ne", 2, args));
    };
    equal_to_any(forms, "ne", args).map(|equal| Value::Bool(!equal))
}

/// Go's `lt`.
pub(crate) fn lt(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    ordered(forms, "lt", args, Ordering::is_lt)
}

/// Go's `le`.
pub(crate) fn le(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    ordered(forms, "le", args, Ordering::is_le)
}

/// Go's `gt`.
pub(crate) fn gt(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    ordered(forms, "gt", args, Ordering::is_gt)
}

/// Go's `ge`.
pub(crate) fn ge(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    ordered(forms, "ge", args, Ordering::is_ge)
}

/// Go's `eq`, for the function `name` that called it.
fn equal_to_any(forms: &GoForms, name: &str, args: &[Value]) -> Result<bool, TemplateError> {
    let [first, others @ ..] = args else {
        return Err(arg_count(name, 1, args));
    };
    if others.is_empty() {
        return Err(calling(name, "missing argument for comparison"));
    }
    let first_kind = forms.basic_kind(first);
    for other in others {
        let other_kind = forms.basic_kind(other);
        let equal = if first_kind != other_kind {
            match (first, other) {
                (Value::Int(a), Value::Uint(b)) | (Value::Uint(b), Value::Int(a)) => {
                    u64::try_from(*a).is_ok_and(|a| a == *b)
                }
                // Nil on one side is unequal to anything; other pairs do not compare.
                (Value::Nil, _) | (_, Value::Nil) => false,
                _ => return Err(incompatible(name, forms, first, other)),
            }
        } else if first_kind.is_some() {
            basic_order(first, other) == Some(Ordering::Equal)
        } else {
            non_basic_equal(forms, name, first, other)?
        };
        if equal {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's `eq` of two values of no basic kind: nil, slices, maps, pointers.
fn non_basic_equal(
    forms: &GoForms,
    name: &str,
    first: &Value,
    other: &Value,
) -> Result<bool, TemplateError> {
    let (first_nil, other_nil) = (matches!(first, Value::Nil), matches!(other, Value::Nil));
    if !first_nil && !other_nil && forms.go_type(first) != forms.go_type(other) {
        return Err(calling(
            name,
            format!(
                "non-comparable types {}: {}, {}: {}",
                format_value(forms, first, 's'),
                forms.go_type(first),
                forms.go_type(other),
                format_value(forms, other, 'v')
            ),
        ));
    }
    if first_nil || other_nil {
        return Ok(first_nil == other_nil);
    }
    if forms.is_pointer(other) {
        return Ok(forms.same_address(first, other));
    }
    Err(calling(
        name,
        format!(
            "non-comparable type {}: {}",
            format_value(forms, other, 's'),
            forms.go_type(other)
        ),
    ))
}

/// Go's `lt` (which `le`, `gt` and `ge` build on), as the function `name`.
fn ordered(
    forms: &GoForms,
    name: &str,
    args: &[Value],
    wanted: fn(Ordering) -> bool,
) -> Result<Value, TemplateError> {
    let [first, other] = args else {
        return Err(arg_count(name, 2, args));
    };
    let (Some(first_kind), Some(other_kind)) = (forms.basic_kind(first), forms.basic_kind(other))
    else {
        return Err(calling(name, INVALID_TYPE));
    };
    let order = match (first, other) {
        (Value::Int(a), Value::Uint(b)) => u64::try_from(*a).map_or(Ordering::Less, |a| a.cmp(b)),
        (Value::Uint(a), Value::Int(b)) => {
            u64::try_from(*b).map_or(Ordering::Greater, |b| a.cmp(&b))
        }
        _ if first_kind != other_kind => return Err(incompatible(name, forms, first, other)),
        _ if first_kind == BasicKind::Bool => return Err(calling(name, INVALID_TYPE)),
        _ => basic_order(first, other).ok_or_else(|| calling(name, INVALID_TYPE))?,
    };
    Ok(Value::Bool(wanted(order)))
}

/// The order of two values of the same basic kind (NaN has none).
fn basic_order(first: &Value, other: &Value) -> Option<Ordering> {
    match (first, other) {
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::Uint(a), Value::Uint(b)) => Some(a.cmp(b)),
        (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// Go's refusal to compare values of two different kinds, naming their Go types.
fn incompatible(name: &str, forms: &GoForms, first: &Value, other: &Value) -> TemplateError {
    calling(
        name,
        format!(
            "incompatible types for comparison: {} and {}",
            forms.go_type(first),
            forms.go_type(other)
        ),
    )
}

#[cfg(test)]
mod tests {
    use crate::test_support::render_typed;

    /// Go's message for the comparison `format` failing.
    fn go_error(format: &str, message: &str) -> Result<String, String> {
        let node = format.trim_start_matches("{{").trim_end_matches("}}");
        let function = node.split(' ').next().unwrap_or_default();
        Err(format!(
            "template: skopeo inspect:1:13: executing \"skopeo inspect\" at <{node}>: error calling {function}: {message}"
        ))
    }

    #[test]
    fn slices_and_maps_are_not_comparable() {
        for (format, message) in [
            (
                "{{eq .Labels .Labels}}",
                "non-comparable type map[a:1]: map[string]string",
            ),
            (
                "{{ne .Layers .Layers}}",
                "non-comparable type [x]: []string",
            ),
            (
                "{{eq .RepoTags .Labels}}",
                "non-comparable types []: []string, map[string]string: map[a:1]",
            ),
            (
                "{{eq .Os .Labels}}",
                "incompatible types for comparison: string and map[string]string",
            ),
            (
                "{{eq .Created .Os}}",
                "incompatible types for comparison: *time.Time and string",
            ),
            ("{{lt .Os .Layers}}", "invalid type for comparison"),
            ("{{ge .Created .Os}}", "invalid type for comparison"),
            ("{{lt true false}}", "invalid type for comparison"),
            (
                "{{gt .Os 1}}",
                "incompatible types for comparison: string and int",
            ),
        ] {
            assert_eq!(render_typed(format), go_error(format, message), "{format}");
        }
    }

    #[test]
    fn values_compare_as_in_go() {
        assert_eq!(
            render_typed(
                "{{eq .Created .Created}} {{eq .Layers nil}} {{eq .Os nil}} {{eq .Os \"x\" \"linux\" .Layers}} {{eq .Digest \"sha256:abc\"}}"
            ),
            Ok("true false false true true\n".to_string())
        );
        assert_eq!(
            render_typed("{{lt 1 2}} {{le 2 2}} {{gt 1.5 2.5}} {{ge \"b\" \"a\"}} {{ne 1 2}} {{eq (index .Os 0) 108}}"),
            Ok("true true false true true true\n".to_string())
        );
    }
}
