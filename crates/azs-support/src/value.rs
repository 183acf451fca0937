//! Typed values and records: what every command returns and every formatting command consumes.
//!
//! A command's output is a list of [`Value`]s. Most are [`Record`]s: an ordered set of named
//! properties with a type name (`Azs.Support.ClusterResource`), the way PowerShell objects carry
//! their type. Property lookup is case-insensitive, as in PowerShell.

use chrono::{DateTime, SecondsFormat, Utc};
use std::cmp::Ordering;

/// One value in a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `$null`.
    Null,
    /// `$true` / `$false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// Text.
    String(String),
    /// An instant, always UTC.
    DateTime(DateTime<Utc>),
    /// A list (a comma array, or a property holding several values).
    Array(Vec<Value>),
    /// An object with named properties.
    Record(Record),
}

/// An object: a type name and ordered, named properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Type name shown by `Get-Member`-like views and in CSV headers, e.g. `Azs.Support.StampVersion`.
    pub type_name: String,
    /// Properties in display order.
    pub props: Vec<(String, Value)>,
}

impl Record {
    /// An empty record of the given type.
    pub fn new(type_name: impl Into<String>) -> Self {
        Record {
            type_name: type_name.into(),
            props: Vec::new(),
        }
    }

    /// Adds a property (builder style).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.props.push((name.into(), value.into()));
        self
    }

    /// Sets a property, replacing one of the same name (case-insensitive) or appending it.
    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        let value = value.into();
        match self
            .props
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.props.push((name.to_string(), value)),
        }
    }

    /// The value of a property, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.props
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The property's canonical spelling, by case-insensitive name.
    pub fn property_name(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(k, _)| k.as_str())
    }
}

impl Value {
    /// Text as PowerShell's default formatter would show the value in a table cell or list.
    pub fn to_display(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format_float(*f),
            Value::String(s) => s.clone(),
            Value::DateTime(t) => t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
            Value::Array(items) => {
                let inner: Vec<String> = items.iter().map(Value::to_display).collect();
                format!("{{{}}}", inner.join(", "))
            }
            Value::Record(r) => {
                let inner: Vec<String> = r
                    .props
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.to_display()))
                    .collect();
                format!("@{{{}}}", inner.join("; "))
            }
        }
    }

    /// JSON form, as `ConvertTo-Json` writes it (dates as ISO 8601 UTC).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.clone()),
            Value::DateTime(t) => J::String(t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            Value::Array(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Record(r) => J::Object(
                r.props
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Orders two values the way `Sort-Object` and comparison operators do: numbers numerically,
    /// dates by time, text case-insensitively; `$null` first; mixed kinds compare as text.
    pub fn compare(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Less,
            (_, Value::Null) => Ordering::Greater,
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::DateTime(a), Value::DateTime(b)) => a.cmp(b),
            _ => match (self.as_f64(), other.as_f64()) {
                (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
                _ => self
                    .to_display()
                    .to_lowercase()
                    .cmp(&other.to_display().to_lowercase()),
            },
        }
    }

    /// The value as a number, when it is one (or text that reads as one).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
    }

    /// The bytes the value holds in memory, roughly: text by its length, everything else by
    /// the size of its slot, records and arrays as the sum of their parts. What the shell's
    /// bound on a pipeline's intermediate values measures.
    pub fn approx_bytes(&self) -> usize {
        const SLOT: usize = std::mem::size_of::<Value>();
        match self {
            Value::String(s) => SLOT + s.len(),
            Value::Array(items) => SLOT + items.iter().map(Value::approx_bytes).sum::<usize>(),
            Value::Record(r) => {
                SLOT + r.type_name.len()
                    + r.props
                        .iter()
                        .map(|(k, v)| k.len() + v.approx_bytes())
                        .sum::<usize>()
            }
            _ => SLOT,
        }
    }

    /// The text, when the value is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The record, when the value is one.
    pub fn as_record(&self) -> Option<&Record> {
        match self {
            Value::Record(r) => Some(r),
            _ => None,
        }
    }
}

fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else {
        let s = format!("{f:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::String(s.clone())
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<u64> for Value {
    fn from(i: u64) -> Self {
        Value::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}
impl From<u32> for Value {
    fn from(i: u32) -> Self {
        Value::Int(i64::from(i))
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<DateTime<Utc>> for Value {
    fn from(t: DateTime<Utc>) -> Self {
        Value::DateTime(t)
    }
}
impl From<Record> for Value {
    fn from(r: Record) -> Self {
        Value::Record(r)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::Array(v.into_iter().map(Into::into).collect())
    }
}
