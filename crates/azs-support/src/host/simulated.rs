//! A simulated node of the stamp as a [`Host`]: its facts are the scenario's model
//! (`node.processes`, `node.services`, `node.disks`, `node.events` plus the node's shipped event
//! source), at the stamp's clock.

use super::{ComputerRow, EventQuery, EventRow, Host, ProcessRow, ServiceRow, VolumeRow};
use crate::stamp::events::source_events;
use crate::stamp::{Node, Process, Stamp};
use chrono::{DateTime, Duration, Utc};

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
            .map(|s| ServiceRow {
                name: s.name.clone(),
                display_name: s.display_name.clone(),
                state: s.state.as_str().to_string(),
                start_mode: s.start_type.as_str().to_string(),
                process_id: self
                    .node
                    .processes
                    .iter()
                    .find(|p| p.service.eq_ignore_ascii_case(&s.name))
                    .map_or(0, |p| p.id),
                systemd: None,
            })
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
        let n = self.node;
        let logs: Vec<String> = if q.logs.is_empty() {
            vec!["System".into(), "Application".into(), "Setup".into()]
        } else {
            q.logs.clone()
        };
        let mut events = n.events.clone();
        events.extend(source_events(
            &n.event_source,
            self.stamp.node_index(&n.name),
            self.now,
        ));
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
        Ok(events
            .into_iter()
            .take(q.max)
            .map(|e| EventRow {
                time: e.time,
                log: e.log,
                provider: e.provider,
                id: e.id,
                level: e.level,
                message: e.message,
            })
            .collect())
    }
}
