//! Keeping secrets out of transcripts and logs, in two passes.
//!
//! 1. From the binding ([`secret_line`], [`shown_bindings`]): the catalog marks secret parameters
//!    — and only the catalog: no parameter is taken for a secret by its name — (`secret = true`:
//!    tokens, SAS URIs). In a recorded command line, every value of a command that has a secret
//!    parameter is replaced by `***` unless it is the value of a named parameter that is not
//!    secret. That covers a secret given by name, abbreviated (`-Resp`), with a colon, quoted
//!    with spaces, or positionally — the binder's own rules decide which parameter a name means,
//!    and a value whose parameter cannot be told is treated as secret (fail closed).
//! 2. By pattern ([`Redactor`]), over all recorded text (command lines, output, errors): SAS
//!    signatures (`sig=`, also percent-encoded as `%73ig%3D` and the like) and `-...Token`,
//!    `-...SasUri`, `-...Password`, `-...Secret` arguments, plus any `--redact-pattern` the
//!    operator adds. The patterns are compiled at start; one that does not compile stops the
//!    server (redaction is never silently off).

use crate::lang::lexer::{tokenize, TokenKind};
use crate::lang::{binder::resolve_param, resolve_command};
use crate::lang::{Arg, CommandCall};
use azs_support::catalog::{Catalog, CommandSpec, ParamType};
use azs_support::BoundArgs;
use regex::Regex;

/// What replaces a secret.
pub const MASK: &str = "***";

/// The pattern pass: built-in patterns and the operator's own.
#[derive(Debug)]
pub struct Redactor {
    /// Pattern and replacement (`$1` keeps a captured prefix).
    rules: Vec<(Regex, &'static str)>,
}

/// Built-in patterns, each with its replacement.
const BUILT_IN: &[(&str, &str)] = &[
    // SAS signature, plain or percent-encoded (any letter of `sig=` may be written as %XX).
    (
        r"(?i)((?:s|%73)(?:i|%69)(?:g|%67)(?:=|%3d))[^&\s'\x22]+",
        "${1}REDACTED",
    ),
    // A secret-looking parameter and its value (quoted with spaces, or one word).
    (
        r#"(?i)(-[A-Za-z]*(?:token|sasuri|sas|password|secret)[A-Za-z]*(?::\s*|\s+))('[^']*'|"[^"]*"|\S+)"#,
        "${1}***",
    ),
];

impl Redactor {
    /// The built-in patterns and `extra` (each match replaced whole by `***`). An error names
    /// the pattern that does not compile.
    pub fn new(extra: &[String]) -> Result<Self, String> {
        let mut rules = Vec::new();
        for (pattern, replacement) in BUILT_IN {
            let re = Regex::new(pattern)
                .map_err(|e| format!("built-in redaction pattern {pattern:?}: {e}"))?;
            rules.push((re, *replacement));
        }
        for pattern in extra {
            let re = Regex::new(pattern)
                .map_err(|e| format!("--redact-pattern {pattern:?} does not compile: {e}"))?;
            rules.push((re, MASK));
        }
        Ok(Redactor { rules })
    }

    /// A redactor with no patterns, for text that is never written.
    pub(crate) fn empty() -> Self {
        Redactor { rules: Vec::new() }
    }

    /// `s` with every match replaced.
    pub fn redact(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (re, replacement) in &self.rules {
            if re.is_match(&out) {
                out = re.replace_all(&out, *replacement).into_owned();
            }
        }
        out
    }
}

/// A command's bindings as the transcript records them (canonical name, display value): the value
/// of every parameter the catalog marks `secret` is `***`. Nothing else is judged by its name.
pub fn shown_bindings(spec: &CommandSpec, args: &BoundArgs) -> Vec<(String, String)> {
    args.iter()
        .map(|(name, value)| {
            let secret = spec
                .parameters
                .iter()
                .any(|p| p.secret && p.name.eq_ignore_ascii_case(name));
            let shown = if secret {
                MASK.to_string()
            } else {
                value.to_display()
            };
            (name.to_string(), shown)
        })
        .collect()
}

/// A binder's message about a command with secret parameters, with every value typed in `call`
/// masked (such messages quote the value they refuse).
pub fn mask_values(message: &str, spec: &CommandSpec, call: &CommandCall) -> String {
    if !spec.parameters.iter().any(|p| p.secret) {
        return message.to_string();
    }
    let mut out = message.to_string();
    for arg in &call.args {
        let value = match arg {
            Arg::Named { value: Some(v), .. } | Arg::Positional { value: v, .. } => v,
            Arg::Named { value: None, .. } => continue,
        };
        let text = value.to_display();
        if !text.is_empty() {
            out = out.replace(&text, MASK);
        }
    }
    out
}

/// `line` with the values that may be secret (by the catalog's `secret` marks) replaced by
/// `***`. A line that does not tokenize is returned as it is (the pattern pass still applies).
pub fn secret_line(line: &str, catalog: &Catalog) -> String {
    let Ok(tokens) = tokenize(line) else {
        return line.to_string();
    };
    let chars: Vec<char> = line.chars().collect();
    // Character spans (start, end) of the tokens, end exclusive, trailing blanks trimmed.
    let spans: Vec<(usize, usize)> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let start = t.column.saturating_sub(1);
            let mut end = tokens
                .get(i + 1)
                .map_or(chars.len(), |n| n.column.saturating_sub(1));
            while end > start && chars.get(end - 1).is_some_and(|c| c.is_whitespace()) {
                end -= 1;
            }
            (start, end)
        })
        .collect();
    let mut masked: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        // One pipeline element: from here to the next `|`.
        let end = tokens[i..]
            .iter()
            .position(|t| t.kind == TokenKind::Pipe)
            .map_or(tokens.len(), |p| i + p);
        let element = &tokens[i..end];
        let spec = match element.first().map(|t| &t.kind) {
            Some(TokenKind::Word(name)) => resolve_command(catalog, name).ok(),
            _ => None,
        };
        if let Some(spec) = spec.filter(|s| s.parameters.iter().any(|p| p.secret)) {
            let mut k = 1;
            while k < element.len() {
                match &element[k].kind {
                    TokenKind::Param { name, .. } => {
                        let param = resolve_param(&spec.parameters, name).ok();
                        let takes_value = param.is_none_or(|p| p.kind != ParamType::Switch);
                        let secret = param.is_none_or(|p| p.secret);
                        if takes_value && k + 1 < element.len() {
                            // Its value (and the rest of a comma array) follows.
                            let mut v = k + 1;
                            loop {
                                if secret {
                                    masked.push(spans[i + v]);
                                }
                                if element.get(v + 1).map(|t| &t.kind) == Some(&TokenKind::Comma)
                                    && v + 2 < element.len()
                                {
                                    v += 2;
                                } else {
                                    break;
                                }
                            }
                            k = v + 1;
                            continue;
                        }
                    }
                    TokenKind::Comma => {}
                    // A value not after a named parameter: it may bind to the secret one.
                    _ => masked.push(spans[i + k]),
                }
                k += 1;
            }
        }
        i = end + 1;
    }
    if masked.is_empty() {
        return line.to_string();
    }
    masked.sort_unstable();
    let mut out = String::new();
    let mut at = 0;
    for (start, end) in masked {
        if start < at {
            continue;
        }
        out.extend(&chars[at..start]);
        out.push_str(MASK);
        at = end;
    }
    out.extend(&chars[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use azs_support::catalog::{load_embedded, Profile};

    #[test]
    fn secrets_are_masked_however_they_are_given() {
        let cat = load_embedded(Profile::AzsHub).expect("catalog");
        for line in [
            "Unlock-SupportSession TOKENabc123",
            "Unlock-SupportSession -ResponseToken TOKENabc123",
            "Unlock-SupportSession -Resp TOKENabc123",
            "Unlock-SupportSession -ResponseToken:TOKENabc123",
            "unlock-supportsession 'TOKENabc123 with spaces'",
        ] {
            let out = secret_line(line, &cat);
            assert!(!out.contains("TOKENabc123"), "{line} -> {out}");
            assert!(out.contains(MASK), "{out}");
        }
        // Values of other parameters stay readable; commands without secrets are untouched.
        let out = secret_line(
            "Get-AzureStackLog -OutputSasUri 'https://a.blob/c?sv=1&sig=SECRET' -FilterByRole ECE",
            &cat,
        );
        assert!(!out.contains("SECRET"), "{out}");
        assert!(out.contains("ECE"), "{out}");
        assert_eq!(
            secret_line("Get-AzsSupportStampVersion | Format-List", &cat),
            "Get-AzsSupportStampVersion | Format-List"
        );
    }

    #[test]
    fn bindings_hide_exactly_the_parameters_the_catalog_marks_secret() {
        use crate::lang::fixtures::{cmd, p};
        use azs_support::catalog::{Access, ParamType};
        let mut key = p("Key", ParamType::String);
        key.secret = true;
        let spec = cmd(
            "Set-Thing",
            Access::Diagnostics,
            vec![key, p("TokenCount", ParamType::Int)],
        );
        let mut args = BoundArgs::new();
        args.insert("Key", "hunter2".into());
        args.insert("TokenCount", 5i64.into());
        let shown = shown_bindings(&spec, &args);
        assert!(
            shown.contains(&("Key".to_string(), MASK.to_string())),
            "{shown:?}"
        );
        assert!(
            shown.contains(&("TokenCount".to_string(), "5".to_string())),
            "{shown:?}"
        );
    }

    #[test]
    fn patterns_catch_encoded_signatures_and_bad_patterns_stop() {
        let r = Redactor::new(&[]).expect("built-ins compile");
        let out = r.redact("https://a/c?sv=1&%73ig%3Dabc%2Fdef&se=2 and sig=zz");
        assert!(!out.contains("abc%2Fdef") && !out.contains("zz"), "{out}");
        let out = r.redact("Foo -ApiToken 'two words' -X 1");
        assert!(!out.contains("two words"), "{out}");
        assert!(Redactor::new(&["(unclosed".into()]).is_err());
        let extra = Redactor::new(&["ACME-[0-9]+".into()]).expect("extra");
        assert_eq!(extra.redact("id ACME-1234 ok"), "id *** ok");
    }
}
