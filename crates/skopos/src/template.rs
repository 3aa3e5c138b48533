//! `inspect --format`: skopeo 1.9.3 runs Go's plain `text/template` (no extra functions)
//! over a one-element list, through a `text/tabwriter` that it never flushes. This module
//! reproduces all three parts, including the tabwriter's quirk: text after the last line
//! that has no tab-separated cells is lost.

use anyhow::{anyhow, bail};
use gotmpl::parse::{Expr, Node, PipeNode};
use gotmpl::{Template, Value};

/// Template name, as it appears in skopeo's template errors.
const TEMPLATE_NAME: &str = "skopeo inspect";

/// containers/common `report.IsJSON`: `json`, `{{json}}`, `{{ json . }}` (with spaces).
pub fn is_json_format(format: &str) -> bool {
    let trimmed = format.trim();
    if trimmed == "json" {
        return true;
    }
    let Some(inner) = trimmed
        .strip_prefix("{{")
        .and_then(|rest| rest.strip_suffix("}}"))
    else {
        return false;
    };
    match inner.trim().strip_prefix("json") {
        Some(rest) => matches!(rest.trim_start(), "" | "."),
        None => false,
    }
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

/// Run `format` over `data` as skopeo's `printTmpl` does and return what reaches stdout.
/// `fields` are the names of the Go struct's fields: Go refuses any other `.Field` (maps
/// here would print `<no value>`).
pub fn render(format: &str, data: Value, fields: &[&str]) -> anyhow::Result<String> {
    let normalized = normalize_format(format);
    let source = format!("{RANGE_OPEN}{normalized}{{{{end}}}}");
    let template = Template::new(TEMPLATE_NAME)
        .parse(&source)
        .map_err(|err| anyhow!("{err}"))?;
    if let Some(message) = unknown_field(&normalized, &source, fields) {
        bail!(message);
    }
    let list = Value::List(vec![data].into());
    let text = template
        .execute_to_string(&list)
        .map_err(|err| anyhow!("{err}"))?;
    Ok(tabwriter_unflushed(&text))
}

/// What skopeo wraps the format in, so that it runs once for the one inspected image.
const RANGE_OPEN: &str = "{{range . }}";

/// Go's error for the first unconditionally executed `.Field` that the struct does not
/// have. Only actions outside `if`/`with`/`range` bodies are checked, where dot is surely
/// the struct and the action surely runs.
fn unknown_field(normalized: &str, source: &str, fields: &[&str]) -> Option<String> {
    const DEFINE_OPEN: &str = "{{define \"skopos-field-check\"}}";
    let checked = format!("{DEFINE_OPEN}{normalized}{{{{end}}}}");
    let template = Template::new(TEMPLATE_NAME).parse(&checked).ok()?;
    let body = template.lookup("skopos-field-check")?;
    let (offset, path) = body.nodes.iter().find_map(|node| match node {
        Node::Action(action) => unknown_in_pipe(&action.pipe, fields),
        Node::If(branch) | Node::With(branch) | Node::Range(branch) => {
            unknown_in_pipe(&branch.pipe, fields)
        }
        _ => None,
    })?;
    // Positions in `checked` → positions in the template skopeo executes.
    let offset = (offset + RANGE_OPEN.len()).checked_sub(DEFINE_OPEN.len())?;
    let before = source.get(..offset)?;
    let line = 1 + before.matches('\n').count();
    let column = before
        .rfind('\n')
        .map_or(offset, |newline| offset - newline - 1);
    let field = path.first()?;
    Some(format!(
        "template: {TEMPLATE_NAME}:{line}:{column}: executing \"{TEMPLATE_NAME}\" at <.{}>: can't evaluate field {field} in type interface {{}}",
        path.join(".")
    ))
}

/// The first `.Field` of `pipe` (its offset and path) whose first name is not in `fields`.
fn unknown_in_pipe(pipe: &PipeNode, fields: &[&str]) -> Option<(usize, Vec<String>)> {
    pipe.commands
        .iter()
        .flat_map(|command| command.args.iter())
        .find_map(|arg| unknown_in_expr(arg, fields))
}

fn unknown_in_expr(expr: &Expr, fields: &[&str]) -> Option<(usize, Vec<String>)> {
    match expr {
        Expr::Field(pos, path) => {
            let first = path.first()?;
            // Go reports a field chain at its last element (`.Nope.X` at `.X`).
            let last_offset = pos.offset
                + path[..path.len() - 1]
                    .iter()
                    .map(|name| name.len() + 1)
                    .sum::<usize>();
            (!fields.contains(&first.as_str()))
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

/// Go's `tabwriter.NewWriter(w, 8, 2, 2, ' ', 0)` fed `text` and never flushed: what it
/// has written by then.
pub fn tabwriter_unflushed(text: &str) -> String {
    const MIN_WIDTH: usize = 8;
    const PADDING: usize = 2;

    let mut out = String::new();
    let mut lines: Vec<Vec<Cell>> = Vec::new();
    let mut line: Vec<Cell> = Vec::new();
    let mut cell = String::new();
    for c in text.chars() {
        match c {
            '\t' | '\u{b}' | '\n' | '\u{c}' => {
                let width = cell.chars().count();
                line.push(Cell {
                    text: std::mem::take(&mut cell),
                    width,
                });
                if c == '\n' || c == '\u{c}' {
                    let cells_in_line = line.len();
                    lines.push(std::mem::take(&mut line));
                    // A line of one cell cannot affect later columns, so Go writes out
                    // everything buffered; a form feed always does.
                    if c == '\u{c}' || cells_in_line == 1 {
                        let mut widths = Vec::new();
                        format_block(
                            &lines,
                            0,
                            lines.len(),
                            &mut widths,
                            MIN_WIDTH,
                            PADDING,
                            &mut out,
                        );
                        lines.clear();
                    }
                }
            }
            other => cell.push(other),
        }
    }
    out
}

/// Go's `Writer.format`: find column blocks left to right and write lines once the widths
/// of all their columns are known. Every flushed line ends with a newline (the partial
/// line after them, which Go would print without one, is empty at flush time).
fn format_block(
    lines: &[Vec<Cell>],
    mut line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    min_width: usize,
    padding: usize,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        write_lines(lines, line0, this, widths, out);
        line0 = this;
        let mut width = min_width;
        while this < line1 && column + 1 < lines[this].len() {
            width = width.max(lines[this][column].width + padding);
            this += 1;
        }
        widths.push(width);
        format_block(lines, line0, this, widths, min_width, padding, out);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, line0, line1, widths, out);
}

fn write_lines(lines: &[Vec<Cell>], from: usize, to: usize, widths: &[usize], out: &mut String) {
    for line in &lines[from..to] {
        for (index, cell) in line.iter().enumerate() {
            out.push_str(&cell.text);
            if let Some(&column_width) = widths.get(index) {
                out.extend(std::iter::repeat_n(
                    ' ',
                    column_width.saturating_sub(cell.width),
                ));
            }
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gotmpl::tmap;

    #[test]
    fn json_formats() {
        for yes in ["json", " json ", "{{json}}", "{{ json . }}", "{{json .}}"] {
            assert!(is_json_format(yes), "{yes}");
        }
        for no in ["{{json .Labels}}", "jsonx", "{{.Os}}", ""] {
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
    fn tabwriter_aligns_and_drops_unflushed_text() {
        assert_eq!(
            tabwriter_unflushed("x\ty\nab\tcdefghijkl\tz\nq\n"),
            "x       y\nab      cdefghijkl  z\nq\n"
        );
        // The last line has cells: never flushed, so never written (as in skopeo 1.9.3).
        assert_eq!(tabwriter_unflushed("linux\tamd64\n"), "");
        assert_eq!(tabwriter_unflushed("plain\n"), "plain\n");
    }

    #[test]
    fn renders_without_extra_functions() {
        let data = tmap! { "Os" => "linux", "Layers" => vec!["a".to_string(), "b".to_string()] };
        let fields = ["Os", "Layers"];
        let render = |f: &str| render(f, data.clone(), &fields);
        assert_eq!(render("{{.Os}} {{len .Layers}}").unwrap(), "linux 2\n");
        assert_eq!(render("{{range .Layers}}{{.}},{{end}}").unwrap(), "a,b,\n");
        let err = render("{{json .Os}}").unwrap_err().to_string();
        assert!(err.contains("json"), "{err}");
    }

    #[test]
    fn unknown_fields_fail_as_in_go() {
        let data = tmap! { "Os" => "linux" };
        let render = |f: &str| render(f, data.clone(), &["Os"]);
        assert_eq!(
            render("{{.Nope}}").unwrap_err().to_string(),
            "template: skopeo inspect:1:14: executing \"skopeo inspect\" at <.Nope>: can't evaluate field Nope in type interface {}"
        );
        assert_eq!(
            render("{{.Os}}\\n {{printf \"%s\" .Nope.X}}").unwrap_err().to_string(),
            "template: skopeo inspect:2:20: executing \"skopeo inspect\" at <.Nope.X>: can't evaluate field Nope in type interface {}"
        );
        assert_eq!(
            render("{{.Os}} {{.Nope}}").unwrap_err().to_string(),
            "template: skopeo inspect:1:22: executing \"skopeo inspect\" at <.Nope>: can't evaluate field Nope in type interface {}"
        );
        // Not checked where it may not run, or where dot is something else.
        assert_eq!(render("{{if false}}{{.Nope}}{{end}}ok").unwrap(), "ok\n");
    }
}
