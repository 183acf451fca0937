//! Service Fabric rings: nodes, applications, services with their partitions and replicas,
//! configuration, manifest, upgrade state and runtime version.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A ring (`[[ring]]`: `FabricRing`, `SeedRing`, `ACSRing`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Ring {
    /// Ring name.
    pub name: String,
    /// Runtime version (`7.2.457.9590`).
    pub runtime_version: String,
    /// Aggregated health as the cluster last evaluated it: `Ok`, `Warning`, `Error`.
    pub health: String,
    /// Cluster configuration (JSON text).
    pub configuration: String,
    /// Cluster manifest (XML text).
    pub manifest: String,
    /// Upgrade state.
    pub upgrade: Upgrade,
    /// Nodes.
    #[serde(rename = "node")]
    pub nodes: Vec<FabricNode>,
    /// Applications.
    #[serde(rename = "application")]
    pub applications: Vec<FabricApplication>,
    /// Services.
    #[serde(rename = "service")]
    pub services: Vec<FabricService>,
}

/// A ring's upgrade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Upgrade {
    /// `RollingForwardCompleted`, `RollingForwardInProgress`, `RollingForwardPending`,
    /// `RollingBackInProgress`, `RollingBackCompleted`, `Failed`.
    pub state: String,
    /// Version being upgraded to.
    pub target_version: String,
    /// Upgrade domain in progress.
    pub current_domain: String,
    /// Domains done.
    pub completed_domains: Vec<String>,
    /// Started.
    pub start_time: Option<DateTime<Utc>>,
    /// Why it is stuck or failed.
    pub failure_reason: String,
}

/// A fabric node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct FabricNode {
    /// Node name (the VM's name).
    pub name: String,
    /// `Up`, `Down`, `Disabled`, `Disabling`.
    pub status: String,
    /// `Ok`, `Warning`, `Error`.
    pub health: String,
    /// Fabric version on the node.
    pub version: String,
    /// Upgrade domain.
    pub upgrade_domain: String,
    /// Fault domain.
    pub fault_domain: String,
    /// Seed node.
    pub is_seed: bool,
}

/// An application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct FabricApplication {
    /// `fabric:/AzureStack.Compute`.
    pub name: String,
    /// Application type.
    pub type_name: String,
    /// Type version.
    pub version: String,
    /// `Ok`, `Warning`, `Error`.
    pub health: String,
}

/// A service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct FabricService {
    /// `fabric:/AzureStack.Compute/ComputeController`.
    pub name: String,
    /// Owning application.
    pub application: String,
    /// `Ok`, `Warning`, `Error`.
    pub health: String,
    /// `Active`, `Deleting`, ...
    pub status: String,
    /// Stateful (replicas with one primary) or stateless (instances).
    pub stateful: bool,
    /// Service manifest name.
    pub manifest_name: String,
    /// Container image name.
    pub image_name: String,
    /// Container image tag.
    pub image_tag: String,
    /// Partitions.
    #[serde(rename = "partition")]
    pub partitions: Vec<Partition>,
}

/// A partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Partition {
    /// Partition id (GUID).
    pub id: String,
    /// `Ok`, `Warning`, `Error`.
    pub health: String,
    /// `Ready`, `InQuorumLoss`, `Reconfiguring`, `NotReady` (empty: derived from the replicas).
    pub status: String,
    /// Replicas the service wants (empty: as many as are listed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_replica_set_size: Option<u32>,
    /// Replicas.
    #[serde(rename = "replica")]
    pub replicas: Vec<Replica>,
}

/// A replica (or, for stateless services, an instance).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Replica {
    /// Replica id.
    pub id: String,
    /// The fabric node hosting it.
    pub node: String,
    /// `Primary`, `ActiveSecondary`, `IdleSecondary`, `None` (stateless).
    pub role: String,
    /// `Ready`, `InBuild`, `Standby`, `Down`, `Dropped`.
    pub status: String,
    /// `Ok`, `Warning`, `Error`.
    pub health: String,
    /// Why it is unhealthy (health event text).
    pub health_detail: String,
}
