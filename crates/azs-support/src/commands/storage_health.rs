//! Storage family (Azs.Support), diagnosis and repair: the storage subsystem's own diagnosis, the
//! storage diagnostic report, the storage-spaces database export, the health-cache refresh, and
//! the virtual-disk repair the operator's Repair-VirtualDisk runs (contract: a resumed repair job
//! completes, the disk is healthy, and the health cache shows it only once refreshed).

use super::cluster::require_host;
use super::storage::get_storage_event_log_errors;
use super::{CommandError, Invocation, Table};
use crate::stamp::health::Health;
use crate::stamp::{CsvState, GroupState, NodeState, Stamp};
use crate::value::{Record, Value};

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Debug-AzsSupportStorageSubsystem", debug_storage_subsystem),
    (
        "Start-AzsSupportStorageDiagnostic",
        start_storage_diagnostic,
    ),
    ("Invoke-AzsSupportSpaceDB", invoke_space_db),
    (
        "Update-AzsSupportStorageHealthCache",
        update_storage_health_cache,
    ),
];

/// A finding of the storage subsystem's diagnosis: severity, object, reason, action.
type Fault = (&'static str, String, String, String);

/// The storage subsystem's faults (pool, physical and virtual disks, jobs, enclosures, volume
/// capacity, cache), judged by the health model (`stamp::health`) the known-issue checks use.
pub(crate) fn storage_faults(stamp: &Stamp) -> Vec<Fault> {
    let st = &stamp.storage;
    let sev = |h: Health| {
        if h == Health::Critical {
            "Critical"
        } else {
            "Warning"
        }
    };
    let mut out: Vec<Fault> = Vec::new();
    if let Some((h, what)) = st.pool.problem() {
        out.push((
            sev(h),
            format!("StoragePool {}", st.pool.name),
            format!("{what}."),
            "Check the physical disks and storage jobs of the pool.".into(),
        ));
    }
    for d in st.physical_disks.iter().filter(|d| d.has_problem()) {
        let status = d.operational_status.to_ascii_lowercase();
        let action = if status.contains("maintenance") {
            "The drive is in storage maintenance mode (its node is being serviced): end maintenance mode when the work is done; do not retire it."
        } else if status.contains("predictive") {
            "The drive predicts its own failure: have the OEM replace it while its copies are still healthy."
        } else {
            "Check the drive's connection on its node; if it does not recover, retire it (Repair-VirtualDisk of the affected virtual disks rebuilds their copies) and replace it."
        };
        out.push((
            sev(Health::from_reported(&d.health)),
            format!(
                "PhysicalDisk {} ({}, {})",
                d.serial, d.friendly_name, d.node
            ),
            format!(
                "The physical disk is {} with health {}.",
                d.operational_status, d.health
            ),
            action.into(),
        ));
    }
    for v in st
        .virtual_disks
        .iter()
        .filter(|v| st.virtual_disk_problem(v).is_some())
    {
        out.push((
            sev(Health::from_reported(&v.health)),
            format!("VirtualDisk {}", v.name),
            format!("The virtual disk is {} with health {}: it has lost redundancy.", v.operational_status, v.health),
            format!("Have the operator run Repair-VirtualDisk -FriendlyName {} and follow Get-StorageJob.", v.name),
        ));
    }
    for (i, j) in st.jobs.iter().enumerate() {
        if let Some(why) = st.job_problem(i) {
            out.push((
                "Warning",
                format!("StorageJob {} ({})", j.name, j.virtual_disk),
                format!("The storage job is {why}."),
                format!("Resume it with Repair-VirtualDisk -FriendlyName {} once its physical disks are healthy.", j.virtual_disk),
            ));
        }
    }
    for e in st
        .enclosures
        .iter()
        .filter(|e| e.judged() != Health::Healthy)
    {
        out.push((
            sev(e.judged()),
            format!("StorageEnclosure {}", e.name),
            format!("The enclosure's health is {}.", e.health),
            "Check the enclosure's hardware and firmware with the OEM tools.".into(),
        ));
    }
    for v in st.volumes.iter().filter(|v| v.judged() != Health::Healthy) {
        out.push((
            sev(v.judged()),
            format!("Volume {}", v.name),
            format!(
                "The volume is {}% used ({}).",
                v.percent_used(),
                v.state_word()
            ),
            "Free or migrate tenant data (Get-AzsSupportVolumeUtilization).".into(),
        ));
    }
    for c in stamp
        .cluster
        .csvs
        .iter()
        .filter(|c| c.capacity() != Health::Healthy)
    {
        out.push((
            sev(c.capacity()),
            format!("Volume {}", c.name),
            format!("The volume is {}% used.", c.percent_used()),
            "Find what fills it (Get-AzsSupportSClusterFileSize).".into(),
        ));
    }
    if st.health_cache_stale {
        out.push((
            "Informational",
            "Health Service cache".into(),
            "The storage health cache is stale: reported health differs from the disks' real health.".into(),
            "Run Update-AzsSupportStorageHealthCache.".into(),
        ));
    }
    out.sort_by_key(|f| (severity_rank(f.0), f.1.clone()));
    out
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "Critical" => 0,
        "Warning" => 1,
        _ => 2,
    }
}

/// Debug-AzsSupportStorageSubsystem: one record per fault, or one "no faults" record.
pub fn debug_storage_subsystem(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let mut faults = storage_faults(stamp);
    if faults.is_empty() {
        faults.push((
            "None",
            format!(
                "StorageSubsystem Clustered Windows Storage on {}",
                stamp.cluster.name
            ),
            "No faults found: the storage subsystem is healthy.".into(),
            "None.".into(),
        ));
    }
    Ok(faults
        .into_iter()
        .map(|(sev, obj, reason, action)| {
            Record::new("Azs.Support.StorageFault")
                .with("Severity", sev)
                .with("FaultingObject", obj)
                .with("Reason", reason)
                .with("RecommendedActions", action)
                .into()
        })
        .collect())
}

/// A check's result: Failed when something is bad, Warning when something only warns.
fn verdict(bad: usize, warn: usize) -> &'static str {
    match (bad, warn) {
        (0, 0) => "Passed",
        (0, _) => "Warning",
        _ => "Failed",
    }
}

/// A check over the entities found not well (`unwell`): Failed when any of them `fails`, else
/// Warning; their descriptions as details, or `all_well` when there are none.
fn entity_check<T>(
    check: &'static str,
    unwell: &[T],
    fails: impl Fn(&T) -> bool,
    all_well: String,
    describe: impl Fn(&T) -> String,
) -> (&'static str, &'static str, String) {
    let details = if unwell.is_empty() {
        all_well
    } else {
        unwell.iter().map(describe).collect::<Vec<_>>().join("; ")
    };
    let failed = unwell.iter().filter(|e| fails(e)).count();
    (check, verdict(failed, unwell.len()), details)
}

/// A result word from the worst health found.
fn result_of(worst: Health) -> &'static str {
    match worst {
        Health::Healthy => "Passed",
        Health::Warning => "Warning",
        Health::Critical => "Failed",
    }
}

/// The checks of Start-AzsSupportStorageDiagnostic: (check, result, details), judged by the
/// health model (`stamp::health`) the known-issue checks use.
fn diagnostic_checks(inv: &Invocation<'_>) -> Vec<(&'static str, &'static str, String)> {
    let stamp = inv.stamp();
    let st = &stamp.storage;
    let mut out = Vec::new();
    let pool = st.pool.problem();
    out.push((
        "StoragePool",
        result_of(pool.as_ref().map_or(Health::Healthy, |(h, _)| *h)),
        pool.map_or_else(
            || {
                format!(
                    "{}: {} ({}), {:.0} of {:.0} GB allocated",
                    st.pool.name,
                    st.pool.health,
                    st.pool.operational_status,
                    st.pool.allocated_gb,
                    st.pool.size_gb
                )
            },
            |(_, what)| what,
        ),
    ));
    let failing: Vec<_> = st
        .physical_disks
        .iter()
        .filter(|d| d.has_problem())
        .collect();
    out.push(entity_check(
        "PhysicalDisks",
        &failing,
        |d| Health::from_reported(&d.health) == Health::Critical,
        format!("{} disks, all healthy", st.physical_disks.len()),
        |d| {
            format!(
                "{} on {}: {} ({})",
                d.serial, d.node, d.health, d.operational_status
            )
        },
    ));
    let vds: Vec<_> = st
        .virtual_disks
        .iter()
        .filter(|v| st.virtual_disk_problem(v).is_some())
        .collect();
    out.push(entity_check(
        "VirtualDisks",
        &vds,
        |v| Health::from_reported(&v.health) == Health::Critical,
        format!("{} virtual disks, all healthy", st.virtual_disks.len()),
        |v| format!("{}: {} ({})", v.name, v.health, v.operational_status),
    ));
    let stuck: Vec<(String, bool)> = st
        .jobs
        .iter()
        .enumerate()
        .filter_map(|(i, j)| {
            st.job_problem(i).map(|why| {
                (
                    format!("{} on {}: {why}", j.name, j.virtual_disk),
                    j.state.eq_ignore_ascii_case("Failed"),
                )
            })
        })
        .collect();
    out.push(entity_check(
        "StorageJobs",
        &stuck,
        |(_, failed)| *failed,
        format!("{} jobs, none stuck", st.jobs.len()),
        |(what, _)| what.clone(),
    ));
    let worst = st
        .volumes
        .iter()
        .map(|v| v.judged())
        .chain(stamp.cluster.csvs.iter().map(|c| c.capacity()))
        .max()
        .unwrap_or(Health::Healthy);
    out.push((
        "VolumeCapacity",
        result_of(worst),
        st.volumes
            .iter()
            .map(|v| format!("{} {}% used ({})", v.name, v.percent_used(), v.state_word()))
            .chain(
                stamp
                    .cluster
                    .csvs
                    .iter()
                    .map(|c| format!("{} {}% used", c.name, c.percent_used())),
            )
            .collect::<Vec<_>>()
            .join("; "),
    ));
    let csvs: Vec<_> = stamp
        .cluster
        .csvs
        .iter()
        .filter(|c| c.state != CsvState::Online)
        .collect();
    out.push(entity_check(
        "ClusterSharedVolumes",
        &csvs,
        |c| c.state != CsvState::Redirected,
        format!("{} volumes, all Online", stamp.cluster.csvs.len()),
        |c| format!("{} {} on {}", c.name, c.state, c.owner),
    ));
    let enclosures: Vec<_> = st
        .enclosures
        .iter()
        .filter(|e| e.judged() != Health::Healthy)
        .collect();
    out.push(entity_check(
        "Enclosures",
        &enclosures,
        |e| e.judged() == Health::Critical,
        format!("{} enclosures, all healthy", st.enclosures.len()),
        |e| format!("{} on {}: {}", e.name, e.node, e.health),
    ));
    out.push((
        "HealthCache",
        if st.health_cache_stale {
            "Warning"
        } else {
            "Passed"
        },
        if st.health_cache_stale {
            "stale: run Update-AzsSupportStorageHealthCache".into()
        } else {
            "current".into()
        },
    ));
    out
}

fn result_rank(r: &str) -> u8 {
    match r {
        "Failed" => 0,
        "Warning" => 1,
        _ => 2,
    }
}

/// Start-AzsSupportStorageDiagnostic [-IncludeEventLogs]: runs the checks, writes
/// `StorageDiagnostic_<time>.txt` into the working directory, returns one record per check.
pub fn start_storage_diagnostic(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let mut checks = diagnostic_checks(inv);
    checks.sort_by(|a, b| result_rank(a.1).cmp(&result_rank(b.1)).then(a.0.cmp(b.0)));
    let mut report = format!(
        "Storage diagnostic of {} at {}\n\n",
        inv.stamp().cluster.name,
        inv.now.format("%Y-%m-%d %H:%M:%SZ")
    );
    for (check, result, details) in &checks {
        report.push_str(&format!("[{result}] {check}: {details}\n"));
    }
    report.push_str("\nFaults reported by the storage subsystem:\n");
    for (sev, obj, reason, action) in storage_faults(inv.stamp()) {
        report.push_str(&format!("  {sev}: {obj}: {reason} Action: {action}\n"));
    }
    if inv.args.switch("IncludeEventLogs") {
        report.push_str("\nStorage events (errors and warnings, last 24 hours):\n");
        // The event read runs with its own (default) arguments, not this command's.
        for e in inv.call(get_storage_event_log_errors, &crate::BoundArgs::new())? {
            if let Some(r) = e.as_record() {
                let p = |k: &str| r.get(k).map(Value::to_display).unwrap_or_default();
                report.push_str(&format!(
                    "  {} {} {} {} {}: {}\n",
                    p("TimeCreated"),
                    p("ComputerName"),
                    p("Level"),
                    p("ProviderName"),
                    p("Id"),
                    p("Message")
                ));
            }
        }
    }
    let stem = format!("StorageDiagnostic_{}", inv.now.format("%Y%m%d-%H%M%S"));
    let written = inv
        .workdir
        .write_unique(&stem, "txt", inv.now, report.as_bytes())?;
    let path = inv.workdir.shown(&written);
    Ok(checks
        .into_iter()
        .map(|(check, result, details)| {
            Record::new("Azs.Support.DiagnosticResult")
                .with("Check", check)
                .with("Result", result)
                .with("Details", details)
                .with("ReportPath", path.as_str())
                .into()
        })
        .collect())
}

/// Invoke-AzsSupportSpaceDB -ComputerName: exports the pool database (pool, physical disks,
/// virtual disks, jobs) as seen from an Up host into the working directory. Changes nothing on
/// the stamp; -WhatIf writes nothing.
pub fn invoke_space_db(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let host = inv
        .args
        .str("ComputerName")
        .ok_or_else(|| CommandError("-ComputerName is required".into()))?
        .to_string();
    let stamp = inv.stamp();
    let node = require_host(stamp, &host)?;
    if node.state != NodeState::Up {
        return Err(CommandError(format!(
            "cannot run the storage-spaces database tool on '{}': the node is {}, not Up",
            node.name, node.state
        )));
    }
    let name = node.name.clone();
    let st = &stamp.storage;
    let mut text = format!(
        "SpaceDB export from {name} at {}\n\n[Pool]\n{} Health={} OperationalStatus={} SizeGB={} AllocatedGB={}\n\n[PhysicalDisks]\n",
        inv.now.format("%Y-%m-%d %H:%M:%SZ"),
        st.pool.name, st.pool.health, st.pool.operational_status, st.pool.size_gb, st.pool.allocated_gb
    );
    for d in &st.physical_disks {
        text.push_str(&format!(
            "{} Node={} Model=\"{}\" Media={} Usage={} SizeGB={} Health={} OperationalStatus=\"{}\"\n",
            d.serial, d.node, d.friendly_name, d.media_type, d.usage, d.size_gb, d.health, d.operational_status
        ));
    }
    text.push_str("\n[VirtualDisks]\n");
    for v in &st.virtual_disks {
        text.push_str(&format!(
            "{} Resiliency={} SizeGB={} FootprintGB={} Health={} OperationalStatus={}\n",
            v.name, v.resiliency, v.size_gb, v.footprint_gb, v.health, v.operational_status
        ));
    }
    text.push_str("\n[Jobs]\n");
    for j in &st.jobs {
        text.push_str(&format!(
            "{} VirtualDisk={} State={} Percent={} Bytes={}/{}\n",
            j.name, j.virtual_disk, j.state, j.progress, j.bytes_processed, j.bytes_total
        ));
    }
    if !inv.should_process(&name, "Export the storage-spaces database") {
        return Ok(vec![]);
    }
    let stem = format!("{name}_SpaceDB_{}", inv.now.format("%Y%m%d-%H%M%S"));
    let path = inv
        .workdir
        .write_unique(&stem, "txt", inv.now, text.as_bytes())?;
    Ok(vec![Record::new("Azs.Support.CollectedFile")
        .with("ComputerName", name)
        .with("Path", inv.workdir.shown(&path))
        .with("Length", text.len() as u64)
        .into()])
}

/// Update-AzsSupportStorageHealthCache: refreshes the health cache (stale cleared, every
/// `reported_health` dropped) and brings the health resources Online; returns them.
pub fn update_storage_health_cache(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let target = inv.stamp().cluster.name.clone();
    if !inv.should_process(
        &target,
        "Refresh the storage health cache and restart the health resources",
    ) {
        return Ok(vec![]);
    }
    let s = inv.stamp_mut()?;
    s.storage.health_cache_stale = false;
    for v in &mut s.storage.virtual_disks {
        v.reported_health.clear();
    }
    for r in s
        .cluster
        .resources
        .iter_mut()
        .filter(|r| r.resource_type == "Health Service")
    {
        r.state = GroupState::Online;
    }
    let s = inv.stamp();
    Ok(s.cluster_resources()
        .into_iter()
        .filter(|r| r.resource_type == "Health Service")
        .map(|r| {
            let owner = s.group_owner(&r.group).unwrap_or_default();
            Record::new("Azs.Support.ClusterResource")
                .with("Name", r.name)
                .with("State", r.state.as_str())
                .with("OwnerGroup", r.group)
                .with("ResourceType", r.resource_type)
                .with("OwnerNode", owner)
                .into()
        })
        .collect())
}

/// Repair-VirtualDisk's effect: see [`Stamp::repair_virtual_disk`]. Returns whether anything
/// changed.
pub(crate) fn repair_virtual_disk(stamp: &mut Stamp, name: &str) -> bool {
    stamp.repair_virtual_disk(name)
}

#[cfg(test)]
mod tests {
    use super::super::storage::get_virtual_disk;
    use super::super::storage::tests::degraded;
    use super::super::testing::{default_stamp, run_on};
    use super::super::testing::{prop, run_mode};
    use super::super::Mode;
    use super::*;

    #[test]
    fn debug_and_diagnostic() {
        let mut s = default_stamp();
        let ok = run_on(&mut s, debug_storage_subsystem, &[], false).expect("ok");
        assert_eq!(ok.len(), 1);
        assert_eq!(prop(&ok[0], "Severity"), "None");
        let mut s = degraded();
        let faults = run_on(&mut s, debug_storage_subsystem, &[], false).expect("faults");
        assert_eq!(faults.len(), 3);
        assert!(faults.iter().all(|f| prop(f, "Severity") == "Warning"));
        let checks = run_on(
            &mut s,
            start_storage_diagnostic,
            &[("IncludeEventLogs", true.into())],
            false,
        )
        .expect("diag");
        assert_eq!(prop(&checks[0], "Result"), "Warning");
        assert!(prop(&checks[0], "ReportPath").contains("StorageDiagnostic_"));
    }

    #[test]
    fn space_db_refuses_down_hosts_and_whatif_writes_nothing() {
        let mut s = default_stamp();
        let out = run_on(
            &mut s,
            invoke_space_db,
            &[("ComputerName", "azs-host01".into())],
            true,
        )
        .expect("db");
        assert!(prop(&out[0], "Path").contains("AZS-HOST01_SpaceDB_"));
        let before = s.clone();
        let none = run_mode(
            &mut s,
            invoke_space_db,
            &[("ComputerName", "AZS-HOST01".into())],
            Mode::WhatIf,
        )
        .expect("whatif");
        assert!(none.is_empty());
        assert_eq!(s, before);
        s.hosts[2].state = NodeState::Down;
        assert!(run_on(
            &mut s,
            invoke_space_db,
            &[("ComputerName", "AZS-HOST03".into())],
            true
        )
        .is_err());
        assert!(run_on(
            &mut s,
            invoke_space_db,
            &[("ComputerName", "AZS-ACS01".into())],
            true
        )
        .is_err());
    }

    #[test]
    fn repair_then_health_cache_refresh() {
        let mut s = degraded();
        assert!(repair_virtual_disk(&mut s, "Infrastructure_3"));
        let job = &s.storage.jobs[0];
        assert_eq!((job.state.as_str(), job.progress), ("Completed", 100));
        assert_eq!(job.bytes_processed, job.bytes_total);
        assert!(s.storage.health_cache_stale);
        let retired = s
            .storage
            .physical_disks
            .iter()
            .filter(|d| d.usage == "Retired")
            .count();
        assert_eq!(retired, 1);
        let vd = run_on(
            &mut s,
            get_virtual_disk,
            &[("FriendlyName", "Infrastructure_3".into())],
            false,
        )
        .expect("vd");
        assert_eq!(prop(&vd[0], "HealthStatus"), "Warning");
        let before = s.clone();
        run_mode(&mut s, update_storage_health_cache, &[], Mode::WhatIf).expect("whatif");
        assert_eq!(s, before);
        let res = run_on(&mut s, update_storage_health_cache, &[], true).expect("refresh");
        assert_eq!(prop(&res[0], "ResourceType"), "Health Service");
        assert!(!s.storage.health_cache_stale);
        let vd = run_on(
            &mut s,
            get_virtual_disk,
            &[("FriendlyName", "Infrastructure_3".into())],
            false,
        )
        .expect("vd");
        assert_eq!(prop(&vd[0], "HealthStatus"), "Healthy");
        let ok = run_on(&mut s, debug_storage_subsystem, &[], false).expect("ok");
        assert_eq!(prop(&ok[0], "Severity"), "None");
    }
}
