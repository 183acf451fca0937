//! pep-shell: the privileged endpoint — an SSH-served restricted shell in JEA's no-language mode,
//! just-in-time consent, access gates, per-session transcripts and history.
//!
//! Layers, outermost first: `server` (SSH: bytes in, events out) → `shell` (one session: a line in,
//! a reply out) → `lang` (lexer, parser, binder, formatting) and `azs_support` (the catalog, the
//! stamp, the command implementations). `handlers` binds every catalog entry to what runs it when
//! the server starts (`endpoint`). `consent`, `identity`, `transcript` and `history` own the state
//! that outlives a session, under the `state` directory.

pub mod admission;
pub mod audit;
pub mod audit_prune;
pub mod audit_verify;
pub mod bounds;
pub mod builtins;
pub mod capture_reaper;
pub mod check;
pub mod clock;
pub mod config_file;
pub mod consent;
pub mod elevation;
pub mod endpoint;
pub mod handlers;
pub mod history;
pub mod host_key;
pub mod identity;
pub mod identity_watch;
pub mod install;
pub mod job;
pub mod job_slots;
pub mod lang;
pub mod line_editor;
pub mod live;
pub mod log_commands;
pub mod log_history;
pub mod log_settings;
pub mod logging;
pub mod operator_commands;
pub mod recording;
pub mod redact;
pub mod server;
pub mod session_end;
pub mod session_task;
pub mod shell;
pub mod ssh_algorithms;
pub mod state;
pub mod transcript;
pub mod transcript_shipping;
pub mod vendor_keys;
