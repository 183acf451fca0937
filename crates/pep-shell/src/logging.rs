//! The server's own log (`pep serve` on stderr): which events are kept (`RUST_LOG`, default
//! `info`) and how each is written. This module owns that setup; what is logged stays with the
//! code that logs it.
//!
//! Design decision (issue 6 §7): the log is read by people at a terminal and, far more often, by
//! journald, a file or a collector. So colour codes are written only when stderr is a terminal
//! (`std::io::IsTerminal`) — a redirected log is plain text, never `\x1b[` sequences — and
//! `--log-format json` writes one JSON object per line, with the event's fields (`peer`,
//! `fingerprint`, ...) at the top level next to `timestamp`, `level`, `target` and `message`,
//! for collectors that parse rather than grep.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// How log lines are written (`pep serve --log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event; coloured only on a terminal.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber writing to stderr. Call once, before anything logs.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().flatten_event(true).with_ansi(false).init(),
    }
}
