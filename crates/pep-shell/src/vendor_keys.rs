//! The vendor keys: the public keys whose SSH signatures (SSHSIG, namespace `pep-unlock`) may
//! unlock an operator's session (`crate::elevation`). Managed with `pep vendor-key add|list|remove`.
//!
//! `vendor_keys.json` in the state directory (format version 1, 0600, replaced atomically under an
//! exclusive `flock` on `vendor_keys.lock`): `{"version":1,"keys":[{"name":"contoso",
//! "key":"ssh-ed25519 AAAA... ","fingerprint":"SHA256:...","algorithm":"ssh-ed25519",
//! "added_at":"..."}]}`. Accepted: ed25519, ECDSA, RSA of at least 2048 bits; no certificates.

use crate::identity::weak_key_reason;
use crate::state::{atomic_write, lock_exclusive};
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use russh::keys::ssh_key::public::KeyData;
use russh::keys::{HashAlg, PublicKey};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Format version of `vendor_keys.json`.
pub const VERSION: u32 = 1;

/// One registered vendor key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VendorKey {
    /// Who signs with it (`contoso`).
    pub name: String,
    /// The OpenSSH public key line.
    pub key: String,
    /// Its SHA-256 fingerprint.
    pub fingerprint: String,
    /// Its algorithm.
    pub algorithm: String,
    /// When it was registered.
    pub added_at: DateTime<Utc>,
}

impl VendorKey {
    /// The public key.
    pub fn public_key(&self) -> Result<PublicKey> {
        PublicKey::from_openssh(&self.key).context("a registered vendor key cannot be read")
    }
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u32,
    keys: Vec<VendorKey>,
}

/// The vendor keys of a state directory.
pub struct VendorKeys {
    path: PathBuf,
}

impl VendorKeys {
    /// The store at `path` (`<state>/vendor_keys.json`).
    pub fn at(path: &Path) -> Self {
        VendorKeys {
            path: path.to_path_buf(),
        }
    }

    fn lock_path(&self) -> PathBuf {
        self.path.with_file_name("vendor_keys.lock")
    }

    /// Every registered key (none when the file does not exist).
    pub fn load(&self) -> Result<Vec<VendorKey>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.path.display())),
        };
        let file: File = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a vendor key file", self.path.display()))?;
        if file.version != VERSION {
            bail!(
                "{}: format version {} is not supported (this pep reads {VERSION})",
                self.path.display(),
                file.version
            );
        }
        Ok(file.keys)
    }

    fn save(&self, keys: Vec<VendorKey>) -> Result<()> {
        let text = serde_json::to_string_pretty(&File {
            version: VERSION,
            keys,
        })?;
        atomic_write(&self.path, text.as_bytes(), 0o600)
    }

    /// Registers `key_line` as vendor `name`'s key. Names and keys are unique.
    pub fn add(&self, name: &str, key_line: &str) -> Result<VendorKey> {
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
        {
            bail!("vendor names are 1 to 64 characters of letters, digits and . _ @ -");
        }
        let key = PublicKey::from_openssh(key_line.trim())
            .context("the key file does not hold an OpenSSH public key")?;
        let algorithm = match key.key_data() {
            KeyData::Ed25519(_) | KeyData::Ecdsa(_) | KeyData::Rsa(_) => {
                key.algorithm().to_string()
            }
            _ => bail!("vendor keys are ed25519, ECDSA or RSA (at least 2048 bits) public keys"),
        };
        if let Some(reason) = weak_key_reason(&key) {
            bail!("{reason}");
        }
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let _lock = lock_exclusive(&self.lock_path())?;
        let mut all = self.load()?;
        if all.iter().any(|k| k.name.eq_ignore_ascii_case(name)) {
            bail!("a vendor key named '{name}' exists already");
        }
        if all.iter().any(|k| k.fingerprint == fingerprint) {
            bail!("that key is already registered");
        }
        let mut line = key.clone();
        line.set_comment("");
        let vk = VendorKey {
            name: name.to_string(),
            key: line.to_openssh().context("encoding the key")?,
            fingerprint,
            algorithm,
            added_at: Utc::now(),
        };
        all.push(vk.clone());
        self.save(all)?;
        Ok(vk)
    }

    /// Removes vendor `name`'s key; false when there was none.
    pub fn remove(&self, name: &str) -> Result<bool> {
        let _lock = lock_exclusive(&self.lock_path())?;
        let mut all = self.load()?;
        let before = all.len();
        all.retain(|k| !k.name.eq_ignore_ascii_case(name));
        let removed = all.len() != before;
        if removed {
            self.save(all)?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn keygen(dir: &Path, name: &str, args: &[&str]) -> String {
        let p = dir.join(name);
        let st = Command::new("ssh-keygen")
            .args(["-q", "-N", "", "-f"])
            .arg(&p)
            .args(args)
            .status()
            .expect("ssh-keygen");
        assert!(st.success());
        std::fs::read_to_string(p.with_extension("pub")).expect("pub")
    }

    #[test]
    fn strong_keys_are_registered_once_and_weak_ones_never() {
        let tmp = tempfile::tempdir().expect("tmp");
        let store = VendorKeys::at(&tmp.path().join("vendor_keys.json"));
        let ed = keygen(tmp.path(), "ed", &["-t", "ed25519"]);
        let ec = keygen(tmp.path(), "ec", &["-t", "ecdsa"]);
        let weak = keygen(tmp.path(), "weak", &["-t", "rsa", "-b", "1024"]);
        let added = store.add("contoso", &ed).expect("ed25519");
        assert!(added.fingerprint.starts_with("SHA256:"));
        store.add("fabrikam", &ec).expect("ecdsa");
        let e = store.add("again", &ed).expect_err("same key");
        assert!(e.to_string().contains("already registered"), "{e}");
        let e = store.add("contoso", &ec).expect_err("same name");
        assert!(e.to_string().contains("exists already"), "{e}");
        let e = store.add("weak", &weak).expect_err("1024-bit RSA");
        assert!(e.to_string().contains("at least 2048 bits"), "{e}");
        let e = store.add("bad name!", &ed).expect_err("name");
        assert!(e.to_string().contains("vendor names"), "{e}");
        assert_eq!(store.load().expect("load").len(), 2);
        assert!(store.remove("contoso").expect("remove"));
        assert!(!store.remove("contoso").expect("gone"));
        assert_eq!(store.load().expect("load").len(), 1);
    }
}
