//! The parser: tokens into a pipeline of command calls with literal arguments.
//!
//! A line is `command args... [| command args...]...`. Every pipeline element starts with a bare
//! command name of the PowerShell verb-noun shape (ASCII only, so look-alike letters and hyphens
//! cannot impersonate a catalog command); anything else in command position — a quoted string,
//! a number, the call operator — is script and refused. Arguments are literals or comma lists of
//! literals; nothing is evaluated.

use super::error::{ErrorId, LangError};
use super::lexer::{tokenize, Token, TokenKind};
use azs_support::Value;

/// A parsed line: one or more commands joined by `|`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The elements, first to last.
    pub elements: Vec<CommandCall>,
}

/// One command with its arguments, as typed.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandCall {
    /// The name as typed (resolved case-insensitively later).
    pub name: String,
    /// Arguments in order.
    pub args: Vec<Arg>,
    /// 1-based column of the name.
    pub column: usize,
}

/// One argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// `-Name` (value `None`) or `-Name:value` (value `Some`).
    Named {
        /// Name as typed, without the dash.
        name: String,
        /// The value given with a colon.
        value: Option<Value>,
        /// 1-based column of the dash.
        column: usize,
    },
    /// A value not introduced by a parameter name (it may still be a named parameter's value;
    /// the binder decides).
    Positional {
        /// The literal.
        value: Value,
        /// 1-based column.
        column: usize,
    },
}

/// Parses one line. `Ok(None)` for a blank line.
pub fn parse_line(line: &str) -> Result<Option<Pipeline>, LangError> {
    let tokens = tokenize(line)?;
    if tokens.is_empty() {
        return Ok(None);
    }
    let mut elements = Vec::new();
    let mut rest: &[Token] = &tokens;
    loop {
        let end = rest
            .iter()
            .position(|t| t.kind == TokenKind::Pipe)
            .unwrap_or(rest.len());
        let (element, tail) = rest.split_at(end);
        let pipe_col = tail.first().map(|t| t.column);
        if element.is_empty() {
            let col = pipe_col.unwrap_or_else(|| line.chars().count() + 1);
            return Err(LangError::new(
                ErrorId::InvalidPipeline,
                format!("An empty pipe element is not allowed (at column {col})."),
            ));
        }
        elements.push(parse_element(element)?);
        match tail.split_first() {
            None => break,
            Some((pipe, after)) => {
                if after.is_empty() {
                    return Err(LangError::new(
                        ErrorId::InvalidPipeline,
                        format!(
                            "An empty pipe element is not allowed (at column {}: nothing follows '|').",
                            pipe.column
                        ),
                    ));
                }
                rest = after;
            }
        }
    }
    Ok(Some(Pipeline { elements }))
}

/// Whether `name` has the shape of a command name: `Verb-Noun` or one word, ASCII letters and digits.
pub fn is_command_name(name: &str) -> bool {
    let mut parts = name.splitn(2, '-');
    let first = parts.next().unwrap_or_default();
    let word_ok = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric());
    first
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && word_ok(first)
        && parts.next().is_none_or(word_ok)
}

fn parse_element(tokens: &[Token]) -> Result<CommandCall, LangError> {
    let (head, args) = tokens.split_first().ok_or_else(|| {
        LangError::new(
            ErrorId::InvalidPipeline,
            "An empty pipe element is not allowed.",
        )
    })?;
    let name = match &head.kind {
        TokenKind::Word(w) => w.clone(),
        other => {
            let what = match other {
                TokenKind::Quoted(s) => format!("'{s}'"),
                TokenKind::Number(n) => n.to_string(),
                TokenKind::Param { name, .. } => format!("-{name}"),
                TokenKind::Const(Value::Bool(true)) => "$true".into(),
                TokenKind::Const(Value::Bool(false)) => "$false".into(),
                TokenKind::Const(_) => "$null".into(),
                TokenKind::Comma => ",".into(),
                TokenKind::Pipe => "|".into(),
                TokenKind::Word(_) => String::new(),
            };
            return Err(LangError::script(
                head.column,
                &what,
                "a command must start with a command name; expressions are not supported",
            ));
        }
    };
    if name.contains(['*', '?']) {
        return Err(LangError::new(
            ErrorId::CommandNotFound,
            format!("The term '{name}' is not recognized: wildcards are not permitted in command names."),
        ));
    }
    if !is_command_name(&name) {
        return Err(LangError::command_not_found(&name));
    }
    Ok(CommandCall {
        name,
        args: parse_args(args)?,
        column: head.column,
    })
}

fn parse_args(tokens: &[Token]) -> Result<Vec<Arg>, LangError> {
    let mut args = Vec::new();
    let mut i = 0;
    while let Some(t) = tokens.get(i) {
        match &t.kind {
            TokenKind::Param { name, colon } => {
                i += 1;
                let value = if *colon {
                    let (v, next) = parse_value(tokens, i).map_err(|_| {
                        LangError::new(
                            ErrorId::ParameterBindingFailed,
                            format!("Missing an argument for parameter '{name}' after ':' (at column {}).", t.column),
                        )
                    })?;
                    i = next;
                    Some(v)
                } else {
                    None
                };
                args.push(Arg::Named {
                    name: name.clone(),
                    value,
                    column: t.column,
                });
            }
            _ => {
                let (value, next) = parse_value(tokens, i)?;
                i = next;
                args.push(Arg::Positional {
                    value,
                    column: t.column,
                });
            }
        }
    }
    Ok(args)
}

fn literal(t: &Token) -> Option<Value> {
    match &t.kind {
        TokenKind::Word(w) | TokenKind::Quoted(w) => Some(Value::String(w.clone())),
        TokenKind::Number(n) => Some(Value::Int(*n)),
        TokenKind::Const(v) => Some(v.clone()),
        _ => None,
    }
}

/// A literal or a comma list of literals starting at `i`; returns the value and the next index.
fn parse_value(tokens: &[Token], i: usize) -> Result<(Value, usize), LangError> {
    let missing = |col: usize| {
        LangError::new(
            ErrorId::InvalidInput,
            format!("Missing a value before or after ',' (at column {col}): a comma must stand between two values."),
        )
    };
    let first = tokens.get(i).ok_or_else(|| {
        LangError::new(
            ErrorId::InvalidInput,
            "Missing a value at the end of the line.",
        )
    })?;
    let Some(v) = literal(first) else {
        return Err(missing(first.column));
    };
    let mut items = vec![v];
    let mut j = i + 1;
    while let Some(comma) = tokens.get(j).filter(|t| t.kind == TokenKind::Comma) {
        match tokens.get(j + 1).and_then(literal) {
            Some(v) => items.push(v),
            None => return Err(missing(comma.column)),
        }
        j += 2;
    }
    if items.len() == 1 {
        Ok((items.remove(0), j))
    } else {
        Ok((Value::Array(items), j))
    }
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
