//! Known-issue checks over Service Fabric: nodes not Up with health Ok
//! (`ServiceFabricNodeHealth`), replicas not Ready and healthy together with unhealthy
//! applications, services and partitions (`ServiceFabricReplicaHealth`), and ring upgrades that
//! have not completed (`ServiceFabricUpgrade`). Health severity is `fabric_health`'s.

use super::super::fabric_health::health_rank;
use super::{problem, restart_role_hint, verdict, Verdict};
use crate::stamp::{Replica, Stamp};

/// The role of the infrastructure VM named like a fabric node, if any.
fn node_role<'a>(stamp: &'a Stamp, node: &str) -> Option<&'a str> {
    stamp.vm(node).map(|v| v.role.as_str())
}

pub(super) fn fabric_node_health(stamp: &Stamp) -> Verdict {
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
                format!(
                    "Start the Service Fabric host on the node: Start-AzsSupportService -ComputerName {} -Name FabricHostSvc",
                    n.name
                )
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

pub(super) fn fabric_replica_health(stamp: &Stamp) -> Verdict {
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
                    "Get-AzsSupportServiceFabricApplication -Ring {} for its health events",
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
                    if replica_ok(r) {
                        continue;
                    }
                    let detail = if r.health_detail.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", r.health_detail)
                    };
                    let remediation = if r.role == "Primary" {
                        format!(
                            "Restart-AzsSupportServiceFabricPrimaryReplica -Ring {} -ServiceName {}",
                            ring.name, svc.name
                        )
                    } else {
                        format!(
                            "Check node {} (Get-AzsSupportServiceFabricNode -Ring {})",
                            r.node, ring.name
                        )
                    };
                    problems.push(problem(
                        format!(
                            "{} replica {} of {} on {} (ring {}) is {} with health {}{}",
                            r.role, r.id, svc.name, r.node, ring.name, r.status, r.health, detail
                        ),
                        remediation,
                    ));
                }
            }
        }
    }
    verdict(
        problems,
        format!("All {count} replicas are Ready with health Ok"),
    )
}

/// A replica is fine when its health ranks Ok and it is Ready (or reports no status).
fn replica_ok(r: &Replica) -> bool {
    health_rank(&r.health) == 0 && (r.status.is_empty() || r.status.eq_ignore_ascii_case("Ready"))
}

pub(super) fn fabric_upgrade(stamp: &Stamp) -> Verdict {
    let mut problems = Vec::new();
    for ring in &stamp.rings {
        let u = &ring.upgrade;
        if u.state.is_empty() || u.state == "RollingForwardCompleted" {
            continue;
        }
        let mut evidence = format!(
            "Ring {} upgrade to {} is {}",
            ring.name, u.target_version, u.state
        );
        if !u.current_domain.is_empty() {
            evidence.push_str(&format!(" in {}", u.current_domain));
        }
        if !u.failure_reason.is_empty() {
            evidence.push_str(&format!(": {}", u.failure_reason));
        }
        let behind: Vec<&str> = ring
            .nodes
            .iter()
            .filter(|n| !u.target_version.is_empty() && n.version != u.target_version)
            .map(|n| n.name.as_str())
            .collect();
        if !behind.is_empty() {
            evidence.push_str(&format!(
                " (nodes not at {}: {})",
                u.target_version,
                behind.join(", ")
            ));
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
            Some(role) => format!(
                "Restart the ring's VMs one at a time so the upgrade domain completes: {}",
                restart_role_hint(role)
            ),
            None => format!(
                "Review the upgrade with Get-AzsSupportServiceFabricClusterUpgrade -Ring {}",
                ring.name
            ),
        };
        problems.push(problem(evidence, remediation));
    }
    verdict(
        problems,
        format!(
            "Every ring's upgrade is RollingForwardCompleted ({} rings)",
            stamp.rings.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::default_stamp;
    use super::*;

    #[test]
    fn replica_health_uses_the_shared_rank() {
        let mut s = default_stamp();
        let rep = &mut s.rings[0].services[0].partitions[0].replicas[0];
        rep.status = "ready".into();
        rep.health = "ok".into();
        assert!(fabric_replica_health(&s).passed());
        let rep = &mut s.rings[0].services[0].partitions[0].replicas[0];
        rep.health = "Unknown".into();
        let v = fabric_replica_health(&s);
        assert!(!v.passed());
        assert!(
            v.evidence().contains("with health Unknown"),
            "{}",
            v.evidence()
        );
    }
}
