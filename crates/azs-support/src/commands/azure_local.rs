//! The Azure Local (Azure Stack HCI) profile's registration, failover-cluster and network commands
//! over the stamp model: Get-AzureStackHCI; the cluster, its nodes, groups, owner nodes, resources
//! and CSVs; network adapters and switches (derived per host: two 25 GbE RDMA ports
//! `SLOT 3 Port 1/2` teamed into `ConvergedSwitch(hci)`); with PowerShell's property names. The
//! profile's storage and compute commands live in `azure_local_storage_compute`.
//!
//! It also owns what the profile's commands share: name filters, the cluster's name, and "the
//! node" of node-local commands, which is the host the session's endpoint runs on.

use super::{CommandError, Invocation, Table};
use crate::stamp::{Node, NodeState, Stamp};
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;
use chrono::Duration;

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Get-AzureStackHCI", get_azure_stack_hci),
    ("Get-Cluster", get_cluster),
    ("Get-ClusterGroup", get_cluster_group),
    ("Get-ClusterNode", get_cluster_node),
    ("Get-ClusterOwnerNode", get_cluster_owner_node),
    ("Get-ClusterResource", get_cluster_resource),
    ("Get-ClusterSharedVolume", get_cluster_shared_volume),
    ("Get-NetAdapter", get_net_adapter),
    ("Get-NetAdapterRdma", get_net_adapter_rdma),
    ("Get-VMSwitch", get_vm_switch),
];

const SWITCH: &str = "ConvergedSwitch(hci)";

/// Any of the patterns matches (no patterns: everything).
pub(super) fn any_match(patterns: &[String], text: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| wildcard_match(p, text))
}

/// The host this endpoint runs on: the endpoint node if it is a host, else the host of the
/// endpoint VM, else the first host.
pub(super) fn local_host(stamp: &Stamp) -> Result<&Node, CommandError> {
    let pep = stamp.pep_node();
    stamp
        .host(pep)
        .or_else(|| stamp.vm(pep).and_then(|v| stamp.host(&v.host)))
        .or_else(|| stamp.hosts.first())
        .ok_or_else(|| CommandError("this stamp has no hosts".into()))
}

pub(super) fn cluster_name(stamp: &Stamp) -> &str {
    if stamp.cluster.name.is_empty() {
        "cluster"
    } else {
        &stamp.cluster.name
    }
}

/// Get-AzureStackHCI: registration and connection status.
pub fn get_azure_stack_hci(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let s = inv.stamp();
    let name = cluster_name(s);
    let registered = s.hosts.iter().map(|h| h.boot_time).min().unwrap_or(inv.now);
    Ok(vec![Record::new("Microsoft.AzureStack.HCI.Status")
        .with("ClusterStatus", "Clustered")
        .with("RegistrationStatus", "Registered")
        .with("RegistrationDate", registered)
        .with("AzureResourceName", name)
        .with(
            "AzureResourceUri",
            format!(
                "/Subscriptions/{}/resourceGroups/{}-rg/providers/Microsoft.AzureStackHCI/clusters/{name}",
                s.stamp.cloud_id, name
            ),
        )
        .with("ConnectionStatus", "Connected")
        .with("LastConnected", inv.now - Duration::minutes(37))
        .with("IMDSAttestation", "Disabled")
        .with("DiagnosticLevel", "Basic")
        .into()])
}

/// Get-Cluster: the failover cluster.
pub fn get_cluster(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let s = inv.stamp();
    Ok(vec![Record::new(
        "Microsoft.FailoverClusters.PowerShell.Cluster",
    )
    .with("Name", cluster_name(s))
    .with("Domain", &s.stamp.domain_fqdn)
    .with("QuorumType", "NodeAndFileShareMajority")
    .with("ClusterFunctionalLevel", 10u32)
    .into()])
}

/// Get-ClusterGroup [-Name]: groups by name.
pub fn get_cluster_group(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let names = inv.args.strings("Name");
    let mut groups: Vec<_> = inv
        .stamp()
        .cluster_groups()
        .into_iter()
        .filter(|g| any_match(&names, &g.name))
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(groups
        .into_iter()
        .map(|g| {
            Record::new("Microsoft.FailoverClusters.PowerShell.ClusterGroup")
                .with("Name", g.name)
                .with("OwnerNode", g.owner)
                .with("State", g.state.as_str())
                .into()
        })
        .collect())
}

/// Get-ClusterNode [-Name]: hosts with their id and state; an unknown name is an error.
pub fn get_cluster_node(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let names = inv.args.strings("Name");
    let s = inv.stamp();
    super::cluster::require_hosts(s, &names)?;
    let mut rows: Vec<_> = s
        .hosts
        .iter()
        .enumerate()
        .filter(|(_, h)| names.is_empty() || names.iter().any(|n| n.eq_ignore_ascii_case(&h.name)))
        .collect();
    rows.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    Ok(rows
        .into_iter()
        .map(|(i, h)| {
            Record::new("Microsoft.FailoverClusters.PowerShell.ClusterNode")
                .with("Name", &h.name)
                .with("ID", (i + 1).to_string())
                .with("State", h.state.as_str())
                .into()
        })
        .collect())
}

/// Get-ClusterOwnerNode -Group G | -Resource R: preferred owners of a group (all nodes when it
/// has none), possible owners of a resource (every node).
pub fn get_cluster_owner_node(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let s = inv.stamp();
    let all: Vec<Value> = s
        .hosts
        .iter()
        .map(|h| Value::from(h.name.as_str()))
        .collect();
    let mut out = Vec::new();
    if let Some(g) = inv.args.str("Group") {
        let groups: Vec<_> = s
            .cluster_groups()
            .into_iter()
            .filter(|x| wildcard_match(g, &x.name))
            .collect();
        if groups.is_empty() {
            return Err(CommandError(format!("no cluster group named '{g}'")));
        }
        for x in groups {
            let owners = if x.preferred_owners.is_empty() {
                all.clone()
            } else {
                x.preferred_owners
                    .iter()
                    .map(|o| Value::from(o.as_str()))
                    .collect()
            };
            out.push((x.name, owners));
        }
    } else if let Some(r) = inv.args.str("Resource") {
        let res: Vec<_> = s
            .cluster_resources()
            .into_iter()
            .filter(|x| wildcard_match(r, &x.name))
            .collect();
        if res.is_empty() {
            return Err(CommandError(format!("no cluster resource named '{r}'")));
        }
        out.extend(res.into_iter().map(|x| (x.name, all.clone())));
    } else {
        return Err(CommandError("give -Group or -Resource".into()));
    }
    Ok(out
        .into_iter()
        .map(|(obj, owners)| {
            Record::new("Microsoft.FailoverClusters.PowerShell.ClusterOwnerNodeList")
                .with("ClusterObject", obj)
                .with("OwnerNodes", Value::Array(owners))
                .into()
        })
        .collect())
}

/// Get-ClusterResource [-Name]: resources by state, then name.
pub fn get_cluster_resource(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let names = inv.args.strings("Name");
    let mut rows: Vec<_> = inv
        .stamp()
        .cluster_resources()
        .into_iter()
        .filter(|r| any_match(&names, &r.name))
        .collect();
    rows.sort_by(|a, b| {
        a.state
            .as_str()
            .cmp(b.state.as_str())
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(rows
        .into_iter()
        .map(|r| {
            Record::new("Microsoft.FailoverClusters.PowerShell.ClusterResource")
                .with("Name", r.name)
                .with("State", r.state.as_str())
                .with("OwnerGroup", r.group)
                .with("ResourceType", r.resource_type)
                .into()
        })
        .collect())
}

/// Get-ClusterSharedVolume [-Name]: CSVs by state, then name.
pub fn get_cluster_shared_volume(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let names = inv.args.strings("Name");
    let mut rows: Vec<_> = inv
        .stamp()
        .cluster
        .csvs
        .iter()
        .filter(|c| any_match(&names, &c.name))
        .collect();
    rows.sort_by(|a, b| {
        a.state
            .as_str()
            .cmp(b.state.as_str())
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(rows
        .into_iter()
        .map(|c| {
            Record::new("Microsoft.FailoverClusters.PowerShell.ClusterSharedVolume")
                .with("Name", &c.name)
                .with("State", c.state.as_str())
                .with("Node", &c.owner)
                .into()
        })
        .collect())
}

/// A network adapter of the local host: name, description, ifIndex, MAC, physical.
struct Adapter {
    name: String,
    description: String,
    index: u32,
    mac: String,
    physical: bool,
}

fn adapters(stamp: &Stamp, host: &Node) -> Vec<Adapter> {
    let h = stamp.node_index(&host.name) as u32;
    let mac = |port: u32| format!("B8-CE-F6-{:02X}-{:02X}-{:02X}", 0x10 + h, 0x3A, 0x40 + port);
    let mut out = Vec::new();
    for port in 1..=2u32 {
        out.push(Adapter {
            name: format!("SLOT 3 Port {port}"),
            description: if port == 1 {
                "Mellanox ConnectX-4 Lx Ethernet Adapter".into()
            } else {
                "Mellanox ConnectX-4 Lx Ethernet Adapter #2".into()
            },
            index: 4 + port,
            mac: mac(port),
            physical: true,
        });
    }
    for (i, v) in ["Management", "Storage1", "Storage2"].iter().enumerate() {
        out.push(Adapter {
            name: format!("vEthernet ({v})"),
            description: format!("Hyper-V Virtual Ethernet Adapter #{}", i + 1),
            index: 20 + i as u32,
            mac: mac(0x10 + i as u32),
            physical: false,
        });
    }
    out
}

fn up(host: &Node) -> &'static str {
    if host.state == NodeState::Down {
        "Disconnected"
    } else {
        "Up"
    }
}

/// Get-NetAdapter [-Name] [-Physical]: the local host's adapters by name.
pub fn get_net_adapter(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let names = inv.args.strings("Name");
    let physical = inv.args.switch("Physical");
    let s = inv.stamp();
    let host = local_host(s)?;
    let mut rows: Vec<_> = adapters(s, host)
        .into_iter()
        .filter(|a| any_match(&names, &a.name) && (!physical || a.physical))
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows
        .into_iter()
        .map(|a| {
            let speed = if a.physical { "25 Gbps" } else { "50 Gbps" };
            Record::new("MSFT_NetAdapter")
                .with("Name", a.name)
                .with("InterfaceDescription", a.description)
                .with("ifIndex", a.index)
                .with("Status", up(host))
                .with("MacAddress", a.mac)
                .with("LinkSpeed", speed)
                .into()
        })
        .collect())
}

/// Get-NetAdapterRdma [-Name]: RDMA enabled and operational on the physical ports and the
/// storage vNICs.
pub fn get_net_adapter_rdma(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let names = inv.args.strings("Name");
    let s = inv.stamp();
    let host = local_host(s)?;
    let mut rows: Vec<_> = adapters(s, host)
        .into_iter()
        .filter(|a| any_match(&names, &a.name))
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows
        .into_iter()
        .map(|a| {
            let enabled = a.physical || a.name.contains("Storage");
            Record::new("MSFT_NetAdapterRdmaSettingData")
                .with("Name", a.name)
                .with("InterfaceDescription", a.description)
                .with("Enabled", enabled)
                .with("Operational", enabled && host.state != NodeState::Down)
                .into()
        })
        .collect())
}

/// Get-VMSwitch [-Name]: the converged switch teaming the two physical ports.
pub fn get_vm_switch(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let names = inv.args.strings("Name");
    if !any_match(&names, SWITCH) {
        return Ok(vec![]);
    }
    Ok(vec![Record::new("Microsoft.HyperV.PowerShell.VMSwitch")
        .with("Name", SWITCH)
        .with("SwitchType", "External")
        .with("NetAdapterInterfaceDescription", "Teamed-Interface")
        .into()])
}

#[cfg(test)]
mod tests {
    use super::super::testing::prop;
    use super::super::testing::{default_stamp, run_on};
    use super::*;
    use crate::stamp::GroupState;

    #[test]
    fn cluster_views() {
        let mut s = default_stamp();
        let c = run_on(&mut s, get_cluster, &[], false).expect("cluster");
        assert_eq!(prop(&c[0], "Name"), "s-cluster");
        let nodes = run_on(&mut s, get_cluster_node, &[], false).expect("nodes");
        assert_eq!(nodes.len(), 4);
        assert_eq!(prop(&nodes[0], "ID"), "1");
        assert!(run_on(
            &mut s,
            get_cluster_node,
            &[("Name", vec!["X"].into())],
            false
        )
        .is_err());
        let groups = run_on(
            &mut s,
            get_cluster_group,
            &[("Name", vec!["AZS-ACS*"].into())],
            false,
        )
        .expect("groups");
        assert_eq!(groups.len(), 3);
        s.cluster.resources[0].state = GroupState::Failed;
        let res = run_on(&mut s, get_cluster_resource, &[], false).expect("res");
        assert_eq!(prop(&res[0], "State"), "Failed");
        let csv = run_on(&mut s, get_cluster_shared_volume, &[], false).expect("csv");
        assert_eq!(csv.len(), 6);
        let own = run_on(
            &mut s,
            get_cluster_owner_node,
            &[("Group", "Cluster Group".into())],
            false,
        )
        .expect("owners");
        assert!(prop(&own[0], "OwnerNodes").contains("AZS-HOST04"));
        assert!(run_on(&mut s, get_cluster_owner_node, &[], false).is_err());
        let hci = run_on(&mut s, get_azure_stack_hci, &[], false).expect("hci");
        assert_eq!(prop(&hci[0], "RegistrationStatus"), "Registered");
    }

    #[test]
    fn network_views() {
        let mut s = default_stamp();
        let all = run_on(&mut s, get_net_adapter, &[], false).expect("nics");
        assert_eq!(all.len(), 5);
        let phys =
            run_on(&mut s, get_net_adapter, &[("Physical", true.into())], false).expect("phys");
        assert_eq!(prop(&phys[0], "Name"), "SLOT 3 Port 1");
        assert_eq!(prop(&phys[0], "LinkSpeed"), "25 Gbps");
        let rdma = run_on(
            &mut s,
            get_net_adapter_rdma,
            &[("Name", vec!["SLOT*"].into())],
            false,
        )
        .expect("rdma");
        assert!(rdma.iter().all(|r| prop(r, "Operational") == "True"));
        let sw = run_on(&mut s, get_vm_switch, &[], false).expect("sw");
        assert_eq!(prop(&sw[0], "Name"), "ConvergedSwitch(hci)");
    }
}
