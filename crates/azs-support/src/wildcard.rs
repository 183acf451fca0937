//! PowerShell wildcards: `*` any run, `?` one character, case-insensitive, whole-text match.

/// Whether `text` matches `pattern` (`*` and `?`), ignoring case.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    // Iterative matcher with backtracking to the last `*`: linear in practice, no recursion.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
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
}
