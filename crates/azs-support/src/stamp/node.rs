//! Nodes: the scale-unit hosts and infrastructure VMs, with what host-level commands read from them
//! (services, processes, disks, events, files, performance).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A physical host (`[[host]]`) or an infrastructure VM (`[[vm]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Node {
    /// Node name (`AZS-HOST01`, `AZS-ERCS01`).
    pub name: String,
    /// Infrastructure role (VMs: `ERCS`, `ACS`, `SeedRing`, ...; hosts: `BareMetal`).
    pub role: String,
    /// The host a VM runs on (empty for hosts).
    pub host: String,
    /// Hosts: `Up`, `Down`, `Paused`, `Joining`, `Isolated`, `Quarantined`. VMs: `Running`,
    /// `Off`, `Saved`, `Paused`.
    pub state: String,
    /// Hosts: `NotInitiated`, `InProgress`, `Completed`, `Failed`.
    pub drain_status: String,
    /// ECE provisioning status: `Provisioned`, `Provisioning`, `Failed`.
    pub provisioning_status: String,
    /// Hardware (hosts).
    pub manufacturer: String,
    /// Hardware model (hosts) or VM generation.
    pub model: String,
    /// Serial number (hosts).
    pub serial_number: String,
    /// Operating system.
    pub os_version: String,
    /// Last boot.
    pub boot_time: DateTime<Utc>,
    /// Logical processors.
    pub cpu_cores: u32,
    /// Memory in GiB.
    pub memory_gb: u32,
    /// Processor load, percent.
    pub cpu_percent: f64,
    /// Memory in use, percent.
    pub memory_percent: f64,
    /// Volumes.
    #[serde(rename = "disk")]
    pub disks: Vec<Disk>,
    /// Services.
    #[serde(rename = "service")]
    pub services: Vec<Service>,
    /// Processes.
    #[serde(rename = "process")]
    pub processes: Vec<Process>,
    /// Events besides the ones drawn from the node's log source.
    #[serde(rename = "event")]
    pub events: Vec<Event>,
    /// Which shipped log the node's events are drawn from (`windows-cbs`; empty: none).
    pub event_source: String,
    /// Files (for folder sizes, copies, removal).
    #[serde(rename = "file")]
    pub files: Vec<FileEntry>,
    /// The simulated packet trace running on the node (Enable-/Disable-AzsSupportNetshTrace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netsh_trace: Option<NetshTrace>,
}

impl Default for Node {
    fn default() -> Self {
        Node {
            name: String::new(),
            role: String::new(),
            host: String::new(),
            state: String::new(),
            drain_status: "NotInitiated".into(),
            provisioning_status: "Provisioned".into(),
            manufacturer: String::new(),
            model: String::new(),
            serial_number: String::new(),
            os_version: "Microsoft Windows Server 2019 Datacenter 10.0.17763".into(),
            boot_time: DateTime::<Utc>::UNIX_EPOCH,
            cpu_cores: 8,
            memory_gb: 16,
            cpu_percent: 10.0,
            memory_percent: 40.0,
            disks: Vec::new(),
            services: Vec::new(),
            processes: Vec::new(),
            events: Vec::new(),
            event_source: String::new(),
            files: Vec::new(),
            netsh_trace: None,
        }
    }
}

/// A volume on a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Disk {
    /// Drive (`C:`).
    pub drive: String,
    /// Label.
    pub label: String,
    /// Size in GiB.
    pub size_gb: f64,
    /// Free space in GiB.
    pub free_gb: f64,
}

/// A service on a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Service {
    /// Service name (`MSSQLSERVER`).
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// `Running`, `Stopped`, `StartPending`, `StopPending`, `Paused`.
    pub state: String,
    /// `Automatic`, `Manual`, `Disabled`.
    pub start_type: String,
}

/// A process on a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Process {
    /// Image name without extension (`svchost`).
    pub name: String,
    /// Process id.
    pub id: u32,
    /// CPU time, seconds.
    pub cpu_seconds: f64,
    /// Working set, MiB.
    pub working_set_mb: f64,
    /// Open handles.
    pub handles: u32,
    /// The service it hosts, if any.
    pub service: String,
    /// When it started (absent: shortly after the node booted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
}

/// An event-log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Event {
    /// Log name (`System`, `Application`, `Microsoft-Windows-Health/Operational`).
    pub log: String,
    /// When.
    pub time: DateTime<Utc>,
    /// `Critical`, `Error`, `Warning`, `Information`, `Verbose`.
    pub level: String,
    /// Event id.
    pub id: u32,
    /// Provider.
    pub provider: String,
    /// Message.
    pub message: String,
}

impl Default for Event {
    fn default() -> Self {
        Event {
            log: "System".into(),
            time: DateTime::<Utc>::UNIX_EPOCH,
            level: "Information".into(),
            id: 0,
            provider: String::new(),
            message: String::new(),
        }
    }
}

/// A file on a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct FileEntry {
    /// Full Windows path (`C:\MASLogs\x.log`).
    pub path: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Last write.
    pub modified: Option<DateTime<Utc>>,
}

/// A packet trace running on a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct NetshTrace {
    /// Interface captured (empty: all).
    pub interface: String,
    /// Maximum trace size, MB.
    pub max_size_mb: i64,
    /// When it started.
    pub started: Option<DateTime<Utc>>,
    /// The file it will be written to, relative to the working directory.
    pub file: String,
}
