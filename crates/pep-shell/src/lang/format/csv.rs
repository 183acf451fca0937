//! ConvertTo-Csv, PowerShell 7 style: a header of the first record's property names, every field
//! quoted, arrays as their display text, one text value per CSV row. `-NoTypeInformation` is
//! accepted and is the default (no `#TYPE` line).

use crate::lang::error::{ErrorId, LangError};
use azs_support::{BoundArgs, Value};

fn row(fields: &[String]) -> Result<String, LangError> {
    let mut w = ::csv::WriterBuilder::new()
        .quote_style(::csv::QuoteStyle::Always)
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let fail = |e: String| LangError::new(ErrorId::InvalidInput, format!("Cannot write CSV: {e}"));
    w.write_record(fields).map_err(|e| fail(e.to_string()))?;
    let bytes = w.into_inner().map_err(|e| fail(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|e| fail(e.to_string()))?;
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
}

/// Runs ConvertTo-Csv.
pub fn apply(_args: &BoundArgs, input: Vec<Value>, max: usize) -> Result<Vec<Value>, LangError> {
    let Some(first) = input.first() else {
        return Ok(Vec::new());
    };
    let header: Vec<String> = match first.as_record() {
        Some(r) => r.props.iter().map(|(k, _)| k.clone()).collect(),
        None => vec!["Value".into()],
    };
    let mut out = vec![Value::String(row(&header)?)];
    let mut total = out[0].approx_bytes();
    let too_big = || {
        LangError::new(
            ErrorId::InvalidInput,
            crate::bounds::LineLimits::size_error("the CSV text", max),
        )
    };
    for v in &input {
        let fields: Vec<String> = match v.as_record() {
            Some(r) => header
                .iter()
                .map(|h| r.get(h).map(Value::to_display).unwrap_or_default())
                .collect(),
            None => vec![v.to_display()],
        };
        // Quoting at most doubles a field: refuse before building a row that cannot fit.
        let raw: usize = fields.iter().map(|f| f.len() + 3).sum();
        if total.saturating_add(raw) > max {
            return Err(too_big());
        }
        let r = Value::String(row(&fields)?);
        total = total.saturating_add(r.approx_bytes());
        if total > max {
            return Err(too_big());
        }
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use azs_support::Record;

    #[test]
    fn header_and_quoted_fields() {
        let input = vec![
            Value::Record(
                Record::new("T")
                    .with("Name", "a \"q\"")
                    .with("Id", 1i64)
                    .with("Tags", vec!["x", "y"]),
            ),
            Value::Record(Record::new("T").with("Name", "b,c").with("Other", 2i64)),
        ];
        let out = apply(&BoundArgs::new(), input, usize::MAX).expect("ok");
        assert_eq!(
            out,
            vec![
                Value::from("\"Name\",\"Id\",\"Tags\""),
                "\"a \"\"q\"\"\",\"1\",\"{x, y}\"".into(),
                "\"b,c\",\"\",\"\"".into(),
            ]
        );
    }

    #[test]
    fn scalars_and_empty() {
        assert!(apply(&BoundArgs::new(), vec![], usize::MAX)
            .expect("ok")
            .is_empty());
        let out = apply(&BoundArgs::new(), vec!["s".into()], usize::MAX).expect("ok");
        assert_eq!(out, vec![Value::from("\"Value\""), "\"s\"".into()]);
    }
}
