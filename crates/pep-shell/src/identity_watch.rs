//! Watching `identities.json` for removals: `pep identity remove` is a separate process, so the
//! server learns of it by looking. The file is checked every [`POLL`]; a change (size, time or
//! inode) wakes every live session and connection, which then checks whether its own identity is
//! still there and ends within a second if not — as a revocation does.
//!
//! The identities are read once per change of the file and kept here, so a change costs one read
//! however many sessions check; an identity not found is looked up on disk once more before it
//! counts as gone (it may have been added since the last poll). An identity file that cannot be
//! read or parsed counts as "identity gone" (fail closed): a session does not outlive the proof
//! that it may exist.

use crate::identity::{Identity, IdentityStore};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;

/// How often the file is looked at.
pub const POLL: Duration = Duration::from_millis(250);

/// Tells live sessions that the identities may have changed.
pub struct IdentityWatch {
    path: PathBuf,
    changed: watch::Sender<u64>,
    /// The identities as last read (None when the file could not be read).
    current: Mutex<Option<Vec<Identity>>>,
}

/// What identifies a version of the file without reading it.
fn signature(path: &Path) -> Option<(u64, i64, i64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.mtime(), m.mtime_nsec(), m.ino()))
}

impl IdentityWatch {
    /// A watch over `path` (not yet polling: see [`IdentityWatch::run`]).
    pub fn new(path: &Path) -> Self {
        let watch = IdentityWatch {
            path: path.to_path_buf(),
            changed: watch::channel(0).0,
            current: Mutex::new(None),
        };
        watch.reload();
        watch
    }

    /// Reads the file into the kept identities.
    fn reload(&self) {
        let read = match IdentityStore::load(&self.path) {
            Ok(all) => Some(all),
            Err(e) => {
                tracing::error!(error = %e, "cannot read identities; ending sessions (fail closed)");
                None
            }
        };
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = read;
    }

    fn known(&self, identity: &Identity) -> bool {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|all| {
                all.iter().any(|i| {
                    i.name == identity.name
                        && i.role == identity.role
                        && i.fingerprint == identity.fingerprint
                })
            })
    }

    /// A receiver that sees each change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Whether `identity` (same name, role and key) is still registered.
    pub fn present(&self, identity: &Identity) -> bool {
        if self.known(identity) {
            return true;
        }
        self.reload();
        self.known(identity)
    }

    /// Polls the file until the process ends.
    pub async fn run(&self) {
        let mut last = signature(&self.path);
        let mut tick = tokio::time::interval(POLL);
        loop {
            tick.tick().await;
            let now = signature(&self.path);
            if now != last {
                last = now;
                self.reload();
                self.changed.send_modify(|n| *n += 1);
            }
        }
    }
}
