//! Identities: who may connect, in which role, recognised by public key.
//!
//! `identities.json` (format version 1):
//! `{"version":1,"identities":[{"name":"alice","role":"operator","key":"ssh-ed25519 AAAA... comment",
//! "fingerprint":"SHA256:...","added_at":"2026-11-21T22:00:00Z"}]}`.
//! The SSH user name is free: a client is whoever its key says. The file is re-read at each
//! authentication, so `pep identity add` takes effect without a restart.
//!
//! Changes (`add`, `remove`) read, modify and replace the file holding an exclusive lock on
//! `identities.lock` beside it, so concurrent `pep identity` commands never lose each other's
//! updates; readers take no lock (the file is replaced atomically).
//!
//! Weak keys — DSA, and RSA under [`MIN_RSA_BITS`] bits — are refused when added, and never
//! recognised at login, even if written into the file by hand.

use crate::state::{atomic_write, identities_lock_for, lock_exclusive};
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use russh::keys::ssh_key::public::KeyData;
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
    /// Read-only oversight below the operator: lists and watches live sessions, reads history,
    /// transcripts and recordings ([`OBSERVER_COMMANDS`]); changes nothing.
    Observer,
}

/// What an observer may run (besides the default commands); operators may run them too.
pub const OBSERVER_COMMANDS: &[&str] = &[
    "Get-RemoteSupportSession",
    "Watch-RemoteSupportSession",
    "Get-RemoteSupportSessionHistory",
    "Get-RemoteSupportAccess",
];

impl Role {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Support => "support",
            Role::Observer => "observer",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "operator" => Ok(Role::Operator),
            "support" => Ok(Role::Support),
            "observer" => Ok(Role::Observer),
            _ => bail!("role must be operator, support or observer, not '{s}'"),
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

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// Why a key is too weak to identify anyone, or `None` when it is acceptable.
pub fn weak_key_reason(key: &PublicKey) -> Option<String> {
    weak_key_data(key.key_data())
}

fn weak_key_data(data: &KeyData) -> Option<String> {
    match data {
        KeyData::Dsa(_) => Some("DSA keys are not accepted".to_string()),
        KeyData::Rsa(rsa) => {
            let bits = modulus_bits(rsa);
            (bits < MIN_RSA_BITS).then(|| {
                format!("RSA keys must have at least {MIN_RSA_BITS} bits, this one has {bits}")
            })
        }
        KeyData::Certificate(cert) => weak_key_data(cert.public_key()),
        _ => None,
    }
}

/// An RSA key's modulus size in bits (`None` for other algorithms).
pub fn rsa_bits(key: &PublicKey) -> Option<usize> {
    match key.key_data() {
        KeyData::Rsa(rsa) => Some(modulus_bits(rsa)),
        KeyData::Certificate(cert) => match cert.public_key() {
            KeyData::Rsa(rsa) => Some(modulus_bits(rsa)),
            _ => None,
        },
        _ => None,
    }
}

fn modulus_bits(rsa: &russh::keys::ssh_key::public::RsaPublicKey) -> usize {
    rsa.n().as_positive_bytes().map_or(0, |b| {
        b.first()
            .map_or(0, |top| b.len() * 8 - top.leading_zeros() as usize)
    })
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
        if let Some(reason) = weak_key_reason(&key) {
            bail!("{reason}: use an ed25519 key (ssh-keygen -t ed25519)");
        }
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let _lock = lock_exclusive(&identities_lock_for(path))?;
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
        let _lock = lock_exclusive(&identities_lock_for(path))?;
        let mut all = Self::load(path)?;
        let before = all.len();
        all.retain(|i| !i.name.eq_ignore_ascii_case(name));
        let removed = all.len() != before;
        if removed {
            Self::save(path, all)?;
        }
        Ok(removed)
    }

    /// The identity holding this key, if any. A weak key (see [`weak_key_reason`]) never has one.
    pub fn find_by_key(path: &Path, key: &PublicKey) -> Result<Option<Identity>> {
        if let Some(reason) = weak_key_reason(key) {
            tracing::warn!(%reason, "refused a weak client key");
            return Ok(None);
        }
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

    const RSA_1024: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCm8j5Jq3pQHOE11T42N/lGRuE8ROVunhJjM+t2YQBRH98MOTxa9MgjjlDQhKN0HgU4JpKupltNEK8CweWScOzO9kOucMfQMh2LswZsDkOziIxTeSNrc9JBf/0a7bpX4c1Ht7vI+2KxrLCwDCOT0AN8wGMZB90OD3RMG2ia+OE25Q== t";
    const RSA_2047: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAFA+1gZpmIek5kF/RHjuoUOPd34e0p5+tlijixqjvKPJWvN5iSkZ7dakik/6wzqKRpA+GtlkrjS95QBFdyDjZyvexlB+wPmP1C8JiObebBtuFDY7JrXQ/MM032MmUIPACnorbXocg5SNqy5VlQPjqJAz1joPH6hz+5atyRIdUDY8jpzDnCV2FHGqWjt4AAZ1sMjr+KaeDkoIdZ+qnktSKSr22WxF8gALCXdpkUTf9qMo0/P9PtrABCyKwuc29bdlWBocdZHE1xzjiE2fVQfJiuKoFlouqnYOFCDhfcIQoI8XZZfnjCP44QXGobcX1F5koPuCZ5F91QHUXu/6TzOYp4c= t";
    const RSA_2048: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCXibwibj2UeadqD+Oi0BXVsXiByF1rjio2tqBbh2DO56mceFvo7vsKZUoS6I2Kkj8EcPd2OL3DeFNPiNfmSKuKlfSqL5ZtUSpX8EstvJWdqZCmamCO8KbBgi6BapsOB8INi8PQRgOliHYY8KS8ctcq78kB10vgS/3TCW7fROS8nQtEXtRhV1z+pYSzRedKx4x4qqZimF+ZDZ8/WBWY9NrtqiOC3lILU76khQu/McPHK0jy7hKmyx7Gqc681w0vaG8LtFfkAhD7cxJpB6mDKCgTeMzqSMKmq3g+OeNCK+RWvvMHBbdc8BAgZIUuB1HFtF9JgHD1wv2/0Zsrl+Ble26j t";
    const DSA_1024: &str = "ssh-dss AAAAB3NzaC1kc3MAAACBAOas68WrOpV6YhMTyGZTA6vEexgFcYiSPi4QfwnTTLRM7CjajkhjDJ4k9uUtBSCHp+vi6wXA5F4YFeH5WyGmDwny30rKxMESnmEIL0uv/CYsMjsIzEBhwbQnl+wGuc5FxrJcKop+B5wFwYsyszNy2ZPHj+BE0jxlcI8P2zP77N6JAAAAFQDSz4nWxCKGNxeLNsSe3Wo4FqPmtwAAAIAUq70y9WzWwQ2hOmgm+0wurArGxXpQuTjYq5XWJNK5z4dydXy54LZKz7bo2p1wXICk2TEiR7lGJeG8OyAzOJP/av3BP4Xlw9jWTYMIxb9IOdosPrpgfknL+DOks+jxBfeafGLx26mJRYh++WBpdcOOdVxzuteWVU8kZ+RuAuqf8wAAAIEA1ponJKLypJ6p7FFuDMCpbdTD6ZyCoceyn/4gEV8JJFhXVrk1DRPvCoXtvxHi0uNqiKBmK/+EEuFYPkqkMVshUcw8BU38nPbYx/QS6HMFgZmcG98rKqo+W3OTFXinh+Kg3OvPX0+FkGWz6eAuItugBVIxTekBIkS09AzY7dzHYqQ= t";
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
    /// Weak keys are refused when added, and not recognised even when written in by hand.
    #[test]
    fn weak_keys_are_refused_at_add_and_never_found() {
        let tmp = tempfile::tempdir().expect("tmp");
        let p = tmp.path().join("identities.json");
        for (weak, why) in [
            (
                RSA_1024,
                "RSA keys must have at least 2048 bits, this one has 1024",
            ),
            (
                RSA_2047,
                "RSA keys must have at least 2048 bits, this one has 2047",
            ),
            (DSA_1024, "DSA keys are not accepted"),
        ] {
            let err = IdentityStore::add(&p, "weak", Role::Operator, weak).expect_err(why);
            assert!(err.to_string().starts_with(why), "{err}");
        }
        assert!(IdentityStore::load(&p).expect("load").is_empty());
        IdentityStore::add(&p, "strong", Role::Operator, RSA_2048).expect("2048 bits is enough");

        // Written into the file by hand, as an older pep would have accepted them.
        let mut all = IdentityStore::load(&p).expect("load");
        for (name, line) in [("rsa1024", RSA_1024), ("dsa", DSA_1024)] {
            let key = PublicKey::from_openssh(line).expect("key");
            all.push(Identity {
                name: name.to_string(),
                role: Role::Operator,
                key: line.to_string(),
                fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
                added_at: Utc::now(),
            });
        }
        IdentityStore::save(&p, all).expect("save");
        for line in [RSA_1024, DSA_1024] {
            let key = PublicKey::from_openssh(line).expect("key");
            assert_eq!(IdentityStore::find_by_key(&p, &key).expect("find"), None);
        }
        let strong = PublicKey::from_openssh(RSA_2048).expect("key");
        assert!(IdentityStore::find_by_key(&p, &strong)
            .expect("find")
            .is_some());
    }

    /// Threads adding at once keep every identity (the lock file serializes them).
    #[test]
    fn concurrent_adds_keep_every_identity() {
        let tmp = tempfile::tempdir().expect("tmp");
        let p = tmp.path().join("identities.json");
        let threads: Vec<_> = (0..16u8)
            .map(|i| {
                let p = p.clone();
                std::thread::spawn(move || {
                    let seed = [i; 32];
                    let key = PublicKey::from(
                        russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&seed).public,
                    );
                    let line = key.to_openssh().expect("encode");
                    IdentityStore::add(&p, &format!("user{i}"), Role::Support, &line).expect("add")
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(IdentityStore::load(&p).expect("load").len(), 16);
    }
}
