//! Failover-cluster reads: Get-AzsSupportInfrastructureHost and Get-AzsSupportClusterResource.

use super::{CommandError, Invocation};
use crate::stamp::Stamp;
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;

/// Get-AzsSupportInfrastructureHost [-ComputerName]: the scale-unit hosts as the cluster sees them,
/// sorted by name. Naming a host the stamp lacks is an error.
pub fn get_infrastructure_host(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let wanted = inv.args.strings("ComputerName");
    for name in &wanted {
        if inv.stamp.host(name).is_none() {
            return Err(CommandError(format!(
                "no infrastructure host named '{name}' in this stamp (hosts: {})",
                inv.stamp
                    .scenario
                    .hosts
                    .iter()
                    .map(|h| h.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let mut hosts: Vec<_> = inv
        .stamp
        .scenario
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
    let mut rows: Vec<_> = inv
        .stamp
        .resources
        .iter()
        .filter(|r| wildcard_match(name, &r.name))
        .filter(|r| state.is_none_or(|s| r.state.eq_ignore_ascii_case(s)))
        .collect();
    rows.sort_by(|a, b| a.state.cmp(&b.state).then_with(|| a.name.cmp(&b.name)));
    Ok(rows
        .into_iter()
        .map(|r| {
            Record::new("Azs.Support.ClusterResource")
                .with("Name", &r.name)
                .with("State", &r.state)
                .with("OwnerGroup", &r.group)
                .with("ResourceType", &r.resource_type)
                .with("OwnerNode", inv.stamp.group_owner(&r.group).unwrap_or(""))
                .into()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::BoundArgs;
    use crate::workdir::WorkingDirectory;
    use chrono::Utc;

    fn run(f: super::super::Implementation, args: &BoundArgs) -> Result<Vec<Value>, CommandError> {
        let stamp = Stamp::default_stamp().expect("stamp");
        let tmp = tempfile::tempdir().expect("tmp");
        let wd = WorkingDirectory::new(tmp.path(), Utc::now(), "t", 1000);
        let mut inv = Invocation {
            args,
            input: vec![],
            stamp: &stamp,
            workdir: &wd,
            now: Utc::now(),
        };
        f(&mut inv)
    }

    #[test]
    fn hosts_sorted_and_filtered() {
        let all = run(get_infrastructure_host, &BoundArgs::new()).expect("hosts");
        assert_eq!(all.len(), 4);
        let mut args = BoundArgs::new();
        args.insert("ComputerName", vec!["azs-host02"].into());
        let one = run(get_infrastructure_host, &args).expect("one");
        assert_eq!(one.len(), 1);
        args.insert("ComputerName", vec!["Node99"].into());
        let err = run(get_infrastructure_host, &args).expect_err("unknown host");
        assert!(err.0.contains("Node99"));
    }

    #[test]
    fn resources_filter_by_name_and_state() {
        let mut args = BoundArgs::new();
        args.insert("Name", "Cluster*".into());
        let rows = run(get_cluster_resource, &args).expect("rows");
        assert_eq!(rows.len(), 3);
        let owner = rows[0]
            .as_record()
            .and_then(|r| r.get("OwnerNode"))
            .cloned();
        assert_eq!(owner, Some(Value::from("AZS-HOST01")));
        args.insert("State", "Failed".into());
        assert!(run(get_cluster_resource, &args).expect("rows").is_empty());
    }
}
