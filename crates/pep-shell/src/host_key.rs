//! The server's host key: an ed25519 key made on first start and kept in the state directory
//! (OpenSSH private-key format, mode 0600), so clients see the same host key across restarts.

use crate::state::atomic_write;
use anyhow::{Context, Result};
use russh::keys::ssh_key::{private::Ed25519Keypair, LineEnding};
use russh::keys::{HashAlg, PrivateKey};
use std::path::Path;

/// Loads the host key, creating it when absent.
pub fn load_or_create(path: &Path) -> Result<PrivateKey> {
    if path.exists() {
        return PrivateKey::read_openssh_file(path)
            .with_context(|| format!("reading the host key {}", path.display()));
    }
    let seed: [u8; 32] = rand::random();
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    let text = key
        .to_openssh(LineEnding::LF)
        .context("encoding the host key")?;
    atomic_write(path, text.as_bytes(), 0o600)?;
    tracing::info!(
        fingerprint = %key.public_key().fingerprint(HashAlg::Sha256),
        "created a new host key"
    );
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_kept() {
        let tmp = tempfile::tempdir().expect("tmp");
        let p = tmp.path().join("host_key");
        let a = load_or_create(&p).expect("create");
        let b = load_or_create(&p).expect("load");
        assert_eq!(a.public_key(), b.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
