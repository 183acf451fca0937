//! The configuration file of `pep serve --config FILE`: every `pep serve` flag can be set there,
//! so a service definition does not carry a long command line; a flag given on the command line
//! overrides the file.
//!
//! Format (TOML, version 1):
//!
//! ```toml
//! version = 1
//!
//! [serve]
//! listen = "0.0.0.0:22"
//! state = "/var/lib/pep"
//! idle_timeout_secs = 900
//! vendor_upload_sas_file = "/etc/pep/vendor.sas"   # the SAS itself stays in its 0600 file
//! redact_pattern = ["CASE-[0-9]+"]                  # a repeatable flag takes a list
//! obfuscate_logs = true                             # a switch takes true or false
//! ```
//!
//! A key is a flag's long name without `--`, with `_` or `-` between words (`state_budget_mb` or
//! `state-budget-mb`); its value is a string, a number, a boolean (switches) or a list (repeatable
//! flags). An unknown key, a wrong type, a `version` other than 1 or a missing `[serve]` table is
//! an error naming the key; nothing is ignored silently. For a repeatable flag, the command line's
//! values replace the file's.
//!
//! Secrets stay out of it: a value holding a SAS signature (`sig=`) is refused (the upload SAS
//! goes in `vendor_upload_sas_file`, mode 0600), and so is a file others may write (group or world
//! writable, or not owned by root or the user running pep), since whoever writes it configures
//! the endpoint.

use anyhow::{anyhow, bail, Context, Result};
use std::ffi::OsString;
use std::path::Path;

/// The format version this pep reads.
pub const VERSION: i64 = 1;

/// What a flag takes, as the command line parser declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    /// A switch (`--obfuscate-logs`).
    Switch,
    /// One value (`--listen ADDR`).
    Value,
    /// A repeatable value (`--redact-pattern RE`, given once per value).
    List,
}

/// A flag of `pep serve`: its long name and kind, and whether the command line gave it.
#[derive(Debug, Clone)]
pub struct Flag {
    /// The long name, without `--`.
    pub long: String,
    /// What it takes.
    pub kind: FlagKind,
    /// Given on the command line (the file's value is then not used).
    pub on_command_line: bool,
}

/// Reads `path` and returns the command-line arguments it stands for, for the flags of `flags`
/// not already given on the command line (`--flag`, `--flag value`, once per list element).
pub fn arguments(path: &Path, flags: &[Flag]) -> Result<Vec<OsString>> {
    check_file(path)?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the configuration file {}", path.display()))?;
    arguments_from(&text, flags).map_err(|e| anyhow!("{}: {e:#}", path.display()))
}

/// The arguments of the configuration `text` (see [`arguments`]).
pub fn arguments_from(text: &str, flags: &[Flag]) -> Result<Vec<OsString>> {
    let doc: toml::Table = text.parse().context("not valid TOML")?;
    match doc.get("version") {
        Some(toml::Value::Integer(VERSION)) => {}
        Some(v) => bail!("version {v} is not one this pep reads (version = {VERSION})"),
        None => bail!("no `version = {VERSION}` line"),
    }
    for key in doc.keys() {
        if key != "version" && key != "serve" {
            bail!("unknown table or key '{key}' (the settings go in [serve])");
        }
    }
    let serve = match doc.get("serve") {
        Some(toml::Value::Table(t)) => t,
        Some(_) => bail!("'serve' must be a table ([serve])"),
        None => bail!("no [serve] table"),
    };
    let mut out = Vec::new();
    for (key, value) in serve {
        let long = key.replace('_', "-");
        if long == "config" {
            bail!("'config' cannot be set in a configuration file");
        }
        let Some(flag) = flags.iter().find(|f| f.long == long) else {
            let mut known: Vec<&str> = flags
                .iter()
                .map(|f| f.long.as_str())
                .filter(|l| *l != "config")
                .collect();
            known.sort_unstable();
            bail!(
                "unknown setting '{key}'; the settings are the flags of `pep serve --help`: {}",
                known.join(", ")
            );
        };
        if flag.on_command_line {
            continue;
        }
        let dashed = format!("--{long}");
        match (flag.kind, value) {
            (FlagKind::Switch, toml::Value::Boolean(on)) => {
                if *on {
                    out.push(dashed.into());
                }
            }
            (FlagKind::Switch, _) => bail!("'{key}' is a switch: true or false"),
            (FlagKind::List, toml::Value::Array(items)) => {
                for item in items {
                    out.push(dashed.clone().into());
                    out.push(scalar(key, item)?.into());
                }
            }
            (FlagKind::List, v) => {
                out.push(dashed.into());
                out.push(scalar(key, v)?.into());
            }
            (FlagKind::Value, v) => {
                out.push(dashed.into());
                out.push(scalar(key, v)?.into());
            }
        }
    }
    Ok(out)
}

/// A value as the command line would give it.
fn scalar(key: &str, value: &toml::Value) -> Result<String> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        _ => bail!("'{key}' takes a string, a number or a boolean"),
    };
    if text.contains("sig=") {
        bail!(
            "'{key}' holds a SAS signature: keep the SAS in a 0600 file and name that file (vendor_upload_sas_file)"
        );
    }
    Ok(text)
}

/// Refuses a configuration file others could have written.
fn check_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)
        .with_context(|| format!("reading the configuration file {}", path.display()))?;
    if !meta.is_file() {
        bail!("the configuration file {} is not a file", path.display());
    }
    if meta.mode() & 0o022 != 0 {
        bail!(
            "the configuration file {} may be written by others (mode {:o}); chmod go-w it",
            path.display(),
            meta.mode() & 0o7777
        );
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != me {
        bail!(
            "the configuration file {} belongs to user {}, not root or the user running pep",
            path.display(),
            meta.uid()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> Vec<Flag> {
        let f = |long: &str, kind, on_command_line| Flag {
            long: long.into(),
            kind,
            on_command_line,
        };
        vec![
            f("listen", FlagKind::Value, false),
            f("state", FlagKind::Value, true),
            f("idle-timeout-secs", FlagKind::Value, false),
            f("obfuscate-logs", FlagKind::Switch, false),
            f("reset-stamp", FlagKind::Switch, false),
            f("redact-pattern", FlagKind::List, false),
        ]
    }

    fn args(text: &str) -> Result<Vec<String>> {
        Ok(arguments_from(text, &flags())?
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect())
    }

    #[test]
    fn settings_become_flags_and_the_command_line_wins() {
        let got = args(
            r#"
version = 1
[serve]
listen = "0.0.0.0:22"
state = "/var/lib/pep"
idle_timeout_secs = 900
obfuscate-logs = true
reset_stamp = false
redact_pattern = ["A+", "B+"]
"#,
        )
        .expect("valid");
        assert_eq!(
            got,
            [
                "--idle-timeout-secs",
                "900",
                "--listen",
                "0.0.0.0:22",
                "--obfuscate-logs",
                "--redact-pattern",
                "A+",
                "--redact-pattern",
                "B+"
            ],
            "state was given on the command line, reset_stamp is off"
        );
    }

    #[test]
    fn mistakes_are_named_and_nothing_is_ignored() {
        let cases = [
            ("[serve]\nlisten = \"x\"", "version = 1"),
            ("version = 2\n[serve]", "version 2"),
            (
                "version = 1\n[serve]\nlisen = \"x\"",
                "unknown setting 'lisen'",
            ),
            ("version = 1\n[server]\n", "unknown table or key 'server'"),
            ("version = 1\n", "no [serve]"),
            ("version = 1\n[serve]\nobfuscate_logs = 1", "a switch"),
            ("version = 1\n[serve]\nconfig = \"x\"", "cannot be set"),
            (
                "version = 1\n[serve]\nlisten = \"https://a/c?sv=1&sig=abc\"",
                "SAS signature",
            ),
            ("version = 1\n[serve\n", "not valid TOML"),
        ];
        for (text, want) in cases {
            let e = args(text).expect_err(text);
            assert!(format!("{e:#}").contains(want), "{text}: {e:#}");
        }
        let e = args("version = 1\n[serve]\nnope = 1").expect_err("unknown");
        assert!(format!("{e:#}").contains("idle-timeout-secs"), "{e:#}");
    }

    #[test]
    fn a_file_others_may_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("pep.toml");
        std::fs::write(&path, "version = 1\n[serve]\nlisten = \"127.0.0.1:2\"\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        let e = arguments(&path, &flags()).expect_err("world-writable");
        assert!(e.to_string().contains("chmod go-w"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(arguments(&path, &flags()).expect("ok").len(), 2);
    }
}
