//! The cluster log: `Get-AzsSupportClusterLog` writes one log per cluster node into the working
//! directory — the stamp's planted cluster-log lines and lines derived from the cluster's state
//! (offline groups, resources and volumes, nodes not Up) — and the operator's `Get-ClusterLog`
//! shares the generator.

use super::cluster::require_hosts;
use super::{CommandError, Invocation};
use crate::stamp::{CsvState, GroupState, NodeState, Stamp};
use crate::value::{Record, Value};
use chrono::{DateTime, Duration, Utc};
use std::path::PathBuf;

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
        if h.state == NodeState::Down {
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
        let level = if h.state == NodeState::Up {
            "INFO"
        } else {
            "WARN"
        };
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
        let level = group_level(g.state);
        derived.push((
            level.into(),
            "RCM".into(),
            format!(
                "Group <{}> owned by this node is in state {}",
                g.name, g.state
            ),
        ));
        for r in resources.iter().filter(|r| r.group == g.name) {
            let text = match r.state {
                GroupState::Failed => format!(
                    "rcm::RcmResource::HandleFailure: ({}) resource <{}> of group <{}> failed, state Failed",
                    r.resource_type, r.name, g.name
                ),
                s => format!("Resource <{}> ({}) is in state {s}", r.name, r.resource_type),
            };
            derived.push((group_level(r.state).into(), "RES".into(), text));
        }
    }
    for c in stamp
        .cluster
        .csvs
        .iter()
        .filter(|c| c.owner.eq_ignore_ascii_case(node))
    {
        let text = if c.state == CsvState::Online {
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
        derived.push((csv_level(c.state).into(), "DCM".into(), text));
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

/// The log level of a line about a group or resource in this state.
fn group_level(state: GroupState) -> &'static str {
    match state {
        GroupState::Online => "INFO",
        GroupState::Failed | GroupState::Offline => "ERR",
        GroupState::PartialOnline | GroupState::Pending => "WARN",
    }
}

/// The log level of a line about a shared volume in this state.
fn csv_level(state: CsvState) -> &'static str {
    match state {
        CsvState::Online => "INFO",
        CsvState::Failed | CsvState::Offline => "ERR",
        CsvState::Redirected => "WARN",
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

#[cfg(test)]
pub(crate) mod tests {
    use super::super::testing::{default_stamp, prop, run_on};
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
        s.cluster.csvs[1].state = CsvState::Offline;
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
        s.hosts[1].state = NodeState::Down;
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
}
