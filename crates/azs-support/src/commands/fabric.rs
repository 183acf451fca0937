//! Service Fabric reads: per-ring cluster health, configuration, manifest, upgrade, nodes,
//! services, replicas, runtime versions, container images and manifests; and the ring and service
//! selection the repairs (`fabric_repair`) share.
//!
//! Every command defaults to all rings; `-Ring` filters, and an unknown ring is an error naming the
//! rings. The health states shown are derived (`fabric_health`).

use super::{join_names, CommandError, Invocation, Table};
use crate::stamp::fabric_health::{
    application_rank, node_rank, ring_health, service_rank, state_of,
};
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
];

// ---------------------------------------------------------------------------------------------
// Selection helpers

fn ring_names(stamp: &Stamp) -> String {
    join_names(stamp.rings.iter().map(|r| r.name.as_str()))
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
pub(super) fn find_service(inv: &Invocation<'_>) -> Result<(usize, usize), CommandError> {
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
            join_names(rings.iter().map(|r| r.name.as_str())),
            join_names(
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

pub(super) fn ring_service(stamp: &Stamp, at: (usize, usize)) -> (&Ring, &FabricService) {
    let ring = &stamp.rings[at.0];
    (ring, &ring.services[at.1])
}

pub(super) fn replica_records(service: &FabricService, partitions: &[&Partition]) -> Vec<Value> {
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
        .with("HealthState", state_of(service_rank(r, s)))
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

#[cfg(test)]
pub(crate) mod tests {
    use super::super::testing::{default_stamp, prop, run_on};
    use super::*;

    pub(crate) const CC: &str = "fabric:/AzureStack.Compute/ComputeController";

    pub(crate) fn fabric(s: &Stamp) -> &Ring {
        s.ring("FabricRing").expect("FabricRing")
    }

    pub(crate) fn cc_mut(s: &mut Stamp) -> &mut FabricService {
        s.rings
            .iter_mut()
            .find(|r| r.name == "FabricRing")
            .and_then(|r| r.services.iter_mut().find(|x| x.name == CC))
            .expect("compute controller")
    }

    pub(crate) fn stuck_primary(s: &mut Stamp) {
        let rep = cc_mut(s).partitions[0]
            .replicas
            .iter_mut()
            .find(|r| r.role == "Primary")
            .expect("primary");
        rep.health = "Error".into();
        rep.health_detail = "Reconfiguration stuck: the primary replica is not responding".into();
    }

    pub(crate) fn ring_args(svc: &str) -> Vec<(&'static str, Value)> {
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
}

#[cfg(test)]
mod health_tests {
    use super::super::testing::{default_stamp, prop, run_on};
    use super::tests::{fabric, ring_args, stuck_primary, CC};
    use super::{get_cluster_health, get_service};
    use crate::stamp::fabric_health::*;
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
