//! Compute commands: infrastructure VMs (by name and by host), the VM report of infrastructure and
//! tenant VMs, tenant VMs and scale sets, performance metrics of hosts and infrastructure VMs, and
//! the repair Restart-AzsSupportComputerByRole (VMs of a role one at a time; a stuck fabric ring
//! upgrade on them completes; ECE retries failed plan steps of the role).

use super::cluster::{require_hosts, require_vm};
use super::hosts::select_nodes;
use super::{CommandError, Invocation, Table};
use crate::stamp::{Node, NodeState, Stamp};
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Get-AzsSupportInfrastructureVM", get_infrastructure_vm),
    (
        "Get-AzsSupportInfrastructureVMHost",
        get_infrastructure_vm_host,
    ),
    ("Get-AzsSupportVMReport", get_vm_report),
    ("Get-AzsSupportTenantVM", get_tenant_vm),
    ("Get-AzsSupportTenantVMSS", get_tenant_vmss),
    ("Get-AzsSupportPerformanceMetrics", get_performance_metrics),
    ("Restart-AzsSupportComputerByRole", restart_computer_by_role),
];

fn uptime(vm: &Node, now: chrono::DateTime<chrono::Utc>) -> String {
    if vm.state == NodeState::Running {
        Stamp::uptime(vm.boot_time, now)
    } else {
        String::new()
    }
}

fn has_wildcard(p: &str) -> bool {
    crate::wildcard::is_wildcard(p)
}

/// Get-AzsSupportInfrastructureVM [-Name]: infrastructure VMs by name.
pub fn get_infrastructure_vm(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let pattern = inv.args.str("Name").unwrap_or("*");
    let stamp = inv.stamp();
    let mut vms: Vec<&Node> = stamp
        .vms
        .iter()
        .filter(|v| wildcard_match(pattern, &v.name))
        .collect();
    if vms.is_empty() && !has_wildcard(pattern) {
        require_vm(stamp, pattern)?;
    }
    vms.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(vms
        .into_iter()
        .map(|v| {
            Record::new("Azs.Support.InfrastructureVM")
                .with("Name", &v.name)
                .with("Role", &v.role)
                .with("State", v.state.as_str())
                .with("Host", &v.host)
                .with("Uptime", uptime(v, inv.now))
                .with("ProcessorCount", v.cpu_cores)
                .with("MemoryAssignedGB", v.memory_gb)
                .with("CpuPercent", v.cpu_percent)
                .with("MemoryPercent", v.memory_percent)
                .into()
        })
        .collect())
}

/// Get-AzsSupportInfrastructureVMHost [-ComputerName]: infrastructure VMs by host, then name.
pub fn get_infrastructure_vm_host(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let wanted = inv.args.strings("ComputerName");
    let stamp = inv.stamp();
    require_hosts(stamp, &wanted)?;
    let mut vms: Vec<&Node> = stamp
        .vms
        .iter()
        .filter(|v| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(&v.host)))
        .collect();
    vms.sort_by(|a, b| a.host.cmp(&b.host).then_with(|| a.name.cmp(&b.name)));
    Ok(vms
        .into_iter()
        .map(|v| {
            Record::new("Azs.Support.InfrastructureVMHost")
                .with("Host", &v.host)
                .with("Name", &v.name)
                .with("Role", &v.role)
                .with("State", v.state.as_str())
                .into()
        })
        .collect())
}

/// Processors and memory (GiB) of a tenant VM size.
fn size_shape(size: &str) -> (u32, f64) {
    match size.to_ascii_lowercase().as_str() {
        "standard_d1_v2" => (1, 3.5),
        "standard_d2_v2" => (2, 7.0),
        "standard_d3_v2" => (4, 14.0),
        "standard_d4_v2" => (8, 28.0),
        "standard_a1" => (1, 1.75),
        "standard_a2" => (2, 3.5),
        _ => (0, 0.0),
    }
}

/// Get-AzsSupportVMReport: every VM, infrastructure and tenant, by host then name.
pub fn get_vm_report(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let mut rows: Vec<Record> = stamp
        .vms
        .iter()
        .map(|v| {
            let generation = if v.model.contains("Generation 1") {
                "1"
            } else {
                "2"
            };
            Record::new("Azs.Support.VMReport")
                .with("Name", &v.name)
                .with("Host", &v.host)
                .with("State", v.state.as_str())
                .with("Kind", "Infrastructure")
                .with("Role", &v.role)
                .with("Generation", generation)
                .with("ProcessorCount", v.cpu_cores)
                .with("MemoryAssignedGB", f64::from(v.memory_gb))
        })
        .collect();
    rows.extend(stamp.compute.vms.iter().map(|t| {
        let (cpu, mem) = size_shape(&t.size);
        Record::new("Azs.Support.VMReport")
            .with("Name", &t.name)
            .with("Host", &t.host)
            .with("State", &t.state)
            .with("Kind", "Tenant")
            .with("Role", "")
            .with("Generation", "2")
            .with("ProcessorCount", cpu)
            .with("MemoryAssignedGB", mem)
    }));
    let key = |r: &Record, p: &str| r.get(p).map(Value::to_display).unwrap_or_default();
    rows.sort_by(|a, b| {
        key(a, "Host")
            .cmp(&key(b, "Host"))
            .then_with(|| key(a, "Name").cmp(&key(b, "Name")))
    });
    Ok(rows.into_iter().map(Value::from).collect())
}

fn subscription_filter<'a>(inv: &'a Invocation<'_>) -> (Option<&'a str>, &'a str) {
    (
        inv.args.str("SubscriptionId"),
        inv.args.str("Name").unwrap_or("*"),
    )
}

/// Get-AzsSupportTenantVM [-SubscriptionId] [-Name]: tenant VMs by subscription, then name.
pub fn get_tenant_vm(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let (sub, name) = subscription_filter(inv);
    let mut vms: Vec<_> = inv
        .stamp()
        .compute
        .vms
        .iter()
        .filter(|v| sub.is_none_or(|s| s.eq_ignore_ascii_case(&v.subscription)))
        .filter(|v| wildcard_match(name, &v.name))
        .collect();
    vms.sort_by(|a, b| {
        a.subscription
            .cmp(&b.subscription)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(vms
        .into_iter()
        .map(|v| {
            Record::new("Azs.Support.TenantVM")
                .with("SubscriptionId", &v.subscription)
                .with("ResourceGroupName", &v.resource_group)
                .with("Name", &v.name)
                .with("VmSize", &v.size)
                .with("ProvisioningState", &v.provisioning_state)
                .with("PowerState", &v.state)
                .with("Host", &v.host)
                .into()
        })
        .collect())
}

/// Get-AzsSupportTenantVMSS [-SubscriptionId] [-Name]: scale sets by subscription, then name.
pub fn get_tenant_vmss(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let (sub, name) = subscription_filter(inv);
    let mut sets: Vec<_> = inv
        .stamp()
        .compute
        .scale_sets
        .iter()
        .filter(|v| sub.is_none_or(|s| s.eq_ignore_ascii_case(&v.subscription)))
        .filter(|v| wildcard_match(name, &v.name))
        .collect();
    sets.sort_by(|a, b| {
        a.subscription
            .cmp(&b.subscription)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(sets
        .into_iter()
        .map(|v| {
            Record::new("Azs.Support.TenantVMSS")
                .with("SubscriptionId", &v.subscription)
                .with("ResourceGroupName", &v.resource_group)
                .with("Name", &v.name)
                .with("Sku", &v.size)
                .with("Capacity", v.capacity)
                .with("ProvisioningState", &v.provisioning_state)
                .into()
        })
        .collect())
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Get-AzsSupportPerformanceMetrics [-ComputerName] [-SampleSeconds]: one summary per host and
/// infrastructure VM, busiest first. Disk and network figures are derived from the node's load;
/// a node that is not running reports zeros.
pub fn get_performance_metrics(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let wanted = inv.args.strings("ComputerName");
    let stamp = inv.stamp();
    let mut nodes = select_nodes(stamp, &wanted)?;
    nodes.sort_by(|a, b| {
        b.cpu_percent
            .total_cmp(&a.cpu_percent)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(nodes
        .into_iter()
        .map(|n| {
            let running = matches!(n.state, NodeState::Running | NodeState::Up);
            let (cpu, mem) = if running {
                (n.cpu_percent, n.memory_percent)
            } else {
                (0.0, 0.0)
            };
            let host = n.host.is_empty();
            let net = if host { 120.0 + cpu * 8.0 } else { cpu * 2.5 };
            Record::new("Azs.Support.PerformanceMetrics")
                .with("ComputerName", &n.name)
                .with("CpuPercent", cpu)
                .with("MemoryPercent", mem)
                .with(
                    "DiskLatencyMs",
                    round1(if running { 1.5 + cpu / 10.0 } else { 0.0 }),
                )
                .with("DiskQueueLength", round1(cpu / 40.0))
                .with("NetworkMbps", round1(if running { net } else { 0.0 }))
                .into()
        })
        .collect())
}

/// Restart-AzsSupportComputerByRole -Role: restarts the role's VMs one at a time (each comes back
/// Running with its Automatic services started and its fabric nodes Up). A ring whose upgrade was
/// rolling forward with a node on those VMs completes; failed action plans whose failing step is
/// the role's are retried and complete. Refuses ERCS (this endpoint runs there) and roles without
/// VMs.
pub fn restart_computer_by_role(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let role = inv.args.str("Role").unwrap_or_default().to_string();
    if role.eq_ignore_ascii_case("ERCS") {
        return Err(CommandError(
            "refusing to restart the ERCS VMs: that would end this privileged endpoint session"
                .into(),
        ));
    }
    let stamp = inv.stamp();
    let mut vms: Vec<String> = stamp
        .vms
        .iter()
        .filter(|v| v.role.eq_ignore_ascii_case(&role))
        .map(|v| v.name.clone())
        .collect();
    if vms.is_empty() {
        let mut roles: Vec<&str> = stamp.vms.iter().map(|v| v.role.as_str()).collect();
        roles.sort_unstable();
        roles.dedup();
        return Err(CommandError(format!(
            "role '{role}' has no infrastructure VMs (roles with VMs: {})",
            roles.join(", ")
        )));
    }
    vms.sort();
    let target = format!("{role} ({})", vms.join(", "));
    if !inv.should_process(&target, "Restart the role's VMs one at a time") {
        return Ok(vec![]);
    }
    let now = inv.now;
    let stamp = inv.stamp_mut()?;
    let role_name = stamp
        .vms
        .iter()
        .find(|v| v.role.eq_ignore_ascii_case(&role))
        .map(|v| v.role.clone())
        .unwrap_or(role);
    let mut not_back: Vec<(String, Vec<String>)> = Vec::new();
    for name in &vms {
        let failed = stamp.restart_vm(name, now);
        if !failed.is_empty() {
            not_back.push((name.clone(), failed));
        }
    }
    stamp.complete_upgrades_on(&vms);
    stamp.retry_plans_on(&role_name, now);
    Ok(vms
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let result = match not_back.iter().find(|(n, _)| n == name) {
                None => "Restarted".to_string(),
                Some((_, what)) => format!("NotBack: {} did not come back", what.join(", ")),
            };
            Record::new("Azs.Support.RestartResult")
                .with("Role", &role_name)
                .with("ComputerName", name)
                .with("Result", result)
                .with(
                    "Duration",
                    format!("00:0{}:{:02}", 4 + i % 3, 10 + 7 * i % 50),
                )
                .into()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{default_stamp, run_on, what_if};

    use super::*;

    use crate::stamp::{ActionPlan, ActionPlanStep, ServiceState};

    use super::super::testing::prop;

    #[test]
    fn infrastructure_vms_sorted_and_filtered() {
        let mut s = default_stamp();
        let all = run_on(&mut s, get_infrastructure_vm, &[], false).expect("vms");
        assert_eq!(all.len(), s.vms.len());
        assert_eq!(prop(&all[0], "Name"), "AZS-ACS01");
        let ercs = run_on(
            &mut s,
            get_infrastructure_vm,
            &[("Name", "*ercs*".into())],
            false,
        )
        .expect("ercs");
        assert_eq!(ercs.len(), 3);
        assert_eq!(prop(&ercs[0], "Role"), "ERCS");
        assert!(run_on(
            &mut s,
            get_infrastructure_vm,
            &[("Name", "NOPE".into())],
            false
        )
        .is_err());
        let by_host = run_on(
            &mut s,
            get_infrastructure_vm_host,
            &[("ComputerName", vec!["AZS-HOST01"].into())],
            false,
        )
        .expect("by host");
        assert!(by_host.iter().all(|v| prop(v, "Host") == "AZS-HOST01"));
        assert!(by_host
            .windows(2)
            .all(|w| prop(&w[0], "Name") <= prop(&w[1], "Name")));
        assert!(run_on(
            &mut s,
            get_infrastructure_vm_host,
            &[("ComputerName", vec!["AZS-HOST09"].into())],
            false
        )
        .is_err());
    }

    #[test]
    fn report_and_tenant_views() {
        let mut s = default_stamp();
        let rows = run_on(&mut s, get_vm_report, &[], false).expect("report");
        assert_eq!(rows.len(), s.vms.len() + s.compute.vms.len());
        assert!(rows
            .windows(2)
            .all(|w| prop(&w[0], "Host") <= prop(&w[1], "Host")));
        assert!(rows.iter().any(|r| prop(r, "Kind") == "Tenant"));
        let t = run_on(&mut s, get_tenant_vm, &[("Name", "*001".into())], false).expect("vm");
        assert_eq!(t.len(), 1);
        assert_eq!(prop(&t[0], "Host"), "AZS-HOST01");
        let none = run_on(
            &mut s,
            get_tenant_vm,
            &[("SubscriptionId", "0000".into())],
            false,
        )
        .expect("none");
        assert!(none.is_empty());
        let ss = run_on(&mut s, get_tenant_vmss, &[], false).expect("vmss");
        assert_eq!(prop(&ss[0], "Capacity"), "3");
    }

    #[test]
    fn metrics_busiest_first() {
        let mut s = default_stamp();
        let rows = run_on(&mut s, get_performance_metrics, &[], false).expect("metrics");
        assert_eq!(rows.len(), s.hosts.len() + s.vms.len());
        let cpu: Vec<f64> = rows
            .iter()
            .filter_map(|r| r.as_record().and_then(|r| r.get("CpuPercent")))
            .filter_map(Value::as_f64)
            .collect();
        assert!(cpu.windows(2).all(|w| w[0] >= w[1]));
        assert!(run_on(
            &mut s,
            get_performance_metrics,
            &[("ComputerName", vec!["X1"].into())],
            false
        )
        .is_err());
    }

    #[test]
    fn restart_refuses_ercs_and_empty_roles() {
        let mut s = default_stamp();
        let err = run_on(
            &mut s,
            restart_computer_by_role,
            &[("Role", "ercs".into())],
            true,
        )
        .expect_err("ercs");
        assert!(err.0.contains("privileged endpoint session"));
        let err = run_on(
            &mut s,
            restart_computer_by_role,
            &[("Role", "Nope".into())],
            true,
        )
        .expect_err("no vms");
        assert!(err.0.contains("ACS"));
    }

    #[test]
    fn restart_completes_stuck_upgrade() {
        let mut s = default_stamp();
        let ring = &mut s.rings[0];
        assert_eq!(ring.name, "FabricRing");
        ring.upgrade.state = "RollingForwardInProgress".into();
        ring.upgrade.target_version = "7.2.477.9590".into();
        ring.upgrade.current_domain = "UD1".into();
        ring.upgrade.completed_domains = vec!["UD0".into()];
        ring.upgrade.failure_reason = "Upgrade domain UD1 safety check timed out".into();
        ring.nodes[1].health = "Warning".into();
        let out = run_on(
            &mut s,
            restart_computer_by_role,
            &[("Role", "FabricRing".into())],
            true,
        )
        .expect("restart");
        assert_eq!(out.len(), 3);
        let ring = &s.rings[0];
        assert_eq!(ring.upgrade.state, "RollingForwardCompleted");
        assert_eq!(ring.runtime_version, "7.2.477.9590");
        assert!(ring.upgrade.failure_reason.is_empty());
        assert_eq!(ring.upgrade.completed_domains, vec!["UD0", "UD1", "UD2"]);
        assert!(ring
            .nodes
            .iter()
            .all(|n| n.version == "7.2.477.9590" && n.health == "Ok" && n.status == "Up"));
        // The seed ring was not touched.
        assert_eq!(s.rings[1].upgrade.state, "RollingForwardCompleted");
    }

    #[test]
    fn restart_starts_vms_and_retries_failed_plan() {
        let mut s = default_stamp();
        let vm = s.node_mut("AZS-ACS02").expect("vm");
        vm.state = NodeState::Off;
        if let Some(svc) = vm.services.iter_mut().find(|x| x.start_type.is_automatic()) {
            svc.state = ServiceState::Stopped;
        }
        let step = |i: &str, st: &str, role: &str| ActionPlanStep {
            index: i.into(),
            name: format!("step {i}"),
            role: role.into(),
            status: st.into(),
            error: if st == "Error" {
                "Timed out waiting for AZS-ACS02".into()
            } else {
                String::new()
            },
            ..Default::default()
        };
        s.ece.action_plans.push(ActionPlan {
            id: "p1".into(),
            name: "Update".into(),
            status: "Failed".into(),
            steps: vec![
                step("1", "Success", "Cloud"),
                step("2.3", "Error", "ACS"),
                step("3", "NotStarted", "Cloud"),
            ],
            ..Default::default()
        });
        let now_before = chrono::Utc::now();
        run_on(
            &mut s,
            restart_computer_by_role,
            &[("Role", "ACS".into())],
            true,
        )
        .expect("ok");
        let vm = s.vm("AZS-ACS02").expect("vm");
        assert_eq!(vm.state, NodeState::Running);
        assert!(vm.boot_time >= now_before);
        assert!(vm
            .services
            .iter()
            .filter(|x| x.start_type.is_automatic())
            .all(|x| x.state == ServiceState::Running));
        let plan = s.ece.action_plans.last().expect("plan");
        assert_eq!(plan.status, "Completed");
        assert!(plan.end.is_some());
        assert_eq!(plan.steps[1].status, "Success");
    }

    #[test]
    fn restart_whatif_changes_nothing() {
        let mut s = default_stamp();
        s.node_mut("AZS-ACS02").expect("vm").state = NodeState::Off;
        let before = s.clone();
        assert!(what_if(&mut s, restart_computer_by_role, &[("Role", "ACS".into())]).is_empty());
        assert_eq!(s, before);
    }
}
