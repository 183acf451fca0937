//! The endpoint: what every session shares — catalog and the handlers bound to it, stamp, consent,
//! state directory, clock and limits — and how the banner names it. Built once at start-up; a bad
//! catalog (an entry without a handler, a handler without an entry) or scenario stops the server
//! here, with a message naming the file and entry.

use crate::bounds::LineLimits;
use crate::clock::Clock;
use crate::consent::Consent;
use crate::handlers::Handlers;
use crate::identity_watch::IdentityWatch;
use crate::log_settings::LogSettings;
use crate::redact::Redactor;
use crate::state::StateDir;
use anyhow::{Context, Result};
use azs_support::catalog::{self, Catalog, Profile};
use azs_support::disk_budget::DiskBudget;
use azs_support::stamp::persist::StampStore;
use azs_support::workdir::WorkdirParent;
use std::path::PathBuf;
use std::sync::Arc;

/// Default working-directory quota: 1 GiB.
pub const DEFAULT_WORKDIR_QUOTA: u64 = 1 << 30;
/// Default disk budget of all working directories and transcripts together: 10 GiB.
pub const DEFAULT_STATE_BUDGET: u64 = 10 << 30;
/// Default free space kept on the state directory's file system: 64 MiB.
pub const DEFAULT_STATE_HEADROOM: u64 = 64 << 20;

/// How the endpoint is set up.
#[derive(Debug, Clone)]
pub struct EndpointOptions {
    /// State directory.
    pub state: PathBuf,
    /// Scenario: a file path, or the name of a scenario compiled in (`default`, `csv-offline`).
    pub scenario: String,
    /// Discard the stamp kept in the state directory and start from the scenario afresh.
    pub reset_stamp: bool,
    /// Catalog directory; the embedded catalog when absent.
    pub catalog: Option<PathBuf>,
    /// Which command set to serve.
    pub profile: Profile,
    /// Per-session working-directory quota in bytes.
    pub workdir_quota: u64,
    /// Bytes all working directories and transcripts may take together.
    pub state_budget: u64,
    /// Bytes kept free on the state directory's file system (see `azs_support::disk_budget`).
    pub state_headroom: u64,
    /// What one line and one session may grow to.
    pub line_limits: LineLimits,
    /// Extra redaction patterns (`--redact-pattern`), added to the built-in ones.
    pub redact_patterns: Vec<String>,
    /// How logs leave the endpoint.
    pub log_settings: LogSettings,
    /// The real machine's programs run through this prefix (tests: `nsenter -t PID -a --`).
    pub host_command_prefix: Vec<String>,
    /// Folders file commands may read beneath on the machine (empty: the defaults).
    pub host_read_roots: Vec<PathBuf>,
    /// Folders file commands may remove files beneath on the machine (empty: the defaults).
    pub host_remove_roots: Vec<PathBuf>,
}

impl Default for EndpointOptions {
    fn default() -> Self {
        EndpointOptions {
            state: PathBuf::from("pep-state"),
            scenario: "default".into(),
            reset_stamp: false,
            catalog: None,
            profile: Profile::AzsHub,
            workdir_quota: DEFAULT_WORKDIR_QUOTA,
            state_budget: DEFAULT_STATE_BUDGET,
            state_headroom: DEFAULT_STATE_HEADROOM,
            line_limits: LineLimits::default(),
            redact_patterns: Vec::new(),
            log_settings: LogSettings::default(),
            host_command_prefix: Vec::new(),
            host_read_roots: Vec::new(),
            host_remove_roots: Vec::new(),
        }
    }
}

/// Server-wide state.
pub struct Endpoint {
    /// The commands served.
    pub catalog: Catalog,
    /// What runs each of them, bound when the catalog loaded.
    pub handlers: Handlers,
    /// The stamp commands run against (repairs change it and it is saved in the state directory).
    pub stamp: StampStore,
    /// Remote-support grants.
    pub consent: Consent,
    /// Where state lives.
    pub state: StateDir,
    /// The clock.
    pub clock: Clock,
    /// The parent of every session's working directory (quota, disk budget, live directories).
    pub workdirs: Arc<WorkdirParent>,
    /// The disk budget of working directories and transcripts.
    pub budget: Arc<DiskBudget>,
    /// What one line and one session may grow to.
    pub limits: LineLimits,
    /// Removals of identities, seen by live sessions.
    pub identities: IdentityWatch,
    /// Set (with the message sessions end with) when the endpoint shuts down.
    pub shutdown: tokio::sync::watch::Sender<Option<String>>,
    /// Sessions started and not yet finished.
    pub live: std::sync::atomic::AtomicUsize,
    /// The pattern pass over everything recorded.
    pub redactor: Arc<Redactor>,
    /// How logs leave the endpoint.
    pub log_settings: LogSettings,
    /// Log collections running now, and how many may.
    pub log_jobs: crate::job_slots::JobSlots,
    /// The tamper-evident record of every security event.
    pub audit: crate::audit::AuditLog,
    /// The sessions live now, as operators oversee them.
    pub sessions: crate::live::LiveSessions,
}

impl Endpoint {
    /// Loads everything; errors are fit to print and exit on.
    pub fn open(opts: &EndpointOptions, clock: Clock) -> Result<Arc<Self>> {
        opts.log_settings.check()?;
        let redactor = Arc::new(Redactor::new(&opts.redact_patterns).map_err(anyhow::Error::msg)?);
        let state = StateDir::open(&opts.state)?;
        // Every profile's entries are bound, so that a handler whose entry only another profile
        // serves still has one; then the profile's catalog is kept.
        let all = match &opts.catalog {
            Some(dir) => catalog::load_dir_all(dir),
            None => catalog::all_embedded_commands(),
        }
        .map_err(|e| anyhow::anyhow!("the command catalog is invalid: {e}"))?;
        let handlers = Handlers::bind(&all)
            .map_err(|e| anyhow::anyhow!("the command catalog is invalid: {e}"))?;
        let catalog = Catalog::for_profile(opts.profile, all);
        let stamp = StampStore::open(&state.stamp(), &opts.scenario, opts.reset_stamp)
            .map_err(|e| anyhow::anyhow!("the stamp could not be loaded: {e}"))?;
        stamp.set_machine_command_prefix(&opts.host_command_prefix);
        for roots in [&opts.host_read_roots, &opts.host_remove_roots] {
            azs_support::host::linux::beneath::check_roots(roots)
                .map_err(|e| anyhow::anyhow!("--host-read-root/--host-remove-root: {e}"))?;
        }
        check_state_apart_from_roots(state.root(), opts)?;
        stamp.set_machine_file_roots(&opts.host_read_roots, &opts.host_remove_roots);
        let consent = Consent::open(&state.consent(), clock).context("loading consent")?;
        let budget = Arc::new(
            DiskBudget::open(
                state.root(),
                &[state.workdirs(), state.transcripts(), state.recordings()],
                opts.state_budget,
                opts.state_headroom,
            )
            .context("measuring the state directory")?,
        );
        let identities = state.identities();
        let workdirs = WorkdirParent::new(&state.workdirs(), opts.workdir_quota, budget.clone());
        Ok(Arc::new(Endpoint {
            catalog,
            handlers,
            stamp,
            consent,
            state: state.clone(),
            clock,
            workdirs,
            budget,
            limits: opts.line_limits,
            identities: IdentityWatch::new(&identities),
            shutdown: tokio::sync::watch::channel(None).0,
            live: std::sync::atomic::AtomicUsize::new(0),
            redactor,
            log_settings: opts.log_settings.clone(),
            log_jobs: crate::job_slots::JobSlots::new(opts.log_settings.max_collections),
            audit: crate::audit::AuditLog::open(&state).context("opening the audit log")?,
            sessions: crate::live::LiveSessions::default(),
        }))
    }

    /// Sessions started and not yet finished.
    pub fn live_sessions(&self) -> usize {
        self.live.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// What the session banner calls this endpoint, naming the node it runs on: the privileged
    /// endpoint on an ERCS VM (Azure Stack Hub), or remote support on a node of an Azure Local
    /// cluster.
    pub fn describe(&self) -> String {
        let stamp = self.stamp.read();
        match self.catalog.profile() {
            Profile::AzureLocal => format!(
                "remote support on {} (cluster {})",
                stamp.pep_node(),
                stamp.cluster.name
            ),
            Profile::Linux => format!("remote support on {}", stamp.pep_node()),
            Profile::AzsHub | Profile::All => {
                format!("privileged endpoint on {}", stamp.pep_node())
            }
        }
    }
}

/// Refuses to serve when the state directory and the folders file commands read or remove
/// beneath on this machine (the operator's roots, or the defaults, and `/var/log` for rotated
/// logs) overlap: support would reach the endpoint's own keys, grants and audit through them.
fn check_state_apart_from_roots(state: &std::path::Path, opts: &EndpointOptions) -> Result<()> {
    use azs_support::host::linux::{beneath, file_ops};
    use azs_support::host::{DEFAULT_READ_ROOTS, DEFAULT_REMOVE_ROOTS};
    let or_defaults = |given: &[PathBuf], defaults: &[&str]| -> Vec<PathBuf> {
        if given.is_empty() {
            defaults.iter().map(PathBuf::from).collect()
        } else {
            given.to_vec()
        }
    };
    let read = or_defaults(&opts.host_read_roots, DEFAULT_READ_ROOTS);
    let mut remove = or_defaults(&opts.host_remove_roots, DEFAULT_REMOVE_ROOTS);
    remove.push(PathBuf::from(file_ops::LOG_ROOT));
    beneath::check_apart(state, &read, "host read root").map_err(anyhow::Error::msg)?;
    beneath::check_apart(state, &remove, "host remove root").map_err(anyhow::Error::msg)?;
    Ok(())
}
