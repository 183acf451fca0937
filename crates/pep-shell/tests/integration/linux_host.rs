//! `pep serve --profile linux` over SSH: the machine pep runs on is the stamp's only node, and
//! its processes, dumps, packet captures and services are real (gdb opens the dump, tshark the
//! capture, a systemd booted with systemd-nspawn runs the services).

use crate::harness::Pep;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_string()
}

fn json(text: &str) -> Vec<serde_json::Value> {
    match serde_json::from_str::<serde_json::Value>(text.trim()) {
        Ok(serde_json::Value::Array(a)) => a,
        Ok(v) => vec![v],
        Err(e) => panic!("not JSON ({e}): {text}"),
    }
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn need(program: &str) -> bool {
    if have(program) {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{program} is needed under CI"
    );
    eprintln!("skipped: {program} is not installed");
    false
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_linux_profile_serves_the_machine_itself_with_real_processes_and_dumps() {
    let pep = Pep::start_with(&["--profile", "linux"]);
    let (_op, sup) = pep.granted("DiagnosticsRepair");
    let h = host();
    // The prompt names the machine, and it is the only node.
    let mut term = pep.pty(&sup);
    term.wait_for(&format!("[{h}]: PS> "), Duration::from_secs(15))
        .expect("the prompt names the machine");
    term.send(b"exit\r");
    let _ = term.wait_exit(Duration::from_secs(10));
    let info = json(
        &pep.exec(&sup, "Get-AzsSupportComputerInformation | ConvertTo-Json")
            .stdout,
    );
    assert_eq!(info.len(), 1);
    assert_eq!(info[0]["ComputerName"], h.as_str());
    // Simulated fabric commands are not served here.
    let r = pep.exec(&sup, "Get-AzsSupportServiceFabricNode");
    assert!(!r.ok(), "{r:?}");

    let sleeper = Child(Command::new("sleep").arg("600").spawn().expect("sleep"));
    let pid = sleeper.0.id();
    let r = pep.exec(
        &sup,
        &format!("Get-AzsSupportProcess -ComputerName {h} -Id {pid} | ConvertTo-Json"),
    );
    assert!(r.ok(), "{r:?}");
    let p = json(&r.stdout);
    assert_eq!(p[0]["Name"], "sleep");
    assert_eq!(p[0]["CommandLine"], "sleep 600");

    // A dump gdb opens with its threads; the process keeps running.
    let r = pep.exec(
        &sup,
        &format!("Invoke-AzsSupportProcDump -ComputerName {h} -ProcessId {pid} | ConvertTo-Json"),
    );
    assert!(r.ok(), "{r:?}");
    let d = json(&r.stdout);
    let rel = d[0]["Path"].as_str().expect("path").to_string();
    assert!(rel.starts_with("dumps/"), "{rel}");
    let workdirs = pep.state.join("workdirs");
    let core = walk(&workdirs)
        .into_iter()
        .find(|p| p.ends_with(&rel))
        .expect("the dump is in the case's working directory");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    if need("gdb") {
        let out = Command::new("gdb")
            .args([
                "-batch",
                "-nx",
                "-ex",
                "info threads",
                "-ex",
                "bt",
                "/usr/bin/sleep",
            ])
            .arg(&core)
            .output()
            .expect("gdb");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("LWP") && text.contains("#0"), "{text}");
    }
    // Refusals: PID 1 and pep itself, for dumps and stops.
    for (cmd, id) in [
        ("Invoke-AzsSupportProcDump", 1),
        ("Stop-AzsSupportProcess", 1),
        ("Stop-AzsSupportProcess", pep.pid()),
        ("Invoke-AzsSupportProcDump", pep.pid()),
    ] {
        let args = if cmd.starts_with("Stop") {
            format!("-Id {id} -Confirm:$false")
        } else {
            format!("-ProcessId {id}")
        };
        let r = pep.exec(&sup, &format!("{cmd} -ComputerName {h} {args}"));
        assert!(
            !r.ok() && r.stderr.contains("refusing"),
            "{cmd} {id}: {r:?}"
        );
    }
    // Stopping the process for real.
    let r = pep.exec(
        &sup,
        &format!("Stop-AzsSupportProcess -ComputerName {h} -Id {pid} -Confirm:$false"),
    );
    assert!(r.ok(), "{r:?}");
    let started = Instant::now();
    let mut sleeper = sleeper;
    loop {
        if sleeper.0.try_wait().expect("wait").is_some() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still running");
        std::thread::sleep(Duration::from_millis(20));
    }
    // (Commands that only know the simulated fabric are not served in this profile.)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_packet_capture_over_ssh_is_a_pcapng_and_revocation_stops_it() {
    if !need("dumpcap") || !need("tshark") {
        return;
    }
    let mut pep = Pep::start_with(&["--profile", "linux"]);
    let (op, sup) = pep.granted("Diagnostics");
    let h = host();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    let port = sock.local_addr().expect("addr").port();
    let r = pep.exec(
        &sup,
        &format!(
            "Enable-AzsSupportNetshTrace -ComputerName {h} -Interface lo -Protocol UDP -Port {port} -Duration 120 -MaxSize 5 -Confirm:$false | ConvertTo-Json"
        ),
    );
    assert!(r.ok(), "{r:?}");
    let on = json(&r.stdout);
    let live_rel = on[0]["TraceFile"].as_str().expect("file").to_string();
    for i in 0..40 {
        sock.send_to(format!("pep-ssh-{i}").as_bytes(), ("127.0.0.1", port))
            .expect("send");
    }
    // dumpcap writes what it captured at its own pace (later on a loaded machine).
    let live = walk(&pep.state.join("workdirs"))
        .into_iter()
        .find(|p| p.ends_with(&live_rel))
        .expect("the live capture is in the working directory");
    let until = Instant::now() + Duration::from_secs(20);
    while azs_support::host::linux::capture::count_pcapng_packets(&live).unwrap_or(0) < 40
        && Instant::now() < until
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = pep.exec(
        &sup,
        &format!("Disable-AzsSupportNetshTrace -ComputerName {h} -Confirm:$false | ConvertTo-Json"),
    );
    assert!(r.ok(), "{r:?}");
    let off = json(&r.stdout);
    let rel = off[0]["TraceFile"].as_str().expect("file").to_string();
    let file = walk(&pep.state.join("workdirs"))
        .into_iter()
        .find(|p| p.ends_with(&rel))
        .expect("the capture is in the working directory");
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(&file)
        .args(["-n", "-T", "fields", "-e", "udp.dstport"])
        .output()
        .expect("tshark");
    let ports = String::from_utf8_lossy(&out.stdout);
    assert!(
        ports
            .lines()
            .filter(|l| l.trim() == port.to_string())
            .count()
            >= 40,
        "{ports}"
    );
    let r = pep.exec(
        &sup,
        &format!("Get-AzsSupportTraceEvent -ComputerName {h} -Path {rel} | ConvertTo-Json"),
    );
    assert!(r.ok(), "{r:?}");
    assert!(json(&r.stdout).len() >= 40);

    // A capture still running when the grant is revoked stops with it.
    let r = pep.exec(
        &sup,
        &format!(
            "Enable-AzsSupportNetshTrace -ComputerName {h} -Interface lo -Duration 600 -MaxSize 5 -Confirm:$false | ConvertTo-Json"
        ),
    );
    assert!(r.ok(), "{r:?}");
    let dumpcaps = || -> usize {
        std::fs::read_dir("/proc")
            .expect("proc")
            .flatten()
            .filter(|e| {
                std::fs::read_to_string(e.path().join("cmdline"))
                    .map(|c| c.contains("dumpcap") && c.contains(&format!("{h}_netshTrace")))
                    .unwrap_or(false)
            })
            .count()
    };
    assert_eq!(dumpcaps(), 1);
    let r = pep.exec(&op, "Disable-RemoteSupport");
    assert!(r.ok(), "{r:?}");
    let started = Instant::now();
    while dumpcaps() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the capture outlived the grant"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Nor does a capture outlive the endpoint: SIGTERM stops it.
    pep.grant(&op, "Diagnostics");
    let r = pep.exec(
        &sup,
        &format!(
            "Enable-AzsSupportNetshTrace -ComputerName {h} -Interface lo -Duration 600 -MaxSize 5 -Confirm:$false"
        ),
    );
    assert!(r.ok(), "{r:?}");
    assert_eq!(dumpcaps(), 1);
    assert!(
        pep.terminate(Duration::from_secs(10)).is_some(),
        "pep stops"
    );
    let started = Instant::now();
    while dumpcaps() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the capture outlived the endpoint"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn services_and_their_journal_over_ssh_on_a_real_systemd() {
    let container = match azs_support::host::linux::nspawn::Container::boot_or_skip("pep-ssh-svc") {
        Ok(Some(c)) => c,
        Ok(None) => return,
        Err(e) => panic!("{e}"),
    };
    container
        .write_unit(
            "peptest-ssh.service",
            "[Unit]\nDescription=pep ssh test\n[Service]\nExecStart=/bin/sh -c 'while true; do echo peptest-ssh-tick; sleep 1; done'\n",
        )
        .expect("unit");
    container
        .write_unit(
            "peptest-guarded.service",
            "[Unit]\nDescription=a unit the operator protects\n[Service]\nExecStart=/bin/sleep 600\n",
        )
        .expect("unit");
    let prefix = container.runner().prefix().join(" ");
    let pep = Pep::start_with(&[
        "--profile",
        "linux",
        "--host-command-prefix",
        &prefix,
        "--host-protect-unit",
        "peptest-guarded",
    ]);
    let (_op, sup) = pep.granted("DiagnosticsRepair");
    let h = host();
    // The operator's protected unit: listed, never changed.
    let r = pep.exec(
        &sup,
        &format!("Start-AzsSupportService -ComputerName {h} -Name peptest-guarded -Confirm:$false"),
    );
    assert!(!r.ok() && r.stderr.contains("is protected"), "{r:?}");
    assert_eq!(r.stderr.trim().lines().count(), 1, "{r:?}");
    let state = |r: &crate::harness::Run| -> (String, String) {
        let v = json(&r.stdout);
        (
            v[0]["State"].as_str().unwrap_or_default().to_string(),
            v[0]["ProcessId"].to_string(),
        )
    };
    let r = pep.exec(
        &sup,
        &format!("Get-AzsSupportService -ComputerName {h} -Name peptest* | ConvertTo-Json"),
    );
    assert!(r.ok(), "{r:?}");
    assert_eq!(state(&r).0, "Stopped");
    let r = pep.exec(
        &sup,
        &format!("Start-AzsSupportService -ComputerName {h} -Name peptest-ssh -Confirm:$false | ConvertTo-Json"),
    );
    assert!(r.ok(), "{r:?}");
    let (s, first) = state(&r);
    assert_eq!(s, "Running");
    let r = pep.exec(
        &sup,
        &format!("Restart-AzsSupportService -ComputerName {h} -Name peptest-ssh -Confirm:$false | ConvertTo-Json"),
    );
    assert!(r.ok(), "{r:?}");
    let (s, second) = state(&r);
    assert_eq!(s, "Running");
    assert_ne!(first, second, "a restart runs a new process");
    let r = pep.exec(
        &sup,
        &format!("Stop-AzsSupportService -ComputerName {h} -Name ssh -Confirm:$false"),
    );
    assert!(!r.ok(), "a protected unit: {r:?}");
    // The unit ticks every second; journald in the container writes a little late on a loaded
    // machine.
    let until = Instant::now() + Duration::from_secs(20);
    let events = loop {
        let r = pep.exec(
            &sup,
            &format!("Get-AzsSupportWinEvent -ComputerName {h} -LogName peptest-ssh -MaxEvents 20 | ConvertTo-Json"),
        );
        assert!(r.ok(), "{r:?}");
        let events = json(&r.stdout);
        if events.iter().any(|e| e["Message"] == "peptest-ssh-tick") || Instant::now() > until {
            break events;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        events.iter().any(|e| e["Message"] == "peptest-ssh-tick"),
        "{events:?}"
    );
    let r = pep.exec(
        &sup,
        &format!("Stop-AzsSupportService -ComputerName {h} -Name peptest-ssh -Confirm:$false | ConvertTo-Json"),
    );
    assert!(r.ok(), "{r:?}");
    assert_eq!(state(&r).0, "Stopped");
}

#[test]
fn file_commands_work_beneath_the_operators_roots_only() {
    // (Path segments may not start with a dot: a name tempfile would give.)
    let roots = tempfile::Builder::new()
        .prefix("pep-roots-")
        .tempdir()
        .expect("roots");
    let read = roots.path().join("logs");
    let crash = roots.path().join("crash");
    std::fs::create_dir_all(read.join("app")).expect("logs");
    std::fs::create_dir_all(&crash).expect("crash");
    std::fs::write(read.join("app/app.log"), vec![b'x'; 3000]).expect("log");
    std::fs::write(read.join("app/app.log.1"), vec![b'y'; 2000]).expect("rotated");
    std::fs::write(crash.join("core.1234"), vec![b'c'; 4000]).expect("core");
    std::os::unix::fs::symlink("/etc", read.join("etc")).expect("link");
    let (read_s, crash_s) = (
        read.to_str().expect("utf8").to_string(),
        crash.to_str().expect("utf8").to_string(),
    );
    let pep = Pep::start_with(&[
        "--profile",
        "linux",
        "--host-read-root",
        &read_s,
        "--host-read-root",
        &crash_s,
        "--host-remove-root",
        &crash_s,
    ]);
    let (op, sup) = pep.granted("DiagnosticsRepair");
    let h = host();
    // The machine's logs are its read roots' text files: a collection bundles them as `Linux`.
    let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    std::fs::write(
        read.join("auth.log"),
        format!("{stamp} {h} sshd[1]: pep-collect-marker\n"),
    )
    .expect("auth.log");
    let r = pep.exec(&op, "Get-AzureStackLog -OutputPath case1 | ConvertTo-Json");
    assert!(r.ok(), "{r:?}");
    let zip = walk(&pep.state.join("workdirs"))
        .into_iter()
        .find(|p| {
            p.to_string_lossy().contains("case1") && p.to_string_lossy().ends_with("-Linux.zip")
        })
        .expect("a Linux bundle in the operator's working directory");
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).expect("zip")).expect("a zip");
    let mut found = false;
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).expect("entry");
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut f, &mut text);
        found |= text.contains("pep-collect-marker");
    }
    assert!(found, "the marker line is in the bundle");
    let r = pep.exec(
        &sup,
        &format!("Get-AzsSupportFolderSize -ComputerName {h} -Path {read_s} | ConvertTo-Json"),
    );
    assert!(r.ok(), "{r:?}");
    let sizes = json(&r.stdout);
    let app = sizes
        .iter()
        .find(|s| s["Path"].as_str().is_some_and(|p| p.ends_with("/app")))
        .expect("app folder");
    assert_eq!(app["FileCount"], 2, "{sizes:?}");
    assert!(sizes
        .iter()
        .any(|s| s["Path"].as_str().is_some_and(|p| p.ends_with("/auth.log"))));
    // A copy lands in the case's working directory.
    let r = pep.exec(
        &sup,
        &format!(
            "Copy-AzsSupportFiles -ComputerName {h} -Path {read_s}/app/app.log | ConvertTo-Json"
        ),
    );
    assert!(r.ok(), "{r:?}");
    let copied = walk(&pep.state.join("workdirs"))
        .into_iter()
        .find(|p| p.ends_with("app.log"))
        .expect("copied into the working directory");
    assert_eq!(std::fs::read(copied).expect("copy").len(), 3000);
    // Out of the roots, through the link to /etc, or climbing out: refused, one line each.
    for bad in [
        "/etc/passwd".to_string(),
        format!("{read_s}/etc/passwd"),
        format!("{read_s}/../crash/core.1234/x"),
    ] {
        let r = pep.exec(
            &sup,
            &format!("Copy-AzsSupportFiles -ComputerName {h} -Path {bad}"),
        );
        assert!(
            !r.ok() && r.stderr.trim().lines().count() == 1,
            "{bad}: {r:?}"
        );
    }
    // Removal: -WhatIf lists and keeps; then only beneath the remove roots.
    let r = pep.exec(
        &sup,
        &format!("Remove-AzsSupportItem -ComputerName {h} -Path {crash_s}/core.1234 -WhatIf"),
    );
    assert!(r.ok() && r.stdout.contains("What if"), "{r:?}");
    assert!(crash.join("core.1234").exists());
    let r = pep.exec(
        &sup,
        &format!(
            "Remove-AzsSupportItem -ComputerName {h} -Path {crash_s}/core.1234 -Confirm:$false"
        ),
    );
    assert!(r.ok(), "{r:?}");
    assert!(!crash.join("core.1234").exists());
    let r = pep.exec(
        &sup,
        &format!(
            "Remove-AzsSupportItem -ComputerName {h} -Path {read_s}/app/app.log -Confirm:$false"
        ),
    );
    assert!(!r.ok(), "a live log outside the remove roots: {r:?}");
    assert!(read.join("app/app.log").exists());
    assert!(std::path::Path::new("/etc/passwd").exists());
}
