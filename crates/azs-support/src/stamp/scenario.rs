//! Scenario files: the on-disk format a stamp is loaded from (documented in `scenarios/README.md`).
//!
//! A scenario is TOML, `version = 1`. This module owns parsing and validation; errors name the
//! file, the place in it and the problem, on one line.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::Path;

/// The default stamp, compiled into the binary so `pep serve` runs anywhere.
pub const DEFAULT_SCENARIO: &str = include_str!("../../../../scenarios/default.toml");

/// A scenario that could not be loaded: one line naming the file, the place and the problem.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct ScenarioError {
    /// The file (or `<embedded default>`).
    pub file: String,
    /// What is wrong and where.
    pub problem: String,
}

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Format version; must be 1.
    pub version: u32,
    /// Short name (`default`, `csv-offline`).
    pub name: String,
    /// What the scenario is.
    #[serde(default)]
    pub description: String,
    /// Stamp-wide facts.
    pub stamp: StampFacts,
    /// Physical scale-unit nodes.
    #[serde(default, rename = "host")]
    pub hosts: Vec<HostSpec>,
    /// Infrastructure VMs.
    #[serde(default, rename = "vm")]
    pub vms: Vec<VmSpec>,
    /// Failover-cluster groups besides the one each VM gets.
    #[serde(default, rename = "cluster_group")]
    pub cluster_groups: Vec<ClusterGroupSpec>,
    /// Failover-cluster resources besides the ones each VM gets.
    #[serde(default, rename = "cluster_resource")]
    pub cluster_resources: Vec<ClusterResourceSpec>,
}

/// Stamp-wide facts (`[stamp]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StampFacts {
    /// Name prefix of infrastructure VMs (`AZS`).
    pub prefix: String,
    /// Azure Stack Hub region name.
    pub region_name: String,
    /// Internal domain.
    pub domain_fqdn: String,
    /// External domain.
    pub external_domain_fqdn: String,
    /// Deployment id (GUID).
    pub deployment_id: String,
    /// Cloud id (GUID).
    pub cloud_id: String,
    /// Stamp (update) version.
    pub version: String,
    /// OEM extension version.
    pub oem_version: String,
    /// Services version.
    pub services_version: String,
    /// The ERCS VM that serves this privileged endpoint (the prompt's node).
    pub pep_node: String,
}

/// A physical host (`[[host]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// Node name.
    pub name: String,
    /// Cluster node state: Up, Down, Paused, Joining.
    #[serde(default = "up")]
    pub state: String,
    /// Drain status: NotInitiated, InProgress, Completed, Failed.
    #[serde(default = "not_initiated")]
    pub drain_status: String,
    /// Hardware manufacturer.
    pub manufacturer: String,
    /// Hardware model.
    pub model: String,
    /// Serial number.
    pub serial_number: String,
    /// Last boot (UTC).
    pub boot_time: DateTime<Utc>,
}

/// An infrastructure VM (`[[vm]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmSpec {
    /// VM name (`AZS-ERCS01`).
    pub name: String,
    /// Infrastructure role (`ERCS`, `ACS`, ...).
    pub role: String,
    /// The host it runs on.
    pub host: String,
    /// Running, Off, Saved, Paused.
    #[serde(default = "running")]
    pub state: String,
}

/// A cluster group (`[[cluster_group]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterGroupSpec {
    /// Group name.
    pub name: String,
    /// Owner node.
    pub owner: String,
    /// Online, Offline, Failed, PartialOnline, Pending.
    #[serde(default = "online")]
    pub state: String,
}

/// A cluster resource (`[[cluster_resource]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterResourceSpec {
    /// Resource name.
    pub name: String,
    /// Resource type (`IP Address`, `Network Name`, ...).
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Owning group.
    pub group: String,
    /// Online, Offline, Failed, Pending.
    #[serde(default = "online")]
    pub state: String,
}

fn up() -> String {
    "Up".into()
}
fn not_initiated() -> String {
    "NotInitiated".into()
}
fn running() -> String {
    "Running".into()
}
fn online() -> String {
    "Online".into()
}

impl ScenarioFile {
    /// Parses and validates scenario text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, ScenarioError> {
        let err = |problem: String| ScenarioError {
            file: file.to_string(),
            problem,
        };
        let parsed: ScenarioFile =
            toml::from_str(text).map_err(|e| err(e.to_string().replace('\n', " ")))?;
        if parsed.version != 1 {
            return Err(err(format!(
                "version: {} is not supported (this pep reads version 1)",
                parsed.version
            )));
        }
        parsed.validate().map_err(err)?;
        Ok(parsed)
    }

    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: path.display().to_string(),
            problem: e.to_string(),
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    fn validate(&self) -> Result<(), String> {
        let node_name =
            regex::Regex::new("^[A-Za-z0-9][A-Za-z0-9-]{0,62}$").map_err(|e| e.to_string())?;
        let mut nodes = HashSet::new();
        for (i, h) in self.hosts.iter().enumerate() {
            if !node_name.is_match(&h.name) {
                return Err(format!(
                    "host[{i}].name: '{}' is not a valid node name",
                    h.name
                ));
            }
            if !nodes.insert(h.name.to_ascii_lowercase()) {
                return Err(format!("host[{i}].name: '{}' is defined twice", h.name));
            }
            one_of(
                &format!("host[{i}].state"),
                &h.state,
                &["Up", "Down", "Paused", "Joining"],
            )?;
            one_of(
                &format!("host[{i}].drain_status"),
                &h.drain_status,
                &["NotInitiated", "InProgress", "Completed", "Failed"],
            )?;
        }
        if self.hosts.is_empty() {
            return Err("host: a stamp needs at least one host".into());
        }
        let hosts: HashSet<String> = nodes.clone();
        for (i, v) in self.vms.iter().enumerate() {
            if !node_name.is_match(&v.name) {
                return Err(format!(
                    "vm[{i}].name: '{}' is not a valid node name",
                    v.name
                ));
            }
            if !nodes.insert(v.name.to_ascii_lowercase()) {
                return Err(format!("vm[{i}].name: '{}' is defined twice", v.name));
            }
            if !hosts.contains(&v.host.to_ascii_lowercase()) {
                return Err(format!("vm[{i}].host: no host named '{}'", v.host));
            }
            one_of(
                &format!("vm[{i}].state"),
                &v.state,
                &["Running", "Off", "Saved", "Paused"],
            )?;
        }
        if !self
            .vms
            .iter()
            .any(|v| v.name.eq_ignore_ascii_case(&self.stamp.pep_node) && v.role == "ERCS")
        {
            return Err(format!(
                "stamp.pep_node: '{}' is not an ERCS vm of this stamp",
                self.stamp.pep_node
            ));
        }
        let mut groups = HashSet::new();
        for v in &self.vms {
            groups.insert(v.name.to_ascii_lowercase());
        }
        for (i, g) in self.cluster_groups.iter().enumerate() {
            if !groups.insert(g.name.to_ascii_lowercase()) {
                return Err(format!(
                    "cluster_group[{i}].name: '{}' is defined twice",
                    g.name
                ));
            }
            if !hosts.contains(&g.owner.to_ascii_lowercase()) {
                return Err(format!(
                    "cluster_group[{i}].owner: no host named '{}'",
                    g.owner
                ));
            }
            one_of(&format!("cluster_group[{i}].state"), &g.state, GROUP_STATES)?;
        }
        for (i, r) in self.cluster_resources.iter().enumerate() {
            if !groups.contains(&r.group.to_ascii_lowercase()) {
                return Err(format!(
                    "cluster_resource[{i}].group: no cluster group named '{}'",
                    r.group
                ));
            }
            one_of(
                &format!("cluster_resource[{i}].state"),
                &r.state,
                GROUP_STATES,
            )?;
        }
        Ok(())
    }
}

const GROUP_STATES: &[&str] = &["Online", "Offline", "Failed", "PartialOnline", "Pending"];

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scenario_loads() {
        let s = ScenarioFile::parse("default.toml", DEFAULT_SCENARIO).expect("default loads");
        assert_eq!(s.hosts.len(), 4);
        assert_eq!(s.vms.iter().filter(|v| v.role == "ERCS").count(), 3);
    }

    #[test]
    fn errors_name_file_and_place() {
        let bad = DEFAULT_SCENARIO.replacen("host = \"AZS-HOST01\"", "host = \"NOPE\"", 1);
        let e = ScenarioFile::parse("x.toml", &bad).expect_err("bad host ref");
        let msg = e.to_string();
        assert!(
            msg.starts_with("x.toml: vm[0].host: no host named 'NOPE'"),
            "{msg}"
        );
        let e = ScenarioFile::parse("y.toml", "version = 2").expect_err("bad");
        assert!(e.to_string().starts_with("y.toml: "), "{e}");
        let unknown = format!("{DEFAULT_SCENARIO}\nbogus = 1\n");
        let e = ScenarioFile::parse("z.toml", &unknown).expect_err("unknown key");
        assert!(e.to_string().contains("bogus"), "{e}");
    }
}
