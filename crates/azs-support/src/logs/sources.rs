//! What every node of the stamp logs, as of a stamp time `now`: the sources collectors read.
//!
//! - **Role logs** ([`SourceKind::Role`]): per log role of the node ([`super::roles`]), the
//!   role's files, generated on demand. A file writes `lines_per_hour` lines at a steady rate over
//!   the last [`RETENTION_HOURS`] hours (older lines have rolled off), each
//!   `2026-12-01T10:15:03.123Z INFO <text>`, on the stamp's clock, the text drawn in order from
//!   its shipped sample ([`super::samples`]). Time is cut into slots of `3600 / lines_per_hour`
//!   seconds; the line of slot `k` sits at a fixed point of its slot and carries sample line
//!   `k + offset`, both hashed from (node, file). So a line depends only on (node, file, k): two
//!   collections of the same window give the same bytes, and a window is generated without
//!   generating the rest of the file. Lines the scenario plants (`[[vm.log]]`) merge in at their
//!   time; a planted file the role does not write becomes a file of its own.
//! - **Event log** ([`SourceKind::Event`]): the node's events and those drawn from its
//!   `event_source` (`stamp::events`), one file per channel (`Events/System.log`;
//!   `Microsoft-Windows-Health/Operational` becomes `Microsoft-Windows-Health%4Operational.log`
//!   as evtx names do), with the node's primary log role.
//! - **Cluster log** ([`SourceKind::Cluster`]): hosts only, what `Get-AzsSupportClusterLog`
//!   shows (the stamp's cluster-log lines and those the cluster's state implies) in the
//!   cluster's own format, with the BareMetal logs.
//! - **Directory** ([`SourceKind::Directory`]): a node whose scenario sets `log_dir` gets every
//!   regular file under that folder, read as it is (no symlink followed, nothing outside it),
//!   with its primary log role. This is how a machine's real logs, or a benchmark's corpus,
//!   come in.
//!
//! The event and cluster logs are rendered when the collection is planned (they are small and
//! need the stamp); role logs and directories are read by the collector, from this snapshot.

use super::roles::{node_log_roles, role_files};
use super::samples::sample_lines;
use super::window::{days_from_civil, Counts};
use crate::stamp::{Node, Stamp};
use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// How far back generated role logs reach: two days; older lines have rolled off.
pub const RETENTION_HOURS: i64 = 48;

/// What a collector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A log role's generated files.
    Role,
    /// The node's event log.
    Event,
    /// A host's cluster log.
    Cluster,
    /// A real folder of log files.
    Directory,
}

impl SourceKind {
    /// The word collector names use (`AZS-ERCS01/ECE/role`).
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Role => "role",
            SourceKind::Event => "event",
            SourceKind::Cluster => "cluster",
            SourceKind::Directory => "directory",
        }
    }
}

/// One generated role file.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedFile {
    /// File name (`EceAgent.log`).
    pub name: String,
    /// The sample its text comes from (empty: only planted lines).
    pub sample: &'static str,
    /// Lines per hour (0: only planted lines).
    pub lines_per_hour: u32,
    /// Planted lines: (milliseconds, the rendered line or lines, each ending in `\n`), by time.
    pub planted: Vec<(i64, String)>,
}

/// A source's content as planned.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Generated files.
    Generated(Vec<GeneratedFile>),
    /// Rendered text files: (file name, text).
    Text(Vec<(String, String)>),
    /// A real folder.
    Directory(PathBuf),
}

/// One source of one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSource {
    /// The node.
    pub node: String,
    /// The log role it travels with.
    pub role: String,
    /// What it is.
    pub kind: SourceKind,
    /// Its content.
    pub source: Source,
}

/// Writes `2026-12-01T10:15:03.123Z` for `ms` milliseconds since the epoch.
pub fn push_iso(out: &mut Vec<u8>, ms: i64) {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // Civil from days (the inverse of `days_from_civil`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    debug_assert_eq!(days_from_civil(y, m, d), days);
    let two = |out: &mut Vec<u8>, v: i64| {
        out.push(b'0' + (v / 10 % 10) as u8);
        out.push(b'0' + (v % 10) as u8);
    };
    two(out, y / 100);
    two(out, y % 100);
    out.push(b'-');
    two(out, m);
    out.push(b'-');
    two(out, d);
    out.push(b'T');
    two(out, rem / 3_600_000);
    out.push(b':');
    two(out, rem / 60_000 % 60);
    out.push(b':');
    two(out, rem / 1000 % 60);
    out.push(b'.');
    let frac = rem % 1000;
    out.push(b'0' + (frac / 100) as u8);
    out.push(b'0' + (frac / 10 % 10) as u8);
    out.push(b'0' + (frac % 10) as u8);
    out.push(b'Z');
}

/// A line as logs write it: `<time> <level> <text>`; text after a line break continues on
/// lines of its own, without a timestamp.
fn render(ms: i64, level: &str, text: &str) -> String {
    let mut b = Vec::with_capacity(32 + text.len());
    push_iso(&mut b, ms);
    b.push(b' ');
    b.extend_from_slice(level.as_bytes());
    b.push(b' ');
    for line in text.lines() {
        b.extend_from_slice(line.as_bytes());
        b.push(b'\n');
    }
    if text.is_empty() {
        b.push(b'\n');
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// Every source of `node` at stamp time `now`.
pub fn node_sources(stamp: &Stamp, node: &Node, now: DateTime<Utc>) -> Vec<NodeSource> {
    // Nothing is generated for a real machine: its logs are the text files of the folders file
    // commands may read (`/var/log` unless the operator says otherwise).
    if node.real {
        return node
            .read_roots
            .iter()
            .filter(|r| r.is_dir())
            .map(|r| NodeSource {
                node: node.name.clone(),
                role: "Linux".to_string(),
                kind: SourceKind::Directory,
                source: Source::Directory(r.clone()),
            })
            .collect();
    }
    let roles = node_log_roles(node);
    let primary = roles.first().copied().unwrap_or("VirtualMachines");
    let source = |role: &str, kind, source| NodeSource {
        node: node.name.clone(),
        role: role.to_string(),
        kind,
        source,
    };
    let mut out = Vec::new();
    // Role logs, with the planted lines of their files.
    for role in roles {
        let mut files: Vec<GeneratedFile> = role_files(role)
            .iter()
            .map(|f| GeneratedFile {
                name: f.file.to_string(),
                sample: f.sample,
                lines_per_hour: f.lines_per_hour,
                planted: Vec::new(),
            })
            .collect();
        for line in &node.logs {
            // The role named (validation keeps it one of the node's), else the role that writes
            // the file, else the primary role.
            let owner = roles
                .iter()
                .find(|r| **r == line.role)
                .or_else(|| {
                    roles
                        .iter()
                        .find(|r| role_files(r).iter().any(|f| f.file == line.file))
                })
                .copied()
                .unwrap_or(primary);
            if owner != *role {
                continue;
            }
            let ms = line.at(now).timestamp_millis();
            let rendered = render(ms, &line.level, &line.text);
            match files.iter_mut().find(|f| f.name == line.file) {
                Some(f) => f.planted.push((ms, rendered)),
                None => files.push(GeneratedFile {
                    name: line.file.clone(),
                    sample: "",
                    lines_per_hour: 0,
                    planted: vec![(ms, rendered)],
                }),
            }
        }
        for f in &mut files {
            f.planted.sort_by_key(|(ms, _)| *ms);
        }
        out.push(source(role, SourceKind::Role, Source::Generated(files)));
    }
    // The event log, one file per channel.
    let mut events = node.events.clone();
    events.extend(crate::stamp::events::source_events(
        &node.event_source,
        stamp.node_index(&node.name),
        now,
    ));
    events.sort_by_key(|e| e.time);
    let mut channels: Vec<(String, String)> = Vec::new();
    for e in &events {
        let file = format!("Events/{}.log", e.log.replace('/', "%4"));
        let text = render(
            e.time.timestamp_millis(),
            &e.level,
            &format!("{} {}: {}", e.provider, e.id, e.message),
        );
        match channels.iter_mut().find(|(f, _)| *f == file) {
            Some((_, t)) => t.push_str(&text),
            None => channels.push((file, text)),
        }
    }
    if !channels.is_empty() {
        out.push(source(primary, SourceKind::Event, Source::Text(channels)));
    }
    // The cluster log of a host.
    if node.host.is_empty() && !stamp.cluster.name.is_empty() {
        let role = if roles.contains(&"BareMetal") {
            "BareMetal"
        } else {
            primary
        };
        out.push(source(
            role,
            SourceKind::Cluster,
            Source::Text(vec![(
                format!("{}_cluster.log", node.name),
                // What Get-AzsSupportClusterLog shows: the stamp's cluster-log lines of the
                // node and the lines its groups', resources' and volumes' states imply.
                crate::commands::cluster_log::cluster_log_text(stamp, &node.name, now, None),
            )]),
        ));
    }
    if !node.log_dir.is_empty() {
        out.push(source(
            primary,
            SourceKind::Directory,
            Source::Directory(PathBuf::from(&node.log_dir)),
        ));
    }
    out
}

/// FNV-1a of a string, lowercased (node names are case-insensitive).
fn fnv(s: &str, seed: u64) -> u64 {
    s.bytes().fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x100_0000_01b3)
    })
}

/// A well-mixed 64-bit hash of `x` (splitmix64's finaliser).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// What generating one file produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Generated {
    /// Lines inside and outside the window.
    pub counts: Counts,
    /// Time of the last line written (None: none).
    pub last_ms: Option<i64>,
}

/// Appends to `out` the lines of `file` of `node` inside `[from_ms, to_ms]` as of `now_ms`;
/// `abort` is polled every few thousand lines (None: stopped).
pub fn generate(
    node: &str,
    file: &GeneratedFile,
    now_ms: i64,
    from_ms: i64,
    to_ms: i64,
    out: &mut Vec<u8>,
    abort: &dyn Fn() -> bool,
) -> Option<Generated> {
    let mut g = Generated::default();
    let mut planted = file.planted.iter().peekable();
    let mut emit_planted_until = |t: i64, out: &mut Vec<u8>, g: &mut Generated| {
        while let Some((ms, text)) = planted.next_if(|(ms, _)| *ms <= t) {
            let lines = text.lines().count().max(1) as u64;
            if *ms >= from_ms && *ms <= to_ms {
                out.extend_from_slice(text.as_bytes());
                g.counts.kept += lines;
                g.last_ms = Some(g.last_ms.map_or(*ms, |l: i64| l.max(*ms)));
            } else {
                g.counts.outside += lines;
            }
        }
    };
    let sample = sample_lines(file.sample);
    if file.lines_per_hour > 0 && !sample.is_empty() {
        let interval = 3_600_000 / i64::from(file.lines_per_hour);
        let key = fnv(&file.name, fnv(node, 0));
        let offset = (mix(key) % sample.len() as u64) as i64;
        let retained_from = now_ms - RETENTION_HOURS * 3_600_000;
        let time_of = |k: i64| k * interval + (mix(key ^ k as u64) % interval as u64) as i64;
        let lo = from_ms.max(retained_from);
        let hi = to_ms.min(now_ms);
        // Lines of the retained file outside the window, counted without generating them: every
        // slot of the retention holds one line, less the edges that fall outside it.
        let in_retention = |a: i64, b: i64| -> u64 {
            if a > b {
                return 0;
            }
            let (ka, kb) = (a.div_euclid(interval), b.div_euclid(interval));
            let inside = |k: i64| u64::from((a..=b).contains(&time_of(k)));
            if ka == kb {
                return inside(ka);
            }
            (kb - ka - 1) as u64 + inside(ka) + inside(kb)
        };
        let total = in_retention(retained_from, now_ms);
        let mut written = 0u64;
        if lo <= hi {
            let mut k = lo.div_euclid(interval);
            let mut n = 0u32;
            while k * interval <= hi {
                let t = time_of(k);
                if t >= lo && t <= hi {
                    emit_planted_until(t, out, &mut g);
                    let (level, text) =
                        sample[((offset + k).rem_euclid(sample.len() as i64)) as usize];
                    push_iso(out, t);
                    out.push(b' ');
                    out.extend_from_slice(level.as_bytes());
                    out.push(b' ');
                    out.extend_from_slice(text.as_bytes());
                    out.push(b'\n');
                    written += 1;
                    g.last_ms = Some(t);
                }
                k += 1;
                n += 1;
                if n.is_multiple_of(4096) && abort() {
                    return None;
                }
            }
        }
        g.counts.kept += written;
        g.counts.outside += total.saturating_sub(written);
    }
    emit_planted_until(i64::MAX, out, &mut g);
    Some(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::window::line_millis;

    #[test]
    fn iso_times_round_trip() {
        for ms in [0i64, 951_782_400_000, 1_796_040_903_123, 4_102_444_799_999] {
            let mut b = Vec::new();
            push_iso(&mut b, ms);
            assert_eq!(b.len(), 24);
            assert_eq!(
                line_millis(&b, 2000),
                Some(ms),
                "{}",
                String::from_utf8_lossy(&b)
            );
        }
    }

    #[test]
    fn every_node_of_the_default_stamp_has_role_and_event_logs() {
        let stamp = Stamp::default_stamp().expect("default");
        let now = stamp.now();
        for node in stamp.nodes() {
            let sources = node_sources(&stamp, node, now);
            assert!(
                sources.iter().any(|s| s.kind == SourceKind::Role),
                "{}",
                node.name
            );
            let cluster = sources.iter().any(|s| s.kind == SourceKind::Cluster);
            assert_eq!(cluster, node.host.is_empty(), "{}", node.name);
        }
    }

    #[test]
    fn a_window_of_a_generated_file_is_the_same_whatever_else_was_generated() {
        let file = GeneratedFile {
            name: "EceAgent.log".into(),
            sample: "hadoop",
            lines_per_hour: 360,
            planted: Vec::new(),
        };
        let now = 1_796_040_000_000i64;
        let hour = 3_600_000;
        let mut all = Vec::new();
        let whole = generate("AZS-ERCS01", &file, now, 0, now, &mut all, &|| false).expect("ran");
        assert_eq!(
            whole.counts.kept,
            48 * 360,
            "one line per slot over the retention"
        );
        assert_eq!(whole.counts.outside, 0);
        let mut part = Vec::new();
        let window = generate(
            "azs-ercs01",
            &file,
            now,
            now - 4 * hour,
            now - hour,
            &mut part,
            &|| false,
        )
        .expect("ran");
        assert_eq!(
            window.counts.kept + window.counts.outside,
            whole.counts.kept
        );
        assert_eq!(window.counts.kept, 3 * 360);
        let text = String::from_utf8(all).expect("utf8");
        let part = String::from_utf8(part).expect("utf8");
        assert!(
            text.contains(&part),
            "a window is a slice of the whole file"
        );
    }
}
