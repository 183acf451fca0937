//! Events of a real Linux machine: journald entries through `journalctl -o json` with a fixed
//! argv (unit, level, time window, a literal text filter, the newest N, newest last), and where journald does
//! not run, the classic text logs under `/var/log` plus the kernel ring buffer (`dmesg --json`).
//! Every program goes through a [`Runner`]; levels use the Windows event words users expect.

use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Local, NaiveDate, TimeZone, Utc};
use regex::Regex;
use serde::Serialize;
use serde_json::{Map, Value};

use super::runner::{Limits, Output, RunError, Runner};
use super::systemd::{host_name, unit_name};

/// The most entries one read returns.
pub const MAX_ENTRIES: usize = 10_000;

/// The longest text filter accepted.
pub const MAX_GREP: usize = 64;

/// The text logs read when journald does not run.
const FALLBACK_FILES: &[&str] = &["syslog", "messages", "kern.log", "daemon.log"];

/// Lines read from the end of each fallback file.
const FALLBACK_LINES: &str = "200000";

/// One event.
#[derive(Debug, Clone, Serialize)]
pub struct JournalEntry {
    /// When it was logged.
    pub time: DateTime<Utc>,
    /// `Critical` (priority 0–2), `Error` (3), `Warning` (4), `Information` (5–6), `Verbose` (7).
    pub level: String,
    /// The unit it came from or is about; for entries from text logs, the file name (`syslog`,
    /// `kmsg` for the kernel ring buffer).
    pub unit: String,
    /// Who logged it (SYSLOG_IDENTIFIER, e.g. `sshd`, `kernel`).
    pub identifier: String,
    /// The logging process (0 when unknown).
    pub pid: u32,
    /// The text (bytes that are not UTF-8 are replaced).
    pub message: String,
    /// The machine that logged it.
    pub host: String,
}

/// Which events to read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JournalQuery {
    /// Only this service (`x` or `x.service`).
    pub unit: Option<String>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events at or before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only this priority and worse (0–7; 3 = Error, Critical).
    pub max_level: Option<u8>,
    /// Only events whose text contains this (letters, digits, space and `_ . : / -`, at most 64
    /// characters; case-insensitive when all lower case, like journalctl).
    pub grep: Option<String>,
    /// At most this many, the newest (1 to [`MAX_ENTRIES`]; 0 counts as 1).
    pub limit: usize,
}

/// The level word for a syslog priority.
pub fn level_name(priority: u8) -> &'static str {
    match priority {
        0..=2 => "Critical",
        3 => "Error",
        4 => "Warning",
        5 | 6 => "Information",
        _ => "Verbose",
    }
}

/// The priority a level word stands for (the worst of its range), for filtering text logs.
fn level_priority(level: &str) -> u8 {
    match level {
        "Critical" => 2,
        "Error" => 3,
        "Warning" => 4,
        "Information" => 6,
        _ => 7,
    }
}

/// Reads events, newest last: from journald where it runs, else from the text logs and the
/// kernel ring buffer. An error is one line saying what could not be read.
pub fn read(runner: &Runner, q: &JournalQuery) -> Result<Vec<JournalEntry>, String> {
    let unit = q.unit.as_deref().map(unit_name).transpose()?;
    let grep = q.grep.as_deref().map(check_grep).transpose()?;
    if let Some(p) = q.max_level {
        if p > 7 {
            return Err(format!(
                "level {p} does not exist: priorities go from 0 (emergency) to 7 (debug)"
            ));
        }
    }
    if let (Some(s), Some(u)) = (q.since, q.until) {
        if s > u {
            return Err(format!("the window ends ({u}) before it starts ({s})"));
        }
    }
    let limit = q.limit.clamp(1, MAX_ENTRIES);
    let journald = runner
        .run("test", &["-d", "/run/systemd/journal"], Limits::default())
        .map(|o| o.success())
        .unwrap_or(false);
    if journald {
        if let Some(entries) = journalctl(runner, q, unit.as_deref(), grep.as_deref(), limit)? {
            return Ok(entries);
        }
    }
    fallback(runner, q, unit.as_deref(), grep.as_deref(), limit)
}

/// A text filter: allowed characters only, at most [`MAX_GREP`].
fn check_grep(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("the text filter is empty".to_string());
    }
    if text.chars().count() > MAX_GREP {
        return Err(format!(
            "the text filter is longer than {MAX_GREP} characters"
        ));
    }
    if !text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '.' | ':' | '/' | '-'))
    {
        return Err(
            "the text filter may hold only letters, digits, spaces and _ . : / -".to_string(),
        );
    }
    Ok(text.to_string())
}

/// Reads through journalctl; `None` when it is missing or finds no journal (then the text logs).
fn journalctl(
    runner: &Runner,
    q: &JournalQuery,
    unit: Option<&str>,
    grep: Option<&str>,
    limit: usize,
) -> Result<Option<Vec<JournalEntry>>, String> {
    // Newest first, so that --lines keeps the newest even with --since (which would otherwise
    // seek there and keep the oldest); put back in order below.
    let mut args: Vec<String> = ["--no-pager", "-o", "json", "--utc", "--reverse"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if let Some(u) = unit {
        args.push(format!("--unit={u}"));
    }
    if let Some(p) = q.max_level {
        args.push(format!("--priority=0..{p}"));
    }
    if let Some(s) = q.since {
        args.push(format!("--since=@{}", s.timestamp()));
    }
    if let Some(u) = q.until {
        // Whole seconds, rounded up; the exact bound is applied below.
        let secs = u.timestamp() + i64::from(u.timestamp_subsec_nanos() > 0);
        args.push(format!("--until=@{secs}"));
    }
    if let Some(g) = grep {
        args.push(format!("--grep={}", regex::escape(g)));
    }
    args.push(format!("--lines={limit}"));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = match runner.run("journalctl", &argv, Limits::default()) {
        Ok(out) => out,
        Err(RunError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    if out.stderr.contains("No journal files were found") {
        return Ok(None);
    }
    // journalctl may exit 1 when -g matches nothing.
    let nothing_matched = out.code == Some(1) && out.stdout.is_empty() && grep.is_some();
    if !out.success() && !nothing_matched {
        return Err(format!(
            "the journal could not be read: {}",
            match out.first_error_line() {
                "" => "journalctl failed",
                line => line,
            }
        ));
    }
    let mut entries: Vec<JournalEntry> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter_map(|line| serde_json::from_slice::<Map<String, Value>>(line).ok())
        .filter_map(|m| entry_from_json(&m))
        .filter(|e| in_window(e, q))
        .collect();
    entries.reverse();
    entries.sort_by_key(|e| e.time);
    Ok(Some(entries))
}

/// One journalctl JSON object as an entry (`None` without a timestamp).
fn entry_from_json(m: &Map<String, Value>) -> Option<JournalEntry> {
    let micros: i64 = field(m, "__REALTIME_TIMESTAMP")?.parse().ok()?;
    let time = DateTime::from_timestamp_micros(micros)?;
    let priority: u8 = field(m, "PRIORITY")
        .and_then(|p| p.parse().ok())
        .unwrap_or(6);
    // systemd's own lines about a unit come from init.scope and name the unit in UNIT.
    let unit = match field(m, "_SYSTEMD_UNIT") {
        Some(u) if u != "init.scope" => u,
        other => field(m, "UNIT")
            .or_else(|| field(m, "USER_UNIT"))
            .or(other)
            .unwrap_or_default(),
    };
    Some(JournalEntry {
        time,
        level: level_name(priority).to_string(),
        unit,
        identifier: field(m, "SYSLOG_IDENTIFIER")
            .or_else(|| field(m, "_COMM"))
            .unwrap_or_default(),
        pid: field(m, "_PID")
            .or_else(|| field(m, "SYSLOG_PID"))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0),
        message: field(m, "MESSAGE").unwrap_or_default(),
        host: field(m, "_HOSTNAME").unwrap_or_default(),
    })
}

/// A journal field as text: a string, a byte array (decoded lossily), or the first of repeated
/// values.
fn field(m: &Map<String, Value>, key: &str) -> Option<String> {
    fn text(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Array(items) if items.iter().all(Value::is_u64) => {
                let bytes: Vec<u8> = items
                    .iter()
                    .filter_map(Value::as_u64)
                    .map(|b| u8::try_from(b).unwrap_or(b'?'))
                    .collect();
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }
            Value::Array(items) => items.first().and_then(text),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    m.get(key).and_then(text)
}

fn in_window(e: &JournalEntry, q: &JournalQuery) -> bool {
    q.since.is_none_or(|s| e.time >= s) && q.until.is_none_or(|u| e.time <= u)
}

/// journalctl's smart case: case-insensitive when the filter has no capital letter.
fn grep_matches(message: &str, grep: &str) -> bool {
    if grep.chars().any(|c| c.is_ascii_uppercase()) {
        message.contains(grep)
    } else {
        message.to_lowercase().contains(grep)
    }
}

/// Text logs under /var/log and the kernel ring buffer, filtered like journalctl would.
fn fallback(
    runner: &Runner,
    q: &JournalQuery,
    unit: Option<&str>,
    grep: Option<&str>,
    limit: usize,
) -> Result<Vec<JournalEntry>, String> {
    let now = Local::now();
    let ident = unit.map(|u| {
        let base = u.trim_end_matches(".service");
        base.split('@').next().unwrap_or(base).to_string()
    });
    let mut entries = Vec::new();
    let mut read_any = false;
    let mut problems = Vec::new();
    for file in FALLBACK_FILES {
        let path = format!("/var/log/{file}");
        match runner.run(
            "tail",
            &["-n", FALLBACK_LINES, "--", &path],
            Limits::default(),
        ) {
            Ok(out) if out.success() => {
                read_any = true;
                let text = String::from_utf8_lossy(&out.stdout);
                entries.extend(text.lines().filter_map(|l| parse_text_line(l, file, now)));
            }
            Ok(out) if out.stderr.contains("No such file") => {}
            Ok(out) => problems.push(format!("{path}: {}", out.first_error_line())),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if let Some(ident) = &ident {
        entries.retain(|e| &e.identifier == ident);
    } else {
        match kernel_ring(runner) {
            Ok(kernel) => {
                read_any = true;
                entries.extend(kernel);
            }
            Err(e) => problems.push(e),
        }
    }
    if !read_any {
        return Err(format!(
            "no events can be read on {}: journald is not running, there is no /var/log/syslog, \
             messages, kern.log or daemon.log{}",
            host_name(runner),
            if problems.is_empty() {
                String::new()
            } else {
                format!(" ({})", problems.join("; "))
            }
        ));
    }
    entries.retain(|e| {
        in_window(e, q)
            && q.max_level.is_none_or(|p| level_priority(&e.level) <= p)
            && grep.is_none_or(|g| grep_matches(&e.message, g))
    });
    entries.sort_by_key(|e| e.time);
    let skip = entries.len().saturating_sub(limit);
    Ok(entries.split_off(skip))
}

/// The level a text-log line's words suggest.
fn text_level(message: &str) -> &'static str {
    let m = message.to_lowercase();
    if ["crit", "emerg", "alert", "panic"]
        .iter()
        .any(|w| m.contains(w))
    {
        "Critical"
    } else if m.contains("error") {
        "Error"
    } else if m.contains("warn") {
        "Warning"
    } else {
        "Information"
    }
}

/// One line of a text log: `2024-05-01T10:00:00.123456+02:00 host ident[pid]: text` (rsyslog's
/// default on Debian 12) or `May  1 10:00:00 host ident[pid]: text` (RFC 3164, local time, the
/// year guessed from `now`).
fn parse_text_line(line: &str, file: &str, now: DateTime<Local>) -> Option<JournalEntry> {
    static ISO: OnceLock<Option<Regex>> = OnceLock::new();
    static BSD: OnceLock<Option<Regex>> = OnceLock::new();
    static TAG: OnceLock<Option<Regex>> = OnceLock::new();
    let iso = ISO
        .get_or_init(|| {
            Regex::new(
                r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))\s+(\S+)\s+(.*)$",
            )
            .ok()
        })
        .as_ref()?;
    let bsd = BSD
        .get_or_init(|| {
            Regex::new(r"^([A-Z][a-z]{2})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})\s+(\S+)\s+(.*)$")
                .ok()
        })
        .as_ref()?;
    let tag = TAG
        .get_or_init(|| Regex::new(r"^([^\s\[:]+)(?:\[(\d+)\])?:\s?(.*)$").ok())
        .as_ref()?;

    let (time, host, rest) = if let Some(c) = iso.captures(line) {
        let t = DateTime::parse_from_rfc3339(&c[1])
            .ok()?
            .with_timezone(&Utc);
        (t, c[2].to_string(), c.get(3)?.as_str())
    } else if let Some(c) = bsd.captures(line) {
        let month = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ]
        .iter()
        .position(|m| *m == &c[1])?;
        let num = |i: usize| c[i].parse::<u32>().ok();
        let at = |year: i32| {
            NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()? + 1, num(2)?)?
                .and_hms_opt(num(3)?, num(4)?, num(5)?)
                .and_then(|n| Local.from_local_datetime(&n).earliest())
        };
        // No year in the line: this year, unless that is more than a day ahead (then last year).
        let mut t = at(now.year())?;
        if t > now + chrono::Duration::days(1) {
            t = at(now.year() - 1)?;
        }
        (t.with_timezone(&Utc), c[6].to_string(), c.get(7)?.as_str())
    } else {
        return None;
    };
    let (identifier, pid, message) = match tag.captures(rest) {
        Some(c) => (
            c[1].to_string(),
            c.get(2).and_then(|p| p.as_str().parse().ok()).unwrap_or(0),
            c.get(3).map_or("", |m| m.as_str()).to_string(),
        ),
        None => (String::new(), 0, rest.to_string()),
    };
    Some(JournalEntry {
        time,
        level: text_level(&message).to_string(),
        unit: file.to_string(),
        identifier,
        pid,
        message,
        host,
    })
}

/// The kernel ring buffer through `dmesg --json`, timed from the boot (`/proc/uptime`).
fn kernel_ring(runner: &Runner) -> Result<Vec<JournalEntry>, String> {
    let run = |program: &str, args: &[&str]| -> Result<Output, String> {
        let out = runner
            .run(program, args, Limits::default())
            .map_err(|e| e.to_string())?;
        if out.success() {
            Ok(out)
        } else {
            Err(format!("{program}: {}", out.first_error_line()))
        }
    };
    let uptime = run("cat", &["--", "/proc/uptime"])?;
    let up: f64 = String::from_utf8_lossy(&uptime.stdout)
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or("the machine's uptime could not be read")?;
    let boot = Utc::now() - chrono::Duration::milliseconds((up * 1000.0) as i64);
    let out = run("dmesg", &["--json"])?;
    let host = host_name(runner);
    parse_dmesg(&out.stdout, boot, &host)
}

/// `dmesg --json` output as entries, `boot` being when the kernel's clock was 0.
fn parse_dmesg(json: &[u8], boot: DateTime<Utc>, host: &str) -> Result<Vec<JournalEntry>, String> {
    #[derive(serde::Deserialize)]
    struct Ring {
        #[serde(default)]
        dmesg: Vec<Record>,
    }
    #[derive(serde::Deserialize)]
    struct Record {
        #[serde(default)]
        pri: u32,
        #[serde(default)]
        time: f64,
        #[serde(default)]
        msg: String,
    }
    if json.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let ring: Ring =
        serde_json::from_slice(json).map_err(|e| format!("dmesg printed unreadable JSON: {e}"))?;
    Ok(ring
        .dmesg
        .into_iter()
        .map(|r| JournalEntry {
            time: boot + chrono::Duration::microseconds((r.time * 1e6) as i64),
            level: level_name(u8::try_from(r.pri & 7).unwrap_or(6)).to_string(),
            unit: "kmsg".to_string(),
            identifier: "kernel".to_string(),
            pid: 0,
            message: r.msg,
            host: host.to_string(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_json_becomes_entries_with_levels_and_lossy_text() {
        let line = br#"{"__REALTIME_TIMESTAMP":"1796206782821622","PRIORITY":"3","_SYSTEMD_UNIT":"cron.service","SYSLOG_IDENTIFIER":"cron","_PID":"42","MESSAGE":[104,105,255],"_HOSTNAME":"node1"}"#;
        let m: Map<String, Value> = serde_json::from_slice(line).expect("json");
        let e = entry_from_json(&m).expect("entry");
        assert_eq!(e.time.timestamp_micros(), 1796206782821622);
        assert_eq!(e.level, "Error");
        assert_eq!(e.unit, "cron.service");
        assert_eq!(e.identifier, "cron");
        assert_eq!(e.pid, 42);
        assert_eq!(e.message, "hi\u{fffd}");
        assert_eq!(e.host, "node1");

        let about = br#"{"__REALTIME_TIMESTAMP":"1","PRIORITY":"6","_SYSTEMD_UNIT":"init.scope","UNIT":"x.service","SYSLOG_IDENTIFIER":"systemd","_PID":"1","MESSAGE":"Started x.service."}"#;
        let m: Map<String, Value> = serde_json::from_slice(about).expect("json");
        assert_eq!(entry_from_json(&m).expect("entry").unit, "x.service");

        let levels: Vec<&str> = (0..=7).map(level_name).collect();
        assert_eq!(
            levels,
            [
                "Critical",
                "Critical",
                "Critical",
                "Error",
                "Warning",
                "Information",
                "Information",
                "Verbose"
            ]
        );
    }

    #[test]
    fn text_log_lines_are_parsed_in_both_formats() {
        let now = Local::now();
        let e = parse_text_line(
            "2024-05-01T10:00:00.250000+02:00 node1 sshd[812]: error: maximum authentication attempts",
            "auth.log",
            now,
        )
        .expect("iso line");
        assert_eq!(e.time.to_rfc3339(), "2024-05-01T08:00:00.250+00:00");
        assert_eq!(e.host, "node1");
        assert_eq!(e.identifier, "sshd");
        assert_eq!(e.pid, 812);
        assert_eq!(e.level, "Error");
        assert_eq!(e.unit, "auth.log");
        assert_eq!(e.message, "error: maximum authentication attempts");

        let e = parse_text_line(
            "Jan  2 03:04:05 node2 kernel: CPU0: Core temperature above threshold, warning",
            "kern.log",
            now,
        )
        .expect("rfc 3164 line");
        let local = e.time.with_timezone(&Local);
        assert_eq!((local.month(), local.day()), (1, 2));
        assert!(e.time <= Utc::now() + chrono::Duration::days(1));
        assert_eq!(e.identifier, "kernel");
        assert_eq!(e.pid, 0);
        assert_eq!(e.level, "Warning");
        assert_eq!(e.host, "node2");

        assert!(parse_text_line("  continuation of something", "syslog", now).is_none());
        assert_eq!(text_level("kernel panic - not syncing"), "Critical");
        assert_eq!(text_level("all fine"), "Information");
    }

    #[test]
    fn dmesg_records_are_timed_from_boot() {
        let boot = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let json = br#"{"dmesg":[{"pri":6,"time":0.5,"msg":"hello"},{"pri":3,"time":12.000001,"msg":"bad"}]}"#;
        let es = parse_dmesg(json, boot, "node1").expect("parsed");
        assert_eq!(es.len(), 2);
        assert_eq!(es[0].time.timestamp_millis(), 1_700_000_000_500);
        assert_eq!(es[1].level, "Error");
        assert_eq!(es[1].unit, "kmsg");
        assert_eq!(es[1].identifier, "kernel");
    }

    #[test]
    fn bad_filters_are_refused_in_one_line() {
        let q = |f: fn(&mut JournalQuery)| {
            let mut q = JournalQuery {
                limit: 10,
                ..JournalQuery::default()
            };
            f(&mut q);
            read(&Runner::local(), &q).expect_err("refused")
        };
        assert!(q(|q| q.grep = Some("a;b".into())).contains("may hold only"));
        assert!(q(|q| q.grep = Some("x".repeat(65))).contains("longer than 64"));
        assert!(q(|q| q.unit = Some("-x".into())).contains("not a service name"));
        assert!(q(|q| q.max_level = Some(8)).contains("does not exist"));
        assert!(q(|q| {
            q.since = Some(Utc::now());
            q.until = Some(Utc::now() - chrono::Duration::seconds(5));
        })
        .contains("before it starts"));
    }

    /// This machine has no journald: the text logs and the kernel ring buffer answer, or a plain
    /// error does.
    #[test]
    fn without_journald_events_come_from_the_fallback_or_a_plain_error() {
        let q = JournalQuery {
            limit: 50,
            ..JournalQuery::default()
        };
        match read(&Runner::local(), &q) {
            Ok(entries) => {
                assert!(entries.len() <= 50);
                assert!(entries.windows(2).all(|w| w[0].time <= w[1].time));
                if !std::path::Path::new("/run/systemd/journal").exists() {
                    assert!(
                        entries
                            .iter()
                            .all(|e| e.unit == "kmsg" || FALLBACK_FILES.contains(&e.unit.as_str())),
                        "{entries:#?}"
                    );
                    let now = Utc::now() + chrono::Duration::seconds(5);
                    assert!(entries.iter().all(|e| e.time <= now), "{entries:#?}");
                }
            }
            Err(e) => {
                assert!(!e.contains('\n'), "{e}");
                assert!(e.starts_with("no events can be read on "), "{e}");
            }
        }
        // A window in the future is empty, not an error, when anything could be read.
        let future = JournalQuery {
            since: Some(Utc::now() + chrono::Duration::days(1)),
            limit: 50,
            ..JournalQuery::default()
        };
        if let Ok(entries) = read(&Runner::local(), &future) {
            assert!(entries.is_empty(), "{entries:#?}");
        }
    }
}
