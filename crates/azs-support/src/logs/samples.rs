//! The shipped log samples (`scenarios/logs/*.log`, Loghub; see its NOTICE.md) as message text:
//! each line's own timestamp prefix stripped, its level read when it has one.
//!
//! Every sample writes its timestamp its own way (`2015-10-18 18:01:47,978`, `081109 203615`,
//! `Dec 10 06:55:46`, `[Sun Dec 04 04:47:44 2005]`, ...), so [`PREFIX_TOKENS`] says how many
//! whitespace-separated tokens of each make up the prefix. After it, a level word (`INFO`,
//! `[error]`, `Info`), possibly behind a thread id or a dash, becomes the line's level; the rest
//! is the text, unchanged.

use std::collections::HashMap;
use std::sync::OnceLock;

/// How many leading tokens of each sample's lines are its timestamp (and source file name).
const PREFIX_TOKENS: &[(&str, usize)] = &[
    ("apache", 5),
    ("hadoop", 2),
    ("hdfs", 2),
    ("linux-syslog", 3),
    ("openssh", 3),
    ("openstack", 3),
    ("spark", 2),
    ("windows-cbs", 2),
    ("zookeeper", 2),
];

/// A sample line: level and message text.
pub type SampleLine = (&'static str, &'static str);

/// The lines of sample `name` (empty for an unknown sample).
pub fn sample_lines(name: &str) -> &'static [SampleLine] {
    static ALL: OnceLock<HashMap<&'static str, Vec<SampleLine>>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        crate::stamp::events::LOGS
            .iter()
            .filter_map(|(file, text)| {
                let name = file.strip_suffix(".log")?;
                let skip = PREFIX_TOKENS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or(0, |(_, k)| *k);
                let lines: Vec<SampleLine> =
                    text.lines().filter_map(|l| strip_line(l, skip)).collect();
                Some((name, lines))
            })
            .collect()
    });
    all.get(name).map_or(&[], Vec::as_slice)
}

/// Skips `skip` tokens, then reads a level among the next two tokens. None for a line with
/// nothing left.
fn strip_line(line: &'static str, skip: usize) -> Option<SampleLine> {
    let mut rest = line.trim_end();
    for _ in 0..skip {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = &rest[end..];
    }
    rest = rest.trim_start();
    let mut probe = rest;
    for _ in 0..2 {
        let end = probe.find(char::is_whitespace).unwrap_or(probe.len());
        let token = &probe[..end];
        if let Some(level) = level_word(token) {
            let text = probe[end..].trim_start();
            return (!text.is_empty()).then_some((level, text));
        }
        let skippable = token == "-" || token.bytes().all(|b| b.is_ascii_digit());
        if !skippable {
            break;
        }
        probe = probe[end..].trim_start();
    }
    (!rest.is_empty()).then_some(("INFO", rest))
}

/// The level a sample's word names (`INFO`, `[error]`, `Info`, `WARN`, `notice`).
fn level_word(token: &str) -> Option<&'static str> {
    let word = token.trim_matches(|c| c == '[' || c == ']' || c == ':');
    Some(match word.to_ascii_uppercase().as_str() {
        "INFO" | "NOTICE" => "INFO",
        "WARN" | "WARNING" => "WARN",
        "ERROR" | "ERR" => "ERROR",
        "FATAL" | "CRIT" | "CRITICAL" => "CRITICAL",
        "DEBUG" | "TRACE" => "DEBUG",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_loses_its_timestamp_and_keeps_its_text() {
        for (name, _) in PREFIX_TOKENS {
            let lines = sample_lines(name);
            assert!(lines.len() >= 500, "{name}: {}", lines.len());
            for (_, text) in lines.iter().take(50) {
                assert!(
                    crate::logs::window::line_time(text, 2026).is_none(),
                    "{name}: a timestamp left in {text:?}"
                );
            }
        }
        assert_eq!(
            sample_lines("hadoop")[0],
            (
                "INFO",
                "[main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster for application appattempt_1445144423722_0020_000001"
            )
        );
        assert_eq!(
            sample_lines("apache")[1],
            ("ERROR", "mod_jk child workerEnv in error state 6")
        );
        assert!(sample_lines("zookeeper")[0].1.starts_with("[QuorumPeer"));
        assert!(sample_lines("hdfs")[0]
            .1
            .starts_with("dfs.DataNode$PacketResponder"));
        assert!(sample_lines("openssh")[0]
            .1
            .starts_with("LabSZ sshd[24200]"));
        assert!(sample_lines("nope").is_empty());
    }
}
