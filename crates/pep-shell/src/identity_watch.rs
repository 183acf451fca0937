//! Watching `identities.json` for removals: `pep identity remove` is a separate process, so the
//! server learns of it by looking. The file is checked every [`POLL`]; a change (size, time or
//! inode) wakes every live session and connection, which then checks whether its own identity is
//! still there and ends within a second if not — as a revocation does.
//!
//! An identity file that cannot be read or parsed counts as "identity gone" (fail closed): a
//! session does not outlive the proof that it may exist.

use crate::identity::{Identity, IdentityStore};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;

/// How often the file is looked at.
pub const POLL: Duration = Duration::from_millis(250);

/// Tells live sessions that the identities may have changed.
pub struct IdentityWatch {
    path: PathBuf,
    changed: watch::Sender<u64>,
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
        IdentityWatch {
            path: path.to_path_buf(),
            changed: watch::channel(0).0,
        }
    }

    /// A receiver that sees each change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Whether `identity` (same name, role and key) is still registered.
    pub fn present(&self, identity: &Identity) -> bool {
        match IdentityStore::load(&self.path) {
            Ok(all) => all.iter().any(|i| {
                i.name == identity.name
                    && i.role == identity.role
                    && i.fingerprint == identity.fingerprint
            }),
            Err(e) => {
                tracing::error!(error = %e, "cannot read identities; ending sessions (fail closed)");
                false
            }
        }
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
                self.changed.send_modify(|n| *n += 1);
            }
        }
    }
}
