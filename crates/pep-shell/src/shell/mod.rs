//! One session's command engine: a line in, a reply out.
//!
//! This module owns what a session is — the caller, its working directory, its transcript and
//! record, from start to finish — and the order every line goes through in [`Shell::execute`]:
//! parse (no-language rules), resolve each pipeline element in the catalog, gate it against the
//! caller's role and the live grant, check the pipeline's shape, bind, then run. A refusal at any
//! step runs nothing and is one line. It knows nothing of SSH: the server feeds it lines and writes
//! its replies.
//!
//! The steps live beside it: `gate` (who may run what now), `run` (the bound pipeline: first
//! command, formatting commands, render), `implementations` (a catalog command through its
//! azs-support implementation, and the commands that come later) and `pending` (the consent and
//! confirmation questions that take the next line as their answer).

mod gate;
mod implementations;
mod pending;
mod run;

pub use implementations::LATER;

use crate::consent::Authorization;
use crate::endpoint::Endpoint;
use crate::history::SessionRecord;
use crate::identity::{Identity, Role};
use crate::lang;
use crate::transcript::{Transcript, TranscriptHeader};
use azs_support::catalog::CommandSpec;
use azs_support::workdir::WorkingDirectory;
use pending::Pending;
use std::sync::Arc;

/// How the client talks to the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A PTY with the line editor.
    Interactive,
    /// One command line (`ssh host 'COMMAND'`).
    Exec,
    /// A shell without a PTY: lines read from the client's input.
    Lines,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Interactive => "interactive",
            SessionKind::Exec => "exec",
            SessionKind::Lines => "shell",
        }
    }
}

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A support identity connected with no active grant.
    #[error("remote support is not enabled on this endpoint")]
    NotEnabled,
    /// The state directory refused a write.
    #[error("the session could not be recorded: {0}")]
    Io(String),
}

/// What the server should do after a line.
#[derive(Debug, Default)]
pub struct Reply {
    /// Text for standard output (`\n` line ends).
    pub output: String,
    /// One-line error, if the line failed.
    pub error: Option<String>,
    /// End the session.
    pub exit: bool,
    /// Clear the screen first.
    pub clear_screen: bool,
}

/// A session.
pub struct Shell {
    endpoint: Arc<Endpoint>,
    identity: Identity,
    kind: SessionKind,
    record: SessionRecord,
    transcript: Transcript,
    workdir: WorkingDirectory,
    grant_id: Option<u64>,
    width: Option<usize>,
    pending: Option<Pending>,
    finished: bool,
}

impl Shell {
    /// Starts a session: checks that a support caller has an active grant, creates its record and
    /// transcript. A refused support login is recorded too, then refused.
    pub fn start(
        endpoint: Arc<Endpoint>,
        identity: Identity,
        remote: &str,
        kind: SessionKind,
    ) -> Result<Self, StartError> {
        let now = endpoint.clock.now();
        let session_id = uuid::Uuid::new_v4().to_string();
        let auth = endpoint.consent.authorize();
        let access_level = match (identity.role, &auth) {
            (Role::Operator, _) => "-".to_string(),
            (Role::Support, Some(a)) => a.level().as_str().to_string(),
            (Role::Support, None) => "none".to_string(),
        };
        let transcript = Transcript::create(
            &endpoint.state.transcripts(),
            &TranscriptHeader {
                start: now,
                session_id: &session_id,
                identity: &identity.name,
                fingerprint: &identity.fingerprint,
                role: identity.role.as_str(),
                access_level: &access_level,
                remote,
                kind: kind.as_str(),
            },
        )
        .map_err(|e| StartError::Io(e.to_string()))?;
        let record = SessionRecord {
            version: 1,
            session_id: session_id.clone(),
            identity: identity.name.clone(),
            role: identity.role.as_str().into(),
            access_level,
            kind: kind.as_str().into(),
            remote: remote.into(),
            start: now,
            end: None,
            end_reason: None,
            transcript: transcript.path().to_path_buf(),
        };
        record
            .save(&endpoint.state)
            .map_err(|e| StartError::Io(e.to_string()))?;
        let workdir = WorkingDirectory::new(
            &endpoint.state.workdirs(),
            now,
            &session_id,
            endpoint.workdir_quota,
        );
        // Only support sessions live under a grant; operators are never ended by it.
        let grant_id = match identity.role {
            Role::Support => auth.as_ref().map(Authorization::grant_id),
            Role::Operator => None,
        };
        let mut shell = Shell {
            grant_id,
            endpoint,
            identity,
            kind,
            record,
            transcript,
            workdir,
            width: None,
            pending: None,
            finished: false,
        };
        if shell.identity.role == Role::Support {
            if shell.grant_id.is_none() {
                shell.finish("refused: remote support is not enabled on this endpoint");
                return Err(StartError::NotEnabled);
            }
            shell.endpoint.consent.support_session_started();
        }
        Ok(shell)
    }

    /// The session id.
    pub fn session_id(&self) -> &str {
        &self.record.session_id
    }

    /// The grant a support session runs under (None for operators).
    pub fn grant_id(&self) -> Option<u64> {
        self.grant_id
    }

    /// Terminal width for tables (interactive sessions).
    pub fn set_width(&mut self, width: Option<usize>) {
        self.width = width;
    }

    /// The prompt to show before the next line.
    pub fn prompt(&self) -> String {
        match &self.pending {
            Some(pending) => pending.prompt().to_string(),
            None => format!("[{}]: PS> ", self.endpoint.stamp.read().pep_node()),
        }
    }

    fn refuse(&mut self, line: &str, message: String) -> Reply {
        self.transcript
            .refused(self.endpoint.clock.now(), line, &message);
        Reply {
            error: Some(message),
            ..Reply::default()
        }
    }

    /// Runs one line.
    pub fn execute(&mut self, line: &str) -> Reply {
        if let Some(pending) = self.pending.take() {
            return self.answer(pending, line);
        }
        // A support session whose grant is gone ends here, whatever the line.
        if self.identity.role == Role::Support && self.live_authorization().is_none() {
            let mut r = self.refuse(
                line,
                "remote support is no longer enabled on this endpoint; the session has ended"
                    .into(),
            );
            r.exit = true;
            return r;
        }
        let pipeline = match lang::parse_line(line) {
            Ok(Some(p)) => p,
            Ok(None) => return Reply::default(),
            Err(e) => return self.refuse(line, syntax_error(&e)),
        };
        let auth = self.live_authorization();
        let mut specs: Vec<&CommandSpec> = Vec::with_capacity(pipeline.elements.len());
        for call in &pipeline.elements {
            let spec = match lang::resolve_command(&self.endpoint.catalog, &call.name) {
                Ok(s) => s,
                Err(e) => return self.refuse(line, e.to_string()),
            };
            if let Err(why) = self.permission(spec, auth.as_ref()) {
                return self.refuse(line, why);
            }
            specs.push(spec);
        }
        if let Err(e) = lang::check_pipeline_shape(&specs) {
            return self.refuse(line, e.to_string());
        }
        let mut bound = Vec::with_capacity(specs.len());
        for (spec, call) in specs.iter().zip(&pipeline.elements) {
            match lang::bind(spec, call) {
                Ok(b) => bound.push(b),
                Err(e) => return self.refuse(line, format!("{}: {e}", spec.name)),
            }
        }
        // Cloned out of the endpoint so the session can be borrowed mutably while running.
        let specs: Vec<CommandSpec> = specs.into_iter().cloned().collect();
        self.run_pipeline(line, &specs, bound)
    }

    /// Writes the session's end to its transcript and record. Idempotent.
    pub fn finish(&mut self, reason: &str) {
        if self.finished {
            return;
        }
        self.finished = true;
        let now = self.endpoint.clock.now();
        self.transcript.finish(now, reason);
        self.record.end = Some(now);
        self.record.end_reason = Some(reason.to_string());
        if let Err(e) = self.record.save(&self.endpoint.state) {
            tracing::error!(session = %self.record.session_id, error = %e, "could not close the session record");
        }
        if self.identity.role == Role::Support && self.grant_id.is_some() {
            self.endpoint.consent.support_session_ended();
        }
    }
}

/// A parse error as the user sees it: syntax refusals carry PowerShell's error id.
fn syntax_error(e: &lang::LangError) -> String {
    match e.id {
        lang::ErrorId::ScriptsNotAllowed => format!("{}: {}", e.id.as_str(), e.message),
        _ => e.to_string(),
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        self.finish("connection closed");
    }
}
