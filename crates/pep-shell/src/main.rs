//! The `pep` binary: `pep serve` runs the endpoint; `pep identity` manages who may connect.
//!
//! Exit codes: 0 done; 1 failed (the state directory cannot be read, a port is taken, ...);
//! 2 usage error (an unknown flag, a bad value, a configuration file that does not read);
//! 3 the check found problems (`pep audit verify` on a broken log, `pep check` with a problem).
//! Over SSH, a command in an exec session exits 0, 1 when it failed, 2 when the line could not
//! be read (syntax, unknown command or parameter) and 3 when it was refused (role, access level,
//! no grant).

use anyhow::{Context, Result};
use azs_support::catalog::Profile;
use azs_support::logs::blob::UploadOptions;
use azs_support::stamp::scenario;
use clap::parser::ValueSource;
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use pep_shell::admission::AdmissionLimits;
use pep_shell::bounds::LineLimits;
use pep_shell::clock::Clock;
use pep_shell::endpoint::{
    Endpoint, EndpointOptions, DEFAULT_STATE_BUDGET, DEFAULT_STATE_HEADROOM, DEFAULT_WORKDIR_QUOTA,
};
use pep_shell::identity::{IdentityStore, Role};
use pep_shell::log_settings::LogSettings;
use pep_shell::logging::{self, LogFormat};
use pep_shell::server::{self, Limits, DEFAULT_IDLE_TIMEOUT};
use pep_shell::ssh_algorithms::KexPolicy;
use pep_shell::state::StateDir;
use pep_shell::{history, host_key};
use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Exit status of a failure.
const EXIT_FAILURE: i32 = 1;
/// Exit status of a usage error (clap's own).
const EXIT_USAGE: i32 = 2;
/// Exit status of a check that found problems.
const EXIT_PROBLEMS: i32 = 3;

#[derive(Parser)]
#[command(
    name = "pep",
    version,
    about = "Privileged endpoint for remote vendor support, served over SSH",
    after_help = "Exit codes: 0 done, 1 failed, 2 usage error (flags, configuration file), 3 a check found problems (pep check, pep audit verify).\nFirst run: see README.md, \"The first ten minutes\"."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start: the size of the `serve` variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the endpoint (defaults: 127.0.0.1:2222, ./pep-state, the embedded default stamp).
    Serve {
        /// A configuration file (TOML) setting any of these flags; flags given here win.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
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
        /// Disk budget of all working directories and transcripts together, in MiB.
        #[arg(long, default_value_t = DEFAULT_STATE_BUDGET >> 20)]
        state_budget_mb: u64,
        /// Free space kept on the state directory's file system for consent, identities and
        /// history, in MiB (support writes that would eat into it are refused).
        #[arg(long, default_value_t = DEFAULT_STATE_HEADROOM >> 20)]
        state_headroom_mb: u64,
        /// Commands in one pipeline.
        #[arg(long, default_value_t = LineLimits::default().max_pipeline)]
        max_pipeline: usize,
        /// Size of the values between two pipeline stages, in MiB.
        #[arg(long, default_value_t = LineLimits::default().max_value_bytes >> 20)]
        max_value_mb: usize,
        /// Text one line may output, in MiB.
        #[arg(long, default_value_t = LineLimits::default().max_output_bytes >> 20)]
        max_output_mb: usize,
        /// Size of one session's transcript, in MiB.
        #[arg(long, default_value_t = LineLimits::default().max_transcript_bytes >> 20)]
        max_transcript_mb: u64,
        /// Connections at once (authenticated or not).
        #[arg(long, default_value_t = 1024)]
        max_connections: usize,
        /// Connections still authenticating at once (stalled ones are evicted for newcomers).
        #[arg(long, default_value_t = AdmissionLimits::default().max_unauthenticated)]
        max_unauthenticated: usize,
        /// Connections still authenticating from one source address.
        #[arg(long, default_value_t = AdmissionLimits::default().per_source)]
        max_unauthenticated_per_source: usize,
        /// A regular expression whose matches are replaced by *** in transcripts, beside the
        /// built-in ones (SAS signatures, token parameters). Repeatable; a pattern that does not
        /// compile stops the server.
        #[arg(long = "redact-pattern", value_name = "REGEX")]
        redact_patterns: Vec<String>,
        /// Connections one identity may hold at once.
        #[arg(long, default_value_t = AdmissionLimits::default().per_identity)]
        max_connections_per_identity: usize,
        /// Seconds a client has to authenticate.
        #[arg(long, default_value_t = 30)]
        login_grace_secs: u64,
        /// Seconds an interactive session may sit without input before it ends (0: never).
        #[arg(long, default_value_t = DEFAULT_IDLE_TIMEOUT.as_secs())]
        idle_timeout_secs: u64,
        /// Key exchanges offered: `compatible` adds curve25519 for clients without ML-KEM
        /// (OpenSSH before 9.9); `post-quantum` offers only mlkem768x25519-sha256.
        #[arg(long, value_enum, default_value_t = KexPolicy::Compatible)]
        kex: KexPolicy,
        /// A file holding the vendor's blob container SAS URL (mode 0600): the only destination of
        /// Send-AzureStackDiagnosticLog. Read at start and at each upload; never logged.
        #[arg(long, value_name = "PATH")]
        vendor_upload_sas_file: Option<PathBuf>,
        /// Obfuscate everything that leaves the endpoint (host names, IP and MAC addresses, user
        /// names, listed keywords); the map stays in the state directory.
        #[arg(long)]
        obfuscate_logs: bool,
        /// A word to obfuscate in logs that leave the endpoint (repeatable).
        #[arg(long = "obfuscation-keyword", value_name = "WORD")]
        obfuscation_keywords: Vec<String>,
        /// Upload bandwidth cap in megabits per second (0: none).
        #[arg(long, default_value_t = 0)]
        upload_cap_mbps: u64,
        /// Upload block size in MiB (Put Block).
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=100))]
        upload_block_mb: u64,
        /// A bundle file up to this size, in MiB, is sent in one request when the destination
        /// holds none of its blocks (0: always in blocks).
        #[arg(long, default_value_t = 64)]
        upload_single_put_mb: u64,
        /// Upload requests in flight per blob.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=64))]
        upload_parallel: u64,
        /// A role's zip is split into parts above this size, in MiB.
        #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
        log_part_mb: u64,
        /// Runs the real machine's programs (systemctl, journalctl, dumpcap, ...) through this
        /// prefix, split on spaces (tests: `nsenter -t PID -a --` reaches a systemd container).
        #[arg(long, hide = true)]
        host_command_prefix: Option<String>,
        /// A folder on this machine that file commands may read beneath (repeatable; default
        /// /var/log, /var/crash, /var/lib/systemd/coredump).
        #[arg(long = "host-read-root", value_name = "DIR")]
        host_read_roots: Vec<PathBuf>,
        /// A folder on this machine beneath which file commands may remove files (repeatable;
        /// default /var/crash, /var/lib/systemd/coredump; rotated logs in /var/log always).
        #[arg(long = "host-remove-root", value_name = "DIR")]
        host_remove_roots: Vec<PathBuf>,
        /// A systemd unit on this machine that no one may start, stop or restart through pep, nor
        /// stop, dump or trace the processes of (repeatable; `NAME@.service` covers every
        /// instance). Added to the built-in ones: remote access, the network, the firewall, the
        /// audit and system logs, systemd's own, pep and the unit pep runs in.
        #[arg(long = "host-protect-unit", value_name = "UNIT", value_parser = protected_unit_arg)]
        host_protect_units: Vec<String>,
        /// Log collections that may run at once; more are refused until one ends.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
        max_log_collections: u64,
        /// Log line format on stderr (text is coloured only on a terminal).
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// Days the audit log keeps a line (0: forever). The daily sweep removes older lines up
        /// to the last signed checkpoint among them, and records that it did.
        #[arg(long, default_value_t = 0)]
        audit_retention_days: u32,
    },
    /// Manage the identities that may connect.
    Identity {
        #[command(subcommand)]
        action: IdentityAction,
    },
    /// Manage the vendor keys whose signed tokens may elevate an operator's session.
    VendorKey {
        #[command(subcommand)]
        action: VendorKeyAction,
    },
    /// Check the audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Print the host key's fingerprint, or its known_hosts line with --host (creates the key if
    /// the state directory has none yet, as the first `pep serve` would).
    HostKey {
        /// State directory (created if missing).
        #[arg(long, default_value = "pep-state")]
        state: PathBuf,
        /// The name or address clients use: prints the known_hosts line for it.
        #[arg(long)]
        host: Option<String>,
        /// The port clients use.
        #[arg(long, default_value_t = 2222)]
        port: u16,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to standard output.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the man pages (pep.1, pep-serve.1, ...) into a folder, or print pep.1.
    Man {
        /// Folder to write every page into (default: pep.1 on standard output).
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Report what to know before going live: host key, identities, vendor keys, grant, disk,
    /// audit log, upload destination, SSH algorithms. Exits 3 when something failed.
    Check(pep_shell::check::CheckArgs),
    /// Install pep as a hardened systemd service (writes, enables and starts the unit).
    Install(pep_shell::install::InstallArgs),
    /// Stop and remove the systemd service; the state directory stays unless --purge.
    Uninstall(pep_shell::install::UninstallArgs),
}

#[derive(Subcommand)]
enum VendorKeyAction {
    /// Register a vendor's public key (OpenSSH format: ed25519, ECDSA, RSA of 2048 bits or more).
    Add {
        /// State directory (created if missing).
        #[arg(long, default_value = "pep-state")]
        state: PathBuf,
        /// The vendor's name.
        #[arg(long)]
        name: String,
        /// OpenSSH public key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// List the vendor keys.
    List {
        /// State directory (must exist).
        #[arg(long, default_value = "pep-state")]
        state: PathBuf,
    },
    /// Remove a vendor's key by name.
    Remove {
        /// State directory (must exist).
        #[arg(long, default_value = "pep-state")]
        state: PathBuf,
        /// The vendor's name.
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Verify the audit log's hash chain and signed checkpoints; exits 0 when intact, 3 naming
    /// the first bad line otherwise.
    Verify {
        /// State directory (must exist).
        #[arg(long, default_value = "pep-state")]
        state: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ProfileArg {
    /// Azure Stack Hub: Azs.Support and the privileged endpoint's commands.
    AzsHub,
    /// Azure Local / Azure Stack HCI: the node's cluster, storage and compute commands.
    AzureLocal,
    /// The Linux machine pep runs on: its processes, services, disks, events, packet traces and
    /// process dumps, with consent, history and logs.
    Linux,
}

#[derive(Subcommand)]
enum IdentityAction {
    /// Register a public key as an operator or support identity.
    Add {
        /// State directory (created if missing).
        #[arg(long, default_value = "pep-state")]
        state: PathBuf,
        #[arg(long, value_parser = ["operator", "support", "observer"])]
        role: String,
        #[arg(long)]
        name: String,
        /// OpenSSH public key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// List identities.
    List {
        /// State directory (must exist).
        #[arg(long, default_value = "pep-state")]
        state: PathBuf,
    },
    /// Remove an identity by name.
    Remove {
        /// State directory (must exist).
        #[arg(long, default_value = "pep-state")]
        state: PathBuf,
        #[arg(long)]
        name: String,
    },
}

fn main() {
    let cli = parse();
    if let Err(e) = run(cli) {
        eprintln!("pep: {e:#}");
        std::process::exit(EXIT_FAILURE);
    }
}

/// The command line, with `pep serve --config FILE`'s settings for the flags not given on it.
/// Usage errors (of either) exit [`EXIT_USAGE`].
fn parse() -> Cli {
    let args: Vec<OsString> = std::env::args_os().collect();
    let command = Cli::command();
    let matches = command.clone().get_matches_from(&args);
    let config = match matches.subcommand() {
        Some(("serve", serve)) => serve
            .get_one::<PathBuf>("config")
            .map(|c| (c.clone(), serve)),
        _ => None,
    };
    let matches = match config {
        None => matches,
        Some((file, serve)) => {
            let flags: Vec<pep_shell::config_file::Flag> = command
                .find_subcommand("serve")
                .map(|c| c.get_arguments().collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                // Hidden flags are for tests, not for configuration files.
                .filter(|a| !a.is_hide_set())
                .filter_map(|a| {
                    let long = a.get_long()?.to_string();
                    let kind = match a.get_action() {
                        ArgAction::SetTrue => pep_shell::config_file::FlagKind::Switch,
                        ArgAction::Append => pep_shell::config_file::FlagKind::List,
                        _ => pep_shell::config_file::FlagKind::Value,
                    };
                    let on_command_line =
                        serve.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine);
                    Some(pep_shell::config_file::Flag {
                        long,
                        kind,
                        on_command_line,
                    })
                })
                .collect();
            let extra = pep_shell::config_file::arguments(&file, &flags).unwrap_or_else(|e| {
                eprintln!("pep: {e:#}");
                std::process::exit(EXIT_USAGE);
            });
            // The file's flags go right after `serve`, before the command line's own.
            let at = args
                .iter()
                .position(|a| a == "serve")
                .map_or(args.len(), |i| i + 1);
            let mut all = args[..at].to_vec();
            all.extend(extra);
            all.extend_from_slice(&args[at..]);
            command.get_matches_from(all)
        }
    };
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve {
            config: _,
            listen,
            state,
            scenario,
            reset_stamp,
            catalog,
            profile,
            workdir_quota_mb,
            state_budget_mb,
            state_headroom_mb,
            max_pipeline,
            max_value_mb,
            max_output_mb,
            max_transcript_mb,
            max_connections,
            max_unauthenticated,
            max_unauthenticated_per_source,
            max_connections_per_identity,
            redact_patterns,
            login_grace_secs,
            idle_timeout_secs,
            kex,
            log_format,
            vendor_upload_sas_file,
            obfuscate_logs,
            obfuscation_keywords,
            upload_cap_mbps,
            upload_block_mb,
            upload_parallel,
            upload_single_put_mb,
            log_part_mb,
            max_log_collections,
            host_command_prefix,
            host_read_roots,
            host_remove_roots,
            host_protect_units,
            audit_retention_days,
        } => {
            logging::init(log_format);
            azs_support::host::linux::systemd::protect_units(&host_protect_units)
                .map_err(|e| anyhow::anyhow!("--host-protect-unit: {e}"))?;
            let profile = match profile {
                ProfileArg::AzsHub => Profile::AzsHub,
                ProfileArg::AzureLocal => Profile::AzureLocal,
                ProfileArg::Linux => Profile::Linux,
            };
            let opts = EndpointOptions {
                state,
                scenario: scenario.unwrap_or_else(|| scenario::default_for(profile).to_string()),
                reset_stamp,
                catalog,
                profile,
                workdir_quota: workdir_quota_mb.saturating_mul(1 << 20),
                state_budget: state_budget_mb.saturating_mul(1 << 20),
                state_headroom: state_headroom_mb.saturating_mul(1 << 20),
                line_limits: LineLimits {
                    max_pipeline: max_pipeline.max(1),
                    max_value_bytes: max_value_mb.max(1).saturating_mul(1 << 20),
                    max_output_bytes: max_output_mb.max(1).saturating_mul(1 << 20),
                    max_transcript_bytes: max_transcript_mb.max(1).saturating_mul(1 << 20),
                },
                redact_patterns,
                host_command_prefix: host_command_prefix
                    .map(|p| p.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default(),
                host_read_roots,
                host_remove_roots,
                log_settings: LogSettings {
                    vendor_sas_file: vendor_upload_sas_file,
                    obfuscate: obfuscate_logs,
                    keywords: obfuscation_keywords,
                    upload: UploadOptions {
                        block_size: usize::try_from(upload_block_mb << 20).unwrap_or(8 << 20),
                        parallel: usize::try_from(upload_parallel).unwrap_or(8),
                        single_put_max: upload_single_put_mb.saturating_mul(1 << 20),
                        max_bytes_per_sec: (upload_cap_mbps > 0)
                            .then(|| upload_cap_mbps.saturating_mul(1_000_000) / 8),
                        ..UploadOptions::default()
                    },
                    part_bytes: log_part_mb.saturating_mul(1 << 20),
                    max_collections: usize::try_from(max_log_collections).unwrap_or(2),
                },
            };
            raise_descriptor_limit();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let limits = Limits {
                max_connections: max_connections.max(1),
                admission: AdmissionLimits {
                    max_unauthenticated: max_unauthenticated.max(1),
                    per_source: max_unauthenticated_per_source.max(1),
                    per_identity: max_connections_per_identity.max(1),
                    ..AdmissionLimits::default()
                },
                login_grace: Duration::from_secs(login_grace_secs.max(1)),
                idle_timeout: (idle_timeout_secs > 0)
                    .then(|| Duration::from_secs(idle_timeout_secs)),
                kex,
            };
            let audit_retention = (audit_retention_days > 0)
                .then(|| chrono::Duration::days(audit_retention_days.into()));
            runtime.block_on(serve(listen, opts, limits, audit_retention))
        }
        Command::Identity { action } => identity(action),
        Command::Audit {
            action: AuditAction::Verify { state },
        } => audit_verify(&state),
        Command::VendorKey { action } => vendor_key(action),
        Command::HostKey { state, host, port } => host_key_command(&state, host.as_deref(), port),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "pep", &mut std::io::stdout());
            Ok(())
        }
        Command::Man { out_dir } => man_pages(out_dir.as_deref()),
        Command::Check(args) => {
            let findings = pep_shell::check::check(&args);
            for f in &findings {
                println!("{f}");
            }
            if findings
                .iter()
                .any(|f| f.level == pep_shell::check::Level::Fail)
            {
                std::process::exit(EXIT_PROBLEMS);
            }
            Ok(())
        }
        Command::Install(args) => pep_shell::install::install(&args),
        Command::Uninstall(args) => pep_shell::install::uninstall(&args),
    }
}

/// `pep host-key`.
fn host_key_command(state: &Path, host: Option<&str>, port: u16) -> Result<()> {
    let state = StateDir::open(state)?;
    let key = host_key::load_or_create(&state.host_key())?;
    match host {
        Some(h) => println!("{}", host_key::known_hosts_line(&key, h, port)?),
        None => println!("{} (ed25519)", host_key::fingerprint(&key)),
    }
    Ok(())
}

/// `pep man`: pep.1 on standard output, or every page (pep.1, pep-serve.1, ...) into `dir`.
fn man_pages(dir: Option<&Path>) -> Result<()> {
    let command = Cli::command();
    match dir {
        None => clap_mangen::Man::new(command)
            .render(&mut std::io::stdout())
            .context("writing the man page"),
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("writing the man pages into {}", dir.display()))?;
            println!("man pages written to {}", dir.display());
            Ok(())
        }
    }
}

/// `pep audit verify`.
fn audit_verify(state: &std::path::Path) -> Result<()> {
    use pep_shell::audit_verify::{verify, Verdict};
    let state = StateDir::open_existing(state)?;
    let key = russh::keys::PrivateKey::read_openssh_file(state.host_key())
        .with_context(|| format!("reading the host key {}", state.host_key().display()))?;
    let log = pep_shell::audit::AuditLog::open(&state)?;
    match verify(&log.log_path(), &log.checkpoints_path(), key.public_key())
        .map_err(anyhow::Error::msg)?
    {
        Verdict::Intact {
            lines,
            checkpoints,
            covered,
        } => {
            println!(
                "intact: {lines} lines, {checkpoints} signed checkpoints (the last covers line {covered})"
            );
            Ok(())
        }
        Verdict::Broken { line, why } => {
            if line == 0 {
                println!("BROKEN: {why}");
            } else {
                println!("BROKEN at line {line}: {why}");
            }
            std::process::exit(EXIT_PROBLEMS);
        }
    }
}

/// `pep vendor-key add|list|remove`.
fn vendor_key(action: VendorKeyAction) -> Result<()> {
    use pep_shell::vendor_keys::VendorKeys;
    match action {
        VendorKeyAction::Add { state, name, key } => {
            let state = StateDir::open(&state)?;
            let line = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            let store = VendorKeys::at(&state.vendor_keys());
            let vk = store.add(&name, &line)?;
            let fields = serde_json::json!({
                "vendor": vk.name,
                "fingerprint": vk.fingerprint,
                "algorithm": vk.algorithm,
            });
            if let Err(e) = audit_cli(&state, "vendor_key_added", fields) {
                // Fail closed: a trust the audit log does not know does not stay.
                let _ = store.remove(&vk.name);
                return Err(e.context("the vendor key was not added"));
            }
            println!(
                "added vendor key {} {} {}",
                vk.name, vk.algorithm, vk.fingerprint
            );
        }
        VendorKeyAction::List { state } => {
            let state = StateDir::open_existing(&state)?;
            println!(
                "{:<24} {:<22} {:<52} ADDED",
                "NAME", "ALGORITHM", "FINGERPRINT"
            );
            for k in VendorKeys::at(&state.vendor_keys()).load()? {
                println!(
                    "{:<24} {:<22} {:<52} {}",
                    k.name,
                    k.algorithm,
                    k.fingerprint,
                    k.added_at.format("%Y-%m-%d %H:%M:%SZ")
                );
            }
        }
        VendorKeyAction::Remove { state, name } => {
            let state = StateDir::open_existing(&state)?;
            if !VendorKeys::at(&state.vendor_keys()).remove(&name)? {
                anyhow::bail!("no vendor key named '{name}'");
            }
            // A removal takes trust away: it stands even when it cannot be recorded.
            if let Err(e) = audit_cli(
                &state,
                "vendor_key_removed",
                serde_json::json!({"vendor": name}),
            ) {
                eprintln!(
                    "pep: warning: the removal could not be recorded in the audit log: {e:#}"
                );
            }
            println!("removed vendor key {name}");
        }
    }
    Ok(())
}

/// Records an identity change made from the command line.
fn audit_cli(state: &StateDir, kind: &str, fields: serde_json::Value) -> Result<()> {
    pep_shell::audit::AuditLog::open(state)?
        .append(chrono::Utc::now(), kind, fields)
        .map(|_| ())
}

async fn serve(
    listen: SocketAddr,
    opts: EndpointOptions,
    limits: Limits,
    audit_retention: Option<chrono::Duration>,
) -> Result<()> {
    // One server per state directory, held until this function returns; then, before anything is
    // written, the leftovers of atomic writes a killed process never finished.
    let state = StateDir::open(&opts.state)?;
    let _serve_lock = state.lock_for_serving()?;
    let stale = state.remove_stale_temp_files()?;
    if stale > 0 {
        tracing::info!(removed = stale, "removed unfinished temporary files");
    }
    let endpoint = Endpoint::open(&opts, Clock::system())?;
    let key = host_key::load_or_create(&endpoint.state.host_key())?;
    sweep(&endpoint, audit_retention);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let local = listener.local_addr()?;
    print_banner(&endpoint, &key, local)?;
    // Consent changes that could not be written (a full disk) are retried until saved.
    let retry = endpoint.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(pep_shell::consent::RETRY_SECS));
        loop {
            tick.tick().await;
            retry.consent.flush();
        }
    });
    let watch = endpoint.clone();
    tokio::spawn(async move { watch.identities.run().await });
    tokio::spawn(pep_shell::capture_reaper::run(endpoint.clone()));
    // The log's head is signed every few minutes, so a cut tail is found even between the
    // checkpoints its length brings.
    let audit = endpoint.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = audit.audit.checkpoint(audit.clock.now()) {
                tracing::error!(error = %e, "could not sign an audit checkpoint");
            }
        }
    });
    let maint = endpoint.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(24 * 3600));
        tick.tick().await;
        loop {
            tick.tick().await;
            sweep(&maint, audit_retention);
        }
    });
    // SIGINT and SIGTERM (what systemd and container runtimes send) stop the endpoint the same
    // way: every live session ends with the reason, its transcript and record are closed, and
    // the process exits 0.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    let shutdown = async move {
        let signal = tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        };
        tracing::info!(signal, "shutting down");
    };
    server::serve(listener, endpoint.clone(), key, limits, shutdown).await?;
    // Nothing the endpoint started on the machine outlives it: its packet captures (their
    // files complete) and system-call traces stop now.
    let captures = azs_support::host::linux::live_captures::stop_where(|_| true);
    let traces = azs_support::host::linux::syscall_trace::stop_where(|_| true);
    if captures + traces > 0 {
        tracing::info!(captures, traces, "stopped with the endpoint");
    }
    endpoint.consent.flush();
    if let Err(e) = endpoint.audit.checkpoint(endpoint.clock.now()) {
        tracing::error!(error = %e, "could not sign the audit log's last checkpoint");
    }
    Ok(())
}

/// What `pep serve` prints at every start: where it listens, the host key to verify the first
/// connection with, and commands that work as printed (this binary's path, the absolute state
/// directory). The first line's fourth word is the address (scripts and tests read it).
fn print_banner(
    endpoint: &Endpoint,
    key: &russh::keys::PrivateKey,
    local: SocketAddr,
) -> Result<()> {
    let root = endpoint.state.root();
    let state_path = std::fs::canonicalize(root)
        .unwrap_or_else(|_| root.to_path_buf())
        .display()
        .to_string();
    let pep_path = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "pep".into());
    // Quoted for a POSIX shell, so a path with a space or a quote still pastes as one word.
    let shell_word = |s: &str| {
        shlex::try_quote(s)
            .map(|q| q.into_owned())
            .unwrap_or_else(|_| s.to_string())
    };
    let (pep, state_dir) = (shell_word(&pep_path), shell_word(&state_path));
    // Clients of a wildcard address use the machine's name.
    let host = if local.ip().is_unspecified() {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into())
    } else {
        local.ip().to_string()
    };
    let port = local.port();
    let ssh_port = if port == 22 {
        String::new()
    } else {
        format!("-p {port} ")
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "pep listening on {local} (node {}, profile {}, {} commands, state {state_path})",
        endpoint.stamp.read().pep_node(),
        endpoint.catalog.profile().as_str(),
        endpoint.catalog.commands().len()
    )?;
    writeln!(
        out,
        "  host key:      {} (ed25519); ssh shows it on a first connection",
        host_key::fingerprint(key)
    )?;
    writeln!(
        out,
        "  known_hosts:   {}",
        host_key::known_hosts_line(key, &host, port)?
    )?;
    writeln!(
        out,
        "  trust it:      {pep} host-key --state {state_dir} --host {host} --port {port} >> ~/.ssh/known_hosts"
    )?;
    writeln!(
        out,
        "  add yourself:  {pep} identity add --state {state_dir} --role operator --name NAME --key ~/.ssh/id_ed25519.pub"
    )?;
    writeln!(
        out,
        "  connect:       ssh {ssh_port}-i ~/.ssh/id_ed25519 NAME@{host}"
    )?;
    out.flush()?;
    Ok(())
}

/// The retention sweep: sessions (records, transcripts, recordings), working directories and log
/// collection records past 90 days, grants ended more than 30 days ago; what it removed is logged
/// and written to the audit log.
fn sweep(endpoint: &Endpoint, audit_retention: Option<chrono::Duration>) {
    let now = endpoint.clock.now();
    // The audit log records its own pruning (an `audit_pruned` line).
    if let Some(keep) = audit_retention {
        if let Err(e) = endpoint.audit.prune(now - keep, now) {
            tracing::error!(error = %e, "could not remove audit lines past their retention");
        }
    }
    let sessions = history::maintain(&endpoint.state, now);
    let collections = pep_shell::log_history::maintain(&endpoint.state, now);
    let grants = endpoint.consent.sweep().unwrap_or_else(|e| {
        tracing::error!(error = %e, "could not sweep ended grants");
        0
    });
    if sessions + collections + grants == 0 {
        return;
    }
    tracing::info!(
        sessions,
        collections,
        grants,
        "removed what is past its retention (sessions 90 days, grants 30 days)"
    );
    let fields = serde_json::json!({
        "sessions": sessions,
        "log_collections": collections,
        "grants": grants,
    });
    if let Err(e) = endpoint.audit.append(now, "retention_swept", fields) {
        tracing::error!(error = %e, "the audit log cannot record the retention sweep");
    }
}

/// Connections hold descriptors: raise the soft limit to the hard one (bounded) so the caps in
/// `Limits` bind before the process runs out.
fn raise_descriptor_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let current = getrlimit(Resource::Nofile);
    let want = current.maximum.map_or(65_536, |m| m.min(65_536));
    if current.current.is_some_and(|c| c < want) {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(want),
                maximum: current.maximum,
            },
        );
    }
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
            let fields = serde_json::json!({
                "identity": id.name,
                "role": id.role.as_str(),
                "fingerprint": id.fingerprint,
            });
            if let Err(e) = audit_cli(&state, "identity_added", fields) {
                // Fail closed: an identity the audit log does not know does not stay.
                let _ = IdentityStore::remove(&state.identities(), &id.name);
                return Err(e.context("the identity was not added"));
            }
            println!(
                "added {} ({}) {}",
                id.name,
                id.role.as_str(),
                id.fingerprint
            );
        }
        IdentityAction::List { state } => {
            let state = StateDir::open_existing(&state)?;
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
            let state = StateDir::open_existing(&state)?;
            if IdentityStore::remove(&state.identities(), &name)? {
                // A removal takes access away: it stands even when it cannot be recorded.
                if let Err(e) = audit_cli(
                    &state,
                    "identity_removed",
                    serde_json::json!({"identity": name}),
                ) {
                    eprintln!(
                        "pep: warning: the removal could not be recorded in the audit log: {e:#}"
                    );
                }
                println!("removed {name}");
            } else {
                anyhow::bail!("no identity named '{name}'");
            }
        }
    }
    Ok(())
}

/// A `--host-protect-unit` value: a unit name (checked as the service commands check one).
fn protected_unit_arg(name: &str) -> Result<String, String> {
    azs_support::host::linux::systemd::protected_base(name).map(|_| name.to_string())
}
