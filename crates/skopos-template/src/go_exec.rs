//! Go's wording and location of errors raised while a template runs. gotmpl reports what
//! failed but not where; the failure is matched to the first node of Go's parse tree that
//! fails that way (in the order Go evaluates them), and told as Go tells it:
//! `template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE`.

use gotmpl::TemplateError;

use crate::functions::{RANGE_REFUSAL, SITE_TAG};
use crate::go_syntax::{is_integral, Arg, Command, ControlKind, Node, Pipe};
use crate::GoForms;
use skopos_core::go::text::go_quote;

/// Where Go stopped (byte offset), the node it printed, and its message.
struct Failure {
    pos: usize,
    context: String,
    message: String,
}

/// A command as it runs: whether it also receives the previous command's value.
struct Site<'a> {
    command: &'a Command,
    /// The command before this one in its pipeline, whose value this one receives.
    previous: Option<&'a Command>,
    /// The Go type of dot where the command runs, when it is known ([`DATA`] for the data).
    dot: Option<String>,
}

/// What dot is in the body `report` runs: the data, an `interface {}` holding a struct
/// whose fields the caller names.
const DATA: &str = "interface {}";

/// The Go types a template's values have, as far as they are known without running it.
pub struct Types<'a> {
    /// The data's fields and their Go types.
    pub fields: &'a [(&'a str, &'a str)],
    /// The fields of the structs within the data.
    pub forms: &'a GoForms,
}

impl Types<'_> {
    /// The Go type of field `name` of a value of type `receiver`.
    fn field(&self, receiver: &str, name: &str) -> Option<String> {
        if receiver == DATA {
            return self
                .fields
                .iter()
                .find(|(field, _)| *field == name)
                .map(|(_, go_type)| go_type.to_string());
        }
        if let Some(result) = crate::time_methods::result_type(receiver, name) {
            return Some(result.to_string());
        }
        self.forms
            .struct_field(receiver.strip_prefix('*').unwrap_or(receiver), name)
            .map(str::to_string)
    }

    /// The Go type at the end of the field chain `names` from a value of type `receiver`.
    pub(crate) fn path(&self, receiver: &str, names: &[String]) -> Option<String> {
        names
            .iter()
            .try_fold(receiver.to_string(), |go_type, name| {
                self.field(&go_type, name)
            })
    }

    /// The Go type of what `arg` evaluates to where dot has the type `dot`.
    pub(crate) fn of(&self, arg: &Arg, dot: Option<&str>) -> Option<String> {
        match arg {
            Arg::Number(_, text) if text.starts_with('\'') => Some("int32".to_string()),
            // Go's `idealConstant`: hexadecimal integers may hold `e`s.
            Arg::Number(_, text)
                if text.contains(['.', 'e', 'E', 'p', 'P'])
                    && !(text.starts_with("0x") || text.starts_with("0X"))
                    || text.contains(['p', 'P']) =>
            {
                Some("float64".to_string())
            }
            Arg::Number(..) => Some("int".to_string()),
            Arg::Bool(..) => Some("bool".to_string()),
            Arg::String(..) => Some("string".to_string()),
            // The data's own type is a struct the caller does not name.
            Arg::Dot(_) => dot.filter(|dot| *dot != DATA).map(str::to_string),
            // `$` is the list `report` runs the template over.
            Arg::Variable(_, names) if names.len() == 1 && names[0] == "$" => {
                Some(format!("[]{DATA}"))
            }
            Arg::Field(_, names) => self.path(dot?, names),
            Arg::Chain(_, term, names) => self.path(&self.of(term, dot)?, names),
            Arg::Pipe(pipe) => self.of_pipe(pipe, dot),
            _ => None,
        }
    }

    /// The Go type of what `pipe` evaluates to: of a value, or of `index` into one.
    fn of_pipe(&self, pipe: &Pipe, dot: Option<&str>) -> Option<String> {
        match pipe.commands.as_slice() {
            [command] => match command.args.as_slice() {
                [value] => self.of(value, dot),
                [Arg::Identifier(_, index), indexed, _] if index == "index" => {
                    element_type(&self.of(indexed, dot)?)
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// The Go type of `arg` when it is an integer type other than `int` (which is what a
    /// template value of unknown origin is named).
    fn sized_int(&self, arg: &Arg, dot: Option<&str>) -> Option<String> {
        self.of(arg, dot)
            .filter(|go_type| go_type.starts_with("int") && go_type != "int")
    }
}

/// The type of the elements of a slice or map type.
fn element_type(go_type: &str) -> Option<String> {
    if let Some(element) = go_type.strip_prefix("[]") {
        return Some(element.to_string());
    }
    let (_, value) = go_type.strip_prefix("map[")?.split_once(']')?;
    Some(value.to_string())
}

impl Site<'_> {
    /// The function the command calls, if it is a call.
    fn function(&self) -> Option<&str> {
        match self.command.args.first() {
            Some(Arg::Identifier(_, name)) => Some(name),
            _ => None,
        }
    }

    /// The operands the command's function receives: its arguments after the first
    /// `skip`, then the value piped in when that is a single operand.
    fn operands(&self, skip: usize) -> Vec<&Arg> {
        let mut operands: Vec<&Arg> = self.command.args.iter().skip(1 + skip).collect();
        if let Some([piped]) = self.previous.map(|previous| previous.args.as_slice()) {
            operands.push(piped);
        }
        operands
    }

    /// The number of arguments the function receives.
    fn argument_count(&self) -> usize {
        self.command.args.len() - 1 + usize::from(self.previous.is_some())
    }

    fn dot(&self) -> Option<&str> {
        self.dot.as_deref()
    }

    fn calling(&self, name: &str, message: String) -> Failure {
        Failure {
            pos: self.command.pos,
            context: self.command.to_string(),
            message: format!("error calling {name}: {message}"),
        }
    }
}

/// `error` without the place a function of this crate added to it, and that place (the
/// byte offset of the failing call).
pub fn located(error: TemplateError) -> (Option<usize>, TemplateError) {
    if let TemplateError::Exec(message) = &error {
        if let Some((offset, message)) = message
            .strip_prefix(SITE_TAG)
            .and_then(|rest| rest.split_once(':'))
        {
            if let Ok(offset) = offset.parse() {
                return (Some(offset), TemplateError::Exec(message.to_string()));
            }
        }
    }
    (None, error)
}

/// Go's message for `error` of template `name`, which ran `source` parsed as `tree`, over
/// data of the given Go types, raised by the call at byte offset `site` when known;
/// `None` when no node fails that way.
pub fn message(
    name: &str,
    source: &str,
    tree: &[Node],
    error: &TemplateError,
    site: Option<usize>,
    types: &Types<'_>,
) -> Option<String> {
    if let TemplateError::Exec(message) = error {
        if let Some(failure) = Failure::from_located(message) {
            return failure.message_in(name, source).or(Some(failure.message));
        }
    }
    let Found {
        mut sites,
        templates,
        ranges,
    } = Found::in_tree(tree, types);
    // The failing call first, where known: searches take the first that fits.
    sites.sort_by_key(|candidate| site.is_some() && Some(candidate.command.pos) != site);
    let failure = match error {
        TemplateError::ArgCount { name, .. } => wrong_argument_count(&sites, name),
        TemplateError::UndefinedTemplate(wanted) => templates
            .iter()
            .find(|(_, template, _)| *template == wanted)
            .map(|(pos, template, pipe)| Failure {
                pos: *pos,
                context: match pipe {
                    Some(pipe) => format!("{{{{template {} {pipe}}}}}", go_quote(template)),
                    None => format!("{{{{template {}}}}}", go_quote(template)),
                },
                message: format!("template {} not defined", go_quote(template)),
            }),
        TemplateError::Exec(message) if message.starts_with(RANGE_REFUSAL) => {
            range_failure(&ranges, message)
        }
        TemplateError::Exec(message) => exec_failure(&sites, message, types),
        _ => None,
    }?;
    failure.message_in(name, source)
}

/// Begins an `Exec` error raised by a function of this crate that already knows where Go
/// fails and how Go words it: [`located_failure`] writes it.
const LOCATED_TAG: char = '\u{2}';

/// An `Exec` error for the failure Go reports at byte offset `pos` of the template, at
/// the node written `context`, with `message`.
pub(crate) fn located_failure(pos: usize, context: &str, message: &str) -> TemplateError {
    TemplateError::Exec(format!(
        "{LOCATED_TAG}{pos}{LOCATED_TAG}{context}{LOCATED_TAG}{message}"
    ))
}

impl Failure {
    /// The failure a [`located_failure`] error carries.
    fn from_located(error: &str) -> Option<Failure> {
        let mut parts = error.strip_prefix(LOCATED_TAG)?.splitn(3, LOCATED_TAG);
        Some(Failure {
            pos: parts.next()?.parse().ok()?,
            context: parts.next()?.to_string(),
            message: parts.next()?.to_string(),
        })
    }

    /// Go's message for this failure of template `name` running `source`.
    fn message_in(&self, name: &str, source: &str) -> Option<String> {
        let before = source.get(..self.pos)?;
        let line = 1 + before.matches('\n').count();
        // Go's column: the byte offset on the first line, bytes after the newline on others.
        let column = before
            .rfind('\n')
            .map_or(self.pos, |newline| self.pos - newline - 1);
        Some(format!(
            "template: {name}:{line}:{column}: executing {} at <{}>: {}",
            go_quote(name),
            self.context,
            self.message
        ))
    }
}

/// The calls of `printf` in `tree` whose operands (after the format, the piped value
/// last) include values whose Go type fmt names (`%T`, `%!s(int64=7)`) and their values
/// do not tell: integers of a sized type, a time method's `time.Month` or `time.Time`.
/// Each command's byte offset and its operands' types where so.
pub(crate) fn printf_operand_types(
    tree: &[Node],
    types: &Types<'_>,
) -> Vec<(usize, Vec<Option<String>>)> {
    Found::in_tree(tree, types)
        .sites
        .iter()
        .filter(|site| site.function() == Some("printf"))
        .filter_map(|site| {
            // After the format.
            let operands = site.operands(1);
            let sized: Vec<Option<String>> = operands
                .iter()
                .map(|operand| {
                    types.sized_int(operand, site.dot()).or_else(|| {
                        // A time method's results are plain values here.
                        types.of(operand, site.dot()).filter(|go_type| {
                            matches!(
                                go_type.as_str(),
                                "time.Month" | "time.Weekday" | "time.Time"
                            )
                        })
                    })
                })
                .collect();
            sized
                .iter()
                .any(Option::is_some)
                .then_some((site.command.pos, sized))
        })
        .collect()
}

/// Every command of `tree` (a command before its arguments), with the Go type of dot
/// where it runs when that is known.
pub(crate) fn commands<'a>(
    tree: &'a [Node],
    types: &Types<'_>,
) -> Vec<(&'a Command, Option<String>)> {
    Found::in_tree(tree, types)
        .sites
        .into_iter()
        .map(|site| (site.command, site.dot))
        .collect()
}

/// What [`collect`] finds in a template.
#[derive(Default)]
struct Found<'a> {
    /// Every command, in the order Go runs them (a command before its arguments).
    sites: Vec<Site<'a>>,
    /// Every `{{template}}` call: where its name is, the name and the pipeline.
    templates: Vec<(usize, &'a String, &'a Option<Pipe>)>,
    /// Every `range` pipeline, with the Go type of its value when known.
    ranges: Vec<(&'a Pipe, Option<String>)>,
}

impl<'a> Found<'a> {
    /// What [`collect`] finds in `tree` as `report` runs it: over a list holding the data.
    fn in_tree(tree: &'a [Node], types: &Types<'_>) -> Found<'a> {
        let mut found = Found::default();
        let list_of_data = format!("[]{DATA}");
        collect(tree, Some(&list_of_data), types, &mut found);
        found
    }
}

/// Go's refusal to range over a value: at the first `range` whose value is not surely
/// something Go iterates over, where Go last stopped in its pipeline.
fn range_failure(ranges: &[(&Pipe, Option<String>)], message: &str) -> Option<Failure> {
    let iterable = |go_type: &str| {
        go_type.starts_with("[]") || go_type.starts_with("map[") || go_type.starts_with("int")
    };
    let (pipe, _) = ranges
        .iter()
        .find(|(_, go_type)| !go_type.as_deref().is_some_and(iterable))?;
    let blamed = last_visited(pipe.commands.last()?.args.last()?);
    Some(Failure {
        pos: blamed.pos(),
        context: blamed.to_string(),
        message: message.to_string(),
    })
}

/// Every command, `{{template}}` call and `range` pipeline of `nodes`.
/// `dot` is the Go type of dot in `nodes`, when known.
fn collect<'a>(nodes: &'a [Node], dot: Option<&str>, types: &Types<'_>, found: &mut Found<'a>) {
    for node in nodes {
        match node {
            Node::Inert => {}
            Node::Action(pipe) => collect_pipe(pipe, dot, &mut found.sites),
            Node::Control(kind, pipe, list, else_list, _) => {
                collect_pipe(pipe, dot, &mut found.sites);
                if *kind == ControlKind::Range {
                    found.ranges.push((pipe, types.of_pipe(pipe, dot)));
                }
                let body_dot = match kind {
                    ControlKind::If => dot.map(str::to_string),
                    ControlKind::With => types.of_pipe(pipe, dot),
                    ControlKind::Range => types
                        .of_pipe(pipe, dot)
                        .and_then(|go_type| element_type(&go_type)),
                };
                collect(list, body_dot.as_deref(), types, found);
                collect(else_list, dot, types, found);
            }
            Node::Template(pos, name, pipe) => {
                if let Some(pipe) = pipe {
                    collect_pipe(pipe, dot, &mut found.sites);
                }
                found.templates.push((*pos, name, pipe));
            }
        }
    }
}

fn collect_pipe<'a>(pipe: &'a Pipe, dot: Option<&str>, sites: &mut Vec<Site<'a>>) {
    for (index, command) in pipe.commands.iter().enumerate() {
        sites.push(Site {
            command,
            previous: index
                .checked_sub(1)
                .map(|previous| &pipe.commands[previous]),
            dot: dot.map(str::to_string),
        });
        for arg in &command.args {
            collect_arg(arg, dot, sites);
        }
    }
}

fn collect_arg<'a>(arg: &'a Arg, dot: Option<&str>, sites: &mut Vec<Site<'a>>) {
    match arg {
        Arg::Pipe(pipe) => collect_pipe(pipe, dot, sites),
        Arg::Chain(_, term, _) => collect_arg(term, dot, sites),
        _ => {}
    }
}

/// How many arguments Go's function takes: at least that many when it is variadic.
fn arity(function: &str) -> Option<(usize, bool)> {
    Some(match function {
        "and" | "or" | "index" | "slice" | "printf" | "call" | "eq" => (1, true),
        "print" | "println" | "html" | "js" | "urlquery" => (0, true),
        "not" | "len" | "json" | "lower" | "title" | "upper" => (1, false),
        "ne" | "lt" | "le" | "gt" | "ge" | "join" | "split" | "truncate" => (2, false),
        "pad" => (3, false),
        _ => return None,
    })
}

/// The first call of `function` with an argument count Go refuses (`eq` with one argument
/// is refused by `eq` itself).
fn wrong_argument_count(sites: &[Site<'_>], function: &str) -> Option<Failure> {
    sites.iter().find_map(|site| {
        let name = site.function().filter(|name| *name == function)?;
        let (want, variadic) = arity(name)?;
        let got = site.argument_count();
        if name == "eq" && got == 1 {
            return Some(site.calling(name, "missing argument for comparison".to_string()));
        }
        let message = match (variadic, got) {
            (true, got) if got < want => format!("want at least {want} got {got}"),
            (false, got) if got != want => format!("want {want} got {got}"),
            _ => return None,
        };
        Some(Failure {
            pos: site.command.pos,
            context: name.to_string(),
            message: format!("wrong number of args for {name}: {message}"),
        })
    })
}

/// Go's failure for gotmpl's `Exec` error `message`.
fn exec_failure(sites: &[Site<'_>], message: &str, types: &Types<'_>) -> Option<Failure> {
    let first_call = |function: &str| sites.iter().find(|site| site.function() == Some(function));
    if let Some(rest) = message.strip_prefix("wrong number of args for ") {
        let function = rest.split(':').next()?;
        return wrong_argument_count(sites, function);
    }
    if let Some(rest) = message.strip_prefix("error calling ") {
        let (function, reason) = rest.split_once(": ")?;
        let site = first_call(function)?;
        return Some(site.calling(function, with_sized_ints(site, types, reason)));
    }
    if let Some(rest) = message.strip_prefix("can't evaluate field ") {
        let (field, found) = rest.split_once(" in type ")?;
        return unknown_field(sites, field, found, types);
    }
    if message.starts_with("len: ") {
        let site = first_call("len")?;
        let piped = || match site.previous?.args.as_slice() {
            [value] => Some(value),
            _ => None,
        };
        let message = match site.command.args.get(1).or_else(piped)? {
            // Go's reflection fails on the untyped nil before `len` can say anything.
            Arg::Nil(_) => "reflect: call of reflect.Value.Type on zero Value".to_string(),
            arg => format!("len of type {}", types.of(arg, site.dot())?),
        };
        return Some(site.calling("len", message));
    }
    if message == "call of nil" {
        return Some(first_call("call")?.calling("call", message.to_string()));
    }
    if let Some(rest) = message.strip_prefix("wrong type for value; expected ") {
        let refused = rest.split_once("; got ");
        return sites
            .iter()
            .find_map(|site| wrong_argument_type(site, types, refused));
    }
    if message.starts_with("can't give argument to non-function") {
        return sites.iter().find_map(|site| not_a_function(site, types));
    }
    if message == "nil is not a command" {
        let site = sites
            .iter()
            .find(|site| matches!(site.command.args.as_slice(), [Arg::Nil(_)]))?;
        return Some(Failure {
            pos: site.command.args[0].pos(),
            context: "nil".to_string(),
            message: message.to_string(),
        });
    }
    if let Some(found) = message.strip_prefix("call: non-function value of type ") {
        let site = first_call("call")?;
        let callee = site.command.args.get(1)?;
        let go_type = types
            .of(callee, site.dot())
            .unwrap_or_else(|| found.to_string());
        return Some(site.calling("call", format!("non-function {callee} of type {go_type}")));
    }
    None
}

/// `reason` with `int`, the name a function gives any integer, replaced by the operand's
/// own integer type where that is known (`int64` fields, `int32` characters).
fn with_sized_ints(site: &Site<'_>, types: &Types<'_>, reason: &str) -> String {
    let operands = site.operands(0);
    let sized = |arg: &&Arg| types.sized_int(arg, site.dot());
    if let Some(pair) = reason.strip_prefix("incompatible types for comparison: ") {
        if let Some((first, other)) = pair.split_once(" and ") {
            let first = match first {
                "int" => operands.first().and_then(sized),
                _ => None,
            }
            .unwrap_or_else(|| first.to_string());
            let other = match other {
                "int" => operands.iter().skip(1).find_map(sized),
                _ => None,
            }
            .unwrap_or_else(|| other.to_string());
            return format!("incompatible types for comparison: {first} and {other}");
        }
    }
    for refusal in ["can't index item of type ", "can't slice item of type "] {
        if reason.strip_prefix(refusal) == Some("int") {
            if let Some(go_type) = operands.first().and_then(sized) {
                return format!("{refusal}{go_type}");
            }
        }
    }
    reason.to_string()
}

/// The first field access that reads `field` from a value whose Go type is known, or,
/// for the basic types gotmpl `found` it in, named the same in Go.
fn unknown_field(
    sites: &[Site<'_>],
    field: &str,
    found: &str,
    types: &Types<'_>,
) -> Option<Failure> {
    let basic = matches!(found, "string" | "int" | "bool" | "float64").then(|| found.to_string());
    sites
        .iter()
        .flat_map(|site| site.command.args.iter().map(move |arg| (site, arg)))
        .find_map(|(site, arg)| {
            let (blamed, receiver) = match arg {
                Arg::Field(_, names) if names.len() > 1 && names[1] == field => (
                    arg,
                    types
                        .path(site.dot()?, &names[..1])
                        .or_else(|| basic.clone())?,
                ),
                Arg::Field(_, names) if names[0] == field => {
                    let dot = site.dot().filter(|dot| *dot != DATA).map(str::to_string);
                    (arg, dot.or_else(|| basic.clone())?)
                }
                Arg::Variable(_, names) if names.len() > 1 && names[1] == field => {
                    // `$` is the list `report` runs the template over.
                    let receiver = if names[0] == "$" {
                        "[]interface {}".to_string()
                    } else {
                        basic.clone()?
                    };
                    (arg, receiver)
                }
                Arg::Chain(_, term, names) if names.first().is_some_and(|name| name == field) => {
                    // Go blames the last node it marked while evaluating the term.
                    (
                        last_visited(term),
                        types.of(term, site.dot()).or_else(|| basic.clone())?,
                    )
                }
                _ => return None,
            };
            Some(Failure {
                pos: blamed.pos(),
                context: blamed.to_string(),
                message: format!("can't evaluate field {field} in type {receiver}"),
            })
        })
}

/// The node Go last marked while evaluating `arg`.
pub(crate) fn last_visited(arg: &Arg) -> &Arg {
    match arg {
        Arg::Pipe(pipe) => match pipe.commands.last().map(|command| command.args.as_slice()) {
            Some([.., last]) => last_visited(last),
            _ => arg,
        },
        Arg::Chain(_, term, _) => last_visited(term),
        other => other,
    }
}

/// The parameter types of `report`'s functions.
fn parameters(function: &str) -> Option<&'static [&'static str]> {
    Some(match function {
        "join" => &["[]string", "string"],
        "lower" | "title" | "upper" => &["string"],
        "pad" => &["string", "int", "int"],
        "split" => &["string", "string"],
        "truncate" => &["string", "int"],
        _ => return None,
    })
}

/// Calls of `report`'s functions that Go refuses for an integer of another type where an
/// `int` goes (a layer's `int64` size), which the call cannot tell from its values: the
/// command's position and Go's message.
pub fn sized_int_refusals(tree: &[Node], types: &Types<'_>) -> Vec<(usize, String)> {
    Found::in_tree(tree, types)
        .sites
        .iter()
        .filter_map(|site| {
            let parameters = parameters(site.function()?)?;
            let operands = site.operands(0);
            if operands.len() != parameters.len() {
                return None;
            }
            operands
                .iter()
                .zip(parameters)
                .filter(|(_, wanted)| **wanted == "int")
                .find_map(|(arg, _)| {
                    // Literals are Go's untyped constants, which an int takes.
                    let computed = !matches!(arg, Arg::Number(..));
                    let got = types.sized_int(arg, site.dot()).filter(|_| computed)?;
                    let message = format!("wrong type for value; expected int; got {got}");
                    Some((site.command.pos, message))
                })
        })
        .collect()
}

/// Go's refusal of an argument of the wrong type for one of `report`'s functions.
fn wrong_argument_type(
    site: &Site<'_>,
    types: &Types<'_>,
    refused: Option<(&str, &str)>,
) -> Option<Failure> {
    let parameters = parameters(site.function()?)?;
    // The Go type of a value the template computes (`.` in a `with`, a variable): what
    // the function found when it refused a value where `wanted` goes.
    let found = |arg: &Arg, wanted: &str| {
        types.of(arg, site.dot()).or_else(|| {
            refused
                .filter(|(expected, _)| *expected == wanted)
                .map(|(_, got)| got.to_string())
        })
    };
    let from_arguments =
        site.command.args[1..]
            .iter()
            .zip(parameters)
            .find_map(|(arg, &wanted)| {
                let message = match arg {
                    Arg::Number(..) | Arg::Bool(..) | Arg::String(..) | Arg::Nil(_) => {
                        literal_mismatch(arg, wanted)?
                    }
                    _ => value_mismatch(found(arg, wanted)?, wanted)?,
                };
                // Go blames the last node it evaluated: `0` in `(index .Os 0)`.
                let blamed = last_visited(arg);
                Some(Failure {
                    pos: blamed.pos(),
                    context: blamed.to_string(),
                    message,
                })
            });
    if from_arguments.is_some() {
        return from_arguments;
    }
    // The piped value is the last argument; Go blames the last node it evaluated: the
    // last explicit argument, or the function's name when there is none.
    let previous = site.previous?;
    let wanted = parameters.get(site.command.args.len() - 1)?;
    let piped_type = match previous.args.as_slice() {
        [value] => found(value, wanted),
        // A call's result: what the function found.
        _ => refused
            .filter(|(expected, _)| expected == wanted)
            .map(|(_, got)| got.to_string()),
    };
    let message = value_mismatch(piped_type?, wanted)?;
    Some(match site.command.args.as_slice() {
        [_, .., last] => {
            let blamed = last_visited(last);
            Failure {
                pos: blamed.pos(),
                context: blamed.to_string(),
                message,
            }
        }
        _ => Failure {
            pos: site.command.pos,
            context: site.function()?.to_string(),
            message,
        },
    })
}

/// Go's `evalArg` message for a literal where a `wanted` value goes; `None` when it fits.
pub(crate) fn literal_mismatch(arg: &Arg, wanted: &str) -> Option<String> {
    let fits = match wanted {
        "string" => matches!(arg, Arg::String(..)),
        "int" => matches!(arg, Arg::Number(_, text) if is_integral(text)),
        // A slice may be nil.
        "[]string" => matches!(arg, Arg::Nil(_)),
        _ => false,
    };
    if fits {
        return None;
    }
    Some(match wanted {
        _ if matches!(arg, Arg::Nil(_)) => format!("cannot assign nil to {wanted}"),
        "string" => format!("expected string; found {arg}"),
        "int" => format!("expected integer; found {arg}"),
        _ => format!("can't handle {arg} for arg of type {wanted}"),
    })
}

/// Go's `validateType` message for a value of type `found` where `wanted` goes.
fn value_mismatch(found: String, wanted: &str) -> Option<String> {
    (found != wanted).then(|| format!("wrong type for value; expected {wanted}; got {found}"))
}

/// Go's refusal of arguments given to something that is not a function.
fn not_a_function(site: &Site<'_>, types: &Types<'_>) -> Option<Failure> {
    let first = site.command.args.first()?;
    if site.argument_count() == 0 {
        return None;
    }
    let message = match first {
        Arg::Field(_, names) => {
            let last = names.last()?;
            if names.len() == 1 && !types.fields.iter().any(|(name, _)| name == last) {
                return None;
            }
            format!("{last} has arguments but cannot be invoked as function")
        }
        Arg::Number(..) | Arg::Bool(..) | Arg::String(..) | Arg::Nil(_) | Arg::Dot(_) => {
            format!("can't give argument to non-function {first}")
        }
        // Go blames the whole command for a parenthesized value given arguments.
        Arg::Pipe(pipe) => {
            return Some(Failure {
                pos: site.command.pos,
                context: site.command.to_string(),
                message: format!("can't give argument to non-function {pipe}"),
            })
        }
        _ => return None,
    };
    Some(Failure {
        pos: first.pos(),
        context: first.to_string(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use crate::test_support::{render_err, render_ok, render_typed};

    #[test]
    fn functions_check_their_arguments_as_go_does() {
        let error = |format: &str| render_err(format).error.to_string();
        let executing = "template: skopeo inspect:1";
        assert_eq!(
            error("{{join .Layers}}"),
            format!("{executing}:13: executing \"skopeo inspect\" at <join>: wrong number of args for join: want 2 got 1")
        );
        assert_eq!(
            error("{{index}}"),
            format!("{executing}:13: executing \"skopeo inspect\" at <index>: wrong number of args for index: want at least 1 got 0")
        );
        assert_eq!(
            error("{{.Os | upper 1}}"),
            format!("{executing}:19: executing \"skopeo inspect\" at <upper>: wrong number of args for upper: want 1 got 2")
        );
        assert_eq!(
            error("{{upper .Layers}}"),
            format!("{executing}:19: executing \"skopeo inspect\" at <.Layers>: wrong type for value; expected string; got []string")
        );
        assert_eq!(
            error("{{pad .Os \"x\" 1}}"),
            format!("{executing}:21: executing \"skopeo inspect\" at <\"x\">: expected integer; found \"x\"")
        );
        assert_eq!(
            error("{{index .Layers 5}}"),
            format!("{executing}:13: executing \"skopeo inspect\" at <index .Layers 5>: error calling index: index out of range: 5")
        );
        assert_eq!(
            error("{{index .Os 0 1}}"),
            format!("{executing}:13: executing \"skopeo inspect\" at <index .Os 0 1>: error calling index: can't index item of type uint8")
        );
        assert_eq!(
            error("{{.Os.X}}"),
            format!("{executing}:16: executing \"skopeo inspect\" at <.Os.X>: can't evaluate field X in type string")
        );
        assert_eq!(
            error("{{nope .Os}}"),
            format!("{executing}: function \"nope\" not defined")
        );
        assert_eq!(
            error("{{.Os"),
            format!("{executing}: bad character U+007B '{{'")
        );
        // A literal with an integer value is an int.
        assert_eq!(
            render_ok("{{truncate .Os 2.0}}{{truncate .Os 0x1p1}}"),
            "lili\n"
        );
        // A pipeline may end in `|`.
        assert_eq!(render_ok("{{.Os | }}{{(.Os |) | upper}}"), "linuxLINUX\n");
        // Go's `index` takes one argument; a string's element is a byte.
        assert_eq!(
            render_ok("{{index .Layers}} {{index .Os 0}}"),
            "[a b] 108\n"
        );
    }

    #[test]
    fn values_the_template_computes_are_blamed_where_go_blames_them() {
        let wrong_type = |column: usize, node: &str, expected: &str, got: &str| {
            Err(format!(
                "template: skopeo inspect:1:{column}: executing \"skopeo inspect\" at <{node}>: wrong type for value; expected {expected}; got {got}"
            ))
        };
        assert_eq!(
            render_typed("{{with .Created}}{{upper .}}{{end}}"),
            wrong_type(36, ".", "string", "*time.Time")
        );
        assert_eq!(
            render_typed("{{$x := .Digest}}{{$x | upper}}"),
            wrong_type(35, "upper", "string", "digest.Digest")
        );
        assert_eq!(
            render_typed("{{upper $}}"),
            wrong_type(19, "$", "string", "[]interface {}")
        );
        assert_eq!(
            render_typed("{{truncate .Os (index .Os 0)}}"),
            wrong_type(37, "0", "int", "uint8")
        );
    }

    /// Data holding one `types.Layer` (`Size int64`, `Name string`) in a `Layers` list, and
    /// the Go types that go with it.
    fn one_typed_layer(size: i64, name: &str) -> (crate::GoForms, gotmpl::Value) {
        let mut go = crate::GoForms::default();
        go.remember_struct("types.Layer", &[("Size", "int64"), ("Name", "string")]);
        let layer = go.remember_type(
            gotmpl::tmap! { "Size" => size, "Name" => name },
            "types.Layer",
        );
        let data = gotmpl::tmap! { "Layers" => gotmpl::Value::List(vec![layer].into()) };
        (go, data)
    }

    #[test]
    fn fields_of_nested_structs_have_their_go_types() {
        use crate::render;

        let (go, data) = one_typed_layer(7i64, "l");
        let fields = [("Layers", "[]types.Layer")];
        let error = |format: &str| match render(format, data.clone(), go.clone(), &fields) {
            Ok(printed) => panic!("{format} printed {printed:?}"),
            Err(failure) => failure.error.to_string(),
        };
        let at = |column: usize, node: &str, message: &str| {
            format!("template: skopeo inspect:1:{column}: executing \"skopeo inspect\" at <{node}>: {message}")
        };
        assert_eq!(
            error("{{range .Layers}}{{upper .Size}}{{end}}"),
            at(
                36,
                ".Size",
                "wrong type for value; expected string; got int64"
            )
        );
        assert_eq!(
            error("{{range .Layers}}{{lt .Size .Name}}{{end}}"),
            at(
                30,
                "lt .Size .Name",
                "error calling lt: incompatible types for comparison: int64 and string"
            )
        );
        assert_eq!(
            error("{{with index .Layers 0}}{{slice .Size}}{{end}}"),
            at(
                37,
                "slice .Size",
                "error calling slice: can't slice item of type int64"
            )
        );
        assert_eq!(
            error("{{(index .Layers 0).Size | len}}"),
            at(38, "len", "error calling len: len of type int64")
        );
        assert_eq!(
            error("{{range .Layers}}{{.Size.X}}{{end}}"),
            at(35, ".Size.X", "can't evaluate field X in type int64")
        );
        assert_eq!(
            error("{{range .Layers}}{{eq 'a' .Name}}{{end}}"),
            at(
                30,
                "eq 'a' .Name",
                "error calling eq: incompatible types for comparison: int32 and string"
            )
        );
    }

    #[test]
    fn fields_of_what_dot_is_are_refused_in_its_go_type() {
        // A format ranging over dot itself runs unwrapped: outside that range, dot is the list.
        assert_eq!(
            render_typed("{{with .Os}}{{range .}}{{end}}{{end}}"),
            Err("template: skopeo inspect:1:7: executing \"skopeo inspect\" at <.Os>: can't evaluate field Os in type []interface {}".to_string())
        );
    }

    #[test]
    fn range_refuses_what_go_cannot_iterate_over() {
        let refused = |column: usize, node: &str, value: &str| {
            Err(format!(
                "template: skopeo inspect:1:{column}: executing \"skopeo inspect\" at <{node}>: range can't iterate over {value}"
            ))
        };
        assert_eq!(
            render_typed("{{range .Os}}{{end}}"),
            refused(19, ".Os", "linux")
        );
        assert_eq!(
            render_typed("{{range .Created}}{{end}}"),
            refused(19, ".Created", "2024-01-02 03:04:05 +0000 UTC")
        );
        assert_eq!(
            render_typed("{{range $i, $x := .Layers}}{{range 1.5}}{{end}}{{end}}"),
            refused(46, "1.5", "1.5")
        );
        assert_eq!(
            render_typed("{{range .Labels}}{{.}}{{end}} {{range 2}}{{.}}{{end}} {{range .RepoTags}}x{{else}}none{{end}}"),
            Ok("1 01 none\n".to_string())
        );
    }

    #[test]
    fn sized_integers_are_refused_where_an_int_goes() {
        use crate::render;

        let (go, data) = one_typed_layer(2i64, "layer");
        let fields = [("Layers", "[]types.Layer")];
        let run = |format: &str| {
            render(format, data.clone(), go.clone(), &fields)
                .map_err(|failure| (failure.printed, failure.error.to_string()))
        };
        let refused = |printed: &str, column: usize, node: &str| {
            Err((
                printed.to_string(),
                format!("template: skopeo inspect:1:{column}: executing \"skopeo inspect\" at <{node}>: wrong type for value; expected int; got int64"),
            ))
        };
        assert_eq!(
            run("{{range .Layers}}{{.Name}}:{{truncate .Name .Size}}{{end}}"),
            refused("layer:", 55, ".Size")
        );
        assert_eq!(
            run("{{range .Layers}}{{.Size | pad .Name 1}}{{end}}"),
            refused("", 48, "1")
        );
        // Literals are untyped constants; an int computed by the template is an int.
        assert_eq!(
            run("{{range .Layers}}{{truncate .Name 2}}{{truncate .Name (len .Name)}}{{end}}"),
            Ok("lalayer\n".to_string())
        );
    }

    #[test]
    fn the_failing_call_is_blamed_not_the_first_of_its_name() {
        assert_eq!(
            render_typed("{{index .Layers 0}}|{{index .Labels \"a\"}}|{{index .Created 0}}"),
            Err("template: skopeo inspect:1:55: executing \"skopeo inspect\" at <index .Created 0>: error calling index: can't index item of type time.Time".to_string())
        );
        assert_eq!(
            render_typed("{{upper .Os}}{{range .Layers}}{{upper .}}{{end}}{{.Created | upper}}"),
            Err("template: skopeo inspect:1:72: executing \"skopeo inspect\" at <upper>: wrong type for value; expected string; got *time.Time".to_string())
        );
    }
}
