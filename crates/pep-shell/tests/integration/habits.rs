//! PowerShell habits over SSH: `NAME -?`, `Get-Help` with no name or a wildcard, Get-Command's
//! verb, noun and module filters and its Source column, `| Get-Member`, `Select-Object -First`
//! keeping the table view, Ctrl-C at a confirmation, CliXml files, and session history by
//! identity and support request.

use crate::harness::*;

/// The column names of a table (its first line).
fn header(out: &str) -> Vec<String> {
    out.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn dash_question_mark_shows_help_without_running_or_needing_the_level() {
    let pep = Pep::start();
    let (_op, sup) = pep.granted("Diagnostics");
    let r = pep.exec(&sup, "Get-AzsSupportStampVersion -?");
    assert!(r.ok(), "{r:?}");
    assert!(
        r.stdout.contains("NAME\n    Get-AzsSupportStampVersion"),
        "{r:?}"
    );
    assert!(r.stdout.contains("SYNTAX"), "{r:?}");
    assert!(!r.stdout.contains("1.2408.1.50"), "nothing ran: {r:?}");
    assert_eq!(
        r.stdout,
        pep.exec(&sup, "Get-Help Get-AzsSupportStampVersion").stdout
    );
    // Other arguments do not matter: the command is not run, so they are not bound either.
    let r = pep.exec(&sup, "Get-AzsSupportClusterResource -NoSuchParameter x -?");
    assert!(
        r.ok() && r.stdout.contains("Get-AzsSupportClusterResource"),
        "{r:?}"
    );
    // As Get-Help: a command the session may not run is not found.
    let r = pep.exec(&sup, "Enable-RemoteSupport -?");
    assert!(!r.ok(), "{r:?}");
    assert!(
        r.stderr
            .contains("Get-Help could not find 'Enable-RemoteSupport'"),
        "{r:?}"
    );
}

#[test]
fn get_help_alone_and_with_a_wildcard() {
    let pep = Pep::start();
    let (_op, sup) = pep.granted("Diagnostics");
    let r = pep.exec(&sup, "Get-Help");
    assert!(r.ok(), "{r:?}");
    for s in [
        "Get-Command",
        "Get-Help NAME -Full",
        "NAME -?",
        "Format-Table",
    ] {
        assert!(r.stdout.contains(s), "{s} missing: {}", r.stdout);
    }
    let r = pep.exec(&sup, "Get-Help *Cluster*");
    assert!(r.ok(), "{r:?}");
    assert_eq!(
        header(&r.stdout),
        ["Name", "Category", "Module", "Synopsis"],
        "{r:?}"
    );
    assert!(r.stdout.contains("Get-AzsSupportClusterResource "), "{r:?}");
    assert!(r.stdout.contains("Get-AzsSupportClusterLog "), "{r:?}");
    let r = pep.exec(&sup, "Get-Help *StampVersion");
    assert!(
        r.ok() && r.stdout.contains("NAME\n    Get-AzsSupportStampVersion"),
        "one match shows its help: {r:?}"
    );
}

#[test]
fn get_command_filters_sorts_and_names_each_commands_module() {
    let pep = Pep::start();
    let (op, sup) = pep.granted("Diagnostics");
    let r = pep.exec(&sup, "Get-Command -Verb Get -Noun AzsSupportCluster*");
    assert!(r.ok(), "{r:?}");
    let names: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("Function "))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert!(names.len() >= 3, "{r:?}");
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_ascii_lowercase());
    assert_eq!(names, sorted, "sorted by name");
    assert!(
        names.iter().all(|n| n.starts_with("Get-AzsSupportCluster")),
        "{names:?}"
    );
    assert!(
        r.stdout
            .lines()
            .skip(3)
            .all(|l| l.trim().is_empty() || l.trim_end().ends_with("Azs.Support")),
        "{r:?}"
    );

    let source = |key: &Key, name: &str| {
        let r = pep.exec(key, &format!("Get-Command {name}"));
        assert!(r.ok(), "{r:?}");
        r.stdout
            .lines()
            .find(|l| l.contains(name))
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(source(&sup, "Get-AzsSupportStampVersion"), "Azs.Support");
    assert_eq!(
        source(&sup, "Select-Object"),
        "Microsoft.PowerShell.Utility"
    );
    assert_eq!(source(&sup, "Get-Help"), "Microsoft.PowerShell.Core");
    assert_eq!(source(&op, "Enable-RemoteSupport"), "PrivilegedEndpoint");
    let r = pep.exec(&sup, "Get-Command -Module Microsoft.PowerShell.Core");
    assert!(
        r.stdout.contains("Where-Object") && !r.stdout.contains("Select-Object"),
        "{r:?}"
    );
    // Character ranges, quoted (brackets outside quotes are refused as type literals).
    let r = pep.exec(&sup, "Get-Command 'Get-AzsSupportStamp[I-J]*'");
    assert!(
        r.stdout.contains("Get-AzsSupportStampInformation") && !r.stdout.contains("StampVersion"),
        "{r:?}"
    );
    let r = pep.exec(&sup, "Get-Command 'Get-AzsSupportStamp[I-J*'");
    assert!(!r.ok(), "{r:?}");
    assert!(
        r.stderr
            .contains("The specified wildcard character pattern is not valid"),
        "{r:?}"
    );
}

#[test]
fn get_member_shows_the_type_and_its_properties() {
    let pep = Pep::start();
    let (_op, sup) = pep.granted("Diagnostics");
    let r = pep.exec(&sup, "Get-AzsSupportClusterResource | Get-Member");
    assert!(r.ok(), "{r:?}");
    assert!(
        r.stdout
            .contains("   TypeName: Azs.Support.ClusterResource"),
        "{r:?}"
    );
    assert!(r.stdout.contains("MemberType"), "{r:?}");
    for p in ["Name", "State", "OwnerGroup", "ResourceType", "OwnerNode"] {
        assert!(
            r.stdout.lines().any(|l| l.starts_with(&format!("{p} "))
                && l.contains("NoteProperty")
                && l.contains(&format!("string {p}="))),
            "{p} missing: {}",
            r.stdout
        );
    }
}

#[test]
fn select_first_and_last_keep_the_commands_table() {
    let pep = Pep::start();
    let (_op, sup) = pep.granted("Diagnostics");
    let all = pep.exec(&sup, "Get-AzsSupportClusterResource");
    let first = pep.exec(
        &sup,
        "Get-AzsSupportClusterResource | Select-Object -First 2",
    );
    let last = pep.exec(
        &sup,
        "Get-AzsSupportClusterResource | Select-Object -Last 1",
    );
    assert!(all.ok() && first.ok() && last.ok(), "{first:?}");
    assert_eq!(
        header(&all.stdout),
        ["Name", "State", "OwnerGroup", "ResourceType", "OwnerNode"],
        "{all:?}"
    );
    assert_eq!(header(&first.stdout), header(&all.stdout), "{first:?}");
    assert_eq!(header(&last.stdout), header(&all.stdout), "{last:?}");
    let rows = |out: &str| out.lines().filter(|l| !l.trim().is_empty()).count() - 2;
    assert_eq!(rows(&first.stdout), 2, "{first:?}");
    assert_eq!(rows(&last.stdout), 1, "{last:?}");
    assert!(!first.stdout.contains(" : "), "not a list: {first:?}");
}

#[test]
fn ctrl_c_at_a_confirmation_cancels_it() {
    let pep = Pep::start_with(&["--scenario", "cluster-group-failed"]);
    let (_op, sup) = pep.granted("DiagnosticsRepair");
    let failed = |pep: &Pep| {
        pep.exec(&sup, "Get-AzsSupportClusterResource -State Failed")
            .stdout
            .contains("Scale-Out File Server (SU1FileServer)")
    };
    assert!(failed(&pep), "the scenario's fault is planted");
    let mut s = pep.pty(&sup);
    s.wait_for(PROMPT, T).expect("prompt");
    s.send(b"Move-AzsSupportClusterGroup -Name SU1FileServer -Node AZS-HOST02\r");
    s.wait_for("[Y] Yes  [N] No  [?] Help (default is \"Y\"): ", T)
        .expect("asks");
    s.send(b"\x03");
    s.wait_for("Cancelled; nothing was run.", T)
        .expect("cancelled");
    s.wait_for(PROMPT, T).expect("a fresh command prompt");
    // The next line is a command, not an answer.
    s.send(b"Get-AzsSupportStampVersion\r");
    s.wait_for("1.2408.1.50", T).expect("runs as a command");
    s.wait_for(PROMPT, T).expect("prompt");
    assert!(failed(&pep), "nothing changed");
    s.send(b"exit\r");
    assert!(s.wait_exit(T).expect("exits").success());
    assert!(pep
        .transcripts()
        .contains("confirmation cancelled with Ctrl-C; nothing was run"));
}

#[test]
fn save_object_to_file_writes_clixml() {
    let pep = Pep::start();
    let (_op, sup) = pep.granted("Diagnostics");
    let r = pep.exec(
        &sup,
        "Get-AzsSupportClusterResource | Save-AzsSupportObjectToFile -FilePrefix res -FileFormat xml",
    );
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains("xml"), "{r:?}");
    let r = pep.exec(
        &sup,
        "Get-AzsSupportWorkingDirectoryFiles -Filter 'res_*.xml'",
    );
    assert!(r.ok() && r.stdout.contains(".xml"), "{r:?}");
    let name = r
        .stdout
        .split_whitespace()
        .find(|w| w.starts_with("res_") && w.ends_with(".xml"))
        .expect("file listed")
        .to_string();
    let r = pep.exec(
        &sup,
        &format!("Get-AzsSupportWorkingDirectoryFileContent -Path {name} -TotalCount 100000"),
    );
    assert!(r.ok(), "{r:?}");
    let xml = r.stdout;
    assert!(
        xml.contains(
            "<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">"
        ),
        "{xml}"
    );
    assert!(xml.contains("<T>Azs.Support.ClusterResource</T>"), "{xml}");
    assert!(
        xml.contains("<S N=\"Name\">Cluster IP Address</S>"),
        "{xml}"
    );
    assert_well_formed(&xml);
}

/// A small well-formedness check: every element opened is closed in order, attributes quoted,
/// no raw `<` or `&` outside markup.
fn assert_well_formed(xml: &str) {
    let body = xml
        .trim_start()
        .strip_prefix("<?xml version=\"1.0\" encoding=\"utf-8\"?>")
        .expect("declaration");
    let mut stack: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        assert!(!text.contains('>'), "raw > in {text:?}");
        for (i, _) in text.match_indices('&') {
            let ent = &text[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| ent.starts_with(e)),
                "bare & in {text:?}"
            );
        }
        let end = rest[lt..].find('>').expect("tag closes") + lt;
        let tag = &rest[lt + 1..end];
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "attribute quoting in <{tag}>"
        );
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "close </{name}>");
        } else if !tag.ends_with('/') {
            stack.push(
                tag.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        rest = &rest[end + 1..];
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert!(rest.trim().is_empty(), "text after the root: {rest:?}");
}

#[test]
fn session_history_by_identity_and_support_request() {
    let pep = Pep::start();
    let (op, sup) = pep.granted("Diagnostics");
    let other = pep.identity("support", "sue");
    assert!(pep.exec(&sup, "Get-AzsSupportStampVersion").ok());
    assert!(pep.exec(&other, "Get-AzsSupportStampVersion").ok());
    let list = |filter: &str| {
        let r = pep.exec(
            &op,
            &format!("Get-RemoteSupportSessionHistory {filter} | Select-Object Identity,SupportRequestId | ConvertTo-Csv -NoTypeInformation"),
        );
        assert!(r.ok(), "{r:?}");
        r.stdout
    };
    let sam = list("-Identity sam");
    assert!(
        sam.contains("\"sam\",\"2611210001\"") && !sam.contains("sue"),
        "{sam}"
    );
    let s = list("-Identity 's[t-z]*'");
    assert!(s.contains("\"sue\"") && !s.contains("\"sam\""), "{s}");
    let case = list("-SupportRequestId 2611210001");
    assert!(
        case.contains("\"sam\"") && case.contains("\"sue\""),
        "{case}"
    );
    assert!(
        !case.contains("\"olivia\""),
        "operator sessions have no case: {case}"
    );
    let none = list("-SupportRequestId 999");
    assert!(!none.contains("sam") && !none.contains("sue"), "{none}");
}
