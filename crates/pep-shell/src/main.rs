//! The `pep` binary: `pep serve` runs the endpoint; `pep identity` manages who may connect.

use anyhow::{Context, Result};
use azs_support::catalog::Profile;
use azs_support::stamp::scenario;
use clap::{Parser, Subcommand, ValueEnum};
use pep_shell::clock::Clock;
use pep_shell::endpoint::{Endpoint, EndpointOptions, DEFAULT_WORKDIR_QUOTA};
use pep_shell::identity::{IdentityStore, Role};
use pep_shell::server::{self, Limits, DEFAULT_IDLE_TIMEOUT};
use pep_shell::state::StateDir;
use pep_shell::{history, host_key};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "pep",
    version,
    about = "Privileged endpoint for remote vendor support, served over SSH"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the endpoint (defaults: 127.0.0.1:2222, ./pep-state, the embedded default stamp).
    Serve {
        /// Address to listen on (loopback by default).
        #[arg(long, default_value = "127.0.0.1:2222")]
        listen: SocketAddr,
        /// State directory (created if missing).
        #[arg(long, default_value = "pep-state")]
        state: PathBuf,
        /// Scenario defining the stamp: a file, or the name of one compiled in (default, csv-offline,
        /// ...). Without it, the profile's stamp: `default` (azs-hub) or `azure-local`.
        #[arg(long)]
        scenario: Option<String>,
        /// Discard the stamp the state directory keeps (repairs included) and load the scenario afresh.
        #[arg(long)]
        reset_stamp: bool,
        /// Catalog directory (default: the catalog compiled into pep).
        #[arg(long)]
        catalog: Option<PathBuf>,
        /// Command set to serve.
        #[arg(long, value_enum, default_value_t = ProfileArg::AzsHub)]
        profile: ProfileArg,
        /// Working-directory quota per session, in MiB.
        #[arg(long, default_value_t = DEFAULT_WORKDIR_QUOTA >> 20)]
        workdir_quota_mb: u64,
        /// Connections still authenticating at once; more are closed at accept.
        #[arg(long, default_value_t = 64)]
        max_unauthenticated: usize,
        /// Seconds a client has to authenticate.
        #[arg(long, default_value_t = 30)]
        login_grace_secs: u64,
        /// Seconds an interactive session may sit without input before it ends (0: never).
        #[arg(long, default_value_t = DEFAULT_IDLE_TIMEOUT.as_secs())]
        idle_timeout_secs: u64,
    },
    /// Manage the identities that may connect.
    Identity {
        #[command(subcommand)]
        action: IdentityAction,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ProfileArg {
    /// Azure Stack Hub: Azs.Support and the privileged endpoint's commands.
    AzsHub,
    /// Azure Local / Azure Stack HCI: the node's cluster, storage and compute commands.
    AzureLocal,
}

#[derive(Subcommand)]
enum IdentityAction {
    /// Register a public key as an operator or support identity.
    Add {
        #[arg(long, default_value = "pep-state")]
        state: PathBuf,
        #[arg(long, value_parser = ["operator", "support"])]
        role: String,
        #[arg(long)]
        name: String,
        /// OpenSSH public key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// List identities.
    List {
        #[arg(long, default_value = "pep-state")]
        state: PathBuf,
    },
    /// Remove an identity by name.
    Remove {
        #[arg(long, default_value = "pep-state")]
        state: PathBuf,
        #[arg(long)]
        name: String,
    },
}

fn main() {
    if let Err(e) = run() {
        eprintln!("pep: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            listen,
            state,
            scenario,
            reset_stamp,
            catalog,
            profile,
            workdir_quota_mb,
            max_unauthenticated,
            login_grace_secs,
            idle_timeout_secs,
        } => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info".into()),
                )
                .with_writer(std::io::stderr)
                .init();
            let profile = match profile {
                ProfileArg::AzsHub => Profile::AzsHub,
                ProfileArg::AzureLocal => Profile::AzureLocal,
            };
            let opts = EndpointOptions {
                state,
                scenario: scenario.unwrap_or_else(|| scenario::default_for(profile).to_string()),
                reset_stamp,
                catalog,
                profile,
                workdir_quota: workdir_quota_mb.saturating_mul(1 << 20),
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let limits = Limits {
                max_unauthenticated: max_unauthenticated.max(1),
                login_grace: Duration::from_secs(login_grace_secs.max(1)),
                idle_timeout: (idle_timeout_secs > 0)
                    .then(|| Duration::from_secs(idle_timeout_secs)),
                ..Limits::default()
            };
            runtime.block_on(serve(listen, opts, limits))
        }
        Command::Identity { action } => identity(action),
    }
}

async fn serve(listen: SocketAddr, opts: EndpointOptions, limits: Limits) -> Result<()> {
    let endpoint = Endpoint::open(&opts, Clock::system())?;
    let key = host_key::load_or_create(&endpoint.state.host_key())?;
    let removed = history::maintain(&endpoint.state, endpoint.clock.now());
    if removed > 0 {
        tracing::info!(removed, "removed sessions past the 90-day retention");
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let local = listener.local_addr()?;
    let state_dir = endpoint.state.root().display().to_string();
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "pep listening on {local} (node {}, profile {}, {} commands, state {state_dir})",
            endpoint.stamp.read().pep_node(),
            endpoint.catalog.profile().as_str(),
            endpoint.catalog.commands().len()
        )?;
        writeln!(out, "  add yourself:  pep identity add --state {state_dir} --role operator --name NAME --key ~/.ssh/id_ed25519.pub")?;
        writeln!(
            out,
            "  connect:       ssh -p {} -i ~/.ssh/id_ed25519 operator@{}",
            local.port(),
            local.ip()
        )?;
        out.flush()?;
    }
    let maint = endpoint.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(24 * 3600));
        tick.tick().await;
        loop {
            tick.tick().await;
            history::maintain(&maint.state, maint.clock.now());
        }
    });
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    };
    server::serve(listener, endpoint, key, limits, shutdown).await
}

fn identity(action: IdentityAction) -> Result<()> {
    match action {
        IdentityAction::Add {
            state,
            role,
            name,
            key,
        } => {
            let state = StateDir::open(&state)?;
            let role: Role = role.parse()?;
            let line = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            let id = IdentityStore::add(&state.identities(), &name, role, &line)?;
            println!(
                "added {} ({}) {}",
                id.name,
                id.role.as_str(),
                id.fingerprint
            );
        }
        IdentityAction::List { state } => {
            let state = StateDir::open(&state)?;
            let all = IdentityStore::load(&state.identities())?;
            println!("{:<24} {:<9} {:<52} ADDED", "NAME", "ROLE", "FINGERPRINT");
            for i in all {
                println!(
                    "{:<24} {:<9} {:<52} {}",
                    i.name,
                    i.role.as_str(),
                    i.fingerprint,
                    i.added_at.format("%Y-%m-%d %H:%M:%SZ")
                );
            }
        }
        IdentityAction::Remove { state, name } => {
            let state = StateDir::open(&state)?;
            if IdentityStore::remove(&state.identities(), &name)? {
                println!("removed {name}");
            } else {
                anyhow::bail!("no identity named '{name}'");
            }
        }
    }
    Ok(())
}
