//! Every catalog entry bound to what runs it, when the catalog loads.
//!
//! The catalog names each entry's kind (`handler` in `catalog/*.toml`): a builtin the session runs
//! ([`builtins::BUILTINS`]), an operator's consent or history command
//! ([`operator_commands::COMMANDS`]), a formatting command ([`FORMATTERS`]), a command over the
//! stamp (azs-support's implementation registry) or one that comes later. [`Handlers::bind`] pairs
//! every entry with the handler of its kind and name and every handler with its entry; either
//! without the other stops the server at start with one line naming it. The dispatcher then looks
//! up the bound [`Handler`], never a list of names.

use crate::builtins::{Builtin, BUILTINS};
use crate::lang::{Formatter, FORMATTERS};
use crate::log_commands::{self, LogCommand};
use crate::operator_commands::{self, OperatorCommand};
use azs_support::catalog::{CommandSpec, HandlerKind, Profile};
use azs_support::commands::{self, Implementation};
use std::collections::HashMap;

/// What runs one catalog entry.
#[derive(Clone)]
pub enum Handler {
    /// A builtin of the session.
    Builtin(Builtin),
    /// A consent or history command.
    Operator(OperatorCommand),
    /// A formatting command.
    Formatter(Formatter),
    /// A command over the stamp.
    Stamp(Implementation),
    /// A log collection, upload, or their settings and history.
    Logs(LogCommand),
    /// The session's elevation (tokens, lock state, closing).
    Elevation(crate::elevation::ElevationCommand),
    /// Not available in this version: the capability it comes with.
    Later(String),
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Handler::Builtin(b) => write!(f, "Builtin({b:?})"),
            Handler::Operator(o) => write!(f, "Operator({o:?})"),
            Handler::Formatter(x) => write!(f, "Formatter({x:?})"),
            Handler::Stamp(_) => write!(f, "Stamp"),
            Handler::Logs(l) => write!(f, "Logs({l:?})"),
            Handler::Elevation(e) => write!(f, "Elevation({e:?})"),
            Handler::Later(with) => write!(f, "Later({with:?})"),
        }
    }
}

/// The handler of every catalog entry, by its profile and canonical name (a name may stand for
/// different entries in different profiles).
#[derive(Debug, Default)]
pub struct Handlers {
    by_entry: HashMap<(Profile, String), Handler>,
}

/// The handler of `kind` named `name` (case-insensitive), if that kind has one.
fn find(kind: &HandlerKind, name: &str) -> Option<Handler> {
    fn named<T: Copy>(table: &[(&str, T)], name: &str) -> Option<T> {
        table
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, t)| *t)
    }
    match kind {
        HandlerKind::Builtin => named(BUILTINS, name).map(Handler::Builtin),
        HandlerKind::Operator => named(operator_commands::COMMANDS, name).map(Handler::Operator),
        HandlerKind::Formatter => named(FORMATTERS, name).map(Handler::Formatter),
        HandlerKind::Stamp => commands::implementation(name).map(Handler::Stamp),
        HandlerKind::Logs => named(log_commands::COMMANDS, name).map(Handler::Logs),
        HandlerKind::Elevation => named(crate::elevation::COMMANDS, name).map(Handler::Elevation),
        HandlerKind::Later(with) => Some(Handler::Later(with.clone())),
    }
}

/// Every handler there is: its kind's spelling and its name.
fn every_handler() -> impl Iterator<Item = (&'static str, &'static str)> {
    names_of(BUILTINS)
        .map(|n| ("builtin", n))
        .chain(names_of(operator_commands::COMMANDS).map(|n| ("operator", n)))
        .chain(names_of(FORMATTERS).map(|n| ("formatter", n)))
        .chain(commands::implemented_names().map(|n| ("stamp", n)))
        .chain(names_of(log_commands::COMMANDS).map(|n| ("logs", n)))
        .chain(names_of(crate::elevation::COMMANDS).map(|n| ("elevation", n)))
}

/// The names of a handler table.
fn names_of<T>(table: &'static [(&'static str, T)]) -> impl Iterator<Item = &'static str> {
    table.iter().map(|(n, _)| *n)
}

impl Handlers {
    /// Binds every entry of `all` (the commands of every profile, so that a handler whose entry
    /// another profile serves still counts as bound). An error is one line naming the entry (file
    /// and command) without a handler, or the handler without an entry.
    pub fn bind(all: &[CommandSpec]) -> Result<Self, String> {
        let mut by_entry: HashMap<(Profile, String), Handler> = HashMap::new();
        for spec in all {
            let entry = |problem: String| {
                format!("{}: command '{}': {problem}", spec.source_file, spec.name)
            };
            let Some(handler) = find(&spec.handler, &spec.name) else {
                return Err(entry(match spec.handler {
                    HandlerKind::Stamp => "handler = \"stamp\" but azs-support has no implementation of it (implement it, or mark it handler = \"later\" with available_with)".to_string(),
                    ref kind => format!("handler = \"{}\" but pep has no {} of that name", kind.as_str(), kind.as_str()),
                }));
            };
            if let HandlerKind::Later(_) = spec.handler {
                if let Some((kind, _)) =
                    every_handler().find(|(_, n)| n.eq_ignore_ascii_case(&spec.name))
                {
                    return Err(entry(format!(
                        "handler = \"later\" but it is implemented (a {kind} handler): give it handler = \"{kind}\""
                    )));
                }
            }
            by_entry.insert((spec.profile, spec.name.to_ascii_lowercase()), handler);
        }
        for (kind, name) in every_handler() {
            let bound = all
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(name) && c.handler.as_str() == kind);
            if !bound {
                return Err(format!(
                    "the {kind} handler '{name}' has no catalog entry with handler = \"{kind}\" (add the entry, or remove the handler)"
                ));
            }
        }
        Ok(Handlers { by_entry })
    }

    /// The handler bound to `spec` (every entry of the catalog the server loaded has one).
    pub fn get(&self, spec: &CommandSpec) -> Option<&Handler> {
        self.by_entry
            .get(&(spec.profile, spec.name.to_ascii_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azs_support::catalog::all_embedded_commands;

    fn embedded() -> Vec<CommandSpec> {
        all_embedded_commands().expect("the embedded catalog loads")
    }

    #[test]
    fn every_embedded_entry_is_bound_to_a_handler_of_its_kind() {
        let all = embedded();
        let handlers = Handlers::bind(&all).expect("binds");
        for spec in &all {
            let handler = handlers.get(spec).expect("bound");
            let kind = match handler {
                Handler::Builtin(_) => "builtin",
                Handler::Operator(_) => "operator",
                Handler::Formatter(_) => "formatter",
                Handler::Stamp(_) => "stamp",
                Handler::Logs(_) => "logs",
                Handler::Elevation(_) => "elevation",
                Handler::Later(_) => "later",
            };
            assert_eq!(kind, spec.handler.as_str(), "{}", spec.name);
        }
    }

    #[test]
    fn an_entry_without_a_handler_is_named() {
        let mut all = embedded();
        let mut extra = all
            .iter()
            .find(|c| c.name == "Get-AzsSupportStampVersion")
            .cloned()
            .expect("entry");
        extra.name = "Get-AzsSupportNoSuchThing".into();
        all.push(extra.clone());
        let e = Handlers::bind(&all).expect_err("refused");
        assert!(
            e.contains("command 'Get-AzsSupportNoSuchThing'") && e.contains("no implementation"),
            "{e}"
        );
        assert!(!e.contains('\n'));
        // A builtin that pep does not have.
        all.pop();
        extra.handler = HandlerKind::Builtin;
        all.push(extra);
        let e = Handlers::bind(&all).expect_err("refused");
        assert!(e.contains("pep has no builtin of that name"), "{e}");
    }

    #[test]
    fn a_handler_without_an_entry_is_named() {
        let all: Vec<CommandSpec> = embedded()
            .into_iter()
            .filter(|c| c.name != "Get-AzsSupportStampVersion")
            .collect();
        let e = Handlers::bind(&all).expect_err("refused");
        assert!(
            e.contains("stamp handler 'Get-AzsSupportStampVersion' has no catalog entry"),
            "{e}"
        );
        let all: Vec<CommandSpec> = embedded()
            .into_iter()
            .filter(|c| c.name != "Format-List")
            .collect();
        let e = Handlers::bind(&all).expect_err("refused");
        assert!(e.contains("formatter handler 'Format-List'"), "{e}");
    }

    #[test]
    fn a_later_entry_that_is_implemented_is_refused() {
        let all: Vec<CommandSpec> = embedded()
            .into_iter()
            .map(|mut c| {
                if c.name == "Get-AzsSupportStampVersion" {
                    c.handler = HandlerKind::Later("a later version".into());
                }
                c
            })
            .collect();
        let e = Handlers::bind(&all).expect_err("refused");
        assert!(
            e.contains("'Get-AzsSupportStampVersion'") && e.contains("give it handler = \"stamp\""),
            "{e}"
        );
    }
}
