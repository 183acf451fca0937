//! ConvertTo-Json: one value as itself, several as an array; property order kept; records nested
//! deeper than `-Depth` (default 2) become their display text, as PowerShell truncates them;
//! pretty output indents by two spaces, `-Compress` writes one line. The result is one text value.

use crate::lang::error::LangError;
use azs_support::{BoundArgs, Value};
use chrono::SecondsFormat;

/// PowerShell's default depth.
const DEFAULT_DEPTH: i64 = 2;

fn string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// `level` is the indentation; `nest` counts enclosing records only (arrays do not use up depth).
fn write(v: &Value, level: usize, nest: usize, depth: usize, pretty: bool, out: &mut String) {
    let indent = |n: usize| {
        if pretty {
            format!("\n{}", "  ".repeat(n))
        } else {
            String::new()
        }
    };
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(
            &serde_json::Number::from_f64(*f).map_or_else(|| "null".to_string(), |n| n.to_string()),
        ),
        Value::String(s) => out.push_str(&string(s)),
        Value::DateTime(t) => out.push_str(&string(&t.to_rfc3339_opts(SecondsFormat::Secs, true))),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&indent(level + 1));
                write(item, level + 1, nest, depth, pretty, out);
            }
            out.push_str(&indent(level));
            out.push(']');
        }
        Value::Record(r) => {
            if nest > depth {
                out.push_str(&string(&v.to_display()));
                return;
            }
            if r.props.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, val)) in r.props.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&indent(level + 1));
                out.push_str(&string(k));
                out.push_str(if pretty { ": " } else { ":" });
                write(val, level + 1, nest + 1, depth, pretty, out);
            }
            out.push_str(&indent(level));
            out.push('}');
        }
    }
}

/// The JSON text of `v` (records nested deeper than `depth` become display text).
pub fn to_json_text(v: &Value, depth: usize, pretty: bool) -> String {
    let mut out = String::new();
    write(v, 0, 0, depth, pretty, &mut out);
    out
}

/// Runs ConvertTo-Json.
pub fn apply(args: &BoundArgs, mut input: Vec<Value>) -> Result<Vec<Value>, LangError> {
    let depth = usize::try_from(args.int("Depth").unwrap_or(DEFAULT_DEPTH)).unwrap_or(0);
    let pretty = !args.switch("Compress");
    let value = match input.len() {
        0 => return Ok(Vec::new()),
        1 => input.remove(0),
        _ => Value::Array(input),
    };
    Ok(vec![Value::String(to_json_text(&value, depth, pretty))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use azs_support::Record;

    fn nested() -> Value {
        Value::Record(Record::new("A").with("Name", "n\u{1b}").with(
            "B",
            Record::new("B").with(
                "C",
                Record::new("C").with("D", Record::new("D").with("E", 1i64)),
            ),
        ))
    }

    #[test]
    fn pretty_two_spaces_order_kept() {
        let r = Value::Record(
            Record::new("T")
                .with("Z", 1i64)
                .with("A", vec![1i64, 2])
                .with("N", Value::Null),
        );
        let out = apply(&BoundArgs::new(), vec![r]).expect("ok");
        assert_eq!(
            out,
            vec![Value::from(
                "{\n  \"Z\": 1,\n  \"A\": [\n    1,\n    2\n  ],\n  \"N\": null\n}"
            )]
        );
    }

    #[test]
    fn compress_and_many() {
        let mut a = BoundArgs::new();
        a.insert("Compress", true.into());
        let out = apply(&a, vec![1i64.into(), "x".into(), true.into()]).expect("ok");
        assert_eq!(out, vec![Value::from("[1,\"x\",true]")]);
        assert!(apply(&a, vec![]).expect("ok").is_empty());
    }

    #[test]
    fn depth_truncates_and_escapes_controls() {
        let mut a = BoundArgs::new();
        a.insert("Compress", true.into());
        a.insert("Depth", 1i64.into());
        let out = apply(&a, vec![nested()]).expect("ok");
        assert_eq!(
            out,
            vec![Value::from(
                "{\"Name\":\"n\\u001b\",\"B\":{\"C\":\"@{D=@{E=1}}\"}}"
            )]
        );
        let mut d = BoundArgs::new();
        d.insert("Compress", true.into());
        let out = apply(&d, vec![nested()]).expect("ok");
        assert_eq!(
            out,
            vec![Value::from(
                "{\"Name\":\"n\\u001b\",\"B\":{\"C\":{\"D\":\"@{E=1}\"}}}"
            )]
        );
    }

    #[test]
    fn dates_iso() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .expect("date")
            .with_timezone(&chrono::Utc);
        assert_eq!(
            to_json_text(&Value::DateTime(t), 2, false),
            "\"2026-11-21T10:00:00Z\""
        );
        assert_eq!(to_json_text(&Value::Float(1.5), 2, false), "1.5");
    }
}
