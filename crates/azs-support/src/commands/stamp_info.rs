//! Stamp facts: Get-AzsSupportStampInformation and Get-AzsSupportStampVersion.

use super::{CommandError, Invocation};
use crate::value::{Record, Value};

/// Get-AzsSupportStampInformation: the stamp's identity and versions.
pub fn get_stamp_information(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let s = &inv.stamp.scenario.stamp;
    Ok(vec![Record::new("Azs.Support.StampInformation")
        .with("DeploymentID", &s.deployment_id)
        .with("CloudID", &s.cloud_id)
        .with("RegionName", &s.region_name)
        .with("Prefix", &s.prefix)
        .with("DomainFQDN", &s.domain_fqdn)
        .with("ExternalDomainFQDN", &s.external_domain_fqdn)
        .with("NumberOfNodes", inv.stamp.scenario.hosts.len() as u64)
        .with("StampVersion", &s.version)
        .with("OEMVersion", &s.oem_version)
        .with("ServicesVersion", &s.services_version)
        .into()])
}

/// Get-AzsSupportStampVersion: the stamp version as text.
pub fn get_stamp_version(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    Ok(vec![Value::String(
        inv.stamp.scenario.stamp.version.clone(),
    )])
}
