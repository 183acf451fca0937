//! The Azure Local (Azure Stack HCI) profile's storage and compute commands over the stamp
//! model: physical disks, enclosures, storage nodes and subsystem, VHDs and volumes; VMs and the
//! Hyper-V host; with PowerShell's property names. Get-VirtualDisk and Get-StorageJob are served
//! by `pep`. "The node" of node-local commands is the host the session's endpoint runs on (see
//! `azure_local`).

use super::azure_local::{any_match, cluster_name, local_host};
use super::hosts::GIB;
use super::storage::{health_rank, storage_node_status};
use super::{CommandError, Invocation, Table};
use crate::stamp::{CsvState, NodeState, Stamp};
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Get-PhysicalDisk", get_physical_disk),
    ("Get-StorageEnclosure", get_storage_enclosure),
    ("Get-StorageNode", get_storage_node),
    ("Get-StorageSubsystem", get_storage_subsystem),
    ("Get-VHD", get_vhd),
    ("Get-VM", get_vm),
    ("Get-VMHost", get_vm_host),
    ("Get-Volume", get_volume),
];

fn gib(v: f64) -> u64 {
    (v * GIB) as u64
}

/// Get-PhysicalDisk [-FriendlyName] [-SerialNumber]: disks by device id.
pub fn get_physical_disk(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let name = inv.args.str("FriendlyName").unwrap_or("*");
    let serial = inv.args.str("SerialNumber");
    Ok(inv
        .stamp()
        .storage
        .physical_disks
        .iter()
        .enumerate()
        .filter(|(_, d)| wildcard_match(name, &d.friendly_name))
        .filter(|(_, d)| serial.is_none_or(|s| d.serial.eq_ignore_ascii_case(s)))
        .map(|(i, d)| {
            Record::new("MSFT_PhysicalDisk")
                .with("DeviceId", (1001 + i).to_string())
                .with("FriendlyName", &d.friendly_name)
                .with("SerialNumber", &d.serial)
                .with("MediaType", &d.media_type)
                .with("Usage", &d.usage)
                .with("OperationalStatus", &d.operational_status)
                .with("HealthStatus", &d.health)
                .with("Size", gib(d.size_gb))
                .into()
        })
        .collect())
}

fn status_of(health: &str) -> &'static str {
    match health {
        "Healthy" => "OK",
        "Warning" => "Degraded",
        _ => "Error",
    }
}

/// Get-StorageEnclosure: enclosures.
pub fn get_storage_enclosure(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    Ok(inv
        .stamp()
        .storage
        .enclosures
        .iter()
        .map(|e| {
            Record::new("MSFT_StorageEnclosure")
                .with("FriendlyName", &e.name)
                .with("HealthStatus", &e.health)
                .with("OperationalStatus", status_of(&e.health))
                .with("NumberOfSlots", e.slots)
                .into()
        })
        .collect())
}

/// Get-StorageNode: hosts as storage nodes, by name.
pub fn get_storage_node(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let s = inv.stamp();
    let domain = &s.stamp.domain_fqdn;
    let mut hosts: Vec<_> = s.hosts.iter().map(|h| h.name.clone()).collect();
    hosts.sort();
    Ok(hosts
        .into_iter()
        .map(|h| {
            Record::new("MSFT_StorageNode")
                .with("Name", format!("{h}.{domain}"))
                .with("OperationalStatus", storage_node_status(s, &h))
                .into()
        })
        .collect())
}

/// Get-StorageSubsystem: the clustered subsystem; its health is the worst of the pool, disks,
/// virtual disks and enclosures.
pub fn get_storage_subsystem(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let s = inv.stamp();
    let st = &s.storage;
    let worst = std::iter::once(st.pool.health.as_str())
        .chain(
            st.physical_disks
                .iter()
                .filter(|d| d.usage != "Retired")
                .map(|d| d.health.as_str()),
        )
        .chain(st.virtual_disks.iter().map(|v| v.health.as_str()))
        .chain(st.enclosures.iter().map(|e| e.health.as_str()))
        .filter(|h| !h.is_empty())
        .min_by_key(|h| health_rank(h))
        .unwrap_or("Healthy");
    Ok(vec![Record::new("MSFT_StorageSubSystem")
        .with(
            "FriendlyName",
            format!("Clustered Windows Storage on {}", cluster_name(s)),
        )
        .with("HealthStatus", worst)
        .with("OperationalStatus", status_of(worst))
        .into()])
}

/// Get-VHD -Path: a managed disk's backing file (fixed VHD) or a VHD(X) file a node holds.
pub fn get_vhd(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let path = inv
        .args
        .str("Path")
        .ok_or_else(|| CommandError("-Path is required".into()))?;
    let s = inv.stamp();
    let lower = path.to_ascii_lowercase();
    let format = if lower.ends_with(".vhdx") {
        "VHDX"
    } else if lower.ends_with(".vhd") {
        "VHD"
    } else {
        return Err(CommandError(format!(
            "'{path}' is not a virtual hard disk file (.vhd or .vhdx)"
        )));
    };
    let rec = |file: u64, size: u64, kind: &str, attached: bool| {
        vec![Record::new("Microsoft.Vhd.PowerShell.VirtualHardDisk")
            .with("Path", path)
            .with("VhdFormat", format)
            .with("VhdType", kind)
            .with("FileSize", file)
            .with("Size", size)
            .with("Attached", attached)
            .into()]
    };
    if let Some(d) = s
        .storage
        .managed_disks
        .iter()
        .find(|d| d.file_path.eq_ignore_ascii_case(path))
    {
        let attached = s
            .compute
            .vms
            .iter()
            .any(|v| v.name == d.attached_to && v.state == "Running");
        return Ok(rec(gib(d.size_gb) + 512, gib(d.size_gb), "Fixed", attached));
    }
    if let Some(f) = s
        .nodes()
        .flat_map(|n| n.files.iter())
        .find(|f| f.path.eq_ignore_ascii_case(path))
    {
        return Ok(rec(
            f.size_bytes,
            f.size_bytes.max(gib(127.0)),
            "Dynamic",
            false,
        ));
    }
    Err(CommandError(format!("no virtual hard disk file '{path}'")))
}

/// Get-VM [-Name]: the cluster's infrastructure and tenant VMs, by name.
pub fn get_vm(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let names = inv.args.strings("Name");
    let s = inv.stamp();
    let mut rows: Vec<Record> = Vec::new();
    for v in s.vms.iter().filter(|v| any_match(&names, &v.name)) {
        let running = v.state == NodeState::Running;
        rows.push(
            Record::new("Microsoft.HyperV.PowerShell.VirtualMachine")
                .with("Name", &v.name)
                .with("State", v.state.as_str())
                .with(
                    "CPUUsage",
                    if running {
                        v.cpu_percent.round() as i64
                    } else {
                        0
                    },
                )
                .with(
                    "MemoryAssigned",
                    if running {
                        gib(f64::from(v.memory_gb))
                    } else {
                        0
                    },
                )
                .with(
                    "Uptime",
                    if running {
                        Stamp::uptime(v.boot_time, inv.now)
                    } else {
                        "00:00:00".into()
                    },
                )
                .with("Status", "Operating normally")
                .with("Version", "9.0"),
        );
    }
    for v in s.compute.vms.iter().filter(|v| any_match(&names, &v.name)) {
        let running = v.state == "Running";
        rows.push(
            Record::new("Microsoft.HyperV.PowerShell.VirtualMachine")
                .with("Name", &v.name)
                .with("State", if running { "Running" } else { "Off" })
                .with("CPUUsage", if running { 3i64 } else { 0 })
                .with("MemoryAssigned", if running { gib(7.0) } else { 0 })
                .with("Uptime", if running { "2.04:11:09" } else { "00:00:00" })
                .with("Status", "Operating normally")
                .with("Version", "9.0"),
        );
    }
    rows.sort_by(|a, b| {
        let n = |r: &Record| r.get("Name").map(Value::to_display).unwrap_or_default();
        n(a).cmp(&n(b))
    });
    Ok(rows.into_iter().map(Value::from).collect())
}

/// Get-VMHost: the local host's Hyper-V settings.
pub fn get_vm_host(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let h = local_host(inv.stamp())?;
    Ok(vec![Record::new("Microsoft.HyperV.PowerShell.VMHost")
        .with("Name", &h.name)
        .with("LogicalProcessorCount", h.cpu_cores)
        .with("MemoryCapacity", gib(f64::from(h.memory_gb)))
        .with(
            "VirtualMachinePath",
            "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V",
        )
        .with(
            "VirtualHardDiskPath",
            "C:\\Users\\Public\\Documents\\Hyper-V\\Virtual Hard Disks",
        )
        .with("VirtualMachineMigrationEnabled", true)
        .into()])
}

/// Get-Volume [-FriendlyName]: the local host's volumes, then the CSVs (CSVFS_ReFS).
pub fn get_volume(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let name = inv.args.str("FriendlyName").unwrap_or("*");
    let s = inv.stamp();
    let host = local_host(s)?;
    let mut out = Vec::new();
    for d in host.disks.iter().filter(|d| wildcard_match(name, &d.label)) {
        out.push(
            Record::new("MSFT_Volume")
                .with("DriveLetter", d.drive.trim_end_matches(':'))
                .with("FriendlyName", &d.label)
                .with("FileSystemType", "NTFS")
                .with("HealthStatus", "Healthy")
                .with("OperationalStatus", "OK")
                .with("SizeRemaining", gib(d.free_gb))
                .with("Size", gib(d.size_gb))
                .into(),
        );
    }
    for c in s
        .cluster
        .csvs
        .iter()
        .filter(|c| wildcard_match(name, &c.virtual_disk))
    {
        let health = s
            .storage
            .virtual_disks
            .iter()
            .find(|v| v.name == c.virtual_disk)
            .map_or("Healthy", |v| v.health.as_str());
        let (health, status) = if c.state == CsvState::Online {
            (health, status_of(health))
        } else {
            ("Unhealthy", "Offline")
        };
        out.push(
            Record::new("MSFT_Volume")
                .with("DriveLetter", Value::Null)
                .with("FriendlyName", &c.virtual_disk)
                .with("FileSystemType", "CSVFS_ReFS")
                .with("HealthStatus", health)
                .with("OperationalStatus", status)
                .with("SizeRemaining", gib(c.free_gb))
                .with("Size", gib(c.size_gb))
                .into(),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::testing::prop;
    use super::super::testing::{default_stamp, run_on};
    use super::*;

    #[test]
    fn storage_and_compute_views() {
        let mut s = default_stamp();
        let disks = run_on(&mut s, get_physical_disk, &[], false).expect("disks");
        assert_eq!(disks.len(), 24);
        let one = run_on(
            &mut s,
            get_physical_disk,
            &[("SerialNumber", "S400NX0R0000".into())],
            false,
        )
        .expect("one");
        assert_eq!(one.len(), 1);
        assert_eq!(
            run_on(&mut s, get_storage_enclosure, &[], false)
                .expect("e")
                .len(),
            4
        );
        let nodes = run_on(&mut s, get_storage_node, &[], false).expect("nodes");
        assert!(prop(&nodes[0], "Name").starts_with("AZS-HOST01."));
        let sub = run_on(&mut s, get_storage_subsystem, &[], false).expect("sub");
        assert_eq!(prop(&sub[0], "HealthStatus"), "Healthy");
        s.storage.virtual_disks[0].health = "Warning".into();
        let sub = run_on(&mut s, get_storage_subsystem, &[], false).expect("sub");
        assert_eq!(prop(&sub[0], "OperationalStatus"), "Degraded");
        let vms = run_on(&mut s, get_vm, &[], false).expect("vms");
        assert_eq!(vms.len(), 29 + 6);
        assert_eq!(prop(&vms[0], "Name"), "AZS-ACS01");
        let host = run_on(&mut s, get_vm_host, &[], false).expect("host");
        assert_eq!(prop(&host[0], "LogicalProcessorCount"), "64");
        let vols = run_on(&mut s, get_volume, &[], false).expect("vols");
        assert_eq!(vols.len(), 7);
        let path = s.storage.managed_disks[0].file_path.clone();
        let vhd = run_on(&mut s, get_vhd, &[("Path", path.into())], false).expect("vhd");
        assert_eq!(prop(&vhd[0], "VhdFormat"), "VHD");
        assert!(run_on(&mut s, get_vhd, &[("Path", "C:\\x.txt".into())], false).is_err());
    }
}
