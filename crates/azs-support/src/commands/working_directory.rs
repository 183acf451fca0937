//! The working-directory family: Get-AzsSupportWorkingDirectory, Get-AzsSupportWorkingDirectoryFiles,
//! Clear-AzsSupportWorkingDirectory and Save-AzsSupportObjectToFile.

use super::{CommandError, Invocation, Table};
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Get-AzsSupportWorkingDirectory", get_working_directory),
    ("Get-AzsSupportWorkingDirectoryFiles", get_files),
    (
        "Get-AzsSupportWorkingDirectoryFileContent",
        get_file_content,
    ),
    ("Clear-AzsSupportWorkingDirectory", clear),
    ("Save-AzsSupportObjectToFile", save_object_to_file),
];

/// Get-AzsSupportWorkingDirectory: the session's working directory (created on first use).
pub fn get_working_directory(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let path = inv.workdir.ensure()?;
    Ok(vec![Value::String(inv.workdir.shown(path))])
}

/// Get-AzsSupportWorkingDirectoryFiles [-Filter] [-Recurse].
pub fn get_files(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let filter = inv.args.str("Filter").unwrap_or("*");
    let files = inv.workdir.files(inv.args.switch("Recurse"))?;
    Ok(files
        .into_iter()
        .filter(|f| wildcard_match(filter, &f.name))
        .map(|f| {
            Record::new("Azs.Support.WorkingDirectoryFile")
                .with("Name", f.name)
                .with("RelativePath", f.relative_path)
                .with("Length", f.length)
                .with("LastWriteTimeUtc", f.modified)
                .into()
        })
        .collect())
}

/// Lines returned when neither -Tail nor -TotalCount is given.
const DEFAULT_MAX_LINES: usize = 10_000;
/// Bytes of a file read at most (the tail of a larger file with -Tail, else its head).
const MAX_READ_BYTES: u64 = 16 << 20;

/// Get-AzsSupportWorkingDirectoryFileContent -Path [-Tail N | -TotalCount N]: the file's lines,
/// read beneath the working directory only.
pub fn get_file_content(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    use std::io::{Read, Seek, SeekFrom};
    let rel = inv.args.str("Path").unwrap_or_default().to_string();
    let tail = inv.args.int("Tail").map(|n| n.max(0) as usize);
    let head = inv.args.int("TotalCount").map(|n| n.max(0) as usize);
    if tail.is_some() && head.is_some() {
        return Err(CommandError("give -Tail or -TotalCount, not both".into()));
    }
    let path = inv.workdir.resolve(&rel)?;
    let meta = std::fs::symlink_metadata(&path).map_err(|_| {
        CommandError(format!(
            "no file '{}' in the working directory (Get-AzsSupportWorkingDirectoryFiles -Recurse lists them)",
            crate::escape::escape_text(&rel)
        ))
    })?;
    if !meta.is_file() {
        return Err(CommandError(format!(
            "'{}' is not a file",
            crate::escape::escape_text(&rel)
        )));
    }
    let mut f = std::fs::File::open(&path).map_err(|e| CommandError(format!("{rel}: {e}")))?;
    let len = meta.len();
    let from_end = tail.is_some() && len > MAX_READ_BYTES;
    if from_end {
        f.seek(SeekFrom::Start(len - MAX_READ_BYTES))
            .map_err(|e| CommandError(format!("{rel}: {e}")))?;
    }
    let mut bytes = Vec::new();
    f.take(MAX_READ_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| CommandError(format!("{rel}: {e}")))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    if from_end && !lines.is_empty() {
        lines.remove(0); // the first line read from the middle is partial
    }
    let shown = |l: &&str| Value::String(crate::escape::escape_text(l));
    Ok(match (tail, head) {
        (Some(n), _) => lines[lines.len().saturating_sub(n)..]
            .iter()
            .map(shown)
            .collect(),
        (_, Some(n)) => lines.iter().take(n).map(shown).collect(),
        _ => {
            let mut out: Vec<Value> = lines.iter().take(DEFAULT_MAX_LINES).map(shown).collect();
            if lines.len() > DEFAULT_MAX_LINES {
                out.push(Value::String(format!(
                    "... {} more lines; use -Tail or -TotalCount",
                    lines.len() - DEFAULT_MAX_LINES
                )));
            }
            out
        }
    })
}

/// Clear-AzsSupportWorkingDirectory: empties the working directory.
pub fn clear(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let (files, bytes) = inv.workdir.clear()?;
    Ok(vec![Record::new("Azs.Support.WorkingDirectoryCleanup")
        .with("Path", inv.workdir.shown(inv.workdir.path()))
        .with("FilesRemoved", files)
        .with("BytesFreed", bytes)
        .into()])
}

/// Save-AzsSupportObjectToFile -FilePrefix P [-FileFormat json|csv|txt|xml]: writes the piped
/// objects to `P_<yyyyMMdd-HHmmss>.<ext>` in the working directory (xml: PowerShell's CliXml,
/// as Export-Clixml writes it).
pub fn save_object_to_file(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let prefix = inv
        .args
        .str("FilePrefix")
        .ok_or_else(|| CommandError("-FilePrefix is required".into()))?;
    let format = inv
        .args
        .str("FileFormat")
        .unwrap_or("json")
        .to_ascii_lowercase();
    if inv.input.is_empty() {
        return Err(CommandError(
            "Save-AzsSupportObjectToFile needs objects piped into it, e.g. Get-AzsSupportClusterResource | Save-AzsSupportObjectToFile -FilePrefix resources".into(),
        ));
    }
    let bytes = match format.as_str() {
        "json" => to_json(&inv.input)?,
        "csv" => to_csv(&inv.input)?,
        "txt" => to_txt(&inv.input),
        "xml" => crate::clixml::to_clixml(&inv.input).into_bytes(),
        other => {
            return Err(CommandError(format!(
                "-FileFormat '{other}' is not supported; use json, csv, txt or xml"
            )))
        }
    };
    let name = format!("{prefix}_{}.{format}", inv.now.format("%Y%m%d-%H%M%S%.3f"));
    let path = inv.workdir.write_new(&name, &bytes)?;
    Ok(vec![Record::new("Azs.Support.SavedFile")
        .with("Path", inv.workdir.shown(&path))
        .with("Format", format)
        .with("Objects", inv.input.len() as u64)
        .with("Length", bytes.len() as u64)
        .into()])
}

fn to_json(values: &[Value]) -> Result<Vec<u8>, CommandError> {
    let doc = if values.len() == 1 {
        values[0].to_json()
    } else {
        serde_json::Value::Array(values.iter().map(Value::to_json).collect())
    };
    let mut out = serde_json::to_vec_pretty(&doc).map_err(|e| CommandError(e.to_string()))?;
    out.push(b'\n');
    Ok(out)
}

fn to_csv(values: &[Value]) -> Result<Vec<u8>, CommandError> {
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new());
    let header: Vec<String> = match values.first() {
        Some(Value::Record(r)) => r.props.iter().map(|(k, _)| k.clone()).collect(),
        _ => vec!["Value".into()],
    };
    let err = |e: csv::Error| CommandError(format!("writing CSV: {e}"));
    w.write_record(&header).map_err(err)?;
    for v in values {
        let row: Vec<String> = match v {
            Value::Record(r) => header
                .iter()
                .map(|h| r.get(h).map(Value::to_display).unwrap_or_default())
                .collect(),
            other => vec![other.to_display()],
        };
        w.write_record(&row).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| CommandError(format!("writing CSV: {e}")))
}

fn to_txt(values: &[Value]) -> Vec<u8> {
    let mut out = String::new();
    for v in values {
        match v {
            Value::Record(r) => {
                let width = r.props.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
                for (k, val) in &r.props {
                    out.push_str(&format!("{k:<width$} : {}\n", val.to_display()));
                }
                out.push('\n');
            }
            other => {
                out.push_str(&other.to_display());
                out.push('\n');
            }
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::super::{Mode, StampAccess};
    use super::*;
    use crate::args::BoundArgs;
    use crate::stamp::Stamp;
    use crate::workdir::WorkingDirectory;
    use chrono::Utc;

    #[test]
    fn save_then_list_then_clear() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let wd = WorkingDirectory::new(tmp.path(), Utc::now(), "t", 1 << 20);
        let stamp = Stamp::default_stamp().expect("stamp");
        for fmt in ["json", "csv", "txt", "xml"] {
            let mut args = BoundArgs::new();
            args.insert("FilePrefix", "res".into());
            args.insert("FileFormat", fmt.into());
            let input = vec![Record::new("T")
                .with("Name", "a,\"b\"")
                .with("N", 1i64)
                .into()];
            let mut inv = Invocation::new(
                &args,
                input,
                StampAccess::Read(&stamp),
                &wd,
                Utc::now(),
                Mode::Execute,
            );
            let out = save_object_to_file(&mut inv).expect("saved");
            let path = out[0]
                .as_record()
                .and_then(|r| r.get("Path"))
                .map(Value::to_display)
                .expect("path");
            assert!(!path.starts_with('/'), "relative: {path}");
            let text = std::fs::read_to_string(wd.path().join(&path)).expect("read back");
            match fmt {
                "json" => assert!(text.contains("\"Name\": \"a,\\\"b\\\"\""), "{text}"),
                "csv" => assert!(
                    text.starts_with("\"Name\",\"N\"\n\"a,\"\"b\"\"\",\"1\""),
                    "{text}"
                ),
                "xml" => assert!(
                    text.contains("<Objs Version=\"1.1.0.1\"")
                        && text.contains("<S N=\"Name\">a,&quot;b&quot;</S>")
                        && text.contains("<I64 N=\"N\">1</I64>"),
                    "{text}"
                ),
                _ => assert!(text.contains("Name : a,\"b\""), "{text}"),
            }
        }
        let args = BoundArgs::new();
        let mut inv = Invocation::new(
            &args,
            vec![],
            StampAccess::Read(&stamp),
            &wd,
            Utc::now(),
            Mode::Execute,
        );
        assert_eq!(get_files(&mut inv).expect("files").len(), 4);
        clear(&mut inv).expect("clear");
        assert!(get_files(&mut inv).expect("files").is_empty());
    }

    #[test]
    fn file_content_reads_back_lines_beneath_the_directory_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let wd = WorkingDirectory::new(tmp.path(), Utc::now(), "t", 1 << 20);
        let mut stamp = Stamp::default_stamp().expect("stamp");
        wd.write_new("log.txt", b"one\ntwo\nthree\n")
            .expect("write");
        let run = |args: &[(&str, Value)], stamp: &mut Stamp| {
            super::super::testing::run_in(&wd, stamp, get_file_content, args, false, Mode::Execute)
                .result
        };
        let all = run(&[("Path", "log.txt".into())], &mut stamp).expect("read");
        assert_eq!(all.len(), 3);
        let tail = run(
            &[("Path", "log.txt".into()), ("Tail", 2i64.into())],
            &mut stamp,
        )
        .expect("tail");
        let tail: Vec<String> = tail.iter().map(Value::to_display).collect();
        assert_eq!(tail, ["two", "three"]);
        let head = run(
            &[("Path", "log.txt".into()), ("TotalCount", 1i64.into())],
            &mut stamp,
        )
        .expect("head");
        assert_eq!(head.len(), 1);
        let e = run(&[("Path", "../../etc/passwd".into())], &mut stamp).expect_err("escape");
        assert!(e.0.contains("'..' is not allowed"), "{}", e.0);
        let e = run(&[("Path", "nope.txt".into())], &mut stamp).expect_err("missing");
        assert!(e.0.starts_with("no file 'nope.txt'"), "{}", e.0);
        std::os::unix::fs::symlink("/etc/passwd", wd.path().join("link")).expect("symlink");
        assert!(
            run(&[("Path", "link".into())], &mut stamp).is_err(),
            "symlinks refused"
        );
    }
}
