//! The seam between host-level commands and what they inspect and act on: [`Host`], one node's
//! host-level facts (processes, services, volumes, computer facts, events, handles) and actions
//! (stopping a process, controlling a service, captures, dumps, traces, clean-ups, copies). A node
//! of the stamp is either simulated ([`simulated::SimulatedHost`]: the scenario's model) or real
//! ([`linux::LinuxHost`]: the Linux machine pep runs on, read and acted on live; later more Linux
//! nodes reached over SSH). [`host_of`] picks the implementation; commands never know which they
//! talk to.
//!
//! An action takes a [`Call`] (the case's working directory, the clock, ShouldProcess) and
//! answers with an [`Effect`]: done already (the machine), or the change to the stamp that does
//! it (the model; the invocation applies it once the host has stopped reading the stamp).

pub mod call;
pub mod event_lines;
pub mod linux;
pub mod simulated;

pub use call::{
    stamp_time, Acted, Call, CallTraceRequest, CaptureRequest, Effect, ProcessSelector,
    RemoveRequest, StoppedProcess, TraceQuery,
};
pub use linux::systemd::ServiceAction;

use crate::stamp::{Node, NodeState, Stamp};
use crate::value::Record;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::Path;

/// A process as `Get-AzsSupportProcess` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessRow {
    /// Image name (`svchost`; on Linux the kernel's `comm`).
    pub name: String,
    /// Process id.
    pub id: u32,
    /// CPU time, seconds.
    pub cpu_seconds: f64,
    /// Working set (resident memory), MiB.
    pub working_set_mb: f64,
    /// Open handles (file descriptors), where known.
    pub handles: Option<u32>,
    /// Threads, where known.
    pub threads: Option<u32>,
    /// When it started.
    pub start_time: DateTime<Utc>,
    /// The account it runs as.
    pub user: String,
    /// Its command line, where known.
    pub command_line: Option<String>,
}

/// A service as `Get-AzsSupportService` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceRow {
    /// Service (unit) name.
    pub name: String,
    /// Display name (description).
    pub display_name: String,
    /// PowerShell's status word: `Running`, `Stopped`, `StartPending`, `StopPending`, ...
    pub state: String,
    /// `Automatic`, `Manual`, `Disabled`, ...
    pub start_mode: String,
    /// The process that runs it (0: none).
    pub process_id: u32,
    /// systemd's own words, on a real node.
    pub systemd: Option<SystemdState>,
}

/// What systemd says of a unit, beside the PowerShell words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SystemdState {
    /// `loaded`, `not-found`, `masked`, ...
    pub load_state: String,
    /// `active`, `inactive`, `failed`, `activating`, ...
    pub active_state: String,
    /// `running`, `dead`, `exited`, ...
    pub sub_state: String,
    /// Restarts systemd made (`NRestarts`).
    pub restarts: u32,
    /// Why it last stopped (`success`, `exit-code`, ...).
    pub result: String,
}

/// A volume as `Get-AzsSupportDiskSpace` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VolumeRow {
    /// Drive letter (`C:`) or, on Linux, the mount point.
    pub drive: String,
    /// Label or, on Linux, the device.
    pub label: String,
    /// File system type, where known.
    pub file_system: Option<String>,
    /// Size, GiB.
    pub size_gb: f64,
    /// Free space (available to users), GiB.
    pub free_gb: f64,
}

/// What `Get-AzsSupportComputerInformation` shows of a node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComputerRow {
    /// Operating system.
    pub os_version: String,
    /// Build (Windows) or kernel release (Linux).
    pub os_build: String,
    /// Last boot.
    pub last_boot: DateTime<Utc>,
    /// The node's clock now.
    pub local_time: DateTime<Utc>,
    /// Time zone.
    pub time_zone: String,
    /// Hardware maker.
    pub manufacturer: String,
    /// Hardware model (Linux: the processor).
    pub model: String,
    /// Logical processors.
    pub logical_processors: u32,
    /// Memory, GiB.
    pub total_memory_gb: f64,
    /// Memory available, GiB, where known.
    pub available_memory_gb: Option<f64>,
}

/// An event as `Get-AzsSupportWinEvent` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    /// When.
    pub time: DateTime<Utc>,
    /// Log (`System`; on Linux the unit, or the file it came from).
    pub log: String,
    /// Provider (on Linux the syslog identifier).
    pub provider: String,
    /// Event id (0 on Linux).
    pub id: u32,
    /// `Critical`, `Error`, `Warning`, `Information`, `Verbose`.
    pub level: String,
    /// The message.
    pub message: String,
}

/// Which events a read wants.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Logs (empty: the node's usual ones).
    pub logs: Vec<String>,
    /// Levels (empty: all).
    pub levels: Vec<String>,
    /// Provider.
    pub provider: Option<String>,
    /// Event ids (empty: all).
    pub ids: Vec<i64>,
    /// From.
    pub from: Option<DateTime<Utc>>,
    /// Until.
    pub to: DateTime<Utc>,
    /// At most this many, newest first.
    pub max: usize,
}

/// One node's host-level facts and actions.
pub trait Host {
    /// The node of the stamp this is.
    fn node(&self) -> &Node;
    /// The node's model, for commands only the simulated fabric answers (DSC, ECE, ...); a real
    /// machine refuses in one line.
    fn model(&self) -> Result<&Node, String>;

    // ------------------------------------------------------------ facts
    /// Its processes, sorted by name (case-insensitive), then id.
    fn processes(&self) -> Result<Vec<ProcessRow>, String>;
    /// Its services, in the order the node lists them.
    fn services(&self) -> Result<Vec<ServiceRow>, String>;
    /// Its volumes.
    fn volumes(&self) -> Result<Vec<VolumeRow>, String>;
    /// Its computer facts.
    fn computer(&self) -> Result<ComputerRow, String>;
    /// Its events matching `q`, newest first, at most `q.max`.
    fn events(&self, q: &EventQuery) -> Result<Vec<EventRow>, String>;
    /// Its storage errors and warnings in `[from, to]`, newest first, at most `max`.
    fn storage_events(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        max: usize,
    ) -> Result<Vec<EventRow>, String>;
    /// The open handles of process `pid` (or of every process), of type `kind` (or all).
    fn handles(&self, pid: Option<i64>, kind: Option<&str>) -> Result<Vec<Record>, String>;
    /// Its code integrity enforcement.
    fn code_integrity(&self) -> Record;
    /// The folders and files directly under `path`, largest first.
    fn folder_size(&self, path: &str) -> Result<Vec<Record>, String>;
    /// The file extensions of its trace files in the working directory (`.etl`, `.pcapng`).
    fn trace_extensions(&self) -> &'static [&'static str];
    /// The events of trace file `file` (in the working directory) matching `q`, in time order.
    fn trace_events(&self, file: &Path, q: &TraceQuery) -> Result<Vec<Record>, String>;

    // ------------------------------------------------------------ actions
    /// Stops process `id` (never one the node cannot live without); its record.
    fn stop_process(&self, id: i64, call: &mut Call<'_>) -> Acted<StoppedProcess>;
    /// Starts, stops or restarts service `name`; the service after.
    fn control_service(
        &self,
        name: &str,
        action: ServiceAction,
        call: &mut Call<'_>,
    ) -> Acted<ServiceRow>;
    /// Starts a packet trace into the working directory.
    fn start_capture(&self, req: &CaptureRequest, call: &mut Call<'_>) -> Acted<Record>;
    /// Stops the running packet trace; its file.
    fn stop_capture(&self, call: &mut Call<'_>) -> Acted<Record>;
    /// Dumps a process into `<workdir>/dumps`; the process keeps running.
    fn dump_process(&self, which: &ProcessSelector, call: &mut Call<'_>) -> Result<Record, String>;
    /// Traces a process (WMI providers; on Linux its system calls) into the working directory.
    fn trace_calls(&self, req: &CallTraceRequest, call: &mut Call<'_>) -> Acted<Record>;
    /// A snapshot of the node's network into the working directory.
    fn net_view(&self, call: &mut Call<'_>) -> Result<Record, String>;
    /// Removes what the known-safe clean-up locations hold; one record per category.
    fn clear_disk_space(&self, call: &mut Call<'_>) -> Acted<Vec<Record>>;
    /// Removes the items at a path (in the clean-up locations), a service stopped around it.
    fn remove_items(&self, req: &RemoveRequest, call: &mut Call<'_>) -> Acted<Vec<Record>>;
    /// Copies the files at `path` into `<workdir>/<NODE>/`.
    fn copy_files(
        &self,
        path: &str,
        recurse: bool,
        call: &mut Call<'_>,
    ) -> Result<Vec<Record>, String>;
}

/// The host behind `node` of `stamp`, at stamp time `now`.
pub fn host_of<'a>(stamp: &'a Stamp, node: &'a Node, now: DateTime<Utc>) -> Box<dyn Host + 'a> {
    if node.real {
        Box::new(linux::LinuxHost::local(node))
    } else {
        Box::new(simulated::SimulatedHost::new(stamp, node, now))
    }
}

/// The node the machine pep runs on is in every stamp: named as `hostname` prints it, a host of
/// no cluster, Up (it answers: pep runs on it), marked real. Its model fields stay at their
/// defaults and are never shown: commands read the machine instead.
pub fn local_machine_node() -> Node {
    Node {
        name: linux::host_name(),
        role: "Linux".into(),
        state: NodeState::Up,
        os_version: linux::os_pretty_name(),
        real: true,
        read_roots: DEFAULT_READ_ROOTS.iter().map(Into::into).collect(),
        remove_roots: DEFAULT_REMOVE_ROOTS.iter().map(Into::into).collect(),
        ..Node::default()
    }
}

/// The folders file commands may read beneath on the machine unless the operator says otherwise
/// (`pep serve --host-read-root`): its logs and crash dumps.
pub const DEFAULT_READ_ROOTS: &[&str] = &["/var/log", "/var/crash", "/var/lib/systemd/coredump"];

/// The folders file commands may remove files beneath unless the operator says otherwise
/// (`pep serve --host-remove-root`): crash dumps. (Rotated logs under `/var/log` are removable by
/// their names alone.)
pub const DEFAULT_REMOVE_ROOTS: &[&str] = &["/var/crash", "/var/lib/systemd/coredump"];
