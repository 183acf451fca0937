//! Integration tests: the real `pep` binary, driven by the system OpenSSH client on loopback.

mod azure_local;
mod consent;
mod exec;
mod harness;
mod history;
mod hostile;
mod limits;
mod pty;
mod scenarios;
