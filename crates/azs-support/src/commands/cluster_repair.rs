//! Cluster repairs: moves of cluster groups (`Move-AzsSupportClusterGroup`), cluster shared
//! volumes (`Move-AzsSupportClusterSharedVolume`) and infrastructure VMs
//! (`Move-AzsSupportVirtualMachine`) to another host, each refusing what the real cluster would
//! refuse and changing nothing under -WhatIf.

use super::cluster::{csv_record, require_host, require_vm};
use super::{join_names, CommandError, Invocation};
use crate::stamp::{CsvState, GroupState, NodeState, Stamp};
use crate::value::{Record, Value};

/// Checks a move's destination: a host, Up, not the current owner. `None` picks the Up host
/// (other than the owner) carrying the fewest VMs.
pub(crate) fn move_target(
    stamp: &Stamp,
    what: &str,
    owner: &str,
    node: Option<&str>,
) -> Result<String, CommandError> {
    match node {
        Some(n) => {
            let host = require_host(stamp, n)?;
            if host.state != NodeState::Up {
                return Err(CommandError(format!(
                    "cannot move {what} to '{}': the node is {}, not Up",
                    host.name, host.state
                )));
            }
            if host.name.eq_ignore_ascii_case(owner) {
                return Err(CommandError(format!(
                    "{what} is already owned by '{}'",
                    host.name
                )));
            }
            Ok(host.name.clone())
        }
        None => stamp
            .hosts
            .iter()
            .filter(|h| h.state == NodeState::Up && !h.name.eq_ignore_ascii_case(owner))
            .min_by_key(|h| {
                (
                    stamp.vms.iter().filter(|v| v.host == h.name).count(),
                    h.name.clone(),
                )
            })
            .map(|h| h.name.clone())
            .ok_or_else(|| {
                CommandError(format!("cannot move {what}: no other cluster node is Up"))
            }),
    }
}

/// Move-AzsSupportClusterGroup -Name [-Node]: moves a group (a VM's group moves the VM); the
/// group and its resources come Online on the new owner.
pub fn move_cluster_group(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let name = inv
        .args
        .str("Name")
        .ok_or_else(|| CommandError("-Name is required".into()))?
        .to_string();
    let stamp = inv.stamp();
    let groups = stamp.cluster_groups();
    let group = groups
        .iter()
        .find(|g| g.name.eq_ignore_ascii_case(&name))
        .ok_or_else(|| {
            CommandError(format!(
                "no cluster group named '{name}' (groups: {})",
                join_names(groups.iter().map(|g| g.name.as_str()))
            ))
        })?;
    let target = move_target(
        stamp,
        &format!("cluster group '{}'", group.name),
        &group.owner,
        inv.args.str("Node"),
    )?;
    if !group.preferred_owners.is_empty()
        && !group
            .preferred_owners
            .iter()
            .any(|p| p.eq_ignore_ascii_case(&target))
    {
        return Err(CommandError(format!(
            "cannot move cluster group '{}' to '{target}': it is not one of its possible owners ({})",
            group.name,
            group.preferred_owners.join(", ")
        )));
    }
    let gname = group.name.clone();
    if !inv.should_process(&gname, &format!("Move cluster group to node {target}")) {
        return Ok(vec![]);
    }
    let s = inv.stamp_mut()?;
    if let Some(vm) = s.vms.iter_mut().find(|v| v.name == gname) {
        vm.host = target.clone();
    } else {
        if let Some(g) = s.cluster.groups.iter_mut().find(|g| g.name == gname) {
            g.owner = target.clone();
            g.state = GroupState::Online;
        }
        for r in s.cluster.resources.iter_mut().filter(|r| r.group == gname) {
            r.state = GroupState::Online;
        }
    }
    let g = s
        .cluster_groups()
        .into_iter()
        .find(|g| g.name == gname)
        .ok_or_else(|| CommandError(format!("cluster group '{gname}' vanished")))?;
    Ok(vec![Record::new("Azs.Support.ClusterGroup")
        .with("Name", g.name)
        .with("State", g.state.as_str())
        .with("OwnerNode", g.owner)
        .into()])
}

/// Move-AzsSupportClusterSharedVolume -Name [-Node]: the volume comes Online on its new owner.
pub fn move_cluster_shared_volume(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let name = inv
        .args
        .str("Name")
        .ok_or_else(|| CommandError("-Name is required".into()))?
        .to_string();
    let stamp = inv.stamp();
    let csv = stamp
        .cluster
        .csvs
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(&name))
        .ok_or_else(|| {
            CommandError(format!(
                "no cluster shared volume named '{name}' (volumes: {})",
                join_names(stamp.cluster.csvs.iter().map(|c| c.name.as_str()))
            ))
        })?;
    let target = move_target(
        stamp,
        &format!("cluster shared volume '{}'", csv.name),
        &csv.owner,
        inv.args.str("Node"),
    )?;
    let cname = csv.name.clone();
    if !inv.should_process(
        &cname,
        &format!("Move cluster shared volume to node {target}"),
    ) {
        return Ok(vec![]);
    }
    let s = inv.stamp_mut()?;
    let c = s
        .cluster
        .csvs
        .iter_mut()
        .find(|c| c.name == cname)
        .ok_or_else(|| CommandError(format!("cluster shared volume '{cname}' vanished")))?;
    c.owner = target;
    c.state = CsvState::Online;
    Ok(vec![csv_record(c)])
}

/// Move-AzsSupportVirtualMachine -Name [-Node]: live-migrates an infrastructure VM; its cluster
/// group follows (it is derived from the VM's host).
pub fn move_virtual_machine(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let name = inv
        .args
        .str("Name")
        .ok_or_else(|| CommandError("-Name is required".into()))?
        .to_string();
    let stamp = inv.stamp();
    let vm = require_vm(stamp, &name)?;
    if vm.state != NodeState::Running {
        return Err(CommandError(format!(
            "virtual machine '{}' is {}: live migration moves a running VM; nothing was changed (start it with Restart-AzsSupportComputerByRole -Role {})",
            vm.name, vm.state, vm.role
        )));
    }
    let target = move_target(
        stamp,
        &format!("virtual machine '{}'", vm.name),
        &vm.host,
        inv.args.str("Node"),
    )?;
    let vname = vm.name.clone();
    if !inv.should_process(
        &vname,
        &format!("Live-migrate virtual machine to host {target}"),
    ) {
        return Ok(vec![]);
    }
    let s = inv.stamp_mut()?;
    let vm = s
        .vms
        .iter_mut()
        .find(|v| v.name == vname)
        .ok_or_else(|| CommandError(format!("virtual machine '{vname}' vanished")))?;
    vm.host = target;
    Ok(vec![Record::new("Azs.Support.VirtualMachine")
        .with("Name", &vm.name)
        .with("State", vm.state.as_str())
        .with("Host", &vm.host)
        .into()])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::testing::{default_stamp, prop, run_mode, run_on};
    use super::super::Mode;
    use super::*;
    use crate::commands::cluster::get_cluster_resource;

    #[test]
    fn move_csv_brings_it_online_and_refuses_bad_targets() {
        let mut s = default_stamp();
        let name = "Cluster Virtual Disk (Infrastructure_2)";
        s.cluster.csvs[1].state = CsvState::Offline;
        s.cluster.csvs[1].owner = "AZS-HOST03".into();
        for (node, why) in [
            ("AZS-HOST03", "already"),
            ("AZS-ERCS01", "no infrastructure host"),
        ] {
            let err = run_on(
                &mut s,
                move_cluster_shared_volume,
                &[("Name", name.into()), ("Node", node.into())],
                true,
            )
            .expect_err("refused");
            assert!(err.0.contains(why), "{}", err.0);
        }
        s.hosts[3].state = NodeState::Paused;
        let err = run_on(
            &mut s,
            move_cluster_shared_volume,
            &[("Name", name.into()), ("Node", "AZS-HOST04".into())],
            true,
        )
        .expect_err("paused");
        assert!(err.0.contains("Paused"));
        let before = s.clone();
        run_mode(
            &mut s,
            move_cluster_shared_volume,
            &[("Name", name.into()), ("Node", "AZS-HOST01".into())],
            Mode::WhatIf,
        )
        .expect("whatif");
        assert_eq!(s, before);
        let out = run_on(
            &mut s,
            move_cluster_shared_volume,
            &[("Name", name.into()), ("Node", "AZS-HOST01".into())],
            true,
        )
        .expect("moved");
        assert_eq!(prop(&out[0], "OwnerNode"), "AZS-HOST01");
        assert_eq!(s.cluster.csvs[1].state, CsvState::Online);
        assert_eq!(s.cluster.csvs[1].owner, "AZS-HOST01");
    }

    #[test]
    fn move_group_repairs_failed_group() {
        let mut s = default_stamp();
        s.cluster.groups[2].state = GroupState::Failed;
        s.cluster.resources[6].state = GroupState::Failed;
        let failed = run_on(
            &mut s,
            get_cluster_resource,
            &[("State", "Failed".into())],
            false,
        )
        .expect("failed");
        assert_eq!(
            prop(&failed[0], "Name"),
            "Scale-Out File Server (SU1FileServer)"
        );
        let err = run_on(&mut s, move_cluster_group, &[("Name", "Nope".into())], true)
            .expect_err("unknown");
        assert!(err.0.contains("SU1FileServer"));
        let out = run_on(
            &mut s,
            move_cluster_group,
            &[
                ("Name", "su1fileserver".into()),
                ("Node", "AZS-HOST02".into()),
            ],
            true,
        )
        .expect("moved");
        assert_eq!(prop(&out[0], "State"), "Online");
        assert_eq!(
            s.group_owner("SU1FileServer").as_deref(),
            Some("AZS-HOST02")
        );
        assert!(s
            .cluster
            .resources
            .iter()
            .all(|r| r.state == GroupState::Online));
        // A VM's group moves the VM; no -Node picks an Up host other than the owner.
        let vm_host = s.vms[0].host.clone();
        let vm_name = s.vms[0].name.clone();
        let out = run_on(
            &mut s,
            move_cluster_group,
            &[("Name", vm_name.into())],
            true,
        )
        .expect("vm group");
        assert_ne!(s.vms[0].host, vm_host);
        assert_eq!(prop(&out[0], "OwnerNode"), s.vms[0].host);
    }

    #[test]
    fn move_vm_changes_host_and_group() {
        let mut s = default_stamp();
        let vm = s
            .vm("AZS-ACS02")
            .map(|v| v.host.clone())
            .unwrap_or_default();
        let err = run_on(
            &mut s,
            move_virtual_machine,
            &[("Name", "AZS-ACS02".into()), ("Node", vm.clone().into())],
            true,
        )
        .expect_err("same host");
        assert!(err.0.contains("already"));
        let target = if vm == "AZS-HOST04" {
            "AZS-HOST03"
        } else {
            "AZS-HOST04"
        };
        let before = s.clone();
        run_mode(
            &mut s,
            move_virtual_machine,
            &[("Name", "AZS-ACS02".into()), ("Node", target.into())],
            Mode::WhatIf,
        )
        .expect("whatif");
        assert_eq!(s, before);
        run_on(
            &mut s,
            move_virtual_machine,
            &[("Name", "AZS-ACS02".into()), ("Node", target.into())],
            true,
        )
        .expect("moved");
        assert_eq!(s.group_owner("AZS-ACS02").as_deref(), Some(target));
        assert!(run_on(
            &mut s,
            move_virtual_machine,
            &[("Name", "AZS-NOPE01".into())],
            true
        )
        .is_err());
    }
}
