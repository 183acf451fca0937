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
//! Every recorded text passes through `azs_support::escape::escape_text`: control characters
//! appear as `\x1b`-style escapes and invisible ones as `\u{200b}`, never raw, so a transcript cannot rewrite the terminal of whoever reads
//! it. Secrets are redacted before writing ([`redact`]): SAS signatures and token parameters.

use azs_support::escape::escape_text as escape;
use chrono::{DateTime, SecondsFormat, Utc};
use regex::Regex;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const RULE: &str = "**********************";

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
}

impl Transcript {
    /// Creates the transcript file and writes its header.
    pub fn create(dir: &Path, h: &TranscriptHeader<'_>) -> std::io::Result<Self> {
        let path = dir.join(format!("{}.txt", h.session_id));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        let mut t = Transcript {
            path,
            file: Some(file),
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
        Ok(t)
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, text: &str) {
        if let Some(f) = self.file.as_mut() {
            if let Err(e) = f.write_all(text.as_bytes()) {
                tracing::error!(path = %self.path.display(), error = %e, "transcript write failed");
            }
        }
    }

    /// A command about to run, with its bindings (`bindings`: canonical name, display value).
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
            escape(&redact(line))
        );
        for (name, value) in bindings {
            let shown = if is_secret_param(name) {
                "***".to_string()
            } else {
                escape(&redact(value))
            };
            s.push_str(&format!(
                ">> ParameterBinding({}): name=\"{}\"; value=\"{}\"\n",
                escape(command),
                escape(name),
                shown
            ));
        }
        self.write(&s);
    }

    /// A command's output (as shown to the user).
    pub fn output(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let mut s = String::new();
        for line in text.lines() {
            s.push_str(&escape(&redact(line)));
            s.push('\n');
        }
        self.write(&s);
    }

    /// An error a command reported.
    pub fn error(&mut self, message: &str) {
        self.write(&format!(">> Error: {}\n", escape(&redact(message))));
    }

    /// A line refused before anything ran.
    pub fn refused(&mut self, at: DateTime<Utc>, line: &str, reason: &str) {
        self.write(&format!(
            "[{}] PS>Refused: \"{}\"\n>> Reason: {}\n",
            stamp(at),
            escape(&redact(line)),
            escape(&redact(reason))
        ));
    }

    /// A note (consent prompts, answers).
    pub fn note(&mut self, at: DateTime<Utc>, text: &str) {
        self.write(&format!("[{}] >> {}\n", stamp(at), escape(&redact(text))));
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

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parameters whose values are secrets.
fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("token") || n.contains("sas") || n.contains("password") || n.contains("secret")
}

/// Removes secrets from free text: SAS `sig=` values and `-...Token`/`-...Sas...` arguments.
pub fn redact(s: &str) -> String {
    static SIG: OnceLock<Option<Regex>> = OnceLock::new();
    static TOKEN: OnceLock<Option<Regex>> = OnceLock::new();
    let sig = SIG.get_or_init(|| Regex::new(r"(?i)(sig=)[^&\s'\x22]+").ok());
    let token = TOKEN.get_or_init(|| {
        Regex::new(r#"(?i)(-[A-Za-z]*(?:token|sasuri|password|secret)[A-Za-z]*[:\s]+)('[^']*'|"[^"]*"|\S+)"#).ok()
    });
    let mut out = s.to_string();
    if let Some(re) = sig {
        out = re.replace_all(&out, "${1}REDACTED").into_owned();
    }
    if let Some(re) = token {
        out = re.replace_all(&out, "${1}***").into_owned();
    }
    out
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
    fn redacts_secrets() {
        let r = redact("Send -OutputSasUri 'https://a/c?sv=1&sig=abc%2Fdef&se=2' -x");
        assert!(!r.contains("abc%2Fdef"), "{r}");
        let r = redact("Unlock-SupportSession -ResponseToken AAAAsecret");
        assert!(!r.contains("AAAAsecret"), "{r}");
        assert!(redact("https://x?sig=zz").ends_with("sig=REDACTED"));
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
        )
        .expect("create");
        t.invocation(
            now,
            "Get-X",
            "Get-X -Name a",
            &[("Name".into(), "a".into())],
        );
        t.output("line1\n\u{1b}[2Jline2");
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
