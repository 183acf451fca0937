//! Running an external program on a real host, never through a shell: a fixed program and argv
//! (user values only after `--`, validated by the caller against allow-lists first), a clean
//! environment, stdin closed, its own process group, a timeout that kills the whole group, and a
//! cap on what it may print (the rest is drained and dropped, and the output says it was cut).
//!
//! A [`Runner`] may carry a prefix that every command line is run through, e.g.
//! `nsenter -t <pid> -a --`, so the tests drive a systemd inside a `systemd-nspawn` container with
//! the very code that drives the machine's own in production (where the prefix is empty).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The environment every program gets, and nothing else.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How long a program may run and how much it may print.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Killed (with its process group) after this long.
    pub timeout: Duration,
    /// Bytes of stdout kept; more is read and dropped.
    pub max_stdout: usize,
    /// Bytes of stderr kept.
    pub max_stderr: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(30),
            max_stdout: 16 << 20,
            max_stderr: 64 << 10,
        }
    }
}

/// What a program did.
#[derive(Debug, Clone)]
pub struct Output {
    /// Its exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// What it printed on stdout, up to the cap.
    pub stdout: Vec<u8>,
    /// What it printed on stderr, up to the cap, lossily decoded.
    pub stderr: String,
    /// Whether stdout went over the cap.
    pub truncated: bool,
}

impl Output {
    /// Exit code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The first non-empty line of stderr (trimmed), for one-line errors.
    pub fn first_error_line(&self) -> &str {
        self.stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
    }
}

/// Why a program could not be run to its end.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The program is not installed.
    #[error("{program} is not installed on this machine")]
    NotFound {
        /// The program.
        program: String,
    },
    /// It ran longer than its limit and was killed.
    #[error("{program} did not finish within {} s and was stopped", timeout.as_secs())]
    Timeout {
        /// The program.
        program: String,
        /// The limit.
        timeout: Duration,
    },
    /// It could not be started or waited for.
    #[error("{program} could not be run: {error}")]
    Io {
        /// The program.
        program: String,
        /// What failed.
        error: std::io::Error,
    },
}

/// Runs programs, optionally through a fixed prefix.
#[derive(Debug, Clone, Default)]
pub struct Runner {
    prefix: Vec<String>,
}

impl Runner {
    /// Runs programs on this machine directly.
    pub fn local() -> Self {
        Runner::default()
    }

    /// Runs every program as `prefix... program args...` (e.g. `nsenter -t PID -a --`).
    pub fn with_prefix(prefix: Vec<String>) -> Self {
        Runner { prefix }
    }

    /// The prefix every program runs through (empty: none).
    pub fn prefix(&self) -> &[String] {
        &self.prefix
    }

    /// The argv a program would be run with (prefix included), for messages and tests.
    pub fn argv(&self, program: &str, args: &[&str]) -> Vec<String> {
        self.prefix
            .iter()
            .cloned()
            .chain(std::iter::once(program.to_string()))
            .chain(args.iter().map(|a| a.to_string()))
            .collect()
    }

    /// A `Command` for `program args...` with the clean environment and no stdin, not started
    /// (for programs that run in the background, like a capture).
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let argv = self.argv(program, args);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .env_clear()
            .env("PATH", PATH)
            .env("LC_ALL", "C.UTF-8")
            .stdin(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd
    }

    /// Runs `program args...` to its end within `limits`.
    pub fn run(&self, program: &str, args: &[&str], limits: Limits) -> Result<Output, RunError> {
        let io = |error: std::io::Error| RunError::Io {
            program: program.to_string(),
            error,
        };
        let mut child = match self
            .command(program, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RunError::NotFound {
                    program: self.argv(program, &[])[0].clone(),
                })
            }
            Err(e) => return Err(io(e)),
        };
        let out = child.stdout.take().map(|s| capped(s, limits.max_stdout));
        let err = child.stderr.take().map(|s| capped(s, limits.max_stderr));
        let started = Instant::now();
        let status = loop {
            match child.try_wait().map_err(io)? {
                Some(status) => break Some(status),
                None if started.elapsed() >= limits.timeout => break None,
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        let Some(status) = status else {
            kill_group(child.id());
            let _ = child.kill();
            let _ = child.wait();
            return Err(RunError::Timeout {
                program: program.to_string(),
                timeout: limits.timeout,
            });
        };
        let (stdout, truncated) = out
            .and_then(|h| h.join().ok())
            .unwrap_or((Vec::new(), false));
        let (stderr, _) = err.and_then(|h| h.join().ok()).unwrap_or_default();
        Ok(Output {
            code: status.code(),
            stdout,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            truncated,
        })
    }
}

/// A program running in the background (a capture, a trace): the process, and its stderr being
/// read on a thread (at most `max_stderr` bytes kept).
#[derive(Debug)]
pub struct Background {
    /// The process (its own group leader).
    pub child: std::process::Child,
    stderr: Option<std::thread::JoinHandle<(Vec<u8>, bool)>>,
}

impl Background {
    /// What it printed on stderr (waits for the stream's end: call once it has exited).
    pub fn stderr(&mut self) -> String {
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .map(|(bytes, _)| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// Ends it unless it already ended: SIGINT to its process group (the program, and a prefix
    /// program if any), up to `wait` for it to exit, then SIGKILL. Its exit status, and whether
    /// this had to signal it.
    pub fn interrupt(
        &mut self,
        wait: Duration,
    ) -> std::io::Result<(std::process::ExitStatus, bool)> {
        // Unreaped, the child's pid (its group id) cannot be reused, so signalling it is safe.
        if let Some(status) = self.child.try_wait()? {
            return Ok((status, false));
        }
        if let Some(group) = i32::try_from(self.child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::INT);
        }
        let deadline = Instant::now() + wait;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok((status, true));
            }
            if Instant::now() >= deadline {
                kill_group(self.child.id());
                let _ = self.child.kill();
                return self.child.wait().map(|s| (s, true));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Runner {
    /// Starts `program args...` in the background (stdout discarded, stderr kept up to
    /// `max_stderr` bytes); a missing program names the Debian `package` that has it.
    pub fn background(
        &self,
        program: &str,
        args: &[&str],
        package: &str,
        max_stderr: usize,
    ) -> Result<Background, String> {
        let mut child = match self
            .command(program, args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!(
                    "{} (Debian package {package})",
                    RunError::NotFound {
                        program: self.argv(program, &[])[0].clone()
                    }
                ))
            }
            Err(e) => return Err(format!("{program} could not be started: {e}")),
        };
        let stderr = child.stderr.take().map(|s| capped(s, max_stderr));
        Ok(Background { child, stderr })
    }
}

/// Kills the process group led by `pid` (the program and whatever it started).
pub fn kill_group(pid: u32) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// Reads `stream` to its end on a thread, keeping at most `cap` bytes; whether more came.
fn capped(
    mut stream: impl Read + Send + 'static,
    cap: usize,
) -> std::thread::JoinHandle<(Vec<u8>, bool)> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut over = false;
        let mut buf = [0u8; 16 << 10];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let room = cap.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                    over |= n > room;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        (kept, over)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_gets_a_clean_environment_and_its_output() {
        assert!(
            std::env::var_os("HOME").is_some(),
            "the test runs with HOME set"
        );
        let out = Runner::local()
            .run("env", &[], Limits::default())
            .expect("env runs");
        assert!(out.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("HOME="), "{text}");
        assert!(text.contains("PATH=/usr/local/sbin"), "{text}");
    }

    #[test]
    fn output_over_the_cap_is_cut_and_said() {
        let limits = Limits {
            max_stdout: 1000,
            ..Limits::default()
        };
        let out = Runner::local()
            .run("seq", &["1", "100000"], limits)
            .expect("seq runs");
        assert_eq!(out.stdout.len(), 1000);
        assert!(out.truncated);
    }

    #[test]
    fn a_program_over_its_time_is_killed() {
        let limits = Limits {
            timeout: Duration::from_millis(200),
            ..Limits::default()
        };
        let started = Instant::now();
        let err = Runner::local()
            .run("sleep", &["5"], limits)
            .expect_err("killed");
        assert!(matches!(err, RunError::Timeout { .. }), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "well before sleep's 5 s"
        );
    }

    #[test]
    fn a_missing_program_says_it_is_not_installed() {
        let err = Runner::local()
            .run("pep-no-such-program", &[], Limits::default())
            .expect_err("missing");
        assert_eq!(
            err.to_string(),
            "pep-no-such-program is not installed on this machine"
        );
    }

    #[test]
    fn a_prefix_goes_before_the_program() {
        let r = Runner::with_prefix(vec!["nsenter".into(), "-t".into(), "7".into(), "--".into()]);
        assert_eq!(
            r.argv("systemctl", &["show", "--", "x.service"]),
            [
                "nsenter",
                "-t",
                "7",
                "--",
                "systemctl",
                "show",
                "--",
                "x.service"
            ]
        );
    }
}
