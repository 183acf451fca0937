//! A test fixture: a real systemd booted in a `systemd-nspawn` container over this machine's own
//! tree (volatile, private network), so services and journald are exercised for real on machines
//! whose PID 1 is not systemd. The container is reached through a [`Runner`] with the prefix
//! `nsenter -t <leader> -a --`, and stopped when the [`Container`] is dropped. Needs root and the
//! `systemd-container` package; [`skip_reason`] says why it cannot run.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::runner::{kill_group, Limits, Runner};
use super::systemd::unit_name;

/// Where nspawn keeps its runtime state; must be a tmpfs when `/run` is on disk.
const NSPAWN_RUN: &str = "/run/systemd/nspawn";

/// Serialises the check-then-mount of [`NSPAWN_RUN`] across processes.
const MOUNT_LOCK: &str = "/run/pep-nspawn.lock";

/// Units masked at boot: they wait for a network, ask questions, or start daemons of the host
/// (without the masks boot takes 2 minutes and ends degraded).
const MASKS: &[&str] = &[
    "systemd.mask=systemd-networkd-wait-online.service",
    "systemd.mask=systemd-firstboot.service",
    "systemd.mask=ssh.service",
    "systemd.mask=ssh.socket",
    "systemd.mask=postgresql.service",
    "systemd.mask=etcd.service",
];

/// How long the container's leader may take to appear.
const LEADER_TIMEOUT: Duration = Duration::from_secs(20);

/// How long boot may take until systemd says it is running.
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long nspawn may take to halt the container after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A booted container; halted (SIGTERM, bounded wait, then SIGKILL) when dropped.
#[derive(Debug)]
pub struct Container {
    child: Child,
    leader: u32,
    machine: String,
    console: File,
}

impl Container {
    /// Boots a container named after `name` (made unique) and waits until its systemd is running.
    pub fn boot(name: &str) -> Result<Container, String> {
        if let Some(reason) = skip_reason() {
            return Err(reason);
        }
        ensure_nspawn_tmpfs()?;
        let machine = machine_name(name);
        let console = tempfile::tempfile()
            .map_err(|e| format!("no file for the container's console: {e}"))?;
        let out = console
            .try_clone()
            .map_err(|e| format!("no file for the container's console: {e}"))?;
        let err = console
            .try_clone()
            .map_err(|e| format!("no file for the container's console: {e}"))?;
        let machine_arg = format!("--machine={machine}");
        let mut args = vec![
            "--quiet",
            "--register=no",
            "--keep-unit",
            "--volatile=yes",
            "-D",
            "/",
            "--private-network",
            "--console=pipe",
            machine_arg.as_str(),
            "-b",
            "--",
        ];
        args.extend_from_slice(MASKS);
        let child = Runner::local()
            .command("systemd-nspawn", &args)
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| format!("systemd-nspawn could not be started: {e}"))?;
        let mut c = Container {
            child,
            leader: 0,
            machine,
            console,
        };
        c.leader = c.wait_for_leader()?;
        c.wait_until_running()?;
        Ok(c)
    }

    /// Boots a container for a test, or says why not: `Ok(None)` (the reason printed) where
    /// nspawn cannot run here, an error instead when `CI=true` or when boot fails.
    pub fn boot_or_skip(name: &str) -> Result<Option<Container>, String> {
        if let Some(reason) = skip_reason() {
            if std::env::var("CI").as_deref() == Ok("true") {
                return Err(format!("a real systemd is needed under CI: {reason}"));
            }
            eprintln!("skipped: {reason}");
            return Ok(None);
        }
        Container::boot(name).map(Some)
    }

    /// A runner whose programs run inside the container (`nsenter -t <leader> -a --`).
    pub fn runner(&self) -> Runner {
        Runner::with_prefix(vec![
            "nsenter".to_string(),
            "-t".to_string(),
            self.leader.to_string(),
            "-a".to_string(),
            "--".to_string(),
        ])
    }

    /// The container's PID 1 as this machine sees it.
    pub fn leader(&self) -> u32 {
        self.leader
    }

    /// The container's machine name (also its host name).
    pub fn machine(&self) -> &str {
        &self.machine
    }

    /// Writes a unit file into the container's `/etc/systemd/system` and reloads systemd.
    pub fn write_unit(&self, name: &str, text: &str) -> Result<(), String> {
        let file = if name.contains('.') && !name.ends_with(".service") {
            // Other unit types (timers, sockets): the same character rules.
            unit_name(&format!("{name}.service"))?;
            name.to_string()
        } else {
            unit_name(name)?
        };
        let dir = format!("/proc/{}/root/etc/systemd/system", self.leader);
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(format!("{dir}/{file}"), text))
            .map_err(|e| format!("{file} could not be written into the container: {e}"))?;
        let out = self
            .runner()
            .run("systemctl", &["daemon-reload"], Limits::default())
            .map_err(|e| e.to_string())?;
        if !out.success() {
            return Err(format!(
                "systemd in the container did not reload: {}",
                out.first_error_line()
            ));
        }
        Ok(())
    }

    /// Finds the container's PID 1: nspawn's child that is PID 1 in its own PID namespace.
    fn wait_for_leader(&mut self) -> Result<u32, String> {
        let nspawn = self.child.id();
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "systemd-nspawn ended ({status}) before the container started: {}",
                    self.console_tail()
                ));
            }
            if let Some(pid) = children(nspawn).into_iter().find(|&p| is_ns_init(p)) {
                return Ok(pid);
            }
            if started.elapsed() > LEADER_TIMEOUT {
                return Err(format!(
                    "the container did not start within {} s: {}",
                    LEADER_TIMEOUT.as_secs(),
                    self.console_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (bounded) for `systemctl is-system-running --wait` to say running (or degraded).
    fn wait_until_running(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < BOOT_TIMEOUT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "systemd-nspawn ended ({status}) while the container booted: {}",
                    self.console_tail()
                ));
            }
            let limits = Limits {
                timeout: BOOT_TIMEOUT.saturating_sub(started.elapsed()) + Duration::from_secs(1),
                ..Limits::default()
            };
            match self
                .runner()
                .run("systemctl", &["is-system-running", "--wait"], limits)
            {
                Ok(out) => {
                    let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
                    match state.as_str() {
                        "running" | "degraded" => return Ok(()),
                        _ => {
                            last = if state.is_empty() {
                                out.first_error_line().to_string()
                            } else {
                                state
                            }
                        }
                    }
                }
                Err(e) => last = e.to_string(),
            }
            // The bus may not be up yet.
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "systemd in the container was not running within {} s (last: {last})",
            BOOT_TIMEOUT.as_secs()
        ))
    }

    /// The last non-empty line the container printed, for errors.
    fn console_tail(&mut self) -> String {
        let mut text = String::new();
        let _ = self.console.rewind();
        let _ = (&self.console).take(1 << 20).read_to_string(&mut text);
        text.lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("it printed nothing")
            .to_string()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let pid = i32::try_from(self.child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw);
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let started = Instant::now();
        while started.elapsed() < STOP_TIMEOUT {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        kill_group(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Why a container cannot be booted here, if it cannot.
pub fn skip_reason() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some(format!(
            "booting a systemd container needs root (running as uid {})",
            rustix::process::geteuid().as_raw()
        ));
    }
    for (program, package) in [
        ("systemd-nspawn", "systemd-container"),
        ("nsenter", "util-linux"),
        ("mount", "mount"),
    ] {
        if !in_path(program) {
            return Some(format!(
                "{program} is not installed (apt-get install {package})"
            ));
        }
    }
    if !Path::new("/usr/lib/systemd/systemd").exists()
        && !Path::new("/lib/systemd/systemd").exists()
    {
        return Some("systemd is not installed in this machine's tree".to_string());
    }
    None
}

fn in_path(program: &str) -> bool {
    [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ]
    .iter()
    .any(|d| Path::new(d).join(program).is_file())
}

/// A unique machine name: `name` cut to hostname characters, this process, a counter.
fn machine_name(name: &str) -> String {
    let base: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(40)
        .collect();
    let base = if base.is_empty() {
        "peptest".into()
    } else {
        base
    };
    format!(
        "{base}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Mounts a tmpfs on /run/systemd/nspawn once (under a lock), unless something is mounted there.
fn ensure_nspawn_tmpfs() -> Result<(), String> {
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(MOUNT_LOCK)
        .map_err(|e| format!("{MOUNT_LOCK} could not be opened: {e}"))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| format!("{MOUNT_LOCK} could not be locked: {e}"))?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("the mounts could not be read: {e}"))?;
    if mounts
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(NSPAWN_RUN))
    {
        return Ok(());
    }
    std::fs::create_dir_all(NSPAWN_RUN)
        .map_err(|e| format!("{NSPAWN_RUN} could not be created: {e}"))?;
    let out = Runner::local()
        .run(
            "mount",
            &["-t", "tmpfs", "-o", "mode=755", "--", "tmpfs", NSPAWN_RUN],
            Limits::default(),
        )
        .map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!(
            "a tmpfs could not be mounted on {NSPAWN_RUN}: {}",
            out.first_error_line()
        ));
    }
    Ok(())
}

/// The processes whose parent is `parent`.
fn children(parent: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    // After the command name in parentheses: state, then the parent.
                    let rest = &s[s.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// Whether `pid` is PID 1 of a PID namespace below ours (`NSpid: <pid> 1`).
fn is_ns_init(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let ids: Vec<&str> = s
                .lines()
                .find(|l| l.starts_with("NSpid:"))?
                .split_whitespace()
                .skip(1)
                .collect();
            Some(ids.len() >= 2 && ids.last() == Some(&"1"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_names_are_unique_hostnames() {
        let a = machine_name("pep test/../x");
        let b = machine_name("pep test/../x");
        assert_ne!(a, b);
        assert!(a.starts_with("peptestx-"), "{a}");
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert!(machine_name(&"x".repeat(100)).len() < 64);
    }
}
