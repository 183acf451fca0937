//! Argument conversion and constraints: a literal to a parameter's type, then ValidateSet,
//! ValidatePattern and range, as JEA checks them after the parameter name is resolved.
//!
//! Conversions are narrow on purpose: integers from integers or numeric text, booleans only from
//! `$true`/`$false` (or numbers), dates only from a few ISO 8601 forms read as UTC.

use super::error::{ErrorId, LangError};
use azs_support::catalog::{ParamSpec, ParamType};
use azs_support::Value;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// The type's name in messages and syntax (`String[]`, `Int`, `DateTime`, ...).
pub fn type_name(kind: ParamType) -> &'static str {
    match kind {
        ParamType::String => "String",
        ParamType::Int => "Int",
        ParamType::Switch => "Switch",
        ParamType::Bool => "Bool",
        ParamType::DateTime => "DateTime",
        ParamType::StringArray => "String[]",
        ParamType::IntArray => "Int[]",
    }
}

fn cannot(value: &Value, kind: &str, param: &str, hint: &str) -> LangError {
    let shown = match value {
        Value::Null => "$null".to_string(),
        Value::Array(_) => format!("{} (an array)", value.to_display()),
        v => v.to_display(),
    };
    LangError::new(
        ErrorId::ParameterBindingFailed,
        format!("Cannot convert value '{shown}' to type '{kind}' for parameter '{param}'.{hint}"),
    )
}

/// Reads ISO 8601 text (`2026-11-21`, `2026-11-21T10:00:00Z`, `2026-11-21T10:00:00`,
/// `2026-11-21 10:00`, `2026-11-21 10:00:00`); text without an offset is UTC.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, f) {
            return Some(Utc.from_utc_datetime(&n));
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| Utc.from_utc_datetime(&n))
}

fn scalar(value: &Value, p: &ParamSpec) -> Result<(), LangError> {
    match value {
        Value::Array(_) => Err(LangError::new(
            ErrorId::ParameterBindingFailed,
            format!(
                "Cannot bind an array to parameter '{}': it takes a single value of type '{}'.",
                p.name,
                type_name(p.kind)
            ),
        )),
        Value::Null => Err(LangError::new(
            ErrorId::ParameterBindingFailed,
            format!(
                "Cannot bind argument to parameter '{}' because it is null.",
                p.name
            ),
        )),
        _ => Ok(()),
    }
}

fn to_int(value: &Value, p: &ParamSpec) -> Result<Value, LangError> {
    scalar(value, p)?;
    match value {
        Value::Int(i) => Ok(Value::Int(*i)),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map(Value::Int)
            .map_err(|_| cannot(value, "Int", &p.name, "")),
        v => Err(cannot(v, "Int", &p.name, "")),
    }
}

fn to_string(value: &Value, p: &ParamSpec) -> Result<Value, LangError> {
    scalar(value, p)?;
    Ok(Value::String(value.to_display()))
}

fn to_bool(value: &Value, p: &ParamSpec) -> Result<Value, LangError> {
    match value {
        Value::Bool(b) => Ok(Value::Bool(*b)),
        Value::Int(i) => Ok(Value::Bool(*i != 0)),
        Value::Null if p.kind == ParamType::Switch => Ok(Value::Bool(false)),
        v => Err(cannot(
            v,
            type_name(p.kind),
            &p.name,
            " Use $true or $false.",
        )),
    }
}

fn to_datetime(value: &Value, p: &ParamSpec) -> Result<Value, LangError> {
    scalar(value, p)?;
    match value {
        Value::DateTime(t) => Ok(Value::DateTime(*t)),
        Value::String(s) => parse_datetime(s).map(Value::DateTime).ok_or_else(|| {
            cannot(
                value,
                "DateTime",
                &p.name,
                " Use an ISO 8601 date such as 2026-11-21 or 2026-11-21T10:00:00Z.",
            )
        }),
        v => Err(cannot(v, "DateTime", &p.name, "")),
    }
}

fn each(
    value: &Value,
    p: &ParamSpec,
    f: fn(&Value, &ParamSpec) -> Result<Value, LangError>,
) -> Result<Value, LangError> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|v| f(v, p))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        v => Ok(Value::Array(vec![f(v, p)?])),
    }
}

/// Converts a literal to the parameter's type.
pub fn convert(value: &Value, p: &ParamSpec) -> Result<Value, LangError> {
    match p.kind {
        ParamType::String => to_string(value, p),
        ParamType::Int => to_int(value, p),
        ParamType::Switch | ParamType::Bool => to_bool(value, p),
        ParamType::DateTime => to_datetime(value, p),
        ParamType::StringArray => each(value, p, to_string),
        ParamType::IntArray => each(value, p, to_int),
    }
}

/// Converts a catalog default (text) to the parameter's type; `None` when the text is
/// documentation rather than a value (the implementation then applies its own default).
pub fn convert_default(text: &str, p: &ParamSpec) -> Option<Value> {
    let t = text.trim();
    let literal = match p.kind {
        ParamType::Switch | ParamType::Bool => {
            match t.trim_start_matches('$').to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return None,
            }
        }
        ParamType::StringArray | ParamType::IntArray => Value::Array(
            t.split(',')
                .map(|s| Value::String(s.trim().to_string()))
                .collect(),
        ),
        _ => Value::String(t.to_string()),
    };
    convert(&literal, p).ok()
}

fn invalid(p: &ParamSpec, text: String) -> LangError {
    LangError::new(
        ErrorId::ValidationFailed,
        format!("Cannot validate argument on parameter '{}'. {text}", p.name),
    )
}

fn check_one(value: &Value, p: &ParamSpec) -> Result<Value, LangError> {
    let text = value.to_display();
    let mut out = value.clone();
    if !p.validate_set.is_empty() {
        match p
            .validate_set
            .iter()
            .find(|s| s.eq_ignore_ascii_case(&text))
        {
            Some(canon) if matches!(value, Value::String(_)) => out = Value::String(canon.clone()),
            Some(_) => {}
            None => {
                return Err(invalid(
                    p,
                    format!(
                        "The argument '{text}' does not belong to the set \"{}\". Supply an \
                         argument that is in the set and then try the command again.",
                        p.validate_set.join(",")
                    ),
                ))
            }
        }
    }
    if let Some((re, source)) = &p.validate_pattern {
        if !re.is_match(&text) {
            return Err(invalid(
                p,
                format!(
                    "The argument '{text}' does not match the '{source}' pattern. Supply an \
                     argument that matches '{source}' and try the command again."
                ),
            ));
        }
    }
    if p.wildcards {
        if let Value::String(pattern) = value {
            azs_support::wildcard::check(pattern).map_err(|e| invalid(p, e.to_string()))?;
        }
    }
    if let (Some((lo, hi)), Value::Int(i)) = (p.range, value) {
        if *i < lo || *i > hi {
            return Err(invalid(
                p,
                format!("{i} is outside the allowed range {lo}..{hi}."),
            ));
        }
    }
    Ok(out)
}

/// Applies ValidateSet (binding the catalog's spelling), ValidatePattern and range to a converted
/// value, element by element for arrays.
pub fn validate(value: Value, p: &ParamSpec) -> Result<Value, LangError> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|v| check_one(v, p))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        v => check_one(&v, p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::fixtures::{p, ParamExt};

    #[test]
    fn iso_forms_only() {
        let ten = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).single();
        assert_eq!(parse_datetime("2026-11-21T10:00:00Z"), ten);
        assert_eq!(parse_datetime(" 2026-11-21 10:00 "), ten);
        assert_eq!(parse_datetime("2026-11-21T10:00"), ten);
        for bad in ["21/11/2026", "2026-13-01", "now", "", "2026-11-21 25:00"] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn defaults_convert_like_input() {
        assert_eq!(
            convert_default("480", &p("X", ParamType::Int)),
            Some(Value::Int(480))
        );
        assert_eq!(
            convert_default("$false", &p("X", ParamType::Switch)),
            Some(Value::Bool(false))
        );
        assert_eq!(
            convert_default("a, b", &p("X", ParamType::StringArray)),
            Some(Value::Array(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            convert_default("all rings", &p("X", ParamType::IntArray)),
            None
        );
        assert_eq!(
            convert_default("last 4 hours", &p("X", ParamType::DateTime)),
            None
        );
    }

    #[test]
    fn validate_each_element() {
        let spec = p("N", ParamType::IntArray).range(1, 5);
        assert!(validate(Value::Array(vec![1i64.into(), 5i64.into()]), &spec).is_ok());
        let e = validate(Value::Array(vec![1i64.into(), 6i64.into()]), &spec).expect_err("range");
        assert_eq!(e.id, ErrorId::ValidationFailed);
        assert_eq!(type_name(ParamType::StringArray), "String[]");
    }
}
