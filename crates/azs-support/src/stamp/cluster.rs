//! The failover cluster: groups, resources, cluster shared volumes and extra cluster-log lines.
//! Each infrastructure VM also has a clustered-VM group and two resources, derived from the VM
//! itself (owner = the VM's host) by `Stamp::cluster_groups` and `Stamp::cluster_resources`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The cluster (`[cluster]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Cluster {
    /// Cluster name.
    pub name: String,
    /// Groups besides the VMs' own.
    #[serde(rename = "group")]
    pub groups: Vec<ClusterGroup>,
    /// Resources besides the VMs' own.
    #[serde(rename = "resource")]
    pub resources: Vec<ClusterResource>,
    /// Cluster shared volumes.
    #[serde(rename = "csv")]
    pub csvs: Vec<SharedVolume>,
    /// Extra lines of the cluster log (faults leave their traces here).
    #[serde(rename = "log")]
    pub log: Vec<ClusterLogLine>,
}

/// A cluster group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterGroup {
    /// Name.
    pub name: String,
    /// Owner node.
    pub owner: String,
    /// `Online`, `Offline`, `Failed`, `PartialOnline`, `Pending`.
    pub state: String,
    /// Nodes it may run on (empty: all).
    pub preferred_owners: Vec<String>,
}

/// A cluster resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterResource {
    /// Name.
    pub name: String,
    /// Resource type (`IP Address`, ...).
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Owning group.
    pub group: String,
    /// `Online`, `Offline`, `Failed`, `Pending`.
    pub state: String,
}

/// A cluster shared volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SharedVolume {
    /// Name (`Cluster Virtual Disk (Infrastructure_1)`).
    pub name: String,
    /// The virtual disk behind it.
    pub virtual_disk: String,
    /// Owner node.
    pub owner: String,
    /// `Online`, `Offline`, `Failed`, `Redirected`.
    pub state: String,
    /// Mount path (`C:\ClusterStorage\Infrastructure_1`).
    pub path: String,
    /// Size, GiB.
    pub size_gb: f64,
    /// Free, GiB.
    pub free_gb: f64,
}

/// A cluster-log line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterLogLine {
    /// The node that logged it.
    pub node: String,
    /// When.
    pub time: DateTime<Utc>,
    /// `INFO`, `WARN`, `ERR`.
    pub level: String,
    /// Component (`RES`, `RCM`, `NM`, `CS`).
    pub component: String,
    /// Text.
    pub message: String,
}

impl Default for ClusterLogLine {
    fn default() -> Self {
        ClusterLogLine {
            node: String::new(),
            time: DateTime::<Utc>::UNIX_EPOCH,
            level: "INFO".into(),
            component: "RCM".into(),
            message: String::new(),
        }
    }
}
