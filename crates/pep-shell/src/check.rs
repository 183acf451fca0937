//! `pep check --state DIR`: what an operator should know before going live, one line per
//! finding — the state directory, the host key, the identities (and weak keys), the vendor keys,
//! the grant, the disk budget, the audit log, the upload destination (and whether it answers),
//! and the SSH algorithms offered.
//!
//! Each finding is `OK`, `NOTE` (worth knowing), `WARN` (works, but fix it before going live) or
//! `FAIL` (the endpoint cannot do its job: nobody could grant, the disk is below its headroom,
//! the audit log is broken, the upload SAS is expired or unreadable). `pep check` exits 3 when
//! anything failed, 0 otherwise. It reads the state directory and changes nothing (it does not
//! even create a host key).

use crate::audit_verify::{verify, Verdict};
use crate::clock::Clock;
use crate::consent::Consent;
use crate::identity::{rsa_bits, weak_key_reason, IdentityStore, Role};
use crate::ssh_algorithms::{preferred, KexPolicy};
use crate::state::StateDir;
use crate::vendor_keys::VendorKeys;
use azs_support::disk_budget::human;
use azs_support::logs::blob::{BlobClient, UploadOptions};
use chrono::Utc;
use russh::keys::{HashAlg, PrivateKey, PublicKey};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `pep check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// State directory (must exist).
    #[arg(long, default_value = "pep-state")]
    pub state: PathBuf,
    /// The vendor upload SAS file `pep serve` is (or will be) given: checked and tried.
    #[arg(long, value_name = "PATH")]
    pub vendor_upload_sas_file: Option<PathBuf>,
    /// The disk budget `pep serve` is given, in MiB.
    #[arg(long, default_value_t = crate::endpoint::DEFAULT_STATE_BUDGET >> 20)]
    pub state_budget_mb: u64,
    /// The free space `pep serve` keeps, in MiB.
    #[arg(long, default_value_t = crate::endpoint::DEFAULT_STATE_HEADROOM >> 20)]
    pub state_headroom_mb: u64,
    /// The key exchanges `pep serve` offers.
    #[arg(long, value_enum, default_value_t = KexPolicy::Compatible)]
    pub kex: KexPolicy,
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Fine.
    Ok,
    /// Worth knowing.
    Note,
    /// Works, but fix it before going live.
    Warn,
    /// The endpoint cannot do its job.
    Fail,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Ok => "OK  ",
            Level::Note => "NOTE",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        }
    }
}

/// One finding.
#[derive(Debug, Clone)]
pub struct Finding {
    /// How much it matters.
    pub level: Level,
    /// What was checked (`host key`, `identities`, ...).
    pub topic: &'static str,
    /// What was found.
    pub text: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:<13} {}", self.level.label(), self.topic, self.text)
    }
}

/// Every finding about the endpoint `args` describes, in a fixed order.
pub fn check(args: &CheckArgs) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut note = |level, topic, text: String| out.push(Finding { level, topic, text });
    let state = match StateDir::open_existing(&args.state) {
        Ok(s) => s,
        Err(e) => {
            note(
                Level::Fail,
                "state",
                format!("{e:#} (pep serve or pep identity add creates it)"),
            );
            return out;
        }
    };
    state_dir(&state, &mut note);
    host_key(&state, &mut note);
    identities(&state, &mut note);
    vendor_keys(&state, &mut note);
    grant(&state, &mut note);
    disk(&state, args, &mut note);
    audit(&state, &mut note);
    upload(args, &mut note);
    algorithms(args.kex, &mut note);
    out
}

type Note<'a> = dyn FnMut(Level, &'static str, String) + 'a;

fn state_dir(state: &StateDir, note: &mut Note) {
    use std::os::unix::fs::MetadataExt;
    let root = state.root();
    match std::fs::metadata(root) {
        Ok(m) if m.mode() & 0o077 != 0 => note(
            Level::Warn,
            "state",
            format!(
                "{} can be read by others (mode {:o}); chmod 700 it",
                root.display(),
                m.mode() & 0o777
            ),
        ),
        Ok(_) => note(Level::Ok, "state", format!("{} (mode 700)", root.display())),
        Err(e) => note(Level::Fail, "state", format!("{}: {e}", root.display())),
    }
}

fn host_key(state: &StateDir, note: &mut Note) {
    let path = state.host_key();
    if !path.exists() {
        note(
            Level::Note,
            "host key",
            "none yet: the first `pep serve` (or `pep host-key`) creates one".into(),
        );
        return;
    }
    match PrivateKey::read_openssh_file(&path) {
        Ok(k) => note(
            Level::Ok,
            "host key",
            format!(
                "{} ({}); give clients its known_hosts line: pep host-key --state {} --host NAME --port PORT",
                k.public_key().fingerprint(HashAlg::Sha256),
                k.algorithm(),
                state.root().display()
            ),
        ),
        Err(e) => note(
            Level::Fail,
            "host key",
            format!("{} cannot be read: {e}", path.display()),
        ),
    }
}

fn identities(state: &StateDir, note: &mut Note) {
    let ids = match IdentityStore::load(&state.identities()) {
        Ok(ids) => ids,
        Err(e) => {
            note(Level::Fail, "identities", format!("{e:#}"));
            return;
        }
    };
    let count = |role| ids.iter().filter(|i| i.role == role).count();
    let (operators, support, observers) = (
        count(Role::Operator),
        count(Role::Support),
        count(Role::Observer),
    );
    let summary = format!("{operators} operator, {support} support, {observers} observer");
    if operators == 0 {
        note(
            Level::Fail,
            "identities",
            format!("{summary}: no operator can log in to grant or revoke (pep identity add --role operator)"),
        );
    } else {
        note(Level::Ok, "identities", summary);
    }
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for id in &ids {
        match id.key.parse::<PublicKey>() {
            Ok(key) => {
                if let Some(why) = weak_key_reason(&key) {
                    note(Level::Fail, "identities", format!("{}: {why}", id.name));
                } else if let Some(bits) = rsa_bits(&key) {
                    if bits < 3072 {
                        note(
                            Level::Warn,
                            "identities",
                            format!("{}: an RSA key of {bits} bits; prefer ed25519 or RSA of 3072 bits or more", id.name),
                        );
                    }
                }
            }
            Err(e) => note(
                Level::Fail,
                "identities",
                format!("{}: its key does not parse ({e})", id.name),
            ),
        }
        if let Some((other, _)) = seen.iter().find(|(_, fp)| *fp == id.fingerprint) {
            note(
                Level::Warn,
                "identities",
                format!(
                    "{} and {other} share one key: the transcripts cannot tell them apart",
                    id.name
                ),
            );
        }
        seen.push((&id.name, &id.fingerprint));
    }
}

fn vendor_keys(state: &StateDir, note: &mut Note) {
    match VendorKeys::at(&state.vendor_keys()).load() {
        Ok(keys) if keys.is_empty() => note(
            Level::Note,
            "vendor keys",
            "none: operator sessions cannot be elevated (pep vendor-key add)".into(),
        ),
        Ok(keys) => note(
            Level::Ok,
            "vendor keys",
            keys.iter()
                .map(|k| format!("{} ({} {})", k.name, k.algorithm, k.fingerprint))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Err(e) => note(Level::Fail, "vendor keys", format!("{e:#}")),
    }
}

fn grant(state: &StateDir, note: &mut Note) {
    match Consent::open(&state.consent(), Clock::system()) {
        Ok(c) => match c.active() {
            Some(g) => note(
                Level::Note,
                "grant",
                format!(
                    "remote support is enabled now: {:?} until {} (case {})",
                    g.access_level,
                    g.expires_at.format("%Y-%m-%d %H:%M UTC"),
                    g.support_request_id.as_deref().unwrap_or("none")
                ),
            ),
            None => note(
                Level::Ok,
                "grant",
                "none active: support cannot connect until an operator runs Enable-RemoteSupport"
                    .into(),
            ),
        },
        Err(e) => note(Level::Fail, "grant", format!("{e:#}")),
    }
}

fn disk(state: &StateDir, args: &CheckArgs, note: &mut Note) {
    let budget = args.state_budget_mb.saturating_mul(1 << 20);
    let headroom = args.state_headroom_mb.saturating_mul(1 << 20);
    let free = azs_support::disk_budget::free_bytes(state.root());
    let used: u64 = [state.workdirs(), state.transcripts(), state.recordings()]
        .iter()
        .filter_map(|d| azs_support::workdir::tree_bytes(d).ok())
        .sum();
    match free {
        Err(e) => note(Level::Fail, "disk", format!("free space unreadable: {e}")),
        Ok(free) if free < headroom => note(
            Level::Fail,
            "disk",
            format!(
                "{} free, below the {} kept free (--state-headroom-mb): support sessions would be refused",
                human(free),
                human(headroom)
            ),
        ),
        Ok(free) if free < headroom.saturating_add(budget.saturating_sub(used)) => note(
            Level::Warn,
            "disk",
            format!(
                "{} free: the budget of {} ({} used) cannot all be written above the {} kept free",
                human(free),
                human(budget),
                human(used),
                human(headroom)
            ),
        ),
        Ok(free) => note(
            Level::Ok,
            "disk",
            format!(
                "{} free; budget {} ({} used), {} kept free",
                human(free),
                human(budget),
                human(used),
                human(headroom)
            ),
        ),
    }
}

fn audit(state: &StateDir, note: &mut Note) {
    let dir = state.root().join("audit");
    let (log, checkpoints) = (dir.join("audit.jsonl"), dir.join("checkpoints.jsonl"));
    if !log.exists() {
        note(Level::Ok, "audit log", "empty so far".into());
        return;
    }
    let key = match PrivateKey::read_openssh_file(state.host_key()) {
        Ok(k) => k,
        Err(e) => {
            note(
                Level::Fail,
                "audit log",
                format!("cannot be checked without the host key: {e}"),
            );
            return;
        }
    };
    match verify(&log, &checkpoints, key.public_key()) {
        Ok(Verdict::Intact {
            lines, checkpoints, ..
        }) => note(
            Level::Ok,
            "audit log",
            format!("intact: {lines} lines, {checkpoints} signed checkpoints"),
        ),
        Ok(Verdict::Broken { line, why }) => note(
            Level::Fail,
            "audit log",
            format!("BROKEN at line {line}: {why} (pep audit verify)"),
        ),
        Err(e) => note(Level::Fail, "audit log", e),
    }
}

fn upload(args: &CheckArgs, note: &mut Note) {
    let Some(path) = &args.vendor_upload_sas_file else {
        note(
            Level::Note,
            "upload",
            "no vendor upload SAS file given: Send-AzureStackDiagnosticLog will refuse (check with --vendor-upload-sas-file PATH)".into(),
        );
        return;
    };
    let sas = match crate::log_settings::read_sas_file(path) {
        Ok(s) => s,
        Err(e) => {
            note(Level::Fail, "upload", format!("{e:#}"));
            return;
        }
    };
    if let Err(e) = crate::log_commands::writable(&sas, Utc::now()) {
        note(
            Level::Fail,
            "upload",
            e.trim_end_matches("; nothing was collected").to_string(),
        );
        return;
    }
    let expiry = sas
        .expiry()
        .map(|e| format!(", expires {}", e.format("%Y-%m-%d %H:%M UTC")))
        .unwrap_or_default();
    note(
        Level::Ok,
        "upload",
        format!("{} may be written{expiry}", sas.destination()),
    );
    if sas
        .expiry()
        .is_some_and(|e| e < Utc::now() + chrono::Duration::days(7))
    {
        note(
            Level::Warn,
            "upload",
            "the SAS expires within 7 days: ask the vendor for a new one".into(),
        );
    }
    note_reachability(&sas, path, note);
}

fn note_reachability(sas: &azs_support::logs::sas::ContainerSas, path: &Path, note: &mut Note) {
    let opts = UploadOptions {
        retries: 0,
        request_timeout: Duration::from_secs(10),
        ..UploadOptions::default()
    };
    let answered = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            let client = BlobClient::new(opts).map_err(|e| e.to_string())?;
            rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(15), client.probe(sas))
                    .await
                    .map_err(|_| "no answer within 15 s".to_string())?
                    .map_err(|e| e.to_string())
            })
        });
    match answered {
        Ok(status) if status < 500 => note(
            Level::Ok,
            "upload",
            format!("{} answers (HTTP {status})", sas.destination()),
        ),
        Ok(status) => note(
            Level::Warn,
            "upload",
            format!(
                "{} answers HTTP {status}: the service is failing",
                sas.destination()
            ),
        ),
        Err(e) => note(
            Level::Fail,
            "upload",
            format!(
                "{} (from {}) cannot be reached: {e}",
                sas.destination(),
                path.display()
            ),
        ),
    }
}

fn algorithms(kex: KexPolicy, note: &mut Note) {
    let p = preferred(kex);
    let names = |v: Vec<String>| v.join(", ");
    note(
        Level::Ok,
        "ssh",
        format!(
            "key exchange {}; ciphers {}; MACs {}; host key {}",
            // Without the protocol markers (ext-info-s, kex-strict-s-v00@openssh.com).
            names(
                p.kex
                    .iter()
                    .map(|k| k.as_ref().to_string())
                    .filter(|k| !k.starts_with("ext-info") && !k.starts_with("kex-strict"))
                    .collect()
            ),
            names(p.cipher.iter().map(|c| c.as_ref().to_string()).collect()),
            names(p.mac.iter().map(|m| m.as_ref().to_string()).collect()),
            names(p.key.iter().map(|k| k.to_string()).collect()),
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(state: &Path) -> CheckArgs {
        CheckArgs {
            state: state.to_path_buf(),
            vendor_upload_sas_file: None,
            state_budget_mb: 1,
            state_headroom_mb: 1,
            kex: KexPolicy::Compatible,
        }
    }

    fn levels(findings: &[Finding], topic: &str) -> Vec<Level> {
        findings
            .iter()
            .filter(|f| f.topic == topic)
            .map(|f| f.level)
            .collect()
    }

    #[test]
    fn a_state_without_an_operator_fails_and_a_good_one_passes() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("state");
        let missing = check(&args(&root));
        assert_eq!(levels(&missing, "state"), [Level::Fail]);

        let state = StateDir::open(&root).expect("state");
        let findings = check(&args(&root));
        assert_eq!(levels(&findings, "identities"), [Level::Fail]);
        assert_eq!(levels(&findings, "host key"), [Level::Note]);
        assert!(!state.host_key().exists(), "check creates nothing");

        crate::host_key::load_or_create(&state.host_key()).expect("key");
        let line = |seed: u8| {
            PrivateKey::from(russh::keys::ssh_key::private::Ed25519Keypair::from_seed(
                &[seed; 32],
            ))
            .public_key()
            .to_openssh()
            .expect("openssh")
        };
        IdentityStore::add(&state.identities(), "olivia", Role::Operator, &line(1)).expect("add");
        IdentityStore::add(&state.identities(), "sam", Role::Support, &line(2)).expect("add");
        let findings = check(&args(&root));
        assert_eq!(levels(&findings, "host key"), [Level::Ok]);
        assert_eq!(levels(&findings, "identities"), [Level::Ok]);
        assert!(
            findings
                .iter()
                .any(|f| f.text.contains("1 operator, 1 support, 0 observer")),
            "{findings:#?}"
        );
        assert!(
            findings.iter().all(|f| f.level != Level::Fail),
            "{findings:#?}"
        );
        let ssh = findings.iter().find(|f| f.topic == "ssh").expect("ssh");
        assert!(
            ssh.text.contains("chacha20-poly1305@openssh.com"),
            "{}",
            ssh.text
        );
    }

    /// An RSA public key of 2048 bits (accepted at login, below what check recommends).
    const RSA_2048: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC+cAozwTU2xygXROyVUK8Bs2xLU/LHL6UL0sQ1bjqnDCB83R6TWiaQtT5bLoYRgT8yTs/2gdOTJ5Q6yuXWlrxQbhEH8lua59P9e5gwhtj7o0aijb146Y/rqE+dOXGmIKcf0snEi43A2MaU5AMcDPNGCPB+3KM701rsZ0pVLueYghaVUzvbpgfjIJ6rCdVVi6Gd24/WArsVZkmnTrxCuTTi5Ql13caeYT8uAtmjHQLnU23sVyZl+1qKipLdw/ufYSzjn6FzgYAsEbUQRz8LRfAWXQU2O9YMz4dT7AhJg6dCYW/O+CZV7YSU+k508VqEFt+IzqN2kDeyox8lq7qg6P6Z rsa2048";

    #[test]
    fn weak_and_shared_keys_are_named_and_vendor_keys_listed() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("state");
        let state = StateDir::open(&root).expect("state");
        let ed25519 = PrivateKey::from(russh::keys::ssh_key::private::Ed25519Keypair::from_seed(
            &[7; 32],
        ))
        .public_key()
        .to_openssh()
        .expect("openssh");
        IdentityStore::add(&state.identities(), "olivia", Role::Operator, &ed25519).expect("add");
        IdentityStore::add(&state.identities(), "sam", Role::Support, RSA_2048).expect("add");
        // Two names on one key can only come from an edited file: check still says so.
        let mut file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(state.identities()).expect("read"))
                .expect("json");
        let mut twin = file["identities"][0].clone();
        twin["name"] = "oliver".into();
        file["identities"]
            .as_array_mut()
            .expect("identities")
            .push(twin);
        std::fs::write(state.identities(), file.to_string()).expect("write");

        let findings = check(&args(&root));
        let said = |level: Level, words: &str| {
            findings
                .iter()
                .any(|f| f.topic == "identities" && f.level == level && f.text.contains(words))
        };
        assert!(
            said(Level::Warn, "sam: an RSA key of 2048 bits"),
            "{findings:#?}"
        );
        assert!(
            said(Level::Warn, "oliver and olivia share one key"),
            "{findings:#?}"
        );
        assert_eq!(
            levels(&findings, "vendor keys"),
            [Level::Note],
            "no vendor key: elevation is off"
        );

        VendorKeys::at(&state.vendor_keys())
            .add("contoso", &ed25519)
            .expect("vendor key");
        let findings = check(&args(&root));
        let vendor = findings
            .iter()
            .find(|f| f.topic == "vendor keys")
            .expect("vendor keys");
        assert_eq!(vendor.level, Level::Ok);
        assert!(
            vendor.text.starts_with("contoso (") && vendor.text.contains("SHA256:"),
            "{}",
            vendor.text
        );
    }

    #[test]
    fn an_unreadable_or_expired_sas_fails_without_showing_its_signature() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("state");
        StateDir::open(&root).expect("state");
        let sas = tmp.path().join("vendor.sas");
        let url = "https://acct.blob.core.windows.net/logs?sv=2024-11-04&sp=cw&se=2020-01-01T00:00:00Z&sr=c&sig=SECRETSIG";
        std::fs::write(&sas, url).expect("write");
        let mut a = args(&root);
        a.vendor_upload_sas_file = Some(sas.clone());
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&sas, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        let open = check(&a);
        let upload: Vec<_> = open.iter().filter(|f| f.topic == "upload").collect();
        assert_eq!(upload.len(), 1);
        assert_eq!(upload[0].level, Level::Fail);
        assert!(upload[0].text.contains("chmod 600"), "{}", upload[0].text);
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&sas, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        let expired = check(&a);
        let upload: Vec<_> = expired.iter().filter(|f| f.topic == "upload").collect();
        assert_eq!(upload[0].level, Level::Fail);
        assert!(upload[0].text.contains("expired"), "{}", upload[0].text);
        for f in expired {
            assert!(!f.to_string().contains("SECRETSIG"), "{f}");
        }
    }
}
