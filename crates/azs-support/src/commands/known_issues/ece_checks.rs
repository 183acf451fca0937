//! Known-issue checks over ECE: plans whose latest run failed, with their failing step and the
//! team that owns its role (`ECEActionPlanFailures`); and plans InProgress far longer than they
//! should take, with the step they wait at and what blocks it (`ECEActionPlanProgress`,
//! thresholds in `stamp::clock`).

use super::{is, problem, restart_role_hint, verdict, Verdict};
use crate::stamp::clock::PLAN_STUCK_FACTOR;
use crate::stamp::{ActionPlan, Stamp};
use chrono::{DateTime, Utc};

/// The team that owns `role` (for routing).
fn team<'a>(stamp: &'a Stamp, role: &str) -> &'a str {
    stamp
        .ece
        .roles
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(role))
        .map(|r| r.owning_team.as_str())
        .filter(|t| !t.is_empty())
        .unwrap_or("the owning team")
}

/// Whether a later run of the same plan completed or is running: the failure is history then.
/// "Later" by start time, else by end time, else by the order the plans are listed in.
fn rerun_later(plans: &[ActionPlan], i: usize) -> bool {
    let p = &plans[i];
    plans.iter().enumerate().any(|(k, o)| {
        o.id != p.id
            && o.name.eq_ignore_ascii_case(&p.name)
            && (is(&o.status, "Completed") || is(&o.status, "InProgress"))
            && match (o.start, p.start, o.end, p.end) {
                (Some(later), Some(earlier), _, _) => later > earlier,
                (_, _, Some(later), Some(earlier)) => later > earlier,
                _ => k > i,
            }
    })
}

pub(super) fn ece_failures(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let plans = &stamp.ece.action_plans;
    let problems = plans
        .iter()
        .enumerate()
        .filter(|(i, p)| is(&p.status, "Failed") && !rerun_later(plans, *i))
        .map(|(_, p)| p)
        .map(|p| {
            let step = p
                .steps
                .iter()
                .find(|s| is(&s.status, "Error") || is(&s.status, "Failed"));
            let evidence = match step {
                Some(s) => format!(
                    "Action plan {} ({}) Failed at step {} '{}' (role {}): {}",
                    p.name, p.id, s.index, s.name, s.role, s.error
                ),
                None => format!("Action plan {} ({}) Failed", p.name, p.id),
            };
            let role = step.map(|s| s.role.as_str()).unwrap_or_default();
            let team = team(stamp, role);
            let remediation = match stamp.role_blocker(role) {
                Some(_) if !role.is_empty() => format!(
                    "{} (ECE retries the step once role {role} is healthy); route to {team}: Get-AzsSupportRoutingInformation -Id {}",
                    restart_role_hint(role),
                    p.id
                ),
                _ => format!(
                    "Route to {team}: Get-AzsSupportRoutingInformation -Id {}",
                    p.id
                ),
            };
            problem(evidence, remediation)
        })
        .collect();
    verdict(
        problems,
        format!(
            "No action plan's latest run failed ({} checked)",
            plans.len()
        ),
    )
}

pub(super) fn ece_progress(stamp: &Stamp, now: DateTime<Utc>) -> Verdict {
    let plans = &stamp.ece.action_plans;
    let mut problems = Vec::new();
    for p in plans.iter().filter(|p| p.is_stuck(now)) {
        let running = p
            .running_for(now)
            .map_or(0.0, |d| d.num_minutes() as f64 / 60.0);
        let expected = p.expected().num_minutes() as f64 / 60.0;
        let step = p.current_step().map(|i| &p.steps[i]);
        let at = match step {
            Some(s) => format!(" at step {} '{}' (role {})", s.index, s.name, s.role),
            None => String::new(),
        };
        let role = step.map(|s| s.role.as_str()).unwrap_or_default();
        let blocker = stamp.role_blocker(role).filter(|_| !role.is_empty());
        let blocked = blocker
            .as_ref()
            .map_or(String::new(), |b| format!(": blocked, {b}"));
        let team = team(stamp, role);
        let remediation = match &blocker {
            Some(_) => format!(
                "Fix the blocker — {} — and ECE resumes the plan; route to {team}: Get-AzsSupportRoutingInformation -Id {}",
                restart_role_hint(role),
                p.id
            ),
            None => format!(
                "Route the stuck plan to {team}: Get-AzsSupportRoutingInformation -Id {}",
                p.id
            ),
        };
        problems.push(problem(
            format!(
                "Action plan {} ({}) has been InProgress for {running:.1} h{at}, expected {expected:.1} h (stuck after {PLAN_STUCK_FACTOR}x){blocked}",
                p.name, p.id
            ),
            remediation,
        ));
    }
    verdict(
        problems,
        format!(
            "No action plan runs far past its expected duration ({} checked)",
            plans.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::{ActionPlanStep, Stamp};
    use chrono::Duration;

    fn plan(id: &str, status: &str, start: DateTime<Utc>) -> ActionPlan {
        ActionPlan {
            id: id.into(),
            name: "Update".into(),
            status: status.into(),
            start: Some(start),
            steps: vec![ActionPlanStep {
                index: "1".into(),
                name: "Update ACS VMs".into(),
                role: "ACS".into(),
                status: if status == "Failed" {
                    "Error"
                } else {
                    "InProgress"
                }
                .into(),
                ..ActionPlanStep::default()
            }],
            ..ActionPlan::default()
        }
    }

    #[test]
    fn a_failure_re_run_to_completion_is_history_and_a_long_plan_is_stuck() {
        let mut s = Stamp::default_stamp().unwrap_or_else(|e| panic!("{e}"));
        let now = s.now();
        s.ece.action_plans = vec![
            plan("a", "Failed", now - Duration::days(30)),
            plan("b", "Completed", now - Duration::days(29)),
        ];
        assert!(ece_failures(&s, now).passed());
        s.ece.action_plans[1].start = Some(now - Duration::days(31));
        assert!(
            !ece_failures(&s, now).passed(),
            "the completed run was earlier"
        );

        s.ece.action_plans = vec![plan("c", "InProgress", now - Duration::hours(10))];
        assert!(ece_progress(&s, now).passed(), "10 h of a 24 h update");
        s.ece.action_plans = vec![plan("d", "InProgress", now - Duration::days(4))];
        let v = ece_progress(&s, now);
        assert!(
            v.evidence().contains("InProgress for 96.0 h"),
            "{}",
            v.evidence()
        );
        assert!(v
            .remediation()
            .contains("Get-AzsSupportRoutingInformation -Id d"));
    }
}
