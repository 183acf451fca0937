//! The lexer: one line of text into tokens, refusing every piece of script syntax.
//!
//! No-language mode admits only commands, parameters and literal values. The lexer is where that
//! is enforced: it refuses control and invisible characters anywhere (even inside quotes), newlines,
//! over-long lines, and every operator that would make the line a script (`;`, `&`, `&&`, `||`,
//! blocks, sub-expressions, variables other than `$true`/`$false`/`$null`, redirection, comments,
//! dot-sourcing, static and method calls, expandable strings). Nothing it lets through can mean more
//! than "this literal text".

use super::error::{ErrorId, LangError};
use super::escape::{code_point, is_invisible};
use azs_support::Value;

/// The longest line accepted, in characters.
pub const MAX_LINE_CHARS: usize = 4096;

/// One token and the 1-based character column it starts at.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// 1-based character column of its first character.
    pub column: usize,
}

/// The kinds of token no-language mode knows.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// Unquoted text (`Get-Process`, `Node01`, `/tmp/x`).
    Word(String),
    /// `-Name`, or `-Name:` when `colon` (the value follows as the next token).
    Param {
        /// The name without dash or colon.
        name: String,
        /// Written as `-Name:value`.
        colon: bool,
    },
    /// A single- or double-quoted string, already unquoted (never expanded).
    Quoted(String),
    /// A whole number (`42`, `-1`).
    Number(i64),
    /// `$true`, `$false` or `$null`.
    Const(Value),
    /// `,` between array elements.
    Comma,
    /// `|` between pipeline elements.
    Pipe,
}

impl TokenKind {
    /// Whether the token is text-like (two of these may not touch without a space between).
    fn is_operand(&self) -> bool {
        !matches!(self, TokenKind::Comma | TokenKind::Pipe)
    }
}

const SINGLE_QUOTES: [char; 4] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}'];
const DOUBLE_QUOTES: [char; 3] = ['"', '\u{201C}', '\u{201D}'];
/// PowerShell accepts the en dash, em dash and horizontal bar as a parameter dash.
const DASHES: [char; 4] = ['-', '\u{2013}', '\u{2014}', '\u{2015}'];

fn is_quote(c: char) -> bool {
    SINGLE_QUOTES.contains(&c) || DOUBLE_QUOTES.contains(&c) || c == '\u{201B}' || c == '\u{201E}'
}

/// Characters that end a bare word because they are operators (refused or structural).
fn is_special(c: char) -> bool {
    matches!(
        c,
        ',' | '|'
            | ';'
            | '&'
            | '('
            | ')'
            | '{'
            | '}'
            | '['
            | ']'
            | '@'
            | '`'
            | '>'
            | '<'
            | '#'
            | '$'
    ) || is_quote(c)
}

/// Refuses what no line may contain: over-long lines, newlines, control and invisible characters.
pub fn check_line(line: &str) -> Result<(), LangError> {
    let count = line.chars().count();
    if count > MAX_LINE_CHARS {
        return Err(LangError::new(
            ErrorId::LineTooLong,
            format!("The line is {count} characters long; at most {MAX_LINE_CHARS} are accepted."),
        ));
    }
    if let Some((i, c)) = line
        .chars()
        .enumerate()
        .find(|(_, c)| matches!(c, '\n' | '\r'))
    {
        return Err(LangError::script(
            i + 1,
            &code_point(c),
            "one command per line: a line break cannot chain commands",
        ));
    }
    if let Some((i, c)) = line
        .chars()
        .enumerate()
        .find(|(_, c)| (c.is_control() && *c != '\t') || is_invisible(*c))
    {
        return Err(LangError::new(
            ErrorId::InvalidInput,
            format!(
                "The input contains the control or invisible character {} at column {}; such \
                 characters are not accepted anywhere, not even inside quotes.",
                code_point(c),
                i + 1
            ),
        ));
    }
    Ok(())
}

/// Splits a checked line into tokens.
pub fn tokenize(line: &str) -> Result<Vec<Token>, LangError> {
    check_line(line)?;
    Lexer {
        chars: line.chars().collect(),
        pos: 0,
        tokens: Vec::new(),
        last_end: None,
    }
    .run()
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    tokens: Vec<Token>,
    /// Index just past the previous token (to detect tokens touching each other).
    last_end: Option<usize>,
}

impl Lexer {
    fn peek(&self, off: usize) -> Option<char> {
        self.chars.get(self.pos + off).copied()
    }

    fn at_element_start(&self) -> bool {
        matches!(
            self.tokens.last(),
            None | Some(Token {
                kind: TokenKind::Pipe,
                ..
            })
        )
    }

    fn run(mut self) -> Result<Vec<Token>, LangError> {
        while let Some(c) = self.peek(0) {
            if c.is_whitespace() {
                self.pos += 1;
                continue;
            }
            let start = self.pos;
            let col = start + 1;
            let kind = match c {
                ',' => {
                    self.pos += 1;
                    TokenKind::Comma
                }
                '|' => {
                    if self.peek(1) == Some('|') {
                        return Err(LangError::script(col, "||", "chaining is not supported"));
                    }
                    self.pos += 1;
                    TokenKind::Pipe
                }
                '$' => self.variable()?,
                _ if is_quote(c) => self.quoted()?,
                _ if is_special(c) => return Err(self.refuse_operator(c)),
                '.' if self.at_element_start() && self.peek(1).is_none_or(char::is_whitespace) => {
                    return Err(LangError::script(col, ".", "dot-sourcing is not supported"));
                }
                _ if DASHES.contains(&c)
                    && self.peek(1).is_some_and(|n| n.is_alphabetic() || n == '_') =>
                {
                    self.param()
                }
                // `-?`, PowerShell's ask for help, is a parameter too (`Get-X -?`).
                _ if DASHES.contains(&c)
                    && self.peek(1) == Some('?')
                    && self
                        .peek(2)
                        .is_none_or(|n| n.is_whitespace() || is_special(n)) =>
                {
                    self.param()
                }
                _ => self.word()?,
            };
            let touching = self.last_end == Some(start)
                && kind.is_operand()
                && self.tokens.last().is_some_and(|t| match &t.kind {
                    TokenKind::Param { colon, .. } => !colon,
                    k => k.is_operand(),
                });
            if touching {
                let what: String = self.chars[start..self.pos].iter().collect();
                return Err(LangError::script(
                    col,
                    &what,
                    "text joined to the previous token is an expression; quote the whole argument",
                ));
            }
            self.tokens.push(Token { kind, column: col });
            self.last_end = Some(self.pos);
        }
        Ok(self.tokens)
    }

    /// The error for an operator character found outside quotes.
    fn refuse_operator(&self, c: char) -> LangError {
        let col = self.pos + 1;
        let next = self.peek(1);
        let prev_token = self
            .tokens
            .last()
            .filter(|_| self.last_end == Some(self.pos));
        match c {
            ';' => LangError::script(col, ";", "one command per line: chaining is not supported"),
            '&' if next == Some('&') => LangError::script(col, "&&", "chaining is not supported"),
            '&' => LangError::script(
                col,
                "&",
                "the call operator and background jobs are not supported",
            ),
            '(' => {
                let method = matches!(prev_token, Some(Token { kind: TokenKind::Word(w), .. }) if w.contains('.'));
                let why = if method {
                    "method calls are not supported"
                } else {
                    "expressions and sub-expressions are not supported"
                };
                LangError::script(col, "(", why)
            }
            ')' => LangError::script(col, ")", "expressions are not supported"),
            '{' | '}' => LangError::script(col, &c.to_string(), "script blocks are not supported"),
            '[' | ']' => LangError::script(
                col,
                &c.to_string(),
                "type literals and indexing are not supported; quote the text",
            ),
            '@' => LangError::script(
                col,
                "@",
                "arrays, hash tables and splatting are not supported",
            ),
            '`' => LangError::script(
                col,
                "`",
                "escape characters and command substitution are not supported",
            ),
            '>' | '<' => {
                let mut what = if c == '>' && next == Some('>') {
                    ">>".to_string()
                } else {
                    c.to_string()
                };
                let mut at = col;
                if let Some(Token {
                    kind: TokenKind::Number(n),
                    column,
                }) = prev_token
                {
                    what = format!("{n}{what}");
                    at = *column;
                }
                LangError::script(at, &what, "redirection is not supported")
            }
            '#' => LangError::script(
                col,
                "#",
                "comments are not supported; quote text containing '#'",
            ),
            _ => LangError::script(col, &c.to_string(), ""),
        }
    }

    fn variable(&mut self) -> Result<TokenKind, LangError> {
        let col = self.pos + 1;
        match self.peek(1) {
            Some('(') => {
                return Err(LangError::script(
                    col,
                    "$(",
                    "sub-expressions are not supported",
                ))
            }
            Some('{') => return Err(LangError::script(col, "${", "variables are not supported")),
            _ => {}
        }
        let mut end = self.pos + 1;
        while end < self.chars.len()
            && (self.chars[end].is_alphanumeric() || self.chars[end] == '_')
        {
            end += 1;
        }
        let name: String = self.chars[self.pos + 1..end].iter().collect();
        let next = self.chars.get(end).copied();
        let ends_cleanly = next.is_none_or(|n| n.is_whitespace() || n == ',' || n == '|');
        let constant = match name.to_ascii_lowercase().as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            "null" => Some(Value::Null),
            _ => None,
        };
        match constant {
            Some(v) if ends_cleanly => {
                self.pos = end;
                Ok(TokenKind::Const(v))
            }
            _ => {
                let mut what = format!("${name}");
                if let Some(n) = next.filter(|n| *n == ':' || *n == '.' || *n == '?' || *n == '$') {
                    what.push(n);
                }
                Err(LangError::script(
                    col,
                    &what,
                    "variables are not supported; only $true, $false and $null are accepted",
                ))
            }
        }
    }

    fn quoted(&mut self) -> Result<TokenKind, LangError> {
        let open_col = self.pos + 1;
        let open = self.chars[self.pos];
        let double = DOUBLE_QUOTES.contains(&open) || open == '\u{201E}';
        let closes = |c: char| {
            if double {
                DOUBLE_QUOTES.contains(&c)
            } else {
                SINGLE_QUOTES.contains(&c) || c == '\u{201B}'
            }
        };
        self.pos += 1;
        let mut text = String::new();
        loop {
            let Some(c) = self.peek(0) else {
                let q = if double { '"' } else { '\'' };
                return Err(LangError::new(
                    ErrorId::InvalidInput,
                    format!(
                        "The string starting at column {open_col} is missing the terminator: {q}."
                    ),
                ));
            };
            if closes(c) {
                if self.peek(1).is_some_and(closes) {
                    text.push(c);
                    self.pos += 2;
                    continue;
                }
                self.pos += 1;
                return Ok(TokenKind::Quoted(text));
            }
            if double && (c == '$' || c == '`') {
                return Err(LangError::script(
                    self.pos + 1,
                    &c.to_string(),
                    "double-quoted strings are never expanded here; use single quotes for literal text",
                ));
            }
            text.push(c);
            self.pos += 1;
        }
    }

    fn param(&mut self) -> TokenKind {
        self.pos += 1;
        let mut name = String::new();
        while let Some(c) = self.peek(0) {
            if c.is_whitespace() || c == ':' || is_special(c) {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        let colon = self.peek(0) == Some(':') && self.peek(1) != Some(':');
        if colon {
            self.pos += 1;
        }
        TokenKind::Param { name, colon }
    }

    fn word(&mut self) -> Result<TokenKind, LangError> {
        let start = self.pos;
        let mut text = String::new();
        while let Some(c) = self.peek(0) {
            if c.is_whitespace() || is_special(c) {
                break;
            }
            if c == ':' && self.peek(1) == Some(':') {
                return Err(LangError::script(
                    self.pos + 1,
                    "::",
                    "static member access is not supported",
                ));
            }
            text.push(c);
            self.pos += 1;
        }
        let mut digits = text.chars();
        let first = digits.next();
        let numeric = match first {
            Some(f) if DASHES.contains(&f) => {
                text.chars().count() > 1 && digits.all(|d| d.is_ascii_digit())
            }
            Some(f) => f.is_ascii_digit() && digits.all(|d| d.is_ascii_digit()),
            None => false,
        };
        if !numeric {
            return Ok(TokenKind::Word(text));
        }
        let normal: String = text
            .chars()
            .map(|c| if DASHES.contains(&c) { '-' } else { c })
            .collect();
        normal.parse::<i64>().map(TokenKind::Number).map_err(|_| {
            LangError::new(
                ErrorId::InvalidInput,
                format!(
                    "The number '{text}' at column {} is out of range: whole numbers must lie \
                     between {} and {}.",
                    start + 1,
                    i64::MIN,
                    i64::MAX
                ),
            )
        })
    }
}

#[cfg(test)]
#[path = "lexer_tests.rs"]
mod tests;
