//! Interactive sessions through `ssh -tt`: the prompt, the line editor's keys, history, Tab
//! completion limited to what the caller may run, Ctrl-C, Ctrl-D and exit; and on a real
//! terminal, tables that refit when the window is resized; repairs that ask before they change
//! anything.

use crate::harness::*;

#[test]
fn editor_keys_history_and_completion() {
    let pep = Pep::start();
    let (_op, sup) = pep.granted("Diagnostics");
    let mut s = pep.pty(&sup);
    s.wait_for(PROMPT, T).expect("prompt names the PEP node");

    // Tab completes a unique command name; Enter runs it.
    s.send(b"Get-AzsSupportStampV\t");
    s.wait_for("Get-AzsSupportStampVersion ", T)
        .expect("completed");
    s.send(b"\r");
    s.wait_for("1.2408.1.50", T).expect("ran");
    s.wait_for(PROMPT, T).expect("prompt");

    // Up arrow recalls it.
    s.send(b"\x1b[A\r");
    s.wait_for("1.2408.1.50", T).expect("history recalled");
    s.wait_for(PROMPT, T).expect("prompt");

    // Two candidates: a second Tab lists both.
    s.send(b"Get-AzsSupportStamp\t\t");
    let listed = s.wait_for("Get-AzsSupportStampVersion", T).expect("listed");
    assert!(
        listed.contains("Get-AzsSupportStampInformation"),
        "{listed:?}"
    );
    s.send(b"\x15"); // Ctrl-U clears the line
                     // Parameter names complete too.
    s.send(b"Get-AzsSupportClusterResource -St\t");
    s.wait_for("-State ", T).expect("parameter completed");
    s.send(b"\x15");

    // A repair command is not offered at Diagnostics: Tab rings the bell, lists nothing.
    s.send(b"Restart-AzsSupportServ\t\t");
    s.send(b"\x03");
    let after = s.wait_for("^C", T).expect("Ctrl-C abandons the line");
    assert!(
        !after.contains("Restart-AzsSupportService "),
        "not completed: {after:?}"
    );
    assert!(after.contains('\x07'), "bell: {after:?}");
    s.wait_for(PROMPT, T).expect("prompt after Ctrl-C");

    // Editing: a stray char removed with Backspace, a missing one inserted after moving left,
    // Ctrl-E to the end, Enter.
    s.send(b"Get-AzsSupportStampVersonX\x7f\x1b[D\x1b[Di\x05\r");
    s.wait_for("1.2408.1.50", T).expect("edited line ran");
    // Home, Delete, Ctrl-K: "xGet-...Version tail" becomes the command.
    s.send(
        b"xGet-AzsSupportStampVersion tail\x1b[H\x1b[3~\x05\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x0b\r",
    );
    s.wait_for("1.2408.1.50", T)
        .expect("Home/Delete/Ctrl-K line ran");

    // Ctrl-D on an empty line ends the session.
    s.send(b"\x04");
    let st = s.wait_exit(T).expect("Ctrl-D exits");
    assert!(st.success());
}

#[test]
fn exit_and_tables_fit_the_terminal() {
    let pep = Pep::start();
    let op = pep.identity("operator", "olivia");
    let mut s = pep.pty(&op);
    s.wait_for(PROMPT, T).expect("prompt");
    s.send(b"Get-Command\r");
    let out = s.wait_for(PROMPT, T).expect("listing");
    assert!(out.contains("Enable-RemoteSupport"), "{out:?}");
    assert!(out.contains("\r\n"), "PTY output uses CRLF");
    s.send(b"Exit-PSSession\r");
    assert!(s.wait_exit(T).expect("exits").success());
}

#[test]
fn interactive_support_without_grant_is_told_and_ends() {
    let pep = Pep::start();
    let _op = pep.identity("operator", "olivia");
    let sup = pep.identity("support", "sam");
    let mut s = pep.pty(&sup);
    let st = s.wait_exit(T).expect("session ends");
    assert!(!st.success());
    let out = s.output();
    assert!(
        out.contains("remote support is not enabled on this endpoint"),
        "{out:?}"
    );
    assert!(!out.contains(PROMPT), "no prompt is offered: {out:?}");
}

/// The widest line of terminal output, in characters, with escape sequences left out.
fn widest_line(out: &str) -> usize {
    let mut widest = 0;
    for line in out.split(['\r', '\n']) {
        let mut width = 0;
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                // CSI: ESC [ parameters final-byte.
                if chars.next() == Some('[') {
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() || c == '~' {
                            break;
                        }
                    }
                }
                continue;
            }
            width += 1;
        }
        widest = widest.max(width);
    }
    widest
}

#[test]
fn resizing_the_terminal_refits_tables() {
    let pep = Pep::start();
    let (_op, sup) = pep.granted("Diagnostics");
    let mut s = pep.terminal(&sup, 200, 50);
    s.wait_for(PROMPT, T).expect("prompt");
    s.send(b"Get-AzsSupportClusterResource\r");
    let wide = s.wait_for(PROMPT, T).expect("table");
    assert!(wide.contains("Cluster IP Address"), "{wide:?}");
    let wide_width = widest_line(&wide);
    assert!(
        wide_width > 60 && wide_width <= 200,
        "at 200 columns the table uses {wide_width}: {wide:?}"
    );

    s.resize(60, 20);
    // The window change travels on the connection beside what is typed next, and a loaded
    // client may send the keys first: the size holds from the line after it arrives, so a few
    // tries are allowed (each a whole table).
    let mut narrow = String::new();
    for _ in 0..5 {
        std::thread::sleep(std::time::Duration::from_millis(300));
        s.send(b"Get-AzsSupportClusterResource\r");
        narrow = s.wait_for(PROMPT, T).expect("table");
        assert!(narrow.contains("Cluster IP"), "{narrow:?}");
        if widest_line(&narrow) <= 60 {
            break;
        }
    }
    assert!(
        widest_line(&narrow) <= 60,
        "after resizing to 60 columns every line fits: {narrow}"
    );

    s.send(b"exit\r");
    assert!(s.wait_exit(T).expect("exits").success());
}

#[test]
fn repairs_ask_before_changing_anything() {
    let pep = Pep::start_with(&["--scenario", "cluster-group-failed"]);
    let (_op, sup) = pep.granted("DiagnosticsRepair");
    let failed = |pep: &Pep| {
        pep.exec(&sup, "Get-AzsSupportClusterResource -State Failed")
            .stdout
            .contains("Scale-Out File Server (SU1FileServer)")
    };
    assert!(failed(&pep), "the scenario's fault is planted");
    let repair = b"Move-AzsSupportClusterGroup -Name SU1FileServer -Node AZS-HOST02";
    let mut s = pep.pty(&sup);
    s.wait_for(PROMPT, T).expect("prompt");

    // -WhatIf says what it would do and changes nothing, without asking.
    s.send(&[&repair[..], b" -WhatIf\r"].concat());
    let out = s.wait_for(PROMPT, T).expect("what if");
    assert!(out.contains("What if: "), "{out:?}");
    assert!(!out.contains("Are you sure"), "{out:?}");
    assert!(failed(&pep), "-WhatIf changed nothing");

    // Asked; an unclear answer asks again; ? explains; N changes nothing.
    s.send(&[&repair[..], b"\r"].concat());
    let asked = s
        .wait_for("[Y] Yes  [N] No  [?] Help (default is \"Y\"): ", T)
        .expect("asks");
    assert!(
        asked.contains("Are you sure you want to perform this action?"),
        "{asked:?}"
    );
    assert!(
        asked.contains("SU1FileServer"),
        "names what changes: {asked:?}"
    );
    s.send(b"maybe\r");
    s.wait_for("'maybe' is not an answer: type Y, N or ?.", T)
        .expect("asks again");
    s.send(b"?\r");
    s.wait_for("N - Skip the operation; nothing is changed.", T)
        .expect("explains");
    s.send(b"n\r");
    s.wait_for("The operation was not performed.", T)
        .expect("declined");
    s.wait_for(PROMPT, T).expect("prompt");
    assert!(failed(&pep), "declining changed nothing");

    // Enter takes the default, Yes.
    s.send(&[&repair[..], b"\r"].concat());
    s.wait_for("(default is \"Y\"): ", T).expect("asks");
    s.send(b"\r");
    s.wait_for(PROMPT, T).expect("ran");
    assert!(!failed(&pep), "confirmed: the group moved and came online");
    s.send(b"exit\r");
    assert!(s.wait_exit(T).expect("exits").success());

    let transcripts = pep.transcripts();
    for note in [
        "confirmation requested",
        "declined; nothing was changed",
        "confirmed",
    ] {
        assert!(transcripts.contains(note), "transcript lacks {note:?}");
    }
}

#[test]
fn ctrl_l_redraws_and_keeps_the_typed_line() {
    let pep = Pep::start();
    let (_op, sup) = pep.granted("Diagnostics");
    let mut s = pep.pty(&sup);
    s.wait_for(PROMPT, T).expect("prompt");
    s.send(b"Get-AzsSupportStamp");
    s.wait_for("Get-AzsSupportStamp", T).expect("echoed");
    s.send(b"\x0c");
    s.wait_for("\x1b[2J", T).expect("screen cleared");
    s.send(b"Version\r");
    s.wait_for("1.2408.1.50", T)
        .expect("the line typed before Ctrl-L ran whole");
}
