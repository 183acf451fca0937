//! The text trace format of placeholder traces (`.etl` files a simulated node writes): one
//! `EVENT` line per event, tab-separated: RFC 3339 time, level, provider, id, message. Lines
//! that are not `EVENT` lines (`#` comments) are skipped. Get-AzsSupportTraceEvent reads these
//! back on any node.

use super::TraceQuery;
use crate::value::Record;
use chrono::{DateTime, Utc};
use std::path::Path;

/// One `EVENT` line.
pub fn event_line(t: DateTime<Utc>, level: &str, provider: &str, id: u32, msg: &str) -> String {
    format!(
        "EVENT\t{}\t{level}\t{provider}\t{id}\t{msg}\n",
        t.to_rfc3339()
    )
}

/// The events of the text trace at `path` matching `q`, in time order.
pub fn read_events(path: &Path, q: &TraceQuery) -> Result<Vec<Record>, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {name}: {e}"))?;
    let mut events: Vec<(DateTime<Utc>, Vec<&str>)> = text
        .lines()
        .filter_map(|l| {
            let parts: Vec<&str> = l.strip_prefix("EVENT\t")?.splitn(5, '\t').collect();
            let t = DateTime::parse_from_rfc3339(parts.first()?)
                .ok()?
                .with_timezone(&Utc);
            (parts.len() == 5).then_some((t, parts))
        })
        .filter(|(t, p)| {
            q.from.is_none_or(|f| *t >= f)
                && q.to.is_none_or(|to| *t <= to)
                && q.level
                    .as_deref()
                    .is_none_or(|l| l.eq_ignore_ascii_case(p[1]))
        })
        .collect();
    events.sort_by_key(|e| e.0);
    Ok(events
        .into_iter()
        .take(q.max)
        .map(|(t, p)| {
            Record::new("Azs.Support.TraceEvent")
                .with("TimeCreated", t)
                .with("Level", p[1])
                .with("ProviderName", p[2])
                .with("Id", p[3].parse::<i64>().unwrap_or(0))
                .with("Message", p[4])
        })
        .collect())
}
