//! Known-issue checks over Service Fabric, judged by `stamp::fabric_health` and `stamp::clock`:
//! nodes not Up with health Ok (`ServiceFabricNodeHealth`); replicas that are down, on a node
//! that is not Up, or unhealthy, with unhealthy applications, services and partitions
//! (`ServiceFabricReplicaHealth`); partitions below their write quorum or without a primary
//! (`ServiceFabricPartitionQuorum`); and ring upgrades that failed, roll back or are stuck
//! (`ServiceFabricUpgrade`).

use super::{problem, restart_role_hint, verdict, Verdict};
use crate::stamp::clock::UPGRADE_DOMAIN_TIMEOUT_HOURS;
use crate::stamp::fabric_health::{
    health_rank, partition_loss, partition_quorum as quorum_of, replica_problem,
};
use crate::stamp::{NodeState, Ring, ServiceState, Stamp};
use chrono::{DateTime, Utc};

/// The role of the infrastructure VM named like a fabric node, if any.
fn node_role<'a>(stamp: &'a Stamp, node: &str) -> Option<&'a str> {
    stamp.vm(node).map(|v| v.role.as_str())
}

/// What brings fabric node `node` of `ring` back: its VM's role restarted, or its host service.
fn node_remedy(stamp: &Stamp, ring: &Ring, node: &str) -> String {
    let fabric_host_stopped = stamp.vm(node).is_some_and(|v| {
        v.state == NodeState::Running
            && v.services.iter().any(|s| {
                s.name.eq_ignore_ascii_case("FabricHostSvc") && s.state != ServiceState::Running
            })
    });
    match node_role(stamp, node) {
        _ if fabric_host_stopped => format!(
            "Start the Service Fabric host on the node: Start-AzsSupportService -ComputerName {node} -Name FabricHostSvc"
        ),
        Some(role) => format!(
            "Restart the node's VM: {} (one at a time; check Get-AzsSupportServiceFabricNode -Ring {})",
            restart_role_hint(role),
            ring.name
        ),
        None => format!("Review Get-AzsSupportServiceFabricNode -Ring {}", ring.name),
    }
}

pub(super) fn fabric_node_health(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let mut problems = Vec::new();
    let mut count = 0;
    for ring in &stamp.rings {
        for n in &ring.nodes {
            count += 1;
            let up = n.status.eq_ignore_ascii_case("Up");
            if up && health_rank(&n.health) == 0 {
                continue;
            }
            let remediation = if !up {
                node_remedy(stamp, ring, &n.name)
            } else {
                match node_role(stamp, &n.name) {
                    Some(role) => format!(
                        "Check the ring's upgrade (Get-AzsSupportServiceFabricClusterUpgrade -Ring {}); restart the node's VMs one at a time: {}",
                        ring.name,
                        restart_role_hint(role)
                    ),
                    None => format!(
                        "Check the ring's upgrade (Get-AzsSupportServiceFabricClusterUpgrade -Ring {})",
                        ring.name
                    ),
                }
            };
            problems.push(problem(
                format!(
                    "Fabric node {} of ring {} is {} (health {})",
                    n.name, ring.name, n.status, n.health
                ),
                remediation,
            ));
        }
    }
    verdict(
        problems,
        format!("All {count} fabric nodes are Up with health Ok"),
    )
}

pub(super) fn fabric_replica_health(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let mut problems = Vec::new();
    let mut count = 0;
    for ring in &stamp.rings {
        for app in ring
            .applications
            .iter()
            .filter(|a| health_rank(&a.health) > 0)
        {
            problems.push(problem(
                format!(
                    "Application {} of ring {} has health {}",
                    app.name, ring.name, app.health
                ),
                format!(
                    "Get-AzsSupportServiceFabricService -Ring {} for its services' health",
                    ring.name
                ),
            ));
        }
        for svc in &ring.services {
            if health_rank(&svc.health) > 0 {
                problems.push(problem(
                    format!(
                        "Service {} of ring {} has health {}",
                        svc.name, ring.name, svc.health
                    ),
                    format!(
                        "Get-AzsSupportServiceFabricReplica -Ring {} -ServiceName {}",
                        ring.name, svc.name
                    ),
                ));
            }
            for part in &svc.partitions {
                if health_rank(&part.health) > 0 {
                    problems.push(problem(
                        format!(
                            "Partition {} of {} (ring {}) has health {}",
                            part.id, svc.name, ring.name, part.health
                        ),
                        format!(
                            "Get-AzsSupportServiceFabricReplica -Ring {} -ServiceName {}",
                            ring.name, svc.name
                        ),
                    ));
                }
                for r in &part.replicas {
                    count += 1;
                    let Some(why) = replica_problem(ring, r) else {
                        continue;
                    };
                    let node_ok = crate::stamp::fabric_health::node_up(ring, &r.node);
                    let remediation = if r.role.eq_ignore_ascii_case("Primary") && node_ok {
                        format!(
                            "Restart-AzsSupportServiceFabricPrimaryReplica -Ring {} -ServiceName {}",
                            ring.name, svc.name
                        )
                    } else {
                        node_remedy(stamp, ring, &r.node)
                    };
                    problems.push(problem(
                        format!(
                            "{} replica {} of {} on {} (ring {}) is unhealthy: {why}",
                            r.role, r.id, svc.name, r.node, ring.name
                        ),
                        remediation,
                    ));
                }
            }
        }
    }
    verdict(
        problems,
        format!("All {count} replicas are Ready (or building) with health Ok on Up nodes"),
    )
}

pub(super) fn partition_quorum(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let mut problems = Vec::new();
    let mut count = 0;
    for ring in &stamp.rings {
        for svc in &ring.services {
            for part in &svc.partitions {
                count += 1;
                let Some(why) = partition_loss(ring, svc, part) else {
                    continue;
                };
                let mut down: Vec<&str> = part
                    .replicas
                    .iter()
                    .filter(|r| replica_problem(ring, r).is_some())
                    .map(|r| r.node.as_str())
                    .collect();
                down.sort_unstable();
                down.dedup();
                let remediation = match down.first() {
                    Some(node) => format!(
                        "Bring the replicas back on {}: {}",
                        down.join(", "),
                        node_remedy(stamp, ring, node)
                    ),
                    None => format!(
                        "Review Get-AzsSupportServiceFabricReplica -Ring {} -ServiceName {} and escalate to the Service Fabric team",
                        ring.name, svc.name
                    ),
                };
                let q = quorum_of(ring, svc, part)
                    .map(|q| {
                        format!(
                            " ({} of {} replicas up, write quorum {})",
                            q.up, q.configured, q.needed
                        )
                    })
                    .unwrap_or_default();
                problems.push(problem(
                    format!(
                        "Partition {} of {} (ring {}) is in quorum loss: {why}{}",
                        part.id,
                        svc.name,
                        ring.name,
                        if why.contains("write quorum") {
                            String::new()
                        } else {
                            q
                        }
                    ),
                    remediation,
                ));
            }
        }
    }
    verdict(
        problems,
        format!("All {count} partitions have their write quorum and a Primary"),
    )
}

pub(super) fn fabric_upgrade(stamp: &Stamp, now: DateTime<Utc>) -> Verdict {
    let mut problems = Vec::new();
    for ring in &stamp.rings {
        let u = &ring.upgrade;
        let blocker = ring.upgrade_blocker();
        if blocker.is_none() && !ring.upgrade_is_stuck(now) {
            // Done, or not started: every node runs the ring's runtime.
            let rolling = u.state.contains("InProgress") || u.state.contains("Pending");
            let lagging: Vec<String> = ring
                .nodes
                .iter()
                .filter(|n| {
                    !rolling
                        && !ring.runtime_version.is_empty()
                        && !n.version.is_empty()
                        && n.version != ring.runtime_version
                })
                .map(|n| format!("{} at {}", n.name, n.version))
                .collect();
            if !lagging.is_empty() {
                problems.push(problem(
                    format!(
                        "Ring {} runs {} but its upgrade left nodes behind: {}",
                        ring.name,
                        ring.runtime_version,
                        lagging.join(", ")
                    ),
                    format!(
                        "Review Get-AzsSupportServiceFabricClusterUpgrade -Ring {} and Get-AzsSupportServiceFabricNode -Ring {}; escalate to the Service Fabric team",
                        ring.name, ring.name
                    ),
                ));
            }
            continue;
        }
        let mut evidence = format!(
            "Ring {} upgrade to {} is {}",
            ring.name, u.target_version, u.state
        );
        if !u.current_domain.is_empty() {
            evidence.push_str(&format!(" in {}", u.current_domain));
        }
        if let Some(start) = u.start_time {
            evidence.push_str(&format!(
                " for {:.1} h (stuck after {UPGRADE_DOMAIN_TIMEOUT_HOURS} h per domain, {} domains)",
                (now - start).num_minutes() as f64 / 60.0,
                ring.upgrade_domains()
            ));
        }
        if let Some(b) = &blocker {
            evidence.push_str(&format!(": {b}"));
        }
        // Rolling back, the nodes to watch are those not yet back on the ring's runtime.
        let goal = if u.state.contains("Back") {
            ring.runtime_version.as_str()
        } else {
            u.target_version.as_str()
        };
        let behind: Vec<&str> = ring
            .nodes
            .iter()
            .filter(|n| !goal.is_empty() && n.version != goal)
            .map(|n| n.name.as_str())
            .collect();
        if !behind.is_empty() {
            evidence.push_str(&format!(" (nodes not at {goal}: {})", behind.join(", ")));
        }
        let roles: Vec<&str> = {
            let mut r: Vec<&str> = ring
                .nodes
                .iter()
                .filter_map(|n| node_role(stamp, &n.name))
                .collect();
            r.dedup();
            r
        };
        let remediation = match roles.first() {
            Some(role) if u.state.contains("Forward") => format!(
                "Restart the ring's VMs one at a time so the upgrade domain completes: {}",
                restart_role_hint(role)
            ),
            _ => format!(
                "Review the upgrade with Get-AzsSupportServiceFabricClusterUpgrade -Ring {} and escalate to the Service Fabric team",
                ring.name
            ),
        };
        problems.push(problem(evidence, remediation));
    }
    verdict(
        problems,
        format!(
            "No ring upgrade is failed, rolling back or stuck ({} rings)",
            stamp.rings.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_loss_with_every_node_up_and_building_replicas_are_healthy() {
        let mut s = Stamp::default_stamp().unwrap_or_else(|e| panic!("{e}"));
        let now = s.now();
        let part = &mut s.rings[0].services[0].partitions[0];
        assert!(part.replicas.len() >= 3, "a replica set of 3");
        for r in part
            .replicas
            .iter_mut()
            .filter(|r| r.role != "Primary")
            .take(2)
        {
            r.status = "Dropped".into();
        }
        let v = partition_quorum(&s, now);
        assert!(
            v.evidence().contains("1 of 3 replicas up, write quorum 2"),
            "{}",
            v.evidence()
        );
        assert!(!fabric_replica_health(&s, now).passed());

        let mut s = Stamp::default_stamp().unwrap_or_else(|e| panic!("{e}"));
        let part = &mut s.rings[0].services[0].partitions[0];
        let mut building = part.replicas[1].clone();
        building.id = "99".into();
        building.role = "IdleSecondary".into();
        building.status = "InBuild".into();
        part.replicas.push(building);
        assert!(partition_quorum(&s, now).passed());
        assert!(fabric_replica_health(&s, now).passed());
        s.rings[0].services[0].partitions[0].status = "InQuorumLoss".into();
        assert!(!partition_quorum(&s, now).passed());
    }

    #[test]
    fn replica_health_uses_the_shared_rank() {
        let mut s = Stamp::default_stamp().unwrap_or_else(|e| panic!("{e}"));
        let now = s.now();
        let rep = &mut s.rings[0].services[0].partitions[0].replicas[0];
        rep.status = "ready".into();
        rep.health = "ok".into();
        assert!(fabric_replica_health(&s, now).passed());
        let rep = &mut s.rings[0].services[0].partitions[0].replicas[0];
        rep.health = "Unknown".into();
        let v = fabric_replica_health(&s, now);
        assert!(!v.passed());
        assert!(
            v.evidence().contains("its health is Unknown"),
            "{}",
            v.evidence()
        );
    }
}
