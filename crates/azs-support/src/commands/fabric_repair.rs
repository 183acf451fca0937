//! Service Fabric repairs: moving and restarting a service's primary replica, and container
//! hotpatches. They find the service like the reads do (`fabric`: `-ServiceName`, optional
//! `-Ring`) and follow the ShouldProcess pattern.

use super::fabric::{find_service, replica_records, ring_service};
use super::{join_names, CommandError, Invocation, Table};
use crate::stamp::FabricService;
use crate::value::{Record, Value};

/// The commands of this family.
#[rustfmt::skip]
pub const COMMANDS: Table = &[
    ("Move-AzsSupportServiceFabricPrimaryReplica", move_primary),
    ("Restart-AzsSupportServiceFabricPrimaryReplica", restart_primary),
    ("Start-AzsSupportContainerHotpatch", start_hotpatch),
];

/// The partition holding the service's single primary, and the primary's index in it.
fn single_primary(s: &FabricService) -> Result<(usize, usize), CommandError> {
    let primaries: Vec<(usize, usize)> = s
        .partitions
        .iter()
        .enumerate()
        .flat_map(|(pi, p)| {
            p.replicas
                .iter()
                .enumerate()
                .filter(|(_, r)| r.role.eq_ignore_ascii_case("Primary"))
                .map(move |(ri, _)| (pi, ri))
        })
        .collect();
    match primaries.as_slice() {
        [one] => Ok(*one),
        [] => Err(CommandError(format!(
            "service '{}' has no primary replica (stateless or no partitions)",
            s.name
        ))),
        many => Err(CommandError(format!(
            "service '{}' has {} primary replicas (one per partition); this command handles a \
             single-primary service only",
            s.name,
            many.len()
        ))),
    }
}

/// Move-AzsSupportServiceFabricPrimaryReplica -ServiceName [-Ring] [-NodeName]: the secondary on
/// the target node (default: the first ready secondary on an Up node) becomes primary.
pub fn move_primary(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let at = find_service(inv)?;
    let (ring, s) = ring_service(inv.stamp(), at);
    let (pi, pri) = single_primary(s)?;
    let part = &s.partitions[pi];
    let node_up = |name: &str| {
        ring.nodes
            .iter()
            .any(|n| n.name.eq_ignore_ascii_case(name) && n.status.eq_ignore_ascii_case("Up"))
    };
    let is_secondary = |role: &str| role.eq_ignore_ascii_case("ActiveSecondary");
    let target = match inv.args.str("NodeName") {
        Some(n) => {
            if !ring.nodes.iter().any(|x| x.name.eq_ignore_ascii_case(n)) {
                return Err(CommandError(format!(
                    "no fabric node named '{n}' in ring {}",
                    ring.name
                )));
            }
            if !node_up(n) {
                return Err(CommandError(format!(
                    "fabric node '{n}' is not Up; cannot move the primary there"
                )));
            }
            part.replicas
                .iter()
                .position(|r| r.node.eq_ignore_ascii_case(n) && is_secondary(&r.role))
                .ok_or_else(|| {
                    CommandError(format!(
                        "fabric node '{n}' holds no secondary replica of '{}'",
                        s.name
                    ))
                })?
        }
        None => part
            .replicas
            .iter()
            .position(|r| {
                is_secondary(&r.role) && r.status.eq_ignore_ascii_case("Ready") && node_up(&r.node)
            })
            .ok_or_else(|| {
                CommandError(format!(
                    "no ready secondary replica of '{}' on an Up node to take over",
                    s.name
                ))
            })?,
    };
    let target_node = part.replicas[target].node.clone();
    let name = s.name.clone();
    if !inv.should_process(&name, &format!("Move primary replica to {target_node}")) {
        return Ok(vec![]);
    }
    let stamp = inv.stamp_mut()?;
    let svc = &mut stamp.rings[at.0].services[at.1];
    let reps = &mut svc.partitions[pi].replicas;
    reps[pri].role = "ActiveSecondary".into();
    reps[target].role = "Primary".into();
    let svc = &stamp.rings[at.0].services[at.1];
    Ok(replica_records(svc, &[&svc.partitions[pi]]))
}

/// Restart-AzsSupportServiceFabricPrimaryReplica -ServiceName [-Ring]: the single primary comes
/// back with a new replica id, Ready and healthy.
pub fn restart_primary(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let at = find_service(inv)?;
    let (_, s) = ring_service(inv.stamp(), at);
    let (pi, ri) = single_primary(s)?;
    let max_id = s
        .partitions
        .iter()
        .flat_map(|p| p.replicas.iter())
        .filter_map(|r| r.id.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    let new_id = max_id.saturating_add(1).to_string();
    let name = s.name.clone();
    if !inv.should_process(&name, "Restart primary replica") {
        return Ok(vec![]);
    }
    let stamp = inv.stamp_mut()?;
    let ring = &mut stamp.rings[at.0];
    let rep = &mut ring.services[at.1].partitions[pi].replicas[ri];
    rep.id = new_id;
    rep.status = "Ready".into();
    rep.health = "Ok".into();
    rep.health_detail.clear();
    // The partition and service are what their replicas make them now: a restarted primary
    // does not heal secondaries that are down.
    ring.reevaluate_service(at.1);
    let svc = &stamp.rings[at.0].services[at.1];
    Ok(replica_records(svc, &[&svc.partitions[pi]]))
}

/// Start-AzsSupportContainerHotpatch -HotpatchId -ServiceName -ImageTag [-Ring] [-ComputerName]:
/// replaces the service's container image tag; one record per patched machine.
pub fn start_hotpatch(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let at = find_service(inv)?;
    let (ring, s) = ring_service(inv.stamp(), at);
    let tag = inv.args.str("ImageTag").unwrap_or_default().to_string();
    let hotpatch = inv.args.str("HotpatchId").unwrap_or_default().to_string();
    if tag.is_empty() {
        return Err(CommandError("-ImageTag is required".into()));
    }
    if s.image_tag == tag {
        return Err(CommandError(format!(
            "service '{}' already runs image {}:{tag}; nothing to patch",
            s.name, s.image_name
        )));
    }
    let down: Vec<&str> = ring
        .nodes
        .iter()
        .filter(|n| !n.status.eq_ignore_ascii_case("Up"))
        .map(|n| n.name.as_str())
        .collect();
    if !down.is_empty() {
        return Err(CommandError(format!(
            "ring {} has nodes that are not Up ({}); repair them before patching",
            ring.name,
            down.join(", ")
        )));
    }
    let wanted = inv.args.strings("ComputerName");
    for w in &wanted {
        if !ring.nodes.iter().any(|n| n.name.eq_ignore_ascii_case(w)) {
            return Err(CommandError(format!(
                "'{w}' is not a machine of ring {} (machines: {})",
                ring.name,
                join_names(ring.nodes.iter().map(|n| n.name.as_str()))
            )));
        }
    }
    let mut machines: Vec<String> = ring
        .nodes
        .iter()
        .filter(|n| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(&n.name)))
        .map(|n| n.name.clone())
        .collect();
    machines.sort();
    let (image, previous, name) = (s.image_name.clone(), s.image_tag.clone(), s.name.clone());
    let action = format!("Apply hotpatch {hotpatch}: image {image}:{previous} -> {tag}");
    if !inv.should_process(&name, &action) {
        return Ok(vec![]);
    }
    let stamp = inv.stamp_mut()?;
    stamp.rings[at.0].services[at.1].image_tag = tag.clone();
    Ok(machines
        .into_iter()
        .map(|m| {
            Record::new("Azs.Support.HotpatchResult")
                .with("ComputerName", m)
                .with("ImageName", &image)
                .with("PreviousTag", &previous)
                .with("NewTag", &tag)
                .with("Result", "Succeeded")
                .into()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::fabric::tests::{cc_mut, fabric, ring_args, stuck_primary, CC};
    use super::super::testing::{default_stamp, prop, run_on, what_if};
    use crate::stamp::fabric_health::ring_health;

    use super::*;

    #[test]
    fn restart_primary_repairs_and_refuses() {
        let mut s = default_stamp();
        stuck_primary(&mut s);
        let old_id = cc_mut(&mut s).partitions[0]
            .replicas
            .iter()
            .find(|r| r.role == "Primary")
            .map(|r| r.id.clone())
            .expect("primary");
        let out = run_on(&mut s, restart_primary, &ring_args(CC), true).expect("restart");
        let primary = out
            .iter()
            .find(|v| prop(v, "ReplicaRole") == "Primary")
            .expect("primary row");
        assert_ne!(prop(primary, "ReplicaId"), old_id);
        assert_eq!(prop(primary, "HealthState"), "Ok");
        assert_eq!(prop(primary, "HealthDetail"), "");
        assert_eq!(ring_health(fabric(&s)).0, "Ok");

        // Several partitions, several primaries: refused.
        let mut s = default_stamp();
        let extra = cc_mut(&mut s).partitions[0].clone();
        cc_mut(&mut s).partitions.push(extra);
        let err = run_on(&mut s, restart_primary, &ring_args(CC), true).expect_err("two");
        assert!(err.0.contains("2 primary"), "{}", err.0);
        // No primary: refused.
        let mut s = default_stamp();
        for r in cc_mut(&mut s).partitions[0].replicas.iter_mut() {
            r.role = "None".into();
        }
        assert!(run_on(&mut s, restart_primary, &ring_args(CC), true).is_err());
    }

    #[test]
    fn whatif_changes_nothing() {
        let mut s = default_stamp();
        stuck_primary(&mut s);
        let before = s.clone();
        let args: Vec<(&str, Value)> = ring_args(CC);
        assert!(what_if(&mut s, restart_primary, &args).is_empty());
        assert_eq!(s, before);
    }

    #[test]
    fn move_primary_swaps_roles_and_refuses() {
        let mut s = default_stamp();
        let part = &fabric(&s).services[0].partitions[0];
        let old = part
            .replicas
            .iter()
            .find(|r| r.role == "Primary")
            .map(|r| r.node.clone())
            .expect("primary");
        let target = part
            .replicas
            .iter()
            .find(|r| r.role == "ActiveSecondary")
            .map(|r| r.node.clone())
            .expect("secondary");
        let svc = fabric(&s).services[0].name.clone();
        let mut args = ring_args(&svc);
        args.push(("NodeName", target.as_str().into()));
        let out = run_on(&mut s, move_primary, &args, true).expect("move");
        let p = out
            .iter()
            .find(|v| prop(v, "ReplicaRole") == "Primary")
            .expect("primary");
        assert_eq!(prop(p, "NodeName"), target);
        let mut args = ring_args(&svc);
        args.push(("NodeName", old.as_str().into()));
        let mut back = s.clone();
        run_on(&mut back, move_primary, &args, true).expect("move back");
        // Target down: refused.
        let mut s = default_stamp();
        if let Some(n) = s.rings[0].nodes.iter_mut().find(|n| n.name == target) {
            n.status = "Down".into();
        }
        let mut args = ring_args(&svc);
        args.push(("NodeName", target.as_str().into()));
        let err = run_on(&mut s, move_primary, &args, true).expect_err("down");
        assert!(err.0.contains("not Up"));
        // The node already holding the primary holds no secondary: refused.
        let mut s = default_stamp();
        let mut args = ring_args(&svc);
        args.push(("NodeName", old.as_str().into()));
        let err = run_on(&mut s, move_primary, &args, true).expect_err("no secondary");
        assert!(err.0.contains("no secondary"));
    }

    #[test]
    fn hotpatch_changes_tag_and_refuses() {
        let mut s = default_stamp();
        let mut args = ring_args(CC);
        args.push(("HotpatchId", "HP-1".into()));
        args.push(("ImageTag", "1.2408.1.51".into()));
        let out = run_on(&mut s, start_hotpatch, &args, true).expect("patch");
        assert_eq!(out.len(), 3);
        assert_eq!(prop(&out[0], "PreviousTag"), "1.2408.1.50");
        assert_eq!(cc_mut(&mut s).image_tag, "1.2408.1.51");
        // Same tag again: refused.
        let err = run_on(&mut s, start_hotpatch, &args, true).expect_err("same");
        assert!(err.0.contains("already"));
        // Unknown service, node down: refused.
        let mut bad = ring_args("fabric:/X/Y");
        bad.push(("ImageTag", "2".into()));
        assert!(run_on(&mut s, start_hotpatch, &bad, true).is_err());
        let mut s = default_stamp();
        s.rings[0].nodes[0].status = "Down".into();
        let err = run_on(&mut s, start_hotpatch, &args, true).expect_err("down");
        assert!(err.0.contains("AZS-XRP01"));
    }
}
