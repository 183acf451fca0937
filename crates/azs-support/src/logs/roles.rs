//! Log roles: which infrastructure roles' logs a node carries, and which files each role writes.
//!
//! `Get-AzureStackLog -FilterByRole` names *log roles* (ACS, ECE, SeedRing, ...: the names of its
//! validate set, `catalog/privileged-endpoint.toml`), not the node roles of the stamp's VMs
//! (`ERCS`, `ACS`, `SeedRingServices`, ...). [`NODE_ROLES`] maps one to the other: an ERCS VM
//! carries the ECE and SupportBridgeController logs, a FabricRing VM the logs of every resource
//! provider on the ring. [`ROLE_FILES`] gives each log role its files, each drawing its text from
//! one of the samples shipped in `scenarios/logs/` (see its NOTICE.md) at its own rate.
//!
//! Two deviations from the list, both because a log role must be a name `-FilterByRole`
//! accepts: a host's cluster log travels with its `BareMetal` logs (there is no `Cluster` role),
//! and a VM of a node role not listed here (a workload VM of Azure Local) carries
//! `VirtualMachines` logs. Test-AzureStack's output travels in the SeedRing logs, as in the real
//! product, but is not generated here: a scenario plants it when a case needs it.

use crate::stamp::{Node, Stamp};

/// One log file a role writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleFile {
    /// File name inside the node's folder of the role's bundle.
    pub file: &'static str,
    /// The shipped sample (`scenarios/logs/<sample>.log`) its text is drawn from.
    pub sample: &'static str,
    /// How many lines it writes per hour.
    pub lines_per_hour: u32,
}

const fn f(file: &'static str, sample: &'static str, lines_per_hour: u32) -> RoleFile {
    RoleFile {
        file,
        sample,
        lines_per_hour,
    }
}

/// The log roles each node role carries (node roles compared case-insensitively).
pub const NODE_ROLES: &[(&str, &[&str])] = &[
    ("ERCS", &["ECE", "SupportBridgeController"]),
    (
        "ACS",
        &[
            "ACS",
            "ACSBlob",
            "ACSFrontEnd",
            "ACSTableMaster",
            "ACSTableServer",
        ],
    ),
    ("SeedRingServices", &["SeedRing", "SeedRingServices"]),
    (
        "FabricRing",
        &[
            "FabricRing",
            "FabricRingServices",
            "FRP",
            "HRP",
            "CRP",
            "NRP",
            "SRP",
            "URP",
        ],
    ),
    ("NC", &["NC"]),
    ("SLB", &["SLB", "SlbVips"]),
    ("Gateway", &["Gateway"]),
    ("ADFS", &["ADFS"]),
    ("WAS", &["WAS", "WASPUBLIC"]),
    ("WASPUBLIC", &["WAS", "WASPUBLIC"]),
    ("SQL", &["SQL"]),
    ("CA", &["CA"]),
    ("Domain", &["Domain"]),
    ("BareMetal", &["BareMetal", "Compute", "Storage"]),
];

/// The log roles of a host whose node role is not listed.
const HOST_FALLBACK: &[&str] = &["BareMetal", "Compute", "Storage"];
/// The log roles of a VM whose node role is not listed.
const VM_FALLBACK: &[&str] = &["VirtualMachines"];

/// Every log role's files.
pub const ROLE_FILES: &[(&str, &[RoleFile])] = &[
    (
        "ECE",
        &[
            f("EceAgent.log", "hadoop", 360),
            f("CloudDeployment.log", "hadoop", 60),
        ],
    ),
    (
        "SupportBridgeController",
        &[f("SupportBridgeController.log", "apache", 60)],
    ),
    ("ACS", &[f("AcsSetup.log", "hdfs", 30)]),
    ("ACSBlob", &[f("BlobSvc.log", "hdfs", 360)]),
    ("ACSFrontEnd", &[f("FrontEnd.log", "hdfs", 240)]),
    ("ACSTableMaster", &[f("TableMaster.log", "hdfs", 60)]),
    ("ACSTableServer", &[f("TableServer.log", "hdfs", 240)]),
    ("SeedRing", &[f("SeedRing.Fabric.log", "zookeeper", 120)]),
    (
        "SeedRingServices",
        &[f("SeedRingServices.log", "zookeeper", 120)],
    ),
    (
        "FabricRing",
        &[f("FabricRing.Fabric.log", "zookeeper", 120)],
    ),
    (
        "FabricRingServices",
        &[f("FabricRingServices.log", "spark", 120)],
    ),
    ("FRP", &[f("FabricResourceProvider.log", "openstack", 120)]),
    ("HRP", &[f("HealthResourceProvider.log", "openstack", 120)]),
    ("CRP", &[f("ComputeResourceProvider.log", "openstack", 240)]),
    ("NRP", &[f("NetworkResourceProvider.log", "openstack", 120)]),
    ("SRP", &[f("StorageResourceProvider.log", "openstack", 120)]),
    ("URP", &[f("UpdateResourceProvider.log", "openstack", 60)]),
    ("NC", &[f("NetworkController.log", "linux-syslog", 240)]),
    ("SLB", &[f("SlbManager.log", "spark", 120)]),
    ("SlbVips", &[f("SlbVips.log", "linux-syslog", 60)]),
    ("Gateway", &[f("GatewayService.log", "linux-syslog", 120)]),
    ("ADFS", &[f("AdfsAdmin.log", "openssh", 180)]),
    ("WAS", &[f("AdminPortal.log", "apache", 120)]),
    ("WASPUBLIC", &[f("TenantPortal.log", "apache", 120)]),
    ("SQL", &[f("SqlErrorLog.log", "spark", 60)]),
    ("CA", &[f("CertSrv.log", "linux-syslog", 30)]),
    ("Domain", &[f("Netlogon.log", "linux-syslog", 120)]),
    (
        "BareMetal",
        &[f("BareMetal.Servicing.log", "windows-cbs", 120)],
    ),
    ("Compute", &[f("HyperV.Compute.log", "openstack", 120)]),
    ("Storage", &[f("StorageSpaces.log", "hdfs", 120)]),
    (
        "VirtualMachines",
        &[f("VirtualMachine.log", "linux-syslog", 60)],
    ),
];

/// The log roles `node` carries, its primary role first (the one its event log and real log
/// folder travel with).
pub fn node_log_roles(node: &Node) -> &'static [&'static str] {
    // A real machine's logs are its own folders' (`Linux`), never generated.
    if node.real {
        return &["Linux"];
    }
    NODE_ROLES
        .iter()
        .find(|(r, _)| r.eq_ignore_ascii_case(&node.role))
        .map(|(_, roles)| *roles)
        .unwrap_or(if node.host.is_empty() {
            HOST_FALLBACK
        } else {
            VM_FALLBACK
        })
}

/// The files a log role writes (empty for a name not in [`ROLE_FILES`]).
pub fn role_files(role: &str) -> &'static [RoleFile] {
    ROLE_FILES
        .iter()
        .find(|(r, _)| *r == role)
        .map_or(&[], |(_, files)| *files)
}

/// The log roles this stamp has, sorted.
pub fn log_roles(stamp: &Stamp) -> Vec<String> {
    let mut out: Vec<String> = stamp
        .nodes()
        .flat_map(|n| node_log_roles(n).iter().map(|r| r.to_string()))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate_set() -> Vec<String> {
        crate::catalog::all_embedded_commands()
            .expect("catalog")
            .into_iter()
            .find(|c| c.name == "Get-AzureStackLog")
            .and_then(|c| c.param("FilterByRole").map(|p| p.validate_set.clone()))
            .expect("Get-AzureStackLog -FilterByRole")
    }

    #[test]
    fn every_log_role_is_a_filter_by_role_name_with_files_from_a_shipped_sample() {
        let set = validate_set();
        let samples: Vec<&str> = crate::stamp::events::LOGS
            .iter()
            .filter_map(|(n, _)| n.strip_suffix(".log"))
            .collect();
        let carried = NODE_ROLES
            .iter()
            .flat_map(|(_, r)| r.iter())
            .chain(HOST_FALLBACK)
            .chain(VM_FALLBACK);
        for role in carried {
            assert!(
                set.iter().any(|s| s == role),
                "{role} not in the validate set"
            );
            assert!(!role_files(role).is_empty(), "{role} writes no file");
        }
        for (role, files) in ROLE_FILES {
            assert!(set.iter().any(|s| s == role), "{role}");
            for file in *files {
                assert!(samples.contains(&file.sample), "{role}: {}", file.sample);
                assert!(file.lines_per_hour > 0 && file.lines_per_hour <= 3600);
            }
        }
    }

    #[test]
    fn the_default_stamp_has_the_roles_of_its_vms_and_hosts() {
        let stamp = Stamp::default_stamp().expect("default");
        let roles = log_roles(&stamp);
        for r in [
            "ACS",
            "ACSBlob",
            "ADFS",
            "BareMetal",
            "CA",
            "CRP",
            "Domain",
            "ECE",
            "FabricRing",
            "Gateway",
            "NC",
            "SLB",
            "SQL",
            "SeedRing",
            "Storage",
            "SupportBridgeController",
            "WAS",
            "WASPUBLIC",
        ] {
            assert!(roles.iter().any(|x| x == r), "{r} missing from {roles:?}");
        }
        assert!(roles.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
        assert!(!roles.iter().any(|r| r == "VirtualMachines"));
        let ercs = stamp.vm("AZS-ERCS01").expect("ERCS");
        assert_eq!(node_log_roles(ercs)[0], "ECE");
    }
}
