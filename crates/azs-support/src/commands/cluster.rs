//! Failover-cluster commands: hosts as the cluster sees them, cluster resources (and, with the
//! fabric catalog, shared volumes, the cluster log and the moves).

use super::{CommandError, Invocation, Table};
use crate::stamp::Stamp;
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Get-AzsSupportInfrastructureHost", get_infrastructure_host),
    ("Get-AzsSupportClusterResource", get_cluster_resource),
];

/// Fails for a host name the stamp lacks, naming the hosts it has.
pub(crate) fn require_hosts(stamp: &Stamp, names: &[String]) -> Result<(), CommandError> {
    for name in names {
        if stamp.host(name).is_none() {
            return Err(CommandError(format!(
                "no infrastructure host named '{name}' in this stamp (hosts: {})",
                stamp
                    .hosts
                    .iter()
                    .map(|h| h.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(())
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
                .with("State", &h.state)
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
        .filter(|r| state.is_none_or(|s| r.state.eq_ignore_ascii_case(s)))
        .collect();
    rows.sort_by(|a, b| a.state.cmp(&b.state).then_with(|| a.name.cmp(&b.name)));
    Ok(rows
        .into_iter()
        .map(|r| {
            let owner = stamp.group_owner(&r.group).unwrap_or_default();
            Record::new("Azs.Support.ClusterResource")
                .with("Name", r.name)
                .with("State", r.state)
                .with("OwnerGroup", r.group)
                .with("ResourceType", r.resource_type)
                .with("OwnerNode", owner)
                .into()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{default_stamp, run_on};
    use super::*;

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
