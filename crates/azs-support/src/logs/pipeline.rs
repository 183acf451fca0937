//! One log collection from start to end: collect → (obfuscate) → bundle → upload → verify →
//! report, and the resume of one whose upload was interrupted.
//!
//! Roles are collected one after another, each role's collectors in parallel; every file a
//! collector yields is compressed on that collector's thread into its role's zip, and the zip's
//! bytes go to the upload as they are written (see [`super::bundle`]): while one role's zip
//! finishes uploading the next is being collected. The manifest goes last, once every zip is
//! complete, so a manifest at the destination means the collection there is whole.
//!
//! The collection directory keeps `collection.json` (format below), written when the bundles
//! are complete and again when the uploads end: it is what [`resume`] reads to send only what
//! the destination lacks after pep (or the network) was interrupted.
//!
//! `collection.json`, version 1: `{"version":1,"id":..,"prefix":..,"destination":
//! "account/container" | null,"files":[{"name":..,"length":..,"sha256":..,"uploaded":bool}]}`.
//! It never holds a SAS: a resume is given the destination again.

use super::blob::{BlobClient, ContainerSas, UploadError, UploadOptions, UploadedBlob};
use super::bundle::{self, BlobFeed, BlobStart, BundleFile, BundleOptions, Bundler};
use super::collect::{self, CollectLimits, CollectedFile, Collector, CollectorOutcome, Filter};
use super::obfuscate::Obfuscator;
use super::{Cancel, Progress};
use crate::atomic_file::atomic_write;
use crate::workdir::WorkingDirectory;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The collection state file's name and version.
pub const STATE_FILE: &str = "collection.json";
const STATE_VERSION: u32 = 1;
/// The human-readable log of the collection (the real product's name).
pub const OUTPUT_LOG: &str = "Get-AzureStackLog_Output.log";
/// The machine-readable manifest.
pub const MANIFEST: &str = "manifest.json";
/// The role name of the case's working directory in the bundle.
pub const WORKDIR_ROLE: &str = "WorkingDirectory";

/// Where bundles go.
#[derive(Clone)]
pub struct Destination {
    /// The container.
    pub sas: Arc<ContainerSas>,
    /// How to upload.
    pub options: UploadOptions,
}

/// What to collect and where.
pub struct Request {
    /// Which logs.
    pub filter: Filter,
    /// Per-collector limits.
    pub limits: CollectLimits,
    /// How to bundle.
    pub bundle: BundleOptions,
    /// `AzureStackLogs-<yyyyMMddHHmmss>-<stamp>`.
    pub prefix: String,
    /// The collection directory, relative to the working directory.
    pub dir_name: String,
    /// Whether the case's working directory goes into the bundle.
    pub include_workdir: bool,
    /// Obfuscate everything that leaves the endpoint.
    pub obfuscator: Option<Arc<Obfuscator>>,
    /// Upload here (None: keep the bundle in the working directory only).
    pub destination: Option<Destination>,
    /// The whole collection gives up after this long.
    pub timeout: Duration,
}

/// One file of the collection and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlobRecord {
    /// File and blob name.
    pub name: String,
    /// Bytes.
    pub length: u64,
    /// MD5 the destination stored and returned (base64); empty when not uploaded.
    pub content_md5: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// `Uploaded`, `Written` (kept in the working directory), or `Failed: <why>`.
    pub status: String,
    /// Blocks sent by this run.
    pub blocks_sent: u32,
    /// Blocks the destination already had (a resumed upload).
    pub blocks_skipped: u32,
}

/// What a collection did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The collection's id (its directory name).
    pub id: String,
    /// The collection directory, as the user sees it (relative to the working directory).
    pub directory: String,
    /// One record per file of the collection.
    pub records: Vec<BlobRecord>,
    /// One outcome per collector.
    pub outcomes: Vec<CollectorOutcome>,
    /// Why the collection as a whole failed, if it did.
    pub error: Option<String>,
    /// Seconds from start to end.
    pub seconds: f64,
}

impl Report {
    /// An empty report of collection `id`.
    fn new(id: &str) -> Self {
        Report {
            id: id.to_string(),
            directory: id.to_string(),
            records: Vec::new(),
            outcomes: Vec::new(),
            error: None,
            seconds: 0.0,
        }
    }

    /// Whether anything failed (exec sessions exit non-zero).
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.records.iter().any(|r| r.status.starts_with("Failed"))
    }

    /// Bytes of all files of the collection.
    pub fn bytes(&self) -> u64 {
        self.records.iter().map(|r| r.length).sum()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    id: String,
    prefix: String,
    destination: Option<String>,
    files: Vec<StateEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StateEntry {
    name: String,
    length: u64,
    sha256: String,
    uploaded: bool,
}

type Uploads = Mutex<Vec<UploadHandle>>;

/// Runs a collection (blocking: call it from a thread of its own, not from the runtime).
pub fn run(
    req: Request,
    collectors: Vec<Collector>,
    workdir: &WorkingDirectory,
    runtime: &tokio::runtime::Handle,
    progress: &Arc<Progress>,
    cancel: &Cancel,
) -> Report {
    let started = std::time::Instant::now();
    let mut report = Report::new(&req.dir_name);
    let dir = match workdir.create_dir(&req.dir_name) {
        Ok(d) => d,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    report.directory = workdir.shown(&dir);
    let watchdog = {
        let cancel = cancel.clone();
        let timeout = req.timeout;
        runtime.spawn(async move {
            tokio::time::sleep(timeout).await;
            cancel.cancel(&format!(
                "the collection did not finish within {} minutes (-TimeOutInMinutes)",
                timeout.as_secs().div_ceil(60)
            ));
        })
    };
    let client = match &req.destination {
        Some(d) => match BlobClient::new(d.options.clone()) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                watchdog.abort();
                report.error = Some(e.to_string());
                return report;
            }
        },
        None => None,
    };
    let uploads: Uploads = Mutex::new(Vec::new());
    let start: &BlobStart = &|name: &str| {
        let (client, dest) = (client.as_ref()?, req.destination.as_ref()?);
        let (tx, rx) = mpsc::channel::<Bytes>(4);
        // This blob stops when the collection does, or when its zip is abandoned.
        let abandon = Cancel::new();
        let (client, sas, progress, cancel, blob, this) = (
            client.clone(),
            dest.sas.clone(),
            progress.clone(),
            cancel.clone(),
            name.to_string(),
            abandon.clone(),
        );
        let handle = runtime.spawn(async move {
            let upload = client.upload_stream(&sas, &blob, rx, &progress, &this);
            let r = tokio::select! {
                r = upload => r,
                () = cancel.cancelled() => Err(UploadError::Cancelled(
                    cancel.reason().unwrap_or_default(),
                )),
            };
            stop_on_refusal(&r, &cancel);
            r
        });
        uploads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((name.to_string(), handle));
        Some(BlobFeed {
            chunks: tx,
            abandon,
        })
    };
    let bundler = Bundler::new(&dir, &req.prefix, req.bundle, workdir, progress, start);
    let obf = req.obfuscator.as_deref();

    // Collect role by role, in the order the plan gave.
    let mut roles: Vec<String> = Vec::new();
    for c in &collectors {
        if !roles.contains(&c.role.clone()) {
            roles.push(c.role.clone());
        }
    }
    let mut by_role: Vec<(String, Vec<Collector>)> =
        roles.iter().map(|r| (r.clone(), Vec::new())).collect();
    for c in collectors {
        if let Some(slot) = by_role.iter_mut().find(|(r, _)| *r == c.role) {
            slot.1.push(c);
        }
    }
    for (role, group) in by_role {
        if cancel.is_cancelled() || bundler.failure().is_some() {
            break;
        }
        let sink = |file: CollectedFile| {
            let (entry, data) = match obf {
                Some(o) => (
                    o.clean_name(&file.path),
                    o.clean(&String::from_utf8_lossy(&file.data)).into_bytes(),
                ),
                None => (file.path.clone(), file.data),
            };
            let _ = bundler.add(&file.role, &entry, &data, file.modified);
        };
        let outcomes = collect::collect(group, &req.filter, &req.limits, progress, cancel, &sink);
        report.outcomes.extend(outcomes);
        let _ = bundler.close_role(&role);
    }
    if req.include_workdir && !cancel.is_cancelled() && bundler.failure().is_none() {
        report
            .outcomes
            .push(add_workdir(&bundler, workdir, &dir, obf, progress));
    }
    let zips = bundler.finish();
    progress
        .bundled
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let mut files: Vec<BundleFile> = match zips {
        Ok(z) => z,
        Err(e) => {
            report.error = Some(match cancel.reason() {
                Some(why) => why,
                None => e.to_string(),
            });
            Vec::new()
        }
    };
    if report.error.is_none() {
        if let Some(why) = cancel.reason() {
            report.error = Some(why);
        }
    }
    // The manifest and the output log, once the zips are complete.
    if report.error.is_none() {
        let manifest = manifest_json(&report, &files, &req);
        let log = output_log(&report, &files, &req);
        for (name, bytes) in [(MANIFEST, manifest), (OUTPUT_LOG, log)] {
            let text = match obf {
                Some(o) => o.clean(&String::from_utf8_lossy(&bytes)).into_bytes(),
                None => bytes,
            };
            match bundle::write_small(&dir, name, &text, workdir) {
                Ok(f) => files.push(f),
                Err(e) => report.error = Some(e.to_string()),
            }
        }
        save_state(&dir, &report.id, &req.prefix, &req.destination, &files, &[]);
    }
    if let Some(o) = obf {
        if let Err(e) = o.save() {
            report.error = Some(format!("the obfuscation map could not be saved: {e}"));
        }
    }
    // The small files upload whole; every upload then finishes.
    let mut handles = std::mem::take(&mut *uploads.lock().unwrap_or_else(|p| p.into_inner()));
    if let (Some(client), Some(dest), None) = (&client, &req.destination, &report.error) {
        for f in files.iter().filter(|f| f.role.is_empty()) {
            handles.push(spawn_file_upload(
                runtime, client, &dest.sas, f, progress, cancel,
            ));
        }
    }
    let results = wait_all(runtime, handles);
    watchdog.abort();
    report.records = records(&files, &results, req.destination.is_some(), &report.error);
    if report.error.is_none() {
        if let Some(why) = cancel.reason() {
            report.error = Some(why);
        }
    }
    let uploaded: Vec<String> = report
        .records
        .iter()
        .filter(|r| r.status == "Uploaded")
        .map(|r| r.name.clone())
        .collect();
    if !files.is_empty() {
        save_state(
            &dir,
            &report.id,
            &req.prefix,
            &req.destination,
            &files,
            &uploaded,
        );
    }
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// Re-sends what a collection's destination lacks: every complete file of `dir` (relative to
/// the working directory) not recorded as uploaded, each sending only the blocks not already
/// staged there.
pub fn resume(
    dir_name: &str,
    destination: &Destination,
    workdir: &WorkingDirectory,
    runtime: &tokio::runtime::Handle,
    progress: &Arc<Progress>,
    cancel: &Cancel,
) -> Report {
    let started = std::time::Instant::now();
    let mut report = Report::new(dir_name);
    let dir = match workdir.resolve(dir_name) {
        Ok(d) => d,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let state: StateFile = match std::fs::read(dir.join(STATE_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        Some(s) => s,
        None => {
            report.error = Some(format!(
                "{dir_name} has no complete bundle to resume (it was interrupted before its bundles were complete); collect again"
            ));
            return report;
        }
    };
    if state.version != STATE_VERSION {
        report.error = Some(format!(
            "{dir_name}/{STATE_FILE} has version {}, this pep reads version {STATE_VERSION}",
            state.version
        ));
        return report;
    }
    progress
        .bundled
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let client = match BlobClient::new(destination.options.clone()) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let files: Vec<BundleFile> = state
        .files
        .iter()
        .map(|e| BundleFile {
            name: e.name.clone(),
            path: dir.join(&e.name),
            role: String::new(),
            length: e.length,
            sha256: e.sha256.clone(),
            entries: 0,
        })
        .collect();
    let mut handles = Vec::new();
    let mut already = Vec::new();
    for (f, e) in files.iter().zip(&state.files) {
        let same_destination = state.destination.as_deref() == Some(&destination.sas.destination());
        if e.uploaded && same_destination {
            already.push(f.name.clone());
            continue;
        }
        Progress::add(&progress.compressed, f.length);
        handles.push(spawn_file_upload(
            runtime,
            &client,
            &destination.sas,
            f,
            progress,
            cancel,
        ));
    }
    let results = wait_all(runtime, handles);
    report.records = records(&files, &results, true, &None)
        .into_iter()
        .map(|mut r| {
            if already.contains(&r.name) {
                r.status = "Uploaded".into();
            }
            r
        })
        .collect();
    // Files uploaded before keep their earlier digest; the others carry what was just verified.
    let uploaded: Vec<String> = report
        .records
        .iter()
        .filter(|r| r.status == "Uploaded")
        .map(|r| r.name.clone())
        .collect();
    save_state(
        &dir,
        &state.id,
        &state.prefix,
        &Some(destination.clone()),
        &files,
        &uploaded,
    );
    if let Some(why) = cancel.reason() {
        report.error = Some(why);
    }
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// The newest collection directory under the working directory that has files not uploaded.
pub fn last_unfinished(workdir: &WorkingDirectory) -> Option<String> {
    let root = workdir.path();
    let mut dirs: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let state: StateFile =
                serde_json::from_slice(&std::fs::read(e.path().join(STATE_FILE)).ok()?).ok()?;
            let unfinished = state.files.iter().any(|f| !f.uploaded);
            let modified = e.metadata().ok()?.modified().ok()?;
            unfinished.then(|| (modified, e.file_name().to_string_lossy().into_owned()))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, n)| n)
}

type UploadHandle = (String, JoinHandle<Result<UploadedBlob, UploadError>>);

/// Uploads a complete file of the collection on the runtime; a refusal stops the collection.
fn spawn_file_upload(
    runtime: &tokio::runtime::Handle,
    client: &Arc<BlobClient>,
    sas: &Arc<ContainerSas>,
    f: &BundleFile,
    progress: &Arc<Progress>,
    cancel: &Cancel,
) -> UploadHandle {
    let (client, sas, progress, cancel, blob, path) = (
        client.clone(),
        sas.clone(),
        progress.clone(),
        cancel.clone(),
        f.name.clone(),
        f.path.clone(),
    );
    let handle = runtime.spawn(async move {
        let r = client
            .upload_file(&sas, &blob, &path, &progress, &cancel)
            .await;
        stop_on_refusal(&r, &cancel);
        r
    });
    (f.name.clone(), handle)
}

/// A destination that refuses (403: no permission, expired) refuses every blob: the collection
/// stops at the first refusal with its one-line reason.
fn stop_on_refusal(r: &Result<UploadedBlob, UploadError>, cancel: &Cancel) {
    if let Err(e @ (UploadError::Forbidden { .. } | UploadError::Expired { .. })) = r {
        cancel.cancel(&e.to_string());
    }
}

fn wait_all(
    runtime: &tokio::runtime::Handle,
    handles: Vec<UploadHandle>,
) -> Vec<(String, Result<UploadedBlob, String>)> {
    runtime.block_on(async move {
        let mut out = Vec::with_capacity(handles.len());
        for (name, h) in handles {
            let r = match h.await {
                Ok(Ok(b)) => Ok(b),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(format!("the upload task ended: {e}")),
            };
            out.push((name, r));
        }
        out
    })
}

fn records(
    files: &[BundleFile],
    results: &[(String, Result<UploadedBlob, String>)],
    uploading: bool,
    error: &Option<String>,
) -> Vec<BlobRecord> {
    files
        .iter()
        .map(|f| {
            let result = results.iter().find(|(n, _)| n == &f.name).map(|(_, r)| r);
            let (status, md5, sent, skipped) = match (uploading, result) {
                (false, _) => ("Written".to_string(), String::new(), 0, 0),
                (true, Some(Ok(b))) if b.length == f.length => (
                    "Uploaded".to_string(),
                    b.content_md5.clone(),
                    b.blocks_sent,
                    b.blocks_skipped,
                ),
                (true, Some(Ok(b))) => (
                    format!(
                        "Failed: the uploaded blob ({} bytes) differs from the bundle file ({} bytes)",
                        b.length, f.length
                    ),
                    b.content_md5.clone(),
                    b.blocks_sent,
                    b.blocks_skipped,
                ),
                (true, Some(Err(e))) => (format!("Failed: {e}"), String::new(), 0, 0),
                (true, None) => (
                    format!(
                        "Failed: not uploaded ({})",
                        error.as_deref().unwrap_or("the collection stopped")
                    ),
                    String::new(),
                    0,
                    0,
                ),
            };
            BlobRecord {
                name: f.name.clone(),
                length: f.length,
                content_md5: md5,
                sha256: f.sha256.clone(),
                status,
                blocks_sent: sent,
                blocks_skipped: skipped,
            }
        })
        .collect()
}

fn save_state(
    dir: &Path,
    id: &str,
    prefix: &str,
    destination: &Option<Destination>,
    files: &[BundleFile],
    uploaded: &[String],
) {
    let state = StateFile {
        version: STATE_VERSION,
        id: id.to_string(),
        prefix: prefix.to_string(),
        destination: destination.as_ref().map(|d| d.sas.destination()),
        files: files
            .iter()
            .map(|f| StateEntry {
                name: f.name.clone(),
                length: f.length,
                sha256: f.sha256.clone(),
                uploaded: uploaded.contains(&f.name),
            })
            .collect(),
    };
    if let Ok(bytes) = serde_json::to_vec_pretty(&state) {
        if let Err(e) = atomic_write(&dir.join(STATE_FILE), &bytes, 0o600) {
            tracing::warn!(error = %e, "could not save the collection state");
        }
    }
}

/// Adds the case's working directory (but not its collection directories) to the bundle.
fn add_workdir(
    bundler: &Bundler<'_>,
    workdir: &WorkingDirectory,
    this: &Path,
    obf: Option<&Obfuscator>,
    progress: &Progress,
) -> CollectorOutcome {
    let t0 = std::time::Instant::now();
    let mut outcome = CollectorOutcome::new(WORKDIR_ROLE, WORKDIR_ROLE, "WorkingDirectory");
    let files = match workdir.files(true) {
        Ok(f) => f,
        Err(e) => {
            outcome.fail(&e.to_string());
            return outcome;
        }
    };
    let this_name = this
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut excluded = 0u32;
    for f in files {
        let top = f.relative_path.split('/').next().unwrap_or_default();
        if top == this_name || is_collection_dir(&workdir.path().join(top)) {
            continue;
        }
        let Ok(data) = std::fs::read(workdir.path().join(&f.relative_path)) else {
            continue;
        };
        let data = match (obf, std::str::from_utf8(&data)) {
            (None, _) => data,
            (Some(o), Ok(text)) => o.clean(text).into_bytes(),
            // Binary content (dumps, captures) cannot be obfuscated: it does not leave.
            (Some(_), Err(_)) => {
                excluded += 1;
                continue;
            }
        };
        let entry = match obf {
            Some(o) => o.clean_name(&f.relative_path),
            None => f.relative_path.clone(),
        };
        Progress::add(&progress.collected, data.len() as u64);
        outcome.files += 1;
        outcome.bytes += data.len() as u64;
        if let Err(e) = bundler.add(WORKDIR_ROLE, &entry, &data, f.modified) {
            outcome.fail(&e.to_string());
            break;
        }
    }
    if excluded > 0 {
        outcome.note(&format!(
            "{excluded} binary file(s) left out: obfuscation is required and binary content cannot be obfuscated"
        ));
    }
    outcome.elapsed_ms = t0.elapsed().as_millis() as u64;
    outcome
}

/// Whether `dir` is a collection directory (it holds `collection.json` or bundle zips).
fn is_collection_dir(dir: &Path) -> bool {
    dir.join(STATE_FILE).exists()
        || dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("AzureStackLogs-"))
}

#[derive(Serialize)]
struct Manifest<'a> {
    version: u32,
    id: &'a str,
    prefix: &'a str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    roles: &'a [String],
    nodes: &'a [String],
    obfuscated: bool,
    collectors: &'a [CollectorOutcome],
    bundles: Vec<ManifestFile<'a>>,
}

#[derive(Serialize)]
struct ManifestFile<'a> {
    name: &'a str,
    role: &'a str,
    entries: u32,
    length: u64,
    sha256: &'a str,
}

fn manifest_json(report: &Report, files: &[BundleFile], req: &Request) -> Vec<u8> {
    let m = Manifest {
        version: 1,
        id: &report.id,
        prefix: &req.prefix,
        from: req.filter.from,
        to: req.filter.to,
        roles: &req.filter.roles,
        nodes: &req.filter.nodes,
        obfuscated: req.obfuscator.is_some(),
        collectors: &report.outcomes,
        bundles: files
            .iter()
            .map(|f| ManifestFile {
                name: &f.name,
                role: &f.role,
                entries: f.entries,
                length: f.length,
                sha256: &f.sha256,
            })
            .collect(),
    };
    serde_json::to_vec_pretty(&m).unwrap_or_default()
}

fn output_log(report: &Report, files: &[BundleFile], req: &Request) -> Vec<u8> {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Log collection {} from {} to {}{}",
        report.id,
        req.filter.from.to_rfc3339(),
        req.filter.to.to_rfc3339(),
        if req.obfuscator.is_some() {
            " (obfuscated)"
        } else {
            ""
        }
    );
    for o in &report.outcomes {
        let _ = writeln!(
            s,
            "{:<48} {:>5} files {:>12} bytes {:>9} lines kept {:>9} outside window {:>10} bytes cut  {:>7} ms  {}",
            o.collector,
            o.files,
            o.bytes,
            o.lines_kept,
            o.lines_outside_window,
            o.truncated_bytes,
            o.elapsed_ms,
            o.outcome
        );
    }
    for f in files {
        let _ = writeln!(s, "{}  {}  {} bytes", f.sha256, f.name, f.length);
    }
    s.into_bytes()
}

/// The directory of a collection started at `now` on `stamp`: `AzureStackLogs-<ts>-<stamp>`.
pub fn collection_prefix(now: DateTime<Utc>, stamp: &str) -> String {
    format!("AzureStackLogs-{}-{stamp}", now.format("%Y%m%d%H%M%S"))
}

/// Where a collection's files are, for tests and tools.
pub fn collection_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}
