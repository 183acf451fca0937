//! The stamp: a model of an Azure Stack Hub scale unit (or an Azure Local cluster) that catalog
//! commands run against.
//!
//! There is no Windows failover cluster or Service Fabric here, so the infrastructure is this
//! model, defined by a scenario file (`scenario`): nodes (`node`), the failover cluster
//! (`cluster`), storage (`storage`), Service Fabric rings (`fabric`), the deployment engine
//! (`ece`), tenant compute and network (`compute`). The scenario document *is* the model: repair
//! commands change it, and `persist` keeps the changed stamp in the state directory.

pub mod changes;
pub mod clock;
pub mod cluster;
pub mod compute;
pub mod ece;
pub mod events;
pub mod fabric;
pub mod fabric_health;
pub mod health;
pub mod node;
pub mod persist;
pub mod scenario;
pub mod storage;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use clock::StampTime;
pub use cluster::{
    Cluster, ClusterGroup, ClusterLogLine, ClusterResource, CsvState, GroupState, SharedVolume,
};
pub use compute::{Compute, JsonResource, Network, S2sConnection, ScaleSet, TenantVm};
pub use ece::{ActionPlan, ActionPlanStep, Ece, EceRole};
pub use fabric::{FabricApplication, FabricNode, FabricService, Partition, Replica, Ring, Upgrade};
pub use node::{
    Disk, Event, FileEntry, LogLine, Node, NodeState, Process, Service, ServiceState, StartType,
};
pub use scenario::{load_scenario, ScenarioError, DEFAULT_SCENARIO};
pub use storage::{
    Enclosure, ManagedDisk, ObjectStoreVolume, PhysicalDisk, Storage, StorageAccount, StorageJob,
    StoragePool, VirtualDisk,
};

/// A stamp: the scenario document after `extends` was resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stamp {
    /// Format version; 1.
    pub version: u32,
    /// Scenario name.
    pub name: String,
    /// What the scenario is.
    #[serde(default)]
    pub description: String,
    /// The support case a fault scenario plants (empty for healthy stamps).
    #[serde(default)]
    pub case: SupportCase,
    /// Stamp-wide facts.
    pub stamp: StampFacts,
    /// Physical scale-unit hosts.
    #[serde(default, rename = "host")]
    pub hosts: Vec<Node>,
    /// Infrastructure VMs.
    #[serde(default, rename = "vm")]
    pub vms: Vec<Node>,
    /// Real machines: the one pep runs on (later, more Linux nodes). Nodes of every stamp, but
    /// not of its cluster; attached when the stamp loads ([`Stamp::attach_local_machine`]) and
    /// never read from a scenario or saved: their facts are read live from the machine.
    #[serde(skip)]
    pub machines: Vec<Node>,
    /// The failover cluster.
    #[serde(default)]
    pub cluster: Cluster,
    /// Storage.
    #[serde(default)]
    pub storage: Storage,
    /// Service Fabric rings.
    #[serde(default, rename = "ring")]
    pub rings: Vec<Ring>,
    /// The deployment engine.
    #[serde(default)]
    pub ece: Ece,
    /// Tenant compute.
    #[serde(default)]
    pub compute: Compute,
    /// Network.
    #[serde(default)]
    pub network: Network,
    /// The stamp's clock as pep runs it (set at load, kept in the saved stamp; not written in
    /// scenarios).
    #[serde(default, skip_serializing_if = "StampTime::is_unset")]
    pub time: StampTime,
}

/// Stamp-wide facts (`[stamp]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct StampFacts {
    /// Name prefix of infrastructure VMs (`AZS`).
    pub prefix: String,
    /// Region name.
    pub region_name: String,
    /// Internal domain.
    pub domain_fqdn: String,
    /// External domain.
    pub external_domain_fqdn: String,
    /// Deployment id.
    pub deployment_id: String,
    /// Cloud id.
    pub cloud_id: String,
    /// Stamp version.
    pub version: String,
    /// OEM extension version.
    pub oem_version: String,
    /// Services version.
    pub services_version: String,
    /// The node serving this endpoint (the prompt's node): an ERCS VM on Azure Stack Hub, a host
    /// on Azure Local.
    pub pep_node: String,
    /// The stamp's time when the scenario loads (absent: the real time). Times in the scenario
    /// are written relative to it; from the load on, the stamp's clock runs in real time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock: Option<DateTime<Utc>>,
}

/// A fault scenario written as a support case (`[case]`). Tests read it: they run the evidence
/// commands and look for the text each names, then the repair commands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SupportCase {
    /// What the customer reports.
    pub symptom: String,
    /// The fault planted.
    pub fault: String,
    /// Where the evidence shows.
    #[serde(rename = "evidence")]
    pub evidence: Vec<CaseStep>,
    /// The repair, in order.
    #[serde(rename = "repair")]
    pub repair: Vec<CaseStep>,
    /// The known-issue checks that must find it.
    pub checks: Vec<String>,
}

/// A command of a support case and the text its output must contain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CaseStep {
    /// The command line.
    pub command: String,
    /// Text the output must contain (empty: only success).
    pub expect: String,
    /// Who runs it: `support` (empty means support) or `operator` (an operator PEP command such
    /// as `Repair-VirtualDisk`).
    pub role: String,
}

impl SupportCase {
    /// Whether the scenario plants no fault: a healthy stamp, possibly in an unusual but
    /// normal state, that every check must pass.
    pub fn is_benign(&self) -> bool {
        self.fault.trim().is_empty() && self.checks.is_empty()
    }
}

impl CaseStep {
    /// Whether the operator (not the support engineer) runs this step.
    pub fn by_operator(&self) -> bool {
        self.role.eq_ignore_ascii_case("operator")
    }
}

impl Stamp {
    /// The embedded default stamp.
    pub fn default_stamp() -> Result<Self, ScenarioError> {
        load_scenario("default")
    }

    /// The privileged endpoint's node name (for the prompt).
    pub fn pep_node(&self) -> &str {
        &self.stamp.pep_node
    }

    /// A host by name (case-insensitive).
    pub fn host(&self, name: &str) -> Option<&Node> {
        self.hosts
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
    }

    /// An infrastructure VM by name (case-insensitive).
    pub fn vm(&self, name: &str) -> Option<&Node> {
        self.vms.iter().find(|v| v.name.eq_ignore_ascii_case(name))
    }

    /// A host or VM by name (case-insensitive).
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.host(name)
            .or_else(|| self.vm(name))
            .or_else(|| self.machine(name))
    }

    /// Why a node cannot be reached over WinRM, if it cannot: a host that is not Up (a Paused host
    /// still answers), a VM that is not Running, or a VM whose host is not Up.
    pub fn unreachable(&self, node: &Node) -> Option<String> {
        if node.host.is_empty() {
            return (!Self::host_answers(node.state)).then(|| format!("it is {}", node.state));
        }
        if node.state != NodeState::Running {
            return Some(format!("it is {}", node.state));
        }
        match self.host(&node.host) {
            Some(h) if !Self::host_answers(h.state) => {
                Some(format!("its host {} is {}", h.name, h.state))
            }
            _ => None,
        }
    }

    /// Whether a host in this state answers WinRM: Up, or Paused (drained, still running).
    fn host_answers(state: NodeState) -> bool {
        matches!(state, NodeState::Up | NodeState::Paused)
    }

    /// A real machine by name (case-insensitive).
    pub fn machine(&self, name: &str) -> Option<&Node> {
        self.machines
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(name))
    }

    /// Adds the machine pep runs on as a real node, named as `hostname` prints it (once; a
    /// simulated node of the same name keeps the name, and the machine is then not attached).
    /// A stamp that names no node for the endpoint (the `linux` stamp) runs it on the machine.
    pub fn attach_local_machine(&mut self) {
        self.attach_local_machine_via(Vec::new());
    }

    /// The same, the machine's programs run through `command_prefix` (tests reach a systemd
    /// container with `nsenter -t PID -a --`).
    pub fn attach_local_machine_via(&mut self, command_prefix: Vec<String>) {
        let mut node = crate::host::local_machine_node();
        node.command_prefix = command_prefix;
        if self.stamp.pep_node.is_empty() {
            self.stamp.pep_node = node.name.clone();
        }
        if self.node(&node.name).is_some() {
            return;
        }
        self.machines.push(node);
    }

    /// A host or VM by name, for changing it.
    pub fn node_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.hosts
            .iter_mut()
            .chain(self.vms.iter_mut())
            .find(|n| n.name.eq_ignore_ascii_case(name))
    }

    /// Every node, hosts first, in scenario order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.hosts
            .iter()
            .chain(self.vms.iter())
            .chain(self.machines.iter())
    }

    /// A node's position among all nodes (stable; used to pick its slice of shipped logs).
    pub fn node_index(&self, name: &str) -> usize {
        self.nodes()
            .position(|n| n.name.eq_ignore_ascii_case(name))
            .unwrap_or(0)
    }

    /// Cluster groups: the scenario's plus one per infrastructure VM (owned by the VM's host,
    /// `Online` while it runs).
    pub fn cluster_groups(&self) -> Vec<ClusterGroup> {
        let mut out = self.cluster.groups.clone();
        out.extend(self.vms.iter().map(|vm| ClusterGroup {
            name: vm.name.clone(),
            owner: vm.host.clone(),
            state: vm_group_state(vm),
            preferred_owners: Vec::new(),
        }));
        out
    }

    /// Cluster resources: the scenario's plus `Virtual Machine <vm>` and
    /// `Virtual Machine Configuration <vm>` per infrastructure VM.
    pub fn cluster_resources(&self) -> Vec<ClusterResource> {
        let mut out = self.cluster.resources.clone();
        for vm in &self.vms {
            for kind in ["Virtual Machine", "Virtual Machine Configuration"] {
                out.push(ClusterResource {
                    name: format!("{kind} {}", vm.name),
                    resource_type: kind.into(),
                    group: vm.name.clone(),
                    state: vm_group_state(vm),
                });
            }
        }
        out
    }

    /// The owner node of a cluster group.
    pub fn group_owner(&self, group: &str) -> Option<String> {
        if let Some(g) = self
            .cluster
            .groups
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(group))
        {
            return Some(g.owner.clone());
        }
        self.vm(group).map(|v| v.host.clone())
    }

    /// A ring by name (case-insensitive).
    pub fn ring(&self, name: &str) -> Option<&Ring> {
        self.rings
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name))
    }

    /// Uptime as PowerShell shows a TimeSpan (`d.hh:mm:ss`).
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

/// A clustered VM's group and resources: Online while the VM runs or is paused (the cluster's
/// Virtual Machine resource maps Paused to Online), Offline while it is Off or Saved.
fn vm_group_state(vm: &Node) -> GroupState {
    if matches!(vm.state, NodeState::Running | NodeState::Paused) {
        GroupState::Online
    } else {
        GroupState::Offline
    }
}
