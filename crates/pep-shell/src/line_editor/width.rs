//! Display widths for the line editor: how many terminal columns a char, a string of chars and
//! the visible part of a prompt take.
//!
//! Limits: widths come from a small built-in table (wide East-Asian/emoji = 2, combining marks = 0,
//! everything else 1); exotic characters may misalign the cursor, never corrupt the buffer. A
//! prompt's width skips CSI/OSC sequences and other control chars, so coloured prompts work.

/// Widths of the chars a terminal would display for `s`, skipping CSI and OSC sequences (prompt
/// colours) and other control chars.
pub(super) fn visible_widths(s: &str) -> Vec<usize> {
    let mut cells = Vec::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\x1b' {
            match it.next() {
                Some('[') => {
                    for c in it.by_ref() {
                        if ('\x40'..='\x7e').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(c) = it.next() {
                        if c == '\x07' || (c == '\x1b' && it.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            }
        } else if !c.is_control() {
            cells.push(char_width(c));
        }
    }
    cells
}

/// Display width of `s`, in columns.
pub(super) fn str_width(s: &[char]) -> usize {
    s.iter().map(|&c| char_width(c)).sum()
}

/// Zero-width ranges: combining marks, zero-width space/joiners, variation selectors.
const ZERO_WIDTH: &[(u32, u32)] = &[
    (0x0300, 0x036F),
    (0x0483, 0x0489),
    (0x0591, 0x05BD),
    (0x0610, 0x061A),
    (0x064B, 0x065F),
    (0x0E31, 0x0E31),
    (0x0E34, 0x0E3A),
    (0x0E47, 0x0E4E),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x200B, 0x200F),
    (0x20D0, 0x20FF),
    (0xFE00, 0xFE0F),
    (0xFE20, 0xFE2F),
    (0xE0100, 0xE01EF),
];

/// Double-width ranges: East-Asian wide/fullwidth and the common emoji blocks.
const WIDE: &[(u32, u32)] = &[
    (0x1100, 0x115F),
    (0x2E80, 0x303E),
    (0x3041, 0x33FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xA000, 0xA4CF),
    (0xAC00, 0xD7A3),
    (0xF900, 0xFAFF),
    (0xFE30, 0xFE4F),
    (0xFF00, 0xFF60),
    (0xFFE0, 0xFFE6),
    (0x1F300, 0x1F64F),
    (0x1F900, 0x1F9FF),
    (0x20000, 0x2FFFD),
    (0x30000, 0x3FFFD),
];

/// Terminal display width of `c` (0, 1 or 2), from the tables above.
pub(super) fn char_width(c: char) -> usize {
    let cp = u32::from(c);
    let within = |t: &[(u32, u32)]| t.iter().any(|&(lo, hi)| (lo..=hi).contains(&cp));
    if within(ZERO_WIDTH) {
        0
    } else if within(WIDE) {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line_editor::testing::H;

    #[test]
    fn coloured_prompt_width_skips_escapes() {
        assert_eq!(
            visible_widths("\x1b[32mPS\x1b[0m> \x1b]0;t\x07"),
            vec![1, 1, 1, 1]
        );
    }

    #[test]
    fn wide_chars_take_two_columns() {
        let mut h = H::new(80, 100);
        h.feed("日本".as_bytes());
        assert_eq!(h.scr.col, 8);
        h.feed(b"\x1b[D");
        assert_eq!(h.scr.col, 6);
        assert_eq!(char_width('\u{301}'), 0);
        assert_eq!(char_width('a'), 1);
    }
}
