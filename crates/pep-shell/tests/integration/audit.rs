//! The audit log over SSH: what sessions, grants and identity changes leave in it, `pep audit
//! verify` on the intact log and on a tampered one, and a log that cannot be written refusing
//! every action but the revocation.

use crate::harness::{Pep, PEP};
use std::process::Command;
use std::time::Duration;

fn verify(pep: &Pep) -> (Option<i32>, String) {
    let out = Command::new(PEP)
        .args(["audit", "verify", "--state"])
        .arg(&pep.state)
        .output()
        .expect("pep audit verify");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn audit_lines(pep: &Pep) -> Vec<serde_json::Value> {
    std::fs::read_to_string(pep.state.join("audit/audit.jsonl"))
        .expect("audit log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[test]
fn sessions_grants_and_identities_are_chained_and_verify_finds_tampering() {
    let mut pep = Pep::start();
    let (op, sup) = pep.granted("Diagnostics");
    let r = pep.exec(&sup, "Get-Command Get-AzsSupportProcess");
    assert!(r.ok(), "{r:?}");
    let r = pep.exec(&sup, "Get-Nothing");
    assert!(!r.ok());
    // A key nobody registered.
    let stranger = pep.dir.path().join("stranger");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
    let refused = pep.exec(
        &crate::harness::Key {
            private: stranger.clone(),
        },
        "Get-Command",
    );
    assert!(!refused.ok());
    let r = pep.exec(&op, "Disable-RemoteSupport");
    assert!(r.ok(), "{r:?}");
    assert!(pep.terminate(Duration::from_secs(10)).is_some());

    let lines = audit_lines(&pep);
    let kinds: Vec<&str> = lines
        .iter()
        .map(|l| l["event"].as_str().unwrap_or_default())
        .collect();
    for want in [
        "identity_added",
        "login",
        "grant_enabled",
        "command",
        "command_result",
        "command_refused",
        "login_refused",
        "grant_revoked",
        "session_end",
    ] {
        assert!(kinds.contains(&want), "no {want} in {kinds:?}");
    }
    let ran = lines
        .iter()
        .find(|l| l["event"] == "command" && l["identity"] == "sam")
        .expect("sam's command");
    assert_eq!(ran["line"], "Get-Command Get-AzsSupportProcess");
    assert_eq!(ran["role"], "support");
    let ended = lines
        .iter()
        .find(|l| l["event"] == "session_end")
        .expect("a session end");
    assert_eq!(
        ended["transcript_sha256"].as_str().map(str::len),
        Some(64),
        "{ended}"
    );
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["seq"], i as u64 + 1);
    }

    // Intact, and the stop signed the head.
    let (code, out) = verify(&pep);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("{} lines", lines.len()))
            && out.contains(&format!("covers line {}", lines.len())),
        "{out}"
    );

    // One byte changed in line 3: named.
    let path = pep.state.join("audit/audit.jsonl");
    let text = std::fs::read_to_string(&path).expect("read");
    let mut edited: Vec<String> = text.lines().map(str::to_string).collect();
    edited[2] = edited[2].replacen("\"v\":1", "\"v\":1 ", 1);
    std::fs::write(&path, edited.join("\n") + "\n").expect("write");
    let (code, out) = verify(&pep);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("BROKEN at line 3"), "{out}");

    // The tail cut after the last checkpoint.
    let mut cut: Vec<&str> = text.lines().collect();
    cut.truncate(cut.len() - 2);
    std::fs::write(&path, cut.join("\n") + "\n").expect("write");
    let (code, out) = verify(&pep);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("tail was cut"), "{out}");
}

#[test]
fn an_audit_log_that_cannot_be_written_refuses_all_but_the_revocation() {
    let pep = Pep::start();
    let (op, sup) = pep.granted("DiagnosticsRepair");
    // From now on every write to the audit log fails (the kernel's full device).
    let path = pep.state.join("audit/audit.jsonl");
    std::fs::remove_file(&path).expect("rm");
    std::os::unix::fs::symlink("/dev/full", &path).expect("symlink");

    // Support is not let in: its login cannot be recorded.
    let r = pep.exec(&sup, "Get-Command Get-AzsSupportProcess");
    assert!(!r.ok(), "{r:?}");
    assert!(r.stderr.contains("could not start a session"), "{r:?}");
    pep.wait_for_log("audit log could not be written", Duration::from_secs(5))
        .expect("the server says why");
    let r = pep.exec(&op, "Get-RemoteSupportSessionHistory");
    assert!(!r.ok(), "{r:?}");
    assert!(r.stderr.contains("only Disable-RemoteSupport"), "{r:?}");
    // The revocation goes ahead.
    let r = pep.exec(&op, "Disable-RemoteSupport");
    assert!(r.ok(), "{r:?}");
    let r = pep.exec(&sup, "Get-Command");
    assert!(!r.ok());
}

/// libfaketime (Debian `faketime`), which `.ci/run` installs: the server runs 100 days ahead.
fn faketime() -> Option<String> {
    let lib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
    if std::path::Path::new(lib).exists() {
        return Some(lib.to_string());
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "libfaketime is missing under CI=true (Debian package faketime; .ci/run installs it)"
    );
    eprintln!("skipped: libfaketime is not installed");
    None
}

#[test]
fn audit_lines_past_their_retention_are_removed_at_a_checkpoint_and_the_log_still_verifies() {
    let Some(lib) = faketime() else {
        return;
    };
    let mut pep = Pep::start();
    let (op, sup) = pep.granted("Diagnostics");
    // Enough lines for the background sync to sign checkpoints among them.
    let r = pep.lines(&sup, "Get-AzsSupportStampVersion\n".repeat(60).as_bytes());
    assert!(r.ok(), "{r:?}");
    assert!(pep.terminate(Duration::from_secs(10)).is_some());
    let before = audit_lines(&pep);
    assert!(before.len() > 120, "{} lines", before.len());

    // 100 days later, with 90 days of audit retention: the sweep at start removes them.
    pep.extra_args = vec!["--audit-retention-days".into(), "90".into()];
    pep.env = vec![
        ("LD_PRELOAD".into(), lib),
        ("FAKETIME".into(), "+100d".into()),
    ];
    pep.spawn();
    let r = pep.exec(&op, "Get-RemoteSupportSession");
    assert!(r.ok(), "{r:?}");
    assert!(pep.terminate(Duration::from_secs(10)).is_some());

    let after = audit_lines(&pep);
    let first = after[0]["seq"].as_u64().expect("seq");
    assert!(
        first > 64,
        "the oldest lines are gone: the log starts at {first}; pep's log: {}",
        pep.log()
    );
    let pruned = after
        .iter()
        .find(|l| l["event"] == "audit_pruned")
        .expect("the pruning is in the audit log");
    assert_eq!(pruned["through"], first - 1);
    assert_eq!(pruned["lines"], first - 1);
    // The kept lines are the ones that were there, byte for byte in their fields.
    let kept_before: Vec<_> = before
        .iter()
        .filter(|l| l["seq"].as_u64() >= Some(first))
        .collect();
    assert_eq!(
        kept_before.as_slice(),
        &after.iter().take(kept_before.len()).collect::<Vec<_>>()[..]
    );
    let (code, out) = verify(&pep);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("intact"), "{out}");

    // Cutting the front anywhere else is found.
    let path = pep.state.join("audit/audit.jsonl");
    let text = std::fs::read_to_string(&path).expect("read");
    let rest: String = text.lines().skip(3).flat_map(|l| [l, "\n"]).collect();
    std::fs::write(&path, rest).expect("cut");
    let (code, out) = verify(&pep);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains(&format!("BROKEN at line {}", first + 3)),
        "{out}"
    );
}
