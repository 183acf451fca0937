//! Derived Service Fabric health (tests: `commands::fabric`), the one place its severity is defined: an entity's health is
//! the worst of its own stored health and everything below it. [`health_rank`] ranks a stored
//! health state, case-insensitively: empty or `Ok` is 0, `Warning` 1, `Error` 2, and any other
//! value (`Unknown`) 1 — health not known to be Ok is never reported as Ok. A ring
//! ([`ring_health`]) aggregates its nodes (a Down node is Error), applications, services with
//! their partitions and replicas, and its upgrade (Failed → Error; in progress with a failure
//! reason → Warning), and names the unhealthy entities that explain it. Status comparisons
//! (`Down`, `Failed`) ignore case too. The fabric reads (`fabric`) report these health states;
//! the known-issue checks (`known_issues`) judge fabric entities and Test-AzureStack's ring
//! health by them.

use crate::stamp::{FabricApplication, FabricNode, FabricService, Partition, Replica, Ring};

/// Whether fabric node `name` of `ring` is Up (a replica on a node that is not Up is down with
/// it, whatever its own status says).
pub(crate) fn node_up(ring: &Ring, name: &str) -> bool {
    ring.nodes
        .iter()
        .find(|n| n.name.eq_ignore_ascii_case(name))
        .is_some_and(|n| n.status.eq_ignore_ascii_case("Up"))
}

/// Replica statuses that are normal: serving (`Ready`), being built (`InBuild`), or kept for a
/// node that may return (`Standby`).
fn status_normal(status: &str) -> bool {
    ["", "Ready", "InBuild", "Standby"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(status))
}

/// What is wrong with a replica, if anything: its node is not Up, its status is Down or
/// Dropped, or its health is not Ok. Replicas being built (`InBuild`) and idle secondaries with
/// health Ok are healthy: they are how Service Fabric restores redundancy.
pub(crate) fn replica_problem(ring: &Ring, r: &Replica) -> Option<String> {
    if !node_up(ring, &r.node) {
        return Some(format!("its node {} is not Up", r.node));
    }
    if !status_normal(&r.status) {
        return Some(format!("it is {}", r.status));
    }
    if health_rank(&r.health) > 0 {
        let detail = if r.health_detail.is_empty() {
            String::new()
        } else {
            format!(": {}", r.health_detail)
        };
        return Some(format!("its health is {}{detail}", r.health));
    }
    None
}

/// A stateful partition's write quorum: replicas in its configuration (Primary and
/// ActiveSecondary, or the target replica set size when larger), those up (Ready on an Up node),
/// and the majority it needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Quorum {
    /// Replicas the configuration has.
    pub configured: usize,
    /// Of them, up and Ready.
    pub up: usize,
    /// The write quorum: a majority of the configuration.
    pub needed: usize,
    /// Whether a Primary is up.
    pub primary_up: bool,
}

impl Quorum {
    /// Whether the partition has lost quorum. A partition that keeps quorum without its
    /// primary is not: Service Fabric promotes a secondary.
    pub fn lost(&self) -> bool {
        self.up < self.needed || (self.up == 0 && !self.primary_up)
    }
}

/// The partition's quorum (None for a stateless service's partition).
pub(crate) fn partition_quorum(ring: &Ring, svc: &FabricService, p: &Partition) -> Option<Quorum> {
    if !svc.stateful {
        return None;
    }
    let in_config = |r: &&Replica| {
        r.role.eq_ignore_ascii_case("Primary") || r.role.eq_ignore_ascii_case("ActiveSecondary")
    };
    let serving = |r: &Replica| {
        node_up(ring, &r.node) && (r.status.is_empty() || r.status.eq_ignore_ascii_case("Ready"))
    };
    let listed = p.replicas.iter().filter(in_config).count();
    let configured = listed.max(p.target_replica_set_size.unwrap_or(0) as usize);
    let up = p
        .replicas
        .iter()
        .filter(in_config)
        .filter(|r| serving(r))
        .count();
    let primary_up = p
        .replicas
        .iter()
        .any(|r| r.role.eq_ignore_ascii_case("Primary") && serving(r));
    Some(Quorum {
        configured,
        up,
        needed: configured / 2 + 1,
        primary_up,
    })
}

/// Why a partition is unavailable for writes: the cluster reports it InQuorumLoss, or fewer of
/// its replicas are up than its write quorum (stateful partitions only).
pub(crate) fn partition_loss(ring: &Ring, svc: &FabricService, p: &Partition) -> Option<String> {
    let q = partition_quorum(ring, svc, p);
    if let Some(q) = q.filter(Quorum::lost) {
        return Some(format!(
            "{} of {} replicas up, write quorum {}",
            q.up, q.configured, q.needed
        ));
    }
    if p.status.eq_ignore_ascii_case("InQuorumLoss") {
        return Some("the cluster reports it InQuorumLoss".into());
    }
    // Stateless partitions have no write quorum: their instances that are down are the replica
    // check's.
    None
}

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

pub(crate) fn state_of(rank: u8) -> &'static str {
    match rank {
        2 => "Error",
        1 => "Warning",
        _ => "Ok",
    }
}

/// A fabric node's health: its stored health, and Error when it is Down.
pub(crate) fn node_rank(n: &FabricNode) -> u8 {
    let down = n.status.eq_ignore_ascii_case("Down");
    health_rank(&n.health).max(if down { 2 } else { 0 })
}

/// A partition's health: its stored health, its replicas' (a replica with a problem is Warning,
/// or Error when its own health says so), and Error when it has lost quorum.
pub(crate) fn partition_rank(ring: &Ring, s: &FabricService, p: &Partition) -> u8 {
    let loss = if partition_loss(ring, s, p).is_some() {
        2
    } else {
        0
    };
    p.replicas
        .iter()
        .map(|r| {
            let own = health_rank(&r.health);
            if replica_problem(ring, r).is_some() {
                own.max(1)
            } else {
                own
            }
        })
        .fold(health_rank(&p.health).max(loss), u8::max)
}

pub(crate) fn service_rank(ring: &Ring, s: &FabricService) -> u8 {
    s.partitions
        .iter()
        .map(|p| partition_rank(ring, s, p))
        .fold(health_rank(&s.health), u8::max)
}

impl Ring {
    /// Re-evaluates the stored health of the partitions of service `svc` and of the service
    /// itself after its replicas changed: what the cluster reports once it has reconfigured.
    pub(crate) fn reevaluate_service(&mut self, svc: usize) {
        let Some(s) = self.services.get(svc) else {
            return;
        };
        // Judged afresh from the replicas: stored health and status as the cluster last
        // evaluated them no longer count.
        let ranks: Vec<(u8, bool)> = s
            .partitions
            .iter()
            .map(|p| {
                let mut fresh = p.clone();
                fresh.health.clear();
                fresh.status.clear();
                let lost = partition_loss(self, s, &fresh).is_some();
                (partition_rank(self, s, &fresh), lost)
            })
            .collect();
        let Some(s) = self.services.get_mut(svc) else {
            return;
        };
        for (p, (rank, lost)) in s.partitions.iter_mut().zip(&ranks) {
            p.health = state_of(*rank).to_string();
            p.status = if *lost { "InQuorumLoss" } else { "Ready" }.to_string();
        }
        let worst = ranks.iter().map(|(r, _)| *r).max().unwrap_or(0);
        s.health = state_of(worst).to_string();
        // The application is what its services are now.
        let app = s.application.clone();
        let app_rank = self
            .services
            .iter()
            .filter(|x| x.application.eq_ignore_ascii_case(&app))
            .map(|x| health_rank(&x.health))
            .max()
            .unwrap_or(0);
        if let Some(a) = self
            .applications
            .iter_mut()
            .find(|a| a.name.eq_ignore_ascii_case(&app))
        {
            a.health = state_of(app_rank).to_string();
        }
    }
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

pub(crate) fn application_rank(ring: &Ring, app: &FabricApplication) -> u8 {
    ring.services
        .iter()
        .filter(|s| s.application.eq_ignore_ascii_case(&app.name))
        .map(|s| service_rank(ring, s))
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
