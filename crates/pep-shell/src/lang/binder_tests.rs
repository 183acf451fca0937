use super::*;
use crate::lang::fixtures::catalog;
use crate::lang::parser::parse_line;
use chrono::{TimeZone, Utc};

fn run(line: &str) -> Result<BoundArgs, LangError> {
    let c = catalog();
    let p = parse_line(line)?.expect("not blank");
    let call = &p.elements[0];
    let spec = crate::lang::resolve::resolve_command(&c, &call.name)?;
    bind(spec, call)
}

fn ok(line: &str) -> BoundArgs {
    run(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn err(line: &str) -> LangError {
    run(line).expect_err("refused")
}

#[test]
fn exact_prefix_alias_case_insensitive() {
    for line in [
        "Get-AzsSupportProcess -ComputerName Node01",
        "Get-AzsSupportProcess -computername Node01",
        "Get-AzsSupportProcess -Comp Node01",
        "Get-AzsSupportProcess -CN Node01",
        "Get-AzsSupportProcess -cn:Node01",
        "Get-AzsSupportProcess Node01",
        "Get-AzsSupportProcess \u{2013}ComputerName Node01",
    ] {
        assert_eq!(ok(line).str("ComputerName"), Some("Node01"), "{line}");
    }
    assert_eq!(
        ok("Get-AzsSupportProcess -ProcessId 4").get("Id"),
        Some(&Value::Array(vec![Value::Int(4)]))
    );
}

#[test]
fn ambiguous_prefix_names_all_candidates() {
    let e = err("Stop-AzsSupportProcess -C Node01 -ProcessId 4");
    assert_eq!(e.id, ErrorId::AmbiguousParameter);
    assert_eq!(
        e.message,
        "Parameter cannot be processed because the parameter name 'C' is ambiguous. Possible matches include: -ComputerName -Confirm."
    );
}

#[test]
fn unknown_parameter() {
    let e = err("Get-AzsSupportProcess -Bogus x");
    assert_eq!(e.id, ErrorId::ParameterNotFound);
    assert_eq!(
        e.message,
        "A parameter cannot be found that matches parameter name 'Bogus'."
    );
    // WhatIf/Confirm only where ShouldProcess is supported.
    assert_eq!(
        err("Get-AzsSupportProcess -WhatIf").id,
        ErrorId::ParameterNotFound
    );
}

#[test]
fn positional_binding_and_leftovers() {
    let a = ok("Get-AzsSupportProcess Node01 svchost,sshd");
    assert_eq!(a.str("ComputerName"), Some("Node01"));
    assert_eq!(a.strings("Name"), ["svchost", "sshd"]);
    // Named first, then positional fills the remaining slots in order.
    let b = ok("Get-AzsSupportProcess svchost -ComputerName Node01");
    assert_eq!(b.strings("Name"), ["svchost"]);
    let e = err("Get-AzsSupportProcess a b c");
    assert_eq!(e.id, ErrorId::PositionalNotFound);
    assert_eq!(
        e.message,
        "A positional parameter cannot be found that accepts argument 'c'."
    );
    assert_eq!(
        err("Get-AzsSupportStampVersion \u{2010}AsJob").id,
        ErrorId::PositionalNotFound
    );
}

#[test]
fn switch_forms() {
    let on = ok("Stop-AzsSupportProcess -ComputerName n -ProcessId 4 -Force");
    assert_eq!(on.get("Force"), Some(&Value::Bool(true)));
    let off = ok("Stop-AzsSupportProcess -ComputerName n -ProcessId 4 -Force:$false");
    assert_eq!(off.get("Force"), Some(&Value::Bool(false)));
    assert!(!off.switch("Force"));
    // A switch does not consume the following value: it goes to the positional slot.
    let pos = ok("Stop-AzsSupportProcess -ComputerName n -Force 4");
    assert_eq!(pos.int("ProcessId"), Some(4));
    assert!(pos.switch("Force"));
    assert_eq!(
        err("Stop-AzsSupportProcess -ComputerName n -ProcessId 4 -Force:abc").id,
        ErrorId::ParameterBindingFailed
    );
}

#[test]
fn should_process_common_switches() {
    let a = ok("Stop-AzsSupportProcess -ComputerName n -ProcessId 4 -WhatIf -Confirm:$false");
    assert_eq!(a.get("WhatIf"), Some(&Value::Bool(true)));
    assert_eq!(a.get("Confirm"), Some(&Value::Bool(false)));
    let b = ok("Stop-AzsSupportProcess -ComputerName n -ProcessId 4");
    assert!(!b.has("Confirm") && !b.has("WhatIf"));
    assert_eq!(
        ok("Stop-AzsSupportProcess -ComputerName n -ProcessId 4 -Conf").get("Confirm"),
        Some(&Value::Bool(true))
    );
}

#[test]
fn missing_argument() {
    let e = err("Stop-AzsSupportProcess -ComputerName n -ProcessId");
    assert_eq!(e.id, ErrorId::ParameterBindingFailed);
    assert_eq!(e.message, "Missing an argument for parameter 'ProcessId'. Specify a parameter of type 'Int' and try again.");
    let e = err("Stop-AzsSupportProcess -ComputerName -ProcessId 4");
    assert!(
        e.message.contains("'ComputerName'") && e.message.contains("'String'"),
        "{}",
        e.message
    );
}

#[test]
fn duplicates() {
    let e = err("Get-AzsSupportProcess -CN a -ComputerName b");
    assert_eq!(e.id, ErrorId::ParameterBindingFailed);
    assert!(e.message.contains("more than once"), "{}", e.message);
}

#[test]
fn int_conversions() {
    assert_eq!(
        ok("Stop-AzsSupportProcess -ComputerName n -ProcessId '42'").int("ProcessId"),
        Some(42)
    );
    let e = err("Stop-AzsSupportProcess -ComputerName n -ProcessId abc");
    assert_eq!(e.id, ErrorId::ParameterBindingFailed);
    assert_eq!(
        e.message,
        "Cannot convert value 'abc' to type 'Int' for parameter 'ProcessId'."
    );
    assert_eq!(
        err("Stop-AzsSupportProcess -ComputerName n -ProcessId '99999999999999999999'").id,
        ErrorId::ParameterBindingFailed
    );
    assert_eq!(
        err("Stop-AzsSupportProcess -ComputerName n -ProcessId '-ex=!touch /tmp/PWNED'").id,
        ErrorId::ParameterBindingFailed
    );
    assert_eq!(
        err("Stop-AzsSupportProcess -ComputerName n -ProcessId 1,2").id,
        ErrorId::ParameterBindingFailed
    );
    assert_eq!(
        err("Stop-AzsSupportProcess -ComputerName n -ProcessId $null").id,
        ErrorId::ParameterBindingFailed
    );
    assert_eq!(
        err("Stop-AzsSupportProcess -ComputerName n -ProcessId $true").id,
        ErrorId::ParameterBindingFailed
    );
}

#[test]
fn string_and_array_conversions() {
    assert_eq!(
        ok("Get-AzsSupportProcess -ComputerName 42").str("ComputerName"),
        Some("42")
    );
    let a = ok("Get-AzsSupportProcess -Name one -Id 1,'2'");
    assert_eq!(a.get("Name"), Some(&Value::Array(vec!["one".into()])));
    assert_eq!(
        a.get("Id"),
        Some(&Value::Array(vec![Value::Int(1), Value::Int(2)]))
    );
    assert_eq!(
        err("Get-AzsSupportProcess -ComputerName a,b").id,
        ErrorId::ParameterBindingFailed
    );
}

#[test]
fn bool_and_datetime_conversions() {
    assert_eq!(
        ok("Get-AzsSupportWinEvent -Detailed $true").get("Detailed"),
        Some(&Value::Bool(true))
    );
    assert_eq!(
        err("Get-AzsSupportWinEvent -Detailed yes").id,
        ErrorId::ParameterBindingFailed
    );
    let day = Utc
        .with_ymd_and_hms(2026, 11, 21, 0, 0, 0)
        .single()
        .expect("date");
    let ten = Utc
        .with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
        .single()
        .expect("date");
    for (text, want) in [
        ("2026-11-21", day),
        ("2026-11-21T10:00:00Z", ten),
        ("2026-11-21T10:00:00", ten),
        ("'2026-11-21 10:00'", ten),
        ("'2026-11-21 10:00:00'", ten),
        ("2026-11-21T12:00:00+02:00", ten),
    ] {
        assert_eq!(
            ok(&format!("Get-AzsSupportWinEvent -FromDate {text}")).datetime("FromDate"),
            Some(want),
            "{text}"
        );
    }
    let e = err("Get-AzsSupportWinEvent -FromDate yesterday");
    assert!(
        e.message.starts_with(
            "Cannot convert value 'yesterday' to type 'DateTime' for parameter 'FromDate'."
        ),
        "{}",
        e.message
    );
}

#[test]
fn validate_set_binds_catalog_spelling() {
    let a = ok("Enable-RemoteSupport -AccessLevel diagnosticsrepair");
    assert_eq!(a.str("AccessLevel"), Some("DiagnosticsRepair"));
    let e = err("Enable-RemoteSupport -AccessLevel Admin");
    assert_eq!(e.id, ErrorId::ValidationFailed);
    assert_eq!(
        e.message,
        "Cannot validate argument on parameter 'AccessLevel'. The argument 'Admin' does not belong to the set \"Diagnostics,DiagnosticsRepair\". Supply an argument that is in the set and then try the command again."
    );
    assert_eq!(
        ok("Get-AzsSupportWinEvent -Level error,WARNING").strings("Level"),
        ["Error", "Warning"]
    );
    assert_eq!(
        err("Get-AzsSupportWinEvent -Level Error,Info").id,
        ErrorId::ValidationFailed
    );
}

#[test]
fn validate_pattern_after_alias_prefix_and_position() {
    for line in [
        "Get-AzsSupportProcess -ComputerName 'a b'",
        "Get-AzsSupportProcess -CN ../../etc",
        "Get-AzsSupportProcess -Comp '-x'",
        "Get-AzsSupportProcess '-rf'",
    ] {
        let e = err(line);
        assert_eq!(e.id, ErrorId::ValidationFailed, "{line}: {}", e.message);
        assert!(
            e.message
                .contains("does not match the '^[A-Za-z0-9][A-Za-z0-9-]{0,62}$' pattern"),
            "{}",
            e.message
        );
    }
    assert_eq!(
        err("Get-AzsSupportWinEvent -ComputerName ok,'b@d'").id,
        ErrorId::ValidationFailed
    );
}

#[test]
fn range_per_element() {
    let e = err("Enable-RemoteSupport -AccessLevel Diagnostics -ExpireInMinutes 30");
    assert_eq!(e.message, "Cannot validate argument on parameter 'ExpireInMinutes'. 30 is outside the allowed range 60..20160.");
    assert!(run("Enable-RemoteSupport -AccessLevel Diagnostics -ExpireInMinutes 20160").is_ok());
    assert_eq!(
        err("Get-AzsSupportWinEvent -MaxEvents -1").id,
        ErrorId::ValidationFailed
    );
    assert_eq!(
        err("Get-AzsSupportProcess -Id 1,100000").id,
        ErrorId::ValidationFailed
    );
}

#[test]
fn defaults_and_mandatory() {
    let a = ok("Enable-RemoteSupport -AccessLevel Diagnostics");
    assert_eq!(a.int("ExpireInMinutes"), Some(480));
    let w = ok("Get-AzsSupportWinEvent");
    assert_eq!(w.str("LogName"), Some("System"));
    assert_eq!(w.int("MaxEvents"), Some(100));
    assert!(!w.has("FromDate"));
    let e = err("Enable-RemoteSupport -ExpireInMinutes 60");
    assert_eq!(e.id, ErrorId::MissingMandatory);
    assert_eq!(
        e.message,
        "Cannot process command because of one or more missing mandatory parameters: AccessLevel."
    );
    let e = err("Stop-AzsSupportProcess");
    assert_eq!(e.message, "Cannot process command because of one or more missing mandatory parameters: ComputerName ProcessId.");
}

#[test]
fn documentation_defaults_are_left_unbound() {
    let mut spec = catalog()
        .get("Get-AzsSupportWinEvent")
        .expect("fixture")
        .clone();
    for p in &mut spec.parameters {
        if p.name == "FromDate" {
            p.default = Some("4 hours ago".into());
        }
    }
    let call = parse_line("Get-AzsSupportWinEvent")
        .expect("ok")
        .expect("line");
    assert!(!bind(&spec, &call.elements[0])
        .expect("binds")
        .has("FromDate"));
}

#[test]
fn messages_escape_user_text() {
    let c = catalog();
    let spec = c.get("Get-AzsSupportProcess").expect("fixture");
    let call = CommandCall {
        name: "Get-AzsSupportProcess".into(),
        args: vec![Arg::Positional {
            value: "a\u{1b}[2J".into(),
            column: 1,
        }],
        column: 1,
    };
    let e = bind(spec, &call).expect_err("pattern");
    assert!(e.message.contains("'a\\x1b[2J'"), "{}", e.message);
    assert!(!e.message.contains('\u{1b}'));
}
