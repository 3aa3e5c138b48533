//! Go's `printf` (`fmt.Sprintf`) over template values: flags, width, precision and
//! argument indexes; verbs per Go type, applied to each element of slices, maps and
//! structs; `%T`; and fmt's in-band complaints (`%!d(string=x)`, `%!s(MISSING)`,
//! `%!(EXTRA …)`, `%!(NOVERB)`). gotmpl's own `printf` knows neither Go's types nor
//! these forms.

use gotmpl::{TemplateError, Value};
use skopos_core::go::text::{go_quote, is_go_printable};
use skopos_core::go::time::GoTime;

use crate::functions::{arg_count, string_value};
use crate::GoForms;

/// `value` as fmt formats it with `verb` and no flags (`%s` of a struct with an `int64`
/// field is `{… %!s(int64=7)}`).
pub(crate) fn format_value(forms: &GoForms, value: &Value, verb: char) -> String {
    let mut printer = Printer {
        forms,
        flags: Flags::default(),
        out: String::new(),
        operand_types: &[],
    };
    printer.print_arg(value, verb, None);
    printer.out
}

/// Go's `printf`.
pub(crate) fn printf(forms: &GoForms, args: &[Value]) -> Result<Value, TemplateError> {
    printf_typed(forms, args, &[])
}

/// Go's `printf` whose operands after the format have the Go types `operand_types` where
/// those are known and the values do not tell them (an `int64` is a number like any).
pub(crate) fn printf_typed(
    forms: &GoForms,
    args: &[Value],
    operand_types: &[Option<String>],
) -> Result<Value, TemplateError> {
    let [format, values @ ..] = args else {
        return Err(arg_count("printf", 1, args));
    };
    let Value::String(format) = format else {
        return Err(TemplateError::Exec(format!(
            "wrong type for value; expected string; got {}",
            forms.go_type(format)
        )));
    };
    let mut printer = Printer {
        forms,
        flags: Flags::default(),
        out: String::new(),
        operand_types,
    };
    printer.sprintf(format, values);
    Ok(string_value(printer.out))
}

/// fmt's flags, width and precision for one verb.
#[derive(Debug, Default, Clone, Copy)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    /// `%#v`: Go syntax.
    sharp_v: bool,
    /// `%+v`: struct fields with their names.
    plus_v: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// fmt's limit on widths and precisions.
const TOO_LARGE: usize = 1_000_000;

struct Printer<'a> {
    forms: &'a GoForms,
    flags: Flags,
    out: String,
    /// The Go types of the operands, where known beyond what their values tell.
    operand_types: &'a [Option<String>],
}

impl Printer<'_> {
    /// The Go type of operand `index` when it is known beyond its value.
    fn operand_type(&self, index: usize) -> Option<&str> {
        self.operand_types.get(index)?.as_deref()
    }
}

/// The number at `at` in `format` (at most [`TOO_LARGE`]) and where it ends.
fn parse_number(format: &[u8], mut at: usize) -> (Option<usize>, usize) {
    let start = at;
    let mut number = 0usize;
    while at < format.len() && format[at].is_ascii_digit() {
        number = number * 10 + usize::from(format[at] - b'0');
        if number > TOO_LARGE {
            return (None, format.len());
        }
        at += 1;
    }
    ((at > start).then_some(number), at)
}

impl Printer<'_> {
    /// Go's `doPrintf`.
    fn sprintf(&mut self, format: &str, values: &[Value]) {
        let bytes = format.as_bytes();
        let end = bytes.len();
        let mut next = 0;
        let mut at = 0;
        let mut reordered = false;
        while at < end {
            let literal = at;
            while at < end && bytes[at] != b'%' {
                at += 1;
            }
            self.out.push_str(&format[literal..at]);
            if at >= end {
                break;
            }
            at += 1;
            self.flags = Flags::default();
            while at < end {
                match bytes[at] {
                    b'#' => self.flags.sharp = true,
                    b'0' => self.flags.zero = !self.flags.minus,
                    b'+' => self.flags.plus = true,
                    b'-' => {
                        self.flags.minus = true;
                        self.flags.zero = false;
                    }
                    b' ' => self.flags.space = true,
                    _ => break,
                }
                at += 1;
            }
            let mut good_index = true;
            let mut after_index;
            (next, at, after_index) = self.arg_number(
                bytes,
                at,
                next,
                values.len(),
                &mut good_index,
                &mut reordered,
            );
            if at < end && bytes[at] == b'*' {
                at += 1;
                let (width, after) = int_arg(values, next);
                next = after;
                match width {
                    Some(width) if width < 0 => {
                        self.flags.width = Some(magnitude(width));
                        self.flags.minus = true;
                        self.flags.zero = false;
                    }
                    Some(width) => self.flags.width = Some(magnitude(width)),
                    None => self.out.push_str("%!(BADWIDTH)"),
                }
                after_index = false;
            } else {
                let (width, after) = parse_number(bytes, at);
                self.flags.width = width;
                at = after;
                if after_index && width.is_some() {
                    good_index = false;
                }
            }
            if at + 1 < end && bytes[at] == b'.' {
                at += 1;
                if after_index {
                    good_index = false;
                }
                (next, at, after_index) = self.arg_number(
                    bytes,
                    at,
                    next,
                    values.len(),
                    &mut good_index,
                    &mut reordered,
                );
                if at < end && bytes[at] == b'*' {
                    at += 1;
                    let (precision, after) = int_arg(values, next);
                    next = after;
                    match precision {
                        Some(precision) if precision >= 0 => {
                            self.flags.precision = Some(magnitude(precision));
                        }
                        Some(_) => {}
                        None => self.out.push_str("%!(BADPREC)"),
                    }
                    after_index = false;
                } else {
                    let (precision, after) = parse_number(bytes, at);
                    self.flags.precision = Some(precision.unwrap_or(0));
                    at = after;
                }
            }
            if !after_index {
                (next, at, _) = self.arg_number(
                    bytes,
                    at,
                    next,
                    values.len(),
                    &mut good_index,
                    &mut reordered,
                );
            }
            let Some(verb) = format.get(at..).and_then(|rest| rest.chars().next()) else {
                self.out.push_str("%!(NOVERB)");
                break;
            };
            at += verb.len_utf8();
            if verb == '%' {
                self.out.push('%');
            } else if !good_index {
                self.out.push_str(&format!("%!{verb}(BADINDEX)"));
            } else if next >= values.len() {
                self.out.push_str(&format!("%!{verb}(MISSING)"));
            } else {
                if verb == 'v' {
                    // `%#v` (Go syntax) and `%+v` (field names) are not `#` and `+`.
                    self.flags.sharp_v = self.flags.sharp;
                    self.flags.sharp = false;
                    self.flags.plus_v = self.flags.plus;
                    self.flags.plus = false;
                }
                let go_type = self.operand_type(next).map(str::to_string);
                self.print_arg(&values[next], verb, go_type.as_deref());
                next += 1;
            }
        }
        if !reordered && next < values.len() {
            self.flags = Flags::default();
            self.out.push_str("%!(EXTRA ");
            for (index, value) in values.iter().enumerate().skip(next) {
                if index > next {
                    self.out.push_str(", ");
                }
                if matches!(value, Value::Nil) {
                    self.out.push_str("<nil>");
                } else {
                    let go_type = self
                        .operand_type(index)
                        .map_or_else(|| self.forms.go_type(value), str::to_string);
                    self.out.push_str(&go_type);
                    self.out.push('=');
                    self.print_arg(value, 'v', Some(&go_type));
                }
            }
            self.out.push(')');
        }
    }

    /// Go's `argNumber`: an explicit `[n]` argument index at `at`, if any.
    fn arg_number(
        &self,
        format: &[u8],
        at: usize,
        next: usize,
        count: usize,
        good_index: &mut bool,
        reordered: &mut bool,
    ) -> (usize, usize, bool) {
        if at >= format.len() || format[at] != b'[' {
            return (next, at, false);
        }
        *reordered = true;
        let Some(close) = format[at..].iter().position(|&byte| byte == b']') else {
            *good_index = false;
            return (next, at + 1, false);
        };
        let (number, after) = parse_number(format, at + 1);
        match number {
            Some(number) if after == at + close && (1..=count).contains(&number) => {
                (number - 1, at + close + 1, true)
            }
            _ => {
                *good_index = false;
                (
                    next,
                    at + close + 1,
                    after == at + close && number.is_some(),
                )
            }
        }
    }

    /// Go's `printArg`; `go_type` is the value's Go type when its context tells it (a
    /// struct field), otherwise the value's own.
    fn print_arg(&mut self, value: &Value, verb: char, go_type: Option<&str>) {
        let go_type = go_type.map_or_else(|| self.forms.go_type(value), str::to_string);
        if matches!(value, Value::Nil) {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, value, &go_type),
            }
            return;
        }
        if verb == 'T' {
            self.format_string(&go_type);
            return;
        }
        if let Some(time) = self.forms.time(value) {
            // fmt calls a time's `String` for the string verbs, and prints `<nil>` when a
            // nil one fails.
            if time.is_none() || !matches!(verb, 's' | 'v' | 'q' | 'x' | 'X') {
                self.print_time(time, verb, value, &go_type);
                return;
            }
        }
        // Strings keep fmt's padding and quoting below; a time is a string here only.
        let plain_string = matches!(value, Value::String(_)) && self.forms.time(value).is_none();
        if verb == 'v' && self.flags.sharp_v && !plain_string {
            let text = self.go_syntax(value, &go_type);
            self.pad(&text);
            return;
        }
        match value {
            Value::Bool(truth) => match verb {
                't' | 'v' => self.pad(if *truth { "true" } else { "false" }),
                _ => self.bad_verb(verb, value, &go_type),
            },
            Value::Int(number) => {
                self.format_integer(number.unsigned_abs(), *number < 0, verb, value, &go_type)
            }
            Value::Uint(number) => self.format_integer(*number, false, verb, value, &go_type),
            Value::Float(number) => self.format_float(*number, verb, value, &go_type),
            Value::String(text) => {
                // A time prints through its String method only for string verbs.
                if self.forms.is_pointer(value) && !matches!(verb, 'v' | 's' | 'x' | 'X' | 'q') {
                    self.bad_verb(verb, value, &go_type);
                } else {
                    self.format_text(text, verb, value, &go_type);
                }
            }
            Value::List(items) => {
                self.out.push('[');
                let element = go_type.strip_prefix("[]").map(str::to_string);
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        self.out.push(' ');
                    }
                    self.print_element(item, verb, element.as_deref());
                }
                self.out.push(']');
            }
            Value::Map(entries) => {
                if let Some(fields) = self.forms.struct_fields(&go_type) {
                    self.out.push('{');
                    for (index, (name, field_type)) in fields.iter().enumerate() {
                        if index > 0 {
                            self.out.push(' ');
                        }
                        if verb == 'v' && self.flags.plus_v {
                            self.out.push_str(name);
                            self.out.push(':');
                        }
                        let field = entries.get(name.as_str()).cloned().unwrap_or(Value::Nil);
                        self.print_element(&field, verb, Some(field_type));
                    }
                    self.out.push('}');
                    return;
                }
                if self.forms.struct_type(value).is_some() {
                    // A struct whose fields are not known: as Go prints it with `%v`.
                    self.out.push_str(&self.forms.print(value));
                    return;
                }
                let element = go_type
                    .strip_prefix("map[")
                    .and_then(|rest| rest.split_once(']'))
                    .map(|(_, element)| element.to_string());
                self.out.push_str("map[");
                for (index, (key, item)) in entries.iter().enumerate() {
                    if index > 0 {
                        self.out.push(' ');
                    }
                    self.print_element(&Value::String(key.clone()), verb, Some("string"));
                    self.out.push(':');
                    self.print_element(item, verb, element.as_deref());
                }
                self.out.push(']');
            }
            _ => self.bad_verb(verb, value, &go_type),
        }
    }

    /// A `*time.Time` where fmt does not call its `String` method (integer verbs), or a
    /// nil one (whose `String` fmt catches failing): the pointer's struct, `&{wall ext
    /// loc}`, or the nil pointer as a number. `time.Time` keeps nanoseconds in `wall` and
    /// seconds since year 1 in `ext` for a parsed time; `loc` is nil for UTC (other zones'
    /// addresses are printed as 0 too: no two runs of Go print the same one).
    fn print_time(&mut self, time: Option<GoTime>, verb: char, value: &Value, go_type: &str) {
        const SECONDS_FROM_YEAR_1_TO_1970: i64 = 62_135_596_800;
        let Some(time) = time else {
            match verb {
                's' | 'v' | 'q' | 'x' | 'X' => self.pad("<nil>"),
                _ => self.format_integer(0, false, verb, value, go_type),
            }
            return;
        };
        let seconds = time.unix_seconds() + SECONDS_FROM_YEAR_1_TO_1970;
        self.out.push_str("&{");
        self.format_integer(time.nanosecond().into(), false, verb, value, go_type);
        self.out.push(' ');
        self.format_integer(seconds.unsigned_abs(), seconds < 0, verb, value, go_type);
        self.out.push(' ');
        self.format_integer(0, false, verb, value, go_type);
        self.out.push('}');
    }

    /// fmt's `%#v`: `value`, of Go type `go_type`, written as Go source would write it.
    fn go_syntax(&self, value: &Value, go_type: &str) -> String {
        if let Some(time) = self.forms.time(value) {
            // fmt prints `<nil>` when `GoString` fails on a nil pointer.
            return time.map_or_else(|| "<nil>".to_string(), |time| time.to_go_syntax());
        }
        let joined = |parts: Vec<String>| parts.join(", ");
        match value {
            Value::Nil => "<nil>".to_string(),
            Value::Bool(truth) => truth.to_string(),
            Value::Int(number) => number.to_string(),
            Value::Uint(number) => format!("0x{number:x}"),
            Value::Float(number) => general(*number, None, false),
            Value::String(text) => go_quote(text),
            Value::List(_) | Value::Map(_) if self.forms.marshals_as_null(value) => {
                format!("{go_type}(nil)")
            }
            Value::List(items) => {
                let element = go_type.strip_prefix("[]").unwrap_or("interface {}");
                let items = items
                    .iter()
                    .map(|item| self.go_syntax_of_element(item, element));
                format!("{go_type}{{{}}}", joined(items.collect()))
            }
            Value::Map(entries) => {
                if let Some(fields) = self.forms.struct_fields(go_type.trim_start_matches('*')) {
                    let fields = fields.iter().map(|(name, field_type)| {
                        let field = entries.get(name.as_str()).cloned().unwrap_or(Value::Nil);
                        format!("{name}:{}", self.go_syntax_of_element(&field, field_type))
                    });
                    let pointer = if go_type.starts_with('*') { "&" } else { "" };
                    let struct_type = go_type.trim_start_matches('*');
                    return format!("{pointer}{struct_type}{{{}}}", joined(fields.collect()));
                }
                let element = go_type
                    .strip_prefix("map[")
                    .and_then(|rest| rest.split_once(']'))
                    .map_or("interface {}", |(_, element)| element);
                let entries = entries.iter().map(|(key, item)| {
                    format!(
                        "{}:{}",
                        go_quote(key),
                        self.go_syntax_of_element(item, element)
                    )
                });
                format!("{go_type}{{{}}}", joined(entries.collect()))
            }
            _ => self.forms.print(value),
        }
    }

    /// [`Self::go_syntax`] of an element whose container gives its type; an
    /// `interface {}` element has the type of what it holds.
    fn go_syntax_of_element(&self, value: &Value, go_type: &str) -> String {
        match go_type {
            "interface {}" => self.go_syntax(value, &self.forms.go_type(value)),
            _ => self.go_syntax(value, go_type),
        }
    }

    /// An element of a slice, map or struct, whose Go type its container tells; an
    /// `interface {}` element has the type of what it holds.
    fn print_element(&mut self, value: &Value, verb: char, go_type: Option<&str>) {
        let go_type = go_type.filter(|go_type| *go_type != "interface {}");
        if matches!(value, Value::Nil) && go_type.is_none() {
            self.pad("<nil>");
            return;
        }
        self.print_arg(value, verb, go_type);
    }

    /// fmt's `%!verb(type=value)`, the value printed with `%v` and the same flags.
    fn bad_verb(&mut self, verb: char, value: &Value, go_type: &str) {
        self.out.push_str(&format!("%!{verb}("));
        if matches!(value, Value::Nil) {
            self.out.push_str("<nil>");
        } else {
            self.out.push_str(go_type);
            self.out.push('=');
            if self.forms.is_pointer(value) {
                // Go prints the time the pointer points to through its String method.
                if let Value::String(text) = value {
                    self.format_string(text);
                }
            } else {
                self.print_arg(value, 'v', Some(go_type));
            }
        }
        self.out.push(')');
    }

    /// `text` padded to the width, on the left unless `-`.
    fn pad(&mut self, text: &str) {
        let length = text.chars().count();
        let padding = self.flags.width.unwrap_or(0).saturating_sub(length);
        if self.flags.minus {
            self.out.push_str(text);
            self.out.extend(std::iter::repeat_n(' ', padding));
        } else {
            let fill = if self.flags.zero { '0' } else { ' ' };
            self.out.extend(std::iter::repeat_n(fill, padding));
            self.out.push_str(text);
        }
    }

    /// fmt's `fmtS`: at most `precision` characters, padded.
    fn format_string(&mut self, text: &str) {
        match self.flags.precision {
            Some(precision) => {
                let truncated: String = text.chars().take(precision).collect();
                self.pad(&truncated);
            }
            None => self.pad(text),
        }
    }

    /// fmt's `fmtString`.
    fn format_text(&mut self, text: &str, verb: char, value: &Value, go_type: &str) {
        match verb {
            'v' if self.flags.sharp_v => self.pad(&go_quote(text)),
            'v' | 's' => self.format_string(text),
            'x' => self.format_hex(text.as_bytes(), b"0123456789abcdefx"),
            'X' => self.format_hex(text.as_bytes(), b"0123456789ABCDEFX"),
            'q' => {
                let text: String = match self.flags.precision {
                    Some(precision) => text.chars().take(precision).collect(),
                    None => text.to_string(),
                };
                let quoted = if self.flags.sharp && can_backquote(&text) {
                    format!("`{text}`")
                } else if self.flags.plus {
                    ascii_only(&go_quote(&text))
                } else {
                    go_quote(&text)
                };
                self.pad(&quoted);
            }
            _ => self.bad_verb(verb, value, go_type),
        }
    }

    /// fmt's `fmtSbx` for strings: hexadecimal bytes, `0x` with `#`, spaced with ` `.
    fn format_hex(&mut self, bytes: &[u8], digits: &[u8; 17]) {
        let length = self
            .flags
            .precision
            .map_or(bytes.len(), |precision| precision.min(bytes.len()));
        let mut encoded = String::new();
        for (index, byte) in bytes[..length].iter().enumerate() {
            if index > 0 && self.flags.space {
                encoded.push(' ');
            }
            if self.flags.sharp && (index == 0 || self.flags.space) {
                encoded.push('0');
                encoded.push(char::from(digits[16]));
            }
            encoded.push(char::from(digits[usize::from(byte >> 4)]));
            encoded.push(char::from(digits[usize::from(byte & 0xf)]));
        }
        let zero = self.flags.zero;
        self.flags.zero = false;
        self.pad(&encoded);
        self.flags.zero = zero;
    }

    /// fmt's `fmtInteger` and the verbs integers take.
    fn format_integer(
        &mut self,
        magnitude: u64,
        negative: bool,
        verb: char,
        value: &Value,
        go_type: &str,
    ) {
        let (base, upper) = match verb {
            'v' | 'd' => (10, false),
            'b' => (2, false),
            'o' | 'O' => (8, false),
            'x' => (16, false),
            'X' => (16, true),
            'c' => {
                let c = u32::try_from(magnitude)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{fffd}');
                self.pad(&c.to_string());
                return;
            }
            'q' => {
                let c = u32::try_from(magnitude)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{fffd}');
                let quoted = go_quote(&c.to_string());
                let inner = &quoted[1..quoted.len() - 1];
                let inner = inner.replace("\\\"", "\"").replace('\'', "\\'");
                self.pad(&format!("'{inner}'"));
                return;
            }
            'U' => {
                let mut text = format!("U+{magnitude:04X}");
                if self.flags.sharp {
                    if let Some(c) = u32::try_from(magnitude).ok().and_then(char::from_u32) {
                        if is_go_printable(c) {
                            text.push_str(&format!(" '{c}'"));
                        }
                    }
                }
                self.pad(&text);
                return;
            }
            _ => return self.bad_verb(verb, value, go_type),
        };
        let mut digits = match base {
            2 => format!("{magnitude:b}"),
            8 => format!("{magnitude:o}"),
            16 if upper => format!("{magnitude:X}"),
            16 => format!("{magnitude:x}"),
            _ => magnitude.to_string(),
        };
        let signed = negative || self.flags.plus || self.flags.space;
        let minimum = match self.flags.precision {
            Some(0) if magnitude == 0 => {
                let zero = self.flags.zero;
                self.flags.zero = false;
                self.pad("");
                self.flags.zero = zero;
                return;
            }
            Some(precision) => precision,
            None if self.flags.zero && !self.flags.minus => self
                .flags
                .width
                .map_or(0, |width| width.saturating_sub(usize::from(signed))),
            None => 0,
        };
        if digits.len() < minimum {
            digits = format!("{}{digits}", "0".repeat(minimum - digits.len()));
        }
        let prefix = match (self.flags.sharp, base, verb) {
            (_, 8, 'O') => "0o",
            (true, 2, _) => "0b",
            (true, 8, _) if !digits.starts_with('0') => "0",
            (true, 16, _) if upper => "0X",
            (true, 16, _) => "0x",
            _ => "",
        };
        let sign = if negative {
            "-"
        } else if self.flags.plus {
            "+"
        } else if self.flags.space {
            " "
        } else {
            ""
        };
        let zero = self.flags.zero;
        self.flags.zero = false;
        self.pad(&format!("{sign}{prefix}{digits}"));
        self.flags.zero = zero;
    }

    /// fmt's `fmtFloat` and the verbs floats take.
    fn format_float(&mut self, number: f64, verb: char, value: &Value, go_type: &str) {
        let precision = self.flags.precision;
        let text = match verb {
            'v' | 'g' | 'G' => general(number, precision, verb == 'G'),
            'e' | 'E' => exponent(number, precision.unwrap_or(6), verb == 'E'),
            'f' | 'F' => format!("{:.*}", precision.unwrap_or(6), number),
            'x' | 'X' => hex_float(number, precision, verb == 'X'),
            'b' => binary_float(number),
            _ => return self.bad_verb(verb, value, go_type),
        };
        let (sign, digits) = match text.strip_prefix('-') {
            Some(digits) => ("-", digits),
            None if self.flags.plus => ("+", text.as_str()),
            None if self.flags.space => (" ", text.as_str()),
            None => ("", text.as_str()),
        };
        let width = self.flags.width.unwrap_or(0);
        let length = sign.len() + digits.len();
        if self.flags.zero && !self.flags.minus && width > length && number.is_finite() {
            self.out.push_str(sign);
            self.out.push_str(&"0".repeat(width - length));
            self.out.push_str(digits);
            return;
        }
        let zero = self.flags.zero;
        self.flags.zero = false;
        self.pad(&format!("{sign}{digits}"));
        self.flags.zero = zero;
    }
}

/// Go's `%e`: `decimals` digits after the point, an exponent of at least two digits.
fn exponent(number: f64, decimals: usize, upper: bool) -> String {
    let scientific = format!("{number:.decimals$e}");
    go_exponent(&scientific, upper)
}

/// Rust's `1.5e3` as Go's `1.5e+03`.
fn go_exponent(scientific: &str, upper: bool) -> String {
    let Some((mantissa, power)) = scientific.split_once('e') else {
        return scientific.to_string();
    };
    let power: i32 = power.parse().unwrap_or(0);
    let sign = if power < 0 { '-' } else { '+' };
    let e = if upper { 'E' } else { 'e' };
    format!("{mantissa}{e}{sign}{:02}", power.unsigned_abs())
}

/// Go's `%g` (and `%v`): the shortest digits, or `precision` significant ones, with an
/// exponent when it is below -4 or at least the precision (6 for the shortest).
fn general(number: f64, precision: Option<usize>, upper: bool) -> String {
    if number == 0.0 || !number.is_finite() {
        return number.to_string();
    }
    let scientific = match precision {
        None => format!("{number:e}"),
        Some(precision) => format!("{number:.*e}", precision.max(1) - 1),
    };
    let Some((mantissa, power)) = scientific.split_once('e') else {
        return scientific;
    };
    let power: i32 = power.parse().unwrap_or(0);
    let digits: String = mantissa
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .trim_end_matches('0')
        .to_string();
    let significant = digits.len().max(1);
    let point = power + 1;
    let limit = match precision {
        None => 6,
        Some(precision) => {
            let precision = precision.max(1);
            let fits = i32::try_from(significant).is_ok_and(|significant| significant >= point);
            if precision > significant && fits {
                significant
            } else {
                precision
            }
        }
    };
    if power < -4 || i64::from(power) >= i64::try_from(limit).unwrap_or(i64::MAX) {
        let scientific = format!("{number:.*e}", significant - 1);
        return go_exponent(&scientific, upper);
    }
    let decimals =
        usize::try_from(i64::try_from(significant).unwrap_or(0) - i64::from(point)).unwrap_or(0);
    format!("{number:.decimals$}")
}

/// The bits after the point of a finite float's mantissa.
const FRACTION_BITS: u32 = 52;

/// A finite float's magnitude as `mantissa × 2^(exponent − FRACTION_BITS)`: the leading 1
/// made explicit for normal numbers, subnormals with the smallest exponent.
fn float_parts(number: f64) -> (u64, i32) {
    let bits = number.to_bits();
    let biased_exponent = ((bits >> FRACTION_BITS) & 0x7ff) as i32;
    let fraction = bits & ((1 << FRACTION_BITS) - 1);
    match biased_exponent {
        0 => (fraction, -1022),
        biased => (fraction | 1 << FRACTION_BITS, biased - 1023),
    }
}

/// Go's `%x` of a float: `-0x1.8p+01`, the mantissa normalized to a leading 1, its
/// hexadecimal digits all (trailing zeros left out) or rounded to `precision` (half to
/// even), the binary exponent with at least two digits.
fn hex_float(number: f64, precision: Option<usize>, upper: bool) -> String {
    if !number.is_finite() {
        return non_finite(number);
    }
    let (mut mantissa, mut exponent) = float_parts(number);
    if mantissa == 0 {
        exponent = 0;
    }
    while mantissa != 0 && mantissa & (1 << FRACTION_BITS) == 0 {
        mantissa <<= 1;
        exponent -= 1;
    }
    let all_digits = (FRACTION_BITS / 4) as usize;
    if let Some(kept) = precision.filter(|kept| *kept < all_digits) {
        let shift = ((all_digits - kept) * 4) as u32;
        let dropped = mantissa & ((1 << shift) - 1);
        let half = 1 << (shift - 1);
        mantissa >>= shift;
        if dropped > half || (dropped == half && mantissa & 1 == 1) {
            mantissa += 1;
        }
        mantissa <<= shift;
        if mantissa >> (FRACTION_BITS + 1) != 0 {
            mantissa >>= 1;
            exponent += 1;
        }
    }
    let mut digits = format!("{:013x}", mantissa & ((1 << FRACTION_BITS) - 1));
    match precision {
        None => digits.truncate(digits.trim_end_matches('0').len()),
        Some(kept) if kept <= all_digits => digits.truncate(kept),
        Some(kept) => digits.push_str(&"0".repeat(kept - all_digits)),
    }
    let point = if digits.is_empty() { "" } else { "." };
    let sign = if number.is_sign_negative() { "-" } else { "" };
    let exponent_sign = if exponent < 0 { '-' } else { '+' };
    let text = format!(
        "{sign}0x{}{point}{digits}p{exponent_sign}{:02}",
        mantissa >> FRACTION_BITS,
        exponent.unsigned_abs()
    );
    if upper {
        text.to_uppercase()
    } else {
        text
    }
}

/// Go's `%b` of a float: the integer mantissa and the power of two it is multiplied by,
/// `6755399441055744p-52` for 1.5.
fn binary_float(number: f64) -> String {
    if !number.is_finite() {
        return non_finite(number);
    }
    let (mantissa, exponent) = float_parts(number);
    // The mantissa as an integer: its point moved past the fraction bits.
    let exponent = exponent - FRACTION_BITS as i32;
    let sign = if number.is_sign_negative() { "-" } else { "" };
    let exponent_sign = if exponent >= 0 { "+" } else { "" };
    format!("{sign}{mantissa}p{exponent_sign}{exponent}")
}

/// fmt's infinities and NaN (a `+` comes with the flag).
fn non_finite(number: f64) -> String {
    match number {
        n if n.is_nan() => "NaN",
        n if n > 0.0 => "Inf",
        _ => "-Inf",
    }
    .to_string()
}

/// Go's `strconv.CanBackquote`.
fn can_backquote(text: &str) -> bool {
    text.chars()
        .all(|c| c != '`' && c != '\u{feff}' && (c == '\t' || !c.is_control()))
}

/// A Go-quoted string with its non-ASCII characters escaped, as `strconv.QuoteToASCII`.
fn ascii_only(quoted: &str) -> String {
    quoted
        .chars()
        .map(|c| match u32::from(c) {
            code if code < 0x80 => c.to_string(),
            code if code <= 0xffff => format!("\\u{code:04x}"),
            code => format!("\\U{code:08x}"),
        })
        .collect()
}

/// The size of a width or precision given as an argument (within [`TOO_LARGE`]).
fn magnitude(number: i64) -> usize {
    usize::try_from(number.unsigned_abs()).unwrap_or(TOO_LARGE)
}

/// Go's `intFromArg`: the value at `next` as a width or precision, and the next index.
fn int_arg(values: &[Value], next: usize) -> (Option<i64>, usize) {
    let Some(value) = values.get(next) else {
        return (None, next);
    };
    let number = match value {
        Value::Int(number) => Some(*number),
        Value::Uint(number) => i64::try_from(*number).ok(),
        _ => None,
    };
    let limit = i64::try_from(TOO_LARGE).unwrap_or(i64::MAX);
    (number.filter(|number| number.abs() <= limit), next + 1)
}

#[cfg(test)]
mod tests {
    use crate::test_support::render_typed;

    fn printed(format: &str) -> String {
        render_typed(format).unwrap_or_else(|error| panic!("{format}: {error}"))
    }

    #[test]
    fn integers_floats_and_strings_take_go_flags() {
        assert_eq!(
            printed("{{printf \"%d|%5d|%-5d|%05d|%+d|% d|%x|%X|%#x|%o|%#o|%O|%b|%c|%q|%U|%#U|%.3d|%8.3d\" 42 42 42 42 42 42 255 255 255 8 8 8 5 65 65 65 65 7 7}}"),
            "42|   42|42   |00042|+42| 42|ff|FF|0xff|10|010|0o10|101|A|'A'|U+0041|U+0041 'A'|007|     007\n"
        );
        assert_eq!(
            printed("{{printf \"%d|%05d|%+d|%x\" -42 -42 -42 -255}}"),
            "-42|-0042|-42|-ff\n"
        );
        assert_eq!(
            printed("{{printf \"%f|%.2f|%8.3f|%-8.2f|%+.1f|%e|%.3e|%E|%g|%.3g|%G|%v|%08.3f\" 3.14159 3.14159 3.14159 3.14159 3.14159 1234.5678 1234.5678 1234.5678 1234.5678 1234.5678 0.000012345 2.5 -3.14159}}"),
            "3.141590|3.14|   3.142|3.14    |+3.1|1.234568e+03|1.235e+03|1.234568E+03|1234.5678|1.23e+03|1.2345E-05|2.5|-003.142\n"
        );
        assert_eq!(
            printed(
                "{{printf \"%g|%g|%g|%g|%.2g|%.10g\" 100000.0 1000000.0 0.0001 0.00001 123.0 1.0}}"
            ),
            "100000|1e+06|0.0001|1e-05|1.2e+02|1\n"
        );
        assert_eq!(
            printed("{{printf \"%s|%5s|%-5s|%.2s|%q|%x|% x|%#x|%#v\" .Os .Os .Os .Os .Os .Os .Os .Os .Os}}"),
            "linux|linux|linux|li|\"linux\"|6c696e7578|6c 69 6e 75 78|0x6c696e7578|\"linux\"\n"
        );
    }

    #[test]
    fn values_keep_their_go_types() {
        assert_eq!(
            printed("{{printf \"%T|%T|%T|%T|%T|%T|%T|%T|%T\" .Os 1 1.5 true .Layers .Labels nil .Created .Digest}}"),
            "string|int|float64|bool|[]string|map[string]string|<nil>|*time.Time|digest.Digest\n"
        );
        assert_eq!(
            printed("{{printf \"%d|%q|%s|%d\" .Layers .Layers .Labels .Digest}}"),
            "[%!d(string=x)]|[\"x\"]|map[a:1]|%!d(digest.Digest=sha256:abc)\n"
        );
        assert_eq!(
            printed("{{printf \"%s|%d|%c\" (index .Os 0) (index .Os 0) (index .Os 0)}}"),
            "%!s(uint8=108)|108|l\n"
        );
    }

    #[test]
    fn mistakes_are_reported_in_the_output_as_fmt_does() {
        assert_eq!(printed("{{printf \"%s %s\" .Os}}"), "linux %!s(MISSING)\n");
        assert_eq!(
            printed("{{printf \"%s\" .Os 1 \"x\" nil}}"),
            "linux%!(EXTRA int=1, string=x, <nil>)\n"
        );
        assert_eq!(
            printed("[{{printf \"%\"}}|{{printf \"%!\"}}]"),
            "[%!(NOVERB)|%!!(MISSING)]\n"
        );
        assert_eq!(
            printed("{{printf \"%z|%d|%s|%5.2f|%v|%d\" 1 3.5 3.5 3 nil nil}}"),
            "%!z(int=1)|%!d(float64=3.5)|%!s(float64=3.5)|%!f(int=   03)|<nil>|%!d(<nil>)\n"
        );
        assert_eq!(
            printed("{{printf \"%[2]s %[1]s|%[3]s\" .Os \"a\"}}"),
            "a linux|%!s(BADINDEX)\n"
        );
        assert_eq!(
            printed(
                "{{printf \"%*d|%-*d|%.*f|%%|%5%\" 5 3 5 3 2 3.14159}}{{printf \"%*d\" \"x\" 3}}"
            ),
            "    3|3    |3.14|%|%%!(BADWIDTH)3\n"
        );
    }
}
