//! The command catalog: `catalog/*.toml` loaded, validated and indexed.
//!
//! `spec` holds the model; `raw` is the TOML file format as read; `load` parses and validates the
//! files (the format is documented in `catalog/README.md` at the repository root), with `params`
//! converting and checking each parameter; `embedded` carries the files compiled into the binary.

mod embedded;
mod load;
mod params;
mod raw;
mod spec;

pub use embedded::{all_embedded_commands, embedded_files, load_embedded};
pub use load::{load_dir, load_dir_all, load_sources, CatalogError, FORMAT_VERSION};
pub use spec::*;
