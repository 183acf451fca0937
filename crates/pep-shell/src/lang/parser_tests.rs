use super::*;

fn parse(line: &str) -> Pipeline {
    parse_line(line).expect("parses").expect("not blank")
}

fn err(line: &str) -> LangError {
    parse_line(line).expect_err("refused")
}

#[test]
fn blank_is_none() {
    assert_eq!(parse_line("   ").expect("ok"), None);
    assert_eq!(parse_line("").expect("ok"), None);
}

#[test]
fn command_with_args() {
    let p = parse("Get-X -ComputerName n1,n2 -Force -Count:3 pos 'q s' $false -N -1");
    assert_eq!(p.elements.len(), 1);
    let c = &p.elements[0];
    assert_eq!(c.name, "Get-X");
    assert_eq!(c.column, 1);
    assert_eq!(
        c.args,
        vec![
            Arg::Named {
                name: "ComputerName".into(),
                value: None,
                column: 7
            },
            Arg::Positional {
                value: Value::Array(vec!["n1".into(), "n2".into()]),
                column: 21
            },
            Arg::Named {
                name: "Force".into(),
                value: None,
                column: 27
            },
            Arg::Named {
                name: "Count".into(),
                value: Some(Value::Int(3)),
                column: 34
            },
            Arg::Positional {
                value: "pos".into(),
                column: 43
            },
            Arg::Positional {
                value: "q s".into(),
                column: 47
            },
            Arg::Positional {
                value: Value::Bool(false),
                column: 53
            },
            Arg::Named {
                name: "N".into(),
                value: None,
                column: 60
            },
            Arg::Positional {
                value: Value::Int(-1),
                column: 63
            },
        ]
    );
}

#[test]
fn colon_values() {
    let p = parse("x -Force:$false -L:a,'b' -D: 5");
    assert_eq!(
        p.elements[0].args,
        vec![
            Arg::Named {
                name: "Force".into(),
                value: Some(Value::Bool(false)),
                column: 3
            },
            Arg::Named {
                name: "L".into(),
                value: Some(Value::Array(vec!["a".into(), "b".into()])),
                column: 17
            },
            Arg::Named {
                name: "D".into(),
                value: Some(Value::Int(5)),
                column: 26
            },
        ]
    );
    assert_eq!(err("x -Force:").id, ErrorId::ParameterBindingFailed);
    assert_eq!(err("x -A: -B").id, ErrorId::ParameterBindingFailed);
}

#[test]
fn pipelines() {
    let p = parse("Get-X | select Name,Id | Format-Table");
    let names: Vec<&str> = p.elements.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["Get-X", "select", "Format-Table"]);
    assert_eq!(p.elements[1].column, 9);
}

#[test]
fn empty_pipeline_elements() {
    for line in ["a | | b", "a |", "| a", "a |  "] {
        let e = err(line);
        assert_eq!(e.id, ErrorId::InvalidPipeline, "{line}");
        assert!(e.message.contains("empty pipe element"), "{}", e.message);
    }
}

#[test]
fn bad_commas() {
    for line in ["x a,", "x ,a", "x a,,b", "x a, -B"] {
        assert_eq!(err(line).id, ErrorId::InvalidInput, "{line}");
    }
}

#[test]
fn command_position_must_be_a_name() {
    for line in [
        "'touch' /tmp/x",
        "\"touch\" x",
        "42",
        "-Name x",
        "$true",
        "a | 'b'",
        ", a",
    ] {
        let e = err(line);
        assert_eq!(e.id, ErrorId::ScriptsNotAllowed, "{line}: {}", e.message);
    }
}

#[test]
fn command_names_are_ascii_verb_noun() {
    for ok in [
        "Get-Process",
        "exit",
        "ft",
        "Get-AzsSupportStampVersion",
        "ConvertTo-Json",
        "a1-B2",
    ] {
        assert!(is_command_name(ok), "{ok}");
    }
    for bad in [
        "G\u{435}t-AzsSupportStampVersion",
        "Get\u{2010}AzsSupportStampVersion",
        "\u{ff54}\u{ff4f}\u{ff55}\u{ff43}\u{ff48}",
        "/bin/sh",
        "1Get",
        "Get-",
        "Get--X",
        "Get-X-Y",
        "Get_X",
        "",
    ] {
        assert!(!is_command_name(bad), "{bad}");
        if !bad.is_empty() && bad != "1Get" {
            let e = err(&format!("{bad} x"));
            assert_eq!(e.id, ErrorId::CommandNotFound, "{bad}");
            assert!(e.message.contains(&format!("'{bad}'")), "{}", e.message);
        }
    }
}

#[test]
fn wildcards_in_command_names() {
    for line in ["Get-Azs*", "Get-?", "*"] {
        let e = err(line);
        assert_eq!(e.id, ErrorId::CommandNotFound);
        assert!(
            e.message
                .contains("wildcards are not permitted in command names"),
            "{}",
            e.message
        );
    }
}

#[test]
fn negative_number_after_parameter_is_a_value() {
    let p = parse("x -MaxEvents -1 -Y");
    assert_eq!(
        p.elements[0].args[1],
        Arg::Positional {
            value: Value::Int(-1),
            column: 14
        }
    );
}
