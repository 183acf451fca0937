//! Bound arguments: a command's parameters after the binder resolved names, positions, types and
//! constraints. Implementations read them by canonical parameter name.
//!
//! Arguments bound for a catalog entry know the parameters it declares: reading one it does not
//! declare (a typo, a parameter the entry lost) is a bug that would silently read as absent, so
//! debug builds (tests included) panic on it.

use crate::value::Value;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// Parameter values by canonical name (case-insensitive lookup).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoundArgs {
    values: BTreeMap<String, (String, Value)>,
    /// The parameters the command declares (lower-cased), when known.
    declared: Option<BTreeSet<String>>,
}

impl BoundArgs {
    /// No arguments, for a command whose parameters are not known here (tests of one stage).
    pub fn new() -> Self {
        Self::default()
    }

    /// No arguments yet, for a command that declares exactly the parameters `names` (canonical
    /// names; the runtime's `WhatIf` and `Confirm` included where they apply).
    pub fn declaring<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        BoundArgs {
            values: BTreeMap::new(),
            declared: Some(names.into_iter().map(str::to_ascii_lowercase).collect()),
        }
    }

    /// Whether the command declares the parameter `name` (true when its declaration is unknown).
    pub fn declares(&self, name: &str) -> bool {
        self.declared
            .as_ref()
            .is_none_or(|d| d.contains(&name.to_ascii_lowercase()))
    }

    /// Debug builds: `name` must be a declared parameter.
    fn check(&self, name: &str) {
        debug_assert!(
            self.declares(name),
            "parameter '{name}' is read but the command does not declare it (declared: {:?})",
            self.declared
        );
    }

    /// Binds `name` (canonical spelling) to `value`.
    pub fn insert(&mut self, name: &str, value: Value) {
        self.values
            .insert(name.to_ascii_lowercase(), (name.to_string(), value));
    }

    /// The bound value, if the parameter was bound.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.check(name);
        self.values.get(&name.to_ascii_lowercase()).map(|(_, v)| v)
    }

    /// Whether the parameter was bound.
    pub fn has(&self, name: &str) -> bool {
        self.check(name);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_parameters_read_as_bound_or_absent() {
        let mut args = BoundArgs::declaring(["Name", "Force"]);
        args.insert("Name", "x".into());
        assert_eq!(args.str("name"), Some("x"));
        assert!(!args.switch("Force"));
        assert!(args.declares("force") && !args.declares("Nmae"));
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "parameter 'Nmae' is read but the command does not declare it")]
    fn reading_an_undeclared_parameter_panics_in_debug_builds() {
        let args = BoundArgs::declaring(["Name"]);
        let _ = args.str("Nmae");
    }

    #[test]
    fn without_a_declaration_anything_reads_as_absent() {
        assert_eq!(BoundArgs::new().str("Anything"), None);
    }
}
