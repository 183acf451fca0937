//! Screen output of the line editor: where the prompt and the line land at the terminal's width,
//! and the bytes that keep the client's screen in step with the buffer.
//!
//! It owns the layout (a simulation of the terminal's auto-wrap over the prompt's last line and
//! the text, including the pending-wrap state at the right margin), the tracked terminal cursor
//! and the relative CSI moves that take it to a position, the full redraw of a (wrapped) line, the
//! fresh redraw after Ctrl-L or a listing, and the newline normalisation of prompts.
//!
//! Limits:
//! - It assumes an ANSI/VT100-compatible terminal that auto-wraps, and that the cursor is at
//!   column 0 when [`LineEditor::start_line`] is called.
//! - After a resize the terminal may or may not reflow the old line; the next redraw assumes it
//!   reflowed. Nothing is redrawn on resize itself.
//! - The prompt is trusted server text; only its last line is redrawn on edits.

use super::width::char_width;
use super::LineEditor;

/// A screen position relative to the row where the prompt's last line starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pos {
    pub(super) row: usize,
    pub(super) col: usize,
}

/// Where prompt and line land on screen for the current width.
pub(super) struct Layout {
    /// Where each char of the line starts.
    pub(super) starts: Vec<Pos>,
    /// Cursor position after the last char (already moved to the next row if the line exactly
    /// fills the last column).
    pub(super) end: Pos,
    /// The text ends exactly at the right margin: the terminal is in its "pending wrap" state and
    /// we must emit `\r\n` ourselves to put the cursor where `end` says.
    pub(super) end_at_margin: bool,
}

impl Layout {
    pub(super) fn pos(&self, idx: usize) -> Pos {
        self.starts.get(idx).copied().unwrap_or(self.end)
    }
}

impl LineEditor {
    /// Writes the whole prompt and line from column 0 of a fresh row.
    pub(super) fn redraw_fresh(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.prompt_head.as_bytes());
        self.term = Pos { row: 0, col: 0 };
        self.draw(out, false);
    }

    /// Full redraw of the prompt's last line and the text: back to the prompt start, clear to end
    /// of screen, reprint, reposition. Simple and correct for wrapped lines.
    pub(super) fn refresh(&mut self, out: &mut Vec<u8>) {
        self.move_term(Pos { row: 0, col: 0 }, out);
        self.draw(out, true);
    }

    /// Prints prompt tail + line; the terminal cursor must be at (0, 0).
    pub(super) fn draw(&mut self, out: &mut Vec<u8>, clear: bool) {
        if clear {
            out.extend_from_slice(b"\x1b[J");
        }
        out.extend_from_slice(self.prompt_tail.as_bytes());
        out.extend(self.buf.iter().collect::<String>().bytes());
        let lay = self.layout();
        if lay.end_at_margin {
            out.extend_from_slice(b"\r\n");
        }
        self.term = lay.end;
        self.move_term(lay.pos(self.cursor), out);
    }

    /// Moves the terminal cursor from `self.term` to `to` with relative CSI moves.
    pub(super) fn move_term(&mut self, to: Pos, out: &mut Vec<u8>) {
        if to == self.term {
            return;
        }
        let mut seq = String::new();
        if to.row < self.term.row {
            seq.push_str(&format!("\x1b[{}A", self.term.row - to.row));
        } else if to.row > self.term.row {
            seq.push_str(&format!("\x1b[{}B", to.row - self.term.row));
        }
        seq.push('\r');
        if to.col > 0 {
            seq.push_str(&format!("\x1b[{}C", to.col));
        }
        out.extend_from_slice(seq.as_bytes());
        self.term = to;
    }

    /// Simulates the terminal's auto-wrap over prompt tail + line at the current width.
    pub(super) fn layout(&self) -> Layout {
        let width = usize::from(self.width.max(1));
        let (mut row, mut col) = (0, 0);
        let mut starts = Vec::with_capacity(self.buf.len());
        let mut place = |w: usize| {
            let w = w.min(width);
            // A zero-width char after a full row does not move the terminal (it stays in its
            // pending-wrap state); the cursor placed before it goes where the end of the row
            // goes once `\r\n` is written: the start of the next row.
            if w == 0 && col >= width {
                return Pos {
                    row: row + 1,
                    col: 0,
                };
            }
            // A char that does not fit (including a wide char in the last column) wraps first;
            // zero-width chars never wrap.
            if w > 0 && col + w > width {
                row += 1;
                col = 0;
            }
            let p = Pos { row, col };
            col += w;
            p
        };
        for &w in &self.prompt_cells {
            place(w);
        }
        for &c in &self.buf {
            starts.push(place(char_width(c)));
        }
        let end_at_margin = col >= width;
        let end = if end_at_margin {
            Pos {
                row: row + 1,
                col: 0,
            }
        } else {
            Pos { row, col }
        };
        Layout {
            starts,
            end,
            end_at_margin,
        }
    }
}

/// Converts bare `\n` to `\r\n` (the PTY may be in raw mode, where `\n` does not return).
pub(super) fn crlf(s: &str) -> String {
    let mut r = String::with_capacity(s.len() + 4);
    let mut prev = '\0';
    for c in s.chars() {
        if c == '\n' && prev != '\r' {
            r.push('\r');
        }
        r.push(c);
        prev = c;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line_editor::testing::{line, Screen, Words, H, PROMPT};

    #[test]
    fn multi_line_prompt_gets_crlf() {
        let mut ed = LineEditor::new(80, 10);
        assert_eq!(ed.start_line("a\nb> "), b"a\r\nb> ");
    }

    #[test]
    fn wrapping_line_redraws_correctly() {
        // Prompt is 4 wide; width 10 so the line wraps twice.
        let mut h = H::new(10, 100);
        h.feed(b"abcdefghijklmnop");
        assert_eq!(h.scr.lines(), vec!["PS> abcdef", "ghijklmnop"]);
        assert_eq!(
            (h.ed.term.row, h.scr.col),
            (2, 0),
            "cursor after exact-fit wraps"
        );
        h.feed(b"\x01X");
        assert_eq!(h.scr.lines(), vec!["PS> Xabcde", "fghijklmno", "p"]);
        h.feed(b"\x0b");
        assert_eq!(h.scr.lines(), vec!["PS> X"]);
        h.feed(b"\x05\x7f");
        assert_eq!(h.line(), "");
    }

    #[test]
    fn wide_char_at_margin_wraps() {
        let mut h = H::new(7, 100);
        h.feed("ab日".as_bytes());
        assert_eq!(h.scr.lines(), vec!["PS> ab", "日"]);
        h.feed(b"\x1b[D");
        assert_eq!((h.ed.term.row, h.scr.col), (1, 0));
    }

    #[test]
    fn resize_changes_wrapping() {
        let mut ed = LineEditor::new(80, 100);
        ed.start_line(PROMPT);
        let words = Words(vec![]);
        let mut out = Vec::new();
        ed.feed(b"abcdefghij", &words, &mut out);
        assert_eq!(ed.term, Pos { row: 0, col: 14 });
        ed.resize(8, 24);
        assert_eq!(
            ed.term,
            Pos { row: 1, col: 6 },
            "assumes the terminal reflowed"
        );
        ed.feed(b"\x01", &words, &mut out);
        assert_eq!(ed.term, Pos { row: 0, col: 4 });
        out.clear();
        ed.feed(b"X", &words, &mut out);
        let mut scr = Screen::new(8);
        scr.feed(&out);
        assert_eq!(scr.lines(), vec!["PS> Xabc", "defghij"]);
    }

    #[test]
    fn enter_mid_wrapped_line_moves_below_it() {
        let mut h = H::new(10, 100);
        h.feed(b"abcdefghijk\x01");
        assert_eq!(h.feed(b"\r"), vec![line("abcdefghijk")]);
        assert_eq!(h.scr.row, 2);
        assert_eq!(h.scr.col, 0);
    }
}
