//! Go's `text/template/parse` as far as skopeo users see it: which templates it refuses, and
//! with which message (`template: NAME:LINE: …`), and the parse tree of those it accepts,
//! whose node positions and printed forms are what Go's execution errors show. gotmpl parses
//! a slightly different language (it accepts `{{"\q"}}` and an unclosed `{{if}}`, refuses
//! `{{.Os | }}`) and words its errors its own way, so templates are checked here first.

use skopos_core::go::text::{go_quote, is_go_printable};

/// Go's `isSpace`: the white space allowed inside actions.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Go's `isAlphaNumeric`.
fn is_alphanumeric(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

const LEFT_DELIM: &str = "{{";
const RIGHT_DELIM: &str = "}}";
const TRIM_MARKER_LEN: usize = 2;

/// `- ` right after a left delimiter.
fn has_left_trim_marker(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next() == Some('-') && chars.next().is_some_and(is_space)
}

/// ` -` right before a right delimiter.
fn has_right_trim_marker(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(is_space) && chars.next() == Some('-')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ItemKind {
    Error,
    Bool,
    Char,
    CharConstant,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    // Keywords.
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl ItemKind {
    fn keyword(word: &str) -> Option<ItemKind> {
        Some(match word {
            "block" => ItemKind::Block,
            "break" => ItemKind::Break,
            "continue" => ItemKind::Continue,
            "define" => ItemKind::Define,
            "else" => ItemKind::Else,
            "end" => ItemKind::End,
            "if" => ItemKind::If,
            "range" => ItemKind::Range,
            "nil" => ItemKind::Nil,
            "template" => ItemKind::Template,
            "with" => ItemKind::With,
            _ => return None,
        })
    }

    fn is_keyword(self) -> bool {
        self >= ItemKind::Block
    }
}

/// A token: its kind, byte offset, text (the message, for errors) and line.
#[derive(Debug, Clone)]
struct Item {
    kind: ItemKind,
    pos: usize,
    text: String,
    line: usize,
}

impl std::fmt::Display for Item {
    /// Go's `item.String`, as parse errors quote tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            ItemKind::Eof => f.write_str("EOF"),
            ItemKind::Error => f.write_str(&self.text),
            kind if kind.is_keyword() => write!(f, "<{}>", self.text),
            _ if self.text.chars().count() > 10 => {
                let first: String = self.text.chars().take(10).collect();
                write!(f, "{}...", go_quote(&first))
            }
            _ => f.write_str(&go_quote(&self.text)),
        }
    }
}

/// Go's lexer, run to the end (or its first error) at once: the parser's choices never
/// change how it scans.
struct Lexer<'a> {
    input: &'a str,
    start: usize,
    pos: usize,
    paren_depth: usize,
    items: Vec<Item>,
    /// How far lines have been counted, and the line there.
    counted: (usize, usize),
}

impl<'a> Lexer<'a> {
    fn items(input: &'a str) -> Vec<Item> {
        let mut lexer = Lexer {
            input,
            start: 0,
            pos: 0,
            paren_depth: 0,
            items: Vec::new(),
            counted: (0, 1),
        };
        lexer.run();
        lexer.items
    }

    /// The line `pos` is on; positions asked for never go back, so lines are counted once.
    fn line_at(&mut self, pos: usize) -> usize {
        let (counted_to, line) = self.counted;
        if pos < counted_to {
            return 1 + self.input[..pos].matches('\n').count();
        }
        self.counted = (
            pos,
            line + self.input[counted_to..pos].matches('\n').count(),
        );
        self.counted.1
    }

    fn emit(&mut self, kind: ItemKind) {
        let text = self.input[self.start..self.pos].to_string();
        let line = self.line_at(self.start);
        self.items.push(Item {
            kind,
            pos: self.start,
            text,
            line,
        });
        self.start = self.pos;
    }

    fn error(&mut self, message: String) {
        let line = self.line_at(self.start);
        self.items.push(Item {
            kind: ItemKind::Error,
            pos: self.start,
            text: message,
            line,
        });
    }

    fn rest(&self) -> &'a str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.peek() {
            Some(c) if valid.contains(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    /// The right delimiter here, and whether it has a trim marker.
    fn at_right_delim(&self) -> Option<bool> {
        let rest = self.rest();
        if has_right_trim_marker(rest) && rest[TRIM_MARKER_LEN..].starts_with(RIGHT_DELIM) {
            Some(true)
        } else if rest.starts_with(RIGHT_DELIM) {
            Some(false)
        } else {
            None
        }
    }

    /// Whether what follows may end a field, variable or word.
    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) || ".,|:()".contains(c) => true,
            Some(_) => self.rest().starts_with(RIGHT_DELIM),
        }
    }

    fn run(&mut self) {
        loop {
            if !self.text() || !self.action() {
                return;
            }
        }
    }

    /// Text up to the next action; false at the end of the input.
    fn text(&mut self) -> bool {
        let Some(found) = self.rest().find(LEFT_DELIM) else {
            self.pos = self.input.len();
            if self.pos > self.start {
                self.emit(ItemKind::Text);
            }
            self.emit(ItemKind::Eof);
            return false;
        };
        self.pos += found;
        let after_delim = &self.input[self.pos + LEFT_DELIM.len()..];
        let text_end = if has_left_trim_marker(after_delim) {
            self.input[self.start..self.pos]
                .trim_end_matches(is_space)
                .len()
                + self.start
        } else {
            self.pos
        };
        if text_end > self.start {
            let delim_at = self.pos;
            self.pos = text_end;
            self.emit(ItemKind::Text);
            self.pos = delim_at;
        }
        self.start = self.pos;
        true
    }

    /// An action or comment, from its left delimiter; false after an error.
    fn action(&mut self) -> bool {
        self.pos += LEFT_DELIM.len();
        let trim = has_left_trim_marker(self.rest());
        let after_marker = if trim { TRIM_MARKER_LEN } else { 0 };
        if self.rest()[after_marker..].starts_with("/*") {
            self.pos += after_marker;
            self.start = self.pos;
            return self.comment();
        }
        self.emit(ItemKind::LeftDelim);
        self.pos += after_marker;
        self.start = self.pos;
        self.paren_depth = 0;
        self.inside_action()
    }

    fn comment(&mut self) -> bool {
        self.pos += 2;
        let Some(close) = self.rest().find("*/") else {
            self.error("unclosed comment".to_string());
            return false;
        };
        self.pos += close + 2;
        let Some(trim) = self.at_right_delim() else {
            self.error("comment ends before closing delimiter".to_string());
            return false;
        };
        self.close_action(trim);
        true
    }

    /// Past a right delimiter (and its trim marker, and the space it trims).
    fn close_action(&mut self, trim: bool) {
        if trim {
            self.pos += TRIM_MARKER_LEN;
        }
        self.pos += RIGHT_DELIM.len();
        if trim {
            self.pos = self.input.len() - self.rest().trim_start_matches(is_space).len();
        }
        self.start = self.pos;
    }

    fn inside_action(&mut self) -> bool {
        loop {
            if let Some(trim) = self.at_right_delim() {
                if self.paren_depth != 0 {
                    self.error("unclosed left paren".to_string());
                    return false;
                }
                if trim {
                    self.pos += TRIM_MARKER_LEN;
                    self.start = self.pos;
                }
                self.pos += RIGHT_DELIM.len();
                self.emit(ItemKind::RightDelim);
                if trim {
                    self.pos = self.input.len() - self.rest().trim_start_matches(is_space).len();
                    self.start = self.pos;
                }
                return true;
            }
            let Some(c) = self.next() else {
                self.error("unclosed action".to_string());
                return false;
            };
            let ok = match c {
                c if is_space(c) => self.space(),
                '=' => {
                    self.emit(ItemKind::Assign);
                    true
                }
                ':' => {
                    if self.next() == Some('=') {
                        self.emit(ItemKind::Declare);
                        true
                    } else {
                        self.error("expected :=".to_string());
                        false
                    }
                }
                '|' => {
                    self.emit(ItemKind::Pipe);
                    true
                }
                '"' => self.quote(),
                '`' => self.raw_quote(),
                '$' => self.variable(),
                '\'' => self.char_constant(),
                '.' if !self.peek().is_some_and(|c| c.is_ascii_digit()) => {
                    self.field_or_variable(ItemKind::Field)
                }
                '.' | '+' | '-' | '0'..='9' => {
                    self.pos -= 1;
                    self.number()
                }
                c if is_alphanumeric(c) => {
                    self.pos -= c.len_utf8();
                    self.identifier()
                }
                '(' => {
                    self.emit(ItemKind::LeftParen);
                    self.paren_depth += 1;
                    true
                }
                ')' => {
                    if self.paren_depth == 0 {
                        self.error("unexpected right paren".to_string());
                        return false;
                    }
                    self.paren_depth -= 1;
                    self.emit(ItemKind::RightParen);
                    true
                }
                c if c.is_ascii() && !c.is_ascii_control() => {
                    self.emit(ItemKind::Char);
                    true
                }
                c => {
                    self.error(format!(
                        "unrecognized character in action: {}",
                        go_unicode(c)
                    ));
                    false
                }
            };
            if !ok {
                return false;
            }
        }
    }

    /// A run of spaces; one space before a trim-marked right delimiter is part of it.
    fn space(&mut self) -> bool {
        let mut spaces = 1;
        while self.peek().is_some_and(is_space) {
            self.next();
            spaces += 1;
        }
        let last_space = self.pos - 1;
        let rest = &self.input[last_space..];
        if has_right_trim_marker(rest) && rest[TRIM_MARKER_LEN..].starts_with(RIGHT_DELIM) {
            self.pos = last_space;
            if spaces == 1 {
                return true;
            }
        }
        self.emit(ItemKind::Space);
        true
    }

    fn quote(&mut self) -> bool {
        loop {
            match self.next() {
                Some('\\') if !matches!(self.next(), None | Some('\n')) => {}
                None | Some('\n') | Some('\\') => {
                    self.error("unterminated quoted string".to_string());
                    return false;
                }
                Some('"') => break,
                Some(_) => {}
            }
        }
        self.emit(ItemKind::String);
        true
    }

    fn raw_quote(&mut self) -> bool {
        loop {
            match self.next() {
                None => {
                    self.error("unterminated raw quoted string".to_string());
                    return false;
                }
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.emit(ItemKind::RawString);
        true
    }

    fn char_constant(&mut self) -> bool {
        loop {
            match self.next() {
                Some('\\') if !matches!(self.next(), None | Some('\n')) => {}
                None | Some('\n') | Some('\\') => {
                    self.error("unterminated character constant".to_string());
                    return false;
                }
                Some('\'') => break,
                Some(_) => {}
            }
        }
        self.emit(ItemKind::CharConstant);
        true
    }

    fn variable(&mut self) -> bool {
        if self.at_terminator() {
            self.emit(ItemKind::Variable);
            return true;
        }
        self.field_or_variable(ItemKind::Variable)
    }

    fn field_or_variable(&mut self, kind: ItemKind) -> bool {
        if self.at_terminator() {
            self.emit(if kind == ItemKind::Variable {
                ItemKind::Variable
            } else {
                ItemKind::Dot
            });
            return true;
        }
        while self.peek().is_some_and(is_alphanumeric) {
            self.next();
        }
        if !self.at_terminator() {
            return self.bad_character();
        }
        self.emit(kind);
        true
    }

    fn bad_character(&mut self) -> bool {
        let c = self.peek().map_or("U+FFFFFFFF".to_string(), go_unicode);
        self.error(format!("bad character {c}"));
        false
    }

    fn identifier(&mut self) -> bool {
        while self.peek().is_some_and(is_alphanumeric) {
            self.next();
        }
        if !self.at_terminator() {
            return self.bad_character();
        }
        let word = &self.input[self.start..self.pos];
        let kind = match ItemKind::keyword(word) {
            Some(keyword) => keyword,
            None if word == "true" || word == "false" => ItemKind::Bool,
            None => ItemKind::Identifier,
        };
        self.emit(kind);
        true
    }

    fn number(&mut self) -> bool {
        if !self.scan_number() {
            let text = go_quote(&self.input[self.start..self.pos]);
            self.error(format!("bad number syntax: {text}"));
            return false;
        }
        if matches!(self.peek(), Some('+' | '-')) {
            if !self.scan_number() || !self.input[..self.pos].ends_with('i') {
                let text = go_quote(&self.input[self.start..self.pos]);
                self.error(format!("bad number syntax: {text}"));
                return false;
            }
            self.emit(ItemKind::Complex);
        } else {
            self.emit(ItemKind::Number);
        }
        true
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if self.peek().is_some_and(is_alphanumeric) {
            self.next();
            return false;
        }
        true
    }
}

/// Go's `%#U`: `U+007B '{'`.
fn go_unicode(c: char) -> String {
    if !is_go_printable(c) {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} '{c}'", c as u32)
    }
}

/// Go's built-in template functions.
const BUILTIN_FUNCTIONS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

/// An operand of a command, with its byte offset in the template.
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

/// What a template is made of.
#[derive(Debug, Clone)]
pub enum Node {
    /// Text, `{{break}}`, `{{continue}}`: nothing that can fail.
    Inert,
    /// `{{pipeline}}`
    Action(Pipe),
    /// `{{if}}`, `{{with}}`, `{{range}}`: the pipeline, both bodies, and where the first
    /// body ends (the `{{` of its `{{else}}` or `{{end}}`).
    Control(Pipe, Vec<Node>, Vec<Node>, usize),
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
        Ok(Node::Control(pipe, list, else_list, body_end))
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

/// Go's `strconv.Unquote` of a `"…"` or `` `…` `` literal as the lexer delimits it.
fn unquote(literal: &str) -> Option<String> {
    if let Some(raw) = literal.strip_prefix('`') {
        return Some(raw.strip_suffix('`')?.replace('\r', ""));
    }
    let mut rest = literal.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    while !rest.is_empty() {
        let (c, tail) = unquote_char(rest, '"')?;
        out.push(c);
        rest = tail;
    }
    Some(out)
}

/// Go's `strconv.UnquoteChar`: the first character of `text` (an escape sequence or not)
/// inside a literal quoted with `quote`, and what follows it.
fn unquote_char(text: &str, quote: char) -> Option<(char, &str)> {
    let mut chars = text.chars();
    let c = chars.next()?;
    if c == quote {
        return None;
    }
    if c != '\\' {
        return Some((c, chars.as_str()));
    }
    let escape = chars.next()?;
    let simple = match escape {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        '\\' => Some('\\'),
        '\'' | '"' if escape == quote => Some(escape),
        _ => None,
    };
    if let Some(simple) = simple {
        return Some((simple, chars.as_str()));
    }
    let rest = chars.as_str();
    let (digits, radix) = match escape {
        'x' => (2, 16),
        'u' => (4, 16),
        'U' => (8, 16),
        '0'..='7' => (2, 8),
        _ => return None,
    };
    let number = rest.get(..digits)?;
    let mut value = u32::from_str_radix(number, radix).ok()?;
    if !number.chars().all(|d| d.is_digit(radix)) {
        return None;
    }
    if radix == 8 {
        value += escape.to_digit(8)? << 6;
        if value > 255 {
            return None;
        }
    }
    // `\x` and octal escapes are bytes; text here is UTF-8, so only ASCII ones are kept
    // as they are (the value only matters for validity).
    let c = if escape == 'x' || radix == 8 {
        char::from_u32(value).unwrap_or('\u{fffd}')
    } else {
        char::from_u32(value)?
    };
    Some((c, &rest[digits..]))
}

/// Go's `parse.newNumber` checks: `Err` with its message for numbers Go refuses.
fn check_number(text: &str, kind: ItemKind) -> Result<(), String> {
    match kind {
        ItemKind::CharConstant => {
            let inner = &text[1..];
            let (_, tail) = unquote_char(inner, '\'').ok_or("invalid syntax")?;
            if tail != "'" {
                return Err(format!("malformed character constant: {text}"));
            }
            return Ok(());
        }
        ItemKind::Complex => return Ok(()),
        _ => {}
    }
    if let Some(imaginary) = text.strip_suffix('i') {
        if parse_float(imaginary).is_some() {
            return Ok(());
        }
    }
    if parse_int(text).is_some() {
        return Ok(());
    }
    match parse_float(text) {
        Some(_) if !text.contains(['.', 'e', 'E', 'p', 'P']) => {
            Err(format!("integer overflow: {}", go_quote(text)))
        }
        Some(_) => Ok(()),
        None => Err(format!("illegal number syntax: {}", go_quote(text))),
    }
}

/// Whether the number literal `text` (as the parser accepted it) has an integer value, which
/// Go passes where a function wants an `int` (`2.0` and `'a'` do, `2.5` does not).
pub fn is_integral(text: &str) -> bool {
    text.starts_with('\'')
        || parse_int(text).is_some()
        || parse_float(text).is_some_and(|value| value.fract() == 0.0)
}

/// Go's `strconv.underscoreOK`: underscores only between digits (a base prefix counts).
fn underscores_ok(text: &str) -> bool {
    let text = text.strip_prefix(['+', '-']).unwrap_or(text);
    let bytes = text.as_bytes();
    let mut saw = b'^';
    let mut index = 0;
    let mut hex = false;
    if bytes.len() >= 2
        && bytes[0] == b'0'
        && matches!(bytes[1].to_ascii_lowercase(), b'b' | b'o' | b'x')
    {
        index = 2;
        saw = b'0';
        hex = bytes[1].eq_ignore_ascii_case(&b'x');
    }
    for &b in &bytes[index..] {
        if b.is_ascii_digit() || hex && b.is_ascii_hexdigit() {
            saw = b'0';
        } else if b == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else if saw == b'_' {
            return false;
        } else {
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Whether Go's `ParseUint(text, 0, 64)` or `ParseInt(text, 0, 64)` accepts `text`.
fn parse_int(text: &str) -> Option<()> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if unsigned.is_empty() || !underscores_ok(text) {
        return None;
    }
    let lower = unsigned.to_ascii_lowercase();
    let (radix, digits) = if lower.len() >= 3 && lower.starts_with("0b") {
        (2, &lower[2..])
    } else if lower.len() >= 3 && lower.starts_with("0o") {
        (8, &lower[2..])
    } else if lower.len() >= 3 && lower.starts_with("0x") {
        (16, &lower[2..])
    } else if let Some(octal) = lower.strip_prefix('0') {
        (8, octal)
    } else {
        (10, lower.as_str())
    };
    let digits = digits.replace('_', "");
    let magnitude = if digits.is_empty() {
        0
    } else {
        u64::from_str_radix(&digits, radix).ok()?
    };
    let limit = if negative { 1u64 << 63 } else { u64::MAX };
    (magnitude <= limit).then_some(())
}

/// Go's `strconv.ParseFloat(text, 64)`: the value, `None` for bad syntax or overflow.
fn parse_float(text: &str) -> Option<f64> {
    if !underscores_ok(text) {
        return None;
    }
    let cleaned = text.replace('_', "");
    let (negative, unsigned) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
    };
    let lower = unsigned.to_ascii_lowercase();
    let value = if let Some(hex) = lower.strip_prefix("0x") {
        // Hexadecimal mantissa, which needs a binary exponent.
        let (mantissa, exponent) = hex.split_once('p')?;
        let exponent: i32 = exponent.parse().ok()?;
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let mut value = 0f64;
        for digit in whole.chars().chain(fraction.chars()) {
            value = value * 16.0 + f64::from(digit.to_digit(16)?);
        }
        let fraction_bits = i32::try_from(fraction.len()).ok()?.checked_mul(4)?;
        value * 2f64.powi(exponent - fraction_bits)
    } else {
        if !lower
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        {
            return None;
        }
        lower.parse::<f64>().ok()?
    };
    value
        .is_finite()
        .then_some(if negative { -value } else { value })
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
