//! Get-Member: the type and properties of the objects piped in.
//!
//! For each type name among the input (in the order first seen), a `   TypeName: ...` line and then
//! one `MemberDefinition` record per property, sorted by name as Get-Member sorts them: a record's
//! properties are `NoteProperty` (its definition is PowerShell's `type Name=value`, the value cut
//! to one line), a plain value's are .NET properties (`Property`: a string's `Length`). The type
//! name is the record's own, which every catalog command's records carry from their entry's
//! `[command.output] type_name`. Methods are not listed: nothing can call them in this session.

use super::wildcard_match;
use crate::lang::escape::escape_text;
use azs_support::{BoundArgs, Record, Value};

/// The record type of each member.
pub const MEMBER_TYPE: &str = "Microsoft.PowerShell.Commands.MemberDefinition";

/// How much of a value a NoteProperty's definition shows.
const VALUE_CHARS: usize = 60;

/// The type name of a value as PowerShell shows it in a TypeName line.
fn full_type(v: &Value) -> String {
    match v {
        Value::Null => "System.Object".into(),
        Value::Bool(_) => "System.Boolean".into(),
        Value::Int(_) => "System.Int64".into(),
        Value::Float(_) => "System.Double".into(),
        Value::String(_) => "System.String".into(),
        Value::DateTime(_) => "System.DateTime".into(),
        Value::Array(_) => "System.Object[]".into(),
        Value::Record(r) if r.type_name.is_empty() => {
            "System.Management.Automation.PSCustomObject".into()
        }
        Value::Record(r) => r.type_name.clone(),
    }
}

/// The short type name a definition uses (`string`, `long`, `datetime`, `Object[]`).
fn short_type(v: &Value) -> String {
    match v {
        Value::Null => "object".into(),
        Value::Bool(_) => "bool".into(),
        Value::Int(_) => "long".into(),
        Value::Float(_) => "double".into(),
        Value::String(_) => "string".into(),
        Value::DateTime(_) => "datetime".into(),
        Value::Array(_) => "Object[]".into(),
        Value::Record(_) => "psobject".into(),
    }
}

/// A NoteProperty's definition: `string Name=value` (`null` for no value), on one line.
fn note_definition(name: &str, v: &Value) -> String {
    let shown = match v {
        Value::Null => "null".to_string(),
        other => {
            let text = escape_text(&other.to_display());
            if text.chars().count() > VALUE_CHARS {
                let cut: String = text.chars().take(VALUE_CHARS - 3).collect();
                format!("{cut}...")
            } else {
                text
            }
        }
    };
    format!("{} {name}={shown}", short_type(v))
}

fn member(name: &str, kind: &str, definition: String) -> Value {
    Value::Record(
        Record::new(MEMBER_TYPE)
            .with("Name", name)
            .with("MemberType", kind)
            .with("Definition", definition),
    )
}

/// The members of one type: a record's properties (the first value of each name seen among the
/// records of the type), or a plain value's.
fn members(sample: &[&Value]) -> Vec<(String, &'static str, String)> {
    let mut out: Vec<(String, &'static str, String)> = Vec::new();
    for v in sample {
        match v {
            Value::Record(r) => {
                for (k, val) in &r.props {
                    if !out.iter().any(|(n, _, _)| n.eq_ignore_ascii_case(k)) {
                        out.push((k.clone(), "NoteProperty", note_definition(k, val)));
                    }
                }
            }
            Value::String(_) if out.is_empty() => {
                out.push(("Length".into(), "Property", "int Length {get;}".into()));
            }
            Value::Array(_) if out.is_empty() => {
                out.push(("Count".into(), "Property", "int Count {get;}".into()));
                out.push(("Length".into(), "Property", "int Length {get;}".into()));
            }
            Value::DateTime(_) if out.is_empty() => {
                for p in ["Date", "Day", "Hour", "Minute", "Month", "Second", "Year"] {
                    let kind = if p == "Date" { "datetime" } else { "int" };
                    out.push((p.into(), "Property", format!("{kind} {p} {{get;}}")));
                }
            }
            _ => {}
        }
    }
    out.sort_by_key(|(n, _, _)| n.to_ascii_lowercase());
    out
}

/// Runs Get-Member: per type, its TypeName line and its members (`-Name` wildcards keep only
/// those members). Nothing piped in: nothing out.
pub fn apply(args: &BoundArgs, input: Vec<Value>) -> Vec<Value> {
    let wanted = args.strings("Name");
    let mut types: Vec<(String, Vec<&Value>)> = Vec::new();
    for v in input.iter().filter(|v| !matches!(v, Value::Null)) {
        let t = full_type(v);
        match types.iter_mut().find(|(name, _)| *name == t) {
            Some((_, vs)) => vs.push(v),
            None => types.push((t, vec![v])),
        }
    }
    let mut out = Vec::new();
    for (type_name, values) in &types {
        let chosen: Vec<Value> = members(values)
            .into_iter()
            .filter(|(n, _, _)| wanted.is_empty() || wanted.iter().any(|w| wildcard_match(w, n)))
            .map(|(n, kind, def)| member(&n, kind, def))
            .collect();
        if chosen.is_empty() {
            continue;
        }
        out.push(Value::String(format!(
            "\n   TypeName: {}",
            escape_text(type_name)
        )));
        out.extend(chosen);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn field(v: &Value, name: &str) -> String {
        v.as_record()
            .and_then(|r| r.get(name))
            .map(Value::to_display)
            .unwrap_or_default()
    }

    #[test]
    fn a_records_type_and_its_properties_sorted_by_name() {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
            .single()
            .expect("date");
        let r = Record::new("Azs.Support.StampVersion")
            .with("Version", "1.2511.0.42")
            .with("Build", 42i64)
            .with("Installed", at)
            .with("Hotfixes", vec!["KB1", "KB2"])
            .with("Note", Value::Null);
        let out = apply(
            &BoundArgs::new(),
            vec![Value::Record(r.clone()), Value::Record(r)],
        );
        assert_eq!(
            out[0],
            Value::String("\n   TypeName: Azs.Support.StampVersion".into())
        );
        let rows: Vec<(String, String, String)> = out[1..]
            .iter()
            .map(|v| {
                (
                    field(v, "Name"),
                    field(v, "MemberType"),
                    field(v, "Definition"),
                )
            })
            .collect();
        let row = |n: &str, t: &str, d: &str| (n.to_string(), t.to_string(), d.to_string());
        assert_eq!(
            rows,
            [
                row("Build", "NoteProperty", "long Build=42"),
                row("Hotfixes", "NoteProperty", "Object[] Hotfixes={KB1, KB2}"),
                row(
                    "Installed",
                    "NoteProperty",
                    "datetime Installed=2026-11-21 10:00:00Z"
                ),
                row("Note", "NoteProperty", "object Note=null"),
                row("Version", "NoteProperty", "string Version=1.2511.0.42"),
            ]
        );
        assert!(out[1..]
            .iter()
            .all(|v| v.as_record().is_some_and(|r| r.type_name == MEMBER_TYPE)));
    }

    #[test]
    fn each_type_once_plain_values_and_name_filter() {
        let input = vec![
            Value::Record(Record::new("A").with("X", 1i64)),
            Value::from("text"),
            Value::Record(Record::new("A").with("Y", "\u{1b}[2J")),
        ];
        let out = apply(&BoundArgs::new(), input.clone());
        let lines: Vec<String> = out.iter().map(Value::to_display).collect();
        assert_eq!(lines[0], "\n   TypeName: A");
        assert_eq!(field(&out[2], "Definition"), "string Y=\\x1b[2J");
        assert_eq!(lines[3], "\n   TypeName: System.String");
        assert_eq!(field(&out[4], "Definition"), "int Length {get;}");
        let mut args = BoundArgs::declaring(["Name"]);
        args.insert("Name", vec!["[x]"].into());
        let only = apply(&args, input);
        assert_eq!(only.len(), 2, "{only:?}");
        assert_eq!(field(&only[1], "Name"), "X");
        assert!(apply(&BoundArgs::new(), vec![]).is_empty());
    }

    #[test]
    fn long_values_are_cut_to_one_short_line() {
        let long = "x".repeat(200);
        let out = apply(
            &BoundArgs::new(),
            vec![Value::Record(Record::new("A").with("L", long.as_str()))],
        );
        let d = field(&out[1], "Definition");
        assert!(d.ends_with("...") && d.chars().count() < 80, "{d}");
    }
}
