//! Operator control that holds (issue 6): one line cannot take the endpoint down, revocation
//! works with a full disk and survives a restart, authorization is checked when a confirmation is
//! answered, identities and SIGTERM end sessions, and the SSH layer cuts off what it must.

use crate::harness::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The peak resident memory of a process, in KiB (VmHWM).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("VmHWM")
}

/// The stated bound on the server's memory while a hostile line runs.
const RSS_BOUND_KIB: u64 = 256 * 1024;

#[test]
fn a_thirty_stage_conversion_chain_gets_one_line_and_others_carry_on() {
    let pep = Pep::start();
    let (_op, sup) = pep.granted("Diagnostics");
    for conv in ["ConvertTo-Json", "ConvertTo-Csv"] {
        let chain = format!(
            "Get-AzsSupportStampVersion{}",
            format!(" | {conv}").repeat(30)
        );
        let hostile = std::thread::scope(|s| {
            let h = s.spawn(|| pep.exec(&sup, &chain));
            // Another session keeps working meanwhile.
            let other = pep.exec(&sup, "Get-AzsSupportStampVersion");
            assert!(other.ok(), "{other:?}");
            h.join().expect("join")
        });
        assert_eq!(hostile.status, Some(1), "{conv}: {hostile:?}");
        let err = hostile.stderr.trim_end();
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains("larger than 16.0 MiB"), "{err}");
        // The session is usable afterwards and the server did not balloon.
        assert!(pep.exec(&sup, "Get-AzsSupportStampVersion").ok());
    }
    let peak = peak_rss_kib(pep.pid());
    assert!(
        peak < RSS_BOUND_KIB,
        "peak RSS {peak} KiB over the {RSS_BOUND_KIB} KiB bound"
    );
    // The transcript holds the refusal, not hundreds of megabytes.
    let size: u64 = std::fs::read_dir(pep.state.join("transcripts"))
        .expect("ls")
        .flatten()
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum();
    assert!(size < 8 << 20, "transcripts hold {size} bytes");
}

#[test]
fn a_pipeline_longer_than_the_bound_is_refused() {
    let pep = Pep::start_with(&["--max-pipeline", "8"]);
    let (_op, sup) = pep.granted("Diagnostics");
    let line = format!(
        "Get-AzsSupportStampVersion{}",
        " | Select-Object *".repeat(8)
    );
    let r = pep.exec(&sup, &line);
    assert_eq!(r.status, Some(1));
    assert!(r.stderr.contains("at most 8"), "{r:?}");
    let ok = format!(
        "Get-AzsSupportStampVersion{}",
        " | Select-Object *".repeat(7)
    );
    assert!(pep.exec(&sup, &ok).ok());
}

/// Mounts a tmpfs of `mib` MiB at `dir` (tests run as root). None (with a note) where mounting
/// is not possible, unless CI=true, where it fails.
fn tmpfs(dir: &Path, mib: u64) -> Option<Mount> {
    std::fs::create_dir_all(dir).expect("mkdir");
    let ok = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            &format!("size={mib}m,mode=0700"),
            "tmpfs",
        ])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").is_err(),
            "CI must be able to mount a tmpfs (run as root)"
        );
        eprintln!("note: cannot mount a tmpfs here; skipping the full-disk test");
        return None;
    }
    Some(Mount(dir.to_path_buf()))
}

struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `dir` with a file until it is full.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("filler");
    let block = vec![0xa5u8; 1 << 20];
    while f.write_all(&block).is_ok() {}
    let small = [0u8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.flush();
    path
}

/// An interactive session of `key`, at its prompt.
fn live(pep: &Pep, key: &Key) -> Pty {
    let mut s = pep.pty(key);
    s.wait_for("PS>", Duration::from_secs(10)).expect("prompt");
    s
}

/// pep on a fresh `mib`-MiB tmpfs state directory with `extra` arguments, olivia and sam
/// registered and `level` granted (None where no tmpfs can be mounted outside CI).
fn on_tmpfs(mib: u64, extra: &[&str], level: &str) -> Option<(Mount, Pep, Key, Key)> {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let mount = tmpfs(&state, mib)?;
    let pep = Pep::start_at(dir, state, extra);
    let (op, sup) = pep.granted(level);
    Some((mount, pep, op, sup))
}

/// Waits until `pty`'s client has exited; the time it took.
fn ended_within(pty: &mut Pty, needle: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    pty.wait_for(needle, limit + Duration::from_secs(2))
        .unwrap_or_else(|o| panic!("no '{needle}': {o}"));
    start.elapsed()
}

#[test]
fn revocation_with_a_full_state_disk_ends_sessions_and_survives_restart() {
    let Some((_mount, mut pep, op, sup)) =
        on_tmpfs(48, &["--state-headroom-mb", "8"], "Diagnostics")
    else {
        return;
    };
    let mut live = live(&pep, &sup);
    // The support engineer prints and saves output until the budget refuses it: each line
    // below writes megabytes of transcript.
    let big = format!(
        "Get-AzsSupportStampVersion{}",
        " | ConvertTo-Json".repeat(19)
    );
    let mut refused = None;
    for i in 0..60 {
        let r = pep.exec(&sup, &big);
        if !r.ok() {
            refused = Some((i, r));
            break;
        }
    }
    let (_, r) = refused.expect("support writes are refused before the disk is full");
    assert!(
        r.stderr.contains("kept free") || r.stderr.contains("disk budget"),
        "a clear line: {r:?}"
    );
    // Revocation still works, at once.
    let d = pep.exec(&op, "Disable-RemoteSupport");
    assert!(d.ok(), "{d:?}");
    let took = ended_within(&mut live, "consent was revoked", Duration::from_secs(1));
    assert!(took < Duration::from_secs(1), "{took:?}");
    let r = pep.exec(&sup, "Get-AzsSupportStampVersion");
    assert_eq!(r.status, Some(3));
    // And survives a restart.
    pep.stop();
    pep.spawn();
    let r = pep.exec(&sup, "Get-AzsSupportStampVersion");
    assert_eq!(r.status, Some(3), "{r:?}");
    assert!(r.stderr.contains("not enabled"), "{r:?}");
    let a = pep.exec(&op, "Get-RemoteSupportAccess");
    assert!(a.ok() && !a.stdout.contains("Active"), "{a:?}");
}

#[test]
fn a_revocation_that_cannot_be_written_is_in_force_and_kept_at_restart() {
    let Some((_mount, mut pep, op, sup)) =
        on_tmpfs(16, &["--state-headroom-mb", "4"], "DiagnosticsRepair")
    else {
        return;
    };
    let state = pep.state.clone();
    let mut live = live(&pep, &sup);
    // Something else fills the disk: nothing pep writes fits any more.
    let filler = fill(&state);
    let d = pep.exec(&op, "Disable-RemoteSupport");
    assert!(d.ok(), "the operator can still revoke: {d:?}");
    assert!(d.stdout.contains("WARNING"), "told it is not saved: {d:?}");
    let took = ended_within(&mut live, "consent was revoked", Duration::from_secs(1));
    assert!(took < Duration::from_secs(1), "{took:?}");
    let r = pep.exec(&sup, "Get-AzsSupportStampVersion");
    assert_eq!(r.status, Some(1), "new logins refused: {r:?}");
    // A restart while the disk is still full keeps remote support revoked.
    pep.stop();
    pep.spawn();
    let r = pep.exec(&sup, "Get-AzsSupportStampVersion");
    assert_eq!(r.status, Some(1), "{r:?}");
    // Space comes back: the grants are written in full again.
    std::fs::remove_file(&filler).expect("rm");
    let a = pep.exec(&op, "Get-RemoteSupportAccess -IncludeExpired");
    assert!(a.ok() && a.stdout.contains("Revoked"), "{a:?}");
    // The retry writes the grants in full within a few seconds.
    let until = Instant::now() + Duration::from_secs(8);
    let written =
        || state.join("consent.json").exists() && !state.join("consent.revoked.json").exists();
    while !written() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    let consent = std::fs::read_to_string(state.join("consent.json")).expect("consent.json");
    assert!(!state.join("consent.revoked.json").exists());
    assert!(consent.contains("revoked_at\": \"20"), "{consent}");
}

#[test]
fn a_failed_transcript_write_ends_the_support_session() {
    let Some((_mount, pep, _op, sup)) = on_tmpfs(16, &["--state-headroom-mb", "0"], "Diagnostics")
    else {
        return;
    };
    let state = pep.state.clone();
    let mut live = live(&pep, &sup);
    let filler = fill(&state);
    live.send(b"Get-AzsSupportStampVersion\r");
    live.wait_for("can no longer be recorded", Duration::from_secs(5))
        .expect("the session ends instead of running unrecorded");
    assert!(live.wait_exit(Duration::from_secs(5)).is_some());
    std::fs::remove_file(filler).expect("rm");
}

#[test]
fn a_confirmation_answered_after_the_level_was_lowered_is_refused() {
    let pep = Pep::start();
    let (op, sup) = pep.granted("DiagnosticsRepair");
    let stop = pep.exec(
        &sup,
        "Stop-AzsSupportService -ComputerName AZS-SQL01 -Name MSSQLSERVER -Confirm:$false",
    );
    assert!(stop.ok(), "{stop:?}");
    let mut s = live(&pep, &sup);
    s.send(b"Start-AzsSupportService -ComputerName AZS-SQL01 -Name MSSQLSERVER\r");
    s.wait_for("[Y] Yes", Duration::from_secs(10))
        .expect("asks first");
    let lower = pep.exec(&op, "Set-RemoteSupportAccess -AccessLevel Diagnostics");
    assert!(lower.ok(), "{lower:?}");
    s.send(b"Y\r");
    s.wait_for("confirmation was refused", Duration::from_secs(10))
        .expect("the answer is authorized when it arrives");
    // Nothing was started.
    let st = pep.exec(
        &sup,
        "Get-AzsSupportService -ComputerName AZS-SQL01 -Name MSSQLSERVER | Select-Object -ExpandProperty State",
    );
    assert!(st.ok(), "{st:?}");
    assert!(st.stdout.contains("Stopped"), "{st:?}");
    s.send(b"exit\r");
    let _ = s.wait_exit(Duration::from_secs(5));
    let all = pep.transcripts();
    assert!(all.contains("confirmation was refused"), "{all}");
    assert!(
        all.contains("access level changed from DiagnosticsRepair to Diagnostics"),
        "{all}"
    );
    let h = pep.exec(
        &op,
        "Get-RemoteSupportSessionHistory | Select-Object -ExpandProperty AccessLevel",
    );
    assert!(
        h.stdout.contains("DiagnosticsRepair, then Diagnostics"),
        "{h:?}"
    );
}

#[test]
fn identity_removal_ends_live_sessions_and_connections_within_a_second() {
    let pep = Pep::start();
    let (op, sup) = pep.granted("Diagnostics");
    let _ = op;
    let mut live = live(&pep, &sup);
    // A multiplexed master connection with no session open.
    let ctl = pep.dir.path().join("ctl");
    let mut master = pep.control_master(&sup, &ctl);
    let out = Command::new(PEP)
        .args(["identity", "remove", "--state"])
        .arg(&pep.state)
        .args(["--name", "sam"])
        .output()
        .expect("remove");
    assert!(out.status.success());
    // The endpoint reads the identities every 250 ms; the rest of the bound is room for a
    // loaded machine.
    let start = Instant::now();
    live.wait_for("was removed", Duration::from_secs(3))
        .expect("the live session ends");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // The master connection is cut too.
    let until = Instant::now() + Duration::from_secs(5);
    let mut gone = false;
    while Instant::now() < until {
        if master.try_wait().ok().flatten().is_some() {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = master.kill();
    let _ = master.wait();
    assert!(gone, "the multiplexed connection ended");
}

#[test]
fn sigterm_ends_sessions_with_their_records() {
    let mut pep = Pep::start();
    let (_op, sup) = pep.granted("Diagnostics");
    let mut live = live(&pep, &sup);
    let status = pep.terminate(Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "exit 0: {status:?}");
    live.wait_for("shutting down", Duration::from_secs(3))
        .expect("told why");
    let all = pep.transcripts();
    assert!(
        all.contains("End reason: the endpoint is shutting down"),
        "{all}"
    );
    let records: Vec<String> = std::fs::read_dir(pep.state.join("sessions"))
        .expect("ls")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).expect("read"))
        .collect();
    assert!(
        records
            .iter()
            .any(|r| r.contains("\"end_reason\": \"the endpoint is shutting down")),
        "{records:?}"
    );
}

#[test]
fn refused_login_and_unreadable_input_are_transcribed() {
    let pep = Pep::start();
    let op = pep.identity("operator", "olivia");
    let sup = pep.identity("support", "sam");
    let r = pep.exec(&sup, "Get-AzsSupportStampVersion -Tried 1");
    assert_eq!(r.status, Some(3));
    let all = pep.transcripts();
    assert!(
        all.contains("PS>Refused: \"Get-AzsSupportStampVersion -Tried 1\""),
        "{all}"
    );
    pep.grant(&op, "Diagnostics");
    let mut long = b"Write-Host ".to_vec();
    long.extend(std::iter::repeat_n(b'A', 5000));
    let r = pep.exec_bytes(&sup, &long);
    assert_eq!(r.status, Some(1));
    let r = pep.exec_bytes(&sup, b"Get-AzsSupportStampVersion \xff\xfe");
    assert_eq!(r.status, Some(1));
    let all = pep.transcripts();
    assert!(all.contains("PS>Refused: \"Write-Host AAAA"), "{all}");
    assert!(all.contains("more bytes not recorded"), "{all}");
    assert!(
        all.contains("PS>Refused: \"Get-AzsSupportStampVersion \u{fffd}\u{fffd}\""),
        "{all}"
    );
}

#[test]
fn an_oversized_line_without_a_pty_is_discarded_to_its_newline() {
    let pep = Pep::start();
    let (_op, sup) = pep.granted("Diagnostics");
    let mut input = b"Write-Host ".to_vec();
    input.extend(std::iter::repeat_n(b'A', 65_525));
    input.extend_from_slice(b"Get-AzsSupportStampVersion\nGet-AzsSupportClusterResource | Measure-Object | Select-Object -ExpandProperty Count\n");
    let r = pep.lines(&sup, &input);
    assert!(
        !r.stdout.contains("Version"),
        "the tail of the long line never runs: {r:?}"
    );
    assert!(r.stderr.contains("longer than"), "{r:?}");
    assert!(
        r.stdout.trim().parse::<u32>().is_ok(),
        "the next line runs: {r:?}"
    );
}

#[test]
fn a_client_that_stops_reading_is_cut_off_at_revocation() {
    let pep = Pep::start();
    let (op, sup) = pep.granted("Diagnostics");
    // A client that asks for a lot of output and never reads it.
    let mut child = pep
        .ssh_base(&sup)
        .arg("-T")
        .arg("anyuser@127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh");
    let mut stdin = child.stdin.take().expect("stdin");
    for _ in 0..20 {
        let _ = stdin.write_all(b"Get-AzsSupportClusterResource | Format-List *\n");
    }
    let _ = stdin.flush();
    // The session is open and running the first command (its transcript says so).
    let until = Instant::now() + Duration::from_secs(10);
    while !pep.transcripts().contains("Get-AzsSupportClusterResource") && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(pep.transcripts().contains("Get-AzsSupportClusterResource"));
    assert!(pep.exec(&op, "Disable-RemoteSupport").ok());
    let start = Instant::now();
    let until = Instant::now() + Duration::from_secs(10);
    let mut ended = None;
    while Instant::now() < until {
        if child.try_wait().ok().flatten().is_some() {
            ended = Some(start.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let took = ended.expect("the connection was cut although the client never read");
    // The session ended at once (no line runs after the revocation); its socket goes after fixed
    // waits that add up to 2.5 s for a client that does not read: the last words (0.5 s), the
    // disconnect's grace (1 s) and write (0.5 s), and the cut's grace (0.5 s). The connection's
    // own check would cut it only 3.5 s + 2 s on.
    assert!(took < Duration::from_secs(4), "{took:?}");
    pep.wait_for_transcripts(
        "End reason: remote support consent was revoked",
        Duration::from_secs(5),
    )
    .expect("the transcript records the revocation");
}

#[test]
fn ten_sequential_sessions_over_one_multiplexed_connection() {
    let pep = Pep::start();
    let (op, _sup) = pep.granted("Diagnostics");
    let ctl = pep.dir.path().join("mux");
    let mut master = pep.control_master(&op, &ctl);
    for i in 0..10 {
        let out = pep
            .ssh_base(&op)
            .args(["-o", "ControlMaster=no", "-o"])
            .arg(format!("ControlPath={}", ctl.display()))
            .args(["anyuser@127.0.0.1", "Get-RemoteSupportAccess"])
            .stdin(Stdio::null())
            .output()
            .expect("ssh");
        assert!(
            out.status.success(),
            "session {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = master.kill();
    let _ = master.wait();
}

#[test]
fn files_pep_writes_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let pep = Pep::start();
    let (_op, sup) = pep.granted("Diagnostics");
    let r = pep.exec(
        &sup,
        "Get-AzsSupportClusterResource | Save-AzsSupportObjectToFile -FilePrefix nodes",
    );
    assert!(r.ok(), "{r:?}");
    let mut checked = 0;
    let mut stack = vec![pep.state.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("ls").flatten() {
            let m = e.metadata().expect("meta");
            let mode = m.permissions().mode() & 0o777;
            if m.is_dir() {
                assert_eq!(mode, 0o700, "{}", e.path().display());
                stack.push(e.path());
            } else {
                assert_eq!(mode, 0o600, "{}", e.path().display());
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "{checked}");
}

#[test]
fn clearing_the_parent_working_directory_spares_live_sessions_and_needs_a_day() {
    let pep = Pep::start();
    let (_op, sup) = pep.granted("Diagnostics");
    let mut live = live(&pep, &sup);
    live.send(b"Get-AzsSupportClusterResource | Save-AzsSupportObjectToFile -FilePrefix mine\r");
    live.wait_for("mine_", Duration::from_secs(10))
        .expect("saved");
    let r = pep.exec(
        &sup,
        "Clear-AzsSupportParentWorkingDirectory -OlderThanDays 0",
    );
    assert_eq!(r.status, Some(2), "{r:?}");
    let r = pep.exec(
        &sup,
        "Clear-AzsSupportParentWorkingDirectory -OlderThanDays 1",
    );
    assert!(r.ok(), "{r:?}");
    live.send(b"Get-AzsSupportWorkingDirectoryFiles -Recurse\r");
    live.wait_for("mine_", Duration::from_secs(10))
        .expect("the live session's file is still there");
}

#[test]
fn secrets_never_reach_the_transcript_however_they_are_given() {
    let pep = Pep::start_with(&["--redact-pattern", "CASE-[0-9]{6}"]);
    let op = pep.identity("operator", "olivia");
    for line in [
        "Unlock-SupportSession SECRETpositional1",
        "Unlock-SupportSession -Resp SECRETabbreviated2",
        "Unlock-SupportSession -ResponseToken:SECRETcolon3",
        "Unlock-SupportSession 'SECRET spaced 4'",
        "Get-AzureStackLog -OutputSasUri 'https://a.blob.core.windows.net/c?sv=1&%73ig%3DSECRETencoded5&se=2'",
        "Get-AzsSupportStampVersion CASE-123456",
    ] {
        let _ = pep.exec(&op, line);
    }
    let all = pep.transcripts();
    assert!(all.contains("Unlock-SupportSession"), "{all}");
    assert!(!all.contains("SECRET"), "{all}");
    assert!(!all.contains("CASE-123456"), "{all}");
}

#[test]
fn a_bad_redaction_pattern_stops_the_server() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(PEP)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--redact-pattern",
            "(unclosed",
            "--state",
        ])
        .arg(dir.path().join("state"))
        .output()
        .expect("pep");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--redact-pattern") && err.contains("(unclosed"),
        "{err}"
    );
}
