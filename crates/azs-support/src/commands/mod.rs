//! Command implementations and the registry that maps a catalog name to one.
//!
//! An implementation is a plain function from an [`Invocation`] (bound arguments, piped input,
//! the stamp, the session's working directory, the clock, the mode) to output values. It never
//! sees SSH, sessions or consent: gating happened before it was called.
//!
//! Each command family lives in its own file and lists its commands in a `COMMANDS` table; the
//! registry is the union of those tables. The server binds every catalog entry with
//! `handler = "stamp"` to its implementation here when it starts, and refuses to start when one
//! is missing or an implementation has no such entry.
//!
//! Commands that change things (`supports_should_process` in the catalog) follow PowerShell's
//! ShouldProcess pattern: validate with [`Invocation::stamp`], refuse what the real command would
//! refuse with a clear [`CommandError`], then ask [`Invocation::should_process`] and only if it
//! says yes change the stamp through [`Invocation::stamp_mut`]. Under `-WhatIf` (and when the
//! shell plans a confirmation) `should_process` records what would happen and says no.

#[cfg(test)]
mod artefacts;
mod azure_local;
mod azure_local_storage_compute;
mod break_glass;
mod cluster;
pub(crate) mod cluster_log;
mod cluster_repair;
mod compute;
mod diagnostic_tools;
mod disk_cleanup;
mod ece;
mod fabric;
mod fabric_repair;
mod file_collection;
mod host_repair;
pub(crate) mod hosts;
mod known_issues;
pub use known_issues::health_summary;
#[cfg(test)]
mod machine_tools;
mod network;
mod operator_stamp;
mod stamp_info;
mod storage;
mod storage_health;
mod traces;
mod working_directory;

use crate::args::BoundArgs;
use crate::host::{host_of, Acted, Call, Effect, Host};
use crate::stamp::Stamp;
use crate::value::Value;
use crate::workdir::{WorkdirError, WorkingDirectory};
use chrono::{DateTime, Utc};

/// How a changing command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Do it.
    Execute,
    /// `-WhatIf`: say what would happen, change nothing.
    WhatIf,
    /// The shell is about to ask for confirmation: validate and describe, change nothing.
    Plan,
}

/// Read or write access to the stamp.
pub enum StampAccess<'a> {
    /// Reads only.
    Read(&'a Stamp),
    /// Changes allowed (the shell holds the write lock and saves afterwards).
    Write(&'a mut Stamp),
}

/// Everything a command may use.
pub struct Invocation<'a> {
    /// The bound parameters.
    pub args: &'a BoundArgs,
    /// Records piped in (for commands with `pipeline_input`).
    pub input: Vec<Value>,
    /// The session's working directory.
    pub workdir: &'a WorkingDirectory,
    /// The current time.
    pub now: DateTime<Utc>,
    /// How a changing command runs.
    pub mode: Mode,
    stamp: StampAccess<'a>,
    effects: Vec<String>,
    changed: bool,
}

/// A command's failure, worded for the user (one line).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CommandError(pub String);

impl From<WorkdirError> for CommandError {
    fn from(e: WorkdirError) -> Self {
        CommandError(e.to_string())
    }
}

impl<'a> Invocation<'a> {
    /// An invocation.
    pub fn new(
        args: &'a BoundArgs,
        input: Vec<Value>,
        stamp: StampAccess<'a>,
        workdir: &'a WorkingDirectory,
        now: DateTime<Utc>,
        mode: Mode,
    ) -> Self {
        Invocation {
            args,
            input,
            workdir,
            now,
            mode,
            stamp,
            effects: Vec::new(),
            changed: false,
        }
    }

    /// The stamp, to read.
    pub fn stamp(&self) -> &Stamp {
        match &self.stamp {
            StampAccess::Read(s) => s,
            StampAccess::Write(s) => s,
        }
    }

    /// The stamp, to change (after [`Invocation::should_process`] said yes).
    pub fn stamp_mut(&mut self) -> Result<&mut Stamp, CommandError> {
        match &mut self.stamp {
            StampAccess::Write(s) => {
                self.changed = true;
                Ok(s)
            }
            StampAccess::Read(_) => Err(CommandError(
                "internal error: this command changes the stamp but was run read-only".into(),
            )),
        }
    }

    /// PowerShell's ShouldProcess: true when the action should be carried out now; otherwise
    /// records it (`What if: Performing the operation "<action>" on target "<target>".`).
    pub fn should_process(&mut self, target: &str, action: &str) -> bool {
        let what_if = self.mode != Mode::Execute;
        Call::new(self.workdir, self.now, what_if, &mut self.effects).should_process(target, action)
    }

    /// The host behind node `name` (a name the stamp lacks is an error naming some it has), to
    /// read its facts.
    pub fn host(&self, name: &str) -> Result<Box<dyn Host + '_>, CommandError> {
        let stamp = self.stamp();
        let node = hosts::require_node(stamp, name)?;
        Ok(host_of(stamp, node, self.now))
    }

    /// Runs `f` on the host behind node `name` with this invocation's [`Call`] (working
    /// directory, clock, ShouldProcess). An [`Effect::Change`] it answers with is applied to the
    /// stamp once the host has stopped reading it. `None`: ShouldProcess said no.
    pub fn act<T>(
        &mut self,
        name: &str,
        f: impl FnOnce(&dyn Host, &mut Call<'_>) -> Acted<T>,
    ) -> Result<Option<T>, CommandError> {
        let what_if = self.mode != Mode::Execute;
        let stamp: &Stamp = match &self.stamp {
            StampAccess::Read(s) => s,
            StampAccess::Write(s) => s,
        };
        let node = hosts::require_node(stamp, name)?;
        let host = host_of(stamp, node, self.now);
        let mut call = Call::new(self.workdir, self.now, what_if, &mut self.effects);
        let effect = f(host.as_ref(), &mut call).map_err(CommandError)?;
        drop(host);
        match effect {
            None => Ok(None),
            Some(Effect::Done(t)) => Ok(Some(t)),
            Some(Effect::Change(change)) => {
                change(self.stamp_mut()?).map(Some).map_err(CommandError)
            }
        }
    }

    /// Runs tool `f` (it writes into the working directory, never changes the stamp) on the host
    /// behind node `name`.
    pub fn run_tool<T>(
        &mut self,
        name: &str,
        f: impl FnOnce(&dyn Host, &mut Call<'_>) -> Result<T, String>,
    ) -> Result<T, CommandError> {
        self.act(name, |h, call| f(h, call).map(|t| Some(Effect::Done(t))))?
            .ok_or_else(|| CommandError("internal error: a tool was not run".into()))
    }

    /// Runs another command's implementation `f` as part of this one, on `args` — its own
    /// parameters (`BoundArgs::new()` for its defaults), not this command's, which it may not
    /// declare. What it would do and whether it changed the stamp count as this command's.
    pub fn call(
        &mut self,
        f: Implementation,
        args: &BoundArgs,
    ) -> Result<Vec<Value>, CommandError> {
        let stamp = match &mut self.stamp {
            StampAccess::Read(s) => StampAccess::Read(s),
            StampAccess::Write(s) => StampAccess::Write(s),
        };
        let mut inner = Invocation::new(args, Vec::new(), stamp, self.workdir, self.now, self.mode);
        let result = f(&mut inner);
        let (effects, changed) = (inner.effects, inner.changed);
        self.effects.extend(effects);
        self.changed |= changed;
        result
    }

    /// What `should_process` recorded.
    pub fn effects(&self) -> &[String] {
        &self.effects
    }

    /// Whether the stamp was changed.
    pub fn changed(&self) -> bool {
        self.changed
    }
}

/// A command implementation.
pub type Implementation = fn(&mut Invocation<'_>) -> Result<Vec<Value>, CommandError>;

/// A family's table: canonical catalog name and implementation.
pub type Table = &'static [(&'static str, Implementation)];

/// Names joined with ", ", for the errors that list what the stamp has.
pub(crate) fn join_names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

/// Every family's table.
const FAMILIES: &[Table] = &[
    working_directory::COMMANDS,
    stamp_info::COMMANDS,
    cluster::COMMANDS,
    storage::COMMANDS,
    storage_health::COMMANDS,
    fabric::COMMANDS,
    fabric_repair::COMMANDS,
    ece::COMMANDS,
    compute::COMMANDS,
    network::COMMANDS,
    hosts::COMMANDS,
    host_repair::COMMANDS,
    traces::COMMANDS,
    diagnostic_tools::COMMANDS,
    file_collection::COMMANDS,
    known_issues::COMMANDS,
    operator_stamp::COMMANDS,
    azure_local::COMMANDS,
    azure_local_storage_compute::COMMANDS,
    break_glass::COMMANDS,
];

/// The implementation of a catalog command, if it has one (case-insensitive name).
pub fn implementation(name: &str) -> Option<Implementation> {
    FAMILIES
        .iter()
        .flat_map(|t| t.iter())
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, f)| *f)
}

/// Names of every implemented command.
pub fn implemented_names() -> impl Iterator<Item = &'static str> {
    FAMILIES.iter().flat_map(|t| t.iter()).map(|(n, _)| *n)
}

/// Test support: run an implementation against a stamp in a temporary working directory.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Runs `f` with `args` (name, value pairs) read-only, or with write access when `write`.
    pub fn run_on(
        stamp: &mut Stamp,
        f: Implementation,
        args: &[(&str, Value)],
        write: bool,
    ) -> Result<Vec<Value>, CommandError> {
        run(stamp, f, args, write, Mode::Execute)
    }

    /// Runs `f` with write access in `mode`; outside `Execute` it must have recorded what it would
    /// do (for -WhatIf tests).
    pub fn run_mode(
        stamp: &mut Stamp,
        f: Implementation,
        args: &[(&str, Value)],
        mode: Mode,
    ) -> Result<Vec<Value>, CommandError> {
        run(stamp, f, args, true, mode)
    }

    fn run(
        stamp: &mut Stamp,
        f: Implementation,
        args: &[(&str, Value)],
        write: bool,
        mode: Mode,
    ) -> Result<Vec<Value>, CommandError> {
        let tmp = tempfile::tempdir().map_err(|e| CommandError(e.to_string()))?;
        let wd = WorkingDirectory::new(tmp.path(), Utc::now(), "t", 1 << 30);
        let outcome = run_in(&wd, stamp, f, args, write, mode);
        let out = outcome.result?;
        assert!(
            mode == Mode::Execute || !outcome.effects.is_empty(),
            "nothing recorded under {mode:?}"
        );
        Ok(out)
    }

    /// The real machine on the `linux` stamp, its read and remove roots pointed at folders
    /// beneath a temporary `base`, and a working directory of `quota` bytes beneath it too.
    pub(crate) struct RealMachine {
        _tmp: tempfile::TempDir,
        pub base: std::path::PathBuf,
        pub wd: WorkingDirectory,
        pub stamp: Stamp,
        pub host: String,
    }

    impl RealMachine {
        /// `read` and `remove` name folders beneath `base` (created); `None` keeps the
        /// machine's default roots.
        pub fn new(quota: u64, read: Option<&[&str]>, remove: Option<&[&str]>) -> Self {
            let tmp = tempfile::tempdir().expect("tmp");
            let base = std::fs::canonicalize(tmp.path()).expect("canon");
            let mut stamp = crate::stamp::load_scenario("linux").expect("linux");
            stamp.attach_local_machine();
            let roots = |names: &[&str]| -> Vec<std::path::PathBuf> {
                names
                    .iter()
                    .map(|n| {
                        let p = base.join(n);
                        std::fs::create_dir_all(&p).expect("root");
                        p
                    })
                    .collect()
            };
            let node = stamp.machines.first_mut().expect("the machine");
            if let Some(r) = read {
                node.read_roots = roots(r);
            }
            if let Some(r) = remove {
                node.remove_roots = roots(r);
            }
            let wd = WorkingDirectory::new(&base.join("wd"), Utc::now(), "m", quota);
            RealMachine {
                _tmp: tmp,
                base,
                wd,
                stamp,
                host: crate::host::linux::host_name(),
            }
        }

        /// Runs `f` on the machine (`-ComputerName` is its name) with `args`, in `mode`, with
        /// the read-only stamp access the shell gives a command on a real machine.
        pub fn run_mode(
            &mut self,
            f: Implementation,
            args: &[(&str, Value)],
            mode: Mode,
        ) -> Outcome {
            let mut all: Vec<(&str, Value)> = vec![("ComputerName", self.host.as_str().into())];
            all.extend(args.iter().cloned());
            run_in(&self.wd, &mut self.stamp, f, &all, false, mode)
        }

        /// The same in `Execute` mode.
        pub fn exec(&mut self, f: Implementation, args: &[(&str, Value)]) -> Outcome {
            self.run_mode(f, args, Mode::Execute)
        }

        /// The same in `Execute` mode, its error as text.
        pub fn run(
            &mut self,
            f: Implementation,
            args: &[(&str, Value)],
        ) -> Result<Vec<Value>, String> {
            self.run_mode(f, args, Mode::Execute)
                .result
                .map_err(|e| e.0)
        }

        /// `rel` beneath `base`, as text.
        pub fn path(&self, rel: &str) -> String {
            self.base.join(rel).to_string_lossy().into_owned()
        }
    }

    /// What one run did.
    pub struct Outcome {
        /// The command's output or error.
        pub result: Result<Vec<Value>, CommandError>,
        /// What it did or (outside `Execute`) would do.
        pub effects: Vec<String>,
        /// Whether it changed the stamp.
        pub changed: bool,
    }

    /// Runs `f` with `args` in the working directory `wd`.
    pub fn run_in(
        wd: &WorkingDirectory,
        stamp: &mut Stamp,
        f: Implementation,
        args: &[(&str, Value)],
        write: bool,
        mode: Mode,
    ) -> Outcome {
        let mut bound = match declared(f) {
            Some(names) => BoundArgs::declaring(names.iter().map(String::as_str)),
            None => BoundArgs::new(),
        };
        for (k, v) in args {
            bound.insert(k, v.clone());
        }
        let access = if write {
            StampAccess::Write(stamp)
        } else {
            StampAccess::Read(stamp)
        };
        let now = stamp_now(&access);
        let mut inv = Invocation::new(&bound, Vec::new(), access, wd, now, mode);
        let result = f(&mut inv);
        Outcome {
            result,
            effects: inv.effects().to_vec(),
            changed: inv.changed(),
        }
    }

    fn stamp_now(access: &StampAccess<'_>) -> chrono::DateTime<Utc> {
        match access {
            StampAccess::Read(s) => s.now(),
            StampAccess::Write(s) => s.now(),
        }
    }

    /// Every command of the embedded catalog, loaded once for the tests.
    static CATALOG: std::sync::LazyLock<Vec<crate::catalog::CommandSpec>> =
        std::sync::LazyLock::new(|| {
            crate::catalog::all_embedded_commands()
                .unwrap_or_else(|e| panic!("the embedded catalog: {e}"))
        });

    /// The parameters the catalog declares for the command(s) `f` implements (with `WhatIf` and
    /// `Confirm` where they apply), so a test run reads parameters as the server would: an
    /// undeclared one panics. None for a function that is no registered implementation.
    fn declared(f: Implementation) -> Option<Vec<String>> {
        let names: Vec<&str> = FAMILIES
            .iter()
            .flat_map(|t| t.iter())
            .filter(|(_, g)| *g as usize == f as usize)
            .map(|(n, _)| *n)
            .collect();
        if names.is_empty() {
            return None;
        }
        let mut declared = Vec::new();
        for c in CATALOG
            .iter()
            .filter(|c| names.iter().any(|n| n.eq_ignore_ascii_case(&c.name)))
        {
            declared.extend(c.parameters.iter().map(|p| p.name.clone()));
            if c.supports_should_process {
                declared.extend(["WhatIf".to_string(), "Confirm".to_string()]);
            }
        }
        Some(declared)
    }

    /// Runs `f` under -WhatIf against one target: it must record exactly one thing it would do
    /// and change nothing. Returns its output.
    pub fn what_if(stamp: &mut Stamp, f: Implementation, args: &[(&str, Value)]) -> Vec<Value> {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let wd = WorkingDirectory::new(tmp.path(), Utc::now(), "t", 1 << 30);
        let outcome = run_in(&wd, stamp, f, args, true, Mode::WhatIf);
        let out = outcome.result.unwrap_or_else(|e| panic!("what if: {e}"));
        assert_eq!(outcome.effects.len(), 1, "{:?}", outcome.effects);
        assert!(!outcome.changed, "-WhatIf changed the stamp");
        out
    }

    /// A record's property as text (empty when absent).
    pub fn prop(v: &Value, name: &str) -> String {
        v.as_record()
            .and_then(|r| r.get(name))
            .map(Value::to_display)
            .unwrap_or_default()
    }

    /// The default stamp.
    pub fn default_stamp() -> Stamp {
        Stamp::default_stamp().unwrap_or_else(|e| panic!("default stamp: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_called_implementation_reads_its_own_arguments_and_its_effects_count() {
        use super::testing::{default_stamp, run_in};
        fn caller(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
            let mut args = BoundArgs::declaring(["Target"]);
            args.insert("Target", "T1".into());
            inv.call(callee, &args)
        }
        fn callee(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
            let target = inv.args.str("Target").unwrap_or_default().to_string();
            if inv.should_process(&target, "Act") {
                inv.stamp_mut()?;
            }
            Ok(vec![Value::String(target)])
        }
        let tmp = tempfile::tempdir().expect("tmp");
        let wd = WorkingDirectory::new(tmp.path(), Utc::now(), "t", 1 << 30);
        let mut stamp = default_stamp();
        let outcome = run_in(&wd, &mut stamp, caller, &[], true, Mode::WhatIf);
        assert_eq!(outcome.result.expect("runs"), [Value::String("T1".into())]);
        assert_eq!(
            outcome.effects,
            ["Performing the operation \"Act\" on target \"T1\"."]
        );
        let outcome = run_in(&wd, &mut stamp, caller, &[], true, Mode::Execute);
        assert!(outcome.changed && outcome.effects.is_empty());
    }

    #[test]
    fn registry_names_unique() {
        let mut names: Vec<_> = implemented_names().map(str::to_ascii_lowercase).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(n, names.len());
    }
}
