//! Scenario files: parsing, inheritance (`extends`), validation, and which compiled-in stamp a
//! profile serves by default. The format is documented in `scenarios/README.md`.
//!
//! A scenario names a stamp by file path or, for the scenarios compiled into `pep`, by name
//! (`default`, `azure-local`, `csv-offline`). The base stamps ([`BASE_SCENARIOS`]) are healthy;
//! every other compiled-in scenario is a fault scenario. `extends = "default"` makes a scenario a patch on another: tables
//! merge key by key, and arrays of tables merge element by element, matched on their `id` (or
//! `name`, `serial`, `index`, `path`, `drive`) — a patch element with `remove = true` deletes its match. Errors name
//! the file, the place and the problem on one line.

use super::{GroupState, NodeState, Stamp};
use crate::catalog::Profile;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/scenario_files.rs"));

/// The default stamp's text, compiled in.
pub const DEFAULT_SCENARIO: &str = include_str!("../../../../scenarios/default.toml");

/// How deep `extends` chains may go.
const MAX_DEPTH: usize = 8;

/// How the elements of each array of tables are identified when a patch merges into its base,
/// by the array's key in the document (`[[vm.service]]` is `service`). An element matches the
/// base element whose every key field is equal; arrays listed with no key (events, cluster-log
/// lines, case steps) are logs: a patch's elements are appended, never merged, so a crash loop
/// can write event 7031 many times. Arrays not listed here (plain values such as
/// `completed_domains`) are replaced whole.
const ARRAY_KEYS: &[(&str, &[&str])] = &[
    ("host", &["name"]),
    ("vm", &["name"]),
    ("service", &["name"]),
    ("process", &["id"]),
    ("disk", &["drive"]),
    ("file", &["path"]),
    ("event", &[]),
    ("log", &[]),
    ("evidence", &[]),
    ("repair", &[]),
    ("group", &["name"]),
    ("resource", &["name"]),
    ("csv", &["name"]),
    ("physical_disk", &["serial"]),
    ("virtual_disk", &["name"]),
    ("job", &["name", "virtual_disk"]),
    ("enclosure", &["name"]),
    ("volume", &["name"]),
    ("account", &["name"]),
    ("managed_disk", &["name"]),
    ("ring", &["name"]),
    ("node", &["name"]),
    ("application", &["name"]),
    ("partition", &["id"]),
    ("replica", &["id"]),
    ("role", &["name"]),
    ("action_plan", &["id"]),
    ("step", &["index"]),
    ("vmss", &["name"]),
    ("s2s", &["name"]),
    ("nrp", &["kind", "name"]),
    ("sdn", &["kind", "name"]),
];

/// A scenario that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct ScenarioError {
    /// The file (or `<name> (embedded)`).
    pub file: String,
    /// What is wrong and where.
    pub problem: String,
}

fn err(file: &str, problem: impl Into<String>) -> ScenarioError {
    ScenarioError {
        file: file.to_string(),
        problem: problem.into(),
    }
}

/// Names of the scenarios compiled in (file names without `.toml`).
pub fn embedded_names() -> Vec<&'static str> {
    SCENARIOS
        .iter()
        .filter_map(|(n, _)| n.strip_suffix(".toml"))
        .collect()
}

/// The healthy stamps compiled in, one per profile. Every other embedded scenario is a fault
/// scenario: a support case planted on one of them.
pub const BASE_SCENARIOS: &[&str] = &["default", "azure-local", "linux"];

/// Names of the fault scenarios compiled in (every embedded scenario but the base stamps).
pub fn fault_names() -> Vec<&'static str> {
    embedded_names()
        .into_iter()
        .filter(|n| !BASE_SCENARIOS.contains(n))
        .collect()
}

/// The stamp a server of `profile` serves when no scenario is named: the Azure Stack Hub stamp
/// (`default`, endpoint on its ERCS VM), or the Azure Local cluster (`azure-local`, endpoint on
/// its first node).
pub fn default_for(profile: Profile) -> &'static str {
    match profile {
        Profile::AzureLocal => "azure-local",
        Profile::Linux => "linux",
        Profile::AzsHub | Profile::All => "default",
    }
}

/// Where a scenario's text comes from.
enum Source {
    Embedded(&'static str, &'static str),
    File(PathBuf),
}

fn locate(spec: &str, relative_to: Option<&Path>) -> Result<Source, ScenarioError> {
    let looks_like_path = spec.contains('/') || spec.ends_with(".toml");
    if looks_like_path {
        let p = match relative_to {
            Some(dir) if Path::new(spec).is_relative() => dir.join(spec),
            _ => PathBuf::from(spec),
        };
        return Ok(Source::File(p));
    }
    if let Some(dir) = relative_to {
        let p = dir.join(format!("{spec}.toml"));
        if p.is_file() {
            return Ok(Source::File(p));
        }
    }
    SCENARIOS
        .iter()
        .find(|(n, _)| n.strip_suffix(".toml") == Some(spec))
        .map(|(n, t)| Source::Embedded(n, t))
        .ok_or_else(|| {
            err(
                spec,
                format!(
                    "no such scenario (give a path, or one of: {})",
                    embedded_names().join(", ")
                ),
            )
        })
}

/// Loads a scenario by path or embedded name, resolving `extends`, and validates it.
pub fn load_scenario(spec: &str) -> Result<Stamp, ScenarioError> {
    let (table, file) = load_table(spec, None, 0)?;
    into_stamp(&file, table)
}

/// Parses scenario text (with `extends` resolved against the embedded scenarios and `dir`).
pub fn parse_scenario(file: &str, text: &str, dir: Option<&Path>) -> Result<Stamp, ScenarioError> {
    let table = resolve(file, text, dir, 0)?;
    into_stamp(file, table)
}

/// The resolved document of a scenario as TOML text (what `extends` produced), for digests.
pub fn resolved_text(stamp: &Stamp) -> String {
    let mut s = stamp.clone();
    s.time = Default::default();
    toml::to_string(&s).unwrap_or_default()
}

fn load_table(
    spec: &str,
    relative_to: Option<&Path>,
    depth: usize,
) -> Result<(toml::Table, String), ScenarioError> {
    match locate(spec, relative_to)? {
        Source::Embedded(name, text) => {
            let file = format!("scenarios/{name} (embedded)");
            Ok((resolve(&file, text, None, depth)?, file))
        }
        Source::File(path) => {
            let file = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| err(&file, e.to_string()))?;
            let dir = path.parent().map(Path::to_path_buf);
            Ok((resolve(&file, &text, dir.as_deref(), depth)?, file))
        }
    }
}

fn resolve(
    file: &str,
    text: &str,
    dir: Option<&Path>,
    depth: usize,
) -> Result<toml::Table, ScenarioError> {
    if depth > MAX_DEPTH {
        return Err(err(
            file,
            format!("extends: chains deeper than {MAX_DEPTH} (a cycle?)"),
        ));
    }
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| err(file, e.to_string().replace('\n', " ")))?;
    let Some(base) = table.remove("extends") else {
        return Ok(table);
    };
    let Some(base_name) = base.as_str() else {
        return Err(err(file, "extends: must be a scenario name or path"));
    };
    let (mut base_table, _) = load_table(base_name, dir, depth + 1)
        .map_err(|e| err(file, format!("extends '{base_name}': {e}")))?;
    merge_tables(&mut base_table, table, "").map_err(|p| err(file, p))?;
    Ok(base_table)
}

/// Merges `patch` into `base` (the `extends` rules).
fn merge_tables(base: &mut toml::Table, patch: toml::Table, at: &str) -> Result<(), String> {
    for (k, v) in patch {
        let place = if at.is_empty() {
            k.clone()
        } else {
            format!("{at}.{k}")
        };
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(p)) => merge_tables(b, p, &place)?,
            (existing, toml::Value::Array(p)) if is_table_array(&p) => {
                let mut merged = match existing {
                    Some(toml::Value::Array(b)) => std::mem::take(b),
                    _ => Vec::new(),
                };
                merge_arrays(&mut merged, p, &k, &place)?;
                base.insert(k, toml::Value::Array(merged));
            }
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
    Ok(())
}

fn is_table_array(items: &[toml::Value]) -> bool {
    !items.is_empty() && items.iter().all(toml::Value::is_table)
}

/// The key fields of the array `field` (None: not a keyed array, replaced whole; empty: a log,
/// appended).
fn array_key(field: &str) -> Option<&'static [&'static str]> {
    ARRAY_KEYS
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, k)| *k)
}

/// The key of one element (`name = "X"`, `name = "Repair", virtual_disk = "D"`); a key field it
/// lacks counts as empty. None when it has none of them: it cannot be matched, so it is appended
/// (and never merged).
fn element_key(item: &toml::Table, key: &[&str]) -> Option<Vec<toml::Value>> {
    if !key.iter().any(|k| item.contains_key(*k)) {
        return None;
    }
    Some(
        key.iter()
            .map(|k| {
                item.get(*k)
                    .cloned()
                    .unwrap_or_else(|| toml::Value::String(String::new()))
            })
            .collect(),
    )
}

fn show_key(key: &[&str], values: &[toml::Value]) -> String {
    key.iter()
        .zip(values)
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Refuses an array in which two elements have the same key: merging would collapse them.
fn refuse_duplicates(items: &[toml::Value], key: &[&str], at: &str) -> Result<(), String> {
    let mut seen: Vec<Vec<toml::Value>> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(t) = item.as_table() else { continue };
        if t.get("remove").and_then(toml::Value::as_bool) == Some(true) {
            continue;
        }
        let Some(k) = element_key(t, key) else {
            continue;
        };
        if seen.contains(&k) {
            return Err(format!(
                "{at}[{i}]: two elements with {} (each must be distinct, or they would merge into one)",
                show_key(key, &k)
            ));
        }
        seen.push(k);
    }
    Ok(())
}

fn merge_arrays(
    base: &mut Vec<toml::Value>,
    patch: Vec<toml::Value>,
    field: &str,
    at: &str,
) -> Result<(), String> {
    let key = match array_key(field) {
        None => {
            *base = patch;
            return Ok(());
        }
        Some([]) => {
            base.extend(patch);
            return Ok(());
        }
        Some(key) => key,
    };
    refuse_duplicates(&patch, key, at)?;
    for (i, item) in patch.into_iter().enumerate() {
        let toml::Value::Table(mut item) = item else {
            continue;
        };
        let Some(id) = element_key(&item, key) else {
            // Nothing identifies it: a new element.
            if item.contains_key("remove") {
                return Err(format!(
                    "{at}[{i}]: remove needs {} to say which element",
                    key.join(" and ")
                ));
            }
            base.push(toml::Value::Table(item));
            continue;
        };
        let remove = match item.remove("remove") {
            None => false,
            Some(toml::Value::Boolean(b)) => b,
            Some(_) => return Err(format!("{at}: remove must be true or false")),
        };
        let pos = base.iter().position(|b| {
            b.as_table()
                .and_then(|t| element_key(t, key))
                .is_some_and(|k| k == id)
        });
        match (pos, remove) {
            (Some(i), true) => {
                base.remove(i);
            }
            (None, true) => {
                return Err(format!(
                    "{at}: remove: no element with {}",
                    show_key(key, &id)
                ))
            }
            (Some(i), false) => {
                let place = format!("{at}[{}]", show_key(key, &id));
                if let Some(toml::Value::Table(b)) = base.get_mut(i) {
                    merge_tables(b, item, &place)?;
                }
            }
            (None, false) => base.push(toml::Value::Table(item)),
        }
    }
    Ok(())
}

/// Refuses, anywhere in a resolved document, an array whose elements share a key (a scenario
/// without `extends` gets the same guarantee as a patch).
fn check_unique(value: &toml::Value, field: &str, at: &str) -> Result<(), String> {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let place = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                check_unique(v, k, &place)?;
            }
        }
        toml::Value::Array(items) if is_table_array(items) => {
            if let Some(key) = array_key(field).filter(|k| !k.is_empty()) {
                refuse_duplicates(items, key, at)?;
            }
            for (i, item) in items.iter().enumerate() {
                if let toml::Value::Table(t) = item {
                    for (k, v) in t {
                        check_unique(v, k, &format!("{at}[{i}].{k}"))?;
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn into_stamp(file: &str, table: toml::Table) -> Result<Stamp, ScenarioError> {
    let table = toml::Value::Table(table);
    check_unique(&table, "", "").map_err(|p| err(file, p))?;
    require_states(&table).map_err(|p| err(file, p))?;
    // Deserialized through serde_path_to_error so that a wrong word (a state enum's unknown
    // variant) names its place: `host[2].state: unknown variant `Foo`, expected one of ...`.
    let stamp: Stamp = serde_path_to_error::deserialize(table).map_err(|e| {
        let path = e.path().to_string();
        // The message alone: toml's own ` in `host.state`` suffix would repeat the place
        // without its index.
        let problem = e.into_inner().message().trim().replace('\n', " ");
        if path == "." {
            err(file, problem)
        } else {
            err(file, format!("{path}: {problem}"))
        }
    })?;
    if stamp.version != 1 {
        return Err(err(
            file,
            format!(
                "version: {} is not supported (this pep reads version 1)",
                stamp.version
            ),
        ));
    }
    validate(&stamp).map_err(|p| err(file, p))?;
    let mut stamp = stamp;
    stamp.anchor_clock(chrono::Utc::now());
    Ok(stamp)
}

/// Refuses a node, cluster group or cluster resource without a `state`: a host and a VM have
/// different states and a group's cannot be guessed (a struct-wide serde default would otherwise
/// fill one in silently). Services default to Running and Automatic, shared volumes to Online.
fn require_states(doc: &toml::Value) -> Result<(), String> {
    for (kind, allowed) in [("host", NodeState::HOST), ("vm", NodeState::VM)] {
        let allowed = list(allowed.iter().map(|s| s.as_str()));
        for (i, item) in elements(doc.get(kind)) {
            require(item, "state", &format!("{kind}[{i}]"), &allowed)?;
        }
    }
    let cluster = doc.get("cluster");
    let groups = list(GroupState::ALL.iter().map(|s| s.as_str()));
    for (key, allowed) in [("group", &groups), ("resource", &groups)] {
        for (i, item) in elements(cluster.and_then(|c| c.get(key))) {
            require(item, "state", &format!("cluster.{key}[{i}]"), allowed)?;
        }
    }
    Ok(())
}

/// The tables of an array of tables, with their indexes (none when absent).
fn elements(array: Option<&toml::Value>) -> impl Iterator<Item = (usize, &toml::Value)> {
    array
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, v)| v.is_table())
}

/// Refuses `item` without `field` (at `place`, one of `allowed`).
fn require(item: &toml::Value, field: &str, place: &str, allowed: &str) -> Result<(), String> {
    match item.get(field) {
        Some(_) => Ok(()),
        None => Err(format!("{place}.{field}: missing (one of {allowed})")),
    }
}

/// `Up, Down, Paused`: state words, for errors.
fn list<'a>(words: impl Iterator<Item = &'a str>) -> String {
    words.collect::<Vec<_>>().join(", ")
}

fn one_of(place: &str, value: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{place}: '{value}' is not one of {}",
            allowed.join(", ")
        ))
    }
}

const PARTITION_STATES: &[&str] = &[
    "",
    "Ready",
    "InQuorumLoss",
    "Reconfiguring",
    "NotReady",
    "Deleting",
];

/// Longest a node's log share may be made to answer (`log_latency_ms`): ten minutes.
const MAX_LOG_LATENCY_MS: u64 = 600_000;

/// A node's log settings: planted lines name a file (a relative path without `..`), one time
/// (`time` or `minutes_ago`, not negative), a known level and, if any, a log role the node has;
/// `log_dir` is absolute.
fn validate_node_logs(n: &super::Node, place: &str) -> Result<(), String> {
    let roles = crate::logs::roles::node_log_roles(n);
    for (j, l) in n.logs.iter().enumerate() {
        let at = format!("{place}.log[{j}]");
        let file_ok = !l.file.is_empty()
            && l.file.split('/').all(|seg| {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._- %".contains(&b))
            });
        if !file_ok {
            return Err(format!(
                "{at}.file: '{}' is not a relative log file name (letters, digits, '._- %', '/' between parts, no '..')",
                l.file
            ));
        }
        match (l.time, l.minutes_ago) {
            (Some(_), Some(_)) => {
                return Err(format!("{at}: give time or minutes_ago, not both"));
            }
            (None, None) => return Err(format!("{at}: needs time or minutes_ago")),
            (None, Some(m)) if m < 0 => {
                return Err(format!("{at}.minutes_ago: {m} is in the future"));
            }
            _ => {}
        }
        one_of(&format!("{at}.level"), &l.level, super::LogLine::LEVELS)?;
        if !l.role.is_empty() && !roles.iter().any(|r| *r == l.role) {
            return Err(format!(
                "{at}.role: '{}' is not a log role of this node ({})",
                l.role,
                roles.join(", ")
            ));
        }
    }
    if !n.log_dir.is_empty() && !Path::new(&n.log_dir).is_absolute() {
        return Err(format!(
            "{place}.log_dir: '{}' must be an absolute path",
            n.log_dir
        ));
    }
    if n.log_latency_ms > MAX_LOG_LATENCY_MS {
        return Err(format!(
            "{place}.log_latency_ms: {} is more than {MAX_LOG_LATENCY_MS}",
            n.log_latency_ms
        ));
    }
    Ok(())
}

/// Cross-checks a stamp: names valid and unique, references resolve, states known.
pub fn validate(s: &Stamp) -> Result<(), String> {
    let node_name =
        regex::Regex::new("^[A-Za-z0-9][A-Za-z0-9-]{0,62}$").map_err(|e| e.to_string())?;
    let mut names = HashSet::new();
    // A stamp whose endpoint names no node is the machine's own (`linux`): it runs on the real
    // machine, attached when the stamp loads, and has no simulated nodes at all.
    let machine_only = s.stamp.pep_node.is_empty();
    if machine_only && !(s.hosts.is_empty() && s.vms.is_empty()) {
        return Err("stamp.pep_node: empty (the machine's own stamp) but the stamp has simulated nodes; name the node the endpoint runs on".into());
    }
    if s.hosts.is_empty() && !machine_only {
        return Err("host: a stamp needs at least one host".into());
    }
    for (kind, list) in [("host", &s.hosts), ("vm", &s.vms)] {
        for (i, n) in list.iter().enumerate() {
            if !node_name.is_match(&n.name) {
                return Err(format!(
                    "{kind}[{i}].name: '{}' is not a valid node name",
                    n.name
                ));
            }
            if !names.insert(n.name.to_ascii_lowercase()) {
                return Err(format!("{kind}[{i}].name: '{}' is defined twice", n.name));
            }
        }
    }
    for (i, h) in s.hosts.iter().enumerate() {
        if !h.state.is_host_state() {
            return Err(format!(
                "host[{i}].state: '{}' is not a host state ({})",
                h.state,
                list(NodeState::HOST.iter().map(|s| s.as_str()))
            ));
        }
        one_of(
            &format!("host[{i}].drain_status"),
            &h.drain_status,
            &["NotInitiated", "InProgress", "Completed", "Failed"],
        )?;
    }
    for (i, v) in s.vms.iter().enumerate() {
        if s.host(&v.host).is_none() {
            return Err(format!("vm[{i}].host: no host named '{}'", v.host));
        }
        if v.role.is_empty() {
            return Err(format!("vm[{i}].role: every VM needs a role"));
        }
        if !v.state.is_vm_state() {
            return Err(format!(
                "vm[{i}].state: '{}' is not a VM state ({})",
                v.state,
                list(NodeState::VM.iter().map(|s| s.as_str()))
            ));
        }
    }
    for (kind, list) in [("host", &s.hosts), ("vm", &s.vms)] {
        for (i, n) in list.iter().enumerate() {
            validate_node_logs(n, &format!("{kind}[{i}]"))?;
        }
    }
    // The endpoint runs on an ERCS VM (Azure Stack Hub) or on a node itself (Azure Local).
    let pep = &s.stamp.pep_node;
    if !machine_only && s.host(pep).is_none() && s.vm(pep).is_none_or(|v| v.role != "ERCS") {
        return Err(format!(
            "stamp.pep_node: '{pep}' is neither a host nor an ERCS vm of this stamp"
        ));
    }
    let mut groups: HashSet<String> = s.vms.iter().map(|v| v.name.to_ascii_lowercase()).collect();
    for (i, g) in s.cluster.groups.iter().enumerate() {
        if !groups.insert(g.name.to_ascii_lowercase()) {
            return Err(format!(
                "cluster.group[{i}].name: '{}' is defined twice",
                g.name
            ));
        }
        if s.host(&g.owner).is_none() {
            return Err(format!(
                "cluster.group[{i}].owner: no host named '{}'",
                g.owner
            ));
        }
    }
    for (i, r) in s.cluster.resources.iter().enumerate() {
        if !groups.contains(&r.group.to_ascii_lowercase()) {
            return Err(format!(
                "cluster.resource[{i}].group: no cluster group named '{}'",
                r.group
            ));
        }
    }
    for (i, c) in s.cluster.csvs.iter().enumerate() {
        if s.host(&c.owner).is_none() {
            return Err(format!(
                "cluster.csv[{i}].owner: no host named '{}'",
                c.owner
            ));
        }
    }
    for (i, d) in s.storage.physical_disks.iter().enumerate() {
        if s.host(&d.node).is_none() {
            return Err(format!(
                "storage.physical_disk[{i}].node: no host named '{}'",
                d.node
            ));
        }
    }
    for (ri, ring) in s.rings.iter().enumerate() {
        let nodes: HashSet<String> = ring
            .nodes
            .iter()
            .map(|n| n.name.to_ascii_lowercase())
            .collect();
        for (si, svc) in ring.services.iter().enumerate() {
            for (pi, p) in svc.partitions.iter().enumerate() {
                one_of(
                    &format!("ring[{ri}].service[{si}].partition[{pi}].status"),
                    &p.status,
                    PARTITION_STATES,
                )?;
                for r in &p.replicas {
                    if !nodes.contains(&r.node.to_ascii_lowercase()) {
                        return Err(format!(
                            "ring[{ri}].service[{si}] ({}): replica {} is on '{}', not a node of ring {}",
                            svc.name, r.id, r.node, ring.name
                        ));
                    }
                }
            }
        }
    }
    for (kind, steps) in [("evidence", &s.case.evidence), ("repair", &s.case.repair)] {
        for (i, step) in steps.iter().enumerate() {
            if step.command.trim().is_empty() {
                return Err(format!("case.{kind}[{i}].command: must not be empty"));
            }
            if !step.role.is_empty() {
                one_of(
                    &format!("case.{kind}[{i}].role"),
                    &step.role,
                    &["support", "operator"],
                )?;
            }
        }
    }
    for (i, vm) in s.compute.vms.iter().enumerate() {
        if !vm.host.is_empty() && s.host(&vm.host).is_none() {
            return Err(format!("compute.vm[{i}].host: no host named '{}'", vm.host));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::{CsvState, ServiceState, StartType};

    #[test]
    fn default_scenario_loads() {
        let s = load_scenario("default").expect("default loads");
        assert_eq!(s.hosts.len(), 4);
        assert_eq!(s.vms.iter().filter(|v| v.role == "ERCS").count(), 3);
    }

    #[test]
    fn azure_local_stamp_runs_the_endpoint_on_its_first_node() {
        let s = load_scenario(default_for(Profile::AzureLocal)).expect("azure-local loads");
        let hosts: Vec<&str> = s.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(
            hosts,
            ["HCI-NODE01", "HCI-NODE02", "HCI-NODE03", "HCI-NODE04"]
        );
        assert_eq!(s.pep_node(), "HCI-NODE01");
        assert_eq!(s.cluster.name, "HCI-CL01");
        assert!(s.rings.is_empty() && s.vms.iter().all(|v| v.role != "ERCS"));
        assert_eq!(default_for(Profile::AzsHub), "default");
        assert!(BASE_SCENARIOS
            .iter()
            .all(|b| embedded_names().contains(b) && !fault_names().contains(b)));
    }

    #[test]
    fn the_linux_stamp_is_the_machine_alone_and_every_stamp_has_the_machine() {
        assert_eq!(default_for(Profile::Linux), "linux");
        let mut s = load_scenario("linux").expect("linux");
        assert!(s.hosts.is_empty() && s.vms.is_empty());
        s.attach_local_machine();
        let host = crate::host::linux::host_name();
        assert_eq!(s.pep_node(), host);
        let nodes: Vec<&crate::stamp::Node> = s.nodes().collect();
        assert_eq!(nodes.len(), 1);
        assert!(nodes[0].real && nodes[0].name == host);
        // Case-insensitive, like every node name.
        assert!(s.node(&host.to_ascii_uppercase()).is_some_and(|n| n.real));
        // The machine is a node of every stamp, after the simulated ones, but not of the cluster.
        let mut d = load_scenario("default").expect("default");
        let before = d.nodes().count();
        d.attach_local_machine();
        d.attach_local_machine();
        assert_eq!(d.nodes().count(), before + 1);
        assert_eq!(d.pep_node(), "AZS-ERCS01");
        assert!(d.host(&host).is_none());
        // A stamp whose endpoint names no node may not have simulated ones.
        let text = "version = 1\nname = \"x\"\n[stamp]\npep_node = \"\"\n[[host]]\nname = \"H1\"\nstate = \"Up\"\n";
        let e = parse_scenario("x.toml", text, None).expect_err("refused");
        assert!(e.to_string().contains("stamp.pep_node: empty"), "{e}");
    }

    #[test]
    fn every_embedded_scenario_loads() {
        for name in embedded_names() {
            load_scenario(name).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn extends_merges_by_name_and_removes() {
        let patch = r#"
            extends = "default"
            version = 1
            name = "patched"
            [[host]]
            name = "AZS-HOST02"
            state = "Down"
            [[vm]]
            name = "AZS-ACS01"
            remove = true
        "#;
        let s = parse_scenario("p.toml", patch, None).expect("patch loads");
        assert_eq!(s.name, "patched");
        assert_eq!(s.host("AZS-HOST02").map(|h| h.state), Some(NodeState::Down));
        assert_eq!(
            s.host("AZS-HOST02").map(|h| h.model.is_empty()),
            Some(false),
            "other fields kept"
        );
        assert!(s.vm("AZS-ACS01").is_none());
        assert_eq!(s.hosts.len(), 4);
        let bad = "extends = \"default\"\nversion = 1\nname = \"x\"\n[[vm]]\nname = \"NOPE\"\nremove = true\n";
        let e = parse_scenario("q.toml", bad, None).expect_err("remove of nothing");
        assert!(
            e.to_string().contains("q.toml: vm: remove: no element"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_file_and_place() {
        let bad = "extends = \"default\"\nversion = 1\nname = \"x\"\n[[vm]]\nname = \"AZS-ERCS02\"\nhost = \"NOPE\"\n";
        let e = parse_scenario("x.toml", bad, None).expect_err("bad host ref");
        assert!(
            e.to_string()
                .starts_with("x.toml: vm[1].host: no host named 'NOPE'"),
            "{e}"
        );
        let e = parse_scenario("y.toml", "version = 2", None).expect_err("bad");
        assert!(e.to_string().starts_with("y.toml: "), "{e}");
        let unknown = format!("{DEFAULT_SCENARIO}\nbogus = 1\n");
        let e = parse_scenario("z.toml", &unknown, None).expect_err("unknown key");
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = load_scenario("no-such-scenario").expect_err("unknown name");
        assert!(
            e.to_string().contains("default"),
            "lists the known ones: {e}"
        );
    }

    #[test]
    fn a_wrong_state_word_names_its_place() {
        let patch =
            |body: &str| format!("extends = \"default\"\nversion = 1\nname = \"x\"\n{body}");
        // An unknown word fails the parse, at its place.
        let e = parse_scenario(
            "s.toml",
            &patch("[[host]]\nname = \"AZS-HOST03\"\nstate = \"Foo\"\n"),
            None,
        )
        .expect_err("unknown state");
        assert!(
            e.to_string()
                .starts_with("s.toml: host[2].state: unknown variant `Foo`, expected one of"),
            "{e}"
        );
        // A known word on the wrong kind of node fails validation.
        let e = parse_scenario(
            "s.toml",
            &patch("[[host]]\nname = \"AZS-HOST03\"\nstate = \"Running\"\n"),
            None,
        )
        .expect_err("VM state on a host");
        assert_eq!(
            e.to_string(),
            "s.toml: host[2].state: 'Running' is not a host state (Up, Down, Paused, Joining, Isolated, Quarantined)"
        );
        let e = parse_scenario(
            "s.toml",
            &patch("[[vm]]\nname = \"AZS-ERCS02\"\nstate = \"Up\"\n"),
            None,
        )
        .expect_err("host state on a VM");
        assert!(
            e.to_string().starts_with(
                "s.toml: vm[1].state: 'Up' is not a VM state (Running, Off, Saved, Paused)"
            ),
            "{e}"
        );
        // A node without a state is refused rather than given one.
        let e = parse_scenario("s.toml", &patch("[[host]]\nname = \"AZS-HOST09\"\n"), None)
            .expect_err("no state");
        assert!(
            e.to_string()
                .starts_with("s.toml: host[4].state: missing (one of Up, Down,"),
            "{e}"
        );
        // A service without a state or start type is a running Automatic one; a shared volume
        // without a state is Online.
        let s = parse_scenario(
            "s.toml",
            &patch("[[vm]]\nname = \"AZS-ERCS02\"\n[[vm.service]]\nname = \"New\"\n[[cluster.csv]]\nname = \"New\"\nowner = \"AZS-HOST01\"\n"),
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let svc = s
            .vm("AZS-ERCS02")
            .and_then(|v| v.services.iter().find(|x| x.name == "New"))
            .expect("service");
        assert_eq!(
            (svc.state, svc.start_type),
            (ServiceState::Running, StartType::Automatic)
        );
        assert!(s
            .cluster
            .csvs
            .iter()
            .any(|c| c.name == "New" && c.state == CsvState::Online));
        let e = parse_scenario(
            "s.toml",
            &patch("[[cluster.group]]\nname = \"New\"\nowner = \"AZS-HOST01\"\nstate = \"Redirected\"\n"),
            None,
        )
        .expect_err("a CSV state on a group");
        assert!(
            e.to_string()
                .contains(".state: unknown variant `Redirected`, expected one of"),
            "{e}"
        );
        // Other serde errors name their place too.
        let e = parse_scenario(
            "s.toml",
            &patch("[[host]]\nname = \"AZS-HOST03\"\ncpu_cores = \"many\"\n"),
            None,
        )
        .expect_err("wrong type");
        assert!(
            e.to_string().starts_with("s.toml: host[2].cpu_cores: "),
            "{e}"
        );
    }

    #[test]
    fn repeated_elements_stay_distinct_and_a_collapsing_key_is_an_error() {
        let crash_loop = r#"
            extends = "default"
            version = 1
            name = "loop"
            [[vm]]
            name = "AZS-SQL01"
            [[vm.event]]
            id = 7031
            message = "first crash"
            [[vm.event]]
            id = 7031
            message = "second crash"
            [[storage.job]]
            name = "Repair"
            virtual_disk = "Infrastructure_1"
            state = "Completed"
            [[storage.job]]
            name = "Repair"
            virtual_disk = "Infrastructure_2"
            state = "Running"
            [[storage.job]]
            name = "Rebalance"
            state = "Running"
        "#;
        let s = parse_scenario("l.toml", crash_loop, None).unwrap_or_else(|e| panic!("{e}"));
        let events = s.vm("AZS-SQL01").map(|v| v.events.len()).unwrap_or(0);
        let base = load_scenario("default")
            .ok()
            .and_then(|d| d.vm("AZS-SQL01").map(|v| v.events.len()))
            .unwrap_or(0);
        assert_eq!(events, base + 2, "both 7031 events kept");
        assert_eq!(
            s.storage.jobs.len(),
            3,
            "same name on two disks, and one without a disk"
        );
        // Two elements a merge would collapse: an error naming the place.
        let dup = "extends = \"default\"\nversion = 1\nname = \"d\"\n[[storage.job]]\nname = \"Repair\"\nvirtual_disk = \"A\"\n[[storage.job]]\nname = \"Repair\"\nvirtual_disk = \"A\"\n";
        let e = parse_scenario("d.toml", dup, None).expect_err("collapse");
        assert!(
            e.to_string().starts_with(
                "d.toml: storage.job[1]: two elements with name=\"Repair\",virtual_disk=\"A\""
            ),
            "{e}"
        );
        let dup = "extends = \"default\"\nversion = 1\nname = \"d\"\n[[vm]]\nname = \"AZS-SQL01\"\n[[vm.service]]\nname = \"X\"\n[[vm.service]]\nname = \"X\"\n";
        let e = parse_scenario("d.toml", dup, None).expect_err("collapse");
        assert!(
            e.to_string()
                .contains("service[1]: two elements with name=\"X\""),
            "{e}"
        );
    }
}
