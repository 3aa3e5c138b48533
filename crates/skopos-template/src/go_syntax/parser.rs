//! Go's `text/template/parse` parser: the checks and messages of Go's recursive descent,
//! building the tree [`super::Node`] describes.

use skopos_core::go::text::go_quote;

use super::lexer::{Item, ItemKind, Lexer};
use super::literals::{check_number, unquote};
use super::{Arg, Command, ControlKind, Node, Pipe};

/// Go's built-in template functions.
const BUILTIN_FUNCTIONS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

/// End of a list of nodes: `{{end}}` or `{{else}}`.
enum ListEnd {
    End,
    Else(bool),
}

impl std::fmt::Display for ListEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ListEnd::End => "{{end}}",
            ListEnd::Else(_) => "{{else}}",
        })
    }
}

/// What `text_or_action` found.
enum Parsed {
    Node(Node),
    ListEnd(ListEnd),
}

type Outcome<T> = Result<T, String>;

struct Parser<'a> {
    name: &'a str,
    functions: &'a [&'a str],
    items: Vec<Item>,
    /// Index of the next item to read.
    next: usize,
    /// The furthest item read: Go reports errors at its line.
    furthest: usize,
    vars: Vec<String>,
    range_depth: usize,
    /// Line of the action being parsed, 0 outside actions.
    action_line: usize,
    /// Where the latest action started.
    action_start: usize,
}

impl Parser<'_> {
    fn error<T>(&self, message: impl std::fmt::Display) -> Outcome<T> {
        let line = self.items[self.furthest.min(self.items.len() - 1)].line;
        Err(format!("template: {}:{line}: {message}", self.name))
    }

    fn next(&mut self) -> Item {
        let index = self.next.min(self.items.len() - 1);
        self.next = index + 1;
        self.furthest = self.furthest.max(index);
        self.items[index].clone()
    }

    fn backup(&mut self) {
        self.next -= 1;
    }

    fn peek(&mut self) -> Item {
        let item = self.next();
        self.backup();
        item
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let item = self.next();
            if item.kind != ItemKind::Space {
                return item;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let item = self.next_non_space();
        self.backup();
        item
    }

    fn expect(&mut self, kind: ItemKind, context: &str) -> Outcome<Item> {
        let item = self.next_non_space();
        if item.kind != kind {
            return self.unexpected(&item, context);
        }
        Ok(item)
    }

    fn unexpected<T>(&self, item: &Item, context: &str) -> Outcome<T> {
        if item.kind == ItemKind::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != item.line {
                extra = format!(" in action started at {}:{}", self.name, self.action_line);
                if item.text.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.error(format!("{item}{extra}"));
        }
        self.error(format!("unexpected {item} in {context}"))
    }

    fn has_function(&self, name: &str) -> bool {
        BUILTIN_FUNCTIONS.contains(&name) || self.functions.contains(&name)
    }

    fn parse(&mut self) -> Outcome<Vec<Node>> {
        let mut root = Vec::new();
        while self.peek().kind != ItemKind::Eof {
            if self.peek().kind == ItemKind::LeftDelim {
                let delimiter = self.next;
                self.next();
                if self.next_non_space().kind == ItemKind::Define {
                    self.definition()?;
                    continue;
                }
                self.next = delimiter;
            }
            match self.text_or_action()? {
                Parsed::Node(node) => root.push(node),
                Parsed::ListEnd(end) => return self.error(format!("unexpected {end}")),
            }
        }
        Ok(root)
    }

    /// A nested template (`define`, `block`): its own variables and range depth.
    fn nested<T>(&mut self, body: impl FnOnce(&mut Self) -> Outcome<T>) -> Outcome<T> {
        let vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let range_depth = std::mem::take(&mut self.range_depth);
        let result = body(self);
        self.vars = vars;
        self.range_depth = range_depth;
        result
    }

    fn definition(&mut self) -> Outcome<()> {
        const CONTEXT: &str = "define clause";
        let name = self.next_non_space();
        if !matches!(name.kind, ItemKind::String | ItemKind::RawString) {
            return self.unexpected(&name, CONTEXT);
        }
        self.unquote(&name.text)?;
        self.expect(ItemKind::RightDelim, CONTEXT)?;
        self.nested(|parser| {
            let (_, end) = parser.item_list()?;
            if !matches!(end, ListEnd::End) {
                return parser.error(format!("unexpected {end} in {CONTEXT}"));
            }
            Ok(())
        })
    }

    fn item_list(&mut self) -> Outcome<(Vec<Node>, ListEnd)> {
        let mut list = Vec::new();
        while self.peek_non_space().kind != ItemKind::Eof {
            match self.text_or_action()? {
                Parsed::Node(node) => list.push(node),
                Parsed::ListEnd(end) => return Ok((list, end)),
            }
        }
        self.error("unexpected EOF")
    }

    fn text_or_action(&mut self) -> Outcome<Parsed> {
        let item = self.next_non_space();
        match item.kind {
            ItemKind::Text => Ok(Parsed::Node(Node::Inert)),
            ItemKind::LeftDelim => {
                self.action_start = item.pos;
                self.action_line = item.line;
                let action = self.action();
                self.action_line = 0;
                action
            }
            _ => self.unexpected(&item, "input"),
        }
    }

    fn action(&mut self) -> Outcome<Parsed> {
        let item = self.next_non_space();
        let node = match item.kind {
            ItemKind::Block => self.block()?,
            ItemKind::Break | ItemKind::Continue => {
                let context = format!("{{{{{}}}}}", item.text);
                let token = self.next_non_space();
                if token.kind != ItemKind::RightDelim {
                    return self.unexpected(&token, &context);
                }
                if self.range_depth == 0 {
                    return self.error(format!("{context} outside {{{{range}}}}"));
                }
                Node::Inert
            }
            ItemKind::Else => {
                let peek = self.peek_non_space();
                let chained = matches!(peek.kind, ItemKind::If | ItemKind::With);
                if !chained {
                    self.expect(ItemKind::RightDelim, "else")?;
                }
                return Ok(Parsed::ListEnd(ListEnd::Else(chained)));
            }
            ItemKind::End => {
                self.expect(ItemKind::RightDelim, "end")?;
                return Ok(Parsed::ListEnd(ListEnd::End));
            }
            ItemKind::If => self.control("if")?,
            ItemKind::Range => self.control("range")?,
            ItemKind::With => self.control("with")?,
            ItemKind::Template => self.template()?,
            _ => {
                self.backup();
                Node::Action(self.pipeline("command", ItemKind::RightDelim)?)
            }
        };
        Ok(Parsed::Node(node))
    }

    fn control(&mut self, context: &str) -> Outcome<Node> {
        let vars = self.vars.len();
        let result = self.control_body(context);
        self.vars.truncate(vars);
        result
    }

    fn control_body(&mut self, context: &str) -> Outcome<Node> {
        let pipe = self.pipeline(context, ItemKind::RightDelim)?;
        let is_range = context == "range";
        if is_range {
            self.range_depth += 1;
        }
        let listed = self.item_list();
        if is_range {
            self.range_depth -= 1;
        }
        let (list, end) = listed?;
        let body_end = self.action_start;
        let mut else_list = Vec::new();
        if let ListEnd::Else(chained) = end {
            let next = self.peek().kind;
            if chained && context == "if" && next == ItemKind::If {
                self.next();
                else_list.push(self.control("if")?);
            } else if chained && context == "with" && next == ItemKind::With {
                self.next();
                else_list.push(self.control("with")?);
            } else {
                let (listed, end) = self.item_list()?;
                if !matches!(end, ListEnd::End) {
                    return self.error(format!("expected end; found {end}"));
                }
                else_list = listed;
            }
        }
        let kind = match context {
            "range" => ControlKind::Range,
            "with" => ControlKind::With,
            _ => ControlKind::If,
        };
        Ok(Node::Control(kind, pipe, list, else_list, body_end))
    }

    fn template_name(&mut self, context: &str) -> Outcome<String> {
        let item = self.next_non_space();
        match item.kind {
            ItemKind::String | ItemKind::RawString => self.unquote(&item.text),
            _ => self.unexpected(&item, context),
        }
    }

    fn template(&mut self) -> Outcome<Node> {
        const CONTEXT: &str = "template clause";
        let pos = self.peek_non_space().pos;
        let name = self.template_name(CONTEXT)?;
        if self.next_non_space().kind == ItemKind::RightDelim {
            return Ok(Node::Template(pos, name, None));
        }
        self.backup();
        let pipe = self.pipeline(CONTEXT, ItemKind::RightDelim)?;
        Ok(Node::Template(pos, name, Some(pipe)))
    }

    fn block(&mut self) -> Outcome<Node> {
        const CONTEXT: &str = "block clause";
        let pos = self.peek_non_space().pos;
        let name = self.template_name(CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, ItemKind::RightDelim)?;
        self.nested(|parser| {
            let (_, end) = parser.item_list()?;
            if !matches!(end, ListEnd::End) {
                return parser.error(format!("unexpected {end} in {CONTEXT}"));
            }
            Ok(())
        })?;
        Ok(Node::Template(pos, name, Some(pipe)))
    }

    fn pipeline(&mut self, context: &str, end: ItemKind) -> Outcome<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            is_assign: false,
            declared: Vec::new(),
            commands: Vec::new(),
        };
        loop {
            let variable = self.peek_non_space();
            if variable.kind != ItemKind::Variable {
                break;
            }
            let before = self.next;
            self.next_non_space();
            let next = self.peek_non_space();
            match next.kind {
                ItemKind::Assign | ItemKind::Declare => {
                    pipe.is_assign = next.kind == ItemKind::Assign;
                    self.next_non_space();
                    pipe.declared.push(variable.text.clone());
                    self.vars.push(variable.text);
                }
                ItemKind::Char if next.text == "," => {
                    self.next_non_space();
                    pipe.declared.push(variable.text.clone());
                    self.vars.push(variable.text);
                    if context == "range" && pipe.declared.len() < 2 {
                        match self.peek_non_space().kind {
                            ItemKind::Variable | ItemKind::RightDelim | ItemKind::RightParen => {
                                continue;
                            }
                            _ => return self.error("range can only initialize variables"),
                        }
                    }
                    return self.error(format!("too many declarations in {context}"));
                }
                // An operand, not a declaration.
                _ => self.next = before,
            }
            break;
        }
        loop {
            let item = self.next_non_space();
            match item.kind {
                kind if kind == end => {
                    self.check_pipeline(&pipe, context)?;
                    return Ok(pipe);
                }
                ItemKind::Bool
                | ItemKind::CharConstant
                | ItemKind::Complex
                | ItemKind::Dot
                | ItemKind::Field
                | ItemKind::Identifier
                | ItemKind::Number
                | ItemKind::Nil
                | ItemKind::RawString
                | ItemKind::String
                | ItemKind::Variable
                | ItemKind::LeftParen => {
                    self.backup();
                    let command = self.command()?;
                    pipe.commands.push(command);
                }
                _ => return self.unexpected(&item, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> Outcome<()> {
        if pipe.commands.is_empty() {
            return self.error(format!("missing value for {context}"));
        }
        for (index, command) in pipe.commands.iter().enumerate().skip(1) {
            if matches!(
                command.args.first(),
                Some(Arg::Bool(..) | Arg::Dot(_) | Arg::Nil(_) | Arg::Number(..) | Arg::String(..))
            ) {
                return self.error(format!(
                    "non executable command in pipeline stage {}",
                    index + 1
                ));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> Outcome<Command> {
        let mut command = Command {
            pos: self.peek_non_space().pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                command.args.push(operand);
            }
            let item = self.next();
            match item.kind {
                ItemKind::Space => continue,
                ItemKind::RightDelim | ItemKind::RightParen => self.backup(),
                ItemKind::Pipe => {}
                _ => return self.unexpected(&item, "operand"),
            }
            break;
        }
        if command.args.is_empty() {
            return self.error("empty command");
        }
        Ok(command)
    }

    fn operand(&mut self) -> Outcome<Option<Arg>> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != ItemKind::Field {
            return Ok(Some(term));
        }
        let chain_pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == ItemKind::Field {
            fields.push(self.next().text[1..].to_string());
        }
        Ok(Some(match term {
            Arg::Field(_, mut names) => {
                names.extend(fields);
                Arg::Field(chain_pos, names)
            }
            Arg::Variable(_, mut names) => {
                names.extend(fields);
                Arg::Variable(chain_pos, names)
            }
            Arg::Bool(..) | Arg::String(..) | Arg::Number(..) | Arg::Nil(_) | Arg::Dot(_) => {
                return self.error(format!(
                    "unexpected . after term {}",
                    go_quote(&term.to_string())
                ));
            }
            other => Arg::Chain(chain_pos, Box::new(other), fields),
        }))
    }

    fn term(&mut self) -> Outcome<Option<Arg>> {
        let item = self.next_non_space();
        let arg = match item.kind {
            ItemKind::Identifier => {
                if !self.has_function(&item.text) {
                    return self.error(format!("function {} not defined", go_quote(&item.text)));
                }
                Arg::Identifier(item.pos, item.text)
            }
            ItemKind::Dot => Arg::Dot(item.pos),
            ItemKind::Nil => Arg::Nil(item.pos),
            ItemKind::Variable => {
                if !self.vars.contains(&item.text) {
                    return self.error(format!("undefined variable {}", go_quote(&item.text)));
                }
                Arg::Variable(item.pos, vec![item.text])
            }
            ItemKind::Field => Arg::Field(item.pos, vec![item.text[1..].to_string()]),
            ItemKind::Bool => Arg::Bool(item.pos, item.text == "true"),
            ItemKind::CharConstant | ItemKind::Complex | ItemKind::Number => {
                if let Err(message) = check_number(&item.text, item.kind) {
                    return self.error(message);
                }
                Arg::Number(item.pos, item.text)
            }
            ItemKind::LeftParen => {
                Arg::Pipe(self.pipeline("parenthesized pipeline", ItemKind::RightParen)?)
            }
            ItemKind::String | ItemKind::RawString => {
                self.unquote(&item.text)?;
                Arg::String(item.pos, item.text)
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        };
        Ok(Some(arg))
    }

    /// Go's `strconv.Unquote` of a string literal; its only error is "invalid syntax".
    fn unquote(&self, literal: &str) -> Outcome<String> {
        match unquote(literal) {
            Some(text) => Ok(text),
            None => self.error("invalid syntax"),
        }
    }
}

/// Go's parse of `text` as template `name` with `functions` besides the built-in ones:
/// the body of the main template, or Go's error message.
pub fn parse(name: &str, text: &str, functions: &[&str]) -> Result<Vec<Node>, String> {
    let mut parser = Parser {
        name,
        functions,
        items: Lexer::items(text),
        next: 0,
        furthest: 0,
        vars: vec!["$".to_string()],
        range_depth: 0,
        action_line: 0,
        action_start: 0,
    };
    parser.parse()
}
