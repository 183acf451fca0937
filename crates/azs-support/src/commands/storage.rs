//! Storage family (Azs.Support), the reads: virtual disks and their jobs, storage nodes,
//! object-store utilization, storage event-log errors, storage accounts, managed disks and files
//! on the storage cluster. Diagnosis and repair live in `storage_health`.
//!
//! On a real Linux machine, the storage event-log errors are its journal's storage warnings and
//! errors (block devices, file systems, I/O errors), recognised by [`storage_message_kind`].

use super::hosts::select_host_nodes;
use super::hosts::GIB;
use super::{CommandError, Invocation, Table};
use crate::host::host_of;
use crate::stamp::{NodeState, Stamp, VirtualDisk};
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;
use chrono::Duration;

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Get-AzsSupportVirtualDisk", get_virtual_disk),
    ("Get-AzsSupportVirtualDiskStorageJob", get_storage_job),
    ("Get-AzsSupportStorageNode", get_storage_node),
    ("Get-AzsSupportVolumeUtilization", get_volume_utilization),
    ("Get-AzsSupportStoragePool", get_storage_pool),
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
];

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
                .with("VirtualDisk", &j.virtual_disk)
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
pub(crate) fn disk_has_problem(d: &crate::stamp::PhysicalDisk) -> bool {
    d.has_problem()
}

/// A host's storage-node status: its cluster state, `Degraded` when Up with a failing disk.
pub(crate) fn storage_node_status(stamp: &Stamp, host: &str) -> String {
    let state = stamp.host(host).map_or(NodeState::Down, |h| h.state);
    let failing = stamp
        .storage
        .physical_disks
        .iter()
        .any(|d| d.node.eq_ignore_ascii_case(host) && disk_has_problem(d));
    match state {
        NodeState::Up if failing => "Degraded".into(),
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

/// Get-AzsSupportStoragePool: the pool with the health model's verdict on it (the one
/// StoragePoolHealth reaches).
pub fn get_storage_pool(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let st = &inv.stamp().storage;
    let pool = &st.pool;
    let (verdict, reason) = match pool.problem() {
        Some((health, why)) => (health.as_str(), why),
        None => ("Healthy", String::new()),
    };
    Ok(vec![Record::new("Azs.Support.StoragePool")
        .with("FriendlyName", &pool.name)
        .with("HealthStatus", &pool.health)
        .with("OperationalStatus", &pool.operational_status)
        .with("SizeGB", pool.size_gb)
        .with("AllocatedGB", pool.allocated_gb)
        .with("PercentAllocated", pool.percent_allocated())
        .with("PhysicalDisks", st.physical_disks.len() as u64)
        .with(
            "FailingDisks",
            st.physical_disks.iter().filter(|d| d.has_problem()).count() as u64,
        )
        .with("Verdict", verdict)
        .with("Reason", reason)
        .into()])
}

/// Get-AzsSupportVolumeUtilization: object-store volumes, fullest first.
pub fn get_volume_utilization(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let mut vols: Vec<_> = inv.stamp().storage.volumes.iter().collect();
    vols.sort_by(|a, b| {
        b.percent_used()
            .total_cmp(&a.percent_used())
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(vols
        .into_iter()
        .map(|v| {
            Record::new("Azs.Support.VolumeUtilization")
                .with("VolumeName", &v.name)
                .with("CapacityGB", v.size_gb)
                .with("UsedGB", v.used_gb)
                .with("PercentUsed", v.percent_used())
                .with("State", v.state_word())
                .into()
        })
        .collect())
}

/// Get-AzsSupportStorageEventLogErrors [-ComputerName] [-FromDate] [-ToDate] [-MaxEvents]:
/// storage-related errors and warnings, newest first. A real machine (named, or part of the
/// stamp when no node is named) answers from its journal ([`real_storage_events`]).
pub fn get_storage_event_log_errors(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let wanted = inv.args.strings("ComputerName");
    let nodes = select_host_nodes(stamp, &wanted)?;
    let to = inv.args.datetime("ToDate").unwrap_or(inv.now);
    let from = inv
        .args
        .datetime("FromDate")
        .unwrap_or(inv.now - Duration::hours(24));
    let max = usize::try_from(inv.args.int("MaxEvents").unwrap_or(1000).max(1)).unwrap_or(1000);
    let mut rows = Vec::new();
    for node in nodes {
        // Named, a node must answer; as one node of the whole stamp (the storage diagnosis reads
        // every node), one whose events cannot be read (a machine without a readable journal) is
        // left out and logged rather than failing the fabric's read.
        let evs = match host_of(stamp, node, inv.now).storage_events(from, to, max) {
            Ok(evs) => evs,
            Err(e) if wanted.is_empty() => {
                tracing::warn!(node = %node.name, error = %e, "a node's storage events could not be read");
                continue;
            }
            Err(e) => return Err(CommandError(e)),
        };
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

#[cfg(test)]
pub(crate) mod tests {
    use super::super::testing::prop;
    use super::super::testing::{default_stamp, run_on};
    use super::*;
    use crate::host::linux::storage_events::storage_message_kind;
    use chrono::Utc;

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
            no_progress_seconds: None,
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
        // 95.2% used: Critical, as the known-issue capacity check judges it.
        assert_eq!(prop(&vols[0], "State"), "Critical");
        s.storage.volumes[0].used_gb = 7500.0;
        let vols = run_on(&mut s, get_volume_utilization, &[], false).expect("vols");
        assert_eq!(prop(&vols[0], "State"), "Warning");
        s.storage.volumes[0].operational_status = "Throttled".into();
        let vols = run_on(&mut s, get_volume_utilization, &[], false).expect("vols");
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
    fn storage_pool_reports_the_verdict_the_check_reaches() {
        let mut s = super::super::testing::default_stamp();
        let ok = run_on(&mut s, get_storage_pool, &[], false).expect("pool");
        assert_eq!(prop(&ok[0], "FriendlyName"), "SU1_Pool");
        assert_eq!(prop(&ok[0], "Verdict"), "Healthy");
        assert_eq!(prop(&ok[0], "FailingDisks"), "0");
        s.storage.pool.operational_status = "Read-only".into();
        s.storage.pool.health = "Unhealthy".into();
        let bad = run_on(&mut s, get_storage_pool, &[], false).expect("pool");
        assert_eq!(prop(&bad[0], "Verdict"), "Critical");
        assert!(prop(&bad[0], "Reason").contains("Read-only"));
        let check = super::super::known_issues::check("StoragePoolHealth").expect("check");
        assert!(!(check.run)(&s, s.now()).passed(), "the check agrees");
    }

    #[test]
    fn storage_messages_are_recognised_and_ordinary_ones_are_not() {
        for (line, kind) in [
            (
                "blk_update_request: I/O error, dev sda, sector 2048 op 0x0:(READ) flags 0x0",
                "I/O error",
            ),
            (
                "Buffer I/O error on dev sdb1, logical block 0, async page read",
                "I/O error",
            ),
            (
                "blk_update_request: critical medium error, dev sdc, sector 77",
                "block layer",
            ),
            (
                "EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0",
                "ext4",
            ),
            (
                "XFS (dm-0): Metadata corruption detected at xfs_buf_ioend+0x51/0x1a0",
                "XFS",
            ),
            (
                "BTRFS error (device nvme0n1p2): bdev /dev/nvme0n1p2 errs: wr 0, rd 1, flush 0",
                "btrfs",
            ),
            ("nvme nvme0: I/O 12 QID 3 timeout, aborting", "NVMe"),
            ("nvme0n1: detected capacity change from 0 to 1000", "NVMe"),
            (
                "ata1.00: exception Emask 0x0 SAct 0x0 SErr 0x0 action 0x6 frozen",
                "ATA",
            ),
            (
                "sd 2:0:0:0: [sdb] tag#0 FAILED Result: hostbyte=DID_OK driverbyte=DRIVER_SENSE",
                "SCSI disk",
            ),
            ("md/raid1:md0: Disk failure on sdb1, disabling device.", "md RAID"),
            (
                "EXT3-fs (sdb1): Remounting filesystem read-only",
                "read-only remount",
            ),
            (
                "Device: /dev/sda [SAT], SMART Prefailure Attribute: 5 Reallocated_Sector_Ct changed from 100 to 99",
                "SMART",
            ),
        ] {
            assert_eq!(storage_message_kind(line), Some(kind), "{line}");
        }
        for line in [
            "Failed to fetch metadata from https://example.com/metadata",
            "database update 1 failed: connection refused",
            "sshd: Failed password for root from 10.0.0.1 port 22 ssh2",
            "usb 1-1: new high-speed USB device number 2 using xhci_hcd",
            "Started Session 5 of user root.",
            "smartphone sync: connection reset",
            "SMARTS license check failed",
            "psd 3 restarted after a crash",
            "sd card reader not present",
            "XFSA tool exited with status 1",
            "mynvme daemon: config missing",
            "",
        ] {
            assert_eq!(storage_message_kind(line), None, "{line}");
        }
    }

    #[test]
    fn the_real_machine_answers_from_its_journal_never_from_the_model() {
        use super::super::testing::run_in;
        use super::super::Mode;
        let tmp = tempfile::tempdir().expect("tmp");
        let wd = crate::workdir::WorkingDirectory::new(tmp.path(), Utc::now(), "m", 1 << 30);
        let mut stamp = crate::stamp::load_scenario("linux").expect("linux");
        stamp.attach_local_machine();
        let host = crate::host::linux::host_name();
        let mut run = |args: &[(&str, Value)]| {
            run_in(
                &wd,
                &mut stamp,
                get_storage_event_log_errors,
                args,
                false,
                Mode::Execute,
            )
            .result
            .map_err(|e| e.0)
        };
        let named = run(&[("ComputerName", vec![host.as_str()].into())]).expect("named");
        let all = run(&[]).expect("all");
        let week = run(&[
            ("ComputerName", vec![host.as_str()].into()),
            ("FromDate", (Utc::now() - Duration::days(7)).into()),
            ("MaxEvents", 5i64.into()),
        ])
        .expect("a week");
        assert!(week.len() <= 5);
        for r in named.iter().chain(&all).chain(&week) {
            assert_eq!(prop(r, "ComputerName"), host, "{r:?}");
            assert_eq!(prop(r, "Id"), "0");
            assert!(matches!(
                prop(r, "Level").as_str(),
                "Critical" | "Error" | "Warning"
            ));
            assert!(storage_message_kind(&prop(r, "Message")).is_some(), "{r:?}");
        }
        // A stamp with simulated nodes and the machine: the simulated nodes answer as before.
        let mut s = degraded();
        let before = run_on(&mut s, get_storage_event_log_errors, &[], false).expect("before");
        assert!(!before.is_empty());
        s.attach_local_machine();
        let after = run_on(&mut s, get_storage_event_log_errors, &[], false).expect("after");
        // The same rows (the stamp's clock moves on between the calls).
        let shown = |r: &Value| {
            [
                "ComputerName",
                "LogName",
                "ProviderName",
                "Id",
                "Level",
                "Message",
            ]
            .map(|k| prop(r, k))
            .join("|")
        };
        let simulated: Vec<String> = after
            .iter()
            .filter(|r| prop(r, "ComputerName") != host)
            .map(shown)
            .collect();
        let expected: Vec<String> = before.iter().map(shown).collect();
        assert_eq!(simulated, expected);
    }
}
