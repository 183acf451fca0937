//! Nodes: the scale-unit hosts and infrastructure VMs, with what host-level commands read from them
//! (services, processes, disks, events, files, performance), and the state words of nodes and
//! their services ([`NodeState`], [`ServiceState`], [`StartType`]), parsed once when the scenario
//! loads.
//!
//! States are enums whose serde names are exactly the words scenarios write (`Up`, `Running`,
//! ...): the saved stamp (`stamp.json`, serde of these same structs) keeps the same words, so the
//! format version did not change with them. What a state *means* for behaviour (a host that
//! answers WinRM, a VM that can start) stays with the code that decides it (`commands::hosts`,
//! `stamp::changes`, the known-issue checks); this module only names the states.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The state of a node: a host's cluster-node state (`Get-ClusterNode`) or an infrastructure
/// VM's power state (`Get-VM`). Hosts and VMs share `Paused` (a drained host, a paused VM);
/// validation keeps host states on hosts and VM states on VMs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NodeState {
    /// Host: a member of the cluster, running.
    Up,
    /// Host: not running, or not reachable by the cluster.
    Down,
    /// Host drained for maintenance; VM paused.
    Paused,
    /// Host: joining the cluster.
    Joining,
    /// Host: lost cluster communication, isolated by the cluster.
    Isolated,
    /// Host: kept out of the cluster after repeated failures.
    Quarantined,
    /// VM: running.
    Running,
    /// VM: turned off.
    Off,
    /// VM: saved (memory on disk).
    Saved,
}

impl NodeState {
    /// The states a host can be in, in the order errors list them.
    pub const HOST: &'static [NodeState] = &[
        NodeState::Up,
        NodeState::Down,
        NodeState::Paused,
        NodeState::Joining,
        NodeState::Isolated,
        NodeState::Quarantined,
    ];
    /// The states an infrastructure VM can be in, in the order errors list them.
    pub const VM: &'static [NodeState] = &[
        NodeState::Running,
        NodeState::Off,
        NodeState::Saved,
        NodeState::Paused,
    ];

    /// The word scenarios, records and messages use (`Up`, `Running`).
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Up => "Up",
            NodeState::Down => "Down",
            NodeState::Paused => "Paused",
            NodeState::Joining => "Joining",
            NodeState::Isolated => "Isolated",
            NodeState::Quarantined => "Quarantined",
            NodeState::Running => "Running",
            NodeState::Off => "Off",
            NodeState::Saved => "Saved",
        }
    }

    /// Whether a host can be in this state.
    pub fn is_host_state(self) -> bool {
        Self::HOST.contains(&self)
    }

    /// Whether an infrastructure VM can be in this state.
    pub fn is_vm_state(self) -> bool {
        Self::VM.contains(&self)
    }
}

impl fmt::Display for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

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
    /// `Off`, `Saved`, `Paused`. Scenarios must write it (`scenario` refuses a node without
    /// one), so the default below is never read from a file.
    pub state: NodeState,
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
    /// Lines the scenario plants in the node's log files (`[[host.log]]`, `[[vm.log]]`).
    #[serde(rename = "log", skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<LogLine>,
    /// A real folder whose regular files are collected as the node's logs (empty: none).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub log_dir: String,
    /// How slowly the node's log share answers: milliseconds before each file is read (0: at
    /// once). Log collectors time out on a node slower than their timeout.
    #[serde(skip_serializing_if = "is_zero")]
    pub log_latency_ms: u64,
    /// A real machine (`Stamp::machines`): host-level commands read and act on it for real,
    /// never on the model fields above. Never read from a scenario or saved.
    #[serde(skip)]
    pub real: bool,
    /// A real node's programs run through this prefix (`nsenter -t PID -a --` reaches a
    /// container in tests; empty in production). Never read from a scenario or saved.
    #[serde(skip)]
    pub command_prefix: Vec<String>,
    /// A real node's folders that file commands may read beneath (`Get-AzsSupportFolderSize`,
    /// `Copy-AzsSupportFiles`); empty on simulated nodes. Never read from a scenario or saved.
    #[serde(skip)]
    pub read_roots: Vec<std::path::PathBuf>,
    /// A real node's folders beneath which file commands may remove files
    /// (`Remove-AzsSupportItem`, `Clear-AzsSupportDiskSpace`). Never read from a scenario or saved.
    #[serde(skip)]
    pub remove_roots: Vec<std::path::PathBuf>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Default for Node {
    fn default() -> Self {
        Node {
            name: String::new(),
            role: String::new(),
            host: String::new(),
            state: NodeState::Up,
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
            logs: Vec::new(),
            log_dir: String::new(),
            log_latency_ms: 0,
            real: false,
            command_prefix: Vec::new(),
            read_roots: Vec::new(),
            remove_roots: Vec::new(),
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

/// A service on a node. A service a scenario lists without `state` or `start_type` is an
/// infrastructure service as they usually are: Running, Automatic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Service {
    /// Service name (`MSSQLSERVER`).
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// `Running`, `Stopped`, `StartPending`, ...
    pub state: ServiceState,
    /// `Automatic`, `Manual`, `Disabled`, ...
    pub start_type: StartType,
}

impl Default for Service {
    fn default() -> Self {
        Service {
            name: String::new(),
            display_name: String::new(),
            state: ServiceState::Running,
            start_type: StartType::Automatic,
        }
    }
}

/// The state of a Windows service (`ServiceControllerStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ServiceState {
    /// Running.
    Running,
    /// Stopped.
    Stopped,
    /// Starting.
    StartPending,
    /// Stopping.
    StopPending,
    /// Paused.
    Paused,
    /// Pausing.
    PausePending,
    /// Resuming from a pause.
    ContinuePending,
}

impl ServiceState {
    /// Every state, in the order errors list them.
    pub const ALL: &'static [ServiceState] = &[
        ServiceState::Running,
        ServiceState::Stopped,
        ServiceState::StartPending,
        ServiceState::StopPending,
        ServiceState::Paused,
        ServiceState::PausePending,
        ServiceState::ContinuePending,
    ];

    /// The word scenarios, records and messages use (`Running`).
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Running => "Running",
            ServiceState::Stopped => "Stopped",
            ServiceState::StartPending => "StartPending",
            ServiceState::StopPending => "StopPending",
            ServiceState::Paused => "Paused",
            ServiceState::PausePending => "PausePending",
            ServiceState::ContinuePending => "ContinuePending",
        }
    }
}

impl fmt::Display for ServiceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// How a Windows service starts (`ServiceStartMode`, with PowerShell 7's delayed start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StartType {
    /// Started at boot by the service control manager.
    Automatic,
    /// Started shortly after the automatic ones; also written `Automatic (Delayed Start)`, as
    /// `services.msc` shows it.
    #[serde(alias = "Automatic (Delayed Start)")]
    AutomaticDelayedStart,
    /// Started on demand.
    Manual,
    /// Cannot be started.
    Disabled,
    /// A device driver loaded by the boot loader.
    Boot,
    /// A device driver started during kernel initialization.
    System,
}

impl StartType {
    /// Every start type, in the order errors list them.
    pub const ALL: &'static [StartType] = &[
        StartType::Automatic,
        StartType::AutomaticDelayedStart,
        StartType::Manual,
        StartType::Disabled,
        StartType::Boot,
        StartType::System,
    ];

    /// The word records and messages use (`Automatic`, `AutomaticDelayedStart`).
    pub fn as_str(self) -> &'static str {
        match self {
            StartType::Automatic => "Automatic",
            StartType::AutomaticDelayedStart => "AutomaticDelayedStart",
            StartType::Manual => "Manual",
            StartType::Disabled => "Disabled",
            StartType::Boot => "Boot",
            StartType::System => "System",
        }
    }

    /// Whether the service starts with its node by itself (`Automatic`, delayed or not): it is
    /// expected to run, and a restarted node starts it.
    pub fn is_automatic(self) -> bool {
        matches!(
            self,
            StartType::Automatic | StartType::AutomaticDelayedStart
        )
    }
}

impl fmt::Display for StartType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
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

/// A line a scenario plants in one of a node's log files (`[[vm.log]]`): at an absolute `time`,
/// or `minutes_ago` minutes before the moment the logs are collected (so a planted fault stays in
/// the default window). Text with line breaks continues on lines without a timestamp, as a stack
/// trace does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogLine {
    /// The log file (`EceAgent.log`, or any relative name: a new file of the node).
    pub file: String,
    /// The log role the file belongs to (empty: the role whose file it is, else the node's
    /// first log role).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub role: String,
    /// When, absolute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
    /// When, relative to the collection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minutes_ago: Option<i64>,
    /// `INFO`, `WARN`, `ERROR`, `DEBUG`, `VERBOSE`, `CRITICAL`.
    pub level: String,
    /// The message.
    pub text: String,
}

impl Default for LogLine {
    fn default() -> Self {
        LogLine {
            file: String::new(),
            role: String::new(),
            time: None,
            minutes_ago: None,
            level: "INFO".into(),
            text: String::new(),
        }
    }
}

impl LogLine {
    /// The levels a planted line may have.
    pub const LEVELS: &'static [&'static str] =
        &["INFO", "WARN", "ERROR", "DEBUG", "VERBOSE", "CRITICAL"];

    /// When the line was written, for a collection at stamp time `now`.
    pub fn at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match (self.time, self.minutes_ago) {
            (Some(t), _) => t,
            (None, Some(m)) => now - chrono::Duration::minutes(m),
            (None, None) => now,
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

/// `C:\A\` → `C:\A`; `C:\` → `C:`.
pub fn trim_dir(path: &str) -> &str {
    path.trim_end_matches('\\')
}

/// Whether `file` is `dir` or lies below it (case-insensitive, on `\` boundaries).
pub fn path_under(file: &str, dir: &str) -> bool {
    let dir = trim_dir(dir);
    file.len() > dir.len()
        && file.is_char_boundary(dir.len())
        && file[..dir.len()].eq_ignore_ascii_case(dir)
        && file[dir.len()..].starts_with('\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The saved stamp and the scenario files use the same words as records and messages.
    #[test]
    fn serde_names_are_the_words_shown() {
        let json = |v: serde_json::Value| v.as_str().map(str::to_string);
        let nodes = NodeState::HOST.iter().chain(NodeState::VM);
        for s in nodes {
            assert_eq!(json(serde_json::json!(s)).as_deref(), Some(s.as_str()));
            assert_eq!(s.to_string(), s.as_str());
        }
        for s in ServiceState::ALL {
            assert_eq!(json(serde_json::json!(s)).as_deref(), Some(s.as_str()));
        }
        for s in StartType::ALL {
            assert_eq!(json(serde_json::json!(s)).as_deref(), Some(s.as_str()));
        }
        assert_eq!(
            format!("{:<8}|", NodeState::Up),
            "Up      |",
            "width is honoured"
        );
    }

    #[test]
    fn delayed_start_has_two_spellings_and_counts_as_automatic() {
        for word in ["Automatic (Delayed Start)", "AutomaticDelayedStart"] {
            let text =
                format!("name = \"W32Time\"\nstate = \"Running\"\nstart_type = \"{word}\"\n");
            let s: Service = toml::from_str(&text).expect("parses");
            assert_eq!(s.start_type, StartType::AutomaticDelayedStart);
            assert!(s.start_type.is_automatic());
        }
        assert!(StartType::Automatic.is_automatic());
        assert!(!StartType::Manual.is_automatic() && !StartType::Disabled.is_automatic());
        let shared_paused = NodeState::Paused;
        assert!(shared_paused.is_host_state() && shared_paused.is_vm_state());
        assert!(!NodeState::Running.is_host_state() && !NodeState::Up.is_vm_state());
    }
}
