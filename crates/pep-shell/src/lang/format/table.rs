//! Table rendering (Format-Table and table default views): a header row, a dashes row, one row per
//! record; text left-aligned, numbers right-aligned; columns as wide as their content, shrunk and
//! truncated with `…` to fit the terminal width when one is given.

use super::cell;
use azs_support::{Record, Value};

fn truncate(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut s: String = text.chars().take(width - 1).collect();
    s.push('…');
    s
}

fn pad(text: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(text.chars().count()));
    if right {
        format!("{fill}{text}")
    } else {
        format!("{text}{fill}")
    }
}

/// Column widths fitted to `limit`: the widest column gives up a character at a time; columns
/// that still do not fit at width 1 are dropped from the right.
fn fit(mut widths: Vec<usize>, limit: Option<usize>) -> Vec<usize> {
    let Some(limit) = limit else {
        return widths;
    };
    let total = |w: &[usize]| w.iter().sum::<usize>() + w.len().saturating_sub(1);
    while total(&widths) > limit {
        let (i, &w) = widths
            .iter()
            .enumerate()
            .rev()
            .max_by_key(|(_, w)| **w)
            .unwrap_or((0, &0));
        if w <= 1 {
            break;
        }
        widths[i] = w - 1;
    }
    while widths.len() > 1 && total(&widths) > limit {
        widths.pop();
    }
    widths
}

/// Renders `records` as a table of `cols`; blank line before and after.
#[cfg(test)]
pub fn render(records: &[&Record], cols: &[String], width: Option<usize>) -> String {
    render_within(records, cols, width, usize::MAX).unwrap_or_default()
}

/// [`render`], or None when the table would pass `max` bytes (measured before it is built).
pub fn render_within(
    records: &[&Record],
    cols: &[String],
    width: Option<usize>,
    max: usize,
) -> Option<String> {
    if cols.is_empty() {
        return Some(String::new());
    }
    let rows: Vec<Vec<(String, bool)>> = records
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| {
                    let v = r.get(c).unwrap_or(&Value::Null);
                    (cell(v), matches!(v, Value::Int(_) | Value::Float(_)))
                })
                .collect()
        })
        .collect();
    let numeric: Vec<bool> = (0..cols.len())
        .map(|i| {
            let filled: Vec<&(String, bool)> = rows
                .iter()
                .map(|r| &r[i])
                .filter(|c| !c.0.is_empty())
                .collect();
            !filled.is_empty() && filled.iter().all(|c| c.1)
        })
        .collect();
    let headers: Vec<String> = cols.iter().map(|c| super::escape_text(c)).collect();
    let natural: Vec<usize> = (0..cols.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].0.chars().count())
                .chain(std::iter::once(headers[i].chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let widths = fit(natural, width);
    // A cell takes at most its own bytes plus its column's padding.
    let padding = widths.iter().map(|w| w + 1).sum::<usize>() + 1;
    let text: usize = rows.iter().flatten().map(|c| c.0.len()).sum();
    if padding.saturating_mul(rows.len() + 3).saturating_add(text) > max {
        return None;
    }
    let line = |cells: Vec<String>| -> String {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| pad(&truncate(c, *w), *w, numeric[i]))
            .collect();
        let mut s = parts.join(" ").trim_end().to_string();
        s.push('\n');
        s
    };
    let mut out = String::from("\n");
    out.push_str(&line(headers.clone()));
    out.push_str(&line(
        headers
            .iter()
            .zip(&widths)
            .map(|(h, w)| "-".repeat(h.chars().count().min(*w)))
            .collect(),
    ));
    for r in rows {
        out.push_str(&line(r.into_iter().map(|c| c.0).collect()));
    }
    out.push('\n');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs() -> Vec<Record> {
        vec![
            Record::new("P")
                .with("Name", "svchost")
                .with("Id", 4i64)
                .with("Path", "C:\\Windows\\system32"),
            Record::new("P")
                .with("Name", "sshd")
                .with("Id", 1234i64)
                .with("Path", "\u{1b}[2J"),
        ]
    }

    #[test]
    fn aligns_text_left_numbers_right() {
        let r = recs();
        let refs: Vec<&Record> = r.iter().collect();
        let cols = vec!["Name".to_string(), "Id".to_string()];
        assert_eq!(
            render(&refs, &cols, None),
            "\nName      Id\n----      --\nsvchost    4\nsshd    1234\n\n"
        );
    }

    #[test]
    fn escapes_controls_in_cells() {
        let r = recs();
        let refs: Vec<&Record> = r.iter().collect();
        let out = render(&refs, &["Path".to_string()], None);
        assert!(out.contains("\\x1b[2J"));
        assert!(!out.contains('\u{1b}'));
    }

    #[test]
    fn truncates_to_width() {
        let r = recs();
        let refs: Vec<&Record> = r.iter().collect();
        let cols = vec!["Name".to_string(), "Path".to_string()];
        let out = render(&refs, &cols, Some(20));
        for l in out.lines() {
            assert!(l.chars().count() <= 20, "{l:?}");
        }
        assert!(out.contains('…'), "{out}");
        assert!(out.contains("svchost"), "{out}");
    }

    #[test]
    fn missing_property_is_blank() {
        let r = recs();
        let refs: Vec<&Record> = r.iter().collect();
        let out = render(&refs, &["Name".to_string(), "Nope".to_string()], None);
        assert!(
            out.starts_with("\nName    Nope\n----    ----\nsvchost\n"),
            "{out:?}"
        );
    }

    #[test]
    fn fit_drops_columns_that_cannot_fit() {
        assert_eq!(fit(vec![5, 5, 5], Some(3)), vec![1, 1]);
        assert_eq!(fit(vec![10, 2], Some(8)), vec![5, 2]);
        assert_eq!(fit(vec![10, 2], None), vec![10, 2]);
    }
}
