//! Where-Object, simple form only: `Where-Object Property -OP Value` with exactly one operator.
//! No script blocks (the lexer refuses `{`). Comparisons follow `Value::compare` (numbers
//! numerically, text case-insensitively); a missing property is `$null`; an array property
//! matches when any element does.

use super::wildcard_match;
use crate::lang::convert::parse_datetime;
use crate::lang::error::{ErrorId, LangError};
use azs_support::{BoundArgs, Value};
use regex::{Regex, RegexBuilder};
use std::cmp::Ordering;

const OPERATORS: [&str; 10] = [
    "EQ", "NE", "GT", "GE", "LT", "LE", "Like", "NotLike", "Match", "NotMatch",
];
/// Compiled-program cap for `-Match` patterns.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

fn compile(pattern: &str) -> Result<Regex, LangError> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            let why = match &e {
                regex::Error::CompiledTooBig(_) => "the pattern is too large".to_string(),
                other => other
                    .to_string()
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("invalid syntax")
                    .trim()
                    .trim_start_matches("error: ")
                    .to_string(),
            };
            LangError::new(
                ErrorId::InvalidInput,
                format!("The regular expression pattern '{pattern}' is not valid: {why}."),
            )
        })
}

fn compare(left: &Value, right: &Value) -> Ordering {
    if let (Value::DateTime(l), Some(r)) = (left, right.as_str().and_then(parse_datetime)) {
        return l.cmp(&r);
    }
    left.compare(right)
}

fn test_one(op: &str, left: &Value, right: &Value, re: Option<&Regex>) -> bool {
    let text = || left.to_display();
    match op {
        "EQ" => compare(left, right).is_eq(),
        "GT" => compare(left, right).is_gt(),
        "GE" => compare(left, right).is_ge(),
        "LT" => compare(left, right).is_lt(),
        "LE" => compare(left, right).is_le(),
        "Like" => wildcard_match(&right.to_display(), &text()),
        "Match" => re.is_some_and(|r| r.is_match(&text())),
        _ => false,
    }
}

/// Runs Where-Object.
pub fn apply(args: &BoundArgs, input: Vec<Value>) -> Result<Vec<Value>, LangError> {
    let ops: Vec<&str> = OPERATORS
        .iter()
        .copied()
        .filter(|o| args.switch(o))
        .collect();
    let [op] = ops.as_slice() else {
        return Err(LangError::new(
            ErrorId::InvalidInput,
            format!(
                "Where-Object needs exactly one comparison operator (-{}); script blocks are not supported.",
                OPERATORS.join(", -")
            ),
        ));
    };
    let Some(property) = args.str("Property") else {
        return Err(LangError::new(
            ErrorId::InvalidInput,
            "Where-Object needs a -Property to compare.",
        ));
    };
    let right = args.get("Value").cloned().unwrap_or(Value::Null);
    let (positive, negate) = match *op {
        "NE" => ("EQ", true),
        "NotLike" => ("Like", true),
        "NotMatch" => ("Match", true),
        o => (o, false),
    };
    let re = if positive == "Match" {
        Some(compile(&right.to_display())?)
    } else {
        None
    };
    if positive == "Like" {
        // As -like does: a malformed bracket is an error, not a pattern that matches nothing.
        azs_support::wildcard::check(&right.to_display())
            .map_err(|e| LangError::new(ErrorId::InvalidInput, e.to_string()))?;
    }
    Ok(input
        .into_iter()
        .filter(|v| {
            let left = v
                .as_record()
                .and_then(|r| r.get(property))
                .unwrap_or(&Value::Null);
            let hit = match left {
                Value::Array(items) => items
                    .iter()
                    .any(|i| test_one(positive, i, &right, re.as_ref())),
                l => test_one(positive, l, &right, re.as_ref()),
            };
            hit != negate
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use azs_support::Record;

    fn input() -> Vec<Value> {
        vec![
            Value::Record(
                Record::new("S")
                    .with("Name", "WinRM")
                    .with("Count", 10i64)
                    .with("Tags", vec!["a", "b"]),
            ),
            Value::Record(
                Record::new("S")
                    .with("Name", "sshd")
                    .with("Count", 9i64)
                    .with("Tags", vec!["c"]),
            ),
            Value::Record(Record::new("S").with("Name", "Dns").with("Count", 100i64)),
        ]
    }

    fn run(op: &str, prop: &str, value: &str) -> Result<Vec<String>, LangError> {
        let mut a = BoundArgs::new();
        a.insert("Property", prop.into());
        a.insert("Value", value.into());
        a.insert(op, true.into());
        Ok(apply(&a, input())?
            .iter()
            .map(|v| {
                v.as_record()
                    .and_then(|r| r.get("Name"))
                    .map(Value::to_display)
                    .unwrap_or_default()
            })
            .collect())
    }

    #[test]
    fn equality_case_insensitive() {
        assert_eq!(run("EQ", "name", "winrm").expect("ok"), ["WinRM"]);
        assert_eq!(run("NE", "Name", "WINRM").expect("ok"), ["sshd", "Dns"]);
    }

    #[test]
    fn numeric_ordering() {
        assert_eq!(run("GT", "Count", "9").expect("ok"), ["WinRM", "Dns"]);
        assert_eq!(run("GE", "Count", "10").expect("ok"), ["WinRM", "Dns"]);
        assert_eq!(run("LT", "Count", "10").expect("ok"), ["sshd"]);
        assert_eq!(run("LE", "Count", "10").expect("ok"), ["WinRM", "sshd"]);
    }

    #[test]
    fn like_and_match() {
        assert_eq!(run("Like", "Name", "*S*").expect("ok"), ["sshd", "Dns"]);
        assert_eq!(run("NotLike", "Name", "*S*").expect("ok"), ["WinRM"]);
        assert_eq!(run("Match", "Name", "^win").expect("ok"), ["WinRM"]);
        assert_eq!(
            run("NotMatch", "Name", "^win").expect("ok"),
            ["sshd", "Dns"]
        );
    }

    #[test]
    fn like_takes_character_ranges_and_refuses_a_malformed_bracket() {
        assert_eq!(
            run("Like", "Name", "[s-w]*").expect("ok"),
            ["WinRM", "sshd"]
        );
        assert_eq!(
            run("NotLike", "Name", "[a-e]*").expect("ok"),
            ["WinRM", "sshd"]
        );
        let e = run("Like", "Name", "[s-w*").expect_err("malformed");
        assert_eq!(
            e.message,
            "The specified wildcard character pattern is not valid: [s-w*"
        );
    }

    #[test]
    fn arrays_and_missing() {
        assert_eq!(run("EQ", "Tags", "b").expect("ok"), ["WinRM"]);
        assert_eq!(run("EQ", "Nope", "x").expect("ok"), Vec::<String>::new());
        let mut a = BoundArgs::new();
        a.insert("Property", "Tags".into());
        a.insert("EQ", true.into());
        // No -Value compares with $null: only the record without the property matches.
        assert_eq!(apply(&a, input()).expect("ok").len(), 1);
    }

    #[test]
    fn bad_regex_is_one_line() {
        let e = run("Match", "Name", "(unclosed").expect_err("bad");
        assert_eq!(e.id, ErrorId::InvalidInput);
        assert!(!e.message.contains('\n'), "{}", e.message);
        assert!(
            e.message
                .starts_with("The regular expression pattern '(unclosed' is not valid"),
            "{}",
            e.message
        );
        let big = run("Match", "Name", "(\\w{1000}){1000}").expect_err("too big");
        assert!(big.message.contains("too large"), "{}", big.message);
    }

    #[test]
    fn exactly_one_operator() {
        let mut a = BoundArgs::new();
        a.insert("Property", "Name".into());
        a.insert("Value", "x".into());
        assert!(apply(&a, input()).is_err());
        a.insert("EQ", true.into());
        a.insert("Like", true.into());
        let e = apply(&a, input()).expect_err("two");
        assert!(e.message.contains("exactly one"));
    }
}
