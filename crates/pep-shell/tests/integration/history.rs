//! Transcripts and session history: every session is transcribed with its bindings and refusals,
//! and the operator can list sessions and read a transcript.

use crate::harness::*;

#[test]
fn history_lists_sessions_and_shows_transcripts() {
    let pep = Pep::start();
    let (op, sup) = pep.granted("Diagnostics");
    let r = pep.exec(
        &sup,
        "Get-AzsSupportClusterResource -State Online | Select-Object -First 1",
    );
    assert!(r.ok(), "{r:?}");
    let r = pep.exec(&sup, "Get-AzsSupportStampVersion; touch /tmp/PWNED");
    assert_eq!(r.status, Some(2));

    let r = pep.exec(&op, "Get-RemoteSupportSessionHistory | ConvertTo-Json");
    assert!(r.ok(), "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    let sessions = v.as_array().expect("array of sessions");
    let sam: Vec<&serde_json::Value> = sessions.iter().filter(|s| s["Identity"] == "sam").collect();
    assert_eq!(sam.len(), 2, "{v}");
    for s in &sam {
        for k in [
            "SessionId",
            "SessionStartTime",
            "SessionEndTime",
            "AccessLevel",
            "TranscriptLocation",
        ] {
            assert!(!s[k].is_null(), "{k} in {s}");
        }
        assert_eq!(s["AccessLevel"], "Diagnostics");
    }
    let id = sam[0]["SessionId"].as_str().expect("id");
    let r = pep.exec(
        &op,
        &format!("Get-RemoteSupportSessionHistory -SessionId {id} -IncludeSessionTranscript"),
    );
    assert!(r.ok(), "{r:?}");
    // The transcript is shown as the text it is: its lines, not one escaped string.
    assert!(
        r.stdout
            .lines()
            .any(|l| l == "Identity: sam (SHA256:" || l.starts_with("Identity: sam (SHA256:")),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("\\x0a"), "{}", r.stdout);
    let listed = pep.exec(
        &op,
        &format!("Get-RemoteSupportSessionHistory -SessionId {id} -IncludeSessionTranscript | Format-List"),
    );
    assert!(listed.ok(), "{listed:?}");
    assert!(!listed.stdout.contains("\\x0a"), "{}", listed.stdout);
    assert!(
        listed
            .stdout
            .lines()
            .any(|l| l.starts_with("Role: support")),
        "{}",
        listed.stdout
    );
    assert!(r.stdout.contains("Identity: sam"), "{}", r.stdout);
    assert!(r.stdout.contains("Role: support"));
    assert!(r.stdout.contains("Remote address: 127.0.0.1:"));
    assert!(r
        .stdout
        .contains("PS>CommandInvocation(Get-AzsSupportClusterResource)"));
    assert!(r.stdout.contains(
        ">> ParameterBinding(Get-AzsSupportClusterResource): name=\"State\"; value=\"Online\""
    ));
    assert!(r.stdout.contains("End time:"));

    let all = pep.transcripts();
    assert!(
        all.contains("PS>Refused: \"Get-AzsSupportStampVersion; touch /tmp/PWNED\""),
        "{all}"
    );
    assert!(all.contains("ScriptsNotAllowed"));
    // The consent grant is transcribed too, for the operator.
    assert!(all.contains("PS>CommandInvocation(Enable-RemoteSupport)"));

    // -FromDate in the future lists nothing.
    let r = pep.exec(&op, "Get-RemoteSupportSessionHistory -FromDate 2099-01-01 | Measure-Object | Select-Object -ExpandProperty Count");
    assert_eq!(r.stdout.trim(), "0", "{r:?}");
}
