//! The placeholder artefacts the node-tool families (`traces`, `diagnostic_tools`,
//! `file_collection`) write for the simulated nodes of the stamp, and the test harness they share.
//!
//! Simulated nodes have no packets, memory or file contents, so every artefact those families
//! write is a small placeholder that says it is simulated (node, process or file it stands for).
//! Everything lands in the session's working directory through `write_new` (path-checked,
//! quota-enforced). This file owns the note placeholders carry, the time stamp in their file names
//! and the placeholder process dump (Invoke-AzsSupportProcDump writes one, and so does
//! Invoke-AzsSupportWmiTracing with `-IncludeDumps`).

use super::{CommandError, Invocation};
use crate::stamp::Process;
use chrono::{DateTime, Utc};

/// The note a placeholder artefact carries.
pub(super) const SIMULATED: &str = "simulated node: placeholder file, no real data was captured";

/// A time as it appears in artefact file names (`20261120T101500123Z`).
pub(super) fn stamp_time(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%S%3fZ").to_string()
}

/// Writes the placeholder dump of process `p` of `node` to
/// `<workdir>/dumps/<node>_<name>_<pid>.dmp`; returns its path and length.
pub(super) fn write_dump(
    inv: &Invocation<'_>,
    node: &str,
    p: &Process,
) -> Result<(String, u64), CommandError> {
    let text = format!(
        "pep SIMULATED DUMP: not a memory image (simulated nodes have no process memory)\n\
         Node: {node}\nProcess: {}\nProcessId: {}\nWorkingSetMB: {}\nService: {}\nTaken: {}\n",
        p.name,
        p.id,
        p.working_set_mb,
        p.service,
        inv.now.to_rfc3339()
    );
    let rel = format!("dumps/{node}_{}_{}.dmp", p.name, p.id);
    let path = inv.workdir.write_keeping(&rel, inv.now, text.as_bytes())?;
    Ok((inv.workdir.shown(&path), text.len() as u64))
}

/// Test support: the node tools read back what they wrote, so a test runs them in one working
/// directory ([`Env`]) with write access to the stamp.
#[cfg(test)]
pub(crate) mod testing {
    use super::super::testing::run_in;
    use super::super::{CommandError, Implementation, Mode};
    use crate::stamp::Stamp;
    use crate::value::Value;
    use crate::workdir::WorkingDirectory;
    use chrono::Utc;

    /// A working directory that lives as long as the test.
    pub(crate) struct Env {
        _tmp: tempfile::TempDir,
        pub(crate) wd: WorkingDirectory,
    }

    pub(crate) fn env() -> Env {
        let tmp = tempfile::tempdir().expect("tmp");
        let wd = WorkingDirectory::new(tmp.path(), Utc::now(), "cur", 1 << 20);
        Env { _tmp: tmp, wd }
    }

    pub(crate) fn run(
        e: &Env,
        s: &mut Stamp,
        f: Implementation,
        args: &[(&str, Value)],
        mode: Mode,
    ) -> Result<Vec<Value>, CommandError> {
        run_in(&e.wd, s, f, args, true, mode).result
    }

    pub(crate) fn ok(
        e: &Env,
        s: &mut Stamp,
        f: Implementation,
        args: &[(&str, Value)],
    ) -> Vec<Value> {
        run(e, s, f, args, Mode::Execute).unwrap_or_else(|x| panic!("{x}"))
    }

    pub(crate) use super::super::testing::prop as get;

    pub(crate) fn cn(n: &str) -> (&'static str, Value) {
        ("ComputerName", n.into())
    }
}
