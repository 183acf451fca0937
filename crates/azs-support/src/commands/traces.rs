//! Traces of a node: Enable-/Disable-AzsSupportNetshTrace (packet trace),
//! Invoke-AzsSupportWmiTracing, and reading traces back with Get-AzsSupportTraceFilePath and
//! Get-AzsSupportTraceEvent.
//!
//! The node's host runs them ([`crate::host::Host`]): a simulated node writes placeholder `.etl`
//! files carrying `EVENT` lines; the real machine captures packets (pcapng) and traces system
//! calls. Trace files are named `<NODE>_<component>[_<time>].<ext>` in the case's working
//! directory.

use super::{CommandError, Invocation, Table};
use crate::host::{CallTraceRequest, CaptureRequest, TraceQuery};
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Enable-AzsSupportNetshTrace", enable_netsh_trace),
    ("Disable-AzsSupportNetshTrace", disable_netsh_trace),
    ("Invoke-AzsSupportWmiTracing", invoke_wmi_tracing),
    ("Get-AzsSupportTraceFilePath", get_trace_file_path),
    ("Get-AzsSupportTraceEvent", get_trace_event),
];

fn computer_name(inv: &Invocation<'_>) -> String {
    inv.args.str("ComputerName").unwrap_or_default().to_string()
}

/// Numbers of a parameter given once or as a list.
fn numbers(inv: &Invocation<'_>, name: &str) -> Vec<f64> {
    match inv.args.get(name) {
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_f64()).collect(),
        Some(Value::Int(i)) => vec![*i as f64],
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------- netsh trace

/// Enable-AzsSupportNetshTrace -ComputerName [-Interface] [-MaxSize] [-Duration] [-Protocol]
/// [-Port] [-Address]: starts a packet trace.
pub fn enable_netsh_trace(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let node = computer_name(inv);
    let req = CaptureRequest {
        interface: inv.args.str("Interface").map(str::to_string),
        max_size_mb: inv.args.int("MaxSize").unwrap_or(1024),
        duration_secs: inv.args.int("Duration").unwrap_or(600),
        protocols: inv.args.strings("Protocol"),
        ports: numbers(inv, "Port"),
        addresses: inv.args.strings("Address"),
    };
    let rec = inv.act(&node, |h, call| h.start_capture(&req, call))?;
    Ok(rec.into_iter().map(Value::from).collect())
}

/// Disable-AzsSupportNetshTrace -ComputerName: stops the trace; its file.
pub fn disable_netsh_trace(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let node = computer_name(inv);
    let rec = inv.act(&node, |h, call| h.stop_capture(call))?;
    Ok(rec.into_iter().map(Value::from).collect())
}

// ---------------------------------------------------------------- WMI tracing

/// Invoke-AzsSupportWmiTracing -ComputerName [-ProcessId] [-DurationInSeconds] [-IncludeDumps].
pub fn invoke_wmi_tracing(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let node = computer_name(inv);
    let req = CallTraceRequest {
        process_id: inv.args.int("ProcessId"),
        seconds: inv.args.int("DurationInSeconds").unwrap_or(60),
        include_dumps: inv.args.switch("IncludeDumps"),
    };
    let rec = inv.act(&node, |h, call| h.trace_calls(&req, call))?;
    Ok(rec.into_iter().map(Value::from).collect())
}

// ---------------------------------------------------------------- trace files

/// Get-AzsSupportTraceFilePath -ComputerName [-Name]: the trace files of the node in the working
/// directory (`<NODE>_<component>[_<time>].<ext>`).
pub fn get_trace_file_path(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let host = inv.host(&computer_name(inv))?;
    let n = host.node();
    let extensions = host.trace_extensions();
    let pattern = inv.args.str("Name").unwrap_or("*");
    let prefix = format!("{}_", n.name.to_ascii_lowercase());
    let mut rows = Vec::new();
    for f in inv.workdir.files(false)? {
        let lower = f.name.to_ascii_lowercase();
        let Some(rest) = lower.strip_prefix(&prefix) else {
            continue;
        };
        if !extensions.iter().any(|e| lower.ends_with(e)) {
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
/// the events of a trace file of the node, in time order.
pub fn get_trace_event(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let host = inv.host(&computer_name(inv))?;
    let n = host.node();
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
    let q = TraceQuery {
        from: inv.args.datetime("FromDate"),
        to: inv.args.datetime("ToDate"),
        level: inv.args.str("Level").map(str::to_string),
        max: usize::try_from(inv.args.int("MaxEvents").unwrap_or(1000)).unwrap_or(1000),
    };
    let path = inv.workdir.resolve(&file.relative_path)?;
    Ok(host
        .trace_events(&path, &q)
        .map_err(CommandError)?
        .into_iter()
        .map(Value::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::artefacts::testing::{cn, env, get, ok, run};
    use super::super::testing::default_stamp;
    use super::super::Mode;
    use super::*;
    use std::fs;

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
        // One event per WMI provider traced, and Winmgmt's state.
        assert_eq!(ev.len(), 5);
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
