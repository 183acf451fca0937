//! One session's command engine: a line in, a reply out.
//!
//! This module owns what a session is — the caller, its working directory, its transcript and
//! record, from start to finish — and the order every line goes through in [`Shell::execute`]:
//! parse (no-language rules), resolve each pipeline element in the catalog, gate it against the
//! caller's role and the live grant, check the pipeline's shape, bind, then run (`NAME -?` is read
//! as `Get-Help NAME` first). A refusal at any step runs nothing and is one line. It knows nothing of SSH: the server feeds it lines and writes
//! its replies.
//!
//! The steps live beside it: `gate` (who may run what now), `run` (the bound pipeline: each
//! element by the handler bound to its entry, formatting commands, render), `stamp_command` (a
//! stamp command through its azs-support implementation, or the refusal of one that comes later)
//! and `pending` (the consent and confirmation questions that take the next line as their answer).

mod elevation;
mod gate;
mod pending;
mod run;
mod stamp_command;

use crate::consent::Authorization;
use crate::endpoint::Endpoint;
use crate::history::{LevelChange, SessionRecord, RECORD_VERSION};
use crate::identity::{Identity, Role};
use crate::lang;
use crate::transcript::{Transcript, TranscriptHeader, TranscriptPolicy, Writer};
use azs_support::catalog::CommandSpec;
use azs_support::workdir::WorkingDirectory;
use pending::Pending;
use std::sync::Arc;

/// Commands an operator session keeps once its transcript can no longer record: enough to see
/// and revoke remote support, and to leave.
const REVOCATION_ONLY: &[&str] = &[
    "Disable-RemoteSupport",
    "Get-RemoteSupportAccess",
    "Exit-PSSession",
];

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
    /// A support identity connected with no active grant: the attempt is recorded through
    /// [`RefusedLogin::record`] (with the command it tried, if any).
    #[error("remote support is not enabled on this endpoint")]
    NotEnabled(Box<RefusedLogin>),
    /// The state directory refused a write.
    #[error("the session could not be recorded: {0}")]
    Io(String),
}

/// A support login refused for want of a grant, not yet closed: its transcript and record are
/// open so that what the client tried is kept.
pub struct RefusedLogin(Shell);

impl std::fmt::Debug for RefusedLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RefusedLogin")
            .field(&self.0.record.session_id)
            .finish()
    }
}

impl RefusedLogin {
    /// Records the command the client tried (escaped and cut; bytes that are not UTF-8
    /// included) and closes the transcript and record.
    pub fn record(mut self, attempt: Option<&[u8]>) {
        let now = self.0.endpoint.clock.now();
        let why = "remote support is not enabled on this endpoint";
        if let Some(bytes) = attempt {
            self.0.transcript.refused_bytes(now, bytes, why);
        }
        self.0
            .finish("refused: remote support is not enabled on this endpoint");
    }
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
    /// The command ran and its verdict is False (a final `False` from an entry with
    /// `exit_status_from_result`, such as `Test-AzureStack`): the line did not fail, but an exec
    /// session exits non-zero, as monitoring expects.
    pub verdict_false: bool,
    /// A job the line started (a log collection): the session watches it and then hands its
    /// outcome to [`Shell::complete_job`] for the rest of the line.
    pub job: Option<crate::job::Job>,
    /// One line saying what a job did (stderr in exec sessions, after the output otherwise).
    pub notice: Option<String>,
    /// A live session to stream to this one, read-only, until Ctrl-C (Watch-RemoteSupportSession).
    pub watch: Option<Arc<crate::live::LiveSession>>,
    /// Why the line was refused before it ran, when that is not a failure of the command: an exec
    /// session's exit status tells them apart (see [`Refusal::exit_status`]).
    pub refusal: Option<Refusal>,
}

/// A line refused before it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// It could not be read or bound: a syntax error, an unknown command or parameter.
    Usage,
    /// It is not allowed: the role or the grant's access level does not permit it, or remote
    /// support is not enabled.
    Denied,
}

impl Refusal {
    /// The exit status of an exec session refused so (1 is a command that failed).
    pub fn exit_status(self) -> u32 {
        match self {
            Refusal::Usage => 2,
            Refusal::Denied => 3,
        }
    }
}

impl Reply {
    /// The same reply, refused for `why`.
    fn because(mut self, why: Refusal) -> Self {
        self.refusal = Some(why);
        self
    }
}

/// A line's records written after its reply.
#[derive(Default)]
struct Unsettled {
    /// Its `command_result` audit fields.
    outcome: Option<serde_json::Value>,
    /// What it showed.
    output: Option<String>,
}

/// A session.
pub struct Shell {
    endpoint: Arc<Endpoint>,
    identity: Identity,
    kind: SessionKind,
    record: SessionRecord,
    transcript: Transcript,
    /// The case's working directory (support), or the session's own (operators).
    workdir: Arc<WorkingDirectory>,
    grant_id: Option<u64>,
    width: Option<usize>,
    pending: Option<Pending>,
    finished: bool,
    /// The grant level this session last saw (support), to record changes.
    level: Option<String>,
    /// The rest of the line of a running job (its specs and bindings).
    job_rest: Option<(Vec<CommandSpec>, Vec<azs_support::BoundArgs>)>,
    /// Why the audit log could not record this operator's login: the session keeps only the
    /// revocation commands (fail closed).
    audit_failure: Option<String>,
    /// Whether a vendor-signed token unlocked this (operator's) session.
    elevation: crate::elevation::Elevation,
    /// What the last line left to record once its reply is sent ([`Shell::settle`]).
    unsettled: Unsettled,
    /// The session's asciicast recording.
    recording: crate::recording::Recording,
    /// The session as operators see it live.
    live: Arc<crate::live::LiveSession>,
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
            (Role::Operator | Role::Observer, _) => "-".to_string(),
            (Role::Support, Some(a)) => a.level().as_str().to_string(),
            (Role::Support, None) => "none".to_string(),
        };
        let budget = TranscriptPolicy {
            redactor: endpoint.redactor.clone(),
            disk: endpoint.budget.clone(),
            cap: endpoint.limits.max_transcript_bytes,
            writer: Writer::of(identity.role),
        };
        let transcript = match Transcript::create(
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
            budget,
        ) {
            Ok(t) => t,
            // An operator is let in unrecorded, to revoke only (fail closed on the action,
            // never on the revocation); anyone else is refused.
            Err(e) if identity.role != Role::Support => {
                tracing::error!(error = %e, "operator session cannot be recorded; revocation only");
                Transcript::unrecorded(&endpoint.state.transcripts(), &session_id, e.to_string())
            }
            Err(e) => return Err(StartError::Io(e.to_string())),
        };
        let live = endpoint.sessions.register(
            &session_id,
            &identity.name,
            identity.role.as_str(),
            &access_level,
            remote,
            now,
        );
        let rec_policy = || crate::recording::RecordingPolicy {
            redactor: endpoint.redactor.clone(),
            disk: endpoint.budget.clone(),
            cap: endpoint.limits.max_transcript_bytes,
            writer: Writer::of(identity.role),
        };
        let title = format!(
            "pep session {session_id} ({}, {})",
            identity.name,
            identity.role.as_str()
        );
        let recording = match crate::recording::Recording::create(
            &endpoint.state.recordings(),
            &session_id,
            &title,
            (80, 24),
            rec_policy(),
            live.screen.clone(),
        ) {
            Ok(r) => r,
            Err(e) if identity.role != Role::Support => {
                tracing::error!(error = %e, "operator session cannot be recorded; revocation only");
                crate::recording::Recording::unrecorded(
                    &endpoint.state.recordings(),
                    &session_id,
                    e,
                    rec_policy(),
                )
            }
            Err(e) => {
                endpoint.sessions.remove(&session_id);
                return Err(StartError::Io(e));
            }
        };
        let record = SessionRecord {
            version: RECORD_VERSION,
            session_id: session_id.clone(),
            identity: identity.name.clone(),
            role: identity.role.as_str().into(),
            access_level: access_level.clone(),
            level_changes: Vec::new(),
            // The case a support session works on: its grant's support request, if any.
            support_request_id: match (identity.role, &auth) {
                (Role::Support, Some(a)) => endpoint
                    .consent
                    .active()
                    .filter(|g| g.id == a.grant_id())
                    .and_then(|g| g.support_request_id),
                _ => None,
            },
            kind: kind.as_str().into(),
            remote: remote.into(),
            start: now,
            end: None,
            end_reason: None,
            transcript: transcript.path().to_path_buf(),
        };
        if let Err(e) = record.save(&endpoint.state) {
            if identity.role == Role::Support {
                return Err(StartError::Io(e.to_string()));
            }
            tracing::error!(error = %e, "operator session record cannot be written");
        }
        // Support works in its case's directory: every session of this identity under this grant
        // shares it. Operators keep their own per session.
        let case = match identity.role {
            Role::Support => endpoint.consent.active().map(|g| {
                let who: String = identity
                    .name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                (g.created_at, format!("grant{}", g.id), who)
            }),
            Role::Operator | Role::Observer => None,
        };
        let workdir = match case {
            Some((started, grant, who)) => endpoint.workdirs.case(started, &grant, &who),
            None => Arc::new(endpoint.workdirs.session(now, &session_id)),
        };
        // Only support sessions live under a grant; operators are never ended by it.
        let grant_id = match identity.role {
            Role::Support => auth.as_ref().map(Authorization::grant_id),
            Role::Operator | Role::Observer => None,
        };
        let shell = Shell {
            grant_id,
            endpoint,
            identity: identity.clone(),
            kind,
            record,
            transcript,
            workdir,
            width: None,
            pending: None,
            finished: false,
            level: (identity.role == Role::Support).then_some(access_level.clone()),
            job_rest: None,
            audit_failure: None,
            elevation: crate::elevation::Elevation::Locked,
            unsettled: Unsettled::default(),
            recording,
            live,
        };
        let mut shell = shell;
        let refused = shell.identity.role == Role::Support && shell.grant_id.is_none();
        let login = shell.audit(
            if refused { "login_refused" } else { "login" },
            serde_json::json!({
                "fingerprint": shell.identity.fingerprint,
                "remote": remote,
                "kind": shell.kind.as_str(),
                "access_level": access_level,
                "reason": refused.then_some("remote support is not enabled on this endpoint"),
            }),
        );
        if let Err(e) = login {
            if shell.identity.role == Role::Support && !refused {
                shell.finish(&format!("refused: {e}"));
                return Err(StartError::Io(e));
            }
            tracing::error!(error = %e, "the audit log cannot record this login");
            shell.audit_failure = Some(e);
        }
        shell
            .endpoint
            .live
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if shell.identity.role == Role::Support {
            if shell.grant_id.is_none() {
                return Err(StartError::NotEnabled(Box::new(RefusedLogin(shell))));
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
        let shown = crate::redact::secret_line(line, &self.endpoint.catalog);
        self.transcript
            .refused(self.endpoint.clock.now(), &shown, &message);
        let logged = self.audit(
            "command_refused",
            serde_json::json!({
                "line": self.endpoint.redactor.redact(&shown),
                "reason": self.endpoint.redactor.redact(&message),
            }),
        );
        if let Err(e) = logged {
            tracing::error!(error = %e, "the audit log cannot record a refused line");
        }
        Reply {
            error: Some(message),
            ..Reply::default()
        }
    }

    /// Runs one line.
    pub fn execute(&mut self, line: &str) -> Reply {
        self.settle();
        // Recorded and shown to watchers as entered, secrets masked (a response token at its
        // prompt is never shown).
        let shown = match &self.pending {
            Some(pending::Pending::ResponseToken { .. }) => "********".to_string(),
            _ => crate::redact::secret_line(line, &self.endpoint.catalog),
        };
        let prompt = self.prompt();
        self.recording.entered(&prompt, &shown);
        let now = self.endpoint.clock.now();
        self.live.running(Some(shown.clone()), now);
        let mut reply = self.execute_gated(line, &shown);
        self.check_recording(&mut reply);
        self.record_reply(&reply);
        if reply.job.is_none() {
            self.live.running(None, self.endpoint.clock.now());
        }
        reply
    }

    /// What a reply shows, for the recording (and watchers): written by [`Shell::settle`].
    pub(crate) fn record_reply(&mut self, reply: &Reply) {
        let mut text = reply.output.replace('\n', "\r\n");
        if let Some(n) = &reply.notice {
            text.push_str(&format!("{n}\r\n"));
        }
        if let Some(e) = &reply.error {
            text.push_str(&format!("{e}\r\n"));
        }
        match &mut self.unsettled.output {
            Some(pending) => pending.push_str(&text),
            None => self.unsettled.output = Some(text),
        }
    }

    /// The terminal was resized.
    pub fn resize(&mut self, width: u16, height: u16) {
        self.set_width(Some(usize::from(width)));
        self.recording.resize(width, height);
    }

    /// Whether this support session's grant is attended (its commands wait for a watcher).
    pub fn attended(&self) -> bool {
        self.identity.role == Role::Support
            && self
                .endpoint
                .consent
                .active()
                .is_some_and(|g| Some(g.id) == self.grant_id && g.attended)
    }

    /// The lines a support session sees at login: its grant and the stamp's health.
    pub fn banner(&self) -> Vec<String> {
        if self.identity.role != Role::Support {
            return Vec::new();
        }
        let Some(g) = self.endpoint.consent.active() else {
            return Vec::new();
        };
        let mut grant = format!(
            "Remote support grant {}: {} until {}",
            g.id,
            g.access_level.as_str(),
            g.expires_at.format("%Y-%m-%d %H:%M:%SZ")
        );
        if let Some(case) = &g.support_request_id {
            grant.push_str(&format!(", case {case}"));
        }
        if g.attended {
            grant.push_str(", attended: commands wait until an operator watches");
        }
        let now = self.endpoint.stamp.advance(self.endpoint.clock.now());
        let health = azs_support::commands::health_summary(&self.endpoint.stamp.read(), now);
        vec![grant, format!("Stamp health: {health}")]
    }

    /// The session as operators see it live (its stop switch, its screen).
    pub fn live(&self) -> Arc<crate::live::LiveSession> {
        self.live.clone()
    }

    /// Records a line refused before it could be read as text (not valid UTF-8, too long).
    pub fn refuse_input(&mut self, bytes: &[u8], message: &str) -> Reply {
        self.transcript
            .refused_bytes(self.endpoint.clock.now(), bytes, message);
        let mut reply = Reply {
            error: Some(message.to_string()),
            ..Reply::default()
        };
        self.check_recording(&mut reply);
        reply
    }

    /// Notes a change of the grant's level since the session last looked (in the transcript and
    /// the session's record). Called before each line and whenever consent changes.
    pub fn observe_grant(&mut self) {
        if self.identity.role != Role::Support || self.finished {
            return;
        }
        let now_level = self
            .live_authorization()
            .map_or("none".to_string(), |a| a.level().as_str().to_string());
        if self.level.as_deref() == Some(now_level.as_str()) {
            return;
        }
        let now = self.endpoint.clock.now();
        let before = self.level.replace(now_level.clone()).unwrap_or_default();
        self.live.set_level(&now_level);
        self.transcript.note(
            now,
            &format!("access level changed from {before} to {now_level} by the operator"),
        );
        self.record.level_changes.push(LevelChange {
            at: now,
            level: now_level,
        });
        if let Err(e) = self.record.save(&self.endpoint.state) {
            tracing::error!(session = %self.record.session_id, error = %e, "could not record a level change");
        }
    }

    /// A session whose transcript can no longer record does not go on: a support session ends;
    /// an operator keeps only the commands that revoke.
    pub(crate) fn check_recording(&mut self, reply: &mut Reply) {
        let Some(why) = self
            .transcript
            .failure()
            .or(self.recording.failure())
            .map(str::to_string)
        else {
            return;
        };
        match self.identity.role {
            Role::Support => {
                reply.output.clear();
                reply.error = Some(format!(
                    "the session can no longer be recorded ({why}); it has ended"
                ));
                reply.exit = true;
            }
            Role::Operator | Role::Observer => reply.output.push_str(&format!(
                "WARNING: this session is not being recorded ({why}); only {} remain available\n",
                REVOCATION_ONLY.join(", ")
            )),
        }
    }

    /// An operator session that can no longer be recorded (transcript or audit log): it keeps
    /// only [`REVOCATION_ONLY`].
    pub(super) fn degraded(&self) -> bool {
        self.identity.role != Role::Support
            && (self.transcript.failure().is_some()
                || self.recording.failure().is_some()
                || self.audit_failure.is_some())
    }

    /// Appends a security event of this session to the audit log (session, identity and role
    /// added to `fields`).
    pub(crate) fn audit(&self, kind: &str, fields: serde_json::Value) -> Result<(), String> {
        self.endpoint
            .audit
            .append(self.endpoint.clock.now(), kind, self.audit_fields(fields))
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
    }

    /// Records in the audit log what has already happened (a line's outcome): written with the
    /// next line, or within [`crate::audit::SYNC_EVERY`].
    fn audit_after(&self, kind: &str, fields: serde_json::Value) {
        self.endpoint.audit.append_after(
            self.endpoint.clock.now(),
            kind,
            self.audit_fields(fields),
        );
    }

    /// `fields` with the session, identity and role (null fields left out).
    fn audit_fields(&self, fields: serde_json::Value) -> serde_json::Value {
        let mut all = serde_json::json!({
            "session": self.record.session_id,
            "identity": self.identity.name,
            "role": self.identity.role.as_str(),
        });
        if let (Some(obj), serde_json::Value::Object(more)) = (all.as_object_mut(), fields) {
            obj.extend(more.into_iter().filter(|(_, v)| !v.is_null()));
        }
        all
    }

    /// Runs `line`; `shown` is the line with its secret parameters masked (computed once by
    /// [`Shell::execute`] for the recording, the live view and the audit log).
    fn execute_gated(&mut self, line: &str, shown: &str) -> Reply {
        self.observe_grant();
        self.observe_elevation();
        if let Some(pending) = self.pending.take() {
            return self.answer(pending, line);
        }
        // A support session whose grant is gone ends here, whatever the line.
        let Some(permit) = self.permit() else {
            let mut r = self.refuse(
                line,
                "remote support is no longer enabled on this endpoint; the session has ended"
                    .into(),
            );
            r.exit = true;
            return r.because(Refusal::Denied);
        };
        let pipeline = match lang::parse_line(line) {
            Ok(Some(p)) => p,
            Ok(None) => return Reply::default(),
            Err(e) => return self.refuse(line, syntax_error(&e)).because(Refusal::Usage),
        };
        // `NAME -?` shows NAME's help and runs nothing: the line is `Get-Help NAME`.
        let pipeline = lang::help_request(&pipeline).unwrap_or(pipeline);
        let limits = self.endpoint.limits;
        if pipeline.elements.len() > limits.max_pipeline {
            return self.refuse(line, limits.pipeline_error(pipeline.elements.len()));
        }
        let mut specs: Vec<&CommandSpec> = Vec::with_capacity(pipeline.elements.len());
        for call in &pipeline.elements {
            let spec = match lang::resolve_command(&self.endpoint.catalog, &call.name) {
                Ok(s) => s,
                Err(e) => return self.refuse(line, e.to_string()).because(Refusal::Usage),
            };
            if let Err(why) = self.permission(spec, permit.authorization()) {
                return self.refuse(line, why).because(Refusal::Denied);
            }
            if self.degraded() && !REVOCATION_ONLY.contains(&spec.name.as_str()) {
                return self.refuse(
                    line,
                    format!(
                        "this session can no longer be recorded; only {} remain available",
                        REVOCATION_ONLY.join(", ")
                    ),
                );
            }
            specs.push(spec);
        }
        if let Err(e) = lang::check_pipeline_shape(&specs, &self.endpoint.catalog) {
            return self.refuse(line, e.to_string()).because(Refusal::Usage);
        }
        let mut bound = Vec::with_capacity(specs.len());
        for (spec, call) in specs.iter().zip(&pipeline.elements) {
            match lang::bind(spec, call) {
                Ok(b) => bound.push(b),
                Err(e) => {
                    let message =
                        crate::redact::mask_values(&format!("{}: {e}", spec.name), spec, call);
                    return self.refuse(line, message).because(Refusal::Usage);
                }
            }
        }
        if !self.degraded() && !self.transcript.has_room_for(limits.max_output_bytes as u64) {
            return self.refuse(
                line,
                format!(
                    "this session's transcript is near its limit of {} (pep serve --max-transcript-mb); end the session and start a new one",
                    azs_support::disk_budget::human(self.transcript.cap())
                ),
            );
        }
        // Every command is in the audit log before it runs: one that cannot be recorded does
        // not run, unless it revokes.
        let revokes = specs
            .iter()
            .all(|s| REVOCATION_ONLY.contains(&s.name.as_str()));
        let shown = self.endpoint.redactor.redact(shown);
        if let Err(e) = self.audit("command", serde_json::json!({ "line": shown })) {
            if !revokes {
                let message = format!("{e}; the command was not run");
                return self.refuse(line, message);
            }
            tracing::error!(error = %e, "the audit log cannot record a revocation; it goes ahead");
        }
        // Cloned out of the endpoint so the session can be borrowed mutably while running.
        let specs: Vec<CommandSpec> = specs.into_iter().cloned().collect();
        let reply = self.run_pipeline(line, &specs, bound, &permit);
        let outcome = serde_json::json!({
            "line": shown,
            "outcome": match (&reply.error, reply.job.is_some()) {
                (Some(_), _) => "error",
                (None, true) => "started",
                (None, false) => "ok",
            },
            "error": reply.error.as_deref().map(|e| self.endpoint.redactor.redact(e)),
        });
        // Written once the reply is on its way (Shell::settle): the client does not wait for it.
        self.unsettled.outcome = Some(outcome);
        reply
    }

    /// Writes what a line left to record after its reply: its outcome in the audit log and its
    /// output in the recording (and to watchers). The session calls it once the reply is sent;
    /// the next line and the session's end call it too, so nothing is left unrecorded.
    pub fn settle(&mut self) {
        if let Some(outcome) = self.unsettled.outcome.take() {
            self.audit_after("command_result", outcome);
        }
        if let Some(text) = self.unsettled.output.take() {
            self.recording.output(&text, false);
        }
    }

    /// Writes the session's end to its transcript and record. Idempotent.
    pub fn finish(&mut self, reason: &str) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.settle();
        self.void_elevation("the session ended");
        let now = self.endpoint.clock.now();
        self.transcript.finish(now, reason);
        // The transcript and recording as they closed are hashed into the audit log.
        let transcript_sha256 = std::fs::read(self.transcript.path())
            .ok()
            .map(|b| crate::audit::sha256_hex(&b));
        let recording_sha256 = self.recording.finish();
        let logged = self.audit(
            "session_end",
            serde_json::json!({
                "reason": reason,
                "transcript_sha256": transcript_sha256,
                "recording_sha256": recording_sha256,
            }),
        );
        if let Err(e) = logged {
            tracing::error!(error = %e, "the audit log cannot record a session's end");
        }
        self.record.end = Some(now);
        self.record.end_reason = Some(reason.to_string());
        if let Err(e) = self.record.save(&self.endpoint.state) {
            tracing::error!(session = %self.record.session_id, error = %e, "could not close the session record");
        }
        if self.identity.role == Role::Support && self.grant_id.is_some() {
            self.endpoint.consent.support_session_ended();
        }
        // Gone from the live list, and from what a shutdown drains, only once its end is
        // written: a drained endpoint signs its last checkpoint after every `session_end`.
        self.endpoint.sessions.remove(&self.record.session_id);
        self.endpoint
            .live
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
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
