//! Known-issue checks: the table of named health checks and `Test-AzsSupportKnownIssue`
//! (support, DiagnosticsRepair). `Test-AzureStack` (operator) groups the same checks under its
//! own test names (`azure_stack_test`).
//!
//! This module owns the check types ([`Problem`], [`Verdict`], [`Check`]), the table of checks
//! ([`CHECKS`]: name, what it judges, its threshold) and the helpers the checks share. The checks
//! live beside it, grouped by what they look at: `cluster_checks` (cluster nodes, groups,
//! resources, CSVs), `infrastructure_checks` (infrastructure VMs, their placement, services,
//! drive space), `storage_checks` (physical disks, enclosures, pool, virtual disks, jobs),
//! `capacity_checks` (volume capacity), `fabric_checks`, `ece_checks`, `network_checks` and
//! `tenant_checks`.
//!
//! A check is a pure function of the stamp and its time: it judges every entity of its kind by
//! state, history over time and capacity as the health model does (`stamp::health`,
//! `stamp::clock`, `stamp::fabric_health`), and returns the problems it found, each with evidence
//! naming the entity, its state and the threshold it crossed, and a remediation that names only
//! catalog commands (a test holds them to the catalog) — or a one-line summary of what it looked
//! at when all is well.

mod azure_stack_test;
mod capacity_checks;
mod cluster_checks;
mod ece_checks;
mod fabric_checks;
mod infrastructure_checks;
mod network_checks;
mod storage_checks;
mod tenant_checks;

pub use azure_stack_test::{health_summary, test_azure_stack};

use super::{join_names, CommandError, Invocation, Table};
use crate::stamp::{NodeState, Stamp};
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;
use chrono::{DateTime, Utc};

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

/// A check: the stamp and its current time in, a verdict out.
pub(crate) type CheckFn = fn(&Stamp, DateTime<Utc>) -> Verdict;

/// A named check.
pub(crate) struct Check {
    /// Name (`ClusterSharedVolumeHealth`).
    pub name: &'static str,
    /// What it judges.
    pub description: &'static str,
    /// Its threshold, where it has one (empty: it judges state alone).
    pub threshold: &'static str,
    /// The check itself.
    pub run: CheckFn,
}

/// Every check, in `-List` order.
pub(crate) const CHECKS: &[Check] = &[
    Check {
        name: "ClusterNodeHealth",
        description: "Scale-unit hosts that are not Up in the failover cluster: Down, Paused (drained and left in maintenance), Joining, Isolated or Quarantined; Up hosts whose drain or ECE provisioning failed.",
        threshold: "",
        run: cluster_checks::cluster_node_health,
    },
    Check {
        name: "ClusterGroupHealth",
        description: "Cluster groups that are not Online (a VM's group is offline while the VM is Off or Saved), and groups Online on a host that is not Up.",
        threshold: "",
        run: cluster_checks::cluster_group_health,
    },
    Check {
        name: "ClusterResourceHealth",
        description: "Cluster resources that are not Online, and resources Online on a host that is not Up.",
        threshold: "",
        run: cluster_checks::cluster_resource_health,
    },
    Check {
        name: "ClusterSharedVolumeHealth",
        description: "Cluster shared volumes that are not Online (Redirected access included), or owned by a host that is not Up.",
        threshold: "",
        run: cluster_checks::csv_health,
    },
    Check {
        name: "StorageCapacity",
        description: "Object-store volumes and cluster shared volumes near full, and volumes the storage service throttles or reports full.",
        threshold: "object stores: Warning at 90% used, Critical at 95%, Throttled or Full Critical; infrastructure shares (CSVs): Warning at 80%, Critical at 90%",
        run: capacity_checks::storage_capacity,
    },
    Check {
        name: "InfrastructureVMState",
        description: "Infrastructure VMs that are not Running (Off, Saved, Paused), whose provisioning failed, or that claim to run on a host that is not Up.",
        threshold: "",
        run: infrastructure_checks::vm_state,
    },
    Check {
        name: "InfrastructureVMPlacement",
        description: "Two VMs of one role on one host while an Up host has none of that role.",
        threshold: "",
        run: infrastructure_checks::vm_placement,
    },
    Check {
        name: "InfrastructureServiceState",
        description: "Automatic services that are not Running on running hosts and VMs (Manual and Disabled services may be stopped).",
        threshold: "",
        run: infrastructure_checks::service_state,
    },
    Check {
        name: "InfrastructureDiskSpace",
        description: "Drives of hosts and infrastructure VMs that are nearly full.",
        threshold: "less than 10% free",
        run: infrastructure_checks::disk_space,
    },
    Check {
        name: "PhysicalDiskHealth",
        description: "Physical disks that are not Healthy / OK; a retired disk that still fails awaits replacement.",
        threshold: "",
        run: storage_checks::physical_disk_health,
    },
    Check {
        name: "StorageEnclosureHealth",
        description: "Storage enclosures that are not Healthy.",
        threshold: "",
        run: storage_checks::enclosure_health,
    },
    Check {
        name: "StoragePoolHealth",
        description: "The storage pool's health and operational status (Degraded, Read-only, ...), and a pool allocated so far it cannot rebuild a drive's copies.",
        threshold: "Warning at 90% of the pool allocated",
        run: storage_checks::pool_health,
    },
    Check {
        name: "VirtualDiskHealth",
        description: "Virtual disks not Healthy / OK as the storage health cache reports them, and a stale cache that disagrees with the disks.",
        threshold: "",
        run: storage_checks::virtual_disk_health,
    },
    Check {
        name: "StorageJobHealth",
        description: "Storage jobs that are Suspended or Failed (unless a later job on the disk completed), or that made no progress for hours whatever their state word.",
        threshold: "no progress for 4 hours",
        run: storage_checks::storage_job_health,
    },
    Check {
        name: "ServiceFabricNodeHealth",
        description: "Service Fabric nodes that are not Up with health Ok.",
        threshold: "",
        run: fabric_checks::fabric_node_health,
    },
    Check {
        name: "ServiceFabricReplicaHealth",
        description: "Service Fabric replicas that are Down or Dropped, on a node that is not Up, or unhealthy, and unhealthy applications, services and partitions. Replicas being built (InBuild) and idle secondaries with health Ok are healthy.",
        threshold: "",
        run: fabric_checks::fabric_replica_health,
    },
    Check {
        name: "ServiceFabricPartitionQuorum",
        description: "Stateful partitions with fewer replicas up (Ready on an Up node) than their write quorum, even when every node is Up, and partitions the cluster reports InQuorumLoss.",
        threshold: "write quorum: a majority of the replica set",
        run: fabric_checks::partition_quorum,
    },
    Check {
        name: "ServiceFabricUpgrade",
        description: "Ring upgrades that failed, roll back, or are stuck: held by a failure reason or an unhealthy node, or rolling forward longer than the upgrade domains allow. An upgrade in progress within its time is healthy.",
        threshold: "2 hours per upgrade domain",
        run: fabric_checks::fabric_upgrade,
    },
    Check {
        name: "ECEActionPlanFailures",
        description: "ECE action plans whose latest run Failed, with the failing step and the team that owns it (a failure later re-run to completion is history).",
        threshold: "",
        run: ece_checks::ece_failures,
    },
    Check {
        name: "ECEActionPlanProgress",
        description: "ECE action plans InProgress far longer than their expected duration, with the step they wait at and what blocks it.",
        threshold: "twice the plan's expected duration (Update 24 h, node operations 12 h, secret rotation 6 h, others 8 h)",
        run: ece_checks::ece_progress,
    },
    Check {
        name: "S2SConnectivity",
        description: "Site-to-site connections that are not Connected.",
        threshold: "",
        run: network_checks::s2s_connectivity,
    },
    Check {
        name: "NetworkResourceHealth",
        description: "Network resources (NRP) and network controller resources (SDN) whose provisioning Failed or whose configuration state is Failure; resources being updated, created or deleted are healthy.",
        threshold: "",
        run: network_checks::network_resource_health,
    },
    Check {
        name: "InfrastructurePerformance",
        description: "Running hosts and infrastructure VMs whose processor or memory is exhausted.",
        threshold: "processor at 90% or memory at 95%",
        run: infrastructure_checks::performance,
    },
    Check {
        name: "TenantVMHealth",
        description: "Tenant VMs and scale sets whose provisioning Failed, VMs Failed, and VMs that claim to run on a host that is not Up. VMs their owners stopped or deallocated are healthy.",
        threshold: "",
        run: tenant_checks::tenant_vm_health,
    },
];

pub(crate) fn check(name: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.name.eq_ignore_ascii_case(name))
}

/// Every check's verdict on `stamp` at `now`.
#[cfg(test)]
pub(crate) fn run_all(stamp: &Stamp, now: DateTime<Utc>) -> Vec<(&'static str, Verdict)> {
    CHECKS
        .iter()
        .map(|c| (c.name, (c.run)(stamp, now)))
        .collect()
}

fn problem(evidence: String, remediation: String) -> Problem {
    Problem {
        evidence,
        remediation,
    }
}

fn verdict(problems: Vec<Problem>, summary: String) -> Verdict {
    Verdict { problems, summary }
}

/// Case-insensitive equality of state words.
fn is(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b)
}

fn restart_role_hint(role: &str) -> String {
    if role.eq_ignore_ascii_case("ERCS") {
        "Start the ERCS VM from its Hyper-V host (Restart-AzsSupportComputerByRole refuses ERCS)"
            .into()
    } else {
        format!("Restart-AzsSupportComputerByRole -Role {role}")
    }
}

/// Up hosts other than `except`, in stamp order.
fn up_hosts_except<'a>(stamp: &'a Stamp, except: &str) -> Vec<&'a str> {
    stamp
        .hosts
        .iter()
        .filter(|h| h.state == NodeState::Up && !h.name.eq_ignore_ascii_case(except))
        .map(|h| h.name.as_str())
        .collect()
}

fn first_or_placeholder(hosts: &[&str]) -> String {
    hosts
        .first()
        .map(|h| h.to_string())
        .unwrap_or_else(|| "<an Up host>".into())
}

/// Why a host is not Up: its state, or that the stamp has no host of that name. Shown as the
/// state word (`Down`) or `not a host of this stamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotUp {
    /// The host is in this state (not Up).
    State(NodeState),
    /// No host of that name.
    NoSuchHost,
}

impl std::fmt::Display for NotUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotUp::State(s) => f.pad(s.as_str()),
            NotUp::NoSuchHost => f.pad("not a host of this stamp"),
        }
    }
}

/// Why a host is not Up (None: Up).
fn host_not_up(stamp: &Stamp, host: &str) -> Option<NotUp> {
    match stamp.host(host) {
        Some(h) if h.state == NodeState::Up => None,
        Some(h) => Some(NotUp::State(h.state)),
        None => Some(NotUp::NoSuchHost),
    }
}

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

fn stale_cache_mismatch(stamp: &Stamp) -> bool {
    let s = &stamp.storage;
    s.health_cache_stale
        && s.virtual_disks
            .iter()
            .any(|v| !v.reported_health.is_empty() && v.reported_health != v.health)
}

pub fn test_known_issue(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let checks = selected_checks(inv)?;
    if inv.args.switch("List") {
        return Ok(checks
            .iter()
            .map(|c| {
                Record::new("Azs.Support.KnownIssueCheck")
                    .with("Name", c.name)
                    .with("Description", c.description)
                    .with("Threshold", c.threshold)
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
    let (stamp, now) = (inv.stamp(), inv.now);
    let mut rows: Vec<(&str, Verdict)> = checks
        .iter()
        .map(|c| (c.name, (c.run)(stamp, now)))
        .collect();
    rows.sort_by(|a, b| a.1.passed().cmp(&b.1.passed()).then_with(|| a.0.cmp(b.0)));
    Ok(rows.iter().map(|(n, v)| result_record(n, v)).collect())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{default_stamp, prop, run_on};
    use super::*;
    use crate::stamp::{load_scenario, scenario::fault_names};

    fn failing(stamp: &Stamp) -> Vec<&'static str> {
        run_all(stamp, stamp.now())
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
        for (name, v) in run_all(&s, s.now()) {
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
            if s.case.is_benign() {
                assert_eq!(failing(&s), Vec::<&str>::new(), "benign {name} is flagged");
                continue;
            }
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
        assert_eq!(rows.len(), 4);
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
        assert!(s.repair_virtual_disk("Infrastructure_3"));
        assert_eq!(failing(&s), ["VirtualDiskHealth"]);
        assert!(storage_checks::virtual_disk_health(&s, s.now())
            .evidence()
            .contains("stale"));
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

    /// Every command a remediation, description or threshold names is in the catalog: checks
    /// must not send an engineer to a command that does not exist. Run over every scenario, so
    /// every remediation path is exercised.
    #[test]
    fn remediations_name_only_catalog_commands() {
        let catalog: Vec<String> = crate::catalog::all_embedded_commands()
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|c| c.name.to_ascii_lowercase())
            .collect();
        let verb_noun = regex::Regex::new(r"\b[A-Z][a-z]+-[A-Z][A-Za-z]+\b").expect("regex");
        let mut texts: Vec<String> = CHECKS
            .iter()
            .flat_map(|c| [c.description.to_string(), c.threshold.to_string()])
            .collect();
        let mut named = 0;
        for name in crate::stamp::scenario::embedded_names() {
            let s = load_scenario(name).unwrap_or_else(|e| panic!("{e}"));
            for (_, v) in run_all(&s, s.now()) {
                texts.extend(v.problems.iter().map(|p| p.remediation.clone()));
            }
        }
        for text in &texts {
            for m in verb_noun.find_iter(text) {
                named += 1;
                assert!(
                    catalog.contains(&m.as_str().to_ascii_lowercase()),
                    "'{}' is not a catalog command (in: {text})",
                    m.as_str()
                );
            }
        }
        assert!(named > 10, "remediations name commands ({named})");
    }
}
