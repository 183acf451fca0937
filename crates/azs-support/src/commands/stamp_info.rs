//! Stamp facts: Get-AzsSupportStampInformation and Get-AzsSupportStampVersion.

use super::{CommandError, Invocation, Table};

/// The commands of this family.
pub const COMMANDS: Table = &[
    ("Get-AzsSupportStampInformation", get_stamp_information),
    ("Get-AzsSupportStampVersion", get_stamp_version),
];
use crate::value::{Record, Value};

/// Get-AzsSupportStampInformation: the stamp's identity and versions.
pub fn get_stamp_information(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let stamp = inv.stamp();
    let s = &stamp.stamp;
    Ok(vec![Record::new("Azs.Support.StampInformation")
        .with("DeploymentID", &s.deployment_id)
        .with("CloudID", &s.cloud_id)
        .with("RegionName", &s.region_name)
        .with("Prefix", &s.prefix)
        .with("DomainFQDN", &s.domain_fqdn)
        .with("ExternalDomainFQDN", &s.external_domain_fqdn)
        .with("NumberOfNodes", stamp.hosts.len() as u64)
        .with("StampVersion", &s.version)
        .with("OEMVersion", &s.oem_version)
        .with("ServicesVersion", &s.services_version)
        .into()])
}

/// Get-AzsSupportStampVersion: the stamp version as text.
pub fn get_stamp_version(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    Ok(vec![Value::String(inv.stamp().stamp.version.clone())])
}
