//! Derived Service Fabric health, the one place its severity is defined: an entity's health is
//! the worst of its own stored health and everything below it. [`health_rank`] ranks a stored
//! health state, case-insensitively: empty or `Ok` is 0, `Warning` 1, `Error` 2, and any other
//! value (`Unknown`) 1 — health not known to be Ok is never reported as Ok. A ring
//! ([`ring_health`]) aggregates its nodes (a Down node is Error), applications, services with
//! their partitions and replicas, and its upgrade (Failed → Error; in progress with a failure
//! reason → Warning), and names the unhealthy entities that explain it. Status comparisons
//! (`Down`, `Failed`) ignore case too. The fabric reads (`fabric`) report these health states;
//! the known-issue checks (`known_issues`) judge fabric entities and Test-AzureStack's ring
//! health by them.

use crate::stamp::{FabricApplication, FabricNode, FabricService, Partition, Ring};

/// Severity of a stored health state (case-insensitive): empty or `Ok` 0, `Warning` 1, `Error`
/// 2, anything else (`Unknown`) 1, since health not known to be Ok is not Ok.
pub(crate) fn health_rank(health: &str) -> u8 {
    if health.is_empty() || health.eq_ignore_ascii_case("Ok") {
        0
    } else if health.eq_ignore_ascii_case("Error") {
        2
    } else {
        1
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
    health_rank(&n.health).max(if down { 2 } else { 0 })
}

fn partition_rank(p: &Partition) -> u8 {
    p.replicas
        .iter()
        .map(|r| health_rank(&r.health))
        .fold(health_rank(&p.health), u8::max)
}

pub(super) fn service_rank(s: &FabricService) -> u8 {
    s.partitions
        .iter()
        .map(partition_rank)
        .fold(health_rank(&s.health), u8::max)
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
        .fold(health_rank(&app.health), u8::max)
}

/// A ring's aggregated health and the unhealthy entities that explain it (one line each).
pub(crate) fn ring_health(ring: &Ring) -> (String, Vec<String>) {
    let mut worst = health_rank(&ring.health);
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
        let r = health_rank(&a.health);
        if r > 0 {
            worst = worst.max(r);
            evidence.push(format!("Application {}: {}", a.name, a.health));
        }
    }
    for s in &ring.services {
        worst = worst.max(health_rank(&s.health));
        if health_rank(&s.health) > 0 {
            evidence.push(format!("Service {}: {}", s.name, s.health));
        }
        for p in &s.partitions {
            if health_rank(&p.health) > 0 {
                worst = worst.max(health_rank(&p.health));
                evidence.push(format!("Partition {} of {}: {}", p.id, s.name, p.health));
            }
            for rep in &p.replicas {
                let r = health_rank(&rep.health);
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
    use crate::stamp::load_scenario;

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

    #[test]
    fn ring_health_aggregates() {
        let s = default_stamp();
        assert!(s.rings.iter().all(|r| ring_health(r).0 == "Ok"));
        let s = load_scenario("ring-upgrade-stuck").unwrap_or_else(|e| panic!("{e}"));
        let health = s.ring("FabricRing").map(|r| ring_health(r).0);
        assert_eq!(health.as_deref(), Some("Warning"));
        let s = load_scenario("sf-node-down").unwrap_or_else(|e| panic!("{e}"));
        let health = s.ring("FabricRing").map(|r| ring_health(r).0);
        assert_eq!(health.as_deref(), Some("Error"));
    }

    #[test]
    fn unknown_health_counts_as_warning() {
        assert_eq!(health_rank(""), 0);
        assert_eq!(health_rank("Ok"), 0);
        assert_eq!(health_rank("Unknown"), 1);
        assert_eq!(health_rank("Invalid"), 1);
        let mut s = default_stamp();
        let app = s.rings[0].applications.first_mut().expect("an application");
        app.health = "Unknown".into();
        let name = app.name.clone();
        let (h, ev) = ring_health(&s.rings[0]);
        assert_eq!(h, "Warning");
        assert_eq!(ev, [format!("Application {name}: Unknown")]);
        assert_eq!(
            application_rank(&s.rings[0], &s.rings[0].applications[0]),
            1
        );
    }

    #[test]
    fn lower_case_error_and_down_count() {
        assert_eq!(health_rank("ok"), 0);
        assert_eq!(health_rank("warning"), 1);
        assert_eq!(health_rank("error"), 2);
        let mut s = default_stamp();
        s.rings[0].services.first_mut().expect("a service").health = "error".into();
        assert_eq!(ring_health(&s.rings[0]).0, "Error");
        let mut s = default_stamp();
        s.rings[0].nodes[0].status = "down".into();
        assert_eq!(node_rank(&s.rings[0].nodes[0]), 2);
        let (h, ev) = ring_health(&s.rings[0]);
        assert_eq!(h, "Error");
        assert!(ev[0].contains("status down"), "{ev:?}");
        let mut s = default_stamp();
        s.rings[0].upgrade.state = "failed".into();
        assert_eq!(ring_health(&s.rings[0]).0, "Error");
    }
}
