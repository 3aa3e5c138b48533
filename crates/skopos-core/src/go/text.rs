//! Go's standard-library text conventions that show up in skopeo's messages and flags:
//! `strconv.Quote` (`%q`), `strconv.Atoi` / `ParseBool` / `ParseInt` and their errors,
//! `syscall.Errno` strings, and `path.Clean` / `path.Join`.

use std::fmt::Write as _;

/// `s` quoted as Go's `strconv.Quote` (and so `fmt`'s `%q`) does: in double quotes, with
/// `"` and `\` escaped, C escapes for the usual control characters and `\x`/`\u`/`\U`
/// escapes for other non-printable characters.
pub fn go_quote(s: &str) -> String {
    let mut quoted = String::with_capacity(s.len() + 2);
    quoted.push('"');
    for c in s.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\u{7}' => quoted.push_str("\\a"),
            '\u{8}' => quoted.push_str("\\b"),
            '\u{c}' => quoted.push_str("\\f"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\u{b}' => quoted.push_str("\\v"),
            c if is_go_printable(c) => quoted.push(c),
            c if (c as u32) < 0x80 => {
                let _ = write!(quoted, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(quoted, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(quoted, "\\U{:08x}", c as u32);
            }
        }
    }
    quoted.push('"');
    quoted
}

/// Go's `unicode.IsPrint` for assigned characters: exact for ASCII; elsewhere controls,
/// format characters and separators other than the ASCII space are non-printable.
pub fn is_go_printable(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    !(c.is_control()
        || matches!(c,
            '\u{a0}' | '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}'
            | '\u{1680}' | '\u{180e}' | '\u{2000}'..='\u{200f}' | '\u{2028}'..='\u{202f}'
            | '\u{205f}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{3000}' | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'))
}

/// Go's `strconv.Atoi`: an optional sign and at least one decimal digit, within `i64`.
/// The error text is Go's, e.g. `strconv.Atoi: parsing "x": invalid syntax`.
pub fn go_atoi(s: &str) -> Result<i64, String> {
    let fail = |reason: &str| format!("strconv.Atoi: parsing {}: {reason}", go_quote(s));
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return Err(fail("invalid syntax"));
    }
    // Go scans left to right and reports whichever problem it meets first.
    let mut magnitude: u64 = 0;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            return Err(fail("invalid syntax"));
        }
        magnitude = magnitude
            .checked_mul(10)
            .and_then(|m| m.checked_add(u64::from(b - b'0')))
            .ok_or_else(|| fail("value out of range"))?;
    }
    let value = if negative {
        -i128::from(magnitude)
    } else {
        i128::from(magnitude)
    };
    i64::try_from(value).map_err(|_| fail("value out of range"))
}

/// Go's `strconv.ParseBool`, as pflag's `bool` flags use it: `1 t T TRUE true True 0 f F FALSE false False`.
pub fn go_parse_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            go_quote(text)
        )),
    }
}

/// Go's `strconv.ParseInt(text, 0, 64)`, as pflag's `int` flags use it (decimal, `0x`, `0o`,
/// `0b`, leading-`0` octal, `_` separators after a prefix).
pub fn go_parse_int(text: &str) -> Result<i64, String> {
    let invalid = || {
        format!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            go_quote(text)
        )
    };
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = unsigned.to_ascii_lowercase();
    let (radix, digits) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest.replace('_', ""))
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest.replace('_', ""))
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest.replace('_', ""))
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].replace('_', ""))
    } else {
        (10, lower.clone())
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return Err(invalid());
    }
    let magnitude = i128::from_str_radix(&digits, radix).map_err(|_| invalid())?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).map_err(|_| {
        format!(
            "strconv.ParseInt: parsing {}: value out of range",
            go_quote(text)
        )
    })
}

/// The text Go prints for an OS error (`syscall.Errno.Error()`), e.g. `no such file or
/// directory`, rather than Rust's `No such file or directory (os error 2)`.
pub fn go_errno_text(err: &std::io::Error) -> String {
    let text = err.to_string();
    let Some(code) = err.raw_os_error() else {
        return text;
    };
    let detail = text
        .strip_suffix(&format!(" (os error {code})"))
        .unwrap_or(&text);
    // Go's errno table is the C library's wording with a lowercase first letter.
    let mut chars = detail.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => detail.to_string(),
    }
}

/// Go's `path.Clean` (and `filepath.Clean` on Unix): the shortest lexically equivalent
/// slash-separated path — `//`, `.` and `..` collapsed, no trailing slash, `.` for nothing.
pub fn go_path_clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    }
}

/// Go's `path.Join` (and `filepath.Join` on Unix) of two elements: empty elements are
/// skipped, the result cleaned; two empty elements give an empty string.
pub fn go_path_join(first: &str, second: &str) -> String {
    match (first.is_empty(), second.is_empty()) {
        (true, true) => String::new(),
        (true, false) => go_path_clean(second),
        (false, true) => go_path_clean(first),
        (false, false) => go_path_clean(&format!("{first}/{second}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_parse_like_strconv() {
        assert_eq!(go_parse_bool("T"), Ok(true));
        assert_eq!(go_parse_bool("0"), Ok(false));
        assert_eq!(
            go_parse_bool("maybe"),
            Err("strconv.ParseBool: parsing \"maybe\": invalid syntax".to_string())
        );
    }

    #[test]
    fn ints_parse_like_strconv_base_0() {
        assert_eq!(go_parse_int("42"), Ok(42));
        assert_eq!(go_parse_int("-0x10"), Ok(-16));
        assert_eq!(go_parse_int("010"), Ok(8));
        assert_eq!(
            go_parse_int("x"),
            Err("strconv.ParseInt: parsing \"x\": invalid syntax".to_string())
        );
    }

    #[test]
    fn paths_are_cleaned_and_joined_like_go() {
        for (input, expected) in [
            ("", "."),
            ("/", "/"),
            ("/a//b/./c/..", "/a/b"),
            ("/..", "/"),
            ("/../x", "/x"),
            ("a/../..", ".."),
            ("../x", "../x"),
            ("a/", "a"),
            ("a/b/../c", "a/c"),
            ("./manifest.json", "manifest.json"),
        ] {
            assert_eq!(go_path_clean(input), expected, "{input}");
        }
        assert_eq!(go_path_join("", ""), "");
        assert_eq!(go_path_join("dest/", "/sub/img"), "dest/sub/img");
        assert_eq!(go_path_join("/d/./x", "../y"), "/d/y");
        assert_eq!(go_path_join("..", "a"), "../a");
        assert_eq!(go_path_join("", "a//b"), "a/b");
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote(""), r#""""#);
        assert_eq!(go_quote("busybox@"), r#""busybox@""#);
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("a\nb\tc\u{1}"), r#""a\nb\tc\x01""#);
        assert_eq!(go_quote("ünï"), "\"ünï\"");
        assert_eq!(go_quote("\u{200b}"), r#""\u200b""#);
    }

    #[test]
    fn atoi_accepts_go_integers() {
        assert_eq!(go_atoi("0"), Ok(0));
        assert_eq!(go_atoi("+2"), Ok(2));
        assert_eq!(go_atoi("-1"), Ok(-1));
        assert_eq!(go_atoi("-0"), Ok(0));
        assert_eq!(go_atoi("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(go_atoi("-9223372036854775808"), Ok(i64::MIN));
    }

    #[test]
    fn atoi_errors_read_like_go() {
        assert_eq!(
            go_atoi("").unwrap_err(),
            r#"strconv.Atoi: parsing "": invalid syntax"#
        );
        assert_eq!(
            go_atoi("a").unwrap_err(),
            r#"strconv.Atoi: parsing "a": invalid syntax"#
        );
        assert_eq!(
            go_atoi("-").unwrap_err(),
            r#"strconv.Atoi: parsing "-": invalid syntax"#
        );
        assert_eq!(
            go_atoi(" 1").unwrap_err(),
            r#"strconv.Atoi: parsing " 1": invalid syntax"#
        );
        assert_eq!(
            go_atoi("99999999999999999999").unwrap_err(),
            r#"strconv.Atoi: parsing "99999999999999999999": value out of range"#
        );
        assert_eq!(
            go_atoi("9223372036854775808").unwrap_err(),
            r#"strconv.Atoi: parsing "9223372036854775808": value out of range"#
        );
    }

    #[test]
    fn errno_text_is_gos() {
        let err = std::io::Error::from_raw_os_error(2);
        assert_eq!(go_errno_text(&err), "no such file or directory");
        let err = std::io::Error::from_raw_os_error(20);
        assert_eq!(go_errno_text(&err), "not a directory");
        let custom = std::io::Error::other("custom failure");
        assert_eq!(go_errno_text(&custom), "custom failure");
    }
}
