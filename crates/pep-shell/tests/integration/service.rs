//! `pep install` / `pep uninstall` on a real systemd: a container booted with systemd-nspawn
//! (volatile, private network). The real pep binary is copied into the container (its root is a
//! fresh tmpfs, so the build tree is not there) under a path with a space, installed as a
//! service, reached over SSH inside the container, killed and restarted by systemd, refused a
//! second install, uninstalled keeping its state, and purged.

use crate::harness::PEP;
use azs_support::host::linux::nspawn::Container;
use azs_support::host::linux::runner::{Limits, Output};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// Where the binary lives inside the container (a space: the unit's quoting is exercised).
const BIN_DIR: &str = "/opt/pep test";
const STATE: &str = "/var/lib/pep-svc-test";
const PORT: &str = "2299";

struct Box_ {
    c: Container,
}

impl Box_ {
    /// The container's path `p` as seen from here.
    fn path(&self, p: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root{p}", self.c.leader()))
    }

    /// Runs `program args` inside the container (bounded).
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let out = self
            .c
            .runner()
            .run(
                program,
                args,
                Limits {
                    timeout: Duration::from_secs(90),
                    ..Limits::default()
                },
            )
            .unwrap_or_else(|e| panic!("{program} {args:?}: {e}"));
        eprintln!(
            "$ {program} {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            out.stderr
        );
        out
    }

    fn pep(&self, args: &[&str]) -> Output {
        self.run(&format!("{BIN_DIR}/pep"), args)
    }

    /// `systemctl show -p KEY --value UNIT`.
    fn prop(&self, unit: &str, key: &str) -> String {
        let out = self
            .c
            .runner()
            .run(
                "systemctl",
                &["show", "-p", key, "--value", "--", unit],
                Limits::default(),
            )
            .expect("systemctl show");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Waits (bounded) until `f` holds.
    fn wait(&self, what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
        let started = Instant::now();
        while !f() {
            assert!(
                started.elapsed() < timeout,
                "{what}: not within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), o.stderr)
}

#[test]
fn install_runs_pep_as_a_hardened_service_that_restarts_and_uninstall_removes_it() {
    let c = match Container::boot_or_skip("pep-svc") {
        Ok(Some(c)) => c,
        Ok(None) => return,
        Err(e) => panic!("{e}"),
    };
    let b = Box_ { c };

    // The binary, and a support key, inside the container.
    std::fs::create_dir_all(b.path(BIN_DIR)).expect("bin dir");
    std::fs::copy(PEP, b.path(&format!("{BIN_DIR}/pep"))).expect("copy pep");
    let keys = tempfile::tempdir().expect("tempdir");
    for name in ["key", "sup"] {
        let made = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
            .arg(keys.path().join(name))
            .status()
            .expect("ssh-keygen");
        assert!(made.success());
        for f in [name.to_string(), format!("{name}.pub")] {
            std::fs::copy(keys.path().join(&f), b.path(&format!("{BIN_DIR}/{f}"))).expect("key");
        }
    }
    let key_in = format!("{BIN_DIR}/key");
    let pub_in = format!("{BIN_DIR}/key.pub");

    // Refusals that change nothing.
    let r = b.pep(&["install", "--state", "/", "--listen", "127.0.0.1:2299"]);
    assert!(!r.success() && r.stderr.contains("may not be /"), "{r:?}");
    assert!(!b.path("/etc/systemd/system/pep.service").exists());

    // Install.
    let r = b.pep(&["install", "--state", STATE, "--listen", "127.0.0.1:2299"]);
    assert!(r.success(), "install: {}", text(&r));
    let said = String::from_utf8_lossy(&r.stdout).to_string();
    assert!(said.contains("/etc/systemd/system/pep.service"), "{said}");
    assert!(
        said.contains(STATE) && said.contains("127.0.0.1:2299"),
        "{said}"
    );
    assert!(
        said.contains("'/opt/pep test/pep' identity add --state /var/lib/pep-svc-test"),
        "{said}"
    );
    assert!(said.contains("journalctl -u pep"), "{said}");
    let unit_file = b.path("/etc/systemd/system/pep.service");
    let unit = std::fs::read_to_string(&unit_file).expect("unit file");
    assert!(unit.starts_with("# pep unit v1\n"), "{unit}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&unit_file).expect("meta").permissions(),
    );
    assert_eq!(mode & 0o777, 0o644);
    let state_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(b.path(STATE))
            .expect("state")
            .permissions(),
    );
    assert_eq!(state_mode & 0o777, 0o700);

    // systemd's own view of it.
    let r = b.run("systemctl", &["is-active", "pep.service"]);
    assert_eq!(String::from_utf8_lossy(&r.stdout).trim(), "active");
    assert_eq!(b.prop("pep.service", "UnitFileState"), "enabled");
    for (key, want) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "read-only"),
        ("PrivateTmp", "yes"),
        ("Restart", "on-failure"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("LockPersonality", "yes"),
        ("RestrictRealtime", "yes"),
        ("UMask", "0077"),
        ("LimitNOFILE", "65536"),
        ("User", "root"),
    ] {
        assert_eq!(b.prop("pep.service", key), want, "{key}");
    }
    let caps = b.prop("pep.service", "CapabilityBoundingSet");
    assert!(
        caps.contains("cap_sys_ptrace") && !caps.contains("cap_sys_admin"),
        "{caps}"
    );
    let exec = b.prop("pep.service", "ExecStart");
    assert!(
        exec.contains("path=/opt/pep test/pep")
            && exec.contains("serve --state /var/lib/pep-svc-test --listen 127.0.0.1:2299"),
        "{exec}"
    );
    let verify = b.run(
        "systemd-analyze",
        &["verify", "--man=no", "/etc/systemd/system/pep.service"],
    );
    assert!(
        verify.success(),
        "systemd-analyze verify: {}",
        text(&verify)
    );
    let security = b.run(
        "systemd-analyze",
        &["security", "--no-pager", "pep.service"],
    );
    let score = text(&security)
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or("no score")
        .to_string();
    eprintln!("systemd-analyze security pep.service: {score}");

    // It serves: it listens, and an operator registered now is let in over SSH.
    let ss = b.run("ss", &["-ltn"]);
    assert!(
        String::from_utf8_lossy(&ss.stdout).contains("127.0.0.1:2299"),
        "{}",
        text(&ss)
    );
    let r = b.pep(&[
        "identity", "add", "--state", STATE, "--role", "operator", "--name", "olivia", "--key",
        &pub_in,
    ]);
    assert!(r.success(), "identity add: {}", text(&r));
    let ssh_as = |key: &str, user: &str, line: &str| {
        b.run(
            "ssh",
            &[
                "-p",
                PORT,
                "-i",
                key,
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "ConnectTimeout=10",
                "-o",
                "LogLevel=ERROR",
                user,
                line,
            ],
        )
    };
    let ssh = |line: &str| ssh_as(&key_in, "olivia@127.0.0.1", line);
    let mut answered = ssh("Get-RemoteSupportAccess -IncludeExpired");
    let started = Instant::now();
    // The server reads identities.json when it changes: allow it a moment.
    while !answered.success() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(300));
        answered = ssh("Get-RemoteSupportAccess -IncludeExpired");
    }
    assert!(answered.success(), "ssh: {}", text(&answered));
    let r = ssh(
        "Enable-RemoteSupport -AccessLevel Diagnostics -ExpireInMinutes 60 \
         -SupportRequestId 2611210001 -AgreeToRemoteSupportConsent",
    );
    assert!(r.success(), "consent: {}", text(&r));
    assert!(b.path(&format!("{STATE}/consent.json")).is_file());

    // The host-level commands work under the hardening: systemctl, procfs, and a dump (ptrace)
    // of another user's process written into the case's working directory.
    let sup_pub = format!("{BIN_DIR}/sup.pub");
    let r = b.pep(&[
        "identity", "add", "--state", STATE, "--role", "support", "--name", "sam", "--key",
        &sup_pub,
    ]);
    assert!(r.success(), "identity add: {}", text(&r));
    let sup_key = format!("{BIN_DIR}/sup");
    let sup = |line: &str| ssh_as(&sup_key, "sam@127.0.0.1", line);
    let r = b.run(
        "systemd-run",
        &[
            "--unit=peptest-sleep",
            "--property=User=nobody",
            "--",
            "sleep",
            "600",
        ],
    );
    assert!(r.success(), "{}", text(&r));
    let sleeper = b.prop("peptest-sleep.service", "MainPID");
    let host = String::from_utf8_lossy(&b.run("uname", &["-n"]).stdout)
        .trim()
        .to_string();
    let mut r = sup(&format!(
        "Get-AzsSupportService -ComputerName {host} -Name peptest* | ConvertTo-Json"
    ));
    let started = Instant::now();
    while !r.success() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(300));
        r = sup(&format!(
            "Get-AzsSupportService -ComputerName {host} -Name peptest* | ConvertTo-Json"
        ));
    }
    assert!(r.success(), "{}", text(&r));
    assert!(text(&r).contains("\"Running\""), "{}", text(&r));
    let r = sup(&format!(
        "Get-AzsSupportProcess -ComputerName {host} -Id {sleeper} | ConvertTo-Json"
    ));
    assert!(r.success() && text(&r).contains("nobody"), "{}", text(&r));
    let r = sup(&format!(
        "Invoke-AzsSupportProcDump -ComputerName {host} -ProcessId {sleeper} | ConvertTo-Json"
    ));
    assert!(r.success(), "a dump under the hardening: {}", text(&r));
    let dumps: Vec<_> = std::fs::read_dir(b.path(&format!("{STATE}/workdirs")))
        .expect("workdirs")
        .filter_map(Result::ok)
        .flat_map(|w| {
            std::fs::read_dir(w.path().join("dumps"))
                .into_iter()
                .flatten()
        })
        .filter_map(Result::ok)
        .filter(|f| f.metadata().is_ok_and(|m| m.len() > 0))
        .collect();
    assert_eq!(dumps.len(), 1, "one dump in the working directory");
    assert_eq!(b.prop("peptest-sleep.service", "ActiveState"), "active");

    // Killed: systemd starts it again.
    let first = b.prop("pep.service", "MainPID");
    assert_ne!(first, "0");
    let r = b.run("kill", &["-KILL", "--", &first]);
    assert!(r.success(), "{}", text(&r));
    b.wait("restarted", Duration::from_secs(20), || {
        b.prop("pep.service", "NRestarts") == "1"
            && b.prop("pep.service", "ActiveState") == "active"
            && b.prop("pep.service", "MainPID") != first
    });
    b.wait("answers again", Duration::from_secs(10), || {
        ssh("Get-RemoteSupportAccess").success()
    });

    // A second install is refused and changes nothing.
    let r = b.pep(&["install", "--state", STATE, "--listen", "127.0.0.1:2299"]);
    assert!(!r.success(), "{}", text(&r));
    assert!(r.stderr.contains("already installed"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "one line: {}", r.stderr);
    assert_eq!(std::fs::read_to_string(&unit_file).expect("unit"), unit);

    // A unit systemd already has from elsewhere is not shadowed.
    let r = b.pep(&[
        "install",
        "--unit",
        "systemd-journald",
        "--state",
        "/var/lib/x",
        "--listen",
        "127.0.0.1:2298",
    ]);
    assert!(
        !r.success() && r.stderr.contains("already exists"),
        "{}",
        text(&r)
    );
    assert!(!b
        .path("/etc/systemd/system/systemd-journald.service")
        .exists());

    // Uninstall keeps the state.
    let r = b.pep(&["uninstall"]);
    assert!(r.success(), "uninstall: {}", text(&r));
    assert!(
        String::from_utf8_lossy(&r.stdout).contains(&format!("stays at {STATE}")),
        "{}",
        text(&r)
    );
    assert!(!unit_file.exists());
    let status = b.run("systemctl", &["status", "pep.service"]);
    assert!(!status.success());
    assert!(
        text(&status).contains("could not be found"),
        "{}",
        text(&status)
    );
    assert_eq!(b.prop("pep.service", "LoadState"), "not-found");
    assert!(b.path(&format!("{STATE}/host_key")).is_file());
    assert!(b.path(&format!("{STATE}/identities.json")).is_file());
    let ss = b.run("ss", &["-ltn"]);
    assert!(!String::from_utf8_lossy(&ss.stdout).contains("127.0.0.1:2299"));
    let r = b.pep(&["uninstall"]);
    assert!(
        !r.success() && r.stderr.contains("not installed"),
        "{}",
        text(&r)
    );

    // A state directory with spaces and a percent sign, outside /var/lib; then purge.
    let odd = "/srv/pep state 100%";
    let r = b.pep(&[
        "install",
        "--unit",
        "pep-odd",
        "--state",
        odd,
        "--listen",
        "127.0.0.1:2300",
    ]);
    assert!(r.success(), "install: {}", text(&r));
    let exec = b.prop("pep-odd.service", "ExecStart");
    assert!(
        exec.contains("--state /srv/pep state 100% --listen"),
        "{exec}"
    );
    let verify = b.run(
        "systemd-analyze",
        &["verify", "--man=no", "/etc/systemd/system/pep-odd.service"],
    );
    assert!(
        verify.success(),
        "systemd-analyze verify: {}",
        text(&verify)
    );
    assert!(
        b.path(&format!("{odd}/host_key")).is_file(),
        "it wrote its state there"
    );
    let r = b.pep(&["uninstall", "--unit", "pep-odd", "--purge"]);
    assert!(r.success(), "uninstall --purge: {}", text(&r));
    assert!(!b.path(odd).exists(), "purged");
    assert!(!b.path("/etc/systemd/system/pep-odd.service").exists());

    // Reinstall on the kept state (the identities are still there) under a name of the
    // operator's choosing: support may repair services, but never the one pep runs in.
    let r = b.pep(&[
        "install",
        "--unit",
        "support-gw",
        "--state",
        STATE,
        "--listen",
        "127.0.0.1:2299",
    ]);
    assert!(r.success(), "reinstall: {}", text(&r));
    b.wait("answers after reinstall", Duration::from_secs(10), || {
        ssh("Get-RemoteSupportAccess").success()
    });
    let r = ssh("Set-RemoteSupportAccess -AccessLevel DiagnosticsRepair");
    assert!(r.success(), "{}", text(&r));
    let gw = b.prop("support-gw.service", "MainPID");
    for verb in ["Stop", "Restart"] {
        let r = sup(&format!(
            "{verb}-AzsSupportService -ComputerName {host} -Name support-gw -Confirm:$false"
        ));
        assert!(
            !r.success() && text(&r).contains("protected"),
            "{verb}: {}",
            text(&r)
        );
    }
    let r = sup(&format!(
        "Stop-AzsSupportProcess -ComputerName {host} -Id {gw} -Confirm:$false"
    ));
    assert!(!r.success(), "{}", text(&r));
    assert_eq!(b.prop("support-gw.service", "ActiveState"), "active");
    assert_eq!(b.prop("support-gw.service", "MainPID"), gw);
    let r = b.pep(&["uninstall", "--unit", "support-gw", "--purge"]);
    assert!(r.success(), "uninstall --purge: {}", text(&r));
    assert!(!b.path(STATE).exists(), "purged");
    assert!(!b.path("/etc/systemd/system/support-gw.service").exists());
}
