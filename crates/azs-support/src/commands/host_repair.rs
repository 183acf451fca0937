//! Host-level repairs for the simulated nodes of the stamp: Start-/Stop-/Restart-AzsSupportService,
//! Stop-AzsSupportProcess, Clear-AzsSupportDiskSpace, Remove-AzsSupportItem and
//! Remove-AzsSupportItemByStopService.
//!
//! A running service has a process whose `service` names it. Starting or stopping `FabricHostSvc`
//! brings the fabric nodes of that VM up or down; `GatewayService` connects or disconnects the
//! site-to-site connections of that gateway VM (contract #5 and #11).

use super::hosts::*;
use super::{CommandError, Invocation, Table};
use crate::stamp::{Node, Service, Stamp};
use crate::value::{Record, Value};

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Start-AzsSupportService", start_service),
    ("Stop-AzsSupportService", stop_service),
    ("Restart-AzsSupportService", restart_service),
    ("Stop-AzsSupportProcess", stop_process),
    ("Clear-AzsSupportDiskSpace", clear_disk_space),
    ("Remove-AzsSupportItem", remove_item),
    (
        "Remove-AzsSupportItemByStopService",
        remove_item_by_stop_service,
    ),
];

/// What Clear-AzsSupportDiskSpace removes: category, folder, required file extension.
const CLEANUP: &[(&str, &str, &str)] = &[
    ("Crash dumps", r"C:\MASLogs", ".dmp"),
    ("Temporary files", r"C:\Windows\Temp", ""),
    ("Component store temporary files", r"C:\Windows\CbsTemp", ""),
    (
        "Windows error reports",
        r"C:\ProgramData\Microsoft\Windows\WER",
        "",
    ),
];

/// The clean-up locations Remove-AzsSupportItem accepts.
const REMOVABLE_ROOTS: &[&str] = &[
    r"C:\MASLogs",
    r"C:\Windows\Temp",
    r"C:\ProgramData\Microsoft\Windows\WER",
    r"C:\Windows\CbsTemp",
];

/// Processes a node cannot live without: stopping one would crash it.
const CRITICAL_PROCESSES: &[&str] = &["System", "smss", "csrss", "wininit", "services", "lsass"];

fn require_service<'s>(node: &'s Node, name: &str) -> Result<&'s Service, CommandError> {
    node.services
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            let names: Vec<&str> = node.services.iter().map(|s| s.name.as_str()).collect();
            CommandError(format!(
                "Cannot find any service with service name '{name}' on {} (services: {})",
                node.name,
                names.join(", ")
            ))
        })
}

fn check_start(stamp: &Stamp, node: &str, name: &str) -> Result<(), CommandError> {
    let n = require_node(stamp, node)?;
    let s = require_service(n, name)?;
    require_reachable(stamp, n)?;
    if s.start_type.eq_ignore_ascii_case("Disabled") {
        return Err(CommandError(format!(
            "Service '{}' on {} cannot be started because it is disabled (start type Disabled)",
            s.name, n.name
        )));
    }
    if s.state == "Running" {
        return Err(CommandError(format!(
            "Service '{}' on {} is already running; use Restart-AzsSupportService to restart it",
            s.name, n.name
        )));
    }
    Ok(())
}

fn check_stop(stamp: &Stamp, node: &str, name: &str) -> Result<(), CommandError> {
    let n = require_node(stamp, node)?;
    let s = require_service(n, name)?;
    require_reachable(stamp, n)?;
    if s.state == "Stopped" {
        return Err(CommandError(format!(
            "Service '{}' on {} is already stopped",
            s.name, n.name
        )));
    }
    if s.name.eq_ignore_ascii_case("PrivilegedEndpoint")
        && n.name.eq_ignore_ascii_case(stamp.pep_node())
    {
        return Err(CommandError(format!(
            "refusing to stop PrivilegedEndpoint on {}: it would end this privileged endpoint session",
            n.name
        )));
    }
    Ok(())
}

fn node_and_name(inv: &Invocation<'_>) -> (String, String) {
    (
        inv.args.str("ComputerName").unwrap_or_default().to_string(),
        inv.args.str("Name").unwrap_or_default().to_string(),
    )
}

fn service_after(stamp: &Stamp, node: &str, name: &str) -> Result<Vec<Value>, CommandError> {
    let n = require_node(stamp, node)?;
    let s = require_service(n, name)?;
    Ok(vec![service_record(n, s)])
}

/// Start-AzsSupportService -ComputerName -Name.
pub fn start_service(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let (node, name) = node_and_name(inv);
    check_start(inv.stamp(), &node, &name)?;
    if !inv.should_process(&format!("{name} on {node}"), "Start-Service") {
        return Ok(vec![]);
    }
    let now = inv.now;
    let stamp = inv.stamp_mut()?;
    stamp.start_service(&node, &name, now);
    service_after(stamp, &node, &name)
}

/// Stop-AzsSupportService -ComputerName -Name.
pub fn stop_service(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let (node, name) = node_and_name(inv);
    check_stop(inv.stamp(), &node, &name)?;
    if !inv.should_process(&format!("{name} on {node}"), "Stop-Service") {
        return Ok(vec![]);
    }
    let stamp = inv.stamp_mut()?;
    stamp.stop_service(&node, &name);
    service_after(stamp, &node, &name)
}

/// Restart-AzsSupportService -ComputerName -Name: stops it (when not stopped), then starts it.
pub fn restart_service(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let (node, name) = node_and_name(inv);
    let stamp = inv.stamp();
    let n = require_node(stamp, &node)?;
    let running = require_service(n, &name)?.state != "Stopped";
    if running {
        check_stop(stamp, &node, &name)?;
        let s = require_service(n, &name)?;
        if s.start_type.eq_ignore_ascii_case("Disabled") {
            return Err(CommandError(format!(
                "Service '{}' on {} cannot be restarted because it is disabled (start type Disabled)",
                s.name, n.name
            )));
        }
    } else {
        check_start(stamp, &node, &name)?;
    }
    if !inv.should_process(&format!("{name} on {node}"), "Restart-Service") {
        return Ok(vec![]);
    }
    let now = inv.now;
    // Stop then start: the end state is the started one, with a new process.
    inv.stamp_mut()?.start_service(&node, &name, now);
    let stamp = inv.stamp();
    service_after(stamp, &node, &name)
}

/// Stop-AzsSupportProcess -ComputerName -Id: ends a process (never a critical one); a service's
/// process leaves its service Stopped.
pub fn stop_process(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let node = inv.args.str("ComputerName").unwrap_or_default().to_string();
    let id = inv.args.int("Id").unwrap_or(-1);
    let stamp = inv.stamp();
    let n = require_node(stamp, &node)?;
    require_reachable(stamp, n)?;
    let p = n
        .processes
        .iter()
        .find(|p| i64::from(p.id) == id)
        .ok_or_else(|| {
            CommandError(format!(
                "Cannot find a process with the process identifier {id} on {}",
                n.name
            ))
        })?;
    if CRITICAL_PROCESSES
        .iter()
        .any(|c| c.eq_ignore_ascii_case(&p.name))
    {
        return Err(CommandError(format!(
            "refusing to stop {} (id {id}) on {}: it is a critical system process and stopping it would crash the node",
            p.name, n.name
        )));
    }
    let record = process_record(n, p);
    let service = p.service.clone();
    if !inv.should_process(&format!("{} ({id}) on {}", p.name, n.name), "Stop-Process") {
        return Ok(vec![]);
    }
    let stamp = inv.stamp_mut()?;
    if service.is_empty() {
        if let Some(n) = stamp.node_mut(&node) {
            n.processes.retain(|p| i64::from(p.id) != id);
        }
    } else {
        stamp.stop_service(&node, &service);
    }
    Ok(vec![record.into()])
}

// ---------------------------------------------------------------- clean-up

/// Clear-AzsSupportDiskSpace -ComputerName: removes the known-safe files (contract #9) and adds
/// their size to the drive's free space. One record per category.
pub fn clear_disk_space(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let node = inv.args.str("ComputerName").unwrap_or_default().to_string();
    let n = require_node(inv.stamp(), &node)?;
    require_reachable(inv.stamp(), n)?;
    let matches = |path: &str, dir: &str, ext: &str| {
        path_under(path, dir) && (ext.is_empty() || path.to_ascii_lowercase().ends_with(ext))
    };
    let mut rows = Vec::new();
    let (mut files, mut bytes) = (0u64, 0u64);
    for (cat, dir, ext) in CLEANUP {
        let (c, b) = n
            .files
            .iter()
            .filter(|f| matches(&f.path, dir, ext))
            .fold((0u64, 0u64), |(c, b), f| (c + 1, b + f.size_bytes));
        files += c;
        bytes += b;
        rows.push((*cat, c, b));
    }
    let name = n.name.clone();
    let action = format!(
        "Remove {files} file(s), {:.2} MB, from the clean-up locations",
        bytes as f64 / MIB
    );
    if !inv.should_process(&name, &action) {
        return Ok(vec![]);
    }
    let stamp = inv.stamp_mut()?;
    if let Some(n) = stamp.node_mut(&node) {
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut n.files)
            .into_iter()
            .partition(|f| CLEANUP.iter().any(|(_, d, e)| matches(&f.path, d, e)));
        n.files = kept;
        for f in gone {
            free_space(n, &f.path, f.size_bytes);
        }
    }
    rows.sort_by(|a, b| a.0.cmp(b.0));
    Ok(rows
        .into_iter()
        .map(|(cat, c, b)| {
            Record::new("Azs.Support.DiskCleanup")
                .with("ComputerName", &name)
                .with("Category", cat)
                .with("FilesRemoved", c)
                .with("MBFreed", round2(b as f64 / MIB))
                .into()
        })
        .collect())
}

/// The files Remove-AzsSupportItem would remove at `path` (validated against the allow-list).
fn removable(node: &Node, path: &str, recurse: bool) -> Result<Vec<(String, u64)>, CommandError> {
    let base = trim_dir(path);
    if base.len() <= 2 {
        return Err(CommandError(format!(
            "refusing to remove '{path}': a drive root is never removed"
        )));
    }
    if !REMOVABLE_ROOTS
        .iter()
        .any(|r| base.eq_ignore_ascii_case(r) || path_under(base, r))
    {
        return Err(CommandError(format!(
            "refusing to remove '{path}': only paths in the clean-up locations may be removed ({})",
            REMOVABLE_ROOTS.join(", ")
        )));
    }
    if let Some(f) = node
        .files
        .iter()
        .find(|f| f.path.eq_ignore_ascii_case(base))
    {
        return Ok(vec![(f.path.clone(), f.size_bytes)]);
    }
    let under: Vec<_> = node
        .files
        .iter()
        .filter(|f| path_under(&f.path, base))
        .map(|f| (f.path.clone(), f.size_bytes))
        .collect();
    if under.is_empty() && !REMOVABLE_ROOTS.iter().any(|r| base.eq_ignore_ascii_case(r)) {
        return Err(CommandError(format!(
            "Cannot find path '{path}' on {} because it does not exist",
            node.name
        )));
    }
    if !under.is_empty() && !recurse {
        return Err(CommandError(format!(
            "'{path}' on {} is a folder with {} file(s); add -Recurse to remove them",
            node.name,
            under.len()
        )));
    }
    Ok(under)
}

fn remove_files(stamp: &mut Stamp, node: &str, items: &[(String, u64)]) -> Vec<Value> {
    let Some(n) = stamp.node_mut(node) else {
        return Vec::new();
    };
    n.files
        .retain(|f| !items.iter().any(|(p, _)| p.eq_ignore_ascii_case(&f.path)));
    for (p, b) in items {
        free_space(n, p, *b);
    }
    let mut sorted = items.to_vec();
    sorted.sort();
    let name = n.name.clone();
    sorted
        .into_iter()
        .map(|(p, b)| {
            Record::new("Azs.Support.RemovedItem")
                .with("ComputerName", &name)
                .with("Path", p)
                .with("Length", b)
                .into()
        })
        .collect()
}

/// Remove-AzsSupportItem -ComputerName -Path [-Recurse]: removes files in the clean-up locations.
pub fn remove_item(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let node = inv.args.str("ComputerName").unwrap_or_default().to_string();
    let path = inv.args.str("Path").unwrap_or_default().to_string();
    let n = require_node(inv.stamp(), &node)?;
    require_reachable(inv.stamp(), n)?;
    let items = removable(n, &path, inv.args.switch("Recurse"))?;
    let target = format!("{path} on {}", n.name);
    if !inv.should_process(&target, &format!("Remove {} item(s)", items.len())) {
        return Ok(vec![]);
    }
    Ok(remove_files(inv.stamp_mut()?, &node, &items))
}

/// Remove-AzsSupportItemByStopService -ComputerName -Path -ServiceName [-Recurse]: stops the
/// service (when running), removes the files, starts the service again.
pub fn remove_item_by_stop_service(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let node = inv.args.str("ComputerName").unwrap_or_default().to_string();
    let path = inv.args.str("Path").unwrap_or_default().to_string();
    let service = inv.args.str("ServiceName").unwrap_or_default().to_string();
    let stamp = inv.stamp();
    let n = require_node(stamp, &node)?;
    require_reachable(stamp, n)?;
    let running = require_service(n, &service)?.state != "Stopped";
    if running {
        check_stop(stamp, &node, &service)?;
    }
    let items = removable(n, &path, inv.args.switch("Recurse"))?;
    let target = format!("{path} on {}", n.name);
    let action = format!(
        "Stop service {service}, remove {} item(s), start {service} again",
        items.len()
    );
    if !inv.should_process(&target, &action) {
        return Ok(vec![]);
    }
    let now = inv.now;
    let stamp = inv.stamp_mut()?;
    if running {
        stamp.stop_service(&node, &service);
    }
    let out = remove_files(stamp, &node, &items);
    if running {
        stamp.start_service(&node, &service, now);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::hosts::tests::{cn, err, get, ok};
    use super::super::testing::default_stamp;
    use super::super::testing::what_if;
    use super::*;
    use crate::stamp::FileEntry;

    #[test]
    fn fabric_host_service_drives_fabric_nodes() {
        let mut s = default_stamp();
        let args = [cn("AZS-XRP03"), ("Name", "FabricHostSvc".into())];
        let before = s.clone();
        assert!(what_if(&mut s, stop_service, &args).is_empty());
        assert_eq!(s, before);
        let out = ok(&mut s, stop_service, &args);
        assert_eq!(get(&out[0], "State"), "Stopped");
        let xrp = s.node("AZS-XRP03").expect("xrp");
        assert!(!xrp.processes.iter().any(|p| p.service == "FabricHostSvc"));
        let fnodes = || {
            s.rings
                .iter()
                .flat_map(|r| r.nodes.iter())
                .filter(|f| f.name == "AZS-XRP03")
        };
        assert!(fnodes().count() > 0 && fnodes().all(|f| f.status == "Down"));
        assert!(err(&mut s, stop_service, &args).contains("already stopped"));
        let out = ok(&mut s, start_service, &args);
        assert_eq!(get(&out[0], "State"), "Running");
        let pid: u32 = get(&out[0], "ProcessId").parse().unwrap_or(0);
        let xrp = s.node("AZS-XRP03").expect("xrp");
        assert_eq!(pid % 4, 0);
        assert_eq!(xrp.processes.iter().filter(|p| p.id == pid).count(), 1);
        assert!(xrp
            .processes
            .iter()
            .any(|p| p.id == pid && p.name == "FabricHost"));
        assert!(s
            .rings
            .iter()
            .flat_map(|r| r.nodes.iter())
            .filter(|f| f.name == "AZS-XRP03")
            .all(|f| f.status == "Up" && f.health == "Ok"));
        assert!(err(&mut s, start_service, &args).contains("already running"));
    }

    #[test]
    fn gateway_restart_connects_its_connections() {
        let mut s = default_stamp();
        let args = [cn("AZS-GWY01"), ("Name", "GatewayService".into())];
        ok(&mut s, stop_service, &args);
        let gw = |s: &Stamp| -> Vec<String> {
            s.network
                .connections
                .iter()
                .filter(|c| c.gateway == "AZS-GWY01")
                .map(|c| c.status.clone())
                .collect()
        };
        assert!(!gw(&s).is_empty() && gw(&s).iter().all(|c| c == "NotConnected"));
        let out = ok(&mut s, restart_service, &args);
        assert_eq!(get(&out[0], "State"), "Running");
        assert!(gw(&s).iter().all(|c| c == "Connected"));
        let pid = get(&out[0], "ProcessId");
        let again = ok(&mut s, restart_service, &args);
        assert_ne!(get(&again[0], "ProcessId"), pid);
    }

    #[test]
    fn service_refusals() {
        let mut s = default_stamp();
        let e = err(
            &mut s,
            start_service,
            &[cn("AZS-SQL01"), ("Name", "NoSuchSvc".into())],
        );
        assert!(e.contains("NoSuchSvc") && e.contains("MSSQLSERVER"), "{e}");
        if let Some(svc) = s
            .node_mut("AZS-SQL01")
            .and_then(|n| n.services.iter_mut().find(|x| x.name == "MSSQLSERVER"))
        {
            svc.state = "Stopped".into();
            svc.start_type = "Disabled".into();
        }
        let e = err(
            &mut s,
            start_service,
            &[cn("AZS-SQL01"), ("Name", "MSSQLSERVER".into())],
        );
        assert!(e.contains("disabled"), "{e}");
        let pep = s.pep_node().to_string();
        let e = err(
            &mut s,
            stop_service,
            &[cn(&pep), ("Name", "PrivilegedEndpoint".into())],
        );
        assert!(e.contains("privileged endpoint session"), "{e}");
        if let Some(n) = s.node_mut("AZS-ACS02") {
            n.state = "Off".into();
        }
        let e = err(
            &mut s,
            stop_service,
            &[cn("AZS-ACS02"), ("Name", "Winmgmt".into())],
        );
        assert!(e.contains("Off"), "{e}");
    }

    #[test]
    fn stop_process_rules() {
        let mut s = default_stamp();
        let e = err(
            &mut s,
            stop_process,
            &[cn("AZS-SQL01"), ("Id", 700i64.into())],
        );
        assert!(e.contains("critical"), "{e}");
        let e = err(
            &mut s,
            stop_process,
            &[cn("AZS-SQL01"), ("Id", 99999i64.into())],
        );
        assert!(e.contains("99999"), "{e}");
        let pid = s
            .node("AZS-SQL01")
            .and_then(|n| n.processes.iter().find(|p| p.service == "MSSQLSERVER"))
            .map(|p| i64::from(p.id))
            .expect("sql process");
        let before = s.clone();
        what_if(&mut s, stop_process, &[cn("AZS-SQL01"), ("Id", pid.into())]);
        assert_eq!(s, before);
        let out = ok(&mut s, stop_process, &[cn("AZS-SQL01"), ("Id", pid.into())]);
        assert_eq!(get(&out[0], "Name"), "sqlservr");
        let n = s.node("AZS-SQL01").expect("sql");
        assert!(!n.processes.iter().any(|p| i64::from(p.id) == pid));
        assert!(n
            .services
            .iter()
            .any(|x| x.name == "MSSQLSERVER" && x.state == "Stopped"));
    }

    fn plant_full_disk(s: &mut Stamp) {
        let n = s.node_mut("AZS-WAS01").expect("was01");
        n.disks[0].free_gb = 0.4;
        for (p, b) in [
            (r"C:\Windows\Temp\big1.tmp", 20u64 << 30),
            (r"C:\MASLogs\crash.dmp", 10 << 30),
            (
                r"C:\ProgramData\Microsoft\Windows\WER\ReportQueue\r.wer",
                1 << 20,
            ),
        ] {
            n.files.push(FileEntry {
                path: p.into(),
                size_bytes: b,
                modified: None,
            });
        }
    }

    #[test]
    fn clear_disk_space_frees_cleanup_paths_only() {
        let mut s = default_stamp();
        plant_full_disk(&mut s);
        let before = s.clone();
        what_if(&mut s, clear_disk_space, &[cn("AZS-WAS01")]);
        assert_eq!(s, before);
        let out = ok(&mut s, clear_disk_space, &[cn("AZS-WAS01")]);
        assert_eq!(out.len(), CLEANUP.len());
        let cats: Vec<String> = out.iter().map(|r| get(r, "Category")).collect();
        let mut sorted = cats.clone();
        sorted.sort();
        assert_eq!(cats, sorted);
        let n = s.node("AZS-WAS01").expect("was01");
        assert!(n.disks[0].free_gb > 30.0, "{}", n.disks[0].free_gb);
        let paths: Vec<&str> = n.files.iter().map(|f| f.path.as_str()).collect();
        assert!(
            paths.iter().any(|p| p.ends_with("WASDeploy.log")),
            "{paths:?}"
        );
        assert!(!paths
            .iter()
            .any(|p| p.ends_with(".dmp") || p.contains("Temp")));
    }

    #[test]
    fn remove_item_allow_list_and_recurse() {
        let mut s = default_stamp();
        plant_full_disk(&mut s);
        for (p, want) in [
            (r"C:\", "drive root"),
            (r"C:\Windows\System32", "clean-up locations"),
            (r"C:\MASLogs\nope.log", "does not exist"),
            (r"C:\ProgramData\Microsoft\Windows\WER", "-Recurse"),
        ] {
            let e = err(&mut s, remove_item, &[cn("AZS-WAS01"), ("Path", p.into())]);
            assert!(e.contains(want), "{p}: {e}");
        }
        let free = s
            .node("AZS-WAS01")
            .map(|n| n.disks[0].free_gb)
            .unwrap_or_default();
        let out = ok(
            &mut s,
            remove_item,
            &[cn("AZS-WAS01"), ("Path", r"c:\maslogs\CRASH.dmp".into())],
        );
        assert_eq!(get(&out[0], "Path"), r"C:\MASLogs\crash.dmp");
        let n = s.node("AZS-WAS01").expect("was01");
        assert!((n.disks[0].free_gb - free - 10.0).abs() < 0.01);
        let out = ok(
            &mut s,
            remove_item,
            &[
                cn("AZS-WAS01"),
                ("Path", r"C:\ProgramData\Microsoft\Windows\WER".into()),
                ("Recurse", true.into()),
            ],
        );
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn remove_by_stop_service_restarts_the_service() {
        let mut s = default_stamp();
        plant_full_disk(&mut s);
        let pid = |s: &Stamp| {
            s.node("AZS-WAS01")
                .and_then(|n| n.processes.iter().find(|p| p.service == "Winmgmt"))
                .map(|p| p.id)
        };
        let old = pid(&s);
        let args = [
            cn("AZS-WAS01"),
            ("Path", r"C:\Windows\Temp".into()),
            ("ServiceName", "Winmgmt".into()),
            ("Recurse", true.into()),
        ];
        let out = ok(&mut s, remove_item_by_stop_service, &args);
        assert_eq!(out.len(), 2);
        assert!(pid(&s).is_some() && pid(&s) != old);
        let e = err(
            &mut s,
            remove_item_by_stop_service,
            &[
                cn("AZS-WAS01"),
                ("Path", r"C:\MASLogs".into()),
                ("ServiceName", "Nope".into()),
            ],
        );
        assert!(e.contains("Nope"), "{e}");
    }
}
