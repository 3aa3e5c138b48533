//! Go's `text/template/parse` as far as skopeo users see it: which templates it refuses, and
//! with which message (`template: NAME:LINE: …`), and the parse tree of those it accepts,
//! whose node positions and printed forms are what Go's execution errors show. gotmpl parses
//! a slightly different language (it accepts `{{"\q"}}` and an unclosed `{{if}}`, refuses
//! `{{.Os | }}`) and words its errors its own way, so templates are checked here first.

mod lexer;
mod literals;
mod parser;

use lexer::{ItemKind, Lexer};
pub use literals::is_integral;
pub use parser::parse;

#[derive(Debug, Clone)]
pub enum Arg {
    /// A function name.
    Identifier(usize, String),
    /// `.`
    Dot(usize),
    /// `nil`
    Nil(usize),
    /// `$x` or `$x.Field…`, split at the dots.
    Variable(usize, Vec<String>),
    /// `.Field…`, the names without their dots.
    Field(usize, Vec<String>),
    /// `(pipeline).Field…` and the like: the term and the field names.
    Chain(usize, Box<Arg>, Vec<String>),
    /// `true` or `false`
    Bool(usize, bool),
    /// A number or character constant, as written.
    Number(usize, String),
    /// A string literal, as written (quotes included).
    String(usize, String),
    /// A parenthesized pipeline.
    Pipe(Pipe),
}

impl Arg {
    /// Byte offset in the template, as Go's error locations count it.
    pub fn pos(&self) -> usize {
        match self {
            Arg::Identifier(pos, _)
            | Arg::Dot(pos)
            | Arg::Nil(pos)
            | Arg::Variable(pos, _)
            | Arg::Field(pos, _)
            | Arg::Chain(pos, _, _)
            | Arg::Bool(pos, _)
            | Arg::Number(pos, _)
            | Arg::String(pos, _) => *pos,
            Arg::Pipe(pipe) => pipe.pos,
        }
    }
}

impl std::fmt::Display for Arg {
    /// Go's `Node.String`, which execution errors show after `at`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Arg::Identifier(_, name) => f.write_str(name),
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Variable(_, names) => f.write_str(&names.join(".")),
            Arg::Field(_, names) => write!(f, ".{}", names.join(".")),
            Arg::Chain(_, term, names) => {
                match term.as_ref() {
                    Arg::Pipe(pipe) => write!(f, "({pipe})")?,
                    other => write!(f, "{other}")?,
                }
                names.iter().try_for_each(|name| write!(f, ".{name}"))
            }
            Arg::Bool(_, value) => write!(f, "{value}"),
            Arg::Number(_, text) | Arg::String(_, text) => f.write_str(text),
            Arg::Pipe(pipe) => write!(f, "{pipe}"),
        }
    }
}

/// A command: a function or value and its arguments.
#[derive(Debug, Clone)]
pub struct Command {
    /// Byte offset in the template.
    pub pos: usize,
    /// The operands, the function (or value) first.
    pub args: Vec<Arg>,
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (index, arg) in self.args.iter().enumerate() {
            if index > 0 {
                f.write_str(" ")?;
            }
            match arg {
                Arg::Pipe(pipe) => write!(f, "({pipe})")?,
                other => write!(f, "{other}")?,
            }
        }
        Ok(())
    }
}

/// A pipeline: optional variable declarations and the commands joined by `|`.
#[derive(Debug, Clone)]
pub struct Pipe {
    /// Byte offset in the template.
    pub pos: usize,
    is_assign: bool,
    declared: Vec<String>,
    /// The commands, in the order they run.
    pub commands: Vec<Command>,
}

impl std::fmt::Display for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.declared.is_empty() {
            let operator = if self.is_assign { "=" } else { ":=" };
            write!(f, "{} {operator} ", self.declared.join(", "))?;
        }
        for (index, command) in self.commands.iter().enumerate() {
            if index > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{command}")?;
        }
        Ok(())
    }
}

/// Which control structure a [`Node::Control`] is: what dot is in its first body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlKind {
    /// `{{if}}`: dot stays.
    If,
    /// `{{with}}`: dot is the pipeline's value.
    With,
    /// `{{range}}`: dot is each element.
    Range,
}

/// What a template is made of.
#[derive(Debug, Clone)]
pub enum Node {
    /// Text, `{{break}}`, `{{continue}}`: nothing that can fail.
    Inert,
    /// `{{pipeline}}`
    Action(Pipe),
    /// `{{if}}`, `{{with}}`, `{{range}}`: which one, the pipeline, both bodies, and where
    /// the first body ends (the `{{` of its `{{else}}` or `{{end}}`).
    Control(ControlKind, Pipe, Vec<Node>, Vec<Node>, usize),
    /// `{{template "name" pipeline}}`: where the name is, the name, the pipeline.
    Template(usize, String, Option<Pipe>),
}

/// `text` with each `|` that ends a pipeline (`{{.Os | }}`, which Go reads as `{{.Os}}` and
/// gotmpl refuses) turned into a space, so that every other byte stays where it was.
pub fn without_dangling_pipes(text: &str) -> String {
    let items = Lexer::items(text);
    let mut out = text.to_string();
    for (index, item) in items.iter().enumerate() {
        if item.kind != ItemKind::Pipe {
            continue;
        }
        let closes = items[index + 1..]
            .iter()
            .find(|next| next.kind != ItemKind::Space)
            .is_some_and(|next| matches!(next.kind, ItemKind::RightDelim | ItemKind::RightParen));
        if closes {
            out.replace_range(item.pos..item.pos + 1, " ");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(source: &str) -> String {
        match parse("t", source, &["upper"]) {
            Ok(_) => format!("{source} parsed"),
            Err(message) => message,
        }
    }

    // Messages as skopeo 1.22.2 printed them for the same templates.
    #[test]
    fn refuses_what_go_refuses_with_its_message_and_line() {
        for (source, message) in [
            ("{{nope}}", "template: t:1: function \"nope\" not defined"),
            ("{{break}}", "template: t:1: {{break}} outside {{range}}"),
            (
                "{{range .}}{{.}}{{else}}{{else}}{{end}}",
                "template: t:1: expected end; found {{else}}",
            ),
            (
                "{{$a, $b := 1}}",
                "template: t:1: too many declarations in command",
            ),
            (
                "{{range $a, $b, $c := .}}{{end}}",
                "template: t:1: too many declarations in range",
            ),
            (
                "x\n{{printf \"%s\"\n\"y}}",
                "template: t:3: unterminated quoted string in action started at t:2",
            ),
            (
                "{{printf\n(.Os}}",
                "template: t:2: unclosed left paren in action started at t:1",
            ),
            ("{{.Os..X}}", "template: t:1: unexpected <.> in operand"),
            (
                "{{\"a\".X}}",
                "template: t:1: unexpected . after term \"\\\"a\\\"\"",
            ),
            (
                "{{.Os | \"abcdefghijklmnop\"}}",
                "template: t:1: non executable command in pipeline stage 2",
            ),
            ("{{0b102}}", "template: t:1: bad number syntax: \"0b102\""),
            ("{{1__0}}", "template: t:1: illegal number syntax: \"1__0\""),
            (
                "{{0x1.8}}",
                "template: t:1: illegal number syntax: \"0x1.8\"",
            ),
            ("{{08}}", "template: t:1: integer overflow: \"08\""),
            ("{{'\\\"'}}", "template: t:1: invalid syntax"),
            ("{{''}}", "template: t:1: invalid syntax"),
            ("{{\"\\x4g\"}}", "template: t:1: invalid syntax"),
        ] {
            assert_eq!(error_of(source), message, "{source}");
        }
    }

    #[test]
    fn accepts_what_go_accepts() {
        for source in [
            "{{- .Os -}} {{ .Os }}",
            "{{.Os | }}",
            "{{1_000}} {{0x1p2}} {{-1}} {{1e3}} {{'\\''}} {{'\\x41'}} {{\"\\u00e9\" | len}}",
            "{{range $i, $e := .}}{{$i}}{{break}}{{end}}",
            "{{$x := 1}}{{$x = 2}}{{$x}}",
            "{{if .A}}a{{else if .B}}b{{else}}c{{end}}",
            "{{define \"d\"}}{{.}}{{end}}{{template \"d\" .}}",
            "{{/* note */}}{{- /* trimmed */ -}}",
            "{{upper `raw\nstring`}}",
        ] {
            assert!(
                parse("t", source, &["upper"]).is_ok(),
                "{}",
                error_of(source)
            );
        }
    }

    #[test]
    fn pipes_that_end_a_pipeline_become_spaces() {
        assert_eq!(
            without_dangling_pipes("{{.Os | }}{{(.A |) | x}}{{\"|\"}}"),
            "{{.Os   }}{{(.A  ) | x}}{{\"|\"}}"
        );
    }

    #[test]
    fn nodes_print_and_sit_where_go_says() {
        let tree = parse(
            "t",
            "{{index (split .Os \"x\") 1 | upper}}",
            &["split", "upper"],
        )
        .unwrap_or_default();
        let [Node::Action(pipe)] = tree.as_slice() else {
            panic!("one action expected: {tree:?}");
        };
        assert_eq!(pipe.to_string(), "index (split .Os \"x\") 1 | upper");
        assert_eq!(pipe.commands[0].pos, 2);
        assert_eq!(pipe.commands[0].args[1].pos(), 9);
        assert_eq!(pipe.commands[1].pos, 28);
    }
}
