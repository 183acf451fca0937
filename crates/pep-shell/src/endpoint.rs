//! The endpoint: what every session shares — catalog, stamp, consent, state directory, clock and
//! limits — and how the banner names it. Built once at start-up; a bad catalog or scenario stops the server here, with a message
//! naming the file and entry.

use crate::clock::Clock;
use crate::consent::Consent;
use crate::state::StateDir;
use anyhow::{Context, Result};
use azs_support::catalog::{self, Catalog, Profile};
use azs_support::stamp::persist::StampStore;
use std::path::PathBuf;
use std::sync::Arc;

/// Default working-directory quota: 1 GiB.
pub const DEFAULT_WORKDIR_QUOTA: u64 = 1 << 30;

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
}

/// Server-wide state.
pub struct Endpoint {
    /// The commands served.
    pub catalog: Catalog,
    /// The stamp commands run against (repairs change it and it is saved in the state directory).
    pub stamp: StampStore,
    /// Remote-support grants.
    pub consent: Consent,
    /// Where state lives.
    pub state: StateDir,
    /// The clock.
    pub clock: Clock,
    /// Working-directory quota in bytes.
    pub workdir_quota: u64,
}

impl Endpoint {
    /// Loads everything; errors are fit to print and exit on.
    pub fn open(opts: &EndpointOptions, clock: Clock) -> Result<Arc<Self>> {
        let state = StateDir::open(&opts.state)?;
        let catalog = match &opts.catalog {
            Some(dir) => catalog::load_dir(dir, opts.profile),
            None => catalog::load_embedded(opts.profile),
        }
        .map_err(|e| anyhow::anyhow!("the command catalog is invalid: {e}"))?;
        let stamp = StampStore::open(&state.stamp(), &opts.scenario, opts.reset_stamp)
            .map_err(|e| anyhow::anyhow!("the stamp could not be loaded: {e}"))?;
        let consent = Consent::open(&state.consent(), clock).context("loading consent")?;
        Ok(Arc::new(Endpoint {
            catalog,
            stamp,
            consent,
            state,
            clock,
            workdir_quota: opts.workdir_quota,
        }))
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
            Profile::AzsHub | Profile::All => {
                format!("privileged endpoint on {}", stamp.pep_node())
            }
        }
    }
}
