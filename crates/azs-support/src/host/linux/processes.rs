//! The machine's processes, read from procfs (`/proc/PID/{stat,status,cmdline}`), and stopping
//! one through a pidfd so the signal can never reach a process that reused its PID.
//!
//! Only thread-group leaders are processes here: `/proc` lists no other threads, and [`get`]
//! refuses a thread id that is not its process's id.

use std::collections::{HashMap, HashSet};
use std::io::{ErrorKind, Read};
use std::os::fd::OwnedFd;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rustix::event::{poll, Nsecs, PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::process::{pidfd_open, pidfd_send_signal, Pid, PidfdFlags, Signal};
use serde::Serialize;

/// A command line longer than this many characters is cut.
const MAX_COMMAND_LINE: usize = 4096;

/// The kernel's `PF_KTHREAD` flag in `/proc/PID/stat`'s `flags` field.
const PF_KTHREAD: u64 = 0x0020_0000;

/// How long `stop` waits after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// One process of the machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessInfo {
    /// Its PID.
    pub id: u32,
    /// Its parent's PID (0 for PID 1 and kthreadd).
    pub parent_id: u32,
    /// Its name (`comm`, at most 15 bytes as the kernel keeps it).
    pub name: String,
    /// The user name of its effective uid from /etc/passwd, else the uid.
    pub user: String,
    /// CPU time used, user plus system, in seconds.
    pub cpu_seconds: f64,
    /// Resident set size in bytes.
    pub working_set_bytes: u64,
    /// Its number of threads.
    pub threads: u32,
    /// When it started (to the kernel's clock tick, 10 ms on most machines).
    pub start_time: DateTime<Utc>,
    /// Its argv joined by spaces (non-UTF-8 replaced, at most 4096 characters); `[name]` for a
    /// kernel thread or a process with no argv left (a zombie).
    pub command_line: String,
    /// Whether it is a kernel thread.
    pub kernel_thread: bool,
    /// Its open file descriptors (`None`: they could not be counted).
    pub handles: Option<u32>,
}

/// What `stop` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StopOutcome {
    /// The process's PID.
    pub id: u32,
    /// Its name.
    pub name: String,
    /// The last signal sent: "SIGTERM", or "SIGKILL" when it outlived the grace period.
    pub signal: String,
    /// Whether it has exited (a zombie not yet reaped by its parent counts as exited).
    pub exited: bool,
}

/// The error for a PID that names no process.
pub(crate) fn not_found(pid: u32) -> String {
    format!("Cannot find a process with the process identifier {pid}")
}

/// Every process of the machine, sorted by name (case-insensitively) then id. A process that
/// exits while it is read is left out.
pub fn list() -> Result<Vec<ProcessInfo>, String> {
    let ctx = Context::load();
    let dir = std::fs::read_dir("/proc").map_err(|e| format!("cannot read /proc: {e}"))?;
    let mut out: Vec<ProcessInfo> = dir
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid > 0)
        .filter_map(|pid| read_process(pid, &ctx).ok())
        .collect();
    out.sort_by_cached_key(|p| (p.name.to_lowercase(), p.id));
    Ok(out)
}

/// The process with PID `pid`.
pub fn get(pid: u32) -> Result<ProcessInfo, String> {
    if pid == 0 {
        return Err(not_found(pid));
    }
    read_process(pid, &Context::load()).map_err(|_| not_found(pid))
}

/// Why pep must not stop or dump process `pid`, as a phrase that follows "refusing to stop NAME
/// (id N): ": PID 1, a kernel thread, pep itself or one of pep's ancestors. `None` when it may
/// be acted on (or does not exist: the action then reports that).
pub fn protected(pid: u32) -> Option<String> {
    if pid == 1 {
        return Some(
            "it is the init process (PID 1), and the machine cannot run without it".into(),
        );
    }
    let me = std::process::id();
    if pid == me {
        return Some("it is pep itself".into());
    }
    if ancestors_of(me).contains(&pid) {
        return Some("it is one of pep's own parent processes, and ending it would end pep".into());
    }
    let stat = read_stat(pid);
    if stat.as_ref().is_ok_and(|s| s.is_kernel_thread()) {
        return Some("it is a kernel thread, not a program".into());
    }
    // Remote access and the services pep never changes: stopping one could lock the operator
    // out, and its memory or system calls hold host keys and passwords.
    if let Some(unit) =
        super::systemd::unit_of_process(pid).filter(|u| super::systemd::is_protected(u))
    {
        return Some(format!("it belongs to the protected service {unit}"));
    }
    if stat.is_ok_and(|s| SECRET_KEEPERS.contains(&s.comm.as_str())) {
        return Some(
            "it holds remote-access keys or passwords (sshd, ssh-agent, gpg-agent)".into(),
        );
    }
    None
}

/// Programs whose memory and system calls carry keys and passwords, wherever they run.
const SECRET_KEEPERS: &[&str] = &["sshd", "sshd-session", "ssh-agent", "gpg-agent"];

/// Stops process `pid`: SIGTERM, up to `grace` for it to exit, then SIGKILL and a short wait.
/// Both signals go through one pidfd opened before the process is checked, so they reach the
/// process that was checked even if it exits and its PID is reused meanwhile. With
/// `expected_start`, a process that started at another time (a reused PID) is refused; the start
/// times are compared to the kernel's clock tick.
pub fn stop(
    pid: u32,
    expected_start: Option<DateTime<Utc>>,
    grace: Duration,
) -> Result<StopOutcome, String> {
    let refuse = |name: &str, why: &str| format!("refusing to stop {name} (id {pid}): {why}");
    if let Some(why) = protected(pid) {
        let name = get(pid)
            .map(|p| p.name)
            .unwrap_or_else(|_| "process".into());
        return Err(refuse(&name, &why));
    }
    let raw = i32::try_from(pid).ok().and_then(Pid::from_raw);
    let Some(raw) = raw else {
        return Err(not_found(pid));
    };
    let pidfd = match pidfd_open(raw, PidfdFlags::empty()) {
        Ok(fd) => fd,
        // ESRCH: no such process; ENOENT (Linux 6.9 on) or EINVAL (before): a thread that is
        // not its process's leader.
        Err(Errno::SRCH | Errno::NOENT | Errno::INVAL) => return Err(not_found(pid)),
        Err(e) => return Err(format!("cannot open process {pid}: {e}")),
    };
    // Re-read it now that the pidfd pins it: this is the process the signals will reach, unless
    // it has already exited (then the signals fail with ESRCH and it counts as exited).
    let info = get(pid)?;
    if info.kernel_thread {
        return Err(refuse(&info.name, "it is a kernel thread, not a program"));
    }
    if let Some(expected) = expected_start {
        let tick = 1_000_000_000 / i64::try_from(ticks_per_second()).unwrap_or(100).max(1);
        let diff = (info.start_time - expected)
            .num_nanoseconds()
            .unwrap_or(i64::MAX);
        if diff.abs() >= tick {
            return Err(format!(
                "refusing to stop {} (id {pid}): it started at {}, not at {}; the process \
                 identifier now names another process",
                info.name,
                info.start_time.format("%Y-%m-%d %H:%M:%S%.3f UTC"),
                expected.format("%Y-%m-%d %H:%M:%S%.3f UTC"),
            ));
        }
    }
    let outcome = |signal: &str, exited: bool| StopOutcome {
        id: pid,
        name: info.name.clone(),
        signal: signal.to_string(),
        exited,
    };
    if !send(&pidfd, Signal::TERM, pid, &info.name)? {
        return Ok(outcome("SIGTERM", true));
    }
    if wait_exit(&pidfd, pid, grace) {
        return Ok(outcome("SIGTERM", true));
    }
    if !send(&pidfd, Signal::KILL, pid, &info.name)? {
        return Ok(outcome("SIGKILL", true));
    }
    Ok(outcome("SIGKILL", wait_exit(&pidfd, pid, KILL_WAIT)))
}

/// Sends `sig` through `pidfd`; `false` when the process has already exited and been reaped.
fn send(pidfd: &OwnedFd, sig: Signal, pid: u32, name: &str) -> Result<bool, String> {
    match pidfd_send_signal(pidfd, sig) {
        Ok(()) => Ok(true),
        Err(Errno::SRCH) => Ok(false),
        Err(e) => Err(format!("cannot stop {name} (id {pid}): {e}")),
    }
}

/// Waits up to `timeout` for the process behind `pidfd` to exit (the pidfd turns readable, which
/// includes becoming a zombie); whether it did.
fn wait_exit(pidfd: &OwnedFd, pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ts = Timespec {
            tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
            // Below 10^9, so it fits any target's `c_long`.
            tv_nsec: left.subsec_nanos() as Nsecs,
        };
        let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
        match poll(&mut fds, Some(&ts)) {
            Ok(n) if n > 0 => return true,
            Ok(_) => return is_gone(pid),
            Err(Errno::INTR) => {}
            // Polling a pidfd needs Linux 5.3, as pidfd_open does; should it fail, watch /proc.
            Err(_) => {
                while Instant::now() < deadline {
                    if is_gone(pid) {
                        return true;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                return is_gone(pid);
            }
        }
        if Instant::now() >= deadline {
            return is_gone(pid);
        }
    }
}

/// Whether `pid` has exited (no longer there, or a zombie).
fn is_gone(pid: u32) -> bool {
    read_stat(pid).map_or(true, |s| s.state == 'Z' || s.state == 'X')
}

/// The PIDs of `pid`'s parent, its parent, and so on (PID 1 and 0 left out).
fn ancestors_of(pid: u32) -> HashSet<u32> {
    let mut out = HashSet::new();
    let mut cur = pid;
    // A bound against a cycle read from a racing /proc.
    for _ in 0..4096 {
        let Ok(stat) = read_stat(cur) else { break };
        let parent = stat.ppid;
        if parent <= 1 || !out.insert(parent) {
            break;
        }
        cur = parent;
    }
    out
}

/// What every process read needs: user names, boot time, clock and page sizes.
struct Context {
    users: HashMap<u32, String>,
    boot_time: i64,
    ticks: u64,
    page_size: u64,
}

impl Context {
    fn load() -> Self {
        Context {
            users: passwd_users(),
            boot_time: boot_time(),
            ticks: ticks_per_second(),
            page_size: rustix::param::page_size() as u64,
        }
    }
}

fn ticks_per_second() -> u64 {
    rustix::param::clock_ticks_per_second().max(1)
}

/// The boot time in Unix seconds (`btime` of /proc/stat), read once: the kernel moves it when
/// the clock is stepped, and a start time must read the same each time it is computed.
fn boot_time() -> i64 {
    static BOOT: OnceLock<i64> = OnceLock::new();
    *BOOT.get_or_init(|| {
        std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("btime "))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0)
    })
}

/// uid → user name from /etc/passwd (the first entry of a uid wins).
fn passwd_users() -> HashMap<u32, String> {
    let mut users = HashMap::new();
    let Ok(text) = std::fs::read("/etc/passwd") else {
        return users;
    };
    for line in String::from_utf8_lossy(&text).lines() {
        let mut f = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if let Ok(uid) = uid.parse::<u32>() {
            users.entry(uid).or_insert_with(|| name.to_string());
        }
    }
    users
}

/// The fields of /proc/PID/stat this module uses.
#[derive(Debug)]
struct Stat {
    comm: String,
    state: char,
    ppid: u32,
    flags: u64,
    utime: u64,
    stime: u64,
    threads: u32,
    start_ticks: u64,
    rss_pages: i64,
}

impl Stat {
    fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

fn read_stat(pid: u32) -> std::io::Result<Stat> {
    let bytes = std::fs::read(format!("/proc/{pid}/stat"))?;
    parse_stat(&String::from_utf8_lossy(&bytes))
        .ok_or_else(|| std::io::Error::new(ErrorKind::InvalidData, "unreadable stat"))
}

/// Parses /proc/PID/stat; the name may hold spaces and parentheses, so it ends at the last ')'.
fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state) of proc(5).
    let field = |n: usize| rest.get(n - 3).copied();
    let num = |n: usize| field(n).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        comm,
        state: field(3)?.chars().next()?,
        ppid: u32::try_from(num(4)?).ok()?,
        flags: num(9)?,
        utime: num(14)?,
        stime: num(15)?,
        threads: u32::try_from(num(20)?).unwrap_or(u32::MAX),
        start_ticks: num(22)?,
        rss_pages: field(24)?.parse().ok()?,
    })
}

/// Reads one process; an error when it is not there (or is a thread, not a process).
fn read_process(pid: u32, ctx: &Context) -> std::io::Result<ProcessInfo> {
    let stat = read_stat(pid)?;
    let status = std::fs::read(format!("/proc/{pid}/status"))?;
    let status = String::from_utf8_lossy(&status);
    let value = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
    };
    // /proc/TID of a non-leader thread is there too, though /proc does not list it.
    if value("Tgid:").and_then(|v| v.parse::<u32>().ok()) != Some(pid) {
        return Err(std::io::Error::new(ErrorKind::NotFound, "not a process"));
    }
    // Uid: real, effective, saved, filesystem; ps's USER is the effective one.
    let uid = value("Uid:")
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    let user = ctx
        .users
        .get(&uid)
        .cloned()
        .unwrap_or_else(|| uid.to_string());
    let kernel_thread = stat.is_kernel_thread();
    let argv = if kernel_thread {
        String::new()
    } else {
        read_command_line(pid)
    };
    let command_line = if argv.is_empty() {
        format!("[{}]", stat.comm)
    } else {
        argv
    };
    let ticks = ctx.ticks;
    let start_nanos = i128::from(stat.start_ticks) * 1_000_000_000 / i128::from(ticks);
    let nanos = i128::from(ctx.boot_time) * 1_000_000_000 + start_nanos;
    let start_time = DateTime::<Utc>::from_timestamp(
        i64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(0),
        u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0),
    )
    .unwrap_or_default();
    Ok(ProcessInfo {
        id: pid,
        parent_id: stat.ppid,
        name: stat.comm,
        user,
        cpu_seconds: (stat.utime + stat.stime) as f64 / ticks as f64,
        working_set_bytes: u64::try_from(stat.rss_pages).unwrap_or(0) * ctx.page_size,
        threads: stat.threads,
        start_time,
        command_line,
        kernel_thread,
        handles: count_fds(pid),
    })
}

/// The entries of /proc/PID/fd (its open file descriptors), if they can be read.
fn count_fds(pid: u32) -> Option<u32> {
    let n = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    u32::try_from(n).ok()
}

/// /proc/PID/cmdline's argv joined by spaces, lossily decoded and capped; empty when there is
/// none (a zombie) or it cannot be read.
fn read_command_line(pid: u32) -> String {
    let mut buf = Vec::new();
    let read = std::fs::File::open(format!("/proc/{pid}/cmdline")).and_then(|f| {
        // Enough bytes for the cap's characters at four bytes each.
        f.take((MAX_COMMAND_LINE * 4) as u64).read_to_end(&mut buf)
    });
    if read.is_err() {
        return String::new();
    }
    join_argv(&buf)
}

/// NUL-separated argv → one line (a trailing NUL ends the last argument, not a new one).
fn join_argv(raw: &[u8]) -> String {
    let raw = raw.strip_suffix(b"\0").unwrap_or(raw);
    if raw.is_empty() {
        return String::new();
    }
    let joined: Vec<u8> = raw.iter().map(|&b| if b == 0 { b' ' } else { b }).collect();
    let text = String::from_utf8_lossy(&joined);
    match text.char_indices().nth(MAX_COMMAND_LINE) {
        Some((cut, _)) => text[..cut].to_string(),
        None => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command};

    /// A child a test started; killed and reaped when dropped, so a failing test leaves none.
    struct Spawned(Child);

    impl Drop for Spawned {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Starts `argv` and waits until it has exec'd into `comm`.
    fn spawn(argv: &[&str], comm: &str) -> Spawned {
        let child = Spawned(
            Command::new(argv[0])
                .args(&argv[1..])
                .spawn()
                .expect("spawns"),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let name =
                std::fs::read_to_string(format!("/proc/{}/comm", child.0.id())).unwrap_or_default();
            if name.trim() == comm {
                return child;
            }
            assert!(Instant::now() < deadline, "{argv:?} never became {comm}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_program_holding_remote_access_keys_is_protected() {
        let dir = tempfile::tempdir().expect("tmp");
        let fake = dir.path().join("sshd");
        std::fs::copy("/bin/sleep", &fake).expect("copy sleep");
        let mut child = std::process::Command::new(&fake)
            .arg("60")
            .spawn()
            .expect("spawn");
        let pid = child.id();
        let why = protected(pid).expect("protected");
        assert!(why.contains("sshd"), "{why}");
        let e = stop(pid, None, Duration::from_millis(100)).expect_err("refused");
        assert!(e.starts_with("refusing to stop sshd"), "{e}");
        assert!(child.try_wait().expect("wait").is_none(), "still running");
        let _ = child.kill();
        let _ = child.wait();
        assert!(super::super::systemd::is_protected("ssh.service"));
        assert!(super::super::systemd::is_protected(
            "sshd@3-10.0.0.1:22.service"
        ));
        assert!(!super::super::systemd::is_protected("cron.service"));
    }

    #[test]
    fn a_started_sleep_is_listed_and_got_and_stopped_with_sigterm() {
        let child = spawn(&["sleep", "300"], "sleep");
        let pid = child.0.id();
        let started = Instant::now();
        let all = list().expect("lists");
        let elapsed = started.elapsed();
        println!("list() read {} processes in {elapsed:?}", all.len());
        let p = all
            .iter()
            .find(|p| p.id == pid)
            .expect("the sleep is listed");
        assert_eq!(p.name, "sleep");
        assert_eq!(p.command_line, "sleep 300");
        assert_eq!(p.parent_id, std::process::id());
        assert!(!p.kernel_thread);
        assert!(p.working_set_bytes > 0, "{p:?}");
        assert_eq!(p.threads, 1);
        if rustix::process::geteuid().is_root() {
            assert_eq!(p.user, "root");
        }
        let now = Utc::now();
        assert!(p.start_time <= now + chrono::Duration::seconds(2), "{p:?}");
        assert!(p.start_time >= now - chrono::Duration::seconds(60), "{p:?}");

        let got = get(pid).expect("gets");
        assert_eq!(got.id, pid);
        assert_eq!(
            got.start_time, p.start_time,
            "the start time reads the same"
        );
        assert_eq!(got.command_line, "sleep 300");

        assert_eq!(protected(pid), None);
        let out = stop(pid, Some(p.start_time), Duration::from_secs(5)).expect("stops");
        assert_eq!(
            out,
            StopOutcome {
                id: pid,
                name: "sleep".into(),
                signal: "SIGTERM".into(),
                exited: true
            }
        );
        let mut child = child;
        let status = child.0.wait().expect("reaped");
        assert!(!status.success());
        assert_eq!(
            get(pid).expect_err("gone"),
            format!("Cannot find a process with the process identifier {pid}")
        );
        assert!(list().expect("lists").iter().all(|p| p.id != pid));
    }

    #[test]
    fn a_process_that_ignores_sigterm_is_killed_after_the_grace() {
        let child = spawn(&["sh", "-c", "trap '' TERM; exec sleep 300"], "sleep");
        let pid = child.0.id();
        let started = Instant::now();
        let out = stop(pid, None, Duration::from_millis(500)).expect("stops");
        assert!(started.elapsed() >= Duration::from_millis(500));
        assert_eq!(out.signal, "SIGKILL");
        assert!(out.exited);
        let mut child = child;
        let status = child.0.wait().expect("reaped");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9));
    }

    #[test]
    fn a_wrong_start_time_is_refused_and_the_process_survives() {
        let child = spawn(&["sleep", "300"], "sleep");
        let pid = child.0.id();
        let p = get(pid).expect("gets");
        let err = stop(
            pid,
            Some(p.start_time - chrono::Duration::seconds(10)),
            Duration::from_secs(1),
        )
        .expect_err("refused");
        assert!(err.starts_with(&format!("refusing to stop sleep (id {pid}): it started at")));
        assert!(err.contains("another process"), "{err}");
        std::thread::sleep(Duration::from_millis(100));
        let again = get(pid).expect("still there");
        assert!(!is_gone(pid), "{again:?}");
        drop(child);
    }

    #[test]
    fn init_pep_its_parents_and_kernel_threads_are_refused() {
        let why = protected(1).expect("PID 1 is protected");
        assert!(why.contains("init process"), "{why}");
        let err = stop(1, None, Duration::from_secs(1)).expect_err("refused");
        assert!(err.starts_with("refusing to stop "), "{err}");
        assert!(err.contains("(id 1): it is the init process"), "{err}");

        let me = std::process::id();
        assert_eq!(protected(me).as_deref(), Some("it is pep itself"));
        let err = stop(me, None, Duration::from_secs(1)).expect_err("refused");
        assert!(
            err.contains(&format!("(id {me}): it is pep itself")),
            "{err}"
        );

        let parent = get(me).expect("gets itself").parent_id;
        if parent > 1 {
            let why = protected(parent).expect("the parent is protected");
            assert!(why.contains("parent"), "{why}");
        }

        let all = list().expect("lists");
        if let Some(k) = all.iter().find(|p| p.kernel_thread && p.id != 1) {
            assert_eq!(k.command_line, format!("[{}]", k.name));
            let why = protected(k.id).expect("a kernel thread is protected");
            assert!(why.contains("kernel thread"), "{why}");
            let err = stop(k.id, None, Duration::from_secs(1)).expect_err("refused");
            assert_eq!(
                err,
                format!(
                    "refusing to stop {} (id {}): it is a kernel thread, not a program",
                    k.name, k.id
                )
            );
        } else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "no kernel thread is visible on this machine"
            );
            println!("skipped the kernel-thread check: no kernel thread is visible here");
        }
    }

    #[test]
    fn the_list_is_sorted_without_duplicates() {
        let all = list().expect("lists");
        assert!(all.iter().any(|p| p.id == std::process::id()));
        let ids: HashSet<u32> = all.iter().map(|p| p.id).collect();
        assert_eq!(ids.len(), all.len(), "no duplicate ids");
        for w in all.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            let key = |p: &ProcessInfo| (p.name.to_lowercase(), p.id);
            assert!(
                key(a) < key(b),
                "{} {} before {} {}",
                a.name,
                a.id,
                b.name,
                b.id
            );
        }
    }

    #[test]
    fn an_absent_pid_or_a_thread_is_not_found() {
        assert_eq!(
            get(0).expect_err("none"),
            "Cannot find a process with the process identifier 0"
        );
        let max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(4_194_304);
        let absent = max + 1;
        assert_eq!(get(absent).expect_err("none"), not_found(absent));
        assert_eq!(
            stop(absent, None, Duration::from_secs(1)).expect_err("none"),
            not_found(absent)
        );
        // A thread of this process has a /proc entry but is not a process.
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            let _ = done_rx.recv();
        });
        let me = std::process::id();
        let tid = std::fs::read_dir(format!("/proc/{me}/task"))
            .expect("tasks")
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .find(|&t| t != me)
            .expect("another thread");
        assert!(std::path::Path::new(&format!("/proc/{tid}/stat")).exists());
        assert_eq!(get(tid).expect_err("a thread"), not_found(tid));
        assert_eq!(
            stop(tid, None, Duration::from_secs(1)).expect_err("a thread"),
            not_found(tid)
        );
        let _ = done_tx.send(());
        t.join().expect("joins");
    }

    #[test]
    fn stat_and_argv_parse() {
        let s = parse_stat(
            "42 (a (b) c) S 7 42 42 0 -1 4194560 1 0 0 0 150 50 0 0 20 0 3 0 1234 1000 25 18446744073709551615",
        )
        .expect("parses");
        assert_eq!(s.comm, "a (b) c");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 7);
        assert_eq!((s.utime, s.stime, s.threads), (150, 50, 3));
        assert_eq!((s.start_ticks, s.rss_pages), (1234, 25));
        assert!(!s.is_kernel_thread());
        assert_eq!(join_argv(b"sleep\x00300\0"), "sleep 300");
        assert_eq!(join_argv(b"a\0\0b\0"), "a  b");
        assert_eq!(join_argv(b""), "");
        assert_eq!(join_argv(b"x\xffy\0"), "x\u{fffd}y");
        let long = vec![b'x'; 10_000];
        assert_eq!(join_argv(&long).chars().count(), MAX_COMMAND_LINE);
    }
}
