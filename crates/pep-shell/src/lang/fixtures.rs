//! Test fixture: a small hand-built catalog shaped like the real one.

use azs_support::catalog::{
    Access, Catalog, CommandSpec, Example, HandlerKind, OutputSpec, ParamSpec, ParamType, Profile,
    View,
};
use regex::Regex;

/// A parameter with no constraints.
pub fn p(name: &str, kind: ParamType) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        kind,
        mandatory: false,
        position: None,
        aliases: Vec::new(),
        validate_set: Vec::new(),
        validate_pattern: None,
        range: None,
        default: None,
        secret: false,
        wildcards: false,
        help: format!("The {name}."),
    }
}

pub trait ParamExt {
    fn mandatory(self) -> Self;
    fn pos(self, n: u32) -> Self;
    fn alias(self, a: &str) -> Self;
    fn set(self, values: &[&str]) -> Self;
    fn pattern(self, re: &str) -> Self;
    fn range(self, lo: i64, hi: i64) -> Self;
    fn default(self, d: &str) -> Self;
}

impl ParamExt for ParamSpec {
    fn mandatory(mut self) -> Self {
        self.mandatory = true;
        self
    }
    fn pos(mut self, n: u32) -> Self {
        self.position = Some(n);
        self
    }
    fn alias(mut self, a: &str) -> Self {
        self.aliases.push(a.into());
        self
    }
    fn set(mut self, values: &[&str]) -> Self {
        self.validate_set = values.iter().map(|s| s.to_string()).collect();
        self
    }
    fn pattern(mut self, re: &str) -> Self {
        self.validate_pattern = Some((Regex::new(re).expect("fixture regex"), re.into()));
        self
    }
    fn range(mut self, lo: i64, hi: i64) -> Self {
        self.range = Some((lo, hi));
        self
    }
    fn default(mut self, d: &str) -> Self {
        self.default = Some(d.into());
        self
    }
}

/// A command with the given parameters.
pub fn cmd(name: &str, access: Access, params: Vec<ParamSpec>) -> CommandSpec {
    CommandSpec {
        name: name.into(),
        aliases: Vec::new(),
        access,
        profile: Profile::AzsHub,
        also_profiles: Vec::new(),
        group: "Test".into(),
        synopsis: format!("Synopsis of {name}."),
        description: format!("Description of {name}."),
        parameters: params,
        examples: vec![Example {
            code: name.to_string(),
            remarks: "Runs it.".into(),
        }],
        output: OutputSpec {
            type_name: String::new(),
            properties: Vec::new(),
            default_sort: Vec::new(),
            default_sort_descending: vec![],
            sort_order: vec![],
            view: View::Text,
        },
        pipeline_input: false,
        supports_should_process: false,
        also_operator: false,
        handler: HandlerKind::Stamp,
        exit_status_from_result: false,
        source_file: "fixture.toml".into(),
        module: "Test".into(),
    }
}

fn formatter(name: &str, aliases: &[&str], params: Vec<ParamSpec>) -> CommandSpec {
    let mut c = cmd(name, Access::Default, params);
    c.aliases = aliases.iter().map(|s| s.to_string()).collect();
    c.pipeline_input = true;
    c.handler = HandlerKind::Formatter;
    c.profile = Profile::All;
    c
}

const HOST: &str = "^[A-Za-z0-9][A-Za-z0-9-]{0,62}$";

/// Every command the language tests use.
pub fn commands() -> Vec<CommandSpec> {
    use ParamType::*;
    let mut stamp = cmd("Get-AzsSupportStampVersion", Access::Diagnostics, vec![]);
    stamp.output = OutputSpec {
        type_name: "Azs.Support.StampVersion".into(),
        properties: vec!["Version".into(), "Build".into()],
        default_sort: vec![],
        default_sort_descending: vec![],
        sort_order: vec![],
        view: View::List,
    };
    let mut process = cmd(
        "Get-AzsSupportProcess",
        Access::Diagnostics,
        vec![
            p("ComputerName", String).pos(0).alias("CN").pattern(HOST),
            p("Name", StringArray).pos(1),
            p("Id", IntArray).alias("ProcessId").range(0, 99999),
        ],
    );
    process.output = OutputSpec {
        type_name: "Azs.Support.Process".into(),
        properties: vec!["Name".into(), "Id".into(), "CPU".into()],
        default_sort: vec!["Name".into(), "Id".into()],
        default_sort_descending: vec![],
        sort_order: vec![],
        view: View::Table,
    };
    let mut stop = cmd(
        "Stop-AzsSupportProcess",
        Access::DiagnosticsRepair,
        vec![
            p("ComputerName", String).mandatory().pattern(HOST),
            p("ProcessId", Int).mandatory().alias("Id").pos(0),
            p("Force", Switch),
        ],
    );
    stop.supports_should_process = true;
    let mut enable = cmd(
        "Enable-RemoteSupport",
        Access::Operator,
        vec![
            p("AccessLevel", String)
                .mandatory()
                .set(&["Diagnostics", "DiagnosticsRepair"]),
            p("ExpireInMinutes", Int).range(60, 20160).default("480"),
            p("AgreeToRemoteSupportConsent", Switch),
        ],
    );
    enable.supports_should_process = true;
    let events = cmd(
        "Get-AzsSupportWinEvent",
        Access::Diagnostics,
        vec![
            p("ComputerName", StringArray).pattern(HOST),
            p("LogName", String)
                .pos(0)
                .default("System")
                .pattern("^[A-Za-z][A-Za-z0-9 /._-]{0,127}$"),
            p("MaxEvents", Int).range(1, 10000).default("100"),
            p("FromDate", DateTime),
            p("Level", StringArray).set(&["Critical", "Error", "Warning"]),
            p("Detailed", Bool),
        ],
    );
    vec![
        stamp,
        process,
        stop,
        enable,
        events,
        formatter(
            "Select-Object",
            &["select"],
            vec![
                p("Property", StringArray).pos(0),
                p("ExpandProperty", String),
                p("First", Int).range(0, i64::MAX),
                p("Last", Int).range(0, i64::MAX),
                p("Unique", Switch),
            ],
        ),
        formatter(
            "Where-Object",
            &["where"],
            vec![
                p("Property", String).pos(0),
                p("Value", String).pos(1),
                p("EQ", Switch),
                p("NE", Switch),
                p("GT", Switch),
                p("GE", Switch),
                p("LT", Switch),
                p("LE", Switch),
                p("Like", Switch),
                p("NotLike", Switch),
                p("Match", Switch),
            ],
        ),
        formatter(
            "Sort-Object",
            &["sort"],
            vec![
                p("Property", StringArray).pos(0),
                p("Descending", Switch),
                p("Unique", Switch),
            ],
        ),
        formatter(
            "Measure-Object",
            &["measure"],
            vec![
                p("Property", StringArray).pos(0),
                p("Sum", Switch),
                p("Average", Switch),
                p("Maximum", Switch),
                p("Minimum", Switch),
            ],
        ),
        formatter(
            "Format-Table",
            &["ft"],
            vec![p("Property", StringArray).pos(0)],
        ),
        formatter(
            "Format-List",
            &["fl"],
            vec![p("Property", StringArray).pos(0)],
        ),
        formatter(
            "ConvertTo-Json",
            &[],
            vec![
                p("Depth", Int).range(0, 100).default("2"),
                p("Compress", Switch),
            ],
        ),
        formatter("ConvertTo-Csv", &[], vec![p("NoTypeInformation", Switch)]),
        formatter("Out-Default", &[], vec![]),
    ]
    .into_iter()
    .map(|mut c| {
        // As the real catalog files declare them.
        c.module = if c.name.contains("AzsSupport") {
            "Azs.Support"
        } else if c.access == Access::Operator {
            "PrivilegedEndpoint"
        } else if c.name == "Where-Object" {
            "Microsoft.PowerShell.Core"
        } else {
            "Microsoft.PowerShell.Utility"
        }
        .into();
        c
    })
    .collect()
}

/// The fixture catalog.
pub fn catalog() -> Catalog {
    Catalog::from_validated(Profile::AzsHub, commands())
}
