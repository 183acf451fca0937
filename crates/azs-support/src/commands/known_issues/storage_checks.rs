//! Known-issue checks over Storage Spaces Direct, judged by the health model
//! (`stamp::health`, `stamp::clock`): physical disks (`PhysicalDiskHealth`), enclosures
//! (`StorageEnclosureHealth`), the pool's health, operational status and allocation
//! (`StoragePoolHealth`), virtual disks as the storage health cache reports them, including a
//! stale cache that disagrees with the disks (`VirtualDiskHealth`), and storage jobs that are
//! suspended, failed or make no progress (`StorageJobHealth`).

use super::{is, problem, verdict, Verdict};
use crate::stamp::clock::JOB_STALL_HOURS;
use crate::stamp::health::{Health, POOL_ALLOCATED_WARN_PERCENT};
use crate::stamp::Stamp;
use chrono::{DateTime, Utc};

pub(super) fn physical_disk_health(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let disks = &stamp.storage.physical_disks;
    let problems = disks
        .iter()
        .filter(|d| d.has_problem())
        .map(|d| {
            problem(
                format!(
                    "Physical disk {} ({}) on {} is {} ({})",
                    d.serial, d.friendly_name, d.node, d.health, d.operational_status
                ),
                format!(
                    "Let the operator resume the repair of the affected virtual disks (Repair-VirtualDisk) so the disk is retired, then replace disk {} on {}",
                    d.serial, d.node
                ),
            )
        })
        .collect();
    verdict(
        problems,
        format!("All {} physical disks are Healthy / OK", disks.len()),
    )
}

pub(super) fn enclosure_health(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let all = &stamp.storage.enclosures;
    let problems = all
        .iter()
        .filter(|e| e.judged() != Health::Healthy)
        .map(|e| {
            problem(
                format!("Storage enclosure {} on {} is {}", e.name, e.node, e.health),
                format!(
                    "Check the enclosure's disks (Get-AzsSupportStorageNode, Debug-AzsSupportStorageSubsystem) and have the hardware vendor service the enclosure on {}",
                    e.node
                ),
            )
        })
        .collect();
    verdict(
        problems,
        format!("All {} storage enclosures are Healthy", all.len()),
    )
}

pub(super) fn pool_health(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let pool = &stamp.storage.pool;
    let problems = pool
        .problem()
        .map(|(_, what)| {
            let failing: Vec<&str> = stamp
                .storage
                .physical_disks
                .iter()
                .filter(|d| d.has_problem())
                .map(|d| d.serial.as_str())
                .collect();
            let remediation = if failing.is_empty() {
                "Review Debug-AzsSupportStorageSubsystem and Start-AzsSupportStorageDiagnostic; free pool capacity or escalate to the storage team".to_string()
            } else {
                format!(
                    "Restore the pool's failing physical disks ({}): the operator runs Repair-VirtualDisk for the affected virtual disks, then the disks are replaced",
                    failing.join(", ")
                )
            };
            vec![problem(what, remediation)]
        })
        .unwrap_or_default();
    verdict(
        problems,
        format!(
            "Storage pool {} is Healthy / OK, {}% allocated (warning at {POOL_ALLOCATED_WARN_PERCENT}%)",
            pool.name,
            pool.percent_allocated()
        ),
    )
}

pub(super) fn virtual_disk_health(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let storage = &stamp.storage;
    let mut problems = Vec::new();
    for v in &storage.virtual_disks {
        let cached = storage.health_cache_stale && !v.reported_health.is_empty();
        if cached && !is(&v.reported_health, &v.health) {
            problems.push(problem(
                format!(
                    "Storage health cache is stale: virtual disk {} is reported {} but is {} ({})",
                    v.name, v.reported_health, v.health, v.operational_status
                ),
                "Update-AzsSupportStorageHealthCache".into(),
            ));
        } else if let Some(state) = storage.virtual_disk_problem(v) {
            problems.push(problem(
                format!("Virtual disk {} is {state}", v.name),
                format!(
                    "Find the failing physical disk and resume the repair: the operator runs Repair-VirtualDisk -FriendlyName {}",
                    v.name
                ),
            ));
        }
    }
    verdict(
        problems,
        format!(
            "All {} virtual disks are Healthy / OK",
            storage.virtual_disks.len()
        ),
    )
}

pub(super) fn storage_job_health(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let jobs = &stamp.storage.jobs;
    let mut problems = Vec::new();
    for (i, j) in jobs.iter().enumerate() {
        let Some(why) = stamp.storage.job_problem(i) else {
            continue;
        };
        problems.push(problem(
            format!("Storage job {} on virtual disk {} is {why}", j.name, j.virtual_disk),
            format!(
                "Check the disk's physical disks (Get-AzsSupportVirtualDisk, Debug-AzsSupportStorageSubsystem), then the operator resumes it: Repair-VirtualDisk -FriendlyName {}",
                j.virtual_disk
            ),
        ));
    }
    verdict(
        problems,
        format!(
            "No suspended, failed or stuck storage jobs ({} checked; stuck after {JOB_STALL_HOURS} h without progress)",
            jobs.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::{Stamp, StorageJob};

    fn job(state: &str, progress: u32, elapsed: u64) -> StorageJob {
        StorageJob {
            name: "Repair".into(),
            virtual_disk: "Infrastructure_1".into(),
            state: state.into(),
            progress,
            elapsed_seconds: elapsed,
            ..StorageJob::default()
        }
    }

    #[test]
    fn a_job_running_at_zero_for_hours_is_stuck_and_a_moving_one_is_not() {
        let mut s = Stamp::default_stamp().unwrap_or_else(|e| panic!("{e}"));
        let now = s.now();
        s.storage.jobs = vec![job("Running", 0, 9 * 3600)];
        let v = storage_job_health(&s, now);
        assert!(
            v.evidence().contains("no progress for 9.0 h"),
            "{}",
            v.evidence()
        );
        s.storage.jobs = vec![job("Running", 45, 2 * 3600), job("Running", 0, 600)];
        assert!(storage_job_health(&s, now).passed());
        let mut moving = job("Running", 60, 5 * 3600);
        moving.no_progress_seconds = Some(5 * 3600);
        s.storage.jobs = vec![moving];
        assert!(
            !storage_job_health(&s, now).passed(),
            "a job whose percent froze 5 h ago"
        );
    }

    #[test]
    fn a_failed_job_later_completed_is_history() {
        let mut s = Stamp::default_stamp().unwrap_or_else(|e| panic!("{e}"));
        let now = s.now();
        s.storage.jobs = vec![job("Failed", 12, 3600), job("Completed", 100, 7200)];
        assert!(storage_job_health(&s, now).passed());
        s.storage.jobs[1].virtual_disk = "Infrastructure_2".into();
        assert!(!storage_job_health(&s, now).passed());
    }

    #[test]
    fn pool_status_and_allocation_count() {
        let mut s = Stamp::default_stamp().unwrap_or_else(|e| panic!("{e}"));
        let now = s.now();
        assert!(pool_health(&s, now).passed());
        s.storage.pool.operational_status = "Read-only".into();
        let v = pool_health(&s, now);
        assert!(v.evidence().contains("Read-only"), "{}", v.evidence());
        s.storage.pool.operational_status = "OK".into();
        s.storage.pool.allocated_gb = s.storage.pool.size_gb * 0.93;
        assert!(pool_health(&s, now).evidence().contains("93% allocated"));
    }

    #[test]
    fn a_retired_disk_is_fine_once_healthy_and_a_problem_while_it_still_fails() {
        let mut s = Stamp::default_stamp().unwrap_or_else(|e| panic!("{e}"));
        let now = s.now();
        s.storage.physical_disks[0].usage = "Retired".into();
        s.storage.physical_disks[0].operational_status = "Retired".into();
        assert!(physical_disk_health(&s, now).passed());
        s.storage.physical_disks[0].health = "Unhealthy".into();
        assert!(!physical_disk_health(&s, now).passed());
    }
}
