//! Select-Object: pick properties (wildcards allowed; unknown ones appear as `$null`, as in
//! PowerShell), expand one property, keep unique values, take the first or last N.
//! No calculated properties: the lexer refuses `@{...}` before this runs.

use super::{columns, wildcard_match};
use crate::lang::error::{ErrorId, LangError};
use azs_support::{BoundArgs, Record, Value};

fn project(v: &Value, wanted: &[String]) -> Value {
    let empty = Record::new("");
    let src = v.as_record().unwrap_or(&empty);
    let names = columns(&[src], wanted);
    let mut out = Record::new(format!("Selected.{}", src.type_name));
    for n in names {
        if azs_support::wildcard::is_wildcard(&n)
            && src.props.iter().all(|(k, _)| !wildcard_match(&n, k))
        {
            continue;
        }
        out.props
            .push((n.clone(), src.get(&n).cloned().unwrap_or(Value::Null)));
    }
    Value::Record(out)
}

fn expand(v: &Value, name: &str, out: &mut Vec<Value>) -> Result<(), LangError> {
    match v.as_record().and_then(|r| r.get(name)) {
        Some(Value::Array(items)) => out.extend(items.iter().cloned()),
        Some(x) => out.push(x.clone()),
        None => {
            return Err(LangError::new(
                ErrorId::InvalidInput,
                format!("Property '{name}' cannot be found on the input object."),
            ))
        }
    }
    Ok(())
}

/// Runs Select-Object.
pub fn apply(args: &BoundArgs, input: Vec<Value>) -> Result<Vec<Value>, LangError> {
    let props = args.strings("Property");
    let mut values: Vec<Value> = if let Some(name) = args.str("ExpandProperty") {
        let mut out = Vec::new();
        for v in &input {
            let src = if props.is_empty() {
                v.clone()
            } else {
                project(v, &props)
            };
            expand(&src, name, &mut out)?;
        }
        out
    } else if props.is_empty() {
        input
    } else {
        input.iter().map(|v| project(v, &props)).collect()
    };
    if args.switch("Unique") {
        let mut seen: Vec<Value> = Vec::new();
        values.retain(|v| {
            let dup = seen
                .iter()
                .any(|s| s == v || (s.compare(v).is_eq() && !matches!(v, Value::Record(_))));
            if !dup {
                seen.push(v.clone());
            }
            !dup
        });
    }
    let first = args.int("First").map(|n| usize::try_from(n).unwrap_or(0));
    let last = args.int("Last").map(|n| usize::try_from(n).unwrap_or(0));
    match (first, last) {
        (None, None) => Ok(values),
        (Some(f), None) => Ok(values.into_iter().take(f).collect()),
        (None, Some(l)) => {
            let start = values.len().saturating_sub(l);
            Ok(values.split_off(start))
        }
        (Some(f), Some(l)) => {
            let f = f.min(values.len());
            let tail = values.split_off(f);
            let start = tail.len().saturating_sub(l);
            values.extend(tail.into_iter().skip(start));
            Ok(values)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn procs() -> Vec<Value> {
        [("b", 2i64), ("a", 1), ("c", 3), ("a", 1)]
            .iter()
            .map(|(n, i)| {
                Value::Record(
                    Record::new("P")
                        .with("Name", *n)
                        .with("Id", *i)
                        .with("Modules", vec!["m1", "m2"]),
                )
            })
            .collect()
    }

    fn args(pairs: &[(&str, Value)]) -> BoundArgs {
        let mut a = BoundArgs::new();
        for (k, v) in pairs {
            a.insert(k, v.clone());
        }
        a
    }

    #[test]
    fn properties_case_insensitive_wildcards_and_unknown() {
        let out = apply(
            &args(&[("Property", vec!["name", "I*", "Missing"].into())]),
            procs(),
        )
        .expect("ok");
        let r = out[0].as_record().expect("record");
        assert_eq!(r.type_name, "Selected.P");
        let names: Vec<&str> = r.props.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["Name", "Id", "Missing"]);
        assert_eq!(r.get("Missing"), Some(&Value::Null));
    }

    #[test]
    fn first_and_last() {
        let first = apply(&args(&[("First", 2i64.into())]), procs()).expect("ok");
        assert_eq!(first.len(), 2);
        let last = apply(&args(&[("Last", 1i64.into())]), procs()).expect("ok");
        assert_eq!(last, vec![procs()[3].clone()]);
        let both = apply(
            &args(&[("First", 1i64.into()), ("Last", 1i64.into())]),
            procs(),
        )
        .expect("ok");
        assert_eq!(both, vec![procs()[0].clone(), procs()[3].clone()]);
        let many = apply(&args(&[("Last", 10i64.into())]), procs()).expect("ok");
        assert_eq!(many.len(), 4);
    }

    #[test]
    fn expand_flattens_arrays() {
        let out = apply(&args(&[("ExpandProperty", "Name".into())]), procs()).expect("ok");
        assert_eq!(
            out,
            vec![Value::from("b"), "a".into(), "c".into(), "a".into()]
        );
        let mods = apply(
            &args(&[("ExpandProperty", "modules".into()), ("First", 3i64.into())]),
            procs(),
        )
        .expect("ok");
        assert_eq!(mods, vec![Value::from("m1"), "m2".into(), "m1".into()]);
        let e = apply(&args(&[("ExpandProperty", "Nope".into())]), procs()).expect_err("missing");
        assert!(e.message.contains("'Nope'"));
    }

    #[test]
    fn unique() {
        let out = apply(
            &args(&[("ExpandProperty", "Name".into()), ("Unique", true.into())]),
            procs(),
        )
        .expect("ok");
        assert_eq!(out, vec![Value::from("b"), "a".into(), "c".into()]);
        let recs = apply(
            &args(&[("Property", "Name".into()), ("Unique", true.into())]),
            procs(),
        )
        .expect("ok");
        assert_eq!(recs.len(), 3);
    }
}
