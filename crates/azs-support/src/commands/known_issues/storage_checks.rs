//! Known-issue checks over Storage Spaces Direct: physical disks (`PhysicalDiskHealth`), virtual
//! disks as the storage health cache reports them, including a stale cache that disagrees with
//! the disks (`VirtualDiskHealth`), and suspended or failed storage jobs (`StorageJobHealth`).

use super::{problem, verdict, Verdict};
use crate::stamp::Stamp;

pub(super) fn physical_disk_health(stamp: &Stamp) -> Verdict {
    let disks = &stamp.storage.physical_disks;
    let problems = disks
        .iter()
        .filter(|d| d.health != "Healthy" || d.operational_status != "OK")
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

pub(super) fn virtual_disk_health(stamp: &Stamp) -> Verdict {
    let storage = &stamp.storage;
    let mut problems = Vec::new();
    for v in &storage.virtual_disks {
        let cached = storage.health_cache_stale && !v.reported_health.is_empty();
        let shown = if cached {
            v.reported_health.as_str()
        } else {
            v.health.as_str()
        };
        if cached && v.reported_health != v.health {
            problems.push(problem(
                format!(
                    "Storage health cache is stale: virtual disk {} is reported {} but is {} ({})",
                    v.name, v.reported_health, v.health, v.operational_status
                ),
                "Update-AzsSupportStorageHealthCache".into(),
            ));
        } else if shown != "Healthy" || v.operational_status != "OK" {
            problems.push(problem(
                format!(
                    "Virtual disk {} is {} ({})",
                    v.name, shown, v.operational_status
                ),
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

pub(super) fn storage_job_health(stamp: &Stamp) -> Verdict {
    let jobs = &stamp.storage.jobs;
    let problems = jobs
        .iter()
        .filter(|j| j.state == "Suspended" || j.state == "Failed")
        .map(|j| {
            problem(
                format!(
                    "Storage job {} on {} is {} at {}%",
                    j.name, j.virtual_disk, j.state, j.progress
                ),
                format!(
                    "Resume it: the operator runs Repair-VirtualDisk -FriendlyName {}",
                    j.virtual_disk
                ),
            )
        })
        .collect();
    verdict(
        problems,
        format!(
            "No suspended or failed storage jobs ({} checked)",
            jobs.len()
        ),
    )
}
