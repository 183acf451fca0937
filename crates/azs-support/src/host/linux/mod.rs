//! The real Linux machine: processes and handles from procfs, services through systemd, events
//! from journald, volumes and system facts, packet captures and process dumps. Every external
//! program goes through [`runner`] (fixed argv, clean environment, timeout, output cap).

pub mod handles;
pub mod processes;
pub mod runner;
