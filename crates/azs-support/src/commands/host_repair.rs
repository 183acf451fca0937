//! Host-level repairs of services and processes: Start-/Stop-/Restart-AzsSupportService and
//! Stop-AzsSupportProcess. The family's table also lists the disk clean-ups (`disk_cleanup`).
//!
//! On a simulated node they change the stamp. On the real machine they act on it: systemd units
//! through `systemctl` (protected units refused), processes through a pidfd (PID 1, kernel
//! threads, pep and its ancestors refused; the start time listed must still match).
//!
//! A running service has a process whose `service` names it. Starting or stopping `FabricHostSvc`
//! brings the fabric nodes of that VM up or down; `GatewayService` connects or disconnects the
//! site-to-site connections of that gateway VM (contract #5 and #11).

use super::hosts::*;
use super::machine_tools::real_target as real_node;
use super::{disk_cleanup, CommandError, Invocation, Table};
use crate::host::linux::systemd::{validate_unit, ServiceAction};
use crate::host::linux::{process_row, processes, service_row, LinuxHost};
use crate::stamp::{Node, Service, ServiceState, Stamp, StartType};
use crate::value::Value;
use std::time::Duration;

/// How long a real process has after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Start-, Stop- or Restart-AzsSupportService on a real machine: the unit must exist and be in a
/// state the action applies to, then systemd does it and the unit's state after is returned.
fn control_real_service(
    inv: &mut Invocation<'_>,
    node: &Node,
    action: ServiceAction,
) -> Result<Vec<Value>, CommandError> {
    let name = inv.args.str("Name").unwrap_or_default().to_string();
    let unit = validate_unit(&name).map_err(CommandError)?;
    let host = LinuxHost::local(node);
    let systemd = host.systemd();
    let now = systemd.get(&unit).map_err(CommandError)?;
    let active = matches!(
        now.active_state.as_str(),
        "active" | "activating" | "reloading"
    );
    match action {
        ServiceAction::Start if active => {
            return Err(CommandError(format!(
                "Service '{unit}' on {} is already running; use Restart-AzsSupportService to restart it",
                node.name
            )))
        }
        ServiceAction::Stop if !active => {
            return Err(CommandError(format!(
                "Service '{unit}' on {} is already stopped",
                node.name
            )))
        }
        _ => {}
    }
    let verb = match action {
        ServiceAction::Start => "Start-Service",
        ServiceAction::Stop => "Stop-Service",
        ServiceAction::Restart => "Restart-Service",
    };
    if !inv.should_process(&format!("{unit} on {}", node.name), verb) {
        return Ok(vec![]);
    }
    let after = systemd.control(&unit, action).map_err(CommandError)?;
    Ok(vec![service_row_record(node, &service_row(&after))])
}

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Start-AzsSupportService", start_service),
    ("Stop-AzsSupportService", stop_service),
    ("Restart-AzsSupportService", restart_service),
    ("Stop-AzsSupportProcess", stop_process),
    ("Clear-AzsSupportDiskSpace", disk_cleanup::clear_disk_space),
    ("Remove-AzsSupportItem", disk_cleanup::remove_item),
    (
        "Remove-AzsSupportItemByStopService",
        disk_cleanup::remove_item_by_stop_service,
    ),
];

/// Processes a node cannot live without: stopping one would crash it.
const CRITICAL_PROCESSES: &[&str] = &["System", "smss", "csrss", "wininit", "services", "lsass"];

pub(super) fn require_service<'s>(node: &'s Node, name: &str) -> Result<&'s Service, CommandError> {
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

pub(super) fn check_start(stamp: &Stamp, node: &str, name: &str) -> Result<(), CommandError> {
    let n = require_node(stamp, node)?;
    let s = require_service(n, name)?;
    require_reachable(stamp, n)?;
    if s.start_type == StartType::Disabled {
        return Err(CommandError(format!(
            "Service '{}' on {} cannot be started because it is disabled (start type Disabled)",
            s.name, n.name
        )));
    }
    if s.state == ServiceState::Running {
        return Err(CommandError(format!(
            "Service '{}' on {} is already running; use Restart-AzsSupportService to restart it",
            s.name, n.name
        )));
    }
    // A service stuck stopping cannot start while its old process lives (Windows refuses).
    if s.state == ServiceState::StopPending {
        if let Some(p) = n
            .processes
            .iter()
            .find(|p| p.service.eq_ignore_ascii_case(&s.name))
        {
            return Err(CommandError(format!(
                "Service '{}' on {} is StopPending and its process {} ({}) is still running; end it first: Stop-AzsSupportProcess -ComputerName {} -Id {}",
                s.name, n.name, p.name, p.id, n.name, p.id
            )));
        }
    }
    Ok(())
}

pub(super) fn check_stop(stamp: &Stamp, node: &str, name: &str) -> Result<(), CommandError> {
    let n = require_node(stamp, node)?;
    let s = require_service(n, name)?;
    require_reachable(stamp, n)?;
    if s.state == ServiceState::Stopped {
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
    if let Some(n) = real_node(inv) {
        return control_real_service(inv, &n, ServiceAction::Start);
    }
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
    if let Some(n) = real_node(inv) {
        return control_real_service(inv, &n, ServiceAction::Stop);
    }
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
    if let Some(n) = real_node(inv) {
        return control_real_service(inv, &n, ServiceAction::Restart);
    }
    let (node, name) = node_and_name(inv);
    let stamp = inv.stamp();
    let n = require_node(stamp, &node)?;
    let running = require_service(n, &name)?.state != ServiceState::Stopped;
    if running {
        check_stop(stamp, &node, &name)?;
        let s = require_service(n, &name)?;
        if s.start_type == StartType::Disabled {
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
    if let Some(n) = real_node(inv) {
        return stop_real_process(inv, &n);
    }
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
    let record = process_record(n, &crate::host::simulated::process_row(n, p));
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

/// Stop-AzsSupportProcess on a real machine: SIGTERM through a pidfd, SIGKILL after the grace;
/// the process must still be the one listed (same start time).
fn stop_real_process(inv: &mut Invocation<'_>, node: &Node) -> Result<Vec<Value>, CommandError> {
    let id = inv.args.int("Id").unwrap_or(-1);
    let pid = u32::try_from(id).map_err(|_| {
        CommandError(format!(
            "Cannot find a process with the process identifier {id} on {}",
            node.name
        ))
    })?;
    let p = processes::get(pid).map_err(|e| CommandError(format!("{e} on {}", node.name)))?;
    if let Some(why) = processes::protected(pid) {
        return Err(CommandError(format!(
            "refusing to stop {} (id {pid}) on {}: {why}",
            p.name, node.name
        )));
    }
    if !inv.should_process(
        &format!("{} ({pid}) on {}", p.name, node.name),
        "Stop-Process",
    ) {
        return Ok(vec![]);
    }
    let out = processes::stop(pid, Some(p.start_time), STOP_GRACE).map_err(CommandError)?;
    let record = process_record(node, &process_row(&p))
        .with("Signal", out.signal)
        .with("Exited", out.exited);
    Ok(vec![record.into()])
}

// ---------------------------------------------------------------- clean-up

#[cfg(test)]
mod tests {
    use super::super::hosts::tests::{cn, err, get, ok};
    use super::super::testing::default_stamp;
    use super::super::testing::what_if;
    use super::*;
    use crate::stamp::NodeState;

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
            svc.state = ServiceState::Stopped;
            svc.start_type = StartType::Disabled;
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
            n.state = NodeState::Off;
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
            .any(|x| x.name == "MSSQLSERVER" && x.state == ServiceState::Stopped));
    }

    #[test]
    fn a_service_stuck_stopping_with_a_live_process_cannot_start() {
        let mut s = default_stamp();
        let pid = {
            let n = s.node_mut("AZS-SQL01").expect("sql01");
            if let Some(svc) = n.services.iter_mut().find(|x| x.name == "MSSQLSERVER") {
                svc.state = ServiceState::StopPending;
            }
            n.processes
                .iter()
                .find(|p| p.service == "MSSQLSERVER")
                .map(|p| p.id)
                .expect("its process")
        };
        let e = err(
            &mut s,
            start_service,
            &[cn("AZS-SQL01"), ("Name", "MSSQLSERVER".into())],
        );
        assert!(
            e.contains("StopPending") && e.contains(&format!("-Id {pid}")),
            "{e}"
        );
    }
}
