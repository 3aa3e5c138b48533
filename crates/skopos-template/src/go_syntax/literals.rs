//! Go's reading of literals in templates: `strconv.Unquote` of strings and the number
//! checks of `parse.newNumber`.

use skopos_core::go::text::go_quote;

use super::lexer::ItemKind;

/// Go's `strconv.Unquote` of a `"…"` or `` `…` `` literal as the lexer delimits it.
pub(super) fn unquote(literal: &str) -> Option<String> {
    if let Some(raw) = literal.strip_prefix('`') {
        return Some(raw.strip_suffix('`')?.replace('\r', ""));
    }
    let mut rest = literal.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    while !rest.is_empty() {
        let (c, tail) = unquote_char(rest, '"')?;
        out.push(c);
        rest = tail;
    }
    Some(out)
}

/// Go's `strconv.UnquoteChar`: the first character of `text` (an escape sequence or not)
/// inside a literal quoted with `quote`, and what follows it.
fn unquote_char(text: &str, quote: char) -> Option<(char, &str)> {
    let mut chars = text.chars();
    let c = chars.next()?;
    if c == quote {
        return None;
    }
    if c != '\\' {
        return Some((c, chars.as_str()));
    }
    let escape = chars.next()?;
    let simple = match escape {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        '\\' => Some('\\'),
        '\'' | '"' if escape == quote => Some(escape),
        _ => None,
    };
    if let Some(simple) = simple {
        return Some((simple, chars.as_str()));
    }
    let rest = chars.as_str();
    let (digits, radix) = match escape {
        'x' => (2, 16),
        'u' => (4, 16),
        'U' => (8, 16),
        '0'..='7' => (2, 8),
        _ => return None,
    };
    let number = rest.get(..digits)?;
    let mut value = u32::from_str_radix(number, radix).ok()?;
    if !number.chars().all(|d| d.is_digit(radix)) {
        return None;
    }
    if radix == 8 {
        value += escape.to_digit(8)? << 6;
        if value > 255 {
            return None;
        }
    }
    // `\x` and octal escapes are bytes; text here is UTF-8, so only ASCII ones are kept
    // as they are (the value only matters for validity).
    let c = if escape == 'x' || radix == 8 {
        char::from_u32(value).unwrap_or('\u{fffd}')
    } else {
        char::from_u32(value)?
    };
    Some((c, &rest[digits..]))
}

/// Go's `parse.newNumber` checks: `Err` with its message for numbers Go refuses.
pub(super) fn check_number(text: &str, kind: ItemKind) -> Result<(), String> {
    match kind {
        ItemKind::CharConstant => {
            let inner = &text[1..];
            let (_, tail) = unquote_char(inner, '\'').ok_or("invalid syntax")?;
            if tail != "'" {
                return Err(format!("malformed character constant: {text}"));
            }
            return Ok(());
        }
        ItemKind::Complex => return Ok(()),
        _ => {}
    }
    if let Some(imaginary) = text.strip_suffix('i') {
        if parse_float(imaginary).is_some() {
            return Ok(());
        }
    }
    if parse_int(text).is_some() {
        return Ok(());
    }
    match parse_float(text) {
        Some(_) if !text.contains(['.', 'e', 'E', 'p', 'P']) => {
            Err(format!("integer overflow: {}", go_quote(text)))
        }
        Some(_) => Ok(()),
        None => Err(format!("illegal number syntax: {}", go_quote(text))),
    }
}

/// Whether the number literal `text` (as the parser accepted it) has an integer value, which
/// Go passes where a function wants an `int` (`2.0` and `'a'` do, `2.5` does not).
pub fn is_integral(text: &str) -> bool {
    text.starts_with('\'')
        || parse_int(text).is_some()
        || parse_float(text).is_some_and(|value| value.fract() == 0.0)
}

/// Go's `strconv.underscoreOK`: underscores only between digits (a base prefix counts).
fn underscores_ok(text: &str) -> bool {
    let text = text.strip_prefix(['+', '-']).unwrap_or(text);
    let bytes = text.as_bytes();
    let mut saw = b'^';
    let mut index = 0;
    let mut hex = false;
    if bytes.len() >= 2
        && bytes[0] == b'0'
        && matches!(bytes[1].to_ascii_lowercase(), b'b' | b'o' | b'x')
    {
        index = 2;
        saw = b'0';
        hex = bytes[1].eq_ignore_ascii_case(&b'x');
    }
    for &b in &bytes[index..] {
        if b.is_ascii_digit() || hex && b.is_ascii_hexdigit() {
            saw = b'0';
        } else if b == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else if saw == b'_' {
            return false;
        } else {
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Whether Go's `ParseUint(text, 0, 64)` or `ParseInt(text, 0, 64)` accepts `text`.
fn parse_int(text: &str) -> Option<()> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if unsigned.is_empty() || !underscores_ok(text) {
        return None;
    }
    let lower = unsigned.to_ascii_lowercase();
    let (radix, digits) = if lower.len() >= 3 && lower.starts_with("0b") {
        (2, &lower[2..])
    } else if lower.len() >= 3 && lower.starts_with("0o") {
        (8, &lower[2..])
    } else if lower.len() >= 3 && lower.starts_with("0x") {
        (16, &lower[2..])
    } else if let Some(octal) = lower.strip_prefix('0') {
        (8, octal)
    } else {
        (10, lower.as_str())
    };
    let digits = digits.replace('_', "");
    let magnitude = if digits.is_empty() {
        0
    } else {
        u64::from_str_radix(&digits, radix).ok()?
    };
    let limit = if negative { 1u64 << 63 } else { u64::MAX };
    (magnitude <= limit).then_some(())
}

/// Go's `strconv.ParseFloat(text, 64)`: the value, `None` for bad syntax or overflow.
fn parse_float(text: &str) -> Option<f64> {
    if !underscores_ok(text) {
        return None;
    }
    let cleaned = text.replace('_', "");
    let (negative, unsigned) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
    };
    let lower = unsigned.to_ascii_lowercase();
    let value = if let Some(hex) = lower.strip_prefix("0x") {
        // Hexadecimal mantissa, which needs a binary exponent.
        let (mantissa, exponent) = hex.split_once('p')?;
        let exponent: i32 = exponent.parse().ok()?;
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let mut value = 0f64;
        for digit in whole.chars().chain(fraction.chars()) {
            value = value * 16.0 + f64::from(digit.to_digit(16)?);
        }
        let fraction_bits = i32::try_from(fraction.len()).ok()?.checked_mul(4)?;
        value * 2f64.powi(exponent - fraction_bits)
    } else {
        if !lower
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        {
            return None;
        }
        lower.parse::<f64>().ok()?
    };
    value
        .is_finite()
        .then_some(if negative { -value } else { value })
}
