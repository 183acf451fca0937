//! Elevation over SSH: an operator's interactive session asks for a request token, the vendor
//! signs it with `ssh-keygen -Y sign`, the session unlocks and runs a break-glass command; the
//! same response is refused on reuse and in another session, and responses by a stranger's key,
//! for another namespace or over another request are refused with one line.

use crate::harness::{Key, Pep, PEP};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
}

/// `printf %s "$REQUEST" | ssh-keygen -Y sign -f KEY -n NS`, the body on one line.
fn sign(key: &Path, ns: &str, request: &str) -> String {
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", ns, "-f"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh-keygen -Y sign");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("signed");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

/// A registered vendor key (its private key file).
fn vendor(pep: &Pep) -> PathBuf {
    let key = pep.dir.path().join("vendor");
    keygen(&key);
    let out = Command::new(PEP)
        .args(["vendor-key", "add", "--state"])
        .arg(&pep.state)
        .args(["--name", "contoso", "--key"])
        .arg(key.with_extension("pub"))
        .output()
        .expect("pep vendor-key add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    key
}

/// Asks for a request token and returns the one the session printed.
fn request_token(s: &mut crate::harness::Pty) -> String {
    let before = s.output().len();
    s.send(b"Get-SupportSessionToken\r");
    let start = std::time::Instant::now();
    while start.elapsed() < WAIT {
        let out = s.output();
        let found = out
            .get(before..)
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .find(|l| {
                l.len() > 60
                    && l.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            })
            .map(str::to_string);
        if let Some(t) = found {
            return t;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no token on screen: {}", s.output());
}

#[test]
fn a_vendor_signed_token_elevates_one_session_once() {
    let pep = Pep::start_with(&["--scenario", "host-paused-maintenance"]);
    let op: Key = pep.identity("operator", "olivia");
    let vendor_key = vendor(&pep);
    let stranger = pep.dir.path().join("stranger");
    keygen(&stranger);

    let mut s = pep.pty(&op);
    s.wait_for("PS> ", WAIT).expect("prompt");
    // Locked: break-glass commands are not there.
    s.send(b"Resume-AzsScaleUnitNode -Name AZS-HOST03 -Confirm:$false\r");
    s.wait_for("vendor-signed token", WAIT)
        .expect("refused while locked");
    let request = request_token(&mut s);

    // Wrong signer, wrong namespace, wrong request: one line each, still locked.
    for (bad, why) in [
        (
            sign(&stranger, "pep-unlock", &request),
            "not a registered vendor key",
        ),
        (sign(&vendor_key, "file", &request), "namespace 'file'"),
        (
            sign(&vendor_key, "pep-unlock", "another request"),
            "another token",
        ),
    ] {
        s.send(format!("Unlock-SupportSession -ResponseToken {bad}\r").as_bytes());
        s.wait_for(why, WAIT).expect(why);
    }
    s.send(b"Get-SupportSessionInfo\r");
    s.wait_for("Pending", WAIT).expect("still pending");

    let good = sign(&vendor_key, "pep-unlock", &request);
    s.send(format!("Unlock-SupportSession -ResponseToken {good}\r").as_bytes());
    s.wait_for("Elevated", WAIT).expect("elevated");
    s.send(b"Get-SupportSessionInfo | Format-List\r");
    s.wait_for("VendorKeyFingerprint", WAIT).expect("info");
    s.send(b"Resume-AzsScaleUnitNode -Name AZS-HOST03 -Confirm:$false\r");
    s.wait_for("Up", WAIT).expect("the paused host resumed");

    // The same response again, here and in another session: refused.
    s.send(b"Get-SupportSessionToken\r");
    s.wait_for("elevated already", WAIT)
        .expect("no second request");
    let mut other = pep.pty(&op);
    other.wait_for("PS> ", WAIT).expect("prompt");
    other.send(format!("Unlock-SupportSession -ResponseToken {good}\r").as_bytes());
    other
        .wait_for("run Get-SupportSessionToken first", WAIT)
        .expect("no request in the other session");
    request_token(&mut other);
    other.send(format!("Unlock-SupportSession -ResponseToken {good}\r").as_bytes());
    other
        .wait_for("another token", WAIT)
        .expect("the old response answers another request");

    // Close-PrivilegedEndpoint ends the session and its elevation.
    s.send(b"Close-PrivilegedEndpoint\r");
    assert!(s.wait_exit(WAIT).is_some(), "the session ended");

    let audit = std::fs::read_to_string(pep.state.join("audit/audit.jsonl")).expect("audit");
    for kind in [
        "vendor_key_added",
        "elevation_requested",
        "elevation_refused",
        "elevation_granted",
        "elevation_ended",
    ] {
        assert!(
            audit.contains(&format!("\"event\":\"{kind}\"")),
            "no {kind}"
        );
    }
    assert!(
        !audit.contains(&good),
        "a response token reached the audit log"
    );
    assert!(
        !pep.transcripts().contains(&good),
        "a response token reached a transcript"
    );
}

#[test]
fn the_response_can_be_pasted_armored_at_the_prompt() {
    let pep = Pep::start();
    let op: Key = pep.identity("operator", "olivia");
    let vendor_key = vendor(&pep);
    let mut s = pep.pty(&op);
    s.wait_for("PS> ", WAIT).expect("prompt");
    let request = request_token(&mut s);
    let body = sign(&vendor_key, "pep-unlock", &request);
    s.send(b"Unlock-SupportSession\r");
    s.wait_for("ResponseToken: ", WAIT)
        .expect("prompt for the token");
    s.send(b"-----BEGIN SSH SIGNATURE-----\r");
    for chunk in body.as_bytes().chunks(70) {
        s.send(chunk);
        s.send(b"\r");
    }
    s.send(b"-----END SSH SIGNATURE-----\r");
    s.wait_for("Elevated", WAIT)
        .expect("elevated from the pasted text");
    s.send(b"exit\r");
    assert!(s.wait_exit(WAIT).is_some());
    let first = &body[..40];
    assert!(
        !pep.transcripts().contains(first),
        "a pasted response reached the transcript"
    );
}

#[test]
fn close_ships_ended_sessions_transcripts_verifies_them_and_removes_them_here() {
    let pep = Pep::start();
    let (op, sup) = pep.granted("Diagnostics");
    let r = pep.exec(&sup, "Get-Command Get-AzsSupportProcess");
    assert!(r.ok(), "{r:?}");
    let transcripts = pep.state.join("transcripts");
    let before: Vec<_> = std::fs::read_dir(&transcripts)
        .expect("dir")
        .filter_map(Result::ok)
        .collect();
    assert!(before.len() >= 2, "{before:?}");
    let archive = pep.dir.path().join("archive");
    std::fs::create_dir(&archive).expect("archive");
    // Not a directory, relative, or up and out: refused, nothing moves.
    for bad in ["relative/dir", "/etc/../tmp", "/no/such/dir"] {
        let r = pep.exec(
            &op,
            &format!("Close-PrivilegedEndpoint -TranscriptsPathDestination {bad}"),
        );
        assert!(!r.ok(), "{bad}: {r:?}");
    }
    let mut s = pep.pty(&op);
    s.wait_for("PS> ", WAIT).expect("prompt");
    s.send(
        format!(
            "Close-PrivilegedEndpoint -TranscriptsPathDestination {}\r",
            archive.display()
        )
        .as_bytes(),
    );
    s.wait_for("verified them and removed them here", WAIT)
        .expect("shipped");
    assert!(s.wait_exit(WAIT).is_some(), "the session ended");
    let folder = std::fs::read_dir(&archive)
        .expect("archive")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("pep-transcripts-"))
        })
        .expect("a new folder");
    let copied: Vec<String> = std::fs::read_dir(folder.join("transcripts"))
        .expect("copied transcripts")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(copied.len() >= 2, "{copied:?}");
    let recordings = std::fs::read_dir(folder.join("recordings"))
        .expect("recordings")
        .count();
    assert!(recordings >= 2, "{recordings}");
    for name in &copied {
        assert!(
            !transcripts.join(name).exists(),
            "{name} is still on the endpoint"
        );
    }
    let audit = std::fs::read_to_string(pep.state.join("audit/audit.jsonl")).expect("audit");
    assert!(
        audit.contains("\"event\":\"transcripts_shipped\""),
        "{audit}"
    );
}

/// libfaketime (Debian `faketime`, installed by `.ci/run`) reading its offset from a file the
/// test rewrites: pep's clock (wall and monotonic) jumps when the test says.
struct MovableClock {
    file: PathBuf,
}

impl MovableClock {
    fn install(pep: &mut Pep) -> Option<MovableClock> {
        let lib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
        if !Path::new(lib).exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "libfaketime is missing under CI=true (Debian package faketime)"
            );
            eprintln!("skipped: libfaketime is not installed");
            return None;
        }
        let file = pep.dir.path().join("clock-offset");
        std::fs::write(&file, "+0\n").expect("clock file");
        pep.env = vec![
            ("LD_PRELOAD".into(), lib.into()),
            ("FAKETIME_TIMESTAMP_FILE".into(), file.display().to_string()),
            ("FAKETIME_NO_CACHE".into(), "1".into()),
        ];
        pep.stop();
        pep.spawn();
        Some(MovableClock { file })
    }

    /// Moves pep's clock to `offset` ahead of the real one, in one unit ("+61m", "+7h":
    /// libfaketime does not read compound offsets such as "+8h1m": the clock would go back).
    fn set(&self, offset: &str) {
        std::fs::write(&self.file, format!("{offset}\n")).expect("clock file");
    }
}

#[test]
fn elevation_ends_after_8_hours_and_a_request_expires_after_one() {
    let mut pep = Pep::start_with(&[
        "--scenario",
        "host-paused-maintenance",
        "--idle-timeout-secs",
        "0",
    ]);
    let Some(clock) = MovableClock::install(&mut pep) else {
        return;
    };
    let op: Key = pep.identity("operator", "olivia");
    let vendor_key = vendor(&pep);

    let mut s = pep.pty(&op);
    s.wait_for("PS> ", WAIT).expect("prompt");
    let request = request_token(&mut s);
    s.send(
        format!(
            "Unlock-SupportSession -ResponseToken {}\r",
            sign(&vendor_key, "pep-unlock", &request)
        )
        .as_bytes(),
    );
    s.wait_for("Elevated", WAIT).expect("elevated");

    // A request answered 61 minutes after it was made is refused.
    let mut late = pep.pty(&op);
    late.wait_for("PS> ", WAIT).expect("prompt");
    let stale = request_token(&mut late);
    clock.set("+61m");
    late.send(
        format!(
            "Unlock-SupportSession -ResponseToken {}\r",
            sign(&vendor_key, "pep-unlock", &stale)
        )
        .as_bytes(),
    );
    late.wait_for("the request expired", WAIT)
        .expect("an expired request is refused");
    late.send(b"Get-SupportSessionInfo\r");
    late.wait_for("Locked", WAIT).expect("still locked");

    // Seven hours in, still elevated; past eight, locked again, and the break-glass command is
    // refused.
    clock.set("+7h");
    let mark = s.output().len();
    s.send(b"Get-SupportSessionInfo\r");
    s.wait_for("Elevated", WAIT).expect("elevated at 7 hours");
    assert!(s.output()[mark..].contains("Elevated"));
    clock.set("+481m");
    let mark = s.output().len();
    s.send(b"Get-SupportSessionInfo\r");
    s.wait_for("Locked", WAIT).expect("locked after 8 hours");
    assert!(!s.output()[mark..].contains("Elevated"), "{}", s.output());
    s.send(b"Resume-AzsScaleUnitNode -Name AZS-HOST03 -Confirm:$false\r");
    s.wait_for("vendor-signed token", WAIT)
        .expect("break-glass refused again");
    s.send(b"exit\r");
    assert!(s.wait_exit(WAIT).is_some());
    let audit = std::fs::read_to_string(pep.state.join("audit/audit.jsonl")).expect("audit");
    assert!(
        audit.contains("its 8 hours passed"),
        "the end of the elevation is in the audit log"
    );
}
