//! The test harness the node-tool families (`traces`, `diagnostic_tools`, `file_collection`)
//! share: their tests read back what a tool wrote, so they run in one working directory.

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
