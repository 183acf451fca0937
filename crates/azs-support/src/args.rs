//! Bound arguments: a command's parameters after the binder resolved names, positions, types and
//! constraints. Implementations read them by canonical parameter name.

use crate::value::Value;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Parameter values by canonical name (case-insensitive lookup).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoundArgs {
    values: BTreeMap<String, (String, Value)>,
}

impl BoundArgs {
    /// No arguments.
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `name` (canonical spelling) to `value`.
    pub fn insert(&mut self, name: &str, value: Value) {
        self.values
            .insert(name.to_ascii_lowercase(), (name.to_string(), value));
    }

    /// The bound value, if the parameter was bound.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(&name.to_ascii_lowercase()).map(|(_, v)| v)
    }

    /// Whether the parameter was bound.
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(&name.to_ascii_lowercase())
    }

    /// A text parameter.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.get(name) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }
    }

    /// A switch or boolean parameter: true only when bound to true.
    pub fn switch(&self, name: &str) -> bool {
        matches!(self.get(name), Some(Value::Bool(true)))
    }

    /// A date parameter.
    pub fn datetime(&self, name: &str) -> Option<DateTime<Utc>> {
        match self.get(name) {
            Some(Value::DateTime(t)) => Some(*t),
            _ => None,
        }
    }

    /// A text-array parameter (a single text binds as a one-element array).
    pub fn strings(&self, name: &str) -> Vec<String> {
        match self.get(name) {
            Some(Value::Array(items)) => items.iter().map(Value::to_display).collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(v) => vec![v.to_display()],
        }
    }

    /// Every binding, canonical name and value, in name order (for transcripts).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.values.values().map(|(k, v)| (k.as_str(), v))
    }
}
