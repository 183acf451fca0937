//! Network commands: site-to-site connections of tenant gateways, the SDN diagnostic (checks the
//! NRP and SDN documents, gateway, network controller and MUX VMs, host agents and connections,
//! and collects the documents and findings into the working directory), and the repairs
//! Invoke-AzsSupportNrpResourceRequest / Invoke-AzsSupportSdnResourceRequest (GET a resource
//! document; PUT replaces it, or re-drives a failed provisioning).

use super::cluster::require_hosts;
use super::{CommandError, Invocation, Table};
use crate::stamp::health::document_states;
use crate::stamp::{JsonResource, NodeState, ServiceState, Stamp};
use crate::value::{Record, Value};
use crate::wildcard::wildcard_match;
use chrono::Duration;

/// The commands of this family.
pub const COMMANDS: Table = &[
    (
        "Get-AzsSupportS2SConnectionInformation",
        get_s2s_connection_information,
    ),
    ("Start-AzsSupportSdnDiagnostic", start_sdn_diagnostic),
    ("Invoke-AzsSupportNrpResourceRequest", invoke_nrp_request),
    ("Invoke-AzsSupportSdnResourceRequest", invoke_sdn_request),
];

/// Largest accepted PUT body.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Get-AzsSupportS2SConnectionInformation [-SubscriptionId] [-Name]: connections by status, then
/// name. The last state change is the gateway VM's last boot.
pub fn get_s2s_connection_information(
    inv: &mut Invocation<'_>,
) -> Result<Vec<Value>, CommandError> {
    let sub = inv.args.str("SubscriptionId");
    let name = inv.args.str("Name").unwrap_or("*");
    let stamp = inv.stamp();
    let mut rows: Vec<_> = stamp
        .network
        .connections
        .iter()
        .filter(|c| sub.is_none_or(|s| s.eq_ignore_ascii_case(&c.subscription)))
        .filter(|c| wildcard_match(name, &c.name))
        .collect();
    rows.sort_by(|a, b| a.status.cmp(&b.status).then_with(|| a.name.cmp(&b.name)));
    Ok(rows
        .into_iter()
        .map(|c| {
            let changed = stamp
                .vm(&c.gateway)
                .map(|v| Value::from(v.boot_time))
                .unwrap_or(Value::Null);
            Record::new("Azs.Support.S2SConnection")
                .with("SubscriptionId", &c.subscription)
                .with("Name", &c.name)
                .with("ConnectionStatus", &c.status)
                .with("GatewayVM", &c.gateway)
                .with("IngressBytes", c.ingress_bytes)
                .with("EgressBytes", c.egress_bytes)
                .with("LastStateChange", changed)
                .into()
        })
        .collect())
}

/// A finding: check name, result (`Fail` sorts before `Pass`), details.
type Finding = (String, &'static str, String);

fn finding(check: &str, problems: Vec<String>, ok: String) -> Finding {
    if problems.is_empty() {
        (check.to_string(), "Pass", ok)
    } else {
        (check.to_string(), "Fail", problems.join("; "))
    }
}

/// Checks one class of JSON documents.
fn document_findings(check: &str, docs: &[JsonResource]) -> Vec<Finding> {
    let mut prov = Vec::new();
    let mut conf = Vec::new();
    // The health model's judgement (`stamp::health`), as NetworkResourceHealth judges.
    for d in docs {
        if let Some(p) = d.provisioning_problem() {
            prov.push(format!("{}/{}: {p}", d.kind, d.name));
        }
        if let Some(c) = d.configuration_problem() {
            conf.push(format!("{}/{}: {c}", d.kind, d.name));
        }
    }
    vec![
        finding(
            &format!("{check} provisioning state"),
            prov,
            format!("{} resources Succeeded", docs.len()),
        ),
        finding(
            &format!("{check} configuration state"),
            conf,
            "no configuration failures".into(),
        ),
    ]
}

/// VMs of a role are Running and the named service on each is Running.
fn role_findings(stamp: &Stamp, check: &str, role: &str, service: Option<&str>) -> Finding {
    let mut problems = Vec::new();
    let vms: Vec<_> = stamp.vms.iter().filter(|v| v.role == role).collect();
    for v in &vms {
        if v.state != NodeState::Running {
            problems.push(format!("{} is {}", v.name, v.state));
            continue;
        }
        if let Some(svc) = service {
            match v.services.iter().find(|s| s.name.eq_ignore_ascii_case(svc)) {
                Some(s) if s.state == ServiceState::Running => {}
                Some(s) => problems.push(format!("{svc} on {} is {}", v.name, s.state)),
                None => problems.push(format!("{svc} is missing on {}", v.name)),
            }
        }
    }
    let what = service
        .map(|s| format!(", {s} Running"))
        .unwrap_or_default();
    finding(check, problems, format!("{} VMs Running{what}", vms.len()))
}

/// Start-AzsSupportSdnDiagnostic [-ComputerName] [-FromDate] [-ToDate]: runs the checks, writes
/// the documents, the gateway and controller events of the window and the findings into a new
/// folder of the working directory, and returns one record per check.
pub fn start_sdn_diagnostic(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let wanted = inv.args.strings("ComputerName");
    let stamp = inv.stamp();
    require_hosts(stamp, &wanted)?;
    let to = inv.args.datetime("ToDate").unwrap_or(inv.now);
    let from = inv
        .args
        .datetime("FromDate")
        .unwrap_or(to - Duration::hours(4));
    if from > to {
        return Err(CommandError("-FromDate is after -ToDate".into()));
    }
    let net = &stamp.network;
    let mut findings = document_findings("NRP", &net.nrp);
    findings.extend(document_findings("SDN", &net.sdn));
    findings.push(role_findings(
        stamp,
        "Gateway VMs and GatewayService",
        "Gateway",
        Some("GatewayService"),
    ));
    findings.push(role_findings(
        stamp,
        "Network controller VMs",
        "NC",
        Some("NetworkController"),
    ));
    findings.push(role_findings(
        stamp,
        "Load balancer MUX VMs",
        "SLB",
        Some("SlbMux"),
    ));
    let hosts: Vec<_> = stamp
        .hosts
        .iter()
        .filter(|h| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(&h.name)))
        .collect();
    // A host's network controller agents: the host Up and, where it lists them, NcHostAgent
    // and SlbHostAgent Running.
    findings.push(finding(
        "Host agents",
        hosts
            .iter()
            .flat_map(|h| {
                let mut why = Vec::new();
                if h.state != NodeState::Up {
                    why.push(format!("{} is {}", h.name, h.state));
                }
                for s in h.services.iter().filter(|s| {
                    ["NcHostAgent", "SlbHostAgent"]
                        .iter()
                        .any(|a| s.name.eq_ignore_ascii_case(a))
                        && s.state != ServiceState::Running
                }) {
                    why.push(format!("{} on {} is {}", s.name, h.name, s.state));
                }
                why
            })
            .collect(),
        format!("{} hosts Up, their host agents Running", hosts.len()),
    ));
    findings.push(finding(
        "S2S connections",
        net.connections
            .iter()
            .filter(|c| c.status != "Connected")
            .map(|c| format!("{} (gateway {}) is {}", c.name, c.gateway, c.status))
            .collect(),
        format!("{} connections Connected", net.connections.len()),
    ));
    findings.sort_by(|a, b| a.1.cmp(b.1).then_with(|| a.0.cmp(&b.0)));

    // Collection: one folder per run.
    let dir = format!("SdnDiagnostics_{}", inv.now.format("%Y%m%d-%H%M%S"));
    let dir = (0..1000)
        .map(|i| {
            if i == 0 {
                dir.clone()
            } else {
                format!("{dir}_{i}")
            }
        })
        .find(|d| inv.workdir.resolve(d).map(|p| !p.exists()).unwrap_or(false))
        .ok_or_else(|| CommandError("no free folder name for the collection".into()))?;
    for (class, docs) in [("nrp", &net.nrp), ("sdn", &net.sdn)] {
        for d in docs {
            let base = format!("{dir}/{class}-{}-{}", d.kind, d.name);
            inv.workdir
                .write_unique(&base, "json", inv.now, d.document.as_bytes())?;
        }
    }
    let mut events = String::new();
    for vm in stamp
        .vms
        .iter()
        .filter(|v| ["Gateway", "NC", "SLB"].contains(&v.role.as_str()))
    {
        let mut evs = vm.events.clone();
        evs.extend(crate::stamp::events::source_events(
            &vm.event_source,
            stamp.node_index(&vm.name),
            inv.now,
        ));
        evs.retain(|e| e.time >= from && e.time <= to);
        evs.sort_by_key(|e| e.time);
        for e in evs {
            events.push_str(&format!(
                "{} {} {} {} {}: {}\n",
                vm.name,
                e.time.to_rfc3339(),
                e.level,
                e.id,
                e.provider,
                e.message.replace(['\r', '\n'], " ")
            ));
        }
    }
    inv.workdir
        .write_unique(&format!("{dir}/events"), "log", inv.now, events.as_bytes())?;
    let report: String = findings
        .iter()
        .map(|(c, r, d)| format!("{r}\t{c}\t{d}\n"))
        .collect();
    let path = inv.workdir.write_unique(
        &format!("{dir}/findings"),
        "txt",
        inv.now,
        report.as_bytes(),
    )?;
    let folder = path
        .parent()
        .map(|p| inv.workdir.shown(p))
        .unwrap_or_default();
    Ok(findings
        .into_iter()
        .map(|(c, r, d)| {
            Record::new("Azs.Support.DiagnosticResult")
                .with("Check", c)
                .with("Result", r)
                .with("Details", d)
                .with("ReportPath", &folder)
                .into()
        })
        .collect())
}

/// A short stable etag of a document.
fn etag(doc: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in doc.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("W/\"{h:016x}\"")
}

/// Index of the resource of `kind`/`name` in `docs`; an unknown kind or name is an error naming
/// what exists.
fn find_doc(
    docs: &[JsonResource],
    what: &str,
    kind: &str,
    name: &str,
) -> Result<usize, CommandError> {
    if !docs.iter().any(|d| d.kind.eq_ignore_ascii_case(kind)) {
        let mut kinds: Vec<&str> = docs.iter().map(|d| d.kind.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        return Err(CommandError(format!(
            "no {what} resource type '{kind}' (types: {})",
            kinds.join(", ")
        )));
    }
    docs.iter()
        .position(|d| d.kind.eq_ignore_ascii_case(kind) && d.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            CommandError(format!(
                "no {what} resource {kind}/{name} (names: {})",
                docs.iter()
                    .filter(|d| d.kind.eq_ignore_ascii_case(kind))
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// The document a PUT stores: `-Body` validated as a JSON object, or the current document with a
/// failed provisioning re-driven to Succeeded.
fn put_document(inv: &Invocation<'_>, current: &str) -> Result<String, CommandError> {
    match inv.args.str("Body") {
        Some(body) => {
            if body.len() > MAX_BODY_BYTES {
                return Err(CommandError(format!(
                    "-Body is {} bytes; the limit is {MAX_BODY_BYTES}",
                    body.len()
                )));
            }
            let v: serde_json::Value = serde_json::from_str(body)
                .map_err(|e| CommandError(format!("-Body is not valid JSON: {e}")))?;
            if !v.is_object() {
                return Err(CommandError("-Body must be a JSON object".into()));
            }
            serde_json::to_string(&v).map_err(|e| CommandError(e.to_string()))
        }
        None => {
            let mut v: serde_json::Value = serde_json::from_str(current).map_err(|e| {
                CommandError(format!(
                    "the current document is not valid JSON ({e}); PUT a -Body"
                ))
            })?;
            if let Some(p) = v.get_mut("properties").and_then(|p| p.as_object_mut()) {
                if p.get("provisioningState").and_then(|s| s.as_str()) == Some("Failed") {
                    p.insert("provisioningState".into(), "Succeeded".into());
                }
                if let Some(c) = p
                    .get_mut("configurationState")
                    .and_then(|c| c.as_object_mut())
                {
                    if c.get("status").and_then(|s| s.as_str()) == Some("Failure") {
                        c.insert("status".into(), "Success".into());
                    }
                }
            }
            serde_json::to_string(&v).map_err(|e| CommandError(e.to_string()))
        }
    }
}

/// Which store a request targets.
#[derive(Clone, Copy)]
enum Api {
    Nrp,
    Sdn,
}

fn docs_of(stamp: &Stamp, api: Api) -> &[JsonResource] {
    match api {
        Api::Nrp => &stamp.network.nrp,
        Api::Sdn => &stamp.network.sdn,
    }
}

/// GET or PUT of one document; returns (index, the document after the request).
fn request(
    inv: &mut Invocation<'_>,
    api: Api,
    target: &str,
    kind: &str,
    name: &str,
) -> Result<Option<String>, CommandError> {
    let what = match api {
        Api::Nrp => "network resource provider",
        Api::Sdn => "network controller",
    };
    let i = find_doc(docs_of(inv.stamp(), api), what, kind, name)?;
    let current = docs_of(inv.stamp(), api)[i].document.clone();
    let method = inv.args.str("Method").unwrap_or("GET").to_ascii_uppercase();
    if method != "PUT" {
        if inv.args.has("Body") {
            return Err(CommandError("-Body is only used with -Method PUT".into()));
        }
        return Ok(Some(current));
    }
    let new_doc = put_document(inv, &current)?;
    if !inv.should_process(target, "PUT resource document") {
        return Ok(None);
    }
    let stamp = inv.stamp_mut()?;
    let docs = match api {
        Api::Nrp => &mut stamp.network.nrp,
        Api::Sdn => &mut stamp.network.sdn,
    };
    docs[i].document = new_doc.clone();
    Ok(Some(new_doc))
}

/// The last two segments of a resource path: (kind, name).
fn kind_and_name(path: &str) -> Option<(String, String)> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        [.., kind, name] => Some((kind.to_string(), name.to_string())),
        _ => None,
    }
}

/// Invoke-AzsSupportNrpResourceRequest -ResourceId [-Method GET|PUT] [-Body].
pub fn invoke_nrp_request(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let id = inv.args.str("ResourceId").unwrap_or_default().to_string();
    let lower = id.to_ascii_lowercase();
    if !lower.contains("/providers/microsoft.network/") {
        return Err(CommandError(format!(
            "'{id}' is not a Microsoft.Network resource id (/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Network/<type>/<name>)"
        )));
    }
    let (kind, name) = kind_and_name(&id)
        .ok_or_else(|| CommandError(format!("'{id}' names no resource type and name")))?;
    let Some(doc) = request(inv, Api::Nrp, &id, &kind, &name)? else {
        return Ok(vec![]);
    };
    let v: serde_json::Value = serde_json::from_str(&doc).unwrap_or(serde_json::Value::Null);
    let (prov, _) = document_states(&v);
    Ok(vec![Record::new("Azs.Support.NetworkResource")
        .with("ResourceId", &id)
        .with("ProvisioningState", prov)
        .with("Etag", etag(&doc))
        .with("Properties", v["properties"].to_string())
        .with("Document", doc.clone())
        .into()])
}

/// Invoke-AzsSupportSdnResourceRequest -ResourceRef [-Method GET|PUT] [-Body].
pub fn invoke_sdn_request(inv: &mut Invocation<'_>) -> Result<Vec<Value>, CommandError> {
    let rref = inv.args.str("ResourceRef").unwrap_or_default().to_string();
    let (kind, name) = kind_and_name(&rref).ok_or_else(|| {
        CommandError(format!(
            "'{rref}' names no resource type and name (/<type>/<name>)"
        ))
    })?;
    let Some(doc) = request(inv, Api::Sdn, &rref, &kind, &name)? else {
        return Ok(vec![]);
    };
    let v: serde_json::Value = serde_json::from_str(&doc).unwrap_or(serde_json::Value::Null);
    let (prov, conf) = document_states(&v);
    Ok(vec![Record::new("Azs.Support.NetworkResource")
        .with("ResourceRef", &rref)
        .with("ProvisioningState", prov)
        .with("ConfigurationState", conf)
        .with("Etag", etag(&doc))
        .with("Document", doc.clone())
        .into()])
}

#[cfg(test)]
mod tests {
    use super::super::testing::{default_stamp, run_on, what_if};

    use super::*;

    const VNET: &str = "/subscriptions/7c0e5a1b-2f4d-4c3a-9b8e-6d1f2a3b4c5d/resourceGroups/rg-app0/providers/Microsoft.Network/virtualNetworks/vnet-app";

    use super::super::testing::prop;

    #[test]
    fn s2s_sorted_by_status_then_name() {
        let mut s = default_stamp();
        s.network.connections[0].status = "NotConnected".into();
        let rows = run_on(&mut s, get_s2s_connection_information, &[], false).expect("s2s");
        assert_eq!(rows.len(), 2);
        assert_eq!(prop(&rows[0], "ConnectionStatus"), "Connected");
        assert_eq!(prop(&rows[1], "Name"), "contoso-hq");
        let one = run_on(
            &mut s,
            get_s2s_connection_information,
            &[("Name", "*branch".into())],
            false,
        )
        .expect("one");
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn sdn_diagnostic_passes_on_healthy_stamp_and_finds_faults() {
        let mut s = default_stamp();
        let rows = run_on(&mut s, start_sdn_diagnostic, &[], false).expect("diag");
        assert!(rows.iter().all(|r| prop(r, "Result") == "Pass"), "{rows:?}");
        assert!(prop(&rows[0], "ReportPath").contains("SdnDiagnostics_"));
        let gwy = s.node_mut("AZS-GWY01").expect("gwy");
        if let Some(svc) = gwy.services.iter_mut().find(|x| x.name == "GatewayService") {
            svc.state = ServiceState::Stopped;
        }
        s.network.connections[0].status = "NotConnected".into();
        s.network.nrp[0].document =
            r#"{"name":"vnet-app","properties":{"provisioningState":"Failed"}}"#.into();
        let rows = run_on(&mut s, start_sdn_diagnostic, &[], false).expect("diag");
        let failed: Vec<_> = rows
            .iter()
            .filter(|r| prop(r, "Result") == "Fail")
            .map(|r| prop(r, "Details"))
            .collect();
        assert_eq!(failed.len(), 3, "{failed:?}");
        assert_eq!(prop(&rows[0], "Result"), "Fail");
        assert!(failed.iter().any(|d| d.contains("contoso-hq")));
        assert!(failed
            .iter()
            .any(|d| d.contains("GatewayService on AZS-GWY01")));
    }

    #[test]
    fn nrp_get_and_refusals() {
        let mut s = default_stamp();
        let out = run_on(
            &mut s,
            invoke_nrp_request,
            &[("ResourceId", VNET.into())],
            false,
        )
        .expect("get");
        assert_eq!(prop(&out[0], "ProvisioningState"), "Succeeded");
        assert!(prop(&out[0], "Document").contains("10.10.0.0/16"));
        let bad_kind = VNET.replace("virtualNetworks", "routeTables");
        let err = run_on(
            &mut s,
            invoke_nrp_request,
            &[("ResourceId", bad_kind.into())],
            false,
        )
        .expect_err("kind");
        assert!(err.0.contains("virtualNetworks"));
        let bad_name = VNET.replace("vnet-app", "vnet-x");
        let err = run_on(
            &mut s,
            invoke_nrp_request,
            &[("ResourceId", bad_name.into())],
            false,
        )
        .expect_err("name");
        assert!(err.0.contains("vnet-app"));
    }

    #[test]
    fn nrp_put_replaces_or_redrives() {
        let mut s = default_stamp();
        let put = |body: Option<&str>| {
            let mut a = vec![("ResourceId", Value::from(VNET)), ("Method", "PUT".into())];
            if let Some(b) = body {
                a.push(("Body", b.into()));
            }
            a
        };
        let err = run_on(&mut s, invoke_nrp_request, &put(Some("{not json}")), true)
            .expect_err("invalid");
        assert!(err.0.contains("not valid JSON"));
        assert!(run_on(&mut s, invoke_nrp_request, &put(Some("[1]")), true).is_err());
        let body = r#"{"name":"vnet-app","properties":{"provisioningState":"Failed"}}"#;
        run_on(&mut s, invoke_nrp_request, &put(Some(body)), true).expect("put");
        assert!(s.network.nrp[0].document.contains("Failed"));
        let out = run_on(&mut s, invoke_nrp_request, &put(None), true).expect("redrive");
        assert_eq!(prop(&out[0], "ProvisioningState"), "Succeeded");
        assert!(s.network.nrp[0].document.contains("Succeeded"));
    }

    #[test]
    fn sdn_get_put_and_whatif() {
        let mut s = default_stamp();
        let out = run_on(
            &mut s,
            invoke_sdn_request,
            &[("ResourceRef", "/servers/AZS-HOST01".into())],
            false,
        )
        .expect("get");
        assert_eq!(prop(&out[0], "ConfigurationState"), "Success");
        assert!(run_on(
            &mut s,
            invoke_sdn_request,
            &[("ResourceRef", "/servers/AZS-HOST09".into())],
            false
        )
        .is_err());
        let before = s.clone();
        let args = [
            ("ResourceRef", "/logicalNetworks/PublicVIP".into()),
            ("Method", "PUT".into()),
            (
                "Body",
                r#"{"resourceId":"PublicVIP","properties":{}}"#.into(),
            ),
        ];
        assert!(what_if(&mut s, invoke_sdn_request, &args).is_empty());
        assert_eq!(s, before);
    }

    #[test]
    fn sdn_diagnostic_sees_a_stopped_host_agent() {
        let mut s = default_stamp();
        let host = s.hosts[2].name.clone();
        s.hosts[2].services.push(crate::stamp::Service {
            name: "NcHostAgent".into(),
            display_name: "NC Host Agent".into(),
            state: ServiceState::Stopped,
            ..crate::stamp::Service::default()
        });
        let rows = run_on(&mut s, start_sdn_diagnostic, &[], false).expect("diag");
        let agents = rows
            .iter()
            .find(|r| prop(r, "Check") == "Host agents")
            .expect("host agents row");
        assert_eq!(prop(agents, "Result"), "Fail");
        assert!(prop(agents, "Details").contains(&format!("NcHostAgent on {host} is Stopped")));
    }
}
