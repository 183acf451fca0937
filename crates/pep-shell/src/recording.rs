//! Session recordings: every session is also recorded as an asciicast v2 file that `asciinema
//! cat` and `asciinema play` replay, `recordings/<session-id>.cast` (0600).
//!
//! Format (asciicast v2, NDJSON): a header `{"version":2,"width":W,"height":H,"timestamp":T,
//! "title":"pep session <id> (<identity>, <role>)"}`, then events `[seconds, "o"|"i"|"r", data]`:
//! `o` what the session showed (the prompt and the line as entered, then the command's output or
//! error), `i` each line entered, `r` a terminal resize (`"WxH"`). Lines are recorded as entered,
//! not keystroke by keystroke, so that what the catalog marks secret and what the pattern pass
//! (`crate::redact`) finds is masked before it is written: a recording never holds a SAS
//! signature or a response token. Exec sessions record their command and output the same way.
//!
//! A line entered is held (charged, not yet written) until its output is written, so that a
//! command costs one write; the session's end writes what is held.
//!
//! Every write is charged to the endpoint's disk budget like the transcript's (support output as
//! bulk data, its lines as records; operators never refused) and the file stops at the session's
//! transcript cap. A write that fails marks the recording failed; the session then ends (support)
//! or keeps only the commands that revoke (operator), as for the transcript. What the recording
//! shows is also sent to the session's watchers (`crate::live`).

use crate::live::Screen;
use crate::redact::Redactor;
use crate::transcript::Writer;
use azs_support::disk_budget::{DiskBudget, WriteClass};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// What a recording may take and how it is charged.
pub struct RecordingPolicy {
    /// The pattern pass over everything recorded.
    pub redactor: Arc<Redactor>,
    /// The endpoint's disk budget.
    pub disk: Arc<DiskBudget>,
    /// The most bytes the file may hold.
    pub cap: u64,
    /// Whose session.
    pub writer: Writer,
}

/// One session's recording.
pub struct Recording {
    path: PathBuf,
    file: Option<File>,
    start: Instant,
    written: u64,
    failure: Option<String>,
    policy: RecordingPolicy,
    screen: Screen,
    /// Events charged but not yet written: a line entered waits for its output (or the
    /// session's end), so a command costs one write.
    held: String,
}

impl Recording {
    /// Creates `<dir>/<session_id>.cast` with its header; `screen` receives what it shows.
    pub fn create(
        dir: &Path,
        session_id: &str,
        title: &str,
        size: (u16, u16),
        policy: RecordingPolicy,
        screen: Screen,
    ) -> Result<Self, String> {
        let path = dir.join(format!("{session_id}.cast"));
        let mut opts = OpenOptions::new();
        opts.append(true).create_new(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let file = opts
            .open(&path)
            .map_err(|e| format!("the recording could not be created: {e}"))?;
        let mut r = Recording {
            path,
            file: Some(file),
            start: Instant::now(),
            written: 0,
            failure: None,
            policy,
            screen,
            held: String::new(),
        };
        let header = serde_json::json!({
            "version": 2,
            "width": size.0.max(1),
            "height": size.1.max(1),
            "timestamp": chrono::Utc::now().timestamp(),
            "title": title,
        });
        r.append(&format!("{header}\n"), true)?;
        Ok(r)
    }

    /// A session that records nothing (its file could not be made); `why` is its failure.
    pub fn unrecorded(dir: &Path, session_id: &str, why: String, policy: RecordingPolicy) -> Self {
        Recording {
            path: dir.join(format!("{session_id}.cast")),
            file: None,
            start: Instant::now(),
            written: 0,
            failure: Some(why),
            policy,
            screen: Screen::default(),
            held: String::new(),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why the recording stopped, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    fn event(&mut self, code: &str, data: &str, record: bool) {
        let text = self.event_line(code, data);
        self.write(&text, record);
    }

    fn event_line(&self, code: &str, data: &str) -> String {
        let t = self.start.elapsed().as_secs_f64();
        let line = serde_json::json!([(t * 1e6).round() / 1e6, code, data]);
        format!("{line}\n")
    }

    fn write(&mut self, text: &str, record: bool) {
        self.write_or_hold(text, record, false);
    }

    fn write_or_hold(&mut self, text: &str, record: bool, hold: bool) {
        if let Err(why) = self.append_or_hold(text, record, hold) {
            if self.failure.is_none() {
                tracing::error!(path = %self.path.display(), error = %why, "recording stopped");
                self.failure = Some(why);
            }
        }
    }

    fn append(&mut self, text: &str, record: bool) -> Result<(), String> {
        self.append_or_hold(text, record, false)
    }

    /// Charges `text` and writes it after what is held, or holds it too (`hold`).
    fn append_or_hold(&mut self, text: &str, record: bool, hold: bool) -> Result<(), String> {
        if let Some(f) = &self.failure {
            return Err(f.clone());
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let n = text.len() as u64;
        let class = match (self.policy.writer, record) {
            (Writer::Operator, _) => WriteClass::Operator,
            (Writer::Support, true) => WriteClass::Record,
            (Writer::Support, false) => WriteClass::Bulk,
        };
        let refused = if self.written.saturating_add(n) > self.policy.cap {
            Some(format!(
                "the session's recording reached its limit of {} (pep serve --max-transcript-mb)",
                azs_support::disk_budget::human(self.policy.cap)
            ))
        } else {
            self.policy
                .disk
                .charge(n, class)
                .err()
                .map(|e| e.to_string())
        };
        if refused.is_none() {
            self.written += n;
            self.held.push_str(text);
            if hold {
                return Ok(());
            }
        }
        // What was held is charged already: it is written even when `text` is refused.
        let held = std::mem::take(&mut self.held);
        if !held.is_empty() {
            file.write_all(held.as_bytes()).map_err(|e| {
                self.policy.disk.release(held.len() as u64);
                format!("the recording could not be written: {e}")
            })?;
        }
        refused.map_or(Ok(()), Err)
    }

    /// Writes what is held.
    fn flush(&mut self) {
        if !self.held.is_empty() {
            self.write("", true);
        }
    }

    /// What the session showed (terminal text, `\r\n` line ends), redacted, also to watchers.
    pub fn output(&mut self, text: &str, record: bool) {
        if text.is_empty() {
            return;
        }
        let shown = self.policy.redactor.redact(text);
        self.event("o", &shown, record);
        self.screen.send(shown);
    }

    /// A line entered after `prompt` (the caller masks secret parameters; the pattern pass runs
    /// here): its input event and its echo, in one write.
    pub fn entered(&mut self, prompt: &str, line: &str) {
        let shown = self.policy.redactor.redact(line);
        let echo = format!("{prompt}{shown}\r\n");
        let mut text = self.event_line("i", &format!("{shown}\r"));
        text.push_str(&self.event_line("o", &echo));
        self.write_or_hold(&text, true, true);
        self.screen.send(echo);
    }

    /// A line entered (the caller masks secret parameters; the pattern pass runs here).
    pub fn input(&mut self, line: &str) {
        let shown = self.policy.redactor.redact(line);
        self.event("i", &format!("{shown}\r"), true);
    }

    /// The terminal's new size.
    pub fn resize(&mut self, width: u16, height: u16) {
        self.event("r", &format!("{width}x{height}"), true);
    }

    /// Closes the file; its SHA-256, when it can be read.
    pub fn finish(&mut self) -> Option<String> {
        self.flush();
        if let Some(f) = self.file.take() {
            let _ = f.sync_data();
        }
        std::fs::read(&self.path)
            .ok()
            .map(|b| crate::audit::sha256_hex(&b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(tmp: &Path, cap: u64) -> RecordingPolicy {
        RecordingPolicy {
            redactor: Arc::new(Redactor::new(&[]).expect("redactor")),
            disk: Arc::new(
                DiskBudget::open(tmp, &[tmp.to_path_buf()], 1 << 30, 0).expect("budget"),
            ),
            cap,
            writer: Writer::Support,
        }
    }

    #[test]
    fn events_are_asciicast_v2_with_secrets_masked() {
        let tmp = tempfile::tempdir().expect("tmp");
        let screen = Screen::default();
        let mut rx = screen.subscribe();
        let mut r = Recording::create(
            tmp.path(),
            "s1",
            "t",
            (100, 30),
            policy(tmp.path(), 1 << 20),
            screen,
        )
        .expect("create");
        r.input("Get-AzureStackLog -OutputSasUri https://a.blob.core.windows.net/c?sv=2022&sig=SECRETSIG");
        r.output("PS> hello\r\n", false);
        r.resize(120, 40);
        let sha = r.finish().expect("hash");
        assert_eq!(sha.len(), 64);
        let text = std::fs::read_to_string(tmp.path().join("s1.cast")).expect("read");
        assert!(!text.contains("SECRETSIG"), "{text}");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert_eq!(lines[0]["version"], 2);
        assert_eq!(lines[0]["width"], 100);
        assert_eq!(lines[1][1], "i");
        assert_eq!(lines[2][1], "o");
        assert_eq!(lines[2][2], "PS> hello\r\n");
        assert_eq!(lines[3][1], "r");
        assert_eq!(lines[3][2], "120x40");
        assert_eq!(rx.try_recv().expect("watched"), "PS> hello\r\n");
    }

    #[test]
    fn a_recording_stops_at_its_cap_and_says_why() {
        let tmp = tempfile::tempdir().expect("tmp");
        let mut r = Recording::create(
            tmp.path(),
            "s2",
            "t",
            (80, 24),
            policy(tmp.path(), 400),
            Screen::default(),
        )
        .expect("create");
        for _ in 0..20 {
            r.output("0123456789012345678901234567890123456789\r\n", false);
        }
        assert!(r.failure().is_some_and(|f| f.contains("limit")));
    }
}
