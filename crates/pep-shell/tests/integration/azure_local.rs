//! The Azure Local profile over SSH: `pep serve --profile azure-local` on its own stamp (a
//! four-node cluster, the endpoint on its first node), worked as an operator and a support
//! engineer would — consent on the node, support's commands, access and history, revocation.

use crate::harness::*;
use std::time::Duration;

/// The prompt of the Azure Local stamp: the node the endpoint runs on.
const LOCAL_PROMPT: &str = "[HCI-NODE01]: PS> ";

#[test]
fn azure_local_support_session_end_to_end() {
    // No --scenario: the stamp follows the profile.
    let pep = Pep::start_with(&["--profile", "azure-local"]);
    let op = pep.identity("operator", "olivia");
    let sup = pep.identity("support", "sam");

    // Before consent, support is refused.
    let r = pep.exec(&sup, "Get-ClusterNode");
    assert_eq!(r.status, Some(3), "{r:?}");
    assert_eq!(
        r.stderr.trim(),
        "remote support is not enabled on this endpoint",
        "{r:?}"
    );

    // The operator, on the node, sees the consent commands and grants Diagnostics interactively.
    let r = pep.exec(&op, "Get-Command | Select-Object -ExpandProperty Name");
    assert!(r.ok(), "{r:?}");
    for name in [
        "Enable-RemoteSupport",
        "Set-RemoteSupportAccess",
        "Disable-RemoteSupport",
        "Get-RemoteSupportAccess",
        "Get-RemoteSupportSessionHistory",
    ] {
        assert!(
            r.stdout.lines().any(|l| l.trim() == name),
            "the operator may run {name}: {}",
            r.stdout
        );
    }
    let mut o = pep.pty(&op);
    let banner = o.wait_for(LOCAL_PROMPT, T).expect("operator prompt");
    assert!(
        banner.contains("HCI-NODE01"),
        "banner names the node: {banner:?}"
    );
    o.send(b"Enable-RemoteSupport -AccessLevel Diagnostics -ExpireInMinutes 1440 -SupportRequestId 2611210042\r");
    o.wait_for("[Y] Yes  [N] No  [?] Help (default is \"Y\"): ", T)
        .expect("asks for consent");
    o.send(b"Y\r");
    o.wait_for("Active", T).expect("remote support enabled");
    o.wait_for(LOCAL_PROMPT, T).expect("prompt");
    o.send(b"exit\r");
    assert!(o.wait_exit(T).is_some(), "operator session ends on exit");

    // Support connects to the node and works the cluster with Azure Local commands.
    let mut s = pep.pty(&sup);
    let banner = s.wait_for(LOCAL_PROMPT, T).expect("support prompt");
    assert!(
        banner.contains("HCI-NODE01"),
        "banner names the node: {banner:?}"
    );
    s.send(b"Get-Cluster\r");
    s.wait_for("HCI-CL01", T).expect("the cluster");
    s.wait_for(LOCAL_PROMPT, T).expect("prompt");
    s.send(b"Get-ClusterNode\r");
    let nodes = s.wait_for(LOCAL_PROMPT, T).expect("nodes");
    for n in ["HCI-NODE01", "HCI-NODE02", "HCI-NODE03", "HCI-NODE04"] {
        assert!(nodes.contains(n), "{n} listed: {nodes}");
    }
    assert!(!nodes.contains("AZS-"), "no Azure Stack Hub nodes: {nodes}");
    s.send(b"Get-AzureStackHCI | Select-Object -ExpandProperty RegistrationStatus\r");
    s.wait_for("Registered", T).expect("registration");
    s.wait_for(LOCAL_PROMPT, T).expect("prompt");
    s.send(b"Get-VirtualDisk | Select-Object FriendlyName,HealthStatus\r");
    let disks = s.wait_for(LOCAL_PROMPT, T).expect("virtual disks");
    assert!(
        disks.contains("UserStorage_1") && disks.contains("Healthy"),
        "{disks}"
    );
    // Support cannot touch consent, and Azs.Support is not served here.
    s.send(b"Disable-RemoteSupport\r");
    s.wait_for("not recognized", T).expect("refused");
    s.wait_for(LOCAL_PROMPT, T).expect("prompt");
    s.send(b"Get-AzsSupportClusterNode\r");
    s.wait_for("not recognized", T).expect("not served");
    s.wait_for(LOCAL_PROMPT, T).expect("prompt");

    // The operator lists the access and the session history while support is connected.
    let r = pep.exec(
        &op,
        "Get-RemoteSupportAccess -IncludeExpired | Select-Object State,AccessLevel,SupportRequestId | Format-List",
    );
    assert!(r.ok(), "{r:?}");
    assert!(
        r.stdout.contains("Active")
            && r.stdout.contains("Diagnostics")
            && r.stdout.contains("2611210042"),
        "{}",
        r.stdout
    );
    let r = pep.exec(&op, "Set-RemoteSupportAccess -ExpireInMinutes 120");
    assert!(r.ok() && r.stdout.contains("Active"), "{r:?}");
    let r = pep.exec(&op, "Get-RemoteSupportSessionHistory | ConvertTo-Json");
    assert!(r.ok(), "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    let live: Vec<&serde_json::Value> = v
        .as_array()
        .expect("array of sessions")
        .iter()
        .filter(|x| x["Identity"] == "sam" && x["AccessLevel"] == "Diagnostics")
        .collect();
    assert_eq!(live.len(), 1, "sam's session under the grant: {v}");
    assert!(live[0]["SessionEndTime"].is_null(), "still connected: {v}");
    let id = live[0]["SessionId"]
        .as_str()
        .expect("session id")
        .to_string();

    // Revoking cuts support off at once; new sessions are refused.
    let r = pep.exec(&op, "Disable-RemoteSupport");
    assert!(r.ok() && r.stdout.contains("Revoked"), "{r:?}");
    let st = s
        .wait_exit(Duration::from_secs(5))
        .expect("support session ended");
    assert!(!st.success());
    assert!(s.output().contains("consent was revoked"), "{}", s.output());
    let r = pep.exec(&sup, "Get-ClusterNode");
    assert_eq!(
        r.stderr.trim(),
        "remote support is not enabled on this endpoint",
        "{r:?}"
    );

    // Afterwards the operator reviews the grant and what support ran.
    let r = pep.exec(
        &op,
        "Get-RemoteSupportAccess -IncludeExpired | Select-Object -ExpandProperty State",
    );
    assert_eq!(r.stdout.trim(), "Revoked", "{r:?}");
    let r = pep.exec(
        &op,
        &format!("Get-RemoteSupportSessionHistory -SessionId {id} -IncludeSessionTranscript"),
    );
    assert!(r.ok(), "{r:?}");
    for ran in [
        "PS>CommandInvocation(Get-Cluster)",
        "PS>CommandInvocation(Get-ClusterNode)",
        "PS>CommandInvocation(Get-VirtualDisk)",
    ] {
        assert!(r.stdout.contains(ran), "{ran} in {}", r.stdout);
    }
    assert!(r.stdout.contains("Identity: sam"), "{}", r.stdout);
}
