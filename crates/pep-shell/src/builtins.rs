//! JEA's default commands that need the session: Get-Command and Get-Help (both show only what the
//! caller may run now), Clear-Host and Exit-PSSession — the catalog entries with
//! `handler = "builtin"`, bound to [`BUILTINS`] when the server starts.

use azs_support::catalog::CommandSpec;
use azs_support::{BoundArgs, Value};

use crate::lang;

/// What a builtin asks the session to do besides printing.
pub enum BuiltinEffect {
    /// Print these values.
    Values(Vec<Value>),
    /// Print this text as is.
    Text(String),
    /// Clear the screen.
    Clear,
    /// End the session.
    Exit,
}

/// The built-in commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// Get-Command.
    GetCommand,
    /// Get-Help.
    GetHelp,
    /// Clear-Host.
    ClearHost,
    /// Exit-PSSession.
    ExitPSSession,
}

/// Every builtin under its catalog name (entries with `handler = "builtin"`).
pub const BUILTINS: &[(&str, Builtin)] = &[
    ("Get-Command", Builtin::GetCommand),
    ("Get-Help", Builtin::GetHelp),
    ("Clear-Host", Builtin::ClearHost),
    ("Exit-PSSession", Builtin::ExitPSSession),
];

/// Runs a builtin. `visible` is every command the caller may run now; `lookup` finds a visible
/// command by name or alias.
pub fn run<'a>(
    builtin: Builtin,
    args: &BoundArgs,
    visible: &[&'a CommandSpec],
    lookup: impl Fn(&str) -> Option<&'a CommandSpec>,
) -> Result<BuiltinEffect, String> {
    match builtin {
        Builtin::GetCommand => {
            let patterns = args.strings("Name");
            let chosen: Vec<&CommandSpec> = visible
                .iter()
                .copied()
                .filter(|c| {
                    patterns.is_empty()
                        || patterns.iter().any(|p| {
                            azs_support::wildcard::wildcard_match(p, &c.name)
                                || c.aliases.iter().any(|a| a.eq_ignore_ascii_case(p))
                        })
                })
                .collect();
            // As in PowerShell, a wildcard pattern that matches nothing is no error; a plain name
            // that names nothing is.
            let plain = patterns.iter().any(|p| !p.contains(['*', '?']));
            if chosen.is_empty() && plain {
                return Err(format!(
                    "The term '{}' is not recognized as the name of a command permitted in this session.",
                    azs_support::escape::escape_text(&patterns.join(", "))
                ));
            }
            Ok(BuiltinEffect::Values(lang::command_records(
                &chosen,
                args.switch("Syntax"),
            )))
        }
        Builtin::GetHelp => {
            let target = args.str("Name").unwrap_or("Get-Help");
            let Some(spec) = lookup(target) else {
                return Err(format!(
                    "Get-Help could not find '{}' among the commands permitted in this session. Run Get-Command to see them.",
                    azs_support::escape::escape_text(target)
                ));
            };
            Ok(BuiltinEffect::Text(lang::get_help(
                spec,
                args.switch("Full"),
                args.switch("Examples"),
                args.str("Parameter"),
            )))
        }
        Builtin::ClearHost => Ok(BuiltinEffect::Clear),
        Builtin::ExitPSSession => Ok(BuiltinEffect::Exit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::fixtures::catalog;

    fn get_command(names: &[&str]) -> Result<Vec<Value>, String> {
        let cat = catalog();
        let visible: Vec<&CommandSpec> = cat.commands().iter().collect();
        let mut args = BoundArgs::declaring(["Name", "Syntax"]);
        args.insert("Name", names.to_vec().into());
        match run(Builtin::GetCommand, &args, &visible, |n| cat.get(n))? {
            BuiltinEffect::Values(v) => Ok(v),
            _ => Err("not values".into()),
        }
    }

    #[test]
    fn get_command_with_a_wildcard_that_matches_nothing_returns_nothing() {
        assert_eq!(get_command(&["*NoMatch*"]), Ok(Vec::new()));
        assert_eq!(get_command(&["Get-Nothing?"]), Ok(Vec::new()));
        assert!(get_command(&["*Process*"]).is_ok_and(|v| !v.is_empty()));
    }

    #[test]
    fn get_command_with_a_name_that_names_nothing_is_an_error() {
        let e = get_command(&["Get-NoSuchThing"]).expect_err("refused");
        assert!(
            e.starts_with("The term 'Get-NoSuchThing' is not recognized"),
            "{e}"
        );
        assert!(get_command(&["*NoMatch*", "Get-NoSuchThing"]).is_err());
    }
}
