//! Every case of `../shared/security/hostile-inputs.tsv`, as an exec request and typed into a PTY
//! session by the real OpenSSH client, as a support identity with a Diagnostics grant. Expected for
//! each (the file's header): a clear one-line error (exec: non-zero), nothing run, no file outside
//! the working directory (`/tmp/PWNED` never appears), the session still usable, the server still
//! serving others, and the attempt transcribed with control characters escaped.

use crate::harness::*;
use std::path::Path;

/// One case: class and decoded bytes.
struct Case {
    class: String,
    input: Vec<u8>,
    raw: String,
}

fn decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'n' => {
                    out.push(b'\n');
                    i += 2;
                    continue;
                }
                b'r' => {
                    out.push(b'\r');
                    i += 2;
                    continue;
                }
                b't' => {
                    out.push(b'\t');
                    i += 2;
                    continue;
                }
                b'0' => {
                    out.push(0);
                    i += 2;
                    continue;
                }
                b'\\' => {
                    out.push(b'\\');
                    i += 2;
                    continue;
                }
                b'x' if i + 3 < b.len() => {
                    let hex = &s[i + 2..i + 4];
                    out.push(u8::from_str_radix(hex, 16).expect("\\xHH"));
                    i += 4;
                    continue;
                }
                b'u' if b.get(i + 2) == Some(&b'{') => {
                    let end = s[i..].find('}').expect("\\u{..}") + i;
                    let cp = u32::from_str_radix(&s[i + 3..end], 16).expect("hex");
                    let c = char::from_u32(cp).expect("scalar");
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i = end + 1;
                    continue;
                }
                _ => {}
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn cases() -> Vec<Case> {
    let path = shared("security/hostile-inputs.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the shared/ folder must sit beside the checkout)",
            path.display()
        )
    });
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (class, input) = l.split_once('\t').expect("CLASS<TAB>INPUT");
            Case {
                class: class.to_string(),
                input: decode(input),
                raw: input.to_string(),
            }
        })
        .collect()
}

#[test]
fn decoder_reads_the_file_escapes() {
    assert_eq!(
        decode(r"a\nb\x1b\u{200B}\\\0"),
        b"a\nb\x1b\xe2\x80\x8b\\\0".to_vec()
    );
    assert!(cases().len() >= 70, "the shared file has its cases");
}

#[test]
fn every_hostile_input_is_refused_as_exec_and_in_a_pty() {
    let pwned = Path::new("/tmp/PWNED");
    let _ = std::fs::remove_file(pwned);
    let mut pep = Pep::start();
    let (op, sup) = pep.granted("Diagnostics");
    let cases = cases();

    // Exec. The OpenSSH client cannot carry a NUL inside an exec command (argv is a C string), so
    // cases holding one are sent on the input of a shell session without a PTY instead.
    for c in &cases {
        let r = if c.input.contains(&0) {
            let mut input = c.input.clone();
            input.push(b'\n');
            pep.lines(&sup, &input)
        } else {
            pep.exec_bytes(&sup, &c.input)
        };
        assert_ne!(
            r.status,
            Some(0),
            "[{}] {} was accepted: {r:?}",
            c.class,
            c.raw
        );
        assert_ne!(
            r.status,
            Some(255),
            "[{}] {} broke the connection: {r:?}",
            c.class,
            c.raw
        );
        assert_eq!(
            r.stderr.lines().count(),
            1,
            "[{}] {}: one-line error expected: {r:?}",
            c.class,
            c.raw
        );
        assert!(
            r.stdout.is_empty(),
            "[{}] {}: nothing may run: {r:?}",
            c.class,
            c.raw
        );
        assert!(
            !pwned.exists(),
            "[{}] {} created /tmp/PWNED",
            c.class,
            c.raw
        );
    }

    // Typed into a PTY session; after each case the same session must still answer.
    for c in &cases {
        let mut s = pep.pty(&sup);
        s.wait_for(PROMPT, T)
            .unwrap_or_else(|e| panic!("[{}] {}: {e}", c.class, c.raw));
        s.send(&c.input);
        s.send(b"\r");
        s.wait_for("\x1b[31m", T)
            .unwrap_or_else(|e| panic!("[{}] {}: no error shown: {e}", c.class, c.raw));
        s.wait_for(PROMPT, T)
            .unwrap_or_else(|e| panic!("[{}] {}: no prompt after the error: {e}", c.class, c.raw));
        s.send(b"\x15Get-AzsSupportStampVersion\r");
        s.wait_for("1.2408.1.50", T).unwrap_or_else(|e| {
            panic!(
                "[{}] {}: session not usable afterwards: {e}",
                c.class, c.raw
            )
        });
        assert!(
            !pwned.exists(),
            "[{}] {} created /tmp/PWNED",
            c.class,
            c.raw
        );
    }

    assert!(pep.alive(), "the server survived");
    let r = pep.exec(
        &op,
        "Get-RemoteSupportAccess | Select-Object -ExpandProperty State",
    );
    assert_eq!(
        r.stdout.trim(),
        "Active",
        "the server still serves others: {r:?}"
    );

    // Transcripts: every attempt recorded, nothing raw.
    let all = pep.transcripts();
    let refused = all.matches("PS>Refused").count() + all.matches(">> Error:").count();
    assert!(
        refused >= cases.len() * 2 - 10,
        "attempts transcribed: {refused}"
    );
    for (i, ch) in all.chars().enumerate() {
        assert!(
            !ch.is_control() || ch == '\n',
            "raw control character U+{:04X} at {i} in a transcript",
            ch as u32
        );
        assert!(
            !matches!(ch as u32, 0x200B..=0x200F | 0x202A..=0x202E),
            "raw invisible U+{:04X} in a transcript",
            ch as u32
        );
    }
    assert!(all.contains("\\x1b"), "escapes are shown escaped");
    pep.stop();
    assert!(!pwned.exists());
}
