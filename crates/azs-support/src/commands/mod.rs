//! Command implementations and the registry that maps a catalog name to one.
//!
//! An implementation is a plain function from an [`Invocation`] (bound arguments, piped input,
//! the stamp, the session's working directory, the clock) to output values. It never sees SSH,
//! sessions or consent: gating happened before it was called. Catalog entries without an
//! implementation here are "not implemented yet", and the shell says so when they are run.

mod cluster;
mod stamp_info;
mod working_directory;

use crate::args::BoundArgs;
use crate::stamp::Stamp;
use crate::value::Value;
use crate::workdir::{WorkdirError, WorkingDirectory};
use chrono::{DateTime, Utc};

/// Everything a command may use.
pub struct Invocation<'a> {
    /// The bound parameters.
    pub args: &'a BoundArgs,
    /// Records piped in (for commands with `pipeline_input`).
    pub input: Vec<Value>,
    /// The stamp.
    pub stamp: &'a Stamp,
    /// The session's working directory.
    pub workdir: &'a WorkingDirectory,
    /// The current time.
    pub now: DateTime<Utc>,
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

/// A command implementation.
pub type Implementation = fn(&mut Invocation<'_>) -> Result<Vec<Value>, CommandError>;

/// The implementations, by canonical catalog name.
const REGISTRY: &[(&str, Implementation)] = &[
    (
        "Get-AzsSupportWorkingDirectory",
        working_directory::get_working_directory,
    ),
    (
        "Get-AzsSupportWorkingDirectoryFiles",
        working_directory::get_files,
    ),
    ("Clear-AzsSupportWorkingDirectory", working_directory::clear),
    (
        "Save-AzsSupportObjectToFile",
        working_directory::save_object_to_file,
    ),
    (
        "Get-AzsSupportStampInformation",
        stamp_info::get_stamp_information,
    ),
    ("Get-AzsSupportStampVersion", stamp_info::get_stamp_version),
    (
        "Get-AzsSupportInfrastructureHost",
        cluster::get_infrastructure_host,
    ),
    (
        "Get-AzsSupportClusterResource",
        cluster::get_cluster_resource,
    ),
];

/// The implementation of a catalog command, if it has one (case-insensitive name).
pub fn implementation(name: &str) -> Option<Implementation> {
    REGISTRY
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, f)| *f)
}

/// Names of every implemented command.
pub fn implemented_names() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_unique() {
        let mut names: Vec<_> = implemented_names().map(str::to_ascii_lowercase).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(n, names.len());
    }
}
