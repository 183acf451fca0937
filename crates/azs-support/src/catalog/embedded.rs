//! The catalog files compiled into the binary (`catalog/*.toml` at the repository root, listed by
//! `build.rs`), and the loaders that read them.

use super::load::{load_all, load_sources, CatalogError};
use super::spec::{Catalog, CommandSpec, Profile};

include!(concat!(env!("OUT_DIR"), "/catalog_files.rs"));

/// The embedded catalog files: (`catalog/<file>.toml`, contents), sorted by file name.
pub fn embedded_files() -> &'static [(&'static str, &'static str)] {
    FILES
}

/// The validated catalog of `profile`, from the files compiled in.
pub fn load_embedded(profile: Profile) -> Result<Catalog, CatalogError> {
    load_sources(FILES, profile)
}

/// Every command of every profile, from the files compiled in (for tests and tooling).
pub fn all_embedded_commands() -> Result<Vec<CommandSpec>, CatalogError> {
    load_all(FILES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Access, HandlerKind, ParamType};
    use std::collections::HashSet;

    fn hub() -> Catalog {
        load_embedded(Profile::AzsHub).expect("the embedded azs-hub catalog loads")
    }

    fn local() -> Catalog {
        load_embedded(Profile::AzureLocal).expect("the embedded azure-local catalog loads")
    }

    const OPERATOR: [&str; 22] = [
        "Enable-RemoteSupport",
        "Get-RemoteSupportSession",
        "Watch-RemoteSupportSession",
        "Stop-RemoteSupportSession",
        "Disable-RemoteSupport",
        "Get-RemoteSupportAccess",
        "Get-RemoteSupportSessionHistory",
        "Set-RemoteSupportAccess",
        "Get-SupportSessionToken",
        "Unlock-SupportSession",
        "Get-SupportSessionInfo",
        "Close-PrivilegedEndpoint",
        "Get-AzureStackLog",
        "Get-LogCollectionHistory",
        "Get-AzureStackSupportConfiguration",
        "Get-AzureStackLogObfuscationMap",
        "Test-AzureStack",
        "Get-AzureStackStampInformation",
        "Get-ClusterLog",
        "Get-VirtualDisk",
        "Get-StorageJob",
        "Repair-VirtualDisk",
    ];

    const DEFAULTS: [&str; 13] = [
        "Get-Command",
        "Get-Help",
        "Select-Object",
        "Where-Object",
        "Sort-Object",
        "Measure-Object",
        "Format-Table",
        "Format-List",
        "ConvertTo-Json",
        "ConvertTo-Csv",
        "Out-Default",
        "Clear-Host",
        "Exit-PSSession",
    ];

    #[test]
    fn files_are_embedded() {
        assert!(embedded_files().len() >= 10);
        assert!(embedded_files()
            .iter()
            .all(|(n, _)| n.starts_with("catalog/") && n.ends_with(".toml")));
        // At least 85 Azs.Support + 11 hub operator + 5 consent and history + 20 Azure Local +
        // 13 default: a new command adds to it without touching this test.
        assert!(all_embedded_commands().expect("loads").len() >= 134);
    }

    #[test]
    fn azs_hub_has_at_least_65_diagnostics_and_20_repair_support_commands() {
        let cat = hub();
        let support: Vec<_> = cat
            .commands()
            .iter()
            .filter(|c| matches!(c.access, Access::Diagnostics | Access::DiagnosticsRepair))
            .collect();
        for c in &support {
            assert!(
                c.name.contains("-AzsSupport") || c.name == "Send-AzureStackDiagnosticLog",
                "{} is not an Azs.Support command",
                c.name
            );
        }
        let d = support
            .iter()
            .filter(|c| c.access == Access::Diagnostics)
            .count();
        let dr = support
            .iter()
            .filter(|c| c.access == Access::DiagnosticsRepair)
            .count();
        assert!(
            d >= 65 && dr >= 20,
            "{d} Diagnostics, {dr} DiagnosticsRepair"
        );
        let send = cat.get("Send-AzureStackDiagnosticLog").expect("present");
        assert!(send.also_operator && send.access == Access::Diagnostics);
        assert!(cat.commands().iter().filter(|c| c.also_operator).count() == 1);
    }

    #[test]
    fn azs_hub_has_every_operator_command() {
        let cat = hub();
        for name in OPERATOR {
            let c = cat.get(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(c.access, Access::Operator, "{name}");
        }
        let ops = cat
            .commands()
            .iter()
            .filter(|c| c.access == Access::Operator)
            .count();
        assert_eq!(ops, OPERATOR.len());
    }

    /// The operator's consent, history and oversight commands, served in every profile.
    const CONSENT: [&str; 8] = [
        "Enable-RemoteSupport",
        "Set-RemoteSupportAccess",
        "Disable-RemoteSupport",
        "Get-RemoteSupportAccess",
        "Get-RemoteSupportSessionHistory",
        "Get-RemoteSupportSession",
        "Stop-RemoteSupportSession",
        "Watch-RemoteSupportSession",
    ];

    #[test]
    fn every_profile_serves_the_consent_and_history_commands() {
        let local = local();
        for name in CONSENT {
            let c = local.get(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!((c.profile, c.access), (Profile::All, Access::Operator));
            assert!(hub().get(name).is_some(), "{name} missing in azs-hub");
        }
        // They are the Azure Local operator's only commands.
        let mut ops: Vec<&str> = local
            .commands()
            .iter()
            .filter(|c| c.access == Access::Operator)
            .map(|c| c.name.as_str())
            .collect();
        ops.sort_unstable();
        let mut want = CONSENT.to_vec();
        want.sort_unstable();
        assert_eq!(ops, want);
    }

    #[test]
    fn azure_local_has_its_twenty_commands_and_the_defaults() {
        let cat = local();
        let own: Vec<_> = cat
            .commands()
            .iter()
            .filter(|c| c.profile == Profile::AzureLocal)
            .collect();
        assert_eq!(own.len(), 20);
        assert!(own.iter().all(|c| c.access == Access::Diagnostics));
        assert!(cat.get("Get-AzsSupportClusterResource").is_none());
        for name in DEFAULTS {
            assert!(cat.get(name).is_some(), "{name} missing in azure-local");
            assert_eq!(hub().get(name).map(|c| c.access), Some(Access::Default));
        }
        for alias in [
            "select", "where", "sort", "measure", "ft", "fl", "gcm", "cls", "exit",
        ] {
            assert!(cat.get(alias).is_some(), "alias {alias} missing");
        }
        // Same names, both profiles, different commands.
        assert_eq!(
            cat.get("Get-VirtualDisk").map(|c| c.access),
            Some(Access::Diagnostics)
        );
        assert_eq!(
            hub().get("Get-VirtualDisk").map(|c| c.access),
            Some(Access::Operator)
        );
    }

    #[test]
    fn required_shapes_are_verbatim() {
        let cat = hub();
        let get = |n: &str| cat.get(n).unwrap_or_else(|| panic!("{n} missing")).clone();
        let wd = get("Get-AzsSupportWorkingDirectory");
        assert!(wd.parameters.is_empty());
        assert_eq!(wd.output.type_name, "System.String");
        let files = get("Get-AzsSupportWorkingDirectoryFiles");
        assert_eq!(files.output.default_sort, ["RelativePath"]);
        assert_eq!(files.param("Filter").and_then(|p| p.position), Some(0));
        let save = get("Save-AzsSupportObjectToFile");
        assert!(save.pipeline_input);
        let prefix = save.param("FilePrefix").expect("FilePrefix");
        let (re, _) = prefix.validate_pattern.clone().expect("pattern");
        assert!(
            re.is_match("report") && !re.is_match("../../../tmp/PWNED") && !re.is_match("/tmp/x")
        );
        let fmt = save.param("FileFormat").expect("FileFormat");
        assert_eq!(fmt.validate_set, ["json", "csv", "txt", "xml"]);
        assert_eq!(fmt.default.as_deref(), Some("json"));
        let res = get("Get-AzsSupportClusterResource");
        assert_eq!(res.output.default_sort, ["State"]);
        let enable = get("Enable-RemoteSupport");
        let exp = enable.param("ExpireInMinutes").expect("ExpireInMinutes");
        assert_eq!(
            (exp.range, exp.default.as_deref()),
            (Some((60, 20160)), Some("480"))
        );
        assert_eq!(
            get("Get-AzsSupportStampVersion").output.type_name,
            "System.Version"
        );
        assert_eq!(
            get("Get-AzsSupportService").output.default_sort,
            ["State", "Name"]
        );
        assert_eq!(
            get("Get-AzsSupportProcess").output.default_sort,
            ["Name", "Id"]
        );
        assert_eq!(
            get("Get-AzsSupportClusterSharedVolume").output.default_sort,
            ["State"]
        );
    }

    #[test]
    fn constraints_defend_against_hostile_arguments() {
        let all = all_embedded_commands().expect("loads");
        for c in &all {
            for p in &c.parameters {
                let node = p.name.eq_ignore_ascii_case("ComputerName")
                    || p.name.eq_ignore_ascii_case("Node")
                    || p.name.eq_ignore_ascii_case("NodeName")
                    || p.name.eq_ignore_ascii_case("FilterByNode");
                if node {
                    let src = p.validate_pattern.as_ref().map(|(_, s)| s.as_str());
                    assert_eq!(src, Some("^[A-Za-z0-9][A-Za-z0-9-]{0,62}$"), "{}", c.name);
                }
                for forbidden in [
                    "TraceFile",
                    "Arguments",
                    "ArgumentList",
                    "Command",
                    "ScriptBlock",
                ] {
                    assert!(
                        !p.name.eq_ignore_ascii_case(forbidden),
                        "{} -{}",
                        c.name,
                        p.name
                    );
                }
                if p.name.eq_ignore_ascii_case("ProcessId") {
                    assert!(matches!(p.kind, ParamType::Int | ParamType::IntArray));
                    assert_eq!(p.range, Some((0, 4_294_967_295)), "{}", c.name);
                }
                if p.name.eq_ignore_ascii_case("MaxEvents") {
                    assert_eq!(p.range, Some((1, 100_000)), "{}", c.name);
                }
                // Every free text that reaches something else is constrained, and none may start
                // with a dash or carry control characters.
                if matches!(p.kind, ParamType::String | ParamType::StringArray)
                    && p.validate_set.is_empty()
                {
                    let (re, src) = p
                        .validate_pattern
                        .as_ref()
                        .unwrap_or_else(|| panic!("{} -{} has no pattern", c.name, p.name));
                    // Where-Object's -Value is only compared in-process, never passed on: it may
                    // start with a dash (negative numbers) but still carries no control characters.
                    let compared_only = c.name == "Where-Object" && p.name == "Value";
                    for bad in [
                        "-z/tmp/PWNED",
                        "--output=/tmp/PWNED",
                        "a\x1b]0;x\x07",
                        "a\u{202E}b",
                        "a\u{200B}b",
                        "a\nb",
                    ] {
                        if compared_only && bad.starts_with('-') {
                            continue;
                        }
                        assert!(
                            !re.is_match(bad),
                            "{} -{} {src} accepts {bad:?}",
                            c.name,
                            p.name
                        );
                    }
                }
            }
        }
        let hub = hub();
        let path_of = |cmd: &str| {
            hub.get(cmd)
                .and_then(|c| c.param("Path"))
                .and_then(|p| p.validate_pattern.clone())
                .unwrap_or_else(|| panic!("{cmd} -Path has a pattern"))
                .0
        };
        for cmd in [
            "Copy-AzsSupportFiles",
            "Get-AzsSupportFolderSize",
            "Remove-AzsSupportItem",
        ] {
            let re = path_of(cmd);
            for bad in [
                "../../etc/shadow",
                "/etc/../shadow",
                "/proc/self/../root",
                r"C:\..\Windows",
                r"C:\a\..\b",
            ] {
                assert!(!re.is_match(bad), "{cmd} accepts {bad}");
            }
            assert!(
                re.is_match(r"C:\ClusterStorage\Infrastructure_1\Shares"),
                "{cmd}"
            );
        }
        assert!(
            hub.get("Clear-AzsSupportWorkingDirectory")
                .map(|c| c.parameters.is_empty())
                == Some(true)
        );
    }

    #[test]
    fn every_command_names_its_module_as_powershell_does() {
        let all = all_embedded_commands().expect("loads");
        let module = |name: &str| {
            all.iter()
                .find(|c| c.name == name)
                .map(|c| c.module.clone())
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        for c in all.iter().filter(|c| c.name.contains("-AzsSupport")) {
            assert_eq!(c.module, "Azs.Support", "{}", c.name);
        }
        for (name, m) in [
            ("Get-Command", "Microsoft.PowerShell.Core"),
            ("Get-Help", "Microsoft.PowerShell.Core"),
            ("Where-Object", "Microsoft.PowerShell.Core"),
            ("Select-Object", "Microsoft.PowerShell.Utility"),
            ("Format-Table", "Microsoft.PowerShell.Utility"),
            ("Get-Member", "Microsoft.PowerShell.Utility"),
            ("ConvertTo-Json", "Microsoft.PowerShell.Utility"),
            ("Enable-RemoteSupport", "PrivilegedEndpoint"),
            ("Send-AzureStackDiagnosticLog", "PrivilegedEndpoint"),
            ("Get-VM", "Hyper-V"),
            ("Get-ClusterNode", "FailoverClusters"),
        ] {
            assert_eq!(module(name), m, "{name}");
        }
    }

    #[test]
    fn parameters_that_admit_wildcards_take_character_ranges() {
        let all = all_embedded_commands().expect("loads");
        let mut marked = 0;
        for c in &all {
            for p in c.parameters.iter().filter(|p| p.wildcards) {
                marked += 1;
                if let Some((re, src)) = &p.validate_pattern {
                    assert!(re.is_match("[a-c]*x?"), "{} -{}: {src}", c.name, p.name);
                }
            }
        }
        assert!(marked >= 30, "{marked}");
        let name = all
            .iter()
            .find(|c| c.name == "Get-Command")
            .and_then(|c| c.param("Name"))
            .expect("Get-Command -Name");
        assert!(name.wildcards);
    }

    #[test]
    fn handler_kinds_are_in_the_catalog() {
        let all = all_embedded_commands().expect("loads");
        let kind = |name: &str| {
            all.iter()
                .find(|c| c.name == name)
                .map(|c| c.handler.clone())
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        for name in ["Get-Command", "Get-Help", "Clear-Host", "Exit-PSSession"] {
            assert_eq!(kind(name), HandlerKind::Builtin, "{name}");
        }
        for name in CONSENT {
            assert_eq!(kind(name), HandlerKind::Operator, "{name}");
        }
        let formatters: Vec<&str> = all
            .iter()
            .filter(|c| c.handler == HandlerKind::Formatter)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(formatters.len(), 10, "{formatters:?}");
        // Pipeline input is more than the formatters: Save-AzsSupportObjectToFile takes it too.
        let save = all
            .iter()
            .find(|c| c.name == "Save-AzsSupportObjectToFile")
            .expect("entry");
        assert!(save.pipeline_input && save.handler == HandlerKind::Stamp);
        let later: Vec<&str> = all
            .iter()
            .filter(|c| matches!(c.handler, HandlerKind::Later(_)))
            .map(|c| c.name.as_str())
            .collect();
        assert!(later.is_empty(), "{later:?}");
        let elevation: Vec<&str> = all
            .iter()
            .filter(|c| c.handler == HandlerKind::Elevation)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(elevation.len(), 4, "{elevation:?}");
        let logs: Vec<&str> = all
            .iter()
            .filter(|c| c.handler == HandlerKind::Logs)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(logs.len(), 5, "{logs:?}");
        let verdicts: Vec<&str> = all
            .iter()
            .filter(|c| c.exit_status_from_result)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(verdicts, ["Test-AzureStack"]);
    }

    #[test]
    fn state_changing_repair_commands_support_should_process() {
        for c in hub().commands() {
            if c.access == Access::DiagnosticsRepair && !c.name.starts_with("Get-") {
                assert!(c.supports_should_process, "{}", c.name);
            }
        }
    }

    /// The names in `shared/docs/catalog-commands.md`, by section: (Azs.Support rows with their
    /// level, operator names, Azure Local names).
    type DocNames = (Vec<(String, Access)>, Vec<String>, Vec<String>);

    fn parse_doc(text: &str) -> DocNames {
        let mut support = Vec::new();
        let mut operator = Vec::new();
        let mut local = Vec::new();
        let mut section = "";
        for line in text.lines() {
            let line = line.trim();
            if let Some(h) = line.strip_prefix("## ") {
                section = if h.starts_with("Azs.Support") {
                    "support"
                } else if h.starts_with("Privileged endpoint") {
                    "operator"
                } else if h.starts_with("Azure Local") {
                    "local"
                } else {
                    ""
                };
                continue;
            }
            match section {
                "support" if line.starts_with('|') => {
                    let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                    let access = match cells.get(1) {
                        Some(&"D") => Access::Diagnostics,
                        Some(&"DR") => Access::DiagnosticsRepair,
                        other => panic!("unknown level {other:?}"),
                    };
                    for name in cells.get(2).expect("name cell").split('/') {
                        support.push((name.trim().to_string(), access));
                    }
                }
                "operator" | "local" if !line.is_empty() => {
                    let names = line
                        .split(',')
                        .map(|n| n.trim().trim_end_matches('.').to_string())
                        .filter(|n| !n.is_empty());
                    if section == "operator" {
                        operator.extend(names);
                    } else {
                        local.extend(names);
                    }
                }
                _ => {}
            }
        }
        (support, operator, local)
    }

    #[test]
    fn every_documented_name_is_in_the_catalog() {
        let path = crate::shared_dir::shared_path("docs/catalog-commands.md");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (support, operator, local_names) = parse_doc(&text);
        assert_eq!(
            support.len(),
            85,
            "the doc lists 65 + 20 Azs.Support commands"
        );
        let hub = hub();
        let mut seen = HashSet::new();
        for (name, access) in &support {
            let c = hub.get(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(c.access, *access, "{name}");
            assert!(
                seen.insert(name.to_ascii_lowercase()),
                "{name} listed twice"
            );
        }
        assert_eq!(operator.len(), 16);
        for name in &operator {
            let c = hub.get(name).unwrap_or_else(|| panic!("{name} missing"));
            assert!(c.access == Access::Operator || c.also_operator, "{name}");
        }
        assert_eq!(local_names.len(), 20);
        let local = local();
        for name in &local_names {
            let c = local.get(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(
                (c.profile, c.access),
                (Profile::AzureLocal, Access::Diagnostics),
                "{name}"
            );
        }
    }
}
