//! Files collected from the simulated nodes of the stamp, and the working directories they were
//! collected into: Copy-AzsSupportFiles and Clear-AzsSupportParentWorkingDirectory.
//!
//! Simulated files have no contents, so each copy is a placeholder text (see `artefacts`) naming
//! the file it stands for, in `<workdir>/<NODE>/`. Old sibling working directories are real
//! directories on this machine, removed for real.

use super::hosts::{computer, path_under, select_nodes};
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
