//! The real Linux machine: processes and handles from procfs, services through systemd, events
//! from journald, volumes and system facts, packet captures and process dumps. Every external
//! program goes through [`runner`] (fixed argv, clean environment, timeout, output cap).

pub mod journal;
pub mod nspawn;
pub mod runner;
pub mod systemd;
