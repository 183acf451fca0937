//! The time window over log text: each line's own timestamp ([`line_time`]) and the filter that
//! keeps the lines of a window ([`filter_window`]).
//!
//! A line is kept when its own timestamp lies in `[from, to]` (never the file's modification
//! time). Lines without one (continuations, stack traces) follow the line before them; lines
//! before a file's first dated line (a header) are kept, so a file with no dated line at all is
//! kept whole.
//!
//! Timestamps recognised at the start of a line:
//! - ISO-8601: `2026-12-01T10:15:03.123Z`, `2015-10-18 18:01:47,978`, with `T` or a space, `.` or
//!   `,` before the fraction, and `Z`, an offset (`+02:00`, `-0500`) or nothing (UTC);
//! - Windows CBS: `2016-09-28 04:30:30, Info` (ISO with a bare comma);
//! - syslog: `Dec 10 06:55:46`, `Jun  9 06:06:20` (no year: it comes from the hint);
//! - the Windows cluster log: `00000a1c.00001c38::2026/12/01-10:15:03.123`.
//!
//! The filter runs over hundreds of megabytes: it parses prefix bytes into milliseconds without
//! allocating, and copies runs of kept lines at once.

use chrono::{DateTime, Utc};

/// Milliseconds since the epoch of a line's own timestamp; `year_hint` is the year of syslog
/// lines, which carry none.
pub fn line_millis(line: &[u8], year_hint: i32) -> Option<i64> {
    let first = *line.first()?;
    if first.is_ascii_digit() {
        if line.get(4) == Some(&b'-') {
            return iso(line);
        }
        return cluster(line);
    }
    if first.is_ascii_alphabetic() {
        return syslog(line, year_hint).or_else(|| cluster(line));
    }
    None
}

/// The line's own timestamp (see the module header for the formats); None for a line without
/// one.
pub fn line_time(line: &str, year_hint: i32) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(line_millis(line.as_bytes(), year_hint)?)
}

/// `n` decimal digits at `at`.
fn num(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let digits = b.get(at..at + n)?;
    let mut v = 0i64;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(d - b'0');
    }
    Some(v)
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Milliseconds of a checked date and time.
fn millis(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, ms: i64) -> Option<i64> {
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s.min(59);
    Some(secs * 1000 + ms)
}

/// `HH:MM:SS` at `at`.
fn hms(b: &[u8], at: usize) -> Option<(i64, i64, i64)> {
    if b.get(at + 2) != Some(&b':') || b.get(at + 5) != Some(&b':') {
        return None;
    }
    Some((num(b, at, 2)?, num(b, at + 3, 2)?, num(b, at + 6, 2)?))
}

/// A fraction after `at` (`.123`, `,978`, `.123456789`, or a bare `,`): (milliseconds, end).
fn fraction(b: &[u8], at: usize) -> (i64, usize) {
    if !matches!(b.get(at), Some(b'.' | b',')) {
        return (0, at);
    }
    let mut i = at + 1;
    let mut ms = 0i64;
    let mut n = 0;
    while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
        if n < 3 {
            ms = ms * 10 + i64::from(d - b'0');
        }
        n += 1;
        i += 1;
    }
    if n == 0 {
        return (0, at + 1);
    }
    for _ in n..3 {
        ms *= 10;
    }
    (ms, i)
}

fn iso(b: &[u8]) -> Option<i64> {
    if b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b' ')) {
        return None;
    }
    let (y, mo, d) = (num(b, 0, 4)?, num(b, 5, 2)?, num(b, 8, 2)?);
    let (h, mi, s) = hms(b, 11)?;
    let (ms, end) = fraction(b, 19);
    let t = millis(y, mo, d, h, mi, s, ms)?;
    let offset_minutes = match b.get(end) {
        Some(&sign @ (b'+' | b'-')) => {
            let oh = num(b, end + 1, 2);
            let om = if b.get(end + 3) == Some(&b':') {
                num(b, end + 4, 2)
            } else {
                num(b, end + 3, 2)
            };
            match (oh, om) {
                (Some(oh), Some(om)) if oh <= 23 && om <= 59 => {
                    let m = oh * 60 + om;
                    if sign == b'+' {
                        m
                    } else {
                        -m
                    }
                }
                // `2015-07-29 17:41:44,747 - INFO`: a dash that is not an offset.
                _ => 0,
            }
        }
        _ => 0,
    };
    Some(t - offset_minutes * 60_000)
}

fn syslog(b: &[u8], year_hint: i32) -> Option<i64> {
    let month = match b.get(..3)? {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    if b.get(3) != Some(&b' ') {
        return None;
    }
    // `Jun  9`, `Jun 09`, `Nov 9`.
    let (day, after) = match (b.get(4), b.get(5), b.get(6)) {
        (Some(b' '), Some(d), Some(b' ')) if d.is_ascii_digit() => (i64::from(d - b'0'), 7),
        (Some(d1), Some(d2), Some(b' ')) if d1.is_ascii_digit() && d2.is_ascii_digit() => {
            (i64::from(d1 - b'0') * 10 + i64::from(d2 - b'0'), 7)
        }
        (Some(d), Some(b' '), _) if d.is_ascii_digit() => (i64::from(d - b'0'), 6),
        _ => return None,
    };
    let (h, mi, s) = hms(b, after)?;
    let (ms, _) = fraction(b, after + 8);
    millis(i64::from(year_hint), month, day, h, mi, s, ms)
}

/// `00000a1c.00001c38::2026/12/01-10:15:03.123`.
fn cluster(b: &[u8]) -> Option<i64> {
    let hex = |r: std::ops::Range<usize>| {
        b.get(r)
            .is_some_and(|s| s.iter().all(u8::is_ascii_hexdigit))
    };
    if !hex(0..8) || b.get(8) != Some(&b'.') || !hex(9..17) || b.get(17..19) != Some(b"::") {
        return None;
    }
    let t = &b[19..];
    if t.get(4) != Some(&b'/') || t.get(7) != Some(&b'/') || t.get(10) != Some(&b'-') {
        return None;
    }
    let (y, mo, d) = (num(t, 0, 4)?, num(t, 5, 2)?, num(t, 8, 2)?);
    let (h, mi, s) = hms(t, 11)?;
    let (ms, _) = fraction(t, 19);
    millis(y, mo, d, h, mi, s, ms)
}

/// What a filter pass kept and left out, in lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Lines inside the window (continuations included).
    pub kept: u64,
    /// Lines outside it.
    pub outside: u64,
}

/// Appends to `out` the lines of `data` inside `[from_ms, to_ms]` (see the module header);
/// `abort` is polled every few thousand lines and stops the pass early (returns None).
pub fn filter_window(
    data: &[u8],
    from_ms: i64,
    to_ms: i64,
    year_hint: i32,
    out: &mut Vec<u8>,
    abort: &dyn Fn() -> bool,
) -> Option<Counts> {
    let mut counts = Counts::default();
    let mut keep = true;
    let mut run: Option<usize> = None;
    let mut pos = 0;
    let mut n = 0u32;
    while pos < data.len() {
        let end = data[pos..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(data.len(), |i| pos + i + 1);
        let head = &data[pos..end.min(pos + 48)];
        if let Some(t) = line_millis(head, year_hint) {
            keep = t >= from_ms && t <= to_ms;
        }
        if keep {
            counts.kept += 1;
            run.get_or_insert(pos);
        } else {
            counts.outside += 1;
            if let Some(start) = run.take() {
                out.extend_from_slice(&data[start..pos]);
            }
        }
        pos = end;
        n += 1;
        if n.is_multiple_of(4096) && abort() {
            return None;
        }
    }
    if let Some(start) = run {
        out.extend_from_slice(&data[start..]);
    }
    Some(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid")
            + chrono::Duration::milliseconds(ms)
    }

    #[test]
    fn line_time_reads_the_formats_and_rejects_garbage() {
        let cases = [
            (
                "2026-12-01T10:15:03.123Z INFO x",
                at(2026, 12, 1, 10, 15, 3, 123),
            ),
            ("2026-12-01 10:15:03,5 y", at(2026, 12, 1, 10, 15, 3, 500)),
            (
                "2026-12-01T10:15:03.123456789+02:00 z",
                at(2026, 12, 1, 8, 15, 3, 123),
            ),
            ("2026-12-01T10:15:03-0500 z", at(2026, 12, 1, 15, 15, 3, 0)),
            (
                "2015-07-29 17:41:44,747 - INFO  [x] - y",
                at(2015, 7, 29, 17, 41, 44, 747),
            ),
            (
                "2016-09-28 04:30:30, Info   CBS  Loaded",
                at(2016, 9, 28, 4, 30, 30, 0),
            ),
            ("2024-02-29T00:00:00 leap", at(2024, 2, 29, 0, 0, 0, 0)),
            (
                "Dec 10 06:55:46 LabSZ sshd[24200]: x",
                at(2026, 12, 10, 6, 55, 46, 0),
            ),
            ("Jun  9 06:06:20 combo syslogd", at(2026, 6, 9, 6, 6, 20, 0)),
            ("Nov 9 12:01:01 dn228", at(2026, 11, 9, 12, 1, 1, 0)),
            (
                "000012a4.00001c38::2026/12/01-10:15:03.123 INFO  [RCM] x",
                at(2026, 12, 1, 10, 15, 3, 123),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(line_time(line, 2026), Some(want), "{line}");
        }
        for bad in [
            "",
            "hello world",
            "   2026-12-01T10:15:03Z indented",
            "2026-13-01T10:15:03Z",
            "2023-02-29T10:15:03Z",
            "2026-12-01T25:15:03Z",
            "2026-12-01X10:15:03Z",
            "2026-12-01T10:15",
            "Foo 10 06:55:46",
            "Dec 10 06-55-46",
            "Dec 32 06:55:46",
            "\tat com.example.Foo(Foo.java:12)",
            "081109 203615 148 INFO",
            "[Sun Dec 04 04:47:44 2005] [notice]",
            "0000zz00.00001c38::2026/12/01-10:15:03.123",
        ] {
            assert_eq!(line_time(bad, 2026), None, "{bad:?}");
        }
    }

    #[test]
    fn the_filter_keeps_the_window_and_continuations_follow_their_line() {
        let text = "header without a date\n\
            2026-12-01T09:00:00Z INFO before\n\
            \tat continuation of before\n\
            2026-12-01T10:00:00Z INFO first in\n\
            \tat continuation of first\n\
            2026-12-01T11:00:00.000Z INFO last in\n\
            2026-12-01T11:00:00.001Z INFO after";
        let from = at(2026, 12, 1, 10, 0, 0, 0).timestamp_millis();
        let to = at(2026, 12, 1, 11, 0, 0, 0).timestamp_millis();
        let mut out = Vec::new();
        let c = filter_window(text.as_bytes(), from, to, 2026, &mut out, &|| false).expect("ran");
        let kept = String::from_utf8(out).expect("utf8");
        assert_eq!(
            kept,
            "header without a date\n2026-12-01T10:00:00Z INFO first in\n\tat continuation of first\n2026-12-01T11:00:00.000Z INFO last in\n"
        );
        assert_eq!(
            c,
            Counts {
                kept: 4,
                outside: 3
            }
        );
        let mut out = Vec::new();
        let none = filter_window(b"no dates\nat all", from, to, 2026, &mut out, &|| false);
        assert_eq!(
            (none.map(|c| c.kept), out.as_slice()),
            (Some(2), &b"no dates\nat all"[..])
        );
    }

    /// Not a unit test: `cargo test --release -p azs-support --lib filter_throughput -- --ignored
    /// --nocapture` prints the filter's speed on kept lines.
    #[test]
    #[ignore]
    fn filter_throughput() {
        let mut data = Vec::new();
        let mut i = 0i64;
        while data.len() < 256 << 20 {
            let t = DateTime::from_timestamp_millis(1_790_000_000_000 + i * 250).expect("t");
            data.extend_from_slice(
                format!(
                    "{} INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Executing with tokens {i}\n",
                    t.format("%Y-%m-%dT%H:%M:%S%.3fZ")
                )
                .as_bytes(),
            );
            i += 1;
        }
        let mut out = Vec::with_capacity(data.len());
        let start = std::time::Instant::now();
        let c = filter_window(&data, 0, i64::MAX, 2026, &mut out, &|| false).expect("ran");
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{} lines, {:.0} MB/s",
            c.kept,
            data.len() as f64 / secs / 1e6
        );
        assert_eq!(out.len(), data.len());
    }
}
