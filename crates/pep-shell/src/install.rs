//! `pep install` and `pep uninstall`: pep as a systemd service. This module owns the unit file
//! (its text, its format version, where it is written and how), the checks made before anything
//! is changed, the `systemctl` calls that enable, start, stop and disable it, and the purge of a
//! service's state directory.
//!
//! # The unit file (format `# pep unit v1`)
//!
//! `pep install` writes `/etc/systemd/system/<unit>.service` (default `pep.service`), mode 0644,
//! atomically (a temporary file beside it, synced, renamed over it). Its first line is
//! `# pep unit v1`: `pep uninstall` and `pep install --force` only ever touch a file that begins
//! with it, and a later pep that changes the layout bumps the number. A unit named like one that
//! systemd already loads from elsewhere (a vendor unit, say `ssh`) is refused rather than shadowed.
//!
//! `ExecStart` is the absolute, canonical path of the running `pep` binary followed by
//! `serve --state <absolute dir> --listen <addr> [--config <absolute file>]`. `pep uninstall`
//! reads the state directory back from it (so it needs no `--state`). Words are written in
//! systemd's quoting: a word with whitespace, a quote or a backslash is double-quoted with `\\` and
//! `\"` escaped; `%` is written `%%` (specifiers) and `$` `$$` (variables) everywhere. Paths with
//! control characters, and a binary or state directory under `/tmp` or `/var/tmp` (the service's
//! private `/tmp` would hide them), are refused.
//!
//! # Hardening, and why it stops where it does
//!
//! The service runs as **root** (`User=root`, said plainly in the unit). On the real machine pep's
//! host-level commands need it: dumping and tracing another user's process (ptrace), signalling
//! any process, packet captures by `dumpcap` (raw sockets, promiscuous mode), starting and stopping
//! other units through `systemctl`, reading and removing files of other users beneath the
//! operator's roots, and binding port 22. Root is then narrowed:
//!
//! - `CapabilityBoundingSet` keeps only what those commands use: `CAP_SYS_PTRACE` (process dumps,
//!   `strace`, open handles of other users' processes), `CAP_KILL` (`Stop-AzsSupportProcess`),
//!   `CAP_NET_RAW` and `CAP_NET_ADMIN` (`dumpcap`), `CAP_NET_BIND_SERVICE` (ports below 1024),
//!   `CAP_DAC_OVERRIDE`, `CAP_DAC_READ_SEARCH` and `CAP_FOWNER` (reading logs and removing crash
//!   dumps in sticky `/var/crash` that other users own). Not kept, among others: `CAP_SYS_ADMIN`,
//!   `CAP_SETUID`/`CAP_SETGID`, `CAP_SYS_MODULE`, `CAP_SYSLOG` (the kernel ring buffer is read
//!   from the journal, which systemd machines have).
//! - `NoNewPrivileges=yes`: it blocks gaining privileges through set-uid bits and file
//!   capabilities. `dumpcap` carries file capabilities for unprivileged users, but here it is
//!   started by root whose permitted set already holds `CAP_NET_RAW`/`CAP_NET_ADMIN`, so it loses
//!   nothing; nothing pep runs needs a set-uid program.
//! - `ProtectSystem=strict`: the whole file system is read-only except `ReadWritePaths`: the
//!   state directory (through `StateDirectory=` with mode 0700 when it is beneath `/var/lib`),
//!   where working directories, captures (`<workdir>/*.pcapng`), dumps (`<workdir>/dumps`) and
//!   traces are written, and — each optional (`-`), as they may not exist — what the clean-up
//!   commands remove from: `/var/crash`, `/var/lib/systemd/coredump`, `/var/log` (rotated logs
//!   only; pep checks that), `/var/cache/apt` and `/var/lib/apt/lists` (`apt-get clean` and its
//!   locks). A `--host-remove-root` elsewhere needs a drop-in adding it to `ReadWritePaths`.
//!   Reads (`/var/log`, the journal, procfs, sysfs) are unaffected.
//! - `ProtectHome=read-only` (pep needs no home; an operator's read root under `/home` still
//!   reads), `PrivateTmp=yes`, `PrivateDevices=yes` (captures use sockets, not device nodes),
//!   `ProtectKernelTunables`, `ProtectKernelModules`, `ProtectKernelLogs`, `ProtectControlGroups`,
//!   `ProtectClock`, `ProtectHostname`, `RestrictNamespaces`, `RestrictSUIDSGID`,
//!   `RestrictRealtime`, `LockPersonality`, `SystemCallArchitectures=native`,
//!   `RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET` (`AF_PACKET` for
//!   captures, netlink for interfaces and routes), and a `SystemCallFilter` that denies groups
//!   nothing here uses (`@clock @cpu-emulation @module @mount @obsolete @raw-io @reboot @swap`).
//! - Not set, on purpose: `ProtectProc=invisible`/`ProcSubset=pid` (the process commands read
//!   every process), `PrivateNetwork`/`PrivateUsers`/`IPAddressDeny` (it serves SSH and captures
//!   the host's traffic), `MemoryDenyWriteExecute` (it would apply to `tshark` and `gdb`-like
//!   tools pep may run), an allow-list `SystemCallFilter=@system-service` (ptrace and friends are
//!   needed for dumps and traces).
//! - `UMask=0077`, `LimitNOFILE=65536`, `Restart=on-failure`, `RestartSec=2s`, `Type=exec` (so a
//!   binary that cannot be executed fails `systemctl start` at once), `TimeoutStopSec=30s` (pep
//!   ends every session on SIGTERM and exits 0).
//!
//! # What `install` and `uninstall` do
//!
//! `install` refuses, in one line, before changing anything: a bad unit name, a state directory
//! that is `/` or would be hidden, a missing `--config` file, not root, no systemd as PID 1
//! (`/run/systemd/system` absent), a unit that exists already (unless `--force`, and never one
//! pep did not write), an address it cannot listen on. It creates the state directory (0700),
//! writes the unit, runs `systemctl daemon-reload` and `systemctl enable --now` (`enable` and
//! `restart` when replacing), waits up to 10 s until the unit is active and the address accepts
//! connections, and prints what it did and what to do next. `uninstall` runs `systemctl disable
//! --now`, removes the unit file, reloads systemd, and leaves the state directory (saying where)
//! unless `--purge`, which removes it only when it is absolute, not `/`, holds `host_key` or
//! `identities.json`, and no `pep serve` holds its lock.
//!
//! Every external program is `systemctl` or `journalctl` from `/usr/bin` or `/bin`, run through
//! [`Runner`]: a fixed argv with `--` before the unit name, a clean environment, a timeout.

use anyhow::{bail, Result};
use azs_support::host::linux::runner::{Limits, Runner};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

/// Where units are written.
pub const UNIT_DIR: &str = "/etc/systemd/system";

/// The first line of every unit file pep writes (the format's version).
pub const UNIT_HEADER: &str = "# pep unit v1";

/// Present exactly when systemd is the running init system (`sd_booted()`).
const SYSTEMD_RUNNING: &str = "/run/systemd/system";

/// How long one `systemctl` call may take (stopping waits for pep to end its sessions).
const SYSTEMCTL_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the unit has to become active and accept connections after it is started.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the service may write besides its state directory: what the clean-up commands remove
/// from (each optional: `-`).
const EXTRA_WRITABLE: &[&str] = &[
    "/var/crash",
    "/var/lib/systemd/coredump",
    "/var/log",
    "/var/cache/apt",
    "/var/lib/apt/lists",
];

/// The capabilities the host-level commands need (see the module header).
const CAPABILITIES: &str = "CAP_SYS_PTRACE CAP_KILL CAP_NET_RAW CAP_NET_ADMIN \
CAP_NET_BIND_SERVICE CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER";

/// Directories hidden from the service (`PrivateTmp=yes`) or not file systems of files.
const HIDDEN_ROOTS: &[&str] = &["/tmp", "/var/tmp", "/proc", "/sys", "/dev"];

/// Where `systemctl` and `journalctl` may come from.
const BIN_DIRS: &[&str] = &["/usr/bin", "/bin"];

/// `pep install`: writes, enables and starts a hardened systemd unit running `pep serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct InstallArgs {
    /// State directory of the service.
    #[arg(long, default_value = "/var/lib/pep")]
    pub state: PathBuf,
    /// Address the service listens on.
    #[arg(long, default_value = "0.0.0.0:2222")]
    pub listen: SocketAddr,
    /// A configuration file for `pep serve --config` (its other settings).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The unit's name (without .service).
    #[arg(long, default_value = "pep")]
    pub unit: String,
    /// Replace a unit that `pep install` wrote before (and restart it).
    #[arg(long)]
    pub force: bool,
}

/// `pep uninstall`: stops, disables and removes the unit; the state directory stays unless
/// `--purge`.
#[derive(Debug, Clone, clap::Args)]
pub struct UninstallArgs {
    /// The unit's name (without .service).
    #[arg(long, default_value = "pep")]
    pub unit: String,
    /// Also remove the service's state directory (identities, consent, audit log, transcripts).
    #[arg(long)]
    pub purge: bool,
    /// The state directory (default: the one the unit's ExecStart names).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
}

/// Everything the unit file says, resolved and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSpec {
    /// `<name>.service`.
    pub unit: String,
    /// The pep binary, absolute.
    pub exe: PathBuf,
    /// The state directory, absolute.
    pub state: PathBuf,
    /// The listen address.
    pub listen: SocketAddr,
    /// The configuration file, absolute.
    pub config: Option<PathBuf>,
}

impl UnitSpec {
    /// Resolves and checks `args` for the binary `exe`, relative paths taken from `cwd`.
    pub fn new(args: &InstallArgs, exe: &Path, cwd: &Path) -> Result<UnitSpec> {
        let unit = unit_file_name(&args.unit)?;
        let exe = absolute(exe, cwd, "the pep binary")?;
        if hidden(&exe) {
            bail!(
                "the pep binary is at {}, which the service cannot see (it has a private /tmp); \
                 copy it to /usr/local/bin and run that one's install",
                exe.display()
            );
        }
        let state = absolute(&args.state, cwd, "the state directory")?;
        if state == Path::new("/") {
            bail!("the state directory may not be /");
        }
        if hidden(&state) {
            bail!(
                "the state directory {} would be hidden from the service (private /tmp, or not a \
                 disk); choose one such as /var/lib/pep",
                state.display()
            );
        }
        let config = match &args.config {
            None => None,
            Some(c) => {
                let c = absolute(c, cwd, "the configuration file")?;
                if !c.is_file() {
                    bail!("the configuration file {} does not exist", c.display());
                }
                if hidden(&c) {
                    bail!(
                        "the configuration file {} would be hidden from the service (private \
                         /tmp); move it to /etc",
                        c.display()
                    );
                }
                Some(c)
            }
        };
        Ok(UnitSpec {
            unit,
            exe,
            state,
            listen: args.listen,
            config,
        })
    }

    /// The unit's name without `.service` (for `journalctl -u`, messages).
    pub fn short_name(&self) -> &str {
        self.unit.trim_end_matches(".service")
    }

    /// The `StateDirectory=` name when the state is beneath `/var/lib` in plain names.
    fn state_directory(&self) -> Option<String> {
        let rel = self.state.strip_prefix("/var/lib").ok()?.to_str()?;
        let plain = !rel.is_empty()
            && rel.split('/').all(|seg| {
                !seg.is_empty()
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            });
        plain.then(|| rel.to_string())
    }

    /// The unit file's text.
    pub fn render(&self) -> String {
        let path = |p: &Path| quote_word(&p.to_string_lossy());
        let mut exec = vec![
            path(&self.exe),
            "serve".to_string(),
            "--state".to_string(),
            path(&self.state),
            "--listen".to_string(),
            quote_word(&self.listen.to_string()),
        ];
        if let Some(c) = &self.config {
            exec.push("--config".to_string());
            exec.push(path(c));
        }
        let mut writable: Vec<String> = Vec::new();
        let state_lines = match self.state_directory() {
            Some(name) => format!("StateDirectory={name}\nStateDirectoryMode=0700\n"),
            None => {
                writable.push(path(&self.state));
                String::new()
            }
        };
        writable.extend(EXTRA_WRITABLE.iter().map(|p| format!("-{p}")));
        let mut t = String::new();
        let _ = writeln!(t, "{UNIT_HEADER}");
        let _ = writeln!(
            t,
            "# Written by `pep install`; `pep uninstall` removes it. Edits are lost on \
             `pep install --force`:"
        );
        let _ = writeln!(
            t,
            "# put changes in a drop-in (systemctl edit {}).",
            self.short_name()
        );
        let _ = writeln!(t, "[Unit]");
        let _ = writeln!(
            t,
            "Description=pep, the privileged endpoint for remote vendor support (SSH)"
        );
        let _ = writeln!(t, "Documentation=man:systemd.exec(5)");
        let _ = writeln!(t, "After=network-online.target");
        let _ = writeln!(t, "Wants=network-online.target");
        let _ = writeln!(t);
        let _ = writeln!(t, "[Service]");
        let _ = writeln!(t, "Type=exec");
        let _ = writeln!(t, "ExecStart={}", exec.join(" "));
        let _ = writeln!(t, "Restart=on-failure");
        let _ = writeln!(t, "RestartSec=2s");
        let _ = writeln!(t, "TimeoutStopSec=30s");
        let _ = writeln!(
            t,
            "# Root: dumps and traces of any process, captures, systemctl, other users' files."
        );
        let _ = writeln!(t, "User=root");
        let _ = writeln!(t, "CapabilityBoundingSet={CAPABILITIES}");
        let _ = writeln!(t, "NoNewPrivileges=yes");
        let _ = writeln!(t, "ProtectSystem=strict");
        t.push_str(&state_lines);
        let _ = writeln!(t, "ReadWritePaths={}", writable.join(" "));
        for line in [
            "ProtectHome=read-only",
            "PrivateTmp=yes",
            "PrivateDevices=yes",
            "ProtectKernelTunables=yes",
            "ProtectKernelModules=yes",
            "ProtectKernelLogs=yes",
            "ProtectControlGroups=yes",
            "ProtectClock=yes",
            "ProtectHostname=yes",
            "RestrictNamespaces=yes",
            "RestrictSUIDSGID=yes",
            "RestrictRealtime=yes",
            "LockPersonality=yes",
            "SystemCallArchitectures=native",
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET",
            "SystemCallFilter=~@clock @cpu-emulation @module @mount @obsolete @raw-io @reboot @swap",
            "SystemCallErrorNumber=EPERM",
            "UMask=0077",
            "LimitNOFILE=65536",
        ] {
            let _ = writeln!(t, "{line}");
        }
        let _ = writeln!(t);
        let _ = writeln!(t, "[Install]");
        let _ = writeln!(t, "WantedBy=multi-user.target");
        t
    }
}

/// `<name>.service` for a unit name given without (or with) `.service`; template and odd names
/// refused.
pub fn unit_file_name(name: &str) -> Result<String> {
    let base = name.strip_suffix(".service").unwrap_or(name);
    let ok = !base.is_empty()
        && base.len() <= 200
        && !base.starts_with(['-', '.'])
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':'));
    if !ok {
        bail!(
            "'{name}' is not a unit name pep installs: use letters, digits and _ . - : (e.g. pep)"
        );
    }
    Ok(format!("{base}.service"))
}

/// `p` made absolute against `cwd`, refused with `..`, control characters or non-UTF-8 bytes.
fn absolute(p: &Path, cwd: &Path, what: &str) -> Result<PathBuf> {
    let Some(text) = p.to_str() else {
        bail!("{what} {} is not valid UTF-8", p.display());
    };
    if text.is_empty() {
        bail!("{what} is empty");
    }
    if text.chars().any(char::is_control) {
        bail!("{what} {text:?} holds control characters");
    }
    if p.components().any(|c| c == Component::ParentDir) {
        bail!("{what} {text} may not contain '..'");
    }
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    };
    if !abs.is_absolute() || abs.to_str().is_none_or(|s| s.chars().any(char::is_control)) {
        bail!("{what} {} is not an absolute path", abs.display());
    }
    // Drop `.` and doubled slashes.
    Ok(abs.components().collect())
}

/// Whether the service would not see `p` as this process does.
fn hidden(p: &Path) -> bool {
    HIDDEN_ROOTS.iter().any(|r| p.starts_with(r))
}

/// One word of a unit file setting in systemd's quoting (see the module header).
pub fn quote_word(word: &str) -> String {
    let escaped = word.replace('%', "%%").replace('$', "$$");
    let needs_quotes = escaped.is_empty()
        || escaped
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'));
    if !needs_quotes {
        return escaped;
    }
    let mut out = String::with_capacity(escaped.len() + 2);
    out.push('"');
    for c in escaped.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Splits a setting's value into words, undoing [`quote_word`] (quotes, backslash escapes, `%%`,
/// `$$`). `None` for an unterminated quote.
pub fn split_words(value: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(words);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (quote, c) {
                (None, c) if c.is_whitespace() => break,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (_, '\\') => word.push(chars.next()?),
                (_, c) => word.push(c),
            }
        }
        if quote.is_some() {
            return None;
        }
        words.push(word.replace("%%", "%").replace("$$", "$"));
    }
}

/// The state directory a unit file's `ExecStart` names (`--state DIR`), if any.
pub fn state_of_unit(text: &str) -> Option<PathBuf> {
    let value = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("ExecStart="))?;
    let words = split_words(value)?;
    let i = words.iter().position(|w| w == "--state")?;
    let dir = PathBuf::from(words.get(i + 1)?);
    dir.is_absolute().then_some(dir)
}

/// Whether a unit file was written by `pep install`.
fn is_pep_unit(text: &str) -> bool {
    text.lines().next().map(str::trim_end) == Some(UNIT_HEADER)
}

/// Refuses unless running as root with systemd as init.
fn require_root_and_systemd(verb: &str) -> Result<()> {
    if !rustix::process::geteuid().is_root() {
        bail!("pep {verb} must run as root (it writes to {UNIT_DIR} and runs systemctl)");
    }
    if !Path::new(SYSTEMD_RUNNING).is_dir() {
        bail!("systemd is not running on this machine; pep {verb} needs it");
    }
    Ok(())
}

/// An installed program from [`BIN_DIRS`].
fn program(name: &str) -> Result<String> {
    BIN_DIRS
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .map(|p| p.to_string_lossy().into_owned())
        .ok_or_else(|| anyhow::anyhow!("{name} is not installed in /usr/bin or /bin"))
}

/// Runs `systemctl ARGS`; an error names the call and systemctl's first line of complaint.
fn systemctl(args: &[&str]) -> Result<String> {
    let out = Runner::local()
        .run(
            &program("systemctl")?,
            args,
            Limits {
                timeout: SYSTEMCTL_TIMEOUT,
                ..Limits::default()
            },
        )
        .map_err(|e| anyhow::anyhow!("systemctl {}: {e}", args.join(" ")))?;
    if !out.success() {
        bail!(
            "systemctl {} failed: {}",
            args.join(" "),
            out.first_error_line()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `systemctl show -p ...` as (key, value) pairs.
fn unit_properties(unit: &str, keys: &[&str]) -> Result<Vec<(String, String)>> {
    let mut args = vec!["show"];
    for k in keys {
        args.extend(["-p", k]);
    }
    args.extend(["--", unit]);
    Ok(systemctl(&args)?
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

fn property<'a>(props: &'a [(String, String)], key: &str) -> &'a str {
    props
        .iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

/// The last line the unit logged, for a failure's message (empty if none).
fn last_log_line(unit: &str) -> String {
    let Ok(journalctl) = program("journalctl") else {
        return String::new();
    };
    let unit_arg = format!("--unit={unit}");
    Runner::local()
        .run(
            &journalctl,
            &[&unit_arg, "-n", "5", "--no-pager", "-o", "cat"],
            Limits {
                timeout: Duration::from_secs(10),
                ..Limits::default()
            },
        )
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
}

/// Where to connect to reach a server listening on `listen`.
fn reachable(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(a) if a.is_unspecified() => (Ipv4Addr::LOCALHOST, listen.port()).into(),
        IpAddr::V6(a) if a.is_unspecified() => (Ipv6Addr::LOCALHOST, listen.port()).into(),
        _ => listen,
    }
}

/// Waits until `unit` is active and `listen` accepts a connection.
fn wait_until_serving(unit: &str, listen: SocketAddr) -> Result<()> {
    let started = Instant::now();
    let mut state = String::from("unknown");
    while started.elapsed() < ACTIVE_TIMEOUT {
        let props = unit_properties(unit, &["ActiveState", "SubState"])?;
        let (active, sub) = (
            property(&props, "ActiveState"),
            property(&props, "SubState"),
        );
        state = format!("{active}/{sub}");
        if active == "active"
            && TcpStream::connect_timeout(&reachable(listen), Duration::from_millis(300)).is_ok()
        {
            return Ok(());
        }
        if active == "failed" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let why = last_log_line(unit);
    let short = unit.trim_end_matches(".service");
    bail!(
        "{unit} is installed but not serving on {listen} after {} s (state {state}){}; see \
         journalctl -u {short}, fix it and run systemctl restart {short}, or pep uninstall --unit {short}",
        ACTIVE_TIMEOUT.as_secs(),
        if why.is_empty() {
            String::new()
        } else {
            format!(": {why}")
        }
    )
}

/// A path as a shell word for the printed next steps.
fn shell_word(p: &Path) -> String {
    let s = p.to_string_lossy();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.' | ':' | '@'))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Installs the service.
pub fn install(args: &InstallArgs) -> Result<()> {
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| anyhow::anyhow!("the pep binary's path could not be found: {e}"))?;
    let cwd = std::env::current_dir()
        .map_err(|e| anyhow::anyhow!("the working directory could not be read: {e}"))?;
    let spec = UnitSpec::new(args, &exe, &cwd)?;
    require_root_and_systemd("install")?;
    let unit_path = Path::new(UNIT_DIR).join(&spec.unit);
    let short = spec.short_name().to_string();

    let replacing = match std::fs::read_to_string(&unit_path) {
        Ok(text) if !is_pep_unit(&text) => bail!(
            "{} exists and was not written by pep install; not replacing it (choose another --unit)",
            unit_path.display()
        ),
        Ok(text) if !args.force => bail!(
            "pep is already installed as {} (state {}); pep uninstall --unit {short} first, or \
             pep install --force to replace the unit",
            spec.unit,
            state_of_unit(&text).map_or_else(|| "unknown".to_string(), |p| p.display().to_string())
        ),
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => bail!("{} could not be read: {e}", unit_path.display()),
    };
    if !replacing {
        let props = unit_properties(&spec.unit, &["LoadState", "FragmentPath"])?;
        let load = property(&props, "LoadState");
        if load != "not-found" && !load.is_empty() {
            let from = property(&props, "FragmentPath");
            bail!(
                "a unit named {} already exists ({load}{}); choose another --unit",
                spec.unit,
                if from.is_empty() {
                    String::new()
                } else {
                    format!(", {from}")
                }
            );
        }
        // The address must be free now (a replaced unit holds its own).
        if let Err(e) = TcpListener::bind(spec.listen) {
            bail!("pep cannot listen on {}: {e}", spec.listen);
        }
    }

    std::fs::create_dir_all(&spec.state).map_err(|e| {
        anyhow::anyhow!(
            "the state directory {} could not be created: {e}",
            spec.state.display()
        )
    })?;
    crate::state::set_mode(&spec.state, 0o700)?;
    azs_support::atomic_file::atomic_write(&unit_path, spec.render().as_bytes(), 0o644)
        .map_err(|e| anyhow::anyhow!("{} could not be written: {e}", unit_path.display()))?;
    crate::state::set_mode(&unit_path, 0o644)?;
    systemctl(&["daemon-reload"])?;
    if replacing {
        systemctl(&["enable", "--", &spec.unit])?;
        systemctl(&["restart", "--", &spec.unit])?;
    } else {
        systemctl(&["enable", "--now", "--", &spec.unit])?;
    }
    wait_until_serving(&spec.unit, spec.listen)?;

    let pep = shell_word(&spec.exe);
    let state = shell_word(&spec.state);
    let port = spec.listen.port();
    println!(
        "pep {} as {} and serving on {}.",
        if replacing {
            "is reinstalled"
        } else {
            "is installed"
        },
        spec.unit,
        spec.listen
    );
    println!(
        "  unit:   {} (enabled: starts at boot)",
        unit_path.display()
    );
    println!(
        "  state:  {} (identities, consent, audit log, transcripts)",
        spec.state.display()
    );
    println!("  listen: {}", spec.listen);
    if let Some(c) = &spec.config {
        println!("  config: {}", c.display());
    }
    println!("Next:");
    println!("  {pep} identity add --state {state} --role operator --name NAME --key KEY.pub");
    println!("  {pep} identity add --state {state} --role support --name NAME --key KEY.pub");
    println!("  ssh -p {port} NAME@HOST 'Get-RemoteSupportAccess'");
    println!("  journalctl -u {short}          # its log");
    println!("  systemctl status {short}");
    println!("  {pep} uninstall --unit {short}   # --purge also removes the state directory");
    Ok(())
}

/// Removes the service.
pub fn uninstall(args: &UninstallArgs) -> Result<()> {
    let unit = unit_file_name(&args.unit)?;
    let short = unit.trim_end_matches(".service").to_string();
    let override_state = match &args.state {
        None => None,
        Some(s) => {
            let cwd = std::env::current_dir()
                .map_err(|e| anyhow::anyhow!("the working directory could not be read: {e}"))?;
            Some(absolute(s, &cwd, "the state directory")?)
        }
    };
    require_root_and_systemd("uninstall")?;
    let unit_path = Path::new(UNIT_DIR).join(&unit);
    let text = match std::fs::read_to_string(&unit_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "{unit} is not installed ({} does not exist)",
                unit_path.display()
            )
        }
        Err(e) => bail!("{} could not be read: {e}", unit_path.display()),
    };
    if !is_pep_unit(&text) {
        bail!(
            "{} was not written by pep install; not removing it",
            unit_path.display()
        );
    }
    let state = override_state.or_else(|| state_of_unit(&text));
    if args.purge {
        match &state {
            None => bail!(
                "the state directory is not in {}; give it with --state to purge",
                unit_path.display()
            ),
            Some(s) => check_purgeable(s)?,
        }
    }

    systemctl(&["disable", "--now", "--", &unit])?;
    std::fs::remove_file(&unit_path)
        .map_err(|e| anyhow::anyhow!("{} could not be removed: {e}", unit_path.display()))?;
    systemctl(&["daemon-reload"])?;
    // Forget a failed state or restart count; a unit that never failed has none.
    let _ = systemctl(&["reset-failed", "--", &unit]);
    println!(
        "{unit} is stopped, disabled and removed ({}).",
        unit_path.display()
    );

    match (&state, args.purge) {
        (Some(s), true) => {
            purge(s)?;
            println!("Removed the state directory {}.", s.display());
        }
        (Some(s), false) => println!(
            "The state directory stays at {} (identities, consent, audit log, transcripts); \
             pep uninstall --unit {short} --purge removes it.",
            s.display()
        ),
        (None, _) => println!("The unit named no state directory; nothing else was removed."),
    }
    Ok(())
}

/// Refuses to purge what is not plainly a pep state directory.
fn check_purgeable(dir: &Path) -> Result<()> {
    if !dir.is_absolute() {
        bail!("not purging {}: not an absolute path", dir.display());
    }
    if dir.parent().is_none() || dir.components().any(|c| c == Component::ParentDir) {
        bail!("not purging {}", dir.display());
    }
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| anyhow::anyhow!("not purging {}: {e}", dir.display()))?;
    if !meta.is_dir() {
        bail!("not purging {}: not a directory", dir.display());
    }
    if !dir.join("host_key").is_file() && !dir.join("identities.json").is_file() {
        bail!(
            "not purging {}: it holds neither host_key nor identities.json, so it does not look \
             like a pep state directory",
            dir.display()
        );
    }
    Ok(())
}

/// Removes a checked state directory, holding its serve lock so no `pep serve` is using it.
fn purge(dir: &Path) -> Result<()> {
    check_purgeable(dir)?;
    let state = crate::state::StateDir::open_existing(dir)?;
    let lock = state
        .lock_for_serving()
        .map_err(|e| anyhow::anyhow!("not purging {}: {e:#}", dir.display()))?;
    let removed = std::fs::remove_dir_all(dir);
    drop(lock);
    removed.map_err(|e| anyhow::anyhow!("{} could not be removed: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: InstallArgs,
    }

    fn parse(argv: &[&str]) -> Result<InstallArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("pep-install").chain(argv.iter().copied()))
            .map(|c| c.args)
    }

    fn spec(argv: &[&str]) -> Result<UnitSpec> {
        let args = parse(argv).map_err(|e| anyhow::anyhow!("{e}"))?;
        UnitSpec::new(&args, Path::new("/usr/local/bin/pep"), Path::new("/root"))
    }

    fn value<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
        text.lines()
            .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .collect()
    }

    #[test]
    fn the_default_unit_is_versioned_hardened_and_runs_pep_serve_with_absolute_paths() {
        let s = spec(&[]).expect("defaults");
        assert_eq!(s.unit, "pep.service");
        let t = s.render();
        assert!(t.starts_with("# pep unit v1\n"), "{t}");
        assert_eq!(
            value(&t, "ExecStart"),
            ["/usr/local/bin/pep serve --state /var/lib/pep --listen 0.0.0.0:2222"]
        );
        for line in [
            "Type=exec",
            "Restart=on-failure",
            "RestartSec=2s",
            "User=root",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=read-only",
            "PrivateTmp=yes",
            "ProtectKernelTunables=yes",
            "ProtectKernelModules=yes",
            "ProtectControlGroups=yes",
            "RestrictSUIDSGID=yes",
            "LockPersonality=yes",
            "RestrictRealtime=yes",
            "SystemCallArchitectures=native",
            "UMask=0077",
            "LimitNOFILE=65536",
            "StateDirectory=pep",
            "StateDirectoryMode=0700",
            "After=network-online.target",
            "Wants=network-online.target",
            "WantedBy=multi-user.target",
        ] {
            assert!(t.lines().any(|l| l == line), "missing {line}:\n{t}");
        }
        let caps = value(&t, "CapabilityBoundingSet")[0];
        for cap in ["CAP_SYS_PTRACE", "CAP_NET_RAW", "CAP_NET_ADMIN", "CAP_KILL"] {
            assert!(caps.split(' ').any(|c| c == cap), "{caps}");
        }
        assert!(!caps.contains("CAP_SYS_ADMIN"), "{caps}");
        assert_eq!(state_of_unit(&t), Some(PathBuf::from("/var/lib/pep")));
    }

    #[test]
    fn a_state_outside_var_lib_is_made_writable_by_path_and_relative_paths_become_absolute() {
        let t = spec(&[
            "--state",
            "srv/./pep",
            "--listen",
            "[::1]:2222",
            "--unit",
            "pep-b",
        ])
        .expect("spec")
        .render();
        assert!(!t.contains("StateDirectory="), "{t}");
        let rw = value(&t, "ReadWritePaths")[0];
        assert!(rw.starts_with("/root/srv/pep -/var/crash "), "{rw}");
        assert_eq!(
            value(&t, "ExecStart"),
            ["/usr/local/bin/pep serve --state /root/srv/pep --listen [::1]:2222"]
        );
    }

    #[test]
    fn paths_with_spaces_quotes_percent_and_dollar_survive_systemd_quoting() {
        let state = "/srv/pep state/100% \"x\" $HOME \\n";
        let args = parse(&["--state", state]).expect("args");
        let s = UnitSpec {
            config: Some(PathBuf::from("/etc/pep/my config.toml")),
            ..UnitSpec::new(&args, Path::new("/opt/my pep/pep"), Path::new("/")).expect("spec")
        };
        let t = s.render();
        let exec = value(&t, "ExecStart")[0];
        assert!(
            exec.starts_with(
                "\"/opt/my pep/pep\" serve --state \"/srv/pep state/100%% \\\"x\\\" $$HOME \\\\n\""
            ),
            "{exec}"
        );
        assert_eq!(
            split_words(exec).expect("words"),
            [
                "/opt/my pep/pep",
                "serve",
                "--state",
                state,
                "--listen",
                "0.0.0.0:2222",
                "--config",
                "/etc/pep/my config.toml"
            ]
        );
        assert_eq!(state_of_unit(&t), Some(PathBuf::from(state)));
        assert!(value(&t, "ReadWritePaths")[0].starts_with("\"/srv/pep state/100%% "));
    }

    #[test]
    fn quoting_round_trips() {
        for w in [
            "plain", "", "a b", "'", "\"", "\\", "%i", "$$", "a;b", ";", "x\ty",
        ] {
            assert_eq!(
                split_words(&quote_word(w)).expect("words"),
                [w.to_string()],
                "{w:?} -> {}",
                quote_word(w)
            );
        }
        assert_eq!(split_words("\"open"), None);
    }

    #[test]
    fn bad_arguments_are_refused_before_anything_is_touched() {
        let err = |argv: &[&str]| format!("{:#}", spec(argv).expect_err("refused"));
        assert!(err(&["--state", "/"]).contains("may not be /"));
        assert!(err(&["--state", "/tmp/pep"]).contains("hidden from the service"));
        assert!(err(&["--state", "/var/lib/../../etc"]).contains("'..'"));
        assert!(err(&["--state", "/var/lib/pep\nx"]).contains("control characters"));
        assert!(err(&["--unit", "ssh/x"]).contains("not a unit name"));
        assert!(err(&["--unit", "pep@x"]).contains("not a unit name"));
        assert!(err(&["--unit=-pep"]).contains("not a unit name"));
        assert!(err(&["--unit", ""]).contains("not a unit name"));
        assert!(err(&["--config", "/nonexistent/pep.toml"]).contains("does not exist"));
        let e = parse(&["--listen", "localhost"]).expect_err("refused");
        assert!(e.to_string().contains("--listen"), "{e}");
        assert_eq!(
            spec(&["--unit", "pep-2.service"]).expect("ok").unit,
            "pep-2.service"
        );
        let args = parse(&[]).expect("defaults");
        let e = UnitSpec::new(&args, Path::new("/tmp/x/pep"), Path::new("/")).expect_err("refused");
        assert!(e.to_string().contains("/usr/local/bin"), "{e}");
    }

    #[test]
    fn only_pep_units_and_pep_state_directories_are_touched() {
        assert!(is_pep_unit("# pep unit v1\n[Unit]\n"));
        assert!(!is_pep_unit("[Unit]\nDescription=OpenSSH\n"));
        assert_eq!(
            state_of_unit("# pep unit v1\nExecStart=/bin/pep serve\n"),
            None
        );

        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        std::fs::create_dir(&state).expect("dir");
        let e = check_purgeable(&state).expect_err("empty: not a state dir");
        assert!(
            e.to_string().contains("does not look like a pep state"),
            "{e}"
        );
        assert!(check_purgeable(Path::new("/")).is_err());
        assert!(check_purgeable(Path::new("relative")).is_err());
        std::fs::write(state.join("identities.json"), "{}").expect("ids");
        check_purgeable(&state).expect("a state dir");
        std::os::unix::fs::symlink(&state, dir.path().join("link")).expect("link");
        assert!(
            check_purgeable(&dir.path().join("link")).is_err(),
            "a symlink"
        );
        purge(&state).expect("purged");
        assert!(!state.exists());
    }
}
