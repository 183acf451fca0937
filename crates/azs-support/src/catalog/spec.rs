//! The catalog's in-memory model: what one command is, as `catalog/*.toml` describes it.
//!
//! These types are the single source that help, `Get-Command`, Tab completion, parameter binding and
//! access gating read. They are built only by the loader (`catalog::load`), which validates them,
//! so holders of a `Catalog` can rely on every invariant documented here.

use regex::Regex;
use std::collections::HashMap;

/// Who may run a command, and at what consent level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Always available to every caller (JEA's default commands and the formatting commands).
    Default,
    /// Support, with a grant of `Diagnostics` or higher.
    Diagnostics,
    /// Support, with a grant of `DiagnosticsRepair`.
    DiagnosticsRepair,
    /// Operators only (consent, history, the privileged endpoint's own commands).
    Operator,
    /// An operator's session unlocked with a vendor-signed token (`Unlock-SupportSession`): the
    /// break-glass commands the real product runs outside the privileged endpoint.
    Elevated,
}

impl Access {
    /// The spelling used in catalog files and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Default => "Default",
            Access::Diagnostics => "Diagnostics",
            Access::DiagnosticsRepair => "DiagnosticsRepair",
            Access::Operator => "Operator",
            Access::Elevated => "Elevated",
        }
    }
}

/// Which command set a server serves. A command belongs to one profile, or to every one (`All`:
/// the default and formatting commands, and the operator's consent and history commands); a
/// command may name other profiles that serve it too (`also_profiles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// Azure Stack Hub: Azs.Support plus the privileged endpoint's operator commands.
    AzsHub,
    /// Azure Local / Azure Stack HCI remote support.
    AzureLocal,
    /// A Linux shop's own servers: the machine pep runs on, its host-level commands, consent,
    /// history and logs.
    Linux,
    /// Served in every profile (default and formatting commands, consent and history).
    All,
}

impl Profile {
    /// The profiles a server can serve (every one but `All`).
    pub const SERVED: &'static [Profile] = &[Profile::AzsHub, Profile::AzureLocal, Profile::Linux];

    /// The name used in catalog files and on the command line (`azs-hub`, `azure-local`, `all`).
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::AzsHub => "azs-hub",
            Profile::AzureLocal => "azure-local",
            Profile::Linux => "linux",
            Profile::All => "all",
        }
    }

    /// Whether a command of this profile is served by a server running `serving`.
    pub fn serves_in(self, serving: Profile) -> bool {
        self == Profile::All || self == serving
    }
}

/// The type a parameter's value is converted to when bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// Text.
    String,
    /// A 64-bit integer (`range` bounds it further).
    Int,
    /// Present or absent; `-Name:$false` turns it off.
    Switch,
    /// `$true` or `$false`.
    Bool,
    /// An instant: ISO 8601 (`2026-11-21`, `2026-11-21T10:00:00Z`, `2026-11-21 10:00`).
    DateTime,
    /// One or more texts (comma array).
    StringArray,
    /// One or more integers (comma array).
    IntArray,
}

/// One parameter of a command.
#[derive(Debug, Clone)]
pub struct ParamSpec {
    /// Canonical name, without the dash (`ComputerName`).
    pub name: String,
    /// Value type.
    pub kind: ParamType,
    /// Must be given.
    pub mandatory: bool,
    /// Position for positional binding (0-based), if any.
    pub position: Option<u32>,
    /// Other names accepted for it (`CN` for `ComputerName`).
    pub aliases: Vec<String>,
    /// Allowed values (case-insensitive; bound as the catalog spells them). Empty: any.
    pub validate_set: Vec<String>,
    /// Anchored pattern every (text) value must match, with its source text for messages.
    pub validate_pattern: Option<(Regex, String)>,
    /// Inclusive bounds for Int / IntArray values.
    pub range: Option<(i64, i64)>,
    /// Default value as the catalog writes it (documentation, and bound when the parameter is
    /// absent). Stored as text and converted like user input.
    pub default: Option<String>,
    /// A secret (tokens, SAS URIs): its value never reaches a transcript or log, however it is
    /// given (named, abbreviated, positionally, with a colon).
    pub secret: bool,
    /// Takes wildcard patterns (`*`, `?`, `[a-z]`): a value that is not a valid pattern is
    /// refused when it is bound, and help shows `Accept wildcard characters? true`.
    pub wildcards: bool,
    /// One-line help.
    pub help: String,
}

/// One example in the help.
#[derive(Debug, Clone)]
pub struct Example {
    /// The command line.
    pub code: String,
    /// What it does.
    pub remarks: String,
}

/// How a command's records are shown when no formatting command is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Columns of the output properties.
    Table,
    /// One `Name : Value` block per record.
    List,
    /// Plain text lines (string output).
    Text,
}

/// What a command returns.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    /// Type name of the records (`Azs.Support.ClusterResource`), empty for text output.
    pub type_name: String,
    /// Properties every record carries, in display order.
    pub properties: Vec<String>,
    /// Default sort: property names, in priority order. Empty: the command's own order. The
    /// runtime sorts a command's records by it unless the line sorts them itself.
    pub default_sort: Vec<String>,
    /// The properties of `default_sort` sorted in descending order (newest, largest first).
    pub default_sort_descending: Vec<String>,
    /// Properties of `default_sort` whose values sort in a declared order rather than
    /// alphabetically (`HealthStatus`: Unhealthy, Warning, Healthy); values not listed follow.
    pub sort_order: Vec<(String, Vec<String>)>,
    /// The default view.
    pub view: View,
}

/// What runs a command. The catalog names the kind (`handler` in the file); the server binds each
/// entry to the handler of that kind and name when it starts, and refuses to start when an entry
/// has no handler or a handler has no entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerKind {
    /// A default command the session runs itself: Get-Command, Get-Help, Clear-Host,
    /// Exit-PSSession.
    Builtin,
    /// An operator's consent or history command, run by the endpoint over its own state.
    Operator,
    /// A formatting command of the language: reshapes, filters or renders piped records.
    Formatter,
    /// A command over the stamp: an implementation in azs-support's registry.
    Stamp,
    /// Log collection and upload, and their settings and history: run by the endpoint as a job
    /// the session watches (progress, cancellation when the grant ends).
    Logs,
    /// The session's elevation: request and response tokens, the lock state, closing the
    /// endpoint. Run by the session over its own state.
    Elevation,
    /// Not available in this version: it comes with the capability named here (one line).
    Later(String),
}

impl HandlerKind {
    /// The spelling used in catalog files (`builtin`, `operator`, `formatter`, `stamp`, `logs`, `later`).
    pub fn as_str(&self) -> &'static str {
        match self {
            HandlerKind::Builtin => "builtin",
            HandlerKind::Operator => "operator",
            HandlerKind::Formatter => "formatter",
            HandlerKind::Stamp => "stamp",
            HandlerKind::Logs => "logs",
            HandlerKind::Elevation => "elevation",
            HandlerKind::Later(_) => "later",
        }
    }
}

/// One key of a command's default sort.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// The property.
    pub property: String,
    /// Largest (newest, last in `order`) first.
    pub descending: bool,
    /// Values in the order they sort (case-insensitive); values not listed come after them.
    /// Empty: the values' own order.
    pub order: Vec<String>,
}

impl OutputSpec {
    /// The default sort's keys, in priority order.
    pub fn sort_keys(&self) -> Vec<SortKey> {
        self.default_sort
            .iter()
            .map(|p| SortKey {
                property: p.clone(),
                descending: self
                    .default_sort_descending
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(p)),
                order: self
                    .sort_order
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(p))
                    .map(|(_, o)| o.clone())
                    .unwrap_or_default(),
            })
            .collect()
    }
}

/// One command.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// Canonical name (`Get-AzsSupportClusterResource`).
    pub name: String,
    /// Other names (`select` for `Select-Object`).
    pub aliases: Vec<String>,
    /// Who may run it.
    pub access: Access,
    /// Which profile serves it.
    pub profile: Profile,
    /// Other profiles that serve it too (`also_profiles`: the host-level commands in `linux`).
    pub also_profiles: Vec<Profile>,
    /// Group heading (the catalog file's group: `Cluster`, `Service Fabric`, ...).
    pub group: String,
    /// One-line summary.
    pub synopsis: String,
    /// Full description.
    pub description: String,
    /// Parameters in declaration order.
    pub parameters: Vec<ParamSpec>,
    /// Help examples.
    pub examples: Vec<Example>,
    /// What it returns.
    pub output: OutputSpec,
    /// Accepts records from a previous pipeline element (formatting commands,
    /// `Save-AzsSupportObjectToFile`).
    pub pipeline_input: bool,
    /// Supports `-WhatIf` and `-Confirm` (changes state; asks in interactive sessions).
    pub supports_should_process: bool,
    /// Operators may run it too, although its `access` is a support level
    /// (`Send-AzureStackDiagnosticLog` is both an Azs.Support and a privileged-endpoint command).
    pub also_operator: bool,
    /// What runs it.
    pub handler: HandlerKind,
    /// Its result is a verdict: a final `False` in its output makes the line fail (an exec
    /// session exits non-zero) although nothing went wrong running it (`Test-AzureStack`).
    pub exit_status_from_result: bool,
    /// The catalog file it came from (for error messages).
    pub source_file: String,
    /// The module it belongs to, as `Get-Command` shows it in `Source` and `-Module` filters it
    /// (`Azs.Support`, `PrivilegedEndpoint`, `Microsoft.PowerShell.Utility`).
    pub module: String,
}

impl CommandSpec {
    /// Whether a server running `serving` serves it.
    pub fn served_in(&self, serving: Profile) -> bool {
        self.profile.serves_in(serving) || self.also_profiles.contains(&serving)
    }

    /// The parameter with this exact canonical name (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.parameters
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

/// The validated catalog of one profile: every command that profile serves, names and aliases
/// unique within it.
#[derive(Debug, Clone)]
pub struct Catalog {
    profile: Profile,
    commands: Vec<CommandSpec>,
    /// Lower-cased names and aliases to index in `commands`.
    index: HashMap<String, usize>,
}

impl Catalog {
    /// Builds the lookup index. Only the loader calls this, after validation (names and aliases
    /// are unique within the profile). Tests may build small catalogs with it.
    pub fn from_validated(profile: Profile, commands: Vec<CommandSpec>) -> Self {
        let mut index = HashMap::new();
        for (i, c) in commands.iter().enumerate() {
            index.insert(c.name.to_ascii_lowercase(), i);
            for a in &c.aliases {
                index.insert(a.to_ascii_lowercase(), i);
            }
        }
        Catalog {
            profile,
            commands,
            index,
        }
    }

    /// The catalog of `profile`: the commands of `all` (every profile's, validated together) that
    /// it serves, in their order.
    pub fn for_profile(profile: Profile, all: Vec<CommandSpec>) -> Self {
        let commands = all.into_iter().filter(|c| c.served_in(profile)).collect();
        Catalog::from_validated(profile, commands)
    }

    /// The commands that accept piped input (`pipeline_input`), in catalog order.
    pub fn piped_input_commands(&self) -> impl Iterator<Item = &CommandSpec> {
        self.commands.iter().filter(|c| c.pipeline_input)
    }

    /// The profile this catalog serves.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The command with this name or alias (case-insensitive, exact).
    pub fn get(&self, name: &str) -> Option<&CommandSpec> {
        self.index
            .get(&name.to_ascii_lowercase())
            .map(|&i| &self.commands[i])
    }

    /// Every command, in catalog order.
    pub fn commands(&self) -> &[CommandSpec] {
        &self.commands
    }
}
