//! Help and Get-Command, generated from catalog entries: the syntax line, PowerShell-like help
//! text (normal, `-Full`, `-Examples`, `-Parameter`), the general help topic `Get-Help` shows with
//! no name, the list of matching commands `Get-Help *word*` shows, and Get-Command's records.

use super::binder::{all_params, resolve_param};
use super::convert::type_name;
use azs_support::catalog::{CommandSpec, ParamSpec, ParamType};
use azs_support::{Record, Value};

/// The record type Get-Command returns.
pub const COMMAND_INFO_TYPE: &str = "System.Management.Automation.FunctionInfo";

fn value_hint(p: &ParamSpec) -> String {
    if p.validate_set.is_empty() {
        format!("<{}>", type_name(p.kind))
    } else {
        format!("{{{}}}", p.validate_set.join(" | "))
    }
}

fn syntax_part(p: &ParamSpec) -> String {
    if p.kind == ParamType::Switch {
        return if p.mandatory {
            format!("-{}", p.name)
        } else {
            format!("[-{}]", p.name)
        };
    }
    let name = if p.position.is_some() {
        format!("[-{}]", p.name)
    } else {
        format!("-{}", p.name)
    };
    let part = format!("{name} {}", value_hint(p));
    if p.mandatory {
        part
    } else {
        format!("[{part}]")
    }
}

/// The generated syntax line: `Get-X [-ComputerName] <String> [-Force] [<CommonParameters>]`.
pub fn syntax(spec: &CommandSpec) -> String {
    let mut params: Vec<&ParamSpec> = spec.parameters.iter().collect();
    // Positional parameters first, in position order, then the rest as declared (stable sort).
    params.sort_by_key(|p| p.position.map_or(u64::MAX, u64::from));
    let mut parts = vec![spec.name.clone()];
    parts.extend(params.iter().map(|p| syntax_part(p)));
    if spec.supports_should_process {
        parts.push("[-WhatIf] [-Confirm]".into());
    }
    parts.push("[<CommonParameters>]".into());
    parts.join(" ")
}

fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

fn param_block(p: &ParamSpec, full: bool) -> String {
    let mut out = format!("    -{} {}\n", p.name, value_hint(p));
    out.push_str(&indent(&p.help, 8));
    if !full {
        out.push('\n');
        return out;
    }
    let row = |k: &str, v: String| format!("        {k:<28} {v}\n");
    out.push('\n');
    out.push_str(&row("Type", type_name(p.kind).into()));
    out.push_str(&row("Required?", p.mandatory.to_string()));
    out.push_str(&row(
        "Position?",
        p.position.map_or("named".into(), |n| n.to_string()),
    ));
    out.push_str(&row("Default value", p.default.clone().unwrap_or_default()));
    out.push_str(&row("Accept pipeline input?", "false".into()));
    out.push_str(&row("Accept wildcard characters?", p.wildcards.to_string()));
    out.push_str(&row(
        "Aliases",
        if p.aliases.is_empty() {
            "none".into()
        } else {
            p.aliases.join(", ")
        },
    ));
    if !p.validate_set.is_empty() {
        out.push_str(&row("Accepted values", p.validate_set.join(", ")));
    }
    if let Some((_, src)) = &p.validate_pattern {
        out.push_str(&row("Pattern", src.clone()));
    }
    if let Some((lo, hi)) = p.range {
        out.push_str(&row("Range", format!("{lo}..{hi}")));
    }
    out.push('\n');
    out
}

fn examples(spec: &CommandSpec) -> String {
    let mut out = String::from("EXAMPLES\n");
    for (i, e) in spec.examples.iter().enumerate() {
        out.push_str(&format!(
            "    -------------------------- EXAMPLE {} --------------------------\n",
            i + 1
        ));
        out.push_str(&format!("    PS> {}\n\n", e.code));
        out.push_str(&indent(&e.remarks, 4));
        out.push('\n');
    }
    out
}

fn common_params_note(spec: &CommandSpec) -> String {
    let which = if spec.supports_should_process {
        " It supports -WhatIf and -Confirm."
    } else {
        ""
    };
    format!("    <CommonParameters>\n        This command runs in a restricted session.{which}\n\n")
}

/// PowerShell-like help for `spec`.
pub fn get_help(
    spec: &CommandSpec,
    full: bool,
    examples_only: bool,
    parameter: Option<&str>,
) -> String {
    let params = all_params(spec);
    if let Some(name) = parameter {
        return match resolve_param(&params, name) {
            Ok(p) => format!("\n{}", param_block(p, true)),
            Err(e) => format!("{e}\n"),
        };
    }
    let mut out = format!(
        "\nNAME\n    {}\n\nSYNOPSIS\n{}\n",
        spec.name,
        indent(&spec.synopsis, 4)
    );
    if examples_only {
        out.push_str(&examples(spec));
        return out;
    }
    out.push_str(&format!("SYNTAX\n    {}\n\n", syntax(spec)));
    if !spec.aliases.is_empty() {
        out.push_str(&format!("ALIASES\n    {}\n\n", spec.aliases.join(", ")));
    }
    out.push_str(&format!("DESCRIPTION\n{}\n", indent(&spec.description, 4)));
    out.push_str("PARAMETERS\n");
    for p in &params {
        out.push_str(&param_block(p, full));
    }
    out.push_str(&common_params_note(spec));
    if full {
        out.push_str(&examples(spec));
    }
    out.push_str("OUTPUTS\n");
    if spec.output.type_name.is_empty() {
        out.push_str("    System.String\n\n");
    } else {
        out.push_str(&format!("    {}\n", spec.output.type_name));
        if !spec.output.properties.is_empty() {
            out.push_str(&format!(
                "        Properties: {}\n",
                spec.output.properties.join(", ")
            ));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "REMARKS\n    To see the examples, type: \"Get-Help {0} -Examples\".\n    For more information, type: \"Get-Help {0} -Full\".\n",
        spec.name
    ));
    out
}

/// The record type of one line of `Get-Help *word*`'s list.
pub const HELP_INFO_SHORT_TYPE: &str = "HelpInfoShort";

/// The general help topic `Get-Help` shows with no name: how to find and learn the commands of
/// this session, as PowerShell's default help topic does, adapted to what this endpoint allows.
pub const GENERAL_HELP: &str = "
TOPIC
    PowerShell help in this restricted session

SHORT DESCRIPTION
    How to find the commands this session may run and read their help.

LONG DESCRIPTION
    This is a restricted (no-language) session: you can run the commands it
    lists, with literal parameters, and pipe their output into the formatting
    commands. Scripts, variables and script blocks are not available.

  Finding commands
    Get-Command                        Every command you may run now.
    Get-Command *Cluster*              Commands whose name matches a wildcard
                                       (* any text, ? one character,
                                       [a-z] one character of a range).
    Get-Command -Verb Get -Noun *Disk* Commands by verb and noun.
    Get-Command -Module Azs.Support    Commands of one module.
    Get-Command NAME -Syntax           The syntax line of a command.

  Reading help
    Get-Help NAME                      The help of a command.
    Get-Help NAME -Examples            Its examples.
    Get-Help NAME -Full                Everything, with each parameter's details.
    Get-Help NAME -Parameter PARAM     The help of one parameter.
    NAME -?                            The same as Get-Help NAME.
    Get-Help *word*                    The commands whose name matches, listed.

  Working with output
    Commands return objects. Pipe them into the formatting commands:
    COMMAND | Select-Object Name,State -First 5
    COMMAND | Where-Object State -NE Online
    COMMAND | Sort-Object Name -Descending
    COMMAND | Format-Table Name,State     COMMAND | Format-List *
    COMMAND | Get-Member                  (the object's type and properties)
    COMMAND | ConvertTo-Json              COMMAND | ConvertTo-Csv

  Parameters
    Parameter names may be shortened to any unique prefix (-Comp for
    -ComputerName); Tab completes command and parameter names. Commands that
    change the system ask for confirmation and take -WhatIf and -Confirm.
";

/// The list `Get-Help PATTERN` shows when several commands match: one record per command.
pub fn help_list(specs: &[&CommandSpec]) -> Vec<Value> {
    specs
        .iter()
        .map(|s| {
            Value::Record(
                Record::new(HELP_INFO_SHORT_TYPE)
                    .with("Name", s.name.as_str())
                    .with("Category", "Function")
                    .with("Module", s.module.as_str())
                    .with("Synopsis", s.synopsis.as_str()),
            )
        })
        .collect()
}

/// Get-Command's output: one record per command, or with `syntax` one syntax line each.
pub fn command_records(specs: &[&CommandSpec], syntax_only: bool) -> Vec<Value> {
    specs
        .iter()
        .map(|s| {
            if syntax_only {
                Value::String(syntax(s))
            } else {
                Value::Record(
                    Record::new(COMMAND_INFO_TYPE)
                        .with("CommandType", "Function")
                        .with("Name", s.name.as_str())
                        .with("Version", "1.0")
                        .with("Source", s.module.as_str()),
                )
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::fixtures::catalog;

    #[test]
    fn syntax_lines() {
        let c = catalog();
        let get = |n: &str| syntax(c.get(n).expect("fixture"));
        assert_eq!(
            get("Get-AzsSupportProcess"),
            "Get-AzsSupportProcess [[-ComputerName] <String>] [[-Name] <String[]>] [-Id <Int[]>] [<CommonParameters>]"
        );
        assert_eq!(
            get("Enable-RemoteSupport"),
            "Enable-RemoteSupport -AccessLevel {Diagnostics | DiagnosticsRepair} [-ExpireInMinutes <Int>] [-AgreeToRemoteSupportConsent] [-WhatIf] [-Confirm] [<CommonParameters>]"
        );
        assert_eq!(
            get("Stop-AzsSupportProcess"),
            "Stop-AzsSupportProcess [-ProcessId] <Int> -ComputerName <String> [-Force] [-WhatIf] [-Confirm] [<CommonParameters>]"
        );
        assert_eq!(
            get("Get-AzsSupportStampVersion"),
            "Get-AzsSupportStampVersion [<CommonParameters>]"
        );
    }

    #[test]
    fn normal_help_sections() {
        let c = catalog();
        let h = get_help(
            c.get("Enable-RemoteSupport").expect("fixture"),
            false,
            false,
            None,
        );
        for s in [
            "NAME\n    Enable-RemoteSupport",
            "SYNOPSIS",
            "SYNTAX",
            "DESCRIPTION",
            "PARAMETERS",
            "OUTPUTS",
            "REMARKS",
            "-Examples",
            "-Full",
        ] {
            assert!(h.contains(s), "{s} missing in {h}");
        }
        assert!(!h.contains("Accepted values"));
        assert!(!h.contains("EXAMPLE 1"));
    }

    #[test]
    fn full_help_has_details() {
        let c = catalog();
        let h = get_help(
            c.get("Enable-RemoteSupport").expect("fixture"),
            true,
            false,
            None,
        );
        for s in [
            "Accepted values              Diagnostics, DiagnosticsRepair",
            "Range                        60..20160",
            "Default value                480",
            "Required?                    true",
            "Accept wildcard characters?  false",
            "EXAMPLE 1",
            "-WhatIf",
            "-Confirm",
        ] {
            assert!(h.contains(s), "{s} missing in {h}");
        }
        let p = get_help(
            c.get("Get-AzsSupportProcess").expect("fixture"),
            true,
            false,
            None,
        );
        assert!(
            p.contains("Pattern                      ^[A-Za-z0-9]"),
            "{p}"
        );
        assert!(p.contains("Aliases                      CN"), "{p}");
        assert!(p.contains("Position?                    0"), "{p}");
        assert!(
            p.contains("Azs.Support.Process\n        Properties: Name, Id, CPU"),
            "{p}"
        );
    }

    #[test]
    fn examples_only_and_parameter() {
        let c = catalog();
        let spec = c.get("Enable-RemoteSupport").expect("fixture");
        let h = get_help(spec, false, true, None);
        assert!(h.contains("NAME") && h.contains("SYNOPSIS") && h.contains("EXAMPLE 1"));
        assert!(!h.contains("SYNTAX") && !h.contains("PARAMETERS"));
        let p = get_help(spec, false, false, Some("expire"));
        assert!(
            p.contains("-ExpireInMinutes <Int>") && p.contains("60..20160"),
            "{p}"
        );
        let u = get_help(spec, false, false, Some("nope"));
        assert!(u.contains("cannot be found"), "{u}");
    }

    #[test]
    fn get_command_records() {
        let c = catalog();
        let specs: Vec<&CommandSpec> = [
            "Get-AzsSupportProcess",
            "Enable-RemoteSupport",
            "Select-Object",
        ]
        .iter()
        .map(|n| c.get(n).expect("fixture"))
        .collect();
        let recs = command_records(&specs, false);
        let src: Vec<String> = recs
            .iter()
            .map(|r| {
                r.as_record()
                    .and_then(|r| r.get("Source"))
                    .map(Value::to_display)
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(
            src,
            [
                "Azs.Support",
                "PrivilegedEndpoint",
                "Microsoft.PowerShell.Utility"
            ]
        );
        let r = recs[0].as_record().expect("record");
        assert_eq!(r.type_name, COMMAND_INFO_TYPE);
        assert_eq!(r.get("CommandType"), Some(&Value::from("Function")));
        assert_eq!(r.get("Version"), Some(&Value::from("1.0")));
        let lines = command_records(&specs, true);
        assert_eq!(lines[0], Value::String(syntax(specs[0])));
    }
}
