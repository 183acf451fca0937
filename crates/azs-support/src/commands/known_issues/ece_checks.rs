//! Known-issue check over ECE: failed action plans, with their failing step and the team that
//! owns its role (`ECEActionPlanFailures`).

use super::{problem, restart_role_hint, verdict, Verdict};
use crate::stamp::Stamp;

pub(super) fn ece_failures(stamp: &Stamp) -> Verdict {
    let plans = &stamp.ece.action_plans;
    let problems = plans
        .iter()
        .filter(|p| p.status == "Failed")
        .map(|p| {
            let step = p
                .steps
                .iter()
                .find(|s| s.status == "Error" || s.status == "Failed");
            let evidence = match step {
                Some(s) => format!(
                    "Action plan {} ({}) Failed at step {} '{}' (role {}): {}",
                    p.name, p.id, s.index, s.name, s.role, s.error
                ),
                None => format!("Action plan {} ({}) Failed", p.name, p.id),
            };
            let role = step.map(|s| s.role.as_str()).unwrap_or_default();
            let team = stamp
                .ece
                .roles
                .iter()
                .find(|r| r.name.eq_ignore_ascii_case(role))
                .map(|r| r.owning_team.as_str())
                .unwrap_or("the owning team");
            let role_vm_down = stamp
                .vms
                .iter()
                .any(|v| v.role.eq_ignore_ascii_case(role) && v.state != "Running");
            let remediation = if role_vm_down {
                format!(
                    "{} (ECE retries the step once role {role} is healthy); route to {team}: Get-AzsSupportRoutingInformation -Id {}",
                    restart_role_hint(role),
                    p.id
                )
            } else {
                format!(
                    "Route to {team}: Get-AzsSupportRoutingInformation -Id {}",
                    p.id
                )
            };
            problem(evidence, remediation)
        })
        .collect();
    verdict(
        problems,
        format!("No failed action plans ({} checked)", plans.len()),
    )
}
