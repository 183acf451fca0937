//! The audit log: every security event as one line of JSON, hash-chained, append-only, with
//! checkpoints signed by the endpoint's host key, so that an edit, a deletion, a swap, an
//! insertion or a cut tail is found by `pep audit verify` ([`crate::audit_verify`]).
//!
//! Files (under the state directory, 0600, in `audit/`, format version 1):
//! - `audit.jsonl`: one event per line, fields in this order:
//!   `{"v":1,"seq":N,"time":"<RFC 3339>","event":"<kind>", ...the event's fields...,
//!   "prev":"<hex SHA-256 of the exact bytes of line N-1, without its newline>"}`. `seq` starts at
//!   1 and grows by one; the first line's `prev` is 64 zeros. Kinds: `login`, `login_refused`,
//!   `command`, `command_refused`, `session_end`, `grant_enabled`, `grant_changed`,
//!   `grant_revoked`, `identity_added`, `identity_removed`, `vendor_key_added`,
//!   `vendor_key_removed`, `elevation_requested`, `elevation_granted`, `elevation_refused`,
//!   `elevation_ended`, `upload`, `retention_swept`, `checkpoint`.
//! - `checkpoints.jsonl`: `{"v":1,"seq":N,"head":"<hex SHA-256 of line N>","time":"...",
//!   "signature":"<SSHSIG armored text, namespace pep-audit>"}` signing the bytes
//!   `pep-audit checkpoint v1 seq=N head=<hex>`. One is written every [`CHECKPOINT_EVERY`]
//!   lines and when the server stops, so a tail cut after the last checkpoint is found.
//! - `audit.lock`: empty; every writer (the server, `pep identity`, `pep vendor-key`) holds an
//!   exclusive `flock` on it while it reads the last line and appends, so processes never fork
//!   the chain.
//!
//! A line is written (the kernel has it, the disk had room) before [`AuditLog::append`] returns:
//! a caller that gets an error must refuse the action it was about to take (fail closed), except
//! a revocation, which goes ahead. It reaches the disk within [`SYNC_EVERY`]: a background
//! `fdatasync` covers every line written since the last (auditd's `incremental_async`), and a
//! checkpoint, a stop of the server and [`AuditLog::sync`] sync at once. A record of what has
//! already happened (a command's outcome, [`AuditLog::append_after`]) is queued instead and
//! written with the next line any appender writes, or by the background sync: one write, one
//! lock, for a command and the outcome of the one before. The writer keeps the last
//! line's length, sequence and hash, and reads the tail again only when the file's length or
//! identity shows another process appended or it was replaced.

use crate::state::{set_mode, StateDir};
use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use russh::keys::ssh_key::LineEnding;
use russh::keys::{HashAlg, PrivateKey};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Format version of both files.
pub const VERSION: u64 = 1;
/// A checkpoint is signed after this many lines.
pub const CHECKPOINT_EVERY: u64 = 64;
/// The SSHSIG namespace of checkpoints.
pub const NAMESPACE: &str = "pep-audit";
/// The longest a written line waits for its sync.
pub const SYNC_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Bytes of `checkpoints.jsonl` read to find its last checkpoint (a line is under 1 KiB).
const CHECKPOINT_TAIL: u64 = 64 << 10;

/// Events queued by [`AuditLog::append_after`] beyond this are dropped (and logged): a log
/// that cannot be written for long refuses every action meanwhile, so few queue.
const MAX_QUEUED: usize = 100_000;

/// The `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The message a checkpoint signs.
pub fn checkpoint_message(seq: u64, head: &str) -> String {
    format!("pep-audit checkpoint v1 seq={seq} head={head}")
}

/// The audit log of a state directory.
#[derive(Clone)]
pub struct AuditLog {
    dir: PathBuf,
    host_key: PathBuf,
    shared: std::sync::Arc<Shared>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").field("dir", &self.dir).finish()
    }
}

/// What the appenders of one process share.
#[derive(Default)]
struct Shared {
    /// The open file and its last line, as this process last wrote or read it.
    writer: std::sync::Mutex<Option<Writer>>,
    /// The highest sequence number known synced to disk (held while syncing).
    synced: std::sync::Mutex<u64>,
    /// Whether the background sync runs.
    syncer: std::sync::OnceLock<()>,
    /// `audit.lock`, kept open.
    lock_file: std::sync::OnceLock<File>,
    /// The last line a checkpoint this process signed or read covers.
    checkpointed: std::sync::atomic::AtomicU64,
    /// The host key that signs checkpoints, read once.
    key: std::sync::OnceLock<PrivateKey>,
    /// Records of what already happened ([`AuditLog::append_after`]), written with the next
    /// line or by the background sync.
    queued: std::sync::Mutex<Vec<Event>>,
}

/// An event not yet written.
struct Event {
    time: DateTime<Utc>,
    kind: String,
    fields: Value,
}

/// Holds the cross-process lock; releases it when dropped.
struct Flock<'a>(&'a File);

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

struct Writer {
    file: File,
    /// The file's device and inode, to see it replaced.
    id: (u64, u64),
    len: u64,
    head: Head,
}

/// The last line of the log: its sequence number and hash.
#[derive(Clone)]
struct Head {
    seq: u64,
    hash: String,
}

impl AuditLog {
    /// The audit log under `state` (its folder is created 0700).
    pub fn open(state: &StateDir) -> Result<Self> {
        let dir = state.root().join("audit");
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        set_mode(&dir, 0o700)?;
        Ok(AuditLog {
            dir,
            host_key: state.host_key(),
            shared: Default::default(),
        })
    }

    /// The event lines.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("audit.jsonl")
    }

    /// The signed checkpoints.
    pub fn checkpoints_path(&self) -> PathBuf {
        self.dir.join("checkpoints.jsonl")
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.join("audit.lock")
    }

    /// Appends event `kind` with `fields` (an object; never secrets) at `time`, synced; signs a
    /// checkpoint when one is due. Returns the line's sequence number.
    pub fn append(&self, time: DateTime<Utc>, kind: &str, fields: Value) -> Result<u64> {
        let event = Event {
            time,
            kind: kind.to_string(),
            fields,
        };
        let seq = self.write_lines(Some(event))?;
        self.schedule_sync();
        Ok(seq)
    }

    /// Records event `kind` that has already happened (a command's outcome): it is written with
    /// the next line any appender writes, or by the background sync within [`SYNC_EVERY`], in
    /// the order queued. Nothing waits for the disk here; a failure to write it is the next
    /// appender's error (and it stays queued for the one after).
    pub fn append_after(&self, time: DateTime<Utc>, kind: &str, fields: Value) {
        let mut queued = self.shared.queued.lock().unwrap_or_else(|p| p.into_inner());
        if queued.len() >= MAX_QUEUED {
            tracing::error!(
                kind,
                "the audit log's queue is full; an event record was dropped"
            );
            return;
        }
        queued.push(Event {
            time,
            kind: kind.to_string(),
            fields,
        });
        drop(queued);
        self.schedule_sync();
    }

    /// Writes the queued events, then `event`, after the last line (under the cross-process
    /// lock), in one write; the last line's sequence number. Not yet synced.
    fn write_lines(&self, event: Option<Event>) -> Result<u64> {
        // This process's appenders one at a time, then the other processes' (flock).
        let mut slot = self.shared.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut events =
            std::mem::take(&mut *self.shared.queued.lock().unwrap_or_else(|p| p.into_inner()));
        let queued = events.len();
        events.extend(event);
        let written = self.write_events(&mut slot, &events);
        if written.is_err() && queued > 0 {
            // What was queued waits for the next try, ahead of anything queued since.
            let mut q = self.shared.queued.lock().unwrap_or_else(|p| p.into_inner());
            events.truncate(queued);
            events.append(&mut q);
            *q = events;
        }
        written
    }

    fn write_events(&self, slot: &mut Option<Writer>, events: &[Event]) -> Result<u64> {
        if events.is_empty() {
            return Ok(slot.as_ref().map_or(0, |w| w.head.seq));
        }
        let _flock = self.flock()?;
        let w = self.refresh(slot)?;
        let mut bytes = Vec::new();
        let mut head = w.head.clone();
        for e in events {
            let text = line_text(head.seq + 1, e, &head.hash)?;
            bytes.extend_from_slice(text.as_bytes());
            bytes.push(b'\n');
            head = Head {
                seq: head.seq + 1,
                hash: sha256_hex(text.as_bytes()),
            };
        }
        if let Err(e) = w.file.write_all(&bytes) {
            // Nothing half-written stays: the next line must chain to a whole one.
            let _ = w.file.set_len(w.len);
            *slot = None;
            return Err(anyhow!("the audit log could not be written: {e}"));
        }
        w.len += bytes.len() as u64;
        let seq = head.seq;
        w.head = head;
        Ok(seq)
    }

    /// Rewrites the whole log under both locks: `edit` gets its bytes and the heads of its
    /// checkpoints, and returns the new bytes (which replace the log in one rename) and what to
    /// return, or `None` to leave it as it is.
    pub(crate) fn rewrite<T>(
        &self,
        edit: impl FnOnce(
            &[u8],
            &std::collections::HashMap<u64, String>,
        ) -> Result<Option<(Vec<u8>, T)>>,
    ) -> Result<Option<T>> {
        let mut slot = self.shared.writer.lock().unwrap_or_else(|p| p.into_inner());
        let _flock = self.flock()?;
        let bytes = match fs::read(self.log_path()) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let heads = crate::audit_prune::checkpoint_heads(&self.checkpoints_path())?;
        let Some((new, out)) = edit(&bytes, &heads)? else {
            return Ok(None);
        };
        crate::state::atomic_write(&self.log_path(), &new, 0o600)?;
        // The next appender reads the new file's head.
        *slot = None;
        *self.shared.synced.lock().unwrap_or_else(|p| p.into_inner()) = 0;
        Ok(Some(out))
    }

    /// Takes the cross-process lock (held until the guard drops).
    fn flock(&self) -> Result<Flock<'_>> {
        let lock_file = match self.shared.lock_file.get() {
            Some(f) => f,
            None => {
                let f = open_append(&self.lock_path())?;
                self.shared.lock_file.get_or_init(|| f)
            }
        };
        lock_file
            .lock()
            .with_context(|| format!("locking {}", self.lock_path().display()))?;
        Ok(Flock(lock_file))
    }

    /// The writer, its head brought up to date (called under [`Self::flock`]): another process
    /// may have appended since (its lines are the chain's head then), or the file may have been
    /// replaced; then the tail is read again.
    fn refresh<'a>(&self, slot: &'a mut Option<Writer>) -> Result<&'a mut Writer> {
        let current = slot.as_ref().is_some_and(|w| {
            use std::os::unix::fs::MetadataExt;
            fs::metadata(self.log_path())
                .is_ok_and(|m| (m.dev(), m.ino(), m.len()) == (w.id.0, w.id.1, w.len))
        });
        if !current {
            let mut file = open_append(&self.log_path())?;
            let head = last_line(&mut file)?;
            let len = file.seek(SeekFrom::End(0))?;
            let meta = file.metadata()?;
            let id = {
                use std::os::unix::fs::MetadataExt;
                (meta.dev(), meta.ino())
            };
            *slot = Some(Writer {
                file,
                id,
                len,
                head,
            });
        }
        slot.as_mut()
            .ok_or_else(|| anyhow!("the audit log could not be opened"))
    }

    /// The log's last line now (read under the locks, which are released on return).
    fn head(&self) -> Result<Head> {
        self.write_lines(None)?;
        let mut slot = self.shared.writer.lock().unwrap_or_else(|p| p.into_inner());
        let _flock = self.flock()?;
        Ok(self.refresh(&mut slot)?.head.clone())
    }

    /// Starts the background sync of this log (once per process).
    fn schedule_sync(&self) {
        let (dir, host_key) = (self.dir.clone(), self.host_key.clone());
        let shared = std::sync::Arc::downgrade(&self.shared);
        self.shared.syncer.get_or_init(move || {
            let spawned = std::thread::Builder::new()
                .name("audit-sync".into())
                .spawn(move || loop {
                    std::thread::sleep(SYNC_EVERY);
                    // Ends with the log's last handle.
                    let Some(shared) = shared.upgrade() else {
                        return;
                    };
                    let log = AuditLog {
                        dir: dir.clone(),
                        host_key: host_key.clone(),
                        shared,
                    };
                    if let Err(e) = log.maintain(Utc::now()) {
                        tracing::error!(error = %e, "the audit log could not be synced or checkpointed");
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "the audit log's sync thread did not start");
            }
        });
    }

    /// What the background thread does every [`SYNC_EVERY`]: puts the lines written on disk,
    /// and signs a checkpoint once [`CHECKPOINT_EVERY`] lines are past the last one.
    pub fn maintain(&self, now: DateTime<Utc>) -> Result<()> {
        self.sync()?;
        let written = self.written();
        let signed = self
            .shared
            .checkpointed
            .load(std::sync::atomic::Ordering::SeqCst);
        if written >= signed + CHECKPOINT_EVERY {
            self.checkpoint(now)?;
        }
        Ok(())
    }

    /// The last line this process wrote or read (0: none yet).
    fn written(&self) -> u64 {
        self.shared
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map_or(0, |w| w.head.seq)
    }

    /// Writes what is queued and puts every line written so far on disk.
    pub fn sync(&self) -> Result<()> {
        self.write_lines(None)?;
        let written = self.written();
        if written == 0 {
            return Ok(());
        }
        self.sync_to(written)
    }

    /// Returns once line `seq` is on disk: one sync covers every line written before it.
    fn sync_to(&self, seq: u64) -> Result<()> {
        let mut synced = self.shared.synced.lock().unwrap_or_else(|p| p.into_inner());
        if *synced >= seq {
            return Ok(());
        }
        let (file, upto) = {
            let slot = self.shared.writer.lock().unwrap_or_else(|p| p.into_inner());
            match slot.as_ref() {
                Some(w) => (w.file.try_clone()?, w.head.seq),
                None => return Err(anyhow!("the audit log could not be written")),
            }
        };
        file.sync_data()
            .map_err(|e| anyhow!("the audit log could not be written: {e}"))?;
        *synced = upto.max(*synced);
        Ok(())
    }

    /// Signs a checkpoint of the log's last line now (the server does when it stops). Nothing
    /// when the log is empty or its last line has one.
    ///
    /// Appenders wait only while the head is read: the line is synced, signed and its checkpoint
    /// written and synced under the checkpoints file's own lock, which keeps checkpoints in order
    /// between processes.
    pub fn checkpoint(&self, time: DateTime<Utc>) -> Result<()> {
        let head = self.head()?;
        if head.seq == 0 {
            return Ok(());
        }
        // A checkpoint never covers a line that is not on disk (fdatasync is per file, so this
        // covers lines other processes wrote too).
        self.sync_to(head.seq)?;
        let file = open_append(&self.checkpoints_path())?;
        file.lock()
            .with_context(|| format!("locking {}", self.checkpoints_path().display()))?;
        let _flock = Flock(&file);
        if let Some((seq, _)) = last_checkpoint(&self.checkpoints_path())? {
            self.shared
                .checkpointed
                .fetch_max(seq, std::sync::atomic::Ordering::SeqCst);
            if seq >= head.seq {
                return Ok(());
            }
        }
        self.write_checkpoint(&file, head.seq, &head.hash, time)?;
        self.shared
            .checkpointed
            .fetch_max(head.seq, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    fn write_checkpoint(
        &self,
        mut file: &File,
        seq: u64,
        head: &str,
        time: DateTime<Utc>,
    ) -> Result<()> {
        let key = match self.shared.key.get() {
            Some(k) => k,
            None => {
                let k = crate::host_key::load_or_create(&self.host_key)?;
                self.shared.key.get_or_init(|| k)
            }
        };
        let sig = key
            .sign(
                NAMESPACE,
                HashAlg::Sha512,
                checkpoint_message(seq, head).as_bytes(),
            )
            .map_err(|e| anyhow!("signing a checkpoint: {e}"))?;
        let pem = sig
            .to_pem(LineEnding::LF)
            .map_err(|e| anyhow!("encoding a checkpoint signature: {e}"))?;
        let line = serde_json::json!({
            "v": VERSION,
            "seq": seq,
            "head": head,
            "time": time.to_rfc3339_opts(SecondsFormat::Millis, true),
            "signature": pem,
        });
        let mut bytes = serde_json::to_vec(&line)?;
        bytes.push(b'\n');
        file.write_all(&bytes)?;
        file.sync_data()?;
        Ok(())
    }
}

/// Line `seq` of the log: event `kind` at `time` with `fields`, chained to `prev`.
pub(crate) fn line_text_of(
    seq: u64,
    time: DateTime<Utc>,
    kind: &str,
    fields: &Value,
    prev: &str,
) -> Result<String> {
    line_text(
        seq,
        &Event {
            time,
            kind: kind.to_string(),
            fields: fields.clone(),
        },
        prev,
    )
}

/// Line `seq` of the log for `event`, chained to `prev` (without its newline).
fn line_text(seq: u64, event: &Event, prev: &str) -> Result<String> {
    // The fixed fields first and `prev` last, the event's own in between (sorted by name).
    // Borrowed, not copied: this runs for every line (serde_json's map is ordered by key too).
    let own: std::collections::BTreeMap<&str, &Value> = match &event.fields {
        Value::Object(f) => f
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "v" | "seq" | "time" | "event" | "prev"))
            .map(|(k, v)| (k.as_str(), v))
            .collect(),
        _ => Default::default(),
    };
    let own = serde_json::to_string(&own)?;
    let own = own
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or_default();
    Ok(format!(
        r#"{{"v":{VERSION},"seq":{seq},"time":{},"event":{}{}{own},"prev":"{prev}"}}"#,
        Value::from(event.time.to_rfc3339_opts(SecondsFormat::Millis, true)),
        Value::from(event.kind.as_str()),
        if own.is_empty() { "" } else { "," },
    ))
}

fn open_append(path: &Path) -> Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).append(true).create(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// The last whole line of the log (seq 0 and the genesis hash when it is empty).
fn last_line(file: &mut File) -> Result<Head> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(Head {
            seq: 0,
            hash: GENESIS.into(),
        });
    }
    // Lines are short (a command line is capped well below this): the last one fits.
    let start = len.saturating_sub(256 << 10);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    let body = tail.strip_suffix(b"\n").ok_or_else(|| {
        anyhow!("the audit log does not end with a whole line; run `pep audit verify`")
    })?;
    let line = match body.iter().rposition(|b| *b == b'\n') {
        Some(i) => &body[i + 1..],
        None if start == 0 => body,
        None => return Err(anyhow!("the audit log's last line is too long")),
    };
    let v: Value = serde_json::from_slice(line).map_err(|e| {
        anyhow!("the audit log's last line is not JSON ({e}); run `pep audit verify`")
    })?;
    let seq = v
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or_else(|| anyhow!("the audit log's last line has no seq"))?;
    Ok(Head {
        seq,
        hash: sha256_hex(line),
    })
}

/// The last checkpoint's sequence number and head, if any.
pub fn last_checkpoint(path: &Path) -> Result<Option<(u64, String)>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    // Only the tail is read: the file grows by a line every few seconds at most, for years.
    let len = file.seek(SeekFrom::End(0))?;
    let start = len.saturating_sub(CHECKPOINT_TAIL);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    let text = String::from_utf8_lossy(&tail);
    Ok(text.lines().rev().find_map(|l| {
        let v: Value = serde_json::from_str(l).ok()?;
        Some((
            v.get("seq")?.as_u64()?,
            v.get("head")?.as_str()?.to_string(),
        ))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log() -> (tempfile::TempDir, AuditLog) {
        let tmp = tempfile::tempdir().expect("tmp");
        let state = StateDir::open(tmp.path()).expect("state");
        crate::host_key::load_or_create(&state.host_key()).expect("host key");
        let log = AuditLog::open(&state).expect("audit");
        (tmp, log)
    }

    #[test]
    fn lines_chain_to_the_exact_bytes_of_the_one_before() {
        let (_tmp, log) = log();
        let now = Utc::now();
        assert_eq!(
            log.append(now, "login", json!({"identity": "sam"}))
                .expect("1"),
            1
        );
        assert_eq!(
            log.append(now, "command", json!({"line": "Get-X"}))
                .expect("2"),
            2
        );
        let text = fs::read_to_string(log.log_path()).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let first: Value = serde_json::from_str(lines[0]).expect("json");
        let second: Value = serde_json::from_str(lines[1]).expect("json");
        assert_eq!(first["prev"], GENESIS);
        assert_eq!(second["prev"], sha256_hex(lines[0].as_bytes()));
        assert_eq!(second["seq"], 2);
        assert!(
            lines[0].starts_with(r#"{"v":1,"seq":1,"time":"#),
            "{}",
            lines[0]
        );
        assert!(lines[0].ends_with(&format!(r#""prev":"{GENESIS}"}}"#)));
    }

    #[test]
    fn concurrent_appenders_and_another_process_keep_one_chain() {
        let (tmp, log) = log();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        log.append(Utc::now(), "command", json!({ "t": t, "i": i }))
                            .expect("append");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        // Another process (its own writer) appends, then this one again.
        let state = StateDir::open_existing(tmp.path()).expect("state");
        AuditLog::open(&state)
            .expect("other")
            .append(Utc::now(), "identity_added", json!({}))
            .expect("other append");
        log.append(Utc::now(), "command", json!({})).expect("after");
        log.checkpoint(Utc::now()).expect("checkpoint");
        let key = crate::host_key::load_or_create(&state.host_key()).expect("key");
        let v =
            crate::audit_verify::verify(&log.log_path(), &log.checkpoints_path(), key.public_key())
                .expect("verify");
        // (The background sync may have signed one more checkpoint meanwhile.)
        assert!(
            matches!(
                v,
                crate::audit_verify::Verdict::Intact {
                    lines: 202,
                    checkpoints: 1..,
                    covered: 202
                }
            ),
            "{v:?}"
        );
    }

    #[test]
    fn outcomes_are_written_with_the_next_line_or_by_a_sync_in_order() {
        let (_tmp, log) = log();
        log.append(Utc::now(), "command", json!({"line": "a"}))
            .expect("a");
        log.append_after(Utc::now(), "command_result", json!({"line": "a"}));
        let lines = |log: &AuditLog| fs::read_to_string(log.log_path()).expect("read");
        assert_eq!(lines(&log).lines().count(), 1, "queued, not yet written");
        log.append(Utc::now(), "command", json!({"line": "b"}))
            .expect("b");
        let text = lines(&log);
        let kinds: Vec<_> = text
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("json");
                (v["seq"].as_u64().expect("seq"), v["event"].to_string())
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                (1, "\"command\"".to_string()),
                (2, "\"command_result\"".to_string()),
                (3, "\"command\"".to_string())
            ]
        );
        log.append_after(Utc::now(), "command_result", json!({"line": "b"}));
        log.sync().expect("sync");
        assert_eq!(
            lines(&log).lines().count(),
            4,
            "the sync writes what is queued"
        );
        log.checkpoint(Utc::now()).expect("checkpoint");
        assert_eq!(
            last_checkpoint(&log.checkpoints_path()).expect("read"),
            Some((
                4,
                sha256_hex(lines(&log).lines().last().expect("last").as_bytes())
            ))
        );
    }

    #[test]
    fn an_outcome_that_cannot_be_written_waits_for_the_next_line() {
        let (_tmp, log) = log();
        log.append(Utc::now(), "login", json!({})).expect("first");
        let target = log.log_path();
        let kept = target.with_extension("kept");
        fs::rename(&target, &kept).expect("mv");
        std::os::unix::fs::symlink("/dev/full", &target).expect("symlink");
        log.append_after(Utc::now(), "command_result", json!({}));
        assert!(log.append(Utc::now(), "command", json!({})).is_err());
        fs::remove_file(&target).expect("rm");
        fs::rename(&kept, &target).expect("back");
        log.append(Utc::now(), "command", json!({}))
            .expect("room again");
        let text = fs::read_to_string(&target).expect("read");
        let kinds: Vec<_> = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("json")["event"].to_string())
            .collect();
        assert_eq!(
            kinds,
            vec!["\"login\"", "\"command_result\"", "\"command\""],
            "the refused command is not recorded as run; the queued outcome is kept"
        );
    }

    #[test]
    fn a_log_that_cannot_be_written_is_an_error_and_keeps_no_partial_line() {
        let (_tmp, log) = log();
        log.append(Utc::now(), "login", json!({})).expect("first");
        // /dev/full takes no byte: every write fails with ENOSPC.
        let full = AuditLog {
            dir: log.dir.clone(),
            host_key: log.host_key.clone(),
            shared: Default::default(),
        };
        let target = full.log_path();
        fs::remove_file(&target).expect("rm");
        std::os::unix::fs::symlink("/dev/full", &target).expect("symlink");
        let e = full
            .append(Utc::now(), "command", json!({}))
            .expect_err("full disk");
        assert!(e.to_string().contains("could not be written"), "{e}");
    }

    #[test]
    fn checkpoints_are_signed_every_so_often_and_at_the_end() {
        let (_tmp, log) = log();
        let now = Utc::now();
        let seal = |log: &AuditLog| {
            last_checkpoint(&log.checkpoints_path())
                .expect("read")
                .map(|c| c.0)
        };
        for _ in 0..CHECKPOINT_EVERY - 1 {
            log.append(now, "command", json!({})).expect("append");
        }
        // Not due yet.
        log.maintain(now).expect("maintain");
        assert_eq!(seal(&log), None);
        for _ in 0..4 {
            log.append(now, "command", json!({})).expect("append");
        }
        log.maintain(now).expect("due");
        assert_eq!(seal(&log), Some(CHECKPOINT_EVERY + 3));
        log.append(now, "command", json!({})).expect("append");
        log.checkpoint(now).expect("at the end");
        log.checkpoint(now).expect("again: nothing new");
        let text = fs::read_to_string(log.checkpoints_path()).expect("read");
        assert_eq!(text.lines().count(), 2);
        assert_eq!(seal(&log), Some(CHECKPOINT_EVERY + 4));
    }
}
