//! Stamp commands run through their azs-support implementations, and the refusal of those that
//! come later.
//!
//! It owns the bridge from a bound catalog entry with `handler = "stamp"` to its implementation —
//! the stamp read or written, `-WhatIf` (a plan run whose effects become "What if:" lines), saving
//! a changed stamp — and the reply of an entry with `handler = "later"`, which names the
//! capability it comes with and runs nothing.

use super::gate::Permit;
use super::Shell;
use crate::handlers::Handler;
use azs_support::catalog::CommandSpec;
use azs_support::commands::{Implementation, Invocation, Mode, StampAccess};
use azs_support::stamp::Stamp;
use azs_support::workdir::WorkingDirectory;
use azs_support::{BoundArgs, Value};
use chrono::{DateTime, Utc};

impl Shell {
    /// Runs a stamp command through its azs-support implementation on `input`, under `permit`
    /// (refused if the permit does not cover it): `-WhatIf` describes the change, a
    /// ShouldProcess command changes the stamp and saves it, any other command reads it. A
    /// command that comes later says so (naming the capability it comes with) and runs nothing.
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
        let implementation = match self.handler(spec)? {
            Handler::Stamp(implementation) => implementation,
            Handler::Later(with) => {
                return Err(format!(
                    "'{}' is in the catalog but not implemented yet in this version of pep (it comes with {with}); nothing was run. See Get-Help {} for what it will do.",
                    spec.name, spec.name
                ))
            }
            other => {
                return Err(format!(
                    "internal error: '{}' is not a stamp command ({other:?})",
                    spec.name
                ))
            }
        };
        let store = &self.endpoint.stamp;
        // The stamp's clock: work in progress advances to now before the command sees it.
        let now = store.advance(self.endpoint.clock.now());
        let what_if = spec.supports_should_process && args.switch("WhatIf");
        // A command on a real machine acts on the machine, not the stamp: it takes no write lock
        // (a systemctl or a dump must not hold every other session's reads), and it runs off the
        // async worker (it may block for seconds).
        let real = spec.param("ComputerName").is_some() && {
            let stamp = store.read();
            let names = args.strings("ComputerName");
            if names.is_empty() {
                // Every node, the machine among them: a read only.
                !spec.supports_should_process && !stamp.machines.is_empty()
            } else {
                names.iter().any(|n| stamp.node(n).is_some_and(|n| n.real))
            }
        };
        if real {
            // A copy: no lock is held while the machine works.
            let stamp = store.read().clone();
            return blocking(|| {
                read_run(
                    implementation,
                    args,
                    input,
                    &stamp,
                    &self.workdir,
                    now,
                    what_if,
                )
            });
        }
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
        // Reads, and -WhatIf.
        let stamp = store.read();
        read_run(
            implementation,
            args,
            input,
            &stamp,
            &self.workdir,
            now,
            what_if,
        )
    }
}

/// Runs a command that may not change the stamp: a read, or a -WhatIf run whose recorded
/// effects become "What if:" lines ahead of its output.
fn read_run(
    implementation: Implementation,
    args: &BoundArgs,
    input: Vec<Value>,
    stamp: &Stamp,
    workdir: &WorkingDirectory,
    now: DateTime<Utc>,
    what_if: bool,
) -> Result<Vec<Value>, String> {
    let mode = if what_if { Mode::WhatIf } else { Mode::Execute };
    let mut inv = Invocation::new(args, input, StampAccess::Read(stamp), workdir, now, mode);
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

/// Runs `f`, which may block, without holding up the other tasks of a multi-threaded runtime's
/// worker (`block_in_place`); elsewhere (a current-thread runtime in tests, no runtime) directly.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Reply;
    use super::*;
    use crate::clock::Clock;
    use crate::consent::AccessLevel;
    use crate::endpoint::{Endpoint, EndpointOptions};
    use crate::identity::{Identity, Role};
    use crate::lang;
    use crate::shell::SessionKind;
    use azs_support::catalog::{Access, HandlerKind, Profile};
    use std::sync::Arc;

    /// An endpoint serving `profile` on `scenario`, with a DiagnosticsRepair grant.
    fn endpoint(dir: &std::path::Path, profile: Profile, scenario: &str) -> Arc<Endpoint> {
        let endpoint = Endpoint::open(
            &EndpointOptions {
                state: dir.join("state"),
                scenario: scenario.into(),
                reset_stamp: true,
                catalog: None,
                profile,
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
        endpoint
    }

    /// A session of the role that may run `access`.
    fn session(endpoint: &Arc<Endpoint>, access: Access) -> Shell {
        let support = Identity {
            name: "sam".into(),
            role: Role::Support,
            key: String::new(),
            fingerprint: "SHA256:x".into(),
            added_at: chrono::Utc::now(),
        };
        let who = match access {
            Access::Operator => Identity {
                role: Role::Operator,
                name: "olivia".into(),
                ..support
            },
            _ => support,
        };
        Shell::start(endpoint.clone(), who, "test", SessionKind::Exec).expect("session")
    }

    /// The values the first element of `line` returns, before any formatting.
    fn first_values(shell: &mut Shell, line: &str) -> Result<Vec<Value>, String> {
        let pipeline = lang::parse_line(line)
            .map_err(|e| e.to_string())?
            .ok_or("an empty line")?;
        let call = &pipeline.elements[0];
        let endpoint = shell.endpoint.clone();
        let spec =
            lang::resolve_command(&endpoint.catalog, &call.name).map_err(|e| e.to_string())?;
        let args = lang::bind(spec, call).map_err(|e| e.to_string())?;
        let permit = shell.permit().ok_or("no permit")?;
        let mut reply = Reply::default();
        Ok(shell
            .run_first(spec, &args, &mut reply, &permit)?
            .unwrap_or_default())
    }

    /// Examples that need something to exist first.
    const NEEDS_CONTEXT: &[(&str, &str)] = &[
        (
            "Get-AzsSupportRoutingInformation",
            "a failed action plan (scenario ece-plan-failed)",
        ),
        (
            "Get-AzsSupportTraceEvent",
            "a trace written by an earlier command",
        ),
        (
            "Get-VHD",
            "a disk at the example's path (the azure-local stamp has none at C:\\ClusterStorage\\Volume1)",
        ),
    ];

    /// The first help example of every stamp command that changes nothing runs on the profile's
    /// stamp — what Get-Help shows works as shown — and every record it returns carries the type
    /// name its entry's output declares.
    #[test]
    fn help_examples_of_read_commands_run_and_return_their_declared_type() {
        let tmp = tempfile::tempdir().expect("tmp");
        let mut failures = Vec::new();
        for (profile, scenario) in [
            (Profile::AzsHub, "default"),
            (Profile::AzureLocal, "azure-local"),
        ] {
            let dir = tmp.path().join(profile.as_str());
            let endpoint = endpoint(&dir, profile, scenario);
            for spec in endpoint.catalog.commands() {
                // Changing commands, and commands not over the stamp (consent commands change
                // grants; built-ins and formatters are tested with the language) are out.
                if spec.supports_should_process
                    || spec.handler != HandlerKind::Stamp
                    || NEEDS_CONTEXT.iter().any(|(n, _)| *n == spec.name)
                {
                    continue;
                }
                let Some(example) = spec.examples.first() else {
                    continue;
                };
                let mut shell = session(&endpoint, spec.access);
                if let Some(e) = shell.execute(&example.code).error {
                    failures.push(format!("{}: {e}", example.code));
                    continue;
                }
                // Its own records, when the example starts with it (not a pipeline into it).
                let first = example.code.split_whitespace().next().unwrap_or_default();
                if endpoint.catalog.get(first).map(|s| &s.name) != Some(&spec.name) {
                    continue;
                }
                // A fresh session: a command that writes a file writes it again.
                let mut shell = session(&endpoint, spec.access);
                match first_values(&mut shell, &example.code) {
                    Err(e) => failures.push(format!("{}: {e}", example.code)),
                    Ok(values) => {
                        for r in values.iter().filter_map(Value::as_record) {
                            if r.type_name != spec.output.type_name {
                                failures.push(format!(
                                    "{}: a record of type '{}', but the entry's output type_name is '{}'",
                                    example.code, r.type_name, spec.output.type_name
                                ));
                                break;
                            }
                        }
                    }
                }
            }
        }
        assert!(
            failures.is_empty(),
            "examples that fail:\n{}",
            failures.join("\n")
        );
    }

    /// Every help example of every command, the changing ones under -WhatIf, reads only the
    /// parameters its entry declares (an undeclared read panics in debug builds); whether it
    /// succeeds here does not matter.
    #[test]
    fn help_examples_read_only_declared_parameters() {
        let tmp = tempfile::tempdir().expect("tmp");
        let mut panics = Vec::new();
        for (profile, scenario) in [
            (Profile::AzsHub, "default"),
            (Profile::AzureLocal, "azure-local"),
        ] {
            let dir = tmp.path().join(profile.as_str());
            let endpoint = endpoint(&dir, profile, scenario);
            for spec in endpoint.catalog.commands() {
                if matches!(spec.handler, HandlerKind::Later(_) | HandlerKind::Operator) {
                    continue;
                }
                for example in &spec.examples {
                    let line = if spec.supports_should_process {
                        format!("{} -WhatIf", example.code)
                    } else if spec.handler == HandlerKind::Formatter {
                        // Formatting commands run on piped records.
                        format!("Get-Command | {}", example.code)
                    } else {
                        example.code.clone()
                    };
                    let mut shell = session(&endpoint, spec.access);
                    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        shell.execute(&line)
                    }));
                    if run.is_err() {
                        panics.push(line);
                    }
                }
            }
        }
        assert!(panics.is_empty(), "examples that panic: {panics:#?}");
    }

    /// The process names a line prints, one per line.
    fn names(shell: &mut Shell, line: &str) -> Vec<String> {
        let reply = shell.execute(line);
        assert_eq!(reply.error, None, "{line}");
        reply.output.lines().map(str::to_string).collect()
    }

    #[test]
    fn the_runtime_sorts_records_by_the_catalogs_default_sort_unless_the_line_sorts() {
        let tmp = tempfile::tempdir().expect("tmp");
        let line =
            "Get-AzsSupportProcess -ComputerName AZS-HOST01 | Select-Object -ExpandProperty Name";
        // The embedded catalog: by Name, then Id.
        let served = endpoint(tmp.path(), Profile::AzsHub, "default");
        let as_served = names(&mut session(&served, Access::Diagnostics), line);
        let mut ascending = as_served.clone();
        ascending.sort_by_key(|n| n.to_ascii_lowercase());
        assert_eq!(as_served, ascending);
        assert!(as_served.len() > 3, "{as_served:?}");
        // The same catalog, its default sort for the command turned round: the output follows.
        let dir = tmp.path().join("catalog");
        std::fs::create_dir(&dir).expect("mkdir");
        for (name, text) in azs_support::catalog::embedded_files() {
            let text = text.replace(
                "default_sort = [\"Name\", \"Id\"]",
                "default_sort = [\"Name\", \"Id\"]\ndefault_sort_descending = [\"Name\"]",
            );
            let file = name.rsplit('/').next().unwrap_or(name);
            std::fs::write(dir.join(file), text).expect("write");
        }
        let turned = Endpoint::open(
            &EndpointOptions {
                state: tmp.path().join("turned"),
                reset_stamp: true,
                catalog: Some(dir),
                ..EndpointOptions::default()
            },
            Clock::system(),
        )
        .expect("endpoint");
        turned
            .consent
            .enable(AccessLevel::Diagnostics, 60, None)
            .expect("grant");
        let mut shell = session(&turned, Access::Diagnostics);
        let descending: Vec<String> = names(&mut shell, line);
        let mut expected = ascending.clone();
        expected.reverse();
        // Names only: processes of one name keep their Id order, so compare the distinct names.
        let distinct = |v: &[String]| {
            let mut d: Vec<String> = v.to_vec();
            d.dedup();
            d
        };
        assert_eq!(distinct(&descending), distinct(&expected));
        // A line that sorts the records itself gets them in its own order.
        let by_id = names(
            &mut shell,
            "Get-AzsSupportProcess -ComputerName AZS-HOST01 | Sort-Object -Property Id | Select-Object -ExpandProperty Id",
        );
        let ids: Vec<i64> = by_id.iter().filter_map(|i| i.trim().parse().ok()).collect();
        assert_eq!(ids.len(), by_id.len(), "{by_id:?}");
        assert!(ids.windows(2).all(|w| w[0] <= w[1]), "{ids:?}");
    }

    #[test]
    fn an_operator_session_starts_locked_and_break_glass_commands_wait_for_an_unlock() {
        let tmp = tempfile::tempdir().expect("tmp");
        let endpoint = endpoint(tmp.path(), Profile::AzsHub, "default");
        let mut shell = session(&endpoint, Access::Operator);
        let reply = shell.execute("Get-SupportSessionInfo");
        assert!(reply.error.is_none(), "{reply:?}");
        assert!(reply.output.contains("Locked"), "{}", reply.output);
        let reply = shell.execute("Resume-AzsScaleUnitNode -Name AZS-HOST03");
        let e = reply.error.expect("refused");
        assert!(e.contains("elevated with a vendor-signed token"), "{e}");
        let reply = shell.execute("Unlock-SupportSession -ResponseToken AAAA");
        let e = reply.error.expect("refused");
        assert!(e.contains("run Get-SupportSessionToken first"), "{e}");
        let reply = shell.execute("Get-SupportSessionToken");
        assert!(reply.error.is_none(), "{reply:?}");
        let reply = shell.execute("Get-SupportSessionInfo");
        assert!(reply.output.contains("Pending"), "{}", reply.output);
        let reply = shell.execute("Unlock-SupportSession -ResponseToken AAAA");
        let e = reply.error.expect("refused");
        assert!(e.contains("not an SSH signature"), "{e}");
    }
}
