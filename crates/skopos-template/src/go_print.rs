//! The parsed template rewritten to run as Go runs it: every printing action ends in a
//! function that prints its value with [`GoForms`](crate::GoForms)'s `%v`, not gotmpl's
//! own formatting, and every `range` pipeline in one that refuses what Go cannot iterate
//! over (gotmpl ranges over a struct's fields and words its refusal its own way).

use gotmpl::parse::{BranchNode, CommandNode, Expr, Node, PipeNode};
use gotmpl::Template;

/// The function every printing action ends in, so that values print as Go prints them.
pub(crate) const PRINT_FUNCTION: &str = "_skopos_print";

/// The function every `range` pipeline ends in, so that it ranges only where Go does.
pub(crate) const RANGE_FUNCTION: &str = "_skopos_range";

/// `template` with every printing action of every template in it piped into
/// [`PRINT_FUNCTION`], and every `range` pipeline into [`RANGE_FUNCTION`].
pub(crate) fn run_like_go(template: Template) -> Template {
    let names: Vec<String> = template.templates().into_iter().map(String::from).collect();
    names.into_iter().fold(template, |template, name| {
        match template.lookup(&name).cloned() {
            Some(mut tree) => {
                pipe_into_go_functions(&mut tree.nodes);
                template.add_parse_tree(&name, tree)
            }
            None => template,
        }
    })
}

/// `nodes` with every printing action piped into [`PRINT_FUNCTION`] and every `range`
/// pipeline into [`RANGE_FUNCTION`], recursively.
pub(crate) fn pipe_into_go_functions(nodes: &mut [Node]) {
    for node in nodes {
        match node {
            Node::Action(action) if action.pipe.decl.is_empty() => {
                pipe_into(&mut action.pipe, PRINT_FUNCTION);
            }
            Node::List(list) => pipe_into_go_functions(&mut list.nodes),
            Node::Range(branch) => {
                pipe_into(&mut branch.pipe, RANGE_FUNCTION);
                bodies_into_go_functions(branch);
            }
            Node::If(branch) | Node::With(branch) => bodies_into_go_functions(branch),
            _ => {}
        }
    }
}

/// [`pipe_into_go_functions`] for both bodies of an `if`, `with` or `range`.
fn bodies_into_go_functions(branch: &mut BranchNode) {
    pipe_into_go_functions(&mut branch.body.nodes);
    if let Some(else_body) = &mut branch.else_body {
        pipe_into_go_functions(&mut else_body.nodes);
    }
}

/// `pipe` with a last command calling `function` on its value.
fn pipe_into(pipe: &mut PipeNode, function: &str) {
    let pos = pipe.pos;
    pipe.commands.push(CommandNode {
        pos,
        args: vec![Expr::Identifier(pos, function.into())],
    });
}
