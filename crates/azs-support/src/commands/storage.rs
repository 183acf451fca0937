//! Storage family (Azs.Support): virtual disks and their jobs, storage nodes, object-store
//! utilization, storage event-log errors, storage accounts and managed disks, the storage
//! subsystem's own diagnosis, the storage diagnostic report, the storage-spaces database export
//! and the health-cache refresh (the second half of the degraded-virtual-disk repair).

use super::cluster::require_hosts;
use super::{CommandError, Invocation, Table};
use crate::stamp::{Event, Stamp, VirtualDisk};
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;
use chrono::{DateTime, Duration, Utc};

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Get-AzsSupportVirtualDisk", get_virtual_disk),
    ("Get-AzsSupportVirtualDiskStorageJob", get_storage_job),
    ("Get-AzsSupportStorageNode", get_storage_node),
    ("Get-AzsSupportVolumeUtilization", get_volume_utilization),
    (
        "Get-AzsSupportStorageEventLogErrors",
        get_storage_event_log_errors,
    ),
    (
        "Get-AzsSupportStorageAccountProperties",
        get_storage_account_properties,
    ),
    (
        "Get-AzsSupportManagedDiskBlobUriAndFilePath",
        get_managed_disk_location,
    ),
    ("Get-AzsSupportSClusterFileSize", get_scluster_file_size),
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

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The health a virtual disk shows: what the health cache reports while it is stale (when it
/// holds something), else the real health.
pub(crate) fn shown_health<'a>(stamp: &Stamp, vd: &'a VirtualDisk) -> &'a str {
    if stamp.storage.health_cache_stale && !vd.reported_health.is_empty() {
        &vd.reported_health
    } else {
        &vd.health
    }
}

/// Sort rank of a health status: worst first.
pub(crate) fn health_rank(health: &str) -> u8 {
    match health {
        "Unhealthy" => 0,
        "Warning" => 1,
        "Healthy" => 3,
        _ => 2,
    }
}

/// Virtual disks matching a wildcard, unhealthy first, then by name.
pub(crate) fn virtual_disks<'a>(stamp: &'a Stamp, pattern: &str) -> Vec<&'a VirtualDisk> {
    let mut rows: Vec<_> = stamp
        .storage
        .virtual_disks
        .iter()
        .filter(|v| wildcard_match(pattern, &v.name))
        .collect();
    rows.sort_by(|a, b| {
        health_rank(shown_health(stamp, a))
            .cmp(&health_rank(shown_health(stamp, b)))
            .then_with(|| a.name.cmp(&b.name))
    });
    rows
}

/// Get-AzsSupportVirtualDisk [-FriendlyName]: virtual disks, unhealthy first.
pub fn get_virtual_disk(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let pattern = inv.args.str("FriendlyName").unwrap_or("*");
    let stamp = inv.stamp();
    Ok(virtual_disks(stamp, pattern)
        .into_iter()
        .map(|v| {
            Record::new("Azs.Support.VirtualDisk")
                .with("FriendlyName", &v.name)
                .with("ResiliencySettingName", &v.resiliency)
                .with("OperationalStatus", &v.operational_status)
                .with("HealthStatus", shown_health(stamp, v))
                .with("SizeGB", v.size_gb)
                .with("FootprintOnPoolGB", v.footprint_gb)
                .into()
        })
        .collect())
}

/// A duration as PowerShell shows a TimeSpan (`hh:mm:ss`, with days when needed).
pub(crate) fn timespan(seconds: u64) -> String {
    let (d, rem) = (seconds / 86_400, seconds % 86_400);
    let hms = format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    if d > 0 {
        format!("{d}.{hms}")
    } else {
        hms
    }
}

/// Get-AzsSupportVirtualDiskStorageJob: the storage jobs, by name (then virtual disk).
pub fn get_storage_job(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let mut jobs: Vec<_> = inv.stamp().storage.jobs.iter().collect();
    jobs.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then(a.virtual_disk.cmp(&b.virtual_disk))
    });
    Ok(jobs
        .into_iter()
        .map(|j| {
            Record::new("Azs.Support.StorageJob")
                .with("Name", &j.name)
                .with("JobState", &j.state)
                .with("PercentComplete", j.progress)
                .with("BytesProcessed", j.bytes_processed)
                .with("BytesTotal", j.bytes_total)
                .with("ElapsedTime", timespan(j.elapsed_seconds))
                .into()
        })
        .collect())
}

/// A physical disk needs attention (not retired, not healthy).
fn disk_has_problem(d: &crate::stamp::PhysicalDisk) -> bool {
    d.usage != "Retired" && (d.health != "Healthy" || d.operational_status != "OK")
}

/// A host's storage-node status: its cluster state, `Degraded` when Up with a failing disk.
pub(crate) fn storage_node_status(stamp: &Stamp, host: &str) -> String {
    let state = stamp.host(host).map_or("Down", |h| h.state.as_str());
    let failing = stamp
        .storage
        .physical_disks
        .iter()
        .any(|d| d.node.eq_ignore_ascii_case(host) && disk_has_problem(d));
    match state {
        "Up" if failing => "Degraded".into(),
        s => s.to_string(),
    }
}

/// Get-AzsSupportStorageNode: each host as a storage node, with its physical disk count.
pub fn get_storage_node(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let mut hosts: Vec<_> = stamp.hosts.iter().map(|h| h.name.clone()).collect();
    hosts.sort();
    Ok(hosts
        .into_iter()
        .map(|h| {
            let count = stamp
                .storage
                .physical_disks
                .iter()
                .filter(|d| d.node.eq_ignore_ascii_case(&h))
                .count() as u64;
            let status = storage_node_status(stamp, &h);
            Record::new("Azs.Support.StorageNode")
                .with("Name", h)
                .with("OperationalStatus", status)
                .with("PhysicalDiskCount", count)
                .into()
        })
        .collect())
}

/// Percent at which the storage service warns, and at which it throttles blob writes.
const WARN_PERCENT: f64 = 80.0;
const THROTTLE_PERCENT: f64 = 90.0;

fn percent(used: f64, size: f64) -> f64 {
    if size <= 0.0 {
        0.0
    } else {
        (used / size * 1000.0).round() / 10.0
    }
}

fn volume_state(health: &str, pct: f64) -> String {
    if health != "Healthy" && !health.is_empty() {
        health.to_string()
    } else if pct >= THROTTLE_PERCENT {
        "Throttled".into()
    } else if pct >= WARN_PERCENT {
        "Warning".into()
    } else {
        "Healthy".into()
    }
}

/// Get-AzsSupportVolumeUtilization: object-store volumes, fullest first.
pub fn get_volume_utilization(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let mut vols: Vec<_> = inv.stamp().storage.volumes.iter().collect();
    vols.sort_by(|a, b| {
        percent(b.used_gb, b.size_gb)
            .total_cmp(&percent(a.used_gb, a.size_gb))
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(vols
        .into_iter()
        .map(|v| {
            let pct = percent(v.used_gb, v.size_gb);
            Record::new("Azs.Support.VolumeUtilization")
                .with("VolumeName", &v.name)
                .with("CapacityGB", v.size_gb)
                .with("UsedGB", v.used_gb)
                .with("PercentUsed", pct)
                .with("State", volume_state(&v.health, pct))
                .into()
        })
        .collect())
}

fn is_storage_event(e: &Event) -> bool {
    let text = format!("{} {}", e.log, e.provider).to_ascii_lowercase();
    [
        "stor",
        "disk",
        "spaces",
        "ntfs",
        "refs",
        "csv",
        "volume",
        "nvme",
        "mpio",
        "iscsi",
        "failoverclustering",
    ]
    .iter()
    .any(|k| text.contains(k))
}

/// Events the storage state implies on a node (failing disks, degraded virtual disks, volumes
/// that are not online), stamped shortly before `now`.
fn derived_storage_events(stamp: &Stamp, node: &str, now: DateTime<Utc>) -> Vec<Event> {
    let mut out = Vec::new();
    let spaces = "Microsoft-Windows-StorageSpaces-Driver";
    for (i, d) in stamp
        .storage
        .physical_disks
        .iter()
        .filter(|d| d.node.eq_ignore_ascii_case(node) && disk_has_problem(d))
        .enumerate()
    {
        out.push(Event {
            log: format!("{spaces}/Operational"),
            time: now - Duration::minutes(42 + i as i64),
            level: if d.health == "Unhealthy" {
                "Error"
            } else {
                "Warning"
            }
            .into(),
            id: 203,
            provider: spaces.into(),
            message: format!(
                "Physical disk {} ({}, serial {}) has health {}: {}.",
                d.friendly_name, d.media_type, d.serial, d.health, d.operational_status
            ),
        });
    }
    for c in stamp
        .cluster
        .csvs
        .iter()
        .filter(|c| c.owner.eq_ignore_ascii_case(node))
    {
        if c.state != "Online" {
            out.push(Event {
                log: "System".into(),
                time: now - Duration::minutes(35),
                level: "Error".into(),
                id: 5120,
                provider: "Microsoft-Windows-FailoverClustering".into(),
                message: format!(
                    "Cluster Shared Volume '{}' ('{}') has entered a paused state; its state is {}.",
                    c.virtual_disk, c.name, c.state
                ),
            });
        }
        if let Some(vd) = stamp
            .storage
            .virtual_disks
            .iter()
            .find(|v| v.name == c.virtual_disk && v.health != "Healthy")
        {
            out.push(Event {
                log: format!("{spaces}/Operational"),
                time: now - Duration::minutes(40),
                level: "Warning".into(),
                id: 311,
                provider: spaces.into(),
                message: format!(
                    "Virtual disk {} is {} (health {}): a copy of its data is not available.",
                    vd.name, vd.operational_status, vd.health
                ),
            });
        }
    }
    out
}

/// Get-AzsSupportStorageEventLogErrors [-ComputerName] [-FromDate] [-ToDate] [-MaxEvents]:
/// storage-related errors and warnings, newest first.
pub fn get_storage_event_log_errors(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let wanted = inv.args.strings("ComputerName");
    for w in &wanted {
        if stamp.node(w).is_none() {
            return Err(CommandError(format!(
                "no infrastructure node named '{w}' in this stamp (hosts: {}; and the infrastructure VMs)",
                stamp.hosts.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let to = inv.args.datetime("ToDate").unwrap_or(inv.now);
    let from = inv
        .args
        .datetime("FromDate")
        .unwrap_or(inv.now - Duration::hours(24));
    let max = usize::try_from(inv.args.int("MaxEvents").unwrap_or(1000).max(1)).unwrap_or(1000);
    let mut rows = Vec::new();
    for node in stamp.nodes() {
        if !wanted.is_empty() && !wanted.iter().any(|w| w.eq_ignore_ascii_case(&node.name)) {
            continue;
        }
        let mut evs: Vec<Event> = node
            .events
            .iter()
            .cloned()
            .chain(crate::stamp::events::source_events(
                &node.event_source,
                stamp.node_index(&node.name),
                inv.now,
            ))
            .chain(derived_storage_events(stamp, &node.name, inv.now))
            .filter(|e| matches!(e.level.as_str(), "Critical" | "Error" | "Warning"))
            .filter(is_storage_event)
            .filter(|e| e.time >= from && e.time <= to)
            .collect();
        evs.sort_by_key(|e| std::cmp::Reverse(e.time));
        evs.truncate(max);
        rows.extend(evs.into_iter().map(|e| (node.name.clone(), e)));
    }
    rows.sort_by(|a, b| b.1.time.cmp(&a.1.time).then_with(|| a.0.cmp(&b.0)));
    Ok(rows
        .into_iter()
        .map(|(n, e)| {
            Record::new("Azs.Support.WinEvent")
                .with("ComputerName", n)
                .with("TimeCreated", e.time)
                .with("LogName", e.log)
                .with("ProviderName", e.provider)
                .with("Id", e.id)
                .with("Level", e.level)
                .with("Message", e.message)
                .into()
        })
        .collect())
}

/// Get-AzsSupportStorageAccountProperties -AccountName [-SubscriptionId].
pub fn get_storage_account_properties(
    inv: &mut Invocation<'_>,
) -> Result<Vec<Value>, CommandError> {
    let name = inv
        .args
        .str("AccountName")
        .ok_or_else(|| CommandError("-AccountName is required".into()))?;
    let sub = inv.args.str("SubscriptionId");
    let stamp = inv.stamp();
    let acct = stamp
        .storage
        .accounts
        .iter()
        .find(|a| {
            a.name.eq_ignore_ascii_case(name)
                && sub.is_none_or(|s| a.subscription.eq_ignore_ascii_case(s))
        })
        .ok_or_else(|| match sub {
            Some(s) => CommandError(format!(
                "no storage account named '{name}' in subscription '{s}'"
            )),
            None => CommandError(format!("no storage account named '{name}'")),
        })?;
    let volumes: Vec<Value> = stamp
        .storage
        .volumes
        .iter()
        .map(|v| Value::from(v.name.as_str()))
        .collect();
    Ok(vec![Record::new("Azs.Support.StorageAccount")
        .with("AccountName", &acct.name)
        .with("SubscriptionId", &acct.subscription)
        .with("State", &acct.state)
        .with(
            "CreationTime",
            acct.created.map_or(Value::Null, Value::from),
        )
        .with("AccountType", &acct.kind)
        .with("Volumes", Value::Array(volumes))
        .into()])
}

/// Get-AzsSupportManagedDiskBlobUriAndFilePath -DiskName [-SubscriptionId].
pub fn get_managed_disk_location(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let name = inv
        .args
        .str("DiskName")
        .ok_or_else(|| CommandError("-DiskName is required".into()))?;
    let sub = inv.args.str("SubscriptionId");
    let disk = inv
        .stamp()
        .storage
        .managed_disks
        .iter()
        .find(|d| {
            d.name.eq_ignore_ascii_case(name)
                && sub.is_none_or(|s| d.subscription.eq_ignore_ascii_case(s))
        })
        .ok_or_else(|| CommandError(format!("no managed disk named '{name}'")))?;
    Ok(vec![Record::new("Azs.Support.ManagedDiskLocation")
        .with("DiskName", &disk.name)
        .with("BlobUri", &disk.blob_uri)
        .with("FilePath", &disk.file_path)
        .with("SizeGB", disk.size_gb)
        .into()])
}

/// Get-AzsSupportSClusterFileSize -Path: a managed disk's backing file or a file a node holds.
pub fn get_scluster_file_size(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let path = inv
        .args
        .str("Path")
        .ok_or_else(|| CommandError("-Path is required".into()))?;
    let stamp = inv.stamp();
    let record = |size_gb: f64, when: Value| -> Vec<Value> {
        vec![Record::new("Azs.Support.ClusterFile")
            .with("Path", path)
            .with("SizeGB", (size_gb * 100.0).round() / 100.0)
            .with("AllocatedGB", size_gb.ceil())
            .with("LastWriteTimeUtc", when)
            .into()]
    };
    if let Some(d) = stamp
        .storage
        .managed_disks
        .iter()
        .find(|d| d.file_path.eq_ignore_ascii_case(path))
    {
        let in_use = stamp
            .compute
            .vms
            .iter()
            .any(|v| v.name == d.attached_to && v.state == "Running");
        return Ok(record(
            d.size_gb,
            if in_use {
                Value::from(inv.now)
            } else {
                Value::Null
            },
        ));
    }
    if let Some(f) = stamp
        .nodes()
        .flat_map(|n| n.files.iter())
        .find(|f| f.path.eq_ignore_ascii_case(path))
    {
        return Ok(record(
            f.size_bytes as f64 / GIB,
            f.modified.map_or(Value::Null, Value::from),
        ));
    }
    Err(CommandError(format!(
        "no file '{path}' on the storage cluster"
    )))
}

/// A finding of the storage subsystem's diagnosis: severity, object, reason, action.
type Fault = (&'static str, String, String, String);

/// The storage subsystem's faults (pool, physical and virtual disks, jobs, enclosures, cache).
pub(crate) fn storage_faults(stamp: &Stamp) -> Vec<Fault> {
    let st = &stamp.storage;
    let sev = |h: &str| {
        if h == "Unhealthy" {
            "Critical"
        } else {
            "Warning"
        }
    };
    let mut out: Vec<Fault> = Vec::new();
    if st.pool.health != "Healthy" && !st.pool.health.is_empty() {
        out.push((
            sev(&st.pool.health),
            format!("StoragePool {}", st.pool.name),
            format!(
                "The storage pool's health is {} ({}).",
                st.pool.health, st.pool.operational_status
            ),
            "Check the physical disks and storage jobs of the pool.".into(),
        ));
    }
    for d in st.physical_disks.iter().filter(|d| disk_has_problem(d)) {
        out.push((
            sev(&d.health),
            format!("PhysicalDisk {} ({}, {})", d.serial, d.friendly_name, d.node),
            format!("The physical disk is {} with health {}.", d.operational_status, d.health),
            "Check the drive's connection on its node; if it does not recover, retire it (Repair-VirtualDisk of the affected virtual disks rebuilds their copies) and replace it.".into(),
        ));
    }
    for v in st
        .virtual_disks
        .iter()
        .filter(|v| v.health != "Healthy" || v.operational_status != "OK")
    {
        out.push((
            sev(&v.health),
            format!("VirtualDisk {}", v.name),
            format!("The virtual disk is {} with health {}: it has lost redundancy.", v.operational_status, v.health),
            format!("Have the operator run Repair-VirtualDisk -FriendlyName {} and follow Get-StorageJob.", v.name),
        ));
    }
    for j in st
        .jobs
        .iter()
        .filter(|j| j.state == "Suspended" || j.state == "Failed")
    {
        out.push((
            "Warning",
            format!("StorageJob {} ({})", j.name, j.virtual_disk),
            format!("The storage job is {} at {}%.", j.state, j.progress),
            format!("Resume it with Repair-VirtualDisk -FriendlyName {} once its physical disks are healthy.", j.virtual_disk),
        ));
    }
    for e in st.enclosures.iter().filter(|e| e.health != "Healthy") {
        out.push((
            sev(&e.health),
            format!("StorageEnclosure {}", e.name),
            format!("The enclosure's health is {}.", e.health),
            "Check the enclosure's hardware and firmware with the OEM tools.".into(),
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

/// The checks of Start-AzsSupportStorageDiagnostic: (check, result, details).
fn diagnostic_checks(inv: &Invocation<'_>) -> Vec<(&'static str, &'static str, String)> {
    let stamp = inv.stamp();
    let st = &stamp.storage;
    let verdict = |bad: usize, warn: usize| match (bad, warn) {
        (0, 0) => "Passed",
        (0, _) => "Warning",
        _ => "Failed",
    };
    let mut out = Vec::new();
    let pool_bad = usize::from(st.pool.health == "Unhealthy");
    let pool_warn = usize::from(st.pool.health == "Warning");
    out.push((
        "StoragePool",
        verdict(pool_bad, pool_warn),
        format!(
            "{}: {} ({}), {:.0} of {:.0} GB allocated",
            st.pool.name,
            st.pool.health,
            st.pool.operational_status,
            st.pool.allocated_gb,
            st.pool.size_gb
        ),
    ));
    let failing: Vec<_> = st
        .physical_disks
        .iter()
        .filter(|d| disk_has_problem(d))
        .collect();
    out.push((
        "PhysicalDisks",
        verdict(
            failing.iter().filter(|d| d.health == "Unhealthy").count(),
            failing.len(),
        ),
        if failing.is_empty() {
            format!("{} disks, all healthy", st.physical_disks.len())
        } else {
            failing
                .iter()
                .map(|d| {
                    format!(
                        "{} on {}: {} ({})",
                        d.serial, d.node, d.health, d.operational_status
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        },
    ));
    let vds: Vec<_> = st
        .virtual_disks
        .iter()
        .filter(|v| v.health != "Healthy")
        .collect();
    out.push((
        "VirtualDisks",
        verdict(
            vds.iter().filter(|v| v.health == "Unhealthy").count(),
            vds.len(),
        ),
        if vds.is_empty() {
            format!("{} virtual disks, all healthy", st.virtual_disks.len())
        } else {
            vds.iter()
                .map(|v| format!("{}: {} ({})", v.name, v.health, v.operational_status))
                .collect::<Vec<_>>()
                .join("; ")
        },
    ));
    let stuck: Vec<_> = st
        .jobs
        .iter()
        .filter(|j| j.state == "Suspended" || j.state == "Failed")
        .collect();
    out.push((
        "StorageJobs",
        verdict(
            stuck.iter().filter(|j| j.state == "Failed").count(),
            stuck.len(),
        ),
        if stuck.is_empty() {
            format!("{} jobs, none stuck", st.jobs.len())
        } else {
            stuck
                .iter()
                .map(|j| {
                    format!(
                        "{} on {}: {} at {}%",
                        j.name, j.virtual_disk, j.state, j.progress
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        },
    ));
    let full: Vec<_> = st
        .volumes
        .iter()
        .map(|v| (v, percent(v.used_gb, v.size_gb)))
        .filter(|(_, p)| *p >= WARN_PERCENT)
        .collect();
    out.push((
        "ObjectStoreVolumes",
        verdict(
            full.iter().filter(|(_, p)| *p >= THROTTLE_PERCENT).count(),
            full.len(),
        ),
        st.volumes
            .iter()
            .map(|v| format!("{} {}% used", v.name, percent(v.used_gb, v.size_gb)))
            .collect::<Vec<_>>()
            .join("; "),
    ));
    let csvs: Vec<_> = stamp
        .cluster
        .csvs
        .iter()
        .filter(|c| c.state != "Online")
        .collect();
    out.push((
        "ClusterSharedVolumes",
        verdict(
            csvs.iter().filter(|c| c.state != "Redirected").count(),
            csvs.len(),
        ),
        if csvs.is_empty() {
            format!("{} volumes, all Online", stamp.cluster.csvs.len())
        } else {
            csvs.iter()
                .map(|c| format!("{} {} on {}", c.name, c.state, c.owner))
                .collect::<Vec<_>>()
                .join("; ")
        },
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
        for e in get_storage_event_log_errors(inv)? {
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
    let path = inv
        .workdir
        .write_unique(&stem, "txt", inv.now, report.as_bytes())?
        .display()
        .to_string();
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
    require_hosts(stamp, std::slice::from_ref(&host))?;
    let node = stamp
        .host(&host)
        .ok_or_else(|| CommandError(format!("no infrastructure host named '{host}'")))?;
    if node.state != "Up" {
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
        .with("Path", path.display().to_string())
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
        r.state = "Online".into();
    }
    let s = inv.stamp();
    Ok(s.cluster_resources()
        .into_iter()
        .filter(|r| r.resource_type == "Health Service")
        .map(|r| {
            let owner = s.group_owner(&r.group).unwrap_or_default();
            Record::new("Azs.Support.ClusterResource")
                .with("Name", r.name)
                .with("State", r.state)
                .with("OwnerGroup", r.group)
                .with("ResourceType", r.resource_type)
                .with("OwnerNode", owner)
                .into()
        })
        .collect())
}

/// Repair-VirtualDisk's effect (contract #3): the disk's jobs complete, the disk becomes
/// Healthy/OK, failing physical disks are retired; when the disk was not healthy the health cache
/// goes stale and keeps reporting the old health. Returns whether anything changed.
pub(crate) fn repair_virtual_disk(stamp: &mut Stamp, name: &str) -> bool {
    let st = &mut stamp.storage;
    let mut changed = false;
    for j in st
        .jobs
        .iter_mut()
        .filter(|j| j.virtual_disk.eq_ignore_ascii_case(name) && j.state != "Completed")
    {
        j.state = "Completed".into();
        j.progress = 100;
        j.bytes_processed = j.bytes_total;
        changed = true;
    }
    let Some(vd) = st
        .virtual_disks
        .iter_mut()
        .find(|v| v.name.eq_ignore_ascii_case(name))
    else {
        return changed;
    };
    if vd.health != "Healthy" || vd.operational_status != "OK" {
        if vd.reported_health.is_empty() {
            vd.reported_health = vd.health.clone();
        }
        vd.health = "Healthy".into();
        vd.operational_status = "OK".into();
        st.health_cache_stale = true;
        for d in st.physical_disks.iter_mut().filter(|d| disk_has_problem(d)) {
            d.usage = "Retired".into();
            d.health = "Healthy".into();
            d.operational_status = "OK".into();
        }
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::super::cluster::tests::{prop, run_mode};
    use super::super::testing::{default_stamp, run_on};
    use super::super::Mode;
    use super::*;

    /// The `vdisk-degraded-stuck-job` fault on the default stamp.
    pub(crate) fn degraded() -> Stamp {
        let mut s = default_stamp();
        let vd = s
            .storage
            .virtual_disks
            .iter_mut()
            .find(|v| v.name == "Infrastructure_3")
            .expect("vdisk");
        vd.health = "Warning".into();
        vd.operational_status = "Degraded".into();
        s.storage.jobs.push(crate::stamp::StorageJob {
            name: "Repair".into(),
            virtual_disk: "Infrastructure_3".into(),
            state: "Suspended".into(),
            progress: 37,
            bytes_processed: 37,
            bytes_total: 100,
            elapsed_seconds: 3700,
        });
        let d = s
            .storage
            .physical_disks
            .iter_mut()
            .find(|d| d.node == "AZS-HOST02" && d.usage == "Auto-Select")
            .expect("disk");
        d.health = "Warning".into();
        d.operational_status = "Lost Communication".into();
        s
    }

    #[test]
    fn virtual_disks_unhealthy_first_and_filtered() {
        let mut s = degraded();
        let rows = run_on(&mut s, get_virtual_disk, &[], false).expect("vd");
        assert_eq!(rows.len(), 6);
        assert_eq!(prop(&rows[0], "FriendlyName"), "Infrastructure_3");
        assert_eq!(prop(&rows[0], "HealthStatus"), "Warning");
        let obj = run_on(
            &mut s,
            get_virtual_disk,
            &[("FriendlyName", "Obj*".into())],
            false,
        )
        .expect("vd");
        assert_eq!(obj.len(), 2);
        let jobs = run_on(&mut s, get_storage_job, &[], false).expect("jobs");
        assert_eq!(prop(&jobs[0], "JobState"), "Suspended");
        assert_eq!(prop(&jobs[0], "ElapsedTime"), "01:01:40");
    }

    #[test]
    fn nodes_volumes_and_events() {
        let mut s = degraded();
        let nodes = run_on(&mut s, get_storage_node, &[], false).expect("nodes");
        assert_eq!(nodes.len(), 4);
        assert_eq!(prop(&nodes[1], "OperationalStatus"), "Degraded");
        assert_eq!(prop(&nodes[0], "PhysicalDiskCount"), "6");
        s.storage.volumes[0].used_gb = 7800.0;
        let vols = run_on(&mut s, get_volume_utilization, &[], false).expect("vols");
        assert_eq!(prop(&vols[0], "VolumeName"), "ObjStore_1");
        assert_eq!(prop(&vols[0], "State"), "Throttled");
        let ev = run_on(
            &mut s,
            get_storage_event_log_errors,
            &[("ComputerName", vec!["AZS-HOST02"].into())],
            false,
        )
        .expect("events");
        assert!(ev
            .iter()
            .any(|e| prop(e, "Message").contains("Lost Communication")));
        assert!(ev.iter().all(|e| prop(e, "ComputerName") == "AZS-HOST02"));
        assert!(run_on(
            &mut s,
            get_storage_event_log_errors,
            &[("ComputerName", vec!["Nope"].into())],
            false
        )
        .is_err());
    }

    #[test]
    fn accounts_disks_and_files() {
        let mut s = default_stamp();
        let a = run_on(
            &mut s,
            get_storage_account_properties,
            &[("AccountName", "contosoweb01".into())],
            false,
        )
        .expect("acct");
        assert_eq!(prop(&a[0], "AccountType"), "StorageV2");
        assert!(run_on(
            &mut s,
            get_storage_account_properties,
            &[("AccountName", "nope".into())],
            false
        )
        .is_err());
        let d = run_on(
            &mut s,
            get_managed_disk_location,
            &[("DiskName", "tenant-vm001-osdisk".into())],
            false,
        )
        .expect("disk");
        let path = prop(&d[0], "FilePath");
        let f = run_on(
            &mut s,
            get_scluster_file_size,
            &[("Path", path.into())],
            false,
        )
        .expect("file");
        assert_eq!(prop(&f[0], "SizeGB"), "127");
        assert!(run_on(
            &mut s,
            get_scluster_file_size,
            &[("Path", "C:\\ClusterStorage\\x.vhd".into())],
            false
        )
        .is_err());
    }

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
        s.hosts[2].state = "Down".into();
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
