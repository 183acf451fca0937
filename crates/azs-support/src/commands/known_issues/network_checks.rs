//! Known-issue checks over the network: site-to-site connections that are not Connected, and
//! whether their gateway's GatewayService runs (`S2SConnectivity`); network resources of the
//! resource provider (NRP) and the network controller (SDN) whose provisioning failed or whose
//! configuration the controller reports as failing (`NetworkResourceHealth`).

use super::{problem, verdict, Verdict};
use crate::stamp::{ServiceState, Stamp};
use chrono::{DateTime, Utc};

pub(super) fn s2s_connectivity(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let conns = &stamp.network.connections;
    let problems = conns
        .iter()
        .filter(|c| !c.status.eq_ignore_ascii_case("Connected"))
        .map(|c| {
            let stopped: Vec<&str> = stamp
                .vm(&c.gateway)
                .map(|vm| {
                    vm.services
                        .iter()
                        .filter(|s| {
                            s.name.eq_ignore_ascii_case("GatewayService")
                                && s.state != ServiceState::Running
                        })
                        .map(|s| s.name.as_str())
                        .collect()
                })
                .unwrap_or_default();
            let mut evidence = format!(
                "Site-to-site connection {} (gateway {}, peer {}) is {}",
                c.name, c.gateway, c.remote_address, c.status
            );
            if !stopped.is_empty() {
                evidence.push_str(&format!("; GatewayService on {} is not Running", c.gateway));
            }
            problem(
                evidence,
                format!(
                    "Restart-AzsSupportService -ComputerName {} -Name GatewayService",
                    c.gateway
                ),
            )
        })
        .collect();
    verdict(
        problems,
        format!("All {} site-to-site connections are Connected", conns.len()),
    )
}

pub(super) fn network_resource_health(stamp: &Stamp, _now: DateTime<Utc>) -> Verdict {
    let net = &stamp.network;
    let mut problems = Vec::new();
    for d in &net.nrp {
        let Some(why) = d
            .provisioning_problem()
            .or_else(|| d.configuration_problem())
        else {
            continue;
        };
        let id = serde_json::from_str::<serde_json::Value>(&d.document)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_string))
            .unwrap_or_else(|| {
                format!(
                    "/subscriptions/<subscription>/resourceGroups/<group>/providers/Microsoft.Network/{}/{}",
                    d.kind, d.name
                )
            });
        problems.push(problem(
            format!("Network resource {}/{} (NRP) has {why}", d.kind, d.name),
            format!(
                "Re-drive it: Invoke-AzsSupportNrpResourceRequest -ResourceId {id} -Method PUT"
            ),
        ));
    }
    for d in &net.sdn {
        let Some(why) = d
            .provisioning_problem()
            .or_else(|| d.configuration_problem())
        else {
            continue;
        };
        problems.push(problem(
            format!(
                "Network controller resource {}/{} has {why}",
                d.kind, d.name
            ),
            format!(
                "Review Start-AzsSupportSdnDiagnostic, then re-drive it: Invoke-AzsSupportSdnResourceRequest -ResourceRef /{}/{} -Method PUT",
                d.kind, d.name
            ),
        ));
    }
    verdict(
        problems,
        format!(
            "All {} NRP and {} network controller resources provisioned and configured",
            net.nrp.len(),
            net.sdn.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_resources_are_flagged_and_updating_ones_are_not() {
        let mut s = Stamp::default_stamp().unwrap_or_else(|e| panic!("{e}"));
        let now = s.now();
        assert!(network_resource_health(&s, now).passed());
        s.network.nrp[0].document = s.network.nrp[0]
            .document
            .replace("\"Succeeded\"", "\"Updating\"");
        assert!(
            network_resource_health(&s, now).passed(),
            "an update in progress"
        );
        s.network.nrp[0].document = s.network.nrp[0]
            .document
            .replace("\"Updating\"", "\"Failed\"");
        let v = network_resource_health(&s, now);
        assert!(
            v.evidence().contains("provisioningState Failed"),
            "{}",
            v.evidence()
        );
        assert!(v
            .remediation()
            .contains("Invoke-AzsSupportNrpResourceRequest"));
        s.network.nrp[0].document = "{not json".into();
        assert!(!network_resource_health(&s, now).passed());
    }
}
