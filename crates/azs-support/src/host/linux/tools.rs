//! The tracing and diagnostic tools on the real machine: a packet capture (dumpcap, read back by
//! tshark), a process dump (an ELF core), open handles, a network snapshot, a system-call trace
//! of a process (strace) and file copies. Everything a tool writes lands in the case's working
//! directory, charged to its quota before it is written.

use super::capture::{self, Capture, CaptureSpec, Protocol};
use super::file_ops::CopyPlan;
use super::live_captures::{self, CaptureInfo};
use super::{coredump, handles, processes, round2, syscall_trace, system, LinuxHost, MIB};
use crate::host::call::clock_duration;
use crate::host::{
    stamp_time, Acted, Call, CallTraceRequest, CaptureRequest, Effect, ProcessSelector, TraceQuery,
};
use crate::stamp::Node;
use crate::value::{Record, Value};
use crate::workdir::WorkingDirectory;
use chrono::{DateTime, Utc};
use std::fs;
use std::io::{self, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// `-ProcessId` as a PID (a negative or huge one names no process).
fn pid_of(id: i64) -> Result<u32, String> {
    u32::try_from(id).map_err(|_| format!("Cannot find a process with the process identifier {id}"))
}

/// Refuses a process pep must not `verb` (PID 1, kernel threads, pep and its ancestors,
/// processes of protected units and key holders).
fn refuse_protected(verb: &str, p: &processes::ProcessInfo, node: &Node) -> Result<(), String> {
    match processes::protected(p.id) {
        Some(why) => Err(format!(
            "refusing to {verb} {} (id {}) on {}: {why}",
            p.name, p.id, node.name
        )),
        None => Ok(()),
    }
}

/// What the working directory's quota has left.
fn room(wd: &WorkingDirectory) -> Result<u64, String> {
    Ok(wd
        .quota_bytes()
        .saturating_sub(wd.used_bytes().map_err(err)?))
}

// ---------------------------------------------------------------- packet capture

/// The capture a request asks for, validated: -MaxSize within [`capture::MAX_SIZE_MB`], a
/// duration of at least a second, and filters from known protocols, port numbers and IP
/// addresses only (never free text).
fn capture_spec(req: &CaptureRequest) -> Result<CaptureSpec, String> {
    let max = req.max_size_mb;
    let max_size_mb = u32::try_from(max)
        .ok()
        .filter(|m| (1..=capture::MAX_SIZE_MB).contains(m))
        .ok_or_else(|| {
            format!(
                "-MaxSize {max}: a capture on a real machine is at most {} MB",
                capture::MAX_SIZE_MB
            )
        })?;
    let secs = u64::try_from(req.duration_secs.max(1)).unwrap_or(600);
    let protocols = req
        .protocols
        .iter()
        .map(|p| match p.to_ascii_uppercase().as_str() {
            "TCP" => Ok(Protocol::Tcp),
            "UDP" => Ok(Protocol::Udp),
            "ICMP" => Ok(Protocol::Icmp),
            other => Err(format!("-Protocol {other}: use TCP, UDP or ICMP")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ports = req
        .ports
        .iter()
        .map(|p| {
            u16::try_from(*p as i64)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("-Port {p}: not a port number"))
        })
        .collect::<Result<Vec<u16>, _>>()?;
    let addresses = req
        .addresses
        .iter()
        .map(|a| {
            a.parse::<IpAddr>()
                .map_err(|_| format!("-Address {a}: not an IP address"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let spec = CaptureSpec {
        interface: req.interface.clone(),
        max_size_mb,
        duration: Duration::from_secs(secs),
        protocols,
        ports,
        addresses,
    };
    spec.validate().map_err(err)?;
    Ok(spec)
}

/// dumpcap writes `<NODE>_netshTrace.pcapng` in the working directory, bounded by -Duration and
/// -MaxSize, filtered by -Protocol, -Port and -Address.
pub(super) fn start_capture(
    h: &LinuxHost<'_>,
    req: &CaptureRequest,
    call: &mut Call<'_>,
) -> Acted<Record> {
    let node = h.node;
    if let Some((info, _)) = live_captures::running(&node.name) {
        return Err(format!(
            "a packet trace is already running on {} (started {}); stop it with Disable-AzsSupportNetshTrace first",
            node.name,
            info.started.to_rfc3339()
        ));
    }
    let spec = capture_spec(req)?;
    // The file: its size bound must fit the working directory's quota.
    let wd = call.workdir;
    wd.ensure().map_err(err)?;
    let bound = u64::from(spec.max_size_mb) * 1_000_000 + (1 << 20);
    wd.reserve(bound).map_err(err)?;
    wd.unreserve(bound);
    let mut file = format!("{}_netshTrace.pcapng", node.name);
    if wd.resolve(&file).map_err(err)?.exists() {
        file = format!("{}_netshTrace_{}.pcapng", node.name, stamp_time(call.now));
    }
    let path = wd.resolve(&file).map_err(err)?;
    if !call.should_process(&node.name, "Start a packet capture") {
        return Ok(None);
    }
    let capture = Capture::start(h.runner(), &spec, &path).map_err(err)?;
    let info = CaptureInfo {
        node: node.name.clone(),
        workdir: wd.path().to_path_buf(),
        shown: wd.shown(&path),
        interface: spec.interface.clone().unwrap_or_else(|| "any".into()),
        max_size_mb: spec.max_size_mb,
        duration_secs: spec.duration.as_secs(),
        filter: capture::capture_filter(&spec),
        started: Utc::now(),
    };
    let record = trace_record(&info, "Running");
    live_captures::add(info, capture).map_err(err)?;
    Ok(Some(Effect::Done(record)))
}

fn trace_record(info: &CaptureInfo, state: &str) -> Record {
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
}

/// Stops the capture (or collects the one that stopped at its bound) and reports its file.
pub(super) fn stop_capture(h: &LinuxHost<'_>, call: &mut Call<'_>) -> Acted<Record> {
    let node = h.node;
    if live_captures::running(&node.name).is_none() {
        return Err(format!(
            "no packet trace is running on {}; start one with Enable-AzsSupportNetshTrace",
            node.name
        ));
    }
    if !call.should_process(&node.name, "Stop the packet capture") {
        return Ok(None);
    }
    let Some((info, result)) = live_captures::stop(&node.name) else {
        return Err(format!("no packet trace is running on {}", node.name));
    };
    let r = result.map_err(err)?;
    // The file stays: charge it to the working directory.
    if let Err(e) = call.workdir.reserve(r.size_bytes) {
        tracing::warn!(error = %e, "a finished capture is over the working directory's quota");
    }
    Ok(Some(Effect::Done(
        trace_record(&info, "Stopped")
            .with("SizeBytes", r.size_bytes)
            .with("Packets", r.packets)
            .with("Dropped", r.dropped)
            .with("StoppedBy", r.stopped_by),
    )))
}

/// The events of a trace file: a capture's packets (time, source, destination, protocol,
/// summary, in capture order) through tshark; a text trace's `EVENT` lines.
pub(super) fn trace_events(
    h: &LinuxHost<'_>,
    file: &Path,
    q: &TraceQuery,
) -> Result<Vec<Record>, String> {
    let is_capture = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pcapng"));
    if !is_capture {
        return crate::host::event_lines::read_events(file, q);
    }
    let events = capture::read_events(h.runner(), file, capture::MAX_EVENTS).map_err(err)?;
    Ok(events
        .into_iter()
        .filter(|e| q.from.is_none_or(|f| e.time >= f) && q.to.is_none_or(|t| e.time <= t))
        .take(q.max)
        .map(|e| {
            Record::new("Azs.Support.TraceEvent")
                .with("TimeCreated", e.time)
                .with("Source", e.source)
                .with("Destination", e.destination)
                .with("Protocol", e.protocol)
                .with("Summary", e.summary)
        })
        .collect())
}

// ---------------------------------------------------------------- process dump

/// The one process `which` names.
fn find_process(which: &ProcessSelector, node: &Node) -> Result<processes::ProcessInfo, String> {
    match which {
        ProcessSelector::Id(id) => processes::get(pid_of(*id)?),
        ProcessSelector::Name(name) => {
            let mut found: Vec<processes::ProcessInfo> = processes::list()?
                .into_iter()
                .filter(|p| p.name.eq_ignore_ascii_case(name))
                .collect();
            match found.len() {
                0 => Err(format!("no process named '{name}' on {}", node.name)),
                1 => found.pop().ok_or_else(|| "no process".to_string()),
                n => {
                    let ids: Vec<String> = found.iter().map(|p| p.id.to_string()).collect();
                    Err(format!(
                        "{n} processes named '{name}' on {} (ids {}); give -ProcessId",
                        node.name,
                        ids.join(", ")
                    ))
                }
            }
        }
    }
}

/// A full-memory ELF core in `<workdir>/dumps` (0600, written under a temporary name and renamed
/// when complete); the process keeps running.
pub(super) fn dump_process(
    h: &LinuxHost<'_>,
    which: &ProcessSelector,
    call: &mut Call<'_>,
) -> Result<Record, String> {
    let node = h.node;
    let p = find_process(which, node)?;
    refuse_protected("dump", &p, node)?;
    let out = dump_into_workdir(call, node, &p)?;
    Ok(Record::new("Azs.Support.DumpFile")
        .with("ComputerName", &node.name)
        .with("ProcessName", &out.process_name)
        .with("ProcessId", out.process_id)
        .with("Path", call.workdir.shown(&out.path))
        .with("Length", out.size_bytes)
        .with("Threads", out.threads)
        .with(
            "Seconds",
            (out.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        )
        .with(
            "Note",
            "real dump: an ELF core that gdb opens with the process's executable",
        ))
}

/// A full-memory ELF core of `p` in `<workdir>/dumps`. Its room is reserved before a byte is
/// written (the working directory's quota and the state disk's budget, which keeps the
/// transcripts' headroom): twice the resident size and a margin, as mapped but untouched memory
/// is written too. A dump that would need more stops and is removed; what it did not use is
/// given back.
fn dump_into_workdir(
    call: &Call<'_>,
    node: &Node,
    p: &processes::ProcessInfo,
) -> Result<coredump::DumpOutcome, String> {
    let wd = call.workdir;
    wd.ensure().map_err(err)?;
    let dir = wd.resolve("dumps").map_err(err)?;
    if !dir.exists() {
        wd.create_dir("dumps").map_err(err)?;
    }
    let wanted = p
        .working_set_bytes
        .saturating_mul(2)
        .saturating_add(64 << 20)
        .min(room(wd)?);
    wd.reserve(wanted).map_err(|e| {
        format!(
            "no room for a dump of {} (id {}, {} MB resident): {e}",
            p.name,
            p.id,
            p.working_set_bytes >> 20
        )
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
        stamp_time(call.now)
    );
    match coredump::dump(p.id, &dir, &file, free, wanted) {
        Ok(out) => {
            wd.unreserve(wanted.saturating_sub(out.size_bytes));
            Ok(out)
        }
        Err(e) => {
            wd.unreserve(wanted);
            Err(err(e))
        }
    }
}

// ---------------------------------------------------------------- handles and network

/// The open files and sockets of a process (or of every process), sockets resolved to their
/// addresses.
pub(super) fn handles(
    h: &LinuxHost<'_>,
    pid: Option<i64>,
    kind: Option<&str>,
) -> Result<Vec<Record>, String> {
    let pid = pid.map(pid_of).transpose()?;
    Ok(handles::list(pid)?
        .into_iter()
        .filter(|x| kind.is_none_or(|k| k.eq_ignore_ascii_case(&x.kind)))
        .map(|x| {
            Record::new("Azs.Support.Handle")
                .with("ComputerName", &h.node.name)
                .with("ProcessName", x.process_name)
                .with("ProcessId", x.process_id)
                .with("Handle", x.fd)
                .with("Type", x.kind)
                .with("Name", x.target)
        })
        .collect())
}

/// Interfaces, routes and listening sockets, saved as JSON in the working directory and summed
/// up in the record.
pub(super) fn net_view(h: &LinuxHost<'_>, call: &mut Call<'_>) -> Result<Record, String> {
    let node = h.node;
    let view = system::net_view()?;
    let json = serde_json::to_vec_pretty(&view).map_err(err)?;
    let rel = format!("{}_GetNetView_{}.json", node.name, stamp_time(call.now));
    let path = call
        .workdir
        .write_keeping(&rel, call.now, &json)
        .map_err(err)?;
    let interfaces: Vec<Value> = view
        .interfaces
        .iter()
        .map(|i| Value::from(format!("{} {} {}", i.name, i.state, i.addresses.join(" "))))
        .collect();
    Ok(Record::new("Azs.Support.NetView")
        .with("ComputerName", &node.name)
        .with("Interfaces", Value::Array(interfaces))
        .with("Routes", view.routes.len() as u64)
        .with("ListeningSockets", view.listening.len() as u64)
        .with("Path", call.workdir.shown(&path))
        .with("Length", json.len() as u64))
}

// ---------------------------------------------------------------- system-call trace

/// Room kept in the working directory beyond a trace's size limit: strace writes on for a moment
/// after the limit is seen and while it detaches.
const TRACE_SLACK_BYTES: u64 = 8 << 20;

/// The smallest size limit a trace is started with.
const TRACE_MIN_BYTES: u64 = 1 << 20;

/// Invoke-AzsSupportWmiTracing's Linux analogue: a system-call trace (strace) of -ProcessId for
/// -DurationInSeconds (1 to 300) into `<NODE>_SyscallTrace_<PID>_<time>.strace` in the working
/// directory, stopped early when the file passes 64 MB (or the quota's room), charged to the
/// quota; with -IncludeDumps, then an ELF core of the process in `<workdir>/dumps`. Blocks for
/// the duration; the process keeps running.
pub(super) fn trace_calls(
    h: &LinuxHost<'_>,
    req: &CallTraceRequest,
    call: &mut Call<'_>,
) -> Acted<Record> {
    let node = h.node;
    let Some(id) = req.process_id else {
        return Err(format!(
            "give -ProcessId: on {}, a real machine, the trace follows the system calls of one process",
            node.name
        ));
    };
    let pid = pid_of(id)?;
    let asked = req.seconds;
    let max_secs = syscall_trace::MAX_DURATION.as_secs();
    let secs = u64::try_from(asked)
        .ok()
        .filter(|s| (1..=max_secs).contains(s))
        .ok_or_else(|| {
            format!(
                "-DurationInSeconds {asked}: a trace on a real machine runs from 1 to {max_secs} seconds"
            )
        })?;
    let p = processes::get(pid)?;
    refuse_protected("trace", &p, node)?;
    let wd = call.workdir;
    wd.ensure().map_err(err)?;
    let room = room(wd)?;
    let limit = syscall_trace::MAX_FILE_BYTES.min(room.saturating_sub(TRACE_SLACK_BYTES));
    if limit < TRACE_MIN_BYTES {
        return Err(format!(
            "the working directory has {} MB left of its quota, too little for a trace; remove files first",
            room >> 20
        ));
    }
    let file = format!(
        "{}_SyscallTrace_{}_{}.strace",
        node.name,
        p.id,
        stamp_time(call.now)
    );
    let path = wd.resolve(&file).map_err(err)?;
    if !call.should_process(
        &node.name,
        &format!(
            "Trace the system calls of {} (id {}) for {secs} s",
            p.name, p.id
        ),
    ) {
        return Ok(None);
    }
    // The room is held while strace writes; what the file takes stays charged.
    let held = limit + TRACE_SLACK_BYTES;
    wd.reserve(held).map_err(err)?;
    let out = match syscall_trace::trace(h.runner(), p.id, &path, Duration::from_secs(secs), limit)
    {
        Ok(out) => out,
        Err(e) => {
            wd.unreserve(held);
            return Err(e);
        }
    };
    if out.size_bytes <= held {
        wd.unreserve(held - out.size_bytes);
    } else if let Err(e) = wd.reserve(out.size_bytes - held) {
        let _ = fs::remove_file(&out.path);
        wd.unreserve(held);
        return Err(format!("the trace was removed: {e}"));
    }
    let mut dumps = Vec::new();
    if req.include_dumps {
        let out = dump_into_workdir(call, node, &p)
            .map_err(|e| format!("the trace was kept, the dump failed: {e}"))?;
        dumps.push(Value::from(wd.shown(&out.path)));
    }
    let ran = out.elapsed.as_secs_f64().round() as u64;
    Ok(Some(Effect::Done(
        Record::new("Azs.Support.TraceResult")
            .with("ComputerName", &node.name)
            .with("TraceFile", wd.shown(&out.path))
            .with("DumpFiles", Value::Array(dumps))
            .with("Duration", clock_duration(ran))
            .with("Syscalls", out.lines)
            .with("ProcessName", &out.process_name)
            .with("ProcessId", out.process_id)
            .with("SizeBytes", out.size_bytes)
            .with("StoppedBy", &out.stopped_by)
            .with("Note", "real trace: strace"),
    )))
}

// ---------------------------------------------------------------- files

/// The folders and files directly under a Linux path beneath one of the node's read roots,
/// measured on disk (links not followed), largest first.
pub(super) fn folder_size(h: &LinuxHost<'_>, path: &str) -> Result<Vec<Record>, String> {
    Ok(super::file_ops::folder_sizes(path, &h.node.read_roots)?
        .into_iter()
        .map(|c| {
            Record::new("Azs.Support.FolderSize")
                .with("Path", c.path.display().to_string())
                .with("SizeMB", round2(c.bytes as f64 / MIB))
                .with("FileCount", c.files)
                .with("LastWriteTimeUtc", c.modified)
                .with("SizeBytes", c.bytes)
        })
        .collect())
}

/// A machine path as a path in the working directory: `/var/log/a b.1` → `var/log/a_b.1`
/// (characters outside a safe set become `_`).
pub(crate) fn destination_of(path: &Path) -> String {
    path.components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_string_lossy()),
            _ => None,
        })
        .map(|n| {
            n.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@' | '+' | ',') {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Creates a new private file at `rel` in the working directory (parents 0700, the file 0600,
/// never replacing one): when the name is taken, the name stamped with `now`.
fn create_in_workdir(
    wd: &WorkingDirectory,
    rel: &str,
    now: DateTime<Utc>,
) -> Result<(PathBuf, fs::File), String> {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    let dir = &rel[..rel.len() - file.len()];
    let (stem, ext) = match file.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
        _ => (file, String::new()),
    };
    let stamped = format!("{dir}{stem}_{}", now.format("%Y%m%d-%H%M%S%.3f"));
    let mut candidates = vec![rel.to_string(), format!("{stamped}{ext}")];
    candidates.extend((2..=99).map(|n| format!("{stamped}-{n}{ext}")));
    for name in candidates {
        let target = wd.resolve(&name).map_err(err)?;
        if let Some(parent) = target.parent() {
            let mut b = fs::DirBuilder::new();
            b.recursive(true);
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(parent)
                .map_err(|e| format!("working directory: {e}"))?;
        }
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(&target) {
            Ok(f) => return Ok((target, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("working directory: {e}")),
        }
    }
    Err(format!("working directory: no free name for {rel}"))
}

/// Copies one planned file: its listed size is reserved against the quota first, then at most
/// that many bytes are copied (a file that grew is cut at its listed size; one that shrank gives
/// the difference back). Returns where it landed, the bytes copied and the file's size when
/// opened; on failure nothing of it is left.
fn copy_one(
    call: &Call<'_>,
    node: &Node,
    plan: &CopyPlan,
    rel: &Path,
    source: &Path,
    listed: u64,
) -> Result<(PathBuf, u64, u64), String> {
    let wd = call.workdir;
    let (src, size_now) = plan.open(rel)?;
    wd.reserve(listed).map_err(err)?;
    let wanted = format!("{}/{}", node.name, destination_of(source));
    let (dest, mut out) = match create_in_workdir(wd, &wanted, call.now) {
        Ok(x) => x,
        Err(e) => {
            wd.unreserve(listed);
            return Err(e);
        }
    };
    match io::copy(&mut src.take(listed), &mut out) {
        Ok(copied) => {
            wd.unreserve(listed - copied.min(listed));
            Ok((dest, copied, size_now))
        }
        Err(e) => {
            drop(out);
            let _ = fs::remove_file(&dest);
            wd.unreserve(listed);
            Err(format!("copying {}: {e}", source.display()))
        }
    }
}

/// The regular files at `path` (beneath the node's read roots; a folder's files, its
/// subfolders' too with `recurse`) into `<workdir>/<NODE>/<path>`. Refused before anything is
/// written when one file is larger than the quota or all of them would pass what is left of it;
/// a copy that fails half-way leaves nothing behind.
pub(super) fn copy_files(
    h: &LinuxHost<'_>,
    path: &str,
    recurse: bool,
    call: &mut Call<'_>,
) -> Result<Vec<Record>, String> {
    let node = h.node;
    let wd = call.workdir;
    let plan = CopyPlan::new(path, &node.read_roots, recurse)?;
    if plan.files.is_empty() {
        return Err(format!(
            "no file to copy at '{path}' on {} (a folder of subfolders only needs -Recurse)",
            node.name
        ));
    }
    let quota = wd.quota_bytes();
    if let Some((_, big)) = plan.files.iter().find(|(_, it)| it.bytes > quota) {
        return Err(format!(
            "'{}' is {} bytes, larger than the working directory quota of {quota} bytes; nothing was copied",
            big.path.display(),
            big.bytes
        ));
    }
    let total: u64 = plan.files.iter().map(|(_, it)| it.bytes).sum();
    let used = wd.used_bytes().map_err(err)?;
    if used.saturating_add(total) > quota {
        return Err(format!(
            "copying {} file(s), {total} bytes, would pass the working directory quota of {quota} bytes ({used} bytes used); nothing was copied: name fewer files or clear the working directory",
            plan.files.len()
        ));
    }
    let mut done: Vec<(PathBuf, u64)> = Vec::new();
    let mut out = Vec::new();
    for (rel, it) in &plan.files {
        match copy_one(call, node, &plan, rel, &it.path, it.bytes) {
            Ok((dest, copied, size_now)) => {
                let mut r = Record::new("Azs.Support.CopiedFile")
                    .with("ComputerName", &node.name)
                    .with("Source", it.path.display().to_string())
                    .with("Destination", wd.shown(&dest))
                    .with("Length", copied);
                if copied < it.bytes {
                    r = r.with("Note", "the file shrank while it was copied");
                } else if size_now > copied {
                    r = r.with(
                        "Note",
                        format!("the file grew while it was copied: its first {copied} bytes were copied"),
                    );
                }
                done.push((dest, copied));
                out.push(r);
            }
            Err(e) => {
                for (dest, bytes) in done {
                    let _ = fs::remove_file(&dest);
                    wd.unreserve(bytes);
                }
                return Err(format!("{e}; nothing of this copy was kept"));
            }
        }
    }
    Ok(out)
}

/// The machine's code integrity: Secure Boot, kernel lockdown, module signatures, taint.
pub(super) fn code_integrity(h: &LinuxHost<'_>) -> Record {
    let c = system::code_integrity();
    Record::new("Azs.Support.CodeIntegrityStatus")
        .with("ComputerName", &h.node.name)
        .with("SecureBoot", c.secure_boot)
        .with("KernelLockdown", c.kernel_lockdown)
        .with("ModuleSignaturesEnforced", c.module_signatures_enforced)
        .with("KernelTainted", c.kernel_tainted)
}
