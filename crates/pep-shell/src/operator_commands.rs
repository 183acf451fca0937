//! The operator's consent and history commands: Enable-RemoteSupport, Set-RemoteSupportAccess,
//! Disable-RemoteSupport, Get-RemoteSupportAccess and Get-RemoteSupportSessionHistory.
//!
//! Gating (operators only) happened before these are called.

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

/// Whether `name` (canonical) is one of these commands.
pub fn handles(name: &str) -> bool {
    matches!(
        name,
        "Enable-RemoteSupport"
            | "Set-RemoteSupportAccess"
            | "Disable-RemoteSupport"
            | "Get-RemoteSupportAccess"
            | "Get-RemoteSupportSessionHistory"
    )
}

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
        .enable(lvl, minutes, sr)
        .map_err(|e| e.to_string())?;
    Ok(vec![consent.record(&g)])
}

/// Runs every command but Enable-RemoteSupport (which needs the consent dialogue first).
pub fn run(
    name: &str,
    args: &BoundArgs,
    consent: &Consent,
    state: &StateDir,
    now: DateTime<Utc>,
) -> Result<Vec<Value>, String> {
    match name {
        "Enable-RemoteSupport" => enable(consent, args),
        "Set-RemoteSupportAccess" => {
            let g = consent
                .set(level(args)?, args.int("ExpireInMinutes"))
                .map_err(|e| e.to_string())?;
            Ok(vec![consent.record(&g)])
        }
        "Disable-RemoteSupport" => {
            let g = consent.disable().map_err(|e| e.to_string())?;
            Ok(vec![consent.record(&g)])
        }
        "Get-RemoteSupportAccess" => Ok(consent
            .list(args.switch("IncludeExpired"))
            .iter()
            .map(|g| consent.record(g))
            .collect()),
        "Get-RemoteSupportSessionHistory" => session_history(args, state, now),
        other => Err(format!("'{other}' is not a consent command")),
    }
}

fn session_history(
    args: &BoundArgs,
    state: &StateDir,
    now: DateTime<Utc>,
) -> Result<Vec<Value>, String> {
    if let Some(id) = args.str("SessionId") {
        let rec = history::find(state, id).ok_or_else(|| format!("no session with id '{id}'"))?;
        let mut out = vec![rec.to_value(None)];
        if args.switch("IncludeSessionTranscript") {
            // The transcript follows its record as text, one value per line, so every view
            // (the default, Format-List, Select-Object) shows it as the lines it is.
            let text = std::fs::read_to_string(&rec.transcript)
                .map_err(|e| format!("the transcript of session '{id}' cannot be read: {e}"))?;
            out.extend(text.lines().map(|l| Value::String(l.to_string())));
        }
        return Ok(out);
    }
    if args.switch("IncludeSessionTranscript") {
        return Err("-IncludeSessionTranscript needs -SessionId".into());
    }
    let from = args.datetime("FromDate").unwrap_or(now - Duration::days(7));
    Ok(history::load_all(state)
        .into_iter()
        .filter(|r| r.end.unwrap_or(now) >= from)
        .map(|r| r.to_value(None))
        .collect())
}
