//! The session's gate: which commands the caller may run now.
//!
//! It owns the live authorization of a support session (its own grant, still active), the
//! permission check of one command against the caller's role and that authorization (re-checked
//! on every line), and what follows from it: the visible commands and Tab completion over them.
//!
//! The gate hands out a [`Permit`]: made only here, from the live grant at this instant, carrying
//! its level. A command runs only with a permit, which `run_catalog` checks again against the
//! command it is about to run; a question answered later (a repair's confirmation) gets a new
//! permit when the answer arrives, never the one from when it was asked.

use super::Shell;
use crate::consent::Authorization;
use crate::identity::Role;
use crate::lang;
use azs_support::catalog::{Access, CommandSpec};

/// Proof that this session may run commands now, at the level it carries. Not kept across lines.
#[derive(Debug)]
pub(super) struct Permit {
    auth: Option<Authorization>,
}

impl Permit {
    /// The support grant's authorization it carries (None for operators).
    pub(super) fn authorization(&self) -> Option<&Authorization> {
        self.auth.as_ref()
    }
}

impl Shell {
    /// A permit for the caller now: operators always get one (without a grant); a support
    /// session only while its own grant is active.
    pub(super) fn permit(&self) -> Option<Permit> {
        match self.identity.role {
            Role::Operator | Role::Observer => Some(Permit { auth: None }),
            Role::Support => self.live_authorization().map(|a| Permit { auth: Some(a) }),
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

    /// The caller's authorization now: none for an operator; for a support caller, the active
    /// grant if it is still the one the session started under.
    pub(super) fn live_authorization(&self) -> Option<Authorization> {
        match self.identity.role {
            Role::Operator | Role::Observer => None,
            Role::Support => self
                .endpoint
                .consent
                .authorize()
                .filter(|a| Some(a.grant_id()) == self.grant_id),
        }
    }

    /// Whether the caller may run `spec` now; the error says why not.
    pub(super) fn permission(
        &self,
        spec: &CommandSpec,
        auth: Option<&Authorization>,
    ) -> Result<(), String> {
        let denied = |why: &str| {
            Err(format!(
                "The term '{}' is not recognized as the name of a command permitted in this session ({why}).",
                spec.name
            ))
        };
        match (self.identity.role, spec.access) {
            (_, Access::Default) => Ok(()),
            (Role::Observer, Access::Operator)
                if crate::identity::OBSERVER_COMMANDS.contains(&spec.name.as_str()) =>
            {
                Ok(())
            }
            (Role::Observer, _) => denied(
                "an observer watches and reads only: Get-RemoteSupportSession, Watch-RemoteSupportSession, Get-RemoteSupportSessionHistory, Get-RemoteSupportAccess",
            ),
            (Role::Operator, Access::Operator) => Ok(()),
            (Role::Operator, Access::Elevated) => {
                if self.elevation.elevated_at(self.endpoint.clock.now()) {
                    Ok(())
                } else {
                    denied("it needs a session elevated with a vendor-signed token: Get-SupportSessionToken, then Unlock-SupportSession")
                }
            }
            (Role::Support, Access::Elevated) => {
                denied("it runs only in an operator's elevated session")
            }
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
}
