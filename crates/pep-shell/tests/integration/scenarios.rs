//! Fault and benign scenarios end to end, over SSH with the real OpenSSH client: for every scenario compiled
//! into pep (each `scenarios/<name>.toml` but the healthy base stamps, so a new scenario is tested
//! without touching this file) the support case its `[case]` describes is worked as an engineer
//! would: evidence at Diagnostics, repairs refused at that level, the operator raises the grant,
//! the repair, the known-issue checks and `Test-AzureStack` healthy, and the repair surviving a
//! restart of pep.

use crate::harness::*;
use azs_support::stamp::{load_scenario, scenario::fault_names, CaseStep};

/// The number of checks `Test-AzsSupportKnownIssue` reports as failed.
const FAILED_COUNT: &str =
    "Test-AzsSupportKnownIssue | Where-Object Result -eq Fail | Measure-Object | Select-Object -ExpandProperty Count";

/// The names of the checks that failed, one a line.
const FAILED_NAMES: &str =
    "Test-AzsSupportKnownIssue | Where-Object Result -eq Fail | Select-Object -ExpandProperty Name";

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// Asserts the stamp is healthy: no known-issue check fails (support) and Test-AzureStack
/// prints True (operator).
fn assert_healthy(pep: &Pep, sup: &Key, op: &Key, when: &str) {
    let r = pep.exec(sup, FAILED_COUNT);
    assert!(r.ok(), "{when}: {FAILED_COUNT}: {r:?}");
    if r.stdout.trim() != "0" {
        let detail = pep.exec(
            sup,
            "Test-AzsSupportKnownIssue | Where-Object Result -eq Fail | Format-List",
        );
        panic!(
            "{when}: known-issue checks failed: {}\n{}",
            r.stdout.trim(),
            detail.stdout
        );
    }
    let r = pep.exec(op, "Test-AzureStack");
    assert!(r.ok(), "{when}: Test-AzureStack: {r:?}");
    assert_eq!(
        last_line(&r.stdout),
        "True",
        "{when}: Test-AzureStack output:\n{}",
        r.stdout
    );
}

/// The command line of a repair step as run non-interactively.
fn unconfirmed(step: &CaseStep) -> String {
    format!("{} -Confirm:$false", step.command)
}

/// A benign stamp (no fault planted, unusual but normal states): both checks are clean, also
/// after a restart.
fn check_benign(name: &str) {
    let mut pep = Pep::start_with(&["--scenario", name]);
    let (op, sup) = pep.granted("DiagnosticsRepair");
    assert_healthy(&pep, &sup, &op, &format!("benign {name}"));
    pep.stop();
    pep.spawn();
    assert_healthy(&pep, &sup, &op, &format!("benign {name} after a restart"));
}

/// Works one scenario's support case end to end (a benign scenario: `check_benign`). A fault
/// the catalog has no repair for (hardware, escalation) lists no repair steps: it is diagnosed,
/// and stays flagged.
fn work_case(name: &str) {
    let stamp = load_scenario(name).unwrap_or_else(|e| panic!("{e}"));
    let case = &stamp.case;
    if case.is_benign() {
        return check_benign(name);
    }
    assert!(
        !case.evidence.is_empty() && !case.checks.is_empty(),
        "{name}: the case needs evidence and checks"
    );
    let mut pep = Pep::start_with(&["--scenario", name]);
    let (op, sup) = pep.granted("Diagnostics");
    // The read-only proof of the verdict: both forms of Test-AzureStack say False.
    let r = pep.exec(&op, "Test-AzureStack -DetailedResults");
    assert_eq!(
        last_line(&r.stdout),
        "False",
        "{name}: -DetailedResults: {r:?}"
    );

    // Evidence at Diagnostics.
    for step in &case.evidence {
        let r = pep.exec(&sup, &step.command);
        assert!(r.ok(), "{name}: evidence `{}`: {r:?}", step.command);
        assert!(
            r.stdout.contains(&step.expect),
            "{name}: evidence `{}` should show {:?}; output:\n{}",
            step.command,
            step.expect,
            r.stdout
        );
    }

    // Repairs are refused at Diagnostics; operator steps are not support commands at all.
    for step in &case.repair {
        let r = pep.exec(&sup, &unconfirmed(step));
        assert_ne!(
            r.status,
            Some(0),
            "{name}: `{}` ran at Diagnostics",
            step.command
        );
        if step.by_operator() {
            assert!(
                r.stderr.contains("not recognized"),
                "{name}: support runs operator command `{}`: {r:?}",
                step.command
            );
        } else {
            assert!(
                r.stderr.contains("DiagnosticsRepair"),
                "{name}: `{}` refused naming DiagnosticsRepair: {r:?}",
                step.command
            );
        }
    }

    // The operator raises the grant; the known-issue checks find exactly the case's checks.
    let r = pep.exec(
        &op,
        "Set-RemoteSupportAccess -AccessLevel DiagnosticsRepair",
    );
    assert!(r.ok(), "{name}: raise the grant: {r:?}");
    let r = pep.exec(&sup, FAILED_NAMES);
    assert!(r.ok(), "{name}: {FAILED_NAMES}: {r:?}");
    let mut found: Vec<&str> = r
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    found.sort_unstable();
    let mut want: Vec<&str> = case.checks.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(found, want, "{name}: failing checks before the repair");
    let r = pep.exec(&op, "Test-AzureStack");
    assert_eq!(
        last_line(&r.stdout),
        "False",
        "{name}: Test-AzureStack before the repair: {r:?}"
    );

    if case.repair.is_empty() {
        // No catalog repair: the fault stays flagged, also after a restart.
        pep.stop();
        pep.spawn();
        let r = pep.exec(&op, "Test-AzureStack");
        assert_eq!(last_line(&r.stdout), "False", "{name}: unrepaired: {r:?}");
        return;
    }

    // The repair, in order.
    for step in &case.repair {
        let who = if step.by_operator() { &op } else { &sup };
        let line = unconfirmed(step);
        let r = pep.exec(who, &line);
        assert!(r.ok(), "{name}: repair `{line}`: {r:?}");
        if !step.expect.is_empty() {
            assert!(
                r.stdout.contains(&step.expect),
                "{name}: repair `{line}` should show {:?}: {r:?}",
                step.expect
            );
        }
    }
    assert_healthy(&pep, &sup, &op, &format!("{name} after the repair"));

    // The repaired stamp survives a restart on the same scenario.
    pep.stop();
    pep.spawn();
    assert_healthy(&pep, &sup, &op, &format!("{name} after a restart"));
}

#[test]
fn every_fault_scenario_is_diagnosed_and_repaired_and_every_benign_one_is_clean() {
    let names = fault_names();
    assert!(names.len() >= 10, "fault scenarios: {names:?}");
    // Two at a time: each starts its own pep and runs a few dozen ssh sessions.
    let mut failures = Vec::new();
    for pair in names.chunks(2) {
        let handles: Vec<_> = pair
            .iter()
            .map(|&name| (name, std::thread::spawn(move || work_case(name))))
            .collect();
        for (name, h) in handles {
            if let Err(e) = h.join() {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{name}: {msg}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "scenarios failed:\n{}",
        failures.join("\n\n")
    );
}

#[test]
fn default_stamp_is_healthy() {
    let pep = Pep::start();
    let (op, sup) = pep.granted("DiagnosticsRepair");
    assert_healthy(&pep, &sup, &op, "default");
    let r = pep.exec(&sup, "Test-AzsSupportKnownIssue -List");
    assert!(
        r.ok() && r.stdout.contains("ClusterSharedVolumeHealth"),
        "{r:?}"
    );
    let r = pep.exec(&sup, "Test-AzsSupportKnownIssue -Include NoSuchCheck");
    assert_eq!(r.status, Some(1));
    assert!(r.stderr.contains("NoSuchCheck"), "{r:?}");
    let r = pep.exec(
        &op,
        "Test-AzureStack -Include AzsSFRoleSummary,AzsScaleUnitSummary",
    );
    assert!(r.ok(), "{r:?}");
    assert!(
        r.stdout.contains("Test-AzureStack: AzsSFRoleSummary"),
        "{r:?}"
    );
    assert!(!r.stdout.contains("AzsInfraCapacity"), "{r:?}");
    assert_eq!(last_line(&r.stdout), "True");
}
