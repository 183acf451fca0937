//! Test support for the line editor: a tiny terminal (`Screen`) that interprets the editor's
//! output, a word-list [`Completer`] (`Words`), and a harness (`H`) that feeds an editor and checks
//! after every write that the screen shows exactly prompt + line with the cursor where the editor
//! thinks it is.

use super::width::char_width;
use super::{Completer, Completion, EditEvent, LineEditor};

/// A tiny terminal: auto-wrap with pending-wrap, CR, LF, CSI A/B/C/D/H/J and `?2004h/l`.
/// It panics on anything else, so tests also prove the editor emits only what it means to.
/// Rows are unbounded (no scrolling), so moving above row 0 is a bug and panics too.
pub(super) struct Screen {
    width: usize,
    rows: Vec<Vec<char>>,
    pub(super) row: usize,
    pub(super) col: usize,
}

impl Screen {
    pub(super) fn new(width: usize) -> Self {
        Screen {
            width,
            rows: vec![Vec::new()],
            row: 0,
            col: 0,
        }
    }

    pub(super) fn feed(&mut self, bytes: &[u8]) {
        let s = std::str::from_utf8(bytes).expect("output is UTF-8");
        let mut it = s.chars();
        while let Some(c) = it.next() {
            match c {
                '\r' => self.col = 0,
                '\n' => {
                    self.row += 1;
                    self.col = self.col.min(self.width - 1);
                }
                '\x07' => {}
                '\x1b' => {
                    assert_eq!(it.next(), Some('['), "only CSI is emitted");
                    let mut params = String::new();
                    let fin = loop {
                        let c = it.next().expect("complete CSI");
                        if c.is_ascii_digit() || c == '?' || c == ';' {
                            params.push(c);
                        } else {
                            break c;
                        }
                    };
                    self.csi(&params, fin);
                }
                c if c.is_control() => panic!("raw control {c:?} in output"),
                c => self.put(c),
            }
            while self.rows.len() <= self.row {
                self.rows.push(Vec::new());
            }
        }
    }

    fn csi(&mut self, params: &str, fin: char) {
        let n: usize = params.parse().unwrap_or(1);
        self.col = self.col.min(self.width - 1);
        match (fin, params) {
            ('A', _) => {
                assert!(n <= self.row, "cursor moved above the screen");
                self.row -= n;
            }
            ('B', _) => self.row += n,
            ('C', _) => self.col = (self.col + n).min(self.width - 1),
            ('D', _) => self.col = self.col.saturating_sub(n),
            ('H', "") => (self.row, self.col) = (0, 0),
            ('J', "") => {
                self.rows.truncate(self.row + 1);
                self.rows[self.row].truncate(self.col);
            }
            ('J', "2") => self.rows = vec![Vec::new()],
            ('h' | 'l', "?2004") => {}
            other => panic!("unexpected CSI {other:?}"),
        }
    }

    fn put(&mut self, c: char) {
        let w = char_width(c);
        if w == 0 {
            return;
        }
        if self.col + w > self.width {
            self.row += 1;
            self.col = 0;
        }
        while self.rows.len() <= self.row {
            self.rows.push(Vec::new());
        }
        let line = &mut self.rows[self.row];
        if line.len() < self.col + w {
            line.resize(self.col + w, ' ');
        }
        line[self.col] = c;
        if w == 2 {
            line[self.col + 1] = '\0';
        }
        self.col += w;
    }

    pub(super) fn lines(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .rows
            .iter()
            .map(|r| {
                let s: String = r.iter().filter(|&&c| c != '\0').collect();
                s.trim_end().to_string()
            })
            .collect();
        while v.last().is_some_and(|l| l.is_empty()) {
            v.pop();
        }
        v
    }
}

pub(super) struct Words(pub(super) Vec<&'static str>);

impl Completer for Words {
    fn complete(&self, line: &str, cursor: usize) -> Completion {
        let before: Vec<char> = line.chars().take(cursor).collect();
        let start = before
            .iter()
            .rposition(|c| c.is_whitespace())
            .map_or(0, |i| i + 1);
        let word: String = before[start..].iter().collect::<String>().to_lowercase();
        let candidates = self
            .0
            .iter()
            .filter(|w| w.to_lowercase().starts_with(&word))
            .map(|w| w.to_string())
            .collect();
        Completion { start, candidates }
    }
}

pub(super) const PROMPT: &str = "PS> ";

pub(super) struct H {
    pub(super) ed: LineEditor,
    pub(super) scr: Screen,
    words: Words,
    pub(super) last_out: Vec<u8>,
}

impl H {
    pub(super) fn new(width: u16, max: usize) -> Self {
        let mut h = H {
            ed: LineEditor::new(width, max),
            scr: Screen::new(usize::from(width)),
            words: Words(vec![
                "Get-Item",
                "Get-ItemProperty",
                "get-childitem",
                "Set-Item",
            ]),
            last_out: Vec::new(),
        };
        h.start();
        h
    }

    pub(super) fn start(&mut self) {
        let out = self.ed.start_line(PROMPT);
        self.absorb(out);
    }

    /// Resizes the editor and the terminal. The test terminal does not reflow, so it starts
    /// blank and the line is redrawn with Ctrl-L, as a user would after a resize garbled it.
    pub(super) fn resize(&mut self, width: u16) {
        self.ed.resize(width, 24);
        self.scr = Screen::new(usize::from(width.max(1)));
        if self.ed.active {
            self.feed(b"\x0c");
        }
    }

    pub(super) fn feed(&mut self, bytes: &[u8]) -> Vec<EditEvent> {
        let mut out = Vec::new();
        let ev = self.ed.feed(bytes, &self.words, &mut out);
        self.absorb(out);
        ev
    }

    fn absorb(&mut self, out: Vec<u8>) {
        assert_safe(&out);
        self.scr.feed(&out);
        if self.ed.active {
            self.assert_screen_matches();
        }
        self.last_out = out;
    }

    /// The rows from the prompt start show exactly prompt + line, nothing below, and the
    /// screen cursor is where the editor thinks the cursor is.
    fn assert_screen_matches(&self) {
        let base = self.scr.row - self.ed.term.row;
        let mut want = Screen::new(self.scr.width);
        want.feed(format!("{}{}", self.ed.prompt_tail, self.ed.line()).as_bytes());
        let got = &self.scr.lines()[base.min(self.scr.lines().len())..];
        assert_eq!(got, want.lines().as_slice(), "screen vs buffer");
        let expect = self.ed.layout().pos(self.ed.cursor);
        assert_eq!(self.ed.term, expect, "tracked cursor");
        assert_eq!(
            (self.scr.row - base, self.scr.col),
            (expect.row, expect.col)
        );
    }

    pub(super) fn line(&self) -> String {
        self.ed.line()
    }

    pub(super) fn out_str(&self) -> String {
        String::from_utf8_lossy(&self.last_out).into_owned()
    }
}

/// Output may contain only printable text, CR, LF, BEL and ESC (as part of our CSI).
pub(super) fn assert_safe(out: &[u8]) {
    for &b in out {
        assert!(
            b >= 0x20 && b != 0x7f || matches!(b, b'\r' | b'\n' | 0x07 | 0x1b),
            "unsafe byte {b:#04x} in {:?}",
            String::from_utf8_lossy(out)
        );
    }
    let s = String::from_utf8_lossy(out);
    for (i, _) in s.match_indices('\n') {
        assert!(i > 0 && s.as_bytes()[i - 1] == b'\r', "bare \\n in {s:?}");
    }
}

pub(super) fn line(s: &str) -> EditEvent {
    EditEvent::Line(s.to_string())
}
