//! Repairs on a simulated node: stopping a process, starting, stopping and restarting a service,
//! and the disk clean-ups. Each is checked against the model first, confirmed through
//! ShouldProcess, then returned as the change to the stamp that does it (`stamp::changes`).
//!
//! A running service has a process whose `service` names it. Starting or stopping
//! `FabricHostSvc` brings the fabric nodes of that VM up or down; `GatewayService` connects or
//! disconnects the site-to-site connections of that gateway VM (contract #5 and #11).

use super::{process_row, service_row, SimulatedHost};
use crate::host::{Acted, Call, Effect, RemoveRequest, ServiceAction, ServiceRow, StoppedProcess};
use crate::stamp::node::{path_under, trim_dir};
use crate::stamp::{Node, Service, ServiceState, Stamp, StartType};
use crate::value::Record;

/// Processes a node cannot live without: stopping one would crash it.
const CRITICAL_PROCESSES: &[&str] = &["System", "smss", "csrss", "wininit", "services", "lsass"];

/// What Clear-AzsSupportDiskSpace removes: category, folder, required file extension.
pub(crate) const CLEANUP: &[(&str, &str, &str)] = &[
    ("Crash dumps", r"C:\MASLogs", ".dmp"),
    ("Temporary files", r"C:\Windows\Temp", ""),
    ("Component store temporary files", r"C:\Windows\CbsTemp", ""),
    (
        "Windows error reports",
        r"C:\ProgramData\Microsoft\Windows\WER",
        "",
    ),
    // The kernel's own dumps: a bugcheck's MEMORY.DMP and live kernel reports (watchdog
    // timeouts), the usual thing that fills a Hyper-V host's system drive.
    ("Kernel memory dump", r"C:\Windows", "\\memory.dmp"),
    (
        "Live kernel reports",
        r"C:\Windows\LiveKernelReports",
        ".dmp",
    ),
];

/// The clean-up locations Remove-AzsSupportItem accepts.
const REMOVABLE_ROOTS: &[&str] = &[
    r"C:\MASLogs",
    r"C:\Windows\LiveKernelReports",
    r"C:\Windows\Temp",
    r"C:\ProgramData\Microsoft\Windows\WER",
    r"C:\Windows\CbsTemp",
];

const MIB: f64 = 1024.0 * 1024.0;

fn round2(f: f64) -> f64 {
    (f * 100.0).round() / 100.0
}

/// Service `name` of `node`, or an error listing the services it has.
pub(crate) fn require_service<'s>(node: &'s Node, name: &str) -> Result<&'s Service, String> {
    node.services
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            let names: Vec<&str> = node.services.iter().map(|s| s.name.as_str()).collect();
            format!(
                "Cannot find any service with service name '{name}' on {} (services: {})",
                node.name,
                names.join(", ")
            )
        })
}

/// Why service `s` of `n` cannot be started now, if it cannot.
fn check_start(n: &Node, s: &Service) -> Result<(), String> {
    if s.start_type == StartType::Disabled {
        return Err(format!(
            "Service '{}' on {} cannot be started because it is disabled (start type Disabled)",
            s.name, n.name
        ));
    }
    if s.state == ServiceState::Running {
        return Err(format!(
            "Service '{}' on {} is already running; use Restart-AzsSupportService to restart it",
            s.name, n.name
        ));
    }
    // A service stuck stopping cannot start while its old process lives (Windows refuses).
    if s.state == ServiceState::StopPending {
        if let Some(p) = n
            .processes
            .iter()
            .find(|p| p.service.eq_ignore_ascii_case(&s.name))
        {
            return Err(format!(
                "Service '{}' on {} is StopPending and its process {} ({}) is still running; end it first: Stop-AzsSupportProcess -ComputerName {} -Id {}",
                s.name, n.name, p.name, p.id, n.name, p.id
            ));
        }
    }
    Ok(())
}

/// Why service `s` of `n` cannot be stopped now, if it cannot.
fn check_stop(stamp: &Stamp, n: &Node, s: &Service) -> Result<(), String> {
    if s.state == ServiceState::Stopped {
        return Err(format!(
            "Service '{}' on {} is already stopped",
            s.name, n.name
        ));
    }
    if s.name.eq_ignore_ascii_case("PrivilegedEndpoint")
        && n.name.eq_ignore_ascii_case(stamp.pep_node())
    {
        return Err(format!(
            "refusing to stop PrivilegedEndpoint on {}: it would end this privileged endpoint session",
            n.name
        ));
    }
    Ok(())
}

/// The service after a change, from the changed stamp.
fn service_after(stamp: &Stamp, node: &str, name: &str) -> Result<ServiceRow, String> {
    let n = stamp
        .node(node)
        .ok_or_else(|| format!("no node named '{node}'"))?;
    Ok(service_row(n, require_service(n, name)?))
}

pub(super) fn control_service(
    h: &SimulatedHost<'_>,
    name: &str,
    action: ServiceAction,
    call: &mut Call<'_>,
) -> Acted<ServiceRow> {
    let n = h.node;
    h.reachable()?;
    let s = require_service(n, name)?;
    let verb = match action {
        ServiceAction::Start => {
            check_start(n, s)?;
            "Start-Service"
        }
        ServiceAction::Stop => {
            check_stop(h.stamp, n, s)?;
            "Stop-Service"
        }
        ServiceAction::Restart => {
            if s.state == ServiceState::Stopped {
                check_start(n, s)?;
            } else {
                check_stop(h.stamp, n, s)?;
                if s.start_type == StartType::Disabled {
                    return Err(format!(
                        "Service '{}' on {} cannot be restarted because it is disabled (start type Disabled)",
                        s.name, n.name
                    ));
                }
            }
            "Restart-Service"
        }
    };
    if !call.should_process(&format!("{name} on {}", n.name), verb) {
        return Ok(None);
    }
    let (node, name, now) = (n.name.clone(), s.name.clone(), call.now);
    Ok(Some(Effect::Change(Box::new(move |stamp: &mut Stamp| {
        match action {
            // A restart stops then starts: the end state is the started one, with a new process.
            ServiceAction::Start | ServiceAction::Restart => stamp.start_service(&node, &name, now),
            ServiceAction::Stop => stamp.stop_service(&node, &name),
        }
        service_after(stamp, &node, &name)
    }))))
}

pub(super) fn stop_process(
    h: &SimulatedHost<'_>,
    id: i64,
    call: &mut Call<'_>,
) -> Acted<StoppedProcess> {
    let n = h.node;
    h.reachable()?;
    let p = n
        .processes
        .iter()
        .find(|p| i64::from(p.id) == id)
        .ok_or_else(|| {
            format!(
                "Cannot find a process with the process identifier {id} on {}",
                n.name
            )
        })?;
    if CRITICAL_PROCESSES
        .iter()
        .any(|c| c.eq_ignore_ascii_case(&p.name))
    {
        return Err(format!(
            "refusing to stop {} (id {id}) on {}: it is a critical system process and stopping it would crash the node",
            p.name, n.name
        ));
    }
    if !call.should_process(&format!("{} ({id}) on {}", p.name, n.name), "Stop-Process") {
        return Ok(None);
    }
    let stopped = StoppedProcess {
        process: process_row(n, p),
        signal: None,
        exited: None,
    };
    let (node, service) = (n.name.clone(), p.service.clone());
    Ok(Some(Effect::Change(Box::new(move |stamp: &mut Stamp| {
        if service.is_empty() {
            if let Some(n) = stamp.node_mut(&node) {
                n.processes.retain(|p| i64::from(p.id) != id);
            }
        } else {
            // A service's process leaves its service Stopped.
            stamp.stop_service(&node, &service);
        }
        Ok(stopped)
    }))))
}

/// Clear-AzsSupportDiskSpace on the model: removes the known-safe files (contract #9) and adds
/// their size to the drive's free space.
pub(super) fn clear_disk_space(h: &SimulatedHost<'_>, call: &mut Call<'_>) -> Acted<Vec<Record>> {
    let n = h.node;
    h.reachable()?;
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
    let gone: Vec<String> = n
        .files
        .iter()
        .filter(|f| CLEANUP.iter().any(|(_, d, e)| matches(&f.path, d, e)))
        .map(|f| f.path.clone())
        .collect();
    let action = format!(
        "Remove {files} file(s), {:.2} MB, from the clean-up locations",
        bytes as f64 / MIB
    );
    if !call.should_process(&n.name, &action) {
        return Ok(None);
    }
    rows.sort_by(|a, b| a.0.cmp(b.0));
    let name = n.name.clone();
    Ok(Some(Effect::Change(Box::new(move |stamp: &mut Stamp| {
        stamp.remove_files(&name, &gone);
        Ok(rows
            .into_iter()
            .map(|(cat, c, b)| {
                Record::new("Azs.Support.DiskCleanup")
                    .with("ComputerName", &name)
                    .with("Category", cat)
                    .with("FilesRemoved", c)
                    .with("MBFreed", round2(b as f64 / MIB))
            })
            .collect())
    }))))
}

/// The files Remove-AzsSupportItem would remove at `path` (validated against the allow-list).
fn removable(node: &Node, path: &str, recurse: bool) -> Result<Vec<(String, u64)>, String> {
    let base = trim_dir(path);
    if base.len() <= 2 {
        return Err(format!(
            "refusing to remove '{path}': a drive root is never removed"
        ));
    }
    if !REMOVABLE_ROOTS
        .iter()
        .any(|r| base.eq_ignore_ascii_case(r) || path_under(base, r))
    {
        return Err(format!(
            "refusing to remove '{path}': only paths in the clean-up locations may be removed ({})",
            REMOVABLE_ROOTS.join(", ")
        ));
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
        return Err(format!(
            "Cannot find path '{path}' on {} because it does not exist",
            node.name
        ));
    }
    if !under.is_empty() && !recurse {
        return Err(format!(
            "'{path}' on {} is a folder with {} file(s); add -Recurse to remove them",
            node.name,
            under.len()
        ));
    }
    Ok(under)
}

/// Remove-AzsSupportItem[ByStopService] on the model: the files at the path leave the node (their
/// space returns to the drive); a named service is stopped first (when running) and started
/// again after.
pub(super) fn remove_items(
    h: &SimulatedHost<'_>,
    req: &RemoveRequest,
    call: &mut Call<'_>,
) -> Acted<Vec<Record>> {
    let n = h.node;
    h.reachable()?;
    let running = match &req.service {
        Some(svc) => {
            let s = require_service(n, svc)?;
            let running = s.state != ServiceState::Stopped;
            if running {
                check_stop(h.stamp, n, s)?;
            }
            Some((s.name.clone(), running))
        }
        None => None,
    };
    let items = removable(n, &req.path, req.recurse)?;
    let target = format!("{} on {}", req.path, n.name);
    let action = match &running {
        Some((svc, _)) => format!(
            "Stop service {svc}, remove {} item(s), start {svc} again",
            items.len()
        ),
        None => format!("Remove {} item(s)", items.len()),
    };
    if !call.should_process(&target, &action) {
        return Ok(None);
    }
    let (node, now) = (n.name.clone(), call.now);
    Ok(Some(Effect::Change(Box::new(move |stamp: &mut Stamp| {
        let restart = running.filter(|(_, r)| *r).map(|(s, _)| s);
        if let Some(svc) = &restart {
            stamp.stop_service(&node, svc);
        }
        let paths: Vec<String> = items.iter().map(|(p, _)| p.clone()).collect();
        stamp.remove_files(&node, &paths);
        if let Some(svc) = &restart {
            stamp.start_service(&node, svc, now);
        }
        let mut sorted = items;
        sorted.sort();
        Ok(sorted
            .into_iter()
            .map(|(p, b)| {
                Record::new("Azs.Support.RemovedItem")
                    .with("ComputerName", &node)
                    .with("Path", p)
                    .with("Length", b)
            })
            .collect())
    }))))
}
