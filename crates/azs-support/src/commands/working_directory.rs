//! The working-directory family: Get-AzsSupportWorkingDirectory, Get-AzsSupportWorkingDirectoryFiles,
//! Clear-AzsSupportWorkingDirectory and Save-AzsSupportObjectToFile.

use super::{CommandError, Invocation, Table};
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Get-AzsSupportWorkingDirectory", get_working_directory),
    ("Get-AzsSupportWorkingDirectoryFiles", get_files),
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

/// Clear-AzsSupportWorkingDirectory: empties the working directory.
pub fn clear(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let (files, bytes) = inv.workdir.clear()?;
    Ok(vec![Record::new("Azs.Support.WorkingDirectoryCleanup")
        .with("Path", inv.workdir.shown(inv.workdir.path()))
        .with("FilesRemoved", files)
        .with("BytesFreed", bytes)
        .into()])
}

/// Save-AzsSupportObjectToFile -FilePrefix P [-FileFormat json|csv|txt]: writes the piped
/// objects to `P_<yyyyMMdd-HHmmss>.<ext>` in the working directory.
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
        other => {
            return Err(CommandError(format!(
                "-FileFormat '{other}' is not supported; use json, csv or txt"
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
        for fmt in ["json", "csv", "txt"] {
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
        assert_eq!(get_files(&mut inv).expect("files").len(), 3);
        clear(&mut inv).expect("clear");
        assert!(get_files(&mut inv).expect("files").is_empty());
    }
}
