//! Property tests of the language front end: random lines and byte streams through the lexer,
//! the parser, command resolution and the binder against the real catalog. Whatever comes in,
//! nothing panics, and every refusal is one non-empty line.

use super::{bind, check_pipeline_shape, lexer::tokenize, parse_line, resolve_command};
use azs_support::catalog::{load_embedded, Catalog, Profile};
use proptest::prelude::*;
use std::sync::OnceLock;

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| match load_embedded(Profile::AzsHub) {
        Ok(c) => c,
        Err(e) => panic!("the embedded catalog loads: {e}"),
    })
}

/// Pieces a hostile or careless user types, glued together at random.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Get-AzsSupportStampVersion".to_string()),
        Just("Get-AzsSupportClusterResource".to_string()),
        Just("Start-AzsSupportService".to_string()),
        Just("Unlock-SupportSession".to_string()),
        Just("Select-Object".to_string()),
        Just("Where-Object".to_string()),
        Just("ConvertTo-Json".to_string()),
        Just("-Name".to_string()),
        Just("-State".to_string()),
        Just("-ComputerName:".to_string()),
        Just("-First".to_string()),
        Just("-Depth".to_string()),
        Just("-WhatIf".to_string()),
        Just("-Confirm:$false".to_string()),
        Just("|".to_string()),
        Just(",".to_string()),
        Just(";".to_string()),
        Just("$x".to_string()),
        Just("$true".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("{".to_string()),
        Just("@(".to_string()),
        Just("`".to_string()),
        Just("'".to_string()),
        Just("\"".to_string()),
        Just("\u{2013}Name".to_string()),
        Just("\u{201C}x\u{201D}".to_string()),
        Just("\u{200B}".to_string()),
        Just("\u{1b}[2J".to_string()),
        Just("&&".to_string()),
        Just(">".to_string()),
        Just("*".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("99999999999999999999".to_string()),
        Just("2026-13-45".to_string()),
        "[A-Za-z0-9._-]{1,12}",
        "'[^']{0,12}'",
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..14).prop_map(|p| p.join(" "))
}

/// Runs a line through every front-end step; the refusals it met.
fn front_end(line: &str) -> Vec<String> {
    let mut refusals = Vec::new();
    if let Err(e) = tokenize(line) {
        refusals.push(e.to_string());
    }
    match parse_line(line) {
        Err(e) => refusals.push(e.to_string()),
        Ok(None) => {}
        Ok(Some(p)) => {
            let mut specs = Vec::new();
            for call in &p.elements {
                match resolve_command(catalog(), &call.name) {
                    Ok(spec) => {
                        if let Err(e) = bind(spec, call) {
                            refusals.push(e.to_string());
                        }
                        specs.push(spec);
                    }
                    Err(e) => refusals.push(e.to_string()),
                }
            }
            if let Err(e) = check_pipeline_shape(&specs, catalog()) {
                refusals.push(e.to_string());
            }
        }
    }
    refusals
}

fn one_line(refusals: &[String]) -> Result<(), TestCaseError> {
    for r in refusals {
        prop_assert!(!r.is_empty(), "an empty refusal");
        prop_assert!(
            !r.contains('\n') && !r.contains('\r'),
            "not one line: {r:?}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn structured_lines_never_panic_and_refuse_in_one_line(l in line()) {
        one_line(&front_end(&l))?;
    }

    #[test]
    fn arbitrary_text_never_panics_and_refuses_in_one_line(l in any::<String>()) {
        one_line(&front_end(&l))?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let l = String::from_utf8_lossy(&bytes);
        one_line(&front_end(&l))?;
    }
}
