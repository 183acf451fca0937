//! The diagnostic tools on a simulated node: packet trace, WMI trace, process dump, handles,
//! network snapshot, file copies, folder sizes and code integrity, answered from the model.
//!
//! Simulated nodes have no packets, memory or file contents, so every artefact a tool writes is a
//! small placeholder that says it is simulated (node, process or file it stands for), in the
//! case's working directory (path-checked, quota-enforced). Trace placeholders carry `EVENT`
//! lines (`host::event_lines`) that Get-AzsSupportTraceEvent reads back.

use super::SimulatedHost;
use crate::host::call::clock_duration;
use crate::host::event_lines::event_line;
use crate::host::{
    stamp_time, Acted, Call, CallTraceRequest, CaptureRequest, Effect, ProcessSelector,
};
use crate::stamp::node::{path_under, trim_dir, NetshTrace};
use crate::stamp::{NodeState, Process, ServiceState, Stamp};
use crate::value::{Record, Value};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// The note a placeholder artefact carries.
pub const SIMULATED: &str = "simulated node: placeholder file, no real data was captured";

/// The WMI providers Invoke-AzsSupportWmiTracing traces.
const WMI_PROVIDERS: &[&str] = &[
    "Microsoft-Windows-WMI-Activity",
    "Microsoft-Windows-WMI",
    "Microsoft-Windows-WinRM",
    "Microsoft-Windows-DistributedCOM",
];

const MIB: f64 = 1024.0 * 1024.0;

fn round2(f: f64) -> f64 {
    (f * 100.0).round() / 100.0
}

// ---------------------------------------------------------------- packet trace

fn netsh_record(node: &str, state: &str, t: &NetshTrace, path: &str, extra: &str) -> Record {
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
}

pub(super) fn start_capture(
    h: &SimulatedHost<'_>,
    req: &CaptureRequest,
    call: &mut Call<'_>,
) -> Acted<Record> {
    let n = h.node;
    h.reachable()?;
    if let Some(t) = &n.netsh_trace {
        return Err(format!(
            "a packet trace is already running on {} (started {}); stop it with Disable-AzsSupportNetshTrace first",
            n.name,
            t.started.map(|s| s.to_rfc3339()).unwrap_or_default()
        ));
    }
    let name = n.name.clone();
    let mut file = format!("{name}_netshTrace.etl");
    if call
        .workdir
        .resolve(&file)
        .map_err(|e| e.to_string())?
        .exists()
    {
        file = format!("{name}_netshTrace_{}.etl", stamp_time(call.now));
    }
    let path = call.workdir.resolve(&file).map_err(|e| e.to_string())?;
    if !call.should_process(&name, "Start a packet trace") {
        return Ok(None);
    }
    let trace = NetshTrace {
        interface: req.interface.clone().unwrap_or_default(),
        max_size_mb: req.max_size_mb,
        started: Some(call.now),
        file,
    };
    let record = netsh_record(&name, "Running", &trace, &call.workdir.shown(&path), "");
    Ok(Some(Effect::Change(Box::new(move |stamp: &mut Stamp| {
        if let Some(n) = stamp.node_mut(&name) {
            n.netsh_trace = Some(trace);
        }
        Ok(record)
    }))))
}

pub(super) fn stop_capture(h: &SimulatedHost<'_>, call: &mut Call<'_>) -> Acted<Record> {
    let n = h.node;
    h.reachable()?;
    let Some(t) = n.netsh_trace.clone() else {
        return Err(format!(
            "no packet trace is running on {}; start one with Enable-AzsSupportNetshTrace",
            n.name
        ));
    };
    let name = n.name.clone();
    if !call.should_process(&name, "Stop the packet trace") {
        return Ok(None);
    }
    let started = t.started.unwrap_or(call.now);
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
        call.now.to_rfc3339()
    );
    text += &event_line(
        started,
        "Information",
        "Microsoft-Windows-NDIS-PacketCapture",
        1001,
        &format!("Packet capture started on {name} ({iface}) [simulated]"),
    );
    text += &event_line(
        call.now,
        "Information",
        "Microsoft-Windows-NDIS-PacketCapture",
        1002,
        "Packet capture stopped; no packets recorded [simulated]",
    );
    let path = call
        .workdir
        .write_keeping(&t.file, call.now, text.as_bytes())
        .map_err(|e| e.to_string())?;
    let extra = format!(" ({} bytes written)", text.len());
    let record = netsh_record(&name, "Stopped", &t, &call.workdir.shown(&path), &extra);
    Ok(Some(Effect::Change(Box::new(move |stamp: &mut Stamp| {
        if let Some(n) = stamp.node_mut(&name) {
            n.netsh_trace = None;
        }
        Ok(record)
    }))))
}

// ---------------------------------------------------------------- WMI trace and dumps

/// Writes the placeholder dump of process `p` of `node` to
/// `<workdir>/dumps/<node>_<name>_<pid>.dmp`; returns its shown path and length.
fn write_dump(call: &Call<'_>, node: &str, p: &Process) -> Result<(String, u64), String> {
    let text = format!(
        "pep SIMULATED DUMP: not a memory image (simulated nodes have no process memory)\n\
         Node: {node}\nProcess: {}\nProcessId: {}\nWorkingSetMB: {}\nService: {}\nTaken: {}\n",
        p.name,
        p.id,
        p.working_set_mb,
        p.service,
        call.now.to_rfc3339()
    );
    let rel = format!("dumps/{node}_{}_{}.dmp", p.name, p.id);
    let path = call
        .workdir
        .write_keeping(&rel, call.now, text.as_bytes())
        .map_err(|e| e.to_string())?;
    Ok((call.workdir.shown(&path), text.len() as u64))
}

pub(super) fn trace_calls(
    h: &SimulatedHost<'_>,
    req: &CallTraceRequest,
    call: &mut Call<'_>,
) -> Acted<Record> {
    let n = h.node;
    h.reachable()?;
    let secs = req.seconds;
    if !call.should_process(&n.name, &format!("Trace the WMI providers for {secs} s")) {
        return Ok(None);
    }
    let start = call.now - Duration::seconds(secs);
    let mut text = format!(
        "# pep SIMULATED WMI trace of {}: NOT a real trace (simulated nodes run no providers)\n\
         # Providers: {}\n# Window: {} .. {}\n",
        n.name,
        WMI_PROVIDERS.join(", "),
        start.to_rfc3339(),
        call.now.to_rfc3339()
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
    if let Some(s) = n.services.iter().find(|s| s.name == "Winmgmt") {
        let msg = format!("Winmgmt service is {} [simulated]", s.state);
        let level = if s.state == ServiceState::Running {
            "Information"
        } else {
            "Error"
        };
        text += &event_line(call.now, level, WMI_PROVIDERS[0], 5858, &msg);
    }
    let file = format!("{}_WmiTrace_{}.etl", n.name, stamp_time(call.now));
    let path = call
        .workdir
        .write_keeping(&file, call.now, text.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut dumps = Vec::new();
    if req.include_dumps {
        for p in n.processes.iter().filter(|p| {
            p.name.eq_ignore_ascii_case("WmiPrvSE") || p.service.eq_ignore_ascii_case("Winmgmt")
        }) {
            dumps.push(Value::from(write_dump(call, &n.name, p)?.0));
        }
    }
    let secs = u64::try_from(secs).unwrap_or(0);
    Ok(Some(Effect::Done(
        Record::new("Azs.Support.TraceResult")
            .with("ComputerName", &n.name)
            .with("TraceFile", call.workdir.shown(&path))
            .with("DumpFiles", Value::Array(dumps))
            .with("Duration", clock_duration(secs))
            .with("Note", SIMULATED),
    )))
}

pub(super) fn dump_process(
    h: &SimulatedHost<'_>,
    which: &ProcessSelector,
    call: &mut Call<'_>,
) -> Result<Record, String> {
    let n = h.node;
    h.reachable()?;
    let p = match which {
        ProcessSelector::Id(id) => n
            .processes
            .iter()
            .find(|p| i64::from(p.id) == *id)
            .ok_or_else(|| format!("no process with id {id} on {}", n.name))?,
        ProcessSelector::Name(name) => {
            let found: Vec<&Process> = n
                .processes
                .iter()
                .filter(|p| p.name.eq_ignore_ascii_case(name))
                .collect();
            match found.as_slice() {
                [] => return Err(format!("no process named '{name}' on {}", n.name)),
                [p] => *p,
                many => {
                    let ids: Vec<String> = many.iter().map(|p| p.id.to_string()).collect();
                    return Err(format!(
                        "{} processes named '{name}' on {} (ids {}); give -ProcessId",
                        many.len(),
                        n.name,
                        ids.join(", ")
                    ));
                }
            }
        }
    };
    let (path, len) = write_dump(call, &n.name, p)?;
    Ok(Record::new("Azs.Support.DumpFile")
        .with("ComputerName", &n.name)
        .with("ProcessName", &p.name)
        .with("ProcessId", p.id)
        .with("Path", path)
        .with("Length", len)
        .with("Note", SIMULATED))
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

/// Per process and handle type: the first handle value, a representative name and the count
/// (derived from the process's total).
pub(super) fn handles(
    h: &SimulatedHost<'_>,
    id: Option<i64>,
    kind: Option<&str>,
) -> Result<Vec<Record>, String> {
    let n = h.node;
    h.reachable()?;
    if let Some(id) = id {
        if !n.processes.iter().any(|p| i64::from(p.id) == id) {
            return Err(format!("no process with id {id} on {}", n.name));
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
                    .with("Count", c),
            );
        }
    }
    Ok(out)
}

/// A text snapshot of the node's network services and site-to-site connections.
pub(super) fn net_view(h: &SimulatedHost<'_>, call: &mut Call<'_>) -> Result<Record, String> {
    let (n, stamp) = (h.node, h.stamp);
    let mut text = format!(
        "pep SIMULATED network snapshot of {}: taken from the stamp model, no real adapters were queried\n\
         Taken: {}\nRole: {}\nState: {}\nHost: {}\n\n[Network services]\n",
        n.name,
        call.now.to_rfc3339(),
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
    let rel = format!("{}_GetNetView_{}.txt", n.name, stamp_time(call.now));
    let path = call
        .workdir
        .write_keeping(&rel, call.now, text.as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(Record::new("Azs.Support.CollectedFile")
        .with("ComputerName", &n.name)
        .with("Path", call.workdir.shown(&path))
        .with("Length", text.len() as u64)
        .with(
            "Note",
            "simulated node: a text snapshot of the stamp model, not a GetNetView archive",
        ))
}

// ---------------------------------------------------------------- files

/// A Windows path as a plain file name: `C:\MASLogs\a.log` → `C_MASLogs_a.log`.
pub(crate) fn sanitise(path: &str) -> String {
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

/// The model's files at `path` (its files directly, or all below with `recurse`) as placeholder
/// texts in `<workdir>/<NODE>/`.
pub(super) fn copy_files(
    h: &SimulatedHost<'_>,
    path: &str,
    recurse: bool,
    call: &mut Call<'_>,
) -> Result<Vec<Record>, String> {
    let n = h.node;
    h.reachable()?;
    let base = path.trim_end_matches('\\');
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
        return Err(format!(
            "Cannot find path '{path}' on {} because it does not exist (or it holds only subfolders: add -Recurse)",
            n.name
        ));
    }
    let mut out = Vec::new();
    for f in files {
        let text = format!(
            "pep SIMULATED COPY: the simulated node has no file contents; this placeholder stands for the file.\n\
             Node: {}\nPath: {}\nSizeBytes: {}\nLastWriteTimeUtc: {}\n",
            n.name,
            f.path,
            f.size_bytes,
            f.modified.map(|t| t.to_rfc3339()).unwrap_or_default()
        );
        let wanted = format!("{}/{}", n.name, sanitise(&f.path));
        let written = call
            .workdir
            .write_keeping(&wanted, call.now, text.as_bytes())
            .map_err(|e| e.to_string())?;
        out.push(
            Record::new("Azs.Support.CopiedFile")
                .with("ComputerName", &n.name)
                .with("Source", &f.path)
                .with("Destination", call.workdir.shown(&written))
                .with("Length", text.len() as u64)
                .with(
                    "Note",
                    format!(
                        "simulated node: placeholder text for a {}-byte file",
                        f.size_bytes
                    ),
                ),
        );
    }
    Ok(out)
}

/// A measured child of a folder: display path, bytes, files, last write.
type FolderEntry = (String, u64, u64, Option<DateTime<Utc>>);

/// The children of a model folder, largest first, each with its total size and file count.
pub(super) fn folder_size(h: &SimulatedHost<'_>, path: &str) -> Result<Vec<Record>, String> {
    let node = h.node;
    let base = trim_dir(path);
    let drive = base.get(..2).unwrap_or_default();
    if !node
        .disks
        .iter()
        .any(|d| d.drive.eq_ignore_ascii_case(drive))
    {
        let drives: Vec<&str> = node.disks.iter().map(|d| d.drive.as_str()).collect();
        return Err(format!(
            "{} has no drive {drive} (drives: {})",
            node.name,
            drives.join(", ")
        ));
    }
    // child path (lower case) → (display path, bytes, files, last write)
    let mut children: BTreeMap<String, FolderEntry> = BTreeMap::new();
    for f in &node.files {
        let child = if f.path.eq_ignore_ascii_case(base) {
            f.path.clone()
        } else if path_under(&f.path, base) {
            let rest = &f.path[base.len() + 1..];
            let seg = rest.split('\\').next().unwrap_or(rest);
            format!("{}\\{seg}", &f.path[..base.len()])
        } else {
            continue;
        };
        let e = children
            .entry(child.to_ascii_lowercase())
            .or_insert((child, 0, 0, None));
        e.1 += f.size_bytes;
        e.2 += 1;
        e.3 = e.3.max(f.modified);
    }
    let mut rows: Vec<_> = children.into_values().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(rows
        .into_iter()
        .map(|(p, bytes, count, modified)| {
            Record::new("Azs.Support.FolderSize")
                .with("Path", p)
                .with("SizeMB", round2(bytes as f64 / MIB))
                .with("FileCount", count)
                .with("LastWriteTimeUtc", modified)
        })
        .collect())
}

/// The node's code integrity policy: enforced while it answers.
pub(super) fn code_integrity(h: &SimulatedHost<'_>) -> Record {
    let n = h.node;
    let reachable = matches!(
        n.state,
        NodeState::Running | NodeState::Up | NodeState::Paused
    );
    let status = if reachable { "Enforced" } else { "Unknown" };
    let policy = if n.host.is_empty() {
        "AzureStackHub-Host-CIPolicy"
    } else {
        "AzureStackHub-InfraVM-CIPolicy"
    };
    Record::new("Azs.Support.CodeIntegrityStatus")
        .with("ComputerName", &n.name)
        .with("KernelModeStatus", status)
        .with("UserModeStatus", status)
        .with("PolicyName", policy)
}
