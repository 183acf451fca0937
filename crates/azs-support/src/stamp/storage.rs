//! Storage Spaces Direct and the storage service: pool, physical and virtual disks, repair jobs,
//! enclosures, object-store volumes, storage accounts and managed disks.
//!
//! `health_cache_stale` models the storage health cache: while it is set, the health that
//! `Get-AzsSupportVirtualDisk` reports for a disk is its `reported_health` (what the cache last
//! saw), not its `health`; `Update-AzsSupportStorageHealthCache` refreshes it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Storage (`[storage]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Storage {
    /// The pool.
    pub pool: StoragePool,
    /// Physical disks.
    #[serde(rename = "physical_disk")]
    pub physical_disks: Vec<PhysicalDisk>,
    /// Virtual disks.
    #[serde(rename = "virtual_disk")]
    pub virtual_disks: Vec<VirtualDisk>,
    /// Storage jobs.
    #[serde(rename = "job")]
    pub jobs: Vec<StorageJob>,
    /// Enclosures.
    #[serde(rename = "enclosure")]
    pub enclosures: Vec<Enclosure>,
    /// Object-store volumes.
    #[serde(rename = "volume")]
    pub volumes: Vec<ObjectStoreVolume>,
    /// Storage accounts.
    #[serde(rename = "account")]
    pub accounts: Vec<StorageAccount>,
    /// Managed disks.
    #[serde(rename = "managed_disk")]
    pub managed_disks: Vec<ManagedDisk>,
    /// The health cache has not caught up with the disks' real health.
    pub health_cache_stale: bool,
}

/// The storage pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct StoragePool {
    /// Name (`SU1_Pool`).
    pub name: String,
    /// `Healthy`, `Warning`, `Unhealthy`.
    pub health: String,
    /// `OK`, `Degraded`, ...
    pub operational_status: String,
    /// Size, GiB.
    pub size_gb: f64,
    /// Allocated, GiB.
    pub allocated_gb: f64,
}

/// A physical disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PhysicalDisk {
    /// Serial number (unique).
    pub serial: String,
    /// Friendly name.
    pub friendly_name: String,
    /// The host it sits in.
    pub node: String,
    /// `SSD`, `HDD`, `NVMe`.
    pub media_type: String,
    /// `Auto-Select`, `Journal`, `Retired`.
    pub usage: String,
    /// Size, GiB.
    pub size_gb: f64,
    /// `Healthy`, `Warning`, `Unhealthy`.
    pub health: String,
    /// `OK`, `Lost Communication`, `Predictive Failure`, ...
    pub operational_status: String,
}

/// A virtual disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct VirtualDisk {
    /// Name (`Infrastructure_1`).
    pub name: String,
    /// Real health: `Healthy`, `Warning`, `Unhealthy`.
    pub health: String,
    /// Health the cache reports while it is stale (empty: same as `health`).
    pub reported_health: String,
    /// `OK`, `Degraded`, `InService`, `Detached`, ...
    pub operational_status: String,
    /// `Mirror`, `Parity`.
    pub resiliency: String,
    /// Size, GiB.
    pub size_gb: f64,
    /// Pool footprint, GiB.
    pub footprint_gb: f64,
}

/// A storage job (repair, rebalance, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct StorageJob {
    /// Name (`Repair`, `Rebalance`, `Regeneration`).
    pub name: String,
    /// The virtual disk it works on.
    pub virtual_disk: String,
    /// `Running`, `Suspended`, `Completed`, `Failed`.
    pub state: String,
    /// Percent complete.
    pub progress: u32,
    /// Bytes processed.
    pub bytes_processed: u64,
    /// Bytes in all.
    pub bytes_total: u64,
    /// Seconds it has run.
    pub elapsed_seconds: u64,
    /// Seconds since its progress last changed (absent: all of `elapsed_seconds` for a job at
    /// 0%, else 0 — it is moving).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_progress_seconds: Option<u64>,
}

/// A storage enclosure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Enclosure {
    /// Friendly name.
    pub name: String,
    /// The host it is attached to.
    pub node: String,
    /// `Healthy`, `Warning`, `Unhealthy`.
    pub health: String,
    /// Disk slots.
    pub slots: u32,
}

/// An object-store volume of the storage service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectStoreVolume {
    /// Name (`ObjStore_1`).
    pub name: String,
    /// Path.
    pub path: String,
    /// Size, GiB.
    pub size_gb: f64,
    /// Used, GiB.
    pub used_gb: f64,
    /// `Healthy`, `Warning`, `Unhealthy`.
    pub health: String,
    /// `OK`, `Throttled` (the storage service stopped placing new data on it), `Full`, ...
    /// (empty: `OK`).
    pub operational_status: String,
}

/// A tenant storage account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct StorageAccount {
    /// Name.
    pub name: String,
    /// Subscription id.
    pub subscription: String,
    /// Resource group.
    pub resource_group: String,
    /// `Storage`, `StorageV2`, `BlobStorage`.
    pub kind: String,
    /// `Online`, `Deleted`, ...
    pub state: String,
    /// Location.
    pub location: String,
    /// Bytes used.
    pub used_bytes: u64,
    /// When it was created (unknown when absent).
    pub created: Option<DateTime<Utc>>,
}

/// A managed disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ManagedDisk {
    /// Name.
    pub name: String,
    /// Subscription id.
    pub subscription: String,
    /// Resource group.
    pub resource_group: String,
    /// The tenant VM it is attached to (empty: none).
    pub attached_to: String,
    /// Blob URI.
    pub blob_uri: String,
    /// File path on the storage cluster.
    pub file_path: String,
    /// Size, GiB.
    pub size_gb: f64,
}
