//! Line editor for pep's interactive shell, driven by an SSH channel's raw PTY bytes.
//!
//! This module owns the editing state machine: the edit buffer and cursor, what each key does,
//! the line-length cap, history recall, typeahead while a command runs, and the events that end a
//! line. It is pure: bytes in, (bytes to write, events) out; no I/O, no async, so the SSH layer
//! decides when and where to write. Beside it: `keys` decodes client bytes into keys (escape
//! sequences, bracketed paste), `completion` handles Tab through a caller-supplied [`Completer`],
//! `render` keeps the client's screen in step (prompt, echo, wrapping redraws) and `width` says how
//! many columns a char takes; their limits are in their own docs.
//!
//! Protocol for the caller: send [`LineEditor::enable_sequence`] once, then `start_line(prompt)`
//! and `feed` every chunk of client bytes. `Line`, `Interrupt` and `Eof` end the line: the editor
//! goes idle and queues further keys as typeahead until the next `start_line`; after it, if
//! [`LineEditor::has_pending`], call `feed(&[], ..)` so queued Enter/Tab/Ctrl keys take effect.
//! A Ctrl-C arriving while idle flushes the typeahead and yields `Interrupt` at once (cancel the
//! running command, if any). Send [`LineEditor::disable_sequence`] at session end.
//!
//! Limits: no kill ring/yank, no reverse search, no multi-line editing: a line is one logical line.

mod completion;
mod keys;
mod render;
#[cfg(test)]
mod testing;
mod width;

pub use completion::{Completer, Completion};

use keys::{Key, KeyDecoder};
use render::{crlf, Pos};
use std::collections::VecDeque;
use width::visible_widths;

/// Something the user finished: the SSH layer acts on these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditEvent {
    /// Enter was pressed (or a pasted line break); the editor is idle until `start_line`.
    Line(String),
    /// Ctrl-C: the line was abandoned (or, while idle, typeahead was flushed); idle until
    /// `start_line`.
    Interrupt,
    /// Ctrl-D on an empty line; idle until `start_line`.
    Eof,
}

/// Lines kept for Up/Down recall.
const HISTORY_MAX: usize = 500;
/// Keys kept while idle; beyond this typeahead is dropped so a flood cannot grow memory.
const TYPEAHEAD_MAX: usize = 64 * 1024;
const BEL: u8 = 0x07;

/// A pure, incremental line editor. See the module docs.
#[derive(Debug)]
pub struct LineEditor {
    width: u16,
    /// Not used for layout yet (no paging); kept so `resize` records the full size.
    height: u16,
    max_line_chars: usize,
    decoder: KeyDecoder,
    /// Decoded keys not yet acted on (typeahead while idle, or keys that need `feed`).
    queue: VecDeque<Key>,
    /// Between `start_line` and the event that ends the line.
    active: bool,
    /// Prompt lines before the last one, newline-normalised; written by `start_line`/Ctrl-L/listing.
    prompt_head: String,
    /// The prompt's last line, redrawn with every refresh.
    prompt_tail: String,
    /// Display widths of the visible chars of `prompt_tail`.
    prompt_cells: Vec<usize>,
    buf: Vec<char>,
    /// Char index into `buf`.
    cursor: usize,
    /// Where the terminal's cursor is now, relative to the prompt tail's first row.
    term: Pos,
    history: VecDeque<String>,
    /// Index into `history` while recalling; `None` while editing the new line.
    hist_pos: Option<usize>,
    /// The line being typed before history recall started; Down past the newest restores it.
    stash: Vec<char>,
    /// The previous key was Tab (a second Tab with nothing to insert lists candidates).
    last_tab: bool,
    /// The screen is behind the buffer: chars were inserted mid-line and the redraw was deferred
    /// so a paste into the middle of a line costs one redraw, not one per char.
    dirty: bool,
    /// Inside a feed of several bytes: inserted characters wait for one redraw or echo.
    batching: bool,
    /// Characters appended during this feed, to be echoed at its end.
    echo: Option<String>,
}

impl LineEditor {
    /// `width` is the terminal width in columns (0 is treated as 1); `max_line_chars` caps the
    /// line length.
    pub fn new(width: u16, max_line_chars: usize) -> Self {
        LineEditor {
            width,
            height: 24,
            max_line_chars,
            decoder: KeyDecoder::new(),
            queue: VecDeque::new(),
            active: false,
            prompt_head: String::new(),
            prompt_tail: String::new(),
            prompt_cells: Vec::new(),
            buf: Vec::new(),
            cursor: 0,
            term: Pos { row: 0, col: 0 },
            history: VecDeque::new(),
            hist_pos: None,
            stash: Vec::new(),
            last_tab: false,
            dirty: false,
            batching: false,
            echo: None,
        }
    }

    /// Updates the terminal size used for wrapping. Writes nothing (see the module limits).
    pub fn resize(&mut self, width: u16, height: u16) {
        self.width = width;
        self.height = height;
        if self.active {
            // Assume the terminal reflowed: the cursor now sits where the new layout puts it.
            self.term = self.layout().pos(self.cursor);
        }
    }

    /// Writes the prompt and starts a fresh, empty line; returns the bytes to send.
    ///
    /// Typeahead received while idle is replayed (echoed) here up to the first key that needs
    /// [`LineEditor::feed`] (Enter, Tab, Ctrl-C/D/L). If [`LineEditor::has_pending`] is then true,
    /// call `feed(&[], ..)` to act on the rest.
    pub fn start_line(&mut self, prompt: &str) -> Vec<u8> {
        let (head, tail) = match prompt.rfind('\n') {
            Some(i) => prompt.split_at(i + 1),
            None => ("", prompt),
        };
        self.prompt_head = crlf(head);
        self.prompt_tail = tail.to_string();
        self.prompt_cells = visible_widths(tail);
        self.active = true;
        self.buf.clear();
        self.cursor = 0;
        self.hist_pos = None;
        self.stash.clear();
        self.last_tab = false;
        self.dirty = false;

        let mut out = self.prompt_head.clone().into_bytes();
        self.term = Pos { row: 0, col: 0 };
        self.draw(&mut out, false);
        while let Some(&key) = self.queue.front() {
            if needs_feed(key) {
                break;
            }
            self.queue.pop_front();
            let mut events = Vec::new();
            self.key(key, None, &mut out, &mut events);
        }
        self.flush(&mut out);
        out
    }

    /// True if typeahead is waiting; call `feed(&[], ..)` after `start_line` to process it.
    pub fn has_pending(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Feeds client bytes. Appends output bytes to `out` and returns the events completed by them.
    ///
    /// While idle (after `Line`, `Interrupt` or `Eof`), keys are queued as typeahead, except
    /// Ctrl-C, which flushes the queue, writes `^C\r\n` and returns `Interrupt` at once so the
    /// caller can cancel the running command (as a tty's ISIG does).
    pub fn feed(
        &mut self,
        bytes: &[u8],
        completer: &dyn Completer,
        out: &mut Vec<u8>,
    ) -> Vec<EditEvent> {
        let mut events = Vec::new();
        self.drain(completer, out, &mut events);
        // Several bytes at once (a paste, a fast typist): characters are inserted without laying
        // the line out each time — appended ones are echoed together at the end of the feed,
        // others redrawn once — so a 4 KiB paste costs one layout, not one per character.
        self.batching = bytes.len() > 1;
        for &b in bytes {
            let Some(key) = self.decoder.push(b) else {
                continue;
            };
            if self.active && self.queue.is_empty() {
                self.key(key, Some(completer), out, &mut events);
            } else if !self.active && key == Key::Ctrl(b'c') {
                self.queue.clear();
                out.extend_from_slice(b"^C\r\n");
                events.push(EditEvent::Interrupt);
            } else if self.queue.len() < TYPEAHEAD_MAX {
                self.queue.push_back(key);
            }
        }
        self.batching = false;
        self.flush(out);
        events
    }

    /// Records a submitted line for Up/Down recall. Skips blank lines and immediate duplicates.
    pub fn add_history(&mut self, line: &str) {
        if line.trim().is_empty() || self.history.back().is_some_and(|l| l == line) {
            return;
        }
        if self.history.len() >= HISTORY_MAX {
            self.history.pop_front();
        }
        self.history.push_back(line.to_string());
    }

    /// Bytes to send once at session start: turns on bracketed paste.
    pub fn enable_sequence() -> &'static [u8] {
        b"\x1b[?2004h"
    }

    /// Bytes to send at session end: turns bracketed paste off again.
    pub fn disable_sequence() -> &'static [u8] {
        b"\x1b[?2004l"
    }

    /// Processes queued typeahead while the editor is active.
    fn drain(&mut self, completer: &dyn Completer, out: &mut Vec<u8>, ev: &mut Vec<EditEvent>) {
        while self.active {
            let Some(key) = self.queue.pop_front() else {
                break;
            };
            self.key(key, Some(completer), out, ev);
        }
    }

    /// Acts on one key. `completer` is `None` only during `start_line` replay, which never passes
    /// keys for which [`needs_feed`] is true.
    fn key(
        &mut self,
        key: Key,
        completer: Option<&dyn Completer>,
        out: &mut Vec<u8>,
        ev: &mut Vec<EditEvent>,
    ) {
        if !matches!(key, Key::Char(_)) {
            self.flush(out);
        }
        let was_tab = std::mem::replace(&mut self.last_tab, key == Key::Tab);
        match key {
            Key::Char(c) => self.insert_char(c, out),
            Key::Enter => {
                let line: String = self.buf.iter().collect();
                self.finish(out, b"\r\n");
                ev.push(EditEvent::Line(line));
            }
            Key::Tab => {
                if let Some(c) = completer {
                    self.complete(c, was_tab, out);
                }
            }
            Key::Backspace => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                    self.buf.remove(self.cursor);
                    self.refresh(out);
                }
            }
            Key::Delete => self.delete_under(out),
            Key::Left | Key::Ctrl(b'b') => self.move_cursor(self.cursor.saturating_sub(1), out),
            Key::Right | Key::Ctrl(b'f') => {
                self.move_cursor((self.cursor + 1).min(self.buf.len()), out)
            }
            Key::Home | Key::Ctrl(b'a') => self.move_cursor(0, out),
            Key::End | Key::Ctrl(b'e') => self.move_cursor(self.buf.len(), out),
            Key::Up => self.history_up(out),
            Key::Down => self.history_down(out),
            Key::Ctrl(b'u') => {
                self.buf.drain(..self.cursor);
                self.cursor = 0;
                self.refresh(out);
            }
            Key::Ctrl(b'k') => {
                self.buf.truncate(self.cursor);
                self.refresh(out);
            }
            Key::Ctrl(b'w') => {
                let mut start = self.cursor;
                while start > 0 && self.buf[start - 1].is_whitespace() {
                    start -= 1;
                }
                while start > 0 && !self.buf[start - 1].is_whitespace() {
                    start -= 1;
                }
                self.buf.drain(start..self.cursor);
                self.cursor = start;
                self.refresh(out);
            }
            Key::Ctrl(b'c') => {
                self.finish(out, b"^C\r\n");
                ev.push(EditEvent::Interrupt);
            }
            Key::Ctrl(b'd') if self.buf.is_empty() => {
                self.finish(out, b"\r\n");
                ev.push(EditEvent::Eof);
            }
            Key::Ctrl(b'd') => self.delete_under(out),
            Key::Ctrl(b'l') => {
                out.extend_from_slice(b"\x1b[H\x1b[2J");
                // The editor redraws the prompt and the typed line itself: editing goes on, so
                // nothing is reported (a caller that started a new line would lose it).
                self.redraw_fresh(out);
            }
            // Every other Ctrl key is unbound and silently ignored.
            Key::Ctrl(_) => {}
        }
    }

    /// Ends the line: cursor to the end of the text, `tail` written, editor idle.
    fn finish(&mut self, out: &mut Vec<u8>, tail: &[u8]) {
        let end = self.layout().end;
        self.move_term(end, out);
        out.extend_from_slice(tail);
        self.active = false;
        self.hist_pos = None;
    }

    fn insert_char(&mut self, c: char, out: &mut Vec<u8>) {
        if self.buf.len() >= self.max_line_chars {
            bell(out);
            return;
        }
        if self.batching && !self.dirty && self.cursor == self.buf.len() {
            // Appending: echo with the rest of the feed, if the terminal is where the line ends.
            if self.echo.is_none() && self.term == self.layout().end {
                self.echo = Some(String::new());
            }
            if let Some(echo) = self.echo.as_mut() {
                echo.push(c);
                self.buf.push(c);
                self.cursor += 1;
                return;
            }
        }
        if self.dirty || self.batching {
            self.buf.insert(self.cursor, c);
            self.cursor += 1;
            self.dirty = true;
            return;
        }
        let at_end = self.cursor == self.buf.len();
        let prev_end = self.layout().end;
        self.buf.insert(self.cursor, c);
        self.cursor += 1;
        let lay = self.layout();
        // Common case: typing at the end of the line, and the char lands where the terminal
        // cursor already is: echoing it is enough.
        if !self.dirty && at_end && self.term == prev_end && lay.starts.last() == Some(&prev_end) {
            let mut tmp = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
            if lay.end_at_margin {
                out.extend_from_slice(b"\r\n");
            }
            self.term = lay.end;
        } else {
            self.dirty = true;
        }
    }

    /// Performs a deferred redraw, if any.
    fn flush(&mut self, out: &mut Vec<u8>) {
        let echo = self.echo.take();
        if self.dirty {
            self.dirty = false;
            self.refresh(out);
        } else if let Some(text) = echo {
            // The terminal wraps the echoed text as the layout does; only a line that ends
            // exactly at the margin needs the newline written.
            out.extend_from_slice(text.as_bytes());
            let lay = self.layout();
            if lay.end_at_margin {
                out.extend_from_slice(b"\r\n");
            }
            self.term = lay.end;
        }
    }

    fn delete_under(&mut self, out: &mut Vec<u8>) {
        if self.cursor < self.buf.len() {
            self.buf.remove(self.cursor);
            self.refresh(out);
        }
    }

    fn move_cursor(&mut self, to: usize, out: &mut Vec<u8>) {
        self.cursor = to;
        let target = self.layout().pos(to);
        self.move_term(target, out);
    }

    fn history_up(&mut self, out: &mut Vec<u8>) {
        let idx = match self.hist_pos {
            None if self.history.is_empty() => return bell(out),
            None => {
                self.stash = self.buf.clone();
                self.history.len() - 1
            }
            Some(0) => return bell(out),
            Some(i) => i - 1,
        };
        self.recall(Some(idx), out);
    }

    fn history_down(&mut self, out: &mut Vec<u8>) {
        match self.hist_pos {
            None => bell(out),
            Some(i) if i + 1 < self.history.len() => self.recall(Some(i + 1), out),
            Some(_) => self.recall(None, out),
        }
    }

    /// Loads a history entry (or the stashed new line) into the buffer, cursor at the end. The
    /// buffer is a copy, so editing it never changes history.
    fn recall(&mut self, pos: Option<usize>, out: &mut Vec<u8>) {
        self.hist_pos = pos;
        let text = match pos.and_then(|i| self.history.get(i)) {
            Some(line) => line.chars().filter(|c| !c.is_control()).collect(),
            None => std::mem::take(&mut self.stash),
        };
        self.buf = text;
        self.buf.truncate(self.max_line_chars);
        self.cursor = self.buf.len();
        self.refresh(out);
    }

    #[cfg(test)]
    fn line(&self) -> String {
        self.buf.iter().collect()
    }
}

/// Keys that may produce events or need the completer; `start_line` leaves them for `feed`.
fn needs_feed(key: Key) -> bool {
    matches!(key, Key::Enter | Key::Tab | Key::Ctrl(b'c' | b'd' | b'l'))
}

/// Rings the bell once: refusing a long paste char by char must not send thousands of BELs.
fn bell(out: &mut Vec<u8>) {
    if out.last() != Some(&BEL) {
        out.push(BEL);
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests {
    use super::*;
    use crate::line_editor::testing::{line, H};

    #[test]
    fn start_line_writes_prompt() {
        let h = H::new(80, 100);
        assert_eq!(h.last_out, b"PS> ");
        assert_eq!(h.scr.lines(), vec!["PS>"]);
    }

    #[test]
    fn typing_echoes_and_enter_emits_line() {
        let mut h = H::new(80, 100);
        assert!(h.feed(b"l").is_empty());
        h.feed(b"s");
        assert_eq!(h.last_out, b"s", "appending at the end just echoes");
        assert_eq!(h.feed(b"\r"), vec![line("ls")]);
        assert_eq!(h.last_out, b"\r\n");
        assert_eq!(h.scr.lines(), vec!["PS> ls"]);
    }

    #[test]
    fn lf_and_crlf_are_one_enter() {
        let mut h = H::new(80, 100);
        assert_eq!(h.feed(b"a\n"), vec![line("a")]);
        h.start();
        assert_eq!(h.feed(b"b\r"), vec![line("b")]);
        h.start();
        // The LF of the CRLF arrives in a separate feed and must not submit an empty line.
        assert!(h.feed(b"\n").is_empty());
        assert!(!h.ed.has_pending());
        assert_eq!(h.feed(b"c\r\n"), vec![line("c")]);
        h.start();
        assert!(h.feed(b"").is_empty());
    }

    #[test]
    fn utf8_split_across_feeds() {
        let mut h = H::new(80, 100);
        let bytes = "é😀".as_bytes();
        for b in bytes {
            h.feed(&[*b]);
        }
        assert_eq!(h.line(), "é😀");
    }

    #[test]
    fn invalid_utf8_never_inserted() {
        let mut h = H::new(80, 100);
        h.feed(b"a\xff\xc3(b\xe2\x82");
        h.feed(b"c");
        assert_eq!(h.line(), "a(bc");
    }

    #[test]
    fn backspace_both_codes() {
        let mut h = H::new(80, 100);
        h.feed(b"abc\x7f");
        assert_eq!(h.line(), "ab");
        h.feed(b"\x08");
        assert_eq!(h.line(), "a");
        h.feed(b"\x7f\x7f\x7f");
        assert_eq!(h.line(), "");
        assert_eq!(h.scr.lines(), vec!["PS>"]);
    }

    #[test]
    fn backspace_mid_line() {
        let mut h = H::new(80, 100);
        h.feed(b"abcd\x1b[D\x1b[D\x7f");
        assert_eq!(h.line(), "acd");
        assert_eq!(h.ed.cursor, 1);
    }

    #[test]
    fn delete_key() {
        let mut h = H::new(80, 100);
        h.feed(b"abc\x1b[H\x1b[3~");
        assert_eq!(h.line(), "bc");
        h.feed(b"\x1b[F\x1b[3~");
        assert_eq!(h.line(), "bc");
    }

    #[test]
    fn left_right_insert_in_middle() {
        let mut h = H::new(80, 100);
        h.feed(b"ac\x1b[DbX\x1bOD\x1bOC\x1b[C\x1b[C");
        assert_eq!(h.line(), "abXc");
        assert_eq!(h.ed.cursor, 4);
        h.feed(b"\x02\x02\x06");
        assert_eq!(h.ed.cursor, 3);
    }

    #[test]
    fn home_end_all_forms() {
        for (home, end) in [
            (&b"\x1b[H"[..], &b"\x1b[F"[..]),
            (b"\x1b[1~", b"\x1b[4~"),
            (b"\x1bOH", b"\x1bOF"),
            (b"\x01", b"\x05"),
        ] {
            let mut h = H::new(80, 100);
            h.feed(b"abc");
            h.feed(home);
            assert_eq!(h.ed.cursor, 0);
            h.feed(b"x");
            h.feed(end);
            assert_eq!(h.ed.cursor, 4);
            assert_eq!(h.line(), "xabc");
        }
    }

    #[test]
    fn kill_to_start_and_end() {
        let mut h = H::new(80, 100);
        h.feed(b"hello world\x1b[D\x1b[D\x0b");
        assert_eq!(h.line(), "hello wor");
        h.feed(b"\x1b[D\x1b[D\x1b[D\x15");
        assert_eq!(h.line(), "wor");
        assert_eq!(h.ed.cursor, 0);
    }

    #[test]
    fn kill_previous_word() {
        let mut h = H::new(80, 100);
        h.feed(b"get-item  foo bar  \x17");
        assert_eq!(h.line(), "get-item  foo ");
        h.feed(b"\x17");
        assert_eq!(h.line(), "get-item  ");
        h.feed(b"\x17\x17");
        assert_eq!(h.line(), "");
    }

    #[test]
    fn ctrl_c_abandons_line() {
        let mut h = H::new(80, 100);
        h.feed(b"abc\x1b[D");
        assert_eq!(h.feed(b"\x03"), vec![EditEvent::Interrupt]);
        assert!(h.out_str().ends_with("^C\r\n"));
        assert_eq!(h.scr.lines(), vec!["PS> abc^C"]);
        assert!(h.feed(b"x").is_empty(), "idle until start_line");
        h.start();
        assert_eq!(h.line(), "x");
    }

    #[test]
    fn ctrl_d_eof_on_empty_else_delete() {
        let mut h = H::new(80, 100);
        h.feed(b"ab\x01\x04");
        assert_eq!(h.line(), "b");
        h.feed(b"\x05\x04");
        assert_eq!(h.line(), "b");
        h.feed(b"\x7f");
        assert_eq!(h.feed(b"\x04"), vec![EditEvent::Eof]);
    }

    #[test]
    fn ctrl_l_clears_and_redraws() {
        let mut h = H::new(80, 100);
        h.feed(b"x\r");
        h.start();
        h.feed(b"abc\x1b[D");
        assert_eq!(h.feed(b"\x0c"), vec![]);
        assert!(h.last_out.starts_with(b"\x1b[H\x1b[2J"));
        assert_eq!(h.scr.lines(), vec!["PS> abc"]);
        assert_eq!(h.scr.col, 6);
        h.feed(b"X");
        assert_eq!(h.line(), "abXc");
    }

    #[test]
    fn ctrl_l_keeps_the_typed_line() {
        let mut h = H::new(80, 100);
        h.feed(b"Get-AzsSupportStamp");
        h.feed(b"\x0c");
        let ev = h.feed(b"Version\r");
        assert_eq!(
            ev,
            vec![EditEvent::Line("Get-AzsSupportStampVersion".into())]
        );
    }

    #[test]
    fn other_controls_ignored() {
        let mut h = H::new(80, 100);
        h.feed(b"a\x00\x1c\x1f\x0e\x07b");
        assert_eq!(h.line(), "ab");
        assert_eq!(h.scr.lines(), vec!["PS> ab"]);
    }

    #[test]
    fn unknown_escapes_swallowed() {
        let mut h = H::new(80, 100);
        for seq in [
            &b"\x1b]52;c;AAAA\x07"[..],
            b"\x1b]0;x\x07",
            b"\x1b[2J",
            b"\x1bP+q\x1b\\",
            b"\x1b]8;;http://x\x1b\\",
            b"\x1b[?1049h",
            b"\x1b[<0;3;4M",
            b"\x1b_x\x1b\\",
            b"\x1b^x\x1b\\",
        ] {
            h.feed(b"a");
            // Split each sequence byte by byte to exercise the pending states.
            for b in seq {
                h.feed(&[*b]);
                assert!(h.last_out.is_empty(), "nothing echoed for {seq:?}");
            }
            h.feed(b"b");
        }
        assert_eq!(h.line(), "ab".repeat(9));
    }

    #[test]
    fn lone_escape_stays_pending() {
        let mut h = H::new(80, 100);
        h.feed(b"ab");
        h.feed(b"\x1b");
        assert!(h.last_out.is_empty());
        h.feed(b"[D");
        assert_eq!(h.ed.cursor, 1);
    }

    #[test]
    fn history_navigation() {
        let mut h = H::new(80, 100);
        h.ed.add_history("one");
        h.ed.add_history("two");
        h.feed(b"new");
        h.feed(b"\x1b[A");
        assert_eq!(h.line(), "two");
        h.feed(b"\x1b[A");
        assert_eq!(h.line(), "one");
        h.feed(b"\x1b[A");
        assert_eq!(h.line(), "one", "stays at the oldest");
        assert_eq!(h.last_out, [BEL]);
        h.feed(b"\x1b[B");
        assert_eq!(h.line(), "two");
        h.feed(b"\x1b[B");
        assert_eq!(h.line(), "new", "down past newest restores the typed line");
        h.feed(b"\x1b[B");
        assert_eq!(h.line(), "new");
    }

    #[test]
    fn editing_recalled_line_keeps_history() {
        let mut h = H::new(80, 100);
        h.ed.add_history("one");
        h.feed(b"\x1b[A!");
        assert_eq!(h.line(), "one!");
        assert_eq!(h.feed(b"\r"), vec![line("one!")]);
        assert_eq!(h.ed.history, ["one"]);
        h.start();
        h.feed(b"\x1b[A");
        assert_eq!(h.line(), "one");
    }

    #[test]
    fn add_history_skips_blank_and_duplicates_and_is_bounded() {
        let mut ed = LineEditor::new(80, 100);
        ed.add_history("");
        ed.add_history("  ");
        ed.add_history("a");
        ed.add_history("a");
        ed.add_history("b");
        ed.add_history("a");
        assert_eq!(ed.history, ["a", "b", "a"]);
        for i in 0..1000 {
            ed.add_history(&i.to_string());
        }
        assert_eq!(ed.history.len(), HISTORY_MAX);
        assert_eq!(ed.history.back().map(String::as_str), Some("999"));
    }

    #[test]
    fn history_recall_truncated_to_cap() {
        let mut h = H::new(80, 5);
        h.ed.add_history("abcdefgh");
        h.feed(b"\x1b[A");
        assert_eq!(h.line(), "abcde");
    }

    #[test]
    fn paste_inserts_literally_and_drops_controls() {
        let mut h = H::new(80, 100);
        h.feed(b"\x1b[200~a\tb\x03\x7f\x1b[Dc\x1b[201~");
        assert_eq!(h.line(), "abc");
        h.feed(b"\x7f");
        assert_eq!(h.line(), "ab", "keys act again after the paste");
    }

    #[test]
    fn paste_with_newlines_submits_each_line() {
        let mut h = H::new(80, 100);
        let ev = h.feed(b"\x1b[200~one\r\ntwo\nthree\x1b[201~");
        assert_eq!(ev, vec![line("one")]);
        h.start();
        assert!(h.ed.has_pending());
        assert_eq!(h.feed(b""), vec![line("two")]);
        h.start();
        assert!(h.feed(b"").is_empty());
        assert_eq!(h.line(), "three");
    }

    #[test]
    fn paste_mid_line_redraws_once() {
        let mut h = H::new(80, 100);
        h.feed(b"ab\x1b[D");
        h.feed(b"\x1b[200~0123456789\x1b[201~");
        assert_eq!(h.line(), "a0123456789b");
        let redraws = h.out_str().matches("\x1b[J").count();
        assert_eq!(redraws, 1);
    }

    #[test]
    fn length_cap_refuses_with_bell() {
        let mut h = H::new(80, 3);
        h.feed(b"abc");
        h.feed(b"d");
        assert_eq!(h.last_out, [BEL]);
        assert_eq!(h.line(), "abc");
        h.feed(b"\x1b[200~xxxxxxxxxx\x1b[201~");
        assert_eq!(h.last_out, [BEL], "one bell for a refused paste");
        h.feed(b"\x01\x04e");
        assert_eq!(h.line(), "ebc");
    }

    #[test]
    fn typeahead_after_line_replayed_by_start_line() {
        let mut h = H::new(80, 100);
        assert_eq!(h.feed(b"first\rsec"), vec![line("first")]);
        assert!(h.feed(b"ond\x1b[Dx").is_empty());
        h.start();
        assert_eq!(h.line(), "seconxd");
        assert!(!h.ed.has_pending());
        assert_eq!(h.scr.lines(), vec!["PS> first", "PS> seconxd"]);
    }

    #[test]
    fn typeahead_tab_waits_for_feed() {
        let mut h = H::new(80, 100);
        h.feed(b"x\rset\tz");
        h.start();
        assert_eq!(h.line(), "set");
        assert!(h.ed.has_pending());
        h.feed(b"");
        assert_eq!(h.line(), "Set-Item z");
    }

    #[test]
    fn ctrl_c_while_idle_flushes_typeahead() {
        let mut h = H::new(80, 100);
        h.feed(b"x\r");
        assert!(h.feed(b"rm stuff").is_empty());
        assert_eq!(h.feed(b"\x03"), vec![EditEvent::Interrupt]);
        assert_eq!(h.last_out, b"^C\r\n");
        h.start();
        assert!(!h.ed.has_pending());
        assert_eq!(h.line(), "");
    }

    #[test]
    fn events_after_typeahead_keep_order() {
        let mut h = H::new(80, 100);
        assert_eq!(h.feed(b"a\rb\rc\r"), vec![line("a")]);
        h.start();
        assert_eq!(h.feed(b""), vec![line("b")]);
        h.start();
        assert_eq!(h.feed(b"d"), vec![line("c")]);
        h.start();
        h.feed(b"");
        assert_eq!(h.line(), "d");
    }

    #[test]
    fn enable_disable_sequences() {
        assert_eq!(LineEditor::enable_sequence(), b"\x1b[?2004h");
        assert_eq!(LineEditor::disable_sequence(), b"\x1b[?2004l");
    }

    #[test]
    fn random_input_never_leaks_controls_and_screen_stays_in_sync() {
        // Deterministic pseudo-random bytes biased toward interesting ones.
        let mut seed: u32 = 0x1234_5678;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        let alphabet: &[&[u8]] = &[
            b"a",
            b"b",
            b" ",
            b"\x7f",
            b"\x1b[D",
            b"\x1b[C",
            b"\x1b[A",
            b"\x1b[B",
            b"\x01",
            b"\x05",
            b"\x0b",
            b"\x15",
            b"\x17",
            b"\t",
            b"\x1b[3~",
            "日".as_bytes(),
            "é".as_bytes(),
            b"\x1b",
            b"[",
            b"\x1b]0;t\x07",
            b"\x00",
            b"\xff",
            b"\r",
            b"\x03",
            b"\x04",
            b"\x0c",
            b"\x1b[200~",
            b"\x1b[201~",
        ];
        for width in [5u16, 9, 80] {
            let mut h = H::new(width, 40);
            h.ed.add_history("get-item foo");
            for _ in 0..3000 {
                let tok = alphabet[next() as usize % alphabet.len()];
                if next() % 3 == 0 {
                    for b in tok {
                        h.feed(&[*b]);
                    }
                } else {
                    h.feed(tok);
                }
                assert!(h.ed.buf.len() <= 40);
                if !h.ed.active {
                    h.start();
                }
            }
        }
    }
}
