//! The algorithms pep offers, as an outside auditor sees them: `ssh-audit -j` (3.9.0, installed by
//! `.ci/run`) against a running pep. No finite-field Diffie-Hellman (the DHEat denial of service),
//! no failures; the default policy's only warnings are curve25519's "not post-quantum" ones, and
//! `--kex post-quantum` has none.
//!
//! Without ssh-audit on PATH these tests fail under CI=true and are skipped (with a note) elsewhere.

use crate::harness::Pep;
use serde_json::Value;
use std::process::Command;

/// One `fail` or `warn` note of the report: (section, algorithm, level, text).
type Finding = (String, String, String, String);

/// Audits `pep`; None when ssh-audit is not installed outside CI.
fn audit(pep: &Pep) -> Option<Value> {
    let out = match Command::new("ssh-audit")
        .args(["-j", "--skip-rate-test", "-t", "10", "-p"])
        .arg(pep.port.to_string())
        .arg("127.0.0.1")
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "ssh-audit is not on PATH (.ci/run installs ssh-audit==3.9.0)"
            );
            eprintln!("note: ssh-audit not on PATH; skipping (pip install ssh-audit==3.9.0)");
            return None;
        }
        Err(e) => panic!("running ssh-audit: {e}"),
    };
    // Exit codes: 0 good, 2 warnings, 3 failures; 1 is a connection error and has no report.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "ssh-audit gave no JSON report ({e}; exit {:?}): {stdout}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Some(report)
}

/// Names offered in one section (`kex`, `key`, `enc`, `mac`).
fn offered(report: &Value, section: &str) -> Vec<String> {
    report[section]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["algorithm"].as_str().map(str::to_string))
        .collect()
}

/// Every `fail` and `warn` note, in any algorithm section.
fn findings(report: &Value) -> Vec<Finding> {
    let mut all = Vec::new();
    for section in ["kex", "key", "enc", "mac"] {
        for alg in report[section].as_array().into_iter().flatten() {
            let name = alg["algorithm"].as_str().unwrap_or("?").to_string();
            for level in ["fail", "warn"] {
                for text in alg["notes"][level].as_array().into_iter().flatten() {
                    all.push((
                        section.to_string(),
                        name.clone(),
                        level.to_string(),
                        text.as_str().unwrap_or("?").to_string(),
                    ));
                }
            }
        }
    }
    all
}

/// What holds for every policy: no failures, no CVEs, no DH groups, nothing SHA-1.
fn assert_modern(report: &Value) {
    let fails: Vec<_> = findings(report)
        .into_iter()
        .filter(|f| f.2 == "fail")
        .collect();
    assert!(fails.is_empty(), "ssh-audit failures: {fails:?}");
    assert_eq!(report["cves"], serde_json::json!([]), "{report}");
    assert!(
        report["recommendations"].get("critical").is_none(),
        "critical recommendations: {}",
        report["recommendations"]
    );
    let kex = offered(report, "kex");
    assert_eq!(
        kex.first().map(String::as_str),
        Some("mlkem768x25519-sha256")
    );
    assert!(
        kex.iter().all(|k| !k.starts_with("diffie-hellman")),
        "finite-field DH offered (DHEat): {kex:?}"
    );
    assert!(kex.contains(&"kex-strict-s-v00@openssh.com".to_string()));
    assert_eq!(offered(report, "key"), ["ssh-ed25519"]);
    let macs = offered(report, "mac");
    assert!(
        macs.iter()
            .all(|m| m.ends_with("-etm@openssh.com") && !m.contains("sha1")),
        "{macs:?}"
    );
}

#[test]
fn ssh_audit_reports_no_failures() {
    let pep = Pep::start();
    let Some(report) = audit(&pep) else { return };
    assert_modern(&report);
    assert_eq!(
        offered(&report, "kex"),
        [
            "mlkem768x25519-sha256",
            "curve25519-sha256",
            "curve25519-sha256@libssh.org",
            "ext-info-s",
            "kex-strict-s-v00@openssh.com"
        ]
    );
    // The default keeps curve25519 for clients before OpenSSH 9.9; ssh-audit's only complaint
    // is that it is not post-quantum.
    let other: Vec<_> = findings(&report)
        .into_iter()
        .filter(|(section, alg, _, text)| {
            !(section == "kex"
                && alg.starts_with("curve25519-sha256")
                && text.contains("post-quantum"))
        })
        .collect();
    assert!(other.is_empty(), "ssh-audit warnings: {other:?}");
}

#[test]
fn post_quantum_kex_passes_ssh_audit_without_warnings() {
    let pep = Pep::start_with(&["--kex", "post-quantum"]);
    let Some(report) = audit(&pep) else { return };
    assert_modern(&report);
    assert_eq!(
        offered(&report, "kex"),
        [
            "mlkem768x25519-sha256",
            "ext-info-s",
            "kex-strict-s-v00@openssh.com"
        ]
    );
    let warnings = findings(&report);
    assert!(warnings.is_empty(), "ssh-audit warnings: {warnings:?}");
    assert_eq!(report["recommendations"], serde_json::json!({}));
}
