//! Diagnostic tools run against the simulated nodes of the stamp: Invoke-AzsSupportProcDump,
//! Invoke-AzsSupportHandle, Invoke-AzsSupportGetNetView, and Invoke-AzsSupportSysinternalsDownload
//! (the suite ProcDump and Handle come from).
//!
//! Dumps and network snapshots are placeholders (see `artefacts`) written to the session's working
//! directory; handle listings are derived from each process's handle count.

use super::artefacts::{stamp_time, write_dump, SIMULATED};
use super::hosts::{computer, path_under, require_node, select_nodes};
use super::machine_tools::{self, real_target};
use super::{CommandError, Invocation, Table};
use crate::stamp::{Node, Process};
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

/// Invoke-AzsSupportProcDump -ComputerName (-ProcessId | -ProcessName): a placeholder dump in
/// `<workdir>/dumps/<node>_<name>_<pid>.dmp`.
pub fn invoke_proc_dump(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    if let Some(n) = real_target(inv) {
        return machine_tools::proc_dump(inv, &n);
    }
    let n = computer(inv)?;
    let p = if let Some(id) = inv.args.int("ProcessId") {
        n.processes
            .iter()
            .find(|p| i64::from(p.id) == id)
            .ok_or_else(|| CommandError(format!("no process with id {id} on {}", n.name)))?
    } else if let Some(name) = inv.args.str("ProcessName") {
        let found: Vec<&Process> = n
            .processes
            .iter()
            .filter(|p| p.name.eq_ignore_ascii_case(name))
            .collect();
        match found.as_slice() {
            [] => {
                return Err(CommandError(format!(
                    "no process named '{name}' on {}",
                    n.name
                )))
            }
            [p] => *p,
            many => {
                let ids: Vec<String> = many.iter().map(|p| p.id.to_string()).collect();
                return Err(CommandError(format!(
                    "{} processes named '{name}' on {} (ids {}); give -ProcessId",
                    many.len(),
                    n.name,
                    ids.join(", ")
                )));
            }
        }
    } else {
        return Err(CommandError("give -ProcessId or -ProcessName".into()));
    };
    let (path, len) = write_dump(inv, &n.name, p)?;
    Ok(vec![Record::new("Azs.Support.DumpFile")
        .with("ComputerName", &n.name)
        .with("ProcessName", &p.name)
        .with("ProcessId", p.id)
        .with("Path", path)
        .with("Length", len)
        .with("Note", SIMULATED)
        .into()])
}

// ---------------------------------------------------------------- handles and network snapshot

/// Handle types with their share (percent) of a process's handles.
const HANDLE_TYPES: &[(&str, u32)] = &[
    ("File", 30),
    ("Key", 20),
    ("Event", 20),
    ("Mutant", 5),
    ("Section", 5),
    ("Thread", 10),
    ("Process", 5),
    ("Token", 5),
];

fn handle_name(kind: &str, p: &Process) -> String {
    let svc = if p.service.is_empty() {
        &p.name
    } else {
        &p.service
    };
    match kind {
        "File" => format!(r"C:\Windows\System32\en-US\{}.exe.mui", p.name),
        "Key" => format!(r"HKLM\SYSTEM\ControlSet001\Services\{svc}"),
        "Event" => format!(r"\BaseNamedObjects\{svc}_{}_Event", p.id),
        "Mutant" => format!(r"\BaseNamedObjects\{svc}_Mutex"),
        "Section" => r"\BaseNamedObjects\__ComCatalogCache__".into(),
        "Thread" => format!("{}.exe({})", p.name, p.id),
        "Process" => format!("{}.exe({})", p.name, p.id),
        _ => r"NT AUTHORITY\SYSTEM:3e7".into(),
    }
}

/// Invoke-AzsSupportHandle -ComputerName [-ProcessId] [-Type]: per process and handle type, the
/// first handle value, a representative name and the count (derived from the process's total).
pub fn invoke_handle(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    if let Some(n) = real_target(inv) {
        return machine_tools::handles(inv, &n);
    }
    let n = computer(inv)?;
    let id = inv.args.int("ProcessId");
    let kind = inv.args.str("Type");
    if let Some(id) = id {
        if !n.processes.iter().any(|p| i64::from(p.id) == id) {
            return Err(CommandError(format!(
                "no process with id {id} on {}",
                n.name
            )));
        }
    }
    let mut procs: Vec<&Process> = n
        .processes
        .iter()
        .filter(|p| id.is_none_or(|i| i64::from(p.id) == i))
        .collect();
    procs.sort_by(|a, b| {
        a.name
            .to_ascii_lowercase()
            .cmp(&b.name.to_ascii_lowercase())
            .then(a.id.cmp(&b.id))
    });
    let mut out = Vec::new();
    for p in procs {
        let mut counts: Vec<u32> = HANDLE_TYPES
            .iter()
            .map(|(_, s)| p.handles * s / 100)
            .collect();
        counts[0] += p.handles - counts.iter().sum::<u32>();
        let mut next = 4u64;
        for ((t, _), c) in HANDLE_TYPES.iter().zip(counts) {
            let first = next;
            next += 4 * u64::from(c);
            if c == 0 || kind.is_some_and(|k| !k.eq_ignore_ascii_case(t)) {
                continue;
            }
            out.push(
                Record::new("Azs.Support.Handle")
                    .with("ProcessName", &p.name)
                    .with("ProcessId", p.id)
                    .with("Handle", format!("0x{first:X}"))
                    .with("Type", *t)
                    .with("Name", handle_name(t, p))
                    .with("Count", c)
                    .into(),
            );
        }
    }
    Ok(out)
}

/// Invoke-AzsSupportGetNetView [-ComputerName]: one snapshot file per node (default: all hosts).
pub fn invoke_get_net_view(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let wanted = inv.args.strings("ComputerName");
    // The real machine (named, or the only node of a machine's own stamp) is read for real.
    let machine = if wanted.is_empty() && stamp.hosts.is_empty() {
        stamp.machines.first().cloned()
    } else if let [one] = wanted.as_slice() {
        stamp.node(one).filter(|n| n.real).cloned()
    } else {
        None
    };
    if let Some(n) = machine {
        return machine_tools::net_view(inv, &n);
    }
    let mut nodes: Vec<&Node> = if wanted.is_empty() {
        stamp.hosts.iter().collect()
    } else {
        select_nodes(stamp, &wanted)?
    };
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    nodes.dedup_by(|a, b| a.name == b.name);
    let mut out = Vec::new();
    for n in nodes {
        let mut text = format!(
            "pep SIMULATED network snapshot of {}: taken from the stamp model, no real adapters were queried\n\
             Taken: {}\nRole: {}\nState: {}\nHost: {}\n\n[Network services]\n",
            n.name,
            inv.now.to_rfc3339(),
            n.role,
            n.state,
            if n.host.is_empty() { "-" } else { &n.host }
        );
        for s in n.services.iter().filter(|s| {
            [
                "Dnscache",
                "WinRM",
                "LanmanServer",
                "GatewayService",
                "NcHostAgent",
                "SlbHostAgent",
            ]
            .iter()
            .any(|x| x.eq_ignore_ascii_case(&s.name))
        }) {
            text += &format!("{:<20} {}\n", s.name, s.state);
        }
        text += "\n[Site-to-site connections]\n";
        for c in stamp
            .network
            .connections
            .iter()
            .filter(|c| c.gateway == n.name)
        {
            text += &format!("{:<20} {:<14} {}\n", c.name, c.status, c.remote_address);
        }
        let rel = format!("{}_GetNetView_{}.txt", n.name, stamp_time(inv.now));
        let path = inv.workdir.write_keeping(&rel, inv.now, text.as_bytes())?;
        out.push(
            Record::new("Azs.Support.CollectedFile")
                .with("ComputerName", &n.name)
                .with("Path", inv.workdir.shown(&path))
                .with("Length", text.len() as u64)
                .with(
                    "Note",
                    "simulated node: a text snapshot of the stamp model, not a GetNetView archive",
                )
                .into(),
        );
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
