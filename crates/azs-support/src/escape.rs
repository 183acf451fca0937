//! Which characters the shell refuses or escapes, and how they are shown.
//!
//! One place decides what counts as a control or invisible character, so the lexer (which refuses
//! them in input), error messages and renderers (which escape them in output) agree.

/// Whether `c` is a C0 control (tab included), DEL or a C1 control.
pub fn is_control(c: char) -> bool {
    c.is_control()
}

/// Whether `c` is a Unicode format or invisible character that can disguise text (soft hyphen,
/// zero-width characters, bidirectional overrides, BOM, interlinear annotations, tags, line and
/// paragraph separators).
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
}

/// Whether `c` must be escaped when shown (control or invisible).
pub fn needs_escape(c: char) -> bool {
    is_control(c) || is_invisible(c)
}

/// One character as `U+200B`, for messages naming a refused character.
pub fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// `text` with control characters as `\x1b` and invisible ones as `\u{200b}`.
pub fn escape_text(text: &str) -> String {
    if !text.chars().any(needs_escape) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_control(c) && u32::from(c) <= 0xFF {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        for c in ['\0', '\t', '\n', '\u{7f}', '\u{80}', '\u{9f}', '\u{1b}'] {
            assert!(is_control(c), "{c:?}");
        }
        for c in [
            '\u{ad}', '\u{61c}', '\u{180e}', '\u{200b}', '\u{200f}', '\u{202a}', '\u{202e}',
            '\u{2060}', '\u{2064}', '\u{2066}', '\u{206f}', '\u{feff}', '\u{fff9}', '\u{fffb}',
        ] {
            assert!(is_invisible(c), "{c:?}");
        }
        for c in ['a', ' ', 'é', 'е', '\u{2010}', '\u{2013}', '…'] {
            assert!(!needs_escape(c), "{c:?}");
        }
    }

    #[test]
    fn escapes() {
        assert_eq!(escape_text("plain"), "plain");
        assert_eq!(escape_text("a\u{1b}]0;x\u{7}"), "a\\x1b]0;x\\x07");
        assert_eq!(escape_text("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(escape_text("\u{85}"), "\\x85");
        assert_eq!(code_point('\u{200b}'), "U+200B");
        assert_eq!(code_point('\0'), "U+0000");
    }
}
