//! A simulated node of the stamp as a [`Host`]: its facts are the scenario's model
//! (`node.processes`, `node.services`, `node.disks`, `node.events` plus the node's shipped event
//! source), at the stamp's clock; its actions are changes to the stamp (`repairs`) and
//! placeholder artefacts in the working directory (`tools`). Every read and change of a node
//! goes through WinRM in the real product, so a node that is not reachable refuses them.

pub(crate) mod repairs;
pub(crate) mod storage_events;
pub mod tools;

use super::{
    Acted, Call, CallTraceRequest, CaptureRequest, ComputerRow, EventQuery, EventRow, Host,
    ProcessRow, ProcessSelector, RemoveRequest, ServiceAction, ServiceRow, StoppedProcess,
    TraceQuery, VolumeRow,
};
use crate::stamp::events::source_events;
use crate::stamp::{Event, Node, Process, Service, Stamp};
use crate::value::Record;
use chrono::{DateTime, Duration, Utc};
use std::path::Path;

/// A node of the model.
pub struct SimulatedHost<'a> {
    stamp: &'a Stamp,
    node: &'a Node,
    now: DateTime<Utc>,
}

impl<'a> SimulatedHost<'a> {
    /// `node` of `stamp` at stamp time `now`.
    pub fn new(stamp: &'a Stamp, node: &'a Node, now: DateTime<Utc>) -> Self {
        SimulatedHost { stamp, node, now }
    }

    /// The node's own events and those of its shipped event source.
    fn own_events(&self) -> Vec<Event> {
        let n = self.node;
        let mut events = n.events.clone();
        events.extend(source_events(
            &n.event_source,
            self.stamp.node_index(&n.name),
            self.now,
        ));
        events
    }

    /// Fails, as the real command does, when the node cannot be reached.
    fn reachable(&self) -> Result<(), String> {
        match self.stamp.unreachable(self.node) {
            None => Ok(()),
            Some(why) => Err(format!(
                "cannot reach {}: {why} (WinRM cannot complete the operation; start it first)",
                self.node.name
            )),
        }
    }
}

/// A modelled event as a row.
fn event_row(e: Event) -> EventRow {
    EventRow {
        time: e.time,
        log: e.log,
        provider: e.provider,
        id: e.id,
        level: e.level,
        message: e.message,
    }
}

/// A modelled service of `node` as a row.
pub fn service_row(node: &Node, s: &Service) -> ServiceRow {
    ServiceRow {
        name: s.name.clone(),
        display_name: s.display_name.clone(),
        state: s.state.as_str().to_string(),
        start_mode: s.start_type.as_str().to_string(),
        process_id: node
            .processes
            .iter()
            .find(|p| p.service.eq_ignore_ascii_case(&s.name))
            .map_or(0, |p| p.id),
        systemd: None,
    }
}

/// The account a modelled process runs as, by the service it hosts.
fn process_user(p: &Process) -> &'static str {
    match p.service.as_str() {
        "W32Time" => r"NT AUTHORITY\LOCAL SERVICE",
        "Dnscache" => r"NT AUTHORITY\NETWORK SERVICE",
        "MSSQLSERVER" => r"NT SERVICE\MSSQLSERVER",
        "SQLSERVERAGENT" => r"NT SERVICE\SQLSERVERAGENT",
        _ => r"NT AUTHORITY\SYSTEM",
    }
}

/// A modelled process as a row (a process without a start time started shortly after boot).
pub fn process_row(node: &Node, p: &Process) -> ProcessRow {
    let start = p
        .start_time
        .unwrap_or(node.boot_time + Duration::seconds(5 + i64::from(p.id / 100)));
    ProcessRow {
        name: p.name.clone(),
        id: p.id,
        cpu_seconds: p.cpu_seconds,
        working_set_mb: p.working_set_mb,
        handles: Some(p.handles),
        threads: None,
        start_time: start,
        user: process_user(p).to_string(),
        command_line: None,
    }
}

impl Host for SimulatedHost<'_> {
    fn node(&self) -> &Node {
        self.node
    }

    fn model(&self) -> Result<&Node, String> {
        Ok(self.node)
    }

    fn processes(&self) -> Result<Vec<ProcessRow>, String> {
        let mut rows: Vec<ProcessRow> = self
            .node
            .processes
            .iter()
            .map(|p| process_row(self.node, p))
            .collect();
        rows.sort_by(|a, b| {
            a.name
                .to_ascii_lowercase()
                .cmp(&b.name.to_ascii_lowercase())
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(rows)
    }

    fn services(&self) -> Result<Vec<ServiceRow>, String> {
        Ok(self
            .node
            .services
            .iter()
            .map(|s| service_row(self.node, s))
            .collect())
    }

    fn volumes(&self) -> Result<Vec<VolumeRow>, String> {
        Ok(self
            .node
            .disks
            .iter()
            .map(|d| VolumeRow {
                drive: d.drive.clone(),
                label: d.label.clone(),
                file_system: None,
                size_gb: d.size_gb,
                free_gb: d.free_gb,
            })
            .collect())
    }

    fn computer(&self) -> Result<ComputerRow, String> {
        let n = self.node;
        let manufacturer = if n.manufacturer.is_empty() && !n.host.is_empty() {
            "Microsoft Corporation".to_string()
        } else {
            n.manufacturer.clone()
        };
        Ok(ComputerRow {
            os_version: n.os_version.clone(),
            os_build: n
                .os_version
                .rsplit(' ')
                .next()
                .unwrap_or_default()
                .to_string(),
            last_boot: n.boot_time,
            local_time: self.now,
            time_zone: "(UTC) Coordinated Universal Time".into(),
            manufacturer,
            model: n.model.clone(),
            logical_processors: n.cpu_cores,
            total_memory_gb: f64::from(n.memory_gb),
            available_memory_gb: None,
        })
    }

    fn events(&self, q: &EventQuery) -> Result<Vec<EventRow>, String> {
        let logs: Vec<String> = if q.logs.is_empty() {
            vec!["System".into(), "Application".into(), "Setup".into()]
        } else {
            q.logs.clone()
        };
        let mut events = self.own_events();
        events.retain(|e| {
            logs.iter().any(|l| l.eq_ignore_ascii_case(&e.log))
                && (q.levels.is_empty()
                    || q.levels.iter().any(|l| l.eq_ignore_ascii_case(&e.level)))
                && q.provider
                    .as_deref()
                    .is_none_or(|p| p.eq_ignore_ascii_case(&e.provider))
                && (q.ids.is_empty() || q.ids.contains(&i64::from(e.id)))
                && q.from.is_none_or(|f| e.time >= f)
                && e.time <= q.to
        });
        events.sort_by_key(|e| std::cmp::Reverse(e.time));
        Ok(events.into_iter().take(q.max).map(event_row).collect())
    }

    fn storage_events(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        max: usize,
    ) -> Result<Vec<EventRow>, String> {
        let n = self.node;
        let mut evs: Vec<_> = self
            .own_events()
            .into_iter()
            .chain(storage_events::derived_storage_events(
                self.stamp, &n.name, self.now,
            ))
            .filter(|e| matches!(e.level.as_str(), "Critical" | "Error" | "Warning"))
            .filter(storage_events::is_storage_event)
            .filter(|e| e.time >= from && e.time <= to)
            .collect();
        evs.sort_by_key(|e| std::cmp::Reverse(e.time));
        evs.truncate(max);
        Ok(evs.into_iter().map(event_row).collect())
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
        &[".etl"]
    }

    fn trace_events(&self, file: &Path, q: &TraceQuery) -> Result<Vec<Record>, String> {
        let q = TraceQuery {
            to: Some(q.to.unwrap_or(self.now)),
            ..q.clone()
        };
        super::event_lines::read_events(file, &q)
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
