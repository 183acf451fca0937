//! Disk clean-ups: Clear-AzsSupportDiskSpace (the known-safe clean-up locations),
//! Remove-AzsSupportItem (files under the clean-up roots) and Remove-AzsSupportItemByStopService
//! (files a service holds: stop it, remove, start it again).
//!
//! The node's host does them ([`crate::host::Host::clear_disk_space`],
//! [`crate::host::Host::remove_items`]): on a simulated node the space freed returns to the
//! file's drive; on the real machine files are removed for real, beneath its remove roots and
//! rotated logs beneath `/var/log`. Every removal is listed first and only done once
//! ShouldProcess says so: under -WhatIf each item that would go is a "What if" line.

use super::{CommandError, Invocation};
use crate::host::RemoveRequest;
use crate::value::Value;

/// Clear-AzsSupportDiskSpace -ComputerName: removes the known-safe files (contract #9) and adds
/// their size to the drive's free space. One record per category.
pub fn clear_disk_space(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let node = inv.args.str("ComputerName").unwrap_or_default().to_string();
    let rows = inv.act(&node, |h, call| h.clear_disk_space(call))?;
    Ok(rows
        .unwrap_or_default()
        .into_iter()
        .map(Value::from)
        .collect())
}

fn remove(inv: &mut Invocation<'_>, service: Option<String>) -> Result<Vec<Value>, CommandError> {
    let node = inv.args.str("ComputerName").unwrap_or_default().to_string();
    let req = RemoveRequest {
        path: inv.args.str("Path").unwrap_or_default().to_string(),
        recurse: inv.args.switch("Recurse"),
        service,
    };
    let rows = inv.act(&node, |h, call| h.remove_items(&req, call))?;
    Ok(rows
        .unwrap_or_default()
        .into_iter()
        .map(Value::from)
        .collect())
}

/// Remove-AzsSupportItem -ComputerName -Path [-Recurse]: removes files in the clean-up locations.
pub fn remove_item(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    remove(inv, None)
}

/// Remove-AzsSupportItemByStopService -ComputerName -Path -ServiceName [-Recurse]: stops the
/// service (when running), removes the files, starts the service again.
pub fn remove_item_by_stop_service(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let service = inv.args.str("ServiceName").unwrap_or_default().to_string();
    remove(inv, Some(service))
}

#[cfg(test)]
mod tests {
    use super::super::hosts::tests::{cn, err, get, ok};
    use super::super::testing::default_stamp;
    use super::super::testing::what_if;
    use super::*;

    use crate::host::simulated::repairs::CLEANUP;
    use crate::stamp::{FileEntry, Stamp};

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
    use crate::host::linux::file_ops;
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
