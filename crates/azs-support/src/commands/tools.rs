//! Tracing, dumps, tools and file collection for the simulated nodes of the stamp:
//! Enable-/Disable-AzsSupportNetshTrace, Invoke-AzsSupportWmiTracing, Invoke-AzsSupportProcDump,
//! Invoke-AzsSupportHandle, Invoke-AzsSupportGetNetView, Get-AzsSupportTraceFilePath,
//! Get-AzsSupportTraceEvent, Invoke-AzsSupportSysinternalsDownload, Copy-AzsSupportFiles and
//! Clear-AzsSupportParentWorkingDirectory.
//!
//! Simulated nodes have no packets, memory or file contents, so every artefact written here is a
//! small placeholder that says it is simulated (node, process or file it stands for). Everything
//! lands in the session's working directory through `write_new` (path-checked, quota-enforced).
//! Trace files carry `EVENT` lines (tab-separated: time, level, provider, id, message) that
//! Get-AzsSupportTraceEvent reads back.

use super::hosts::{path_under, require_node, require_reachable, select_nodes};
use super::{CommandError, Invocation, Table};
use crate::stamp::node::NetshTrace;
use crate::stamp::{Node, Process};
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use std::fs;
use std::path::Path;

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Enable-AzsSupportNetshTrace", enable_netsh_trace),
    ("Disable-AzsSupportNetshTrace", disable_netsh_trace),
    ("Invoke-AzsSupportWmiTracing", invoke_wmi_tracing),
    ("Invoke-AzsSupportProcDump", invoke_proc_dump),
    ("Invoke-AzsSupportHandle", invoke_handle),
    ("Invoke-AzsSupportGetNetView", invoke_get_net_view),
    ("Get-AzsSupportTraceFilePath", get_trace_file_path),
    ("Get-AzsSupportTraceEvent", get_trace_event),
    (
        "Invoke-AzsSupportSysinternalsDownload",
        invoke_sysinternals_download,
    ),
    ("Copy-AzsSupportFiles", copy_files),
    (
        "Clear-AzsSupportParentWorkingDirectory",
        clear_parent_working_directory,
    ),
];

/// The WMI providers Invoke-AzsSupportWmiTracing traces.
const WMI_PROVIDERS: &[&str] = &[
    "Microsoft-Windows-WMI-Activity",
    "Microsoft-Windows-WMI",
    "Microsoft-Windows-WinRM",
    "Microsoft-Windows-DistributedCOM",
];

/// Where the toolkit keeps a copy of the Sysinternals suite on a disconnected stamp.
const SYSINTERNALS_COPIES: &[&str] = &[
    r"C:\CloudDeployment\Tools\Sysinternals",
    r"C:\AzureStackSupport\Tools\Sysinternals",
];

const SIMULATED: &str = "simulated node: placeholder file, no real data was captured";

fn stamp_time(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%S%3fZ").to_string()
}

fn event_line(t: DateTime<Utc>, level: &str, provider: &str, id: u32, msg: &str) -> String {
    format!(
        "EVENT\t{}\t{level}\t{provider}\t{id}\t{msg}\n",
        t.to_rfc3339()
    )
}

fn computer<'s>(inv: &'s Invocation<'_>) -> Result<&'s Node, CommandError> {
    require_node(
        inv.stamp(),
        inv.args.str("ComputerName").unwrap_or_default(),
    )
}

// ---------------------------------------------------------------- netsh trace

/// Enable-AzsSupportNetshTrace -ComputerName [-Interface] [-MaxSize]: starts the simulated trace.
pub fn enable_netsh_trace(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let n = computer(inv)?;
    require_reachable(n)?;
    if let Some(t) = &n.netsh_trace {
        return Err(CommandError(format!(
            "a packet trace is already running on {} (started {}); stop it with Disable-AzsSupportNetshTrace first",
            n.name,
            t.started.map(|s| s.to_rfc3339()).unwrap_or_default()
        )));
    }
    let name = n.name.clone();
    let interface = inv.args.str("Interface").unwrap_or_default().to_string();
    let max = inv.args.int("MaxSize").unwrap_or(1024);
    let mut file = format!("{name}_netshTrace.etl");
    if inv.workdir.resolve(&file)?.exists() {
        file = format!("{name}_netshTrace_{}.etl", stamp_time(inv.now));
    }
    let path = inv.workdir.resolve(&file)?;
    if !inv.should_process(&name, "Start a packet trace") {
        return Ok(vec![]);
    }
    let trace = NetshTrace {
        interface,
        max_size_mb: max,
        started: Some(inv.now),
        file,
    };
    let record = netsh_record(&name, "Running", &trace, &path.display().to_string(), "");
    if let Some(n) = inv.stamp_mut()?.node_mut(&name) {
        n.netsh_trace = Some(trace);
    }
    Ok(vec![record])
}

fn netsh_record(node: &str, state: &str, t: &NetshTrace, path: &str, extra: &str) -> Value {
    let iface = if t.interface.is_empty() {
        "(all)"
    } else {
        &t.interface
    };
    Record::new("Azs.Support.NetshTrace")
        .with("ComputerName", node)
        .with("State", state)
        .with("Interface", iface)
        .with("TraceFile", path)
        .with("MaxSizeMB", t.max_size_mb)
        .with("Note", format!("{SIMULATED}{extra}"))
        .into()
}

/// Disable-AzsSupportNetshTrace -ComputerName: stops the trace and writes its placeholder file.
pub fn disable_netsh_trace(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let n = computer(inv)?;
    let Some(t) = n.netsh_trace.clone() else {
        return Err(CommandError(format!(
            "no packet trace is running on {}; start one with Enable-AzsSupportNetshTrace",
            n.name
        )));
    };
    let name = n.name.clone();
    if !inv.should_process(&name, "Stop the packet trace") {
        return Ok(vec![]);
    }
    let started = t.started.unwrap_or(inv.now);
    let iface = if t.interface.is_empty() {
        "all interfaces"
    } else {
        &t.interface
    };
    let mut text = format!(
        "# pep SIMULATED packet trace of {name}: NOT a real capture (simulated nodes have no network traffic)\n\
         # Interface: {iface}\n# MaxSizeMB: {}\n# Started: {}\n# Stopped: {}\n",
        t.max_size_mb,
        started.to_rfc3339(),
        inv.now.to_rfc3339()
    );
    text += &event_line(
        started,
        "Information",
        "Microsoft-Windows-NDIS-PacketCapture",
        1001,
        &format!("Packet capture started on {name} ({iface}) [simulated]"),
    );
    text += &event_line(
        inv.now,
        "Information",
        "Microsoft-Windows-NDIS-PacketCapture",
        1002,
        "Packet capture stopped; no packets recorded [simulated]",
    );
    let path = inv.workdir.write_new(&t.file, text.as_bytes())?;
    let extra = format!(" ({} bytes written)", text.len());
    let record = netsh_record(&name, "Stopped", &t, &path.display().to_string(), &extra);
    if let Some(n) = inv.stamp_mut()?.node_mut(&name) {
        n.netsh_trace = None;
    }
    Ok(vec![record])
}

// ---------------------------------------------------------------- dumps and WMI tracing

fn write_dump(
    inv: &Invocation<'_>,
    node: &str,
    p: &Process,
) -> Result<(String, u64), CommandError> {
    let text = format!(
        "pep SIMULATED DUMP: not a memory image (simulated nodes have no process memory)\n\
         Node: {node}\nProcess: {}\nProcessId: {}\nWorkingSetMB: {}\nService: {}\nTaken: {}\n",
        p.name,
        p.id,
        p.working_set_mb,
        p.service,
        inv.now.to_rfc3339()
    );
    let rel = format!("dumps/{node}_{}_{}.dmp", p.name, p.id);
    let path = inv.workdir.write_new(&rel, text.as_bytes())?;
    Ok((path.display().to_string(), text.len() as u64))
}

/// Invoke-AzsSupportProcDump -ComputerName (-ProcessId | -ProcessName): a placeholder dump in
/// `<workdir>/dumps/<node>_<name>_<pid>.dmp`.
pub fn invoke_proc_dump(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let n = computer(inv)?;
    require_reachable(n)?;
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

/// Invoke-AzsSupportWmiTracing -ComputerName [-DurationInSeconds] [-IncludeDumps].
pub fn invoke_wmi_tracing(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let n = computer(inv)?;
    require_reachable(n)?;
    let secs = inv.args.int("DurationInSeconds").unwrap_or(60);
    let start = inv.now - Duration::seconds(secs);
    let mut text = format!(
        "# pep SIMULATED WMI trace of {}: NOT a real trace (simulated nodes run no providers)\n\
         # Providers: {}\n# Window: {} .. {}\n",
        n.name,
        WMI_PROVIDERS.join(", "),
        start.to_rfc3339(),
        inv.now.to_rfc3339()
    );
    for (i, prov) in WMI_PROVIDERS.iter().enumerate() {
        let msg = format!("Tracing enabled for {prov} on {} [simulated]", n.name);
        text += &event_line(
            start + Duration::seconds(i as i64),
            "Information",
            prov,
            5857,
            &msg,
        );
    }
    let winmgmt = n.services.iter().find(|s| s.name == "Winmgmt");
    if let Some(s) = winmgmt {
        let msg = format!("Winmgmt service is {} [simulated]", s.state);
        let level = if s.state == "Running" {
            "Information"
        } else {
            "Error"
        };
        text += &event_line(inv.now, level, WMI_PROVIDERS[0], 5858, &msg);
    }
    let file = format!("{}_WmiTrace_{}.etl", n.name, stamp_time(inv.now));
    let path = inv.workdir.write_new(&file, text.as_bytes())?;
    let mut dumps = Vec::new();
    if inv.args.switch("IncludeDumps") {
        for p in n.processes.iter().filter(|p| {
            p.name.eq_ignore_ascii_case("WmiPrvSE") || p.service.eq_ignore_ascii_case("Winmgmt")
        }) {
            dumps.push(Value::from(write_dump(inv, &n.name, p)?.0));
        }
    }
    let duration = format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    );
    Ok(vec![Record::new("Azs.Support.TraceResult")
        .with("ComputerName", &n.name)
        .with("TraceFile", path.display().to_string())
        .with("DumpFiles", Value::Array(dumps))
        .with("Duration", duration)
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
        let path = inv.workdir.write_new(&rel, text.as_bytes())?;
        out.push(
            Record::new("Azs.Support.CollectedFile")
                .with("ComputerName", &n.name)
                .with("Path", path.display().to_string())
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

// ---------------------------------------------------------------- trace files

/// Get-AzsSupportTraceFilePath -ComputerName [-Name]: the trace files of the node in the working
/// directory (`<NODE>_<component>[_<time>].etl`).
pub fn get_trace_file_path(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let n = computer(inv)?;
    let pattern = inv.args.str("Name").unwrap_or("*");
    let prefix = format!("{}_", n.name.to_ascii_lowercase());
    let mut rows = Vec::new();
    for f in inv.workdir.files(false)? {
        let lower = f.name.to_ascii_lowercase();
        let Some(rest) = lower.strip_prefix(&prefix) else {
            continue;
        };
        if !lower.ends_with(".etl") {
            continue;
        }
        let len = rest.find(['_', '.']).unwrap_or(rest.len());
        let component = f.name[prefix.len()..prefix.len() + len].to_string();
        if wildcard_match(pattern, &component) {
            rows.push((component, f));
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    Ok(rows
        .into_iter()
        .map(|(c, f)| {
            Record::new("Azs.Support.TraceFile")
                .with("ComputerName", &n.name)
                .with("Name", c)
                .with("Path", f.relative_path)
                .with("LastWriteTimeUtc", f.modified)
                .into()
        })
        .collect())
}

/// Get-AzsSupportTraceEvent -ComputerName -Path [-FromDate] [-ToDate] [-Level] [-MaxEvents]:
/// the `EVENT` lines of a trace file of the node, in time order.
pub fn get_trace_event(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let n = computer(inv)?;
    let given = inv.args.str("Path").unwrap_or_default();
    let name = given.rsplit('\\').next().unwrap_or(given);
    let prefix = format!("{}_", n.name.to_ascii_lowercase());
    let file = inv
        .workdir
        .files(false)?
        .into_iter()
        .find(|f| f.name.eq_ignore_ascii_case(name) && f.name.to_ascii_lowercase().starts_with(&prefix))
        .ok_or_else(|| {
            CommandError(format!(
                "no trace file '{name}' of {} in the working directory; Get-AzsSupportTraceFilePath -ComputerName {} lists them",
                n.name, n.name
            ))
        })?;
    let text = fs::read_to_string(inv.workdir.resolve(&file.relative_path)?)
        .map_err(|e| CommandError(format!("reading {}: {e}", file.name)))?;
    let from = inv.args.datetime("FromDate");
    let to = inv.args.datetime("ToDate").unwrap_or(inv.now);
    let level = inv.args.str("Level");
    let max = usize::try_from(inv.args.int("MaxEvents").unwrap_or(1000)).unwrap_or(1000);
    let mut events: Vec<(DateTime<Utc>, Vec<&str>)> = text
        .lines()
        .filter_map(|l| {
            let parts: Vec<&str> = l.strip_prefix("EVENT\t")?.splitn(5, '\t').collect();
            let t = DateTime::parse_from_rfc3339(parts.first()?)
                .ok()?
                .with_timezone(&Utc);
            (parts.len() == 5).then_some((t, parts))
        })
        .filter(|(t, p)| {
            from.is_none_or(|f| *t >= f)
                && *t <= to
                && level.is_none_or(|l| l.eq_ignore_ascii_case(p[1]))
        })
        .collect();
    events.sort_by_key(|e| e.0);
    Ok(events
        .into_iter()
        .take(max)
        .map(|(t, p)| {
            Record::new("Azs.Support.TraceEvent")
                .with("TimeCreated", t)
                .with("Level", p[1])
                .with("ProviderName", p[2])
                .with("Id", p[3].parse::<i64>().unwrap_or(0))
                .with("Message", p[4])
                .into()
        })
        .collect())
}

// ---------------------------------------------------------------- tools and files

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

/// A Windows path as a plain file name: `C:\MASLogs\a.log` → `C_MASLogs_a.log`.
fn sanitise(path: &str) -> String {
    let s: String = path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '(' | ')') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.replace("__", "_");
    let s = s.trim_start_matches(['.', '_']).to_string();
    if s.is_empty() {
        "file".into()
    } else {
        s
    }
}

/// Copy-AzsSupportFiles -ComputerName -Path [-Recurse]: copies node files into
/// `<workdir>/<NODE>/`; simulated files have no content, so each copy is a placeholder text.
pub fn copy_files(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let n = computer(inv)?;
    require_reachable(n)?;
    let path = inv.args.str("Path").unwrap_or_default();
    let base = path.trim_end_matches('\\');
    let recurse = inv.args.switch("Recurse");
    let files: Vec<_> = n
        .files
        .iter()
        .filter(|f| {
            f.path.eq_ignore_ascii_case(base)
                || (path_under(&f.path, base)
                    && (recurse || !f.path[base.len() + 1..].contains('\\')))
        })
        .collect();
    if files.is_empty() {
        return Err(CommandError(format!(
            "Cannot find path '{path}' on {} because it does not exist (or it holds only subfolders: add -Recurse)",
            n.name
        )));
    }
    let mut out: Vec<Value> = Vec::new();
    for f in files {
        let text = format!(
            "pep SIMULATED COPY: the simulated node has no file contents; this placeholder stands for the file.\n\
             Node: {}\nPath: {}\nSizeBytes: {}\nLastWriteTimeUtc: {}\n",
            n.name,
            f.path,
            f.size_bytes,
            f.modified.map(|t| t.to_rfc3339()).unwrap_or_default()
        );
        let rel = format!("{}/{}", n.name, sanitise(&f.path));
        inv.workdir.write_new(&rel, text.as_bytes())?;
        out.push(
            Record::new("Azs.Support.CopiedFile")
                .with("ComputerName", &n.name)
                .with("Source", &f.path)
                .with("Destination", rel)
                .with("Length", text.len() as u64)
                .with(
                    "Note",
                    format!(
                        "simulated node: placeholder text for a {}-byte file",
                        f.size_bytes
                    ),
                )
                .into(),
        );
    }
    out.sort_by_key(Value::to_display);
    Ok(out)
}

/// `YYYYMMDDTHHMMSSZ-<id>` → its time.
fn workdir_time(name: &str) -> Option<DateTime<Utc>> {
    let (ts, id) = name.split_once('-')?;
    let id_ok = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ts.len() != 16 || !id_ok {
        return None;
    }
    NaiveDateTime::parse_from_str(ts, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match fs::symlink_metadata(e.path()) {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) if m.is_file() => m.len(),
            _ => 0,
        })
        .sum()
}

/// Clear-AzsSupportParentWorkingDirectory [-ComputerName] [-OlderThanDays]: removes the sibling
/// working directories (named `YYYYMMDDTHHMMSSZ-<id>`, real directories, not symlinks) older than
/// the cutoff, never the current one. They live on the privileged endpoint's node only.
pub fn clear_parent_working_directory(
    inv: &mut Invocation<'_>,
) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let wanted = inv.args.strings("ComputerName");
    let nodes = select_nodes(stamp, &wanted)?;
    let pep = stamp.pep_node().to_string();
    if !nodes.iter().any(|n| n.name.eq_ignore_ascii_case(&pep)) {
        return Ok(vec![]);
    }
    let days = inv.args.int("OlderThanDays").unwrap_or(7);
    let cutoff = inv.now - Duration::days(days);
    let current = inv.workdir.path();
    let (Some(parent), Some(own)) = (current.parent(), current.file_name()) else {
        return Ok(vec![]);
    };
    let Ok(entries) = fs::read_dir(parent) else {
        return Ok(vec![]);
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(text) = name.to_str() else { continue };
        let is_dir = fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_dir());
        if name == own || !is_dir || workdir_time(text).is_none_or(|t| t >= cutoff) {
            continue;
        }
        let bytes = dir_bytes(&e.path());
        fs::remove_dir_all(e.path())
            .map_err(|err| CommandError(format!("removing {text}: {err}")))?;
        out.push((e.path().display().to_string(), bytes));
    }
    out.sort();
    Ok(out
        .into_iter()
        .map(|(p, b)| {
            Record::new("Azs.Support.WorkingDirectoryRemoval")
                .with("ComputerName", &pep)
                .with("Path", p)
                .with("BytesFreed", b)
                .into()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::testing::default_stamp;
    use super::super::{Implementation, Mode, StampAccess};
    use super::*;
    use crate::args::BoundArgs;
    use crate::stamp::{FileEntry, Stamp};
    use crate::workdir::WorkingDirectory;

    struct Env {
        _tmp: tempfile::TempDir,
        wd: WorkingDirectory,
    }

    fn env() -> Env {
        let tmp = tempfile::tempdir().expect("tmp");
        let wd = WorkingDirectory::new(tmp.path(), Utc::now(), "cur", 1 << 20);
        Env { _tmp: tmp, wd }
    }

    fn run(
        e: &Env,
        s: &mut Stamp,
        f: Implementation,
        args: &[(&str, Value)],
        mode: Mode,
    ) -> Result<Vec<Value>, CommandError> {
        let mut bound = BoundArgs::new();
        for (k, v) in args {
            bound.insert(k, v.clone());
        }
        let mut inv = Invocation::new(
            &bound,
            vec![],
            StampAccess::Write(s),
            &e.wd,
            Utc::now(),
            mode,
        );
        f(&mut inv)
    }

    fn ok(e: &Env, s: &mut Stamp, f: Implementation, args: &[(&str, Value)]) -> Vec<Value> {
        run(e, s, f, args, Mode::Execute).unwrap_or_else(|x| panic!("{x}"))
    }

    fn get(v: &Value, k: &str) -> String {
        v.as_record()
            .and_then(|r| r.get(k))
            .map(Value::to_display)
            .unwrap_or_default()
    }

    fn cn(n: &str) -> (&'static str, Value) {
        ("ComputerName", n.into())
    }

    #[test]
    fn netsh_trace_start_stop_and_read_back() {
        let e = env();
        let mut s = default_stamp();
        let host = [cn("AZS-HOST01")];
        let before = s.clone();
        assert!(run(&e, &mut s, enable_netsh_trace, &host, Mode::WhatIf)
            .expect("wi")
            .is_empty());
        assert_eq!(s, before);
        let x = run(&e, &mut s, disable_netsh_trace, &host, Mode::Execute).expect_err("none");
        assert!(x.0.contains("no packet trace"), "{x}");
        let on = ok(
            &e,
            &mut s,
            enable_netsh_trace,
            &[cn("azs-host01"), ("MaxSize", 512i64.into())],
        );
        assert_eq!(get(&on[0], "State"), "Running");
        assert_eq!(get(&on[0], "MaxSizeMB"), "512");
        assert!(get(&on[0], "TraceFile").ends_with("AZS-HOST01_netshTrace.etl"));
        let x = run(&e, &mut s, enable_netsh_trace, &host, Mode::Execute).expect_err("twice");
        assert!(x.0.contains("already running"), "{x}");
        let off = ok(&e, &mut s, disable_netsh_trace, &host);
        let text = fs::read_to_string(get(&off[0], "TraceFile")).expect("file");
        assert!(
            text.contains("SIMULATED packet trace of AZS-HOST01"),
            "{text}"
        );
        assert!(s
            .node("AZS-HOST01")
            .is_some_and(|n| n.netsh_trace.is_none()));
        let files = ok(&e, &mut s, get_trace_file_path, &host);
        assert_eq!(files.len(), 1);
        assert_eq!(get(&files[0], "Name"), "netshTrace");
        let path = get(&files[0], "Path");
        let ev = ok(
            &e,
            &mut s,
            get_trace_event,
            &[cn("AZS-HOST01"), ("Path", path.into())],
        );
        assert_eq!(ev.len(), 2);
        assert_eq!(get(&ev[0], "Id"), "1001");
        let win = ok(
            &e,
            &mut s,
            get_trace_event,
            &[
                cn("AZS-HOST01"),
                ("Path", r"C:\Traces\AZS-HOST01_netshTrace.etl".into()),
                ("MaxEvents", 1i64.into()),
            ],
        );
        assert_eq!(win.len(), 1);
        let x = run(
            &e,
            &mut s,
            get_trace_event,
            &[
                cn("AZS-HOST02"),
                ("Path", "AZS-HOST01_netshTrace.etl".into()),
            ],
            Mode::Execute,
        )
        .expect_err("other node");
        assert!(x.0.contains("Get-AzsSupportTraceFilePath"), "{x}");
        // A second trace in the same session gets its own file.
        ok(&e, &mut s, enable_netsh_trace, &host);
        ok(&e, &mut s, disable_netsh_trace, &host);
        assert_eq!(ok(&e, &mut s, get_trace_file_path, &host).len(), 2);
    }

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
        assert!(fs::read_to_string(&path)
            .expect("dump")
            .contains("SIMULATED DUMP"));
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
    fn wmi_tracing_with_dumps() {
        let e = env();
        let mut s = default_stamp();
        let out = ok(
            &e,
            &mut s,
            invoke_wmi_tracing,
            &[cn("AZS-HOST02"), ("IncludeDumps", true.into())],
        );
        assert_eq!(get(&out[0], "Duration"), "00:01:00");
        assert!(get(&out[0], "DumpFiles").contains("AZS-HOST02_svchost_"));
        let files = ok(
            &e,
            &mut s,
            get_trace_file_path,
            &[cn("AZS-HOST02"), ("Name", "Wmi*".into())],
        );
        assert_eq!(files.len(), 1);
        let ev = ok(
            &e,
            &mut s,
            get_trace_event,
            &[
                cn("AZS-HOST02"),
                ("Path", get(&files[0], "Path").into()),
                ("Level", "Information".into()),
            ],
        );
        assert_eq!(ev.len(), WMI_PROVIDERS.len() + 1);
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
        let text = fs::read_to_string(get(&gw[0], "Path")).expect("snapshot");
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

    #[test]
    fn copy_files_sanitised_placeholders() {
        let e = env();
        let mut s = default_stamp();
        let x = run(
            &e,
            &mut s,
            copy_files,
            &[cn("AZS-ERCS01"), ("Path", r"C:\Windows".into())],
            Mode::Execute,
        )
        .expect_err("subfolders only");
        assert!(x.0.contains("-Recurse"), "{x}");
        let out = ok(
            &e,
            &mut s,
            copy_files,
            &[
                cn("AZS-ERCS01"),
                ("Path", r"C:\".into()),
                ("Recurse", true.into()),
            ],
        );
        assert_eq!(out.len(), 2);
        let dest: Vec<String> = out.iter().map(|r| get(r, "Destination")).collect();
        assert!(
            dest.contains(&"AZS-ERCS01/C_MASLogs_ERCSDeploy.log".to_string()),
            "{dest:?}"
        );
        let text = fs::read_to_string(e.wd.resolve(&dest[0]).expect("resolve")).expect("copy");
        assert!(
            text.contains("SIMULATED COPY") && text.contains("SizeBytes:"),
            "{text}"
        );
        assert_eq!(sanitise(r"C:\a b\..x\y"), "C_a_b_..x_y");
    }

    #[test]
    fn parent_cleanup_keeps_current_and_recent() {
        let e = env();
        let mut s = default_stamp();
        let root = e.wd.ensure().expect("ensure").to_path_buf();
        let parent = root.parent().expect("parent").to_path_buf();
        let old = parent.join("20200101T000000Z-old1");
        fs::create_dir_all(old.join("sub")).expect("mk");
        fs::write(old.join("sub/f"), b"12345").expect("w");
        let recent_name = format!("{}-new1", Utc::now().format("%Y%m%dT%H%M%SZ"));
        fs::create_dir_all(parent.join(&recent_name)).expect("mk");
        fs::create_dir_all(parent.join("keepme")).expect("mk");
        fs::write(parent.join("20200101T000000Z-file"), b"x").expect("w");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&old, parent.join("20200101T000000Z-link")).expect("ln");
        let out = ok(&e, &mut s, clear_parent_working_directory, &[]);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(get(&out[0], "BytesFreed"), "5");
        assert!(!old.exists());
        assert!(
            parent.join(recent_name).exists() && parent.join("keepme").exists() && root.exists()
        );
        assert!(parent.join("20200101T000000Z-file").exists());
        let none = ok(
            &e,
            &mut s,
            clear_parent_working_directory,
            &[("ComputerName", vec!["AZS-HOST01"].into())],
        );
        assert!(none.is_empty());
        assert!(workdir_time("20261120T101500Z-abc").is_some());
        assert!(workdir_time("2026-11-20").is_none());
    }
}
