//! Identities: who may connect, in which role, recognised by public key.
//!
//! `identities.json` (format version 1):
//! `{"version":1,"identities":[{"name":"alice","role":"operator","key":"ssh-ed25519 AAAA... comment",
//! "fingerprint":"SHA256:...","added_at":"2026-11-21T22:00:00Z"}]}`.
//! The SSH user name is free: a client is whoever its key says. The file is re-read at each
//! authentication, so `pep identity add` takes effect without a restart.

use crate::state::atomic_write;
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use russh::keys::{HashAlg, PublicKey};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A connecting party's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The customer's operator: grants consent, reads history, runs the endpoint's own commands.
    Operator,
    /// The vendor's support engineer: runs Azs.Support commands within the active grant.
    Support,
}

impl Role {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Support => "support",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "operator" => Ok(Role::Operator),
            "support" => Ok(Role::Support),
            _ => bail!("role must be operator or support, not '{s}'"),
        }
    }
}

/// One identity.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Identity {
    /// Display name (recorded in transcripts and history).
    pub name: String,
    /// Role.
    pub role: Role,
    /// Public key, OpenSSH one-line format.
    pub key: String,
    /// SHA-256 fingerprint of the key.
    pub fingerprint: String,
    /// When it was added.
    pub added_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct IdentityFile {
    version: u32,
    identities: Vec<Identity>,
}

/// The identities of a state directory.
pub struct IdentityStore;

impl IdentityStore {
    /// Every identity (none when the file does not exist yet).
    pub fn load(path: &Path) -> Result<Vec<Identity>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let file: IdentityFile = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a valid identities file", path.display()))?;
        if file.version != 1 {
            bail!(
                "{}: version {} is not supported",
                path.display(),
                file.version
            );
        }
        Ok(file.identities)
    }

    fn save(path: &Path, identities: Vec<Identity>) -> Result<()> {
        let file = IdentityFile {
            version: 1,
            identities,
        };
        atomic_write(path, &serde_json::to_vec_pretty(&file)?, 0o600)
    }

    /// Adds an identity from an OpenSSH public key line. Names and keys are unique.
    pub fn add(path: &Path, name: &str, role: Role, key_line: &str) -> Result<Identity> {
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
        {
            bail!("identity names are 1 to 64 characters of letters, digits and . _ @ -");
        }
        let key = PublicKey::from_openssh(key_line.trim())
            .context("the key file does not hold an OpenSSH public key")?;
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let mut all = Self::load(path)?;
        if all.iter().any(|i| i.name.eq_ignore_ascii_case(name)) {
            bail!("an identity named '{name}' exists already");
        }
        if all.iter().any(|i| i.fingerprint == fingerprint) {
            bail!("that key is already registered");
        }
        let identity = Identity {
            name: name.to_string(),
            role,
            key: key.to_openssh().context("encoding the key")?,
            fingerprint,
            added_at: Utc::now(),
        };
        all.push(identity.clone());
        Self::save(path, all)?;
        Ok(identity)
    }

    /// Removes an identity by name; false when there was none.
    pub fn remove(path: &Path, name: &str) -> Result<bool> {
        let mut all = Self::load(path)?;
        let before = all.len();
        all.retain(|i| !i.name.eq_ignore_ascii_case(name));
        let removed = all.len() != before;
        if removed {
            Self::save(path, all)?;
        }
        Ok(removed)
    }

    /// The identity holding this key, if any.
    pub fn find_by_key(path: &Path, key: &PublicKey) -> Result<Option<Identity>> {
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        Ok(Self::load(path)?.into_iter().find(|i| {
            i.fingerprint == fingerprint
                && PublicKey::from_openssh(&i.key)
                    .map(|k| k.key_data() == key.key_data())
                    .unwrap_or(false)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsrk4gbpXdmDHSyXQ2GbNQTz7Kpm4vCBz1F7uI1r1Bl test";

    #[test]
    fn add_find_remove() {
        let tmp = tempfile::tempdir().expect("tmp");
        let p = tmp.path().join("identities.json");
        let id = IdentityStore::add(&p, "alice", Role::Operator, KEY).expect("add");
        assert!(id.fingerprint.starts_with("SHA256:"));
        assert!(IdentityStore::add(&p, "alice", Role::Support, KEY).is_err());
        assert!(
            IdentityStore::add(&p, "bob", Role::Support, KEY).is_err(),
            "same key"
        );
        assert!(IdentityStore::add(&p, "bad name", Role::Support, KEY).is_err());
        assert!(IdentityStore::add(&p, "carol", Role::Support, "not a key").is_err());
        let key = PublicKey::from_openssh(KEY).expect("key");
        let found = IdentityStore::find_by_key(&p, &key)
            .expect("find")
            .expect("some");
        assert_eq!(found.name, "alice");
        assert!(IdentityStore::remove(&p, "ALICE").expect("rm"));
        assert!(IdentityStore::find_by_key(&p, &key)
            .expect("find")
            .is_none());
    }
}
