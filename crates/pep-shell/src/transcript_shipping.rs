//! `Close-PrivilegedEndpoint -TranscriptsPathDestination DEST`: the transcripts and recordings of
//! the sessions that have ended leave the endpoint, to a container SAS URL (the log upload's
//! client: every blob read back and checked) or to a local folder (a new folder
//! `pep-transcripts-<yyyyMMddHHmmss>` beneath an existing absolute directory, each file created
//! new, 0600, and its SHA-256 compared). A file is removed from the endpoint only once its copy
//! was verified and the audit log recorded the shipment; one that could not be verified stays
//! (and the command says so). The open sessions' files (this one's included) stay for the next
//! Close.

use crate::endpoint::Endpoint;
use crate::history;
use azs_support::logs::blob::BlobClient;
use azs_support::logs::sas::ContainerSas;
use azs_support::logs::{Cancel, Progress};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a shipment did.
#[derive(Debug, Default)]
pub struct Shipped {
    /// Files copied, verified and removed here.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Files left here (their copy could not be verified).
    pub kept: usize,
    /// Where they went (account/container or the folder; never a SAS query).
    pub destination: String,
}

/// The files of ended sessions: (path, name at the destination).
fn files_to_ship(endpoint: &Endpoint) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for rec in history::load_all(&endpoint.state) {
        if rec.end.is_none() {
            continue;
        }
        for (path, folder) in [
            (rec.transcript.clone(), "transcripts"),
            (rec.recording_path(), "recordings"),
        ] {
            if let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) {
                if path.is_file() {
                    out.push((path, format!("{folder}/{name}")));
                }
            }
        }
    }
    out
}

/// Ships the ended sessions' files to `dest`, then removes those verified.
pub fn ship(endpoint: &Endpoint, dest: &str) -> Result<Shipped, String> {
    let files = files_to_ship(endpoint);
    let mut verified: Vec<(PathBuf, u64)> = Vec::new();
    let mut kept = 0;
    let destination = if dest.starts_with("https://") || dest.starts_with("http://") {
        let sas = ContainerSas::parse(dest).map_err(|e| e.to_string())?;
        let client =
            BlobClient::new(endpoint.log_settings.upload.clone()).map_err(|e| e.to_string())?;
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| "internal error: no runtime to upload with".to_string())?;
        let (progress, cancel) = (Progress::new(), Cancel::new());
        for (path, name) in &files {
            let up = tokio::task::block_in_place(|| {
                handle.block_on(client.upload_file(&sas, name, path, &progress, &cancel))
            })
            .map_err(|e| format!("{name}: {e}; nothing was removed"))?;
            if up.verified {
                verified.push((path.clone(), up.length));
            } else {
                kept += 1;
            }
        }
        sas.destination()
    } else {
        let folder = local_folder(dest, endpoint.clock.now())?;
        for (path, name) in &files {
            let target = folder.join(name);
            copy_verified(path, &target)?;
            let len = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            verified.push((path.clone(), len));
        }
        folder.display().to_string()
    };
    let bytes: u64 = verified.iter().map(|(_, b)| *b).sum();
    // The audit log knows before anything is removed (fail closed: it stays otherwise).
    endpoint
        .audit
        .append(
            endpoint.clock.now(),
            "transcripts_shipped",
            serde_json::json!({
                "destination": destination,
                "files": verified.len(),
                "bytes": bytes,
                "unverified_kept": kept,
            }),
        )
        .map_err(|e| format!("{e:#}; the copies were made but nothing was removed"))?;
    for (path, _) in &verified {
        if let Err(e) = fs::remove_file(path) {
            tracing::warn!(path = %path.display(), error = %e, "a shipped file could not be removed");
        }
    }
    Ok(Shipped {
        files: verified.len(),
        bytes,
        kept,
        destination,
    })
}

/// `<dest>/pep-transcripts-<time>`, made new (0700) beneath an existing absolute directory that
/// is not a symbolic link.
fn local_folder(dest: &str, now: chrono::DateTime<chrono::Utc>) -> Result<PathBuf, String> {
    let base = Path::new(dest);
    if !base.is_absolute() || dest.split('/').any(|c| c == "..") {
        return Err(format!(
            "-TranscriptsPathDestination '{dest}': give an absolute directory (no ..) or a container SAS URL"
        ));
    }
    let meta = fs::symlink_metadata(base)
        .map_err(|e| format!("-TranscriptsPathDestination '{dest}': {e}"))?;
    if !meta.is_dir() {
        return Err(format!(
            "-TranscriptsPathDestination '{dest}' is not a directory (symbolic links are not followed)"
        ));
    }
    let folder = base.join(format!("pep-transcripts-{}", now.format("%Y%m%d%H%M%S")));
    let mut b = fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(&folder)
        .map_err(|e| format!("creating {}: {e}", folder.display()))?;
    for sub in ["transcripts", "recordings"] {
        b.create(folder.join(sub))
            .map_err(|e| format!("creating {}: {e}", folder.join(sub).display()))?;
    }
    Ok(folder)
}

/// Copies `from` to a new file `to` (0600, synced) and checks the copy's SHA-256.
fn copy_verified(from: &Path, to: &Path) -> Result<(), String> {
    let bytes = fs::read(from).map_err(|e| format!("reading {}: {e}", from.display()))?;
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(to)
        .map_err(|e| format!("creating {}: {e}", to.display()))?;
    f.write_all(&bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("writing {}: {e}; nothing was removed", to.display()))?;
    let back = fs::read(to).map_err(|e| format!("reading back {}: {e}", to.display()))?;
    if crate::audit::sha256_hex(&back) != crate::audit::sha256_hex(&bytes) {
        return Err(format!(
            "the copy {} does not match; nothing was removed",
            to.display()
        ));
    }
    Ok(())
}
