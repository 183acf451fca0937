//! azs-support: the Azs.Support toolkit as a library.
//!
//! It owns the command catalog (data and validation), the typed values commands return, the stamp
//! model, the per-session working directory and the command implementations. It knows nothing of
//! SSH, sessions or consent: `pep-shell` binds a command line and calls in here.

pub mod args;
pub mod atomic_file;
pub mod catalog;
pub mod clixml;
pub mod commands;
pub mod disk_budget;
pub mod escape;
pub mod host;
pub mod logs;
pub mod shared_dir;
pub mod stamp;
#[cfg(test)]
pub(crate) mod test_process;
pub mod value;
pub mod wildcard;
pub mod workdir;

pub use args::BoundArgs;
pub use value::{Record, Value};
