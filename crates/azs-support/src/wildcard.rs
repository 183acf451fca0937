//! PowerShell wildcards, as `-like` reads them: `*` any run, `?` one character, `[abc]` one of a
//! set, `[a-z]` one of a range (sets and ranges combine: `[a-cx]`); case-insensitive, whole-text
//! match. A `]` outside brackets is an ordinary character.
//!
//! A pattern with a `[` that is never closed, or an empty `[]`, is not a pattern: [`check`] says so
//! in PowerShell's words (the binder refuses such a value for a parameter that takes wildcards),
//! and [`wildcard_match`] matches nothing with it.

/// One element of a parsed pattern.
#[derive(Debug, Clone, PartialEq)]
enum Element {
    /// `*`.
    Any,
    /// `?`.
    One,
    /// A character (lower-cased).
    Char(char),
    /// `[...]`: inclusive ranges (a single character is a range of one), lower-cased.
    Set(Vec<(char, char)>),
}

/// Why a pattern is not a wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WildcardError(pub String);

impl std::fmt::Display for WildcardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WildcardError {}

fn lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

fn parse(pattern: &str) -> Result<Vec<Element>, WildcardError> {
    let invalid = || {
        WildcardError(format!(
            "The specified wildcard character pattern is not valid: {}",
            crate::escape::escape_text(pattern)
        ))
    };
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        match c {
            '*' => {
                // Runs of `*` are one `*`.
                if out.last() != Some(&Element::Any) {
                    out.push(Element::Any);
                }
            }
            '?' => out.push(Element::One),
            '[' => {
                let close = chars[i..]
                    .iter()
                    .position(|&c| c == ']')
                    .ok_or_else(invalid)?;
                let inner = &chars[i..i + close];
                if inner.is_empty() {
                    return Err(invalid());
                }
                let mut set = Vec::new();
                let mut j = 0;
                while let Some(&a) = inner.get(j) {
                    match (inner.get(j + 1), inner.get(j + 2)) {
                        (Some('-'), Some(&b)) => {
                            let (a, b) = (lower(a), lower(b));
                            set.push((a.min(b), a.max(b)));
                            j += 3;
                        }
                        _ => {
                            set.push((lower(a), lower(a)));
                            j += 1;
                        }
                    }
                }
                out.push(Element::Set(set));
                i += close + 1;
            }
            other => out.push(Element::Char(lower(other))),
        }
    }
    Ok(out)
}

/// Whether `pattern` is a valid wildcard pattern; the error is PowerShell's one line.
pub fn check(pattern: &str) -> Result<(), WildcardError> {
    parse(pattern).map(|_| ())
}

/// Whether `text` has wildcard characters (`*`, `?` or `[`): a pattern rather than a name.
pub fn is_wildcard(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

fn element_matches(e: &Element, c: char) -> bool {
    match e {
        Element::Any | Element::One => true,
        Element::Char(p) => *p == c,
        Element::Set(ranges) => ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)),
    }
}

/// Whether `text` matches `pattern`, ignoring case. An invalid pattern ([`check`]) matches
/// nothing.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let Ok(p) = parse(pattern) else {
        return false;
    };
    let t: Vec<char> = text.chars().map(lower).collect();
    // Iterative matcher with backtracking to the last `*`: linear in practice, no recursion.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(Element::Any) => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(e) if element_matches(e, t[ti]) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|e| *e == Element::Any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("node*", "Node01"));
        assert!(wildcard_match("N?de0?", "node01"));
        assert!(wildcard_match("*01", "NODE01"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
        assert!(!wildcard_match("node", "node01"));
        assert!(!wildcard_match("?", ""));
        assert!(wildcard_match("", ""));
        assert!(!wildcard_match("", "x"));
    }

    #[test]
    fn character_ranges_and_sets_as_like_reads_them() {
        assert!(wildcard_match("AZS-HOST0[1-2]", "azs-host01"));
        assert!(wildcard_match("AZS-HOST0[1-2]", "AZS-HOST02"));
        assert!(!wildcard_match("AZS-HOST0[1-2]", "AZS-HOST03"));
        assert!(wildcard_match("Get-[a-c]*", "Get-Cluster"));
        assert!(wildcard_match("Get-[A-C]*", "get-azs"));
        assert!(!wildcard_match("Get-[a-c]*", "Get-Disk"));
        assert!(wildcard_match("[abc]x", "Bx"));
        assert!(!wildcard_match("[abc]x", "dx"));
        assert!(wildcard_match("[a-cx]", "x"));
        assert!(wildcard_match("*[0-9]", "node7"));
        assert!(!wildcard_match("*[0-9]", "node"));
        // A bracket matches exactly one character.
        assert!(!wildcard_match("[ab]", "ab"));
        assert!(!wildcard_match("[ab]", ""));
        // `]` alone is an ordinary character; `[]]` is not a set of `]`.
        assert!(wildcard_match("a]", "A]"));
    }

    #[test]
    fn a_malformed_bracket_is_an_error_and_matches_nothing() {
        let e = check("Get-[a*").expect_err("unclosed");
        assert_eq!(
            e.to_string(),
            "The specified wildcard character pattern is not valid: Get-[a*"
        );
        assert!(check("x[]").is_err());
        assert!(check("[a-z]*").is_ok() && check("plain").is_ok() && check("a]").is_ok());
        assert!(!wildcard_match("Get-[a*", "Get-[a"));
        assert!(!wildcard_match("[", "["));
    }

    #[test]
    fn what_counts_as_a_pattern() {
        assert!(is_wildcard("a*") && is_wildcard("a?") && is_wildcard("[ab]"));
        assert!(!is_wildcard("Get-Process") && !is_wildcard("a]"));
    }
}
