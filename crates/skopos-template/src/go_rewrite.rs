//! The parsed template rewritten to run as Go runs it: every printing action ends in a
//! function that prints its value with [`GoForms`]'s `%v`, not gotmpl's
//! own formatting, every `range` pipeline in one that refuses what Go cannot iterate
//! over (gotmpl ranges over a struct's fields and words its refusal its own way), and every
//! `if` and `with` pipeline in one that makes a nil pointer false.

use gotmpl::parse::{BranchNode, CommandNode, Expr, Node, PipeNode};
use std::sync::Arc;

use gotmpl::Template;

use crate::functions::{at_site, site_function, site_name, FormsFunction};
use crate::GoForms;

/// The function every printing action ends in, so that values print as Go prints them.
pub(crate) const PRINT_FUNCTION: &str = "_skopos_print";

/// The function every `if` and `with` pipeline ends in, so that a nil `*time.Time` (a
/// string here) is false as Go's nil pointers are.
pub(crate) const TRUTH_FUNCTION: &str = "_skopos_truth";

/// The function every `range` pipeline ends in, so that it ranges only where Go does.
pub(crate) const RANGE_FUNCTION: &str = "_skopos_range";

/// `template` with every printing action of every template in it piped into
/// [`PRINT_FUNCTION`], every `range` pipeline into [`RANGE_FUNCTION`], and every call of
/// this crate's functions made to a function of its own whose errors say where the call
/// is (gotmpl's do not, and Go names the failing call, not the first of its name).
pub(crate) fn run_like_go(template: Template, forms: &Arc<GoForms>) -> Template {
    let mut sites = Vec::new();
    let template = rewrite_trees(template, &mut |nodes| {
        pipe_into_go_functions(nodes);
        name_sites(nodes, &mut sites);
    });
    sites
        .into_iter()
        .fold(template, |template, (name, function, offset)| {
            template.func(&name, at_site(forms, function, offset))
        })
}

/// `template` with `rewrite` applied to the nodes of every template in it.
pub(crate) fn rewrite_trees(template: Template, rewrite: &mut dyn FnMut(&mut [Node])) -> Template {
    let names: Vec<String> = template.templates().into_iter().map(String::from).collect();
    names.into_iter().fold(template, |template, name| {
        match template.lookup(&name).cloned() {
            Some(mut tree) => {
                rewrite(&mut tree.nodes);
                template.add_parse_tree(&name, tree)
            }
            None => template,
        }
    })
}

/// A call renamed for its place: the new name, the function, and the command's offset.
type Site = (String, FormsFunction, usize);

/// Call `visit` on the pipeline of every action, `if`, `with` and `range` in `nodes`,
/// bodies included.
pub(crate) fn for_each_pipe(nodes: &mut [Node], visit: &mut dyn FnMut(&mut PipeNode)) {
    for node in nodes {
        match node {
            Node::Action(action) => visit(&mut action.pipe),
            Node::List(list) => for_each_pipe(&mut list.nodes, visit),
            Node::If(branch) | Node::With(branch) | Node::Range(branch) => {
                visit(&mut branch.pipe);
                for_each_pipe(&mut branch.body.nodes, visit);
                if let Some(else_body) = &mut branch.else_body {
                    for_each_pipe(&mut else_body.nodes, visit);
                }
            }
            _ => {}
        }
    }
}

/// Call `visit` on every command of every pipeline in `nodes` (see [`for_each_pipe`]),
/// including those of parenthesized pipelines among its operands, which come first.
pub(crate) fn for_each_command(nodes: &mut [Node], visit: &mut dyn FnMut(&mut CommandNode)) {
    for_each_pipe(nodes, &mut |pipe| for_each_command_in_pipe(pipe, visit));
}

fn for_each_command_in_pipe(pipe: &mut PipeNode, visit: &mut dyn FnMut(&mut CommandNode)) {
    for command in &mut pipe.commands {
        for arg in &mut command.args {
            match arg {
                Expr::Pipe(_, inner) => for_each_command_in_pipe(inner, visit),
                Expr::Chain(_, term, _) => {
                    if let Expr::Pipe(_, inner) = term.as_mut() {
                        for_each_command_in_pipe(inner, visit);
                    }
                }
                _ => {}
            }
        }
        visit(command);
    }
}

/// `nodes` with every call of a [`site_function`] renamed for its place.
fn name_sites(nodes: &mut [Node], sites: &mut Vec<Site>) {
    for_each_command(nodes, &mut |command| {
        let offset = command.pos.offset;
        if let Some(Expr::Identifier(_, name)) = command.args.first_mut() {
            if let Some(function) = site_function(name) {
                let renamed = site_name(name, offset);
                *name = renamed.as_str().into();
                sites.push((renamed, function, offset));
            }
        }
    });
}

/// `nodes` with every printing action piped into [`PRINT_FUNCTION`], every `range`
/// pipeline into [`RANGE_FUNCTION`] and every `if` and `with` pipeline into
/// [`TRUTH_FUNCTION`], recursively.
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
            Node::If(branch) | Node::With(branch) => {
                pipe_into(&mut branch.pipe, TRUTH_FUNCTION);
                bodies_into_go_functions(branch);
            }
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

/// `template` with each command at a position in `refusals` calling [`REFUSE_FUNCTION`]
/// with the message instead of its function (after the same arguments, which Go
/// evaluates first).
pub(crate) fn refuse_at(template: Template, refusals: &[(usize, String)]) -> Template {
    if refusals.is_empty() {
        return template;
    }
    rewrite_trees(template, &mut |nodes| refuse_in_nodes(nodes, refusals))
}

/// The function a refused command calls instead: it fails with its first argument.
pub(crate) const REFUSE_FUNCTION: &str = "_skopos_refuse";

fn refuse_in_nodes(nodes: &mut [Node], refusals: &[(usize, String)]) {
    for_each_command(nodes, &mut |command| {
        let refusal = refusals.iter().find(|(pos, _)| *pos == command.pos.offset);
        if let (Some((_, message)), Some(Expr::Identifier(pos, name))) =
            (refusal, command.args.first_mut())
        {
            let pos = *pos;
            *name = REFUSE_FUNCTION.into();
            command
                .args
                .insert(1, Expr::String(pos, message.as_str().into()));
        }
    });
}

/// `pipe` with a last command calling `function` on its value.
fn pipe_into(pipe: &mut PipeNode, function: &str) {
    let pos = pipe.pos;
    pipe.commands.push(CommandNode {
        pos,
        args: vec![Expr::Identifier(pos, function.into())],
    });
}
