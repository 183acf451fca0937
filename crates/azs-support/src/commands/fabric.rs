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
pub const COMMANDS: Table = &[
    (
        "Get-AzsSupportServiceFabricClusterHealth",
        get_cluster_health,
    ),
    (
        "Get-AzsSupportServiceFabricClusterConfiguration",
        get_cluster_configuration,
    ),
    (
        "Get-AzsSupportServiceFabricClusterManifest",
        get_cluster_manifest,
    ),
    (
        "Get-AzsSupportServiceFabricClusterUpgrade",
        get_cluster_upgrade,
    ),
    ("Get-AzsSupportServiceFabricNode", get_node),
    ("Get-AzsSupportServiceFabricService", get_service),
    ("Get-AzsSupportServiceFabricReplica", get_replica),
    (
        "Get-AzsSupportServiceFabricRuntimeVersion",
        get_runtime_version,
    ),
    (
        "Get-AzsSupportServiceFabricServiceDockerImageName",
        get_image_name,
    ),
    (
        "Get-AzsSupportServiceFabricServiceDockerImageTag",
        get_image_tag,
    ),
    (
        "Get-AzsSupportServiceFabricServiceManifestNames",
        get_manifest_names,
    ),
    ("Move-AzsSupportServiceFabricPrimaryReplica", move_primary),
    (
        "Restart-AzsSupportServiceFabricPrimaryReplica",
        restart_primary,
    ),
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

fn ring_names(stamp: &Stamp) -> String {
    stamp
        .rings
        .iter()
        .map(|r| r.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
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
        let ri = stamp
            .rings
            .iter()
            .position(|x| x.name == r.name)
            .unwrap_or_default();
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
            rings
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            rings
                .iter()
                .flat_map(|r| r.services.iter().map(|s| s.name.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        _ => Err(CommandError(format!(
            "service '{query}' exists in several rings; name one with -Ring"
        ))),
    }
}

fn ring_service<'a>(stamp: &'a Stamp, at: (usize, usize)) -> (&'a Ring, &'a FabricService) {
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
                ring.nodes
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
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
