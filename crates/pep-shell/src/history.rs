//! Session history: one record per session, kept 90 days with its transcript.
//!
//! `sessions/<session-id>.json` (format version 3), written atomically when the session starts, when
//! the grant's level changes under it, and when it ends: `{"version":3,"session_id":"...",
//! "identity":"alice","role":"support","access_level":"Diagnostics","level_changes":[{"at":"...",
//! "level":"DiagnosticsRepair"}],"support_request_id":"2611210001","kind":"interactive",
//! "remote":"127.0.0.1:5000","start":"...","end":null,"end_reason":null,
//! "transcript":"/.../transcripts/<id>.txt"}`. `access_level` is the level at start;
//! `level_changes` (added in version 2; absent in version 1 records, read as none) each later
//! level in force and when it took effect; `support_request_id` (added in version 3; absent
//! before, read as none) the support case of the grant a support session ran under, if the
//! operator gave one (`Enable-RemoteSupport -SupportRequestId`).
//!
//! `Get-RemoteSupportSessionHistory` reads them through [`select`]: by period, identity
//! (wildcards) and support request.
//! A record still open when the server starts belonged to a process that died: it is closed then,
//! at its file's last modification time, with the reason `server stopped`.

use crate::state::{atomic_write, StateDir};
use anyhow::Result;
use azs_support::{Record, Value};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How long sessions and transcripts are kept.
pub const RETENTION_DAYS: i64 = 90;

/// One session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionRecord {
    /// Format version (1).
    pub version: u32,
    /// Session id.
    pub session_id: String,
    /// Identity name.
    pub identity: String,
    /// Role.
    pub role: String,
    /// Access level at start (`-` for operators).
    pub access_level: String,
    /// Later levels, in order (version 2).
    #[serde(default)]
    pub level_changes: Vec<LevelChange>,
    /// The support request (case) of the grant a support session ran under (version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_request_id: Option<String>,
    /// `interactive`, `exec` or `shell`.
    pub kind: String,
    /// Peer address.
    pub remote: String,
    /// Start.
    pub start: DateTime<Utc>,
    /// End, once ended.
    pub end: Option<DateTime<Utc>>,
    /// Why it ended.
    pub end_reason: Option<String>,
    /// The transcript file.
    pub transcript: PathBuf,
}

/// A change of the grant's level during a session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LevelChange {
    /// When the session saw it take effect.
    pub at: DateTime<Utc>,
    /// The level from then on (`none` once the grant ended).
    pub level: String,
}

/// The record format written now.
pub const RECORD_VERSION: u32 = 3;

impl SessionRecord {
    /// Every level the session ran at, in order: `Diagnostics`, or
    /// `DiagnosticsRepair, then Diagnostics`.
    pub fn levels(&self) -> String {
        let mut s = self.access_level.clone();
        for c in &self.level_changes {
            s.push_str(", then ");
            s.push_str(&c.level);
        }
        s
    }

    fn path(dir: &Path, id: &str) -> PathBuf {
        dir.join(format!("{id}.json"))
    }

    /// Writes (or rewrites) the record.
    pub fn save(&self, state: &StateDir) -> Result<()> {
        atomic_write(
            &Self::path(&state.sessions(), &self.session_id),
            &serde_json::to_vec_pretty(self)?,
            0o600,
        )
    }

    /// The session's recording (`recordings/<id>.cast`, beside `transcripts/`).
    pub fn recording_path(&self) -> PathBuf {
        let root = self
            .transcript
            .parent()
            .and_then(Path::parent)
            .unwrap_or_else(|| Path::new("."));
        root.join("recordings")
            .join(format!("{}.cast", self.session_id))
    }

    /// The record as `Get-RemoteSupportSessionHistory` shows it.
    pub fn to_value(&self, transcript: Option<String>) -> Value {
        let mut r = Record::new("RemoteSupport.SessionHistory")
            .with("SessionId", self.session_id.clone())
            .with("Identity", self.identity.clone())
            .with("SessionStartTime", self.start)
            .with("SessionEndTime", self.end)
            .with("AccessLevel", self.levels())
            .with("SupportRequestId", self.support_request_id.clone())
            .with("TranscriptLocation", self.transcript.display().to_string())
            .with(
                "RecordingLocation",
                self.recording_path().display().to_string(),
            );
        if let Some(t) = transcript {
            r = r.with("Transcript", t);
        }
        r.into()
    }
}

/// Every session record (unreadable files are skipped with a warning), oldest first.
pub fn load_all(state: &StateDir) -> Vec<SessionRecord> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(state.sessions()) else {
        return out;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        match std::fs::read(&path)
            .map_err(anyhow::Error::from)
            .and_then(|b| Ok(serde_json::from_slice::<SessionRecord>(&b)?))
        {
            Ok(r) => out.push(r),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "skipping unreadable session record")
            }
        }
    }
    out.sort_by_key(|r| r.start);
    out
}

/// Which sessions `Get-RemoteSupportSessionHistory` lists.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Sessions still open or ended at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Identity names (wildcards, case-insensitive); empty: every identity.
    pub identity: Vec<String>,
    /// Only sessions under a grant for this support request (exact, case-insensitive).
    pub support_request_id: Option<String>,
}

impl Filter {
    /// Whether `rec` is one of the sessions asked for (`now` stands for the end of open ones).
    pub fn admits(&self, rec: &SessionRecord, now: DateTime<Utc>) -> bool {
        self.from.is_none_or(|from| rec.end.unwrap_or(now) >= from)
            && (self.identity.is_empty()
                || self
                    .identity
                    .iter()
                    .any(|p| azs_support::wildcard::wildcard_match(p, &rec.identity)))
            && self.support_request_id.as_ref().is_none_or(|want| {
                rec.support_request_id
                    .as_ref()
                    .is_some_and(|sr| sr.eq_ignore_ascii_case(want))
            })
    }
}

/// The sessions `filter` admits, oldest first.
pub fn select(state: &StateDir, filter: &Filter, now: DateTime<Utc>) -> Vec<SessionRecord> {
    load_all(state)
        .into_iter()
        .filter(|r| filter.admits(r, now))
        .collect()
}

/// One session by id.
pub fn find(state: &StateDir, id: &str) -> Option<SessionRecord> {
    if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return None;
    }
    let bytes = std::fs::read(SessionRecord::path(&state.sessions(), id)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Closes records left open by a process that died, and removes sessions, transcripts,
/// recordings and working directories older than the retention period. Returns how many sessions were removed.
pub fn maintain(state: &StateDir, now: DateTime<Utc>) -> usize {
    let mut removed = 0;
    for mut rec in load_all(state) {
        if rec.end.is_none() {
            let path = SessionRecord::path(&state.sessions(), &rec.session_id);
            let mtime = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .map(DateTime::<Utc>::from)
                .unwrap_or(now);
            rec.end = Some(mtime.max(rec.start));
            rec.end_reason = Some("server stopped".into());
            if let Err(e) = rec.save(state) {
                tracing::warn!(error = %e, "could not close a stale session record");
            }
        }
        let ended = rec.end.unwrap_or(now);
        if now - ended > Duration::days(RETENTION_DAYS) {
            let _ = std::fs::remove_file(&rec.transcript);
            let _ = std::fs::remove_file(rec.recording_path());
            let _ = std::fs::remove_file(SessionRecord::path(&state.sessions(), &rec.session_id));
            removed += 1;
        }
    }
    if let Ok(dir) = std::fs::read_dir(state.workdirs()) {
        for entry in dir.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .map(|t| now - DateTime::<Utc>::from(t) > Duration::days(RETENTION_DAYS))
                .unwrap_or(false);
            if old {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(
        id: &str,
        start: DateTime<Utc>,
        end: Option<DateTime<Utc>>,
        dir: &Path,
    ) -> SessionRecord {
        SessionRecord {
            version: 1,
            session_id: id.into(),
            identity: "eve".into(),
            role: "support".into(),
            access_level: "Diagnostics".into(),
            level_changes: Vec::new(),
            support_request_id: None,
            kind: "exec".into(),
            remote: "127.0.0.1:1".into(),
            start,
            end,
            end_reason: None,
            transcript: dir.join(format!("{id}.txt")),
        }
    }

    #[test]
    fn select_by_period_identity_and_support_request() {
        let tmp = tempfile::tempdir().expect("tmp");
        let st = StateDir::open(tmp.path()).expect("state");
        let now = Utc::now();
        let mut sam = rec("s1", now - Duration::hours(3), Some(now), &st.transcripts());
        sam.identity = "sam".into();
        sam.support_request_id = Some("2611210001".into());
        sam.save(&st).expect("save");
        let mut sue = rec("s2", now - Duration::hours(2), None, &st.transcripts());
        sue.identity = "Sue".into();
        sue.support_request_id = Some("2611210002".into());
        sue.save(&st).expect("save");
        let mut olivia = rec(
            "o1",
            now - Duration::days(9),
            Some(now - Duration::days(8)),
            &st.transcripts(),
        );
        olivia.identity = "olivia".into();
        olivia.role = "operator".into();
        olivia.save(&st).expect("save");
        let ids = |f: Filter| -> Vec<String> {
            select(&st, &f, now)
                .into_iter()
                .map(|r| r.session_id)
                .collect()
        };
        assert_eq!(ids(Filter::default()), ["o1", "s1", "s2"]);
        let id = |p: &[&str]| Filter {
            identity: p.iter().map(|s| s.to_string()).collect(),
            ..Filter::default()
        };
        assert_eq!(ids(id(&["s*"])), ["s1", "s2"]);
        assert_eq!(ids(id(&["SUE"])), ["s2"]);
        assert_eq!(ids(id(&["[o-r]*"])), ["o1"]);
        assert_eq!(ids(id(&["nobody"])), Vec::<String>::new());
        let sr = |s: &str| Filter {
            support_request_id: Some(s.into()),
            ..Filter::default()
        };
        assert_eq!(ids(sr("2611210002")), ["s2"]);
        assert_eq!(ids(sr("999")), Vec::<String>::new());
        let recent = Filter {
            from: Some(now - Duration::days(7)),
            identity: vec!["*".into()],
            support_request_id: Some("2611210001".into()),
        };
        assert_eq!(ids(recent), ["s1"]);
        // Records written before version 3 have no support request: read as none.
        let v2 = r#"{"version":2,"session_id":"old","identity":"eve","role":"support","access_level":"Diagnostics","kind":"exec","remote":"x","start":"2026-01-01T00:00:00Z","end":null,"end_reason":null,"transcript":"/t"}"#;
        let old: SessionRecord = serde_json::from_str(v2).expect("version 2 reads");
        assert_eq!(old.support_request_id, None);
        let shown = sam.to_value(None);
        assert_eq!(
            shown.as_record().and_then(|r| r.get("SupportRequestId")),
            Some(&Value::from("2611210001"))
        );
    }

    #[test]
    fn retention_and_stale_records() {
        let tmp = tempfile::tempdir().expect("tmp");
        let st = StateDir::open(tmp.path()).expect("state");
        let now = Utc::now();
        let old = rec(
            "old",
            now - Duration::days(100),
            Some(now - Duration::days(95)),
            &st.transcripts(),
        );
        std::fs::write(&old.transcript, "x").expect("t");
        old.save(&st).expect("save");
        rec("open", now - Duration::hours(1), None, &st.transcripts())
            .save(&st)
            .expect("save");
        assert_eq!(maintain(&st, now), 1);
        assert!(!old.transcript.exists());
        let all = load_all(&st);
        assert_eq!(all.len(), 1);
        assert!(all[0].end.is_some(), "stale record closed");
        assert!(find(&st, "open").is_some());
        assert!(find(&st, "../x").is_none());
    }
}
