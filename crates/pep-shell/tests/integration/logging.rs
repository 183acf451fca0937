//! The server's log as an administrator reads it: plain text when stderr is not a terminal, one
//! JSON object per line with `--log-format json`, and a line for every refused key naming the
//! peer and the key's SHA256 fingerprint (as `ssh-keygen -lf` prints it).

use crate::harness::{Key, Pep, T};
use std::process::Command;

/// A key that no identity holds, and its fingerprint as `ssh-keygen -lf` prints it.
fn stranger(pep: &Pep) -> (Key, String) {
    let private = pep.dir.path().join("stranger");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "stranger", "-f"])
        .arg(&private)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(private.with_extension("pub"))
        .output()
        .expect("ssh-keygen -lf");
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    // "256 SHA256:... stranger (ED25519)"
    let fingerprint = listing
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("ssh-keygen -lf: {listing:?}"))
        .to_string();
    assert!(fingerprint.starts_with("SHA256:"), "{listing:?}");
    (Key { private }, fingerprint)
}

#[test]
fn server_log_is_plain_and_records_failed_logins() {
    let pep = Pep::start();
    pep.identity("operator", "olivia");
    let (key, fingerprint) = stranger(&pep);
    let r = pep.exec(&key, "hostname");
    assert!(!r.ok(), "an unregistered key was let in: {r:?}");
    let log = pep
        .wait_for_log(&fingerprint, T)
        .unwrap_or_else(|log| panic!("no log line with {fingerprint}; log: {log:?}"));
    assert!(
        !log.contains("\x1b["),
        "colour codes in a piped log: {log:?}"
    );
    let line = log
        .lines()
        .find(|l| l.contains(&fingerprint))
        .expect("the line");
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("peer=127.0.0.1:"), "{line}");
    assert!(line.contains("not registered"), "{line}");
}

#[test]
fn json_log_format_emits_one_object_per_line() {
    let pep = Pep::start_with(&["--log-format", "json"]);
    let (key, fingerprint) = stranger(&pep);
    assert!(!pep.exec(&key, "hostname").ok());
    let log = pep
        .wait_for_log(&fingerprint, T)
        .unwrap_or_else(|log| panic!("no log line with {fingerprint}; log: {log:?}"));
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object ({e}): {l:?}"))
        })
        .collect();
    assert!(events.iter().all(|e| e.is_object()), "{log}");
    let refused = events
        .iter()
        .find(|e| e["fingerprint"] == fingerprint.as_str())
        .expect("the refusal");
    assert_eq!(refused["level"], "WARN", "{refused}");
    assert!(
        refused["peer"]
            .as_str()
            .is_some_and(|p| p.starts_with("127.0.0.1:")),
        "{refused}"
    );
    assert!(refused["timestamp"].is_string(), "{refused}");
}
