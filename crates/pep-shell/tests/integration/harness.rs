//! Test harness: starts the real `pep` binary on a free loopback port with a temporary state
//! directory, makes keys with `ssh-keygen`, registers identities with `pep identity add`, and
//! drives sessions with the system OpenSSH client — exec requests, PTY sessions (`ssh -tt` on
//! pipes) whose output is collected by reader threads, and sessions whose client runs on a real
//! pseudo-terminal (`ssh -t`), so that resizing it sends a window change as a user's would.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const PEP: &str = env!("CARGO_BIN_EXE_pep");

/// A running pep server.
pub struct Pep {
    pub child: Option<Child>,
    pub port: u16,
    pub state: PathBuf,
    pub dir: tempfile::TempDir,
    pub extra_args: Vec<String>,
    /// Environment given to the server process (besides the test's own).
    pub env: Vec<(String, String)>,
    /// Everything the server wrote to stderr (its log), across restarts.
    log: Arc<Mutex<Vec<u8>>>,
}

/// A key pair made by ssh-keygen.
pub struct Key {
    pub private: PathBuf,
}

impl Pep {
    /// Starts pep on the default stamp.
    pub fn start() -> Pep {
        Self::start_with(&[])
    }

    /// Starts pep with extra `serve` arguments.
    pub fn start_with(extra: &[&str]) -> Pep {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        Self::start_at(dir, state, extra)
    }

    /// Starts pep on the state directory `state` (keys and the like go in `dir`).
    pub fn start_at(dir: tempfile::TempDir, state: PathBuf, extra: &[&str]) -> Pep {
        let mut pep = Pep {
            child: None,
            port: 0,
            state,
            dir,
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            log: Arc::default(),
        };
        pep.spawn();
        pep
    }

    /// (Re)starts the server process on the same state directory.
    pub fn spawn(&mut self) {
        let mut child = Command::new(PEP)
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--state")
            .arg(&self.state)
            .args(&self.extra_args)
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pep");
        // Keep the server's log for `log()`, and pass it on to the test's (captured) stderr.
        let stderr = child.stderr.take().expect("stderr");
        let log = self.log.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                eprint!("{}", String::from_utf8_lossy(&line));
                log.lock().expect("lock").extend_from_slice(&line);
                line.clear();
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).expect("read banner");
        let addr = line
            .split_whitespace()
            .nth(3)
            .unwrap_or_else(|| panic!("unexpected banner: {line:?}"));
        self.port = addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in banner: {line:?}"));
        // Keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        self.child = Some(child);
    }

    /// Stops the server process.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends SIGTERM and waits (up to `timeout`) for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }

    /// The server's log (its stderr) so far, as written.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().expect("lock")).into_owned()
    }

    /// Waits until the server's log contains `needle`; returns the whole log either way.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<String, String> {
        until_contains(needle, timeout, || self.log())
    }

    /// Whether the server process is still running.
    pub fn alive(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    /// Makes a key and registers it as an identity.
    pub fn identity(&self, role: &str, name: &str) -> Key {
        let private = self.dir.path().join(name);
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
            .arg(&private)
            .status()
            .expect("ssh-keygen");
        assert!(status.success());
        let public = private.with_extension("pub");
        let out = Command::new(PEP)
            .args(["identity", "add", "--state"])
            .arg(&self.state)
            .args(["--role", role, "--name", name, "--key"])
            .arg(&public)
            .output()
            .expect("pep identity add");
        assert!(
            out.status.success(),
            "identity add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Key { private }
    }

    /// The OpenSSH client set up for this server and key (add options, destination, command).
    pub fn ssh_base(&self, key: &Key) -> Command {
        let mut c = Command::new("ssh");
        c.args(["-F", "/dev/null", "-p"])
            .arg(self.port.to_string())
            .arg("-i")
            .arg(&key.private)
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "LogLevel=ERROR",
                // Covers the TCP connect and the banner: logins past the per-source cap wait
                // for a slot before the banner, longer on a loaded machine.
                "-o",
                "ConnectTimeout=30",
            ]);
        c
    }

    /// An OpenSSH ControlMaster connection of `key` holding no session, its socket at `ctl`;
    /// returned once the socket exists (it appears only after login).
    pub fn control_master(&self, key: &Key, ctl: &std::path::Path) -> Child {
        let master = self
            .ssh_base(key)
            .args(["-o", "ControlMaster=yes", "-o"])
            .arg(format!("ControlPath={}", ctl.display()))
            .args(["-N", "anyuser@127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("master");
        let until = Instant::now() + Duration::from_secs(10);
        while !ctl.exists() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(ctl.exists(), "master up: {}", ctl.display());
        master
    }

    /// Runs one exec request.
    pub fn exec(&self, key: &Key, command: &str) -> Run {
        self.exec_bytes(key, command.as_bytes())
    }

    /// Runs one exec request with a command made of arbitrary (non-NUL) bytes.
    pub fn exec_bytes(&self, key: &Key, command: &[u8]) -> Run {
        use std::os::unix::ffi::OsStrExt;
        let out = self
            .ssh_base(key)
            .arg("anyuser@127.0.0.1")
            .arg("--")
            .arg(std::ffi::OsStr::from_bytes(command))
            .stdin(Stdio::null())
            .output()
            .expect("ssh");
        Run::from(out)
    }

    /// Feeds `input` to a shell session without a PTY (`ssh -T`), closing input afterwards.
    pub fn lines(&self, key: &Key, input: &[u8]) -> Run {
        let mut child = self
            .ssh_base(key)
            .arg("-T")
            .arg("anyuser@127.0.0.1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ssh -T");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input).expect("write");
        drop(stdin);
        Run::from(child.wait_with_output().expect("wait"))
    }

    /// Opens an interactive PTY session (`ssh -tt`).
    pub fn pty(&self, key: &Key) -> Pty {
        let mut child = self
            .ssh_base(key)
            .arg("-tt")
            .arg("anyuser@127.0.0.1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ssh -tt");
        let buf = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let buf = buf.clone();
            readers.push(std::thread::spawn(move || {
                let mut stream = stream;
                let mut chunk = [0u8; 4096];
                while let Ok(n) = stream.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    buf.lock().expect("lock").extend_from_slice(&chunk[..n]);
                }
            }));
        }
        let stdin = child
            .stdin
            .take()
            .map(|s| Box::new(s) as Box<dyn Write + Send>);
        Pty {
            child,
            stdin,
            master: None,
            buf,
            readers,
            mark: 0,
        }
    }

    /// Opens an interactive session whose client runs on a real terminal of `cols` x `rows`.
    pub fn terminal(&self, key: &Key, cols: u16, rows: u16) -> Pty {
        use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::OpenOptionsExt;
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        let master = std::fs::File::from(master);
        set_size(&master, cols, rows);
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(rustix::fs::OFlags::NOCTTY.bits() as i32)
            .open(std::ffi::OsStr::from_bytes(name.as_bytes()))
            .expect("open the terminal");
        let child = self
            .ssh_base(key)
            .arg("-t")
            .arg("anyuser@127.0.0.1")
            .stdin(slave.try_clone().expect("dup"))
            .stdout(slave.try_clone().expect("dup"))
            .stderr(slave)
            .spawn()
            .expect("ssh -t");
        let buf = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let buf = buf.clone();
            let mut master = master.try_clone().expect("dup");
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                // Reading fails (EIO) once the client has gone and the terminal has no users.
                while let Ok(n) = master.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    buf.lock().expect("lock").extend_from_slice(&chunk[..n]);
                }
            })
        };
        Pty {
            child,
            stdin: Some(Box::new(master.try_clone().expect("dup"))),
            master: Some(master),
            buf,
            readers: vec![reader],
            mark: 0,
        }
    }

    /// Every transcript written so far, concatenated.
    pub fn transcripts(&self) -> String {
        let mut all = String::new();
        for e in std::fs::read_dir(self.state.join("transcripts"))
            .expect("transcripts")
            .flatten()
        {
            all.push_str(&std::fs::read_to_string(e.path()).expect("read transcript"));
        }
        all
    }

    /// Waits until the transcripts contain `needle` (a session ended by the server tells its
    /// client first and closes its records after); returns them all either way.
    pub fn wait_for_transcripts(&self, needle: &str, timeout: Duration) -> Result<String, String> {
        until_contains(needle, timeout, || self.transcripts())
    }

    /// Registers the operator olivia and the support engineer sam, and has olivia grant `level`.
    /// Returns their keys (operator, support).
    pub fn granted(&self, level: &str) -> (Key, Key) {
        let op = self.identity("operator", "olivia");
        let sup = self.identity("support", "sam");
        self.grant(&op, level);
        (op, sup)
    }

    /// Grants support access as `op`.
    pub fn grant(&self, op: &Key, level: &str) {
        let r = self.exec(
            op,
            &format!("Enable-RemoteSupport -AccessLevel {level} -ExpireInMinutes 60 -AgreeToRemoteSupportConsent -SupportRequestId 2611210001"),
        );
        assert!(r.ok(), "grant failed: {r:?}");
    }
}

impl Drop for Pep {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The result of an ssh invocation.
#[derive(Debug)]
pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            status: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn ok(&self) -> bool {
        self.status == Some(0)
    }
}

/// An interactive session.
pub struct Pty {
    pub child: Child,
    stdin: Option<Box<dyn Write + Send>>,
    /// The terminal's master side, when the client runs on a real terminal.
    master: Option<std::fs::File>,
    buf: Arc<Mutex<Vec<u8>>>,
    /// The threads copying the child's stdout and stderr into `buf`.
    readers: Vec<std::thread::JoinHandle<()>>,
    /// Output before this offset has been consumed by `wait_for`.
    mark: usize,
}

impl Pty {
    /// Sends bytes as typed.
    pub fn send(&mut self, bytes: &[u8]) {
        if let Some(s) = self.stdin.as_mut() {
            let _ = s.write_all(bytes);
            let _ = s.flush();
        }
    }

    /// Resizes the client's terminal, as dragging the window's corner would. Only for sessions
    /// opened with [`Pep::terminal`].
    pub fn resize(&mut self, cols: u16, rows: u16) {
        let master = self.master.as_ref().expect("a session on a real terminal");
        set_size(master, cols, rows);
        // The terminal is not the client's controlling terminal, so the kernel does not signal it.
        rustix::process::kill_process(
            rustix::process::Pid::from_child(&self.child),
            rustix::process::Signal::WINCH,
        )
        .expect("SIGWINCH");
    }

    /// All output so far.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().expect("lock")).into_owned()
    }

    /// Waits until `needle` appears after the mark; moves the mark past it. Returns the text
    /// between the old mark and the end of the match.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> Result<String, String> {
        let start = Instant::now();
        loop {
            {
                let buf = self.buf.lock().expect("lock");
                let text = String::from_utf8_lossy(&buf[self.mark.min(buf.len())..]).into_owned();
                if let Some(pos) = text.find(needle) {
                    let seen = text[..pos + needle.len()].to_string();
                    self.mark += seen.len();
                    return Ok(seen);
                }
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "timed out waiting for {needle:?}; output after mark: {:?}",
                    String::from_utf8_lossy(&self.buf.lock().expect("lock")[self.mark..])
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the client to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(st)) = self.child.try_wait() {
                // The process has gone, but its last output may still sit in the pipes: read
                // them to the end before anyone looks at `output()`.
                for r in self.readers.drain(..) {
                    let _ = r.join();
                }
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn set_size(master: &std::fs::File, cols: u16, rows: u16) {
    rustix::termios::tcsetwinsize(
        master,
        rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )
    .expect("set the window size");
}

/// The prompt of the default stamp.
pub const PROMPT: &str = "[AZS-ERCS01]: PS> ";

/// Default timeout for interactive waits.
pub const T: Duration = Duration::from_secs(10);

/// Path of a file in the shared folder.
pub fn shared(rel: &str) -> PathBuf {
    azs_support::shared_dir::shared_path(rel)
}

/// Reads `text` until it contains `needle` or `timeout` passes; the last reading either way.
fn until_contains(
    needle: &str,
    timeout: Duration,
    text: impl Fn() -> String,
) -> Result<String, String> {
    let start = Instant::now();
    loop {
        let now = text();
        if now.contains(needle) {
            return Ok(now);
        }
        if start.elapsed() > timeout {
            return Err(now);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
