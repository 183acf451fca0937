//! A bounded system-call trace of one running process on a real Linux host, the analogue of
//! `Invoke-AzsSupportWmiTracing`: `strace -f -tt -T -s 128 -o FILE -p PID` run through a
//! [`Runner`] (fixed argv, clean environment, no shell) for a fixed duration, then stopped with
//! SIGINT so that strace detaches and the traced process runs on (SIGKILL to strace after a bound
//! if it does not exit; the kernel then detaches the tracees itself).
//!
//! This module owns the guards around that: which processes may not be traced (those
//! [`processes::protected`] names: PID 1, kernel threads, pep and its ancestors), the duration
//! bound ([`MAX_DURATION`]), the size bound (the trace is stopped early once its file passes the
//! limit the caller gives, at most [`MAX_FILE_BYTES`]) and the file's life: created exclusively
//! with mode 0600 by pep before strace writes into it, removed again when the trace fails.

use std::fs::OpenOptions;
use std::io::{BufReader, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::processes;
use super::runner::Runner;

/// The longest a trace may run.
pub const MAX_DURATION: Duration = Duration::from_secs(300);

/// The largest trace file: a trace is stopped once its file passes this (or the caller's smaller
/// limit).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// How long strace may take to detach and exit after SIGINT before it is killed.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// How often the trace's process and file size are looked at.
const POLL: Duration = Duration::from_millis(20);

/// Bytes of strace's own messages (stderr) kept for errors.
const MAX_STDERR: usize = 16 << 10;

/// What a finished trace left.
#[derive(Debug, Clone, Serialize)]
pub struct TraceOutcome {
    /// The traced process.
    pub process_id: u32,
    /// Its name (`/proc/PID/comm`) when the trace started.
    pub process_name: String,
    /// The trace file (mode 0600): one line per system call, signal or exit, each with the
    /// thread id, the time of day (microseconds) and the time spent in the call.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// Its lines.
    pub lines: u64,
    /// How long the trace ran.
    pub elapsed: Duration,
    /// What ended it: `duration`, `size` (the file passed its limit) or `exited` (the traced
    /// process ended, and strace with it).
    pub stopped_by: String,
}

/// Traces process `pid` with strace into `path` for `duration` (1 s to [`MAX_DURATION`]),
/// stopping early once the file passes `max_bytes` (at most [`MAX_FILE_BYTES`]). Blocks for the
/// duration. The process keeps running afterwards.
///
/// `path` must be absolute, built by the caller, and not exist yet; it is created here with mode
/// 0600. Refused for the processes [`processes::protected`] names. On failure the file is
/// removed and the error is one line. The pid and path are as the runner's prefix sees them
/// (no prefix in production).
pub fn trace(
    runner: &Runner,
    pid: u32,
    path: &Path,
    duration: Duration,
    max_bytes: u64,
) -> Result<TraceOutcome, String> {
    check_duration(duration)?;
    if max_bytes == 0 || max_bytes > MAX_FILE_BYTES {
        return Err(format!(
            "a trace file may hold at most {} MB",
            MAX_FILE_BYTES >> 20
        ));
    }
    let info = processes::get(pid)?;
    if ended(pid) {
        return Err(format!(
            "Process {pid} has exited (a zombie); there is nothing to trace"
        ));
    }
    if let Some(why) = processes::protected(pid) {
        return Err(format!("refusing to trace {} (id {pid}): {why}", info.name));
    }
    let path_text = match path.to_str() {
        Some(text) if path.is_absolute() => text,
        _ => {
            return Err(format!(
                "{} is not an absolute UTF-8 path for a trace file",
                path.display()
            ))
        }
    };
    // Created here, exclusively (never through a symlink), so strace only truncates our file.
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => format!("{} already exists", path.display()),
            _ => format!(
                "the trace file {} could not be created: {e}",
                path.display()
            ),
        })?;
    let result =
        run(runner, pid, path, path_text, duration, max_bytes).and_then(|(elapsed, stopped_by)| {
            let size_bytes = std::fs::metadata(path)
                .map_err(|e| format!("the trace file {} is missing: {e}", path.display()))?
                .len();
            Ok(TraceOutcome {
                process_id: pid,
                process_name: info.name,
                path: path.to_path_buf(),
                size_bytes,
                lines: count_lines(path)?,
                elapsed,
                stopped_by: stopped_by.to_string(),
            })
        });
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// The duration a trace may be asked for: 1 s to [`MAX_DURATION`].
pub fn check_duration(duration: Duration) -> Result<(), String> {
    if duration < Duration::from_secs(1) || duration > MAX_DURATION {
        return Err(format!(
            "a system-call trace runs from 1 to {} seconds",
            MAX_DURATION.as_secs()
        ));
    }
    Ok(())
}

/// The argv given to strace (after the program name): fixed options, then the file and the pid.
pub fn strace_args(path: &str, pid: u32) -> Vec<String> {
    ["-f", "-tt", "-T", "-s", "128", "-o", path, "-p"]
        .iter()
        .map(|s| s.to_string())
        .chain(std::iter::once(pid.to_string()))
        .collect()
}

/// The traces running now: the folder each writes into, and the flag that stops it early.
static RUNNING: std::sync::Mutex<
    Vec<(
        std::path::PathBuf,
        std::sync::Arc<std::sync::atomic::AtomicBool>,
    )>,
> = std::sync::Mutex::new(Vec::new());

/// Stops, at their next poll, the traces writing into a folder `owned` accepts (the working
/// directory of a grant that ended); how many there were. The trace returns as `stopped`.
pub fn stop_where(owned: impl Fn(&Path) -> bool) -> usize {
    let all = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    let mut n = 0;
    for (dir, flag) in all.iter().filter(|(d, _)| owned(d)) {
        let _ = dir;
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        n += 1;
    }
    n
}

/// A trace's entry in [`RUNNING`], removed when the trace ends.
struct Registered(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Registered {
    fn new(path: &Path) -> Self {
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        RUNNING
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((dir, flag.clone()));
        Registered(flag)
    }

    fn stopped(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        RUNNING
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(_, f)| !std::sync::Arc::ptr_eq(f, &self.0));
    }
}

/// Runs strace until the duration, the size limit, the process's end or a stop from outside
/// ([`stop_where`]); how long it ran and what ended it.
fn run(
    runner: &Runner,
    pid: u32,
    path: &Path,
    path_text: &str,
    duration: Duration,
    max_bytes: u64,
) -> Result<(Duration, &'static str), String> {
    let args = strace_args(path_text, pid);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut strace = runner.background("strace", &argv, "strace", MAX_STDERR)?;
    let registered = Registered::new(path);
    let started = Instant::now();
    let io = |e: std::io::Error| format!("strace could not be waited for: {e}");
    let stopped_by = loop {
        if let Some(status) = strace.child.try_wait().map_err(io)? {
            // strace ended on its own: the process exited, or strace could not attach.
            let text = strace.stderr();
            if status.success() || ended(pid) {
                return Ok((started.elapsed(), "exited"));
            }
            return Err(format!(
                "the trace of process {pid} failed: {}",
                strace_error(&text, status)
            ));
        }
        if started.elapsed() >= duration {
            break "duration";
        }
        if registered.stopped() {
            break "stopped";
        }
        if std::fs::metadata(path).is_ok_and(|m| m.len() >= max_bytes) {
            break "size";
        }
        std::thread::sleep(POLL);
    };
    // SIGINT detaches strace cleanly; the traced process is in no such group.
    strace.interrupt(STOP_WAIT).map_err(io)?;
    let elapsed = started.elapsed();
    drop(strace.stderr());
    Ok((elapsed, stopped_by))
}

/// Whether process `pid` is gone or a zombie (its state in `/proc/PID/stat`).
fn ended(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .and_then(|i| s[i + 1..].split_whitespace().next().map(str::to_string))
        })
        .is_none_or(|state| state == "Z" || state == "X")
}

/// strace's first `strace:` message (else its exit status), as one line.
fn strace_error(stderr: &str, status: ExitStatus) -> String {
    stderr
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("strace:") && !l.contains(" attached"))
        .or_else(|| stderr.lines().map(str::trim).find(|l| !l.is_empty()))
        .map(str::to_string)
        .unwrap_or_else(|| format!("strace ended with {status}"))
}

/// The lines of a file.
fn count_lines(path: &Path) -> Result<u64, String> {
    let file = std::fs::File::open(path)
        .map_err(|e| format!("the trace file {} cannot be read: {e}", path.display()))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut buf = [0u8; 1 << 16];
    let mut lines = 0u64;
    let mut last = b'\n';
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
                last = buf[n - 1];
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(format!(
                    "the trace file {} cannot be read: {e}",
                    path.display()
                ))
            }
        }
    }
    // A last line cut short (strace killed mid-line) still counts.
    Ok(lines + u64::from(last != b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
    }

    #[test]
    fn the_argv_is_fixed_and_the_bounds_are_checked() {
        assert_eq!(
            strace_args("/w/x.strace", 42),
            [
                "-f",
                "-tt",
                "-T",
                "-s",
                "128",
                "-o",
                "/w/x.strace",
                "-p",
                "42"
            ]
        );
        assert!(check_duration(Duration::from_secs(1)).is_ok());
        assert!(check_duration(Duration::from_secs(300)).is_ok());
        assert!(check_duration(Duration::from_secs(301)).is_err());
        assert!(check_duration(Duration::from_millis(500)).is_err());
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("t.strace");
        let e =
            trace(&Runner::local(), 1, &path, Duration::from_secs(1), 1 << 20).expect_err("pid 1");
        assert!(e.starts_with("refusing to trace"), "{e}");
        let e = trace(
            &Runner::local(),
            std::process::id(),
            &path,
            Duration::from_secs(1),
            1 << 20,
        )
        .expect_err("self");
        assert!(e.contains("pep itself"), "{e}");
        let e = trace(
            &Runner::local(),
            std::process::id(),
            &path,
            Duration::from_secs(301),
            1 << 20,
        )
        .expect_err("too long");
        assert!(e.contains("1 to 300 seconds"), "{e}");
        assert!(!path.exists(), "nothing is left behind");
    }

    #[test]
    fn a_trace_stops_at_its_size_limit_and_the_process_runs_on() {
        let Some(looper) = crate::test_process::RunningLoop::start(
            "import os\nwhile True: os.write(1, b'x' * 100)",
        ) else {
            eprintln!("skipped: python3 is not installed");
            return;
        };
        let pid = looper.pid();
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("size.strace");
        let started = Instant::now();
        let out = trace(
            &Runner::local(),
            pid,
            &path,
            Duration::from_secs(30),
            64 << 10,
        )
        .expect("traced");
        assert_eq!(out.stopped_by, "size", "{out:?}");
        assert!(started.elapsed() < Duration::from_secs(20));
        assert!(out.size_bytes >= 64 << 10);
        assert!(out.lines > 100, "{out:?}");
        assert!(alive(pid), "the traced process keeps running");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("write(1, \"xxxx"), "{}", &text[..200]);
        let mode = std::fs::metadata(&path).expect("meta").permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }

    #[test]
    fn a_process_that_exits_ends_its_trace() {
        let mut child = Command::new("sleep").arg("1").spawn().expect("sleep");
        let pid = child.id();
        // Reaped as soon as it exits, so that strace sees it go.
        let reaper = std::thread::spawn(move || child.wait());
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("exit.strace");
        let out = trace(
            &Runner::local(),
            pid,
            &path,
            Duration::from_secs(20),
            1 << 20,
        );
        let _ = reaper.join();
        let out = out.expect("traced");
        assert_eq!(out.stopped_by, "exited", "{out:?}");
        assert!(out.elapsed < Duration::from_secs(10), "{out:?}");
    }

    #[test]
    fn a_trace_is_stopped_from_outside_when_its_grant_ends() {
        let mut child = Command::new("sleep").arg("120").spawn().expect("sleep");
        let pid = child.id();
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().to_path_buf();
        let path = dir.join("grant.strace");
        let stopper = {
            let dir = dir.clone();
            // Stops it as soon as it is registered (later on a loaded machine).
            std::thread::spawn(move || {
                let until = Instant::now() + Duration::from_secs(20);
                loop {
                    std::thread::sleep(Duration::from_millis(100));
                    let n = stop_where(|d| d == dir);
                    if n > 0 || Instant::now() > until {
                        return n;
                    }
                }
            })
        };
        let started = Instant::now();
        let out = trace(
            &Runner::local(),
            pid,
            &path,
            Duration::from_secs(60),
            1 << 20,
        )
        .expect("traced");
        assert_eq!(stopper.join().expect("stopper"), 1);
        assert_eq!(out.stopped_by, "stopped", "{out:?}");
        assert!(started.elapsed() < Duration::from_secs(20), "{out:?}");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the process runs on"
        );
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            stop_where(|d| d == dir),
            0,
            "the ended trace is no longer registered"
        );
    }
}
