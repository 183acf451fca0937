//! Running a bound pipeline: the first command, then the formatting commands, then the render.
//!
//! It owns the dispatch of the first element (built-ins, consent and operator commands, formatting
//! commands with nothing piped in, repair commands that must ask first, catalog commands), the
//! stages after it (formatting commands reshape or filter the values, `Format-Table`/`Format-List`
//! choose the render, catalog commands that take piped input run on them) and the transcript lines
//! of a run: each invocation, then its output or error.

use super::gate::Permit;
use super::{Reply, Shell};
use crate::bounds::LineLimits;
use crate::builtins::{self, BuiltinEffect};
use crate::lang::{self, Render};
use crate::operator_commands;
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
            let bindings: Vec<(String, String)> = args
                .iter()
                .map(|(k, v)| {
                    let secret = spec
                        .parameters
                        .iter()
                        .any(|p| p.secret && p.name.eq_ignore_ascii_case(k));
                    let value = if secret {
                        crate::redact::MASK.to_string()
                    } else {
                        v.to_display()
                    };
                    (k.to_string(), value)
                })
                .collect();
            self.transcript
                .invocation(now, &spec.name, &shown, &bindings);
        }
        let first = &specs[0];
        let mut reply = Reply::default();
        let mut render_spec = Some(&first.output);
        let mut values = match self
            .run_first(first, &bound[0], &mut reply, permit)
            .and_then(|v| within(v, &first.name, limits.max_value_bytes))
        {
            Ok(Some(v)) => v,
            Ok(None) => {
                self.record_output(&mut reply);
                return reply;
            }
            Err(message) => {
                self.fail(&mut reply, format!("{}: {message}", first.name));
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
                    lang::apply_within(name, args, values, limits.max_value_bytes)
                        .map_err(|e| e.to_string())
                }
                _ => {
                    render_spec = Some(&spec.output);
                    self.run_catalog(spec, args, values, permit)
                }
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

    /// Runs the first pipeline element. `Ok(None)`: it produced no values (reply already filled).
    fn run_first(
        &mut self,
        spec: &CommandSpec,
        args: &BoundArgs,
        reply: &mut Reply,
        permit: &Permit,
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
            return self.ask_consent(args, reply);
        }
        if operator_commands::handles(name) {
            let mut values = operator_commands::run(
                name,
                args,
                &self.endpoint.consent,
                &self.endpoint.state,
                self.endpoint.clock.now(),
            )?;
            if let Some(why) = self.endpoint.consent.unsaved() {
                values.insert(0, Value::String(format!(
                    "WARNING: the consent change is in force (live support sessions have ended and new ones are refused) but could not be saved: {why}. pep retries every {} s; a restart before then keeps remote support revoked.",
                    crate::consent::RETRY_SECS
                )));
            }
            return Ok(Some(values));
        }
        if is_formatting_command(spec) {
            // A formatting command with nothing piped in formats nothing.
            return Ok(Some(Vec::new()));
        }
        let repair = matches!(spec.access, Access::DiagnosticsRepair | Access::Operator);
        if spec.supports_should_process && repair && self.needs_confirmation(args) {
            return self.ask_confirmation(spec, args, reply, permit);
        }
        self.run_catalog(spec, args, Vec::new(), permit).map(Some)
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

/// The language's own formatting commands (default commands that take piped input), as opposed
/// to catalog commands that take piped input such as Save-AzsSupportObjectToFile.
pub(super) fn is_formatting_command(spec: &CommandSpec) -> bool {
    spec.access == Access::Default && lang::is_formatter(spec)
}
