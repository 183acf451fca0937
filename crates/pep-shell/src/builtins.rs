//! JEA's default commands that need the session: Get-Command (filtered by name, verb, noun and
//! module, sorted by name) and Get-Help (a command's help, the general topic, or the commands a
//! wildcard matches) — both show only what the caller may run now — Clear-Host and Exit-PSSession — the catalog entries with
//! `handler = "builtin"`, bound to [`BUILTINS`] when the server starts.

use azs_support::catalog::CommandSpec;
use azs_support::{BoundArgs, Value};

use crate::lang;
use azs_support::wildcard::{is_wildcard, wildcard_match};

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
        Builtin::GetCommand => get_command(args, visible),
        Builtin::GetHelp => get_help(args, visible, lookup),
        Builtin::ClearHost => Ok(BuiltinEffect::Clear),
        Builtin::ExitPSSession => Ok(BuiltinEffect::Exit),
    }
}

/// Whether `value` matches one of `patterns` (wildcards); no patterns: everything matches.
fn any_matches(patterns: &[String], value: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| wildcard_match(p, value))
}

/// A command name's verb and noun (`Get`, `AzsSupportProcess`).
fn verb_noun(name: &str) -> (&str, &str) {
    name.split_once('-').unwrap_or((name, ""))
}

/// Get-Command: the visible commands matching every filter given (`-Name` patterns or aliases,
/// `-Verb`, `-Noun`, `-Module`, each a list of wildcards), sorted by name as PowerShell's
/// Get-Command sorts its output (by CommandType, then Name; every command here is a function).
fn get_command(args: &BoundArgs, visible: &[&CommandSpec]) -> Result<BuiltinEffect, String> {
    let names = args.strings("Name");
    let verbs = args.strings("Verb");
    let nouns = args.strings("Noun");
    let modules = args.strings("Module");
    let mut chosen: Vec<&CommandSpec> = visible
        .iter()
        .copied()
        .filter(|c| {
            let (verb, noun) = verb_noun(&c.name);
            let named = names.is_empty()
                || names.iter().any(|p| {
                    wildcard_match(p, &c.name)
                        || c.aliases.iter().any(|a| a.eq_ignore_ascii_case(p))
                });
            named
                && any_matches(&verbs, verb)
                && any_matches(&nouns, noun)
                && any_matches(&modules, &c.module)
        })
        .collect();
    chosen.sort_by_key(|c| c.name.to_ascii_lowercase());
    // As in PowerShell, a wildcard pattern that matches nothing is no error; a plain name that
    // names nothing is.
    let plain = names.iter().any(|p| !is_wildcard(p));
    if chosen.is_empty() && plain {
        return Err(format!(
            "The term '{}' is not recognized as the name of a command permitted in this session.",
            azs_support::escape::escape_text(&names.join(", "))
        ));
    }
    Ok(BuiltinEffect::Values(lang::command_records(
        &chosen,
        args.switch("Syntax"),
    )))
}

/// Get-Help: with no name the general help topic; with a name (or alias) that command's help;
/// with a wildcard, the one matching command's help, or the list of them when several match.
/// Only the commands the caller may run now are found (`lookup`, `visible`).
fn get_help<'a>(
    args: &BoundArgs,
    visible: &[&'a CommandSpec],
    lookup: impl Fn(&str) -> Option<&'a CommandSpec>,
) -> Result<BuiltinEffect, String> {
    let Some(target) = args.str("Name") else {
        return Ok(BuiltinEffect::Text(lang::help::GENERAL_HELP.to_string()));
    };
    let not_found = || {
        format!(
            "Get-Help could not find '{}' among the commands permitted in this session. Run Get-Command to see them.",
            azs_support::escape::escape_text(target)
        )
    };
    let spec = if is_wildcard(target) {
        let mut matches: Vec<&CommandSpec> = visible
            .iter()
            .copied()
            .filter(|c| wildcard_match(target, &c.name))
            .collect();
        matches.sort_by_key(|c| c.name.to_ascii_lowercase());
        match matches.as_slice() {
            [] => return Err(not_found()),
            [one] => *one,
            many => return Ok(BuiltinEffect::Values(lang::help::help_list(many))),
        }
    } else {
        lookup(target).ok_or_else(not_found)?
    };
    Ok(BuiltinEffect::Text(lang::get_help(
        spec,
        args.switch("Full"),
        args.switch("Examples"),
        args.str("Parameter"),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::fixtures::catalog;

    fn get_command_with(filters: &[(&str, &[&str])]) -> Result<Vec<Value>, String> {
        let cat = catalog();
        let visible: Vec<&CommandSpec> = cat.commands().iter().collect();
        let mut args = BoundArgs::declaring(["Name", "Verb", "Noun", "Module", "Syntax"]);
        for (param, values) in filters {
            args.insert(param, values.to_vec().into());
        }
        match run(Builtin::GetCommand, &args, &visible, |n| cat.get(n))? {
            BuiltinEffect::Values(v) => Ok(v),
            _ => Err("not values".into()),
        }
    }

    fn get_command(names: &[&str]) -> Result<Vec<Value>, String> {
        get_command_with(&[("Name", names)])
    }

    fn names(values: &[Value]) -> Vec<String> {
        values
            .iter()
            .filter_map(|v| v.as_record()?.get("Name").map(Value::to_display))
            .collect()
    }

    fn get_help(name: Option<&str>) -> Result<BuiltinEffect, String> {
        let cat = catalog();
        let visible: Vec<&CommandSpec> = cat
            .commands()
            .iter()
            .filter(|c| c.name != "Stop-AzsSupportProcess")
            .collect();
        let mut args = BoundArgs::declaring(["Name", "Full", "Examples", "Parameter"]);
        if let Some(n) = name {
            args.insert("Name", n.into());
        }
        let lookup = |n: &str| {
            cat.get(n)
                .filter(|s| visible.iter().any(|v| v.name == s.name))
        };
        run(Builtin::GetHelp, &args, &visible, lookup)
    }

    #[test]
    fn get_command_filters_by_verb_noun_and_module_and_sorts_by_name() {
        let v = get_command_with(&[("Verb", &["Get"]), ("Noun", &["AzsSupport*"])]).expect("ok");
        assert_eq!(
            names(&v),
            [
                "Get-AzsSupportProcess",
                "Get-AzsSupportStampVersion",
                "Get-AzsSupportWinEvent"
            ]
        );
        let v = get_command_with(&[("Verb", &["[s-w]*"])]).expect("ok");
        assert_eq!(
            names(&v),
            [
                "Select-Object",
                "Sort-Object",
                "Stop-AzsSupportProcess",
                "Where-Object"
            ]
        );
        let v = get_command_with(&[("Module", &["Azs.Support"]), ("Verb", &["Stop"])]).expect("ok");
        assert_eq!(names(&v), ["Stop-AzsSupportProcess"]);
        let v =
            get_command_with(&[("Name", &["*Object"]), ("Verb", &["Sort", "Where"])]).expect("ok");
        assert_eq!(names(&v), ["Sort-Object", "Where-Object"]);
        let all = names(&get_command_with(&[]).expect("ok"));
        let mut sorted = all.clone();
        sorted.sort_by_key(|n| n.to_ascii_lowercase());
        assert_eq!(all, sorted);
        assert_eq!(get_command_with(&[("Noun", &["Nothing*"])]), Ok(Vec::new()));
    }

    #[test]
    fn get_help_without_a_name_shows_the_general_topic() {
        let Ok(BuiltinEffect::Text(t)) = get_help(None) else {
            panic!("text expected");
        };
        for s in [
            "Get-Command",
            "Get-Help NAME -Examples",
            "-Full",
            "-Parameter",
            "NAME -?",
            "Select-Object",
            "Format-Table",
            "[a-z]",
        ] {
            assert!(t.contains(s), "{s} missing in {t}");
        }
    }

    #[test]
    fn get_help_with_a_wildcard_lists_or_shows_the_matches() {
        let Ok(BuiltinEffect::Values(list)) = get_help(Some("*AzsSupport*")) else {
            panic!("a list expected");
        };
        // Only the visible commands, by name, with their module and synopsis.
        assert_eq!(
            names(&list),
            [
                "Get-AzsSupportProcess",
                "Get-AzsSupportStampVersion",
                "Get-AzsSupportWinEvent"
            ]
        );
        let first = list[0].as_record().expect("record");
        assert_eq!(first.get("Category"), Some(&Value::from("Function")));
        assert_eq!(first.get("Module"), Some(&Value::from("Azs.Support")));
        assert_eq!(
            first.get("Synopsis"),
            Some(&Value::from("Synopsis of Get-AzsSupportProcess."))
        );
        let Ok(BuiltinEffect::Text(one)) = get_help(Some("*StampVer*")) else {
            panic!("one command's help expected");
        };
        assert!(
            one.contains("NAME\n    Get-AzsSupportStampVersion"),
            "{one}"
        );
        let e = get_help(Some("Stop-*")).err().expect("not visible");
        assert!(e.contains("could not find 'Stop-*'"), "{e}");
        assert!(get_help(Some("Stop-AzsSupportProcess")).is_err());
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
