//! The stamp: a model of the Azure Stack Hub infrastructure that catalog commands run against.
//!
//! There is no Windows failover cluster here, so a stamp is built from a scenario file
//! (`scenario`): its hosts, infrastructure VMs, cluster groups and resources. Each VM also gets
//! the cluster group and resources the real cluster gives a clustered VM. Read access only, for
//! now; repair commands and persisted changes come with the fabric catalog.

pub mod scenario;

use chrono::{DateTime, Utc};
pub use scenario::{ScenarioError, ScenarioFile, DEFAULT_SCENARIO};

/// A loaded stamp.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// The scenario it came from.
    pub scenario: ScenarioFile,
    /// Cluster groups: the scenario's plus one per VM.
    pub groups: Vec<ClusterGroup>,
    /// Cluster resources: the scenario's plus two per VM.
    pub resources: Vec<ClusterResource>,
}

/// A failover-cluster group.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterGroup {
    /// Name.
    pub name: String,
    /// Owner node.
    pub owner: String,
    /// State.
    pub state: String,
}

/// A failover-cluster resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterResource {
    /// Name.
    pub name: String,
    /// Type.
    pub resource_type: String,
    /// Owning group.
    pub group: String,
    /// State.
    pub state: String,
}

impl Stamp {
    /// The embedded default stamp.
    pub fn default_stamp() -> Result<Self, ScenarioError> {
        Ok(Self::from_scenario(ScenarioFile::parse(
            "scenarios/default.toml (embedded)",
            DEFAULT_SCENARIO,
        )?))
    }

    /// Builds the stamp a scenario describes.
    pub fn from_scenario(scenario: ScenarioFile) -> Self {
        let mut groups: Vec<ClusterGroup> = scenario
            .cluster_groups
            .iter()
            .map(|g| ClusterGroup {
                name: g.name.clone(),
                owner: g.owner.clone(),
                state: g.state.clone(),
            })
            .collect();
        let mut resources: Vec<ClusterResource> = scenario
            .cluster_resources
            .iter()
            .map(|r| ClusterResource {
                name: r.name.clone(),
                resource_type: r.resource_type.clone(),
                group: r.group.clone(),
                state: r.state.clone(),
            })
            .collect();
        for vm in &scenario.vms {
            let state = if vm.state == "Running" {
                "Online"
            } else {
                "Offline"
            };
            groups.push(ClusterGroup {
                name: vm.name.clone(),
                owner: vm.host.clone(),
                state: state.into(),
            });
            for (prefix, kind) in [
                ("Virtual Machine", "Virtual Machine"),
                (
                    "Virtual Machine Configuration",
                    "Virtual Machine Configuration",
                ),
            ] {
                resources.push(ClusterResource {
                    name: format!("{prefix} {}", vm.name),
                    resource_type: kind.into(),
                    group: vm.name.clone(),
                    state: state.into(),
                });
            }
        }
        Stamp {
            scenario,
            groups,
            resources,
        }
    }

    /// The privileged endpoint's node name (for the prompt).
    pub fn pep_node(&self) -> &str {
        &self.scenario.stamp.pep_node
    }

    /// The owner node of a cluster group.
    pub fn group_owner(&self, group: &str) -> Option<&str> {
        self.groups
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(group))
            .map(|g| g.owner.as_str())
    }

    /// A host by name (case-insensitive).
    pub fn host(&self, name: &str) -> Option<&scenario::HostSpec> {
        self.scenario
            .hosts
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
    }

    /// Uptime of a host at `now`, as PowerShell shows a TimeSpan (`d.hh:mm:ss`).
    pub fn uptime(boot: DateTime<Utc>, now: DateTime<Utc>) -> String {
        let secs = (now - boot).num_seconds().max(0);
        let (d, rem) = (secs / 86_400, secs % 86_400);
        format!(
            "{d}.{:02}:{:02}:{:02}",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}
