//! The SSH algorithms pep offers: key exchange, host key, cipher, MAC and compression lists handed
//! to russh. This module owns that choice; `server` only passes [`preferred`] to its config.
//!
//! Design decision (issue 6 §4): offer only what `ssh-audit` (3.9) neither fails nor warns on,
//! plus the one classical exchange today's clients still need.
//!
//! - Key exchange: `mlkem768x25519-sha256` first (post-quantum hybrid), then `curve25519-sha256`
//!   and its pre-RFC name `curve25519-sha256@libssh.org`. No finite-field Diffie-Hellman at all:
//!   russh's default list offered `diffie-hellman-group14..18` and group-exchange, and a client
//!   choosing the 8192-bit group18 makes the server do an expensive modular exponentiation per
//!   connection for free (the DHEat denial of service, CVE-2002-20001); group14 is also only
//!   112-bit strong. The markers `ext-info-s` (RFC 8308: lets us tell clients we accept
//!   `rsa-sha2-*` signatures) and `kex-strict-s-v00@openssh.com` (the Terrapin counter-measure)
//!   stay: russh reads them from this list.
//! - `ssh-audit` warns on curve25519 ("does not provide protection against post-quantum
//!   attacks"), but OpenSSH only gained ML-KEM in 9.9 and, e.g., Debian 12 ships 9.2; offering
//!   ML-KEM alone would lock those clients out. Hence [`KexPolicy`] (`pep serve --kex`):
//!   `compatible` (the default) offers ML-KEM and curve25519 — a 9.9+ client still gets the
//!   hybrid, older ones get curve25519 — and `post-quantum` offers ML-KEM only, for sites whose
//!   clients are all recent; only that policy has a warning-free `ssh-audit` report.
//! - Host key: pep's host key is ed25519, and russh only advertises algorithms a key it holds
//!   can sign with, so clients see `ssh-ed25519` alone. The same list is what pep announces in
//!   `server-sig-algs` for user keys: ed25519, ECDSA and `rsa-sha2-512/256` — never `ssh-rsa`
//!   (RSA with SHA-1).
//! - Ciphers: the AEAD modes `chacha20-poly1305@openssh.com`, `aes256-gcm@openssh.com`,
//!   `aes128-gcm@openssh.com`, then `aes256-ctr` and `aes128-ctr` for clients without AEAD
//!   (ssh-audit rates CTR as fine; paired only with encrypt-then-MAC below). No CBC, no 3DES.
//! - MACs: encrypt-then-MAC only (`hmac-sha2-512-etm`, `hmac-sha2-256-etm`); the plain
//!   `hmac-sha2-*` (encrypt-and-MAC) are warned on by ssh-audit and SHA-1 MACs are out.
//! - Compression: none.

use russh::keys::{Algorithm, EcdsaCurve, HashAlg};
use russh::{cipher, compression, kex, mac, Preferred};
use std::borrow::Cow;

/// Which key exchanges pep offers (`pep serve --kex`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum KexPolicy {
    /// ML-KEM hybrid first, then curve25519 for clients without it (OpenSSH before 9.9).
    #[default]
    Compatible,
    /// The ML-KEM hybrid only: clients without `mlkem768x25519-sha256` cannot connect.
    PostQuantum,
}

const KEX_COMPATIBLE: &[kex::Name] = &[
    kex::MLKEM768X25519_SHA256,
    kex::CURVE25519,
    kex::CURVE25519_PRE_RFC_8731,
    kex::EXTENSION_SUPPORT_AS_SERVER,
    kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER,
];

const KEX_POST_QUANTUM: &[kex::Name] = &[
    kex::MLKEM768X25519_SHA256,
    kex::EXTENSION_SUPPORT_AS_SERVER,
    kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER,
];

const KEYS: &[Algorithm] = &[
    Algorithm::Ed25519,
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP256,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP384,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP521,
    },
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha512),
    },
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha256),
    },
];

const CIPHERS: &[cipher::Name] = &[
    cipher::CHACHA20_POLY1305,
    cipher::AES_256_GCM,
    cipher::AES_128_GCM,
    cipher::AES_256_CTR,
    cipher::AES_128_CTR,
];

const MACS: &[mac::Name] = &[mac::HMAC_SHA512_ETM, mac::HMAC_SHA256_ETM];

const COMPRESSION: &[compression::Name] = &[compression::NONE];

/// The algorithm lists pep's SSH server offers under `kex`.
pub fn preferred(kex: KexPolicy) -> Preferred {
    Preferred {
        kex: Cow::Borrowed(match kex {
            KexPolicy::Compatible => KEX_COMPATIBLE,
            KexPolicy::PostQuantum => KEX_POST_QUANTUM,
        }),
        key: Cow::Borrowed(KEYS),
        host_key_certificates: Cow::Borrowed(&[]),
        cipher: Cow::Borrowed(CIPHERS),
        mac: Cow::Borrowed(MACS),
        compression: Cow::Borrowed(COMPRESSION),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kex_names(policy: KexPolicy) -> Vec<String> {
        preferred(policy)
            .kex
            .iter()
            .map(|k| k.as_ref().to_string())
            .collect()
    }

    #[test]
    fn no_finite_field_diffie_hellman_and_no_sha1() {
        for policy in [KexPolicy::Compatible, KexPolicy::PostQuantum] {
            let p = preferred(policy);
            assert!(kex_names(policy)
                .iter()
                .all(|k| !k.starts_with("diffie-hellman")));
            assert!(!p.key.contains(&Algorithm::Rsa { hash: None }));
            assert!(p
                .mac
                .iter()
                .all(|m| m.as_ref().ends_with("-etm@openssh.com") && !m.as_ref().contains("sha1")));
        }
    }

    #[test]
    fn post_quantum_offers_only_the_mlkem_hybrid() {
        assert_eq!(
            kex_names(KexPolicy::PostQuantum),
            [
                "mlkem768x25519-sha256",
                "ext-info-s",
                "kex-strict-s-v00@openssh.com"
            ]
        );
        assert_eq!(
            kex_names(KexPolicy::Compatible)[..2],
            ["mlkem768x25519-sha256", "curve25519-sha256"]
        );
    }
}
