//! Node events drawn from the real logs shipped with the scenarios (`scenarios/logs/`, see its
//! NOTICE.md). A node with `event_source = "windows-cbs"` gets a window of the Windows CBS log,
//! chosen by its position in the stamp, with timestamps shifted so the window ends at `now`
//! (one line every 7 minutes); the text is the log's own.

use super::node::Event;
use chrono::{DateTime, Duration, Utc};
use std::sync::OnceLock;

include!(concat!(env!("OUT_DIR"), "/log_files.rs"));

/// Lines each node gets.
const WINDOW: usize = 150;

/// A parsed line: level, provider, message.
type Line = (String, String, String);

fn cbs_lines() -> &'static [Line] {
    static LINES: OnceLock<Vec<Line>> = OnceLock::new();
    LINES.get_or_init(|| {
        let text = LOGS
            .iter()
            .find(|(n, _)| *n == "windows-cbs.log")
            .map_or("", |(_, t)| *t);
        text.lines().filter_map(parse_cbs).collect()
    })
}

/// `2016-09-28 04:30:31, Info                  CSI    00000001@... text` → (level, provider, message).
fn parse_cbs(line: &str) -> Option<Line> {
    let (_, rest) = line.split_once(", ")?;
    let mut parts = rest.split_whitespace();
    let level = match parts.next()? {
        "Info" => "Information",
        "Warning" => "Warning",
        "Error" => "Error",
        _ => "Verbose",
    };
    let provider = parts.next()?.to_string();
    let after_provider = rest.find(provider.as_str())? + provider.len();
    let message = rest[after_provider..].trim().to_string();
    Some((level.to_string(), provider, message))
}

/// The events a node draws from `source` at `now` (empty for an unknown or empty source).
pub fn source_events(source: &str, node_index: usize, now: DateTime<Utc>) -> Vec<Event> {
    if source != "windows-cbs" {
        return Vec::new();
    }
    let lines = cbs_lines();
    if lines.is_empty() {
        return Vec::new();
    }
    let start = (node_index * 97) % lines.len();
    (0..WINDOW.min(lines.len()))
        .map(|i| {
            let (level, provider, message) = &lines[(start + i) % lines.len()];
            Event {
                log: "Setup".into(),
                time: now - Duration::minutes(7 * (WINDOW - i) as i64),
                level: level.clone(),
                id: match provider.as_str() {
                    "CBS" => 1,
                    "CSI" => 2,
                    _ => 3,
                },
                provider: format!("Microsoft-Windows-Servicing ({provider})"),
                message: message.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cbs_lines_become_recent_events() {
        let now = Utc::now();
        let ev = source_events("windows-cbs", 3, now);
        assert_eq!(ev.len(), WINDOW);
        assert!(ev
            .iter()
            .all(|e| e.time < now && e.time > now - Duration::days(1)));
        assert!(ev.windows(2).all(|w| w[0].time < w[1].time));
        assert!(ev
            .iter()
            .any(|e| e.message.contains("CBS") || !e.message.is_empty()));
        assert_ne!(
            source_events("windows-cbs", 4, now)[0].message,
            ev[0].message
        );
        assert!(source_events("nope", 0, now).is_empty());
    }
}
