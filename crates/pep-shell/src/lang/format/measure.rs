//! Measure-Object: Count, and with `-Property` (or over plain numbers) Sum, Average, Maximum and
//! Minimum as asked, as one `Microsoft.PowerShell.Commands.GenericMeasureInfo` record per property.

use crate::lang::error::{ErrorId, LangError};
use azs_support::{BoundArgs, Record, Value};

/// The record type Measure-Object returns.
pub const MEASURE_TYPE: &str = "Microsoft.PowerShell.Commands.GenericMeasureInfo";

fn measure(
    values: &[&Value],
    property: Option<&str>,
    args: &BoundArgs,
) -> Result<Record, LangError> {
    let (sum_w, avg_w, max_w, min_w) = (
        args.switch("Sum"),
        args.switch("Average"),
        args.switch("Maximum"),
        args.switch("Minimum"),
    );
    let present: Vec<&Value> = values
        .iter()
        .copied()
        .filter(|v| !matches!(v, Value::Null))
        .collect();
    let mut sum = Value::Null;
    let mut avg = Value::Null;
    if sum_w || avg_w {
        let mut nums = Vec::new();
        for v in &present {
            match v.as_f64() {
                Some(f) => nums.push((f, *v)),
                None => {
                    return Err(LangError::new(
                        ErrorId::InvalidInput,
                        format!("Input object '{}' is not numeric.", v.to_display()),
                    ))
                }
            }
        }
        let total: f64 = nums.iter().map(|(f, _)| f).sum();
        let int_total = nums.iter().try_fold(0i64, |acc, (_, v)| match v {
            Value::Int(i) => acc.checked_add(*i),
            _ => None,
        });
        if sum_w {
            sum = int_total.map_or(Value::Float(total), Value::Int);
        }
        if avg_w && !nums.is_empty() {
            avg = Value::Float(total / nums.len() as f64);
        }
    }
    let pick = |want: bool, better: std::cmp::Ordering| -> Value {
        if !want {
            return Value::Null;
        }
        present
            .iter()
            .copied()
            .reduce(|a, b| if b.compare(a) == better { b } else { a })
            .cloned()
            .unwrap_or(Value::Null)
    };
    let max = pick(max_w, std::cmp::Ordering::Greater);
    let min = pick(min_w, std::cmp::Ordering::Less);
    let count = if property.is_some() {
        present.len()
    } else {
        values.len()
    };
    Ok(Record::new(MEASURE_TYPE)
        .with("Count", count as i64)
        .with("Average", avg)
        .with("Sum", sum)
        .with("Maximum", max)
        .with("Minimum", min)
        .with("Property", property.map(str::to_string)))
}

/// Runs Measure-Object.
pub fn apply(args: &BoundArgs, input: Vec<Value>) -> Result<Vec<Value>, LangError> {
    let props = args.strings("Property");
    if props.is_empty() {
        let all: Vec<&Value> = input.iter().collect();
        return Ok(vec![Value::Record(measure(&all, None, args)?)]);
    }
    let mut out = Vec::new();
    for p in &props {
        let vals: Vec<&Value> = input
            .iter()
            .filter_map(|v| v.as_record().and_then(|r| r.get(p)))
            .collect();
        if vals.is_empty() && !input.is_empty() {
            return Err(LangError::new(
                ErrorId::InvalidInput,
                format!("The property '{p}' cannot be found in the input for any objects."),
            ));
        }
        let name = input
            .iter()
            .find_map(|v| v.as_record().and_then(|r| r.property_name(p)))
            .unwrap_or(p);
        out.push(Value::Record(measure(&vals, Some(name), args)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> Vec<Value> {
        [("a", 3i64), ("b", 10), ("c", 2)]
            .iter()
            .map(|(n, s)| Value::Record(Record::new("F").with("Name", *n).with("Size", *s)))
            .collect()
    }

    #[test]
    fn count_only() {
        let out = apply(&BoundArgs::new(), input()).expect("ok");
        let r = out[0].as_record().expect("record");
        assert_eq!(r.type_name, MEASURE_TYPE);
        let names: Vec<&str> = r.props.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["Count", "Average", "Sum", "Maximum", "Minimum", "Property"]
        );
        assert_eq!(r.get("Count"), Some(&Value::Int(3)));
        assert_eq!(r.get("Sum"), Some(&Value::Null));
    }

    #[test]
    fn stats_on_property() {
        let mut a = BoundArgs::new();
        a.insert("Property", "size".into());
        for s in ["Sum", "Average", "Maximum", "Minimum"] {
            a.insert(s, true.into());
        }
        let out = apply(&a, input()).expect("ok");
        let r = out[0].as_record().expect("record");
        assert_eq!(r.get("Sum"), Some(&Value::Int(15)));
        assert_eq!(r.get("Average"), Some(&Value::Float(5.0)));
        assert_eq!(r.get("Maximum"), Some(&Value::Int(10)));
        assert_eq!(r.get("Minimum"), Some(&Value::Int(2)));
        assert_eq!(r.get("Property"), Some(&Value::from("Size")));
    }

    #[test]
    fn non_numeric_sum_and_missing_property() {
        let mut a = BoundArgs::new();
        a.insert("Property", "Name".into());
        a.insert("Sum", true.into());
        let e = apply(&a, input()).expect_err("not numeric");
        assert_eq!(e.message, "Input object 'a' is not numeric.");
        let mut m = BoundArgs::new();
        m.insert("Property", "Name".into());
        m.insert("Maximum", true.into());
        let out = apply(&m, input()).expect("ok");
        assert_eq!(
            out[0].as_record().and_then(|r| r.get("Maximum")),
            Some(&Value::from("c"))
        );
        m.insert("Property", "Nope".into());
        assert!(apply(&m, input()).is_err());
    }

    #[test]
    fn plain_numbers() {
        let mut a = BoundArgs::new();
        a.insert("Sum", true.into());
        let out = apply(&a, vec![1i64.into(), 2i64.into()]).expect("ok");
        assert_eq!(
            out[0].as_record().and_then(|r| r.get("Sum")),
            Some(&Value::Int(3))
        );
    }
}
