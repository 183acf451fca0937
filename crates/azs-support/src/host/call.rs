//! What a command hands a [`super::Host`] when it asks it to act: the case's working directory,
//! the stamp's clock and PowerShell's ShouldProcess ([`Call`]); what the host gives back
//! ([`Effect`]: done, or on a simulated node the change to the stamp that does it); and the
//! requests the tools take, validated by the host that runs them.

use crate::stamp::Stamp;
use crate::workdir::WorkingDirectory;
use chrono::{DateTime, Utc};

/// One action's context.
pub struct Call<'c> {
    /// The case's working directory: every file an action writes lands beneath it.
    pub workdir: &'c WorkingDirectory,
    /// The stamp's clock.
    pub now: DateTime<Utc>,
    what_if: bool,
    effects: &'c mut Vec<String>,
}

impl<'c> Call<'c> {
    /// A context; under `what_if` (`-WhatIf`, or the shell's plan before a confirmation)
    /// [`Call::should_process`] records into `effects` and says no.
    pub fn new(
        workdir: &'c WorkingDirectory,
        now: DateTime<Utc>,
        what_if: bool,
        effects: &'c mut Vec<String>,
    ) -> Self {
        Call {
            workdir,
            now,
            what_if,
            effects,
        }
    }

    /// PowerShell's ShouldProcess: true when the action should be carried out now; otherwise
    /// records it (`What if: Performing the operation "<action>" on target "<target>".`).
    pub fn should_process(&mut self, target: &str, action: &str) -> bool {
        if !self.what_if {
            return true;
        }
        self.effects.push(format!(
            "Performing the operation \"{action}\" on target \"{target}\"."
        ));
        false
    }
}

/// A change to the stamp, made once the host is no longer reading it.
pub type Change<T> = Box<dyn FnOnce(&mut Stamp) -> Result<T, String>>;

/// What an action did.
pub enum Effect<T> {
    /// Done already (on a real machine, or nothing in the stamp changes).
    Done(T),
    /// On a simulated node: the change to the stamp that does it, and gives the result.
    Change(Change<T>),
}

/// An action's answer: `None` when ShouldProcess said no (nothing was done).
pub type Acted<T> = Result<Option<Effect<T>>, String>;

/// A process Stop-AzsSupportProcess ended.
#[derive(Debug, Clone)]
pub struct StoppedProcess {
    /// The process as it was listed before it was stopped.
    pub process: super::ProcessRow,
    /// The last signal sent, where there are signals (`SIGTERM`, `SIGKILL`).
    pub signal: Option<String>,
    /// Whether it is known to have exited.
    pub exited: Option<bool>,
}

/// The process a tool works on.
#[derive(Debug, Clone)]
pub enum ProcessSelector {
    /// `-ProcessId`.
    Id(i64),
    /// `-ProcessName`: exactly one process must have it.
    Name(String),
}

/// Enable-AzsSupportNetshTrace's parameters, as given.
#[derive(Debug, Clone, Default)]
pub struct CaptureRequest {
    /// `-Interface` (none: all).
    pub interface: Option<String>,
    /// `-MaxSize`, MB.
    pub max_size_mb: i64,
    /// `-Duration`, seconds.
    pub duration_secs: i64,
    /// `-Protocol`.
    pub protocols: Vec<String>,
    /// `-Port`.
    pub ports: Vec<f64>,
    /// `-Address`.
    pub addresses: Vec<String>,
}

/// Invoke-AzsSupportWmiTracing's parameters, as given.
#[derive(Debug, Clone)]
pub struct CallTraceRequest {
    /// `-ProcessId`.
    pub process_id: Option<i64>,
    /// `-DurationInSeconds`.
    pub seconds: i64,
    /// `-IncludeDumps`.
    pub include_dumps: bool,
}

/// Which events of a trace file Get-AzsSupportTraceEvent wants.
#[derive(Debug, Clone)]
pub struct TraceQuery {
    /// From.
    pub from: Option<DateTime<Utc>>,
    /// Until (none: the node's now).
    pub to: Option<DateTime<Utc>>,
    /// Level (trace files with levels only).
    pub level: Option<String>,
    /// At most this many.
    pub max: usize,
}

/// Remove-AzsSupportItem[ByStopService]'s parameters.
#[derive(Debug, Clone)]
pub struct RemoveRequest {
    /// `-Path`.
    pub path: String,
    /// `-Recurse`.
    pub recurse: bool,
    /// `-ServiceName`: stopped around the removal (when it runs) and started again.
    pub service: Option<String>,
}

/// A time as it appears in artefact file names (`20261120T101500123Z`).
pub fn stamp_time(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%S%3fZ").to_string()
}

/// `HH:MM:SS` of whole seconds.
pub fn clock_duration(secs: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}
