//! The real Linux machine: processes and handles from procfs, services through systemd, events
//! from journald, volumes and system facts, packet captures and process dumps. Every external
//! program goes through [`runner`] (fixed argv, clean environment, timeout, output cap).

pub mod coredump;
pub mod runner;
pub mod system;
