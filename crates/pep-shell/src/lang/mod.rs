//! The command language of the restricted shell: PowerShell's JEA *no-language* mode.
//!
//! A line is lexed ([`lexer`]) and parsed ([`parser`]) into a [`Pipeline`] of command calls with
//! literal arguments; anything that would make it a script is refused there with
//! `ScriptsNotAllowed`. The caller then resolves each name against the catalog ([`resolve`]),
//! gates it by access level, checks the pipeline's shape ([`pipeline`]) and binds arguments
//! ([`binder`]). Formatting commands ([`format`]) transform and render the results; [`help`] and
//! [`complete`] read the same catalog entries; [`help_request`] reads `NAME -?` as `Get-Help NAME`. Nothing here ever runs a program or a shell.

pub mod binder;
pub mod complete;
pub mod convert;
pub mod error;
/// Character classes and escaping, shared with transcripts and the working directory.
pub use azs_support::escape;
pub mod format;
pub mod help;
pub mod help_request;
pub mod lexer;
pub mod parser;
pub mod pipeline;
pub mod resolve;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod proptests;

pub use binder::bind;
pub use complete::complete;
pub use error::{ErrorId, LangError};
pub use escape::escape_text;
pub use format::{render_within, Formatter, Render, FORMATTERS};
pub use help::{command_records, get_help, syntax};
pub use help_request::help_request;
pub use lexer::MAX_LINE_CHARS;
pub use parser::{parse_line, Arg, CommandCall, Pipeline};
pub use pipeline::check_pipeline_shape;
pub use resolve::resolve_command;
