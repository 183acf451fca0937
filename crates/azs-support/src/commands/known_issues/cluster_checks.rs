//! Known-issue checks over the scale unit's failover cluster and what runs on it: cluster nodes,
//! groups, resources and shared volumes (`ClusterNodeHealth`, `ClusterGroupHealth`,
//! `ClusterResourceHealth`, `ClusterSharedVolumeHealth`), and the infrastructure VMs and hosts —
//! VM state and placement, automatic services, and drive free space (`InfrastructureVMState`,
//! `InfrastructureVMPlacement`, `InfrastructureServiceState`, `InfrastructureDiskSpace`).

use super::{problem, restart_role_hint, verdict, Verdict};
use crate::stamp::Stamp;
use std::collections::BTreeMap;

/// Up hosts other than `except`, in stamp order.
fn up_hosts_except<'a>(stamp: &'a Stamp, except: &str) -> Vec<&'a str> {
    stamp
        .hosts
        .iter()
        .filter(|h| h.state == "Up" && !h.name.eq_ignore_ascii_case(except))
        .map(|h| h.name.as_str())
        .collect()
}

fn first_or_placeholder(hosts: &[&str]) -> String {
    hosts
        .first()
        .map(|h| h.to_string())
        .unwrap_or_else(|| "<an Up host>".into())
}

pub(super) fn cluster_node_health(stamp: &Stamp) -> Verdict {
    let problems = stamp
        .hosts
        .iter()
        .filter(|h| h.state != "Up")
        .map(|h| {
            problem(
                format!(
                    "Cluster node {} is {} (drain status {})",
                    h.name, h.state, h.drain_status
                ),
                format!(
                    "Find why {} is {} (Get-AzsSupportInfrastructureHost, Get-AzsSupportClusterLog) and bring it back into the cluster",
                    h.name, h.state
                ),
            )
        })
        .collect();
    verdict(
        problems,
        format!("All {} cluster nodes are Up", stamp.hosts.len()),
    )
}

pub(super) fn cluster_group_health(stamp: &Stamp) -> Verdict {
    let groups = stamp.cluster_groups();
    let problems = groups
        .iter()
        .filter(|g| g.state != "Online")
        .map(|g| {
            let remediation = match stamp.vm(&g.name) {
                Some(vm) => format!(
                    "Start infrastructure VM {}: Restart-AzsSupportComputerByRole -Role {}",
                    vm.name, vm.role
                ),
                None => format!(
                    "Move-AzsSupportClusterGroup -Name '{}' -Node {}",
                    g.name,
                    first_or_placeholder(&up_hosts_except(stamp, &g.owner))
                ),
            };
            problem(
                format!(
                    "Cluster group {} is {} (owner {})",
                    g.name, g.state, g.owner
                ),
                remediation,
            )
        })
        .collect();
    verdict(
        problems,
        format!("All {} cluster groups are Online", groups.len()),
    )
}

pub(super) fn cluster_resource_health(stamp: &Stamp) -> Verdict {
    let resources = stamp.cluster_resources();
    let problems = resources
        .iter()
        .filter(|r| r.state != "Online")
        .map(|r| {
            let owner = stamp.group_owner(&r.group).unwrap_or_default();
            let remediation = match stamp.vm(&r.group) {
                Some(vm) => format!(
                    "Start infrastructure VM {}: Restart-AzsSupportComputerByRole -Role {}",
                    vm.name, vm.role
                ),
                None => format!(
                    "Move-AzsSupportClusterGroup -Name '{}' -Node {}",
                    r.group,
                    first_or_placeholder(&up_hosts_except(stamp, &owner))
                ),
            };
            problem(
                format!(
                    "Cluster resource {} is {} (group {}, owner {})",
                    r.name, r.state, r.group, owner
                ),
                remediation,
            )
        })
        .collect();
    verdict(
        problems,
        format!("All {} cluster resources are Online", resources.len()),
    )
}

pub(super) fn csv_health(stamp: &Stamp) -> Verdict {
    let mut problems = Vec::new();
    for c in &stamp.cluster.csvs {
        let owner_state = stamp.host(&c.owner).map(|h| h.state.as_str());
        let evidence = if c.state != "Online" {
            format!("{} is {} (owner {})", c.name, c.state, c.owner)
        } else if owner_state != Some("Up") {
            format!(
                "{} is owned by {}, which is {}",
                c.name,
                c.owner,
                owner_state.unwrap_or("not a host")
            )
        } else {
            continue;
        };
        problems.push(problem(
            evidence,
            format!(
                "Move-AzsSupportClusterSharedVolume -Name '{}' -Node {}",
                c.name,
                first_or_placeholder(&up_hosts_except(stamp, &c.owner))
            ),
        ));
    }
    verdict(
        problems,
        format!(
            "All {} cluster shared volumes are Online on Up nodes",
            stamp.cluster.csvs.len()
        ),
    )
}

pub(super) fn vm_state(stamp: &Stamp) -> Verdict {
    let mut problems = Vec::new();
    for vm in &stamp.vms {
        if vm.state != "Running" {
            problems.push(problem(
                format!(
                    "Infrastructure VM {} ({}) on {} is {}",
                    vm.name, vm.role, vm.host, vm.state
                ),
                restart_role_hint(&vm.role),
            ));
        } else if vm.provisioning_status == "Failed" {
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
        format!("All {} infrastructure VMs are Running", stamp.vms.len()),
    )
}

pub(super) fn vm_placement(stamp: &Stamp) -> Verdict {
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
            .filter(|h| h.state == "Up" && !hosts.contains_key(&h.name.to_ascii_uppercase()))
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

pub(super) fn service_state(stamp: &Stamp) -> Verdict {
    let mut problems = Vec::new();
    let mut count = 0;
    let running = stamp
        .hosts
        .iter()
        .filter(|h| h.state == "Up")
        .chain(stamp.vms.iter().filter(|v| v.state == "Running"));
    for node in running {
        for svc in node
            .services
            .iter()
            .filter(|s| s.start_type.eq_ignore_ascii_case("Automatic"))
        {
            count += 1;
            if svc.state != "Running" {
                problems.push(problem(
                    format!(
                        "Service {} on {} is {} (start type Automatic)",
                        svc.name, node.name, svc.state
                    ),
                    format!(
                        "Start-AzsSupportService -ComputerName {} -Name {}",
                        node.name, svc.name
                    ),
                ));
            }
        }
    }
    verdict(
        problems,
        format!("All {count} automatic services on running nodes are Running"),
    )
}

pub(super) fn disk_space(stamp: &Stamp) -> Verdict {
    let mut problems = Vec::new();
    let mut count = 0;
    for node in stamp.nodes() {
        for d in node.disks.iter().filter(|d| d.size_gb > 0.0) {
            count += 1;
            let pct = d.free_gb / d.size_gb * 100.0;
            if pct < 10.0 {
                problems.push(problem(
                    format!(
                        "{} {} has {:.1} GB free of {:.0} GB ({:.1}% free)",
                        node.name, d.drive, d.free_gb, d.size_gb, pct
                    ),
                    format!("Clear-AzsSupportDiskSpace -ComputerName {}", node.name),
                ));
            }
        }
    }
    verdict(
        problems,
        format!("All {count} drives have at least 10% free space"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::load_scenario;

    #[test]
    fn evidence_names_entity_and_state() {
        let s = load_scenario("csv-offline").unwrap_or_else(|e| panic!("{e}"));
        let v = csv_health(&s);
        assert_eq!(
            v.evidence(),
            "Cluster Virtual Disk (Infrastructure_2) is Offline (owner AZS-HOST03)"
        );
        assert!(v.remediation().starts_with(
            "Move-AzsSupportClusterSharedVolume -Name 'Cluster Virtual Disk (Infrastructure_2)' -Node AZS-HOST01"
        ));
        let s = load_scenario("service-stopped").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            service_state(&s).evidence(),
            "Service MSSQLSERVER on AZS-SQL01 is Stopped (start type Automatic)"
        );
        let s = load_scenario("vm-wrong-host").unwrap_or_else(|e| panic!("{e}"));
        let v = vm_placement(&s);
        assert!(
            v.evidence()
                .contains("AZS-ACS01, AZS-ACS02 (role ACS) all run on AZS-HOST04"),
            "{}",
            v.evidence()
        );
    }
}
