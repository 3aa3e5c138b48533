//! How containers/common's `report` package reads a user's `--format` before Go parses it:
//! which formats mean plain JSON, the normalisation (`table ` prefix, `\t` / `\n` escapes,
//! final newline), and the `{{range .}}…{{end -}}` wrapping that runs it once for the one
//! inspected image.

/// What `report` wraps a format in, so that it runs once for the one inspected image.
pub(crate) const RANGE_OPEN: &str = "{{range .}}";
pub(crate) const RANGE_CLOSE: &str = "{{end -}}";

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
pub(crate) fn normalize_format(format: &str) -> String {
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

/// One way of reading the user's format: the template source to execute, and, when the
/// format was wrapped in `{{range .}}`, the wrapped body (where dot is the data).
pub(crate) struct Candidate {
    /// The template source to execute.
    pub(crate) source: String,
    /// The user's format inside the `{{range .}}` wrapping, when it was wrapped.
    pub(crate) body: Option<String>,
}

impl Candidate {
    /// `body` wrapped so that it runs once, with dot being the data.
    pub(crate) fn wrapped(body: String) -> Self {
        Candidate {
            source: format!("{RANGE_OPEN}{body}{RANGE_CLOSE}"),
            body: Some(body),
        }
    }

    /// `report.EnforceRange`.
    pub(crate) fn enforce_range(text: String) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
