//! One `[[command.parameter]]` entry converted into a [`ParamSpec`] and checked: its name and
//! aliases (WhatIf and Confirm are reserved), type, switch rules, validate_pattern, validate_set,
//! range, and its default, which must be a value the parameter accepts (type, set, pattern,
//! range). The checks across a command's parameters (unique names, aliases and positions) are
//! `load`'s.

use super::raw::{RawParam, RawType};
use super::spec::{ParamSpec, ParamType};
use regex::Regex;
use std::collections::HashSet;
use std::sync::LazyLock;

/// Parameter names the runtime adds itself to `supports_should_process` commands.
const RESERVED_PARAMETERS: [&str; 2] = ["WhatIf", "Confirm"];

/// A parameter name or alias (also the rule for output property names).
pub(super) static PARAM_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9]*$").expect("static pattern"));

/// A parameter problem: the parameter concerned, and what is wrong with it.
pub(super) type ParamError = (Option<String>, String);

/// Converts and checks one parameter entry.
pub(super) fn convert_param(raw: RawParam) -> Result<ParamSpec, ParamError> {
    let name = raw.name.clone();
    let err = |problem: String| (Some(name.clone()), problem);

    if !PARAM_NAME.is_match(&raw.name) {
        return Err(err(
            "parameter name must be a letter followed by letters and digits".into(),
        ));
    }
    for alias in &raw.aliases {
        if !PARAM_NAME.is_match(alias) {
            return Err(err(format!(
                "alias '{alias}' must be a letter followed by letters and digits"
            )));
        }
    }
    for n in std::iter::once(&raw.name).chain(raw.aliases.iter()) {
        if RESERVED_PARAMETERS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(n))
        {
            return Err(err(format!(
                "'{n}' is reserved (the runtime adds WhatIf and Confirm to supports_should_process commands)"
            )));
        }
    }
    if raw.help.trim().is_empty() {
        return Err(err("help must not be empty".into()));
    }
    let kind = match raw.kind {
        RawType::String => ParamType::String,
        RawType::Int => ParamType::Int,
        RawType::Switch => ParamType::Switch,
        RawType::Bool => ParamType::Bool,
        RawType::DateTime => ParamType::DateTime,
        RawType::StringArray => ParamType::StringArray,
        RawType::IntArray => ParamType::IntArray,
    };
    let is_text = matches!(kind, ParamType::String | ParamType::StringArray);
    let is_int = matches!(kind, ParamType::Int | ParamType::IntArray);

    if kind == ParamType::Switch && raw.mandatory {
        return Err(err("a switch cannot be mandatory".into()));
    }
    if kind == ParamType::Switch && raw.position.is_some() {
        return Err(err("a switch cannot be positional".into()));
    }

    let validate_pattern = match raw.validate_pattern {
        None => None,
        Some(src) => {
            if !is_text {
                return Err(err(
                    "validate_pattern applies only to string and string[] parameters".into(),
                ));
            }
            if !is_anchored(&src) {
                return Err(err(
                    "validate_pattern must be anchored (start with ^ and end with $)".into(),
                ));
            }
            let re = Regex::new(&src)
                .map_err(|e| err(format!("validate_pattern does not compile: {e}")))?;
            Some((re, src))
        }
    };

    if !raw.validate_set.is_empty() {
        if !is_text {
            return Err(err(
                "validate_set applies only to string and string[] parameters".into(),
            ));
        }
        let mut seen = HashSet::new();
        for v in &raw.validate_set {
            if v.is_empty() {
                return Err(err("validate_set entries must not be empty".into()));
            }
            if !seen.insert(v.to_ascii_lowercase()) {
                return Err(err(format!("validate_set lists '{v}' twice")));
            }
            if let Some((re, src)) = &validate_pattern {
                if !re.is_match(v) {
                    return Err(err(format!(
                        "validate_set entry '{v}' does not match validate_pattern {src}"
                    )));
                }
            }
        }
    }

    if raw.wildcards {
        if !is_text {
            return Err(err(
                "wildcards applies only to string and string[] parameters".into(),
            ));
        }
        if let Some((re, src)) = &validate_pattern {
            if !re.is_match("[a-z]*") {
                return Err(err(format!(
                    "wildcards = true but validate_pattern {src} refuses the pattern '[a-z]*'"
                )));
            }
        }
    }

    let range = match raw.range {
        None => None,
        Some(r) => {
            if !is_int {
                return Err(err("range applies only to int and int[] parameters".into()));
            }
            let [min, max] = r[..] else {
                return Err(err("range must be [min, max]".into()));
            };
            if min > max {
                return Err(err(format!("range min {min} is greater than max {max}")));
            }
            Some((min, max))
        }
    };

    let mut spec = ParamSpec {
        name: raw.name,
        kind,
        mandatory: raw.mandatory,
        position: raw.position,
        aliases: raw.aliases,
        validate_set: raw.validate_set,
        validate_pattern,
        range,
        default: None,
        secret: raw.secret,
        wildcards: raw.wildcards,
        help: raw.help.trim().to_string(),
    };
    if let Some(value) = raw.default {
        if spec.mandatory {
            return Err(err("a mandatory parameter cannot have a default".into()));
        }
        let text = default_text(&value).ok_or_else(|| {
            err("default must be a string, an integer, a boolean or an array of them".into())
        })?;
        check_value(&spec, &text).map_err(|p| err(format!("default '{text}': {p}")))?;
        spec.default = Some(text);
    }
    Ok(spec)
}

/// A pattern is anchored when it starts with `^` and ends with an unescaped `$`.
fn is_anchored(src: &str) -> bool {
    if !src.starts_with('^') || !src.ends_with('$') || src.len() < 2 {
        return false;
    }
    let body = &src[..src.len() - 1];
    let backslashes = body.chars().rev().take_while(|&c| c == '\\').count();
    backslashes % 2 == 0
}

/// A TOML default value as the text the binder converts like user input (arrays comma-joined).
fn default_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Boolean(b) => Some(if *b { "$true" } else { "$false" }.to_string()),
        toml::Value::Datetime(d) => Some(d.to_string()),
        toml::Value::Array(items) => {
            let parts: Option<Vec<String>> = items
                .iter()
                .map(|v| match v {
                    toml::Value::Array(_) => None,
                    other => default_text(other),
                })
                .collect();
            Some(parts?.join(","))
        }
        _ => None,
    }
}

/// Checks that `text` is a valid value for `spec`: its type, set, pattern and range.
fn check_value(spec: &ParamSpec, text: &str) -> Result<(), String> {
    match spec.kind {
        ParamType::Switch => Err("a switch cannot have a default (it is off when absent)".into()),
        ParamType::Bool => match text.to_ascii_lowercase().as_str() {
            "$true" | "$false" | "true" | "false" => Ok(()),
            _ => Err("not a boolean".into()),
        },
        ParamType::DateTime => {
            if is_datetime(text) {
                Ok(())
            } else {
                Err("not an ISO 8601 date or date and time".into())
            }
        }
        ParamType::Int => check_int(spec, text),
        ParamType::IntArray => text.split(',').try_for_each(|t| check_int(spec, t)),
        ParamType::String => check_text(spec, text),
        ParamType::StringArray => text.split(',').try_for_each(|t| check_text(spec, t.trim())),
    }
}

fn check_int(spec: &ParamSpec, text: &str) -> Result<(), String> {
    let v: i64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{}' is not an integer", text.trim()))?;
    if let Some((min, max)) = spec.range {
        if v < min || v > max {
            return Err(format!("{v} is outside the range {min}..{max}"));
        }
    }
    Ok(())
}

fn check_text(spec: &ParamSpec, text: &str) -> Result<(), String> {
    if !spec.validate_set.is_empty()
        && !spec
            .validate_set
            .iter()
            .any(|v| v.eq_ignore_ascii_case(text))
    {
        return Err(format!(
            "'{text}' is not one of {}",
            spec.validate_set.join(", ")
        ));
    }
    if let Some((re, src)) = &spec.validate_pattern {
        if !re.is_match(text) {
            return Err(format!("'{text}' does not match validate_pattern {src}"));
        }
    }
    Ok(())
}

fn is_datetime(text: &str) -> bool {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    DateTime::parse_from_rfc3339(text).is_ok()
        || NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
        || [
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M",
        ]
        .iter()
        .any(|f| NaiveDateTime::parse_from_str(text, f).is_ok())
}

#[cfg(test)]
mod tests {
    use super::super::load::tests::{command, load, load_err, param, HEAD};

    #[test]
    fn switches_are_neither_mandatory_nor_positional() {
        let m = param("name = \"S\"\ntype = \"switch\"\nmandatory = true");
        assert!(load_err(&format!("{HEAD}{}", command("Get-Thing", "", &m)))
            .contains("a switch cannot be mandatory"));
        let p = param("name = \"S\"\ntype = \"switch\"\nposition = 1");
        assert!(load_err(&format!("{HEAD}{}", command("Get-Thing", "", &p)))
            .contains("a switch cannot be positional"));
    }
    #[test]
    fn patterns_must_be_anchored_and_compile() {
        let e = load_err(&format!(
            "{HEAD}{}",
            command(
                "Get-Thing",
                "",
                &param("name = \"State\"\ntype = \"string\"\nvalidate_pattern = '[a-z]+$'")
            )
        ));
        assert_eq!(
            e,
            "catalog/test.toml: command 'Get-Thing': parameter 'State': validate_pattern must be anchored (start with ^ and end with $)"
        );
        for bad in [r"^[a-z]+", r"^[a-z]+\$"] {
            let p = param(&format!(
                "name = \"X\"\ntype = \"string\"\nvalidate_pattern = '{bad}'"
            ));
            assert!(load_err(&format!("{HEAD}{}", command("Get-Thing", "", &p)))
                .contains("must be anchored"));
        }
        let p = param("name = \"X\"\ntype = \"string\"\nvalidate_pattern = '^[a-z$'");
        assert!(load_err(&format!("{HEAD}{}", command("Get-Thing", "", &p)))
            .contains("does not compile"));
        let p = param("name = \"X\"\ntype = \"int\"\nvalidate_pattern = '^[0-9]$'");
        assert!(load_err(&format!("{HEAD}{}", command("Get-Thing", "", &p)))
            .contains("validate_pattern applies only"));
        let p = param("name = \"X\"\ntype = \"string\"\nvalidate_pattern = '^[a-z]+\\$$'");
        let cat = load(&format!("{HEAD}{}", command("Get-Thing", "", &p))).expect("valid");
        let (re, src) = cat
            .get("Get-Thing")
            .and_then(|c| c.param("X"))
            .and_then(|p| p.validate_pattern.clone())
            .expect("pattern stored");
        assert_eq!(src, r"^[a-z]+\$$");
        assert!(re.is_match("abc$"));
    }
    #[test]
    fn range_only_on_ints_and_ordered() {
        let p = param("name = \"X\"\ntype = \"string\"\nrange = [1, 2]");
        assert!(load_err(&format!("{HEAD}{}", command("Get-Thing", "", &p)))
            .contains("range applies only to int"));
        let p = param("name = \"X\"\ntype = \"int\"\nrange = [5, 2]");
        assert!(load_err(&format!("{HEAD}{}", command("Get-Thing", "", &p)))
            .contains("range min 5 is greater than max 2"));
        let p = param("name = \"X\"\ntype = \"int\"\nrange = [5]");
        assert!(load_err(&format!("{HEAD}{}", command("Get-Thing", "", &p)))
            .contains("range must be [min, max]"));
        let p = param("name = \"X\"\ntype = \"int[]\"\nrange = [0, 4294967295]");
        assert!(load(&format!("{HEAD}{}", command("Get-Thing", "", &p))).is_ok());
    }
    #[test]
    fn validate_set_only_on_strings() {
        let p = param("name = \"X\"\ntype = \"int\"\nvalidate_set = [\"1\"]");
        assert!(load_err(&format!("{HEAD}{}", command("Get-Thing", "", &p)))
            .contains("validate_set applies only"));
        let p = param("name = \"X\"\ntype = \"string[]\"\nvalidate_set = [\"a\", \"A\"]");
        assert!(load_err(&format!("{HEAD}{}", command("Get-Thing", "", &p))).contains("twice"));
    }
    #[test]
    fn defaults_must_satisfy_the_parameter() {
        let cases = [
            (
                "type = \"int\"\nrange = [60, 20160]\ndefault = 30",
                "outside the range",
            ),
            ("type = \"int\"\ndefault = \"many\"", "not an integer"),
            (
                "type = \"string\"\nvalidate_set = [\"json\", \"csv\"]\ndefault = \"xml\"",
                "not one of",
            ),
            (
                "type = \"string\"\nvalidate_pattern = '^[a-z]+$'\ndefault = \"A1\"",
                "does not match",
            ),
            (
                "type = \"switch\"\ndefault = true",
                "a switch cannot have a default",
            ),
            (
                "type = \"datetime\"\ndefault = \"yesterday\"",
                "not an ISO 8601",
            ),
            ("type = \"bool\"\ndefault = \"maybe\"", "not a boolean"),
            (
                "type = \"string\"\nmandatory = true\ndefault = \"x\"",
                "mandatory parameter cannot have a default",
            ),
        ];
        for (body, expected) in cases {
            let p = param(&format!("name = \"X\"\n{body}"));
            let e = load_err(&format!("{HEAD}{}", command("Get-Thing", "", &p)));
            assert!(e.contains(expected), "{body}: {e}");
        }
        let p = param("name = \"X\"\ntype = \"int\"\nrange = [60, 20160]\ndefault = 480");
        let cat = load(&format!("{HEAD}{}", command("Get-Thing", "", &p))).expect("valid");
        let d = cat
            .get("Get-Thing")
            .and_then(|c| c.param("X"))
            .and_then(|p| p.default.clone());
        assert_eq!(d.as_deref(), Some("480"));
        let p = param("name = \"X\"\ntype = \"datetime\"\ndefault = \"2026-11-21 10:00\"");
        assert!(load(&format!("{HEAD}{}", command("Get-Thing", "", &p))).is_ok());
    }
    #[test]
    fn whatif_and_confirm_are_reserved() {
        for n in ["WhatIf", "confirm"] {
            let p = param(&format!("name = \"{n}\"\ntype = \"switch\""));
            assert!(
                load_err(&format!("{HEAD}{}", command("Get-Thing", "", &p))).contains("reserved")
            );
        }
        let p = param("name = \"Force\"\ntype = \"switch\"\naliases = [\"WhatIf\"]");
        assert!(load_err(&format!("{HEAD}{}", command("Get-Thing", "", &p))).contains("reserved"));
    }
}
