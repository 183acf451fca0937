//! Log collection history: one record per collection or upload, kept 90 days.
//!
//! `log-collections/<id>.json` (format version 1), written atomically when the collection ends:
//! `{"version":1,"id":"AzureStackLogs-20261201101500-default","command":"Send-AzureStackDiagnosticLog",
//! "identity":"eve","role":"support","session_id":"...","grant_id":3,"support_request_id":"123",
//! "started":"...","ended":"...","from":"...","to":"...","roles":["ECE"],"nodes":[],
//! "destination":"devstoreaccount1/vendor","obfuscated":false,"files":[{"name":"...","length":1,
//! "content_md5":"...","sha256":"...","status":"Uploaded"}],"status":"Succeeded","error":null}`.
//! `destination` is the storage account and container (never a SAS) or `working directory`.
//! `status`: `Succeeded`, `Failed`, `Cancelled` (the grant ended, Ctrl-C, or the timeout).

use crate::state::{atomic_write, StateDir};
use azs_support::logs::pipeline::BlobRecord;
use azs_support::{Record, Value};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Format version.
pub const VERSION: u32 = 1;
/// How long records are kept.
pub const RETENTION_DAYS: i64 = 90;

/// One collection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CollectionRecord {
    /// Format version.
    pub version: u32,
    /// Collection id (its directory name).
    pub id: String,
    /// The command that ran it.
    pub command: String,
    /// Who.
    pub identity: String,
    /// `operator` or `support`.
    pub role: String,
    /// The session.
    pub session_id: String,
    /// The grant a support session ran under.
    pub grant_id: Option<u64>,
    /// The case.
    pub support_request_id: Option<String>,
    /// Start.
    pub started: DateTime<Utc>,
    /// End.
    pub ended: DateTime<Utc>,
    /// Window start.
    pub from: Option<DateTime<Utc>>,
    /// Window end.
    pub to: Option<DateTime<Utc>>,
    /// Roles asked for (empty: all).
    pub roles: Vec<String>,
    /// Nodes asked for (empty: all).
    pub nodes: Vec<String>,
    /// `account/container`, or `working directory`.
    pub destination: String,
    /// Whether obfuscation was applied.
    pub obfuscated: bool,
    /// The files.
    pub files: Vec<BlobRecord>,
    /// `Succeeded`, `Failed` or `Cancelled`.
    pub status: String,
    /// Why it failed.
    pub error: Option<String>,
}

fn dir(state: &StateDir) -> PathBuf {
    state.root().join("log-collections")
}

impl CollectionRecord {
    /// Saves the record (0600).
    pub fn save(&self, state: &StateDir) -> anyhow::Result<()> {
        let d = dir(state);
        std::fs::create_dir_all(&d)?;
        let name: String = self
            .id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let bytes = serde_json::to_vec_pretty(self)?;
        atomic_write(
            &d.join(format!("{}-{name}.json", self.started.timestamp_millis())),
            &bytes,
            0o600,
        )
    }

    /// Bytes of all files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.length).sum()
    }

    /// The record as the history command shows it.
    pub fn to_value(&self, with_files: bool) -> Value {
        let mb = (self.bytes() as f64 / 1_048_576.0 * 100.0).round() / 100.0;
        let mut r = Record::new("AzureStack.LogCollection")
            .with("LogCollectionId", self.id.clone())
            .with("TimeCollected", self.started)
            .with("Identity", self.identity.clone())
            .with("Role", self.role.clone())
            .with("SessionId", self.session_id.clone())
            .with("SupportRequestId", self.support_request_id.clone())
            .with("Command", self.command.clone())
            .with("Status", self.status.clone())
            .with("CollectionFromDate", self.from)
            .with("CollectionToDate", self.to)
            .with("Roles", self.roles.join(","))
            .with("Nodes", self.nodes.join(","))
            .with("Destination", self.destination.clone())
            .with("Obfuscated", self.obfuscated)
            .with("UploadSizeMB", mb)
            .with("UploadNumberOfFiles", self.files.len() as i64)
            .with("Error", self.error.clone());
        if with_files {
            let files: Vec<Value> = self.files.iter().map(blob_value).collect();
            r = r.with("Files", Value::Array(files));
        }
        r.into()
    }
}

/// One file of a collection as commands show it.
pub fn blob_value(b: &BlobRecord) -> Value {
    Record::new("AzureStack.LogBlob")
        .with("Name", b.name.clone())
        .with("Length", b.length as i64)
        .with("ContentMD5", b.content_md5.clone())
        .with("Sha256", b.sha256.clone())
        .with("Status", b.status.clone())
        .with("BlocksSent", i64::from(b.blocks_sent))
        .with("BlocksSkipped", i64::from(b.blocks_skipped))
        .into()
}

/// Every record, oldest first (unreadable ones skipped with a warning).
pub fn load_all(state: &StateDir) -> Vec<CollectionRecord> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir(state)) else {
        return out;
    };
    for e in rd.flatten() {
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        match std::fs::read(&path)
            .map_err(anyhow::Error::from)
            .and_then(|b| Ok(serde_json::from_slice::<CollectionRecord>(&b)?))
        {
            Ok(r) if r.version == VERSION => out.push(r),
            Ok(r) => {
                tracing::warn!(path = %path.display(), version = r.version, "skipping a log collection record of another version")
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "skipping unreadable log collection record")
            }
        }
    }
    out.sort_by_key(|r| r.started);
    out
}

/// Removes records older than the retention period; returns how many.
pub fn maintain(state: &StateDir, now: DateTime<Utc>) -> usize {
    let mut removed = 0;
    let Ok(rd) = std::fs::read_dir(dir(state)) else {
        return 0;
    };
    for e in rd.flatten() {
        let Ok(bytes) = std::fs::read(e.path()) else {
            continue;
        };
        let Ok(r) = serde_json::from_slice::<CollectionRecord>(&bytes) else {
            continue;
        };
        if now - r.ended > Duration::days(RETENTION_DAYS) && std::fs::remove_file(e.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, ended: DateTime<Utc>) -> CollectionRecord {
        CollectionRecord {
            version: VERSION,
            id: id.into(),
            command: "Send-AzureStackDiagnosticLog".into(),
            identity: "eve".into(),
            role: "support".into(),
            session_id: "s".into(),
            grant_id: Some(1),
            support_request_id: Some("123".into()),
            started: ended - Duration::minutes(1),
            ended,
            from: None,
            to: None,
            roles: vec!["ECE".into()],
            nodes: Vec::new(),
            destination: "acct/c".into(),
            obfuscated: false,
            files: vec![BlobRecord {
                name: "a.zip".into(),
                length: 2 << 20,
                content_md5: "x".into(),
                sha256: "y".into(),
                status: "Uploaded".into(),
                blocks_sent: 1,
                blocks_skipped: 0,
            }],
            status: "Succeeded".into(),
            error: None,
        }
    }

    #[test]
    fn records_are_kept_ninety_days_and_show_their_size() {
        let tmp = tempfile::tempdir().expect("tmp");
        let st = StateDir::open(tmp.path()).expect("state");
        let now = Utc::now();
        rec("old", now - Duration::days(91))
            .save(&st)
            .expect("save");
        rec("new", now - Duration::days(1)).save(&st).expect("save");
        assert_eq!(load_all(&st).len(), 2);
        assert_eq!(maintain(&st, now), 1);
        let all = load_all(&st);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].id, "new");
        let v = all[0].to_value(false);
        let Value::Record(r) = v else {
            panic!("a record")
        };
        assert_eq!(r.get("UploadSizeMB"), Some(&Value::Float(2.0)));
        assert_eq!(r.get("SupportRequestId"), Some(&Value::from("123")));
    }
}
