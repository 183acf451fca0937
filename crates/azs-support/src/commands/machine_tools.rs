//! The tracing and diagnostic tools on a real machine: a packet capture (Enable-/Disable-
//! AzsSupportNetshTrace, read back with Get-AzsSupportTraceFilePath / -TraceEvent), a process
//! dump (Invoke-AzsSupportProcDump), open handles (Invoke-AzsSupportHandle), a network
//! snapshot (Invoke-AzsSupportGetNetView) and a system-call trace of a process
//! (Invoke-AzsSupportWmiTracing). The commands' own files (`traces`,
//! `diagnostic_tools`) hand a real node to these; everything a tool writes lands in the session's
//! working directory, charged to its quota.

use super::artefacts::stamp_time;
use super::{CommandError, Invocation};
use crate::host::linux::capture::{self, Capture, CaptureSpec, Protocol};
use crate::host::linux::live_captures::{self, CaptureInfo};
use crate::host::linux::runner::Runner;
use crate::host::linux::{coredump, handles, processes, syscall_trace, system};
use crate::stamp::Node;
use crate::value::{Record, Value};
use std::net::IpAddr;
use std::time::Duration;

/// The node named by `-ComputerName` when it is a real machine.
pub(crate) fn real_target(inv: &Invocation<'_>) -> Option<Node> {
    inv.stamp()
        .node(inv.args.str("ComputerName").unwrap_or_default())
        .filter(|n| n.real)
        .cloned()
}

fn err(e: impl std::fmt::Display) -> CommandError {
    CommandError(e.to_string())
}

/// `-ProcessId` as a PID (a negative or huge one names no process).
fn pid_of(id: i64) -> Result<u32, CommandError> {
    u32::try_from(id).map_err(|_| {
        CommandError(format!(
            "Cannot find a process with the process identifier {id}"
        ))
    })
}

/// Refuses a process pep must not `verb` (PID 1, kernel threads, pep and its ancestors).
fn refuse_protected(
    verb: &str,
    p: &processes::ProcessInfo,
    node: &Node,
) -> Result<(), CommandError> {
    match processes::protected(p.id) {
        Some(why) => Err(CommandError(format!(
            "refusing to {verb} {} (id {}) on {}: {why}",
            p.name, p.id, node.name
        ))),
        None => Ok(()),
    }
}

/// What the working directory's quota has left.
fn room(inv: &Invocation<'_>) -> Result<u64, CommandError> {
    Ok(inv
        .workdir
        .quota_bytes()
        .saturating_sub(inv.workdir.used_bytes()?))
}

// ---------------------------------------------------------------- packet capture

/// Enable-AzsSupportNetshTrace on a real machine: dumpcap writes `<NODE>_netshTrace.pcapng` in
/// the working directory, bounded by -Duration and -MaxSize, filtered by -Protocol, -Port and
/// -Address.
pub(crate) fn enable_trace(
    inv: &mut Invocation<'_>,
    node: &Node,
) -> Result<Vec<Value>, CommandError> {
    if let Some((info, _)) = live_captures::running(&node.name) {
        return Err(CommandError(format!(
            "a packet trace is already running on {} (started {}); stop it with Disable-AzsSupportNetshTrace first",
            node.name,
            info.started.to_rfc3339()
        )));
    }
    let max = inv.args.int("MaxSize").unwrap_or(1024);
    let max_size_mb = u32::try_from(max)
        .ok()
        .filter(|m| (1..=capture::MAX_SIZE_MB).contains(m))
        .ok_or_else(|| {
            CommandError(format!(
                "-MaxSize {max}: a capture on a real machine is at most {} MB",
                capture::MAX_SIZE_MB
            ))
        })?;
    let secs = u64::try_from(inv.args.int("Duration").unwrap_or(600).max(1)).unwrap_or(600);
    let protocols = inv
        .args
        .strings("Protocol")
        .iter()
        .map(|p| match p.to_ascii_uppercase().as_str() {
            "TCP" => Ok(Protocol::Tcp),
            "UDP" => Ok(Protocol::Udp),
            "ICMP" => Ok(Protocol::Icmp),
            other => Err(CommandError(format!(
                "-Protocol {other}: use TCP, UDP or ICMP"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ports = match inv.args.get("Port") {
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_f64()).collect(),
        Some(Value::Int(i)) => vec![*i as f64],
        _ => Vec::new(),
    }
    .into_iter()
    .map(|p| {
        u16::try_from(p as i64)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| CommandError(format!("-Port {p}: not a port number")))
    })
    .collect::<Result<Vec<u16>, _>>()?;
    let addresses = inv
        .args
        .strings("Address")
        .iter()
        .map(|a| {
            a.parse::<IpAddr>()
                .map_err(|_| CommandError(format!("-Address {a}: not an IP address")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let interface = inv.args.str("Interface").map(str::to_string);
    let spec = CaptureSpec {
        interface: interface.clone(),
        max_size_mb,
        duration: Duration::from_secs(secs),
        protocols,
        ports,
        addresses,
    };
    spec.validate().map_err(err)?;
    // The file: its size bound must fit the working directory's quota.
    inv.workdir.ensure()?;
    let bound = u64::from(max_size_mb) * 1_000_000 + (1 << 20);
    inv.workdir.reserve(bound)?;
    inv.workdir.unreserve(bound);
    let mut file = format!("{}_netshTrace.pcapng", node.name);
    if inv.workdir.resolve(&file)?.exists() {
        file = format!("{}_netshTrace_{}.pcapng", node.name, stamp_time(inv.now));
    }
    let path = inv.workdir.resolve(&file)?;
    if !inv.should_process(&node.name, "Start a packet capture") {
        return Ok(vec![]);
    }
    let runner = Runner::with_prefix(node.command_prefix.clone());
    let capture = Capture::start(&runner, &spec, &path).map_err(err)?;
    let info = CaptureInfo {
        node: node.name.clone(),
        workdir: inv.workdir.path().to_path_buf(),
        shown: inv.workdir.shown(&path),
        interface: interface.unwrap_or_else(|| "any".into()),
        max_size_mb,
        duration_secs: secs,
        filter: capture::capture_filter(&spec),
        started: chrono::Utc::now(),
    };
    let record = trace_record(&info, "Running");
    live_captures::add(info, capture).map_err(err)?;
    Ok(vec![record])
}

fn trace_record(info: &CaptureInfo, state: &str) -> Value {
    Record::new("Azs.Support.NetshTrace")
        .with("ComputerName", &info.node)
        .with("State", state)
        .with("Interface", &info.interface)
        .with("TraceFile", &info.shown)
        .with("MaxSizeMB", info.max_size_mb)
        .with("DurationSeconds", info.duration_secs)
        .with(
            "Filter",
            if info.filter.is_empty() {
                "(none)"
            } else {
                &info.filter
            },
        )
        .with(
            "Note",
            "real capture (dumpcap, pcapng: opens in Wireshark and tshark)",
        )
        .into()
}

/// Disable-AzsSupportNetshTrace on a real machine: stops the capture (or collects the one that
/// stopped at its bound) and reports its file.
pub(crate) fn disable_trace(
    inv: &mut Invocation<'_>,
    node: &Node,
) -> Result<Vec<Value>, CommandError> {
    if live_captures::running(&node.name).is_none() {
        return Err(CommandError(format!(
            "no packet trace is running on {}; start one with Enable-AzsSupportNetshTrace",
            node.name
        )));
    }
    if !inv.should_process(&node.name, "Stop the packet capture") {
        return Ok(vec![]);
    }
    let Some((info, result)) = live_captures::stop(&node.name) else {
        return Err(CommandError(format!(
            "no packet trace is running on {}",
            node.name
        )));
    };
    let r = result.map_err(err)?;
    // The file stays: charge it to the working directory.
    if let Err(e) = inv.workdir.reserve(r.size_bytes) {
        tracing::warn!(error = %e, "a finished capture is over the working directory's quota");
    }
    let Value::Record(rec) = trace_record(&info, "Stopped") else {
        return Err(CommandError("internal error: trace record".into()));
    };
    Ok(vec![rec
        .with("SizeBytes", r.size_bytes)
        .with("Packets", r.packets)
        .with("Dropped", r.dropped)
        .with("StoppedBy", r.stopped_by)
        .into()])
}

/// Get-AzsSupportTraceEvent on a capture file: one event per packet (time, source, destination,
/// protocol, summary), in capture order.
pub(crate) fn capture_events(
    inv: &Invocation<'_>,
    node: &Node,
    relative: &str,
) -> Result<Vec<Value>, CommandError> {
    let path = inv.workdir.resolve(relative)?;
    let max = usize::try_from(inv.args.int("MaxEvents").unwrap_or(1000)).unwrap_or(1000);
    let from = inv.args.datetime("FromDate");
    let to = inv.args.datetime("ToDate");
    let runner = Runner::with_prefix(node.command_prefix.clone());
    let events = capture::read_events(&runner, &path, capture::MAX_EVENTS).map_err(err)?;
    Ok(events
        .into_iter()
        .filter(|e| from.is_none_or(|f| e.time >= f) && to.is_none_or(|t| e.time <= t))
        .take(max)
        .map(|e| {
            Record::new("Azs.Support.TraceEvent")
                .with("TimeCreated", e.time)
                .with("Source", e.source)
                .with("Destination", e.destination)
                .with("Protocol", e.protocol)
                .with("Summary", e.summary)
                .into()
        })
        .collect())
}

// ---------------------------------------------------------------- process dump

/// Invoke-AzsSupportProcDump on a real machine: a full-memory ELF core in `<workdir>/dumps`
/// (0600, written under a temporary name and renamed when complete); the process keeps running.
pub(crate) fn proc_dump(inv: &mut Invocation<'_>, node: &Node) -> Result<Vec<Value>, CommandError> {
    let p = if let Some(id) = inv.args.int("ProcessId") {
        processes::get(pid_of(id)?).map_err(err)?
    } else if let Some(name) = inv.args.str("ProcessName") {
        let found: Vec<processes::ProcessInfo> = processes::list()
            .map_err(err)?
            .into_iter()
            .filter(|p| p.name.eq_ignore_ascii_case(name))
            .collect();
        match found.len() {
            0 => {
                return Err(CommandError(format!(
                    "no process named '{name}' on {}",
                    node.name
                )))
            }
            1 => found.into_iter().next().ok_or_else(|| err("no process"))?,
            n => {
                let ids: Vec<String> = found.iter().map(|p| p.id.to_string()).collect();
                return Err(CommandError(format!(
                    "{n} processes named '{name}' on {} (ids {}); give -ProcessId",
                    node.name,
                    ids.join(", ")
                )));
            }
        }
    } else {
        return Err(CommandError("give -ProcessId or -ProcessName".into()));
    };
    refuse_protected("dump", &p, node)?;
    let out = dump_into_workdir(inv, node, &p)?;
    Ok(vec![Record::new("Azs.Support.DumpFile")
        .with("ComputerName", &node.name)
        .with("ProcessName", &out.process_name)
        .with("ProcessId", out.process_id)
        .with("Path", inv.workdir.shown(&out.path))
        .with("Length", out.size_bytes)
        .with("Threads", out.threads)
        .with(
            "Seconds",
            (out.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        )
        .with(
            "Note",
            "real dump: an ELF core that gdb opens with the process's executable",
        )
        .into()])
}

// ---------------------------------------------------------------- handles and network

/// Invoke-AzsSupportHandle on a real machine: the open files and sockets of a process (or of
/// every process), sockets resolved to their addresses.
pub(crate) fn handles(inv: &Invocation<'_>, node: &Node) -> Result<Vec<Value>, CommandError> {
    let pid = inv.args.int("ProcessId").map(pid_of).transpose()?;
    let kind = inv.args.str("Type");
    Ok(handles::list(pid)
        .map_err(err)?
        .into_iter()
        .filter(|h| kind.is_none_or(|k| k.eq_ignore_ascii_case(&h.kind)))
        .map(|h| {
            Record::new("Azs.Support.Handle")
                .with("ComputerName", &node.name)
                .with("ProcessName", h.process_name)
                .with("ProcessId", h.process_id)
                .with("Handle", h.fd)
                .with("Type", h.kind)
                .with("Name", h.target)
                .into()
        })
        .collect())
}

/// Invoke-AzsSupportGetNetView on a real machine: interfaces, routes and listening sockets,
/// saved as JSON in the working directory and summed up in the record.
pub(crate) fn net_view(inv: &mut Invocation<'_>, node: &Node) -> Result<Vec<Value>, CommandError> {
    let view = system::net_view().map_err(err)?;
    let json = serde_json::to_vec_pretty(&view).map_err(err)?;
    let rel = format!("{}_GetNetView_{}.json", node.name, stamp_time(inv.now));
    let path = inv.workdir.write_keeping(&rel, inv.now, &json)?;
    let interfaces: Vec<Value> = view
        .interfaces
        .iter()
        .map(|i| Value::from(format!("{} {} {}", i.name, i.state, i.addresses.join(" "))))
        .collect();
    Ok(vec![Record::new("Azs.Support.NetView")
        .with("ComputerName", &node.name)
        .with("Interfaces", Value::Array(interfaces))
        .with("Routes", view.routes.len() as u64)
        .with("ListeningSockets", view.listening.len() as u64)
        .with("Path", inv.workdir.shown(&path))
        .with("Length", json.len() as u64)
        .into()])
}

// ---------------------------------------------------------------- system-call trace

/// Room kept in the working directory beyond a trace's size limit: strace writes on for a moment
/// after the limit is seen and while it detaches.
const TRACE_SLACK_BYTES: u64 = 8 << 20;

/// The smallest size limit a trace is started with.
const TRACE_MIN_BYTES: u64 = 1 << 20;

/// Invoke-AzsSupportWmiTracing on a real machine: a system-call trace (strace) of -ProcessId for
/// -DurationInSeconds (1 to 300) into `<NODE>_SyscallTrace_<PID>_<time>.strace` in the working
/// directory, stopped early when the file passes 64 MB (or the quota's room), charged to the
/// quota; with -IncludeDumps, then an ELF core of the process in `<workdir>/dumps`. Blocks for
/// the duration; the process keeps running.
pub(crate) fn wmi_trace(inv: &mut Invocation<'_>, node: &Node) -> Result<Vec<Value>, CommandError> {
    let Some(id) = inv.args.int("ProcessId") else {
        return Err(CommandError(format!(
            "give -ProcessId: on {}, a real machine, the trace follows the system calls of one process",
            node.name
        )));
    };
    let pid = pid_of(id)?;
    let asked = inv.args.int("DurationInSeconds").unwrap_or(60);
    let max_secs = syscall_trace::MAX_DURATION.as_secs();
    let secs = u64::try_from(asked)
        .ok()
        .filter(|s| (1..=max_secs).contains(s))
        .ok_or_else(|| {
            CommandError(format!(
                "-DurationInSeconds {asked}: a trace on a real machine runs from 1 to {max_secs} seconds"
            ))
        })?;
    let p = processes::get(pid).map_err(err)?;
    refuse_protected("trace", &p, node)?;
    inv.workdir.ensure()?;
    let room = room(inv)?;
    let limit = syscall_trace::MAX_FILE_BYTES.min(room.saturating_sub(TRACE_SLACK_BYTES));
    if limit < TRACE_MIN_BYTES {
        return Err(CommandError(format!(
            "the working directory has {} MB left of its quota, too little for a trace; remove files first",
            room >> 20
        )));
    }
    let file = format!(
        "{}_SyscallTrace_{}_{}.strace",
        node.name,
        p.id,
        stamp_time(inv.now)
    );
    let path = inv.workdir.resolve(&file)?;
    if !inv.should_process(
        &node.name,
        &format!(
            "Trace the system calls of {} (id {}) for {secs} s",
            p.name, p.id
        ),
    ) {
        return Ok(vec![]);
    }
    // The room is held while strace writes; what the file takes stays charged.
    let held = limit + TRACE_SLACK_BYTES;
    inv.workdir.reserve(held)?;
    let runner = Runner::with_prefix(node.command_prefix.clone());
    let out = match syscall_trace::trace(&runner, p.id, &path, Duration::from_secs(secs), limit) {
        Ok(out) => out,
        Err(e) => {
            inv.workdir.unreserve(held);
            return Err(CommandError(e));
        }
    };
    if out.size_bytes <= held {
        inv.workdir.unreserve(held - out.size_bytes);
    } else if let Err(e) = inv.workdir.reserve(out.size_bytes - held) {
        let _ = std::fs::remove_file(&out.path);
        inv.workdir.unreserve(held);
        return Err(CommandError(format!("the trace was removed: {e}")));
    }
    let mut dumps = Vec::new();
    if inv.args.switch("IncludeDumps") {
        let out = dump_into_workdir(inv, node, &p)
            .map_err(|e| CommandError(format!("the trace was kept, the dump failed: {}", e.0)))?;
        dumps.push(Value::from(inv.workdir.shown(&out.path)));
    }
    let ran = out.elapsed.as_secs_f64().round() as u64;
    Ok(vec![Record::new("Azs.Support.TraceResult")
        .with("ComputerName", &node.name)
        .with("TraceFile", inv.workdir.shown(&out.path))
        .with("DumpFiles", Value::Array(dumps))
        .with(
            "Duration",
            format!("{:02}:{:02}:{:02}", ran / 3600, ran % 3600 / 60, ran % 60),
        )
        .with("Syscalls", out.lines)
        .with("ProcessName", &out.process_name)
        .with("ProcessId", out.process_id)
        .with("SizeBytes", out.size_bytes)
        .with("StoppedBy", &out.stopped_by)
        .with("Note", "real trace: strace")
        .into()])
}

/// A full-memory ELF core of `p` in `<workdir>/dumps`. Its room is reserved before a byte is
/// written (the working directory's quota and the state disk's budget, which keeps the
/// transcripts' headroom): twice the resident size and a margin, as mapped but untouched memory
/// is written too. A dump that would need more stops and is removed; what it did not use is
/// given back.
fn dump_into_workdir(
    inv: &Invocation<'_>,
    node: &Node,
    p: &processes::ProcessInfo,
) -> Result<coredump::DumpOutcome, CommandError> {
    inv.workdir.ensure()?;
    let dir = inv.workdir.resolve("dumps")?;
    if !dir.exists() {
        inv.workdir.create_dir("dumps")?;
    }
    let wanted = p
        .working_set_bytes
        .saturating_mul(2)
        .saturating_add(64 << 20)
        .min(room(inv)?);
    inv.workdir.reserve(wanted).map_err(|e| {
        CommandError(format!(
            "no room for a dump of {} (id {}, {} MB resident): {e}",
            p.name,
            p.id,
            p.working_set_bytes >> 20
        ))
    })?;
    let free = rustix::fs::statvfs(&dir)
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
        .unwrap_or(0)
        .min(wanted);
    let file = format!(
        "{}_{}_{}_{}.core",
        node.name,
        p.name
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"),
        p.id,
        stamp_time(inv.now)
    );
    match coredump::dump(p.id, &dir, &file, free, wanted) {
        Ok(out) => {
            inv.workdir.unreserve(wanted.saturating_sub(out.size_bytes));
            Ok(out)
        }
        Err(e) => {
            inv.workdir.unreserve(wanted);
            Err(err(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{prop as get, run_in, RealMachine};
    use super::super::{diagnostic_tools, ece, host_repair, hosts, traces};
    use super::super::{Implementation, Mode};
    use super::*;
    use crate::workdir::WorkingDirectory;
    use chrono::Utc;
    use std::process::{Child, Command};

    /// The `linux` stamp (the machine alone, its default roots) and a working directory of
    /// 2 GiB.
    fn machine() -> RealMachine {
        RealMachine::new(2 << 30, None, None)
    }

    struct Sleeper(Child);

    impl Drop for Sleeper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn sleeper() -> Sleeper {
        Sleeper(Command::new("sleep").arg("300").spawn().expect("sleep"))
    }

    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
    }

    #[test]
    fn processes_of_the_machine_are_listed_and_stopped_for_real() {
        let mut m = machine();
        let s = sleeper();
        let pid = s.0.id();
        let rows = m
            .run(hosts::get_process, &[("Id", i64::from(pid).into())])
            .expect("listed");
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(get(&rows[0], "Name"), "sleep");
        assert_eq!(get(&rows[0], "CommandLine"), "sleep 300");
        assert_eq!(get(&rows[0], "UserName"), "root");
        assert_eq!(get(&rows[0], "ComputerName"), m.host);
        // Its open descriptors: at least stdin, stdout and stderr.
        assert!(
            get(&rows[0], "Handles").parse::<u32>().expect("handles") >= 3,
            "{rows:?}"
        );
        // The names are the machine's own, sorted by name.
        let all = m.run(hosts::get_process, &[]).expect("all");
        let names: Vec<String> = all.iter().map(|r| get(r, "Name").to_lowercase()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(all.len() > 3);
        // PID 1 and pep itself are refused, and nothing happens to them.
        let e = m
            .run(host_repair::stop_process, &[("Id", 1i64.into())])
            .expect_err("pid 1");
        assert!(e.starts_with("refusing to stop"), "{e}");
        let me = i64::from(std::process::id());
        let e = m
            .run(host_repair::stop_process, &[("Id", me.into())])
            .expect_err("self");
        assert!(e.contains("refusing to stop"), "{e}");
        // -WhatIf changes nothing.
        let out = run_in(
            &m.wd,
            &mut m.stamp,
            host_repair::stop_process,
            &[
                ("ComputerName", m.host.as_str().into()),
                ("Id", i64::from(pid).into()),
            ],
            true,
            Mode::WhatIf,
        );
        assert!(out.result.expect("what if").is_empty());
        assert!(alive(pid));
        let stopped = m
            .run(host_repair::stop_process, &[("Id", i64::from(pid).into())])
            .expect("stopped");
        assert_eq!(get(&stopped[0], "Signal"), "SIGTERM");
        assert!(!alive(pid), "the process is still running");
    }

    #[test]
    fn a_dump_of_a_real_process_is_an_elf_core_in_the_working_directory() {
        let mut m = machine();
        let s = sleeper();
        let pid = s.0.id();
        let out = m
            .run(
                diagnostic_tools::invoke_proc_dump,
                &[("ProcessId", i64::from(pid).into())],
            )
            .expect("dumped");
        let path = m.wd.path().join(get(&out[0], "Path"));
        assert!(get(&out[0], "Path").starts_with("dumps/"), "{out:?}");
        let bytes = std::fs::read(&path).expect("core");
        assert_eq!(&bytes[..4], b"\x7fELF");
        assert_eq!(u16::from_le_bytes([bytes[16], bytes[17]]), 4, "ET_CORE");
        assert!(alive(pid), "the dumped process keeps running");
        let e = m
            .run(
                diagnostic_tools::invoke_proc_dump,
                &[("ProcessId", 1i64.into())],
            )
            .expect_err("pid 1");
        assert!(e.starts_with("refusing to dump"), "{e}");
    }

    #[test]
    fn a_dump_that_does_not_fit_the_quota_is_refused_and_leaves_nothing() {
        let mut m = machine();
        let tmp = tempfile::tempdir().expect("tmp");
        m.wd = WorkingDirectory::new(tmp.path(), Utc::now(), "small", 1 << 20);
        let s = sleeper();
        let e = m
            .run(
                diagnostic_tools::invoke_proc_dump,
                &[("ProcessId", i64::from(s.0.id()).into())],
            )
            .expect_err("too big for 1 MiB");
        assert!(!e.is_empty());
        let dumps = m.wd.path().join("dumps");
        let left: Vec<_> = std::fs::read_dir(&dumps)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{left:?}");
        // Nothing stays reserved: a small file still fits.
        m.wd.write_new("after.txt", b"ok").expect("room is back");
        assert!(alive(s.0.id()));
    }

    #[test]
    fn model_only_commands_refuse_the_real_machine() {
        let mut m = machine();
        // (Folder sizes, copies, removals and the disk clean-up act on the machine: their tests
        // are in file_collection and disk_cleanup, on temporary roots.)
        for (f, args) in [
            (ece::get_dsc_logs as Implementation, vec![]),
            (
                ece::COMMANDS
                    .iter()
                    .find(|(n, _)| *n == "Get-AzsSupportECEComputerRole")
                    .map(|(_, f)| *f)
                    .expect("ece role"),
                vec![],
            ),
        ] {
            let e = m.run(f, &args).expect_err("refused");
            assert!(e.contains("is a real machine"), "{e}");
        }
    }

    #[test]
    fn facts_of_the_machine_are_its_own() {
        let mut m = machine();
        let info = m.run(hosts::get_computer_information, &[]).expect("info");
        assert_eq!(
            get(&info[0], "OSVersion"),
            crate::host::linux::os_pretty_name()
        );
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        assert_eq!(get(&info[0], "LogicalProcessors"), cores.to_string());
        let disks = m.run(hosts::get_disk_space, &[]).expect("disks");
        assert!(
            disks.iter().any(|d| get(d, "DriveLetter") == "/"),
            "{disks:?}"
        );
        let ci = m.run(ece::get_code_integrity, &[]).expect("ci");
        assert!(!get(&ci[0], "KernelLockdown").is_empty());
        let view = m
            .run(diagnostic_tools::invoke_get_net_view, &[])
            .expect("netview");
        assert!(get(&view[0], "Interfaces").contains("lo"), "{view:?}");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let handles = m
            .run(
                diagnostic_tools::invoke_handle,
                &[("ProcessId", i64::from(std::process::id()).into())],
            )
            .expect("handles");
        assert!(
            handles
                .iter()
                .any(|h| get(h, "Name") == format!("TCP 127.0.0.1:{port} LISTEN")),
            "{handles:?}"
        );
        // Without systemd as PID 1, services are one plain error, not model data.
        if !std::path::Path::new("/run/systemd/system").exists() {
            let e = m.run(hosts::get_service, &[]).expect_err("no systemd");
            assert!(e.contains("systemd is not running"), "{e}");
        }
    }

    #[test]
    fn a_real_packet_trace_captures_loopback_traffic_into_a_pcapng() {
        let Ok(_) = which_dumpcap() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "dumpcap is missing"
            );
            eprintln!("skipped: dumpcap is not installed");
            return;
        };
        let mut m = machine();
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
        let port = sock.local_addr().expect("addr").port();
        let on = m
            .run(
                traces::enable_netsh_trace,
                &[
                    ("Interface", "lo".into()),
                    ("Protocol", Value::Array(vec!["UDP".into()])),
                    ("Port", Value::Array(vec![i64::from(port).into()])),
                    ("Duration", 60i64.into()),
                    ("MaxSize", 10i64.into()),
                ],
            )
            .expect("started");
        assert_eq!(get(&on[0], "State"), "Running");
        assert_eq!(get(&on[0], "Filter"), format!("(udp) and (port {port})"));
        let twice = m.run(traces::enable_netsh_trace, &[]).expect_err("twice");
        assert!(twice.contains("already running"), "{twice}");
        for i in 0..50 {
            sock.send_to(format!("pep-marker-{i}").as_bytes(), ("127.0.0.1", port))
                .expect("send");
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        let off = m.run(traces::disable_netsh_trace, &[]).expect("stopped");
        assert_eq!(get(&off[0], "StoppedBy"), "Disable");
        assert!(
            get(&off[0], "Packets").parse::<u64>().expect("n") >= 50,
            "{off:?}"
        );
        let file = get(&off[0], "TraceFile");
        let bytes = std::fs::read(m.wd.path().join(&file)).expect("pcapng");
        assert_eq!(&bytes[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
        let listed = m.run(traces::get_trace_file_path, &[]).expect("files");
        assert!(listed.iter().any(|f| get(f, "Path") == file), "{listed:?}");
        let events = m
            .run(traces::get_trace_event, &[("Path", file.as_str().into())])
            .expect("events");
        assert!(events.len() >= 50, "{}", events.len());
        assert!(events.iter().all(|e| get(e, "Protocol") == "UDP"));
        let e = m
            .run(traces::disable_netsh_trace, &[])
            .expect_err("none left");
        assert!(e.contains("no packet trace"), "{e}");
    }

    #[test]
    fn services_and_their_journal_on_a_real_systemd_through_the_commands() {
        let container = match crate::host::linux::nspawn::Container::boot_or_skip("pep-cmd-svc") {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => panic!("{e}"),
        };
        container
            .write_unit(
                "peptest-cmd.service",
                "[Unit]\nDescription=pep command test\n[Service]\nExecStart=/bin/sh -c 'while true; do echo peptest-cmd-tick; sleep 1; done'\n",
            )
            .expect("unit");
        let mut m = machine();
        m.stamp.machines.clear();
        m.stamp
            .attach_local_machine_via(container.runner().prefix().to_vec());
        let unit = ("Name", Value::from("peptest-cmd"));
        let listed = m
            .run(hosts::get_service, &[("Name", "peptest-cmd*".into())])
            .expect("listed");
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(get(&listed[0], "State"), "Stopped");
        assert_eq!(get(&listed[0], "DisplayName"), "pep command test");
        let e = m
            .run(host_repair::stop_service, std::slice::from_ref(&unit))
            .expect_err("stopped already");
        assert!(e.contains("already stopped"), "{e}");
        let started = m
            .run(host_repair::start_service, std::slice::from_ref(&unit))
            .expect("start");
        assert_eq!(get(&started[0], "State"), "Running");
        let first = get(&started[0], "ProcessId");
        assert_ne!(first, "0");
        let restarted = m
            .run(host_repair::restart_service, std::slice::from_ref(&unit))
            .expect("restart");
        assert_eq!(get(&restarted[0], "State"), "Running");
        assert_ne!(get(&restarted[0], "ProcessId"), first);
        let e = m
            .run(
                host_repair::stop_service,
                &[("Name", "systemd-journald".into())],
            )
            .expect_err("protected");
        assert!(e.contains("protected") || e.contains("refus"), "{e}");
        std::thread::sleep(std::time::Duration::from_millis(2500));
        let events = m
            .run(
                hosts::get_win_event,
                &[("LogName", Value::Array(vec!["peptest-cmd".into()]))],
            )
            .expect("journal");
        assert!(
            events
                .iter()
                .any(|e| get(e, "Message") == "peptest-cmd-tick"),
            "{events:?}"
        );
        assert!(events
            .iter()
            .all(|e| get(e, "LogName") == "peptest-cmd.service"));
        let stopped = m
            .run(host_repair::stop_service, std::slice::from_ref(&unit))
            .expect("stop");
        assert_eq!(get(&stopped[0], "State"), "Stopped");
    }

    /// A Python loop writing a byte and sleeping 50 ms, forever.
    fn python_loop() -> Sleeper {
        Sleeper(
            Command::new("python3")
                .args([
                    "-c",
                    "import os, time\nwhile True:\n    os.write(1, b'x'); time.sleep(0.05)",
                ])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("python3"),
        )
    }

    fn dump_files(v: &Value) -> Vec<String> {
        match v.as_record().and_then(|r| r.get("DumpFiles")) {
            Some(Value::Array(a)) => a.iter().map(Value::to_display).collect(),
            other => panic!("DumpFiles: {other:?}"),
        }
    }

    #[test]
    fn a_wmi_trace_of_the_machine_is_a_bounded_strace_of_one_process() {
        let mut m = machine();
        let py = python_loop();
        let pid = py.0.id();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let started = std::time::Instant::now();
        let out = m
            .run(
                traces::invoke_wmi_tracing,
                &[
                    ("ProcessId", i64::from(pid).into()),
                    ("DurationInSeconds", 2i64.into()),
                ],
            )
            .expect("traced");
        let took = started.elapsed();
        assert!(
            took >= std::time::Duration::from_secs(2) && took < std::time::Duration::from_secs(15),
            "{took:?}"
        );
        assert_eq!(get(&out[0], "ComputerName"), m.host);
        assert_eq!(get(&out[0], "Note"), "real trace: strace");
        assert_eq!(get(&out[0], "Duration"), "00:00:02");
        assert_eq!(get(&out[0], "StoppedBy"), "duration");
        assert!(dump_files(&out[0]).is_empty());
        let file = get(&out[0], "TraceFile");
        assert!(
            file.starts_with(&format!("{}_SyscallTrace_{pid}_", m.host))
                && file.ends_with(".strace"),
            "{file}"
        );
        let text = std::fs::read_to_string(m.wd.path().join(&file)).expect("trace file");
        assert!(
            text.contains("clock_nanosleep(") || text.contains("nanosleep("),
            "{text}"
        );
        assert!(text.contains("write(1, \"x\", 1)"), "{text}");
        assert_eq!(get(&out[0], "Syscalls"), text.lines().count().to_string());
        assert!(text.lines().count() > 20, "{text}");
        assert!(alive(pid), "the traced process keeps running");
        // The file is charged to the working directory and readable through its commands.
        assert!(m.wd.used_bytes().expect("used") >= text.len() as u64);
        let lines = run_in(
            &m.wd,
            &mut m.stamp,
            super::super::working_directory::get_file_content,
            &[("Path", file.as_str().into())],
            false,
            Mode::Execute,
        )
        .result
        .expect("content");
        assert!(
            lines
                .iter()
                .any(|l| l.to_display().contains("write(1, \"x\", 1)")),
            "{lines:?}"
        );
        // Refused: no process, a protected process, too long.
        let e = m.run(traces::invoke_wmi_tracing, &[]).expect_err("no pid");
        assert!(e.contains("-ProcessId"), "{e}");
        for protected in [1, i64::from(std::process::id())] {
            let e = m
                .run(
                    traces::invoke_wmi_tracing,
                    &[
                        ("ProcessId", protected.into()),
                        ("DurationInSeconds", 1i64.into()),
                    ],
                )
                .expect_err("protected");
            assert!(e.starts_with("refusing to trace"), "{e}");
        }
        let e = m
            .run(
                traces::invoke_wmi_tracing,
                &[
                    ("ProcessId", i64::from(pid).into()),
                    ("DurationInSeconds", 301i64.into()),
                ],
            )
            .expect_err("too long");
        assert!(e.contains("from 1 to 300 seconds"), "{e}");
        assert!(alive(pid));
    }

    #[test]
    fn a_wmi_trace_with_dumps_leaves_a_core_of_the_traced_process() {
        let mut m = machine();
        let s = sleeper();
        let pid = s.0.id();
        let out = m
            .run(
                traces::invoke_wmi_tracing,
                &[
                    ("ProcessId", i64::from(pid).into()),
                    ("DurationInSeconds", 1i64.into()),
                    ("IncludeDumps", true.into()),
                ],
            )
            .expect("traced");
        let dumps = dump_files(&out[0]);
        assert_eq!(dumps.len(), 1, "{out:?}");
        assert!(
            dumps[0].starts_with("dumps/") && dumps[0].ends_with(".core"),
            "{dumps:?}"
        );
        let bytes = std::fs::read(m.wd.path().join(&dumps[0])).expect("core");
        assert_eq!(&bytes[..4], b"\x7fELF");
        assert_eq!(u16::from_le_bytes([bytes[16], bytes[17]]), 4, "ET_CORE");
        assert!(m.wd.path().join(get(&out[0], "TraceFile")).exists());
        assert!(alive(pid), "traced and dumped, the process keeps running");
    }

    fn which_dumpcap() -> Result<(), ()> {
        ["/usr/bin/dumpcap", "/usr/sbin/dumpcap"]
            .iter()
            .any(|p| std::path::Path::new(p).exists())
            .then_some(())
            .ok_or(())
    }
}
