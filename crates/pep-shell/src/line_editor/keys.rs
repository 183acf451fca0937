//! Key decoder: turns the raw bytes a PTY client sends (split anywhere) into [`Key`]s.
//!
//! It owns UTF-8 reassembly, CR/LF folding, ECMA-48 escape-sequence parsing (CSI, SS3, nF escapes,
//! OSC/DCS/APC/PM/SOS control strings) and bracketed-paste mode. It holds at most a few bytes of
//! state, so a sequence split across `push` calls decodes exactly as if it arrived whole.
//!
//! Limits: only the xterm/VT220 editing keys the line editor uses mean anything; every other
//! sequence is consumed whole and dropped. Modifier parameters (Ctrl-Left is `ESC [1;5D`) are
//! ignored, so modified arrows act as plain arrows. Alt+key (`ESC x`) is swallowed. A control
//! string (OSC, DCS, APC, PM, SOS) is swallowed until ST, CAN, SUB, BEL (OSC), or any other C0
//! control but BEL, which ends it and is then read as a key: pep asks the terminal for nothing, so a
//! client has no reason to send one, and Alt+Shift+X, Alt+P, Alt+_, Alt+^ or Alt+] (which send
//! the introducers) must not leave the line deaf until a user happens to type ST. Enter, Ctrl-C
//! or Ctrl-L after one work at once.

/// A decoded key, as the editor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// A printable character (never a C0/C1 control or DEL).
    Char(char),
    Enter,
    Tab,
    Backspace,
    Delete,
    Left,
    Right,
    Home,
    End,
    Up,
    Down,
    /// Ctrl+letter, as the lowercase ASCII letter (`b'a'` for 0x01).
    Ctrl(u8),
}

/// What a byte completed: a key, or a bracketed-paste marker the decoder keeps to itself.
enum Seq {
    Key(Key),
    PasteStart,
    PasteEnd,
}

/// CSI parameter bytes kept; real editing keys need at most `200` or `1;5`. Longer parameter
/// strings are still consumed, just never matched.
const MAX_PARAMS: usize = 8;

const ESC: u8 = 0x1b;
/// CAN and SUB abort any escape sequence or control string (ECMA-48 / VT100 behaviour).
const CAN: u8 = 0x18;
const SUB: u8 = 0x1a;

#[derive(Debug, Clone, Copy)]
enum State {
    Ground,
    /// Inside a multi-byte UTF-8 character.
    Utf8 {
        acc: u32,
        remaining: u8,
        min: u32,
    },
    /// After ESC.
    Esc,
    /// `ESC` + intermediate bytes (an nF escape such as `ESC ( B`), waiting for the final byte.
    EscIntermediate,
    /// Control Sequence (`ESC [`), collecting parameter and intermediate bytes.
    Csi {
        params: [u8; MAX_PARAMS],
        len: usize,
        /// Too long, or parameters after intermediates: consume but never match.
        spoiled: bool,
        intermediate: bool,
    },
    /// Single Shift 3 (`ESC O`), sent by keypads in application mode.
    Ss3,
    /// OSC/DCS/APC/PM/SOS string, consumed until ST (`ESC \`) or, for OSC only, BEL.
    Str {
        after_esc: bool,
        bel_ends: bool,
    },
}

/// Incremental byte-to-key decoder. Feed it one byte at a time with [`KeyDecoder::push`].
#[derive(Debug)]
pub(crate) struct KeyDecoder {
    state: State,
    /// The previous byte was a CR that produced Enter: a following LF is the same Enter.
    after_cr: bool,
    in_paste: bool,
}

impl KeyDecoder {
    pub(crate) fn new() -> Self {
        KeyDecoder {
            state: State::Ground,
            after_cr: false,
            in_paste: false,
        }
    }

    /// Consumes one byte; returns the key it completes, if any.
    pub(crate) fn push(&mut self, b: u8) -> Option<Key> {
        let fold_lf = self.after_cr && b == b'\n' && matches!(self.state, State::Ground);
        self.after_cr = false;
        if fold_lf {
            return None;
        }
        match self.step(b)? {
            Seq::PasteStart => {
                self.in_paste = true;
                None
            }
            Seq::PasteEnd => {
                self.in_paste = false;
                None
            }
            // Inside a paste only text and line breaks survive; editing keys and control bytes
            // are data the user did not type, so they must not act.
            Seq::Key(k) if self.in_paste => match k {
                Key::Char(_) | Key::Enter => Some(k),
                _ => None,
            },
            Seq::Key(k) => Some(k),
        }
    }

    fn step(&mut self, b: u8) -> Option<Seq> {
        match self.state {
            State::Ground => self.ground(b),
            State::Utf8 {
                acc,
                remaining,
                min,
            } => {
                if b & 0xc0 != 0x80 {
                    // Truncated character: drop it and let this byte start afresh.
                    self.state = State::Ground;
                    return self.step(b);
                }
                let acc = (acc << 6) | u32::from(b & 0x3f);
                if remaining > 1 {
                    self.state = State::Utf8 {
                        acc,
                        remaining: remaining - 1,
                        min,
                    };
                    return None;
                }
                self.state = State::Ground;
                // Rejects overlong forms, surrogates, > U+10FFFF and C1 controls (U+0080..U+009F,
                // which some terminals would act on as 8-bit CSI/OSC).
                char::from_u32(acc)
                    .filter(|c| acc >= min && !c.is_control())
                    .map(|c| Seq::Key(Key::Char(c)))
            }
            State::Esc => self.after_esc(b),
            State::EscIntermediate => match b {
                0x20..=0x2f | 0x7f => None,
                0x30..=0x7e => {
                    self.state = State::Ground;
                    None
                }
                _ => self.abort_then(b),
            },
            State::Csi {
                mut params,
                len,
                spoiled,
                intermediate,
            } => match b {
                0x30..=0x3f => {
                    let fits = len < MAX_PARAMS && !intermediate;
                    if fits {
                        params[len] = b;
                    }
                    self.state = State::Csi {
                        params,
                        len: if fits { len + 1 } else { len },
                        spoiled: spoiled || !fits,
                        intermediate,
                    };
                    None
                }
                0x20..=0x2f => {
                    self.state = State::Csi {
                        params,
                        len,
                        spoiled,
                        intermediate: true,
                    };
                    None
                }
                0x7f => None,
                0x40..=0x7e => {
                    self.state = State::Ground;
                    if spoiled || intermediate {
                        None
                    } else {
                        csi_key(&params[..len], b)
                    }
                }
                _ => self.abort_then(b),
            },
            State::Ss3 => match b {
                0x20..=0x3f | 0x7f => None,
                0x40..=0x7e => {
                    self.state = State::Ground;
                    let key = match b {
                        b'A' => Key::Up,
                        b'B' => Key::Down,
                        b'C' => Key::Right,
                        b'D' => Key::Left,
                        b'H' => Key::Home,
                        b'F' => Key::End,
                        _ => return None,
                    };
                    Some(Seq::Key(key))
                }
                _ => self.abort_then(b),
            },
            State::Str {
                after_esc,
                bel_ends,
            } => {
                if after_esc {
                    if b == b'\\' {
                        self.state = State::Ground;
                        return None;
                    }
                    // ESC + anything else ends the string and starts a new sequence.
                    self.state = State::Esc;
                    return self.step(b);
                }
                match b {
                    ESC => {
                        self.state = State::Str {
                            after_esc: true,
                            bel_ends,
                        }
                    }
                    0x07 if bel_ends => self.state = State::Ground,
                    CAN | SUB => self.state = State::Ground,
                    // BEL in a DCS, APC, PM or SOS payload is payload.
                    0x07 => {}
                    // Another C0 control: the string ends and the byte is a key.
                    0x00..=0x1f => return self.abort_then(b),
                    _ => {}
                }
                None
            }
        }
    }

    /// A byte that cannot continue the current sequence: the sequence is dropped and the byte is
    /// decoded from the ground state (so `ESC [` followed by Ctrl-C still interrupts). CAN and SUB
    /// only cancel.
    fn abort_then(&mut self, b: u8) -> Option<Seq> {
        self.state = State::Ground;
        match b {
            CAN | SUB => None,
            _ => self.step(b),
        }
    }

    fn ground(&mut self, b: u8) -> Option<Seq> {
        let key = match b {
            ESC => {
                self.state = State::Esc;
                return None;
            }
            b'\r' => {
                self.after_cr = true;
                Key::Enter
            }
            b'\n' => Key::Enter,
            b'\t' => Key::Tab,
            0x08 | 0x7f => Key::Backspace,
            0x01..=0x1a => Key::Ctrl(b - 1 + b'a'),
            0x20..=0x7e => Key::Char(char::from(b)),
            0xc2..=0xdf => return self.utf8(b & 0x1f, 1, 0x80),
            0xe0..=0xef => return self.utf8(b & 0x0f, 2, 0x800),
            0xf0..=0xf4 => return self.utf8(b & 0x07, 3, 0x1_0000),
            // NUL, FS..US, stray continuation bytes and impossible lead bytes.
            _ => return None,
        };
        Some(Seq::Key(key))
    }

    fn utf8(&mut self, bits: u8, remaining: u8, min: u32) -> Option<Seq> {
        self.state = State::Utf8 {
            acc: u32::from(bits),
            remaining,
            min,
        };
        None
    }

    fn after_esc(&mut self, b: u8) -> Option<Seq> {
        self.state = match b {
            b'[' => State::Csi {
                params: [0; MAX_PARAMS],
                len: 0,
                spoiled: false,
                intermediate: false,
            },
            b'O' => State::Ss3,
            b']' => State::Str {
                after_esc: false,
                bel_ends: true,
            },
            b'P' | b'_' | b'^' | b'X' => State::Str {
                after_esc: false,
                bel_ends: false,
            },
            // ESC ESC: the first one was a lone Escape press; drop it, keep waiting.
            ESC => State::Esc,
            0x20..=0x2f => State::EscIntermediate,
            // Two-byte escapes (Alt-x, `ESC c`, ...): swallowed.
            0x30..=0x7f => State::Ground,
            _ => return self.abort_then(b),
        };
        None
    }
}

/// Maps a complete CSI sequence (parameter bytes, final byte) to a key or paste marker.
fn csi_key(params: &[u8], fin: u8) -> Option<Seq> {
    // Private-parameter forms (`?`, `<`, `=`, `>` prefixes: mouse reports, DA replies) are not keys.
    if !params.iter().all(|&p| p.is_ascii_digit() || p == b';') {
        return None;
    }
    let first: u32 = params
        .iter()
        .take_while(|p| p.is_ascii_digit())
        .fold(0, |n, &d| n * 10 + u32::from(d - b'0'));
    let key = match fin {
        b'A' => Key::Up,
        b'B' => Key::Down,
        b'C' => Key::Right,
        b'D' => Key::Left,
        b'H' => Key::Home,
        b'F' => Key::End,
        b'~' => match first {
            1 | 7 => Key::Home,
            4 | 8 => Key::End,
            3 => Key::Delete,
            200 => return Some(Seq::PasteStart),
            201 => return Some(Seq::PasteEnd),
            _ => return None,
        },
        _ => return None,
    };
    Some(Seq::Key(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(bytes: &[u8]) -> Vec<Key> {
        let mut d = KeyDecoder::new();
        bytes.iter().filter_map(|&b| d.push(b)).collect()
    }

    #[test]
    fn printable_and_utf8() {
        assert_eq!(
            keys("aé€😀".as_bytes()),
            vec![
                Key::Char('a'),
                Key::Char('é'),
                Key::Char('€'),
                Key::Char('😀')
            ]
        );
    }

    #[test]
    fn invalid_utf8_dropped() {
        // Stray continuation, overlong '/', truncated 3-byte char, surrogate, C1 control U+009B.
        let input = b"\x80a\xc0\xafb\xe2\x82c\xed\xa0\x80d\xc2\x9be\xff";
        assert_eq!(
            keys(input),
            vec![
                Key::Char('a'),
                Key::Char('b'),
                Key::Char('c'),
                Key::Char('d'),
                Key::Char('e')
            ]
        );
    }

    #[test]
    fn crlf_is_one_enter_but_lfcr_is_two() {
        assert_eq!(keys(b"\r\n"), vec![Key::Enter]);
        assert_eq!(keys(b"\n\r"), vec![Key::Enter, Key::Enter]);
        assert_eq!(keys(b"\r\r\n"), vec![Key::Enter, Key::Enter]);
    }

    #[test]
    fn arrows_in_all_forms() {
        assert_eq!(
            keys(b"\x1b[A\x1b[B\x1b[C\x1b[D\x1bOC\x1bOD\x1b[1;5D"),
            vec![
                Key::Up,
                Key::Down,
                Key::Right,
                Key::Left,
                Key::Right,
                Key::Left,
                Key::Left
            ]
        );
    }

    #[test]
    fn home_end_delete_forms() {
        assert_eq!(
            keys(b"\x1b[H\x1b[F\x1b[1~\x1b[4~\x1bOH\x1bOF\x1b[7~\x1b[8~\x1b[3~"),
            vec![
                Key::Home,
                Key::End,
                Key::Home,
                Key::End,
                Key::Home,
                Key::End,
                Key::Home,
                Key::End,
                Key::Delete
            ]
        );
    }

    #[test]
    fn unknown_sequences_swallowed() {
        let input: &[u8] =
            b"\x1b]52;c;AAAA\x07a\x1b]0;x\x1b\\b\x1b[2Jc\x1bP+q\x1b\\d\x1b_apc\x1b\\e\
            \x1b^pm\x1b\\f\x1b[?25hg\x1b[<0;1;2Mh\x1b(Bi\x1bxj\x1b[2~k\x1b[6;5Zl";
        let got: String = keys(input)
            .into_iter()
            .map(|k| match k {
                Key::Char(c) => c,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(got, "abcdefghijkl");
    }

    #[test]
    fn dcs_ignores_bel_but_osc_ends_on_it() {
        assert_eq!(keys(b"\x1bPx\x07y\x1b\\z"), vec![Key::Char('z')]);
        assert_eq!(keys(b"\x1b]x\x07y"), vec![Key::Char('y')]);
    }

    #[test]
    fn a_control_string_from_an_alt_key_ends_at_the_next_control_key() {
        // Alt+Shift+X sends ESC X (SOS): Enter, Ctrl-C or Ctrl-L still work after it.
        assert_eq!(keys(b"\x1bXab\rc"), vec![Key::Enter, Key::Char('c')]);
        assert_eq!(keys(b"\x1bPq\x03"), vec![Key::Ctrl(b'c')]);
        assert_eq!(keys(b"\x1b_x\x0c"), vec![Key::Ctrl(b'l')]);
        assert_eq!(keys(b"\x1b]0;title\x1b\\d"), vec![Key::Char('d')]);
    }

    #[test]
    fn can_aborts_string_and_control_aborts_csi() {
        assert_eq!(keys(b"\x1bPxx\x18a"), vec![Key::Char('a')]);
        assert_eq!(keys(b"\x1b[12\x03"), vec![Key::Ctrl(b'c')]);
    }

    #[test]
    fn overlong_csi_consumed() {
        assert_eq!(keys(b"\x1b[1;2;3;4;5;6;7;8;9;10Ax"), vec![Key::Char('x')]);
    }

    #[test]
    fn lone_esc_waits_for_more() {
        let mut d = KeyDecoder::new();
        assert_eq!(d.push(0x1b), None);
        assert_eq!(d.push(b'['), None);
        assert_eq!(d.push(b'D'), Some(Key::Left));
    }

    #[test]
    fn controls() {
        assert_eq!(
            keys(b"\x01\x05\x08\x7f\t\x00\x0b\x1c\x03"),
            vec![
                Key::Ctrl(b'a'),
                Key::Ctrl(b'e'),
                Key::Backspace,
                Key::Backspace,
                Key::Tab,
                Key::Ctrl(b'k'),
                Key::Ctrl(b'c')
            ]
        );
    }

    #[test]
    fn paste_keeps_text_and_newlines_only() {
        assert_eq!(
            keys(b"\x1b[200~a\tb\x03\x1b[A\x7f\r\nc\x1b[201~\x03"),
            vec![
                Key::Char('a'),
                Key::Char('b'),
                Key::Enter,
                Key::Char('c'),
                Key::Ctrl(b'c')
            ]
        );
    }
}
