//! Tenant compute and network: tenant VMs and scale sets from the compute provider, site-to-site
//! connections of tenant gateways, and network (NRP) and SDN resources as JSON documents.

use serde::{Deserialize, Serialize};

/// Tenant compute (`[compute]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Compute {
    /// Tenant VMs.
    #[serde(rename = "vm")]
    pub vms: Vec<TenantVm>,
    /// VM scale sets.
    #[serde(rename = "vmss")]
    pub scale_sets: Vec<ScaleSet>,
}

/// A tenant VM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TenantVm {
    /// Name.
    pub name: String,
    /// Subscription id.
    pub subscription: String,
    /// Resource group.
    pub resource_group: String,
    /// The scale-unit host it runs on.
    pub host: String,
    /// The host it should run on (its preferred owner); empty: any.
    pub preferred_host: String,
    /// `Running`, `Stopped`, `Deallocated`, `Failed`.
    pub state: String,
    /// Size (`Standard_D2_v2`).
    pub size: String,
    /// OS type.
    pub os_type: String,
    /// `Succeeded`, `Failed`, ...
    pub provisioning_state: String,
}

/// A VM scale set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ScaleSet {
    /// Name.
    pub name: String,
    /// Subscription id.
    pub subscription: String,
    /// Resource group.
    pub resource_group: String,
    /// Instances.
    pub capacity: u32,
    /// Size.
    pub size: String,
    /// `Succeeded`, `Failed`, ...
    pub provisioning_state: String,
}

/// Network (`[network]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Network {
    /// Site-to-site connections.
    #[serde(rename = "s2s")]
    pub connections: Vec<S2sConnection>,
    /// Network resource provider resources.
    #[serde(rename = "nrp")]
    pub nrp: Vec<JsonResource>,
    /// SDN (network controller) resources.
    #[serde(rename = "sdn")]
    pub sdn: Vec<JsonResource>,
}

/// A site-to-site connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct S2sConnection {
    /// Name.
    pub name: String,
    /// Subscription id.
    pub subscription: String,
    /// Gateway VM (`AZS-GWY01`).
    pub gateway: String,
    /// Remote peer address.
    pub remote_address: String,
    /// `Connected`, `NotConnected`, `Connecting`.
    pub status: String,
    /// Bytes in.
    pub ingress_bytes: u64,
    /// Bytes out.
    pub egress_bytes: u64,
}

/// A resource as a JSON document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct JsonResource {
    /// Resource type (`virtualNetworks`, `loadBalancers`, `networkInterfaces`, ...).
    pub kind: String,
    /// Resource name (unique within its kind).
    pub name: String,
    /// The document (JSON text).
    pub document: String,
}
