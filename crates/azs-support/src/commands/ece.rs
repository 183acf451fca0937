//! Deployment engine (ECE) commands: action plan instances and their steps, routing of a failed
//! plan to the owning team, the cloud definition (with its backup fallback), computer roles, role
//! definitions, role nodes and provisioning status; plus per-node code-integrity status and DSC
//! log collection into the working directory.

use super::hosts::{model_only, require_node, select_known_nodes, select_known_with_real};
use super::{join_names, CommandError, Invocation, Table};
use crate::host::host_of;
use crate::stamp::{ActionPlan, Node, Stamp};
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;
use chrono::{DateTime, Duration, Utc};

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Get-AzsSupportActionPlanInstance", get_action_plan_instance),
    ("Get-AzsSupportRoutingInformation", get_routing_information),
    ("Get-AzsSupportECECloudDefinitionXml", get_cloud_definition),
    ("Get-AzsSupportECEComputerRole", get_computer_role),
    ("Get-AzsSupportECERoleDefinition", get_role_definition),
    ("Get-AzsSupportECERoleNodes", get_role_nodes),
    (
        "Get-AzsSupportECERoleProvisioningStatus",
        get_provisioning_status,
    ),
    (
        "Get-AzsSupportCodeIntegrityEnforcementStatus",
        get_code_integrity,
    ),
    ("Get-AzsSupportDscLogs", get_dsc_logs),
];

pub(super) fn opt_time(t: Option<DateTime<Utc>>) -> Value {
    t.map(Value::from).unwrap_or(Value::Null)
}

fn plan_ids(stamp: &Stamp) -> String {
    stamp
        .ece
        .action_plans
        .iter()
        .map(|p| format!("{} ({})", p.id, p.name))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn find_plan<'a>(stamp: &'a Stamp, id: &str) -> Result<&'a ActionPlan, CommandError> {
    stamp
        .ece
        .action_plans
        .iter()
        .find(|p| p.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| {
            CommandError(format!(
                "no action plan instance with id '{id}' (instances: {})",
                plan_ids(stamp)
            ))
        })
}

/// The latest time the plan or one of its steps records.
fn last_modified(p: &ActionPlan) -> Option<DateTime<Utc>> {
    p.steps
        .iter()
        .flat_map(|s| [s.start, s.end])
        .chain([p.start, p.end])
        .flatten()
        .max()
}

/// Get-AzsSupportActionPlanInstance [-Id] [-Name] [-Status]: plans by start time; with `-Id`,
/// that plan's steps in order with status, times and errors.
pub fn get_action_plan_instance(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    if let Some(id) = inv.args.str("Id") {
        let plan = find_plan(stamp, id)?;
        return Ok(plan
            .steps
            .iter()
            .map(|s| {
                Record::new("Azs.Support.ActionPlanStep")
                    .with("InstanceId", &plan.id)
                    .with("Index", &s.index)
                    .with("Name", &s.name)
                    .with("Role", &s.role)
                    .with("Status", &s.status)
                    .with("StartDateTime", opt_time(s.start))
                    .with("EndDateTime", opt_time(s.end))
                    .with("ErrorMessage", &s.error)
                    .into()
            })
            .collect());
    }
    let name = inv.args.str("Name").unwrap_or("*");
    let status = inv.args.str("Status");
    let mut plans: Vec<&ActionPlan> = stamp
        .ece
        .action_plans
        .iter()
        .filter(|p| wildcard_match(name, &p.name))
        .filter(|p| status.is_none_or(|s| s.eq_ignore_ascii_case(&p.status)))
        .collect();
    plans.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
    Ok(plans.into_iter().map(plan_record).collect())
}

/// An action plan instance as Get-AzsSupportActionPlanInstance shows it.
pub(super) fn plan_record(p: &ActionPlan) -> Value {
    Record::new("Azs.Support.ActionPlanInstance")
        .with("InstanceId", &p.id)
        .with("ActionPlanName", &p.name)
        .with("Status", &p.status)
        .with("StartDateTime", opt_time(p.start))
        .with("EndDateTime", opt_time(p.end))
        .with("LastModifiedDateTime", opt_time(last_modified(p)))
        .into()
}

/// Get-AzsSupportRoutingInformation [-Id]: for a failed plan (default: the most recent failure),
/// the failing step, its error, the role it acts on and the team owning that role.
pub fn get_routing_information(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let (stamp, now) = (inv.stamp(), inv.now);
    let routable = |p: &ActionPlan| p.status.eq_ignore_ascii_case("Failed") || p.is_stuck(now);
    let plan = match inv.args.str("Id") {
        Some(id) => find_plan(stamp, id)?,
        None => stamp
            .ece
            .action_plans
            .iter()
            .filter(|p| routable(p))
            .max_by_key(|p| p.start)
            .ok_or_else(|| {
                CommandError("no failed or stuck action plan instance in this stamp".into())
            })?,
    };
    if !routable(plan) {
        return Err(CommandError(format!(
            "action plan instance '{}' ({}) is {}, neither Failed nor stuck; there is nothing to route",
            plan.id, plan.name, plan.status
        )));
    }
    let stuck = !plan.status.eq_ignore_ascii_case("Failed");
    let step = if stuck {
        plan.current_step().map(|i| &plan.steps[i])
    } else {
        plan.steps
            .iter()
            .find(|s| s.status.eq_ignore_ascii_case("Error"))
    }
    .ok_or_else(|| {
        CommandError(format!(
            "action plan instance '{}' is {} but records no {} step",
            plan.id,
            plan.status,
            if stuck { "current" } else { "failing" }
        ))
    })?;
    let status = if stuck {
        let hours = plan.running_for(now).map_or(0, |d| d.num_hours());
        format!("Stuck (InProgress for {hours} h)")
    } else {
        plan.status.clone()
    };
    let error = if step.error.is_empty() && stuck {
        stamp
            .role_blocker(&step.role)
            .map(|b| format!("waiting: {b}"))
            .unwrap_or_else(|| "no progress; no error recorded".into())
    } else {
        step.error.clone()
    };
    let team = stamp
        .ece
        .roles
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(&step.role))
        .map(|r| r.owning_team.clone())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| format!("Unknown (no role definition for '{}')", step.role));
    Ok(vec![Record::new("Azs.Support.RoutingInformation")
        .with("InstanceId", &plan.id)
        .with("ActionPlanName", &plan.name)
        .with("Status", status)
        .with("FailedStep", format!("{} {}", step.index, step.name))
        .with("Component", &step.role)
        .with("OwningTeam", team)
        .with("ErrorMessage", error)
        .into()])
}

/// Get-AzsSupportECECloudDefinitionXml [-Force]: the cloud definition; when the live copy is
/// empty, a warning line and the backup copy.
pub fn get_cloud_definition(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let ece = &inv.stamp().ece;
    if !ece.cloud_definition.trim().is_empty() {
        return Ok(vec![Value::String(ece.cloud_definition.trim().to_string())]);
    }
    if !ece.backup_cloud_definition.trim().is_empty() {
        return Ok(vec![
            Value::String(
                "WARNING: the live cloud definition could not be read; returning the backup copy."
                    .into(),
            ),
            Value::String(ece.backup_cloud_definition.trim().to_string()),
        ]);
    }
    Err(CommandError(
        "the cloud definition could not be read and there is no backup copy".into(),
    ))
}

/// The nodes named (default: all), sorted by name.
fn selected_nodes<'a>(stamp: &'a Stamp, wanted: &[String]) -> Result<Vec<&'a Node>, CommandError> {
    let mut nodes = select_known_nodes(stamp, wanted)?;
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(nodes)
}

/// A node's ECE role: its role, `BareMetal` for a host without one.
fn role_of(n: &Node) -> &str {
    if n.role.is_empty() && n.host.is_empty() {
        "BareMetal"
    } else {
        &n.role
    }
}

/// Get-AzsSupportECEComputerRole [-ComputerName]: the role of each computer.
pub fn get_computer_role(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let wanted = inv.args.strings("ComputerName");
    let stamp = inv.stamp();
    Ok(selected_nodes(stamp, &wanted)?
        .into_iter()
        .map(|n| {
            Record::new("Azs.Support.ECEComputerRole")
                .with("ComputerName", &n.name)
                .with("Role", role_of(n))
                .into()
        })
        .collect())
}

/// The nodes of a role: BareMetal → the hosts; otherwise the VMs with that role. Sorted by name.
fn role_nodes<'a>(stamp: &'a Stamp, role: &str) -> Vec<&'a Node> {
    let mut nodes: Vec<&Node> = if role.eq_ignore_ascii_case("BareMetal") {
        stamp.hosts.iter().collect()
    } else {
        stamp
            .vms
            .iter()
            .filter(|v| v.role.eq_ignore_ascii_case(role))
            .collect()
    };
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    nodes
}

/// Fails for a role the stamp has neither a definition nor VMs for, naming the roles.
fn require_role(stamp: &Stamp, role: &str) -> Result<(), CommandError> {
    let known = stamp
        .ece
        .roles
        .iter()
        .any(|r| r.name.eq_ignore_ascii_case(role))
        || role.eq_ignore_ascii_case("BareMetal")
        || stamp.vms.iter().any(|v| v.role.eq_ignore_ascii_case(role));
    if known {
        return Ok(());
    }
    Err(CommandError(format!(
        "no ECE role named '{role}' (roles: {})",
        join_names(stamp.ece.roles.iter().map(|r| r.name.as_str()))
    )))
}

/// Get-AzsSupportECERoleDefinition [-Role]: each role's type, nodes and definition.
pub fn get_role_definition(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let role = inv.args.str("Role");
    if let Some(r) = role {
        require_role(stamp, r)?;
    }
    let mut roles: Vec<_> = stamp
        .ece
        .roles
        .iter()
        .filter(|r| role.is_none_or(|w| w.eq_ignore_ascii_case(&r.name)))
        .collect();
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(roles
        .into_iter()
        .map(|r| {
            let nodes: Vec<&str> = role_nodes(stamp, &r.name)
                .into_iter()
                .map(|n| n.name.as_str())
                .collect();
            Record::new("Azs.Support.ECERoleDefinition")
                .with("Role", &r.name)
                .with("RoleType", &r.kind)
                .with("Nodes", nodes.join(", "))
                .with("Settings", &r.definition)
                .into()
        })
        .collect())
}

/// Get-AzsSupportECERoleNodes -Role: the hosts (BareMetal) or VMs of a role.
pub fn get_role_nodes(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let role = inv.args.str("Role").unwrap_or_default();
    require_role(stamp, role)?;
    Ok(role_nodes(stamp, role)
        .into_iter()
        .map(|n| {
            let kind = if n.host.is_empty() {
                "BareMetal"
            } else {
                "VirtualMachine"
            };
            Record::new("Azs.Support.ECERoleNode")
                .with("Role", role_of(n))
                .with("NodeName", &n.name)
                .with("NodeType", kind)
                .into()
        })
        .collect())
}

/// Get-AzsSupportECERoleProvisioningStatus [-Role]: provisioning status of hosts and VMs, by
/// status then name (the last change is the node's last boot).
pub fn get_provisioning_status(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let mut nodes: Vec<&Node> = match inv.args.str("Role") {
        Some(r) => {
            require_role(stamp, r)?;
            role_nodes(stamp, r)
        }
        None => stamp.nodes().collect(),
    };
    nodes.sort_by(|a, b| {
        a.provisioning_status
            .cmp(&b.provisioning_status)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(nodes
        .into_iter()
        .map(|n| {
            Record::new("Azs.Support.ECEProvisioningStatus")
                .with("Role", role_of(n))
                .with("NodeName", &n.name)
                .with("ProvisioningStatus", &n.provisioning_status)
                .with("LastUpdated", n.boot_time)
                .into()
        })
        .collect())
}

/// Get-AzsSupportCodeIntegrityEnforcementStatus [-ComputerName]: kernel and user mode code
/// integrity per node. Azure Stack Hub enforces both on every node; a node that is not running
/// cannot be queried and reports `Unknown`.
pub fn get_code_integrity(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let wanted = inv.args.strings("ComputerName");
    let stamp = inv.stamp();
    let mut nodes = select_known_with_real(stamp, &wanted)?;
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    let now = inv.now;
    Ok(nodes
        .into_iter()
        .map(|n| host_of(stamp, n, now).code_integrity().into())
        .collect())
}

/// Get-AzsSupportDscLogs -ComputerName [-FromDate] [-ToDate]: writes the node's configuration
/// state and its events in the window to a log file in the working directory.
pub fn get_dsc_logs(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let name = inv.args.str("ComputerName").unwrap_or_default().to_string();
    let stamp = inv.stamp();
    let node = require_node(stamp, &name)?;
    model_only(stamp, node)?;
    let to = inv.args.datetime("ToDate").unwrap_or(inv.now);
    let from = inv
        .args
        .datetime("FromDate")
        .unwrap_or(to - Duration::hours(24));
    if from > to {
        return Err(CommandError("-FromDate is after -ToDate".into()));
    }
    let mut events = node.events.clone();
    events.extend(crate::stamp::events::source_events(
        &node.event_source,
        stamp.node_index(&node.name),
        inv.now,
    ));
    events.retain(|e| e.time >= from && e.time <= to);
    events.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
    let mut text = format!(
        "# DSC logs of {}\n# Window: {} .. {}\n# Role: {}\n# State: {}\n# ProvisioningStatus: {}\n\
         # LastBoot: {}\n# Events: {}\n",
        node.name,
        from.to_rfc3339(),
        to.to_rfc3339(),
        role_of(node),
        node.state,
        node.provisioning_status,
        node.boot_time.to_rfc3339(),
        events.len()
    );
    for e in &events {
        text.push_str(&format!(
            "{} {} {} {} {}: {}\n",
            e.time.to_rfc3339(),
            e.level,
            e.log,
            e.id,
            e.provider,
            e.message.replace(['\r', '\n'], " ")
        ));
    }
    let base = format!("DscLogs_{}_{}", node.name, inv.now.format("%Y%m%d-%H%M%S"));
    let node_name = node.name.clone();
    let path = inv
        .workdir
        .write_unique(&base, "log", inv.now, text.as_bytes())?;
    Ok(vec![Record::new("Azs.Support.CollectedFile")
        .with("ComputerName", node_name)
        .with("Path", inv.workdir.shown(&path))
        .with("Length", text.len() as u64)
        .into()])
}

#[cfg(test)]
mod tests {
    use super::super::testing::{default_stamp, run_on};
    use super::*;
    use crate::stamp::{ActionPlanStep, NodeState};

    use super::super::testing::prop;

    fn with_failed_plan() -> Stamp {
        let mut s = default_stamp();
        let t = |h| {
            DateTime::parse_from_rfc3339(h)
                .map(|d| d.with_timezone(&Utc))
                .ok()
        };
        s.ece.action_plans.push(ActionPlan {
            id: "f00d".into(),
            name: "Update".into(),
            status: "Failed".into(),
            start: t("2026-11-05T01:00:00Z"),
            end: t("2026-11-05T03:00:00Z"),
            steps: vec![
                ActionPlanStep {
                    index: "2.3".into(),
                    name: "Update ACS VMs".into(),
                    role: "ACS".into(),
                    status: "Error".into(),
                    error: "Timed out waiting for AZS-ACS02 to restart after patching".into(),
                    ..Default::default()
                },
                ActionPlanStep {
                    index: "3".into(),
                    name: "Later".into(),
                    role: "Cloud".into(),
                    status: "NotStarted".into(),
                    ..Default::default()
                },
            ],
            expected_duration_hours: None,
            blocked_since: None,
        });
        s
    }

    #[test]
    fn plans_filter_and_steps() {
        let mut s = with_failed_plan();
        let all = run_on(&mut s, get_action_plan_instance, &[], false).expect("plans");
        assert_eq!(all.len(), 2);
        assert_eq!(prop(&all[1], "InstanceId"), "f00d");
        let failed = run_on(
            &mut s,
            get_action_plan_instance,
            &[("Status", "Failed".into())],
            false,
        )
        .expect("failed");
        assert_eq!(failed.len(), 1);
        let none = run_on(
            &mut s,
            get_action_plan_instance,
            &[("Name", "Rotate*".into())],
            false,
        )
        .expect("none");
        assert!(none.is_empty());
        let steps = run_on(
            &mut s,
            get_action_plan_instance,
            &[("Id", "F00D".into())],
            false,
        )
        .expect("steps");
        assert_eq!(steps.len(), 2);
        assert_eq!(prop(&steps[0], "Status"), "Error");
        assert!(prop(&steps[0], "ErrorMessage").contains("Timed out"));
        let err = run_on(
            &mut s,
            get_action_plan_instance,
            &[("Id", "x".into())],
            false,
        )
        .expect_err("unknown id");
        assert!(err.0.contains("f00d"));
    }

    #[test]
    fn routing_names_owning_team() {
        let mut s = with_failed_plan();
        let r = run_on(&mut s, get_routing_information, &[], false).expect("routing");
        assert_eq!(prop(&r[0], "FailedStep"), "2.3 Update ACS VMs");
        assert_eq!(prop(&r[0], "Component"), "ACS");
        let team = s
            .ece
            .roles
            .iter()
            .find(|x| x.name == "ACS")
            .map(|x| x.owning_team.clone())
            .expect("ACS role");
        assert_eq!(prop(&r[0], "OwningTeam"), team);
        let mut healthy = default_stamp();
        assert!(run_on(&mut healthy, get_routing_information, &[], false).is_err());
        let id = healthy.ece.action_plans[0].id.clone();
        let err = run_on(
            &mut healthy,
            get_routing_information,
            &[("Id", id.into())],
            false,
        )
        .expect_err("not failed");
        assert!(err.0.contains("Completed"));
    }

    #[test]
    fn routing_also_routes_a_stuck_in_progress_plan_to_its_owning_team() {
        let mut s = with_failed_plan();
        let now = s.now();
        for p in s.ece.action_plans.iter_mut() {
            if p.status == "Failed" {
                p.status = "InProgress".into();
                p.start = Some(now - chrono::Duration::days(4));
                p.end = None;
                for st in p.steps.iter_mut().filter(|st| st.status == "Error") {
                    st.status = "InProgress".into();
                    st.error.clear();
                }
            }
        }
        let r = run_on(&mut s, get_routing_information, &[], false).expect("routing");
        assert!(prop(&r[0], "Status").starts_with("Stuck (InProgress for 96 h"));
        assert_eq!(prop(&r[0], "FailedStep"), "2.3 Update ACS VMs");
        assert_eq!(prop(&r[0], "Component"), "ACS");
        assert!(!prop(&r[0], "OwningTeam").is_empty());
    }

    #[test]
    fn cloud_definition_falls_back() {
        let mut s = default_stamp();
        s.ece.cloud_definition = "<CloudDefinition/>".into();
        let out = run_on(&mut s, get_cloud_definition, &[], false).expect("live");
        assert_eq!(out.len(), 1);
        s.ece.cloud_definition.clear();
        s.ece.backup_cloud_definition = "<CloudDefinition Backup='1'/>".into();
        let out = run_on(&mut s, get_cloud_definition, &[], false).expect("backup");
        assert!(out[0].to_display().contains("backup"));
        assert!(out[1].to_display().contains("Backup"));
        s.ece.backup_cloud_definition.clear();
        assert!(run_on(&mut s, get_cloud_definition, &[], false).is_err());
    }

    #[test]
    fn roles_nodes_and_status() {
        let mut s = default_stamp();
        let r = run_on(
            &mut s,
            get_computer_role,
            &[("ComputerName", vec!["AZS-ERCS01", "AZS-HOST01"].into())],
            false,
        )
        .expect("roles");
        assert_eq!(prop(&r[0], "Role"), "ERCS");
        assert_eq!(prop(&r[1], "Role"), "BareMetal");
        assert!(run_on(
            &mut s,
            get_computer_role,
            &[("ComputerName", vec!["X"].into())],
            false
        )
        .is_err());
        let acs = run_on(&mut s, get_role_nodes, &[("Role", "ACS".into())], false).expect("acs");
        assert_eq!(acs.len(), 3);
        assert_eq!(prop(&acs[0], "NodeType"), "VirtualMachine");
        let bm = run_on(
            &mut s,
            get_role_nodes,
            &[("Role", "BareMetal".into())],
            false,
        )
        .expect("bm");
        assert_eq!(bm.len(), s.hosts.len());
        assert!(run_on(&mut s, get_role_nodes, &[("Role", "Nope".into())], false).is_err());
        let def = run_on(
            &mut s,
            get_role_definition,
            &[("Role", "ACS".into())],
            false,
        )
        .expect("def");
        assert_eq!(prop(&def[0], "Nodes"), "AZS-ACS01, AZS-ACS02, AZS-ACS03");
        s.node_mut("AZS-ACS02").expect("vm").provisioning_status = "Failed".into();
        let st = run_on(&mut s, get_provisioning_status, &[], false).expect("status");
        assert_eq!(st.len(), s.hosts.len() + s.vms.len());
        assert_eq!(prop(&st[0], "NodeName"), "AZS-ACS02");
    }

    #[test]
    fn code_integrity_per_node() {
        let mut s = default_stamp();
        s.node_mut("AZS-ACS02").expect("vm").state = NodeState::Off;
        let rows = run_on(&mut s, get_code_integrity, &[], false).expect("ci");
        assert_eq!(rows.len(), s.hosts.len() + s.vms.len());
        let acs2 = rows
            .iter()
            .find(|r| prop(r, "ComputerName") == "AZS-ACS02")
            .expect("row");
        assert_eq!(prop(acs2, "KernelModeStatus"), "Unknown");
        assert_eq!(prop(&rows[0], "UserModeStatus"), "Enforced");
    }

    #[test]
    fn dsc_logs_written_to_workdir() {
        let mut s = default_stamp();
        let out = run_on(
            &mut s,
            get_dsc_logs,
            &[("ComputerName", "azs-acs01".into())],
            false,
        )
        .expect("dsc");
        let path = prop(&out[0], "Path");
        assert!(path.contains("DscLogs_AZS-ACS01_"));
        assert!(prop(&out[0], "Length").parse::<u64>().expect("len") > 0);
        assert!(run_on(&mut s, get_dsc_logs, &[("ComputerName", "X".into())], false).is_err());
    }
}
