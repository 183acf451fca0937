//! Files collected from the nodes of the stamp, and the working directories they were collected
//! into: Copy-AzsSupportFiles and Clear-AzsSupportParentWorkingDirectory.
//!
//! The node's host copies ([`crate::host::Host::copy_files`]): a simulated node's files have no
//! contents, so each copy is a placeholder text naming the file it stands for; the real
//! machine's files beneath its read roots are copied for real, charged to the working
//! directory's quota. Old sibling working directories are real directories on this machine,
//! removed for real.

use super::hosts::select_nodes;
use super::{CommandError, Invocation, Table};
use crate::value::{Record, Value};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use std::fs;

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Copy-AzsSupportFiles", copy_files),
    (
        "Clear-AzsSupportParentWorkingDirectory",
        clear_parent_working_directory,
    ),
];

/// Copy-AzsSupportFiles -ComputerName -Path [-Recurse]: copies node files into
/// `<workdir>/<NODE>/`, sorted.
pub fn copy_files(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let node = inv.args.str("ComputerName").unwrap_or_default().to_string();
    let path = inv.args.str("Path").unwrap_or_default().to_string();
    let recurse = inv.args.switch("Recurse");
    let rows = inv.run_tool(&node, |h, call| h.copy_files(&path, recurse, call))?;
    let mut out: Vec<Value> = rows.into_iter().map(Value::from).collect();
    out.sort_by_key(Value::to_display);
    Ok(out)
}

/// `YYYYMMDDTHHMMSSZ-<id>` → its time.
fn workdir_time(name: &str) -> Option<DateTime<Utc>> {
    let (ts, id) = name.split_once('-')?;
    let id_ok = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ts.len() != 16 || !id_ok {
        return None;
    }
    NaiveDateTime::parse_from_str(ts, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

/// The youngest a working directory may be and still be removed by the parent cleanup.
const MIN_AGE_DAYS: i64 = 1;

/// Clear-AzsSupportParentWorkingDirectory [-ComputerName] [-OlderThanDays]: removes the sibling
/// working directories (named `YYYYMMDDTHHMMSSZ-<id>`, real directories, not symlinks) older than
/// the cutoff — at least one day, as the real command requires — never the current one and never
/// one a live session uses. They live on the privileged endpoint's node only. Operators' working
/// directories live under another parent and are never touched.
pub fn clear_parent_working_directory(
    inv: &mut Invocation<'_>,
) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let wanted = inv.args.strings("ComputerName");
    let nodes = select_nodes(stamp, &wanted)?;
    let pep = stamp.pep_node().to_string();
    if !nodes.iter().any(|n| n.name.eq_ignore_ascii_case(&pep)) {
        return Ok(vec![]);
    }
    let days = inv.args.int("OlderThanDays").unwrap_or(7);
    if days < MIN_AGE_DAYS {
        // The catalog's range says so too; this guards the rule where it matters.
        return Err(CommandError(format!(
            "-OlderThanDays must be at least {MIN_AGE_DAYS}: working directories of the last day may belong to sessions still at work"
        )));
    }
    let cutoff = inv.now - Duration::days(days);
    let parent = inv.workdir.parent().clone();
    let own = inv.workdir.path().to_path_buf();
    let Ok(entries) = fs::read_dir(parent.path()) else {
        return Ok(vec![]);
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(text) = name.to_str() else { continue };
        let is_dir = fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_dir());
        if e.path() == own || !is_dir || workdir_time(text).is_none_or(|t| t >= cutoff) {
            continue;
        }
        match parent.remove_unused(&e.path()) {
            Ok(Some(bytes)) => out.push((inv.workdir.shown(&e.path()), bytes)),
            Ok(None) => {} // a live session's: kept
            Err(err) => return Err(CommandError(format!("removing {text}: {err}"))),
        }
    }
    out.sort();
    Ok(out
        .into_iter()
        .map(|(p, b)| {
            Record::new("Azs.Support.WorkingDirectoryRemoval")
                .with("ComputerName", &pep)
                .with("Path", p)
                .with("BytesFreed", b)
                .into()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::artefacts::testing::{cn, env, get, ok, run};
    use super::super::testing::default_stamp;
    use super::super::Mode;
    use super::*;

    use crate::host::simulated::tools::sanitise;

    #[test]
    fn copy_files_sanitised_placeholders() {
        let e = env();
        let mut s = default_stamp();
        let x = run(
            &e,
            &mut s,
            copy_files,
            &[cn("AZS-ERCS01"), ("Path", r"C:\Windows".into())],
            Mode::Execute,
        )
        .expect_err("subfolders only");
        assert!(x.0.contains("-Recurse"), "{x}");
        let out = ok(
            &e,
            &mut s,
            copy_files,
            &[
                cn("AZS-ERCS01"),
                ("Path", r"C:\".into()),
                ("Recurse", true.into()),
            ],
        );
        assert_eq!(out.len(), 2);
        let dest: Vec<String> = out.iter().map(|r| get(r, "Destination")).collect();
        assert!(
            dest.contains(&"AZS-ERCS01/C_MASLogs_ERCSDeploy.log".to_string()),
            "{dest:?}"
        );
        let text = fs::read_to_string(e.wd.resolve(&dest[0]).expect("resolve")).expect("copy");
        assert!(
            text.contains("SIMULATED COPY") && text.contains("SizeBytes:"),
            "{text}"
        );
        assert_eq!(sanitise(r"C:\a b\..x\y"), "C_a_b_..x_y");
    }

    #[test]
    fn parent_cleanup_keeps_current_and_recent() {
        let e = env();
        let mut s = default_stamp();
        let root = e.wd.ensure().expect("ensure").to_path_buf();
        let parent = root.parent().expect("parent").to_path_buf();
        let old = parent.join("20200101T000000Z-old1");
        fs::create_dir_all(old.join("sub")).expect("mk");
        fs::write(old.join("sub/f"), b"12345").expect("w");
        let recent_name = format!("{}-new1", Utc::now().format("%Y%m%dT%H%M%SZ"));
        fs::create_dir_all(parent.join(&recent_name)).expect("mk");
        fs::create_dir_all(parent.join("keepme")).expect("mk");
        fs::write(parent.join("20200101T000000Z-file"), b"x").expect("w");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&old, parent.join("20200101T000000Z-link")).expect("ln");
        // Another session, still live, whose directory is as old as the stale one.
        let started = chrono::DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
            .expect("date")
            .with_timezone(&Utc);
        let live = e.wd.parent().session(started, "live1");
        live.write_new("keep.txt", b"mine").expect("live write");
        let out = ok(&e, &mut s, clear_parent_working_directory, &[]);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(
            live.path().join("keep.txt").exists(),
            "a live session's directory is never removed"
        );
        assert_eq!(get(&out[0], "BytesFreed"), "5");
        assert!(!old.exists());
        assert!(
            parent.join(recent_name).exists() && parent.join("keepme").exists() && root.exists()
        );
        assert!(parent.join("20200101T000000Z-file").exists());
        let none = ok(
            &e,
            &mut s,
            clear_parent_working_directory,
            &[("ComputerName", vec!["AZS-HOST01"].into())],
        );
        assert!(none.is_empty());
        let e0 = run(
            &e,
            &mut s,
            clear_parent_working_directory,
            &[("OlderThanDays", 0i64.into())],
            Mode::Execute,
        )
        .expect_err("at least one day");
        assert!(e0.0.contains("at least 1"), "{e0}");
        drop(live);
        let out = ok(&e, &mut s, clear_parent_working_directory, &[]);
        assert_eq!(
            out.len(),
            1,
            "an ended session's old directory goes: {out:?}"
        );
        assert!(workdir_time("20261120T101500Z-abc").is_some());
        assert!(workdir_time("2026-11-20").is_none());
    }
}

/// Folder sizes and copies on the real machine, its read roots pointed at temporary folders.
#[cfg(test)]
mod real_machine_tests {
    use super::super::hosts;
    use super::super::testing::{prop as get, RealMachine};
    use super::*;
    use crate::host::linux::tools::destination_of;
    use std::os::unix::fs::symlink;

    type Machine = RealMachine;

    /// The `linux` stamp whose machine reads beneath `<tmp>/read` only (and removes nothing),
    /// and a working directory of `quota` bytes.
    fn machine(quota: u64) -> Machine {
        let m = RealMachine::new(quota, Some(&["read"]), Some(&[]));
        fs::create_dir_all(m.base.join("outside")).expect("mk");
        fs::write(m.base.join("outside/secret"), b"not yours").expect("w");
        m
    }

    fn plant(m: &Machine) {
        fs::create_dir_all(m.base.join("read/app/deep")).expect("mk");
        fs::create_dir_all(m.base.join("read/empty")).expect("mk");
        fs::write(m.base.join("read/app/a.log"), vec![b'a'; 3000]).expect("w");
        fs::write(m.base.join("read/app/deep/b.log"), vec![b'b'; 2000]).expect("w");
        fs::write(m.base.join("read/top.log"), vec![b't'; 100]).expect("w");
        symlink("/etc", m.base.join("read/etc")).expect("ln");
        symlink("../outside", m.base.join("read/out")).expect("ln");
    }

    #[test]
    fn folder_sizes_of_the_machine_are_what_is_on_disk() {
        let mut m = machine(1 << 20);
        plant(&m);
        let rows = m
            .exec(hosts::get_folder_size, &[("Path", m.path("read").into())])
            .result
            .expect("sizes");
        let got: Vec<(String, String, String)> = rows
            .iter()
            .map(|r| (get(r, "Path"), get(r, "SizeBytes"), get(r, "FileCount")))
            .collect();
        assert_eq!(
            got,
            [
                (m.path("read/app"), "5000".into(), "2".into()),
                (m.path("read/top.log"), "100".into(), "1".into()),
                (m.path("read/empty"), "0".into(), "0".into()),
            ],
            "links are neither followed nor counted"
        );
        assert!(!get(&rows[0], "LastWriteTimeUtc").is_empty());
        for (path, want) in [
            (m.path("read/etc"), "leads outside"),
            (m.path("read/etc/ssh"), "leads outside"),
            (m.path("read/out/secret"), "leads outside"),
            (m.path("read/../outside"), "'..'"),
            (m.path("outside"), "not beneath"),
            ("/etc".to_string(), "not beneath"),
            (r"C:\Windows".to_string(), "absolute path"),
        ] {
            let e = m
                .exec(hosts::get_folder_size, &[("Path", path.as_str().into())])
                .result
                .expect_err("refused");
            assert!(e.0.contains(want), "{path}: {e}");
            assert!(!e.0.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn a_copy_lands_in_the_working_directory_charged_to_its_quota() {
        let mut m = machine(1 << 20);
        plant(&m);
        let out = m
            .exec(copy_files, &[("Path", m.path("read/app").into())])
            .result
            .expect("copied");
        assert_eq!(out.len(), 1, "without -Recurse only the folder's own files");
        let dest = get(&out[0], "Destination");
        let want = format!(
            "{}/{}",
            m.host,
            destination_of(&m.base.join("read/app/a.log"))
        );
        assert_eq!(dest, want);
        assert_eq!(get(&out[0], "Length"), "3000");
        assert_eq!(
            fs::read(m.wd.path().join(&dest)).expect("copy"),
            vec![b'a'; 3000]
        );
        assert_eq!(m.wd.used_bytes().expect("used"), 3000);
        let all = m
            .exec(
                copy_files,
                &[("Path", m.path("read").into()), ("Recurse", true.into())],
            )
            .result
            .expect("copied");
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(all.iter().all(|r| !get(r, "Source").contains("secret")));
        assert!(all.iter().all(|r| !get(r, "Source").contains("/etc/")));
        // A second copy of a.log kept both.
        assert_eq!(m.wd.used_bytes().expect("used"), 3000 + 5100);
        let files = m.wd.files(true).expect("files");
        assert_eq!(files.len(), 4, "{files:?}");
        // Refused: a link out, a file outside the roots; nothing copied.
        for path in [
            m.path("read/etc/passwd"),
            m.path("read/out/secret"),
            m.path("outside/secret"),
        ] {
            let e = m
                .exec(copy_files, &[("Path", path.as_str().into())])
                .result
                .expect_err("refused");
            assert!(e.0.contains("refusing"), "{path}: {e}");
        }
        assert_eq!(m.wd.files(true).expect("files").len(), 4);
    }

    #[test]
    fn a_copy_past_the_quota_is_refused_and_leaves_nothing() {
        let mut m = machine(4000);
        plant(&m);
        fs::write(m.base.join("read/huge"), vec![0u8; 5000]).expect("w");
        let e = m
            .exec(copy_files, &[("Path", m.path("read/huge").into())])
            .result
            .expect_err("over quota");
        assert!(
            e.0.contains("larger than the working directory quota"),
            "{e}"
        );
        let e = m
            .exec(
                copy_files,
                &[
                    ("Path", m.path("read/app").into()),
                    ("Recurse", true.into()),
                ],
            )
            .result
            .expect_err("over quota together");
        assert!(
            e.0.contains("would pass the working directory quota"),
            "{e}"
        );
        assert!(m.wd.files(true).expect("files").is_empty());
        assert_eq!(m.wd.used_bytes().expect("used"), 0);
        // What fits is still copied, and then the room left counts.
        m.exec(copy_files, &[("Path", m.path("read/app/a.log").into())])
            .result
            .expect("fits");
        let e = m
            .exec(
                copy_files,
                &[("Path", m.path("read/app/deep/b.log").into())],
            )
            .result
            .expect_err("no room left");
        assert!(e.0.contains("3000 bytes used"), "{e}");
        assert_eq!(m.wd.files(true).expect("files").len(), 1);
    }

    #[test]
    fn linux_paths_pass_the_catalog_pattern_but_dot_segments_do_not() {
        let all = crate::catalog::all_embedded_commands().expect("catalog");
        for cmd in [
            "Copy-AzsSupportFiles",
            "Get-AzsSupportFolderSize",
            "Remove-AzsSupportItem",
            "Remove-AzsSupportItemByStopService",
        ] {
            let (re, _) = all
                .iter()
                .find(|c| c.name == cmd)
                .and_then(|c| c.param("Path"))
                .and_then(|p| p.validate_pattern.clone())
                .expect("pattern");
            for ok in [
                "/var/log",
                "/var/log/syslog.1",
                "/var/crash/",
                r"C:\MASLogs",
            ] {
                assert!(re.is_match(ok), "{cmd} refuses {ok}");
            }
            for bad in [
                "/var/log/../../etc",
                "/var/./log",
                "/",
                "var/log",
                "//x",
                "/var/log/a\nb",
                "/var/log/$(id)",
                "/var/log/*",
            ] {
                assert!(!re.is_match(bad), "{cmd} accepts {bad:?}");
            }
        }
    }
}
