//! `Test-AzureStack` (operator): the known-issue checks grouped under the product's test names.
//!
//! Each test runs its checks and prints `Test-AzureStack: <Test> (<Title>) PASS|FAIL` with an
//! `ERROR:` line per problem (or, with `-DetailedResults`, one record per test); under a failing
//! Service Fabric test it adds each ring's aggregated health. Both forms end with `True` when
//! every test passed, else `False` — the line monitoring reads (and, in exec mode, the exit
//! status).

use super::{check, Verdict};
use crate::commands::{join_names, CommandError, Invocation};
use crate::stamp::fabric_health::ring_health;
use crate::value::{Record, Value};

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
        checks: &["InfrastructureDiskSpace", "StorageCapacity"],
    },
    AzureStackTest {
        name: "AzsInfraFileValidation",
        title: "Azure Stack Infrastructure File Validation",
        checks: &["ClusterSharedVolumeHealth"],
    },
    AzureStackTest {
        name: "AzsInfraPerformance",
        title: "Azure Stack Infrastructure Performance",
        checks: &["InfrastructurePerformance"],
    },
    AzureStackTest {
        name: "AzsInfraRoleSummary",
        title: "Azure Stack Infrastructure Role Summary",
        checks: &["InfrastructureVMState", "InfrastructureServiceState"],
    },
    AzureStackTest {
        name: "AzsInfraUpdateSummary",
        title: "Azure Stack Infrastructure Update Summary",
        checks: &["ECEActionPlanFailures", "ECEActionPlanProgress"],
    },
    AzureStackTest {
        name: "AzsNetworkInfra",
        title: "Azure Stack Network Infrastructure",
        checks: &["S2SConnectivity", "NetworkResourceHealth"],
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
            "ServiceFabricPartitionQuorum",
            "ServiceFabricUpgrade",
        ],
    },
    AzureStackTest {
        name: "AzsStorageServiceSummary",
        title: "Azure Stack Storage Services Summary",
        checks: &[
            "PhysicalDiskHealth",
            "StorageEnclosureHealth",
            "StoragePoolHealth",
            "VirtualDiskHealth",
            "StorageJobHealth",
        ],
    },
    AzureStackTest {
        name: "AzsTenantVmHealth",
        title: "Azure Stack Tenant VM Health",
        checks: &["TenantVMHealth"],
    },
    AzureStackTest {
        name: "AzsVmPlacement",
        title: "Azure Stack Infrastructure VM Placement",
        checks: &["InfrastructureVMPlacement"],
    },
];

/// One line on the stamp's health at `now`, as Test-AzureStack would judge it: every test passing,
/// or which fail (the login banner of a support session shows it).
pub fn health_summary(stamp: &crate::stamp::Stamp, now: chrono::DateTime<chrono::Utc>) -> String {
    let failing: Vec<&str> = TESTS
        .iter()
        .filter(|t| {
            !t.checks
                .iter()
                .filter_map(|n| check(n))
                .all(|c| (c.run)(stamp, now).passed())
        })
        .map(|t| t.name)
        .collect();
    if failing.is_empty() {
        format!("all {} Test-AzureStack tests pass", TESTS.len())
    } else {
        format!(
            "{} of {} Test-AzureStack tests fail: {}",
            failing.len(),
            TESTS.len(),
            failing.join(", ")
        )
    }
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
    let (stamp, now) = (inv.stamp(), inv.now);
    let detailed = inv.args.switch("DetailedResults");
    let mut out = Vec::new();
    let mut all_passed = true;
    for t in tests {
        let verdicts: Vec<(&str, Verdict)> = t
            .checks
            .iter()
            .filter_map(|n| check(n))
            .map(|c| (c.name, (c.run)(stamp, now)))
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
    out.push(Value::Bool(all_passed));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::{default_stamp, prop, run_on};
    use super::super::CHECKS;
    use super::*;
    use crate::stamp::load_scenario;

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
        assert_eq!(out.len(), 3);
        assert_eq!(prop(&out[0], "Test"), "AzsInfraCapacity");
        assert_eq!(prop(&out[1], "Result"), "FAIL");
        assert_eq!(
            out.last(),
            Some(&Value::Bool(false)),
            "-DetailedResults ends with the plain form's verdict"
        );
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
    #[test]
    fn every_check_belongs_to_exactly_one_test() {
        for c in CHECKS {
            let n = TESTS.iter().filter(|t| t.checks.contains(&c.name)).count();
            assert_eq!(n, 1, "{} is in {n} tests", c.name);
        }
        for t in TESTS {
            for c in t.checks {
                assert!(
                    super::super::check(c).is_some(),
                    "{}: unknown check {c}",
                    t.name
                );
            }
        }
    }
}
