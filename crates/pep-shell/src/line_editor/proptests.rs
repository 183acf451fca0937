//! Property tests of the line editor: random byte streams (keys, escape sequences, UTF-8 and
//! broken UTF-8, pastes) fed in random chunks, with random resizes. Nothing panics, the line
//! never passes its cap, the screen always shows exactly the prompt and the line (checked by
//! the test terminal in `testing`), and printable text typed and entered comes back whole.

use super::testing::H;
use super::EditEvent;
use proptest::prelude::*;

const MAX: usize = 64;

/// Keys and sequences a terminal (or an attacker) sends.
fn chunk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[a-zA-Z0-9 |'-]{1,8}".prop_map(String::into_bytes),
        Just(b"\x1b[D".to_vec()),
        Just(b"\x1b[C".to_vec()),
        Just(b"\x1b[A".to_vec()),
        Just(b"\x1b[B".to_vec()),
        Just(b"\x1b[H".to_vec()),
        Just(b"\x1b[F".to_vec()),
        Just(b"\x1b[3~".to_vec()),
        Just(b"\x1b[1;5D".to_vec()),
        Just(b"\x1b[200~pasted text\x1b[201~".to_vec()),
        Just(b"\x7f".to_vec()),
        Just(b"\x01".to_vec()),
        Just(b"\x05".to_vec()),
        Just(b"\x0b".to_vec()),
        Just(b"\x15".to_vec()),
        Just(b"\x17".to_vec()),
        Just(b"\x0c".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\x03".to_vec()),
        Just("é世界\u{200b}".as_bytes().to_vec()),
        Just(b"\xff\xfe\xc3".to_vec()),
        Just(b"\x1b[999;999;999;999;999;999;999;999;999X".to_vec()),
        prop::collection::vec(any::<u8>(), 1..8),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    Feed(Vec<u8>),
    Resize(u16),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            8 => chunk().prop_map(Step::Feed),
            1 => (2u16..300).prop_map(Step::Resize),
        ],
        0..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    // From 2 columns: a 1-column terminal cannot show a wide character at all.
    fn random_input_and_resizes_keep_the_screen_true(width in 2u16..200, steps in steps()) {
        let mut h = H::new(width, MAX);
        for step in steps {
            match step {
                Step::Feed(bytes) => {
                    for ev in h.feed(&bytes) {
                        if let EditEvent::Line(l) = &ev {
                            prop_assert!(l.chars().count() <= MAX);
                        }
                        if !h.ed.active {
                            h.start();
                        }
                    }
                }
                Step::Resize(w) => h.resize(w),
            }
            prop_assert!(h.line().chars().count() <= MAX);
        }
    }

    #[test]
    fn printable_text_comes_back_whole(text in "[ -~]{0,60}", width in 1u16..120, cut in 0usize..60) {
        let mut h = H::new(width, MAX);
        let bytes = text.as_bytes();
        let cut = cut.min(bytes.len());
        h.feed(&bytes[..cut]);
        h.feed(&bytes[cut..]);
        let ev = h.feed(b"\r");
        prop_assert_eq!(ev, vec![EditEvent::Line(text)]);
    }
}

#[test]
fn a_full_line_pasted_at_once_is_laid_out_once() {
    let max = 4096;
    let mut h = H::new(80, max);
    let text: String = "Get-AzsSupportStampVersion "
        .chars()
        .cycle()
        .take(max)
        .collect();
    let start = std::time::Instant::now();
    h.feed(text.as_bytes());
    let took = start.elapsed();
    assert_eq!(h.line(), text);
    let ev = h.feed(b"\r");
    assert_eq!(ev, vec![EditEvent::Line(text)]);
    eprintln!("a {max}-character paste: {took:?}");
}

#[test]
fn a_zero_width_char_at_the_margin_keeps_the_cursor_true() {
    // "PS> " + 6 characters fills a 10-column row; then a zero-width space and a Left.
    let mut h = H::new(10, MAX);
    h.feed("abcdef\u{200b}".as_bytes());
    h.feed(b"\x1b[D");
    h.feed(b"\x1b[D");
    h.feed(b"X");
    assert_eq!(h.line(), "abcdeXf\u{200b}");
}

#[test]
fn an_unknown_escape_then_a_resize_keeps_the_screen_true() {
    let mut h = H::new(2, MAX);
    h.feed(&[27, 88]);
    h.resize(2);
}
