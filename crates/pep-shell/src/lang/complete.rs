//! Tab completion over the visible catalog: command names and aliases in command position,
//! `-Parameter` names after a command, ValidateSet values after such a parameter. It reads only
//! the specs the caller passes, so it never offers a command the session may not run.

use super::binder::{all_params, resolve_param};
use azs_support::catalog::CommandSpec;

const DASHES: [char; 4] = ['-', '\u{2013}', '\u{2014}', '\u{2015}'];

fn starts_with_ci(text: &str, prefix: &str) -> bool {
    text.to_lowercase().starts_with(&prefix.to_lowercase())
}

fn finish(mut v: Vec<String>) -> Vec<String> {
    v.sort_by_key(|s| s.to_lowercase());
    v.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    v
}

fn quote_if_needed(s: &str) -> String {
    if s.chars()
        .any(|c| c.is_whitespace() || ",|;&(){}[]@$`'\"#<>".contains(c))
    {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        s.to_string()
    }
}

fn set_values(spec: &CommandSpec, param: &str, prefix: &str) -> Vec<String> {
    let params = all_params(spec);
    match resolve_param(&params, param) {
        Ok(p) => finish(
            p.validate_set
                .iter()
                .filter(|v| starts_with_ci(v, prefix))
                .map(|v| quote_if_needed(v))
                .collect(),
        ),
        Err(_) => Vec::new(),
    }
}

/// Completions for the word under the cursor: its start (character index) and the candidates.
pub fn complete(line: &str, cursor_chars: usize, visible: &[&CommandSpec]) -> (usize, Vec<String>) {
    let chars: Vec<char> = line.chars().take(cursor_chars).collect();
    let start = chars
        .iter()
        .rposition(|c| c.is_whitespace() || *c == '|')
        .map_or(0, |i| i + 1);
    let word: String = chars[start..].iter().collect();
    let segment_start = chars[..start]
        .iter()
        .rposition(|c| *c == '|')
        .map_or(0, |i| i + 1);
    let before: String = chars[segment_start..start].iter().collect();
    let words: Vec<&str> = before.split_whitespace().collect();

    let Some(command) = words.first() else {
        let mut names = Vec::new();
        for s in visible {
            names.extend(
                std::iter::once(&s.name)
                    .chain(&s.aliases)
                    .filter(|n| starts_with_ci(n, &word))
                    .cloned(),
            );
        }
        return (start, finish(names));
    };
    let Some(spec) = visible.iter().find(|s| {
        std::iter::once(&s.name)
            .chain(&s.aliases)
            .any(|n| n.eq_ignore_ascii_case(command))
    }) else {
        return (start, Vec::new());
    };
    if word.starts_with(DASHES) {
        let body: String = word.chars().skip(1).collect();
        if let Some((param, value)) = body.split_once(':') {
            let value_start = start + 1 + param.chars().count() + 1;
            return (value_start, set_values(spec, param, value));
        }
        let names = all_params(spec)
            .iter()
            .filter(|p| starts_with_ci(&p.name, &body))
            .map(|p| format!("-{}", p.name))
            .collect();
        return (start, finish(names));
    }
    if words.len() >= 2 {
        if let Some(prev) = words.last().filter(|w| w.starts_with(DASHES)) {
            let param: String = prev.chars().skip(1).collect();
            return (start, set_values(spec, &param, &word));
        }
    }
    (start, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::fixtures::catalog;

    fn visible(c: &azs_support::catalog::Catalog) -> Vec<&CommandSpec> {
        c.commands()
            .iter()
            .filter(|s| s.name != "Stop-AzsSupportProcess")
            .collect()
    }

    fn at_end(line: &str) -> (usize, Vec<String>) {
        let c = catalog();
        complete(line, line.chars().count(), &visible(&c))
    }

    #[test]
    fn command_names_and_aliases() {
        assert_eq!(
            at_end("get-azssupportp"),
            (0, vec!["Get-AzsSupportProcess".to_string()])
        );
        assert_eq!(
            at_end("se"),
            (0, vec!["select".to_string(), "Select-Object".to_string()])
        );
        let (start, after_pipe) = at_end("Get-AzsSupportProcess | so");
        assert_eq!(
            (start, after_pipe),
            (24, vec!["sort".to_string(), "Sort-Object".to_string()])
        );
        assert!(at_end("")
            .1
            .contains(&"Get-AzsSupportStampVersion".to_string()));
    }

    #[test]
    fn never_offers_invisible_commands() {
        let (_, names) = at_end("Stop-");
        assert!(names.is_empty(), "{names:?}");
        assert!(at_end("Stop-AzsSupportProcess -").1.is_empty());
    }

    #[test]
    fn parameters() {
        assert_eq!(
            at_end("Get-AzsSupportProcess -c"),
            (22, vec!["-ComputerName".to_string()])
        );
        let (_, all) = at_end("Enable-RemoteSupport -");
        assert_eq!(
            all,
            [
                "-AccessLevel",
                "-AgreeToRemoteSupportConsent",
                "-Confirm",
                "-ExpireInMinutes",
                "-WhatIf"
            ]
        );
        assert!(at_end("Get-AzsSupportProcess -w").1.is_empty());
    }

    #[test]
    fn set_values_after_parameter() {
        assert_eq!(
            at_end("Enable-RemoteSupport -AccessLevel diag").1,
            ["Diagnostics", "DiagnosticsRepair"]
        );
        assert_eq!(
            at_end("Enable-RemoteSupport -acc DiagnosticsR").1,
            ["DiagnosticsRepair"]
        );
        let (start, v) = at_end("Enable-RemoteSupport -AccessLevel:Diagnosticsr");
        assert_eq!((start, v), (34, vec!["DiagnosticsRepair".to_string()]));
        assert!(at_end("Get-AzsSupportProcess -ComputerName n").1.is_empty());
    }

    #[test]
    fn cursor_in_middle() {
        let c = catalog();
        let line = "Get-AzsSupportP | select";
        assert_eq!(
            complete(line, 15, &visible(&c)),
            (0, vec!["Get-AzsSupportProcess".to_string()])
        );
    }
}
