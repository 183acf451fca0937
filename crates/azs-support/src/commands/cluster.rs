//! Failover-cluster commands: hosts as the cluster sees them, cluster resources, cluster shared
//! volumes, the cluster log (files written into the working directory) and the moves of groups,
//! volumes and infrastructure VMs. Shared helpers for the operator's `Get-ClusterLog` live here too.

use super::{join_names, CommandError, Invocation, Table};
use crate::stamp::{Node, SharedVolume, Stamp};
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;
use chrono::{DateTime, Duration, Utc};
use std::path::PathBuf;

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Get-AzsSupportInfrastructureHost", get_infrastructure_host),
    ("Get-AzsSupportClusterResource", get_cluster_resource),
    ("Get-AzsSupportClusterLog", get_cluster_log),
    (
        "Get-AzsSupportClusterSharedVolume",
        get_cluster_shared_volume,
    ),
    ("Move-AzsSupportClusterGroup", move_cluster_group),
    (
        "Move-AzsSupportClusterSharedVolume",
        move_cluster_shared_volume,
    ),
    ("Move-AzsSupportVirtualMachine", move_virtual_machine),
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

/// The cluster nodes a cluster-log command covers: the named hosts (a Down one is an error), or
/// every host that is not Down.
pub(crate) fn cluster_log_nodes(
    stamp: &Stamp,
    wanted: &[String],
) -> Result<Vec<String>, CommandError> {
    require_hosts(stamp, wanted)?;
    let mut out = Vec::new();
    for h in &stamp.hosts {
        let named = wanted.iter().any(|w| w.eq_ignore_ascii_case(&h.name));
        if !wanted.is_empty() && !named {
            continue;
        }
        if h.state.eq_ignore_ascii_case("Down") {
            if named {
                return Err(CommandError(format!(
                    "cannot generate the cluster log on '{}': the node is Down",
                    h.name
                )));
            }
            continue;
        }
        out.push(h.name.clone());
    }
    out.sort();
    Ok(out)
}

/// The text of one node's cluster log covering `from..=now` (all of it when `from` is `None`):
/// the stamp's own log lines for the node plus lines derived from the current state of the groups,
/// resources and volumes it owns, in the real `pid.tid::yyyy/MM/dd-HH:mm:ss.fff LEVEL [COMP] text`
/// style.
pub(crate) fn cluster_log_text(
    stamp: &Stamp,
    node: &str,
    now: DateTime<Utc>,
    from: Option<DateTime<Utc>>,
) -> String {
    let pid = stamp
        .host(node)
        .and_then(|h| h.processes.iter().find(|p| p.service == "ClusSvc"))
        .map_or(0x12a4, |p| p.id);
    let mut lines: Vec<(DateTime<Utc>, String, String, String)> = stamp
        .cluster
        .log
        .iter()
        .filter(|l| l.node.eq_ignore_ascii_case(node))
        .map(|l| {
            (
                l.time,
                l.level.clone(),
                l.component.clone(),
                l.message.clone(),
            )
        })
        .collect();
    let mut derived: Vec<(String, String, String)> = Vec::new();
    let cluster = if stamp.cluster.name.is_empty() {
        "cluster"
    } else {
        stamp.cluster.name.as_str()
    };
    derived.push((
        "INFO".into(),
        "CS".into(),
        format!("Cluster service running on node {node}, cluster {cluster}"),
    ));
    for (i, h) in stamp.hosts.iter().enumerate() {
        let level = if h.state == "Up" { "INFO" } else { "WARN" };
        derived.push((
            level.into(),
            "NM".into(),
            format!("Node {} (id {}) state is {}", h.name, i + 1, h.state),
        ));
    }
    let resources = stamp.cluster_resources();
    for g in stamp.cluster_groups() {
        if !g.owner.eq_ignore_ascii_case(node) {
            continue;
        }
        let level = level_for_state(&g.state);
        derived.push((
            level.into(),
            "RCM".into(),
            format!(
                "Group <{}> owned by this node is in state {}",
                g.name, g.state
            ),
        ));
        for r in resources.iter().filter(|r| r.group == g.name) {
            let text = match r.state.as_str() {
                "Failed" => format!(
                    "rcm::RcmResource::HandleFailure: ({}) resource <{}> of group <{}> failed, state Failed",
                    r.resource_type, r.name, g.name
                ),
                s => format!("Resource <{}> ({}) is in state {s}", r.name, r.resource_type),
            };
            derived.push((level_for_state(&r.state).into(), "RES".into(), text));
        }
    }
    for c in stamp
        .cluster
        .csvs
        .iter()
        .filter(|c| c.owner.eq_ignore_ascii_case(node))
    {
        let text = if c.state == "Online" {
            format!(
                "Volume <{}> ({}) owned by this node is Online",
                c.name, c.path
            )
        } else {
            format!(
                "Volume <{}> ({}) owned by this node is {}: I/O to the volume is failing",
                c.name, c.path, c.state
            )
        };
        derived.push((level_for_state(&c.state).into(), "DCM".into(), text));
    }
    let n = derived.len() as i64;
    for (i, (level, comp, msg)) in derived.into_iter().enumerate() {
        let at = now - Duration::seconds((n - i as i64) * 17);
        lines.push((at, level, comp, msg));
    }
    lines.retain(|(t, ..)| from.is_none_or(|f| *t >= f) && *t <= now);
    lines.sort_by_key(|(t, ..)| *t);
    let mut out = String::new();
    for (i, (t, level, comp, msg)) in lines.iter().enumerate() {
        let tid = 0x1c38 + (i as u32 % 7) * 0x44;
        out.push_str(&format!(
            "{pid:08x}.{tid:08x}::{} {level:<6}[{comp}] {msg}\n",
            t.format("%Y/%m/%d-%H:%M:%S%.3f")
        ));
    }
    out
}

fn level_for_state(state: &str) -> &'static str {
    match state {
        "Online" | "Up" => "INFO",
        "Failed" | "Offline" => "ERR",
        _ => "WARN",
    }
}

/// Generates the cluster logs: one `<node>_cluster.log` per node. Returns (node, path, length).
pub(crate) fn generate_cluster_logs(
    inv: &Invocation<'_>,
    wanted: &[String],
    minutes: Option<i64>,
) -> Result<Vec<(String, PathBuf, u64)>, CommandError> {
    let stamp = inv.stamp();
    let nodes = cluster_log_nodes(stamp, wanted)?;
    let from = minutes.map(|m| inv.now - Duration::minutes(m));
    let mut out = Vec::new();
    for node in nodes {
        let text = cluster_log_text(stamp, &node, inv.now, from);
        let path = inv.workdir.write_unique(
            &format!("{node}_cluster"),
            "log",
            inv.now,
            text.as_bytes(),
        )?;
        out.push((node, path, text.len() as u64));
    }
    Ok(out)
}

/// How far back the cluster log reaches by default.
const DEFAULT_LOG_MINUTES: i64 = 60;

/// Get-AzsSupportClusterLog [-ComputerName] [-TimeSpanMinutes N] [-UseLocalTime]: writes one
/// cluster log per node into the working directory (nodes keep UTC, so local time is UTC). The
/// default window is the last hour, reaching back to the first line the cluster logged about a
/// fault that is still there, so the log an engineer pulls first shows how it began.
pub fn get_cluster_log(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let wanted = inv.args.strings("ComputerName");
    let minutes = match inv.args.int("TimeSpanMinutes") {
        Some(m) => m,
        None => {
            let oldest = inv.stamp().cluster.log.iter().map(|l| l.time).min();
            let back = oldest.map_or(0, |t| (inv.now - t).num_minutes() + 1);
            back.clamp(DEFAULT_LOG_MINUTES, 43_200)
        }
    };
    let files = generate_cluster_logs(inv, &wanted, Some(minutes))?;
    Ok(files
        .into_iter()
        .map(|(node, path, len)| {
            Record::new("Azs.Support.CollectedFile")
                .with("ComputerName", node)
                .with("Path", inv.workdir.shown(&path))
                .with("Length", len)
                .into()
        })
        .collect())
}

fn csv_record(c: &SharedVolume) -> Value {
    Record::new("Azs.Support.ClusterSharedVolume")
        .with("Name", &c.name)
        .with("State", &c.state)
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
    rows.sort_by(|a, b| a.state.cmp(&b.state).then_with(|| a.name.cmp(&b.name)));
    Ok(rows.into_iter().map(csv_record).collect())
}

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
            if host.state != "Up" {
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
            .filter(|h| h.state == "Up" && !h.name.eq_ignore_ascii_case(owner))
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
            g.state = "Online".into();
        }
        for r in s.cluster.resources.iter_mut().filter(|r| r.group == gname) {
            r.state = "Online".into();
        }
    }
    let g = s
        .cluster_groups()
        .into_iter()
        .find(|g| g.name == gname)
        .ok_or_else(|| CommandError(format!("cluster group '{gname}' vanished")))?;
    Ok(vec![Record::new("Azs.Support.ClusterGroup")
        .with("Name", g.name)
        .with("State", g.state)
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
    c.state = "Online".into();
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
    if vm.state != "Running" {
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
        .with("State", &vm.state)
        .with("Host", &vm.host)
        .into()])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::testing::{default_stamp, prop, run_mode, run_on};
    use super::super::Mode;
    use super::*;

    #[test]
    fn the_default_window_reaches_back_to_what_the_fault_logged() {
        let mut s = crate::stamp::load_scenario("csv-offline").unwrap_or_else(|e| panic!("{e}"));
        let tmp = tempfile::tempdir().expect("tmp");
        let wd = crate::workdir::WorkingDirectory::new(tmp.path(), Utc::now(), "t", 1 << 30);
        let out =
            super::super::testing::run_in(&wd, &mut s, get_cluster_log, &[], false, Mode::Execute)
                .result
                .expect("logs");
        let host3 = out
            .iter()
            .find(|r| prop(r, "ComputerName") == "AZS-HOST03")
            .map(|r| prop(r, "Path"))
            .expect("AZS-HOST03's log");
        assert!(!host3.starts_with('/'), "relative path: {host3}");
        let text = std::fs::read_to_string(wd.path().join(host3)).expect("read");
        assert!(text.contains("Lost reservation on the disk"), "{text}");
        // An explicit window is what it says.
        let out = super::super::testing::run_in(
            &wd,
            &mut s,
            get_cluster_log,
            &[("TimeSpanMinutes", 5i64.into())],
            false,
            Mode::Execute,
        )
        .result
        .expect("logs");
        let p = out
            .iter()
            .find(|r| prop(r, "ComputerName") == "AZS-HOST03")
            .map(|r| prop(r, "Path"))
            .expect("log");
        let text = std::fs::read_to_string(wd.path().join(p)).expect("read");
        assert!(!text.contains("Lost reservation on the disk"));
    }

    #[test]
    fn cluster_log_per_node_with_derived_lines() {
        let mut s = default_stamp();
        s.cluster.log.push(crate::stamp::ClusterLogLine {
            node: "AZS-HOST03".into(),
            time: Utc::now() - Duration::minutes(5),
            level: "ERR".into(),
            component: "RES".into(),
            message: "Physical Disk: lost reservation on disk".into(),
        });
        s.cluster.csvs[1].state = "Offline".into();
        s.cluster.csvs[1].owner = "AZS-HOST03".into();
        let rows = run_on(&mut s, get_cluster_log, &[], false).expect("logs");
        assert_eq!(rows.len(), 4);
        assert!(prop(&rows[0], "Path").ends_with("AZS-HOST01_cluster.log"));
        let text = cluster_log_text(
            &s,
            "AZS-HOST03",
            Utc::now(),
            Some(Utc::now() - Duration::hours(1)),
        );
        assert!(text.contains("ERR   [RES] Physical Disk: lost reservation"));
        assert!(text.contains("ERR   [DCM] Volume <Cluster Virtual Disk (Infrastructure_2)>"));
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.contains("::") && first.contains(" INFO  [CS]"),
            "{first}"
        );
        let one = run_on(
            &mut s,
            get_cluster_log,
            &[("ComputerName", vec!["azs-host02"].into())],
            false,
        )
        .expect("one");
        assert_eq!(prop(&one[0], "ComputerName"), "AZS-HOST02");
        s.hosts[1].state = "Down".into();
        assert!(run_on(
            &mut s,
            get_cluster_log,
            &[("ComputerName", vec!["AZS-HOST02"].into())],
            false
        )
        .is_err());
        assert_eq!(
            run_on(&mut s, get_cluster_log, &[], false)
                .expect("up")
                .len(),
            3
        );
    }

    #[test]
    fn csvs_sorted_by_state() {
        let mut s = default_stamp();
        s.cluster.csvs[2].state = "Offline".into();
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
    fn move_csv_brings_it_online_and_refuses_bad_targets() {
        let mut s = default_stamp();
        let name = "Cluster Virtual Disk (Infrastructure_2)";
        s.cluster.csvs[1].state = "Offline".into();
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
        s.hosts[3].state = "Paused".into();
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
        assert_eq!(s.cluster.csvs[1].state, "Online");
        assert_eq!(s.cluster.csvs[1].owner, "AZS-HOST01");
    }

    #[test]
    fn move_group_repairs_failed_group() {
        let mut s = default_stamp();
        s.cluster.groups[2].state = "Failed".into();
        s.cluster.resources[6].state = "Failed".into();
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
        assert!(s.cluster.resources.iter().all(|r| r.state == "Online"));
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
