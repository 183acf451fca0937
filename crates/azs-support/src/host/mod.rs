//! Hosts: the machines host-level commands inspect and act on. A node of the stamp is either
//! simulated (the scenario's model) or real (the Linux machine pep runs on, and later more Linux
//! nodes reached over SSH). [`linux`] holds what reads and drives a real Linux machine.

pub mod linux;
