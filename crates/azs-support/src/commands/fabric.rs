//! Service Fabric commands: per-ring cluster health (derived), configuration, manifest, upgrade,
//! nodes, services, replicas, runtime versions, container images and manifests; and the repairs:
//! moving and restarting a service's primary replica, and container hotpatches.
//!
//! Every command defaults to all rings; `-Ring` filters, and an unknown ring is an error naming the
//! rings. Aggregated health is derived (see [`ring_health`]): the worst of an entity's own stored
//! health and everything below it.

use super::{CommandError, Invocation, Table};
use crate::stamp::{FabricService, Partition, Ring, Stamp};
use crate::value::{Record, Value};

/// The commands of this family.
#[rustfmt::skip]
pub const COMMANDS: Table = &[
    ("Get-AzsSupportServiceFabricClusterHealth", get_cluster_health),
    ("Get-AzsSupportServiceFabricClusterConfiguration", get_cluster_configuration),
    ("Get-AzsSupportServiceFabricClusterManifest", get_cluster_manifest),
    ("Get-AzsSupportServiceFabricClusterUpgrade", get_cluster_upgrade),
    ("Get-AzsSupportServiceFabricNode", get_node),
    ("Get-AzsSupportServiceFabricService", get_service),
    ("Get-AzsSupportServiceFabricReplica", get_replica),
    ("Get-AzsSupportServiceFabricRuntimeVersion", get_runtime_version),
    ("Get-AzsSupportServiceFabricServiceDockerImageName", get_image_name),
    ("Get-AzsSupportServiceFabricServiceDockerImageTag", get_image_tag),
    ("Get-AzsSupportServiceFabricServiceManifestNames", get_manifest_names),
    ("Move-AzsSupportServiceFabricPrimaryReplica", move_primary),
    ("Restart-AzsSupportServiceFabricPrimaryReplica", restart_primary),
    ("Start-AzsSupportContainerHotpatch", start_hotpatch),
];

// ---------------------------------------------------------------------------------------------
// Health

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

fn state_of(rank: u8) -> &'static str {
    match rank {
        2 => "Error",
        1 => "Warning",
        _ => "Ok",
    }
}

/// A fabric node's health: its stored health, and Error when it is Down.
fn node_rank(n: &crate::stamp::FabricNode) -> u8 {
    let down = n.status.eq_ignore_ascii_case("Down");
    rank(&n.health).max(if down { 2 } else { 0 })
}

fn partition_rank(p: &Partition) -> u8 {
    p.replicas
        .iter()
        .map(|r| rank(&r.health))
        .fold(rank(&p.health), u8::max)
}

fn service_rank(s: &FabricService) -> u8 {
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

fn application_rank(ring: &Ring, app: &crate::stamp::FabricApplication) -> u8 {
    ring.services
        .iter()
        .filter(|s| s.application.eq_ignore_ascii_case(&app.name))
        .map(service_rank)
        .fold(rank(&app.health), u8::max)
}

/// A ring's aggregated health and the unhealthy entities that explain it (one line each). The
/// known-issue checks call this too.
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

// ---------------------------------------------------------------------------------------------
// Selection helpers

/// Names joined with ", " (for error messages).
fn join<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

fn ring_names(stamp: &Stamp) -> String {
    join(stamp.rings.iter().map(|r| r.name.as_str()))
}

/// The rings named by `-Ring` (default: all), sorted by name; an unknown ring is an error.
fn select_rings<'a>(inv: &Invocation<'_>, stamp: &'a Stamp) -> Result<Vec<&'a Ring>, CommandError> {
    let wanted = inv.args.strings("Ring");
    for w in &wanted {
        if stamp.ring(w).is_none() {
            return Err(CommandError(format!(
                "no Service Fabric ring named '{w}' in this stamp (rings: {})",
                ring_names(stamp)
            )));
        }
    }
    let mut rings: Vec<&Ring> = stamp
        .rings
        .iter()
        .filter(|r| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(&r.name)))
        .collect();
    rings.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rings)
}

/// Whether `query` names service `name` (the `fabric:/` prefix is optional).
fn service_matches(query: &str, name: &str) -> bool {
    let bare = |s: &str| {
        let l = s.to_ascii_lowercase();
        l.strip_prefix("fabric:/").map(str::to_string).unwrap_or(l)
    };
    bare(query) == bare(name)
}

/// The one service named `-ServiceName` in the selected rings: (ring index, service index).
fn find_service(inv: &Invocation<'_>) -> Result<(usize, usize), CommandError> {
    let query = inv.args.str("ServiceName").unwrap_or_default().to_string();
    let stamp = inv.stamp();
    let rings = select_rings(inv, stamp)?;
    let mut hits = Vec::new();
    for r in &rings {
        let ri = stamp.rings.iter().position(|x| x.name == r.name);
        let ri = ri.unwrap_or_default();
        for (si, s) in r.services.iter().enumerate() {
            if service_matches(&query, &s.name) {
                hits.push((ri, si));
            }
        }
    }
    match hits.as_slice() {
        [one] => Ok(*one),
        [] => Err(CommandError(format!(
            "no Service Fabric service named '{query}' in ring(s) {} (services: {})",
            join(rings.iter().map(|r| r.name.as_str())),
            join(
                rings
                    .iter()
                    .flat_map(|r| r.services.iter().map(|s| s.name.as_str()))
            )
        ))),
        _ => Err(CommandError(format!(
            "service '{query}' exists in several rings; name one with -Ring"
        ))),
    }
}

fn ring_service(stamp: &Stamp, at: (usize, usize)) -> (&Ring, &FabricService) {
    let ring = &stamp.rings[at.0];
    (ring, &ring.services[at.1])
}

fn replica_records(service: &FabricService, partitions: &[&Partition]) -> Vec<Value> {
    let mut rows: Vec<(&Partition, &crate::stamp::Replica)> = partitions
        .iter()
        .flat_map(|p| p.replicas.iter().map(move |r| (*p, r)))
        .collect();
    rows.sort_by(|a, b| a.0.id.cmp(&b.0.id).then_with(|| a.1.role.cmp(&b.1.role)));
    rows.into_iter()
        .map(|(p, r)| {
            Record::new("Azs.Support.ServiceFabricReplica")
                .with("ServiceName", &service.name)
                .with("PartitionId", &p.id)
                .with("ReplicaId", &r.id)
                .with("ReplicaRole", &r.role)
                .with("ReplicaStatus", &r.status)
                .with("HealthState", &r.health)
                .with("NodeName", &r.node)
                .with("HealthDetail", &r.health_detail)
                .into()
        })
        .collect()
}

fn opt_time(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    t.map(Value::from).unwrap_or(Value::Null)
}

fn config_json(ring: &Ring) -> serde_json::Value {
    serde_json::from_str(&ring.configuration).unwrap_or(serde_json::Value::Null)
}

fn config_version(ring: &Ring) -> String {
    config_json(ring)["clusterConfigurationVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Reads

/// Get-AzsSupportServiceFabricClusterHealth [-Ring]: derived health per ring with its evidence.
pub fn get_cluster_health(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    Ok(select_rings(inv, stamp)?
        .into_iter()
        .map(|r| {
            let (health, evidence) = ring_health(r);
            let nodes = r.nodes.iter().filter(|n| node_rank(n) > 0).count() as u64;
            let apps = r
                .applications
                .iter()
                .filter(|a| application_rank(r, a) > 0)
                .count() as u64;
            Record::new("Azs.Support.ServiceFabricClusterHealth")
                .with("Ring", &r.name)
                .with("AggregatedHealthState", health)
                .with("UnhealthyNodes", nodes)
                .with("UnhealthyApplications", apps)
                .with("UnhealthyEvaluations", evidence.join("; "))
                .into()
        })
        .collect())
}

/// Get-AzsSupportServiceFabricClusterConfiguration [-Ring]: one record per ring.
pub fn get_cluster_configuration(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    Ok(select_rings(inv, stamp)?
        .into_iter()
        .map(|r| {
            let cfg = config_json(r);
            let mut types: Vec<String> = cfg["nodes"]
                .as_array()
                .map(|ns| {
                    ns.iter()
                        .filter_map(|n| n["nodeTypeRef"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            types.sort();
            types.dedup();
            let settings: Vec<String> = cfg["properties"]["fabricSettings"]
                .as_array()
                .map(|secs| {
                    secs.iter()
                        .flat_map(|sec| {
                            let name = sec["name"].as_str().unwrap_or_default().to_string();
                            sec["parameters"]
                                .as_array()
                                .cloned()
                                .unwrap_or_default()
                                .into_iter()
                                .map(move |p| {
                                    format!(
                                        "{name}/{}={}",
                                        p["name"].as_str().unwrap_or_default(),
                                        p["value"].as_str().unwrap_or_default()
                                    )
                                })
                        })
                        .collect()
                })
                .unwrap_or_default();
            Record::new("Azs.Support.ServiceFabricClusterConfiguration")
                .with("Ring", &r.name)
                .with("ConfigVersion", config_version(r))
                .with("NodeTypes", types.join(", "))
                .with("FabricSettings", settings.join("; "))
                .into()
        })
        .collect())
}

/// Get-AzsSupportServiceFabricClusterManifest [-Ring]: the manifest XML of each ring.
pub fn get_cluster_manifest(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    Ok(select_rings(inv, stamp)?
        .into_iter()
        .map(|r| Value::String(r.manifest.trim().to_string()))
        .collect())
}

/// Get-AzsSupportServiceFabricClusterUpgrade [-Ring]: the upgrade state of each ring.
pub fn get_cluster_upgrade(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    Ok(select_rings(inv, stamp)?
        .into_iter()
        .map(|r| {
            let u = &r.upgrade;
            Record::new("Azs.Support.ServiceFabricClusterUpgrade")
                .with("Ring", &r.name)
                .with("UpgradeState", &u.state)
                .with("TargetCodeVersion", &u.target_version)
                .with("TargetConfigVersion", config_version(r))
                .with("CurrentUpgradeDomain", &u.current_domain)
                .with("CompletedUpgradeDomains", u.completed_domains.join(", "))
                .with("StartTimestampUtc", opt_time(u.start_time))
                .with("FailureReason", &u.failure_reason)
                .into()
        })
        .collect())
}

/// Get-AzsSupportServiceFabricNode [-Ring] [-NodeName]: fabric nodes by ring, then name.
pub fn get_node(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let rings = select_rings(inv, stamp)?;
    let wanted = inv.args.str("NodeName");
    let mut out = Vec::new();
    for r in &rings {
        let mut nodes: Vec<_> = r
            .nodes
            .iter()
            .filter(|n| wanted.is_none_or(|w| w.eq_ignore_ascii_case(&n.name)))
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(nodes.into_iter().map(|n| {
            Record::new("Azs.Support.ServiceFabricNode")
                .with("Ring", &r.name)
                .with("NodeName", &n.name)
                .with("NodeStatus", &n.status)
                .with("HealthState", state_of(node_rank(n)))
                .with("UpgradeDomain", &n.upgrade_domain)
                .with("FaultDomain", &n.fault_domain)
                .with("IsSeedNode", n.is_seed)
                .into()
        }));
    }
    if let (Some(w), true) = (wanted, out.is_empty()) {
        let names: Vec<_> = rings
            .iter()
            .flat_map(|r| r.nodes.iter().map(|n| n.name.as_str()))
            .collect();
        return Err(CommandError(format!(
            "no fabric node named '{w}' (nodes: {})",
            names.join(", ")
        )));
    }
    Ok(out)
}

/// Get-AzsSupportServiceFabricService [-Ring] [-ServiceName]: services by ring, then name.
pub fn get_service(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    if inv.args.has("ServiceName") {
        let at = find_service(inv)?;
        let (r, s) = ring_service(inv.stamp(), at);
        return Ok(vec![service_record(r, s)]);
    }
    let stamp = inv.stamp();
    let mut out = Vec::new();
    for r in select_rings(inv, stamp)? {
        let mut services: Vec<_> = r.services.iter().collect();
        services.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(services.into_iter().map(|s| service_record(r, s)));
    }
    Ok(out)
}

fn short_name(s: &FabricService) -> &str {
    s.name.rsplit('/').next().unwrap_or(&s.name)
}

fn service_record(r: &Ring, s: &FabricService) -> Value {
    Record::new("Azs.Support.ServiceFabricService")
        .with("Ring", &r.name)
        .with("ServiceName", &s.name)
        .with("ServiceTypeName", format!("{}Type", short_name(s)))
        .with(
            "ServiceKind",
            if s.stateful { "Stateful" } else { "Stateless" },
        )
        .with("ServiceStatus", &s.status)
        .with("HealthState", state_of(service_rank(s)))
        .into()
}

/// Get-AzsSupportServiceFabricReplica -ServiceName [-Ring]: the service's replicas.
pub fn get_replica(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let at = find_service(inv)?;
    let (_, s) = ring_service(inv.stamp(), at);
    let parts: Vec<&Partition> = s.partitions.iter().collect();
    Ok(replica_records(s, &parts))
}

/// Get-AzsSupportServiceFabricRuntimeVersion [-Ring]: the runtime version on every fabric node.
pub fn get_runtime_version(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let mut out = Vec::new();
    for r in select_rings(inv, stamp)? {
        let mut nodes: Vec<_> = r.nodes.iter().collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(nodes.into_iter().map(|n| {
            Record::new("Azs.Support.ServiceFabricRuntimeVersion")
                .with("Ring", &r.name)
                .with("NodeName", &n.name)
                .with("RuntimeVersion", &n.version)
                .into()
        }));
    }
    Ok(out)
}

fn image_record(s: &FabricService, prop: &str, value: &str) -> Value {
    Record::new("Azs.Support.ServiceFabricServiceImage")
        .with("ServiceName", &s.name)
        .with("CodePackage", format!("{}.Code", short_name(s)))
        .with(prop, value)
        .into()
}

/// Get-AzsSupportServiceFabricServiceDockerImageName -ServiceName [-Ring].
pub fn get_image_name(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let at = find_service(inv)?;
    let (_, s) = ring_service(inv.stamp(), at);
    Ok(vec![image_record(s, "ImageName", &s.image_name)])
}

/// Get-AzsSupportServiceFabricServiceDockerImageTag -ServiceName [-Ring].
pub fn get_image_tag(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let at = find_service(inv)?;
    let (_, s) = ring_service(inv.stamp(), at);
    Ok(vec![image_record(s, "ImageTag", &s.image_tag)])
}

/// Get-AzsSupportServiceFabricServiceManifestNames -ServiceName [-Ring]: the service manifests of
/// the service's application, by manifest name.
pub fn get_manifest_names(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let at = find_service(inv)?;
    let (r, s) = ring_service(inv.stamp(), at);
    let version = r
        .applications
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(&s.application))
        .map(|a| a.version.clone())
        .unwrap_or_default();
    let mut rows: Vec<_> = r
        .services
        .iter()
        .filter(|x| x.application.eq_ignore_ascii_case(&s.application))
        .collect();
    rows.sort_by(|a, b| a.manifest_name.cmp(&b.manifest_name));
    Ok(rows
        .into_iter()
        .map(|x| {
            Record::new("Azs.Support.ServiceFabricServiceManifest")
                .with("ServiceName", &x.name)
                .with("ManifestName", &x.manifest_name)
                .with("ManifestVersion", &version)
                .into()
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Repairs

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
    let svc = &mut stamp.rings[at.0].services[at.1];
    svc.health = "Ok".into();
    let part = &mut svc.partitions[pi];
    part.health = "Ok".into();
    let rep = &mut part.replicas[ri];
    rep.id = new_id;
    rep.status = "Ready".into();
    rep.health = "Ok".into();
    rep.health_detail.clear();
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
                join(ring.nodes.iter().map(|n| n.name.as_str()))
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
    use super::super::testing::{default_stamp, run_on};
    use super::super::{Mode, StampAccess};
    use super::*;
    use crate::args::BoundArgs;
    use crate::workdir::WorkingDirectory;

    const CC: &str = "fabric:/AzureStack.Compute/ComputeController";

    use super::super::testing::prop;

    fn fabric(s: &Stamp) -> &Ring {
        s.ring("FabricRing").expect("FabricRing")
    }

    fn cc_mut(s: &mut Stamp) -> &mut FabricService {
        s.rings
            .iter_mut()
            .find(|r| r.name == "FabricRing")
            .and_then(|r| r.services.iter_mut().find(|x| x.name == CC))
            .expect("compute controller")
    }

    fn stuck_primary(s: &mut Stamp) {
        let rep = cc_mut(s).partitions[0]
            .replicas
            .iter_mut()
            .find(|r| r.role == "Primary")
            .expect("primary");
        rep.health = "Error".into();
        rep.health_detail = "Reconfiguration stuck: the primary replica is not responding".into();
    }

    fn ring_args(svc: &str) -> Vec<(&'static str, Value)> {
        vec![
            ("Ring", vec!["FabricRing"].into()),
            ("ServiceName", svc.into()),
        ]
    }

    #[test]
    fn healthy_default_and_ring_filter() {
        let mut s = default_stamp();
        for r in &s.rings {
            assert_eq!(ring_health(r), ("Ok".to_string(), vec![]));
        }
        let all = run_on(&mut s, get_cluster_health, &[], false).expect("health");
        assert_eq!(all.len(), s.rings.len());
        assert_eq!(prop(&all[0], "Ring"), "FabricRing");
        assert_eq!(prop(&all[1], "Ring"), "SeedRing");
        let one = run_on(
            &mut s,
            get_cluster_health,
            &[("Ring", vec!["seedring"].into())],
            false,
        )
        .expect("one");
        assert_eq!(one.len(), 1);
        let err = run_on(&mut s, get_node, &[("Ring", vec!["ACS"].into())], false)
            .expect_err("unknown ring");
        assert!(
            err.0.contains("FabricRing") && err.0.contains("SeedRing"),
            "{}",
            err.0
        );
    }

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
    fn reads_sorted_and_filtered() {
        let mut s = default_stamp();
        let nodes = run_on(&mut s, get_node, &[], false).expect("nodes");
        assert_eq!(nodes.len(), 6);
        assert_eq!(prop(&nodes[0], "NodeName"), "AZS-XRP01");
        assert_eq!(prop(&nodes[3], "Ring"), "SeedRing");
        let one =
            run_on(&mut s, get_node, &[("NodeName", "azs-xrp02".into())], false).expect("one");
        assert_eq!(one.len(), 1);
        assert!(run_on(&mut s, get_node, &[("NodeName", "X".into())], false).is_err());
        let svcs = run_on(&mut s, get_service, &[], false).expect("services");
        let names: Vec<_> = svcs
            .iter()
            .filter(|v| prop(v, "Ring") == "FabricRing")
            .map(|v| prop(v, "ServiceName"))
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(prop(svcs.last().expect("rows"), "Ring"), "SeedRing");
        let reps = run_on(&mut s, get_replica, &ring_args(CC), false).expect("replicas");
        assert_eq!(reps.len(), 3);
        assert_eq!(prop(&reps[0], "ReplicaRole"), "ActiveSecondary");
        assert_eq!(prop(&reps[2], "ReplicaRole"), "Primary");
        let err = run_on(&mut s, get_replica, &ring_args("fabric:/Nope/Svc"), false)
            .expect_err("unknown service");
        assert!(err.0.contains("ComputeController"));
        // Prefix optional.
        let tag = run_on(
            &mut s,
            get_image_tag,
            &[("ServiceName", "AzureStack.Compute/ComputeController".into())],
            false,
        )
        .expect("tag");
        assert_eq!(prop(&tag[0], "ImageTag"), "1.2408.1.50");
        let man = run_on(&mut s, get_manifest_names, &ring_args(CC), false).expect("man");
        assert_eq!(man.len(), 2);
        assert_eq!(prop(&man[0], "ManifestName"), "ComputeControllerPkg");
        let rv = run_on(&mut s, get_runtime_version, &[], false).expect("rv");
        assert_eq!(rv.len(), 6);
        let cfg = run_on(&mut s, get_cluster_configuration, &[], false).expect("cfg");
        assert_eq!(prop(&cfg[0], "ConfigVersion"), "1.0.0");
        assert_eq!(prop(&cfg[0], "NodeTypes"), "InfraVM");
        assert!(prop(&cfg[0], "FabricSettings").contains("FabricDataRoot"));
        let m = run_on(&mut s, get_cluster_manifest, &[], false).expect("manifest");
        assert!(m[0].to_display().starts_with("<ClusterManifest"));
        let up = run_on(&mut s, get_cluster_upgrade, &[], false).expect("upgrade");
        assert_eq!(prop(&up[0], "UpgradeState"), "RollingForwardCompleted");
    }

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
        let tmp = tempfile::tempdir().expect("tmp");
        let wd = WorkingDirectory::new(tmp.path(), chrono::Utc::now(), "t", 1 << 20);
        let mut args = BoundArgs::new();
        for (k, v) in ring_args(CC) {
            args.insert(k, v);
        }
        let mut inv = Invocation::new(
            &args,
            Vec::new(),
            StampAccess::Write(&mut s),
            &wd,
            chrono::Utc::now(),
            Mode::WhatIf,
        );
        let out = restart_primary(&mut inv).expect("whatif");
        assert!(out.is_empty());
        assert_eq!(inv.effects().len(), 1);
        assert!(!inv.changed());
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
