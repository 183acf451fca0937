//! Diagnostic tools run against a node: Invoke-AzsSupportProcDump, Invoke-AzsSupportHandle,
//! Invoke-AzsSupportGetNetView, and Invoke-AzsSupportSysinternalsDownload (the suite ProcDump and
//! Handle come from).
//!
//! The node's host runs the tools ([`crate::host::Host`]): placeholders from the model on a
//! simulated node, ELF cores, procfs handles and a JSON snapshot on the real machine. Every file
//! lands in the case's working directory.

use super::hosts::{path_under, require_node, select_host_nodes};
use super::{CommandError, Invocation, Table};
use crate::host::ProcessSelector;
use crate::stamp::Node;
use crate::value::{Record, Value};

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Invoke-AzsSupportProcDump", invoke_proc_dump),
    ("Invoke-AzsSupportHandle", invoke_handle),
    ("Invoke-AzsSupportGetNetView", invoke_get_net_view),
    (
        "Invoke-AzsSupportSysinternalsDownload",
        invoke_sysinternals_download,
    ),
];

/// Where the toolkit keeps a copy of the Sysinternals suite on a disconnected stamp.
const SYSINTERNALS_COPIES: &[&str] = &[
    r"C:\CloudDeployment\Tools\Sysinternals",
    r"C:\AzureStackSupport\Tools\Sysinternals",
];

// ---------------------------------------------------------------- process dumps

/// Invoke-AzsSupportProcDump -ComputerName (-ProcessId | -ProcessName): a dump of the process in
/// `<workdir>/dumps`; the process keeps running.
pub fn invoke_proc_dump(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let node = inv.args.str("ComputerName").unwrap_or_default().to_string();
    let which = if let Some(id) = inv.args.int("ProcessId") {
        ProcessSelector::Id(id)
    } else if let Some(name) = inv.args.str("ProcessName") {
        ProcessSelector::Name(name.to_string())
    } else {
        return Err(CommandError("give -ProcessId or -ProcessName".into()));
    };
    let rec = inv.run_tool(&node, |h, call| h.dump_process(&which, call))?;
    Ok(vec![rec.into()])
}

// ---------------------------------------------------------------- handles and network snapshot

/// Invoke-AzsSupportHandle -ComputerName [-ProcessId] [-Type]: the open handles of a process (or
/// of every process).
pub fn invoke_handle(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let host = inv.host(inv.args.str("ComputerName").unwrap_or_default())?;
    let rows = host
        .handles(inv.args.int("ProcessId"), inv.args.str("Type"))
        .map_err(CommandError)?;
    Ok(rows.into_iter().map(Value::from).collect())
}

/// Invoke-AzsSupportGetNetView [-ComputerName]: one snapshot per node (default: every host, or
/// the machine of a stamp that is only the machine).
pub fn invoke_get_net_view(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let wanted = inv.args.strings("ComputerName");
    let mut nodes: Vec<&Node> = if !wanted.is_empty() {
        select_host_nodes(stamp, &wanted)?
    } else if stamp.hosts.is_empty() {
        stamp.machines.iter().collect()
    } else {
        stamp.hosts.iter().collect()
    };
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    nodes.dedup_by(|a, b| a.name == b.name);
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let mut out = Vec::new();
    for name in names {
        out.push(inv.run_tool(&name, |h, call| h.net_view(call))?.into());
    }
    Ok(out)
}

// ---------------------------------------------------------------- the Sysinternals suite

/// Invoke-AzsSupportSysinternalsDownload [-UseLocalCopy]: this endpoint is offline, so nothing is
/// downloaded; like the real tool's disconnected mode it looks for a known local copy on the
/// privileged endpoint's node and reports it (or fails, naming where it looked).
pub fn invoke_sysinternals_download(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let pep = require_node(stamp, stamp.pep_node())?;
    let found = SYSINTERNALS_COPIES.iter().find_map(|dir| {
        let files: Vec<_> = pep
            .files
            .iter()
            .filter(|f| path_under(&f.path, dir))
            .collect();
        (!files.is_empty()).then_some((*dir, files))
    });
    let Some((dir, files)) = found else {
        return Err(CommandError(format!(
            "cannot download the Sysinternals suite: this endpoint has no internet access, and no known local copy exists on {} (looked in {})",
            pep.name,
            SYSINTERNALS_COPIES.join(", ")
        )));
    };
    let version = files
        .iter()
        .filter_map(|f| f.modified)
        .max()
        .map_or("unknown".into(), |t| {
            format!("local copy of {}", t.format("%Y-%m-%d"))
        });
    let source = format!(
        "local copy on {} ({} file(s)); offline, nothing was downloaded",
        pep.name,
        files.len()
    );
    if !inv.should_process(dir, "Use the local copy of the Sysinternals suite") {
        return Ok(vec![]);
    }
    Ok(vec![Record::new("Azs.Support.ToolsInstallation")
        .with("Path", dir)
        .with("Version", version)
        .with("Source", source)
        .into()])
}

#[cfg(test)]
mod tests {
    use super::super::artefacts::testing::{cn, env, get, ok, run};
    use super::super::testing::default_stamp;
    use super::super::Mode;
    use super::*;
    use crate::stamp::FileEntry;
    use std::fs;

    #[test]
    fn proc_dump_by_id_and_name() {
        let e = env();
        let mut s = default_stamp();
        let out = ok(
            &e,
            &mut s,
            invoke_proc_dump,
            &[cn("AZS-SQL01"), ("ProcessName", "sqlservr".into())],
        );
        let path = get(&out[0], "Path");
        let pid = get(&out[0], "ProcessId");
        assert!(
            path.ends_with(&format!("dumps/AZS-SQL01_sqlservr_{pid}.dmp")),
            "{path}"
        );
        assert!(fs::read_to_string(e.wd.path().join(&path))
            .expect("dump")
            .contains("SIMULATED DUMP"));
        // The case's directory keeps both dumps of a second run.
        let again = ok(
            &e,
            &mut s,
            invoke_proc_dump,
            &[cn("AZS-SQL01"), ("ProcessName", "sqlservr".into())],
        );
        let second = get(&again[0], "Path");
        assert_ne!(second, path);
        assert!(e.wd.path().join(&second).is_file() && e.wd.path().join(&path).is_file());
        let x = run(
            &e,
            &mut s,
            invoke_proc_dump,
            &[cn("AZS-SQL01"), ("ProcessName", "svchost".into())],
            Mode::Execute,
        )
        .expect_err("ambiguous");
        assert!(x.0.contains("-ProcessId"), "{x}");
        let x = run(
            &e,
            &mut s,
            invoke_proc_dump,
            &[cn("AZS-SQL01"), ("ProcessId", 31337i64.into())],
            Mode::Execute,
        )
        .expect_err("unknown");
        assert!(x.0.contains("31337"), "{x}");
        let out = ok(
            &e,
            &mut s,
            invoke_proc_dump,
            &[cn("AZS-SQL01"), ("ProcessId", 700i64.into())],
        );
        assert_eq!(get(&out[0], "ProcessName"), "lsass");
    }

    #[test]
    fn handles_derived_per_process() {
        let e = env();
        let mut s = default_stamp();
        let total: u32 = s
            .node("AZS-ERCS01")
            .and_then(|n| n.processes.iter().find(|p| p.id == 700))
            .map(|p| p.handles)
            .expect("lsass");
        let rows = ok(
            &e,
            &mut s,
            invoke_handle,
            &[cn("AZS-ERCS01"), ("ProcessId", 700i64.into())],
        );
        let sum: u32 = rows
            .iter()
            .filter_map(|r| get(r, "Count").parse::<u32>().ok())
            .sum();
        assert_eq!(sum, total);
        let files = ok(
            &e,
            &mut s,
            invoke_handle,
            &[cn("AZS-ERCS01"), ("Type", "File".into())],
        );
        assert!(files.iter().all(|r| get(r, "Type") == "File"));
        let names: Vec<String> = files
            .iter()
            .map(|r| get(r, "ProcessName").to_lowercase())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(run(
            &e,
            &mut s,
            invoke_handle,
            &[cn("AZS-ERCS01"), ("ProcessId", 1i64.into())],
            Mode::Execute
        )
        .is_err());
    }

    #[test]
    fn net_view_defaults_to_hosts() {
        let e = env();
        let mut s = default_stamp();
        let out = ok(&e, &mut s, invoke_get_net_view, &[]);
        assert_eq!(out.len(), s.hosts.len());
        let gw = ok(
            &e,
            &mut s,
            invoke_get_net_view,
            &[("ComputerName", vec!["AZS-GWY01"].into())],
        );
        let shown = get(&gw[0], "Path");
        assert!(
            !shown.starts_with('/'),
            "support sees relative paths: {shown}"
        );
        let text = fs::read_to_string(e.wd.path().join(shown)).expect("snapshot");
        assert!(
            text.contains("SIMULATED") && text.contains("contoso-hq"),
            "{text}"
        );
    }

    #[test]
    fn sysinternals_offline() {
        let e = env();
        let mut s = default_stamp();
        let x =
            run(&e, &mut s, invoke_sysinternals_download, &[], Mode::Execute).expect_err("offline");
        assert!(x.0.contains("no internet access"), "{x}");
        let pep = s.pep_node().to_string();
        if let Some(n) = s.node_mut(&pep) {
            n.files.push(FileEntry {
                path: r"C:\CloudDeployment\Tools\Sysinternals\procdump64.exe".into(),
                size_bytes: 400_000,
                modified: None,
            });
        }
        let wi = run(&e, &mut s, invoke_sysinternals_download, &[], Mode::WhatIf).expect("wi");
        assert!(wi.is_empty());
        let out = ok(&e, &mut s, invoke_sysinternals_download, &[]);
        assert!(get(&out[0], "Source").contains("nothing was downloaded"));
    }
}
