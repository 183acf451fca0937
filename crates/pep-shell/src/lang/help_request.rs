//! `NAME -?`: a command line that asks for a command's help instead of running it.
//!
//! As in PowerShell, `-?` on a command shows that command's help and runs nothing, whatever else
//! the line says: the line becomes `Get-Help NAME`, which the session then resolves, gates and runs
//! like any other line — so the help shows exactly the commands `Get-Help` shows (those the caller
//! may run now), and the line is recorded as typed.

use super::parser::{Arg, CommandCall, Pipeline};
use azs_support::Value;

/// The `Get-Help NAME` line `pipeline` stands for when one of its commands carries `-?` (the
/// first such command), else `None`.
pub fn help_request(pipeline: &Pipeline) -> Option<Pipeline> {
    let asked = pipeline.elements.iter().find(|call| {
        call.args
            .iter()
            .any(|a| matches!(a, Arg::Named { name, value: None, .. } if name == "?"))
    })?;
    Some(Pipeline {
        elements: vec![CommandCall {
            name: "Get-Help".into(),
            args: vec![Arg::Positional {
                value: Value::String(asked.name.clone()),
                column: asked.column,
            }],
            column: asked.column,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::parse_line;

    fn asked(line: &str) -> Option<String> {
        let p = parse_line(line).ok()??;
        let help = help_request(&p)?;
        let [call] = help.elements.as_slice() else {
            return None;
        };
        match call.args.as_slice() {
            [Arg::Positional { value, .. }] if call.name == "Get-Help" => Some(value.to_display()),
            _ => None,
        }
    }

    #[test]
    fn dash_question_mark_asks_for_that_commands_help() {
        assert_eq!(
            asked("Get-AzsSupportStampVersion -?").as_deref(),
            Some("Get-AzsSupportStampVersion")
        );
        assert_eq!(
            asked("Stop-AzsSupportProcess -ComputerName N1 -ProcessId 4 -?").as_deref(),
            Some("Stop-AzsSupportProcess")
        );
        assert_eq!(
            asked("Get-AzsSupportProcess | Select-Object -?").as_deref(),
            Some("Select-Object")
        );
        assert_eq!(asked("gcm -?").as_deref(), Some("gcm"));
    }

    #[test]
    fn other_lines_are_not_help_requests() {
        assert_eq!(asked("Get-AzsSupportStampVersion"), None);
        assert_eq!(asked("Where-Object Name -Like '-?'"), None);
        assert_eq!(asked("Get-AzsSupportProcess -Name '?'"), None);
    }
}
