//! The language's errors: one id (PowerShell's `FullyQualifiedErrorId` spirit) and one line of text.
//!
//! Every error the lexer, parser, binder and formatters raise is a [`LangError`]. Its message is
//! guaranteed to be one line without raw control characters: the constructor escapes them, so user
//! text quoted in a message can never smuggle a terminal escape or a second line.

use super::escape::escape_text;
use std::fmt;

/// What kind of refusal this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorId {
    /// Script syntax in no-language mode (chaining, variables, blocks, redirection, ...).
    ScriptsNotAllowed,
    /// The command name is not in the catalog, or not a valid command name.
    CommandNotFound,
    /// An argument could not be converted or bound (missing argument, duplicate, bad type).
    ParameterBindingFailed,
    /// A bound value fails its ValidateSet / ValidatePattern / range.
    ValidationFailed,
    /// Mandatory parameters were not given.
    MissingMandatory,
    /// A parameter prefix matches several parameters.
    AmbiguousParameter,
    /// No parameter has that name or prefix.
    ParameterNotFound,
    /// A positional argument has no positional parameter left to bind to.
    PositionalNotFound,
    /// A command is piped where it cannot take input, or a pipe element is empty.
    InvalidPipeline,
    /// Malformed input: control or invisible characters, unterminated quotes, bad numbers.
    InvalidInput,
    /// The line exceeds [`super::lexer::MAX_LINE_CHARS`].
    LineTooLong,
}

impl ErrorId {
    /// The id as shown to users and written to transcripts.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorId::ScriptsNotAllowed => "ScriptsNotAllowed",
            ErrorId::CommandNotFound => "CommandNotFoundException",
            ErrorId::ParameterBindingFailed => "ParameterBindingFailed",
            ErrorId::ValidationFailed => "ParameterArgumentValidationError",
            ErrorId::MissingMandatory => "MissingMandatoryParameter",
            ErrorId::AmbiguousParameter => "AmbiguousParameter",
            ErrorId::ParameterNotFound => "NamedParameterNotFound",
            ErrorId::PositionalNotFound => "PositionalParameterNotFound",
            ErrorId::InvalidPipeline => "InvalidPipeline",
            ErrorId::InvalidInput => "InvalidInput",
            ErrorId::LineTooLong => "LineTooLong",
        }
    }
}

impl fmt::Display for ErrorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal: its id and a one-line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LangError {
    /// What kind of refusal.
    pub id: ErrorId,
    /// One line, control characters escaped.
    pub message: String,
}

/// The no-language-mode wording, as PowerShell's JEA endpoints print it.
pub const NO_LANGUAGE: &str =
    "The syntax isn't supported by this runspace. This might be because it's in no-language mode.";

impl LangError {
    /// An error; control and invisible characters in `message` are escaped.
    pub fn new(id: ErrorId, message: impl AsRef<str>) -> Self {
        LangError {
            id,
            message: escape_text(message.as_ref()),
        }
    }

    /// A `ScriptsNotAllowed` error pointing at what was refused.
    pub fn script(column: usize, what: &str, why: &str) -> Self {
        let why = if why.is_empty() {
            String::new()
        } else {
            format!("; {why}")
        };
        LangError::new(
            ErrorId::ScriptsNotAllowed,
            format!("{NO_LANGUAGE} (at column {column}: '{what}'{why})"),
        )
    }

    /// A `CommandNotFound` error in PowerShell's wording.
    pub fn command_not_found(name: &str) -> Self {
        LangError::new(
            ErrorId::CommandNotFound,
            format!(
                "The term '{name}' is not recognized as the name of a command permitted in this \
                 session. Run Get-Command to see what you may run."
            ),
        )
    }
}

impl fmt::Display for LangError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LangError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_one_line_with_escapes() {
        let e = LangError::new(ErrorId::InvalidInput, "bad\n\u{1b}[2J\u{200b}x");
        assert_eq!(e.to_string(), "bad\\x0a\\x1b[2J\\u{200b}x");
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn script_error_points_at_column() {
        let e = LangError::script(28, ";", "");
        assert_eq!(e.id, ErrorId::ScriptsNotAllowed);
        assert!(e.message.starts_with(NO_LANGUAGE));
        assert!(e.message.ends_with("(at column 28: ';')"));
    }

    #[test]
    fn ids_are_distinct() {
        let all = [
            ErrorId::ScriptsNotAllowed,
            ErrorId::CommandNotFound,
            ErrorId::ParameterBindingFailed,
            ErrorId::ValidationFailed,
            ErrorId::MissingMandatory,
            ErrorId::AmbiguousParameter,
            ErrorId::ParameterNotFound,
            ErrorId::PositionalNotFound,
            ErrorId::InvalidPipeline,
            ErrorId::InvalidInput,
            ErrorId::LineTooLong,
        ];
        let set: std::collections::HashSet<_> = all.iter().map(|i| i.as_str()).collect();
        assert_eq!(set.len(), all.len());
        assert_eq!(ErrorId::ScriptsNotAllowed.to_string(), "ScriptsNotAllowed");
    }
}
