//! Known-issue checks over the infrastructure VMs and hosts: VM state, including a VM that
//! claims to run on a host that is not Up (`InfrastructureVMState`), placement of a role's VMs
//! (`InfrastructureVMPlacement`), automatic services (`InfrastructureServiceState`) and drive
//! free space (`InfrastructureDiskSpace`, threshold `stamp::health::DRIVE_MIN_FREE_PERCENT`) and
//! running nodes whose processor or memory is exhausted (`InfrastructurePerformance`).

use super::{host_not_up, is, problem, restart_role_hint, verdict, NotUp, Verdict};
use crate::stamp::health::{
    CPU_SATURATED_PERCENT, DRIVE_MIN_FREE_PERCENT, MEMORY_EXHAUSTED_PERCENT,
};
use crate::stamp::{NodeState, ServiceState, Stamp};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

pub(super) fn vm_state(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let mut problems = Vec::new();
    for vm in &stamp.vms {
        if vm.state != NodeState::Running {
            let host = match host_not_up(stamp, &vm.host) {
                Some(s) => format!("; its host {} is {s}", vm.host),
                None => String::new(),
            };
            problems.push(problem(
                format!(
                    "Infrastructure VM {} ({}) on {} is {}{host}",
                    vm.name, vm.role, vm.host, vm.state
                ),
                restart_role_hint(&vm.role),
            ));
        } else if let Some(s) =
            host_not_up(stamp, &vm.host).filter(|s| *s != NotUp::State(NodeState::Paused))
        {
            // On a Down host it cannot run; on an isolated or quarantined one it may still run,
            // cut off from the cluster: unmonitored and out of reach.
            let what = if s == NotUp::State(NodeState::Down) {
                "it cannot be running there".to_string()
            } else {
                "it is cut off from the cluster, unmonitored and out of reach".to_string()
            };
            problems.push(problem(
                format!(
                    "Infrastructure VM {} ({}) is reported Running on {}, which is {s}: {what}",
                    vm.name, vm.role, vm.host
                ),
                format!(
                    "Bring host {} back (Get-AzsSupportInfrastructureHost, Get-AzsSupportClusterLog), then {}",
                    vm.host,
                    restart_role_hint(&vm.role)
                ),
            ));
        } else if is(&vm.provisioning_status, "Failed") {
            problems.push(problem(
                format!(
                    "Infrastructure VM {} ({}) has provisioning status Failed",
                    vm.name, vm.role
                ),
                format!(
                    "Review the failed ECE action plan for role {} (Get-AzsSupportActionPlanInstance -Status Failed)",
                    vm.role
                ),
            ));
        }
    }
    verdict(
        problems,
        format!(
            "All {} infrastructure VMs are Running on Up hosts",
            stamp.vms.len()
        ),
    )
}

pub(super) fn vm_placement(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    // role -> host -> VMs of that role on it
    let mut by_role: BTreeMap<&str, BTreeMap<String, Vec<&str>>> = BTreeMap::new();
    for vm in &stamp.vms {
        by_role
            .entry(vm.role.as_str())
            .or_default()
            .entry(vm.host.to_ascii_uppercase())
            .or_default()
            .push(vm.name.as_str());
    }
    let mut problems = Vec::new();
    for (role, hosts) in &by_role {
        let free: Vec<&str> = stamp
            .hosts
            .iter()
            .filter(|h| {
                h.state == NodeState::Up && !hosts.contains_key(&h.name.to_ascii_uppercase())
            })
            .map(|h| h.name.as_str())
            .collect();
        let Some(target) = free.first() else {
            continue;
        };
        for (host, vms) in hosts {
            if vms.len() < 2 {
                continue;
            }
            let host_name = stamp.host(host).map_or(host.as_str(), |h| h.name.as_str());
            let mover = vms.last().copied().unwrap_or_default();
            problems.push(problem(
                format!(
                    "Infrastructure VMs {} (role {role}) all run on {host_name} while Up host {} has none",
                    vms.join(", "),
                    free.join(", ")
                ),
                format!("Move-AzsSupportVirtualMachine -Name {mover} -Node {target}"),
            ));
        }
    }
    verdict(
        problems,
        format!(
            "VMs of each of {} roles are spread over the hosts",
            by_role.len()
        ),
    )
}

pub(super) fn service_state(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let mut problems = Vec::new();
    let mut count = 0;
    let running =
        stamp
            .hosts
            .iter()
            .filter(|h| h.state == NodeState::Up)
            .chain(stamp.vms.iter().filter(|v| {
                v.state == NodeState::Running && host_not_up(stamp, &v.host).is_none()
            }));
    for node in running {
        for svc in node.services.iter().filter(|s| s.start_type.is_automatic()) {
            count += 1;
            // A service starting is on its way; anything else that is not Running is down.
            if svc.state == ServiceState::Running || svc.state == ServiceState::StartPending {
                continue;
            }
            problems.push(problem(
                format!(
                    "Service {} on {} is {} (start type {})",
                    svc.name, node.name, svc.state, svc.start_type
                ),
                format!(
                    "Start-AzsSupportService -ComputerName {} -Name {}",
                    node.name, svc.name
                ),
            ));
        }
    }
    verdict(
        problems,
        format!("All {count} automatic services on running nodes are Running"),
    )
}

pub(super) fn disk_space(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let mut problems = Vec::new();
    let mut count = 0;
    for node in stamp.nodes() {
        for d in node.disks.iter().filter(|d| d.size_gb > 0.0) {
            count += 1;
            let pct = d.free_gb / d.size_gb * 100.0;
            if pct < DRIVE_MIN_FREE_PERCENT {
                problems.push(problem(
                    format!(
                        "{} {} has {:.1} GB free of {:.0} GB ({:.1}% free; threshold {DRIVE_MIN_FREE_PERCENT}%)",
                        node.name, d.drive, d.free_gb, d.size_gb, pct
                    ),
                    format!("Clear-AzsSupportDiskSpace -ComputerName {}", node.name),
                ));
            }
        }
    }
    verdict(
        problems,
        format!("All {count} drives have at least {DRIVE_MIN_FREE_PERCENT}% free space"),
    )
}

pub(super) fn performance(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let running = stamp
        .hosts
        .iter()
        .filter(|h| h.state == NodeState::Up)
        .chain(stamp.vms.iter().filter(|v| v.state == NodeState::Running));
    let mut count = 0;
    let mut problems = Vec::new();
    for n in running {
        count += 1;
        if let Some(why) = n.overload() {
            problems.push(problem(
                format!("{} ({}) is overloaded: {why}", n.name, if n.role.is_empty() { "host" } else { &n.role }),
                format!(
                    "Find what consumes it: Get-AzsSupportProcess -ComputerName {} | Sort-Object CPU -Descending; Get-AzsSupportPerformanceMetrics -ComputerName {}",
                    n.name, n.name
                ),
            ));
        }
    }
    verdict(
        problems,
        format!(
            "All {count} running nodes below {CPU_SATURATED_PERCENT}% processor and {MEMORY_EXHAUSTED_PERCENT}% memory"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::load_scenario;
    use crate::stamp::StartType;

    #[test]
    fn evidence_names_entity_and_state() {
        let s = load_scenario("service-stopped").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            service_state(&s, s.now()).evidence(),
            "Service MSSQLSERVER on AZS-SQL01 is Stopped (start type Automatic)"
        );
        let s = load_scenario("vm-wrong-host").unwrap_or_else(|e| panic!("{e}"));
        let v = vm_placement(&s, s.now());
        assert!(
            v.evidence()
                .contains("AZS-ACS01, AZS-ACS02 (role ACS) all run on AZS-HOST04"),
            "{}",
            v.evidence()
        );
    }

    #[test]
    fn a_vm_running_on_a_down_host_is_a_contradiction_and_manual_services_may_stop() {
        let mut s = crate::stamp::Stamp::default_stamp().unwrap_or_else(|e| panic!("{e}"));
        let now = s.now();
        let host = s.vms[5].host.clone();
        if let Some(h) = s.hosts.iter_mut().find(|h| h.name == host) {
            h.state = NodeState::Down;
        }
        let v = vm_state(&s, now);
        assert!(
            v.evidence().contains("cannot be running there"),
            "{}",
            v.evidence()
        );
        assert!(
            service_state(&s, now).passed(),
            "services of unreachable VMs are not judged"
        );
        let mut s = crate::stamp::Stamp::default_stamp().unwrap_or_else(|e| panic!("{e}"));
        for svc in s.vms[0].services.iter_mut() {
            svc.start_type = StartType::Manual;
            svc.state = ServiceState::Stopped;
        }
        assert!(service_state(&s, now).passed());
    }

    #[test]
    fn overloaded_running_nodes_are_flagged_and_a_restart_clears_a_leak() {
        let mut s = crate::stamp::Stamp::default_stamp().unwrap_or_else(|e| panic!("{e}"));
        let now = s.now();
        assert!(performance(&s, now).passed());
        if let Some(v) = s.vms.iter_mut().find(|v| v.name == "AZS-WAS01") {
            v.memory_percent = 98.0;
        }
        let v = performance(&s, now);
        assert!(v.evidence().contains("memory at 98%"), "{}", v.evidence());
        s.restart_vm("AZS-WAS01", now);
        assert!(
            performance(&s, now).passed(),
            "a fresh boot gives the memory back"
        );
    }
}
