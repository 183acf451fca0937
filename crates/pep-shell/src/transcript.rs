//! Session transcripts: what was asked, how it was bound, what came back, and what was refused.
//!
//! One text file per session, `transcripts/<session-id>.txt`, append-only, written as the session
//! goes (each entry is written and flushed at once, so a crash loses nothing already done).
//! Format version 1, JEA-like:
//!
//! ```text
//! **********************
//! PEP transcript, format 1
//! Start time: 2026-11-21T22:00:00Z
//! Session id: 3f0c...
//! Identity: alice (SHA256:...)
//! Role: support
//! Access level: Diagnostics
//! Remote address: 127.0.0.1:50312
//! Session kind: interactive
//! **********************
//! [2026-11-21T22:00:01Z] PS>CommandInvocation(Get-AzsSupportClusterResource): "Get-AzsSupportClusterResource -State Online"
//! >> ParameterBinding(Get-AzsSupportClusterResource): name="State"; value="Online"
//! <output lines>
//! [2026-11-21T22:00:02Z] PS>Refused: "Get-X; touch /tmp/PWNED"
//! >> Reason: ScriptsNotAllowed: The syntax isn't supported ...
//! **********************
//! End time: 2026-11-21T22:05:00Z
//! End reason: client closed the session
//! **********************
//! ```
//!
//! Bounds and failure (fail closed): every write is charged to the endpoint's disk budget
//! (`azs_support::disk_budget`) before it is made — a support session's command output as bulk
//! data, its records (header, invocations, refusals, notes) as audit records, an operator's as
//! operator writes — and the transcript stops at the session's byte cap. A write the budget or
//! the cap refuses is not made; a write the file system fails marks the transcript failed. The
//! session checks [`Transcript::failure`] after each line and ends (support) or keeps only the
//! commands that revoke (operator): nothing runs unrecorded.
//!
//! Every recorded text passes through `azs_support::escape::escape_text`: control characters
//! appear as `\x1b`-style escapes and invisible ones as `\u{200b}`, never raw, so a transcript cannot rewrite the terminal of whoever reads
//! it. Secrets are redacted before writing (`crate::redact`): the caller masks secret parameters from
//! the binding, and the pattern pass here covers everything recorded.

use crate::redact::Redactor;
use azs_support::disk_budget::{DiskBudget, WriteClass};
use azs_support::escape::escape_text as escape;
use chrono::{DateTime, SecondsFormat, Utc};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const RULE: &str = "**********************";
/// Bytes of the cap kept for refusals, notes and the end block once output no longer fits.
const RECORD_RESERVE: u64 = 256 << 10;
/// Longest line text a refusal records (the rest is cut, with a note of how much).
const MAX_RECORDED_LINE: usize = 2048;

/// Who a transcript's writes are charged as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// A support session: output is bulk data, records are audit records.
    Support,
    /// An operator: never refused by the budget.
    Operator,
}

impl Writer {
    /// Whose writes a session of `role` makes: support's are charged, the customer's never refused.
    pub fn of(role: crate::identity::Role) -> Self {
        match role {
            crate::identity::Role::Support => Writer::Support,
            crate::identity::Role::Operator | crate::identity::Role::Observer => Writer::Operator,
        }
    }
}

/// Where a transcript's writes are charged, how far it may grow, and what it redacts.
#[derive(Clone)]
pub struct TranscriptPolicy {
    /// The pattern pass over everything recorded.
    pub redactor: Arc<Redactor>,
    /// The endpoint's disk budget.
    pub disk: Arc<DiskBudget>,
    /// Bytes this transcript may take.
    pub cap: u64,
    /// Who writes.
    pub writer: Writer,
}

impl TranscriptPolicy {
    /// For a transcript that records nothing: no limits, redacting nothing.
    fn unrecorded() -> Self {
        TranscriptPolicy {
            redactor: Arc::new(Redactor::empty()),
            disk: Arc::new(DiskBudget::unlimited()),
            cap: u64::MAX,
            writer: Writer::Operator,
        }
    }
}

/// Who and what a transcript is about.
pub struct TranscriptHeader<'a> {
    /// Start.
    pub start: DateTime<Utc>,
    /// Session id.
    pub session_id: &'a str,
    /// Identity name.
    pub identity: &'a str,
    /// Key fingerprint.
    pub fingerprint: &'a str,
    /// `operator` or `support`.
    pub role: &'a str,
    /// Grant level at start (`-` for operators).
    pub access_level: &'a str,
    /// Peer address.
    pub remote: &'a str,
    /// `interactive`, `exec` or `shell`.
    pub kind: &'a str,
}

/// An open transcript.
pub struct Transcript {
    path: PathBuf,
    file: Option<File>,
    policy: TranscriptPolicy,
    written: u64,
    failure: Option<String>,
}

impl Transcript {
    /// Creates the transcript file (0600) and writes its header; an error when the header
    /// cannot be written (the session must not start unrecorded).
    pub fn create(
        dir: &Path,
        h: &TranscriptHeader<'_>,
        policy: TranscriptPolicy,
    ) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = dir.join(format!("{}.txt", h.session_id));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .mode(0o600)
            .open(&path)?;
        let mut t = Transcript {
            path,
            file: Some(file),
            policy,
            written: 0,
            failure: None,
        };
        t.write(&format!(
            "{RULE}\nPEP transcript, format 1\nStart time: {}\nSession id: {}\nIdentity: {} ({})\nRole: {}\nAccess level: {}\nRemote address: {}\nSession kind: {}\n{RULE}\n",
            stamp(h.start),
            escape(h.session_id),
            escape(h.identity),
            escape(h.fingerprint),
            h.role,
            h.access_level,
            escape(h.remote),
            h.kind
        ));
        if let Some(why) = t.failure.clone() {
            return Err(std::io::Error::other(why));
        }
        Ok(t)
    }

    /// A transcript that could not be created: it records nothing and reports `why` as its
    /// failure, so the session knows it runs unrecorded (an operator keeps only revocation).
    pub fn unrecorded(dir: &Path, session_id: &str, why: String) -> Self {
        Transcript {
            path: dir.join(format!("{session_id}.txt")),
            file: None,
            policy: TranscriptPolicy::unrecorded(),
            written: 0,
            failure: Some(why),
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why the transcript can no longer record, if it cannot: the session must not go on.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Whether a line's whole output (`bytes`) can still be recorded within the cap.
    pub fn has_room_for(&self, bytes: u64) -> bool {
        self.written
            .saturating_add(bytes)
            .saturating_add(RECORD_RESERVE)
            <= self.policy.cap
    }

    /// The cap, for messages.
    pub fn cap(&self) -> u64 {
        self.policy.cap
    }

    /// Writes an audit record (header, invocation, refusal, note, end). A record that cannot be
    /// written fails the transcript.
    fn write(&mut self, text: &str) {
        let class = match self.policy.writer {
            Writer::Support => WriteClass::Record,
            Writer::Operator => WriteClass::Operator,
        };
        if let Err(why) = self.append(text, class) {
            if self.failure.is_none() {
                tracing::error!(path = %self.path.display(), error = %why, "transcript cannot record; the session ends");
                self.failure = Some(why);
            }
        }
    }

    /// Appends `text` charged as `class`, within the cap. Refusals by the budget or the cap write
    /// nothing; a failed write marks the transcript failed.
    fn append(&mut self, text: &str, class: WriteClass) -> Result<(), String> {
        if self.failure.is_some() {
            return Err(self.failure.clone().unwrap_or_default());
        }
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        let n = text.len() as u64;
        if self.written.saturating_add(n) > self.policy.cap {
            return Err(format!(
                "the session's transcript reached its limit of {} (pep serve --max-transcript-mb)",
                azs_support::disk_budget::human(self.policy.cap)
            ));
        }
        self.policy
            .disk
            .charge(n, class)
            .map_err(|e| e.to_string())?;
        match f.write_all(text.as_bytes()) {
            Ok(()) => {
                self.written += n;
                Ok(())
            }
            Err(e) => {
                self.policy.disk.release(n);
                let why = format!("the transcript could not be written: {e}");
                self.failure = Some(why.clone());
                Err(why)
            }
        }
    }

    /// A command about to run, with its bindings (`bindings`: canonical name, display value, the
    /// catalog's secret parameters already masked by the caller: `redact::shown_bindings`).
    pub fn invocation(
        &mut self,
        at: DateTime<Utc>,
        command: &str,
        line: &str,
        bindings: &[(String, String)],
    ) {
        let mut s = format!(
            "[{}] PS>CommandInvocation({}): \"{}\"\n",
            stamp(at),
            escape(command),
            escape(&self.policy.redactor.redact(line))
        );
        for (name, value) in bindings {
            let shown = escape(&self.policy.redactor.redact(value));
            s.push_str(&format!(
                ">> ParameterBinding({}): name=\"{}\"; value=\"{}\"\n",
                escape(command),
                escape(name),
                shown
            ));
        }
        self.write(&s);
    }

    /// A command's output (as shown to the user). An error when it could not be recorded (the
    /// disk budget or the transcript's cap refused it): the caller must not show it.
    pub fn output(&mut self, text: &str) -> Result<(), String> {
        if text.is_empty() {
            return Ok(());
        }
        let mut s = String::new();
        for line in text.lines() {
            s.push_str(&escape(&self.policy.redactor.redact(line)));
            s.push('\n');
        }
        let class = match self.policy.writer {
            Writer::Support => WriteClass::Bulk,
            Writer::Operator => WriteClass::Operator,
        };
        self.append(&s, class)
    }

    /// An error a command reported.
    pub fn error(&mut self, message: &str) {
        self.write(&format!(
            ">> Error: {}\n",
            escape(&self.policy.redactor.redact(message))
        ));
    }

    /// A line refused before anything ran (a long line is recorded cut, saying how much).
    pub fn refused(&mut self, at: DateTime<Utc>, line: &str, reason: &str) {
        self.write(&format!(
            "[{}] PS>Refused: \"{}\"\n>> Reason: {}\n",
            stamp(at),
            cut(&escape(&self.policy.redactor.redact(line))),
            cut(&escape(&self.policy.redactor.redact(reason)))
        ));
    }

    /// Input refused as bytes (not valid UTF-8): recorded escaped, lossily decoded and cut.
    pub fn refused_bytes(&mut self, at: DateTime<Utc>, bytes: &[u8], reason: &str) {
        self.refused(at, &String::from_utf8_lossy(bytes), reason);
    }

    /// A note (consent prompts, answers).
    pub fn note(&mut self, at: DateTime<Utc>, text: &str) {
        self.write(&format!(
            "[{}] >> {}\n",
            stamp(at),
            escape(&self.policy.redactor.redact(text))
        ));
    }

    /// Writes the end block and closes the file.
    pub fn finish(&mut self, at: DateTime<Utc>, reason: &str) {
        self.write(&format!(
            "{RULE}\nEnd time: {}\nEnd reason: {}\n{RULE}\n",
            stamp(at),
            escape(reason)
        ));
        if let Some(f) = self.file.take() {
            let _ = f.sync_all();
        }
    }
}

/// `text` cut to [`MAX_RECORDED_LINE`] bytes, saying how much was left out.
fn cut(text: &str) -> String {
    if text.len() <= MAX_RECORDED_LINE {
        return text.to_string();
    }
    let mut end = MAX_RECORDED_LINE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}... ({} more bytes not recorded)",
        &text[..end],
        text.len() - end
    )
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_invisibles() {
        assert_eq!(escape("a\u{1b}]0;x\u{7}b"), "a\\x1b]0;x\\x07b");
        assert_eq!(escape("Node\u{200B}01"), "Node\\u{200b}01");
        assert_eq!(escape("x\u{202E}y"), "x\\u{202e}y");
        assert_eq!(escape("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn writes_header_entries_and_end() {
        let tmp = tempfile::tempdir().expect("tmp");
        let now = Utc::now();
        let mut t = Transcript::create(
            tmp.path(),
            &TranscriptHeader {
                start: now,
                session_id: "s1",
                identity: "eve",
                fingerprint: "SHA256:x",
                role: "support",
                access_level: "Diagnostics",
                remote: "127.0.0.1:1",
                kind: "exec",
            },
            TranscriptPolicy {
                writer: Writer::Operator,
                ..TranscriptPolicy::unrecorded()
            },
        )
        .expect("create");
        t.invocation(
            now,
            "Get-X",
            "Get-X -Name a",
            &[("Name".into(), "a".into())],
        );
        t.output("line1\n\u{1b}[2Jline2").expect("recorded");
        t.refused(now, "a;b\u{7}", "ScriptsNotAllowed");
        t.finish(now, "done");
        let text = std::fs::read_to_string(t.path()).expect("read");
        assert!(text.contains("Identity: eve (SHA256:x)"));
        assert!(text.contains(">> ParameterBinding(Get-X): name=\"Name\"; value=\"a\""));
        assert!(text.contains("\\x1b[2Jline2"));
        assert!(text.contains("PS>Refused: \"a;b\\x07\""));
        assert!(text.contains("End reason: done"));
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'));
    }
}
