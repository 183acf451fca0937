//! Tab completion in the line editor.
//!
//! It owns the [`Completer`] contract and what Tab does with its answer: one candidate replaces the
//! word before the cursor (plus a space); several insert their case-insensitive common prefix or,
//! on a second Tab with nothing to insert, are listed in columns below the line (at most
//! `LIST_MAX`, the rest counted) before the prompt and line are redrawn; none rings the bell.
//! Control chars are dropped from candidates, and the line-length cap holds.

use super::width::str_width;
use super::{bell, LineEditor};

/// The completer's answer for the word before the cursor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    /// Char index in the line where the replaced word starts (clamped to the cursor).
    pub start: usize,
    pub candidates: Vec<String>,
}

/// Supplies Tab completions; called with the whole line and the cursor as a char index.
pub trait Completer {
    fn complete(&self, line: &str, cursor_chars: usize) -> Completion;
}

/// Candidates shown by a Tab listing; more are summarised as a count.
const LIST_MAX: usize = 500;

impl LineEditor {
    /// Acts on Tab: asks `completer` about the word before the cursor and replaces, extends or
    /// lists. `was_tab`: the previous key was Tab too.
    pub(super) fn complete(&mut self, completer: &dyn Completer, was_tab: bool, out: &mut Vec<u8>) {
        let line: String = self.buf.iter().collect();
        let c = completer.complete(&line, self.cursor);
        let start = c.start.min(self.cursor);
        let cands: Vec<Vec<char>> = c
            .candidates
            .iter()
            .map(|s| s.chars().filter(|c| !c.is_control()).collect())
            .collect();
        let word_len = self.cursor - start;
        match cands.as_slice() {
            [] => bell(out),
            [only] => {
                let mut with_space = only.clone();
                with_space.push(' ');
                self.replace_word(start, &with_space, out);
            }
            [first, rest @ ..] => {
                let lcp = rest
                    .iter()
                    .map(|c| common_prefix_ci(first, c))
                    .min()
                    .unwrap_or(first.len());
                if lcp > word_len {
                    self.replace_word(start, &first[..lcp], out);
                } else if was_tab {
                    self.list(&cands, out);
                } else {
                    bell(out);
                }
            }
        }
    }

    /// Replaces `buf[start..cursor]` with `text`, or rings the bell if that exceeds the cap.
    fn replace_word(&mut self, start: usize, text: &[char], out: &mut Vec<u8>) {
        let new_len = self.buf.len() - (self.cursor - start) + text.len();
        if new_len > self.max_line_chars {
            return bell(out);
        }
        self.buf.splice(start..self.cursor, text.iter().copied());
        self.cursor = start + text.len();
        self.refresh(out);
    }

    /// Lists candidates in columns (down, then across) below the line, then redraws.
    fn list(&mut self, cands: &[Vec<char>], out: &mut Vec<u8>) {
        let end = self.layout().end;
        self.move_term(end, out);
        out.extend_from_slice(b"\r\n");
        let shown = &cands[..cands.len().min(LIST_MAX)];
        let col_w = shown.iter().map(|c| str_width(c)).max().unwrap_or(0) + 2;
        let ncols = (usize::from(self.width) / col_w).max(1);
        let nrows = shown.len().div_ceil(ncols);
        for r in 0..nrows {
            for c in 0..ncols {
                let Some(name) = shown.get(c * nrows + r) else {
                    break;
                };
                out.extend(name.iter().collect::<String>().bytes());
                if shown.get((c + 1) * nrows + r).is_some() {
                    out.resize(out.len() + col_w - str_width(name), b' ');
                }
            }
            out.extend_from_slice(b"\r\n");
        }
        if cands.len() > shown.len() {
            let more = format!("... and {} more\r\n", cands.len() - shown.len());
            out.extend_from_slice(more.as_bytes());
        }
        self.redraw_fresh(out);
    }
}

/// Case-insensitive common prefix length, in chars.
fn common_prefix_ci(a: &[char], b: &[char]) -> usize {
    a.iter()
        .zip(b)
        .take_while(|(x, y)| x.to_lowercase().eq(y.to_lowercase()))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line_editor::testing::{assert_safe, H};
    use crate::line_editor::BEL;

    #[test]
    fn tab_no_candidates_bells() {
        let mut h = H::new(80, 100);
        h.feed(b"zz");
        h.feed(b"\t");
        assert_eq!(h.last_out, [BEL]);
        assert_eq!(h.line(), "zz");
    }

    #[test]
    fn tab_single_candidate_replaces_word_and_adds_space() {
        let mut h = H::new(80, 100);
        h.feed(b"x set\t");
        assert_eq!(h.line(), "x Set-Item ");
        assert_eq!(h.ed.cursor, 11);
    }

    #[test]
    fn tab_mid_line_replaces_only_up_to_cursor() {
        let mut h = H::new(80, 100);
        h.feed(b"set tail\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\t");
        assert_eq!(h.line(), "Set-Item  tail");
        assert_eq!(h.ed.cursor, 9);
    }

    #[test]
    fn tab_many_inserts_common_prefix_case_insensitively() {
        let mut h = H::new(80, 100);
        h.feed(b"get-i\t");
        assert_eq!(h.line(), "Get-Item");
        h.feed(b"\t");
        // Nothing more to insert on the second Tab: list, then redraw the prompt and line.
        assert_eq!(h.line(), "Get-Item");
        let lines = h.scr.lines();
        assert_eq!(lines[0], "PS> Get-Item");
        assert!(lines[1].contains("Get-Item") && lines[1].contains("Get-ItemProperty"));
        assert_eq!(lines[2], "PS> Get-Item");
    }

    #[test]
    fn tab_many_nothing_to_insert_bells_then_lists_in_columns() {
        let mut h = H::new(40, 100);
        h.feed(b"get-");
        h.feed(b"\t");
        assert_eq!(h.line(), "get-");
        assert_eq!(h.last_out, [BEL]);
        h.feed(b"\t");
        // Widest is 16 chars, +2 gap = 18 per column, 2 columns in 40: down then across.
        assert_eq!(
            h.scr.lines(),
            vec![
                "PS> get-",
                "Get-Item          get-childitem",
                "Get-ItemProperty",
                "PS> get-"
            ]
        );
    }

    #[test]
    fn tab_then_other_key_resets_listing() {
        let mut h = H::new(80, 100);
        h.feed(b"get-\tx\x7f");
        h.feed(b"\t");
        assert_eq!(h.last_out, [BEL], "not a consecutive Tab: bell, no list");
    }

    #[test]
    fn tab_completion_respects_cap() {
        let mut h = H::new(80, 5);
        h.feed(b"set");
        h.feed(b"\t");
        assert_eq!(h.line(), "set");
        assert_eq!(h.last_out, [BEL]);
    }

    #[test]
    fn completer_start_past_cursor_is_clamped() {
        struct Bad;
        impl Completer for Bad {
            fn complete(&self, _: &str, _: usize) -> Completion {
                Completion {
                    start: 99,
                    candidates: vec!["x\x1b[2Jy".to_string()],
                }
            }
        }
        let mut ed = LineEditor::new(80, 100);
        ed.start_line("> ");
        let mut out = Vec::new();
        ed.feed(b"ab\t", &Bad, &mut out);
        assert_eq!(
            ed.line(),
            "abx[2Jy ",
            "control chars stripped from candidates"
        );
        assert_safe(&out);
    }
}
