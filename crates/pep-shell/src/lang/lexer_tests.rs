use super::*;

fn kinds(line: &str) -> Vec<TokenKind> {
    tokenize(line)
        .expect("lexes")
        .into_iter()
        .map(|t| t.kind)
        .collect()
}

fn err(line: &str) -> LangError {
    tokenize(line).expect_err("refused")
}

fn w(s: &str) -> TokenKind {
    TokenKind::Word(s.into())
}

fn param(s: &str, colon: bool) -> TokenKind {
    TokenKind::Param {
        name: s.into(),
        colon,
    }
}

#[test]
fn every_token_kind() {
    assert_eq!(
        kinds("Get-X -Name:'a' -N 'it''s' \"x\" 42 -1 $TRUE $false $Null a,b | Sort"),
        vec![
            w("Get-X"),
            param("Name", true),
            TokenKind::Quoted("a".into()),
            param("N", false),
            TokenKind::Quoted("it's".into()),
            TokenKind::Quoted("x".into()),
            TokenKind::Number(42),
            TokenKind::Number(-1),
            TokenKind::Const(Value::Bool(true)),
            TokenKind::Const(Value::Bool(false)),
            TokenKind::Const(Value::Null),
            w("a"),
            TokenKind::Comma,
            w("b"),
            TokenKind::Pipe,
            w("Sort"),
        ]
    );
}

#[test]
fn columns_are_one_based_chars() {
    let t = tokenize("é  -Name x").expect("lexes");
    assert_eq!(t.iter().map(|t| t.column).collect::<Vec<_>>(), [1, 4, 10]);
}

#[test]
fn unicode_dashes_are_parameter_dashes() {
    for d in ['\u{2013}', '\u{2014}', '\u{2015}'] {
        assert_eq!(
            kinds(&format!("x {d}Force")),
            vec![w("x"), param("Force", false)]
        );
        assert_eq!(
            kinds(&format!("x {d}5")),
            vec![w("x"), TokenKind::Number(-5)]
        );
    }
    // U+2010 HYPHEN is not a dash: it stays text.
    assert_eq!(kinds("x \u{2010}AsJob"), vec![w("x"), w("\u{2010}AsJob")]);
}

#[test]
fn words_keep_paths_and_non_numbers() {
    assert_eq!(
        kinds("x ../../etc/shadow C:\\Temp a=b 1.5 12abc - -- --output=x ."),
        vec![
            w("x"),
            w("../../etc/shadow"),
            w("C:\\Temp"),
            w("a=b"),
            w("1.5"),
            w("12abc"),
            w("-"),
            w("--"),
            w("--output=x"),
            w("."),
        ]
    );
}

#[test]
fn number_overflow_names_the_token() {
    let e = err("x -MaxEvents 99999999999999999999");
    assert_eq!(e.id, ErrorId::InvalidInput);
    assert!(
        e.message.contains("'99999999999999999999'"),
        "{}",
        e.message
    );
    assert!(e.message.contains("column 14"), "{}", e.message);
    assert_eq!(
        kinds("x -9223372036854775808"),
        vec![w("x"), TokenKind::Number(i64::MIN)]
    );
}

#[test]
fn double_quotes_are_literal_and_never_expand() {
    assert_eq!(
        kinds("x \"a 'b' \"\"c\"\"\""),
        vec![w("x"), TokenKind::Quoted("a 'b' \"c\"".into())]
    );
    for line in ["x \"$(touch)\"", "x \"a$b\"", "x \"a`\"b\""] {
        assert_eq!(err(line).id, ErrorId::ScriptsNotAllowed, "{line}");
    }
    assert_eq!(
        kinds("x '$(literal) `tick'"),
        vec![w("x"), TokenKind::Quoted("$(literal) `tick".into())]
    );
}

#[test]
fn smart_quotes_are_quotes() {
    assert_eq!(
        kinds("x \u{2018}a b\u{2019}"),
        vec![w("x"), TokenKind::Quoted("a b".into())]
    );
    assert_eq!(err("x \u{201C}$(y)\u{201D}").id, ErrorId::ScriptsNotAllowed);
}

#[test]
fn unterminated_quotes() {
    for line in ["x 'abc", "x \"abc", "x 'it''s"] {
        let e = err(line);
        assert_eq!(e.id, ErrorId::InvalidInput, "{line}");
        assert!(
            e.message.contains("missing the terminator"),
            "{}",
            e.message
        );
    }
}

#[test]
fn refused_constructs() {
    let cases: &[(&str, &str)] = &[
        ("a; b", "';'"),
        ("a & b", "'&'"),
        ("a && b", "'&&'"),
        ("a || b", "'||'"),
        ("a ||| b", "'||'"),
        ("a (b)", "'('"),
        ("a b)", "')'"),
        ("a { b }", "'{'"),
        ("a }", "'}'"),
        ("a @{n=1}", "'@'"),
        ("a @(1)", "'@'"),
        ("[System.IO.File]::ReadAllText('x')", "'['"),
        ("a b]", "']'"),
        ("a $(b)", "'$('"),
        ("a ${env:PATH}", "'${'"),
        ("a $env:COMPUTERNAME", "'$env:'"),
        ("$x = 1", "'$x'"),
        ("a $_", "'$_'"),
        ("a $truex", "'$truex'"),
        ("a $true.x", "'$true.'"),
        ("a `b`", "'`'"),
        ("a > f", "'>'"),
        ("a >> f", "'>>'"),
        ("a 2> f", "'2>'"),
        ("a < f", "'<'"),
        (". /tmp/evil.ps1", "'.'"),
        (".", "'.'"),
        ("a | . x", "'.'"),
        ("a x::y", "'::'"),
        ("a # comment", "'#'"),
        ("a b#c", "'#'"),
        ("a x.Invoke()", "method calls"),
        ("t'ou'ch x", "'ou'"),
        ("a 'x'y", "'y'"),
        ("a -Name'x'", "'x'"),
        ("a x$true", "'$true'"),
    ];
    for (line, pointer) in cases {
        let e = err(line);
        assert_eq!(e.id, ErrorId::ScriptsNotAllowed, "{line}: {}", e.message);
        assert!(
            e.message.starts_with("The syntax isn't supported by this runspace. This might be because it's in no-language mode. (at column "),
            "{line}: {}",
            e.message
        );
        assert!(e.message.contains(pointer), "{line}: {}", e.message);
    }
}

#[test]
fn column_of_semicolon() {
    let e = err("Get-AzsSupportStampVersion; touch /tmp/PWNED");
    assert!(e.message.contains("(at column 27: ';'"), "{}", e.message);
}

#[test]
fn newlines_are_one_command_per_line() {
    for line in ["a\nb", "a\rb", "'a\nb'", "a\r\n"] {
        let e = err(line);
        assert_eq!(e.id, ErrorId::ScriptsNotAllowed, "{line:?}");
        assert!(e.message.contains("one command per line"), "{}", e.message);
        assert!(!e.message.contains('\n') && !e.message.contains('\r'));
    }
}

#[test]
fn control_and_invisible_characters_refused_even_in_quotes() {
    let bad = [
        '\0', '\u{7}', '\u{8}', '\u{b}', '\u{c}', '\u{1b}', '\u{7f}', '\u{80}', '\u{85}', '\u{9f}',
        '\u{ad}', '\u{61c}', '\u{180e}', '\u{200b}', '\u{200c}', '\u{200d}', '\u{200e}',
        '\u{200f}', '\u{202a}', '\u{202e}', '\u{2060}', '\u{2064}', '\u{2066}', '\u{2069}',
        '\u{206f}', '\u{feff}', '\u{fff9}', '\u{fffb}',
    ];
    for c in bad {
        for line in [
            format!("x a{c}b"),
            format!("x 'a{c}b'"),
            format!("x \"{c}\""),
        ] {
            let e = err(&line);
            assert_eq!(e.id, ErrorId::InvalidInput, "{line:?}");
            assert!(e.message.contains(&code_point(c)), "{}", e.message);
            assert!(!e.message.contains(c), "raw char in {:?}", e.message);
        }
    }
    let e = err("x Node\u{200B}01");
    assert!(e.message.contains("U+200B at column 7"), "{}", e.message);
}

#[test]
fn tab_is_whitespace() {
    assert_eq!(kinds("a\t-B\tc"), vec![w("a"), param("B", false), w("c")]);
    assert_eq!(
        kinds("a '\t'"),
        vec![w("a"), TokenKind::Quoted("\t".into())]
    );
}

#[test]
fn line_length_limit() {
    let ok = format!("a {}", "x".repeat(MAX_LINE_CHARS - 2));
    assert!(tokenize(&ok).is_ok());
    let long = format!("a {}", "x".repeat(MAX_LINE_CHARS - 1));
    assert_eq!(err(&long).id, ErrorId::LineTooLong);
    // Counted in characters, not bytes.
    let wide = format!("a {}", "é".repeat(MAX_LINE_CHARS - 2));
    assert!(tokenize(&wide).is_ok());
}

#[test]
fn blank_lines() {
    assert!(kinds("").is_empty());
    assert!(kinds("  \t ").is_empty());
}

#[test]
fn dash_question_mark_is_the_help_parameter() {
    assert_eq!(kinds("Get-X -?"), vec![w("Get-X"), param("?", false)]);
    assert_eq!(
        kinds("Get-X -? | Sort"),
        vec![w("Get-X"), param("?", false), TokenKind::Pipe, w("Sort")]
    );
    // Only on its own: `-?x` and a quoted '-?' stay text.
    assert_eq!(kinds("Get-X -?x"), vec![w("Get-X"), w("-?x")]);
    assert_eq!(
        kinds("Get-X '-?'"),
        vec![w("Get-X"), TokenKind::Quoted("-?".into())]
    );
}
