//! Failover-cluster reads: hosts as the cluster sees them, cluster resources and cluster shared
//! volumes, and the lookups of hosts and VMs the cluster commands share. The family's table also
//! lists the cluster log (`cluster_log`) and the cluster repairs (`cluster_repair`).

use super::{cluster_log, cluster_repair, join_names, CommandError, Invocation, Table};

pub(crate) use super::cluster_log::generate_cluster_logs;
use crate::stamp::{Node, SharedVolume, Stamp};
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Get-AzsSupportInfrastructureHost", get_infrastructure_host),
    ("Get-AzsSupportClusterResource", get_cluster_resource),
    ("Get-AzsSupportClusterLog", cluster_log::get_cluster_log),
    (
        "Get-AzsSupportClusterSharedVolume",
        get_cluster_shared_volume,
    ),
    (
        "Move-AzsSupportClusterGroup",
        cluster_repair::move_cluster_group,
    ),
    (
        "Move-AzsSupportClusterSharedVolume",
        cluster_repair::move_cluster_shared_volume,
    ),
    (
        "Move-AzsSupportVirtualMachine",
        cluster_repair::move_virtual_machine,
    ),
];

/// The host with this name, or an error naming the hosts the stamp has.
pub(crate) fn require_host<'s>(stamp: &'s Stamp, name: &str) -> Result<&'s Node, CommandError> {
    stamp.host(name).ok_or_else(|| {
        CommandError(format!(
            "no infrastructure host named '{name}' in this stamp (hosts: {})",
            join_names(stamp.hosts.iter().map(|h| h.name.as_str()))
        ))
    })
}

/// The infrastructure VM with this name, or an error naming the VMs the stamp has.
pub(crate) fn require_vm<'s>(stamp: &'s Stamp, name: &str) -> Result<&'s Node, CommandError> {
    stamp.vm(name).ok_or_else(|| {
        CommandError(format!(
            "no infrastructure VM named '{name}' (VMs: {})",
            join_names(stamp.vms.iter().map(|v| v.name.as_str()))
        ))
    })
}

/// Fails for a host name the stamp lacks, naming the hosts it has.
pub(crate) fn require_hosts(stamp: &Stamp, names: &[String]) -> Result<(), CommandError> {
    names
        .iter()
        .try_for_each(|n| require_host(stamp, n).map(|_| ()))
}

/// Get-AzsSupportInfrastructureHost [-ComputerName]: the scale-unit hosts as the cluster sees them,
/// sorted by name. Naming a host the stamp lacks is an error.
pub fn get_infrastructure_host(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let wanted = inv.args.strings("ComputerName");
    let stamp = inv.stamp();
    require_hosts(stamp, &wanted)?;
    let mut hosts: Vec<_> = stamp
        .hosts
        .iter()
        .filter(|h| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(&h.name)))
        .collect();
    hosts.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(hosts
        .into_iter()
        .map(|h| {
            Record::new("Azs.Support.InfrastructureHost")
                .with("Name", &h.name)
                .with("State", h.state.as_str())
                .with("DrainStatus", &h.drain_status)
                .with("Model", &h.model)
                .with("SerialNumber", &h.serial_number)
                .with("Uptime", Stamp::uptime(h.boot_time, inv.now))
                .into()
        })
        .collect())
}

/// Get-AzsSupportClusterResource [-Name] [-State]: cluster resources sorted by state (then name),
/// each with its owner group and owner node.
pub fn get_cluster_resource(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let name = inv.args.str("Name").unwrap_or("*");
    let state = inv.args.str("State");
    let stamp = inv.stamp();
    let mut rows: Vec<_> = stamp
        .cluster_resources()
        .into_iter()
        .filter(|r| wildcard_match(name, &r.name))
        .filter(|r| state.is_none_or(|s| r.state.as_str().eq_ignore_ascii_case(s)))
        .collect();
    rows.sort_by(|a, b| {
        a.state
            .as_str()
            .cmp(b.state.as_str())
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(rows
        .into_iter()
        .map(|r| {
            let owner = stamp.group_owner(&r.group).unwrap_or_default();
            Record::new("Azs.Support.ClusterResource")
                .with("Name", r.name)
                .with("State", r.state.as_str())
                .with("OwnerGroup", r.group)
                .with("ResourceType", r.resource_type)
                .with("OwnerNode", owner)
                .into()
        })
        .collect())
}

pub(crate) fn csv_record(c: &SharedVolume) -> Value {
    Record::new("Azs.Support.ClusterSharedVolume")
        .with("Name", &c.name)
        .with("State", c.state.as_str())
        .with("OwnerNode", &c.owner)
        .with("Path", &c.path)
        .with("SizeGB", c.size_gb)
        .with("FreeSpaceGB", c.free_gb)
        .into()
}

/// Get-AzsSupportClusterSharedVolume [-Name]: the CSVs sorted by state, then name.
pub fn get_cluster_shared_volume(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let name = inv.args.str("Name").unwrap_or("*");
    let mut rows: Vec<_> = inv
        .stamp()
        .cluster
        .csvs
        .iter()
        .filter(|c| wildcard_match(name, &c.name) || wildcard_match(name, &c.virtual_disk))
        .collect();
    rows.sort_by(|a, b| {
        a.state
            .as_str()
            .cmp(b.state.as_str())
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(rows.into_iter().map(csv_record).collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::testing::{default_stamp, prop, run_on};
    use super::*;
    use crate::stamp::CsvState;

    #[test]
    fn csvs_sorted_by_state() {
        let mut s = default_stamp();
        s.cluster.csvs[2].state = CsvState::Offline;
        let rows = run_on(&mut s, get_cluster_shared_volume, &[], false).expect("csv");
        assert_eq!(rows.len(), 6);
        assert_eq!(prop(&rows[0], "State"), "Offline");
        let one = run_on(
            &mut s,
            get_cluster_shared_volume,
            &[("Name", "*ObjStore*".into())],
            false,
        )
        .expect("csv");
        assert_eq!(one.len(), 2);
    }

    #[test]
    fn hosts_sorted_and_filtered() {
        let mut s = default_stamp();
        let all = run_on(&mut s, get_infrastructure_host, &[], false).expect("hosts");
        assert_eq!(all.len(), 4);
        let one = run_on(
            &mut s,
            get_infrastructure_host,
            &[("ComputerName", vec!["azs-host02"].into())],
            false,
        )
        .expect("one");
        assert_eq!(one.len(), 1);
        let err = run_on(
            &mut s,
            get_infrastructure_host,
            &[("ComputerName", vec!["Node99"].into())],
            false,
        )
        .expect_err("unknown host");
        assert!(err.0.contains("Node99"));
    }

    #[test]
    fn resources_filter_by_name_and_state() {
        let mut s = default_stamp();
        let rows = run_on(
            &mut s,
            get_cluster_resource,
            &[("Name", "Cluster*".into())],
            false,
        )
        .expect("rows");
        assert_eq!(rows.len(), 3);
        let owner = rows[0]
            .as_record()
            .and_then(|r| r.get("OwnerNode"))
            .cloned();
        assert_eq!(owner, Some(Value::from("AZS-HOST01")));
        let failed = run_on(
            &mut s,
            get_cluster_resource,
            &[("Name", "Cluster*".into()), ("State", "Failed".into())],
            false,
        )
        .expect("rows");
        assert!(failed.is_empty());
    }
}
