//! Known-issue check over the network: site-to-site connections that are not Connected, and
//! whether their gateway's GatewayService runs (`S2SConnectivity`).

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
