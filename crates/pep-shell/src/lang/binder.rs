//! The binder: a parsed command call against its catalog entry, into [`BoundArgs`].
//!
//! It follows PowerShell's order: named parameters first (exact name or alias, then a unique
//! prefix), each followed by its value unless it is a switch; then positional arguments to the
//! still-unbound positional parameters in position order; then conversion and the catalog's
//! constraints; then mandatory parameters; then catalog defaults for what is still absent.
//! `-WhatIf` and `-Confirm` exist only for commands that support ShouldProcess.

use super::convert::{convert, convert_default, type_name, validate};
use super::error::{ErrorId, LangError};
use super::parser::{Arg, CommandCall};
use azs_support::catalog::{CommandSpec, ParamSpec, ParamType};
use azs_support::{BoundArgs, Value};

/// The common ShouldProcess switches, present when the command supports them.
fn common_params(spec: &CommandSpec) -> Vec<ParamSpec> {
    if !spec.supports_should_process {
        return Vec::new();
    }
    ["WhatIf", "Confirm"]
        .into_iter()
        .map(|name| ParamSpec {
            name: name.into(),
            kind: ParamType::Switch,
            mandatory: false,
            position: None,
            aliases: if name == "WhatIf" {
                vec!["wi".into()]
            } else {
                vec!["cf".into()]
            },
            validate_set: Vec::new(),
            validate_pattern: None,
            range: None,
            default: None,
            secret: false,
            wildcards: false,
            help: String::new(),
        })
        .collect()
}

/// Every parameter the command accepts, declared ones first, then `WhatIf`/`Confirm`.
pub fn all_params(spec: &CommandSpec) -> Vec<ParamSpec> {
    let mut all = spec.parameters.clone();
    all.extend(common_params(spec));
    all
}

/// Resolves a typed parameter name among `params`: exact name or alias, else a unique prefix.
pub fn resolve_param<'p>(params: &'p [ParamSpec], typed: &str) -> Result<&'p ParamSpec, LangError> {
    let lower = typed.to_lowercase();
    let names = |p: &'p ParamSpec| std::iter::once(&p.name).chain(p.aliases.iter());
    if let Some(p) = params
        .iter()
        .find(|p| names(p).any(|n| n.to_lowercase() == lower))
    {
        return Ok(p);
    }
    let matches: Vec<&ParamSpec> = params
        .iter()
        .filter(|p| names(p).any(|n| n.to_lowercase().starts_with(&lower)))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(LangError::new(
            ErrorId::ParameterNotFound,
            format!("A parameter cannot be found that matches parameter name '{typed}'."),
        )),
        many => {
            let list: Vec<String> = many.iter().map(|p| format!("-{}", p.name)).collect();
            Err(LangError::new(
                ErrorId::AmbiguousParameter,
                format!(
                    "Parameter cannot be processed because the parameter name '{typed}' is \
                     ambiguous. Possible matches include: {}.",
                    list.join(" ")
                ),
            ))
        }
    }
}

fn bind_one(out: &mut BoundArgs, p: &ParamSpec, value: &Value) -> Result<(), LangError> {
    if out.has(&p.name) {
        return Err(LangError::new(
            ErrorId::ParameterBindingFailed,
            format!(
                "Cannot bind parameter because parameter '{}' is specified more than once; give \
                 several values as one comma list (-{} a,b).",
                p.name, p.name
            ),
        ));
    }
    let converted = validate(convert(value, p)?, p)?;
    out.insert(&p.name, converted);
    Ok(())
}

/// Binds `call`'s arguments to `spec`'s parameters.
pub fn bind(spec: &CommandSpec, call: &CommandCall) -> Result<BoundArgs, LangError> {
    let params = all_params(spec);
    let mut out = BoundArgs::declaring(params.iter().map(|p| p.name.as_str()));
    let mut positional: Vec<&Value> = Vec::new();
    let mut args = call.args.iter().peekable();
    while let Some(arg) = args.next() {
        match arg {
            Arg::Positional { value, .. } => positional.push(value),
            Arg::Named { name, value, .. } => {
                let p = resolve_param(&params, name)?;
                match (value, p.kind) {
                    (Some(v), _) => bind_one(&mut out, p, v)?,
                    (None, ParamType::Switch) => bind_one(&mut out, p, &Value::Bool(true))?,
                    (None, kind) => match args.peek() {
                        Some(Arg::Positional { value, .. }) => {
                            bind_one(&mut out, p, value)?;
                            args.next();
                        }
                        _ => {
                            return Err(LangError::new(
                                ErrorId::ParameterBindingFailed,
                                format!(
                                    "Missing an argument for parameter '{}'. Specify a parameter \
                                     of type '{}' and try again.",
                                    p.name,
                                    type_name(kind)
                                ),
                            ))
                        }
                    },
                }
            }
        }
    }
    let mut slots: Vec<&ParamSpec> = params
        .iter()
        .filter(|p| p.position.is_some() && !out.has(&p.name))
        .collect();
    slots.sort_by_key(|p| p.position);
    let mut slots = slots.into_iter();
    for value in positional {
        match slots.next() {
            Some(p) => bind_one(&mut out, p, value)?,
            None => {
                let shown = match value {
                    Value::Array(_) => value.to_display(),
                    Value::Null => "$null".into(),
                    v => v.to_display(),
                };
                return Err(LangError::new(
                    ErrorId::PositionalNotFound,
                    format!(
                        "A positional parameter cannot be found that accepts argument '{shown}'."
                    ),
                ));
            }
        }
    }
    let missing: Vec<&str> = params
        .iter()
        .filter(|p| p.mandatory && !out.has(&p.name))
        .map(|p| p.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(LangError::new(
            ErrorId::MissingMandatory,
            format!(
                "Cannot process command because of one or more missing mandatory parameters: {}.",
                missing.join(" ")
            ),
        ));
    }
    for p in &params {
        if out.has(&p.name) {
            continue;
        }
        if let Some(v) = p.default.as_deref().and_then(|d| convert_default(d, p)) {
            out.insert(&p.name, v);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "binder_tests.rs"]
mod tests;
