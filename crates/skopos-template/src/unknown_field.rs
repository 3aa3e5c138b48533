//! Go's refusal of a `.Field` the data's Go struct does not have. gotmpl would read a map
//! key (and print `<no value>`); Go fails at the field, after printing what came before.

use std::sync::Arc;

use gotmpl::parse::{Expr, ListNode, Node, PipeNode};
use gotmpl::Value;

use crate::format::RANGE_OPEN;
use crate::functions::new_template;
use crate::go_rewrite::pipe_into_go_functions;
use crate::render::TEMPLATE_NAME;
use crate::{go_syntax, GoForms};

/// The first unconditionally executed `.Field` the struct does not have: Go's error
/// message, and which top-level nodes ran before it.
pub(crate) struct UnknownField {
    /// Go's error message.
    pub(crate) message: String,
    /// The top-level nodes that ran before the failing one.
    nodes_before: ListNode,
}

impl UnknownField {
    /// What Go printed before failing: the output of the nodes before the failing one.
    pub(crate) fn printed_before(&self, json: &Arc<GoForms>, data: &Value) -> String {
        const PARTIAL: &str = "skopos-before-failure";
        let mut printed = String::new();
        // The nodes parsed once already, so this template parses; an error while running
        // them would have come before the unknown field, so keep what they printed.
        if let Ok(template) = new_template(json).parse("") {
            let mut nodes_before = self.nodes_before.clone();
            pipe_into_go_functions(&mut nodes_before.nodes);
            let _ = template
                .add_parse_tree(PARTIAL, nodes_before)
                .execute_template_fmt(&mut printed, PARTIAL, data);
        }
        printed
    }
}

/// Go's error for the first unconditionally executed `.Field` that the struct does not
/// have. Only actions outside `if`/`with`/`range` bodies are checked, where dot is surely
/// the struct and the action surely runs. `body` is the wrapped format within `source`.
pub(crate) fn unknown_field(
    body: &str,
    source: &str,
    fields: &[(&str, &str)],
    json: &Arc<GoForms>,
) -> Option<UnknownField> {
    const DEFINE_NAME: &str = "skopos-field-check";
    let define_open = format!("{{{{define \"{DEFINE_NAME}\"}}}}");
    let checked = format!("{define_open}{body}{{{{end}}}}");
    let template = new_template(json)
        .parse(&go_syntax::without_dangling_pipes(&checked))
        .ok()?;
    let list = template.lookup(DEFINE_NAME)?;
    let (index, (offset, path)) = list.nodes.iter().enumerate().find_map(|(index, node)| {
        let found = match node {
            Node::Action(action) => unknown_in_pipe(&action.pipe, fields),
            Node::If(branch) | Node::With(branch) | Node::Range(branch) => {
                unknown_in_pipe(&branch.pipe, fields)
            }
            _ => None,
        };
        found.map(|found| (index, found))
    })?;
    // Positions in `checked` → positions in the template skopeo executes.
    let offset = (offset + RANGE_OPEN.len()).checked_sub(define_open.len())?;
    let before = source.get(..offset)?;
    let line = 1 + before.matches('\n').count();
    let column = before
        .rfind('\n')
        .map_or(offset, |newline| offset - newline - 1);
    let field = path.first()?;
    Some(UnknownField {
        message: format!(
            "template: {TEMPLATE_NAME}:{line}:{column}: executing \"{TEMPLATE_NAME}\" at <.{}>: can't evaluate field {field} in type interface {{}}",
            path.join(".")
        ),
        nodes_before: ListNode {
            pos: list.pos,
            nodes: list.nodes[..index].to_vec(),
        },
    })
}

/// The first `.Field` of `pipe` (its offset and path) whose first name is not in `fields`.
fn unknown_in_pipe(pipe: &PipeNode, fields: &[(&str, &str)]) -> Option<(usize, Vec<String>)> {
    for command in &pipe.commands {
        // Go evaluates a value given arguments (`{{.Os .Nope}}`) and refuses it before
        // looking at the arguments.
        let not_a_function =
            command.args.len() > 1 && !matches!(command.args.first(), Some(Expr::Identifier(..)));
        let evaluated = if not_a_function {
            &command.args[..1]
        } else {
            &command.args[..]
        };
        if let Some(found) = evaluated
            .iter()
            .find_map(|arg| unknown_in_expr(arg, fields))
        {
            return Some(found);
        }
        if not_a_function {
            return None;
        }
    }
    None
}

/// The `.Field` of `expr` (its offset and path) whose first name is not in `fields`.
fn unknown_in_expr(expr: &Expr, fields: &[(&str, &str)]) -> Option<(usize, Vec<String>)> {
    match expr {
        Expr::Field(pos, path) => {
            let first = path.first()?;
            // Go reports a field chain at its last element (`.Nope.X` at `.X`).
            let last_offset = pos.offset
                + path[..path.len() - 1]
                    .iter()
                    .map(|name| name.len() + 1)
                    .sum::<usize>();
            (!fields.iter().any(|(name, _)| name == first))
                .then(|| (last_offset, path.iter().map(ToString::to_string).collect()))
        }
        Expr::Pipe(_, pipe) => unknown_in_pipe(pipe, fields),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::{render_err, render_ok};

    #[test]
    fn unknown_fields_fail_as_in_go_after_printing_what_came_before() {
        let unknown = |format: &str| {
            let failure = render_err(format);
            (failure.printed, failure.error.to_string())
        };
        assert_eq!(
            unknown("{{.Nope}}"),
            (
                String::new(),
                "template: skopeo inspect:1:13: executing \"skopeo inspect\" at <.Nope>: can't evaluate field Nope in type interface {}".to_string()
            )
        );
        assert_eq!(
            unknown("{{.Os}}\\n {{printf \"%s\" .Nope.X}}"),
            (
                "linux\n ".to_string(),
                "template: skopeo inspect:2:20: executing \"skopeo inspect\" at <.Nope.X>: can't evaluate field Nope in type interface {}".to_string()
            )
        );
        assert_eq!(
            unknown("{{.Os}} {{.Nope}}"),
            (
                "linux ".to_string(),
                "template: skopeo inspect:1:21: executing \"skopeo inspect\" at <.Nope>: can't evaluate field Nope in type interface {}".to_string()
            )
        );
        // A format ranging over dot itself fails the same way.
        assert_eq!(
            unknown("{{range .}}{{.Os}}-{{.Nope}}{{end}}"),
            (
                "linux-".to_string(),
                "template: skopeo inspect:1:21: executing \"skopeo inspect\" at <.Nope>: can't evaluate field Nope in type interface {}".to_string()
            )
        );
        // Not checked where it may not run, or where dot is something else.
        assert_eq!(render_ok("{{if false}}{{.Nope}}{{end}}ok"), "ok\n");
    }
}
