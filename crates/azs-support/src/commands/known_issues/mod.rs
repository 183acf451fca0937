//! Known-issue checks: `Test-AzsSupportKnownIssue` (support, DiagnosticsRepair) and the operator's
//! `Test-AzureStack`, both over one table of named checks.
//!
//! This module owns the check types ([`Problem`], [`Verdict`], [`Check`]), the table of checks
//! ([`CHECKS`]) and of `Test-AzureStack` tests ([`TESTS`]), the helpers the checks share, and the
//! two commands. The checks themselves live beside it, grouped by what they look at:
//! `cluster_checks` (cluster nodes, groups, resources, CSVs; infrastructure VMs, services, drive
//! space), `storage_checks`, `fabric_checks`, `ece_checks` and `network_checks`.
//!
//! A check is a pure function of the stamp: it returns the problems it found, each with evidence
//! naming the exact entity and state (`Cluster Virtual Disk (Infrastructure_2) is Offline (owner
//! AZS-HOST03)`) and the remediation an engineer would run, or a one-line summary of what it
//! looked at when all is well. `Test-AzureStack` groups the checks under its own test names and
//! prints `Test-AzureStack: <Test> PASS|FAIL` lines and `True`/`False`; under a failing Service
//! Fabric test it adds each ring's aggregated health (`fabric_health`).

mod cluster_checks;
mod ece_checks;
mod fabric_checks;
mod network_checks;
mod storage_checks;

use super::fabric_health::ring_health;
use super::{join_names, CommandError, Invocation, Table};
use crate::stamp::Stamp;
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;
use cluster_checks::{
    cluster_group_health, cluster_node_health, cluster_resource_health, csv_health, disk_space,
    service_state, vm_placement, vm_state,
};
use ece_checks::ece_failures;
use fabric_checks::{fabric_node_health, fabric_replica_health, fabric_upgrade};
use network_checks::s2s_connectivity;
use storage_checks::{physical_disk_health, storage_job_health, virtual_disk_health};

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Test-AzsSupportKnownIssue", test_known_issue),
    ("Test-AzureStack", test_azure_stack),
];

/// One problem a check found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Problem {
    /// The entity and its state.
    pub evidence: String,
    /// What to run about it.
    pub remediation: String,
}

/// What a check found: problems (empty: Pass) and, for a Pass, what it looked at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    /// Problems found.
    pub problems: Vec<Problem>,
    /// What was checked (shown as the evidence of a Pass).
    pub summary: String,
}

impl Verdict {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// The evidence text: the problems, or the summary when there are none.
    pub fn evidence(&self) -> String {
        if self.problems.is_empty() {
            self.summary.clone()
        } else {
            self.problems
                .iter()
                .map(|p| p.evidence.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        }
    }

    /// The remediation text (distinct remediations of the problems, in order).
    pub fn remediation(&self) -> String {
        let mut seen: Vec<&str> = Vec::new();
        for p in &self.problems {
            if !seen.contains(&p.remediation.as_str()) {
                seen.push(&p.remediation);
            }
        }
        seen.join("; ")
    }
}

/// A named check.
pub(crate) struct Check {
    /// Name (`ClusterSharedVolumeHealth`).
    pub name: &'static str,
    /// What it looks for.
    pub description: &'static str,
    /// The check itself.
    pub run: fn(&Stamp) -> Verdict,
}

/// Every check, in `-List` order.
pub(crate) const CHECKS: &[Check] = &[
    Check {
        name: "ClusterNodeHealth",
        description: "Scale-unit hosts that are not Up in the failover cluster.",
        run: cluster_node_health,
    },
    Check {
        name: "ClusterGroupHealth",
        description: "Cluster groups that are not Online.",
        run: cluster_group_health,
    },
    Check {
        name: "ClusterResourceHealth",
        description: "Cluster resources that are not Online.",
        run: cluster_resource_health,
    },
    Check {
        name: "ClusterSharedVolumeHealth",
        description: "Cluster shared volumes that are not Online, or owned by a host that is not Up.",
        run: csv_health,
    },
    Check {
        name: "InfrastructureVMState",
        description: "Infrastructure VMs that are not Running, or whose provisioning failed.",
        run: vm_state,
    },
    Check {
        name: "InfrastructureVMPlacement",
        description: "Two VMs of one role on one host while an Up host has none of that role.",
        run: vm_placement,
    },
    Check {
        name: "InfrastructureServiceState",
        description: "Automatic services that are not Running on running hosts and VMs.",
        run: service_state,
    },
    Check {
        name: "InfrastructureDiskSpace",
        description: "Drives of hosts and infrastructure VMs with less than 10% free space.",
        run: disk_space,
    },
    Check {
        name: "PhysicalDiskHealth",
        description: "Physical disks that are not Healthy / OK.",
        run: physical_disk_health,
    },
    Check {
        name: "VirtualDiskHealth",
        description: "Virtual disks not Healthy / OK as the storage health cache reports them, and a stale cache that disagrees with the disks.",
        run: virtual_disk_health,
    },
    Check {
        name: "StorageJobHealth",
        description: "Storage jobs that are Suspended or Failed.",
        run: storage_job_health,
    },
    Check {
        name: "ServiceFabricNodeHealth",
        description: "Service Fabric nodes that are not Up with health Ok.",
        run: fabric_node_health,
    },
    Check {
        name: "ServiceFabricReplicaHealth",
        description: "Service Fabric replicas not Ready with health Ok, and unhealthy applications, services and partitions.",
        run: fabric_replica_health,
    },
    Check {
        name: "ServiceFabricUpgrade",
        description: "Service Fabric rings whose upgrade is not RollingForwardCompleted.",
        run: fabric_upgrade,
    },
    Check {
        name: "ECEActionPlanFailures",
        description: "ECE action plans that Failed, with their failing step.",
        run: ece_failures,
    },
    Check {
        name: "S2SConnectivity",
        description: "Site-to-site connections that are not Connected.",
        run: s2s_connectivity,
    },
];

/// A `Test-AzureStack` test: name, title and the checks it runs.
pub(crate) struct AzureStackTest {
    /// Name (`AzsInfraRoleSummary`).
    pub name: &'static str,
    /// Title.
    pub title: &'static str,
    /// The checks it runs.
    pub checks: &'static [&'static str],
}

/// Every `Test-AzureStack` test, in run order; each check belongs to exactly one.
pub(crate) const TESTS: &[AzureStackTest] = &[
    AzureStackTest {
        name: "AzsInfraCapacity",
        title: "Azure Stack Infrastructure Capacity",
        checks: &["InfrastructureDiskSpace"],
    },
    AzureStackTest {
        name: "AzsInfraFileValidation",
        title: "Azure Stack Infrastructure File Validation",
        checks: &["ClusterSharedVolumeHealth"],
    },
    AzureStackTest {
        name: "AzsInfraRoleSummary",
        title: "Azure Stack Infrastructure Role Summary",
        checks: &["InfrastructureVMState", "InfrastructureServiceState"],
    },
    AzureStackTest {
        name: "AzsInfraUpdateSummary",
        title: "Azure Stack Infrastructure Update Summary",
        checks: &["ECEActionPlanFailures"],
    },
    AzureStackTest {
        name: "AzsNetworkInfra",
        title: "Azure Stack Network Infrastructure",
        checks: &["S2SConnectivity"],
    },
    AzureStackTest {
        name: "AzsScaleUnitSummary",
        title: "Azure Stack Scale Unit Summary",
        checks: &[
            "ClusterNodeHealth",
            "ClusterGroupHealth",
            "ClusterResourceHealth",
        ],
    },
    AzureStackTest {
        name: "AzsSFRoleSummary",
        title: "Azure Stack Service Fabric Role Summary",
        checks: &[
            "ServiceFabricNodeHealth",
            "ServiceFabricReplicaHealth",
            "ServiceFabricUpgrade",
        ],
    },
    AzureStackTest {
        name: "AzsStorageServiceSummary",
        title: "Azure Stack Storage Services Summary",
        checks: &[
            "PhysicalDiskHealth",
            "VirtualDiskHealth",
            "StorageJobHealth",
        ],
    },
    AzureStackTest {
        name: "AzsVmPlacement",
        title: "Azure Stack Infrastructure VM Placement",
        checks: &["InfrastructureVMPlacement"],
    },
];

/// A check by name (case-insensitive).
pub(crate) fn check(name: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.name.eq_ignore_ascii_case(name))
}

/// Runs every check; (name, verdict) in table order.
#[cfg(test)]
pub(crate) fn run_all(stamp: &Stamp) -> Vec<(&'static str, Verdict)> {
    CHECKS.iter().map(|c| (c.name, (c.run)(stamp))).collect()
}

// ---- helpers the check files share ----------------------------------------------------------

fn problem(evidence: String, remediation: String) -> Problem {
    Problem {
        evidence,
        remediation,
    }
}

fn verdict(problems: Vec<Problem>, summary: String) -> Verdict {
    Verdict { problems, summary }
}

/// The remediation that restarts a role's infrastructure VMs (ERCS is started from its host).
fn restart_role_hint(role: &str) -> String {
    if role.eq_ignore_ascii_case("ERCS") {
        "Start the ERCS VM from its Hyper-V host (Restart-AzsSupportComputerByRole refuses ERCS)"
            .into()
    } else {
        format!("Restart-AzsSupportComputerByRole -Role {role}")
    }
}

// ---- the commands --------------------------------------------------------------------------

/// The checks `-Include` and `-Name` select (all when neither is given).
fn selected_checks(inv: &Invocation<'_>) -> Result<Vec<&'static Check>, CommandError> {
    let include = inv.args.strings("Include");
    let patterns = inv.args.strings("Name");
    for name in &include {
        if check(name).is_none() {
            return Err(CommandError(format!(
                "no known-issue check named '{name}' (checks: {})",
                join_names(CHECKS.iter().map(|c| c.name))
            )));
        }
    }
    for p in &patterns {
        if !CHECKS.iter().any(|c| wildcard_match(p, c.name)) {
            return Err(CommandError(format!(
                "no known-issue check matches '{p}' (checks: {})",
                join_names(CHECKS.iter().map(|c| c.name))
            )));
        }
    }
    Ok(CHECKS
        .iter()
        .filter(|c| include.is_empty() || include.iter().any(|i| i.eq_ignore_ascii_case(c.name)))
        .filter(|c| patterns.is_empty() || patterns.iter().any(|p| wildcard_match(p, c.name)))
        .collect())
}

fn result_record(name: &str, v: &Verdict) -> Value {
    Record::new("Azs.Support.KnownIssueResult")
        .with("Name", name)
        .with("Result", if v.passed() { "Pass" } else { "Fail" })
        .with("Evidence", v.evidence())
        .with("Remediation", v.remediation())
        .into()
}

/// Whether the stamp has a stale storage health cache that disagrees with a disk (the one
/// mitigation `-Remediate` applies by itself).
fn stale_cache_mismatch(stamp: &Stamp) -> bool {
    let s = &stamp.storage;
    s.health_cache_stale
        && s.virtual_disks
            .iter()
            .any(|v| !v.reported_health.is_empty() && v.reported_health != v.health)
}

/// Test-AzsSupportKnownIssue [-Name] [-Include] [-List] [-Remediate]: runs the named checks
/// (all by default) and returns one record per check, failures first. `-List` returns the
/// checks. `-Remediate` refreshes a stale storage health cache (what
/// Update-AzsSupportStorageHealthCache does) before reporting.
pub fn test_known_issue(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let checks = selected_checks(inv)?;
    if inv.args.switch("List") {
        return Ok(checks
            .iter()
            .map(|c| {
                Record::new("Azs.Support.KnownIssueCheck")
                    .with("Name", c.name)
                    .with("Description", c.description)
                    .into()
            })
            .collect());
    }
    let wants_storage = checks.iter().any(|c| c.name == "VirtualDiskHealth");
    if inv.args.switch("Remediate")
        && wants_storage
        && stale_cache_mismatch(inv.stamp())
        && inv.should_process("Storage health cache", "Update the storage health cache")
    {
        let storage = &mut inv.stamp_mut()?.storage;
        storage.health_cache_stale = false;
        for v in &mut storage.virtual_disks {
            v.reported_health.clear();
        }
    }
    let stamp = inv.stamp();
    let mut rows: Vec<(&str, Verdict)> = checks.iter().map(|c| (c.name, (c.run)(stamp))).collect();
    rows.sort_by(|a, b| a.1.passed().cmp(&b.1.passed()).then_with(|| a.0.cmp(b.0)));
    Ok(rows.iter().map(|(n, v)| result_record(n, v)).collect())
}

fn test_by_name(name: &str) -> Option<&'static AzureStackTest> {
    TESTS.iter().find(|t| t.name.eq_ignore_ascii_case(name))
}

fn require_tests(names: &[String], param: &str) -> Result<(), CommandError> {
    for n in names {
        if test_by_name(n).is_none() {
            return Err(CommandError(format!(
                "-{param}: no Test-AzureStack test named '{n}' (tests: {})",
                join_names(TESTS.iter().map(|t| t.name))
            )));
        }
    }
    Ok(())
}

/// Test-AzureStack [-List] [-Include] [-Ignore] [-DetailedResults]: runs the known-issue checks
/// grouped under Test-AzureStack's test names; prints `Test-AzureStack: <Test> PASS|FAIL` per
/// test (with a line per problem under a failure) and `True` when every test passed, else
/// `False`. `-DetailedResults` returns one record per test instead.
pub fn test_azure_stack(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let include = inv.args.strings("Include");
    let ignore = inv.args.strings("Ignore");
    require_tests(&include, "Include")?;
    require_tests(&ignore, "Ignore")?;
    let tests: Vec<&AzureStackTest> = TESTS
        .iter()
        .filter(|t| include.is_empty() || include.iter().any(|i| i.eq_ignore_ascii_case(t.name)))
        .filter(|t| !ignore.iter().any(|i| i.eq_ignore_ascii_case(t.name)))
        .collect();
    if inv.args.switch("List") {
        return Ok(tests
            .iter()
            .map(|t| Value::String(format!("{}  {}", t.name, t.title)))
            .collect());
    }
    if tests.is_empty() {
        return Err(CommandError(
            "no tests left to run: -Ignore removed every test -Include chose".into(),
        ));
    }
    let stamp = inv.stamp();
    let detailed = inv.args.switch("DetailedResults");
    let mut out = Vec::new();
    let mut all_passed = true;
    for t in tests {
        let verdicts: Vec<(&str, Verdict)> = t
            .checks
            .iter()
            .filter_map(|n| check(n))
            .map(|c| (c.name, (c.run)(stamp)))
            .collect();
        let passed = verdicts.iter().all(|(_, v)| v.passed());
        all_passed &= passed;
        let mut details: Vec<String> = Vec::new();
        for (name, v) in &verdicts {
            for p in &v.problems {
                details.push(format!(
                    "{name}: {} Remediation: {}",
                    p.evidence, p.remediation
                ));
            }
        }
        if t.name == "AzsSFRoleSummary" && !passed {
            for ring in &stamp.rings {
                let (h, _) = ring_health(ring);
                if h != "Ok" {
                    details.push(format!("Ring {} aggregated health is {h}", ring.name));
                }
            }
        }
        let result = if passed { "PASS" } else { "FAIL" };
        if detailed {
            out.push(
                Record::new("AzureStack.TestResult")
                    .with("Test", t.name)
                    .with("Title", t.title)
                    .with("Result", result)
                    .with("Detail", details.join("; "))
                    .into(),
            );
        } else {
            out.push(Value::String(format!(
                "Test-AzureStack: {} ({}) {result}",
                t.name, t.title
            )));
            out.extend(
                details
                    .into_iter()
                    .map(|d| Value::String(format!("    ERROR: {d}"))),
            );
        }
    }
    if !detailed {
        out.push(Value::Bool(all_passed));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{default_stamp, prop, run_on};
    use super::*;
    use crate::stamp::{load_scenario, scenario::fault_names};

    fn failing(stamp: &Stamp) -> Vec<&'static str> {
        run_all(stamp)
            .into_iter()
            .filter(|(_, v)| !v.passed())
            .map(|(n, _)| n)
            .collect()
    }

    fn fault_scenarios() -> Vec<&'static str> {
        fault_names()
    }

    #[test]
    fn every_check_passes_on_the_default_stamp() {
        let s = default_stamp();
        for (name, v) in run_all(&s) {
            assert!(v.passed(), "{name} failed on default: {}", v.evidence());
            assert!(!v.summary.is_empty(), "{name} has a summary");
        }
    }

    #[test]
    fn each_scenario_fails_exactly_its_case_checks() {
        let names = fault_scenarios();
        assert!(names.len() >= 10, "fault scenarios: {names:?}");
        for name in names {
            let s = load_scenario(name).unwrap_or_else(|e| panic!("{e}"));
            assert!(!s.case.checks.is_empty(), "{name}: case.checks empty");
            for c in &s.case.checks {
                assert!(check(c).is_some(), "{name}: unknown check {c}");
            }
            let mut want: Vec<&str> = s.case.checks.iter().map(String::as_str).collect();
            want.sort_unstable();
            let mut got = failing(&s);
            got.sort_unstable();
            assert_eq!(got, want, "{name}: failing checks");
        }
    }

    #[test]
    fn known_issue_records_sorted_failures_first() {
        let mut s = load_scenario("s2s-disconnected").unwrap_or_else(|e| panic!("{e}"));
        let rows = run_on(&mut s, test_known_issue, &[], false).expect("runs");
        assert_eq!(rows.len(), CHECKS.len());
        let results: Vec<String> = rows.iter().map(|r| prop(r, "Result")).collect();
        assert_eq!(&results[..2], &["Fail", "Fail"]);
        assert!(results[2..].iter().all(|r| r == "Pass"));
        assert_eq!(prop(&rows[0], "Name"), "InfrastructureServiceState");
        assert_eq!(prop(&rows[1], "Name"), "S2SConnectivity");
        assert!(prop(&rows[1], "Evidence").contains("contoso-hq"));
        assert!(prop(&rows[1], "Remediation")
            .contains("Restart-AzsSupportService -ComputerName AZS-GWY01 -Name GatewayService"));
        let r = rows[0].as_record().expect("record");
        let names: Vec<&str> = r.props.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["Name", "Result", "Evidence", "Remediation"]);
    }

    #[test]
    fn include_and_name_select_checks() {
        let mut s = default_stamp();
        let rows = run_on(
            &mut s,
            test_known_issue,
            &[(
                "Include",
                vec!["s2sconnectivity", "ClusterNodeHealth"].into(),
            )],
            false,
        )
        .expect("runs");
        let names: Vec<String> = rows.iter().map(|r| prop(r, "Name")).collect();
        assert_eq!(names, ["ClusterNodeHealth", "S2SConnectivity"]);
        let rows = run_on(
            &mut s,
            test_known_issue,
            &[("Name", vec!["ServiceFabric*"].into())],
            false,
        )
        .expect("runs");
        assert_eq!(rows.len(), 3);
        let err = run_on(
            &mut s,
            test_known_issue,
            &[("Include", vec!["NoSuchCheck"].into())],
            false,
        )
        .expect_err("unknown check");
        assert!(
            err.0.contains("NoSuchCheck") && err.0.contains("ClusterSharedVolumeHealth"),
            "{}",
            err.0
        );
    }

    #[test]
    fn list_returns_every_check() {
        let mut s = default_stamp();
        let rows = run_on(&mut s, test_known_issue, &[("List", true.into())], false).expect("runs");
        assert_eq!(rows.len(), CHECKS.len());
        assert_eq!(prop(&rows[0], "Name"), "ClusterNodeHealth");
        assert!(!prop(&rows[0], "Description").is_empty());
    }

    #[test]
    fn stale_cache_with_a_mismatch_fails_and_remediate_refreshes_it() {
        let mut s = load_scenario("vdisk-degraded-stuck-job").unwrap_or_else(|e| panic!("{e}"));
        // What Repair-VirtualDisk leaves behind (contract #3).
        repair_vdisk(&mut s);
        assert_eq!(failing(&s), ["VirtualDiskHealth"]);
        assert!(virtual_disk_health(&s).evidence().contains("stale"));
        let rows = run_on(
            &mut s,
            test_known_issue,
            &[
                ("Include", vec!["VirtualDiskHealth"].into()),
                ("Remediate", true.into()),
            ],
            true,
        )
        .expect("runs");
        assert_eq!(prop(&rows[0], "Result"), "Pass");
        assert!(!s.storage.health_cache_stale);
        assert!(failing(&s).is_empty());
    }

    #[test]
    fn every_check_belongs_to_exactly_one_test() {
        for c in CHECKS {
            let n = TESTS.iter().filter(|t| t.checks.contains(&c.name)).count();
            assert_eq!(n, 1, "{} is in {n} tests", c.name);
        }
        for t in TESTS {
            for c in t.checks {
                assert!(check(c).is_some(), "{}: unknown check {c}", t.name);
            }
        }
    }

    #[test]
    fn test_azure_stack_true_when_healthy_false_with_details() {
        let mut s = default_stamp();
        let out = run_on(&mut s, test_azure_stack, &[], false).expect("runs");
        assert_eq!(out.last(), Some(&Value::Bool(true)));
        assert_eq!(out.len(), TESTS.len() + 1);
        assert!(out[0]
            .to_display()
            .starts_with("Test-AzureStack: AzsInfraCapacity"));
        assert!(out[0].to_display().ends_with("PASS"));

        let mut s = load_scenario("sf-stuck-primary").unwrap_or_else(|e| panic!("{e}"));
        let out = run_on(&mut s, test_azure_stack, &[], false).expect("runs");
        assert_eq!(out.last(), Some(&Value::Bool(false)));
        let text: Vec<String> = out.iter().map(Value::to_display).collect();
        assert!(text
            .iter()
            .any(|l| l.starts_with("Test-AzureStack: AzsSFRoleSummary") && l.ends_with("FAIL")));
        assert!(text.iter().any(|l| l.contains("Reconfiguration stuck")));
        assert!(text
            .iter()
            .any(|l| l.contains("Ring FabricRing aggregated health is Error")));

        let out = run_on(
            &mut s,
            test_azure_stack,
            &[("Ignore", vec!["AzsSFRoleSummary"].into())],
            false,
        )
        .expect("runs");
        assert_eq!(out.last(), Some(&Value::Bool(true)));
        let out = run_on(
            &mut s,
            test_azure_stack,
            &[
                (
                    "Include",
                    vec!["AzsSFRoleSummary", "AzsInfraCapacity"].into(),
                ),
                ("DetailedResults", true.into()),
            ],
            false,
        )
        .expect("runs");
        assert_eq!(out.len(), 2);
        assert_eq!(prop(&out[0], "Test"), "AzsInfraCapacity");
        assert_eq!(prop(&out[1], "Result"), "FAIL");
    }

    #[test]
    fn test_azure_stack_list_and_bad_names() {
        let mut s = default_stamp();
        let out = run_on(&mut s, test_azure_stack, &[("List", true.into())], false).expect("runs");
        assert_eq!(out.len(), TESTS.len());
        assert!(out[0].to_display().starts_with("AzsInfraCapacity"));
        let err = run_on(
            &mut s,
            test_azure_stack,
            &[("Include", vec!["AzsNoSuchTest"].into())],
            false,
        )
        .expect_err("unknown");
        assert!(err.0.contains("AzsNoSuchTest") && err.0.contains("AzsSFRoleSummary"));
        let err = run_on(
            &mut s,
            test_azure_stack,
            &[
                ("Include", vec!["AzsVmPlacement"].into()),
                ("Ignore", vec!["AzsVmPlacement"].into()),
            ],
            false,
        )
        .expect_err("nothing left");
        assert!(err.0.contains("no tests"));
    }

    // ---- the contract's repairs, applied by hand: every check passes afterwards --------------

    fn repair_vdisk(s: &mut Stamp) {
        for j in s
            .storage
            .jobs
            .iter_mut()
            .filter(|j| j.virtual_disk == "Infrastructure_3")
        {
            j.state = "Completed".into();
            j.progress = 100;
            j.bytes_processed = j.bytes_total;
        }
        let mut old = String::new();
        for v in s
            .storage
            .virtual_disks
            .iter_mut()
            .filter(|v| v.name == "Infrastructure_3")
        {
            old = v.health.clone();
            v.health = "Healthy".into();
            v.operational_status = "OK".into();
            v.reported_health = old.clone();
        }
        assert_eq!(old, "Warning");
        for d in s
            .storage
            .physical_disks
            .iter_mut()
            .filter(|d| d.health != "Healthy")
        {
            d.usage = "Retired".into();
            d.health = "Healthy".into();
            d.operational_status = "OK".into();
        }
        s.storage.health_cache_stale = true;
    }

    fn start_service(s: &mut Stamp, node: &str, svc: &str) {
        if let Some(n) = s.node_mut(node) {
            for x in n.services.iter_mut().filter(|x| x.name == svc) {
                x.state = "Running".into();
            }
        }
        if svc == "FabricHostSvc" {
            for ring in &mut s.rings {
                for fnode in ring.nodes.iter_mut().filter(|f| f.name == node) {
                    fnode.status = "Up".into();
                    fnode.health = "Ok".into();
                }
            }
        }
        if svc == "GatewayService" {
            for c in s
                .network
                .connections
                .iter_mut()
                .filter(|c| c.gateway == node)
            {
                c.status = "Connected".into();
            }
        }
    }

    fn restart_role(s: &mut Stamp, role: &str) {
        let names: Vec<String> = s
            .vms
            .iter()
            .filter(|v| v.role == role)
            .map(|v| v.name.clone())
            .collect();
        for v in s.vms.iter_mut().filter(|v| v.role == role) {
            v.state = "Running".into();
            for svc in v
                .services
                .iter_mut()
                .filter(|x| x.start_type == "Automatic")
            {
                svc.state = "Running".into();
            }
        }
        for ring in &mut s.rings {
            let ours = ring.nodes.iter().any(|n| names.contains(&n.name));
            for n in ring.nodes.iter_mut().filter(|n| names.contains(&n.name)) {
                n.status = "Up".into();
                n.health = "Ok".into();
            }
            if ours && ring.upgrade.state == "RollingForwardInProgress" {
                let target = ring.upgrade.target_version.clone();
                for n in &mut ring.nodes {
                    n.version = target.clone();
                    n.health = "Ok".into();
                }
                ring.runtime_version = target;
                ring.upgrade.state = "RollingForwardCompleted".into();
                ring.upgrade.completed_domains = ring
                    .nodes
                    .iter()
                    .map(|n| n.upgrade_domain.clone())
                    .collect();
                ring.upgrade.failure_reason.clear();
            }
        }
        for p in &mut s.ece.action_plans {
            if p.status != "Failed" {
                continue;
            }
            if let Some(step) = p
                .steps
                .iter_mut()
                .find(|st| st.status == "Error" && st.role == role)
            {
                step.status = "Success".into();
                p.status = "Completed".into();
            }
        }
    }

    fn apply_contract_repair(name: &str, s: &mut Stamp) {
        match name {
            "csv-offline" => {
                for c in s
                    .cluster
                    .csvs
                    .iter_mut()
                    .filter(|c| c.name == "Cluster Virtual Disk (Infrastructure_2)")
                {
                    c.owner = "AZS-HOST01".into();
                    c.state = "Online".into();
                }
            }
            "cluster-group-failed" => {
                for g in s
                    .cluster
                    .groups
                    .iter_mut()
                    .filter(|g| g.name == "SU1FileServer")
                {
                    g.owner = "AZS-HOST02".into();
                    g.state = "Online".into();
                }
                for r in s
                    .cluster
                    .resources
                    .iter_mut()
                    .filter(|r| r.group == "SU1FileServer")
                {
                    r.state = "Online".into();
                }
            }
            "vdisk-degraded-stuck-job" => {
                repair_vdisk(s);
                s.storage.health_cache_stale = false;
                for v in &mut s.storage.virtual_disks {
                    v.reported_health.clear();
                }
            }
            "sf-stuck-primary" => {
                for ring in &mut s.rings {
                    for svc in &mut ring.services {
                        for p in &mut svc.partitions {
                            for r in p.replicas.iter_mut().filter(|r| r.role == "Primary") {
                                r.status = "Ready".into();
                                r.health = "Ok".into();
                                r.health_detail.clear();
                            }
                        }
                    }
                }
            }
            "sf-node-down" => start_service(s, "AZS-XRP03", "FabricHostSvc"),
            "ring-upgrade-stuck" => restart_role(s, "FabricRing"),
            "ece-plan-failed" => restart_role(s, "ACS"),
            "service-stopped" => start_service(s, "AZS-SQL01", "MSSQLSERVER"),
            "disk-full" => {
                let mut freed = 0u64;
                if let Some(n) = s.node_mut("AZS-WAS01") {
                    n.files.retain(|f| {
                        let clean = f.path.starts_with("C:\\Windows\\Temp\\")
                            || (f.path.starts_with("C:\\MASLogs\\") && f.path.ends_with(".dmp"));
                        if clean {
                            freed += f.size_bytes;
                        }
                        !clean
                    });
                    for d in n.disks.iter_mut().filter(|d| d.drive == "C:") {
                        d.free_gb += freed as f64 / 1024f64.powi(3);
                    }
                }
            }
            "vm-wrong-host" => {
                for v in s.vms.iter_mut().filter(|v| v.name == "AZS-ACS02") {
                    v.host = "AZS-HOST01".into();
                }
            }
            "s2s-disconnected" => start_service(s, "AZS-GWY01", "GatewayService"),
            other => panic!("no hand repair for scenario {other}; add one"),
        }
    }

    #[test]
    fn contract_repairs_leave_every_check_passing() {
        for name in fault_scenarios() {
            let mut s = load_scenario(name).unwrap_or_else(|e| panic!("{e}"));
            apply_contract_repair(name, &mut s);
            assert_eq!(failing(&s), Vec::<&str>::new(), "{name} after its repair");
        }
    }
}
