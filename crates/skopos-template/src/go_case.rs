//! Go's case mappings (`strings.ToLower`, `ToUpper`, `Title`), which map one character
//! to one where Rust's full mappings may give several.

/// Go's `strings.ToLower`: one-to-one simple case mapping per character.
pub(crate) fn go_lower(text: &str) -> String {
    text.chars().map(simple_lower).collect()
}

/// Go's `strings.ToUpper`.
pub(crate) fn go_upper(text: &str) -> String {
    text.chars().map(simple_upper).collect()
}

/// Go's `unicode.ToLower`.
fn simple_lower(c: char) -> char {
    // The one character whose full lowercase mapping is longer than its simple one.
    if c == '\u{130}' {
        return 'i';
    }
    single(c.to_lowercase()).unwrap_or(c)
}

/// Go's `unicode.ToUpper`.
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
pub(crate) fn go_title(text: &str) -> String {
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
