//! Host-level reads of the stamp's nodes (hosts, infrastructure VMs and the real machine):
//! Get-AzsSupportComputerInformation, -DiskSpace, -FolderSize, -Process, -Service and -WinEvent,
//! and the node lookups the other host-level families share. The repairs live in `host_repair`.
//!
//! Each read asks the node's [`crate::host::Host`] (the scenario's model for a simulated node,
//! the live machine for a real one) and shapes its rows into records; the folder size of a
//! simulated node reads `node.files`.

use super::{CommandError, Invocation, Table};
use crate::host::{host_of, EventQuery, ProcessRow, ServiceRow};
use crate::stamp::{Node, Stamp};
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;

/// The commands of this family.
pub const COMMANDS: Table = &[
    (
        "Get-AzsSupportComputerInformation",
        get_computer_information,
    ),
    ("Get-AzsSupportDiskSpace", get_disk_space),
    ("Get-AzsSupportFolderSize", get_folder_size),
    ("Get-AzsSupportProcess", get_process),
    ("Get-AzsSupportService", get_service),
    ("Get-AzsSupportWinEvent", get_win_event),
];

/// Bytes in a GiB, for the sizes commands report in GB.
pub(crate) const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

// ---------------------------------------------------------------- shared helpers

fn some_names(stamp: &Stamp) -> String {
    let names: Vec<&str> = stamp.nodes().map(|n| n.name.as_str()).collect();
    let shown = names.iter().take(6).copied().collect::<Vec<_>>().join(", ");
    if names.len() > 6 {
        format!("{shown}, ... ({} nodes)", names.len())
    } else {
        shown
    }
}

/// A host or infrastructure VM by name, or an error naming a few that exist.
pub(crate) fn require_node<'s>(stamp: &'s Stamp, name: &str) -> Result<&'s Node, CommandError> {
    stamp.node(name).ok_or_else(|| {
        CommandError(format!(
            "no node named '{name}' in this stamp (nodes: {})",
            some_names(stamp)
        ))
    })
}

/// Refuses a node whose host has no model (a real machine) for a command that answers from the
/// simulated model: a real node is never given model data.
pub(crate) fn model_only(stamp: &Stamp, node: &Node) -> Result<(), CommandError> {
    host_of(stamp, node, stamp.now())
        .model()
        .map(|_| ())
        .map_err(CommandError)
}

/// The simulated nodes named, each once, in the order named (all hosts and VMs when none is
/// named), as the stamp knows them whether or not they run (ECE's view); a name the stamp lacks
/// is an error naming some it has, and a real machine is refused.
pub(crate) fn select_known_nodes<'s>(
    stamp: &'s Stamp,
    wanted: &[String],
) -> Result<Vec<&'s Node>, CommandError> {
    let nodes = select_known_with_real(stamp, wanted)?;
    if wanted.is_empty() {
        return Ok(nodes
            .into_iter()
            .filter(|n| model_only(stamp, n).is_ok())
            .collect());
    }
    for n in &nodes {
        model_only(stamp, n)?;
    }
    Ok(nodes)
}

/// The nodes named, each once, in the order named (every node, real machines included, when
/// none is named).
pub(crate) fn select_known_with_real<'s>(
    stamp: &'s Stamp,
    wanted: &[String],
) -> Result<Vec<&'s Node>, CommandError> {
    if wanted.is_empty() {
        return Ok(stamp.nodes().collect());
    }
    let mut nodes: Vec<&Node> = Vec::with_capacity(wanted.len());
    for w in wanted {
        let node = require_node(stamp, w)?;
        if !nodes.iter().any(|n| std::ptr::eq(*n, node)) {
            nodes.push(node);
        }
    }
    Ok(nodes)
}

/// The nodes a read of the simulated model reaches: those named (each must be reachable, else
/// the read fails as the real command does; a real machine is refused), or every reachable host
/// and VM when none is named.
pub(crate) fn select_nodes<'s>(
    stamp: &'s Stamp,
    wanted: &[String],
) -> Result<Vec<&'s Node>, CommandError> {
    reachable_of(stamp, wanted, select_known_nodes(stamp, wanted)?)
}

/// The nodes a host-level read reaches through [`crate::host::Host`]: as [`select_nodes`], real
/// machines included.
pub(crate) fn select_host_nodes<'s>(
    stamp: &'s Stamp,
    wanted: &[String],
) -> Result<Vec<&'s Node>, CommandError> {
    reachable_of(stamp, wanted, select_known_with_real(stamp, wanted)?)
}

fn reachable_of<'s>(
    stamp: &'s Stamp,
    wanted: &[String],
    nodes: Vec<&'s Node>,
) -> Result<Vec<&'s Node>, CommandError> {
    if wanted.is_empty() {
        return Ok(nodes
            .into_iter()
            .filter(|n| stamp.unreachable(n).is_none())
            .collect());
    }
    for n in &nodes {
        require_reachable(stamp, n)?;
    }
    Ok(nodes)
}

/// Fails, as the real command does, when the node cannot be reached: every read and change of
/// a node goes through WinRM, which needs it running.
pub(crate) fn require_reachable(stamp: &Stamp, node: &Node) -> Result<(), CommandError> {
    match stamp.unreachable(node) {
        None => Ok(()),
        Some(why) => Err(CommandError(format!(
            "cannot reach {}: {why} (WinRM cannot complete the operation; start it first)",
            node.name
        ))),
    }
}

pub(crate) use crate::stamp::node::path_under;

pub(crate) fn round2(f: f64) -> f64 {
    (f * 100.0).round() / 100.0
}

// ---------------------------------------------------------------- reads

/// Get-AzsSupportComputerInformation [-ComputerName]: facts per node, in stamp order.
pub fn get_computer_information(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let nodes = select_host_nodes(stamp, &inv.args.strings("ComputerName"))?;
    let mut out = Vec::new();
    for n in nodes {
        let c = host_of(stamp, n, inv.now)
            .computer()
            .map_err(CommandError)?;
        let mut r = Record::new("Azs.Support.ComputerInformation")
            .with("ComputerName", &n.name)
            .with("OSVersion", &c.os_version)
            .with("OSBuild", &c.os_build)
            .with("LastBootUpTime", c.last_boot)
            .with("Uptime", Stamp::uptime(c.last_boot, c.local_time))
            .with("LocalTime", c.local_time)
            .with("TimeZone", &c.time_zone)
            .with("Manufacturer", &c.manufacturer)
            .with("Model", &c.model)
            .with("TotalMemoryGB", whole_or_round2(c.total_memory_gb))
            .with("LogicalProcessors", c.logical_processors);
        if let Some(available) = c.available_memory_gb {
            r = r.with("AvailableMemoryGB", whole_or_round2(available));
        }
        out.push(r.into());
    }
    Ok(out)
}

/// A size shown as a whole number when it is one (the model's GB), else to two places.
fn whole_or_round2(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        Value::Int(f as i64)
    } else {
        Value::Float(round2(f))
    }
}

/// Get-AzsSupportDiskSpace [-ComputerName] [-Threshold]: volumes, lowest free percentage first.
pub fn get_disk_space(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let nodes = select_host_nodes(stamp, &inv.args.strings("ComputerName"))?;
    let threshold = inv.args.int("Threshold").map(|t| t as f64);
    let mut rows = Vec::new();
    for n in nodes {
        for d in host_of(stamp, n, inv.now).volumes().map_err(CommandError)? {
            let pct = if d.size_gb > 0.0 {
                round2(d.free_gb / d.size_gb * 100.0)
            } else {
                0.0
            };
            if threshold.is_none_or(|t| pct < t) {
                rows.push((n, d, pct));
            }
        }
    }
    rows.sort_by(|a, b| {
        a.2.total_cmp(&b.2)
            .then_with(|| a.0.name.cmp(&b.0.name))
            .then_with(|| a.1.drive.cmp(&b.1.drive))
    });
    Ok(rows
        .into_iter()
        .map(|(n, d, pct)| {
            let mut r = Record::new("Azs.Support.DiskSpace")
                .with("ComputerName", &n.name)
                .with("DriveLetter", &d.drive)
                .with("Label", &d.label)
                .with("SizeGB", round2(d.size_gb))
                .with("FreeGB", round2(d.free_gb))
                .with("PercentFree", pct);
            if let Some(fs) = &d.file_system {
                r = r.with("FileSystem", fs);
            }
            r.into()
        })
        .collect())
}

/// Get-AzsSupportFolderSize -ComputerName -Path: the folders and files directly under the path,
/// largest first, each with its total size and file count. On the real machine the path is a
/// Linux path beneath one of the node's read roots, measured on disk (links not followed).
pub fn get_folder_size(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let host = inv.host(inv.args.str("ComputerName").unwrap_or_default())?;
    let rows = host
        .folder_size(inv.args.str("Path").unwrap_or_default())
        .map_err(CommandError)?;
    Ok(rows.into_iter().map(Value::from).collect())
}

/// A process record of `node`.
pub(crate) fn process_record(node: &Node, p: &ProcessRow) -> Record {
    let mut r = Record::new("Azs.Support.Process")
        .with("ComputerName", &node.name)
        .with("Name", &p.name)
        .with("Id", p.id)
        .with("CPU", p.cpu_seconds)
        .with("WorkingSetMB", p.working_set_mb);
    if let Some(h) = p.handles {
        r = r.with("Handles", h);
    }
    if let Some(t) = p.threads {
        r = r.with("Threads", t);
    }
    r = r.with("StartTime", p.start_time).with("UserName", &p.user);
    if let Some(c) = &p.command_line {
        r = r.with("CommandLine", c);
    }
    r
}

/// Get-AzsSupportProcess -ComputerName [-Name] [-Id]: processes sorted by name, then id.
pub fn get_process(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let nodes = select_host_nodes(stamp, &inv.args.strings("ComputerName"))?;
    let name = inv.args.str("Name").unwrap_or("*");
    let id = inv.args.int("Id");
    let mut rows: Vec<(&Node, ProcessRow)> = Vec::new();
    for n in nodes {
        let procs = host_of(stamp, n, inv.now)
            .processes()
            .map_err(CommandError)?;
        rows.extend(
            procs
                .into_iter()
                .filter(|p| wildcard_match(name, &p.name))
                .filter(|p| id.is_none_or(|i| i64::from(p.id) == i))
                .map(|p| (n, p)),
        );
    }
    rows.sort_by(|a, b| {
        a.1.name
            .to_ascii_lowercase()
            .cmp(&b.1.name.to_ascii_lowercase())
            .then_with(|| a.1.id.cmp(&b.1.id))
            .then_with(|| a.0.name.cmp(&b.0.name))
    });
    Ok(rows
        .into_iter()
        .map(|(n, p)| process_record(n, &p).into())
        .collect())
}

/// Order of PowerShell's ServiceControllerStatus, so Stopped sorts first.
fn state_rank(state: &str) -> u8 {
    match state {
        "Stopped" => 1,
        "StartPending" => 2,
        "StopPending" => 3,
        "Running" => 4,
        "ContinuePending" => 5,
        "PausePending" => 6,
        "Paused" => 7,
        _ => 8,
    }
}

/// A service record of `node`.
pub(crate) fn service_row_record(node: &Node, s: &ServiceRow) -> Value {
    let mut r = Record::new("Azs.Support.Service")
        .with("ComputerName", &node.name)
        .with("Name", &s.name)
        .with("DisplayName", &s.display_name)
        .with("State", &s.state)
        .with("StartMode", &s.start_mode)
        .with("ProcessId", s.process_id);
    if let Some(d) = &s.systemd {
        r = r
            .with("LoadState", &d.load_state)
            .with("ActiveState", &d.active_state)
            .with("SubState", &d.sub_state)
            .with("NRestarts", d.restarts)
            .with("Result", &d.result);
    }
    r.into()
}

/// Get-AzsSupportService -ComputerName [-Name] [-State]: services sorted by state (Stopped
/// first, as PowerShell orders the status), then name.
pub fn get_service(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let nodes = select_host_nodes(stamp, &inv.args.strings("ComputerName"))?;
    let name = inv.args.str("Name").unwrap_or("*");
    let state = inv.args.str("State");
    let mut rows: Vec<(&Node, ServiceRow)> = Vec::new();
    for n in nodes {
        let services = host_of(stamp, n, inv.now)
            .services()
            .map_err(CommandError)?;
        rows.extend(
            services
                .into_iter()
                .filter(|s| wildcard_match(name, &s.name))
                .filter(|s| state.is_none_or(|st| s.state.eq_ignore_ascii_case(st)))
                .map(|s| (n, s)),
        );
    }
    rows.sort_by(|a, b| {
        state_rank(&a.1.state)
            .cmp(&state_rank(&b.1.state))
            .then_with(|| {
                a.1.name
                    .to_ascii_lowercase()
                    .cmp(&b.1.name.to_ascii_lowercase())
            })
            .then_with(|| a.0.name.cmp(&b.0.name))
    });
    Ok(rows
        .into_iter()
        .map(|(n, s)| service_row_record(n, &s))
        .collect())
}

/// Get-AzsSupportWinEvent -ComputerName [-LogName] [-Level] [-ProviderName] [-EventId]
/// [-FromDate] [-ToDate] [-MaxEvents]: events newest first, at most MaxEvents per node.
pub fn get_win_event(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let nodes = select_host_nodes(stamp, &inv.args.strings("ComputerName"))?;
    let ids: Vec<i64> = match inv.args.get("EventId") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_f64())
            .map(|f| f as i64)
            .collect(),
        Some(Value::Int(i)) => vec![*i],
        _ => Vec::new(),
    };
    let q = EventQuery {
        logs: inv.args.strings("LogName"),
        levels: inv.args.strings("Level"),
        provider: inv.args.str("ProviderName").map(str::to_string),
        ids,
        from: inv.args.datetime("FromDate"),
        to: inv.args.datetime("ToDate").unwrap_or(inv.now),
        max: usize::try_from(inv.args.int("MaxEvents").unwrap_or(1000)).unwrap_or(1000),
    };
    let mut out = Vec::new();
    for n in nodes {
        let events = host_of(stamp, n, inv.now)
            .events(&q)
            .map_err(CommandError)?;
        out.extend(events.into_iter().map(|e| {
            Record::new("Azs.Support.WinEvent")
                .with("ComputerName", &n.name)
                .with("TimeCreated", e.time)
                .with("LogName", e.log)
                .with("ProviderName", e.provider)
                .with("Id", e.id)
                .with("Level", e.level)
                .with("Message", e.message)
                .into()
        }));
    }
    Ok(out)
}

// ---------------------------------------------------------------- services and processes

#[cfg(test)]
pub(crate) mod tests {
    use super::super::testing::{default_stamp, run_on};
    use super::super::Implementation;
    use super::*;

    use crate::stamp::{Event, NodeState};
    use chrono::Duration;
    use chrono::Utc;

    pub(crate) fn get(v: &Value, k: &str) -> String {
        v.as_record()
            .and_then(|r| r.get(k))
            .map(Value::to_display)
            .unwrap_or_default()
    }

    pub(crate) fn ok(s: &mut Stamp, f: Implementation, args: &[(&str, Value)]) -> Vec<Value> {
        run_on(s, f, args, true).unwrap_or_else(|e| panic!("{e}"))
    }

    pub(crate) fn err(s: &mut Stamp, f: Implementation, args: &[(&str, Value)]) -> String {
        run_on(s, f, args, true).expect_err("should fail").0
    }

    pub(crate) fn cn(n: &str) -> (&'static str, Value) {
        ("ComputerName", n.into())
    }

    #[test]
    fn processes_sorted_by_name_then_id_and_filtered() {
        let mut s = default_stamp();
        let rows = ok(&mut s, get_process, &[cn("AZS-ERCS01")]);
        let keys: Vec<(String, i64)> = rows
            .iter()
            .map(|r| {
                (
                    get(r, "Name").to_lowercase(),
                    get(r, "Id").parse().unwrap_or(0),
                )
            })
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        let svc = ok(
            &mut s,
            get_process,
            &[cn("AZS-ERCS01"), ("Name", "svc*".into())],
        );
        assert!(svc.iter().all(|r| get(r, "Name") == "svchost"));
        let one = ok(
            &mut s,
            get_process,
            &[cn("AZS-ERCS01"), ("Id", 4i64.into())],
        );
        assert_eq!(get(&one[0], "UserName"), r"NT AUTHORITY\SYSTEM");
        let e = err(&mut s, get_process, &[cn("Node99")]);
        assert!(e.contains("Node99") && e.contains("AZS-HOST01"), "{e}");
    }

    #[test]
    fn services_stopped_first_then_name() {
        let mut s = default_stamp();
        s.stop_service("AZS-SQL01", "MSSQLSERVER");
        let rows = ok(&mut s, get_service, &[cn("AZS-SQL01")]);
        assert_eq!(get(&rows[0], "Name"), "MSSQLSERVER");
        assert_eq!(get(&rows[0], "ProcessId"), "0");
        let names: Vec<String> = rows[1..]
            .iter()
            .map(|r| get(r, "Name").to_lowercase())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        let running = ok(
            &mut s,
            get_service,
            &[cn("AZS-SQL01"), ("State", "Running".into())],
        );
        assert_eq!(running.len(), rows.len() - 1);
    }

    #[test]
    fn disk_space_defaults_to_all_nodes_lowest_first() {
        let mut s = default_stamp();
        let all = ok(&mut s, get_disk_space, &[]);
        let disks: usize = s.nodes().map(|n| n.disks.len()).sum();
        assert_eq!(all.len(), disks);
        let pct: Vec<f64> = all
            .iter()
            .filter_map(|r| get(r, "PercentFree").parse().ok())
            .collect();
        assert!(pct.windows(2).all(|w| w[0] <= w[1]));
        let low = ok(&mut s, get_disk_space, &[("Threshold", 40i64.into())]);
        assert!(low.len() < all.len());
        assert!(low
            .iter()
            .all(|r| get(r, "PercentFree").parse::<f64>().unwrap_or(100.0) < 40.0));
    }

    #[test]
    fn folder_size_groups_children_largest_first() {
        let mut s = default_stamp();
        let root = ok(
            &mut s,
            get_folder_size,
            &[cn("AZS-ERCS01"), ("Path", r"C:\".into())],
        );
        assert_eq!(get(&root[0], "Path"), r"C:\Windows");
        assert_eq!(get(&root[1], "Path"), r"C:\MASLogs");
        let logs = ok(
            &mut s,
            get_folder_size,
            &[cn("AZS-ERCS01"), ("Path", r"c:\maslogs\".into())],
        );
        assert_eq!(logs.len(), 1);
        assert_eq!(get(&logs[0], "Path"), r"C:\MASLogs\ERCSDeploy.log");
        // A prefix that is not on a `\` boundary matches nothing.
        let none = ok(
            &mut s,
            get_folder_size,
            &[cn("AZS-ERCS01"), ("Path", r"C:\MAS".into())],
        );
        assert!(none.is_empty());
        let e = err(
            &mut s,
            get_folder_size,
            &[cn("AZS-ERCS01"), ("Path", r"Q:\x".into())],
        );
        assert!(e.contains("no drive Q:"), "{e}");
    }

    #[test]
    fn win_events_filtered_newest_first() {
        let mut s = default_stamp();
        let now = Utc::now();
        if let Some(n) = s.node_mut("AZS-SQL01") {
            n.events.push(Event {
                log: "System".into(),
                time: now - Duration::minutes(3),
                level: "Error".into(),
                id: 7034,
                provider: "Service Control Manager".into(),
                message: "The SQL Server (MSSQLSERVER) service terminated unexpectedly.".into(),
            });
        }
        let errors = ok(
            &mut s,
            get_win_event,
            &[cn("AZS-SQL01"), ("Level", vec!["Error"].into())],
        );
        assert!(errors.iter().any(|r| get(r, "Id") == "7034"));
        assert!(errors.iter().all(|r| get(r, "Level") == "Error"));
        let five = ok(
            &mut s,
            get_win_event,
            &[cn("AZS-SQL01"), ("MaxEvents", 5i64.into())],
        );
        assert_eq!(five.len(), 5);
        let times: Vec<String> = five.iter().map(|r| get(r, "TimeCreated")).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]));
        let sys = ok(
            &mut s,
            get_win_event,
            &[cn("AZS-SQL01"), ("LogName", vec!["system"].into())],
        );
        assert_eq!(sys.len(), 1);
        let old = ok(
            &mut s,
            get_win_event,
            &[
                cn("AZS-SQL01"),
                ("LogName", vec!["System"].into()),
                ("ToDate", (now - Duration::hours(1)).into()),
            ],
        );
        assert!(old.is_empty());
    }

    #[test]
    fn computer_information_per_node() {
        let mut s = default_stamp();
        let all = ok(&mut s, get_computer_information, &[]);
        assert_eq!(all.len(), s.nodes().count());
        let one = ok(
            &mut s,
            get_computer_information,
            &[("ComputerName", vec!["azs-host01"].into())],
        );
        assert_eq!(get(&one[0], "ComputerName"), "AZS-HOST01");
        assert_eq!(get(&one[0], "OSBuild"), "10.0.17763");
        assert_eq!(get(&one[0], "Manufacturer"), "Dell Inc.");
    }

    #[test]
    fn reads_of_a_node_that_is_off_saved_or_down_cannot_reach_it() {
        let mut s = default_stamp();
        if let Some(v) = s.vms.iter_mut().find(|v| v.name == "AZS-SQL01") {
            v.state = NodeState::Off;
        }
        let one = |n: &str| vec![("ComputerName", Value::from(vec![n.to_string()]))];
        for f in [
            get_service as Implementation,
            get_process,
            get_disk_space,
            get_win_event,
        ] {
            let e = run_on(&mut s, f, &one("AZS-SQL01"), false).expect_err("off");
            assert!(
                e.0.starts_with("cannot reach AZS-SQL01: it is Off"),
                "{}",
                e.0
            );
        }
        // Unnamed, the read covers the nodes it reaches.
        let all = run_on(&mut s, get_service, &[], false).expect("all");
        assert!(all
            .iter()
            .all(|r| prop_of(r, "ComputerName") != "AZS-SQL01"));
        assert!(!all.is_empty());
        // A VM on a host that is down cannot be reached either, whatever it claims.
        let host = s
            .vm("AZS-WAS01")
            .map(|v| v.host.clone())
            .unwrap_or_default();
        if let Some(h) = s.hosts.iter_mut().find(|h| h.name == host) {
            h.state = NodeState::Down;
        }
        let e = run_on(&mut s, get_process, &one("AZS-WAS01"), false).expect_err("down");
        assert!(e.0.contains(&format!("its host {host} is Down")), "{}", e.0);
    }

    fn prop_of(v: &Value, k: &str) -> String {
        super::super::testing::prop(v, k)
    }
}
