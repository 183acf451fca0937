//! Files collected from the nodes of the stamp, and the working directories they were collected
//! into: Copy-AzsSupportFiles and Clear-AzsSupportParentWorkingDirectory.
//!
//! Simulated files have no contents, so each copy is a placeholder text (see `artefacts`) naming
//! the file it stands for, in `<workdir>/<NODE>/`. On the real machine the files beneath its read
//! roots (`host::linux::file_ops::CopyPlan`) are copied for real into `<workdir>/<NODE>/<path>`,
//! each charged to the working directory's quota before it is written and copied no further than
//! the size it was listed with; a copy that would pass the quota is refused before anything is
//! written, and a copy that fails half-way leaves nothing behind. Old sibling working
//! directories are real directories on this machine, removed for real.

use super::hosts::{computer, path_under, select_nodes};
use super::machine_tools::real_target;
use super::{CommandError, Invocation, Table};
use crate::host::linux::file_ops::CopyPlan;
use crate::stamp::Node;
use crate::value::{Record, Value};
use crate::workdir::WorkingDirectory;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Copy-AzsSupportFiles", copy_files),
    (
        "Clear-AzsSupportParentWorkingDirectory",
        clear_parent_working_directory,
    ),
];

/// A Windows path as a plain file name: `C:\MASLogs\a.log` → `C_MASLogs_a.log`.
fn sanitise(path: &str) -> String {
    let s: String = path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '(' | ')') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.replace("__", "_");
    let s = s.trim_start_matches(['.', '_']).to_string();
    if s.is_empty() {
        "file".into()
    } else {
        s
    }
}

/// Copy-AzsSupportFiles -ComputerName -Path [-Recurse]: copies node files into
/// `<workdir>/<NODE>/`; simulated files have no content, so each copy is a placeholder text.
pub fn copy_files(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    if let Some(n) = real_target(inv) {
        return copy_real_files(inv, &n);
    }
    let n = computer(inv)?;
    let path = inv.args.str("Path").unwrap_or_default();
    let base = path.trim_end_matches('\\');
    let recurse = inv.args.switch("Recurse");
    let files: Vec<_> = n
        .files
        .iter()
        .filter(|f| {
            f.path.eq_ignore_ascii_case(base)
                || (path_under(&f.path, base)
                    && (recurse || !f.path[base.len() + 1..].contains('\\')))
        })
        .collect();
    if files.is_empty() {
        return Err(CommandError(format!(
            "Cannot find path '{path}' on {} because it does not exist (or it holds only subfolders: add -Recurse)",
            n.name
        )));
    }
    let mut out: Vec<Value> = Vec::new();
    for f in files {
        let text = format!(
            "pep SIMULATED COPY: the simulated node has no file contents; this placeholder stands for the file.\n\
             Node: {}\nPath: {}\nSizeBytes: {}\nLastWriteTimeUtc: {}\n",
            n.name,
            f.path,
            f.size_bytes,
            f.modified.map(|t| t.to_rfc3339()).unwrap_or_default()
        );
        let wanted = format!("{}/{}", n.name, sanitise(&f.path));
        let written = inv
            .workdir
            .write_keeping(&wanted, inv.now, text.as_bytes())?;
        let rel = inv.workdir.shown(&written);
        out.push(
            Record::new("Azs.Support.CopiedFile")
                .with("ComputerName", &n.name)
                .with("Source", &f.path)
                .with("Destination", rel)
                .with("Length", text.len() as u64)
                .with(
                    "Note",
                    format!(
                        "simulated node: placeholder text for a {}-byte file",
                        f.size_bytes
                    ),
                )
                .into(),
        );
    }
    out.sort_by_key(Value::to_display);
    Ok(out)
}

/// A machine path as a path in the working directory: `/var/log/a b.1` → `var/log/a_b.1`
/// (characters outside a safe set become `_`).
fn destination_of(path: &Path) -> String {
    path.components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_string_lossy()),
            _ => None,
        })
        .map(|n| {
            n.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@' | '+' | ',') {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Creates a new private file at `rel` in the working directory (parents 0700, the file 0600,
/// never replacing one): when the name is taken, the name stamped with `now`.
fn create_in_workdir(
    wd: &WorkingDirectory,
    rel: &str,
    now: DateTime<Utc>,
) -> Result<(PathBuf, fs::File), String> {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    let dir = &rel[..rel.len() - file.len()];
    let (stem, ext) = match file.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
        _ => (file, String::new()),
    };
    let stamped = format!("{dir}{stem}_{}", now.format("%Y%m%d-%H%M%S%.3f"));
    let mut candidates = vec![rel.to_string(), format!("{stamped}{ext}")];
    candidates.extend((2..=99).map(|n| format!("{stamped}-{n}{ext}")));
    for name in candidates {
        let target = wd.resolve(&name).map_err(|e| e.to_string())?;
        if let Some(parent) = target.parent() {
            let mut b = fs::DirBuilder::new();
            b.recursive(true);
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(parent)
                .map_err(|e| format!("working directory: {e}"))?;
        }
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(&target) {
            Ok(f) => return Ok((target, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("working directory: {e}")),
        }
    }
    Err(format!("working directory: no free name for {rel}"))
}

/// Copies one planned file: its listed size is reserved against the quota first, then at most
/// that many bytes are copied (a file that grew is cut at its listed size; one that shrank gives
/// the difference back). Returns where it landed and the bytes copied; on failure nothing of it
/// is left. Also returns the file's size when opened.
fn copy_one(
    inv: &Invocation<'_>,
    node: &Node,
    plan: &CopyPlan,
    rel: &Path,
    source: &Path,
    listed: u64,
) -> Result<(PathBuf, u64, u64), String> {
    let (src, size_now) = plan.open(rel)?;
    inv.workdir.reserve(listed).map_err(|e| e.to_string())?;
    let wanted = format!("{}/{}", node.name, destination_of(source));
    let (dest, mut out) = match create_in_workdir(inv.workdir, &wanted, inv.now) {
        Ok(x) => x,
        Err(e) => {
            inv.workdir.unreserve(listed);
            return Err(e);
        }
    };
    match io::copy(&mut src.take(listed), &mut out) {
        Ok(copied) => {
            inv.workdir.unreserve(listed - copied.min(listed));
            Ok((dest, copied, size_now))
        }
        Err(e) => {
            drop(out);
            let _ = fs::remove_file(&dest);
            inv.workdir.unreserve(listed);
            Err(format!("copying {}: {e}", source.display()))
        }
    }
}

/// Copy-AzsSupportFiles on the real machine: the regular files at -Path (beneath the node's
/// read roots; a folder's files, its subfolders' too with -Recurse) into
/// `<workdir>/<NODE>/<path>`. Refused before anything is written when one file is larger than
/// the quota or all of them would pass what is left of it.
fn copy_real_files(inv: &mut Invocation<'_>, node: &Node) -> Result<Vec<Value>, CommandError> {
    let path = inv.args.str("Path").unwrap_or_default().to_string();
    let recurse = inv.args.switch("Recurse");
    let plan = CopyPlan::new(&path, &node.read_roots, recurse).map_err(CommandError)?;
    if plan.files.is_empty() {
        return Err(CommandError(format!(
            "no file to copy at '{path}' on {} (a folder of subfolders only needs -Recurse)",
            node.name
        )));
    }
    let quota = inv.workdir.quota_bytes();
    if let Some((_, big)) = plan.files.iter().find(|(_, it)| it.bytes > quota) {
        return Err(CommandError(format!(
            "'{}' is {} bytes, larger than the working directory quota of {quota} bytes; nothing was copied",
            big.path.display(),
            big.bytes
        )));
    }
    let total: u64 = plan.files.iter().map(|(_, it)| it.bytes).sum();
    let used = inv.workdir.used_bytes()?;
    if used.saturating_add(total) > quota {
        return Err(CommandError(format!(
            "copying {} file(s), {total} bytes, would pass the working directory quota of {quota} bytes ({used} bytes used); nothing was copied: name fewer files or clear the working directory",
            plan.files.len()
        )));
    }
    let mut done: Vec<(PathBuf, u64)> = Vec::new();
    let mut out = Vec::new();
    for (rel, it) in &plan.files {
        match copy_one(inv, node, &plan, rel, &it.path, it.bytes) {
            Ok((dest, copied, size_now)) => {
                let mut r = Record::new("Azs.Support.CopiedFile")
                    .with("ComputerName", &node.name)
                    .with("Source", it.path.display().to_string())
                    .with("Destination", inv.workdir.shown(&dest))
                    .with("Length", copied);
                if copied < it.bytes {
                    r = r.with("Note", "the file shrank while it was copied");
                } else if size_now > copied {
                    r = r.with(
                        "Note",
                        format!("the file grew while it was copied: its first {copied} bytes were copied"),
                    );
                }
                done.push((dest, copied));
                out.push(Value::from(r));
            }
            Err(e) => {
                for (dest, bytes) in done {
                    let _ = fs::remove_file(&dest);
                    inv.workdir.unreserve(bytes);
                }
                return Err(CommandError(format!("{e}; nothing of this copy was kept")));
            }
        }
    }
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
