//! Go's `text/template/parse` lexer: the template split into text, delimiters and the
//! tokens of actions, ending at the first error as Go's does.

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
pub(super) enum ItemKind {
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
pub(super) struct Item {
    pub(super) kind: ItemKind,
    pub(super) pos: usize,
    pub(super) text: String,
    pub(super) line: usize,
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
pub(super) struct Lexer<'a> {
    input: &'a str,
    start: usize,
    pos: usize,
    paren_depth: usize,
    items: Vec<Item>,
    /// How far lines have been counted, and the line there.
    counted: (usize, usize),
}

impl<'a> Lexer<'a> {
    /// The tokens of `input`, up to and including the first error or the end.
    pub(super) fn items(input: &'a str) -> Vec<Item> {
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
