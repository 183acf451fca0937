//! Sort-Object: stable sort by properties in priority order (or by the values themselves),
//! `-Descending`, `-Unique` (drops values whose sort keys equal the previous one's).

use crate::lang::error::LangError;
use azs_support::catalog::SortKey;
use azs_support::{BoundArgs, Value};
use std::cmp::Ordering;

fn key(v: &Value, props: &[String]) -> Vec<Value> {
    if props.is_empty() {
        return vec![v.clone()];
    }
    props
        .iter()
        .map(|p| {
            v.as_record()
                .and_then(|r| r.get(p))
                .cloned()
                .unwrap_or(Value::Null)
        })
        .collect()
}

fn cmp_keys(a: &[Value], b: &[Value]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.compare(y))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Runs Sort-Object.
pub fn apply(args: &BoundArgs, input: Vec<Value>) -> Result<Vec<Value>, LangError> {
    let props = args.strings("Property");
    let mut keyed = sorted(input, &props, args.switch("Descending"));
    if args.switch("Unique") {
        keyed.dedup_by(|later, earlier| cmp_keys(&later.0, &earlier.0).is_eq());
    }
    Ok(keyed.into_iter().map(|(_, v)| v).collect())
}

/// `input` sorted (stable) by a command's default sort `keys`, in priority order.
pub fn by_keys(input: Vec<Value>, keys: &[SortKey]) -> Vec<Value> {
    let props: Vec<String> = keys.iter().map(|k| k.property.clone()).collect();
    let mut keyed: Vec<(Vec<Value>, Value)> =
        input.into_iter().map(|v| (key(&v, &props), v)).collect();
    keyed.sort_by(|a, b| {
        a.0.iter()
            .zip(&b.0)
            .zip(keys)
            .map(|((x, y), k)| {
                let o = rank(x, &k.order)
                    .cmp(&rank(y, &k.order))
                    .then_with(|| x.compare(y));
                if k.descending {
                    o.reverse()
                } else {
                    o
                }
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    keyed.into_iter().map(|(_, v)| v).collect()
}

/// Where `v` stands in a declared value order: its index, or after every listed value.
fn rank(v: &Value, order: &[String]) -> usize {
    if order.is_empty() {
        return 0;
    }
    let text = v.to_display();
    order
        .iter()
        .position(|o| o.eq_ignore_ascii_case(&text))
        .unwrap_or(order.len())
}

/// `input` with its sort keys, sorted (stable).
fn sorted(input: Vec<Value>, props: &[String], descending: bool) -> Vec<(Vec<Value>, Value)> {
    let mut keyed: Vec<(Vec<Value>, Value)> =
        input.into_iter().map(|v| (key(&v, props), v)).collect();
    keyed.sort_by(|a, b| {
        let o = cmp_keys(&a.0, &b.0);
        if descending {
            o.reverse()
        } else {
            o
        }
    });
    keyed
}

#[cfg(test)]
mod tests {
    use super::*;
    use azs_support::Record;

    fn rec(state: &str, name: &str, n: i64) -> Value {
        Value::Record(
            Record::new("S")
                .with("State", state)
                .with("Name", name)
                .with("N", n),
        )
    }

    fn names(v: &[Value]) -> Vec<String> {
        v.iter()
            .map(|x| {
                x.as_record()
                    .and_then(|r| r.get("Name"))
                    .map(Value::to_display)
                    .unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn by_properties_stable() {
        let input = vec![
            rec("Running", "b", 10),
            rec("Stopped", "a", 2),
            rec("running", "a", 9),
            rec("Running", "c", 1),
        ];
        let mut a = BoundArgs::new();
        a.insert("Property", vec!["State"].into());
        assert_eq!(
            names(&apply(&a, input.clone()).expect("ok")),
            ["b", "a", "c", "a"]
        );
        a.insert("Property", vec!["State", "Name"].into());
        assert_eq!(
            names(&apply(&a, input.clone()).expect("ok")),
            ["a", "b", "c", "a"]
        );
        a.insert("Property", vec!["N"].into());
        assert_eq!(
            names(&apply(&a, input.clone()).expect("ok")),
            ["c", "a", "a", "b"]
        );
        a.insert("Descending", true.into());
        assert_eq!(names(&apply(&a, input).expect("ok")), ["b", "a", "a", "c"]);
    }

    #[test]
    fn values_themselves_and_unique() {
        let mut a = BoundArgs::new();
        let input: Vec<Value> = vec![
            3i64.into(),
            1i64.into(),
            "B".into(),
            "a".into(),
            1i64.into(),
            Value::Null,
        ];
        let out = apply(&a, input.clone()).expect("ok");
        assert_eq!(out[0], Value::Null);
        assert_eq!(out[1], Value::Int(1));
        a.insert("Unique", true.into());
        let out = apply(&a, input).expect("ok");
        assert_eq!(
            out,
            vec![
                Value::Null,
                1i64.into(),
                3i64.into(),
                "a".into(),
                "B".into()
            ]
        );
    }
}
