//! Disk clean-ups on the simulated nodes: Clear-AzsSupportDiskSpace (the known-safe clean-up
//! locations), Remove-AzsSupportItem (files under the clean-up roots) and
//! Remove-AzsSupportItemByStopService (files a service holds: stop it, remove, start it again).
//! The space freed returns to the file's drive (`Stamp::remove_files`).

use super::host_repair::{check_stop, require_service};
use super::hosts::*;
use super::{CommandError, Invocation};
use crate::stamp::{Node, ServiceState, Stamp};
use crate::value::{Record, Value};

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

/// Clear-AzsSupportDiskSpace -ComputerName: removes the known-safe files (contract #9) and adds
/// their size to the drive's free space. One record per category.
pub fn clear_disk_space(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
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
