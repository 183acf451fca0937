//! `pep audit verify`: reads the audit log ([`crate::audit`], format version 1) and its signed
//! checkpoints and names the first line that is not what was written.
//!
//! Line by line: each must be JSON of version 1 whose `seq` is one more than the line before
//! (a deleted, inserted or swapped line breaks it) and whose `prev` is the SHA-256 of the exact
//! bytes of the line before (an edited byte in that line breaks it: that line is named). Then
//! every checkpoint must carry a good signature by the endpoint's host key over its sequence
//! number and head, and that line must still hash to the head (an edit of the last lines, which no
//! later line covers, is found here); a checkpoint past the log's end means its tail was cut.
//!
//! A log whose oldest lines retention removed ([`crate::audit_prune`]) starts at line K+1: its
//! first `prev` must then be the head of a signed checkpoint of line K, and a later
//! `audit_pruned` line must say it removed lines through K. Lines are named by their sequence
//! number, which is the line of the file when nothing was pruned.

use crate::audit::{checkpoint_message, sha256_hex, GENESIS, NAMESPACE, VERSION};
use russh::keys::ssh_key::SshSig;
use russh::keys::PublicKey;
use serde_json::Value;
use std::fs;
use std::path::Path;

/// What verification found.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Every line chains and every checkpoint holds.
    Intact {
        /// Lines read.
        lines: u64,
        /// Checkpoints verified.
        checkpoints: u64,
        /// The last line a checkpoint covers (lines after it could be cut unseen).
        covered: u64,
    },
    /// The first problem: the line (1-based) and why.
    Broken {
        /// The line of `audit.jsonl` (1-based; 0 for a checkpoint problem not tied to a line).
        line: u64,
        /// What is wrong.
        why: String,
    },
}

/// Verifies the log at `log` against `checkpoints`, signed by `host_key`.
pub fn verify(log: &Path, checkpoints: &Path, host_key: &PublicKey) -> Result<Verdict, String> {
    let bytes = match fs::read(log) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("reading {}: {e}", log.display())),
    };
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        let line = bytes.split(|b| *b == b'\n').count() as u64;
        return Ok(Verdict::Broken {
            line,
            why: "the last line is cut short (no newline)".into(),
        });
    }
    let lines: Vec<&[u8]> = if bytes.is_empty() {
        Vec::new()
    } else {
        bytes[..bytes.len() - 1].split(|b| *b == b'\n').collect()
    };
    // Where the chain starts: line 1, or the line after the last one retention removed.
    let first: Option<Value> = lines.first().and_then(|l| serde_json::from_slice(l).ok());
    let start = first
        .as_ref()
        .and_then(|v| v.get("seq"))
        .and_then(Value::as_u64)
        .filter(|s| *s > 1)
        .unwrap_or(1);
    let anchor = first
        .as_ref()
        .and_then(|v| v.get("prev"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut prev_hash = match (start, &anchor) {
        (1, _) | (_, None) => GENESIS.to_string(),
        (_, Some(a)) => a.clone(),
    };
    let mut pruned_through = None;
    let mut hashes = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let n = start + i as u64;
        let broken = |why: String| Ok(Verdict::Broken { line: n, why });
        let v: Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => return broken(format!("not JSON ({e})")),
        };
        if v.get("v").and_then(Value::as_u64) != Some(VERSION) {
            return broken("not a version 1 audit line".into());
        }
        match v.get("seq").and_then(Value::as_u64) {
            Some(s) if s == n => {}
            Some(s) => {
                return broken(format!(
                    "sequence {s} where {n} was expected: a line was deleted, inserted or moved"
                ))
            }
            None => return broken("no sequence number".into()),
        }
        match v.get("prev").and_then(Value::as_str) {
            Some(p) if p == prev_hash => {}
            Some(_) if n > 1 => {
                return Ok(Verdict::Broken {
                    line: n - 1,
                    why: format!(
                        "its bytes do not hash to the prev line {n} holds: it was changed"
                    ),
                })
            }
            _ => return broken("its prev is not the chain's start".into()),
        }
        if v.get("event").and_then(Value::as_str) == Some("audit_pruned") {
            if let Some(t) = v.get("through").and_then(Value::as_u64) {
                pruned_through = Some(t);
            }
        }
        prev_hash = sha256_hex(line);
        hashes.push(prev_hash.clone());
    }
    if start > 1 && pruned_through != Some(start - 1) {
        return Ok(Verdict::Broken {
            line: start,
            why: format!(
                "the log starts at line {start}, but no audit_pruned line says retention removed the lines before it: they were cut"
            ),
        });
    }
    let mut anchored = start == 1;
    let text = match fs::read_to_string(checkpoints) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("reading {}: {e}", checkpoints.display())),
    };
    let mut verified = 0u64;
    let mut covered = 0u64;
    for (i, cl) in text.lines().enumerate() {
        let bad = |why: String| {
            Ok(Verdict::Broken {
                line: 0,
                why: format!("checkpoint {}: {why}", i + 1),
            })
        };
        let Ok(c) = serde_json::from_str::<Value>(cl) else {
            return bad("not JSON".into());
        };
        let (Some(seq), Some(head), Some(sig)) = (
            c.get("seq").and_then(Value::as_u64),
            c.get("head").and_then(Value::as_str),
            c.get("signature").and_then(Value::as_str),
        ) else {
            return bad("seq, head or signature missing".into());
        };
        let Ok(sig) = SshSig::from_pem(sig) else {
            return bad("its signature is not an SSH signature".into());
        };
        if host_key
            .verify(NAMESPACE, checkpoint_message(seq, head).as_bytes(), &sig)
            .is_err()
        {
            return bad("its signature is not the host key's".into());
        }
        if seq + 1 < start {
            // A line retention removed.
            continue;
        }
        if seq + 1 == start {
            if anchor.as_deref() != Some(head) {
                return Ok(Verdict::Broken {
                    line: start,
                    why: format!(
                        "its prev is not the head the signed checkpoint of line {seq} holds: the start of the log was changed"
                    ),
                });
            }
            anchored = true;
            verified += 1;
            continue;
        }
        let Some(hash) = usize::try_from(seq - start)
            .ok()
            .and_then(|s| hashes.get(s))
        else {
            let end = start + lines.len() as u64 - 1;
            return Ok(Verdict::Broken {
                line: end + 1,
                why: format!(
                    "the log ends at line {end} but a signed checkpoint covers line {seq}: its tail was cut"
                ),
            });
        };
        if hash != head {
            return Ok(Verdict::Broken {
                line: seq,
                why: "it does not hash to the head its signed checkpoint holds: it was changed"
                    .into(),
            });
        }
        verified += 1;
        covered = covered.max(seq);
    }
    if !anchored {
        return Ok(Verdict::Broken {
            line: start,
            why: format!(
                "the log starts at line {start}, but no signed checkpoint of line {} anchors it",
                start - 1
            ),
        });
    }
    Ok(Verdict::Intact {
        lines: lines.len() as u64,
        checkpoints: verified,
        covered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditLog;
    use crate::state::StateDir;
    use chrono::Utc;
    use serde_json::json;

    /// A state directory with a log of `n` lines and a checkpoint at its end.
    fn written(n: u64) -> (tempfile::TempDir, AuditLog, PublicKey) {
        let tmp = tempfile::tempdir().expect("tmp");
        let state = StateDir::open(tmp.path()).expect("state");
        let key = crate::host_key::load_or_create(&state.host_key()).expect("key");
        let log = AuditLog::open(&state).expect("audit");
        for i in 0..n {
            log.append(
                Utc::now(),
                "command",
                json!({"line": format!("Get-Thing {i}")}),
            )
            .expect("append");
        }
        log.checkpoint(Utc::now()).expect("checkpoint");
        (tmp, log, key.public_key().clone())
    }

    fn check(log: &AuditLog, key: &PublicKey) -> Verdict {
        verify(&log.log_path(), &log.checkpoints_path(), key).expect("verify")
    }

    fn rewrite(log: &AuditLog, f: impl FnOnce(&mut Vec<String>)) {
        let text = fs::read_to_string(log.log_path()).expect("read");
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        f(&mut lines);
        let mut out = lines.join("\n");
        if !lines.is_empty() {
            out.push('\n');
        }
        fs::write(log.log_path(), out).expect("write");
    }

    fn broken_at(v: Verdict) -> u64 {
        match v {
            Verdict::Broken { line, .. } => line,
            Verdict::Intact { .. } => panic!("tampering not found"),
        }
    }

    #[test]
    fn an_intact_log_verifies() {
        let (_t, log, key) = written(5);
        assert_eq!(
            check(&log, &key),
            Verdict::Intact {
                lines: 5,
                checkpoints: 1,
                covered: 5
            }
        );
    }

    #[test]
    fn an_edited_byte_names_its_line() {
        let (_t, log, key) = written(6);
        rewrite(&log, |l| l[2] = l[2].replace("Get-Thing 2", "Get-Thing 7"));
        assert_eq!(broken_at(check(&log, &key)), 3);
        // The last line: only the checkpoint covers it.
        let (_t, log, key) = written(4);
        rewrite(&log, |l| l[3] = l[3].replace("Get-Thing 3", "Get-Thing 9"));
        assert_eq!(broken_at(check(&log, &key)), 4);
    }

    #[test]
    fn deleted_swapped_and_inserted_lines_are_found() {
        let (_t, log, key) = written(6);
        rewrite(&log, |l| {
            l.remove(2);
        });
        assert_eq!(broken_at(check(&log, &key)), 3);
        let (_t, log, key) = written(6);
        rewrite(&log, |l| l.swap(1, 2));
        assert_eq!(broken_at(check(&log, &key)), 2);
        let (_t, log, key) = written(6);
        rewrite(&log, |l| {
            let copy = l[1].clone();
            l.insert(3, copy);
        });
        assert_eq!(broken_at(check(&log, &key)), 4);
    }

    #[test]
    fn a_cut_tail_after_the_last_checkpoint_is_found() {
        let (_t, log, key) = written(6);
        rewrite(&log, |l| l.truncate(4));
        let v = check(&log, &key);
        assert_eq!(broken_at(v), 5);
        // Cut mid-line.
        let (_t, log, key) = written(3);
        let bytes = fs::read(log.log_path()).expect("read");
        fs::write(log.log_path(), &bytes[..bytes.len() - 10]).expect("write");
        assert_eq!(broken_at(check(&log, &key)), 3);
    }

    #[test]
    fn a_forged_checkpoint_is_refused() {
        let (_t, log, key) = written(3);
        let other = crate::host_key::load_or_create(&log.log_path().with_file_name("other"))
            .expect("other key");
        assert!(matches!(
            verify(&log.log_path(), &log.checkpoints_path(), other.public_key()),
            Ok(Verdict::Broken { line: 0, .. })
        ));
        let _ = key;
    }
}
