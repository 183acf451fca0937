//! The operator's privileged-endpoint commands over the stamp model: Get-AzureStackStampInformation,
//! Get-ClusterLog, Get-VirtualDisk, Get-StorageJob and Repair-VirtualDisk. Get-VirtualDisk and
//! Get-StorageJob are also the Azure Local profile's commands of those names (one implementation
//! serves both; their catalog entries are identical). Test-AzureStack belongs to `known_issues`.

use super::cluster::generate_cluster_logs;
use super::storage::{repair_virtual_disk, shown_health, timespan, virtual_disks};
use super::{CommandError, Invocation, Table};
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

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

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
                stamp
                    .storage
                    .virtual_disks
                    .iter()
                    .map(|v| v.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
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
