//! Where the team's shared folder is (`shared/`: the documented command list, the hostile inputs,
//! the log corpus), for tests and benchmarks: `$PEP_SHARED` when set (`.ci/run` sets it), else
//! `shared/` beside the workspace. Nothing in the served product reads it.

use std::path::PathBuf;

/// The path of `rel` inside the shared folder.
pub fn shared_path(rel: &str) -> PathBuf {
    let root = match std::env::var_os("PEP_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    root.join(rel)
}
