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
    let known = Known {
        fields,
        forms: json,
    };
    let (index, unknown) = list.nodes.iter().enumerate().find_map(|(index, node)| {
        let found = match node {
            Node::Action(action) => known.unknown_in_pipe(&action.pipe),
            Node::If(branch) | Node::With(branch) | Node::Range(branch) => {
                known.unknown_in_pipe(&branch.pipe)
            }
            _ => None,
        };
        found.map(|found| (index, found))
    })?;
    let Unknown {
        offset,
        path,
        field,
        receiver,
    } = unknown;
    // Positions in `checked` → positions in the template skopeo executes.
    let offset = (offset + RANGE_OPEN.len()).checked_sub(define_open.len())?;
    let before = source.get(..offset)?;
    let line = 1 + before.matches('\n').count();
    let column = before
        .rfind('\n')
        .map_or(offset, |newline| offset - newline - 1);
    Some(UnknownField {
        message: format!(
            "template: {TEMPLATE_NAME}:{line}:{column}: executing \"{TEMPLATE_NAME}\" at <.{}>: can't evaluate field {field} in type {receiver}",
            path.join(".")
        ),
        nodes_before: ListNode {
            pos: list.pos,
            nodes: list.nodes[..index].to_vec(),
        },
    })
}

/// A `.Field` chain that reads a field its receiver does not have.
struct Unknown {
    /// Where Go reports it: at the chain's last element.
    offset: usize,
    /// The chain's names.
    path: Vec<String>,
    /// The missing field.
    field: String,
    /// The Go type that lacks it (`interface {}` for the data itself).
    receiver: String,
}

/// The fields of the data and of the structs within it.
struct Known<'a> {
    fields: &'a [(&'a str, &'a str)],
    forms: &'a GoForms,
}

impl Known<'_> {
    /// The first `.Field` chain of `pipe` that reads a missing field.
    fn unknown_in_pipe(&self, pipe: &PipeNode) -> Option<Unknown> {
        for command in &pipe.commands {
            // Go evaluates a value given arguments (`{{.Os .Nope}}`) and refuses it before
            // looking at the arguments.
            let not_a_function = command.args.len() > 1
                && !matches!(command.args.first(), Some(Expr::Identifier(..)));
            let evaluated = if not_a_function {
                &command.args[..1]
            } else {
                &command.args[..]
            };
            if let Some(found) = evaluated.iter().find_map(|arg| self.unknown_in_expr(arg)) {
                return Some(found);
            }
            if not_a_function {
                return None;
            }
        }
        None
    }

    /// The `.Field` chain of `expr` that reads a missing field: a first name the data does
    /// not have, or a later one a struct of known fields does not.
    fn unknown_in_expr(&self, expr: &Expr) -> Option<Unknown> {
        match expr {
            Expr::Field(pos, path) => {
                // Go reports a field chain at its last element (`.Nope.X` at `.X`).
                let offset = pos.offset
                    + path[..path.len() - 1]
                        .iter()
                        .map(|name| name.len() + 1)
                        .sum::<usize>();
                let unknown = |field: &str, receiver: &str| Unknown {
                    offset,
                    path: path.iter().map(ToString::to_string).collect(),
                    field: field.to_string(),
                    receiver: receiver.to_string(),
                };
                let first = path.first()?;
                let Some((_, first_type)) = self.fields.iter().find(|(name, _)| name == first)
                else {
                    return Some(unknown(first, "interface {}"));
                };
                let mut receiver = first_type.to_string();
                for name in &path[1..] {
                    let table = self
                        .forms
                        .struct_fields(receiver.strip_prefix('*').unwrap_or(&receiver))?;
                    match table.iter().find(|(field, _)| field == name.as_str()) {
                        Some((_, field_type)) => receiver = field_type.clone(),
                        None => return Some(unknown(name, &receiver)),
                    }
                }
                None
            }
            Expr::Pipe(_, pipe) => self.unknown_in_pipe(pipe),
            _ => None,
        }
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

    #[test]
    fn fields_a_known_struct_lacks_fail_as_in_go() {
        use crate::{render, GoForms};
        use gotmpl::tmap;

        let mut go = GoForms::default();
        go.remember_struct(
            "v1.RootFS",
            &[("Type", "string"), ("DiffIDs", "[]digest.Digest")],
        );
        let rootfs = go.remember_type(tmap! { "Type" => "layers" }, "v1.RootFS");
        let data = tmap! { "RootFS" => rootfs, "Created" => "t" };
        let fields = [("RootFS", "v1.RootFS"), ("Created", "*time.Time")];
        let failure = render(
            "{{.RootFS.Type}} {{.RootFS.Nope}}",
            data.clone(),
            go.clone(),
            &fields,
        )
        .expect_err("a field v1.RootFS lacks");
        assert_eq!(failure.printed, "layers ");
        assert_eq!(
            failure.error.to_string(),
            "template: skopeo inspect:1:37: executing \"skopeo inspect\" at <.RootFS.Nope>: can't evaluate field Nope in type v1.RootFS"
        );
    }
}
