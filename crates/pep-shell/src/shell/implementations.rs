//! Catalog commands run through their azs-support implementations, and the ones that come later.
//!
//! It owns the bridge from a bound catalog command to its implementation — the stamp read or
//! written, `-WhatIf` (a plan run whose effects become "What if:" lines), saving a changed stamp —
//! and [`LATER`], the catalog commands not implemented in this version, which say so when run.

use super::gate::Permit;
use super::Shell;
use azs_support::catalog::CommandSpec;
use azs_support::commands::{self, Invocation, Mode, StampAccess};
use azs_support::{BoundArgs, Value};

impl Shell {
    /// Runs a catalog command through its azs-support implementation on `input`, under `permit`
    /// (refused if the permit does not cover it): `-WhatIf`
    /// describes the change, a ShouldProcess command changes the stamp and saves it, any other
    /// command reads it. A command without an implementation says so (naming, from [`LATER`], the
    /// capability it comes with) and runs nothing.
    pub(super) fn run_catalog(
        &mut self,
        spec: &CommandSpec,
        args: &BoundArgs,
        input: Vec<Value>,
        permit: &Permit,
    ) -> Result<Vec<Value>, String> {
        // The permit is checked against this very command: nothing runs on a permit that does
        // not cover it, whoever called.
        self.permission(spec, permit.authorization())?;
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
        let store = &self.endpoint.stamp;
        // The stamp's clock: work in progress advances to now before the command sees it.
        let now = store.advance(self.endpoint.clock.now());
        let what_if = spec.supports_should_process && args.switch("WhatIf");
        if spec.supports_should_process && !what_if {
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
        // Reads, and -WhatIf: a run that may not change the stamp, whose recorded effects
        // become "What if:" lines ahead of its output.
        let stamp = store.read();
        let mode = if what_if { Mode::WhatIf } else { Mode::Execute };
        let mut inv = Invocation::new(
            args,
            input,
            StampAccess::Read(&stamp),
            &self.workdir,
            now,
            mode,
        );
        let mut values = implementation(&mut inv).map_err(|e| e.0)?;
        if what_if {
            let lines = inv
                .effects()
                .iter()
                .map(|e| Value::String(format!("What if: {e}")));
            values.splice(0..0, lines);
        }
        Ok(values)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtins;
    use crate::identity::{Identity, Role};
    use crate::operator_commands;
    use crate::shell::run::is_formatting_command;
    use crate::shell::SessionKind;
    use azs_support::catalog::{self, Access, Profile};

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
                ..EndpointOptions::default()
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
