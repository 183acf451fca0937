//! One session's command engine: a line in, a reply out.
//!
//! It owns what a session is — the caller, its working directory, its transcript — and the order
//! every line goes through: parse (no-language rules), resolve each pipeline element in the catalog,
//! gate it against the caller's role and the live grant, check the pipeline's shape, bind, run the
//! first command, apply the formatting commands, render. A refusal at any step runs nothing and is
//! one line. It knows nothing of SSH: the server feeds it lines and writes its replies.

use crate::builtins::{self, BuiltinEffect};
use crate::consent::Authorization;
use crate::endpoint::Endpoint;
use crate::history::SessionRecord;
use crate::identity::{Identity, Role};
use crate::lang::{self, Render};
use crate::operator_commands::{self, CONSENT_PROMPT, CONSENT_TERMS};
use crate::transcript::{Transcript, TranscriptHeader};
use azs_support::catalog::{Access, CommandSpec};
use azs_support::commands::{self, Invocation, Mode, StampAccess};
use azs_support::escape::escape_text as escape;
use azs_support::workdir::WorkingDirectory;
use azs_support::{BoundArgs, Value};
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

/// A question waiting for the next line.
enum Pending {
    /// Enable-RemoteSupport's consent, with its bound arguments.
    Consent(BoundArgs),
    /// Confirmation of a changing command (ShouldProcess), with what it will run.
    Confirm {
        /// The command.
        spec: Box<CommandSpec>,
        /// Its arguments.
        args: BoundArgs,
    },
}

/// The confirmation prompt of a changing command, as PowerShell's ShouldProcess asks it.
const CONFIRM_PROMPT: &str = "[Y] Yes  [N] No  [?] Help (default is \"Y\"): ";

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
        match self.pending {
            Some(Pending::Consent(_)) => CONSENT_PROMPT.to_string(),
            Some(Pending::Confirm { .. }) => CONFIRM_PROMPT.to_string(),
            None => format!("[{}]: PS> ", self.endpoint.stamp.read().pep_node()),
        }
    }

    /// The commands the caller may run now, in catalog order.
    pub fn visible(&self) -> Vec<&CommandSpec> {
        let auth = self.live_authorization();
        self.endpoint
            .catalog
            .commands()
            .iter()
            .filter(|c| self.permission(c, auth.as_ref()).is_ok())
            .collect()
    }

    /// Tab completion over what the caller may run now.
    pub fn complete(&self, line: &str, cursor_chars: usize) -> (usize, Vec<String>) {
        lang::complete(line, cursor_chars, &self.visible())
    }

    fn live_authorization(&self) -> Option<Authorization> {
        match self.identity.role {
            Role::Operator => None,
            Role::Support => self
                .endpoint
                .consent
                .authorize()
                .filter(|a| Some(a.grant_id()) == self.grant_id),
        }
    }

    /// Whether the caller may run `spec` now; the error says why not.
    fn permission(&self, spec: &CommandSpec, auth: Option<&Authorization>) -> Result<(), String> {
        let denied = |why: &str| {
            Err(format!(
                "The term '{}' is not recognized as the name of a command permitted in this session ({why}).",
                spec.name
            ))
        };
        match (self.identity.role, spec.access) {
            (_, Access::Default) => Ok(()),
            (Role::Operator, Access::Operator) => Ok(()),
            (Role::Operator, _) if spec.also_operator => Ok(()),
            (Role::Operator, _) => denied(
                "it is a support command, run by support engineers under a remote-support grant",
            ),
            (Role::Support, Access::Operator) => denied("it is an operator command"),
            (Role::Support, access) => match auth {
                None => denied("remote support is no longer enabled on this endpoint"),
                Some(a) if a.permits(access) => Ok(()),
                Some(a) => denied(&format!(
                    "it requires the {} access level; this session has {}",
                    access.as_str(),
                    a.level().as_str()
                )),
            },
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

    fn run_pipeline(&mut self, line: &str, specs: &[CommandSpec], bound: Vec<BoundArgs>) -> Reply {
        let now = self.endpoint.clock.now();
        for (spec, args) in specs.iter().zip(&bound) {
            let bindings: Vec<(String, String)> = args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_display()))
                .collect();
            self.transcript.invocation(now, &spec.name, line, &bindings);
        }
        let first = &specs[0];
        let mut reply = Reply::default();
        let mut render_spec = Some(&first.output);
        let mut values = match self.run_first(first, &bound[0], &mut reply) {
            Ok(Some(v)) => v,
            Ok(None) => {
                self.transcript.output(&reply.output);
                return reply;
            }
            Err(message) => {
                let message = format!("{}: {message}", first.name);
                self.transcript.error(&message);
                reply.error = Some(message);
                return reply;
            }
        };
        let mut how: Option<Render> = None;
        for (spec, args) in specs.iter().zip(&bound).skip(1) {
            let result = match spec.name.as_str() {
                "Format-Table" => {
                    how = Some(Render::Table(args.strings("Property")));
                    Ok(values)
                }
                "Format-List" => {
                    how = Some(Render::List(args.strings("Property")));
                    Ok(values)
                }
                "Out-Default" => Ok(values),
                name if is_formatting_command(spec) => {
                    // Filtering and sorting keep the records' own view; the others change their shape.
                    if !matches!(name, "Where-Object" | "Sort-Object") {
                        render_spec = None;
                    }
                    lang::apply(name, args, values).map_err(|e| e.to_string())
                }
                _ => {
                    render_spec = Some(&spec.output);
                    self.run_catalog(spec, args, values)
                }
            };
            values = match result {
                Ok(v) => v,
                Err(message) => {
                    let message = format!("{}: {message}", spec.name);
                    self.transcript.error(&message);
                    reply.error = Some(message);
                    return reply;
                }
            };
        }
        let how = how.unwrap_or(Render::Default(render_spec));
        reply
            .output
            .push_str(&lang::render(&values, how, self.width));
        self.transcript.output(&reply.output);
        reply
    }

    /// Runs the first pipeline element. `Ok(None)`: it produced no values (reply already filled).
    fn run_first(
        &mut self,
        spec: &CommandSpec,
        args: &BoundArgs,
        reply: &mut Reply,
    ) -> Result<Option<Vec<Value>>, String> {
        let name = spec.name.as_str();
        if builtins::is_builtin(name) {
            let visible = self.visible();
            let catalog = &self.endpoint.catalog;
            let effect = builtins::run(name, args, &visible, |n| {
                catalog
                    .get(n)
                    .filter(|s| visible.iter().any(|v| v.name == s.name))
            })?;
            return Ok(match effect {
                BuiltinEffect::Values(v) => Some(v),
                BuiltinEffect::Text(t) => {
                    reply.output = t;
                    None
                }
                BuiltinEffect::Clear => {
                    reply.clear_screen = true;
                    None
                }
                BuiltinEffect::Exit => {
                    reply.exit = true;
                    None
                }
            });
        }
        if name == "Enable-RemoteSupport" && !args.switch("AgreeToRemoteSupportConsent") {
            if self.kind != SessionKind::Interactive {
                return Err("this session cannot ask for consent interactively: add -AgreeToRemoteSupportConsent to accept the remote-support terms".into());
            }
            reply.output = format!("{CONSENT_TERMS}\n");
            self.transcript.note(
                self.endpoint.clock.now(),
                "consent terms shown; waiting for the operator's answer",
            );
            self.pending = Some(Pending::Consent(args.clone()));
            return Ok(None);
        }
        if operator_commands::handles(name) {
            return operator_commands::run(
                name,
                args,
                &self.endpoint.consent,
                &self.endpoint.state,
                self.endpoint.clock.now(),
            )
            .map(Some);
        }
        if is_formatting_command(spec) {
            // A formatting command with nothing piped in formats nothing.
            return Ok(Some(Vec::new()));
        }
        let repair = matches!(spec.access, Access::DiagnosticsRepair | Access::Operator);
        if spec.supports_should_process && repair && self.needs_confirmation(args) {
            return self.ask_confirmation(spec, args, reply);
        }
        self.run_catalog(spec, args, Vec::new()).map(Some)
    }

    /// Interactive sessions confirm repair commands unless `-Confirm:$false`, `-Force` or
    /// `-WhatIf` says otherwise.
    fn needs_confirmation(&self, args: &BoundArgs) -> bool {
        self.kind == SessionKind::Interactive
            && !args.switch("WhatIf")
            && !args.switch("Force")
            && !matches!(args.get("Confirm"), Some(Value::Bool(false)))
    }

    /// Validates the command and describes what it will do (nothing changes), then asks.
    fn ask_confirmation(
        &mut self,
        spec: &CommandSpec,
        args: &BoundArgs,
        reply: &mut Reply,
    ) -> Result<Option<Vec<Value>>, String> {
        let Some(implementation) = commands::implementation(&spec.name) else {
            return self.run_catalog(spec, args, Vec::new()).map(Some);
        };
        let stamp = self.endpoint.stamp.read();
        let mut inv = Invocation::new(
            args,
            Vec::new(),
            StampAccess::Read(&stamp),
            &self.workdir,
            self.endpoint.clock.now(),
            Mode::Plan,
        );
        let values = implementation(&mut inv).map_err(|e| e.0)?;
        if inv.effects().is_empty() {
            // Nothing to change: the command answered without acting.
            return Ok(Some(values));
        }
        reply.output = format!(
            "Confirm\nAre you sure you want to perform this action?\n{}\n",
            inv.effects().join("\n")
        );
        drop(stamp);
        self.transcript
            .note(self.endpoint.clock.now(), "confirmation requested");
        self.pending = Some(Pending::Confirm {
            spec: Box::new(spec.clone()),
            args: args.clone(),
        });
        Ok(None)
    }

    fn run_catalog(
        &mut self,
        spec: &CommandSpec,
        args: &BoundArgs,
        input: Vec<Value>,
    ) -> Result<Vec<Value>, String> {
        let Some(implementation) = commands::implementation(&spec.name) else {
            let when = LATER
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(&spec.name))
                .map_or(String::new(), |(_, feature)| {
                    format!(" (it comes with {feature})")
                });
            return Err(format!(
                "'{}' is in the catalog but not implemented yet in this version of pep{when}; nothing was run. See Get-Help {} for what it will do.",
                spec.name, spec.name
            ));
        };
        let now = self.endpoint.clock.now();
        let store = &self.endpoint.stamp;
        if spec.supports_should_process && args.switch("WhatIf") {
            let stamp = store.read();
            let mut inv = Invocation::new(
                args,
                input,
                StampAccess::Read(&stamp),
                &self.workdir,
                now,
                Mode::WhatIf,
            );
            let mut values = implementation(&mut inv).map_err(|e| e.0)?;
            let what_if: Vec<Value> = inv
                .effects()
                .iter()
                .map(|e| Value::String(format!("What if: {e}")))
                .collect();
            values.splice(0..0, what_if);
            return Ok(values);
        }
        if spec.supports_should_process {
            let mut stamp = store.write();
            let mut inv = Invocation::new(
                args,
                input,
                StampAccess::Write(&mut stamp),
                &self.workdir,
                now,
                Mode::Execute,
            );
            let result = implementation(&mut inv);
            let changed = inv.changed();
            if changed {
                if let Err(e) = store.save(&stamp) {
                    tracing::error!(error = %e, "saving the changed stamp failed");
                    return Err(format!("the change was made but could not be saved: {e}"));
                }
            }
            return result.map_err(|e| e.0);
        }
        let stamp = store.read();
        let mut inv = Invocation::new(
            args,
            input,
            StampAccess::Read(&stamp),
            &self.workdir,
            now,
            Mode::Execute,
        );
        implementation(&mut inv).map_err(|e| e.0)
    }

    fn answer(&mut self, pending: Pending, line: &str) -> Reply {
        let now = self.endpoint.clock.now();
        let answer = line.trim().to_ascii_lowercase();
        match pending {
            Pending::Confirm { spec, args } => match answer.as_str() {
                "" | "y" | "yes" => {
                    self.transcript.note(now, "confirmed");
                    let mut reply = Reply::default();
                    match self.run_catalog(&spec, &args, Vec::new()) {
                        Ok(values) => {
                            reply.output = lang::render(
                                &values,
                                Render::Default(Some(&spec.output)),
                                self.width,
                            );
                            self.transcript.output(&reply.output);
                        }
                        Err(e) => {
                            let e = format!("{}: {e}", spec.name);
                            self.transcript.error(&e);
                            reply.error = Some(e);
                        }
                    }
                    reply
                }
                "n" | "no" => {
                    self.transcript.note(now, "declined; nothing was changed");
                    Reply {
                        output: "The operation was not performed.\n".into(),
                        ..Reply::default()
                    }
                }
                "?" => {
                    self.pending = Some(Pending::Confirm { spec, args });
                    Reply {
                        output: "Y - Continue with the operation.\nN - Skip the operation; nothing is changed.\n".into(),
                        ..Reply::default()
                    }
                }
                _ => {
                    self.pending = Some(Pending::Confirm { spec, args });
                    Reply {
                        output: format!("'{}' is not an answer: type Y, N or ?.\n", escape(line)),
                        ..Reply::default()
                    }
                }
            },
            Pending::Consent(args) => match answer.as_str() {
                "" | "y" | "yes" => {
                    self.transcript
                        .note(now, "operator accepted the remote-support terms");
                    let mut reply = Reply::default();
                    match operator_commands::enable(&self.endpoint.consent, &args) {
                        Ok(values) => {
                            reply.output = lang::render(
                                &values,
                                Render::Default(
                                    self.endpoint
                                        .catalog
                                        .get("Enable-RemoteSupport")
                                        .map(|s| &s.output),
                                ),
                                self.width,
                            );
                            self.transcript.output(&reply.output);
                        }
                        Err(e) => {
                            let e = format!("Enable-RemoteSupport: {e}");
                            self.transcript.error(&e);
                            reply.error = Some(e);
                        }
                    }
                    reply
                }
                "n" | "no" => {
                    self.transcript
                        .note(now, "operator declined the remote-support terms");
                    Reply {
                        output: "Remote support was not enabled.\n".into(),
                        ..Reply::default()
                    }
                }
                "?" => {
                    self.pending = Some(Pending::Consent(args));
                    Reply {
                        output: "Y - Enable remote support with the access level and duration given.\nN - Do not enable remote support.\n".into(),
                        ..Reply::default()
                    }
                }
                _ => {
                    self.pending = Some(Pending::Consent(args));
                    Reply {
                        output: format!("'{}' is not an answer: type Y, N or ?.\n", escape(line)),
                        ..Reply::default()
                    }
                }
            },
        }
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

/// Catalog commands whose implementation comes with a later capability, and which one. Every
/// other catalog command is implemented (a test holds the catalog and the implementations to it).
pub const LATER: &[(&str, &str)] = &[
    (
        "Get-SupportSessionToken",
        "elevation by a vendor-signed token",
    ),
    (
        "Unlock-SupportSession",
        "elevation by a vendor-signed token",
    ),
    (
        "Get-SupportSessionInfo",
        "elevation by a vendor-signed token",
    ),
    ("Close-PrivilegedEndpoint", "transcript shipping on close"),
    ("Get-AzureStackLog", "log collection and upload"),
    ("Send-AzureStackDiagnosticLog", "log collection and upload"),
];

/// A parse error as the user sees it: syntax refusals carry PowerShell's error id.
fn syntax_error(e: &lang::LangError) -> String {
    match e.id {
        lang::ErrorId::ScriptsNotAllowed => format!("{}: {}", e.id.as_str(), e.message),
        _ => e.to_string(),
    }
}

/// The language's own formatting commands (default commands that take piped input), as opposed
/// to catalog commands that take piped input such as Save-AzsSupportObjectToFile.
fn is_formatting_command(spec: &CommandSpec) -> bool {
    spec.access == Access::Default && lang::is_formatter(spec)
}

impl Drop for Shell {
    fn drop(&mut self) {
        self.finish("connection closed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azs_support::catalog::{self, Profile};

    /// Handled by the shell itself rather than by an azs-support implementation.
    fn handled_by_shell(spec: &CommandSpec) -> bool {
        builtins::is_builtin(&spec.name)
            || operator_commands::handles(&spec.name)
            || is_formatting_command(spec)
    }

    /// The first help example of every command that changes nothing runs on the default stamp:
    /// what Get-Help shows works as shown.
    #[test]
    fn help_examples_of_read_commands_run_on_the_default_stamp() {
        use crate::clock::Clock;
        use crate::consent::AccessLevel;
        use crate::endpoint::{Endpoint, EndpointOptions};
        let tmp = tempfile::tempdir().expect("tmp");
        let endpoint = Endpoint::open(
            &EndpointOptions {
                state: tmp.path().join("state"),
                scenario: "default".into(),
                reset_stamp: true,
                catalog: None,
                profile: Profile::AzsHub,
                workdir_quota: 1 << 30,
            },
            Clock::system(),
        )
        .expect("endpoint");
        endpoint
            .consent
            .enable(AccessLevel::DiagnosticsRepair, 60, None)
            .expect("grant");
        let support = Identity {
            name: "sam".into(),
            role: Role::Support,
            key: String::new(),
            fingerprint: "SHA256:x".into(),
            added_at: chrono::Utc::now(),
        };
        let operator = Identity {
            role: Role::Operator,
            name: "olivia".into(),
            ..support.clone()
        };
        let mut failures = Vec::new();
        for spec in endpoint.catalog.commands() {
            // Changing commands, consent commands (they change grants) and later ones are out.
            // Examples that need something to exist first.
            const NEEDS_CONTEXT: &[(&str, &str)] = &[
                (
                    "Get-AzsSupportRoutingInformation",
                    "a failed action plan (scenario ece-plan-failed)",
                ),
                (
                    "Get-AzsSupportTraceEvent",
                    "a trace written by an earlier command",
                ),
            ];
            if spec.supports_should_process
                || operator_commands::handles(&spec.name)
                || LATER.iter().any(|(n, _)| *n == spec.name)
                || NEEDS_CONTEXT.iter().any(|(n, _)| *n == spec.name)
            {
                continue;
            }
            let Some(example) = spec.examples.first() else {
                continue;
            };
            let who = match spec.access {
                Access::Operator => operator.clone(),
                _ => support.clone(),
            };
            let mut shell =
                Shell::start(endpoint.clone(), who, "test", SessionKind::Exec).expect("session");
            if let Some(e) = shell.execute(&example.code).error {
                failures.push(format!("{}: {e}", example.code));
            }
        }
        assert!(
            failures.is_empty(),
            "examples that fail:\n{}",
            failures.join("\n")
        );
    }

    #[test]
    fn every_catalog_entry_has_an_implementation_and_every_implementation_an_entry() {
        let mut missing = Vec::new();
        let mut names = std::collections::HashSet::new();
        for profile in [Profile::AzsHub, Profile::AzureLocal] {
            let cat = catalog::load_embedded(profile).expect("catalog");
            for spec in cat.commands() {
                names.insert(spec.name.to_ascii_lowercase());
                let later = LATER.iter().any(|(n, _)| *n == spec.name);
                let implemented =
                    commands::implementation(&spec.name).is_some() || handled_by_shell(spec);
                if !implemented && !later {
                    missing.push(spec.name.clone());
                }
                assert!(
                    !(implemented && later),
                    "{} is implemented: take it off LATER",
                    spec.name
                );
            }
        }
        assert!(
            missing.is_empty(),
            "catalog entries without an implementation: {missing:?}"
        );
        for name in commands::implemented_names() {
            assert!(
                names.contains(&name.to_ascii_lowercase()),
                "implementation without a catalog entry: {name}"
            );
        }
    }
}
