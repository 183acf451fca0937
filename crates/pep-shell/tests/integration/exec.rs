//! Exec requests: output, exit status, one-line errors, the first command slice, the working
//! directory and the language's pipelines, as a user sees them through `ssh host 'COMMAND'`.

use crate::harness::*;

#[test]
fn support_without_grant_is_refused_and_operator_sees_operator_commands() {
    let pep = Pep::start();
    let op = pep.identity("operator", "olivia");
    let sup = pep.identity("support", "sam");
    let r = pep.exec(&sup, "Get-AzsSupportStampVersion");
    assert_eq!(r.status, Some(3), "{r:?}");
    assert_eq!(
        r.stderr.trim(),
        "remote support is not enabled on this endpoint"
    );
    assert!(r.stdout.is_empty());

    let r = pep.exec(&op, "Get-Command");
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains("Enable-RemoteSupport"), "{}", r.stdout);
    assert!(r.stdout.contains("Get-RemoteSupportSessionHistory"));
    assert!(
        !r.stdout.contains("Get-AzsSupportClusterResource"),
        "operators do not see support commands"
    );
    let r = pep.exec(&op, "Get-AzsSupportStampVersion");
    assert_eq!(r.status, Some(3));
    assert!(r.stderr.contains("not recognized"), "{r:?}");
}

#[test]
fn unknown_key_cannot_log_in() {
    let pep = Pep::start();
    let _op = pep.identity("operator", "olivia");
    // A key made but never registered.
    let stranger = Key {
        private: pep.dir.path().join("stranger"),
    };
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger.private)
        .status()
        .expect("keygen");
    assert!(st.success());
    let r = pep.exec(&stranger, "Get-Command");
    assert_eq!(r.status, Some(255), "{r:?}");
    assert!(r.stderr.contains("Permission denied"), "{r:?}");
}

#[test]
fn first_slice_of_commands_and_pipelines() {
    let pep = Pep::start();
    let (_op, sup) = pep.granted("Diagnostics");

    let r = pep.exec(&sup, "Get-AzsSupportStampVersion");
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.stdout, "1.2408.1.50\n");

    let r = pep.exec(&sup, "Get-AzsSupportStampInformation");
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains("NumberOfNodes"), "{}", r.stdout);
    assert!(r.stdout.contains("local.azurestack.external"));

    let r = pep.exec(&sup, "Get-AzsSupportInfrastructureHost");
    assert!(r.ok(), "{r:?}");
    for h in ["AZS-HOST01", "AZS-HOST02", "AZS-HOST03", "AZS-HOST04"] {
        assert!(r.stdout.contains(h), "{}", r.stdout);
    }
    let r = pep.exec(&sup, "Get-AzsSupportInfrastructureHost -CN AZS-HOST09");
    assert_eq!(r.status, Some(1));
    assert!(r.stderr.contains("AZS-HOST09"), "{r:?}");

    // Pipelines into the formatting commands.
    let r = pep.exec(&sup, "Get-AzsSupportClusterResource | Where-Object ResourceType -eq 'IP Address' | Select-Object -ExpandProperty Name");
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.stdout.trim(), "Cluster IP Address");
    let r = pep.exec(
        &sup,
        "Get-AzsSupportClusterResource -Name 'Virtual Machine AZS-*' | Measure-Object",
    );
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains("29"), "29 clustered VMs: {}", r.stdout);
    let r = pep.exec(&sup, "get-azssupportinfrastructurehost | sort-object Name -Descending | select -First 1 | ConvertTo-Json");
    assert!(r.ok(), "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["Name"], "AZS-HOST04");
    let r = pep.exec(&sup, "Get-AzsSupportInfrastructureHost | ConvertTo-Csv");
    assert!(r.ok(), "{r:?}");
    assert!(
        r.stdout.lines().next().unwrap_or("").contains("\"Name\""),
        "{}",
        r.stdout
    );
    assert_eq!(r.stdout.lines().count(), 5);

    // Abbreviation and ambiguity.
    let r = pep.exec(
        &sup,
        "Get-AzsSupportClusterResource -Sta Online | Measure-Object",
    );
    assert!(r.ok(), "{r:?}");
    // An operator's session starts locked (elevation needs a vendor-signed token).
    let r = pep.exec(&_op, "Get-SupportSessionInfo");
    assert!(r.ok() && r.stdout.contains("Locked"), "{r:?}");
    // Help and Get-Command reflect the grant.
    let r = pep.exec(&sup, "Get-Help Get-AzsSupportClusterResource -Full");
    assert!(r.ok(), "{r:?}");
    assert!(
        r.stdout.contains("SYNOPSIS") && r.stdout.contains("-State"),
        "{}",
        r.stdout
    );
    let r = pep.exec(&sup, "Get-Command -Name *Restart*");
    assert!(!r.stdout.contains("Restart-AzsSupportService"), "{r:?}");
    let r = pep.exec(&sup, "Get-Help Restart-AzsSupportService");
    assert_eq!(r.status, Some(1), "DR help is hidden at Diagnostics: {r:?}");
}

#[test]
fn working_directory_family() {
    let pep = Pep::start();
    let (_op, sup) = pep.granted("Diagnostics");

    // Each exec is its own session with its own working directory: use a shell session (-T).
    let r = pep.lines(
        &sup,
        b"Get-AzsSupportWorkingDirectory\n\
          Get-AzsSupportInfrastructureHost | Save-AzsSupportObjectToFile -FilePrefix hosts -FileFormat csv\n\
          Get-AzsSupportClusterResource | Save-AzsSupportObjectToFile hosts\n\
          Get-AzsSupportWorkingDirectoryFiles | Select-Object -ExpandProperty Name\n\
          Save-AzsSupportObjectToFile -FilePrefix ../../../tmp/PWNED\n\
          Clear-AzsSupportWorkingDirectory | Select-Object -ExpandProperty FilesRemoved\n\
          Get-AzsSupportWorkingDirectoryFiles | Measure-Object | Select-Object -ExpandProperty Count\n",
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    let workdir = lines.first().copied().unwrap_or("");
    assert!(
        pep.state.join("workdirs").join(workdir).is_dir() && !workdir.contains('/'),
        "support sees the working directory by name, never the server's path: {r:?}"
    );
    assert!(
        !r.stdout.contains(pep.state.to_str().expect("utf8")),
        "no server path in the output: {r:?}"
    );
    let name = std::path::Path::new(workdir)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    assert!(
        name.len() > 17 && name.as_bytes()[8] == b'T' && &name[15..16] == "Z",
        "UTC-timestamped: {name}"
    );
    assert!(
        r.stdout.contains("hosts_") && r.stdout.contains(".csv") && r.stdout.contains(".json"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("FilePrefix"),
        "prefix with a path is refused: {r:?}"
    );
    assert_eq!(lines.last().copied(), Some("0"), "cleared: {r:?}");
    assert!(lines.contains(&"2"), "two files removed: {r:?}");
    assert!(!std::path::Path::new("/tmp/PWNED").exists());
}

#[test]
fn exec_line_limits_and_encoding() {
    let pep = Pep::start();
    let op = pep.identity("operator", "olivia");
    let long = format!("Get-RemoteSupportAccess {}", "x".repeat(10_000));
    let r = pep.exec(&op, &long);
    assert_eq!(r.status, Some(1));
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
    assert!(r.stderr.contains("4096"), "{r:?}");
    let r = pep.exec_bytes(&op, b"Get-RemoteSupportAccess \xff\xfe");
    assert_eq!(r.status, Some(1));
    assert!(r.stderr.contains("UTF-8"), "{r:?}");
}

#[test]
fn test_azure_stack_sets_the_exit_status_from_its_verdict() {
    // A healthy stamp: True, and the exec succeeds.
    let pep = Pep::start();
    let op = pep.identity("operator", "olivia");
    let r = pep.exec(&op, "Test-AzureStack");
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.stdout.lines().last(), Some("True"), "{}", r.stdout);
    let r = pep.exec(&op, "Test-AzureStack -DetailedResults");
    assert!(r.ok(), "{r:?}");

    // A fault: False, and the exec exits non-zero with nothing on stderr (nothing failed to run).
    let pep = Pep::start_with(&["--scenario", "csv-offline"]);
    let op = pep.identity("operator", "olivia");
    let r = pep.exec(&op, "Test-AzureStack");
    assert_eq!(r.status, Some(1), "{r:?}");
    assert_eq!(r.stdout.lines().last(), Some("False"), "{}", r.stdout);
    assert!(r.stderr.trim().is_empty(), "{r:?}");
    // The verdict counts whatever follows it in the line.
    let r = pep.exec(&op, "Test-AzureStack | Select-Object -Last 1");
    assert_eq!(r.status, Some(1), "{r:?}");
    assert_eq!(r.stdout.trim(), "False");
    // Other commands on the faulty stamp succeed as before.
    let r = pep.exec(&op, "Get-AzureStackStampInformation");
    assert!(r.ok(), "{r:?}");
}

#[test]
fn test_azure_stack_detailed_results_end_with_the_verdict_and_set_the_exit_status() {
    let pep = Pep::start_with(&["--scenario", "csv-offline"]);
    let op = pep.identity("operator", "olivia");
    let r = pep.exec(&op, "Test-AzureStack -DetailedResults");
    assert_eq!(r.status, Some(1), "{r:?}");
    assert_eq!(r.stdout.lines().last(), Some("False"), "{}", r.stdout);
    assert!(r.stdout.contains("FAIL"), "{}", r.stdout);
    let pep = Pep::start();
    let op = pep.identity("operator", "olivia");
    let r = pep.exec(&op, "Test-AzureStack -DetailedResults");
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.stdout.lines().last(), Some("True"), "{}", r.stdout);
}

#[test]
fn get_command_with_a_wildcard_that_matches_nothing_prints_nothing() {
    let pep = Pep::start();
    let op = pep.identity("operator", "olivia");
    let r = pep.exec(&op, "Get-Command -Name *NoMatch*");
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.trim().is_empty() && r.stderr.is_empty(), "{r:?}");
    let r = pep.exec(&op, "Get-Command -Name Get-NoSuchThing");
    assert_eq!(r.status, Some(1), "{r:?}");
    assert!(r.stderr.contains("not recognized"), "{r:?}");
}

#[test]
fn piping_into_a_command_that_takes_no_input_lists_the_ones_that_do() {
    let pep = Pep::start();
    let (_op, sup) = pep.granted("Diagnostics");
    let r = pep.exec(
        &sup,
        "Get-AzsSupportStampVersion | Get-AzsSupportStampVersion",
    );
    assert_eq!(r.status, Some(2), "{r:?}");
    assert!(
        r.stderr.contains("Save-AzsSupportObjectToFile") && r.stderr.contains("Format-Table"),
        "{r:?}"
    );
}

#[test]
fn the_sessions_of_a_case_share_its_working_directory_and_a_new_grant_starts_another() {
    let pep = Pep::start();
    let (op, sup) = pep.granted("Diagnostics");
    // One exec saves, the next lists and reads it back: the case's directory, not the session's.
    let r = pep.exec(
        &sup,
        "Get-AzsSupportInfrastructureHost | Save-AzsSupportObjectToFile -FilePrefix hosts -FileFormat csv | Select-Object -ExpandProperty Path",
    );
    assert!(r.ok(), "{r:?}");
    let saved = r.stdout.trim().to_string();
    assert!(
        saved.starts_with("hosts_") && saved.ends_with(".csv"),
        "{r:?}"
    );
    let r = pep.exec(
        &sup,
        "Get-AzsSupportWorkingDirectoryFiles | Select-Object -ExpandProperty Name",
    );
    assert!(
        r.ok() && r.stdout.contains(&saved),
        "a later session sees it: {r:?}"
    );
    let r = pep.exec(
        &sup,
        &format!("Get-AzsSupportWorkingDirectoryFileContent {saved} -TotalCount 2"),
    );
    assert!(r.ok(), "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{r:?}");
    assert!(
        lines[0].contains("\"Name\"") && lines[1].contains("AZS-HOST01"),
        "{r:?}"
    );
    let r = pep.exec(
        &sup,
        "Get-AzsSupportWorkingDirectoryFileContent dumps/../../../consent.json",
    );
    assert_eq!(r.status, Some(1), "{r:?}");
    assert!(r.stderr.contains("'..' is not allowed"), "{r:?}");
    // A new grant is a new case: a fresh directory.
    let r = pep.exec(&op, "Disable-RemoteSupport");
    assert!(r.ok(), "{r:?}");
    pep.grant(&op, "Diagnostics");
    let r = pep.exec(
        &sup,
        "Get-AzsSupportWorkingDirectoryFiles | Measure-Object | Select-Object -ExpandProperty Count",
    );
    assert!(r.ok() && r.stdout.trim() == "0", "{r:?}");
}

#[test]
fn exec_exit_status_tells_success_failure_usage_and_refusal_apart() {
    let pep = Pep::start();
    let op = pep.identity("operator", "olivia");
    let sup = pep.identity("support", "sam");
    let status = |key, line: &str| pep.exec(key, line).status;
    assert_eq!(
        status(&sup, "Get-AzsSupportStampVersion"),
        Some(3),
        "no grant: refused"
    );
    pep.grant(&op, "Diagnostics");
    assert_eq!(status(&sup, "Get-AzsSupportStampVersion"), Some(0));
    assert_eq!(
        status(&sup, "Get-AzsSupportInfrastructureHost -CN AZS-HOST09"),
        Some(1),
        "the command ran and failed"
    );
    assert_eq!(status(&sup, "Get-NoSuchThing"), Some(2), "unknown command");
    assert_eq!(
        status(&sup, "Get-AzsSupportStampVersion -NoSuchParameter 1"),
        Some(2),
        "unknown parameter"
    );
    assert_eq!(
        status(&sup, "Get-AzsSupportStampVersion |"),
        Some(2),
        "syntax"
    );
    assert_eq!(
        status(
            &sup,
            "Restart-AzsSupportService -ComputerName AZS-HOST01 -Name sshd"
        ),
        Some(3),
        "above the grant's access level"
    );
    assert_eq!(
        status(&sup, "Disable-RemoteSupport"),
        Some(3),
        "an operator command"
    );
}
