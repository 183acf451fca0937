//! The live stamp and its persistence: repair commands change the stamp, and the changed stamp is
//! kept in `<state>/stamp.json` so it survives a restart.
//!
//! `stamp.json` (format version 1), replaced atomically after every change:
//! `{"version":1,"scenario":"csv-offline","digest":"<fnv64 of the scenario>","modified":true,
//! "saved_at":"...","stamp":{...the stamp document...}}`. The stamp document carries `time`
//! (`stamp::clock::StampTime`: the clock's offset from real time and how far work in progress
//! was advanced; absent in files written before the clock existed, which read as a stamp on real
//! time). `modified` is set by repairs only: what the clock advances is saved with the flag as it
//! was, so a stamp only the clock moved may still be replaced by another scenario.
//!
//! At start: with `--reset-stamp` the scenario is loaded afresh. Otherwise a saved stamp of the
//! same scenario (same digest) is resumed; an unmodified saved stamp of another scenario is simply
//! replaced; a *modified* one of another scenario stops the start with an error, so repairs are
//! never thrown away silently.

use super::scenario::{load_scenario, resolved_text};
use super::Stamp;
use crate::atomic_file::atomic_write;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

#[derive(Serialize, Deserialize)]
struct StampFile {
    version: u32,
    scenario: String,
    digest: String,
    modified: bool,
    saved_at: chrono::DateTime<Utc>,
    stamp: Stamp,
}

/// The live stamp of an endpoint.
pub struct StampStore {
    path: PathBuf,
    scenario: String,
    digest: String,
    inner: RwLock<Stamp>,
    /// Whether a repair changed the stamp (the clock advancing work in progress does not count:
    /// a stamp only the clock moved may be replaced by another scenario).
    modified: AtomicBool,
}

/// FNV-1a, 64 bit: a stable digest of a scenario's resolved text.
fn digest(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

impl StampStore {
    /// Opens the stamp of scenario `spec` (a path or an embedded name) in `state_file`.
    pub fn open(state_file: &Path, spec: &str, reset: bool) -> Result<Self, String> {
        let fresh = load_scenario(spec).map_err(|e| e.to_string())?;
        let digest = digest(&resolved_text(&fresh));
        let mut stamp = fresh;
        // The saved stamp, when it belongs to this scenario, is used as it is: nothing to write
        // (a start on a full disk must not fail for want of rewriting it).
        let mut current_on_disk = false;
        let mut modified = false;
        if !reset {
            if let Some(saved) = read(state_file)? {
                if saved.digest == digest {
                    stamp = saved.stamp;
                    modified = saved.modified;
                    current_on_disk = true;
                } else if saved.modified {
                    return Err(format!(
                        "{}: holds the repaired stamp of scenario '{}', not of '{}'; start with --reset-stamp to discard it",
                        state_file.display(),
                        saved.scenario,
                        stamp.name
                    ));
                }
            }
        }
        stamp.attach_local_machine();
        let store = StampStore {
            path: state_file.to_path_buf(),
            scenario: stamp.name.clone(),
            digest,
            inner: RwLock::new(stamp),
            modified: AtomicBool::new(modified),
        };
        if !current_on_disk {
            store
                .write_file(&store.read(), false)
                .map_err(|e| e.to_string())?;
        }
        Ok(store)
    }

    /// Runs the real machine's programs through `prefix` (`pep serve --host-command-prefix`:
    /// tests reach a systemd container with `nsenter -t PID -a --`).
    pub fn set_machine_command_prefix(&self, prefix: &[String]) {
        let mut stamp = self.write();
        for m in &mut stamp.machines {
            m.command_prefix = prefix.to_vec();
        }
    }

    /// Sets the folders file commands may read and remove beneath on the real machine (`pep
    /// serve --host-read-root / --host-remove-root`; an empty list keeps the defaults).
    pub fn set_machine_file_roots(
        &self,
        read: &[std::path::PathBuf],
        remove: &[std::path::PathBuf],
    ) {
        let mut stamp = self.write();
        for m in &mut stamp.machines {
            if !read.is_empty() {
                m.read_roots = read.to_vec();
            }
            if !remove.is_empty() {
                m.remove_roots = remove.to_vec();
            }
        }
    }

    /// An in-memory store (tests and benchmarks): nothing is written.
    pub fn in_memory(stamp: Stamp) -> Self {
        StampStore {
            path: PathBuf::new(),
            scenario: stamp.name.clone(),
            digest: String::new(),
            inner: RwLock::new(stamp),
            modified: AtomicBool::new(false),
        }
    }

    /// Advances the stamp's work in progress to its time at real time `wall` (see
    /// `stamp::clock`) and returns that time, the `now` commands run at. What the clock changed
    /// is saved; a save that fails is logged and retried at the next change (the stamp in
    /// memory is the truth while pep runs).
    pub fn advance(&self, wall: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
        {
            // Most stamps have nothing in progress: no write lock on every command for them.
            let stamp = self.read();
            if !stamp.work_in_progress() {
                return stamp.now_at(wall);
            }
        }
        let mut stamp = self.write();
        let now = stamp.now_at(wall);
        if stamp.advance(now) {
            let modified = self.modified.load(Ordering::SeqCst);
            if let Err(e) = self.write_file(&stamp, modified) {
                tracing::warn!(error = %e, "saving the stamp after its clock advanced failed");
            }
        }
        now
    }

    /// Read access.
    pub fn read(&self) -> RwLockReadGuard<'_, Stamp> {
        // Changes are applied to the stamp only after validation, so a panic while writing
        // leaves a usable stamp: a poisoned lock is still read.
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Write access; call [`StampStore::save`] with the guard after a change.
    pub fn write(&self) -> RwLockWriteGuard<'_, Stamp> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Persists a changed stamp.
    pub fn save(&self, stamp: &Stamp) -> std::io::Result<()> {
        self.modified.store(true, Ordering::SeqCst);
        self.write_file(stamp, true)
    }

    fn write_file(&self, stamp: &Stamp, modified: bool) -> std::io::Result<()> {
        if self.path.as_os_str().is_empty() {
            return Ok(());
        }
        let file = StampFile {
            version: 1,
            scenario: self.scenario.clone(),
            digest: self.digest.clone(),
            modified,
            saved_at: Utc::now(),
            stamp: stamp.clone(),
        };
        let bytes = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
        atomic_write(&self.path, &bytes, 0o600)
    }
}

fn read(path: &Path) -> Result<Option<StampFile>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let file: StampFile = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "{}: not a stamp file this pep can read ({e}); start with --reset-stamp to replace it",
            path.display()
        )
    })?;
    if file.version != 1 {
        return Err(format!(
            "{}: version {} is not supported; start with --reset-stamp to replace it",
            path.display(),
            file.version
        ));
    }
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::NodeState;

    #[test]
    fn changes_survive_reopen_and_reset_discards_them() {
        let tmp = tempfile::tempdir().expect("tmp");
        let p = tmp.path().join("stamp.json");
        let s = StampStore::open(&p, "default", false).expect("open");
        {
            let mut w = s.write();
            w.hosts[1].state = NodeState::Down;
            s.save(&w).expect("save");
        }
        drop(s);
        let again = StampStore::open(&p, "default", false).expect("reopen");
        assert_eq!(again.read().hosts[1].state, NodeState::Down);
        drop(again);
        let reset = StampStore::open(&p, "default", true).expect("reset");
        assert_eq!(reset.read().hosts[1].state, NodeState::Up);
    }
}
