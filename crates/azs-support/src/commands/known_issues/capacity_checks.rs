//! Known-issue check over storage capacity (`StorageCapacity`): object-store volumes (Warning at
//! 90% used, Critical at 95%, Critical whenever the storage service reports one Throttled or Full)
//! and infrastructure shares, the cluster shared volumes (Warning at 80%, Critical at 90%), by the
//! health model's thresholds (`stamp::health`).

use super::{problem, verdict, Verdict};
use crate::stamp::health::{
    Health, SHARE_CRITICAL_PERCENT, SHARE_WARN_PERCENT, VOLUME_CRITICAL_PERCENT,
    VOLUME_WARN_PERCENT,
};
use crate::stamp::Stamp;
use chrono::{DateTime, Utc};

pub(super) fn storage_capacity(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let mut problems = Vec::new();
    for v in &stamp.storage.volumes {
        let health = v.judged();
        if health == Health::Healthy {
            continue;
        }
        problems.push(problem(
            format!(
                "Object-store volume {} is {} ({}% used, {:.0} of {:.0} GB; health {}, status {})",
                v.name,
                health.as_str(),
                v.percent_used(),
                v.used_gb,
                v.size_gb,
                if v.health.is_empty() { "Healthy" } else { &v.health },
                if v.operational_status.is_empty() { "OK" } else { &v.operational_status }
            ),
            "Free tenant data or have the operator migrate containers off the volume: review Get-AzsSupportVolumeUtilization and Get-AzsSupportStorageAccountProperties".into(),
        ));
    }
    for c in &stamp.cluster.csvs {
        let health = c.capacity();
        if health == Health::Healthy {
            continue;
        }
        problems.push(problem(
            format!(
                "{} is {} ({}% used, {:.0} GB free of {:.0} GB)",
                c.name,
                health.as_str(),
                c.percent_used(),
                c.free_gb,
                c.size_gb
            ),
            "Find what fills it (Get-AzsSupportSClusterFileSize, Get-AzsSupportVolumeUtilization) and escalate to the storage team".into(),
        ));
    }
    verdict(
        problems,
        format!(
            "All {} object-store volumes below {VOLUME_WARN_PERCENT}% used (critical at {VOLUME_CRITICAL_PERCENT}%) and {} infrastructure shares below {SHARE_WARN_PERCENT}% (critical at {SHARE_CRITICAL_PERCENT}%)",
            stamp.storage.volumes.len(),
            stamp.cluster.csvs.len()
        ),
    )
}
