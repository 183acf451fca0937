//! The command catalog: `catalog/*.toml` loaded, validated and indexed.
//!
//! `spec` holds the model; `load` parses and validates the TOML files (the format is documented in
//! `catalog/README.md` at the repository root); `embedded` carries the files compiled into the binary.

mod spec;

pub use spec::*;
