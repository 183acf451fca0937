//! The state directory: where everything that outlives a process is kept, how it is written, and
//! who may use it at once.
//!
//! Layout (all under `--state DIR`, default `./pep-state`, created 0700 by `pep serve` and
//! `pep identity add`; `pep identity list|remove` only open one that exists):
//! - `host_key`             ed25519 host key, OpenSSH private-key format, 0600, made on first start
//! - `identities.json`      who may connect (`identity.rs`, format version 1)
//! - `identities.lock`      empty, 0600: `pep identity add|remove` hold an exclusive `flock` on it
//!   (`File::lock`) across their read-modify-write of `identities.json`, so none is lost
//! - `serve.lock`           0600, the decimal pid of the `pep serve` holding an exclusive `flock`
//!   on it for its whole life (`File::try_lock`): one server per state directory. The lock, not
//!   the file, is what counts: the file stays after the server ends, and the next one reuses it
//! - `consent.json`         remote-support grants (`consent.rs`, format version 1)
//! - `consent.revoked.json` only after a revocation could not be written (full disk): the old
//!   `consent.json`, set aside so that a restart keeps its grant revoked (`consent.rs`)
//! - `consent.json.unreadable-<time>` a consent file that could not be read at start, kept for
//!   investigation; the endpoint started with no grant
//! - `sessions/<id>.json`   one record per session (`history.rs`, format version 2; 1 is read)
//! - `transcripts/<id>.txt` one transcript per session (`transcript.rs`, format version 1), 0600
//! - `recordings/<id>.cast` one asciicast v2 recording per session (`recording.rs`), 0600
//! - `stamp.json`           the stamp as repairs left it (`azs_support::stamp::persist`, version 1)
//! - `audit/audit.jsonl`, `audit/checkpoints.jsonl`, `audit/audit.lock`: the hash-chained audit
//!   log and its signed checkpoints (`audit.rs`, format version 1), appended; rewritten only by
//!   retention (`audit_prune.rs`: the oldest lines go, in one rename)
//! - `workdirs/<ts>-grant<N>-<identity>/`  a support case's working directory (every session of
//!   the identity under grant N); `workdirs/<ts>-<session id>/` an operator session's
//!   (`azs_support::workdir`)
//! - `.pep-tmp-*`           (root and `sessions/`) atomic writes under way, or left by a process
//!   killed during one: `pep serve` removes them at start, holding `serve.lock`, before writing
//!
//! Files that are rewritten (identities, consent, session records, stamp, host key) are replaced
//! atomically: written to a temporary file `.pep-tmp-*` in the same directory, created 0600,
//! synced, renamed over the old one, and the directory synced, so a crash leaves either the old or
//! the new version, never a torn one, and never one readable by others.
//!
//! Readers need no lock: a rename is atomic, so they see the old file or the new one.
//!
//! Working directories and transcripts together are held to one disk budget, with free space
//! kept for everything else here (`azs_support::disk_budget`, `pep serve --state-budget-mb` and
//! `--state-headroom-mb`).

use anyhow::{bail, Context, Result};
use azs_support::atomic_file::TEMP_PREFIX;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The state directory's paths.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// Opens (creating if missing) the state directory and its subdirectories.
    pub fn open(root: &Path) -> Result<Self> {
        for sub in ["", "sessions", "transcripts", "recordings", "workdirs"] {
            let p = root.join(sub);
            fs::create_dir_all(&p)
                .with_context(|| format!("creating state directory {}", p.display()))?;
            set_mode(&p, 0o700)?;
        }
        Ok(StateDir {
            root: root.to_path_buf(),
        })
    }

    /// Opens a state directory that must exist already (commands that only read or remove).
    pub fn open_existing(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            bail!("no state directory at {}", root.display());
        }
        Ok(StateDir {
            root: root.to_path_buf(),
        })
    }

    /// Claims the directory for one `pep serve`: an exclusive lock on `serve.lock`, held until the
    /// returned guard is dropped (in practice, the process's end). Refused while another process
    /// holds it, naming that process.
    pub fn lock_for_serving(&self) -> Result<ServeLock> {
        let path = self.root.join("serve.lock");
        // Not truncated on open: the pid in it belongs to the holder until we hold the lock.
        let mut file = open_lock_file(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = match text.trim().parse::<u32>() {
                    Ok(pid) => format!("pid {pid}"),
                    Err(_) => "pid unknown".to_string(),
                };
                bail!(
                    "the state directory {} is in use by another pep serve ({holder})",
                    self.root.display()
                );
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
        let write_pid = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.rewind()?;
            writeln!(file, "{}", std::process::id())?;
            file.sync_all()
        };
        write_pid(&mut file).with_context(|| format!("writing {}", path.display()))?;
        Ok(ServeLock { _file: file })
    }

    /// Removes the temporary files of atomic writes that never finished (`.pep-tmp-*` in the root
    /// and `sessions/`). Only safe while nothing else writes there: call it holding the serve
    /// lock, before writing anything. Returns how many it removed.
    pub fn remove_stale_temp_files(&self) -> Result<usize> {
        let mut removed = 0;
        for dir in [self.root.clone(), self.sessions()] {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
            };
            for entry in entries {
                let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
                let stale = entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with(TEMP_PREFIX))
                    && entry.file_type().is_ok_and(|t| t.is_file());
                if stale {
                    fs::remove_file(entry.path())
                        .with_context(|| format!("removing {}", entry.path().display()))?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The host key file.
    pub fn host_key(&self) -> PathBuf {
        self.root.join("host_key")
    }
    /// The identities file.
    pub fn identities(&self) -> PathBuf {
        self.root.join("identities.json")
    }
    /// The lock serializing changes to the identities file.
    pub fn identities_lock(&self) -> PathBuf {
        identities_lock_for(&self.identities())
    }
    /// Session recordings (asciicast v2).
    pub fn recordings(&self) -> PathBuf {
        self.root.join("recordings")
    }

    /// The vendor keys whose signatures may unlock a session.
    pub fn vendor_keys(&self) -> PathBuf {
        self.root.join("vendor_keys.json")
    }

    /// The elevation requests used (unlocked or voided).
    pub fn elevation_used(&self) -> PathBuf {
        self.root.join("elevation_used.json")
    }

    /// Remote-support grants.
    pub fn consent(&self) -> PathBuf {
        self.root.join("consent.json")
    }
    /// The session records directory.
    pub fn sessions(&self) -> PathBuf {
        self.root.join("sessions")
    }
    /// The transcripts directory.
    pub fn transcripts(&self) -> PathBuf {
        self.root.join("transcripts")
    }
    /// The live stamp (changed by repairs).
    pub fn stamp(&self) -> PathBuf {
        self.root.join("stamp.json")
    }
    /// The obfuscation map (operators only; never uploaded).
    pub fn obfuscation_map(&self) -> PathBuf {
        self.root.join("obfuscation-map.json")
    }
    /// The parent of the working directories.
    pub fn workdirs(&self) -> PathBuf {
        self.root.join("workdirs")
    }
}

/// The exclusive hold of a state directory by one `pep serve`; released when dropped.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
}

/// An exclusive lock on a lock file, held until dropped.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

/// Takes an exclusive lock on `path` (created 0600, empty, if missing), waiting for any holder.
pub fn lock_exclusive(path: &Path) -> Result<FileLock> {
    let file = open_lock_file(path)?;
    file.lock()
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(FileLock { _file: file })
}

/// The lock file beside an identities file (`identities.json` → `identities.lock`).
pub fn identities_lock_for(identities: &Path) -> PathBuf {
    identities.with_extension("lock")
}

fn open_lock_file(path: &Path) -> Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// Replaces `path` with `bytes` atomically (see `azs_support::atomic_file`).
pub fn atomic_write(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    azs_support::atomic_file::atomic_write(path, bytes, mode)
        .with_context(|| format!("replacing {}", path.display()))
}

pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    azs_support::atomic_file::set_mode(path, mode)
        .with_context(|| format!("setting permissions of {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces() {
        let tmp = tempfile::tempdir().expect("tmp");
        let s = StateDir::open(&tmp.path().join("st")).expect("open");
        atomic_write(&s.consent(), b"one", 0o600).expect("write");
        atomic_write(&s.consent(), b"two", 0o600).expect("write");
        assert_eq!(fs::read(s.consent()).expect("read"), b"two");
        assert_eq!(
            fs::read_dir(s.root()).expect("ls").count(),
            5,
            "four folders and the file, no temp files left"
        );
    }

    #[cfg(unix)]
    #[test]
    fn files_written_are_0600() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tmp");
        let s = StateDir::open(&tmp.path().join("st")).expect("open");
        let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        crate::identity::IdentityStore::add(
            &s.identities(),
            "alice",
            crate::identity::Role::Operator,
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsrk4gbpXdmDHSyXQ2GbNQTz7Kpm4vCBz1F7uI1r1Bl t",
        )
        .expect("add");
        crate::host_key::load_or_create(&s.host_key()).expect("host key");
        let record = s.sessions().join("x.json");
        atomic_write(&record, b"{}", 0o600).expect("write");
        for p in [s.identities(), s.identities_lock(), s.host_key(), record] {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
        let _lock = s.lock_for_serving().expect("lock");
        assert_eq!(mode(&s.root().join("serve.lock")), 0o600);
    }

    #[test]
    fn one_server_per_state_directory() {
        let tmp = tempfile::tempdir().expect("tmp");
        let s = StateDir::open(&tmp.path().join("st")).expect("open");
        let first = s.lock_for_serving().expect("first");
        let err = s.lock_for_serving().expect_err("second").to_string();
        assert_eq!(
            err,
            format!(
                "the state directory {} is in use by another pep serve (pid {})",
                s.root().display(),
                std::process::id()
            )
        );
        drop(first);
        s.lock_for_serving()
            .expect("free again once the first is gone");
    }

    #[test]
    fn open_existing_never_creates() {
        let tmp = tempfile::tempdir().expect("tmp");
        let missing = tmp.path().join("typo");
        let err = StateDir::open_existing(&missing).expect_err("missing");
        assert_eq!(
            err.to_string(),
            format!("no state directory at {}", missing.display())
        );
        assert!(!missing.exists());
    }

    #[test]
    fn stale_temp_files_go_others_stay() {
        let tmp = tempfile::tempdir().expect("tmp");
        let s = StateDir::open(&tmp.path().join("st")).expect("open");
        let stale = [
            s.root().join(".pep-tmp-abc123"),
            s.sessions().join(".pep-tmp-def456"),
        ];
        let kept = [
            s.root().join("notes.txt"),
            s.sessions().join(".tmpXYZ"),
            s.transcripts().join(".pep-tmp-not-ours-to-judge"),
        ];
        for p in stale.iter().chain(&kept) {
            fs::write(p, b"x").expect("write");
        }
        assert_eq!(s.remove_stale_temp_files().expect("clean"), 2);
        for p in &stale {
            assert!(!p.exists(), "{}", p.display());
        }
        for p in &kept {
            assert!(p.exists(), "{}", p.display());
        }
    }
}
