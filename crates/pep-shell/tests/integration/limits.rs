//! Bounds: pre-authentication floods, clients that never authenticate, idle sessions, and a bad
//! catalog (a broken file, an entry without an implementation, an implementation without an entry)
//! or scenario stopping the server at start with a message naming the file and entry.

use crate::harness::*;
use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn preauth_flood_is_bounded_and_service_resumes() {
    let pep = Pep::start_with(&["--max-unauthenticated", "8", "--login-grace-secs", "2"]);
    let op = pep.identity("operator", "olivia");
    let mut flood: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(("127.0.0.1", pep.port)).expect("connect"))
        .collect();
    // Connections past the limit are closed at once; the rest when the grace time runs out.
    let start = Instant::now();
    let mut closed = 0;
    for s in &mut flood {
        s.set_read_timeout(Some(Duration::from_secs(6)))
            .expect("timeout");
        let mut buf = [0u8; 256];
        // Read past the server's identification line until EOF.
        loop {
            match s.read(&mut buf) {
                Ok(0) => {
                    closed += 1;
                    break;
                }
                Ok(_) => continue,
                // A reset is the server closing it too (it never read what is in flight).
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    closed += 1;
                    break;
                }
                Err(e) => {
                    eprintln!("a flood connection was not closed: {e}");
                    break;
                }
            }
        }
    }
    assert_eq!(closed, 40, "every idle connection was closed by the server");
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "within the grace time: {:?}",
        start.elapsed()
    );
    drop(flood);
    let r = pep.exec(&op, "Get-RemoteSupportAccess -IncludeExpired");
    assert!(r.ok(), "serving again: {r:?}");
}

#[test]
fn bad_catalog_or_scenario_stops_the_server_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let cat = dir.path().join("catalog");
    std::fs::create_dir(&cat).expect("mkdir");
    std::fs::write(
        cat.join("broken.toml"),
        "version = 1\ngroup = \"X\"\nprofile = \"azs-hub\"\n\n[[command]]\nname = \"Get-Thing\"\naccess = \"Diagnostics\"\nsynopsis = \"s\"\ndescription = \"d\"\n\n[command.output]\ntype_name = \"T\"\nproperties = [\"A\"]\nview = \"table\"\n\n[[command.parameter]]\nname = \"Name\"\ntype = \"string\"\nhelp = \"h\"\nvalidate_pattern = \"[a-z]+\"\n\n[[command.example]]\ncode = \"Get-Thing\"\nremarks = \"r\"\n",
    )
    .expect("write");
    let out = std::process::Command::new(PEP)
        .args(["serve", "--listen", "127.0.0.1:0", "--state"])
        .arg(dir.path().join("state"))
        .arg("--catalog")
        .arg(&cat)
        .output()
        .expect("run pep");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.toml") && err.contains("Get-Thing") && err.contains("Name"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let scen = dir.path().join("bad.toml");
    std::fs::write(&scen, "version = 1\nname = \"x\"\n").expect("write");
    let out = std::process::Command::new(PEP)
        .args(["serve", "--listen", "127.0.0.1:0", "--state"])
        .arg(dir.path().join("state"))
        .arg("--scenario")
        .arg(&scen)
        .output()
        .expect("run pep");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("stamp"), "{err}");

    // A protected unit that is not a unit name is a usage error, before anything starts.
    let out = std::process::Command::new(PEP)
        .args(["serve", "--listen", "127.0.0.1:0", "--state"])
        .arg(dir.path().join("state2"))
        .args(["--host-protect-unit", "db/../x"])
        .output()
        .expect("run pep");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--host-protect-unit") && err.contains("not a service name"),
        "{err}"
    );
    assert!(!dir.path().join("state2").exists(), "nothing was created");

    // A state directory beneath a folder the file commands read: support could copy the
    // endpoint's host key out. Refused in one line before anything listens.
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let out = std::process::Command::new(PEP)
        .args(["serve", "--listen", "127.0.0.1:0", "--state"])
        .arg(logs.join("pep"))
        .arg("--host-read-root")
        .arg(&logs)
        .output()
        .expect("run pep");
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("lies beneath the host read root") && err.contains("host key"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
}

/// A copy of the catalog pep compiles in, in `dir/catalog`, each file passed through `edit`.
fn catalog_copy(dir: &std::path::Path, edit: impl Fn(&str, &str) -> String) -> std::path::PathBuf {
    let cat = dir.join("catalog");
    std::fs::create_dir(&cat).expect("mkdir");
    for (name, text) in azs_support::catalog::embedded_files() {
        let file = name.rsplit('/').next().unwrap_or(name);
        std::fs::write(cat.join(file), edit(file, text)).expect("write");
    }
    cat
}

/// `pep serve --catalog cat`: it must stop at start; its stderr.
fn serve_refuses(dir: &std::path::Path, cat: &std::path::Path) -> String {
    let out = std::process::Command::new(PEP)
        .args(["serve", "--listen", "127.0.0.1:0", "--state"])
        .arg(dir.join("state"))
        .arg("--catalog")
        .arg(cat)
        .output()
        .expect("run pep");
    assert!(!out.status.success(), "pep started: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    err
}

#[test]
fn a_catalog_entry_without_an_implementation_stops_the_server_naming_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let cat = catalog_copy(dir.path(), |file, text| {
        if file != "cluster.toml" {
            return text.to_string();
        }
        format!(
            "{text}\n[[command]]\nname = \"Get-AzsSupportNoSuchThing\"\naccess = \"Diagnostics\"\n\
             synopsis = \"s\"\ndescription = \"d\"\n\n[[command.example]]\n\
             code = \"Get-AzsSupportNoSuchThing\"\n\n[command.output]\ntype_name = \"T\"\n\
             properties = [\"A\"]\nview = \"table\"\n"
        )
    });
    let err = serve_refuses(dir.path(), &cat);
    assert!(
        err.contains("cluster.toml")
            && err.contains("Get-AzsSupportNoSuchThing")
            && err.contains("no implementation"),
        "{err}"
    );
}

#[test]
fn an_implementation_without_a_catalog_entry_stops_the_server_naming_it() {
    let dir = tempfile::tempdir().expect("tmp");
    // working-directory.toml without its Get-AzsSupportWorkingDirectory entry.
    let cat = catalog_copy(dir.path(), |file, text| {
        if file != "working-directory.toml" {
            return text.to_string();
        }
        text.split("[[command]]")
            .filter(|entry| !entry.contains("name = \"Get-AzsSupportWorkingDirectory\"\n"))
            .collect::<Vec<_>>()
            .join("[[command]]")
    });
    let err = serve_refuses(dir.path(), &cat);
    assert!(
        err.contains("'Get-AzsSupportWorkingDirectory' has no catalog entry"),
        "{err}"
    );
}

#[test]
fn an_unchanged_copy_of_the_catalog_serves() {
    let dir = tempfile::tempdir().expect("tmp");
    let cat = catalog_copy(dir.path(), |_, text| text.to_string());
    let cat = cat.to_string_lossy().into_owned();
    let pep = Pep::start_with(&["--catalog", &cat]);
    let (_op, sup) = pep.granted("Diagnostics");
    let r = pep.exec(&sup, "Get-AzsSupportStampVersion");
    assert!(r.ok(), "{r:?}");
}

#[test]
fn idle_sessions_end_and_typing_keeps_them_alive() {
    let pep = Pep::start_with(&["--idle-timeout-secs", "2"]);
    let (_op, sup) = pep.granted("Diagnostics");
    let mut s = pep.pty(&sup);
    s.wait_for(PROMPT, T).expect("prompt");
    // Type one key every 150 ms: over 4 s in all, twice the idle timeout.
    let typed_from = Instant::now();
    for b in "Get-AzsSupportStampVersion".bytes() {
        s.send(&[b]);
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(typed_from.elapsed() > Duration::from_secs(3));
    // The last input: the server receives it after this instant, so the idle end comes at least
    // 2 s later.
    let quiet_from = Instant::now();
    s.send(b"\r");
    s.wait_for("1.2408.1.50", T)
        .expect("a session that is typed into stays open");
    let st = s
        .wait_exit(Duration::from_secs(15))
        .expect("the idle session ended");
    let after = quiet_from.elapsed();
    assert!(
        after >= Duration::from_secs(2) && after < Duration::from_secs(10),
        "ended {after:?} after the last input (timeout 2 s)"
    );
    assert!(!st.success());
    assert!(
        s.output()
            .contains("the session had no input for 2 seconds and has ended"),
        "{}",
        s.output()
    );
    pep.wait_for_transcripts("had no input for 2 seconds", Duration::from_secs(5))
        .expect("the transcript records why the session ended");
    // The server keeps serving.
    assert!(pep.exec(&sup, "Get-AzsSupportStampVersion").ok());
}
