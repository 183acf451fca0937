//! The Azure Local (Azure Stack HCI) profile's commands over the stamp model: registration,
//! cluster, nodes, groups, resources, CSVs, network adapters and switches (derived per host: two
//! 25 GbE RDMA ports `SLOT 3 Port 1/2` teamed into `ConvergedSwitch(hci)`), physical disks,
//! enclosures, storage nodes and subsystem, VHDs, VMs, the Hyper-V host and volumes, with
//! PowerShell's property names. Get-VirtualDisk and Get-StorageJob are served by `pep`.
//! "The node" of node-local commands is the host the session's endpoint runs on.

use super::storage::{health_rank, storage_node_status};
use super::{CommandError, Invocation, Table};
use crate::stamp::{Node, Stamp};
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
    ("Get-PhysicalDisk", get_physical_disk),
    ("Get-StorageEnclosure", get_storage_enclosure),
    ("Get-StorageNode", get_storage_node),
    ("Get-StorageSubsystem", get_storage_subsystem),
    ("Get-VHD", get_vhd),
    ("Get-VM", get_vm),
    ("Get-VMHost", get_vm_host),
    ("Get-VMSwitch", get_vm_switch),
    ("Get-Volume", get_volume),
];

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const SWITCH: &str = "ConvergedSwitch(hci)";

fn gib(v: f64) -> u64 {
    (v * GIB) as u64
}

/// Any of the patterns matches (no patterns: everything).
fn any_match(patterns: &[String], text: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| wildcard_match(p, text))
}

/// The host this endpoint runs on: the endpoint node if it is a host, else the host of the
/// endpoint VM, else the first host.
fn local_host(stamp: &Stamp) -> Result<&Node, CommandError> {
    let pep = stamp.pep_node();
    stamp
        .host(pep)
        .or_else(|| stamp.vm(pep).and_then(|v| stamp.host(&v.host)))
        .or_else(|| stamp.hosts.first())
        .ok_or_else(|| CommandError("this stamp has no hosts".into()))
}

fn cluster_name(stamp: &Stamp) -> &str {
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
                .with("State", g.state)
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
                .with("State", &h.state)
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
    rows.sort_by(|a, b| a.state.cmp(&b.state).then_with(|| a.name.cmp(&b.name)));
    Ok(rows
        .into_iter()
        .map(|r| {
            Record::new("Microsoft.FailoverClusters.PowerShell.ClusterResource")
                .with("Name", r.name)
                .with("State", r.state)
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
    rows.sort_by(|a, b| a.state.cmp(&b.state).then_with(|| a.name.cmp(&b.name)));
    Ok(rows
        .into_iter()
        .map(|c| {
            Record::new("Microsoft.FailoverClusters.PowerShell.ClusterSharedVolume")
                .with("Name", &c.name)
                .with("State", &c.state)
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
    if host.state == "Down" {
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
                .with("Operational", enabled && host.state != "Down")
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

/// Get-PhysicalDisk [-FriendlyName] [-SerialNumber]: disks by device id.
pub fn get_physical_disk(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let name = inv.args.str("FriendlyName").unwrap_or("*");
    let serial = inv.args.str("SerialNumber");
    Ok(inv
        .stamp()
        .storage
        .physical_disks
        .iter()
        .enumerate()
        .filter(|(_, d)| wildcard_match(name, &d.friendly_name))
        .filter(|(_, d)| serial.is_none_or(|s| d.serial.eq_ignore_ascii_case(s)))
        .map(|(i, d)| {
            Record::new("MSFT_PhysicalDisk")
                .with("DeviceId", (1001 + i).to_string())
                .with("FriendlyName", &d.friendly_name)
                .with("SerialNumber", &d.serial)
                .with("MediaType", &d.media_type)
                .with("Usage", &d.usage)
                .with("OperationalStatus", &d.operational_status)
                .with("HealthStatus", &d.health)
                .with("Size", gib(d.size_gb))
                .into()
        })
        .collect())
}

fn status_of(health: &str) -> &'static str {
    match health {
        "Healthy" => "OK",
        "Warning" => "Degraded",
        _ => "Error",
    }
}

/// Get-StorageEnclosure: enclosures.
pub fn get_storage_enclosure(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    Ok(inv
        .stamp()
        .storage
        .enclosures
        .iter()
        .map(|e| {
            Record::new("MSFT_StorageEnclosure")
                .with("FriendlyName", &e.name)
                .with("HealthStatus", &e.health)
                .with("OperationalStatus", status_of(&e.health))
                .with("NumberOfSlots", e.slots)
                .into()
        })
        .collect())
}

/// Get-StorageNode: hosts as storage nodes, by name.
pub fn get_storage_node(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let s = inv.stamp();
    let domain = &s.stamp.domain_fqdn;
    let mut hosts: Vec<_> = s.hosts.iter().map(|h| h.name.clone()).collect();
    hosts.sort();
    Ok(hosts
        .into_iter()
        .map(|h| {
            Record::new("MSFT_StorageNode")
                .with("Name", format!("{h}.{domain}"))
                .with("OperationalStatus", storage_node_status(s, &h))
                .into()
        })
        .collect())
}

/// Get-StorageSubsystem: the clustered subsystem; its health is the worst of the pool, disks,
/// virtual disks and enclosures.
pub fn get_storage_subsystem(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let s = inv.stamp();
    let st = &s.storage;
    let worst = std::iter::once(st.pool.health.as_str())
        .chain(
            st.physical_disks
                .iter()
                .filter(|d| d.usage != "Retired")
                .map(|d| d.health.as_str()),
        )
        .chain(st.virtual_disks.iter().map(|v| v.health.as_str()))
        .chain(st.enclosures.iter().map(|e| e.health.as_str()))
        .filter(|h| !h.is_empty())
        .min_by_key(|h| health_rank(h))
        .unwrap_or("Healthy");
    Ok(vec![Record::new("MSFT_StorageSubSystem")
        .with(
            "FriendlyName",
            format!("Clustered Windows Storage on {}", cluster_name(s)),
        )
        .with("HealthStatus", worst)
        .with("OperationalStatus", status_of(worst))
        .into()])
}

/// Get-VHD -Path: a managed disk's backing file (fixed VHD) or a VHD(X) file a node holds.
pub fn get_vhd(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let path = inv
        .args
        .str("Path")
        .ok_or_else(|| CommandError("-Path is required".into()))?;
    let s = inv.stamp();
    let lower = path.to_ascii_lowercase();
    let format = if lower.ends_with(".vhdx") {
        "VHDX"
    } else if lower.ends_with(".vhd") {
        "VHD"
    } else {
        return Err(CommandError(format!(
            "'{path}' is not a virtual hard disk file (.vhd or .vhdx)"
        )));
    };
    let rec = |file: u64, size: u64, kind: &str, attached: bool| {
        vec![Record::new("Microsoft.Vhd.PowerShell.VirtualHardDisk")
            .with("Path", path)
            .with("VhdFormat", format)
            .with("VhdType", kind)
            .with("FileSize", file)
            .with("Size", size)
            .with("Attached", attached)
            .into()]
    };
    if let Some(d) = s
        .storage
        .managed_disks
        .iter()
        .find(|d| d.file_path.eq_ignore_ascii_case(path))
    {
        let attached = s
            .compute
            .vms
            .iter()
            .any(|v| v.name == d.attached_to && v.state == "Running");
        return Ok(rec(gib(d.size_gb) + 512, gib(d.size_gb), "Fixed", attached));
    }
    if let Some(f) = s
        .nodes()
        .flat_map(|n| n.files.iter())
        .find(|f| f.path.eq_ignore_ascii_case(path))
    {
        return Ok(rec(
            f.size_bytes,
            f.size_bytes.max(gib(127.0)),
            "Dynamic",
            false,
        ));
    }
    Err(CommandError(format!("no virtual hard disk file '{path}'")))
}

/// Get-VM [-Name]: the cluster's infrastructure and tenant VMs, by name.
pub fn get_vm(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let names = inv.args.strings("Name");
    let s = inv.stamp();
    let mut rows: Vec<Record> = Vec::new();
    for v in s.vms.iter().filter(|v| any_match(&names, &v.name)) {
        let running = v.state == "Running";
        rows.push(
            Record::new("Microsoft.HyperV.PowerShell.VirtualMachine")
                .with("Name", &v.name)
                .with("State", &v.state)
                .with(
                    "CPUUsage",
                    if running {
                        v.cpu_percent.round() as i64
                    } else {
                        0
                    },
                )
                .with(
                    "MemoryAssigned",
                    if running {
                        gib(f64::from(v.memory_gb))
                    } else {
                        0
                    },
                )
                .with(
                    "Uptime",
                    if running {
                        Stamp::uptime(v.boot_time, inv.now)
                    } else {
                        "00:00:00".into()
                    },
                )
                .with("Status", "Operating normally")
                .with("Version", "9.0"),
        );
    }
    for v in s.compute.vms.iter().filter(|v| any_match(&names, &v.name)) {
        let running = v.state == "Running";
        rows.push(
            Record::new("Microsoft.HyperV.PowerShell.VirtualMachine")
                .with("Name", &v.name)
                .with("State", if running { "Running" } else { "Off" })
                .with("CPUUsage", if running { 3i64 } else { 0 })
                .with("MemoryAssigned", if running { gib(7.0) } else { 0 })
                .with("Uptime", if running { "2.04:11:09" } else { "00:00:00" })
                .with("Status", "Operating normally")
                .with("Version", "9.0"),
        );
    }
    rows.sort_by(|a, b| {
        let n = |r: &Record| r.get("Name").map(Value::to_display).unwrap_or_default();
        n(a).cmp(&n(b))
    });
    Ok(rows.into_iter().map(Value::from).collect())
}

/// Get-VMHost: the local host's Hyper-V settings.
pub fn get_vm_host(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let h = local_host(inv.stamp())?;
    Ok(vec![Record::new("Microsoft.HyperV.PowerShell.VMHost")
        .with("Name", &h.name)
        .with("LogicalProcessorCount", h.cpu_cores)
        .with("MemoryCapacity", gib(f64::from(h.memory_gb)))
        .with(
            "VirtualMachinePath",
            "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V",
        )
        .with(
            "VirtualHardDiskPath",
            "C:\\Users\\Public\\Documents\\Hyper-V\\Virtual Hard Disks",
        )
        .with("VirtualMachineMigrationEnabled", true)
        .into()])
}

/// Get-Volume [-FriendlyName]: the local host's volumes, then the CSVs (CSVFS_ReFS).
pub fn get_volume(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let name = inv.args.str("FriendlyName").unwrap_or("*");
    let s = inv.stamp();
    let host = local_host(s)?;
    let mut out = Vec::new();
    for d in host.disks.iter().filter(|d| wildcard_match(name, &d.label)) {
        out.push(
            Record::new("MSFT_Volume")
                .with("DriveLetter", d.drive.trim_end_matches(':'))
                .with("FriendlyName", &d.label)
                .with("FileSystemType", "NTFS")
                .with("HealthStatus", "Healthy")
                .with("OperationalStatus", "OK")
                .with("SizeRemaining", gib(d.free_gb))
                .with("Size", gib(d.size_gb))
                .into(),
        );
    }
    for c in s
        .cluster
        .csvs
        .iter()
        .filter(|c| wildcard_match(name, &c.virtual_disk))
    {
        let health = s
            .storage
            .virtual_disks
            .iter()
            .find(|v| v.name == c.virtual_disk)
            .map_or("Healthy", |v| v.health.as_str());
        let (health, status) = if c.state == "Online" {
            (health, status_of(health))
        } else {
            ("Unhealthy", "Offline")
        };
        out.push(
            Record::new("MSFT_Volume")
                .with("DriveLetter", Value::Null)
                .with("FriendlyName", &c.virtual_disk)
                .with("FileSystemType", "CSVFS_ReFS")
                .with("HealthStatus", health)
                .with("OperationalStatus", status)
                .with("SizeRemaining", gib(c.free_gb))
                .with("Size", gib(c.size_gb))
                .into(),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::testing::prop;
    use super::super::testing::{default_stamp, run_on};
    use super::*;

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
        s.cluster.resources[0].state = "Failed".into();
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

    #[test]
    fn storage_and_compute_views() {
        let mut s = default_stamp();
        let disks = run_on(&mut s, get_physical_disk, &[], false).expect("disks");
        assert_eq!(disks.len(), 24);
        let one = run_on(
            &mut s,
            get_physical_disk,
            &[("SerialNumber", "S400NX0R0000".into())],
            false,
        )
        .expect("one");
        assert_eq!(one.len(), 1);
        assert_eq!(
            run_on(&mut s, get_storage_enclosure, &[], false)
                .expect("e")
                .len(),
            4
        );
        let nodes = run_on(&mut s, get_storage_node, &[], false).expect("nodes");
        assert!(prop(&nodes[0], "Name").starts_with("AZS-HOST01."));
        let sub = run_on(&mut s, get_storage_subsystem, &[], false).expect("sub");
        assert_eq!(prop(&sub[0], "HealthStatus"), "Healthy");
        s.storage.virtual_disks[0].health = "Warning".into();
        let sub = run_on(&mut s, get_storage_subsystem, &[], false).expect("sub");
        assert_eq!(prop(&sub[0], "OperationalStatus"), "Degraded");
        let vms = run_on(&mut s, get_vm, &[], false).expect("vms");
        assert_eq!(vms.len(), 29 + 6);
        assert_eq!(prop(&vms[0], "Name"), "AZS-ACS01");
        let host = run_on(&mut s, get_vm_host, &[], false).expect("host");
        assert_eq!(prop(&host[0], "LogicalProcessorCount"), "64");
        let vols = run_on(&mut s, get_volume, &[], false).expect("vols");
        assert_eq!(vols.len(), 7);
        let path = s.storage.managed_disks[0].file_path.clone();
        let vhd = run_on(&mut s, get_vhd, &[("Path", path.into())], false).expect("vhd");
        assert_eq!(prop(&vhd[0], "VhdFormat"), "VHD");
        assert!(run_on(&mut s, get_vhd, &[("Path", "C:\\x.txt".into())], false).is_err());
    }
}
