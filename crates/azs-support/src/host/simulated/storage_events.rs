//! Storage events of a simulated node: its own events and its event source's whose log or
//! provider names storage, and the events the storage state implies (failing disks, degraded
//! virtual disks, volumes that are not online).

use crate::stamp::{CsvState, Event, Stamp};
use chrono::{DateTime, Duration, Utc};

/// Whether an event of the model is a storage event (by its log and provider).
pub(crate) fn is_storage_event(e: &Event) -> bool {
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
pub(crate) fn derived_storage_events(stamp: &Stamp, node: &str, now: DateTime<Utc>) -> Vec<Event> {
    let mut out = Vec::new();
    let spaces = "Microsoft-Windows-StorageSpaces-Driver";
    for (i, d) in stamp
        .storage
        .physical_disks
        .iter()
        .filter(|d| d.node.eq_ignore_ascii_case(node) && d.has_problem())
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
        if c.state != CsvState::Online {
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
