//! Packet captures on a real Linux host, the analogue of `Enable-AzsSupportNetshTrace`,
//! `Disable-AzsSupportNetshTrace` and `Get-AzsSupportTraceEvent`: a [`CaptureSpec`] validated
//! against allow-lists, the BPF capture filter built only from its typed values, a running
//! `dumpcap` writing pcapng ([`Capture`], always bounded in time and size, stopped by SIGINT and
//! never outliving its owner) and reading a capture file back with `tshark` ([`read_events`]).
//! Both programs run through [`Runner`]: fixed argv, clean environment, no shell.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::runner::{Background, Limits, RunError, Runner};

/// The longest a capture may be asked to run.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// The largest capture file, in MB (10^6 bytes, dumpcap's unit).
pub const MAX_SIZE_MB: u32 = 1024;
/// At most this many ports and this many addresses in one filter.
pub const MAX_FILTER_VALUES: usize = 32;
/// At most this many events are read back from a capture file.
pub const MAX_EVENTS: usize = 100_000;

/// How long `dumpcap` may take to open its interface and create its file.
const START_WAIT: Duration = Duration::from_secs(10);
/// How long `dumpcap` may take to finish its file after SIGINT before it is killed.
const STOP_WAIT: Duration = Duration::from_secs(10);
/// The kernel capture buffer dumpcap asks for (`-B`, MiB), instead of libpcap's default 2 MiB.
/// Measured on loopback (benches/capture_loss.py: a 300 MB TCP transfer at ~3 GB/s): with the
/// default buffer dumpcap dropped about half of the packets; a 64 MiB buffer absorbs the bursts
/// while dumpcap writes. The memory is the kernel's, held only while the capture runs, and one
/// capture runs per node at a time.
const KERNEL_BUFFER_MIB: &str = "64";
/// Bytes of `dumpcap`'s stderr kept.
const MAX_STDERR: usize = 64 << 10;
/// The pcapng Section Header Block type, the first four bytes of every pcapng file.
pub const PCAPNG_MAGIC: u32 = 0x0A0D_0D0A;

/// A transport protocol a capture can be narrowed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP and ICMPv6.
    Icmp,
}

impl Protocol {
    /// The BPF primitive(s) for this protocol.
    fn bpf(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp or icmp6",
        }
    }
}

/// What to capture, where, and for how long at most.
#[derive(Debug, Clone, Serialize)]
pub struct CaptureSpec {
    /// The network interface (`^[A-Za-z0-9_.:@-]{1,15}$`, present under `/sys/class/net`);
    /// `None` captures on every interface (`any`).
    pub interface: Option<String>,
    /// The file stops growing (and the capture ends) past this many MB (1..=1024).
    pub max_size_mb: u32,
    /// The capture ends after this long (1 s ..= 24 h; fractions of a second round up).
    pub duration: Duration,
    /// Only these protocols (empty: all).
    pub protocols: Vec<Protocol>,
    /// Only packets to or from one of these ports (empty: all).
    pub ports: Vec<u16>,
    /// Only packets to or from one of these addresses (empty: all).
    pub addresses: Vec<IpAddr>,
}

impl CaptureSpec {
    /// Checks every value against its allow-list; the error is one line for the operator.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(name) = &self.interface {
            validate_interface(name)?;
        }
        if !(1..=MAX_SIZE_MB).contains(&self.max_size_mb) {
            return Err(format!(
                "the maximum capture size must be 1 to {MAX_SIZE_MB} MB, not {}",
                self.max_size_mb
            ));
        }
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return Err(format!(
                "the capture duration must be 1 s to 24 h, not {} s",
                self.duration.as_secs_f64()
            ));
        }
        if self.ports.len() > MAX_FILTER_VALUES || self.addresses.len() > MAX_FILTER_VALUES {
            return Err(format!(
                "a capture filter takes at most {MAX_FILTER_VALUES} ports and {MAX_FILTER_VALUES} addresses"
            ));
        }
        if !self.ports.is_empty()
            && !self.protocols.is_empty()
            && !self
                .protocols
                .iter()
                .any(|p| matches!(p, Protocol::Tcp | Protocol::Udp))
        {
            return Err(
                "ports apply only to TCP and UDP: add one of them or drop the ports".into(),
            );
        }
        Ok(())
    }

    /// The whole seconds `dumpcap` is given (`-a duration:S`).
    fn duration_secs(&self) -> u64 {
        self.duration.as_secs() + u64::from(self.duration.subsec_nanos() > 0)
    }

    /// The size bound in bytes (dumpcap counts kB of 1000 bytes and stops once past it).
    fn limit_bytes(&self) -> u64 {
        u64::from(self.max_size_mb) * 1_000_000
    }
}

/// Checks an interface name against the allow-list and that the interface exists.
pub fn validate_interface(name: &str) -> Result<(), String> {
    let allowed = (1..=15).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:@-".contains(&b))
        && name != "."
        && name != ".."
        && !name.starts_with('-');
    if !allowed {
        return Err(format!(
            "{name:?} is not a valid network interface name (1 to 15 of A-Z a-z 0-9 _ . : @ -)"
        ));
    }
    if !Path::new("/sys/class/net").join(name).exists() {
        return Err(format!(
            "there is no network interface named {name} on this machine"
        ));
    }
    Ok(())
}

/// The BPF capture filter for `spec`, built only from its typed values: protocols, ports and
/// addresses each OR-ed, the groups AND-ed, e.g. `(tcp or udp) and (port 53 or port 443) and
/// (host 10.0.0.1)`. Empty: everything.
pub fn capture_filter(spec: &CaptureSpec) -> String {
    fn group<T: Ord + Copy>(values: &[T], term: impl Fn(T) -> String) -> Option<String> {
        let mut values = values.to_vec();
        values.sort_unstable();
        values.dedup();
        (!values.is_empty()).then(|| {
            let terms: Vec<String> = values.into_iter().map(term).collect();
            format!("({})", terms.join(" or "))
        })
    }
    [
        group(&spec.protocols, |p| p.bpf().to_string()),
        group(&spec.ports, |p| format!("port {p}")),
        group(&spec.addresses, |a| format!("host {a}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" and ")
}

/// A running `dumpcap` writing one pcapng file; stopping it (or dropping it) ends the capture.
#[derive(Debug)]
pub struct Capture {
    /// dumpcap, until it is stopped.
    process: Option<Background>,
    path: PathBuf,
    limit_bytes: u64,
    pid: u32,
}

/// What a finished capture left.
#[derive(Debug, Clone, Serialize)]
pub struct CaptureResult {
    /// The pcapng file (mode 0600).
    pub path: PathBuf,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// The packets in it.
    pub packets: u64,
    /// Packets the kernel or dumpcap dropped, as dumpcap reported at exit (`None`: not reported).
    pub dropped: Option<u64>,
    /// What ended it: `Disable` (stopped by its owner), `duration` or `size` (its bounds).
    pub stopped_by: String,
}

/// One packet read back from a capture file.
#[derive(Debug, Clone, Serialize)]
pub struct TraceEvent {
    /// When it was captured.
    pub time: DateTime<Utc>,
    /// Its source address (numeric).
    pub source: String,
    /// Its destination address (numeric).
    pub destination: String,
    /// Its protocol as Wireshark names it (`UDP`, `TCP`, `DNS`, ...).
    pub protocol: String,
    /// Wireshark's one-line summary.
    pub summary: String,
}

impl Capture {
    /// Starts `dumpcap -q -n -i IFACE -B 64 [-f FILTER] -a duration:S -a filesize:KB -w PATH` after
    /// validating `spec`, and returns once dumpcap has created its file (it is capturing) or with
    /// its one-line error. `path` must be absolute, built by pep, and not exist yet; its directory
    /// is created.
    pub fn start(runner: &Runner, spec: &CaptureSpec, path: &Path) -> Result<Capture, String> {
        spec.validate()?;
        let interface = spec.interface.as_deref().unwrap_or("any");
        spawn(
            runner,
            interface,
            &capture_filter(spec),
            spec.duration_secs(),
            spec.limit_bytes(),
            path,
        )
    }

    /// Stops the capture (SIGINT, then SIGKILL after 10 s) unless it already ended at a bound,
    /// and reports what it left.
    pub fn stop(mut self) -> Result<CaptureResult, String> {
        let (status, signalled, stderr) = self.halt()?;
        let size_bytes = std::fs::metadata(&self.path)
            .map_err(|e| format!("the capture file {} is missing: {e}", self.path.display()))?
            .len();
        if !signalled && !status.success() {
            return Err(format!(
                "the capture ended with an error ({}); what it captured is in {}",
                dumpcap_error(&stderr, status),
                self.path.display()
            ));
        }
        let _ = std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o600));
        let packets = count_pcapng_packets(&self.path)?;
        let stopped_by = if signalled {
            "Disable"
        } else if size_bytes >= self.limit_bytes {
            "size"
        } else {
            "duration"
        };
        Ok(CaptureResult {
            path: self.path.clone(),
            size_bytes,
            packets,
            dropped: dropped_packets(&stderr),
            stopped_by: stopped_by.to_string(),
        })
    }

    /// Whether dumpcap is still capturing (false once it stopped at its duration or size).
    pub fn is_running(&mut self) -> bool {
        self.process
            .as_mut()
            .is_some_and(|p| matches!(p.child.try_wait(), Ok(None)))
    }

    /// The process id of the capture (of the prefix program when the runner has one).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Ends the process: SIGINT to its group if it still runs, a bounded wait, then SIGKILL.
    /// Returns its exit status, whether it was signalled by us, and its stderr.
    fn halt(&mut self) -> Result<(ExitStatus, bool, String), String> {
        let Some(mut process) = self.process.take() else {
            return Err("the capture was already stopped".into());
        };
        let (status, signalled) = process
            .interrupt(STOP_WAIT)
            .map_err(|e| format!("dumpcap could not be waited for: {e}"))?;
        Ok((status, signalled, process.stderr()))
    }
}

impl Drop for Capture {
    /// A capture never outlives its owner.
    fn drop(&mut self) {
        if self.process.is_some() {
            let _ = self.halt();
        }
    }
}

/// Starts dumpcap with an already built filter and waits until it captures or fails.
fn spawn(
    runner: &Runner,
    interface: &str,
    filter: &str,
    duration_secs: u64,
    limit_bytes: u64,
    path: &Path,
) -> Result<Capture, String> {
    let path_text = capture_path(path)?;
    if path.symlink_metadata().is_ok() {
        return Err(format!("a file already exists at {}", path.display()));
    }
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                format!(
                    "the capture folder {} cannot be created: {e}",
                    dir.display()
                )
            })?;
    }
    let duration = format!("duration:{duration_secs}");
    let filesize = format!("filesize:{}", limit_bytes / 1000);
    // `-B` after `-i`: dumpcap applies it to the interface given before it.
    let mut args = vec!["-q", "-n", "-i", interface, "-B", KERNEL_BUFFER_MIB];
    if !filter.is_empty() {
        args.extend(["-f", filter]);
    }
    args.extend(["-a", &duration, "-a", &filesize, "-w", path_text]);
    let process = runner.background("dumpcap", &args, "wireshark-common", MAX_STDERR)?;
    let mut capture = Capture {
        pid: process.child.id(),
        process: Some(process),
        path: path.to_path_buf(),
        limit_bytes,
    };
    // dumpcap creates its file only once the interface is open and the filter compiled.
    let deadline = Instant::now() + START_WAIT;
    loop {
        // The file first: a capture that already ended at a short bound has still started.
        if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
            return Ok(capture);
        }
        if !capture.is_running() {
            let (status, _, stderr) = capture.halt()?;
            return Err(format!(
                "the capture could not start: {}",
                dumpcap_error(&stderr, status)
            ));
        }
        if Instant::now() >= deadline {
            drop(capture);
            return Err(format!(
                "dumpcap did not start capturing within {} s and was stopped",
                START_WAIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The path as an argument: absolute (so never `-`, dumpcap's and tshark's stdout/stdin) and UTF-8.
fn capture_path(path: &Path) -> Result<&str, String> {
    match path.to_str() {
        Some(text) if path.is_absolute() => Ok(text),
        _ => Err(format!(
            "{} is not an absolute UTF-8 path for a capture file",
            path.display()
        )),
    }
}

/// dumpcap's error in one line: its first stderr line that is not progress.
fn dumpcap_error(stderr: &str, status: ExitStatus) -> String {
    stderr
        .lines()
        .map(str::trim)
        .find(|l| {
            !l.is_empty()
                && !l.starts_with("Capturing on")
                && !l.starts_with("File:")
                && !l.starts_with("Packets ")
        })
        .map(|l| l.strip_prefix("dumpcap: ").unwrap_or(l).to_string())
        .unwrap_or_else(|| format!("dumpcap exited with {status}"))
}

/// The dropped packets dumpcap reported at exit, summed over interfaces:
/// `Packets received/dropped on interface 'lo': 93/0 (...)`.
fn dropped_packets(stderr: &str) -> Option<u64> {
    let mut total = None;
    for line in stderr.lines() {
        let Some(rest) = line
            .trim()
            .strip_prefix("Packets received/dropped on interface")
        else {
            continue;
        };
        // The counts follow the last "': " (the interface description is quoted).
        let counts = rest.rsplit_once("': ").map(|(_, c)| c)?;
        let pair = counts.split_whitespace().next()?;
        let dropped: u64 = pair.split_once('/')?.1.parse().ok()?;
        total = Some(total.unwrap_or(0) + dropped);
    }
    total
}

/// Counts the packet blocks of a pcapng file (checking its magic); a block cut short at the end
/// (a killed writer) ends the count.
pub fn count_pcapng_packets(path: &Path) -> Result<u64, String> {
    let bad = |what: &str| format!("{} is not a readable pcapng file: {what}", path.display());
    let file = File::open(path).map_err(|e| bad(&e.to_string()))?;
    let file_len = file.metadata().map_err(|e| bad(&e.to_string()))?.len();
    let mut r = BufReader::new(file);
    let mut head = [0u8; 12];
    r.read_exact(&mut head)
        .map_err(|_| bad("it is shorter than a section header"))?;
    if head[..4] != PCAPNG_MAGIC.to_le_bytes() {
        return Err(bad("it does not start with the pcapng magic"));
    }
    let mut big_endian = head[8..12] == [0x1A, 0x2B, 0x3C, 0x4D];
    let u32_at = |b: &[u8], big: bool| {
        let a = [b[0], b[1], b[2], b[3]];
        if big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    };
    let mut pos = 0u64;
    let mut packets = 0u64;
    r.rewind().map_err(|e| bad(&e.to_string()))?;
    while pos + 12 <= file_len {
        let mut block = [0u8; 12];
        if r.read_exact(&mut block).is_err() {
            break;
        }
        let kind = u32_at(&block[..4], big_endian);
        if kind == PCAPNG_MAGIC {
            // A new section may change the byte order.
            big_endian = block[8..12] == [0x1A, 0x2B, 0x3C, 0x4D];
        }
        let len = u64::from(u32_at(&block[4..8], big_endian));
        if len < 12 || len % 4 != 0 || pos + len > file_len {
            break;
        }
        // 2: Packet Block (obsolete), 3: Simple Packet Block, 6: Enhanced Packet Block.
        if matches!(kind, 2 | 3 | 6) {
            packets += 1;
        }
        pos += len;
        r.seek(std::io::SeekFrom::Start(pos))
            .map_err(|e| bad(&e.to_string()))?;
    }
    Ok(packets)
}

/// Reads up to `max` (at most [`MAX_EVENTS`]) packets of a capture file with
/// `tshark -r PATH -n -c N -T fields ...`. `path` must be a capture file pep wrote (absolute).
pub fn read_events(runner: &Runner, path: &Path, max: usize) -> Result<Vec<TraceEvent>, String> {
    let path_text = capture_path(path)?;
    if !path.is_file() {
        return Err(format!("there is no capture file at {}", path.display()));
    }
    let max = max.min(MAX_EVENTS);
    if max == 0 {
        return Ok(Vec::new());
    }
    let count = max.to_string();
    let args = [
        "-r",
        path_text,
        "-n",
        "-c",
        &count,
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-E",
        "occurrence=f",
        "-e",
        "frame.time_epoch",
        "-e",
        "_ws.col.Source",
        "-e",
        "_ws.col.Destination",
        "-e",
        "_ws.col.Protocol",
        "-e",
        "_ws.col.Info",
    ];
    let limits = Limits {
        timeout: Duration::from_secs(120),
        max_stdout: 32 << 20,
        max_stderr: 64 << 10,
    };
    let out = runner.run("tshark", &args, limits).map_err(|e| match e {
        RunError::NotFound { .. } => format!("{e} (Debian package tshark)"),
        _ => e.to_string(),
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<&str> = text.lines().collect();
    if out.truncated {
        lines.pop(); // cut in the middle
    }
    let events: Vec<TraceEvent> = lines.into_iter().filter_map(parse_event).collect();
    if !out.success() && events.is_empty() {
        let line = out
            .stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("Running as user"))
            .map(|l| l.strip_prefix("tshark: ").unwrap_or(l).to_string())
            .unwrap_or_else(|| format!("tshark exited with code {:?}", out.code));
        return Err(format!("the capture file could not be read: {line}"));
    }
    Ok(events)
}

/// One tab-separated tshark line: epoch time, source, destination, protocol, summary.
fn parse_event(line: &str) -> Option<TraceEvent> {
    let mut f = line.splitn(5, '\t');
    let time = parse_epoch(f.next()?)?;
    Some(TraceEvent {
        time,
        source: f.next()?.to_string(),
        destination: f.next()?.to_string(),
        protocol: f.next()?.to_string(),
        summary: f.next().unwrap_or("").to_string(),
    })
}

/// `1701512345.123456789` as a UTC time.
fn parse_epoch(text: &str) -> Option<DateTime<Utc>> {
    let (secs, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u32 = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    DateTime::from_timestamp(secs, nanos)
}

/// Test support: waits up to 20 s until the capture file at `path` holds at least `n` packets
/// (dumpcap writes what it captured at its own pace, later on a loaded machine); the count seen.
#[cfg(test)]
pub(crate) fn wait_for_pcapng_packets(path: &Path, n: u64) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let seen = count_pcapng_packets(path).unwrap_or(0);
        if seen >= n || std::time::Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream, UdpSocket};

    fn spec(interface: Option<&str>) -> CaptureSpec {
        CaptureSpec {
            interface: interface.map(str::to_string),
            max_size_mb: 10,
            duration: Duration::from_secs(60),
            protocols: vec![],
            ports: vec![],
            addresses: vec![],
        }
    }

    /// Whether dumpcap can be used (root, installed: `.ci/run` installs it before the tests);
    /// a skip is printed, and is a failure under CI=true.
    fn dumpcap_ready() -> bool {
        let reason = if !rustix::process::geteuid().is_root() {
            "not running as root"
        } else if !Path::new("/usr/bin/dumpcap").exists() || !Path::new("/usr/bin/tshark").exists()
        {
            "dumpcap or tshark is not installed (wireshark-common, tshark)"
        } else {
            return true;
        };
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "capture test cannot run under CI: {reason}"
        );
        eprintln!("skipped: {reason}");
        false
    }

    fn udp_spec(port: u16, duration: Duration, max_size_mb: u32) -> CaptureSpec {
        CaptureSpec {
            interface: Some("lo".into()),
            max_size_mb,
            duration,
            protocols: vec![Protocol::Udp],
            ports: vec![port],
            addresses: vec![],
        }
    }

    #[test]
    fn the_filter_is_built_from_the_typed_values_only() {
        let mut s = spec(None);
        assert_eq!(capture_filter(&s), "");
        s.protocols = vec![Protocol::Udp, Protocol::Tcp, Protocol::Udp];
        s.ports = vec![443, 53];
        s.addresses = vec![
            "10.0.0.1".parse().expect("address"),
            "fe80::1".parse().expect("address"),
        ];
        assert_eq!(
            capture_filter(&s),
            "(tcp or udp) and (port 53 or port 443) and (host 10.0.0.1 or host fe80::1)"
        );
        s.protocols = vec![Protocol::Icmp];
        s.ports = vec![];
        s.addresses = vec![];
        assert_eq!(capture_filter(&s), "(icmp or icmp6)");
    }

    #[test]
    fn bad_values_are_refused_before_anything_runs() {
        for name in [
            "eth0;rm",
            "../x",
            "..",
            "",
            "a-very-long-interface-name",
            "-i",
        ] {
            let err = spec(Some(name)).validate().expect_err(name);
            assert!(err.contains("not a valid network interface name"), "{err}");
        }
        let err = spec(Some("nosuchif0")).validate().expect_err("missing");
        assert_eq!(
            err,
            "there is no network interface named nosuchif0 on this machine"
        );
        assert!(spec(Some("lo")).validate().is_ok());
        let mut s = spec(None);
        s.max_size_mb = 0;
        assert!(s.validate().expect_err("refused").contains("1 to 1024 MB"));
        s.max_size_mb = 2000;
        assert!(s.validate().is_err());
        let mut s = spec(None);
        s.duration = Duration::ZERO;
        assert!(s.validate().expect_err("refused").contains("1 s to 24 h"));
        s.duration = MAX_DURATION + Duration::from_secs(1);
        assert!(s.validate().is_err());
        let mut s = spec(None);
        s.protocols = vec![Protocol::Icmp];
        s.ports = vec![22];
        assert!(s
            .validate()
            .expect_err("refused")
            .contains("ports apply only to TCP and UDP"));
        // Start refuses them too, without running anything.
        let err = Capture::start(
            &Runner::local(),
            &spec(Some("eth0;rm")),
            Path::new("/tmp/x"),
        )
        .expect_err("refused");
        assert!(err.contains("not a valid network interface name"), "{err}");
    }

    #[test]
    fn dumpcap_exit_lines_are_read() {
        let stderr = "Capturing on 'Loopback: lo'\nFile: /tmp/a\nPackets captured: 93\n\
            Packets received/dropped on interface 'Loopback: lo': 93/7 (pcap:0/dumpcap:0/flushed:0/ps_ifdrop:0) (100.0%)\n";
        assert_eq!(dropped_packets(stderr), Some(7));
        assert_eq!(dropped_packets("Capturing on 'lo'\n"), None);
        let t = parse_epoch("1701512345.1234567891").expect("time");
        assert_eq!(t.timestamp(), 1701512345);
        assert_eq!(t.timestamp_subsec_nanos(), 123456789);
        assert_eq!(
            parse_epoch("17.5").expect("time").timestamp_subsec_nanos(),
            500_000_000
        );
        assert!(parse_epoch("x").is_none());
    }

    #[test]
    fn udp_datagrams_on_loopback_are_captured_and_read_back() {
        if !dumpcap_ready() {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("traces/udp.pcapng");
        let rx = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
        let port = rx.local_addr().expect("local address").port();
        let runner = Runner::local();
        let mut cap = Capture::start(&runner, &udp_spec(port, Duration::from_secs(60), 10), &path)
            .expect("capture starts");
        assert!(cap.is_running());
        let tx = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
        for i in 0..200 {
            tx.send_to(
                format!("pep-capture-marker {i}").as_bytes(),
                ("127.0.0.1", port),
            )
            .expect("send");
        }
        assert!(
            wait_for_pcapng_packets(&path, 200) >= 200,
            "not all captured"
        );
        let res = cap.stop().expect("capture stops");
        assert_eq!(res.stopped_by, "Disable");
        assert_eq!(res.path, path);
        let bytes = std::fs::read(&path).expect("capture file");
        assert_eq!(bytes[..4], PCAPNG_MAGIC.to_le_bytes());
        assert_eq!(res.size_bytes, bytes.len() as u64);
        assert!(res.packets >= 200, "{res:?}");
        assert_eq!(res.dropped, Some(0), "{res:?}");
        let mode = std::fs::metadata(&path)
            .expect("capture file")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let events = read_events(&runner, &path, 10_000).expect("events");
        assert!(events.len() >= 200, "{} events", events.len());
        assert_eq!(events.len() as u64, res.packets);
        for e in &events {
            assert_eq!(e.source, "127.0.0.1", "{e:?}");
            assert_eq!(e.destination, "127.0.0.1", "{e:?}");
            assert_eq!(e.protocol, "UDP", "{e:?}");
            assert!(e.summary.contains(&format!("→ {port}")), "{e:?}");
            assert!((Utc::now() - e.time).num_seconds().abs() < 120, "{e:?}");
        }
        // A bounded read.
        assert_eq!(read_events(&runner, &path, 5).expect("events").len(), 5);
    }

    #[test]
    fn a_capture_stops_by_itself_at_its_duration() {
        if !dumpcap_ready() {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("dur.pcapng");
        let rx = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
        let port = rx.local_addr().expect("local address").port();
        let mut cap = Capture::start(
            &Runner::local(),
            &udp_spec(port, Duration::from_secs(2), 10),
            &path,
        )
        .expect("capture starts");
        let started = Instant::now();
        assert!(cap.is_running());
        // Its 2 seconds count from when dumpcap began, before `start` returned; on a loaded
        // machine its exit comes a while after them.
        while cap.is_running() && started.elapsed() < Duration::from_secs(12) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            !cap.is_running(),
            "still running 12 s after a 2 s capture began"
        );
        assert!(
            started.elapsed() >= Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
        let res = cap.stop().expect("capture stops");
        assert_eq!(res.stopped_by, "duration");
        assert_eq!(res.packets, 0);
        assert!(read_events(&Runner::local(), &path, 10)
            .expect("events")
            .is_empty());
    }

    #[test]
    fn a_capture_stops_by_itself_at_its_size() {
        if !dumpcap_ready() {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("size.pcapng");
        let rx = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
        let port = rx.local_addr().expect("local address").port();
        let mut cap = Capture::start(
            &Runner::local(),
            &udp_spec(port, Duration::from_secs(60), 1),
            &path,
        )
        .expect("capture starts");
        let tx = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
        let payload = [0x5au8; 1000];
        let started = Instant::now();
        let mut sent = 0usize;
        // ~2 MB, then more in small doses until dumpcap notices (bounded).
        while (sent < 2000 || cap.is_running()) && started.elapsed() < Duration::from_secs(15) {
            tx.send_to(&payload, ("127.0.0.1", port)).expect("send");
            sent += 1;
            if sent.is_multiple_of(200) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        assert!(!cap.is_running(), "still capturing after {sent} datagrams");
        let res = cap.stop().expect("capture stops");
        assert_eq!(res.stopped_by, "size", "{res:?}");
        assert!(
            (1_000_000..1_200_000).contains(&res.size_bytes),
            "{} bytes",
            res.size_bytes
        );
        assert_eq!(count_pcapng_packets(&path).expect("pcapng"), res.packets);
        assert!(res.packets > 800, "{res:?}");
    }

    #[test]
    fn dumpcap_refusing_its_filter_gives_one_line() {
        if !dumpcap_ready() {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bad.pcapng");
        let started = Instant::now();
        let err = spawn(&Runner::local(), "lo", "udp portx 9", 5, 1_000_000, &path)
            .expect_err("bad filter");
        assert!(!err.contains('\n'), "{err}");
        assert!(
            err.starts_with("the capture could not start: Invalid capture filter"),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(!path.exists());
        // An interface that passes the name check but is gone by the time dumpcap opens it.
        let err = spawn(&Runner::local(), "nosuchif0", "", 5, 1_000_000, &path)
            .expect_err("missing interface");
        assert_eq!(
            err,
            "the capture could not start: There is no device named \"nosuchif0\"."
        );
        // A relative path (or "-", stdout) is never passed on.
        let err = Capture::start(&Runner::local(), &spec(Some("lo")), Path::new("-"))
            .expect_err("relative");
        assert!(err.contains("not an absolute UTF-8 path"), "{err}");
    }

    #[test]
    fn dropping_a_capture_stops_dumpcap() {
        if !dumpcap_ready() {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("drop.pcapng");
        let cap =
            Capture::start(&Runner::local(), &spec(Some("lo")), &path).expect("capture starts");
        let pid = cap.pid();
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        assert!(proc_dir.exists());
        let started = Instant::now();
        drop(cap);
        // Drop waits for dumpcap (up to its stop timeout); the process is gone when it returns.
        while proc_dir.exists() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!proc_dir.exists(), "dumpcap {pid} outlived its Capture");
        assert_eq!(count_pcapng_packets(&path).map(|_| ()), Ok(()));
        // A second capture to an existing file is refused.
        let err = Capture::start(&Runner::local(), &spec(Some("lo")), &path).expect_err("exists");
        assert!(err.starts_with("a file already exists at"), "{err}");
    }

    /// A measurement, not a check: 200 MB through a loopback TCP pair at full speed while the
    /// default snaplen capture runs. `cargo test ... -- --ignored --nocapture loopback_tcp`.
    #[test]
    #[ignore = "writes ~200 MB; a measurement"]
    fn loopback_tcp_at_full_speed_drop_count() {
        if !dumpcap_ready() {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tcp.pcapng");
        let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
        let port = listener.local_addr().expect("local address").port();
        let s = CaptureSpec {
            interface: Some("lo".into()),
            max_size_mb: 1024,
            duration: Duration::from_secs(120),
            protocols: vec![Protocol::Tcp],
            ports: vec![port],
            addresses: vec![],
        };
        let cap = Capture::start(&Runner::local(), &s, &path).expect("capture starts");
        let reader = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut buf = vec![0u8; 1 << 20];
            let mut total = 0u64;
            loop {
                match conn.read(&mut buf).expect("read") {
                    0 => break total,
                    n => total += n as u64,
                }
            }
        });
        let total: u64 = 200 << 20;
        let started = Instant::now();
        let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let chunk = vec![0xa5u8; 1 << 20];
        for _ in 0..(total >> 20) {
            conn.write_all(&chunk).expect("write");
        }
        drop(conn);
        let received = reader.join().expect("reader");
        let elapsed = started.elapsed();
        std::thread::sleep(Duration::from_millis(500));
        let res = cap.stop().expect("capture stops");
        assert_eq!(received, total);
        eprintln!(
            "200 MB over loopback TCP in {:.2} s ({:.0} MB/s): captured {} packets, {} bytes; dumpcap dropped {:?}",
            elapsed.as_secs_f64(),
            total as f64 / 1e6 / elapsed.as_secs_f64(),
            res.packets,
            res.size_bytes,
            res.dropped
        );
    }
}
