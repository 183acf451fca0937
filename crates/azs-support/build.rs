//! Build script: compiles the repository's `catalog/*.toml` into the crate.
//!
//! It lists `../../catalog/*.toml` (relative to this crate), sorted by file name, and writes
//! `$OUT_DIR/catalog_files.rs`: an array of `(file name, contents)` pairs built with `include_str!`,
//! which `catalog::embedded` includes. Cargo reruns it when the directory or any file changes.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs};

fn main() {
    let manifest =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dir = manifest.join("..").join("..").join("catalog");
    println!("cargo:rerun-if-changed={}", dir.display());

    let mut files: Vec<(String, PathBuf)> = Vec::new();
    if let Ok(entries) = fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let is_toml = path.extension().is_some_and(|e| e == "toml");
            if is_toml && path.is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                files.push((name, path));
            }
        }
    }
    files.sort();

    let mut out = String::from(
        "/// The catalog files compiled in: (`catalog/<file>.toml`, contents), sorted by file name.\n\
         pub(crate) static FILES: &[(&str, &str)] = &[\n",
    );
    for (name, path) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let shown = format!("catalog/{name}");
        let abs = path.canonicalize().unwrap_or_else(|_| path.clone());
        writeln!(
            out,
            "    ({shown:?}, include_str!({:?})),",
            abs.display().to_string()
        )
        .expect("writing to a String cannot fail");
    }
    out.push_str("];\n");

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out_dir.join("catalog_files.rs"), out).expect("write catalog_files.rs");
}
