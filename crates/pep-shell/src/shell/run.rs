//! Running a bound pipeline: the first command, then the formatting commands, then the render.
//!
//! It owns the dispatch of each element by the handler bound to its catalog entry: the first
//! element (built-ins, consent and operator commands, formatting commands with nothing piped in,
//! repair commands that must ask first, stamp commands), the stages after it (formatting commands
//! reshape or filter the values, `Format-Table`/`Format-List` choose the render, stamp commands
//! that take piped input run on them); a command's `default_sort` applied to its records when the
//! line does not sort them itself; a verdict of False from an `exit_status_from_result` command;
//! and the transcript lines of a run: each invocation, then its output or error.

use super::gate::Permit;
use super::{Reply, Shell};
use crate::bounds::LineLimits;
use crate::builtins::{self, BuiltinEffect};
use crate::handlers::Handler;
use crate::lang::{self, Render};
use crate::operator_commands::{self, OperatorCommand};
use azs_support::catalog::{Access, CommandSpec};
use azs_support::{BoundArgs, Value};

impl Shell {
    /// Runs a resolved, gated and bound pipeline and renders its values.
    pub(super) fn run_pipeline(
        &mut self,
        line: &str,
        specs: &[CommandSpec],
        bound: Vec<BoundArgs>,
        permit: &Permit,
    ) -> Reply {
        let limits = self.endpoint.limits;
        let now = self.endpoint.clock.now();
        // Secrets leave the record here, from the binding: the catalog says which they are.
        let shown = crate::redact::secret_line(line, &self.endpoint.catalog);
        for (spec, args) in specs.iter().zip(&bound) {
            let bindings = crate::redact::shown_bindings(spec, args);
            self.transcript
                .invocation(now, &spec.name, &shown, &bindings);
        }
        let first = &specs[0];
        let mut reply = Reply::default();
        // A job (a log collection) can only be followed by formatting commands: the rest of the
        // line runs when it ends, without the permit of its start.
        if matches!(self.handler(first), Ok(Handler::Logs(_))) {
            if let Some(spec) = specs
                .iter()
                .skip(1)
                .find(|s| !matches!(self.endpoint.handlers.get(s), Some(Handler::Formatter(_))))
            {
                self.fail(
                    &mut reply,
                    format!(
                        "{} can only be followed by formatting commands, not {}",
                        first.name, spec.name
                    ),
                );
                return reply;
            }
        }
        let values = match self
            .run_first(first, &bound[0], &mut reply, permit)
            .and_then(|v| within(v, &first.name, limits.max_value_bytes))
        {
            Ok(Some(v)) => v,
            Ok(None) if reply.job.is_some() => {
                self.job_rest = Some((specs.to_vec(), bound));
                return reply;
            }
            Ok(None) => {
                self.record_output(&mut reply);
                return reply;
            }
            Err(message) => {
                self.fail(&mut reply, format!("{}: {message}", first.name));
                return reply;
            }
        };
        self.rest_of_pipeline(specs, &bound, values, reply, Some(permit))
    }

    /// The line of a job that ended: its values through the rest of the pipeline, its summary,
    /// its error.
    pub fn complete_job(&mut self, outcome: crate::job::JobOutcome) -> Reply {
        let Some((specs, bound)) = self.job_rest.take() else {
            return Reply {
                error: outcome.error,
                ..Reply::default()
            };
        };
        let now = self.endpoint.clock.now();
        if !outcome.summary.is_empty() {
            self.transcript.note(now, &outcome.summary);
        }
        let reply = Reply {
            notice: (!outcome.summary.is_empty()).then(|| outcome.summary.clone()),
            ..Reply::default()
        };
        let mut reply = match within(
            Some(outcome.values),
            &specs[0].name,
            self.endpoint.limits.max_value_bytes,
        ) {
            Ok(v) => self.rest_of_pipeline(&specs, &bound, v.unwrap_or_default(), reply, None),
            Err(message) => {
                let mut r = reply;
                self.fail(&mut r, format!("{}: {message}", specs[0].name));
                r
            }
        };
        if let Some(e) = outcome.error {
            if reply.error.is_none() {
                self.fail(&mut reply, format!("{}: {e}", specs[0].name));
            }
        }
        self.check_recording(&mut reply);
        self.record_reply(&reply);
        self.live.running(None, self.endpoint.clock.now());
        reply
    }

    /// The first command's values through the stages after it, rendered and recorded.
    fn rest_of_pipeline(
        &mut self,
        specs: &[CommandSpec],
        bound: &[BoundArgs],
        values: Vec<Value>,
        mut reply: Reply,
        permit: Option<&Permit>,
    ) -> Reply {
        let limits = self.endpoint.limits;
        let first = &specs[0];
        // A line that sorts the records itself gets them in their command's own order.
        let sorts = specs.iter().skip(1).any(
            |s| matches!(self.endpoint.handlers.get(s), Some(Handler::Formatter(f)) if f.sorts()),
        );
        reply.verdict_false =
            first.exit_status_from_result && values.last() == Some(&Value::Bool(false));
        let mut values = default_sorted(first, values, sorts);
        let mut render_spec = Some(&first.output);
        let mut how: Option<Render> = None;
        for (spec, args) in specs.iter().zip(bound).skip(1) {
            let result = match self.handler(spec) {
                Ok(Handler::Formatter(formatter)) => {
                    if let Some(view) = formatter.render(args) {
                        how = Some(view);
                    }
                    // Filtering, sorting and choosing a view keep the records' own default view;
                    // the others change their shape.
                    if !formatter.keeps_shape(args) {
                        render_spec = None;
                    }
                    formatter
                        .apply_within(args, values, limits.max_value_bytes)
                        .map_err(|e| e.to_string())
                }
                Ok(_) => match permit {
                    Some(permit) => {
                        render_spec = Some(&spec.output);
                        self.run_catalog(spec, args, values, permit)
                            .map(|v| default_sorted(spec, v, sorts))
                    }
                    None => Err("only formatting commands may follow a job".to_string()),
                },
                Err(e) => Err(e),
            };
            let result = result.and_then(|v| {
                within(Some(v), &spec.name, limits.max_value_bytes).map(Option::unwrap_or_default)
            });
            values = match result {
                Ok(v) => v,
                Err(message) => {
                    self.fail(&mut reply, format!("{}: {message}", spec.name));
                    return reply;
                }
            };
        }
        let how = how.unwrap_or(Render::Default(render_spec));
        match lang::render_within(&values, how, self.width, limits.max_output_bytes) {
            Ok(text) => reply.output.push_str(&text),
            Err(e) => {
                self.fail(&mut reply, e.to_string());
                return reply;
            }
        }
        self.record_output(&mut reply);
        reply
    }

    /// The handler bound to `spec` when the catalog loaded.
    /// Records the newest grant as it is after a consent change (`kind`).
    pub(super) fn audit_grant(&self, kind: &str) {
        let Some(g) = self
            .endpoint
            .consent
            .list(true)
            .into_iter()
            .max_by_key(|g| g.id)
        else {
            return;
        };
        let fields = serde_json::json!({
            "grant": g.id,
            "access_level": g.access_level.as_str(),
            "expires_at": g.expires_at,
            "support_request_id": g.support_request_id,
            "state": g.state(self.endpoint.clock.now()).as_str(),
        });
        if let Err(e) = self.audit(kind, fields) {
            tracing::error!(error = %e, "the audit log cannot record a consent change");
        }
    }

    pub(super) fn handler(&self, spec: &CommandSpec) -> Result<Handler, String> {
        self.endpoint
            .handlers
            .get(spec)
            .cloned()
            .ok_or_else(|| format!("internal error: no handler is bound to '{}'", spec.name))
    }

    /// Records the reply's output; output that cannot be recorded is not shown (fail closed).
    /// Fails the line with `message`, transcribed.
    pub(super) fn fail(&mut self, reply: &mut Reply, message: String) {
        self.transcript.error(&message);
        reply.error = Some(message);
    }

    /// An operator session that can no longer record runs only the commands that see and revoke
    /// access ([`super::REVOCATION_ONLY`]); their output is shown with a warning instead.
    pub(super) fn record_output(&mut self, reply: &mut Reply) {
        if let Err(why) = self.transcript.output(&reply.output) {
            if self.degraded() {
                return;
            }
            reply.output.clear();
            self.fail(
                reply,
                format!("the output could not be recorded, so it is not shown: {why}"),
            );
        }
    }

    /// Runs the first pipeline element by its bound handler. `Ok(None)`: it produced no values
    /// (reply already filled).
    pub(super) fn run_first(
        &mut self,
        spec: &CommandSpec,
        args: &BoundArgs,
        reply: &mut Reply,
        permit: &Permit,
    ) -> Result<Option<Vec<Value>>, String> {
        match self.handler(spec)? {
            Handler::Builtin(builtin) => {
                let visible = self.visible();
                let catalog = &self.endpoint.catalog;
                let effect = builtins::run(builtin, args, &visible, |n| {
                    catalog
                        .get(n)
                        .filter(|s| visible.iter().any(|v| v.name == s.name))
                })?;
                Ok(match effect {
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
                })
            }
            Handler::Operator(OperatorCommand::Enable)
                if !args.switch("AgreeToRemoteSupportConsent") =>
            {
                self.ask_consent(spec, args, reply)
            }
            Handler::Operator(OperatorCommand::Watch) => {
                let id = args.str("SessionId").unwrap_or_default();
                let target = self.endpoint.sessions.get(id).ok_or_else(|| {
                    format!("no live session with id '{id}' (Get-RemoteSupportSession lists them)")
                })?;
                if target.id == self.record.session_id {
                    return Err("a session cannot watch itself".into());
                }
                if self.kind != super::SessionKind::Interactive {
                    return Err("Watch-RemoteSupportSession needs an interactive session (ssh -t): Ctrl-C ends the watch".into());
                }
                self.audit(
                    "session_watched",
                    serde_json::json!({ "watched": target.id, "watched_identity": target.identity }),
                )?;
                self.transcript.note(
                    self.endpoint.clock.now(),
                    &format!("watching session {} ({})", target.id, target.identity),
                );
                reply.watch = Some(target);
                Ok(None)
            }
            Handler::Operator(command) => {
                let mut values = operator_commands::run(
                    command,
                    args,
                    &self.endpoint.consent,
                    &self.endpoint.state,
                    &self.endpoint.sessions,
                    self.endpoint.clock.now(),
                )?;
                match command {
                    OperatorCommand::Enable => self.audit_grant("grant_enabled"),
                    OperatorCommand::Set => self.audit_grant("grant_changed"),
                    OperatorCommand::Disable => self.audit_grant("grant_revoked"),
                    OperatorCommand::StopSession => {
                        let id = args.str("SessionId").unwrap_or_default();
                        if let Err(e) = self.audit(
                            "session_stopped",
                            serde_json::json!({ "stopped": id, "reason": args.str("Reason") }),
                        ) {
                            tracing::error!(error = %e, "the audit log cannot record a stopped session");
                        }
                    }
                    OperatorCommand::GetAccess
                    | OperatorCommand::SessionHistory
                    | OperatorCommand::LiveSessions
                    | OperatorCommand::Watch => {}
                }
                if let Some(why) = self.endpoint.consent.unsaved() {
                    values.insert(0, Value::String(format!(
                        "WARNING: the consent change is in force (live support sessions have ended and new ones are refused) but could not be saved: {why}. pep retries every {} s; a restart before then keeps remote support revoked.",
                        crate::consent::RETRY_SECS
                    )));
                }
                Ok(Some(values))
            }
            // A formatting command with nothing piped in formats nothing.
            Handler::Formatter(_) => Ok(Some(Vec::new())),
            Handler::Elevation(command) => self.run_elevation(command, args, reply).map(Some),
            Handler::Logs(command) => {
                let caller = crate::log_commands::Caller {
                    identity: &self.identity,
                    session_id: &self.record.session_id,
                    grant_id: self.grant_id,
                    workdir: self.workdir.clone(),
                };
                match crate::log_commands::run(command, args, &self.endpoint, caller)? {
                    crate::log_commands::Started::Values(v) => Ok(Some(v)),
                    crate::log_commands::Started::Job(job) => {
                        reply.job = Some(job);
                        Ok(None)
                    }
                }
            }
            Handler::Stamp(_) | Handler::Later(_) => {
                let repair = matches!(
                    spec.access,
                    Access::DiagnosticsRepair | Access::Operator | Access::Elevated
                );
                if spec.supports_should_process && repair && self.needs_confirmation(args) {
                    return self.ask_confirmation(spec, args, reply, permit);
                }
                self.run_catalog(spec, args, Vec::new(), permit).map(Some)
            }
        }
    }
}

/// A command's values in its catalog `default_sort` order, unless the line sorts them itself
/// (`sorts`) or they are not all records (text, a verdict, a warning ahead of records keep the
/// command's order).
pub(super) fn default_sorted(spec: &CommandSpec, values: Vec<Value>, sorts: bool) -> Vec<Value> {
    let sortable = !sorts
        && !spec.output.default_sort.is_empty()
        && values.iter().all(|v| matches!(v, Value::Record(_)));
    if sortable {
        lang::format::sort_by(values, &spec.output.sort_keys())
    } else {
        values
    }
}

/// `values` if they fit in `max` bytes; else the one-line error naming the command.
fn within(
    values: Option<Vec<Value>>,
    command: &str,
    max: usize,
) -> Result<Option<Vec<Value>>, String> {
    let Some(values) = values else {
        return Ok(None);
    };
    let size = values
        .iter()
        .map(Value::approx_bytes)
        .fold(0usize, usize::saturating_add);
    if size > max {
        return Err(LineLimits::size_error(
            &format!("the output of {command}"),
            max,
        ));
    }
    Ok(Some(values))
}
