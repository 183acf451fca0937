//! The state directory: where everything that outlives a process is kept, and how it is written.
//!
//! Layout (all under `--state DIR`, default `./pep-state`, created 0700):
//! - `host_key`             ed25519 host key, OpenSSH private-key format, 0600, made on first start
//! - `identities.json`      who may connect (`identity.rs`, format version 1)
//! - `consent.json`         remote-support grants (`consent.rs`, format version 1)
//! - `sessions/<id>.json`   one record per session (`history.rs`, format version 1)
//! - `transcripts/<id>.txt` one transcript per session (`transcript.rs`, format version 1)
//! - `stamp.json`           the stamp as repairs left it (`azs_support::stamp::persist`, version 1)
//! - `workdirs/<ts>-<id>/`  per-session working directories (`azs_support::workdir`)
//!
//! Files that are rewritten (identities, consent, session records) are replaced atomically: written
//! to a temporary file in the same directory, synced, renamed over the old one, and the directory
//! synced, so a crash leaves either the old or the new version, never a torn one.

use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// The state directory's paths.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// Opens (creating if missing) the state directory and its subdirectories.
    pub fn open(root: &Path) -> Result<Self> {
        for sub in ["", "sessions", "transcripts", "workdirs"] {
            let p = root.join(sub);
            fs::create_dir_all(&p)
                .with_context(|| format!("creating state directory {}", p.display()))?;
            set_mode(&p, 0o700)?;
        }
        Ok(StateDir {
            root: root.to_path_buf(),
        })
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
    /// The consent file.
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
    /// The parent of the working directories.
    pub fn workdirs(&self) -> PathBuf {
        self.root.join("workdirs")
    }
}

/// Replaces `path` with `bytes` atomically (see `azs_support::atomic_file`).
pub fn atomic_write(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    azs_support::atomic_file::atomic_write(path, bytes, mode)
        .with_context(|| format!("replacing {}", path.display()))
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
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
            4,
            "three folders and the file, no temp files left"
        );
    }
}
