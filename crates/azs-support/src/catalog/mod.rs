//! The command catalog: `catalog/*.toml` loaded, validated and indexed.
//!
//! `spec` holds the model; `load` parses and validates the TOML files (the format is documented in
//! `catalog/README.md` at the repository root); `embedded` carries the files compiled into the binary.

mod spec;

pub use spec::*;
pub fn load_embedded(p: Profile) -> Result<Catalog, String> {
    todo!()
}
pub fn load_dir(d: &std::path::Path, p: Profile) -> Result<Catalog, String> {
    todo!()
}
