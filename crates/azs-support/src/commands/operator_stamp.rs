//! The operator's privileged-endpoint commands over the stamp model: Get-AzureStackStampInformation,
//! Get-ClusterLog, Get-VirtualDisk, Get-StorageJob and Repair-VirtualDisk. Get-VirtualDisk and
//! Get-StorageJob are also the Azure Local profile's commands of those names (one implementation
//! serves both; their catalog entries are identical). Test-AzureStack belongs to `known_issues`.

use super::cluster::generate_cluster_logs;
use super::hosts::GIB;
use super::storage::{shown_health, timespan, virtual_disks};
use super::storage_health::repair_virtual_disk;
use super::{join_names, CommandError, Invocation, Table};
use crate::stamp::{Stamp, VirtualDisk};
use crate::value::{Record, Value};

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Get-AzureStackStampInformation", get_stamp_information),
    ("Get-ClusterLog", get_cluster_log),
    ("Get-VirtualDisk", get_virtual_disk),
    ("Get-StorageJob", get_storage_job),
    ("Repair-VirtualDisk", repair),
];

/// Get-AzureStackStampInformation: the same facts as Get-AzsSupportStampInformation.
pub fn get_stamp_information(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let mut out = super::stamp_info::get_stamp_information(inv)?;
    for v in &mut out {
        if let Value::Record(r) = v {
            r.type_name = "AzureStack.StampInformation".into();
        }
    }
    Ok(out)
}

/// Get-ClusterLog [-Node] [-TimeSpan] [-UseLocalTime]: one `<node>_cluster.log` per node in the
/// working directory (no -TimeSpan: the whole log); returns the files.
pub fn get_cluster_log(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let wanted = inv.args.strings("Node");
    let minutes = inv.args.int("TimeSpan");
    let files = generate_cluster_logs(inv, &wanted, minutes)?;
    Ok(files
        .into_iter()
        .map(|(_, path, len)| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Record::new("System.IO.FileInfo")
                .with("Name", name)
                .with("Length", len)
                .with("LastWriteTime", inv.now)
                .into()
        })
        .collect())
}

fn vdisk_record(stamp: &Stamp, v: &VirtualDisk) -> Value {
    let csv = stamp
        .cluster
        .csvs
        .iter()
        .any(|c| c.virtual_disk.eq_ignore_ascii_case(&v.name));
    Record::new("MSFT_VirtualDisk")
        .with("FriendlyName", &v.name)
        .with("ResiliencySettingName", &v.resiliency)
        .with("OperationalStatus", &v.operational_status)
        .with("HealthStatus", shown_health(stamp, v))
        .with("IsManualAttach", csv)
        .with("Size", (v.size_gb * GIB) as u64)
        .into()
}

/// Get-VirtualDisk [-FriendlyName]: the pool's virtual disks, unhealthy first.
pub fn get_virtual_disk(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let pattern = inv.args.str("FriendlyName").unwrap_or("*");
    let stamp = inv.stamp();
    Ok(virtual_disks(stamp, pattern)
        .into_iter()
        .map(|v| vdisk_record(stamp, v))
        .collect())
}

/// Get-StorageJob: the pool's storage jobs (repairs and rebalances run as background tasks).
pub fn get_storage_job(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    Ok(inv
        .stamp()
        .storage
        .jobs
        .iter()
        .map(|j| {
            Record::new("MSFT_StorageJob")
                .with("Name", &j.name)
                .with(
                    "IsBackgroundTask",
                    matches!(j.name.as_str(), "Repair" | "Rebalance" | "Regeneration"),
                )
                .with("ElapsedTime", timespan(j.elapsed_seconds))
                .with("JobState", &j.state)
                .with("PercentComplete", j.progress)
                .with("BytesProcessed", j.bytes_processed)
                .with("BytesTotal", j.bytes_total)
                .into()
        })
        .collect())
}

/// Repair-VirtualDisk -FriendlyName: resumes/completes the disk's repair (contract #3). Refuses
/// an unknown or detached disk.
pub fn repair(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let name = inv
        .args
        .str("FriendlyName")
        .ok_or_else(|| CommandError("-FriendlyName is required".into()))?
        .to_string();
    let stamp = inv.stamp();
    let vd = stamp
        .storage
        .virtual_disks
        .iter()
        .find(|v| v.name.eq_ignore_ascii_case(&name))
        .ok_or_else(|| {
            CommandError(format!(
                "no virtual disk named '{name}' (virtual disks: {})",
                join_names(stamp.storage.virtual_disks.iter().map(|v| v.name.as_str()))
            ))
        })?;
    if vd.operational_status == "Detached" {
        return Err(CommandError(format!(
            "cannot repair virtual disk '{}': it is Detached; attach it first",
            vd.name
        )));
    }
    let vname = vd.name.clone();
    if !inv.should_process(&vname, "Repair virtual disk") {
        return Ok(vec![]);
    }
    repair_virtual_disk(inv.stamp_mut()?, &vname);
    let stamp = inv.stamp();
    Ok(stamp
        .storage
        .virtual_disks
        .iter()
        .filter(|v| v.name == vname)
        .map(|v| vdisk_record(stamp, v))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{default_stamp, run_on};
    use super::super::testing::{prop, run_mode};
    use super::super::Mode;
    use super::*;

    #[test]
    fn stamp_information_and_cluster_log() {
        let mut s = default_stamp();
        let info = run_on(&mut s, get_stamp_information, &[], false).expect("info");
        assert_eq!(prop(&info[0], "NumberOfNodes"), "4");
        let logs = run_on(
            &mut s,
            get_cluster_log,
            &[("Node", vec!["AZS-HOST04"].into())],
            false,
        )
        .expect("log");
        assert_eq!(prop(&logs[0], "Name"), "AZS-HOST04_cluster.log");
        assert!(run_on(
            &mut s,
            get_cluster_log,
            &[("Node", vec!["X1"].into())],
            false
        )
        .is_err());
    }

    #[test]
    fn repair_virtual_disk_contract() {
        let mut s = default_stamp();
        s.storage.virtual_disks[2].health = "Warning".into();
        s.storage.virtual_disks[2].operational_status = "Degraded".into();
        s.storage.jobs.push(crate::stamp::StorageJob {
            name: "Repair".into(),
            virtual_disk: "Infrastructure_3".into(),
            state: "Suspended".into(),
            progress: 37,
            bytes_processed: 10,
            bytes_total: 30,
            elapsed_seconds: 60,
            no_progress_seconds: None,
        });
        let jobs = run_on(&mut s, get_storage_job, &[], false).expect("jobs");
        assert_eq!(prop(&jobs[0], "PercentComplete"), "37");
        assert!(run_on(&mut s, repair, &[("FriendlyName", "Nope".into())], true).is_err());
        let before = s.clone();
        run_mode(
            &mut s,
            repair,
            &[("FriendlyName", "Infrastructure_3".into())],
            Mode::WhatIf,
        )
        .expect("whatif");
        assert_eq!(s, before);
        let out = run_on(
            &mut s,
            repair,
            &[("FriendlyName", "infrastructure_3".into())],
            true,
        )
        .expect("repair");
        assert_eq!(prop(&out[0], "OperationalStatus"), "OK");
        assert_eq!(prop(&out[0], "HealthStatus"), "Warning");
        assert_eq!(s.storage.jobs[0].state, "Completed");
        let vds = run_on(&mut s, get_virtual_disk, &[], false).expect("vds");
        assert_eq!(prop(&vds[0], "FriendlyName"), "Infrastructure_3");
        assert_eq!(prop(&vds[0], "IsManualAttach"), "True");
    }
}
