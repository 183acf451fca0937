//! The operator's consent and history commands: Enable-RemoteSupport, Set-RemoteSupportAccess,
//! Disable-RemoteSupport, Get-RemoteSupportAccess and Get-RemoteSupportSessionHistory.
//!
//! They are the catalog entries with `handler = "operator"`, bound to [`COMMANDS`] when the server
//! starts. Gating (operators only) happened before these are called.

use crate::consent::{AccessLevel, Consent, DEFAULT_MINUTES};
use crate::history;
use crate::state::StateDir;
use azs_support::{BoundArgs, Value};
use chrono::{DateTime, Duration, Utc};

/// The data-handling terms shown before consent is given interactively.
pub const CONSENT_TERMS: &str = "\
Remote support consent
By approving this request, you grant the vendor's support organization access to this system
through this endpoint for the period you choose. Support engineers can run the diagnostic commands
(and, at DiagnosticsRepair, the repair commands) this endpoint serves; every session is
transcribed and kept for 90 days, and you can review it with Get-RemoteSupportSessionHistory.
Diagnostic data collected during a session stays in the session's working directory unless it is
uploaded for the support case. You can change the access with Set-RemoteSupportAccess and revoke it
at any time with Disable-RemoteSupport; revocation ends live support sessions at once.
Do you want to enable remote support?";

/// The confirmation prompt, as PowerShell's ShouldContinue shows it.
pub const CONSENT_PROMPT: &str = "[Y] Yes  [N] No  [?] Help (default is \"Y\"): ";

/// The consent and history commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorCommand {
    /// Enable-RemoteSupport.
    Enable,
    /// Set-RemoteSupportAccess.
    Set,
    /// Disable-RemoteSupport.
    Disable,
    /// Get-RemoteSupportAccess.
    GetAccess,
    /// Get-RemoteSupportSessionHistory.
    SessionHistory,
    /// Get-RemoteSupportSession.
    LiveSessions,
    /// Stop-RemoteSupportSession.
    StopSession,
    /// Watch-RemoteSupportSession (run by the session: it streams the watched screen).
    Watch,
}

/// Every command here under its catalog name (entries with `handler = "operator"`).
pub const COMMANDS: &[(&str, OperatorCommand)] = &[
    ("Enable-RemoteSupport", OperatorCommand::Enable),
    ("Set-RemoteSupportAccess", OperatorCommand::Set),
    ("Disable-RemoteSupport", OperatorCommand::Disable),
    ("Get-RemoteSupportAccess", OperatorCommand::GetAccess),
    (
        "Get-RemoteSupportSessionHistory",
        OperatorCommand::SessionHistory,
    ),
    ("Get-RemoteSupportSession", OperatorCommand::LiveSessions),
    ("Stop-RemoteSupportSession", OperatorCommand::StopSession),
    ("Watch-RemoteSupportSession", OperatorCommand::Watch),
];

fn level(args: &BoundArgs) -> Result<Option<AccessLevel>, String> {
    match args.str("AccessLevel") {
        None => Ok(None),
        Some(s) => AccessLevel::parse(s).map(Some).ok_or_else(|| {
            format!("-AccessLevel must be Diagnostics or DiagnosticsRepair, not '{s}'")
        }),
    }
}

/// Enable-RemoteSupport, after consent was given.
pub fn enable(consent: &Consent, args: &BoundArgs) -> Result<Vec<Value>, String> {
    let lvl = level(args)?.ok_or("-AccessLevel is required (Diagnostics or DiagnosticsRepair)")?;
    let minutes = args.int("ExpireInMinutes").unwrap_or(DEFAULT_MINUTES);
    let sr = args.str("SupportRequestId").map(str::to_string);
    let g = consent
        .enable_with(lvl, minutes, sr, args.switch("Attended"))
        .map_err(|e| e.to_string())?;
    Ok(vec![consent.record(&g)])
}

/// Runs a command (Enable-RemoteSupport once consent was given).
pub fn run(
    command: OperatorCommand,
    args: &BoundArgs,
    consent: &Consent,
    state: &StateDir,
    sessions: &crate::live::LiveSessions,
    now: DateTime<Utc>,
) -> Result<Vec<Value>, String> {
    match command {
        OperatorCommand::Enable => enable(consent, args),
        OperatorCommand::Set => {
            let g = consent
                .set(level(args)?, args.int("ExpireInMinutes"))
                .map_err(|e| e.to_string())?;
            Ok(vec![consent.record(&g)])
        }
        OperatorCommand::Disable => {
            let g = consent.disable().map_err(|e| e.to_string())?;
            Ok(vec![consent.record(&g)])
        }
        OperatorCommand::GetAccess => Ok(consent
            .list(args.switch("IncludeExpired"))
            .iter()
            .map(|g| consent.record(g))
            .collect()),
        OperatorCommand::SessionHistory => session_history(args, state, now),
        OperatorCommand::LiveSessions => Ok(sessions
            .list()
            .iter()
            .map(|s| live_record(s, now))
            .collect()),
        OperatorCommand::StopSession => {
            let id = args.str("SessionId").unwrap_or_default();
            let s = sessions.get(id).ok_or_else(|| {
                format!("no live session with id '{id}' (Get-RemoteSupportSession lists them)")
            })?;
            let reason = args.str("Reason").unwrap_or("ended by an operator");
            let record = live_record(&s, now);
            s.stop(&format!("this session was ended by an operator: {reason}"));
            Ok(vec![record])
        }
        OperatorCommand::Watch => {
            Err("Watch-RemoteSupportSession runs in an interactive session only".into())
        }
    }
}

/// A live session as Get-RemoteSupportSession shows it.
fn live_record(s: &crate::live::LiveSession, now: DateTime<Utc>) -> Value {
    let (level, last_input, running) = s.snapshot();
    azs_support::Record::new("RemoteSupport.LiveSession")
        .with("SessionId", s.id.clone())
        .with("Identity", s.identity.clone())
        .with("Role", s.role.clone())
        .with("AccessLevel", level)
        .with("Since", s.since)
        .with("IdleSeconds", (now - last_input).num_seconds().max(0))
        .with("RemoteAddress", s.remote.clone())
        .with("Running", running.unwrap_or_default())
        .with("Watchers", s.watchers() as u64)
        .into()
}

fn session_history(
    args: &BoundArgs,
    state: &StateDir,
    now: DateTime<Utc>,
) -> Result<Vec<Value>, String> {
    if let Some(id) = args.str("SessionId") {
        let rec = history::find(state, id).ok_or_else(|| format!("no session with id '{id}'"))?;
        let mut out = vec![rec.to_value(None)];
        if args.switch("IncludeSessionRecording") {
            // The asciicast file's lines follow the record (replay them with asciinema).
            let text = std::fs::read_to_string(rec.recording_path())
                .map_err(|e| format!("the recording of session '{id}' cannot be read: {e}"))?;
            out.extend(text.lines().map(|l| Value::String(l.to_string())));
            return Ok(out);
        }
        if args.switch("IncludeSessionTranscript") {
            // The transcript follows its record as text, one value per line, so every view
            // (the default, Format-List, Select-Object) shows it as the lines it is.
            let text = std::fs::read_to_string(&rec.transcript)
                .map_err(|e| format!("the transcript of session '{id}' cannot be read: {e}"))?;
            out.extend(text.lines().map(|l| Value::String(l.to_string())));
        }
        return Ok(out);
    }
    if args.switch("IncludeSessionTranscript") || args.switch("IncludeSessionRecording") {
        return Err(
            "-IncludeSessionTranscript and -IncludeSessionRecording need -SessionId".into(),
        );
    }
    let filter = history::Filter {
        from: Some(args.datetime("FromDate").unwrap_or(now - Duration::days(7))),
        identity: args.strings("Identity"),
        support_request_id: args.str("SupportRequestId").map(str::to_string),
    };
    Ok(history::select(state, &filter, now)
        .into_iter()
        .map(|r| r.to_value(None))
        .collect())
}
