//! Break-glass commands, served only in an operator's session elevated with a vendor-signed token
//! (catalog access `Elevated`): Resume-AzsScaleUnitNode (a paused host back into service),
//! Stop-AzsActionPlan (cancel a plan in progress) and Resume-AzsActionPlan (a failed or canceled
//! plan again from its unfinished step). Each changes the stamp like any repair, after
//! ShouldProcess.

use super::ece::{find_plan, plan_record};
use super::hosts::require_node;
use super::{CommandError, Invocation, Table};
use crate::stamp::{ActionPlan, NodeState};
use crate::value::{Record, Value};

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Resume-AzsScaleUnitNode", resume_scale_unit_node),
    ("Stop-AzsActionPlan", stop_action_plan),
    ("Resume-AzsActionPlan", resume_action_plan),
];

/// Resume-AzsScaleUnitNode -Name: a paused host is Up again.
pub fn resume_scale_unit_node(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let name = inv.args.str("Name").unwrap_or_default().to_string();
    let stamp = inv.stamp();
    let node = require_node(stamp, &name)?;
    if stamp.host(&name).is_none() {
        return Err(CommandError(format!(
            "{} is not a scale-unit node (a physical host of the stamp)",
            node.name
        )));
    }
    if node.state != NodeState::Paused {
        return Err(CommandError(format!(
            "{} is {}, not Paused: only a paused scale-unit node is resumed",
            node.name, node.state
        )));
    }
    let shown = node.name.clone();
    if !inv.should_process(&shown, "Resume the scale-unit node") {
        return Ok(vec![]);
    }
    let stamp = inv.stamp_mut()?;
    let Some(n) = stamp.node_mut(&shown) else {
        return Err(CommandError(format!("no node named '{shown}'")));
    };
    n.state = NodeState::Up;
    Ok(vec![Record::new("Azs.Support.ScaleUnitNode")
        .with("Name", &n.name)
        .with("State", n.state.to_string())
        .with("Role", &n.role)
        .into()])
}

/// Applies `change` to the plan `-ActionPlanInstanceId` after ShouldProcess (`action`), once
/// `check` allows it; the plan after.
fn change_plan(
    inv: &mut Invocation<'_>,
    action: &str,
    check: impl FnOnce(&ActionPlan) -> Result<(), String>,
    change: impl FnOnce(&mut ActionPlan, chrono::DateTime<chrono::Utc>),
) -> Result<Vec<Value>, CommandError> {
    let id = inv
        .args
        .str("ActionPlanInstanceId")
        .unwrap_or_default()
        .to_string();
    let plan = find_plan(inv.stamp(), &id)?;
    check(plan).map_err(CommandError)?;
    let target = format!("{} ({})", plan.name, plan.id);
    if !inv.should_process(&target, action) {
        return Ok(vec![]);
    }
    let now = inv.now;
    let stamp = inv.stamp_mut()?;
    let Some(p) = stamp
        .ece
        .action_plans
        .iter_mut()
        .find(|p| p.id.eq_ignore_ascii_case(&id))
    else {
        return Err(CommandError(format!(
            "no action plan instance with id '{id}'"
        )));
    };
    change(p, now);
    Ok(vec![plan_record(p)])
}

/// Stop-AzsActionPlan -ActionPlanInstanceId: an InProgress plan is Canceled; its running step
/// ends in error.
pub fn stop_action_plan(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    change_plan(
        inv,
        "Cancel the action plan",
        |p| {
            if p.status.eq_ignore_ascii_case("InProgress") {
                Ok(())
            } else {
                Err(format!(
                    "action plan {} ({}) is {}, not InProgress: only a running plan is canceled",
                    p.name, p.id, p.status
                ))
            }
        },
        |p, now| {
            for s in p
                .steps
                .iter_mut()
                .filter(|s| s.status.eq_ignore_ascii_case("InProgress"))
            {
                s.status = "Error".into();
                s.end = Some(now);
                s.error = "Canceled by Stop-AzsActionPlan".into();
            }
            p.status = "Canceled".into();
            p.end = Some(now);
            p.blocked_since = None;
        },
    )
}

/// Resume-AzsActionPlan -ActionPlanInstanceId: a Failed or Canceled plan is InProgress again from
/// its first step that did not succeed.
pub fn resume_action_plan(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    change_plan(
        inv,
        "Resume the action plan",
        |p| {
            if ["Failed", "Canceled"]
                .iter()
                .any(|s| p.status.eq_ignore_ascii_case(s))
            {
                Ok(())
            } else {
                Err(format!(
                    "action plan {} ({}) is {}: only a Failed or Canceled plan is resumed",
                    p.name, p.id, p.status
                ))
            }
        },
        |p, now| {
            if let Some(s) = p.steps.iter_mut().find(|s| {
                !["Success", "Skipped"]
                    .iter()
                    .any(|x| s.status.eq_ignore_ascii_case(x))
            }) {
                s.status = "InProgress".into();
                s.start = Some(now);
                s.end = None;
                s.error.clear();
            }
            p.status = "InProgress".into();
            p.end = None;
        },
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing::{default_stamp, run_on, what_if};
    use super::*;

    #[test]
    fn a_paused_host_is_resumed_and_nothing_else_is() {
        let mut s = default_stamp();
        let args = [("Name", Value::from("AZS-HOST03"))];
        let e = run_on(&mut s, resume_scale_unit_node, &args, true).expect_err("not paused");
        assert!(e.0.contains("not Paused"), "{e}");
        if let Some(n) = s.node_mut("AZS-HOST03") {
            n.state = NodeState::Paused;
        }
        let before = s.clone();
        assert!(what_if(&mut s, resume_scale_unit_node, &args).is_empty());
        assert_eq!(s, before);
        let out = run_on(&mut s, resume_scale_unit_node, &args, true).expect("resumed");
        assert_eq!(super::super::testing::prop(&out[0], "State"), "Up");
        assert_eq!(s.node("AZS-HOST03").map(|n| n.state), Some(NodeState::Up));
        let vm = s.vms.first().map(|v| v.name.clone()).unwrap_or_default();
        let e = run_on(
            &mut s,
            resume_scale_unit_node,
            &[("Name", vm.as_str().into())],
            true,
        )
        .expect_err("a VM");
        assert!(e.0.contains("not a scale-unit node"), "{e}");
    }

    #[test]
    fn a_running_plan_is_canceled_then_resumed_from_its_unfinished_step() {
        let mut s = default_stamp();
        let Some(plan) = s.ece.action_plans.first_mut() else {
            panic!("the default stamp has action plans");
        };
        plan.status = "InProgress".into();
        plan.end = None;
        if let Some(step) = plan.steps.last_mut() {
            step.status = "InProgress".into();
        }
        let id = plan.id.clone();
        let args = [("ActionPlanInstanceId", Value::from(id.as_str()))];
        let e = run_on(&mut s, resume_action_plan, &args, true).expect_err("running");
        assert!(e.0.contains("only a Failed or Canceled plan"), "{e}");
        let out = run_on(&mut s, stop_action_plan, &args, true).expect("canceled");
        assert_eq!(super::super::testing::prop(&out[0], "Status"), "Canceled");
        let p = find_plan(&s, &id).expect("plan");
        assert!(p.end.is_some());
        assert!(p.steps.iter().any(|st| st.error.contains("Canceled")));
        let out = run_on(&mut s, resume_action_plan, &args, true).expect("resumed");
        assert_eq!(super::super::testing::prop(&out[0], "Status"), "InProgress");
        let p = find_plan(&s, &id).expect("plan");
        assert!(p.end.is_none());
        assert!(p
            .steps
            .iter()
            .any(|st| st.status == "InProgress" && st.error.is_empty()));
    }
}
