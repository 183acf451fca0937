//! The catalog file format as serde reads it: one struct or enum per TOML table or enumerated
//! value of `catalog/*.toml` (format version 1, documented in `catalog/README.md`). Unknown keys
//! are refused (`deny_unknown_fields`); every other rule is checked when `load` converts these
//! into the `spec` types.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub(super) version: i64,
    pub(super) group: String,
    pub(super) profile: RawProfile,
    #[serde(default)]
    pub(super) module: Option<String>,
    #[serde(default, rename = "command")]
    pub(super) commands: Vec<RawCommand>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub(super) enum RawProfile {
    #[serde(rename = "azs-hub")]
    AzsHub,
    #[serde(rename = "azure-local")]
    AzureLocal,
    #[serde(rename = "linux")]
    Linux,
    #[serde(rename = "all")]
    All,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub(super) enum RawAccess {
    Default,
    Diagnostics,
    DiagnosticsRepair,
    Operator,
    Elevated,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCommand {
    pub(super) name: String,
    #[serde(default)]
    pub(super) aliases: Vec<String>,
    pub(super) access: RawAccess,
    pub(super) synopsis: String,
    pub(super) description: String,
    #[serde(default, rename = "parameter")]
    pub(super) parameters: Vec<RawParam>,
    #[serde(default, rename = "example")]
    pub(super) examples: Vec<RawExample>,
    pub(super) output: RawOutput,
    #[serde(default)]
    pub(super) pipeline_input: bool,
    #[serde(default)]
    pub(super) supports_should_process: bool,
    #[serde(default)]
    pub(super) also_operator: bool,
    #[serde(default)]
    pub(super) also_profiles: Vec<RawProfile>,
    #[serde(default)]
    pub(super) handler: RawHandler,
    #[serde(default)]
    pub(super) available_with: Option<String>,
    #[serde(default)]
    pub(super) exit_status_from_result: bool,
    #[serde(default)]
    pub(super) module: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub(super) enum RawHandler {
    #[serde(rename = "builtin")]
    Builtin,
    #[serde(rename = "operator")]
    Operator,
    #[serde(rename = "formatter")]
    Formatter,
    #[default]
    #[serde(rename = "stamp")]
    Stamp,
    #[serde(rename = "logs")]
    Logs,
    #[serde(rename = "elevation")]
    Elevation,
    #[serde(rename = "later")]
    Later,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(super) enum RawType {
    #[serde(rename = "string")]
    String,
    #[serde(rename = "int")]
    Int,
    #[serde(rename = "switch")]
    Switch,
    #[serde(rename = "bool")]
    Bool,
    #[serde(rename = "datetime")]
    DateTime,
    #[serde(rename = "string[]")]
    StringArray,
    #[serde(rename = "int[]")]
    IntArray,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParam {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) kind: RawType,
    #[serde(default)]
    pub(super) mandatory: bool,
    #[serde(default)]
    pub(super) position: Option<u32>,
    #[serde(default)]
    pub(super) aliases: Vec<String>,
    #[serde(default)]
    pub(super) validate_set: Vec<String>,
    #[serde(default)]
    pub(super) validate_pattern: Option<String>,
    #[serde(default)]
    pub(super) range: Option<Vec<i64>>,
    #[serde(default)]
    pub(super) default: Option<toml::Value>,
    #[serde(default)]
    pub(super) secret: bool,
    #[serde(default)]
    pub(super) wildcards: bool,
    pub(super) help: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExample {
    pub(super) code: String,
    #[serde(default)]
    pub(super) remarks: String,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub(super) enum RawView {
    #[serde(rename = "table")]
    Table,
    #[serde(rename = "list")]
    List,
    #[serde(rename = "text")]
    Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    #[serde(default)]
    pub(super) type_name: String,
    #[serde(default)]
    pub(super) properties: Vec<String>,
    #[serde(default)]
    pub(super) default_sort: Vec<String>,
    #[serde(default)]
    pub(super) default_sort_descending: Vec<String>,
    #[serde(default)]
    pub(super) sort_order: std::collections::BTreeMap<String, Vec<String>>,
    pub(super) view: RawView,
}
