//! The log commands (catalog entries with `handler = "logs"`): `Send-AzureStackDiagnosticLog`
//! (support and operators; to the vendor's container only), `Get-AzureStackLog` (operators; to
//! any container SAS or the working directory), `Get-LogCollectionHistory`,
//! `Get-AzureStackSupportConfiguration` and `Get-AzureStackLogObfuscationMap` (operators).
//!
//! It owns turning a bound command into a collection: the window (default: the 4 hours before
//! now on the stamp's clock), the collectors planned from the stamp under its read lock, the
//! destination, and the [`Job`] that runs `azs_support::logs::pipeline` on a thread of its own
//! and then records the collection in the history. Gating happened before it is called.

use crate::endpoint::Endpoint;
use crate::identity::Identity;
use crate::job::{Job, JobOutcome};
use crate::job_slots::JobSlot;
use crate::log_history::{self, blob_value, CollectionRecord};
use azs_support::logs::blob::ContainerSas;
use azs_support::logs::collect::{self, CollectLimits, Filter};
use azs_support::logs::pipeline::{self, Destination, Report, Request};
use azs_support::logs::sources::SourceKind;
use azs_support::logs::{Cancel, Progress};
use azs_support::workdir::WorkingDirectory;
use azs_support::{BoundArgs, Record, Value};
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

/// The default window: the last 4 hours (the real pages disagree between 1 and 4 hours; the
/// privileged endpoint's own help says 4).
pub const DEFAULT_WINDOW_HOURS: i64 = 4;
/// The default overall timeout of a collection, in minutes (`-TimeOutInMinutes`).
pub const DEFAULT_TIMEOUT_MINUTES: i64 = 150;

/// The log commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogCommand {
    /// Send-AzureStackDiagnosticLog.
    Send,
    /// Get-AzureStackLog.
    Get,
    /// Get-LogCollectionHistory.
    History,
    /// Get-AzureStackSupportConfiguration.
    Configuration,
    /// Get-AzureStackLogObfuscationMap.
    ObfuscationMap,
}

/// Every command here under its catalog name (entries with `handler = "logs"`).
pub const COMMANDS: &[(&str, LogCommand)] = &[
    ("Send-AzureStackDiagnosticLog", LogCommand::Send),
    ("Get-AzureStackLog", LogCommand::Get),
    ("Get-LogCollectionHistory", LogCommand::History),
    (
        "Get-AzureStackSupportConfiguration",
        LogCommand::Configuration,
    ),
    (
        "Get-AzureStackLogObfuscationMap",
        LogCommand::ObfuscationMap,
    ),
];

/// What a command started.
pub enum Started {
    /// It is done: its values.
    Values(Vec<Value>),
    /// It runs on: the session watches it.
    Job(Job),
}

/// Who runs the command, and where.
pub struct Caller<'a> {
    /// The identity.
    pub identity: &'a Identity,
    /// The session.
    pub session_id: &'a str,
    /// The grant a support session runs under.
    pub grant_id: Option<u64>,
    /// The session's (the case's) working directory.
    pub workdir: Arc<WorkingDirectory>,
}

/// Runs (or starts) a log command.
pub fn run(
    command: LogCommand,
    args: &BoundArgs,
    endpoint: &Arc<Endpoint>,
    caller: Caller<'_>,
) -> Result<Started, String> {
    match command {
        LogCommand::History => Ok(Started::Values(history(args, endpoint))),
        LogCommand::Configuration => Ok(Started::Values(vec![configuration(endpoint)])),
        LogCommand::ObfuscationMap => obfuscation_map(endpoint).map(Started::Values),
        LogCommand::Send => {
            let sas = endpoint.log_settings.vendor_destination()?;
            writable(&sas, endpoint.clock.now())?;
            start(command, args, endpoint, caller, Some(sas), true)
        }
        LogCommand::Get => {
            let sas = match args.str("OutputSasUri") {
                Some(url) => Some(ContainerSas::parse(url).map_err(|e| {
                    format!("-OutputSasUri is not a usable container SAS URL: {e}")
                })?),
                None => None,
            };
            if let Some(sas) = &sas {
                writable(sas, endpoint.clock.now())?;
            }
            if args.switch("Resume") && sas.is_none() {
                return Err("-Resume needs -OutputSasUri (the destination to finish)".into());
            }
            start(command, args, endpoint, caller, sas, false)
        }
    }
}

/// Refuses, before anything is collected, a SAS that says itself it cannot write: expired, or
/// without write permission. (A signature the service refuses is found by the first request,
/// which stops the collection.)
pub fn writable(sas: &ContainerSas, now: DateTime<Utc>) -> Result<(), String> {
    if let Some(expiry) = sas.expiry() {
        if expiry <= now {
            return Err(format!(
                "the SAS does not allow writing to {}: it expired at {}; nothing was collected",
                sas.destination(),
                expiry.to_rfc3339()
            ));
        }
    }
    let perms = sas.permissions();
    if !perms.contains('w') {
        return Err(format!(
            "the SAS does not allow writing to {} (its permissions are '{perms}'; uploads need w); nothing was collected",
            sas.destination()
        ));
    }
    Ok(())
}

fn command_name(command: LogCommand) -> &'static str {
    COMMANDS
        .iter()
        .find(|(_, c)| *c == command)
        .map_or("", |(n, _)| *n)
}

/// Plans the collection (or the resume) and starts its job.
fn start(
    command: LogCommand,
    args: &BoundArgs,
    endpoint: &Arc<Endpoint>,
    caller: Caller<'_>,
    sas: Option<ContainerSas>,
    include_workdir: bool,
) -> Result<Started, String> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| "internal error: log collection needs the endpoint's runtime".to_string())?;
    // Held by the job's thread until it ends: the cap counts collections still working, even
    // after their session let go of them.
    let slot = endpoint.log_jobs.acquire()?;
    let settings = &endpoint.log_settings;
    let destination = sas.map(|sas| Destination {
        sas: Arc::new(sas),
        options: settings.upload.clone(),
    });
    let stamp_now = endpoint.stamp.advance(endpoint.clock.now());
    let wall_start = endpoint.clock.now();
    let workdir = caller.workdir.clone();
    workdir.ensure().map_err(|e| e.to_string())?;
    let record = CollectionRecord {
        version: log_history::VERSION,
        id: String::new(),
        command: command_name(command).to_string(),
        identity: caller.identity.name.clone(),
        role: caller.identity.role.as_str().to_string(),
        session_id: caller.session_id.to_string(),
        grant_id: caller.grant_id,
        support_request_id: caller
            .grant_id
            .and_then(|_| endpoint.consent.active())
            .and_then(|g| g.support_request_id),
        started: wall_start,
        ended: wall_start,
        from: None,
        to: None,
        roles: Vec::new(),
        nodes: Vec::new(),
        destination: destination
            .as_ref()
            .map_or("working directory".to_string(), |d| d.sas.destination()),
        obfuscated: settings.obfuscate,
        files: Vec::new(),
        status: String::new(),
        error: None,
    };
    let progress = Arc::new(Progress::new());
    let cancel = Cancel::new();
    let uploading = destination.is_some();
    let state = endpoint.state.clone();
    let audit = endpoint.audit.clone();
    // Where the data goes is in the audit log before a byte leaves (account and container only,
    // never the signature); a collection it cannot record does not start.
    endpoint
        .audit
        .append(
            wall_start,
            "log_collection",
            serde_json::json!({
                "session": caller.session_id,
                "identity": caller.identity.name,
                "command": record.command,
                "destination": record.destination,
                "upload": uploading,
            }),
        )
        .map_err(|e| format!("{e:#}; the collection was not started"))?;
    let (tx, rx) = tokio::sync::oneshot::channel();

    if args.switch("Resume") {
        let Some(destination) = destination else {
            return Err("-Resume needs a destination".into());
        };
        let dir = pipeline::last_unfinished(&workdir).ok_or_else(|| {
            "there is no collection in this working directory that did not finish uploading"
                .to_string()
        })?;
        let (p, c) = (progress.clone(), cancel.clone());
        spawn_job(
            slot,
            move || {
                let report = pipeline::resume(&dir, &destination, &workdir, &runtime, &p, &c);
                finish(report, record, &state, &audit, &c)
            },
            tx,
        )?;
        return Ok(Started::Job(Job::new(progress, cancel, uploading, rx)));
    }

    let to = args.datetime("ToDate").unwrap_or(stamp_now);
    let from = args
        .datetime("FromDate")
        .unwrap_or(to - Duration::hours(DEFAULT_WINDOW_HOURS));
    if from >= to {
        return Err(format!(
            "-FromDate ({}) must be before -ToDate ({})",
            from.to_rfc3339(),
            to.to_rfc3339()
        ));
    }
    let filter = Filter {
        roles: args.strings("FilterByRole"),
        nodes: args.strings("FilterByNode"),
        from,
        to,
    };
    // Only Get-AzureStackLog names its folder and its timeout, and filters by log type.
    let get = command == LogCommand::Get;
    let (collectors, prefix, hosts) = {
        let stamp = endpoint.stamp.read();
        let mut collectors = collect::plan(&stamp, stamp_now, &filter)?;
        if get {
            let types = args.strings("FilterByLogType");
            if !types.is_empty() {
                collectors.retain(|c| types.iter().any(|t| log_type_matches(t, c.kind)));
            }
        }
        let mut hosts: Vec<String> = stamp.nodes().map(|n| n.name.clone()).collect();
        hosts.push(stamp.stamp.domain_fqdn.clone());
        hosts.push(stamp.stamp.external_domain_fqdn.clone());
        let label = if settings.obfuscate {
            "obfuscated".to_string()
        } else {
            stamp.stamp.prefix.clone()
        };
        (
            collectors,
            pipeline::collection_prefix(wall_start, &label),
            hosts,
        )
    };
    let obfuscator = settings.obfuscator(&endpoint.state.obfuscation_map(), hosts, Vec::new())?;
    let output_path = if get { args.str("OutputPath") } else { None };
    let dir_name = match output_path {
        Some(name) => name.to_string(),
        None => free_name(&workdir, &prefix),
    };
    let timeout_minutes = if get {
        args.int("TimeOutInMinutes")
    } else {
        None
    }
    .unwrap_or(DEFAULT_TIMEOUT_MINUTES);
    let mut record = record;
    record.id = dir_name.clone();
    record.from = Some(from);
    record.to = Some(to);
    record.roles = filter.roles.clone();
    record.nodes = filter.nodes.clone();
    let request = Request {
        filter,
        limits: CollectLimits::default(),
        bundle: azs_support::logs::bundle::BundleOptions {
            part_bytes: settings.part_bytes,
            ..Default::default()
        },
        prefix,
        dir_name,
        include_workdir,
        obfuscator,
        destination,
        timeout: std::time::Duration::from_secs(
            u64::try_from(timeout_minutes.max(1)).unwrap_or(1) * 60,
        ),
    };
    let (p, c) = (progress.clone(), cancel.clone());
    spawn_job(
        slot,
        move || {
            let report = pipeline::run(request, collectors, &workdir, &runtime, &p, &c);
            finish(report, record, &state, &audit, &c)
        },
        tx,
    )?;
    Ok(Started::Job(Job::new(progress, cancel, uploading, rx)))
}

/// Whether a collector of `kind` is of the log type `-FilterByLogType` names.
fn log_type_matches(log_type: &str, kind: SourceKind) -> bool {
    match kind {
        SourceKind::Role | SourceKind::Directory => log_type.eq_ignore_ascii_case("File"),
        SourceKind::Event => log_type.eq_ignore_ascii_case("WindowsEvent"),
        SourceKind::Cluster => log_type.eq_ignore_ascii_case("ClusterLog"),
    }
}

/// `prefix`, or `prefix-2`, ... when a collection of the same second exists.
fn free_name(workdir: &WorkingDirectory, prefix: &str) -> String {
    let taken = |n: &str| workdir.path().join(n).exists();
    if !taken(prefix) {
        return prefix.to_string();
    }
    (2..1000)
        .map(|i| format!("{prefix}-{i}"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| format!("{prefix}-{}", uuid::Uuid::new_v4()))
}

fn spawn_job(
    slot: JobSlot,
    f: impl FnOnce() -> JobOutcome + Send + 'static,
    tx: tokio::sync::oneshot::Sender<JobOutcome>,
) -> Result<(), String> {
    std::thread::Builder::new()
        .name("pep-logs".into())
        .spawn(move || {
            let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                Ok(o) => o,
                Err(_) => JobOutcome {
                    values: Vec::new(),
                    error: Some(
                        "internal error in the log collection; it stopped and the session goes on"
                            .into(),
                    ),
                    summary: String::new(),
                },
            };
            // Free before the outcome is told: a user who starts the next collection on seeing
            // it is not refused as "already running".
            drop(slot);
            let _ = tx.send(outcome);
        })
        .map(|_| ())
        .map_err(|e| format!("the collection could not start: {e}"))
}

/// Records the collection and turns its report into the command's values.
fn finish(
    report: Report,
    mut record: CollectionRecord,
    state: &crate::state::StateDir,
    audit: &crate::audit::AuditLog,
    cancel: &Cancel,
) -> JobOutcome {
    let ended = Utc::now();
    record.id = report.id.clone();
    record.ended = ended;
    record.files = report.records.clone();
    record.error = report.error.clone();
    record.status = if cancel.is_cancelled() {
        "Cancelled"
    } else if report.failed() {
        "Failed"
    } else {
        "Succeeded"
    }
    .to_string();
    let mut error = report.error.clone();
    let logged = audit.append(
        ended,
        "log_collection_end",
        serde_json::json!({
            "session": record.session_id,
            "identity": record.identity,
            "collection": record.id,
            "destination": record.destination,
            "blobs": record.files.len(),
            "status": record.status,
        }),
    );
    if let Err(e) = logged {
        tracing::error!(error = %e, "the audit log cannot record a log collection's end");
    }
    if let Err(e) = record.save(state) {
        tracing::error!(error = %e, "could not record a log collection");
        error.get_or_insert(format!(
            "the collection could not be recorded in the history: {e}"
        ));
    }
    let failed = report
        .records
        .iter()
        .filter(|r| r.status.starts_with("Failed"))
        .count();
    if error.is_none() && failed > 0 {
        let first = report
            .records
            .iter()
            .find(|r| r.status.starts_with("Failed"))
            .map(|r| r.status.trim_start_matches("Failed: ").to_string())
            .unwrap_or_default();
        error = Some(format!(
            "{failed} of {} files failed: {first}",
            report.records.len()
        ));
    }
    let collectors_failed = report
        .outcomes
        .iter()
        .filter(|o| !o.outcome.is_success())
        .count();
    let summary = format!(
        "{}: {} files, {} in {:.1} s; {} collectors ({} did not complete; see Get-AzureStackLog_Output.log in {}); {}",
        report.id,
        report.records.len(),
        azs_support::disk_budget::human(report.bytes()),
        report.seconds,
        report.outcomes.len(),
        collectors_failed,
        report.directory,
        match (&record.destination[..], record.status.as_str()) {
            ("working directory", _) => "kept in the working directory".to_string(),
            (d, "Succeeded") => format!("uploaded to {d} and verified"),
            (d, s) => format!("upload to {d}: {s}"),
        }
    );
    JobOutcome {
        values: report.records.iter().map(blob_value).collect(),
        error,
        summary,
    }
}

fn history(args: &BoundArgs, endpoint: &Endpoint) -> Vec<Value> {
    let now = endpoint.clock.now();
    let from: DateTime<Utc> = args
        .datetime("FromDate")
        .unwrap_or(now - Duration::days(log_history::RETENTION_DAYS));
    let id = args.str("LogCollectionId");
    log_history::load_all(&endpoint.state)
        .into_iter()
        .filter(|r| r.started >= from)
        .filter(|r| id.is_none_or(|i| r.id == i))
        .map(|r| r.to_value(id.is_some()))
        .collect()
}

fn configuration(endpoint: &Endpoint) -> Value {
    let s = &endpoint.log_settings;
    let dest = s.vendor_destination();
    let mut r = Record::new("AzureStack.SupportConfiguration");
    r = match &dest {
        Ok(sas) => r
            .with("VendorUploadDestination", sas.redacted())
            .with("Account", sas.account().to_string())
            .with("Container", sas.container().to_string())
            .with("Permissions", sas.permissions())
            .with("Expires", sas.expiry()),
        Err(e) => r
            .with("VendorUploadDestination", format!("(none: {e})"))
            .with("Account", Value::Null)
            .with("Container", Value::Null)
            .with("Permissions", Value::Null)
            .with("Expires", Value::Null),
    };
    r.with("ObfuscationRequired", s.obfuscate)
        .with("ObfuscationKeywords", s.keywords.len() as i64)
        .with("BlockSizeMB", (s.upload.block_size >> 20) as i64)
        .with("ParallelRequests", s.upload.parallel as i64)
        .with(
            "UploadCapMbps",
            s.upload
                .max_bytes_per_sec
                .map(|b| Value::Int(i64::try_from(b * 8 / 1_000_000).unwrap_or(i64::MAX))),
        )
        .with("PartSizeMB", (s.part_bytes >> 20) as i64)
        .into()
}

fn obfuscation_map(endpoint: &Endpoint) -> Result<Vec<Value>, String> {
    let path = endpoint.state.obfuscation_map();
    if !path.exists() {
        return Ok(Vec::new());
    }
    let o = azs_support::logs::obfuscate::Obfuscator::open(
        &path,
        azs_support::logs::obfuscate::ObfuscationRules::default(),
    )
    .map_err(|e| format!("the obfuscation map cannot be read: {e}"))?;
    Ok(o.entries()
        .into_iter()
        .map(|e| {
            Record::new("AzureStack.ObfuscationEntry")
                .with("Kind", e.kind.to_string())
                .with("Original", e.original)
                .with("Replacement", e.replacement)
                .into()
        })
        .collect())
}
