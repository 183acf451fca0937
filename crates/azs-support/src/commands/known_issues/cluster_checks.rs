//! Known-issue checks over the scale unit's failover cluster: cluster nodes
//! (`ClusterNodeHealth`), groups (`ClusterGroupHealth`), resources (`ClusterResourceHealth`) and
//! shared volumes (`ClusterSharedVolumeHealth`). A group or resource is judged with what it
//! stands for: a VM's group is offline while the VM is Off or Saved, and anything Online on a
//! host that is not Up is not really online.

use super::{
    first_or_placeholder, host_not_up, problem, restart_role_hint, up_hosts_except, verdict, NotUp,
    Verdict,
};
use crate::stamp::{CsvState, GroupState, NodeState, Stamp};
use chrono::{DateTime, Utc};

pub(super) fn cluster_node_health(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let mut problems = Vec::new();
    for h in &stamp.hosts {
        if h.state == NodeState::Up {
            // Up, but a drain that failed left it half in maintenance, or ECE could not
            // provision it.
            let why = if h.drain_status.trim().eq_ignore_ascii_case("Failed") {
                Some("its drain Failed: VMs could not be moved off it")
            } else if h.provisioning_status.trim().eq_ignore_ascii_case("Failed") {
                Some("its ECE provisioning Failed")
            } else {
                None
            };
            if let Some(why) = why {
                problems.push(problem(
                    format!("Cluster node {} is Up but {why}", h.name),
                    format!(
                        "Review the node (Get-AzsSupportInfrastructureHost, Get-AzsSupportClusterLog -ComputerName {}) and the ECE plan that acted on it (Get-AzsSupportActionPlanInstance)",
                        h.name
                    ),
                ));
            }
            continue;
        }
        let remediation = if h.state == NodeState::Paused {
            format!(
                "If its maintenance is over, the operator resumes {} from the administrator portal (Scale unit nodes > Resume); review Get-AzsSupportInfrastructureHost",
                h.name
            )
        } else {
            format!(
                "Find why {} is {} (Get-AzsSupportInfrastructureHost, Get-AzsSupportClusterLog) and have the operator repair it and bring it back into the cluster",
                h.name, h.state
            )
        };
        let what = format!(
            "Cluster node {} is {} (drain status {})",
            h.name, h.state, h.drain_status
        );
        problems.push(problem(what, remediation));
    }
    verdict(
        problems,
        format!("All {} cluster nodes are Up", stamp.hosts.len()),
    )
}

/// Why an item owned by `owner` that should be Online is not: its own state, or its VM's, or its
/// owner host's.
fn offline_reason(stamp: &Stamp, group: &str, state: GroupState, owner: &str) -> Option<String> {
    if let Some(vm) = stamp.vm(group) {
        if matches!(vm.state, NodeState::Off | NodeState::Saved) {
            return Some(format!("is {state}: its VM {} is {}", vm.name, vm.state));
        }
    }
    if state != GroupState::Online {
        return Some(format!("is {state}"));
    }
    host_not_up(stamp, owner).map(|s| format!("is Online on {owner}, which is {s}"))
}

fn group_remediation(stamp: &Stamp, group: &str, owner: &str) -> String {
    let owner_isolated = host_not_up(stamp, owner) == Some(NotUp::State(NodeState::Isolated));
    match stamp.vm(group) {
        Some(vm) if matches!(vm.state, NodeState::Off | NodeState::Saved) => format!(
            "Start infrastructure VM {}: {}",
            vm.name,
            restart_role_hint(&vm.role)
        ),
        _ if owner_isolated => format!(
            "Host {owner} is isolated from the cluster: restore its network (Get-AzsSupportClusterLog -ComputerName {owner}); if it does not rejoin, Move-AzsSupportClusterGroup -Name '{}' -Node {}",
            group,
            first_or_placeholder(&up_hosts_except(stamp, owner))
        ),
        _ => format!(
            "Move-AzsSupportClusterGroup -Name '{}' -Node {}",
            group,
            first_or_placeholder(&up_hosts_except(stamp, owner))
        ),
    }
}

pub(super) fn cluster_group_health(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let groups = stamp.cluster_groups();
    let problems = groups
        .iter()
        .filter_map(|g| {
            let why = offline_reason(stamp, &g.name, g.state, &g.owner)?;
            Some(problem(
                format!("Cluster group {} {why} (owner {})", g.name, g.owner),
                group_remediation(stamp, &g.name, &g.owner),
            ))
        })
        .collect();
    verdict(
        problems,
        format!("All {} cluster groups are Online on Up hosts", groups.len()),
    )
}

pub(super) fn cluster_resource_health(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let resources = stamp.cluster_resources();
    let problems = resources
        .iter()
        .filter_map(|r| {
            let owner = stamp.group_owner(&r.group).unwrap_or_default();
            let why = offline_reason(stamp, &r.group, r.state, &owner)?;
            Some(problem(
                format!(
                    "Cluster resource {} {why} (group {}, owner {owner})",
                    r.name, r.group
                ),
                group_remediation(stamp, &r.group, &owner),
            ))
        })
        .collect();
    verdict(
        problems,
        format!(
            "All {} cluster resources are Online on Up hosts",
            resources.len()
        ),
    )
}

pub(super) fn csv_health(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let mut problems = Vec::new();
    for c in &stamp.cluster.csvs {
        let evidence = if c.state != CsvState::Online {
            format!("{} is {} (owner {})", c.name, c.state, c.owner)
        } else if let Some(state) = host_not_up(stamp, &c.owner) {
            format!("{} is owned by {}, which is {state}", c.name, c.owner)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::load_scenario;

    #[test]
    fn evidence_names_entity_and_state() {
        let s = load_scenario("csv-offline").unwrap_or_else(|e| panic!("{e}"));
        let v = csv_health(&s, s.now());
        assert_eq!(
            v.evidence(),
            "Cluster Virtual Disk (Infrastructure_2) is Offline (owner AZS-HOST03)"
        );
        assert!(v.remediation().starts_with(
            "Move-AzsSupportClusterSharedVolume -Name 'Cluster Virtual Disk (Infrastructure_2)' -Node AZS-HOST01"
        ));
    }

    #[test]
    fn a_saved_vm_takes_its_group_offline_and_a_down_owner_is_not_online() {
        let mut s = crate::stamp::Stamp::default_stamp().unwrap_or_else(|e| panic!("{e}"));
        let now = s.now();
        if let Some(v) = s.vms.iter_mut().find(|v| v.name == "AZS-WAS01") {
            v.state = NodeState::Saved;
        }
        let v = cluster_group_health(&s, now);
        assert!(
            v.evidence()
                .contains("Cluster group AZS-WAS01 is Offline: its VM AZS-WAS01 is Saved"),
            "{}",
            v.evidence()
        );
        assert!(v
            .remediation()
            .contains("Restart-AzsSupportComputerByRole -Role WAS"));
        let mut s = crate::stamp::Stamp::default_stamp().unwrap_or_else(|e| panic!("{e}"));
        s.hosts[2].state = NodeState::Isolated;
        assert!(!cluster_node_health(&s, now).passed());
        let v = csv_health(&s, now);
        assert!(
            v.evidence().contains("which is Isolated"),
            "{}",
            v.evidence()
        );
        let mut s = crate::stamp::Stamp::default_stamp().unwrap_or_else(|e| panic!("{e}"));
        s.hosts[1].state = NodeState::Paused;
        s.hosts[1].drain_status = "Completed".into();
        let v = cluster_node_health(&s, now);
        assert!(v.remediation().contains("resumes"), "{}", v.remediation());
    }

    #[test]
    fn an_up_host_whose_drain_failed_is_flagged() {
        let mut s = crate::stamp::Stamp::default_stamp().unwrap_or_else(|e| panic!("{e}"));
        let now = s.now();
        s.hosts[1].drain_status = "Failed".into();
        let v = cluster_node_health(&s, now);
        assert!(
            v.evidence().contains("its drain Failed"),
            "{}",
            v.evidence()
        );
        s.hosts[1].drain_status = "Completed".into();
        assert!(
            cluster_node_health(&s, now).passed(),
            "a finished drain on an Up host is history"
        );
    }
}
