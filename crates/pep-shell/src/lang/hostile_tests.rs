//! Every line of `shared/security/hostile-inputs.tsv` is refused before anything runs.

use super::error::{ErrorId, LangError};
use super::fixtures::catalog;
use super::{bind, check_pipeline_shape, parse_line, resolve_command};
use azs_support::catalog::Access;

fn decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('n') => out.push(b'\n'),
            Some('r') => out.push(b'\r'),
            Some('t') => out.push(b'\t'),
            Some('0') => out.push(0),
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).expect("hex byte"));
            }
            Some('u') => {
                assert_eq!(chars.next(), Some('{'));
                let hex: String = chars.by_ref().take_while(|c| *c != '}').collect();
                let c =
                    char::from_u32(u32::from_str_radix(&hex, 16).expect("hex")).expect("scalar");
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            other => panic!("unknown escape {other:?} in {s}"),
        }
    }
    out
}

/// Runs every stage the language owns; `Err((stage, error))` names the one that refused.
fn check(line: &str) -> Result<(), (&'static str, LangError)> {
    let c = catalog();
    let Some(p) = parse_line(line).map_err(|e| ("parse", e))? else {
        return Ok(());
    };
    let specs = p
        .elements
        .iter()
        .map(|e| resolve_command(&c, &e.name))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ("resolve", e))?;
    // The caller's gating, as for a support identity holding a Diagnostics grant.
    if let Some(s) = specs
        .iter()
        .find(|s| !matches!(s.access, Access::Default | Access::Diagnostics))
    {
        return Err(("gating", LangError::command_not_found(&s.name)));
    }
    check_pipeline_shape(&specs, &c).map_err(|e| ("pipeline", e))?;
    for (spec, call) in specs.iter().zip(&p.elements) {
        bind(spec, call).map_err(|e| ("bind", e))?;
    }
    Ok(())
}

fn cases() -> Vec<(String, String, Vec<u8>)> {
    let path = azs_support::shared_dir::shared_path("security/hostile-inputs.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (class, input) = l.split_once('\t').expect("CLASS<TAB>INPUT");
            (class.to_string(), input.to_string(), decode(input))
        })
        .collect()
}

/// Syntax-level refusals: the raw TSV input and the id the parser must give, before any catalog.
const SYNTAX: &[(&str, ErrorId)] = &[
    ("Get-AzsSupportStampVersion; touch /tmp/PWNED", ErrorId::ScriptsNotAllowed),
    ("Get-AzsSupportStampVersion && touch /tmp/PWNED", ErrorId::ScriptsNotAllowed),
    ("Get-AzsSupportStampVersion || touch /tmp/PWNED", ErrorId::ScriptsNotAllowed),
    ("Get-AzsSupportStampVersion & touch /tmp/PWNED", ErrorId::ScriptsNotAllowed),
    ("Get-AzsSupportStampVersion\\ntouch /tmp/PWNED", ErrorId::ScriptsNotAllowed),
    ("Get-AzsSupportStampVersion\\rtouch /tmp/PWNED", ErrorId::ScriptsNotAllowed),
    ("Get-AzsSupportStampVersion ||| touch /tmp/PWNED", ErrorId::ScriptsNotAllowed),
    ("echo && 'touch' /tmp/PWNED", ErrorId::ScriptsNotAllowed),
    ("Get-AzsSupportProcess -ComputerName $(touch /tmp/PWNED)", ErrorId::ScriptsNotAllowed),
    ("Get-AzsSupportProcess -ComputerName `touch /tmp/PWNED`", ErrorId::ScriptsNotAllowed),
    ("Get-AzsSupportProcess -ComputerName \"$(touch /tmp/PWNED)\"", ErrorId::ScriptsNotAllowed),
    ("Get-AzsSupportProcess -ComputerName ${env:PATH}", ErrorId::ScriptsNotAllowed),
    ("Get-AzsSupportProcess -ComputerName $env:COMPUTERNAME", ErrorId::ScriptsNotAllowed),
    ("$x = 'touch /tmp/PWNED'", ErrorId::ScriptsNotAllowed),
    ("& 'touch' '/tmp/PWNED'", ErrorId::ScriptsNotAllowed),
    (". /tmp/evil.ps1", ErrorId::ScriptsNotAllowed),
    ("{ touch /tmp/PWNED }.Invoke()", ErrorId::ScriptsNotAllowed),
    ("[System.Diagnostics.Process]::Start('touch','/tmp/PWNED')", ErrorId::ScriptsNotAllowed),
    ("Get-AzsSupportStampVersion | ForEach-Object { touch /tmp/PWNED }", ErrorId::ScriptsNotAllowed),
    ("Get-AzsSupportStampVersion | Select-Object @{n='x';e={touch /tmp/PWNED}}", ErrorId::ScriptsNotAllowed),
    ("Get-AzsSupportProcess -ComputerName (touch /tmp/PWNED)", ErrorId::ScriptsNotAllowed),
    ("'touch' /tmp/PWNED", ErrorId::ScriptsNotAllowed),
    ("\"touch\" /tmp/PWNED", ErrorId::ScriptsNotAllowed),
    ("t'ou'ch /tmp/PWNED", ErrorId::ScriptsNotAllowed),
    ("Get-AzsSupportProcess -ComputerName 'unterminated", ErrorId::InvalidInput),
    ("Get-AzsSupportProcess -ComputerName \"a`\"b\"", ErrorId::ScriptsNotAllowed),
    ("Get-AzsSupportProcess -ComputerName \"ok \\\\\\n$(touch /tmp/PWNED)\"", ErrorId::ScriptsNotAllowed),
    ("Gеt-AzsSupportStampVersion", ErrorId::CommandNotFound),
    ("Get‐AzsSupportStampVersion", ErrorId::CommandNotFound),
    ("ｔｏｕｃｈ /tmp/PWNED", ErrorId::CommandNotFound),
    ("Get-AzsSupportProcess -ComputerName Node\\u{200B}01", ErrorId::InvalidInput),
    ("Get-AzsSupportProcess -ComputerName x\\u{202E}10edoN", ErrorId::InvalidInput),
    ("Get-AzsSupportStampVersion\\x0btouch /tmp/PWNED", ErrorId::InvalidInput),
    ("Get-AzsSupportStampVersion\\0touch /tmp/PWNED", ErrorId::InvalidInput),
    ("Get-AzsSupportProcess -ComputerName abc\\x08\\x08\\x08Node01", ErrorId::InvalidInput),
    ("Invoke-Command { touch /tmp/PWNED }", ErrorId::ScriptsNotAllowed),
    ("Start-Job { touch /tmp/PWNED }", ErrorId::ScriptsNotAllowed),
    ("/bin/sh -c 'touch /tmp/PWNED'", ErrorId::CommandNotFound),
    ("Get-Azs*", ErrorId::CommandNotFound),
    ("Get-AzsSupportWinEvent -ComputerName Node01 -MaxEvents 99999999999999999999", ErrorId::InvalidInput),
    ("((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((", ErrorId::ScriptsNotAllowed),
    ("Get-AzsSupportProcess -ComputerName \\x1b]52;c;dG91Y2ggL3RtcC9QV05FRA==\\x07", ErrorId::InvalidInput),
    ("Get-AzsSupportProcess -ComputerName \\x1b]0;fake\\x07", ErrorId::InvalidInput),
    ("Get-AzsSupportProcess -ComputerName \\x1b[2J\\x1b[H", ErrorId::InvalidInput),
    ("Get-AzsSupportProcess -ComputerName \\x1bP+q\\x1b\\\\", ErrorId::InvalidInput),
];

#[test]
fn every_hostile_line_is_refused() {
    let all = cases();
    assert!(all.len() >= 60, "only {} cases read", all.len());
    for (class, raw, bytes) in &all {
        let Ok(line) = std::str::from_utf8(bytes) else {
            // Invalid UTF-8 never reaches the language: the caller's conversion refuses it.
            assert_eq!(class, "unicode", "{raw}");
            continue;
        };
        match check(line) {
            Ok(()) => panic!("{class} line accepted: {raw}"),
            Err((stage, e)) => {
                assert!(
                    !e.message.contains(['\n', '\r', '\u{1b}', '\0', '\u{7}']),
                    "{raw}: {}",
                    e.message
                );
                if let Some((_, want)) = SYNTAX.iter().find(|(r, _)| r == raw) {
                    assert_eq!(stage, "parse", "{raw}: refused at {stage}: {e}");
                    assert_eq!(e.id, *want, "{raw}: {e}");
                }
            }
        }
    }
}

#[test]
fn syntax_table_matches_the_file() {
    let all = cases();
    for (raw, _) in SYNTAX {
        assert!(
            all.iter().any(|(_, r, _)| r == raw),
            "not in the file: {raw}"
        );
    }
}

#[test]
fn piping_into_a_non_formatter_is_refused() {
    let (stage, e) =
        check("Get-AzsSupportStampVersion | Get-AzsSupportProcess").expect_err("refused");
    assert_eq!((stage, e.id), ("pipeline", ErrorId::InvalidPipeline));
    assert!(check(
        "Get-AzsSupportStampVersion | Select-Object Version | Where-Object Version -EQ 1"
    )
    .is_ok());
}
