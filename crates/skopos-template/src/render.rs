//! Running a format as newer skopeo's `writeOutput` does: parse (normalized first, then as
//! written), refuse unknown fields as Go does, execute over a one-element list, and pass
//! `table` output through the tab writer.

use std::sync::Arc;

use anyhow::anyhow;
use gotmpl::Value;

use crate::format::{normalize_format, Candidate, RANGE_OPEN};
use crate::functions::{new_template, printf_at_site, site_name, REPORT_FUNCTIONS};
use crate::go_rewrite::{refuse_at, run_like_go};
use crate::tabwriter::tabwriter_flushed;
use crate::time_methods::{self, call_time_methods};
use crate::unknown_field::unknown_field;
use crate::{go_exec, go_syntax, GoForms};

/// Template name, as it appears in skopeo's template errors.
pub(crate) const TEMPLATE_NAME: &str = "skopeo inspect";

/// A template that could not be parsed or failed while running.
#[derive(Debug)]
pub struct RenderError {
    /// What reached standard output before the failure (Go writes as it executes).
    pub printed: String,
    /// Why it failed.
    pub error: anyhow::Error,
}

impl RenderError {
    /// A failure before anything was printed (the template did not parse).
    fn before_output(error: anyhow::Error) -> Self {
        RenderError {
            printed: String::new(),
            error,
        }
    }
}

/// Run `format` over `data` as newer skopeo's `writeOutput` does (`report.New(…).Parse(
/// report.OriginUser, format)`, `Execute([]any{data})`, `Flush()`) and return what reaches
/// stdout. `fields` are the names and Go types of the Go struct's fields: Go refuses any
/// other `.Field` (maps here would print `<no value>`), and its errors name the types.
/// `json` tells the `json` function about `data`.
pub fn render(
    format: &str,
    data: Value,
    json: GoForms,
    fields: &[(&str, &str)],
) -> Result<String, RenderError> {
    let table = format.strip_prefix("table ");
    // `report` first tries the normalized format, then (when that does not parse, e.g.
    // a `\n` inside a string literal) the format as written.
    let (normalized, as_written) = match table {
        Some(rest) => (
            Candidate::wrapped(normalize_format(format)),
            Candidate::wrapped(rest.to_string()),
        ),
        None => (
            Candidate::enforce_range(normalize_format(format)),
            Candidate::enforce_range(format.to_string()),
        ),
    };
    let mut forms = with_field_types(json, &data, fields);
    // What `report` executes the template over: `[]any{data}`.
    let list = forms.remember_type(Value::List(vec![data.clone()].into()), "[]interface {}");
    let json = Arc::new(forms);
    let parsed_normalized =
        match go_syntax::parse(TEMPLATE_NAME, &normalized.source, REPORT_FUNCTIONS) {
            Ok(tree) => new_template(&json)
                .parse(&go_syntax::without_dangling_pipes(&normalized.source))
                .ok()
                .map(|template| (template, tree)),
            Err(_) => None,
        };
    let (template, candidate, go_tree) = match parsed_normalized {
        Some((template, tree)) => (template, normalized, tree),
        None => {
            let tree = go_syntax::parse(TEMPLATE_NAME, &as_written.source, REPORT_FUNCTIONS)
                .map_err(|message| RenderError::before_output(anyhow!(message)))?;
            match new_template(&json).parse(&go_syntax::without_dangling_pipes(&as_written.source))
            {
                Ok(template) => (template, as_written, tree),
                Err(err) => return Err(RenderError::before_output(anyhow!("{err}"))),
            }
        }
    };
    let types = go_exec::Types {
        fields,
        forms: &json,
    };
    let template = call_time_methods(template, time_methods::find(&go_tree, &types), &json);
    let template = go_exec::printf_operand_types(&go_tree, &types)
        .into_iter()
        .fold(
            run_like_go(template, &json),
            |template, (site, operand_types)| {
                template.func(
                    &site_name("printf", site),
                    printf_at_site(&json, site, operand_types),
                )
            },
        );
    let template = refuse_at(template, &go_exec::sized_int_refusals(&go_tree, &types));
    let through_writer = |text: &str| {
        if table.is_some() {
            tabwriter_flushed(text)
        } else {
            text.to_string()
        }
    };
    let body = candidate
        .body
        .clone()
        .or_else(|| user_range_body(&candidate.source, &go_tree));
    if let Some(body) = &body {
        if let Some(unknown) = unknown_field(body, &candidate.source, fields, &json) {
            let printed = unknown.printed_before(&json, &data);
            return Err(RenderError {
                printed: through_writer(&printed),
                error: anyhow!(unknown.message),
            });
        }
    }

    let mut printed = String::new();
    match template.execute_template_fmt(&mut printed, TEMPLATE_NAME, &list) {
        Ok(()) => Ok(through_writer(&printed)),
        Err(err) => {
            let (site, err) = go_exec::located(err);
            let message = go_exec::message(
                TEMPLATE_NAME,
                &candidate.source,
                &go_tree,
                &err,
                site,
                &types,
            );
            Err(RenderError {
                printed: through_writer(&printed),
                error: match message {
                    Some(message) => anyhow!(message),
                    None => anyhow!("{err}"),
                },
            })
        }
    }
}

/// `forms` knowing the Go types of `data`'s fields, which Go's functions check.
fn with_field_types(mut forms: GoForms, data: &Value, fields: &[(&str, &str)]) -> GoForms {
    if let Value::Map(entries) = data {
        for (name, go_type) in fields {
            if let Some(value) = entries.get(*name) {
                forms.remember_type(value.clone(), go_type);
            }
        }
    }
    forms
}

/// The body of a format that itself starts with `{{range .}}` (which `report` runs as it
/// is), where dot is the data as in a wrapped format's body.
fn user_range_body(source: &str, tree: &[go_syntax::Node]) -> Option<String> {
    if !source.starts_with(RANGE_OPEN) {
        return None;
    }
    match tree.first() {
        Some(go_syntax::Node::Control(_, _, _, _, body_end)) => {
            source.get(RANGE_OPEN.len()..*body_end).map(str::to_string)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::{render_err, render_ok};

    #[test]
    fn a_format_that_ranges_over_dot_runs_as_written() {
        assert_eq!(render_ok("{{range .}}{{.Os}}{{end}}"), "linux\n");
    }

    #[test]
    fn only_table_formats_go_through_the_tabwriter() {
        assert_eq!(
            render_ok("table {{.Os}} {{len .Layers}}"),
            "linux       2\n"
        );
        assert_eq!(render_ok("{{.Os}}\\t{{len .Layers}}"), "linux\t2\n");
        assert_eq!(render_ok("{{.Os}} {{len .Layers}}"), "linux 2\n");
        assert_eq!(render_ok("{{range .Layers}}{{.}},{{end}}"), "a,b,\n");
    }

    #[test]
    fn a_format_that_does_not_parse_normalized_is_used_as_written() {
        // Normalized, the `\n` inside the string would be a line break, which Go's lexer
        // refuses; the format as written has the escape, and no newline is appended.
        assert_eq!(render_ok("{{printf \"%s\\n\" .Os}}"), "linux\n");
        assert_eq!(render_ok("{{printf \"%s\\n\" .Os}}x"), "linux\nx");
    }

    #[test]
    fn failures_while_running_keep_what_was_printed() {
        let failure = render_err("{{.Os}}-{{index .Layers 5}}");
        assert_eq!(failure.printed, "linux-");
        // A table's writer is flushed after the failure: the pending line comes out
        // (a lone cell before a tab is not padded).
        let failure = render_err("table {{.Os}} {{index .Layers 5}}");
        assert_eq!(failure.printed, "linux");
    }
}
