//! The failover cluster: groups, resources, cluster shared volumes and extra cluster-log lines,
//! and the state words of groups, resources ([`GroupState`]) and shared volumes ([`CsvState`]),
//! parsed once when the scenario loads (serde names are the scenario words, as in `node`).
//! Each infrastructure VM also has a clustered-VM group and two resources, derived from the VM
//! itself (owner = the VM's host) by `Stamp::cluster_groups` and `Stamp::cluster_resources`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

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

/// The state of a cluster group or resource (`Get-ClusterGroup`, `Get-ClusterResource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupState {
    /// Online.
    Online,
    /// Offline.
    Offline,
    /// Failed.
    Failed,
    /// Some of its resources online (groups).
    PartialOnline,
    /// Coming online or going offline.
    Pending,
}

impl GroupState {
    /// Every state, in the order errors list them.
    pub const ALL: &'static [GroupState] = &[
        GroupState::Online,
        GroupState::Offline,
        GroupState::Failed,
        GroupState::PartialOnline,
        GroupState::Pending,
    ];

    /// The word scenarios, records and messages use (`Online`).
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Online => "Online",
            GroupState::Offline => "Offline",
            GroupState::Failed => "Failed",
            GroupState::PartialOnline => "PartialOnline",
            GroupState::Pending => "Pending",
        }
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The state of a cluster shared volume (`Get-ClusterSharedVolume`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CsvState {
    /// Online, direct I/O.
    Online,
    /// Offline.
    Offline,
    /// Failed.
    Failed,
    /// Online, its I/O redirected through the coordinator node.
    Redirected,
}

impl CsvState {
    /// Every state, in the order errors list them.
    pub const ALL: &'static [CsvState] = &[
        CsvState::Online,
        CsvState::Offline,
        CsvState::Failed,
        CsvState::Redirected,
    ];

    /// The word scenarios, records and messages use (`Online`).
    pub fn as_str(self) -> &'static str {
        match self {
            CsvState::Online => "Online",
            CsvState::Offline => "Offline",
            CsvState::Failed => "Failed",
            CsvState::Redirected => "Redirected",
        }
    }
}

impl fmt::Display for CsvState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A cluster group. Scenarios must write `state` (`scenario` refuses a group without one), so
/// the default below is never read from a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterGroup {
    /// Name.
    pub name: String,
    /// Owner node.
    pub owner: String,
    /// `Online`, `Offline`, `Failed`, `PartialOnline`, `Pending`.
    pub state: GroupState,
    /// Nodes it may run on (empty: all).
    pub preferred_owners: Vec<String>,
}

impl Default for ClusterGroup {
    fn default() -> Self {
        ClusterGroup {
            name: String::new(),
            owner: String::new(),
            state: GroupState::Online,
            preferred_owners: Vec::new(),
        }
    }
}

/// A cluster resource. Scenarios must write `state`, as for groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterResource {
    /// Name.
    pub name: String,
    /// Resource type (`IP Address`, ...).
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Owning group.
    pub group: String,
    /// As groups: `Online`, `Offline`, `Failed`, `PartialOnline`, `Pending`.
    pub state: GroupState,
}

impl Default for ClusterResource {
    fn default() -> Self {
        ClusterResource {
            name: String::new(),
            resource_type: String::new(),
            group: String::new(),
            state: GroupState::Online,
        }
    }
}

/// A cluster shared volume (`state` defaults to Online).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SharedVolume {
    /// Name (`Cluster Virtual Disk (Infrastructure_1)`).
    pub name: String,
    /// The virtual disk behind it.
    pub virtual_disk: String,
    /// Owner node.
    pub owner: String,
    /// `Online`, `Offline`, `Failed`, `Redirected`.
    pub state: CsvState,
    /// Mount path (`C:\ClusterStorage\Infrastructure_1`).
    pub path: String,
    /// Size, GiB.
    pub size_gb: f64,
    /// Free, GiB.
    pub free_gb: f64,
}

impl Default for SharedVolume {
    fn default() -> Self {
        SharedVolume {
            name: String::new(),
            virtual_disk: String::new(),
            owner: String::new(),
            state: CsvState::Online,
            path: String::new(),
            size_gb: 0.0,
            free_gb: 0.0,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The saved stamp and the scenario files use the same words as records and messages.
    #[test]
    fn serde_names_are_the_words_shown() {
        let json = |v: serde_json::Value| v.as_str().map(str::to_string);
        for s in GroupState::ALL {
            assert_eq!(json(serde_json::json!(s)).as_deref(), Some(s.as_str()));
            assert_eq!(s.to_string(), s.as_str());
        }
        for s in CsvState::ALL {
            assert_eq!(json(serde_json::json!(s)).as_deref(), Some(s.as_str()));
            assert_eq!(s.to_string(), s.as_str());
        }
    }
}
