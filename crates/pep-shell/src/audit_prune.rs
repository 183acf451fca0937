//! Audit retention: removes the audit log's oldest lines once they are past the retention the
//! operator configured (`pep serve --audit-retention-days`, 0 keeps everything), in a way
//! `pep audit verify` still checks.
//!
//! A cut is made only just after a line a signed checkpoint covers (line K): the first line kept
//! (K+1) holds the SHA-256 of line K in its `prev`, and the checkpoint's signature over K's hash
//! is what anchors the shortened chain. The new file is the kept lines plus one more, an
//! `audit_pruned` event `{"through":K,"lines":N,"before":"<RFC 3339>"}` chained after them, and
//! replaces the log in one rename, so the log never exists cut without the line that says so.
//! `pep audit verify` accepts a log that starts at line K+1 only with a checkpoint of line K and
//! an `audit_pruned` line saying `through` K: cutting the front at any other place, or without
//! pep, is found. Checkpoints before K are removed afterwards (a crash between the two leaves
//! extra checkpoints, which verify skips).
//!
//! Appenders wait while the log is rewritten (once a day, by the retention sweep).

use crate::audit::{sha256_hex, AuditLog};
use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use std::fs;
use std::path::Path;

/// What a prune removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// The last line removed.
    pub through: u64,
    /// Lines removed.
    pub lines: u64,
}

impl AuditLog {
    /// Removes the lines timed before `before`, up to the last of them a checkpoint covers, and
    /// records it; `None` when nothing could be removed.
    pub fn prune(&self, before: DateTime<Utc>, now: DateTime<Utc>) -> Result<Option<Pruned>> {
        // Whatever is queued is written first, so it is kept or cut with its neighbours.
        self.sync()?;
        let path = self.log_path();
        let pruned = self.rewrite(|bytes, checkpoints| {
            let lines: Vec<&[u8]> = bytes
                .strip_suffix(b"\n")
                .map(|b| b.split(|c| *c == b'\n').collect())
                .unwrap_or_default();
            let Some(first) = lines.first().and_then(|l| seq_of(l)) else {
                return Ok(None);
            };
            // The oldest lines, in order, while they are before the cut-off.
            let old = lines
                .iter()
                .take_while(|l| time_of(l).is_some_and(|t| t < before))
                .count();
            // The last old line a checkpoint covers (and whose hash it holds).
            let Some(k) = (0..old).rev().find(|i| {
                let seq = first + *i as u64;
                checkpoints
                    .get(&seq)
                    .is_some_and(|head| *head == sha256_hex(lines[*i]))
            }) else {
                return Ok(None);
            };
            let through = first + k as u64;
            let kept = &lines[k + 1..];
            // The record chains after the log's last line (when every line goes, line K itself).
            let Some(last) = lines.last() else {
                return Ok(None);
            };
            let seq = first + lines.len() as u64;
            let record = serde_json::json!({
                "through": through,
                "lines": k as u64 + 1,
                "before": before.to_rfc3339_opts(SecondsFormat::Millis, true),
            });
            let line =
                crate::audit::line_text_of(seq, now, "audit_pruned", &record, &sha256_hex(last))?;
            let mut out = Vec::with_capacity(bytes.len());
            for l in kept {
                out.extend_from_slice(l);
                out.push(b'\n');
            }
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
            Ok(Some((
                out,
                Pruned {
                    through,
                    lines: k as u64 + 1,
                },
            )))
        })?;
        if let Some(p) = &pruned {
            self.drop_checkpoints_before(p.through)?;
            tracing::info!(through = p.through, lines = p.lines, path = %path.display(), "audit lines past their retention removed");
        }
        Ok(pruned)
    }

    /// Removes the checkpoints of lines before `seq` (the one of `seq` anchors the log).
    fn drop_checkpoints_before(&self, seq: u64) -> Result<()> {
        let path = self.checkpoints_path();
        let file = fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
        let text = fs::read_to_string(&path)?;
        let kept: String = text
            .lines()
            .filter(|l| {
                serde_json::from_str::<Value>(l)
                    .ok()
                    .and_then(|v| v.get("seq").and_then(Value::as_u64))
                    .is_none_or(|s| s >= seq)
            })
            .flat_map(|l| [l, "\n"])
            .collect();
        crate::state::atomic_write(&path, kept.as_bytes(), 0o600)?;
        let _ = file.unlock();
        Ok(())
    }
}

/// The signed checkpoints of `path`, by line: the head each holds.
pub(crate) fn checkpoint_heads(path: &Path) -> Result<std::collections::HashMap<u64, String>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => return Err(e.into()),
    };
    Ok(text
        .lines()
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            Some((
                v.get("seq")?.as_u64()?,
                v.get("head")?.as_str()?.to_string(),
            ))
        })
        .collect())
}

fn seq_of(line: &[u8]) -> Option<u64> {
    serde_json::from_slice::<Value>(line)
        .ok()?
        .get("seq")?
        .as_u64()
}

fn time_of(line: &[u8]) -> Option<DateTime<Utc>> {
    let v: Value = serde_json::from_slice(line).ok()?;
    DateTime::parse_from_rfc3339(v.get("time")?.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit_verify::{verify, Verdict};
    use crate::state::StateDir;
    use serde_json::json;

    fn log_with_old_lines() -> (tempfile::TempDir, AuditLog, russh::keys::PublicKey) {
        let tmp = tempfile::tempdir().expect("tmp");
        let state = StateDir::open(tmp.path()).expect("state");
        let key = crate::host_key::load_or_create(&state.host_key()).expect("host key");
        let log = AuditLog::open(&state).expect("audit");
        let old = Utc::now() - chrono::Duration::days(100);
        for i in 0..150 {
            log.append(old, "command", json!({ "i": i })).expect("old");
            if i == 63 || i == 127 {
                log.checkpoint(old).expect("checkpoint");
            }
        }
        for i in 0..10 {
            log.append(Utc::now(), "command", json!({ "i": i }))
                .expect("new");
        }
        log.checkpoint(Utc::now()).expect("checkpoint");
        (tmp, log, key.public_key().clone())
    }

    fn check(log: &AuditLog, key: &russh::keys::PublicKey) -> Verdict {
        verify(&log.log_path(), &log.checkpoints_path(), key).expect("verify")
    }

    #[test]
    fn old_lines_go_up_to_a_checkpoint_and_the_log_still_verifies() {
        let (_tmp, log, key) = log_with_old_lines();
        let now = Utc::now();
        let pruned = log
            .prune(now - chrono::Duration::days(90), now)
            .expect("prune")
            .expect("something removed");
        // Lines 1..=150 are old; the last checkpoint among them covers 128 (or a later one the
        // background sync signed).
        assert!(pruned.through >= 128 && pruned.through <= 150, "{pruned:?}");
        assert_eq!(pruned.lines, pruned.through);
        let text = fs::read_to_string(log.log_path()).expect("read");
        let first: Value =
            serde_json::from_str(text.lines().next().expect("a line")).expect("json");
        assert_eq!(first["seq"], pruned.through + 1);
        let last: Value = serde_json::from_str(text.lines().last().expect("a line")).expect("json");
        assert_eq!(last["event"], "audit_pruned");
        assert_eq!(last["through"], pruned.through);
        assert!(
            matches!(check(&log, &key), Verdict::Intact { .. }),
            "{:?}",
            check(&log, &key)
        );
        // Appending goes on from the new head; nothing more is old enough to go.
        log.append(Utc::now(), "login", json!({})).expect("append");
        log.checkpoint(Utc::now()).expect("checkpoint");
        assert!(matches!(check(&log, &key), Verdict::Intact { .. }));
        assert_eq!(
            log.prune(now - chrono::Duration::days(90), now)
                .expect("prune"),
            None
        );
    }

    #[test]
    fn a_front_cut_without_pep_is_found_even_at_a_checkpoint() {
        let (_tmp, log, key) = log_with_old_lines();
        log.sync().expect("sync");
        let text = fs::read_to_string(log.log_path()).expect("read");
        let rest: String = text.lines().skip(64).flat_map(|l| [l, "\n"]).collect();
        fs::write(log.log_path(), rest).expect("cut");
        match check(&log, &key) {
            Verdict::Broken { line: 65, why } => assert!(why.contains("audit_pruned"), "{why}"),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn nothing_goes_without_a_checkpoint_among_the_old_lines() {
        let tmp = tempfile::tempdir().expect("tmp");
        let state = StateDir::open(tmp.path()).expect("state");
        crate::host_key::load_or_create(&state.host_key()).expect("host key");
        let log = AuditLog::open(&state).expect("audit");
        let old = Utc::now() - chrono::Duration::days(100);
        for _ in 0..5 {
            log.append(old, "command", json!({})).expect("old");
        }
        log.append(Utc::now(), "command", json!({})).expect("new");
        let now = Utc::now();
        assert_eq!(
            log.prune(now - chrono::Duration::days(90), now)
                .expect("prune"),
            None
        );
        let text = fs::read_to_string(log.log_path()).expect("read");
        assert_eq!(text.lines().count(), 6);
    }
}
