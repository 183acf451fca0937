//! The real Linux machine: processes and handles from procfs, services through systemd, events
//! from journald, volumes and system facts, packet captures and process dumps. Every external
//! program goes through [`runner`] (fixed argv, clean environment, timeout, output cap).
//!
//! [`LinuxHost`] is the machine as a [`Host`]: what it reports is read live, never modelled; a
//! fact it cannot read (no systemd as PID 1, no journald) is a one-line error, not model data.

pub mod beneath;
pub mod capture;
pub mod coredump;
pub mod file_ops;
pub mod handles;
pub mod journal;
pub mod live_captures;
pub mod nspawn;
pub mod processes;
mod repairs;
pub mod runner;
pub(crate) mod storage_events;
pub mod syscall_trace;
pub mod system;
pub mod systemd;
pub(crate) mod tools;

use super::{
    Acted, Call, CallTraceRequest, CaptureRequest, ComputerRow, EventQuery, EventRow, Host,
    ProcessRow, ProcessSelector, RemoveRequest, ServiceAction, ServiceRow, StoppedProcess,
    SystemdState, TraceQuery, VolumeRow,
};
use crate::stamp::Node;
use crate::value::Record;
use chrono::{DateTime, Utc};
use runner::Runner;
use std::path::Path;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

/// The machine's host name, as `hostname` prints it.
pub fn host_name() -> String {
    let name = system::host_name();
    if name.trim().is_empty() {
        "localhost".into()
    } else {
        name.trim().to_string()
    }
}

/// The operating system's `PRETTY_NAME` (`/etc/os-release`), or `Linux`.
pub fn os_pretty_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim().trim_matches('"').to_string())
            })
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "Linux".into())
}

/// The Linux machine behind a real node.
pub struct LinuxHost<'a> {
    node: &'a Node,
    runner: Runner,
}

impl<'a> LinuxHost<'a> {
    /// The machine behind `node`, its programs run through the node's command prefix (none in
    /// production).
    pub fn local(node: &'a Node) -> Self {
        LinuxHost {
            node,
            runner: Runner::with_prefix(node.command_prefix.clone()),
        }
    }

    /// The machine, programs run through `runner` (a prefix reaches a container in tests).
    pub fn with_runner(node: &'a Node, runner: Runner) -> Self {
        LinuxHost { node, runner }
    }

    /// The runner its programs go through.
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Its systemd.
    pub fn systemd(&self) -> systemd::Systemd {
        systemd::Systemd::new(self.runner.clone())
    }
}

fn round2(f: f64) -> f64 {
    (f * 100.0).round() / 100.0
}

/// A process as a row.
pub fn process_row(p: &processes::ProcessInfo) -> ProcessRow {
    ProcessRow {
        name: p.name.clone(),
        id: p.id,
        cpu_seconds: round2(p.cpu_seconds),
        working_set_mb: round2(p.working_set_bytes as f64 / MIB),
        handles: p.handles,
        threads: Some(p.threads),
        start_time: p.start_time,
        user: p.user.clone(),
        command_line: Some(p.command_line.clone()),
    }
}

/// A systemd unit as a service row: PowerShell's status word from systemd's states, with
/// systemd's own words beside it.
pub fn service_row(s: &systemd::ServiceInfo) -> ServiceRow {
    let state = match (s.active_state.as_str(), s.sub_state.as_str()) {
        ("active", _) | ("reloading", _) => "Running",
        ("activating", _) => "StartPending",
        ("deactivating", _) => "StopPending",
        _ => "Stopped",
    };
    ServiceRow {
        name: s.name.clone(),
        display_name: s.description.clone(),
        state: state.to_string(),
        start_mode: s.start_mode.clone(),
        process_id: s.main_pid,
        systemd: Some(SystemdState {
            load_state: s.load_state.clone(),
            active_state: s.active_state.clone(),
            sub_state: s.sub_state.clone(),
            restarts: s.restarts,
            result: s.result.clone(),
        }),
    }
}

/// The syslog priority at or below which an entry has one of `levels` (the least severe asked),
/// or `None` for every level.
fn max_priority(levels: &[String]) -> Option<u8> {
    levels
        .iter()
        .filter_map(|l| match l.to_ascii_lowercase().as_str() {
            "critical" => Some(2),
            "error" => Some(3),
            "warning" => Some(4),
            "information" => Some(6),
            "verbose" => Some(7),
            _ => None,
        })
        .max()
}

impl Host for LinuxHost<'_> {
    fn node(&self) -> &Node {
        self.node
    }

    fn model(&self) -> Result<&Node, String> {
        Err(format!(
            "{} is a real machine: this command works on the simulated fabric only and is not available on real machines in this version of pep; nothing was done",
            self.node.name
        ))
    }

    fn processes(&self) -> Result<Vec<ProcessRow>, String> {
        Ok(processes::list()?.iter().map(process_row).collect())
    }

    fn services(&self) -> Result<Vec<ServiceRow>, String> {
        Ok(self.systemd().list()?.iter().map(service_row).collect())
    }

    fn volumes(&self) -> Result<Vec<VolumeRow>, String> {
        Ok(system::volumes()?
            .into_iter()
            .map(|v| VolumeRow {
                drive: v.mount_point,
                label: v.device,
                file_system: Some(v.file_system),
                size_gb: v.size_bytes as f64 / GIB,
                free_gb: v.available_bytes as f64 / GIB,
            })
            .collect())
    }

    fn computer(&self) -> Result<ComputerRow, String> {
        let c = system::computer_info()?;
        Ok(ComputerRow {
            os_version: c.os,
            os_build: c.kernel,
            last_boot: c.boot_time,
            local_time: chrono::Utc::now(),
            time_zone: c.time_zone,
            manufacturer: std::fs::read_to_string("/sys/class/dmi/id/sys_vendor")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            model: c.cpu_model,
            logical_processors: c.logical_processors,
            total_memory_gb: round2(c.memory_total_bytes as f64 / GIB),
            available_memory_gb: Some(round2(c.memory_available_bytes as f64 / GIB)),
        })
    }

    /// The journal (or, without journald, `/var/log` and the kernel ring buffer). `-LogName`
    /// names units (`cron`, `ssh.service`); the Windows logs (`System`, `Application`,
    /// `Setup`) mean every unit. Event ids are Windows': none matches a Linux entry.
    fn events(&self, q: &EventQuery) -> Result<Vec<EventRow>, String> {
        if !q.ids.is_empty() {
            return Ok(Vec::new());
        }
        let units: Vec<&String> = q
            .logs
            .iter()
            .filter(|l| {
                !["system", "application", "setup"].contains(&l.to_ascii_lowercase().as_str())
            })
            .collect();
        let mut queries: Vec<Option<String>> = units.iter().map(|u| Some((*u).clone())).collect();
        if queries.is_empty() {
            queries.push(None);
        }
        let mut rows = Vec::new();
        for unit in queries {
            let jq = journal::JournalQuery {
                unit,
                since: q.from,
                until: Some(q.to),
                max_level: max_priority(&q.levels),
                grep: None,
                limit: q.max.clamp(1, journal::MAX_ENTRIES),
            };
            for e in journal::read(&self.runner, &jq)? {
                if !q.levels.is_empty()
                    && !q.levels.iter().any(|l| l.eq_ignore_ascii_case(&e.level))
                {
                    continue;
                }
                if q.provider
                    .as_deref()
                    .is_some_and(|p| !p.eq_ignore_ascii_case(&e.identifier))
                {
                    continue;
                }
                rows.push(EventRow {
                    time: e.time,
                    log: e.unit,
                    provider: e.identifier,
                    id: 0,
                    level: e.level,
                    message: e.message,
                });
            }
        }
        rows.sort_by_key(|e| std::cmp::Reverse(e.time));
        rows.truncate(q.max);
        Ok(rows)
    }
    fn storage_events(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        max: usize,
    ) -> Result<Vec<EventRow>, String> {
        let mut evs = storage_events::storage_events(self.node, &self.runner, from, to)?;
        evs.sort_by_key(|e| std::cmp::Reverse(e.time));
        evs.truncate(max);
        Ok(evs)
    }

    fn handles(&self, pid: Option<i64>, kind: Option<&str>) -> Result<Vec<Record>, String> {
        tools::handles(self, pid, kind)
    }

    fn code_integrity(&self) -> Record {
        tools::code_integrity(self)
    }

    fn folder_size(&self, path: &str) -> Result<Vec<Record>, String> {
        tools::folder_size(self, path)
    }

    fn trace_extensions(&self) -> &'static [&'static str] {
        &[".etl", ".pcapng"]
    }

    fn trace_events(&self, file: &Path, q: &TraceQuery) -> Result<Vec<Record>, String> {
        tools::trace_events(self, file, q)
    }

    fn stop_process(&self, id: i64, call: &mut Call<'_>) -> Acted<StoppedProcess> {
        repairs::stop_process(self, id, call)
    }

    fn control_service(
        &self,
        name: &str,
        action: ServiceAction,
        call: &mut Call<'_>,
    ) -> Acted<ServiceRow> {
        repairs::control_service(self, name, action, call)
    }

    fn start_capture(&self, req: &CaptureRequest, call: &mut Call<'_>) -> Acted<Record> {
        tools::start_capture(self, req, call)
    }

    fn stop_capture(&self, call: &mut Call<'_>) -> Acted<Record> {
        tools::stop_capture(self, call)
    }

    fn dump_process(&self, which: &ProcessSelector, call: &mut Call<'_>) -> Result<Record, String> {
        tools::dump_process(self, which, call)
    }

    fn trace_calls(&self, req: &CallTraceRequest, call: &mut Call<'_>) -> Acted<Record> {
        tools::trace_calls(self, req, call)
    }

    fn net_view(&self, call: &mut Call<'_>) -> Result<Record, String> {
        tools::net_view(self, call)
    }

    fn clear_disk_space(&self, call: &mut Call<'_>) -> Acted<Vec<Record>> {
        repairs::clear_disk_space(self, call)
    }

    fn remove_items(&self, req: &RemoveRequest, call: &mut Call<'_>) -> Acted<Vec<Record>> {
        repairs::remove_items(self, req, call)
    }

    fn copy_files(
        &self,
        path: &str,
        recurse: bool,
        call: &mut Call<'_>,
    ) -> Result<Vec<Record>, String> {
        tools::copy_files(self, path, recurse, call)
    }
}
