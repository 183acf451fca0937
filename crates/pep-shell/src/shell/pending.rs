//! The questions a session asks and the next line answers: the operator's consent to the
//! remote-support terms (Enable-RemoteSupport without -AgreeToRemoteSupportConsent) and the
//! confirmation of a repair command (PowerShell's ShouldProcess).
//!
//! It owns what is pending and its prompt, asking (the terms; or a plan run of the command that
//! describes what it will change, changing nothing), and the answer: Y runs it, N leaves
//! everything as it was, ? explains, anything else asks again; Ctrl-C ([`Shell::interrupt`])
//! cancels the question and runs nothing.

use super::gate::Permit;
use super::run::default_sorted;
use super::{Reply, SessionKind, Shell};
use crate::handlers::Handler;
use crate::lang::{self, Render};
use crate::operator_commands::{self, CONSENT_PROMPT, CONSENT_TERMS};
use azs_support::catalog::CommandSpec;
use azs_support::commands::{Invocation, Mode, StampAccess};
use azs_support::escape::escape_text as escape;
use azs_support::{BoundArgs, Value};

/// A question waiting for the next line.
pub(super) enum Pending {
    /// Enable-RemoteSupport's consent, with its entry and bound arguments.
    Consent {
        /// The command.
        spec: Box<CommandSpec>,
        /// Its arguments.
        args: BoundArgs,
    },
    /// Confirmation of a changing command (ShouldProcess), with what it will run.
    Confirm {
        /// The command.
        spec: Box<CommandSpec>,
        /// Its arguments.
        args: BoundArgs,
    },
    /// Unlock-SupportSession's response token, with the lines of an armored one pasted so far.
    ResponseToken {
        /// The text collected.
        collected: String,
    },
}

/// The confirmation prompt of a changing command, as PowerShell's ShouldProcess asks it.
const CONFIRM_PROMPT: &str = "[Y] Yes  [N] No  [?] Help (default is \"Y\"): ";

impl Pending {
    /// The prompt shown while this question waits for its answer.
    pub(super) fn prompt(&self) -> &'static str {
        match self {
            Pending::Consent { .. } => CONSENT_PROMPT,
            Pending::Confirm { .. } => CONFIRM_PROMPT,
            Pending::ResponseToken { collected } if !collected.is_empty() => "",
            Pending::ResponseToken { .. } => super::elevation::RESPONSE_PROMPT,
        }
    }
}

impl Shell {
    /// Shows the remote-support terms and waits for the operator's answer; a session that cannot
    /// ask (no PTY) refuses instead. `Ok(None)`: the reply holds the terms.
    pub(super) fn ask_consent(
        &mut self,
        spec: &CommandSpec,
        args: &BoundArgs,
        reply: &mut Reply,
    ) -> Result<Option<Vec<Value>>, String> {
        if self.kind != SessionKind::Interactive {
            return Err("this session cannot ask for consent interactively: add -AgreeToRemoteSupportConsent to accept the remote-support terms".into());
        }
        reply.output = format!("{CONSENT_TERMS}\n");
        self.transcript.note(
            self.endpoint.clock.now(),
            "consent terms shown; waiting for the operator's answer",
        );
        self.pending = Some(Pending::Consent {
            spec: Box::new(spec.clone()),
            args: args.clone(),
        });
        Ok(None)
    }

    /// Interactive sessions confirm repair commands unless `-Confirm:$false`, `-Force` (where
    /// the command has it) or `-WhatIf` says otherwise.
    pub(super) fn needs_confirmation(&self, args: &BoundArgs) -> bool {
        let forced = args.declares("Force") && args.switch("Force");
        self.kind == SessionKind::Interactive
            && !forced
            && !args.switch("WhatIf")
            && !matches!(args.get("Confirm"), Some(Value::Bool(false)))
    }

    /// Validates the command and describes what it will do (nothing changes), then asks.
    pub(super) fn ask_confirmation(
        &mut self,
        spec: &CommandSpec,
        args: &BoundArgs,
        reply: &mut Reply,
        permit: &Permit,
    ) -> Result<Option<Vec<Value>>, String> {
        let Ok(Handler::Stamp(implementation)) = self.handler(spec) else {
            return self.run_catalog(spec, args, Vec::new(), permit).map(Some);
        };
        let now = self.endpoint.stamp.advance(self.endpoint.clock.now());
        let stamp = self.endpoint.stamp.read();
        let mut inv = Invocation::new(
            args,
            Vec::new(),
            StampAccess::Read(&stamp),
            &self.workdir,
            now,
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

    /// Ctrl-C: cancels the question waiting for its answer, if any — nothing runs, and the next
    /// prompt is the command prompt. Returns what to show (empty when nothing was pending).
    pub fn interrupt(&mut self) -> String {
        let Some(pending) = self.pending.take() else {
            return String::new();
        };
        let (note, output) = match pending {
            Pending::Confirm { .. } => (
                "confirmation cancelled with Ctrl-C; nothing was run",
                "Cancelled; nothing was run.\n",
            ),
            Pending::Consent { .. } => (
                "consent cancelled with Ctrl-C; remote support was not enabled",
                "Cancelled; remote support was not enabled.\n",
            ),
            Pending::ResponseToken { .. } => (
                "response token cancelled with Ctrl-C; the session was not unlocked",
                "Cancelled; the session was not unlocked.\n",
            ),
        };
        self.transcript.note(self.endpoint.clock.now(), note);
        let reply = Reply {
            output: output.into(),
            ..Reply::default()
        };
        self.record_reply(&reply);
        reply.output
    }

    /// Takes `line` as the answer to `pending`; an unclear answer leaves the question pending.
    pub(super) fn answer(&mut self, pending: Pending, line: &str) -> Reply {
        let pending = match pending {
            Pending::ResponseToken { collected } => return self.answer_response(collected, line),
            other => other,
        };
        let now = self.endpoint.clock.now();
        match line.trim().to_ascii_lowercase().as_str() {
            "" | "y" | "yes" => match pending {
                Pending::ResponseToken { collected } => self.answer_response(collected, line),
                Pending::Confirm { spec, args } => {
                    // The answer is authorized when it arrives: the grant may have changed (or
                    // ended) since the question was asked.
                    let permit = self.permit();
                    let refusal = match &permit {
                        None => {
                            Some("remote support is no longer enabled on this endpoint".to_string())
                        }
                        Some(p) => self.permission(&spec, p.authorization()).err(),
                    };
                    let permit = match (permit, refusal) {
                        (Some(permit), None) => permit,
                        (permit, refusal) => {
                            let message = format!(
                                "{}: the confirmation was refused and nothing was changed: {}",
                                spec.name,
                                refusal.unwrap_or_default()
                            );
                            self.transcript.refused(now, line, &message);
                            return Reply {
                                error: Some(message),
                                exit: permit.is_none(),
                                ..Reply::default()
                            };
                        }
                    };
                    self.transcript.note(now, "confirmed");
                    let result = self.run_catalog(&spec, &args, Vec::new(), &permit);
                    self.answered(&spec, result)
                }
                Pending::Consent { spec, args } => {
                    self.transcript
                        .note(now, "operator accepted the remote-support terms");
                    let result = operator_commands::enable(&self.endpoint.consent, &args);
                    if result.is_ok() {
                        self.audit_grant("grant_enabled");
                    }
                    self.answered(&spec, result)
                }
            },
            "n" | "no" => {
                let (note, output) = match pending {
                    Pending::ResponseToken { collected } => {
                        return self.answer_response(collected, line)
                    }
                    Pending::Confirm { .. } => (
                        "declined; nothing was changed",
                        "The operation was not performed.\n",
                    ),
                    Pending::Consent { .. } => (
                        "operator declined the remote-support terms",
                        "Remote support was not enabled.\n",
                    ),
                };
                self.transcript.note(now, note);
                Reply {
                    output: output.into(),
                    ..Reply::default()
                }
            }
            "?" => {
                let output = match pending {
                    Pending::ResponseToken { collected } => {
                        return self.answer_response(collected, line)
                    }
                    Pending::Confirm { .. } => {
                        "Y - Continue with the operation.\nN - Skip the operation; nothing is changed.\n"
                    }
                    Pending::Consent { .. } => {
                        "Y - Enable remote support with the access level and duration given.\nN - Do not enable remote support.\n"
                    }
                };
                self.pending = Some(pending);
                Reply {
                    output: output.into(),
                    ..Reply::default()
                }
            }
            _ => {
                self.pending = Some(pending);
                Reply {
                    output: format!("'{}' is not an answer: type Y, N or ?.\n", escape(line)),
                    ..Reply::default()
                }
            }
        }
    }

    /// The reply to a confirmed command: its output in the command's default view, or its error
    /// named after it; both transcribed.
    fn answered(&mut self, spec: &CommandSpec, result: Result<Vec<Value>, String>) -> Reply {
        let mut reply = Reply::default();
        match result.map(|values| default_sorted(spec, values, false)) {
            Ok(values) => match lang::render_within(
                &values,
                Render::Default(Some(&spec.output)),
                self.width,
                self.endpoint.limits.max_output_bytes,
            ) {
                Ok(text) => {
                    reply.output = text;
                    self.record_output(&mut reply);
                }
                Err(e) => {
                    self.fail(&mut reply, e.to_string());
                }
            },
            Err(e) => {
                self.fail(&mut reply, format!("{}: {e}", spec.name));
            }
        }
        reply
    }
}
