//! Derived Service Fabric health: an entity's health is the worst of its own stored health and
//! everything below it. A ring ([`ring_health`]) aggregates its nodes (a Down node is Error),
//! applications, services with their partitions and replicas, and its upgrade (Failed → Error; in
//! progress with a failure reason → Warning), and names the unhealthy entities that explain it.
//! The fabric reads (`fabric`) report these health states.

use crate::stamp::{FabricApplication, FabricNode, FabricService, Partition, Ring};

/// Severity of a health state: `Ok` (or anything unknown) 0, `Warning` 1, `Error` 2.
fn rank(health: &str) -> u8 {
    if health.eq_ignore_ascii_case("Error") {
        2
    } else if health.eq_ignore_ascii_case("Warning") {
        1
    } else {
        0
    }
}

pub(super) fn state_of(rank: u8) -> &'static str {
    match rank {
        2 => "Error",
        1 => "Warning",
        _ => "Ok",
    }
}

/// A fabric node's health: its stored health, and Error when it is Down.
pub(super) fn node_rank(n: &FabricNode) -> u8 {
    let down = n.status.eq_ignore_ascii_case("Down");
    rank(&n.health).max(if down { 2 } else { 0 })
}

fn partition_rank(p: &Partition) -> u8 {
    p.replicas
        .iter()
        .map(|r| rank(&r.health))
        .fold(rank(&p.health), u8::max)
}

pub(super) fn service_rank(s: &FabricService) -> u8 {
    s.partitions
        .iter()
        .map(partition_rank)
        .fold(rank(&s.health), u8::max)
}

/// The upgrade's contribution: Failed → Error, in progress and stuck (a failure reason) → Warning.
fn upgrade_rank(ring: &Ring) -> u8 {
    let u = &ring.upgrade;
    if u.state.eq_ignore_ascii_case("Failed") {
        2
    } else if u.state.contains("InProgress") && !u.failure_reason.is_empty() {
        1
    } else {
        0
    }
}

pub(super) fn application_rank(ring: &Ring, app: &FabricApplication) -> u8 {
    ring.services
        .iter()
        .filter(|s| s.application.eq_ignore_ascii_case(&app.name))
        .map(service_rank)
        .fold(rank(&app.health), u8::max)
}

/// A ring's aggregated health and the unhealthy entities that explain it (one line each).
pub(crate) fn ring_health(ring: &Ring) -> (String, Vec<String>) {
    let mut worst = rank(&ring.health);
    let mut evidence = Vec::new();
    if worst > 0 {
        evidence.push(format!("Ring {}: {}", ring.name, ring.health));
    }
    for n in &ring.nodes {
        let r = node_rank(n);
        if r > 0 {
            worst = worst.max(r);
            evidence.push(format!(
                "Node {}: status {}, health {}",
                n.name,
                n.status,
                state_of(r)
            ));
        }
    }
    for a in &ring.applications {
        let r = rank(&a.health);
        if r > 0 {
            worst = worst.max(r);
            evidence.push(format!("Application {}: {}", a.name, a.health));
        }
    }
    for s in &ring.services {
        worst = worst.max(rank(&s.health));
        if rank(&s.health) > 0 {
            evidence.push(format!("Service {}: {}", s.name, s.health));
        }
        for p in &s.partitions {
            if rank(&p.health) > 0 {
                worst = worst.max(rank(&p.health));
                evidence.push(format!("Partition {} of {}: {}", p.id, s.name, p.health));
            }
            for rep in &p.replicas {
                let r = rank(&rep.health);
                if r > 0 {
                    worst = worst.max(r);
                    let detail = if rep.health_detail.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", rep.health_detail)
                    };
                    evidence.push(format!(
                        "Replica {} ({}) of {} on {}: {}{detail}",
                        rep.id, rep.role, s.name, rep.node, rep.health
                    ));
                }
            }
        }
    }
    let u = upgrade_rank(ring);
    if u > 0 {
        worst = worst.max(u);
        let reason = if ring.upgrade.failure_reason.is_empty() {
            String::new()
        } else {
            format!(": {}", ring.upgrade.failure_reason)
        };
        evidence.push(format!(
            "Upgrade {} to {}{reason}",
            ring.upgrade.state, ring.upgrade.target_version
        ));
    }
    (state_of(worst).to_string(), evidence)
}

#[cfg(test)]
mod tests {
    use super::super::fabric::tests::{fabric, ring_args, stuck_primary, CC};
    use super::super::fabric::{get_cluster_health, get_service};
    use super::super::testing::{default_stamp, prop, run_on};
    use super::*;

    #[test]
    fn health_is_derived_from_below() {
        let mut s = default_stamp();
        stuck_primary(&mut s);
        let (h, ev) = ring_health(fabric(&s));
        assert_eq!(h, "Error");
        assert!(ev.iter().any(|e| e.contains("Reconfiguration stuck")));
        let rows = run_on(&mut s, get_cluster_health, &[], false).expect("health");
        assert_eq!(prop(&rows[0], "AggregatedHealthState"), "Error");
        assert_eq!(prop(&rows[0], "UnhealthyApplications"), "1");
        assert_eq!(prop(&rows[1], "AggregatedHealthState"), "Ok");
        let svc = run_on(&mut s, get_service, &ring_args(CC), false).expect("svc");
        assert_eq!(prop(&svc[0], "HealthState"), "Error");

        let mut s = default_stamp();
        s.rings[0].upgrade.state = "RollingForwardInProgress".into();
        s.rings[0].upgrade.failure_reason = "UD1 safety check timed out".into();
        assert_eq!(ring_health(&s.rings[0]).0, "Warning");
        s.rings[0].upgrade.state = "Failed".into();
        assert_eq!(ring_health(&s.rings[0]).0, "Error");
        let mut s = default_stamp();
        s.rings[0].nodes[2].status = "Down".into();
        let (h, ev) = ring_health(&s.rings[0]);
        assert_eq!(h, "Error");
        assert!(ev[0].contains("Down"));
    }
}
