//! Repairs on the real machine: stopping a process (SIGTERM through a pidfd, SIGKILL after the
//! grace; PID 1, kernel threads, pep and its ancestors, protected units' processes refused; the
//! start time listed must still match), starting, stopping and restarting systemd units
//! (protected units refused), and the disk clean-ups: anything beneath the node's remove roots,
//! and beneath `/var/log` rotated logs only (never the live log); the clean-up takes rotated
//! logs, crash dumps beneath the remove roots and apt's package cache. Every removal is listed
//! first and only done once ShouldProcess says so: under -WhatIf each item that would go is a
//! "What if" line.

use super::beneath::{Item, Kind};
use super::file_ops::{self, Cleaned, Removal};
use super::systemd::validate_unit;
use super::{process_row, processes, round2, service_row, LinuxHost, MIB};
use crate::host::{Acted, Call, Effect, RemoveRequest, ServiceAction, ServiceRow, StoppedProcess};
use crate::value::Record;
use std::path::Path;
use std::time::Duration;

/// How long a real process has after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Items listed one by one under -WhatIf (or a confirmation); the rest are one line.
const LIST_MAX: usize = 100;

pub(super) fn stop_process(
    h: &LinuxHost<'_>,
    id: i64,
    call: &mut Call<'_>,
) -> Acted<StoppedProcess> {
    let node = h.node;
    let pid = u32::try_from(id).map_err(|_| {
        format!(
            "Cannot find a process with the process identifier {id} on {}",
            node.name
        )
    })?;
    let p = processes::get(pid).map_err(|e| format!("{e} on {}", node.name))?;
    if let Some(why) = processes::protected(pid) {
        return Err(format!(
            "refusing to stop {} (id {pid}) on {}: {why}",
            p.name, node.name
        ));
    }
    if !call.should_process(
        &format!("{} ({pid}) on {}", p.name, node.name),
        "Stop-Process",
    ) {
        return Ok(None);
    }
    let out = processes::stop(pid, Some(p.start_time), STOP_GRACE)?;
    Ok(Some(Effect::Done(StoppedProcess {
        process: process_row(&p),
        signal: Some(out.signal),
        exited: Some(out.exited),
    })))
}

/// Start-, Stop- or Restart-AzsSupportService: the unit must exist and be in a state the action
/// applies to, then systemd does it and the unit's state after is returned.
pub(super) fn control_service(
    h: &LinuxHost<'_>,
    name: &str,
    action: ServiceAction,
    call: &mut Call<'_>,
) -> Acted<ServiceRow> {
    let node = h.node;
    let unit = validate_unit(name)?;
    let systemd = h.systemd();
    let now = systemd.get(&unit)?;
    let active = matches!(
        now.active_state.as_str(),
        "active" | "activating" | "reloading"
    );
    match action {
        ServiceAction::Start if active => {
            return Err(format!(
                "Service '{unit}' on {} is already running; use Restart-AzsSupportService to restart it",
                node.name
            ))
        }
        ServiceAction::Stop if !active => {
            return Err(format!(
                "Service '{unit}' on {} is already stopped",
                node.name
            ))
        }
        _ => {}
    }
    let verb = match action {
        ServiceAction::Start => "Start-Service",
        ServiceAction::Stop => "Stop-Service",
        ServiceAction::Restart => "Restart-Service",
    };
    if !call.should_process(&format!("{unit} on {}", node.name), verb) {
        return Ok(None);
    }
    let after = systemd.control(&unit, action)?;
    Ok(Some(Effect::Done(service_row(&after))))
}

/// ShouldProcess for each item that would go (`action` on its path; past [`LIST_MAX`], one line
/// for the rest): true when they should go now.
fn should_remove<'i>(
    call: &mut Call<'_>,
    node: &str,
    items: impl IntoIterator<Item = (&'i str, &'i Item)>,
) -> bool {
    let mut go = true;
    let (mut rest, mut rest_bytes) = (0usize, 0u64);
    for (n, (action, it)) in items.into_iter().enumerate() {
        if n < LIST_MAX {
            go &= call.should_process(&format!("{} on {node}", it.path.display()), action);
        } else {
            rest += 1;
            rest_bytes += it.bytes;
        }
    }
    if rest > 0 {
        go &= call.should_process(
            &format!("{rest} more item(s), {rest_bytes} bytes, on {node}"),
            "Remove",
        );
    }
    go
}

fn item_action(it: &Item) -> &'static str {
    match it.kind {
        Kind::Dir => "Remove Directory",
        Kind::Link => "Remove Symbolic Link",
        _ => "Remove File",
    }
}

fn removed_records(node: &str, items: &[Item]) -> Vec<Record> {
    let mut items: Vec<&Item> = items.iter().collect();
    items.sort_by(|a, b| a.path.cmp(&b.path));
    items
        .into_iter()
        .map(|it| {
            Record::new("Azs.Support.RemovedItem")
                .with("ComputerName", node)
                .with("Path", it.path.display().to_string())
                .with("Length", it.bytes)
                .with(
                    "ItemType",
                    match it.kind {
                        Kind::Dir => "Directory",
                        Kind::Link => "SymbolicLink",
                        Kind::File => "File",
                        Kind::Other => "Other",
                    },
                )
        })
        .collect()
}

/// Clear-AzsSupportDiskSpace: rotated logs beneath /var/log, crash dumps beneath the remove
/// roots, apt's package cache (`apt-get clean`). One record per category with the files removed
/// and the bytes freed.
pub(super) fn clear_disk_space(h: &LinuxHost<'_>, call: &mut Call<'_>) -> Acted<Vec<Record>> {
    let node = h.node;
    let log_root = Path::new(file_ops::LOG_ROOT);
    let apt = Path::new(file_ops::APT_ARCHIVES);
    let mut plan = file_ops::clean_files(log_root, &node.remove_roots, false)?;
    plan.push(file_ops::clean_apt_cache(apt, h.runner(), false)?);
    let items: Vec<(&str, &Item)> = plan
        .iter()
        .flat_map(|c| {
            let action = match c.category {
                "Rotated logs" => "Remove rotated log",
                "Crash dumps" => "Remove crash dump",
                _ => "Remove cached package (apt-get clean)",
            };
            c.items.iter().map(move |it| (action, it))
        })
        .collect();
    // Nothing to remove: the zero counts, without asking.
    if !items.is_empty() && !should_remove(call, &node.name, items) {
        return Ok(None);
    }
    let mut done: Vec<(Cleaned, Option<String>)> =
        file_ops::clean_files(log_root, &node.remove_roots, true)?
            .into_iter()
            .map(|c| (c, None))
            .collect();
    done.push(match file_ops::clean_apt_cache(apt, h.runner(), true) {
        Ok(c) => (c, None),
        Err(e) => (
            Cleaned {
                category: "APT package cache",
                items: Vec::new(),
            },
            Some(e),
        ),
    });
    done.sort_by(|a, b| a.0.category.cmp(b.0.category));
    Ok(Some(Effect::Done(
        done.into_iter()
            .map(|(c, note)| {
                let mut r = Record::new("Azs.Support.DiskCleanup")
                    .with("ComputerName", &node.name)
                    .with("Category", c.category)
                    .with("FilesRemoved", c.files())
                    .with("MBFreed", round2(c.bytes() as f64 / MIB))
                    .with("BytesFreed", c.bytes());
                if let Some(n) = note {
                    r = r.with("Note", n);
                }
                r
            })
            .collect(),
    )))
}

/// Remove-AzsSupportItem[ByStopService]: validates the path (beneath a remove root, or a rotated
/// log beneath /var/log) and the service, lists what would go, then stops the service (when it
/// runs), removes, and starts it again.
pub(super) fn remove_items(
    h: &LinuxHost<'_>,
    req: &RemoveRequest,
    call: &mut Call<'_>,
) -> Acted<Vec<Record>> {
    let node = h.node;
    let removal = Removal::new(&req.path, &node.remove_roots, Path::new(file_ops::LOG_ROOT))?;
    let plan = removal.run(req.recurse, false)?;
    let systemd = h.systemd();
    let unit = match &req.service {
        Some(s) => {
            let unit = validate_unit(s)?;
            let info = systemd.get(&unit)?;
            let active = matches!(
                info.active_state.as_str(),
                "active" | "activating" | "reloading"
            );
            Some((unit, active))
        }
        None => None,
    };
    if plan.is_empty() {
        return Err(format!(
            "nothing to remove at '{}' on {}",
            removal.path().display(),
            node.name
        ));
    }
    let mut go = true;
    if let Some((unit, true)) = &unit {
        go &= call.should_process(
            &format!("{unit} on {}", node.name),
            "Stop-Service, remove the items below, Start-Service again",
        );
    }
    go &= should_remove(
        call,
        &node.name,
        plan.iter().map(|it| (item_action(it), it)),
    );
    if !go {
        return Ok(None);
    }
    if let Some((unit, true)) = &unit {
        systemd
            .control(unit, ServiceAction::Stop)
            .map_err(|e| format!("{e}; nothing was removed"))?;
    }
    let removed = removal.run(req.recurse, true);
    if let Some((unit, true)) = &unit {
        if let Err(e) = systemd.control(unit, ServiceAction::Start) {
            let what = match &removed {
                Ok(items) => format!("{} item(s) were removed", items.len()),
                Err(r) => format!("removing failed ({r})"),
            };
            return Err(format!("{what}, but {unit} did not start again: {e}"));
        }
    }
    Ok(Some(Effect::Done(removed_records(&node.name, &removed?))))
}
