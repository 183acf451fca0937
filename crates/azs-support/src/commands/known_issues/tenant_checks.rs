//! Known-issue check over tenant compute (`TenantVMHealth`): VMs and scale sets whose
//! provisioning failed, VMs in the Failed state, and VMs that claim to run on a host that is not
//! Up. A VM its owner stopped or deallocated is healthy: that is the tenant's choice.

use super::{host_not_up, is, problem, verdict, Verdict};
use crate::stamp::Stamp;
use chrono::{DateTime, Utc};

pub(super) fn tenant_vm_health(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let mut problems = Vec::new();
    let compute = &stamp.compute;
    for vm in &compute.vms {
        let why = if is(&vm.provisioning_state, "Failed") {
            format!("provisioning state Failed (state {})", vm.state)
        } else if is(&vm.state, "Failed") {
            "state Failed".to_string()
        } else if is(&vm.state, "Running") && !vm.host.is_empty() {
            match host_not_up(stamp, &vm.host) {
                Some(s) => format!("reported Running on {}, which is {s}", vm.host),
                None => continue,
            }
        } else {
            continue;
        };
        problems.push(problem(
            format!(
                "Tenant VM {} (subscription {}, resource group {}) has {why}",
                vm.name, vm.subscription, vm.resource_group
            ),
            format!(
                "Review Get-AzsSupportTenantVM -Name {}; the tenant redeploys or restarts the VM once its host is Up (Get-AzsSupportInfrastructureHost)",
                vm.name
            ),
        ));
    }
    for ss in compute
        .scale_sets
        .iter()
        .filter(|s| is(&s.provisioning_state, "Failed"))
    {
        problems.push(problem(
            format!(
                "Scale set {} (subscription {}) has provisioning state Failed",
                ss.name, ss.subscription
            ),
            "Review Get-AzsSupportTenantVMSS; the tenant re-applies the scale set's model".into(),
        ));
    }
    verdict(
        problems,
        format!(
            "{} tenant VMs and {} scale sets provisioned, none failed or on a host that is down",
            compute.vms.len(),
            compute.scale_sets.len()
        ),
    )
}
