//! Build script: compiles the repository's data into the crate, so `pep` runs anywhere.
//!
//! - `../../catalog/*.toml` → `$OUT_DIR/catalog_files.rs` (`FILES`), read by `catalog::embedded`;
//! - `../../scenarios/*.toml` → `$OUT_DIR/scenario_files.rs` (`SCENARIOS`), read by `stamp::scenario`;
//! - `../../scenarios/logs/*.log` → `$OUT_DIR/log_files.rs` (`LOGS`), read by `stamp::events`.
//!
//! Each is an array of `(shown name, contents)` pairs built with `include_str!`, sorted by file
//! name. Cargo reruns this when a directory or any listed file changes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("..").join("..");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    embed(
        &root.join("catalog"),
        "toml",
        "catalog/",
        "FILES",
        &out_dir.join("catalog_files.rs"),
    );
    embed(
        &root.join("scenarios"),
        "toml",
        "",
        "SCENARIOS",
        &out_dir.join("scenario_files.rs"),
    );
    embed(
        &root.join("scenarios").join("logs"),
        "log",
        "",
        "LOGS",
        &out_dir.join("log_files.rs"),
    );
}

fn embed(dir: &Path, ext: &str, shown_prefix: &str, name: &str, out_file: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == ext) && path.is_file() {
                files.push((entry.file_name().to_string_lossy().into_owned(), path));
            }
        }
    }
    files.sort();
    let mut out = format!(
        "/// Files compiled in: (`{shown_prefix}<file>.{ext}`, contents), sorted by file name.\n\
         pub(crate) static {name}: &[(&str, &str)] = &[\n"
    );
    for (file, path) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let shown = format!("{shown_prefix}{file}");
        let abs = path.canonicalize().unwrap_or_else(|_| path.clone());
        writeln!(
            out,
            "    ({shown:?}, include_str!({:?})),",
            abs.display().to_string()
        )
        .expect("writing to a String cannot fail");
    }
    out.push_str("];\n");
    fs::write(out_file, out).expect("write embedded file list");
}
