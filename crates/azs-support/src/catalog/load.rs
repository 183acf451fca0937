//! The catalog loader: parses `catalog/*.toml` (format version 1, documented in `catalog/README.md`)
//! into the `raw` structs, validates every rule the rest of the system relies on, and converts the
//! result into the `spec` types.
//!
//! It owns `CatalogError` and the command-level rules: names, aliases, synopsis, access, examples,
//! output, unique parameter names and positions; each parameter is converted and checked by
//! `params`. Every error is one line naming the file, the command (entry) and the problem. A whole
//! file set is validated at once (names and aliases must be unique in each concrete profile, `all`
//! commands included), then filtered to the requested profile.

use super::params::{convert_param, PARAM_NAME};
use super::raw::{RawAccess, RawCommand, RawFile, RawHandler, RawOutput, RawProfile, RawView};
use super::spec::{Access, Catalog, CommandSpec, Example, HandlerKind, OutputSpec, Profile, View};
use regex::Regex;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::LazyLock;

/// The only catalog format version this loader reads.
pub const FORMAT_VERSION: i64 = 1;

static MODULE_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9.-]{0,127}$").expect("static pattern"));
static COMMAND_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z]+-[A-Za-z0-9]+$").expect("static pattern"));
static COMMAND_ALIAS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)?$").expect("static pattern")
});

/// A catalog that failed to load: which file, which command (entry), what is wrong. One line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.file, .command.as_deref(), .problem))]
pub struct CatalogError {
    /// The file, as named to the loader (`catalog/cluster.toml`).
    pub file: String,
    /// The command (entry) concerned, when the problem is inside one.
    pub command: Option<String>,
    /// What is wrong.
    pub problem: String,
}

fn render(file: &str, command: Option<&str>, problem: &str) -> String {
    match command {
        Some(c) => format!("{file}: command '{c}': {problem}"),
        None => format!("{file}: {problem}"),
    }
}

impl CatalogError {
    fn new(file: &str, command: Option<&str>, problem: impl Into<String>) -> Self {
        // One line, whatever the underlying message looked like.
        let problem: String = problem.into();
        let problem = problem.split_whitespace().collect::<Vec<_>>().join(" ");
        CatalogError {
            file: file.to_string(),
            command: command.map(str::to_string),
            problem,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// Loads every `*.toml` file in `dir` (sorted by file name) and returns the catalog of `profile`.
pub fn load_dir(dir: &Path, profile: Profile) -> Result<Catalog, CatalogError> {
    Ok(Catalog::for_profile(profile, load_dir_all(dir)?))
}

/// Loads every `*.toml` file in `dir` (sorted by file name) and returns every command of every
/// profile, in file order (to bind every entry to its handler before serving one profile).
pub fn load_dir_all(dir: &Path) -> Result<Vec<CommandSpec>, CatalogError> {
    let shown = dir.display().to_string();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CatalogError::new(&shown, None, format!("cannot read directory: {e}")))?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry
            .map_err(|e| CatalogError::new(&shown, None, format!("cannot read directory: {e}")))?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(CatalogError::new(&shown, None, "no *.toml catalog files"));
    }
    let mut texts = Vec::with_capacity(paths.len());
    for path in &paths {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| CatalogError::new(&name, None, format!("cannot read: {e}")))?;
        texts.push((name, text));
    }
    let sources: Vec<(&str, &str)> = texts
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    load_all(&sources)
}

/// Parses and validates `(file name, text)` pairs and returns the catalog of `profile`.
pub fn load_sources(sources: &[(&str, &str)], profile: Profile) -> Result<Catalog, CatalogError> {
    Ok(Catalog::for_profile(profile, load_all(sources)?))
}

/// Parses and validates every file and returns every command of every profile, in file order.
pub(crate) fn load_all(sources: &[(&str, &str)]) -> Result<Vec<CommandSpec>, CatalogError> {
    let mut sorted: Vec<&(&str, &str)> = sources.iter().collect();
    sorted.sort_by_key(|(name, _)| *name);
    let mut commands = Vec::new();
    for (name, text) in sorted {
        commands.extend(parse_file(name, text)?);
    }
    check_unique_names(&commands)?;
    Ok(commands)
}

// ---------------------------------------------------------------------------------------------
// File parsing
// ---------------------------------------------------------------------------------------------

fn parse_file(file: &str, text: &str) -> Result<Vec<CommandSpec>, CatalogError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let command = e.span().and_then(|s| command_at(text, s.start));
        let line = e
            .span()
            .map(|s| {
                format!(
                    "line {}: ",
                    text[..s.start.min(text.len())].lines().count().max(1)
                )
            })
            .unwrap_or_default();
        CatalogError::new(file, command.as_deref(), format!("{line}{}", e.message()))
    })?;
    if raw.version != FORMAT_VERSION {
        return Err(CatalogError::new(
            file,
            None,
            format!(
                "version {} is not supported (this loader reads version {FORMAT_VERSION})",
                raw.version
            ),
        ));
    }
    if raw.group.trim().is_empty() {
        return Err(CatalogError::new(file, None, "group must not be empty"));
    }
    if let Some(m) = raw.module.as_deref().filter(|m| !MODULE_NAME.is_match(m)) {
        return Err(CatalogError::new(
            file,
            None,
            format!(
                "module '{m}' must be letters, digits, dots and dashes, starting with a letter"
            ),
        ));
    }
    let profile = profile_of(raw.profile);
    let module = raw.module.as_deref().unwrap_or(&raw.group);
    raw.commands
        .into_iter()
        .map(|c| convert_command(file, &raw.group, module, profile, c))
        .collect()
}

/// The name of the `[[command]]` entry containing byte `offset`, for parse errors.
fn command_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let header = before.rfind("[[command]]")?;
    for line in text[header..].lines().skip(1) {
        let line = line.trim();
        if line.starts_with('[') {
            break;
        }
        if let Some(rest) = line.strip_prefix("name") {
            let value = rest.trim_start().strip_prefix('=')?.trim();
            return Some(value.trim_matches(|c| c == '"' || c == '\'').to_string());
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Validation and conversion
// ---------------------------------------------------------------------------------------------

fn profile_of(raw: RawProfile) -> Profile {
    match raw {
        RawProfile::AzsHub => Profile::AzsHub,
        RawProfile::AzureLocal => Profile::AzureLocal,
        RawProfile::Linux => Profile::Linux,
        RawProfile::All => Profile::All,
    }
}

fn convert_command(
    file: &str,
    group: &str,
    module: &str,
    profile: Profile,
    raw: RawCommand,
) -> Result<CommandSpec, CatalogError> {
    let name = raw.name.clone();
    let err = |problem: String| CatalogError::new(file, Some(&name), problem);

    if !COMMAND_NAME.is_match(&raw.name) {
        return Err(err(
            "command name must be Verb-Noun (letters, a dash, letters and digits)".into(),
        ));
    }
    for alias in &raw.aliases {
        if !COMMAND_ALIAS.is_match(alias) {
            return Err(err(format!(
                "alias '{alias}' must be letters and digits, optionally with one dash"
            )));
        }
    }
    if raw.synopsis.trim().is_empty() || raw.synopsis.contains('\n') {
        return Err(err("synopsis must be one non-empty line".into()));
    }
    if raw.description.trim().is_empty() {
        return Err(err("description must not be empty".into()));
    }
    let access = match raw.access {
        RawAccess::Default => Access::Default,
        RawAccess::Diagnostics => Access::Diagnostics,
        RawAccess::DiagnosticsRepair => Access::DiagnosticsRepair,
        RawAccess::Operator => Access::Operator,
        RawAccess::Elevated => Access::Elevated,
    };
    let also_profiles: Vec<Profile> = raw.also_profiles.iter().copied().map(profile_of).collect();
    if let Some(p) = also_profiles
        .iter()
        .find(|p| **p == Profile::All || **p == profile)
    {
        return Err(err(format!(
            "also_profiles may not name '{}': the command is already served there",
            p.as_str()
        )));
    }
    if raw.also_operator && !matches!(access, Access::Diagnostics | Access::DiagnosticsRepair) {
        return Err(err(
            "also_operator applies only to Diagnostics or DiagnosticsRepair commands".into(),
        ));
    }

    let mut parameters = Vec::with_capacity(raw.parameters.len());
    let mut param_names: HashMap<String, String> = HashMap::new();
    let mut positions: HashMap<u32, String> = HashMap::new();
    for p in raw.parameters {
        let spec = convert_param(p).map_err(|(param, problem)| {
            err(match param {
                Some(param) => format!("parameter '{param}': {problem}"),
                None => problem,
            })
        })?;
        for n in std::iter::once(&spec.name).chain(spec.aliases.iter()) {
            if let Some(prev) = param_names.insert(n.to_ascii_lowercase(), spec.name.clone()) {
                return Err(err(format!(
                    "parameter '{}': name or alias '{n}' is already used by parameter '{prev}'",
                    spec.name
                )));
            }
        }
        if let Some(pos) = spec.position {
            if let Some(prev) = positions.insert(pos, spec.name.clone()) {
                return Err(err(format!(
                    "parameter '{}': position {pos} is already used by parameter '{prev}'",
                    spec.name
                )));
            }
        }
        parameters.push(spec);
    }

    if raw.examples.is_empty() {
        return Err(err("at least one example is required".into()));
    }
    let mut examples = Vec::with_capacity(raw.examples.len());
    for ex in raw.examples {
        let code = ex.code.trim();
        let names = || std::iter::once(&raw.name).chain(raw.aliases.iter());
        let starts = names().any(|n| starts_with_word(code, n));
        // A command that takes piped input is shown at the end of a pipeline.
        let piped = raw.pipeline_input
            && code
                .rsplit_once('|')
                .is_some_and(|(_, last)| names().any(|n| starts_with_word(last.trim(), n)));
        if !starts && !piped {
            return Err(err(format!(
                "example '{code}' must start with the command name or one of its aliases (or, for a command that takes piped input, end a pipeline with it)"
            )));
        }
        examples.push(Example {
            code: code.to_string(),
            remarks: ex.remarks.trim().to_string(),
        });
    }

    let output = convert_output(raw.output).map_err(|p| err(format!("output: {p}")))?;
    let handler = convert_handler(raw.handler, raw.available_with, access, raw.pipeline_input)
        .map_err(err)?;
    if let Some(m) = raw.module.as_deref().filter(|m| !MODULE_NAME.is_match(m)) {
        return Err(err(format!(
            "module '{m}' must be letters, digits, dots and dashes, starting with a letter"
        )));
    }
    if raw.exit_status_from_result && output.type_name != "System.Boolean" {
        return Err(err(
            "exit_status_from_result needs output type_name = \"System.Boolean\" (the verdict is the final True or False)".into(),
        ));
    }

    Ok(CommandSpec {
        name: raw.name,
        aliases: raw.aliases,
        access,
        profile,
        group: group.to_string(),
        synopsis: raw.synopsis.trim().to_string(),
        description: raw.description.trim().to_string(),
        parameters,
        examples,
        output,
        pipeline_input: raw.pipeline_input,
        supports_should_process: raw.supports_should_process,
        also_operator: raw.also_operator,
        also_profiles,
        handler,
        exit_status_from_result: raw.exit_status_from_result,
        source_file: file.to_string(),
        module: raw.module.unwrap_or_else(|| module.to_string()),
    })
}

/// The handler kind, checked against what the kind implies: `available_with` (one line) exactly
/// for `later`; built-ins and formatters are `Default` commands, formatters take piped input and
/// built-ins do not; consent and history commands are `Operator` commands.
fn convert_handler(
    raw: RawHandler,
    available_with: Option<String>,
    access: Access,
    pipeline_input: bool,
) -> Result<HandlerKind, String> {
    let kind = match (raw, available_with) {
        (RawHandler::Later, Some(with)) => {
            let with = with.trim();
            if with.is_empty() || with.contains('\n') {
                return Err("available_with must be one non-empty line".into());
            }
            HandlerKind::Later(with.to_string())
        }
        (RawHandler::Later, None) => {
            return Err(
                "handler = \"later\" needs available_with (the capability it comes with)".into(),
            )
        }
        (_, Some(_)) => return Err("available_with applies only to handler = \"later\"".into()),
        (RawHandler::Builtin, None) => HandlerKind::Builtin,
        (RawHandler::Operator, None) => HandlerKind::Operator,
        (RawHandler::Formatter, None) => HandlerKind::Formatter,
        (RawHandler::Stamp, None) => HandlerKind::Stamp,
        (RawHandler::Logs, None) => HandlerKind::Logs,
        (RawHandler::Elevation, None) => HandlerKind::Elevation,
    };
    match kind {
        HandlerKind::Builtin | HandlerKind::Formatter if access != Access::Default => Err(format!(
            "handler = \"{}\" needs access = \"Default\"",
            kind.as_str()
        )),
        HandlerKind::Formatter if !pipeline_input => {
            Err("handler = \"formatter\" needs pipeline_input = true".into())
        }
        HandlerKind::Builtin if pipeline_input => {
            Err("handler = \"builtin\" takes no piped input".into())
        }
        HandlerKind::Operator if access != Access::Operator => {
            Err("handler = \"operator\" needs access = \"Operator\"".into())
        }
        kind => Ok(kind),
    }
}

/// Whether `code` starts with the word `name` (case-insensitive), followed by its end, a space or `|`.
fn starts_with_word(code: &str, name: &str) -> bool {
    match code.get(..name.len()) {
        Some(head) if head.eq_ignore_ascii_case(name) => code[name.len()..]
            .chars()
            .next()
            .is_none_or(|c| c.is_whitespace() || c == '|'),
        _ => false,
    }
}

fn convert_output(raw: RawOutput) -> Result<OutputSpec, String> {
    let view = match raw.view {
        RawView::Table => View::Table,
        RawView::List => View::List,
        RawView::Text => View::Text,
    };
    if view != View::Text && raw.properties.is_empty() {
        return Err("properties must not be empty unless view = \"text\"".into());
    }
    let mut seen = HashSet::new();
    for p in &raw.properties {
        if !PARAM_NAME.is_match(p) {
            return Err(format!("property '{p}' must be letters and digits"));
        }
        if !seen.insert(p.to_ascii_lowercase()) {
            return Err(format!("property '{p}' is listed twice"));
        }
    }
    for s in &raw.default_sort {
        if !seen.contains(&s.to_ascii_lowercase()) {
            return Err(format!("default_sort '{s}' is not one of the properties"));
        }
    }
    let in_sort = |p: &str| raw.default_sort.iter().any(|s| s.eq_ignore_ascii_case(p));
    for d in &raw.default_sort_descending {
        if !in_sort(d) {
            return Err(format!(
                "default_sort_descending '{d}' is not one of default_sort"
            ));
        }
    }
    for (p, order) in &raw.sort_order {
        if !in_sort(p) {
            return Err(format!("sort_order '{p}' is not one of default_sort"));
        }
        let mut values = HashSet::new();
        if order.is_empty() || !order.iter().all(|v| values.insert(v.to_ascii_lowercase())) {
            return Err(format!(
                "sort_order '{p}' must list one or more values, each once"
            ));
        }
    }
    Ok(OutputSpec {
        type_name: raw.type_name,
        properties: raw.properties,
        default_sort: raw.default_sort,
        default_sort_descending: raw.default_sort_descending,
        sort_order: raw.sort_order.into_iter().collect(),
        view,
    })
}

/// Names and aliases must be unique (case-insensitive) within each concrete profile; a command of
/// profile `all` is in every one, one with `also_profiles` in those too.
fn check_unique_names(commands: &[CommandSpec]) -> Result<(), CatalogError> {
    for &serving in Profile::SERVED {
        let mut seen: HashMap<String, &CommandSpec> = HashMap::new();
        for c in commands.iter().filter(|c| c.served_in(serving)) {
            for n in std::iter::once(&c.name).chain(c.aliases.iter()) {
                if let Some(prev) = seen.insert(n.to_ascii_lowercase(), c) {
                    let what = if n == &c.name { "name" } else { "alias" };
                    return Err(CatalogError::new(
                        &c.source_file,
                        Some(&c.name),
                        format!(
                            "{what} '{n}' is already used by command '{}' ({}) in profile {}",
                            prev.name,
                            prev.source_file,
                            serving.as_str()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const HEAD: &str = "version = 1\ngroup = \"Test\"\nprofile = \"azs-hub\"\n";

    /// A minimal valid command named `name`, with `extra` lines appended inside it (before the
    /// output table) and `params` as parameter tables.
    pub(crate) fn command(name: &str, extra: &str, params: &str) -> String {
        format!(
            "[[command]]\nname = \"{name}\"\naccess = \"Diagnostics\"\nsynopsis = \"Does a thing.\"\n\
             description = \"Does a thing, at length.\"\n{extra}\n{params}\n\
             [[command.example]]\ncode = \"{name}\"\n\
             [command.output]\ntype_name = \"T\"\nproperties = [\"Name\", \"State\"]\nview = \"table\"\n"
        )
    }

    pub(crate) fn load(text: &str) -> Result<Catalog, CatalogError> {
        load_sources(&[("catalog/test.toml", text)], Profile::AzsHub)
    }

    pub(crate) fn load_err(text: &str) -> String {
        load(text)
            .expect_err("the catalog should be refused")
            .to_string()
    }

    pub(crate) fn param(body: &str) -> String {
        format!("[[command.parameter]]\n{body}\nhelp = \"Help.\"\n")
    }

    #[test]
    fn minimal_command_loads_with_defaults() {
        let text = format!(
            "{HEAD}{}",
            command(
                "Get-Thing",
                "",
                &param("name = \"Name\"\ntype = \"string\"")
            )
        );
        let cat = load(&text).expect("valid catalog");
        let c = cat.get("get-thing").expect("command present");
        assert_eq!(c.group, "Test");
        assert_eq!(c.profile, Profile::AzsHub);
        assert!(!c.pipeline_input && !c.supports_should_process && !c.also_operator);
        let p = c.param("name").expect("parameter present");
        assert!(!p.mandatory && p.position.is_none() && p.aliases.is_empty());
        assert_eq!(c.source_file, "catalog/test.toml");
    }

    #[test]
    fn version_must_be_one() {
        let text = format!(
            "version = 2\ngroup = \"Test\"\nprofile = \"azs-hub\"\n{}",
            command("Get-Thing", "", "")
        );
        let e = load_err(&text);
        assert!(e.contains("version 2 is not supported"), "{e}");
        assert!(e.starts_with("catalog/test.toml: "), "{e}");
    }

    #[test]
    fn unknown_keys_are_rejected_naming_the_command() {
        let text = format!("{HEAD}{}", command("Get-Thing", "colour = \"red\"", ""));
        let e = load_err(&text);
        assert!(e.contains("unknown field `colour`"), "{e}");
        assert!(e.contains("command 'Get-Thing'"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let text = format!(
            "{HEAD}{}",
            command(
                "Get-Thing",
                "",
                &param("name = \"X\"\ntype = \"string\"\nfoo = 1")
            )
        );
        assert!(load_err(&text).contains("unknown field `foo`"));
        let top = format!("{HEAD}extra = 1\n");
        assert!(load_err(&top).contains("unknown field `extra`"));
    }

    #[test]
    fn command_names_must_be_verb_noun() {
        for bad in ["GetThing", "Get-Thing-More", "Get-Th!ng", "-Thing"] {
            let text = format!("{HEAD}{}", command(bad, "", ""));
            assert!(load(&text).is_err(), "{bad} should be refused");
        }
        let text = format!("{HEAD}{}", command("Get-Thing2", "", ""));
        assert!(load(&text).is_ok());
    }

    #[test]
    fn names_and_aliases_are_unique_per_profile() {
        let text = format!(
            "{HEAD}{}{}",
            command("Get-Thing", "", ""),
            command("get-thing", "", "")
        );
        assert!(load_err(&text).contains("already used by command 'Get-Thing'"));

        let text = format!(
            "{HEAD}{}{}",
            command("Get-Thing", "aliases = [\"gt\"]", ""),
            command("Get-Other", "aliases = [\"GT\"]", "")
        );
        assert!(load_err(&text).contains("alias 'GT'"));

        // The same name in two concrete profiles is fine.
        let hub = format!("{HEAD}{}", command("Get-Thing", "", ""));
        let local = format!(
            "version = 1\ngroup = \"L\"\nprofile = \"azure-local\"\n{}",
            command("Get-Thing", "", "")
        );
        let sources = [("a.toml", hub.as_str()), ("b.toml", local.as_str())];
        assert!(load_sources(&sources, Profile::AzureLocal).is_ok());

        // A profile-`all` command collides with either profile, whichever is loaded.
        let all = format!(
            "version = 1\ngroup = \"D\"\nprofile = \"all\"\n{}",
            command("Get-Other", "aliases = [\"get-thing\"]", "")
        );
        let sources = [("b.toml", local.as_str()), ("c.toml", all.as_str())];
        let e = load_sources(&sources, Profile::AzsHub)
            .expect_err("all collides with azure-local")
            .to_string();
        assert!(e.contains("profile azure-local"), "{e}");
    }

    #[test]
    fn parameter_names_and_aliases_are_checked() {
        let bad = param("name = \"1Name\"\ntype = \"string\"");
        assert!(
            load_err(&format!("{HEAD}{}", command("Get-Thing", "", &bad)))
                .contains("parameter '1Name'")
        );
        let two = format!(
            "{}{}",
            param("name = \"ComputerName\"\ntype = \"string\"\naliases = [\"CN\"]"),
            param("name = \"cn\"\ntype = \"string\"")
        );
        let e = load_err(&format!("{HEAD}{}", command("Get-Thing", "", &two)));
        assert!(
            e.contains("'cn' is already used by parameter 'ComputerName'"),
            "{e}"
        );
    }

    #[test]
    fn positions_are_unique() {
        let two = format!(
            "{}{}",
            param("name = \"A\"\ntype = \"string\"\nposition = 0"),
            param("name = \"B\"\ntype = \"string\"\nposition = 0")
        );
        let e = load_err(&format!("{HEAD}{}", command("Get-Thing", "", &two)));
        assert!(
            e.contains("position 0 is already used by parameter 'A'"),
            "{e}"
        );
    }

    #[test]
    fn default_sort_is_a_subset_of_properties() {
        let text = format!("{HEAD}{}", command("Get-Thing", "", "")).replace(
            "view = \"table\"",
            "default_sort = [\"Owner\"]\nview = \"table\"",
        );
        assert!(load_err(&text).contains("default_sort 'Owner' is not one of the properties"));
        let text = format!("{HEAD}{}", command("Get-Thing", "", "")).replace(
            "view = \"table\"",
            "default_sort = [\"State\", \"Name\"]\nview = \"table\"",
        );
        let cat = load(&text).expect("valid");
        assert_eq!(
            cat.get("Get-Thing").map(|c| c.output.default_sort.clone()),
            Some(vec!["State".to_string(), "Name".to_string()])
        );
        let text = format!("{HEAD}{}", command("Get-Thing", "", "")).replace(
            "view = \"table\"",
            "default_sort = [\"State\", \"Name\"]\ndefault_sort_descending = [\"State\"]\nview = \"table\"",
        );
        let cat = load(&text).expect("valid");
        let keys = cat
            .get("Get-Thing")
            .map(|c| c.output.sort_keys())
            .unwrap_or_default();
        let keys: Vec<(&str, bool)> = keys
            .iter()
            .map(|k| (k.property.as_str(), k.descending))
            .collect();
        assert_eq!(keys, [("State", true), ("Name", false)]);
        let text = format!("{HEAD}{}", command("Get-Thing", "", "")).replace(
            "view = \"table\"",
            "default_sort = [\"State\"]\nsort_order = { State = [\"Failed\", \"Running\"] }\nview = \"table\"",
        );
        let cat = load(&text).expect("valid");
        assert_eq!(
            cat.get("Get-Thing")
                .map(|c| c.output.sort_keys()[0].order.clone()),
            Some(vec!["Failed".to_string(), "Running".to_string()])
        );
        for bad in [
            "sort_order = { Name = [\"a\"] }",
            "sort_order = { State = [] }",
            "sort_order = { State = [\"a\", \"A\"] }",
        ] {
            let text = format!("{HEAD}{}", command("Get-Thing", "", "")).replace(
                "view = \"table\"",
                &format!("default_sort = [\"State\"]\n{bad}\nview = \"table\""),
            );
            assert!(load_err(&text).contains("sort_order"), "{bad}");
        }
        let text = format!("{HEAD}{}", command("Get-Thing", "", "")).replace(
            "view = \"table\"",
            "default_sort = [\"Name\"]\ndefault_sort_descending = [\"State\"]\nview = \"table\"",
        );
        assert!(
            load_err(&text).contains("default_sort_descending 'State' is not one of default_sort")
        );
    }

    #[test]
    fn non_text_views_need_properties() {
        let text = format!("{HEAD}{}", command("Get-Thing", "", ""))
            .replace("properties = [\"Name\", \"State\"]\n", "");
        assert!(load_err(&text).contains("properties must not be empty"));
        let text = format!("{HEAD}{}", command("Get-Thing", "", ""))
            .replace("properties = [\"Name\", \"State\"]\n", "")
            .replace("view = \"table\"", "view = \"text\"");
        assert!(load(&text).is_ok());
    }

    #[test]
    fn examples_start_with_the_name_or_an_alias() {
        let text = format!("{HEAD}{}", command("Get-Thing", "aliases = [\"gt\"]", ""))
            .replace("code = \"Get-Thing\"", "code = \"Get-Other -Name x\"");
        assert!(load_err(&text).contains("must start with the command name"));
        let text = format!("{HEAD}{}", command("Get-Thing", "aliases = [\"gt\"]", ""))
            .replace("code = \"Get-Thing\"", "code = \"Get-ThingX\"");
        assert!(load_err(&text).contains("must start with the command name"));
        let text = format!("{HEAD}{}", command("Get-Thing", "aliases = [\"gt\"]", ""))
            .replace("code = \"Get-Thing\"", "code = \"gt -Name x | ft\"");
        assert!(load(&text).is_ok());
        let text = format!("{HEAD}{}", command("Get-Thing", "", ""))
            .replace("[[command.example]]\ncode = \"Get-Thing\"\n", "");
        assert!(load_err(&text).contains("at least one example"));
    }

    #[test]
    fn also_profiles_serve_a_command_in_other_profiles_too() {
        let text = format!(
            "{HEAD}{}{}",
            command("Get-Thing", "also_profiles = [\"linux\"]", ""),
            command("Get-Other", "", "")
        );
        let all = load_all(&[("t.toml", text.as_str())]).expect("valid");
        let linux = Catalog::for_profile(Profile::Linux, all.clone());
        assert!(linux.get("Get-Thing").is_some() && linux.get("Get-Other").is_none());
        let hub = Catalog::for_profile(Profile::AzsHub, all);
        assert!(hub.get("Get-Thing").is_some() && hub.get("Get-Other").is_some());
        for bad in ["all", "azs-hub"] {
            let text = format!(
                "{HEAD}{}",
                command("Get-Thing", &format!("also_profiles = [\"{bad}\"]"), "")
            );
            assert!(
                load_err(&text).contains("also_profiles may not name"),
                "{bad}"
            );
        }
        // Names stay unique in every profile that serves them.
        let text = format!(
            "{HEAD}{}version = 1\n",
            command("Get-Thing", "also_profiles = [\"linux\"]", "")
        );
        let other = "version = 1\ngroup = \"L\"\nprofile = \"linux\"\n".to_string()
            + &command("Get-Thing", "", "");
        let e = load_all(&[
            ("a.toml", text.trim_end_matches("version = 1\n")),
            ("b.toml", other.as_str()),
        ])
        .expect_err("duplicate in linux")
        .to_string();
        assert!(e.contains("in profile linux"), "{e}");
    }

    #[test]
    fn also_operator_needs_a_support_level() {
        let text = format!("{HEAD}{}", command("Get-Thing", "also_operator = true", ""))
            .replace("access = \"Diagnostics\"", "access = \"Operator\"");
        assert!(load_err(&text).contains("also_operator applies only"));
    }

    #[test]
    fn handler_defaults_to_stamp_and_later_names_what_it_comes_with() {
        let cat = load(&format!("{HEAD}{}", command("Get-Thing", "", ""))).expect("valid");
        assert_eq!(
            cat.get("Get-Thing").map(|c| c.handler.clone()),
            Some(HandlerKind::Stamp)
        );
        let later = "handler = \"later\"\navailable_with = \"a later version\"";
        let cat = load(&format!("{HEAD}{}", command("Get-Thing", later, ""))).expect("valid");
        assert_eq!(
            cat.get("Get-Thing").map(|c| c.handler.clone()),
            Some(HandlerKind::Later("a later version".into()))
        );
        let e = load_err(&format!(
            "{HEAD}{}",
            command("Get-Thing", "handler = \"later\"", "")
        ));
        assert!(e.contains("needs available_with"), "{e}");
        let e = load_err(&format!(
            "{HEAD}{}",
            command("Get-Thing", "available_with = \"x\"", "")
        ));
        assert!(e.contains("available_with applies only"), "{e}");
        let e = load_err(&format!(
            "{HEAD}{}",
            command("Get-Thing", "handler = \"script\"", "")
        ));
        assert!(e.contains("command 'Get-Thing'"), "{e}");
    }

    #[test]
    fn handler_kinds_fit_their_access_and_piped_input() {
        let e = load_err(&format!(
            "{HEAD}{}",
            command("Get-Thing", "handler = \"formatter\"", "")
        ));
        assert!(e.contains("needs access = \"Default\""), "{e}");
        let text = format!(
            "{HEAD}{}",
            command("Get-Thing", "handler = \"formatter\"", "")
        )
        .replace("access = \"Diagnostics\"", "access = \"Default\"");
        assert!(load_err(&text).contains("needs pipeline_input = true"));
        let e = load_err(&format!(
            "{HEAD}{}",
            command("Get-Thing", "handler = \"operator\"", "")
        ));
        assert!(e.contains("needs access = \"Operator\""), "{e}");
    }

    #[test]
    fn module_is_the_files_or_the_commands_own_else_the_group() {
        let two = format!(
            "{}{}",
            command("Get-Thing", "", ""),
            command("Get-Other", "module = \"Hyper-V\"", "")
        );
        let cat = load(&format!("{HEAD}{two}")).expect("valid");
        assert_eq!(
            cat.get("Get-Thing").map(|c| c.module.as_str()),
            Some("Test")
        );
        let with_file = HEAD.replace("profile", "module = \"Azs.Support\"\nprofile");
        let cat = load(&format!("{with_file}{two}")).expect("valid");
        assert_eq!(
            cat.get("Get-Thing").map(|c| c.module.as_str()),
            Some("Azs.Support")
        );
        assert_eq!(
            cat.get("Get-Other").map(|c| c.module.as_str()),
            Some("Hyper-V")
        );
        let e = load_err(&format!(
            "{HEAD}{}",
            command("Get-Thing", "module = \"a b\"", "")
        ));
        assert!(e.contains("module 'a b' must be letters"), "{e}");
        let bad_file = HEAD.replace("profile", "module = \"-x\"\nprofile");
        assert!(
            load_err(&format!("{bad_file}{}", command("Get-Thing", "", "")))
                .contains("module '-x'")
        );
    }

    #[test]
    fn wildcards_only_on_text_whose_pattern_admits_them() {
        let ok = format!(
            "{HEAD}{}",
            command(
                "Get-Thing",
                "",
                &param("name = \"Name\"\ntype = \"string[]\"\nvalidate_pattern = '^[A-Za-z*?\\[][A-Za-z*?\\[\\]-]{0,9}$'\nwildcards = true")
            )
        );
        let cat = load(&ok).expect("valid");
        assert_eq!(
            cat.get("Get-Thing")
                .and_then(|c| c.param("Name"))
                .map(|p| p.wildcards),
            Some(true)
        );
        let int = format!(
            "{HEAD}{}",
            command(
                "Get-Thing",
                "",
                &param("name = \"N\"\ntype = \"int\"\nwildcards = true")
            )
        );
        assert!(load_err(&int).contains("wildcards applies only to string"));
        let narrow = format!(
            "{HEAD}{}",
            command(
                "Get-Thing",
                "",
                &param("name = \"Name\"\ntype = \"string\"\nvalidate_pattern = '^[A-Za-z*?]{1,9}$'\nwildcards = true")
            )
        );
        assert!(load_err(&narrow).contains("refuses the pattern '[a-z]*'"));
    }

    #[test]
    fn exit_status_from_result_needs_a_boolean_verdict() {
        let e = load_err(&format!(
            "{HEAD}{}",
            command("Get-Thing", "exit_status_from_result = true", "")
        ));
        assert!(
            e.contains("exit_status_from_result needs output type_name"),
            "{e}"
        );
        let text = format!(
            "{HEAD}{}",
            command("Test-Thing", "exit_status_from_result = true", "")
        )
        .replace("type_name = \"T\"", "type_name = \"System.Boolean\"");
        let cat = load(&text).expect("valid");
        assert_eq!(
            cat.get("Test-Thing").map(|c| c.exit_status_from_result),
            Some(true)
        );
    }

    #[test]
    fn errors_are_one_line() {
        let e = load_err(&format!(
            "{HEAD}[[command]]\nname = \"Get-Thing\"\naccess = \"Root\"\n"
        ));
        assert!(!e.contains('\n'), "{e}");
        assert!(
            e.starts_with("catalog/test.toml: command 'Get-Thing': line "),
            "{e}"
        );
    }

    #[test]
    fn load_dir_reads_every_toml_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = format!("{HEAD}{}", command("Get-Thing", "", ""));
        let b = format!(
            "version = 1\ngroup = \"L\"\nprofile = \"azure-local\"\n{}",
            command("Get-Local", "", "")
        );
        std::fs::write(dir.path().join("a.toml"), a).expect("write a");
        std::fs::write(dir.path().join("b.toml"), b).expect("write b");
        std::fs::write(dir.path().join("README.md"), "not toml").expect("write readme");
        let hub = load_dir(dir.path(), Profile::AzsHub).expect("loads");
        assert_eq!(hub.commands().len(), 1);
        let local = load_dir(dir.path(), Profile::AzureLocal).expect("loads");
        assert!(local.get("Get-Local").is_some() && local.get("Get-Thing").is_none());
        let empty = tempfile::tempdir().expect("temp dir");
        assert!(load_dir(empty.path(), Profile::AzsHub).is_err());
    }
}
