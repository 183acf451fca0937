//! Host-level repairs of services and processes: Start-/Stop-/Restart-AzsSupportService and
//! Stop-AzsSupportProcess. The family's table also lists the disk clean-ups (`disk_cleanup`).
//!
//! Each asks the node's host ([`crate::host::Host`]) to act: a simulated node changes the stamp,
//! the real machine acts for real (systemd units, processes through a pidfd); the rules of each
//! live with the host.

use super::hosts::{process_record, service_row_record};
use super::{disk_cleanup, CommandError, Invocation, Table};
use crate::host::ServiceAction;
use crate::value::Value;

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

/// -ComputerName -Name: the service after `action`.
fn control(inv: &mut Invocation<'_>, action: ServiceAction) -> Result<Vec<Value>, CommandError> {
    let node = inv.args.str("ComputerName").unwrap_or_default().to_string();
    let name = inv.args.str("Name").unwrap_or_default().to_string();
    let Some(row) = inv.act(&node, |h, call| h.control_service(&name, action, call))? else {
        return Ok(vec![]);
    };
    let n = inv.host(&node)?;
    Ok(vec![service_row_record(n.node(), &row)])
}

/// Start-AzsSupportService -ComputerName -Name.
pub fn start_service(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    control(inv, ServiceAction::Start)
}

/// Stop-AzsSupportService -ComputerName -Name.
pub fn stop_service(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    control(inv, ServiceAction::Stop)
}

/// Restart-AzsSupportService -ComputerName -Name: stops it (when not stopped), then starts it.
pub fn restart_service(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    control(inv, ServiceAction::Restart)
}

/// Stop-AzsSupportProcess -ComputerName -Id: ends a process (never one the node cannot live
/// without); a service's process leaves its service Stopped.
pub fn stop_process(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let node = inv.args.str("ComputerName").unwrap_or_default().to_string();
    let id = inv.args.int("Id").unwrap_or(-1);
    let Some(stopped) = inv.act(&node, |h, call| h.stop_process(id, call))? else {
        return Ok(vec![]);
    };
    let n = inv.host(&node)?;
    let mut r = process_record(n.node(), &stopped.process);
    if let Some(signal) = stopped.signal {
        r = r.with("Signal", signal);
    }
    if let Some(exited) = stopped.exited {
        r = r.with("Exited", exited);
    }
    Ok(vec![r.into()])
}

// ---------------------------------------------------------------- clean-up

#[cfg(test)]
mod tests {
    use super::super::hosts::tests::{cn, err, get, ok};
    use super::super::testing::default_stamp;
    use super::super::testing::what_if;
    use super::*;
    use crate::stamp::{NodeState, ServiceState, Stamp, StartType};

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
