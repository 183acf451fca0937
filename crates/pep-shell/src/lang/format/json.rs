//! ConvertTo-Json: one value as itself, several as an array; property order kept; records nested
//! deeper than `-Depth` (default 2) become their display text, as PowerShell truncates them;
//! pretty output indents by two spaces, `-Compress` writes one line. The result is one text value.

use crate::lang::error::{ErrorId, LangError};
use azs_support::{BoundArgs, Value};
use chrono::SecondsFormat;

/// PowerShell's default depth.
const DEFAULT_DEPTH: i64 = 2;

/// Text being built, which stops growing at `max` bytes (and says so): a line can ask for JSON
/// of JSON of JSON..., which doubles per stage, so the bound is kept while writing.
struct Out {
    text: String,
    max: usize,
    over: bool,
}

impl Out {
    fn push_str(&mut self, s: &str) {
        if self.over || self.text.len().saturating_add(s.len()) > self.max {
            self.over = true;
            return;
        }
        self.text.push_str(s);
    }

    fn push(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.push_str(c.encode_utf8(&mut buf));
    }

    /// A JSON string literal, escaped a piece at a time (never a whole escaped copy at once).
    fn string(&mut self, s: &str) {
        const PIECE: usize = 16 << 10;
        self.push('"');
        let mut rest = s;
        while !rest.is_empty() && !self.over {
            let mut cut = rest.len().min(PIECE);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            let (piece, tail) = rest.split_at(cut);
            let quoted = serde_json::to_string(piece).unwrap_or_else(|_| "\"\"".into());
            self.push_str(&quoted[1..quoted.len() - 1]);
            rest = tail;
        }
        self.push('"');
    }
}

/// `level` is the indentation; `nest` counts enclosing records only (arrays do not use up depth).
fn write(v: &Value, level: usize, nest: usize, depth: usize, pretty: bool, out: &mut Out) {
    if out.over {
        return;
    }
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
        Value::String(s) => out.string(s),
        Value::DateTime(t) => out.string(&t.to_rfc3339_opts(SecondsFormat::Secs, true)),
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
                out.string(&v.to_display());
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
                out.string(k);
                out.push_str(if pretty { ": " } else { ":" });
                write(val, level + 1, nest + 1, depth, pretty, out);
            }
            out.push_str(&indent(level));
            out.push('}');
        }
    }
}

/// The JSON text of `v` (records nested deeper than `depth` become display text), or None when
/// it would be longer than `max` bytes.
pub fn to_json_text(v: &Value, depth: usize, pretty: bool, max: usize) -> Option<String> {
    let mut out = Out {
        text: String::new(),
        max,
        over: false,
    };
    write(v, 0, 0, depth, pretty, &mut out);
    (!out.over).then_some(out.text)
}

/// Runs ConvertTo-Json.
pub fn apply(args: &BoundArgs, mut input: Vec<Value>, max: usize) -> Result<Vec<Value>, LangError> {
    let depth = usize::try_from(args.int("Depth").unwrap_or(DEFAULT_DEPTH)).unwrap_or(0);
    let pretty = !args.switch("Compress");
    let value = match input.len() {
        0 => return Ok(Vec::new()),
        1 => input.remove(0),
        _ => Value::Array(input),
    };
    match to_json_text(&value, depth, pretty, max) {
        Some(text) => Ok(vec![Value::String(text)]),
        None => Err(LangError::new(
            ErrorId::InvalidInput,
            crate::bounds::LineLimits::size_error("the JSON text", max),
        )),
    }
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
        let out = apply(&BoundArgs::new(), vec![r], usize::MAX).expect("ok");
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
        let out = apply(&a, vec![1i64.into(), "x".into(), true.into()], usize::MAX).expect("ok");
        assert_eq!(out, vec![Value::from("[1,\"x\",true]")]);
        assert!(apply(&a, vec![], usize::MAX).expect("ok").is_empty());
    }

    #[test]
    fn depth_truncates_and_escapes_controls() {
        let mut a = BoundArgs::new();
        a.insert("Compress", true.into());
        a.insert("Depth", 1i64.into());
        let out = apply(&a, vec![nested()], usize::MAX).expect("ok");
        assert_eq!(
            out,
            vec![Value::from(
                "{\"Name\":\"n\\u001b\",\"B\":{\"C\":\"@{D=@{E=1}}\"}}"
            )]
        );
        let mut d = BoundArgs::new();
        d.insert("Compress", true.into());
        let out = apply(&d, vec![nested()], usize::MAX).expect("ok");
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
            to_json_text(&Value::DateTime(t), 2, false, usize::MAX).expect("fits"),
            "\"2026-11-21T10:00:00Z\""
        );
        assert_eq!(
            to_json_text(&Value::Float(1.5), 2, false, usize::MAX).expect("fits"),
            "1.5"
        );
    }

    #[test]
    fn json_of_json_stops_at_the_bound() {
        // Each stage escapes the previous one's quotes and backslashes: text doubles per stage.
        let mut v = vec![Value::from("\"x\\")];
        let mut refused = None;
        for stage in 0..40 {
            match apply(&BoundArgs::new(), v.clone(), 4096) {
                Ok(next) => v = next,
                Err(e) => {
                    refused = Some((stage, e.to_string()));
                    break;
                }
            }
            assert!(
                v[0].approx_bytes() < 4096 + 64,
                "stage {stage} passed the bound"
            );
        }
        let (stage, msg) = refused.expect("refused before 40 stages");
        assert!(stage < 20, "{stage}");
        assert!(msg.contains("larger than 4.0 KiB"), "{msg}");
        assert!(!msg.contains('\n'));
    }
}
