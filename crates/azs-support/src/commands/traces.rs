//! Traces of the simulated nodes of the stamp: Enable-/Disable-AzsSupportNetshTrace (packet
//! trace), Invoke-AzsSupportWmiTracing, and reading traces back with Get-AzsSupportTraceFilePath
//! and Get-AzsSupportTraceEvent.
//!
//! The trace files are placeholders (see `artefacts`) named `<NODE>_<component>[_<time>].etl` in
//! the session's working directory. They carry `EVENT` lines (tab-separated: time, level,
//! provider, id, message) that Get-AzsSupportTraceEvent reads back.

use super::artefacts::{stamp_time, write_dump, SIMULATED};
use super::hosts::computer;
use super::machine_tools::{self, real_target};
use super::{CommandError, Invocation, Table};
use crate::stamp::node::NetshTrace;
use crate::stamp::ServiceState;
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;
use chrono::{DateTime, Duration, Utc};
use std::fs;

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Enable-AzsSupportNetshTrace", enable_netsh_trace),
    ("Disable-AzsSupportNetshTrace", disable_netsh_trace),
    ("Invoke-AzsSupportWmiTracing", invoke_wmi_tracing),
    ("Get-AzsSupportTraceFilePath", get_trace_file_path),
    ("Get-AzsSupportTraceEvent", get_trace_event),
];

/// The WMI providers Invoke-AzsSupportWmiTracing traces.
const WMI_PROVIDERS: &[&str] = &[
    "Microsoft-Windows-WMI-Activity",
    "Microsoft-Windows-WMI",
    "Microsoft-Windows-WinRM",
    "Microsoft-Windows-DistributedCOM",
];

fn event_line(t: DateTime<Utc>, level: &str, provider: &str, id: u32, msg: &str) -> String {
    format!(
        "EVENT\t{}\t{level}\t{provider}\t{id}\t{msg}\n",
        t.to_rfc3339()
    )
}

// ---------------------------------------------------------------- netsh trace

/// Enable-AzsSupportNetshTrace -ComputerName [-Interface] [-MaxSize]: starts the simulated trace.
pub fn enable_netsh_trace(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    if let Some(n) = real_target(inv) {
        return machine_tools::enable_trace(inv, &n);
    }
    let n = computer(inv)?;
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
    let record = netsh_record(&name, "Running", &trace, &inv.workdir.shown(&path), "");
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
    if let Some(n) = real_target(inv) {
        return machine_tools::disable_trace(inv, &n);
    }
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
    let path = inv
        .workdir
        .write_keeping(&t.file, inv.now, text.as_bytes())?;
    let extra = format!(" ({} bytes written)", text.len());
    let record = netsh_record(&name, "Stopped", &t, &inv.workdir.shown(&path), &extra);
    if let Some(n) = inv.stamp_mut()?.node_mut(&name) {
        n.netsh_trace = None;
    }
    Ok(vec![record])
}

// ---------------------------------------------------------------- WMI tracing

/// Invoke-AzsSupportWmiTracing -ComputerName [-DurationInSeconds] [-IncludeDumps].
pub fn invoke_wmi_tracing(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    if let Some(n) = real_target(inv) {
        return machine_tools::wmi_trace(inv, &n);
    }
    let n = computer(inv)?;
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
        let level = if s.state == ServiceState::Running {
            "Information"
        } else {
            "Error"
        };
        text += &event_line(inv.now, level, WMI_PROVIDERS[0], 5858, &msg);
    }
    let file = format!("{}_WmiTrace_{}.etl", n.name, stamp_time(inv.now));
    let path = inv.workdir.write_keeping(&file, inv.now, text.as_bytes())?;
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
        .with("TraceFile", inv.workdir.shown(&path))
        .with("DumpFiles", Value::Array(dumps))
        .with("Duration", duration)
        .with("Note", SIMULATED)
        .into()])
}

// ---------------------------------------------------------------- trace files

/// Get-AzsSupportTraceFilePath -ComputerName [-Name]: the trace files of the node in the working
/// directory (`<NODE>_<component>[_<time>].etl`).
pub fn get_trace_file_path(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let real = real_target(inv);
    let n = match &real {
        Some(n) => n,
        None => computer(inv)?,
    };
    let pattern = inv.args.str("Name").unwrap_or("*");
    let prefix = format!("{}_", n.name.to_ascii_lowercase());
    let mut rows = Vec::new();
    for f in inv.workdir.files(false)? {
        let lower = f.name.to_ascii_lowercase();
        let Some(rest) = lower.strip_prefix(&prefix) else {
            continue;
        };
        if !(lower.ends_with(".etl") || (n.real && lower.ends_with(".pcapng"))) {
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
    let real = real_target(inv);
    let n = match &real {
        Some(n) => n,
        None => computer(inv)?,
    };
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
    if n.real && file.name.to_ascii_lowercase().ends_with(".pcapng") {
        return machine_tools::capture_events(inv, n, &file.relative_path);
    }
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

#[cfg(test)]
mod tests {
    use super::super::artefacts::testing::{cn, env, get, ok, run};
    use super::super::testing::default_stamp;
    use super::super::Mode;
    use super::*;

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
        let text = fs::read_to_string(e.wd.path().join(get(&off[0], "TraceFile"))).expect("file");
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
    fn wmi_traces_run_back_to_back_each_keep_their_file() {
        let e = env();
        let mut s = default_stamp();
        let files: std::collections::BTreeSet<String> = (0..4)
            .map(|_| {
                get(
                    &ok(&e, &mut s, invoke_wmi_tracing, &[cn("AZS-HOST01")])[0],
                    "TraceFile",
                )
            })
            .collect();
        assert_eq!(files.len(), 4, "{files:?}");
    }
}
