//! The health model: how an entity's state, its history over time and its capacity make it
//! Healthy, Warning or Critical. Every command that reports an entity's health — the known-issue
//! checks, `Test-AzureStack`, `Debug-AzsSupportStorageSubsystem`,
//! `Start-AzsSupportStorageDiagnostic`, `Get-AzsSupportVolumeUtilization` — judges it here, so
//! they reach the same verdict.
//!
//! Thresholds (the real product's where it publishes them):
//! - object-store volumes: Warning at [`VOLUME_WARN_PERCENT`] used, Critical at
//!   [`VOLUME_CRITICAL_PERCENT`] (Azure Stack Hub's storage-capacity alerts at 90% and 95%; the
//!   storage service stops at 100%); a volume the storage service reports `Throttled` or `Full`
//!   is Critical whatever its numbers; infrastructure shares (cluster shared volumes): Warning at
//!   [`SHARE_WARN_PERCENT`] ("a file share is over 80% utilized"), Critical at
//!   [`SHARE_CRITICAL_PERCENT`];
//! - the storage pool: its health and operational status, and Warning beyond
//!   [`POOL_ALLOCATED_WARN_PERCENT`] allocated (no room left to rebuild a failed drive's copies);
//! - node drives: fewer than [`DRIVE_MIN_FREE_PERCENT`] free; running nodes at
//!   [`CPU_SATURATED_PERCENT`] processor or [`MEMORY_EXHAUSTED_PERCENT`] memory;
//! - network resources (NRP and network-controller documents): provisioning `Failed` or
//!   configuration `Failure`; states in progress (`Updating`, `Creating`, `Deleting`) are normal;
//! - storage jobs, action plans and upgrades over time: see `clock`.

use super::clock::JOB_STALL_HOURS;
use super::{
    Enclosure, JsonResource, Node, ObjectStoreVolume, PhysicalDisk, SharedVolume, Storage,
    StoragePool, VirtualDisk,
};

/// Percent used at which an object-store volume warns.
pub const VOLUME_WARN_PERCENT: f64 = 90.0;
/// Percent used at which an object-store volume is critical.
pub const VOLUME_CRITICAL_PERCENT: f64 = 95.0;
/// Percent used at which an infrastructure share (a cluster shared volume) warns.
pub const SHARE_WARN_PERCENT: f64 = 80.0;
/// Percent used at which an infrastructure share is critical.
pub const SHARE_CRITICAL_PERCENT: f64 = 90.0;
/// Percent of the pool allocated beyond which it warns.
pub const POOL_ALLOCATED_WARN_PERCENT: f64 = 90.0;
/// Percent free below which a node's drive is nearly full.
pub const DRIVE_MIN_FREE_PERCENT: f64 = 10.0;
/// Processor load, percent, at which a running node is saturated.
pub const CPU_SATURATED_PERCENT: f64 = 90.0;
/// Memory in use, percent, at which a running node is exhausted.
pub const MEMORY_EXHAUSTED_PERCENT: f64 = 95.0;

/// A judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    /// Nothing to do.
    Healthy,
    /// Needs attention.
    Warning,
    /// Broken or about to be.
    Critical,
}

impl Health {
    /// As the product words it.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "Healthy",
            Health::Warning => "Warning",
            Health::Critical => "Critical",
        }
    }

    /// From a reported health word (`Healthy`/`Ok`, `Warning`, `Unhealthy`/`Error`/other).
    pub fn from_reported(word: &str) -> Health {
        let w = word.trim();
        if w.is_empty() || w.eq_ignore_ascii_case("Healthy") || w.eq_ignore_ascii_case("Ok") {
            Health::Healthy
        } else if w.eq_ignore_ascii_case("Warning") {
            Health::Warning
        } else {
            Health::Critical
        }
    }
}

/// `used` of `size` in percent, one decimal.
pub fn percent(used: f64, size: f64) -> f64 {
    if size <= 0.0 {
        0.0
    } else {
        (used / size * 1000.0).round() / 10.0
    }
}

/// Whether an operational status word means all is well (`OK`, or none reported).
pub fn status_ok(status: &str) -> bool {
    let s = status.trim();
    s.is_empty() || s.eq_ignore_ascii_case("OK") || s.eq_ignore_ascii_case("Online")
}

/// A volume's health from its use (against its kind's thresholds) and what the storage service
/// reports.
fn capacity_health(pct: f64, (warn, critical): (f64, f64), reported: &str, status: &str) -> Health {
    let by_status = if status_ok(status) {
        Health::Healthy
    } else {
        Health::Critical
    };
    let by_use = if pct >= critical {
        Health::Critical
    } else if pct >= warn {
        Health::Warning
    } else {
        Health::Healthy
    };
    by_status.max(by_use).max(Health::from_reported(reported))
}

impl ObjectStoreVolume {
    /// Percent used.
    pub fn percent_used(&self) -> f64 {
        percent(self.used_gb, self.size_gb)
    }

    /// The volume's health: reported health, operational status and use.
    pub fn judged(&self) -> Health {
        capacity_health(
            self.percent_used(),
            (VOLUME_WARN_PERCENT, VOLUME_CRITICAL_PERCENT),
            &self.health,
            &self.operational_status,
        )
    }

    /// The state word `Get-AzsSupportVolumeUtilization` shows: the operational status when it is
    /// not OK, else the judged health.
    pub fn state_word(&self) -> String {
        if status_ok(&self.operational_status) {
            self.judged().as_str().to_string()
        } else {
            self.operational_status.clone()
        }
    }
}

impl SharedVolume {
    /// Percent used.
    pub fn percent_used(&self) -> f64 {
        percent(self.size_gb - self.free_gb, self.size_gb)
    }

    /// The volume's capacity health (its state is the cluster check's).
    pub fn capacity(&self) -> Health {
        capacity_health(
            self.percent_used(),
            (SHARE_WARN_PERCENT, SHARE_CRITICAL_PERCENT),
            "",
            "",
        )
    }
}

impl StoragePool {
    /// Percent allocated.
    pub fn percent_allocated(&self) -> f64 {
        percent(self.allocated_gb, self.size_gb)
    }

    /// Why the pool is not healthy: its health, its operational status (`Degraded`,
    /// `Read-only`, ...), or an allocation past [`POOL_ALLOCATED_WARN_PERCENT`].
    pub fn problem(&self) -> Option<(Health, String)> {
        let reported = Health::from_reported(&self.health);
        if reported != Health::Healthy || !status_ok(&self.operational_status) {
            let status = if status_ok(&self.operational_status) {
                "OK".to_string()
            } else {
                self.operational_status.clone()
            };
            let sev = if reported == Health::Healthy {
                Health::Warning
            } else {
                reported
            };
            return Some((
                sev,
                format!(
                    "Storage pool {} is {} ({status})",
                    self.name,
                    if self.health.is_empty() {
                        "Healthy"
                    } else {
                        &self.health
                    }
                ),
            ));
        }
        let pct = self.percent_allocated();
        (pct >= POOL_ALLOCATED_WARN_PERCENT).then(|| {
            (
                Health::Warning,
                format!(
                    "Storage pool {} is {pct}% allocated ({:.0} of {:.0} GB; warning at {POOL_ALLOCATED_WARN_PERCENT}%)",
                    self.name, self.allocated_gb, self.size_gb
                ),
            )
        })
    }
}

impl PhysicalDisk {
    /// Whether the disk has a problem: not Healthy / OK. A disk retired from the pool is judged
    /// by its health alone (its operational status may say so); a retired disk still Warning or
    /// Unhealthy waits for replacement, which is a problem until it is swapped.
    pub fn has_problem(&self) -> bool {
        let unhealthy = Health::from_reported(&self.health) != Health::Healthy;
        if self.usage.eq_ignore_ascii_case("Retired") {
            unhealthy
        } else {
            unhealthy || !status_ok(&self.operational_status)
        }
    }
}

impl VirtualDisk {
    /// Whether the disk is Healthy and OK (its real health, not the cache's).
    pub fn is_healthy(&self) -> bool {
        Health::from_reported(&self.health) == Health::Healthy
            && status_ok(&self.operational_status)
    }
}

impl Enclosure {
    /// The enclosure's health.
    pub fn judged(&self) -> Health {
        Health::from_reported(&self.health)
    }
}

impl Storage {
    /// Whether virtual disk `name` is being repaired normally: a storage job on it is moving
    /// (resync after a node's reboot, a rebuild after a drive was retired).
    pub fn repairing(&self, name: &str) -> bool {
        self.jobs.iter().any(|j| {
            j.virtual_disk.eq_ignore_ascii_case(name)
                && j.state.eq_ignore_ascii_case("Running")
                && !j.is_stalled()
        })
    }

    /// What is wrong with a virtual disk, if anything: not Healthy / OK — unless it is only
    /// degraded (health Warning, `InService` or `Degraded`) while a repair job on it moves, which
    /// is how Storage Spaces restores redundancy (a job that stops moving is a stuck job).
    pub fn virtual_disk_problem(&self, v: &VirtualDisk) -> Option<String> {
        if v.is_healthy() {
            return None;
        }
        let degraded_only = Health::from_reported(&v.health) == Health::Warning
            && ["InService", "Degraded", "Incomplete"]
                .iter()
                .any(|s| v.operational_status.trim().eq_ignore_ascii_case(s));
        if degraded_only && self.repairing(&v.name) {
            return None;
        }
        Some(format!("{} ({})", v.health, v.operational_status))
    }
}

fn hours(secs: u64) -> String {
    format!("{:.1} h", secs as f64 / 3600.0)
}

impl Storage {
    /// What is wrong with storage job `i`, if anything: Suspended, Failed (unless another job on
    /// the same disk has since completed or is moving: the failure is history), or no progress
    /// for [`JOB_STALL_HOURS`] whatever its state word.
    pub fn job_problem(&self, i: usize) -> Option<String> {
        let j = self.jobs.get(i)?;
        let state = j.state.trim();
        if state.eq_ignore_ascii_case("Failed") {
            let superseded = self.jobs.iter().enumerate().any(|(k, o)| {
                k != i
                    && o.virtual_disk.eq_ignore_ascii_case(&j.virtual_disk)
                    && (o.state.eq_ignore_ascii_case("Completed")
                        || (o.is_active() && !o.is_stalled()))
            });
            return (!superseded).then(|| format!("Failed at {}%", j.progress));
        }
        if state.eq_ignore_ascii_case("Suspended") {
            return Some(format!(
                "Suspended at {}% ({} without progress)",
                j.progress,
                hours(j.seconds_without_progress())
            ));
        }
        j.is_stalled().then(|| {
            format!(
                "{} at {}% with no progress for {} (running {}; stuck after {JOB_STALL_HOURS} h)",
                j.state,
                j.progress,
                hours(j.seconds_without_progress()),
                hours(j.elapsed_seconds)
            )
        })
    }
}

impl Node {
    /// Why a running node is overloaded, if it is: processor or memory past the thresholds.
    pub fn overload(&self) -> Option<String> {
        let mut what = Vec::new();
        if self.cpu_percent >= CPU_SATURATED_PERCENT {
            what.push(format!(
                "processor at {:.0}% (threshold {CPU_SATURATED_PERCENT}%)",
                self.cpu_percent
            ));
        }
        if self.memory_percent >= MEMORY_EXHAUSTED_PERCENT {
            what.push(format!(
                "memory at {:.0}% (threshold {MEMORY_EXHAUSTED_PERCENT}%)",
                self.memory_percent
            ));
        }
        (!what.is_empty()).then(|| what.join(", "))
    }
}

/// A network document's `properties.provisioningState` and
/// `properties.configurationState.status` (empty when absent).
pub fn document_states(doc: &serde_json::Value) -> (String, String) {
    let p = &doc["properties"];
    (
        p["provisioningState"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        p["configurationState"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

impl JsonResource {
    /// The document's states ([`document_states`]; None: not valid JSON).
    pub fn states(&self) -> Option<(String, String)> {
        let doc: serde_json::Value = serde_json::from_str(&self.document).ok()?;
        Some(document_states(&doc))
    }

    /// A provisioning problem: `Failed` (or `Canceled`), or a document that is not JSON.
    pub fn provisioning_problem(&self) -> Option<String> {
        match self.states() {
            None => Some("document is not valid JSON".into()),
            Some((p, _))
                if ["Failed", "Canceled"]
                    .iter()
                    .any(|f| p.eq_ignore_ascii_case(f)) =>
            {
                Some(format!("provisioningState {p}"))
            }
            _ => None,
        }
    }

    /// A configuration problem: the network controller reports `Failure`.
    pub fn configuration_problem(&self) -> Option<String> {
        match self.states() {
            Some((_, c)) if c.eq_ignore_ascii_case("Failure") => {
                Some(format!("configurationState {c}"))
            }
            _ => None,
        }
    }
}
