//! The README's first ten minutes, run as written: the block after `<!-- quickstart -->` in
//! README.md goes to bash in a fresh folder with a fresh HOME and the built `pep` first on PATH.
//! Only its port changes (a free one instead of 2222), so the test can run beside others.

use crate::harness::PEP;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The quick-start block of the README.
fn quickstart_block() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let after = readme
        .split_once("<!-- quickstart -->")
        .expect("a <!-- quickstart --> marker in README.md")
        .1;
    let body = after
        .split_once("```sh\n")
        .expect("a sh block after the marker")
        .1;
    body.split_once("```")
        .expect("the block's end")
        .0
        .to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[test]
fn the_readme_quick_start_runs_as_written() {
    let block = quickstart_block();
    assert!(block.contains("pep serve"), "{block}");
    let port = free_port();
    let script = block.replace("2222", &port.to_string());
    let dir = tempfile::tempdir().expect("tmp");
    let home = dir.path().join("home");
    std::fs::create_dir(&home).expect("home");
    let bin = std::path::Path::new(PEP).parent().expect("bin dir");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("bash")
        .args(["-e", "-u", "-o", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: whatever it leaves running is stopped with it.
        .process_group(0)
        .spawn()
        .expect("bash");
    let pgid = child.id() as i32;
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(90) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Anything left (a pep the script did not stop) goes.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status();
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let log = std::fs::read_to_string(dir.path().join("pep-demo/pep.log")).unwrap_or_default();
    let status =
        status.unwrap_or_else(|| panic!("the quick start hung\n{stdout}\n{stderr}\n{log}"));
    assert!(
        status.success(),
        "the quick start failed ({status})\nstdout:\n{stdout}\nstderr:\n{stderr}\npep.log:\n{log}"
    );
    // The grant, the support command's output, the revocation, each as a user sees it.
    assert!(stdout.contains("1.2408"), "no stamp version:\n{stdout}");
    assert!(
        !stderr.contains("Host key verification failed") && !stderr.contains("Permanently added"),
        "the host key was verified from known_hosts: {stderr}"
    );
    // The banner gives the known_hosts line the script used.
    let known =
        std::fs::read_to_string(dir.path().join("pep-demo/known_hosts")).expect("known_hosts");
    assert!(
        log.contains(known.trim()),
        "banner:\n{log}\nknown_hosts:\n{known}"
    );
    assert!(log.contains("host key:      SHA256:"), "{log}");
}

/// A 0600 configuration file with `body` under `[serve]`.
fn config(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("pep.toml");
    std::fs::write(&path, format!("version = 1\n[serve]\n{body}\n")).expect("config");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

#[test]
fn a_configuration_file_sets_serve_flags_and_the_command_line_wins() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = config(dir.path(), "idle_timeout_secs = 1");
    let file = file.to_str().expect("utf-8 path");

    // From the file: an idle interactive session ends after a second.
    let pep = crate::harness::Pep::start_with(&["--config", file]);
    let (_, sup) = pep.granted("Diagnostics");
    let mut s = pep.pty(&sup);
    s.wait_for("PS> ", Duration::from_secs(10)).expect("prompt");
    s.wait_for("no input for 1 second", Duration::from_secs(10))
        .expect("the file's idle timeout applies");
    drop(pep);

    // The command line wins: with --idle-timeout-secs 0 it stays.
    let pep = crate::harness::Pep::start_with(&["--config", file, "--idle-timeout-secs", "0"]);
    let (_, sup) = pep.granted("Diagnostics");
    let mut s = pep.pty(&sup);
    s.wait_for("PS> ", Duration::from_secs(10)).expect("prompt");
    std::thread::sleep(Duration::from_millis(2500));
    s.send(b"Get-AzsSupportStampVersion\r");
    s.wait_for("1.2408", Duration::from_secs(10))
        .expect("still open after 2.5 s");

    // A mistake is a usage error naming the key; nothing starts.
    let bad = config(dir.path(), "idle_timeout = 1");
    let out = Command::new(PEP)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&bad)
        .arg("--state")
        .arg(dir.path().join("state"))
        .output()
        .expect("pep serve");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown setting 'idle_timeout'"), "{err}");
}

#[test]
fn pep_check_reports_a_fresh_state_and_fails_without_an_operator() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let run = |state: &std::path::Path| {
        Command::new(PEP)
            .args(["check", "--state"])
            .arg(state)
            .output()
            .expect("pep check")
    };
    let out = run(&state);
    assert_eq!(out.status.code(), Some(3), "no state: {out:?}");
    let pep = crate::harness::Pep::start();
    pep.granted("Diagnostics");
    let out = run(&pep.state);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for topic in ["host key", "identities", "disk", "audit log", "ssh"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("OK") && l.contains(topic)),
            "{topic}:\n{text}"
        );
    }
    assert!(text.contains("1 operator, 1 support"), "{text}");
    assert!(
        text.contains("remote support is enabled now: Diagnostics"),
        "{text}"
    );
}

#[test]
fn completions_and_man_pages_come_from_the_command_line_definitions() {
    let run = |args: &[&str]| {
        let out = Command::new(PEP).args(args).output().expect("pep");
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let bash = run(&["completions", "bash"]);
    for word in [
        "serve",
        "identity",
        "host-key",
        "check",
        "install",
        "--vendor-upload-sas-file",
    ] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    assert!(run(&["completions", "zsh"]).contains("#compdef pep"));
    assert!(run(&["man"]).contains(".TH pep 1"));
    let dir = tempfile::tempdir().expect("tmp");
    run(&["man", "--out-dir", dir.path().to_str().expect("utf-8")]);
    let serve = std::fs::read_to_string(dir.path().join("pep-serve.1")).expect("pep-serve.1");
    assert!(serve.contains("audit\\-retention\\-days"), "{serve}");
    // Usage errors exit 2, with clap's message.
    let out = Command::new(PEP)
        .args(["serve", "--no-such-flag"])
        .output()
        .expect("pep");
    assert_eq!(out.status.code(), Some(2));
}

/// The banner's lines, run as printed (with NAME and the key filled in), from a state directory
/// whose path has a space and a quote: they trust the host key, add an identity and connect.
#[test]
fn the_banner_prints_commands_that_work_as_printed() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("pep state's dir");
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).expect("home");
    let key = home.join(".ssh/id_ed25519");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(made.success());
    let mut serve = Command::new(PEP)
        .args(["serve", "--listen", "127.0.0.1:0", "--state"])
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("pep serve");
    let mut banner = Vec::new();
    let mut lines = std::io::BufReader::new(serve.stdout.take().expect("stdout")).lines();
    while let Some(Ok(line)) = lines.next() {
        let last = line.trim_start().starts_with("connect:");
        banner.push(line);
        if last {
            break;
        }
    }
    let line = |label: &str| {
        banner
            .iter()
            .find_map(|l| l.trim_start().strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label} line in the banner:\n{}", banner.join("\n")))
            .trim()
            .to_string()
    };
    let trust = line("trust it:");
    let add = line("add yourself:").replace("NAME", "olivia");
    let connect = line("connect:").replace("NAME", "olivia");
    // ssh reads ~ from the password database, not HOME: name the file the banner's line wrote.
    let ssh_opts = format!(
        "-o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=30 -o UserKnownHostsFile={}",
        home.join(".ssh/known_hosts").display()
    );
    let connect = connect.replacen("ssh ", &format!("ssh {ssh_opts} "), 1);
    let script = format!(
        "{trust}\n{add}\n{connect} 'Get-RemoteSupportAccess -IncludeExpired | Format-List'\n"
    );
    let out = Command::new("bash")
        .args(["-e", "-u", "-o", "pipefail", "-c", &script])
        .env("HOME", &home)
        .stdin(Stdio::null())
        .output()
        .expect("bash");
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(
        out.status.success(),
        "the banner's lines failed:\n{}\n{}\n{}",
        banner.join("\n"),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("Permanently added"),
        "the host key came from the banner's known_hosts line: {stderr}"
    );
    let identities = std::fs::read_to_string(state.join("identities.json")).unwrap_or_default();
    assert!(
        identities.contains("\"olivia\""),
        "the identity went to the quoted state directory: {identities}"
    );
}
