//! The log collectors: which run for a filter ([`plan`]), and running them ([`collect`]).
//!
//! A collector reads one source of one node ([`super::sources`]): `<node>/<role>/<kind>`, e.g.
//! `AZS-ERCS01/ECE/role`. [`plan`] checks the filter against the stamp and snapshots what the
//! collectors need, so the caller holds the stamp's read lock only while planning. [`collect`]
//! runs them on [`CollectLimits::workers`] threads, as sos report runs its plugins:
//!
//! - **Window.** A line is kept when its own timestamp lies in `[from, to]`
//!   ([`super::window`]); lines without one follow the line before them.
//! - **Timeout**, per collector (default [`DEFAULT_COLLECTOR_TIMEOUT`], sos's 300 s). A collector
//!   that exceeds it is recorded `TimedOut`, its partial output dropped, and the others go on. A
//!   collector runs on a thread of its own, watched by its worker: one that never returns (a log
//!   share that hangs) is abandoned, not waited for. A node's `log_latency_ms` (its log share
//!   answers slowly: that long before each file) makes the simulated collectors honest about it.
//! - **Size cap**, per file (default [`DEFAULT_MAX_FILE_BYTES`], sos's 25 MiB): an oversized file
//!   keeps its *tail* (the newest lines, from a line start), and the bytes cut are recorded.
//! - **Failures.** A node that cannot be reached (a host Down or Isolated, a VM Off, Saved or
//!   Paused, or a VM whose host is down) fails its collectors with the reason; a missing log
//!   folder fails its collector; the rest go on.
//! - **Cancel.** Workers stop taking collectors once the [`Cancel`] flag is set; running ones
//!   are abandoned within [`POLL`]; all are recorded `Cancelled`.
//!
//! Defaults, for the commands that collect: the window is the last [`DEFAULT_WINDOW_HOURS`]
//! hours. The two Microsoft pages on Get-AzureStackLog and Send-AzureStackDiagnosticLog disagree
//! (1 hour and a 240-minute timeout, or 4 hours and 150 minutes); we pick 4 hours, the default of
//! Send-AzureStackDiagnosticLog too, and [`DEFAULT_TIMEOUT_MINUTES`] for the whole collection
//! (`-TimeOutInMinutes`). Generated role logs reach back
//! [`super::sources::RETENTION_HOURS`] hours.
//!
//! Collected output is held in memory per collector until it completes (that is what lets a
//! timed-out collector's partial output be dropped), so a collector's memory is the size of what
//! it keeps: at most its file count times the cap.

use super::roles::log_roles;
use super::sources::{generate, node_sources, GeneratedFile, Source, SourceKind};
use super::window::{filter_window, Counts};
use super::{Cancel, Progress};
use crate::stamp::Stamp;
use chrono::{DateTime, Datelike, Utc};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

pub use super::window::line_time;

/// The default window: the last 4 hours.
pub const DEFAULT_WINDOW_HOURS: i64 = 4;
/// The default timeout of a whole collection (`-TimeOutInMinutes`), minutes.
pub const DEFAULT_TIMEOUT_MINUTES: u64 = 150;
/// The default timeout of one collector: 5 minutes.
pub const DEFAULT_COLLECTOR_TIMEOUT: Duration = Duration::from_secs(300);
/// The default size cap of one collected file: 25 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 25 << 20;
/// The default number of collector threads.
pub const DEFAULT_WORKERS: usize = 4;
/// How often a waiting worker looks at the cancel flag and the deadline.
pub const POLL: Duration = Duration::from_millis(20);
/// How deep a log folder is walked.
const MAX_DEPTH: usize = 32;

/// Which logs to collect.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// Log roles (empty: all); matched case-insensitively.
    pub roles: Vec<String>,
    /// Nodes (empty: all); case-insensitive.
    pub nodes: Vec<String>,
    /// Start of the window (inclusive).
    pub from: DateTime<Utc>,
    /// End of the window (inclusive).
    pub to: DateTime<Utc>,
}

impl Filter {
    /// Every role of every node over the default window ending at `now`.
    pub fn default_window(now: DateTime<Utc>) -> Self {
        Filter {
            roles: Vec::new(),
            nodes: Vec::new(),
            from: now - chrono::Duration::hours(DEFAULT_WINDOW_HOURS),
            to: now,
        }
    }
}

/// Per-collector limits.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectLimits {
    /// Timeout of each collector.
    pub collector_timeout: Duration,
    /// Size cap of each file (its tail is kept).
    pub max_file_bytes: u64,
    /// Collector threads.
    pub workers: usize,
}

impl Default for CollectLimits {
    fn default() -> Self {
        CollectLimits {
            collector_timeout: DEFAULT_COLLECTOR_TIMEOUT,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            workers: DEFAULT_WORKERS,
        }
    }
}

/// One collected file.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectedFile {
    /// The log role (its zip).
    pub role: String,
    /// The node.
    pub node: String,
    /// Path inside the role's zip: `<node>/<file>`, with `/`.
    pub path: String,
    /// The kept text.
    pub data: Vec<u8>,
    /// Time of its last kept line (a real file: its modification time).
    pub modified: DateTime<Utc>,
}

/// How a collector ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Everything in the window was collected.
    Completed,
    /// Collected, but a file was over the size cap and kept only its tail.
    Truncated,
    /// It ran past its timeout; its partial output was dropped.
    TimedOut,
    /// It could not run: the reason.
    Failed(String),
    /// The collection was cancelled before it finished.
    Cancelled,
}

impl Outcome {
    /// Whether the collector delivered what was in its window (a truncated file kept its tail).
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Completed | Outcome::Truncated)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Completed => f.write_str("Completed"),
            Outcome::Truncated => f.write_str("Truncated"),
            Outcome::TimedOut => f.write_str("TimedOut"),
            Outcome::Failed(why) => write!(f, "Failed: {why}"),
            Outcome::Cancelled => f.write_str("Cancelled"),
        }
    }
}

impl serde::Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What one collector did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CollectorOutcome {
    /// `<node>/<role>/<kind>`.
    pub collector: String,
    /// The log role.
    pub role: String,
    /// The node.
    pub node: String,
    /// Files collected.
    pub files: u32,
    /// Bytes collected.
    pub bytes: u64,
    /// Lines inside the window.
    pub lines_kept: u64,
    /// Lines outside it.
    pub lines_outside_window: u64,
    /// Bytes cut from the heads of oversized files.
    pub truncated_bytes: u64,
    /// Wall time.
    pub elapsed_ms: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// What it left out and why (symlinks, special or unreadable files of a log folder).
    pub skipped: Vec<String>,
}

impl CollectorOutcome {
    /// A collector that has done nothing yet (Completed until told otherwise).
    pub fn new(collector: &str, role: &str, node: &str) -> Self {
        CollectorOutcome {
            collector: collector.to_string(),
            role: role.to_string(),
            node: node.to_string(),
            files: 0,
            bytes: 0,
            lines_kept: 0,
            lines_outside_window: 0,
            truncated_bytes: 0,
            elapsed_ms: 0,
            outcome: Outcome::Completed,
            skipped: Vec::new(),
        }
    }

    /// Marks it failed.
    pub fn fail(&mut self, why: &str) {
        self.outcome = Outcome::Failed(why.to_string());
    }

    /// Notes something it left out.
    pub fn note(&mut self, what: &str) {
        self.skipped.push(what.to_string());
    }
}

/// A planned collector: one source of one node, snapshotted from the stamp.
#[derive(Debug, Clone)]
pub struct Collector {
    /// `<node>/<role>/<kind>`.
    pub name: String,
    /// The log role.
    pub role: String,
    /// The node.
    pub node: String,
    /// What it reads.
    pub kind: SourceKind,
    source: Source,
    now: DateTime<Utc>,
    latency: Duration,
    unreachable: Option<String>,
}

/// The collectors `filter` selects on `stamp` at stamp time `now`. Refuses a window that ends
/// before it starts, a node the stamp does not have and a role none of its nodes carries,
/// naming the valid ones.
pub fn plan(stamp: &Stamp, now: DateTime<Utc>, filter: &Filter) -> Result<Vec<Collector>, String> {
    if filter.from > filter.to {
        return Err(format!(
            "the window starts ({}) after it ends ({})",
            filter.from.to_rfc3339(),
            filter.to.to_rfc3339()
        ));
    }
    for n in &filter.nodes {
        if stamp.node(n).is_none() {
            let names: Vec<&str> = stamp.nodes().map(|n| n.name.as_str()).collect();
            return Err(format!(
                "no node named '{n}' on this stamp (nodes: {})",
                names.join(", ")
            ));
        }
    }
    let valid = log_roles(stamp);
    let mut roles: Vec<&str> = Vec::new();
    for r in &filter.roles {
        match valid.iter().find(|v| v.eq_ignore_ascii_case(r)) {
            Some(v) => roles.push(v),
            None => {
                return Err(format!(
                    "no role '{r}' on this stamp (roles: {})",
                    valid.join(", ")
                ))
            }
        }
    }
    let mut out = Vec::new();
    for node in stamp.nodes() {
        let wanted = filter.nodes.is_empty()
            || filter
                .nodes
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&node.name));
        if !wanted {
            continue;
        }
        let unreachable = stamp.unreachable(node);
        for s in node_sources(stamp, node, now) {
            if !roles.is_empty() && !roles.contains(&s.role.as_str()) {
                continue;
            }
            out.push(Collector {
                name: format!("{}/{}/{}", s.node, s.role, s.kind.as_str()),
                role: s.role,
                node: s.node,
                kind: s.kind,
                source: s.source,
                now,
                latency: Duration::from_millis(node.log_latency_ms),
                unreachable: unreachable.clone(),
            });
        }
    }
    Ok(out)
}

/// Runs `collectors` (see the module header); every collected file goes to `sink` once its
/// collector completes. Returns one outcome per collector, in plan order.
pub fn collect(
    collectors: Vec<Collector>,
    filter: &Filter,
    limits: &CollectLimits,
    progress: &Progress,
    cancel: &Cancel,
    sink: &(dyn Fn(CollectedFile) + Sync),
) -> Vec<CollectorOutcome> {
    let count = collectors.len();
    let queue: Mutex<VecDeque<(usize, Collector)>> =
        Mutex::new(collectors.into_iter().enumerate().collect());
    let results: Mutex<Vec<Option<CollectorOutcome>>> = Mutex::new(vec![None; count]);
    let window = (filter.from.timestamp_millis(), filter.to.timestamp_millis());
    std::thread::scope(|s| {
        for _ in 0..limits.workers.clamp(1, count.max(1)) {
            s.spawn(|| loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some((i, c)) = next else { break };
                let outcome = if cancel.is_cancelled() {
                    ended(&c, Instant::now(), Outcome::Cancelled)
                } else {
                    run_one(c, window, limits, progress, cancel, sink)
                };
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(outcome);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

/// An outcome with nothing collected.
fn ended(c: &Collector, start: Instant, outcome: Outcome) -> CollectorOutcome {
    CollectorOutcome {
        collector: c.name.clone(),
        role: c.role.clone(),
        node: c.node.clone(),
        files: 0,
        bytes: 0,
        lines_kept: 0,
        lines_outside_window: 0,
        truncated_bytes: 0,
        elapsed_ms: start.elapsed().as_millis() as u64,
        outcome,
        skipped: Vec::new(),
    }
}

/// Why a collector stopped early.
enum Stop {
    TimedOut,
    Cancelled,
    Failed(String),
}

/// What a collector gathered.
#[derive(Default)]
struct Gathered {
    files: Vec<CollectedFile>,
    counts: Counts,
    truncated: u64,
    skipped: Vec<String>,
}

/// Runs one collector on a thread of its own and waits for it until its deadline.
fn run_one(
    c: Collector,
    window: (i64, i64),
    limits: &CollectLimits,
    progress: &Progress,
    cancel: &Cancel,
    sink: &(dyn Fn(CollectedFile) + Sync),
) -> CollectorOutcome {
    let start = Instant::now();
    if let Some(why) = &c.unreachable {
        let why = format!("cannot reach {}: {why}", c.node);
        return ended(&c, start, Outcome::Failed(why));
    }
    let deadline = start + limits.collector_timeout;
    let abort = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let job = {
        let c = c.clone();
        let abort = abort.clone();
        let cancel = cancel.clone();
        let cap = limits.max_file_bytes;
        move || {
            let stop = || {
                abort.load(Ordering::Relaxed) || cancel.is_cancelled() || Instant::now() >= deadline
            };
            let r = gather(&c, window, cap, &stop).map_err(|e| match e {
                Stop::Failed(why) => Stop::Failed(why),
                _ if cancel.is_cancelled() => Stop::Cancelled,
                other => other,
            });
            let _ = tx.send(r);
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name(format!("collect {}", c.name))
        .spawn(job)
    {
        return ended(&c, start, Outcome::Failed(format!("could not start: {e}")));
    }
    let result = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left.min(POLL)) {
            Ok(r) => break r,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if cancel.is_cancelled() {
                    break Err(Stop::Cancelled);
                }
                if left.is_zero() {
                    break Err(Stop::TimedOut);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break Err(Stop::Failed(
                    "the collector stopped without a result".into(),
                ))
            }
        }
    };
    // Whatever happened, a collector still running is told to stop (it may be abandoned).
    abort.store(true, Ordering::Relaxed);
    let g = match result {
        Ok(g) => g,
        Err(Stop::TimedOut) => return ended(&c, start, Outcome::TimedOut),
        Err(Stop::Cancelled) => return ended(&c, start, Outcome::Cancelled),
        Err(Stop::Failed(why)) => return ended(&c, start, Outcome::Failed(why)),
    };
    let mut out = ended(&c, start, Outcome::Completed);
    out.files = g.files.len() as u32;
    out.bytes = g.files.iter().map(|f| f.data.len() as u64).sum();
    out.lines_kept = g.counts.kept;
    out.lines_outside_window = g.counts.outside;
    out.truncated_bytes = g.truncated;
    out.skipped = g.skipped;
    if g.truncated > 0 {
        out.outcome = Outcome::Truncated;
    }
    Progress::add(&progress.collected, out.bytes);
    for f in g.files {
        sink(f);
    }
    out
}

/// Waits `d` (the node's log share answering slowly) unless told to stop; false when stopped.
fn wait(d: Duration, stop: &dyn Fn() -> bool) -> bool {
    let until = Instant::now() + d;
    loop {
        if stop() {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(POLL));
    }
}

/// Keeps the last `cap` bytes of `data`, from a line start when there is one; the bytes cut.
fn keep_tail(data: &mut Vec<u8>, cap: u64) -> u64 {
    let len = data.len() as u64;
    if len <= cap {
        return 0;
    }
    let mut cut = (len - cap) as usize;
    if let Some(nl) = data[cut - 1..].iter().position(|&b| b == b'\n') {
        // `cut - 1 + nl` is the newline ending the line the cut fell into.
        cut += nl;
    }
    data.drain(..cut);
    cut as u64
}

/// Reads a collector's source.
fn gather(
    c: &Collector,
    (from, to): (i64, i64),
    cap: u64,
    stop: &dyn Fn() -> bool,
) -> Result<Gathered, Stop> {
    let mut g = Gathered::default();
    let now_ms = c.now.timestamp_millis();
    let add = |g: &mut Gathered, file: &str, mut data: Vec<u8>, modified: DateTime<Utc>| {
        if data.is_empty() {
            return;
        }
        g.truncated += keep_tail(&mut data, cap);
        g.files.push(CollectedFile {
            role: c.role.clone(),
            node: c.node.clone(),
            path: format!("{}/{file}", c.node),
            data,
            modified,
        });
    };
    let at = |ms: Option<i64>| {
        ms.and_then(DateTime::from_timestamp_millis)
            .unwrap_or(c.now)
    };
    match &c.source {
        Source::Generated(files) => {
            for f in files {
                if !wait(c.latency, stop) {
                    return Err(Stop::TimedOut);
                }
                let mut data = Vec::new();
                let r = generated(c, f, now_ms, from, to, &mut data, stop)?;
                g.counts.kept += r.counts.kept;
                g.counts.outside += r.counts.outside;
                add(&mut g, &f.name, data, at(r.last_ms));
            }
        }
        Source::Text(files) => {
            for (name, text) in files {
                if !wait(c.latency, stop) {
                    return Err(Stop::TimedOut);
                }
                let mut data = Vec::new();
                let counts =
                    filter_window(text.as_bytes(), from, to, c.now.year(), &mut data, stop)
                        .ok_or(Stop::TimedOut)?;
                g.counts.kept += counts.kept;
                g.counts.outside += counts.outside;
                let last = last_line_time(&data, c.now.year());
                add(&mut g, name, data, at(last));
            }
        }
        Source::Directory(root) => {
            let root = root
                .canonicalize()
                .map_err(|e| Stop::Failed(format!("log folder {}: {e}", root.display())))?;
            if !root.is_dir() {
                return Err(Stop::Failed(format!(
                    "log folder {} is not a folder",
                    root.display()
                )));
            }
            let mut files = Vec::new();
            walk(&root, Path::new(""), 0, &mut files, &mut g.skipped);
            files.sort();
            for rel in files {
                if !wait(c.latency, stop) {
                    return Err(Stop::TimedOut);
                }
                let shown = rel.to_string_lossy().replace('\\', "/");
                let (raw, modified) = match read_no_follow(&root.join(&rel)) {
                    Ok(r) => r,
                    Err(e) => {
                        g.skipped.push(format!("{shown}: {e}"));
                        continue;
                    }
                };
                let mut data = Vec::new();
                let counts = filter_window(&raw, from, to, modified.year(), &mut data, stop)
                    .ok_or(Stop::TimedOut)?;
                g.counts.kept += counts.kept;
                g.counts.outside += counts.outside;
                add(&mut g, &format!("log_dir/{shown}"), data, modified);
            }
        }
    }
    Ok(g)
}

fn generated(
    c: &Collector,
    f: &GeneratedFile,
    now_ms: i64,
    from: i64,
    to: i64,
    out: &mut Vec<u8>,
    stop: &dyn Fn() -> bool,
) -> Result<super::sources::Generated, Stop> {
    generate(&c.node, f, now_ms, from, to, out, stop).ok_or(Stop::TimedOut)
}

/// The time of the last dated line of `data`.
fn last_line_time(data: &[u8], year: i32) -> Option<i64> {
    data.split(|&b| b == b'\n')
        .rev()
        .find_map(|l| super::window::line_millis(l, year))
}

/// Lists the regular files under `dir` (relative to the root), never following a symlink.
fn walk(
    root: &Path,
    rel: &Path,
    depth: usize,
    files: &mut Vec<PathBuf>,
    skipped: &mut Vec<String>,
) {
    let dir = root.join(rel);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => {
            skipped.push(format!("{}: {e}", rel.display()));
            return;
        }
    };
    for entry in entries.flatten() {
        let rel = rel.join(entry.file_name());
        // `file_type` does not follow symlinks.
        match entry.file_type() {
            Ok(t) if t.is_symlink() => {
                skipped.push(format!("{}: a symlink, not followed", rel.display()))
            }
            Ok(t) if t.is_dir() && depth < MAX_DEPTH => walk(root, &rel, depth + 1, files, skipped),
            Ok(t) if t.is_dir() => skipped.push(format!(
                "{}: deeper than {MAX_DEPTH} folders",
                rel.display()
            )),
            Ok(t) if t.is_file() => files.push(rel),
            Ok(_) => skipped.push(format!("{}: not a regular file", rel.display())),
            Err(e) => skipped.push(format!("{}: {e}", rel.display())),
        }
    }
}

/// Reads a regular file without following a symlink at its last component (a file swapped for
/// a symlink after the walk is refused), with its modification time.
/// The most of one folder file a collector reads: its last this many bytes (logs grow at their
/// end; the window's lines are there). The collector keeps a smaller tail after filtering.
const MAX_FILE_READ: u64 = 256 << 20;

/// Reads a regular file of a log folder without following a link, at most its last
/// [`MAX_FILE_READ`] bytes (from a line start); a binary file (a NUL in its first 8 KiB: a
/// journal, wtmp) is refused.
fn read_no_follow(path: &Path) -> std::io::Result<(Vec<u8>, DateTime<Utc>)> {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let modified: DateTime<Utc> = meta.modified().map(Into::into).unwrap_or_default();
    let mut head = [0u8; 8192];
    let n = file.read(&mut head)?;
    if head[..n].contains(&0) {
        return Err(std::io::Error::other("binary, not a text log"));
    }
    let start = meta.len().saturating_sub(MAX_FILE_READ);
    file.seek(SeekFrom::Start(start))?;
    let mut data = Vec::with_capacity(usize::try_from(meta.len() - start).unwrap_or(0));
    file.take(MAX_FILE_READ).read_to_end(&mut data)?;
    if start > 0 {
        // Begin at the first whole line.
        let cut = data
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| i + 1);
        data.drain(..cut);
    }
    Ok((data, modified))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::scenario::parse_scenario;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0)
            .single()
            .expect("valid")
    }

    fn patched(body: &str) -> Stamp {
        let text = format!("extends = \"default\"\nversion = 1\nname = \"t\"\n{body}");
        parse_scenario("t.toml", &text, None).unwrap_or_else(|e| panic!("{e}"))
    }

    fn filter(roles: &[&str], nodes: &[&str]) -> Filter {
        Filter {
            roles: roles.iter().map(|s| s.to_string()).collect(),
            nodes: nodes.iter().map(|s| s.to_string()).collect(),
            ..Filter::default_window(now())
        }
    }

    /// Runs a collection; returns the outcomes and the files, sorted by path.
    fn run(
        stamp: &Stamp,
        f: &Filter,
        limits: &CollectLimits,
    ) -> (Vec<CollectorOutcome>, Vec<CollectedFile>) {
        let collectors = plan(stamp, now(), f).expect("plan");
        let files = Mutex::new(Vec::new());
        let progress = Progress::new();
        let outcomes = collect(collectors, f, limits, &progress, &Cancel::new(), &|file| {
            files.lock().expect("lock").push(file)
        });
        let mut files = files.into_inner().expect("lock");
        files.sort_by(|a, b| (&a.role, &a.path).cmp(&(&b.role, &b.path)));
        let bytes: u64 = files.iter().map(|f| f.data.len() as u64).sum();
        assert_eq!(progress.collected.load(Ordering::Relaxed), bytes);
        (outcomes, files)
    }

    fn text(f: &CollectedFile) -> &str {
        std::str::from_utf8(&f.data).expect("utf8")
    }

    #[test]
    fn filtering_by_role_and_node_gives_only_those() {
        let stamp = Stamp::default_stamp().expect("default");
        let f = filter(&["ece", "SeedRing"], &[]);
        let (outcomes, files) = run(&stamp, &f, &CollectLimits::default());
        assert!(!files.is_empty());
        assert!(files
            .iter()
            .all(|f| f.role == "ECE" || f.role == "SeedRing"));
        assert!(files.iter().any(|f| f.path == "AZS-ERCS02/EceAgent.log"));
        assert!(files
            .iter()
            .any(|f| f.path == "AZS-SRNG01/SeedRing.Fabric.log"));
        assert!(
            outcomes.iter().all(|o| o.outcome == Outcome::Completed),
            "{outcomes:?}"
        );
        let f = filter(&[], &["azs-host01", "AZS-XRP01"]);
        let (outcomes, files) = run(&stamp, &f, &CollectLimits::default());
        assert!(files
            .iter()
            .all(|f| f.node == "AZS-HOST01" || f.node == "AZS-XRP01"));
        let names: Vec<&str> = outcomes.iter().map(|o| o.collector.as_str()).collect();
        for want in [
            "AZS-HOST01/BareMetal/role",
            "AZS-HOST01/BareMetal/cluster",
            "AZS-HOST01/BareMetal/event",
            "AZS-HOST01/Storage/role",
            "AZS-XRP01/CRP/role",
            "AZS-XRP01/FabricRing/event",
        ] {
            assert!(names.contains(&want), "{want} not in {names:?}");
        }
        assert!(files
            .iter()
            .any(|f| f.path == "AZS-HOST01/Events/Setup.log"));
    }

    #[test]
    fn every_line_lies_in_the_window_and_two_collections_are_identical() {
        let stamp = Stamp::default_stamp().expect("default");
        let f = Filter {
            from: now() - chrono::Duration::minutes(90),
            to: now() - chrono::Duration::minutes(30),
            ..filter(&[], &[])
        };
        let (outcomes, files) = run(&stamp, &f, &CollectLimits::default());
        assert!(files.len() > 50, "{}", files.len());
        let mut lines = 0;
        for file in &files {
            for line in text(file).lines() {
                let t = line_time(line, 2026).unwrap_or_else(|| panic!("{}: {line}", file.path));
                assert!(t >= f.from && t <= f.to, "{}: {line}", file.path);
                lines += 1;
            }
            assert!(file.modified >= f.from && file.modified <= f.to);
        }
        let kept: u64 = outcomes.iter().map(|o| o.lines_kept).sum();
        assert_eq!(kept, lines);
        assert!(outcomes
            .iter()
            .all(|o| o.lines_outside_window > 0 || o.lines_kept == 0));
        let (_, again) = run(
            &stamp,
            &f,
            &CollectLimits {
                workers: 1,
                ..Default::default()
            },
        );
        assert!(files == again, "byte-identical");
    }

    #[test]
    fn a_planted_line_appears_in_its_file_at_its_time() {
        let stamp = patched(
            "[[vm]]\nname = \"AZS-ERCS01\"\n\
             [[vm.log]]\nfile = \"EceAgent.log\"\nminutes_ago = 30\nlevel = \"ERROR\"\ntext = \"PLANTED: action plan step 12 failed\\n  at Step.Run()\"\n\
             [[vm.log]]\nfile = \"Extra/Planted.log\"\ntime = 2026-12-01T11:00:00Z\ntext = \"absolute\"\n\
             [[vm.log]]\nfile = \"EceAgent.log\"\nminutes_ago = 600\ntext = \"too old for the window\"\n",
        );
        let (_, files) = run(
            &stamp,
            &filter(&["ECE"], &["AZS-ERCS01"]),
            &CollectLimits::default(),
        );
        let ece = files
            .iter()
            .find(|f| f.path == "AZS-ERCS01/EceAgent.log")
            .expect("EceAgent.log");
        let body = text(ece);
        let at = (now() - chrono::Duration::minutes(30)).format("%Y-%m-%dT%H:%M:%S%.3fZ");
        let planted = format!("{at} ERROR PLANTED: action plan step 12 failed\n  at Step.Run()\n");
        let pos = body.find(&planted).expect("planted line");
        let before = body[..pos].lines().last().and_then(|l| line_time(l, 2026));
        let after = body[pos + planted.len()..]
            .lines()
            .next()
            .and_then(|l| line_time(l, 2026));
        let t = now() - chrono::Duration::minutes(30);
        assert!(
            before.is_some_and(|b| b <= t) && after.is_some_and(|a| a >= t),
            "in time order"
        );
        assert!(!body.contains("too old"));
        let extra = files
            .iter()
            .find(|f| f.path == "AZS-ERCS01/Extra/Planted.log")
            .expect("a planted file of its own");
        assert_eq!(text(extra), "2026-12-01T11:00:00.000Z INFO absolute\n");
        let bad = "extends = \"default\"\nversion = 1\nname = \"t\"\n[[vm]]\nname = \"AZS-ERCS01\"\n[[vm.log]]\nfile = \"../x\"\nminutes_ago = 1\n";
        let e = parse_scenario("b.toml", bad, None).expect_err("bad file");
        assert!(e.to_string().contains("vm[0].log[0].file"), "{e}");
        let bad = "extends = \"default\"\nversion = 1\nname = \"t\"\n[[vm]]\nname = \"AZS-ERCS01\"\n[[vm.log]]\nfile = \"x.log\"\nrole = \"ACS\"\nminutes_ago = 1\n";
        let e = parse_scenario("b.toml", bad, None).expect_err("bad role");
        assert!(
            e.to_string()
                .contains("not a log role of this node (ECE, SupportBridgeController)"),
            "{e}"
        );
    }

    #[test]
    fn the_size_cap_keeps_the_tail_and_records_the_cut() {
        let stamp = Stamp::default_stamp().expect("default");
        let f = filter(&["ECE"], &["AZS-ERCS01"]);
        let (_, whole) = run(&stamp, &f, &CollectLimits::default());
        let limits = CollectLimits {
            max_file_bytes: 4096,
            ..Default::default()
        };
        let (outcomes, capped) = run(&stamp, &f, &limits);
        let o = outcomes
            .iter()
            .find(|o| o.collector == "AZS-ERCS01/ECE/role")
            .expect("role collector");
        assert_eq!(o.outcome, Outcome::Truncated);
        let (whole, capped): (Vec<_>, Vec<_>) = (
            whole
                .into_iter()
                .filter(|f| !f.path.contains("/Events/"))
                .collect(),
            capped
                .into_iter()
                .filter(|f| !f.path.contains("/Events/"))
                .collect(),
        );
        assert_eq!(whole.len(), 2, "EceAgent.log and CloudDeployment.log");
        let full: u64 = whole.iter().map(|f| f.data.len() as u64).sum();
        assert_eq!(o.bytes + o.truncated_bytes, full);
        for (c, w) in capped.iter().zip(&whole) {
            assert!(c.data.len() <= 4096);
            assert!(w.data.ends_with(&c.data), "the tail of {}", c.path);
            assert!(line_time(text(c), 2026).is_some(), "starts at a line start");
        }
    }

    #[test]
    fn a_slow_node_times_out_while_the_others_complete() {
        // Far apart, so a loaded debug run cannot blur them: the healthy collectors take
        // milliseconds and have 3 s, the slow node takes 60 s.
        let stamp = patched("[[vm]]\nname = \"AZS-ERCS02\"\nlog_latency_ms = 60000\n");
        let f = filter(&["ECE"], &[]);
        let limits = CollectLimits {
            collector_timeout: Duration::from_secs(3),
            ..Default::default()
        };
        let started = Instant::now();
        let (outcomes, files) = run(&stamp, &f, &limits);
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not waited for"
        );
        for o in &outcomes {
            let want = if o.node == "AZS-ERCS02" {
                Outcome::TimedOut
            } else {
                Outcome::Completed
            };
            assert_eq!(o.outcome, want, "{}", o.collector);
        }
        assert!(
            files.iter().all(|f| f.node != "AZS-ERCS02"),
            "partial output dropped"
        );
        assert!(files.iter().any(|f| f.node == "AZS-ERCS03"));
    }

    #[test]
    fn an_unreachable_node_fails_with_its_reason_and_the_rest_go_on() {
        let stamp = patched(
            "[[host]]\nname = \"AZS-HOST02\"\nstate = \"Down\"\n[[vm]]\nname = \"AZS-ERCS03\"\nstate = \"Saved\"\n",
        );
        let f = filter(
            &[],
            &["AZS-HOST02", "AZS-ERCS02", "AZS-ERCS03", "AZS-ERCS01"],
        );
        let (outcomes, files) = run(&stamp, &f, &CollectLimits::default());
        let of = |node: &str| -> Vec<&Outcome> {
            outcomes
                .iter()
                .filter(|o| o.node == node)
                .map(|o| &o.outcome)
                .collect()
        };
        let down = Outcome::Failed("cannot reach AZS-HOST02: it is Down".into());
        assert!(of("AZS-HOST02").iter().all(|o| **o == down), "{outcomes:?}");
        let on_down =
            Outcome::Failed("cannot reach AZS-ERCS02: its host AZS-HOST02 is Down".into());
        assert!(of("AZS-ERCS02").iter().all(|o| **o == on_down));
        let saved = Outcome::Failed("cannot reach AZS-ERCS03: it is Saved".into());
        assert!(of("AZS-ERCS03").iter().all(|o| **o == saved));
        assert!(of("AZS-ERCS01").iter().all(|o| **o == Outcome::Completed));
        assert!(files.iter().all(|f| f.node == "AZS-ERCS01"));
    }

    #[test]
    fn unknown_roles_and_nodes_are_refused_with_the_valid_names() {
        let stamp = Stamp::default_stamp().expect("default");
        let e = plan(&stamp, now(), &filter(&["KeyVaultDataPlane"], &[])).expect_err("role");
        assert!(
            e.starts_with("no role 'KeyVaultDataPlane' on this stamp (roles: ACS, ACSBlob,"),
            "{e}"
        );
        let e = plan(&stamp, now(), &filter(&[], &["AZS-NOPE01"])).expect_err("node");
        assert!(
            e.starts_with("no node named 'AZS-NOPE01' on this stamp (nodes: AZS-HOST01,"),
            "{e}"
        );
        let backwards = Filter {
            from: now(),
            to: now() - chrono::Duration::hours(1),
            ..filter(&[], &[])
        };
        assert!(plan(&stamp, now(), &backwards).is_err());
    }

    #[test]
    fn a_log_folder_is_collected_filtered_by_line_times_without_following_symlinks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(logs.join("sub")).expect("mkdir");
        std::fs::write(
            logs.join("app.log"),
            "2026-12-01T07:00:00Z INFO too early\n2026-12-01T09:00:00Z INFO kept\n  continuation\n2026-12-01T12:00:01Z INFO too late\n",
        )
        .expect("write");
        std::fs::write(
            logs.join("sub/syslog"),
            "Dec  1 08:30:00 host a: kept too\nDec  1 07:59:59 host a: before\n",
        )
        .expect("write");
        // Syslog lines carry no year: it comes from the file's modification time.
        std::fs::File::options()
            .write(true)
            .open(logs.join("sub/syslog"))
            .and_then(|f| f.set_modified(now().into()))
            .expect("set mtime");
        std::fs::write(
            outside.path().join("secret.log"),
            "2026-12-01T09:00:00Z INFO secret\n",
        )
        .expect("write");
        std::os::unix::fs::symlink(outside.path().join("secret.log"), logs.join("link.log"))
            .expect("symlink");
        std::os::unix::fs::symlink(outside.path(), logs.join("linkdir")).expect("symlink");
        let stamp = patched(&format!(
            "[[host]]\nname = \"AZS-HOST03\"\nlog_dir = \"{}\"\n",
            logs.display()
        ));
        let (outcomes, files) = run(
            &stamp,
            &filter(&["BareMetal"], &["AZS-HOST03"]),
            &CollectLimits::default(),
        );
        let o = outcomes
            .iter()
            .find(|o| o.collector == "AZS-HOST03/BareMetal/directory")
            .expect("directory collector");
        assert_eq!(o.outcome, Outcome::Completed);
        let got = |p: &str| files.iter().find(|f| f.path == p).map(text);
        assert_eq!(
            got("AZS-HOST03/log_dir/app.log"),
            Some("2026-12-01T09:00:00Z INFO kept\n  continuation\n")
        );
        assert_eq!(
            got("AZS-HOST03/log_dir/sub/syslog"),
            Some("Dec  1 08:30:00 host a: kept too\n")
        );
        assert!(files.iter().all(|f| !text(f).contains("secret")));
        assert_eq!(o.files, 2);
        assert_eq!((o.lines_kept, o.lines_outside_window), (3, 3));
        assert_eq!(o.skipped.len(), 2, "{:?}", o.skipped);
        assert!(o
            .skipped
            .iter()
            .all(|s| s.contains("symlink, not followed")));
        // A folder that is not there fails its collector only.
        let stamp =
            patched("[[host]]\nname = \"AZS-HOST03\"\nlog_dir = \"/nonexistent/pep-logs\"\n");
        let (outcomes, _) = run(
            &stamp,
            &filter(&["BareMetal"], &["AZS-HOST03"]),
            &CollectLimits::default(),
        );
        for o in &outcomes {
            match o.collector.ends_with("/directory") {
                true => assert!(
                    matches!(&o.outcome, Outcome::Failed(w) if w.contains("/nonexistent/pep-logs"))
                ),
                false => assert_eq!(o.outcome, Outcome::Completed),
            }
        }
    }

    #[test]
    fn the_real_machine_gives_the_text_logs_of_its_read_roots_and_nothing_generated() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("syslog"),
            "2026-12-01T07:00:00Z host a: too early\n2026-12-01T09:00:00Z host sshd: kept\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("system.journal"), b"LPKSHHRH\0\0\0binary").expect("write");
        let mut stamp = crate::stamp::load_scenario("linux").expect("linux");
        stamp.attach_local_machine();
        let host = stamp.machines[0].name.clone();
        stamp.machines[0].read_roots = vec![dir.path().to_path_buf()];
        let (outcomes, files) = run(&stamp, &filter(&[], &[]), &CollectLimits::default());
        assert_eq!(outcomes.len(), 1, "{outcomes:?}");
        let o = &outcomes[0];
        assert_eq!(o.collector, format!("{host}/Linux/directory"));
        assert_eq!(o.outcome, Outcome::Completed);
        assert_eq!(files.len(), 1, "only the text log");
        assert_eq!(text(&files[0]), "2026-12-01T09:00:00Z host sshd: kept\n");
        assert!(
            o.skipped
                .iter()
                .any(|s| s.contains("system.journal") && s.contains("binary")),
            "{:?}",
            o.skipped
        );
        assert_eq!(
            crate::logs::roles::log_roles(&stamp),
            vec!["Linux".to_string()]
        );
    }

    #[test]
    fn cancelling_stops_promptly_and_records_every_collector() {
        let stamp = patched("[[vm]]\nname = \"AZS-ERCS01\"\nlog_latency_ms = 10000\n");
        let f = filter(&[], &["AZS-ERCS01"]);
        let collectors = plan(&stamp, now(), &f).expect("plan");
        let n = collectors.len();
        let cancel = Cancel::new();
        let c2 = cancel.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            c2.cancel("revoked");
        });
        let started = Instant::now();
        let outcomes = collect(
            collectors,
            &f,
            &CollectLimits {
                workers: 1,
                ..Default::default()
            },
            &Progress::new(),
            &cancel,
            &|_| {},
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(outcomes.len(), n);
        assert!(outcomes.iter().all(|o| o.outcome == Outcome::Cancelled));
        t.join().expect("thread");
    }
}
