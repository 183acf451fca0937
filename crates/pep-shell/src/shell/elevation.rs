//! The session's side of elevation (`crate::elevation`): Get-SupportSessionToken,
//! Unlock-SupportSession (with the token, or at its `ResponseToken:` prompt, where the armored
//! text may be pasted over several lines), Get-SupportSessionInfo and Close-PrivilegedEndpoint;
//! and the end of an elevation when its 8 hours pass. Every step is in the audit log.

use super::pending::Pending;
use super::{Reply, SessionKind, Shell};
use crate::elevation::{
    check_response, Elevation, ElevationCommand, Request, UsedRequests, ELEVATION_HOURS,
};
use crate::vendor_keys::VendorKeys;
use azs_support::{BoundArgs, Record, Value};
use chrono::Duration;
use serde_json::json;

/// The prompt Unlock-SupportSession shows without -ResponseToken.
pub(super) const RESPONSE_PROMPT: &str = "ResponseToken: ";

/// The most a pasted armored response may grow to.
const MAX_PASTE: usize = 16 * 1024;

impl Shell {
    pub(super) fn run_elevation(
        &mut self,
        command: ElevationCommand,
        args: &BoundArgs,
        reply: &mut Reply,
    ) -> Result<Vec<Value>, String> {
        let now = self.endpoint.clock.now();
        match command {
            ElevationCommand::RequestToken => {
                if self.elevation.elevated_at(now) {
                    return Err(
                        "this session is elevated already; Get-SupportSessionInfo shows until when"
                            .into(),
                    );
                }
                let request = Request::new(now);
                self.audit(
                    "elevation_requested",
                    json!({ "request": request.sid, "expires": request.expires }),
                )?;
                let token = request.token.clone();
                self.elevation = Elevation::Pending(request);
                Ok(vec![Value::String(token)])
            }
            ElevationCommand::Unlock => match args.str("ResponseToken") {
                Some(token) => self.unlock(token).map(|r| vec![r]),
                None => {
                    if self.kind != SessionKind::Interactive {
                        return Err("give -ResponseToken: this session cannot prompt for it".into());
                    }
                    self.pending_request()?;
                    self.pending = Some(Pending::ResponseToken {
                        collected: String::new(),
                    });
                    reply.output.clear();
                    Ok(Vec::new())
                }
            },
            ElevationCommand::Info => Ok(vec![self.session_info()]),
            ElevationCommand::Close => {
                let mut out = Vec::new();
                if let Some(dest) = args.str("TranscriptsPathDestination") {
                    let shipped = crate::transcript_shipping::ship(&self.endpoint, dest)?;
                    let mut line = format!(
                        "Copied {} transcript and recording files ({} bytes) to {}, verified them and removed them here",
                        shipped.files, shipped.bytes, shipped.destination
                    );
                    if shipped.kept > 0 {
                        line.push_str(&format!(
                            "; {} could not be verified (the SAS cannot read) and stay",
                            shipped.kept
                        ));
                    }
                    line.push_str(". Open sessions' files (this one's too) stay for the next Close-PrivilegedEndpoint.");
                    out.push(Value::String(line));
                }
                self.void_elevation("Close-PrivilegedEndpoint");
                reply.exit = true;
                Ok(out)
            }
        }
    }

    /// The request waiting for its response.
    fn pending_request(&self) -> Result<Request, String> {
        match &self.elevation {
            Elevation::Pending(r) => Ok(r.clone()),
            Elevation::Elevated { .. } if self.elevation.elevated_at(self.endpoint.clock.now()) => {
                Err("this session is elevated already".into())
            }
            _ => Err(
                "no request is waiting: run Get-SupportSessionToken first, in this session".into(),
            ),
        }
    }

    /// Checks the response against this session's request and elevates; every refusal is one
    /// line and is audited.
    pub(super) fn unlock(&mut self, response: &str) -> Result<Value, String> {
        let now = self.endpoint.clock.now();
        let request = self.pending_request()?;
        let keys = VendorKeys::at(&self.endpoint.state.vendor_keys())
            .load()
            .map_err(|e| format!("{e:#}"))?;
        let checked = check_response(&request, response, &keys, now).and_then(|signer| {
            UsedRequests::at(&self.endpoint.state.elevation_used())
                .consume(&request, now)
                .map(|_| signer)
                .map_err(|e| format!("{e:#}"))
        });
        let signer = match checked {
            Ok(s) => s,
            Err(why) => {
                let logged = self.audit(
                    "elevation_refused",
                    json!({ "request": request.sid, "reason": why }),
                );
                if let Err(e) = logged {
                    tracing::error!(error = %e, "the audit log cannot record a refused unlock");
                }
                return Err(why);
            }
        };
        // Fail closed: an elevation the audit log does not know is not granted.
        self.audit(
            "elevation_granted",
            json!({
                "request": request.sid,
                "vendor": signer.vendor,
                "vendor_key": signer.fingerprint,
                "until": now + Duration::hours(ELEVATION_HOURS),
            }),
        )?;
        self.elevation = Elevation::Elevated {
            until: now + Duration::hours(ELEVATION_HOURS),
            signer,
            sid: request.sid,
        };
        self.transcript
            .note(now, "session elevated with a vendor-signed token");
        Ok(self.session_info())
    }

    /// One line of a response pasted at the prompt: the armored text may take several lines.
    pub(super) fn answer_response(&mut self, mut collected: String, line: &str) -> Reply {
        collected.push_str(line.trim());
        collected.push(' ');
        let armored = collected.contains("BEGIN SSH SIGNATURE");
        if armored && !collected.contains("END SSH SIGNATURE") {
            if collected.len() > MAX_PASTE {
                return Reply {
                    error: Some("the response token is too long".into()),
                    ..Reply::default()
                };
            }
            self.pending = Some(Pending::ResponseToken { collected });
            return Reply::default();
        }
        match self.unlock(&collected) {
            Ok(info) => Reply {
                output: crate::lang::render_within(
                    &[info],
                    crate::lang::Render::List(Vec::new()),
                    self.width,
                    self.endpoint.limits.max_output_bytes,
                )
                .unwrap_or_default(),
                ..Reply::default()
            },
            Err(e) => Reply {
                error: Some(format!("Unlock-SupportSession: {e}")),
                ..Reply::default()
            },
        }
    }

    /// Get-SupportSessionInfo's record.
    fn session_info(&self) -> Value {
        let now = self.endpoint.clock.now();
        let mut r = Record::new("SupportSession.Info")
            .with("SessionId", self.record.session_id.clone())
            .with("State", self.elevation.state_at(now));
        match &self.elevation {
            Elevation::Elevated { until, signer, .. } if *until > now => {
                r = r
                    .with("UnlockedUntil", *until)
                    .with("Vendor", signer.vendor.clone())
                    .with("VendorKeyFingerprint", signer.fingerprint.clone());
            }
            Elevation::Pending(req) if req.expires > now => {
                r = r
                    .with("UnlockedUntil", Value::Null)
                    .with("RequestExpires", req.expires);
            }
            _ => r = r.with("UnlockedUntil", Value::Null),
        }
        r.into()
    }

    /// An elevation past its 8 hours locks again (noted once, in the transcript and audit log).
    pub(super) fn observe_elevation(&mut self) {
        let now = self.endpoint.clock.now();
        if matches!(self.elevation, Elevation::Elevated { until, .. } if now >= until) {
            self.end_elevation("its 8 hours passed");
        }
    }

    fn end_elevation(&mut self, reason: &str) {
        let Elevation::Elevated { sid, .. } = std::mem::take(&mut self.elevation) else {
            return;
        };
        self.transcript.note(
            self.endpoint.clock.now(),
            &format!("elevation ended: {reason}"),
        );
        if let Err(e) = self.audit(
            "elevation_ended",
            json!({ "request": sid, "reason": reason }),
        ) {
            tracing::error!(error = %e, "the audit log cannot record an elevation's end");
        }
    }

    /// Ends the elevation, and voids a request still out so its response is useless (the
    /// session is closing).
    pub(super) fn void_elevation(&mut self, reason: &str) {
        match std::mem::take(&mut self.elevation) {
            Elevation::Pending(request) => {
                let used = UsedRequests::at(&self.endpoint.state.elevation_used());
                if let Err(e) = used.consume(&request, self.endpoint.clock.now()) {
                    tracing::warn!(error = %e, "a pending request could not be voided");
                }
            }
            elevated @ Elevation::Elevated { .. } => {
                self.elevation = elevated;
                self.end_elevation(reason);
            }
            Elevation::Locked => {}
        }
    }
}
