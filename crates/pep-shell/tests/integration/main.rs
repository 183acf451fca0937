//! Integration tests: the real `pep` binary, driven by the system OpenSSH client on loopback.

mod audit;
mod azure_local;
mod consent;
mod elevation;
mod exec;
mod habits;
mod harness;
mod history;
mod hostile;
mod identities;
mod limits;
mod linux_host;
mod lockout;
mod logging;
mod logs;
mod operator_control;
mod oversight;
mod pty;
mod quickstart;
mod scenarios;
mod service;
mod ssh_audit;
