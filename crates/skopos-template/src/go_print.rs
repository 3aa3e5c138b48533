//! Values printed as Go prints them: every printing action ends in a function that prints
//! its value with [`GoForms`](crate::GoForms)'s `%v`, not gotmpl's own formatting.

use gotmpl::parse::{CommandNode, Expr, Node};
use gotmpl::Template;

/// The function every printing action ends in, so that values print as Go prints them.
pub(crate) const PRINT_FUNCTION: &str = "_skopos_print";

/// `template` with every printing action of every template in it piped into
/// [`PRINT_FUNCTION`].
pub(crate) fn print_like_go(template: Template) -> Template {
    let names: Vec<String> = template.templates().into_iter().map(String::from).collect();
    names.into_iter().fold(template, |template, name| {
        match template.lookup(&name).cloned() {
            Some(mut tree) => {
                pipe_actions_into_print(&mut tree.nodes);
                template.add_parse_tree(&name, tree)
            }
            None => template,
        }
    })
}

/// `nodes` with every printing action piped into [`PRINT_FUNCTION`], recursively.
pub(crate) fn pipe_actions_into_print(nodes: &mut [Node]) {
    for node in nodes {
        match node {
            Node::Action(action) if action.pipe.decl.is_empty() => {
                let pos = action.pipe.pos;
                action.pipe.commands.push(CommandNode {
                    pos,
                    args: vec![Expr::Identifier(pos, PRINT_FUNCTION.into())],
                });
            }
            Node::List(list) => pipe_actions_into_print(&mut list.nodes),
            Node::If(branch) | Node::With(branch) | Node::Range(branch) => {
                pipe_actions_into_print(&mut branch.body.nodes);
                if let Some(else_body) = &mut branch.else_body {
                    pipe_actions_into_print(&mut else_body.nodes);
                }
            }
            _ => {}
        }
    }
}
