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

/// The host key's SHA-256 fingerprint, as `ssh` shows it on a first connection.
pub fn fingerprint(key: &PrivateKey) -> String {
    key.public_key().fingerprint(HashAlg::Sha256).to_string()
}

/// The `known_hosts` line for `host` (a name or address) and `port`: with it the first connection
/// is verified instead of trusted blindly.
pub fn known_hosts_line(key: &PrivateKey, host: &str, port: u16) -> Result<String> {
    let public = key
        .public_key()
        .to_openssh()
        .context("encoding the host key")?;
    // Without a comment: `known_hosts` is host, algorithm, key.
    let mut fields = public.split_whitespace();
    let (Some(alg), Some(body)) = (fields.next(), fields.next()) else {
        anyhow::bail!("the host key has no OpenSSH form");
    };
    let host = if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    };
    Ok(format!("{host} {alg} {body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hosts_lines_use_brackets_off_port_22() {
        let tmp = tempfile::tempdir().expect("tmp");
        let key = load_or_create(&tmp.path().join("host_key")).expect("create");
        let line = known_hosts_line(&key, "127.0.0.1", 2222).expect("line");
        assert!(
            line.starts_with("[127.0.0.1]:2222 ssh-ed25519 AAAA"),
            "{line}"
        );
        assert_eq!(line.split_whitespace().count(), 3);
        let line = known_hosts_line(&key, "pep.example", 22).expect("line");
        assert!(line.starts_with("pep.example ssh-ed25519 "), "{line}");
        assert!(fingerprint(&key).starts_with("SHA256:"));
    }

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
