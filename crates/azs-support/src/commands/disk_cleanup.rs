//! Disk clean-ups: Clear-AzsSupportDiskSpace (the known-safe clean-up locations),
//! Remove-AzsSupportItem (files under the clean-up roots) and Remove-AzsSupportItemByStopService
//! (files a service holds: stop it, remove, start it again).
//!
//! On a simulated node the space freed returns to the file's drive (`Stamp::remove_files`). On
//! the real machine files are removed for real (`host::linux::file_ops`): anything beneath the
//! node's remove roots, and beneath `/var/log` rotated logs only (never the live log); the
//! clean-up takes rotated logs, crash dumps beneath the remove roots and apt's package cache.
//! Every removal is listed first and only done once `should_process` says so: under -WhatIf each
//! item that would go is a "What if" line.

use super::host_repair::{check_stop, require_service};
use super::hosts::*;
use super::machine_tools::real_target;
use super::{CommandError, Invocation};
use crate::host::linux::beneath::{Item, Kind};
use crate::host::linux::file_ops::{self, Cleaned, Removal};
use crate::host::linux::systemd::{validate_unit, ServiceAction};
use crate::host::linux::LinuxHost;
use crate::stamp::{Node, ServiceState, Stamp};
use crate::value::{Record, Value};
use std::path::Path;

/// What Clear-AzsSupportDiskSpace removes: category, folder, required file extension.
const CLEANUP: &[(&str, &str, &str)] = &[
    ("Crash dumps", r"C:\MASLogs", ".dmp"),
    ("Temporary files", r"C:\Windows\Temp", ""),
    ("Component store temporary files", r"C:\Windows\CbsTemp", ""),
    (
        "Windows error reports",
        r"C:\ProgramData\Microsoft\Windows\WER",
        "",
    ),
    // The kernel's own dumps: a bugcheck's MEMORY.DMP and live kernel reports (watchdog
    // timeouts), the usual thing that fills a Hyper-V host's system drive.
    ("Kernel memory dump", r"C:\Windows", "\\memory.dmp"),
    (
        "Live kernel reports",
        r"C:\Windows\LiveKernelReports",
        ".dmp",
    ),
];

/// The clean-up locations Remove-AzsSupportItem accepts.
const REMOVABLE_ROOTS: &[&str] = &[
    r"C:\MASLogs",
    r"C:\Windows\LiveKernelReports",
    r"C:\Windows\Temp",
    r"C:\ProgramData\Microsoft\Windows\WER",
    r"C:\Windows\CbsTemp",
];

/// Items listed one by one under -WhatIf (or a confirmation); the rest are one line.
const LIST_MAX: usize = 100;

/// ShouldProcess for each item that would go (`action` on its path; past [`LIST_MAX`], one line
/// for the rest): true when they should go now.
fn should_remove<'i>(
    inv: &mut Invocation<'_>,
    node: &str,
    items: impl IntoIterator<Item = (&'i str, &'i Item)>,
) -> bool {
    let mut go = true;
    let (mut rest, mut rest_bytes) = (0usize, 0u64);
    for (n, (action, it)) in items.into_iter().enumerate() {
        if n < LIST_MAX {
            go &= inv.should_process(&format!("{} on {node}", it.path.display()), action);
        } else {
            rest += 1;
            rest_bytes += it.bytes;
        }
    }
    if rest > 0 {
        go &= inv.should_process(
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

fn removed_records(node: &str, items: &[Item]) -> Vec<Value> {
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
                .into()
        })
        .collect()
}

/// Clear-AzsSupportDiskSpace on the real machine: rotated logs beneath /var/log, crash dumps
/// beneath the remove roots, apt's package cache (`apt-get clean`). One record per category
/// with the files removed and the bytes freed.
fn clear_real(inv: &mut Invocation<'_>, node: &Node) -> Result<Vec<Value>, CommandError> {
    let log_root = Path::new(file_ops::LOG_ROOT);
    let host = LinuxHost::local(node);
    let apt = Path::new(file_ops::APT_ARCHIVES);
    let mut plan =
        file_ops::clean_files(log_root, &node.remove_roots, false).map_err(CommandError)?;
    plan.push(file_ops::clean_apt_cache(apt, host.runner(), false).map_err(CommandError)?);
    let items = plan.iter().flat_map(|c| {
        let action = match c.category {
            "Rotated logs" => "Remove rotated log",
            "Crash dumps" => "Remove crash dump",
            _ => "Remove cached package (apt-get clean)",
        };
        c.items.iter().map(move |it| (action, it))
    });
    let items: Vec<(&str, &Item)> = items.collect();
    // Nothing to remove: the zero counts, without asking.
    if !items.is_empty() && !should_remove(inv, &node.name, items) {
        return Ok(vec![]);
    }
    let mut done: Vec<(Cleaned, Option<String>)> =
        match file_ops::clean_files(log_root, &node.remove_roots, true) {
            Ok(c) => c.into_iter().map(|c| (c, None)).collect(),
            Err(e) => return Err(CommandError(e)),
        };
    done.push(match file_ops::clean_apt_cache(apt, host.runner(), true) {
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
    Ok(done
        .into_iter()
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
            r.into()
        })
        .collect())
}

/// Remove-AzsSupportItem / -ByStopService on the real machine: validates the path (beneath a
/// remove root, or a rotated log beneath /var/log) and the service, lists what would go, then
/// stops the service (when it runs), removes, and starts it again.
fn remove_real(
    inv: &mut Invocation<'_>,
    node: &Node,
    service: Option<&str>,
) -> Result<Vec<Value>, CommandError> {
    let path = inv.args.str("Path").unwrap_or_default().to_string();
    let recurse = inv.args.switch("Recurse");
    let removal = Removal::new(&path, &node.remove_roots, Path::new(file_ops::LOG_ROOT))
        .map_err(CommandError)?;
    let plan = removal.run(recurse, false).map_err(CommandError)?;
    let host = LinuxHost::local(node);
    let systemd = host.systemd();
    let unit = match service {
        Some(s) => {
            let unit = validate_unit(s).map_err(CommandError)?;
            let info = systemd.get(&unit).map_err(CommandError)?;
            let active = matches!(
                info.active_state.as_str(),
                "active" | "activating" | "reloading"
            );
            Some((unit, active))
        }
        None => None,
    };
    if plan.is_empty() {
        return Err(CommandError(format!(
            "nothing to remove at '{}' on {}",
            removal.path().display(),
            node.name
        )));
    }
    let mut go = true;
    if let Some((unit, true)) = &unit {
        go &= inv.should_process(
            &format!("{unit} on {}", node.name),
            "Stop-Service, remove the items below, Start-Service again",
        );
    }
    go &= should_remove(inv, &node.name, plan.iter().map(|it| (item_action(it), it)));
    if !go {
        return Ok(vec![]);
    }
    if let Some((unit, true)) = &unit {
        systemd
            .control(unit, ServiceAction::Stop)
            .map_err(|e| CommandError(format!("{e}; nothing was removed")))?;
    }
    let removed = removal.run(recurse, true);
    if let Some((unit, true)) = &unit {
        if let Err(e) = systemd.control(unit, ServiceAction::Start) {
            let what = match &removed {
                Ok(items) => format!("{} item(s) were removed", items.len()),
                Err(r) => format!("removing failed ({r})"),
            };
            return Err(CommandError(format!(
                "{what}, but {unit} did not start again: {e}"
            )));
        }
    }
    Ok(removed_records(&node.name, &removed.map_err(CommandError)?))
}

/// Clear-AzsSupportDiskSpace -ComputerName: removes the known-safe files (contract #9) and adds
/// their size to the drive's free space. One record per category.
pub fn clear_disk_space(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    if let Some(n) = real_target(inv) {
        return clear_real(inv, &n);
    }
    let node = inv.args.str("ComputerName").unwrap_or_default().to_string();
    let n = require_node(inv.stamp(), &node)?;
    model_only(n)?;
    require_reachable(inv.stamp(), n)?;
    let matches = |path: &str, dir: &str, ext: &str| {
        path_under(path, dir) && (ext.is_empty() || path.to_ascii_lowercase().ends_with(ext))
    };
    let mut rows = Vec::new();
    let (mut files, mut bytes) = (0u64, 0u64);
    for (cat, dir, ext) in CLEANUP {
        let (c, b) = n
            .files
            .iter()
            .filter(|f| matches(&f.path, dir, ext))
            .fold((0u64, 0u64), |(c, b), f| (c + 1, b + f.size_bytes));
        files += c;
        bytes += b;
        rows.push((*cat, c, b));
    }
    let name = n.name.clone();
    let gone: Vec<String> = n
        .files
        .iter()
        .filter(|f| CLEANUP.iter().any(|(_, d, e)| matches(&f.path, d, e)))
        .map(|f| f.path.clone())
        .collect();
    let action = format!(
        "Remove {files} file(s), {:.2} MB, from the clean-up locations",
        bytes as f64 / MIB
    );
    if !inv.should_process(&name, &action) {
        return Ok(vec![]);
    }
    inv.stamp_mut()?.remove_files(&node, &gone);
    rows.sort_by(|a, b| a.0.cmp(b.0));
    Ok(rows
        .into_iter()
        .map(|(cat, c, b)| {
            Record::new("Azs.Support.DiskCleanup")
                .with("ComputerName", &name)
                .with("Category", cat)
                .with("FilesRemoved", c)
                .with("MBFreed", round2(b as f64 / MIB))
                .into()
        })
        .collect())
}

/// The files Remove-AzsSupportItem would remove at `path` (validated against the allow-list).
fn removable(node: &Node, path: &str, recurse: bool) -> Result<Vec<(String, u64)>, CommandError> {
    let base = trim_dir(path);
    if base.len() <= 2 {
        return Err(CommandError(format!(
            "refusing to remove '{path}': a drive root is never removed"
        )));
    }
    if !REMOVABLE_ROOTS
        .iter()
        .any(|r| base.eq_ignore_ascii_case(r) || path_under(base, r))
    {
        return Err(CommandError(format!(
            "refusing to remove '{path}': only paths in the clean-up locations may be removed ({})",
            REMOVABLE_ROOTS.join(", ")
        )));
    }
    if let Some(f) = node
        .files
        .iter()
        .find(|f| f.path.eq_ignore_ascii_case(base))
    {
        return Ok(vec![(f.path.clone(), f.size_bytes)]);
    }
    let under: Vec<_> = node
        .files
        .iter()
        .filter(|f| path_under(&f.path, base))
        .map(|f| (f.path.clone(), f.size_bytes))
        .collect();
    if under.is_empty() && !REMOVABLE_ROOTS.iter().any(|r| base.eq_ignore_ascii_case(r)) {
        return Err(CommandError(format!(
            "Cannot find path '{path}' on {} because it does not exist",
            node.name
        )));
    }
    if !under.is_empty() && !recurse {
        return Err(CommandError(format!(
            "'{path}' on {} is a folder with {} file(s); add -Recurse to remove them",
            node.name,
            under.len()
        )));
    }
    Ok(under)
}

fn remove_files(stamp: &mut Stamp, node: &str, items: &[(String, u64)]) -> Vec<Value> {
    let paths: Vec<String> = items.iter().map(|(p, _)| p.clone()).collect();
    stamp.remove_files(node, &paths);
    let Some(name) = stamp.node(node).map(|n| n.name.clone()) else {
        return Vec::new();
    };
    let mut sorted = items.to_vec();
    sorted.sort();
    sorted
        .into_iter()
        .map(|(p, b)| {
            Record::new("Azs.Support.RemovedItem")
                .with("ComputerName", &name)
                .with("Path", p)
                .with("Length", b)
                .into()
        })
        .collect()
}

/// Remove-AzsSupportItem -ComputerName -Path [-Recurse]: removes files in the clean-up locations.
pub fn remove_item(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    if let Some(n) = real_target(inv) {
        return remove_real(inv, &n, None);
    }
    let node = inv.args.str("ComputerName").unwrap_or_default().to_string();
    let path = inv.args.str("Path").unwrap_or_default().to_string();
    let n = require_node(inv.stamp(), &node)?;
    model_only(n)?;
    require_reachable(inv.stamp(), n)?;
    let items = removable(n, &path, inv.args.switch("Recurse"))?;
    let target = format!("{path} on {}", n.name);
    if !inv.should_process(&target, &format!("Remove {} item(s)", items.len())) {
        return Ok(vec![]);
    }
    Ok(remove_files(inv.stamp_mut()?, &node, &items))
}

/// Remove-AzsSupportItemByStopService -ComputerName -Path -ServiceName [-Recurse]: stops the
/// service (when running), removes the files, starts the service again.
pub fn remove_item_by_stop_service(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    if let Some(n) = real_target(inv) {
        let service = inv.args.str("ServiceName").unwrap_or_default().to_string();
        return remove_real(inv, &n, Some(&service));
    }
    let node = inv.args.str("ComputerName").unwrap_or_default().to_string();
    let path = inv.args.str("Path").unwrap_or_default().to_string();
    let service = inv.args.str("ServiceName").unwrap_or_default().to_string();
    let stamp = inv.stamp();
    let n = require_node(stamp, &node)?;
    model_only(n)?;
    require_reachable(stamp, n)?;
    let running = require_service(n, &service)?.state != ServiceState::Stopped;
    if running {
        check_stop(stamp, &node, &service)?;
    }
    let items = removable(n, &path, inv.args.switch("Recurse"))?;
    let target = format!("{path} on {}", n.name);
    let action = format!(
        "Stop service {service}, remove {} item(s), start {service} again",
        items.len()
    );
    if !inv.should_process(&target, &action) {
        return Ok(vec![]);
    }
    let now = inv.now;
    let stamp = inv.stamp_mut()?;
    if running {
        stamp.stop_service(&node, &service);
    }
    let out = remove_files(stamp, &node, &items);
    if running {
        stamp.start_service(&node, &service, now);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::hosts::tests::{cn, err, get, ok};
    use super::super::testing::default_stamp;
    use super::super::testing::what_if;
    use super::*;
    use crate::stamp::FileEntry;

    fn plant_full_disk(s: &mut Stamp) {
        let n = s.node_mut("AZS-WAS01").expect("was01");
        n.disks[0].free_gb = 0.4;
        for (p, b) in [
            (r"C:\Windows\Temp\big1.tmp", 20u64 << 30),
            (r"C:\MASLogs\crash.dmp", 10 << 30),
            (
                r"C:\ProgramData\Microsoft\Windows\WER\ReportQueue\r.wer",
                1 << 20,
            ),
        ] {
            n.files.push(FileEntry {
                path: p.into(),
                size_bytes: b,
                modified: None,
            });
        }
    }

    #[test]
    fn clear_disk_space_frees_cleanup_paths_only() {
        let mut s = default_stamp();
        plant_full_disk(&mut s);
        let before = s.clone();
        what_if(&mut s, clear_disk_space, &[cn("AZS-WAS01")]);
        assert_eq!(s, before);
        let out = ok(&mut s, clear_disk_space, &[cn("AZS-WAS01")]);
        assert_eq!(out.len(), CLEANUP.len());
        let cats: Vec<String> = out.iter().map(|r| get(r, "Category")).collect();
        let mut sorted = cats.clone();
        sorted.sort();
        assert_eq!(cats, sorted);
        let n = s.node("AZS-WAS01").expect("was01");
        assert!(n.disks[0].free_gb > 30.0, "{}", n.disks[0].free_gb);
        let paths: Vec<&str> = n.files.iter().map(|f| f.path.as_str()).collect();
        assert!(
            paths.iter().any(|p| p.ends_with("WASDeploy.log")),
            "{paths:?}"
        );
        assert!(!paths
            .iter()
            .any(|p| p.ends_with(".dmp") || p.contains("Temp")));
    }

    #[test]
    fn remove_item_allow_list_and_recurse() {
        let mut s = default_stamp();
        plant_full_disk(&mut s);
        for (p, want) in [
            (r"C:\", "drive root"),
            (r"C:\Windows\System32", "clean-up locations"),
            (r"C:\MASLogs\nope.log", "does not exist"),
            (r"C:\ProgramData\Microsoft\Windows\WER", "-Recurse"),
        ] {
            let e = err(&mut s, remove_item, &[cn("AZS-WAS01"), ("Path", p.into())]);
            assert!(e.contains(want), "{p}: {e}");
        }
        let free = s
            .node("AZS-WAS01")
            .map(|n| n.disks[0].free_gb)
            .unwrap_or_default();
        let out = ok(
            &mut s,
            remove_item,
            &[cn("AZS-WAS01"), ("Path", r"c:\maslogs\CRASH.dmp".into())],
        );
        assert_eq!(get(&out[0], "Path"), r"C:\MASLogs\crash.dmp");
        let n = s.node("AZS-WAS01").expect("was01");
        assert!((n.disks[0].free_gb - free - 10.0).abs() < 0.01);
        let out = ok(
            &mut s,
            remove_item,
            &[
                cn("AZS-WAS01"),
                ("Path", r"C:\ProgramData\Microsoft\Windows\WER".into()),
                ("Recurse", true.into()),
            ],
        );
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn remove_by_stop_service_restarts_the_service() {
        let mut s = default_stamp();
        plant_full_disk(&mut s);
        let pid = |s: &Stamp| {
            s.node("AZS-WAS01")
                .and_then(|n| n.processes.iter().find(|p| p.service == "Winmgmt"))
                .map(|p| p.id)
        };
        let old = pid(&s);
        let args = [
            cn("AZS-WAS01"),
            ("Path", r"C:\Windows\Temp".into()),
            ("ServiceName", "Winmgmt".into()),
            ("Recurse", true.into()),
        ];
        let out = ok(&mut s, remove_item_by_stop_service, &args);
        assert_eq!(out.len(), 2);
        assert!(pid(&s).is_some() && pid(&s) != old);
        let e = err(
            &mut s,
            remove_item_by_stop_service,
            &[
                cn("AZS-WAS01"),
                ("Path", r"C:\MASLogs".into()),
                ("ServiceName", "Nope".into()),
            ],
        );
        assert!(e.contains("Nope"), "{e}");
    }
}

/// Removals on the real machine, its remove roots pointed at temporary folders.
#[cfg(test)]
mod real_machine_tests {
    use super::super::testing::{prop as get, RealMachine};
    use super::super::Mode;
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    type Machine = RealMachine;

    /// The `linux` stamp whose machine reads and removes beneath `<tmp>/rm` only.
    fn machine() -> Machine {
        let m = RealMachine::new(1 << 20, Some(&["rm"]), Some(&["rm"]));
        let base = &m.base;
        fs::create_dir_all(base.join("rm/sub")).expect("mk");
        fs::create_dir_all(base.join("outside")).expect("mk");
        fs::write(base.join("outside/keep"), b"keep").expect("w");
        fs::write(base.join("rm/a.dmp"), vec![0u8; 100]).expect("w");
        fs::write(base.join("rm/sub/b"), vec![0u8; 20]).expect("w");
        fs::write(base.join("rm/sub/c"), vec![0u8; 30]).expect("w");
        symlink("/etc", base.join("rm/etc")).expect("ln");
        symlink("../outside", base.join("rm/out")).expect("ln");
        m
    }

    #[test]
    fn what_if_lists_and_removes_nothing_then_removal_takes_only_what_is_allowed() {
        let mut m = machine();
        let sub = [
            ("Path", Value::from(m.path("rm/sub"))),
            ("Recurse", true.into()),
        ];
        let plan = m.run_mode(remove_item, &sub, Mode::WhatIf);
        assert!(plan.result.expect("what if").is_empty());
        assert_eq!(plan.effects.len(), 3, "{:?}", plan.effects);
        assert!(
            plan.effects[0].contains("\"Remove File\"")
                && plan.effects[0].contains(&format!("{}/rm/sub/b", m.base.display())),
            "{:?}",
            plan.effects
        );
        assert!(
            plan.effects[2].contains("\"Remove Directory\""),
            "{:?}",
            plan.effects
        );
        assert!(m.base.join("rm/sub/b").exists() && m.base.join("rm/sub/c").exists());
        let e = m
            .run_mode(
                remove_item,
                &[("Path", m.path("rm/sub").into())],
                Mode::Execute,
            )
            .result
            .expect_err("folder without -Recurse");
        assert!(e.0.contains("-Recurse"), "{e}");
        let done = m.run_mode(remove_item, &sub, Mode::Execute);
        let rows = done.result.expect("removed");
        assert_eq!(
            rows.iter().map(|r| get(r, "Path")).collect::<Vec<_>>(),
            [m.path("rm/sub"), m.path("rm/sub/b"), m.path("rm/sub/c")]
        );
        assert_eq!(get(&rows[2], "Length"), "30");
        assert!(!m.base.join("rm/sub").exists() && m.base.join("rm/a.dmp").exists());
        // Out of bounds: refused with one line, nothing outside touched.
        for (path, want) in [
            (m.path("rm/etc"), "leads outside"),
            (m.path("rm/etc/hostname"), "leads outside"),
            (m.path("rm/out/keep"), "leads outside"),
            (m.path("rm/../outside/keep"), "'..'"),
            (m.path("outside/keep"), "remove roots"),
            ("/etc/hostname".to_string(), "remove roots"),
        ] {
            for mode in [Mode::Execute, Mode::WhatIf] {
                let e = m
                    .run_mode(
                        remove_item,
                        &[("Path", path.as_str().into()), ("Recurse", true.into())],
                        mode,
                    )
                    .result
                    .expect_err("refused");
                assert!(e.0.contains(want) && !e.0.contains('\n'), "{path}: {e}");
            }
        }
        assert!(m.base.join("outside/keep").exists());
        // The root's content goes (links as links), the root and what links point to stay.
        let all = m
            .run_mode(
                remove_item,
                &[("Path", m.path("rm").into()), ("Recurse", true.into())],
                Mode::Execute,
            )
            .result
            .expect("emptied");
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(all.iter().any(|r| get(r, "ItemType") == "SymbolicLink"));
        assert!(m.base.join("rm").is_dir());
        assert_eq!(fs::read_dir(m.base.join("rm")).expect("ls").count(), 0);
        assert!(m.base.join("outside/keep").exists());
        assert!(std::path::Path::new("/etc").is_dir());
    }

    #[test]
    fn beneath_var_log_only_rotated_logs_go_never_the_live_one() {
        let mut m = machine();
        let Ok(dir) = tempfile::Builder::new()
            .prefix("pep-test-")
            .tempdir_in(file_ops::LOG_ROOT)
        else {
            eprintln!("skipped: cannot write beneath /var/log");
            return;
        };
        let live = dir.path().join("x.log");
        let rotated = dir.path().join("x.log.1");
        let older = dir.path().join("x.log.2.gz");
        for p in [&live, &rotated, &older] {
            fs::write(p, b"log line\n").expect("w");
        }
        let path = |p: &PathBuf| Value::from(p.to_string_lossy().into_owned());
        let e = m
            .run_mode(remove_item, &[("Path", path(&live))], Mode::Execute)
            .result
            .expect_err("live");
        assert!(e.0.contains("live log"), "{e}");
        let out = m
            .run_mode(remove_item, &[("Path", path(&rotated))], Mode::Execute)
            .result
            .expect("rotated");
        assert_eq!(get(&out[0], "Path"), rotated.to_string_lossy());
        assert!(live.exists() && !rotated.exists());
        let folder = [
            (
                "Path",
                Value::from(dir.path().to_string_lossy().into_owned()),
            ),
            ("Recurse", true.into()),
        ];
        let plan = m.run_mode(remove_item, &folder, Mode::WhatIf);
        assert_eq!(plan.effects.len(), 1, "{:?}", plan.effects);
        assert!(plan.effects[0].contains("x.log.2.gz"));
        // The clean-up under -WhatIf lists and removes nothing, and never names a live log.
        let clear = m.run_mode(clear_disk_space, &[], Mode::WhatIf);
        clear.result.expect("what if");
        assert!(clear
            .effects
            .iter()
            .all(|e| !e.contains(&format!("{} on ", live.display()))));
        assert!(older.exists());
        let out = m
            .run_mode(remove_item, &folder, Mode::Execute)
            .result
            .expect("rotated");
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(live.exists() && !older.exists() && dir.path().is_dir());
    }

    #[test]
    fn a_service_that_may_not_be_stopped_or_does_not_exist_removes_nothing() {
        let mut m = machine();
        for service in ["ssh", "systemd-journald", "pep-no-such-unit-xyz"] {
            let e = m
                .run_mode(
                    remove_item_by_stop_service,
                    &[
                        ("Path", m.path("rm/a.dmp").into()),
                        ("ServiceName", service.into()),
                    ],
                    Mode::Execute,
                )
                .result
                .expect_err("refused");
            assert!(!e.0.contains('\n'), "{e}");
            assert!(m.base.join("rm/a.dmp").exists(), "{service}: {e}");
        }
        // Paths are checked first, whatever the service.
        let e = m
            .run_mode(
                remove_item_by_stop_service,
                &[
                    ("Path", m.path("rm/etc/hostname").into()),
                    ("ServiceName", "cron".into()),
                ],
                Mode::Execute,
            )
            .result
            .expect_err("refused");
        assert!(e.0.contains("leads outside"), "{e}");
    }
}
